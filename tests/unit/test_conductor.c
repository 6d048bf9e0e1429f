/* The router's conductor client (router/conductor.h) and hub peering (router/svr.h): the state
 * machine's table, conductor.json round trip and refusals, every body the router parses (good and
 * bad), resume from a state dir, and the refusals of `migrate conductor`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor.h"
#include "cunit_main.h"
#include "svr.h"
#include "ztp/daemon.h"

static void test_names_steps(void)
{
    static const char *const want[COND__COUNT] = {"idle",      "staging-auth",   "staging-connected",
                                                  "production-received", "key-created", "certified",
                                                  "svr-configured", "migrating", "production-connected"};
    static const unsigned steps[COND__COUNT] = {5, 5, 5, 6, 7, 8, 9, 12, 12};
    for (int i = 0; i < COND__COUNT; i++) {
        ZTP_ASSERT_EQ_STR(cond_state_name((enum cond_state)i), want[i]);
        ZTP_ASSERT_EQ_INT(cond_state_from_name(want[i]), i);
        ZTP_ASSERT_EQ_INT(cond_state_step((enum cond_state)i), steps[i]);
    }
    ZTP_ASSERT_EQ_STR(cond_state_name(COND__COUNT), "unknown");
    ZTP_ASSERT_EQ_INT(cond_state_from_name("flying"), -1);
    ZTP_ASSERT_EQ_INT(cond_state_from_name(NULL), -1);
    ZTP_ASSERT_EQ_STR(cond_task_kind_name(TASK_SVR_CONFIG), "svr-config");
}

static void test_transitions(void)
{
    for (int f = 0; f < COND__COUNT; f++)
        for (int t = 0; t < COND__COUNT; t++) {
            bool want = t == f + 1 || (t == COND_IDLE && f != COND_IDLE) ||
                        (t == COND_MIGRATING &&
                         (f == COND_CERTIFIED || f == COND_SVR_CONFIGURED || f == COND_PRODUCTION_CONNECTED));
            if (cond_transition_allowed((enum cond_state)f, (enum cond_state)t) != want)
                fprintf(stderr, "\n  %s -> %s: expected %s\n", cond_state_name((enum cond_state)f),
                        cond_state_name((enum cond_state)t), want ? "allowed" : "refused");
            CU_ASSERT_EQUAL(cond_transition_allowed((enum cond_state)f, (enum cond_state)t), want);
        }
    CU_ASSERT_FALSE(cond_transition_allowed(COND_KEY_CREATED, COND_KEY_CREATED));
    CU_ASSERT_FALSE(cond_transition_allowed(COND_STAGING_CONNECTED, COND_MIGRATING)); /* no certificate yet */
    CU_ASSERT_FALSE(cond_transition_allowed(COND__COUNT, COND_IDLE));
}

static void test_addr(void)
{
    char h[COND_ADDR_MAX];
    uint16_t p = 0;
    ZTP_ASSERT_EQ_INT(cond_addr_parse("198.18.6.10:930", h, sizeof h, &p), 0);
    ZTP_ASSERT_EQ_STR(h, "198.18.6.10");
    ZTP_ASSERT_EQ_INT(p, 930);
    ZTP_ASSERT_EQ_INT(cond_addr_parse("198.18.6.10", h, sizeof h, &p), 0);
    ZTP_ASSERT_EQ_INT(p, COND_DEFAULT_PORT);
    ZTP_ASSERT_EQ_INT(cond_addr_parse("conductor.lab:8443", h, sizeof h, &p), 0);
    ZTP_ASSERT_EQ_STR(h, "conductor.lab");
    ZTP_ASSERT_EQ_INT(p, 8443);
    static const char *const bad[] = {"", ":930", "198.18.6.10:", "198.18.6.10:0", "198.18.6.10:65536",
                                      "198.18.6.10:09", "a b:930", "198.18.6.10:930x", "host:1:2", NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (cond_addr_parse(bad[i], h, sizeof h, &p) != -1)
            fprintf(stderr, "\n  \"%s\" accepted\n", bad[i]);
        CU_ASSERT_EQUAL(cond_addr_parse(bad[i], h, sizeof h, &p), -1);
    }
    CU_ASSERT_EQUAL(cond_addr_parse(NULL, h, sizeof h, &p), -1);
    CU_ASSERT_EQUAL(cond_addr_parse("198.18.6.10", h, 4, &p), -1); /* too small */
}

static void fill(struct cond_persist *p)
{
    memset(p, 0, sizeof *p);
    p->state = COND_SVR_CONFIGURED;
    snprintf(p->router, sizeof p->router, "R1");
    snprintf(p->node, sizeof p->node, "r1a");
    snprintf(p->staging, sizeof p->staging, "198.18.5.10:930");
    snprintf(p->production.a[0], COND_ADDR_MAX, "198.18.6.10:930");
    snprintf(p->production.a[1], COND_ADDR_MAX, "198.18.6.11:930");
    p->production.n = 2;
    snprintf(p->serial, sizeof p->serial, "4F00AA");
    p->have_svr = true;
    snprintf(p->svr.hub, sizeof p->svr.hub, "198.18.7.10:1280");
    snprintf(p->svr.hub_name, sizeof p->svr.hub_name, "hub1");
    snprintf(p->svr.router, sizeof p->svr.router, "R1");
    snprintf(p->svr.node, sizeof p->svr.node, "r1a");
    snprintf(p->svr.identity, sizeof p->svr.identity, "R1.r1a");
    p->attempts_total = 12;
    p->failures_total = 2;
    p->last_error.set = true;
    p->last_error.state = COND_KEY_CREATED;
    snprintf(p->last_error.klass, sizeof p->last_error.klass, "csr-rejected");
    snprintf(p->last_error.message, sizeof p->last_error.message, "csr: 422 Unprocessable");
    snprintf(p->last_error.conductor, sizeof p->last_error.conductor, "198.18.5.10:930");
    p->last_error.status = 422;
    p->last_error.at = 1700000000;
    for (int i = 0; i < 5; i++) {
        p->hist[i].from = (enum cond_state)i;
        p->hist[i].to = (enum cond_state)(i + 1);
        p->hist[i].at = 1700000000 + i;
        snprintf(p->hist[i].why, sizeof p->hist[i].why, "why %d", i);
    }
    p->n_hist = 5;
}

static char *dump(const struct cond_persist *p)
{
    json_t *o = cond_persist_to_json(p);
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static void test_persist_roundtrip(void)
{
    struct cond_persist a, b;
    char err[256] = "";
    fill(&a);
    char *s = dump(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NULL(strstr(s, "psk"));
    int rc = cond_persist_parse(s, strlen(s), &b, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    ZTP_ASSERT_EQ_INT(rc, 0);
    ZTP_ASSERT_EQ_INT(b.state, COND_SVR_CONFIGURED);
    ZTP_ASSERT_EQ_STR(b.router, "R1");
    ZTP_ASSERT_EQ_STR(b.node, "r1a");
    ZTP_ASSERT_EQ_STR(b.staging, "198.18.5.10:930");
    ZTP_ASSERT_EQ_INT(b.production.n, 2);
    ZTP_ASSERT_EQ_STR(b.production.a[1], "198.18.6.11:930");
    ZTP_ASSERT_EQ_INT(b.target.n, 0);
    ZTP_ASSERT_EQ_STR(b.serial, "4F00AA");
    CU_ASSERT_TRUE(b.have_svr);
    ZTP_ASSERT_EQ_STR(b.svr.hub, "198.18.7.10:1280");
    ZTP_ASSERT_EQ_STR(b.svr.identity, "R1.r1a");
    ZTP_ASSERT_EQ_INT(b.attempts_total, 12);
    ZTP_ASSERT_EQ_INT(b.failures_total, 2);
    CU_ASSERT_TRUE(b.last_error.set);
    ZTP_ASSERT_EQ_STR(b.last_error.klass, "csr-rejected");
    ZTP_ASSERT_EQ_INT(b.last_error.state, COND_KEY_CREATED);
    ZTP_ASSERT_EQ_INT(b.last_error.status, 422);
    ZTP_ASSERT_EQ_STR(b.last_error.conductor, "198.18.5.10:930");
    ZTP_ASSERT_EQ_INT(b.n_hist, 5);
    ZTP_ASSERT_EQ_INT(b.hist[4].to, COND_CERTIFIED);
    ZTP_ASSERT_EQ_STR(b.hist[2].why, "why 2");
    /* a second dump is the same text */
    char *s2 = dump(&b);
    ZTP_ASSERT_EQ_STR(s2, s);
    free(s2);
    free(s);

    /* migrating with a target set by hand */
    fill(&a);
    a.state = COND_MIGRATING;
    snprintf(a.target.a[0], COND_ADDR_MAX, "198.18.6.20:930");
    a.target.n = 1;
    snprintf(a.migrated_by, sizeof a.migrated_by, "cli");
    a.staging_acked = true;
    s = dump(&a);
    ZTP_ASSERT_EQ_INT(cond_persist_parse(s, strlen(s), &b, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(b.target.a[0], "198.18.6.20:930");
    ZTP_ASSERT_EQ_STR(b.migrated_by, "cli");
    CU_ASSERT_TRUE(b.staging_acked);
    free(s);
}

static void expect_refused(const char *text, const char *why)
{
    struct cond_persist p;
    char err[256] = "";
    ZTP_ASSERT_EQ_INT(cond_persist_parse(text, strlen(text), &p, err, sizeof err), -1);
    if (!strstr(err, why))
        fprintf(stderr, "\n  %s -> \"%s\" (want \"%s\")\n", text, err, why);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_persist_refused(void)
{
    expect_refused("", "bad JSON");
    expect_refused("[]", "not a JSON object");
    expect_refused("{\"version\":2,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\"}", "version");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"node\":\"a\"}", "missing \"router\"");
    expect_refused("{\"version\":1,\"state\":\"dancing\",\"router\":\"R1\",\"node\":\"a\"}", "\"state\"");
    expect_refused("{\"version\":1,\"state\":\"staging-auth\",\"router\":\"R1\",\"node\":\"a\"}", "without \"staging\"");
    expect_refused("{\"version\":1,\"state\":\"certified\",\"router\":\"R1\",\"node\":\"a\",\"staging\":\"1.2.3.4\"}",
                   "without \"production\"");
    expect_refused("{\"version\":1,\"state\":\"svr-configured\",\"router\":\"R1\",\"node\":\"a\",\"staging\":\"1.2.3.4\","
                   "\"production\":[\"1.2.3.5\"]}",
                   "without \"svr\"");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\",\"production\":[\"a b\"]}",
                   "\"production\"[0]");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\",\"production\":[\"1.1.1.1\","
                   "\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\",\"1.1.1.5\"]}",
                   "\"production\"");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\",\"svr\":{\"hub\":\"name:1\","
                   "\"hub-name\":\"h\",\"router\":\"R1\",\"node\":\"a\",\"identity\":\"R1.a\"}}",
                   "IPv4");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\",\"history\":[7]}", "\"history\"");
    expect_refused("{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"a\",\"node\":\"b\"}", "bad JSON");
    struct cond_persist p;
    char err[256];
    const char *ok = "{\"version\":1,\"state\":\"idle\",\"router\":\"R1\",\"node\":\"r1a\"}";
    ZTP_ASSERT_EQ_INT(cond_persist_parse(ok, strlen(ok), &p, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(p.state, COND_IDLE);
    CU_ASSERT_FALSE(p.have_svr);
}

static const char *const PEM = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";

static int task(const char *body, struct cond_task *t)
{
    char err[256] = "";
    int rc = cond_parse_task(body, strlen(body), t, err, sizeof err);
    if (rc < 0 && getenv("VERBOSE"))
        fprintf(stderr, "\n  %s -> %s\n", body, err);
    return rc;
}

static void test_tasks(void)
{
    struct cond_task t;
    char b[1024];
    ZTP_ASSERT_EQ_INT(task("{\"task\":\"none\"}", &t), 0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_NONE);
    cond_task_clear(&t);

    snprintf(b, sizeof b, "{\"task\":\"production\",\"conductor\":[\"198.18.6.10:930\",\"198.18.6.11\"],\"psk\":\"p s\","
                          "\"root-ca-pem\":\"%s\"}", PEM);
    ZTP_ASSERT_EQ_INT(task(b, &t), 0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_PRODUCTION);
    ZTP_ASSERT_EQ_INT(t.conductors.n, 2);
    ZTP_ASSERT_EQ_STR(t.conductors.a[1], "198.18.6.11");
    ZTP_ASSERT_EQ_STR(t.psk, "p s");
    ZTP_ASSERT_EQ_INT(t.psk_len, 3);
    CU_ASSERT_PTR_NOT_NULL(t.root_ca_pem);
    cond_task_clear(&t);
    CU_ASSERT_PTR_NULL(t.root_ca_pem);
    ZTP_ASSERT_EQ_INT(t.psk[0], 0);
    /* one address as a string is accepted */
    snprintf(b, sizeof b, "{\"task\":\"production\",\"conductor\":\"198.18.6.10\",\"psk\":\"x\",\"root-ca-pem\":\"%s\"}", PEM);
    ZTP_ASSERT_EQ_INT(task(b, &t), 0);
    ZTP_ASSERT_EQ_INT(t.conductors.n, 1);
    cond_task_clear(&t);

    ZTP_ASSERT_EQ_INT(task("{\"task\":\"generate-key\",\"key-type\":\"ec-p256\",\"identity\":\"R1.r1a\"}", &t), 0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_GENERATE_KEY);
    ZTP_ASSERT_EQ_STR(t.key_type, "ec-p256");
    ZTP_ASSERT_EQ_STR(t.identity, "R1.r1a");
    cond_task_clear(&t);

    ZTP_ASSERT_EQ_INT(task("{\"task\":\"svr-config\",\"svr\":{\"hub\":\"198.18.7.10:1280\",\"hub-name\":\"hub1\","
                           "\"router\":\"R1\",\"node\":\"r1a\",\"identity\":\"R1.r1a\"}}",
                           &t),
                      0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_SVR_CONFIG);
    ZTP_ASSERT_EQ_STR(t.svr.hub, "198.18.7.10:1280");
    ZTP_ASSERT_EQ_STR(t.svr.hub_name, "hub1");
    cond_task_clear(&t);

    ZTP_ASSERT_EQ_INT(task("{\"task\":\"migrate\",\"conductor\":[\"198.18.6.10:930\"]}", &t), 0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_MIGRATE);
    ZTP_ASSERT_EQ_INT(t.conductors.n, 1);
    cond_task_clear(&t);
    ZTP_ASSERT_EQ_INT(task("{\"task\":\"migrate\"}", &t), 0); /* the production list then */
    ZTP_ASSERT_EQ_INT(t.conductors.n, 0);
    cond_task_clear(&t);

    ZTP_ASSERT_EQ_INT(task("{\"task\":\"reboot\",\"now\":true}", &t), 0);
    ZTP_ASSERT_EQ_INT(t.kind, TASK_UNKNOWN);
    ZTP_ASSERT_EQ_STR(t.name, "reboot");
    cond_task_clear(&t);
    ZTP_ASSERT_EQ_INT(task("{\"task\":\"a\\\"b\"}", &t), 0); /* unknown, name made printable */
    ZTP_ASSERT_EQ_STR(t.name, "a?b");
    cond_task_clear(&t);

    /* refused bodies */
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"task\":7}",
        "{\"task\":\"\"}",
        "{\"task\":\"none\",\"task\":\"none\"}",
        "{\"task\":\"production\",\"conductor\":[],\"psk\":\"x\",\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\"}",
        "{\"task\":\"production\",\"conductor\":[\"1.2.3.4\"],\"psk\":\"\",\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\"}",
        "{\"task\":\"production\",\"conductor\":[\"1.2.3.4\"],\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\"}",
        "{\"task\":\"production\",\"conductor\":[\"1.2.3.4\"],\"psk\":\"x\",\"root-ca-pem\":\"not pem\"}",
        "{\"task\":\"production\",\"conductor\":[\"1.2.3.4\"],\"psk\":\"a\\u0000b\",\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\"}",
        "{\"task\":\"production\",\"conductor\":[\"1.2.3.4:0\"],\"psk\":\"x\",\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\"}",
        "{\"task\":\"generate-key\",\"identity\":\"R1.r1a\"}",
        "{\"task\":\"generate-key\",\"key-type\":\"ec p256\",\"identity\":\"R1.r1a\"}",
        "{\"task\":\"svr-config\"}",
        "{\"task\":\"svr-config\",\"svr\":[]}",
        "{\"task\":\"svr-config\",\"svr\":{\"hub\":\"hub.lab:1280\",\"hub-name\":\"hub1\",\"router\":\"R1\",\"node\":\"r1a\","
        "\"identity\":\"R1.r1a\"}}",
        "{\"task\":\"svr-config\",\"svr\":{\"hub\":\"1.2.3.4\",\"hub-name\":\"hub 1\",\"router\":\"R1\",\"node\":\"r1a\","
        "\"identity\":\"R1.r1a\"}}",
        "{\"task\":\"svr-config\",\"svr\":{\"hub\":\"1.2.3.4\",\"hub-name\":\"hub1\",\"router\":\"R1\",\"node\":\"r1a\"}}",
        "{\"task\":\"migrate\",\"conductor\":{}}",
        "{\"task\":\"migrate\",\"conductor\":[5]}",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        int rc = task(bad[i], &t);
        if (rc != -1)
            fprintf(stderr, "\n  accepted: %s\n", bad[i]);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_PTR_NULL(t.root_ca_pem);
    }
    /* a psk longer than the TPM can seal is refused too */
    char big[600];
    memset(big, 'k', 200);
    big[200] = 0;
    snprintf(b, sizeof b, "{\"task\":\"production\",\"conductor\":[\"1.2.3.4\"],\"psk\":\"%s\",\"root-ca-pem\":\"%s\"}", big,
             PEM);
    ZTP_ASSERT_EQ_INT(task(b, &t), -1);
}

static void test_auth_bodies(void)
{
    char err[256];
    struct cond_challenge c;
    const char *nonce = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char b[512];
    snprintf(b, sizeof b, "{\"challenge-id\":\"0123abcd\",\"nonce\":\"%s\",\"expires-in\":30}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_challenge(b, strlen(b), &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(c.id, "0123abcd");
    ZTP_ASSERT_EQ_STR(c.nonce, nonce);
    ZTP_ASSERT_EQ_INT(c.expires_in, 30);
    snprintf(b, sizeof b, "{\"challenge-id\":\"a b\",\"nonce\":\"%s\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_challenge(b, strlen(b), &c, err, sizeof err), -1);
    snprintf(b, sizeof b, "{\"challenge-id\":\"ab\",\"nonce\":\"%.62s\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_challenge(b, strlen(b), &c, err, sizeof err), -1);
    snprintf(b, sizeof b, "{\"challenge-id\":\"ab\",\"nonce\":\"%.63sA\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_challenge(b, strlen(b), &c, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(cond_parse_challenge("{\"nonce\":1}", 11, &c, err, sizeof err), -1);

    struct cond_auth a;
    snprintf(b, sizeof b, "{\"session\":\"5e55\",\"expires-in\":300,\"role\":\"staging\",\"server-mac\":\"%s\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_auth(b, strlen(b), &a, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(a.session, "5e55");
    ZTP_ASSERT_EQ_STR(a.role, "staging");
    ZTP_ASSERT_EQ_STR(a.server_mac, nonce);
    ZTP_ASSERT_EQ_INT(a.expires_in, 300);
    snprintf(b, sizeof b, "{\"session\":\"a b\",\"role\":\"staging\",\"server-mac\":\"%s\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_auth(b, strlen(b), &a, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(a.session[0], 0); /* wiped */
    snprintf(b, sizeof b, "{\"session\":\"ab\",\"role\":\"staging\",\"server-mac\":\"%s0\"}", nonce);
    ZTP_ASSERT_EQ_INT(cond_parse_auth(b, strlen(b), &a, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(cond_parse_auth("{\"session\":\"ab\",\"server-mac\":\"00\"}", 34, &a, err, sizeof err), -1);

    char *cert = NULL, *ca = NULL, serial[COND_SERIAL_MAX];
    snprintf(b, sizeof b, "{\"certificate-pem\":\"%s\",\"ca-pem\":\"%s\",\"serial\":\"4F01\"}", PEM, PEM);
    ZTP_ASSERT_EQ_INT(cond_parse_csr_answer(b, strlen(b), &cert, &ca, serial, sizeof serial, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(cert);
    CU_ASSERT_PTR_NOT_NULL(ca);
    ZTP_ASSERT_EQ_STR(serial, "4F01");
    free(cert);
    free(ca);
    snprintf(b, sizeof b, "{\"certificate-pem\":\"%s\",\"serial\":\"4F01\"}", PEM);
    ZTP_ASSERT_EQ_INT(cond_parse_csr_answer(b, strlen(b), &cert, &ca, serial, sizeof serial, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(cert);
    CU_ASSERT_PTR_NULL(ca);

    char next[32];
    ZTP_ASSERT_EQ_INT(cond_parse_ack_answer("{\"next\":\"svr-config\"}", 21, next, sizeof next, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(next, "svr-config");
    ZTP_ASSERT_EQ_INT(cond_parse_ack_answer("{}", 2, next, sizeof next, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(next, "");
    ZTP_ASSERT_EQ_INT(cond_parse_ack_answer("{\"next\":3}", 10, next, sizeof next, err, sizeof err), -1);

    char e[48], d[64];
    const char *eb = "{\"error\":\"csr-rejected\",\"detail\":\"csr: names R2/r2a\\n\"}";
    cond_body_error(eb, strlen(eb), e, sizeof e, d, sizeof d);
    ZTP_ASSERT_EQ_STR(e, "csr-rejected");
    ZTP_ASSERT_EQ_STR(d, "csr: names R2/r2a?");
    cond_body_error("<html>", 6, e, sizeof e, d, sizeof d);
    ZTP_ASSERT_EQ_STR(e, "");
    ZTP_ASSERT_EQ_STR(d, "");
}

static void test_svr_lines(void)
{
    char b[256], err[128];
    ZTP_ASSERT_EQ_INT(svr_build_hello("R1", "r1a", "hub1", b, sizeof b),
                      (int)strlen("{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}\n"));
    ZTP_ASSERT_EQ_STR(b, "{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}\n");
    ZTP_ASSERT_EQ_INT(svr_build_hello("R 1", "r1a", "hub1", b, sizeof b), -1);
    ZTP_ASSERT_EQ_INT(svr_build_hello("R1", "r1a", "hub1", b, 10), -1);

    struct svr_answer a;
    const char *l = "{\"result\":\"peered\",\"hub\":\"hub1\",\"peer\":\"R1.r1a\"}\r";
    ZTP_ASSERT_EQ_INT(svr_parse_answer(l, strlen(l), &a, err, sizeof err), 0);
    CU_ASSERT_TRUE(a.peered);
    ZTP_ASSERT_EQ_STR(a.hub, "hub1");
    ZTP_ASSERT_EQ_STR(a.peer, "R1.r1a");
    l = "{\"result\":\"refused\",\"reason\":\"unknown-peer\"}";
    ZTP_ASSERT_EQ_INT(svr_parse_answer(l, strlen(l), &a, err, sizeof err), 0);
    CU_ASSERT_FALSE(a.peered);
    ZTP_ASSERT_EQ_STR(a.reason, "unknown-peer");
    l = "{\"result\":\"refused\"}";
    ZTP_ASSERT_EQ_INT(svr_parse_answer(l, strlen(l), &a, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(a.reason, "(no reason)");
    static const char *const bad[] = {"", "x", "[]", "{\"result\":\"maybe\"}", "{\"result\":\"peered\"}",
                                      "{\"result\":\"peered\",\"hub\":1,\"peer\":\"p\"}", NULL};
    for (size_t i = 0; bad[i]; i++)
        CU_ASSERT_EQUAL(svr_parse_answer(bad[i], strlen(bad[i]), &a, err, sizeof err), -1);
    long long n = 0;
    ZTP_ASSERT_EQ_INT(svr_parse_keepalive("{\"keepalive\":7}", 15, &n), 0);
    ZTP_ASSERT_EQ_INT(n, 7);
    CU_ASSERT_EQUAL(svr_parse_keepalive("{\"keepalive\":\"7\"}", 17, &n), -1);
    CU_ASSERT_EQUAL(svr_parse_keepalive("{\"keepalive\":7,\"x\":1}", 21, &n), -1);
    ZTP_ASSERT_EQ_STR(svr_state_name(SVR_PEERED), "peered");
    ZTP_ASSERT_EQ_STR(svr_state_name(SVR__COUNT), "unknown");
}

static void write_rel(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    ZTP_ASSERT_EQ_INT(atomic_write_file(p, text, strlen(text), 0600), 0);
}

/* conductor_configure() resumes conductor.json; migrate conductor refuses what it cannot do. */
static void test_resume_and_migrate(void)
{
    char dir[] = "/tmp/test_conductor.XXXXXX", err[512] = "", sub[PATH_MAX];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    static struct conductor c;
    static struct active_proxy none;
    uint64_t now = 1000;

    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R1", "r1a", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.p.state, COND_IDLE);
    ZTP_ASSERT_EQ_STR(c.identity, "R1.r1a");
    const char *one[] = {"198.18.6.10:930"};
    ZTP_ASSERT_EQ_INT(conductor_migrate(&c, one, 1, now, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "certified or later"));
    json_t *j = conductor_json(&c, now);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "state")), "idle");
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "role")));
    json_decref(j);

    /* a node persisted at svr-configured resumes there */
    struct cond_persist p;
    fill(&p);
    char *s = dump(&p);
    write_rel(dir, COND_STATE_FILE, s);
    free(s);
    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R1", "r1a", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.p.state, COND_SVR_CONFIGURED);
    ZTP_ASSERT_EQ_STR(c.p.svr.hub_name, "hub1");
    j = conductor_json(&c, now);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "role")), "staging");
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "conductor")), "198.18.5.10:930");
    json_decref(j);

    /* migrate: bad arguments, then no production files, then accepted */
    const char *three[] = {"1.1.1.1", "1.1.1.2", "1.1.1.3"};
    ZTP_ASSERT_EQ_INT(conductor_migrate(&c, three, 3, now, err, sizeof err), -1);
    const char *badaddr[] = {"1.1.1.1:99999"};
    ZTP_ASSERT_EQ_INT(conductor_migrate(&c, badaddr, 1, now, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "HOST[:PORT]"));
    ZTP_ASSERT_EQ_INT(conductor_migrate(&c, one, 1, now, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no production secret"));
    snprintf(sub, sizeof sub, "%s/secrets", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/trust", dir);
    mkdir(sub, 0755);
    write_rel(dir, COND_PROD_PSK_FILE, "sealed");
    write_rel(dir, COND_PROD_CA_FILE, "ca");
    const char *two[] = {"198.18.6.10", "198.18.6.11:931"};
    ZTP_ASSERT_EQ_INT(conductor_migrate(&c, two, 2, now, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.p.state, COND_MIGRATING);
    ZTP_ASSERT_EQ_STR(c.p.target.a[0], "198.18.6.10:930");
    ZTP_ASSERT_EQ_STR(c.p.target.a[1], "198.18.6.11:931");
    ZTP_ASSERT_EQ_STR(c.p.migrated_by, "cli");
    CU_ASSERT_TRUE(c.p.staging_acked);
    j = conductor_json(&c, now);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "role")), "production");
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "conductor")), "198.18.6.10:930");
    json_decref(j);
    /* persisted: a restart resumes migrating to the same pair */
    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R1", "r1a", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.p.state, COND_MIGRATING);
    ZTP_ASSERT_EQ_INT(c.p.target.n, 2);
    ZTP_ASSERT_EQ_INT(c.p.n_hist, 6);

    /* another node name on the same state dir starts over (files stay) */
    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R1", "r1b", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.p.state, COND_IDLE);
    ZTP_ASSERT_EQ_STR(c.p.node, "r1b");

    /* refusals: a corrupt file, a name that cannot be an identity */
    write_rel(dir, COND_STATE_FILE, "{");
    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R1", "r1a", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "conductor.json"));
    conductor_init(&c, NULL, &none, NULL);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, dir, "R 1", "r1a", err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(conductor_configure(&c, NULL, "R1", "r1a", err, sizeof err), -1);

    static const char *const rels[] = {COND_STATE_FILE, COND_PROD_PSK_FILE, COND_PROD_CA_FILE, NULL};
    for (size_t i = 0; rels[i]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, rels[i]);
        unlink(sub);
    }
    snprintf(sub, sizeof sub, "%s/secrets", dir);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/trust", dir);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"state names and steps", test_names_steps},
        {"transition table", test_transitions},
        {"conductor addresses", test_addr},
        {"conductor.json round trip", test_persist_roundtrip},
        {"conductor.json refusals", test_persist_refused},
        {"task bodies", test_tasks},
        {"challenge, auth, csr, ack, error bodies", test_auth_bodies},
        {"hub hello and answers", test_svr_lines},
        {"resume from a state dir, migrate conductor", test_resume_and_migrate},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"conductor", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
