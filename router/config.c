/* Router configuration parser: see config.h for the accepted syntax. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/dhcp.h"

#define CFG_MAX_WORDS 16
#define CFG_WORD_MAX 256
#define CFG_FILE_MAX (1024 * 1024)

const char *mgmt_proxy_mode_name(enum mgmt_proxy_mode m)
{
    switch (m) {
    case MGMT_PROXY_LEARNED: return "learned";
    case MGMT_PROXY_STATIC: return "static";
    }
    return "unknown";
}

/* One line split in words (pointers into a private copy, NUL-terminated). */
struct words {
    char buf[CFG_WORD_MAX * 2];
    const char *w[CFG_MAX_WORDS];
    size_t n;
};

struct pctx {
    struct router_config *c;
    unsigned line;
    char *err;
    size_t errcap;
    unsigned router_line;
};

__attribute__((format(printf, 2, 3))) static int fail(struct pctx *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errcap)
        snprintf(p->err, p->errcap, "line %u: %s", p->line, msg);
    return -1;
}

__attribute__((format(printf, 3, 4))) static int fail_at(struct pctx *p, unsigned line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errcap)
        snprintf(p->err, p->errcap, "line %u: %s", line, msg);
    return -1;
}

/* A word for an error message: printable ASCII only, truncated. */
static const char *shown(const char *w, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; w[i] && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)w[i];
        if (i >= 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            buf[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        }
    }
    buf[o] = '\0';
    return buf;
}
#define SHOW(w) shown((w), (char[80]){0}, 80)

/* Split one line (no '\n') into words. Returns 0 or -1 (error set). */
static int split_line(struct pctx *p, const char *s, size_t len, struct words *out)
{
    size_t o = 0;
    out->n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i >= len || s[i] == '#')
            break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            i++;
        size_t wl = i - start;
        if (out->n == CFG_MAX_WORDS)
            return fail(p, "too many words (at most %d)", CFG_MAX_WORDS);
        if (wl >= CFG_WORD_MAX || o + wl + 1 > sizeof out->buf)
            return fail(p, "word too long");
        for (size_t k = start; k < i; k++) {
            unsigned char ch = (unsigned char)s[k];
            if (ch < 0x20 || ch == 0x7f)
                return fail(p, "control character 0x%02x", ch);
        }
        memcpy(out->buf + o, s + start, wl);
        out->buf[o + wl] = '\0';
        out->w[out->n++] = out->buf + o;
        o += wl + 1;
    }
    return 0;
}

/* Copy a name into a field, with validation. */
static int take_name(struct pctx *p, const char *what, const char *w, char *dst, size_t cap)
{
    size_t l = strlen(w);
    if (l == 0)
        return fail(p, "empty %s name", what);
    if (l >= cap)
        return fail(p, "%s name \"%s\" too long (at most %zu characters)", what, SHOW(w), cap - 1);
    for (size_t i = 0; i < l; i++) {
        unsigned char ch = (unsigned char)w[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '\'')
            return fail(p, "invalid character in %s name \"%s\"", what, SHOW(w));
    }
    memcpy(dst, w, l + 1);
    return 0;
}

static int parse_bool(struct pctx *p, const char *what, const char *w, bool *out)
{
    if (strcmp(w, "true") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(w, "false") == 0) {
        *out = false;
        return 0;
    }
    return fail(p, "%s: expected true or false, got \"%s\"", what, SHOW(w));
}

static int parse_port(struct pctx *p, const char *w, uint16_t *out)
{
    unsigned long v = 0;
    size_t l = strlen(w);
    if (l == 0 || l > 5)
        return fail(p, "invalid port \"%s\" (1-65535)", SHOW(w));
    for (size_t i = 0; i < l; i++) {
        if (w[i] < '0' || w[i] > '9')
            return fail(p, "invalid port \"%s\" (1-65535)", SHOW(w));
        v = v * 10 + (unsigned long)(w[i] - '0');
    }
    if (v < 1 || v > 65535)
        return fail(p, "port %s out of range (1-65535)", SHOW(w));
    *out = (uint16_t)v;
    return 0;
}

/* Strict IPv4: reuse proxy_addr_parse() so the config and DHCP accept the same addresses. */
static int parse_addr(struct pctx *p, const char *w, struct in_addr *out)
{
    char tmp[CFG_WORD_MAX + 8];
    const char *why = "invalid";
    uint16_t port;
    if (strchr(w, ':'))
        return fail(p, "invalid IPv4 address \"%s\" (give the port on its own line)", SHOW(w));
    int n = snprintf(tmp, sizeof tmp, "%s:1", w);
    if (n < 0 || (size_t)n >= sizeof tmp || proxy_addr_parse(tmp, (size_t)n, out, &port, &why) < 0)
        return fail(p, "invalid IPv4 address \"%s\"", SHOW(w));
    return 0;
}

static int need(struct pctx *p, const struct words *w, size_t i, const char *after)
{
    if (i >= w->n)
        return fail(p, "missing value after \"%s\"", after);
    return 0;
}

static int no_more(struct pctx *p, const struct words *w, size_t i)
{
    if (i < w->n)
        return fail(p, "unexpected \"%s\" after \"%s\"", SHOW(w->w[i]), w->w[i - 1]);
    return 0;
}

static int add_node(struct pctx *p, const char *name)
{
    struct router_config *c = p->c;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i], name) == 0)
            return 0;
    if (c->n_nodes == RCFG_MAX_NODES)
        return fail(p, "too many nodes (at most %d)", RCFG_MAX_NODES);
    snprintf(c->nodes[c->n_nodes++], RCFG_NAME_MAX, "%s", name);
    return 0;
}

static struct rcfg_devif *get_devif(struct pctx *p, const char *node, const char *name)
{
    struct router_config *c = p->c;
    for (size_t i = 0; i < c->n_devifs; i++)
        if (strcmp(c->devifs[i].node, node) == 0 && strcmp(c->devifs[i].name, name) == 0)
            return &c->devifs[i];
    if (c->n_devifs == RCFG_MAX_DEVIFS) {
        fail(p, "too many device-interfaces (at most %d)", RCFG_MAX_DEVIFS);
        return NULL;
    }
    struct rcfg_devif *d = &c->devifs[c->n_devifs++];
    memset(d, 0, sizeof *d);
    snprintf(d->node, sizeof d->node, "%s", node);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->line = p->line;
    return d;
}

static struct rcfg_netif *get_netif(struct pctx *p, const char *node, const char *devif, const char *name)
{
    struct router_config *c = p->c;
    for (size_t i = 0; i < c->n_netifs; i++) {
        struct rcfg_netif *n = &c->netifs[i];
        if (strcmp(n->node, node) == 0 && strcmp(n->name, name) == 0) {
            if (strcmp(n->devif, devif) != 0) {
                fail(p, "network-interface \"%s\" of node \"%s\" already belongs to device-interface \"%s\" "
                        "(line %u)", name, node, n->devif, n->line);
                return NULL;
            }
            return n;
        }
    }
    if (c->n_netifs == RCFG_MAX_NETIFS) {
        fail(p, "too many network-interfaces (at most %d)", RCFG_MAX_NETIFS);
        return NULL;
    }
    struct rcfg_netif *n = &c->netifs[c->n_netifs++];
    memset(n, 0, sizeof *n);
    snprintf(n->node, sizeof n->node, "%s", node);
    snprintf(n->devif, sizeof n->devif, "%s", devif);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->line = p->line;
    return n;
}

static int set_bool_once(struct pctx *p, const char *what, bool *is_set, bool *val, bool v)
{
    if (*is_set && *val != v)
        return fail(p, "%s already set to %s", what, *val ? "true" : "false");
    *is_set = true;
    *val = v;
    return 0;
}

static int st_management_proxy(struct pctx *p, const struct words *w, size_t i)
{
    struct router_config *c = p->c;
    if (i >= w->n)
        return 0; /* bare container */
    const char *kw = w->w[i++];
    if (strcmp(kw, "enable") == 0 || strcmp(kw, "enabled") == 0) {
        bool v = true;
        if (i < w->n) {
            if (parse_bool(p, kw, w->w[i++], &v) < 0)
                return -1;
        } else if (strcmp(kw, "enabled") == 0) {
            return need(p, w, i, kw);
        }
        if (no_more(p, w, i) < 0)
            return -1;
        return set_bool_once(p, "management-proxy enable", &c->enable_set, &c->enable_cfg, v);
    }
    if (strcmp(kw, "mode") == 0) {
        enum mgmt_proxy_mode m;
        if (need(p, w, i, kw) < 0)
            return -1;
        const char *v = w->w[i++];
        if (strcmp(v, "static") == 0)
            m = MGMT_PROXY_STATIC;
        else if (strcmp(v, "learned") == 0)
            m = MGMT_PROXY_LEARNED;
        else
            return fail(p, "mode: expected static or learned, got \"%s\"", SHOW(v));
        if (no_more(p, w, i) < 0)
            return -1;
        if (c->mode_set && c->mode != m)
            return fail(p, "management-proxy mode already set to %s on line %u", mgmt_proxy_mode_name(c->mode),
                        c->mode_line);
        if (!c->mode_set)
            c->mode_line = p->line;
        c->mode_set = true;
        c->mode = m;
        return 0;
    }
    if (strcmp(kw, "proxy") == 0) {
        char name[RCFG_ROUTER_NAME_MAX];
        if (need(p, w, i, kw) < 0 || take_name(p, "proxy", w->w[i++], name, sizeof name) < 0)
            return -1;
        if (i >= w->n)
            return fail(p, "missing \"address\" or \"port\" after proxy \"%s\"", name);
        const char *what = w->w[i++];
        bool is_addr = strcmp(what, "address") == 0;
        if (!is_addr && strcmp(what, "port") != 0)
            return fail(p, "unknown keyword \"%s\"", SHOW(what));
        if (need(p, w, i, what) < 0)
            return -1;
        const char *val = w->w[i++];
        struct in_addr a = {0};
        uint16_t port = 0;
        if (is_addr ? parse_addr(p, val, &a) : parse_port(p, val, &port))
            return -1;
        if (no_more(p, w, i) < 0)
            return -1;
        struct rcfg_proxy *px = NULL;
        for (size_t k = 0; k < c->n_proxies; k++)
            if (strcmp(c->proxies[k].name, name) == 0)
                px = &c->proxies[k];
        if (!px) {
            if (c->n_proxies == RCFG_MAX_PROXIES)
                return fail(p, "too many proxies (at most %d)", RCFG_MAX_PROXIES);
            px = &c->proxies[c->n_proxies++];
            memset(px, 0, sizeof *px);
            memcpy(px->name, name, strlen(name) + 1);
            px->line = p->line;
        }
        if (is_addr) {
            if (px->have_addr && px->addr.s_addr != a.s_addr)
                return fail(p, "proxy \"%s\" address already set", name);
            px->have_addr = true;
            px->addr = a;
        } else {
            if (px->have_port && px->port != port)
                return fail(p, "proxy \"%s\" port already set to %u", name, px->port);
            px->have_port = true;
            px->port = port;
        }
        return 0;
    }
    if (strcmp(kw, "username") == 0 || strcmp(kw, "password") == 0) {
        bool is_user = kw[0] == 'u';
        if (need(p, w, i, kw) < 0)
            return -1;
        const char *v = w->w[i++];
        if (i < w->n) /* no_more() would echo the previous word: the password */
            return fail(p, "unexpected \"%s\" after management-proxy %s", SHOW(w->w[i]), kw);
        size_t l = strlen(v);
        if (l >= RCFG_CRED_MAX)
            return fail(p, "management-proxy %s too long (at most %d characters)", kw, RCFG_CRED_MAX - 1);
        for (size_t k = 0; k < l; k++) {
            unsigned char ch = (unsigned char)v[k];
            if (ch <= 0x20 || ch >= 0x7f || (is_user && ch == ':'))
                return fail(p, "management-proxy %s: %s", kw,
                            is_user ? "printable ASCII without ':' expected" : "printable ASCII expected");
        }
        char *dst = is_user ? c->proxy_user : c->proxy_pass;
        bool *have = is_user ? &c->have_proxy_user : &c->have_proxy_pass;
        if (*have && strcmp(dst, v) != 0)
            return fail(p, "management-proxy %s already set", kw); /* never echo a password */
        if (!*have) {
            if (is_user)
                c->proxy_user_line = p->line;
            else
                c->proxy_pass_line = p->line;
        }
        *have = true;
        memcpy(dst, v, l + 1);
        return 0;
    }
    return fail(p, "unknown keyword \"%s\"", SHOW(kw));
}

/* `network-interface ...` directly under the router (short forms). */
static int st_router_netif(struct pctx *p, const struct words *w, size_t i)
{
    struct router_config *c = p->c;
    if (need(p, w, i, "network-interface") < 0)
        return -1;
    if (strcmp(w->w[i], "enable-proxy-discovery") == 0) {
        /* The doc's literal form: no name, router-wide. */
        bool v = false;
        const char *kw = w->w[i++];
        if (need(p, w, i, kw) < 0 || parse_bool(p, kw, w->w[i++], &v) < 0 || no_more(p, w, i) < 0)
            return -1;
        return set_bool_once(p, "network-interface enable-proxy-discovery", &c->discovery_default_set,
                             &c->discovery_default, v);
    }
    char name[RCFG_NAME_MAX];
    if (take_name(p, "network-interface", w->w[i++], name, sizeof name) < 0)
        return -1;
    if (i >= w->n)
        return fail(p, "missing keyword after network-interface \"%s\"", name);
    const char *kw = w->w[i++];
    if (strcmp(kw, "enable-proxy-discovery") != 0)
        return fail(p, "unknown keyword \"%s\"", SHOW(kw));
    bool v = false;
    if (need(p, w, i, kw) < 0 || parse_bool(p, kw, w->w[i++], &v) < 0 || no_more(p, w, i) < 0)
        return -1;
    for (size_t k = 0; k < c->n_overrides; k++) {
        struct rcfg_netif_override *o = &c->overrides[k];
        if (strcmp(o->name, name) == 0) {
            if (o->discovery != v)
                return fail(p, "network-interface \"%s\" enable-proxy-discovery already set to %s on line %u",
                            name, o->discovery ? "true" : "false", o->line);
            return 0;
        }
    }
    if (c->n_overrides == RCFG_MAX_OVERRIDES)
        return fail(p, "too many network-interface settings (at most %d)", RCFG_MAX_OVERRIDES);
    struct rcfg_netif_override *o = &c->overrides[c->n_overrides++];
    memcpy(o->name, name, strlen(name) + 1);   /* not sizeof: the bytes after the NUL are uninitialized */
    o->discovery = v;
    o->line = p->line;
    return 0;
}

static int valid_ifname(const char *s)
{
    size_t l = strlen(s);
    if (l == 0 || l >= RCFG_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (s[i] == '/' || s[i] == ':' || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static int st_node(struct pctx *p, const struct words *w, size_t i)
{
    char node[RCFG_NAME_MAX], devif[RCFG_NAME_MAX], netif[RCFG_NAME_MAX];
    if (need(p, w, i, "node") < 0 || take_name(p, "node", w->w[i++], node, sizeof node) < 0)
        return -1;
    if (add_node(p, node) < 0)
        return -1;
    if (i >= w->n)
        return 0;
    const char *kw = w->w[i++];
    if (strcmp(kw, "device-interface") != 0)
        return fail(p, "unknown keyword \"%s\"", SHOW(kw));
    if (need(p, w, i, kw) < 0 || take_name(p, "device-interface", w->w[i++], devif, sizeof devif) < 0)
        return -1;
    struct rcfg_devif *d = get_devif(p, node, devif);
    if (!d)
        return -1;
    if (i >= w->n)
        return 0;
    kw = w->w[i++];
    if (strcmp(kw, "target-interface") == 0) {
        if (need(p, w, i, kw) < 0)
            return -1;
        const char *ifn = w->w[i++];
        if (!valid_ifname(ifn))
            return fail(p, "invalid Linux interface name \"%s\" (1-%d characters, no '/', ':' or spaces)", SHOW(ifn),
                        RCFG_IFNAME_MAX - 1);
        if (no_more(p, w, i) < 0)
            return -1;
        if (d->have_target && strcmp(d->ifname, ifn) != 0)
            return fail(p, "device-interface \"%s\" target-interface already set to \"%s\"", devif, d->ifname);
        d->have_target = true;
        snprintf(d->ifname, sizeof d->ifname, "%s", ifn);
        return 0;
    }
    if (strcmp(kw, "network-interface") != 0)
        return fail(p, "unknown keyword \"%s\"", SHOW(kw));
    if (need(p, w, i, kw) < 0 || take_name(p, "network-interface", w->w[i++], netif, sizeof netif) < 0)
        return -1;
    struct rcfg_netif *n = get_netif(p, node, devif, netif);
    if (!n)
        return -1;
    if (i >= w->n)
        return 0;
    kw = w->w[i++];
    if (strcmp(kw, "dhcp") == 0) {
        if (need(p, w, i, kw) < 0)
            return -1;
        const char *v = w->w[i++];
        bool on;
        if (strcmp(v, "v4") == 0)
            on = true;
        else if (strcmp(v, "disabled") == 0)
            on = false;
        else
            return fail(p, "dhcp: expected v4 or disabled, got \"%s\"", SHOW(v));
        if (no_more(p, w, i) < 0)
            return -1;
        n->dhcp = on;
        return 0;
    }
    if (strcmp(kw, "enable-proxy-discovery") == 0) {
        bool v = false;
        if (need(p, w, i, kw) < 0 || parse_bool(p, kw, w->w[i++], &v) < 0 || no_more(p, w, i) < 0)
            return -1;
        return set_bool_once(p, "enable-proxy-discovery", &n->discovery_set, &n->discovery_cfg, v);
    }
    return fail(p, "unknown keyword \"%s\"", SHOW(kw));
}

static int statement(struct pctx *p, const struct words *w)
{
    static const char *const head[] = {"config", "authority", "router"};
    struct router_config *c = p->c;
    for (size_t i = 0; i < 3; i++) {
        if (i >= w->n)
            return fail(p, "incomplete statement: expected \"config authority router NAME ...\"");
        if (strcmp(w->w[i], head[i]) != 0)
            return fail(p, "unknown keyword \"%s\" (expected \"%s\")", SHOW(w->w[i]), head[i]);
    }
    if (w->n < 4)
        return fail(p, "missing router name after \"router\"");
    char r[RCFG_ROUTER_NAME_MAX];
    if (take_name(p, "router", w->w[3], r, sizeof r) < 0)
        return -1;
    if (c->router[0] == '\0') {
        memcpy(c->router, r, strlen(r) + 1);
        p->router_line = p->line;
    } else if (strcmp(c->router, r) != 0) {
        return fail(p, "router \"%s\" differs from router \"%s\" of line %u (one router per file)", r, c->router,
                    p->router_line);
    }
    if (w->n == 4)
        return 0;
    const char *kw = w->w[4];
    if (strcmp(kw, "management-proxy") == 0)
        return st_management_proxy(p, w, 5);
    if (strcmp(kw, "network-interface") == 0)
        return st_router_netif(p, w, 5);
    if (strcmp(kw, "node") == 0)
        return st_node(p, w, 5);
    return fail(p, "unknown keyword \"%s\"", SHOW(kw));
}

static bool override_for(const struct router_config *c, const char *netif, bool *v)
{
    for (size_t k = 0; k < c->n_overrides; k++)
        if (strcmp(c->overrides[k].name, netif) == 0) {
            *v = c->overrides[k].discovery;
            return true;
        }
    if (c->discovery_default_set) {
        *v = c->discovery_default;
        return true;
    }
    return false;
}

static int finish(struct pctx *p)
{
    struct router_config *c = p->c;
    /* Proxies: both halves present. */
    for (size_t k = 0; k < c->n_proxies; k++) {
        const struct rcfg_proxy *px = &c->proxies[k];
        if (px->have_addr && !px->have_port)
            return fail_at(p, px->line, "proxy \"%s\" has an address but no port", px->name);
        if (!px->have_addr && px->have_port)
            return fail_at(p, px->line, "proxy \"%s\" has a port but no address", px->name);
    }
    if (c->have_proxy_pass && !c->have_proxy_user)
        return fail_at(p, c->proxy_pass_line, "management-proxy password without management-proxy username");
    if (c->mode_set && c->mode == MGMT_PROXY_STATIC && c->n_proxies == 0)
        return fail_at(p, c->mode_line,
                       "management-proxy mode static needs a proxy (proxy NAME address A + proxy NAME port P)");
    /* Effective enable. */
    if (c->enable_set)
        c->enabled = c->enable_cfg;
    else
        c->enabled = c->mode_set && c->mode == MGMT_PROXY_STATIC;
    /* Interfaces: resolve the Linux name and the effective discovery flag. */
    for (size_t k = 0; k < c->n_devifs; k++) {
        struct rcfg_devif *d = &c->devifs[k];
        if (!d->have_target) {
            if (!valid_ifname(d->name))
                return fail_at(p, d->line,
                               "device-interface \"%s\" is not a valid Linux interface name: set its target-interface",
                               d->name);
            snprintf(d->ifname, sizeof d->ifname, "%s", d->name);
        }
    }
    for (size_t k = 0; k < c->n_netifs; k++) {
        struct rcfg_netif *n = &c->netifs[k];
        for (size_t j = 0; j < c->n_devifs; j++)
            if (strcmp(c->devifs[j].node, n->node) == 0 && strcmp(c->devifs[j].name, n->devif) == 0)
                snprintf(n->ifname, sizeof n->ifname, "%s", c->devifs[j].ifname);
        bool v = true;
        if (n->discovery_set)
            v = n->discovery_cfg;
        else
            override_for(c, n->name, &v);
        n->discovery = v;
    }
    return 0;
}

int router_config_parse(const char *buf, size_t len, struct router_config *out, char *err, size_t errcap)
{
    struct pctx p = {.c = out, .line = 0, .err = err, .errcap = errcap};
    struct words w;
    memset(out, 0, sizeof *out);
    if (err && errcap)
        err[0] = '\0';
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        p.line++;
        if (memchr(buf + pos, '\0', end - pos))
            return fail(&p, "NUL byte");
        if (split_line(&p, buf + pos, end - pos, &w) < 0)
            return -1;
        if (w.n > 0 && statement(&p, &w) < 0)
            return -1;
        pos = end + 1;
    }
    return finish(&p);
}

int router_config_load(const char *path, struct router_config *out, char *err, size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    char e[256];
    int r = read_file_max(path, CFG_FILE_MAX, &buf, &len);
    if (r < 0) {
        memset(out, 0, sizeof *out);
        if (err && errcap)
            snprintf(err, errcap, "%s: %s", path, r == -EFBIG ? "file too large (over 1 MiB)" : strerror(-r));
        return -1;
    }
    r = router_config_parse(buf, len, out, e, sizeof e);
    free(buf);
    if (r < 0 && err && errcap)
        snprintf(err, errcap, "%s: %s", path, e);
    return r;
}

const struct rcfg_netif *router_config_find_netif(const struct router_config *c, const char *netif)
{
    for (size_t k = 0; k < c->n_netifs; k++)
        if (strcmp(c->netifs[k].name, netif) == 0)
            return &c->netifs[k];
    return NULL;
}

const struct rcfg_netif *router_config_find_netif_on(const struct router_config *c, const char *node,
                                                     const char *netif)
{
    for (size_t k = 0; k < c->n_netifs; k++)
        if (strcmp(c->netifs[k].node, node) == 0 && strcmp(c->netifs[k].name, netif) == 0)
            return &c->netifs[k];
    return NULL;
}

const struct rcfg_netif *router_config_find_netif_by_ifname(const struct router_config *c, const char *node,
                                                            const char *ifname)
{
    const struct rcfg_netif *first = NULL;
    for (size_t k = 0; k < c->n_netifs; k++) {
        const struct rcfg_netif *n = &c->netifs[k];
        if (strcmp(n->node, node) != 0 || strcmp(n->ifname, ifname) != 0)
            continue;
        if (n->dhcp)
            return n;
        if (!first)
            first = n;
    }
    return first;
}

const struct rcfg_proxy *router_config_find_proxy(const struct router_config *c, const char *name)
{
    for (size_t k = 0; k < c->n_proxies; k++)
        if (strcmp(c->proxies[k].name, name) == 0)
            return &c->proxies[k];
    return NULL;
}

bool router_config_discovery_enabled(const struct router_config *c, const char *node, const char *netif)
{
    if (node) {
        const struct rcfg_netif *n = router_config_find_netif_on(c, node, netif);
        if (n)
            return n->discovery;
    }
    bool v = true;
    override_for(c, netif, &v);
    return v;
}

size_t router_config_dhcp_netifs(const struct router_config *c, const char *node, const struct rcfg_netif **out,
                                 size_t max)
{
    size_t n = 0;
    for (size_t k = 0; k < c->n_netifs; k++) {
        const struct rcfg_netif *ni = &c->netifs[k];
        if (!ni->dhcp || strcmp(ni->node, node) != 0)
            continue;
        if (n < max)
            out[n] = ni;
        n++;
    }
    return n;
}
