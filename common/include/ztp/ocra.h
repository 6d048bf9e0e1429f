/* OCRA, the OATH Challenge-Response Algorithm (RFC 6287), shared by the router (which computes its
 * responses in its TPM), mock-mist (which verifies them with OpenSSL) and ocra-tool.
 *
 *   suite     OCRA-1:HOTP-SHA1|SHA256|SHA512-0|4..10:[C-]QA|QN|QHnn[-PSHA1|PSHA256|PSHA512][-Snnn][-TnS|nM|nH]
 *   DataInput suite string | 0x00 | C (8 bytes) | Q (128 bytes) | P (hash of the PIN) | S (nnn bytes) | T (8)
 *   response  HMAC(K, DataInput), dynamically truncated to the suite's digits (RFC 4226 section 5.3);
 *             truncation 0 means no truncation: the response is the whole HMAC in lower-case hex.
 *
 * Everything here is pure: ocra_suite_parse() and ocra_datainput() work over bounded buffers, never
 * read past a length, and reject every malformed or unsupported suite or challenge with a negative
 * OCRA_E_* code plus (when err is given) a one-line reason. The HMAC step is a callback, so the key
 * can live in a TPM (the router) or in memory (ocra_hmac_openssl: tests, mock-mist, ocra-tool).
 *
 * Modes (RFC 6287 section 7): all three are ocra_compute() with a different question.
 *   one-way     Q = the server's challenge.
 *   mutual      server response: Q = client challenge | server challenge;
 *               client response: Q = server challenge | client challenge (ocra_mutual_question()).
 *               Each challenge is 4..nn characters, so Q may be up to 2*nn.
 *   signature   Q = the signature challenge (e.g. a hash of the transaction), 4..nn characters.
 *
 * Question encodings inside the 128-byte Q field, as in the RFC's reference code (the question is
 * turned into a hex string, left-aligned in 256 hex digits and zero padded on the right):
 *   QN  the decimal number converted to hex ("12345678" -> "BC614E"), then padded;
 *   QA  the ASCII bytes of the question;
 *   QH  the hex digits as given (an odd count leaves the last byte's low nibble 0).
 */
#ifndef ZTP_OCRA_H
#define ZTP_OCRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCRA_SUITE_MAX 64          /* longest suite string accepted ("...SHA512-10:C-QH64-PSHA512-S512-T59M" is 46) */
#define OCRA_QUESTION_MAX 128      /* Q field in DataInput, and the longest question text (mutual: 2 x 64) */
#define OCRA_SESSION_MAX 512       /* Snnn: 001..512 */
#define OCRA_HASH_MAX 64           /* SHA-512 */
#define OCRA_DATAINPUT_MAX (OCRA_SUITE_MAX + 1 + 8 + OCRA_QUESTION_MAX + OCRA_HASH_MAX + OCRA_SESSION_MAX + 8)
#define OCRA_RESPONSE_MAX (2 * OCRA_HASH_MAX + 1)   /* digits 0: full HMAC in hex, plus NUL */

enum ocra_hash { OCRA_SHA1 = 1, OCRA_SHA256, OCRA_SHA512 };
enum ocra_qfmt { OCRA_QA = 'A', OCRA_QN = 'N', OCRA_QH = 'H' };

enum ocra_err {
    OCRA_OK = 0,
    OCRA_E_FORMAT,        /* suite is not three ':'-separated fields, too long, or has a NUL */
    OCRA_E_VERSION,       /* algorithm is not OCRA-1 */
    OCRA_E_CRYPTO,        /* crypto function is not HOTP-<hash>-<digits> */
    OCRA_E_HASH,          /* unknown hash (only SHA1, SHA256, SHA512) */
    OCRA_E_DIGITS,        /* truncation not 0 or 4..10 */
    OCRA_E_DATAINPUT,     /* unknown, repeated or out-of-order DataInput item, or no Q */
    OCRA_E_QFORMAT,       /* question format not A, N or H */
    OCRA_E_QLEN,          /* question length not 04..64 */
    OCRA_E_PIN,           /* P is not PSHA1, PSHA256 or PSHA512 */
    OCRA_E_SESSION,       /* S is not Snnn with nnn in 001..512 */
    OCRA_E_TIME,          /* T is not T[1-59]S, T[1-59]M or T[1-48]H */
    OCRA_E_CHALLENGE,     /* a question character not allowed by the suite's format */
    OCRA_E_CHALLENGE_LEN, /* question too short or too long for the suite */
    OCRA_E_PIN_HASH,      /* PIN hash missing or not the size of the suite's P hash */
    OCRA_E_SESSION_LEN,   /* session information missing or longer than the suite's nnn */
    OCRA_E_NOBUFS,        /* output buffer too small */
    OCRA_E_HMAC,          /* the HMAC callback failed or returned the wrong length */
    OCRA_E__COUNT
};
const char *ocra_strerror(int err);   /* accepts err or -err */

struct ocra_suite {
    char text[OCRA_SUITE_MAX + 1];  /* the suite string as given (it is part of DataInput), NUL-terminated */
    size_t text_len;
    enum ocra_hash hash;            /* HOTP-SHAx */
    unsigned digits;                /* 0 (no truncation) or 4..10 */
    bool counter;                   /* C */
    enum ocra_qfmt qfmt;            /* QA / QN / QH */
    unsigned qlen;                  /* nn: maximum challenge length, 4..64 */
    bool pin;                       /* P */
    enum ocra_hash pin_hash;        /* PSHAx */
    bool session;                   /* S */
    unsigned session_len;           /* nnn */
    bool time;                      /* T */
    unsigned time_step;             /* seconds per time step */
};

/* Parse a suite string (not NUL-terminated; exactly len bytes). Returns 0 or -OCRA_E_*; on error
 * writes a one-line reason into err (when err and errcap are non-zero). */
int ocra_suite_parse(const char *buf, size_t len, struct ocra_suite *s, char *err, size_t errcap);

const char *ocra_hash_name(enum ocra_hash h);  /* "SHA1", "SHA256", "SHA512", or "?" */
size_t ocra_hash_size(enum ocra_hash h);       /* 20, 32, 64, or 0 */

/* The inputs a suite may use. Only the ones the suite names are read; the others are ignored. */
struct ocra_input {
    uint64_t counter;              /* C: 8 bytes big-endian */
    const char *question;          /* Q: the question text (see the header comment for modes) */
    size_t question_len;
    const uint8_t *pin_hash;       /* P: hash of the PIN with the suite's P hash (ocra_pin_hash) */
    size_t pin_hash_len;
    const uint8_t *session;        /* S: up to nnn bytes, left-aligned and zero padded to nnn */
    size_t session_len;
    uint64_t timestamp;            /* T: number of time steps since the epoch (ocra_time_steps) */
};

/* Check one challenge against the suite: 4..nn characters of its format. Returns 0 or -OCRA_E_*. */
int ocra_check_challenge(const struct ocra_suite *s, const char *q, size_t len, char *err, size_t errcap);

/* Mutual mode: check both challenges and write first|second into out (NUL-terminated; cap must hold
 * both plus NUL). Server response: first = client's challenge, second = server's. Client response:
 * first = server's challenge, second = client's. Returns the length or -OCRA_E_*. */
int ocra_mutual_question(const struct ocra_suite *s, const char *first, size_t first_len, const char *second,
                         size_t second_len, char *out, size_t cap, char *err, size_t errcap);

/* Encode a question into the 128-byte Q field (zero padded). Returns 0 or -OCRA_E_CHALLENGE(_LEN).
 * The length is checked only against what fits (1..128 characters); see ocra_datainput for the
 * suite's limits. */
int ocra_encode_question(enum ocra_qfmt fmt, const char *q, size_t len, uint8_t out[OCRA_QUESTION_MAX], char *err,
                         size_t errcap);

/* Build DataInput. The question must be 4..2*nn characters of the suite's format (one challenge, or
 * two concatenated). Returns its length or -OCRA_E_*. */
int ocra_datainput(const struct ocra_suite *s, const struct ocra_input *in, uint8_t *out, size_t cap, char *err,
                   size_t errcap);

/* HMAC over msg with the suite's hash and the device key the callback knows. *outlen holds the
 * capacity of out on entry (at least OCRA_HASH_MAX) and the HMAC length on return. Returns 0 or -1. */
typedef int (*ocra_hmac_fn)(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out,
                            size_t *outlen);

/* The in-memory implementation: ctx is a struct ocra_key (OpenSSL 3 EVP_MAC "HMAC"). */
struct ocra_key {
    const uint8_t *key;
    size_t len;
};
int ocra_hmac_openssl(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen);

/* Truncate an HMAC to the suite's digits (RFC 4226 dynamic truncation; 0: the whole HMAC in
 * lower-case hex) into resp, NUL-terminated. Returns the response length or -OCRA_E_*. */
int ocra_truncate(unsigned digits, const uint8_t *mac, size_t maclen, char *resp, size_t cap);

/* The OCRA response: DataInput, the HMAC callback, truncation. resp must hold the response and its
 * NUL (OCRA_RESPONSE_MAX always does). Returns the response length or -OCRA_E_*. DataInput (which
 * holds the PIN hash) is wiped before returning. */
int ocra_compute(const struct ocra_suite *s, const struct ocra_input *in, ocra_hmac_fn hmac, void *hmac_ctx,
                 char *resp, size_t cap, char *err, size_t errcap);

/* Constant-time comparison of a received response with the expected one (same length and bytes). */
bool ocra_response_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Hash a PIN with the suite's P hash into out (at least OCRA_HASH_MAX bytes). Returns the hash
 * length or -OCRA_E_PIN (suite has no P, or the digest failed). */
int ocra_pin_hash(const struct ocra_suite *s, const char *pin, size_t len, uint8_t *out, size_t cap);

/* T for a Unix time: floor(unix_time / time_step). 0 for a suite without T. */
uint64_t ocra_time_steps(const struct ocra_suite *s, uint64_t unix_time);

/* A fresh random challenge of the suite's format and full length nn (OpenSSL RAND_bytes), NUL-
 * terminated. Returns the length or -OCRA_E_NOBUFS / -OCRA_E_HMAC (no randomness). */
int ocra_make_challenge(const struct ocra_suite *s, char *out, size_t cap);

#endif
