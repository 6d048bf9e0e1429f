/* DHCPv4 client engine (RFC 2131): the pure state machine of one interface's DHCP client.
 *
 * No sockets, no clock, no threads: the I/O layer (dhcpc_io.h) feeds it parsed messages, the
 * current monotonic time in milliseconds and timer expiries; the engine answers through the
 * callbacks in struct dhcpc_ops. Unit tests drive it with canned OFFER/ACK/NAK messages and a fake
 * clock.
 *
 *   STOPPED --start--> INIT --(DISCOVER sent)--> SELECTING --OFFER--> REQUESTING --ACK--> BOUND
 *   BOUND --T1--> RENEWING (REQUEST unicast to the server, ciaddr set)
 *   RENEWING --T2--> REBINDING (REQUEST broadcast, ciaddr set)
 *   RENEWING/REBINDING --ACK--> BOUND (lease re-reported: the proxy is re-learned)
 *   REBINDING --expiry--> unbound(EXPIRED) --> INIT --> SELECTING
 *   REQUESTING/RENEWING/REBINDING --NAK--> unbound(NAK) when a lease was held --> INIT
 *   REQUESTING --no ACK after DHCPC_REQUEST_TRIES sends--> INIT
 *
 * Every state change goes through one transition function that logs
 *   event=dhcpc.state ifname=.. from=.. to=..
 *
 * What is sent (reproduces the product's trace; tcpdump prints "Subnet-Mask, Default-Gateway,
 * Domain-Name-Server, Vendor-Option" and "Vendor-Class (60), length 10: "JuniperSSR""):
 *   DISCOVER: 53, 61 = 01 + MAC (length 7), 55 = 01 03 06 2b, 60 = vendor class; flags 0 (no
 *             broadcast bit); the I/O layer pads the payload to DHCPC_PAD_TO (278) bytes.
 *   REQUEST (SELECTING/REQUESTING): 53, 54 = the offer's server id, 50 = the offered address,
 *             61, 55, 60; same xid as the DISCOVER; broadcast.
 *   REQUEST (RENEWING): ciaddr = leased address, no 50/54, 61, 55, 60; unicast to the server.
 *   REQUEST (REBINDING): same, broadcast.
 *   RELEASE (dhcpc_stop with release): ciaddr, 54, 61; unicast to the server.
 * The xid is random and new for each exchange (a new DISCOVER cycle, each RENEWING and REBINDING
 * period); retransmissions of one exchange keep it. `secs` counts seconds since the exchange began.
 *
 * Timing (all times are monotonic milliseconds supplied by the caller):
 *   SELECTING/REQUESTING retransmit after 1 s, 2 s, 4 s, 8 s, then every 8 s (DHCPC_RETRANS_*),
 *   each plus a random jitter of 0..10 %. REQUESTING gives up after DHCPC_REQUEST_TRIES sends.
 *   RENEWING/REBINDING retransmit after half the time left until T2 (resp. expiry), at least 1 s
 *   and at most 60 s, so short lab leases renew quickly and long real leases do not flood.
 *   After a NAK the next DISCOVER waits DHCPC_NAK_HOLDOFF_MS; after expiry it goes out at once.
 *   T1/T2 come from options 58/59 when sane (0 < T1 < T2 < lease), else 50 % / 87.5 % of the lease.
 *   A lease time of 0xffffffff is infinite: no T1, T2 or expiry.
 */
#ifndef SSR_DHCPC_H
#define SSR_DHCPC_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ztp/dhcp.h"

#define DHCPC_NEVER UINT64_MAX          /* "no deadline" for dhcpc_next_timeout() */
#define DHCPC_PAD_TO 278                /* DISCOVER UDP payload length in the product's trace */
#define DHCPC_RETRANS_MIN_MS 1000u
#define DHCPC_RETRANS_MAX_MS 8000u
#define DHCPC_RENEW_MIN_MS 1000u
#define DHCPC_RENEW_MAX_MS 60000u
#define DHCPC_REQUEST_TRIES 4
#define DHCPC_NAK_HOLDOFF_MS 1000u

enum dhcpc_state {
    DHCPC_STOPPED,      /* not started, or stopped: sends nothing, no timer */
    DHCPC_INIT,         /* about to send a DISCOVER (at the next timeout) */
    DHCPC_SELECTING,    /* DISCOVER sent, waiting for an OFFER */
    DHCPC_REQUESTING,   /* REQUEST for an offer sent, waiting for ACK/NAK */
    DHCPC_BOUND,        /* lease held, waiting for T1 */
    DHCPC_RENEWING,     /* T1 passed: unicast REQUESTs to the leasing server */
    DHCPC_REBINDING,    /* T2 passed: broadcast REQUESTs to any server */
    DHCPC_STATE__COUNT
};
/* "STOPPED", "INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING". */
const char *dhcpc_state_name(enum dhcpc_state s);

enum dhcpc_unbound_reason {
    DHCPC_UNBOUND_EXPIRED,  /* the lease ran out without a renewal */
    DHCPC_UNBOUND_NAK,      /* the server NAKed a renewal/rebinding */
    DHCPC_UNBOUND_STOPPED,  /* dhcpc_stop() while holding a lease */
    DHCPC_UNBOUND__COUNT
};
/* "expired", "nak", "stopped". */
const char *dhcpc_unbound_reason_name(enum dhcpc_unbound_reason r);

/* One lease, as reported to bound()/unbound(). Times are the caller's monotonic milliseconds. */
struct dhcpc_lease {
    struct in_addr addr;            /* yiaddr */
    struct in_addr mask;            /* option 1 (classful default when absent or not contiguous) */
    uint8_t prefixlen;              /* from mask */
    struct in_addr router;          /* first address of option 3; 0.0.0.0 when absent */
    bool have_router;
    struct in_addr dns[DHCP_MAX_ADDRS];
    uint8_t n_dns;                  /* option 6 */
    struct in_addr server_id;       /* option 54 of the ACK (or of the OFFER when the ACK lacks it) */
    uint32_t lease_time, t1, t2;    /* seconds (0xffffffff = infinite lease) */
    uint8_t vendor_opts[255];       /* option 43, raw bytes as received (hand to proxysel_learn()) */
    uint8_t vendor_opts_len;
    bool have_vendor_opts;          /* option 43 present (possibly with length 0) */
    uint8_t vendor_class[255];      /* option 60 echoed by the server (dnsmasq does), raw */
    uint8_t vendor_class_len;
    uint64_t acquired_at;           /* when the ACK arrived */
    uint64_t t1_at, t2_at, expires_at; /* absolute; DHCPC_NEVER for an infinite lease */
    unsigned renewals;              /* ACKs received for this address after the first one */
};

struct dhcpc;

/* Callbacks. `arg` is the pointer given to dhcpc_init(). */
struct dhcpc_ops {
    /* Send `m` (already complete: the I/O layer only encodes and frames it). broadcast=true: to
     * ff:ff:ff:ff:ff:ff / 255.255.255.255:67; otherwise unicast to dst:67. The IP source is
     * m->ciaddr (0.0.0.0 when unset). Returns 0 or -errno; a failure is logged by the engine and
     * the normal retransmission timer applies. */
    int (*send)(struct dhcpc *c, const struct dhcp_msg *m, bool broadcast, struct in_addr dst, void *arg);
    /* An ACK was accepted: apply/report `lease`. `prev` is the lease held before this ACK (same or
     * different address; NULL on a fresh bind). Called on every ACK, renewals included. */
    void (*bound)(struct dhcpc *c, const struct dhcpc_lease *lease, const struct dhcpc_lease *prev, void *arg);
    /* The lease `lease` is gone (only called when one was held): remove address/route, forget the
     * learned proxy. */
    void (*unbound)(struct dhcpc *c, const struct dhcpc_lease *lease, enum dhcpc_unbound_reason why, void *arg);
    /* Optional random source for xids and jitter; NULL = getrandom(2). Tests make it predictable. */
    uint32_t (*random)(void *arg);
};

struct dhcpc_config {
    char ifname[IF_NAMESIZE];       /* for logs only */
    uint8_t mac[6];                 /* chaddr and client-id (61 = 01 + mac) */
    char vendor_class[64];          /* option 60; "" = DHCP_VENDOR_CLASS_SSR ("JuniperSSR") */
};

/* The engine's state. Embed it (no allocation); fields are private: use the accessors. */
struct dhcpc {
    struct dhcpc_config cfg;
    const struct dhcpc_ops *ops;
    void *arg;
    enum dhcpc_state state;
    uint32_t xid;
    uint64_t exchange_start;        /* for `secs` */
    uint64_t deadline;              /* next timer, DHCPC_NEVER when none */
    unsigned tries;                 /* sends in the current exchange */
    struct in_addr offer_addr, offer_server;  /* REQUESTING */
    bool have_lease;
    struct dhcpc_lease lease;
};

/* Set up `c` in STOPPED. `ops` must outlive `c` (send, bound, unbound are required). */
void dhcpc_init(struct dhcpc *c, const struct dhcpc_config *cfg, const struct dhcpc_ops *ops, void *arg);
/* STOPPED -> INIT and send the first DISCOVER now (-> SELECTING). No-op when already started. */
void dhcpc_start(struct dhcpc *c, uint64_t now);
/* Back to STOPPED. When a lease is held: with `release`, a RELEASE is unicast to the server; then
 * unbound(STOPPED) is called. */
void dhcpc_stop(struct dhcpc *c, uint64_t now, bool release);
/* A parsed DHCP message arrived on the interface. Returns true when it was used, false when it
 * was ignored (not a BOOTREPLY, foreign xid or chaddr, wrong type for the state, incomplete);
 * ignored messages are logged at debug level. */
bool dhcpc_input(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now);
/* Run the timers due at `now` (retransmissions, T1, T2, expiry, INIT). Harmless when none is due. */
void dhcpc_timeout(struct dhcpc *c, uint64_t now);
/* Absolute time of the next timer, or DHCPC_NEVER. */
uint64_t dhcpc_next_timeout(const struct dhcpc *c);
/* Milliseconds from `now` until `deadline` for epoll_wait(): -1 for DHCPC_NEVER, 0 when due,
 * clamped to INT_MAX. */
int dhcpc_timeout_ms(uint64_t deadline, uint64_t now);

enum dhcpc_state dhcpc_get_state(const struct dhcpc *c);
/* The lease held (BOUND, RENEWING, REBINDING), or NULL. */
const struct dhcpc_lease *dhcpc_get_lease(const struct dhcpc *c);
const char *dhcpc_ifname(const struct dhcpc *c);

/* Prefix length of a contiguous netmask, or -1 when not contiguous. */
int dhcpc_mask_prefixlen(struct in_addr mask);

#endif
