/* Control socket of ssr-node: see ctl.h for the protocol. */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ztp/log.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

void ctl_default_path(const char *node, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/ssr-%s.sock", CTL_DEFAULT_DIR, node);
}

/* ---- JSON views of the node ---- */

static json_t *json_iso_time(time_t t)
{
    struct tm tm;
    char b[32];
    if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(b);
}

static json_t *json_addr(struct in_addr a)
{
    char b[INET_ADDRSTRLEN];
    if (!inet_ntop(AF_INET, &a, b, sizeof b))
        return json_null();
    return json_string(b);
}

static json_t *json_str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

struct lp_row {
    const char *node, *netif, *ifname;
    const struct learned_proxy *e;     /* NULL: nothing learned */
    const struct node_netif *nif;      /* local DHCP network-interface, or NULL */
};

static int row_cmp(const void *a, const void *b)
{
    const struct lp_row *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    return c ? c : strcmp(x->netif, y->netif);
}

static json_t *show_learned(struct node *n, time_t now)
{
    static struct lp_row rows[RCFG_MAX_NETIFS + PROXY_TABLE_MAX];
    size_t nr = 0;

    for (size_t i = 0; i < n->n_netifs; i++) {
        const struct node_netif *nif = &n->netifs[i];
        rows[nr++] = (struct lp_row){n->name, nif->cfg->name, nif->cfg->ifname,
                                     proxy_table_find(&n->table, n->name, nif->cfg->name), nif};
    }
    for (size_t i = 0; i < n->table.n; i++) {
        const struct learned_proxy *e = &n->table.e[i];
        bool covered = false;
        for (size_t j = 0; j < nr && !covered; j++)
            covered = rows[j].e == e;
        if (!covered)
            rows[nr++] = (struct lp_row){e->node, e->netif, e->ifname, e, NULL};
    }
    qsort(rows, nr, sizeof rows[0], row_cmp);

    json_t *arr = json_array();
    for (size_t i = 0; i < nr; i++) {
        const struct lp_row *r = &rows[i];
        const struct learned_proxy *e = r->e;
        const struct rcfg_netif *c = r->nif ? r->nif->cfg : router_config_find_netif_on(&n->cfg, r->node, r->netif);
        bool selected = e && n->active.source == PROXY_SRC_LEARNED && strcmp(n->active.node, e->node) == 0 &&
                        strcmp(n->active.netif, e->netif) == 0;
        enum lease_state ls = e ? e->lease : r->nif ? r->nif->lease : LEASE_NONE;
        json_t *o = json_object();
        json_object_set_new(o, "node", json_string(r->node));
        json_object_set_new(o, "network-interface", json_string(r->netif));
        json_object_set_new(o, "device-interface", json_str_or_null(c ? c->devif : NULL));
        json_object_set_new(o, "ifname", json_str_or_null(r->ifname && *r->ifname ? r->ifname : c ? c->ifname : NULL));
        json_object_set_new(o, "address", e ? json_addr(e->addr) : json_null());
        json_object_set_new(o, "port", e ? json_integer(e->port) : json_null());
        json_object_set_new(o, "lease-state", json_string(lease_state_name(ls)));
        if (r->nif && r->nif->io)
            json_object_set_new(o, "dhcp-state", json_string(dhcpc_state_name(dhcpc_io_state(r->nif->io))));
        json_object_set_new(o, "learned-at", e ? json_iso_time(e->learned_at) : json_null());
        json_object_set_new(o, "learned-at-epoch", e ? json_integer((json_int_t)e->learned_at) : json_null());
        json_int_t age = e && now > e->learned_at ? (json_int_t)(now - e->learned_at) : 0;
        json_object_set_new(o, "age", e ? json_integer(age) : json_null());
        json_object_set_new(o, "expires-in",
                            e && e->expires_at
                                ? json_integer(e->expires_at > now ? (json_int_t)(e->expires_at - now) : 0)
                                : json_null());
        json_object_set_new(o, "source", json_string((e ? e->from_peer : !r->nif) ? "peer" : "local"));
        json_object_set_new(o, "discovery", json_boolean(router_config_discovery_enabled(&n->cfg, r->node, r->netif)));
        json_object_set_new(o, "selected", json_boolean(selected));
        if (r->nif)
            json_object_set_new(o, "last-event", json_str_or_null(r->nif->last_event));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *show_mgmt_proxy(struct node *n)
{
    const struct active_proxy *a = &n->active;
    char src[200], ap[32];
    bool on = a->source != PROXY_SRC_NONE;
    node_source_text(a, src, sizeof src);
    json_t *o = json_object();
    json_object_set_new(o, "enabled", json_boolean(n->cfg.enabled));
    json_object_set_new(o, "mode", json_string(mgmt_proxy_mode_name(n->cfg.mode)));
    proxy_addr_format(a->addr, a->port, ap, sizeof ap);
    json_object_set_new(o, "active", on ? json_string(ap) : json_null());
    json_object_set_new(o, "address", on ? json_addr(a->addr) : json_null());
    json_object_set_new(o, "port", on ? json_integer(a->port) : json_null());
    json_object_set_new(o, "source", json_string(proxy_source_name(a->source)));
    json_object_set_new(o, "source-text", json_string(src));
    if (a->source == PROXY_SRC_LEARNED)
        json_object_set_new(o, "learned-from",
                            json_pack("{s:s, s:s, s:o, s:b}", "node", a->node, "network-interface", a->netif, "ifname",
                                      json_str_or_null(a->ifname), "peer", a->from_peer));
    else
        json_object_set_new(o, "learned-from", json_null());
    json_object_set_new(o, "proxy-name", a->source == PROXY_SRC_CONFIG_STATIC ? json_string(a->name) : json_null());
    json_object_set_new(o, "reason", on ? json_null() : json_str_or_null(a->reason));
    json_object_set_new(o, "onboarded", json_boolean(n->obst.onboarded));
    json_object_set_new(o, "since", json_iso_time(n->active_since));
    json_object_set_new(o, "changes", json_integer(n->changes));
    return o;
}

static json_t *show_config(struct node *n)
{
    const struct router_config *c = &n->cfg;
    char ap[32];
    json_t *px = json_array();
    for (size_t i = 0; i < c->n_proxies; i++) {
        const struct rcfg_proxy *p = &c->proxies[i];
        json_array_append_new(px, json_pack("{s:s, s:o, s:o}", "name", p->name, "address",
                                            p->have_addr ? json_addr(p->addr) : json_null(), "port",
                                            p->have_port ? json_integer(p->port) : json_null()));
    }
    json_t *nis = json_array();
    for (size_t i = 0; i < c->n_netifs; i++) {
        const struct rcfg_netif *ni = &c->netifs[i];
        json_array_append_new(nis, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "node", ni->node, "device-interface",
                                             ni->devif, "network-interface", ni->name, "ifname", ni->ifname, "dhcp",
                                             ni->dhcp, "enable-proxy-discovery", ni->discovery));
    }
    json_t *nodes = json_array();
    for (size_t i = 0; i < c->n_nodes; i++)
        json_array_append_new(nodes, json_string(c->nodes[i]));
    json_t *onb = json_object();
    json_object_set_new(onb, "file", json_str_or_null(n->onboarding_path));
    json_object_set_new(onb, "present", json_boolean(n->have_onboarding));
    json_object_set_new(onb, "mode", n->have_onboarding ? json_string(onboarding_mode_name(n->ob.mode)) : json_null());
    json_object_set_new(onb, "name", json_str_or_null(n->have_onboarding ? n->ob.name : NULL));
    bool obp = n->have_onboarding && n->ob.have_proxy;
    if (obp)
        proxy_addr_format(n->ob.proxy_addr, n->ob.proxy_port, ap, sizeof ap);
    json_object_set_new(onb, "proxy", obp ? json_string(ap) : json_null());
    json_object_set_new(onb, "onboarded", json_boolean(n->obst.onboarded));
    json_object_set_new(onb, "conductor", json_str_or_null(n->obst.conductor));

    json_t *o = json_object();
    json_object_set_new(o, "config-file", json_str_or_null(n->config_path));
    json_object_set_new(o, "router", json_string(c->router));
    json_object_set_new(o, "nodes", nodes);
    json_object_set_new(o, "management-proxy",
                        json_pack("{s:b, s:s, s:o, s:o, s:b}", "enabled", c->enabled, "mode",
                                  mgmt_proxy_mode_name(c->mode), "proxies", px, "username",
                                  c->have_proxy_user ? json_string(c->proxy_user) : json_null(), "password-set",
                                  c->have_proxy_pass)); /* never the password itself */
    json_object_set_new(o, "network-interfaces", nis);
    json_object_set_new(o, "onboarding", onb);
    json_object_set_new(o, "state-dir", json_str_or_null(n->state_dir));
    json_object_set_new(o, "ha", json_pack("{s:b, s:o, s:o, s:f}", "enabled", n->ha_enabled, "listen",
                                           json_str_or_null(n->ha_listen), "peer", json_str_or_null(n->ha_peer),
                                           "timeout", n->ha.timeout_ms / 1000.0));
    return o;
}

static json_t *show_ha(struct node *n, uint64_t now_ms)
{
    const struct ha *h = &n->ha;
    size_t pe = 0;
    for (size_t i = 0; i < n->table.n; i++)
        pe += n->table.e[i].from_peer;
    json_t *o = json_object();
    json_object_set_new(o, "enabled", json_boolean(n->ha_enabled));
    json_object_set_new(o, "listen", json_str_or_null(n->ha_listen));
    json_object_set_new(o, "peer", json_str_or_null(n->ha_peer));
    json_object_set_new(o, "expect-peer", json_str_or_null(h->expect_peer));
    json_object_set_new(o, "timeout", json_real(h->timeout_ms / 1000.0));
    json_object_set_new(o, "heartbeat-ms", json_integer(h->heartbeat_ms));
    json_object_set_new(o, "instance", json_integer(h->instance));
    json_object_set_new(o, "seq-sent", json_integer((json_int_t)h->seq));
    json_object_set_new(o, "send-errors", json_integer((json_int_t)h->send_errors));
    json_object_set_new(o, "peer-node", json_str_or_null(h->peer.node));
    json_object_set_new(o, "peer-up", json_boolean(h->peer.known));
    json_object_set_new(o, "peer-seen-ago-ms",
                        h->peer.seen_at_ms ? json_integer((json_int_t)(now_ms - h->peer.seen_at_ms)) : json_null());
    json_object_set_new(o, "peer-entries", json_integer((json_int_t)pe));
    json_object_set_new(o, "datagrams", json_integer((json_int_t)h->peer.datagrams));
    json_object_set_new(o, "dropped", json_integer((json_int_t)h->peer.dropped));
    return o;
}

static json_t *response(struct node *n, bool ok)
{
    return json_pack("{s:b, s:s, s:s}", "ok", ok, "router", n->cfg.router, "node", n->name);
}

static json_t *error_response(struct node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *error_response(struct node *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *r = response(n, false);
    json_object_set_new(r, "error", json_string(msg));
    return r;
}

/* A client-supplied string, quoted for an error message. */
static const char *quoted(const char *s, char *buf, size_t cap) { return log_quote(buf, cap, s, strlen(s)); }

json_t *ctl_handle(struct node *n, const json_t *req, time_t now, uint64_t now_ms)
{
    char q[96];
    if (!json_is_object(req))
        return error_response(n, "request is not a JSON object");
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (!cmd)
        return error_response(n, "missing \"cmd\"");
    if (strcmp(cmd, "ping") == 0) {
        json_t *r = response(n, true);
        json_object_set_new(r, "pong", json_true());
        return r;
    }
    if (strcmp(cmd, "fetch") == 0) /* answered by the connection, asynchronously */
        return error_response(n, "fetch is only answered over the control socket");
    if (strcmp(cmd, "migrate") == 0) {
        json_t *list = json_object_get(req, "conductor");
        const char *addrs[COND_MAX_ADDRS];
        size_t k = 0;
        char e[256];
        if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > 2)
            return error_response(n, "migrate: \"conductor\" must be an array of one or two addresses");
        for (size_t i = 0; i < json_array_size(list); i++) {
            addrs[k] = json_string_value(json_array_get(list, i));
            if (!addrs[k])
                return error_response(n, "migrate: \"conductor\" must hold strings");
            k++;
        }
        if (conductor_migrate(&n->cond, addrs, k, now_ms, e, sizeof e) < 0)
            return error_response(n, "migrate conductor: %s", e);
        json_t *r = response(n, true);
        json_object_set_new(r, "what", json_string("migrate"));
        json_object_set_new(r, "migrate", conductor_json(&n->cond, now_ms));
        return r;
    }
    if (strcmp(cmd, "show") != 0)
        return error_response(n, "unknown command %s", quoted(cmd, q, sizeof q));
    const char *what = json_string_value(json_object_get(req, "what"));
    if (!what)
        return error_response(n, "missing \"what\" (dhcp learned-proxies, management-proxy, config, ha, "
                                 "phone-home, onboarding, conductor)");
    json_t *r = response(n, true), *data;
    const char *key;
    if (strcmp(what, "dhcp learned-proxies") == 0 || strcmp(what, "learned-proxies") == 0) {
        key = "learned-proxies";
        data = show_learned(n, now);
    } else if (strcmp(what, "management-proxy") == 0) {
        key = "management-proxy";
        data = show_mgmt_proxy(n);
    } else if (strcmp(what, "config") == 0) {
        key = "config";
        data = show_config(n);
    } else if (strcmp(what, "ha") == 0) {
        key = "ha";
        data = show_ha(n, now_ms);
    } else if (strcmp(what, "phone-home") == 0) {
        key = "phone-home";
        data = phonehome_json(&n->ph, now_ms);
    } else if (strcmp(what, "onboarding") == 0) {
        key = "onboarding";
        data = sztp_json(&n->sztp, now_ms);
        json_object_set_new(data, "conductor-client", conductor_json(&n->cond, now_ms));
    } else if (strcmp(what, "conductor") == 0) {
        key = "conductor";
        data = conductor_json(&n->cond, now_ms);
    } else {
        json_decref(r);
        return error_response(n,
                              "unknown show %s (dhcp learned-proxies, management-proxy, config, ha, phone-home, "
                              "onboarding, conductor)",
                              quoted(what, q, sizeof q));
    }
    json_object_set_new(r, "what", json_string(key));
    json_object_set_new(r, key, data);
    return r;
}

/* Serialize (and free) a response: one line + "\n", malloc'd. */
static char *encode(json_t *resp, size_t *out_len)
{
    char *s = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (!s)
        fatalx("ctl.encode", "reason=\"out of memory\"");
    size_t l = strlen(s);
    char *out = realloc(s, l + 2);
    if (!out)
        fatalx("ctl.encode", "reason=\"out of memory\"");
    out[l] = '\n';
    out[l + 1] = '\0';
    *out_len = l + 1;
    return out;
}

char *ctl_handle_text(struct node *n, const char *buf, size_t len, time_t now, uint64_t now_ms, size_t *out_len)
{
    json_t *resp;
    json_error_t jerr;
    if (len > CTL_MAX_REQUEST) {
        resp = error_response(n, "request too large (more than %d bytes)", CTL_MAX_REQUEST);
    } else {
        json_t *req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!req) {
            resp = error_response(n, "request is not JSON: %s", jerr.text);
        } else {
            resp = ctl_handle(n, req, now, now_ms);
            json_decref(req);
        }
    }
    return encode(resp, out_len);
}

/* ---- connections ---- */

static void conn_close(struct ctl_conn *c)
{
    if (!c->in_use)
        return;
    if (c->fetch) { /* the client left or timed out: abandon its request */
        https_cancel(c->fetch);
        c->fetch = NULL;
    }
    if (c->srv->epfd >= 0)
        epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->in_use = false;
    c->fd = -1;
}

static void conn_ev(struct node_ev *ev, uint32_t events)
{
    ctl_conn_event(container_of(ev, struct ctl_conn, ev), events);
}

struct ctl_conn *ctl_adopt(struct ctl_server *s, int fd, uint64_t now_ms)
{
    struct ctl_conn *c = NULL;
    for (size_t i = 0; i < CTL_MAX_CONNS && !c; i++)
        if (!s->conns[i].in_use)
            c = &s->conns[i];
    if (!c) {
        log_warn("ctl.busy", "connections=%d", CTL_MAX_CONNS);
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    c->ev.fn = conn_ev;
    c->srv = s;
    c->in_use = true;
    c->fd = fd;
    c->in_len = 0;
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->fetch = NULL;
    c->deadline_ms = now_ms + CTL_CONN_TIMEOUT_MS;
    if (s->epfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ev};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_warn("ctl.epoll_error", "error=\"%s\"", strerror(errno));
            c->in_use = false;
            close(fd);
            return NULL;
        }
    }
    return c;
}

/* Returns true when the whole response went out. */
static bool conn_flush(struct ctl_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->srv->epfd >= 0) {
                    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &c->ev};
                    epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
                return false;
            }
            log_debug("ctl.write_error", "error=\"%s\"", strerror(errno));
            return true; /* client went away: nothing more to do */
        }
        c->out_off += (size_t)w;
    }
    return true;
}

/* ---- fetch: one GET through the active proxy, answered when it completes ---- */

static json_t *json_printable(const char *s, size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        fatalx("ctl.alloc", "reason=\"out of memory\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        b[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    json_t *j = json_stringn(b, len);
    free(b);
    return j ? j : json_null();
}

static json_t *fetch_json(const struct https_result *r, const char *url)
{
    json_t *f = json_object();
    json_object_set_new(f, "url", json_string(url));
    json_object_set_new(f, "proxy", json_string(r->proxy));
    json_object_set_new(f, "class", json_string(https_err_name(r->err)));
    json_object_set_new(f, "message", json_str_or_null(r->message));
    json_object_set_new(f, "proxy-status", r->proxy_status ? json_integer(r->proxy_status) : json_null());
    json_object_set_new(f, "proxy-reason", r->proxy_status ? json_string(r->proxy_reason) : json_null());
    json_object_set_new(f, "squid-error", json_str_or_null(r->squid_error));
    json_object_set_new(f, "tls-version", json_str_or_null(r->tls_version));
    json_object_set_new(f, "peer-subject", json_str_or_null(r->peer_subject));
    json_object_set_new(f, "peer-issuer", json_str_or_null(r->peer_issuer));
    json_object_set_new(f, "status", r->status ? json_integer(r->status) : json_null());
    json_object_set_new(f, "reason", r->status ? json_string(r->reason) : json_null());
    json_t *hs = json_array();
    for (size_t i = 0; r->head && i < r->head->n_headers; i++) {
        const struct http_resp_header *h = &r->head->headers[i];
        json_array_append_new(hs, json_pack("[o, o]", json_printable(h->name, h->name_len),
                                            json_printable(h->value, h->value_len)));
    }
    json_object_set_new(f, "headers", hs);
    json_object_set_new(f, "body-bytes", json_integer((json_int_t)r->body_len));
    json_t *body = r->body ? json_stringn(r->body, r->body_len) : NULL; /* NULL: not UTF-8 */
    if (body || !r->body) {
        json_object_set_new(f, "body", body ? body : json_null());
    } else {
        size_t cap = (r->body_len + 2) / 3 * 4 + 1;
        char *b64 = malloc(cap);
        if (!b64)
            fatalx("ctl.alloc", "reason=\"out of memory\"");
        http_base64(r->body, r->body_len, b64, cap);
        json_object_set_new(f, "body", json_null());
        json_object_set_new(f, "body-base64", json_string(b64));
        free(b64);
    }
    json_object_set_new(f, "elapsed-ms", json_integer((json_int_t)r->elapsed_ms));
    return f;
}

static void fetch_done(struct https_client *hc, const struct https_result *r, void *arg)
{
    struct ctl_conn *c = arg;
    (void)hc;
    c->fetch = NULL;
    json_t *resp = response(c->srv->node, r->err == HTTPS_OK);
    json_object_set_new(resp, "what", json_string("fetch"));
    json_object_set_new(resp, "fetch", fetch_json(r, c->in));
    if (r->err != HTTPS_OK)
        json_object_set_new(resp, "error", json_sprintf("%s: %s", https_err_name(r->err), r->message));
    c->out = encode(resp, &c->out_len);
    c->out_off = 0;
    if (conn_flush(c))
        conn_close(c);
}

enum { FETCH_NO = 0, FETCH_STARTED, FETCH_ANSWERED };

/* A {"cmd":"fetch","url":"https://...","timeout-ms":N,"ca-file":"..."} request: start it, or
 * answer an error at once. c->in is reused to keep the URL for the answer. */
static int fetch_request(struct ctl_conn *c, size_t req_len, uint64_t now_ms)
{
    struct node *n = c->srv->node;
    if (req_len > CTL_MAX_REQUEST)
        return FETCH_NO;
    json_t *req = json_loadb(c->in, req_len, JSON_REJECT_DUPLICATES, NULL);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (!cmd || strcmp(cmd, "fetch") != 0) {
        json_decref(req);
        return FETCH_NO;
    }
    json_t *err = NULL;
    struct https_url u;
    const char *why = NULL, *url = json_string_value(json_object_get(req, "url"));
    const char *ca = json_string_value(json_object_get(req, "ca-file"));
    json_t *jt = json_object_get(req, "timeout-ms");
    json_int_t tmo = json_is_integer(jt) ? json_integer_value(jt) : PH_TIMEOUT_MS;
    if (!url)
        err = error_response(n, "fetch: missing \"url\"");
    else if (https_url_parse(url, &u, &why) < 0)
        err = error_response(n, "fetch: %s", why);
    else if (tmo < 100 || tmo > 120000)
        err = error_response(n, "fetch: \"timeout-ms\" must be 100..120000");
    else if (n->active.source == PROXY_SRC_NONE)
        err = error_response(n, "fetch: no active management proxy (%s)",
                             n->active.reason[0] ? n->active.reason : "none");
    if (err) {
        json_decref(req);
        c->out = encode(err, &c->out_len);
        c->out_off = 0;
        return FETCH_ANSWERED;
    }
    const char *ca_file = ca ? ca : n->ph.ca_file[0] ? n->ph.ca_file : NULL;
    struct https_request hr = {
        .tag = "fetch",
        .method = "GET",
        .host = u.host,
        .port = u.port,
        .path = u.path,
        .proxy_addr = n->active.addr,
        .proxy_port = n->active.port,
        .proxy_user = n->cfg.have_proxy_user ? n->cfg.proxy_user : NULL,
        .proxy_pass = n->cfg.have_proxy_pass ? n->cfg.proxy_pass : NULL,
        .ca_file = ca_file,
        .timeout_ms = (unsigned)tmo,
    };
    snprintf(c->in, sizeof c->in, "%s", url); /* the URL, for the answer */
    json_decref(req);
    c->deadline_ms = now_ms + (uint64_t)tmo + CTL_CONN_TIMEOUT_MS;
    if (c->srv->epfd >= 0) { /* nothing to read while the request runs */
        struct epoll_event ev = {.events = 0, .data.ptr = &c->ev};
        epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
    c->fetch = https_start(c->srv->epfd, &hr, fetch_done, c, now_ms);
    return FETCH_STARTED;
}

bool ctl_conn_event(struct ctl_conn *c, uint32_t events)
{
    if (!c->in_use)
        return true;
    if (c->fetch) { /* a fetch under way: only a hang-up matters */
        if (events & (EPOLLHUP | EPOLLERR)) {
            conn_close(c);
            return true;
        }
        return false;
    }
    if (!c->out) {
        bool complete = false, eof = false;
        size_t req_len = 0;
        while (!complete && c->in_len < CTL_MAX_REQUEST) {
            ssize_t r = recv(c->fd, c->in + c->in_len, CTL_MAX_REQUEST - c->in_len, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                conn_close(c);
                return true;
            }
            if (r == 0) {
                eof = true;
                break;
            }
            char *nl = memchr(c->in + c->in_len, '\n', (size_t)r);
            c->in_len += (size_t)r;
            if (nl) {
                complete = true;
                req_len = (size_t)(nl - c->in);
            }
        }
        if (!complete && eof) {
            if (c->in_len == 0) { /* connected and left: nothing to answer */
                conn_close(c);
                return true;
            }
            complete = true;
            req_len = c->in_len;
        }
        if (!complete && c->in_len >= CTL_MAX_REQUEST) {
            complete = true;
            req_len = CTL_MAX_REQUEST + 1; /* "request too large" */
        }
        if (!complete)
            return false;
        int f = fetch_request(c, req_len, dhcpc_now_ms());
        if (f == FETCH_STARTED)
            return false;
        if (f == FETCH_NO) {
            c->out = ctl_handle_text(c->srv->node, c->in, req_len, time(NULL), dhcpc_now_ms(), &c->out_len);
            c->out_off = 0;
        }
    }
    if (!conn_flush(c))
        return false;
    conn_close(c);
    return true;
}

void ctl_tick(struct ctl_server *s, uint64_t now_ms)
{
    for (size_t i = 0; i < CTL_MAX_CONNS; i++)
        if (s->conns[i].in_use && now_ms >= s->conns[i].deadline_ms) {
            log_debug("ctl.timeout", "fd=%d", s->conns[i].fd);
            conn_close(&s->conns[i]);
        }
}

/* ---- listener ---- */

static void on_listen(struct node_ev *ev, uint32_t events)
{
    struct ctl_server *s = container_of(ev, struct ctl_server, ev);
    (void)events;
    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("ctl.accept_error", "error=\"%s\"", strerror(errno));
            return;
        }
        struct ctl_conn *c = ctl_adopt(s, fd, dhcpc_now_ms());
        if (c)
            ctl_conn_event(c, EPOLLIN); /* the request is usually there already */
    }
}

void ctl_init(struct ctl_server *s, struct node *n, int epfd)
{
    memset(s, 0, sizeof *s);
    s->node = n;
    s->fd = -1;
    s->epfd = epfd;
    for (size_t i = 0; i < CTL_MAX_CONNS; i++)
        s->conns[i].fd = -1;
}

int ctl_listen(struct ctl_server *s, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t pl = strlen(path);
    if (pl == 0 || pl >= sizeof sa.sun_path || pl >= sizeof s->path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, pl);

    /* Create /run/ztp-lab for the default path (not for any other directory). */
    const size_t dl = sizeof CTL_DEFAULT_DIR; /* the directory and its '/' */
    if (strncmp(path, CTL_DEFAULT_DIR "/", dl) == 0 && strchr(path + dl, '/') == NULL) {
        mkdir("/run", 0755);
        if (mkdir(CTL_DEFAULT_DIR, 0755) < 0 && errno != EEXIST)
            return -errno;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return -EEXIST;
        }
        /* A live daemon answers on it: do not steal its socket. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            close(fd);
            return -EADDRINUSE;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    s->fd = fd;
    memcpy(s->path, path, pl + 1);
    s->ev.fn = on_listen;
    if (s->epfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->ev};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            int e = errno;
            ctl_close(s);
            return -e;
        }
    }
    return 0;
}

void ctl_close(struct ctl_server *s)
{
    for (size_t i = 0; i < CTL_MAX_CONNS; i++)
        conn_close(&s->conns[i]);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
        if (s->path[0])
            unlink(s->path);
    }
}
