/* The router's DHCP client engine (router/dhcpc.c) driven with canned OFFER/ACK/NAK messages and a
 * fake clock: the exact DISCOVER of the product's trace, OFFER -> REQUEST with 50/54, ACK -> bound
 * with the Option 43 bytes, T1 unicast renewal, T2 broadcast rebinding, expiry, NAK, the
 * retransmission timing and what is ignored. Every reply goes through dhcp_build()/dhcp_parse()
 * as it would on the wire. The last suite runs the I/O layer for real (AF_PACKET, BPF filter,
 * netlink) against a small server on a veth pair inside a private network namespace of this test
 * process (skipped without root). */
#include "cunit_main.h"

#include "dhcpc.h"
#include "dhcpc_io.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXSENT 64

static const uint8_t MAC[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05};
static const uint8_t OPT43_KEA[17] = {0x80, 15, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8'};
static const uint8_t OPT43_DNSMASQ[18] = {0x80, 15, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8', 0xff};

struct fake {
    struct dhcpc c;
    struct dhcp_msg sent[MAXSENT];
    bool bcast[MAXSENT];
    struct in_addr dst[MAXSENT];
    uint64_t sent_at[MAXSENT];
    int n_sent;
    int send_rc;
    int n_bound;
    struct dhcpc_lease lease;       /* last bound() */
    bool prev_was_null;
    struct dhcpc_lease prev;
    int n_unbound;
    struct dhcpc_lease unbound_lease;
    enum dhcpc_unbound_reason why;
    bool rnd_fixed;
    uint32_t rnd_value, rnd_state;
    uint64_t now;
};

static struct fake F;

static struct in_addr A(const char *s)
{
    struct in_addr a;
    CU_ASSERT_FATAL(inet_pton(AF_INET, s, &a) == 1);
    return a;
}

static int fk_send(struct dhcpc *c, const struct dhcp_msg *m, bool broadcast, struct in_addr dst, void *arg)
{
    struct fake *f = arg;
    CU_ASSERT_PTR_EQUAL(c, &f->c);
    CU_ASSERT_FATAL(f->n_sent < MAXSENT);
    f->sent[f->n_sent] = *m;
    f->bcast[f->n_sent] = broadcast;
    f->dst[f->n_sent] = dst;
    f->sent_at[f->n_sent] = f->now;
    f->n_sent++;
    return f->send_rc;
}

static void fk_bound(struct dhcpc *c, const struct dhcpc_lease *l, const struct dhcpc_lease *prev, void *arg)
{
    struct fake *f = arg;
    f->n_bound++;
    f->lease = *l;
    f->prev_was_null = prev == NULL;
    if (prev)
        f->prev = *prev;
    /* the engine is BOUND and holds this lease when it reports it */
    CU_ASSERT_EQUAL(dhcpc_get_state(c), DHCPC_BOUND);
    CU_ASSERT_PTR_NOT_NULL(dhcpc_get_lease(c));
}

static void fk_unbound(struct dhcpc *c, const struct dhcpc_lease *l, enum dhcpc_unbound_reason why, void *arg)
{
    struct fake *f = arg;
    f->n_unbound++;
    f->unbound_lease = *l;
    f->why = why;
    CU_ASSERT_PTR_NULL(dhcpc_get_lease(c));
}

static uint32_t fk_random(void *arg)
{
    struct fake *f = arg;
    if (f->rnd_fixed)
        return f->rnd_value;
    f->rnd_state = f->rnd_state * 1103515245u + 12345u;
    return f->rnd_state ^ 0x5a5a0000u;
}

static const struct dhcpc_ops OPS = {.send = fk_send, .bound = fk_bound, .unbound = fk_unbound, .random = fk_random};

static void setup(void)
{
    memset(&F, 0, sizeof F);
    F.rnd_state = 42;
    F.now = 1000000;
    struct dhcpc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.ifname, "wan0");
    memcpy(cfg.mac, MAC, 6);
    dhcpc_init(&F.c, &cfg, &OPS, &F);
}

static void at(uint64_t t)
{
    F.now = t;
    dhcpc_timeout(&F.c, t);
}

static const struct dhcp_msg *last(void)
{
    CU_ASSERT_FATAL(F.n_sent > 0);
    return &F.sent[F.n_sent - 1];
}

/* A server reply, encoded and parsed back as the I/O layer would. */
struct reply {
    enum dhcp_msg_type type;
    uint32_t xid;
    const char *yiaddr, *server;
    uint32_t lease, t1, t2;
    const uint8_t *opt43;
    size_t opt43_len;
    const uint8_t *mac;
    bool no_mask, no_router;
};

static bool feed(const struct reply *r)
{
    struct dhcp_msg m;
    dhcp_msg_init(&m, BOOTREPLY, r->type, r->xid, r->mac ? r->mac : MAC);
    if (r->yiaddr)
        m.yiaddr = A(r->yiaddr);
    if (r->server)
        dhcp_set_addr(&m, DHO_SERVER_ID, A(r->server));
    if (r->lease)
        dhcp_set_u32(&m, DHO_LEASE_TIME, r->lease);
    if (r->t1)
        dhcp_set_u32(&m, DHO_T1, r->t1);
    if (r->t2)
        dhcp_set_u32(&m, DHO_T2, r->t2);
    if (r->type != DHCPNAK) {
        if (!r->no_mask)
            dhcp_set_addr(&m, DHO_SUBNET_MASK, A("255.255.255.0"));
        if (!r->no_router)
            CU_ASSERT_EQUAL(dhcp_add_addr(&m, DHO_ROUTERS, A("198.18.1.1")), 0);
        CU_ASSERT_EQUAL(dhcp_add_addr(&m, DHO_DNS, A("8.8.8.8")), 0);
        CU_ASSERT_EQUAL(dhcp_add_addr(&m, DHO_DNS, A("8.8.4.4")), 0);
    } else {
        CU_ASSERT_EQUAL(dhcp_set_bytes(&m, DHO_MESSAGE, "wrong address", 13), 0);
    }
    if (r->opt43)
        CU_ASSERT_EQUAL(dhcp_set_bytes(&m, DHO_VENDOR_OPTS, r->opt43, r->opt43_len), 0);
    uint8_t buf[DHCP_MAX_LEN];
    ssize_t n = dhcp_build(&m, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(n > 0);
    struct dhcp_msg p;
    CU_ASSERT_FATAL(dhcp_parse(buf, (size_t)n, &p) == 0);
    return dhcpc_input(&F.c, &p, F.now);
}

static bool offer(uint32_t xid)
{
    struct reply r = {.type = DHCPOFFER, .xid = xid, .yiaddr = "198.18.1.150", .server = "198.18.1.1", .lease = 6000,
                      .opt43 = OPT43_KEA, .opt43_len = sizeof OPT43_KEA};
    return feed(&r);
}

static bool ack(uint32_t xid, uint32_t lease, const uint8_t *o43, size_t o43len)
{
    struct reply r = {.type = DHCPACK, .xid = xid, .yiaddr = "198.18.1.150", .server = "198.18.1.1", .lease = lease,
                      .opt43 = o43, .opt43_len = o43len};
    return feed(&r);
}

static bool nak(uint32_t xid)
{
    struct reply r = {.type = DHCPNAK, .xid = xid, .server = "198.18.1.1"};
    return feed(&r);
}

/* start -> DISCOVER -> OFFER -> REQUEST -> ACK(lease) -> BOUND */
static void bind_lease(uint32_t lease)
{
    dhcpc_start(&F.c, F.now);
    CU_ASSERT_TRUE_FATAL(offer(last()->xid));
    CU_ASSERT_TRUE_FATAL(ack(last()->xid, lease, OPT43_KEA, sizeof OPT43_KEA));
    CU_ASSERT_EQUAL_FATAL(dhcpc_get_state(&F.c), DHCPC_BOUND);
}

/* Encoded options of a sent message as (code, len) pairs in order, up to END. */
static int option_codes(const struct dhcp_msg *m, uint8_t *codes, int max, uint8_t *buf, size_t *len)
{
    ssize_t n = dhcp_build(m, buf, DHCP_MAX_LEN, DHCPC_PAD_TO);
    CU_ASSERT_FATAL(n > 0);
    *len = (size_t)n;
    int k = 0;
    for (size_t i = DHCP_MIN_LEN; i < (size_t)n && buf[i] != DHO_END && k < max;) {
        if (buf[i] == DHO_PAD) {
            i++;
            continue;
        }
        codes[k++] = buf[i];
        i += 2u + buf[i + 1];
    }
    return k;
}

static void assert_common_params(const struct dhcp_msg *m)
{
    static const uint8_t prl[] = {1, 3, 6, 43};
    uint8_t cid[7] = {1};
    memcpy(cid + 1, MAC, 6);
    ZTP_ASSERT_EQ_INT(m->client_id_len, 7);
    CU_ASSERT_EQUAL(memcmp(m->client_id, cid, 7), 0);
    ZTP_ASSERT_EQ_INT(m->prl_len, 4);
    CU_ASSERT_EQUAL(memcmp(m->prl, prl, 4), 0);
    ZTP_ASSERT_EQ_INT(m->vendor_class_len, 10);
    CU_ASSERT_EQUAL(memcmp(m->vendor_class, "JuniperSSR", 10), 0);
    ZTP_ASSERT_EQ_INT(m->flags, 0);
    ZTP_ASSERT_EQ_INT(m->op, BOOTREQUEST);
    CU_ASSERT_EQUAL(memcmp(m->chaddr, MAC, 6), 0);
}

/* ---- tests ---- */

static void test_discover_bytes(void)
{
    setup();
    CU_ASSERT_EQUAL(dhcpc_get_state(&F.c), DHCPC_STOPPED);
    CU_ASSERT_EQUAL(dhcpc_next_timeout(&F.c), DHCPC_NEVER);
    dhcpc_start(&F.c, F.now);
    ZTP_ASSERT_EQ_INT(F.n_sent, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "SELECTING");
    CU_ASSERT_TRUE(F.bcast[0]);
    CU_ASSERT_EQUAL(F.dst[0].s_addr, INADDR_BROADCAST);
    const struct dhcp_msg *m = &F.sent[0];
    ZTP_ASSERT_EQ_INT(m->msg_type, DHCPDISCOVER);
    assert_common_params(m);
    CU_ASSERT_EQUAL(m->ciaddr.s_addr, 0);
    ZTP_ASSERT_EQ_INT(m->secs, 0);
    CU_ASSERT_FALSE(dhcp_has(m, DHO_REQUESTED_IP));
    CU_ASSERT_FALSE(dhcp_has(m, DHO_SERVER_ID));

    /* The exact wire bytes: fixed header, cookie, 53, 61, 55, 60, END, zero padding to 278. */
    uint8_t buf[DHCP_MAX_LEN], exp[DHCPC_PAD_TO];
    ssize_t n = dhcp_build(m, buf, sizeof buf, DHCPC_PAD_TO);
    ZTP_ASSERT_EQ_INT(n, 278);
    memset(exp, 0, sizeof exp);
    exp[0] = 1; exp[1] = 1; exp[2] = 6;
    exp[4] = (uint8_t)(m->xid >> 24); exp[5] = (uint8_t)(m->xid >> 16); exp[6] = (uint8_t)(m->xid >> 8); exp[7] = (uint8_t)m->xid;
    memcpy(exp + 28, MAC, 6);
    static const uint8_t opts[] = {
        0x63, 0x82, 0x53, 0x63,
        53, 1, 1,
        61, 7, 1, 0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05,
        55, 4, 0x01, 0x03, 0x06, 0x2b,
        60, 10, 'J', 'u', 'n', 'i', 'p', 'e', 'r', 'S', 'S', 'R',
        255,
    };
    memcpy(exp + 236, opts, sizeof opts);
    CU_ASSERT_EQUAL(memcmp(buf, exp, sizeof exp), 0);

    /* a second start is a no-op */
    dhcpc_start(&F.c, F.now);
    ZTP_ASSERT_EQ_INT(F.n_sent, 1);
}

static void test_vendor_class_config(void)
{
    memset(&F, 0, sizeof F);
    struct dhcpc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.ifname, "wan1");
    memcpy(cfg.mac, MAC, 6);
    strcpy(cfg.vendor_class, "OtherVendor");
    dhcpc_init(&F.c, &cfg, &OPS, &F);
    dhcpc_start(&F.c, 5);
    ZTP_ASSERT_EQ_INT(last()->vendor_class_len, 11);
    CU_ASSERT_EQUAL(memcmp(last()->vendor_class, "OtherVendor", 11), 0);
    ZTP_ASSERT_EQ_STR(dhcpc_ifname(&F.c), "wan1");
}

static void test_xid_random_per_exchange(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    uint32_t x1 = last()->xid;
    at(dhcpc_next_timeout(&F.c));
    ZTP_ASSERT_EQ_INT(F.n_sent, 2);
    ZTP_ASSERT_EQ_INT(last()->xid, x1);      /* retransmission keeps the xid */
    CU_ASSERT(last()->secs >= 1);            /* and counts seconds */
    CU_ASSERT_TRUE(offer(x1));
    ZTP_ASSERT_EQ_INT(last()->xid, x1);      /* REQUEST answers the OFFER's xid */
    CU_ASSERT_TRUE(nak(x1));
    at(dhcpc_next_timeout(&F.c));
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
    CU_ASSERT_NOT_EQUAL(last()->xid, x1);    /* a new exchange, a new xid */
}

static void test_offer_request(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    uint32_t xid = last()->xid;
    F.now += 300;
    CU_ASSERT_TRUE(offer(xid));
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "REQUESTING");
    ZTP_ASSERT_EQ_INT(F.n_sent, 2);
    const struct dhcp_msg *m = last();
    ZTP_ASSERT_EQ_INT(m->msg_type, DHCPREQUEST);
    ZTP_ASSERT_EQ_INT(m->xid, xid);
    CU_ASSERT_TRUE(F.bcast[1]);
    CU_ASSERT_TRUE(dhcp_has(m, DHO_REQUESTED_IP));
    CU_ASSERT_TRUE(dhcp_has(m, DHO_SERVER_ID));
    CU_ASSERT_EQUAL(m->requested_ip.s_addr, A("198.18.1.150").s_addr);
    CU_ASSERT_EQUAL(m->server_id.s_addr, A("198.18.1.1").s_addr);
    CU_ASSERT_EQUAL(m->ciaddr.s_addr, 0);
    assert_common_params(m);

    uint8_t codes[16], buf[DHCP_MAX_LEN];
    size_t len;
    int k = option_codes(m, codes, 16, buf, &len);
    static const uint8_t want[] = {53, 54, 50, 61, 55, 60};
    ZTP_ASSERT_EQ_INT(k, (int)sizeof want);
    CU_ASSERT_EQUAL(memcmp(codes, want, sizeof want), 0);
    CU_ASSERT(len >= DHCPC_PAD_TO);

    /* a second OFFER (another server) while REQUESTING is ignored */
    struct reply r2 = {.type = DHCPOFFER, .xid = xid, .yiaddr = "198.18.1.151", .server = "198.18.1.2", .lease = 60};
    CU_ASSERT_FALSE(feed(&r2));
    ZTP_ASSERT_EQ_INT(F.n_sent, 2);
    /* an ACK from another server than the selected one is ignored */
    struct reply r3 = {.type = DHCPACK, .xid = xid, .yiaddr = "198.18.1.151", .server = "198.18.1.2", .lease = 60};
    CU_ASSERT_FALSE(feed(&r3));
    ZTP_ASSERT_EQ_INT(F.n_bound, 0);
}

static void test_ack_bound(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    CU_ASSERT_TRUE(offer(last()->xid));
    uint64_t t_ack = F.now + 50;
    F.now = t_ack;
    CU_ASSERT_TRUE(ack(last()->xid, 6000, OPT43_DNSMASQ, sizeof OPT43_DNSMASQ));
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "BOUND");
    ZTP_ASSERT_EQ_INT(F.n_bound, 1);
    CU_ASSERT_TRUE(F.prev_was_null);
    const struct dhcpc_lease *l = &F.lease;
    CU_ASSERT_EQUAL(l->addr.s_addr, A("198.18.1.150").s_addr);
    CU_ASSERT_EQUAL(l->mask.s_addr, A("255.255.255.0").s_addr);
    ZTP_ASSERT_EQ_INT(l->prefixlen, 24);
    CU_ASSERT_TRUE(l->have_router);
    CU_ASSERT_EQUAL(l->router.s_addr, A("198.18.1.1").s_addr);
    ZTP_ASSERT_EQ_INT(l->n_dns, 2);
    CU_ASSERT_EQUAL(l->dns[1].s_addr, A("8.8.4.4").s_addr);
    CU_ASSERT_EQUAL(l->server_id.s_addr, A("198.18.1.1").s_addr);
    ZTP_ASSERT_EQ_INT(l->lease_time, 6000);
    ZTP_ASSERT_EQ_INT(l->t1, 3000);
    ZTP_ASSERT_EQ_INT(l->t2, 5250);
    ZTP_ASSERT_EQ_INT(l->acquired_at, t_ack);
    ZTP_ASSERT_EQ_INT(l->t1_at, t_ack + 3000000);
    ZTP_ASSERT_EQ_INT(l->t2_at, t_ack + 5250000);
    ZTP_ASSERT_EQ_INT(l->expires_at, t_ack + 6000000);
    ZTP_ASSERT_EQ_INT(l->renewals, 0);
    /* Option 43 handed over raw, END byte included (dnsmasq): the proxy learner parses it */
    CU_ASSERT_TRUE(l->have_vendor_opts);
    ZTP_ASSERT_EQ_INT(l->vendor_opts_len, 18);
    CU_ASSERT_EQUAL(memcmp(l->vendor_opts, OPT43_DNSMASQ, 18), 0);
    const uint8_t *d;
    uint8_t dl;
    CU_ASSERT_EQUAL(dhcp_vendor_find(l->vendor_opts, l->vendor_opts_len, DHCP_SUBOPT_PROXY, &d, &dl), 0);
    ZTP_ASSERT_EQ_INT(dl, 15);
    CU_ASSERT_EQUAL(memcmp(d, "10.92.53.8:3128", 15), 0);
    /* the engine's own copy */
    const struct dhcpc_lease *held = dhcpc_get_lease(&F.c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(held);
    CU_ASSERT_EQUAL(held->addr.s_addr, l->addr.s_addr);
    /* next: T1 */
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t_ack + 3000000);
    /* nothing happens before */
    int n = F.n_sent;
    at(t_ack + 2999999);
    ZTP_ASSERT_EQ_INT(F.n_sent, n);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_BOUND);
    /* a late duplicate ACK in BOUND is ignored */
    CU_ASSERT_FALSE(ack(F.sent[1].xid, 6000, NULL, 0));
    ZTP_ASSERT_EQ_INT(F.n_bound, 1);
}

static void test_ack_without_43_and_defaults(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    CU_ASSERT_TRUE(offer(last()->xid));
    /* no mask (classful /24 for 198.18.x? no: 198 is class C -> /24), no router, no 43, T1/T2 given */
    struct reply r = {.type = DHCPACK, .xid = last()->xid, .yiaddr = "198.18.1.150", .server = "198.18.1.1",
                      .lease = 100, .t1 = 30, .t2 = 60, .no_mask = true, .no_router = true};
    CU_ASSERT_TRUE(feed(&r));
    ZTP_ASSERT_EQ_INT(F.lease.prefixlen, 24);
    CU_ASSERT_FALSE(F.lease.have_router);
    CU_ASSERT_FALSE(F.lease.have_vendor_opts);
    ZTP_ASSERT_EQ_INT(F.lease.vendor_opts_len, 0);
    ZTP_ASSERT_EQ_INT(F.lease.t1, 30);
    ZTP_ASSERT_EQ_INT(F.lease.t2, 60);
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), F.now + 30000);
}

static void test_bad_ack_ignored(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    CU_ASSERT_TRUE(offer(last()->xid));
    uint32_t xid = last()->xid;
    struct reply nolease = {.type = DHCPACK, .xid = xid, .yiaddr = "198.18.1.150", .server = "198.18.1.1"};
    CU_ASSERT_FALSE(feed(&nolease));
    struct reply noaddr = {.type = DHCPACK, .xid = xid, .server = "198.18.1.1", .lease = 60};
    CU_ASSERT_FALSE(feed(&noaddr));
    ZTP_ASSERT_EQ_INT(F.n_bound, 0);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_REQUESTING);
    /* an OFFER without server id or address is ignored too */
    setup();
    dhcpc_start(&F.c, F.now);
    struct reply o1 = {.type = DHCPOFFER, .xid = last()->xid, .yiaddr = "198.18.1.150", .lease = 60};
    CU_ASSERT_FALSE(feed(&o1));
    struct reply o2 = {.type = DHCPOFFER, .xid = last()->xid, .server = "198.18.1.1", .lease = 60};
    CU_ASSERT_FALSE(feed(&o2));
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
}

static void test_infinite_lease(void)
{
    setup();
    bind_lease(0xffffffffu);
    CU_ASSERT_EQUAL(dhcpc_next_timeout(&F.c), DHCPC_NEVER);
    CU_ASSERT_EQUAL(F.lease.expires_at, DHCPC_NEVER);
    ZTP_ASSERT_EQ_INT(dhcpc_timeout_ms(DHCPC_NEVER, 5), -1);
    ZTP_ASSERT_EQ_INT(dhcpc_timeout_ms(100, 5), 95);
    ZTP_ASSERT_EQ_INT(dhcpc_timeout_ms(5, 100), 0);
}

static void test_renew_at_t1(void)
{
    setup();
    bind_lease(20);  /* T1 10 s, T2 17.5 s, expiry 20 s */
    uint64_t t0 = F.lease.acquired_at;
    uint32_t old_xid = last()->xid;
    int n = F.n_sent;
    at(t0 + 10000);
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "RENEWING");
    ZTP_ASSERT_EQ_INT(F.n_sent, n + 1);
    const struct dhcp_msg *m = last();
    ZTP_ASSERT_EQ_INT(m->msg_type, DHCPREQUEST);
    CU_ASSERT_FALSE(F.bcast[F.n_sent - 1]);                          /* unicast ... */
    CU_ASSERT_EQUAL(F.dst[F.n_sent - 1].s_addr, A("198.18.1.1").s_addr); /* ... to the server */
    CU_ASSERT_EQUAL(m->ciaddr.s_addr, A("198.18.1.150").s_addr);
    CU_ASSERT_FALSE(dhcp_has(m, DHO_REQUESTED_IP));
    CU_ASSERT_FALSE(dhcp_has(m, DHO_SERVER_ID));
    assert_common_params(m);
    CU_ASSERT_NOT_EQUAL(m->xid, old_xid);
    /* retransmission: half the time left to T2 (3.75 s) */
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t0 + 13750);
    /* the lease is still held while renewing */
    CU_ASSERT_PTR_NOT_NULL(dhcpc_get_lease(&F.c));

    /* ACK with a new proxy: bound() again, prev = the old lease, Option 43 re-reported */
    static const uint8_t o43b[] = {0x80, 15, '1', '0', '.', '9', '2', '.', '5', '3', '.', '7', ':', '8', '0', '8', '0'};
    F.now = t0 + 11000;
    CU_ASSERT_TRUE(ack(m->xid, 20, o43b, sizeof o43b));
    ZTP_ASSERT_EQ_INT(F.n_bound, 2);
    CU_ASSERT_FALSE(F.prev_was_null);
    CU_ASSERT_EQUAL(F.prev.addr.s_addr, F.lease.addr.s_addr);
    ZTP_ASSERT_EQ_INT(F.lease.renewals, 1);
    ZTP_ASSERT_EQ_INT(F.lease.vendor_opts_len, sizeof o43b);
    CU_ASSERT_EQUAL(memcmp(F.lease.vendor_opts, o43b, sizeof o43b), 0);
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "BOUND");
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t0 + 11000 + 10000);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 0);
}

static void test_rebind_at_t2(void)
{
    setup();
    bind_lease(20);
    uint64_t t0 = F.lease.acquired_at;
    at(t0 + 10000);           /* RENEWING, unicast */
    uint32_t renew_xid = last()->xid;
    int renew_sends = 1;
    /* no answer: retransmit until T2, never past it */
    while (dhcpc_next_timeout(&F.c) < t0 + 17500) {
        at(dhcpc_next_timeout(&F.c));
        CU_ASSERT_FALSE(F.bcast[F.n_sent - 1]);
        ZTP_ASSERT_EQ_INT(last()->xid, renew_xid);
        renew_sends++;
        CU_ASSERT_FATAL(renew_sends < 20);
    }
    CU_ASSERT(renew_sends >= 3); /* 10 s, 13.75 s, ~15.6 s, ~16.6 s */
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t0 + 17500);
    at(t0 + 17500);
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "REBINDING");
    const struct dhcp_msg *m = last();
    ZTP_ASSERT_EQ_INT(m->msg_type, DHCPREQUEST);
    CU_ASSERT_TRUE(F.bcast[F.n_sent - 1]);
    CU_ASSERT_EQUAL(F.dst[F.n_sent - 1].s_addr, INADDR_BROADCAST);
    CU_ASSERT_EQUAL(m->ciaddr.s_addr, A("198.18.1.150").s_addr);
    CU_ASSERT_FALSE(dhcp_has(m, DHO_REQUESTED_IP));
    CU_ASSERT_FALSE(dhcp_has(m, DHO_SERVER_ID));
    CU_ASSERT_NOT_EQUAL(m->xid, renew_xid);
    /* a late ACK for the renewal's xid is foreign now */
    CU_ASSERT_FALSE(ack(renew_xid, 20, NULL, 0));
    /* retransmit before expiry, at least 1 s apart */
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t0 + 17500 + 1250);
    /* an ACK from any server rebinds */
    F.now = t0 + 18000;
    struct reply r = {.type = DHCPACK, .xid = m->xid, .yiaddr = "198.18.1.150", .server = "198.18.1.2", .lease = 30};
    CU_ASSERT_TRUE(feed(&r));
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_BOUND);
    CU_ASSERT_EQUAL(F.lease.server_id.s_addr, A("198.18.1.2").s_addr);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 0);
}

static void test_expiry(void)
{
    setup();
    bind_lease(20);
    uint64_t t0 = F.lease.acquired_at;
    uint32_t xid0 = last()->xid;
    /* no server at all: run every timer until the lease is gone */
    while (F.n_unbound == 0) {
        uint64_t next = dhcpc_next_timeout(&F.c);
        CU_ASSERT_FATAL(next != DHCPC_NEVER && next <= t0 + 20000);
        at(next);
    }
    ZTP_ASSERT_EQ_INT(F.n_unbound, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name(F.why), "expired");
    CU_ASSERT_EQUAL(F.unbound_lease.addr.s_addr, A("198.18.1.150").s_addr);
    ZTP_ASSERT_EQ_INT(F.now, t0 + 20000);
    CU_ASSERT_PTR_NULL(dhcpc_get_lease(&F.c));
    /* restarted from INIT at once: a fresh DISCOVER */
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "SELECTING");
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
    ZTP_ASSERT_EQ_INT(F.sent_at[F.n_sent - 1], t0 + 20000);
    CU_ASSERT_NOT_EQUAL(last()->xid, xid0);
    CU_ASSERT_EQUAL(last()->ciaddr.s_addr, 0);
    /* and binds again */
    CU_ASSERT_TRUE(offer(last()->xid));
    CU_ASSERT_TRUE(ack(last()->xid, 20, NULL, 0));
    ZTP_ASSERT_EQ_INT(F.n_bound, 2);
    CU_ASSERT_TRUE(F.prev_was_null);
}

static void test_expiry_after_suspend(void)
{
    /* the clock jumps past the whole lease at once: unbound and DISCOVER in one call */
    setup();
    bind_lease(20);
    at(F.lease.acquired_at + 60000);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 1);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
}

static void test_nak(void)
{
    /* NAK while renewing: unbound(NAK), INIT, DISCOVER after the hold-off */
    setup();
    bind_lease(20);
    uint64_t t0 = F.lease.acquired_at;
    at(t0 + 10000);
    F.now = t0 + 10100;
    CU_ASSERT_TRUE(nak(last()->xid));
    ZTP_ASSERT_EQ_INT(F.n_unbound, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name(F.why), "nak");
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_get_state(&F.c)), "INIT");
    CU_ASSERT_PTR_NULL(dhcpc_get_lease(&F.c));
    ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t0 + 10100 + DHCPC_NAK_HOLDOFF_MS);
    int n = F.n_sent;
    at(t0 + 10100 + DHCPC_NAK_HOLDOFF_MS);
    ZTP_ASSERT_EQ_INT(F.n_sent, n + 1);
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);

    /* NAK while requesting: INIT, no unbound (nothing was held) */
    setup();
    dhcpc_start(&F.c, F.now);
    CU_ASSERT_TRUE(offer(last()->xid));
    CU_ASSERT_TRUE(nak(last()->xid));
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_INIT);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 0);
    /* NAK while selecting: ignored */
    at(dhcpc_next_timeout(&F.c));
    CU_ASSERT_FALSE(nak(last()->xid));
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
}

static void test_retransmission_timing(void)
{
    setup();
    F.rnd_fixed = true;
    F.rnd_value = 0; /* no jitter */
    uint64_t t = F.now;
    dhcpc_start(&F.c, t);
    static const uint64_t gaps[] = {1000, 2000, 4000, 8000, 8000, 8000};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        ZTP_ASSERT_EQ_INT(dhcpc_next_timeout(&F.c), t + gaps[i]);
        int n = F.n_sent;
        at(t + gaps[i] - 1); /* not yet */
        ZTP_ASSERT_EQ_INT(F.n_sent, n);
        t += gaps[i];
        at(t);
        ZTP_ASSERT_EQ_INT(F.n_sent, n + 1);
        ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
        ZTP_ASSERT_EQ_INT(last()->secs, (t - F.sent_at[0]) / 1000);
    }

    /* jitter stays within 10 % */
    setup();
    F.rnd_fixed = true;
    F.rnd_value = 0xffffffffu;
    dhcpc_start(&F.c, F.now);
    uint64_t d = dhcpc_next_timeout(&F.c) - F.now;
    CU_ASSERT(d >= 1000 && d <= 1100);

    /* REQUESTING: DHCPC_REQUEST_TRIES sends, then back to a new DISCOVER */
    setup();
    dhcpc_start(&F.c, F.now);
    uint32_t xid = last()->xid;
    CU_ASSERT_TRUE(offer(xid));
    int requests = 1;
    while (dhcpc_get_state(&F.c) == DHCPC_REQUESTING) {
        uint64_t next = dhcpc_next_timeout(&F.c);
        CU_ASSERT(next - F.now >= 1000 && next - F.now <= 8800);
        at(next);
        if (last()->msg_type == DHCPREQUEST)
            requests++;
        CU_ASSERT_FATAL(requests < 10);
    }
    ZTP_ASSERT_EQ_INT(requests, DHCPC_REQUEST_TRIES);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
    CU_ASSERT_NOT_EQUAL(last()->xid, xid);

    /* a failing send is retried by the normal timer */
    setup();
    F.send_rc = -100;
    dhcpc_start(&F.c, F.now);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
    CU_ASSERT(dhcpc_next_timeout(&F.c) <= F.now + 1100);
}

static void test_foreign_ignored(void)
{
    setup();
    dhcpc_start(&F.c, F.now);
    uint32_t xid = last()->xid;
    CU_ASSERT_FALSE(offer(xid + 1));                     /* foreign xid */
    struct reply other_mac = {.type = DHCPOFFER, .xid = xid, .yiaddr = "198.18.1.150", .server = "198.18.1.1",
                              .lease = 60, .mac = (const uint8_t[6]){0x02, 0, 0, 0, 0, 1}};
    CU_ASSERT_FALSE(feed(&other_mac));                   /* foreign chaddr */
    CU_ASSERT_FALSE(ack(xid, 60, NULL, 0));              /* ACK while SELECTING */
    struct dhcp_msg req;                                  /* a BOOTREQUEST (another client's) */
    dhcp_msg_init(&req, BOOTREQUEST, DHCPOFFER, xid, MAC);
    dhcp_set_addr(&req, DHO_SERVER_ID, A("198.18.1.1"));
    req.yiaddr = A("198.18.1.150");
    CU_ASSERT_FALSE(dhcpc_input(&F.c, &req, F.now));
    ZTP_ASSERT_EQ_INT(F.n_sent, 1);
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_SELECTING);
    /* the right one still works */
    CU_ASSERT_TRUE(offer(xid));
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_REQUESTING);

    /* nothing is accepted when stopped */
    setup();
    CU_ASSERT_FALSE(offer(0));
    ZTP_ASSERT_EQ_INT(F.n_sent, 0);
}

static void test_stop_release(void)
{
    setup();
    bind_lease(600);
    int n = F.n_sent;
    dhcpc_stop(&F.c, F.now + 5, true);
    ZTP_ASSERT_EQ_INT(F.n_sent, n + 1);
    const struct dhcp_msg *m = last();
    ZTP_ASSERT_EQ_INT(m->msg_type, DHCPRELEASE);
    CU_ASSERT_FALSE(F.bcast[F.n_sent - 1]);
    CU_ASSERT_EQUAL(F.dst[F.n_sent - 1].s_addr, A("198.18.1.1").s_addr);
    CU_ASSERT_EQUAL(m->ciaddr.s_addr, A("198.18.1.150").s_addr);
    CU_ASSERT_EQUAL(m->server_id.s_addr, A("198.18.1.1").s_addr);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name(F.why), "stopped");
    ZTP_ASSERT_EQ_INT(dhcpc_get_state(&F.c), DHCPC_STOPPED);
    CU_ASSERT_EQUAL(dhcpc_next_timeout(&F.c), DHCPC_NEVER);
    /* restartable */
    dhcpc_start(&F.c, F.now + 10);
    ZTP_ASSERT_EQ_INT(last()->msg_type, DHCPDISCOVER);
    /* stop without a lease: no RELEASE, no unbound */
    n = F.n_sent;
    dhcpc_stop(&F.c, F.now + 20, true);
    ZTP_ASSERT_EQ_INT(F.n_sent, n);
    ZTP_ASSERT_EQ_INT(F.n_unbound, 1);
}

static void test_names_and_masks(void)
{
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(DHCPC_STOPPED), "STOPPED");
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(DHCPC_REBINDING), "REBINDING");
    ZTP_ASSERT_EQ_STR(dhcpc_state_name((enum dhcpc_state)99), "UNKNOWN");
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name((enum dhcpc_unbound_reason)99), "unknown");
    ZTP_ASSERT_EQ_INT(dhcpc_mask_prefixlen(A("255.255.255.0")), 24);
    ZTP_ASSERT_EQ_INT(dhcpc_mask_prefixlen(A("255.255.255.255")), 32);
    ZTP_ASSERT_EQ_INT(dhcpc_mask_prefixlen(A("0.0.0.0")), 0);
    ZTP_ASSERT_EQ_INT(dhcpc_mask_prefixlen(A("255.255.128.0")), 17);
    ZTP_ASSERT_EQ_INT(dhcpc_mask_prefixlen(A("255.0.255.0")), -1);
}

/* ---- the I/O layer for real, in a private network namespace ---- */

/* A minimal DHCP server on the other end of a veth (UDP socket on port 67, IP_PKTINFO to see
 * whether a REQUEST came broadcast or unicast). */
struct mini_server {
    int fd;
    bool mute;
    const char *proxy;              /* sub-option 128 for the next ACK */
    int n_discover, n_request, n_renew_unicast, n_rebind_broadcast;
};

struct io_fake {
    int n_bound, n_unbound;
    struct dhcpc_lease lease;
    enum dhcpc_unbound_reason why;
};

static void io_bound_cb(struct dhcpc_io *io, const struct dhcpc_lease *l, const struct dhcpc_lease *prev, void *arg)
{
    struct io_fake *f = arg;
    f->n_bound++;
    f->lease = *l;
}

static void io_unbound_cb(struct dhcpc_io *io, const struct dhcpc_lease *l, enum dhcpc_unbound_reason why, void *arg)
{
    struct io_fake *f = arg;
    f->n_unbound++;
    f->why = why;
}

static void server_reply(struct mini_server *s, const struct dhcp_msg *q, struct in_addr dst_hdr)
{
    bool bcast_in = dst_hdr.s_addr == INADDR_BROADCAST;
    if (q->msg_type == DHCPDISCOVER)
        s->n_discover++;
    if (q->msg_type == DHCPREQUEST) {
        s->n_request++;
        if (q->ciaddr.s_addr && !bcast_in && dst_hdr.s_addr == A("198.18.2.1").s_addr)
            s->n_renew_unicast++;
        if (q->ciaddr.s_addr && bcast_in)
            s->n_rebind_broadcast++;
    }
    if (s->mute)
        return;
    struct dhcp_msg r;
    dhcp_msg_init(&r, BOOTREPLY, q->msg_type == DHCPDISCOVER ? DHCPOFFER : DHCPACK, q->xid, q->chaddr);
    r.yiaddr = A("198.18.2.150");
    r.ciaddr = q->ciaddr;
    dhcp_set_addr(&r, DHO_SERVER_ID, A("198.18.2.1"));
    dhcp_set_u32(&r, DHO_LEASE_TIME, 4);
    dhcp_set_u32(&r, DHO_T1, 1);
    dhcp_set_u32(&r, DHO_T2, 2);
    dhcp_set_addr(&r, DHO_SUBNET_MASK, A("255.255.255.0"));
    CU_ASSERT_EQUAL(dhcp_add_addr(&r, DHO_ROUTERS, A("198.18.2.1")), 0);
    uint8_t v[64];
    ssize_t vn = dhcp_vendor_build_proxy(v, sizeof v, s->proxy);
    CU_ASSERT_FATAL(vn > 0);
    CU_ASSERT_EQUAL(dhcp_set_bytes(&r, DHO_VENDOR_OPTS, v, (size_t)vn), 0);
    uint8_t buf[DHCP_MAX_LEN];
    ssize_t n = dhcp_build(&r, buf, sizeof buf, 0);
    CU_ASSERT_FATAL(n > 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT)};
    to.sin_addr.s_addr = q->ciaddr.s_addr ? q->ciaddr.s_addr : INADDR_BROADCAST;
    CU_ASSERT(sendto(s->fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to) == n);
}

static void server_readable(struct mini_server *s)
{
    uint8_t buf[DHCP_MAX_LEN];
    union {
        struct cmsghdr align;
        uint8_t space[CMSG_SPACE(sizeof(struct in_pktinfo))];
    } cb;
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.space, .msg_controllen = sizeof cb.space};
        ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
        if (n < 0)
            return;
        struct in_addr dst = {0};
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(cm), sizeof pi);
                dst = pi.ipi_addr;
            }
        struct dhcp_msg q;
        if (dhcp_parse(buf, (size_t)n, &q) == 0 && q.op == BOOTREQUEST)
            server_reply(s, &q, dst);
    }
}

/* Run client and server until `done` or `ms` elapse. */
static void run_until(struct dhcpc_io *io, struct mini_server *s, const int *counter, int want, uint64_t ms)
{
    uint64_t end = dhcpc_now_ms() + ms;
    while (*counter < want) {
        uint64_t now = dhcpc_now_ms();
        if (now >= end)
            break;
        int t = dhcpc_timeout_ms(dhcpc_io_next_timeout(io), now);
        if (t < 0 || (uint64_t)t > end - now)
            t = (int)(end - now);
        struct pollfd p[2] = {{.fd = dhcpc_io_fd(io), .events = POLLIN}, {.fd = s->fd, .events = POLLIN}};
        if (poll(p, 2, t) > 0) {
            if (p[0].revents & POLLIN)
                dhcpc_io_readable(io, dhcpc_now_ms());
            if (p[1].revents & POLLIN)
                server_readable(s);
        }
        dhcpc_io_timeout(io, dhcpc_now_ms());
    }
}

static bool has_addr(const char *ifname, const char *addr)
{
    struct ifaddrs *ifs, *i;
    bool found = false;
    if (getifaddrs(&ifs) < 0)
        return false;
    for (i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, ifname) == 0 &&
            ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr == A(addr).s_addr)
            found = true;
    freeifaddrs(ifs);
    return found;
}

/* /proc/net/route of this namespace: a default route via `gw` on `ifname` with `metric`. */
static bool has_default_route(const char *ifname, const char *gw, unsigned metric)
{
    FILE *f = fopen("/proc/net/route", "r");
    if (!f)
        return false;
    char line[256], ifn[32];
    unsigned dst, gwx, flags, refcnt, use, met;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%31s %x %x %x %u %u %u", ifn, &dst, &gwx, &flags, &refcnt, &use, &met) == 7 &&
            strcmp(ifn, ifname) == 0 && dst == 0 && gwx == A(gw).s_addr && met == metric)
            found = true;
    fclose(f);
    return found;
}

static void test_netns_round_trip(void)
{
    /* Two private namespaces of this process: S (server end zs0, 198.18.2.1/24) and C (client end
     * zc0, no address). Sockets keep the namespace they were created in, so the server socket
     * works from S while the process runs the client in C. They vanish with the process. */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "\n  skipped: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
        return;
    }
    int sfd = open("/proc/self/ns/net", O_RDONLY);
    CU_ASSERT_FATAL(sfd >= 0);
    CU_ASSERT_FATAL(unshare(CLONE_NEWNET) == 0);
    int cfd = open("/proc/self/ns/net", O_RDONLY); /* inherited by ip(8) below: no O_CLOEXEC */
    CU_ASSERT_FATAL(cfd >= 0);
    CU_ASSERT_FATAL(setns(sfd, CLONE_NEWNET) == 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ip link set lo up && ip link add zc0 type veth peer name zs0 && "
             "ip link set zc0 netns /proc/self/fd/%d && ip addr add 198.18.2.1/24 dev zs0 && ip link set zs0 up", cfd);
    if (system(cmd) != 0) {
        fprintf(stderr, "\n  skipped: cannot create a veth pair with ip(8)\n");
        close(sfd);
        close(cfd);
        return;
    }
    struct mini_server s = {.proxy = "10.92.53.8:3128"};
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(s.fd >= 0);
    int one = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT)};
    CU_ASSERT_FATAL(setsockopt(s.fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) == 0);
    CU_ASSERT_FATAL(setsockopt(s.fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0);
    CU_ASSERT_FATAL(setsockopt(s.fd, SOL_SOCKET, SO_BINDTODEVICE, "zs0", 3) == 0);
    CU_ASSERT_FATAL(bind(s.fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    CU_ASSERT_FATAL(setns(cfd, CLONE_NEWNET) == 0);
    close(sfd);
    close(cfd);
    CU_ASSERT_FATAL(system("ip link set lo up && ip link set zc0 address 02:5a:00:00:00:01 up") == 0);

    struct io_fake f = {0};
    struct dhcpc_io_config cfg = {.apply = true};
    strcpy(cfg.ifname, "zc0");
    struct dhcpc_io_ops ops = {.bound = io_bound_cb, .unbound = io_unbound_cb};
    struct dhcpc_io *io;
    struct dhcpc_io *bad;
    struct dhcpc_io_config badcfg = {.apply = true};
    strcpy(badcfg.ifname, "nosuch0");
    ZTP_ASSERT_EQ_INT(dhcpc_io_open(&bad, &badcfg, &ops, &f), -ENODEV);
    CU_ASSERT_PTR_NULL(bad);
    ZTP_ASSERT_EQ_INT(dhcpc_io_open(&io, &cfg, &ops, &f), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(io);
    unsigned metric = DHCPC_IO_METRIC_BASE + (unsigned)dhcpc_io_ifindex(io);

    /* DISCOVER/OFFER/REQUEST/ACK over the packet socket; address and route applied */
    dhcpc_io_start(io, dhcpc_now_ms());
    run_until(io, &s, &f.n_bound, 1, 5000);
    ZTP_ASSERT_EQ_INT(f.n_bound, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_io_state(io)), "BOUND");
    CU_ASSERT_EQUAL(f.lease.addr.s_addr, A("198.18.2.150").s_addr);
    ZTP_ASSERT_EQ_INT(f.lease.vendor_opts_len, 17);
    CU_ASSERT_EQUAL(memcmp(f.lease.vendor_opts, OPT43_KEA, 17), 0);
    CU_ASSERT_TRUE(has_addr("zc0", "198.18.2.150"));
    CU_ASSERT_TRUE(has_default_route("zc0", "198.18.2.1", metric));
    /* Usually one DISCOVER; a second when the first left before the fresh veth had carrier (it is
     * then retransmitted after 1 s, as it should be). */
    CU_ASSERT(s.n_discover >= 1 && s.n_discover <= 2);

    /* the BPF filter: a UDP broadcast to another port never wakes the client's socket, nor one to
     * port 68 whose BOOTP chaddr is not ours (another client's reply, or too short to hold one);
     * garbage to port 68 carrying our chaddr does, and is logged and dropped without changing the state */
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_port = htons(5000), .sin_addr.s_addr = INADDR_BROADCAST};
    CU_ASSERT(sendto(s.fd, "not dhcp", 8, 0, (struct sockaddr *)&other, sizeof other) == 8);
    struct pollfd pf = {.fd = dhcpc_io_fd(io), .events = POLLIN};
    ZTP_ASSERT_EQ_INT(poll(&pf, 1, 200), 0);
    other.sin_port = htons(DHCP_CLIENT_PORT);
    CU_ASSERT(sendto(s.fd, "not dhcp", 8, 0, (struct sockaddr *)&other, sizeof other) == 8);
    uint8_t junk[300];
    memset(junk, 'x', sizeof junk);
    memcpy(junk + 28, (const uint8_t[]){0x02, 0x5a, 0x00, 0x00, 0x00, 0x02}, 6); /* another client's chaddr */
    CU_ASSERT(sendto(s.fd, junk, sizeof junk, 0, (struct sockaddr *)&other, sizeof other) == (ssize_t)sizeof junk);
    ZTP_ASSERT_EQ_INT(poll(&pf, 1, 200), 0);
    junk[33] = 0x01; /* ours */
    CU_ASSERT(sendto(s.fd, junk, sizeof junk, 0, (struct sockaddr *)&other, sizeof other) == (ssize_t)sizeof junk);
    ZTP_ASSERT_EQ_INT(poll(&pf, 1, 1000), 1);
    dhcpc_io_readable(io, dhcpc_now_ms());
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_io_state(io)), "BOUND");
    ZTP_ASSERT_EQ_INT(poll(&pf, 1, 0), 0);

    /* T1 (1 s): unicast renewal from the leased address; the new proxy is reported */
    s.proxy = "198.18.2.7:8080";
    run_until(io, &s, &f.n_bound, 2, 3000);
    ZTP_ASSERT_EQ_INT(f.n_bound, 2);
    CU_ASSERT(s.n_renew_unicast >= 1);
    ZTP_ASSERT_EQ_INT(f.lease.renewals, 1);
    const uint8_t *d;
    uint8_t dl;
    CU_ASSERT_EQUAL_FATAL(dhcp_vendor_find(f.lease.vendor_opts, f.lease.vendor_opts_len, DHCP_SUBOPT_PROXY, &d, &dl), 0);
    CU_ASSERT(dl == 15 && memcmp(d, "198.18.2.7:8080", 15) == 0);
    CU_ASSERT_TRUE(has_addr("zc0", "198.18.2.150"));

    /* server gone: RENEWING, REBINDING (broadcast), expiry at 4 s: address and route removed */
    s.mute = true;
    run_until(io, &s, &f.n_unbound, 1, 7000);
    ZTP_ASSERT_EQ_INT(f.n_unbound, 1);
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name(f.why), "expired");
    CU_ASSERT(s.n_rebind_broadcast >= 1);
    CU_ASSERT_FALSE(has_addr("zc0", "198.18.2.150"));
    CU_ASSERT_FALSE(has_default_route("zc0", "198.18.2.1", metric));
    ZTP_ASSERT_EQ_STR(dhcpc_state_name(dhcpc_io_state(io)), "SELECTING");
    CU_ASSERT_PTR_NULL(dhcpc_io_lease(io));

    /* the server is back: bound again */
    s.mute = false;
    run_until(io, &s, &f.n_bound, 3, 5000);
    ZTP_ASSERT_EQ_INT(f.n_bound, 3);
    CU_ASSERT_TRUE(has_addr("zc0", "198.18.2.150"));

    /* close with release: RELEASE sent, address removed, unbound(stopped) */
    dhcpc_io_close(io, true);
    ZTP_ASSERT_EQ_INT(f.n_unbound, 2);
    ZTP_ASSERT_EQ_STR(dhcpc_unbound_reason_name(f.why), "stopped");
    CU_ASSERT_FALSE(has_addr("zc0", "198.18.2.150"));
    close(s.fd);
}

int main(void)
{
    log_init("test", "test_dhcpc", LOG_LVL_INFO);
    static const struct ztp_test engine[] = {
        {"DISCOVER bytes as in the product trace", test_discover_bytes},
        {"vendor class configurable", test_vendor_class_config},
        {"xid random per exchange, kept on retransmit", test_xid_random_per_exchange},
        {"OFFER -> REQUEST with 50/54", test_offer_request},
        {"ACK -> bound with Option 43 bytes", test_ack_bound},
        {"ACK defaults and T1/T2 options", test_ack_without_43_and_defaults},
        {"unusable ACK/OFFER ignored", test_bad_ack_ignored},
        {"infinite lease", test_infinite_lease},
        {"T1 -> unicast REQUEST with ciaddr, ACK re-reports", test_renew_at_t1},
        {"T2 -> broadcast REQUEST", test_rebind_at_t2},
        {"expiry -> unbound, INIT, DISCOVER", test_expiry},
        {"clock jump past expiry", test_expiry_after_suspend},
        {"NAK -> unbound, INIT", test_nak},
        {"retransmission timing", test_retransmission_timing},
        {"foreign xid/chaddr/type ignored", test_foreign_ignored},
        {"stop with RELEASE", test_stop_release},
        {"names and masks", test_names_and_masks},
        {NULL, NULL},
    };
    static const struct ztp_test io[] = {
        {"AF_PACKET round trip in a network namespace", test_netns_round_trip},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"dhcpc engine", engine}, {"dhcpc io (netns)", io}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
