/* Small helpers shared by the mock-ep-terminator and mock-mist config parsers: strict JSON objects
 * (unknown keys refused), typed member access with one-line errors, device-id syntax. Pure code. */
#ifndef MIST_MISTJSON_H
#define MIST_MISTJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MIST_ID_MAX 64   /* device ids, org and site names, environment names */

/* 1..MIST_ID_MAX characters of [A-Za-z0-9._:-]. */
bool mist_id_valid(const char *s, size_t len);

/* Refuse members of obj not in the NULL-terminated list `allowed`. where names obj in the error. */
int mj_only_keys(json_t *obj, const char *const *allowed, const char *where, char *err, size_t cap);

/* A string member: required (absent is an error) or optional (absent: *out = NULL, return 0).
 * Returns 0 or -1 with err set. The result points into obj. */
int mj_string(const json_t *obj, const char *key, bool required, const char *where, const char **out, char *err,
              size_t cap);

/* An optional integer member in [min,max]; absent leaves *out unchanged. */
int mj_uint(const json_t *obj, const char *key, unsigned min, unsigned max, const char *where, unsigned *out,
            char *err, size_t cap);

/* json_loadb with duplicate keys refused and a top-level object required. */
json_t *mj_load_object(const char *buf, size_t len, char *err, size_t cap);

/* Lower-case hex of n bytes into out (cap >= 2n+1). */
void mist_hex(const unsigned char *in, size_t n, char *out);

#endif
