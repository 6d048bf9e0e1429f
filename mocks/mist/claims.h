/* mock-ep-terminator's claims file and its one decision: where a phoning-home device goes.
 *
 *   {"environment": "production",            the environment this terminator serves (must be listed)
 *    "retry-after": 10,                      seconds an unclaimed device is told to wait (1..3600)
 *    "environments": {"production": "https://mist-prod.lab", "staging": "https://mist-staging.lab:8443"},
 *    "claims": {"SSR-0001": {"environment": "staging", "org": "acme"}}}
 *
 * Unknown keys, a claim naming an unlisted environment, a non-https base URL or a bad device id are
 * refused. Pure code over (buf, len). */
#ifndef MIST_CLAIMS_H
#define MIST_CLAIMS_H

#include <jansson.h>
#include <stddef.h>

struct ept_claim {
    const char *device_id, *environment, *org;
};
struct ept_env {
    const char *name, *url;   /* url: https://host[:port], no trailing '/' kept */
    size_t url_len;
};
struct ept_config {
    json_t *root;             /* owns every string below */
    const char *environment;
    unsigned retry_after;
    struct ept_env *envs;
    size_t n_envs;
    struct ept_claim *claims;
    size_t n_claims;
};

int ept_config_parse(const char *buf, size_t len, struct ept_config *cfg, char *err, size_t cap);
void ept_config_free(struct ept_config *cfg);

enum ept_verdict { EPT_CLAIMED, EPT_OTHER_ENV, EPT_UNCLAIMED };
extern const char *const ept_verdict_name[];

struct ept_decision {
    enum ept_verdict verdict;
    const struct ept_claim *claim;   /* NULL when unclaimed */
    char redirect[512];              /* <env url>/v1/device/<id> when claimed */
};

/* device_id must be mist_id_valid. */
enum ept_verdict ept_decide(const struct ept_config *cfg, const char *device_id, struct ept_decision *d);

#endif
