/* SVR peering with the operational hub (issue 6, step 9): data plane, so a DIRECT TLS connection
 * over the WAN (never through the management proxy), with the router certificate issued by the
 * conductor as the client certificate. The wire (mocks/hub/README.md, /tmp issue-6 contract):
 *
 *   router -> hub   TLS 1.2+, client certificate = certs/router.pem (+ the key unsealed from the TPM)
 *   router -> hub   {"hello":"svr","router":"R1","node":"r1a","hub":"hub1"}\n
 *   hub -> router   {"result":"peered","hub":"hub1","peer":"R1.r1a"}\n
 *                   or {"result":"refused","reason":"..."}\n and close
 *   router -> hub   {"keepalive":N}\n every SVR_KEEPALIVE_MS;  hub -> router: the same line echoed
 *
 * The hub's certificate must chain to one of the router's anchors (certs/conductor-ca.pem,
 * trust/production-ca.pem, trust/root-ca.pem: the ones that exist) and name the hub: an IP SAN equal
 * to the hub's address, or the hub name (svr-config "hub-name") as a DNS SAN (or CN without DNS SANs).
 *
 * States (enum + name table + one transition function, event=svr.state from to):
 *   off -> connecting -> tls -> hello -> peered
 *   any failure -> backoff (1 s doubling to 30 s, minus up to 20 % jitter) -> connecting
 * A peered link with no line from the hub for SVR_SILENCE_MS is down (the hub echoes keepalives).
 * Events: svr.peered, svr.refused, svr.down, svr.failed (class: connect-failed, tls-failed,
 * hub-name-mismatch, refused, protocol-error, timeout, closed).
 *
 * The peer is opaque (allocated here; its epoll registration is a struct node_ev). Not thread-safe.
 */
#ifndef SSR_SVR_H
#define SSR_SVR_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVR_DEFAULT_PORT 1280
#define SVR_KEEPALIVE_MS 5000u
#define SVR_SILENCE_MS 20000u
#define SVR_CONNECT_TIMEOUT_MS 5000u
#define SVR_HELLO_TIMEOUT_MS 10000u       /* from TCP connect to the hub's answer */
#define SVR_LINE_MAX 1024
#define SVR_NAME_MAX 64

enum svr_state { SVR_OFF = 0, SVR_CONNECTING, SVR_TLS, SVR_HELLO, SVR_PEERED, SVR_BACKOFF, SVR__COUNT };
/* "off", "connecting", "tls", "hello", "peered", "backoff" */
const char *svr_state_name(enum svr_state s);

/* ---- pure parts ---- */

/* The hello line (newline included) into out. Returns its length, or -1 (bad name, too small). */
int svr_build_hello(const char *router, const char *node, const char *hub, char *out, size_t cap);

struct svr_answer {
    bool peered;                  /* "result": "peered" (else "refused") */
    char hub[SVR_NAME_MAX];
    char peer[2 * SVR_NAME_MAX];
    char reason[128];             /* refused: printable */
};
/* The hub's answer line (without the newline; a trailing '\r' is tolerated). 0 or -1 with err. */
int svr_parse_answer(const char *buf, size_t len, struct svr_answer *a, char *err, size_t errcap);
/* A keepalive echo {"keepalive":N}. 0 (and *n) or -1. */
int svr_parse_keepalive(const char *buf, size_t len, long long *n);

/* ---- the peering ---- */

struct svr_params {
    const char *hub;              /* "IPv4:PORT" (port default SVR_DEFAULT_PORT) */
    const char *hub_name, *router, *node;
    const char *cert_file;        /* the router certificate (PEM) */
    EVP_PKEY *key;                /* its private key, in memory (up-ref'd) */
    const char *anchors[4];       /* CA files to verify the hub with; NULL-terminated, missing files skipped */
};

/* An outcome of one attempt: peered, or a failure (klass, detail). */
typedef void (*svr_outcome_fn)(void *arg, bool peered, const char *klass, const char *detail);

struct svr_peer;
/* Start peering at once (connect now). NULL with err for bad parameters. */
struct svr_peer *svr_peer_start(int epfd, const struct svr_params *p, svr_outcome_fn fn, void *arg, uint64_t now_ms,
                                char *err, size_t errcap);
/* Close (no callback) and free. NULL is fine. */
void svr_peer_free(struct svr_peer *s);
/* Timers: connect/hello deadlines, keepalives, silence, backoff. */
void svr_peer_tick(struct svr_peer *s, uint64_t now_ms);
int svr_peer_next_timeout_ms(const struct svr_peer *s, uint64_t now_ms);
enum svr_state svr_peer_state(const struct svr_peer *s);
/* True when it peers with this hub address and names (the same svr-config). */
bool svr_peer_same(const struct svr_peer *s, const struct svr_params *p);
/* The "hub" object of `show conductor`. */
json_t *svr_peer_json(const struct svr_peer *s, uint64_t now_ms);

#endif
