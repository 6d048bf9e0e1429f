/* Hardware Bootstrapper onboarding.json and the persisted onboarding state. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "onboarding.h"

static struct onboarding_info ob;
static char err[256];

static int parse(const char *text)
{
    err[0] = '\0';
    return onboarding_parse(text, strlen(text), &ob, err, sizeof err);
}

static uint32_t ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}

#define EXPECT_ERR(text, msg)               \
    do {                                    \
        ZTP_ASSERT_EQ_INT(parse(text), -1); \
        ZTP_ASSERT_EQ_STR(err, msg);        \
        CU_ASSERT_FALSE(ob.have_proxy);     \
    } while (0)

static void test_conductor_file(void)
{
    ZTP_ASSERT_EQ_INT(onboarding_load(ZTP_TEST_DATA "/onboarding-conductor.json", &ob, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(ob.name, "branch1");
    ZTP_ASSERT_EQ_INT(ob.mode, ONB_MODE_CONDUCTOR_MANAGED);
    ZTP_ASSERT_EQ_STR(onboarding_mode_name(ob.mode), "conductor-managed");
    ZTP_ASSERT_EQ_INT(ob.n_conductor_hosts, 2);
    ZTP_ASSERT_EQ_STR(ob.conductor_hosts[0], "198.18.100.10");
    ZTP_ASSERT_EQ_STR(ob.conductor_hosts[1], "198.18.100.11");
    ZTP_ASSERT_EQ_STR(ob.asset_id, "SSR-0001");
    ZTP_ASSERT_EQ_STR(ob.node_name, "nodeA");
    CU_ASSERT_TRUE(ob.have_proxy);
    ZTP_ASSERT_EQ_INT(ob.proxy_addr.s_addr, ip("198.18.50.8"));
    ZTP_ASSERT_EQ_INT(ob.proxy_port, 3128);
    ZTP_ASSERT_EQ_INT(ob.n_warnings, 0);
}

static void test_mist_file_unknown_fields(void)
{
    ZTP_ASSERT_EQ_INT(onboarding_load(ZTP_TEST_DATA "/onboarding-mist.json", &ob, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(ob.mode, ONB_MODE_MIST_MANAGED);
    ZTP_ASSERT_EQ_STR(onboarding_mode_name(ob.mode), "mist-managed");
    ZTP_ASSERT_EQ_STR(ob.registration_code, "not-a-real-code-0123456789");
    CU_ASSERT_TRUE(ob.have_proxy);
    ZTP_ASSERT_EQ_INT(ob.proxy_addr.s_addr, ip("198.18.50.9"));
    ZTP_ASSERT_EQ_INT(ob.proxy_port, 8080); /* port given as a string */
    ZTP_ASSERT_EQ_INT(ob.n_conductor_hosts, 0);
    /* unknown fields are reported, not fatal */
    ZTP_ASSERT_EQ_INT(ob.n_warnings, 2);
    ZTP_ASSERT_EQ_STR(ob.warnings[0], "unknown field \"proxy.user\"");
    ZTP_ASSERT_EQ_STR(ob.warnings[1], "unknown field \"ssh-key\"");
}

static void test_minimal_and_defaults(void)
{
    ZTP_ASSERT_EQ_INT(parse("{}"), 0);
    ZTP_ASSERT_EQ_INT(ob.mode, ONB_MODE_CONDUCTOR_MANAGED); /* default */
    CU_ASSERT_FALSE(ob.mode_set);
    CU_ASSERT_FALSE(ob.have_proxy);
    ZTP_ASSERT_EQ_INT(parse("{\"conductor-hosts\": \"198.18.100.10\"}"), 0);
    ZTP_ASSERT_EQ_INT(ob.n_conductor_hosts, 1);
    ZTP_ASSERT_EQ_STR(ob.conductor_hosts[0], "198.18.100.10");
    ZTP_ASSERT_EQ_INT(parse("{\"mode\": \"conductor-managed\", \"conductor-hosts\": []}"), 0);
    CU_ASSERT_TRUE(ob.mode_set);
    ZTP_ASSERT_EQ_INT(ob.n_conductor_hosts, 0);
}

static void test_product_cloud_init_file(void)
{
    /* the shape of the product's cloud-init example: members the lab does not use are accepted */
    ZTP_ASSERT_EQ_INT(parse("{\"name\": \"r1\", \"ssr-version\": \"6.3.0\", \"mode\": \"conductor-managed\","
                            " \"artifactory-user\": \"u\", \"artifactory-password\": \"p\","
                            " \"conductor-hosts\": [\"conductor.example.net\"], \"cloud-provider\": \"gcp\","
                            " \"download-timeout\": \"6h\", \"download-retries\": 3}"),
                      0);
    ZTP_ASSERT_EQ_INT(ob.n_warnings, 0);
    ZTP_ASSERT_EQ_STR(ob.conductor_hosts[0], "conductor.example.net");
    CU_ASSERT_FALSE(ob.have_proxy);
}

static void test_warning_overflow(void)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{");
    for (int i = 0; i < ONB_MAX_WARNINGS + 3; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"x%d\": 1", i ? "," : "", i);
    snprintf(buf + o, sizeof buf - o, "}");
    ZTP_ASSERT_EQ_INT(parse(buf), 0);
    ZTP_ASSERT_EQ_INT(ob.n_warnings, ONB_MAX_WARNINGS);
    ZTP_ASSERT_EQ_INT(ob.n_warnings_dropped, 3);
    /* a key with control bytes is shown escaped */
    ZTP_ASSERT_EQ_INT(parse("{\"a\\u0001b\": 1}"), 0);
    ZTP_ASSERT_EQ_STR(ob.warnings[0], "unknown field \"a\\x01b\"");
}

static void test_malformed(void)
{
    ZTP_ASSERT_EQ_INT(onboarding_load(ZTP_TEST_DATA "/onboarding-bad.json", &ob, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, ZTP_TEST_DATA "/onboarding-bad.json: invalid JSON: line 4 column 19: '}' expected near "
                           "'\"conductor-hosts\"'");
    EXPECT_ERR("", "invalid JSON: line 1 column 0: '[' or '{' expected near end of file");
    EXPECT_ERR("{\"name\": \"a\"} x", "invalid JSON: line 1 column 15: end of file expected near 'x'");
    EXPECT_ERR("[1]", "not a JSON object");
    EXPECT_ERR("{\"name\": \"a\", \"name\": \"b\"}",
               "invalid JSON: line 1 column 20: duplicate object key near '\"name\"'");
    EXPECT_ERR("{\"name\": 5}", "\"name\" must be a string");
    EXPECT_ERR("{\"name\": \"\"}", "\"name\" must not be empty");
    EXPECT_ERR("{\"mode\": \"standalone\"}", "unknown mode \"standalone\" (conductor-managed or mist-managed)");
    EXPECT_ERR("{\"mode\": \"conductor\"}", "mode \"conductor\" is for a conductor, not a router");
    EXPECT_ERR("{\"mode\": true}", "\"mode\" must be a string");
    EXPECT_ERR("{\"conductor-hosts\": 1}", "\"conductor-hosts\" must be an array of strings");
    EXPECT_ERR("{\"conductor-hosts\": [\"a\", 2]}", "\"conductor-hosts[]\" must be a string");
    EXPECT_ERR("{\"conductor-hosts\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "\"conductor-hosts\": too many (at most 4)");
    EXPECT_ERR("{\"registration-code\": null}", "\"registration-code\" must be a string");
    EXPECT_ERR("{\"asset-id\": []}", "\"asset-id\" must be a string");
    /* proxy */
    EXPECT_ERR("{\"proxy\": \"1.2.3.4:80\"}", "\"proxy\" must be an object {\"address\": \"A\", \"port\": P}");
    EXPECT_ERR("{\"proxy\": {\"port\": 80}}", "\"proxy\" has no \"address\"");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\"}}", "\"proxy\" has no \"port\"");
    EXPECT_ERR("{\"proxy\": {\"address\": 16909060, \"port\": 80}}", "\"proxy.address\" must be a string");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\", \"port\": 80.5}}", "\"proxy.port\" must be an integer");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\", \"port\": 0}}", "\"proxy.port\": 0 out of range (1-65535)");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\", \"port\": 65536}}",
               "\"proxy.port\": 65536 out of range (1-65535)");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\", \"port\": -1}}", "\"proxy.port\": -1 out of range (1-65535)");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4\", \"port\": \"http\"}}",
               "\"proxy\": 1.2.3.4:http: port is not a number");
    EXPECT_ERR("{\"proxy\": {\"address\": \"proxy.lab\", \"port\": 3128}}",
               "\"proxy\": proxy.lab:port: not an IPv4 address");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3\", \"port\": 3128}}", "\"proxy\": 1.2.3:port: not an IPv4 address");
    EXPECT_ERR("{\"proxy\": {\"address\": \"1.2.3.4:80\", \"port\": 80}}",
               "\"proxy.address\" 1.2.3.4:80: give the port in \"proxy.port\"");
    EXPECT_ERR("{\"proxy\": {\"address\": \"\", \"port\": 80}}", "\"proxy\": :port: not an IPv4 address");
    /* too long */
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"name\": \"", 10);
    memcpy(big + sizeof big - 3, "\"}", 3);
    EXPECT_ERR(big, "\"name\" too long (at most 255 bytes)");
}

static void test_load_absent(void)
{
    memset(&ob, 0xff, sizeof ob);
    ZTP_ASSERT_EQ_INT(onboarding_load("/nonexistent/onboarding.json", &ob, err, sizeof err), 1);
    CU_ASSERT_FALSE(ob.have_proxy);
    ZTP_ASSERT_EQ_INT(ob.n_warnings, 0);
}

static char tmpdir[64];

static void mk_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ztp-onb-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, ONBOARDING_STATE_FILE);
    unlink(p);
    rmdir(tmpdir);
}

static void write_state(const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, ONBOARDING_STATE_FILE);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_state_roundtrip(void)
{
    struct onboarding_state st, back;
    mk_tmpdir();
    /* missing: not onboarded, no error */
    memset(&back, 0xff, sizeof back);
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &back, err, sizeof err), 0);
    CU_ASSERT_FALSE(back.onboarded);
    ZTP_ASSERT_EQ_STR(back.conductor, "");

    memset(&st, 0, sizeof st);
    st.onboarded = true;
    snprintf(st.conductor, sizeof st.conductor, "198.18.100.10");
    st.since = 1700000000;
    ZTP_ASSERT_EQ_INT(onboarding_state_save(tmpdir, &st), 0);
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &back, err, sizeof err), 0);
    CU_ASSERT_TRUE(back.onboarded);
    ZTP_ASSERT_EQ_STR(back.conductor, "198.18.100.10");
    ZTP_ASSERT_EQ_INT(back.since, 1700000000);

    char p[128];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", tmpdir, ONBOARDING_STATE_FILE);
    ZTP_ASSERT_EQ_INT(stat(p, &sb), 0);
    ZTP_ASSERT_EQ_INT(sb.st_mode & 0777, 0644);

    st.onboarded = false;
    ZTP_ASSERT_EQ_INT(onboarding_state_save(tmpdir, &st), 0);
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &back, err, sizeof err), 0);
    CU_ASSERT_FALSE(back.onboarded);
    rm_tmpdir();
}

static void test_state_corrupt(void)
{
    struct onboarding_state st;
    mk_tmpdir();
    write_state("{\"onboarded\": tru");
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &st, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON: line 1"));
    CU_ASSERT_FALSE(st.onboarded);
    write_state("{\"onboarded\": \"yes\"}");
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &st, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"onboarded\" must be true or false"));
    CU_ASSERT_FALSE(st.onboarded);
    write_state("{\"onboarded\": true, \"since\": -5}");
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &st, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"since\" must be a non-negative integer"));
    write_state("{\"onboarded\": true}");
    ZTP_ASSERT_EQ_INT(onboarding_state_load(tmpdir, &st, err, sizeof err), 0);
    CU_ASSERT_TRUE(st.onboarded);
    rm_tmpdir();
    ZTP_ASSERT_EQ_INT(onboarding_state_save("/nonexistent/dir", &st) < 0, 1);
}

static const struct ztp_test onboarding_tests[] = {
    {"conductor-managed file with proxy", test_conductor_file},
    {"mist-managed file, unknown fields", test_mist_file_unknown_fields},
    {"minimal file and defaults", test_minimal_and_defaults},
    {"product cloud-init example", test_product_cloud_init_file},
    {"warning overflow and escaping", test_warning_overflow},
    {"malformed files refused with the reason", test_malformed},
    {"absent file", test_load_absent},
    {NULL, NULL},
};

static const struct ztp_test state_tests[] = {
    {"save/load round trip", test_state_roundtrip},
    {"corrupt state file", test_state_corrupt},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {
    {"onboarding.json", onboarding_tests},
    {"onboarding state", state_tests},
    {NULL, NULL},
};

int main(void)
{
    return ztp_cunit_run(suites);
}
