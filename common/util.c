#include "ztp/util.h"

#include <stdarg.h>
#include <stdio.h>

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

static int hexval(char c)
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
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
        if (lo < 0 || *n == cap)
            return -1;
        out[(*n)++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s == ':' && *++s == '\0')
            return -1;
    }
    return 0;
}
