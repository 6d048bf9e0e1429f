/* HTTPS client: the pure parts (response-head parser, chunked decoder, CONNECT and request
 * builders, URL parser, base64, backoff) byte for byte, and the asynchronous client's CONNECT
 * path against in-process fake proxies on loopback (refused, closed, garbage, 407, silent,
 * not-TLS after 200), driven by a real epoll loop. TLS itself is checked against openssl s_server
 * through real Squid in tests/integration/t_router_connect_squid.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "https.h"
#include "node.h"
#include "phonehome.h"
#include "ztp/log.h"

static int parse(const char *s, struct http_response_head *h, const char **why)
{
    return http_response_head_parse(s, strlen(s), h, why);
}

static void hdr_eq(const struct http_response_head *h, const char *name, const char *want)
{
    char b[256];
    const struct http_resp_header *x = http_head_get(h, name);
    if (!want) {
        CU_ASSERT(x == NULL);
        return;
    }
    CU_ASSERT_FATAL(x != NULL);
    ZTP_ASSERT_EQ_STR(http_head_copy(h, name, b, sizeof b), want);
}

/* ---- response head ---- */

static void test_head_squid_200(void)
{
    struct http_response_head h;
    const char *s = "HTTP/1.1 200 Connection established\r\n\r\n";
    ZTP_ASSERT_EQ_INT(parse(s, &h, NULL), 1);
    ZTP_ASSERT_EQ_INT(h.status, 200);
    ZTP_ASSERT_EQ_INT(h.version, 11);
    ZTP_ASSERT_EQ_INT(h.head_len, strlen(s));
    ZTP_ASSERT_EQ_INT(h.n_headers, 0);
    ZTP_ASSERT_EQ_INT(h.reason_len, strlen("Connection established"));
    CU_ASSERT(memcmp(h.reason, "Connection established", h.reason_len) == 0);

    /* tinyproxy: HTTP/1.0 and a header */
    s = "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
    ZTP_ASSERT_EQ_INT(parse(s, &h, NULL), 1);
    ZTP_ASSERT_EQ_INT(h.version, 10);
    hdr_eq(&h, "proxy-agent", "tinyproxy/1.11.1");
}

static void test_head_squid_403(void)
{
    static const char s[] = "HTTP/1.1 403 Forbidden\r\n"
                            "Server: squid/5.7\r\n"
                            "Mime-Version: 1.0\r\n"
                            "Content-Type: text/html;charset=utf-8\r\n"
                            "Content-Length: 3483\r\n"
                            "X-Squid-Error: ERR_ACCESS_DENIED 0\r\n"
                            "Vary: Accept-Language\r\n"
                            "Content-Language: en\r\n"
                            "X-Cache: MISS from proxy\r\n"
                            "Via: 1.1 proxy (squid/5.7)\r\n"
                            "Connection: keep-alive\r\n"
                            "\r\n"
                            "<!DOCTYPE html>";
    struct http_response_head h;
    const char *why = NULL;
    ZTP_ASSERT_EQ_INT(http_response_head_parse(s, sizeof s - 1, &h, &why), 1);
    ZTP_ASSERT_EQ_INT(h.status, 403);
    ZTP_ASSERT_EQ_INT(h.n_headers, 10);
    ZTP_ASSERT_EQ_INT(h.head_len, sizeof s - 1 - strlen("<!DOCTYPE html>"));
    hdr_eq(&h, "x-squid-error", "ERR_ACCESS_DENIED 0");
    hdr_eq(&h, "X-SQUID-ERROR", "ERR_ACCESS_DENIED 0");
    hdr_eq(&h, "Content-Length", "3483");
    hdr_eq(&h, "Proxy-Authenticate", NULL);
    char b[8];
    ZTP_ASSERT_EQ_STR(http_head_copy(&h, "Server", b, sizeof b), "squid/5"); /* truncated to the buffer */

    /* blanks around values are trimmed; empty values and empty reasons are fine */
    ZTP_ASSERT_EQ_INT(parse("HTTP/1.1 407\r\nProxy-Authenticate:   Basic realm=\"lab\"  \r\nX-Empty:\r\n\r\n", &h, &why),
                      1);
    ZTP_ASSERT_EQ_INT(h.status, 407);
    ZTP_ASSERT_EQ_INT(h.reason_len, 0);
    hdr_eq(&h, "proxy-authenticate", "Basic realm=\"lab\"");
    hdr_eq(&h, "x-empty", "");
}

static void test_head_incremental(void)
{
    static const char s[] = "HTTP/1.1 502 Bad Gateway\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n\r\nBODY";
    const size_t head = sizeof s - 1 - 4;
    struct http_response_head h;
    for (size_t n = 0; n < head; n++) {
        int r = http_response_head_parse(s, n, &h, NULL);
        if (r != 0)
            fprintf(stderr, "\n  prefix %zu: %d\n", n, r);
        CU_ASSERT(r == 0);
    }
    for (size_t n = head; n <= sizeof s - 1; n++) {
        ZTP_ASSERT_EQ_INT(http_response_head_parse(s, n, &h, NULL), 1);
        ZTP_ASSERT_EQ_INT(h.head_len, head);
    }
    /* bare LF line ends */
    ZTP_ASSERT_EQ_INT(parse("HTTP/1.1 200 OK\nA: b\n\n", &h, NULL), 1);
    ZTP_ASSERT_EQ_INT(h.head_len, strlen("HTTP/1.1 200 OK\nA: b\n\n"));
    hdr_eq(&h, "a", "b");
}

static void expect_bad(const char *s, size_t len, const char *why_prefix)
{
    struct http_response_head h;
    const char *why = NULL;
    int r = http_response_head_parse(s, len, &h, &why);
    if (r != -1 || !why || strncmp(why, why_prefix, strlen(why_prefix)) != 0)
        fprintf(stderr, "\n  %.40s: r=%d why=%s, expected \"%s\"\n", s, r, why ? why : "(null)", why_prefix);
    CU_ASSERT(r == -1 && why && strncmp(why, why_prefix, strlen(why_prefix)) == 0);
}
#define BAD(lit, why) expect_bad(lit, sizeof(lit) - 1, why)

static void test_head_malformed(void)
{
    BAD("SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP/1.x response");
    BAD("XYZ", "not an HTTP/1.x response"); /* known at the first byte */
    BAD("\x16\x03\x01", "not an HTTP/1.x response");
    BAD("HTTP/2 200\r\n\r\n", "not an HTTP/1.x response");
    BAD("HTTP/1.1 20x OK\r\n\r\n", "bad status code");
    BAD("HTTP/1.1 099 Low\r\n\r\n", "bad status code");
    BAD("HTTP/1.1 200OK\r\n\r\n", "bad status line");
    BAD("HTTP/1.1  200 OK\r\n\r\n", "bad status");
    BAD("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "malformed header line");
    BAD("HTTP/1.1 200 OK\r\nName : v\r\n\r\n", "malformed header line");
    BAD("HTTP/1.1 200 OK\r\n: v\r\n\r\n", "malformed header line");
    BAD("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", "obsolete header line folding");
    BAD("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", "control byte in a header value");
    BAD("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "control byte in a header value");
    BAD("HTTP/1.1 200 O\x07K\r\n\r\n", "control byte in the reason phrase");
    BAD("HTTP/1.1 200 OK\r\nA\0B: c\r\n\r\n", "malformed header line");

    /* 65 headers */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < HTTP_RESP_MAX_HEADERS + 1; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "H%d: v\r\n", i);
    o += (size_t)snprintf(big + o, sizeof big - o, "\r\n");
    expect_bad(big, o, "too many headers");

    /* no end within HTTP_RESP_HEAD_MAX: an error, not "need more" */
    char *huge = malloc(HTTP_RESP_HEAD_MAX + 100);
    CU_ASSERT_FATAL(huge != NULL);
    memset(huge, 'a', HTTP_RESP_HEAD_MAX + 100);
    memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
    expect_bad(huge, HTTP_RESP_HEAD_MAX + 100, "response head larger than");
    struct http_response_head h;
    ZTP_ASSERT_EQ_INT(http_response_head_parse(huge, HTTP_RESP_HEAD_MAX - 1, &h, NULL), 0);
    free(huge);
}

static void test_body_kind(void)
{
    struct http_response_head h;
    enum http_body_kind k;
    uint64_t len;
    const char *why = NULL;
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), 0);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_LENGTH);
    ZTP_ASSERT_EQ_INT(len, 12);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "HEAD", &k, &len, &why), 0);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_NONE);

    CU_ASSERT_FATAL(parse("HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n", &h, NULL) == 1);
    http_body_kind(&h, "GET", &k, &len, &why);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_NONE);
    CU_ASSERT_FATAL(parse("HTTP/1.1 304 Not Modified\r\n\r\n", &h, NULL) == 1);
    http_body_kind(&h, "GET", &k, &len, &why);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_NONE);

    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 5\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), 0);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_CHUNKED);
    CU_ASSERT_FATAL(parse("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), 0);
    ZTP_ASSERT_EQ_INT(k, HTTP_BODY_UNTIL_CLOSE);

    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "conflicting Content-Length headers");
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), 0);
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), -1);
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), -1);
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), -1);
    CU_ASSERT_FATAL(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h, NULL) == 1);
    ZTP_ASSERT_EQ_INT(http_body_kind(&h, "GET", &k, &len, &why), -1);
    ZTP_ASSERT_EQ_STR(why, "unsupported Transfer-Encoding (only chunked)");
}

/* ---- chunked ---- */

static int dechunk(const char *in, size_t len, size_t step, size_t out_cap, char *out, size_t *out_len, size_t *used_total,
                   const char **why)
{
    struct http_chunked d;
    http_chunked_init(&d);
    size_t i = 0, o = 0;
    int r = 0;
    while (i < len) {
        size_t n = len - i < step ? len - i : step, used = 0, produced = 0;
        size_t cap = out_cap - o;
        r = http_chunked_feed(&d, in + i, n, &used, out + o, cap, &produced, why);
        o += produced;
        i += used;
        if (r != 0)
            break;
        if (used < n && produced == 0 && cap == 0)
            break; /* out full */
    }
    *out_len = o;
    *used_total = i;
    return r;
}

static void test_chunked(void)
{
    static const char s[] = "4\r\nWiki\r\n5;name=val\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    const size_t end = sizeof s - 1 - 4;
    char out[64];
    size_t ol, used;
    const char *why = NULL;
    for (size_t step = 1; step <= sizeof s; step++) {
        ZTP_ASSERT_EQ_INT(dechunk(s, sizeof s - 1, step, sizeof out, out, &ol, &used, &why), 1);
        ZTP_ASSERT_EQ_INT(ol, 23);
        CU_ASSERT(memcmp(out, "Wikipedia in\r\n\r\nchunks.", 23) == 0);
        ZTP_ASSERT_EQ_INT(used, end); /* stops right after the final CRLF */
    }
    /* bare LFs and blanks after the size */
    static const char lf[] = "3 \nabc\n0\n\n";
    ZTP_ASSERT_EQ_INT(dechunk(lf, sizeof lf - 1, 100, sizeof out, out, &ol, &used, &why), 1);
    ZTP_ASSERT_EQ_INT(ol, 3);

    /* a small output buffer: stops with 0 and continues */
    struct http_chunked d;
    http_chunked_init(&d);
    size_t produced;
    ZTP_ASSERT_EQ_INT(http_chunked_feed(&d, s, sizeof s - 1, &used, out, 2, &produced, &why), 0);
    ZTP_ASSERT_EQ_INT(produced, 2);
    ZTP_ASSERT_EQ_INT(used, 5); /* "4\r\nWi" */
    size_t u2;
    ZTP_ASSERT_EQ_INT(http_chunked_feed(&d, s + used, sizeof s - 1 - used, &u2, out + 2, sizeof out - 2, &produced, &why), 1);
    ZTP_ASSERT_EQ_INT(produced + 2, 23);

    /* errors */
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"x\r\n", "chunk size is not hexadecimal"},
        {"\r\n", "chunk size is not hexadecimal"},
        {"4\r\nWikiX\r\n", "chunk data longer than its size"},
        {"4\r\nWiki\rX", "CR without LF after chunk data"},
        {"4\rX", "CR without LF after the chunk size"},
        {"4 x\r\n", "bad byte after the chunk size"},
        {"1000000000000000\r\n", "chunk size too large"},
        {"0\r\n\rX", "CR without LF at the end of the chunked body"},
        {"1;a\x01\r\n", "control byte in a chunk extension"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        why = NULL;
        int r = dechunk(bad[k].in, strlen(bad[k].in), 100, sizeof out, out, &ol, &used, &why);
        if (r != -1 || !why || strcmp(why, bad[k].why) != 0)
            fprintf(stderr, "\n  chunked %zu: r=%d why=%s expected %s\n", k, r, why ? why : "-", bad[k].why);
        CU_ASSERT(r == -1 && why && strcmp(why, bad[k].why) == 0);
    }
    /* 15 hex digits are fine (the size, not the data, is checked here) */
    http_chunked_init(&d);
    ZTP_ASSERT_EQ_INT(http_chunked_feed(&d, "fffffffffffffff\r\n", 17, &used, out, sizeof out, &produced, &why), 0);
    ZTP_ASSERT_EQ_INT(used, 17);
}

/* ---- builders ---- */

static void test_base64(void)
{
    static const char *const v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                       {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
    char b[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ZTP_ASSERT_EQ_INT(http_base64(v[i][0], strlen(v[i][0]), b, sizeof b), strlen(v[i][1]));
        ZTP_ASSERT_EQ_STR(b, v[i][1]);
    }
    ZTP_ASSERT_EQ_INT(http_base64("foobar", 6, b, 8), -1); /* needs 9 with the NUL */
}

static void test_build_connect(void)
{
    char b[512];
    ssize_t n = http_build_connect(b, sizeof b, "ep-terminator.mistsys.net", 443, NULL, NULL);
    static const char want[] = "CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nHost: ep-terminator.mistsys.net:443\r\n\r\n";
    ZTP_ASSERT_EQ_INT(n, sizeof want - 1);
    ZTP_ASSERT_EQ_STR(b, want);

    /* RFC 7617's example credentials */
    n = http_build_connect(b, sizeof b, "198.18.9.9", 8443, "Aladdin", "open sesame");
    static const char want2[] = "CONNECT 198.18.9.9:8443 HTTP/1.1\r\nHost: 198.18.9.9:8443\r\n"
                                "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
    ZTP_ASSERT_EQ_INT(n, sizeof want2 - 1);
    ZTP_ASSERT_EQ_STR(b, want2);
    /* a password may hold ':'; a NULL password is empty */
    n = http_build_connect(b, sizeof b, "h", 443, "u", NULL);
    CU_ASSERT(n > 0 && strstr(b, "Basic dTo=\r\n") != NULL); /* "u:" */

    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "h", 443, "a:b", "p"), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "h", 443, "u", "p\r\nX: y"), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "evil\r\nX-Injected: 1", 443, NULL, NULL), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "a b", 443, NULL, NULL), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "", 443, NULL, NULL), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, sizeof b, "h", 0, NULL, NULL), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_connect(b, 20, "ep-terminator.mistsys.net", 443, NULL, NULL), -ENOBUFS);
}

static void test_build_request(void)
{
    char b[1024];
    ssize_t n = http_build_request(b, sizeof b, "GET", "ep-terminator.mistsys.net", 443, "/", NULL, false, NULL, 0);
    static const char want[] = "GET / HTTP/1.1\r\nHost: ep-terminator.mistsys.net\r\nUser-Agent: " HTTPS_USER_AGENT
                               "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    ZTP_ASSERT_EQ_INT(n, sizeof want - 1);
    ZTP_ASSERT_EQ_STR(b, want);

    const char *const hdrs[] = {"Accept: application/json", "X-Device-Id: ssr-1", NULL};
    n = http_build_request(b, sizeof b, "POST", "api.mist.lab", 8443, "/ocra/verify?x=1", hdrs, true, NULL, 17);
    static const char want2[] = "POST /ocra/verify?x=1 HTTP/1.1\r\nHost: api.mist.lab:8443\r\nUser-Agent: " HTTPS_USER_AGENT
                                "\r\nConnection: close\r\nAccept: application/json\r\nX-Device-Id: ssr-1\r\n"
                                "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n";
    ZTP_ASSERT_EQ_INT(n, sizeof want2 - 1);
    ZTP_ASSERT_EQ_STR(b, want2);

    const char *const inj[] = {"X-A: b\r\nX-Injected: 1", NULL};
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "GET", "h", 443, "/", inj, false, NULL, 0), -EINVAL);
    const char *const nocolon[] = {"NoColon", NULL};
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "GET", "h", 443, "/", nocolon, false, NULL, 0), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "GET", "h", 443, "/a b", NULL, false, NULL, 0), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "GET", "h", 443, "rel", NULL, false, NULL, 0), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "G T", "h", 443, "/", NULL, false, NULL, 0), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_request(b, sizeof b, "GET", "h", 443, "/", NULL, true, "a\r\nb", 1), -EINVAL);
    ZTP_ASSERT_EQ_INT(http_build_request(b, 40, "GET", "h", 443, "/", NULL, false, NULL, 0), -ENOBUFS);
}

static void test_url(void)
{
    struct https_url u;
    const char *why = NULL;
    ZTP_ASSERT_EQ_INT(https_url_parse("https://ep-terminator.mistsys.net/", &u, &why), 0);
    ZTP_ASSERT_EQ_STR(u.host, "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(u.port, 443);
    ZTP_ASSERT_EQ_STR(u.path, "/");
    ZTP_ASSERT_EQ_INT(https_url_parse("HTTPS://ep-terminator.mistsys.net", &u, &why), 0);
    ZTP_ASSERT_EQ_STR(u.path, "/");
    ZTP_ASSERT_EQ_INT(https_url_parse("https://198.18.7.7:8443/a/b?c=d#frag", &u, &why), 0);
    ZTP_ASSERT_EQ_STR(u.host, "198.18.7.7");
    ZTP_ASSERT_EQ_INT(u.port, 8443);
    ZTP_ASSERT_EQ_STR(u.path, "/a/b?c=d");
    ZTP_ASSERT_EQ_INT(https_url_parse("https://h?q", &u, &why), 0);
    ZTP_ASSERT_EQ_STR(u.path, "/?q");

    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://h/", "not an https:// URL"},
        {"https://u:p@h/", "user information in the URL is not supported"},
        {"https:///x", "no host in the URL"},
        {"https://h:0/", "port out of range (1-65535)"},
        {"https://h:65536/", "port out of range (1-65535)"},
        {"https://h:44a/", "invalid port"},
        {"https://h:/", "invalid port"},
        {"https://h_/a b", "invalid character in the path"},
        {"https://a..b/", "invalid host name"},
        {"https://[::1]/", "invalid host name"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        why = NULL;
        int r = https_url_parse(bad[k].url, &u, &why);
        if (r != -1 || !why || strcmp(why, bad[k].why) != 0)
            fprintf(stderr, "\n  url %s: r=%d why=%s\n", bad[k].url, r, why ? why : "-");
        CU_ASSERT(r == -1 && why && strcmp(why, bad[k].why) == 0);
    }
}

static void test_host_valid(void)
{
    CU_ASSERT(http_host_valid("ep-terminator.mistsys.net"));
    CU_ASSERT(http_host_valid("198.18.0.1"));
    CU_ASSERT(http_host_valid("localhost"));
    CU_ASSERT(!http_host_valid(""));
    CU_ASSERT(!http_host_valid(".a"));
    CU_ASSERT(!http_host_valid("a."));
    CU_ASSERT(!http_host_valid("a..b"));
    CU_ASSERT(!http_host_valid("a:443"));
    CU_ASSERT(!http_host_valid("a/b"));
    char l64[80];
    memset(l64, 'a', 64);
    l64[64] = '\0';
    CU_ASSERT(!http_host_valid(l64));
    l64[63] = '\0';
    CU_ASSERT(http_host_valid(l64));
}

static void test_backoff(void)
{
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(1, 1000, 30000, 0), 1000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(2, 1000, 30000, 0), 2000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(3, 1000, 30000, 0), 4000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(5, 1000, 30000, 0), 16000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(6, 1000, 30000, 0), 30000);
    ZTP_ASSERT_EQ_INT(phonehome_backoff_ms(1000, 1000, 30000, 0), 30000);
    for (uint32_t r = 0; r < 5000; r += 7) {
        unsigned d = phonehome_backoff_ms(3, 1000, 30000, r * 2654435761u);
        CU_ASSERT(d >= 3200 && d <= 4000);
        d = phonehome_backoff_ms(9, 1000, 30000, r * 2654435761u);
        CU_ASSERT(d >= 24000 && d <= 30000);
    }
}

/* ---- config: management-proxy username / password ---- */

static int cfg(const char *text, struct router_config *c, char *err, size_t cap)
{
    return router_config_parse(text, strlen(text), c, err, cap);
}

static void test_config_credentials(void)
{
    static struct router_config c;
    char err[256];
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy enable\n"
                          "config authority router R management-proxy username ssr\n"
                          "config authority router R management-proxy password s3cret:x!\n"
                          "config authority router R management-proxy password s3cret:x!\n", /* same twice: fine */
                          &c, err, sizeof err),
                      0);
    CU_ASSERT(c.have_proxy_user && c.have_proxy_pass);
    ZTP_ASSERT_EQ_STR(c.proxy_user, "ssr");
    ZTP_ASSERT_EQ_STR(c.proxy_pass, "s3cret:x!");

    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy username only\n", &c, err, sizeof err), 0);
    CU_ASSERT(c.have_proxy_user && !c.have_proxy_pass);

    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy enable\n"
                          "config authority router R management-proxy password hunter2\n",
                          &c, err, sizeof err),
                      -1);
    ZTP_ASSERT_EQ_STR(err, "line 2: management-proxy password without management-proxy username");
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy username a:b\n", &c, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "line 1: management-proxy username: printable ASCII without ':' expected");
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy username u\n"
                          "config authority router R management-proxy username v\n",
                          &c, err, sizeof err),
                      -1);
    ZTP_ASSERT_EQ_STR(err, "line 2: management-proxy username already set");
    /* errors never echo a password */
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy username u\n"
                          "config authority router R management-proxy password hunter2 extra\n",
                          &c, err, sizeof err),
                      -1);
    CU_ASSERT(strstr(err, "hunter2") == NULL);
    ZTP_ASSERT_EQ_STR(err, "line 2: unexpected \"extra\" after management-proxy password");
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy username u\n"
                          "config authority router R management-proxy password hunter2\n"
                          "config authority router R management-proxy password hunter3\n",
                          &c, err, sizeof err),
                      -1);
    CU_ASSERT(strstr(err, "hunter") == NULL);
    ZTP_ASSERT_EQ_INT(cfg("config authority router R management-proxy password\n", &c, err, sizeof err), -1);
}

/* ---- the asynchronous client against fake proxies on loopback ---- */

enum fake_mode { FAKE_CLOSE, FAKE_GARBAGE, FAKE_407, FAKE_SILENT, FAKE_200_NOT_TLS, FAKE_TLS };

struct fake {
    int lfd, cfd;
    enum fake_mode mode;
    uint16_t port;
    char got[2048];
    size_t got_len;
    bool answered;
    /* FAKE_TLS: after the 200, a TLS server on the tunnel answers `reply` to one request */
    SSL_CTX *sctx;
    SSL *ssl;
    char req[4096];
    size_t req_len;
    const char *reply;
    bool replied;
    bool want_client_cert;        /* require a client certificate (trusting srv_cert) */
    char client_subject[128];     /* the client certificate the server saw */
    /* keep-alive: answer every request of the connection, not only the first */
    bool multi;
    unsigned accepts, served;
    char last_req[4096];          /* the last request answered */
};

/* A self-signed certificate for ep-terminator.mistsys.net (its own CA), made with the OpenSSL API. */
static EVP_PKEY *srv_key;
static X509 *srv_cert;
static char ca_path[64], keycert_path[64]; /* the certificate; the key + certificate (client side) */

static void make_server_cert(void)
{
    if (srv_cert)
        return;
    srv_key = EVP_EC_gen("P-256");
    CU_ASSERT_FATAL(srv_key != NULL);
    srv_cert = X509_new();
    X509_set_version(srv_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(srv_cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(srv_cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(srv_cert), 86400);
    X509_set_pubkey(srv_cert, srv_key);
    X509_NAME *n = X509_get_subject_name(srv_cert);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Mist Lab", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"ep-terminator.mistsys.net", -1, -1, 0);
    X509_set_issuer_name(srv_cert, n);
    X509V3_CTX xc;
    X509V3_set_ctx_nodb(&xc);
    X509V3_set_ctx(&xc, srv_cert, srv_cert, NULL, NULL, 0);
    static const struct {
        int nid;
        const char *v;
    } ext[] = {{NID_subject_alt_name, "DNS:ep-terminator.mistsys.net"}, {NID_basic_constraints, "critical,CA:TRUE"}};
    for (size_t i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &xc, ext[i].nid, ext[i].v);
        CU_ASSERT_FATAL(e != NULL);
        X509_add_ext(srv_cert, e, -1);
        X509_EXTENSION_free(e);
    }
    CU_ASSERT_FATAL(X509_sign(srv_cert, srv_key, EVP_sha256()) > 0);
    snprintf(ca_path, sizeof ca_path, "/tmp/test_https_ca.XXXXXX");
    int fd = mkstemp(ca_path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f && PEM_write_X509(f, srv_cert) == 1);
    fclose(f);
    snprintf(keycert_path, sizeof keycert_path, "/tmp/test_https_kc.XXXXXX");
    fd = mkstemp(keycert_path);
    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f && PEM_write_X509(f, srv_cert) == 1 &&
                    PEM_write_PrivateKey(f, srv_key, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
}

/* Drive the TLS server side: handshake, read one request (head + Content-Length body), reply. */
static void fake_tls(struct fake *f)
{
    if (!f->ssl) {
        f->sctx = SSL_CTX_new(TLS_server_method());
        CU_ASSERT_FATAL(f->sctx && SSL_CTX_use_certificate(f->sctx, srv_cert) == 1 &&
                        SSL_CTX_use_PrivateKey(f->sctx, srv_key) == 1);
        if (f->want_client_cert) {
            SSL_CTX_set_verify(f->sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
            X509_STORE_add_cert(SSL_CTX_get_cert_store(f->sctx), srv_cert);
        }
        f->ssl = SSL_new(f->sctx);
        SSL_set_fd(f->ssl, f->cfd);
        SSL_set_accept_state(f->ssl);
    }
    X509 *peer = SSL_get0_peer_certificate(f->ssl);
    if (peer && !f->client_subject[0])
        X509_NAME_oneline(X509_get_subject_name(peer), f->client_subject, sizeof f->client_subject);
    if (f->replied)
        return;
    size_t got = 0;
    while (f->req_len < sizeof f->req - 1 &&
           SSL_read_ex(f->ssl, f->req + f->req_len, sizeof f->req - 1 - f->req_len, &got) == 1)
        f->req_len += got;
    f->req[f->req_len] = '\0';
    ERR_clear_error();
    const char *end = strstr(f->req, "\r\n\r\n");
    if (!end)
        return;
    const char *cl = strstr(f->req, "Content-Length: ");
    size_t want = (size_t)(end + 4 - f->req) + (cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
    if (f->req_len < want)
        return;
    size_t w = 0;
    CU_ASSERT(SSL_write_ex(f->ssl, f->reply, strlen(f->reply), &w) == 1 && w == strlen(f->reply));
    f->replied = true;
    f->served++;
    memcpy(f->last_req, f->req, f->req_len + 1);
    if (f->multi) { /* ready for the next request on this connection */
        f->req_len = 0;
        f->replied = false;
    }
}

/* The server side drops the connection (TLS close_notify, then close); the next one is accepted. */
static void fake_drop(struct fake *f)
{
    if (f->ssl) {
        SSL_shutdown(f->ssl);
        SSL_free(f->ssl);
        f->ssl = NULL;
    }
    if (f->sctx)
        SSL_CTX_free(f->sctx);
    f->sctx = NULL;
    if (f->cfd >= 0)
        close(f->cfd);
    f->cfd = -1;
    f->answered = false;
    f->got_len = 0;
    f->req_len = 0;
    f->replied = false;
}

static void fake_listen(struct fake *f, enum fake_mode mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->cfd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CU_ASSERT_FATAL(f->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    CU_ASSERT_FATAL(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CU_ASSERT_FATAL(listen(f->lfd, 4) == 0);
    CU_ASSERT_FATAL(getsockname(f->lfd, (struct sockaddr *)&sa, &l) == 0);
    f->port = ntohs(sa.sin_port);
}

static void fake_close(struct fake *f)
{
    if (f->ssl)
        SSL_free(f->ssl);
    if (f->sctx)
        SSL_CTX_free(f->sctx);
    f->ssl = NULL;
    f->sctx = NULL;
    if (f->cfd >= 0)
        close(f->cfd);
    if (f->lfd >= 0)
        close(f->lfd);
    f->cfd = f->lfd = -1;
}

static void fake_poll(struct fake *f)
{
    if (f->lfd < 0)
        return;
    if (f->cfd == -1) {
        f->cfd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
        if (f->cfd < 0) {
            f->cfd = -1;
            return;
        }
        f->accepts++;
        if (f->mode == FAKE_CLOSE) {
            close(f->cfd);
            f->cfd = -2; /* done */
            return;
        }
    }
    if (f->cfd >= 0 && f->answered && f->mode == FAKE_TLS) {
        fake_tls(f);
        return;
    }
    if (f->cfd < 0 || f->answered)
        return;
    ssize_t r = read(f->cfd, f->got + f->got_len, sizeof f->got - 1 - f->got_len);
    if (r > 0)
        f->got_len += (size_t)r;
    f->got[f->got_len] = '\0';
    if (!strstr(f->got, "\r\n\r\n"))
        return;
    f->answered = true;
    const char *a = NULL;
    switch (f->mode) {
    case FAKE_GARBAGE: a = "SSH-2.0-OpenSSH_9.2p1\r\n"; break;
    case FAKE_407:
        a = "HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid/5.7\r\n"
            "Proxy-Authenticate: Basic realm=\"ztp-lab\"\r\nX-Squid-Error: ERR_CACHE_ACCESS_DENIED 0\r\n"
            "Content-Length: 4\r\n\r\ndeny";
        break;
    case FAKE_200_NOT_TLS:
    case FAKE_TLS: a = "HTTP/1.1 200 Connection established\r\n\r\n"; break;
    default: break;
    }
    if (a)
        CU_ASSERT(write(f->cfd, a, strlen(a)) == (ssize_t)strlen(a));
}

struct outcome {
    int calls;
    struct https_result r;
    char body[1024];
    char ctype[64];
};

static void on_done(struct https_client *c, const struct https_result *r, void *arg)
{
    struct outcome *o = arg;
    (void)c;
    o->calls++;
    o->r = *r;
    if (r->body && r->body_len < sizeof o->body)
        memcpy(o->body, r->body, r->body_len + 1); /* NUL-terminated */
    if (r->head)
        http_head_copy(r->head, "Content-Type", o->ctype, sizeof o->ctype);
    o->r.head = NULL; /* valid only during the callback */
    o->r.body = NULL;
}

/* Run the loop until the callback came (or 5 s). After a 200 to a not-TLS server, the fake
 * answers the ClientHello with an HTTP error, as a plain web server would. */
static void run(int epfd, struct fake *f, struct outcome *o)
{
    uint64_t end = https_now_ms() + 5000;
    bool sent_http = false;
    while (o->calls == 0 && https_now_ms() < end) {
        struct epoll_event evs[8];
        int k = epoll_wait(epfd, evs, 8, 20);
        for (int i = 0; i < k; i++) {
            struct node_ev *ev = evs[i].data.ptr;
            ev->fn(ev, evs[i].events);
        }
        if (f) {
            fake_poll(f);
            if (f->mode == FAKE_200_NOT_TLS && f->answered && !sent_http && f->cfd >= 0) {
                char junk[1024];
                if (read(f->cfd, junk, sizeof junk) > 0) {
                    static const char e[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
                    CU_ASSERT(write(f->cfd, e, sizeof e - 1) == (ssize_t)sizeof e - 1);
                    sent_http = true;
                }
            }
        }
        https_tick(https_now_ms());
    }
    https_tick(https_now_ms()); /* frees what finished */
}

static struct https_request base_req(uint16_t proxy_port)
{
    struct https_request r = {
        .tag = "test",
        .host = "ep-terminator.mistsys.net",
        .proxy_port = proxy_port,
        .timeout_ms = 3000,
    };
    r.proxy_addr.s_addr = htonl(INADDR_LOOPBACK);
    return r;
}

static void expect(const struct outcome *o, enum https_err e, const char *msg_part)
{
    ZTP_ASSERT_EQ_INT(o->calls, 1);
    ZTP_ASSERT_EQ_STR(https_err_name(o->r.err), https_err_name(e));
    if (msg_part && !strstr(o->r.message, msg_part))
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", o->r.message, msg_part);
    CU_ASSERT(!msg_part || strstr(o->r.message, msg_part) != NULL);
    ZTP_ASSERT_EQ_INT(https_active(), 0);
}

static void test_client_connect_path(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    CU_ASSERT_FATAL(epfd >= 0);
    struct fake f;
    struct outcome o;

    /* nothing listens: refused */
    fake_listen(&f, FAKE_CLOSE);
    uint16_t dead = f.port;
    fake_close(&f);
    memset(&o, 0, sizeof o);
    struct https_request rq = base_req(dead);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, NULL, &o);
    expect(&o, HTTPS_ERR_PROXY_CONNECT, "Connection refused");
    ZTP_ASSERT_EQ_INT(o.r.failed_in, HTTPS_TCP_CONNECT);

    /* accepts and closes */
    fake_listen(&f, FAKE_CLOSE);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_PROXY_CONNECT, "before answering CONNECT"); /* reset or closed */
    fake_close(&f);

    /* not HTTP */
    fake_listen(&f, FAKE_GARBAGE);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_PROXY_PROTOCOL, "not an HTTP/1.x response");
    fake_close(&f);

    /* 407 with credentials: what the proxy saw, and what we report */
    fake_listen(&f, FAKE_407);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.proxy_user = "Aladdin";
    rq.proxy_pass = "open sesame";
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    ZTP_ASSERT_EQ_STR(f.got, "CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nHost: ep-terminator.mistsys.net:443\r\n"
                             "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
    expect(&o, HTTPS_ERR_PROXY_REFUSED, "with 407 Proxy Authentication Required (X-Squid-Error: "
                                        "ERR_CACHE_ACCESS_DENIED 0), credentials rejected");
    ZTP_ASSERT_EQ_INT(o.r.proxy_status, 407);
    ZTP_ASSERT_EQ_STR(o.r.proxy_reason, "Proxy Authentication Required");
    ZTP_ASSERT_EQ_STR(o.r.squid_error, "ERR_CACHE_ACCESS_DENIED 0");
    ZTP_ASSERT_EQ_STR(o.r.proxy_authenticate, "Basic realm=\"ztp-lab\"");
    ZTP_ASSERT_EQ_INT(o.r.failed_in, HTTPS_PROXY_RECV);
    fake_close(&f);

    /* silent: the whole-request timeout, naming the state */
    fake_listen(&f, FAKE_SILENT);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.timeout_ms = 300;
    uint64_t t0 = https_now_ms();
    https_start(epfd, &rq, on_done, &o, t0);
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_TIMEOUT, "not complete within 300 ms (in state proxy-recv)");
    CU_ASSERT(https_now_ms() - t0 >= 300);
    fake_close(&f);

    /* 200, then the "server" is not TLS */
    fake_listen(&f, FAKE_200_NOT_TLS);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_TLS, "TLS handshake with ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(o.r.proxy_status, 200);
    ZTP_ASSERT_EQ_INT(o.r.failed_in, HTTPS_TLS_HANDSHAKE);
    fake_close(&f);

    close(epfd);
}

/* The whole path: CONNECT, TLS (SNI, verification against the CA file), a POST with a JSON body and
 * extra headers (the bytes the server saw), and the three ways a body ends. */
static void test_client_tls_request(void)
{
    make_server_cert();
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct fake f;
    struct outcome o;
    static const char *const hdrs[] = {"X-Device-Id: ssr-1", NULL};
    static const char json[] = "{\"challenge\":\"00000000\"}";

    /* chunked JSON */
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
              "6\r\n{\"ok\":\r\n5\r\ntrue}\r\n0\r\n\r\n";
    memset(&o, 0, sizeof o);
    struct https_request rq = base_req(f.port);
    rq.method = "POST";
    rq.path = "/ocra/verify";
    rq.headers = hdrs;
    rq.body = json;
    rq.body_len = sizeof json - 1;
    rq.ca_file = ca_path;
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_STR(f.req, "POST /ocra/verify HTTP/1.1\r\nHost: ep-terminator.mistsys.net\r\nUser-Agent: " HTTPS_USER_AGENT
                             "\r\nAccept: */*\r\nConnection: close\r\nX-Device-Id: ssr-1\r\n"
                             "Content-Type: application/json\r\nContent-Length: 24\r\n\r\n{\"challenge\":\"00000000\"}");
    ZTP_ASSERT_EQ_INT(o.r.status, 200);
    ZTP_ASSERT_EQ_STR(o.body, "{\"ok\":true}");
    ZTP_ASSERT_EQ_INT(o.r.body_len, 11);
    ZTP_ASSERT_EQ_STR(o.ctype, "application/json");
    ZTP_ASSERT_EQ_STR(o.r.peer_subject, "CN=ep-terminator.mistsys.net,O=Mist Lab");
    ZTP_ASSERT_EQ_INT(o.r.verify_code, 0);
    CU_ASSERT(strncmp(o.r.tls_version, "TLSv1.", 6) == 0);
    fake_close(&f);

    /* Content-Length: complete without waiting for the close */
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.path = "/missing";
    rq.ca_file = ca_path;
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, ""); /* a response: the caller judges the status */
    ZTP_ASSERT_EQ_INT(o.r.status, 404);
    ZTP_ASSERT_EQ_STR(o.r.reason, "Not Found");
    ZTP_ASSERT_EQ_STR(o.body, "not here\n");
    fake_close(&f);

    /* a body over max_body */
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.ca_file = ca_path;
    rq.max_body = 16;
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_HTTP, "larger than 16 bytes");
    fake_close(&f);

    /* the system store does not know the lab's CA */
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_TLS, "certificate verify failed: self-signed certificate");
    CU_ASSERT(o.r.verify_code != 0);
    fake_close(&f);

    /* mutual TLS: the server wants a client certificate */
    fake_listen(&f, FAKE_TLS);
    f.want_client_cert = true;
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.ca_file = ca_path;
    rq.cert_file = keycert_path; /* key in the same file */
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_STR(o.body, "ok");
    ZTP_ASSERT_EQ_STR(f.client_subject, "/O=Mist Lab/CN=ep-terminator.mistsys.net");
    fake_close(&f);
    /* ... and without one: the server's alert, reported as tls-failed */
    fake_listen(&f, FAKE_TLS);
    f.want_client_cert = true;
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.ca_file = ca_path;
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_TLS, "certificate required");
    fake_close(&f);
    /* a client key that does not exist: a set-up error */
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    rq.ca_file = ca_path;
    rq.cert_file = keycert_path;
    rq.key_file = "/nonexistent/key.pem";
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_SETUP, "cannot use the client key \"/nonexistent/key.pem\"");
    fake_close(&f);

    /* a CA file that does not exist: a set-up error */
    memset(&o, 0, sizeof o);
    fake_listen(&f, FAKE_TLS);
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    rq = base_req(f.port);
    rq.ca_file = "/nonexistent/ca.pem";
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_ERR_SETUP, "cannot load the CA file \"/nonexistent/ca.pem\"");
    fake_close(&f);
    close(epfd);
    unlink(ca_path);
    unlink(keycert_path);
}

/* Keep-alive (https.h, "Connection reuse"): requests with keep_alive_ms share one connection
 * (one accept, one TLS handshake); a request without it sends "Connection: close" and ends the
 * connection; a pooled connection the server closed meanwhile is replaced by a fresh one (the
 * request is sent again); a response with "Connection: close" is not pooled; another proxy or
 * another CA never takes a pooled connection. */
static void write_ca(char *path, size_t cap, const char *tmpl)
{
    snprintf(path, cap, "%s", tmpl);
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *cf = fdopen(fd, "w");
    CU_ASSERT_FATAL(cf && PEM_write_X509(cf, srv_cert) == 1);
    fclose(cf);
}

static void test_client_keepalive(void)
{
    make_server_cert();
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct fake f;
    struct outcome o;
    char ca1[64], ca2[64];
    write_ca(ca1, sizeof ca1, "/tmp/test_https_ka1.XXXXXX");
    write_ca(ca2, sizeof ca2, "/tmp/test_https_ka2.XXXXXX");
    fake_listen(&f, FAKE_TLS);
    f.multi = true;
    f.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct https_request rq = base_req(f.port);
    rq.ca_file = ca1;
    rq.keep_alive_ms = 1000;
    for (unsigned i = 1; i <= 3; i++) {
        memset(&o, 0, sizeof o);
        https_start(epfd, &rq, on_done, &o, https_now_ms());
        run(epfd, &f, &o);
        expect(&o, HTTPS_OK, "");
        ZTP_ASSERT_EQ_STR(o.body, "ok");
        ZTP_ASSERT_EQ_INT(f.served, i);
        ZTP_ASSERT_EQ_INT(f.accepts, 1); /* the same connection, the same TLS session */
        CU_ASSERT(strstr(f.last_req, "\r\nConnection: keep-alive\r\n") != NULL);
        CU_ASSERT(strncmp(o.r.tls_version, "TLSv1.", 6) == 0);
        ZTP_ASSERT_EQ_STR(o.r.peer_subject, "CN=ep-terminator.mistsys.net,O=Mist Lab");
    }
    /* the last of the exchange: "Connection: close", on the pooled connection, which then ends */
    rq.keep_alive_ms = 0;
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_INT(f.served, 4);
    ZTP_ASSERT_EQ_INT(f.accepts, 1);
    CU_ASSERT(strstr(f.last_req, "\r\nConnection: close\r\n") != NULL);
    struct pollfd pf = {.fd = f.cfd, .events = POLLIN};
    ZTP_ASSERT_EQ_INT(poll(&pf, 1, 1000), 1);
    char b[64];
    size_t got = 0;
    CU_ASSERT(SSL_read_ex(f.ssl, b, sizeof b, &got) != 1); /* close_notify / EOF */
    ERR_clear_error();
    fake_drop(&f);

    /* the server closes a pooled connection before the next request notices: sent again on a fresh one */
    rq.keep_alive_ms = 1000;
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_INT(f.accepts, 2);
    fake_drop(&f);
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq, on_done, &o, https_now_ms()); /* takes the pooled (dead) connection */
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_STR(o.body, "ok");
    ZTP_ASSERT_EQ_INT(f.accepts, 3);
    ZTP_ASSERT_EQ_INT(f.served, 6);

    /* another CA file (same server, same proxy): a connection of its own */
    struct https_request rq2 = rq;
    rq2.ca_file = ca2;
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq2, on_done, &o, https_now_ms());
    uint64_t until = https_now_ms() + 300; /* the fake serves one connection at a time: the new one waits ... */
    while (https_now_ms() < until) {
        struct epoll_event evs[8];
        int k = epoll_wait(epfd, evs, 8, 20);
        for (int i = 0; i < k; i++) {
            struct node_ev *ev = evs[i].data.ptr;
            ev->fn(ev, evs[i].events);
        }
        fake_poll(&f);
        https_tick(https_now_ms());
    }
    ZTP_ASSERT_EQ_INT(o.calls, 0);
    ZTP_ASSERT_EQ_INT(f.accepts, 3);
    https_pool_flush("test"); /* ... until the pooled one is closed */
    fake_drop(&f);
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_INT(f.accepts, 4);

    /* the server says "Connection: close": not pooled, the next request connects anew */
    f.reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    https_pool_flush("test");
    fake_drop(&f);
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_INT(f.accepts, 5);
    fake_drop(&f);
    memset(&o, 0, sizeof o);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    run(epfd, &f, &o);
    expect(&o, HTTPS_OK, "");
    ZTP_ASSERT_EQ_INT(f.accepts, 6);
    fake_close(&f);
    https_shutdown();
    close(epfd);
    unlink(ca1);
    unlink(ca2);
}

static void test_client_setup_errors_deferred(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct outcome o;
    memset(&o, 0, sizeof o);
    struct https_request rq = base_req(3128);
    rq.host = "bad host";
    struct https_client *c = https_start(epfd, &rq, on_done, &o, https_now_ms());
    CU_ASSERT(c != NULL);
    ZTP_ASSERT_EQ_INT(o.calls, 0); /* never from inside https_start */
    ZTP_ASSERT_EQ_INT(https_next_timeout_ms(https_now_ms()), 0);
    https_tick(https_now_ms());
    expect(&o, HTTPS_ERR_SETUP, "invalid host name");

    /* no proxy and a name: the router never resolves */
    memset(&o, 0, sizeof o);
    rq = base_req(0);
    https_start(epfd, &rq, on_done, &o, https_now_ms());
    https_tick(https_now_ms());
    expect(&o, HTTPS_ERR_SETUP, "the router never resolves names");

    /* cancel: no callback, nothing left */
    struct fake f;
    fake_listen(&f, FAKE_SILENT);
    memset(&o, 0, sizeof o);
    rq = base_req(f.port);
    c = https_start(epfd, &rq, on_done, &o, https_now_ms());
    ZTP_ASSERT_EQ_INT(https_active(), 1);
    CU_ASSERT(https_next_timeout_ms(https_now_ms()) > 0);
    https_cancel(c);
    ZTP_ASSERT_EQ_INT(https_active(), 0);
    ZTP_ASSERT_EQ_INT(https_next_timeout_ms(https_now_ms()), -1);
    https_tick(https_now_ms() + 100000);
    ZTP_ASSERT_EQ_INT(o.calls, 0);
    fake_close(&f);
    close(epfd);
}

int main(void)
{
    log_init("test", "test_https", LOG_LVL_WARN);
    static const struct ztp_test pure[] = {
        {"response head: Squid and tinyproxy 200", test_head_squid_200},
        {"response head: Squid 403 with X-Squid-Error, 407", test_head_squid_403},
        {"response head: every prefix is incomplete, bare LF", test_head_incremental},
        {"response head: malformed and oversized", test_head_malformed},
        {"body delimitation", test_body_kind},
        {"chunked decoder", test_chunked},
        {"base64 (RFC 4648 vectors)", test_base64},
        {"CONNECT request bytes", test_build_connect},
        {"request head bytes", test_build_request},
        {"https URL parser", test_url},
        {"host names", test_host_valid},
        {"phone-home backoff", test_backoff},
        {"config: management-proxy username/password", test_config_credentials},
        {NULL, NULL},
    };
    static const struct ztp_test client[] = {
        {"refused, closed, not HTTP, 407, silent, not TLS", test_client_connect_path},
        {"TLS, POST with JSON, chunked / length / oversized bodies, CA, client certificate", test_client_tls_request},
        {"set-up errors are deferred; cancel", test_client_setup_errors_deferred},
        {"keep-alive: reuse, Connection: close, stale connection, CA, server close", test_client_keepalive},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {
        {"https-pure", pure},
        {"https-client", client},
        {NULL, NULL},
    };
    return ztp_cunit_run(suites);
}
