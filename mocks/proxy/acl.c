#include "acl.h"

#include "ztp/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ztp/daemon.h"

#define CONFIG_MAX_BYTES (1u << 20)

void proxy_config_defaults(struct proxy_config *cfg)
{
    /* Squid's default squid.conf: acl SSL_ports port 443; acl Safe_ports port 80 21 443 70 210
     * 1025-65535 280 488 591 777. */
    static const struct port_range safe[] = {{80, 80},       {21, 21},   {443, 443}, {70, 70},  {210, 210},
                                             {1025, 65535}, {280, 280}, {488, 488}, {591, 591}, {777, 777}};
    memset(cfg, 0, sizeof *cfg);
    cfg->ssl_ports[0] = (struct port_range){443, 443};
    cfg->n_ssl_ports = 1;
    memcpy(cfg->safe_ports, safe, sizeof safe);
    cfg->n_safe_ports = sizeof safe / sizeof safe[0];
    snprintf(cfg->realm, sizeof cfg->realm, "mock-proxy");
    snprintf(cfg->host, sizeof cfg->host, "mock-proxy");
    cfg->connect_timeout_ms = 10000;
    cfg->idle_timeout_ms = 900000;
    cfg->request_timeout_ms = 30000;
    cfg->stop_grace_ms = 1000;
    http_limits_default(&cfg->limits);
    cfg->max_connections = 20000;
    cfg->resolver_threads = 4;
    cfg->splice = true;
}

void proxy_config_free(struct proxy_config *cfg)
{
    for (size_t i = 0; i < cfg->n_allow_domains; i++)
        free(cfg->allow_domains[i]);
    for (size_t i = 0; i < cfg->n_deny_domains; i++)
        free(cfg->deny_domains[i]);
    if (cfg->users) {
        memset(cfg->users, 0, cfg->n_users * sizeof *cfg->users);
        free(cfg->users);
    }
    cfg->users = NULL;
    cfg->n_users = cfg->n_allow_domains = cfg->n_deny_domains = 0;
}

/* ---- small parsers ---- */

static int parse_u16(const char *s, size_t n, uint16_t *out)
{
    uint32_t v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int port_range_parse(const char *s, struct port_range *out)
{
    const char *dash = strchr(s, '-');
    if (!dash)
        return parse_u16(s, strlen(s), &out->lo) < 0 ? -1 : (out->hi = out->lo, 0);
    if (parse_u16(s, (size_t)(dash - s), &out->lo) < 0 || parse_u16(dash + 1, strlen(dash + 1), &out->hi) < 0 ||
        out->lo > out->hi)
        return -1;
    return 0;
}

int cidr_parse(const char *s, struct cidr *out)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned max;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->prefix = max;
    if (slash) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || errno || p > max)
            return -1;
        out->prefix = (unsigned)p;
    }
    return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rem = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rem) {
        uint8_t m = (uint8_t)(0xff << (8 - rem));
        return (a[full] & m) == (b[full] & m);
    }
    return true;
}

bool cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return c->family == AF_INET && prefix_eq(c->addr, (const uint8_t *)&s4->sin_addr, c->prefix);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (c->family == AF_INET6)
            return prefix_eq(c->addr, s6->sin6_addr.s6_addr, c->prefix);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            return prefix_eq(c->addr, s6->sin6_addr.s6_addr + 12, c->prefix);
    }
    return false;
}

bool ports_match(const struct port_range *r, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (port >= r[i].lo && port <= r[i].hi)
            return true;
    return false;
}

bool domain_match(const char *pattern, const char *host)
{
    size_t pl = strlen(pattern), hl = strlen(host);
    if (pl == 0)
        return false;
    if (pattern[0] != '.')
        return strcasecmp(pattern, host) == 0;
    /* ".example.com": example.com itself, or a name ending in ".example.com" */
    if (hl == pl - 1 && strcasecmp(pattern + 1, host) == 0)
        return true;
    return hl > pl && strcasecmp(host + hl - pl, pattern) == 0;
}

bool domain_list_match(char *const *list, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++)
        if (domain_match(list[i], host))
            return true;
    return false;
}

static bool secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

enum acl_verdict acl_check(const struct proxy_config *cfg, const struct sockaddr *client, bool is_connect,
                           const char *host, uint16_t port, enum http_auth_state auth, const char *user,
                           const char *pass)
{
    if (cfg->faults.refuse_all == REFUSE_403)
        return ACL_DENY_REFUSE_ALL;
    if (!ports_match(cfg->safe_ports, cfg->n_safe_ports, port))
        return ACL_DENY_PORT;
    if (is_connect && !ports_match(cfg->ssl_ports, cfg->n_ssl_ports, port))
        return ACL_DENY_SSL_PORT;
    if (cfg->n_allow_src) {
        bool ok = false;
        for (size_t i = 0; i < cfg->n_allow_src && !ok; i++)
            ok = cidr_match(&cfg->allow_src[i], client);
        if (!ok)
            return ACL_DENY_SRC;
    }
    if (domain_list_match(cfg->deny_domains, cfg->n_deny_domains, host))
        return ACL_DENY_DOMAIN;
    if (cfg->n_allow_domains && !domain_list_match(cfg->allow_domains, cfg->n_allow_domains, host))
        return ACL_DENY_NOT_ALLOWED;
    if (cfg->auth) {
        if (auth != HTTP_AUTH_BASIC)
            return ACL_AUTH_REQUIRED;
        bool ok = false;
        for (size_t i = 0; i < cfg->n_users; i++)
            if (strcmp(cfg->users[i].name, user) == 0)
                ok = secret_eq(cfg->users[i].pass, pass);
        if (!ok)
            return ACL_AUTH_FAILED;
    }
    return ACL_ALLOW;
}

const char *acl_verdict_name(enum acl_verdict v)
{
    static const char *const names[ACL_VERDICT_COUNT] = {
        [ACL_ALLOW] = "allow",
        [ACL_DENY_PORT] = "port",
        [ACL_DENY_SSL_PORT] = "ssl_port",
        [ACL_DENY_SRC] = "src",
        [ACL_DENY_DOMAIN] = "domain",
        [ACL_DENY_NOT_ALLOWED] = "domain_not_allowed",
        [ACL_AUTH_REQUIRED] = "auth_required",
        [ACL_AUTH_FAILED] = "auth_failed",
        [ACL_DENY_REFUSE_ALL] = "refuse_all",
    };
    return (unsigned)v < ACL_VERDICT_COUNT ? names[v] : "?";
}

/* ---- faults ---- */

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on") || !*s)
        return (*out = true), 0;
    if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off"))
        return (*out = false), 0;
    return -1;
}

static int fault_apply(struct proxy_faults *f, const char *key, const char *val, char *err, size_t errlen)
{
    uint64_t v = 0;
    if (!strcmp(key, "refuse_all")) {
        if (!strcmp(val, "403") || !strcmp(val, "true") || !*val)
            f->refuse_all = REFUSE_403;
        else if (!strcmp(val, "rst"))
            f->refuse_all = REFUSE_RST;
        else if (!strcmp(val, "false") || !strcmp(val, "off"))
            f->refuse_all = REFUSE_OFF;
        else
            return errf(err, errlen, "faults.refuse_all: \"%s\" is not \"403\", \"rst\" or false", val);
        return 0;
    }
    if (!strcmp(key, "stall") || !strcmp(key, "down_cut")) {
        bool b;
        if (parse_bool(val, &b) < 0)
            return errf(err, errlen, "faults.%s: must be true or false", key);
        *(!strcmp(key, "stall") ? &f->stall : &f->down_cut) = b;
        return 0;
    }
    if (parse_u64(val, &v) < 0)
        return errf(err, errlen, "faults.%s: \"%s\" is not a non-negative integer", key, val);
    if (!strcmp(key, "close_after_bytes"))
        f->close_after_bytes = v;
    else if (!strcmp(key, "reset_after_bytes"))
        f->reset_after_bytes = v;
    else if (!strcmp(key, "delay_200_ms") || !strcmp(key, "down_ms")) {
        if (v > 3600000)
            return errf(err, errlen, "faults.%s: at most 3600000", key);
        *(!strcmp(key, "down_ms") ? &f->down_ms : &f->delay_200_ms) = (uint32_t)v;
    } else
        return errf(err, errlen, "faults: unknown key \"%s\"", key);
    return 0;
}

int proxy_fault_set(struct proxy_faults *f, const char *kv, char *err, size_t errlen)
{
    char key[64];
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    if (n == 0 || n >= sizeof key)
        return errf(err, errlen, "fault \"%s\": expected KEY=VALUE", kv);
    memcpy(key, kv, n);
    key[n] = '\0';
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    return fault_apply(f, key, eq ? eq + 1 : "", err, errlen);
}

/* ---- JSON ---- */

static int get_str(json_t *obj, const char *key, char *out, size_t cap, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return errf(err, errlen, "%s: must be a string", key);
    if (json_string_length(v) >= cap)
        return errf(err, errlen, "%s: longer than %zu bytes", key, cap - 1);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int get_u32(json_t *obj, const char *key, const char *where, uint32_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return errf(err, errlen, "%s%s: must be an integer 0..4294967295", where, key);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int get_bool(json_t *obj, const char *key, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return errf(err, errlen, "%s: must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int get_ports(json_t *obj, const char *key, struct port_range *out, size_t *n, char *err, size_t errlen)
{
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;
    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > PROXY_MAX_PORT_RANGES)
        return errf(err, errlen, "%s: must be an array of at most %d ports or \"LO-HI\" ranges", key,
                       PROXY_MAX_PORT_RANGES);
    *n = 0;
    json_array_foreach(arr, i, v) {
        char tmp[32];
        if (json_is_integer(v))
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v) && json_string_length(v) < sizeof tmp)
            snprintf(tmp, sizeof tmp, "%s", json_string_value(v));
        else
            return errf(err, errlen, "%s[%zu]: must be a port number or \"LO-HI\"", key, i);
        if (port_range_parse(tmp, &out[i]) < 0)
            return errf(err, errlen, "%s[%zu]: \"%s\" is not a port 1..65535 or a range LO-HI", key, i, tmp);
        (*n)++;
    }
    return 0;
}

static int get_domains(json_t *obj, const char *key, char **out, size_t *n, char *err, size_t errlen)
{
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;
    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > PROXY_MAX_DOMAINS)
        return errf(err, errlen, "%s: must be an array of at most %d domain names", key, PROXY_MAX_DOMAINS);
    json_array_foreach(arr, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s || !*s || strlen(s) > HTTP_MAX_HOST || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                 "0123456789-._:[]") != strlen(s))
            return errf(err, errlen, "%s[%zu]: must be a domain (\"example.com\" or \".example.com\")", key, i);
        char *d = strdup(s);
        if (!d)
            return errf(err, errlen, "out of memory");
        for (char *p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        size_t l = strlen(d);
        if (l > 1 && d[l - 1] == '.')
            d[l - 1] = '\0';
        out[(*n)++] = d;
    }
    return 0;
}

static int parse_root(json_t *root, struct proxy_config *cfg, char *err, size_t errlen)
{
    static const char *const top[] = {"listen", "access_log", "stats", "host", "ssl_ports", "safe_ports",
                                      "allow_src", "allow_domains", "deny_domains", "auth", "timeouts",
                                      "limits", "resolver_threads", "splice", "squid_dns_bug", "faults", NULL};
    static const char *const auth_keys[] = {"users_file", "realm", "enabled", NULL};
    static const char *const to_keys[] = {"connect_ms", "idle_ms", "request_ms", "stop_grace_ms", NULL};
    static const char *const lim_keys[] = {"max_head", "max_headers", "max_url", "max_connections", NULL};
    static const char *const fault_keys[] = {"refuse_all", "close_after_bytes", "reset_after_bytes", "stall",
                                             "delay_200_ms", "down_ms", "down_cut", NULL};
    json_t *v, *o;
    size_t i;
    if (!json_is_object(root))
        return errf(err, errlen, "the configuration must be a JSON object");
    if (json_check_keys(root, top, "config", err, errlen) < 0)
        return -1;
    if ((v = json_object_get(root, "listen"))) {
        if (!json_is_array(v) || json_array_size(v) > PROXY_MAX_LISTEN)
            return errf(err, errlen, "listen: must be an array of at most %d \"IP:PORT\" strings", PROXY_MAX_LISTEN);
        json_array_foreach(v, i, o) {
            if (!json_is_string(o) || json_string_length(o) >= sizeof cfg->listen[0])
                return errf(err, errlen, "listen[%zu]: must be an \"IP:PORT\" string", i);
            snprintf(cfg->listen[cfg->n_listen++], sizeof cfg->listen[0], "%s", json_string_value(o));
        }
    }
    if (get_str(root, "access_log", cfg->access_log, sizeof cfg->access_log, err, errlen) < 0 ||
        get_str(root, "stats", cfg->stats, sizeof cfg->stats, err, errlen) < 0 ||
        get_str(root, "host", cfg->host, sizeof cfg->host, err, errlen) < 0 ||
        get_ports(root, "ssl_ports", cfg->ssl_ports, &cfg->n_ssl_ports, err, errlen) < 0 ||
        get_ports(root, "safe_ports", cfg->safe_ports, &cfg->n_safe_ports, err, errlen) < 0 ||
        get_domains(root, "allow_domains", cfg->allow_domains, &cfg->n_allow_domains, err, errlen) < 0 ||
        get_domains(root, "deny_domains", cfg->deny_domains, &cfg->n_deny_domains, err, errlen) < 0 ||
        get_bool(root, "splice", &cfg->splice, err, errlen) < 0 ||
        get_bool(root, "squid_dns_bug", &cfg->squid_dns_bug, err, errlen) < 0 ||
        get_u32(root, "resolver_threads", "", &cfg->resolver_threads, err, errlen) < 0)
        return -1;
    if (cfg->resolver_threads < 1 || cfg->resolver_threads > 64)
        return errf(err, errlen, "resolver_threads: must be 1..64");
    if ((v = json_object_get(root, "allow_src"))) {
        if (!json_is_array(v) || json_array_size(v) > PROXY_MAX_CIDRS)
            return errf(err, errlen, "allow_src: must be an array of at most %d CIDR strings", PROXY_MAX_CIDRS);
        json_array_foreach(v, i, o) {
            if (!json_is_string(o) || cidr_parse(json_string_value(o), &cfg->allow_src[i]) < 0)
                return errf(err, errlen, "allow_src[%zu]: must be an address or CIDR (\"198.18.1.0/24\")", i);
            cfg->n_allow_src++;
        }
    }
    if ((o = json_object_get(root, "auth"))) {
        if (!json_is_object(o))
            return errf(err, errlen, "auth: must be an object");
        if (json_check_keys(o, auth_keys, "auth", err, errlen) < 0)
            return -1;
        cfg->auth = true;
        if (get_bool(o, "enabled", &cfg->auth, err, errlen) < 0 ||
            get_str(o, "users_file", cfg->users_file, sizeof cfg->users_file, err, errlen) < 0 ||
            get_str(o, "realm", cfg->realm, sizeof cfg->realm, err, errlen) < 0)
            return -1;
        if (strchr(cfg->realm, '"') || strchr(cfg->realm, '\\'))
            return errf(err, errlen, "auth.realm: must not contain '\"' or '\\'");
        if (cfg->auth && !cfg->users_file[0])
            return errf(err, errlen, "auth.users_file: required when auth is enabled");
    }
    if ((o = json_object_get(root, "timeouts"))) {
        if (!json_is_object(o) || json_check_keys(o, to_keys, "timeouts", err, errlen) < 0)
            return json_is_object(o) ? -1 : errf(err, errlen, "timeouts: must be an object");
        if (get_u32(o, "connect_ms", "timeouts.", &cfg->connect_timeout_ms, err, errlen) < 0 ||
            get_u32(o, "idle_ms", "timeouts.", &cfg->idle_timeout_ms, err, errlen) < 0 ||
            get_u32(o, "request_ms", "timeouts.", &cfg->request_timeout_ms, err, errlen) < 0 ||
            get_u32(o, "stop_grace_ms", "timeouts.", &cfg->stop_grace_ms, err, errlen) < 0)
            return -1;
    }
    if ((o = json_object_get(root, "limits"))) {
        uint32_t head = (uint32_t)cfg->limits.max_head, nh = (uint32_t)cfg->limits.max_headers,
                 url = (uint32_t)cfg->limits.max_url, mc = (uint32_t)cfg->max_connections;
        if (!json_is_object(o) || json_check_keys(o, lim_keys, "limits", err, errlen) < 0)
            return json_is_object(o) ? -1 : errf(err, errlen, "limits: must be an object");
        if (get_u32(o, "max_head", "limits.", &head, err, errlen) < 0 ||
            get_u32(o, "max_headers", "limits.", &nh, err, errlen) < 0 ||
            get_u32(o, "max_url", "limits.", &url, err, errlen) < 0 ||
            get_u32(o, "max_connections", "limits.", &mc, err, errlen) < 0)
            return -1;
        if (head < 64 || head > (1u << 20))
            return errf(err, errlen, "limits.max_head: must be 64..1048576");
        if (nh < 1 || nh > HTTP_MAX_HEADERS)
            return errf(err, errlen, "limits.max_headers: must be 1..%d", HTTP_MAX_HEADERS);
        if (!json_object_get(o, "max_url") && url > head)
            url = head; /* the default URL limit follows a smaller head limit */
        if (url < 16 || url > head)
            return errf(err, errlen, "limits.max_url: must be 16..max_head");
        if (mc < 1 || mc > 1000000)
            return errf(err, errlen, "limits.max_connections: must be 1..1000000");
        cfg->limits.max_head = head;
        cfg->limits.max_headers = nh;
        cfg->limits.max_url = url;
        cfg->max_connections = mc;
    }
    if ((o = json_object_get(root, "faults"))) {
        const char *key;
        if (!json_is_object(o) || json_check_keys(o, fault_keys, "faults", err, errlen) < 0)
            return json_is_object(o) ? -1 : errf(err, errlen, "faults: must be an object");
        json_object_foreach(o, key, v) {
            char val[32];
            if (json_is_boolean(v))
                snprintf(val, sizeof val, "%s", json_is_true(v) ? "true" : "false");
            else if (json_is_integer(v) && json_integer_value(v) >= 0)
                snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
            else if (json_is_string(v) && json_string_length(v) < sizeof val)
                snprintf(val, sizeof val, "%s", json_string_value(v));
            else
                return errf(err, errlen, "faults.%s: must be a boolean, a non-negative integer or a string", key);
            if (fault_apply(&cfg->faults, key, val, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

int proxy_config_parse(const char *text, size_t len, struct proxy_config *cfg, char *err, size_t errlen)
{
    json_error_t jerr;
    proxy_config_defaults(cfg);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return errf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    int r = parse_root(root, cfg, err, errlen);
    json_decref(root);
    if (r < 0)
        proxy_config_free(cfg);
    return r;
}

int proxy_users_parse(struct proxy_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
    size_t lineno = 0;
    struct proxy_user *users = calloc(PROXY_MAX_USERS, sizeof *users);
    size_t n = 0;
    if (!users)
        return errf(err, errlen, "out of memory");
    for (size_t s = 0; s < len;) {
        const char *nl = memchr(text + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - text) : len, ce = e;
        lineno++;
        if (ce > s && text[ce - 1] == '\r')
            ce--;
        if (ce > s && text[s] != '#') {
            const char *colon = memchr(text + s, ':', ce - s);
            size_t ul = colon ? (size_t)(colon - text) - s : 0, pl = colon ? ce - s - ul - 1 : 0;
            if (!colon || ul == 0 || ul > HTTP_MAX_USER || pl > HTTP_MAX_PASS) {
                free(users);
                /* never echo the line: it may hold a password */
                return errf(err, errlen, "users file line %zu: expected user:password (user 1..%d bytes, "
                               "password at most %d)", lineno, HTTP_MAX_USER, HTTP_MAX_PASS);
            }
            if (n == PROXY_MAX_USERS) {
                free(users);
                return errf(err, errlen, "users file: more than %d users", PROXY_MAX_USERS);
            }
            memcpy(users[n].name, text + s, ul);
            memcpy(users[n].pass, colon + 1, pl);
            n++;
        }
        s = e + 1;
    }
    if (cfg->users) {
        memset(cfg->users, 0, cfg->n_users * sizeof *cfg->users);
        free(cfg->users);
    }
    cfg->users = users;
    cfg->n_users = n;
    return 0;
}

int proxy_users_load(struct proxy_config *cfg, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int r = read_file_max(cfg->users_file, CONFIG_MAX_BYTES, &text, &len);
    if (r < 0)
        return errf(err, errlen, "users file %s: %s", cfg->users_file, strerror(-r));
    r = proxy_users_parse(cfg, text, len, err, errlen);
    memset(text, 0, len);
    free(text);
    return r;
}

int proxy_config_load(const char *path, struct proxy_config *cfg, char *err, size_t errlen)
{
    char *text;
    size_t len;
    char inner[1024];
    if (!path) {
        proxy_config_defaults(cfg);
        return 0;
    }
    int r = read_file_max(path, CONFIG_MAX_BYTES, &text, &len);
    if (r < 0) {
        proxy_config_defaults(cfg);
        return errf(err, errlen, "%s: %s", path, strerror(-r));
    }
    r = proxy_config_parse(text, len, cfg, inner, sizeof inner);
    free(text);
    if (r < 0)
        return errf(err, errlen, "%s: %s", path, inner);
    if (cfg->auth && proxy_users_load(cfg, inner, sizeof inner) < 0) {
        proxy_config_free(cfg);
        return errf(err, errlen, "%s: %s", path, inner);
    }
    return 0;
}
