/* DHCP client I/O for one interface: see dhcpc_io.h. */
#include "dhcpc_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

#define FRAME_MAX 2048
#define READ_BURST 64 /* frames per dhcpc_io_readable() call, so one busy link cannot starve the loop */

struct dhcpc_io {
    struct dhcpc eng;               /* first: dhcpc_io_from_engine() relies on it */
    struct dhcpc_ops eng_ops;
    struct dhcpc_io_config cfg;
    struct dhcpc_io_ops ops;
    void *arg;
    int ifindex;
    uint8_t mac[6];
    uint32_t metric;
    int pfd;                        /* AF_PACKET, receives everything, sends broadcasts */
    int ufd;                        /* UDP 0.0.0.0:68 on the interface, sends unicasts, -1 if unavailable */
};

static struct dhcpc_io *io_of(struct dhcpc *c) { return (struct dhcpc_io *)c; }

uint64_t dhcpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- sockets ---- */

/* Classic BPF over the Ethernet frame: unfragmented IPv4/UDP with destination port 68 whose BOOTP
 * chaddr is our MAC (as systemd-networkd's client filters). The kernel drops the replies to other
 * clients: on a segment where the server broadcasts its OFFERs and ACKs (mock-dhcpd does, for a client
 * without an address), a thousand clients on one bridge would otherwise each wake up and parse every
 * other client's reply (lab fleet runs). The engine still checks xid and chaddr itself. */
static int attach_filter(int fd, const uint8_t mac[6])
{
    uint32_t mac_hi = (uint32_t)mac[0] << 24 | (uint32_t)mac[1] << 16 | (uint32_t)mac[2] << 8 | mac[3];
    uint32_t mac_lo = (uint32_t)mac[4] << 8 | mac[5];
    /* jt/jf count instructions to skip: index 13 accepts, index 14 drops. chaddr is at IP header +
     * 8 (UDP) + 28 (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr). */
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                 /* ethertype */
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 12),
        /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),             /* IP protocol */
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 10),
        /* 4 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 6),             /* flags + fragment offset */
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 8, 0),     /* a non-first fragment: drop */
        /* 6 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                /* X = IP header length */
        /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 2),             /* UDP destination port */
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP_CLIENT_PORT, 0, 5),
        /* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_IND, 14 + 8 + 28),        /* chaddr[0..3] (short frame: drop) */
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mac_hi, 0, 3),
        /* 11 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 8 + 28 + 4),   /* chaddr[4..5] */
        /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mac_lo, 0, 1),
        /* 13 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),                    /* accept, whole frame */
        /* 14 */ BPF_STMT(BPF_RET | BPF_K, 0),                          /* drop */
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        return -errno;
    return 0;
}

static int read_link(struct dhcpc_io *io)
{
    unsigned idx = if_nametoindex(io->cfg.ifname);
    if (idx == 0)
        return -ENODEV;
    io->ifindex = (int)idx;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, io->cfg.ifname, sizeof ifr.ifr_name);
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (rc < 0)
        return -err;
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return -EAFNOSUPPORT;
    memcpy(io->mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

static int open_packet(struct dhcpc_io *io)
{
    /* Protocol 0 first: nothing is queued until the filter is attached and the socket bound. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = attach_filter(fd, io->mac);
    int one = 1;
    if (rc == 0 && setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0) {
        struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = io->ifindex};
        if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0)
            rc = -errno;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    io->pfd = fd;
    return 0;
}

static int open_udp(struct dhcpc_io *io)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, small = 4096;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT), .sin_addr.s_addr = INADDR_ANY};
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, io->cfg.ifname, (socklen_t)strlen(io->cfg.ifname)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    io->ufd = fd;
    return 0;
}

/* ---- engine callbacks ---- */

static int io_send(struct dhcpc *c, const struct dhcp_msg *m, bool broadcast, struct in_addr dst, void *arg)
{
    struct dhcpc_io *io = io_of(c);
    uint8_t payload[DHCP_MAX_LEN];
    ssize_t plen = dhcp_build(m, payload, sizeof payload, DHCPC_PAD_TO);
    if (plen < 0)
        fatalx("dhcpc.build", "ifname=%s type=%s error=\"%s\"", io->cfg.ifname, dhcp_msg_type_name(m->msg_type),
               dhcp_strerror((int)plen));

    if (!broadcast) {
        if (io->ufd < 0)
            return -ENOTCONN;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT), .sin_addr = dst};
        if (sendto(io->ufd, payload, (size_t)plen, 0, (struct sockaddr *)&sin, sizeof sin) < 0)
            return -errno;
        return 0;
    }

    /* The product's trace: tos 0, ttl 128, id 0, DF clear, 0.0.0.0:68 -> 255.255.255.255:67. */
    struct udp4_frame f;
    memset(&f, 0, sizeof f);
    memcpy(f.src_mac, io->mac, 6);
    memset(f.dst_mac, 0xff, 6);
    f.src = m->ciaddr;
    f.dst.s_addr = INADDR_BROADCAST;
    f.sport = DHCP_CLIENT_PORT;
    f.dport = DHCP_SERVER_PORT;
    f.tos = 0;
    f.ttl = 128;
    f.ip_id = 0;
    uint8_t frame[FRAME_MAX];
    ssize_t flen = udp4_frame_build(frame, sizeof frame, &f, payload, (size_t)plen);
    if (flen < 0)
        fatalx("dhcpc.frame", "ifname=%s error=\"%s\"", io->cfg.ifname, dhcp_strerror((int)flen));
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = io->ifindex,
                              .sll_halen = 6};
    memset(sll.sll_addr, 0xff, 6);
    if (sendto(io->pfd, frame, (size_t)flen, 0, (struct sockaddr *)&sll, sizeof sll) < 0)
        return -errno;
    return 0;
}

static bool same_subnet(struct in_addr a, struct in_addr b, struct in_addr mask)
{
    return (a.s_addr & mask.s_addr) == (b.s_addr & mask.s_addr);
}

/* One line per netlink change: what=addr (addr=A/plen) or what=route (gw=G). */
static void log_nl(const struct dhcpc_io *io, const char *op, struct in_addr a, int plen, int rc)
{
    char abuf[INET_ADDRSTRLEN], what[48];
    inet_ntop(AF_INET, &a, abuf, sizeof abuf);
    if (plen >= 0)
        snprintf(what, sizeof what, "addr=%s/%d", abuf, plen);
    else
        snprintf(what, sizeof what, "gw=%s metric=%u", abuf, io->metric);
    if (rc < 0)
        log_warn("dhcpc.netlink_failed", "ifname=%s op=%s %s error=\"%s\"", io->cfg.ifname, op, what, strerror(-rc));
    else
        log_info("dhcpc.netlink", "ifname=%s op=%s %s", io->cfg.ifname, op, what);
}

static void remove_route(struct dhcpc_io *io, const struct dhcpc_lease *l)
{
    if (!l->have_router)
        return;
    int rc = netlink_route4_default_delete(io->ifindex, l->router, io->metric);
    if (rc != -ESRCH)
        log_nl(io, "route_del", l->router, -1, rc);
}

static void remove_addr(struct dhcpc_io *io, const struct dhcpc_lease *l)
{
    int rc = netlink_addr4_delete(io->ifindex, l->addr, l->prefixlen);
    if (rc != -EADDRNOTAVAIL)
        log_nl(io, "addr_del", l->addr, l->prefixlen, rc);
}

static void io_bound(struct dhcpc *c, const struct dhcpc_lease *l, const struct dhcpc_lease *prev, void *arg)
{
    struct dhcpc_io *io = io_of(c);
    if (io->cfg.apply) {
        bool addr_changed = prev && (prev->addr.s_addr != l->addr.s_addr || prev->prefixlen != l->prefixlen);
        bool route_changed = prev && prev->have_router &&
                             (addr_changed || !l->have_router || prev->router.s_addr != l->router.s_addr);
        if (route_changed)
            remove_route(io, prev);
        if (addr_changed)
            remove_addr(io, prev);
        log_nl(io, "addr_replace", l->addr, l->prefixlen, netlink_addr4_replace(io->ifindex, l->addr, l->prefixlen));
        if (l->have_router) {
            int onlink = !same_subnet(l->router, l->addr, l->mask);
            log_nl(io, onlink ? "route_replace_onlink" : "route_replace", l->router, -1,
                   netlink_route4_default_replace(io->ifindex, l->router, io->metric, onlink));
        }
    }
    if (io->ops.bound)
        io->ops.bound(io, l, prev, io->arg);
}

static void io_unbound(struct dhcpc *c, const struct dhcpc_lease *l, enum dhcpc_unbound_reason why, void *arg)
{
    struct dhcpc_io *io = io_of(c);
    if (io->cfg.apply) {
        remove_route(io, l);
        remove_addr(io, l);
    }
    if (io->ops.unbound)
        io->ops.unbound(io, l, why, io->arg);
}

/* ---- public API ---- */

int dhcpc_io_open(struct dhcpc_io **out, const struct dhcpc_io_config *cfg, const struct dhcpc_io_ops *ops, void *arg)
{
    *out = NULL;
    struct dhcpc_io *io = calloc(1, sizeof *io);
    if (!io)
        return -ENOMEM;
    io->cfg = *cfg;
    io->cfg.ifname[sizeof io->cfg.ifname - 1] = '\0';
    io->cfg.vendor_class[sizeof io->cfg.vendor_class - 1] = '\0';
    if (ops)
        io->ops = *ops;
    io->arg = arg;
    io->pfd = io->ufd = -1;

    int rc = read_link(io);
    if (rc < 0) {
        log_error("dhcpc.open_failed", "ifname=%s step=link error=\"%s\"", io->cfg.ifname, strerror(-rc));
        free(io);
        return rc;
    }
    rc = open_packet(io);
    if (rc < 0) {
        log_error("dhcpc.open_failed", "ifname=%s step=packet_socket error=\"%s\"", io->cfg.ifname, strerror(-rc));
        free(io);
        return rc;
    }
    rc = open_udp(io);
    if (rc < 0) /* e.g. another DHCP client holds port 68 on this interface: renewals fall back to T2 */
        log_warn("dhcpc.udp_unavailable", "ifname=%s error=\"%s\" effect=\"no unicast renewal\"", io->cfg.ifname,
                 strerror(-rc));
    io->metric = cfg->route_metric ? cfg->route_metric : DHCPC_IO_METRIC_BASE + (uint32_t)io->ifindex;

    struct dhcpc_config ecfg;
    memset(&ecfg, 0, sizeof ecfg);
    memcpy(ecfg.ifname, io->cfg.ifname, sizeof ecfg.ifname);
    memcpy(ecfg.mac, io->mac, 6);
    memcpy(ecfg.vendor_class, io->cfg.vendor_class, sizeof ecfg.vendor_class);
    io->eng_ops = (struct dhcpc_ops){.send = io_send, .bound = io_bound, .unbound = io_unbound};
    dhcpc_init(&io->eng, &ecfg, &io->eng_ops, io);

    char mbuf[32];
    log_info("dhcpc.open", "ifname=%s ifindex=%d mac=%s apply=%s metric=%u", io->cfg.ifname, io->ifindex,
             log_hex(mbuf, sizeof mbuf, io->mac, 6), io->cfg.apply ? "yes" : "no", io->metric);
    *out = io;
    return 0;
}

void dhcpc_io_close(struct dhcpc_io *io, bool release)
{
    if (!io)
        return;
    if (release)
        dhcpc_stop(&io->eng, dhcpc_now_ms(), true);
    if (io->pfd >= 0)
        close(io->pfd);
    if (io->ufd >= 0)
        close(io->ufd);
    free(io);
}

void dhcpc_io_start(struct dhcpc_io *io, uint64_t now) { dhcpc_start(&io->eng, now); }

int dhcpc_io_fd(const struct dhcpc_io *io) { return io->pfd; }

static void handle_frame(struct dhcpc_io *io, const uint8_t *buf, size_t len, unsigned flags, uint64_t now)
{
    char hex[2 * 64 + 1];
    struct udp4_frame f;
    int rc = udp4_frame_parse(buf, len, flags, &f);
    if (rc == UDP4_NOT_UDP)
        return; /* the BPF filter lets only UDP to port 68 through; nothing to say */
    if (rc < 0) {
        log_warn("dhcpc.bad_frame", "ifname=%s len=%zu error=\"%s\" head=%s", io->cfg.ifname, len,
                 dhcp_strerror(rc), log_hex(hex, sizeof hex, buf, len));
        return;
    }
    if (f.dport != DHCP_CLIENT_PORT)
        return;
    char sbuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &f.src, sbuf, sizeof sbuf);
    if (f.sport != DHCP_SERVER_PORT) {
        log_debug("dhcpc.ignored", "ifname=%s src=%s sport=%u reason=\"source port not 67\"", io->cfg.ifname, sbuf,
                  f.sport);
        return;
    }
    struct dhcp_msg m;
    rc = dhcp_parse(f.payload, f.payload_len, &m);
    if (rc < 0) {
        log_warn("dhcpc.bad_packet", "ifname=%s src=%s len=%zu error=\"%s\" head=%s", io->cfg.ifname, sbuf,
                 f.payload_len, dhcp_strerror(rc), log_hex(hex, sizeof hex, f.payload, f.payload_len));
        return;
    }
    log_debug("dhcpc.recv", "ifname=%s src=%s type=%s xid=0x%08x", io->cfg.ifname, sbuf,
              dhcp_msg_type_name(m.msg_type), m.xid);
    dhcpc_input(&io->eng, &m, now);
}

void dhcpc_io_readable(struct dhcpc_io *io, uint64_t now)
{
    uint8_t buf[FRAME_MAX];
    union {
        struct cmsghdr align;
        uint8_t space[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } cbuf;
    for (int i = 0; i < READ_BURST; i++) {
        struct sockaddr_ll sll;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_name = &sll, .msg_namelen = sizeof sll, .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cbuf.space, .msg_controllen = sizeof cbuf.space};
        ssize_t n = recvmsg(io->pfd, &mh, MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("dhcpc.recv_failed", "ifname=%s error=\"%s\"", io->cfg.ifname, strerror(errno));
            break;
        }
        if (sll.sll_pkttype == PACKET_OUTGOING || sll.sll_pkttype == PACKET_OTHERHOST)
            continue;
        if ((size_t)n > sizeof buf) {
            log_warn("dhcpc.bad_frame", "ifname=%s len=%zd error=\"frame larger than %zu bytes\"", io->cfg.ifname, n,
                     sizeof buf);
            continue;
        }
        /* Frames from a local sender (veth, a server in the same host) may carry a partial UDP
         * checksum the kernel never filled in (checksum offload): the packet socket reports
         * TP_STATUS_CSUMNOTREADY. Like dhclient and udhcpc, do not check such a UDP checksum. */
        unsigned flags = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA &&
                cm->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(cm), sizeof aux);
                if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
                    flags |= UDP4_NO_UDP_CSUM;
            }
        }
        handle_frame(io, buf, (size_t)n, flags, now);
    }
    /* Unicast replies also land on the UDP socket: discard them (the packet socket saw them). */
    if (io->ufd >= 0)
        while (recv(io->ufd, buf, sizeof buf, MSG_TRUNC) >= 0 || errno == EINTR)
            ;
}

void dhcpc_io_timeout(struct dhcpc_io *io, uint64_t now) { dhcpc_timeout(&io->eng, now); }

uint64_t dhcpc_io_next_timeout(const struct dhcpc_io *io) { return dhcpc_next_timeout(&io->eng); }

const char *dhcpc_io_ifname(const struct dhcpc_io *io) { return io->cfg.ifname; }

int dhcpc_io_ifindex(const struct dhcpc_io *io) { return io->ifindex; }

enum dhcpc_state dhcpc_io_state(const struct dhcpc_io *io) { return dhcpc_get_state(&io->eng); }

const struct dhcpc_lease *dhcpc_io_lease(const struct dhcpc_io *io) { return dhcpc_get_lease(&io->eng); }

struct dhcpc *dhcpc_io_engine(struct dhcpc_io *io) { return &io->eng; }
