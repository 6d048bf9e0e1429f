/* mock-dhcpd: the I/O frontend. An epoll loop over one UDP socket per served interface (bound to
 * 0.0.0.0:67 with SO_BINDTODEVICE) plus, when relay pools exist, one unbound socket for relayed
 * requests, a signalfd (SIGTERM/SIGINT stop, SIGHUP reloads the config), the lease file's timer and
 * its writer thread. Every decision is in engine.c; this file moves bytes in batches, logs one line
 * per exchange and persists the lease table (coalesced, see README.md, Lease file). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "leases.h"
#include "ztp/daemon.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

struct sock {
    int fd;
    char ifname[IFNAMSIZ];   /* "" for the relay socket (not bound to a device) */
    unsigned ifindex;
};

/* The lease file is rewritten at most this often while leases change (see README.md, Lease file). */
#define SAVE_INTERVAL_MS 200

/* Receive buffer of each socket (the kernel doubles it for its bookkeeping): about 1,600 requests
 * of 1.25 KiB each as the kernel counts them, against 180 with the default 208 KiB. */
#define RCVBUF_BYTES (1 << 20)

/* Interface names of the relay socket's packets, by ifindex, refreshed after IFNAME_TTL_MS. */
#define IFNAME_TTL_MS 1000

/* The lease file writer thread. atomic_write_file() (write, fsync, rename, fsync of the directory)
 * takes 5-20 ms for 10,000 leases on a virtual disk, up to ~100 ms for 65,000: long enough for a
 * burst to overflow the socket buffers. The loop renders the table (cheap: cached lines) and hands
 * the text over; the thread writes it and signals `donefd`. One job at a time: the loop renders
 * again only after the thread is done with the text. */
struct writer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running;            /* the thread exists (else saves are synchronous) */
    bool busy;               /* a job was handed over and its end not yet seen by the loop */
    bool job, quit;          /* under mu */
    const char *path, *text;
    size_t len;
    int result;              /* of the last job: 0 or -errno (under mu) */
    int64_t ms;              /* how long it took (under mu) */
    int donefd;              /* eventfd: a job ended */
};

struct server {
    const char *config_path;
    char leases_path[4096];  /* "" = not persisted */
    struct dhcpd_config cfg;
    struct dhcpd_lease_table leases;
    struct sock *socks;
    size_t n_socks;
    int epfd, sigfd, savefd; /* savefd: timerfd of the next coalesced save */
    bool save_armed;         /* savefd is armed */
    bool save_failing;       /* the last save failed (logged once, until one succeeds) */
    int64_t last_save_ms;    /* CLOCK_MONOTONIC of the last save attempt */
    struct writer wr;
    struct { unsigned ifindex; char name[IFNAMSIZ]; int64_t at_ms; } ifname_cache;
    unsigned long received, replied, silent, dropped, saves;
};

#define EV_SIGNAL 0
#define EV_SAVE UINT64_MAX
#define EV_SAVED (UINT64_MAX - 1)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mock-dhcpd --config FILE [--leases FILE] [--host NAME] [--debug]\n"
            "       mock-dhcpd --check --config FILE\n"
            "\n"
            "A DHCPv4 server for the ztp-lab: pools per interface or per relay, leases persisted,\n"
            "Option 43 sub-option 128 (management proxy address:port) for a matching Option 60.\n"
            "\n"
            "  -c, --config FILE   JSON configuration (see mocks/dhcpd/README.md)\n"
            "  -l, --leases FILE   lease file (overrides the config's \"leases\"); without either,\n"
            "                      leases are kept in memory only\n"
            "  -H, --host NAME     host= value of the log lines (default: the hostname)\n"
            "  -d, --debug         log debug lines too\n"
            "  -n, --check         parse the configuration, report, exit 0 (valid) or 1\n"
            "  -h, --help          this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the configuration.\n"
            "Readiness: writes READY to $ZTP_READY_FD (and $NOTIFY_SOCKET) once the sockets are bound.\n");
}

/* ---- sockets ---- */

static void close_socks(struct sock *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].fd >= 0)
            close(s[i].fd);
    free(s);
}

static int open_one(struct sock *s, const char *ifname, char *err, size_t errlen)
{
    int one = 1, rcvbuf = RCVBUF_BYTES;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT)};
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        goto fail;
    if (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
        setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
        goto fail;
    /* A burst (a fleet's routers booting at once) or a moment without the CPU must not overflow the
     * receive queue: ask for RCVBUF_BYTES, beyond net.core.rmem_max when allowed (CAP_NET_ADMIN). */
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (ifname) {
        snprintf(s->ifname, sizeof s->ifname, "%s", ifname);
        s->ifindex = if_nametoindex(ifname);
        if (s->ifindex == 0) {
            snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
            return -1;
        }
        if (setsockopt(s->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
            goto fail;
    }
    if (bind(s->fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "socket for %s: %s", ifname ? ifname : "relays", strerror(errno));
    return -1;
}

/* One socket per interface pool, plus one unbound socket when a relay pool exists. */
static int open_socks(const struct dhcpd_config *cfg, struct sock **out, size_t *n_out, char *err, size_t errlen)
{
    struct sock *s = calloc(cfg->n_pools + 1, sizeof *s);
    size_t n = 0;
    bool relays = false;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_pools + 1; i++)
        s[i].fd = -1;
    for (size_t i = 0; i < cfg->n_pools; i++) {
        if (cfg->pools[i].relayed) {
            relays = true;
            continue;
        }
        if (open_one(&s[n++], cfg->pools[i].ifname, err, errlen) < 0)
            goto fail;
    }
    if (relays && open_one(&s[n++], NULL, err, errlen) < 0)
        goto fail;
    *out = s;
    *n_out = n;
    return 0;
fail:
    close_socks(s, cfg->n_pools + 1);
    return -1;
}

static int watch_socks(struct server *srv)
{
    for (size_t i = 0; i < srv->n_socks; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i + 1};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->socks[i].fd, &ev) < 0)
            return -1;
    }
    return 0;
}

static bool device_served(const struct server *srv, unsigned ifindex)
{
    for (size_t i = 0; i < srv->n_socks; i++)
        if (srv->socks[i].ifname[0] && srv->socks[i].ifindex == ifindex)
            return true;
    return false;
}

static void log_listen(const struct server *srv)
{
    char sa[INET_ADDRSTRLEN], st[INET_ADDRSTRLEN], en[INET_ADDRSTRLEN], q[600];
    for (size_t i = 0; i < srv->cfg.n_pools; i++) {
        const struct dhcpd_pool *p = &srv->cfg.pools[i];
        const char *why = "-";
        struct in_addr pa;
        uint16_t port;
        bool valid = p->have_proxy && proxy_addr_parse(p->proxy, strlen(p->proxy), &pa, &port, &why) == 0;
        log_info("dhcpd.pool", "pool=%s server=%s range=%s-%s lease=%u proxy=%s proxy_valid=%s", p->name,
                 inet_ntop(AF_INET, &p->server, sa, sizeof sa), inet_ntop(AF_INET, &p->start, st, sizeof st),
                 inet_ntop(AF_INET, &p->end, en, sizeof en), p->lease_time,
                 p->have_proxy ? log_quote(q, sizeof q, p->proxy, strlen(p->proxy)) : "-",
                 !p->have_proxy ? "-" : valid ? "yes" : "no");
        if (p->have_proxy && !valid)
            log_warn("dhcpd.proxy_invalid", "pool=%s proxy=%s why=\"%s\" note=\"sent verbatim anyway\"", p->name,
                     q, why);
    }
    for (size_t i = 0; i < srv->n_socks; i++) {
        int rcvbuf = 0;
        socklen_t sl = sizeof rcvbuf;
        getsockopt(srv->socks[i].fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &sl);
        log_info("dhcpd.listen", "ifname=%s ifindex=%u port=%d rcvbuf=%d",
                 srv->socks[i].ifname[0] ? srv->socks[i].ifname : "*", srv->socks[i].ifindex, DHCP_SERVER_PORT, rcvbuf);
    }
}

/* ---- one exchange ---- */

/* ---- the exchange line ----
 *
 * One line per request is part of the job, and at 10,000 requests/s its formatting is a fifth of the
 * server's CPU through printf with 21 conversions. The fields are appended here by hand (addresses,
 * hex and numbers without printf) and handed to the logger as one string: the same bytes, about half
 * the cost. Values from the network still go through log_quote()/log_hex(). */

struct line {
    char buf[3072];
    size_t n;
};

static void put_mem(struct line *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - 1 - l->n)
        n = sizeof l->buf - 1 - l->n;
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

static void put(struct line *l, const char *s) { put_mem(l, s, strlen(s)); }

static void put_u32(struct line *l, uint32_t v)
{
    char d[10];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put_mem(l, d + i, sizeof d - i);
}

static void put_ip(struct line *l, struct in_addr a)
{
    const uint8_t *b = (const uint8_t *)&a.s_addr;
    for (int i = 0; i < 4; i++) {
        if (i)
            put_mem(l, ".", 1);
        put_u32(l, b[i]);
    }
}

static void put_hex(struct line *l, const uint8_t *p, size_t n, char sep)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n && l->n + 3 < sizeof l->buf; i++) {
        if (sep && i)
            l->buf[l->n++] = sep;
        l->buf[l->n++] = hx[p[i] >> 4];
        l->buf[l->n++] = hx[p[i] & 15];
    }
}

static void put_quoted(struct line *l, const void *p, size_t n)
{
    char q[1100];
    put(l, log_quote(q, sizeof q, p, n));
}

static void log_exchange(const char *ifname, const struct dhcp_msg *req, const struct dhcp_msg *rep,
                         const struct dhcpd_result *res, const struct dhcpd_pool *pool)
{
    static const char hx[] = "0123456789abcdef";
    struct line l = {.n = 0};
    bool replied = res->reply != DHCPD_NONE;
    char xid[11] = "0x";
    size_t hlen = req->hlen <= 16 ? req->hlen : 16;

    put(&l, "ifname=");
    put(&l, ifname);
    put(&l, " pool=");
    put(&l, pool ? pool->name : "-");
    put(&l, " msg=");
    put(&l, dhcp_msg_type_name(req->msg_type));
    put(&l, " kind=");
    put(&l, res->kind);
    put(&l, " reply=");
    put(&l, dhcpd_engine_reply_name(res->reply));
    put(&l, " reason=\"");
    put(&l, res->reason ? res->reason : "-");
    put(&l, "\" xid=");
    for (int i = 0; i < 8; i++)
        xid[2 + i] = hx[(req->xid >> (28 - 4 * i)) & 15];
    put_mem(&l, xid, 10);
    put(&l, " chaddr=");
    if (hlen)
        put_hex(&l, req->chaddr, hlen, ':');
    else
        put(&l, "-");
    put(&l, " client_id=");
    if (dhcp_has(req, DHO_CLIENT_ID))
        put_hex(&l, req->client_id, req->client_id_len, 0);
    else
        put(&l, "-");
    put(&l, " ciaddr=");
    put_ip(&l, req->ciaddr);
    put(&l, " giaddr=");
    put_ip(&l, req->giaddr);
    put(&l, " hops=");
    put_u32(&l, req->hops);
    put(&l, " requested=");
    if (dhcp_has(req, DHO_REQUESTED_IP))
        put_ip(&l, req->requested_ip);
    else
        put(&l, "-");
    put(&l, " server_id=");
    if (dhcp_has(req, DHO_SERVER_ID))
        put_ip(&l, req->server_id);
    else
        put(&l, "-");
    put(&l, " yiaddr=");
    if (replied)
        put_ip(&l, rep->yiaddr);
    else
        put(&l, "-");
    put(&l, " lease=");
    if (replied && dhcp_has(rep, DHO_LEASE_TIME))
        put_u32(&l, rep->lease_time);
    else
        put(&l, "-");
    put(&l, " vendor_class=");
    if (dhcp_has(req, DHO_VENDOR_CLASS))
        put_quoted(&l, req->vendor_class, req->vendor_class_len);
    else
        put(&l, "-");
    put(&l, " opt43=");
    put(&l, dhcpd_engine_opt43_name(res->opt43));
    put(&l, " proxy=");
    if (res->opt43 == DHCPD_OPT43_SENT)
        put_quoted(&l, pool->proxy, strlen(pool->proxy));
    else
        put(&l, "-");
    put(&l, " dst=");
    if (replied)
        put_ip(&l, res->dst);
    else
        put(&l, "-");
    put(&l, ":");
    put_u32(&l, replied ? res->dport : 0);
    l.buf[l.n] = '\0';
    log_event(res->drop ? LOG_LVL_WARN : LOG_LVL_INFO, "dhcp.exchange", "%s", l.buf);
}

/* if_indextoname() costs a socket, an ioctl and a close: the relay socket's packets mostly come in
 * on one interface, so its name is kept for IFNAME_TTL_MS (a renamed interface shows within 1 s). */
static void relay_ifname(struct server *srv, unsigned ifindex, char name[IFNAMSIZ])
{
    int64_t now = mono_ms();
    if (srv->ifname_cache.ifindex != ifindex || now - srv->ifname_cache.at_ms > IFNAME_TTL_MS) {
        if (!if_indextoname(ifindex, srv->ifname_cache.name))
            snprintf(srv->ifname_cache.name, sizeof srv->ifname_cache.name, "if%u", ifindex);
        srv->ifname_cache.ifindex = ifindex;
        srv->ifname_cache.at_ms = now;
    }
    memcpy(name, srv->ifname_cache.name, IFNAMSIZ);
}

/* ---- batches ----
 *
 * A socket is read with recvmmsg() up to BATCH datagrams at a time. Each is decided and logged, its
 * reply built into the batch; then the batch's log lines are written (one write()) and its replies
 * sent (one sendmmsg()). So a reply never leaves before its exchange line is written, and a busy
 * server makes 3 system calls per BATCH requests instead of 4 per request. */

#define BATCH 32

/* Room for one IP_PKTINFO control message, aligned for a struct cmsghdr (which cannot be the member:
 * its flexible array would make every struct holding this union variable-sized for clang). */
union pktinfo_cmsg {
    char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    size_t align;
};

struct reply_slot {
    uint8_t data[DHCP_MAX_LEN];
    struct sockaddr_in to;
    struct iovec iov;
    union pktinfo_cmsg cmsg;
    uint32_t xid;            /* for an error line */
    unsigned ifindex;        /* the receiving interface */
    bool to_chaddr;          /* unicast to yiaddr at chaddr: broadcast instead if that cannot be sent */
    char ifname[IFNAMSIZ];
};

static struct {
    uint8_t rx[BATCH][DHCP_MAX_LEN + 1];
    struct sockaddr_in from[BATCH];
    struct iovec rx_iov[BATCH];
    union pktinfo_cmsg rx_cmsg[BATCH];
    struct mmsghdr rx_msg[BATCH];
    struct reply_slot tx[BATCH];
    struct mmsghdr tx_msg[BATCH];
    size_t n_tx;
} io;

/* ---- the log buffer ----
 *
 * log.c writes and flushes one line at a time to a FILE; ours is a fopencookie() stream whose lines
 * collect here until log_buf_flush() (before replies are sent, and before the loop sleeps). Lines
 * of level error are written at once (with the lines before them), so fatalx() loses nothing. */

static struct {
    char buf[256 * 1024];
    size_t len;
    int fd;
    FILE *f;
} logbuf = {.fd = STDERR_FILENO};

static void log_buf_flush(void)
{
    size_t off = 0;
    while (off < logbuf.len) {
        ssize_t w = write(logbuf.fd, logbuf.buf + off, logbuf.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stderr is gone: nothing else to tell it to */
        off += (size_t)w;
    }
    logbuf.len = 0;
}

static ssize_t log_buf_write(void *cookie, const char *p, size_t n)
{
    if (logbuf.len + n > sizeof logbuf.buf)
        log_buf_flush();
    if (n > sizeof logbuf.buf) {
        if (write(logbuf.fd, p, n) < 0) {
            /* as above */
        }
        return (ssize_t)n;
    }
    memcpy(logbuf.buf + logbuf.len, p, n);
    logbuf.len += n;
    if (memmem(p, n < 64 ? n : 64, " level=error ", 13))
        log_buf_flush();
    return (ssize_t)n;
}

static void log_buf_start(void)
{
    cookie_io_functions_t io_funcs = {.write = log_buf_write};
    logbuf.f = fopencookie(NULL, "w", io_funcs);
    if (logbuf.f)
        log_set_stream(logbuf.f);
}

/* Back to unbuffered stderr lines. */
static void log_buf_stop(void)
{
    if (!logbuf.f)
        return;
    log_set_stream(NULL);
    fclose(logbuf.f);
    logbuf.f = NULL;
    log_buf_flush();
}

static void queue_reply(const uint8_t *buf, size_t len, const struct dhcpd_result *res, unsigned ifindex,
                        struct in_addr src, uint32_t xid, const char *ifname)
{
    struct reply_slot *t = &io.tx[io.n_tx];
    struct mmsghdr *m = &io.tx_msg[io.n_tx++];
    /* a broadcast, or a unicast to an address the client does not hold yet, leaves by the receiving
     * interface */
    bool on_ifindex = res->broadcast || res->to_chaddr;
    struct in_pktinfo pi = {.ipi_ifindex = on_ifindex ? (int)ifindex : 0, .ipi_spec_dst = src};
    memcpy(t->data, buf, len);
    t->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(res->dport), .sin_addr = res->dst};
    t->iov = (struct iovec){.iov_base = t->data, .iov_len = len};
    t->xid = xid;
    t->ifindex = ifindex;
    t->to_chaddr = res->to_chaddr;
    memcpy(t->ifname, ifname, IFNAMSIZ);
    memset(&t->cmsg, 0, sizeof t->cmsg);
    memset(m, 0, sizeof *m);
    m->msg_hdr.msg_name = &t->to;
    m->msg_hdr.msg_namelen = sizeof t->to;
    m->msg_hdr.msg_iov = &t->iov;
    m->msg_hdr.msg_iovlen = 1;
    m->msg_hdr.msg_control = t->cmsg.buf;
    m->msg_hdr.msg_controllen = sizeof t->cmsg.buf;
    struct cmsghdr *c = (struct cmsghdr *)t->cmsg.buf;
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
}

/* RFC 2131 4.1's unicast to a client that has no address yet: the neighbour entry yiaddr -> chaddr on
 * the receiving interface (SIOCSARP, as dnsmasq does; an ordinary, expiring entry), so that the UDP
 * send needs no ARP the client could not answer. On failure the reply is broadcast instead, with
 * one line that says why. */
static void reach_chaddr(struct dhcpd_result *res, const struct sock *s, const char *ifname, const struct dhcp_msg *rep)
{
    struct arpreq ar;
    memset(&ar, 0, sizeof ar);
    struct sockaddr_in *pa = (struct sockaddr_in *)&ar.arp_pa;
    pa->sin_family = AF_INET;
    pa->sin_addr = rep->yiaddr;
    ar.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy(ar.arp_ha.sa_data, rep->chaddr, 6);
    ar.arp_flags = ATF_COM;
    snprintf(ar.arp_dev, sizeof ar.arp_dev, "%s", ifname);
    if (ioctl(s->fd, SIOCSARP, &ar) == 0)
        return;
    char ip[INET_ADDRSTRLEN];
    log_warn("dhcp.neighbour", "ifname=%s xid=0x%08x addr=%s error=\"%s\" sent=broadcast", ifname, rep->xid,
             inet_ntop(AF_INET, &rep->yiaddr, ip, sizeof ip), strerror(errno));
    res->to_chaddr = false;
    res->broadcast = true;
    res->dst.s_addr = INADDR_BROADCAST;
}

/* Write the batch's log lines, then send its replies. A reply whose source (the pool's `server`) is
 * not a local address is sent again with the kernel's choice of source. */
static void send_replies(struct server *srv, const struct sock *s)
{
    size_t i = 0;
    log_buf_flush();
    while (i < io.n_tx) {
        int n = sendmmsg(s->fd, &io.tx_msg[i], (unsigned)(io.n_tx - i), 0);
        if (n > 0) {
            srv->replied += (unsigned)n;
            i += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        /* io.tx_msg[i] failed */
        struct msghdr *mh = &io.tx_msg[i].msg_hdr;
        int err = n < 0 ? errno : EIO;
        if (err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH) { /* source not local */
            struct cmsghdr *c = (struct cmsghdr *)io.tx[i].cmsg.buf; /* the only one, from queue_reply() */
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            pi.ipi_spec_dst.s_addr = INADDR_ANY;
            memcpy(CMSG_DATA(c), &pi, sizeof pi);
            err = sendmsg(s->fd, mh, 0) >= 0 ? 0 : errno;
            if (err != 0 && io.tx[i].to_chaddr) { /* yiaddr not reachable on that interface: broadcast */
                char ip[INET_ADDRSTRLEN];
                log_warn("dhcp.send", "ifname=%s xid=0x%08x dst=%s error=\"%s\" sent=broadcast", io.tx[i].ifname,
                         io.tx[i].xid, inet_ntop(AF_INET, &io.tx[i].to.sin_addr, ip, sizeof ip), strerror(err));
                io.tx[i].to.sin_addr.s_addr = INADDR_BROADCAST;
                err = sendmsg(s->fd, mh, 0) >= 0 ? 0 : errno;
            }
        }
        if (err == 0) {
            srv->replied++;
        } else {
            char dst[INET_ADDRSTRLEN];
            srv->dropped++;
            log_error("dhcp.send", "ifname=%s xid=0x%08x dst=%s:%u error=\"%s\"", io.tx[i].ifname, io.tx[i].xid,
                      inet_ntop(AF_INET, &io.tx[i].to.sin_addr, dst, sizeof dst), ntohs(io.tx[i].to.sin_port),
                      strerror(err));
        }
        i++;
    }
    io.n_tx = 0;
}

static void handle_packet(struct server *srv, const struct sock *s, const uint8_t *buf, size_t len,
                          const struct sockaddr_in *from, unsigned ifindex, bool truncated)
{
    char ifname[IFNAMSIZ] = "?";
    struct dhcp_msg req, rep;
    struct dhcpd_result res;
    uint8_t out[DHCP_MAX_LEN];
    int r;

    if (s->ifname[0])
        memcpy(ifname, s->ifname, IFNAMSIZ);
    else
        relay_ifname(srv, ifindex, ifname);
    srv->received++;

    r = truncated ? -DHCP_E_NOBUFS : dhcp_parse(buf, len, &req);
    if (r < 0) {
        char src[INET_ADDRSTRLEN], head[200];
        srv->dropped++;
        log_warn("dhcp.drop", "ifname=%s src=%s:%u len=%zu reason=\"%s\" head=%s", ifname,
                 inet_ntop(AF_INET, &from->sin_addr, src, sizeof src), ntohs(from->sin_port), len,
                 truncated ? "larger than the receive buffer" : dhcp_strerror(r),
                 log_quote(head, sizeof head, buf, len < 40 ? len : 40));
        return;
    }
    const struct dhcpd_pool *pool = dhcpd_engine_select_pool(&srv->cfg, s->ifname[0] ? s->ifname : ifname, &req);
    dhcpd_engine_handle(&srv->cfg, pool, &srv->leases, (int64_t)time(NULL), &req, &rep, &res);
    if (res.to_chaddr)
        reach_chaddr(&res, s, ifname, &rep);
    log_exchange(ifname, &req, &rep, &res, pool);

    if (res.reply == DHCPD_NONE) {
        if (res.drop)
            srv->dropped++;
        else
            srv->silent++;
        return;
    }
    ssize_t n = dhcp_build(&rep, out, sizeof out, DHCP_BOOTP_MIN_LEN);
    if (n < 0) {
        srv->dropped++;
        log_error("dhcp.build", "ifname=%s xid=0x%08x error=\"%s\"", ifname, req.xid, dhcp_strerror((int)n));
        return;
    }
    queue_reply(out, (size_t)n, &res, ifindex, pool->server, req.xid, ifname);
}

static void read_socket(struct server *srv, const struct sock *s)
{
    for (;;) {
        for (size_t i = 0; i < BATCH; i++) {
            io.rx_iov[i] = (struct iovec){.iov_base = io.rx[i], .iov_len = sizeof io.rx[i]};
            io.rx_msg[i].msg_hdr = (struct msghdr){.msg_name = &io.from[i], .msg_namelen = sizeof io.from[i],
                                                   .msg_iov = &io.rx_iov[i], .msg_iovlen = 1,
                                                   .msg_control = io.rx_cmsg[i].buf,
                                                   .msg_controllen = sizeof io.rx_cmsg[i].buf};
        }
        int n = recvmmsg(s->fd, io.rx_msg, BATCH, MSG_TRUNC, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_error("dhcpd.recv", "ifname=%s error=\"%s\"", s->ifname[0] ? s->ifname : "*", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &io.rx_msg[i].msg_hdr;
            size_t len = io.rx_msg[i].msg_len;
            unsigned ifindex = s->ifindex;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
                if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                    struct in_pktinfo pi;
                    memcpy(&pi, CMSG_DATA(c), sizeof pi);
                    ifindex = (unsigned)pi.ipi_ifindex;
                }
            /* The relay socket also sees the broadcasts of served interfaces: their own socket answers. */
            if (!s->ifname[0] && device_served(srv, ifindex))
                continue;
            handle_packet(srv, s, io.rx[i], len > sizeof io.rx[i] ? sizeof io.rx[i] : len, &io.from[i], ifindex,
                          len > DHCP_MAX_LEN || (mh->msg_flags & MSG_TRUNC));
        }
        send_replies(srv, s);
        if (n < BATCH)
            return; /* drained when we looked: epoll says when more comes */
    }
}

/* ---- the lease file ---- */

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint64_t one = 1;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        const char *path = w->path, *text = w->text;
        size_t len = w->len;
        pthread_mutex_unlock(&w->mu);
        int64_t t0 = mono_ms();
        int r = atomic_write_file(path, text, len, 0644);
        int64_t ms = mono_ms() - t0;
        pthread_mutex_lock(&w->mu);
        w->result = r;
        w->ms = ms;
        w->job = false;
        if (write(w->donefd, &one, sizeof one) < 0) {
            /* an eventfd write only fails on counter overflow: the loop is woken anyway */
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_start(struct server *srv)
{
    struct writer *w = &srv->wr;
    w->donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_SAVED};
    if (w->donefd < 0 || epoll_ctl(srv->epfd, EPOLL_CTL_ADD, w->donefd, &ev) < 0)
        goto sync;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->path = srv->leases_path;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        goto sync;
    }
    w->running = true;
    return;
sync:
    log_warn("dhcpd.leases_save", "note=\"no writer thread (%s): the lease file is written by the loop\"",
             strerror(errno));
}

/* Ends the thread after the job in progress (its outcome stays on donefd); afterwards saves are
 * synchronous. */
static void writer_stop(struct writer *w)
{
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->quit = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        w->running = false;
    }
}

/* The outcome of a save: errors once until a save succeeds again (the loop retries every interval). */
static void saved(struct server *srv, int r, int64_t ms)
{
    srv->saves++;
    if (r < 0) {
        srv->leases.dirty = true; /* the file does not have this snapshot: write again */
        if (!srv->save_failing)
            log_error("dhcpd.leases_save", "path=%s error=\"%s\" note=\"retrying every %d ms\"", srv->leases_path,
                      strerror(-r), SAVE_INTERVAL_MS);
    } else if (srv->save_failing) {
        log_info("dhcpd.leases_save", "path=%s ok=true leases=%zu", srv->leases_path, srv->leases.n);
    } else {
        log_debug("dhcpd.leases_save", "path=%s leases=%zu ms=%lld", srv->leases_path, srv->leases.n, (long long)ms);
    }
    srv->save_failing = r < 0;
}

/* Snapshot the table and write it: through the writer thread, or here when there is none. */
static void save_leases(struct server *srv)
{
    const char *text;
    ssize_t len;
    srv->last_save_ms = mono_ms();
    if (!srv->wr.running) {
        int r = dhcpd_leases_save(&srv->leases, srv->leases_path);
        saved(srv, r, mono_ms() - srv->last_save_ms);
        return;
    }
    if ((len = dhcpd_leases_render(&srv->leases, &text)) < 0) {
        saved(srv, -ENOMEM, 0);
        return;
    }
    srv->leases.dirty = false; /* changes from now on go into the next snapshot */
    pthread_mutex_lock(&srv->wr.mu);
    srv->wr.text = text;
    srv->wr.len = (size_t)len;
    srv->wr.job = true;
    pthread_cond_signal(&srv->wr.cv);
    pthread_mutex_unlock(&srv->wr.mu);
    srv->wr.busy = true;
}

static void on_saved(struct server *srv)
{
    uint64_t n;
    int r;
    int64_t ms;
    if (read(srv->wr.donefd, &n, sizeof n) < 0)
        return; /* EAGAIN: nothing ended */
    pthread_mutex_lock(&srv->wr.mu);
    r = srv->wr.result;
    ms = srv->wr.ms;
    pthread_mutex_unlock(&srv->wr.mu);
    srv->wr.busy = false;
    saved(srv, r, ms);
}

/* Called after every batch of events: a changed table is written at once when the last write
 * started SAVE_INTERVAL_MS ago or more, else when the timer fires (and never while the writer is
 * still at the previous one). So a lone exchange is on disk a few ms after its reply, and under
 * load the file is rewritten at most 1000/SAVE_INTERVAL_MS times a second. */
static void schedule_save(struct server *srv)
{
    int64_t now, wait;
    if (!srv->leases.dirty || !srv->leases_path[0] || srv->save_armed || srv->wr.busy)
        return;
    now = mono_ms();
    wait = srv->last_save_ms + SAVE_INTERVAL_MS - now;
    if (wait <= 0) {
        save_leases(srv);
        return;
    }
    struct itimerspec its = {.it_value = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000}};
    if (timerfd_settime(srv->savefd, 0, &its, NULL) < 0) {
        save_leases(srv); /* cannot wait: write now */
        return;
    }
    srv->save_armed = true;
}

static void on_save_timer(struct server *srv)
{
    uint64_t ticks;
    if (read(srv->savefd, &ticks, sizeof ticks) < 0)
        return; /* EAGAIN: not fired */
    srv->save_armed = false;
}

/* ---- configuration reload ---- */

static void reload(struct server *srv)
{
    char err[600], q[1300];
    struct dhcpd_config cfg;
    struct sock *socks;
    size_t n;
    if (dhcpd_config_load(srv->config_path, &cfg, err, sizeof err) < 0) {
        log_error("dhcpd.reload", "ok=false error=%s note=\"keeping the running configuration\"",
                  log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    if (open_socks(&cfg, &socks, &n, err, sizeof err) < 0) {
        dhcpd_config_free(&cfg);
        log_error("dhcpd.reload", "ok=false error=%s note=\"keeping the running configuration\"",
                  log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    close_socks(srv->socks, srv->n_socks); /* closing removes them from the epoll set */
    dhcpd_config_free(&srv->cfg);
    srv->cfg = cfg;
    srv->socks = socks;
    srv->n_socks = n;
    if (watch_socks(srv) < 0)
        fatalx("dhcpd.epoll", "error=\"%s\"", strerror(errno));
    if (strcmp(cfg.leases, srv->leases_path) != 0 && cfg.leases[0])
        log_warn("dhcpd.reload", "note=\"the lease file is fixed at start; ignoring the new config.leases\"");
    log_info("dhcpd.reload", "ok=true pools=%zu sockets=%zu", cfg.n_pools, n);
    log_listen(srv);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"leases", required_argument, NULL, 'l'},
        {"host", required_argument, NULL, 'H'},   {"debug", no_argument, NULL, 'd'},
        {"check", no_argument, NULL, 'n'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct server srv = {.epfd = -1, .sigfd = -1, .savefd = -1, .wr = {.donefd = -1}};
    const char *leases_arg = NULL;
    char host[256] = "-", err[600], q[1300];
    bool debug = false, check = false, stop = false;
    int c, rc = 1;

    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "-");
    host[sizeof host - 1] = '\0';
    while ((c = getopt_long(argc, argv, "c:l:H:dnh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': srv.config_path = optarg; break;
        case 'l': leases_arg = optarg; break;
        case 'H': snprintf(host, sizeof host, "%s", optarg); break;
        case 'd': debug = true; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !srv.config_path) {
        usage(stderr);
        return 2;
    }
    log_init(host, "mock-dhcpd", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    dhcpd_leases_init(&srv.leases);

    if (dhcpd_config_load(srv.config_path, &srv.cfg, err, sizeof err) < 0) {
        log_error("dhcpd.config", "ok=false error=%s", log_quote(q, sizeof q, err, strlen(err)));
        goto out;
    }
    if (check) {
        log_info("dhcpd.config", "ok=true path=%s pools=%zu", srv.config_path, srv.cfg.n_pools);
        rc = 0;
        goto out;
    }
    snprintf(srv.leases_path, sizeof srv.leases_path, "%s", leases_arg ? leases_arg : srv.cfg.leases);
    if (srv.leases_path[0] && dhcpd_leases_load(&srv.leases, srv.leases_path, err, sizeof err) < 0) {
        log_error("dhcpd.leases", "ok=false error=%s", log_quote(q, sizeof q, err, strlen(err)));
        goto out;
    }
    srv.sigfd = daemon_signalfd();
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    srv.savefd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = EV_SIGNAL}, tev = {.events = EPOLLIN, .data.u64 = EV_SAVE};
    if (srv.sigfd < 0 || srv.epfd < 0 || srv.savefd < 0 || epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.sigfd, &sev) < 0 ||
        epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.savefd, &tev) < 0) {
        log_error("dhcpd.start", "error=\"%s\"", strerror(errno));
        goto out;
    }
    if (open_socks(&srv.cfg, &srv.socks, &srv.n_socks, err, sizeof err) < 0) {
        log_error("dhcpd.start", "error=%s", log_quote(q, sizeof q, err, strlen(err)));
        goto out;
    }
    if (watch_socks(&srv) < 0) {
        log_error("dhcpd.start", "error=\"%s\"", strerror(errno));
        goto out;
    }
    log_info("dhcpd.start", "config=%s leases=%s loaded=%zu pools=%zu sockets=%zu", srv.config_path,
             srv.leases_path[0] ? srv.leases_path : "-", srv.leases.n, srv.cfg.n_pools, srv.n_socks);
    log_listen(&srv);
    srv.last_save_ms = mono_ms() - SAVE_INTERVAL_MS;
    if (srv.leases_path[0])
        writer_start(&srv);
    daemon_ready();
    log_info("dhcpd.ready", NULL);

    log_buf_start();
    while (!stop) {
        struct epoll_event evs[16];
        bool do_reload = false;
        log_buf_flush();
        int n = epoll_wait(srv.epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatalx("dhcpd.epoll", "error=\"%s\"", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == EV_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(srv.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGHUP) {
                        log_info("dhcpd.signal", "signal=HUP action=reload");
                        do_reload = true;
                    } else {
                        log_info("dhcpd.signal", "signal=%s action=stop", si.ssi_signo == SIGINT ? "INT" : "TERM");
                        stop = true;
                    }
                }
            } else if (evs[i].data.u64 == EV_SAVE) {
                on_save_timer(&srv);
            } else if (evs[i].data.u64 == EV_SAVED) {
                on_saved(&srv);
            } else if (evs[i].data.u64 <= srv.n_socks) {
                read_socket(&srv, &srv.socks[evs[i].data.u64 - 1]);
            }
        }
        if (do_reload && !stop)
            reload(&srv);
        schedule_save(&srv);
    }

    if (srv.wr.running) {
        writer_stop(&srv.wr); /* lets the write in progress end */
        on_saved(&srv);
    }
    if (srv.leases.dirty && srv.leases_path[0])
        save_leases(&srv); /* whatever the timer still held, synchronously */
    log_info("dhcpd.stop", "received=%lu replied=%lu silent=%lu dropped=%lu leases=%zu saves=%lu", srv.received,
             srv.replied, srv.silent, srv.dropped, srv.leases.n, srv.saves);
    rc = 0;
out:
    log_buf_stop();
    close_socks(srv.socks, srv.n_socks);
    if (srv.epfd >= 0)
        close(srv.epfd);
    if (srv.sigfd >= 0)
        close(srv.sigfd);
    if (srv.savefd >= 0)
        close(srv.savefd);
    writer_stop(&srv.wr);
    if (srv.wr.donefd >= 0)
        close(srv.wr.donefd);
    dhcpd_leases_free(&srv.leases);
    dhcpd_config_free(&srv.cfg);
    return rc;
}
