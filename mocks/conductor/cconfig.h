/* mock-conductor's config file (JSON, written by the lab; SIGHUP reloads it). Pure code:
 *
 *   {"psk-ttl": 30, "session-ttl": 300, "max-failures": 5, "lockout-seconds": 60,
 *    "ca-cert": "/path/conductor-ca.pem", "ca-key": "/path/conductor-ca.key", "cert-days": 365,
 *    "routers": {"R1": {"psk": "secret-of-R1", "nodes": {"r1a": {"asset-id": "SSR-0001"}, "r1b": {}}}},
 *    "production": {"conductor": ["198.18.6.10:930"], "psk": "prod-secret", "root-ca-pem": "-----BEGIN..."},
 *    "svr": {"hub": "198.18.7.10:1280", "hub-name": "hub1"},
 *    "faults": {"reject-secret": false, "wrong-ca": false, "stall-ms": 0}}
 *
 * ca-cert, ca-key, production and svr are required for --role staging and refused for production
 * (cert-days likewise is staging only). Unknown keys are refused everywhere; a syntax error names its
 * line and column, any other error the member (e.g. `routers.R1.nodes.r1a: unknown key "x"`). */
#ifndef COND_CCONFIG_H
#define COND_CCONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ztp/pki.h"
#include "ztp/psk.h"

#define COND_ROUTERS_MAX 20000       /* lab fleet runs: up to 20,000 routers (lab/fleet.h) */
#define COND_NODES_MAX 8            /* per router (an HA pair is 2) */
#define COND_CONDUCTORS_MAX 2       /* an HA conductor has two addresses */
#define COND_ADDR_MAX 255
#define COND_IDENTITY_MAX 64        /* ROUTER.NODE, the key of mock-mist's auth tables (MIST_ID_MAX) */

enum cond_role { COND_STAGING, COND_PRODUCTION };
extern const char *const cond_role_name[];   /* "staging", "production" */
int cond_role_parse(const char *s, enum cond_role *role);

struct cond_node {
    const char *name, *asset_id;   /* asset_id may be NULL */
    char identity[COND_IDENTITY_MAX + 1];
};

struct cond_router {
    const char *name;
    const char *psk;   /* psk_len bytes, no NUL inside */
    size_t psk_len;
    struct cond_node *nodes;
    size_t n_nodes;
};

struct cond_faults {
    bool reject_secret, wrong_ca;
    unsigned stall_ms;
};

struct cond_config {
    json_t *root;   /* owns every string */
    enum cond_role role;
    unsigned psk_ttl, session_ttl, max_failures, lockout_seconds, cert_days;
    struct cond_router *routers;
    size_t n_routers;
    /* staging only (NULL / 0 for production) */
    const char *ca_cert, *ca_key;   /* paths */
    const char *prod_conductor[COND_CONDUCTORS_MAX];
    size_t n_prod_conductors;
    const char *prod_psk, *prod_root_ca_pem;
    const char *svr_hub, *svr_hub_name;
    struct cond_faults faults;
};

/* Parse and check the whole file for role. On failure nothing is owned and err holds one line. */
int cond_config_parse(const char *buf, size_t len, enum cond_role role, struct cond_config *c, char *err, size_t cap);
/* Wipes the secrets (psks) and frees. */
void cond_config_free(struct cond_config *c);

const struct cond_router *cond_router_find(const struct cond_config *c, const char *router);
const struct cond_node *cond_node_find(const struct cond_router *r, const char *node);
size_t cond_config_nodes(const struct cond_config *c);

#endif
