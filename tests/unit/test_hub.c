/* mock-hub's pure part (mocks/hub/hubcore.c, ident.c): the configuration and each of its errors; the
 * hello line (good, and every way it can be malformed, never read past len); the peering decision
 * for every refusal reason and their order; keepalive lines; the exact answer bytes; the state file
 * body; the listen address; the certificate identity and check through common/pki.c with
 * certificates issued the way the conductor issues them. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "hubcore.h"
#include "ident.h"
#include "ztp/pki.h"

static const char good_cfg[] = "{\"hub-name\": \"hub1\", \"peers\": {"
                               "\"R1.r1a\": {\"router\": \"R1\", \"node\": \"r1a\"},"
                               "\"R1.r1b\": {\"router\": \"R1\", \"node\": \"r1b\"},"
                               "\"R1.x.y\": {\"router\": \"R1\", \"node\": \"x.y\"}}}";

static int parse_cfg(const char *s, struct hub_config *c, char *err, size_t cap)
{
    return hub_config_parse(s, strlen(s), c, err, cap);
}

/* ---- configuration ---- */

static void test_config_good(void)
{
    struct hub_config c = {0};
    char err[300] = "";
    ZTP_ASSERT_EQ_INT(parse_cfg(good_cfg, &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(c.hub_name, "hub1");
    ZTP_ASSERT_EQ_INT(c.n_peers, 3);
    ZTP_ASSERT_EQ_INT(c.idle_timeout, HUB_DEFAULT_IDLE);
    ZTP_ASSERT_EQ_INT(c.hello_timeout, HUB_DEFAULT_HELLO);
    ZTP_ASSERT_EQ_INT(c.max_connections, HUB_DEFAULT_MAX_CONN);
    const struct hub_peer *p = hub_config_find(&c, "R1", "r1b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ZTP_ASSERT_EQ_STR(p->identity, "R1.r1b");
    CU_ASSERT_PTR_NULL(hub_config_find(&c, "R1", "r1c"));
    CU_ASSERT_PTR_NULL(hub_config_find(&c, "R1.x", "y"));   /* same identity, other split */
    CU_ASSERT_PTR_EQUAL(hub_config_find_identity(&c, "R1.x.y"), hub_config_find(&c, "R1", "x.y"));
    hub_config_free(&c);

    ZTP_ASSERT_EQ_INT(parse_cfg("{\"hub-name\":\"h\",\"peers\":{},\"idle-timeout\":5,\"hello-timeout\":2,"
                                "\"max-connections\":7}",
                                &c, err, sizeof err),
                      0);
    ZTP_ASSERT_EQ_INT(c.n_peers, 0);
    ZTP_ASSERT_EQ_INT(c.idle_timeout, 5);
    ZTP_ASSERT_EQ_INT(c.hello_timeout, 2);
    ZTP_ASSERT_EQ_INT(c.max_connections, 7);
    hub_config_free(&c);
}

static void test_config_errors(void)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"", "config: "},
        {"[]", "config: not a JSON object"},
        {"{\"hub-name\":\"hub1\",\"peers\":{}} x", "config: end of file expected"},
        {"{\"hub-name\":\"hub1\",\"hub-name\":\"hub2\",\"peers\":{}}", "duplicate object key"},
        {"{\"hub-name\":\"hub1\",\"peers\":{},\"idle\":3}", "config: unknown key \"idle\""},
        {"{\"peers\":{}}", "config: missing \"hub-name\""},
        {"{\"hub-name\":\"hub 1\",\"peers\":{}}", "config: \"hub-name\" is not a name"},
        {"{\"hub-name\":7,\"peers\":{}}", "config: \"hub-name\" is not a string"},
        {"{\"hub-name\":\"hub1\"}", "config: missing \"peers\""},
        {"{\"hub-name\":\"hub1\",\"peers\":[]}", "config: \"peers\" is not an object"},
        {"{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":1}}", "peers.R1.r1a: not an object"},
        {"{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":{\"router\":\"R1\"}}}", "peers.R1.r1a: missing \"node\""},
        {"{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":{\"router\":\"R1\",\"node\":\"r1a\",\"psk\":\"x\"}}}",
         "peers.R1.r1a: unknown key \"psk\""},
        {"{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":{\"router\":\"R1\",\"node\":\"r1b\"}}}",
         "peers.R1.r1a: the key must be the identity ROUTER.NODE (R1.r1b)"},
        {"{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":{\"router\":\"R/1\",\"node\":\"r1a\"}}}",
         "peers.R1.r1a: \"router\" is not a name"},
        {"{\"hub-name\":\"hub1\",\"peers\":{},\"idle-timeout\":0}", "config: \"idle-timeout\" must be an integer in 1..86400"},
        {"{\"hub-name\":\"hub1\",\"peers\":{},\"hello-timeout\":301}", "config: \"hello-timeout\" must be"},
        {"{\"hub-name\":\"hub1\",\"peers\":{},\"max-connections\":\"9\"}", "config: \"max-connections\" must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hub_config c = {0};
        char err[300] = "";
        /* A config already loaded stays as it was when the new one is refused (SIGHUP keeps it). */
        CU_ASSERT_EQUAL_FATAL(parse_cfg(good_cfg, &c, err, sizeof err), 0);
        int rc = parse_cfg(bad[i].json, &c, err, sizeof err);
        if (rc != -1 || !strstr(err, bad[i].want))
            fprintf(stderr, "\n  config %s: rc %d err \"%s\", want \"%s\"\n", bad[i].json, rc, err, bad[i].want);
        ZTP_ASSERT_EQ_INT(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].want));
        ZTP_ASSERT_EQ_INT(c.n_peers, 3);
        ZTP_ASSERT_EQ_STR(c.hub_name, "hub1");
        hub_config_free(&c);
    }
    struct hub_config c = {0};
    char err[300];
    ZTP_ASSERT_EQ_INT(hub_config_load("/nonexistent/hub.json", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

/* ---- hello ---- */

static int hello(const char *s, struct hub_hello *h, char *err, size_t cap)
{
    return hub_hello_parse(s, strlen(s), h, err, cap);
}

static void test_hello_good(void)
{
    struct hub_hello h;
    char err[300] = "";
    ZTP_ASSERT_EQ_INT(hello("{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", &h, err,
                            sizeof err),
                      0);
    ZTP_ASSERT_EQ_STR(h.router, "R1");
    ZTP_ASSERT_EQ_STR(h.node, "r1a");
    ZTP_ASSERT_EQ_STR(h.hub, "hub1");
    /* Member order, whitespace and one trailing CR do not matter. */
    ZTP_ASSERT_EQ_INT(hello(" { \"hub\" : \"hub1\", \"node\":\"r1a\",\"router\":\"R1\",\"hello\":\"svr\" } \r", &h, err,
                            sizeof err),
                      0);
    ZTP_ASSERT_EQ_STR(h.node, "r1a");
    /* Only len bytes are read: the buffer goes on with garbage. */
    const char buf[] = "{\"hello\":\"svr\",\"router\":\"R2\",\"node\":\"n\",\"hub\":\"h\"}GARBAGE";
    ZTP_ASSERT_EQ_INT(hub_hello_parse(buf, sizeof buf - 1 - 7, &h, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(h.router, "R2");
    /* The longest names (63 characters). */
    char line[HUB_LINE_MAX + 64], n63[64];
    memset(n63, 'a', 63);
    n63[63] = '\0';
    snprintf(line, sizeof line, "{\"hello\":\"svr\",\"router\":\"%s\",\"node\":\"%s\",\"hub\":\"%s\"}", n63, n63, n63);
    ZTP_ASSERT_EQ_INT(hello(line, &h, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(strlen(h.node), 63);
}

static void test_hello_bad(void)
{
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"", "hello: empty line"},
        {"\r", "hello: empty line"},
        {"garbage", "hello: "},
        {"[\"svr\"]", "hello: not a JSON object"},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"} {}", "hello: end of file expected"},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\",\"x\":1}", "hello: unknown key \"x\""},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"router\":\"R2\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "duplicate"},
        {"{\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "hello: missing \"hello\""},
        {"{\"hello\":\"bgp\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "\"hello\" is not \"svr\""},
        {"{\"hello\":\"svr\\u0000\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "hello: "},
        {"{\"hello\":1,\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "\"hello\" is not \"svr\""},
        {"{\"hello\":\"svr\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "hello: missing \"router\""},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"hub\":\"hub1\"}", "hello: missing \"node\""},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\"}", "hello: missing \"hub\""},
        {"{\"hello\":\"svr\",\"router\":[],\"node\":\"r1a\",\"hub\":\"hub1\"}", "\"router\" is not a string"},
        {"{\"hello\":\"svr\",\"router\":\"R 1\",\"node\":\"r1a\",\"hub\":\"hub1\"}", "\"router\" is not a name"},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"\",\"hub\":\"hub1\"}", "\"node\" is not a name"},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"h\\\"b\"}", "\"hub\" is not a name"},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r\\u0000a\",\"hub\":\"hub1\"}", "hello: "},
        {"{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1\u00e9\",\"hub\":\"hub1\"}", "\"node\" is not a name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hub_hello h;
        char err[300] = "";
        int rc = hello(bad[i].line, &h, err, sizeof err);
        if (rc != -1 || !strstr(err, bad[i].want))
            fprintf(stderr, "\n  hello %s: rc %d err \"%s\", want \"%s\"\n", bad[i].line, rc, err, bad[i].want);
        ZTP_ASSERT_EQ_INT(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].want));
    }
    /* A raw NUL byte inside the line, a name of 64 characters, a line over 1024 bytes. */
    struct hub_hello h;
    char err[300];
    const char nul[] = "{\"hello\":\"svr\",\"router\":\"R1\0\",\"node\":\"r1a\",\"hub\":\"hub1\"}";
    ZTP_ASSERT_EQ_INT(hub_hello_parse(nul, sizeof nul - 1, &h, err, sizeof err), -1);
    char line[2 * HUB_LINE_MAX], n64[65];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    snprintf(line, sizeof line, "{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"%s\",\"hub\":\"hub1\"}", n64);
    ZTP_ASSERT_EQ_INT(hello(line, &h, err, sizeof err), -1);
    int n = snprintf(line, sizeof line, "{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}");
    memset(line + n, ' ', HUB_LINE_MAX + 1 - (size_t)n);   /* valid JSON, but 1025 bytes */
    ZTP_ASSERT_EQ_INT(hub_hello_parse(line, HUB_LINE_MAX + 1, &h, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than 1024"));
    ZTP_ASSERT_EQ_INT(hub_hello_parse(line, HUB_LINE_MAX, &h, err, sizeof err), 0);   /* 1024: fine */
}

/* ---- the decision ---- */

static enum hub_reason decide(const struct hub_config *c, const char *cert_id, const char *router, const char *node,
                              const char *hub, const struct hub_peer **p, char *detail, size_t cap)
{
    struct hub_hello h;
    snprintf(h.router, sizeof h.router, "%s", router);
    snprintf(h.node, sizeof h.node, "%s", node);
    snprintf(h.hub, sizeof h.hub, "%s", hub);
    return hub_decide(c, cert_id, &h, p, detail, cap);
}

static void test_decide(void)
{
    struct hub_config c = {0};
    const struct hub_peer *p = NULL;
    char err[300], d[300];
    CU_ASSERT_EQUAL_FATAL(parse_cfg(good_cfg, &c, err, sizeof err), 0);

    ZTP_ASSERT_EQ_INT(decide(&c, "R1.r1a", "R1", "r1a", "hub1", &p, d, sizeof d), HUB_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ZTP_ASSERT_EQ_STR(p->identity, "R1.r1a");
    ZTP_ASSERT_EQ_INT(decide(&c, "R1.x.y", "R1", "x.y", "hub1", &p, d, sizeof d), HUB_OK);

    ZTP_ASSERT_EQ_INT(decide(&c, NULL, "R1", "r1a", "hub1", &p, d, sizeof d), HUB_R_NO_IDENTITY);
    CU_ASSERT_PTR_NULL(p);
    ZTP_ASSERT_EQ_INT(decide(&c, "", "R1", "r1a", "hub1", &p, d, sizeof d), HUB_R_NO_IDENTITY);

    ZTP_ASSERT_EQ_INT(decide(&c, "R1.r1a", "R1", "r1b", "hub1", &p, d, sizeof d), HUB_R_IDENTITY_MISMATCH);
    ZTP_ASSERT_EQ_STR(d, "the certificate names R1.r1a, the hello router R1 node r1b");
    CU_ASSERT_PTR_NULL(p);
    ZTP_ASSERT_EQ_INT(decide(&c, "r1.r1a", "R1", "r1a", "hub1", &p, d, sizeof d), HUB_R_IDENTITY_MISMATCH);   /* case */

    ZTP_ASSERT_EQ_INT(decide(&c, "R2.r2a", "R2", "r2a", "hub1", &p, d, sizeof d), HUB_R_UNKNOWN_PEER);
    ZTP_ASSERT_EQ_STR(d, "router R2 node r2a is not a configured peer");
    /* Same identity string, another router/node split than the configured one. */
    ZTP_ASSERT_EQ_INT(decide(&c, "R1.x.y", "R1.x", "y", "hub1", &p, d, sizeof d), HUB_R_UNKNOWN_PEER);

    ZTP_ASSERT_EQ_INT(decide(&c, "R1.r1a", "R1", "r1a", "hub2", &p, d, sizeof d), HUB_R_WRONG_HUB);
    ZTP_ASSERT_EQ_STR(d, "the hello names hub hub2, this is hub1");
    CU_ASSERT_PTR_NULL(p);

    /* Order: the certificate before the configuration before the hub name. */
    ZTP_ASSERT_EQ_INT(decide(&c, "R2.r2a", "R1", "r1a", "hub2", &p, d, sizeof d), HUB_R_IDENTITY_MISMATCH);
    ZTP_ASSERT_EQ_INT(decide(&c, "R2.r2a", "R2", "r2a", "hub2", &p, d, sizeof d), HUB_R_UNKNOWN_PEER);
    hub_config_free(&c);
}

/* ---- lines after peering, answers ---- */

static void test_keepalive(void)
{
    long long n = -1;
    char err[300];
    ZTP_ASSERT_EQ_INT(hub_keepalive_parse("{\"keepalive\":7}", 15, &n, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(n, 7);
    ZTP_ASSERT_EQ_INT(hub_keepalive_parse("{ \"keepalive\" : 0 }\r", 20, &n, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(n, 0);
    ZTP_ASSERT_EQ_INT(hub_keepalive_parse("{\"keepalive\":9007199254740993}", 30, &n, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(n, 9007199254740993LL);
    static const char *const bad[] = {
        "", "x", "{}", "{\"keepalive\":-1}", "{\"keepalive\":1.5}", "{\"keepalive\":\"1\"}",
        "{\"keepalive\":1,\"x\":2}", "{\"keepalive\":1,\"keepalive\":2}", "[1]", "{\"keepalive\":01}",
        "{\"hello\":\"svr\",\"router\":\"R1\",\"node\":\"r1a\",\"hub\":\"hub1\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = hub_keepalive_parse(bad[i], strlen(bad[i]), &n, err, sizeof err);
        if (rc != -1)
            fprintf(stderr, "\n  keepalive %s accepted\n", bad[i]);
        ZTP_ASSERT_EQ_INT(rc, -1);
    }
}

static void test_answers(void)
{
    char out[256];
    ZTP_ASSERT_EQ_INT(hub_answer_peered("hub1", "R1.r1a", out, sizeof out), 49);
    ZTP_ASSERT_EQ_STR(out, "{\"result\":\"peered\",\"hub\":\"hub1\",\"peer\":\"R1.r1a\"}\n");
    ZTP_ASSERT_EQ_INT(hub_answer_keepalive(42, out, sizeof out), 17);
    ZTP_ASSERT_EQ_STR(out, "{\"keepalive\":42}\n");
    hub_answer_refused(HUB_R_WRONG_HUB, out, sizeof out);
    ZTP_ASSERT_EQ_STR(out, "{\"result\":\"refused\",\"reason\":\"wrong-hub\"}\n");
    ZTP_ASSERT_EQ_INT(hub_answer_peered("hub1", "R1.r1a", out, 49), -1);   /* no room for the NUL */
    /* Every reason has its own name. */
    for (int i = 0; i < HUB_REASON_COUNT; i++) {
        CU_ASSERT_STRING_NOT_EQUAL(hub_reason_name((enum hub_reason)i), "?");
        for (int j = 0; j < i; j++)
            CU_ASSERT_STRING_NOT_EQUAL(hub_reason_name((enum hub_reason)i), hub_reason_name((enum hub_reason)j));
        CU_ASSERT(hub_answer_refused((enum hub_reason)i, out, sizeof out) > 0);
    }
    ZTP_ASSERT_EQ_STR(hub_reason_name(HUB_REASON_COUNT), "?");
    ZTP_ASSERT_EQ_STR(hub_reason_name(HUB_R_IDENTITY_MISMATCH), "identity-mismatch");
    ZTP_ASSERT_EQ_STR(hub_reason_name(HUB_R_UNKNOWN_PEER), "unknown-peer");
}

/* ---- state file ---- */

static void test_state_json(void)
{
    struct hub_peer_status p[2] = {
        {.identity = "R1.r1a", .state = HUB_PEER_PEERED, .since = 1795441201, .addr = "198.18.7.20:40000"},
        {.identity = "R1.r1b", .state = HUB_PEER_DOWN, .since = 0, .addr = ""},
    };
    char iso[32];
    ZTP_ASSERT_EQ_STR(hub_iso_time(0, iso, sizeof iso), "1970-01-01T00:00:00Z");
    char *s = hub_state_json("hub1", p, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    const char *hub = NULL, *st1 = NULL, *since1 = NULL, *addr1 = NULL, *st2 = NULL;
    json_t *addr2 = NULL;
    ZTP_ASSERT_EQ_INT(json_unpack(j, "{s:s, s:{s:{s:s, s:s, s:s}, s:{s:s, s?o}}}", "hub", &hub, "peers", "R1.r1a",
                                  "state", &st1, "since", &since1, "addr", &addr1, "R1.r1b", "state", &st2, "addr",
                                  &addr2),
                      0);
    ZTP_ASSERT_EQ_STR(hub, "hub1");
    ZTP_ASSERT_EQ_STR(st1, "peered");
    ZTP_ASSERT_EQ_STR(since1, hub_iso_time(1795441201, iso, sizeof iso));
    ZTP_ASSERT_EQ_STR(addr1, "198.18.7.20:40000");
    ZTP_ASSERT_EQ_STR(st2, "down");
    CU_ASSERT_PTR_NULL(addr2);   /* never seen: no addr */
    json_decref(j);
    free(s);
    s = hub_state_json("hub1", NULL, 0);
    ZTP_ASSERT_EQ_STR(s, "{\n \"hub\": \"hub1\",\n \"peers\": {}\n}");
    free(s);
}

static void test_listen(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    ZTP_ASSERT_EQ_INT(hub_listen_parse("198.18.7.10:1281", &ss, &sl), 0);
    ZTP_ASSERT_EQ_INT(ss.ss_family, AF_INET);
    ZTP_ASSERT_EQ_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 1281);
    ZTP_ASSERT_EQ_INT(hub_listen_parse("198.18.7.10", &ss, &sl), 0);
    ZTP_ASSERT_EQ_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), HUB_DEFAULT_PORT);
    ZTP_ASSERT_EQ_INT(hub_listen_parse("[::1]:1282", &ss, &sl), 0);
    ZTP_ASSERT_EQ_INT(ss.ss_family, AF_INET6);
    ZTP_ASSERT_EQ_INT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 1282);
    ZTP_ASSERT_EQ_INT(hub_listen_parse("[::1]", &ss, &sl), 0);
    static const char *const bad[] = {"", ":1280", "198.18.7.10:", "198.18.7.10:0", "198.18.7.10:65536",
                                      "198.18.7.10:12x", "hub1:1280", "::1", "[::1", "[::1]x", "[]:1", "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ZTP_ASSERT_EQ_INT(hub_listen_parse(bad[i], &ss, &sl), -1);
}

/* ---- certificate identity and check through common/pki.c ---- */

static X509 *issue(X509 *ca, EVP_PKEY *ca_key, const char *router, const char *node)
{
    char *pem = NULL, err[200] = "", serial[41];
    size_t len;
    X509_REQ *req = NULL;
    EVP_PKEY *k = pki_key_generate();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, router, node, &pem, &len, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(pki_csr_check(pem, len, router, node, &req, err, sizeof err), 0);
    free(pem);
    CU_ASSERT_EQUAL_FATAL(
        pki_sign_csr(req, ca, ca_key, 2, router, node, &pem, &len, serial, sizeof serial, err, sizeof err), 0);
    X509 *x = pki_cert_parse(pem, len, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    free(pem);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return x;
}

static void test_cert_identity(void)
{
    X509 *ca, *other;
    EVP_PKEY *ca_key, *other_key;
    char err[300] = "", id[PKI_IDENTITY_MAX], *ca_pem, *other_pem;
    size_t ca_len, other_len;
    CU_ASSERT_EQUAL_FATAL(pki_ca_generate("ztp-lab conductor CA", 2, &ca, &ca_key, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(pki_ca_generate("another CA", 2, &other, &other_key, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(pki_cert_pem(ca, &ca_pem, &ca_len), 0);
    CU_ASSERT_EQUAL_FATAL(pki_cert_pem(other, &other_pem, &other_len), 0);
    X509 *r1a = issue(ca, ca_key, "R1", "r1a");

    ZTP_ASSERT_EQ_INT(hub_cert_identity(r1a, id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R1.r1a");
    ZTP_ASSERT_EQ_INT(hub_cert_identity(ca, id, sizeof id), 0);   /* a CN, but no router.node */
    ZTP_ASSERT_EQ_STR(id, "ztp-lab conductor CA");
    ZTP_ASSERT_EQ_INT(hub_cert_identity(r1a, id, 4), -1);         /* does not fit */
    ZTP_ASSERT_EQ_INT(hub_make_identity("R1", "r1a", id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R1.r1a");
    ZTP_ASSERT_EQ_INT(hub_make_identity("R1", "r 1", id, sizeof id), -1);

    ZTP_ASSERT_EQ_INT(hub_cert_check(r1a, ca_pem, ca_len, "R1", "r1a", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(hub_cert_check(r1a, ca_pem, ca_len, "R1", "r1b", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "r1b"));
    ZTP_ASSERT_EQ_INT(hub_cert_check(r1a, other_pem, other_len, "R1", "r1a", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not verify"));

    /* The decision with what the certificate names. */
    struct hub_config c = {0};
    const struct hub_peer *p;
    char d[300];
    CU_ASSERT_EQUAL_FATAL(parse_cfg(good_cfg, &c, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(hub_cert_identity(r1a, id, sizeof id), 0);
    ZTP_ASSERT_EQ_INT(decide(&c, id, "R1", "r1a", "hub1", &p, d, sizeof d), HUB_OK);
    hub_config_free(&c);

    X509_free(r1a);
    X509_free(ca);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    free(ca_pem);
    free(other_pem);
}

static const struct ztp_test config_tests[] = {
    {"good configs, defaults, lookups", test_config_good},
    {"every config error (the old config is kept)", test_config_errors},
    {NULL, NULL},
};
static const struct ztp_test hello_tests[] = {
    {"good hellos, bounded by len", test_hello_good},
    {"malformed hellos refused", test_hello_bad},
    {NULL, NULL},
};
static const struct ztp_test decide_tests[] = {
    {"every refusal reason and their order", test_decide},
    {"certificate identity and check (pki)", test_cert_identity},
    {NULL, NULL},
};
static const struct ztp_test wire_tests[] = {
    {"keepalive lines", test_keepalive},
    {"answer bytes, reason names", test_answers},
    {"state file body", test_state_json},
    {"listen address", test_listen},
    {NULL, NULL},
};

int main(void)
{
    static const struct ztp_suite suites[] = {
        {"hub config", config_tests}, {"hub hello", hello_tests}, {"hub decision", decide_tests},
        {"hub wire", wire_tests},     {NULL, NULL},
    };
    return ztp_cunit_run(suites);
}
