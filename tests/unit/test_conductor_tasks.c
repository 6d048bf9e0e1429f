/* mock-conductor's task engine and inventory (mocks/conductor/inventory.c): the staging tasks come in
 * order, each until acked ok; a CSR is taken only during generate-key, which is acked only after a
 * certificate was issued; states only move forward (pending -> onboarding -> certified -> migrated;
 * production pending -> connected); the task bodies; the inventory JSON round-trips through the
 * --state file, and a bad state file changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "inventory.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

/* tests/unit/data/conductor-staging.json (R1: r1a with asset SSR-0001, r1b; production, svr), or a
 * production config with the given routers. */
static void load(enum cond_role role, const char *routers, struct cond_config *c)
{
    char text[4096], err[256], *buf = NULL;
    size_t len;
    if (role == COND_STAGING) {
        CU_ASSERT_EQUAL_FATAL(read_file_max(ZTP_TEST_DATA "/conductor-staging.json", 1 << 16, &buf, &len), 0);
    } else {
        snprintf(text, sizeof text, "{\"routers\": %s}", routers);
        buf = strdup(text);
        len = strlen(buf);
    }
    int rc = cond_config_parse(buf, len, role, c, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err);
    free(buf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

#define ROUTERS "{\"R1\": {\"psk\": \"s\", \"nodes\": {\"r1a\": {\"asset-id\": \"SSR-0001\"}, \"r1b\": {}}}}"

static void test_staging_sequence(void)
{
    struct cond_config c;
    struct inventory inv = {0};
    enum cond_task next;
    load(COND_STAGING, ROUTERS, &c);
    ZTP_ASSERT_EQ_INT(inv_sync(&inv, &c), 0);
    ZTP_ASSERT_EQ_INT(inv.n, 2);
    struct inv_node *n = inv_find(&inv, "R1", "r1a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_PTR_EQUAL(inv_find_identity(&inv, "R1.r1a"), n);
    ZTP_ASSERT_EQ_INT(n->state, NS_PENDING);
    ZTP_ASSERT_EQ_STR(n->asset_id, "SSR-0001");
    ZTP_ASSERT_EQ_INT(inv_task(&inv, n), TASK_PRODUCTION);
    CU_ASSERT_TRUE(inv_authenticated(&inv, n, 1000));
    ZTP_ASSERT_EQ_INT(n->state, NS_ONBOARDING);
    ZTP_ASSERT_EQ_INT(n->updated, 1000);
    CU_ASSERT_FALSE(inv_authenticated(&inv, n, 1001));   /* again: no transition */
    /* 1. production */
    CU_ASSERT_FALSE(inv_csr_allowed(&inv, n));
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_GENERATE_KEY, true, 1002, &next), ACK_UNEXPECTED);
    ZTP_ASSERT_EQ_INT(next, TASK_PRODUCTION);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_PRODUCTION, false, 1002, &next), ACK_RETRY);
    ZTP_ASSERT_EQ_INT(next, TASK_PRODUCTION);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_PRODUCTION, true, 1003, &next), ACK_ADVANCED);
    ZTP_ASSERT_EQ_INT(next, TASK_GENERATE_KEY);
    ZTP_ASSERT_EQ_INT(n->updated, 1003);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_PRODUCTION, true, 1004, &next), ACK_REPEATED);   /* lost answer */
    ZTP_ASSERT_EQ_INT(next, TASK_GENERATE_KEY);
    /* 2. generate-key: CSR, then ack */
    CU_ASSERT_TRUE(inv_csr_allowed(&inv, n));
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_GENERATE_KEY, true, 1005, &next), ACK_NO_CERT);
    ZTP_ASSERT_EQ_INT(n->state, NS_ONBOARDING);
    inv_certified(&inv, n, "4F00AA", 1006);
    ZTP_ASSERT_EQ_INT(n->state, NS_CERTIFIED);
    ZTP_ASSERT_EQ_STR(n->serial, "4F00AA");
    inv_certified(&inv, n, "4F00AB", 1007);   /* a re-issue replaces the serial, state stays */
    ZTP_ASSERT_EQ_STR(n->serial, "4F00AB");
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_GENERATE_KEY, true, 1008, &next), ACK_ADVANCED);
    ZTP_ASSERT_EQ_INT(next, TASK_SVR_CONFIG);
    CU_ASSERT_FALSE(inv_csr_allowed(&inv, n));
    /* 3. svr-config (a failure repeats it), 4. migrate */
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_SVR_CONFIG, false, 1009, &next), ACK_RETRY);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_MIGRATE, true, 1009, &next), ACK_UNEXPECTED);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_SVR_CONFIG, true, 1010, &next), ACK_ADVANCED);
    ZTP_ASSERT_EQ_INT(next, TASK_MIGRATE);
    ZTP_ASSERT_EQ_INT(n->state, NS_CERTIFIED);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_MIGRATE, true, 1011, &next), ACK_ADVANCED);
    ZTP_ASSERT_EQ_INT(next, TASK_NONE);
    ZTP_ASSERT_EQ_INT(n->state, NS_MIGRATED);
    /* 5. none, forever */
    ZTP_ASSERT_EQ_INT(inv_task(&inv, n), TASK_NONE);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_NONE, true, 1012, &next), ACK_UNEXPECTED);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_MIGRATE, true, 1012, &next), ACK_REPEATED);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_HEARTBEAT, true, 1012, &next), ACK_UNEXPECTED);   /* staging */
    CU_ASSERT_FALSE(inv_authenticated(&inv, n, 1013));   /* never back to onboarding */
    ZTP_ASSERT_EQ_INT(n->state, NS_MIGRATED);
    /* the other node was not touched */
    struct inv_node *b = inv_find(&inv, "R1", "r1b");
    ZTP_ASSERT_EQ_INT(b->state, NS_PENDING);
    ZTP_ASSERT_EQ_INT(b->task, TASK_PRODUCTION);
    CU_ASSERT_PTR_NULL(inv_find(&inv, "R1", "r1c"));
    inv_free(&inv);
    cond_config_free(&c);
}

static void test_production(void)
{
    struct cond_config c;
    struct inventory inv = {0};
    enum cond_task next;
    load(COND_PRODUCTION, ROUTERS, &c);
    inv_sync(&inv, &c);
    struct inv_node *n = inv_find(&inv, "R1", "r1a");
    ZTP_ASSERT_EQ_INT(inv_task(&inv, n), TASK_NONE);
    CU_ASSERT_FALSE(inv_csr_allowed(&inv, n));
    CU_ASSERT_FALSE(inv_transition(&inv, n, NS_ONBOARDING, 5));   /* no such edge on production */
    CU_ASSERT_TRUE(inv_authenticated(&inv, n, 10));
    ZTP_ASSERT_EQ_INT(n->state, NS_CONNECTED);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_HEARTBEAT, true, 15, &next), ACK_HEARTBEAT);
    ZTP_ASSERT_EQ_INT(next, TASK_NONE);
    ZTP_ASSERT_EQ_INT(n->updated, 15);
    ZTP_ASSERT_EQ_INT(inv_ack(&inv, n, TASK_PRODUCTION, true, 16, &next), ACK_UNEXPECTED);
    inv_free(&inv);
    cond_config_free(&c);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static void expect_json(json_t *j, const char *want)
{
    char *s = dump(j);
    ZTP_ASSERT_EQ_STR(s, want);
    free(s);
}

static void test_task_bodies(void)
{
    struct cond_config c;
    struct inventory inv = {0};
    load(COND_STAGING, ROUTERS, &c);
    inv_sync(&inv, &c);
    struct inv_node *n = inv_find(&inv, "R1", "r1a");
    json_t *p = inv_task_json(&c, n, TASK_PRODUCTION);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(p, "task")), "production");
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(p, "psk")), "prod");
    ZTP_ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(p, "conductor"), 0)), "198.18.6.10:930");
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(p, "root-ca-pem")), "BEGIN CERTIFICATE"));
    json_decref(p);
    expect_json(inv_task_json(&c, n, TASK_GENERATE_KEY),
                "{\"identity\":\"R1.r1a\",\"key-type\":\"ec-p256\",\"task\":\"generate-key\"}");
    expect_json(inv_task_json(&c, n, TASK_SVR_CONFIG),
                "{\"svr\":{\"hub\":\"198.18.7.10:1280\",\"hub-name\":\"hub1\",\"identity\":\"R1.r1a\",\"node\":\"r1a\","
                "\"router\":\"R1\"},\"task\":\"svr-config\"}");
    expect_json(inv_task_json(&c, n, TASK_MIGRATE), "{\"conductor\":[\"198.18.6.10:930\"],\"task\":\"migrate\"}");
    expect_json(inv_task_json(&c, n, TASK_NONE), "{\"task\":\"none\"}");
    inv_free(&inv);
    cond_config_free(&c);
}

static void test_inventory_json_round_trip(void)
{
    struct cond_config c;
    struct inventory inv = {0}, back = {0};
    enum cond_task next;
    load(COND_STAGING, ROUTERS, &c);
    inv_sync(&inv, &c);
    struct inv_node *n = inv_find(&inv, "R1", "r1a");
    inv_authenticated(&inv, n, 1767225600);   /* 2026-01-01T00:00:00Z */
    inv_ack(&inv, n, TASK_PRODUCTION, true, 1767225600, &next);
    inv_certified(&inv, n, "7FAB", 1767225601);
    char *text = dump(inv_to_json(&inv));
    ZTP_ASSERT_EQ_STR(text, "{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{"
                            "\"r1a\":{\"asset-id\":\"SSR-0001\",\"identity\":\"R1.r1a\",\"serial\":\"7FAB\","
                            "\"state\":\"certified\",\"task\":\"generate-key\",\"updated\":\"2026-01-01T00:00:01Z\"},"
                            "\"r1b\":{\"asset-id\":null,\"identity\":\"R1.r1b\",\"serial\":null,\"state\":\"pending\","
                            "\"task\":\"production\",\"updated\":null}}}}}");
    /* a restart: the same config, then the state file */
    inv_sync(&back, &c);
    size_t restored, dropped;
    char err[256];
    ZTP_ASSERT_EQ_INT(inv_restore(&back, text, strlen(text), &restored, &dropped, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(restored, 2);
    ZTP_ASSERT_EQ_INT(dropped, 0);
    char *again = dump(inv_to_json(&back));
    ZTP_ASSERT_EQ_STR(again, text);
    free(again);
    struct inv_node *b = inv_find(&back, "R1", "r1a");
    ZTP_ASSERT_EQ_INT(b->updated, 1767225601);
    ZTP_ASSERT_EQ_INT(inv_ack(&back, b, TASK_GENERATE_KEY, true, 1767225700, &next), ACK_ADVANCED);   /* resumes */
    free(text);
    inv_free(&back);
    inv_free(&inv);
    cond_config_free(&c);
}

static void test_restore_refusals(void)
{
    struct cond_config c;
    struct inventory inv = {0};
    size_t restored, dropped;
    char err[256];
    load(COND_STAGING, ROUTERS, &c);
    inv_sync(&inv, &c);
    struct {
        const char *text, *want;
    } cases[] = {
        {"{\"role\":\"production\",\"routers\":{}}", "state: written by a production conductor, this one is staging"},
        {"{\"role\":\"staging\"}", "state: \"routers\" must be an object"},
        {"{\"role\":\"staging\",\"routers\":{},\"x\":1}", "state: unknown key \"x\""},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"connected\"}}}}}",
         "state.routers.R1.nodes.r1a: \"state\" connected is not a staging state"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"bogus\"}}}}}", "is not a staging state"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"pending\",\"task\":\"heartbeat\"}}}}}",
         "unknown \"task\" heartbeat"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"pending\",\"serial\":\"7fab\"}}}}}",
         "\"serial\" must be 1..40 upper-case hex digits"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"pending\",\"updated\":\"yesterday\"}}}}}",
         "\"updated\" must be YYYY-MM-DDTHH:MM:SSZ"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"pending\",\"identity\":\"R1.r1b\"}}}}}",
         "\"identity\" R1.r1b is not R1.r1a"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"pending\",\"psk\":\"x\"}}}}}",
         "unknown key \"psk\""},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":[]}}}", "state.routers.R1: \"nodes\" must be an object"},
        {"{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"migrated\"}}},\"R1\":{}}}",
         "duplicate"},
        {"{\"role\":", "line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        int rc = inv_restore(&inv, cases[i].text, strlen(cases[i].text), &restored, &dropped, err, sizeof err);
        if (rc == 0 || !strstr(err, cases[i].want))
            fprintf(stderr, "\n  %s -> %d \"%s\", want \"%s\"\n", cases[i].text, rc, err, cases[i].want);
        ZTP_ASSERT_EQ_INT(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
    }
    /* a refusal after a good node leaves that node unchanged too */
    const char *half = "{\"role\":\"staging\",\"routers\":{\"R1\":{\"nodes\":{\"r1a\":{\"state\":\"migrated\"},"
                       "\"r1b\":{\"state\":\"bogus\"}}}}}";
    ZTP_ASSERT_EQ_INT(inv_restore(&inv, half, strlen(half), &restored, &dropped, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(inv_find(&inv, "R1", "r1a")->state, NS_PENDING);
    /* nodes no longer configured are dropped, not refused */
    const char *extra = "{\"role\":\"staging\",\"routers\":{\"R9\":{\"nodes\":{\"r9a\":{\"state\":\"migrated\"}}},"
                        "\"R1\":{\"nodes\":{\"r1b\":{\"state\":\"onboarding\",\"task\":\"svr-config\"}}}}}";
    ZTP_ASSERT_EQ_INT(inv_restore(&inv, extra, strlen(extra), &restored, &dropped, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(restored, 1);
    ZTP_ASSERT_EQ_INT(dropped, 1);
    ZTP_ASSERT_EQ_INT(inv_find(&inv, "R1", "r1b")->task, TASK_SVR_CONFIG);
    inv_free(&inv);
    cond_config_free(&c);
}

static void test_sync_keeps_state(void)
{
    struct cond_config c, c2;
    struct inventory inv = {0};
    load(COND_PRODUCTION, ROUTERS, &c);
    inv_sync(&inv, &c);
    inv_authenticated(&inv, inv_find(&inv, "R1", "r1a"), 50);
    /* the reloaded config drops r1b and adds R2/r2a */
    load(COND_PRODUCTION,
         "{\"R1\": {\"psk\": \"s\", \"nodes\": {\"r1a\": {}}}, \"R2\": {\"psk\": \"t\", \"nodes\": {\"r2a\": {}}}}", &c2);
    ZTP_ASSERT_EQ_INT(inv_sync(&inv, &c2), 1);
    ZTP_ASSERT_EQ_INT(inv.n, 2);
    ZTP_ASSERT_EQ_INT(inv_find(&inv, "R1", "r1a")->state, NS_CONNECTED);
    ZTP_ASSERT_EQ_STR(inv_find(&inv, "R1", "r1a")->asset_id, "");   /* the config is the authority */
    ZTP_ASSERT_EQ_INT(inv_find(&inv, "R2", "r2a")->state, NS_PENDING);
    CU_ASSERT_PTR_NULL(inv_find(&inv, "R1", "r1b"));
    inv_free(&inv);
    cond_config_free(&c2);
    cond_config_free(&c);
}

int main(void)
{
    log_set_stream(fopen("/dev/null", "w"));   /* router.state lines */
    static const struct ztp_test tests[] = {
        {"staging: tasks in order, acks, CSR window, states", test_staging_sequence},
        {"production: none, connected, heartbeat", test_production},
        {"task bodies", test_task_bodies},
        {"inventory JSON -> state file -> restore", test_inventory_json_round_trip},
        {"bad state files change nothing", test_restore_refusals},
        {"config reload keeps the inventory", test_sync_keeps_state},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"conductor tasks", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
