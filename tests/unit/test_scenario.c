/* Scenario files: a good file parsed into the model, every kind of error named by file, line and
 * field, and every committed scenario file loads. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs.h"
#include "cunit_main.h"
#include "expect.h"
#include "scenario.h"
#include "ztp/daemon.h"
#include "ztp/pki.h"

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
    "  ept: {kind: ep-terminator, interfaces: [{segment: internet, address: 198.18.100.10/24}]}\n" /* 22 */
    "  mist: {kind: mist, interfaces: [{segment: internet, address: 198.18.100.40/24}],\n" /* 23 */
    "         lockout-seconds: 9, conductor: \"198.18.5.11:930\"}\n"          /* 24 */
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
    ZTP_ASSERT_EQ_INT(s->n_hosts, 6);

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

    /* the Mist mocks' defaults */
    const struct scn_host *e = scenario_host(s, "ept");
    CU_ASSERT_PTR_EQUAL(scenario_ep_terminator(s), e);
    ZTP_ASSERT_EQ_INT(e->kind, SCN_EP_TERMINATOR);
    ZTP_ASSERT_EQ_INT(e->impl, SCN_IMPL_MOCK);
    ZTP_ASSERT_EQ_INT(e->cloud.port, 443);
    ZTP_ASSERT_EQ_INT(e->cloud.n_names, 1);
    ZTP_ASSERT_EQ_STR(e->cloud.names[0], "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_STR(e->cloud.environment, "production");
    ZTP_ASSERT_EQ_INT(e->cloud.retry_after, 1);
    CU_ASSERT(!e->cloud.untrusted);
    const struct scn_host *m = scenario_host(s, "mist");
    CU_ASSERT_PTR_EQUAL(scenario_mist_for(s, "production"), m);
    ZTP_ASSERT_EQ_STR(m->cloud.names[0], "api.mist.com");
    ZTP_ASSERT_EQ_INT(m->cloud.max_failures, 5);
    ZTP_ASSERT_EQ_INT(m->cloud.lockout_seconds, 9);
    ZTP_ASSERT_EQ_INT(m->cloud.challenge_ttl, 30);
    ZTP_ASSERT_EQ_STR(m->cloud.conductor, "198.18.5.11:930");
    char url[128];
    ZTP_ASSERT_EQ_STR(scn_cloud_url(m, url, sizeof(url)), "https://api.mist.com");
    CU_ASSERT(scenario_is_cloud_name(s, "EP-Terminator.mistsys.net"));
    CU_ASSERT(scenario_is_cloud_name(s, "api.mist.com"));
    CU_ASSERT(!scenario_is_cloud_name(s, "mist.com"));

    const struct scn_host *r = scenario_host(s, "r1a");
    ZTP_ASSERT_EQ_STR(r->node.router, "R1");
    ZTP_ASSERT_EQ_STR(r->node.node, "r1a");
    ZTP_ASSERT_EQ_STR(r->ifs[0].name, "wan0");
    CU_ASSERT(r->ifs[0].dhcp);
    ZTP_ASSERT_EQ_STR(r->node.ha_peer, "r1b");
    ZTP_ASSERT_EQ_INT(r->node.ha_timeout, 2);
    /* with an ep-terminator every node runs sZTP, with these defaults */
    CU_ASSERT(r->node.sztp);
    ZTP_ASSERT_EQ_STR(r->node.device_id, "R1-r1a");
    CU_ASSERT(r->node.claimed);
    ZTP_ASSERT_EQ_STR(r->node.environment, "production");
    ZTP_ASSERT_EQ_STR(r->node.org, "ztp-lab");
    ZTP_ASSERT_EQ_STR(r->node.site, "R1");
    CU_ASSERT(!r->node.ocra_wrong);
    CU_ASSERT_PTR_NULL(r->node.sztp_fault);
    CU_ASSERT_PTR_NULL(r->node.conductor);
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
    ZTP_ASSERT_EQ_INT(fin->n_expects, 6);
    ZTP_ASSERT_EQ_INT(fin->expects[0].kind, EXP_ACTIVE_PROXY);
    ZTP_ASSERT_EQ_INT(fin->expects[0].line, 51);
    ZTP_ASSERT_EQ_INT(fin->expects[1].kind, EXP_LEARNED_PROXIES);
    ZTP_ASSERT_EQ_INT(fin->expects[1].n_rows, 1);
    ZTP_ASSERT_EQ_INT(fin->expects[1].rows[0].selected, 1);
    ZTP_ASSERT_EQ_INT(fin->expects[1].rows[0].discovery, -1);
    ZTP_ASSERT_EQ_INT(fin->expects[3].kind, EXP_CARRIED);
    ZTP_ASSERT_EQ_INT(fin->expects[3].n_list, 2);
    ZTP_ASSERT_EQ_INT(fin->expects[4].kind, EXP_NO_SECRETS);
    ZTP_ASSERT_EQ_INT(fin->expects[5].kind, EXP_SECRET_FILES); /* the nodes run sZTP: they keep secret files */
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
    expect_error("kind: proxy", "kind: router", "hosts.proxy.kind: unknown value \"router\" (expected one of: ssr-node, dhcp-server, proxy, ep-terminator, mist, "
                 "conductor, hub)");
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
    expect_error("{kind: ep-terminator,", "{kind: ep-terminator, impl: squid,", FILE_NAME ":22: hosts.ept: impl squid is not available for an ep-terminator");
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
    expect_error("  mist: {", "  s-mist: {", "hosts.s-mist: host names starting with \"s-\" are the segments' namespaces");
    expect_error("    users: {alice", "    ssl-ports: [443, 70000]\n    users: {alice",
                 FILE_NAME ":20: hosts.proxy: ssl-ports[1]: \"70000\" is not a port (1..65535)");
    expect_error("    users: {alice", "    ssl-ports: [443, x]\n    users: {alice",
                 FILE_NAME ":20: hosts.proxy: ssl-ports[1]: \"x\" is not a port (1..65535)");
}

/* The sZTP keys: the Mist mocks, the nodes' keys, the claim action, the onboarding expectations. */
static const char sztp[] =
    "name: t\n"                                                               /* 1 */
    "description: sZTP keys\n"                                                /* 2 */
    "segments: {lan: {}, internet: {}}\n"                                     /* 3 */
    "hosts:\n"                                                                /* 4 */
    "  proxy:\n"                                                              /* 5 */
    "    kind: proxy\n"                                                       /* 6 */
    "    interfaces: [{segment: lan, address: 198.18.1.8/24}, {segment: internet, address: 198.18.100.8/24}]\n" /* 7 */
    "  ept:\n"                                                                /* 8 */
    "    kind: ep-terminator\n"                                               /* 9 */
    "    port: 8443\n"                                                        /* 10 */
    "    names: [ep-terminator.mistsys.net, ept.lab]\n"                       /* 11 */
    "    environment: staging\n"                                              /* 12 */
    "    ca: untrusted\n"                                                     /* 13 */
    "    retry-after: 3\n"                                                    /* 14 */
    "    interfaces: [{segment: internet, address: 198.18.100.10/24}]\n"      /* 15 */
    "  mist:\n"                                                               /* 16 */
    "    kind: mist\n"                                                        /* 17 */
    "    environment: staging\n"                                              /* 18 */
    "    max-failures: 2\n"                                                   /* 19 */
    "    challenge-ttl: 5\n"                                                  /* 20 */
    "    interfaces: [{segment: internet, address: 198.18.100.40/24}]\n"      /* 21 */
    "  mist-prod:\n"                                                          /* 22 */
    "    kind: mist\n"                                                        /* 23 */
    "    interfaces: [{segment: internet, address: 198.18.100.41/24}]\n"      /* 24 */
    "  r1a:\n"                                                                /* 25 */
    "    kind: ssr-node\n"                                                    /* 26 */
    "    interfaces: [{segment: lan, dhcp: true}]\n"                          /* 27 */
    "    config: management-proxy enable\n"                                   /* 28 */
    "    device-id: SSR-0001\n"                                               /* 29 */
    "    claimed: false\n"                                                    /* 30 */
    "    environment: production\n"                                           /* 31 */
    "    org: acme\n"                                                         /* 32 */
    "    site: branch-1\n"                                                    /* 33 */
    "    ocra-key: wrong\n"                                                   /* 34 */
    "    sztp-fault: replay-response\n"                                       /* 35 */
    "    conductor: 198.18.5.12:930\n"                                        /* 36 */
    "  r1b:\n"                                                                /* 37 */
    "    kind: ssr-node\n"                                                    /* 38 */
    "    interfaces: [{segment: lan, dhcp: true}]\n"                          /* 39 */
    "    config: management-proxy enable\n"                                   /* 40 */
    "steps:\n"                                                                /* 41 */
    "  - name: claim it\n"                                                    /* 42 */
    "    claim: r1a\n"                                                        /* 43 */
    "    expect:\n"                                                           /* 44 */
    "      r1a: {onboarding: secret-stored, stored: [root-ca, conductor-psk]}\n" /* 45 */
    "expect:\n"                                                               /* 46 */
    "  r1a:\n"                                                                /* 47 */
    "    onboarding-error: none\n"                                            /* 48 */
    "    stored: none\n"                                                      /* 49 */
    "    phone-home: ok\n"                                                    /* 50 */
    "  mist:\n"                                                               /* 51 */
    "    logged: ['x', {regex: 'event=device\\.verify .*result=ok', count: 1}]\n"; /* 52 */

static void sztp_error(const char *from, const char *to, const char *want)
{
    const char *at = strstr(sztp, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t n = strlen(sztp) - strlen(from) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - sztp), sztp, to, at + strlen(from));
    char err[512] = "";
    struct scenario *s = parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NULL(s);
    scenario_free(s);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\"\n  does not contain \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    free(text);
}

static void test_sztp_keys(void)
{
    char err[512] = "";
    struct scenario *s = parse(sztp, err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scn_host *e = scenario_ep_terminator(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    ZTP_ASSERT_EQ_INT(e->cloud.port, 8443);
    ZTP_ASSERT_EQ_INT(e->cloud.n_names, 2);
    ZTP_ASSERT_EQ_STR(e->cloud.names[1], "ept.lab");
    ZTP_ASSERT_EQ_STR(e->cloud.environment, "staging");
    CU_ASSERT(e->cloud.untrusted);
    ZTP_ASSERT_EQ_INT(e->cloud.retry_after, 3);
    char url[128];
    ZTP_ASSERT_EQ_STR(scn_cloud_url(e, url, sizeof(url)), "https://ep-terminator.mistsys.net:8443");
    /* the default org-cloud name of another environment; one mist host per environment */
    const struct scn_host *m = scenario_mist_for(s, "staging");
    CU_ASSERT_PTR_EQUAL(m, scenario_host(s, "mist"));
    ZTP_ASSERT_EQ_STR(m->cloud.names[0], "api.staging.mist.com");
    ZTP_ASSERT_EQ_INT(m->cloud.max_failures, 2);
    ZTP_ASSERT_EQ_INT(m->cloud.challenge_ttl, 5);
    ZTP_ASSERT_EQ_STR(m->cloud.conductor, "198.18.5.10:930");
    ZTP_ASSERT_EQ_STR(scenario_mist_for(s, "production")->cloud.names[0], "api.mist.com");

    const struct scn_node *a = &scenario_host(s, "r1a")->node, *b = &scenario_host(s, "r1b")->node;
    CU_ASSERT(a->sztp && b->sztp);
    ZTP_ASSERT_EQ_STR(a->device_id, "SSR-0001");
    CU_ASSERT(!a->claimed);
    ZTP_ASSERT_EQ_STR(a->environment, "production");
    ZTP_ASSERT_EQ_STR(a->org, "acme");
    ZTP_ASSERT_EQ_STR(a->site, "branch-1");
    CU_ASSERT(a->ocra_wrong);
    ZTP_ASSERT_EQ_STR(a->sztp_fault, "replay-response");
    ZTP_ASSERT_EQ_STR(a->conductor, "198.18.5.12:930");
    ZTP_ASSERT_EQ_INT(a->sztp_line, 29);
    /* defaults: the ep-terminator's environment */
    ZTP_ASSERT_EQ_STR(b->device_id, "R1-r1b");
    ZTP_ASSERT_EQ_STR(b->environment, "staging");
    CU_ASSERT(b->claimed);

    ZTP_ASSERT_EQ_INT(s->n_steps, 2);
    ZTP_ASSERT_EQ_INT(s->steps[0].n_actions, 1);
    ZTP_ASSERT_EQ_INT(s->steps[0].actions[0].kind, ACT_CLAIM);
    ZTP_ASSERT_EQ_STR(s->steps[0].actions[0].host, "r1a");
    const struct scn_expect *x = s->steps[0].expects;
    ZTP_ASSERT_EQ_INT(x[0].kind, EXP_ONBOARDING);
    ZTP_ASSERT_EQ_STR(x[0].value, "secret-stored");
    ZTP_ASSERT_EQ_INT(x[1].kind, EXP_STORED);
    ZTP_ASSERT_EQ_INT(x[1].n_list, 2);
    ZTP_ASSERT_EQ_STR(x[1].list[1], "conductor-psk");
    const struct scn_step *fin = &s->steps[1];
    ZTP_ASSERT_EQ_INT(fin->expects[0].kind, EXP_ONBOARDING_ERROR);
    ZTP_ASSERT_EQ_STR(fin->expects[0].value, "none");
    ZTP_ASSERT_EQ_INT(fin->expects[1].kind, EXP_STORED);
    ZTP_ASSERT_EQ_INT(fin->expects[1].n_list, 0); /* none */
    ZTP_ASSERT_EQ_INT(fin->expects[3].kind, EXP_LOGGED);
    ZTP_ASSERT_EQ_INT(fin->expects[3].n_list, 2);
    ZTP_ASSERT_EQ_INT(fin->expects[3].counts[0], -1);
    ZTP_ASSERT_EQ_INT(fin->expects[3].counts[1], 1);
    ZTP_ASSERT_EQ_STR(fin->expects[3].list[1], "event=device\\.verify .*result=ok");
    /* the run generates secrets: the no-secrets and secret-files checks are always there */
    ZTP_ASSERT_EQ_INT(fin->expects[fin->n_expects - 2].kind, EXP_NO_SECRETS);
    ZTP_ASSERT_EQ_INT(fin->expects[fin->n_expects - 1].kind, EXP_SECRET_FILES);
    ZTP_ASSERT_EQ_INT(scn_sztp_state_index("init"), 0);
    ZTP_ASSERT_EQ_INT(scn_sztp_state_index("secret-stored"), 7);
    ZTP_ASSERT_EQ_INT(scn_sztp_state_index("bogus"), -1);
    scenario_free(s);
}

static void test_sztp_errors(void)
{
    /* values */
    sztp_error("ca: untrusted", "ca: maybe", FILE_NAME ":13: hosts.ept.ca: unknown value \"maybe\" (expected one of: lab, untrusted)");
    sztp_error("ocra-key: wrong", "ocra-key: left", FILE_NAME ":34: hosts.r1a.ocra-key: unknown value \"left\" (expected one of: right, wrong)");
    sztp_error("sztp-fault: replay-response", "sztp-fault: drop", FILE_NAME ":35: hosts.r1a.sztp-fault: unknown value \"drop\" (expected one of: replay-response)");
    sztp_error("claimed: false", "claimed: perhaps", FILE_NAME ":30: hosts.r1a.claimed: expected true or false");
    sztp_error("device-id: SSR-0001", "device-id: SSR 0001", FILE_NAME ":29: hosts.r1a.device-id: \"SSR 0001\": expected 1-64 characters");
    sztp_error("org: acme", "org: \"a/b\"", FILE_NAME ":32: hosts.r1a.org: \"a/b\": expected 1-64 characters");
    sztp_error("    environment: production\n", "    environment: Prod_1\n", FILE_NAME ":31: hosts.r1a.environment: \"Prod_1\": expected 1-63 characters of a-z, 0-9, '-'");
    sztp_error("names: [ep-terminator.mistsys.net, ept.lab]", "names: [ep-terminator.mistsys.net, -bad.lab]",
               FILE_NAME ":11: hosts.ept.names[1]: \"-bad.lab\" is not a host name");
    sztp_error("retry-after: 3", "retry-after: 0", FILE_NAME ":14: hosts.ept.retry-after: expected a whole number from 1 to 3600");
    sztp_error("max-failures: 2", "max-failures: 5000", FILE_NAME ":19: hosts.mist.max-failures: expected a whole number from 1 to 1000");
    sztp_error("conductor: 198.18.5.12:930", "conductor: 198.18.5.12", FILE_NAME ":36: hosts.r1a.conductor: \"198.18.5.12\" is not ADDRESS:PORT");
    sztp_error("conductor: 198.18.5.12:930", "conductor: 10.0.0.1:930", FILE_NAME ":36: hosts.r1a.conductor: 10.0.0.1 is outside the lab's range");
    sztp_error("    max-failures: 2\n", "    conductor: x:1\n", FILE_NAME ":19: hosts.mist.conductor: \"x\" is not an IPv4 address");
    /* keys of another kind */
    sztp_error("    retry-after: 3\n", "    retry-after: 3\n    max-failures: 3\n", FILE_NAME ":15: hosts.ept.max-failures: unknown key");
    sztp_error("    challenge-ttl: 5\n", "    challenge-ttl: 5\n    retry-after: 3\n", FILE_NAME ":21: hosts.mist.retry-after: unknown key");
    /* cross-references */
    sztp_error("    environment: production\n", "    environment: lab\n", FILE_NAME ":29: hosts.r1a: no mist host serves environment \"lab\"");
    sztp_error("  mist:\n    kind: mist\n    environment: staging\n", "  mist:\n    kind: mist\n    environment: staging2\n",
               FILE_NAME ":8: hosts.ept: no mist host serves its environment \"staging\"");
    sztp_error("  mist-prod:\n    kind: mist\n", "  mist-prod:\n    kind: mist\n    environment: staging\n",
               FILE_NAME ":22: hosts.mist-prod: environment staging is served by mist host mist already");
    sztp_error("  mist-prod:\n    kind: mist\n", "  mist-prod:\n    kind: ep-terminator\n",
               FILE_NAME ":22: hosts.mist-prod: one ep-terminator per scenario (ept is one already)");
    sztp_error("  mist-prod:\n    kind: mist\n", "  mist-prod:\n    kind: mist\n    names: [EPT.lab]\n",
               FILE_NAME ":24: hosts.mist-prod.names[0]: \"EPT.lab\" is not a host name");
    sztp_error("  mist-prod:\n    kind: mist\n", "  mist-prod:\n    kind: mist\n    names: [ept.lab]\n",
               FILE_NAME ":22: hosts.mist-prod: name ept.lab is a name of ept already");
    sztp_error("    device-id: SSR-0001\n", "    device-id: R1-r1b\n", FILE_NAME ":37: hosts.r1b: device id R1-r1b is r1a's already");
    sztp_error("    kind: ep-terminator\n    port: 8443\n    names: [ep-terminator.mistsys.net, ept.lab]\n    environment: staging\n"
               "    ca: untrusted\n    retry-after: 3\n", "    kind: proxy\n",
               FILE_NAME ":11: hosts.mist: a mist host needs an ep-terminator");
    /* actions and expectations */
    sztp_error("    claim: r1a\n", "    claim: r1b\n", FILE_NAME ":43: steps[0].claim: r1b is claimed from the start (set claimed: false)");
    sztp_error("    claim: r1a\n", "    claim: [r1a, r1a]\n", FILE_NAME ":43: steps[0].claim: r1a is claimed already");
    sztp_error("    claim: r1a\n", "    claim: mist\n", FILE_NAME ":43: steps[0].claim: mist is not a router node");
    sztp_error("onboarding: secret-stored", "onboarding: done",
               FILE_NAME ":45: steps[0].expect.r1a.onboarding: unknown state \"done\" (expected one of: init, proxy-ready, phoning-home");
    sztp_error("onboarding-error: none", "onboarding-error: Bad_Response",
               FILE_NAME ":48: expect.r1a.onboarding-error: expected an error class");
    sztp_error("stored: [root-ca, conductor-psk]", "stored: [root-ca.pem]",
               FILE_NAME ":45: steps[0].expect.r1a.stored: \"root-ca.pem\" is not a stored file's name");
    sztp_error("    stored: none\n", "    stored:\n", FILE_NAME ":49: expect.r1a.stored: expected none or a list of names");
    sztp_error("    logged: ['x', {regex:", "    logged: ['x', {rgx:", FILE_NAME ":52: expect.mist.logged[1].rgx: unknown key");
    sztp_error(", count: 1}]", "}]", FILE_NAME ":52: expect.mist.logged[1]: missing required key \"count\"");
    sztp_error("  mist:\n    logged", "  proxy:\n    onboarding: init\n    logged",
               FILE_NAME ":52: expect.proxy.onboarding: not an expectation for a proxy host");
}

/* logged / not-logged line counts: {regex, count: N}, {regex, min: N, max: M}, not-logged {regex, max: M};
 * parsed (bounds, errors with file:line) and evaluated against a log. Also the router timer keys. */
static void counts_eval(struct exp_ctx *c, const struct scn_expect *x, const char *log, const char *text, bool want_pass,
                        const char *want_got)
{
    FILE *f = fopen(log, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    struct exp_state st;
    exp_describe(x, &st);
    exp_eval(c, &st, 0);
    if (st.pass != want_pass || !strstr(st.got, want_got))
        fprintf(stderr, "\n  %s: pass=%d got \"%s\", want pass=%d and \"%s\"\n", st.name, st.pass, st.got, want_pass,
                want_got);
    CU_ASSERT_EQUAL(st.pass, want_pass);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.got, want_got));
}

static void test_logged_counts(void)
{
    static const char from[] = "    logged: ['x', {regex: 'event=device\\.verify .*result=ok', count: 1}]\n";
    static const char to[] =
        "    logged: ['x', {regex: 'csr ', min: 14, max: 15}, {regex: 'csr r=k ', min: 1, max: 2},\n" /* 52 */
        "             {regex: 'csr r=a ', count: 1}, {regex: 'csr ', min: 2}, {regex: 'csr r=z ', max: 1}]\n"
        "    not-logged: ['refused', {regex: 'retry', max: 2}]\n";             /* 54 */
    const char *at = strstr(sztp, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    char text[8192], err[512] = "";
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - sztp), sztp, to, at + strlen(from));
    /* the router timers too */
    char *r1a = strstr(text, "    conductor: 198.18.5.12:930\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r1a);
    char timed[8192];
    snprintf(timed, sizeof(timed), "%.*s    conductor: 198.18.5.12:930\n    request-timeout: 2\n"
             "    retry-backoff: {min: 0.1, max: 0.5}\n    task-poll: 0.2\n%s",
             (int)(r1a - text), text, r1a + strlen("    conductor: 198.18.5.12:930\n"));
    struct scenario *s = parse(timed, err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scn_node *n = &scenario_host(s, "r1a")->node;
    CU_ASSERT_DOUBLE_EQUAL(n->request_timeout, 2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(n->retry_min, 0.1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(n->retry_max, 0.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(n->task_poll, 0.2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(scenario_host(s, "r1b")->node.request_timeout, 0, 1e-9); /* ssr-node's default */

    const struct scn_step *fin = &s->steps[s->n_steps - 1];
    const struct scn_expect *lg = NULL, *nl = NULL;
    for (size_t i = 0; i < fin->n_expects; i++) {
        if (fin->expects[i].kind == EXP_LOGGED && !strcmp(fin->expects[i].host, "mist"))
            lg = &fin->expects[i];
        if (fin->expects[i].kind == EXP_NOT_LOGGED && !strcmp(fin->expects[i].host, "mist"))
            nl = &fin->expects[i];
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    ZTP_ASSERT_EQ_INT(lg->n_list, 6);
    static const int lo[] = {-1, 14, 1, 1, 2, 0}, hi[] = {-1, 15, 2, 1, -1, 1};
    for (size_t i = 0; i < 6; i++) {
        ZTP_ASSERT_EQ_INT(lg->counts[i], lo[i]);
        ZTP_ASSERT_EQ_INT(lg->counts_max[i], hi[i]);
    }
    ZTP_ASSERT_EQ_INT(nl->n_list, 2);
    ZTP_ASSERT_EQ_INT(nl->counts[0], -1);
    ZTP_ASSERT_EQ_INT(nl->counts[1], 0);
    ZTP_ASSERT_EQ_INT(nl->counts_max[1], 2);

    char dir[] = "/tmp/lab-test-counts-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    struct exp_host eh = {.h = scenario_host(s, "mist")};
    snprintf(eh.log, sizeof(eh.log), "%s/mist.log", dir);
    struct exp_ctx c = {.s = s, .hosts = &eh, .n_hosts = 1, .artifacts = dir};
    /* 14 CSRs, one from each router but k: x, 14 in 14..15, k once, a once, 14 >= 2, z not at all */
    char log[4096] = "x\n";
    for (int i = 0; i < 13; i++)
        snprintf(log + strlen(log), sizeof(log) - strlen(log), "csr r=%c \n", i ? 'A' + i : 'a');
    snprintf(log + strlen(log), sizeof(log) - strlen(log), "csr r=k \n");
    counts_eval(&c, lg, eh.log, log, true, "every pattern matched");
    /* k's CSR twice: 15 in all, still within both ranges */
    strcat(log, "csr r=k \n");
    counts_eval(&c, lg, eh.log, log, true, "every pattern matched");
    /* three times: 16 > 15 and 3 > 2 */
    strcat(log, "csr r=k \n");
    counts_eval(&c, lg, eh.log, log, false, "16 lines match /csr / (want (14..15 lines)); 3 lines match /csr r=k / (want (1..2 lines))");
    /* z twice: more than max: 1 ("at most") */
    counts_eval(&c, lg, eh.log, "x\ncsr r=k \ncsr r=a \ncsr r=z \ncsr r=z \n", false,
                "4 lines match /csr / (want (14..15 lines)); 2 lines match /csr r=z / (want (at most 1))");
    /* the want text names every range */
    struct exp_state st;
    exp_describe(lg, &st);
    if (!strstr(st.want, "csr  (14..15 lines) | csr r=k  (1..2 lines) | csr r=a  (exactly 1) | csr  (at least 2) | csr r=z  (at most 1)"))
        fprintf(stderr, "\n  want \"%s\"\n", st.want);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.want, "csr r=a  (exactly 1) | csr  (at least 2) | csr r=z  (at most 1)"));
    /* not-logged: a plain regex is none at all; {max: 2} up to two lines */
    counts_eval(&c, nl, eh.log, "retry\nretry\n", true, "no line matches");
    counts_eval(&c, nl, eh.log, "retry\nretry\nretry\n", false, "3 lines match /retry/ (want (at most 2))");
    counts_eval(&c, nl, eh.log, "refused\n", false, "found /refused/");
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(rm), 0);
    scenario_free(s);

    /* errors name the line and the item */
    sztp_error(", count: 1}]", ", count: 1, min: 1}]", FILE_NAME ":52: expect.mist.logged[1]: count is exact");
    sztp_error(", count: 1}]", ", min: 3, max: 2}]", FILE_NAME ":52: expect.mist.logged[1]: max (2) is below min (3)");
    sztp_error(", count: 1}]", ", min: -1}]", FILE_NAME ":52: expect.mist.logged[1].min: expected a whole number");
    sztp_error("    logged: ['x',", "    not-logged: ['x',", FILE_NAME ":52: expect.mist.not-logged[1].count: unknown key");
    sztp_error("    logged: ['x', {regex: 'event=device\\.verify .*result=ok', count: 1}]",
               "    not-logged: [{regex: 'x', min: 1}]", FILE_NAME ":52: expect.mist.not-logged[0].min: unknown key");
    sztp_error("    logged: ['x', {regex: 'event=device\\.verify .*result=ok', count: 1}]",
               "    not-logged: [{regex: 'x'}]", FILE_NAME ":52: expect.mist.not-logged[0]: missing required key \"max\"");
    sztp_error("    logged: ['x', {regex: 'event=device\\.verify .*result=ok', count: 1}]",
               "    not-logged: [{regex: '(', max: 1}]", FILE_NAME ":52: expect.mist.not-logged: /(/ is not a valid extended regex");
    sztp_error("    conductor: 198.18.5.12:930\n", "    conductor: 198.18.5.12:930\n    retry-backoff: {min: 2, max: 1}\n",
               FILE_NAME ":37: hosts.r1a.retry-backoff: max (1) is below min (2)");
    sztp_error("    conductor: 198.18.5.12:930\n", "    conductor: 198.18.5.12:930\n    retry-backoff: {max: 1}\n",
               FILE_NAME ":37: hosts.r1a.retry-backoff: missing required key \"min\"");
    sztp_error("    conductor: 198.18.5.12:930\n", "    conductor: 198.18.5.12:930\n    request-timeout: 0\n",
               FILE_NAME ":37: hosts.r1a.request-timeout: expected a number of seconds from 0.1 to 3600");
}

/* Without an ep-terminator the nodes do not run sZTP: their sZTP keys and expectations are errors. */
static void test_no_sztp(void)
{
    static const char text[] =
        "name: t\n"                                                           /* 1 */
        "description: no Mist\n"                                              /* 2 */
        "segments: {lan: {}}\n"                                               /* 3 */
        "hosts:\n"                                                            /* 4 */
        "  r1a:\n"                                                            /* 5 */
        "    kind: ssr-node\n"                                                /* 6 */
        "    interfaces: [{segment: lan, dhcp: true}]\n"                      /* 7 */
        "    config: management-proxy enable\n"                               /* 8 */
        "expect:\n"                                                           /* 9 */
        "  r1a: {active-proxy: none}\n";                                      /* 10 */
    char err[512] = "";
    struct scenario *s = parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(!scenario_host(s, "r1a")->node.sztp);
    CU_ASSERT_PTR_NULL(scenario_host(s, "r1a")->node.device_id);
    /* no secrets, nothing generated: no no-secrets check */
    ZTP_ASSERT_EQ_INT(s->steps[0].n_expects, 1);
    scenario_free(s);
    static const struct {
        const char *from, *to, *want;
    } cases[] = {
        {"    config: management-proxy enable\n", "    config: management-proxy enable\n    org: acme\n",
         FILE_NAME ":9: hosts.r1a: sZTP keys need an ep-terminator host"},
        {"{active-proxy: none}", "{onboarding: init}", FILE_NAME ":10: expect.r1a.onboarding: r1a does not run sZTP"},
        {"{active-proxy: none}", "{phone-home: ok}", FILE_NAME ":10: expect.r1a.phone-home: r1a does not phone home"},
        {"{active-proxy: none}", "{internet-direct: blocked}", FILE_NAME ":10: expect.r1a.internet-direct: no ep-terminator or mist host to try"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *at = strstr(text, cases[i].from);
        CU_ASSERT_PTR_NOT_NULL_FATAL(at);
        char buf[2048];
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - text), text, cases[i].to, at + strlen(cases[i].from));
        err[0] = '\0';
        s = parse(buf, err, sizeof(err));
        CU_ASSERT_PTR_NULL(s);
        scenario_free(s);
        if (!strstr(err, cases[i].want))
            fprintf(stderr, "\n  error \"%s\"\n  does not contain \"%s\"\n", err, cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
    }
}

/* The conductors and the hub (issue 6): kinds, keys, defaults, derived addresses, expectations. */
static const char cond[] =
    "name: t\n"                                                               /* 1 */
    "description: conductors\n"                                               /* 2 */
    "segments: {lan: {}, internet: {}}\n"                                     /* 3 */
    "hosts:\n"                                                                /* 4 */
    "  ept: {kind: ep-terminator, interfaces: [{segment: internet, address: 198.18.100.10/24}]}\n" /* 5 */
    "  mist: {kind: mist, interfaces: [{segment: internet, address: 198.18.100.40/24}]}\n" /* 6 */
    "  staging:\n"                                                            /* 7 */
    "    kind: conductor\n"                                                   /* 8 */
    "    role: staging\n"                                                     /* 9 */
    "    ca: untrusted\n"                                                     /* 10 */
    "    faults: {reject-secret: true, wrong-ca: true, stall-ms: 250}\n"      /* 11 */
    "    max-failures: 3\n"                                                   /* 12 */
    "    interfaces: [{segment: internet, address: 198.18.100.60/24}]\n"      /* 13 */
    "  production:\n"                                                         /* 14 */
    "    kind: conductor\n"                                                   /* 15 */
    "    role: production\n"                                                  /* 16 */
    "    port: 9300\n"                                                        /* 17 */
    "    autostart: false\n"                                                  /* 18 */
    "    interfaces: [{segment: internet, address: 198.18.100.70/24}]\n"      /* 19 */
    "  hub:\n"                                                                /* 20 */
    "    kind: hub\n"                                                         /* 21 */
    "    interfaces: [{segment: lan, address: 198.18.1.20/24}]\n"             /* 22 */
    "  r1a:\n"                                                                /* 23 */
    "    kind: ssr-node\n"                                                    /* 24 */
    "    interfaces: [{segment: lan, dhcp: true}]\n"                          /* 25 */
    "    config: management-proxy enable\n"                                   /* 26 */
    "    conductor-psk: wrong\n"                                              /* 27 */
    "steps:\n"                                                                /* 28 */
    "  - name: restart\n"                                                     /* 29 */
    "    stop: staging\n"                                                     /* 30 */
    "    start: [staging, production]\n"                                      /* 31 */
    "    expect:\n"                                                           /* 32 */
    "      r1a: {onboarding: svr-configured, conductor-error: bad-secret}\n"  /* 33 */
    "expect:\n"                                                               /* 34 */
    "  r1a:\n"                                                                /* 35 */
    "    onboarding: production-connected\n"                                  /* 36 */
    "    conductor: production\n"                                             /* 37 */
    "    certificate: valid\n"                                                /* 38 */
    "    stored: [root-ca, certs/router]\n"                                   /* 39 */
    "  staging:\n"                                                            /* 40 */
    "    inventory: {R1/r1a: migrated}\n"                                     /* 41 */
    "  production:\n"                                                         /* 42 */
    "    inventory: {R1/r1a: connected}\n"                                    /* 43 */
    "  hub:\n"                                                                /* 44 */
    "    peered: [R1.r1a]\n";                                                 /* 45 */

static void cond_error(const char *from, const char *to, const char *want)
{
    const char *at = strstr(cond, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t n = strlen(cond) - strlen(from) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - cond), cond, to, at + strlen(from));
    char err[512] = "";
    struct scenario *s = parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NULL(s);
    scenario_free(s);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\"\n  does not contain \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    free(text);
}

static void test_conductor_keys(void)
{
    char err[512] = "";
    struct scenario *s = parse(cond, err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scn_host *st = scenario_conductor(s, SCN_ROLE_STAGING), *pr = scenario_conductor(s, SCN_ROLE_PRODUCTION);
    CU_ASSERT_PTR_EQUAL(st, scenario_host(s, "staging"));
    CU_ASSERT_PTR_EQUAL(pr, scenario_host(s, "production"));
    ZTP_ASSERT_EQ_INT(st->kind, SCN_CONDUCTOR);
    ZTP_ASSERT_EQ_INT(st->cond.port, 930);
    ZTP_ASSERT_EQ_STR(st->cond.addr, "198.18.100.60:930");
    CU_ASSERT(st->cond.untrusted);
    CU_ASSERT(st->cond.reject_secret && st->cond.wrong_ca);
    ZTP_ASSERT_EQ_INT(st->cond.stall_ms, 250);
    ZTP_ASSERT_EQ_INT(st->cond.max_failures, 3);
    ZTP_ASSERT_EQ_INT(st->cond.lockout_seconds, 60);
    CU_ASSERT(st->autostart);
    ZTP_ASSERT_EQ_STR(pr->cond.addr, "198.18.100.70:9300");
    CU_ASSERT(!pr->cond.untrusted && !pr->cond.reject_secret && !pr->cond.wrong_ca);
    CU_ASSERT(!pr->autostart);
    const struct scn_host *hub = scenario_hub(s);
    CU_ASSERT_PTR_EQUAL(hub, scenario_host(s, "hub"));
    ZTP_ASSERT_EQ_INT(hub->hub.port, 1280);
    ZTP_ASSERT_EQ_STR(hub->hub.hub_name, "hub"); /* default: the host name */
    ZTP_ASSERT_EQ_STR(hub->hub.addr, "198.18.1.20:1280");
    /* Mist hands out the staging conductor by default */
    ZTP_ASSERT_EQ_STR(scenario_host(s, "mist")->cloud.conductor, "198.18.100.60:930");
    CU_ASSERT(scenario_host(s, "r1a")->node.psk_wrong);
    /* actions: stop/start work on any host */
    ZTP_ASSERT_EQ_INT(s->steps[0].n_actions, 3);
    ZTP_ASSERT_EQ_STR(s->steps[0].actions[2].host, "production");
    ZTP_ASSERT_EQ_INT(s->steps[0].expects[1].kind, EXP_CONDUCTOR_ERROR);
    /* expectations */
    const struct scn_step *fin = &s->steps[1];
    ZTP_ASSERT_EQ_INT(fin->expects[0].kind, EXP_ONBOARDING);
    ZTP_ASSERT_EQ_STR(fin->expects[0].value, "production-connected");
    ZTP_ASSERT_EQ_INT(fin->expects[1].kind, EXP_CONDUCTOR);
    ZTP_ASSERT_EQ_INT(fin->expects[2].kind, EXP_CERTIFICATE);
    ZTP_ASSERT_EQ_INT(fin->expects[3].kind, EXP_STORED);
    ZTP_ASSERT_EQ_STR(fin->expects[3].list[1], "certs/router");
    ZTP_ASSERT_EQ_INT(fin->expects[4].kind, EXP_INVENTORY);
    ZTP_ASSERT_EQ_INT(fin->expects[4].n_kv, 1);
    ZTP_ASSERT_EQ_STR(fin->expects[4].kv[0].key, "R1/r1a");
    ZTP_ASSERT_EQ_STR(fin->expects[4].kv[0].value, "migrated");
    ZTP_ASSERT_EQ_INT(fin->expects[6].kind, EXP_PEERED);
    ZTP_ASSERT_EQ_INT(fin->expects[6].n_list, 1);
    ZTP_ASSERT_EQ_STR(fin->expects[6].list[0], "R1.r1a");
    ZTP_ASSERT_EQ_INT(fin->expects[fin->n_expects - 2].kind, EXP_NO_SECRETS);
    ZTP_ASSERT_EQ_INT(fin->expects[fin->n_expects - 1].kind, EXP_SECRET_FILES);
    ZTP_ASSERT_EQ_INT(scn_cond_state_index("idle"), 0);
    ZTP_ASSERT_EQ_INT(scn_cond_state_index("production-connected"), 8);
    ZTP_ASSERT_EQ_INT(scn_cond_state_index("secret-stored"), -1);
    scenario_free(s);
}

static void test_conductor_errors(void)
{
    /* keys and values */
    cond_error("    role: staging\n", "", FILE_NAME ":8: hosts.staging: missing required key \"role\"");
    cond_error("role: staging", "role: onboarding",
               FILE_NAME ":9: hosts.staging.role: unknown value \"onboarding\" (expected one of: staging, production)");
    cond_error("stall-ms: 250", "stall-ms: 1s", FILE_NAME ":11: hosts.staging.faults.stall-ms: expected a whole number");
    cond_error("stall-ms: 250", "stall: 250", FILE_NAME ":11: hosts.staging.faults.stall: unknown key (expected one of: reject-secret, wrong-ca, stall-ms)");
    cond_error("    port: 9300\n", "    port: 9300\n    faults: {wrong-ca: true}\n",
               FILE_NAME ":18: hosts.production.faults: wrong-ca is a staging fault");
    cond_error("    port: 9300\n", "    port: 9300\n    names: [x]\n", FILE_NAME ":18: hosts.production.names: unknown key");
    cond_error("    kind: hub\n", "    kind: hub\n    hub-name: \"hub 1\"\n",
               FILE_NAME ":22: hosts.hub.hub-name: \"hub 1\": expected 1-63 characters");
    cond_error("    kind: hub\n", "    kind: hub\n    role: staging\n", FILE_NAME ":22: hosts.hub.role: unknown key");
    cond_error("autostart: false", "autostart: later", FILE_NAME ":18: hosts.production.autostart: expected true or false");
    cond_error("conductor-psk: wrong", "conductor-psk: bad",
               FILE_NAME ":27: hosts.r1a.conductor-psk: unknown value \"bad\" (expected one of: right, wrong)");
    /* at most one of each; they come together */
    cond_error("    role: production\n", "    role: staging\n", FILE_NAME ":14: hosts.production: one staging conductor per scenario (staging is one already)");
    cond_error("  hub:\n    kind: hub\n", "  hub:\n    kind: conductor\n    role: production\n",
               FILE_NAME ":20: hosts.hub: one production conductor per scenario (production is one already)");
    cond_error("  hub:\n    kind: hub\n    interfaces: [{segment: lan, address: 198.18.1.20/24}]\n",
               "  hub:\n    kind: hub\n    interfaces: [{segment: lan, address: 198.18.1.20/24}]\n"
               "  hub2:\n    kind: hub\n    interfaces: [{segment: lan, address: 198.18.1.21/24}]\n",
               FILE_NAME ":23: hosts.hub2: one hub per scenario (hub is one already)");
    cond_error("  hub:\n    kind: hub\n", "  hub:\n    kind: proxy\n", FILE_NAME ":7: hosts.staging: a staging conductor needs a hub");
    cond_error("    role: production\n", "    role: production\n    kind: hub\n", FILE_NAME ":17: hosts.production: duplicate key \"kind\" (first on line 15)");
    cond_error("  production:\n    kind: conductor\n", "  production:\n    kind: proxy\n",
               FILE_NAME ":16: hosts.production.role: unknown key");
    cond_error("  ept: {kind: ep-terminator,", "  ept: {kind: proxy,", FILE_NAME ":6: hosts.mist: a mist host needs an ep-terminator");
    /* expectations */
    cond_error("onboarding: production-connected", "onboarding: connected",
               FILE_NAME ":36: expect.r1a.onboarding: unknown state \"connected\" (expected one of: init,");
    cond_error("conductor: production", "conductor: mist", FILE_NAME ":37: expect.r1a.conductor: mist is not a conductor host");
    cond_error("conductor: production", "conductor: 198.18.100.70", FILE_NAME ":37: expect.r1a.conductor: \"198.18.100.70\" is not ADDRESS:PORT");
    cond_error("certificate: valid", "certificate: ok", FILE_NAME ":38: expect.r1a.certificate: expected valid or none");
    cond_error("stored: [root-ca, certs/router]", "stored: [root-ca, certs/Router]",
               FILE_NAME ":39: expect.r1a.stored: \"certs/Router\" is not a stored file's name");
    cond_error("conductor-error: bad-secret", "conductor-error: Bad",
               FILE_NAME ":33: steps[0].expect.r1a.conductor-error: expected an error class (bad-secret, tls-failed, unknown-ca, ...)");
    cond_error("{R1/r1a: migrated}", "{R1/r1a: connected}",
               FILE_NAME ":41: expect.staging.inventory.R1/r1a: \"connected\" is not a staging conductor's node state (pending, onboarding, certified, migrated)");
    cond_error("{R1/r1a: connected}", "{R1/r1a: migrated}",
               FILE_NAME ":43: expect.production.inventory.R1/r1a: \"migrated\" is not a production conductor's node state (pending, connected)");
    cond_error("{R1/r1a: migrated}", "{R1.r1a: migrated}",
               FILE_NAME ":41: expect.staging.inventory.R1.r1a: not ROUTER/NODE of a router node of the scenario");
    cond_error("{R1/r1a: migrated}", "[R1/r1a]", FILE_NAME ":41: expect.staging.inventory: expected a mapping");
    cond_error("peered: [R1.r1a]", "peered: [R1/r1a]",
               FILE_NAME ":45: expect.hub.peered: \"R1/r1a\" is not ROUTER.NODE of a router node of the scenario");
    cond_error("  hub:\n    peered", "  hub:\n    inventory: {R1/r1a: pending}\n    peered",
               FILE_NAME ":45: expect.hub.inventory: not an expectation for a hub host");
    cond_error("  staging:\n    inventory", "  staging:\n    certificate: valid\n    inventory",
               FILE_NAME ":41: expect.staging.certificate: not an expectation for a conductor host");
}

/* Without a staging conductor: the placeholder conductor, and keys that need one are errors. */
static void test_no_conductor(void)
{
    char err[512] = "";
    struct scenario *s = parse(sztp, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NULL(scenario_conductor(s, SCN_ROLE_STAGING));
    CU_ASSERT_PTR_NULL(scenario_hub(s));
    ZTP_ASSERT_EQ_STR(scenario_host(s, "mist-prod")->cloud.conductor, SCN_DEFAULT_CONDUCTOR);
    scenario_free(s);
    sztp_error("    conductor: 198.18.5.12:930\n", "    conductor-psk: wrong\n",
               FILE_NAME ":36: hosts.r1a.conductor-psk: wrong needs a staging conductor");
    sztp_error("    stored: none\n", "    certificate: valid\n",
               FILE_NAME ":49: expect.r1a.certificate: valid means signed by the staging conductor's CA: the scenario has no staging conductor");
    sztp_error("  r1a:\n", "  prod:\n    kind: conductor\n    role: production\n"
               "    interfaces: [{segment: internet, address: 198.18.100.70/24}]\n  r1a:\n",
               FILE_NAME ":25: hosts.prod: a production conductor needs a staging conductor");
    sztp_error("  r1a:\n", "  hub:\n    kind: hub\n    interfaces: [{segment: lan, address: 198.18.1.20/24}]\n  r1a:\n",
               FILE_NAME ":25: hosts.hub: a hub needs a staging conductor");
    /* certificate: none and conductor-error need no conductor */
    sztp_error("    stored: none\n", "    certificate: none\n    conductor-error: x_y\n",
               FILE_NAME ":50: expect.r1a.conductor-error: expected an error class");
}

/* certificate: valid (exp_cert_check): a router certificate issued as the staging conductor issues
 * it (pki_sign_csr with the signing CA under the conductor root CA, both made by lab/certs.c). */
static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    if (read_file_max(path, 1 << 20, &buf, len) < 0)
        return NULL;
    return buf;
}

/* A router certificate for router/node, signed by the CA in ca_pem/key_pem (files); its serial and
 * the SHA-256 of its key (hex) out. */
static char *issue(const char *ca_pem_path, const char *ca_key_path, const char *router, const char *node, char *serial,
                   char *pub_hex)
{
    size_t cl, kl, pl = 0;
    char *cap = slurp(ca_pem_path, &cl), *kp = slurp(ca_key_path, &kl), e[256], *pem = NULL, *cert = NULL;
    X509 *ca = cap ? pki_cert_parse(cap, cl, e, sizeof(e)) : NULL;
    EVP_PKEY *cakey = kp ? pki_key_parse(kp, kl, e, sizeof(e)) : NULL, *key = pki_key_generate();
    X509_REQ *req = NULL;
    size_t certlen = 0;
    CU_ASSERT_FATAL(ca && cakey && key);
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(key, router, node, &pem, &pl, e, sizeof(e)), 0);
    CU_ASSERT_EQUAL_FATAL(pki_csr_check(pem, pl, router, node, &req, e, sizeof(e)), 0);
    CU_ASSERT_EQUAL_FATAL(pki_sign_csr(req, ca, cakey, 30, router, node, &cert, &certlen, serial, 41, e, sizeof(e)), 0);
    unsigned char *der = NULL, md[32];
    unsigned ml = 0;
    int dl = i2d_PUBKEY(key, &der);
    CU_ASSERT_FATAL(dl > 0 && EVP_Digest(der, (size_t)dl, md, &ml, EVP_sha256(), NULL) == 1);
    for (unsigned i = 0; i < 32; i++)
        snprintf(pub_hex + 2 * i, 3, "%02x", md[i]);
    OPENSSL_free(der);
    X509_REQ_free(req);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    free(pem);
    free(cap);
    free(kp);
    return cert;
}

static void test_certificate_check(void)
{
    char dir[] = "/tmp/lab-test-certs-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char p[8][300], err[256];
    const char *names[] = {"root", "root.key", "signing", "signing.key", "chain", "rogue", "rogue.key", "x"};
    for (size_t i = 0; i < 8; i++)
        snprintf(p[i], sizeof(p[i]), "%s/%s", dir, names[i]);
    struct certs_ca *root = NULL, *sign = NULL, *rogue = NULL;
    CU_ASSERT_EQUAL_FATAL(certs_ca_new("root", 1, p[0], p[1], &root, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(certs_ca_sub(root, "signing", 1, p[2], p[3], &sign, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(certs_ca_chain_write(sign, p[4], err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(certs_ca_new("rogue", 1, p[5], p[6], &rogue, err, sizeof(err)), 0);
    size_t chl, rl;
    char *chain = slurp(p[4], &chl), *rootpem = slurp(p[0], &rl);
    CU_ASSERT_FATAL(chain && rootpem);
    char serial[48], pub[65], why[512];
    char *cert = issue(p[2], p[3], "R1", "r1a", serial, pub);
    /* good: the staging conductor's certificate for this node, its serial, its key */
    int rc = exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", serial, pub, why, sizeof(why));
    if (rc)
        fprintf(stderr, "\n  %s\n", why);
    ZTP_ASSERT_EQ_INT(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, serial));
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", NULL, NULL, why, sizeof(why)), 0);
    /* another node's name, another serial, another key */
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1b", serial, pub, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "r1b"));
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", "01AB", pub, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not the one the staging conductor issued"));
    char other[65];
    memcpy(other, pub, sizeof(other));
    other[0] = other[0] == '0' ? '1' : '0';
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", serial, other, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not the one the node made"));
    /* the signing CA alone does not make a chain: the root is the anchor */
    size_t sl;
    char *signpem = slurp(p[2], &sl);
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, signpem, sl, "R1", "r1a", serial, pub, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not verify"));
    free(cert);
    /* signed by the root itself (not the signing CA), or by a rogue CA (the wrong-ca fault) */
    cert = issue(p[0], p[1], "R1", "r1a", serial, pub);
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", serial, pub, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "issuer is not the conductor signing CA"));
    free(cert);
    cert = issue(p[5], p[6], "R1", "r1a", serial, pub);
    ZTP_ASSERT_EQ_INT(exp_cert_check(cert, strlen(cert), chain, chl, rootpem, rl, "R1", "r1a", serial, pub, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not verify"));
    free(cert);
    ZTP_ASSERT_EQ_INT(exp_cert_check("junk", 4, chain, chl, rootpem, rl, "R1", "r1a", NULL, NULL, why, sizeof(why)), -1);
    /* a server certificate of certs_server: an IP SAN for an address, the intermediate in the file */
    const char *sn[] = {"198.18.7.10", "hub1"};
    CU_ASSERT_EQUAL(certs_server(sign, sn, 2, 1, p[7], p[1], err, sizeof(err)), 0);
    size_t xl;
    char *x = slurp(p[7], &xl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL(strstr(strstr(x, "END CERTIFICATE") ? strstr(x, "END CERTIFICATE") : x, "BEGIN CERTIFICATE"));
    X509 *xc = pki_cert_parse(x, xl, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(xc);
    ZTP_ASSERT_EQ_INT(X509_check_ip_asc(xc, "198.18.7.10", 0), 1);
    ZTP_ASSERT_EQ_INT(X509_check_host(xc, "hub1", 0, 0, NULL), 1);
    X509_free(xc);
    free(x);
    free(signpem);
    free(chain);
    free(rootpem);
    certs_ca_free(root);
    certs_ca_free(sign);
    certs_ca_free(rogue);
    for (size_t i = 0; i < 8; i++)
        unlink(p[i]);
    rmdir(dir);
}


/* A variant of cond[]: every occurrence of from replaced by to (the text must contain it). */
static struct scenario *cond_variant(const char *from, const char *to, char *err, size_t cap)
{
    const char *at = strstr(cond, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t n = strlen(cond) - strlen(from) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - cond), cond, to, at + strlen(from));
    struct scenario *s = parse(text, err, cap);
    free(text);
    return s;
}

/* Issue 7's fault keys: conductor-fault, kill:, when:, triggers:, a segment's loss. */
static void test_fault_keys(void)
{
    char err[512] = "";
    struct scenario *s = cond_variant("    conductor-psk: wrong\n",
                                      "    conductor-fault: csr-other-router\n", err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ZTP_ASSERT_EQ_STR(scenario_host(s, "r1a")->node.conductor_fault, "csr-other-router");
    scenario_free(s);

    /* a step that waits for a state and kills; a trigger; a lossy segment */
    s = cond_variant("  - name: restart\n    stop: staging\n",
                     "  - name: restart\n    when: {r1a: certified}\n    kill: r1a\n    stop: staging\n", err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scn_step *st = &s->steps[0];
    ZTP_ASSERT_EQ_STR(st->when.host, "r1a");
    ZTP_ASSERT_EQ_STR(st->when.state, "certified");
    CU_ASSERT_PTR_NULL(st->when.regex);
    ZTP_ASSERT_EQ_INT(st->n_actions, 4);
    ZTP_ASSERT_EQ_INT(st->actions[0].kind, ACT_KILL); /* in the order written */
    ZTP_ASSERT_EQ_STR(st->actions[0].host, "r1a");
    ZTP_ASSERT_EQ_INT(st->actions[1].kind, ACT_STOP);
    scenario_free(s);

    s = cond_variant("segments: {lan: {}, internet: {}}\n", "segments: {lan: {loss: 20}, internet: {}}\n"
                     "triggers:\n"
                     "  - {name: t1, when: {r1a: key-created}, after: 0.25, start: r1a, kill: r1a}\n"
                     "  - name: t2\n    when: {staging: {logged: 'event=router\\.csr '}}\n    kill: [staging, hub]\n",
                     err, sizeof(err));
    if (!s)
        fprintf(stderr, "\n  unexpected error: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ZTP_ASSERT_EQ_INT(scenario_segment(s, "lan")->loss, 20);
    ZTP_ASSERT_EQ_INT(scenario_segment(s, "internet")->loss, 0);
    ZTP_ASSERT_EQ_INT(s->n_triggers, 2);
    ZTP_ASSERT_EQ_STR(s->triggers[0].name, "t1");
    ZTP_ASSERT_EQ_STR(s->triggers[0].when.state, "key-created");
    CU_ASSERT_DOUBLE_EQUAL(s->triggers[0].after, 0.25, 1e-9);
    /* flow style: start before kill as written on the line */
    ZTP_ASSERT_EQ_INT(s->triggers[0].actions[0].kind, ACT_START);
    ZTP_ASSERT_EQ_INT(s->triggers[0].actions[1].kind, ACT_KILL);
    ZTP_ASSERT_EQ_STR(s->triggers[1].when.regex, "event=router\\.csr ");
    ZTP_ASSERT_EQ_INT(s->triggers[1].n_actions, 2);
    ZTP_ASSERT_EQ_STR(s->triggers[1].actions[1].host, "hub");
    scenario_free(s);
}

static void cond_error_at(const char *from, const char *to, const char *want)
{
    char err[512] = "";
    struct scenario *s = cond_variant(from, to, err, sizeof(err));
    CU_ASSERT_PTR_NULL(s);
    scenario_free(s);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\"\n  does not contain \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void test_fault_errors(void)
{
    cond_error_at("    conductor-psk: wrong\n", "    conductor-fault: csr-for-me\n",
                  FILE_NAME ":27: hosts.r1a.conductor-fault: unknown value \"csr-for-me\" (expected one of: csr-other-router)");
    cond_error_at("    stop: staging\n", "    when: {r1a: done}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.r1a: unknown state \"done\"");
    cond_error_at("    stop: staging\n", "    when: {r1a: init}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.r1a: unknown state \"init\"");
    cond_error_at("    stop: staging\n", "    when: {staging: certified}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.staging: a state is a router node's");
    cond_error_at("    stop: staging\n", "    when: {r9: certified}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.r9: no host named \"r9\"");
    cond_error_at("    stop: staging\n", "    when: {r1a: certified, staging: {logged: x}}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when: name one host");
    cond_error_at("    stop: staging\n", "    when: {staging: {logged: 'a('}}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.staging: /a(/ is not a valid extended regex");
    cond_error_at("    stop: staging\n", "    when: {staging: {logd: x}}\n    stop: staging\n",
                  FILE_NAME ":30: steps[0].when.staging.logd: unknown key");
    cond_error_at("    stop: staging\n", "    kill: nobody\n", FILE_NAME ":30: steps[0].kill: no host named \"nobody\"");
    cond_error_at("    stop: staging\n", "    after: 1\n    stop: staging\n", FILE_NAME ":30: steps[0]: after: counts from a when: condition");
    cond_error_at("steps:\n", "triggers:\n  - {kill: r1a}\nsteps:\n", FILE_NAME ":29: triggers[0]: a trigger needs when:");
    cond_error_at("steps:\n", "triggers:\n  - {when: {r1a: certified}}\nsteps:\n", FILE_NAME ":29: triggers[0]: a trigger needs an action");
    cond_error_at("steps:\n", "triggers:\n  - {when: {r1a: certified}, kill: r1a, expect: {}}\nsteps:\n",
                  FILE_NAME ":29: triggers[0].expect: unknown key");
    cond_error_at("segments: {lan: {}, internet: {}}\n", "segments: {lan: {loss: 101}, internet: {}}\n",
                  FILE_NAME ":3: segments.lan.loss: expected a whole number from 0 to 100");
    cond_error_at("segments: {lan: {}, internet: {}}\n", "segments: {lan: {kind: link, loss: 5}, internet: {}}\n",
                  FILE_NAME ":3: segments.lan: loss is for a bridge segment");
    cond_error_at("  hub:\n    peered", "  hub:\n    secret-files: x\n    peered",
                  FILE_NAME ":45: expect.hub.secret-files: checked in every run");
}

/* no-secrets over a run's artifacts: the captures' raw bytes (a hex secret also as its bytes),
 * Basic credentials decoded (the proxy password in a capture's Proxy-Authorization is by design),
 * the ssr-cli show answers and the nodes' state files. secret-files: modes. */
static void write_bytes(const char *dir, const char *rel, const void *b, size_t n, mode_t mode)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    for (char *c = p + strlen(dir) + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            mkdir(p, 0755);
            *c = '/';
        }
    CU_ASSERT_EQUAL(atomic_write_file(p, b, n, mode), 0);
}

static void secrets_eval(struct exp_ctx *c, enum scn_exp_kind k, bool want_pass, const char *want_got)
{
    struct scn_expect x = {.kind = k};
    struct exp_state st;
    exp_describe(&x, &st);
    exp_eval(c, &st, 0);
    if (st.pass != want_pass || !strstr(st.got, want_got))
        fprintf(stderr, "\n  %s: pass=%d got \"%s\", want pass=%d and \"%s\"\n", scn_exp_name(k), st.pass, st.got, want_pass,
                want_got);
    CU_ASSERT_EQUAL(st.pass, want_pass);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.got, want_got));
}

static void test_no_secrets_artifacts(void)
{
    static const char text[] =
        "name: t\ndescription: d\nsegments: {lan: {}}\nhosts:\n"
        "  proxy: {kind: proxy, interfaces: [{segment: lan, address: 198.18.1.8/24}], users: {u: Pw-0001}}\n"
        "  r1a:\n    kind: ssr-node\n    interfaces: [{segment: lan, dhcp: true}]\n    config: management-proxy enable\n"
        "expect: {r1a: {active-proxy: none}}\n";
    char err[512] = "";
    struct scenario *s = parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char dir[] = "/tmp/lab-test-secrets-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    const char *hex = "00112233445566778899aabbccddeeff";
    const char *gen[] = {hex};
    struct exp_host eh[2] = {{.h = scenario_host(s, "proxy")}, {.h = scenario_host(s, "r1a")}};
    snprintf(eh[1].state_dir, sizeof(eh[1].state_dir), "%s/r1a/state", dir);
    struct exp_ctx c = {.s = s, .hosts = eh, .n_hosts = 2, .artifacts = dir, .secrets = gen, .n_secrets = 1};
    write_bytes(dir, "logs/r1a.log", "event=x\n", 8, 0644);
    write_bytes(dir, "timeline.txt", "x\n", 2, 0644);
    /* "u:Pw-0001" in a capture's Proxy-Authorization: by design */
    static const char connect[] = "\x01\x02CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic dTpQdy0wMDAx\r\n\r\n\x03";
    write_bytes(dir, "pcap/lan.pcap", connect, sizeof(connect) - 1, 0644);
    secrets_eval(&c, EXP_NO_SECRETS, true, "1 Proxy-Authorization: Basic headers in the captures carry the proxy password");
    /* the same header in a log is a finding */
    write_bytes(dir, "logs/proxy.log", connect, sizeof(connect) - 1, 0644);
    secrets_eval(&c, EXP_NO_SECRETS, false, "found in logs/proxy.log (base64 in an Authorization: Basic header)");
    unlink(strcat(strcpy(err, dir), "/logs/proxy.log"));
    /* a hex secret's bytes in a capture */
    unsigned char raw[20] = {0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0};
    write_bytes(dir, "pcap/wan.pcap", raw, sizeof(raw), 0644);
    secrets_eval(&c, EXP_NO_SECRETS, false, "found in pcap/wan.pcap (as the bytes its hex encodes)");
    unlink(strcat(strcpy(err, dir), "/pcap/wan.pcap"));
    /* an ssr-cli show answer, a state file */
    write_bytes(dir, "r1a/show/onboarding.txt", "psk 00112233445566778899aabbccddeeff\n", 37, 0644);
    secrets_eval(&c, EXP_NO_SECRETS, false, "found in r1a/show/onboarding.txt");
    unlink(strcat(strcpy(err, dir), "/r1a/show/onboarding.txt"));
    write_bytes(dir, "r1a/state/sztp.json", "{\"psk\": \"Pw-0001\"}", 18, 0644);
    secrets_eval(&c, EXP_NO_SECRETS, false, "found in r1a/state/sztp.json");
    write_bytes(dir, "r1a/state/sztp.json", "{}", 2, 0644);
    secrets_eval(&c, EXP_NO_SECRETS, true, "none found");
    /* secret-files */
    write_bytes(dir, "r1a/router.conf", "x", 1, 0600);
    write_bytes(dir, "r1a/state/secrets/conductor-psk.seal", "x", 1, 0600);
    char p[4200];
    snprintf(p, sizeof(p), "%s/r1a/state/secrets", dir);
    chmod(p, 0700);
    secrets_eval(&c, EXP_SECRET_FILES, true, "1 sealed secret files 0600");
    snprintf(p, sizeof(p), "%s/r1a/state/secrets/conductor-psk.seal", dir);
    chmod(p, 0640);
    secrets_eval(&c, EXP_SECRET_FILES, false, "r1a/state/secrets/conductor-psk.seal has mode 0640, not 0600");
    chmod(p, 0600);
    snprintf(p, sizeof(p), "%s/r1a/state/sztp.json", dir);
    chmod(p, 0666);
    secrets_eval(&c, EXP_SECRET_FILES, false, "r1a/state/sztp.json has mode 0666 (writable by group or others)");
    snprintf(p, sizeof(p), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(p), 0);
    scenario_free(s);
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
    CU_ASSERT(n >= 20);
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
    {"sZTP keys, the claim action, onboarding expectations", test_sztp_keys},
    {"sZTP errors name the line", test_sztp_errors},
    {"logged/not-logged line counts (count, min/max); router timer keys", test_logged_counts},
    {"no ep-terminator: no sZTP", test_no_sztp},
    {"conductors and hub: keys, defaults, expectations", test_conductor_keys},
    {"conductor and hub errors name the line", test_conductor_errors},
    {"no staging conductor", test_no_conductor},
    {"certificate: valid checks (exp_cert_check, lab/certs.c)", test_certificate_check},
    {"fault keys: conductor-fault, kill, when, triggers, loss", test_fault_keys},
    {"fault key errors name the line", test_fault_errors},
    {"no-secrets over captures, show answers, state files; secret-files", test_no_secrets_artifacts},
    {"unreadable file", test_load_file},
    {"every scenarios/*.yaml parses", test_committed_scenarios},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {{"scenario", tests}, {NULL, NULL}};

int main(void) { return ztp_cunit_run(suites); }
