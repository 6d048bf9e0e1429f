/* See claims.h. */
#include "claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mistjson.h"
#include "ztp/log.h"

const char *const ept_verdict_name[] = {[EPT_CLAIMED] = "claimed", [EPT_OTHER_ENV] = "other-environment",
                                        [EPT_UNCLAIMED] = "unclaimed"};

static const struct ept_env *find_env(const struct ept_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_envs; i++)
        if (strcmp(cfg->envs[i].name, name) == 0)
            return &cfg->envs[i];
    return NULL;
}

static int url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 || strlen(u) < 9 || strlen(u) > 256)
        return 0;
    for (const char *p = u + 8; *p; p++) {
        if (*p == '/' && p[1] == '\0')
            return 1;   /* one trailing '/' is dropped */
        if (*p <= ' ' || *p >= 127 || *p == '/' || *p == '?' || *p == '#' || *p == '@')
            return 0;
    }
    return 1;
}

int ept_config_parse(const char *buf, size_t len, struct ept_config *cfg, char *err, size_t cap)
{
    static const char *const top[] = {"environment", "retry-after", "environments", "claims", NULL};
    static const char *const claim_keys[] = {"environment", "org", NULL};
    const char *key;
    json_t *v;
    memset(cfg, 0, sizeof *cfg);
    cfg->retry_after = 10;
    cfg->root = mj_load_object(buf, len, err, cap);
    if (!cfg->root)
        return -1;
    if (mj_only_keys(cfg->root, top, "claims file", err, cap) ||
        mj_string(cfg->root, "environment", true, "claims file", &cfg->environment, err, cap) ||
        mj_uint(cfg->root, "retry-after", 1, 3600, "claims file", &cfg->retry_after, err, cap))
        goto fail;
    json_t *envs = json_object_get(cfg->root, "environments");
    if (!json_is_object(envs) || json_object_size(envs) == 0) {
        snprintf(err, cap, "claims file: \"environments\" must be a non-empty object of name: base URL");
        goto fail;
    }
    cfg->envs = calloc(json_object_size(envs), sizeof *cfg->envs);
    if (!cfg->envs) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    json_object_foreach(envs, key, v) {
        if (!mist_id_valid(key, strlen(key))) {
            snprintf(err, cap, "environments: bad environment name \"%.64s\"", key);
            goto fail;
        }
        if (!json_is_string(v) || !url_ok(json_string_value(v))) {
            snprintf(err, cap, "environments.%s: must be \"https://HOST[:PORT]\"", key);
            goto fail;
        }
        struct ept_env *e = &cfg->envs[cfg->n_envs++];
        e->name = key;
        e->url = json_string_value(v);
        e->url_len = strlen(e->url);
        if (e->url[e->url_len - 1] == '/')
            e->url_len--;
    }
    if (!find_env(cfg, cfg->environment)) {
        snprintf(err, cap, "claims file: environment \"%.64s\" is not in \"environments\"", cfg->environment);
        goto fail;
    }
    json_t *claims = json_object_get(cfg->root, "claims");
    if (claims && !json_is_object(claims)) {
        snprintf(err, cap, "claims file: \"claims\" must be an object of device-id: {environment, org}");
        goto fail;
    }
    if (claims && json_object_size(claims)) {
        cfg->claims = calloc(json_object_size(claims), sizeof *cfg->claims);
        if (!cfg->claims) {
            snprintf(err, cap, "out of memory");
            goto fail;
        }
    }
    json_object_foreach(claims, key, v) {
        char where[96];
        snprintf(where, sizeof where, "claims.%.64s", key);
        if (!mist_id_valid(key, strlen(key))) {
            snprintf(err, cap, "claims: bad device id \"%.64s\"", key);
            goto fail;
        }
        if (!json_is_object(v)) {
            snprintf(err, cap, "%s: must be an object {environment, org}", where);
            goto fail;
        }
        struct ept_claim *c = &cfg->claims[cfg->n_claims];
        c->device_id = key;
        if (mj_only_keys(v, claim_keys, where, err, cap) ||
            mj_string(v, "environment", true, where, &c->environment, err, cap) ||
            mj_string(v, "org", true, where, &c->org, err, cap))
            goto fail;
        if (!find_env(cfg, c->environment)) {
            snprintf(err, cap, "%s: environment \"%.64s\" is not in \"environments\"", where, c->environment);
            goto fail;
        }
        if (!mist_id_valid(c->org, strlen(c->org))) {
            snprintf(err, cap, "%s: bad org name", where);
            goto fail;
        }
        cfg->n_claims++;
    }
    return 0;
fail:
    ept_config_free(cfg);
    return -1;
}

void ept_config_free(struct ept_config *cfg)
{
    free(cfg->envs);
    free(cfg->claims);
    json_decref(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}

enum ept_verdict ept_decide(const struct ept_config *cfg, const char *device_id, struct ept_decision *d)
{
    memset(d, 0, sizeof *d);
    d->verdict = EPT_UNCLAIMED;
    for (size_t i = 0; i < cfg->n_claims; i++) {
        if (strcmp(cfg->claims[i].device_id, device_id) != 0)
            continue;
        const struct ept_env *e = find_env(cfg, cfg->claims[i].environment);
        if (!e)
            fatalx("ept.invariant", "claim of %s names an unlisted environment", device_id);
        d->claim = &cfg->claims[i];
        d->verdict = strcmp(e->name, cfg->environment) == 0 ? EPT_CLAIMED : EPT_OTHER_ENV;
        snprintf(d->redirect, sizeof d->redirect, "%.*s/v1/device/%s", (int)e->url_len, e->url, device_id);
        return d->verdict;
    }
    return d->verdict;
}
