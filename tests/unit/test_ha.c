/* HA sync: the datagram codec, the peer bookkeeping, and two nodes wired by a socket pair. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "ha.h"
#include "node.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    CU_ASSERT_FATAL(inet_pton(AF_INET, s, &a) == 1);
    return a;
}

static void fill_msg(struct ha_msg *m)
{
    memset(m, 0, sizeof *m);
    strcpy(m->router, "r1");
    strcpy(m->node, "b");
    m->instance = 0xdeadbeef;
    m->seq = 42;
    m->n = 2;
    strcpy(m->e[0].netif, "wan1");
    strcpy(m->e[0].device, "dev1");
    strcpy(m->e[0].ifname, "eth1");
    m->e[0].addr = ip("198.18.10.11");
    m->e[0].port = 3128;
    m->e[0].lease_remaining = 117;
    m->e[0].age = 3;
    strcpy(m->e[0].lease, "bound");
    strcpy(m->e[1].netif, "mpls");
    m->e[1].addr = ip("198.18.20.1");
    m->e[1].port = 65535;
    m->e[1].lease_remaining = HA_MAX_LEASE_S;
    m->e[1].age = 0;
}

static void test_roundtrip(void)
{
    static struct ha_msg m, d;
    char buf[HA_MAX_DATAGRAM];
    const char *why = NULL;
    fill_msg(&m);
    ssize_t len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT_FATAL(len > 0);
    ZTP_ASSERT_EQ_INT(ha_decode(buf, (size_t)len, &d, &why), 0);
    ZTP_ASSERT_EQ_STR(d.router, "r1");
    ZTP_ASSERT_EQ_STR(d.node, "b");
    ZTP_ASSERT_EQ_INT(d.instance, 0xdeadbeefu);
    ZTP_ASSERT_EQ_INT(d.seq, 42);
    ZTP_ASSERT_EQ_INT(d.n, 2);
    ZTP_ASSERT_EQ_STR(d.e[0].netif, "wan1");
    ZTP_ASSERT_EQ_STR(d.e[0].device, "dev1");
    ZTP_ASSERT_EQ_STR(d.e[0].ifname, "eth1");
    ZTP_ASSERT_EQ_INT(d.e[0].addr.s_addr, ip("198.18.10.11").s_addr);
    ZTP_ASSERT_EQ_INT(d.e[0].port, 3128);
    ZTP_ASSERT_EQ_INT(d.e[0].lease_remaining, 117);
    ZTP_ASSERT_EQ_INT(d.e[0].age, 3);
    ZTP_ASSERT_EQ_STR(d.e[0].lease, "bound");
    ZTP_ASSERT_EQ_STR(d.e[1].netif, "mpls");
    ZTP_ASSERT_EQ_STR(d.e[1].device, "");
    ZTP_ASSERT_EQ_STR(d.e[1].lease, "");
    ZTP_ASSERT_EQ_INT(d.e[1].port, 65535);
    ZTP_ASSERT_EQ_INT(d.e[1].lease_remaining, HA_MAX_LEASE_S);
    CU_ASSERT(memcmp(&m, &d, sizeof m) == 0);

    /* An empty table is a valid message (the peer lost everything). */
    m.n = 0;
    len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT_FATAL(len > 0);
    ZTP_ASSERT_EQ_INT(ha_decode(buf, (size_t)len, &d, &why), 0);
    ZTP_ASSERT_EQ_INT(d.n, 0);

    /* A full table fits in one datagram. */
    fill_msg(&m);
    m.n = HA_MAX_ENTRIES;
    for (size_t i = 0; i < HA_MAX_ENTRIES; i++) {
        m.e[i] = m.e[0];
        snprintf(m.e[i].netif, sizeof m.e[i].netif, "network-interface-with-a-long-name-%02zu", i);
        snprintf(m.e[i].device, sizeof m.e[i].device, "device-interface-with-a-long-name-%02zu", i);
        strcpy(m.e[i].lease, "rebinding");
    }
    len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT_FATAL(len > 0);
    ZTP_ASSERT_EQ_INT(ha_decode(buf, (size_t)len, &d, &why), 0);
    ZTP_ASSERT_EQ_INT(d.n, HA_MAX_ENTRIES);
    CU_ASSERT(memcmp(&m, &d, sizeof m) == 0);
}

static void test_encode_refuses(void)
{
    static struct ha_msg m;
    char buf[HA_MAX_DATAGRAM];
    fill_msg(&m);
    ZTP_ASSERT_EQ_INT(ha_encode(&m, buf, 40), -1); /* does not fit */
    strcpy(m.node, "has space");
    ZTP_ASSERT_EQ_INT(ha_encode(&m, buf, sizeof buf), -1);
    fill_msg(&m);
    m.n = HA_MAX_ENTRIES + 1;
    ZTP_ASSERT_EQ_INT(ha_encode(&m, buf, sizeof buf), -1);
    fill_msg(&m);
    m.e[1].port = 0;
    ZTP_ASSERT_EQ_INT(ha_encode(&m, buf, sizeof buf), -1);
}

static void expect_bad(const char *json, const char *reason)
{
    static struct ha_msg d;
    const char *why = NULL;
    int r = ha_decode(json, strlen(json), &d, &why);
    if (r != -1 || !why || strcmp(why, reason) != 0)
        fprintf(stderr, "\n  input %s: r=%d why=\"%s\", expected \"%s\"\n", json, r, why ? why : "(null)", reason);
    ZTP_ASSERT_EQ_INT(r, -1);
    ZTP_ASSERT_EQ_STR(why, reason);
    ZTP_ASSERT_EQ_INT(d.n, 0);
}

#define HDR "{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r1\",\"node\":\"b\",\"instance\":1,\"seq\":1,"
#define ENT(x) HDR "\"entries\":[" x "]}"

static void test_decode_rejects(void)
{
    static struct ha_msg d;
    const char *why = NULL;
    static char big[HA_MAX_DATAGRAM + 2];

    expect_bad("", "empty");
    expect_bad("not json", "not JSON");
    expect_bad("{\"v\":1", "not JSON");
    expect_bad("[1,2]", "not a JSON object");
    expect_bad("{}", "missing version");
    expect_bad("{\"v\":2}", "unsupported version");
    expect_bad("{\"v\":1,\"type\":\"other\"}", "not an ha.sync message");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\"}", "missing or bad router");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r 1\"}", "missing or bad router");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r1\",\"node\":\"\"}", "missing or bad node");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r1\",\"node\":\"a\\u0000b\"}", "not JSON");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r1\",\"node\":\"b\",\"instance\":-1}",
               "missing or bad instance");
    expect_bad("{\"v\":1,\"type\":\"ha.sync\",\"router\":\"r1\",\"node\":\"b\",\"instance\":4294967296}",
               "missing or bad instance");
    expect_bad(HDR "\"seq\":\"1\"}" /* duplicate key */, "not JSON");
    expect_bad(HDR "\"entries\":{}}", "missing entries");
    expect_bad(ENT("1"), "entry is not an object");
    expect_bad(ENT("{\"address\":\"198.18.0.1\",\"port\":1,\"lease-remaining\":1,\"age\":0}"), "bad network-interface");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.256\",\"port\":1,\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad address");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"proxy.example\",\"port\":1,\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad address");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"0.0.0.0\",\"port\":1,\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad address");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":0,\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad port");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":65536,\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad port");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":\"80\",\"lease-remaining\":1,"
                   "\"age\":0}"),
               "bad port");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":80,\"lease-remaining\":-5,"
                   "\"age\":0}"),
               "bad lease-remaining");
    expect_bad(ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":80,\"lease-remaining\":5}"),
               "bad age");
    expect_bad(ENT("{\"network-interface\":\"w\",\"ifname\":\"a/b\",\"address\":\"198.18.0.1\",\"port\":80,"
                   "\"lease-remaining\":5,\"age\":0}"),
               "bad ifname");
    expect_bad(ENT("{\"network-interface\":\"w\",\"lease-state\":\"BOUND\",\"address\":\"198.18.0.1\",\"port\":80,"
                   "\"lease-remaining\":5,\"age\":0}"),
               "bad lease-state");

    /* Unknown keys are ignored. */
    const char *ok = ENT("{\"network-interface\":\"w\",\"address\":\"198.18.0.1\",\"port\":80,\"lease-remaining\":5,"
                         "\"age\":0,\"future\":[1]}");
    ZTP_ASSERT_EQ_INT(ha_decode(ok, strlen(ok), &d, &why), 0);
    ZTP_ASSERT_EQ_INT(d.n, 1);

    /* Too many entries. */
    char many[HA_MAX_DATAGRAM];
    size_t o = (size_t)snprintf(many, sizeof many, "%s", HDR "\"entries\":[");
    for (int i = 0; i <= HA_MAX_ENTRIES; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "%s{}", i ? "," : "");
    snprintf(many + o, sizeof many - o, "]}");
    expect_bad(many, "too many entries");

    /* Oversize: refused before parsing. */
    memset(big, ' ', sizeof big);
    ZTP_ASSERT_EQ_INT(ha_decode(big, HA_MAX_DATAGRAM + 1, &d, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "oversize");

    /* Every truncation of a valid datagram is refused (and never read past its length). */
    static struct ha_msg m;
    char buf[HA_MAX_DATAGRAM];
    fill_msg(&m);
    ssize_t len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT_FATAL(len > 0);
    for (ssize_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut ? (size_t)cut : 1); /* exact size: ASan catches an over-read */
        memcpy(p, buf, (size_t)cut);
        if (ha_decode(p, (size_t)cut, &d, &why) != -1)
            CU_FAIL("a truncated datagram was accepted");
        free(p);
    }
}

static void test_accept(void)
{
    static struct ha h;
    static struct ha_msg m;
    const char *why = NULL;
    ha_init(&h, "r1", "a", 3000);
    fill_msg(&m);

    strcpy(m.router, "r2");
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1000, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "wrong router");
    strcpy(m.router, "r1");
    strcpy(m.node, "a");
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1000, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "own node name");
    strcpy(m.node, "b");
    strcpy(h.expect_peer, "c");
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1000, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "not the peer node");
    strcpy(h.expect_peer, "b");
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1000, &why), 0);
    CU_ASSERT(h.peer.known);
    ZTP_ASSERT_EQ_INT(h.peer.seen_at_ms, 1000);

    /* Same instance: a replayed or older sequence number is dropped, a newer one accepted. */
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1100, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "stale sequence number");
    m.seq = 41;
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1100, &why), -1);
    m.seq = 43;
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1200, &why), 0);
    ZTP_ASSERT_EQ_INT(h.peer.seen_at_ms, 1200);
    /* A restarted peer (new instance) starts again at 1. */
    m.instance = 7;
    m.seq = 1;
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 1300, &why), 0);
}

static void test_peer_timeout(void)
{
    static struct ha h;
    static struct ha_msg m;
    ha_init(&h, "r1", "a", 3000);
    fill_msg(&m);
    CU_ASSERT(!ha_peer_timed_out(&h, 100000)); /* never heard: nothing to time out */
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 10000, NULL), 0);
    ZTP_ASSERT_EQ_INT(ha_next_timeout_ms(&h, 10000), 3000); /* no socket: only the peer deadline */
    CU_ASSERT(!ha_peer_timed_out(&h, 12999));
    CU_ASSERT(ha_peer_timed_out(&h, 13000));
    CU_ASSERT(!ha_peer_timed_out(&h, 13001)); /* reported once */
    CU_ASSERT(!h.peer.known);
    ZTP_ASSERT_EQ_STR(h.peer.node, "b");
    /* Heard again: same instance but it is a new acquaintance, any seq goes. */
    m.seq = 1;
    ZTP_ASSERT_EQ_INT(ha_accept(&h, &m, 20000, NULL), 0);
    CU_ASSERT(h.peer.known);
}

static void test_endpoint(void)
{
    struct sockaddr_in sa;
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("198.18.0.1:7001", &sa), 0);
    ZTP_ASSERT_EQ_INT(ntohs(sa.sin_port), 7001);
    ZTP_ASSERT_EQ_INT(sa.sin_addr.s_addr, ip("198.18.0.1").s_addr);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("198.18.0.1", &sa), -1);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("198.18.0.1:0", &sa), -1);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("198.18.0.1:65536", &sa), -1);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("198.18.0.1:07", &sa), -1);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint("host:7001", &sa), -1);
    ZTP_ASSERT_EQ_INT(ha_parse_endpoint(":7001", &sa), -1);
}

/* ---- over a socket pair ---- */

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void test_socketpair(void)
{
    static struct ha a, b;
    static struct ha_msg m, got;
    int sv[2];
    char buf[HA_MAX_DATAGRAM];

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    nonblock(sv[0]);
    nonblock(sv[1]);
    ha_init(&a, "r1", "a", 3000);
    ha_init(&b, "r1", "b", 3000);
    ha_attach_fd(&a, sv[0]);
    ha_attach_fd(&b, sv[1]);

    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 0), -EAGAIN);
    fill_msg(&m);
    ZTP_ASSERT_EQ_INT(ha_send(&a, m.e, 2, 5000), 0);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5001), 1);
    ZTP_ASSERT_EQ_STR(got.node, "a");
    ZTP_ASSERT_EQ_INT(got.seq, 1);
    ZTP_ASSERT_EQ_INT(got.n, 2);
    ZTP_ASSERT_EQ_INT(got.e[0].addr.s_addr, m.e[0].addr.s_addr);
    CU_ASSERT(b.peer.known);
    ZTP_ASSERT_EQ_STR(b.peer.node, "a");
    /* Heartbeat schedule. */
    CU_ASSERT(!ha_send_due(&a, 5999));
    CU_ASSERT(ha_send_due(&a, 6000));

    /* Bad datagrams are dropped (counted), the socket keeps working. */
    static const char junk[] = "\x00\x01garbage\"";
    CU_ASSERT(send(sv[0], junk, sizeof junk - 1, 0) > 0);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5002), 0);
    /* A replay of seq 1 (encoded by hand with a's identity). */
    strcpy(m.node, "a");
    m.instance = a.instance;
    m.seq = 1;
    ssize_t len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT(send(sv[0], buf, (size_t)len, 0) == len);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5003), 0);
    /* Our own name echoed back (a looped cable). */
    strcpy(m.node, "b");
    m.seq = 99;
    len = ha_encode(&m, buf, sizeof buf);
    CU_ASSERT(send(sv[0], buf, (size_t)len, 0) == len);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5004), 0);
    /* Oversize. */
    static char big[HA_MAX_DATAGRAM + 100];
    memset(big, '{', sizeof big);
    CU_ASSERT(send(sv[0], big, sizeof big, 0) == (ssize_t)sizeof big);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5005), 0);
    ZTP_ASSERT_EQ_INT(b.peer.dropped, 4);
    ZTP_ASSERT_EQ_INT(ha_send(&a, NULL, 0, 5006), 0);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5006), 1);
    ZTP_ASSERT_EQ_INT(got.n, 0);
    ZTP_ASSERT_EQ_INT(got.seq, 2);
    ZTP_ASSERT_EQ_INT(ha_receive(&b, &got, 5007), -EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

/* ---- two nodes of one router, HA over a socket pair ---- */

static const char ha_conf[] = "config authority router r1 management-proxy enable\n"
                              "config authority router r1 node a device-interface d1 network-interface wan1 dhcp v4\n"
                              "config authority router r1 node a device-interface d2 network-interface wan2 dhcp v4\n"
                              "config authority router r1 node b device-interface d1 network-interface wan1 dhcp v4\n";

static void learn(struct node *n, const char *netif, const char *addrport, time_t now, time_t expires)
{
    uint8_t v[64];
    ssize_t l = dhcp_vendor_build_proxy(v, sizeof v, addrport);
    CU_ASSERT_FATAL(l > 0);
    struct node_netif *nif = node_find_netif(n, netif);
    CU_ASSERT_FATAL(nif != NULL);
    node_dhcp_bound(n, nif, v, (size_t)l, expires, false, now);
}

static const char *active(const struct node *n, char *buf)
{
    if (n->active.source == PROXY_SRC_NONE)
        return "none";
    return proxy_addr_format(n->active.addr, n->active.port, buf, 32);
}

static void test_two_nodes(void)
{
    static struct router_config cfg;
    static struct node na, nb;
    char err[256], b1[32];
    int sv[2];
    time_t t0 = 1700000000;

    CU_ASSERT_FATAL(router_config_parse(ha_conf, sizeof ha_conf - 1, &cfg, err, sizeof err) == 0);
    node_init_from(&na, &cfg, "a", NULL, false);
    node_init_from(&nb, &cfg, "b", NULL, false);
    ZTP_ASSERT_EQ_STR(na.ha.expect_peer, "b");
    ZTP_ASSERT_EQ_INT(na.n_netifs, 2);
    ZTP_ASSERT_EQ_INT(nb.n_netifs, 1);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    nonblock(sv[0]);
    nonblock(sv[1]);
    ha_attach_fd(&na.ha, sv[0]);
    ha_attach_fd(&nb.ha, sv[1]);
    na.ha_enabled = nb.ha_enabled = true;
    node_reselect(&na, "start");
    node_reselect(&nb, "start");

    learn(&na, "wan1", "198.18.10.11:3128", t0, t0 + 120);
    learn(&nb, "wan1", "198.18.10.10:8080", t0, t0 + 120);
    ZTP_ASSERT_EQ_STR(active(&na, b1), "198.18.10.11:3128");
    ZTP_ASSERT_EQ_STR(active(&nb, b1), "198.18.10.10:8080");

    /* Each side sends its change at once; each side reads what the other sent. */
    node_tick(&na, 1000, t0);
    node_tick(&nb, 1000, t0);
    static struct ha_msg m;
    ZTP_ASSERT_EQ_INT(ha_receive(&na.ha, &m, 1001), 1);
    node_ha_input(&na, &m, 1001, t0);
    ZTP_ASSERT_EQ_INT(ha_receive(&nb.ha, &m, 1001), 1);
    node_ha_input(&nb, &m, 1001, t0);
    ZTP_ASSERT_EQ_INT(m.n, 1);

    /* Both select the same lowest address. */
    ZTP_ASSERT_EQ_STR(active(&na, b1), "198.18.10.10:8080");
    ZTP_ASSERT_EQ_STR(active(&nb, b1), "198.18.10.10:8080");
    ZTP_ASSERT_EQ_STR(na.active.node, "b");
    CU_ASSERT(na.active.from_peer);
    ZTP_ASSERT_EQ_STR(nb.active.node, "b");
    CU_ASSERT(!nb.active.from_peer);
    const struct learned_proxy *pe = proxy_table_find(&na.table, "b", "wan1");
    CU_ASSERT_FATAL(pe != NULL);
    CU_ASSERT(pe->from_peer);
    ZTP_ASSERT_EQ_INT(pe->expires_at, t0 + 120);

    /* A lower address on a's second interface wins on both. */
    learn(&na, "wan2", "198.18.9.255:3128", t0 + 1, t0 + 120);
    node_tick(&na, 1500, t0 + 1);
    ZTP_ASSERT_EQ_INT(ha_receive(&nb.ha, &m, 1501), 1);
    node_ha_input(&nb, &m, 1501, t0 + 1);
    ZTP_ASSERT_EQ_INT(m.n, 2);
    ZTP_ASSERT_EQ_STR(active(&na, b1), "198.18.9.255:3128");
    ZTP_ASSERT_EQ_STR(active(&nb, b1), "198.18.9.255:3128");

    /* a's lease on wan2 is lost: the next datagram withdraws it on b. */
    node_dhcp_unbound(&na, node_find_netif(&na, "wan2"), "nak", t0 + 2);
    node_tick(&na, 1600, t0 + 2);
    ZTP_ASSERT_EQ_INT(ha_receive(&nb.ha, &m, 1601), 1);
    node_ha_input(&nb, &m, 1601, t0 + 2);
    ZTP_ASSERT_EQ_STR(active(&nb, b1), "198.18.10.10:8080");
    CU_ASSERT(proxy_table_find(&nb.table, "a", "wan2") == NULL);
    CU_ASSERT(proxy_table_find(&nb.table, "a", "wan1") != NULL);

    /* Node b goes silent: after the HA timeout (3 s) a drops b's entries and re-selects its own. */
    node_tick(&na, 1001 + 2999, t0 + 3);
    ZTP_ASSERT_EQ_STR(active(&na, b1), "198.18.10.10:8080");
    node_tick(&na, 1001 + 3000, t0 + 4);
    CU_ASSERT(proxy_table_find(&na.table, "b", "wan1") == NULL);
    ZTP_ASSERT_EQ_STR(active(&na, b1), "198.18.10.11:3128");
    CU_ASSERT(!na.peer_was_up);

    /* The peer's entries also expire with the lease time they carried. */
    pe = proxy_table_find(&nb.table, "a", "wan1");
    CU_ASSERT_FATAL(pe != NULL);
    node_tick(&nb, 1700, t0 + 121);
    CU_ASSERT(proxy_table_find(&nb.table, "a", "wan1") == NULL);
    CU_ASSERT(proxy_table_find(&nb.table, "b", "wan1") == NULL); /* its own lease ran out too */
    ZTP_ASSERT_EQ_STR(active(&nb, b1), "none");

    close(sv[0]);
    close(sv[1]);
}

static const struct ztp_test codec_tests[] = {
    {"round trip", test_roundtrip},
    {"encode refuses bad input", test_encode_refuses},
    {"decode rejects bad datagrams", test_decode_rejects},
    {"endpoint parsing", test_endpoint},
    {NULL, NULL},
};
static const struct ztp_test peer_tests[] = {
    {"accept: router, own name, sequence", test_accept},
    {"peer timeout", test_peer_timeout},
    {"socket pair: send, receive, drops", test_socketpair},
    {"two nodes: same lowest, withdraw, age out", test_two_nodes},
    {NULL, NULL},
};
static const struct ztp_suite suites[] = {
    {"ha codec", codec_tests},
    {"ha peer", peer_tests},
    {NULL, NULL},
};

int main(void)
{
    log_init("test", "test_ha", LOG_LVL_WARN);
    return ztp_cunit_run(suites);
}
