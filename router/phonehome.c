/* Phone-home through the management proxy: see phonehome.h. */
#include "phonehome.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ztp/log.h"

static const char *const ph_names[PH__COUNT] = {
    [PH_OFF] = "off",
    [PH_WAITING] = "waiting-for-proxy",
    [PH_ATTEMPTING] = "attempting",
    [PH_BACKOFF] = "backoff",
    [PH_OK] = "ok",
};

const char *ph_state_name(enum ph_state s) { return (unsigned)s < PH__COUNT ? ph_names[s] : "unknown"; }

unsigned phonehome_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms, uint32_t rnd)
{
    uint64_t d = base_ms;
    for (unsigned i = 1; i < failures && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t jitter = d / 5 ? rnd % (d / 5 + 1) : 0;
    return (unsigned)(d - jitter);
}

uint32_t phonehome_xorshift32(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* ---- the one transition function ---- */

static void ph_set_state(struct phonehome *ph, enum ph_state to, const char *why)
{
    if ((unsigned)to >= PH__COUNT)
        fatalx("phonehome.state", "bad_state=%d", (int)to);
    if (ph->state == to)
        return;
    log_info("phonehome.state", "from=%s to=%s why=\"%s\"", ph_names[ph->state], ph_names[to], why);
    ph->state = to;
}

void phonehome_init(struct phonehome *ph, const struct router_config *cfg, const struct active_proxy *active)
{
    memset(ph, 0, sizeof *ph);
    ph->cfg = cfg;
    ph->active = active;
    ph->epfd = -1;
    ph->timeout_ms = PH_TIMEOUT_MS;
    ph->backoff_base_ms = PH_BACKOFF_BASE_MS;
    ph->backoff_max_ms = PH_BACKOFF_MAX_MS;
    ph->rng = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
}

int phonehome_configure(struct phonehome *ph, const char *url, const char *ca_file, char *err, size_t errcap)
{
    const char *why = NULL;
    if (strlen(url) >= sizeof ph->url || https_url_parse(url, &ph->u, &why) < 0) {
        snprintf(err, errcap, "--phone-home-url \"%.200s\": %s", url, why ? why : "too long");
        return -1;
    }
    if (ca_file) {
        if (strlen(ca_file) >= sizeof ph->ca_file) {
            snprintf(err, errcap, "--mist-ca: path too long");
            return -1;
        }
        if (access(ca_file, R_OK) < 0) {
            snprintf(err, errcap, "--mist-ca \"%s\": %s", ca_file, strerror(errno));
            return -1;
        }
        snprintf(ph->ca_file, sizeof ph->ca_file, "%s", ca_file);
    }
    snprintf(ph->url, sizeof ph->url, "%s", url);
    ph->enabled = true;
    return 0;
}

static bool proxy_active(const struct phonehome *ph)
{
    return ph->active && ph->active->source != PROXY_SRC_NONE && ph->active->port != 0;
}

static void on_done(struct https_client *c, const struct https_result *r, void *arg);

static void attempt(struct phonehome *ph, uint64_t now_ms)
{
    const struct router_config *cfg = ph->cfg;
    const struct active_proxy *a = ph->active;
    struct https_request req = {
        .tag = "phonehome",
        .method = "GET",
        .host = ph->u.host,
        .port = ph->u.port,
        .path = ph->u.path,
        .proxy_addr = a->addr,
        .proxy_port = a->port,
        .proxy_user = cfg && cfg->have_proxy_user ? cfg->proxy_user : NULL,
        .proxy_pass = cfg && cfg->have_proxy_pass ? cfg->proxy_pass : NULL,
        .ca_file = ph->ca_file[0] ? ph->ca_file : NULL,
        .timeout_ms = ph->timeout_ms,
    };
    ph->attempts++;
    ph->attempts_total++;
    proxy_addr_format(a->addr, a->port, ph->cur_proxy, sizeof ph->cur_proxy);
    char auth[160], q[PH_URL_MAX + 16];
    if (req.proxy_user)
        snprintf(auth, sizeof auth, "basic user=%s",
                 log_quote((char[140]){0}, 140, req.proxy_user, strlen(req.proxy_user)));
    else
        snprintf(auth, sizeof auth, "none");
    log_info("phonehome.attempt", "attempt=%u round=%u url=%s proxy=%s proxy_source=%s auth=%s ca=\"%s\"",
             ph->attempts, ph->rounds, log_quote(q, sizeof q, ph->url, strlen(ph->url)), ph->cur_proxy,
             proxy_source_name(a->source), auth, ph->ca_file[0] ? ph->ca_file : "system");
    ph_set_state(ph, PH_ATTEMPTING, "attempt");
    ph->cur = https_start(ph->epfd, &req, on_done, ph, now_ms);
}

static void on_done(struct https_client *c, const struct https_result *r, void *arg)
{
    struct phonehome *ph = arg;
    (void)c;
    ph->cur = NULL;
    struct ph_result *l = &ph->last;
    memset(l, 0, sizeof *l);
    ph->have_last = true;
    l->attempt = ph->attempts;
    l->at = time(NULL);
    snprintf(l->proxy, sizeof l->proxy, "%s", ph->cur_proxy);
    l->status = r->status;
    snprintf(l->reason, sizeof l->reason, "%s", r->reason);
    l->proxy_status = r->proxy_status;
    snprintf(l->proxy_reason, sizeof l->proxy_reason, "%s", r->proxy_reason);
    snprintf(l->squid_error, sizeof l->squid_error, "%s", r->squid_error);
    snprintf(l->tls_version, sizeof l->tls_version, "%s", r->tls_version);
    snprintf(l->peer_subject, sizeof l->peer_subject, "%s", r->peer_subject);
    snprintf(l->peer_issuer, sizeof l->peer_issuer, "%s", r->peer_issuer);
    l->elapsed_ms = r->elapsed_ms;
    l->ok = r->err == HTTPS_OK && r->status < 400;
    char q1[300], q2[300], q3[420];
    if (l->ok) {
        snprintf(l->klass, sizeof l->klass, "ok");
        ph->successes++;
        ph->consecutive_failures = 0;
        ph->ok_at = l->at;
        log_info("phonehome.ok",
                 "status=%d reason=%s url=%s proxy=%s tls=%s peer_subject=%s peer_issuer=%s ms=%llu attempt=%u",
                 l->status, log_quote(q3, sizeof q3, l->reason, strlen(l->reason)), ph->url, l->proxy, l->tls_version,
                 log_quote(q1, sizeof q1, l->peer_subject, strlen(l->peer_subject)),
                 log_quote(q2, sizeof q2, l->peer_issuer, strlen(l->peer_issuer)), (unsigned long long)l->elapsed_ms,
                 l->attempt);
        ph_set_state(ph, PH_OK, "reached");
        return;
    }
    if (r->err == HTTPS_OK) {
        snprintf(l->klass, sizeof l->klass, "http-error");
        snprintf(l->message, sizeof l->message, "%s answered %d %s", ph->u.host, r->status, r->reason);
    } else {
        snprintf(l->klass, sizeof l->klass, "%s", https_err_name(r->err));
        snprintf(l->message, sizeof l->message, "%s", r->message);
    }
    ph->failures_total++;
    ph->consecutive_failures++;
    uint64_t now_ms = https_now_ms();
    ph->retry_in_ms =
        phonehome_backoff_ms(ph->consecutive_failures, ph->backoff_base_ms, ph->backoff_max_ms, phonehome_xorshift32(&ph->rng));
    ph->next_retry_ms = now_ms + ph->retry_in_ms;
    log_warn("phonehome.failed",
             "class=%s error=%s proxy=%s proxy_status=%d proxy_reason=%s squid_error=%s status=%d attempt=%u "
             "retry_in_ms=%u",
             l->klass, log_quote(q3, sizeof q3, l->message, strlen(l->message)), l->proxy, l->proxy_status,
             log_quote(q1, sizeof q1, l->proxy_reason, strlen(l->proxy_reason)),
             log_quote(q2, sizeof q2, l->squid_error, strlen(l->squid_error)), l->status, l->attempt, ph->retry_in_ms);
    ph_set_state(ph, PH_BACKOFF, l->klass);
}

static void new_round(struct phonehome *ph, uint64_t now_ms, const char *why)
{
    if (ph->cur) {
        https_cancel(ph->cur);
        ph->cur = NULL;
    }
    if (!proxy_active(ph)) {
        ph_set_state(ph, PH_WAITING, why);
        return;
    }
    ph->rounds++;
    ph->attempts = 0;
    ph->consecutive_failures = 0;
    ph->next_retry_ms = 0;
    attempt(ph, now_ms);
}

void phonehome_start(struct phonehome *ph, int epfd, uint64_t now_ms)
{
    if (!ph->enabled || ph->started)
        return;
    ph->epfd = epfd;
    ph->started = true;
    log_info("phonehome.start", "url=\"%s\" host=%s port=%u ca=\"%s\" proxy=%s", ph->url, ph->u.host, ph->u.port,
             ph->ca_file[0] ? ph->ca_file : "system", proxy_active(ph) ? "active" : "none");
    new_round(ph, now_ms, proxy_active(ph) ? "start" : "no active management proxy");
}

void phonehome_proxy_changed(struct phonehome *ph, uint64_t now_ms)
{
    if (!ph->enabled || !ph->started)
        return;
    new_round(ph, now_ms, proxy_active(ph) ? "proxy changed" : "no active management proxy");
}

void phonehome_network_changed(struct phonehome *ph, uint64_t now_ms)
{
    if (ph->state == PH_BACKOFF && ph->next_retry_ms > now_ms) {
        log_info("phonehome.retry_now", "why=\"new DHCP lease\" was_due_in_ms=%llu",
                 (unsigned long long)(ph->next_retry_ms - now_ms));
        ph->next_retry_ms = now_ms;
        phonehome_tick(ph, now_ms);
    }
}

void phonehome_tick(struct phonehome *ph, uint64_t now_ms)
{
    if (ph->state == PH_BACKOFF && now_ms >= ph->next_retry_ms) {
        if (!proxy_active(ph)) {
            ph_set_state(ph, PH_WAITING, "no active management proxy");
            return;
        }
        attempt(ph, now_ms);
    }
}

int phonehome_next_timeout_ms(const struct phonehome *ph, uint64_t now_ms)
{
    if (ph->state != PH_BACKOFF)
        return -1;
    return ph->next_retry_ms > now_ms ? (int)(ph->next_retry_ms - now_ms) : 0;
}

void phonehome_stop(struct phonehome *ph)
{
    if (ph->cur) {
        https_cancel(ph->cur);
        ph->cur = NULL;
    }
    ph->started = false;
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

static json_t *iso_time(time_t t)
{
    struct tm tm;
    char b[32];
    if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(b);
}

json_t *phonehome_json(const struct phonehome *ph, uint64_t now_ms)
{
    json_t *o = json_object();
    char ap[24];
    json_object_set_new(o, "enabled", json_boolean(ph->enabled));
    json_object_set_new(o, "state", json_string(ph_state_name(ph->state)));
    json_object_set_new(o, "url", str_or_null(ph->url));
    json_object_set_new(o, "host", str_or_null(ph->u.host));
    json_object_set_new(o, "port", ph->enabled ? json_integer(ph->u.port) : json_null());
    json_object_set_new(o, "ca-file", str_or_null(ph->ca_file));
    bool on = proxy_active(ph);
    if (on)
        proxy_addr_format(ph->active->addr, ph->active->port, ap, sizeof ap);
    json_object_set_new(o, "active-proxy", on ? json_string(ap) : json_null());
    json_object_set_new(o, "proxy", str_or_null(ph->state == PH_ATTEMPTING ? ph->cur_proxy
                                                 : ph->have_last            ? ph->last.proxy
                                                                            : NULL));
    json_object_set_new(o, "proxy-user",
                        ph->cfg && ph->cfg->have_proxy_user ? json_string(ph->cfg->proxy_user) : json_null());
    json_object_set_new(o, "round", json_integer(ph->rounds));
    json_object_set_new(o, "attempts", json_integer(ph->attempts));
    json_object_set_new(o, "attempts-total", json_integer(ph->attempts_total));
    json_object_set_new(o, "failures-total", json_integer(ph->failures_total));
    json_object_set_new(o, "successes", json_integer(ph->successes));
    json_object_set_new(o, "next-retry-in-ms", ph->state == PH_BACKOFF
                                                   ? json_integer(ph->next_retry_ms > now_ms
                                                                      ? (json_int_t)(ph->next_retry_ms - now_ms)
                                                                      : 0)
                                                   : json_null());
    json_object_set_new(o, "retry-delay-ms", ph->state == PH_BACKOFF ? json_integer(ph->retry_in_ms) : json_null());
    json_object_set_new(o, "succeeded-at", iso_time(ph->ok_at));
    if (ph->have_last) {
        const struct ph_result *l = &ph->last;
        json_t *r = json_object();
        json_object_set_new(r, "ok", json_boolean(l->ok));
        json_object_set_new(r, "class", json_string(l->klass));
        json_object_set_new(r, "message", str_or_null(l->message));
        json_object_set_new(r, "attempt", json_integer(l->attempt));
        json_object_set_new(r, "proxy", str_or_null(l->proxy));
        json_object_set_new(r, "status", l->status ? json_integer(l->status) : json_null());
        json_object_set_new(r, "reason", l->status ? json_string(l->reason) : json_null());
        json_object_set_new(r, "proxy-status", l->proxy_status ? json_integer(l->proxy_status) : json_null());
        json_object_set_new(r, "proxy-reason", l->proxy_status ? json_string(l->proxy_reason) : json_null());
        json_object_set_new(r, "squid-error", str_or_null(l->squid_error));
        json_object_set_new(r, "tls-version", str_or_null(l->tls_version));
        json_object_set_new(r, "peer-subject", str_or_null(l->peer_subject));
        json_object_set_new(r, "peer-issuer", str_or_null(l->peer_issuer));
        json_object_set_new(r, "elapsed-ms", json_integer((json_int_t)l->elapsed_ms));
        json_object_set_new(r, "at", iso_time(l->at));
        json_object_set_new(o, "last-result", r);
    } else {
        json_object_set_new(o, "last-result", json_null());
    }
    return o;
}
