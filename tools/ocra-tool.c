/* ocra-tool: an OCRA (RFC 6287) calculator for people debugging a device.
 *
 *   ocra-tool --suite SUITE --key HEX [--counter N] [--question Q] [--pin PIN | --pin-hash HEX]
 *             [--session HEX] [--time HEX]
 *
 * Prints the response alone on stdout. A bad suite or argument exits 2 with one line on stderr; an
 * HMAC failure exits 1. See tools/README.md. */
#include "ztp/ocra.h"
#include "ztp/util.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX 256

static void usage(FILE *f)
{
    fprintf(f, "usage: ocra-tool --suite SUITE --key HEX [--counter N] [--question Q]\n"
               "                 [--pin PIN | --pin-hash HEX] [--session HEX] [--time HEX]\n"
               "  --suite     OCRA suite, e.g. OCRA-1:HOTP-SHA1-6:QN08\n"
               "  --key       the shared secret in hex\n"
               "  --counter   C: decimal, or hex with 0x (suites with C)\n"
               "  --question  Q: the challenge in the suite's format (QN decimal, QA alphanumeric,\n"
               "              QH hex); mutual mode: both challenges concatenated (server response:\n"
               "              client's then server's; client response: server's then client's)\n"
               "  --pin       P: the PIN, hashed with the suite's P hash\n"
               "  --pin-hash  P: the PIN hash in hex\n"
               "  --session   S: session information in hex, at most nnn bytes (zero padded)\n"
               "  --time      T: time steps since the epoch in hex (default: now)\n"
               "Prints the response; exits 2 on a bad suite or argument.\n");
}

__attribute__((format(printf, 1, 2), noreturn)) static void bad(const char *fmt, ...)
{
    va_list ap;
    fputs("ocra-tool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, int base)
{
    char *end;
    errno = 0;
    if (base == 10 && (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)) {
        s += 2;
        base = 16;
    }
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        bad("%s: \"%s\" is not a %s number", opt, s, base == 16 ? "hex" : "decimal");
    unsigned long long v = strtoull(s, &end, base);
    if (*end != '\0' || errno == ERANGE)
        bad("%s: \"%s\" is not a %s number of at most 64 bits", opt, s, base == 16 ? "hex" : "decimal");
    return v;
}

static size_t parse_hex(const char *opt, const char *s, uint8_t *out, size_t cap)
{
    size_t n;
    if (hex_decode(s, out, cap, &n) < 0)
        bad("%s: not hex bytes (two digits per byte) or longer than %zu bytes", opt, cap);
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "suite", required_argument, NULL, 's' },    { "key", required_argument, NULL, 'k' },
        { "counter", required_argument, NULL, 'c' },  { "question", required_argument, NULL, 'q' },
        { "pin", required_argument, NULL, 'p' },      { "pin-hash", required_argument, NULL, 'P' },
        { "session", required_argument, NULL, 'S' },  { "time", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    const char *suite = NULL, *key_hex = NULL, *counter = NULL, *question = NULL, *pin = NULL, *pin_hash = NULL,
               *session = NULL, *timestamp = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': suite = optarg; break;
        case 'k': key_hex = optarg; break;
        case 'c': counter = optarg; break;
        case 'q': question = optarg; break;
        case 'p': pin = optarg; break;
        case 'P': pin_hash = optarg; break;
        case 'S': session = optarg; break;
        case 't': timestamp = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': bad("%s needs an argument", argv[optind - 1]);
        default: bad("unknown option \"%s\" (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad("unexpected argument \"%s\" (try --help)", argv[optind]);
    if (!suite)
        bad("--suite is required");
    if (!key_hex)
        bad("--key is required");

    struct ocra_suite s;
    char err[256];
    if (ocra_suite_parse(suite, strlen(suite), &s, err, sizeof err) < 0)
        bad("%s", err);

    /* Every input the suite names must be given, and nothing it does not name. */
    struct ocra_input in = { 0 };
    if (s.counter != (counter != NULL))
        bad(s.counter ? "the suite has C: give --counter" : "--counter given but the suite has no C");
    if (counter)
        in.counter = parse_u64("--counter", counter, 10);
    if (!question)
        bad("--question is required (the suite has Q%c%02u)", (char)s.qfmt, s.qlen);
    in.question = question;
    in.question_len = strlen(question);
    if (pin && pin_hash)
        bad("give --pin or --pin-hash, not both");
    if (s.pin != (pin || pin_hash))
        bad(s.pin ? "the suite has P%s: give --pin or --pin-hash" : "--pin given but the suite has no P",
            ocra_hash_name(s.pin_hash));
    uint8_t ph[OCRA_HASH_MAX], sess[OCRA_SESSION_MAX], key[KEY_MAX];
    if (pin) {
        int n = ocra_pin_hash(&s, pin, strlen(pin), ph, sizeof ph);
        if (n < 0)
            bad("cannot hash the PIN with %s", ocra_hash_name(s.pin_hash));
        in.pin_hash = ph;
        in.pin_hash_len = (size_t)n;
    } else if (pin_hash) {
        in.pin_hash = ph;
        in.pin_hash_len = parse_hex("--pin-hash", pin_hash, ph, sizeof ph);
    }
    if (s.session != (session != NULL))
        bad(s.session ? "the suite has S%03u: give --session" : "--session given but the suite has no S",
            s.session_len);
    if (session) {
        in.session = sess;
        in.session_len = parse_hex("--session", session, sess, sizeof sess);
    }
    if (timestamp && !s.time)
        bad("--time given but the suite has no T");
    if (s.time)
        in.timestamp = timestamp ? parse_u64("--time", timestamp, 16) : ocra_time_steps(&s, (uint64_t)time(NULL));

    struct ocra_key k = { key, parse_hex("--key", key_hex, key, sizeof key) };
    if (k.len == 0)
        bad("--key is empty");

    char resp[OCRA_RESPONSE_MAX];
    int n = ocra_compute(&s, &in, ocra_hmac_openssl, &k, resp, sizeof resp, err, sizeof err);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(ph, sizeof ph);
    if (n == -OCRA_E_HMAC) {
        fprintf(stderr, "ocra-tool: %s\n", err);
        return 1;
    }
    if (n < 0)
        bad("%s", err);
    printf("%s\n", resp);
    return 0;
}
