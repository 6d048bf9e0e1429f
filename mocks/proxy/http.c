#include "http.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

void http_limits_default(struct http_limits *lim)
{
    lim->max_head = HTTP_DEFAULT_MAX_HEAD;
    lim->max_headers = HTTP_MAX_HEADERS;
    lim->max_url = HTTP_DEFAULT_MAX_URL;
}

/* RFC 9110 tchar */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t'; }
static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }
static uint8_t upper(uint8_t c) { return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c; }

static int fail(struct http_request *r, int code, const char *why)
{
    r->why = why;
    return code;
}

static const struct {
    const char *name;
    enum http_method m;
} methods[] = {
    {"CONNECT", HTTP_M_CONNECT}, {"GET", HTTP_M_GET},         {"HEAD", HTTP_M_HEAD},
    {"POST", HTTP_M_POST},       {"PUT", HTTP_M_PUT},         {"DELETE", HTTP_M_DELETE},
    {"OPTIONS", HTTP_M_OPTIONS}, {"TRACE", HTTP_M_TRACE},     {"PATCH", HTTP_M_PATCH},
};

uint16_t http_scheme_port(const char *scheme)
{
    static const struct {
        const char *s;
        uint16_t port;
    } t[] = {{"http", 80}, {"https", 443}, {"ftp", 21}, {"gopher", 70}, {"wais", 210}, {"ws", 80}, {"wss", 443}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(scheme, t[i].s) == 0)
            return t[i].port;
    return 0;
}

/* Decimal port: 1..65535, leading zeros allowed (as Squid). Empty is handled by the caller. */
static int parse_port(const uint8_t *p, size_t n, uint16_t *out)
{
    uint32_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(p[i] - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static bool is_host_char(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
           c == '_';
}

/* host[:port] or [v6][:port]. An empty port (or none) leaves *port untouched and port_given false. */
static int parse_authority(const uint8_t *p, size_t n, struct http_request *r)
{
    size_t hl, i;
    const uint8_t *port = NULL;
    size_t portlen = 0;
    if (n == 0)
        return fail(r, HTTP_E_URL, "empty host");
    if (p[0] == '[') {
        const uint8_t *close = memchr(p, ']', n);
        char tmp[64];
        struct in6_addr a6;
        if (!close)
            return fail(r, HTTP_E_URL, "unterminated IPv6 literal");
        hl = (size_t)(close - p) - 1;
        if (hl == 0 || hl >= sizeof tmp)
            return fail(r, HTTP_E_URL, "bad IPv6 literal");
        memcpy(tmp, p + 1, hl);
        tmp[hl] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return fail(r, HTTP_E_URL, "bad IPv6 literal");
        for (i = 0; i < hl; i++)
            r->host[i] = (char)lower((uint8_t)tmp[i]);
        r->host[hl] = '\0';
        r->host_v6 = true;
        i = (size_t)(close - p) + 1;
        if (i < n) {
            if (p[i] != ':')
                return fail(r, HTTP_E_URL, "junk after IPv6 literal");
            port = p + i + 1;
            portlen = n - i - 1;
        }
    } else {
        const uint8_t *colon = memchr(p, ':', n);
        hl = colon ? (size_t)(colon - p) : n;
        if (colon) {
            port = colon + 1;
            portlen = n - hl - 1;
        }
        if (hl == 0)
            return fail(r, HTTP_E_URL, "empty host");
        if (hl > HTTP_MAX_HOST)
            return fail(r, HTTP_E_URL, "host name too long");
        for (i = 0; i < hl; i++) {
            if (!is_host_char(p[i]))
                return fail(r, HTTP_E_URL, "bad character in host name");
            r->host[i] = (char)lower(p[i]);
        }
        r->host[hl] = '\0';
        if (hl > 1 && r->host[hl - 1] == '.')
            r->host[--hl] = '\0';
        if (r->host[0] == '.' || strcmp(r->host, ".") == 0)
            return fail(r, HTTP_E_URL, "bad host name");
    }
    if (port && portlen) {
        if (parse_port(port, portlen, &r->port) < 0)
            return fail(r, HTTP_E_URL, "bad port");
        r->port_given = true;
    }
    return 0;
}

static int parse_target(const uint8_t *buf, struct http_request *r)
{
    const uint8_t *t = buf + r->target.off;
    size_t n = r->target.len;
    if (r->method == HTTP_M_CONNECT) {
        r->form = HTTP_FORM_AUTHORITY;
        r->port = 443;
        return parse_authority(t, n, r);
    }
    if (n == 1 && t[0] == '*') {
        if (r->method != HTTP_M_OPTIONS)
            return fail(r, HTTP_E_URL, "asterisk-form is for OPTIONS only");
        r->form = HTTP_FORM_ASTERISK;
        return 0;
    }
    if (t[0] == '/') {
        r->form = HTTP_FORM_ORIGIN;
        r->path = r->target;
        return 0;
    }
    /* scheme "://" authority [path] */
    size_t i = 0;
    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return fail(r, HTTP_E_URL, "request target is not a URL");
    while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
                     t[i] == '+' || t[i] == '-' || t[i] == '.'))
        i++;
    if (i > HTTP_MAX_SCHEME || n - i < 3 || memcmp(t + i, "://", 3) != 0)
        return fail(r, HTTP_E_URL, "request target is not a URL");
    for (size_t k = 0; k < i; k++)
        r->scheme[k] = (char)lower(t[k]);
    r->scheme[i] = '\0';
    r->form = HTTP_FORM_ABSOLUTE;
    size_t a = i + 3, e = a;
    while (e < n && t[e] != '/' && t[e] != '?' && t[e] != '#')
        e++;
    /* userinfo@ is skipped */
    for (size_t k = e; k > a; k--)
        if (t[k - 1] == '@') {
            a = k;
            break;
        }
    r->port = http_scheme_port(r->scheme);
    int rc = parse_authority(t + a, e - a, r);
    if (rc < 0)
        return rc;
    r->path.off = r->target.off + (uint32_t)e;
    r->path.len = (uint32_t)(n - e);
    return 0;
}

static int parse_request_line(const uint8_t *buf, size_t s, size_t e, const struct http_limits *lim,
                              struct http_request *r)
{
    size_t i = s, m0, t0;
    m0 = i;
    while (i < e && is_tchar(buf[i]))
        i++;
    if (i == m0 || i - m0 > HTTP_MAX_METHOD || i >= e || !is_ws(buf[i]))
        return fail(r, HTTP_E_PROTOCOL, "bad method");
    for (size_t k = m0; k < i; k++)
        r->method_str[k - m0] = (char)upper(buf[k]);
    r->method_str[i - m0] = '\0';
    r->method = HTTP_M_OTHER;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        if (strcmp(r->method_str, methods[k].name) == 0)
            r->method = methods[k].m;
    while (i < e && is_ws(buf[i]))
        i++;
    t0 = i;
    while (i < e && buf[i] > 0x20 && buf[i] != 0x7f)
        i++;
    if (i == t0)
        return fail(r, HTTP_E_PROTOCOL, "no request target");
    if (i < e && !is_ws(buf[i]))
        return fail(r, HTTP_E_PROTOCOL, "control byte in the request target");
    r->target.off = (uint32_t)t0;
    r->target.len = (uint32_t)(i - t0);
    while (i < e && is_ws(buf[i]))
        i++;
    if (i == e)
        return fail(r, HTTP_E_PROTOCOL, "no protocol version");
    if (e - i < 8 || memcmp(buf + i, "HTTP/", 5) != 0)
        return fail(r, HTTP_E_PROTOCOL, "not HTTP");
    i += 5;
    int *vp[2] = {&r->v_major, &r->v_minor};
    for (int part = 0; part < 2; part++) {
        size_t d0 = i;
        int v = 0;
        while (i < e && buf[i] >= '0' && buf[i] <= '9' && i - d0 < 3)
            v = v * 10 + (buf[i++] - '0');
        if (i == d0)
            return fail(r, HTTP_E_PROTOCOL, "bad protocol version");
        *vp[part] = v;
        if (part == 0) {
            if (i >= e || buf[i] != '.')
                return fail(r, HTTP_E_PROTOCOL, "bad protocol version");
            i++;
        }
    }
    while (i < e && is_ws(buf[i]))
        i++;
    if (i != e)
        return fail(r, HTTP_E_PROTOCOL, "junk after the protocol version");
    /* The target is judged before the version (Squid answers "PRI * HTTP/2.0" with 400, not 505). */
    if (r->target.len > lim->max_url)
        return fail(r, HTTP_E_URL, "URL too long");
    int rc = parse_target(buf, r);
    if (rc < 0)
        return rc;
    if (r->v_major >= 2)
        return fail(r, HTTP_E_VERSION, "HTTP version not supported");
    return 0;
}

int http_find_header(const struct http_request *r, const uint8_t *buf, const char *name, size_t from)
{
    size_t nl = strlen(name);
    for (size_t i = from; i < r->n_headers; i++)
        if (r->headers[i].name.len == nl && strncasecmp((const char *)buf + r->headers[i].name.off, name, nl) == 0)
            return (int)i;
    return -1;
}

int http_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i], v;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad)
            return -1; /* data after padding */
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2 || bits >= 6 || (len - pad) % 4 == 1)
        return -1;
    if (pad && (len % 4) != 0)
        return -1;
    return (int)o;
}

static void decode_auth(const uint8_t *buf, const struct http_header *h, struct http_request *r)
{
    const char *v = (const char *)buf + h->value.off;
    size_t n = h->value.len, i = 0;
    uint8_t dec[HTTP_MAX_USER + HTTP_MAX_PASS + 2];
    r->auth = HTTP_AUTH_INVALID;
    if (n < 6 || strncasecmp(v, "Basic", 5) != 0 || !is_ws((uint8_t)v[5]))
        return;
    i = 5;
    while (i < n && is_ws((uint8_t)v[i]))
        i++;
    int d = http_base64_decode(v + i, n - i, dec, sizeof dec);
    if (d <= 0)
        return;
    uint8_t *colon = memchr(dec, ':', (size_t)d);
    if (!colon)
        goto out;
    size_t ul = (size_t)(colon - dec), pl = (size_t)d - ul - 1;
    if (ul == 0 || ul > HTTP_MAX_USER || pl > HTTP_MAX_PASS)
        goto out;
    for (size_t k = 0; k < (size_t)d; k++)
        if (dec[k] < 0x20 || dec[k] == 0x7f)
            goto out;
    memcpy(r->user, dec, ul);
    r->user[ul] = '\0';
    memcpy(r->pass, colon + 1, pl);
    r->pass[pl] = '\0';
    r->auth = HTTP_AUTH_BASIC;
out:
    memset(dec, 0, sizeof dec);
}

static int parse_content_length(const uint8_t *buf, struct http_request *r)
{
    for (int i = http_find_header(r, buf, "Content-Length", 0); i >= 0;
         i = http_find_header(r, buf, "Content-Length", (size_t)i + 1)) {
        const struct http_header *h = &r->headers[i];
        uint64_t v = 0;
        if (h->value.len == 0 || h->value.len > 18)
            return fail(r, HTTP_E_LENGTH, "bad Content-Length");
        for (uint32_t k = 0; k < h->value.len; k++) {
            uint8_t c = buf[h->value.off + k];
            if (c < '0' || c > '9')
                return fail(r, HTTP_E_LENGTH, "bad Content-Length");
            v = v * 10 + (uint64_t)(c - '0');
        }
        if (r->have_content_length && v != r->content_length)
            return fail(r, HTTP_E_LENGTH, "conflicting Content-Length");
        r->have_content_length = true;
        r->content_length = v;
    }
    return 0;
}

/* End of the line starting at s (index of '\n'), and the content end (without a trailing CR). */
static size_t line_end(const uint8_t *buf, size_t s, size_t lim, size_t *content_end)
{
    const uint8_t *nl = memchr(buf + s, '\n', lim - s);
    size_t e = nl ? (size_t)(nl - buf) : lim;
    *content_end = (e > s && buf[e - 1] == '\r') ? e - 1 : e;
    return e;
}

int http_parse_request(const uint8_t *buf, size_t len, const struct http_limits *lim, struct http_request *r)
{
    size_t s = 0, end = 0, i;
    memset(r, 0, sizeof *r);
    /* Leading empty lines are ignored (RFC 9112 2.2, as Squid). */
    while (s < len && (buf[s] == '\r' || buf[s] == '\n'))
        s++;
    /* The head ends at LF [CR] LF. */
    for (i = s; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            end = i + 3;
            break;
        }
    }
    if (!end)
        return len >= lim->max_head ? fail(r, HTTP_E_TOO_BIG, "request head too large") : HTTP_NEED_MORE;
    if (end > lim->max_head)
        return fail(r, HTTP_E_TOO_BIG, "request head too large");
    r->head_len = end;

    /* Request line. */
    size_t ce, e = line_end(buf, s, end, &ce);
    for (i = s; i < ce; i++)
        if ((buf[i] < 0x20 && buf[i] != '\t') || buf[i] == 0x7f)
            return fail(r, HTTP_E_PROTOCOL, "control byte in the request line");
    int rc = parse_request_line(buf, s, ce, lim, r);
    if (rc < 0)
        return rc;

    /* Header fields until the empty line. */
    size_t max_headers = lim->max_headers < HTTP_MAX_HEADERS ? lim->max_headers : HTTP_MAX_HEADERS;
    for (s = e + 1; s < end;) {
        e = line_end(buf, s, end, &ce);
        if (ce == s)
            break; /* the empty line */
        for (i = s; i < ce; i++)
            if ((buf[i] < 0x20 && buf[i] != '\t') || buf[i] == 0x7f)
                return fail(r, HTTP_E_HEADER, "control byte in a header field");
        if (is_ws(buf[s])) {
            /* obs-fold: the line continues the previous field's value */
            if (r->n_headers == 0)
                return fail(r, HTTP_E_HEADER, "continuation line before any header field");
            struct http_header *h = &r->headers[r->n_headers - 1];
            size_t ve = ce;
            while (ve > s && is_ws(buf[ve - 1]))
                ve--;
            if (ve > s)
                h->value.len = (uint32_t)(ve - h->value.off);
        } else {
            size_t n0 = s;
            i = s;
            while (i < ce && is_tchar(buf[i]))
                i++;
            if (i == n0 || i >= ce || buf[i] != ':')
                return fail(r, HTTP_E_HEADER, i < ce && is_ws(buf[i]) ? "whitespace before a header colon"
                                                                      : "header line without a colon");
            if (r->n_headers >= max_headers)
                return fail(r, HTTP_E_TOO_MANY, "too many header fields");
            struct http_header *h = &r->headers[r->n_headers++];
            h->name.off = (uint32_t)n0;
            h->name.len = (uint32_t)(i - n0);
            i++;
            while (i < ce && is_ws(buf[i]))
                i++;
            size_t ve = ce;
            while (ve > i && is_ws(buf[ve - 1]))
                ve--;
            h->value.off = (uint32_t)i;
            h->value.len = (uint32_t)(ve - i);
        }
        s = e + 1;
    }
    rc = parse_content_length(buf, r);
    if (rc < 0)
        return rc;
    int a = http_find_header(r, buf, "Proxy-Authorization", 0);
    if (a >= 0)
        decode_auth(buf, &r->headers[a], r);
    return HTTP_OK;
}

void http_request_wipe(struct http_request *r)
{
    volatile char *p = r->pass;
    for (size_t i = 0; i < sizeof r->pass; i++)
        p[i] = 0;
}

const char *http_result_name(int r)
{
    switch (r) {
    case HTTP_OK: return "ok";
    case HTTP_NEED_MORE: return "need-more";
    case HTTP_E_PROTOCOL: return "protocol";
    case HTTP_E_URL: return "url";
    case HTTP_E_HEADER: return "header";
    case HTTP_E_VERSION: return "version";
    case HTTP_E_TOO_BIG: return "too-big";
    case HTTP_E_TOO_MANY: return "too-many-headers";
    case HTTP_E_LENGTH: return "content-length";
    default: return "?";
    }
}

int http_error_status(int r)
{
    switch (r) {
    case HTTP_E_VERSION: return 505;
    case HTTP_E_TOO_BIG:
    case HTTP_E_TOO_MANY: return 431;
    case HTTP_E_LENGTH: return 411;
    default: return 400;
    }
}

const char *http_error_squid(int r)
{
    switch (r) {
    case HTTP_E_PROTOCOL: return "ERR_PROTOCOL_UNKNOWN";
    case HTTP_E_URL: return "ERR_INVALID_URL";
    case HTTP_E_VERSION: return "ERR_UNSUP_HTTPVERSION";
    case HTTP_E_TOO_BIG:
    case HTTP_E_TOO_MANY: return "ERR_TOO_BIG";
    default: return "ERR_INVALID_REQ";
    }
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 411: return "Length Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version not supported";
    default: return "Unknown";
    }
}
