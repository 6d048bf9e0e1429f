/* mock-conductor's authentication, as its handlers drive mock-mist's auth tables with an injected
 * clock: challenges keyed by the node identity hold the 64-hex nonce, are single use, bound to one
 * node and expire; max-failures in a row lock a node for lockout-seconds and a success resets the
 * count; a session found by its bearer token alone names its node and expires. Plus the request
 * bodies' parsers and the Authorization header. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "wire.h"
#include "ztp/psk.h"

static struct mist_auth *new_auth(void)
{
    struct mist_auth *a = calloc(1, sizeof *a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    return a;
}

/* What POST /v1/router/auth does with a challenge id and a MAC: 0 ok, else the mist_take value or 99
 * for a wrong MAC. */
static int verify(struct mist_auth *a, const char *psk, const char *router, const char *node, const char *id,
                  const char *mac, uint64_t now)
{
    char identity[COND_IDENTITY_MAX + 1], nonce[OCRA_QUESTION_MAX + 1], expect[PSK_MAC_HEX + 1], err[128];
    CU_ASSERT_EQUAL_FATAL(pki_identity(router, node, identity, sizeof identity), 0);
    enum mist_take t = mist_challenge_take(a, identity, id, now, nonce, sizeof nonce);
    if (t != MIST_TAKE_OK)
        return (int)t;
    CU_ASSERT_EQUAL_FATAL(psk_mac(PSK_CLIENT, (const unsigned char *)psk, strlen(psk), nonce, router, node, expect,
                                  sizeof expect, err, sizeof err),
                          0);
    return psk_mac_equal(expect, mac, strlen(mac)) ? 0 : 99;
}

/* A challenge for R1/r1a issued at `now`; writes the client MAC a router with `psk` would send. */
static void issue(struct mist_auth *a, const char *psk, uint64_t now, unsigned ttl, char id[MIST_CHALLENGE_ID_LEN + 1],
                  char mac[PSK_MAC_HEX + 1])
{
    char nonce[PSK_NONCE_HEX + 1], err[128];
    CU_ASSERT_EQUAL_FATAL(psk_nonce(nonce, sizeof nonce), 0);
    CU_ASSERT_EQUAL_FATAL(mist_challenge_add(a, "R1.r1a", nonce, now, ttl, id), 0);
    CU_ASSERT_EQUAL_FATAL(
        psk_mac(PSK_CLIENT, (const unsigned char *)psk, strlen(psk), nonce, "R1", "r1a", mac, PSK_MAC_HEX + 1, err,
                sizeof err),
        0);
}

static void test_single_use(void)
{
    struct mist_auth *a = new_auth();
    char id[MIST_CHALLENGE_ID_LEN + 1], mac[PSK_MAC_HEX + 1], id2[MIST_CHALLENGE_ID_LEN + 1], mac2[PSK_MAC_HEX + 1];
    issue(a, "s1", 100, 30, id, mac);
    issue(a, "s1", 100, 30, id2, mac2);
    CU_ASSERT(strcmp(mac, mac2) != 0);   /* fresh nonces */
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1b", id, mac, 101), MIST_TAKE_UNKNOWN);   /* another node's id */
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac2, 101), 99);                 /* the other nonce's MAC */
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac, 102), MIST_TAKE_REPLAYED);  /* consumed, right or wrong */
    ZTP_ASSERT_EQ_INT(verify(a, "s2", "R1", "r1a", id2, mac2, 102), 99);                /* wrong secret */
    issue(a, "s1", 200, 30, id, mac);
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac, 201), 0);
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac, 202), MIST_TAKE_REPLAYED);
    ZTP_ASSERT_EQ_STR(mist_take_error[MIST_TAKE_REPLAYED], "replayed-challenge");
    free(a);
}

static void test_expiry(void)
{
    struct mist_auth *a = new_auth();
    char id[MIST_CHALLENGE_ID_LEN + 1], mac[PSK_MAC_HEX + 1];
    issue(a, "s1", 1000, 30, id, mac);
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac, 1030), MIST_TAKE_EXPIRED);   /* at psk-ttl */
    issue(a, "s1", 1000, 30, id, mac);
    ZTP_ASSERT_EQ_INT(verify(a, "s1", "R1", "r1a", id, mac, 1029), 0);                   /* just before */
    ZTP_ASSERT_EQ_STR(mist_take_error[MIST_TAKE_EXPIRED], "expired-challenge");
    free(a);
}

static void test_lockout(void)
{
    struct mist_auth *a = new_auth();
    for (unsigned i = 1; i < 3; i++) {
        CU_ASSERT_FALSE(mist_lock_fail(a, "R1.r1a", 10, 3, 60));
        ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "R1.r1a", 10), 0);
    }
    CU_ASSERT_TRUE(mist_lock_fail(a, "R1.r1a", 10, 3, 60));   /* the max-failures-th locks */
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "R1.r1a", 11), 59);
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "R1.r1b", 11), 0);   /* per node */
    CU_ASSERT_FALSE(mist_lock_fail(a, "R1.r1a", 20, 3, 60));     /* while locked: no new lock */
    ZTP_ASSERT_EQ_INT(mist_lock_remaining(a, "R1.r1a", 70), 0);   /* expired: cleared */
    ZTP_ASSERT_EQ_INT(mist_lock_failures(a, "R1.r1a"), 0);
    CU_ASSERT_FALSE(mist_lock_fail(a, "R1.r1a", 71, 3, 60));
    CU_ASSERT_FALSE(mist_lock_fail(a, "R1.r1a", 71, 3, 60));
    mist_lock_success(a, "R1.r1a");   /* success resets the count */
    ZTP_ASSERT_EQ_INT(mist_lock_failures(a, "R1.r1a"), 0);
    CU_ASSERT_FALSE(mist_lock_fail(a, "R1.r1a", 72, 3, 60));
    free(a);
}

static void test_sessions(void)
{
    struct mist_auth *a = new_auth();
    char t1[MIST_TOKEN_LEN + 1], t2[MIST_TOKEN_LEN + 1], id[COND_IDENTITY_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(mist_session_new(a, "R1.r1a", 100, 300, t1), 0);
    CU_ASSERT_EQUAL_FATAL(mist_session_new(a, "R2.r2a", 100, 10, t2), 0);
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, t1, strlen(t1), 101, id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R1.r1a");
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, t2, strlen(t2), 109, id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R2.r2a");
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, t2, strlen(t2), 110, id, sizeof id), -1);   /* expired */
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, t1, strlen(t1) - 1, 101, id, sizeof id), -1);   /* prefix */
    char forged[MIST_TOKEN_LEN + 1];
    memcpy(forged, t1, sizeof forged);
    forged[0] = forged[0] == 'a' ? 'b' : 'a';
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, forged, MIST_TOKEN_LEN, 101, id, sizeof id), -1);
    ZTP_ASSERT_EQ_INT(cw_session_identity(a, t1, strlen(t1), 101, id, 4), -1);   /* no room */
    free(a);
}

static void test_bearer(void)
{
    const char *t;
    size_t l;
    ZTP_ASSERT_EQ_INT(cw_bearer("Bearer abc", &t, &l), 0);
    CU_ASSERT(l == 3 && strncmp(t, "abc", 3) == 0);
    ZTP_ASSERT_EQ_INT(cw_bearer("bearer  abc  ", &t, &l), 0);
    ZTP_ASSERT_EQ_INT(l, 3);
    ZTP_ASSERT_EQ_INT(cw_bearer("Basic abc", &t, &l), -1);
    ZTP_ASSERT_EQ_INT(cw_bearer("Bearer ", &t, &l), -1);
    ZTP_ASSERT_EQ_INT(cw_bearer("Bearer", &t, &l), -1);
    ZTP_ASSERT_EQ_INT(cw_bearer(NULL, &t, &l), -1);
}

static json_t *j(const char *text)
{
    json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static void test_bodies(void)
{
    char err[200];
    struct cw_challenge ch;
    json_t *v = j("{\"router\":\"R1\",\"node\":\"r1a\",\"extra\":1}");
    ZTP_ASSERT_EQ_INT(cw_challenge_parse(v, &ch, err, sizeof err), 0);   /* unknown members ignored */
    ZTP_ASSERT_EQ_STR(ch.node, "r1a");
    json_decref(v);
    v = j("{\"router\":\"R1\"}");
    ZTP_ASSERT_EQ_INT(cw_challenge_parse(v, &ch, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "body: \"node\" is missing");
    json_decref(v);
    v = j("{\"router\":\"R1\",\"node\":\"r 1\"}");
    ZTP_ASSERT_EQ_INT(cw_challenge_parse(v, &ch, err, sizeof err), -1);
    json_decref(v);
    ZTP_ASSERT_EQ_INT(cw_challenge_parse(NULL, &ch, err, sizeof err), -1);

    struct cw_auth au;
    v = j("{\"challenge-id\":\"0123456789abcdef0123456789abcdef\",\"router\":\"R1\",\"node\":\"r1a\",\"mac\":\"ff\"}");
    ZTP_ASSERT_EQ_INT(cw_auth_parse(v, &au, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(au.mac_len, 2);
    json_decref(v);
    v = j("{\"challenge-id\":\"0123\",\"router\":\"R1\",\"node\":\"r1a\",\"mac\":\"ff\"}");
    ZTP_ASSERT_EQ_INT(cw_auth_parse(v, &au, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "body: \"challenge-id\" is 32 lower-case hex digits");
    json_decref(v);
    v = j("{\"challenge-id\":\"0123456789abcdef0123456789abcdef\",\"router\":\"R1\",\"node\":\"r1a\",\"mac\":5}");
    ZTP_ASSERT_EQ_INT(cw_auth_parse(v, &au, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "body: \"mac\" must be a string");
    json_decref(v);

    struct cw_csr cs;
    v = j("{\"csr-pem\":\"\"}");
    ZTP_ASSERT_EQ_INT(cw_csr_parse(v, &cs, err, sizeof err), -1);
    json_decref(v);
    v = j("{\"csr-pem\":\"-----BEGIN\"}");
    ZTP_ASSERT_EQ_INT(cw_csr_parse(v, &cs, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(cs.len, 10);
    json_decref(v);
    v = j("{\"csr-pem\":\"a\\u0000b\"}");   /* a NUL inside is refused, not truncated */
    ZTP_ASSERT_EQ_INT(cw_csr_parse(v, &cs, err, sizeof err), -1);
    json_decref(v);

    struct cw_ack ak;
    v = j("{\"task\":\"svr-config\",\"result\":\"failed\",\"detail\":\"hub unreachable\"}");
    ZTP_ASSERT_EQ_INT(cw_ack_parse(v, &ak, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(ak.task, TASK_SVR_CONFIG);
    CU_ASSERT_FALSE(ak.ok);
    ZTP_ASSERT_EQ_STR(ak.detail, "hub unreachable");
    json_decref(v);
    v = j("{\"task\":\"heartbeat\",\"result\":\"ok\"}");
    ZTP_ASSERT_EQ_INT(cw_ack_parse(v, &ak, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(ak.task, TASK_HEARTBEAT);
    CU_ASSERT_TRUE(ak.ok);
    json_decref(v);
    const char *bad[] = {"{\"task\":\"none\",\"result\":\"ok\"}", "{\"task\":\"reboot\",\"result\":\"ok\"}",
                         "{\"task\":\"migrate\",\"result\":\"done\"}", "{\"task\":\"migrate\"}",
                         "{\"task\":\"migrate\",\"result\":\"ok\",\"detail\":7}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = j(bad[i]);
        ZTP_ASSERT_EQ_INT(cw_ack_parse(v, &ak, err, sizeof err), -1);
        json_decref(v);
    }
}

int main(void)
{
    static const struct ztp_test tests[] = {
        {"challenges: single use, bound to the node, fresh nonces", test_single_use},
        {"challenges expire (injected clock)", test_expiry},
        {"lockout after max-failures, per node, reset on success", test_lockout},
        {"sessions by bearer token: identity, expiry, forgeries", test_sessions},
        {"Authorization: Bearer", test_bearer},
        {"request bodies", test_bodies},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"conductor auth", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
