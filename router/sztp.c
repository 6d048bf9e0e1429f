/* The router's sZTP client: see sztp.h. */
#include "sztp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "phonehome.h"
#include "sealed.h"
#include "tpm.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

/* ---- pure parts ---- */

static const char *const sztp_names[SZTP__COUNT] = {
    [SZTP_INIT] = "init",
    [SZTP_PROXY_READY] = "proxy-ready",
    [SZTP_PHONING_HOME] = "phoning-home",
    [SZTP_REDIRECTED] = "redirected",
    [SZTP_AUTHENTICATED] = "authenticated",
    [SZTP_ONBOARDING_RECEIVED] = "onboarding-received",
    [SZTP_ROOT_CA_INSTALLED] = "root-ca-installed",
    [SZTP_SECRET_STORED] = "secret-stored",
};
static const unsigned sztp_steps[SZTP__COUNT] = {
    [SZTP_INIT] = 0,          [SZTP_PROXY_READY] = 1,         [SZTP_PHONING_HOME] = 2,
    [SZTP_REDIRECTED] = 3,    [SZTP_AUTHENTICATED] = 4,       [SZTP_ONBOARDING_RECEIVED] = 5,
    [SZTP_ROOT_CA_INSTALLED] = 5, [SZTP_SECRET_STORED] = 5,
};

const char *sztp_state_name(enum sztp_state s) { return (unsigned)s < SZTP__COUNT ? sztp_names[s] : "unknown"; }

int sztp_state_from_name(const char *name)
{
    for (int i = 0; name && i < SZTP__COUNT; i++)
        if (strcmp(name, sztp_names[i]) == 0)
            return i;
    return -1;
}

unsigned sztp_state_step(enum sztp_state s) { return (unsigned)s < SZTP__COUNT ? sztp_steps[s] : 0; }

static const char *const fault_names[SZTP_FAULT__COUNT] = {
    [SZTP_FAULT_NONE] = "none",
    [SZTP_FAULT_REPLAY_RESPONSE] = "replay-response",
};

const char *sztp_fault_name(enum sztp_fault f) { return (unsigned)f < SZTP_FAULT__COUNT ? fault_names[f] : "unknown"; }

int sztp_fault_from_name(const char *name)
{
    for (int i = 0; name && i < SZTP_FAULT__COUNT; i++)
        if (strcmp(name, fault_names[i]) == 0)
            return i;
    return -1;
}

bool sztp_transition_allowed(enum sztp_state from, enum sztp_state to)
{
    if ((unsigned)from >= SZTP__COUNT || (unsigned)to >= SZTP__COUNT || from == to)
        return false;
    if ((unsigned)to == (unsigned)from + 1)
        return true;
    if (to == SZTP_REDIRECTED)
        return from == SZTP_AUTHENTICATED || from == SZTP_ONBOARDING_RECEIVED || from == SZTP_ROOT_CA_INSTALLED;
    if (to == SZTP_PHONING_HOME)
        return from == SZTP_REDIRECTED;
    return to == SZTP_INIT; /* a new device id */
}

static json_t *iso_time(time_t t)
{
    struct tm tm;
    char b[32];
    if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(b);
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

static json_t *error_json(const struct sztp_error *e)
{
    if (!e->set)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(sztp_state_name(e->state)));
    json_object_set_new(o, "step", json_integer(sztp_state_step(e->state)));
    json_object_set_new(o, "class", json_string(e->klass));
    json_object_set_new(o, "message", json_string(e->message));
    json_object_set_new(o, "status", e->status ? json_integer(e->status) : json_null());
    json_object_set_new(o, "retry-after", e->retry_after_s ? json_integer(e->retry_after_s) : json_null());
    json_object_set_new(o, "at", json_integer((json_int_t)e->at));
    json_object_set_new(o, "time", iso_time(e->at));
    return o;
}

static json_t *history_json(const struct sztp_persist *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->n_hist; i++) {
        const struct sztp_hist *h = &p->hist[i];
        json_t *o = json_object();
        json_object_set_new(o, "from", json_string(sztp_state_name(h->from)));
        json_object_set_new(o, "to", json_string(sztp_state_name(h->to)));
        json_object_set_new(o, "step", json_integer(sztp_state_step(h->to)));
        json_object_set_new(o, "at", json_integer((json_int_t)h->at));
        json_object_set_new(o, "time", iso_time(h->at));
        json_object_set_new(o, "why", json_string(h->why));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *sztp_persist_to_json(const struct sztp_persist *p)
{
    json_t *o = json_object();
    if (!o)
        fatalx("sztp.oom", "what=json");
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "device-id", json_string(p->device_id));
    json_object_set_new(o, "state", json_string(sztp_state_name(p->state)));
    json_object_set_new(o, "step", json_integer(sztp_state_step(p->state)));
    json_object_set_new(o, "redirect", json_string(p->redirect));
    json_object_set_new(o, "environment", json_string(p->environment));
    json_object_set_new(o, "org", json_string(p->org));
    json_object_set_new(o, "site", json_string(p->site));
    json_object_set_new(o, "conductor", json_string(p->conductor));
    json_object_set_new(o, "root-ca", json_boolean(p->root_ca));
    json_object_set_new(o, "proxy", str_or_null(p->proxy));
    json_object_set_new(o, "attempts-total", json_integer(p->attempts_total));
    json_object_set_new(o, "failures-total", json_integer(p->failures_total));
    json_object_set_new(o, "last-error", error_json(&p->last_error));
    json_object_set_new(o, "history", history_json(p));
    return o;
}

static int get_str(json_t *o, const char *key, char *dst, size_t cap, bool required, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        dst[0] = 0;
        if (required) {
            snprintf(err, errcap, "missing \"%s\"", key);
            return -1;
        }
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) >= cap || strlen(s) != json_string_length(v)) {
        snprintf(err, errcap, "\"%s\": expected a string of at most %zu bytes", key, cap - 1);
        return -1;
    }
    memcpy(dst, s, json_string_length(v) + 1);
    return 0;
}

static int get_state(json_t *o, const char *key, enum sztp_state *out, char *err, size_t errcap)
{
    int s = sztp_state_from_name(json_string_value(json_object_get(o, key)));
    if (s < 0) {
        snprintf(err, errcap, "\"%s\": not a state name", key);
        return -1;
    }
    *out = (enum sztp_state)s;
    return 0;
}

static unsigned get_uint(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 && v < 0x7fffffff ? (unsigned)v : 0;
}

static json_t *parse_object(const char *buf, size_t len, char *err, size_t errcap)
{
    json_error_t je;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, errcap, "bad JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(err, errcap, "not a JSON object");
        return NULL;
    }
    return o;
}

int sztp_persist_parse(const char *buf, size_t len, struct sztp_persist *p, char *err, size_t errcap)
{
    memset(p, 0, sizeof *p);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (json_integer_value(json_object_get(o, "version")) != 1) {
        snprintf(err, errcap, "\"version\": expected 1");
        goto out;
    }
    if (get_str(o, "device-id", p->device_id, sizeof p->device_id, true, err, errcap) < 0 ||
        get_state(o, "state", &p->state, err, errcap) < 0 ||
        get_str(o, "redirect", p->redirect, sizeof p->redirect, false, err, errcap) < 0 ||
        get_str(o, "environment", p->environment, sizeof p->environment, false, err, errcap) < 0 ||
        get_str(o, "org", p->org, sizeof p->org, false, err, errcap) < 0 ||
        get_str(o, "site", p->site, sizeof p->site, false, err, errcap) < 0 ||
        get_str(o, "conductor", p->conductor, sizeof p->conductor, false, err, errcap) < 0 ||
        get_str(o, "proxy", p->proxy, sizeof p->proxy, false, err, errcap) < 0)
        goto out;
    if (p->state >= SZTP_REDIRECTED && !p->redirect[0]) {
        snprintf(err, errcap, "state %s without \"redirect\"", sztp_state_name(p->state));
        goto out;
    }
    p->root_ca = json_is_true(json_object_get(o, "root-ca"));
    p->attempts_total = get_uint(o, "attempts-total");
    p->failures_total = get_uint(o, "failures-total");
    json_t *e = json_object_get(o, "last-error");
    if (json_is_object(e)) {
        struct sztp_error *le = &p->last_error;
        le->set = true;
        if (get_state(e, "state", &le->state, err, errcap) < 0 ||
            get_str(e, "class", le->klass, sizeof le->klass, true, err, errcap) < 0 ||
            get_str(e, "message", le->message, sizeof le->message, false, err, errcap) < 0)
            goto out;
        le->status = (int)get_uint(e, "status");
        le->retry_after_s = get_uint(e, "retry-after");
        le->at = (time_t)json_integer_value(json_object_get(e, "at"));
    }
    json_t *h = json_object_get(o, "history");
    if (h && !json_is_array(h)) {
        snprintf(err, errcap, "\"history\": expected an array");
        goto out;
    }
    size_t i;
    json_t *it;
    json_array_foreach(h, i, it) {
        if (p->n_hist == SZTP_HISTORY_MAX)
            break;
        struct sztp_hist *x = &p->hist[p->n_hist];
        if (!json_is_object(it) || get_state(it, "from", &x->from, err, errcap) < 0 ||
            get_state(it, "to", &x->to, err, errcap) < 0 ||
            get_str(it, "why", x->why, sizeof x->why, false, err, errcap) < 0) {
            if (!json_is_object(it))
                snprintf(err, errcap, "\"history\": expected objects");
            goto out;
        }
        x->at = (time_t)json_integer_value(json_object_get(it, "at"));
        p->n_hist++;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int sztp_parse_redirect(const char *buf, size_t len, char *redirect, size_t cap, char *env, size_t envcap, char *org,
                        size_t orgcap, char *err, size_t errcap)
{
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    struct https_url u;
    const char *why = NULL;
    if (get_str(o, "redirect", redirect, cap, true, err, errcap) < 0 ||
        get_str(o, "environment", env, envcap, false, err, errcap) < 0 ||
        get_str(o, "org", org, orgcap, false, err, errcap) < 0)
        goto out;
    if (strncmp(redirect, "https://", 8) != 0 || https_url_parse(redirect, &u, &why) < 0) {
        snprintf(err, errcap, "\"redirect\": not an https URL (%s)", why ? why : "scheme");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int sztp_parse_challenge(const char *buf, size_t len, struct sztp_challenge *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_str(o, "challenge", c->challenge, sizeof c->challenge, true, err, errcap) < 0 ||
        get_str(o, "suite", c->suite, sizeof c->suite, true, err, errcap) < 0 ||
        get_str(o, "challenge-id", c->id, sizeof c->id, true, err, errcap) < 0)
        goto out;
    for (const char *s = c->id; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\') {
            snprintf(err, errcap, "\"challenge-id\": bad character");
            goto out;
        }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int sztp_parse_session(const char *buf, size_t len, char *session, size_t scap, char *server_resp, size_t rcap,
                       char *err, size_t errcap)
{
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_str(o, "session", session, scap, true, err, errcap) < 0 ||
        get_str(o, "server-response", server_resp, rcap, false, err, errcap) < 0)
        goto out;
    for (const char *s = session; *s; s++)
        if (*s <= ' ' || *s > '~') {
            snprintf(err, errcap, "\"session\": bad character");
            goto out;
        }
    if (!session[0]) {
        snprintf(err, errcap, "\"session\": empty");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void sztp_onboarding_clear(struct sztp_onboarding *o)
{
    OPENSSL_cleanse(o->psk, sizeof o->psk);
    free(o->root_ca_pem);
    memset(o, 0, sizeof *o);
}

int sztp_parse_onboarding(const char *buf, size_t len, struct sztp_onboarding *ob, char *err, size_t errcap)
{
    memset(ob, 0, sizeof *ob);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_str(o, "conductor", ob->conductor, sizeof ob->conductor, true, err, errcap) < 0 ||
        get_str(o, "org", ob->org, sizeof ob->org, false, err, errcap) < 0 ||
        get_str(o, "site", ob->site, sizeof ob->site, false, err, errcap) < 0 ||
        get_str(o, "psk", ob->psk, sizeof ob->psk, true, err, errcap) < 0)
        goto out;
    ob->psk_len = strlen(ob->psk);
    if (ob->psk_len == 0) {
        snprintf(err, errcap, "\"psk\": empty");
        goto out;
    }
    json_t *ca = json_object_get(o, "root-ca-pem");
    if (ca && !json_is_null(ca)) {
        const char *pem = json_string_value(ca);
        if (!pem || strlen(pem) != json_string_length(ca) || !strstr(pem, "-----BEGIN CERTIFICATE-----")) {
            snprintf(err, errcap, "\"root-ca-pem\": expected PEM text");
            goto out;
        }
        ob->root_ca_pem = strdup(pem);
        if (!ob->root_ca_pem)
            fatalx("sztp.oom", "what=pem");
    }
    rc = 0;
out:
    json_decref(o);
    if (rc < 0)
        sztp_onboarding_clear(ob);
    return rc;
}

void sztp_body_error(const char *buf, size_t len, char *dst, size_t cap)
{
    char e[64];
    dst[0] = 0;
    if (!buf || !len)
        return;
    json_t *o = parse_object(buf, len, e, sizeof e);
    if (!o)
        return;
    const char *s = json_string_value(json_object_get(o, "error"));
    if (s) {
        size_t k = 0;
        for (; s[k] && k + 1 < cap; k++)
            dst[k] = (s[k] > ' ' && s[k] <= '~' && s[k] != '"' && s[k] != '\\') ? s[k] : '?';
        dst[k] = 0;
    }
    json_decref(o);
}

/* ---- the client ---- */

static void path_in(const struct sztp *z, const char *rel, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/%s", z->state_dir, rel) >= cap)
        fatalx("sztp.path", "too_long=yes");
}

static void persist(struct sztp *z)
{
    char path[PATH_MAX + 32];
    path_in(z, SZTP_STATE_FILE, path, sizeof path);
    json_t *o = sztp_persist_to_json(&z->p);
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        fatalx("sztp.oom", "what=dump");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t)
        fatalx("sztp.oom", "what=dump");
    t[n] = '\n';
    t[n + 1] = 0;
    int r = atomic_write_file(path, t, n + 1, 0644);
    free(t);
    if (r < 0)
        log_error("sztp.persist_failed", "path=\"%s\" error=\"%s\"", path, strerror(-r));
}

/* THE transition function. */
static void sztp_set_state(struct sztp *z, enum sztp_state to, const char *why)
{
    enum sztp_state from = z->p.state;
    if ((unsigned)to >= SZTP__COUNT || !sztp_transition_allowed(from, to))
        fatalx("sztp.state", "bad_transition from=%s to=%s", sztp_state_name(from), sztp_state_name(to));
    log_info("sztp.state", "from=%s to=%s step=%u why=\"%s\"", sztp_names[from], sztp_names[to], sztp_steps[to], why);
    z->p.state = to;
    if (z->p.n_hist == SZTP_HISTORY_MAX) {
        memmove(&z->p.hist[0], &z->p.hist[1], (SZTP_HISTORY_MAX - 1) * sizeof z->p.hist[0]);
        z->p.n_hist--;
    }
    struct sztp_hist *h = &z->p.hist[z->p.n_hist++];
    h->from = from;
    h->to = to;
    h->at = time(NULL);
    snprintf(h->why, sizeof h->why, "%s", why);
    persist(z);
}

void sztp_init(struct sztp *z, const struct router_config *cfg, const struct active_proxy *active)
{
    memset(z, 0, sizeof *z);
    z->cfg = cfg;
    z->active = active;
    z->epfd = -1;
    z->timeout_ms = SZTP_TIMEOUT_MS;
    retry_init(&z->retry, PH_BACKOFF_BASE_MS, PH_BACKOFF_MAX_MS, SZTP_RETRY_AFTER_MAX_MS,
               (uint32_t)getpid() * 2246822519u ^ (uint32_t)time(NULL));
}

static bool device_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == ':' || *s == '-'))
            return false;
    return true;
}

int sztp_configure(struct sztp *z, const char *state_dir, const char *device_id, const char *tpm_conf,
                   const char *url, const char *ca_file, char *err, size_t errcap)
{
    const char *why = NULL;
    if (!state_dir || !*state_dir || !device_id || !tpm_conf) {
        snprintf(err, errcap, "--sztp needs --state-dir, --device-id and --tpm");
        return -1;
    }
    if (!device_id_valid(device_id)) {
        snprintf(err, errcap, "--device-id \"%.80s\": expected 1..64 of [A-Za-z0-9._:-]", device_id);
        return -1;
    }
    if (strlen(state_dir) >= sizeof z->state_dir - 64 || strlen(tpm_conf) >= sizeof z->tpm_conf) {
        snprintf(err, errcap, "--state-dir or --tpm: too long");
        return -1;
    }
    if (!url)
        url = SZTP_DEFAULT_URL;
    if (strlen(url) >= sizeof z->url || https_url_parse(url, &z->u, &why) < 0) {
        snprintf(err, errcap, "--phone-home-url \"%.200s\": %s", url, why ? why : "too long");
        return -1;
    }
    if (strcmp(z->u.path, "/") == 0)
        snprintf(z->u.path, sizeof z->u.path, "/v1/phone-home");
    if (ca_file) {
        if (strlen(ca_file) >= sizeof z->ca_file || access(ca_file, R_OK) < 0) {
            snprintf(err, errcap, "--mist-ca \"%.200s\": %s", ca_file, strerror(errno ? errno : ENAMETOOLONG));
            return -1;
        }
        snprintf(z->ca_file, sizeof z->ca_file, "%s", ca_file);
    }
    /* the effective URL: what is shown and logged */
    if (z->u.port == HTTPS_DEFAULT_PORT)
        snprintf(z->url, sizeof z->url, "https://%s%s", z->u.host, z->u.path);
    else
        snprintf(z->url, sizeof z->url, "https://%s:%u%s", z->u.host, z->u.port, z->u.path);
    snprintf(z->state_dir, sizeof z->state_dir, "%s", state_dir);
    snprintf(z->tpm_conf, sizeof z->tpm_conf, "%s", tpm_conf);

    char path[PATH_MAX + 32], *buf = NULL;
    size_t len = 0;
    path_in(z, SZTP_STATE_FILE, path, sizeof path);
    int r = read_file_max(path, 256 * 1024, &buf, &len);
    if (r == -ENOENT) {
        memset(&z->p, 0, sizeof z->p);
    } else if (r < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(-r));
        return -1;
    } else {
        char e[256];
        r = sztp_persist_parse(buf, len, &z->p, e, sizeof e);
        free(buf);
        if (r < 0) {
            snprintf(err, errcap, "%s: %s", path, e);
            return -1;
        }
    }
    if (z->p.device_id[0] && strcmp(z->p.device_id, device_id) != 0) {
        log_warn("sztp.device_changed", "old=%s new=%s action=start-over", z->p.device_id, device_id);
        z->p.redirect[0] = 0;
        if (z->p.state != SZTP_INIT) {
            snprintf(z->p.device_id, sizeof z->p.device_id, "%s", device_id);
            sztp_set_state(z, SZTP_INIT, "device id changed");
        }
    }
    snprintf(z->p.device_id, sizeof z->p.device_id, "%s", device_id);
    z->enabled = true;
    return 0;
}

static bool proxy_active(const struct sztp *z)
{
    return z->active && z->active->source != PROXY_SRC_NONE && z->active->port != 0;
}

/* One more consecutive failure: the next attempt waits the backoff, or the server's Retry-After
 * when longer (capped; retry.h). Returns the delay. */
static unsigned arm_backoff(struct sztp *z, unsigned retry_after_s)
{
    return retry_fail(&z->retry, retry_after_s, https_now_ms());
}

static void fail(struct sztp *z, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(struct sztp *z, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
{
    struct sztp_error *e = &z->p.last_error;
    va_list ap;
    memset(e, 0, sizeof *e);
    e->set = true;
    e->state = z->p.state;
    e->status = status;
    e->retry_after_s = retry_after_s;
    e->at = time(NULL);
    snprintf(e->klass, sizeof e->klass, "%s", klass);
    va_start(ap, fmt);
    retry_reason(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    z->p.failures_total++;
    unsigned d = arm_backoff(z, retry_after_s);
    char q[300];
    log_warn("sztp.failed", "state=%s step=%u class=%s status=%d retry_after=%u error=%s failures=%u retry_in_ms=%u",
             sztp_names[z->p.state], sztp_steps[z->p.state], e->klass, status, retry_after_s,
             log_quote(q, sizeof q, e->message, strlen(e->message)), z->retry.failures, d);
    persist(z);
}

static void succeeded(struct sztp *z)
{
    retry_ok(&z->retry);
    if (z->cur_proxy[0])
        memcpy(z->p.proxy, z->cur_proxy, sizeof z->p.proxy); /* the proxy that carried it */
}

static void replay_wipe(struct sztp *z)
{
    if (z->replay_body) {
        OPENSSL_cleanse(z->replay_body, strlen(z->replay_body));
        free(z->replay_body);
    }
    free(z->replay_url);
    z->replay_body = z->replay_url = NULL;
}

static void active_str(const struct sztp *z, char *buf, size_t cap)
{
    proxy_addr_format(z->active->addr, z->active->port, buf, cap);
}

/* secret-stored and the active proxy is not the one that carried the last exchange: a re-check
 * through it is due. */
static void recheck_arm(struct sztp *z, const char *why)
{
    struct sztp_recheck *rc = &z->recheck;
    char ap[24];
    if (z->p.state != SZTP_SECRET_STORED || !proxy_active(z))
        return;
    active_str(z, ap, sizeof ap);
    if (strcmp(ap, z->p.proxy) == 0) {
        if (rc->pending)
            log_info("sztp.recheck",
                     "result=cancelled proxy=%s why=\"back to the proxy that carried the last exchange\"", rc->proxy);
        rc->pending = false;
        return;
    }
    if (rc->pending && strcmp(rc->proxy, ap) == 0)
        return;
    rc->pending = true;
    memcpy(rc->proxy, ap, sizeof rc->proxy);
    rc->attempts = rc->failures = 0;
    log_info("sztp.recheck", "result=due proxy=%s previous=%s why=\"%s\"", ap, z->p.proxy[0] ? z->p.proxy : "none",
             why);
}

static void recheck_failed(struct sztp *z, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void recheck_failed(struct sztp *z, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
{
    struct sztp_recheck *rc = &z->recheck;
    char msg[256], q[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rc->failures++;
    rc->failed_total++;
    rc->have_last = true;
    rc->last_ok = false;
    memcpy(rc->last_proxy, z->cur_proxy, sizeof rc->last_proxy);
    snprintf(rc->last_class, sizeof rc->last_class, "%s", klass);
    rc->last_redirect[0] = 0;
    rc->last_at = time(NULL);
    unsigned d = arm_backoff(z, retry_after_s);
    log_warn("sztp.recheck", "result=failed class=%s proxy=%s status=%d error=%s failures=%u retry_in_ms=%u", klass,
             z->cur_proxy, status, log_quote(q, sizeof q, msg, strlen(msg)), rc->failures, d);
}

static void on_done(struct https_client *c, const struct https_result *r, void *arg);

static void send_req(struct sztp *z, enum sztp_op op, const char *method, const char *url, const char *const *headers,
                     const char *body, uint64_t now_ms)
{
    struct https_url u;
    const char *why = NULL;
    if (https_url_parse(url, &u, &why) < 0) {
        fail(z, "bad-url", 0, 0, "%s: %s", url, why ? why : "?");
        return;
    }
    const struct router_config *cfg = z->cfg;
    const struct active_proxy *a = z->active;
    struct https_request req = {
        .tag = "sztp",
        .method = method,
        .host = u.host,
        .port = u.port,
        .path = u.path,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .proxy_addr = a->addr,
        .proxy_port = a->port,
        .proxy_user = cfg && cfg->have_proxy_user ? cfg->proxy_user : NULL,
        .proxy_pass = cfg && cfg->have_proxy_pass ? cfg->proxy_pass : NULL,
        .ca_file = z->ca_file[0] ? z->ca_file : NULL,
        .timeout_ms = z->timeout_ms,
        /* the org cloud's exchange is challenge, response (and the replay fault), onboarding data:
         * one connection for all of them (https.h, "Connection reuse") */
        .keep_alive_ms = op == SZTP_OP_CHALLENGE || op == SZTP_OP_RESPONSE || op == SZTP_OP_REPLAY
                             ? HTTPS_KEEPALIVE_IDLE_MS
                             : 0,
    };
    proxy_addr_format(a->addr, a->port, z->cur_proxy, sizeof z->cur_proxy);
    z->p.attempts_total++;
    z->op = op;
    z->retry.waiting = false;
    char q[SZTP_URL_MAX + 16];
    log_info("sztp.request", "state=%s step=%u method=%s url=%s proxy=%s", sztp_names[z->p.state],
             sztp_steps[z->p.state], method, log_quote(q, sizeof q, url, strlen(url)), z->cur_proxy);
    z->cur = https_start(z->epfd, &req, on_done, z, now_ms);
}

static int open_tpm(struct sztp *z)
{
    if (z->tpm)
        return 0;
    char e[256];
    if (tpm_open(&z->tpm, z->tpm_conf, e, sizeof e) < 0) {
        z->tpm = NULL;
        fail(z, "tpm", 0, 0, "tpm %s: %s", z->tpm_conf, e);
        return -1;
    }
    log_info("sztp.tpm", "tcti=\"%s\" result=open", z->tpm_conf);
    return 0;
}

static void drop_memory(struct sztp *z)
{
    OPENSSL_cleanse(z->session, sizeof z->session);
    if (z->have_ob)
        sztp_onboarding_clear(&z->ob);
    z->have_ob = false;
}

static void sub_url(const struct sztp *z, const char *leaf, char *out, size_t cap)
{
    size_t n = strlen(z->p.redirect);
    while (n && z->p.redirect[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s/%s", (int)n, z->p.redirect, leaf);
}

static int install_ca(struct sztp *z)
{
    char dir[PATH_MAX + 32], path[PATH_MAX + 32];
    path_in(z, SZTP_CA_DIR, dir, sizeof dir);
    path_in(z, SZTP_CA_FILE, path, sizeof path);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fail(z, "install-failed", 0, 0, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    int r = atomic_write_file(path, z->ob.root_ca_pem, strlen(z->ob.root_ca_pem), 0644);
    if (r < 0) {
        fail(z, "install-failed", 0, 0, "%s: %s", path, strerror(-r));
        return -1;
    }
    log_info("sztp.root_ca", "path=\"%s\" bytes=%zu", path, strlen(z->ob.root_ca_pem));
    return 0;
}

static int store_secret(struct sztp *z)
{
    char dir[PATH_MAX + 32], path[PATH_MAX + 32], e[256];
    path_in(z, SZTP_SECRET_DIR, dir, sizeof dir);
    path_in(z, SZTP_SECRET_FILE, path, sizeof path);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fail(z, "seal-failed", 0, 0, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (open_tpm(z) < 0)
        return -1;
    if (sealed_write(z->tpm, path, (const uint8_t *)z->ob.psk, z->ob.psk_len, e, sizeof e) < 0) {
        fail(z, "seal-failed", 0, 0, "%s: %s", path, e);
        return -1;
    }
    log_info("sztp.secret", "path=\"%s\" bytes=%zu", path, z->ob.psk_len);
    return 0;
}

static void phone_home_body(const struct sztp *z, char *body, size_t cap)
{
    json_t *o = json_pack("{s:s}", "device-id", z->p.device_id);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        fatalx("sztp.oom", "what=body");
    snprintf(body, cap, "%s", s);
    free(s);
}

/* Do the next thing the state asks for (no request under way, not in backoff). */
static void step(struct sztp *z, uint64_t now_ms)
{
    char url[SZTP_URL_MAX + 32], body[512];
    for (;;) {
        if (!z->enabled || !z->started || z->cur || z->retry.waiting)
            return;
        if (z->p.state == SZTP_SECRET_STORED) {
            if (z->recheck.pending && proxy_active(z)) {
                z->recheck.attempts++;
                phone_home_body(z, body, sizeof body);
                snprintf(url, sizeof url, "https://%s:%u%s", z->u.host, z->u.port, z->u.path);
                send_req(z, SZTP_OP_RECHECK, "POST", url, NULL, body, now_ms);
            }
            return;
        }
        if (!proxy_active(z)) {
            log_debug("sztp.waiting", "state=%s why=\"no active management proxy\"", sztp_names[z->p.state]);
            return;
        }
        switch (z->p.state) {
        case SZTP_INIT:
            sztp_set_state(z, SZTP_PROXY_READY, "active management proxy");
            continue;
        case SZTP_PROXY_READY:
            sztp_set_state(z, SZTP_PHONING_HOME, "phone home");
            continue;
        case SZTP_PHONING_HOME: {
            phone_home_body(z, body, sizeof body);
            snprintf(url, sizeof url, "https://%s:%u%s", z->u.host, z->u.port, z->u.path);
            send_req(z, SZTP_OP_PHONE_HOME, "POST", url, NULL, body, now_ms);
            return;
        }
        case SZTP_REDIRECTED:
            sub_url(z, "challenge", url, sizeof url);
            send_req(z, SZTP_OP_CHALLENGE, "POST", url, NULL, "{}", now_ms);
            return;
        case SZTP_AUTHENTICATED:
            if (!z->session[0]) {
                sztp_set_state(z, SZTP_REDIRECTED, "no session (restarted): authenticate again");
                continue;
            }
            {
                char auth[sizeof z->session + 32];
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", z->session);
                const char *const hdrs[] = {auth, NULL};
                sub_url(z, "onboarding", url, sizeof url);
                send_req(z, SZTP_OP_ONBOARDING, "GET", url, hdrs, NULL, now_ms);
                OPENSSL_cleanse(auth, sizeof auth);
            }
            return;
        case SZTP_ONBOARDING_RECEIVED:
            if (!z->have_ob) {
                sztp_set_state(z, SZTP_REDIRECTED, "onboarding data lost (restarted): authenticate again");
                continue;
            }
            if (z->ob.root_ca_pem && install_ca(z) < 0)
                return;
            sztp_set_state(z, SZTP_ROOT_CA_INSTALLED, z->ob.root_ca_pem ? "root CA installed" : "no root CA sent");
            continue;
        case SZTP_ROOT_CA_INSTALLED:
            if (!z->have_ob) {
                sztp_set_state(z, SZTP_REDIRECTED, "onboarding data lost (restarted): authenticate again");
                continue;
            }
            if (store_secret(z) < 0)
                return;
            succeeded(z);
            drop_memory(z);
            sztp_set_state(z, SZTP_SECRET_STORED, "secret sealed to the TPM");
            log_info("sztp.done", "device=%s org=%s conductor=%s root_ca=%s", z->p.device_id, z->p.org,
                     z->p.conductor, z->p.root_ca ? "yes" : "no");
            return;
        case SZTP_SECRET_STORED:
        case SZTP__COUNT:
            return;
        }
    }
}

/* The OCRA answer to a challenge, computed in the TPM; also makes the client challenge. */
static int ocra_answer(struct sztp *z, char *resp, size_t cap)
{
    struct ocra_suite s;
    char e[200], q[2 * OCRA_QUESTION_MAX + 2];
    if (ocra_suite_parse(z->ch.suite, strlen(z->ch.suite), &s, e, sizeof e) < 0) {
        fail(z, "ocra", 0, 0, "suite: %s", e);
        return -1;
    }
    if (ocra_make_challenge(&s, z->client_challenge, sizeof z->client_challenge) < 0) {
        fail(z, "ocra", 0, 0, "cannot make a client challenge");
        return -1;
    }
    int qn = ocra_mutual_question(&s, z->ch.challenge, strlen(z->ch.challenge), z->client_challenge,
                                  strlen(z->client_challenge), q, sizeof q, e, sizeof e);
    if (qn < 0) {
        fail(z, "ocra", 0, 0, "challenge: %s", e);
        return -1;
    }
    if (open_tpm(z) < 0)
        return -1;
    struct ocra_input in = {.question = q, .question_len = (size_t)qn};
    if (ocra_compute(&s, &in, tpm_ocra_hmac, z->tpm, resp, cap, e, sizeof e) < 0) {
        fail(z, "tpm", 0, 0, "OCRA in the TPM: %s", e);
        return -1;
    }
    return 0;
}

static bool server_response_ok(struct sztp *z, const char *got)
{
    struct ocra_suite s;
    char e[200], q[2 * OCRA_QUESTION_MAX + 2], want[OCRA_RESPONSE_MAX];
    if (ocra_suite_parse(z->ch.suite, strlen(z->ch.suite), &s, e, sizeof e) < 0)
        return false;
    int qn = ocra_mutual_question(&s, z->client_challenge, strlen(z->client_challenge), z->ch.challenge,
                                  strlen(z->ch.challenge), q, sizeof q, e, sizeof e);
    if (qn < 0)
        return false;
    struct ocra_input in = {.question = q, .question_len = (size_t)qn};
    int n = ocra_compute(&s, &in, tpm_ocra_hmac, z->tpm, want, sizeof want, e, sizeof e);
    bool ok = n > 0 && ocra_response_equal(got, strlen(got), want, (size_t)n);
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

static unsigned retry_after(const struct https_result *r) { return retry_after_parse(r, false); }

/* The cloud's verdict on the replayed response (the replay-response fault). */
static void replay_done(struct sztp *z, const struct https_result *r)
{
    char berr[48], q[400];
    if (r->err != HTTPS_OK) {
        log_warn("sztp.replay", "result=no-answer class=%s error=%s", https_err_name(r->err),
                 log_quote(q, sizeof q, r->message, strlen(r->message)));
        return;
    }
    sztp_body_error(r->body, r->body ? r->body_len : 0, berr, sizeof berr);
    if (r->status == 200) {
        struct sztp_error *e = &z->p.last_error;
        log_error("sztp.replay", "result=accepted status=200 challenge_id=%s", z->ch.id);
        memset(e, 0, sizeof *e);
        e->set = true;
        e->state = z->p.state;
        e->status = 200;
        e->at = time(NULL);
        snprintf(e->klass, sizeof e->klass, "replay-accepted");
        snprintf(e->message, sizeof e->message, "the cloud accepted a replayed OCRA response (challenge %s)", z->ch.id);
        z->p.failures_total++;
        persist(z);
        return;
    }
    if (r->status == 401 && strcmp(berr, "replayed-challenge") == 0)
        log_info("sztp.replay", "result=refused status=401 reason=replayed-challenge challenge_id=%s", z->ch.id);
    else
        log_warn("sztp.replay", "result=refused status=%d reason=%s expected=replayed-challenge challenge_id=%s",
                 r->status, berr[0] ? berr : "-", z->ch.id);
}

/* The answer to a re-check phone-home (secret-stored, new proxy). */
static void recheck_done(struct sztp *z, const struct https_result *r)
{
    struct sztp_recheck *rc = &z->recheck;
    char berr[48], e[256], redirect[SZTP_URL_MAX], env[64], org[64], q[SZTP_URL_MAX + 16];
    if (r->err != HTTPS_OK) {
        recheck_failed(z, https_err_name(r->err), 0, 0, "%s", r->message);
        return;
    }
    const char *body = r->body ? r->body : "";
    size_t blen = r->body ? r->body_len : 0;
    sztp_body_error(body, blen, berr, sizeof berr);
    if (r->status != 307) {
        recheck_failed(z, berr[0] ? berr : "http-error", r->status, retry_after(r), "ep-terminator answered %d %s",
                       r->status, r->reason);
        return;
    }
    if (sztp_parse_redirect(body, blen, redirect, sizeof redirect, env, sizeof env, org, sizeof org, e, sizeof e) < 0) {
        recheck_failed(z, "bad-body", r->status, 0, "phone-home answer: %s", e);
        return;
    }
    bool same = strcmp(redirect, z->p.redirect) == 0;
    retry_ok(&z->retry);
    memcpy(z->p.proxy, z->cur_proxy, sizeof z->p.proxy);
    rc->pending = false;
    rc->ok_total++;
    rc->have_last = true;
    rc->last_ok = true;
    memcpy(rc->last_proxy, z->cur_proxy, sizeof rc->last_proxy);
    rc->last_class[0] = 0;
    snprintf(rc->last_redirect, sizeof rc->last_redirect, "%s", same ? "same" : "moved");
    rc->last_at = time(NULL);
    if (same)
        log_info("sztp.recheck", "result=ok proxy=%s redirect=same attempts=%u", z->cur_proxy, rc->attempts);
    else
        log_info("sztp.recheck", "result=ok proxy=%s redirect=moved attempts=%u new_redirect=%s", z->cur_proxy,
                 rc->attempts, log_quote(q, sizeof q, redirect, strlen(redirect)));
    persist(z);
}

static void on_done(struct https_client *c, const struct https_result *r, void *arg)
{
    struct sztp *z = arg;
    enum sztp_op op = z->op;
    (void)c;
    z->cur = NULL;
    z->op = SZTP_OP_NONE;
    uint64_t now_ms = https_now_ms();
    char e[256];
    if (op == SZTP_OP_RECHECK) {
        recheck_done(z, r);
        return;
    }
    if (op == SZTP_OP_REPLAY) {
        replay_done(z, r);
        step(z, now_ms);
        return;
    }
    if (r->err != HTTPS_OK) {
        fail(z, https_err_name(r->err), 0, 0, "%s", r->message);
        return;
    }
    const char *body = r->body ? r->body : "";
    size_t blen = r->body ? r->body_len : 0;
    char berr[48];
    sztp_body_error(body, blen, berr, sizeof berr);
    switch (op) {
    case SZTP_OP_PHONE_HOME:
        if (r->status != 307) {
            fail(z, berr[0] ? berr : "http-error", r->status, retry_after(r), "ep-terminator answered %d %s",
                 r->status, r->reason);
            return;
        }
        if (sztp_parse_redirect(body, blen, z->p.redirect, sizeof z->p.redirect, z->p.environment,
                                sizeof z->p.environment, z->p.org, sizeof z->p.org, e, sizeof e) < 0) {
            z->p.redirect[0] = 0;
            fail(z, "bad-body", r->status, 0, "phone-home answer: %s", e);
            return;
        }
        succeeded(z);
        {
            char q[SZTP_URL_MAX + 16];
            log_info("sztp.redirected", "redirect=%s environment=%s org=%s",
                     log_quote(q, sizeof q, z->p.redirect, strlen(z->p.redirect)), z->p.environment, z->p.org);
        }
        sztp_set_state(z, SZTP_REDIRECTED, "307 from the EP terminator");
        break;
    case SZTP_OP_CHALLENGE: {
        if (r->status != 200) {
            if (r->status == 404 && strcmp(berr, "unknown-device") == 0) {
                fail(z, berr, r->status, 0, "org cloud does not know the device");
                sztp_set_state(z, SZTP_PHONING_HOME, "unknown to the org cloud: phone home again");
                return;
            }
            fail(z, berr[0] ? berr : "http-error", r->status, retry_after(r), "challenge: %d %s", r->status,
                 r->reason);
            return;
        }
        if (sztp_parse_challenge(body, blen, &z->ch, e, sizeof e) < 0) {
            fail(z, "bad-body", r->status, 0, "challenge: %s", e);
            return;
        }
        char resp[OCRA_RESPONSE_MAX], url[SZTP_URL_MAX + 32];
        if (ocra_answer(z, resp, sizeof resp) < 0)
            return;
        json_t *o = json_pack("{s:s,s:s,s:s}", "challenge-id", z->ch.id, "response", resp, "client-challenge",
                              z->client_challenge);
        OPENSSL_cleanse(resp, sizeof resp);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!s)
            fatalx("sztp.oom", "what=body");
        sub_url(z, "response", url, sizeof url);
        if (z->fault == SZTP_FAULT_REPLAY_RESPONSE && !z->replay_done) { /* what an eavesdropper captures */
            replay_wipe(z);
            z->replay_url = strdup(url);
            z->replay_body = strdup(s);
            if (!z->replay_url || !z->replay_body)
                fatalx("sztp.oom", "what=replay");
        }
        log_info("sztp.ocra", "suite=%s mode=mutual computed_in=tpm challenge_id=%s", z->ch.suite, z->ch.id);
        send_req(z, SZTP_OP_RESPONSE, "POST", url, NULL, s, now_ms);
        OPENSSL_cleanse(s, strlen(s));
        free(s);
        return;
    }
    case SZTP_OP_RESPONSE: {
        if (r->status != 200) {
            fail(z, berr[0] ? berr : "http-error", r->status, retry_after(r), "response: %d %s", r->status,
                 r->reason);
            return;
        }
        char srv[OCRA_RESPONSE_MAX + 2];
        if (sztp_parse_session(body, blen, z->session, sizeof z->session, srv, sizeof srv, e, sizeof e) < 0) {
            OPENSSL_cleanse(z->session, sizeof z->session);
            fail(z, "bad-body", r->status, 0, "session: %s", e);
            return;
        }
        if (!srv[0] || !server_response_ok(z, srv)) {
            OPENSSL_cleanse(z->session, sizeof z->session);
            fail(z, "server-response-mismatch", r->status, 0,
                 srv[0] ? "the cloud's OCRA response is wrong" : "the cloud sent no server-response");
            return;
        }
        succeeded(z);
        log_info("sztp.authenticated", "mode=mutual server_verified=yes org=%s", z->p.org);
        sztp_set_state(z, SZTP_AUTHENTICATED, "mutual OCRA verified");
        if (z->fault == SZTP_FAULT_REPLAY_RESPONSE && !z->replay_done && z->replay_body) {
            z->replay_done = true;
            log_info("sztp.replay", "result=sending fault=replay-response challenge_id=%s", z->ch.id);
            send_req(z, SZTP_OP_REPLAY, "POST", z->replay_url, NULL, z->replay_body, now_ms); /* copied */
            replay_wipe(z);
            return;
        }
        break;
    }
    case SZTP_OP_ONBOARDING:
        if (r->status == 401) {
            OPENSSL_cleanse(z->session, sizeof z->session);
            fail(z, berr[0] ? berr : "unauthorized", r->status, 0, "onboarding: session refused");
            sztp_set_state(z, SZTP_REDIRECTED, "session refused: authenticate again");
            return;
        }
        if (r->status != 200) {
            fail(z, berr[0] ? berr : "http-error", r->status, retry_after(r), "onboarding: %d %s", r->status,
                 r->reason);
            return;
        }
        if (z->have_ob)
            sztp_onboarding_clear(&z->ob);
        if (sztp_parse_onboarding(body, blen, &z->ob, e, sizeof e) < 0) {
            z->have_ob = false;
            fail(z, "bad-body", r->status, 0, "onboarding: %s", e);
            return;
        }
        z->have_ob = true;
        OPENSSL_cleanse(z->session, sizeof z->session);
        succeeded(z);
        snprintf(z->p.conductor, sizeof z->p.conductor, "%s", z->ob.conductor);
        snprintf(z->p.site, sizeof z->p.site, "%s", z->ob.site);
        if (z->ob.org[0])
            snprintf(z->p.org, sizeof z->p.org, "%s", z->ob.org);
        z->p.root_ca = z->ob.root_ca_pem != NULL;
        log_info("sztp.onboarding", "conductor=%s org=%s site=%s root_ca=%s psk_bytes=%zu", z->p.conductor, z->p.org,
                 z->p.site, z->p.root_ca ? "yes" : "no", z->ob.psk_len);
        sztp_set_state(z, SZTP_ONBOARDING_RECEIVED, "onboarding data received");
        break;
    case SZTP_OP_NONE:
    case SZTP_OP_REPLAY:  /* handled above */
    case SZTP_OP_RECHECK:
        return;
    }
    step(z, now_ms);
}

void sztp_start(struct sztp *z, int epfd, uint64_t now_ms)
{
    if (!z->enabled || z->started)
        return;
    z->epfd = epfd;
    z->started = true;
    log_info("sztp.start", "device=%s state=%s step=%u url=\"%s\" ca=\"%s\" tpm=\"%s\" proxy=%s", z->p.device_id,
             sztp_names[z->p.state], sztp_steps[z->p.state], z->url, z->ca_file[0] ? z->ca_file : "system",
             z->tpm_conf, proxy_active(z) ? "active" : "none");
    if (z->p.state == SZTP_SECRET_STORED) {
        log_info("sztp.resume", "state=secret-stored action=none proxy=%s", z->p.proxy[0] ? z->p.proxy : "unknown");
        if (z->p.proxy[0])
            recheck_arm(z, "the active proxy is not the one that carried the last exchange");
    }
    step(z, now_ms);
}

void sztp_set_timers(struct sztp *z, unsigned timeout_ms, unsigned backoff_base_ms, unsigned backoff_max_ms)
{
    if (timeout_ms)
        z->timeout_ms = timeout_ms;
    if (backoff_base_ms)
        z->retry.base_ms = backoff_base_ms;
    if (backoff_max_ms)
        z->retry.max_ms = backoff_max_ms;
}

void sztp_set_fault(struct sztp *z, enum sztp_fault f)
{
    z->fault = (unsigned)f < SZTP_FAULT__COUNT ? f : SZTP_FAULT_NONE;
    if (z->fault != SZTP_FAULT_NONE)
        log_warn("sztp.fault", "fault=%s", sztp_fault_name(z->fault));
}

void sztp_proxy_changed(struct sztp *z, uint64_t now_ms)
{
    if (!z->enabled || !z->started)
        return;
    if (z->cur) {
        https_cancel(z->cur);
        z->cur = NULL;
        z->op = SZTP_OP_NONE;
    }
    retry_ok(&z->retry);
    recheck_arm(z, "active management proxy changed");
    step(z, now_ms);
}

void sztp_network_changed(struct sztp *z, uint64_t now_ms)
{
    if (retry_left_ms(&z->retry, now_ms) > 0) {
        retry_hurry(&z->retry, now_ms);
        sztp_tick(z, now_ms);
    }
}

void sztp_tick(struct sztp *z, uint64_t now_ms)
{
    if (!z->enabled || !z->started)
        return;
    retry_due(&z->retry, now_ms);
    step(z, now_ms);
}

int sztp_next_timeout_ms(const struct sztp *z, uint64_t now_ms)
{
    if (!z->enabled || !z->started)
        return -1;
    return (int)retry_left_ms(&z->retry, now_ms);
}

struct tpm *sztp_tpm(struct sztp *z, char *err, size_t errcap)
{
    if (z->tpm)
        return z->tpm;
    if (!z->enabled) {
        snprintf(err, errcap, "no TPM configured (--sztp --tpm)");
        return NULL;
    }
    if (tpm_open(&z->tpm, z->tpm_conf, err, errcap) < 0) {
        z->tpm = NULL;
        return NULL;
    }
    log_info("sztp.tpm", "tcti=\"%s\" result=open", z->tpm_conf);
    return z->tpm;
}

void sztp_stop(struct sztp *z)
{
    if (z->cur) {
        https_cancel(z->cur);
        z->cur = NULL;
    }
    drop_memory(z);
    replay_wipe(z);
    if (z->tpm) {
        tpm_close(z->tpm);
        z->tpm = NULL;
    }
    z->started = false;
}

json_t *sztp_json(const struct sztp *z, uint64_t now_ms)
{
    json_t *o = sztp_persist_to_json(&z->p);
    static const char *const ops[] = {"none", "phone-home", "challenge", "response", "onboarding", "replay", "recheck"};
    json_object_del(o, "version");
    json_object_set_new(o, "enabled", json_boolean(z->enabled));
    json_object_set_new(o, "url", str_or_null(z->url));
    json_object_set_new(o, "ca-file", str_or_null(z->ca_file));
    json_object_set_new(o, "tpm", str_or_null(z->tpm_conf));
    json_object_set_new(o, "done", json_boolean(z->p.state == SZTP_SECRET_STORED));
    json_object_set_new(o, "active-proxy", json_boolean(proxy_active(z)));
    json_object_set_new(o, "request", z->cur ? json_string(ops[z->op]) : json_null());
    json_object_set_new(o, "consecutive-failures", json_integer(z->retry.failures));
    json_object_set_new(o, "next-retry-in-ms",
                        z->retry.waiting ? json_integer(retry_left_ms(&z->retry, now_ms)) : json_null());
    json_object_set_new(o, "retry-delay-ms", z->retry.waiting ? json_integer(z->retry.delay_ms) : json_null());
    json_object_set_new(o, "fault", z->fault != SZTP_FAULT_NONE ? json_string(sztp_fault_name(z->fault)) : json_null());
    const struct sztp_recheck *rc = &z->recheck;
    json_t *rj = json_object();
    json_object_set_new(rj, "pending", json_boolean(rc->pending));
    json_object_set_new(rj, "proxy", rc->pending ? json_string(rc->proxy) : json_null());
    json_object_set_new(rj, "attempts", json_integer(rc->attempts));
    json_object_set_new(rj, "failures", json_integer(rc->failures));
    json_object_set_new(rj, "ok-total", json_integer(rc->ok_total));
    json_object_set_new(rj, "failed-total", json_integer(rc->failed_total));
    if (rc->have_last)
        json_object_set_new(rj, "last",
                            json_pack("{s:s, s:s, s:o, s:o, s:I, s:o}", "result", rc->last_ok ? "ok" : "failed", "proxy",
                                      rc->last_proxy, "class", str_or_null(rc->last_class), "redirect",
                                      str_or_null(rc->last_redirect), "at", (json_int_t)rc->last_at, "time",
                                      iso_time(rc->last_at)));
    else
        json_object_set_new(rj, "last", json_null());
    json_object_set_new(o, "recheck", rj);
    char p[PATH_MAX + 32];
    if (z->enabled) {
        snprintf(p, sizeof p, "%s/%s", z->state_dir, SZTP_CA_FILE);
        json_object_set_new(o, "root-ca-file", z->p.root_ca && z->p.state >= SZTP_ROOT_CA_INSTALLED ? json_string(p)
                                                                                                   : json_null());
        snprintf(p, sizeof p, "%s/%s", z->state_dir, SZTP_SECRET_FILE);
        json_object_set_new(o, "secret-file", z->p.state == SZTP_SECRET_STORED ? json_string(p) : json_null());
    }
    return o;
}
