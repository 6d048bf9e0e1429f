/* Scenario files: scenarios/NAME.yaml, parsed into a struct scenario.
 *
 * PARSER
 *   libyaml's document loader builds the node tree (every node keeps its line); a table-driven
 *   schema in scenario.c walks it. libcyaml was tried first: its errors name the enclosing mapping's
 *   line for an unknown key and its output keeps no positions, so the semantic checks (an unknown
 *   segment, an address outside the lab's range, an HA peer that is not a router node) could not
 *   name a line. Every error is ONE line:
 *       scenarios/learned.yaml:14: hosts.r1a.interfaces[0].segment: unknown segment "mpls-x"
 *   i.e. FILE:LINE: FIELD: what is wrong. Unknown keys, duplicate keys, wrong types and missing
 *   required fields are errors; nothing is silently ignored.
 *
 * THE FORMAT (a complete example: scenarios/learned.yaml; every key: scenarios/README.md)
 *   name: learned                  # must equal the file name without .yaml
 *   description: one line for `lab list`
 *   timeout: 20                    # seconds for the whole run (default 20)
 *   segments:                      # a bridge (default) or a point-to-point link
 *     mpls: {}                     # {loss: 20}: the bridge drops 20 % of the frames (nftables)
 *     ha: {kind: link}
 *   hosts:
 *     NAME:
 *       kind: ssr-node | dhcp-server | proxy | ep-terminator | mist | conductor | hub
 *       impl: mock (default) | dnsmasq | kea (dhcp-server) | squid | tinyproxy (proxy)
 *       interfaces: [{name: eth0, segment: mpls, address: 198.18.1.1/24, mac: .., dhcp: true}]
 *       routes: [{to: 198.18.2.0/24, via: 198.18.1.1}]
 *       forwarding: true           # route between its interfaces (an MPLS PE)
 *       autostart: false           # not started at setup: a step's start: starts it
 *       ... kind-specific keys (router/node/config/onboarding/ha/device-id..., pools, proxy,
 *           port/names/environment/ca... of the Mist mocks, role/port/ca/faults of a conductor,
 *           port/hub-name of the hub), see scenarios/README.md
 *   steps:                         # optional, in order: actions then expectations
 *     - name: r1b goes away
 *       stop: r1b                  # also start, kill (SIGKILL), set-proxy, proxy-fault, link-down/up, write, claim
 *       expect: {r1a: {active-proxy: 198.18.1.11:3128}}
 *     - name: killed once certified
 *       when: {r1a: certified}     # the actions wait for it; or {HOST: {logged: REGEX}}
 *       kill: r1a
 *       start: r1a
 *   triggers:                      # optional: each fires once, whenever its condition holds
 *     - {name: x, when: {r1b: key-created}, kill: r1b, start: r1b}
 *   expect:                        # the final state (the last step)
 *     r1a: {active-proxy: 198.18.1.8:3128, proxy-source: learned, phone-home: ok}
 *     proxy1: {carried: [r1a]}
 *
 * Everything is allocated in the scenario's arena: scenario_free() releases it all.
 */
#ifndef LAB_SCENARIO_H
#define LAB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#define SCN_DEFAULT_TIMEOUT 20.0
#define SCN_DEFAULT_ROUTER "R1"
#define SCN_DEFAULT_PROXY_PORT 3128
#define SCN_DEFAULT_HTTPS_PORT 443
#define SCN_DEFAULT_LEASE 6000
#define SCN_DEFAULT_VENDOR_CLASS "JuniperSSR"
#define SCN_MIST_NAME "ep-terminator.mistsys.net"     /* the EP terminator's default name */
#define SCN_HA_PORT 12931
/* The Mist mocks (ep-terminator, mist) and the router nodes' sZTP keys */
#define SCN_DEFAULT_ENVIRONMENT "production"
#define SCN_DEFAULT_ORG "ztp-lab"
#define SCN_DEFAULT_RETRY_AFTER 1                      /* s; the mock's own default is 10 */
#define SCN_DEFAULT_MAX_FAILURES 5
#define SCN_DEFAULT_LOCKOUT 60
#define SCN_DEFAULT_CHALLENGE_TTL 30
#define SCN_DEFAULT_CONDUCTOR "198.18.5.10:930"        /* placeholder when the scenario has no staging conductor */
#define SCN_CONDUCTOR_PORT 930                         /* the product's conductor port */
#define SCN_HUB_PORT 1280                              /* mock-hub's SVR peering port */
#define SCN_OCRA_SUITE "OCRA-1:HOTP-SHA256-8:QA08"
#define SCN_OCRA_KEY_LEN 32                            /* bytes */

enum scn_seg_kind { SCN_SEG_BRIDGE, SCN_SEG_LINK };

enum scn_kind {
    SCN_SSR_NODE,
    SCN_DHCP_SERVER,
    SCN_PROXY,
    SCN_EP_TERMINATOR,
    SCN_MIST,
    SCN_CONDUCTOR,
    SCN_HUB,
    SCN_KIND_COUNT
};

enum scn_cond_role { SCN_ROLE_STAGING, SCN_ROLE_PRODUCTION };

enum scn_impl {
    SCN_IMPL_MOCK,
    SCN_IMPL_DNSMASQ,
    SCN_IMPL_KEA,
    SCN_IMPL_SQUID,
    SCN_IMPL_TINYPROXY,
    SCN_IMPL_COUNT
};

const char *scn_kind_name(enum scn_kind k);
const char *scn_impl_name(enum scn_impl i);

struct scn_segment {
    const char *name;
    enum scn_seg_kind kind;
    unsigned loss;                /* percent of the frames the bridge drops at random (nftables), 0 = none */
    unsigned n_attached;          /* interfaces on it (filled by the checks) */
    int line;
};

struct scn_iface {
    const char *name;             /* interface name inside the host */
    const char *segment;
    const char *address;          /* "a.b.c.d/len" or NULL */
    const char *mac;              /* or NULL (random) */
    bool dhcp;                    /* router interface addressed by its DHCP client */
    bool down;                    /* starts with its link down (link: down); a step's link-up raises it */
    int line;
};

struct scn_route {
    const char *to;               /* "default" or CIDR */
    const char *via;              /* gateway or NULL */
    const char *dev;              /* interface or NULL */
    int line;
};

struct scn_pool {
    const char *interface;        /* the server's interface the pool serves */
    const char *range;            /* "A-B" */
    const char *gateway;          /* Option 3; NULL = the server's address; "none" = no Option 3 */
    unsigned lease_time;
    unsigned t1, t2;              /* 0 = not sent */
    const char *proxy;            /* Option 43 sub-option 128 value sent verbatim, NULL = none */
    const char *vendor_class;
    bool option43_end;
    /* derived by the checks */
    const char *server;           /* the interface's address, without /len */
    const char *netmask;          /* dotted */
    const char *subnet;           /* "a.b.c.0/len" */
    int line;
};

struct scn_user {
    const char *name;
    const char *password;         /* a secret: never in any log (checked) */
};

/* A fault switch of mock-proxy ("refuse_all": "403", "delay_200_ms": 500 ...). */
struct scn_kv {
    const char *key;
    const char *value;
    bool quoted;                  /* written quoted in the file: always a string */
};

struct scn_proxy {
    unsigned port;
    const char **allow;           /* client CIDRs allowed (default: 198.18.0.0/15) */
    size_t n_allow;
    const char **deny;            /* destination host names refused with 403 */
    size_t n_deny;
    struct scn_user *users;       /* non-empty: Basic authentication required */
    size_t n_users;
    struct scn_kv *faults;        /* mock-proxy fault switches at start */
    size_t n_faults;
    unsigned *ssl_ports;          /* ssl-ports: CONNECT allowed only to these (mock-proxy); none = 443 and
                                   * every port of the scenario's servers */
    size_t n_ssl_ports;
};

/* ep-terminator (mock-ep-terminator) and mist (mock-mist): the lab's Mist cloud. */
struct scn_cloud {
    unsigned port;                /* 443 */
    const char **names;           /* in its certificate and every hosts file; names[0] is the one used in URLs */
    size_t n_names;
    const char *environment;      /* the environment it serves (default production) */
    bool untrusted;               /* ca: untrusted: its certificate comes from a rogue CA the nodes do not trust */
    unsigned retry_after;         /* ep-terminator: Retry-After for an unclaimed device, seconds */
    unsigned max_failures;        /* mist: failed verifications in a row that lock a device */
    unsigned lockout_seconds;     /* mist */
    unsigned challenge_ttl;       /* mist */
    const char *conductor;        /* mist: the onboarding data's conductor "A:P" (default: the staging
                                   * conductor's address:port, else SCN_DEFAULT_CONDUCTOR) */
};

/* conductor (mock-conductor): the staging or the production conductor (at most one of each). */
struct scn_conductor {
    enum scn_cond_role role;
    unsigned port;                /* 930 */
    bool untrusted;               /* ca: untrusted: its server certificate comes from a CA the nodes do not trust */
    bool reject_secret;           /* faults (mocks/conductor/README.md) */
    bool wrong_ca;
    unsigned stall_ms;
    unsigned max_failures;        /* failed authentications in a row that lock a node */
    unsigned lockout_seconds;
    const char *addr;             /* derived: "IP:PORT" (its first address) */
};

/* hub (mock-hub): the operational hub the nodes peer with (SVR), at most one. */
struct scn_hub {
    unsigned port;                /* 1280 */
    const char *hub_name;         /* default: the host name */
    const char *addr;             /* derived: "IP:PORT" */
};

struct scn_node {
    const char *router;           /* default R1 */
    const char *node;             /* default: the host name */
    const char *config;           /* config lines, without or with "config authority router R" */
    const char *onboarding;       /* onboarding.json text, or NULL */
    const char *ha_peer;          /* host name of the other node, or NULL */
    const char *ha_interface;     /* the interface towards the peer */
    double ha_timeout;            /* seconds (0.1..3600, ms resolution); 0 = ssr-node's default */
    const char *proxy_user;       /* management-proxy credentials (proxy-auth), or NULL */
    const char *proxy_password;
    const char **args;            /* extra ssr-node arguments */
    size_t n_args;
    /* sZTP (when the scenario has an ep-terminator; defaults filled by the checks) */
    bool sztp;                    /* derived: the node runs ssr-node --sztp */
    const char *device_id;        /* default "<router>-<node>" */
    bool claimed;                 /* in the EP terminator's claims at the start (default true) */
    const char *environment;      /* where it is claimed and registered (default: the ep-terminator's) */
    const char *org;              /* default ztp-lab */
    const char *site;             /* default: the router's name */
    bool ocra_wrong;              /* ocra-key: wrong: the Mist registry holds another key than its TPM */
    const char *sztp_fault;       /* ssr-node --sztp-fault NAME, or NULL */
    const char *conductor;        /* its onboarding data's conductor, NULL = its mist host's */
    bool psk_wrong;               /* conductor-psk: wrong: Mist hands out another secret than the conductor's */
    const char *conductor_fault;  /* ssr-node --conductor-fault NAME (csr-other-router), or NULL */
    /* router timers (seconds, ms resolution; 0 = ssr-node's default, the product's) */
    double request_timeout;       /* request-timeout: ssr-node --request-timeout */
    double retry_min, retry_max;  /* retry-backoff: {min, max}: ssr-node --retry-backoff MIN[,MAX] */
    double task_poll;             /* task-poll: ssr-node --task-poll */
    int cfault_line;
    int psk_line;                 /* its line */
    int sztp_line;                /* line of the first sZTP key written (0: none) */
};

struct scn_host {
    const char *name;
    enum scn_kind kind;
    enum scn_impl impl;
    bool impl_given;              /* impl written in the file (else the kind's default) */
    struct scn_iface *ifs;
    size_t n_ifs;
    struct scn_route *routes;
    size_t n_routes;
    bool forwarding;
    struct scn_pool *pools;       /* dhcp-server */
    size_t n_pools;
    struct scn_proxy proxy;       /* proxy */
    struct scn_cloud cloud;       /* ep-terminator, mist */
    struct scn_node node;         /* ssr-node */
    struct scn_conductor cond;    /* conductor */
    struct scn_hub hub;           /* hub */
    bool autostart;               /* started at setup (default); false: only by a step's start: */
    int line;
};

/* A learned-proxies row as the scenario states it; unset fields are not compared. */
struct scn_lp_row {
    const char *node;
    const char *interface;        /* network-interface */
    const char *proxy;            /* "A:P" or "none" */
    const char *lease;            /* lease-state */
    int selected;                 /* -1 unset, 0, 1 */
    int discovery;                /* -1 unset, 0, 1 */
    int line;
};

enum scn_exp_kind {
    EXP_ACTIVE_PROXY,     /* ssr-node: "A:P" or "none" */
    EXP_PROXY_SOURCE,     /* ssr-node: learned | config-static | onboarding-json | none */
    EXP_LEARNED_FROM,     /* ssr-node: "NETIF" or "NODE/NETIF" */
    EXP_LEARNED_PROXIES,  /* ssr-node: rows, in ssr-cli's order */
    EXP_PHONE_HOME,       /* ssr-node: ok | failed */
    EXP_FAILURE_REASON,   /* ssr-node: substring of the reason (phone-home error or no-proxy reason) */
    EXP_INTERNET_DIRECT,  /* ssr-node: blocked */
    EXP_TPM,              /* ssr-node: answers (its swtpm runs and answers TPM2_Startup) */
    EXP_LOGGED,           /* any host: each regex matches a line of logs/HOST.log */
    EXP_NOT_LOGGED,       /* any host: no regex matches */
    EXP_CARRIED,          /* proxy: exactly these nodes had CONNECTs to the Mist name tunnelled */
    EXP_DENIED,           /* proxy: these nodes were refused (4xx) */
    EXP_DECODED,          /* segment: each regex matches a line of `tcpdump -r pcap/SEG.pcap -n -vvv` */
    EXP_ONBOARDING,       /* ssr-node: the sZTP state (`show onboarding`) */
    EXP_ONBOARDING_ERROR, /* ssr-node: the class of the last sZTP error, or none */
    EXP_STORED,           /* ssr-node: exactly these files in state/trust, state/secrets, state/certs (list; empty = none) */
    EXP_CONDUCTOR,        /* ssr-node: the conductor in use (`show conductor`): "A:P", a conductor host, or none */
    EXP_CONDUCTOR_ERROR,  /* ssr-node: the class of the conductor client's last error, or none */
    EXP_CERTIFICATE,      /* ssr-node: valid (state/certs/router.pem checked by the lab) or none */
    EXP_INVENTORY,        /* conductor: {ROUTER/NODE: STATE} from its --state file */
    EXP_PEERED,           /* hub: exactly these identities (ROUTER.NODE) peered, from its --state file */
    EXP_NO_SECRETS,       /* scenario-wide, added automatically: no secret in any log, capture, show answer, state file */
    EXP_SECRET_FILES,     /* scenario-wide, added automatically with sZTP nodes: secret files 0600 */
    EXP_KIND_COUNT
};

const char *scn_exp_name(enum scn_exp_kind k);

struct scn_expect {
    enum scn_exp_kind kind;
    const char *host;             /* the host, or the segment (decoded); NULL for scenario-wide */
    const char *value;            /* scalar expectations */
    const char **list;            /* logged / not-logged / carried / denied / decoded / stored */
    size_t n_list;
    int *counts;                  /* logged / not-logged: per regex, the fewest matching lines wanted; -1 = a
                                   * plain regex (logged: at least one line, not-logged: none) */
    int *counts_max;              /* ... and the most (-1: no upper bound); {count: N} is N..N */
    struct scn_lp_row *rows;      /* learned-proxies */
    size_t n_rows;
    struct scn_kv *kv;            /* inventory: key "ROUTER/NODE", value the state */
    size_t n_kv;
    int line;
};

enum scn_action_kind {
    ACT_STOP,             /* stop a host's process (SIGTERM) */
    ACT_START,            /* start a stopped host again */
    ACT_SET_PROXY,        /* dhcp-server: change a pool's Option 43 value and reload */
    ACT_LINK_DOWN,        /* host interface down */
    ACT_LINK_UP,
    ACT_PROXY_FAULT,      /* mock-proxy: set fault switches (config rewritten, SIGHUP) */
    ACT_WRITE,            /* write a file in the host's artifact dir (e.g. a router's state) */
    ACT_CLAIM,            /* add a router node's claim to the EP terminator's claims file (SIGHUP) */
    ACT_KILL,             /* SIGKILL a host's process (group) at once, as a power cut or a crash would */
    ACT_KIND_COUNT
};

struct scn_action {
    enum scn_action_kind kind;
    const char *host;
    const char *interface;        /* link-down/up */
    unsigned pool;                /* set-proxy */
    const char *value;            /* set-proxy: the new value ("none" = no Option 43); write: the content */
    const char *file;             /* write: path relative to ARTIFACTS/HOST/ */
    struct scn_kv *kv;            /* proxy-fault: the switches */
    size_t n_kv;
    int line;
    int col;                      /* with line: where it is written (actions run in that order) */
};

/* A step's or trigger's condition: `when: {HOST: STATE}` (a router node reached an sZTP or
 * conductor state: its `event=sztp.state`/`event=conductor.state ... to=STATE` line since its last
 * start, and the state is in its state file) or `when: {HOST: {logged: REGEX}}` (a line of the
 * host's log since its last start matches). */
struct scn_when {
    const char *host;             /* NULL: no condition */
    const char *state;            /* or */
    const char *regex;
    int line;
};

struct scn_step {
    const char *name;
    double at;                    /* seconds after the start of the run; <0 = as soon as the previous step held */
    struct scn_when when;         /* the actions wait for it (steps); fire on it (triggers) */
    double after;                 /* with when: the actions run this many seconds after it held (0: at once) */
    struct scn_action *actions;
    size_t n_actions;
    struct scn_expect *expects;
    size_t n_expects;
    int line;
};

struct scn_arena;

struct scenario {
    struct scn_arena *arena;
    const char *file;             /* the path it was read from */
    const char *name;
    const char *description;
    double timeout;
    struct scn_segment *segments;
    size_t n_segments;
    struct scn_host *hosts;
    size_t n_hosts;
    struct scn_step *steps;       /* the file's steps, then the final `expect` as the last step */
    size_t n_steps;
    struct scn_step *triggers;    /* `triggers:`: actions fired once each, whenever their when: holds during the run */
    size_t n_triggers;
    const char **secrets;         /* every secret in the file (registration codes, passwords); the run adds
                                   * what it generates (OCRA keys, pre-shared secrets) */
    size_t n_secrets;
};

/* Parse and check a scenario file. Returns the scenario, or NULL with one line in err
 * ("FILE:LINE: FIELD: message"). */
struct scenario *scenario_load(const char *path, char *err, size_t errlen);
/* Same from a buffer; `file` names it in errors. */
struct scenario *scenario_parse(const char *file, const char *buf, size_t len, char *err, size_t errlen);
void scenario_free(struct scenario *s);

const struct scn_host *scenario_host(const struct scenario *s, const char *name);
const struct scn_segment *scenario_segment(const struct scenario *s, const char *name);
/* The scenario's ep-terminator host, or NULL (then no router node runs sZTP). */
const struct scn_host *scenario_ep_terminator(const struct scenario *s);
/* The mist host that serves environment env, or NULL. */
const struct scn_host *scenario_mist_for(const struct scenario *s, const char *env);
/* "https://NAME[:PORT]" of an ep-terminator or mist host (names[0]; the port when not 443). */
const char *scn_cloud_url(const struct scn_host *h, char *dst, size_t cap);
/* True when a host name is one of an ep-terminator's or mist host's names (case-insensitive). */
bool scenario_is_cloud_name(const struct scenario *s, const char *name);
/* The position of an sZTP state name (router/sztp.h: init 0 ... secret-stored 7), -1 when unknown. */
int scn_sztp_state_index(const char *name);
/* The position of a conductor-client state (router/conductor.h: idle 0 ... production-connected 8),
 * -1 when unknown. */
int scn_cond_state_index(const char *name);
/* The scenario's conductor of a role, its hub, or NULL. */
const struct scn_host *scenario_conductor(const struct scenario *s, enum scn_cond_role role);
const struct scn_host *scenario_hub(const struct scenario *s);
/* The host interface's address without the prefix length into dst ("" when none). */
const char *scn_iface_ip(const struct scn_iface *i, char *dst, size_t cap);

/* The scenario files of a directory: name and description of every DIR/ *.yaml, sorted by name.
 * Files that do not parse are listed with their error as description and ok=false. */
struct scn_entry {
    char *name;
    char *path;
    char *description;
    bool ok;
};
int scenario_dir_list(const char *dir, struct scn_entry **out, size_t *n);
void scenario_dir_free(struct scn_entry *e, size_t n);

#endif
