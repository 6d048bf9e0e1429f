/* HTTPS through the management proxy, for ssr-node's single-threaded epoll loop.
 *
 * One request is one `struct https_client`, a state machine driven by epoll readiness and by
 * https_tick() (timeouts); no threads, no blocking call, and the host name of the URL is NEVER
 * resolved by the router (the proxy resolves it):
 *
 *   tcp-connect    non-blocking connect to the proxy (PROXY_ADDR:PROXY_PORT), connect timeout
 *   proxy-send     "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n"
 *                  ["Proxy-Authorization: Basic base64(user:pass)\r\n"] "\r\n"
 *   proxy-recv     the proxy's response head (http_response_head_parse); anything but 200 is an
 *                  error carrying the proxy's status, reason phrase and X-Squid-Error header
 *   tls-handshake  OpenSSL over the tunnel: SNI = host, SSL_set1_host(host) (hostname check),
 *                  chain verified against the request's CA file/dir (default: the system store),
 *                  optional client certificate (mutual TLS)
 *   request-send   "METHOD path HTTP/1.1", Host, User-Agent, Connection: close, the caller's
 *                  extra headers, Content-Type/Content-Length with a body
 *   response-recv  status line, headers, body by Content-Length, chunked, or until close;
 *                  bounded (head HTTP_RESP_HEAD_MAX, body max_body)
 *   done | failed
 *
 * Every transition is logged by one function: event=https.state id=N from=A to=B. Other events:
 * https.start, https.proxy_response (non-200), https.tls (the peer), https.done, https.failed. The
 * proxy password and the Proxy-Authorization value are never logged (auth=basic user=U).
 *
 * The caller gets EXACTLY ONE callback per started request (never from inside https_start(),
 * also for set-up errors, which are delivered on the next https_tick()), unless it calls
 * https_cancel() first. The client frees itself after the callback returns; the result (and
 * the body and headers it points to) is valid only during the callback.
 *
 * Result classes (https_err_name):
 *   ok                    a complete HTTP response (any status: the caller judges 4xx/5xx)
 *   setup-failed          a local problem: bad request, unreadable CA file or client key, socket
 *   proxy-connect-failed  no TCP connection to the proxy (refused, unreachable), or it closed
 *                         or reset the connection before answering CONNECT
 *   proxy-refused         the proxy answered CONNECT with a status other than 200 (403, 407,
 *                         502, 503, ...): proxy_status, proxy_reason, squid_error
 *   proxy-protocol-error  the proxy's answer is not HTTP, too large, or data followed a 200
 *   tls-failed            handshake failed: "certificate verify failed: <X509 reason>" (e.g.
 *                         "unable to get local issuer certificate", "hostname mismatch") or the
 *                         TLS library's reason; verify_code holds the X509_V_ value. Also a TLS
 *                         error after the handshake, e.g. the server's alert when it rejects our
 *                         client certificate (TLS 1.3 reports it at the first read)
 *   http-error            the server's response is malformed, truncated or too large
 *   timeout               the connect timeout or the whole-request timeout expired (the message
 *                         says in which state)
 *
 * Connection reuse (keep-alive): a request with `keep_alive_ms` sends "Connection: keep-alive"; when
 * its response is complete, HTTP/1.1, delimited (Content-Length, chunked or no body), not followed by
 * stray bytes and not "Connection: close", its connection (the socket, the tunnel through the proxy
 * and the TLS session) goes to a small pool BEFORE the callback runs, idle for at most
 * keep_alive_ms (HTTPS_KEEPALIVE_IDLE_MS suits back-to-back requests) and watched meanwhile (the peer closing it, or sending anything that is
 * not a TLS handshake message, drops it). The next request whose target host and port, proxy
 * (address, port, credentials), CA file/dir and client certificate/key (files compared by inode,
 * mtime and size; an in-memory key with EVP_PKEY_eq) are the same takes it: it starts in
 * request-send (event=https.reuse conn=ID requests=N idle_ms=T; no https.tunnel, no https.tls).
 * A request without `keep_alive_ms` sends "Connection: close" and its connection is closed as before,
 * so the last request of an exchange ends its tunnel (and the proxy's access-log line) at once. When
 * a reused connection fails before any byte of the response arrived (the server or the proxy closed
 * it meanwhile), the request is sent once more on a fresh connection (event=https.retry
 * reason=stale-connection); a timeout is never retried. Each request still takes the proxy that is
 * active when it starts: a pooled connection through another proxy is not taken, and
 * https_pool_flush() (called on every change of the active proxy) closes the idle ones.
 * Fleet runs (lab/fleet.h): the 18 requests of an onboarding take 4 TLS handshakes instead of 18.
 *
 * TLS contexts: every connection shares one SSL_CTX (made once: SSL_CTX_new costs ~0.3 ms in
 * OpenSSL 3); its trust anchors are a verify store on its SSL object, cached (at most
 * HTTPS_CTX_CACHE) by CA file or directory identity (path, inode, mtime, size), and its client
 * certificate and key are set on its SSL object only.
 *
 * Reuse: issue 5 (Mist phone-home, OCRA) sends JSON bodies and extra headers; issue 6 (conductor)
 * adds a client certificate and its own CA per request. Pure parts (response-head parser,
 * CONNECT and request builders, chunked decoder, URL parser, base64) are at the top of this
 * header and have unit tests (tests/unit/test_https.c) and a fuzzer (tests/fuzz/fuzz_http_response.c).
 */
#ifndef SSR_HTTPS_H
#define SSR_HTTPS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#define HTTP_RESP_HEAD_MAX 16384        /* a response head (status line + headers) */
#define HTTP_RESP_MAX_HEADERS 64
#define HTTPS_HOST_MAX 254              /* a DNS name: 253 + NUL */
#define HTTPS_PATH_MAX 2048
#define HTTPS_DEFAULT_PORT 443
#define HTTPS_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTPS_DEFAULT_TIMEOUT_MS 20000
#define HTTPS_DEFAULT_MAX_BODY (1024u * 1024u)
#define HTTPS_USER_AGENT "ssr-node/0.1 (ztp-lab)"
#define HTTPS_KEEPALIVE_IDLE_MS 1000    /* keep_alive_ms for back-to-back requests */
#define HTTPS_POOL_MAX 8                /* pooled connections at most */
#define HTTPS_CTX_CACHE 4               /* cached CA verify stores at most */

/* ---- pure parts: no I/O, no logging, no global state ---- */

struct http_resp_header {
    const char *name;           /* points into the parsed buffer; not NUL-terminated */
    size_t name_len;
    const char *value;          /* leading/trailing blanks trimmed */
    size_t value_len;
};

struct http_response_head {
    unsigned version;           /* 10 (HTTP/1.0) or 11 (HTTP/1.x, x >= 1) */
    int status;                 /* 100..999 */
    const char *reason;         /* may be empty */
    size_t reason_len;
    struct http_resp_header headers[HTTP_RESP_MAX_HEADERS];
    size_t n_headers;
    size_t head_len;            /* bytes of the head including the empty line */
};

/* Parse a response head at the start of buf[0..len). Lines end in CRLF (a bare LF is accepted);
 * obsolete line folding, control bytes, a header without a colon or with a blank before it, a bad
 * status line, more than HTTP_RESP_MAX_HEADERS headers or a head longer than HTTP_RESP_HEAD_MAX
 * are errors. Returns 1 (complete: out filled, out->head_len set), 0 (incomplete: need more bytes), or -1
 * (malformed; *why, when why is non-NULL, says why). Never reads past buf + len. */
int http_response_head_parse(const char *buf, size_t len, struct http_response_head *out, const char **why);

/* The first header named `name` (ASCII case-insensitive), or NULL. */
const struct http_resp_header *http_head_get(const struct http_response_head *h, const char *name);
/* Copy a header's value (or "" when absent) into dst as printable ASCII (others -> '?'),
 * NUL-terminated and truncated to cap. Returns dst. */
char *http_head_copy(const struct http_response_head *h, const char *name, char *dst, size_t cap);

enum http_body_kind { HTTP_BODY_NONE = 0, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_UNTIL_CLOSE };
/* How the body of a response to `method` is delimited (RFC 9112 section 6.3): none for HEAD,
 * 1xx, 204 and 304; chunked when Transfer-Encoding's last coding is chunked; Content-Length
 * (several must agree; digits only) -> *length; else until close. Returns 0, or -1 (*why) for a
 * bad Content-Length or an unsupported Transfer-Encoding. */
int http_body_kind(const struct http_response_head *h, const char *method, enum http_body_kind *kind, uint64_t *length,
                   const char **why);

/* Incremental chunked-transfer decoder. */
struct http_chunked {
    int st;                     /* internal */
    uint64_t left;              /* bytes left in the current chunk */
    unsigned digits;            /* hex digits of the size seen */
    size_t line;                /* bytes of the current extension/trailer line */
    size_t trailer;             /* trailer bytes so far */
};
void http_chunked_init(struct http_chunked *d);
/* Feed in[0..in_len): decoded data goes to out[0..out_cap). *used = input bytes consumed,
 * *produced = bytes written. Returns 1 when the last chunk and the trailers are complete (*used
 * stops right after them), 0 when more input is needed (or out is full: *used < in_len), -1 on
 * a malformed encoding (*why). */
int http_chunked_feed(struct http_chunked *d, const char *in, size_t in_len, size_t *used, char *out, size_t out_cap,
                      size_t *produced, const char **why);

/* A host name the router may put in CONNECT, SNI and Host: a DNS name (letters, digits, '-',
 * '_', dots; labels 1..63, total 1..253) or a dotted-quad IPv4. */
bool http_host_valid(const char *host);

/* RFC 4648 base64 of src[0..len) into dst (NUL-terminated). Returns the length, or -1 when cap
 * is too small. */
ssize_t http_base64(const void *src, size_t len, char *dst, size_t cap);

/* The CONNECT request: "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n" + (user != NULL)
 * "Proxy-Authorization: Basic base64(user:pass)\r\n" + "\r\n". pass NULL = "". Returns the
 * length written (NUL-terminated), -EINVAL for a bad host or port 0 or a user containing ':' or
 * a control byte, -ENOBUFS when cap is too small. */
ssize_t http_build_connect(char *buf, size_t cap, const char *host, uint16_t port, const char *user,
                           const char *pass);

/* The request head: "METHOD path HTTP/1.1\r\nHost: host[:port]\r\nUser-Agent: ...\r\n", an Accept
 * of any type (unless an extra header is an Accept), "Connection: close\r\n", the extra headers
 * ("Name: value", NULL-terminated array, may be NULL), "Content-Type: ct\r\nContent-Length: N\r\n"
 * when has_body, then "\r\n". Returns the length or
 * -EINVAL (bad method, path, host or header: no CR/LF/control bytes; a header needs "Name:") or
 * -ENOBUFS. */
ssize_t http_build_request(char *buf, size_t cap, const char *method, const char *host, uint16_t port,
                           const char *path, const char *const *headers, bool has_body, const char *content_type,
                           size_t body_len);

struct https_url {
    char host[HTTPS_HOST_MAX];
    uint16_t port;              /* 443 when absent */
    char path[HTTPS_PATH_MAX];  /* "/" when absent; includes the query */
};
/* The same with "Connection: keep-alive" instead of "Connection: close" when keep_alive. */
ssize_t http_build_request_conn(char *buf, size_t cap, const char *method, const char *host, uint16_t port,
                                const char *path, const char *const *headers, bool has_body, const char *content_type,
                                size_t body_len, bool keep_alive);

/* Parse "https://host[:port][/path]" (no userinfo, no fragment kept, no IPv6 literal). Returns 0
 * or -1 (*why). */
int https_url_parse(const char *url, struct https_url *out, const char **why);

/* ---- the asynchronous client ---- */

enum https_state {
    HTTPS_IDLE = 0,
    HTTPS_TCP_CONNECT,
    HTTPS_PROXY_SEND,
    HTTPS_PROXY_RECV,
    HTTPS_TLS_HANDSHAKE,
    HTTPS_REQUEST_SEND,
    HTTPS_RESPONSE_RECV,
    HTTPS_DONE,
    HTTPS_FAILED,
    HTTPS_STATE__COUNT
};
/* "idle", "tcp-connect", "proxy-send", "proxy-recv", "tls-handshake", "request-send",
 * "response-recv", "done", "failed" */
const char *https_state_name(enum https_state s);

enum https_err {
    HTTPS_OK = 0,
    HTTPS_ERR_SETUP,
    HTTPS_ERR_PROXY_CONNECT,
    HTTPS_ERR_PROXY_REFUSED,
    HTTPS_ERR_PROXY_PROTOCOL,
    HTTPS_ERR_TLS,
    HTTPS_ERR_HTTP,
    HTTPS_ERR_TIMEOUT,
    HTTPS_ERR__COUNT
};
/* "ok", "setup-failed", "proxy-connect-failed", "proxy-refused", "proxy-protocol-error",
 * "tls-failed", "http-error", "timeout" */
const char *https_err_name(enum https_err e);

/* Everything is copied by https_start(); NULL/0 fields take the defaults. */
struct https_request {
    const char *tag;              /* who asks, for the log lines ("phonehome", "fetch"); default "https" */
    const char *method;           /* default "GET" */
    const char *host;             /* required: CONNECT target, SNI, verified name, Host header */
    uint16_t port;                /* default 443 */
    const char *path;             /* default "/" */
    const char *const *headers;   /* extra "Name: value" headers, NULL-terminated; may be NULL */
    const char *content_type;     /* with a body; default "application/json" */
    const void *body;             /* may be NULL */
    size_t body_len;
    struct in_addr proxy_addr;    /* the active management proxy (network order) */
    uint16_t proxy_port;          /* 0: no proxy, connect directly (host must be an IPv4 literal) */
    const char *proxy_user;       /* NULL: no Proxy-Authorization */
    const char *proxy_pass;
    const char *ca_file;          /* trust anchors; both NULL: the system's default store */
    const char *ca_dir;
    const char *cert_file;        /* client certificate chain (PEM) for mutual TLS; NULL: none */
    const char *key_file;         /* its private key (PEM); default: cert_file */
    EVP_PKEY *key;                /* or the private key in memory (a key unsealed from the TPM: never
                                   * written to a file); taken with EVP_PKEY_up_ref, wins over key_file */
    unsigned connect_timeout_ms;  /* default HTTPS_DEFAULT_CONNECT_TIMEOUT_MS */
    unsigned timeout_ms;          /* whole request; default HTTPS_DEFAULT_TIMEOUT_MS */
    size_t max_body;              /* default HTTPS_DEFAULT_MAX_BODY */
    unsigned keep_alive_ms;       /* > 0: the caller will likely send its next request to the same server within
                                   * this many ms: ask for a persistent connection and keep it that long idle
                                   * (see "Connection reuse"); 0: "Connection: close" */
};

struct https_result {
    enum https_err err;
    char message[384];            /* one line, printable ASCII; "" when ok */
    enum https_state failed_in;   /* the state the request failed in (HTTPS_DONE when ok) */
    unsigned id;
    char proxy[24];               /* "A:P" or "direct" */
    /* the proxy's answer to CONNECT (proxy_status 0: none) */
    int proxy_status;
    char proxy_reason[96];
    char squid_error[96];         /* X-Squid-Error header, "" when absent */
    char proxy_authenticate[128]; /* Proxy-Authenticate header (407), "" when absent */
    /* TLS (when the handshake completed) */
    char tls_version[16];
    char tls_cipher[64];
    char peer_subject[256];       /* RFC 2253, e.g. "CN=ep-terminator.mistsys.net,O=Mist Lab" */
    char peer_issuer[256];
    long verify_code;             /* X509_V_OK (0) or the X509_V_ERR_ value */
    /* the server's response (status 0: none) */
    int status;
    char reason[96];
    const struct http_response_head *head;  /* headers; NULL when no response */
    const char *body;             /* NUL-terminated (binary bodies may hold NULs); NULL when none */
    size_t body_len;
    uint64_t elapsed_ms;
};

struct https_client;
typedef void (*https_done_fn)(struct https_client *c, const struct https_result *r, void *arg);

/* Start a request: the socket is registered in epfd (data.ptr -> a struct node_ev, see node.h).
 * Returns the client (never NULL: out of memory is fatal). `done` is called exactly once, later. */
struct https_client *https_start(int epfd, const struct https_request *req, https_done_fn done, void *arg,
                                 uint64_t now_ms);
/* Abort a request: no callback, everything freed. Must not be called from its own callback. */
void https_cancel(struct https_client *c);
enum https_state https_client_state(const struct https_client *c);
unsigned https_client_id(const struct https_client *c);

/* Timeouts and deferred set-up errors of every client: call after every wake-up. */
void https_tick(uint64_t now_ms);
/* Milliseconds until https_tick() must run (0: now), or -1 when no request is under way. */
int https_next_timeout_ms(uint64_t now_ms);
/* Requests under way. */
size_t https_active(void);
/* Close every idle pooled connection (`why` is logged): the active proxy changed. */
void https_pool_flush(const char *why);
/* Cancel every request (no callbacks) and free everything: at daemon stop. */
void https_shutdown(void);

/* CLOCK_MONOTONIC in milliseconds (the same clock as dhcpc_now_ms()). */
uint64_t https_now_ms(void);

/* SSL_use_certificate_chain_file() (ssl) or SSL_CTX_use_certificate_chain_file() (ctx, ssl NULL)
 * through the process's certificate cache (ztp/pki.h): the leaf, then the rest as its chain.
 * 1 on success, as OpenSSL's. */
int https_use_cert_chain_file(SSL_CTX *ctx, SSL *ssl, const char *file);

#endif
