/* mock-proxy: configuration (JSON, see README.md) and access decisions.
 *
 * Parsing is a pure function over (text, len); the users file is read by proxy_config_load() (or
 * given as text to proxy_users_parse()). Decisions are pure functions of the config and the request:
 * the order is Squid's default http_access order (see README.md):
 *   deny !Safe_ports, deny CONNECT !SSL_ports, deny !allow_src, deny deny_domains,
 *   deny !allow_domains (when set), then Basic auth (407), then allow. */
#ifndef MOCK_PROXY_ACL_H
#define MOCK_PROXY_ACL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http.h"

#define PROXY_MAX_LISTEN 8
#define PROXY_MAX_PORT_RANGES 32
#define PROXY_MAX_CIDRS 64
#define PROXY_MAX_DOMAINS 128
#define PROXY_MAX_USERS 256
#define PROXY_MAX_REALM 128

struct port_range { uint16_t lo, hi; };

struct cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order; 4 bytes used for AF_INET */
    unsigned prefix;
};

struct proxy_user {
    char name[HTTP_MAX_USER + 1];
    char pass[HTTP_MAX_PASS + 1];
};

enum refuse_mode { REFUSE_OFF, REFUSE_403, REFUSE_RST };

/* Fault switches (README.md "Faults"). 0/false = off. */
struct proxy_faults {
    enum refuse_mode refuse_all;
    uint64_t close_after_bytes;  /* close a tunnel (FIN both ways) after this many relayed bytes */
    uint64_t reset_after_bytes;  /* reset a tunnel (RST both ways) after this many relayed bytes */
    bool stall;                  /* read requests, never answer */
    uint32_t delay_200_ms;       /* hold the 200 (and the relay) this long after the upstream connected */
    uint32_t down_ms;            /* on load/reload: stop listening this long, then listen again */
    bool down_cut;               /* ... and cut every open connection when going down */
};

struct proxy_config {
    char listen[PROXY_MAX_LISTEN][64];  /* "IP:PORT" or "[v6]:PORT" */
    size_t n_listen;
    char access_log[4096];              /* "" = none */
    char stats[4096];                   /* "" = none */
    char host[64];                      /* visible host name (error pages) */
    struct port_range ssl_ports[PROXY_MAX_PORT_RANGES];
    size_t n_ssl_ports;
    struct port_range safe_ports[PROXY_MAX_PORT_RANGES];
    size_t n_safe_ports;
    struct cidr allow_src[PROXY_MAX_CIDRS];
    size_t n_allow_src;                 /* 0 = every source allowed */
    char *allow_domains[PROXY_MAX_DOMAINS];
    size_t n_allow_domains;             /* 0 = every domain allowed */
    char *deny_domains[PROXY_MAX_DOMAINS];
    size_t n_deny_domains;
    bool auth;                          /* Basic auth required */
    char users_file[4096];
    char realm[PROXY_MAX_REALM + 1];
    struct proxy_user *users;           /* loaded from users_file */
    size_t n_users;
    uint32_t connect_timeout_ms, idle_timeout_ms, request_timeout_ms, stop_grace_ms;
    struct http_limits limits;
    size_t max_connections;
    unsigned resolver_threads;
    bool splice;                        /* false: relay with read/write only */
    bool squid_dns_bug;                 /* answer DNS failures as Squid 5.7 does (bug 5294) */
    struct proxy_faults faults;
};

enum acl_verdict {
    ACL_ALLOW,
    ACL_DENY_PORT,          /* destination port not in safe_ports */
    ACL_DENY_SSL_PORT,      /* CONNECT to a port not in ssl_ports */
    ACL_DENY_SRC,           /* client address not in allow_src */
    ACL_DENY_DOMAIN,        /* destination in deny_domains */
    ACL_DENY_NOT_ALLOWED,   /* allow_domains set and destination not in it */
    ACL_AUTH_REQUIRED,      /* auth on, no (usable) Proxy-Authorization: 407 */
    ACL_AUTH_FAILED,        /* auth on, unknown user or wrong password: 407 */
    ACL_DENY_REFUSE_ALL,    /* fault refuse_all=403 */
    ACL_VERDICT_COUNT,
};

/* Defaults: Squid's SSL_ports (443) and Safe_ports, no source or domain lists, no auth,
 * connect 10 s, idle 900 s, request head 30 s, stop grace 1 s, 4 resolver threads, splice on. */
void proxy_config_defaults(struct proxy_config *cfg);

/* Parse JSON (defaults first, then the keys present). Returns 0 or -1 with err naming the key.
 * Does not read the users file. */
int proxy_config_parse(const char *text, size_t len, struct proxy_config *cfg, char *err, size_t errlen);
/* Read + parse a config file (NULL path: defaults only), then load the users file when auth is on. */
int proxy_config_load(const char *path, struct proxy_config *cfg, char *err, size_t errlen);
/* Load cfg->users from cfg->users_file ("user:password" lines, '#' comments). */
int proxy_users_load(struct proxy_config *cfg, char *err, size_t errlen);
int proxy_users_parse(struct proxy_config *cfg, const char *text, size_t len, char *err, size_t errlen);
void proxy_config_free(struct proxy_config *cfg);

/* One fault "KEY=VALUE" as given to --fault (same keys as the config's "faults" object). */
int proxy_fault_set(struct proxy_faults *f, const char *kv, char *err, size_t errlen);

/* "a-b" or "a" into ranges; "CIDR" into a cidr. 0 or -1. */
int port_range_parse(const char *s, struct port_range *out);
int cidr_parse(const char *s, struct cidr *out);
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
bool ports_match(const struct port_range *r, size_t n, uint16_t port);
/* Squid dstdomain: ".example.com" matches example.com and every name below it, "example.com"
 * only itself; case-insensitive; host is lower-case without a trailing dot. */
bool domain_match(const char *pattern, const char *host);
bool domain_list_match(char *const *list, size_t n, const char *host);

/* The access decision for one request. `auth` is the parsed Proxy-Authorization. */
enum acl_verdict acl_check(const struct proxy_config *cfg, const struct sockaddr *client, bool is_connect,
                           const char *host, uint16_t port, enum http_auth_state auth, const char *user,
                           const char *pass);
const char *acl_verdict_name(enum acl_verdict v);

#endif
