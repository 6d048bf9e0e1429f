/* Reports: XML escaping, a JUnit document that xmllint accepts, summary.json and its round trip;
 * and the pure readers the expectations use (Squid access-log lines, tinyproxy's log, logfmt). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "expect.h"
#include "report.h"

static char *xml_of(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_xml_put(f, s);
    fclose(f);
    return buf;
}

static void test_xml_escape(void)
{
    char *x = xml_of("a<b>&\"c\" 'd'");
    ZTP_ASSERT_EQ_STR(x, "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;");
    free(x);
    /* tab, newline and CR stay; other control bytes are not XML 1.0 characters */
    x = xml_of("l1\tx\r\nl2\x01\x1b[0m\x7f");
    ZTP_ASSERT_EQ_STR(x, "l1\tx\r\nl2\\x01\\x1b[0m\\x7f");
    free(x);
    /* valid UTF-8 passes, invalid bytes and overlong forms are shown as \xNN */
    x = xml_of("caf\xc3\xa9 \xe2\x82\xac \xff \xc0\xaf \xed\xa0\x80");
    ZTP_ASSERT_EQ_STR(x, "caf\xc3\xa9 \xe2\x82\xac \\xff \\xc0\\xaf \\xed\\xa0\\x80");
    free(x);
    x = xml_of("");
    ZTP_ASSERT_EQ_STR(x, "");
    free(x);
}

static void fill_run(struct rep_run *r, const char *name, const char *result)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->scenario, sizeof(r->scenario), "%s", name);
    snprintf(r->file, sizeof(r->file), "scenarios/%s.yaml", name);
    snprintf(r->description, sizeof(r->description), "desc <of> %s & \"more\"", name);
    snprintf(r->runid, sizeof(r->runid), "zlabcde1");
    snprintf(r->mode, sizeof(r->mode), "root");
    snprintf(r->result, sizeof(r->result), "%s", result);
    snprintf(r->started, sizeof(r->started), "2026-11-23T13:40:01.123Z");
    snprintf(r->artifacts, sizeof(r->artifacts), "/tmp/a/%s", name);
    r->total_s = 1.25;
    r->setup_s = 0.2;
    r->checks_s = 1.0;
    r->teardown_s = 0.05;
    struct rep_expect *e = report_add_expect(r);
    snprintf(e->step, sizeof(e->step), "final state");
    snprintf(e->name, sizeof(e->name), "r1a active-proxy");
    snprintf(e->want, sizeof(e->want), "198.18.1.8:3128");
    snprintf(e->got, sizeof(e->got), "198.18.1.8:3128");
    e->pass = true;
    e->at_s = 0.25;
    struct rep_event *ev = report_add_event(r);
    ev->t = 0.2;
    snprintf(ev->host, sizeof(ev->host), "r1a");
    snprintf(ev->step, sizeof(ev->step), "proxy learned");
    snprintf(ev->detail, sizeof(ev->detail), "198.18.1.8:3128 <wan0>");
    struct rep_host *h = report_add_host(r);
    snprintf(h->name, sizeof(h->name), "r1a");
    snprintf(h->kind, sizeof(h->kind), "ssr-node");
    r->versions = json_pack("{s:s}", "lab", "0.1.0");
}

static void test_junit_wellformed(void)
{
    struct rep_run a, b, c;
    fill_run(&a, "learned", "pass");
    fill_run(&b, "proxy-denies", "fail");
    struct rep_expect *e = report_add_expect(&b);
    snprintf(e->step, sizeof(e->step), "final state");
    snprintf(e->name, sizeof(e->name), "r1a phone-home");
    snprintf(e->want, sizeof(e->want), "ok");
    snprintf(e->got, sizeof(e->got), "backoff (last attempt: proxy-refused: 403 \"Forbidden\" <ERR_ACCESS_DENIED>)");
    snprintf(e->log, sizeof(e->log), "logs/r1a.log");
    e->log_tail = strdup("ts=1 event=x value=\"\\x01\" raw=\x01\x02 & ]]> <tag>\nline2 \xff\xfe");
    fill_run(&c, "static", "error");
    snprintf(c.error, sizeof(c.error), "r1a exited with status 2 before it was ready: <bad> & \"worse\"");
    const struct rep_run *runs[] = {&a, &b, &c};

    char path[] = "/tmp/test_report_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    ZTP_ASSERT_EQ_INT(report_write_junit(path, runs, 3), 0);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ssize_t n = getdelim(&doc, &len, '\0', f);
    fclose(f);
    CU_ASSERT(n > 0);
    /* counts: 1 + 2 + (1 + the setup error); one failure, one error */
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<testsuites name=\"ztp-lab\" tests=\"5\" failures=\"1\" errors=\"1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<testsuite name=\"proxy-denies\" tests=\"2\" failures=\"1\" errors=\"0\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<testcase classname=\"lab.learned\" name=\"final state: r1a active-proxy\" time=\"0.250\"/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<failure message=\"got backoff (last attempt: proxy-refused: 403 &quot;Forbidden&quot; &lt;ERR_ACCESS_DENIED&gt;), want ok\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "--- last lines of logs/r1a.log ---"));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "raw=\\x01\\x02 &amp; ]]&gt; &lt;tag&gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<testcase classname=\"lab.static\" name=\"setup\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<error message=\"r1a exited with status 2 before it was ready: &lt;bad&gt; &amp; &quot;worse&quot;\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "<property name=\"description\" value=\"desc &lt;of&gt; learned &amp; &quot;more&quot;\"/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "+0.200s  r1a      proxy learned        198.18.1.8:3128 &lt;wan0&gt;"));
    CU_ASSERT_PTR_NULL(strchr(doc, '\x01'));
    free(doc);

    /* a real XML parser agrees, when one is installed (libxml2-utils) */
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
        ZTP_ASSERT_EQ_INT(system(cmd), 0);
    } else {
        fprintf(stderr, "\n  (xmllint not installed: well-formedness checked by the assertions only)\n");
    }
    unlink(path);
    report_clear(&a);
    report_clear(&b);
    report_clear(&c);
}

static void test_summary(void)
{
    struct rep_run a;
    fill_run(&a, "learned", "fail");
    struct rep_expect *e = report_add_expect(&a);
    snprintf(e->step, sizeof(e->step), "final state");
    snprintf(e->name, sizeof(e->name), "proxy carried");
    snprintf(e->want, sizeof(e->want), "CONNECTs to Mist tunnelled for: r1a");
    snprintf(e->got, sizeof(e->got), "nobody \xff");
    snprintf(e->log, sizeof(e->log), "logs/proxy.log");
    e->log_tail = strdup("last line");
    json_t *j = report_summary(&a);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(j, "result")), "fail");
    CU_ASSERT(json_is_null(json_object_get(j, "error")));
    json_t *xs = json_object_get(j, "expectations");
    ZTP_ASSERT_EQ_INT(json_array_size(xs), 2);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(xs, 1), "result")), "fail");
    /* invalid UTF-8 does not lose the field */
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(xs, 1), "got")), "nobody ?");
    CU_ASSERT(json_is_null(json_object_get(json_array_get(xs, 1), "at_s")));
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(j, "timings"), "total_s")), 1.25, 1e-9);
    ZTP_ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(j, "versions"), "lab")), "0.1.0");
    ZTP_ASSERT_EQ_INT(json_array_size(json_object_get(j, "timeline")), 1);
    json_decref(j);

    char path[] = "/tmp/test_summary_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ZTP_ASSERT_EQ_INT(report_write_summary(&a, path), 0);
    struct rep_run b;
    ZTP_ASSERT_EQ_INT(report_from_summary(path, &b), 0);
    ZTP_ASSERT_EQ_STR(b.scenario, "learned");
    ZTP_ASSERT_EQ_STR(b.result, "fail");
    ZTP_ASSERT_EQ_INT(b.n_exps, 2);
    CU_ASSERT(b.exps[0].pass);
    CU_ASSERT(!b.exps[1].pass);
    ZTP_ASSERT_EQ_STR(b.exps[1].log_tail, "last line");
    ZTP_ASSERT_EQ_INT(report_failures(&b), 1);
    ZTP_ASSERT_EQ_INT(b.n_events, 1);
    unlink(path);
    report_clear(&a);
    report_clear(&b);
}

static void test_squid_lines(void)
{
    struct access_rec r;
    const char *l1 = "1795392001.123    211 198.18.1.100 TCP_TUNNEL/200 4321 CONNECT ep-terminator.mistsys.net:443 - "
                     "HIER_DIRECT/198.18.100.10 -";
    ZTP_ASSERT_EQ_INT(exp_squid_parse(l1, strlen(l1), &r), 0);
    ZTP_ASSERT_EQ_STR(r.client, "198.18.1.100");
    ZTP_ASSERT_EQ_STR(r.code, "TCP_TUNNEL");
    ZTP_ASSERT_EQ_INT(r.status, 200);
    ZTP_ASSERT_EQ_INT(r.bytes, 4321);
    ZTP_ASSERT_EQ_STR(r.method, "CONNECT");
    ZTP_ASSERT_EQ_STR(r.url, "ep-terminator.mistsys.net:443");
    ZTP_ASSERT_EQ_STR(r.user, "-");
    /* when the tunnel ended and how long it lasted: a tunnel counts for the step it started in */
    CU_ASSERT_DOUBLE_EQUAL(r.end, 1795392001.123, 1e-6);
    ZTP_ASSERT_EQ_INT(r.elapsed_ms, 211);
    const char *l2 = "1795443505.063      2 198.18.1.100 TCP_DENIED/407 831 CONNECT ep-terminator.mistsys.net:443 alice "
                     "HIER_NONE/- text/html\n";
    ZTP_ASSERT_EQ_INT(exp_squid_parse(l2, strlen(l2), &r), 0);
    ZTP_ASSERT_EQ_INT(r.status, 407);
    ZTP_ASSERT_EQ_STR(r.user, "alice");
    /* not access-log lines */
    const char *bad[] = {"", "2026/11/23 14:07:22| Starting Squid Cache version 5.7",
                         "1795392001.123 211 not-an-ip TCP_TUNNEL/200 1 CONNECT x:443",
                         "1795392001.123 211 198.18.1.100 TCP_TUNNEL 1 CONNECT x:443",
                         "1795392001.123 211 198.18.1.100 TCP_TUNNEL/abc 1 CONNECT x:443",
                         "1795392001.123 211 198.18.1.100 TCP_TUNNEL/200 12x CONNECT x:443",
                         "1795392001.123 211 198.18.1.100 TCP_TUNNEL/200 1 CONNECT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ZTP_ASSERT_EQ_INT(exp_squid_parse(bad[i], strlen(bad[i]), &r), -1);
    /* a bounded read: the length, not the NUL, ends the line */
    ZTP_ASSERT_EQ_INT(exp_squid_parse(l1, 20, &r), -1);
}

static void test_tinyproxy_lines(void)
{
    struct tinyproxy_state *ts = calloc(1, sizeof(*ts));
    struct access_rec r;
    ZTP_ASSERT_EQ_INT(exp_tinyproxy_feed(ts, "CONNECT   Nov 23 14:07:22.123 [77]: Connect (file descriptor 7): 198.18.1.100", &r), 0);
    ZTP_ASSERT_EQ_INT(exp_tinyproxy_feed(ts, "CONNECT   Nov 23 14:07:22.124 [77]: Request (file descriptor 7): CONNECT "
                                             "ep-terminator.mistsys.net:443 HTTP/1.1", &r), 0);
    ZTP_ASSERT_EQ_INT(exp_tinyproxy_feed(ts, "INFO      Nov 23 14:07:22.125 [77]: Established connection to host "
                                             "\"ep-terminator.mistsys.net\" using file descriptor 8.", &r), 1);
    ZTP_ASSERT_EQ_STR(r.client, "198.18.1.100");
    ZTP_ASSERT_EQ_STR(r.method, "CONNECT");
    ZTP_ASSERT_EQ_STR(r.url, "ep-terminator.mistsys.net:443");
    ZTP_ASSERT_EQ_INT(r.status, 200);
    ZTP_ASSERT_EQ_INT(exp_tinyproxy_feed(ts, "NOTICE    Nov 23 14:07:23.000 [77]: Unauthorized connection from \"x\" [198.18.1.101].", &r), 1);
    ZTP_ASSERT_EQ_STR(r.client, "198.18.1.101");
    ZTP_ASSERT_EQ_INT(r.status, 403);
    CU_ASSERT_DOUBLE_EQUAL(r.end, 0, 1e-9); /* tinyproxy logs no duration: counted by file offset */
    free(ts);
}

static void test_logfmt(void)
{
    const char *l = "ts=2026-11-23T14:29:25.151566Z level=info host=r1a comp=ssr-node event=phonehome.ok status=200 "
                    "reason=\"ok \\\"quoted\\\" x\" url=https://ep/ proxy=198.18.1.8:3128";
    char v[128];
    ZTP_ASSERT_EQ_STR(exp_logfmt_get(l, "event", v, sizeof(v)), "phonehome.ok");
    ZTP_ASSERT_EQ_STR(exp_logfmt_get(l, "reason", v, sizeof(v)), "ok \\\"quoted\\\" x");
    ZTP_ASSERT_EQ_STR(exp_logfmt_get(l, "proxy", v, sizeof(v)), "198.18.1.8:3128");
    ZTP_ASSERT_EQ_STR(exp_logfmt_get(l, "ts", v, sizeof(v)), "2026-11-23T14:29:25.151566Z");
    CU_ASSERT_PTR_NULL(exp_logfmt_get(l, "stat", v, sizeof(v))); /* a prefix is not a key */
    CU_ASSERT_PTR_NULL(exp_logfmt_get("event", "event", v, sizeof(v)));
    char small[4];
    ZTP_ASSERT_EQ_STR(exp_logfmt_get(l, "event", small, sizeof(small)), "pho"); /* truncated, terminated */
}

/* no-secrets: the generated secrets (OCRA keys, pre-shared secrets) are looked for in every log,
 * the access logs, timeline.txt and the summary about to be written; the finding names the file,
 * never the secret. */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_no_secrets(void)
{
    static const char text[] = "name: t\ndescription: d\nsegments: {lan: {}}\nhosts:\n"
                               "  r1a: {kind: ssr-node, interfaces: [{segment: lan, dhcp: true}], config: x}\n"
                               "expect: {r1a: {active-proxy: none}}\n";
    char err[256];
    struct scenario *s = scenario_parse("t.yaml", text, strlen(text), err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char dir[] = "/tmp/ztp-test-report-XXXXXX", p[512];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/logs", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/logs/r1a.log", dir);
    put_file(p, "event=sztp.secret path=x bytes=32\n");
    snprintf(p, sizeof(p), "%s/timeline.txt", dir);
    put_file(p, "  +0.1s  r1a  secret stored  step 5\n");
    const char *secrets[] = {"3f1c9a0b7e2d4c6a8b0e1f2a3b4c5d6e", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    struct exp_host eh = {.h = &s->hosts[0]};
    struct exp_ctx c = {.s = s, .hosts = &eh, .n_hosts = 1, .artifacts = dir, .secrets = secrets, .n_secrets = 2};
    struct scn_expect x = {.kind = EXP_NO_SECRETS};
    struct exp_state st;
    exp_describe(&x, &st);
    exp_eval(&c, &st, 1.0);
    CU_ASSERT(st.pass);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.got, "(2 secrets, hex ones also as bytes)"));
    /* in the summary text */
    c.summary_text = "{\"got\": \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";
    exp_describe(&x, &st);
    exp_eval(&c, &st, 1.0);
    CU_ASSERT(!st.pass);
    ZTP_ASSERT_EQ_STR(st.got, "secret 01*** (64 chars) found in summary.json");
    c.summary_text = NULL;
    /* in timeline.txt */
    snprintf(p, sizeof(p), "%s/timeline.txt", dir);
    put_file(p, "psk=3f1c9a0b7e2d4c6a8b0e1f2a3b4c5d6e\n");
    exp_describe(&x, &st);
    exp_eval(&c, &st, 1.0);
    CU_ASSERT(!st.pass);
    ZTP_ASSERT_EQ_STR(st.got, "secret 3f*** (32 chars) found in timeline.txt");
    CU_ASSERT_PTR_NULL(strstr(st.got, secrets[0]));
    unlink(p);
    /* in a log */
    snprintf(p, sizeof(p), "%s/logs/r1a.log", dir);
    put_file(p, "key=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
    exp_describe(&x, &st);
    exp_eval(&c, &st, 1.0);
    CU_ASSERT(!st.pass);
    ZTP_ASSERT_EQ_STR(st.got, "secret 01*** (64 chars) found in logs/r1a.log");
    unlink(p);
    snprintf(p, sizeof(p), "%s/logs", dir);
    rmdir(p);
    rmdir(dir);
    scenario_free(s);
}

static const struct ztp_test report_tests[] = {
    {"XML escaping", test_xml_escape},
    {"JUnit document is well-formed", test_junit_wellformed},
    {"summary.json and its round trip", test_summary},
    {"no-secrets: generated secrets in logs, timeline, summary", test_no_secrets},
    {NULL, NULL},
};

static const struct ztp_test source_tests[] = {
    {"Squid access-log lines", test_squid_lines},
    {"tinyproxy log lines", test_tinyproxy_lines},
    {"logfmt fields", test_logfmt},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {{"report", report_tests}, {"sources", source_tests}, {NULL, NULL}};

int main(void) { return ztp_cunit_run(suites); }
