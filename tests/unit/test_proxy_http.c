/* mock-proxy request-head parser: good requests in every form Squid accepts, every malformed case
 * with the status Squid answers it with, limits, pipelined bytes after the head, Basic auth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "../../mocks/proxy/http.h"

static struct http_limits lim;
static struct http_request req;

static int parse(const char *s)
{
    return http_parse_request((const uint8_t *)s, strlen(s), &lim, &req);
}

static void test_connect(void)
{
    const char *s = "CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nHost: ep-terminator.mistsys.net:443\r\n"
                    "User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n";
    ZTP_ASSERT_EQ_INT(parse(s), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.head_len, strlen(s));
    ZTP_ASSERT_EQ_INT(req.method, HTTP_M_CONNECT);
    ZTP_ASSERT_EQ_STR(req.method_str, "CONNECT");
    ZTP_ASSERT_EQ_INT(req.form, HTTP_FORM_AUTHORITY);
    ZTP_ASSERT_EQ_STR(req.host, "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(req.port, 443);
    ZTP_ASSERT_EQ_INT(req.port_given, 1);
    ZTP_ASSERT_EQ_INT(req.v_major, 1);
    ZTP_ASSERT_EQ_INT(req.v_minor, 1);
    ZTP_ASSERT_EQ_INT(req.n_headers, 3);
    ZTP_ASSERT_EQ_INT(req.auth, HTTP_AUTH_NONE);
    int h = http_find_header(&req, (const uint8_t *)s, "user-agent", 0);
    CU_ASSERT_EQUAL_FATAL(h, 1);
    ZTP_ASSERT_EQ_INT(req.headers[h].value.len, strlen("curl/7.88.1"));
    CU_ASSERT(memcmp(s + req.headers[h].value.off, "curl/7.88.1", 11) == 0);
}

static void test_connect_variants(void)
{
    ZTP_ASSERT_EQ_INT(parse("CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.host, "2001:db8::1");
    ZTP_ASSERT_EQ_INT(req.host_v6, 1);
    ZTP_ASSERT_EQ_INT(req.port, 8443);
    ZTP_ASSERT_EQ_INT(req.v_minor, 0);
    /* no port, or an empty one: 443 (Squid 5.7) */
    ZTP_ASSERT_EQ_INT(parse("CONNECT example.com HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.port, 443);
    ZTP_ASSERT_EQ_INT(req.port_given, 0);
    ZTP_ASSERT_EQ_INT(parse("CONNECT example.com: HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.port, 443);
    /* case, trailing dot, leading zeros, underscore */
    ZTP_ASSERT_EQ_INT(parse("connect EP-Terminator.MistSys.NET.:0443 HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.method, HTTP_M_CONNECT);
    ZTP_ASSERT_EQ_STR(req.method_str, "CONNECT");
    ZTP_ASSERT_EQ_STR(req.host, "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(req.port, 443);
    ZTP_ASSERT_EQ_INT(parse("CONNECT my_host.example:443 HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.host, "my_host.example");
    /* relaxed like Squid: bare LF, runs of spaces, leading empty lines, obs-fold */
    ZTP_ASSERT_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\nHost: a\n\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.n_headers, 1);
    ZTP_ASSERT_EQ_INT(parse("CONNECT  a.example:443 \t HTTP/1.1  \r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.host, "a.example");
    ZTP_ASSERT_EQ_INT(parse("\r\n\r\nCONNECT a.example:443 HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.n_headers, 1);
    ZTP_ASSERT_EQ_INT(parse("CONNECT 198.18.30.10:443 HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.host, "198.18.30.10");
}

static void test_absolute(void)
{
    const char *s = "GET http://ep-terminator.mistsys.net/a/b?c=d HTTP/1.1\r\nHost: ep-terminator.mistsys.net\r\n\r\n";
    ZTP_ASSERT_EQ_INT(parse(s), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.method, HTTP_M_GET);
    ZTP_ASSERT_EQ_INT(req.form, HTTP_FORM_ABSOLUTE);
    ZTP_ASSERT_EQ_STR(req.scheme, "http");
    ZTP_ASSERT_EQ_STR(req.host, "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(req.port, 80);
    ZTP_ASSERT_EQ_INT(req.port_given, 0);
    ZTP_ASSERT_EQ_INT(req.path.len, strlen("/a/b?c=d"));
    CU_ASSERT(memcmp(s + req.path.off, "/a/b?c=d", req.path.len) == 0);
    ZTP_ASSERT_EQ_INT(parse("POST HTTP://user:pw@Example.COM:8080 HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.scheme, "http");
    ZTP_ASSERT_EQ_STR(req.host, "example.com");
    ZTP_ASSERT_EQ_INT(req.port, 8080);
    ZTP_ASSERT_EQ_INT(req.path.len, 0);
    ZTP_ASSERT_EQ_INT(req.have_content_length, 1);
    ZTP_ASSERT_EQ_INT(req.content_length, 5);
    ZTP_ASSERT_EQ_INT(parse("GET https://a.example/x HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.port, 443);
    ZTP_ASSERT_EQ_INT(parse("GET foo://a.example/x HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.scheme, "foo");
    ZTP_ASSERT_EQ_INT(req.port, 0);
    ZTP_ASSERT_EQ_INT(parse("GET http://[2001:db8::5]:81/ HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_STR(req.host, "2001:db8::5");
    ZTP_ASSERT_EQ_INT(req.port, 81);
    ZTP_ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.form, HTTP_FORM_ORIGIN);
    ZTP_ASSERT_EQ_INT(parse("OPTIONS * HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.form, HTTP_FORM_ASTERISK);
    ZTP_ASSERT_EQ_INT(parse("BREW http://pot.example/ HTTP/1.1\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.method, HTTP_M_OTHER);
    ZTP_ASSERT_EQ_STR(req.method_str, "BREW");
    /* Squid accepts any HTTP/0.x and 1.x version on a request line */
    ZTP_ASSERT_EQ_INT(parse("GET http://a.example/ HTTP/0.9\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(parse("GET http://a.example/ HTTP/1.2\r\n\r\n"), HTTP_OK);
}

static void test_need_more_and_pipelined(void)
{
    const char *s = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        int r = http_parse_request((const uint8_t *)s, i, &lim, &req);
        if (r != HTTP_NEED_MORE)
            fprintf(stderr, "\n  prefix %zu: %d\n", i, r);
        CU_ASSERT_EQUAL(r, HTTP_NEED_MORE);
    }
    /* a TLS ClientHello right behind the head: head_len marks where it starts */
    uint8_t buf[256];
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    memcpy(buf, s, n);
    memcpy(buf + n, hello, sizeof hello);
    ZTP_ASSERT_EQ_INT(http_parse_request(buf, n + sizeof hello, &lim, &req), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.head_len, n);
    /* bytes after the head never change the parse, even a second request */
    memcpy(buf + n, "GET / HTTP/1.1\r\n\r\n", 18);
    ZTP_ASSERT_EQ_INT(http_parse_request(buf, n + 18, &lim, &req), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.head_len, n);
    ZTP_ASSERT_EQ_INT(req.n_headers, 1);
    /* LF CR LF also ends a head */
    ZTP_ASSERT_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\n\r\nXYZ"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.head_len, strlen("CONNECT a.example:443 HTTP/1.1\n\r\n"));
}

static void expect_err(const char *s, int code, int status, const char *squid)
{
    int r = parse(s);
    if (r != code)
        fprintf(stderr, "\n  request %.60s: %s (%s), expected %s\n", s, http_result_name(r), req.why ? req.why : "-",
                http_result_name(code));
    CU_ASSERT_EQUAL(r, code);
    if (r < 0) {
        CU_ASSERT_PTR_NOT_NULL(req.why);
        ZTP_ASSERT_EQ_INT(http_error_status(r), status);
        ZTP_ASSERT_EQ_STR(http_error_squid(r), squid);
    }
}

static void test_malformed(void)
{
    /* request line */
    expect_err("garbage\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("GET /\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443 XTTP/1.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443 HTTP/1.1 extra\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443 HTTP/1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443 HTTP/x.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err(" CONNECT a.example:443 HTTP/1.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CON(NECT a.example:443 HTTP/1.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.exa\x01mple:443 HTTP/1.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ a HTTP/1.1\r\n\r\n", HTTP_E_PROTOCOL, 400, "ERR_PROTOCOL_UNKNOWN");
    expect_err("CONNECT a.example:443 HTTP/2.0\r\n\r\n", HTTP_E_VERSION, 505, "ERR_UNSUP_HTTPVERSION");
    expect_err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    /* targets */
    expect_err("CONNECT a.example:0 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT a.example:99999 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT a.example:44x HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT :443 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT a!b.example:443 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT [2001:db8::1:443 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT [zz::1]:443 HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT [2001:db8::1]x HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("CONNECT . HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("GET http:/// HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("GET nourl HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("GET * HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    expect_err("GET 1http://a/ HTTP/1.1\r\n\r\n", HTTP_E_URL, 400, "ERR_INVALID_URL");
    /* header fields */
    expect_err("CONNECT a.example:443 HTTP/1.1\r\nNoColonHere\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("CONNECT a.example:443 HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("CONNECT a.example:443 HTTP/1.1\r\n: x\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("CONNECT a.example:443 HTTP/1.1\r\n folded-first\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("CONNECT a.example:443 HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("CONNECT a.example:443 HTTP/1.1\r\nX-A: a\rb\r\n\r\n", HTTP_E_HEADER, 400, "ERR_INVALID_REQ");
    expect_err("GET http://a/ HTTP/1.1\r\nContent-Length: abc\r\n\r\n", HTTP_E_LENGTH, 411, "ERR_INVALID_REQ");
    expect_err("GET http://a/ HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_E_LENGTH, 411, "ERR_INVALID_REQ");
    expect_err("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HTTP_E_LENGTH, 411,
               "ERR_INVALID_REQ");
    ZTP_ASSERT_EQ_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"), HTTP_OK);
    /* a NUL byte in the head */
    static const char nul[] = "CONNECT a.example:443 HTTP/1.1\r\nX: a\0b\r\n\r\n";
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)nul, sizeof nul - 1, &lim, &req), HTTP_E_HEADER);
}

static void test_limits(void)
{
    struct http_limits small = {.max_head = 128, .max_headers = 3, .max_url = 32};
    char big[70000];
    /* no end of head within max_head: too big; shorter: need more */
    memset(big, 'a', sizeof big);
    memcpy(big, "CONNECT a.example:443 HTTP/1.1\r\nX-Big: ", 39);
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, 65535, &lim, &req), HTTP_NEED_MORE);
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, 65536, &lim, &req), HTTP_E_TOO_BIG);
    ZTP_ASSERT_EQ_INT(http_error_status(HTTP_E_TOO_BIG), 431);
    ZTP_ASSERT_EQ_STR(http_error_squid(HTTP_E_TOO_BIG), "ERR_TOO_BIG");
    /* a complete head longer than the limit */
    memcpy(big + 65600, "\r\n\r\n", 4);
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, 65604, &lim, &req), HTTP_E_TOO_BIG);
    /* the same with small limits */
    const char *s = "CONNECT a.example:443 HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)s, strlen(s), &small, &req), HTTP_OK);
    s = "CONNECT a.example:443 HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)s, strlen(s), &small, &req), HTTP_E_TOO_MANY);
    ZTP_ASSERT_EQ_INT(http_error_status(HTTP_E_TOO_MANY), 431);
    s = "GET http://a.example/0123456789012345678901234567890 HTTP/1.1\r\n\r\n";
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)s, strlen(s), &small, &req), HTTP_E_URL);
    /* HTTP_MAX_HEADERS header fields are fine with the default limits, one more is not */
    size_t o = (size_t)snprintf(big, sizeof big, "CONNECT a.example:443 HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "X-H%d: v\r\n", i);
    memcpy(big + o, "\r\n", 2);
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, o + 2, &lim, &req), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.n_headers, HTTP_MAX_HEADERS);
    o += (size_t)snprintf(big + o, sizeof big - o, "X-One-More: v\r\n\r\n");
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, o, &lim, &req), HTTP_E_TOO_MANY);
    /* a URL of 8192 bytes is fine, 8193 is not (Squid's MAX_URL) */
    o = (size_t)snprintf(big, sizeof big, "GET http://a.example/");
    memset(big + o, 'u', 8192 - strlen("http://a.example/"));
    o += 8192 - strlen("http://a.example/");
    o += (size_t)snprintf(big + o, sizeof big - o, " HTTP/1.1\r\n\r\n");
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, o, &lim, &req), HTTP_OK);
    memmove(big + 5, big + 4, o - 4);
    big[4] = 'h';
    ZTP_ASSERT_EQ_INT(http_parse_request((const uint8_t *)big, o + 1, &lim, &req), HTTP_E_URL);
}

static void test_base64(void)
{
    uint8_t out[64];
    ZTP_ASSERT_EQ_INT(http_base64_decode("YWxpY2U6c2VjcmV0", 16, out, sizeof out), 12);
    CU_ASSERT(memcmp(out, "alice:secret", 12) == 0);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YQ==", 4, out, sizeof out), 1);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YWI=", 4, out, sizeof out), 2);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YQ", 2, out, sizeof out), 1); /* padding optional */
    ZTP_ASSERT_EQ_INT(http_base64_decode("", 0, out, sizeof out), 0);
    ZTP_ASSERT_EQ_INT(http_base64_decode("Y", 1, out, sizeof out), -1);
    ZTP_ASSERT_EQ_INT(http_base64_decode("!!!!", 4, out, sizeof out), -1);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YQ==YQ==", 8, out, sizeof out), -1);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YQ===", 5, out, sizeof out), -1);
    ZTP_ASSERT_EQ_INT(http_base64_decode("YWJjZGVm", 8, out, 5), -1); /* does not fit */
    ZTP_ASSERT_EQ_INT(http_base64_decode("+/+/", 4, out, sizeof out), 3);
    ZTP_ASSERT_EQ_INT(out[0], 0xfb);
}

static void test_auth(void)
{
    ZTP_ASSERT_EQ_INT(parse("CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.auth, HTTP_AUTH_BASIC);
    ZTP_ASSERT_EQ_STR(req.user, "alice");
    ZTP_ASSERT_EQ_STR(req.pass, "secret");
    http_request_wipe(&req);
    ZTP_ASSERT_EQ_STR(req.pass, "");
    /* scheme is case-insensitive; the password may hold colons; an empty password is a password */
    ZTP_ASSERT_EQ_INT(parse("CONNECT a:443 HTTP/1.1\r\nproxy-authorization: basic   Ym9iOnA6cTpy  \r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.auth, HTTP_AUTH_BASIC);
    ZTP_ASSERT_EQ_STR(req.user, "bob");
    ZTP_ASSERT_EQ_STR(req.pass, "p:q:r");
    ZTP_ASSERT_EQ_INT(parse("CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic Ym9iOg==\r\n\r\n"), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.auth, HTTP_AUTH_BASIC);
    ZTP_ASSERT_EQ_STR(req.pass, "");
    /* present but unusable: 407 material, never a parse error */
    static const char *const bad[] = {
        "Proxy-Authorization: Basic !!!!",       "Proxy-Authorization: Basic Ym9i",       /* no colon */
        "Proxy-Authorization: Basic OnNlY3JldA==",                                        /* empty user */
        "Proxy-Authorization: Digest username=\"a\"", "Proxy-Authorization: Basic",
        "Proxy-Authorization: BasicYWxpY2U6c2VjcmV0", "Proxy-Authorization: Basic YWxp\tY2U6", /* whitespace inside */
        "Proxy-Authorization: Basic YWxpY2UKOnNlY3JldA==",                                /* LF in the user */
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        char s[256];
        snprintf(s, sizeof s, "CONNECT a:443 HTTP/1.1\r\n%s\r\n\r\n", bad[i]);
        ZTP_ASSERT_EQ_INT(parse(s), HTTP_OK);
        if (req.auth != HTTP_AUTH_INVALID)
            fprintf(stderr, "\n  %s: auth %d\n", bad[i], req.auth);
        CU_ASSERT_EQUAL(req.auth, HTTP_AUTH_INVALID);
    }
    /* a user name longer than the limit */
    char s[1024], u[400], enc[600];
    memset(u, 'u', 200);
    memcpy(u + 200, ":p", 3);
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(u), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)u[i] << 16 | (i + 1 < n ? (uint32_t)(uint8_t)u[i + 1] << 8 : 0) |
                     (i + 2 < n ? (uint8_t)u[i + 2] : 0);
        enc[o++] = tb[v >> 18 & 63];
        enc[o++] = tb[v >> 12 & 63];
        enc[o++] = i + 1 < n ? tb[v >> 6 & 63] : '=';
        enc[o++] = i + 2 < n ? tb[v & 63] : '=';
    }
    enc[o] = '\0';
    snprintf(s, sizeof s, "CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic %s\r\n\r\n", enc);
    ZTP_ASSERT_EQ_INT(parse(s), HTTP_OK);
    ZTP_ASSERT_EQ_INT(req.auth, HTTP_AUTH_INVALID);
}

static void test_names(void)
{
    ZTP_ASSERT_EQ_STR(http_reason(407), "Proxy Authentication Required");
    ZTP_ASSERT_EQ_STR(http_reason(503), "Service Unavailable");
    ZTP_ASSERT_EQ_STR(http_reason(505), "HTTP Version not supported");
    ZTP_ASSERT_EQ_INT(http_scheme_port("http"), 80);
    ZTP_ASSERT_EQ_INT(http_scheme_port("ftp"), 21);
    ZTP_ASSERT_EQ_INT(http_scheme_port("foo"), 0);
    ZTP_ASSERT_EQ_STR(http_result_name(HTTP_E_LENGTH), "content-length");
}

int main(void)
{
    http_limits_default(&lim);
    static const struct ztp_test tests[] = {
        {"CONNECT request", test_connect},
        {"CONNECT variants Squid accepts", test_connect_variants},
        {"absolute-form and other forms", test_absolute},
        {"need more, pipelined bytes after the head", test_need_more_and_pipelined},
        {"every malformed case and its Squid answer", test_malformed},
        {"limits: head size, header count, URL length", test_limits},
        {"base64", test_base64},
        {"Proxy-Authorization Basic", test_auth},
        {"names and tables", test_names},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {{"proxy http parser", tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
