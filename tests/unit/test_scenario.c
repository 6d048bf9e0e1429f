/* Scenario files: a good file parsed into the model, every kind of error named by file, line and
 * field, and every committed scenario file loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "scenario.h"

#define FILE_NAME "scenarios/t.yaml"

static const char good[] =
    "name: t\n"                                                               /* 1 */
    "description: a test scenario\n"                                          /* 2 */
    "timeout: 12\n"                                                           /* 3 */
    "segments:\n"                                                             /* 4 */
    "  mpls: {}\n"                                                            /* 5 */
    "  internet:\n"                                                           /* 6 */
    "  ha: link\n"                                                            /* 7 */
    "hosts:\n"                                                                /* 8 */
    "  dhcp:\n"                                                               /* 9 */
    "    kind: dhcp-server\n"                                                 /* 10 */
    "    interfaces:\n"                                                       /* 11 */
    "      - {name: eth0, segment: mpls, address: 198.18.1.1/24}\n"           /* 12 */
    "    pools:\n"                                                            /* 13 */
    "      - {range: 198.18.1.100 - 198.18.1.199, proxy: \"198.18.1.8:3128\", lease-time: 60, t1: 5}\n" /* 14 */
    "  proxy:\n"                                                              /* 15 */
    "    kind: proxy\n"                                                       /* 16 */
    "    interfaces:\n"                                                       /* 17 */
    "      - {segment: mpls, address: 198.18.1.8/24}\n"                       /* 18 */
    "      - {segment: internet, address: 198.18.100.8/24}\n"                 /* 19 */
    "    users: {alice: s3cret-pw}\n"                                         /* 20 */
    "    faults: {refuse-all: \"403\", delay_200_ms: 10}\n"                   /* 21 */
    "  mist:\n"                                                               /* 22 */
    "    kind: https-server\n"                                                /* 23 */
    "    interfaces: [{segment: internet, address: 198.18.100.10/24}]\n"      /* 24 */
    "  r1a:\n"                                                                /* 25 */
    "    kind: ssr-node\n"                                                    /* 26 */
    "    interfaces:\n"                                                       /* 27 */
    "      - {segment: mpls, dhcp: true, mac: 'fa:16:3e:14:db:05'}\n"         /* 28 */
    "      - {name: ha0, segment: ha, address: 198.18.255.1/30}\n"            /* 29 */
    "    ha: {peer: r1b, interface: ha0, timeout: 2}\n"                       /* 30 */
    "    config: |\n"                                                         /* 31 */
    "      management-proxy enable\n"                                         /* 32 */
    "      management-proxy password pw-in-config\n"                          /* 33 */
    "    onboarding: {name: R1, registration-code: rc-123, proxy: {address: 198.18.1.50, port: 3128}}\n" /* 34 */
    "  r1b:\n"                                                                /* 35 */
    "    kind: ssr-node\n"                                                    /* 36 */
    "    interfaces:\n"                                                       /* 37 */
    "      - {segment: mpls, dhcp: true}\n"                                   /* 38 */
    "      - {name: ha0, segment: ha, address: 198.18.255.2/30}\n"            /* 39 */
    "    ha: {peer: r1a, interface: ha0}\n"                                   /* 40 */
    "    config: management-proxy enable\n"                                   /* 41 */
    "steps:\n"                                                                /* 42 */
    "  - name: r1b goes\n"                                                    /* 43 */
    "    start: r1b\n"                                                        /* 44 */
    "    stop: [r1b, dhcp]\n"                                                 /* 45 */
    "    set-proxy: {host: dhcp, pool: 0, proxy: none}\n"                     /* 46 */
    "    expect:\n"                                                           /* 47 */
    "      r1a: {active-proxy: none}\n"                                       /* 48 */
    "expect:\n"                                                               /* 49 */
    "  r1a:\n"                                                                /* 50 */
    "    active-proxy: 198.18.1.8:3128\n"                                     /* 51 */
    "    learned-proxies:\n"                                                  /* 52 */
    "      - {node: r1a, interface: wan0-net, proxy: 198.18.1.8:3128, selected: true}\n" /* 53 */
    "    logged: ['event=proxy\\.learned']\n"                                 /* 54 */
    "  proxy: {carried: [r1a, r1b]}\n";                                       /* 55 */

static struct scenario *parse(const char *text, char *err, size_t cap)
{
    return scenario_parse(FILE_NAME, text, strlen(text), err, cap);
}

static void test_good(void)
{
    char err[512] = "";
    struct scenario *s = parse(good, err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ZTP_ASSERT_EQ_STR(s->name, "t");
    ZTP_ASSERT_EQ_STR(s->description, "a test scenario");
    CU_ASSERT_DOUBLE_EQUAL(s->timeout, 12.0, 1e-9);
    ZTP_ASSERT_EQ_INT(s->n_segments, 3);
    ZTP_ASSERT_EQ_INT(s->segments[2].kind, SCN_SEG_LINK);
    ZTP_ASSERT_EQ_INT(s->segments[1].kind, SCN_SEG_BRIDGE);
    ZTP_ASSERT_EQ_INT(s->n_hosts, 5);

    const struct scn_host *d = scenario_host(s, "dhcp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    ZTP_ASSERT_EQ_INT(d->kind, SCN_DHCP_SERVER);
    ZTP_ASSERT_EQ_INT(d->impl, SCN_IMPL_MOCK);
    ZTP_ASSERT_EQ_INT(d->n_pools, 1);
    /* derived from the interface: the pool's interface, server, mask, subnet; the range normalised */
    ZTP_ASSERT_EQ_STR(d->pools[0].interface, "eth0");
    ZTP_ASSERT_EQ_STR(d->pools[0].server, "198.18.1.1");
    ZTP_ASSERT_EQ_STR(d->pools[0].netmask, "255.255.255.0");
    ZTP_ASSERT_EQ_STR(d->pools[0].subnet, "198.18.1.0/24");
    ZTP_ASSERT_EQ_STR(d->pools[0].range, "198.18.1.100-198.18.1.199");
    ZTP_ASSERT_EQ_STR(d->pools[0].proxy, "198.18.1.8:3128");
    ZTP_ASSERT_EQ_STR(d->pools[0].vendor_class, "JuniperSSR");
    ZTP_ASSERT_EQ_INT(d->pools[0].lease_time, 60);
    ZTP_ASSERT_EQ_INT(d->pools[0].t1, 5);

    const struct scn_host *p = scenario_host(s, "proxy");
    ZTP_ASSERT_EQ_INT(p->proxy.port, 3128);
    ZTP_ASSERT_EQ_STR(p->ifs[0].name, "eth0"); /* default names */
    ZTP_ASSERT_EQ_STR(p->ifs[1].name, "eth1");
    ZTP_ASSERT_EQ_INT(p->proxy.n_users, 1);
    ZTP_ASSERT_EQ_STR(p->proxy.users[0].name, "alice");
    ZTP_ASSERT_EQ_INT(p->proxy.n_faults, 2);
    ZTP_ASSERT_EQ_STR(p->proxy.faults[0].key, "refuse_all"); /* '-' becomes '_' */
    CU_ASSERT(p->proxy.faults[0].quoted);
    ZTP_ASSERT_EQ_STR(p->proxy.faults[1].value, "10");
    CU_ASSERT(!p->proxy.faults[1].quoted);

    const struct scn_host *m = scenario_host(s, "mist");
    ZTP_ASSERT_EQ_INT(m->impl, SCN_IMPL_OPENSSL);
    ZTP_ASSERT_EQ_INT(m->https.port, 443);
    ZTP_ASSERT_EQ_STR(m->https.names[0], "ep-terminator.mistsys.net");

    const struct scn_host *r = scenario_host(s, "r1a");
    ZTP_ASSERT_EQ_STR(r->node.router, "R1");
    ZTP_ASSERT_EQ_STR(r->node.node, "r1a");
    ZTP_ASSERT_EQ_STR(r->ifs[0].name, "wan0");
    CU_ASSERT(r->ifs[0].dhcp);
    ZTP_ASSERT_EQ_STR(r->node.ha_peer, "r1b");
    ZTP_ASSERT_EQ_INT(r->node.ha_timeout, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r->node.config, "management-proxy enable\n"));
    /* onboarding written as YAML becomes JSON with numbers as numbers */
    CU_ASSERT_PTR_NOT_NULL(strstr(r->node.onboarding, "\"port\": 3128"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->node.onboarding, "\"registration-code\": \"rc-123\""));

    /* secrets: the proxy user's password, the registration code, the password in config lines */
    ZTP_ASSERT_EQ_INT(s->n_secrets, 3);
    bool have_pw = false, have_rc = false, have_cfg = false;
    for (size_t i = 0; i < s->n_secrets; i++) {
        have_pw |= !strcmp(s->secrets[i], "s3cret-pw");
        have_rc |= !strcmp(s->secrets[i], "rc-123");
        have_cfg |= !strcmp(s->secrets[i], "pw-in-config");
    }
    CU_ASSERT(have_pw && have_rc && have_cfg);

    /* steps: the file's step, then the final expectations (+ the automatic no-secrets check) */
    ZTP_ASSERT_EQ_INT(s->n_steps, 2);
    const struct scn_step *st = &s->steps[0];
    ZTP_ASSERT_EQ_STR(st->name, "r1b goes");
    ZTP_ASSERT_EQ_INT(st->n_actions, 4);
    /* in the order written: start (44), stop r1b and dhcp (45), set-proxy (46) */
    ZTP_ASSERT_EQ_INT(st->actions[0].kind, ACT_START);
    ZTP_ASSERT_EQ_INT(st->actions[1].kind, ACT_STOP);
    ZTP_ASSERT_EQ_STR(st->actions[2].host, "dhcp");
    ZTP_ASSERT_EQ_INT(st->actions[3].kind, ACT_SET_PROXY);
    ZTP_ASSERT_EQ_STR(st->actions[3].value, "none");
    ZTP_ASSERT_EQ_INT(st->n_expects, 1);
    const struct scn_step *fin = &s->steps[1];
    ZTP_ASSERT_EQ_STR(fin->name, "final state");
    ZTP_ASSERT_EQ_INT(fin->n_expects, 5);
    ZTP_ASSERT_EQ_INT(fin->expects[0].kind, EXP_ACTIVE_PROXY);
    ZTP_ASSERT_EQ_INT(fin->expects[0].line, 51);
    ZTP_ASSERT_EQ_INT(fin->expects[1].kind, EXP_LEARNED_PROXIES);
    ZTP_ASSERT_EQ_INT(fin->expects[1].n_rows, 1);
    ZTP_ASSERT_EQ_INT(fin->expects[1].rows[0].selected, 1);
    ZTP_ASSERT_EQ_INT(fin->expects[1].rows[0].discovery, -1);
    ZTP_ASSERT_EQ_INT(fin->expects[3].kind, EXP_CARRIED);
    ZTP_ASSERT_EQ_INT(fin->expects[3].n_list, 2);
    ZTP_ASSERT_EQ_INT(fin->expects[4].kind, EXP_NO_SECRETS);
    scenario_free(s);

    /* a segment's expectation: what tcpdump decodes of its capture */
    char *text = strdup(good);
    char *at = strstr(text, "  proxy: {carried: [r1a, r1b]}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    const char *add = "  mpls: {decoded: ['Vendor-Option \\(43\\), length 17']}\n";
    char *t2 = malloc(strlen(text) + strlen(add) + 1);
    sprintf(t2, "%.*s%s%s", (int)(at - text), text, add, at);
    s = parse(t2, err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scn_step *f2 = &s->steps[s->n_steps - 1];
    ZTP_ASSERT_EQ_INT(f2->expects[3].kind, EXP_DECODED);
    ZTP_ASSERT_EQ_STR(f2->expects[3].host, "mpls");
    ZTP_ASSERT_EQ_STR(f2->expects[3].list[0], "Vendor-Option \\(43\\), length 17");
    scenario_free(s);
    free(text);
    free(t2);
}

/* Replace the first occurrence of `from` in the good file by `to` and expect `want` as the error. */
static void expect_error(const char *from, const char *to, const char *want)
{
    const char *at = strstr(good, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    char err[512] = "";
    struct scenario *s = parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NULL(s);
    scenario_free(s);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\"\n  does not contain \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    free(text);
}

static void test_unknown_keys(void)
{
    expect_error("timeout: 12\n", "timeout: 12\ncolour: blue\n", FILE_NAME ":4: colour: unknown key (expected one of: name, description");
    expect_error("    users: {alice", "    porrt: 1\n    users: {alice", FILE_NAME ":20: hosts.proxy.porrt: unknown key");
    expect_error("{name: eth0, segment: mpls,", "{name: eth0, segmnt: mpls,",
                 FILE_NAME ":12: hosts.dhcp.interfaces[0].segmnt: unknown key");
    expect_error("lease-time: 60", "lease: 60", FILE_NAME ":14: hosts.dhcp.pools[0].lease: unknown key");
    /* a key of another kind is unknown too */
    expect_error("    users: {alice", "    pools: []\n    users: {alice", FILE_NAME ":20: hosts.proxy.pools: unknown key");
    expect_error("r1a: {active-proxy: none}", "r1a: {active-proxi: none}", FILE_NAME ":48: steps[0].expect.r1a.active-proxi: unknown key");
    expect_error("    stop: [r1b, dhcp]\n", "    stop: [r1b, dhcp]\n    pause: 1\n", FILE_NAME ":46: steps[0].pause: unknown key");
    expect_error("refuse-all: \"403\"", "refuse-everything: \"403\"", FILE_NAME ":21: hosts.proxy.faults.refuse-everything: unknown fault switch");
}

static void test_structure_errors(void)
{
    expect_error("  mpls: {}\n", "  mpls: {}\n  mpls: {}\n", FILE_NAME ":6: segments: duplicate key \"mpls\" (first on line 5)");
    expect_error("name: t\n", "", FILE_NAME ":1: missing required key \"name\"");
    expect_error("    kind: proxy\n", "", FILE_NAME ":16: hosts.proxy: missing required key \"kind\"");
    expect_error("kind: proxy", "kind: router", "hosts.proxy.kind: unknown value \"router\" (expected one of: ssr-node, dhcp-server, proxy, https-server)");
    expect_error("timeout: 12", "timeout: soon", FILE_NAME ":3: timeout: expected a number of seconds");
    expect_error("timeout: 12", "timeout: [12]", FILE_NAME ":3: timeout: expected a single value, not a list");
    expect_error("dhcp: true, mac", "dhcp: maybe, mac", FILE_NAME ":28: hosts.r1a.interfaces[0].dhcp: expected true or false");
    expect_error("t1: 5", "t1: -5", FILE_NAME ":14: hosts.dhcp.pools[0].t1: expected a whole number");
    expect_error("description: a test scenario", "description: \"two\\nlines\"", FILE_NAME ":2: description: one line");
    /* YAML syntax: libyaml's problem and its line */
    expect_error("  mpls: {}\n", "  mpls: {\n", FILE_NAME ":7: YAML syntax: did not find expected ',' or '}'");
    expect_error("name: t\n", "name: other\n", FILE_NAME ":1: name: \"other\" differs from the file name \"t\"");
}

static void test_semantic_errors(void)
{
    expect_error("segment: mpls, address: 198.18.1.1/24", "segment: mpls-x, address: 198.18.1.1/24",
                 FILE_NAME ":12: hosts.dhcp.interfaces[0].segment: unknown segment \"mpls-x\"");
    expect_error("address: 198.18.1.1/24", "address: 10.0.0.1/24",
                 FILE_NAME ":12: hosts.dhcp.interfaces[0].address: 10.0.0.1/24 is outside the lab's range 198.18.0.0/15");
    expect_error("address: 198.18.1.1/24", "address: 198.18.1.1",
                 FILE_NAME ":12: hosts.dhcp.interfaces[0].address: give the prefix length too");
    expect_error("range: 198.18.1.100 - 198.18.1.199", "range: 198.18.2.100-198.18.2.199",
                 FILE_NAME ":14: hosts.dhcp.pools[0]: range 198.18.2.100-198.18.2.199 is not inside eth0's subnet");
    expect_error("ha: {peer: r1b, interface: ha0, timeout: 2}", "ha: {peer: mist, interface: ha0}",
                 FILE_NAME ":25: hosts.r1a.ha: peer \"mist\" is not another router node");
    expect_error("ha: {peer: r1a, interface: ha0}", "ha: {peer: r1a, interface: ha9}",
                 FILE_NAME ":35: hosts.r1b.ha: interface \"ha9\" is not an interface of r1b with an address");
    expect_error("kind: https-server", "kind: https-server\n    impl: squid", FILE_NAME ":22: hosts.mist: impl squid is not available for a https-server");
    expect_error("{segment: mpls, address: 198.18.1.8/24}", "{segment: mpls, address: 198.18.1.8/24, dhcp: true}",
                 FILE_NAME ":18: hosts.proxy.interfaces[0]: dhcp: only router interfaces");
    expect_error("[{segment: internet, address: 198.18.100.10/24}]",
                 "[{segment: internet, address: 198.18.100.10/24}, {segment: ha, address: 198.18.255.9/30}]",
                 FILE_NAME ":7: segments.ha: a link joins exactly two interfaces; 3 are on it");
    expect_error("pool: 0, proxy: none", "pool: 3, proxy: none", FILE_NAME ":46: steps[0].set-proxy: dhcp has 1 pools (0-0)");
    expect_error("stop: [r1b, dhcp]", "stop: [r1b, r9]", FILE_NAME ":45: steps[0].stop: no host named \"r9\"");
    expect_error("  proxy: {carried: [r1a, r1b]}", "  mpls: {logged: [x]}", FILE_NAME ":55: expect.mpls.logged: a segment has only decoded: expectations");
    expect_error("  proxy: {carried: [r1a, r1b]}", "  proxy: {decoded: [x]}",
                 FILE_NAME ":55: expect.proxy.decoded: not an expectation for a proxy host (decoded: is for a segment)");
    expect_error("  proxy: {carried: [r1a, r1b]}", "  nowhere: {decoded: [x]}", FILE_NAME ":55: expect.nowhere: no host or segment named \"nowhere\"");
    expect_error("  proxy: {carried: [r1a, r1b]}", "  proxy: {carried: [r1a, mist]}",
                 FILE_NAME ":55: expect.proxy.carried: \"mist\" is not a router node");
    expect_error("  proxy: {carried: [r1a, r1b]}", "  proxy: {active-proxy: none}",
                 FILE_NAME ":55: expect.proxy.active-proxy: not an expectation for a proxy host");
    expect_error("{node: r1a, interface: wan0-net", "{node: r7, interface: wan0-net",
                 FILE_NAME ":53: expect.r1a.learned-proxies[0].node: no router node named \"r7\"");
    expect_error("logged: ['event=proxy\\.learned']", "logged: ['event=(proxy']",
                 FILE_NAME ":54: expect.r1a.logged: /event=(proxy/ is not a valid extended regex");
    expect_error("active-proxy: 198.18.1.8:3128", "active-proxy: 198.18.1.8", FILE_NAME ":51: expect.r1a.active-proxy: expected ADDRESS:PORT or none");
    expect_error("  mist:\n", "  s-mist:\n", "hosts.s-mist: host names starting with \"s-\" are the segments' namespaces");
}

static void test_load_file(void)
{
    char err[512];
    struct scenario *s = scenario_load("/nonexistent/x.yaml", err, sizeof(err));
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x.yaml: No such file"));
}

/* every committed scenario parses */
static void test_committed_scenarios(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/../../../scenarios", ZTP_TEST_DATA);
    struct scn_entry *e;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(scenario_dir_list(dir, &e, &n), 0);
    CU_ASSERT(n >= 14);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].ok)
            fprintf(stderr, "\n  %s: %s\n", e[i].name, e[i].description);
        CU_ASSERT(e[i].ok);
    }
    scenario_dir_free(e, n);
}

static const struct ztp_test tests[] = {
    {"a good file becomes the model", test_good},
    {"unknown keys are errors with file:line:field", test_unknown_keys},
    {"structure and type errors", test_structure_errors},
    {"semantic errors name the line", test_semantic_errors},
    {"unreadable file", test_load_file},
    {"every scenarios/*.yaml parses", test_committed_scenarios},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {{"scenario", tests}, {NULL, NULL}};

int main(void) { return ztp_cunit_run(suites); }
