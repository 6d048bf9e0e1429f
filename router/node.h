/* Runtime state of one router node (ssr-node): the configuration, the onboarding data, one DHCP
 * client per `dhcp v4` network-interface of this node, the learned-proxy table (local entries and
 * the HA peer's), the HA link, and the active management proxy.
 *
 * Every change (a DHCP ACK or loss, an HA update, a peer timeout, a lease expiry) ends in
 * node_reselect(), which recomputes the active proxy with proxysel_select() and logs
 *   event=proxy.selected   (the first selection after start)
 *   event=proxy.changed    old=A:P|none new=A:P|none source=... origin=... cause=...
 * Local changes are sent to the HA peer at once (and every second as a heartbeat). A change also
 * restarts phone-home (phonehome.h) through the new proxy; HTTPS requests already under way keep
 * the proxy they started with, new ones use the new one (https.h).
 *
 * Clocks: the DHCP client and HA use CLOCK_MONOTONIC milliseconds (dhcpc_now_ms()); the learned
 * table uses wall-clock seconds (time()) for learned_at/expires_at, as shown to the operator.
 * Every node_* function that needs time takes both (`now_ms`, `now`) so tests can drive it.
 *
 * The event loop (ssr-node.c) is single-threaded: fds are registered in one epoll set with
 * data.ptr pointing to a struct node_ev embedded in the owner.
 */
#ifndef SSR_NODE_H
#define SSR_NODE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conductor.h"
#include "config.h"
#include "dhcpc_io.h"
#include "ha.h"
#include "onboarding.h"
#include "phonehome.h"
#include "proxysel.h"
#include "sztp.h"

/* An epoll registration: data.ptr of the event points to one of these. */
struct node_ev {
    void (*fn)(struct node_ev *ev, uint32_t events);
};

struct node;

/* One `dhcp v4` network-interface of this node. */
struct node_netif {
    struct node *node;
    const struct rcfg_netif *cfg;  /* points into node->cfg */
    struct dhcpc_io *io;           /* NULL until started (and in unit tests) */
    struct node_ev ev;
    enum lease_state lease;        /* last lease state seen (for the table and show) */
    char last_event[96];           /* last proxy outcome for show ("learned", "rejected: ...") */
    time_t last_event_at;
};

struct node_options {
    const char *config_path;
    const char *node_name;
    const char *onboarding_path;   /* NULL: none */
    const char *state_dir;         /* NULL: no persisted state (not onboarded) */
    const char *ctl_path;
    const char *ha_listen;         /* "IP:PORT" or NULL */
    const char *ha_peer;
    unsigned ha_timeout_ms;        /* 0 = HA_DEFAULT_TIMEOUT_MS */
    bool dhcp_apply;               /* configure address/route on bound (default true) */
    const char *phone_home_url;    /* --phone-home-url: NULL = phone-home off */
    const char *mist_ca;           /* --mist-ca: the Mist root CA; NULL = system store */
    bool sztp;                     /* --sztp: the sZTP state machine (sztp.h) instead of phone-home */
    const char *device_id;         /* --device-id */
    const char *tpm;               /* --tpm TCTI */
    enum sztp_fault sztp_fault;    /* --sztp-fault NAME (lab fault switch) */
    enum cond_fault cond_fault;    /* --conductor-fault NAME (lab fault switch) */
    /* --sztp timers, 0 = the product's default: --request-timeout (sZTP and conductor requests),
     * --retry-backoff MIN[,MAX] (both clients' backoff), --task-poll (the staging task poll) */
    unsigned request_timeout_ms, retry_backoff_min_ms, retry_backoff_max_ms, task_poll_ms;
};

struct node {
    struct router_config cfg;
    char name[RCFG_NAME_MAX];
    char config_path[PATH_MAX];
    char onboarding_path[PATH_MAX];   /* "" when none */
    char state_dir[PATH_MAX];         /* "" when none */
    char ctl_path[PATH_MAX];
    bool have_onboarding;             /* onboarding.json present and parsed */
    struct onboarding_info ob;
    struct onboarding_state obst;

    struct node_netif netifs[RCFG_MAX_NETIFS];
    size_t n_netifs;

    struct proxy_table table;
    struct active_proxy active;
    bool selected_once;
    time_t active_since;
    unsigned changes;                 /* proxy.changed count */

    struct ha ha;
    struct node_ev ha_ev;
    bool ha_enabled;
    char ha_listen[32], ha_peer[32];
    bool local_dirty;                 /* local entries changed: send to the peer now */
    bool peer_was_up;
    uint32_t peer_instance;

    bool dhcp_apply;
    time_t started_at;
    uint64_t started_ms;

    struct phonehome ph;              /* phone-home through the active proxy (phonehome.h) */
    struct sztp sztp;                 /* --sztp: the sZTP client (sztp.h); replaces ph */
    struct conductor cond;            /* --sztp: the conductor client after sZTP (conductor.h) */
    int epfd;                         /* the event loop's, -1 until started (unit tests) */
};

/* Load and check everything named in *opt (config, onboarding.json, persisted state, node name,
 * HA endpoints); no socket is opened. Returns 0, or -1 with one line in err (the config's
 * "PATH: line N: reason", "onboarding.json ...: reason", "--node X: ...", ...). */
int node_load(struct node *n, const struct node_options *opt, char *err, size_t errcap);

/* Set up *n from an already parsed config (unit tests). `ob` may be NULL. No I/O. */
void node_init_from(struct node *n, const struct router_config *cfg, const char *node_name,
                    const struct onboarding_info *ob, bool onboarded);

/* Log event=node.start with the config summary. */
void node_log_summary(const struct node *n);

/* Open the HA socket (when configured) and register it in epfd. Returns 0 or -errno (logged). */
int node_start_ha(struct node *n, int epfd);
/* Open a DHCP client on each `dhcp v4` network-interface, register it in epfd and start it.
 * Returns 0 or -errno of the first failure (logged with the interface). */
int node_start_dhcp(struct node *n, int epfd, uint64_t now_ms);
/* Start phone-home (when --phone-home-url was given): requests go through the active proxy and
 * are registered in epfd; every later change of the active proxy restarts it. */
void node_start_phonehome(struct node *n, int epfd, uint64_t now_ms);
/* Stop the DHCP clients (no RELEASE: addresses stay, like dhclient on exit), phone-home, and close HA. */
void node_stop(struct node *n);

/* ---- events (also the seams the unit tests use) ---- */

/* A DHCP ACK on network-interface `nif`: learn (or drop) its proxy from the raw Option 43 bytes
 * (`opt43` NULL when the ACK had none), lease expiring at wall-clock `expires` (0 = never). */
void node_dhcp_bound(struct node *n, struct node_netif *nif, const uint8_t *opt43, size_t len, time_t expires,
                     bool renewal, time_t now);
/* The lease of `nif` is gone (`why`: "expired", "nak", "stopped"): drop its entry. */
void node_dhcp_unbound(struct node *n, struct node_netif *nif, const char *why, time_t now);
/* An accepted HA message from the peer: replace the peer's entries. */
void node_ha_input(struct node *n, const struct ha_msg *m, uint64_t now_ms, time_t now);
/* Timers: lease-state sync from the DHCP clients, table expiry, peer timeout, HA heartbeat and
 * sending local changes. Call after every wake-up. */
void node_tick(struct node *n, uint64_t now_ms, time_t now);
/* Milliseconds until node_tick() must run again (for epoll_wait), at most 1000. */
int node_next_timeout_ms(const struct node *n, uint64_t now_ms);

/* SIGHUP: re-read the config file. The management-proxy statements (enable, mode, proxies,
 * username/password) and the enable-proxy-discovery settings apply at once (then node_reselect);
 * a change of the router name, the nodes or the interfaces (device-/network-interfaces, dhcp)
 * needs a restart and is only reported. A file with an error changes nothing. Logs
 * event=config.reload result=ok|kept-old [error=...] [restart_needed=...]. Returns 0 or -1. */
int node_reload_config(struct node *n);

/* Recompute the active proxy; logs proxy.selected / proxy.changed. Returns true when it changed. */
bool node_reselect(struct node *n, const char *cause);

/* The local entries as HA entries (for ha_send). Returns the count (<= max). */
size_t node_ha_entries(const struct node *n, struct ha_entry *out, size_t max, time_t now);

/* The network-interface of this node named `netif` with a DHCP client, or NULL. */
struct node_netif *node_find_netif(struct node *n, const char *netif);

/* "learned on node N network-interface NI (local|peer)", "config proxy NAME", "onboarding.json",
 * "none: REASON" into buf. Returns buf. */
char *node_source_text(const struct active_proxy *a, char *buf, size_t cap);

#endif
