#include "ztp/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static char log_host[64] = "-";
static char log_comp[64] = "-";
static enum log_level log_min = LOG_LVL_INFO;
static FILE *log_stream;

static const char *const level_names[] = {
    [LOG_LVL_DEBUG] = "debug", [LOG_LVL_INFO] = "info", [LOG_LVL_WARN] = "warn", [LOG_LVL_ERROR] = "error",
};

void log_init(const char *host, const char *component, enum log_level min_level)
{
    if (host)
        snprintf(log_host, sizeof log_host, "%s", host);
    if (component)
        snprintf(log_comp, sizeof log_comp, "%s", component);
    log_min = min_level;
}

void log_set_stream(FILE *f) { log_stream = f; }

__attribute__((format(printf, 3, 0))) static void vlog_line(enum log_level lvl, const char *event, const char *fmt, va_list ap)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int r;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof line - n, ".%06ldZ level=%s host=%s comp=%s event=%s", (long)tv.tv_usec,
                 level_names[lvl], log_host, log_comp, event);
    if (r > 0)
        n += (size_t)r < sizeof line - n ? (size_t)r : sizeof line - n - 1;
    if (fmt && *fmt && n < sizeof line - 2) {
        line[n++] = ' ';
        r = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (r > 0)
            n += (size_t)r < sizeof line - n ? (size_t)r : sizeof line - n - 1;
    }
    /* A value the caller did not quote must still not split the line. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    FILE *out = log_stream ? log_stream : stderr;
    fprintf(out, "%.*s\n", (int)n, line);
    fflush(out);
}

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
    va_list ap;
    if (lvl < log_min)
        return;
    va_start(ap, fmt);
    vlog_line(lvl, event, fmt, ap);
    va_end(ap);
}

void fatalx(const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(LOG_LVL_ERROR, event, fmt, ap);
    va_end(ap);
    abort();
}

char *log_quote(char *dst, size_t cap, const void *src, size_t len)
{
    const unsigned char *s = src;
    size_t o = 0;
    if (cap < 3) {
        if (cap)
            dst[0] = '\0';
        return dst;
    }
    dst[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        char tmp[5];
        size_t tl;
        if (s[i] == '"' || s[i] == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)s[i];
            tl = 2;
        } else if (s[i] < 0x20 || s[i] > 0x7e) {
            snprintf(tmp, sizeof tmp, "\\x%02x", s[i]);
            tl = 4;
        } else {
            tmp[0] = (char)s[i];
            tl = 1;
        }
        if (o + tl + 2 > cap)
            break;
        memcpy(dst + o, tmp, tl);
        o += tl;
    }
    dst[o++] = '"';
    dst[o] = '\0';
    return dst;
}

char *log_hex(char *dst, size_t cap, const void *src, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *s = src;
    size_t o = 0;
    if (!cap)
        return dst;
    for (size_t i = 0; i < len && o + 3 <= cap; i++) {
        dst[o++] = hx[s[i] >> 4];
        dst[o++] = hx[s[i] & 15];
    }
    dst[o] = '\0';
    return dst;
}
