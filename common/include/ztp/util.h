/* Small helpers shared by every program (pure, no global state). */
#ifndef ZTP_UTIL_H
#define ZTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Format an error message into err (when err and cap are non-zero) and return -1, so a parser can
 * `return errf(err, cap, "line %u: ...", ...)`. */
int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Value of one hex digit, or -1. */
int hex_digit(int c);

/* Decode hex, two digits per byte, optionally separated by ':' ("0a1b2c" or "0a:1b:2c"), into at
 * most `cap` bytes. Returns 0 and sets *n, or -1 for an odd digit count, a bad character, a
 * trailing ':' or more than `cap` bytes. An empty string decodes to 0 bytes. */
int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n);

/* jansson objects: every key of `obj` must be in the NULL-terminated `allowed` list; otherwise
 * "WHERE: unknown key "K"" in err and -1. (Declared with an opaque type so this header does not
 * pull in jansson.h.) */
struct json_t;
int json_check_keys(struct json_t *obj, const char *const *allowed, const char *where, char *err, size_t cap);

#endif
