/* OCRA (RFC 6287): every test vector of Appendix C, the suite parser's refusals, the question
 * encodings, DataInput layout, and the HMAC callback seam. */
#include "cunit_main.h"
#include "ztp/ocra.h"

#include <string.h>

/* Appendix C keys: ASCII "1234567890..." of 20, 32 and 64 bytes. */
#define SEED20 "12345678901234567890"
#define SEED32 "12345678901234567890123456789012"
#define SEED64 "1234567890123456789012345678901234567890123456789012345678901234"
/* PIN "1234" hashed with SHA1 (Appendix C: 7110eda4d09e062aa5e4a390b0a572ac0d2c0220). */
static const uint8_t PIN1234_SHA1[20] = { 0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4,
                                          0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20 };
/* Appendix C timestamp: "132d0b6" minutes = 2008-03-25 12:06:00 UTC. */
#define T_132D0B6 0x132d0b6ull

struct vec {
    const char *suite, *key;
    uint64_t counter;
    const char *q;
    bool pin;
    uint64_t t;
    const char *expect;
};

static void run_vec(const struct vec *v)
{
    struct ocra_suite s;
    char err[200] = "", resp[OCRA_RESPONSE_MAX];
    int rc = ocra_suite_parse(v->suite, strlen(v->suite), &s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\n  %s: %s\n", v->suite, err);
    ZTP_ASSERT_EQ_INT(rc, 0);
    if (rc)
        return;
    struct ocra_key k = { (const uint8_t *)v->key, strlen(v->key) };
    struct ocra_input in = { .counter = v->counter, .question = v->q, .question_len = strlen(v->q),
                             .pin_hash = v->pin ? PIN1234_SHA1 : NULL, .pin_hash_len = v->pin ? 20 : 0,
                             .timestamp = v->t };
    rc = ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "\n  %s Q=%s: %s\n", v->suite, v->q, err);
    ZTP_ASSERT_EQ_INT(rc, (int)strlen(v->expect));
    if (rc > 0) {
        if (strcmp(resp, v->expect) != 0)
            fprintf(stderr, "\n  %s C=%llu Q=%s\n", v->suite, (unsigned long long)v->counter, v->q);
        ZTP_ASSERT_EQ_STR(resp, v->expect);
    }
}

static void run_vecs(const struct vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_vec(&v[i]);
}
#define RUN(tab) run_vecs(tab, sizeof tab / sizeof tab[0])

/* C.1 One-Way Challenge Response. */
static void test_oneway_sha1_qn08(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "00000000", false, 0, "237653" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "11111111", false, 0, "243178" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "22222222", false, 0, "653583" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "33333333", false, 0, "740991" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "44444444", false, 0, "608993" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "55555555", false, 0, "388898" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "66666666", false, 0, "816933" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "77777777", false, 0, "224598" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "88888888", false, 0, "750600" },
        { "OCRA-1:HOTP-SHA1-6:QN08", SEED20, 0, "99999999", false, 0, "294470" },
    };
    RUN(v);
}

static void test_oneway_sha256_c_qn08_psha1(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 0, "12345678", true, 0, "65347737" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 1, "12345678", true, 0, "86775851" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 2, "12345678", true, 0, "78192410" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 3, "12345678", true, 0, "71565254" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 4, "12345678", true, 0, "10104329" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 5, "12345678", true, 0, "65983500" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 6, "12345678", true, 0, "70069104" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 7, "12345678", true, 0, "91771096" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 8, "12345678", true, 0, "75011558" },
        { "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", SEED32, 9, "12345678", true, 0, "08522129" },
    };
    RUN(v);
}

static void test_oneway_sha256_qn08_psha1(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", SEED32, 0, "00000000", true, 0, "83238735" },
        { "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", SEED32, 0, "11111111", true, 0, "01501458" },
        { "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", SEED32, 0, "22222222", true, 0, "17957585" },
        { "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", SEED32, 0, "33333333", true, 0, "86776967" },
        { "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", SEED32, 0, "44444444", true, 0, "86807031" },
    };
    RUN(v);
}

static void test_oneway_sha512_c_qn08(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 0, "00000000", false, 0, "07016083" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 1, "11111111", false, 0, "63947962" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 2, "22222222", false, 0, "70123924" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 3, "33333333", false, 0, "25341727" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 4, "44444444", false, 0, "33203315" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 5, "55555555", false, 0, "34205738" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 6, "66666666", false, 0, "44343969" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 7, "77777777", false, 0, "51946085" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 8, "88888888", false, 0, "20403879" },
        { "OCRA-1:HOTP-SHA512-8:C-QN08", SEED64, 9, "99999999", false, 0, "31409299" },
    };
    RUN(v);
}

static void test_oneway_sha512_qn08_t1m(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA512-8:QN08-T1M", SEED64, 0, "00000000", false, T_132D0B6, "95209754" },
        { "OCRA-1:HOTP-SHA512-8:QN08-T1M", SEED64, 0, "11111111", false, T_132D0B6, "55907591" },
        { "OCRA-1:HOTP-SHA512-8:QN08-T1M", SEED64, 0, "22222222", false, T_132D0B6, "22048402" },
        { "OCRA-1:HOTP-SHA512-8:QN08-T1M", SEED64, 0, "33333333", false, T_132D0B6, "24218844" },
        { "OCRA-1:HOTP-SHA512-8:QN08-T1M", SEED64, 0, "44444444", false, T_132D0B6, "36209546" },
    };
    RUN(v);
    /* The timestamp is the Unix time in minutes: 2008-03-25 12:06:00 UTC. */
    struct ocra_suite s;
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(v[0].suite, strlen(v[0].suite), &s, NULL, 0), 0);
    ZTP_ASSERT_EQ_INT(s.time_step, 60);
    ZTP_ASSERT_EQ_INT(ocra_time_steps(&s, 1206446760ull), T_132D0B6);
    ZTP_ASSERT_EQ_INT(ocra_time_steps(&s, 1206446760ull + 59), T_132D0B6);
}

/* C.2 Mutual Challenge-Response: each response built from the two challenges with
 * ocra_mutual_question (server: client's then server's; client: server's then client's). */
struct mutual {
    const char *server_suite, *client_suite, *key;
    const char *cli, *srv;
    const char *server_expect, *client_expect;
};

static void run_mutual(const struct mutual *m)
{
    struct ocra_suite ss, cs;
    char q[2 * 64 + 1], resp[OCRA_RESPONSE_MAX], err[200] = "";
    struct ocra_key k = { (const uint8_t *)m->key, strlen(m->key) };
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(m->server_suite, strlen(m->server_suite), &ss, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(m->client_suite, strlen(m->client_suite), &cs, err, sizeof err), 0);

    int n = ocra_mutual_question(&ss, m->cli, strlen(m->cli), m->srv, strlen(m->srv), q, sizeof q, err, sizeof err);
    ZTP_ASSERT_EQ_INT(n, 16);
    struct ocra_input in = { .question = q, .question_len = (size_t)n };
    ZTP_ASSERT_EQ_INT(ocra_compute(&ss, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err), 8);
    ZTP_ASSERT_EQ_STR(resp, m->server_expect);

    n = ocra_mutual_question(&cs, m->srv, strlen(m->srv), m->cli, strlen(m->cli), q, sizeof q, err, sizeof err);
    ZTP_ASSERT_EQ_INT(n, 16);
    in = (struct ocra_input){ .question = q, .question_len = (size_t)n };
    if (cs.pin) {
        in.pin_hash = PIN1234_SHA1;
        in.pin_hash_len = sizeof PIN1234_SHA1;
    }
    ZTP_ASSERT_EQ_INT(ocra_compute(&cs, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err), 8);
    ZTP_ASSERT_EQ_STR(resp, m->client_expect);
}

static void test_mutual_sha256_qa08(void)
{
    static const struct mutual m[] = {
        { "OCRA-1:HOTP-SHA256-8:QA08", "OCRA-1:HOTP-SHA256-8:QA08", SEED32, "CLI22220", "SRV11110", "28247970", "15510767" },
        { "OCRA-1:HOTP-SHA256-8:QA08", "OCRA-1:HOTP-SHA256-8:QA08", SEED32, "CLI22221", "SRV11111", "01984843", "90175646" },
        { "OCRA-1:HOTP-SHA256-8:QA08", "OCRA-1:HOTP-SHA256-8:QA08", SEED32, "CLI22222", "SRV11112", "65387857", "33777207" },
        { "OCRA-1:HOTP-SHA256-8:QA08", "OCRA-1:HOTP-SHA256-8:QA08", SEED32, "CLI22223", "SRV11113", "03351211", "95285278" },
        { "OCRA-1:HOTP-SHA256-8:QA08", "OCRA-1:HOTP-SHA256-8:QA08", SEED32, "CLI22224", "SRV11114", "83412541", "28934924" },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        run_mutual(&m[i]);
}

static void test_mutual_sha512_qa08_psha1(void)
{
    static const struct mutual m[] = {
        { "OCRA-1:HOTP-SHA512-8:QA08", "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", SEED64, "CLI22220", "SRV11110", "79496648", "18806276" },
        { "OCRA-1:HOTP-SHA512-8:QA08", "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", SEED64, "CLI22221", "SRV11111", "76831980", "70020315" },
        { "OCRA-1:HOTP-SHA512-8:QA08", "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", SEED64, "CLI22222", "SRV11112", "12250499", "01600026" },
        { "OCRA-1:HOTP-SHA512-8:QA08", "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", SEED64, "CLI22223", "SRV11113", "90856481", "18951020" },
        { "OCRA-1:HOTP-SHA512-8:QA08", "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", SEED64, "CLI22224", "SRV11114", "12761449", "32528969" },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        run_mutual(&m[i]);
}

/* C.3 Plain Signature. */
static void test_signature_sha256_qa08(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA256-8:QA08", SEED32, 0, "SIG10000", false, 0, "53095496" },
        { "OCRA-1:HOTP-SHA256-8:QA08", SEED32, 0, "SIG11000", false, 0, "04110475" },
        { "OCRA-1:HOTP-SHA256-8:QA08", SEED32, 0, "SIG12000", false, 0, "31331128" },
        { "OCRA-1:HOTP-SHA256-8:QA08", SEED32, 0, "SIG13000", false, 0, "76028668" },
        { "OCRA-1:HOTP-SHA256-8:QA08", SEED32, 0, "SIG14000", false, 0, "46554205" },
    };
    RUN(v);
}

static void test_signature_sha512_qa10_t1m(void)
{
    static const struct vec v[] = {
        { "OCRA-1:HOTP-SHA512-8:QA10-T1M", SEED64, 0, "SIG1000000", false, T_132D0B6, "77537423" },
        { "OCRA-1:HOTP-SHA512-8:QA10-T1M", SEED64, 0, "SIG1100000", false, T_132D0B6, "31970405" },
        { "OCRA-1:HOTP-SHA512-8:QA10-T1M", SEED64, 0, "SIG1200000", false, T_132D0B6, "10235557" },
        { "OCRA-1:HOTP-SHA512-8:QA10-T1M", SEED64, 0, "SIG1300000", false, T_132D0B6, "95213541" },
        { "OCRA-1:HOTP-SHA512-8:QA10-T1M", SEED64, 0, "SIG1400000", false, T_132D0B6, "65360607" },
    };
    RUN(v);
}

/* The PIN hash of Appendix C comes out of ocra_pin_hash. */
static void test_pin_hash(void)
{
    struct ocra_suite s;
    uint8_t h[OCRA_HASH_MAX];
    const char *suite = "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1";
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    ZTP_ASSERT_EQ_INT(ocra_pin_hash(&s, "1234", 4, h, sizeof h), 20);
    CU_ASSERT(memcmp(h, PIN1234_SHA1, 20) == 0);
    suite = "OCRA-1:HOTP-SHA1-6:QN08";
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    ZTP_ASSERT_EQ_INT(ocra_pin_hash(&s, "1234", 4, h, sizeof h), -OCRA_E_PIN);
}

/* Parser: what a good suite turns into. */
static void test_parse_fields(void)
{
    struct ocra_suite s;
    char err[200] = "";
    const char *t = "OCRA-1:HOTP-SHA512-10:C-QH64-PSHA512-S512-T48H";
    ZTP_ASSERT_EQ_INT(ocra_suite_parse(t, strlen(t), &s, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(s.text, t);
    ZTP_ASSERT_EQ_INT(s.text_len, strlen(t));
    ZTP_ASSERT_EQ_INT(s.hash, OCRA_SHA512);
    ZTP_ASSERT_EQ_INT(s.digits, 10);
    CU_ASSERT(s.counter);
    ZTP_ASSERT_EQ_INT(s.qfmt, OCRA_QH);
    ZTP_ASSERT_EQ_INT(s.qlen, 64);
    CU_ASSERT(s.pin);
    ZTP_ASSERT_EQ_INT(s.pin_hash, OCRA_SHA512);
    CU_ASSERT(s.session);
    ZTP_ASSERT_EQ_INT(s.session_len, 512);
    CU_ASSERT(s.time);
    ZTP_ASSERT_EQ_INT(s.time_step, 48 * 3600);

    t = "OCRA-1:HOTP-SHA1-0:QA04-S001-T30S";
    ZTP_ASSERT_EQ_INT(ocra_suite_parse(t, strlen(t), &s, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(s.digits, 0);
    CU_ASSERT(!s.counter && !s.pin);
    ZTP_ASSERT_EQ_INT(s.qfmt, OCRA_QA);
    ZTP_ASSERT_EQ_INT(s.qlen, 4);
    ZTP_ASSERT_EQ_INT(s.session_len, 1);
    ZTP_ASSERT_EQ_INT(s.time_step, 30);

    /* The parser reads exactly len bytes: what follows is not part of the suite. */
    t = "OCRA-1:HOTP-SHA1-6:QN08-garbage";
    ZTP_ASSERT_EQ_INT(ocra_suite_parse(t, strlen("OCRA-1:HOTP-SHA1-6:QN08"), &s, err, sizeof err), 0);
    ZTP_ASSERT_EQ_STR(s.text, "OCRA-1:HOTP-SHA1-6:QN08");
}

/* Parser: every malformed or unsupported suite is refused, with the right code and a reason. */
static void test_parse_errors(void)
{
    static const struct {
        const char *suite;
        int err;
        const char *reason; /* a substring of the message */
    } bad[] = {
        { "", OCRA_E_FORMAT, "empty" },
        { "OCRA-1", OCRA_E_FORMAT, "Algorithm:CryptoFunction:DataInput" },
        { "OCRA-1:HOTP-SHA1-6", OCRA_E_FORMAT, "Algorithm:CryptoFunction:DataInput" },
        { "OCRA-1:HOTP-SHA1-6:QN08:X", OCRA_E_FORMAT, "more than three" },
        { "OCRA-1:HOTP-SHA1-6:QN08-PSHA1-S064-T1M-S064-T1M-S064-T1M-S064-T1M-", OCRA_E_FORMAT, "longer than" },
        { "OCRA-2:HOTP-SHA1-6:QN08", OCRA_E_VERSION, "only OCRA-1" },
        { "OCRA-10:HOTP-SHA1-6:QN08", OCRA_E_VERSION, "only OCRA-1" },
        { "OCRB-1:HOTP-SHA1-6:QN08", OCRA_E_VERSION, "not OCRA-1" },
        { "ocra-1:HOTP-SHA1-6:QN08", OCRA_E_VERSION, "not OCRA-1" },
        { "OCRA-1:TOTP-SHA1-6:QN08", OCRA_E_CRYPTO, "not HOTP" },
        { "OCRA-1:HOTP:QN08", OCRA_E_CRYPTO, "not HOTP" },
        { "OCRA-1:HOTP-SHA1:QN08", OCRA_E_CRYPTO, "no truncation" },
        { "OCRA-1:HOTP-MD5-6:QN08", OCRA_E_HASH, "unknown hash \"MD5\"" },
        { "OCRA-1:HOTP-SHA384-6:QN08", OCRA_E_HASH, "unknown hash" },
        { "OCRA-1:HOTP-sha1-6:QN08", OCRA_E_HASH, "unknown hash" },
        { "OCRA-1:HOTP-SHA1-3:QN08", OCRA_E_DIGITS, "out of range" },
        { "OCRA-1:HOTP-SHA1-11:QN08", OCRA_E_DIGITS, "out of range" },
        { "OCRA-1:HOTP-SHA1-06:QN08", OCRA_E_DIGITS, "out of range" },
        { "OCRA-1:HOTP-SHA1-:QN08", OCRA_E_DIGITS, "out of range" },
        { "OCRA-1:HOTP-SHA1-6-1:QN08", OCRA_E_DIGITS, "out of range" },
        { "OCRA-1:HOTP-SHA1-6:", OCRA_E_DATAINPUT, "empty DataInput" },
        { "OCRA-1:HOTP-SHA1-6:C", OCRA_E_DATAINPUT, "no question" },
        { "OCRA-1:HOTP-SHA1-6:C-PSHA1-T1M", OCRA_E_DATAINPUT, "no question" },
        { "OCRA-1:HOTP-SHA1-6:S064", OCRA_E_DATAINPUT, "no question" },
        { "OCRA-1:HOTP-SHA1-6:QN08-C", OCRA_E_DATAINPUT, "out of order" },
        { "OCRA-1:HOTP-SHA1-6:QN08-QA08", OCRA_E_DATAINPUT, "repeated" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", OCRA_E_DATAINPUT, "out of order" },
        { "OCRA-1:HOTP-SHA1-6:QN08-X", OCRA_E_DATAINPUT, "unknown DataInput item" },
        { "OCRA-1:HOTP-SHA1-6:QN08-", OCRA_E_DATAINPUT, "empty DataInput item" },
        { "OCRA-1:HOTP-SHA1-6:CC-QN08", OCRA_E_DATAINPUT, "unknown DataInput item" },
        { "OCRA-1:HOTP-SHA1-6:QX08", OCRA_E_QFORMAT, "format A, N or H" },
        { "OCRA-1:HOTP-SHA1-6:Q", OCRA_E_QFORMAT, "format A, N or H" },
        { "OCRA-1:HOTP-SHA1-6:QN03", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QN65", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QN8", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QN008", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QN", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QNx8", OCRA_E_QLEN, "04..64" },
        { "OCRA-1:HOTP-SHA1-6:QN08-PMD5", OCRA_E_PIN, "PSHA1, PSHA256 or PSHA512" },
        { "OCRA-1:HOTP-SHA1-6:QN08-P", OCRA_E_PIN, "PSHA1" },
        { "OCRA-1:HOTP-SHA1-6:QN08-S000", OCRA_E_SESSION, "001..512" },
        { "OCRA-1:HOTP-SHA1-6:QN08-S513", OCRA_E_SESSION, "001..512" },
        { "OCRA-1:HOTP-SHA1-6:QN08-S64", OCRA_E_SESSION, "001..512" },
        { "OCRA-1:HOTP-SHA1-6:QN08-S", OCRA_E_SESSION, "001..512" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T", OCRA_E_TIME, "T[1-59]S" },
        { "OCRA-1:HOTP-SHA1-6:QN08-TM", OCRA_E_TIME, "T[1-59]S" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T0M", OCRA_E_TIME, "T[1-59]S" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T60S", OCRA_E_TIME, "T[1-59]S" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T49H", OCRA_E_TIME, "T[1-48]H" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T1D", OCRA_E_TIME, "T[1-59]S" },
        { "OCRA-1:HOTP-SHA1-6:QN08-T100S", OCRA_E_TIME, "T[1-59]S" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ocra_suite s;
        char err[200] = "";
        int rc = ocra_suite_parse(bad[i].suite, strlen(bad[i].suite), &s, err, sizeof err);
        if (rc != -bad[i].err || !strstr(err, bad[i].reason))
            fprintf(stderr, "\n  \"%s\": rc %d (%s), err \"%s\"; expected -%d with \"%s\"\n", bad[i].suite, rc,
                    ocra_strerror(rc), err, bad[i].err, bad[i].reason);
        ZTP_ASSERT_EQ_INT(rc, -bad[i].err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].reason));
    }
    /* An embedded NUL is refused; the parser never needs a terminator. */
    struct ocra_suite s;
    ZTP_ASSERT_EQ_INT(ocra_suite_parse("OCRA-1:HOTP-SHA1-6:QN08\0", 24, &s, NULL, 0), -OCRA_E_FORMAT);
    char exact[23];
    memcpy(exact, "OCRA-1:HOTP-SHA1-6:QN08", 23);
    ZTP_ASSERT_EQ_INT(ocra_suite_parse(exact, sizeof exact, &s, NULL, 0), 0);
    ZTP_ASSERT_EQ_STR(ocra_strerror(-OCRA_E_QLEN), "question length out of range");
    ZTP_ASSERT_EQ_STR(ocra_strerror(9999), "unknown OCRA error");
}

/* Question encodings in the 128-byte Q field. */
static void test_question_formats(void)
{
    uint8_t q[OCRA_QUESTION_MAX], want[OCRA_QUESTION_MAX];
    char err[200];

    /* QN: 12345678 = 0xBC614E, left-aligned. */
    memset(want, 0, sizeof want);
    want[0] = 0xbc, want[1] = 0x61, want[2] = 0x4e;
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "12345678", 8, q, err, sizeof err), 0);
    CU_ASSERT(memcmp(q, want, sizeof q) == 0);
    /* Leading zeros do not count; an odd count of hex digits leaves the low nibble zero: 4095 =
     * "FFF" -> FF F0, 1 -> "1" -> 10. */
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "00004095", 8, q, err, sizeof err), 0);
    CU_ASSERT(q[0] == 0xff && q[1] == 0xf0 && q[2] == 0);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "0001", 4, q, err, sizeof err), 0);
    CU_ASSERT(q[0] == 0x10 && q[1] == 0);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "00000000", 8, q, err, sizeof err), 0);
    memset(want, 0, sizeof want);
    CU_ASSERT(memcmp(q, want, sizeof q) == 0);
    /* Beyond 64 bits: 10^20 = 0x56BC75E2D63100000. */
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "100000000000000000000", 21, q, err, sizeof err), 0);
    static const uint8_t e20[] = { 0x56, 0xbc, 0x75, 0xe2, 0xd6, 0x31, 0x00, 0x00, 0x00 };
    CU_ASSERT(memcmp(q, e20, sizeof e20) == 0 && q[9] == 0);
    /* The longest: 128 nines (mutual QN64) = 10^128 - 1 = 0x24EE91...FFF, 107 hex digits (no
     * overflow), so the last digit is the high nibble of byte 53. */
    char nines[128];
    memset(nines, '9', sizeof nines);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, nines, sizeof nines, q, err, sizeof err), 0);
    CU_ASSERT(q[0] == 0x24 && q[1] == 0xee && q[2] == 0x91 && q[52] == 0xff && q[53] == 0xf0 && q[54] == 0);

    /* QA: the ASCII bytes. */
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QA, "SIG10000", 8, q, err, sizeof err), 0);
    CU_ASSERT(memcmp(q, "SIG10000", 8) == 0 && q[8] == 0 && q[127] == 0);
    /* QH: the digits as given, either case, odd count padded with a zero nibble. */
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QH, "a1B2c", 5, q, err, sizeof err), 0);
    CU_ASSERT(q[0] == 0xa1 && q[1] == 0xb2 && q[2] == 0xc0 && q[3] == 0);

    /* Characters outside the format. */
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QN, "1234567A", 8, q, err, sizeof err), -OCRA_E_CHALLENGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "character 8"));
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QH, "12g4", 4, q, err, sizeof err), -OCRA_E_CHALLENGE);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QA, "SIG 1000", 8, q, err, sizeof err), -OCRA_E_CHALLENGE);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QA, "SIG\0" "1000", 8, q, err, sizeof err), -OCRA_E_CHALLENGE);
    ZTP_ASSERT_EQ_INT(ocra_encode_question(OCRA_QA, "", 0, q, err, sizeof err), -OCRA_E_CHALLENGE_LEN);
}

/* Challenge lengths: one challenge 4..nn, a mutual pair 2 x (4..nn). */
static void test_challenge_checks(void)
{
    struct ocra_suite s;
    char err[200], q[64];
    const char *suite = "OCRA-1:HOTP-SHA256-8:QA08";
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    ZTP_ASSERT_EQ_INT(ocra_check_challenge(&s, "ABCD", 4, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(ocra_check_challenge(&s, "ABC", 3, err, sizeof err), -OCRA_E_CHALLENGE_LEN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "4..8"));
    ZTP_ASSERT_EQ_INT(ocra_check_challenge(&s, "ABCDEFGHI", 9, err, sizeof err), -OCRA_E_CHALLENGE_LEN);
    ZTP_ASSERT_EQ_INT(ocra_check_challenge(&s, "ABC-", 4, err, sizeof err), -OCRA_E_CHALLENGE);
    ZTP_ASSERT_EQ_INT(ocra_mutual_question(&s, "CLI1", 4, "SRV", 3, q, sizeof q, err, sizeof err),
                      -OCRA_E_CHALLENGE_LEN);
    ZTP_ASSERT_EQ_INT(ocra_mutual_question(&s, "CLI1", 4, "SRV1", 4, q, 8, err, sizeof err), -OCRA_E_NOBUFS);
    ZTP_ASSERT_EQ_INT(ocra_mutual_question(&s, "CLI1", 4, "SRV1", 4, q, 9, err, sizeof err), 8);
    ZTP_ASSERT_EQ_STR(q, "CLI1SRV1");

    /* DataInput takes 4..2*nn characters. */
    struct ocra_key k = { (const uint8_t *)SEED32, 32 };
    char resp[OCRA_RESPONSE_MAX];
    struct ocra_input in = { .question = "ABC", .question_len = 3 };
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err),
                      -OCRA_E_CHALLENGE_LEN);
    in.question = "ABCDEFGH12345678X";
    in.question_len = 17;
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err),
                      -OCRA_E_CHALLENGE_LEN);
    in.question = NULL;
    in.question_len = 8;
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err),
                      -OCRA_E_CHALLENGE_LEN);

    /* A random challenge has the suite's format and full length. */
    for (int f = 0; f < 3; f++) {
        const char *suites[] = { "OCRA-1:HOTP-SHA1-6:QN10", "OCRA-1:HOTP-SHA1-6:QA64", "OCRA-1:HOTP-SHA1-6:QH16" };
        char c[65];
        CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suites[f], strlen(suites[f]), &s, NULL, 0), 0);
        int n = ocra_make_challenge(&s, c, sizeof c);
        ZTP_ASSERT_EQ_INT(n, (int)s.qlen);
        ZTP_ASSERT_EQ_INT(ocra_check_challenge(&s, c, (size_t)n, err, sizeof err), 0);
        ZTP_ASSERT_EQ_INT(ocra_make_challenge(&s, c, s.qlen), -OCRA_E_NOBUFS);
    }
}

/* DataInput layout (section 5): suite | 00 | C | Q | P | S | T. */
static void test_datainput_layout(void)
{
    struct ocra_suite s;
    uint8_t di[OCRA_DATAINPUT_MAX], pin[32];
    char err[200];
    const char *suite = "OCRA-1:HOTP-SHA1-6:C-QH08-PSHA256-S004-T30S";
    const uint8_t sess[] = { 0xaa, 0xbb };
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    memset(pin, 0x5a, sizeof pin);
    struct ocra_input in = { .counter = 0x0102030405060708ull, .question = "DEADBEEF", .question_len = 8,
                             .pin_hash = pin, .pin_hash_len = 32, .session = sess, .session_len = 2,
                             .timestamp = 0x1122 };
    size_t sl = strlen(suite);
    int n = ocra_datainput(&s, &in, di, sizeof di, err, sizeof err);
    ZTP_ASSERT_EQ_INT(n, (int)(sl + 1 + 8 + 128 + 32 + 4 + 8));
    CU_ASSERT(memcmp(di, suite, sl) == 0 && di[sl] == 0);
    uint8_t *p = di + sl + 1;
    static const uint8_t c[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    CU_ASSERT(memcmp(p, c, 8) == 0);
    p += 8;
    CU_ASSERT(p[0] == 0xde && p[3] == 0xef && p[4] == 0 && p[127] == 0);
    p += 128;
    CU_ASSERT(memcmp(p, pin, 32) == 0);
    p += 32;
    CU_ASSERT(p[0] == 0xaa && p[1] == 0xbb && p[2] == 0 && p[3] == 0);
    p += 4;
    static const uint8_t t[8] = { 0, 0, 0, 0, 0, 0, 0x11, 0x22 };
    CU_ASSERT(memcmp(p, t, 8) == 0);

    /* Too small an output, wrong PIN hash size, too much session information. */
    ZTP_ASSERT_EQ_INT(ocra_datainput(&s, &in, di, (size_t)n - 1, err, sizeof err), -OCRA_E_NOBUFS);
    in.pin_hash_len = 20;
    ZTP_ASSERT_EQ_INT(ocra_datainput(&s, &in, di, sizeof di, err, sizeof err), -OCRA_E_PIN_HASH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "PSHA256 wants 32"));
    in.pin_hash_len = 32;
    in.session_len = 5;
    ZTP_ASSERT_EQ_INT(ocra_datainput(&s, &in, di, sizeof di, err, sizeof err), -OCRA_E_SESSION_LEN);
    /* An unparsed suite is refused. */
    struct ocra_suite zero = { 0 };
    ZTP_ASSERT_EQ_INT(ocra_datainput(&zero, &in, di, sizeof di, err, sizeof err), -OCRA_E_FORMAT);
}

/* The HMAC seam: the callback sees exactly DataInput and the suite's hash; its failure is reported. */
struct fake_hmac {
    int calls;
    enum ocra_hash h;
    uint8_t msg[OCRA_DATAINPUT_MAX];
    size_t len;
    int fail;
    size_t force_len;
};

static int fake_hmac_fn(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen)
{
    struct fake_hmac *f = ctx;
    f->calls++;
    f->h = h;
    memcpy(f->msg, msg, len);
    f->len = len;
    if (f->fail)
        return -1;
    /* Offset 0 (last byte 0x10), bytes 0..3 = 0x7fffffff: the largest 31-bit value. */
    memset(out, 0, 64);
    out[0] = 0xff, out[1] = 0xff, out[2] = 0xff, out[3] = 0xff;
    *outlen = f->force_len ? f->force_len : ocra_hash_size(h);
    out[*outlen - 1] = 0x10;
    return 0;
}

static void test_hmac_callback(void)
{
    struct ocra_suite s;
    char err[200], resp[OCRA_RESPONSE_MAX];
    uint8_t di[OCRA_DATAINPUT_MAX];
    const char *suite = "OCRA-1:HOTP-SHA256-10:QN08";
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    struct ocra_input in = { .question = "12345678", .question_len = 8 };
    static struct fake_hmac f;
    memset(&f, 0, sizeof f);
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, fake_hmac_fn, &f, resp, sizeof resp, err, sizeof err), 10);
    ZTP_ASSERT_EQ_STR(resp, "2147483647");   /* 10 digits: no modulo, zero padded to 10 */
    ZTP_ASSERT_EQ_INT(f.h, OCRA_SHA256);
    int n = ocra_datainput(&s, &in, di, sizeof di, err, sizeof err);
    ZTP_ASSERT_EQ_INT(f.len, n);
    CU_ASSERT(memcmp(f.msg, di, (size_t)n) == 0);
    /* The response buffer must hold digits + NUL. */
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, fake_hmac_fn, &f, resp, 10, err, sizeof err), -OCRA_E_NOBUFS);
    f.fail = 1;
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, fake_hmac_fn, &f, resp, sizeof resp, err, sizeof err), -OCRA_E_HMAC);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "HMAC-SHA256"));
    f.fail = 0;
    f.force_len = 20;   /* a SHA-1 sized MAC for a SHA-256 suite */
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, fake_hmac_fn, &f, resp, sizeof resp, err, sizeof err), -OCRA_E_HMAC);
    /* An empty key is refused by the OpenSSL callback. */
    struct ocra_key k = { (const uint8_t *)"", 0 };
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err), -OCRA_E_HMAC);
}

/* Truncation 0: the whole HMAC in hex (RFC 6287 section 5.1); 4 digits: modulo 10^4. */
static void test_truncation(void)
{
    uint8_t mac[20] = { 0 };
    char resp[OCRA_RESPONSE_MAX];
    mac[0] = 0x12, mac[1] = 0x34, mac[2] = 0x56, mac[3] = 0x78, mac[19] = 0xab;
    ZTP_ASSERT_EQ_INT(ocra_truncate(0, mac, sizeof mac, resp, sizeof resp), 40);
    ZTP_ASSERT_EQ_STR(resp, "12345678000000000000000000000000000000ab");
    ZTP_ASSERT_EQ_INT(ocra_truncate(0, mac, sizeof mac, resp, 40), -OCRA_E_NOBUFS);
    mac[19] = 0x00;   /* offset 0: 0x12345678 = 305419896 */
    ZTP_ASSERT_EQ_INT(ocra_truncate(4, mac, sizeof mac, resp, sizeof resp), 4);
    ZTP_ASSERT_EQ_STR(resp, "9896");
    ZTP_ASSERT_EQ_INT(ocra_truncate(3, mac, sizeof mac, resp, sizeof resp), -OCRA_E_DIGITS);

    /* Full-HMAC suite end to end: HMAC-SHA1 hex of the Appendix C SHA1 QN08 DataInput. */
    struct ocra_suite s;
    const char *suite = "OCRA-1:HOTP-SHA512-0:QN08";
    char err[200];
    CU_ASSERT_EQUAL_FATAL(ocra_suite_parse(suite, strlen(suite), &s, NULL, 0), 0);
    struct ocra_key k = { (const uint8_t *)SEED64, 64 };
    struct ocra_input in = { .question = "00000000", .question_len = 8 };
    ZTP_ASSERT_EQ_INT(ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err), 128);
    ZTP_ASSERT_EQ_INT(strspn(resp, "0123456789abcdef"), 128);

    CU_ASSERT(ocra_response_equal("12345678", 8, "12345678", 8));
    CU_ASSERT(!ocra_response_equal("12345678", 8, "12345679", 8));
    CU_ASSERT(!ocra_response_equal("1234567", 7, "12345678", 8));
}

static const struct ztp_test vectors_tests[] = {
    { "C.1 OCRA-1:HOTP-SHA1-6:QN08", test_oneway_sha1_qn08 },
    { "C.1 OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", test_oneway_sha256_c_qn08_psha1 },
    { "C.1 OCRA-1:HOTP-SHA256-8:QN08-PSHA1", test_oneway_sha256_qn08_psha1 },
    { "C.1 OCRA-1:HOTP-SHA512-8:C-QN08", test_oneway_sha512_c_qn08 },
    { "C.1 OCRA-1:HOTP-SHA512-8:QN08-T1M", test_oneway_sha512_qn08_t1m },
    { "C.2 mutual SHA256 QA08 (server, client)", test_mutual_sha256_qa08 },
    { "C.2 mutual SHA512 QA08 / QA08-PSHA1 (server, client)", test_mutual_sha512_qa08_psha1 },
    { "C.3 signature OCRA-1:HOTP-SHA256-8:QA08", test_signature_sha256_qa08 },
    { "C.3 signature OCRA-1:HOTP-SHA512-8:QA10-T1M", test_signature_sha512_qa10_t1m },
    { "PIN hash 1234", test_pin_hash },
    { NULL, NULL },
};

static const struct ztp_test parser_tests[] = {
    { "fields", test_parse_fields },
    { "errors", test_parse_errors },
    { NULL, NULL },
};

static const struct ztp_test input_tests[] = {
    { "question formats", test_question_formats },
    { "challenge checks", test_challenge_checks },
    { "DataInput layout", test_datainput_layout },
    { "HMAC callback", test_hmac_callback },
    { "truncation", test_truncation },
    { NULL, NULL },
};

int main(void)
{
    static const struct ztp_suite suites[] = {
        { "ocra_rfc6287_appendix_c", vectors_tests },
        { "ocra_suite_parser", parser_tests },
        { "ocra_datainput", input_tests },
        { NULL, NULL },
    };
    return ztp_cunit_run(suites);
}
