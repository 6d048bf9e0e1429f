#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Append s %-escaped (as Squid's %ru / %un); "-" when empty. */
static size_t put_field(char *buf, size_t cap, size_t o, const char *s)
{
    static const char hx[] = "0123456789ABCDEF";
    if (!s || !*s)
        s = "-";
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < cap; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '%') {
            buf[o++] = '%';
            buf[o++] = hx[*p >> 4];
            buf[o++] = hx[*p & 15];
        } else {
            buf[o++] = (char)*p;
        }
    }
    return o;
}

static size_t put(char *buf, size_t cap, size_t o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t put(char *buf, size_t cap, size_t o, const char *fmt, ...)
{
    va_list ap;
    if (o >= cap)
        return o;
    va_start(ap, fmt);
    int r = vsnprintf(buf + o, cap - o, fmt, ap);
    va_end(ap);
    if (r < 0)
        return o;
    return o + ((size_t)r < cap - o ? (size_t)r : cap - o - 1);
}

size_t access_format(char *buf, size_t cap, const struct access_entry *e)
{
    size_t o = 0;
    if (cap < 2)
        return 0;
    o = put(buf, cap, o, "%lld.%03lld %6lld ", (long long)(e->end_ms / 1000), (long long)(e->end_ms % 1000),
            (long long)e->elapsed_ms);
    o = put_field(buf, cap, o, e->client);
    o = put(buf, cap, o, " %s/%03d %llu ", e->code, e->status, (unsigned long long)e->bytes);
    o = put_field(buf, cap, o, e->method);
    o = put(buf, cap, o, " ");
    o = put_field(buf, cap, o, e->url);
    o = put(buf, cap, o, " ");
    o = put_field(buf, cap, o, e->user);
    o = put(buf, cap, o, " %s/", e->hier);
    o = put_field(buf, cap, o, e->peer);
    o = put(buf, cap, o, " ");
    o = put_field(buf, cap, o, e->type);
    if (o >= cap - 1)
        o = cap - 2;
    buf[o++] = '\n';
    buf[o] = '\0';
    return o;
}

void access_log_init(struct access_log *l)
{
    l->fd = -1;
    l->path[0] = '\0';
}

int access_log_open(struct access_log *l, const char *path)
{
    int fd = -1;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = fd;
    snprintf(l->path, sizeof l->path, "%s", path ? path : "");
    return 0;
}

int access_log_write(struct access_log *l, const struct access_entry *e)
{
    char line[16384];
    if (l->fd < 0)
        return 0;
    size_t n = access_format(line, sizeof line, e);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(l->fd, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)w;
    }
    return 0;
}

void access_log_close(struct access_log *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}
