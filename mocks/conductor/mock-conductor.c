/* mock-conductor: the staging and production conductors of the ztp-lab (HTTPS, libmicrohttpd via
 * mocks/mist/httpd.c). PSK challenge/response (common/psk.c) over mock-mist's auth tables, the
 * router inventory and the staging task sequence (inventory.c), CSR check and signing with the
 * conductor CA (common/pki.c), mutual TLS on production (mtls.c), faults reloaded on SIGHUP.
 * One log line per event, never a psk, a MAC, a session token or a key. See README.md. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cconfig.h"
#include "httpd.h"
#include "inventory.h"
#include "mtls.h"
#include "wire.h"
#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/pki.h"
#include "ztp/psk.h"
#include "ztp/util.h"

#define PROG "mock-conductor"
#define COND_DEFAULT_PORT "930"

/* What a config load gives: the config and, for staging, the conductor CA. */
struct loaded {
    struct cond_config cfg;
    X509 *ca;
    EVP_PKEY *ca_key;
    char *ca_pem;
    size_t ca_pem_len;
};

struct conductor {
    pthread_mutex_t mu;   /* everything below; handlers run on any thread of libmicrohttpd's pool */
    enum cond_role role;
    const char *config_path, *state_path;
    struct loaded cur;
    struct mist_auth *auth;
    struct inventory inv;
    X509 *wrong_ca;       /* the throwaway CA of the wrong-ca fault (staging) */
    EVP_PKEY *wrong_key;
};

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

static void loaded_free(struct loaded *l)
{
    cond_config_free(&l->cfg);
    X509_free(l->ca);
    EVP_PKEY_free(l->ca_key);
    free(l->ca_pem);
    memset(l, 0, sizeof *l);
}

static int load(const char *path, enum cond_role role, struct loaded *l, char *err, size_t cap)
{
    char *buf = NULL, e2[320];
    size_t len;
    memset(l, 0, sizeof *l);
    int rc = read_file_max(path, 4 << 20, &buf, &len);
    if (rc < 0)
        return errf(err, cap, "%s: %s", path, strerror(-rc));
    rc = cond_config_parse(buf, len, role, &l->cfg, e2, sizeof e2);
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc < 0)
        return errf(err, cap, "%s: %s", path, e2);
    if (role == COND_PRODUCTION)
        return 0;
    char *kp = NULL;
    size_t kl = 0;
    if ((rc = read_file_max(l->cfg.ca_cert, 1 << 20, &l->ca_pem, &l->ca_pem_len)) < 0) {
        errf(err, cap, "%s: ca-cert %s: %s", path, l->cfg.ca_cert, strerror(-rc));
        goto fail;
    }
    if (!(l->ca = pki_cert_parse(l->ca_pem, l->ca_pem_len, e2, sizeof e2))) {
        errf(err, cap, "%s: ca-cert %s: %s", path, l->cfg.ca_cert, e2);
        goto fail;
    }
    if ((rc = read_file_max(l->cfg.ca_key, 1 << 20, &kp, &kl)) < 0) {
        errf(err, cap, "%s: ca-key %s: %s", path, l->cfg.ca_key, strerror(-rc));
        goto fail;
    }
    l->ca_key = pki_key_parse(kp, kl, e2, sizeof e2);
    OPENSSL_cleanse(kp, kl);
    free(kp);
    if (!l->ca_key) {
        errf(err, cap, "%s: ca-key %s: %s", path, l->cfg.ca_key, e2);
        goto fail;
    }
    if (X509_check_private_key(l->ca, l->ca_key) != 1) {
        errf(err, cap, "%s: ca-key %s does not match ca-cert %s", path, l->cfg.ca_key, l->cfg.ca_cert);
        goto fail;
    }
    return 0;
fail:
    loaded_free(l);
    return -1;
}

/* Write the inventory to --state (atomically). Called with mu held, after every change. */
static void save_state(struct conductor *c)
{
    if (!c->state_path)
        return;
    json_t *j = inv_to_json(&c->inv);
    char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
    json_decref(j);
    int rc = text ? atomic_write_file(c->state_path, text, strlen(text), 0644) : -ENOMEM;
    free(text);
    if (rc < 0)
        log_warn("state.write", "path=%s error=\"%s\"", c->state_path, strerror(-rc));
}

/* The stall fault: httpd.c holds every answer back this long before its handler runs (the connection
 * is suspended meanwhile: no thread waits, the other routers are answered at once). */
static unsigned stall_ms(void *app, const struct mhttp_req *r)
{
    struct conductor *c = app;
    (void)r;
    pthread_mutex_lock(&c->mu);
    unsigned ms = c->cur.cfg.faults.stall_ms;
    pthread_mutex_unlock(&c->mu);
    return ms;
}

static void bad_request(struct mhttp_req *r, const char *detail)
{
    mhttp_reply_error_detail(r, 400, "bad-request", detail);
}

/* Production: the verified client certificate must name `identity`. Returns 0, or -1 (answered 403). */
static int tls_identity_check(struct conductor *c, struct mhttp_req *r, const char *identity)
{
    char got[PKI_IDENTITY_MAX], err[160], detail[320];
    if (c->role != COND_PRODUCTION)
        return 0;
    if (cmtls_peer_identity(r->conn, got, sizeof got, err, sizeof err) < 0) {
        log_warn("router.tls", "peer=%s identity=%s result=refused reason=\"%s\"", r->peer, identity, err);
        mhttp_reply_error_detail(r, 403, "client-certificate", err);
        return -1;
    }
    if (strcmp(got, identity) != 0) {
        char q[PKI_IDENTITY_MAX + 8];
        log_warn("router.tls", "peer=%s identity=%s result=refused reason=certificate-mismatch certificate=%s", r->peer,
                 identity, log_quote(q, sizeof q, got, strlen(got)));
        snprintf(detail, sizeof detail, "the client certificate names %s, not %s", got, identity);
        mhttp_reply_error_detail(r, 403, "certificate-mismatch", detail);
        return -1;
    }
    return 0;
}

/* Common prologue of challenge and auth: the configured node, TLS identity, not locked. NULL when
 * answered. */
static struct inv_node *known_node(struct conductor *c, struct mhttp_req *r, const char *router, const char *node,
                                   const char *what, uint64_t now)
{
    struct inv_node *n = inv_find(&c->inv, router, node);
    char detail[200];
    if (!n) {
        log_info(what, "router=%s node=%s peer=%s result=fail reason=unknown-router", router, node, r->peer);
        snprintf(detail, sizeof detail, "no router %s with a node %s here", router, node);
        mhttp_reply_error_detail(r, 404, "unknown-router", detail);
        return NULL;
    }
    if (tls_identity_check(c, r, n->identity) < 0)
        return NULL;
    unsigned left = mist_lock_remaining(c->auth, n->identity, now);
    if (left) {
        log_info(what, "router=%s node=%s peer=%s result=fail reason=locked retry_after=%u", router, node, r->peer,
                 left);
        mhttp_reply_error(r, 423, "locked", left);
        return NULL;
    }
    return n;
}

static void challenge(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    struct cw_challenge b;
    char err[200], nonce[PSK_NONCE_HEX + 1], id[MIST_CHALLENGE_ID_LEN + 1];
    if (cw_challenge_parse(r->json, &b, err, sizeof err) < 0) {
        bad_request(r, err);
        return;
    }
    uint64_t now = now_s();
    pthread_mutex_lock(&c->mu);
    struct inv_node *n = known_node(c, r, b.router, b.node, "router.challenge", now);
    if (n) {
        unsigned ttl = c->cur.cfg.psk_ttl;
        if (psk_nonce(nonce, sizeof nonce) < 0 || mist_challenge_add(c->auth, n->identity, nonce, now, ttl, id) < 0) {
            mhttp_reply_error(r, 500, "no-randomness", 0);
        } else {
            log_info("router.challenge", "router=%s node=%s peer=%s result=issued challenge_id=%s expires_in=%u",
                     n->router, n->node, r->peer, id, ttl);
            snprintf(r->result, sizeof r->result, "issued");
            mhttp_reply_json(r, 200,
                             json_pack("{s:s,s:s,s:i}", "challenge-id", id, "nonce", nonce, "expires-in", (int)ttl),
                             NULL, NULL);
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static void auth_failed(struct conductor *c, struct mhttp_req *r, struct inv_node *n, const char *reason,
                        const char *fault, uint64_t now)
{
    const struct cond_config *cfg = &c->cur.cfg;
    bool locked = mist_lock_fail(c->auth, n->identity, now, cfg->max_failures, cfg->lockout_seconds);
    log_warn("router.auth", "router=%s node=%s peer=%s result=fail reason=%s failures=%u%s%s", n->router, n->node,
             r->peer, reason, mist_lock_failures(c->auth, n->identity), fault ? " fault=" : "", fault ? fault : "");
    if (locked)
        log_warn("router.locked", "router=%s node=%s failures=%u lockout_seconds=%u", n->router, n->node,
                 cfg->max_failures, cfg->lockout_seconds);
    mhttp_reply_error(r, 401, reason, 0);
}

static void auth(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    struct cw_auth b;
    char err[200], nonce[OCRA_QUESTION_MAX + 1], expect[PSK_MAC_HEX + 1], smac[PSK_MAC_HEX + 1];
    char token[MIST_TOKEN_LEN + 1];
    if (cw_auth_parse(r->json, &b, err, sizeof err) < 0) {
        bad_request(r, err);
        return;
    }
    uint64_t now = now_s();
    pthread_mutex_lock(&c->mu);
    const struct cond_config *cfg = &c->cur.cfg;
    struct inv_node *n = known_node(c, r, b.router, b.node, "router.auth", now);
    if (!n)
        goto out;
    const struct cond_router *cr = cond_router_find(cfg, n->router);
    enum mist_take t = mist_challenge_take(c->auth, n->identity, b.challenge_id, now, nonce, sizeof nonce);
    if (t != MIST_TAKE_OK) {
        auth_failed(c, r, n, mist_take_error[t], NULL, now);
        goto out;
    }
    if (cfg->faults.reject_secret) {
        auth_failed(c, r, n, "bad-secret", "reject-secret", now);
        goto out;
    }
    if (psk_mac(PSK_CLIENT, (const unsigned char *)cr->psk, cr->psk_len, nonce, n->router, n->node, expect,
                sizeof expect, err, sizeof err) < 0 ||
        psk_mac(PSK_SERVER, (const unsigned char *)cr->psk, cr->psk_len, nonce, n->router, n->node, smac, sizeof smac,
                err, sizeof err) < 0) {
        mhttp_reply_error(r, 500, "mac-error", 0);
        goto out;
    }
    bool ok = psk_mac_equal(expect, b.mac, b.mac_len);
    OPENSSL_cleanse(expect, sizeof expect);
    if (!ok) {
        auth_failed(c, r, n, "bad-secret", NULL, now);
        goto out;
    }
    if (mist_session_new(c->auth, n->identity, now, cfg->session_ttl, token) < 0) {
        mhttp_reply_error(r, 500, "no-randomness", 0);
        goto out;
    }
    mist_lock_success(c->auth, n->identity);
    log_info("router.auth", "router=%s node=%s peer=%s result=ok role=%s session_ttl=%u", n->router, n->node, r->peer,
             cond_role_name[c->role], cfg->session_ttl);
    if (inv_authenticated(&c->inv, n, time(NULL)))
        save_state(c);
    snprintf(r->result, sizeof r->result, "authenticated");
    mhttp_reply_json(r, 200,
                     json_pack("{s:s,s:i,s:s,s:s}", "session", token, "expires-in", (int)cfg->session_ttl, "role",
                               cond_role_name[c->role], "server-mac", smac),
                     NULL, NULL);
out:
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(smac, sizeof smac);
    pthread_mutex_unlock(&c->mu);
}

/* The node of the request's bearer session (and, on production, of its client certificate). Called
 * with mu held; NULL when answered. */
static struct inv_node *session_node(struct conductor *c, struct mhttp_req *r)
{
    const char *tok;
    size_t tl;
    char id[COND_IDENTITY_MAX + 1];
    const char *h = mhttp_header(r, "Authorization");
    struct inv_node *n = NULL;
    if (cw_bearer(h, &tok, &tl) == 0 && cw_session_identity(c->auth, tok, tl, now_s(), id, sizeof id) == 0)
        n = inv_find_identity(&c->inv, id);
    if (!n) {
        log_warn("router.session", "peer=%s path=%s result=refused reason=%s", r->peer, r->path,
                 h ? "bad-session" : "no-session");
        snprintf(r->result, sizeof r->result, "unauthorized");
        mhttp_reply_json(r, 401, json_pack("{s:s}", "error", "unauthorized"), "WWW-Authenticate",
                         "Bearer realm=\"conductor\"");
        return NULL;
    }
    return tls_identity_check(c, r, n->identity) < 0 ? NULL : n;
}

static void task(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    pthread_mutex_lock(&c->mu);
    struct inv_node *n = session_node(c, r);
    if (n) {
        enum cond_task t = inv_task(&c->inv, n);
        if (c->role == COND_PRODUCTION && inv_authenticated(&c->inv, n, time(NULL)))
            save_state(c);
        json_t *b = inv_task_json(&c->cur.cfg, n, t);
        log_info("router.task", "router=%s node=%s peer=%s task=%s", n->router, n->node, r->peer, cond_task_name[t]);
        snprintf(r->result, sizeof r->result, "%s", cond_task_name[t]);
        if (b)
            mhttp_reply_json(r, 200, b, NULL, NULL);
    }
    pthread_mutex_unlock(&c->mu);
}

static void csr(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    struct cw_csr b;
    char err[320], detail[200], serial[48], q[400];
    char *pem = NULL;
    size_t pl;
    X509_REQ *req = NULL;
    pthread_mutex_lock(&c->mu);
    struct inv_node *n = session_node(c, r);
    if (!n)
        goto out;
    if (!inv_csr_allowed(&c->inv, n)) {
        snprintf(detail, sizeof detail, "a CSR is taken while the task is generate-key; it is %s",
                 cond_task_name[inv_task(&c->inv, n)]);
        log_warn("router.csr", "router=%s node=%s peer=%s result=rejected reason=unexpected-csr task=%s", n->router,
                 n->node, r->peer, cond_task_name[inv_task(&c->inv, n)]);
        mhttp_reply_error_detail(r, 409, "unexpected-csr", detail);
        goto out;
    }
    if (cw_csr_parse(r->json, &b, err, sizeof err) < 0) {
        bad_request(r, err);
        goto out;
    }
    if (pki_csr_check(b.pem, b.len, n->router, n->node, &req, err, sizeof err) < 0) {
        log_warn("router.csr", "router=%s node=%s peer=%s result=rejected reason=%s", n->router, n->node, r->peer,
                 log_quote(q, sizeof q, err, strlen(err)));
        mhttp_reply_error_detail(r, 422, "csr-rejected", err);
        goto out;
    }
    bool wrong = c->cur.cfg.faults.wrong_ca;
    if (pki_sign_csr(req, wrong ? c->wrong_ca : c->cur.ca, wrong ? c->wrong_key : c->cur.ca_key, c->cur.cfg.cert_days,
                     n->router, n->node, &pem, &pl, serial, sizeof serial, err, sizeof err) < 0) {
        log_error("router.csr", "router=%s node=%s result=error reason=%s", n->router, n->node,
                  log_quote(q, sizeof q, err, strlen(err)));
        mhttp_reply_error_detail(r, 500, "signing-failed", err);
        goto out;
    }
    inv_certified(&c->inv, n, serial, time(NULL));
    save_state(c);
    log_info("router.csr", "router=%s node=%s peer=%s result=signed serial=%s identity=%s days=%u ca=%s", n->router,
             n->node, r->peer, serial, n->identity, c->cur.cfg.cert_days, wrong ? "wrong-ca" : "conductor");
    snprintf(r->result, sizeof r->result, "signed");
    /* ca-pem is always the configured conductor CA: under wrong-ca the certificate does not chain to it */
    mhttp_reply_json(r, 200,
                     json_pack("{s:s,s:s,s:s}", "certificate-pem", pem, "ca-pem", c->cur.ca_pem, "serial", serial),
                     NULL, NULL);
out:
    free(pem);
    X509_REQ_free(req);
    pthread_mutex_unlock(&c->mu);
}

static const char *const ack_result[] = {[ACK_ADVANCED] = "advanced",   [ACK_RETRY] = "retry",
                                         [ACK_REPEATED] = "repeated",   [ACK_HEARTBEAT] = "heartbeat",
                                         [ACK_UNEXPECTED] = "unexpected", [ACK_NO_CERT] = "no-certificate"};

static void ack(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    struct cw_ack b;
    char err[200], detail[200], q[CW_DETAIL_MAX * 4 + 3];
    pthread_mutex_lock(&c->mu);
    struct inv_node *n = session_node(c, r);
    if (!n)
        goto out;
    if (cw_ack_parse(r->json, &b, err, sizeof err) < 0) {
        bad_request(r, err);
        goto out;
    }
    enum cond_task cur = inv_task(&c->inv, n), next;
    enum inv_ack res = inv_ack(&c->inv, n, b.task, b.ok, time(NULL), &next);
    if (res == ACK_ADVANCED || res == ACK_HEARTBEAT)
        save_state(c);
    const char *dq = b.detail ? log_quote(q, sizeof q, b.detail, strlen(b.detail)) : "-";
    if (res == ACK_HEARTBEAT)
        log_debug("router.ack", "router=%s node=%s peer=%s task=heartbeat result=ok", n->router, n->node, r->peer);
    else
        log_info("router.ack", "router=%s node=%s peer=%s task=%s result=%s outcome=%s next=%s detail=%s", n->router,
                 n->node, r->peer, cond_task_name[b.task], b.ok ? "ok" : "failed", ack_result[res],
                 cond_task_name[next], dq);
    snprintf(r->result, sizeof r->result, "%s", ack_result[res]);
    if (res == ACK_UNEXPECTED) {
        snprintf(detail, sizeof detail, "the current task is %s", cond_task_name[cur]);
        mhttp_reply_error_detail(r, 409, "unexpected-task", detail);
    } else if (res == ACK_NO_CERT) {
        mhttp_reply_error_detail(r, 409, "no-certificate", "POST /v1/router/csr before acking generate-key");
    } else {
        mhttp_reply_json(r, 200, json_pack("{s:s}", "next", cond_task_name[next]), NULL, NULL);
    }
out:
    pthread_mutex_unlock(&c->mu);
}

static void inventory(void *app, struct mhttp_req *r)
{
    struct conductor *c = app;
    pthread_mutex_lock(&c->mu);
    json_t *j = inv_to_json(&c->inv);
    pthread_mutex_unlock(&c->mu);
    snprintf(r->result, sizeof r->result, "served");
    mhttp_reply_json(r, 200, j, NULL, NULL);
}

static const struct mhttp_route staging_routes[] = {
    {"POST", "/v1/router/challenge", MHTTP_BODY_REQUIRED, challenge},
    {"POST", "/v1/router/auth", MHTTP_BODY_REQUIRED, auth},
    {"GET", "/v1/router/task", MHTTP_BODY_NONE, task},
    {"POST", "/v1/router/csr", MHTTP_BODY_REQUIRED, csr},
    {"POST", "/v1/router/ack", MHTTP_BODY_REQUIRED, ack},
    {"GET", "/v1/inventory", MHTTP_BODY_NONE, inventory},
    {NULL, NULL, MHTTP_BODY_NONE, NULL},
};

/* Production signs nothing: the same routes but /csr (made at start). */
static struct mhttp_route production_routes[sizeof staging_routes / sizeof staging_routes[0]];

static void production_routes_init(void)
{
    size_t k = 0;
    for (const struct mhttp_route *r = staging_routes; r->pattern; r++)
        if (r->fn != csr)
            production_routes[k++] = *r;
}

static void log_faults(const char *event, const char *result, const struct cond_config *cfg, size_t dropped)
{
    log_info(event, "result=%s routers=%zu nodes=%zu dropped=%zu reject_secret=%s wrong_ca=%s stall_ms=%u", result,
             cfg->n_routers, cond_config_nodes(cfg), dropped, cfg->faults.reject_secret ? "yes" : "no",
             cfg->faults.wrong_ca ? "yes" : "no", cfg->faults.stall_ms);
}

static void reload(void *app)
{
    struct conductor *c = app;
    struct loaded nl, old;
    char err[512], q[600];
    if (load(c->config_path, c->role, &nl, err, sizeof err) < 0) {
        log_warn("config.reload", "result=kept-old error=%s", log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    pthread_mutex_lock(&c->mu);
    int dropped = inv_sync(&c->inv, &nl.cfg);
    if (dropped < 0) {
        pthread_mutex_unlock(&c->mu);
        loaded_free(&nl);
        log_warn("config.reload", "result=kept-old error=\"out of memory\"");
        return;
    }
    old = c->cur;
    c->cur = nl;
    save_state(c);
    log_faults("config.reload", "ok", &c->cur.cfg, (size_t)dropped);
    pthread_mutex_unlock(&c->mu);
    loaded_free(&old);
}

static void ready(void *app)
{
    struct conductor *c = app;
    log_info("daemon.ready", "role=%s routers=%zu nodes=%zu state=%s mutual_tls=%s", cond_role_name[c->role],
             c->cur.cfg.n_routers, cond_config_nodes(&c->cur.cfg), c->state_path ? c->state_path : "-",
             c->role == COND_PRODUCTION ? "required" : "no");
}

static void conn_started(void *app, void *conn)
{
    (void)app;
    cmtls_require(conn);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mock-conductor --role staging|production --config FILE --listen IP[:PORT] --cert PEM --key PEM\n"
            "                      [--client-ca PEM] [--state FILE] " MHTTP_USAGE_COMMON "\n"
            "       mock-conductor --role staging|production --check --config FILE [--state FILE]\n"
            "\n"
            "The staging or production conductor of the ztp-lab (HTTPS, default port " COND_DEFAULT_PORT
            "): PSK challenge/response,\n"
            "router inventory, staging tasks, CSR signing; production requires --client-ca (mutual TLS).\n"
            "See mocks/conductor/README.md. Signals: SIGTERM/SIGINT stop, SIGHUP reloads the config (faults).\n"
            "Readiness: writes READY to $ZTP_READY_FD once listening.\n");
}

/* The inventory from the config, then what --state remembers. */
static int inventory_start(struct conductor *c, char *err, size_t cap)
{
    char *buf = NULL, e2[320];
    size_t len, restored = 0, dropped = 0;
    if (inv_sync(&c->inv, &c->cur.cfg) < 0)
        return errf(err, cap, "out of memory");
    if (!c->state_path)
        return 0;
    int rc = read_file_max(c->state_path, 16 << 20, &buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return errf(err, cap, "--state %s: %s", c->state_path, strerror(-rc));
    rc = inv_restore(&c->inv, buf, len, &restored, &dropped, e2, sizeof e2);
    free(buf);
    if (rc < 0)
        return errf(err, cap, "--state %s: %s", c->state_path, e2);
    log_info("inventory.restored", "path=%s nodes=%zu dropped=%zu", c->state_path, restored, dropped);
    return 0;
}

int main(int argc, char **argv)
{
    const char *role_s = NULL, *client_ca = NULL, *state = NULL;
    const struct mhttp_extra_opt extra[] = {
        {"role", &role_s, NULL}, {"client-ca", &client_ca, NULL}, {"state", &state, NULL}, {NULL, NULL, NULL}};
    struct mhttp_args a;
    int rc = mhttp_args_parse_ext(argc, argv, PROG, "conductor", usage, &a, extra);
    if (rc >= 0)
        return rc;
    struct conductor c = {.mu = PTHREAD_MUTEX_INITIALIZER, .config_path = a.config, .state_path = state};
    if (!role_s || cond_role_parse(role_s, &c.role) < 0) {
        fprintf(stderr, PROG ": --role staging|production is required\n");
        usage(stderr);
        return 2;
    }
    if (!a.check && (c.role == COND_PRODUCTION) != (client_ca != NULL)) {
        fprintf(stderr, PROG ": --client-ca is %s for --role %s\n", client_ca ? "refused" : "required", role_s);
        return 2;
    }
    char err[640], listen[96];
    if (a.listen && !strchr(a.listen, ':')) {   /* IP alone: the conductor port */
        snprintf(listen, sizeof listen, "%s:" COND_DEFAULT_PORT, a.listen);
        a.listen = listen;
    }
    if (load(c.config_path, c.role, &c.cur, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    if (inventory_start(&c, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        loaded_free(&c.cur);
        inv_free(&c.inv);
        return 1;
    }
    if (a.check) {
        printf("ok: role=%s routers=%zu nodes=%zu\n", cond_role_name[c.role], c.cur.cfg.n_routers,
               cond_config_nodes(&c.cur.cfg));
        loaded_free(&c.cur);
        inv_free(&c.inv);
        return 0;
    }
    char *trust = NULL;
    size_t tl;
    rc = 1;
    if (client_ca && (rc = read_file_max(client_ca, 1 << 20, &trust, &tl)) < 0) {
        fprintf(stderr, PROG ": --client-ca %s: %s\n", client_ca, strerror(-rc));
        rc = 1;
        goto out;
    }
    if (c.role == COND_STAGING && pki_ca_generate("ztp-lab wrong CA", 2, &c.wrong_ca, &c.wrong_key, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    c.auth = calloc(1, sizeof *c.auth);
    if (!c.auth)
        fatalx("daemon.oom", "auth tables");
    production_routes_init();
    save_state(&c);   /* the lab sees every configured node from the start */
    struct mhttp_opts o = {.routes = c.role == COND_STAGING ? staging_routes : production_routes,
                           .app = &c,
                           .trust_pem = trust,
                           .conn_started = c.role == COND_PRODUCTION ? conn_started : NULL,
                           .delay_ms = stall_ms};
    rc = mhttp_serve(PROG, &a, &o, reload, ready);
out:
    free(trust);
    loaded_free(&c.cur);
    inv_free(&c.inv);
    X509_free(c.wrong_ca);
    EVP_PKEY_free(c.wrong_key);
    if (c.auth)
        OPENSSL_cleanse(c.auth, sizeof *c.auth);
    free(c.auth);
    return rc;
}
