/* dhcp-probe: a small DHCPv4 test client built on the common codec.
 *
 * Client mode (--iface): a UDP socket bound to 0.0.0.0:68 on the interface (works without an IPv4
 * address), requests broadcast to 255.255.255.255:67 (or unicast to --server), replies read on 68.
 * Without ciaddr the requests carry the broadcast flag: a UDP socket cannot receive a reply unicast to
 * an address the interface does not hold yet (RFC 2131 4.1: such a client sets it).
 * Relay mode (--relay GIADDR): behaves as a DHCP relay agent whose address on the client subnet is
 * GIADDR: binds GIADDR:67, sends the request with giaddr and hops set to --server:67, and expects
 * the reply back on GIADDR:67 (RFC 2131 4.1), which is what a relayed site depends on.
 *
 * Prints one logfmt line per reply received (reply=OFFER yiaddr=... proxy="..." ...). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ztp/dhcp.h"
#include "ztp/log.h"
#include "ztp/util.h"

enum { EXIT_GOT = 0, EXIT_NAK = 1, EXIT_TIMEOUT = 2, EXIT_ERR = 3, EXIT_USAGE = 64 };
enum probe_type { P_DISCOVER, P_DORA, P_REQUEST, P_RENEW, P_INFORM, P_RELEASE, P_DECLINE };

struct probe {
    const char *iface;
    struct in_addr relay, server, ciaddr, requested, server_id;
    bool relay_mode, have_server, have_requested, have_server_id, no43, quiet;
    uint8_t mac[6];
    char vendor_class[256];
    bool no_vendor_class;
    uint8_t client_id[255];
    size_t client_id_len;  /* 0: none */
    bool client_id_default;
    uint8_t hops;
    double timeout;
    enum probe_type type;
    uint32_t xid;
    int fd;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dhcp-probe (--iface IF | --relay GIADDR --server ADDR) [options]\n"
            "\n"
            "Send DHCPv4 requests built with the lab's codec and print each reply as one logfmt line.\n"
            "\n"
            "Where:\n"
            "  -i, --iface IF          client mode: UDP 0.0.0.0:68 bound to IF (no address needed),\n"
            "                          requests to 255.255.255.255:67 unless --server is given\n"
            "  -r, --relay GIADDR      relay mode: act as the relay agent GIADDR (must be a local\n"
            "                          address): bind GIADDR:67, set giaddr, send to --server:67,\n"
            "                          expect the reply on GIADDR:67\n"
            "  -s, --server ADDR       destination of the request (relay mode: required)\n"
            "What:\n"
            "  -T, --type TYPE         discover (default): DISCOVER, wait for an OFFER\n"
            "                          dora: DISCOVER, OFFER, REQUEST (selecting), wait for ACK/NAK\n"
            "                          request: REQUEST with --requested (init-reboot, or selecting\n"
            "                            with --server-id), wait for ACK/NAK\n"
            "                          renew: REQUEST with --ciaddr, wait for ACK/NAK\n"
            "                          inform: INFORM with --ciaddr, wait for the ACK\n"
            "                          release: RELEASE of --ciaddr (no reply expected)\n"
            "                          decline: DECLINE of --requested (no reply expected)\n"
            "  -m, --mac MAC           chaddr (default: the interface's MAC in client mode,\n"
            "                          02:00:5e:10:00:01 in relay mode)\n"
            "  -V, --vendor-class STR  Option 60 (default \"JuniperSSR\")\n"
            "      --no-vendor-class   send no Option 60\n"
            "  -C, --client-id HEX     Option 61 bytes (default 01 + MAC; \"none\" to omit)\n"
            "      --no-43             leave 43 out of Option 55 (default asks for 1, 3, 6, 43)\n"
            "  -R, --requested IP      Option 50\n"
            "  -S, --server-id IP      Option 54 (request/release/decline)\n"
            "  -c, --ciaddr IP         ciaddr (renew, inform, release)\n"
            "      --hops N            hops in relay mode (default 1)\n"
            "  -x, --xid HEX           transaction id (default random)\n"
            "  -t, --timeout SEC       how long to wait for each reply (default 3)\n"
            "  -q, --quiet             print only the reply lines\n"
            "\n"
            "Exit status: 0 the expected reply came (or nothing was expected), 1 a NAK came,\n"
            "2 no reply before the timeout, 3 a system error, 64 bad usage.\n");
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

/* "0102005e100001" or "01:02:00:5e:10:00:01": two hex digits per byte. */
static int parse_ip_arg(const char *s, struct in_addr *a, const char *what)
{
    if (inet_pton(AF_INET, s, a) == 1)
        return 0;
    fprintf(stderr, "dhcp-probe: %s: \"%s\" is not an IPv4 address\n", what, s);
    return -1;
}

/* ---- sockets ---- */

static int open_socket(struct probe *p)
{
    int one = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return -1;
    if (setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(p->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0)
        return -1;
    if (p->relay_mode) {
        sin.sin_addr = p->relay;
        sin.sin_port = htons(DHCP_SERVER_PORT);
    } else {
        if (setsockopt(p->fd, SOL_SOCKET, SO_BINDTODEVICE, p->iface, (socklen_t)strlen(p->iface)) < 0)
            return -1;
        sin.sin_port = htons(DHCP_CLIENT_PORT);
    }
    return bind(p->fd, (struct sockaddr *)&sin, sizeof sin);
}

static int iface_mac(const char *ifname, uint8_t mac[6])
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    r = ioctl(fd, SIOCGIFHWADDR, &ifr);
    close(fd);
    if (r < 0)
        return -1;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

/* ---- messages ---- */

static void base_msg(const struct probe *p, struct dhcp_msg *m, enum dhcp_msg_type t)
{
    static const uint8_t prl43[] = {DHO_SUBNET_MASK, DHO_ROUTERS, DHO_DNS, DHO_VENDOR_OPTS};
    dhcp_msg_init(m, BOOTREQUEST, t, p->xid, p->mac);
    if (p->relay_mode) {
        m->giaddr = p->relay;
        m->hops = p->hops;
    } else if (p->ciaddr.s_addr == INADDR_ANY) {
        m->flags = DHCP_FLAG_BROADCAST;
    }
    if (p->client_id_len)
        dhcp_set_bytes(m, DHO_CLIENT_ID, p->client_id, p->client_id_len);
    if (t == DHCPRELEASE || t == DHCPDECLINE)
        return;
    dhcp_set_bytes(m, DHO_PARAM_REQ, prl43, p->no43 ? 3 : 4);
    if (!p->no_vendor_class)
        dhcp_set_bytes(m, DHO_VENDOR_CLASS, p->vendor_class, strlen(p->vendor_class));
}

static int send_msg(const struct probe *p, const struct dhcp_msg *m)
{
    uint8_t buf[DHCP_MAX_LEN];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT)};
    ssize_t n = dhcp_build(m, buf, sizeof buf, DHCP_BOOTP_MIN_LEN);
    char dst[INET_ADDRSTRLEN];
    if (n < 0) {
        fprintf(stderr, "dhcp-probe: cannot build the %s: %s\n", dhcp_msg_type_name(m->msg_type), dhcp_strerror((int)n));
        return -1;
    }
    to.sin_addr.s_addr = p->have_server ? p->server.s_addr : INADDR_BROADCAST;
    if (sendto(p->fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        fprintf(stderr, "dhcp-probe: send to %s:67: %s\n", inet_ntop(AF_INET, &to.sin_addr, dst, sizeof dst),
                strerror(errno));
        return -1;
    }
    if (!p->quiet)
        fprintf(stderr, "dhcp-probe: sent %s xid=0x%08x len=%zd to %s:67%s\n", dhcp_msg_type_name(m->msg_type), p->xid,
                n, inet_ntop(AF_INET, &to.sin_addr, dst, sizeof dst), p->relay_mode ? " (as relay)" : "");
    return 0;
}

static void print_addrs(const char *key, const struct in_addr *a, unsigned n)
{
    char s[INET_ADDRSTRLEN];
    printf(" %s=", key);
    if (!n)
        printf("-");
    for (unsigned i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", inet_ntop(AF_INET, &a[i], s, sizeof s));
}

static void print_reply(const struct dhcp_msg *m, const struct sockaddr_in *from)
{
    char a[INET_ADDRSTRLEN], hex[600], q[1100];
    const uint8_t *sub;
    uint8_t sublen;
    printf("reply=%s from=%s:%u xid=0x%08x", dhcp_msg_type_name(m->msg_type),
           inet_ntop(AF_INET, &from->sin_addr, a, sizeof a), ntohs(from->sin_port), m->xid);
    printf(" yiaddr=%s", inet_ntop(AF_INET, &m->yiaddr, a, sizeof a));
    printf(" ciaddr=%s", inet_ntop(AF_INET, &m->ciaddr, a, sizeof a));
    printf(" giaddr=%s hops=%u flags=0x%04x", inet_ntop(AF_INET, &m->giaddr, a, sizeof a), m->hops, m->flags);
    printf(" server_id=%s", dhcp_has(m, DHO_SERVER_ID) ? inet_ntop(AF_INET, &m->server_id, a, sizeof a) : "-");
    if (dhcp_has(m, DHO_LEASE_TIME))
        printf(" lease=%u", m->lease_time);
    else
        printf(" lease=-");
    if (dhcp_has(m, DHO_T1))
        printf(" t1=%u", m->t1);
    if (dhcp_has(m, DHO_T2))
        printf(" t2=%u", m->t2);
    printf(" subnet_mask=%s", dhcp_has(m, DHO_SUBNET_MASK) ? inet_ntop(AF_INET, &m->subnet_mask, a, sizeof a) : "-");
    print_addrs("routers", m->routers, dhcp_has(m, DHO_ROUTERS) ? m->n_routers : 0);
    print_addrs("dns", m->dns, dhcp_has(m, DHO_DNS) ? m->n_dns : 0);
    printf(" vendor_class=%s",
           dhcp_has(m, DHO_VENDOR_CLASS) ? log_quote(q, sizeof q, m->vendor_class, m->vendor_class_len) : "-");
    if (dhcp_has(m, DHO_VENDOR_OPTS)) {
        printf(" option43=%s option43_len=%u", log_hex(hex, sizeof hex, m->vendor_opts, m->vendor_opts_len),
               m->vendor_opts_len);
        int r = dhcp_vendor_find(m->vendor_opts, m->vendor_opts_len, DHCP_SUBOPT_PROXY, &sub, &sublen);
        printf(" proxy=%s", r == 0 ? log_quote(q, sizeof q, sub, sublen) : r == -1 ? "-" : "malformed");
    } else {
        printf(" option43=- proxy=-");
    }
    if (dhcp_has(m, DHO_MESSAGE))
        printf(" message=%s", log_quote(q, sizeof q, m->message, strlen(m->message)));
    printf("\n");
    fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for a reply to our xid of one of the `want` types (or a NAK). 0 got, 1 NAK, 2 timeout, 3 error. */
static int wait_reply(const struct probe *p, uint8_t want, struct dhcp_msg *out)
{
    double deadline = now_s() + p->timeout;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return EXIT_ERR;
        if (r == 0)
            break;
        uint8_t buf[DHCP_MAX_LEN];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(p->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return EXIT_ERR;
        r = dhcp_parse(buf, (size_t)n, out);
        if (r < 0) {
            if (!p->quiet)
                fprintf(stderr, "dhcp-probe: ignored %zd bytes: %s\n", n, dhcp_strerror(r));
            continue;
        }
        if (out->op != BOOTREPLY || out->xid != p->xid || memcmp(out->chaddr, p->mac, 6) != 0)
            continue;
        print_reply(out, &from);
        if (out->msg_type == DHCPNAK)
            return EXIT_NAK;
        if (out->msg_type == want)
            return EXIT_GOT;
    }
    if (!p->quiet)
        fprintf(stderr, "dhcp-probe: no %s within %.1f s\n", dhcp_msg_type_name(want), p->timeout);
    printf("reply=none xid=0x%08x waited_for=%s\n", p->xid, dhcp_msg_type_name(want));
    return EXIT_TIMEOUT;
}

static int run(struct probe *p)
{
    struct dhcp_msg m, r;
    int rc;
    switch (p->type) {
    case P_DISCOVER:
    case P_DORA:
        base_msg(p, &m, DHCPDISCOVER);
        if (p->have_requested)
            dhcp_set_addr(&m, DHO_REQUESTED_IP, p->requested);
        if (send_msg(p, &m) < 0)
            return EXIT_ERR;
        rc = wait_reply(p, DHCPOFFER, &r);
        if (rc != EXIT_GOT || p->type == P_DISCOVER)
            return rc;
        base_msg(p, &m, DHCPREQUEST);
        dhcp_set_addr(&m, DHO_REQUESTED_IP, r.yiaddr);
        dhcp_set_addr(&m, DHO_SERVER_ID, r.server_id);
        if (send_msg(p, &m) < 0)
            return EXIT_ERR;
        return wait_reply(p, DHCPACK, &r);
    case P_REQUEST:
        base_msg(p, &m, DHCPREQUEST);
        dhcp_set_addr(&m, DHO_REQUESTED_IP, p->requested);
        if (p->have_server_id)
            dhcp_set_addr(&m, DHO_SERVER_ID, p->server_id);
        if (send_msg(p, &m) < 0)
            return EXIT_ERR;
        return wait_reply(p, DHCPACK, &r);
    case P_RENEW:
    case P_INFORM:
        base_msg(p, &m, p->type == P_RENEW ? DHCPREQUEST : DHCPINFORM);
        m.ciaddr = p->ciaddr;
        if (send_msg(p, &m) < 0)
            return EXIT_ERR;
        return wait_reply(p, DHCPACK, &r);
    case P_RELEASE:
    case P_DECLINE:
        base_msg(p, &m, p->type == P_RELEASE ? DHCPRELEASE : DHCPDECLINE);
        if (p->type == P_RELEASE)
            m.ciaddr = p->ciaddr;
        else
            dhcp_set_addr(&m, DHO_REQUESTED_IP, p->requested);
        if (p->have_server_id)
            dhcp_set_addr(&m, DHO_SERVER_ID, p->server_id);
        return send_msg(p, &m) < 0 ? EXIT_ERR : EXIT_GOT;
    }
    return EXIT_ERR;
}

int main(int argc, char **argv)
{
    enum { O_NO43 = 256, O_NOVC, O_HOPS };
    static const struct option opts[] = {
        {"iface", required_argument, NULL, 'i'},     {"relay", required_argument, NULL, 'r'},
        {"server", required_argument, NULL, 's'},    {"type", required_argument, NULL, 'T'},
        {"mac", required_argument, NULL, 'm'},       {"vendor-class", required_argument, NULL, 'V'},
        {"no-vendor-class", no_argument, NULL, O_NOVC}, {"client-id", required_argument, NULL, 'C'},
        {"no-43", no_argument, NULL, O_NO43},        {"requested", required_argument, NULL, 'R'},
        {"server-id", required_argument, NULL, 'S'}, {"ciaddr", required_argument, NULL, 'c'},
        {"hops", required_argument, NULL, O_HOPS},   {"xid", required_argument, NULL, 'x'},
        {"timeout", required_argument, NULL, 't'},   {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    static const char *const type_names[] = {"discover", "dora", "request", "renew", "inform", "release", "decline"};
    struct probe p = {.hops = 1, .timeout = 3.0, .type = P_DISCOVER, .client_id_default = true, .fd = -1};
    bool have_mac = false, have_xid = false, have_ciaddr = false;
    char *end;
    int c;

    snprintf(p.vendor_class, sizeof p.vendor_class, "%s", DHCP_VENDOR_CLASS_SSR);
    while ((c = getopt_long(argc, argv, "i:r:s:T:m:V:C:R:S:c:x:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'i': p.iface = optarg; break;
        case 'r':
            if (parse_ip_arg(optarg, &p.relay, "--relay") < 0)
                return EXIT_USAGE;
            p.relay_mode = true;
            break;
        case 's':
            if (parse_ip_arg(optarg, &p.server, "--server") < 0)
                return EXIT_USAGE;
            p.have_server = true;
            break;
        case 'T': {
            size_t i;
            for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
                if (strcmp(optarg, type_names[i]) == 0)
                    break;
            if (i == sizeof type_names / sizeof type_names[0]) {
                fprintf(stderr, "dhcp-probe: --type: unknown \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            p.type = (enum probe_type)i;
            break;
        }
        case 'm':
            if (parse_mac(optarg, p.mac) < 0) {
                fprintf(stderr, "dhcp-probe: --mac: \"%s\" is not aa:bb:cc:dd:ee:ff\n", optarg);
                return EXIT_USAGE;
            }
            have_mac = true;
            break;
        case 'V':
            snprintf(p.vendor_class, sizeof p.vendor_class, "%s", optarg);
            if (!*optarg || strlen(optarg) > 255) {
                fprintf(stderr, "dhcp-probe: --vendor-class: 1..255 bytes\n");
                return EXIT_USAGE;
            }
            break;
        case O_NOVC: p.no_vendor_class = true; break;
        case 'C':
            p.client_id_default = false;
            if (strcmp(optarg, "none") != 0 && (hex_decode(optarg, p.client_id, sizeof p.client_id, &p.client_id_len) < 0 || p.client_id_len == 0)) {
                fprintf(stderr, "dhcp-probe: --client-id: \"%s\" is not hex bytes\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_NO43: p.no43 = true; break;
        case 'R':
            if (parse_ip_arg(optarg, &p.requested, "--requested") < 0)
                return EXIT_USAGE;
            p.have_requested = true;
            break;
        case 'S':
            if (parse_ip_arg(optarg, &p.server_id, "--server-id") < 0)
                return EXIT_USAGE;
            p.have_server_id = true;
            break;
        case 'c':
            if (parse_ip_arg(optarg, &p.ciaddr, "--ciaddr") < 0)
                return EXIT_USAGE;
            have_ciaddr = true;
            break;
        case O_HOPS: {
            unsigned long h = strtoul(optarg, &end, 10);
            if (*end || h > 255) {
                fprintf(stderr, "dhcp-probe: --hops: 0..255\n");
                return EXIT_USAGE;
            }
            p.hops = (uint8_t)h;
            break;
        }
        case 'x':
            p.xid = (uint32_t)strtoul(optarg, &end, 16);
            if (*end || !*optarg) {
                fprintf(stderr, "dhcp-probe: --xid: hex\n");
                return EXIT_USAGE;
            }
            have_xid = true;
            break;
        case 't':
            p.timeout = strtod(optarg, &end);
            if (*end || p.timeout <= 0 || p.timeout > 3600) {
                fprintf(stderr, "dhcp-probe: --timeout: seconds, 0 < t <= 3600\n");
                return EXIT_USAGE;
            }
            break;
        case 'q': p.quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc || (!p.iface) == (!p.relay_mode)) {
        fprintf(stderr, "dhcp-probe: give exactly one of --iface or --relay\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (p.relay_mode && !p.have_server) {
        fprintf(stderr, "dhcp-probe: --relay needs --server (the DHCP server's address)\n");
        return EXIT_USAGE;
    }
    if ((p.type == P_RENEW || p.type == P_INFORM || p.type == P_RELEASE) && !have_ciaddr) {
        fprintf(stderr, "dhcp-probe: --type %s needs --ciaddr\n", type_names[p.type]);
        return EXIT_USAGE;
    }
    if ((p.type == P_REQUEST || p.type == P_DECLINE) && !p.have_requested) {
        fprintf(stderr, "dhcp-probe: --type %s needs --requested\n", type_names[p.type]);
        return EXIT_USAGE;
    }
    if (!have_mac) {
        static const uint8_t def[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
        if (p.iface && iface_mac(p.iface, p.mac) == 0)
            ;
        else
            memcpy(p.mac, def, 6);
    }
    if (p.client_id_default) {
        p.client_id[0] = 1;
        memcpy(p.client_id + 1, p.mac, 6);
        p.client_id_len = 7;
    }
    if (!have_xid && getrandom(&p.xid, sizeof p.xid, 0) != (ssize_t)sizeof p.xid)
        p.xid = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    if (open_socket(&p) < 0) {
        fprintf(stderr, "dhcp-probe: socket: %s\n", strerror(errno));
        return EXIT_ERR;
    }
    int rc = run(&p);
    close(p.fd);
    return rc;
}
