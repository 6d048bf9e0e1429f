/* mock-mist: the Mist org cloud of the ztp-lab (HTTPS). OCRA challenge/response against the device
 * registry (mutual mode when the device sends its own challenge), lockout after repeated failures,
 * bearer sessions, onboarding data served only over a session. One audit line per device event,
 * never a key, a response, a session token or the pre-shared secret. See README.md. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "httpd.h"
#include "mistjson.h"
#include "registry.h"
#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/ocra.h"

struct mist {
    pthread_mutex_t mu;
    struct mist_registry reg;
    struct mist_auth *auth;
};

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

/* Common prologue: known device, not locked. Returns the device or NULL (answered). */
static const struct mist_device *device_or_reply(struct mist *m, struct mhttp_req *r, uint64_t now)
{
    const struct mist_device *d = mist_registry_find(&m->reg, r->param);
    if (!d) {
        log_info("device.unknown", "device=%s peer=%s path=%s", r->param, r->peer, r->path);
        mhttp_reply_error(r, 404, "unknown-device", 0);
        return NULL;
    }
    unsigned left = mist_lock_remaining(m->auth, d->id, now);
    if (left) {
        log_info("device.refused", "device=%s peer=%s reason=locked retry_after=%u", d->id, r->peer, left);
        mhttp_reply_error(r, 423, "locked", left);
        return NULL;
    }
    return d;
}

static void challenge(void *app, struct mhttp_req *r)
{
    struct mist *m = app;
    uint64_t now = now_s();
    pthread_mutex_lock(&m->mu);
    const struct mist_device *d = device_or_reply(m, r, now);
    char q[OCRA_QUESTION_MAX + 1], id[MIST_CHALLENGE_ID_LEN + 1];
    if (d) {
        if (ocra_make_challenge(&d->suite, q, sizeof q) < 0 ||
            mist_challenge_add(m->auth, d->id, q, now, m->reg.challenge_ttl, id) < 0) {
            mhttp_reply_error(r, 500, "no-randomness", 0);
        } else {
            log_info("device.challenge", "device=%s org=%s peer=%s challenge_id=%s suite=%s expires_in=%u", d->id,
                     d->org, r->peer, id, d->suite.text, m->reg.challenge_ttl);
            snprintf(r->result, sizeof r->result, "issued");
            mhttp_reply_json(r, 200,
                             json_pack("{s:s,s:s,s:s,s:i}", "challenge", q, "suite", d->suite.text, "challenge-id",
                                       id, "expires-in", (int)m->reg.challenge_ttl),
                             NULL, NULL);
        }
    }
    pthread_mutex_unlock(&m->mu);
}

static void verify_failed(struct mist *m, struct mhttp_req *r, const struct mist_device *d, const char *reason,
                          uint64_t now)
{
    bool locked = mist_lock_fail(m->auth, d->id, now, m->reg.max_failures, m->reg.lockout_seconds);
    log_warn("device.verify", "device=%s org=%s peer=%s result=fail reason=%s failures=%u", d->id, d->org, r->peer,
             reason, mist_lock_failures(m->auth, d->id));
    if (locked)
        log_warn("device.locked", "device=%s org=%s failures=%u lockout_seconds=%u", d->id, d->org,
                 m->reg.max_failures, m->reg.lockout_seconds);
    mhttp_reply_error(r, 401, reason, 0);
}

static void response(void *app, struct mhttp_req *r)
{
    struct mist *m = app;
    uint64_t now = now_s();
    const char *cid, *resp, *cc;
    char err[160];
    pthread_mutex_lock(&m->mu);
    const struct mist_device *d = device_or_reply(m, r, now);
    if (!d)
        goto out;
    if (mj_string(r->json, "challenge-id", true, "body", &cid, err, sizeof err) ||
        mj_string(r->json, "response", true, "body", &resp, err, sizeof err) ||
        mj_string(r->json, "client-challenge", false, "body", &cc, err, sizeof err)) {
        mhttp_reply_json(r, 400, json_pack("{s:s,s:s}", "error", "bad-request", "detail", err), NULL, NULL);
        snprintf(r->result, sizeof r->result, "bad-request");
        goto out;
    }
    if (cc && ocra_check_challenge(&d->suite, cc, strlen(cc), err, sizeof err) < 0) {
        mhttp_reply_json(r, 400, json_pack("{s:s,s:s}", "error", "bad-client-challenge", "detail", err), NULL, NULL);
        snprintf(r->result, sizeof r->result, "bad-client-challenge");
        goto out;
    }
    char sq[OCRA_QUESTION_MAX + 1];
    enum mist_take t = mist_challenge_take(m->auth, d->id, cid, now, sq, sizeof sq);
    if (t != MIST_TAKE_OK) {
        verify_failed(m, r, d, mist_take_error[t], now);
        goto out;
    }
    /* expected client response: Q = server challenge (one-way) or server | client (mutual) */
    char question[2 * OCRA_QUESTION_MAX + 1], expect[OCRA_RESPONSE_MAX], srv_resp[OCRA_RESPONSE_MAX];
    struct ocra_key key = {d->key, d->key_len};
    struct ocra_input in = {0};
    int ql = cc ? ocra_mutual_question(&d->suite, sq, strlen(sq), cc, strlen(cc), question, sizeof question, err,
                                       sizeof err)
                : snprintf(question, sizeof question, "%s", sq);
    in.question = question;
    in.question_len = ql > 0 ? (size_t)ql : 0;
    int el = ql > 0 ? ocra_compute(&d->suite, &in, ocra_hmac_openssl, &key, expect, sizeof expect, err, sizeof err) : -1;
    if (el < 0) {
        mhttp_reply_json(r, 400, json_pack("{s:s,s:s}", "error", "bad-client-challenge", "detail", err), NULL, NULL);
        snprintf(r->result, sizeof r->result, "ocra-error");
        goto out;
    }
    bool ok = ocra_response_equal(resp, strlen(resp), expect, (size_t)el);
    OPENSSL_cleanse(expect, sizeof expect);
    if (!ok) {
        verify_failed(m, r, d, "bad-response", now);
        goto out;
    }
    int sl = 0;
    if (cc) {   /* server response for the device to check: Q = client | server */
        ql = ocra_mutual_question(&d->suite, cc, strlen(cc), sq, strlen(sq), question, sizeof question, err,
                                  sizeof err);
        in.question_len = (size_t)ql;
        sl = ql > 0 ? ocra_compute(&d->suite, &in, ocra_hmac_openssl, &key, srv_resp, sizeof srv_resp, err, sizeof err)
                    : -1;
        if (sl < 0) {
            mhttp_reply_error(r, 500, "ocra-error", 0);
            goto out;
        }
    }
    char token[MIST_TOKEN_LEN + 1];
    if (mist_session_new(m->auth, d->id, now, m->reg.session_ttl, token) < 0) {
        mhttp_reply_error(r, 500, "no-randomness", 0);
        goto out;
    }
    mist_lock_success(m->auth, d->id);
    log_info("device.verify", "device=%s org=%s site=%s peer=%s result=ok mode=%s session_ttl=%u", d->id, d->org,
             d->site, r->peer, cc ? "mutual" : "one-way", m->reg.session_ttl);
    json_t *b = json_pack("{s:s,s:i}", "session", token, "expires-in", (int)m->reg.session_ttl);
    if (cc)
        json_object_set_new(b, "server-response", json_string(srv_resp));
    snprintf(r->result, sizeof r->result, "verified");
    mhttp_reply_json(r, 200, b, NULL, NULL);
    OPENSSL_cleanse(token, sizeof token);
out:
    pthread_mutex_unlock(&m->mu);
}

static void onboarding(void *app, struct mhttp_req *r)
{
    struct mist *m = app;
    uint64_t now = now_s();
    pthread_mutex_lock(&m->mu);
    const struct mist_device *d = mist_registry_find(&m->reg, r->param);
    const char *auth = mhttp_header(r, "Authorization");
    if (!d) {
        mhttp_reply_error(r, 404, "unknown-device", 0);
    } else if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
               !mist_session_valid(m->auth, d->id, auth + 7, strlen(auth + 7), now)) {
        log_warn("device.onboarding", "device=%s peer=%s result=refused reason=%s", d->id, r->peer,
                 auth ? "bad-session" : "no-session");
        json_t *b = json_pack("{s:s}", "error", "unauthorized");
        snprintf(r->result, sizeof r->result, "unauthorized");
        mhttp_reply_json(r, 401, b, "WWW-Authenticate", "Bearer realm=\"mist\"");
    } else {
        json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s}", "device-id", d->id, "org", d->org, "site", d->site,
                              "conductor", d->conductor, "psk", d->psk);
        if (d->root_ca_pem)
            json_object_set_new(b, "root-ca-pem", json_string(d->root_ca_pem));
        log_info("device.onboarding", "device=%s org=%s site=%s peer=%s result=served conductor=%s root_ca=%s", d->id,
                 d->org, d->site, r->peer, d->conductor, d->root_ca_pem ? "yes" : "no");
        snprintf(r->result, sizeof r->result, "served");
        mhttp_reply_json(r, 200, b, NULL, NULL);
    }
    pthread_mutex_unlock(&m->mu);
}

static const struct mhttp_route routes[] = {
    {"POST", "/v1/device/*/challenge", MHTTP_BODY_OPTIONAL, challenge},
    {"POST", "/v1/device/*/response", MHTTP_BODY_REQUIRED, response},
    {"GET", "/v1/device/*/onboarding", MHTTP_BODY_NONE, onboarding},
    {NULL, NULL, MHTTP_BODY_NONE, NULL},
};

static int parse(const char *buf, size_t len, void *reg, char *err, size_t cap)
{
    return mist_registry_parse(buf, len, reg, err, cap);
}
static void reg_free(void *reg) { mist_registry_free(reg); }
static void describe(const void *reg, char *out, size_t cap)
{
    snprintf(out, cap, "devices=%zu", ((const struct mist_registry *)reg)->n_devices);
}
/* the registry holds the devices' OCRA keys: the file's bytes are wiped */
static struct mhttp_conf conf = {
    .wipe = true, .size = sizeof(struct mist_registry), .parse = parse, .free = reg_free, .describe = describe};

static void reload(void *app)
{
    struct mist *m = app;
    mhttp_conf_reload(&conf, &m->mu, &m->reg);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mock-mist --config FILE --listen IP:PORT --cert PEM --key PEM\n"
               "                 " MHTTP_USAGE_COMMON "\n"
               "       mock-mist --check --config FILE\n"
               "\n"
               "The Mist org cloud of the ztp-lab (HTTPS): OCRA challenge/response, onboarding data.\n"
               "See mocks/mist/README.md. Signals: SIGTERM/SIGINT stop, SIGHUP reloads the registry.\n"
               "Readiness: writes READY to $ZTP_READY_FD once listening.\n");
}

static void ready(void *app)
{
    struct mist *m = app;
    log_info("daemon.ready", "devices=%zu max_failures=%u lockout_seconds=%u", m->reg.n_devices, m->reg.max_failures,
             m->reg.lockout_seconds);
}

int main(int argc, char **argv)
{
    struct mhttp_args a;
    int rc = mhttp_args_parse(argc, argv, "mock-mist", "mist", usage, &a);
    if (rc >= 0)
        return rc;
    struct mist m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[512];
    conf.path = a.config;
    if (mhttp_conf_load(&conf, &m.reg, err, sizeof err) < 0) {
        fprintf(stderr, "mock-mist: %s\n", err);
        return 1;
    }
    if (a.check) {
        printf("ok: %zu devices\n", m.reg.n_devices);
        mist_registry_free(&m.reg);
        return 0;
    }
    m.auth = calloc(1, sizeof *m.auth);
    if (!m.auth)
        fatalx("daemon.oom", "auth tables");
    struct mhttp_opts o = {.routes = routes, .app = &m};
    rc = mhttp_serve("mock-mist", &a, &o, reload, ready);
    mist_registry_free(&m.reg);
    OPENSSL_cleanse(m.auth, sizeof *m.auth);
    free(m.auth);
    return rc;
}
