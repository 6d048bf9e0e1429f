/* mock-proxy: HTTP/1.x request-head parser. A pure function over (buf, len): no allocation, no I/O,
 * never reads past `len`. It knows the syntax only; what a request means (ACLs, schemes the proxy
 * forwards) is decided by acl.c and proxy.c.
 *
 * Relaxed where Squid 5's parser is relaxed (checked against squid 5.7, see README.md): bare LF line
 * ends, runs of spaces between request-line tokens, leading empty lines, obs-fold continuation lines,
 * case-insensitive method names, a CONNECT authority without a port (443). Strict where Squid is:
 * whitespace before a header colon, a header line without a colon, a missing or foreign protocol
 * version, ports 0 or > 65535, control bytes. */
#ifndef MOCK_PROXY_HTTP_H
#define MOCK_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 256       /* hard cap of the header table (limits.max_headers <= this) */
#define HTTP_MAX_METHOD 32
#define HTTP_MAX_HOST 255
#define HTTP_MAX_SCHEME 16
#define HTTP_MAX_USER 128
#define HTTP_MAX_PASS 128
#define HTTP_DEFAULT_MAX_HEAD 65536u  /* Squid's request_header_max_size (64 KB) */
#define HTTP_DEFAULT_MAX_URL 8192u    /* Squid's MAX_URL */

/* Parse result: OK and NEED_MORE are >= 0, errors are negative. Each error maps to one Squid answer
 * (http_error_status(), http_error_squid()). */
enum http_result {
    HTTP_OK = 0,
    HTTP_NEED_MORE = 1,
    HTTP_E_PROTOCOL = -1,  /* request line is not METHOD SP target SP HTTP/x.y: 400 ERR_PROTOCOL_UNKNOWN */
    HTTP_E_URL = -2,       /* bad or too long request target: 400 ERR_INVALID_URL */
    HTTP_E_HEADER = -3,    /* malformed header line: 400 ERR_INVALID_REQ */
    HTTP_E_VERSION = -4,   /* HTTP/2 or later on an HTTP/1 port: 505 ERR_UNSUP_HTTPVERSION */
    HTTP_E_TOO_BIG = -5,   /* head larger than the limit: 431 ERR_TOO_BIG */
    HTTP_E_TOO_MANY = -6,  /* more header fields than the limit: 431 ERR_TOO_BIG */
    HTTP_E_LENGTH = -7,    /* bad or conflicting Content-Length: 411 ERR_INVALID_REQ */
};

enum http_method {
    HTTP_M_OTHER, HTTP_M_CONNECT, HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE,
    HTTP_M_OPTIONS, HTTP_M_TRACE, HTTP_M_PATCH,
};

enum http_form {
    HTTP_FORM_AUTHORITY,  /* CONNECT host:port */
    HTTP_FORM_ABSOLUTE,   /* scheme://host[:port]/path */
    HTTP_FORM_ORIGIN,     /* /path (not a proxy request) */
    HTTP_FORM_ASTERISK,   /* * */
};

enum http_auth_state {
    HTTP_AUTH_NONE,       /* no Proxy-Authorization */
    HTTP_AUTH_BASIC,      /* Basic, decoded: user and pass are set */
    HTTP_AUTH_INVALID,    /* present but not Basic, not base64, no colon, or too long */
};

struct http_limits {
    size_t max_head;      /* bytes from the first byte to the end of the blank line */
    size_t max_headers;   /* header fields (<= HTTP_MAX_HEADERS) */
    size_t max_url;       /* request-target bytes */
};

/* Offsets into the parsed buffer. */
struct http_span { uint32_t off, len; };
struct http_header { struct http_span name, value; };

struct http_request {
    size_t head_len;               /* bytes of the head incl. the blank line; what follows is body/pipelined */
    enum http_method method;
    char method_str[HTTP_MAX_METHOD + 1];  /* as sent, upper-cased */
    int v_major, v_minor;
    enum http_form form;
    struct http_span target;       /* the request-target as sent */
    char scheme[HTTP_MAX_SCHEME + 1];      /* lower-case; "" for authority/origin/asterisk forms */
    char host[HTTP_MAX_HOST + 1];  /* lower-case, without brackets, without a trailing dot */
    bool host_v6;                  /* host was a [bracketed] IPv6 literal */
    uint16_t port;                 /* given, or the scheme's default (CONNECT: 443) */
    bool port_given;
    struct http_span path;         /* absolute-form: from the first '/' or '?' (len 0 = none, means "/") */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
    bool have_content_length;
    uint64_t content_length;
    enum http_auth_state auth;
    char user[HTTP_MAX_USER + 1];  /* HTTP_AUTH_BASIC only */
    char pass[HTTP_MAX_PASS + 1];  /* HTTP_AUTH_BASIC only: never log it; http_request_wipe() */
    const char *why;               /* on error: a short reason for logs (static string) */
};

/* Default limits (Squid's). */
void http_limits_default(struct http_limits *lim);

/* Parse the request head at the start of buf. Returns HTTP_OK (out filled, out->head_len set),
 * HTTP_NEED_MORE (no blank line yet and len < max_head), or a negative error (out->why set). */
int http_parse_request(const uint8_t *buf, size_t len, const struct http_limits *lim, struct http_request *out);

/* Header lookup by case-insensitive name: index of the first match at or after `from`, or -1. */
int http_find_header(const struct http_request *r, const uint8_t *buf, const char *name, size_t from);

/* Decode standard base64 (RFC 4648, '=' padding optional, no whitespace) into out (cap bytes).
 * Returns the decoded length or -1 (bad character, bad length, does not fit). */
int http_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Zero the password (call when done with a request). */
void http_request_wipe(struct http_request *r);

const char *http_result_name(int r);
/* The status code and Squid error name a parse error is answered with. */
int http_error_status(int r);
const char *http_error_squid(int r);
/* Reason phrase for a status code ("Forbidden"); "Unknown" when not known. */
const char *http_reason(int status);
/* Default port of a scheme (http 80, https 443, ftp 21...), 0 when unknown. */
uint16_t http_scheme_port(const char *scheme);

#endif
