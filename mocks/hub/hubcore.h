/* mock-hub: the pure part (no sockets, no TLS, no clock). The configuration, the hello line, the
 * peering decision, the lines after peering, the answers, the state file body. Every parser takes
 * (buf, len), never reads past len, and returns -1 with one line in err for anything malformed.
 * The wire is in mocks/hub/README.md. */
#ifndef MOCK_HUB_HUBCORE_H
#define MOCK_HUB_HUBCORE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "ztp/pki.h"
#include "ztp/psk.h"

#define HUB_DEFAULT_PORT 1280
#define HUB_LINE_MAX 1024              /* longest line accepted from a peer, newline excluded */
#define HUB_NAME_CAP (PSK_NAME_MAX + 1)
#define HUB_CONFIG_MAX (4 * 1024 * 1024)
#define HUB_DEFAULT_IDLE 30            /* seconds without a keepalive before a peered link is cut */
#define HUB_DEFAULT_HELLO 10           /* seconds from accept to a complete hello (TLS handshake included) */
#define HUB_DEFAULT_MAX_CONN 1024

struct hub_peer {
    char identity[PKI_IDENTITY_MAX];   /* "R1.r1a", the certificate CN */
    char router[HUB_NAME_CAP];
    char node[HUB_NAME_CAP];
};

struct hub_config {
    char hub_name[HUB_NAME_CAP];
    struct hub_peer *peers;
    size_t n_peers;
    unsigned idle_timeout;             /* seconds */
    unsigned hello_timeout;            /* seconds */
    unsigned max_connections;
};

/* The JSON configuration (unknown keys refused, duplicate keys refused):
 *   {"hub-name": "hub1", "peers": {"R1.r1a": {"router": "R1", "node": "r1a"}},
 *    "idle-timeout": 30, "hello-timeout": 10, "max-connections": 1024}
 * A peer's key must be its identity ROUTER.NODE. 0, or -1 with err (cfg untouched then). */
int hub_config_parse(const char *buf, size_t len, struct hub_config *cfg, char *err, size_t cap);
int hub_config_load(const char *path, struct hub_config *cfg, char *err, size_t cap);
void hub_config_free(struct hub_config *cfg);
/* The configured peer with exactly this router and node, or NULL. */
const struct hub_peer *hub_config_find(const struct hub_config *cfg, const char *router, const char *node);
const struct hub_peer *hub_config_find_identity(const struct hub_config *cfg, const char *identity);

/* The router's first line (newline excluded; one trailing '\r' tolerated):
 *   {"hello":"svr","router":"R1","node":"r1a","hub":"hub1"}
 * every member required, a string, names as psk_name_ok(); no other member. 0 / -1 with err. */
struct hub_hello {
    char router[HUB_NAME_CAP];
    char node[HUB_NAME_CAP];
    char hub[HUB_NAME_CAP];
};
int hub_hello_parse(const void *buf, size_t len, struct hub_hello *h, char *err, size_t cap);

/* Why a connection was refused (svr.refused reason=) or a peered link closed (svr.closed reason=). */
enum hub_reason {
    HUB_OK,
    /* refusals (the ones after the TLS handshake are also sent to the peer) */
    HUB_R_TOO_MANY,                    /* max-connections reached: closed at accept */
    HUB_R_TLS_HANDSHAKE,               /* no certificate, not chained to --client-ca, protocol error */
    HUB_R_HANDSHAKE_TIMEOUT,
    HUB_R_HELLO_TIMEOUT,
    HUB_R_HELLO_TOO_LONG,
    HUB_R_HELLO_MISSING,               /* the peer closed before a complete hello */
    HUB_R_BAD_HELLO,
    HUB_R_NO_IDENTITY,                 /* the certificate names no ROUTER.NODE */
    HUB_R_IDENTITY_MISMATCH,           /* certificate identity != hello router.node */
    HUB_R_UNKNOWN_PEER,                /* not a configured peer */
    HUB_R_WRONG_HUB,                   /* hello names another hub */
    HUB_R_BAD_CERTIFICATE,             /* pki_cert_check refused the certificate (e.g. its SAN) */
    /* why a peered link ended */
    HUB_C_PEER_CLOSED,
    HUB_C_IDLE_TIMEOUT,
    HUB_C_REPLACED,
    HUB_C_LINE_TOO_LONG,
    HUB_C_SLOW_PEER,
    HUB_C_TLS_ERROR,
    HUB_C_CONFIG_REMOVED,
    HUB_C_SHUTDOWN,
    HUB_REASON_COUNT
};
const char *hub_reason_name(enum hub_reason r);

/* The peering decision, in this order: no certificate identity -> no-identity; identity !=
 * hello router.node -> identity-mismatch; (router, node) not configured -> unknown-peer; hub !=
 * the configured hub-name -> wrong-hub. HUB_OK sets *peer. detail gets one line for the log. */
enum hub_reason hub_decide(const struct hub_config *cfg, const char *cert_identity, const struct hub_hello *h,
                           const struct hub_peer **peer, char *detail, size_t cap);

/* A line after peering: {"keepalive": N}, N an integer >= 0, nothing else. 0 / -1 with err. */
int hub_keepalive_parse(const void *buf, size_t len, long long *n, char *err, size_t cap);

/* The answer lines, newline included, NUL-terminated. Return the length, or -1 when out is too small. */
int hub_answer_peered(const char *hub_name, const char *peer, char *out, size_t cap);
int hub_answer_refused(enum hub_reason r, char *out, size_t cap);
int hub_answer_keepalive(long long n, char *out, size_t cap);

/* The state file: {"hub": NAME, "peers": {"R1.r1a": {"state": "peered"|"down", "since": ISO, "addr": A}}}
 * ("addr" absent for a peer never seen). Returns a malloc'd NUL-terminated string, or NULL. */
enum hub_peer_state { HUB_PEER_DOWN, HUB_PEER_PEERED };
struct hub_peer_status {
    char identity[PKI_IDENTITY_MAX];
    enum hub_peer_state state;
    time_t since;                      /* wall clock */
    char addr[64];                     /* "" when never seen */
};
char *hub_state_json(const char *hub_name, const struct hub_peer_status *p, size_t n);

/* "2026-11-23T13:40:01Z" (UTC). Returns out. */
char *hub_iso_time(time_t t, char *out, size_t cap);

/* "IP:PORT", "IP" (port 1280), "[IPv6]:PORT" or "[IPv6]". 0 / -1. */
int hub_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen);

#endif
