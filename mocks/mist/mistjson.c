/* See mistjson.h. */
#include "mistjson.h"

#include <stdio.h>
#include <string.h>

bool mist_id_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > MIST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int mj_only_keys(json_t *obj, const char *const *allowed, const char *where, char *err, size_t cap)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            snprintf(err, cap, "%s: unknown key \"%.64s\"", where, key);
            return -1;
        }
    }
    return 0;
}

int mj_string(const json_t *obj, const char *key, bool required, const char *where, const char **out, char *err,
              size_t cap)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (!required)
            return 0;
        snprintf(err, cap, "%s: \"%s\" is missing", where, key);
        return -1;
    }
    if (!json_is_string(v)) {
        snprintf(err, cap, "%s: \"%s\" must be a string", where, key);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, cap, "%s: \"%s\" holds a NUL byte", where, key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int mj_uint(const json_t *obj, const char *key, unsigned min, unsigned max, const char *where, unsigned *out,
            char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min || json_integer_value(v) > (json_int_t)max) {
        snprintf(err, cap, "%s: \"%s\" must be an integer in %u..%u", where, key, min, max);
        return -1;
    }
    *out = (unsigned)json_integer_value(v);
    return 0;
}

json_t *mj_load_object(const char *buf, size_t len, char *err, size_t cap)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, cap, "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, cap, "top level must be a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

void mist_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}
