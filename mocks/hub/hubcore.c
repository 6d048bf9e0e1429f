/* mock-hub: configuration, hello, decision, lines, answers, state file. Pure code (see hubcore.h). */
#include "hubcore.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "ztp/daemon.h"
#include "ztp/util.h"

static const char *const reason_names[HUB_REASON_COUNT] = {
    [HUB_OK] = "ok",
    [HUB_R_TOO_MANY] = "too-many-connections",
    [HUB_R_TLS_HANDSHAKE] = "tls-handshake",
    [HUB_R_HANDSHAKE_TIMEOUT] = "handshake-timeout",
    [HUB_R_HELLO_TIMEOUT] = "hello-timeout",
    [HUB_R_HELLO_TOO_LONG] = "hello-too-long",
    [HUB_R_HELLO_MISSING] = "hello-missing",
    [HUB_R_BAD_HELLO] = "bad-hello",
    [HUB_R_NO_IDENTITY] = "no-identity",
    [HUB_R_IDENTITY_MISMATCH] = "identity-mismatch",
    [HUB_R_UNKNOWN_PEER] = "unknown-peer",
    [HUB_R_WRONG_HUB] = "wrong-hub",
    [HUB_R_BAD_CERTIFICATE] = "bad-certificate",
    [HUB_C_PEER_CLOSED] = "peer-closed",
    [HUB_C_IDLE_TIMEOUT] = "idle-timeout",
    [HUB_C_REPLACED] = "replaced",
    [HUB_C_LINE_TOO_LONG] = "line-too-long",
    [HUB_C_SLOW_PEER] = "slow-peer",
    [HUB_C_TLS_ERROR] = "tls-error",
    [HUB_C_CONFIG_REMOVED] = "config-removed",
    [HUB_C_SHUTDOWN] = "shutdown",
};

const char *hub_reason_name(enum hub_reason r)
{
    return (unsigned)r < HUB_REASON_COUNT && reason_names[r] ? reason_names[r] : "?";
}

/* ---- strict JSON helpers ---- */

static json_t *load_object(const void *buf, size_t len, const char *what, char *err, size_t cap)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        errf(err, cap, "%s: %s (at %d)", what, je.text, je.position);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        errf(err, cap, "%s: not a JSON object", what);
        return NULL;
    }
    return j;
}

/* A required string member that is a valid name, copied into out (cap HUB_NAME_CAP). */
static int name_member(json_t *obj, const char *key, const char *where, char *out, char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return errf(err, cap, "%s: missing \"%s\"", where, key);
    if (!json_is_string(v))
        return errf(err, cap, "%s: \"%s\" is not a string", where, key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != strlen(s) || !psk_name_ok(s))
        return errf(err, cap, "%s: \"%s\" is not a name (1..%d of [A-Za-z0-9._-])", where, key, PSK_NAME_MAX);
    memcpy(out, s, n + 1);
    return 0;
}

static int uint_member(json_t *obj, const char *key, unsigned min, unsigned max, unsigned *out, char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min || json_integer_value(v) > (json_int_t)max)
        return errf(err, cap, "config: \"%s\" must be an integer in %u..%u", key, min, max);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

/* ---- configuration ---- */

int hub_config_parse(const char *buf, size_t len, struct hub_config *cfg, char *err, size_t cap)
{
    static const char *const top_keys[] = {"hub-name", "peers", "idle-timeout", "hello-timeout", "max-connections",
                                           NULL};
    static const char *const peer_keys[] = {"router", "node", NULL};
    struct hub_config c = {.idle_timeout = HUB_DEFAULT_IDLE, .hello_timeout = HUB_DEFAULT_HELLO,
                           .max_connections = HUB_DEFAULT_MAX_CONN};
    json_t *j = load_object(buf, len, "config", err, cap);
    if (!j)
        return -1;
    if (json_check_keys(j, top_keys, "config", err, cap) < 0 ||
        name_member(j, "hub-name", "config", c.hub_name, err, cap) < 0 ||
        uint_member(j, "idle-timeout", 1, 86400, &c.idle_timeout, err, cap) < 0 ||
        uint_member(j, "hello-timeout", 1, 300, &c.hello_timeout, err, cap) < 0 ||
        uint_member(j, "max-connections", 1, 65536, &c.max_connections, err, cap) < 0)
        goto fail;
    json_t *peers = json_object_get(j, "peers");
    if (!peers) {
        errf(err, cap, "config: missing \"peers\"");
        goto fail;
    }
    if (!json_is_object(peers)) {
        errf(err, cap, "config: \"peers\" is not an object");
        goto fail;
    }
    c.peers = calloc(json_object_size(peers) + 1, sizeof *c.peers);
    if (!c.peers) {
        errf(err, cap, "config: out of memory");
        goto fail;
    }
    const char *key;
    json_t *p;
    json_object_foreach(peers, key, p) {
        char where[PKI_IDENTITY_MAX + 16], want[PKI_IDENTITY_MAX];
        struct hub_peer *hp = &c.peers[c.n_peers];
        snprintf(where, sizeof where, "peers.%s", key);
        if (!json_is_object(p)) {
            errf(err, cap, "%s: not an object", where);
            goto fail;
        }
        if (json_check_keys(p, peer_keys, where, err, cap) < 0 ||
            name_member(p, "router", where, hp->router, err, cap) < 0 ||
            name_member(p, "node", where, hp->node, err, cap) < 0)
            goto fail;
        if (hub_make_identity(hp->router, hp->node, want, sizeof want) < 0 || strcmp(key, want) != 0) {
            errf(err, cap, "%s: the key must be the identity ROUTER.NODE (%s)", where, want);
            goto fail;
        }
        memcpy(hp->identity, want, strlen(want) + 1);
        c.n_peers++;
    }
    json_decref(j);
    hub_config_free(cfg);
    *cfg = c;
    return 0;
fail:
    free(c.peers);
    json_decref(j);
    return -1;
}

int hub_config_load(const char *path, struct hub_config *cfg, char *err, size_t cap)
{
    char *buf;
    size_t len;
    int r = read_file_max(path, HUB_CONFIG_MAX, &buf, &len);
    if (r < 0)
        return errf(err, cap, "%s: %s", path, strerror(-r));
    r = hub_config_parse(buf, len, cfg, err, cap);
    free(buf);
    return r;
}

void hub_config_free(struct hub_config *cfg)
{
    free(cfg->peers);
    cfg->peers = NULL;
    cfg->n_peers = 0;
}

const struct hub_peer *hub_config_find(const struct hub_config *cfg, const char *router, const char *node)
{
    for (size_t i = 0; i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].router, router) == 0 && strcmp(cfg->peers[i].node, node) == 0)
            return &cfg->peers[i];
    return NULL;
}

const struct hub_peer *hub_config_find_identity(const struct hub_config *cfg, const char *identity)
{
    for (size_t i = 0; i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].identity, identity) == 0)
            return &cfg->peers[i];
    return NULL;
}

/* ---- the hello line ---- */

int hub_hello_parse(const void *buf, size_t len, struct hub_hello *h, char *err, size_t cap)
{
    static const char *const keys[] = {"hello", "router", "node", "hub", NULL};
    struct hub_hello out;
    if (len > HUB_LINE_MAX)
        return errf(err, cap, "hello: longer than %d bytes", HUB_LINE_MAX);
    if (len && ((const char *)buf)[len - 1] == '\r')
        len--;
    if (len == 0)
        return errf(err, cap, "hello: empty line");
    json_t *j = load_object(buf, len, "hello", err, cap);
    if (!j)
        return -1;
    json_t *v = json_object_get(j, "hello");
    int r = -1;
    if (json_check_keys(j, keys, "hello", err, cap) < 0)
        goto out;
    if (!v) {
        errf(err, cap, "hello: missing \"hello\"");
        goto out;
    }
    if (!json_is_string(v) || json_string_length(v) != 3 || memcmp(json_string_value(v), "svr", 3) != 0) {
        errf(err, cap, "hello: \"hello\" is not \"svr\"");
        goto out;
    }
    if (name_member(j, "router", "hello", out.router, err, cap) < 0 ||
        name_member(j, "node", "hello", out.node, err, cap) < 0 || name_member(j, "hub", "hello", out.hub, err, cap) < 0)
        goto out;
    *h = out;
    r = 0;
out:
    json_decref(j);
    return r;
}

enum hub_reason hub_decide(const struct hub_config *cfg, const char *cert_identity, const struct hub_hello *h,
                           const struct hub_peer **peer, char *detail, size_t cap)
{
    char claimed[PKI_IDENTITY_MAX];
    *peer = NULL;
    if (!cert_identity || !cert_identity[0]) {
        errf(detail, cap, "the certificate names no ROUTER.NODE");
        return HUB_R_NO_IDENTITY;
    }
    if (hub_make_identity(h->router, h->node, claimed, sizeof claimed) < 0 || strcmp(claimed, cert_identity) != 0) {
        errf(detail, cap, "the certificate names %s, the hello router %s node %s", cert_identity, h->router, h->node);
        return HUB_R_IDENTITY_MISMATCH;
    }
    const struct hub_peer *p = hub_config_find(cfg, h->router, h->node);
    if (!p) {
        errf(detail, cap, "router %s node %s is not a configured peer", h->router, h->node);
        return HUB_R_UNKNOWN_PEER;
    }
    if (strcmp(h->hub, cfg->hub_name) != 0) {
        errf(detail, cap, "the hello names hub %s, this is %s", h->hub, cfg->hub_name);
        return HUB_R_WRONG_HUB;
    }
    errf(detail, cap, "ok");
    *peer = p;
    return HUB_OK;
}

int hub_keepalive_parse(const void *buf, size_t len, long long *n, char *err, size_t cap)
{
    static const char *const keys[] = {"keepalive", NULL};
    if (len > HUB_LINE_MAX)
        return errf(err, cap, "line: longer than %d bytes", HUB_LINE_MAX);
    if (len && ((const char *)buf)[len - 1] == '\r')
        len--;
    if (len == 0)
        return errf(err, cap, "line: empty");
    json_t *j = load_object(buf, len, "line", err, cap);
    if (!j)
        return -1;
    int r = -1;
    json_t *v = json_object_get(j, "keepalive");
    if (json_check_keys(j, keys, "line", err, cap) < 0)
        goto out;
    if (!v) {
        errf(err, cap, "line: not a keepalive");
        goto out;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        errf(err, cap, "line: \"keepalive\" is not an integer >= 0");
        goto out;
    }
    *n = (long long)json_integer_value(v);
    r = 0;
out:
    json_decref(j);
    return r;
}

/* ---- answers ---- */

static int dump_line(json_t *j, char *out, size_t cap)
{
    if (!j)
        return -1;
    size_t n = json_dumpb(j, out, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (n == 0 || n + 2 > cap)
        return -1;
    out[n++] = '\n';
    out[n] = '\0';
    return (int)n;
}

int hub_answer_peered(const char *hub_name, const char *peer, char *out, size_t cap)
{
    return dump_line(json_pack("{s:s, s:s, s:s}", "result", "peered", "hub", hub_name, "peer", peer), out, cap);
}

int hub_answer_refused(enum hub_reason r, char *out, size_t cap)
{
    return dump_line(json_pack("{s:s, s:s}", "result", "refused", "reason", hub_reason_name(r)), out, cap);
}

int hub_answer_keepalive(long long n, char *out, size_t cap)
{
    return dump_line(json_pack("{s:I}", "keepalive", (json_int_t)n), out, cap);
}

/* ---- state file ---- */

char *hub_iso_time(time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "-");
    return out;
}

char *hub_state_json(const char *hub_name, const struct hub_peer_status *p, size_t n)
{
    json_t *peers = json_object(), *root = json_pack("{s:s}", "hub", hub_name);
    char *s = NULL;
    if (!peers || !root)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char since[32];
        json_t *e = json_pack("{s:s, s:s}", "state", p[i].state == HUB_PEER_PEERED ? "peered" : "down", "since",
                              hub_iso_time(p[i].since, since, sizeof since));
        if (!e)
            goto out;
        if (p[i].addr[0])
            json_object_set_new(e, "addr", json_string(p[i].addr));
        json_object_set_new(peers, p[i].identity, e);
    }
    json_object_set(root, "peers", peers);
    s = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
out:
    json_decref(peers);
    json_decref(root);
    return s;
}

/* ---- listen address ---- */

int hub_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char host[64];
    const char *port = NULL;
    size_t hl;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e)
            return -1;
        hl = (size_t)(e - s - 1);
        if (hl == 0 || hl >= sizeof host)
            return -1;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        if (e[1] == ':')
            port = e + 2;
        else if (e[1] != '\0')
            return -1;
    } else {
        const char *c = strchr(s, ':');
        hl = c ? (size_t)(c - s) : strlen(s);
        if (hl == 0 || hl >= sizeof host)
            return -1;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (c)
            port = c + 1;
    }
    unsigned long pn = HUB_DEFAULT_PORT;
    if (port) {
        char *end;
        if (!*port || *port < '0' || *port > '9')
            return -1;
        pn = strtoul(port, &end, 10);
        if (*end || pn == 0 || pn > 65535)
            return -1;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (s[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)pn);
        *sslen = sizeof *sin;
        return 0;
    }
    if (s[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)pn);
        *sslen = sizeof *sin6;
        return 0;
    }
    return -1;
}
