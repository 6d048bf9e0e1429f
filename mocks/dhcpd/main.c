/* mock-dhcpd: the I/O frontend. An epoll loop over one UDP socket per served interface (bound to
 * 0.0.0.0:67 with SO_BINDTODEVICE) plus, when relay pools exist, one unbound socket for relayed
 * requests, and a signalfd (SIGTERM/SIGINT stop, SIGHUP reloads the config). Every decision is in
 * engine.c; this file moves bytes, logs one line per exchange and persists the lease table. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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

struct server {
    const char *config_path;
    char leases_path[4096];  /* "" = not persisted */
    struct dhcpd_config cfg;
    struct dhcpd_lease_table leases;
    struct sock *socks;
    size_t n_socks;
    int epfd, sigfd;
    unsigned long received, replied, silent, dropped;
};

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
    int one = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT)};
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        goto fail;
    if (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
        setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
        goto fail;
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
    for (size_t i = 0; i < srv->n_socks; i++)
        log_info("dhcpd.listen", "ifname=%s ifindex=%u port=%d", srv->socks[i].ifname[0] ? srv->socks[i].ifname : "*",
                 srv->socks[i].ifindex, DHCP_SERVER_PORT);
}

/* ---- one exchange ---- */

static char *fmt_chaddr(char *buf, size_t cap, const struct dhcp_msg *m)
{
    size_t o = 0, n = m->hlen <= 16 ? m->hlen : 16;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o + 4 <= cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%02x", i ? ":" : "", m->chaddr[i]);
    if (!n)
        snprintf(buf, cap, "-");
    return buf;
}

static const char *fmt_ip(char *buf, struct in_addr a) { return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN); }

static void log_exchange(const char *ifname, const struct dhcp_msg *req, const struct dhcp_msg *rep,
                         const struct dhcpd_result *res, const struct dhcpd_pool *pool)
{
    char chaddr[64], cid[520], vc[1100], proxy[600], ci[16], gi[16], rq[16], sid[16], yi[16], dst[16], lease[16];
    bool sent43 = res->opt43 == DHCPD_OPT43_SENT;
    if (dhcp_has(req, DHO_CLIENT_ID))
        log_hex(cid, sizeof cid, req->client_id, req->client_id_len);
    else
        snprintf(cid, sizeof cid, "-");
    if (dhcp_has(req, DHO_VENDOR_CLASS))
        log_quote(vc, sizeof vc, req->vendor_class, req->vendor_class_len);
    else
        snprintf(vc, sizeof vc, "-");
    if (sent43)
        log_quote(proxy, sizeof proxy, pool->proxy, strlen(pool->proxy));
    else
        snprintf(proxy, sizeof proxy, "-");
    if (res->reply != DHCPD_NONE && dhcp_has(rep, DHO_LEASE_TIME))
        snprintf(lease, sizeof lease, "%u", rep->lease_time);
    else
        snprintf(lease, sizeof lease, "-");
    log_event(res->drop ? LOG_LVL_WARN : LOG_LVL_INFO, "dhcp.exchange",
              "ifname=%s pool=%s msg=%s kind=%s reply=%s reason=\"%s\" xid=0x%08x chaddr=%s client_id=%s "
              "ciaddr=%s giaddr=%s hops=%u requested=%s server_id=%s yiaddr=%s lease=%s vendor_class=%s "
              "opt43=%s proxy=%s dst=%s:%u",
              ifname, pool ? pool->name : "-", dhcp_msg_type_name(req->msg_type), res->kind,
              dhcpd_engine_reply_name(res->reply), res->reason ? res->reason : "-", req->xid,
              fmt_chaddr(chaddr, sizeof chaddr, req),
              cid, fmt_ip(ci, req->ciaddr), fmt_ip(gi, req->giaddr), req->hops,
              dhcp_has(req, DHO_REQUESTED_IP) ? fmt_ip(rq, req->requested_ip) : "-",
              dhcp_has(req, DHO_SERVER_ID) ? fmt_ip(sid, req->server_id) : "-",
              res->reply != DHCPD_NONE ? fmt_ip(yi, rep->yiaddr) : "-", lease, vc, dhcpd_engine_opt43_name(res->opt43),
              proxy, res->reply != DHCPD_NONE ? fmt_ip(dst, res->dst) : "-",
              res->reply != DHCPD_NONE ? res->dport : 0);
}

static int send_reply(int fd, const uint8_t *buf, size_t len, const struct dhcpd_result *res, unsigned ifindex,
                      struct in_addr src)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(res->dport), .sin_addr = res->dst};
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1};
    memset(&cbuf, 0, sizeof cbuf);
    mh.msg_control = cbuf.buf;
    mh.msg_controllen = sizeof cbuf.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {.ipi_ifindex = res->broadcast ? (int)ifindex : 0, .ipi_spec_dst = src};
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    if (sendmsg(fd, &mh, 0) >= 0)
        return 0;
    if (errno != EINVAL && errno != EADDRNOTAVAIL)
        return -errno;
    /* The configured server address is not local: let the kernel pick the source. */
    pi.ipi_spec_dst.s_addr = INADDR_ANY;
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    return sendmsg(fd, &mh, 0) >= 0 ? 0 : -errno;
}

static void handle_packet(struct server *srv, const struct sock *s, const uint8_t *buf, size_t len,
                          const struct sockaddr_in *from, unsigned ifindex, bool truncated)
{
    char ifname[IFNAMSIZ] = "?", src[INET_ADDRSTRLEN], head[200];
    struct dhcp_msg req, rep;
    struct dhcpd_result res;
    uint8_t out[DHCP_MAX_LEN];
    int r;

    if (s->ifname[0])
        snprintf(ifname, sizeof ifname, "%s", s->ifname);
    else if (!if_indextoname(ifindex, ifname))
        snprintf(ifname, sizeof ifname, "if%u", ifindex);
    inet_ntop(AF_INET, &from->sin_addr, src, sizeof src);
    srv->received++;

    r = truncated ? -DHCP_E_NOBUFS : dhcp_parse(buf, len, &req);
    if (r < 0) {
        srv->dropped++;
        log_warn("dhcp.drop", "ifname=%s src=%s:%u len=%zu reason=\"%s\" head=%s", ifname, src,
                 ntohs(from->sin_port), len, truncated ? "larger than the receive buffer" : dhcp_strerror(r),
                 log_quote(head, sizeof head, buf, len < 40 ? len : 40));
        return;
    }
    const struct dhcpd_pool *pool = dhcpd_engine_select_pool(&srv->cfg, s->ifname[0] ? s->ifname : ifname, &req);
    dhcpd_engine_handle(&srv->cfg, pool, &srv->leases, (int64_t)time(NULL), &req, &rep, &res);
    log_exchange(ifname, &req, &rep, &res, pool);

    if (srv->leases.dirty && srv->leases_path[0]) {
        int w = dhcpd_leases_save(&srv->leases, srv->leases_path);
        if (w < 0)
            log_error("dhcpd.dhcpd_leases_save", "path=%s error=\"%s\"", srv->leases_path, strerror(-w));
    }
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
    r = send_reply(s->fd, out, (size_t)n, &res, ifindex, pool->server);
    if (r < 0) {
        srv->dropped++;
        log_error("dhcp.send", "ifname=%s xid=0x%08x dst=%s:%u error=\"%s\"", ifname, req.xid,
                  inet_ntop(AF_INET, &res.dst, src, sizeof src), res.dport, strerror(-r));
        return;
    }
    srv->replied++;
}

static void read_socket(struct server *srv, const struct sock *s)
{
    for (;;) {
        uint8_t buf[DHCP_MAX_LEN + 1];
        struct sockaddr_in from;
        union {
            char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
        ssize_t n = recvmsg(s->fd, &mh, MSG_TRUNC);
        unsigned ifindex = s->ifindex;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_error("dhcpd.recv", "ifname=%s error=\"%s\"", s->ifname[0] ? s->ifname : "*", strerror(errno));
            return;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                ifindex = (unsigned)pi.ipi_ifindex;
            }
        /* The relay socket also sees the broadcasts of served interfaces: their own socket answers. */
        if (!s->ifname[0] && device_served(srv, ifindex))
            continue;
        handle_packet(srv, s, buf, (size_t)n > sizeof buf ? sizeof buf : (size_t)n, &from, ifindex,
                      (size_t)n > DHCP_MAX_LEN);
    }
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
    struct server srv = {.epfd = -1, .sigfd = -1};
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
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = 0};
    if (srv.sigfd < 0 || srv.epfd < 0 || epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.sigfd, &sev) < 0) {
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
    daemon_ready();
    log_info("dhcpd.ready", NULL);

    while (!stop) {
        struct epoll_event evs[16];
        bool do_reload = false;
        int n = epoll_wait(srv.epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatalx("dhcpd.epoll", "error=\"%s\"", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == 0) {
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
            } else if (evs[i].data.u64 <= srv.n_socks) {
                read_socket(&srv, &srv.socks[evs[i].data.u64 - 1]);
            }
        }
        if (do_reload && !stop)
            reload(&srv);
    }

    if (srv.leases.dirty && srv.leases_path[0]) {
        int w = dhcpd_leases_save(&srv.leases, srv.leases_path);
        if (w < 0)
            log_error("dhcpd.dhcpd_leases_save", "path=%s error=\"%s\"", srv.leases_path, strerror(-w));
    }
    log_info("dhcpd.stop", "received=%lu replied=%lu silent=%lu dropped=%lu leases=%zu", srv.received, srv.replied,
             srv.silent, srv.dropped, srv.leases.n);
    rc = 0;
out:
    close_socks(srv.socks, srv.n_socks);
    if (srv.epfd >= 0)
        close(srv.epfd);
    if (srv.sigfd >= 0)
        close(srv.sigfd);
    dhcpd_leases_free(&srv.leases);
    dhcpd_config_free(&srv.cfg);
    return rc;
}
