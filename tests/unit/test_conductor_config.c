/* mock-conductor's config file (mocks/conductor/cconfig.c): a full staging and a production config
 * parse to the documented values and defaults; every refusal names the member (or the line of a
 * syntax error), and role-specific members are refused for the other role. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cconfig.h"
#include "cunit_main.h"

static char *g_pem_json;   /* a CA certificate as a JSON string literal (with quotes) */

static const char *pem_json(void)
{
    if (!g_pem_json) {
        X509 *x;
        EVP_PKEY *k;
        char *pem, err[128];
        size_t l;
        CU_ASSERT_EQUAL_FATAL(pki_ca_generate("root", 1, &x, &k, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(pki_cert_pem(x, &pem, &l), 0);
        json_t *s = json_string(pem);
        g_pem_json = json_dumps(s, JSON_ENCODE_ANY);
        json_decref(s);
        free(pem);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return g_pem_json;
}

/* The staging example of the spec, with `extra` spliced in as the last top-level members. */
static char *staging_text(const char *extra)
{
    char *buf = malloc(16384);
    snprintf(buf, 16384,
             "{\"psk-ttl\": 20, \"session-ttl\": 200, \"max-failures\": 3, \"lockout-seconds\": 40,\n"
             " \"ca-cert\": \"/x/ca.pem\", \"ca-key\": \"/x/ca.key\", \"cert-days\": 90,\n"
             " \"routers\": {\"R1\": {\"psk\": \"secret-of-R1\", \"nodes\": {\"r1a\": {\"asset-id\": \"SSR-0001\"}, "
             "\"r1b\": {}}},\n"
             "             \"R2\": {\"psk\": \"s2\", \"nodes\": {\"r2a\": {}}}},\n"
             " \"production\": {\"conductor\": [\"198.18.6.10:930\", \"conductor2.lab\"], \"psk\": \"prod-secret\", "
             "\"root-ca-pem\": %s},\n"
             " \"svr\": {\"hub\": \"198.18.7.10:1280\", \"hub-name\": \"hub1\"}%s}",
             pem_json(), extra);
    return buf;
}

static int parse(const char *text, enum cond_role role, struct cond_config *c, char *err, size_t cap)
{
    err[0] = '\0';
    return cond_config_parse(text, strlen(text), role, c, err, cap);
}

static void test_staging(void)
{
    struct cond_config c;
    char err[256];
    char *t = staging_text(", \"faults\": {\"reject-secret\": true, \"wrong-ca\": false, \"stall-ms\": 250}");
    int rc = parse(t, COND_STAGING, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    ZTP_ASSERT_EQ_INT(c.psk_ttl, 20);
    ZTP_ASSERT_EQ_INT(c.session_ttl, 200);
    ZTP_ASSERT_EQ_INT(c.max_failures, 3);
    ZTP_ASSERT_EQ_INT(c.lockout_seconds, 40);
    ZTP_ASSERT_EQ_INT(c.cert_days, 90);
    ZTP_ASSERT_EQ_STR(c.ca_cert, "/x/ca.pem");
    ZTP_ASSERT_EQ_STR(c.ca_key, "/x/ca.key");
    ZTP_ASSERT_EQ_INT(c.n_routers, 2);
    ZTP_ASSERT_EQ_INT(cond_config_nodes(&c), 3);
    const struct cond_router *r = cond_router_find(&c, "R1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ZTP_ASSERT_EQ_INT(r->psk_len, 12);
    CU_ASSERT(memcmp(r->psk, "secret-of-R1", 12) == 0);
    const struct cond_node *n = cond_node_find(r, "r1a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    ZTP_ASSERT_EQ_STR(n->asset_id, "SSR-0001");
    ZTP_ASSERT_EQ_STR(n->identity, "R1.r1a");
    CU_ASSERT_PTR_NULL(cond_node_find(r, "r1c"));
    CU_ASSERT_PTR_NULL(cond_node_find(r, "r1b")->asset_id);
    CU_ASSERT_PTR_NULL(cond_router_find(&c, "R3"));
    ZTP_ASSERT_EQ_INT(c.n_prod_conductors, 2);
    ZTP_ASSERT_EQ_STR(c.prod_conductor[1], "conductor2.lab");
    ZTP_ASSERT_EQ_STR(c.prod_psk, "prod-secret");
    CU_ASSERT(strncmp(c.prod_root_ca_pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
    ZTP_ASSERT_EQ_STR(c.svr_hub, "198.18.7.10:1280");
    ZTP_ASSERT_EQ_STR(c.svr_hub_name, "hub1");
    CU_ASSERT_TRUE(c.faults.reject_secret);
    CU_ASSERT_FALSE(c.faults.wrong_ca);
    ZTP_ASSERT_EQ_INT(c.faults.stall_ms, 250);
    cond_config_free(&c);
    CU_ASSERT_PTR_NULL(c.root);
    free(t);
}

static void test_production_defaults(void)
{
    struct cond_config c;
    char err[256];
    const char *t = "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"r1a\": {}}}}}";
    CU_ASSERT_EQUAL_FATAL(parse(t, COND_PRODUCTION, &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(c.psk_ttl, 30);
    ZTP_ASSERT_EQ_INT(c.session_ttl, 300);
    ZTP_ASSERT_EQ_INT(c.max_failures, 5);
    ZTP_ASSERT_EQ_INT(c.lockout_seconds, 60);
    ZTP_ASSERT_EQ_INT(c.cert_days, PKI_DEFAULT_DAYS);
    CU_ASSERT_PTR_NULL(c.ca_cert);
    ZTP_ASSERT_EQ_INT(c.n_prod_conductors, 0);
    CU_ASSERT_FALSE(c.faults.reject_secret);
    ZTP_ASSERT_EQ_INT(c.faults.stall_ms, 0);
    cond_config_free(&c);
    enum cond_role role;
    ZTP_ASSERT_EQ_INT(cond_role_parse("production", &role), 0);
    ZTP_ASSERT_EQ_INT(role, COND_PRODUCTION);
    ZTP_ASSERT_EQ_INT(cond_role_parse("stage", &role), -1);
    ZTP_ASSERT_EQ_INT(cond_role_parse(NULL, &role), -1);
}

struct bad_case {
    enum cond_role role;
    const char *text, *want;   /* want: a substring of the error */
};

static void check_bad(const struct bad_case *b)
{
    struct cond_config c;
    char err[256];
    int rc = parse(b->text, b->role, &c, err, sizeof err);
    if (rc == 0 || !strstr(err, b->want))
        fprintf(stderr, "\n  config %s\n  -> rc %d err \"%s\", want \"%s\"\n", b->text, rc, err, b->want);
    ZTP_ASSERT_EQ_INT(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, b->want));
    CU_ASSERT_PTR_NULL(c.root);   /* nothing owned after a refusal */
    if (rc == 0)
        cond_config_free(&c);
}

#define R1 "\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"r1a\": {}}}}"

static void test_refusals(void)
{
    char longpsk[200], longnames[400];
    memset(longpsk, 'x', 129);
    longpsk[129] = '\0';
    char pskcfg[400];
    snprintf(pskcfg, sizeof pskcfg, "{\"routers\": {\"R1\": {\"psk\": \"%s\", \"nodes\": {\"a\": {}}}}}", longpsk);
    snprintf(longnames, sizeof longnames,
             "{\"routers\": {\"R%040d\": {\"psk\": \"p\", \"nodes\": {\"n%040d\": {}}}}}", 1, 1);
    const struct bad_case cases[] = {
        {COND_PRODUCTION, "{\"routers\": ", "line 1 column"},
        {COND_PRODUCTION, "{\n \"routers\": {}\n,}", "line 3 column"},
        {COND_PRODUCTION, "[1]", "top level must be a JSON object"},
        {COND_PRODUCTION, "{" R1 ", \"router\": {}}", "config: unknown key \"router\""},
        {COND_PRODUCTION, "{" R1 ", " R1 "}", "duplicate"},
        {COND_PRODUCTION, "{}", "config: \"routers\" is missing"},
        {COND_PRODUCTION, "{\"routers\": {}}", "routers: 1..20000 routers expected"},
        {COND_PRODUCTION, "{\"routers\": []}", "config: \"routers\" must be an object"},
        {COND_PRODUCTION, "{\"routers\": {\"R 1\": {}}}", "routers.R 1: a router name is"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"nodes\": {\"a\": {}}}}}", "routers.R1: \"psk\" is missing"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"\", \"nodes\": {\"a\": {}}}}}", "\"psk\" must be 1..128"},
        {COND_PRODUCTION, pskcfg, "routers.R1: \"psk\" must be 1..128 bytes"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": 5, \"nodes\": {\"a\": {}}}}}", "\"psk\" must be a string"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {}}}}", "routers.R1.nodes: 1..8 nodes"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"a\": {\"asset\": 1}}}}}",
         "routers.R1.nodes.a: unknown key \"asset\""},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"a\": {\"asset-id\": \"x y\"}}}}}",
         "routers.R1.nodes.a: \"asset-id\" is"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"a/b\": {}}}}}", "a node name is"},
        {COND_PRODUCTION, "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"a\": 1}}}}",
         "routers.R1.nodes.a: must be an object"},
        {COND_PRODUCTION, longnames, "is longer than 64 characters"},
        {COND_PRODUCTION,
         "{\"routers\": {\"A.b\": {\"psk\": \"p\", \"nodes\": {\"c\": {}}}, \"A\": {\"psk\": \"p\", \"nodes\": "
         "{\"b.c\": {}}}}}",
         "have the same identity A.b.c"},
        {COND_PRODUCTION, "{\"psk-ttl\": 0, " R1 "}", "config: \"psk-ttl\" must be an integer in 1..3600"},
        {COND_PRODUCTION, "{\"max-failures\": \"5\", " R1 "}", "\"max-failures\" must be an integer"},
        {COND_PRODUCTION, "{\"ca-cert\": \"x\", " R1 "}", "config: \"ca-cert\" is for --role staging only"},
        {COND_PRODUCTION, "{\"svr\": {}, " R1 "}", "\"svr\" is for --role staging only"},
        {COND_PRODUCTION, "{\"cert-days\": 5, " R1 "}", "\"cert-days\" is for --role staging only"},
        {COND_PRODUCTION, "{\"faults\": {\"stall\": 1}, " R1 "}", "faults: unknown key \"stall\""},
        {COND_PRODUCTION, "{\"faults\": {\"reject-secret\": 1}, " R1 "}", "\"reject-secret\" must be true or false"},
        {COND_PRODUCTION, "{\"faults\": {\"stall-ms\": 600001}, " R1 "}", "\"stall-ms\" must be an integer in 0..600000"},
        {COND_PRODUCTION, "{\"faults\": [], " R1 "}", "\"faults\" must be an object"},
        {COND_STAGING, "{" R1 "}", "config: \"ca-cert\" is missing"},
        {COND_STAGING, "{\"ca-cert\": \"a\", \"ca-key\": \"\", " R1 "}", "must name files"},
        {COND_STAGING, "{\"ca-cert\": \"a\", \"ca-key\": \"b\", " R1 "}", "config: \"production\" is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bad(&cases[i]);
}

/* tmpl with its "@PEM@" (if any) replaced by value. */
static void subst(char *out, size_t cap, const char *tmpl, const char *value)
{
    const char *at = strstr(tmpl, "@PEM@");
    if (!at)
        snprintf(out, cap, "%s", tmpl);
    else
        snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, value, at + 5);
}

/* Staging members, spliced into an otherwise valid staging config. */
static void test_staging_refusals(void)
{
    char text[16384];
    const char *head = "{\"ca-cert\": \"a\", \"ca-key\": \"b\", " R1 ", \"svr\": {\"hub\": \"h:1\", \"hub-name\": \"hub1\"}, ";
    struct {
        const char *production, *want;
    } cases[] = {
        {"{\"conductor\": [], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "production: \"conductor\" must be an array of 1..2"},
        {"{\"conductor\": [\"a\", \"b\", \"c\"], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "array of 1..2 addresses"},
        {"{\"conductor\": \"a\", \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "must be an array"},
        {"{\"conductor\": [1], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "production.conductor[0]: must be \"HOST[:PORT]\""},
        {"{\"conductor\": [\"a\", \"b:99999\"], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "production.conductor[1]"},
        {"{\"conductor\": [\"a b\"], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "production.conductor[0]"},
        {"{\"conductor\": [\"a:\"], \"psk\": \"p\", \"root-ca-pem\": @PEM@}", "production.conductor[0]"},
        {"{\"conductor\": [\"a\"], \"root-ca-pem\": @PEM@}", "production: \"psk\" is missing"},
        {"{\"conductor\": [\"a\"], \"psk\": \"p\", \"root-ca-pem\": \"junk\"}", "\"root-ca-pem\" is not a PEM"},
        {"{\"conductor\": [\"a\"], \"psk\": \"p\"}", "production: \"root-ca-pem\" is missing"},
        {"{\"conductor\": [\"a\"], \"psk\": \"p\", \"root-ca-pem\": @PEM@, \"x\": 1}", "production: unknown key \"x\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char prod[8192];
        subst(prod, sizeof prod, cases[i].production, pem_json());
        snprintf(text, sizeof text, "%s\"production\": %s}", head, prod);
        struct bad_case b = {COND_STAGING, text, cases[i].want};
        check_bad(&b);
    }
    char good_prod[8192];
    snprintf(good_prod, sizeof good_prod, "{\"conductor\": [\"a:930\"], \"psk\": \"p\", \"root-ca-pem\": %s}",
             pem_json());
    const char *svr_head = "{\"ca-cert\": \"a\", \"ca-key\": \"b\", " R1 ", \"production\": ";
    struct {
        const char *svr, *want;
    } svr_cases[] = {
        {"{\"hub\": \"198.18.7.10\", \"hub-name\": \"hub1\"}", "svr: \"hub\" must be \"HOST:PORT\""},
        {"{\"hub\": \"198.18.7.10:1280\", \"hub-name\": \"hub 1\"}", "svr: \"hub-name\" is"},
        {"{\"hub\": \"198.18.7.10:1280\"}", "svr: \"hub-name\" is missing"},
        {"{\"hub\": \"h:1\", \"hub-name\": \"a\", \"peer\": 1}", "svr: unknown key \"peer\""},
    };
    for (size_t i = 0; i < sizeof svr_cases / sizeof svr_cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s, \"svr\": %s}", svr_head, good_prod, svr_cases[i].svr);
        struct bad_case b = {COND_STAGING, text, svr_cases[i].want};
        check_bad(&b);
    }
    snprintf(text, sizeof text, "%s%s}", svr_head, good_prod);
    struct bad_case b = {COND_STAGING, text, "config: \"svr\" is missing"};
    check_bad(&b);
}

static void test_free_pem(void)
{
    free(g_pem_json);
    g_pem_json = NULL;
    CU_PASS("freed");
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"staging config: values", test_staging},
        {"production config: defaults, role names", test_production_defaults},
        {"refusals name the member or line", test_refusals},
        {"staging-only members: production, svr", test_staging_refusals},
        {"teardown", test_free_pem},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"conductor config", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
