/* libFuzzer harness for mock-proxy's request-head parser (and the small parsers around it: base64,
 * CIDR, port ranges, dstdomain, the access-log formatter). Properties: never reads past the input
 * (ASan), every span of a parsed request lies inside the head, the head is at most the input and the
 * limit, errors carry a reason, and a parse is deterministic (same input, same result). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../mocks/proxy/accesslog.h"
#include "../../mocks/proxy/acl.h"
#include "../../mocks/proxy/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const struct http_limits *lim)
{
    static struct http_request r, again;
    int rc = http_parse_request(data, size, lim, &r);
    if (rc < 0 && !r.why)
        abort();
    if (rc == HTTP_OK) {
        if (r.head_len > size || r.head_len > lim->max_head || r.n_headers > lim->max_headers)
            abort();
        if (r.target.off + r.target.len > r.head_len || r.path.off + r.path.len > r.head_len)
            abort();
        for (size_t i = 0; i < r.n_headers; i++)
            if (r.headers[i].name.off + r.headers[i].name.len > r.head_len ||
                r.headers[i].value.off + r.headers[i].value.len > r.head_len || r.headers[i].name.len == 0)
                abort();
        if (strlen(r.host) > HTTP_MAX_HOST || (r.auth == HTTP_AUTH_BASIC && r.user[0] == '\0'))
            abort();
        if (r.form == HTTP_FORM_AUTHORITY && r.port == 0)
            abort();
        /* bytes after the head never change the parse */
        if (http_parse_request(data, r.head_len, lim, &again) != HTTP_OK || again.head_len != r.head_len ||
            again.n_headers != r.n_headers || strcmp(again.host, r.host) != 0 || again.port != r.port)
            abort();
    } else if (rc == HTTP_NEED_MORE && size >= lim->max_head) {
        abort();
    }
    http_request_wipe(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_limits lim;
    http_limits_default(&lim);
    check(data, size, &lim);
    struct http_limits small = {.max_head = 96, .max_headers = 4, .max_url = 40};
    check(data, size, &small);

    uint8_t out[256];
    int n = http_base64_decode((const char *)data, size, out, sizeof out);
    if (n > (int)sizeof out)
        abort();

    char s[300];
    size_t l = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, l);
    s[l] = '\0';
    struct cidr c;
    struct port_range pr;
    (void)cidr_parse(s, &c);
    if (port_range_parse(s, &pr) == 0 && (pr.lo == 0 || pr.lo > pr.hi))
        abort();
    (void)domain_match(s, "www.example.com");
    (void)domain_match(".example.com", s);
    char line[512];
    struct access_entry e = {.client = s, .code = "NONE_NONE", .method = s, .url = s, .user = s,
                             .hier = "HIER_NONE", .peer = s, .type = s};
    size_t ll = access_format(line, sizeof line, &e);
    if (ll == 0 || ll >= sizeof line || line[ll - 1] != '\n' || memchr(line, '\n', ll - 1))
        abort();
    return 0;
}
