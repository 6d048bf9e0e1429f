/* libFuzzer harness for the Mist mocks' JSON config parsers (mocks/mist): the first byte picks the
 * parser, the rest is the file: an odd first byte (e.g. 'C') -> ept_config_parse() (the
 * mock-ep-terminator claims file), an even one (e.g. 'R') -> mist_registry_parse() (mock-mist's
 * device registry). The file is copied into a malloc'd buffer of exactly its size so ASan
 * catches any read past the end. Properties checked (abort on violation):
 *   - a refusal has a non-empty, NUL-terminated reason and owns no JSON;
 *   - claims: the environment is listed, retry-after is 1..3600, every environment URL is
 *     https://, every claim decides to CLAIMED or OTHER_ENV with the redirect
 *     <env url>/v1/device/<id> (not truncated), and an id that is claimed by nobody is UNCLAIMED;
 *   - registry: every device is found by its id, has a 1..MIST_KEY_MAX byte key, a Q-only suite
 *     whose text parses again to the same struct, and a conductor and PSK. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "mistjson.h"
#include "registry.h"
#include "ztp/ocra.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err, size_t cap)
{
    size_t n = strnlen(err, cap);
    if (n == 0 || n >= cap)
        abort();
}

static void fuzz_claims(const char *buf, size_t len)
{
    struct ept_config c;
    struct ept_decision d;
    char err[256] = "";
    if (ept_config_parse(buf, len, &c, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        if (c.root || c.envs || c.claims)
            abort();
        return;
    }
    if (!c.environment || c.retry_after < 1 || c.retry_after > 3600 || c.n_envs == 0)
        abort();
    int listed = 0;
    for (size_t i = 0; i < c.n_envs; i++) {
        const struct ept_env *e = &c.envs[i];
        if (!e->name || !e->url || strncmp(e->url, "https://", 8) != 0 || e->url_len <= 8 ||
            e->url_len > strlen(e->url))
            abort();
        listed |= strcmp(e->name, c.environment) == 0;
    }
    if (!listed)
        abort();
    for (size_t i = 0; i < c.n_claims; i++) {
        const struct ept_claim *cl = &c.claims[i];
        if (!cl->device_id || !cl->environment || !cl->org || !mist_id_valid(cl->device_id, strlen(cl->device_id)))
            abort();
        enum ept_verdict v = ept_decide(&c, cl->device_id, &d);
        if ((v != EPT_CLAIMED && v != EPT_OTHER_ENV) || v != d.verdict || !d.claim)
            abort();
        /* The first claim of that id decided (ids are object keys: unique). */
        if (d.claim != cl || (v == EPT_CLAIMED) != (strcmp(cl->environment, c.environment) == 0))
            abort();
        const struct ept_env *e = NULL;
        for (size_t k = 0; k < c.n_envs; k++)
            if (strcmp(c.envs[k].name, cl->environment) == 0)
                e = &c.envs[k];
        char want[sizeof d.redirect];
        int n = snprintf(want, sizeof want, "%.*s/v1/device/%s", (int)e->url_len, e->url, cl->device_id);
        if (n < 0 || (size_t)n >= sizeof want || strcmp(want, d.redirect) != 0)
            abort();
    }
    /* '!' is not a valid id character: never claimed. */
    if (ept_decide(&c, "SSR-fuzz!", &d) != EPT_UNCLAIMED || d.claim || d.redirect[0])
        abort();
    ept_config_free(&c);
}

static void fuzz_registry(const char *buf, size_t len)
{
    struct mist_registry g;
    char err[256] = "";
    if (mist_registry_parse(buf, len, &g, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        if (g.root || g.devices)
            abort();
        return;
    }
    for (size_t i = 0; i < g.n_devices; i++) {
        const struct mist_device *d = &g.devices[i];
        struct ocra_suite again;
        if (!d->id || mist_registry_find(&g, d->id) != d || d->key_len == 0 || d->key_len > MIST_KEY_MAX ||
            !d->org || !d->site || !d->conductor || !d->psk)
            abort();
        if (d->suite.counter || d->suite.pin || d->suite.session || d->suite.time)
            abort();
        if (ocra_suite_parse(d->suite.text, d->suite.text_len, &again, NULL, 0) != 0 ||
            memcmp(&again, &d->suite, sizeof again) != 0)
            abort();
    }
    if (mist_registry_find(&g, "SSR-fuzz!"))
        abort();
    mist_registry_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, len);
    if (data[0] & 1)
        fuzz_claims(buf, len);
    else
        fuzz_registry(buf, len);
    free(buf);
    return 0;
}
