/* mock-proxy ACLs and configuration: each rule (Safe_ports, SSL_ports, source networks, dstdomain
 * allow/deny with Squid's ".example.com" semantics, Basic auth), their order, the JSON config and
 * its errors, the users file, fault switches, and the Squid access-log line format. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "../../mocks/proxy/accesslog.h"
#include "../../mocks/proxy/acl.h"

static struct sockaddr_storage client4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    CU_ASSERT_EQUAL(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage client6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    CU_ASSERT_EQUAL(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void load(struct proxy_config *cfg, const char *json)
{
    char err[512];
    int r = proxy_config_parse(json, strlen(json), cfg, err, sizeof err);
    if (r)
        fprintf(stderr, "\n  config: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

static void test_ports(void)
{
    struct proxy_config cfg;
    proxy_config_defaults(&cfg);
    /* Squid's Safe_ports: 80 21 443 70 210 1025-65535 280 488 591 777; SSL_ports: 443 */
    static const uint16_t safe[] = {80, 21, 443, 70, 210, 1025, 3128, 65535, 280, 488, 591, 777};
    static const uint16_t unsafe[] = {22, 25, 1, 1024, 8, 444 - 1 - 1, 800};
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        CU_ASSERT(ports_match(cfg.safe_ports, cfg.n_safe_ports, safe[i]));
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        CU_ASSERT(!ports_match(cfg.safe_ports, cfg.n_safe_ports, unsafe[i]));
    CU_ASSERT(ports_match(cfg.ssl_ports, cfg.n_ssl_ports, 443));
    CU_ASSERT(!ports_match(cfg.ssl_ports, cfg.n_ssl_ports, 8443));
    struct port_range r;
    ZTP_ASSERT_EQ_INT(port_range_parse("8443", &r), 0);
    ZTP_ASSERT_EQ_INT(r.lo, 8443);
    ZTP_ASSERT_EQ_INT(r.hi, 8443);
    ZTP_ASSERT_EQ_INT(port_range_parse("1025-65535", &r), 0);
    ZTP_ASSERT_EQ_INT(r.hi, 65535);
    ZTP_ASSERT_EQ_INT(port_range_parse("0", &r), -1);
    ZTP_ASSERT_EQ_INT(port_range_parse("70000", &r), -1);
    ZTP_ASSERT_EQ_INT(port_range_parse("9-8", &r), -1);
    ZTP_ASSERT_EQ_INT(port_range_parse("a", &r), -1);
    ZTP_ASSERT_EQ_INT(port_range_parse("", &r), -1);
    proxy_config_free(&cfg);
}

static void test_cidr(void)
{
    struct cidr c;
    struct sockaddr_storage a = client4("198.18.1.100"), b = client4("198.18.2.1"),
                            m = client6("::ffff:198.18.1.7"), v6 = client6("2001:db8::1"), v6b = client6("2001:db9::1");
    ZTP_ASSERT_EQ_INT(cidr_parse("198.18.1.0/24", &c), 0);
    CU_ASSERT(cidr_match(&c, SA(a)));
    CU_ASSERT(!cidr_match(&c, SA(b)));
    CU_ASSERT(cidr_match(&c, SA(m))); /* v4-mapped clients of a dual-stack listener */
    CU_ASSERT(!cidr_match(&c, SA(v6)));
    ZTP_ASSERT_EQ_INT(cidr_parse("198.18.1.100", &c), 0);
    ZTP_ASSERT_EQ_INT(c.prefix, 32);
    CU_ASSERT(cidr_match(&c, SA(a)));
    ZTP_ASSERT_EQ_INT(cidr_parse("198.18.0.0/15", &c), 0);
    CU_ASSERT(cidr_match(&c, SA(b)));
    ZTP_ASSERT_EQ_INT(cidr_parse("0.0.0.0/0", &c), 0);
    CU_ASSERT(cidr_match(&c, SA(b)));
    ZTP_ASSERT_EQ_INT(cidr_parse("2001:db8::/33", &c), 0);
    CU_ASSERT(cidr_match(&c, SA(v6)));
    CU_ASSERT(!cidr_match(&c, SA(v6b)));
    ZTP_ASSERT_EQ_INT(cidr_parse("198.18.1.0/33", &c), -1);
    ZTP_ASSERT_EQ_INT(cidr_parse("198.18.1.0/", &c), -1);
    ZTP_ASSERT_EQ_INT(cidr_parse("example.com/8", &c), -1);
    ZTP_ASSERT_EQ_INT(cidr_parse("2001:db8::/129", &c), -1);
}

static void test_domains(void)
{
    /* Squid dstdomain: a leading dot matches the domain and every name below it */
    CU_ASSERT(domain_match(".example.com", "example.com"));
    CU_ASSERT(domain_match(".example.com", "www.example.com"));
    CU_ASSERT(domain_match(".example.com", "a.b.example.com"));
    CU_ASSERT(!domain_match(".example.com", "badexample.com"));
    CU_ASSERT(!domain_match(".example.com", "example.com.evil"));
    CU_ASSERT(domain_match("example.com", "example.com"));
    CU_ASSERT(!domain_match("example.com", "www.example.com"));
    CU_ASSERT(domain_match("Example.COM", "example.com"));
    CU_ASSERT(!domain_match("", "example.com"));
    char *list[] = {(char *)(uintptr_t)"a.test", (char *)(uintptr_t)".mistsys.net"};
    CU_ASSERT(domain_list_match(list, 2, "ep-terminator.mistsys.net"));
    CU_ASSERT(domain_list_match(list, 2, "a.test"));
    CU_ASSERT(!domain_list_match(list, 2, "b.test"));
    CU_ASSERT(!domain_list_match(list, 0, "a.test"));
}

static void test_acl_rules(void)
{
    struct proxy_config cfg;
    struct sockaddr_storage in = client4("198.18.1.100"), out = client4("198.18.1.200");
    load(&cfg, "{\"allow_src\": [\"198.18.1.100/32\"], \"deny_domains\": [\".denied.example\"]}");
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "ep-terminator.mistsys.net", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "ep-terminator.mistsys.net", 80, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_SSL_PORT);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "ep-terminator.mistsys.net", 22, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_PORT); /* not even a Safe_port: Squid's first rule */
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), false, "ep-terminator.mistsys.net", 80, HTTP_AUTH_NONE, "", ""),
                      ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), false, "ep-terminator.mistsys.net", 8080, HTTP_AUTH_NONE, "", ""),
                      ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), false, "ep-terminator.mistsys.net", 25, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_PORT);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "ep-terminator.mistsys.net", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_SRC);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "www.denied.example", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_DOMAIN);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "denied.example", 443, HTTP_AUTH_NONE, "", ""), ACL_DENY_DOMAIN);
    /* order: port before source before domain */
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "denied.example", 80, HTTP_AUTH_NONE, "", ""), ACL_DENY_SSL_PORT);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "denied.example", 443, HTTP_AUTH_NONE, "", ""), ACL_DENY_SRC);
    proxy_config_free(&cfg);

    load(&cfg, "{\"allow_domains\": [\".mistsys.net\", \"exact.test\"], \"deny_domains\": [\"bad.mistsys.net\"],"
               " \"ssl_ports\": [443, \"8443-8444\"]}");
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "ep-terminator.mistsys.net", 8444, HTTP_AUTH_NONE, "", ""),
                      ACL_ALLOW); /* no allow_src: every source */
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "exact.test", 443, HTTP_AUTH_NONE, "", ""), ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "www.exact.test", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_NOT_ALLOWED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "bad.mistsys.net", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_DOMAIN); /* deny wins over allow */
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(out), true, "198.18.30.10", 443, HTTP_AUTH_NONE, "", ""),
                      ACL_DENY_NOT_ALLOWED);
    proxy_config_free(&cfg);
}

static void test_auth(void)
{
    struct proxy_config cfg;
    char err[256];
    struct sockaddr_storage in = client4("198.18.1.100");
    load(&cfg, "{\"auth\": {\"users_file\": \"/nonexistent\", \"realm\": \"lab proxy\"}, \"deny_domains\": [\"d.test\"]}");
    ZTP_ASSERT_EQ_INT(cfg.auth, 1);
    ZTP_ASSERT_EQ_STR(cfg.realm, "lab proxy");
    const char *users = "# lab users\nalice:secret\r\nbob:p:q\n\ncarol:\n";
    ZTP_ASSERT_EQ_INT(proxy_users_parse(&cfg, users, strlen(users), err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(cfg.n_users, 3);
    ZTP_ASSERT_EQ_STR(cfg.users[1].pass, "p:q");
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_NONE, "", ""), ACL_AUTH_REQUIRED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_INVALID, "", ""), ACL_AUTH_REQUIRED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "alice", "secret"), ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "alice", "wrong"), ACL_AUTH_FAILED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "alice", "secret2"),
                      ACL_AUTH_FAILED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "alice", ""), ACL_AUTH_FAILED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "mallory", "secret"),
                      ACL_AUTH_FAILED);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "bob", "p:q"), ACL_ALLOW);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_BASIC, "carol", ""), ACL_ALLOW);
    /* access rules come before authentication (Squid's default order): no 407 for a denied port */
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 80, HTTP_AUTH_NONE, "", ""), ACL_DENY_SSL_PORT);
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "d.test", 443, HTTP_AUTH_NONE, "", ""), ACL_DENY_DOMAIN);
    /* a bad line is reported by number, never echoed (it may hold a password) */
    const char *bad = "alice:secret\nno-colon-secret\n";
    ZTP_ASSERT_EQ_INT(proxy_users_parse(&cfg, bad, strlen(bad), err, sizeof err), -1);
    CU_ASSERT(strstr(err, "line 2") != NULL);
    CU_ASSERT(strstr(err, "secret") == NULL);
    ZTP_ASSERT_EQ_INT(cfg.n_users, 3); /* unchanged */
    ZTP_ASSERT_EQ_INT(proxy_users_parse(&cfg, ":x\n", 3, err, sizeof err), -1);
    proxy_config_free(&cfg);
}

static void test_config(void)
{
    struct proxy_config cfg;
    char err[512];
    load(&cfg, "{}");
    ZTP_ASSERT_EQ_INT(cfg.n_ssl_ports, 1);
    ZTP_ASSERT_EQ_INT(cfg.n_safe_ports, 10);
    ZTP_ASSERT_EQ_INT(cfg.auth, 0);
    ZTP_ASSERT_EQ_INT(cfg.connect_timeout_ms, 10000);
    ZTP_ASSERT_EQ_INT(cfg.limits.max_head, 65536);
    ZTP_ASSERT_EQ_INT(cfg.splice, 1);
    ZTP_ASSERT_EQ_STR(cfg.realm, "mock-proxy");
    proxy_config_free(&cfg);
    load(&cfg, "{\"listen\": [\"198.18.1.1:3128\", \"[2001:db8::1]:3128\"], \"access_log\": \"/tmp/a.log\","
               " \"timeouts\": {\"connect_ms\": 500, \"idle_ms\": 1000}, \"limits\": {\"max_head\": 4096},"
               " \"faults\": {\"refuse_all\": \"rst\", \"close_after_bytes\": 1000, \"stall\": false,"
               " \"delay_200_ms\": 250, \"down_ms\": 100, \"down_cut\": true}, \"squid_dns_bug\": true, \"splice\": false}");
    ZTP_ASSERT_EQ_INT(cfg.n_listen, 2);
    ZTP_ASSERT_EQ_STR(cfg.listen[1], "[2001:db8::1]:3128");
    ZTP_ASSERT_EQ_INT(cfg.connect_timeout_ms, 500);
    ZTP_ASSERT_EQ_INT(cfg.limits.max_head, 4096);
    ZTP_ASSERT_EQ_INT(cfg.faults.refuse_all, REFUSE_RST);
    ZTP_ASSERT_EQ_INT(cfg.faults.close_after_bytes, 1000);
    ZTP_ASSERT_EQ_INT(cfg.faults.delay_200_ms, 250);
    ZTP_ASSERT_EQ_INT(cfg.faults.down_ms, 100);
    ZTP_ASSERT_EQ_INT(cfg.faults.down_cut, 1);
    ZTP_ASSERT_EQ_INT(cfg.squid_dns_bug, 1);
    ZTP_ASSERT_EQ_INT(cfg.splice, 0);
    proxy_config_free(&cfg);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"colour\": 1}", "config: unknown key \"colour\""},
        {"{\"ssl_ports\": [0]}", "ssl_ports[0]"},
        {"{\"safe_ports\": [\"9-8\"]}", "safe_ports[0]"},
        {"{\"allow_src\": [\"198.18.1.0/40\"]}", "allow_src[0]"},
        {"{\"deny_domains\": [\"bad domain\"]}", "deny_domains[0]"},
        {"{\"auth\": {\"realm\": \"x\"}}", "auth.users_file"},
        {"{\"auth\": {\"users_file\": \"/u\", \"realm\": \"a\\\"b\"}}", "auth.realm"},
        {"{\"timeouts\": {\"connect_ms\": -1}}", "timeouts.connect_ms"},
        {"{\"limits\": {\"max_headers\": 1000}}", "limits.max_headers"},
        {"{\"faults\": {\"refuse_all\": \"maybe\"}}", "faults.refuse_all"},
        {"{\"faults\": {\"explode\": true}}", "faults: unknown key"},
        {"{\"faults\": {\"close_after_bytes\": -5}}", "faults.close_after_bytes"},
        {"{\"splice\": 1}", "splice"},
        {"{\"listen\": \"198.18.1.1:3128\"}", "listen"},
        {"{\"host\": \"a\", \"host\": \"b\"}", "line 1"},
        {"[1]", "JSON object"},
        {"{", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = proxy_config_parse(bad[i].json, strlen(bad[i].json), &cfg, err, sizeof err);
        CU_ASSERT_EQUAL(r, -1);
        if (r == 0 || !strstr(err, bad[i].want))
            fprintf(stderr, "\n  %s: \"%s\", expected \"%s\"\n", bad[i].json, r ? err : "accepted", bad[i].want);
        CU_ASSERT(r == -1 && strstr(err, bad[i].want) != NULL);
        if (r == 0)
            proxy_config_free(&cfg);
    }
    ZTP_ASSERT_EQ_INT(proxy_config_load("/nonexistent/mock-proxy.json", &cfg, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "/nonexistent/mock-proxy.json") != NULL);
    proxy_config_free(&cfg);
}

static void test_faults(void)
{
    struct proxy_faults f;
    char err[256];
    memset(&f, 0, sizeof f);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "refuse_all=403", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.refuse_all, REFUSE_403);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "refuse-all=rst", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.refuse_all, REFUSE_RST);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "refuse_all=off", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.refuse_all, REFUSE_OFF);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "stall", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.stall, 1);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "reset_after_bytes=65536", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.reset_after_bytes, 65536);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "delay-200-ms=1500", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(f.delay_200_ms, 1500);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "down_ms=99999999", err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "nonsense=1", err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "close_after_bytes=x", err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(proxy_fault_set(&f, "=1", err, sizeof err), -1);
    /* refuse_all=403 is an ACL verdict before every other rule */
    struct proxy_config cfg;
    struct sockaddr_storage in = client4("198.18.1.100");
    proxy_config_defaults(&cfg);
    cfg.faults.refuse_all = REFUSE_403;
    ZTP_ASSERT_EQ_INT(acl_check(&cfg, SA(in), true, "a.test", 443, HTTP_AUTH_NONE, "", ""), ACL_DENY_REFUSE_ALL);
    ZTP_ASSERT_EQ_STR(acl_verdict_name(ACL_DENY_REFUSE_ALL), "refuse_all");
    ZTP_ASSERT_EQ_STR(acl_verdict_name(ACL_AUTH_FAILED), "auth_failed");
    proxy_config_free(&cfg);
}

static void test_access_format(void)
{
    char line[1024];
    struct access_entry e = {.end_ms = 1700000000123, .elapsed_ms = 412, .client = "198.18.1.100",
                             .code = "TCP_TUNNEL", .status = 200, .bytes = 4821, .method = "CONNECT",
                             .url = "ep-terminator.mistsys.net:443", .user = NULL, .hier = "HIER_DIRECT",
                             .peer = "198.18.30.10", .type = NULL};
    access_format(line, sizeof line, &e);
    ZTP_ASSERT_EQ_STR(line, "1700000000.123    412 198.18.1.100 TCP_TUNNEL/200 4821 CONNECT "
                            "ep-terminator.mistsys.net:443 - HIER_DIRECT/198.18.30.10 -\n");
    struct access_entry d = {.end_ms = 1700000000005, .elapsed_ms = 0, .client = "198.18.1.100",
                             .code = "TCP_DENIED", .status = 407, .bytes = 3559, .method = "CONNECT",
                             .url = "a.test:443", .user = "al ice\n", .hier = "HIER_NONE", .peer = "",
                             .type = "text/html"};
    access_format(line, sizeof line, &d);
    ZTP_ASSERT_EQ_STR(line, "1700000000.005      0 198.18.1.100 TCP_DENIED/407 3559 CONNECT a.test:443 al%20ice%0A "
                            "HIER_NONE/- text/html\n");
    struct access_entry n = {.end_ms = 1700000000999, .elapsed_ms = 1234567, .client = "198.18.1.100",
                             .code = "NONE_NONE", .status = 0, .method = "-",
                             .url = "error:transaction-end-before-headers", .hier = "HIER_NONE"};
    access_format(line, sizeof line, &n);
    ZTP_ASSERT_EQ_STR(line, "1700000000.999 1234567 198.18.1.100 NONE_NONE/000 0 - "
                            "error:transaction-end-before-headers - HIER_NONE/- -\n");
    /* a tiny buffer still gets a terminated line */
    char small[16];
    size_t l = access_format(small, sizeof small, &e);
    ZTP_ASSERT_EQ_INT(l, strlen(small));
    ZTP_ASSERT_EQ_INT(small[l - 1], '\n');
}

int main(void)
{
    static const struct ztp_test acl_tests[] = {
        {"Safe_ports and SSL_ports", test_ports},
        {"source networks (CIDR)", test_cidr},
        {"dstdomain matching", test_domains},
        {"rules and their order", test_acl_rules},
        {"Basic auth and the users file", test_auth},
        {NULL, NULL},
    };
    static const struct ztp_test cfg_tests[] = {
        {"JSON config, defaults and errors", test_config},
        {"fault switches", test_faults},
        {"access log line", test_access_format},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"proxy acl", acl_tests}, {"proxy config", cfg_tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
