/* The router's TPM layer over the in-process libtpms TPM: TPM2_HMAC with the persisted OCRA key equals
 * OpenSSL's HMAC, the key survives a TPM reboot, sealed secrets round-trip and bad files are refused. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cunit_main.h"
#include "sealed.h"
#include "tcti_libtpms.h"
#include "tpm.h"
#include "ztp/daemon.h"
#include "ztp/ocra.h"

static char dir[64];
static char conf[96];

static void mkstate(void)
{
    snprintf(dir, sizeof dir, "/tmp/ztp-test-tpm-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(conf, sizeof conf, "libtpms:%s", dir);
}

static void rmstate(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            unlink(p);
        }
    closedir(dp);
    rmdir(d);
}

static struct tpm *open_tpm(const char *c)
{
    char err[256] = "";
    struct tpm *t = NULL;
    int r = tpm_open(&t, c, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  tpm_open %s: %s\n", c, err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
    return t;
}

static void provision(struct tpm *t, enum tpm_hash h, const uint8_t *key, size_t n)
{
    char err[256] = "";
    int r = tpm_provision_hmac_key(t, h, key, n, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  provision %s: %s\n", tpm_hash_name(h), err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

static size_t openssl_hmac(enum tpm_hash h, const uint8_t *key, size_t klen, const uint8_t *msg, size_t len,
                           uint8_t *out)
{
    static const char *names[] = {[TPM_HASH_SHA1] = "SHA1", [TPM_HASH_SHA256] = "SHA256",
                                  [TPM_HASH_SHA512] = "SHA512"};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)names[h], 0),
                           OSSL_PARAM_construct_end()};
    size_t n = 0;
    CU_ASSERT_FATAL(ctx && EVP_MAC_init(ctx, key, klen, params) == 1);
    CU_ASSERT_FATAL(EVP_MAC_update(ctx, msg, len) == 1);
    CU_ASSERT_FATAL(EVP_MAC_final(ctx, out, &n, TPM_HMAC_MAX) == 1);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return n;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* For each hash: the persisted key's TPM2_HMAC equals OpenSSL's HMAC for short messages, the
 * 1024-byte single-command limit and longer messages that take an HMAC sequence. */
static void test_hmac_matches_openssl(void)
{
    mkstate();
    struct tpm *t = open_tpm(conf);
    static const size_t lens[] = {0, 1, 3, 64, 1023, 1024, 1025, 2048, 3000, 5000};
    static uint8_t msg[5000];
    fill(msg, sizeof msg, 7);
    memcpy(msg, "12345678", 8); /* an RFC 4226-ish start for the short ones */
    static const struct {
        enum tpm_hash h;
        size_t klen;
    } cases[] = {{TPM_HASH_SHA1, 20}, {TPM_HASH_SHA256, 32}, {TPM_HASH_SHA512, 64}, {TPM_HASH_SHA256, 20}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t key[64];
        fill(key, cases[c].klen, (unsigned)c + 100);
        provision(t, cases[c].h, key, cases[c].klen);
        enum tpm_hash got;
        ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, &got), 1);
        ZTP_ASSERT_EQ_INT(got, cases[c].h);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            uint8_t want[TPM_HMAC_MAX], have[TPM_HMAC_MAX];
            size_t wn = openssl_hmac(cases[c].h, key, cases[c].klen, msg, lens[i], want);
            size_t hn = sizeof have;
            int r = tpm_hmac(t, cases[c].h, lens[i] ? msg : NULL, lens[i], have, &hn);
            ZTP_ASSERT_EQ_INT(r, 0);
            ZTP_ASSERT_EQ_INT(hn, wn);
            ZTP_ASSERT_EQ_INT(hn, tpm_hash_size(cases[c].h));
            if (r == 0 && memcmp(want, have, wn) != 0) {
                fprintf(stderr, "\n  %s key_len=%zu msg_len=%zu: TPM HMAC differs from OpenSSL\n",
                        tpm_hash_name(cases[c].h), cases[c].klen, lens[i]);
                CU_FAIL("HMAC mismatch");
            }
        }
        /* the key's scheme fixes the hash: another hash is refused */
        uint8_t out[TPM_HMAC_MAX];
        size_t on = sizeof out;
        enum tpm_hash other = cases[c].h == TPM_HASH_SHA1 ? TPM_HASH_SHA256 : TPM_HASH_SHA1;
        ZTP_ASSERT_EQ_INT(tpm_hmac(t, other, msg, 10, out, &on), -1);
        /* too small an output buffer is refused */
        on = tpm_hash_size(cases[c].h) - 1;
        ZTP_ASSERT_EQ_INT(tpm_hmac(t, cases[c].h, msg, 10, out, &on), -1);
    }
    tpm_close(t);
    rmstate(dir);
}

/* The persisted key survives a TPM "reboot" (terminate libtpms, re-init from the same NV state dir);
 * the NV files are mode 0600. */
static void test_key_survives_reboot(void)
{
    mkstate();
    static const uint8_t key[] = "12345678901234567890123456789012"; /* RFC 6287 32-byte seed */
    static const uint8_t q[] = "OCRA-1:HOTP-SHA256-8:QN08\0\0\0\0\0\0\0\0\0\x00\x00\x00\x00\x00\x00\x00\x00";
    uint8_t before[TPM_HMAC_MAX], after[TPM_HMAC_MAX], want[TPM_HMAC_MAX];
    size_t bn = sizeof before, an = sizeof after;

    struct tpm *t = open_tpm(conf);
    ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, NULL), 0);
    ZTP_ASSERT_EQ_INT(tpm_hmac(t, TPM_HASH_SHA256, q, sizeof q, before, &bn), -1); /* nothing provisioned */
    provision(t, TPM_HASH_SHA256, key, 32);
    bn = sizeof before;
    ZTP_ASSERT_EQ_INT(tpm_hmac(t, TPM_HASH_SHA256, q, sizeof q, before, &bn), 0);
    tpm_close(t);
    CU_ASSERT_FALSE(tcti_libtpms_active());

    char p[128];
    struct stat st;
    snprintf(p, sizeof p, "%s/permall", dir);
    ZTP_ASSERT_EQ_INT(stat(p, &st), 0);
    ZTP_ASSERT_EQ_INT(st.st_mode & 0777, 0600);

    t = open_tpm(conf);
    enum tpm_hash h = TPM_HASH_SHA1;
    ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, &h), 1);
    ZTP_ASSERT_EQ_INT(h, TPM_HASH_SHA256);
    ZTP_ASSERT_EQ_INT(tpm_hmac(t, TPM_HASH_SHA256, q, sizeof q, after, &an), 0);
    ZTP_ASSERT_EQ_INT(an, 32);
    CU_ASSERT_EQUAL(memcmp(before, after, 32), 0);
    ZTP_ASSERT_EQ_INT(openssl_hmac(TPM_HASH_SHA256, key, 32, q, sizeof q, want), 32);
    CU_ASSERT_EQUAL(memcmp(want, after, 32), 0);
    tpm_close(t);
    rmstate(dir);
}

/* libtpms is one TPM per process: a second in-process TPM is refused while one is open. Bad
 * configurations fail cleanly. */
static void test_open_errors(void)
{
    char err[256] = "";
    struct tpm *t = open_tpm("libtpms"), *t2 = NULL;
    CU_ASSERT_TRUE(tcti_libtpms_active());
    ZTP_ASSERT_EQ_INT(tpm_open(&t2, "libtpms", err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(t2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "one TPM per process"));
    tpm_close(t);
    CU_ASSERT_FALSE(tcti_libtpms_active());

    err[0] = 0;
    ZTP_ASSERT_EQ_INT(tpm_open(&t2, "libtpms:/nonexistent/ztp-tpm", err, sizeof err), -1);
    CU_ASSERT_TRUE(err[0] != 0);
    CU_ASSERT_FALSE(tcti_libtpms_active());
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(tpm_open(&t2, "swtpm:path=/nonexistent/ztp-tpm.sock", err, sizeof err), -1);
    CU_ASSERT_TRUE(err[0] != 0);
    ZTP_ASSERT_EQ_INT(tpm_open(&t2, "", err, sizeof err), -1);

    /* the memory-only TPM forgets everything at close */
    t = open_tpm("libtpms:");
    provision(t, TPM_HASH_SHA1, (const uint8_t *)"12345678901234567890", 20);
    tpm_close(t);
    t = open_tpm("libtpms");
    ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, NULL), 0);
    tpm_close(t);
}

/* First-boot manufacturing from a key file (ssr-node --manufacture-ocra-key): refused unless a
 * regular 0600 file of hex; then the key is in the TPM (its HMAC is OpenSSL's), the file is gone, and
 * a second boot leaves the TPM and any file alone. */
static void test_manufacture_from_file(void)
{
    mkstate();
    char path[128], link[140], err[256] = "";
    snprintf(path, sizeof path, "%s/ocra-key.hex", dir);
    snprintf(link, sizeof link, "%s/ocra-key.link", dir);
    static const char hex[] = "  3132333435363738393031323334353637383930313233343536373839303132\n";
    const uint8_t *key = (const uint8_t *)"12345678901234567890123456789012";
    struct tpm *t = open_tpm(conf);

    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, path, err, sizeof err), -1); /* missing */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
    CU_ASSERT_FATAL(atomic_write_file(path, hex, strlen(hex), 0644) == 0);
    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "mode 0644"));
    CU_ASSERT_PTR_NULL(strstr(err, "3132")); /* never the key */
    CU_ASSERT_EQUAL(access(path, F_OK), 0); /* a refused file stays */
    CU_ASSERT_FATAL(chmod(path, 0600) == 0);
    CU_ASSERT_FATAL(symlink(path, link) == 0);
    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, link, err, sizeof err), -1); /* a symlink */
    unlink(link);
    CU_ASSERT_FATAL(atomic_write_file(link, "zz\n", 3, 0600) == 0);
    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, link, err, sizeof err), -1); /* not hex */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not 1..128 bytes of hex"));
    unlink(link);
    ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, NULL), 0);

    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, path, err, sizeof err), 1);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* removed */
    enum tpm_hash h = TPM_HASH_SHA1;
    ZTP_ASSERT_EQ_INT(tpm_hmac_key_present(t, &h), 1);
    ZTP_ASSERT_EQ_INT(h, TPM_HASH_SHA256);
    uint8_t a[TPM_HMAC_MAX], b[TPM_HMAC_MAX];
    size_t an = sizeof a;
    CU_ASSERT_FATAL(tpm_hmac(t, TPM_HASH_SHA256, (const uint8_t *)"msg", 3, a, &an) == 0);
    size_t bn = openssl_hmac(TPM_HASH_SHA256, key, 32, (const uint8_t *)"msg", 3, b);
    ZTP_ASSERT_EQ_INT(an, bn);
    CU_ASSERT_EQUAL(memcmp(a, b, an), 0);
    tpm_close(t);

    /* the next boot: already manufactured; a stray key file is not read and stays */
    t = open_tpm(conf);
    CU_ASSERT_FATAL(atomic_write_file(path, "00\n", 3, 0600) == 0);
    ZTP_ASSERT_EQ_INT(tpm_manufacture_from_file(t, TPM_HASH_SHA256, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    an = sizeof a;
    CU_ASSERT_FATAL(tpm_hmac(t, TPM_HASH_SHA256, (const uint8_t *)"msg", 3, a, &an) == 0);
    CU_ASSERT_EQUAL(memcmp(a, b, an), 0);
    tpm_close(t);
    rmstate(dir);
}

static int file_contains(const char *path, const void *needle, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_file_max(path, 1 << 16, &buf, &len) < 0)
        return -1;
    int found = memmem(buf, len, needle, n) != NULL;
    free(buf);
    return found;
}

/* Sealed secret: round trip, file mode 0600, the plaintext is not in the file, survives a reboot. */
static void test_sealed_round_trip(void)
{
    mkstate();
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/conductor.psk.sealed", dir);
    static const char secret[] = "conductor-psk-0123456789abcdef-Zz";
    size_t slen = strlen(secret);

    struct tpm *t = open_tpm(conf);
    int r = sealed_write(t, path, (const uint8_t *)secret, slen, err, sizeof err);
    if (r)
        fprintf(stderr, "\n  sealed_write: %s\n", err);
    ZTP_ASSERT_EQ_INT(r, 0);
    struct stat st;
    ZTP_ASSERT_EQ_INT(stat(path, &st), 0);
    ZTP_ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ZTP_ASSERT_EQ_INT(file_contains(path, secret, slen), 0);
    ZTP_ASSERT_EQ_INT(file_contains(path, "conductor-psk", 13), 0);

    uint8_t out[SEALED_MAX];
    size_t n = 0;
    r = sealed_read(t, path, out, sizeof out, &n, err, sizeof err);
    if (r)
        fprintf(stderr, "\n  sealed_read: %s\n", err);
    ZTP_ASSERT_EQ_INT(r, 0);
    ZTP_ASSERT_EQ_INT(n, slen);
    CU_ASSERT_EQUAL(memcmp(out, secret, slen), 0);

    /* too small a buffer is an error, not a truncation */
    ZTP_ASSERT_EQ_INT(sealed_read(t, path, out, 4, &n, err, sizeof err), -1);
    /* limits */
    ZTP_ASSERT_EQ_INT(sealed_write(t, path, out, 0, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(sealed_write(t, path, out, SEALED_MAX + 1, err, sizeof err), -1);
    tpm_close(t);

    /* after a reboot */
    t = open_tpm(conf);
    memset(out, 0, sizeof out);
    n = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, path, out, sizeof out, &n, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(n, slen);
    CU_ASSERT_EQUAL(memcmp(out, secret, slen), 0);
    tpm_close(t);
    rmstate(dir);
}

/* Wrong files give a clean error: missing, garbage, truncated, trailing bytes, another TPM's blob. */
static void test_sealed_wrong_file(void)
{
    mkstate();
    char path[128], bad[128], err[256];
    snprintf(path, sizeof path, "%s/psk.sealed", dir);
    snprintf(bad, sizeof bad, "%s/bad.sealed", dir);
    uint8_t out[SEALED_MAX];
    size_t n = 0;

    struct tpm *t = open_tpm(conf);
    ZTP_ASSERT_EQ_INT(sealed_write(t, path, (const uint8_t *)"s3cr3t", 6, err, sizeof err), 0);
    char *blob = NULL;
    size_t blen = 0;
    ZTP_ASSERT_EQ_INT(read_file_max(path, 1 << 16, &blob, &blen), 0);

    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1); /* missing */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

    ZTP_ASSERT_EQ_INT(atomic_write_file(bad, "hello, not a blob\n", 18, 0600), 0);
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a sealed blob"));

    ZTP_ASSERT_EQ_INT(atomic_write_file(bad, blob, blen - 5, 0600), 0); /* truncated */
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a sealed blob"));

    ZTP_ASSERT_EQ_INT(atomic_write_file(bad, blob, 8, 0600), 0); /* magic only */
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1);

    char *longer = malloc(blen + 1);
    memcpy(longer, blob, blen);
    longer[blen] = 'x'; /* trailing byte */
    ZTP_ASSERT_EQ_INT(atomic_write_file(bad, longer, blen + 1, 0600), 0);
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a sealed blob"));

    memcpy(longer, blob, blen);
    longer[blen - 3] ^= 0x55; /* flipped bit in the encrypted private part: integrity check fails */
    ZTP_ASSERT_EQ_INT(atomic_write_file(bad, longer, blen, 0600), 0);
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, bad, out, sizeof out, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not load on this TPM"));
    free(longer);
    tpm_close(t);

    /* another TPM (fresh state, other owner seed) cannot load this node's blob */
    char dir2[64];
    snprintf(dir2, sizeof dir2, "%s", dir);
    mkstate();
    t = open_tpm(conf);
    err[0] = 0;
    ZTP_ASSERT_EQ_INT(sealed_read(t, path, out, sizeof out, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not load on this TPM"));
    tpm_close(t);
    free(blob);
    rmstate(dir);
    rmstate(dir2);
}

/* OCRA responses computed by the TPM (ocra_compute with the tpm_ocra_hmac callback) match RFC 6287
 * Appendix C vectors and the in-memory OpenSSL callback. */
static void test_ocra_in_tpm(void)
{
    static const struct {
        const char *suite, *seed, *q;
        uint64_t counter;
        const char *want;
    } v[] = {
        {"OCRA-1:HOTP-SHA1-6:QN08", "12345678901234567890", "00000000", 0, "237653"},
        {"OCRA-1:HOTP-SHA1-6:QN08", "12345678901234567890", "11111111", 0, "243178"},
        {"OCRA-1:HOTP-SHA512-8:C-QN08",
         "1234567890123456789012345678901234567890123456789012345678901234", "11111111", 1, "63947962"},
    };
    struct tpm *t = open_tpm("libtpms");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct ocra_suite s;
        char err[256] = "", resp[OCRA_RESPONSE_MAX], resp2[OCRA_RESPONSE_MAX];
        ZTP_ASSERT_EQ_INT(ocra_suite_parse(v[i].suite, strlen(v[i].suite), &s, err, sizeof err), 0);
        enum tpm_hash h;
        ZTP_ASSERT_EQ_INT(tpm_hash_from_ocra(s.hash, &h), 0);
        provision(t, h, (const uint8_t *)v[i].seed, strlen(v[i].seed));
        struct ocra_input in = {.counter = v[i].counter, .question = v[i].q, .question_len = strlen(v[i].q)};
        int n = ocra_compute(&s, &in, tpm_ocra_hmac, t, resp, sizeof resp, err, sizeof err);
        if (n < 0)
            fprintf(stderr, "\n  ocra_compute %s: %s\n", v[i].suite, err);
        ZTP_ASSERT_EQ_INT(n, (int)strlen(v[i].want));
        ZTP_ASSERT_EQ_STR(n > 0 ? resp : "", v[i].want);
        struct ocra_key k = {(const uint8_t *)v[i].seed, strlen(v[i].seed)};
        ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp2, sizeof resp2, err, sizeof err), n);
        ZTP_ASSERT_EQ_STR(resp2, v[i].want);
    }
    /* a suite whose hash is not the key's fails cleanly */
    struct ocra_suite s;
    char err[256] = "", resp[OCRA_RESPONSE_MAX];
    ZTP_ASSERT_EQ_INT(ocra_suite_parse("OCRA-1:HOTP-SHA256-8:QN08", 25, &s, err, sizeof err), 0);
    struct ocra_input in = {.question = "00000000", .question_len = 8};
    CU_ASSERT_TRUE(ocra_compute(&s, &in, tpm_ocra_hmac, t, resp, sizeof resp, err, sizeof err) < 0);
    tpm_close(t);
}

static const struct ztp_test tpm_tests[] = {
    {"ocra_in_tpm", test_ocra_in_tpm},
    {"hmac_matches_openssl", test_hmac_matches_openssl},
    {"key_survives_reboot", test_key_survives_reboot},
    {"open_errors", test_open_errors},
    {"manufacture_from_file", test_manufacture_from_file},
    {NULL, NULL},
};
static const struct ztp_test sealed_tests[] = {
    {"round_trip", test_sealed_round_trip},
    {"wrong_file", test_sealed_wrong_file},
    {NULL, NULL},
};
static const struct ztp_suite suites[] = {
    {"tpm", tpm_tests},
    {"sealed", sealed_tests},
    {NULL, NULL},
};

int main(void)
{
    return ztp_cunit_run(suites);
}
