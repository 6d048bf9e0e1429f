/* mock-dhcpd lease table indexes: the engine's address choices against a reference model.
 *
 * The reference is the allocator as it was before the table had indexes, written with linear scans
 * over the public API: the client's own address if usable, else its Option 50 address if usable,
 * else the lowest address of the pool in no entry (server and relay addresses skipped), else the
 * inactive entry with the smallest expiry (lowest address on a tie). Thousands of random requests
 * (DISCOVER with and without 50, REQUEST selecting / for another server / init-reboot / renewing,
 * RELEASE, DECLINE) from clients known by Option 61 or chaddr, at random times, with saves and
 * reloads of the lease file and config changes in between; after every request the indexes are
 * checked against the entries (dhcpd_leases_check), and every OFFER must be the reference's choice. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "engine.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

/* Two pools, each with its own server (and relay) address inside the range, so the allocator has
 * to skip them; small enough that the pools run out and entries are reused. */
static const char *const cfg_a =
    "{\"pools\": [\n"
    " {\"interface\": \"eth1\", \"server\": \"198.18.10.5\", \"range\": \"198.18.10.1-198.18.10.20\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"lease_time\": 120, \"proxy\": \"10.92.53.8:3128\"},\n"
    " {\"relay\": \"198.18.30.3\", \"server\": \"198.18.20.1\", \"range\": \"198.18.30.1-198.18.30.12\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"lease_time\": 90}\n"
    "], \"decline_time\": 200, \"offer_time\": 30}\n";
/* The same pools after a "reload": eth1's range moved and grew, the relay pool is the same. */
static const char *const cfg_b =
    "{\"pools\": [\n"
    " {\"interface\": \"eth1\", \"server\": \"198.18.10.5\", \"range\": \"198.18.10.4-198.18.10.30\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"lease_time\": 150, \"proxy\": \"10.92.53.8:3128\"},\n"
    " {\"relay\": \"198.18.30.3\", \"server\": \"198.18.20.1\", \"range\": \"198.18.30.1-198.18.30.12\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"lease_time\": 90}\n"
    "], \"decline_time\": 200, \"offer_time\": 30}\n";

#define N_CLIENTS 64

static struct dhcpd_config cfg;
static struct dhcpd_lease_table lt;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void load_cfg(const char *text)
{
    char err[512];
    dhcpd_config_free(&cfg);
    int r = dhcpd_config_parse(text, strlen(text), &cfg, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  config: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

static void check_index(void)
{
    char err[256] = "";
    int r = dhcpd_leases_check(&lt, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  index: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

/* Client i: MAC 02:00:00:00:00:i; clients with an odd i send Option 61, the others are known by chaddr. */
struct who {
    uint8_t mac[6];
    bool cid;
    bool relayed;
};

static struct who client(unsigned i)
{
    struct who w = {.mac = {2, 0, 0, 0, 0, (uint8_t)i}, .cid = i % 2 == 1, .relayed = i % 3 == 0};
    return w;
}

static struct dhcp_msg request(enum dhcp_msg_type t, const struct who *w)
{
    static const uint8_t prl[] = {1, 3, 6, 43};
    uint8_t cid[7] = {1};
    struct dhcp_msg m;
    uint8_t buf[DHCP_MAX_LEN];
    dhcp_msg_init(&m, BOOTREQUEST, t, 0x1234, w->mac);
    if (w->cid) {
        memcpy(cid + 1, w->mac, 6);
        dhcp_set_bytes(&m, DHO_CLIENT_ID, cid, sizeof cid);
    }
    dhcp_set_bytes(&m, DHO_PARAM_REQ, prl, sizeof prl);
    dhcp_set_bytes(&m, DHO_VENDOR_CLASS, "JuniperSSR", 10);
    if (w->relayed) {
        inet_pton(AF_INET, "198.18.30.3", &m.giaddr);
        m.hops = 1;
    }
    /* through the codec, as the server receives it */
    ssize_t n = dhcp_build(&m, buf, sizeof buf, DHCP_BOOTP_MIN_LEN);
    CU_ASSERT_TRUE_FATAL(n > 0);
    CU_ASSERT_EQUAL_FATAL(dhcp_parse(buf, (size_t)n, &m), 0);
    return m;
}

/* ---- the reference: the allocator before the indexes, by linear scans ---- */

static bool ref_assignable(const struct dhcpd_pool *p, struct in_addr a)
{
    return dhcpd_pool_in_range(p, a) && a.s_addr != p->server.s_addr && !(p->relayed && a.s_addr == p->relay.s_addr);
}

static bool ref_is_mine(const struct dhcpd_lease *l, const uint8_t *key, size_t len, bool by_cid)
{
    return l->state != DLEASE_DECLINED && l->by_client_id == by_cid && l->key_len == len &&
           memcmp(l->key, key, len) == 0;
}

static bool ref_usable(const struct dhcpd_pool *p, struct in_addr a, const uint8_t *key, size_t len, bool by_cid,
                       int64_t now)
{
    if (!ref_assignable(p, a))
        return false;
    struct dhcpd_lease *o = dhcpd_leases_find_addr(&lt, a);
    return !o || !dhcpd_lease_active(o, now) || ref_is_mine(o, key, len, by_cid);
}

/* What a DISCOVER must be offered: false when the pool is exhausted. *reused: an entry of another
 * client (free the longest) is taken. */
static bool ref_offer(const struct dhcpd_pool *p, const struct dhcp_msg *req, int64_t now, struct in_addr *out,
                      bool *reused)
{
    bool by_cid = dhcp_has(req, DHO_CLIENT_ID);
    const uint8_t *key = by_cid ? req->client_id : req->chaddr;
    size_t len = by_cid ? req->client_id_len : req->hlen;
    uint32_t lo = ntohl(p->start.s_addr), hi = ntohl(p->end.s_addr);
    struct dhcpd_lease *l, *mine = NULL, *best = NULL;

    for (l = dhcpd_leases_first(&lt); l; l = dhcpd_leases_next(&lt, l)) {
        uint32_t h = ntohl(l->addr.s_addr);
        if (!mine && h >= lo && h <= hi && ref_is_mine(l, key, len, by_cid))
            mine = l;
    }
    if (mine && ref_usable(p, mine->addr, key, len, by_cid, now)) {
        *out = mine->addr;
        return true;
    }
    if (dhcp_has(req, DHO_REQUESTED_IP) && ref_usable(p, req->requested_ip, key, len, by_cid, now)) {
        *out = req->requested_ip;
        return true;
    }
    for (uint32_t h = lo; h <= hi; h++) {
        struct in_addr a = {.s_addr = htonl(h)};
        if (ref_assignable(p, a) && !dhcpd_leases_find_addr(&lt, a)) {
            *out = a;
            return true;
        }
    }
    for (l = dhcpd_leases_first(&lt); l; l = dhcpd_leases_next(&lt, l)) {
        if (!ref_assignable(p, l->addr) || dhcpd_lease_active(l, now))
            continue;
        if (!best || l->expires < best->expires ||
            (l->expires == best->expires && ntohl(l->addr.s_addr) < ntohl(best->addr.s_addr)))
            best = l;
    }
    if (!best)
        return false;
    *out = best->addr;
    *reused = !ref_is_mine(best, key, len, by_cid);
    return true;
}

/* ---- the random walk ---- */

struct stats {
    unsigned offers, reused, exhausted, acks, naks, releases, declines, reloads, saves;
};

static struct in_addr pool_addr(const struct dhcpd_pool *p)
{
    uint32_t lo = ntohl(p->start.s_addr), hi = ntohl(p->end.s_addr);
    struct in_addr a = {.s_addr = htonl(lo + rnd(hi - lo + 1))};
    return a;
}

static void step(int64_t now, struct in_addr *offered, struct stats *st)
{
    unsigned i = rnd(N_CLIENTS);
    struct who w = client(i);
    struct dhcp_msg m, r;
    struct dhcpd_result res;
    struct in_addr want;
    const struct dhcpd_pool *p;
    unsigned op = rnd(100);

    if (op < 40) { /* DISCOVER, a third of them with Option 50 */
        m = request(DHCPDISCOVER, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        if (rnd(3) == 0)
            dhcp_set_addr(&m, DHO_REQUESTED_IP, pool_addr(p));
        bool reused = false, expect = ref_offer(p, &m, now, &want, &reused);
        dhcpd_engine_handle(&cfg, p, &lt, now, &m, &r, &res);
        if (!expect) {
            ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
            ZTP_ASSERT_EQ_STR(res.reason, "pool exhausted");
            st->exhausted++;
            return;
        }
        ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
        if (r.yiaddr.s_addr != want.s_addr) {
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
            fprintf(stderr, "\n  t=%lld client %u offered %s (%s), the reference says %s\n", (long long)now, i,
                    inet_ntop(AF_INET, &r.yiaddr, a, sizeof a), res.reason, inet_ntop(AF_INET, &want, b, sizeof b));
        }
        CU_ASSERT_EQUAL_FATAL(r.yiaddr.s_addr, want.s_addr);
        st->offers++;
        st->reused += reused;
        offered[i] = r.yiaddr;
        return;
    }
    if (op < 60) { /* REQUEST selecting the last offer; one in ten chose another server */
        if (offered[i].s_addr == 0)
            return;
        m = request(DHCPREQUEST, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        dhcp_set_addr(&m, DHO_SERVER_ID, p->server);
        if (rnd(10) == 0)
            inet_pton(AF_INET, "198.18.99.99", &m.server_id);
        dhcp_set_addr(&m, DHO_REQUESTED_IP, offered[i]);
        offered[i].s_addr = 0;
    } else if (op < 70) { /* INIT-REBOOT with any address of the pool */
        m = request(DHCPREQUEST, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        dhcp_set_addr(&m, DHO_REQUESTED_IP, pool_addr(p));
    } else if (op < 80) { /* RENEWING: its own address when it has one, else any */
        m = request(DHCPREQUEST, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        const uint8_t *key = w.cid ? m.client_id : m.chaddr;
        size_t len = w.cid ? m.client_id_len : m.hlen;
        struct dhcpd_lease *l = dhcpd_leases_find_client(&lt, key, len, w.cid, ntohl(p->start.s_addr),
                                                         ntohl(p->end.s_addr));
        m.ciaddr = l && rnd(4) ? l->addr : pool_addr(p);
    } else if (op < 90) { /* RELEASE of its address */
        m = request(DHCPRELEASE, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        const uint8_t *key = w.cid ? m.client_id : m.chaddr;
        size_t len = w.cid ? m.client_id_len : m.hlen;
        struct dhcpd_lease *l = dhcpd_leases_find_client(&lt, key, len, w.cid, ntohl(p->start.s_addr),
                                                         ntohl(p->end.s_addr));
        if (!l)
            return;
        m.ciaddr = l->addr;
        st->releases++;
    } else { /* DECLINE of some address */
        m = request(DHCPDECLINE, &w);
        p = dhcpd_engine_select_pool(&cfg, "eth1", &m);
        dhcp_set_addr(&m, DHO_REQUESTED_IP, pool_addr(p));
        st->declines++;
    }
    dhcpd_engine_handle(&cfg, p, &lt, now, &m, &r, &res);
    st->acks += res.reply == DHCPD_ACK;
    st->naks += res.reply == DHCPD_NAK;
}

/* Save, then load into a fresh table that replaces the running one: a restart. */
static void restart(const char *path)
{
    char err[256];
    struct dhcpd_lease_table t2;
    ZTP_ASSERT_EQ_INT(dhcpd_leases_save(&lt, path), 0);
    dhcpd_leases_init(&t2);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t2, path, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(t2.n, lt.n);
    for (struct dhcpd_lease *x = dhcpd_leases_first(&lt); x; x = dhcpd_leases_next(&lt, x)) {
        struct dhcpd_lease *y = dhcpd_leases_find_addr(&t2, x->addr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(y);
        CU_ASSERT_EQUAL(y->state, x->state);
        CU_ASSERT_EQUAL(y->expires, x->expires);
        CU_ASSERT_EQUAL(y->key_len, x->key_len);
        CU_ASSERT_EQUAL(memcmp(y->key, x->key, x->key_len), 0);
    }
    dhcpd_leases_free(&lt);
    lt = t2;
}

static void test_random_walk(void)
{
    char path[] = "/tmp/test_dhcpd_walk.XXXXXX";
    int fd = mkstemp(path);
    struct in_addr offered[N_CLIENTS] = {{0}};
    struct stats st = {0};
    int64_t now = 1700000000;
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    close(fd);

    dhcpd_leases_init(&lt);
    load_cfg(cfg_a);
    for (int n = 0; n < 30000; n++) {
        now += rnd(10) == 0 ? rnd(30) : 0; /* 1.5 s a request on average: pools fill up */
        step(now, offered, &st);
        check_index();
        if (n % 2500 == 2499) {
            restart(path);
            check_index();
            st.saves++;
        }
        if (n % 7000 == 6999) { /* SIGHUP with other ranges, and back */
            load_cfg(n % 14000 == 13999 ? cfg_a : cfg_b);
            st.reloads++;
        }
    }
    /* The walk went through every branch: fresh addresses, reused ones, exhausted pools. */
    CU_ASSERT_TRUE(st.offers > 5000);
    CU_ASSERT_TRUE(st.exhausted > 0);
    CU_ASSERT_TRUE(st.reused > 100);
    CU_ASSERT_TRUE(st.acks > 1000);
    CU_ASSERT_TRUE(st.naks > 100);
    if (getenv("ZTP_TEST_VERBOSE") || st.exhausted == 0 || st.offers <= 5000 || st.reused <= 100)
        fprintf(stderr, "\n  offers=%u reused=%u exhausted=%u acks=%u naks=%u releases=%u declines=%u\n", st.offers,
                st.reused, st.exhausted, st.acks, st.naks, st.releases, st.declines);
    dhcpd_leases_free(&lt);
    dhcpd_config_free(&cfg);
    unlink(path);
}

/* ---- the table on its own ---- */

static void test_unused_and_holes(void)
{
    struct dhcpd_lease_range r = {.n_skip = 1};
    struct in_addr a;
    char s[INET_ADDRSTRLEN];
    dhcpd_leases_init(&lt);
    inet_pton(AF_INET, "198.18.10.1", &r.start);
    inet_pton(AF_INET, "198.18.10.8", &r.end);
    inet_pton(AF_INET, "198.18.10.3", &r.skip[0]);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_ranges(&lt, &r, 1), 0);
    /* Lowest first, the skipped address never. */
    struct dhcpd_lease *l[8] = {0};
    static const char *const want[] = {"198.18.10.1", "198.18.10.2", "198.18.10.4", "198.18.10.5",
                                       "198.18.10.6", "198.18.10.7", "198.18.10.8"};
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_TRUE_FATAL(dhcpd_leases_unused(&lt, 0, &a));
        ZTP_ASSERT_EQ_STR(inet_ntop(AF_INET, &a, s, sizeof s), want[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(l[i] = dhcpd_leases_add(&lt, a));
    }
    CU_ASSERT_FALSE(dhcpd_leases_unused(&lt, 0, &a));
    /* Removed entries make their addresses never-used again, lowest first. */
    dhcpd_leases_remove(&lt, l[5]);
    dhcpd_leases_remove(&lt, l[1]);
    dhcpd_leases_remove(&lt, l[4]);
    check_index();
    CU_ASSERT_TRUE(dhcpd_leases_unused(&lt, 0, &a));
    ZTP_ASSERT_EQ_STR(inet_ntop(AF_INET, &a, s, sizeof s), "198.18.10.2");
    CU_ASSERT_PTR_NOT_NULL(dhcpd_leases_add(&lt, a));
    /* An address taken by other means (a requested address) is skipped. */
    inet_pton(AF_INET, "198.18.10.6", &a);
    CU_ASSERT_PTR_NOT_NULL(dhcpd_leases_add(&lt, a));
    CU_ASSERT_TRUE(dhcpd_leases_unused(&lt, 0, &a));
    ZTP_ASSERT_EQ_STR(inet_ntop(AF_INET, &a, s, sizeof s), "198.18.10.7");
    check_index();
    /* Adding an address twice is refused. */
    CU_ASSERT_PTR_NULL(dhcpd_leases_add(&lt, a = l[0]->addr));
    /* An out-of-range range index is no range. */
    CU_ASSERT_FALSE(dhcpd_leases_unused(&lt, 1, &a));
    CU_ASSERT_PTR_NULL(dhcpd_leases_oldest_free(&lt, 1, 0));
    dhcpd_leases_free(&lt);
}

static void test_oldest_free(void)
{
    static const uint8_t k1[] = {1, 2, 3}, k2[] = {4, 5, 6}, k3[] = {7, 8, 9};
    struct dhcpd_lease_range r = {0};
    struct in_addr a;
    dhcpd_leases_init(&lt);
    inet_pton(AF_INET, "198.18.10.1", &r.start);
    inet_pton(AF_INET, "198.18.10.3", &r.end);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_ranges(&lt, &r, 1), 0);
    struct dhcpd_lease *l1, *l2, *l3;
    CU_ASSERT_TRUE(dhcpd_leases_unused(&lt, 0, &a));
    l1 = dhcpd_leases_add(&lt, a);
    CU_ASSERT_TRUE(dhcpd_leases_unused(&lt, 0, &a));
    l2 = dhcpd_leases_add(&lt, a);
    CU_ASSERT_TRUE(dhcpd_leases_unused(&lt, 0, &a));
    l3 = dhcpd_leases_add(&lt, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l3);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l1, true, k1, 3, k1, 3), 0);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l2, true, k2, 3, k2, 3), 0);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l3, false, k3, 3, k3, 3), 0);
    dhcpd_lease_set_state(&lt, l1, DLEASE_BOUND, 500, "test");
    dhcpd_lease_set_state(&lt, l2, DLEASE_BOUND, 300, "test");
    dhcpd_lease_set_state(&lt, l3, DLEASE_BOUND, DLEASE_NEVER, "test");
    CU_ASSERT_PTR_NULL(dhcpd_leases_oldest_free(&lt, 0, 299));
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_oldest_free(&lt, 0, 300), l2);
    /* l2 renewed: l1 is now the one free the longest; l3 (infinite) never is. */
    dhcpd_lease_set_state(&lt, l2, DLEASE_BOUND, 900, "test");
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_oldest_free(&lt, 0, 600), l1);
    /* A release counts from its time. */
    dhcpd_lease_set_state(&lt, l2, DLEASE_RELEASED, 400, "test");
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_oldest_free(&lt, 0, 600), l2);
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_oldest_free(&lt, 0, 10000), l2);
    dhcpd_leases_remove(&lt, l2);
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_oldest_free(&lt, 0, 10000), l1);
    /* Clients: the entries are found by key; a key moves with set_client. */
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_find_client(&lt, k1, 3, true, 0, UINT32_MAX), l1);
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_client(&lt, k1, 3, false, 0, UINT32_MAX)); /* same bytes, chaddr key */
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_find_client(&lt, k3, 3, false, 0, UINT32_MAX), l3);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l1, false, k3, 3, k3, 3), 0);
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_client(&lt, k1, 3, true, 0, UINT32_MAX));
    ZTP_ASSERT_EQ_INT(l1->state, DLEASE_FREE);
    /* Both entries are k3's now; the range decides which is found. */
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_find_client(&lt, k3, 3, false, ntohl(l1->addr.s_addr), ntohl(l1->addr.s_addr)), l1);
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_find_client(&lt, k3, 3, false, ntohl(l3->addr.s_addr), ntohl(l3->addr.s_addr)), l3);
    check_index();
    dhcpd_leases_free(&lt);
}

/* The file: one entry per line (greppable), entries that did not change keep their cached line, and
 * the older indented format still loads. */
static void test_file_format(void)
{
    static const uint8_t mac[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05}, cid[7] = {1, 0xfa, 0x16, 0x3e, 0x14, 0xdb, 5};
    char err[256], *s;
    struct in_addr a;
    struct dhcpd_lease *l;
    dhcpd_leases_init(&lt);
    s = dhcpd_leases_to_json(&lt);
    ZTP_ASSERT_EQ_STR(s, "{\n  \"version\": 1,\n  \"leases\": [\n  ]\n}\n");
    free(s);
    inet_pton(AF_INET, "198.18.10.100", &a);
    l = dhcpd_leases_add(&lt, a);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l, true, cid, 7, mac, 6), 0);
    dhcpd_lease_set_state(&lt, l, DLEASE_BOUND, 1795447735, "test");
    inet_pton(AF_INET, "198.18.10.101", &a);
    l = dhcpd_leases_add(&lt, a);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_set_client(&lt, l, false, mac, 6, mac, 6), 0);
    dhcpd_lease_set_state(&lt, l, DLEASE_OFFERED, DLEASE_NEVER, "test");
    s = dhcpd_leases_to_json(&lt);
    ZTP_ASSERT_EQ_STR(s, "{\n  \"version\": 1,\n  \"leases\": [\n"
                         "    {\"address\": \"198.18.10.100\", \"state\": \"bound\", \"expires\": 1795447735, "
                         "\"chaddr\": \"fa:16:3e:14:db:05\", \"client_id\": \"01fa163e14db05\"},\n"
                         "    {\"address\": \"198.18.10.101\", \"state\": \"offered\", \"expires\": null, "
                         "\"chaddr\": \"fa:16:3e:14:db:05\"}\n"
                         "  ]\n}\n");
    free(s);
    /* A change shows in the next rendering. */
    dhcpd_lease_set_state(&lt, l, DLEASE_RELEASED, 1700000000, "test");
    s = dhcpd_leases_to_json(&lt);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "{\"address\": \"198.18.10.101\", \"state\": \"released\", \"expires\": 1700000000"));
    free(s);
    dhcpd_leases_free(&lt);

    /* The format written before the cached lines (jansson, indent 2). */
    static const char old[] = "{\n  \"version\": 1,\n  \"leases\": [\n    {\n      \"address\": \"198.18.10.100\",\n"
                              "      \"state\": \"bound\",\n      \"expires\": 1795447735,\n"
                              "      \"chaddr\": \"fa:16:3e:14:db:05\",\n      \"client_id\": \"01fa163e14db05\"\n"
                              "    }\n  ]\n}\n";
    dhcpd_leases_init(&lt);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_from_json(&lt, old, strlen(old), err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(lt.n, 1);
    CU_ASSERT_FALSE(lt.dirty);
    inet_pton(AF_INET, "198.18.10.100", &a);
    l = dhcpd_leases_find_addr(&lt, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ZTP_ASSERT_EQ_INT(l->state, DLEASE_BOUND);
    CU_ASSERT_PTR_EQUAL(dhcpd_leases_find_client(&lt, cid, 7, true, 0, UINT32_MAX), l);
    check_index();
    dhcpd_leases_free(&lt);
}

int main(void)
{
    log_init("test", "test_dhcpd_leases", LOG_LVL_WARN);
    static const struct ztp_test tests[] = {
        {"never-used addresses: lowest first, skips, holes", test_unused_and_holes},
        {"reuse: the entry free the longest; client index", test_oldest_free},
        {"lease file: one entry per line, old format loads", test_file_format},
        {"30,000 random requests against the reference allocator", test_random_walk},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {
        {"dhcpd lease indexes", tests},
        {NULL, NULL},
    };
    return ztp_cunit_run(suites);
}
