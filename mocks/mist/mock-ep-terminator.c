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

static int parse(const char *buf, size_t len, void *cfg, char *err, size_t cap)
{
    return ept_config_parse(buf, len, cfg, err, cap);
}
static void cfg_free(void *cfg) { ept_config_free(cfg); }
static void describe(const void *cfg, char *out, size_t cap)
{
    const struct ept_config *c = cfg;
    snprintf(out, cap, "environment=%s environments=%zu claims=%zu", c->environment, c->n_envs, c->n_claims);
}
static struct mhttp_conf conf = {.size = sizeof(struct ept_config), .parse = parse, .free = cfg_free, .describe = describe};

static void reload(void *app)
{
    struct ept *e = app;
    mhttp_conf_reload(&conf, &e->mu, &e->cfg);
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
    struct ept e = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[512];
    conf.path = a.config;
    if (mhttp_conf_load(&conf, &e.cfg, err, sizeof err) < 0) {
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
