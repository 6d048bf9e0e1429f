/* The DHCPv4 codec: exact bytes of the router's DISCOVER and of an OFFER carrying the proxy,
 * round trips, what real servers send (dnsmasq, Kea), malformed input, the bounded builder,
 * the strict proxy address parser and the AF_PACKET framing. */
#include "cunit_main.h"

#include "ztp/dhcp.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MAC[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05};

static struct in_addr A(const char *s)
{
    struct in_addr a;
    CU_ASSERT_FATAL(inet_pton(AF_INET, s, &a) == 1);
    return a;
}

/* The fixed BOOTP header every expected message starts with. */
static void expect_header(uint8_t *e, uint8_t op, uint32_t xid, const char *yiaddr)
{
    memset(e, 0, DHCP_MIN_LEN);
    e[0] = op;
    e[1] = 1;
    e[2] = 6;
    e[4] = (uint8_t)(xid >> 24); e[5] = (uint8_t)(xid >> 16); e[6] = (uint8_t)(xid >> 8); e[7] = (uint8_t)xid;
    if (yiaddr) {
        struct in_addr y = A(yiaddr);
        memcpy(e + 16, &y.s_addr, 4);
    }
    memcpy(e + 28, MAC, 6);
    e[236] = 0x63; e[237] = 0x82; e[238] = 0x53; e[239] = 0x63;
}

static void build_router_discover(struct dhcp_msg *m)
{
    static const uint8_t prl[] = {1, 3, 6, 43};
    uint8_t cid[7] = {1};
    memcpy(cid + 1, MAC, 6);
    dhcp_msg_init(m, BOOTREQUEST, DHCPDISCOVER, 0xe5dadd09, MAC);
    CU_ASSERT(dhcp_set_bytes(m, DHO_CLIENT_ID, cid, sizeof cid) == 0);
    CU_ASSERT(dhcp_set_bytes(m, DHO_PARAM_REQ, prl, sizeof prl) == 0);
    CU_ASSERT(dhcp_set_bytes(m, DHO_VENDOR_CLASS, "JuniperSSR", 10) == 0);
}

static void test_discover_exact_bytes(void)
{
    struct dhcp_msg m;
    uint8_t buf[DHCP_MAX_LEN], exp[278];
    build_router_discover(&m);
    ssize_t n = dhcp_build(&m, buf, sizeof buf, 278);
    ZTP_ASSERT_EQ_INT(n, 278); /* the doc's trace: UDP payload length 278 (IP length 306) */

    expect_header(exp, BOOTREQUEST, 0xe5dadd09, NULL);
    static const uint8_t opts[] = {
        53, 1, 1,                                     /* DHCP-Message: Discover */
        61, 7, 1, 0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05, /* Client-ID: ether fa:16:3e:14:db:05 */
        55, 4, 1, 3, 6, 43,                           /* Subnet-Mask, Default-Gateway, DNS, Vendor-Option */
        60, 10, 'J', 'u', 'n', 'i', 'p', 'e', 'r', 'S', 'S', 'R',
        255,
    };
    memset(exp + DHCP_MIN_LEN, 0, sizeof exp - DHCP_MIN_LEN);
    memcpy(exp + DHCP_MIN_LEN, opts, sizeof opts);
    CU_ASSERT(memcmp(buf, exp, sizeof exp) == 0);
}

static void build_offer(struct dhcp_msg *m, const char *proxy)
{
    uint8_t v[64];
    dhcp_msg_init(m, BOOTREPLY, DHCPOFFER, 0xe5dadd09, MAC);
    m->yiaddr = A("10.73.3.50");
    dhcp_set_addr(m, DHO_SERVER_ID, A("10.73.3.1"));
    dhcp_set_u32(m, DHO_LEASE_TIME, 6000);
    dhcp_set_addr(m, DHO_SUBNET_MASK, A("255.255.255.0"));
    CU_ASSERT(dhcp_add_addr(m, DHO_ROUTERS, A("10.73.3.1")) == 0);
    CU_ASSERT(dhcp_add_addr(m, DHO_DNS, A("8.8.8.8")) == 0);
    CU_ASSERT(dhcp_add_addr(m, DHO_DNS, A("8.8.4.4")) == 0);
    ssize_t vl = dhcp_vendor_build_proxy(v, sizeof v, proxy);
    CU_ASSERT_FATAL(vl > 0);
    CU_ASSERT(dhcp_set_bytes(m, DHO_VENDOR_OPTS, v, (size_t)vl) == 0);
}

static void test_offer_exact_bytes(void)
{
    struct dhcp_msg m;
    uint8_t buf[DHCP_MAX_LEN], exp[300];
    build_offer(&m, "10.92.53.8:3128");
    ssize_t n = dhcp_build(&m, buf, sizeof buf, DHCP_BOOTP_MIN_LEN);
    ZTP_ASSERT_EQ_INT(n, 300);

    expect_header(exp, BOOTREPLY, 0xe5dadd09, "10.73.3.50");
    static const uint8_t opts[] = {
        53, 1, 2,                       /* Offer */
        54, 4, 10, 73, 3, 1,            /* Server-ID */
        51, 4, 0, 0, 0x17, 0x70,        /* Lease-Time 6000 */
        1, 4, 255, 255, 255, 0,         /* Subnet-Mask */
        3, 4, 10, 73, 3, 1,             /* Default-Gateway */
        6, 8, 8, 8, 8, 8, 8, 8, 4, 4,   /* Domain-Name-Server */
        43, 17, 0x80, 15, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8',
        255,
    };
    memset(exp + DHCP_MIN_LEN, 0, sizeof exp - DHCP_MIN_LEN);
    memcpy(exp + DHCP_MIN_LEN, opts, sizeof opts);
    CU_ASSERT(memcmp(buf, exp, sizeof exp) == 0);

    /* And it parses back to the same proxy. */
    struct dhcp_msg p;
    const uint8_t *d;
    uint8_t dl;
    ZTP_ASSERT_EQ_INT(dhcp_parse(buf, (size_t)n, &p), 0);
    ZTP_ASSERT_EQ_INT(p.vendor_opts_len, 17);
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(p.vendor_opts, p.vendor_opts_len, DHCP_SUBOPT_PROXY, &d, &dl), 0);
    ZTP_ASSERT_EQ_INT(dl, 15);
    CU_ASSERT(memcmp(d, "10.92.53.8:3128", 15) == 0);
}

static void test_round_trip(void)
{
    struct dhcp_msg m, p;
    uint8_t buf[DHCP_MAX_LEN];
    build_offer(&m, "198.18.0.10:3128");
    dhcp_set_u32(&m, DHO_T1, 3000);
    dhcp_set_u32(&m, DHO_T2, 5250);
    CU_ASSERT(dhcp_set_bytes(&m, DHO_HOSTNAME, "r1-node-a", 9) == 0);
    CU_ASSERT(dhcp_set_bytes(&m, DHO_VENDOR_CLASS, "JuniperSSR", 10) == 0);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, A("198.18.1.5"));
    m.giaddr = A("198.18.9.1");
    m.hops = 1;
    m.flags = DHCP_FLAG_BROADCAST;
    m.secs = 7;
    ssize_t n = dhcp_build(&m, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(n > 0);
    ZTP_ASSERT_EQ_INT(dhcp_parse(buf, (size_t)n, &p), 0);
    ZTP_ASSERT_EQ_INT(p.msg_type, DHCPOFFER);
    ZTP_ASSERT_EQ_INT(p.xid, 0xe5dadd09);
    ZTP_ASSERT_EQ_INT(p.flags, DHCP_FLAG_BROADCAST);
    ZTP_ASSERT_EQ_INT(p.secs, 7);
    ZTP_ASSERT_EQ_INT(p.hops, 1);
    ZTP_ASSERT_EQ_INT(p.giaddr.s_addr, A("198.18.9.1").s_addr);
    ZTP_ASSERT_EQ_INT(p.yiaddr.s_addr, A("10.73.3.50").s_addr);
    ZTP_ASSERT_EQ_INT(p.lease_time, 6000);
    ZTP_ASSERT_EQ_INT(p.t1, 3000);
    ZTP_ASSERT_EQ_INT(p.t2, 5250);
    ZTP_ASSERT_EQ_INT(p.n_dns, 2);
    ZTP_ASSERT_EQ_INT(p.dns[1].s_addr, A("8.8.4.4").s_addr);
    ZTP_ASSERT_EQ_INT(p.n_routers, 1);
    ZTP_ASSERT_EQ_INT(p.subnet_mask.s_addr, A("255.255.255.0").s_addr);
    ZTP_ASSERT_EQ_INT(p.server_id.s_addr, A("10.73.3.1").s_addr);
    ZTP_ASSERT_EQ_INT(p.requested_ip.s_addr, A("198.18.1.5").s_addr);
    ZTP_ASSERT_EQ_STR(p.hostname, "r1-node-a");
    ZTP_ASSERT_EQ_INT(p.vendor_class_len, 10);
    CU_ASSERT(memcmp(p.chaddr, MAC, 6) == 0);
    CU_ASSERT(p.have == m.have);
}

/* dnsmasq ends the encapsulation with END (18 bytes) and echoes Option 60; Kea sends 17 bytes. */
static void test_real_server_variants(void)
{
    struct dhcp_msg m, p;
    uint8_t buf[DHCP_MAX_LEN], v[18];
    const uint8_t *d;
    uint8_t dl;
    build_offer(&m, "10.92.53.8:3128");
    ZTP_ASSERT_EQ_INT(dhcp_vendor_build_proxy_ex(v, sizeof v, "10.92.53.8:3128", true), 18);
    CU_ASSERT(memcmp(v, m.vendor_opts, 17) == 0);
    ZTP_ASSERT_EQ_INT(v[17], 255);
    ZTP_ASSERT_EQ_INT(dhcp_vendor_build_proxy_ex(v, 17, "10.92.53.8:3128", true), -DHCP_E_NOBUFS);
    CU_ASSERT(dhcp_set_bytes(&m, DHO_VENDOR_OPTS, v, 18) == 0);
    CU_ASSERT(dhcp_set_bytes(&m, DHO_VENDOR_CLASS, "JuniperSSR", 10) == 0);
    ssize_t n = dhcp_build(&m, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(n > 0);
    ZTP_ASSERT_EQ_INT(dhcp_parse(buf, (size_t)n, &p), 0);
    ZTP_ASSERT_EQ_INT(p.vendor_opts_len, 18);
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(p.vendor_opts, p.vendor_opts_len, DHCP_SUBOPT_PROXY, &d, &dl), 0);
    ZTP_ASSERT_EQ_INT(dl, 15);
    CU_ASSERT(memcmp(d, "10.92.53.8:3128", 15) == 0);
    CU_ASSERT(dhcp_has(&p, DHO_VENDOR_CLASS));

    /* Padding and other sub-options before ours; a missing sub-option; one that runs past the end. */
    static const uint8_t mixed[] = {0, 0, 1, 2, 'h', 'i', 0x80, 3, '1', ':', '2', 0xff, 0x80};
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(mixed, sizeof mixed, 0x80, &d, &dl), 0);
    ZTP_ASSERT_EQ_INT(dl, 3);
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(mixed, sizeof mixed, 0x81, &d, &dl), -1);
    static const uint8_t overrun[] = {0x80, 20, '1', '2'};
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(overrun, sizeof overrun, 0x80, &d, &dl), -DHCP_E_OPTLEN);
    static const uint8_t nolen[] = {0x01};
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(nolen, sizeof nolen, 0x80, &d, &dl), -DHCP_E_OPTLEN);
}

static void test_malformed(void)
{
    struct dhcp_msg m, p;
    uint8_t buf[DHCP_MAX_LEN];
    build_router_discover(&m);
    ssize_t n = dhcp_build(&m, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(n > DHCP_MIN_LEN);

    ZTP_ASSERT_EQ_INT(dhcp_parse(buf, DHCP_MIN_LEN - 1, &p), -DHCP_E_SHORT);
    ZTP_ASSERT_EQ_INT(dhcp_parse(NULL, 0, &p), -DHCP_E_SHORT);

    /* Every truncation is either a clean error or accepted, never a read past the end: each
     * prefix is copied to an exact-size heap buffer so ASan sees any overrun. */
    for (size_t len = 0; len <= (size_t)n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        int r = dhcp_parse(copy, len, &p);
        CU_ASSERT(r == 0 || r == -DHCP_E_SHORT || r == -DHCP_E_OPTLEN);
        free(copy);
    }
    /* Cut inside option 61 (its length byte says 7, 3 bytes left). */
    ZTP_ASSERT_EQ_INT(dhcp_parse(buf, DHCP_MIN_LEN + 3 + 5, &p), -DHCP_E_OPTLEN);

    uint8_t bad[DHCP_MAX_LEN];
    memcpy(bad, buf, (size_t)n);
    bad[236] = 0x64;
    ZTP_ASSERT_EQ_INT(dhcp_parse(bad, (size_t)n, &p), -DHCP_E_MAGIC);
    memcpy(bad, buf, (size_t)n);
    bad[0] = 3;
    ZTP_ASSERT_EQ_INT(dhcp_parse(bad, (size_t)n, &p), -DHCP_E_OP);
    memcpy(bad, buf, (size_t)n);
    bad[2] = 17;
    ZTP_ASSERT_EQ_INT(dhcp_parse(bad, (size_t)n, &p), -DHCP_E_HLEN);
    memcpy(bad, buf, (size_t)n);
    bad[DHCP_MIN_LEN + 2] = 9; /* message type 9 */
    ZTP_ASSERT_EQ_INT(dhcp_parse(bad, (size_t)n, &p), -DHCP_E_BADOPT);
    memcpy(bad, buf, (size_t)n);
    bad[DHCP_MIN_LEN + 1] = 2; /* option 53 of length 2 */
    ZTP_ASSERT_EQ_INT(dhcp_parse(bad, (size_t)n, &p), -DHCP_E_BADOPT);

    /* A subnet mask of length 3; a router list of 5 bytes. */
    uint8_t o[DHCP_MIN_LEN + 16];
    memcpy(o, buf, DHCP_MIN_LEN);
    static const uint8_t mask3[] = {1, 3, 255, 255, 255, 255};
    memcpy(o + DHCP_MIN_LEN, mask3, sizeof mask3);
    ZTP_ASSERT_EQ_INT(dhcp_parse(o, DHCP_MIN_LEN + sizeof mask3, &p), -DHCP_E_BADOPT);
    static const uint8_t routers5[] = {3, 5, 1, 2, 3, 4, 5, 255};
    memcpy(o + DHCP_MIN_LEN, routers5, sizeof routers5);
    ZTP_ASSERT_EQ_INT(dhcp_parse(o, DHCP_MIN_LEN + sizeof routers5, &p), -DHCP_E_BADOPT);

    /* Unknown options are skipped; data after END ignored; a missing END accepted. */
    static const uint8_t unknown[] = {53, 1, 2, 200, 3, 9, 9, 9, 255, 77, 77};
    memcpy(o + DHCP_MIN_LEN, unknown, sizeof unknown);
    ZTP_ASSERT_EQ_INT(dhcp_parse(o, DHCP_MIN_LEN + sizeof unknown, &p), 0);
    ZTP_ASSERT_EQ_INT(p.msg_type, DHCPOFFER);
    ZTP_ASSERT_EQ_INT(dhcp_parse(o, DHCP_MIN_LEN + 8, &p), 0);
}

/* RFC 3396: a repeated option is concatenated. */
static void test_concatenation(void)
{
    uint8_t o[DHCP_MIN_LEN + 32] = {0};
    struct dhcp_msg p;
    o[0] = BOOTREPLY;
    o[1] = 1;
    o[2] = 6;
    o[236] = 0x63; o[237] = 0x82; o[238] = 0x53; o[239] = 0x63;
    static const uint8_t split[] = {53, 1, 5, 43, 5, 0x80, 15, '1', '0', '.', 43, 12, '9', '2', '.', '5', '3', '.', '8',
                                    ':', '3', '1', '2', '8', 255};
    memcpy(o + DHCP_MIN_LEN, split, sizeof split);
    ZTP_ASSERT_EQ_INT(dhcp_parse(o, DHCP_MIN_LEN + sizeof split, &p), 0);
    ZTP_ASSERT_EQ_INT(p.vendor_opts_len, 17);
    CU_ASSERT(memcmp(p.vendor_opts + 2, "10.92.53.8:3128", 15) == 0);
}

static void test_builder_bounds(void)
{
    struct dhcp_msg m;
    uint8_t buf[DHCP_MAX_LEN];
    build_offer(&m, "10.92.53.8:3128");
    ssize_t full = dhcp_build(&m, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(full > 0);
    for (size_t cap = 0; cap < (size_t)full; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        ZTP_ASSERT_EQ_INT(dhcp_build(&m, small, cap, 0), -DHCP_E_NOBUFS);
        free(small);
    }
    ZTP_ASSERT_EQ_INT(dhcp_build(&m, buf, (size_t)full, 0), full);
    ZTP_ASSERT_EQ_INT(dhcp_build(&m, buf, (size_t)full, (size_t)full + 1), -DHCP_E_NOBUFS);
    uint8_t big[300];
    CU_ASSERT(dhcp_set_bytes(&m, DHO_VENDOR_OPTS, big, 256) == -DHCP_E_INVAL);
    CU_ASSERT(dhcp_set_bytes(&m, DHO_HOSTNAME, "a\0b", 3) == -DHCP_E_INVAL);
    m.hlen = 17;
    ZTP_ASSERT_EQ_INT(dhcp_build(&m, buf, sizeof buf, 0), -DHCP_E_INVAL);
    for (int i = 0; i < DHCP_MAX_ADDRS; i++)
        dhcp_add_addr(&m, DHO_DNS, A("1.1.1.1"));
    ZTP_ASSERT_EQ_INT(dhcp_add_addr(&m, DHO_DNS, A("1.1.1.1")), -DHCP_E_NOBUFS);
    ZTP_ASSERT_EQ_STR(dhcp_strerror(-DHCP_E_OPTLEN), "option length runs past the end of the message");
    ZTP_ASSERT_EQ_STR(dhcp_msg_type_name(DHCPACK), "ACK");
}

static void test_proxy_addr(void)
{
    struct {
        const char *s;
        int ok;
        const char *addr;
        unsigned port;
    } cases[] = {
        {"10.92.53.8:3128", 1, "10.92.53.8", 3128},
        {"192.168.10.10:8080", 1, "192.168.10.10", 8080},
        {"198.18.0.1:1", 1, "198.18.0.1", 1},
        {"198.18.0.1:65535", 1, "198.18.0.1", 65535},
        {"198.18.0.1:0", 0, NULL, 0},
        {"198.18.0.1:65536", 0, NULL, 0},
        {"198.18.0.1:999999", 0, NULL, 0},
        {"proxy.example.com:3128", 0, NULL, 0},
        {"10.92.53.8", 0, NULL, 0},
        {"10.92.53.8:", 0, NULL, 0},
        {":3128", 0, NULL, 0},
        {"1.2.3:80", 0, NULL, 0},
        {"1.2.3.4.5:80", 0, NULL, 0},
        {"256.1.1.1:80", 0, NULL, 0},
        {"01.2.3.4:80", 0, NULL, 0},
        {"1.2.3.4:80 ", 0, NULL, 0},
        {" 1.2.3.4:80", 0, NULL, 0},
        {"1.2.3.4:+80", 0, NULL, 0},
        {"1.2.3.4:80x", 0, NULL, 0},
        {"0.0.0.0:80", 0, NULL, 0},
        {"", 0, NULL, 0},
        {"garbage", 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct in_addr a = {0};
        uint16_t port = 0;
        const char *why = NULL;
        int r = proxy_addr_parse(cases[i].s, strlen(cases[i].s), &a, &port, &why);
        if ((r == 0) != cases[i].ok)
            fprintf(stderr, "\n  proxy_addr_parse(\"%s\") = %d (%s)\n", cases[i].s, r, why ? why : "");
        CU_ASSERT((r == 0) == cases[i].ok);
        if (cases[i].ok && r == 0) {
            ZTP_ASSERT_EQ_INT(a.s_addr, A(cases[i].addr).s_addr);
            ZTP_ASSERT_EQ_INT(port, cases[i].port);
        } else {
            CU_ASSERT(why != NULL);
        }
    }
    /* Not NUL-terminated: only len bytes are looked at. */
    struct in_addr a;
    uint16_t port;
    CU_ASSERT(proxy_addr_parse("10.0.0.1:80999", 11, &a, &port, NULL) == 0);
    ZTP_ASSERT_EQ_INT(port, 80);
}

static void test_frame(void)
{
    struct dhcp_msg m;
    uint8_t dhcp[DHCP_MAX_LEN], frame[DHCP_MAX_LEN + 64];
    build_router_discover(&m);
    ssize_t n = dhcp_build(&m, dhcp, sizeof dhcp, 278);
    struct udp4_frame f = {.src = {0}, .sport = DHCP_CLIENT_PORT, .dport = DHCP_SERVER_PORT, .ttl = 128};
    memcpy(f.src_mac, MAC, 6);
    memset(f.dst_mac, 0xff, 6);
    f.dst.s_addr = INADDR_BROADCAST;
    ssize_t fl = udp4_frame_build(frame, sizeof frame, &f, dhcp, (size_t)n);
    ZTP_ASSERT_EQ_INT(fl, 14 + 306);
    ZTP_ASSERT_EQ_INT(frame[14 + 2] << 8 | frame[14 + 3], 306); /* IP total length as in the trace */
    ZTP_ASSERT_EQ_INT(frame[14 + 8], 128);

    struct udp4_frame g;
    ZTP_ASSERT_EQ_INT(udp4_frame_parse(frame, (size_t)fl, 0, &g), 0);
    ZTP_ASSERT_EQ_INT(g.sport, 68);
    ZTP_ASSERT_EQ_INT(g.dport, 67);
    ZTP_ASSERT_EQ_INT(g.payload_len, 278);
    CU_ASSERT(memcmp(g.payload, dhcp, 278) == 0);
    CU_ASSERT(memcmp(g.src_mac, MAC, 6) == 0);

    frame[14 + 40] ^= 1; /* corrupt the payload: UDP checksum fails */
    ZTP_ASSERT_EQ_INT(udp4_frame_parse(frame, (size_t)fl, 0, &g), -DHCP_E_CSUM);
    ZTP_ASSERT_EQ_INT(udp4_frame_parse(frame, (size_t)fl, UDP4_NO_UDP_CSUM, &g), 0);
    frame[14 + 40] ^= 1;
    frame[14 + 12] ^= 1; /* corrupt the source address: IP checksum fails */
    ZTP_ASSERT_EQ_INT(udp4_frame_parse(frame, (size_t)fl, UDP4_NO_UDP_CSUM, &g), -DHCP_E_CSUM);
    frame[14 + 12] ^= 1;
    for (size_t len = 0; len < 14 + 28; len++)
        CU_ASSERT(udp4_frame_parse(frame, len, 0, &g) < 0);
    frame[12] = 0x86; /* IPv6 ethertype: not ours, not an error */
    ZTP_ASSERT_EQ_INT(udp4_frame_parse(frame, (size_t)fl, 0, &g), UDP4_NOT_UDP);
    ZTP_ASSERT_EQ_INT(udp4_frame_build(frame, 100, &f, dhcp, (size_t)n), -DHCP_E_NOBUFS);
}

int main(void)
{
    static const struct ztp_test codec[] = {
        {"DISCOVER exact bytes (doc trace)", test_discover_exact_bytes},
        {"OFFER with 10.92.53.8:3128 exact bytes", test_offer_exact_bytes},
        {"round trip of every named option", test_round_trip},
        {"dnsmasq END byte and Kea 17 bytes", test_real_server_variants},
        {"malformed input", test_malformed},
        {"RFC 3396 concatenation", test_concatenation},
        {"bounded builder", test_builder_bounds},
        {"proxy address:port parser", test_proxy_addr},
        {"Ethernet/IPv4/UDP framing", test_frame},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"dhcp codec", codec}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
