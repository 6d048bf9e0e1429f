/* libFuzzer harness for the router's HTTP response parsing (router/https.c): the response-head
 * parser on every input, then the body delimitation and the chunked decoder on what follows the
 * head (with a small output buffer, so the "output full" path runs too), and the CONNECT builder
 * with a host taken from the input. Properties checked (abort on violation):
 *   - a complete head has 0 < head_len <= len, every header lies inside the input, and parsing
 *     exactly data[0..head_len) gives the same head_len and header count;
 *   - any proper prefix of a complete head is "incomplete" or "malformed", never "complete";
 *   - the chunked decoder never consumes more than it was given nor produces more than its room;
 *   - the CONNECT builder's output never holds a CR or LF except as line ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const char *buf, size_t len, const char *p, size_t n)
{
    if (n && (p < buf || p + n > buf + len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    static struct http_response_head h, again;
    const char *why = NULL;
    int r = http_response_head_parse(buf, size, &h, &why);
    if (r == -1 && !why)
        abort();
    if (r == 1) {
        if (h.head_len == 0 || h.head_len > size || h.n_headers > HTTP_RESP_MAX_HEADERS || h.status < 100 || h.status > 999)
            abort();
        check_inside(buf, size, h.reason, h.reason_len);
        for (size_t i = 0; i < h.n_headers; i++) {
            check_inside(buf, size, h.headers[i].name, h.headers[i].name_len);
            check_inside(buf, size, h.headers[i].value, h.headers[i].value_len);
        }
        if (http_response_head_parse(buf, h.head_len, &again, NULL) != 1 || again.head_len != h.head_len ||
            again.n_headers != h.n_headers)
            abort();
        if (h.head_len > 1 && http_response_head_parse(buf, h.head_len - 1, &again, NULL) == 1)
            abort();

        char tmp[64];
        http_head_copy(&h, "X-Squid-Error", tmp, sizeof tmp);
        http_head_copy(&h, "Proxy-Authenticate", tmp, sizeof tmp);
        enum http_body_kind kind;
        uint64_t length;
        if (http_body_kind(&h, size & 1 ? "HEAD" : "GET", &kind, &length, &why) == 0 && kind == HTTP_BODY_CHUNKED) {
            struct http_chunked d;
            char out[7];
            http_chunked_init(&d);
            size_t off = h.head_len;
            while (off < size) {
                size_t used = 0, produced = 0;
                int cr = http_chunked_feed(&d, buf + off, size - off, &used, out, sizeof out, &produced, &why);
                if (used > size - off || produced > sizeof out)
                    abort();
                off += used;
                if (cr != 0 || (used == 0 && produced == 0))
                    break;
            }
        }
    }

    /* A chunked body on its own, fed in pieces. */
    struct http_chunked d;
    char out[256];
    http_chunked_init(&d);
    for (size_t off = 0; off < size;) {
        size_t step = 1 + (data[off] & 15), used = 0, produced = 0;
        if (step > size - off)
            step = size - off;
        int cr = http_chunked_feed(&d, buf + off, step, &used, out, sizeof out, &produced, NULL);
        if (used > step || produced > sizeof out)
            abort();
        off += used ? used : step;
        if (cr != 0)
            break;
    }

    /* CONNECT with a host made of the input: valid hosts only, no injected lines. */
    char host[300], req[2048];
    size_t hl = size < sizeof host - 1 ? size : sizeof host - 1;
    memcpy(host, data, hl);
    host[hl] = '\0';
    ssize_t n = http_build_connect(req, sizeof req, host, 443, size > 4 ? "u" : NULL, "p");
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            if ((req[i] == '\r' && (i + 1 >= n || req[i + 1] != '\n')) || (req[i] == '\n' && (i == 0 || req[i - 1] != '\r')))
                abort();
        int lines = 0;
        for (ssize_t i = 0; i < n; i++)
            lines += req[i] == '\n';
        if (lines != (size > 4 ? 4 : 3))
            abort();
    }
    struct https_url u;
    (void)https_url_parse(host, &u, NULL);
    return 0;
}
