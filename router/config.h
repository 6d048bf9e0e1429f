/* Router configuration in the SSR's own command syntax (one router per file).
 *
 * The file is a list of lines; words are separated by any amount of spaces/tabs; `#` starts a
 * comment (whole line or after the last word); blank lines are ignored. Every line starts with
 * `config authority router R` and the same R on every line. Accepted lines (R, N, D, NI, NAME are
 * names of at most RCFG_NAME_MAX-1 bytes; A is a strict dotted-quad IPv4; P is 1..65535):
 *
 *   management-proxy enable                      enabled (the doc's form)
 *   management-proxy enable true|false           the same, explicit; `enabled true|false` also accepted
 *   management-proxy mode static|learned         default: learned
 *   management-proxy proxy NAME address A        several NAMEs allowed (RCFG_MAX_PROXIES)
 *   management-proxy proxy NAME port P
 *   management-proxy username U                  proxy credentials (HTTP Basic), router-wide: sent
 *   management-proxy password P                  in CONNECT to whichever proxy is active (static,
 *                                                onboarding.json or learned). The product's syntax
 *                                                for proxy credentials is not in its documentation
 *                                                (searched: "Proxy Server Configuration",
 *                                                "Secure ZTP Onboarding Using a Mist Proxy"), so
 *                                                this lab's choice is these two lines. U: printable
 *                                                ASCII without ':' (RFC 7617); P: printable ASCII,
 *                                                one word, not starting with '#' (a comment).
 *                                                `password` without
 *                                                `username` is an error; `username` alone sends an
 *                                                empty password. The password is never logged nor
 *                                                shown (`show config` says password-set: true).
 *   network-interface NI enable-proxy-discovery true|false
 *                                                short form: every network-interface named NI, on
 *                                                any node (the HA pair shares one config)
 *   network-interface enable-proxy-discovery true|false
 *                                                the doc's literal form (no name): router-wide
 *                                                default for every network-interface
 *   node N                                       declares a node (optional)
 *   node N device-interface D                    declares a device-interface (optional)
 *   node N device-interface D target-interface IFNAME
 *                                                Linux interface of D (default: D itself)
 *   node N device-interface D network-interface NI
 *                                                declares a network-interface (optional)
 *   node N device-interface D network-interface NI dhcp v4|disabled
 *                                                `v4`: NI runs a DHCPv4 client on D's interface
 *   node N device-interface D network-interface NI enable-proxy-discovery true|false
 *
 * Effective values, resolved at the end of the file:
 *   - management-proxy is enabled when `enable` (true) was given, or when `mode static` was given
 *     without an explicit `enable false` (the doc's static example has no `enable` line). An
 *     explicit `enable false` always wins.
 *   - enable-proxy-discovery of one network-interface: its full-path setting, else the short-form
 *     setting for its name, else the router-wide setting, else true.
 *
 * Errors (the daemon refuses to start): "line N: reason", e.g.
 *   line 3: unknown keyword "managment-proxy"
 * for unknown keywords, missing or extra words, bad values (address: proxy_addr_parse() rules;
 * port 1..65535 decimal), names too long, a different router R, overflow of a bounded table, a
 * setting given twice with different values (the same value twice is fine). End-of-file checks report the line of the offending
 * statement: `mode static` without a complete proxy (address AND port), a proxy with an address
 * but no port (or a port but no address).
 */
#ifndef SSR_CONFIG_H
#define SSR_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCFG_NAME_MAX 32        /* node, device-interface, network-interface names (incl. NUL) */
#define RCFG_ROUTER_NAME_MAX 64 /* router and proxy names (incl. NUL) */
#define RCFG_IFNAME_MAX 16      /* Linux interface name (IFNAMSIZ) */
#define RCFG_MAX_PROXIES 16
#define RCFG_MAX_NODES 4
#define RCFG_MAX_DEVIFS 32
#define RCFG_MAX_NETIFS 32
#define RCFG_MAX_OVERRIDES 32   /* short-form `network-interface NI enable-proxy-discovery` lines */
#define RCFG_CRED_MAX 128       /* management-proxy username / password (incl. NUL) */

enum mgmt_proxy_mode { MGMT_PROXY_LEARNED = 0, MGMT_PROXY_STATIC = 1 };
/* "learned" / "static" */
const char *mgmt_proxy_mode_name(enum mgmt_proxy_mode m);

/* `management-proxy proxy NAME ...` */
struct rcfg_proxy {
    char name[RCFG_ROUTER_NAME_MAX];
    bool have_addr, have_port;
    struct in_addr addr;          /* network order */
    uint16_t port;                /* host order */
    unsigned line;                /* first line naming this proxy */
};

struct rcfg_devif {
    char node[RCFG_NAME_MAX];
    char name[RCFG_NAME_MAX];     /* device-interface D */
    char ifname[RCFG_IFNAME_MAX]; /* target-interface, default = name */
    bool have_target;
    unsigned line;
};

struct rcfg_netif {
    char node[RCFG_NAME_MAX];
    char devif[RCFG_NAME_MAX];
    char name[RCFG_NAME_MAX];     /* network-interface NI */
    char ifname[RCFG_IFNAME_MAX]; /* resolved Linux interface (the devif's target-interface) */
    bool dhcp;                    /* `dhcp v4` */
    bool discovery_set;           /* full-path enable-proxy-discovery given */
    bool discovery_cfg;           /* its value when discovery_set */
    bool discovery;               /* EFFECTIVE value (see the precedence above) */
    unsigned line;
};

/* Short form `network-interface NI enable-proxy-discovery X`. */
struct rcfg_netif_override {
    char name[RCFG_NAME_MAX];
    bool discovery;
    unsigned line;
};

struct router_config {
    char router[RCFG_ROUTER_NAME_MAX];   /* R, "" when the file had no statement */

    /* management-proxy */
    bool enabled;                 /* EFFECTIVE (see above) */
    bool enable_set;              /* an enable line was given ... */
    bool enable_cfg;              /* ... with this value */
    enum mgmt_proxy_mode mode;    /* default MGMT_PROXY_LEARNED */
    bool mode_set;
    unsigned mode_line;
    struct rcfg_proxy proxies[RCFG_MAX_PROXIES];
    size_t n_proxies;
    bool have_proxy_user, have_proxy_pass;  /* management-proxy username / password */
    char proxy_user[RCFG_CRED_MAX];
    char proxy_pass[RCFG_CRED_MAX];          /* a secret: never logged, never shown */
    unsigned proxy_user_line, proxy_pass_line;

    char nodes[RCFG_MAX_NODES][RCFG_NAME_MAX];
    size_t n_nodes;
    struct rcfg_devif devifs[RCFG_MAX_DEVIFS];
    size_t n_devifs;
    struct rcfg_netif netifs[RCFG_MAX_NETIFS];
    size_t n_netifs;
    struct rcfg_netif_override overrides[RCFG_MAX_OVERRIDES];
    size_t n_overrides;
    bool discovery_default_set;   /* `network-interface enable-proxy-discovery X` (no name) */
    bool discovery_default;
};

/* Parse `len` bytes (need not be NUL-terminated; an embedded NUL is an error). Fills *out (zeroed
 * first). Returns 0, or -1 with a "line N: reason" message in err (NUL-terminated, truncated to
 * errcap). Pure: no I/O, no logging. */
int router_config_parse(const char *buf, size_t len, struct router_config *out, char *err, size_t errcap);

/* Read `path` (at most 1 MiB) and parse it. On error err holds "PATH: reason" or
 * "PATH: line N: reason". Returns 0 or -1. */
int router_config_load(const char *path, struct router_config *out, char *err, size_t errcap);

/* ---- lookups (NULL when absent) ---- */

/* First network-interface named `netif` (on any node). */
const struct rcfg_netif *router_config_find_netif(const struct router_config *c, const char *netif);
/* The network-interface `netif` of node `node`. */
const struct rcfg_netif *router_config_find_netif_on(const struct router_config *c, const char *node,
                                                     const char *netif);
/* The network-interface of node `node` on Linux interface `ifname` (a DHCP one first, when
 * several network-interfaces share the device-interface). */
const struct rcfg_netif *router_config_find_netif_by_ifname(const struct router_config *c, const char *node,
                                                            const char *ifname);
/* The management-proxy proxy named `name`. */
const struct rcfg_proxy *router_config_find_proxy(const struct router_config *c, const char *name);

/* May network-interface `netif` of node `node` contribute a learned proxy? Uses the effective
 * value when the interface is declared for that node; for an undeclared one (e.g. an HA peer's
 * interface absent from this file) falls back to the short-form setting for the name, then the
 * router-wide setting, then true. `node` may be NULL (name-only lookup). */
bool router_config_discovery_enabled(const struct router_config *c, const char *node, const char *netif);

/* The network-interfaces of node `node` configured with `dhcp v4`, in file order: up to `max`
 * pointers into *c are stored in out[]; returns how many exist (may be > max). */
size_t router_config_dhcp_netifs(const struct router_config *c, const char *node, const struct rcfg_netif **out,
                                 size_t max);

#endif
