/* OCRA (RFC 6287): suite parser, DataInput builder, truncation, the OpenSSL HMAC callback. */
#include "ztp/ocra.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const ocra_errstr[OCRA_E__COUNT] = {
    [OCRA_OK] = "ok",
    [OCRA_E_FORMAT] = "malformed OCRA suite",
    [OCRA_E_VERSION] = "unsupported OCRA version",
    [OCRA_E_CRYPTO] = "bad crypto function",
    [OCRA_E_HASH] = "unknown hash",
    [OCRA_E_DIGITS] = "truncation out of range",
    [OCRA_E_DATAINPUT] = "bad DataInput",
    [OCRA_E_QFORMAT] = "bad question format",
    [OCRA_E_QLEN] = "question length out of range",
    [OCRA_E_PIN] = "bad PIN hash (P)",
    [OCRA_E_SESSION] = "bad session length (S)",
    [OCRA_E_TIME] = "bad time step (T)",
    [OCRA_E_CHALLENGE] = "bad challenge character",
    [OCRA_E_CHALLENGE_LEN] = "bad challenge length",
    [OCRA_E_PIN_HASH] = "bad PIN hash length",
    [OCRA_E_SESSION_LEN] = "bad session information length",
    [OCRA_E_NOBUFS] = "buffer too small",
    [OCRA_E_HMAC] = "HMAC failed",
};

const char *ocra_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err >= OCRA_E__COUNT)
        return "unknown OCRA error";
    return ocra_errstr[err];
}

/* Write a reason into err and return -code. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t cap, enum ocra_err code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -(int)code;
}

const char *ocra_hash_name(enum ocra_hash h)
{
    switch (h) {
    case OCRA_SHA1: return "SHA1";
    case OCRA_SHA256: return "SHA256";
    case OCRA_SHA512: return "SHA512";
    }
    return "?";
}

size_t ocra_hash_size(enum ocra_hash h)
{
    switch (h) {
    case OCRA_SHA1: return 20;
    case OCRA_SHA256: return 32;
    case OCRA_SHA512: return 64;
    }
    return 0;
}

/* A field of the suite: [p, p+len). */
struct span {
    const char *p;
    size_t len;
};

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal of exactly 1..maxdigits digits; -1 otherwise. */
static long span_num(struct span s, size_t maxdigits)
{
    long v = 0;
    if (s.len == 0 || s.len > maxdigits)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i]))
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    return v;
}

static int parse_hash(struct span s, enum ocra_hash *h)
{
    if (span_eq(s, "SHA1"))
        *h = OCRA_SHA1;
    else if (span_eq(s, "SHA256"))
        *h = OCRA_SHA256;
    else if (span_eq(s, "SHA512"))
        *h = OCRA_SHA512;
    else
        return -1;
    return 0;
}

/* Split [p, end) at the first `sep`; returns the head, advances *p past the separator (or to end). */
static struct span next_field(const char **p, const char *end, char sep, bool *found)
{
    struct span s = { *p, 0 };
    const char *q = memchr(*p, sep, (size_t)(end - *p));
    *found = q != NULL;
    if (!q)
        q = end;
    s.len = (size_t)(q - *p);
    *p = q == end ? end : q + 1;
    return s;
}

static int parse_crypto(struct span f, struct ocra_suite *s, char *err, size_t cap)
{
    const char *p = f.p, *end = f.p + f.len;
    bool found;
    struct span hotp = next_field(&p, end, '-', &found);
    if (!span_eq(hotp, "HOTP") || !found)
        return fail(err, cap, OCRA_E_CRYPTO, "crypto function \"%.*s\" is not HOTP-<hash>-<digits>", (int)f.len, f.p);
    struct span hash = next_field(&p, end, '-', &found);
    if (!found)
        return fail(err, cap, OCRA_E_CRYPTO, "crypto function \"%.*s\" has no truncation", (int)f.len, f.p);
    if (parse_hash(hash, &s->hash) < 0)
        return fail(err, cap, OCRA_E_HASH, "unknown hash \"%.*s\" (SHA1, SHA256 or SHA512)", (int)hash.len, hash.p);
    struct span digits = { p, (size_t)(end - p) };
    long d = span_num(digits, 2);
    /* "0", "4".."9", "10": no leading zero, nothing after. */
    if (d < 0 || (digits.len == 2 && digits.p[0] == '0') || (d != 0 && (d < 4 || d > 10)))
        return fail(err, cap, OCRA_E_DIGITS, "truncation \"%.*s\" out of range (0 or 4..10)", (int)digits.len,
                    digits.p);
    s->digits = (unsigned)d;
    return 0;
}

/* DataInput items in the only order RFC 6287 section 6.3 allows: [C] Q [P] [S] [T]. */
enum { ITEM_C, ITEM_Q, ITEM_P, ITEM_S, ITEM_T };

static int parse_item(struct span it, int *last, struct ocra_suite *s, char *err, size_t cap)
{
    int kind;
    switch (it.len ? it.p[0] : '\0') {
    case 'C': kind = ITEM_C; break;
    case 'Q': kind = ITEM_Q; break;
    case 'P': kind = ITEM_P; break;
    case 'S': kind = ITEM_S; break;
    case 'T': kind = ITEM_T; break;
    case '\0':
        return fail(err, cap, OCRA_E_DATAINPUT, "empty DataInput item (stray '-')");
    default:
        return fail(err, cap, OCRA_E_DATAINPUT, "unknown DataInput item \"%.*s\" (C, Q, P, S, T)", (int)it.len, it.p);
    }
    if (kind <= *last)
        return fail(err, cap, OCRA_E_DATAINPUT, "DataInput item \"%.*s\" repeated or out of order ([C-]Q[-P][-S][-T])",
                    (int)it.len, it.p);
    *last = kind;
    struct span rest = { it.p + 1, it.len - 1 };
    switch (kind) {
    case ITEM_C:
        if (rest.len != 0)
            return fail(err, cap, OCRA_E_DATAINPUT, "unknown DataInput item \"%.*s\" (counter is \"C\")", (int)it.len,
                        it.p);
        s->counter = true;
        return 0;
    case ITEM_Q: {
        if (rest.len == 0 || (rest.p[0] != 'A' && rest.p[0] != 'N' && rest.p[0] != 'H'))
            return fail(err, cap, OCRA_E_QFORMAT, "question \"%.*s\" has no format A, N or H", (int)it.len, it.p);
        s->qfmt = (enum ocra_qfmt)rest.p[0];
        struct span nn = { rest.p + 1, rest.len - 1 };
        long n = nn.len == 2 ? span_num(nn, 2) : -1;
        if (n < 4 || n > 64)
            return fail(err, cap, OCRA_E_QLEN, "question length \"%.*s\" out of range (two digits, 04..64)",
                        (int)nn.len, nn.p);
        s->qlen = (unsigned)n;
        return 0;
    }
    case ITEM_P:
        if (parse_hash(rest, &s->pin_hash) < 0)
            return fail(err, cap, OCRA_E_PIN, "PIN hash \"%.*s\" is not PSHA1, PSHA256 or PSHA512", (int)it.len, it.p);
        s->pin = true;
        return 0;
    case ITEM_S: {
        long n = rest.len == 3 ? span_num(rest, 3) : -1;
        if (n < 1 || n > OCRA_SESSION_MAX)
            return fail(err, cap, OCRA_E_SESSION, "session \"%.*s\" is not Snnn with nnn in 001..512", (int)it.len,
                        it.p);
        s->session = true;
        s->session_len = (unsigned)n;
        return 0;
    }
    default: { /* ITEM_T */
        struct span num = { rest.p, rest.len ? rest.len - 1 : 0 };
        char unit = rest.len ? rest.p[rest.len - 1] : '\0';
        long n = span_num(num, 2), max = unit == 'H' ? 48 : 59;
        unsigned mult = unit == 'S' ? 1 : unit == 'M' ? 60 : 3600;
        if ((unit != 'S' && unit != 'M' && unit != 'H') || n < 1 || n > max)
            return fail(err, cap, OCRA_E_TIME, "time step \"%.*s\" is not T[1-59]S, T[1-59]M or T[1-48]H", (int)it.len,
                        it.p);
        s->time = true;
        s->time_step = (unsigned)n * mult;
        return 0;
    }
    }
}

int ocra_suite_parse(const char *buf, size_t len, struct ocra_suite *s, char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    if (len == 0)
        return fail(err, errcap, OCRA_E_FORMAT, "empty OCRA suite");
    if (len > OCRA_SUITE_MAX)
        return fail(err, errcap, OCRA_E_FORMAT, "OCRA suite longer than %d characters", OCRA_SUITE_MAX);
    if (memchr(buf, '\0', len))
        return fail(err, errcap, OCRA_E_FORMAT, "OCRA suite contains a NUL byte");

    const char *p = buf, *end = buf + len;
    bool found;
    struct span algo = next_field(&p, end, ':', &found);
    if (!found)
        return fail(err, errcap, OCRA_E_FORMAT, "OCRA suite \"%.*s\" is not Algorithm:CryptoFunction:DataInput",
                    (int)len, buf);
    struct span crypto = next_field(&p, end, ':', &found);
    if (!found)
        return fail(err, errcap, OCRA_E_FORMAT, "OCRA suite \"%.*s\" is not Algorithm:CryptoFunction:DataInput",
                    (int)len, buf);
    struct span data = { p, (size_t)(end - p) };
    if (memchr(data.p, ':', data.len))
        return fail(err, errcap, OCRA_E_FORMAT, "OCRA suite \"%.*s\" has more than three fields", (int)len, buf);

    if (algo.len < 5 || memcmp(algo.p, "OCRA-", 5) != 0)
        return fail(err, errcap, OCRA_E_VERSION, "algorithm \"%.*s\" is not OCRA-1", (int)algo.len, algo.p);
    if (!span_eq(algo, "OCRA-1"))
        return fail(err, errcap, OCRA_E_VERSION, "unsupported version \"%.*s\" (only OCRA-1)", (int)algo.len, algo.p);

    int rc = parse_crypto(crypto, s, err, errcap);
    if (rc < 0)
        return rc;

    int last = -1;
    const char *q = data.p, *dend = data.p + data.len;
    if (data.len == 0)
        return fail(err, errcap, OCRA_E_DATAINPUT, "empty DataInput (a question QA/QN/QHnn is required)");
    do {
        struct span it = next_field(&q, dend, '-', &found);   /* a trailing '-' yields an empty item */
        if ((rc = parse_item(it, &last, s, err, errcap)) < 0)
            return rc;
    } while (found);
    if (s->qlen == 0)   /* Q is the one mandatory item (C-PSHA1 has none) */
        return fail(err, errcap, OCRA_E_DATAINPUT, "DataInput \"%.*s\" has no question (QA/QN/QHnn)", (int)data.len,
                    data.p);
    memcpy(s->text, buf, len);
    s->text[len] = '\0';
    s->text_len = len;
    return 0;
}

static bool q_char_ok(enum ocra_qfmt fmt, char c)
{
    switch (fmt) {
    case OCRA_QN: return is_digit(c);
    case OCRA_QH: return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    case OCRA_QA: return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return false;
}

static int q_chars(enum ocra_qfmt fmt, const char *q, size_t len, char *err, size_t cap)
{
    static const char *const what[] = { ['A'] = "alphanumeric", ['N'] = "decimal", ['H'] = "hex" };
    for (size_t i = 0; i < len; i++)
        if (!q_char_ok(fmt, q[i]))
            return fail(err, cap, OCRA_E_CHALLENGE, "challenge character %zu (0x%02x) is not %s (Q%c)", i + 1,
                        (unsigned char)q[i], what[fmt], (char)fmt);
    return 0;
}

int ocra_check_challenge(const struct ocra_suite *s, const char *q, size_t len, char *err, size_t errcap)
{
    if (len < 4 || len > s->qlen)
        return fail(err, errcap, OCRA_E_CHALLENGE_LEN, "challenge of %zu characters, the suite wants 4..%u", len,
                    s->qlen);
    return q_chars(s->qfmt, q, len, err, errcap);
}

int ocra_mutual_question(const struct ocra_suite *s, const char *first, size_t first_len, const char *second,
                         size_t second_len, char *out, size_t cap, char *err, size_t errcap)
{
    int rc;
    if ((rc = ocra_check_challenge(s, first, first_len, err, errcap)) < 0 ||
        (rc = ocra_check_challenge(s, second, second_len, err, errcap)) < 0)
        return rc;
    if (first_len + second_len >= cap)
        return fail(err, errcap, OCRA_E_NOBUFS, "mutual question of %zu characters does not fit",
                    first_len + second_len);
    memcpy(out, first, first_len);
    memcpy(out + first_len, second, second_len);
    out[first_len + second_len] = '\0';
    return (int)(first_len + second_len);
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

int ocra_encode_question(enum ocra_qfmt fmt, const char *q, size_t len, uint8_t out[OCRA_QUESTION_MAX], char *err,
                         size_t errcap)
{
    memset(out, 0, OCRA_QUESTION_MAX);
    if (len == 0 || len > OCRA_QUESTION_MAX)
        return fail(err, errcap, OCRA_E_CHALLENGE_LEN, "question of %zu characters (1..%d)", len, OCRA_QUESTION_MAX);
    int rc = q_chars(fmt, q, len, err, errcap);
    if (rc < 0)
        return rc;
    switch (fmt) {
    case OCRA_QA:
        memcpy(out, q, len);
        return 0;
    case OCRA_QH: /* nibbles left-aligned: 128 characters fill the 128 bytes with room to spare */
        for (size_t i = 0; i < len; i++)
            out[i / 2] |= (uint8_t)(hexval(q[i]) << (i % 2 ? 0 : 4));
        return 0;
    case OCRA_QN: {
        /* Decimal to a big-endian binary number (10^128 < 2^426: 54 bytes), then its hex digits
         * without leading zeros, left-aligned by nibble (as BigInteger(q,10).toString(16) padded). */
        uint8_t num[56] = { 0 };
        for (size_t i = 0; i < len; i++) {
            unsigned carry = (unsigned)(q[i] - '0');
            for (size_t j = sizeof num; j-- > 0;) {
                unsigned v = num[j] * 10u + carry;
                num[j] = (uint8_t)v;
                carry = v >> 8;
            }
        }
        size_t nib = 0, first = 0;
        while (first < 2 * sizeof num && ((num[first / 2] >> (first % 2 ? 0 : 4)) & 0xf) == 0)
            first++;
        for (size_t i = first; i < 2 * sizeof num; i++, nib++) {
            unsigned v = (num[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
            out[nib / 2] |= (uint8_t)(v << (nib % 2 ? 0 : 4));
        }
        return 0;
    }
    }
    return fail(err, errcap, OCRA_E_QFORMAT, "unknown question format");
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

int ocra_datainput(const struct ocra_suite *s, const struct ocra_input *in, uint8_t *out, size_t cap, char *err,
                   size_t errcap)
{
    size_t need = s->text_len + 1 + (s->counter ? 8 : 0) + OCRA_QUESTION_MAX + (s->pin ? ocra_hash_size(s->pin_hash) : 0) +
                  (s->session ? s->session_len : 0) + (s->time ? 8 : 0);
    if (s->text_len == 0 || s->qlen == 0)
        return fail(err, errcap, OCRA_E_FORMAT, "suite not parsed");
    if (need > cap)
        return fail(err, errcap, OCRA_E_NOBUFS, "DataInput of %zu bytes does not fit in %zu", need, cap);
    if (!in->question || in->question_len < 4 || in->question_len > 2 * (size_t)s->qlen)
        return fail(err, errcap, OCRA_E_CHALLENGE_LEN,
                    "question of %zu characters, the suite wants 4..%u (or two challenges, up to %u, in mutual mode)",
                    in->question ? in->question_len : 0, s->qlen, 2 * s->qlen);

    size_t off = 0;
    memcpy(out, s->text, s->text_len);
    off += s->text_len;
    out[off++] = 0x00;
    if (s->counter) {
        put_be64(out + off, in->counter);
        off += 8;
    }
    int rc = ocra_encode_question(s->qfmt, in->question, in->question_len, out + off, err, errcap);
    if (rc < 0)
        return rc;
    off += OCRA_QUESTION_MAX;
    if (s->pin) {
        size_t hl = ocra_hash_size(s->pin_hash);
        if (!in->pin_hash || in->pin_hash_len != hl)
            return fail(err, errcap, OCRA_E_PIN_HASH, "PIN hash of %zu bytes, P%s wants %zu",
                        in->pin_hash ? in->pin_hash_len : 0, ocra_hash_name(s->pin_hash), hl);
        memcpy(out + off, in->pin_hash, hl);
        off += hl;
    }
    if (s->session) {
        if ((!in->session && in->session_len) || in->session_len > s->session_len)
            return fail(err, errcap, OCRA_E_SESSION_LEN, "session information of %zu bytes, the suite allows %u",
                        in->session_len, s->session_len);
        memset(out + off, 0, s->session_len);
        if (in->session_len)
            memcpy(out + off, in->session, in->session_len);
        off += s->session_len;
    }
    if (s->time) {
        put_be64(out + off, in->timestamp);
        off += 8;
    }
    return (int)off;
}

int ocra_hmac_openssl(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen)
{
    const struct ocra_key *k = ctx;
    const char *md = h == OCRA_SHA1 ? "SHA1" : h == OCRA_SHA256 ? "SHA256" : h == OCRA_SHA512 ? "SHA512" : NULL;
    if (!k || !k->key || k->len == 0 || !md)
        return -1;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)md, 0),
        OSSL_PARAM_construct_end(),
    };
    int ok = mctx && EVP_MAC_init(mctx, k->key, k->len, params) == 1 && EVP_MAC_update(mctx, msg, len) == 1 &&
             EVP_MAC_final(mctx, out, outlen, *outlen) == 1;
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

int ocra_truncate(unsigned digits, const uint8_t *mac, size_t maclen, char *resp, size_t cap)
{
    if (maclen < 20 || maclen > OCRA_HASH_MAX)
        return -OCRA_E_HMAC;
    if (digits == 0) {
        if (cap < 2 * maclen + 1)
            return -OCRA_E_NOBUFS;
        for (size_t i = 0; i < maclen; i++)
            snprintf(resp + 2 * i, 3, "%02x", mac[i]);
        return (int)(2 * maclen);
    }
    if (digits < 4 || digits > 10)
        return -OCRA_E_DIGITS;
    if (cap < digits + 1)
        return -OCRA_E_NOBUFS;
    unsigned off = mac[maclen - 1] & 0x0f;
    uint64_t bin = (uint64_t)(mac[off] & 0x7f) << 24 | (uint64_t)mac[off + 1] << 16 | (uint64_t)mac[off + 2] << 8 |
                   mac[off + 3];
    uint64_t mod = 1;
    for (unsigned i = 0; i < digits; i++)
        mod *= 10;
    snprintf(resp, cap, "%0*llu", (int)digits, (unsigned long long)(bin % mod));
    return (int)digits;
}

int ocra_compute(const struct ocra_suite *s, const struct ocra_input *in, ocra_hmac_fn hmac, void *hmac_ctx,
                 char *resp, size_t cap, char *err, size_t errcap)
{
    uint8_t di[OCRA_DATAINPUT_MAX], mac[OCRA_HASH_MAX];
    size_t maclen = sizeof mac;
    int n = ocra_datainput(s, in, di, sizeof di, err, errcap), rc;
    if (n < 0) {
        OPENSSL_cleanse(di, sizeof di);
        return n;
    }
    rc = hmac(hmac_ctx, s->hash, di, (size_t)n, mac, &maclen);
    OPENSSL_cleanse(di, sizeof di);
    if (rc != 0 || maclen != ocra_hash_size(s->hash)) {
        OPENSSL_cleanse(mac, sizeof mac);
        return fail(err, errcap, OCRA_E_HMAC, "HMAC-%s failed", ocra_hash_name(s->hash));
    }
    rc = ocra_truncate(s->digits, mac, maclen, resp, cap);
    OPENSSL_cleanse(mac, sizeof mac);
    if (rc < 0)
        return fail(err, errcap, (enum ocra_err)-rc, "%s", ocra_strerror(rc));
    return rc;
}

bool ocra_response_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

int ocra_pin_hash(const struct ocra_suite *s, const char *pin, size_t len, uint8_t *out, size_t cap)
{
    const char *md = ocra_hash_name(s->pin_hash);
    unsigned int n = 0;
    if (!s->pin || cap < ocra_hash_size(s->pin_hash))
        return -OCRA_E_PIN;
    EVP_MD *m = EVP_MD_fetch(NULL, md, NULL);
    int ok = m && EVP_Digest(pin, len, out, &n, m, NULL) == 1;
    EVP_MD_free(m);
    return ok ? (int)n : -OCRA_E_PIN;
}

uint64_t ocra_time_steps(const struct ocra_suite *s, uint64_t unix_time)
{
    return s->time && s->time_step ? unix_time / s->time_step : 0;
}

int ocra_make_challenge(const struct ocra_suite *s, char *out, size_t cap)
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static const char hex[] = "0123456789ABCDEF";
    size_t n = s->qlen;
    uint8_t r[64 * 2];
    if (n == 0 || n > 64 || cap < n + 1)
        return -OCRA_E_NOBUFS;
    if (RAND_bytes(r, (int)sizeof r) != 1)
        return -OCRA_E_HMAC;
    /* Rejection sampling keeps the digits uniform: refill when the pool runs out. */
    size_t used = 0, i = 0;
    unsigned radix = s->qfmt == OCRA_QN ? 10 : s->qfmt == OCRA_QH ? 16 : 62;
    unsigned limit = 256 - 256 % radix;
    while (i < n) {
        if (used == sizeof r) {
            if (RAND_bytes(r, (int)sizeof r) != 1)
                return -OCRA_E_HMAC;
            used = 0;
        }
        unsigned v = r[used++];
        if (v >= limit)
            continue;
        v %= radix;
        out[i++] = s->qfmt == OCRA_QA ? alnum[v] : hex[v];
    }
    out[n] = '\0';
    OPENSSL_cleanse(r, sizeof r);
    return (int)n;
}
