/* Learned-proxy table and the selection rules of the management proxy. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cunit_main.h"
#include "onboarding.h"
#include "proxysel.h"
#include "ztp/dhcp.h"

#define R "config authority router r1 "

static struct router_config cfg;
static struct proxy_table tab;
static struct active_proxy ap;

static void load_cfg(const char *text)
{
    char err[256];
    int r = router_config_parse(text, strlen(text), &cfg, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  config: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    CU_ASSERT_EQUAL(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static const char *ap_str(const struct active_proxy *a)
{
    static char buf[32];
    return proxy_addr_format(a->addr, a->port, buf, sizeof buf);
}

/* Learn "addrport" for (node, netif) through the real Option 43 path. */
static int learn(const char *node, const char *netif, const char *addrport, time_t now, time_t expires)
{
    uint8_t v[255];
    const char *why = NULL;
    ssize_t n = dhcp_vendor_build_proxy(v, sizeof v, addrport);
    CU_ASSERT_TRUE_FATAL(n > 0);
    int r = proxysel_learn(&tab, node, netif, "eth1", v, (size_t)n, now, expires, &why, NULL);
    if (r < 0)
        fprintf(stderr, "\n  learn %s: %s\n", addrport, why ? why : "?");
    return r;
}

/* A peer entry as ha.c would insert it. */
static void peer_entry(const char *node, const char *netif, const char *addr, uint16_t port, time_t seen)
{
    struct learned_proxy p;
    memset(&p, 0, sizeof p);
    snprintf(p.node, sizeof p.node, "%s", node);
    snprintf(p.netif, sizeof p.netif, "%s", netif);
    snprintf(p.ifname, sizeof p.ifname, "eth1");
    p.addr = ip(addr);
    p.port = port;
    p.lease = LEASE_BOUND;
    p.learned_at = seen;
    p.expires_at = seen + 6000;
    p.from_peer = true;
    p.peer_seen_at = seen;
    CU_ASSERT_TRUE(proxy_table_upsert(&tab, &p) >= 0);
}

static const char *learned_cfg = R "management-proxy enable\n"
                                   R "node A device-interface wan0 network-interface wan0 dhcp v4\n"
                                   R "node A device-interface wan1 network-interface wan1 dhcp v4\n"
                                   R "node B device-interface wan0 network-interface wanB dhcp v4\n";

/* ---- Option 43 learning ---- */

static void test_learn_kea_and_dnsmasq_forms(void)
{
    proxy_table_init(&tab);
    /* Kea: exactly 17 bytes */
    uint8_t kea[] = {0x80, 0x0f, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8'};
    /* dnsmasq: the same plus an END byte (18 bytes) */
    uint8_t dnsmasq[] = {0x80, 0x0f, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8', 0xff};
    const char *why = NULL;
    bool had_old = true;
    ZTP_ASSERT_EQ_INT(sizeof kea, 17);
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", kea, sizeof kea, 100, 6100, &why, &had_old),
                      PROXY_UPSERT_NEW);
    CU_ASSERT_FALSE(had_old);
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan1", "eth2", dnsmasq, sizeof dnsmasq, 100, 6100, &why, NULL),
                      PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(tab.n, 2);
    struct learned_proxy *e = proxy_table_find(&tab, "A", "wan0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    ZTP_ASSERT_EQ_INT(e->addr.s_addr, ip("10.92.53.8").s_addr);
    ZTP_ASSERT_EQ_INT(e->port, 3128);
    ZTP_ASSERT_EQ_STR(e->ifname, "eth1");
    ZTP_ASSERT_EQ_INT(e->lease, LEASE_BOUND);
    ZTP_ASSERT_EQ_INT(e->learned_at, 100);
    ZTP_ASSERT_EQ_INT(e->expires_at, 6100);
    CU_ASSERT_FALSE(e->from_peer);
    /* renewal with the same value, then a changed one */
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", kea, sizeof kea, 3100, 9100, &why, &had_old),
                      PROXY_UPSERT_SAME);
    CU_ASSERT_TRUE(had_old);
    ZTP_ASSERT_EQ_INT(proxy_table_find(&tab, "A", "wan0")->expires_at, 9100);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "10.92.53.9:3128", 3200, 9200), PROXY_UPSERT_CHANGED);
    ZTP_ASSERT_EQ_INT(proxy_table_find(&tab, "A", "wan0")->addr.s_addr, ip("10.92.53.9").s_addr);
    /* sub-option 128 after padding and another sub-option */
    uint8_t mixed[] = {0x00, 0x01, 0x02, 'x', 'y', 0x80, 0x0c, '1', '9', '8', '.', '1', '8', '.', '0', '.', '1', ':', '1'};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan2", "eth3", mixed, sizeof mixed, 1, 2, &why, NULL),
                      PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxy_table_find(&tab, "A", "wan2")->port, 1);
}

struct bad_case {
    const char *value;
    const char *why;
};

static void test_learn_rejects_bad_values(void)
{
    static const struct bad_case cases[] = {
        {"proxy.lab:3128", "not an IPv4 address"},
        {"10.92.53.8:0", "port out of range"},
        {"10.92.53.8:65536", "port out of range"},
        {"10.92.53.8:123456", "port out of range"},
        {"garbage", "not an IPv4 address"},
        {"1.2.3:80", "not an IPv4 address"},
        {"01.2.3.4:80", "not an IPv4 address (leading zero)"},
        {"256.1.1.1:80", "not an IPv4 address (octet over 255)"},
        {"10.92.53.8", "missing :port"},
        {"10.92.53.8:", "port is not a number"},
        {"10.92.53.8:3128 ", "trailing characters after the port"},
        {" 10.92.53.8:3128", "not an IPv4 address"},
        {"10.92.53.8:-1", "port is not a number"},
        {"0.0.0.0:3128", "not a usable IPv4 address"},
    };
    uint8_t v[255];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proxy_table_init(&tab);
        /* a previous good value: the ACK carrying garbage removes it */
        ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 100), PROXY_UPSERT_NEW);
        ssize_t n = dhcp_vendor_build_proxy(v, sizeof v, cases[i].value);
        CU_ASSERT_TRUE_FATAL(n > 0);
        const char *why = NULL;
        bool had_old = false;
        ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", v, (size_t)n, 2, 200, &why, &had_old), -1);
        ZTP_ASSERT_EQ_STR(why, cases[i].why);
        CU_ASSERT_TRUE(had_old);
        ZTP_ASSERT_EQ_INT(tab.n, 0);
    }
    /* empty sub-option, no sub-option 128, no Option 43, truncated Option 43 */
    const char *why = NULL;
    proxy_table_init(&tab);
    uint8_t empty[] = {0x80, 0x00};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", empty, sizeof empty, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "empty");
    uint8_t other[] = {0x01, 0x03, 'a', 'b', 'c', 0xff};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", other, sizeof other, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "no sub-option 128 in Option 43");
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", NULL, 0, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "no Option 43");
    uint8_t trunc[] = {0x80, 0x0f, '1', '0', '.'};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", trunc, sizeof trunc, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "malformed Option 43 (a sub-option runs past its end)");
    uint8_t lone[] = {0x80};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", lone, sizeof lone, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "malformed Option 43 (a sub-option runs past its end)");
    /* an embedded NUL is not accepted */
    uint8_t nul[] = {0x80, 0x0a, '1', '.', '2', '.', '3', '.', '4', ':', '8', 0x00};
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "wan0", "eth1", nul, sizeof nul, 1, 2, &why, NULL), -1);
    ZTP_ASSERT_EQ_STR(why, "trailing characters after the port");
    ZTP_ASSERT_EQ_INT(tab.n, 0);
    /* names too long never enter */
    ZTP_ASSERT_EQ_INT(proxysel_learn(&tab, "A", "a-network-interface-name-too-long-for-the-table", "eth1",
                                     empty, sizeof empty, 1, 2, &why, NULL),
                      -1);
    ZTP_ASSERT_EQ_INT(tab.n, 0);
}

/* ---- selection ---- */

static void test_static(void)
{
    load_cfg(R "management-proxy mode static\n" R "management-proxy proxy 10.0.0.1 address 10.0.0.1\n"
             R "management-proxy proxy 10.0.0.1 port 5000\n");
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "9.9.9.9:1", 1, 0), PROXY_UPSERT_NEW); /* lower, but static wins */
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_CONFIG_STATIC);
    ZTP_ASSERT_EQ_STR(proxy_source_name(ap.source), "config-static");
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "10.0.0.1:5000");
    ZTP_ASSERT_EQ_STR(ap.name, "10.0.0.1");
    CU_ASSERT_TRUE(ap.enabled);
    ZTP_ASSERT_EQ_INT(ap.mode, MGMT_PROXY_STATIC);

    /* several: lowest integer address, then lowest port */
    load_cfg(R "management-proxy mode static\n"
             R "management-proxy proxy a address 10.0.0.0\n" R "management-proxy proxy a port 3128\n"
             R "management-proxy proxy b address 9.255.255.255\n" R "management-proxy proxy b port 8080\n"
             R "management-proxy proxy c address 9.255.255.255\n" R "management-proxy proxy c port 80\n");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, NULL, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "9.255.255.255:80");
    ZTP_ASSERT_EQ_STR(ap.name, "c");

    /* static beats the onboarding.json proxy */
    struct onboarding_info ob;
    memset(&ob, 0, sizeof ob);
    ob.have_proxy = true;
    ob.proxy_addr = ip("1.1.1.1");
    ob.proxy_port = 1;
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_CONFIG_STATIC);

    /* static with explicit enable false: nothing */
    load_cfg(R "management-proxy enable false\n" R "management-proxy mode static\n"
             R "management-proxy proxy a address 10.0.0.1\n" R "management-proxy proxy a port 3128\n");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_NONE);
    ZTP_ASSERT_EQ_STR(ap.reason, "management-proxy disabled");
    ZTP_ASSERT_EQ_INT(ap.addr.s_addr, 0);
}

static void test_learned_lowest(void)
{
    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    ZTP_ASSERT_EQ_STR(ap.reason, "no proxy learned");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, NULL, &ap), 1);

    /* the doc's example: 192.168.10.10 beats 192.168.10.11, whatever the order learned */
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "192.168.10.11:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "192.168.10.10:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_LEARNED);
    ZTP_ASSERT_EQ_STR(proxy_source_name(ap.source), "learned");
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "192.168.10.10:3128");
    ZTP_ASSERT_EQ_STR(ap.node, "A");
    ZTP_ASSERT_EQ_STR(ap.netif, "wan1");
    ZTP_ASSERT_EQ_STR(ap.ifname, "eth1");
    CU_ASSERT_FALSE(ap.from_peer);

    /* integer order, not string order: 9.255.255.255 beats 10.0.0.0 */
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "10.0.0.0:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "9.255.255.255:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "9.255.255.255:3128");
    /* and 198.18.0.2 beats 198.18.0.10 */
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.10:1", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.2:65535", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.2:65535");

    /* same address: lowest port, then node, then netif */
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.1:8080", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.netif, "wan0");
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:8080", 1, 0), PROXY_UPSERT_CHANGED);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.netif, "wan0"); /* netif tie-break */
    peer_entry("B", "wanB", "198.18.0.1", 8080, 1);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.node, "A"); /* node tie-break */

    /* a lease marked expired does not contribute */
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:1", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.9:1", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxy_table_set_lease(&tab, "A", "wan0", LEASE_EXPIRED), 0);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.9:1");
    /* renewing/rebinding still count */
    ZTP_ASSERT_EQ_INT(proxy_table_set_lease(&tab, "A", "wan0", LEASE_REBINDING), 0);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.1:1");
    ZTP_ASSERT_EQ_INT(proxy_table_set_lease(&tab, "A", "nope", LEASE_BOUND), -1);
}

static void test_discovery_disabled(void)
{
    load_cfg(R "management-proxy enable\n"
             R "node A device-interface wan0 network-interface wan0 dhcp v4\n"
             R "node A device-interface wan1 network-interface wan1 dhcp v4\n"
             R "node A device-interface wan1 network-interface wan1 enable-proxy-discovery false\n");
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.20:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.10:3128", 1, 0), PROXY_UPSERT_NEW); /* lower, but disabled */
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.20:3128");
    ZTP_ASSERT_EQ_STR(ap.netif, "wan0");

    /* only the disabled one: none, with the reason */
    ZTP_ASSERT_EQ_INT(proxy_table_remove(&tab, "A", "wan0", NULL), 0);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    ZTP_ASSERT_EQ_STR(ap.reason, "no proxy learned (1 ignored: enable-proxy-discovery false)");

    /* config changes to false after learning: the stale entry is ignored at once */
    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.2:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.netif, "wan0");
    load_cfg(R "management-proxy enable\n" R "network-interface wan0 enable-proxy-discovery false\n");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.netif, "wan1");
    /* the doc's router-wide form: nothing contributes */
    load_cfg(R "management-proxy enable\n" R "network-interface enable-proxy-discovery false\n");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
}

static void test_ha_peer(void)
{
    /* Node A learned .20 locally; node B learned .10 and sent it over the HA link. Node B holds the
     * mirror image. Both must select B/wanB's 198.18.0.10. */
    struct active_proxy on_a, on_b;
    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.20:3128", 1, 0), PROXY_UPSERT_NEW);
    peer_entry("B", "wanB", "198.18.0.10", 3128, 1);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &on_a), 0);
    CU_ASSERT_TRUE(on_a.from_peer);

    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("B", "wanB", "198.18.0.10:3128", 1, 0), PROXY_UPSERT_NEW);
    peer_entry("A", "wan0", "198.18.0.20", 3128, 1);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &on_b), 0);
    CU_ASSERT_FALSE(on_b.from_peer);

    ZTP_ASSERT_EQ_STR(ap_str(&on_a), "198.18.0.10:3128");
    ZTP_ASSERT_EQ_STR(ap_str(&on_b), "198.18.0.10:3128");
    ZTP_ASSERT_EQ_STR(on_a.node, "B");
    ZTP_ASSERT_EQ_STR(on_b.node, "B");
    ZTP_ASSERT_EQ_STR(on_a.netif, "wanB");

    /* a peer interface with discovery disabled in the shared config does not contribute */
    load_cfg(R "management-proxy enable\n"
             R "node B device-interface wan0 network-interface wanB enable-proxy-discovery false\n");
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.20:3128", 1, 0), PROXY_UPSERT_NEW);
    peer_entry("B", "wanB", "198.18.0.10", 3128, 1);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.20:3128");

    /* the peer's whole table replaced */
    ZTP_ASSERT_EQ_INT(proxy_table_remove_node(&tab, "B"), 1);
    ZTP_ASSERT_EQ_INT(proxy_table_remove_node(&tab, "B"), 0);
    ZTP_ASSERT_EQ_INT(tab.n, 1);
}

static void test_disabled(void)
{
    load_cfg(R "management-proxy mode learned\n" R "node A device-interface wan0 network-interface wan0 dhcp v4\n");
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 0), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    CU_ASSERT_FALSE(ap.enabled);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_NONE);
    ZTP_ASSERT_EQ_STR(proxy_source_name(ap.source), "none");
    ZTP_ASSERT_EQ_STR(ap.reason, "management-proxy disabled");
    load_cfg(R "management-proxy enable false\n");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    load_cfg("");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 1);
    ZTP_ASSERT_EQ_STR(ap.reason, "management-proxy disabled");
}

static void test_onboarding_json(void)
{
    struct onboarding_info ob;
    char err[256];
    const char *json = "{\"name\":\"r1\",\"mode\":\"conductor-managed\",\"proxy\":{\"address\":\"198.18.50.8\",\"port\":3128}}";
    ZTP_ASSERT_EQ_INT(onboarding_parse(json, strlen(json), &ob, err, sizeof err), 0);

    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 0), PROXY_UPSERT_NEW);
    /* before onboarded: the json proxy, even though a lower one is learned */
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_ONBOARDING_JSON);
    ZTP_ASSERT_EQ_STR(proxy_source_name(ap.source), "onboarding-json");
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.50.8:3128");
    /* after: back to the learned one */
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, true, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_LEARNED);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.1:3128");

    /* management-proxy disabled: json applies until onboarded, then none */
    load_cfg("");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_ONBOARDING_JSON);
    CU_ASSERT_FALSE(ap.enabled);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, true, &tab, &ap), 1);

    /* a json without a proxy changes nothing */
    ZTP_ASSERT_EQ_INT(onboarding_parse("{}", 2, &ob, err, sizeof err), 0);
    load_cfg(learned_cfg);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, &ob, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_INT(ap.source, PROXY_SRC_LEARNED);
}

/* ---- table maintenance ---- */

static void test_expiry(void)
{
    struct learned_proxy dropped[4];
    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 100, 1000), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan1", "198.18.0.2:3128", 100, 2000), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(learn("A", "wan2", "198.18.0.3:3128", 100, 0), PROXY_UPSERT_NEW); /* no expiry */
    peer_entry("B", "wanB", "198.18.0.0", 1, 100); /* lease until 6100, seen at 100 */

    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap.node, "B");

    /* peer timeout 30 s: at 130 still there, at 131 gone */
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 130, 30, dropped, 4), 0);
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 131, 30, dropped, 4), 1);
    ZTP_ASSERT_EQ_STR(dropped[0].node, "B");
    CU_ASSERT_TRUE(dropped[0].from_peer);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.1:3128");

    /* a refreshed peer entry stays */
    peer_entry("B", "wanB", "198.18.0.0", 1, 900);
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 920, 30, NULL, 0), 0);

    /* lease expiry at exactly expires_at: the server is gone, the proxy is kept until then */
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 999, 3600, dropped, 4), 0);
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 1000, 3600, dropped, 4), 1);
    ZTP_ASSERT_EQ_STR(dropped[0].netif, "wan0");
    ZTP_ASSERT_EQ_INT(dropped[0].addr.s_addr, ip("198.18.0.1").s_addr);
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.0:1"); /* the peer's, still fresh */

    /* several at once; dropped[] bounded by max */
    ZTP_ASSERT_EQ_INT(proxy_table_expire(&tab, 100000, 30, dropped, 1), 2);
    ZTP_ASSERT_EQ_INT(tab.n, 1);
    ZTP_ASSERT_EQ_STR(tab.e[0].netif, "wan2");
    ZTP_ASSERT_EQ_INT(proxysel_select(&cfg, NULL, false, &tab, &ap), 0);
    ZTP_ASSERT_EQ_STR(ap_str(&ap), "198.18.0.3:3128");
}

static void test_table_ops(void)
{
    struct learned_proxy p, removed;
    const struct learned_proxy *sorted[PROXY_TABLE_MAX];
    proxy_table_init(&tab);
    memset(&p, 0, sizeof p);
    p.addr = ip("198.18.0.1");
    p.port = 1;
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), -1); /* empty names */
    snprintf(p.node, sizeof p.node, "B");
    snprintf(p.netif, sizeof p.netif, "z");
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), PROXY_UPSERT_NEW);
    snprintf(p.netif, sizeof p.netif, "a");
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), PROXY_UPSERT_NEW);
    snprintf(p.node, sizeof p.node, "A");
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), PROXY_UPSERT_NEW);
    ZTP_ASSERT_EQ_INT(proxy_table_sorted(&tab, sorted, PROXY_TABLE_MAX), 3);
    ZTP_ASSERT_EQ_STR(sorted[0]->node, "A");
    ZTP_ASSERT_EQ_STR(sorted[1]->netif, "a");
    ZTP_ASSERT_EQ_STR(sorted[2]->netif, "z");
    ZTP_ASSERT_EQ_INT(proxy_table_sorted(&tab, sorted, 2), 2);
    ZTP_ASSERT_EQ_INT(proxy_table_remove(&tab, "B", "a", &removed), 0);
    ZTP_ASSERT_EQ_STR(removed.netif, "a");
    ZTP_ASSERT_EQ_INT(proxy_table_remove(&tab, "B", "a", NULL), -1);
    ZTP_ASSERT_EQ_INT(tab.n, 2);
    CU_ASSERT_PTR_NULL(proxy_table_find(&tab, "B", "a"));
    CU_ASSERT_PTR_NOT_NULL(proxy_table_find(&tab, "B", "z"));

    /* full */
    proxy_table_init(&tab);
    for (int i = 0; i < PROXY_TABLE_MAX; i++) {
        snprintf(p.netif, sizeof p.netif, "n%d", i);
        ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), PROXY_UPSERT_NEW);
    }
    snprintf(p.netif, sizeof p.netif, "one-more");
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), -1);
    snprintf(p.netif, sizeof p.netif, "n0");
    ZTP_ASSERT_EQ_INT(proxy_table_upsert(&tab, &p), PROXY_UPSERT_SAME); /* update still works */

    /* names */
    enum lease_state s;
    ZTP_ASSERT_EQ_STR(lease_state_name(LEASE_BOUND), "bound");
    ZTP_ASSERT_EQ_STR(lease_state_name(LEASE_RENEWING), "renewing");
    ZTP_ASSERT_EQ_STR(lease_state_name(LEASE_REBINDING), "rebinding");
    ZTP_ASSERT_EQ_STR(lease_state_name(LEASE_EXPIRED), "expired");
    ZTP_ASSERT_EQ_STR(lease_state_name((enum lease_state)99), "unknown");
    CU_ASSERT_TRUE(lease_state_from_name("rebinding", &s));
    ZTP_ASSERT_EQ_INT(s, LEASE_REBINDING);
    CU_ASSERT_FALSE(lease_state_from_name("bogus", &s));
    ZTP_ASSERT_EQ_INT(s, LEASE_NONE);

    /* active_proxy_equal */
    struct active_proxy a, b;
    load_cfg(learned_cfg);
    proxy_table_init(&tab);
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3128", 1, 0), PROXY_UPSERT_NEW);
    proxysel_select(&cfg, NULL, false, &tab, &a);
    proxysel_select(&cfg, NULL, false, &tab, &b);
    CU_ASSERT_TRUE(active_proxy_equal(&a, &b));
    ZTP_ASSERT_EQ_INT(learn("A", "wan0", "198.18.0.1:3129", 2, 0), PROXY_UPSERT_CHANGED);
    proxysel_select(&cfg, NULL, false, &tab, &b);
    CU_ASSERT_FALSE(active_proxy_equal(&a, &b));
}

static const struct ztp_test learn_tests[] = {
    {"Kea (17 bytes) and dnsmasq (18 bytes) forms", test_learn_kea_and_dnsmasq_forms},
    {"bad values rejected, never stored", test_learn_rejects_bad_values},
    {NULL, NULL},
};

static const struct ztp_test select_tests[] = {
    {"static", test_static},
    {"learned: lowest integer IPv4", test_learned_lowest},
    {"discovery disabled on one interface", test_discovery_disabled},
    {"HA: both nodes select the same", test_ha_peer},
    {"disabled -> none", test_disabled},
    {"onboarding.json before/after onboarded", test_onboarding_json},
    {NULL, NULL},
};

static const struct ztp_test table_tests[] = {
    {"lease and peer expiry", test_expiry},
    {"upsert/remove/sort/names", test_table_ops},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {
    {"proxysel learn", learn_tests},
    {"proxysel select", select_tests},
    {"proxy table", table_tests},
    {NULL, NULL},
};

int main(void)
{
    return ztp_cunit_run(suites);
}
