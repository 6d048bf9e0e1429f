/* Router configuration parser: the doc's examples, lookups, and every error with its line. */
#include <arpa/inet.h>
#include <string.h>

#include "cunit_main.h"
#include "config.h"

static struct router_config cfg;
static char err[256];

static int parse(const char *text)
{
    err[0] = '\0';
    return router_config_parse(text, strlen(text), &cfg, err, sizeof err);
}

static uint32_t ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}

#define R "config authority router router "

/* Parse must fail with exactly this message. */
#define EXPECT_ERR(text, msg)                 \
    do {                                      \
        ZTP_ASSERT_EQ_INT(parse(text), -1);   \
        ZTP_ASSERT_EQ_STR(err, msg);          \
    } while (0)

static void test_doc_static(void)
{
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy mode   static\n"
                            R "management-proxy proxy 10.0.0.1 address  10.0.0.1\n"
                            R "management-proxy proxy 10.0.0.1 port     5000\n"),
                      0);
    ZTP_ASSERT_EQ_STR(cfg.router, "router");
    ZTP_ASSERT_EQ_INT(cfg.mode, MGMT_PROXY_STATIC);
    ZTP_ASSERT_EQ_STR(mgmt_proxy_mode_name(cfg.mode), "static");
    /* The doc's static example has no `enable` line: static implies enabled. */
    CU_ASSERT_TRUE(cfg.enabled);
    CU_ASSERT_FALSE(cfg.enable_set);
    ZTP_ASSERT_EQ_INT(cfg.n_proxies, 1);
    ZTP_ASSERT_EQ_STR(cfg.proxies[0].name, "10.0.0.1");
    ZTP_ASSERT_EQ_INT(cfg.proxies[0].addr.s_addr, ip("10.0.0.1"));
    ZTP_ASSERT_EQ_INT(cfg.proxies[0].port, 5000);
    CU_ASSERT_PTR_EQUAL(router_config_find_proxy(&cfg, "10.0.0.1"), &cfg.proxies[0]);
    CU_ASSERT_PTR_NULL(router_config_find_proxy(&cfg, "other"));
}

static void test_doc_static_file_crlf(void)
{
    ZTP_ASSERT_EQ_INT(router_config_load(ZTP_TEST_DATA "/router-static-doc.conf", &cfg, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(err, "");
    ZTP_ASSERT_EQ_INT(cfg.mode, MGMT_PROXY_STATIC);
    ZTP_ASSERT_EQ_INT(cfg.n_proxies, 1);
    ZTP_ASSERT_EQ_INT(cfg.proxies[0].port, 5000);
}

static void test_doc_learned(void)
{
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable\n" R "management-proxy mode  learned\n"), 0);
    CU_ASSERT_TRUE(cfg.enabled);
    ZTP_ASSERT_EQ_INT(cfg.mode, MGMT_PROXY_LEARNED);
    /* learned is the default once enabled */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable\n"), 0);
    CU_ASSERT_TRUE(cfg.enabled);
    ZTP_ASSERT_EQ_INT(cfg.mode, MGMT_PROXY_LEARNED);
    CU_ASSERT_FALSE(cfg.mode_set);
}

static void test_doc_override(void)
{
    /* The doc's literal form (no network-interface name): router-wide. */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable\n" R "network-interface enable-proxy-discovery false\n"
                            R "node n1 device-interface wan0 network-interface wan0-ni dhcp v4\n"),
                      0);
    CU_ASSERT_TRUE(cfg.discovery_default_set);
    CU_ASSERT_FALSE(cfg.discovery_default);
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "n1", "wan0-ni"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "peer", "anything"));
    CU_ASSERT_FALSE(cfg.netifs[0].discovery);
}

static void test_enable_forms(void)
{
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable true\n"), 0);
    CU_ASSERT_TRUE(cfg.enabled);
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable false\n"), 0);
    CU_ASSERT_FALSE(cfg.enabled);
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enabled true\n"), 0);
    CU_ASSERT_TRUE(cfg.enabled);
    /* learned mode without enable: not enabled */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy mode learned\n"), 0);
    CU_ASSERT_FALSE(cfg.enabled);
    /* explicit enable false wins over static */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable false\n" R "management-proxy mode static\n"
                            R "management-proxy proxy p address 198.18.0.1\n" R "management-proxy proxy p port 80\n"),
                      0);
    CU_ASSERT_FALSE(cfg.enabled);
    /* nothing configured */
    ZTP_ASSERT_EQ_INT(parse("# only a comment\n\n   \t\n"), 0);
    CU_ASSERT_FALSE(cfg.enabled);
    ZTP_ASSERT_EQ_STR(cfg.router, "");
    ZTP_ASSERT_EQ_INT(parse(""), 0);
    /* same value twice is fine */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable\n" R "management-proxy enable true\n"), 0);
    /* last line without a newline */
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy enable"), 0);
    CU_ASSERT_TRUE(cfg.enabled);
}

static void test_several_proxies(void)
{
    ZTP_ASSERT_EQ_INT(parse(R "management-proxy mode static\n"
                            R "management-proxy proxy a address 198.18.0.20\n"
                            R "management-proxy proxy b address 198.18.0.10\n"
                            R "management-proxy proxy a port 3128\n"
                            R "management-proxy proxy b port 8080\n"),
                      0);
    ZTP_ASSERT_EQ_INT(cfg.n_proxies, 2);
    ZTP_ASSERT_EQ_INT(router_config_find_proxy(&cfg, "a")->port, 3128);
    ZTP_ASSERT_EQ_INT(router_config_find_proxy(&cfg, "b")->addr.s_addr, ip("198.18.0.10"));
}

static void test_ha_file_and_lookups(void)
{
    const struct rcfg_netif *n, *list[8];
    ZTP_ASSERT_EQ_INT(router_config_load(ZTP_TEST_DATA "/router-ha-learned.conf", &cfg, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(err, "");
    ZTP_ASSERT_EQ_STR(cfg.router, "branch1");
    CU_ASSERT_TRUE(cfg.enabled);
    ZTP_ASSERT_EQ_INT(cfg.mode, MGMT_PROXY_LEARNED);
    ZTP_ASSERT_EQ_INT(cfg.n_nodes, 2);
    ZTP_ASSERT_EQ_INT(cfg.n_netifs, 5);

    n = router_config_find_netif_on(&cfg, "nodeA", "wan0-ni");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    ZTP_ASSERT_EQ_STR(n->ifname, "eth1"); /* target-interface */
    ZTP_ASSERT_EQ_STR(n->devif, "wan0");
    CU_ASSERT_TRUE(n->dhcp);
    CU_ASSERT_TRUE(n->discovery);

    n = router_config_find_netif_on(&cfg, "nodeA", "wan1-ni");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    ZTP_ASSERT_EQ_STR(n->ifname, "wan1"); /* default = device-interface name */
    CU_ASSERT_FALSE(n->discovery);

    n = router_config_find_netif_on(&cfg, "nodeA", "lan-ni");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_FALSE(n->dhcp);

    n = router_config_find_netif(&cfg, "mpls-ni");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    ZTP_ASSERT_EQ_STR(n->node, "nodeB");
    CU_ASSERT_FALSE(n->discovery); /* short form */
    CU_ASSERT_PTR_NULL(router_config_find_netif(&cfg, "nope"));
    CU_ASSERT_PTR_NULL(router_config_find_netif_on(&cfg, "nodeA", "mpls-ni"));

    n = router_config_find_netif_by_ifname(&cfg, "nodeB", "eth1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    ZTP_ASSERT_EQ_STR(n->name, "wanB-ni");
    CU_ASSERT_PTR_NULL(router_config_find_netif_by_ifname(&cfg, "nodeB", "eth9"));

    CU_ASSERT_TRUE(router_config_discovery_enabled(&cfg, "nodeA", "wan0-ni"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "nodeA", "wan1-ni"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "nodeB", "mpls-ni"));
    CU_ASSERT_TRUE(router_config_discovery_enabled(&cfg, "nodeB", "wanB-ni"));
    /* undeclared: the short form for the name, else true */
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "nodeC", "mpls-ni"));
    CU_ASSERT_TRUE(router_config_discovery_enabled(&cfg, "nodeC", "x"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, NULL, "mpls-ni"));

    ZTP_ASSERT_EQ_INT(router_config_dhcp_netifs(&cfg, "nodeA", list, 8), 2);
    ZTP_ASSERT_EQ_STR(list[0]->name, "wan0-ni");
    ZTP_ASSERT_EQ_STR(list[1]->name, "wan1-ni");
    ZTP_ASSERT_EQ_INT(router_config_dhcp_netifs(&cfg, "nodeB", list, 1), 2); /* count beyond max */
    ZTP_ASSERT_EQ_STR(list[0]->name, "wanB-ni");
    ZTP_ASSERT_EQ_INT(router_config_dhcp_netifs(&cfg, "nodeZ", list, 8), 0);
}

static void test_discovery_precedence(void)
{
    /* full path > short form > router-wide > true */
    ZTP_ASSERT_EQ_INT(parse(R "network-interface enable-proxy-discovery false\n"
                            R "network-interface a enable-proxy-discovery true\n"
                            R "node n device-interface d network-interface a enable-proxy-discovery false\n"
                            R "node n device-interface d network-interface b\n"
                            R "node m device-interface d network-interface a\n"),
                      0);
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "n", "a"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "n", "b"));
    CU_ASSERT_TRUE(router_config_discovery_enabled(&cfg, "m", "a"));
    CU_ASSERT_TRUE(router_config_discovery_enabled(&cfg, "x", "a"));
    CU_ASSERT_FALSE(router_config_discovery_enabled(&cfg, "x", "c"));
}

static void test_dhcp_disabled_and_containers(void)
{
    ZTP_ASSERT_EQ_INT(parse("config authority router r1\n"
                            "config authority router r1 management-proxy\n"
                            "config authority router r1 node n1\n"
                            "config authority router r1 node n1 device-interface ge-0-0\n"
                            "config authority router r1 node n1 device-interface ge-0-0 network-interface w dhcp v4\n"
                            "config authority router r1 node n1 device-interface ge-0-0 network-interface w dhcp disabled\n"),
                      0);
    ZTP_ASSERT_EQ_INT(cfg.n_devifs, 1);
    ZTP_ASSERT_EQ_INT(cfg.n_netifs, 1);
    CU_ASSERT_FALSE(cfg.netifs[0].dhcp);
    ZTP_ASSERT_EQ_STR(cfg.netifs[0].ifname, "ge-0-0");
}

static void test_errors(void)
{
    ZTP_ASSERT_EQ_INT(router_config_load(ZTP_TEST_DATA "/router-bad.conf", &cfg, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, ZTP_TEST_DATA "/router-bad.conf: line 3: unknown keyword \"managment-proxy\"");

    EXPECT_ERR("\n\n" R "managment-proxy enable\n", "line 3: unknown keyword \"managment-proxy\"");
    EXPECT_ERR(R "management-proxy enable\nset authority router r\n",
               "line 2: unknown keyword \"set\" (expected \"config\")");
    EXPECT_ERR("config authority\n", "line 1: incomplete statement: expected \"config authority router NAME ...\"");
    EXPECT_ERR("config authority router\n", "line 1: missing router name after \"router\"");
    EXPECT_ERR(R "management-proxy enable\nconfig authority router other management-proxy enable\n",
               "line 2: router \"other\" differs from router \"router\" of line 1 (one router per file)");
    EXPECT_ERR(R "management-proxy mode\n", "line 1: missing value after \"mode\"");
    EXPECT_ERR(R "management-proxy mode dynamic\n", "line 1: mode: expected static or learned, got \"dynamic\"");
    EXPECT_ERR(R "management-proxy enable maybe\n", "line 1: enable: expected true or false, got \"maybe\"");
    EXPECT_ERR(R "management-proxy enabled\n", "line 1: missing value after \"enabled\"");
    EXPECT_ERR(R "management-proxy enable true now\n", "line 1: unexpected \"now\" after \"true\"");
    EXPECT_ERR(R "management-proxy frobnicate\n", "line 1: unknown keyword \"frobnicate\"");
    EXPECT_ERR(R "management-proxy proxy p\n", "line 1: missing \"address\" or \"port\" after proxy \"p\"");
    EXPECT_ERR(R "management-proxy proxy p addr 1.2.3.4\n", "line 1: unknown keyword \"addr\"");
    EXPECT_ERR(R "management-proxy proxy p address\n", "line 1: missing value after \"address\"");
    EXPECT_ERR(R "management-proxy proxy p address proxy.example.com\n",
               "line 1: invalid IPv4 address \"proxy.example.com\"");
    EXPECT_ERR(R "management-proxy proxy p address 1.2.3\n", "line 1: invalid IPv4 address \"1.2.3\"");
    EXPECT_ERR(R "management-proxy proxy p address 256.1.1.1\n", "line 1: invalid IPv4 address \"256.1.1.1\"");
    EXPECT_ERR(R "management-proxy proxy p address 01.2.3.4\n", "line 1: invalid IPv4 address \"01.2.3.4\"");
    EXPECT_ERR(R "management-proxy proxy p address 1.2.3.4:80\n",
               "line 1: invalid IPv4 address \"1.2.3.4:80\" (give the port on its own line)");
    EXPECT_ERR(R "management-proxy proxy p port 0\n", "line 1: port 0 out of range (1-65535)");
    EXPECT_ERR(R "management-proxy proxy p port 65536\n", "line 1: port 65536 out of range (1-65535)");
    EXPECT_ERR(R "management-proxy proxy p port -1\n", "line 1: invalid port \"-1\" (1-65535)");
    EXPECT_ERR(R "management-proxy proxy p port 80x\n", "line 1: invalid port \"80x\" (1-65535)");
    EXPECT_ERR(R "management-proxy proxy p port 123456\n", "line 1: invalid port \"123456\" (1-65535)");
    EXPECT_ERR(R "management-proxy proxy p port 80\n" R "management-proxy proxy p port 81\n",
               "line 2: proxy \"p\" port already set to 80");
    EXPECT_ERR(R "management-proxy mode static\n" R "management-proxy mode learned\n",
               "line 2: management-proxy mode already set to static on line 1");
    EXPECT_ERR(R "management-proxy enable\n" R "management-proxy enable false\n",
               "line 2: management-proxy enable already set to true");
    /* end-of-file checks name the offending statement's line */
    EXPECT_ERR("# static without proxy\n" R "management-proxy mode static\n" R "management-proxy enable\n",
               "line 2: management-proxy mode static needs a proxy (proxy NAME address A + proxy NAME port P)");
    EXPECT_ERR(R "management-proxy mode static\n" R "management-proxy proxy p address 10.0.0.1\n",
               "line 2: proxy \"p\" has an address but no port");
    EXPECT_ERR(R "management-proxy enable\n\n" R "management-proxy proxy q port 3128\n",
               "line 3: proxy \"q\" has a port but no address");
    /* interfaces */
    EXPECT_ERR(R "network-interface wan0\n", "line 1: missing keyword after network-interface \"wan0\"");
    EXPECT_ERR(R "network-interface enable-proxy-discovery\n", "line 1: missing value after \"enable-proxy-discovery\"");
    EXPECT_ERR(R "network-interface enable-proxy-discovery false x\n", "line 1: unexpected \"x\" after \"false\"");
    EXPECT_ERR(R "network-interface wan0 dhcp v4\n", "line 1: unknown keyword \"dhcp\"");
    EXPECT_ERR(R "network-interface wan0 enable-proxy-discovery no\n",
               "line 1: enable-proxy-discovery: expected true or false, got \"no\"");
    EXPECT_ERR(R "node n1 device-interface d network-interface w dhcp v6\n",
               "line 1: dhcp: expected v4 or disabled, got \"v6\"");
    EXPECT_ERR(R "node n1 interface d\n", "line 1: unknown keyword \"interface\"");
    EXPECT_ERR(R "node n1 device-interface d target-interface a/b\n",
               "line 1: invalid Linux interface name \"a/b\" (1-15 characters, no '/', ':' or spaces)");
    EXPECT_ERR(R "node n1 device-interface d target-interface abcdefghijklmnop\n",
               "line 1: invalid Linux interface name \"abcdefghijklmnop\" (1-15 characters, no '/', ':' or spaces)");
    EXPECT_ERR(R "node n1 device-interface a-very-long-device-name network-interface w dhcp v4\n",
               "line 1: device-interface \"a-very-long-device-name\" is not a valid Linux interface name: set its "
               "target-interface");
    EXPECT_ERR(R "node n1 device-interface d1 network-interface w\n" R "node n1 device-interface d2 network-interface w\n",
               "line 2: network-interface \"w\" of node \"n1\" already belongs to device-interface \"d1\" (line 1)");
    EXPECT_ERR(R "node n1 device-interface d network-interface 0123456789012345678901234567890123\n",
               "line 1: network-interface name \"0123456789012345678901234567890123\" too long (at most 31 characters)");
    EXPECT_ERR(R "management-proxy enable\001\n", "line 1: control character 0x01");
    ZTP_ASSERT_EQ_INT(router_config_parse(R "x\0y\n", sizeof(R "x\0y\n") - 1, &cfg, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "line 1: NUL byte");
    EXPECT_ERR(R "node a b c d e f g h i j k l m n o p q\n", "line 1: too many words (at most 16)");

    ZTP_ASSERT_EQ_INT(router_config_load("/nonexistent/router.conf", &cfg, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "/nonexistent/router.conf: No such file or directory");
}

static void test_overflow(void)
{
    char buf[8192];
    size_t o = 0;
    for (int i = 0; i < RCFG_MAX_PROXIES + 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, R "management-proxy proxy p%d address 198.18.0.%d\n", i, i + 1);
    ZTP_ASSERT_EQ_INT(parse(buf), -1);
    ZTP_ASSERT_EQ_STR(err, "line 17: too many proxies (at most 16)");

    o = 0;
    for (int i = 0; i < RCFG_MAX_NETIFS + 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, R "node n device-interface d%d network-interface w%d dhcp v4\n",
                              i % 8, i);
    ZTP_ASSERT_EQ_INT(parse(buf), -1);
    ZTP_ASSERT_EQ_STR(err, "line 33: too many network-interfaces (at most 32)");

    o = 0;
    for (int i = 0; i < RCFG_MAX_NODES + 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, R "node n%d\n", i);
    ZTP_ASSERT_EQ_INT(parse(buf), -1);
    ZTP_ASSERT_EQ_STR(err, "line 5: too many nodes (at most 4)");

    /* error buffer smaller than the message: truncated, NUL-terminated */
    char small[8];
    ZTP_ASSERT_EQ_INT(router_config_parse("bogus\n", 6, &cfg, small, sizeof small), -1);
    ZTP_ASSERT_EQ_STR(small, "line 1:");
}

static const struct ztp_test config_tests[] = {
    {"doc static example", test_doc_static},
    {"doc static example, CRLF file", test_doc_static_file_crlf},
    {"doc learned example", test_doc_learned},
    {"doc network-interface override", test_doc_override},
    {"enable forms", test_enable_forms},
    {"several proxies", test_several_proxies},
    {"HA file and lookups", test_ha_file_and_lookups},
    {"discovery precedence", test_discovery_precedence},
    {"dhcp disabled, bare containers", test_dhcp_disabled_and_containers},
    {"errors with line numbers", test_errors},
    {"bounded tables overflow", test_overflow},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {{"router config", config_tests}, {NULL, NULL}};

int main(void)
{
    return ztp_cunit_run(suites);
}
