/* Small helpers shared by every program (pure, no global state). */
#ifndef ZTP_UTIL_H
#define ZTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Format an error message into err (when err and cap are non-zero) and return -1, so a parser can
 * `return errf(err, cap, "line %u: ...", ...)`. */
int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Decode hex, two digits per byte, optionally separated by ':' ("0a1b2c" or "0a:1b:2c"), into at
 * most `cap` bytes. Returns 0 and sets *n, or -1 for an odd digit count, a bad character, a
 * trailing ':' or more than `cap` bytes. An empty string decodes to 0 bytes. */
int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n);

#endif
