/* Control socket: requests over a socket pair against a hand-filled node state. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "cunit_main.h"
#include "node.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

static const char learned_conf[] =
    "config authority router r1 management-proxy enable\n"
    "config authority router r1 node a device-interface d1 target-interface eth1\n"
    "config authority router r1 node a device-interface d1 network-interface wan1 dhcp v4\n"
    "config authority router r1 node a device-interface d2 network-interface wan2 dhcp v4\n"
    "config authority router r1 node a device-interface d3 network-interface wan3 dhcp v4\n"
    "config authority router r1 node a device-interface d3 network-interface wan3 enable-proxy-discovery false\n"
    "config authority router r1 node b device-interface d1 network-interface wan1 dhcp v4\n";

static const char static_conf[] = "config authority router r1 management-proxy mode static\n"
                                  "config authority router r1 management-proxy proxy p1 address 198.18.50.8\n"
                                  "config authority router r1 management-proxy proxy p1 port 3128\n";

static struct node the_node;
static struct ctl_server srv;
static const time_t T0 = 1700000000;

static void setup(const char *conf, size_t len)
{
    static struct router_config cfg;
    char err[256];
    int r = router_config_parse(conf, len, &cfg, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  config: %s\n", err);
    CU_ASSERT_FATAL(r == 0);
    node_init_from(&the_node, &cfg, "a", NULL, false);
    node_reselect(&the_node, "start");
    ctl_init(&srv, &the_node, -1);
}

static void learn(const char *netif, const char *value, time_t now)
{
    uint8_t v[128];
    ssize_t l = dhcp_vendor_build_proxy(v, sizeof v, value);
    CU_ASSERT_FATAL(l > 0);
    struct node_netif *nif = node_find_netif(&the_node, netif);
    CU_ASSERT_FATAL(nif != NULL);
    node_dhcp_bound(&the_node, nif, v, (size_t)l, now + 600, false, now);
}

/* Send `req` (raw bytes, as given) over a socket pair, let the server handle it, parse the answer. */
static json_t *exchange_raw(const char *req, size_t len, bool half_close)
{
    int sv[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CU_ASSERT_FATAL(write(sv[0], req, len) == (ssize_t)len);
    if (half_close)
        shutdown(sv[0], SHUT_WR);
    struct ctl_conn *c = ctl_adopt(&srv, sv[1], 0);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(ctl_conn_event(c, 1));
    CU_ASSERT(!c->in_use); /* answered and closed */

    static char buf[65536];
    size_t n = 0;
    ssize_t r;
    while ((r = read(sv[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(sv[0]);
    buf[n] = '\0';
    CU_ASSERT(n > 0 && buf[n - 1] == '\n'); /* one JSON object + newline */
    CU_ASSERT(memchr(buf, '\n', n) == buf + n - 1);
    json_error_t jerr;
    json_t *j = json_loads(buf, 0, &jerr);
    if (!j)
        fprintf(stderr, "\n  not JSON: %s (%s)\n", buf, jerr.text);
    CU_ASSERT_FATAL(j != NULL);
    return j;
}

static json_t *exchange(const char *req)
{
    char line[512];
    snprintf(line, sizeof line, "%s\n", req);
    return exchange_raw(line, strlen(line), false);
}

static const char *s_of(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }
static long long i_of(json_t *o, const char *key) { return json_integer_value(json_object_get(o, key)); }

static void test_management_proxy_learned(void)
{
    setup(learned_conf, sizeof learned_conf - 1);
    learn("wan1", "198.18.10.11:3128", T0);
    learn("wan2", "198.18.10.10:8080", T0 + 5);

    json_t *j = exchange("{\"cmd\":\"show\",\"what\":\"management-proxy\"}");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    ZTP_ASSERT_EQ_STR(s_of(j, "router"), "r1");
    ZTP_ASSERT_EQ_STR(s_of(j, "node"), "a");
    ZTP_ASSERT_EQ_STR(s_of(j, "what"), "management-proxy");
    json_t *m = json_object_get(j, "management-proxy");
    CU_ASSERT(json_is_true(json_object_get(m, "enabled")));
    ZTP_ASSERT_EQ_STR(s_of(m, "mode"), "learned");
    ZTP_ASSERT_EQ_STR(s_of(m, "active"), "198.18.10.10:8080");
    ZTP_ASSERT_EQ_STR(s_of(m, "address"), "198.18.10.10");
    ZTP_ASSERT_EQ_INT(i_of(m, "port"), 8080);
    ZTP_ASSERT_EQ_STR(s_of(m, "source"), "learned");
    ZTP_ASSERT_EQ_STR(s_of(m, "source-text"), "learned on node a network-interface wan2 (local)");
    json_t *from = json_object_get(m, "learned-from");
    ZTP_ASSERT_EQ_STR(s_of(from, "node"), "a");
    ZTP_ASSERT_EQ_STR(s_of(from, "network-interface"), "wan2");
    CU_ASSERT(json_is_false(json_object_get(from, "peer")));
    CU_ASSERT(json_is_null(json_object_get(m, "reason")));
    ZTP_ASSERT_EQ_INT(i_of(m, "changes"), 2); /* none -> .11 -> .10 */
    json_decref(j);
}

static void test_learned_proxies(void)
{
    setup(learned_conf, sizeof learned_conf - 1);
    time_t now = time(NULL);
    learn("wan1", "198.18.10.11:3128", now - 30);
    learn("wan3", "198.18.1.1:3128", now); /* discovery disabled: ignored */
    /* wan2: an ACK with a bad value */
    uint8_t v[64];
    ssize_t l = dhcp_vendor_build_proxy(v, sizeof v, "198.18.10.9:0");
    CU_ASSERT_FATAL(l > 0);
    node_dhcp_bound(&the_node, node_find_netif(&the_node, "wan2"), v, (size_t)l, now + 600, false, now);
    /* the peer node b */
    static struct ha_msg m;
    memset(&m, 0, sizeof m);
    strcpy(m.router, "r1");
    strcpy(m.node, "b");
    m.n = 1;
    strcpy(m.e[0].netif, "wan1");
    strcpy(m.e[0].ifname, "eth1");
    inet_pton(AF_INET, "198.18.10.10", &m.e[0].addr);
    m.e[0].port = 3128;
    m.e[0].lease_remaining = 100;
    m.e[0].age = 7;
    strcpy(m.e[0].lease, "renewing");
    node_ha_input(&the_node, &m, 0, now);

    json_t *j = exchange("{\"cmd\":\"show\",\"what\":\"dhcp learned-proxies\"}");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    ZTP_ASSERT_EQ_STR(s_of(j, "what"), "learned-proxies");
    json_t *rows = json_object_get(j, "learned-proxies");
    ZTP_ASSERT_EQ_INT(json_array_size(rows), 4); /* a/wan1, a/wan2, a/wan3, b/wan1 */

    json_t *r = json_array_get(rows, 0);
    ZTP_ASSERT_EQ_STR(s_of(r, "node"), "a");
    ZTP_ASSERT_EQ_STR(s_of(r, "network-interface"), "wan1");
    ZTP_ASSERT_EQ_STR(s_of(r, "device-interface"), "d1");
    ZTP_ASSERT_EQ_STR(s_of(r, "ifname"), "eth1");
    ZTP_ASSERT_EQ_STR(s_of(r, "address"), "198.18.10.11");
    ZTP_ASSERT_EQ_INT(i_of(r, "port"), 3128);
    ZTP_ASSERT_EQ_STR(s_of(r, "lease-state"), "bound");
    ZTP_ASSERT_EQ_INT(i_of(r, "learned-at-epoch"), now - 30);
    CU_ASSERT(i_of(r, "age") >= 30 && i_of(r, "age") <= 32);
    CU_ASSERT(i_of(r, "expires-in") >= 568 && i_of(r, "expires-in") <= 570);
    ZTP_ASSERT_EQ_STR(s_of(r, "source"), "local");
    CU_ASSERT(json_is_true(json_object_get(r, "discovery")));
    CU_ASSERT(json_is_false(json_object_get(r, "selected")));
    ZTP_ASSERT_EQ_STR(s_of(r, "last-event"), "learned 198.18.10.11:3128");

    r = json_array_get(rows, 1);
    ZTP_ASSERT_EQ_STR(s_of(r, "network-interface"), "wan2");
    ZTP_ASSERT_EQ_STR(s_of(r, "ifname"), "d2");
    CU_ASSERT(json_is_null(json_object_get(r, "address")));
    CU_ASSERT(json_is_null(json_object_get(r, "port")));
    CU_ASSERT(json_is_null(json_object_get(r, "learned-at")));
    ZTP_ASSERT_EQ_STR(s_of(r, "lease-state"), "bound");
    CU_ASSERT(strncmp(s_of(r, "last-event") ? s_of(r, "last-event") : "", "rejected: ", 10) == 0);

    r = json_array_get(rows, 2);
    ZTP_ASSERT_EQ_STR(s_of(r, "network-interface"), "wan3");
    CU_ASSERT(json_is_null(json_object_get(r, "address")));
    CU_ASSERT(json_is_false(json_object_get(r, "discovery")));

    r = json_array_get(rows, 3);
    ZTP_ASSERT_EQ_STR(s_of(r, "node"), "b");
    ZTP_ASSERT_EQ_STR(s_of(r, "network-interface"), "wan1");
    ZTP_ASSERT_EQ_STR(s_of(r, "device-interface"), "d1");
    ZTP_ASSERT_EQ_STR(s_of(r, "address"), "198.18.10.10");
    ZTP_ASSERT_EQ_STR(s_of(r, "lease-state"), "renewing");
    ZTP_ASSERT_EQ_STR(s_of(r, "source"), "peer");
    ZTP_ASSERT_EQ_INT(i_of(r, "age"), 7);
    ZTP_ASSERT_EQ_INT(i_of(r, "expires-in"), 100);
    CU_ASSERT(json_is_true(json_object_get(r, "selected")));
    CU_ASSERT(json_object_get(r, "last-event") == NULL);
    json_decref(j);

    j = exchange("{\"cmd\":\"show\",\"what\":\"management-proxy\"}");
    json_t *mp = json_object_get(j, "management-proxy");
    ZTP_ASSERT_EQ_STR(s_of(mp, "active"), "198.18.10.10:3128");
    ZTP_ASSERT_EQ_STR(s_of(mp, "source-text"), "learned on node b network-interface wan1 (peer)");
    json_decref(j);
}

static void test_static_and_none(void)
{
    setup(static_conf, sizeof static_conf - 1);
    json_t *j = exchange("{\"cmd\":\"show\",\"what\":\"management-proxy\"}");
    json_t *m = json_object_get(j, "management-proxy");
    ZTP_ASSERT_EQ_STR(s_of(m, "mode"), "static");
    ZTP_ASSERT_EQ_STR(s_of(m, "active"), "198.18.50.8:3128");
    ZTP_ASSERT_EQ_STR(s_of(m, "source"), "config-static");
    ZTP_ASSERT_EQ_STR(s_of(m, "proxy-name"), "p1");
    ZTP_ASSERT_EQ_STR(s_of(m, "source-text"), "config proxy p1");
    CU_ASSERT(json_is_null(json_object_get(m, "learned-from")));
    json_decref(j);

    j = exchange("{\"cmd\":\"show\",\"what\":\"dhcp learned-proxies\"}");
    ZTP_ASSERT_EQ_INT(json_array_size(json_object_get(j, "learned-proxies")), 0);
    json_decref(j);

    /* Nothing learned: none, with the reason. */
    setup(learned_conf, sizeof learned_conf - 1);
    j = exchange("{\"cmd\":\"show\",\"what\":\"management-proxy\"}");
    m = json_object_get(j, "management-proxy");
    CU_ASSERT(json_is_null(json_object_get(m, "active")));
    ZTP_ASSERT_EQ_STR(s_of(m, "source"), "none");
    CU_ASSERT(s_of(m, "reason") != NULL);
    CU_ASSERT(strncmp(s_of(m, "source-text"), "none: ", 6) == 0);
    json_decref(j);
}

static void test_config_and_ha(void)
{
    setup(learned_conf, sizeof learned_conf - 1);
    json_t *j = exchange("{\"cmd\":\"show\",\"what\":\"config\"}");
    json_t *c = json_object_get(j, "config");
    ZTP_ASSERT_EQ_STR(s_of(c, "router"), "r1");
    ZTP_ASSERT_EQ_INT(json_array_size(json_object_get(c, "network-interfaces")), 4);
    ZTP_ASSERT_EQ_STR(s_of(json_object_get(c, "management-proxy"), "mode"), "learned");
    CU_ASSERT(json_is_false(json_object_get(json_object_get(c, "onboarding"), "present")));
    json_decref(j);

    j = exchange("{\"cmd\":\"show\",\"what\":\"ha\"}");
    json_t *h = json_object_get(j, "ha");
    CU_ASSERT(json_is_false(json_object_get(h, "enabled")));
    ZTP_ASSERT_EQ_STR(s_of(h, "expect-peer"), "b");
    CU_ASSERT(json_is_false(json_object_get(h, "peer-up")));
    json_decref(j);

    j = exchange("{\"cmd\":\"ping\"}");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
}

static void expect_error(json_t *j, const char *prefix)
{
    CU_ASSERT(json_is_false(json_object_get(j, "ok")));
    const char *e = s_of(j, "error");
    if (!e || strncmp(e, prefix, strlen(prefix)) != 0)
        fprintf(stderr, "\n  error \"%s\", expected \"%s...\"\n", e ? e : "(null)", prefix);
    CU_ASSERT(e && strncmp(e, prefix, strlen(prefix)) == 0);
    ZTP_ASSERT_EQ_STR(s_of(j, "node"), "a");
    json_decref(j);
}

static void test_bad_requests(void)
{
    setup(learned_conf, sizeof learned_conf - 1);
    expect_error(exchange("not json"), "request is not JSON");
    expect_error(exchange("[1]"), "request is not a JSON object");
    expect_error(exchange("{}"), "missing \"cmd\"");
    expect_error(exchange("{\"cmd\":\"reboot\"}"), "unknown command \"reboot\"");
    expect_error(exchange("{\"cmd\":\"show\"}"), "missing \"what\"");
    expect_error(exchange("{\"cmd\":\"show\",\"what\":\"bgp\"}"), "unknown show \"bgp\"");
    expect_error(exchange("{\"cmd\":\"show\",\"what\":\"x\\u0001\"}"), "unknown show \"x\\x01\"");

    /* No newline: the request ends when the client shuts down its write side. */
    static const char req[] = "{\"cmd\":\"ping\"}";
    json_t *j = exchange_raw(req, sizeof req - 1, true);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);

    /* Oversize. */
    static char big[CTL_MAX_REQUEST + 100];
    memset(big, ' ', sizeof big);
    expect_error(exchange_raw(big, sizeof big, true), "request too large");
}

static void test_partial_request(void)
{
    int sv[2];
    setup(learned_conf, sizeof learned_conf - 1);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct ctl_conn *c = ctl_adopt(&srv, sv[1], 0);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(write(sv[0], "{\"cmd\":", 7) == 7);
    CU_ASSERT(!ctl_conn_event(c, 1)); /* waits for the rest */
    CU_ASSERT(c->in_use);
    CU_ASSERT(write(sv[0], "\"ping\"}\n", 8) == 8);
    CU_ASSERT(ctl_conn_event(c, 1));
    char buf[512];
    ssize_t n = read(sv[0], buf, sizeof buf - 1);
    CU_ASSERT_FATAL(n > 0);
    buf[n] = '\0';
    CU_ASSERT(strstr(buf, "\"ok\":true") != NULL);

    /* A client that never finishes is closed at its deadline. */
    int sv2[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
    c = ctl_adopt(&srv, sv2[1], 1000);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(!ctl_conn_event(c, 1));
    ctl_tick(&srv, 1000 + CTL_CONN_TIMEOUT_MS - 1);
    CU_ASSERT(c->in_use);
    ctl_tick(&srv, 1000 + CTL_CONN_TIMEOUT_MS);
    CU_ASSERT(!c->in_use);
    ZTP_ASSERT_EQ_INT(read(sv2[0], buf, sizeof buf), 0); /* closed */
    close(sv[0]);
    close(sv2[0]);
}

static void test_listen(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/test_ctl.%d.sock", (int)getpid());
    setup(static_conf, sizeof static_conf - 1);
    ZTP_ASSERT_EQ_INT(ctl_listen(&srv, path), 0);
    static struct ctl_server other;
    ctl_init(&other, &the_node, -1);
    ZTP_ASSERT_EQ_INT(ctl_listen(&other, path), -EADDRINUSE); /* a live daemon keeps its socket */
    ctl_close(&srv);
    CU_ASSERT(access(path, F_OK) != 0); /* removed on close */
}

static const struct ztp_test tests[] = {
    {"show management-proxy (learned)", test_management_proxy_learned},
    {"show dhcp learned-proxies", test_learned_proxies},
    {"static and none", test_static_and_none},
    {"show config, ha, ping", test_config_and_ha},
    {"bad requests", test_bad_requests},
    {"partial request and deadline", test_partial_request},
    {"listen and close", test_listen},
    {NULL, NULL},
};
static const struct ztp_suite suites[] = {{"ctl", tests}, {NULL, NULL}};

int main(void)
{
    log_init("test", "test_ctl", LOG_LVL_WARN);
    return ztp_cunit_run(suites);
}
