/* router/retry.c: the backoff the sZTP and conductor clients share (doubling, cap, jitter,
 * Retry-After and its cap, the wait's life cycle) and its parsing of Retry-After. */
#include <stdarg.h>
#include <string.h>

#include "cunit_main.h"
#include "https.h"
#include "phonehome.h"
#include "retry.h"

/* base 1 s doubling to 30 s, less up to 20 % jitter: the product's defaults */
static void test_backoff(void)
{
    struct retry r;
    retry_init(&r, 1000, 30000, 120000, 12345);
    CU_ASSERT(!r.waiting);
    ZTP_ASSERT_EQ_INT(retry_left_ms(&r, 0), -1);
    static const unsigned full[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    uint64_t now = 5000;
    for (unsigned i = 0; i < sizeof full / sizeof full[0]; i++) {
        unsigned d = retry_fail(&r, 0, now);
        ZTP_ASSERT_EQ_INT(r.failures, i + 1);
        CU_ASSERT(d <= full[i] && d >= full[i] - full[i] / 5);
        ZTP_ASSERT_EQ_INT(r.delay_ms, d);
        CU_ASSERT(r.waiting);
        ZTP_ASSERT_EQ_INT(r.next_ms, now + d);
        ZTP_ASSERT_EQ_INT(retry_left_ms(&r, now + 1), d - 1);
        CU_ASSERT(!retry_due(&r, now + d - 1)); /* not yet */
        CU_ASSERT(r.waiting);
        CU_ASSERT(retry_due(&r, now + d));      /* its time: the wait ends */
        CU_ASSERT(!r.waiting);
        ZTP_ASSERT_EQ_INT(r.failures, i + 1);   /* the count stays until a success */
        now += d;
    }
    retry_ok(&r);
    ZTP_ASSERT_EQ_INT(r.failures, 0);
    unsigned d = retry_fail(&r, 0, now);
    CU_ASSERT(d <= 1000 && d >= 800); /* back to the base */
}

/* The same seed gives the same jitter (the clients seed from pid and time); phonehome_backoff_ms
 * is the one formula */
static void test_jitter_and_formula(void)
{
    struct retry a, b;
    retry_init(&a, 1000, 30000, 120000, 777);
    retry_init(&b, 1000, 30000, 120000, 777);
    bool varied = false;
    unsigned first = retry_fail(&a, 0, 0);
    ZTP_ASSERT_EQ_INT(retry_fail(&b, 0, 0), first);
    for (int i = 0; i < 20; i++) {
        retry_ok(&a);
        unsigned d = retry_fail(&a, 0, 0);
        varied |= d != first;
    }
    CU_ASSERT(varied);
    /* a zero seed still jitters (xorshift32 is never stuck at 0) */
    struct retry z;
    retry_init(&z, 10000, 10000, 120000, 0);
    unsigned d = retry_fail(&z, 0, 0);
    CU_ASSERT(d <= 10000 && d >= 8000);
    CU_ASSERT(z.rng != 0);
    /* small bases (ssr-node --retry-backoff 0.1,0.5) */
    struct retry s;
    retry_init(&s, 100, 500, 120000, 9);
    static const unsigned full[] = {100, 200, 400, 500, 500};
    for (unsigned i = 0; i < 5; i++) {
        d = retry_fail(&s, 0, 0);
        CU_ASSERT(d <= full[i] && d >= full[i] - full[i] / 5);
    }
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(1, 1000, 30000, 0), 1000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(3, 1000, 30000, 0), 4000);
}

/* Retry-After wins when longer than the backoff, capped at retry_after_max_ms */
static void test_retry_after(void)
{
    struct retry r;
    retry_init(&r, 1000, 30000, 120000, 1);
    ZTP_ASSERT_EQ_INT(retry_fail(&r, 10, 100), 10000);
    ZTP_ASSERT_EQ_INT(r.next_ms, 10100);
    unsigned d = retry_fail(&r, 1, 100); /* 2 s backoff is longer than Retry-After 1 */
    CU_ASSERT(d >= 1600 && d <= 2000);
    ZTP_ASSERT_EQ_INT(retry_fail(&r, 86400, 0), 120000); /* a day, capped at 2 minutes */
    ZTP_ASSERT_EQ_INT(r.failures, 3);
}

/* A new network brings the retry forward; a success or a new proxy clears it */
static void test_hurry_and_ok(void)
{
    struct retry r;
    retry_init(&r, 1000, 30000, 120000, 3);
    retry_hurry(&r, 50); /* not waiting: nothing */
    CU_ASSERT(!r.waiting);
    retry_fail(&r, 5, 1000);
    retry_hurry(&r, 2000);
    ZTP_ASSERT_EQ_INT(r.next_ms, 2000);
    ZTP_ASSERT_EQ_INT(retry_left_ms(&r, 2000), 0);
    ZTP_ASSERT_EQ_INT(retry_left_ms(&r, 2500), 0);
    ZTP_ASSERT_EQ_INT(r.failures, 1);
    CU_ASSERT(retry_due(&r, 2000));
    retry_fail(&r, 0, 3000);
    retry_ok(&r);
    CU_ASSERT(!r.waiting);
    ZTP_ASSERT_EQ_INT(r.failures, 0);
    ZTP_ASSERT_EQ_INT(retry_left_ms(&r, 3000), -1);
}

static unsigned parse_ra(const char *head, const char *body, bool json_body)
{
    struct http_response_head h;
    const char *why = NULL;
    CU_ASSERT_EQUAL_FATAL(http_response_head_parse(head, strlen(head), &h, &why), 1);
    struct https_result res = {.status = h.status, .head = &h, .body = body, .body_len = body ? strlen(body) : 0};
    return retry_after_parse(&res, json_body);
}

static void test_retry_after_parse(void)
{
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 404 Not Found\r\nRetry-After: 7\r\n\r\n", NULL, false), 7);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 Locked\r\nretry-after:  60 \r\n\r\n", NULL, false), 60);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 503 x\r\nRetry-After: 86400\r\n\r\n", NULL, false), 86400);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 503 x\r\nRetry-After: 86401\r\n\r\n", NULL, false), 0); /* more than a day */
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n", NULL, false), 0);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 503 x\r\nRetry-After: 5s\r\n\r\n", NULL, false), 0);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 503 x\r\n\r\n", NULL, false), 0);
    /* the conductor's JSON body, only when asked for and only without a usable header */
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\n\r\n", "{\"error\":\"locked\",\"retry-after\":30}", false), 0);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\n\r\n", "{\"error\":\"locked\",\"retry-after\":30}", true), 30);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\nRetry-After: 4\r\n\r\n", "{\"retry-after\":30}", true), 4);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\n\r\n", "{\"retry-after\":-3}", true), 0);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\n\r\n", "{\"retry-after\":\"30\"}", true), 0);
    ZTP_ASSERT_EQ_INT(parse_ra("HTTP/1.1 423 x\r\n\r\n", "not json", true), 0);
    struct https_result none = {0};
    ZTP_ASSERT_EQ_INT(retry_after_parse(&none, true), 0); /* no response at all */
}

static void reason(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reason(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    retry_reason(dst, cap, fmt, ap);
    va_end(ap);
}

static void test_reason(void)
{
    char m[16];
    reason(m, sizeof m, "%s %d", "a\tb\x7f\xc3\xa9", 42);
    ZTP_ASSERT_EQ_STR(m, "a?b??? 42");
    reason(m, sizeof m, "%s", "0123456789abcdefghij"); /* truncated, NUL-terminated */
    ZTP_ASSERT_EQ_STR(m, "0123456789abcde");
}

static const struct ztp_test retry_tests[] = {
    {"backoff doubles to the cap with up to 20 % jitter; the wait's life cycle", test_backoff},
    {"jitter from the seed; small bases; one formula", test_jitter_and_formula},
    {"Retry-After wins when longer, capped", test_retry_after},
    {"hurry (network changed) and ok (success, new proxy)", test_hurry_and_ok},
    {"Retry-After header and the conductor's JSON retry-after", test_retry_after_parse},
    {"failure reasons are printable", test_reason},
    {NULL, NULL},
};

int main(void)
{
    static const struct ztp_suite suites[] = {{"retry", retry_tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
