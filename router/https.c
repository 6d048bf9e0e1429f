/* HTTPS through the management proxy: see https.h. */
#include "https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node.h" /* struct node_ev: the epoll registration of the node's loop */
#include "ztp/log.h"
#include "ztp/pki.h"
#include "ztp/util.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ====================================================================================== */
/* Pure parts                                                                              */
/* ====================================================================================== */

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field-value byte: visible ASCII, blanks, obs-text. */
static bool is_vchar_or_blank(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

int http_response_head_parse(const char *buf, size_t len, struct http_response_head *out, const char **why)
{
#define FAIL(w)                                                                                                        \
    do {                                                                                                               \
        if (why)                                                                                                       \
            *why = (w);                                                                                                \
        return -1;                                                                                                     \
    } while (0)
    static const char proto[] = "HTTP/1.";
    const size_t lim = len < HTTP_RESP_HEAD_MAX ? len : HTTP_RESP_HEAD_MAX;

    out->n_headers = 0;
    out->head_len = 0;
    /* Reject what is not HTTP as soon as the first bytes say so. */
    size_t pl = lim < sizeof proto - 1 ? lim : sizeof proto - 1;
    if (memcmp(buf, proto, pl) != 0)
        FAIL("not an HTTP/1.x response");

    const char *nl = lim ? memchr(buf, '\n', lim) : NULL;
    if (!nl) {
        if (len >= HTTP_RESP_HEAD_MAX)
            FAIL("response head larger than 16384 bytes");
        return 0;
    }
    size_t e = (size_t)(nl - buf);
    size_t le = e > 0 && buf[e - 1] == '\r' ? e - 1 : e;
    /* "HTTP/1.D SP DDD [SP reason]" */
    if (le < 12 || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
        FAIL("bad status line");
    out->version = buf[7] == '0' ? 10 : 11;
    for (size_t i = 9; i < 12; i++)
        if (buf[i] < '0' || buf[i] > '9')
            FAIL("bad status code");
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (out->status < 100)
        FAIL("bad status code");
    if (le > 12 && buf[12] != ' ')
        FAIL("bad status line");
    out->reason = le > 12 ? buf + 13 : buf + le;
    out->reason_len = le > 12 ? le - 13 : 0;
    for (size_t i = 0; i < out->reason_len; i++)
        if (!is_vchar_or_blank((unsigned char)out->reason[i]))
            FAIL("control byte in the reason phrase");

    size_t pos = e + 1;
    for (;;) {
        nl = pos < lim ? memchr(buf + pos, '\n', lim - pos) : NULL;
        if (!nl) {
            if (len >= HTTP_RESP_HEAD_MAX)
                FAIL("response head larger than 16384 bytes");
            return 0;
        }
        e = (size_t)(nl - buf);
        le = e > pos && buf[e - 1] == '\r' ? e - 1 : e;
        if (le == pos) { /* the empty line */
            out->head_len = e + 1;
            return 1;
        }
        if (buf[pos] == ' ' || buf[pos] == '\t')
            FAIL("obsolete header line folding");
        size_t c = pos;
        while (c < le && is_tchar((unsigned char)buf[c]))
            c++;
        if (c == pos || c >= le || buf[c] != ':')
            FAIL("malformed header line");
        if (out->n_headers == HTTP_RESP_MAX_HEADERS)
            FAIL("too many headers");
        size_t vs = c + 1, ve = le;
        for (size_t i = vs; i < ve; i++)
            if (!is_vchar_or_blank((unsigned char)buf[i]))
                FAIL("control byte in a header value");
        while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
            vs++;
        while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
            ve--;
        struct http_resp_header *h = &out->headers[out->n_headers++];
        h->name = buf + pos;
        h->name_len = c - pos;
        h->value = buf + vs;
        h->value_len = ve - vs;
        pos = e + 1;
    }
#undef FAIL
}

const struct http_resp_header *http_head_get(const struct http_response_head *h, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->n_headers; i++)
        if (h->headers[i].name_len == nl && strncasecmp(h->headers[i].name, name, nl) == 0)
            return &h->headers[i];
    return NULL;
}

static char *copy_printable(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    if (cap == 0)
        return dst;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[o] = '\0';
    return dst;
}

char *http_head_copy(const struct http_response_head *h, const char *name, char *dst, size_t cap)
{
    const struct http_resp_header *v = http_head_get(h, name);
    return copy_printable(dst, cap, v ? v->value : "", v ? v->value_len : 0);
}

static int parse_content_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int http_body_kind(const struct http_response_head *h, const char *method, enum http_body_kind *kind, uint64_t *length,
                   const char **why)
{
    *length = 0;
    if ((method && strcmp(method, "HEAD") == 0) || h->status < 200 || h->status == 204 || h->status == 304) {
        *kind = HTTP_BODY_NONE;
        return 0;
    }
    const struct http_resp_header *te = NULL;
    bool have_cl = false;
    uint64_t cl = 0;
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_resp_header *x = &h->headers[i];
        if (x->name_len == 17 && strncasecmp(x->name, "transfer-encoding", 17) == 0) {
            te = x;
        } else if (x->name_len == 14 && strncasecmp(x->name, "content-length", 14) == 0) {
            uint64_t v;
            if (parse_content_length(x->value, x->value_len, &v) < 0) {
                if (why)
                    *why = "bad Content-Length";
                return -1;
            }
            if (have_cl && v != cl) {
                if (why)
                    *why = "conflicting Content-Length headers";
                return -1;
            }
            have_cl = true;
            cl = v;
        }
    }
    if (te) {
        if (te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0) {
            *kind = HTTP_BODY_CHUNKED;
            return 0;
        }
        if (why)
            *why = "unsupported Transfer-Encoding (only chunked)";
        return -1;
    }
    if (have_cl) {
        *kind = HTTP_BODY_LENGTH;
        *length = cl;
        return 0;
    }
    *kind = HTTP_BODY_UNTIL_CLOSE;
    return 0;
}

enum {
    CK_SIZE = 0,    /* first hex digit of a chunk size */
    CK_SIZE_MORE,   /* more hex digits */
    CK_SIZE_WS,     /* blanks after the size */
    CK_EXT,         /* ";ext" up to the end of the line */
    CK_SIZE_LF,     /* LF after CR */
    CK_DATA,
    CK_DATA_CR,     /* CRLF after the data */
    CK_DATA_LF,
    CK_TRAILER,     /* start of a trailer line (or the final empty line) */
    CK_TRAILER_LINE,
    CK_END_LF,
    CK_DONE
};
#define CK_LINE_MAX 1024
#define CK_TRAILER_MAX 8192

void http_chunked_init(struct http_chunked *d) { memset(d, 0, sizeof *d); }

int http_chunked_feed(struct http_chunked *d, const char *in, size_t in_len, size_t *used, char *out, size_t out_cap,
                      size_t *produced, const char **why)
{
#define CKFAIL(w)                                                                                                      \
    do {                                                                                                               \
        *used = i;                                                                                                     \
        if (why)                                                                                                       \
            *why = (w);                                                                                                \
        return -1;                                                                                                     \
    } while (0)
    size_t i = 0, o = 0;
    *produced = 0;
    while (i < in_len && d->st != CK_DONE) {
        unsigned char c = (unsigned char)in[i];
        switch (d->st) {
        case CK_SIZE:
        case CK_SIZE_MORE: {
            int v = hex_digit(c);
            if (v >= 0) {
                if (d->digits == 15)
                    CKFAIL("chunk size too large");
                d->left = (d->left << 4) | (uint64_t)v;
                d->digits++;
                d->st = CK_SIZE_MORE;
                i++;
                break;
            }
            if (d->st == CK_SIZE)
                CKFAIL("chunk size is not hexadecimal");
            d->st = CK_SIZE_WS;
            break; /* re-examine c */
        }
        case CK_SIZE_WS:
            if (c == ' ' || c == '\t') {
                i++;
            } else if (c == ';') {
                d->st = CK_EXT;
                d->line = 0;
                i++;
            } else if (c == '\r') {
                d->st = CK_SIZE_LF;
                i++;
            } else if (c == '\n') {
                d->st = CK_SIZE_LF; /* a bare LF ends the line too */
            } else {
                CKFAIL("bad byte after the chunk size");
            }
            break;
        case CK_EXT:
            if (c == '\r' || c == '\n') {
                d->st = CK_SIZE_WS;
                break;
            }
            if (c < 0x20 && c != '\t')
                CKFAIL("control byte in a chunk extension");
            if (++d->line > CK_LINE_MAX)
                CKFAIL("chunk extension too long");
            i++;
            break;
        case CK_SIZE_LF:
            if (c != '\n')
                CKFAIL("CR without LF after the chunk size");
            i++;
            d->digits = 0;
            if (d->left == 0) {
                d->st = CK_TRAILER;
                d->line = 0;
            } else {
                d->st = CK_DATA;
            }
            break;
        case CK_DATA: {
            size_t n = in_len - i;
            if ((uint64_t)n > d->left)
                n = (size_t)d->left;
            if (n > out_cap - o)
                n = out_cap - o;
            if (n == 0) { /* out is full */
                *used = i;
                *produced = o;
                return 0;
            }
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
            d->left -= n;
            if (d->left == 0)
                d->st = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (c == '\r')
                d->st = CK_DATA_LF;
            else if (c == '\n')
                d->st = CK_SIZE;
            else
                CKFAIL("chunk data longer than its size");
            i++;
            break;
        case CK_DATA_LF:
            if (c != '\n')
                CKFAIL("CR without LF after chunk data");
            d->st = CK_SIZE;
            i++;
            break;
        case CK_TRAILER:
            if (c == '\r') {
                d->st = CK_END_LF;
            } else if (c == '\n') {
                d->st = CK_DONE;
            } else {
                d->st = CK_TRAILER_LINE;
                d->line = 0;
                break; /* re-examine c */
            }
            i++;
            break;
        case CK_TRAILER_LINE:
            if (c == '\n')
                d->st = CK_TRAILER;
            else if (c < 0x20 && c != '\t' && c != '\r')
                CKFAIL("control byte in a trailer");
            if (++d->trailer > CK_TRAILER_MAX)
                CKFAIL("trailers too long");
            i++;
            break;
        case CK_END_LF:
            if (c != '\n')
                CKFAIL("CR without LF at the end of the chunked body");
            d->st = CK_DONE;
            i++;
            break;
        default:
            CKFAIL("decoder in a bad state");
        }
    }
    *used = i;
    *produced = o;
    return d->st == CK_DONE ? 1 : 0;
#undef CKFAIL
}

static bool is_ipv4_literal(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

bool http_host_valid(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n == 0 || n > 253)
        return false;
    if (is_ipv4_literal(host))
        return true;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0;
}

ssize_t http_base64(const void *src, size_t len, char *dst, size_t cap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = src;
    size_t need = (len + 2) / 3 * 4;
    if (cap < need + 1)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        dst[o++] = tbl[(v >> 18) & 63];
        dst[o++] = tbl[(v >> 12) & 63];
        dst[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    dst[o] = '\0';
    return (ssize_t)o;
}

/* Printable ASCII (0x20..0x7e) only; `colon_ok` false also rejects ':'. */
static bool cred_ok(const char *s, bool colon_ok)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || (!colon_ok && c == ':'))
            return false;
    }
    return true;
}

#define CRED_MAX 512

ssize_t http_build_connect(char *buf, size_t cap, const char *host, uint16_t port, const char *user,
                           const char *pass)
{
    char cred[CRED_MAX + CRED_MAX + 2], b64[(sizeof cred + 2) / 3 * 4 + 1];
    int n;
    if (!http_host_valid(host) || port == 0)
        return -EINVAL;
    if (user) {
        if (!pass)
            pass = "";
        if (strlen(user) > CRED_MAX || strlen(pass) > CRED_MAX || !cred_ok(user, false) || !cred_ok(pass, true))
            return -EINVAL;
        int cl = snprintf(cred, sizeof cred, "%s:%s", user, pass);
        ssize_t bl = http_base64(cred, (size_t)cl, b64, sizeof b64);
        explicit_bzero(cred, sizeof cred);
        if (bl < 0)
            return -EINVAL;
        n = snprintf(buf, cap, "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\nProxy-Authorization: Basic %s\r\n\r\n", host,
                     port, host, port, b64);
        explicit_bzero(b64, sizeof b64);
    } else {
        n = snprintf(buf, cap, "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n", host, port, host, port);
    }
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= cap) {
        if (cap)
            explicit_bzero(buf, cap);
        return -ENOBUFS;
    }
    return n;
}

static bool header_line_ok(const char *h, bool *is_accept)
{
    const char *c = h;
    while (*c && is_tchar((unsigned char)*c))
        c++;
    if (c == h || *c != ':')
        return false;
    *is_accept = (size_t)(c - h) == 6 && strncasecmp(h, "accept", 6) == 0;
    for (c++; *c; c++)
        if (!is_vchar_or_blank((unsigned char)*c))
            return false;
    return true;
}

/* Append with snprintf semantics into buf[*o..cap). Returns -1 on truncation. */
static int append(char *buf, size_t cap, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
    va_list ap;
    if (*o >= cap)
        return -1;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *o)
        return -1;
    *o += (size_t)n;
    return 0;
}

ssize_t http_build_request(char *buf, size_t cap, const char *method, const char *host, uint16_t port,
                           const char *path, const char *const *headers, bool has_body, const char *content_type,
                           size_t body_len)
{
    return http_build_request_conn(buf, cap, method, host, port, path, headers, has_body, content_type, body_len, false);
}

ssize_t http_build_request_conn(char *buf, size_t cap, const char *method, const char *host, uint16_t port,
                                const char *path, const char *const *headers, bool has_body, const char *content_type,
                                size_t body_len, bool keep_alive)
{
    size_t o = 0;
    bool accept = false;
    if (!method || !*method || strlen(method) > 16 || !http_host_valid(host) || port == 0 || !path || path[0] != '/')
        return -EINVAL;
    for (const char *m = method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return -EINVAL;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return -EINVAL;
    for (size_t i = 0; headers && headers[i]; i++) {
        bool a = false;
        if (!header_line_ok(headers[i], &a))
            return -EINVAL;
        accept |= a;
    }
    if (content_type) {
        bool a;
        char tmp[256];
        snprintf(tmp, sizeof tmp, "Content-Type: %s", content_type);
        if (strlen(content_type) > 200 || !header_line_ok(tmp, &a))
            return -EINVAL;
    }
    int r = append(buf, cap, &o, "%s %s HTTP/1.1\r\n", method, path);
    if (port == HTTPS_DEFAULT_PORT)
        r |= append(buf, cap, &o, "Host: %s\r\n", host);
    else
        r |= append(buf, cap, &o, "Host: %s:%u\r\n", host, port);
    r |= append(buf, cap, &o, "User-Agent: %s\r\n", HTTPS_USER_AGENT);
    if (!accept)
        r |= append(buf, cap, &o, "Accept: %s\r\n", "*/*");
    r |= append(buf, cap, &o, "Connection: %s\r\n", keep_alive ? "keep-alive" : "close");
    for (size_t i = 0; headers && headers[i] && r == 0; i++)
        r |= append(buf, cap, &o, "%s\r\n", headers[i]);
    if (has_body)
        r |= append(buf, cap, &o, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                    content_type ? content_type : "application/json", body_len);
    r |= append(buf, cap, &o, "\r\n");
    return r ? -ENOBUFS : (ssize_t)o;
}

int https_url_parse(const char *url, struct https_url *out, const char **why)
{
#define UFAIL(w)                                                                                                       \
    do {                                                                                                               \
        if (why)                                                                                                       \
            *why = (w);                                                                                                \
        return -1;                                                                                                     \
    } while (0)
    memset(out, 0, sizeof *out);
    if (!url || strncasecmp(url, "https://", 8) != 0)
        UFAIL("not an https:// URL");
    const char *a = url + 8, *ae = a;
    while (*ae && *ae != '/' && *ae != '?' && *ae != '#')
        ae++;
    if (memchr(a, '@', (size_t)(ae - a)))
        UFAIL("user information in the URL is not supported");
    const char *colon = memchr(a, ':', (size_t)(ae - a));
    const char *he = colon ? colon : ae;
    size_t hl = (size_t)(he - a);
    if (hl == 0)
        UFAIL("no host in the URL");
    if (hl >= sizeof out->host)
        UFAIL("host name too long");
    memcpy(out->host, a, hl);
    out->host[hl] = '\0';
    if (!http_host_valid(out->host))
        UFAIL("invalid host name");
    out->port = HTTPS_DEFAULT_PORT;
    if (colon) {
        unsigned long v = 0;
        const char *p = colon + 1;
        if (p == ae || ae - p > 5)
            UFAIL("invalid port");
        for (; p < ae; p++) {
            if (*p < '0' || *p > '9')
                UFAIL("invalid port");
            v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v < 1 || v > 65535)
            UFAIL("port out of range (1-65535)");
        out->port = (uint16_t)v;
    }
    const char *pe = strchr(ae, '#');
    if (!pe)
        pe = ae + strlen(ae);
    size_t o = 0;
    if (*ae != '/')
        out->path[o++] = '/';
    size_t pl = (size_t)(pe - ae);
    if (o + pl >= sizeof out->path)
        UFAIL("path too long");
    for (size_t i = 0; i < pl; i++) {
        unsigned char c = (unsigned char)ae[i];
        if (c <= 0x20 || c >= 0x7f)
            UFAIL("invalid character in the path");
        out->path[o++] = (char)c;
    }
    out->path[o] = '\0';
    return 0;
#undef UFAIL
}

/* ====================================================================================== */
/* The asynchronous client                                                                 */
/* ====================================================================================== */

static const char *const state_names[HTTPS_STATE__COUNT] = {
    [HTTPS_IDLE] = "idle",
    [HTTPS_TCP_CONNECT] = "tcp-connect",
    [HTTPS_PROXY_SEND] = "proxy-send",
    [HTTPS_PROXY_RECV] = "proxy-recv",
    [HTTPS_TLS_HANDSHAKE] = "tls-handshake",
    [HTTPS_REQUEST_SEND] = "request-send",
    [HTTPS_RESPONSE_RECV] = "response-recv",
    [HTTPS_DONE] = "done",
    [HTTPS_FAILED] = "failed",
};

const char *https_state_name(enum https_state s)
{
    return (unsigned)s < HTTPS_STATE__COUNT ? state_names[s] : "unknown";
}

static const char *const err_names[HTTPS_ERR__COUNT] = {
    [HTTPS_OK] = "ok",
    [HTTPS_ERR_SETUP] = "setup-failed",
    [HTTPS_ERR_PROXY_CONNECT] = "proxy-connect-failed",
    [HTTPS_ERR_PROXY_REFUSED] = "proxy-refused",
    [HTTPS_ERR_PROXY_PROTOCOL] = "proxy-protocol-error",
    [HTTPS_ERR_TLS] = "tls-failed",
    [HTTPS_ERR_HTTP] = "http-error",
    [HTTPS_ERR_TIMEOUT] = "timeout",
};

const char *https_err_name(enum https_err e) { return (unsigned)e < HTTPS_ERR__COUNT ? err_names[e] : "unknown"; }

uint64_t https_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct https_client {
    struct node_ev ev;
    struct https_client *next, **pprev;   /* the list of clients under way */
    unsigned id;
    int epfd, fd;
    uint32_t interest;                    /* events registered, 0 = not registered */
    enum https_state state;
    https_done_fn done;
    void *arg;

    /* the request (copies) */
    char *tag, *method, *host, *path, *content_type;
    char *ca_file, *ca_dir, *cert_file, *key_file, *proxy_user, *proxy_pass;
    EVP_PKEY *key;                        /* in-memory client key (up-ref'd), or NULL */
    char **headers;
    char *body;
    size_t body_len;
    uint16_t port;
    struct in_addr proxy_addr;
    uint16_t proxy_port;
    bool direct;
    unsigned connect_timeout_ms, timeout_ms;
    size_t max_body;
    uint64_t started_ms, connect_deadline_ms, deadline_ms;

    /* bytes to send (CONNECT, then the request) */
    char *out;
    size_t out_len, out_off;

    /* response head */
    char head[HTTP_RESP_HEAD_MAX];
    size_t head_len;
    struct http_response_head rh;
    bool have_rh;

    /* TLS */
    SSL_CTX *ctx;
    SSL *ssl;

    /* response body */
    enum http_body_kind kind;
    uint64_t content_length;
    struct http_chunked ck;
    char *rbody;
    size_t rbody_len, rbody_cap;

    struct https_result res;
    bool fail_pending;                    /* a set-up error waiting for https_tick() */
    bool dead;                            /* released; freed at the next https_tick() */

    /* connection reuse (see https.h) */
    unsigned keep_alive_ms;               /* asked for by the caller: idle limit in the pool, 0 = close */
    bool reusable;                        /* the complete response allows keeping the connection */
    bool extra;                           /* bytes followed the response: not reusable */
    bool retried;                         /* already re-sent once on a fresh connection */
    unsigned reused;                      /* > 0: taken from the pool, which had served this many requests */
    unsigned conn_id;                     /* id of the request that opened the connection */
    char *pool_key;                       /* what a pooled connection must match (holds the proxy password) */
};

/* An idle connection kept for the next request to the same server (https.h, "Connection reuse"). */
struct https_conn {
    struct node_ev ev;                    /* EPOLLIN while idle: the peer closed it or sent something */
    struct https_conn *next;
    int epfd, fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *key;
    EVP_PKEY *pkey;                       /* in-memory client key (up-ref'd), or NULL */
    uint64_t idle_since_ms, idle_until_ms;
    unsigned requests;                    /* served so far */
    unsigned id;                          /* id of the request that opened it */
    bool dead;                            /* closed; freed at the next https_tick() */
};

static struct https_conn *pool, *conn_graveyard;
static size_t n_pool;

/* One TLS context for every connection (SSL_CTX_new is ~0.3 ms in OpenSSL 3); each connection gets
 * its trust anchors as a verify store, cached by CA file identity, and its client certificate on
 * its SSL object. */
static SSL_CTX *base_ctx;
static struct {
    char *key;
    X509_STORE *store;
    uint64_t used;
} store_cache[HTTPS_CTX_CACHE];
static uint64_t store_clock;

static struct https_client *clients;
static unsigned next_id = 1;
static size_t n_clients;

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        fatalx("https.alloc", "reason=\"out of memory\"");
    return d;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* ---- the one transition function ---- */

static void set_state(struct https_client *c, enum https_state to)
{
    if ((unsigned)to >= HTTPS_STATE__COUNT)
        fatalx("https.state", "id=%u bad_state=%d", c->id, (int)to);
    if (c->state == to)
        return;
    log_info("https.state", "id=%u tag=%s from=%s to=%s", c->id, c->tag, state_names[c->state], state_names[to]);
    c->state = to;
}

static void unlink_client(struct https_client *c)
{
    if (c->pprev) {
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
        c->pprev = NULL;
        c->next = NULL;
        n_clients--;
    }
}

/* Clients finished or cancelled: their memory stays valid until the next https_tick(), because
 * an event for them may still sit in the epoll batch being dispatched (on_event ignores them). */
static struct https_client *graveyard;

static void client_release(struct https_client *c)
{
    unlink_client(c);
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0) {
        if (c->interest && c->epfd >= 0)
            epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    free(c->tag);
    free(c->method);
    free(c->host);
    free(c->path);
    free(c->content_type);
    free(c->ca_file);
    free(c->ca_dir);
    free(c->cert_file);
    free(c->key_file);
    EVP_PKEY_free(c->key);
    wipe_free(c->proxy_user);
    wipe_free(c->proxy_pass);
    for (size_t i = 0; c->headers && c->headers[i]; i++)
        wipe_free(c->headers[i]); /* may carry a session token */
    free(c->headers);
    free(c->body);
    if (c->out) {
        explicit_bzero(c->out, c->out_len); /* may hold the Proxy-Authorization */
        free(c->out);
    }
    free(c->rbody);
    c->rbody = NULL;
    wipe_free(c->pool_key);
    c->pool_key = NULL;
    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;
    c->out = NULL;
    c->dead = true;
    c->next = graveyard;
    graveyard = c;
}

static void bury(void)
{
    while (graveyard) {
        struct https_client *c = graveyard;
        graveyard = c->next;
        free(c);
    }
    while (conn_graveyard) {
        struct https_conn *k = conn_graveyard;
        conn_graveyard = k->next;
        free(k);
    }
}

/* ---- the connection pool ---- */

/* Unlink k from the pool; its memory stays valid until the next https_tick() (an event for it may
 * still sit in the epoll batch being dispatched). The socket and TLS session are closed unless
 * they were handed on (fd -1). */
static void conn_release(struct https_conn *k, const char *why)
{
    for (struct https_conn **pp = &pool; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            n_pool--;
            break;
        }
    if (k->fd >= 0) {
        log_info("https.conn_closed", "conn=%u requests=%u reason=%s", k->id, k->requests, why);
        if (k->ssl) {
            SSL_shutdown(k->ssl); /* close_notify, best effort (non-blocking) */
            SSL_free(k->ssl);
        }
        if (k->ctx)
            SSL_CTX_free(k->ctx);
        if (k->epfd >= 0)
            epoll_ctl(k->epfd, EPOLL_CTL_DEL, k->fd, NULL);
        close(k->fd);
    }
    EVP_PKEY_free(k->pkey);
    wipe_free(k->key);
    k->key = NULL;
    k->pkey = NULL;
    k->ssl = NULL;
    k->ctx = NULL;
    k->fd = -1;
    k->dead = true;
    k->next = conn_graveyard;
    conn_graveyard = k;
}

/* An idle connection is readable: the peer closed it, or sent data nobody asked for (drop it), or
 * only a TLS handshake message such as a late session ticket (keep it). */
static void conn_event(struct node_ev *ev, uint32_t events)
{
    struct https_conn *k = container_of(ev, struct https_conn, ev);
    if (k->dead)
        return;
    if (!(events & (EPOLLERR | EPOLLHUP))) {
        char b[256];
        size_t got = 0;
        ERR_clear_error();
        int r = SSL_read_ex(k->ssl, b, sizeof b, &got);
        int se = r == 1 ? SSL_ERROR_NONE : SSL_get_error(k->ssl, r);
        ERR_clear_error();
        OPENSSL_cleanse(b, sizeof b);
        if (se == SSL_ERROR_WANT_READ)
            return;
        conn_release(k, r == 1 ? "unexpected-data" : "peer-closed");
        return;
    }
    conn_release(k, "peer-closed");
}

/* "ino:mtime:size" of a file (or "-"), so a pooled connection or a cached context is only reused
 * with the very file it was made with. */
static void file_id(const char *path, char *dst, size_t cap)
{
    struct stat st;
    if (!path || stat(path, &st) < 0)
        snprintf(dst, cap, "-");
    else
        snprintf(dst, cap, "%llu:%lld.%09ld:%lld", (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (long long)st.st_size);
}

static char *conn_key(const struct https_client *c)
{
    char ca[96], cert[96], key[96];
    file_id(c->ca_file, ca, sizeof ca);
    file_id(c->cert_file, cert, sizeof cert);
    file_id(c->key_file, key, sizeof key);
    char *k = NULL;
    if (asprintf(&k, "%s:%u|%s|%s|%s|%s@%s|%s|%s@%s|%s@%s|%s", c->host, c->port, c->res.proxy,
                 c->proxy_user ? c->proxy_user : "", c->proxy_pass ? c->proxy_pass : "", c->ca_file ? c->ca_file : "",
                 ca, c->ca_dir ? c->ca_dir : "", c->cert_file ? c->cert_file : "", cert, c->key_file ? c->key_file : "",
                 key, c->key ? "mem" : "") < 0)
        fatalx("https.alloc", "reason=\"out of memory\"");
    return k;
}

static struct https_conn *pool_take(const struct https_client *c)
{
    for (struct https_conn *k = pool; k; k = k->next)
        if (!strcmp(k->key, c->pool_key) && (!c->key || (k->pkey && EVP_PKEY_eq(k->pkey, c->key) == 1)))
            return k;
    return NULL;
}

/* The finished request's connection into the pool (before its callback runs, so a request the
 * callback starts can take it). */
static void pool_put(struct https_client *c, uint64_t now_ms)
{
    if (n_pool >= HTTPS_POOL_MAX) {
        struct https_conn *old = pool;
        for (struct https_conn *k = pool; k; k = k->next)
            if (k->idle_since_ms < old->idle_since_ms)
                old = k;
        conn_release(old, "pool-full");
    }
    struct https_conn *k = calloc(1, sizeof *k);
    if (!k)
        fatalx("https.alloc", "reason=\"out of memory\"");
    k->ev.fn = conn_event;
    k->epfd = c->epfd;
    k->fd = c->fd;
    k->ssl = c->ssl;
    k->ctx = c->ctx;
    k->key = c->pool_key;
    if (c->key && EVP_PKEY_up_ref(c->key) == 1)
        k->pkey = c->key;
    k->idle_since_ms = now_ms;
    k->idle_until_ms = now_ms + c->keep_alive_ms;
    k->requests = c->reused + 1;
    k->id = c->conn_id;
    c->pool_key = NULL;
    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &k->ev};
    if (k->epfd < 0 || epoll_ctl(k->epfd, c->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, k->fd, &ev) < 0) {
        k->epfd = -1;
        k->next = pool;
        pool = k;
        n_pool++;
        conn_release(k, "epoll-failed");
        return;
    }
    c->interest = 0;
    k->next = pool;
    pool = k;
    n_pool++;
}

/* Deliver the result and free the client. */
static void finish(struct https_client *c)
{
    c->res.elapsed_ms = https_now_ms() - c->started_ms;
    c->res.id = c->id;
    if (c->res.err == HTTPS_OK) {
        c->res.failed_in = HTTPS_DONE;
        set_state(c, HTTPS_DONE);
        log_info("https.done", "id=%u tag=%s host=%s status=%d reason=%s body_bytes=%zu proxy=%s ms=%llu", c->id,
                 c->tag, c->host, c->res.status, log_quote((char[128]){0}, 128, c->res.reason, strlen(c->res.reason)),
                 c->res.body_len, c->res.proxy, (unsigned long long)c->res.elapsed_ms);
    } else {
        c->res.failed_in = c->state;
        set_state(c, HTTPS_FAILED);
        char q[512];
        log_warn("https.failed", "id=%u tag=%s host=%s class=%s failed_in=%s proxy=%s proxy_status=%d error=%s ms=%llu",
                 c->id, c->tag, c->host, https_err_name(c->res.err), state_names[c->res.failed_in], c->res.proxy,
                 c->res.proxy_status, log_quote(q, sizeof q, c->res.message, strlen(c->res.message)),
                 (unsigned long long)c->res.elapsed_ms);
    }
    unlink_client(c); /* the callback may start new requests: this one is no longer under way */
    if (c->res.err == HTTPS_OK && c->reusable && c->fd >= 0 && c->ssl)
        pool_put(c, https_now_ms());
    if (c->have_rh)
        c->res.head = &c->rh;
    if (c->rbody) {
        c->res.body = c->rbody;
        c->res.body_len = c->rbody_len;
    }
    c->done(c, &c->res, c->arg);
    client_release(c);
}

static int open_connection(struct https_client *c, enum https_err *e, char *msg, size_t cap);
static void retry_fresh(struct https_client *c, const char *why);

static void fail(struct https_client *c, enum https_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct https_client *c, enum https_err e, const char *fmt, ...)
{
    va_list ap;
    char m[sizeof c->res.message];
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    /* a pooled connection the server or the proxy closed meanwhile: once more on a fresh one */
    if (c->reused && !c->retried && e != HTTPS_ERR_TIMEOUT && e != HTTPS_ERR_SETUP &&
        (c->state == HTTPS_REQUEST_SEND || (c->state == HTTPS_RESPONSE_RECV && !c->have_rh && c->head_len == 0))) {
        retry_fresh(c, m);
        return;
    }
    c->res.err = e;
    copy_printable(c->res.message, sizeof c->res.message, m, strlen(m));
    finish(c);
}

/* Defer a set-up failure to the next https_tick() (never call back from https_start()). */
static void fail_later(struct https_client *c, enum https_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_later(struct https_client *c, enum https_err e, const char *fmt, ...)
{
    va_list ap;
    char m[sizeof c->res.message];
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    c->res.err = e;
    copy_printable(c->res.message, sizeof c->res.message, m, strlen(m));
    c->fail_pending = true;
}

/* The earliest error of the OpenSSL queue (the root cause) as text, "" when empty; clears the
 * queue. */
static void ssl_errors(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    buf[0] = '\0';
    if (e) {
        const char *r = ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e);
        if (r)
            snprintf(buf, cap, "%s", r);
        else
            ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
}

static int want(struct https_client *c, uint32_t events)
{
    if (c->epfd < 0 || c->interest == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = &c->ev};
    int r = epoll_ctl(c->epfd, c->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    if (r < 0)
        return -errno;
    c->interest = events;
    return 0;
}

/* Step results. */
enum { STEP_NEXT = 0, STEP_WAIT = 1, STEP_END = 2 };

static int wait_for(struct https_client *c, uint32_t events)
{
    int r = want(c, events);
    if (r < 0) {
        fail(c, HTTPS_ERR_SETUP, "epoll: %s", strerror(-r));
        return STEP_END;
    }
    return STEP_WAIT;
}

static const char *proxy_str(const struct https_client *c) { return c->res.proxy; }

static int step_connect(struct https_client *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return wait_for(c, EPOLLOUT);
    if (err) {
        fail(c, HTTPS_ERR_PROXY_CONNECT, "cannot connect to %s %s: %s", c->direct ? "server" : "proxy", proxy_str(c),
             strerror(err));
        return STEP_END;
    }
    /* A connect still in progress reports SO_ERROR 0 too: check that we are connected. */
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) < 0) {
        if (errno == ENOTCONN)
            return wait_for(c, EPOLLOUT);
        fail(c, HTTPS_ERR_PROXY_CONNECT, "cannot connect to %s: %s", proxy_str(c), strerror(errno));
        return STEP_END;
    }
    if (c->direct) {
        set_state(c, HTTPS_TLS_HANDSHAKE);
        return STEP_NEXT;
    }
    char b[HTTPS_HOST_MAX + 2200];
    ssize_t n = http_build_connect(b, sizeof b, c->host, c->port, c->proxy_user, c->proxy_pass);
    if (n < 0) {
        explicit_bzero(b, sizeof b);
        fail(c, HTTPS_ERR_SETUP, "cannot build the CONNECT request (%s)",
             n == -ENOBUFS ? "too long" : "bad host or credentials");
        return STEP_END;
    }
    c->out = malloc((size_t)n);
    if (!c->out)
        fatalx("https.alloc", "reason=\"out of memory\"");
    memcpy(c->out, b, (size_t)n);
    explicit_bzero(b, sizeof b);
    c->out_len = (size_t)n;
    c->out_off = 0;
    set_state(c, HTTPS_PROXY_SEND);
    return STEP_NEXT;
}

static int step_proxy_send(struct https_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return wait_for(c, EPOLLOUT);
            fail(c, HTTPS_ERR_PROXY_CONNECT, "proxy %s: sending CONNECT: %s", proxy_str(c), strerror(errno));
            return STEP_END;
        }
        c->out_off += (size_t)w;
    }
    explicit_bzero(c->out, c->out_len);
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->head_len = 0;
    set_state(c, HTTPS_PROXY_RECV);
    return STEP_NEXT;
}

static int step_proxy_recv(struct https_client *c)
{
    for (;;) {
        if (c->head_len >= sizeof c->head) {
            fail(c, HTTPS_ERR_PROXY_PROTOCOL, "proxy %s: response head larger than %d bytes", proxy_str(c),
                 HTTP_RESP_HEAD_MAX);
            return STEP_END;
        }
        ssize_t r = recv(c->fd, c->head + c->head_len, sizeof c->head - c->head_len, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return wait_for(c, EPOLLIN);
            fail(c, HTTPS_ERR_PROXY_CONNECT, "proxy %s: %s before answering CONNECT", proxy_str(c),
                 errno == ECONNRESET ? "connection reset" : strerror(errno));
            return STEP_END;
        }
        if (r == 0) {
            if (c->head_len == 0)
                fail(c, HTTPS_ERR_PROXY_CONNECT, "proxy %s closed the connection before answering CONNECT",
                     proxy_str(c));
            else
                fail(c, HTTPS_ERR_PROXY_PROTOCOL, "proxy %s closed the connection in the middle of its response head",
                     proxy_str(c));
            return STEP_END;
        }
        c->head_len += (size_t)r;
        const char *why = NULL;
        int p;
        for (;;) {
            p = http_response_head_parse(c->head, c->head_len, &c->rh, &why);
            /* Skip interim 1xx answers. */
            if (p == 1 && c->rh.status >= 100 && c->rh.status < 200) {
                memmove(c->head, c->head + c->rh.head_len, c->head_len - c->rh.head_len);
                c->head_len -= c->rh.head_len;
                continue;
            }
            break;
        }
        if (p < 0) {
            char q[96];
            fail(c, HTTPS_ERR_PROXY_PROTOCOL, "proxy %s: bad answer to CONNECT (%s): %s", proxy_str(c), why,
                 copy_printable(q, sizeof q, c->head, c->head_len < 60 ? c->head_len : 60));
            return STEP_END;
        }
        if (p == 0)
            continue;
        struct https_result *res = &c->res;
        res->proxy_status = c->rh.status;
        copy_printable(res->proxy_reason, sizeof res->proxy_reason, c->rh.reason, c->rh.reason_len);
        http_head_copy(&c->rh, "X-Squid-Error", res->squid_error, sizeof res->squid_error);
        http_head_copy(&c->rh, "Proxy-Authenticate", res->proxy_authenticate, sizeof res->proxy_authenticate);
        if (c->rh.status != 200) {
            char q1[128], q2[128], q3[160];
            log_warn("https.proxy_response", "id=%u tag=%s proxy=%s status=%d reason=%s squid_error=%s "
                     "proxy_authenticate=%s auth=%s",
                     c->id, c->tag, proxy_str(c), res->proxy_status,
                     log_quote(q1, sizeof q1, res->proxy_reason, strlen(res->proxy_reason)),
                     log_quote(q2, sizeof q2, res->squid_error, strlen(res->squid_error)),
                     log_quote(q3, sizeof q3, res->proxy_authenticate, strlen(res->proxy_authenticate)),
                     c->proxy_user ? "basic" : "none");
            char extra[200] = "";
            if (res->squid_error[0])
                snprintf(extra, sizeof extra, " (X-Squid-Error: %s)", res->squid_error);
            if (res->proxy_status == 407)
                snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%s",
                         c->proxy_user ? ", credentials rejected" : ", no credentials configured");
            fail(c, HTTPS_ERR_PROXY_REFUSED, "proxy %s answered CONNECT %s:%u with %d %s%s", proxy_str(c), c->host,
                 c->port, res->proxy_status, res->proxy_reason, extra);
            return STEP_END;
        }
        if (c->head_len > c->rh.head_len) {
            fail(c, HTTPS_ERR_PROXY_PROTOCOL, "proxy %s: %zu unexpected bytes after its 200 answer", proxy_str(c),
                 c->head_len - c->rh.head_len);
            return STEP_END;
        }
        log_info("https.tunnel", "id=%u tag=%s proxy=%s target=%s:%u status=200 reason=%s", c->id, c->tag,
                 proxy_str(c), c->host, c->port,
                 log_quote((char[128]){0}, 128, res->proxy_reason, strlen(res->proxy_reason)));
        c->head_len = 0;
        set_state(c, HTTPS_TLS_HANDSHAKE);
        return STEP_NEXT;
    }
}

int https_use_cert_chain_file(SSL_CTX *ctx, SSL *ssl, const char *file)
{
    STACK_OF(X509) *chain = NULL;
    if (pki_certs_load_file(file, &chain) <= 0) /* not only certificates, or unreadable: OpenSSL says why */
        return ssl ? SSL_use_certificate_chain_file(ssl, file) : SSL_CTX_use_certificate_chain_file(ctx, file);
    X509 *leaf = sk_X509_value(chain, 0);
    int ok = ssl ? SSL_use_certificate(ssl, leaf) : SSL_CTX_use_certificate(ctx, leaf);
    for (int i = 1; ok == 1 && i < sk_X509_num(chain); i++)
        ok = ssl ? (int)SSL_add1_chain_cert(ssl, sk_X509_value(chain, i))
                 : (int)SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i));
    sk_X509_pop_free(chain, X509_free);
    return ok;
}

/* The verify store for a CA file, a CA directory or the system's default paths: cached (up-ref'd),
 * else loaded and cached. NULL with *why on failure. */
static X509_STORE *verify_store(const char *ca_file, const char *ca_dir, char *why, size_t cap)
{
    char id[96], key[2 * PATH_MAX + 200];
    file_id(ca_file, id, sizeof id);
    snprintf(key, sizeof key, "%s@%s|%s", ca_file ? ca_file : "", id, ca_dir ? ca_dir : "");
    size_t v = 0;
    for (size_t i = 0; i < HTTPS_CTX_CACHE; i++) {
        if (store_cache[i].key && !strcmp(store_cache[i].key, key) && X509_STORE_up_ref(store_cache[i].store) == 1) {
            store_cache[i].used = ++store_clock;
            return store_cache[i].store;
        }
        if (!store_cache[i].key || (store_cache[v].key && store_cache[i].used < store_cache[v].used))
            v = i;
    }
    X509_STORE *st = X509_STORE_new();
    int ok = st != NULL;
    if (ok && ca_file)
        ok = pki_store_load_file(st, ca_file) == 1; /* parsed once per process (ztp/pki.h) */
    if (ok && ca_dir)
        ok = X509_STORE_load_path(st, ca_dir) == 1;
    if (ok && !ca_file && !ca_dir)
        ok = X509_STORE_set_default_paths(st) == 1;
    if (!ok) {
        ssl_errors(why, cap);
        X509_STORE_free(st);
        return NULL;
    }
    if (X509_STORE_up_ref(st) == 1) {
        free(store_cache[v].key);
        X509_STORE_free(store_cache[v].store);
        store_cache[v].key = dup_or_null(key);
        store_cache[v].store = st;
        store_cache[v].used = ++store_clock;
    }
    return st;
}

static void store_cache_clear(void)
{
    for (size_t i = 0; i < HTTPS_CTX_CACHE; i++) {
        free(store_cache[i].key);
        X509_STORE_free(store_cache[i].store);
        store_cache[i].key = NULL;
        store_cache[i].store = NULL;
    }
    if (base_ctx)
        SSL_CTX_free(base_ctx);
    base_ctx = NULL;
}

static int tls_setup(struct https_client *c)
{
    char e[256];
    ERR_clear_error();
    if (!base_ctx) {
        base_ctx = SSL_CTX_new(TLS_client_method());
        if (!base_ctx) {
            ssl_errors(e, sizeof e);
            fail(c, HTTPS_ERR_SETUP, "SSL_CTX_new: %s", e);
            return -1;
        }
        SSL_CTX_set_min_proto_version(base_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(base_ctx, SSL_VERIFY_PEER, NULL);
    }
    X509_STORE *st = verify_store(c->ca_file, c->ca_dir, e, sizeof e);
    if (!st) {
        if (c->ca_file || c->ca_dir)
            fail(c, HTTPS_ERR_SETUP, "cannot load the CA %s \"%s\": %s", c->ca_file ? "file" : "directory",
                 c->ca_file ? c->ca_file : c->ca_dir, e);
        else
            fail(c, HTTPS_ERR_SETUP, "cannot load the system CA store: %s", e);
        return -1;
    }
    if (SSL_CTX_up_ref(base_ctx) != 1) {
        X509_STORE_free(st);
        fail(c, HTTPS_ERR_SETUP, "SSL_CTX_up_ref failed");
        return -1;
    }
    c->ctx = base_ctx;
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set1_verify_cert_store(c->ssl, st) != 1) {
        X509_STORE_free(st);
        ssl_errors(e, sizeof e);
        fail(c, HTTPS_ERR_SETUP, "SSL_new: %s", e);
        return -1;
    }
    X509_STORE_free(st); /* the SSL holds its own reference */
    if (c->cert_file) {
        const char *key = c->key_file ? c->key_file : c->cert_file;
        if (https_use_cert_chain_file(NULL, c->ssl, c->cert_file) != 1) {
            ssl_errors(e, sizeof e);
            fail(c, HTTPS_ERR_SETUP, "cannot load the client certificate \"%s\": %s", c->cert_file, e);
            return -1;
        }
        if (c->key) {
            if (SSL_use_PrivateKey(c->ssl, c->key) != 1 || SSL_check_private_key(c->ssl) != 1) {
                ssl_errors(e, sizeof e);
                fail(c, HTTPS_ERR_SETUP, "cannot use the client key (in memory) with \"%s\": %s", c->cert_file, e);
                return -1;
            }
        } else if (SSL_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1 || SSL_check_private_key(c->ssl) != 1) {
            ssl_errors(e, sizeof e);
            fail(c, HTTPS_ERR_SETUP, "cannot use the client key \"%s\": %s", key, e);
            return -1;
        }
    }
    if (SSL_set_fd(c->ssl, c->fd) != 1) {
        ssl_errors(e, sizeof e);
        fail(c, HTTPS_ERR_SETUP, "SSL_set_fd: %s", e);
        return -1;
    }
    int ok;
    if (is_ipv4_literal(c->host)) {
        /* No SNI for an address (RFC 6066); check the certificate's IP SAN. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
    } else {
        ok = SSL_set_tlsext_host_name(c->ssl, c->host) == 1 && SSL_set1_host(c->ssl, c->host) == 1;
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (!ok) {
        ssl_errors(e, sizeof e);
        fail(c, HTTPS_ERR_SETUP, "cannot set the expected host name: %s", e);
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    return 0;
}

static void name_rfc2253(X509_NAME *n, char *dst, size_t cap)
{
    dst[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long l = BIO_get_mem_data(b, &p);
        if (l > 0)
            copy_printable(dst, cap, p, (size_t)l);
    }
    BIO_free(b);
}

/* The TLS session's parameters and the peer into the result. */
static void tls_result(struct https_client *c)
{
    struct https_result *res = &c->res;
    snprintf(res->tls_version, sizeof res->tls_version, "%s", SSL_get_version(c->ssl));
    const char *cn = SSL_get_cipher_name(c->ssl);
    snprintf(res->tls_cipher, sizeof res->tls_cipher, "%s", cn ? cn : "?");
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer) {
        name_rfc2253(X509_get_subject_name(peer), res->peer_subject, sizeof res->peer_subject);
        name_rfc2253(X509_get_issuer_name(peer), res->peer_issuer, sizeof res->peer_issuer);
        X509_free(peer);
    }
    res->verify_code = SSL_get_verify_result(c->ssl);
}

/* The request head and body into c->out. Returns 0, or -1 with *why. */
static int build_request(struct https_client *c, const char **why)
{
    char b[HTTPS_PATH_MAX + 4096];
    bool has_body = c->body_len > 0 || strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0 ||
                    strcmp(c->method, "PATCH") == 0;
    ssize_t n = http_build_request_conn(b, sizeof b, c->method, c->host, c->port, c->path,
                                        (const char *const *)c->headers, has_body, c->content_type, c->body_len,
                                        c->keep_alive_ms > 0);
    if (n < 0) {
        *why = n == -ENOBUFS ? "headers too long" : "bad method, path or header";
        return -1;
    }
    c->out = malloc((size_t)n + c->body_len);
    if (!c->out)
        fatalx("https.alloc", "reason=\"out of memory\"");
    memcpy(c->out, b, (size_t)n);
    if (c->body_len)
        memcpy(c->out + n, c->body, c->body_len);
    OPENSSL_cleanse(b, (size_t)n); /* may carry a session token */
    c->out_len = (size_t)n + c->body_len;
    c->out_off = 0;
    return 0;
}

static int step_tls(struct https_client *c)
{
    if (!c->ssl && tls_setup(c) < 0)
        return STEP_END;
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        struct https_result *res = &c->res;
        tls_result(c);
        char q1[300], q2[300];
        log_info("https.tls", "id=%u tag=%s host=%s version=%s cipher=%s peer_subject=%s peer_issuer=%s verify=ok",
                 c->id, c->tag, c->host, res->tls_version, res->tls_cipher,
                 log_quote(q1, sizeof q1, res->peer_subject, strlen(res->peer_subject)),
                 log_quote(q2, sizeof q2, res->peer_issuer, strlen(res->peer_issuer)));
        /* A server that closes without close_notify ends an until-close body, nothing more. */
        SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
        const char *why = NULL;
        if (build_request(c, &why) < 0) {
            fail(c, HTTPS_ERR_SETUP, "cannot build the request (%s)", why);
            return STEP_END;
        }
        set_state(c, HTTPS_REQUEST_SEND);
        return STEP_NEXT;
    }
    int se = SSL_get_error(c->ssl, r);
    if (se == SSL_ERROR_WANT_READ)
        return wait_for(c, EPOLLIN);
    if (se == SSL_ERROR_WANT_WRITE)
        return wait_for(c, EPOLLOUT);
    long v = SSL_get_verify_result(c->ssl);
    char e[256];
    int saved_errno = errno;
    ssl_errors(e, sizeof e);
    c->res.verify_code = v;
    if (v != X509_V_OK) {
        char q[sizeof c->res.peer_subject + sizeof c->res.peer_issuer + 32] = "";
        X509 *peer = SSL_get1_peer_certificate(c->ssl);
        if (peer) {
            name_rfc2253(X509_get_subject_name(peer), c->res.peer_subject, sizeof c->res.peer_subject);
            name_rfc2253(X509_get_issuer_name(peer), c->res.peer_issuer, sizeof c->res.peer_issuer);
            X509_free(peer);
            snprintf(q, sizeof q, " (peer %s, issuer %s)", c->res.peer_subject, c->res.peer_issuer);
        }
        fail(c, HTTPS_ERR_TLS, "certificate verify failed: %s%s", X509_verify_cert_error_string(v), q);
    } else if (se == SSL_ERROR_SYSCALL && !e[0]) {
        fail(c, HTTPS_ERR_TLS, "TLS handshake with %s: %s", c->host,
             saved_errno ? strerror(saved_errno) : "the peer closed the connection");
    } else {
        fail(c, HTTPS_ERR_TLS, "TLS handshake with %s: %s", c->host, e[0] ? e : "failed");
    }
    return STEP_END;
}

static int step_request_send(struct https_client *c)
{
    while (c->out_off < c->out_len) {
        ERR_clear_error();
        size_t w = 0;
        int r = SSL_write_ex(c->ssl, c->out + c->out_off, c->out_len - c->out_off, &w);
        if (r == 1) {
            c->out_off += w;
            continue;
        }
        int se = SSL_get_error(c->ssl, r);
        if (se == SSL_ERROR_WANT_READ)
            return wait_for(c, EPOLLIN);
        if (se == SSL_ERROR_WANT_WRITE)
            return wait_for(c, EPOLLOUT);
        char e[256];
        ssl_errors(e, sizeof e);
        /* A TLS-layer error (e.g. the server's alert after it checked our certificate) is tls-failed. */
        fail(c, se == SSL_ERROR_SSL ? HTTPS_ERR_TLS : HTTPS_ERR_HTTP, "sending the request to %s: %s", c->host,
             e[0] ? e : "connection closed");
        return STEP_END;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->head_len = 0;
    c->have_rh = false;
    set_state(c, HTTPS_RESPONSE_RECV);
    return STEP_NEXT;
}

static int body_grow(struct https_client *c, size_t need)
{
    if (need + 1 <= c->rbody_cap)
        return 0;
    if (need > c->max_body)
        return -1;
    size_t cap = c->rbody_cap ? c->rbody_cap : 4096;
    while (cap < need + 1)
        cap *= 2;
    if (cap > c->max_body + 1)
        cap = c->max_body + 1;
    char *nb = realloc(c->rbody, cap);
    if (!nb)
        fatalx("https.alloc", "reason=\"out of memory\"");
    c->rbody = nb;
    c->rbody_cap = cap;
    return 0;
}

/* Body bytes: returns 1 complete, 0 more, -1 failed (finished). */
static int body_feed(struct https_client *c, const char *d, size_t n)
{
    switch (c->kind) {
    case HTTP_BODY_NONE:
        return 1;
    case HTTP_BODY_LENGTH: {
        uint64_t left = c->content_length - c->rbody_len;
        size_t take = (uint64_t)n < left ? n : (size_t)left;
        if (body_grow(c, c->rbody_len + take) < 0) {
            fail(c, HTTPS_ERR_HTTP, "response body of %s larger than %zu bytes", c->host, c->max_body);
            return -1;
        }
        memcpy(c->rbody + c->rbody_len, d, take);
        c->rbody_len += take;
        if (take < n)
            c->extra = true;
        return c->rbody_len == c->content_length ? 1 : 0;
    }
    case HTTP_BODY_UNTIL_CLOSE:
        if (body_grow(c, c->rbody_len + n) < 0) {
            fail(c, HTTPS_ERR_HTTP, "response body of %s larger than %zu bytes", c->host, c->max_body);
            return -1;
        }
        memcpy(c->rbody + c->rbody_len, d, n);
        c->rbody_len += n;
        return 0;
    case HTTP_BODY_CHUNKED:
        while (n > 0) {
            if (c->rbody_cap <= c->rbody_len + 1)
                (void)body_grow(c, c->rbody_len + 4096 < c->max_body ? c->rbody_len + 4096 : c->max_body);
            size_t room = c->rbody_cap > c->rbody_len + 1 ? c->rbody_cap - c->rbody_len - 1 : 0;
            size_t used = 0, produced = 0;
            const char *why = NULL;
            int r = http_chunked_feed(&c->ck, d, n, &used, c->rbody + c->rbody_len, room, &produced, &why);
            c->rbody_len += produced;
            d += used;
            n -= used;
            if (r < 0) {
                fail(c, HTTPS_ERR_HTTP, "bad chunked body from %s: %s", c->host, why);
                return -1;
            }
            if (r == 1) {
                if (n > 0)
                    c->extra = true;
                return 1;
            }
            if (used == 0 && produced == 0) { /* no room left */
                fail(c, HTTPS_ERR_HTTP, "response body of %s larger than %zu bytes", c->host, c->max_body);
                return -1;
            }
        }
        return 0;
    }
    return 0;
}

/* "Connection: close" (a token of any Connection header) */
static bool conn_close_asked(const struct http_response_head *h)
{
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_resp_header *x = &h->headers[i];
        if (x->name_len != 10 || strncasecmp(x->name, "Connection", 10) != 0)
            continue;
        for (size_t j = 0; j + 5 <= x->value_len; j++)
            if (!strncasecmp(x->value + j, "close", 5) && (j == 0 || x->value[j - 1] == ' ' || x->value[j - 1] == ',') &&
                (j + 5 == x->value_len || x->value[j + 5] == ' ' || x->value[j + 5] == ','))
                return true;
    }
    return false;
}

static void complete(struct https_client *c)
{
    if (body_grow(c, c->rbody_len) == 0 && c->rbody)
        c->rbody[c->rbody_len] = '\0';
    c->res.err = HTTPS_OK;
    c->reusable = c->keep_alive_ms > 0 && c->have_rh && c->rh.version == 11 && c->kind != HTTP_BODY_UNTIL_CLOSE && !c->extra &&
                  !conn_close_asked(&c->rh) && c->ssl && SSL_pending(c->ssl) == 0 &&
                  !(SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN);
    finish(c);
}

static int step_response_recv(struct https_client *c)
{
    char buf[16384];
    for (;;) {
        char *dst = c->have_rh ? buf : c->head + c->head_len;
        size_t room = c->have_rh ? sizeof buf : sizeof c->head - c->head_len;
        if (room == 0) {
            fail(c, HTTPS_ERR_HTTP, "response head from %s larger than %d bytes", c->host, HTTP_RESP_HEAD_MAX);
            return STEP_END;
        }
        ERR_clear_error();
        size_t got = 0;
        int r = SSL_read_ex(c->ssl, dst, room, &got);
        if (r != 1) {
            int se = SSL_get_error(c->ssl, r);
            if (se == SSL_ERROR_WANT_READ)
                return wait_for(c, EPOLLIN);
            if (se == SSL_ERROR_WANT_WRITE)
                return wait_for(c, EPOLLOUT);
            char e[256];
            ssl_errors(e, sizeof e);
            if (se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && !e[0])) {
                /* The server closed. */
                if (!c->have_rh) {
                    fail(c, HTTPS_ERR_HTTP, "%s closed the connection %s", c->host,
                         c->head_len ? "in the middle of its response head" : "without answering");
                } else if (c->kind == HTTP_BODY_UNTIL_CLOSE) {
                    complete(c);
                } else if (c->kind == HTTP_BODY_LENGTH) {
                    fail(c, HTTPS_ERR_HTTP, "response body from %s truncated: %zu of %llu bytes", c->host,
                         c->rbody_len, (unsigned long long)c->content_length);
                } else {
                    fail(c, HTTPS_ERR_HTTP, "chunked response body from %s truncated after %zu bytes", c->host,
                         c->rbody_len);
                }
                return STEP_END;
            }
            /* TLS 1.3: a server that rejects our client certificate says so after the handshake. */
            fail(c, se == SSL_ERROR_SSL ? HTTPS_ERR_TLS : HTTPS_ERR_HTTP, "reading the response from %s: %s", c->host,
                 e[0] ? e : strerror(errno));
            return STEP_END;
        }
        if (c->have_rh) {
            int b = body_feed(c, buf, got);
            if (b < 0)
                return STEP_END;
            if (b == 1) {
                complete(c);
                return STEP_END;
            }
            continue;
        }
        c->head_len += got;
        const char *why = NULL;
        int p;
        for (;;) {
            p = http_response_head_parse(c->head, c->head_len, &c->rh, &why);
            if (p == 1 && c->rh.status >= 100 && c->rh.status < 200 && c->rh.status != 101) {
                memmove(c->head, c->head + c->rh.head_len, c->head_len - c->rh.head_len);
                c->head_len -= c->rh.head_len;
                continue;
            }
            break;
        }
        if (p < 0) {
            fail(c, HTTPS_ERR_HTTP, "bad response head from %s: %s", c->host, why);
            return STEP_END;
        }
        if (p == 0)
            continue;
        c->have_rh = true;
        c->res.status = c->rh.status;
        copy_printable(c->res.reason, sizeof c->res.reason, c->rh.reason, c->rh.reason_len);
        if (http_body_kind(&c->rh, c->method, &c->kind, &c->content_length, &why) < 0) {
            fail(c, HTTPS_ERR_HTTP, "response from %s: %s", c->host, why);
            return STEP_END;
        }
        if (c->kind == HTTP_BODY_LENGTH && c->content_length > c->max_body) {
            fail(c, HTTPS_ERR_HTTP, "response body of %s announced as %llu bytes (limit %zu)", c->host,
                 (unsigned long long)c->content_length, c->max_body);
            return STEP_END;
        }
        http_chunked_init(&c->ck);
        if (body_grow(c, 0) < 0) {
            fail(c, HTTPS_ERR_HTTP, "cannot allocate the body");
            return STEP_END;
        }
        bool no_body = c->kind == HTTP_BODY_NONE || (c->kind == HTTP_BODY_LENGTH && c->content_length == 0);
        if (no_body && c->head_len > c->rh.head_len)
            c->extra = true;
        int b = no_body ? 1 : body_feed(c, c->head + c->rh.head_len, c->head_len - c->rh.head_len);
        if (b < 0)
            return STEP_END;
        if (b == 1) {
            complete(c);
            return STEP_END;
        }
    }
}

static void drive(struct https_client *c)
{
    for (;;) {
        int r;
        switch (c->state) {
        case HTTPS_TCP_CONNECT: r = step_connect(c); break;
        case HTTPS_PROXY_SEND: r = step_proxy_send(c); break;
        case HTTPS_PROXY_RECV: r = step_proxy_recv(c); break;
        case HTTPS_TLS_HANDSHAKE: r = step_tls(c); break;
        case HTTPS_REQUEST_SEND: r = step_request_send(c); break;
        case HTTPS_RESPONSE_RECV: r = step_response_recv(c); break;
        default: fatalx("https.drive", "id=%u state=%s", c->id, https_state_name(c->state));
        }
        if (r != STEP_NEXT)
            return;
    }
}

static void on_event(struct node_ev *ev, uint32_t events)
{
    struct https_client *c = container_of(ev, struct https_client, ev);
    (void)events;
    if (c->dead || c->fail_pending)
        return;
    drive(c);
}

struct https_client *https_start(int epfd, const struct https_request *req, https_done_fn done, void *arg,
                                 uint64_t now_ms)
{
    struct https_client *c = calloc(1, sizeof *c);
    if (!c)
        fatalx("https.alloc", "reason=\"out of memory\"");
    c->ev.fn = on_event;
    c->id = next_id++;
    c->epfd = epfd;
    c->fd = -1;
    c->done = done;
    c->arg = arg;
    c->tag = dup_or_null(req->tag ? req->tag : "https");
    c->method = dup_or_null(req->method ? req->method : "GET");
    c->host = dup_or_null(req->host ? req->host : "");
    c->path = dup_or_null(req->path ? req->path : "/");
    c->content_type = dup_or_null(req->content_type);
    c->ca_file = dup_or_null(req->ca_file);
    c->ca_dir = dup_or_null(req->ca_dir);
    c->cert_file = dup_or_null(req->cert_file);
    c->key_file = dup_or_null(req->key_file);
    if (req->key && EVP_PKEY_up_ref(req->key) == 1)
        c->key = req->key;
    c->proxy_user = dup_or_null(req->proxy_user);
    c->proxy_pass = dup_or_null(req->proxy_user ? (req->proxy_pass ? req->proxy_pass : "") : NULL);
    size_t nh = 0;
    while (req->headers && req->headers[nh])
        nh++;
    c->headers = calloc(nh + 1, sizeof *c->headers);
    if (!c->headers)
        fatalx("https.alloc", "reason=\"out of memory\"");
    for (size_t i = 0; i < nh; i++)
        c->headers[i] = dup_or_null(req->headers[i]);
    if (req->body_len) {
        c->body = malloc(req->body_len);
        if (!c->body)
            fatalx("https.alloc", "reason=\"out of memory\"");
        memcpy(c->body, req->body, req->body_len);
        c->body_len = req->body_len;
    }
    c->port = req->port ? req->port : HTTPS_DEFAULT_PORT;
    c->proxy_addr = req->proxy_addr;
    c->proxy_port = req->proxy_port;
    c->direct = req->proxy_port == 0;
    c->connect_timeout_ms = req->connect_timeout_ms ? req->connect_timeout_ms : HTTPS_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = req->timeout_ms ? req->timeout_ms : HTTPS_DEFAULT_TIMEOUT_MS;
    c->max_body = req->max_body ? req->max_body : HTTPS_DEFAULT_MAX_BODY;
    c->keep_alive_ms = req->keep_alive_ms;
    c->conn_id = c->id;
    c->started_ms = now_ms;
    c->connect_deadline_ms = now_ms + c->connect_timeout_ms;
    c->deadline_ms = now_ms + c->timeout_ms;
    c->res.verify_code = X509_V_OK;

    c->next = clients;
    if (clients)
        clients->pprev = &c->next;
    clients = c;
    c->pprev = &clients;
    n_clients++;

    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (c->direct) {
        snprintf(c->res.proxy, sizeof c->res.proxy, "direct");
        if (inet_pton(AF_INET, c->host, &sa.sin_addr) == 1)
            sa.sin_port = htons(c->port);
    } else {
        proxy_addr_format(c->proxy_addr, c->proxy_port, c->res.proxy, sizeof c->res.proxy);
        sa.sin_addr = c->proxy_addr;
        sa.sin_port = htons(c->proxy_port);
    }
    char url[HTTPS_HOST_MAX + HTTPS_PATH_MAX + 16], q[sizeof url + 64], qu[160];
    snprintf(url, sizeof url, "https://%s:%u%s", c->host, c->port, c->path);
    if (c->proxy_user)
        snprintf(qu, sizeof qu, "basic user=%s", log_quote((char[128]){0}, 128, c->proxy_user, strlen(c->proxy_user)));
    else
        snprintf(qu, sizeof qu, "none");
    log_info("https.start", "id=%u tag=%s method=%s url=%s proxy=%s auth=%s ca=\"%s\" client_cert=\"%s\" timeout_ms=%u",
             c->id, c->tag, c->method, log_quote(q, sizeof q, url, strlen(url)), c->res.proxy, qu,
             c->ca_file ? c->ca_file : c->ca_dir ? c->ca_dir : "system", c->cert_file ? c->cert_file : "none",
             c->timeout_ms);
    set_state(c, HTTPS_TCP_CONNECT);

    if (!http_host_valid(c->host)) {
        fail_later(c, HTTPS_ERR_SETUP, "invalid host name");
        return c;
    }
    if (c->proxy_user && (!cred_ok(c->proxy_user, false) || !cred_ok(c->proxy_pass, true))) {
        fail_later(c, HTTPS_ERR_SETUP, "proxy credentials: the user must not contain ':' or control bytes");
        return c;
    }
    if (c->direct && sa.sin_port == 0) {
        fail_later(c, HTTPS_ERR_SETUP, "no proxy and %s is not an IPv4 address (the router never resolves names)",
                   c->host);
        return c;
    }
    if (!c->direct && (c->proxy_addr.s_addr == 0 || c->proxy_port == 0)) {
        fail_later(c, HTTPS_ERR_SETUP, "no proxy address");
        return c;
    }
    /* a pooled connection to the same server through the same proxy with the same trust */
    c->pool_key = conn_key(c);
    struct https_conn *k = pool_take(c);
    if (k) {
        c->fd = k->fd;
        c->ssl = k->ssl;
        c->ctx = k->ctx;
        c->reused = k->requests;
        c->conn_id = k->id;
        c->interest = EPOLLIN; /* registered by the pool: want() modifies it */
        uint64_t idle = now_ms > k->idle_since_ms ? now_ms - k->idle_since_ms : 0;
        k->fd = -1;
        k->ssl = NULL;
        k->ctx = NULL;
        conn_release(k, "reused");
        tls_result(c);
        log_info("https.reuse", "id=%u tag=%s conn=%u requests=%u idle_ms=%llu proxy=%s", c->id, c->tag, c->conn_id,
                 c->reused, (unsigned long long)idle, c->res.proxy);
        const char *why = NULL;
        if (build_request(c, &why) < 0) {
            fail_later(c, HTTPS_ERR_SETUP, "cannot build the request (%s)", why);
            return c;
        }
        set_state(c, HTTPS_REQUEST_SEND);
        int r = want(c, EPOLLOUT);
        if (r < 0)
            fail_later(c, HTTPS_ERR_SETUP, "epoll: %s", strerror(-r));
        return c;
    }
    enum https_err e;
    char m[sizeof c->res.message];
    if (open_connection(c, &e, m, sizeof m) < 0)
        fail_later(c, e, "%s", m);
    return c;
}

/* A socket to the proxy (or the server), connecting, registered for EPOLLOUT. */
static int open_connection(struct https_client *c, enum https_err *e, char *msg, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (c->direct) {
        inet_pton(AF_INET, c->host, &sa.sin_addr);
        sa.sin_port = htons(c->port);
    } else {
        sa.sin_addr = c->proxy_addr;
        sa.sin_port = htons(c->proxy_port);
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        *e = HTTPS_ERR_SETUP;
        snprintf(msg, cap, "socket: %s", strerror(errno));
        return -1;
    }
    /* Requests go out as several small writes (CONNECT, TLS records of the head and the body):
     * without NODELAY, Nagle holds the last one until the peer's delayed ACK (40 ms) */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        *e = HTTPS_ERR_PROXY_CONNECT;
        snprintf(msg, cap, "cannot connect to %s %s: %s", c->direct ? "server" : "proxy", c->res.proxy, strerror(errno));
        return -1;
    }
    int r = want(c, EPOLLOUT);
    if (r < 0) {
        *e = HTTPS_ERR_SETUP;
        snprintf(msg, cap, "epoll: %s", strerror(-r));
        return -1;
    }
    return 0;
}

/* A reused connection failed before any byte of the response: close it and start over on a fresh
 * connection (called from fail(), inside a step; the request goes on from epoll). */
static void retry_fresh(struct https_client *c, const char *why)
{
    char q[512];
    log_info("https.retry", "id=%u tag=%s conn=%u reason=stale-connection failed_in=%s error=%s", c->id, c->tag,
             c->conn_id, state_names[c->state], log_quote(q, sizeof q, why, strlen(why)));
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    c->ssl = NULL;
    c->ctx = NULL;
    if (c->fd >= 0) {
        if (c->interest && c->epfd >= 0)
            epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->interest = 0;
    if (c->out) {
        explicit_bzero(c->out, c->out_len);
        free(c->out);
        c->out = NULL;
    }
    c->out_len = c->out_off = 0;
    c->head_len = 0;
    c->have_rh = false;
    c->reused = 0;
    c->retried = true;
    c->conn_id = c->id;
    memset(c->res.tls_version, 0, sizeof c->res.tls_version);
    set_state(c, HTTPS_TCP_CONNECT);
    c->connect_deadline_ms = https_now_ms() + c->connect_timeout_ms;
    enum https_err e;
    char m[sizeof c->res.message];
    if (open_connection(c, &e, m, sizeof m) < 0) {
        c->res.err = e;
        copy_printable(c->res.message, sizeof c->res.message, m, strlen(m));
        finish(c);
    }
}

void https_cancel(struct https_client *c)
{
    if (!c)
        return;
    if (c->dead)
        fatalx("https.cancel", "id=%u reason=\"request already finished\"", c->id);
    log_info("https.cancelled", "id=%u tag=%s state=%s", c->id, c->tag, state_names[c->state]);
    client_release(c);
}

void https_pool_flush(const char *why)
{
    while (pool)
        conn_release(pool, why);
}

void https_shutdown(void)
{
    while (clients)
        https_cancel(clients);
    while (pool)
        conn_release(pool, "shutdown");
    store_cache_clear();
    bury();
}

enum https_state https_client_state(const struct https_client *c) { return c->state; }
unsigned https_client_id(const struct https_client *c) { return c->id; }
size_t https_active(void) { return n_clients; }

void https_tick(uint64_t now_ms)
{
    bury();
    for (struct https_conn *k = pool, *nx; k; k = nx) {
        nx = k->next;
        if (now_ms >= k->idle_until_ms)
            conn_release(k, "idle");
    }
    bool again = true;
    while (again) { /* a callback may start or cancel clients: rescan after each */
        again = false;
        for (struct https_client *c = clients; c; c = c->next) {
            if (c->fail_pending) {
                c->fail_pending = false;
                finish(c);
                again = true;
                break;
            }
            if (c->state == HTTPS_TCP_CONNECT && now_ms >= c->connect_deadline_ms) {
                fail(c, HTTPS_ERR_TIMEOUT, "no TCP connection to %s %s within %u ms", c->direct ? "server" : "proxy",
                     c->res.proxy, c->connect_timeout_ms);
                again = true;
                break;
            }
            if (now_ms >= c->deadline_ms) {
                fail(c, HTTPS_ERR_TIMEOUT, "request to %s via %s not complete within %u ms (in state %s)", c->host,
                     c->res.proxy, c->timeout_ms, state_names[c->state]);
                again = true;
                break;
            }
        }
    }
}

int https_next_timeout_ms(uint64_t now_ms)
{
    int64_t t = -1;
    for (struct https_conn *k = pool; k; k = k->next) {
        uint64_t d = k->idle_until_ms;
        int64_t left = d > now_ms ? (int64_t)(d - now_ms) : 0;
        if (t < 0 || left < t)
            t = left;
    }
    for (struct https_client *c = clients; c; c = c->next) {
        uint64_t d = c->fail_pending ? now_ms : c->deadline_ms;
        if (c->state == HTTPS_TCP_CONNECT && c->connect_deadline_ms < d)
            d = c->connect_deadline_ms;
        int64_t left = d > now_ms ? (int64_t)(d - now_ms) : 0;
        if (t < 0 || left < t)
            t = left;
    }
    return t > INT32_MAX ? INT32_MAX : (int)t;
}
