/* common/psk.c: the PSK challenge/response MACs of the conductor onboarding. A known-answer vector
 * computed independently with the openssl CLI:
 *   printf 'ztp-psk-v1|client|<nonce>|R1|r1a' | openssl dgst -sha256 -mac HMAC -macopt key:secret-of-R1
 * server and client MACs differ, every input is bound, bad nonces/names/secrets are refused, and the
 * comparison is false (not a crash, not a prefix match) on any length mismatch. */
#include <string.h>

#include "cunit_main.h"
#include "ztp/psk.h"

#define NONCE "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SECRET "secret-of-R1"
#define CLIENT_KAT "ac70f3768a87a5622f34489ba49783991d4b70bf8a8ac78e8a56f761c0fc68c5"
#define SERVER_KAT "8036a345d899376e5687fdee2c406988b8f59cec8980338f3913ce6db4fe5d11"

static int mac(enum psk_role role, const char *secret, const char *nonce, const char *router, const char *node,
               char out[PSK_MAC_HEX + 1], char *err, size_t errcap)
{
    return psk_mac(role, (const unsigned char *)secret, strlen(secret), nonce, router, node, out, PSK_MAC_HEX + 1,
                   err, errcap);
}

static void test_known_answer(void)
{
    char out[PSK_MAC_HEX + 1], err[128] = "";
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, "R1", "r1a", out, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(out, CLIENT_KAT);
    ZTP_ASSERT_EQ_INT(mac(PSK_SERVER, SECRET, NONCE, "R1", "r1a", out, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(out, SERVER_KAT);
}

static void test_bound_inputs(void)
{
    char c[PSK_MAC_HEX + 1], s[PSK_MAC_HEX + 1], x[PSK_MAC_HEX + 1], err[128];
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, NONCE, "R1", "r1a", c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mac(PSK_SERVER, SECRET, NONCE, "R1", "r1a", s, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, s) != 0);   /* a server MAC is no client MAC */
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, NONCE, "R1", "r1b", x, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, x) != 0);   /* another node */
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, NONCE, "R2", "r1a", x, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, x) != 0);   /* another router */
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, "secret-of-R2", NONCE, "R1", "r1a", x, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, x) != 0);   /* another secret */
    char n2[] = NONCE;
    n2[63] = 'e';
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, n2, "R1", "r1a", x, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, x) != 0);   /* another nonce */
    /* "R1.x" + "y" and "R1" + "x.y" are different messages: the separator is '|' */
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, NONCE, "R1.x", "y", c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(mac(PSK_CLIENT, SECRET, NONCE, "R1", "x.y", x, err, sizeof err), 0);
    CU_ASSERT(strcmp(c, x) != 0);
}

static void test_bad_inputs(void)
{
    char out[PSK_MAC_HEX + 1], err[128];
    err[0] = '\0';
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, "00ff", "R1", "r1a", out, err, sizeof err), -1);   /* short nonce */
    CU_ASSERT(strstr(err, "nonce") != NULL);
    char upper[] = NONCE;
    upper[10] = 'A';   /* upper-case hex is not the wire form */
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, upper, "R1", "r1a", out, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE "00", "R1", "r1a", out, err, sizeof err), -1);   /* long */
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NULL, "R1", "r1a", out, err, sizeof err), -1);
    err[0] = '\0';
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, "R 1", "r1a", out, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "names") != NULL);
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, "R1", "", out, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, "R1", "r1a|x", out, err, sizeof err), -1);
    char longname[PSK_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, longname, "r1a", out, err, sizeof err), -1);
    longname[PSK_NAME_MAX] = '\0';   /* exactly PSK_NAME_MAX is fine */
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, NONCE, longname, "r1a", out, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, "", NONCE, "R1", "r1a", out, err, sizeof err), -1);   /* empty secret */
    /* output buffer too small */
    ZTP_ASSERT_EQ_INT(psk_mac(PSK_CLIENT, (const unsigned char *)SECRET, strlen(SECRET), NONCE, "R1", "r1a", out,
                              PSK_MAC_HEX, err, sizeof err),
                      -1);
    CU_ASSERT_FALSE(psk_name_ok(NULL));
    CU_ASSERT_TRUE(psk_name_ok("SSR-0001_a.b"));
}

static void test_compare(void)
{
    const char *good = CLIENT_KAT;
    CU_ASSERT_TRUE(psk_mac_equal(good, good, PSK_MAC_HEX));
    CU_ASSERT_FALSE(psk_mac_equal(good, good, PSK_MAC_HEX - 1));   /* a prefix is not a match */
    char longer[PSK_MAC_HEX + 3];
    memcpy(longer, good, PSK_MAC_HEX);
    memcpy(longer + PSK_MAC_HEX, "00", 3);
    CU_ASSERT_FALSE(psk_mac_equal(good, longer, PSK_MAC_HEX + 2));
    CU_ASSERT_FALSE(psk_mac_equal(good, "", 0));
    CU_ASSERT_FALSE(psk_mac_equal(good, NULL, 0));
    CU_ASSERT_FALSE(psk_mac_equal("abc", "abc", 3));   /* a short expected value is never a match */
    char flip[PSK_MAC_HEX + 1];
    memcpy(flip, good, sizeof flip);
    flip[PSK_MAC_HEX - 1] = flip[PSK_MAC_HEX - 1] == '0' ? '1' : '0';
    CU_ASSERT_FALSE(psk_mac_equal(good, flip, PSK_MAC_HEX));
    CU_ASSERT_FALSE(psk_mac_equal(good, SERVER_KAT, PSK_MAC_HEX));
}

static void test_nonce(void)
{
    char a[PSK_NONCE_HEX + 1], b[PSK_NONCE_HEX + 1], out[PSK_MAC_HEX + 1], err[128];
    ZTP_ASSERT_EQ_INT(psk_nonce(a, sizeof a), 0);
    ZTP_ASSERT_EQ_INT(psk_nonce(b, sizeof b), 0);
    ZTP_ASSERT_EQ_INT(strlen(a), PSK_NONCE_HEX);
    CU_ASSERT(strcmp(a, b) != 0);
    ZTP_ASSERT_EQ_INT(mac(PSK_CLIENT, SECRET, a, "R1", "r1a", out, err, sizeof err), 0);   /* usable as is */
    ZTP_ASSERT_EQ_INT(psk_nonce(a, PSK_NONCE_HEX), -1);
}

static const struct ztp_test psk_tests[] = {
    {"known-answer vector (openssl dgst)", test_known_answer},
    {"role, router, node, secret and nonce are all bound", test_bound_inputs},
    {"bad nonce, names, secret, buffer", test_bad_inputs},
    {"constant-time compare, length mismatch", test_compare},
    {"fresh nonces", test_nonce},
    {NULL, NULL},
};

int main(void)
{
    static const struct ztp_suite suites[] = {{"psk", psk_tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
