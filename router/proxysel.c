/* Learned-proxy table and active-proxy selection: see proxysel.h. */
#include "proxysel.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/dhcp.h"

static const char *const lease_names[LEASE__COUNT] = {
    [LEASE_NONE] = "none",         [LEASE_BOUND] = "bound",     [LEASE_RENEWING] = "renewing",
    [LEASE_REBINDING] = "rebinding", [LEASE_EXPIRED] = "expired",
};

const char *lease_state_name(enum lease_state s)
{
    return (unsigned)s < LEASE__COUNT ? lease_names[s] : "unknown";
}

bool lease_state_from_name(const char *name, enum lease_state *out)
{
    for (unsigned i = 0; i < LEASE__COUNT; i++)
        if (name && strcmp(name, lease_names[i]) == 0) {
            *out = (enum lease_state)i;
            return true;
        }
    *out = LEASE_NONE;
    return false;
}

const char *proxy_source_name(enum proxy_source s)
{
    switch (s) {
    case PROXY_SRC_NONE: return "none";
    case PROXY_SRC_CONFIG_STATIC: return "config-static";
    case PROXY_SRC_ONBOARDING_JSON: return "onboarding-json";
    case PROXY_SRC_LEARNED: return "learned";
    }
    return "unknown";
}

char *proxy_addr_format(struct in_addr a, uint16_t port, char *buf, size_t cap)
{
    char ip[INET_ADDRSTRLEN];
    if (!inet_ntop(AF_INET, &a, ip, sizeof ip))
        snprintf(ip, sizeof ip, "?");
    snprintf(buf, cap, "%s:%u", ip, (unsigned)port);
    return buf;
}

void proxy_table_init(struct proxy_table *t)
{
    memset(t, 0, sizeof *t);
}

static bool name_ok(const char *s, size_t cap)
{
    return s && s[0] && strnlen(s, cap) < cap;
}

static ssize_t find_idx(const struct proxy_table *t, const char *node, const char *netif)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].node, node) == 0 && strcmp(t->e[i].netif, netif) == 0)
            return (ssize_t)i;
    return -1;
}

struct learned_proxy *proxy_table_find(struct proxy_table *t, const char *node, const char *netif)
{
    ssize_t i = find_idx(t, node, netif);
    return i < 0 ? NULL : &t->e[i];
}

int proxy_table_upsert(struct proxy_table *t, const struct learned_proxy *p)
{
    if (!name_ok(p->node, sizeof p->node) || !name_ok(p->netif, sizeof p->netif) ||
        strnlen(p->ifname, sizeof p->ifname) >= sizeof p->ifname)
        return -1;
    ssize_t i = find_idx(t, p->node, p->netif);
    if (i >= 0) {
        struct learned_proxy *e = &t->e[i];
        bool same = e->addr.s_addr == p->addr.s_addr && e->port == p->port;
        *e = *p;
        return same ? PROXY_UPSERT_SAME : PROXY_UPSERT_CHANGED;
    }
    if (t->n == PROXY_TABLE_MAX)
        return -1;
    t->e[t->n++] = *p;
    return PROXY_UPSERT_NEW;
}

static void remove_at(struct proxy_table *t, size_t i)
{
    t->e[i] = t->e[t->n - 1];
    memset(&t->e[t->n - 1], 0, sizeof t->e[0]);
    t->n--;
}

int proxy_table_remove(struct proxy_table *t, const char *node, const char *netif, struct learned_proxy *removed)
{
    ssize_t i = find_idx(t, node, netif);
    if (i < 0)
        return -1;
    if (removed)
        *removed = t->e[i];
    remove_at(t, (size_t)i);
    return 0;
}

size_t proxy_table_remove_node(struct proxy_table *t, const char *node)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n;) {
        if (strcmp(t->e[i].node, node) == 0) {
            remove_at(t, i);
            n++;
        } else {
            i++;
        }
    }
    return n;
}

int proxy_table_set_lease(struct proxy_table *t, const char *node, const char *netif, enum lease_state s)
{
    struct learned_proxy *e = proxy_table_find(t, node, netif);
    if (!e)
        return -1;
    e->lease = s;
    return 0;
}

size_t proxy_table_expire(struct proxy_table *t, time_t now, time_t peer_timeout, struct learned_proxy *dropped,
                          size_t max_dropped)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n;) {
        const struct learned_proxy *e = &t->e[i];
        bool lease_gone = e->expires_at != 0 && e->expires_at <= now;
        bool peer_gone = e->from_peer && now - e->peer_seen_at > peer_timeout;
        if (lease_gone || peer_gone) {
            if (dropped && n < max_dropped)
                dropped[n] = *e;
            n++;
            remove_at(t, i);
        } else {
            i++;
        }
    }
    return n;
}

static int cmp_node_netif(const void *a, const void *b)
{
    const struct learned_proxy *x = *(const struct learned_proxy *const *)a;
    const struct learned_proxy *y = *(const struct learned_proxy *const *)b;
    int c = strcmp(x->node, y->node);
    return c ? c : strcmp(x->netif, y->netif);
}

size_t proxy_table_sorted(const struct proxy_table *t, const struct learned_proxy **out, size_t max)
{
    size_t n = t->n < max ? t->n : max;
    for (size_t i = 0; i < n; i++)
        out[i] = &t->e[i];
    if (n > 1)
        qsort(out, n, sizeof out[0], cmp_node_netif);
    return n;
}

int proxysel_learn(struct proxy_table *t, const char *node, const char *netif, const char *ifname,
                   const uint8_t *opt43, size_t len, time_t now, time_t expires, const char **why,
                   bool *had_old)
{
    const char *dummy;
    const uint8_t *data = NULL;
    uint8_t dlen = 0;
    struct learned_proxy p;
    if (!why)
        why = &dummy;
    if (had_old)
        *had_old = false;
    memset(&p, 0, sizeof p);
    if (!name_ok(node, sizeof p.node) || !name_ok(netif, sizeof p.netif) ||
        (ifname && strnlen(ifname, sizeof p.ifname) >= sizeof p.ifname)) {
        *why = "node, network-interface or interface name too long";
        return -1;
    }
    int r;
    if (!opt43 || len == 0) {
        *why = "no Option 43";
        goto reject;
    }
    r = dhcp_vendor_find(opt43, len, DHCP_SUBOPT_PROXY, &data, &dlen);
    if (r == -1) {
        *why = "no sub-option 128 in Option 43";
        goto reject;
    }
    if (r < 0) {
        *why = "malformed Option 43 (a sub-option runs past its end)";
        goto reject;
    }
    if (proxy_addr_parse((const char *)data, dlen, &p.addr, &p.port, why) < 0)
        goto reject;
    snprintf(p.node, sizeof p.node, "%s", node);
    snprintf(p.netif, sizeof p.netif, "%s", netif);
    snprintf(p.ifname, sizeof p.ifname, "%s", ifname ? ifname : "");
    p.lease = LEASE_BOUND;
    p.learned_at = now;
    p.expires_at = expires;
    p.from_peer = false;
    r = proxy_table_upsert(t, &p);
    if (r < 0) {
        *why = "learned-proxy table full";
        return -1;
    }
    if (had_old)
        *had_old = r != PROXY_UPSERT_NEW;
    return r;
reject:
    if (proxy_table_remove(t, node, netif, NULL) == 0 && had_old)
        *had_old = true;
    return -1;
}

/* Order for "lowest wins": IPv4 as an integer, then port, then a tie-break string pair. */
static int cmp_candidate(struct in_addr a1, uint16_t p1, const char *s1, const char *t1, struct in_addr a2,
                         uint16_t p2, const char *s2, const char *t2)
{
    uint32_t x = ntohl(a1.s_addr), y = ntohl(a2.s_addr);
    if (x != y)
        return x < y ? -1 : 1;
    if (p1 != p2)
        return p1 < p2 ? -1 : 1;
    int c = strcmp(s1, s2);
    if (c)
        return c;
    return strcmp(t1, t2);
}

int proxysel_select(const struct router_config *cfg, const struct onboarding_info *ob, bool onboarded,
                    const struct proxy_table *t, struct active_proxy *out)
{
    memset(out, 0, sizeof *out);
    out->enabled = cfg->enabled;
    out->mode = cfg->mode;

    /* 1. static config. */
    if (cfg->enabled && cfg->mode == MGMT_PROXY_STATIC) {
        const struct rcfg_proxy *best = NULL;
        for (size_t i = 0; i < cfg->n_proxies; i++) {
            const struct rcfg_proxy *px = &cfg->proxies[i];
            if (!px->have_addr || !px->have_port)
                continue;
            if (!best || cmp_candidate(px->addr, px->port, px->name, "", best->addr, best->port, best->name, "") < 0)
                best = px;
        }
        if (best) {
            out->source = PROXY_SRC_CONFIG_STATIC;
            out->addr = best->addr;
            out->port = best->port;
            snprintf(out->name, sizeof out->name, "%s", best->name);
            return 0;
        }
    }

    /* 2. onboarding.json until onboarded. */
    if (ob && ob->have_proxy && !onboarded) {
        out->source = PROXY_SRC_ONBOARDING_JSON;
        out->addr = ob->proxy_addr;
        out->port = ob->proxy_port;
        return 0;
    }

    /* 3. learned. */
    if (!cfg->enabled) {
        snprintf(out->reason, sizeof out->reason, "management-proxy disabled");
        return 1;
    }
    if (cfg->mode == MGMT_PROXY_STATIC) {
        snprintf(out->reason, sizeof out->reason, "mode static without a complete proxy");
        return 1;
    }
    const struct learned_proxy *best = NULL;
    size_t n_disabled = 0, n_expired = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        const struct learned_proxy *e = &t->e[i];
        if (e->lease == LEASE_EXPIRED) {
            n_expired++;
            continue;
        }
        if (!router_config_discovery_enabled(cfg, e->node, e->netif)) {
            n_disabled++;
            continue;
        }
        if (!best || cmp_candidate(e->addr, e->port, e->node, e->netif, best->addr, best->port, best->node,
                                   best->netif) < 0)
            best = e;
    }
    if (!best) {
        if (n_disabled)
            snprintf(out->reason, sizeof out->reason,
                     "no proxy learned (%zu ignored: enable-proxy-discovery false)", n_disabled);
        else if (n_expired)
            snprintf(out->reason, sizeof out->reason, "no proxy learned (%zu with an expired lease)", n_expired);
        else
            snprintf(out->reason, sizeof out->reason, "no proxy learned");
        return 1;
    }
    out->source = PROXY_SRC_LEARNED;
    out->addr = best->addr;
    out->port = best->port;
    snprintf(out->node, sizeof out->node, "%s", best->node);
    snprintf(out->netif, sizeof out->netif, "%s", best->netif);
    snprintf(out->ifname, sizeof out->ifname, "%s", best->ifname);
    out->from_peer = best->from_peer;
    return 0;
}

bool active_proxy_equal(const struct active_proxy *a, const struct active_proxy *b)
{
    return a->source == b->source && a->addr.s_addr == b->addr.s_addr && a->port == b->port &&
           a->enabled == b->enabled && a->mode == b->mode && strcmp(a->name, b->name) == 0 &&
           strcmp(a->node, b->node) == 0 && strcmp(a->netif, b->netif) == 0;
}
