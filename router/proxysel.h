/* Learned management proxies and the selection of the active one. Pure: no I/O, no logging, no
 * clock (callers pass `now`).
 *
 * The table holds one entry per (node, network-interface): what that interface's DHCP lease
 * carried in Option 43 sub-option 128, learned locally or received from the HA peer. Only a
 * valid IPv4:port ever enters it via proxysel_learn() (proxy_addr_parse() rules).
 *
 * Selection precedence (proxysel_select):
 *   1. config `management-proxy mode static` with at least one complete proxy (and not
 *      `enable false`) -> that proxy; several configured -> the lowest IPv4 as an integer, ties ->
 *      the lowest port (then the name). source "config-static".
 *   2. else an onboarding.json proxy while the router is NOT onboarded to a conductor -> it,
 *      whatever the management-proxy config. source "onboarding-json".
 *   3. else management-proxy enabled (mode learned) -> among all table entries (local and from
 *      the peer) whose network-interface may contribute (router_config_discovery_enabled(node,
 *      netif), checked here so a stale entry is ignored as soon as the config says false) and
 *      whose lease is not EXPIRED: the LOWEST integer IPv4 (ntohl compare: 192.168.10.10 beats
 *      192.168.10.11, 9.255.255.255 beats 10.0.0.0); ties -> lowest port, then node, then netif
 *      (strcmp), so both HA nodes pick the same entry. source "learned".
 *   4. else none, with a reason ("management-proxy disabled", "no proxy learned", ...).
 */
#ifndef SSR_PROXYSEL_H
#define SSR_PROXYSEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "onboarding.h"

#define PROXY_TABLE_MAX 64
#define PROXY_NODE_MAX 32
#define PROXY_NETIF_MAX 32
#define PROXY_IFNAME_MAX 16

/* DHCP lease state of the interface that learned the entry (as shown by show dhcp
 * learned-proxies). */
enum lease_state { LEASE_NONE = 0, LEASE_BOUND, LEASE_RENEWING, LEASE_REBINDING, LEASE_EXPIRED, LEASE__COUNT };
/* "none", "bound", "renewing", "rebinding", "expired" */
const char *lease_state_name(enum lease_state s);
/* Inverse of lease_state_name (for HA messages); LEASE_NONE and false when unknown. */
bool lease_state_from_name(const char *name, enum lease_state *out);

struct learned_proxy {
    char node[PROXY_NODE_MAX];
    char netif[PROXY_NETIF_MAX];
    char ifname[PROXY_IFNAME_MAX];
    struct in_addr addr;          /* network order */
    uint16_t port;                /* host order */
    enum lease_state lease;
    time_t learned_at;            /* last ACK that carried this value (local clock) */
    time_t expires_at;            /* lease expiry, local clock; 0 = never */
    bool from_peer;               /* received from the HA peer */
    time_t peer_seen_at;          /* last time the peer re-announced it (from_peer only) */
};

struct proxy_table {
    struct learned_proxy e[PROXY_TABLE_MAX];
    size_t n;
};

void proxy_table_init(struct proxy_table *t);

enum proxy_upsert {
    PROXY_UPSERT_NEW = 0,         /* no entry for (node, netif) before */
    PROXY_UPSERT_SAME = 1,        /* same address and port (times/state refreshed) */
    PROXY_UPSERT_CHANGED = 2,     /* address or port changed */
};
/* Insert or replace the entry for (p->node, p->netif). Names longer than the fields are refused.
 * Returns enum proxy_upsert, or -1 when the table is full or a name is empty/too long. */
int proxy_table_upsert(struct proxy_table *t, const struct learned_proxy *p);
/* Remove (node, netif). Returns 0, or -1 when absent. If `removed` is non-NULL the entry is
 * copied there. */
int proxy_table_remove(struct proxy_table *t, const char *node, const char *netif, struct learned_proxy *removed);
/* Remove every entry of `node` (e.g. the peer's full table is about to be replaced). Returns the
 * number removed. */
size_t proxy_table_remove_node(struct proxy_table *t, const char *node);
struct learned_proxy *proxy_table_find(struct proxy_table *t, const char *node, const char *netif);
/* Set the lease state of (node, netif). Returns 0, or -1 when absent. */
int proxy_table_set_lease(struct proxy_table *t, const char *node, const char *netif, enum lease_state s);

/* Drop entries whose lease expired (expires_at != 0 && expires_at <= now), and peer entries not
 * re-announced within `peer_timeout` seconds (now - peer_seen_at > peer_timeout). Up to
 * `max_dropped` dropped entries are copied to dropped[] (may be NULL) for logging. Returns the
 * number dropped. */
size_t proxy_table_expire(struct proxy_table *t, time_t now, time_t peer_timeout, struct learned_proxy *dropped,
                          size_t max_dropped);

/* Iteration: entries are t->e[0 .. t->n-1] in no particular order. This fills out[] with up to
 * `max` pointers sorted by node, then netif (for display); returns how many were stored. */
size_t proxy_table_sorted(const struct proxy_table *t, const struct learned_proxy **out, size_t max);

/* Learn from one DHCP ACK of (node, netif, ifname): `opt43`/`len` is the raw Option 43 value
 * (NULL/0 when the ACK had none). Sub-option 128 is found with dhcp_vendor_find() and validated
 * with proxy_addr_parse().
 *   >= 0  enum proxy_upsert: entry stored (local, lease BOUND, learned_at = now,
 *         expires_at = expires);
 *   -1    rejected: *why says why (no Option 43, no sub-option 128, malformed Option 43, or
 *         proxy_addr_parse()'s reason); the caller logs it (with log_quote() of the bytes).
 * In both the -1 cases the ACK is authoritative: an older entry for (node, netif) is removed
 * (the current lease carries no usable proxy); `had_old` (may be NULL) tells whether one was. */
int proxysel_learn(struct proxy_table *t, const char *node, const char *netif, const char *ifname,
                   const uint8_t *opt43, size_t len, time_t now, time_t expires, const char **why,
                   bool *had_old);

enum proxy_source { PROXY_SRC_NONE = 0, PROXY_SRC_CONFIG_STATIC, PROXY_SRC_ONBOARDING_JSON, PROXY_SRC_LEARNED };
/* "none", "config-static", "onboarding-json", "learned" */
const char *proxy_source_name(enum proxy_source s);

struct active_proxy {
    bool enabled;                 /* config management-proxy enabled (effective) */
    enum mgmt_proxy_mode mode;    /* config mode */
    enum proxy_source source;
    struct in_addr addr;          /* network order; 0 when none */
    uint16_t port;                /* host order; 0 when none */
    char name[RCFG_ROUTER_NAME_MAX];   /* config-static: the proxy NAME */
    char node[PROXY_NODE_MAX];    /* learned: where it came from */
    char netif[PROXY_NETIF_MAX];
    char ifname[PROXY_IFNAME_MAX];
    bool from_peer;               /* learned: entry received from the HA peer */
    char reason[96];              /* source none: why */
};

/* Compute the active proxy (precedence above). `ob` may be NULL (no onboarding.json); `t` may
 * be NULL (nothing learned). Returns 0 when a proxy is active, 1 when none (out->reason set). */
int proxysel_select(const struct router_config *cfg, const struct onboarding_info *ob, bool onboarded,
                    const struct proxy_table *t, struct active_proxy *out);

/* Same source, address, port and origin (to log a change once). */
bool active_proxy_equal(const struct active_proxy *a, const struct active_proxy *b);

/* "A:P" into buf (cap >= 22); returns buf. */
char *proxy_addr_format(struct in_addr a, uint16_t port, char *buf, size_t cap);

#endif
