/* HA sync between the two nodes of one router.
 *
 * Each node sends its LOCAL learned proxies to its peer node over the HA link as one UDP datagram
 * (from --ha-listen to --ha-peer) holding a JSON object:
 *
 *   {"v":1,"type":"ha.sync","router":"R","node":"r1a","instance":3735928559,"seq":42,
 *    "entries":[{"network-interface":"wan1","device-interface":"wan1dev","ifname":"wan1",
 *                "address":"198.18.10.10","port":3128,"lease-state":"bound",
 *                "lease-remaining":117,"age":3}]}
 *
 * A datagram goes out on every change of the local entries and as a heartbeat every second.
 * `instance` is random per process start and `seq` counts up within it, so a restarted peer is
 * accepted at once while a reordered or duplicated datagram of the same instance is dropped.
 * `lease-remaining` is the seconds left on the DHCP lease that carried the proxy (the receiver
 * expires the entry then; HA_MAX_LEASE_S means an infinite lease), `age` the seconds since it
 * was learned (for `show`), `lease-state` the sender's lease state (for `show`; optional).
 *
 * The receiver replaces every entry of that peer node with the datagram's entries and records
 * when it heard the peer; a peer silent for the HA timeout (default 3 s) has its entries dropped.
 * A datagram that is oversize, not JSON, of another router, carrying our own node name, or
 * otherwise malformed is logged (values quoted) and dropped.
 *
 * ha_encode()/ha_decode() are pure functions over buffers; struct ha adds the socket and the
 * peer bookkeeping; the caller (node.c) owns the learned-proxy table.
 */
#ifndef SSR_HA_H
#define SSR_HA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HA_VERSION 1
#define HA_MAX_DATAGRAM 8192   /* larger datagrams are dropped unread */
#define HA_MAX_ENTRIES 32
#define HA_NAME_MAX 64         /* names: 1..63 printable ASCII bytes, no space, quote, backslash, '=' */
#define HA_IFNAME_MAX 16       /* IFNAMSIZ */
#define HA_LEASE_MAX 16        /* 1..15 bytes of [a-z] */
#define HA_DEFAULT_TIMEOUT_MS 3000
#define HA_HEARTBEAT_MS 1000     /* at most; a third of the timeout when that is shorter (>= 50 ms) */
#define HA_HEARTBEAT_MIN_MS 50
#define HA_MAX_LEASE_S 0x7fffffffu

struct ha_entry {
    char netif[HA_NAME_MAX];       /* network-interface */
    char device[HA_NAME_MAX];      /* device-interface ("" when unknown) */
    char ifname[HA_IFNAME_MAX];    /* Linux interface name ("" when unknown) */
    struct in_addr addr;
    uint16_t port;
    uint32_t lease_remaining;      /* seconds */
    uint32_t age;                  /* seconds since learned */
    char lease[HA_LEASE_MAX];      /* lease state name ("bound", "renewing", ...), "" = unknown */
};

struct ha_msg {
    char router[HA_NAME_MAX];
    char node[HA_NAME_MAX];
    uint32_t instance;
    uint64_t seq;
    size_t n;
    struct ha_entry e[HA_MAX_ENTRIES];
};

/* A name as accepted on the HA link: 1..63 printable ASCII bytes without space, quote, backslash or '='
 * (safe to print unquoted in a log line). */
bool ha_name_ok(const char *s, size_t len);

/* Encode *m as a JSON datagram into buf (not NUL-terminated). Returns its length, or -1 when it
 * does not fit in `cap` or *m is invalid (bad names, too many entries). */
ssize_t ha_encode(const struct ha_msg *m, char *buf, size_t cap);

/* Decode `len` bytes. Fills *out and returns 0, or returns -1 with *why set to a short static
 * reason ("oversize", "not JSON", "missing router", ...). Never reads past len. Unknown keys are
 * ignored (forward compatibility); every known key is type- and range-checked. */
int ha_decode(const void *buf, size_t len, struct ha_msg *out, const char **why);

struct ha_peer {
    bool known;                    /* heard at least once since start / since the last timeout */
    char node[HA_NAME_MAX];
    uint32_t instance;
    uint64_t seq;
    uint64_t seen_at_ms;           /* monotonic ms of the last accepted datagram */
    uint64_t datagrams, dropped;
};

struct ha {
    int fd;                        /* UDP socket, -1 when HA is off */
    bool own_fd;
    char router[HA_NAME_MAX];
    char node[HA_NAME_MAX];
    char expect_peer[HA_NAME_MAX]; /* "" = any other node name of this router */
    struct sockaddr_in listen_sa, peer_sa;
    bool have_peer_sa;             /* false for a connected socket (socketpair in tests) */
    uint32_t instance;
    uint64_t seq;
    unsigned timeout_ms;           /* the peer is down after this long without a datagram */
    unsigned heartbeat_ms;         /* datagrams at least this often */
    uint64_t next_send_ms;         /* next heartbeat */
    uint64_t sent, send_errors;
    struct ha_peer peer;
};

/* Parse "A.B.C.D:PORT" (strict) into *sa. Returns 0 or -1. */
int ha_parse_endpoint(const char *s, struct sockaddr_in *sa);

/* Set up *h without a socket (fd = -1): names, timeout (0 = default), random instance. */
void ha_init(struct ha *h, const char *router, const char *node, unsigned timeout_ms);
/* Open a non-blocking UDP socket bound to `listen`, sending to `peer`. Returns 0 or -errno. */
int ha_open(struct ha *h, const struct sockaddr_in *listen, const struct sockaddr_in *peer);
/* Use an already connected datagram socket (tests: socketpair(AF_UNIX, SOCK_DGRAM)). */
void ha_attach_fd(struct ha *h, int fd);
void ha_close(struct ha *h);

/* Send the local entries now (seq+1) and schedule the next heartbeat. Returns 0 or -errno (logged
 * at debug level: an absent peer is normal). */
int ha_send(struct ha *h, const struct ha_entry *e, size_t n, uint64_t now_ms);
/* True when a heartbeat is due. */
bool ha_send_due(const struct ha *h, uint64_t now_ms);

/* Check a decoded message against our router/node and the peer's instance/seq; on success record
 * the peer as seen at now_ms and return 0. Returns -1 with *why on a message to drop. */
int ha_accept(struct ha *h, const struct ha_msg *m, uint64_t now_ms, const char **why);

/* Read one datagram from h->fd: decode + accept. Returns 1 with *out filled for an accepted
 * message, 0 when a datagram was dropped (logged), -EAGAIN when nothing is queued, other -errno
 * on socket errors. */
int ha_receive(struct ha *h, struct ha_msg *out, uint64_t now_ms);

/* True (once) when the known peer has been silent for the timeout: the caller drops its entries.
 * The peer is then unknown until it is heard again. */
bool ha_peer_timed_out(struct ha *h, uint64_t now_ms);

/* Milliseconds until the next thing ha needs (heartbeat or peer timeout), for epoll_wait. */
int64_t ha_next_timeout_ms(const struct ha *h, uint64_t now_ms);

#endif
