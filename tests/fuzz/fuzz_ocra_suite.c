/* libFuzzer harness for the OCRA suite parser and the DataInput builder.
 *
 * Input: SUITE '\n' QUESTION, where the question's first byte (when present) also picks the
 * options: bit 0 counter value, bit 1 wrong-size PIN hash, bits 2-7 session length / 8. Properties:
 * a parsed suite keeps its exact text and parses again to the same struct, its fields are in
 * range; DataInput is exactly the size the suite implies; a response is digits (or hex) of the
 * suite's length. */
#include "ztp/ocra.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_hmac(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen)
{
    size_t n = ocra_hash_size(h);
    if (n == 0 || *outlen < n)
        abort();
    memset(out, 0, n);
    for (size_t i = 0; i < len; i++)   /* cheap, input dependent: exercises every truncation offset */
        out[i % n] = (uint8_t)(out[i % n] * 31u + msg[i]);
    *outlen = n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t slen = nl ? (size_t)(nl - data) : size;
    const char *q = nl ? (const char *)nl + 1 : "";
    size_t qlen = nl ? size - slen - 1 : 0;
    struct ocra_suite s, again;
    char err[256];
    uint8_t qbuf[OCRA_QUESTION_MAX];

    /* Question encodings on their own, whatever the suite. */
    (void)ocra_encode_question(OCRA_QN, q, qlen, qbuf, err, sizeof err);
    (void)ocra_encode_question(OCRA_QA, q, qlen, qbuf, err, sizeof err);
    (void)ocra_encode_question(OCRA_QH, q, qlen, qbuf, err, sizeof err);

    int rc = ocra_suite_parse((const char *)data, slen, &s, err, sizeof err);
    if (rc < 0) {
        if (rc <= -OCRA_E__COUNT || strlen(err) == 0)
            abort();
        return 0;
    }
    if (s.text_len != slen || memcmp(s.text, data, slen) != 0 || s.text[slen] != '\0')
        abort();
    if (ocra_suite_parse(s.text, s.text_len, &again, NULL, 0) != 0 || memcmp(&s, &again, sizeof s) != 0)
        abort();
    if ((s.digits != 0 && (s.digits < 4 || s.digits > 10)) || s.qlen < 4 || s.qlen > 64 ||
        ocra_hash_size(s.hash) == 0 || (s.pin && ocra_hash_size(s.pin_hash) == 0) ||
        (s.session && (s.session_len < 1 || s.session_len > OCRA_SESSION_MAX)) || (s.time && s.time_step == 0))
        abort();

    uint8_t opt = qlen ? (uint8_t)q[0] : 0, pin[OCRA_HASH_MAX] = { 0 }, sess[OCRA_SESSION_MAX] = { 0 };
    struct ocra_input in = {
        .counter = opt & 1 ? UINT64_MAX : 0,
        .question = q,
        .question_len = qlen,
        .pin_hash = pin,
        .pin_hash_len = ocra_hash_size(s.pin_hash) + (opt & 2 ? 1 : 0),
        .session = sess,
        .session_len = (size_t)(opt >> 2) * 8,
        .timestamp = UINT64_MAX,
    };
    uint8_t di[OCRA_DATAINPUT_MAX];
    int n = ocra_datainput(&s, &in, di, sizeof di, err, sizeof err);
    if (n >= 0) {
        size_t want = s.text_len + 1 + (s.counter ? 8 : 0) + OCRA_QUESTION_MAX + (s.pin ? ocra_hash_size(s.pin_hash) : 0) +
                      (s.session ? s.session_len : 0) + (s.time ? 8 : 0);
        if ((size_t)n != want || memcmp(di, s.text, s.text_len) != 0 || di[s.text_len] != 0)
            abort();
    }
    (void)ocra_check_challenge(&s, q, qlen, err, sizeof err);

    char resp[OCRA_RESPONSE_MAX];
    int r = ocra_compute(&s, &in, fake_hmac, NULL, resp, sizeof resp, err, sizeof err);
    if ((r >= 0) != (n >= 0))
        abort();
    if (r >= 0) {
        size_t rl = s.digits ? s.digits : 2 * ocra_hash_size(s.hash);
        if ((size_t)r != rl || strlen(resp) != rl || strspn(resp, s.digits ? "0123456789" : "0123456789abcdef") != rl)
            abort();
    }
    return 0;
}
