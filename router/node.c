/* Runtime state of one router node: see node.h. */
#include "node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/crypto.h>

#include "ztp/daemon.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static void addr_fmt(struct in_addr a, uint16_t port, char *buf, size_t cap) { proxy_addr_format(a, port, buf, cap); }

char *node_source_text(const struct active_proxy *a, char *buf, size_t cap)
{
    switch (a->source) {
    case PROXY_SRC_CONFIG_STATIC:
        snprintf(buf, cap, "config proxy %s", a->name);
        break;
    case PROXY_SRC_ONBOARDING_JSON:
        snprintf(buf, cap, "onboarding.json");
        break;
    case PROXY_SRC_LEARNED:
        snprintf(buf, cap, "learned on node %s network-interface %s (%s)", a->node, a->netif,
                 a->from_peer ? "peer" : "local");
        break;
    default:
        snprintf(buf, cap, "none: %s", a->reason[0] ? a->reason : "no proxy");
        break;
    }
    return buf;
}

static const char *active_str(const struct active_proxy *a, char *buf, size_t cap)
{
    if (a->source == PROXY_SRC_NONE) {
        snprintf(buf, cap, "none");
        return buf;
    }
    addr_fmt(a->addr, a->port, buf, cap);
    return buf;
}

/* ---- setup ---- */

static void node_bind_netifs(struct node *n)
{
    const struct rcfg_netif *list[RCFG_MAX_NETIFS];
    size_t k = router_config_dhcp_netifs(&n->cfg, n->name, list, RCFG_MAX_NETIFS);
    if (k > RCFG_MAX_NETIFS)
        k = RCFG_MAX_NETIFS;
    n->n_netifs = 0;
    for (size_t i = 0; i < k; i++) {
        struct node_netif *nif = &n->netifs[n->n_netifs++];
        memset(nif, 0, sizeof *nif);
        nif->node = n;
        nif->cfg = list[i];
        nif->lease = LEASE_NONE;
    }
}

static void node_pick_expected_peer(struct node *n)
{
    n->ha.expect_peer[0] = '\0';
    if (n->cfg.n_nodes == 2) {
        const char *other = strcmp(n->cfg.nodes[0], n->name) == 0 ? n->cfg.nodes[1] : n->cfg.nodes[0];
        snprintf(n->ha.expect_peer, sizeof n->ha.expect_peer, "%s", other);
    }
}

void node_init_from(struct node *n, const struct router_config *cfg, const char *node_name,
                    const struct onboarding_info *ob, bool onboarded)
{
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    snprintf(n->name, sizeof n->name, "%s", node_name);
    if (ob) {
        n->ob = *ob;
        n->have_onboarding = true;
    }
    n->obst.onboarded = onboarded;
    proxy_table_init(&n->table);
    node_bind_netifs(n);
    ha_init(&n->ha, n->cfg.router, n->name, 0);
    node_pick_expected_peer(n);
    n->dhcp_apply = true;
    n->started_at = time(NULL);
    n->started_ms = dhcpc_now_ms();
    n->epfd = -1;
    phonehome_init(&n->ph, &n->cfg, &n->active);
    sztp_init(&n->sztp, &n->cfg, &n->active);
    conductor_init(&n->cond, &n->cfg, &n->active, &n->sztp);
}

/* The conductor client reached production-connected: the router is onboarded, so the
 * onboarding.json proxy no longer applies (issue 2's rule, proxysel.h). */
static void log_swept(const char *path, void *ctx)
{
    (void)ctx;
    log_warn("node.stale_tmp_removed", "path=\"%s\" why=\"killed during an atomic write\"", path);
}

static void on_conductor_connected(void *arg, const char *conductor)
{
    struct node *n = arg;
    bool was = n->obst.onboarded;
    if (was && strcmp(n->obst.conductor, conductor) == 0)
        return;
    n->obst.onboarded = true;
    snprintf(n->obst.conductor, sizeof n->obst.conductor, "%s", conductor);
    if (!was)
        n->obst.since = time(NULL);
    if (n->state_dir[0]) {
        int r = onboarding_state_save(n->state_dir, &n->obst);
        if (r < 0)
            log_error("onboarding.state_save_failed", "dir=\"%s\" error=\"%s\"", n->state_dir, strerror(-r));
    }
    log_info("onboarding.onboarded", "conductor=%s onboarding_json_proxy=%s", conductor,
             n->have_onboarding && n->ob.have_proxy ? "no-longer-applies" : "none");
    node_reselect(n, "conductor.connected");
}

int node_load(struct node *n, const struct node_options *opt, char *err, size_t errcap)
{
    static struct router_config cfg; /* large; loaded once */
    struct onboarding_info *ob = NULL;
    static struct onboarding_info obi;
    struct onboarding_state st;
    struct sockaddr_in sa_l, sa_p;
    char e2[512];

    memset(&st, 0, sizeof st);
    if (!opt->config_path || !opt->node_name) {
        snprintf(err, errcap, "--config and --node are required");
        return -1;
    }
    size_t nl = strlen(opt->node_name);
    if (nl == 0 || nl >= RCFG_NAME_MAX || !ha_name_ok(opt->node_name, nl)) {
        snprintf(err, errcap, "--node \"%.64s\": not a valid node name (1..%d characters, no spaces)", opt->node_name,
                 RCFG_NAME_MAX - 1);
        return -1;
    }
    if (router_config_load(opt->config_path, &cfg, err, errcap) < 0)
        return -1;
    if (cfg.router[0] == '\0') {
        snprintf(err, errcap, "%s: no \"config authority router R ...\" statement: the router name is unknown",
                 opt->config_path);
        return -1;
    }
    if (cfg.n_nodes > 0) {
        bool found = false;
        for (size_t i = 0; i < cfg.n_nodes; i++)
            found |= strcmp(cfg.nodes[i], opt->node_name) == 0;
        if (!found) {
            char list[256] = "";
            for (size_t i = 0; i < cfg.n_nodes; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", cfg.nodes[i]);
            }
            snprintf(err, errcap, "%s: node %s is not in the configuration (its nodes: %s)", opt->config_path,
                     opt->node_name, list);
            return -1;
        }
    }
    if (opt->onboarding_path) {
        int r = onboarding_load(opt->onboarding_path, &obi, e2, sizeof e2);
        if (r < 0) {
            snprintf(err, errcap, "%s", e2);
            return -1;
        }
        if (r == 1) {
            snprintf(err, errcap, "%s: no such file", opt->onboarding_path);
            return -1;
        }
        ob = &obi;
    }
    if (opt->state_dir && onboarding_state_load(opt->state_dir, &st, e2, sizeof e2) < 0) {
        snprintf(err, errcap, "%s", e2);
        return -1;
    }
    if (!!opt->ha_listen != !!opt->ha_peer) {
        snprintf(err, errcap, "--ha-listen and --ha-peer go together");
        return -1;
    }
    if (opt->ha_listen && ha_parse_endpoint(opt->ha_listen, &sa_l) < 0) {
        snprintf(err, errcap, "--ha-listen \"%.64s\": expected IPv4:PORT", opt->ha_listen);
        return -1;
    }
    if (opt->ha_peer && ha_parse_endpoint(opt->ha_peer, &sa_p) < 0) {
        snprintf(err, errcap, "--ha-peer \"%.64s\": expected IPv4:PORT", opt->ha_peer);
        return -1;
    }
    if (opt->ha_timeout_ms > 3600000u) {
        snprintf(err, errcap, "--ha-timeout %u ms: expected 0.1..3600 seconds", opt->ha_timeout_ms);
        return -1;
    }
    if ((opt->request_timeout_ms || opt->retry_backoff_min_ms || opt->task_poll_ms) && !opt->sztp) {
        snprintf(err, errcap, "--request-timeout, --retry-backoff and --task-poll go with --sztp");
        return -1;
    }
    if (opt->mist_ca && !opt->phone_home_url && !opt->sztp) {
        snprintf(err, errcap, "--mist-ca goes with --phone-home-url");
        return -1;
    }

    node_init_from(n, &cfg, opt->node_name, ob, st.onboarded);
    n->obst = st;
    snprintf(n->config_path, sizeof n->config_path, "%s", opt->config_path);
    snprintf(n->onboarding_path, sizeof n->onboarding_path, "%s", opt->onboarding_path ? opt->onboarding_path : "");
    snprintf(n->state_dir, sizeof n->state_dir, "%s", opt->state_dir ? opt->state_dir : "");
    if (n->state_dir[0]) /* a node killed inside an atomic write left its temp file: the old file stands */
        atomic_write_sweep(n->state_dir, 2, log_swept, NULL);
    snprintf(n->ctl_path, sizeof n->ctl_path, "%s", opt->ctl_path ? opt->ctl_path : "");
    n->dhcp_apply = opt->dhcp_apply;
    ha_init(&n->ha, n->cfg.router, n->name, opt->ha_timeout_ms);
    node_pick_expected_peer(n);
    if ((opt->device_id || opt->tpm) && !opt->sztp) {
        snprintf(err, errcap, "--device-id and --tpm go with --sztp");
        return -1;
    }
    if (opt->sztp) {
        if (sztp_configure(&n->sztp, opt->state_dir, opt->device_id, opt->tpm, opt->phone_home_url, opt->mist_ca, err,
                           errcap) < 0)
            return -1;
        sztp_set_fault(&n->sztp, opt->sztp_fault);
        if (conductor_configure(&n->cond, opt->state_dir, n->cfg.router, n->name, err, errcap) < 0)
            return -1;
        sztp_set_timers(&n->sztp, opt->request_timeout_ms, opt->retry_backoff_min_ms, opt->retry_backoff_max_ms);
        conductor_set_timers(&n->cond, opt->request_timeout_ms, opt->retry_backoff_min_ms, opt->retry_backoff_max_ms,
                             opt->task_poll_ms);
        if (opt->request_timeout_ms || opt->retry_backoff_min_ms || opt->task_poll_ms)
            log_info("node.timers", "request_timeout_ms=%u retry_backoff_ms=%u,%u task_poll_ms=%u", n->sztp.timeout_ms,
                     n->sztp.retry.base_ms, n->sztp.retry.max_ms, n->cond.task_poll_ms);
        conductor_set_callback(&n->cond, on_conductor_connected, n);
        conductor_set_fault(&n->cond, opt->cond_fault);
    } else if (opt->phone_home_url && phonehome_configure(&n->ph, opt->phone_home_url, opt->mist_ca, err, errcap) < 0)
        return -1;
    if (opt->ha_listen) {
        n->ha_enabled = true;
        n->ha.listen_sa = sa_l;
        n->ha.peer_sa = sa_p;
        snprintf(n->ha_listen, sizeof n->ha_listen, "%s", opt->ha_listen);
        snprintf(n->ha_peer, sizeof n->ha_peer, "%s", opt->ha_peer);
    }
    return 0;
}

void node_log_summary(const struct node *n)
{
    char netifs[512] = "", proxies[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < n->n_netifs && o < sizeof netifs; i++) {
        const struct rcfg_netif *c = n->netifs[i].cfg;
        int w = snprintf(netifs + o, sizeof netifs - o, "%s%s(%s%s)", i ? "," : "", c->name, c->ifname,
                         c->discovery ? "" : ",no-discovery");
        if (w < 0)
            break;
        o += (size_t)w;
    }
    o = 0;
    for (size_t i = 0; i < n->cfg.n_proxies && o < sizeof proxies; i++) {
        const struct rcfg_proxy *p = &n->cfg.proxies[i];
        char a[32] = "?";
        if (p->have_addr && p->have_port)
            addr_fmt(p->addr, p->port, a, sizeof a);
        int w = snprintf(proxies + o, sizeof proxies - o, "%s%s=%s", i ? "," : "", p->name, a);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    char obp[32] = "none";
    if (n->have_onboarding && n->ob.have_proxy)
        addr_fmt(n->ob.proxy_addr, n->ob.proxy_port, obp, sizeof obp);
    char authq[RCFG_CRED_MAX * 2 + 48] = "none", phq[PH_URL_MAX + 8] = "off";
    if (n->cfg.have_proxy_user) { /* never the password */
        char uq[RCFG_CRED_MAX * 2 + 8];
        snprintf(authq, sizeof authq, "basic proxy_user=%s",
                 log_quote(uq, sizeof uq, n->cfg.proxy_user, strlen(n->cfg.proxy_user)));
    }
    if (n->ph.enabled)
        log_quote(phq, sizeof phq, n->ph.url, strlen(n->ph.url));
    log_info("node.start",
             "router=%s node=%s config=\"%s\" management_proxy=%s mode=%s static_proxies=\"%s\" proxy_auth=%s "
             "dhcp_netifs=\"%s\" onboarding=%s onboarding_mode=%s onboarding_proxy=%s onboarded=%s ha=%s "
             "ha_listen=%s ha_peer=%s ha_expect_peer=%s ha_timeout_ms=%u ctl=\"%s\" state_dir=\"%s\" "
             "phone_home=%s mist_ca=\"%s\"",
             n->cfg.router, n->name, n->config_path, n->cfg.enabled ? "enabled" : "disabled",
             mgmt_proxy_mode_name(n->cfg.mode), proxies, authq, netifs, n->have_onboarding ? "present" : "absent",
             n->have_onboarding ? onboarding_mode_name(n->ob.mode) : "-", obp, n->obst.onboarded ? "true" : "false",
             n->ha_enabled ? "on" : "off", n->ha_enabled ? n->ha_listen : "-", n->ha_enabled ? n->ha_peer : "-",
             n->ha.expect_peer[0] ? n->ha.expect_peer : "any", n->ha.timeout_ms, n->ctl_path, n->state_dir, phq,
             n->ph.ca_file[0] ? n->ph.ca_file : "-");
    if (n->have_onboarding) {
        for (size_t i = 0; i < n->ob.n_warnings; i++) {
            char q[ONB_WARN_MAX + 16];
            log_warn("onboarding.warning", "file=\"%s\" warning=%s", n->onboarding_path,
                     log_quote(q, sizeof q, n->ob.warnings[i], strnlen(n->ob.warnings[i], ONB_WARN_MAX)));
        }
        if (n->ob.n_warnings_dropped)
            log_warn("onboarding.warning", "file=\"%s\" more_warnings=%zu", n->onboarding_path,
                     n->ob.n_warnings_dropped);
    }
}

/* ---- SIGHUP ---- */

static bool same_interfaces(const struct router_config *a, const struct router_config *b)
{
    if (a->n_nodes != b->n_nodes || a->n_devifs != b->n_devifs || a->n_netifs != b->n_netifs)
        return false;
    for (size_t i = 0; i < a->n_nodes; i++)
        if (strcmp(a->nodes[i], b->nodes[i]) != 0)
            return false;
    for (size_t i = 0; i < a->n_devifs; i++)
        if (strcmp(a->devifs[i].node, b->devifs[i].node) != 0 || strcmp(a->devifs[i].name, b->devifs[i].name) != 0 ||
            strcmp(a->devifs[i].ifname, b->devifs[i].ifname) != 0)
            return false;
    for (size_t i = 0; i < a->n_netifs; i++) {
        const struct rcfg_netif *x = &a->netifs[i], *y = &b->netifs[i];
        if (strcmp(x->node, y->node) != 0 || strcmp(x->devif, y->devif) != 0 || strcmp(x->name, y->name) != 0 ||
            strcmp(x->ifname, y->ifname) != 0 || x->dhcp != y->dhcp)
            return false;
    }
    return true;
}

int node_reload_config(struct node *n)
{
    static struct router_config nc; /* large */
    char err[512], q[600];
    if (!n->config_path[0]) {
        log_warn("config.reload", "result=kept-old error=\"no config file\"");
        return -1;
    }
    if (router_config_load(n->config_path, &nc, err, sizeof err) < 0) {
        log_warn("config.reload", "result=kept-old file=\"%s\" error=%s", n->config_path,
                 log_quote(q, sizeof q, err, strlen(err)));
        return -1;
    }
    if (strcmp(nc.router, n->cfg.router) != 0) {
        log_warn("config.reload",
                 "result=kept-old file=\"%s\" error=\"the router name changed (%s -> %s): restart ssr-node\"",
                 n->config_path, n->cfg.router, nc.router);
        return -1;
    }
    struct router_config *c = &n->cfg;
    c->enabled = nc.enabled;
    c->enable_set = nc.enable_set;
    c->enable_cfg = nc.enable_cfg;
    c->mode = nc.mode;
    c->mode_set = nc.mode_set;
    c->mode_line = nc.mode_line;
    memcpy(c->proxies, nc.proxies, sizeof c->proxies);
    c->n_proxies = nc.n_proxies;
    c->have_proxy_user = nc.have_proxy_user;
    c->have_proxy_pass = nc.have_proxy_pass;
    memcpy(c->proxy_user, nc.proxy_user, sizeof c->proxy_user);
    memcpy(c->proxy_pass, nc.proxy_pass, sizeof c->proxy_pass);
    c->proxy_user_line = nc.proxy_user_line;
    c->proxy_pass_line = nc.proxy_pass_line;
    bool same = same_interfaces(c, &nc);
    if (same) { /* same interfaces in the same places: node_netif pointers stay valid */
        memcpy(c->netifs, nc.netifs, sizeof c->netifs);
        memcpy(c->devifs, nc.devifs, sizeof c->devifs);
        memcpy(c->overrides, nc.overrides, sizeof c->overrides);
        c->n_overrides = nc.n_overrides;
        c->discovery_default_set = nc.discovery_default_set;
        c->discovery_default = nc.discovery_default;
        n->local_dirty = true;
    }
    OPENSSL_cleanse(nc.proxy_pass, sizeof nc.proxy_pass);
    log_info("config.reload", "result=ok file=\"%s\" management_proxy=%s mode=%s proxies=%zu restart_needed=%s",
             n->config_path, c->enabled ? "enabled" : "disabled", mgmt_proxy_mode_name(c->mode), c->n_proxies,
             same ? "no" : "\"interfaces changed: restart ssr-node to apply them\"");
    node_reselect(n, "config.reload");
    return 0;
}

/* ---- selection ---- */

bool node_reselect(struct node *n, const char *cause)
{
    struct active_proxy a;
    char oldb[32], newb[32], src[160], q[200];

    proxysel_select(&n->cfg, n->have_onboarding ? &n->ob : NULL, n->obst.onboarded, &n->table, &a);
    node_source_text(&a, src, sizeof src);
    if (!n->selected_once) {
        n->selected_once = true;
        n->active = a;
        n->active_since = time(NULL);
        log_info("proxy.selected", "active=%s source=%s origin=%s cause=%s", active_str(&a, newb, sizeof newb),
                 proxy_source_name(a.source), log_quote(q, sizeof q, src, strlen(src)), cause);
        return true;
    }
    if (active_proxy_equal(&n->active, &a)) {
        n->active = a; /* e.g. a new reason for "none" */
        return false;
    }
    log_info("proxy.changed", "old=%s new=%s old_source=%s source=%s origin=%s cause=%s",
             active_str(&n->active, oldb, sizeof oldb), active_str(&a, newb, sizeof newb),
             proxy_source_name(n->active.source), proxy_source_name(a.source), log_quote(q, sizeof q, src, strlen(src)),
             cause);
    n->active = a;
    n->active_since = time(NULL);
    n->changes++;
    https_pool_flush("proxy-changed"); /* idle kept-alive connections go through the old proxy */
    phonehome_proxy_changed(&n->ph, https_now_ms());
    sztp_proxy_changed(&n->sztp, https_now_ms());
    conductor_proxy_changed(&n->cond, https_now_ms());
    return true;
}

/* ---- DHCP events ---- */

struct node_netif *node_find_netif(struct node *n, const char *netif)
{
    for (size_t i = 0; i < n->n_netifs; i++)
        if (strcmp(n->netifs[i].cfg->name, netif) == 0)
            return &n->netifs[i];
    return NULL;
}

static void set_last_event(struct node_netif *nif, time_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_last_event(struct node_netif *nif, time_t now, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nif->last_event, sizeof nif->last_event, fmt, ap);
    va_end(ap);
    nif->last_event_at = now;
}

void node_dhcp_bound(struct node *n, struct node_netif *nif, const uint8_t *opt43, size_t len, time_t expires,
                     bool renewal, time_t now)
{
    const char *netif = nif->cfg->name, *ifname = nif->cfg->ifname;
    char cause[96];
    snprintf(cause, sizeof cause, "dhcp.%s/%s", renewal ? "renew" : "bound", netif);
    nif->lease = LEASE_BOUND;

    if (!router_config_discovery_enabled(&n->cfg, n->name, netif)) {
        bool had = proxy_table_remove(&n->table, n->name, netif, NULL) == 0;
        log_event(renewal && !had ? LOG_LVL_DEBUG : LOG_LVL_INFO, "proxy.ignored",
                  "network-interface=%s ifname=%s reason=\"enable-proxy-discovery false\" option43=%s", netif, ifname,
                  opt43 ? "present" : "absent");
        set_last_event(nif, now, "%s", "ignored: enable-proxy-discovery false");
        if (had) {
            n->local_dirty = true;
            node_reselect(n, cause);
        }
        return;
    }

    const char *why = NULL;
    bool had_old = false;
    int r = proxysel_learn(&n->table, n->name, netif, ifname, opt43, len, now, expires, &why, &had_old);
    if (r < 0) {
        char q[300] = "-";
        const uint8_t *d = NULL;
        uint8_t dl = 0;
        if (opt43 && dhcp_vendor_find(opt43, len, DHCP_SUBOPT_PROXY, &d, &dl) == 0)
            log_quote(q, sizeof q, d, dl);
        else if (opt43)
            log_hex(q, sizeof q, opt43, len);
        log_event(opt43 ? LOG_LVL_WARN : LOG_LVL_INFO, "proxy.rejected",
                  "network-interface=%s ifname=%s reason=\"%s\" value=%s%s dropped_previous=%s", netif, ifname,
                  why ? why : "?", q, (opt43 && !d && len) ? " value_format=hex" : "", had_old ? "true" : "false");
        set_last_event(nif, now, "rejected: %s", why ? why : "?");
        if (had_old) {
            n->local_dirty = true;
            node_reselect(n, cause);
        }
        return;
    }
    const struct learned_proxy *e = proxy_table_find(&n->table, n->name, netif);
    char ap[32] = "?";
    if (e)
        addr_fmt(e->addr, e->port, ap, sizeof ap);
    static const char *const change[] = {"new", "same", "changed"};
    log_info("proxy.learned", "network-interface=%s ifname=%s proxy=%s change=%s renewal=%s lease_expires_in=%lld",
             netif, ifname, ap, r >= 0 && r <= 2 ? change[r] : "?", renewal ? "true" : "false",
             expires ? (long long)(expires - now) : -1LL);
    set_last_event(nif, now, "learned %s", ap);
    n->local_dirty = true; /* even when the same: the peer gets the new lease time */
    node_reselect(n, cause);
}

void node_dhcp_unbound(struct node *n, struct node_netif *nif, const char *why, time_t now)
{
    struct learned_proxy old;
    const char *netif = nif->cfg->name;
    char cause[96];
    nif->lease = LEASE_NONE;
    snprintf(cause, sizeof cause, "dhcp.unbound/%s", netif);
    if (proxy_table_remove(&n->table, n->name, netif, &old) == 0) {
        char ap[32];
        addr_fmt(old.addr, old.port, ap, sizeof ap);
        log_info("proxy.dropped", "network-interface=%s ifname=%s proxy=%s reason=\"lease %s\"", netif,
                 nif->cfg->ifname, ap, why);
        set_last_event(nif, now, "dropped: lease %s", why);
        n->local_dirty = true;
        node_reselect(n, cause);
    }
}

static void on_dhcp_bound(struct dhcpc_io *io, const struct dhcpc_lease *l, const struct dhcpc_lease *prev, void *arg)
{
    struct node_netif *nif = arg;
    uint64_t now_ms = dhcpc_now_ms();
    struct timespec rt;
    time_t expires = 0;
    (void)io;
    clock_gettime(CLOCK_REALTIME, &rt);
    time_t now = rt.tv_sec;
    if (l->expires_at != DHCPC_NEVER) {
        /* Wall-clock second at or after the lease's end (never before: the DHCP client's own
         * expiry, with the address removal, comes first). */
        uint64_t left = l->expires_at > now_ms ? l->expires_at - now_ms : 0;
        uint64_t end_ms = (uint64_t)rt.tv_sec * 1000u + (uint64_t)rt.tv_nsec / 1000000u + left;
        expires = (time_t)((end_ms + 999) / 1000);
    }
    node_dhcp_bound(nif->node, nif, l->have_vendor_opts ? l->vendor_opts : NULL, l->vendor_opts_len, expires,
                    prev != NULL, now);
    if (!prev) {
        phonehome_network_changed(&nif->node->ph, https_now_ms());
        sztp_network_changed(&nif->node->sztp, https_now_ms());
    }
}

static void on_dhcp_unbound(struct dhcpc_io *io, const struct dhcpc_lease *l, enum dhcpc_unbound_reason why,
                            void *arg)
{
    struct node_netif *nif = arg;
    (void)io;
    (void)l;
    node_dhcp_unbound(nif->node, nif, dhcpc_unbound_reason_name(why), time(NULL));
}

static const struct dhcpc_io_ops node_dhcp_ops = {.bound = on_dhcp_bound, .unbound = on_dhcp_unbound};

static void on_dhcp_readable(struct node_ev *ev, uint32_t events)
{
    struct node_netif *nif = container_of(ev, struct node_netif, ev);
    (void)events;
    dhcpc_io_readable(nif->io, dhcpc_now_ms());
}

int node_start_dhcp(struct node *n, int epfd, uint64_t now_ms)
{
    for (size_t i = 0; i < n->n_netifs; i++) {
        struct node_netif *nif = &n->netifs[i];
        struct dhcpc_io_config c;
        memset(&c, 0, sizeof c);
        snprintf(c.ifname, sizeof c.ifname, "%s", nif->cfg->ifname);
        c.apply = n->dhcp_apply;
        int r = dhcpc_io_open(&nif->io, &c, &node_dhcp_ops, nif);
        if (r < 0) {
            log_error("dhcp.open_failed", "network-interface=%s ifname=%s error=\"%s\"", nif->cfg->name,
                      nif->cfg->ifname, strerror(-r));
            nif->io = NULL;
            return r;
        }
        nif->ev.fn = on_dhcp_readable;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &nif->ev};
        if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, dhcpc_io_fd(nif->io), &ev) < 0) {
            r = -errno;
            log_error("dhcp.open_failed", "network-interface=%s ifname=%s error=\"epoll: %s\"", nif->cfg->name,
                      nif->cfg->ifname, strerror(-r));
            return r;
        }
        log_info("dhcp.start", "network-interface=%s device-interface=%s ifname=%s discovery=%s apply=%s",
                 nif->cfg->name, nif->cfg->devif, nif->cfg->ifname,
                 router_config_discovery_enabled(&n->cfg, n->name, nif->cfg->name) ? "true" : "false",
                 n->dhcp_apply ? "true" : "false");
        dhcpc_io_start(nif->io, now_ms);
    }
    return 0;
}

/* ---- HA ---- */

static void on_ha_readable(struct node_ev *ev, uint32_t events);

int node_start_ha(struct node *n, int epfd)
{
    if (!n->ha_enabled)
        return 0;
    struct sockaddr_in l = n->ha.listen_sa, p = n->ha.peer_sa;
    int r = ha_open(&n->ha, &l, &p);
    if (r < 0) {
        log_error("ha.open_failed", "listen=%s error=\"%s\"", n->ha_listen, strerror(-r));
        return r;
    }
    n->ha_ev.fn = on_ha_readable;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &n->ha_ev};
    if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, n->ha.fd, &ev) < 0) {
        r = -errno;
        log_error("ha.open_failed", "listen=%s error=\"epoll: %s\"", n->ha_listen, strerror(-r));
        return r;
    }
    log_info("ha.start", "listen=%s peer=%s expect_peer=%s timeout_ms=%u heartbeat_ms=%u instance=%u", n->ha_listen,
             n->ha_peer, n->ha.expect_peer[0] ? n->ha.expect_peer : "any", n->ha.timeout_ms, n->ha.heartbeat_ms,
             n->ha.instance);
    n->local_dirty = true; /* announce ourselves at once */
    return 0;
}

static void on_ha_readable(struct node_ev *ev, uint32_t events)
{
    struct node *n = container_of(ev, struct node, ha_ev);
    static struct ha_msg m;
    (void)events;
    for (int i = 0; i < 64; i++) { /* bounded: let other fds run */
        uint64_t now_ms = dhcpc_now_ms();
        int r = ha_receive(&n->ha, &m, now_ms);
        if (r == 1)
            node_ha_input(n, &m, now_ms, time(NULL));
        else if (r < 0) {
            if (r != -EAGAIN && r != -EWOULDBLOCK)
                log_warn("ha.recv_error", "error=\"%s\"", strerror(-r));
            break;
        }
    }
}

static bool same_peer_set(const struct learned_proxy *a, size_t na, const struct proxy_table *t, const char *node)
{
    size_t nb = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct learned_proxy *e = &t->e[i];
        if (!e->from_peer || strcmp(e->node, node) != 0)
            continue;
        nb++;
        bool found = false;
        for (size_t j = 0; j < na && !found; j++)
            found = strcmp(a[j].netif, e->netif) == 0 && a[j].addr.s_addr == e->addr.s_addr &&
                    a[j].port == e->port && a[j].lease == e->lease;
        if (!found)
            return false;
    }
    return na == nb;
}

void node_ha_input(struct node *n, const struct ha_msg *m, uint64_t now_ms, time_t now)
{
    static struct learned_proxy old[PROXY_TABLE_MAX];
    size_t n_old = 0;
    (void)now_ms;

    for (size_t i = 0; i < n->table.n; i++)
        if (n->table.e[i].from_peer && strcmp(n->table.e[i].node, m->node) == 0 && n_old < PROXY_TABLE_MAX)
            old[n_old++] = n->table.e[i];
    proxy_table_remove_node(&n->table, m->node);

    for (size_t i = 0; i < m->n; i++) {
        const struct ha_entry *he = &m->e[i];
        struct learned_proxy lp;
        char q[80];
        memset(&lp, 0, sizeof lp);
        if (he->lease_remaining == 0)
            continue; /* already expired on the peer */
        if (strlen(m->node) >= sizeof lp.node || strlen(he->netif) >= sizeof lp.netif) {
            log_warn("ha.entry_rejected", "peer=%s network-interface=%s reason=\"name too long\"", m->node,
                     log_quote(q, sizeof q, he->netif, strlen(he->netif)));
            continue;
        }
        memcpy(lp.node, m->node, strlen(m->node) + 1);     /* lengths checked above */
        memcpy(lp.netif, he->netif, strlen(he->netif) + 1);
        snprintf(lp.ifname, sizeof lp.ifname, "%s", he->ifname);
        lp.addr = he->addr;
        lp.port = he->port;
        if (!he->lease[0] || !lease_state_from_name(he->lease, &lp.lease) || lp.lease == LEASE_NONE)
            lp.lease = LEASE_BOUND;
        lp.learned_at = now - (time_t)he->age;
        lp.expires_at = he->lease_remaining >= HA_MAX_LEASE_S ? 0 : now + (time_t)he->lease_remaining;
        lp.from_peer = true;
        lp.peer_seen_at = now;
        if (proxy_table_upsert(&n->table, &lp) < 0)
            log_warn("ha.entry_rejected", "peer=%s network-interface=%s reason=\"learned-proxy table full\"", m->node,
                     he->netif);
    }

    bool up_now = !n->peer_was_up || n->peer_instance != m->instance;
    if (up_now) {
        log_info("ha.peer.up", "peer=%s instance=%u seq=%llu entries=%zu restarted=%s", m->node, m->instance,
                 (unsigned long long)m->seq, m->n, n->peer_was_up ? "true" : "false");
        n->peer_was_up = true;
        n->peer_instance = m->instance;
        n->local_dirty = true; /* let a (re)started peer learn ours at once */
    }
    if (!same_peer_set(old, n_old, &n->table, m->node) || (up_now && m->n)) {
        char list[512] = "";
        size_t o = 0;
        for (size_t i = 0; i < n->table.n && o < sizeof list; i++) {
            const struct learned_proxy *e = &n->table.e[i];
            if (!e->from_peer || strcmp(e->node, m->node) != 0)
                continue;
            char ap[32];
            addr_fmt(e->addr, e->port, ap, sizeof ap);
            int w = snprintf(list + o, sizeof list - o, "%s%s=%s", o ? "," : "", e->netif, ap);
            if (w < 0)
                break;
            o += (size_t)w;
        }
        log_info("ha.peer.entries", "peer=%s seq=%llu entries=\"%s\"", m->node, (unsigned long long)m->seq, list);
        char cause[96];
        snprintf(cause, sizeof cause, "ha.peer/%s", m->node);
        node_reselect(n, cause);
    }
}

size_t node_ha_entries(const struct node *n, struct ha_entry *out, size_t max, time_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < n->table.n && k < max; i++) {
        const struct learned_proxy *e = &n->table.e[i];
        if (e->from_peer || strcmp(e->node, n->name) != 0)
            continue;
        struct ha_entry *h = &out[k];
        memset(h, 0, sizeof *h);
        snprintf(h->netif, sizeof h->netif, "%s", e->netif);
        const struct rcfg_netif *c = router_config_find_netif_on(&n->cfg, n->name, e->netif);
        if (c)
            snprintf(h->device, sizeof h->device, "%s", c->devif);
        snprintf(h->ifname, sizeof h->ifname, "%s", e->ifname);
        h->addr = e->addr;
        h->port = e->port;
        snprintf(h->lease, sizeof h->lease, "%s", lease_state_name(e->lease));
        if (e->expires_at == 0)
            h->lease_remaining = HA_MAX_LEASE_S;
        else
            h->lease_remaining = e->expires_at > now ? (uint32_t)(e->expires_at - now) : 0;
        h->age = now > e->learned_at ? (uint32_t)(now - e->learned_at) : 0;
        if (!ha_name_ok(h->netif, strlen(h->netif)) || (h->device[0] && !ha_name_ok(h->device, strlen(h->device))))
            continue; /* cannot be sent (the config allows any non-space name) */
        k++;
    }
    return k;
}

/* ---- timers ---- */

static enum lease_state lease_of(enum dhcpc_state s)
{
    switch (s) {
    case DHCPC_BOUND:
        return LEASE_BOUND;
    case DHCPC_RENEWING:
        return LEASE_RENEWING;
    case DHCPC_REBINDING:
        return LEASE_REBINDING;
    default:
        return LEASE_NONE;
    }
}

void node_tick(struct node *n, uint64_t now_ms, time_t now)
{
    /* DHCP timers, then mirror each client's lease state into its entry. */
    for (size_t i = 0; i < n->n_netifs; i++) {
        struct node_netif *nif = &n->netifs[i];
        if (!nif->io)
            continue;
        dhcpc_io_timeout(nif->io, now_ms);
        enum lease_state ls = lease_of(dhcpc_io_state(nif->io));
        if (ls == nif->lease)
            continue;
        nif->lease = ls;
        struct learned_proxy *e = proxy_table_find(&n->table, n->name, nif->cfg->name);
        if (e && ls != LEASE_NONE && e->lease != ls) {
            log_info("proxy.lease_state", "network-interface=%s ifname=%s lease=%s", nif->cfg->name, nif->cfg->ifname,
                     lease_state_name(ls));
            proxy_table_set_lease(&n->table, n->name, nif->cfg->name, ls);
            n->local_dirty = true;
        }
    }

    /* A silent peer: drop everything it told us. */
    if (ha_peer_timed_out(&n->ha, now_ms)) {
        size_t k = proxy_table_remove_node(&n->table, n->ha.peer.node);
        n->peer_was_up = false;
        log_warn("ha.peer.down", "peer=%s silent_for_ms=%llu timeout_ms=%u entries_dropped=%zu", n->ha.peer.node,
                 (unsigned long long)(now_ms - n->ha.peer.seen_at_ms), n->ha.timeout_ms, k);
        if (k)
            node_reselect(n, "ha.peer.timeout");
    }

    /* Leases that ran out (the DHCP client reports its own expiry too; this also covers the
     * peer's entries, whose lease time came over HA). */
    struct learned_proxy dropped[16];
    size_t k = proxy_table_expire(&n->table, now, (time_t)(n->ha.timeout_ms / 1000u) + 1, dropped, 16);
    for (size_t i = 0; i < k && i < 16; i++) {
        char ap[32];
        addr_fmt(dropped[i].addr, dropped[i].port, ap, sizeof ap);
        log_info("proxy.expired", "node=%s network-interface=%s proxy=%s source=%s", dropped[i].node,
                 dropped[i].netif, ap, dropped[i].from_peer ? "peer" : "local");
        if (!dropped[i].from_peer)
            n->local_dirty = true;
    }
    if (k)
        node_reselect(n, "lease.expired");

    /* HTTPS timeouts, then phone-home retries. */
    https_tick(now_ms);
    phonehome_tick(&n->ph, now_ms);
    sztp_tick(&n->sztp, now_ms);
    conductor_tick(&n->cond, now_ms);

    /* HA: changes at once, otherwise a heartbeat every second. */
    if (n->ha.fd >= 0 && (n->local_dirty || ha_send_due(&n->ha, now_ms))) {
        struct ha_entry ents[HA_MAX_ENTRIES];
        size_t ne = node_ha_entries(n, ents, HA_MAX_ENTRIES, now);
        ha_send(&n->ha, ents, ne, now_ms);
        n->local_dirty = false;
    }
}

int node_next_timeout_ms(const struct node *n, uint64_t now_ms)
{
    int64_t t = 1000;
    for (size_t i = 0; i < n->n_netifs; i++) {
        if (!n->netifs[i].io)
            continue;
        int d = dhcpc_timeout_ms(dhcpc_io_next_timeout(n->netifs[i].io), now_ms);
        if (d >= 0 && d < t)
            t = d;
    }
    int64_t h = ha_next_timeout_ms(&n->ha, now_ms);
    if (h >= 0 && h < t)
        t = h;
    int hs = https_next_timeout_ms(now_ms);
    if (hs >= 0 && hs < t)
        t = hs;
    int ph = phonehome_next_timeout_ms(&n->ph, now_ms);
    if (ph >= 0 && ph < t)
        t = ph;
    int zt = sztp_next_timeout_ms(&n->sztp, now_ms);
    if (zt >= 0 && zt < t)
        t = zt;
    int ct = conductor_next_timeout_ms(&n->cond, now_ms);
    if (ct >= 0 && ct < t)
        t = ct;
    if (n->local_dirty && n->ha.fd >= 0)
        t = 0;
    return (int)t;
}

void node_start_phonehome(struct node *n, int epfd, uint64_t now_ms)
{
    n->epfd = epfd;
    phonehome_start(&n->ph, epfd, now_ms);
    sztp_start(&n->sztp, epfd, now_ms);
    conductor_start(&n->cond, epfd, now_ms);
}

void node_stop(struct node *n)
{
    phonehome_stop(&n->ph);
    conductor_stop(&n->cond);
    sztp_stop(&n->sztp);
    https_shutdown();
    for (size_t i = 0; i < n->n_netifs; i++) {
        dhcpc_io_close(n->netifs[i].io, false);
        n->netifs[i].io = NULL;
    }
    ha_close(&n->ha);
}
