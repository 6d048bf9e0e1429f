/* The router's conductor client: see conductor.h. */
#include "conductor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phonehome.h"
#include "sealed.h"
#include "svr.h"
#include "sztp.h"
#include "tpm.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

/* ---- names, steps, transitions ---- */

static const char *const cond_names[COND__COUNT] = {
    [COND_IDLE] = "idle",
    [COND_STAGING_AUTH] = "staging-auth",
    [COND_STAGING_CONNECTED] = "staging-connected",
    [COND_PRODUCTION_RECEIVED] = "production-received",
    [COND_KEY_CREATED] = "key-created",
    [COND_CERTIFIED] = "certified",
    [COND_SVR_CONFIGURED] = "svr-configured",
    [COND_MIGRATING] = "migrating",
    [COND_PRODUCTION_CONNECTED] = "production-connected",
};
static const unsigned cond_steps[COND__COUNT] = {
    [COND_IDLE] = 5,          [COND_STAGING_AUTH] = 5, [COND_STAGING_CONNECTED] = 5,
    [COND_PRODUCTION_RECEIVED] = 6, [COND_KEY_CREATED] = 7, [COND_CERTIFIED] = 8,
    [COND_SVR_CONFIGURED] = 9, [COND_MIGRATING] = 12, [COND_PRODUCTION_CONNECTED] = 12,
};

const char *cond_state_name(enum cond_state s) { return (unsigned)s < COND__COUNT ? cond_names[s] : "unknown"; }

int cond_state_from_name(const char *name)
{
    for (int i = 0; name && i < COND__COUNT; i++)
        if (strcmp(name, cond_names[i]) == 0)
            return i;
    return -1;
}

unsigned cond_state_step(enum cond_state s) { return (unsigned)s < COND__COUNT ? cond_steps[s] : 0; }

bool cond_transition_allowed(enum cond_state from, enum cond_state to)
{
    if ((unsigned)from >= COND__COUNT || (unsigned)to >= COND__COUNT || from == to)
        return false;
    if ((unsigned)to == (unsigned)from + 1)
        return true;
    if (to == COND_MIGRATING)
        return from == COND_CERTIFIED || from == COND_SVR_CONFIGURED || from == COND_PRODUCTION_CONNECTED;
    return to == COND_IDLE;
}

static const char *const task_names[] = {
    [TASK_NONE] = "none",          [TASK_PRODUCTION] = "production", [TASK_GENERATE_KEY] = "generate-key",
    [TASK_SVR_CONFIG] = "svr-config", [TASK_MIGRATE] = "migrate",    [TASK_UNKNOWN] = "unknown",
};

const char *cond_task_kind_name(enum cond_task_kind k)
{
    return (unsigned)k <= TASK_UNKNOWN ? task_names[k] : "unknown";
}

/* ---- JSON helpers ---- */

static json_t *iso_time(time_t t)
{
    struct tm tm;
    char b[32];
    if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(b);
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

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

/* A string member of at most cap-1 bytes without NUL into dst ("" when absent/null and optional). */
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

/* A token: printable, no blank, quote or backslash. */
static bool token_ok(const char *s, bool allow_empty)
{
    if (!*s && !allow_empty)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
            return false;
    return true;
}

static unsigned get_uint(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 && v < 0x7fffffff ? (unsigned)v : 0;
}

/* A malloc'd PEM string member holding at least one certificate. */
static int get_pem(json_t *o, const char *key, size_t max, char **out, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    *out = NULL;
    if (!s || strlen(s) != json_string_length(v) || json_string_length(v) > max ||
        !strstr(s, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errcap, "\"%s\": expected PEM certificate text of at most %zu bytes", key, max);
        return -1;
    }
    *out = strdup(s);
    if (!*out)
        fatalx("conductor.oom", "what=pem");
    return 0;
}

int cond_addr_parse(const char *s, char *host, size_t hostcap, uint16_t *port)
{
    char b[COND_ADDR_MAX];
    if (!s || !*s || strlen(s) >= sizeof b)
        return -1;
    memcpy(b, s, strlen(s) + 1);
    unsigned long p = COND_DEFAULT_PORT;
    char *colon = strchr(b, ':');
    if (colon) {
        char *end;
        *colon = 0;
        if (colon[1] < '1' || colon[1] > '9')
            return -1;
        errno = 0;
        p = strtoul(colon + 1, &end, 10);
        if (errno || *end || p == 0 || p > 65535)
            return -1;
    }
    if (!http_host_valid(b) || strlen(b) >= hostcap)
        return -1;
    memcpy(host, b, strlen(b) + 1);
    *port = (uint16_t)p;
    return 0;
}

/* "conductor": an array of 1..COND_MAX_ADDRS addresses (or one string); absent -> n = 0 unless required. */
static int get_addrs(json_t *o, const char *key, struct cond_addrs *a, bool required, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    memset(a, 0, sizeof *a);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errcap, "missing \"%s\"", key);
            return -1;
        }
        return 0;
    }
    json_t *one = json_is_string(v) ? v : NULL;
    size_t n = one ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if ((!one && !json_is_array(v)) || n > COND_MAX_ADDRS || (required && n == 0)) {
        snprintf(err, errcap, "\"%s\": expected %d..%d addresses", key, required ? 1 : 0, COND_MAX_ADDRS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *it = one ? one : json_array_get(v, i);
        const char *s = json_string_value(it);
        char h[COND_ADDR_MAX];
        uint16_t port;
        if (!s || strlen(s) != json_string_length(it) || cond_addr_parse(s, h, sizeof h, &port) < 0) {
            snprintf(err, errcap, "\"%s\"[%zu]: expected HOST[:PORT]", key, i);
            return -1;
        }
        memcpy(a->a[a->n++], s, strlen(s) + 1);
    }
    return 0;
}

static json_t *addrs_json(const struct cond_addrs *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n; i++)
        json_array_append_new(arr, json_string(a->a[i]));
    return arr;
}

/* ---- conductor.json ---- */

static json_t *svr_json(const struct svr_config *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "hub", s->hub, "hub-name", s->hub_name, "router", s->router, "node",
                     s->node, "identity", s->identity);
}

static json_t *error_json(const struct cond_error *e)
{
    if (!e->set)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(cond_state_name(e->state)));
    json_object_set_new(o, "step", json_integer(cond_state_step(e->state)));
    json_object_set_new(o, "class", json_string(e->klass));
    json_object_set_new(o, "message", json_string(e->message));
    json_object_set_new(o, "status", e->status ? json_integer(e->status) : json_null());
    json_object_set_new(o, "retry-after", e->retry_after_s ? json_integer(e->retry_after_s) : json_null());
    json_object_set_new(o, "conductor", str_or_null(e->conductor));
    json_object_set_new(o, "at", json_integer((json_int_t)e->at));
    json_object_set_new(o, "time", iso_time(e->at));
    return o;
}

static json_t *history_json(const struct cond_persist *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->n_hist; i++) {
        const struct cond_hist *h = &p->hist[i];
        json_t *o = json_object();
        json_object_set_new(o, "from", json_string(cond_state_name(h->from)));
        json_object_set_new(o, "to", json_string(cond_state_name(h->to)));
        json_object_set_new(o, "step", json_integer(cond_state_step(h->to)));
        json_object_set_new(o, "at", json_integer((json_int_t)h->at));
        json_object_set_new(o, "time", iso_time(h->at));
        json_object_set_new(o, "why", json_string(h->why));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *cond_persist_to_json(const struct cond_persist *p)
{
    json_t *o = json_object();
    if (!o)
        fatalx("conductor.oom", "what=json");
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "state", json_string(cond_state_name(p->state)));
    json_object_set_new(o, "step", json_integer(cond_state_step(p->state)));
    json_object_set_new(o, "router", json_string(p->router));
    json_object_set_new(o, "node", json_string(p->node));
    json_object_set_new(o, "staging", str_or_null(p->staging));
    json_object_set_new(o, "production", addrs_json(&p->production));
    json_object_set_new(o, "target", addrs_json(&p->target));
    json_object_set_new(o, "migrated-by", str_or_null(p->migrated_by));
    json_object_set_new(o, "staging-acked", json_boolean(p->staging_acked));
    json_object_set_new(o, "connected", str_or_null(p->connected));
    json_object_set_new(o, "serial", str_or_null(p->serial));
    json_object_set_new(o, "svr", p->have_svr ? svr_json(&p->svr) : json_null());
    json_object_set_new(o, "attempts-total", json_integer(p->attempts_total));
    json_object_set_new(o, "failures-total", json_integer(p->failures_total));
    json_object_set_new(o, "last-error", error_json(&p->last_error));
    json_object_set_new(o, "history", history_json(p));
    return o;
}

static int get_state(json_t *o, const char *key, enum cond_state *out, char *err, size_t errcap)
{
    int s = cond_state_from_name(json_string_value(json_object_get(o, key)));
    if (s < 0) {
        snprintf(err, errcap, "\"%s\": not a state name", key);
        return -1;
    }
    *out = (enum cond_state)s;
    return 0;
}

static int parse_svr(json_t *v, struct svr_config *s, char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(v)) {
        snprintf(err, errcap, "\"svr\": expected an object");
        return -1;
    }
    if (get_str(v, "hub", s->hub, sizeof s->hub, true, err, errcap) < 0 ||
        get_str(v, "hub-name", s->hub_name, sizeof s->hub_name, true, err, errcap) < 0 ||
        get_str(v, "router", s->router, sizeof s->router, true, err, errcap) < 0 ||
        get_str(v, "node", s->node, sizeof s->node, true, err, errcap) < 0 ||
        get_str(v, "identity", s->identity, sizeof s->identity, true, err, errcap) < 0)
        return -1;
    char h[COND_ADDR_MAX];
    uint16_t port;
    struct in_addr a;
    if (cond_addr_parse(s->hub, h, sizeof h, &port) < 0 || inet_pton(AF_INET, h, &a) != 1) {
        snprintf(err, errcap, "\"svr\".\"hub\": expected IPv4[:PORT]");
        return -1;
    }
    if (!psk_name_ok(s->hub_name) || !psk_name_ok(s->router) || !psk_name_ok(s->node) ||
        !token_ok(s->identity, false)) {
        snprintf(err, errcap, "\"svr\": hub-name, router, node or identity is not a valid name");
        return -1;
    }
    return 0;
}

int cond_persist_parse(const char *buf, size_t len, struct cond_persist *p, char *err, size_t errcap)
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
    if (get_state(o, "state", &p->state, err, errcap) < 0 ||
        get_str(o, "router", p->router, sizeof p->router, true, err, errcap) < 0 ||
        get_str(o, "node", p->node, sizeof p->node, true, err, errcap) < 0 ||
        get_str(o, "staging", p->staging, sizeof p->staging, false, err, errcap) < 0 ||
        get_addrs(o, "production", &p->production, false, err, errcap) < 0 ||
        get_addrs(o, "target", &p->target, false, err, errcap) < 0 ||
        get_str(o, "migrated-by", p->migrated_by, sizeof p->migrated_by, false, err, errcap) < 0 ||
        get_str(o, "connected", p->connected, sizeof p->connected, false, err, errcap) < 0 ||
        get_str(o, "serial", p->serial, sizeof p->serial, false, err, errcap) < 0)
        goto out;
    if (p->state >= COND_STAGING_AUTH && !p->staging[0]) {
        snprintf(err, errcap, "state %s without \"staging\"", cond_state_name(p->state));
        goto out;
    }
    if (p->state >= COND_PRODUCTION_RECEIVED && p->production.n == 0) {
        snprintf(err, errcap, "state %s without \"production\"", cond_state_name(p->state));
        goto out;
    }
    json_t *sv = json_object_get(o, "svr");
    if (sv && !json_is_null(sv)) {
        if (parse_svr(sv, &p->svr, err, errcap) < 0)
            goto out;
        p->have_svr = true;
    }
    if (p->state >= COND_SVR_CONFIGURED && !p->have_svr && p->state != COND_MIGRATING &&
        p->state != COND_PRODUCTION_CONNECTED) {
        snprintf(err, errcap, "state %s without \"svr\"", cond_state_name(p->state));
        goto out;
    }
    p->staging_acked = json_is_true(json_object_get(o, "staging-acked"));
    p->attempts_total = get_uint(o, "attempts-total");
    p->failures_total = get_uint(o, "failures-total");
    json_t *e = json_object_get(o, "last-error");
    if (json_is_object(e)) {
        struct cond_error *le = &p->last_error;
        le->set = true;
        if (get_state(e, "state", &le->state, err, errcap) < 0 ||
            get_str(e, "class", le->klass, sizeof le->klass, true, err, errcap) < 0 ||
            get_str(e, "message", le->message, sizeof le->message, false, err, errcap) < 0 ||
            get_str(e, "conductor", le->conductor, sizeof le->conductor, false, err, errcap) < 0)
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
        if (p->n_hist == COND_HISTORY_MAX)
            break;
        struct cond_hist *x = &p->hist[p->n_hist];
        if (!json_is_object(it)) {
            snprintf(err, errcap, "\"history\": expected objects");
            goto out;
        }
        if (get_state(it, "from", &x->from, err, errcap) < 0 || get_state(it, "to", &x->to, err, errcap) < 0 ||
            get_str(it, "why", x->why, sizeof x->why, false, err, errcap) < 0)
            goto out;
        x->at = (time_t)json_integer_value(json_object_get(it, "at"));
        p->n_hist++;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- response bodies ---- */

static bool lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int cond_parse_challenge(const char *buf, size_t len, struct cond_challenge *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_str(o, "challenge-id", c->id, sizeof c->id, true, err, errcap) < 0 ||
        get_str(o, "nonce", c->nonce, sizeof c->nonce, true, err, errcap) < 0)
        goto out;
    if (!token_ok(c->id, false)) {
        snprintf(err, errcap, "\"challenge-id\": bad character");
        goto out;
    }
    if (!lower_hex(c->nonce, PSK_NONCE_HEX)) {
        snprintf(err, errcap, "\"nonce\": expected %d lower-case hex digits", PSK_NONCE_HEX);
        goto out;
    }
    c->expires_in = get_uint(o, "expires-in");
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int cond_parse_auth(const char *buf, size_t len, struct cond_auth *a, char *err, size_t errcap)
{
    memset(a, 0, sizeof *a);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_str(o, "session", a->session, sizeof a->session, true, err, errcap) < 0 ||
        get_str(o, "role", a->role, sizeof a->role, true, err, errcap) < 0 ||
        get_str(o, "server-mac", a->server_mac, sizeof a->server_mac, true, err, errcap) < 0)
        goto out;
    if (!token_ok(a->session, false)) {
        snprintf(err, errcap, "\"session\": empty or bad character");
        goto out;
    }
    if (!token_ok(a->role, false)) {
        snprintf(err, errcap, "\"role\": bad character");
        goto out;
    }
    a->expires_in = get_uint(o, "expires-in");
    rc = 0;
out:
    if (rc < 0)
        OPENSSL_cleanse(a->session, sizeof a->session);
    json_decref(o);
    return rc;
}

void cond_task_clear(struct cond_task *t)
{
    OPENSSL_cleanse(t->psk, sizeof t->psk);
    free(t->root_ca_pem);
    memset(t, 0, sizeof *t);
}

int cond_parse_task(const char *buf, size_t len, struct cond_task *t, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    json_t *tv = json_object_get(o, "task");
    const char *name = json_string_value(tv);
    if (!name || strlen(name) != json_string_length(tv) || !*name) {
        snprintf(err, errcap, "\"task\": expected a string");
        goto out;
    }
    size_t k = 0;
    for (; name[k] && k + 1 < sizeof t->name; k++)
        t->name[k] = name[k] > ' ' && name[k] <= '~' && name[k] != '"' && name[k] != '\\' ? name[k] : '?';
    t->name[k] = 0;
    if (strcmp(name, "none") == 0) {
        t->kind = TASK_NONE;
    } else if (strcmp(name, "production") == 0) {
        t->kind = TASK_PRODUCTION;
        if (get_addrs(o, "conductor", &t->conductors, true, err, errcap) < 0 ||
            get_str(o, "psk", t->psk, sizeof t->psk, true, err, errcap) < 0 ||
            get_pem(o, "root-ca-pem", 64 * 1024, &t->root_ca_pem, err, errcap) < 0)
            goto out;
        t->psk_len = strlen(t->psk);
        if (!t->psk_len) {
            snprintf(err, errcap, "\"psk\": empty");
            goto out;
        }
    } else if (strcmp(name, "generate-key") == 0) {
        t->kind = TASK_GENERATE_KEY;
        if (get_str(o, "key-type", t->key_type, sizeof t->key_type, true, err, errcap) < 0 ||
            get_str(o, "identity", t->identity, sizeof t->identity, true, err, errcap) < 0)
            goto out;
        if (!token_ok(t->key_type, false) || !token_ok(t->identity, false)) {
            snprintf(err, errcap, "\"key-type\" or \"identity\": bad character");
            goto out;
        }
    } else if (strcmp(name, "svr-config") == 0) {
        t->kind = TASK_SVR_CONFIG;
        json_t *sv = json_object_get(o, "svr");
        if (!sv) {
            snprintf(err, errcap, "missing \"svr\"");
            goto out;
        }
        if (parse_svr(sv, &t->svr, err, errcap) < 0)
            goto out;
    } else if (strcmp(name, "migrate") == 0) {
        t->kind = TASK_MIGRATE;
        if (get_addrs(o, "conductor", &t->conductors, false, err, errcap) < 0)
            goto out;
    } else {
        t->kind = TASK_UNKNOWN;
    }
    rc = 0;
out:
    json_decref(o);
    if (rc < 0)
        cond_task_clear(t);
    return rc;
}

int cond_parse_csr_answer(const char *buf, size_t len, char **cert_pem, char **ca_pem, char *serial, size_t serialcap,
                          char *err, size_t errcap)
{
    *cert_pem = *ca_pem = NULL;
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    if (get_pem(o, "certificate-pem", PKI_PEM_MAX, cert_pem, err, errcap) < 0 ||
        get_pem(o, "ca-pem", 64 * 1024, ca_pem, err, errcap) < 0 ||
        get_str(o, "serial", serial, serialcap, true, err, errcap) < 0)
        goto out;
    if (!token_ok(serial, false)) {
        snprintf(err, errcap, "\"serial\": bad character");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    if (rc < 0) {
        free(*cert_pem);
        free(*ca_pem);
        *cert_pem = *ca_pem = NULL;
    }
    return rc;
}

int cond_parse_ack_answer(const char *buf, size_t len, char *next, size_t cap, char *err, size_t errcap)
{
    json_t *o = parse_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = get_str(o, "next", next, cap, false, err, errcap);
    if (rc == 0 && !token_ok(next, true)) {
        snprintf(err, errcap, "\"next\": bad character");
        rc = -1;
    }
    json_decref(o);
    return rc;
}

static void printable_copy(const char *s, char *dst, size_t cap)
{
    size_t k = 0;
    for (; s && s[k] && k + 1 < cap; k++)
        dst[k] = s[k] >= ' ' && s[k] <= '~' && s[k] != '"' && s[k] != '\\' ? s[k] : '?';
    dst[k] = 0;
}

void cond_body_error(const char *buf, size_t len, char *error, size_t ecap, char *detail, size_t dcap)
{
    char e[64];
    error[0] = 0;
    if (detail)
        detail[0] = 0;
    if (!buf || !len)
        return;
    json_t *o = parse_object(buf, len, e, sizeof e);
    if (!o)
        return;
    printable_copy(json_string_value(json_object_get(o, "error")), error, ecap);
    for (char *p = error; *p; p++)
        if (*p == ' ')
            *p = '?';
    if (detail)
        printable_copy(json_string_value(json_object_get(o, "detail")), detail, dcap);
    json_decref(o);
}

/* ---- the client ---- */

static void path_in(const struct conductor *c, const char *rel, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/%s", c->state_dir, rel) >= cap)
        fatalx("conductor.path", "too_long=yes");
}

static bool file_exists(const struct conductor *c, const char *rel)
{
    char p[PATH_MAX + 64];
    path_in(c, rel, p, sizeof p);
    return access(p, R_OK) == 0;
}

static void persist(struct conductor *c)
{
    char path[PATH_MAX + 64];
    path_in(c, COND_STATE_FILE, path, sizeof path);
    json_t *o = cond_persist_to_json(&c->p);
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        fatalx("conductor.oom", "what=dump");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t)
        fatalx("conductor.oom", "what=dump");
    t[n] = '\n';
    t[n + 1] = 0;
    int r = atomic_write_file(path, t, n + 1, 0644);
    free(t);
    if (r < 0)
        log_error("conductor.persist_failed", "path=\"%s\" error=\"%s\"", path, strerror(-r));
}

/* THE transition function. */
static void cond_set_state(struct conductor *c, enum cond_state to, const char *why)
{
    enum cond_state from = c->p.state;
    if ((unsigned)to >= COND__COUNT || !cond_transition_allowed(from, to))
        fatalx("conductor.state", "bad_transition from=%s to=%s", cond_state_name(from), cond_state_name(to));
    log_info("conductor.state", "from=%s to=%s step=%u why=\"%s\"", cond_names[from], cond_names[to], cond_steps[to],
             why);
    c->p.state = to;
    if (c->p.n_hist == COND_HISTORY_MAX) {
        memmove(&c->p.hist[0], &c->p.hist[1], (COND_HISTORY_MAX - 1) * sizeof c->p.hist[0]);
        c->p.n_hist--;
    }
    struct cond_hist *h = &c->p.hist[c->p.n_hist++];
    h->from = from;
    h->to = to;
    h->at = time(NULL);
    snprintf(h->why, sizeof h->why, "%s", why);
    persist(c);
}

static bool proxy_active(const struct conductor *c)
{
    return c->active && c->active->source != PROXY_SRC_NONE && c->active->port != 0;
}

static enum cond_role want_role(const struct conductor *c)
{
    if (c->p.state == COND_IDLE)
        return COND_ROLE_NONE;
    return c->p.state >= COND_MIGRATING && c->p.staging_acked ? COND_ROLE_PRODUCTION : COND_ROLE_STAGING;
}

static const char *role_name(enum cond_role r)
{
    return r == COND_ROLE_STAGING ? "staging" : r == COND_ROLE_PRODUCTION ? "production" : "none";
}

static const struct cond_addrs *prod_list(const struct conductor *c)
{
    return c->p.target.n ? &c->p.target : &c->p.production;
}

/* The conductor the next request of this role goes to ("" when none is known). */
static const char *target_addr(const struct conductor *c, enum cond_role r)
{
    if (r == COND_ROLE_STAGING)
        return c->p.staging;
    const struct cond_addrs *l = prod_list(c);
    return l->n ? l->a[c->addr_idx % l->n] : "";
}

static void fail(struct conductor *c, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(struct conductor *c, const char *klass, int status, unsigned retry_after_s, const char *fmt, ...)
{
    struct cond_error *e = &c->p.last_error;
    va_list ap;
    memset(e, 0, sizeof *e);
    e->set = true;
    e->state = c->p.state;
    e->status = status;
    e->retry_after_s = retry_after_s;
    e->at = time(NULL);
    snprintf(e->klass, sizeof e->klass, "%s", klass);
    snprintf(e->conductor, sizeof e->conductor, "%s", c->cur_addr);
    va_start(ap, fmt);
    retry_reason(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    c->p.failures_total++;
    unsigned d = retry_fail(&c->retry, retry_after_s, https_now_ms());
    char q[300];
    log_warn("conductor.failed",
             "state=%s step=%u role=%s conductor=%s class=%s status=%d retry_after=%u error=%s failures=%u "
             "retry_in_ms=%u",
             cond_names[c->p.state], cond_steps[c->p.state], role_name(want_role(c)),
             c->cur_addr[0] ? c->cur_addr : "-",
             e->klass, status, retry_after_s, log_quote(q, sizeof q, e->message, strlen(e->message)),
             c->retry.failures, d);
    persist(c);
}

static void succeeded(struct conductor *c) { retry_ok(&c->retry); }

static void drop_session(struct conductor *c, const char *why)
{
    if (c->session[0])
        log_info("conductor.session", "result=dropped role=%s conductor=%s why=\"%s\"", role_name(c->sess_role),
                 c->cur_addr[0] ? c->cur_addr : "-", why);
    OPENSSL_cleanse(c->session, sizeof c->session);
    OPENSSL_cleanse(c->expect_server_mac, sizeof c->expect_server_mac);
    c->sess_role = COND_ROLE_NONE;
    c->session_since = 0;
}

static void on_done(struct https_client *hc, const struct https_result *r, void *arg);

/* A request to the conductor of role `role` (the session's bearer token when `bearer`). */
static void send_req(struct conductor *c, enum cond_op op, enum cond_role role, const char *method, const char *path,
                     const char *body, bool bearer, uint64_t now_ms)
{
    char host[COND_ADDR_MAX], ca[PATH_MAX + 64], cert[PATH_MAX + 64], url[COND_ADDR_MAX + 64], q[COND_ADDR_MAX + 80];
    uint16_t port;
    const char *addr = target_addr(c, role);
    snprintf(c->cur_addr, sizeof c->cur_addr, "%s", addr);
    if (cond_addr_parse(addr, host, sizeof host, &port) < 0) {
        fail(c, role == COND_ROLE_PRODUCTION ? "no-production-data" : "bad-address", 0, 0,
             "no usable %s conductor address (\"%s\")", role_name(role), addr);
        return;
    }
    char auth[COND_SESSION_MAX + 32];
    const char *hdrs[2] = {NULL, NULL};
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->session);
        hdrs[0] = auth;
    }
    bool prod = role == COND_ROLE_PRODUCTION;
    path_in(c, prod ? COND_PROD_CA_FILE : COND_ROOT_CA_FILE, ca, sizeof ca);
    path_in(c, COND_CERT_FILE, cert, sizeof cert);
    const struct router_config *cfg = c->cfg;
    const struct active_proxy *a = c->active;
    struct https_request req = {
        .tag = "conductor",
        .method = method,
        .host = host,
        .port = port,
        .path = path,
        .headers = hdrs,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .proxy_addr = a->addr,
        .proxy_port = a->port,
        .proxy_user = cfg && cfg->have_proxy_user ? cfg->proxy_user : NULL,
        .proxy_pass = cfg && cfg->have_proxy_pass ? cfg->proxy_pass : NULL,
        .ca_file = access(ca, R_OK) == 0 ? ca : NULL,
        .cert_file = prod && c->key ? cert : NULL,
        .key = prod ? c->key : NULL,
        .timeout_ms = c->timeout_ms,
        /* one connection per conductor exchange (https.h, "Connection reuse"): the next request goes
         * to the same conductor right away, except after the migrate ack (staging is dropped).
         * became_connected() closes the production session's set-up connection, so that exchange's
         * tunnel ends (and is in the proxy's access log) when it is over; the heartbeats then keep
         * one connection of their own from one to the next, as a router holds its link to its
         * conductor (a fleet's production conductor otherwise does a mutual-TLS handshake per
         * heartbeat: 200 a second for 1,000 routers) */
        .keep_alive_ms = op == COND_OP_ACK && c->ack_is_migrate ? 0
                         : op == COND_OP_HEARTBEAT              ? COND_HEARTBEAT_MS + 2000
                                                                : HTTPS_KEEPALIVE_IDLE_MS,
    };
    if (prod && !req.ca_file) {
        fail(c, "no-production-data", 0, 0, "%s is missing", COND_PROD_CA_FILE);
        return;
    }
    proxy_addr_format(a->addr, a->port, c->cur_proxy, sizeof c->cur_proxy);
    c->p.attempts_total++;
    c->op = op;
    c->retry.waiting = false;
    snprintf(url, sizeof url, "https://%s:%u%s", host, port, path);
    log_info("conductor.request", "state=%s step=%u role=%s method=%s url=%s proxy=%s mtls=%s", cond_names[c->p.state],
             cond_steps[c->p.state], role_name(role), method, log_quote(q, sizeof q, url, strlen(url)), c->cur_proxy,
             req.cert_file ? "yes" : "no");
    c->cur = https_start(c->epfd, &req, on_done, c, now_ms);
    OPENSSL_cleanse(auth, sizeof auth);
}

static int mkdir_in(struct conductor *c, const char *rel, mode_t mode, const char *klass)
{
    char dir[PATH_MAX + 64];
    path_in(c, rel, dir, sizeof dir);
    if (mkdir(dir, mode) < 0 && errno != EEXIST) {
        fail(c, klass, 0, 0, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static struct tpm *get_tpm(struct conductor *c)
{
    char e[256];
    struct tpm *t = c->sz ? sztp_tpm(c->sz, e, sizeof e) : NULL;
    if (!t)
        fail(c, "tpm", 0, 0, "%s", c->sz ? e : "no TPM");
    return t;
}

/* Both MACs of a challenge with the psk of `role` (unsealed for this only). */
static int compute_macs(struct conductor *c, enum cond_role role, const char *nonce, char *client_mac, size_t cap)
{
    char path[PATH_MAX + 64], e[256];
    uint8_t psk[SEALED_MAX];
    size_t len = 0;
    const char *rel = role == COND_ROLE_PRODUCTION ? COND_PROD_PSK_FILE : COND_STAGING_PSK_FILE;
    path_in(c, rel, path, sizeof path);
    if (access(path, R_OK) < 0) {
        fail(c, role == COND_ROLE_PRODUCTION ? "no-production-data" : "unseal-failed", 0, 0, "%s: %s", rel,
             strerror(errno));
        return -1;
    }
    struct tpm *t = get_tpm(c);
    if (!t)
        return -1;
    if (sealed_read(t, path, psk, sizeof psk, &len, e, sizeof e) < 0) {
        fail(c, "unseal-failed", 0, 0, "%s: %s", rel, e);
        return -1;
    }
    int r1 = psk_mac(PSK_CLIENT, psk, len, nonce, c->p.router, c->p.node, client_mac, cap, e, sizeof e);
    int r2 = r1 < 0 ? -1
                    : psk_mac(PSK_SERVER, psk, len, nonce, c->p.router, c->p.node, c->expect_server_mac,
                              sizeof c->expect_server_mac, e, sizeof e);
    OPENSSL_cleanse(psk, sizeof psk);
    if (r1 < 0 || r2 < 0) {
        fail(c, "bad-secret-format", 0, 0, "psk MAC: %s", e);
        return -1;
    }
    return 0;
}

/* The router key: already in memory, unsealed from secrets/router-key.seal, or (create) made and
 * sealed. *created tells which. */
/* SHA-256 of the key's SubjectPublicKeyInfo (DER), hex: what
 * `openssl x509 -in certs/router.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum` prints,
 * so a test can tie the certificate to the sealed key without the key. */
static void pubkey_sha256(EVP_PKEY *k, char *out, size_t cap)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = i2d_PUBKEY(k, &der);
    snprintf(out, cap, "-");
    if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1)
        for (unsigned i = 0; i < mdlen && 2 * i + 2 < cap; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    OPENSSL_free(der);
}

static int load_key(struct conductor *c, bool create, bool *created)
{
    char pkh[2 * EVP_MAX_MD_SIZE + 1];
    char path[PATH_MAX + 64], e[256];
    uint8_t scalar[PKI_SCALAR_LEN];
    size_t len = 0;
    if (created)
        *created = false;
    if (c->key)
        return 0;
    path_in(c, COND_KEY_FILE, path, sizeof path);
    bool exists = access(path, R_OK) == 0;
    if (!exists && !create) {
        fail(c, "key-failed", 0, 0, "%s is missing", COND_KEY_FILE);
        return -1;
    }
    struct tpm *t = get_tpm(c);
    if (!t)
        return -1;
    if (exists) {
        if (sealed_read(t, path, scalar, sizeof scalar, &len, e, sizeof e) < 0 || len != PKI_SCALAR_LEN) {
            OPENSSL_cleanse(scalar, sizeof scalar);
            fail(c, "unseal-failed", 0, 0, "%s: %s", COND_KEY_FILE, len != PKI_SCALAR_LEN && !e[0] ? "wrong size" : e);
            return -1;
        }
        c->key = pki_key_from_scalar(scalar);
        OPENSSL_cleanse(scalar, sizeof scalar);
        if (!c->key) {
            fail(c, "key-failed", 0, 0, "%s: not an EC P-256 scalar", COND_KEY_FILE);
            return -1;
        }
        pubkey_sha256(c->key, pkh, sizeof pkh);
        log_info("conductor.key", "step=7 result=loaded path=\"%s\" sealed=yes pubkey_sha256=%s", path, pkh);
        return 0;
    }
    if (mkdir_in(c, "secrets", 0700, "seal-failed") < 0)
        return -1;
    EVP_PKEY *k = pki_key_generate();
    if (!k || pki_key_scalar(k, scalar) < 0) {
        EVP_PKEY_free(k);
        fail(c, "key-failed", 0, 0, "cannot make an EC P-256 key");
        return -1;
    }
    int r = sealed_write(t, path, scalar, sizeof scalar, e, sizeof e);
    OPENSSL_cleanse(scalar, sizeof scalar);
    if (r < 0) {
        EVP_PKEY_free(k);
        fail(c, "seal-failed", 0, 0, "%s: %s", COND_KEY_FILE, e);
        return -1;
    }
    c->key = k;
    if (created)
        *created = true;
    pubkey_sha256(k, pkh, sizeof pkh);
    log_info("conductor.key", "step=7 result=created type=ec-p256 path=\"%s\" sealed=yes pubkey_sha256=%s", path, pkh);
    return 0;
}

static char *read_rel(const struct conductor *c, const char *rel, size_t *len)
{
    char path[PATH_MAX + 64], *buf = NULL;
    path_in(c, rel, path, sizeof path);
    if (read_file_max(path, 256 * 1024, &buf, len) < 0)
        return NULL;
    return buf;
}

/* Verify the first certificate of pem (the others: untrusted intermediates) against the store. */
static int verify_first(X509_STORE *st, const char *pem, size_t len, const char *what, char *err, size_t errcap)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *leaf = NULL, *x;
    X509_STORE_CTX *ctx = NULL;
    int rc = -1;
    if (!chain)
        fatalx("conductor.oom", "what=x509");
    STACK_OF(X509) *all = NULL;
    if (pki_certs_parse(pem, len, &all) > 0) { /* parsed once per process (ztp/pki.h) */
        leaf = sk_X509_shift(all);
        while ((x = sk_X509_shift(all)) != NULL)
            if (!sk_X509_push(chain, x))
                X509_free(x);
        sk_X509_free(all);
    } else {
        BIO *b = BIO_new_mem_buf(pem, (int)len);
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            if (!leaf)
                leaf = x;
            else if (!sk_X509_push(chain, x))
                X509_free(x);
        }
        BIO_free(b);
    }
    if (!leaf) {
        snprintf(err, errcap, "%s: no certificate in the text", what);
        goto out;
    }
    ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, st, leaf, chain) != 1 ||
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1) {
        snprintf(err, errcap, "%s: cannot set up the verification", what);
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        snprintf(err, errcap, "%s: %s", what, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    rc = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return rc;
}

/* The issued certificate must chain to the conductor CA it came with, and that CA to one of the
 * router's anchors (the root CA from Mist, the production root CA): the conductor CA is not taken
 * on the conductor's word alone. Either failure is an unknown CA. */
static int cert_chain_trusted(const struct conductor *c, const char *cert, size_t cert_len, const char *ca_pem,
                              size_t ca_len, char *err, size_t errcap)
{
    static const char *const anchors[] = {COND_ROOT_CA_FILE, COND_PROD_CA_FILE};
    X509_STORE *st = X509_STORE_new(), *cas = X509_STORE_new();
    int n_anchor = 0, n_ca = 0, rc = -1;
    if (!st || !cas)
        fatalx("conductor.oom", "what=x509");
    STACK_OF(X509) *ca_certs = NULL;
    if (pki_certs_parse(ca_pem, ca_len, &ca_certs) >= 0) { /* parsed once per process (ztp/pki.h) */
        for (int i = 0; i < sk_X509_num(ca_certs); i++)
            n_ca += X509_STORE_add_cert(cas, sk_X509_value(ca_certs, i)) == 1;
        sk_X509_pop_free(ca_certs, X509_free);
    } else { /* other PEM blocks too: read it as OpenSSL does, skipping them */
        BIO *b = BIO_new_mem_buf(ca_pem, (int)ca_len);
        X509 *x;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            n_ca += X509_STORE_add_cert(cas, x) == 1;
            X509_free(x);
        }
        BIO_free(b);
    }
    ERR_clear_error();
    if (!n_ca) {
        snprintf(err, errcap, "the conductor CA text holds no certificate");
        goto out;
    }
    if (verify_first(cas, cert, cert_len, "the certificate does not chain to the conductor CA it came with", err,
                     errcap) < 0)
        goto out;
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        char path[PATH_MAX + 64];
        path_in(c, anchors[i], path, sizeof path);
        if (access(path, R_OK) == 0 && pki_store_load_file(st, path) == 1)
            n_anchor++;
    }
    ERR_clear_error();
    if (!n_anchor) {
        snprintf(err, errcap, "no trust anchor (%s, %s) to check the conductor CA with", anchors[0], anchors[1]);
        goto out;
    }
    rc = verify_first(st, ca_pem, ca_len,
                      "the conductor CA does not chain to trust/root-ca.pem or trust/production-ca.pem", err, errcap);
out:
    X509_STORE_free(cas);
    X509_STORE_free(st);
    return rc;
}

/* Subject and notAfter of certs/router.pem, for show. */
static void load_cert_info(struct conductor *c)
{
    size_t len = 0;
    char *pem = read_rel(c, COND_CERT_FILE, &len);
    char e[128];
    c->cert_subject[0] = c->cert_not_after[0] = 0;
    if (!pem)
        return;
    X509 *x = pki_cert_parse(pem, len, e, sizeof e);
    free(pem);
    if (!x)
        return;
    X509_NAME_oneline(X509_get_subject_name(x), c->cert_subject, sizeof c->cert_subject);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        strftime(c->cert_not_after, sizeof c->cert_not_after, "%Y-%m-%dT%H:%M:%SZ", &tm);
    X509_free(x);
}

/* The installed certificate's serial in upper-case hex (as the conductor logs it). 0 or -1. */
static int installed_cert_serial(const struct conductor *c, char *out, size_t cap)
{
    size_t len = 0;
    char e[128];
    char *pem = read_rel(c, COND_CERT_FILE, &len);
    X509 *x = pem ? pki_cert_parse(pem, len, e, sizeof e) : NULL;
    free(pem);
    BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get_serialNumber(x), NULL) : NULL;
    char *h = bn ? BN_bn2hex(bn) : NULL;
    int rc = h && strlen(h) < cap ? 0 : -1;
    if (rc == 0)
        snprintf(out, cap, "%s", h);
    OPENSSL_free(h);
    BN_free(bn);
    X509_free(x);
    return rc;
}

/* The installed certificate still checks against the installed conductor CA with our key. */
static bool installed_cert_ok(struct conductor *c)
{
    size_t cl = 0, al = 0;
    char e[256];
    char *cert = read_rel(c, COND_CERT_FILE, &cl), *ca = read_rel(c, COND_CA_FILE, &al);
    bool ok = cert && ca && c->key &&
              pki_cert_check(cert, cl, ca, al, c->p.router, c->p.node, c->key, e, sizeof e) == 0;
    free(cert);
    free(ca);
    return ok;
}

static void set_ack(struct conductor *c, const char *task, bool ok, const char *detail)
{
    c->ack_pending = true;
    snprintf(c->ack_task, sizeof c->ack_task, "%s", task);
    snprintf(c->ack_result, sizeof c->ack_result, "%s", ok ? "ok" : "failed");
    printable_copy(detail ? detail : "", c->ack_detail, sizeof c->ack_detail);
    c->ack_is_migrate = false;
}

/* A task we will never do as sent: ack it failed (the conductor's log says why) and back off. */
static void refuse_task(struct conductor *c, const struct cond_task *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse_task(struct conductor *c, const struct cond_task *t, const char *fmt, ...)
{
    char d[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    set_ack(c, t->name, false, d);
    fail(c, "bad-task", 0, 0, "task %s: %s", t->name, d);
}

/* ---- the hub ---- */

static void hub_outcome(void *arg, bool peered, const char *klass, const char *detail)
{
    struct conductor *c = arg;
    if (!c->waiting_hub)
        return;
    c->waiting_hub = false;
    char d[200];
    snprintf(d, sizeof d, "hub %s: %s%s%s", c->p.svr.hub, peered ? "peered" : klass, peered ? "" : ": ",
             peered ? "" : detail);
    set_ack(c, "svr-config", peered, d);
    /* the ack goes out from conductor_tick (never from inside the peer's own callback) */
}

static int start_hub(struct conductor *c, uint64_t now_ms)
{
    char cert[PATH_MAX + 64], a1[PATH_MAX + 64], a2[PATH_MAX + 64], a3[PATH_MAX + 64], e[256];
    if (!c->p.have_svr)
        return -1;
    if (load_key(c, false, NULL) < 0)
        return -1;
    path_in(c, COND_CERT_FILE, cert, sizeof cert);
    path_in(c, COND_CA_FILE, a1, sizeof a1);
    path_in(c, COND_PROD_CA_FILE, a2, sizeof a2);
    path_in(c, COND_ROOT_CA_FILE, a3, sizeof a3);
    struct svr_params sp = {
        .hub = c->p.svr.hub,
        .hub_name = c->p.svr.hub_name,
        .router = c->p.router,
        .node = c->p.node,
        .cert_file = cert,
        .key = c->key,
        .anchors = {a1, a2, a3, NULL},
    };
    if (c->hub && svr_peer_same(c->hub, &sp))
        return 0;
    svr_peer_free(c->hub);
    c->hub = NULL;
    log_info("conductor.svr", "step=9 action=peer hub=%s hub_name=%s identity=%s direct=yes", c->p.svr.hub,
             c->p.svr.hub_name, c->p.svr.identity);
    c->hub = svr_peer_start(c->epfd, &sp, hub_outcome, c, now_ms, e, sizeof e);
    if (!c->hub) {
        fail(c, "bad-task", 0, 0, "svr-config: %s", e);
        return -1;
    }
    return 0;
}

/* ---- tasks ---- */

static void do_production(struct conductor *c, struct cond_task *t)
{
    char path[PATH_MAX + 64], e[256];
    if (c->p.state < COND_STAGING_CONNECTED) {
        refuse_task(c, t, "out of order (state %s)", cond_names[c->p.state]);
        return;
    }
    if (t->psk_len > SEALED_MAX) {
        refuse_task(c, t, "psk longer than %d bytes", SEALED_MAX);
        return;
    }
    /* step 10: the production root CA */
    if (mkdir_in(c, "trust", 0755, "install-failed") < 0)
        return;
    path_in(c, COND_PROD_CA_FILE, path, sizeof path);
    int r = atomic_write_file(path, t->root_ca_pem, strlen(t->root_ca_pem), 0644);
    if (r < 0) {
        fail(c, "install-failed", 0, 0, "%s: %s", path, strerror(-r));
        return;
    }
    log_info("conductor.production_ca", "step=10 path=\"%s\" bytes=%zu", path, strlen(t->root_ca_pem));
    /* step 11: the production psk, sealed */
    if (mkdir_in(c, "secrets", 0700, "seal-failed") < 0)
        return;
    struct tpm *tpm = get_tpm(c);
    if (!tpm)
        return;
    path_in(c, COND_PROD_PSK_FILE, path, sizeof path);
    if (sealed_write(tpm, path, (const uint8_t *)t->psk, t->psk_len, e, sizeof e) < 0) {
        fail(c, "seal-failed", 0, 0, "%s: %s", COND_PROD_PSK_FILE, e);
        return;
    }
    log_info("conductor.production_psk", "step=11 path=\"%s\" bytes=%zu sealed=yes", path, t->psk_len);
    c->p.production = t->conductors;
    char list[COND_MAX_ADDRS * COND_ADDR_MAX] = "";
    for (size_t i = 0; i < t->conductors.n; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s%s", i ? "," : "", t->conductors.a[i]);
    }
    log_info("conductor.production", "step=6 conductor=%s root_ca=installed psk=sealed", list);
    if (c->p.state == COND_STAGING_CONNECTED)
        cond_set_state(c, COND_PRODUCTION_RECEIVED, "production conductor, secret and root CA received");
    else
        persist(c);
    set_ack(c, t->name, true, NULL);
}

static void do_generate_key(struct conductor *c, struct cond_task *t, uint64_t now_ms)
{
    if (c->p.state < COND_PRODUCTION_RECEIVED) {
        refuse_task(c, t, "out of order (state %s)", cond_names[c->p.state]);
        return;
    }
    if (strcmp(t->key_type, "ec-p256") != 0) {
        refuse_task(c, t, "unsupported key-type %s (ec-p256 only)", t->key_type);
        return;
    }
    if (strcmp(t->identity, c->identity) != 0) {
        refuse_task(c, t, "identity %s is not this node (%s)", t->identity, c->identity);
        return;
    }
    bool created = false;
    if (load_key(c, true, &created) < 0)
        return;
    if (c->p.state == COND_PRODUCTION_RECEIVED)
        cond_set_state(c, COND_KEY_CREATED, created ? "EC P-256 key made, sealed to the TPM" : "sealed key reused");
    if (c->p.state >= COND_CERTIFIED && !c->force_csr && installed_cert_ok(c)) {
        log_info("conductor.certificate", "step=8 result=already-installed serial=%s", c->p.serial);
        set_ack(c, t->name, true, "certificate already installed");
        return;
    }
    /* certs/ holds a certificate for our key that checks, but conductor.json still says key-created:
     * the power went between installing it and saving `certified` (csr_answer). Use it: a second
     * CSR would only get a second certificate for the same key. */
    char serial[COND_SERIAL_MAX];
    if (c->p.state == COND_KEY_CREATED && !c->force_csr && installed_cert_ok(c) &&
        installed_cert_serial(c, serial, sizeof serial) == 0) {
        snprintf(c->p.serial, sizeof c->p.serial, "%s", serial);
        load_cert_info(c);
        log_info("conductor.certificate", "step=8 result=already-installed serial=%s recovered=yes", c->p.serial);
        cond_set_state(c, COND_CERTIFIED, "certificate installed before a restart");
        set_ack(c, t->name, true, "certificate already installed");
        return;
    }
    char *pem = NULL, e[256];
    size_t pl = 0;
    char other[PSK_NAME_MAX + 1];
    const char *csr_router = c->p.router;
    if (c->fault == COND_FAULT_CSR_OTHER_ROUTER) {
        snprintf(other, sizeof other, "%.*s-other", PSK_NAME_MAX - 6, c->p.router);
        csr_router = other;
        log_warn("conductor.fault", "fault=csr-other-router step=8 csr_router=%s", csr_router);
    }
    if (pki_csr_build(c->key, csr_router, c->p.node, &pem, &pl, e, sizeof e) < 0) {
        fail(c, "key-failed", 0, 0, "CSR: %s", e);
        return;
    }
    json_t *o = json_pack("{s:s}", "csr-pem", pem);
    free(pem);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!body)
        fatalx("conductor.oom", "what=csr");
    log_info("conductor.csr", "step=8 action=send identity=%s key=ec-p256", c->identity);
    send_req(c, COND_OP_CSR, COND_ROLE_STAGING, "POST", "/v1/router/csr", body, true, now_ms);
    free(body);
}

static void csr_answer(struct conductor *c, const char *body, size_t blen, int status)
{
    char *cert = NULL, *ca = NULL, serial[COND_SERIAL_MAX], e[300], path[PATH_MAX + 64];
    if (cond_parse_csr_answer(body, blen, &cert, &ca, serial, sizeof serial, e, sizeof e) < 0) {
        fail(c, "bad-body", status, 0, "csr answer: %s", e);
        return;
    }
    if (cert_chain_trusted(c, cert, strlen(cert), ca, strlen(ca), e, sizeof e) < 0) {
        fail(c, "unknown-ca", status, 0, "%s", e);
        goto out;
    }
    if (pki_cert_check(cert, strlen(cert), ca, strlen(ca), c->p.router, c->p.node, c->key, e, sizeof e) < 0) {
        fail(c, "cert-check-failed", status, 0, "%s", e);
        goto out;
    }
    if (mkdir_in(c, COND_CERT_DIR, 0755, "install-failed") < 0)
        goto out;
    path_in(c, COND_CA_FILE, path, sizeof path);
    int r = atomic_write_file(path, ca, strlen(ca), 0644);
    if (r == 0) {
        path_in(c, COND_CERT_FILE, path, sizeof path);
        r = atomic_write_file(path, cert, strlen(cert), 0644);
    }
    if (r < 0) {
        fail(c, "install-failed", 0, 0, "%s: %s", path, strerror(-r));
        goto out;
    }
    snprintf(c->p.serial, sizeof c->p.serial, "%s", serial);
    c->force_csr = false;
    load_cert_info(c);
    log_info("conductor.certificate", "step=8 result=installed serial=%s subject=\"%s\" not_after=%s path=\"%s\"",
             serial, c->cert_subject, c->cert_not_after, path);
    if (c->p.state == COND_KEY_CREATED)
        cond_set_state(c, COND_CERTIFIED, "certificate signed by the conductor CA, installed");
    else
        persist(c);
    set_ack(c, "generate-key", true, NULL);
out:
    free(cert);
    free(ca);
}

static void do_svr_config(struct conductor *c, struct cond_task *t, uint64_t now_ms)
{
    char path[PATH_MAX + 64];
    if (c->p.state < COND_CERTIFIED) {
        refuse_task(c, t, "out of order (state %s)", cond_names[c->p.state]);
        return;
    }
    if (strcmp(t->svr.router, c->p.router) != 0 || strcmp(t->svr.node, c->p.node) != 0 ||
        strcmp(t->svr.identity, c->identity) != 0) {
        refuse_task(c, t, "names %s/%s (%s), not this node %s", t->svr.router, t->svr.node, t->svr.identity,
                    c->identity);
        return;
    }
    json_t *o = svr_json(&t->svr);
    json_object_set_new(o, "applied", iso_time(time(NULL)));
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        fatalx("conductor.oom", "what=svr");
    path_in(c, COND_SVR_FILE, path, sizeof path);
    int r = atomic_write_file(path, s, strlen(s), 0644);
    free(s);
    if (r < 0) {
        fail(c, "install-failed", 0, 0, "%s: %s", path, strerror(-r));
        return;
    }
    c->p.svr = t->svr;
    c->p.have_svr = true;
    log_info("conductor.svr", "step=9 action=stored path=\"%s\" hub=%s hub_name=%s identity=%s", path, t->svr.hub,
             t->svr.hub_name, t->svr.identity);
    if (c->p.state == COND_CERTIFIED)
        cond_set_state(c, COND_SVR_CONFIGURED, "SVR configuration stored, peering with the hub");
    else
        persist(c);
    bool already = c->hub && svr_peer_state(c->hub) == SVR_PEERED;
    if (start_hub(c, now_ms) < 0)
        return;
    if (already && svr_peer_state(c->hub) == SVR_PEERED) {
        set_ack(c, t->name, true, "already peered");
        return;
    }
    c->waiting_hub = true; /* acked with the peering's first outcome (hub_outcome) */
}

static void do_migrate(struct conductor *c, struct cond_task *t)
{
    if (c->p.state < COND_SVR_CONFIGURED) {
        refuse_task(c, t, "out of order (state %s)", cond_names[c->p.state]);
        return;
    }
    if (!t->conductors.n && !c->p.production.n) {
        refuse_task(c, t, "no conductor address to migrate to");
        return;
    }
    if (!file_exists(c, COND_PROD_PSK_FILE) || !file_exists(c, COND_PROD_CA_FILE)) {
        refuse_task(c, t, "no production secret or root CA");
        return;
    }
    c->p.target = t->conductors.n ? t->conductors : c->p.production;
    snprintf(c->p.migrated_by, sizeof c->p.migrated_by, "conductor");
    c->p.staging_acked = false;
    c->addr_idx = 0;
    log_info("conductor.migrate", "step=12 by=conductor conductor=%s count=%zu", c->p.target.a[0], c->p.target.n);
    if (c->p.state == COND_SVR_CONFIGURED)
        cond_set_state(c, COND_MIGRATING, "migrate from the staging conductor");
    else
        persist(c);
    set_ack(c, t->name, true, NULL);
    c->ack_is_migrate = true;
    c->migrate_ack_failures = 0;
}

static void became_connected(struct conductor *c, uint64_t now_ms)
{
    snprintf(c->p.connected, sizeof c->p.connected, "%s", c->cur_addr);
    c->connected_at = time(NULL);
    c->heartbeat_failures = 0;
    if (c->p.state == COND_MIGRATING) {
        char why[64 + COND_ADDR_MAX];
        snprintf(why, sizeof why, "connected to the production conductor %s", c->cur_addr);
        cond_set_state(c, COND_PRODUCTION_CONNECTED, why);
        log_info("conductor.connected", "step=12 conductor=%s role=production by=%s mtls=yes serial=%s", c->cur_addr,
                 c->p.migrated_by[0] ? c->p.migrated_by : "-", c->p.serial);
    } else {
        persist(c);
        log_info("conductor.connected", "step=12 conductor=%s role=production resumed=yes", c->cur_addr);
    }
    if (c->on_connected)
        c->on_connected(c->cb_arg, c->cur_addr);
    https_pool_flush("conductor-connected"); /* the session's exchange is over: its tunnel ends now */
    c->next_poll_ms = now_ms + COND_HEARTBEAT_MS;
}

static void handle_task(struct conductor *c, struct cond_task *t, uint64_t now_ms)
{
    enum cond_role role = want_role(c);
    log_info("conductor.task", "task=%s role=%s conductor=%s state=%s", t->name, role_name(role), c->cur_addr,
             cond_names[c->p.state]);
    if (role == COND_ROLE_PRODUCTION) {
        c->task_polled = true;
        if (t->kind == TASK_NONE) {
            succeeded(c);
            became_connected(c, now_ms);
        } else {
            refuse_task(c, t, "not a production task");
        }
        return;
    }
    switch (t->kind) {
    case TASK_NONE:
        succeeded(c);
        if (c->p.state == COND_MIGRATING) { /* it already took our migrate ack (lost answer, restart) */
            c->p.staging_acked = true;
            persist(c);
            drop_session(c, "staging has nothing more: migrated");
            log_info("conductor.staging",
                     "step=12 result=dropped conductor=%s next=%s why=\"task none while migrating\"", c->p.staging,
                     target_addr(c, COND_ROLE_PRODUCTION));
            return;
        }
        c->next_poll_ms = now_ms + c->task_poll_ms;
        return;
    case TASK_PRODUCTION:
        do_production(c, t);
        return;
    case TASK_GENERATE_KEY:
        do_generate_key(c, t, now_ms);
        return;
    case TASK_SVR_CONFIG:
        do_svr_config(c, t, now_ms);
        return;
    case TASK_MIGRATE:
        do_migrate(c, t);
        return;
    case TASK_UNKNOWN:
        refuse_task(c, t, "unknown task");
        return;
    }
}

/* ---- the request loop ---- */

static void send_ack(struct conductor *c, enum cond_role role, uint64_t now_ms)
{
    json_t *o = json_pack("{s:s, s:s}", "task", c->ack_task, "result", c->ack_result);
    if (c->ack_detail[0])
        json_object_set_new(o, "detail", json_string(c->ack_detail));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        fatalx("conductor.oom", "what=ack");
    send_req(c, COND_OP_ACK, role, "POST", "/v1/router/ack", s, true, now_ms);
    free(s);
}

static void step(struct conductor *c, uint64_t now_ms)
{
    for (int guard = 0; guard < 16; guard++) {
        if (!c->enabled || !c->started || c->cur || c->retry.waiting)
            return;
        if (c->p.state == COND_IDLE) {
            if (!c->sz || c->sz->p.state != SZTP_SECRET_STORED || !c->sz->p.conductor[0])
                return; /* waiting for sZTP */
            snprintf(c->p.staging, sizeof c->p.staging, "%s", c->sz->p.conductor);
            log_info("conductor.staging", "step=5 conductor=%s root_ca=%s", c->p.staging,
                     file_exists(c, COND_ROOT_CA_FILE) ? COND_ROOT_CA_FILE : "system");
            cond_set_state(c, COND_STAGING_AUTH, "sZTP done: the staging conductor from the Mist data");
            continue;
        }
        if (!proxy_active(c)) {
            log_debug("conductor.waiting", "state=%s why=\"no active management proxy\"", cond_names[c->p.state]);
            return;
        }
        enum cond_role role = want_role(c);
        if (c->sess_role != role && c->session[0])
            drop_session(c, "another role");
        if (role == COND_ROLE_PRODUCTION && load_key(c, false, NULL) < 0)
            return;
        if (!c->session[0]) {
            json_t *o = json_pack("{s:s, s:s}", "router", c->p.router, "node", c->p.node);
            char *s = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            if (!s)
                fatalx("conductor.oom", "what=challenge");
            c->auth_role = role;
            send_req(c, COND_OP_CHALLENGE, role, "POST", "/v1/router/challenge", s, false, now_ms);
            free(s);
            return;
        }
        if (c->ack_pending) {
            send_ack(c, role, now_ms);
            return;
        }
        if (c->waiting_hub)
            return;
        if (now_ms < c->next_poll_ms)
            return;
        if (role == COND_ROLE_PRODUCTION && c->p.state == COND_PRODUCTION_CONNECTED && c->task_polled) {
            send_req(c, COND_OP_HEARTBEAT, role, "POST", "/v1/router/ack", "{\"task\":\"heartbeat\",\"result\":\"ok\"}",
                     true, now_ms);
            return;
        }
        send_req(c, COND_OP_TASK, role, "GET", "/v1/router/task", NULL, true, now_ms);
        return;
    }
}

/* The server's Retry-After header, else a "retry-after" member of its JSON body (0: none). */
static unsigned retry_after(const struct https_result *r) { return retry_after_parse(r, true); }

static void auth_step(struct conductor *c, enum cond_op op, const struct https_result *r, const char *body, size_t blen,
                      const char *berr, const char *bdet, uint64_t now_ms)
{
    char e[256];
    if (r->status != 200) {
        fail(c, berr[0] ? berr : "http-error", r->status, retry_after(r), "%s: %d %s%s%s",
             op == COND_OP_CHALLENGE ? "challenge" : "auth", r->status, r->reason, bdet[0] ? ": " : "", bdet);
        OPENSSL_cleanse(c->expect_server_mac, sizeof c->expect_server_mac);
        return;
    }
    if (op == COND_OP_CHALLENGE) {
        struct cond_challenge ch;
        char mac[PSK_MAC_HEX + 1];
        if (cond_parse_challenge(body, blen, &ch, e, sizeof e) < 0) {
            fail(c, "bad-body", r->status, 0, "challenge: %s", e);
            return;
        }
        if (compute_macs(c, c->auth_role, ch.nonce, mac, sizeof mac) < 0)
            return;
        snprintf(c->challenge_id, sizeof c->challenge_id, "%s", ch.id);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "challenge-id", ch.id, "router", c->p.router, "node", c->p.node,
                              "mac", mac);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        OPENSSL_cleanse(mac, sizeof mac);
        if (!s)
            fatalx("conductor.oom", "what=auth");
        log_info("conductor.challenge", "role=%s conductor=%s challenge_id=%s expires_in=%u", role_name(c->auth_role),
                 c->cur_addr, ch.id, ch.expires_in);
        send_req(c, COND_OP_AUTH, c->auth_role, "POST", "/v1/router/auth", s, false, now_ms);
        OPENSSL_cleanse(s, strlen(s));
        free(s);
        return;
    }
    struct cond_auth a;
    if (cond_parse_auth(body, blen, &a, e, sizeof e) < 0) {
        fail(c, "bad-body", r->status, 0, "auth: %s", e);
        return;
    }
    bool mac_ok = psk_mac_equal(c->expect_server_mac, a.server_mac, strlen(a.server_mac));
    OPENSSL_cleanse(c->expect_server_mac, sizeof c->expect_server_mac);
    if (!mac_ok) {
        OPENSSL_cleanse(&a, sizeof a);
        fail(c, "server-mac-mismatch", r->status, 0,
             "the conductor's server-mac is wrong: it does not know this node's secret");
        return;
    }
    const char *want = role_name(c->auth_role);
    if (strcmp(a.role, want) != 0) {
        char got[16];
        snprintf(got, sizeof got, "%s", a.role);
        OPENSSL_cleanse(&a, sizeof a);
        fail(c, "wrong-role", r->status, 0, "the conductor at %s is a %s conductor, expected %s", c->cur_addr, got,
             want);
        return;
    }
    memcpy(c->session, a.session, sizeof c->session);
    OPENSSL_cleanse(&a, sizeof a);
    c->sess_role = c->auth_role;
    c->session_since = time(NULL);
    c->task_polled = false;
    c->next_poll_ms = 0;
    succeeded(c);
    log_info("conductor.auth", "result=ok role=%s conductor=%s proxy=%s server_verified=yes tls_peer=\"%s\"",
             want, c->cur_addr, c->cur_proxy, r->peer_subject);
    if (c->p.state == COND_STAGING_AUTH)
        cond_set_state(c, COND_STAGING_CONNECTED, "authenticated to the staging conductor (psk, mutual)");
}

static void on_done(struct https_client *hc, const struct https_result *r, void *arg)
{
    struct conductor *c = arg;
    enum cond_op op = c->op;
    (void)hc;
    c->cur = NULL;
    c->op = COND_OP_NONE;
    uint64_t now_ms = https_now_ms();
    enum cond_role role = op == COND_OP_CHALLENGE || op == COND_OP_AUTH ? c->auth_role : c->sess_role;
    if (r->err != HTTPS_OK) {
        if (role == COND_ROLE_PRODUCTION) { /* an HA conductor: the next address */
            const struct cond_addrs *l = prod_list(c);
            if (l->n > 1) {
                c->addr_idx = (c->addr_idx + 1) % l->n;
                drop_session(c, "transport failure: next production conductor");
            }
        }
        if (op == COND_OP_HEARTBEAT)
            c->heartbeat_failures++;
        if (c->ack_is_migrate && op == COND_OP_ACK)
            c->migrate_ack_failures++;
        fail(c, https_err_name(r->err), 0, 0, "%s", r->message);
        goto migrate_check;
    }
    const char *body = r->body ? r->body : "";
    size_t blen = r->body ? r->body_len : 0;
    char berr[48], bdet[160], e[256];
    cond_body_error(body, blen, berr, sizeof berr, bdet, sizeof bdet);
    if (op == COND_OP_CHALLENGE || op == COND_OP_AUTH) {
        auth_step(c, op, r, body, blen, berr, bdet, now_ms);
        step(c, now_ms);
        return;
    }
    if (r->status == 401) { /* the session expired or the conductor restarted */
        drop_session(c, "401 from the conductor");
        if (op == COND_OP_HEARTBEAT)
            c->heartbeat_failures++;
        if (c->session_lost_streak++ == 0) {
            /* the first loss since a request went through: authenticate again at once (a restarted
             * conductor is not a failure); a session refused again right after that backs off */
            log_info("conductor.session", "result=lost role=%s conductor=%s op=%s action=authenticate-now",
                     role_name(role), c->cur_addr[0] ? c->cur_addr : "-",
                     op == COND_OP_TASK ? "task" : op == COND_OP_CSR ? "csr" : op == COND_OP_ACK ? "ack" : "heartbeat");
            step(c, now_ms);
            return;
        }
        fail(c, berr[0] ? berr : "unauthorized", r->status, 0, "%s: session refused, authenticating again",
             op == COND_OP_TASK ? "task" : op == COND_OP_CSR ? "csr" : "ack");
        return;
    }
    if (r->status == 200)
        c->session_lost_streak = 0;
    switch (op) {
    case COND_OP_TASK: {
        if (r->status != 200) {
            fail(c, berr[0] ? berr : "http-error", r->status, retry_after(r), "task: %d %s", r->status, r->reason);
            return;
        }
        struct cond_task t;
        if (cond_parse_task(body, blen, &t, e, sizeof e) < 0) {
            fail(c, "bad-body", r->status, 0, "task: %s", e);
            return;
        }
        handle_task(c, &t, now_ms);
        cond_task_clear(&t);
        break;
    }
    case COND_OP_CSR:
        if (r->status != 200) {
            fail(c, berr[0] ? berr : "http-error", r->status, retry_after(r), "csr: %d %s%s%s", r->status, r->reason,
                 bdet[0] ? ": " : "", bdet);
            return;
        }
        csr_answer(c, body, blen, r->status);
        break;
    case COND_OP_ACK: {
        char next[32] = "";
        if (r->status != 200) {
            if (c->ack_is_migrate)
                c->migrate_ack_failures++;
            if (r->status == 409 && strcmp(berr, "no-certificate") == 0 && strcmp(c->ack_task, "generate-key") == 0) {
                c->force_csr = true; /* it lost our certificate: ask for the task again, with a CSR */
                c->ack_pending = false;
            }
            fail(c, berr[0] ? berr : "http-error", r->status, retry_after(r), "ack %s: %d %s", c->ack_task, r->status,
                 r->reason);
            goto migrate_check;
        }
        if (cond_parse_ack_answer(body, blen, next, sizeof next, e, sizeof e) < 0)
            next[0] = 0; /* the ack arrived; the hint is only logged */
        log_info("conductor.ack", "task=%s result=%s role=%s conductor=%s next=%s", c->ack_task, c->ack_result,
                 role_name(role), c->cur_addr, next[0] ? next : "-");
        c->ack_pending = false;
        if (strcmp(c->ack_result, "ok") == 0) {
            succeeded(c);
        } else { /* a refused task: do not ask again at once; a repeated refusal backs off further */
            c->retry.waiting = false;
            c->next_poll_ms = now_ms + c->task_poll_ms;
        }
        if (c->ack_is_migrate) {
            c->ack_is_migrate = false;
            c->p.staging_acked = true;
            persist(c);
            drop_session(c, "migrate acked: staging dropped");
            log_info("conductor.staging", "step=12 result=dropped conductor=%s next=%s", c->p.staging,
                     target_addr(c, COND_ROLE_PRODUCTION));
        }
        break;
    }
    case COND_OP_HEARTBEAT:
        if (r->status != 200) {
            c->heartbeat_failures++;
            fail(c, berr[0] ? berr : "http-error", r->status, retry_after(r), "heartbeat: %d %s", r->status, r->reason);
            return;
        }
        c->heartbeats++;
        c->heartbeat_failures = 0;
        c->last_heartbeat_at = time(NULL);
        succeeded(c);
        log_debug("conductor.heartbeat", "conductor=%s count=%u", c->cur_addr, c->heartbeats);
        c->next_poll_ms = now_ms + COND_HEARTBEAT_MS;
        break;
    default:
        return;
    }
    step(c, now_ms);
    return;
migrate_check:
    if (c->ack_is_migrate && c->migrate_ack_failures >= COND_MIGRATE_ACK_TRIES) {
        log_warn("conductor.migrate", "step=12 ack=undelivered tries=%u action=\"drop staging anyway\"",
                 c->migrate_ack_failures);
        c->ack_is_migrate = false;
        c->ack_pending = false;
        c->p.staging_acked = true;
        drop_session(c, "migrate ack undelivered: staging dropped");
        persist(c);
    }
}

/* ---- life cycle ---- */

void conductor_init(struct conductor *c, const struct router_config *cfg, const struct active_proxy *active,
                    struct sztp *sz)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->active = active;
    c->sz = sz;
    c->epfd = -1;
    c->timeout_ms = COND_TIMEOUT_MS;
    c->task_poll_ms = COND_TASK_POLL_MS;
    retry_init(&c->retry, PH_BACKOFF_BASE_MS, PH_BACKOFF_MAX_MS, COND_RETRY_AFTER_MAX_MS,
               (uint32_t)getpid() * 0x85ebca6bu ^ (uint32_t)time(NULL));
}

void conductor_set_timers(struct conductor *c, unsigned timeout_ms, unsigned backoff_base_ms, unsigned backoff_max_ms,
                          unsigned task_poll_ms)
{
    if (timeout_ms)
        c->timeout_ms = timeout_ms;
    if (backoff_base_ms)
        c->retry.base_ms = backoff_base_ms;
    if (backoff_max_ms)
        c->retry.max_ms = backoff_max_ms;
    if (task_poll_ms)
        c->task_poll_ms = task_poll_ms;
}

int conductor_configure(struct conductor *c, const char *state_dir, const char *router, const char *node, char *err,
                        size_t errcap)
{
    if (!state_dir || !*state_dir || strlen(state_dir) >= sizeof c->state_dir - 64) {
        snprintf(err, errcap, "the conductor client needs --state-dir");
        return -1;
    }
    if (!router || !psk_name_ok(router) || !node || !psk_name_ok(node) ||
        pki_identity(router, node, c->identity, sizeof c->identity) < 0) {
        snprintf(err, errcap, "router \"%.64s\" / node \"%.64s\": not usable as a conductor identity ([A-Za-z0-9._-])",
                 router ? router : "", node ? node : "");
        return -1;
    }
    snprintf(c->state_dir, sizeof c->state_dir, "%s", state_dir);
    char path[PATH_MAX + 64], *buf = NULL;
    size_t len = 0;
    path_in(c, COND_STATE_FILE, path, sizeof path);
    int r = read_file_max(path, 512 * 1024, &buf, &len);
    if (r == -ENOENT) {
        memset(&c->p, 0, sizeof c->p);
    } else if (r < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(-r));
        return -1;
    } else {
        char e[256];
        r = cond_persist_parse(buf, len, &c->p, e, sizeof e);
        free(buf);
        if (r < 0) {
            snprintf(err, errcap, "%s: %s", path, e);
            return -1;
        }
    }
    if (c->p.router[0] && (strcmp(c->p.router, router) != 0 || strcmp(c->p.node, node) != 0)) {
        log_warn("conductor.identity_changed", "old=%s.%s new=%s action=start-over", c->p.router, c->p.node,
                 c->identity);
        snprintf(c->p.router, sizeof c->p.router, "%s", router);
        snprintf(c->p.node, sizeof c->p.node, "%s", node);
        if (c->p.state != COND_IDLE)
            cond_set_state(c, COND_IDLE, "router or node name changed");
    }
    snprintf(c->p.router, sizeof c->p.router, "%s", router);
    snprintf(c->p.node, sizeof c->p.node, "%s", node);
    c->enabled = true;
    load_cert_info(c);
    return 0;
}

static const char *const cond_fault_names[COND_FAULT__COUNT] = {"none", "csr-other-router"};

const char *cond_fault_name(enum cond_fault f)
{
    return (unsigned)f < COND_FAULT__COUNT ? cond_fault_names[f] : "?";
}

int cond_fault_from_name(const char *name)
{
    for (int i = 0; name && i < COND_FAULT__COUNT; i++)
        if (strcmp(name, cond_fault_names[i]) == 0)
            return i;
    return -1;
}

void conductor_set_fault(struct conductor *c, enum cond_fault f)
{
    c->fault = (unsigned)f < COND_FAULT__COUNT ? f : COND_FAULT_NONE;
    if (c->fault != COND_FAULT_NONE)
        log_warn("conductor.fault", "fault=%s", cond_fault_name(c->fault));
}

void conductor_set_callback(struct conductor *c, cond_connected_fn fn, void *arg)
{
    c->on_connected = fn;
    c->cb_arg = arg;
}

void conductor_start(struct conductor *c, int epfd, uint64_t now_ms)
{
    if (!c->enabled || c->started)
        return;
    c->epfd = epfd;
    c->started = true;
    log_info("conductor.start", "identity=%s state=%s step=%u staging=%s production=%s role=%s", c->identity,
             cond_names[c->p.state], cond_steps[c->p.state], c->p.staging[0] ? c->p.staging : "-",
             c->p.production.n ? c->p.production.a[0] : "-", role_name(want_role(c)));
    if (c->p.state > COND_IDLE && c->p.state < COND_MIGRATING && c->sz && c->sz->p.state == SZTP_SECRET_STORED &&
        c->sz->p.conductor[0] && strcmp(c->sz->p.conductor, c->p.staging) != 0) {
        log_warn("conductor.staging_changed", "old=%s new=%s action=start-over", c->p.staging, c->sz->p.conductor);
        cond_set_state(c, COND_IDLE, "the staging conductor in the Mist data changed");
    }
    if (c->p.state >= COND_SVR_CONFIGURED && c->p.have_svr)
        start_hub(c, now_ms); /* data plane: peer again after a restart */
    if (c->retry.waiting)
        return;
    step(c, now_ms);
}

void conductor_proxy_changed(struct conductor *c, uint64_t now_ms)
{
    if (!c->enabled || !c->started)
        return;
    /* a request under way keeps its proxy; one waiting for its retry goes now, through the new one */
    if (c->retry.waiting && proxy_active(c))
        retry_ok(&c->retry);
    step(c, now_ms);
}

void conductor_tick(struct conductor *c, uint64_t now_ms)
{
    if (!c->enabled || !c->started)
        return;
    svr_peer_tick(c->hub, now_ms);
    retry_due(&c->retry, now_ms);
    step(c, now_ms);
}

int conductor_next_timeout_ms(const struct conductor *c, uint64_t now_ms)
{
    if (!c->enabled || !c->started)
        return -1;
    int t = svr_peer_next_timeout_ms(c->hub, now_ms);
    int64_t mine = retry_left_ms(&c->retry, now_ms);
    if (mine < 0 && !c->cur && c->next_poll_ms > now_ms) /* a due poll already ran in conductor_tick */
        mine = (int64_t)(c->next_poll_ms - now_ms);
    if (mine >= 0 && (t < 0 || mine < t))
        t = (int)(mine > 60000 ? 60000 : mine);
    return t;
}

void conductor_stop(struct conductor *c)
{
    if (c->cur) {
        https_cancel(c->cur);
        c->cur = NULL;
    }
    drop_session(c, "stopping");
    svr_peer_free(c->hub);
    c->hub = NULL;
    EVP_PKEY_free(c->key);
    c->key = NULL;
    c->started = false;
}

int conductor_migrate(struct conductor *c, const char *const *addrs, size_t n, uint64_t now_ms, char *err,
                      size_t errcap)
{
    struct cond_addrs t;
    memset(&t, 0, sizeof t);
    if (!c->enabled) {
        snprintf(err, errcap, "no conductor client on this node (start ssr-node with --sztp)");
        return -1;
    }
    if (n < 1 || n > 2) {
        snprintf(err, errcap, "migrate conductor takes one or two addresses (two: an HA conductor)");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char h[COND_ADDR_MAX];
        uint16_t port;
        if (!addrs[i] || cond_addr_parse(addrs[i], h, sizeof h, &port) < 0) {
            snprintf(err, errcap, "\"%.80s\": expected HOST[:PORT]", addrs[i] ? addrs[i] : "");
            return -1;
        }
        snprintf(t.a[t.n++], COND_ADDR_MAX, "%s:%u", h, port);
    }
    if (c->p.state < COND_CERTIFIED) {
        snprintf(err, errcap,
                 "not possible in state %s: migrating needs the router certificate (state certified or later)",
                 cond_names[c->p.state]);
        return -1;
    }
    if (!file_exists(c, COND_PROD_PSK_FILE) || !file_exists(c, COND_PROD_CA_FILE)) {
        snprintf(err, errcap, "no production secret or root CA on this node");
        return -1;
    }
    if (c->cur) {
        https_cancel(c->cur);
        c->cur = NULL;
        c->op = COND_OP_NONE;
    }
    drop_session(c, "migrate conductor by hand");
    c->p.target = t;
    snprintf(c->p.migrated_by, sizeof c->p.migrated_by, "cli");
    c->p.staging_acked = true;
    c->ack_pending = c->ack_is_migrate = c->waiting_hub = false;
    c->addr_idx = 0;
    retry_ok(&c->retry);
    c->next_poll_ms = 0;
    log_info("conductor.migrate", "step=12 by=cli conductor=%s%s%s", t.a[0], t.n > 1 ? " ha_peer=" : "",
             t.n > 1 ? t.a[1] : "");
    char why[64];
    snprintf(why, sizeof why, "migrate conductor by hand: %s%s", t.a[0], t.n > 1 ? " (HA)" : "");
    if (c->p.state != COND_MIGRATING)
        cond_set_state(c, COND_MIGRATING, why);
    else
        persist(c);
    step(c, now_ms);
    return 0;
}

/* ---- show ---- */

json_t *conductor_json(const struct conductor *c, uint64_t now_ms)
{
    json_t *o = cond_persist_to_json(&c->p);
    json_object_del(o, "version");
    json_object_set_new(o, "enabled", json_boolean(c->enabled));
    if (!c->enabled)
        return o;
    static const char *const ops[] = {"none", "challenge", "auth", "task", "csr", "ack", "heartbeat"};
    enum cond_role role = want_role(c);
    json_object_set_new(o, "identity", json_string(c->identity));
    json_object_set_new(o, "role", role == COND_ROLE_NONE ? json_null() : json_string(role_name(role)));
    const char *addr = role == COND_ROLE_NONE ? "" : target_addr(c, role);
    json_object_set_new(o, "conductor", str_or_null(addr));
    json_object_set_new(o, "session", json_string(c->session[0] ? "established" : c->cur ? "authenticating" : "none"));
    json_object_set_new(o, "session-since", c->session[0] ? iso_time(c->session_since) : json_null());
    json_object_set_new(o, "done", json_boolean(c->p.state == COND_PRODUCTION_CONNECTED));
    json_object_set_new(o, "request", c->cur ? json_string(ops[c->op]) : json_null());
    json_object_set_new(o, "proxy", str_or_null(c->cur_proxy));
    json_object_set_new(o, "consecutive-failures", json_integer(c->retry.failures));
    json_object_set_new(o, "next-retry-in-ms",
                        c->retry.waiting ? json_integer(retry_left_ms(&c->retry, now_ms)) : json_null());
    json_object_set_new(o, "heartbeats", json_integer(c->heartbeats));
    json_object_set_new(o, "last-heartbeat", iso_time(c->last_heartbeat_at));
    json_object_set_new(o, "connected-since", c->p.state == COND_PRODUCTION_CONNECTED ? iso_time(c->connected_at)
                                                                                     : json_null());
    json_t *cert = json_null();
    if (c->p.state >= COND_CERTIFIED && c->cert_subject[0]) {
        char p[PATH_MAX + 64];
        path_in(c, COND_CERT_FILE, p, sizeof p);
        cert = json_pack("{s:s, s:o, s:s, s:s}", "file", p, "serial", str_or_null(c->p.serial), "subject",
                         c->cert_subject, "not-after", c->cert_not_after);
    }
    json_object_set_new(o, "certificate", cert);
    json_object_set_new(o, "hub", svr_peer_json(c->hub, now_ms));
    json_t *files = json_object();
    static const char *const rels[][2] = {
        {"root-ca", COND_ROOT_CA_FILE},           {"staging-psk", COND_STAGING_PSK_FILE},
        {"production-ca", COND_PROD_CA_FILE},     {"production-psk", COND_PROD_PSK_FILE},
        {"router-key", COND_KEY_FILE},            {"router-certificate", COND_CERT_FILE},
        {"conductor-ca", COND_CA_FILE},           {"svr", COND_SVR_FILE},
    };
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        char p[PATH_MAX + 64];
        path_in(c, rels[i][1], p, sizeof p);
        json_object_set_new(files, rels[i][0], access(p, R_OK) == 0 ? json_string(p) : json_null());
    }
    json_object_set_new(o, "files", files);
    return o;
}
