/* mock-ep-terminator: answers as ep-terminator.mistsys.net. POST /v1/phone-home tells a claimed
 * device where its org cloud is (307 + Location + JSON), an unclaimed one to retry later (404 +
 * Retry-After). The claims file is reloaded on SIGHUP. See README.md. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "httpd.h"
#include "mistjson.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

struct ept {
    pthread_mutex_t mu;
    const char *config_path;
    struct ept_config cfg;
};

static void phone_home(void *app, struct mhttp_req *r)
{
    struct ept *e = app;
    const char *id, *model, *serial;
    char err[160], qid[160];
    if (mj_string(r->json, "device-id", true, "body", &id, err, sizeof err) ||
        mj_string(r->json, "model", false, "body", &model, err, sizeof err) ||
        mj_string(r->json, "serial", false, "body", &serial, err, sizeof err) || !mist_id_valid(id, strlen(id))) {
        mhttp_reply_json(r, 400, json_pack("{s:s,s:s}", "error", "bad-request", "detail", id ? "bad device-id" : err),
                         NULL, NULL);
        snprintf(r->result, sizeof r->result, "bad-request");
        return;
    }
    log_quote(qid, sizeof qid, id, strlen(id));
    pthread_mutex_lock(&e->mu);
    struct ept_decision d;
    enum ept_verdict v = ept_decide(&e->cfg, id, &d);
    if (v == EPT_UNCLAIMED) {
        log_info("device.phone-home", "device=%s peer=%s verdict=unclaimed retry_after=%u", qid, r->peer,
                 e->cfg.retry_after);
        mhttp_reply_error(r, 404, "unclaimed", e->cfg.retry_after);
    } else {
        log_info("device.phone-home", "device=%s peer=%s verdict=%s environment=%s org=%s served=%s redirect=%s", qid,
                 r->peer, ept_verdict_name[v], d.claim->environment, d.claim->org, e->cfg.environment, d.redirect);
        json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "redirect", d.redirect, "environment", d.claim->environment,
                              "org", d.claim->org, "verdict", ept_verdict_name[v]);
        snprintf(r->result, sizeof r->result, "%s", ept_verdict_name[v]);
        mhttp_reply_json(r, 307, b, "Location", d.redirect);
    }
    pthread_mutex_unlock(&e->mu);
}

static const struct mhttp_route routes[] = {
    {"POST", "/v1/phone-home", MHTTP_BODY_REQUIRED, phone_home},
    {NULL, NULL, MHTTP_BODY_NONE, NULL},
};

static int load(const char *path, struct ept_config *cfg, char *err, size_t cap)
{
    char *buf, e2[256];
    size_t len;
    int rc = read_file_max(path, 4 << 20, &buf, &len);
    if (rc < 0) {
        snprintf(err, cap, "%s: %s", path, strerror(-rc));
        return -1;
    }
    rc = ept_config_parse(buf, len, cfg, e2, sizeof e2);
    free(buf);
    if (rc < 0)
        snprintf(err, cap, "%s: %s", path, e2);
    return rc;
}

static void reload(void *app)
{
    struct ept *e = app;
    struct ept_config nc, old;
    char err[512], q[600];
    if (load(e->config_path, &nc, err, sizeof err) < 0) {
        log_warn("config.reload", "result=kept-old error=%s", log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    pthread_mutex_lock(&e->mu);
    old = e->cfg;
    e->cfg = nc;
    pthread_mutex_unlock(&e->mu);
    ept_config_free(&old);
    log_info("config.reload", "result=ok environment=%s environments=%zu claims=%zu", nc.environment, nc.n_envs,
             nc.n_claims);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mock-ep-terminator --config FILE --listen IP:PORT --cert PEM --key PEM\n"
               "                          " MHTTP_USAGE_COMMON "\n"
               "       mock-ep-terminator --check --config FILE\n"
               "\n"
               "The Mist EP terminator of the ztp-lab (HTTPS): POST /v1/phone-home redirects a claimed device\n"
               "to its environment's org cloud. See mocks/mist/README.md.\n"
               "Signals: SIGTERM/SIGINT stop, SIGHUP reloads the claims file. Readiness: $ZTP_READY_FD.\n");
}

static void ready(void *app)
{
    struct ept *e = app;
    log_info("daemon.ready", "environment=%s environments=%zu claims=%zu", e->cfg.environment, e->cfg.n_envs,
             e->cfg.n_claims);
}

int main(int argc, char **argv)
{
    struct mhttp_args a;
    int rc = mhttp_args_parse(argc, argv, "mock-ep-terminator", "ep-terminator", usage, &a);
    if (rc >= 0)
        return rc;
    struct ept e = {.mu = PTHREAD_MUTEX_INITIALIZER, .config_path = a.config};
    char err[512];
    if (load(e.config_path, &e.cfg, err, sizeof err) < 0) {
        fprintf(stderr, "mock-ep-terminator: %s\n", err);
        return 1;
    }
    if (a.check) {
        printf("ok: environment %s, %zu environments, %zu claims\n", e.cfg.environment, e.cfg.n_envs, e.cfg.n_claims);
        ept_config_free(&e.cfg);
        return 0;
    }
    struct mhttp_opts o = {.routes = routes, .app = &e};
    rc = mhttp_serve("mock-ep-terminator", &a, &o, reload, ready);
    ept_config_free(&e.cfg);
    return rc;
}
