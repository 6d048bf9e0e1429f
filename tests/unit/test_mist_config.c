/* mock-ep-terminator's claims file and redirect decision, mock-mist's device registry, and the
 * shared route table: valid files parse, unknown keys and bad values are refused with a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "../../mocks/mist/claims.h"
#include "../../mocks/mist/httpd.h"
#include "../../mocks/mist/registry.h"

static const char CLAIMS[] =
    "{\"environment\": \"production\", \"retry-after\": 12,"
    " \"environments\": {\"production\": \"https://mist-prod.lab\", \"staging\": \"https://mist-staging.lab:8443/\"},"
    " \"claims\": {\"SSR-1\": {\"environment\": \"production\", \"org\": \"acme\"},"
    "              \"SSR-2\": {\"environment\": \"staging\", \"org\": \"beta\"}}}";

static void test_claims_ok(void)
{
    struct ept_config c;
    struct ept_decision d;
    char err[256] = "";
    int r = ept_config_parse(CLAIMS, strlen(CLAIMS), &c, err, sizeof err);
    if (r)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
    ZTP_ASSERT_EQ_STR(c.environment, "production");
    ZTP_ASSERT_EQ_INT(c.retry_after, 12);
    ZTP_ASSERT_EQ_INT(c.n_envs, 2);
    ZTP_ASSERT_EQ_INT(c.n_claims, 2);
    ZTP_ASSERT_EQ_INT(ept_decide(&c, "SSR-1", &d), EPT_CLAIMED);
    ZTP_ASSERT_EQ_STR(d.redirect, "https://mist-prod.lab/v1/device/SSR-1");
    ZTP_ASSERT_EQ_STR(d.claim->org, "acme");
    ZTP_ASSERT_EQ_INT(ept_decide(&c, "SSR-2", &d), EPT_OTHER_ENV);
    ZTP_ASSERT_EQ_STR(d.redirect, "https://mist-staging.lab:8443/v1/device/SSR-2");   /* trailing '/' dropped */
    ZTP_ASSERT_EQ_INT(ept_decide(&c, "SSR-3", &d), EPT_UNCLAIMED);
    CU_ASSERT_PTR_NULL(d.claim);
    ept_config_free(&c);

    const char *minimal = "{\"environment\":\"p\",\"environments\":{\"p\":\"https://h\"}}";
    CU_ASSERT_EQUAL_FATAL(ept_config_parse(minimal, strlen(minimal), &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.retry_after, 10);
    ZTP_ASSERT_EQ_INT(c.n_claims, 0);
    ept_config_free(&c);
}

static void claims_bad(const char *json, const char *want)
{
    struct ept_config c;
    char err[256] = "";
    int r = ept_config_parse(json, strlen(json), &c, err, sizeof err);
    ZTP_ASSERT_EQ_INT(r, -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\" lacks \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

#define ENVS "\"environments\":{\"p\":\"https://h\"}"
static void test_claims_bad(void)
{
    claims_bad("", "line 1");
    claims_bad("[]", "top level must be a JSON object");
    claims_bad("{\"environment\":\"p\"," ENVS ",\"extra\":1}", "unknown key \"extra\"");
    claims_bad("{\"environment\":\"p\",\"environment\":\"p\"," ENVS "}", "duplicate");
    claims_bad("{" ENVS "}", "\"environment\" is missing");
    claims_bad("{\"environment\":\"q\"," ENVS "}", "\"q\" is not in \"environments\"");
    claims_bad("{\"environment\":\"p\",\"environments\":{\"p\":\"http://h\"}}", "https://HOST");
    claims_bad("{\"environment\":\"p\",\"environments\":{\"p\":\"https://h/path\"}}", "https://HOST");
    claims_bad("{\"environment\":\"p\",\"environments\":{}}", "non-empty");
    claims_bad("{\"environment\":\"p\",\"retry-after\":0," ENVS "}", "retry-after");
    claims_bad("{\"environment\":\"p\"," ENVS ",\"claims\":{\"D\":{\"environment\":\"p\",\"org\":\"o\",\"x\":1}}}",
               "claims.D: unknown key \"x\"");
    claims_bad("{\"environment\":\"p\"," ENVS ",\"claims\":{\"D\":{\"environment\":\"z\",\"org\":\"o\"}}}",
               "claims.D: environment \"z\"");
    claims_bad("{\"environment\":\"p\"," ENVS ",\"claims\":{\"D\":{\"environment\":\"p\"}}}", "\"org\" is missing");
    claims_bad("{\"environment\":\"p\"," ENVS ",\"claims\":{\"bad id\":{\"environment\":\"p\",\"org\":\"o\"}}}",
               "bad device id");
}

#define K32 "3132333435363738393031323334353637383930313233343536373839303132"
#define DEV(extra, ob)                                                                                          \
    "{\"devices\":{\"SSR-1\":{\"org\":\"acme\",\"site\":\"s1\",\"ocra-suite\":\"OCRA-1:HOTP-SHA256-8:QA08\","   \
    "\"ocra-key-hex\":\"" K32 "\"" extra ",\"onboarding\":{\"conductor\":\"198.18.5.10\",\"psk\":\"x\"" ob "}}}}"

static void test_registry_ok(void)
{
    struct mist_registry g;
    char err[256] = "";
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"max-failures\":3,\"lockout-seconds\":9,\"challenge-ttl\":4,\"session-ttl\":5,%s",
             &DEV("", ",\"root-ca-pem\":\"-----BEGIN CERTIFICATE-----\\nMII\\n-----END CERTIFICATE-----\\n\"")[1]);
    int r = mist_registry_parse(buf, strlen(buf), &g, err, sizeof err);
    if (r)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
    ZTP_ASSERT_EQ_INT(g.max_failures, 3);
    ZTP_ASSERT_EQ_INT(g.lockout_seconds, 9);
    ZTP_ASSERT_EQ_INT(g.challenge_ttl, 4);
    ZTP_ASSERT_EQ_INT(g.session_ttl, 5);
    const struct mist_device *d = mist_registry_find(&g, "SSR-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_PTR_NULL(mist_registry_find(&g, "SSR-2"));
    ZTP_ASSERT_EQ_INT(d->key_len, 32);
    ZTP_ASSERT_EQ_INT(d->key[0], '1');
    ZTP_ASSERT_EQ_INT(d->suite.qlen, 8);
    ZTP_ASSERT_EQ_STR(d->conductor, "198.18.5.10");
    CU_ASSERT_PTR_NOT_NULL(d->root_ca_pem);
    mist_registry_free(&g);

    const char *plain = DEV("", "");
    CU_ASSERT_EQUAL_FATAL(mist_registry_parse(plain, strlen(plain), &g, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(g.max_failures, 5);
    ZTP_ASSERT_EQ_INT(g.challenge_ttl, 30);
    CU_ASSERT_PTR_NULL(g.devices[0].root_ca_pem);
    mist_registry_free(&g);
}

static void registry_bad(const char *json, const char *want)
{
    struct mist_registry g;
    char err[256] = "";
    ZTP_ASSERT_EQ_INT(mist_registry_parse(json, strlen(json), &g, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\" lacks \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void test_registry_bad(void)
{
    registry_bad("{}", "\"devices\" must be an object");
    registry_bad("{\"devices\":{},\"lockout\":1}", "unknown key \"lockout\"");
    registry_bad("{\"devices\":{},\"max-failures\":0}", "max-failures");
    registry_bad(DEV(",\"mutual\":true", ""), "devices.SSR-1: unknown key \"mutual\"");
    registry_bad(DEV("", ",\"secret\":\"s\""), "devices.SSR-1.onboarding: unknown key \"secret\"");
    registry_bad(DEV("", ",\"root-ca-pem\":\"nope\""), "not a PEM certificate");
    registry_bad("{\"devices\":{\"SSR-1\":{\"org\":\"a\",\"site\":\"s\",\"ocra-suite\":\"OCRA-2:HOTP-SHA1-6:QN08\","
                 "\"ocra-key-hex\":\"00\",\"onboarding\":{\"conductor\":\"c\",\"psk\":\"p\"}}}}",
                 "ocra-suite");
    registry_bad("{\"devices\":{\"SSR-1\":{\"org\":\"a\",\"site\":\"s\",\"ocra-suite\":\"OCRA-1:HOTP-SHA1-6:C-QN08\","
                 "\"ocra-key-hex\":\"00\",\"onboarding\":{\"conductor\":\"c\",\"psk\":\"p\"}}}}",
                 "only Q suites");
    registry_bad("{\"devices\":{\"SSR-1\":{\"org\":\"a\",\"site\":\"s\",\"ocra-suite\":\"OCRA-1:HOTP-SHA1-6:QN08\","
                 "\"ocra-key-hex\":\"0g\",\"onboarding\":{\"conductor\":\"c\",\"psk\":\"p\"}}}}",
                 "not hex");
    registry_bad("{\"devices\":{\"SSR-1\":{\"org\":\"a\",\"site\":\"s\",\"ocra-suite\":\"OCRA-1:HOTP-SHA1-6:QN08\","
                 "\"ocra-key-hex\":\"000\",\"onboarding\":{\"conductor\":\"c\",\"psk\":\"p\"}}}}",
                 "ocra-key-hex");
    registry_bad("{\"devices\":{\"SSR-1\":{\"org\":\"a\",\"site\":\"s\",\"ocra-suite\":\"OCRA-1:HOTP-SHA1-6:QN08\","
                 "\"ocra-key-hex\":\"00\",\"onboarding\":{\"conductor\":\"c\"}}}}",
                 "\"psk\" is missing");
}

static void h(void *app, struct mhttp_req *r)
{
    (void)app;
    (void)r;
}

static void test_routes(void)
{
    static const struct mhttp_route routes[] = {
        {"POST", "/v1/device/*/challenge", MHTTP_BODY_OPTIONAL, h},
        {"GET", "/v1/device/*/onboarding", MHTTP_BODY_NONE, h},
        {"PUT", "/v1/device/*/onboarding", MHTTP_BODY_NONE, h},
        {"POST", "/v1/phone-home", MHTTP_BODY_REQUIRED, h},
        {NULL, NULL, MHTTP_BODY_NONE, NULL},
    };
    const struct mhttp_route *rt = NULL;
    char param[72], allow[64];
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/device/SSR-1/challenge", &rt, param, sizeof param,
                                        allow, sizeof allow), 0);
    CU_ASSERT_PTR_EQUAL(rt, &routes[0]);
    ZTP_ASSERT_EQ_STR(param, "SSR-1");
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "GET", "/v1/device/SSR-1/onboarding", &rt, param, sizeof param, allow,
                                        sizeof allow), 0);
    CU_ASSERT_PTR_EQUAL(rt, &routes[1]);
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "DELETE", "/v1/device/SSR-1/onboarding", &rt, param, sizeof param,
                                        allow, sizeof allow), 405);
    ZTP_ASSERT_EQ_STR(allow, "GET, PUT");
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/phone-home/", &rt, param, sizeof param, allow,
                                        sizeof allow), 404);
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/device//challenge", &rt, param, sizeof param, allow,
                                        sizeof allow), 404);
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/device/a%20b/challenge", &rt, param, sizeof param,
                                        allow, sizeof allow), 404);
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/device/../challenge", &rt, param, sizeof param, allow,
                                        sizeof allow), 0);   /* ".." is just an id here: it names no device */
    ZTP_ASSERT_EQ_INT(mhttp_route_match(routes, "POST", "/v1/device/x/y/challenge", &rt, param, sizeof param, allow,
                                        sizeof allow), 404);

    struct sockaddr_in sin;
    ZTP_ASSERT_EQ_INT(mhttp_parse_listen("127.0.0.9:8443", &sin), 0);
    ZTP_ASSERT_EQ_INT(ntohs(sin.sin_port), 8443);
    ZTP_ASSERT_EQ_INT(mhttp_parse_listen("127.0.0.9", &sin), -1);
    ZTP_ASSERT_EQ_INT(mhttp_parse_listen("127.0.0.9:0", &sin), -1);
    ZTP_ASSERT_EQ_INT(mhttp_parse_listen("127.0.0.9:65536", &sin), -1);
    ZTP_ASSERT_EQ_INT(mhttp_parse_listen("host:80", &sin), -1);
}

int main(void)
{
    static const struct ztp_test claims_tests[] = {
        {"claims file and redirect decision", test_claims_ok},
        {"claims file errors", test_claims_bad},
        {NULL, NULL},
    };
    static const struct ztp_test reg_tests[] = {
        {"device registry", test_registry_ok},
        {"registry errors", test_registry_bad},
        {NULL, NULL},
    };
    static const struct ztp_test http_tests[] = {
        {"route table, 404/405, --listen", test_routes},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {
        {"ep-terminator claims", claims_tests}, {"mist registry", reg_tests}, {"mist http", http_tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
