/* The sZTP client's pure parts (router/sztp.h): state names and steps, the transition table, the
 * persisted sztp.json round trip and its refusals, the response-body parsers; and the persistence
 * seam: sztp_configure() over a state dir resumes the stored state. */
#include "cunit_main.h"
#include "sztp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ztp/daemon.h"

static void test_names_steps(void)
{
    static const char *const want[SZTP__COUNT] = {"init", "proxy-ready", "phoning-home", "redirected", "authenticated",
                                                  "onboarding-received", "root-ca-installed", "secret-stored"};
    static const unsigned steps[SZTP__COUNT] = {0, 1, 2, 3, 4, 5, 5, 5};
    for (int i = 0; i < SZTP__COUNT; i++) {
        ZTP_ASSERT_EQ_STR(sztp_state_name((enum sztp_state)i), want[i]);
        ZTP_ASSERT_EQ_INT(sztp_state_from_name(want[i]), i);
        ZTP_ASSERT_EQ_INT(sztp_state_step((enum sztp_state)i), steps[i]);
    }
    ZTP_ASSERT_EQ_STR(sztp_state_name(SZTP__COUNT), "unknown");
    ZTP_ASSERT_EQ_INT(sztp_state_from_name("nope"), -1);
    ZTP_ASSERT_EQ_INT(sztp_state_from_name(NULL), -1);
}

static void test_transitions(void)
{
    /* every forward step */
    for (int i = 0; i + 1 < SZTP__COUNT; i++)
        CU_ASSERT_TRUE(sztp_transition_allowed((enum sztp_state)i, (enum sztp_state)(i + 1)));
    /* skipping forward, staying, going past the end */
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_INIT, SZTP_REDIRECTED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_PHONING_HOME, SZTP_AUTHENTICATED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_REDIRECTED, SZTP_SECRET_STORED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_REDIRECTED, SZTP_REDIRECTED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_SECRET_STORED, SZTP__COUNT));
    /* back to redirected: session / onboarding data lost */
    CU_ASSERT_TRUE(sztp_transition_allowed(SZTP_AUTHENTICATED, SZTP_REDIRECTED));
    CU_ASSERT_TRUE(sztp_transition_allowed(SZTP_ONBOARDING_RECEIVED, SZTP_REDIRECTED));
    CU_ASSERT_TRUE(sztp_transition_allowed(SZTP_ROOT_CA_INSTALLED, SZTP_REDIRECTED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_SECRET_STORED, SZTP_REDIRECTED));
    /* back to phoning-home only from redirected */
    CU_ASSERT_TRUE(sztp_transition_allowed(SZTP_REDIRECTED, SZTP_PHONING_HOME));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_AUTHENTICATED, SZTP_PHONING_HOME));
    /* init: a new device id */
    CU_ASSERT_TRUE(sztp_transition_allowed(SZTP_SECRET_STORED, SZTP_INIT));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_INIT, SZTP_INIT));
    /* other backward moves */
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_SECRET_STORED, SZTP_ROOT_CA_INSTALLED));
    CU_ASSERT_FALSE(sztp_transition_allowed(SZTP_PHONING_HOME, SZTP_PROXY_READY));
}

static void fill(struct sztp_persist *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->device_id, sizeof p->device_id, "SSR-0001");
    p->state = SZTP_ROOT_CA_INSTALLED;
    snprintf(p->redirect, sizeof p->redirect, "https://mist-prod.lab:8443/v1/device/SSR-0001");
    snprintf(p->environment, sizeof p->environment, "production");
    snprintf(p->org, sizeof p->org, "acme");
    snprintf(p->site, sizeof p->site, "branch-1");
    snprintf(p->conductor, sizeof p->conductor, "198.18.5.10:930");
    p->root_ca = true;
    p->attempts_total = 9;
    p->failures_total = 3;
    p->last_error.set = true;
    p->last_error.state = SZTP_PHONING_HOME;
    snprintf(p->last_error.klass, sizeof p->last_error.klass, "unclaimed");
    snprintf(p->last_error.message, sizeof p->last_error.message, "ep-terminator answered 404 Not Found");
    p->last_error.status = 404;
    p->last_error.retry_after_s = 10;
    p->last_error.at = 1700000000;
    for (int i = 0; i < 6; i++) {
        p->hist[i].from = (enum sztp_state)i;
        p->hist[i].to = (enum sztp_state)(i + 1);
        p->hist[i].at = 1700000000 + i;
        snprintf(p->hist[i].why, sizeof p->hist[i].why, "why %d", i);
    }
    p->n_hist = 6;
    snprintf(p->proxy, sizeof p->proxy, "127.0.0.1:3128");
}

static void test_persist_roundtrip(void)
{
    struct sztp_persist a, b;
    char err[256] = "";
    fill(&a);
    json_t *o = sztp_persist_to_json(&a);
    char *s = json_dumps(o, 0);
    json_decref(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NULL(strstr(s, "psk"));   /* no secret member in the file */
    int rc = sztp_persist_parse(s, strlen(s), &b, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    ZTP_ASSERT_EQ_INT(rc, 0);
    ZTP_ASSERT_EQ_STR(b.device_id, a.device_id);
    ZTP_ASSERT_EQ_INT(b.state, a.state);
    ZTP_ASSERT_EQ_STR(b.redirect, a.redirect);
    ZTP_ASSERT_EQ_STR(b.environment, a.environment);
    ZTP_ASSERT_EQ_STR(b.org, a.org);
    ZTP_ASSERT_EQ_STR(b.site, a.site);
    ZTP_ASSERT_EQ_STR(b.conductor, a.conductor);
    CU_ASSERT_TRUE(b.root_ca);
    ZTP_ASSERT_EQ_STR(b.proxy, "127.0.0.1:3128");
    ZTP_ASSERT_EQ_INT(b.attempts_total, 9);
    ZTP_ASSERT_EQ_INT(b.failures_total, 3);
    CU_ASSERT_TRUE(b.last_error.set);
    ZTP_ASSERT_EQ_INT(b.last_error.state, SZTP_PHONING_HOME);
    ZTP_ASSERT_EQ_STR(b.last_error.klass, "unclaimed");
    ZTP_ASSERT_EQ_STR(b.last_error.message, a.last_error.message);
    ZTP_ASSERT_EQ_INT(b.last_error.status, 404);
    ZTP_ASSERT_EQ_INT(b.last_error.retry_after_s, 10);
    ZTP_ASSERT_EQ_INT(b.last_error.at, 1700000000);
    ZTP_ASSERT_EQ_INT(b.n_hist, 6);
    for (size_t i = 0; i < b.n_hist && i < 6; i++) {
        ZTP_ASSERT_EQ_INT(b.hist[i].from, a.hist[i].from);
        ZTP_ASSERT_EQ_INT(b.hist[i].to, a.hist[i].to);
        ZTP_ASSERT_EQ_INT(b.hist[i].at, a.hist[i].at);
        ZTP_ASSERT_EQ_STR(b.hist[i].why, a.hist[i].why);
    }
    free(s);
}

static void expect_refused(const char *text, const char *why)
{
    struct sztp_persist p;
    char err[256] = "";
    ZTP_ASSERT_EQ_INT(sztp_persist_parse(text, strlen(text), &p, err, sizeof err), -1);
    if (!strstr(err, why))
        fprintf(stderr, "\n  %s -> \"%s\" (want \"%s\")\n", text, err, why);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_persist_refused(void)
{
    expect_refused("", "bad JSON");
    expect_refused("[1]", "not a JSON object");
    expect_refused("{\"version\":2,\"device-id\":\"X\",\"state\":\"init\"}", "version");
    expect_refused("{\"version\":1,\"state\":\"init\"}", "missing \"device-id\"");
    expect_refused("{\"version\":1,\"device-id\":\"X\",\"state\":\"flying\"}", "\"state\"");
    expect_refused("{\"version\":1,\"device-id\":\"X\",\"state\":\"authenticated\"}", "without \"redirect\"");
    expect_refused("{\"version\":1,\"device-id\":\"X\",\"state\":\"init\",\"history\":{}}", "\"history\"");
    expect_refused("{\"version\":1,\"device-id\":\"X\",\"state\":\"init\",\"history\":[1]}", "\"history\"");
    expect_refused("{\"version\":1,\"device-id\":\"X\",\"state\":\"init\",\"device-id\":\"Y\"}", "bad JSON");
    expect_refused("{\"version\":1,\"device-id\":7,\"state\":\"init\"}", "\"device-id\"");
    /* the minimal valid file */
    struct sztp_persist p;
    char err[256];
    const char *ok = "{\"version\":1,\"device-id\":\"X\",\"state\":\"phoning-home\"}";
    ZTP_ASSERT_EQ_INT(sztp_persist_parse(ok, strlen(ok), &p, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(p.state, SZTP_PHONING_HOME);
    CU_ASSERT_FALSE(p.last_error.set);
}

static void test_bodies(void)
{
    char red[SZTP_URL_MAX], env[64], org[64], err[256];
    const char *b = "{\"redirect\":\"https://mist-prod.lab/v1/device/SSR-0001\",\"environment\":\"production\","
                    "\"org\":\"acme\",\"verdict\":\"claimed\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_redirect(b, strlen(b), red, sizeof red, env, sizeof env, org, sizeof org, err,
                                          sizeof err), 0);
    ZTP_ASSERT_EQ_STR(red, "https://mist-prod.lab/v1/device/SSR-0001");
    ZTP_ASSERT_EQ_STR(org, "acme");
    b = "{\"redirect\":\"http://mist-prod.lab/\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_redirect(b, strlen(b), red, sizeof red, env, sizeof env, org, sizeof org, err,
                                          sizeof err), -1);
    b = "{\"environment\":\"x\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_redirect(b, strlen(b), red, sizeof red, env, sizeof env, org, sizeof org, err,
                                          sizeof err), -1);

    struct sztp_challenge c;
    b = "{\"challenge\":\"Kx81bQ2z\",\"suite\":\"OCRA-1:HOTP-SHA256-8:QA08\",\"challenge-id\":\"00ff\",\"expires-in\":30}";
    ZTP_ASSERT_EQ_INT(sztp_parse_challenge(b, strlen(b), &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(c.challenge, "Kx81bQ2z");
    ZTP_ASSERT_EQ_STR(c.suite, "OCRA-1:HOTP-SHA256-8:QA08");
    ZTP_ASSERT_EQ_STR(c.id, "00ff");
    b = "{\"challenge\":\"Kx81bQ2z\",\"suite\":\"OCRA-1:HOTP-SHA256-8:QA08\",\"challenge-id\":\"a b\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_challenge(b, strlen(b), &c, err, sizeof err), -1);

    char sess[160], srv[OCRA_RESPONSE_MAX + 2];
    b = "{\"session\":\"abcd\",\"expires-in\":300,\"server-response\":\"12345678\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_session(b, strlen(b), sess, sizeof sess, srv, sizeof srv, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(sess, "abcd");
    ZTP_ASSERT_EQ_STR(srv, "12345678");
    b = "{\"session\":\"\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_session(b, strlen(b), sess, sizeof sess, srv, sizeof srv, err, sizeof err), -1);

    struct sztp_onboarding ob;
    b = "{\"device-id\":\"SSR-0001\",\"org\":\"acme\",\"site\":\"b1\",\"conductor\":\"198.18.5.10:930\",\"psk\":\"s3\","
        "\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\\nAA==\\n-----END CERTIFICATE-----\\n\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_onboarding(b, strlen(b), &ob, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(ob.psk, "s3");
    ZTP_ASSERT_EQ_INT(ob.psk_len, 2);
    CU_ASSERT_PTR_NOT_NULL(ob.root_ca_pem);
    sztp_onboarding_clear(&ob);
    CU_ASSERT_PTR_NULL(ob.root_ca_pem);
    b = "{\"conductor\":\"c\",\"psk\":\"s\",\"root-ca-pem\":\"not pem\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_onboarding(b, strlen(b), &ob, err, sizeof err), -1);
    b = "{\"conductor\":\"c\"}";
    ZTP_ASSERT_EQ_INT(sztp_parse_onboarding(b, strlen(b), &ob, err, sizeof err), -1);

    char e[32];
    b = "{\"error\":\"unclaimed\",\"retry-after\":10}";
    sztp_body_error(b, strlen(b), e, sizeof e);
    ZTP_ASSERT_EQ_STR(e, "unclaimed");
    sztp_body_error("<html>", 6, e, sizeof e);
    ZTP_ASSERT_EQ_STR(e, "");
}

/* sztp_configure() resumes what a state dir holds, and starts fresh without one. */
static void test_resume(void)
{
    char dir[] = "/tmp/test_sztp.XXXXXX", path[PATH_MAX], err[512] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    static struct sztp z;
    static struct active_proxy none;
    sztp_init(&z, NULL, &none);
    ZTP_ASSERT_EQ_INT(sztp_configure(&z, dir, "SSR-0001", "libtpms", NULL, NULL, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(z.p.state, SZTP_INIT);
    ZTP_ASSERT_EQ_STR(z.url, "https://ep-terminator.mistsys.net/v1/phone-home");

    struct sztp_persist a;
    fill(&a);
    a.state = SZTP_SECRET_STORED;
    json_t *o = sztp_persist_to_json(&a);
    char *s = json_dumps(o, 0);
    json_decref(o);
    snprintf(path, sizeof path, "%s/%s", dir, SZTP_STATE_FILE);
    ZTP_ASSERT_EQ_INT(atomic_write_file(path, s, strlen(s), 0644), 0);
    free(s);
    sztp_init(&z, NULL, &none);
    ZTP_ASSERT_EQ_INT(sztp_configure(&z, dir, "SSR-0001", "libtpms", "https://ept.lab:8443/", NULL, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(z.p.state, SZTP_SECRET_STORED);
    ZTP_ASSERT_EQ_INT(z.p.n_hist, 6);
    ZTP_ASSERT_EQ_STR(z.url, "https://ept.lab:8443/v1/phone-home");

    /* a corrupt file is an error, not a silent fresh start */
    ZTP_ASSERT_EQ_INT(atomic_write_file(path, "{", 1, 0644), 0);
    sztp_init(&z, NULL, &none);
    ZTP_ASSERT_EQ_INT(sztp_configure(&z, dir, "SSR-0001", "libtpms", NULL, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "sztp.json"));
    /* bad arguments */
    sztp_init(&z, NULL, &none);
    ZTP_ASSERT_EQ_INT(sztp_configure(&z, dir, "bad id!", "libtpms", NULL, NULL, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(sztp_configure(&z, dir, "SSR-1", NULL, NULL, NULL, err, sizeof err), -1);
    unlink(path);
    rmdir(dir);
}

/* The lab fault switches: names both ways, unknown names refused. */
static void test_faults(void)
{
    ZTP_ASSERT_EQ_STR(sztp_fault_name(SZTP_FAULT_NONE), "none");
    ZTP_ASSERT_EQ_STR(sztp_fault_name(SZTP_FAULT_REPLAY_RESPONSE), "replay-response");
    ZTP_ASSERT_EQ_STR(sztp_fault_name((enum sztp_fault)99), "unknown");
    ZTP_ASSERT_EQ_INT(sztp_fault_from_name("replay-response"), SZTP_FAULT_REPLAY_RESPONSE);
    ZTP_ASSERT_EQ_INT(sztp_fault_from_name("none"), SZTP_FAULT_NONE);
    ZTP_ASSERT_EQ_INT(sztp_fault_from_name("replay"), -1);
    ZTP_ASSERT_EQ_INT(sztp_fault_from_name(""), -1);
    ZTP_ASSERT_EQ_INT(sztp_fault_from_name(NULL), -1);
    /* a file of an older version, without "proxy": resumes with no known proxy */
    struct sztp_persist p;
    char err[256];
    const char *ok = "{\"version\":1,\"device-id\":\"X\",\"state\":\"phoning-home\",\"proxy\":null}";
    ZTP_ASSERT_EQ_INT(sztp_persist_parse(ok, strlen(ok), &p, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(p.proxy, "");
    const char *bad = "{\"version\":1,\"device-id\":\"X\",\"state\":\"phoning-home\",\"proxy\":\"0123456789012345678901234\"}";
    ZTP_ASSERT_EQ_INT(sztp_persist_parse(bad, strlen(bad), &p, err, sizeof err), -1);
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"state names and steps", test_names_steps},
        {"transition table", test_transitions},
        {"sztp.json round trip", test_persist_roundtrip},
        {"sztp.json refusals", test_persist_refused},
        {"response bodies", test_bodies},
        {"resume from a state dir", test_resume},
        {"fault switches, persisted proxy", test_faults},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"sztp", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
