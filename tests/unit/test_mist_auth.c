/* mock-mist's authentication tables with an injected clock: challenges are single use and expire,
 * belong to one device, the table stays bounded; failures lock a device for a while and success
 * resets the count; sessions are bound to a device and expire. Plus the OCRA check mock-mist does
 * (one-way and mutual), against RFC 6287's mutual vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "../../mocks/mist/auth.h"
#include "ztp/ocra.h"

static struct mist_auth *new_auth(void)
{
    struct mist_auth *a = calloc(1, sizeof *a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    return a;
}

static void test_challenge_single_use(void)
{
    struct mist_auth *a = new_auth();
    char id[MIST_CHALLENGE_ID_LEN + 1], id2[MIST_CHALLENGE_ID_LEN + 1], q[OCRA_QUESTION_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "ABCD1234", 100, 30, id), 0);
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "EFGH5678", 100, 30, id2), 0);
    ZTP_ASSERT_EQ_INT(strlen(id), MIST_CHALLENGE_ID_LEN);
    CU_ASSERT(strcmp(id, id2) != 0);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-2", id, 101, q, sizeof q), MIST_TAKE_UNKNOWN);   /* other device */
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", "0000", 101, q, sizeof q), MIST_TAKE_UNKNOWN);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 101, q, sizeof q), MIST_TAKE_OK);
    ZTP_ASSERT_EQ_STR(q, "ABCD1234");
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 102, q, sizeof q), MIST_TAKE_REPLAYED);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id2, 102, q, sizeof q), MIST_TAKE_OK);
    ZTP_ASSERT_EQ_STR(q, "EFGH5678");
    ZTP_ASSERT_EQ_STR(mist_take_error[MIST_TAKE_REPLAYED], "replayed-challenge");
    free(a);
}

static void test_challenge_expiry(void)
{
    struct mist_auth *a = new_auth();
    char id[MIST_CHALLENGE_ID_LEN + 1], q[OCRA_QUESTION_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "ABCD1234", 1000, 30, id), 0);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 1030, q, sizeof q), MIST_TAKE_EXPIRED);   /* at expiry */
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 1031, q, sizeof q), MIST_TAKE_REPLAYED);  /* consumed */
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "ABCD1234", 1000, 30, id), 0);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 1029, q, sizeof q), MIST_TAKE_OK);        /* just before */
    ZTP_ASSERT_EQ_STR(mist_take_error[MIST_TAKE_EXPIRED], "expired-challenge");
    free(a);
}

static void test_challenge_bounded(void)
{
    struct mist_auth *a = new_auth();
    char first[MIST_CHALLENGE_ID_LEN + 1], id[MIST_CHALLENGE_ID_LEN + 1], q[OCRA_QUESTION_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "FIRST000", 0, 30, first), 0);
    for (int i = 0; i < MIST_AUTH_MAX; i++)
        CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "X0000000", 1, 30, id), 0);
    ZTP_ASSERT_EQ_INT(a->n_ch, MIST_AUTH_MAX);
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", first, 2, q, sizeof q), MIST_TAKE_UNKNOWN);   /* evicted */
    ZTP_ASSERT_EQ_INT(mist_challenge_take(a, "SSR-1", id, 2, q, sizeof q), MIST_TAKE_OK);
    /* once the table is full, expired entries go first */
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "SSR-1", "Y0000000", 100, 30, id), 0);
    ZTP_ASSERT_EQ_INT(a->n_ch, 10);
    free(a);
}

static void test_lockout(void)
{
    struct mist_auth *a = new_auth();
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 0), 0);
    for (int i = 1; i <= 4; i++) {
        CU_ASSERT_FALSE(mist_lock_fail(a, "SSR-1", 10, 5, 60));
        ZTP_ASSERT_EQ_INT(mist_lock_failures(a, "SSR-1"), i);
        ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 10), 0);
    }
    CU_ASSERT_TRUE(mist_lock_fail(a, "SSR-1", 10, 5, 60));   /* the 5th locks */
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 10), 60);
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 69), 1);
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-2", 11), 0);   /* per device */
    CU_ASSERT_FALSE(mist_lock_fail(a, "SSR-1", 20, 5, 60));      /* while locked: no re-lock, no extension */
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 20), 50);
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "SSR-1", 70), 0);   /* expired: cleared */
    ZTP_ASSERT_EQ_INT(mist_lock_failures(a, "SSR-1"), 0);
    /* success resets the count */
    mist_lock_fail(a, "SSR-1", 80, 3, 60);
    mist_lock_fail(a, "SSR-1", 80, 3, 60);
    mist_lock_success(a, "SSR-1");
    CU_ASSERT_FALSE(mist_lock_fail(a, "SSR-1", 81, 3, 60));
    CU_ASSERT_FALSE(mist_lock_fail(a, "SSR-1", 81, 3, 60));
    CU_ASSERT_TRUE(mist_lock_fail(a, "SSR-1", 81, 3, 60));
    free(a);
}

static void test_sessions(void)
{
    struct mist_auth *a = new_auth();
    char t[MIST_TOKEN_LEN + 1], t2[MIST_TOKEN_LEN + 1];
    CU_ASSERT_EQUAL_FATAL(mist_session_new(a, "SSR-1", 100, 300, t), 0);
    CU_ASSERT_EQUAL_FATAL(mist_session_new(a, "SSR-2", 100, 300, t2), 0);
    ZTP_ASSERT_EQ_INT(strlen(t), MIST_TOKEN_LEN);
    CU_ASSERT_TRUE(mist_session_valid(a, "SSR-1", t, strlen(t), 399));
    CU_ASSERT_FALSE(mist_session_valid(a, "SSR-1", t, strlen(t), 400));     /* expired */
    CU_ASSERT_FALSE(mist_session_valid(a, "SSR-2", t, strlen(t), 101));     /* other device */
    CU_ASSERT_FALSE(mist_session_valid(a, "SSR-1", t, strlen(t) - 1, 101)); /* truncated */
    t[0] = t[0] == 'a' ? 'b' : 'a';
    CU_ASSERT_FALSE(mist_session_valid(a, "SSR-1", t, strlen(t), 101));
    CU_ASSERT_TRUE(mist_session_valid(a, "SSR-2", t2, strlen(t2), 101));
    free(a);
}

/* What mock-mist computes: RFC 6287 C.2 mutual vectors (OCRA-1:HOTP-SHA256-8:QA08, 32-byte key). */
static void test_mutual_vectors(void)
{
    static const char S[] = "OCRA-1:HOTP-SHA256-8:QA08";
    uint8_t k[32];
    memcpy(k, "12345678901234567890123456789012", 32);
    struct ocra_key key = {k, 32};
    struct ocra_suite s;
    char q[2 * OCRA_QUESTION_MAX + 1], r[OCRA_RESPONSE_MAX], err[128];
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(S, strlen(S), &s, err, sizeof err), 0);
    /* client response: Q = server | client */
    int ql = ocra_mutual_question(&s, "SRV11110", 8, "CLI22220", 8, q, sizeof q, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(ql, 16);
    struct ocra_input in = {.question = q, .question_len = (size_t)ql};
    CU_ASSERT_EQUAL_FATAL(ocra_compute(&s, &in, ocra_hmac_openssl, &key, r, sizeof r, err, sizeof err), 8);
    ZTP_ASSERT_EQ_STR(r, "15510767");
    CU_ASSERT_TRUE(ocra_response_equal("15510767", 8, r, 8));
    CU_ASSERT_FALSE(ocra_response_equal("15510766", 8, r, 8));
    /* server response: Q = client | server */
    ql = ocra_mutual_question(&s, "CLI22220", 8, "SRV11110", 8, q, sizeof q, err, sizeof err);
    in.question_len = (size_t)ql;
    CU_ASSERT_EQUAL_FATAL(ocra_compute(&s, &in, ocra_hmac_openssl, &key, r, sizeof r, err, sizeof err), 8);
    ZTP_ASSERT_EQ_STR(r, "28247970");
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"challenge: single use, bound to its device", test_challenge_single_use},
        {"challenge: expiry (injected clock)", test_challenge_expiry},
        {"challenge table stays bounded", test_challenge_bounded},
        {"lockout counter", test_lockout},
        {"sessions", test_sessions},
        {"OCRA mutual vectors as mock-mist computes them", test_mutual_vectors},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"mist auth", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
