#include "ztp/util.h"

#include <stdarg.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err && cap) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    while (*s) {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0 || *n == cap)
            return -1;
        out[(*n)++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s == ':' && *++s == '\0')
            return -1;
    }
    return 0;
}

int json_check_keys(struct json_t *obj, const char *const *allowed, const char *where, char *err, size_t cap)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return errf(err, cap, "%s: unknown key \"%s\"", where, key);
    }
    return 0;
}
