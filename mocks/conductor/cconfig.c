/* See cconfig.h. */
#include "cconfig.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mistjson.h"
#include "ztp/util.h"

const char *const cond_role_name[] = {[COND_STAGING] = "staging", [COND_PRODUCTION] = "production"};

int cond_role_parse(const char *s, enum cond_role *role)
{
    for (int i = COND_STAGING; i <= COND_PRODUCTION; i++)
        if (s && strcmp(s, cond_role_name[i]) == 0) {
            *role = (enum cond_role)i;
            return 0;
        }
    return -1;
}

/* "HOST[:PORT]" (port required when need_port): HOST is 1..COND_ADDR_MAX of [A-Za-z0-9.-] (a name or an
 * IPv4 address), PORT 1..65535. */
static bool addr_ok(const char *s, bool need_port)
{
    size_t n = strnlen(s, COND_ADDR_MAX + 1);
    if (n == 0 || n > COND_ADDR_MAX)
        return false;
    const char *colon = strchr(s, ':');
    size_t hl = colon ? (size_t)(colon - s) : n;
    if (hl == 0 || (need_port && !colon))
        return false;
    for (size_t i = 0; i < hl; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    if (!colon)
        return true;
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl)
        return false;
    long port = strtol(p, NULL, 10);
    return port >= 1 && port <= 65535;
}

static int obj_member(json_t *parent, const char *key, const char *where, bool required, json_t **out, char *err,
                      size_t cap)
{
    json_t *v = json_object_get(parent, key);
    *out = NULL;
    if (!v)
        return required ? errf(err, cap, "%s: \"%s\" is missing", where, key) : 0;
    if (!json_is_object(v))
        return errf(err, cap, "%s: \"%s\" must be an object", where, key);
    *out = v;
    return 0;
}

static int parse_bool(json_t *o, const char *key, const char *where, bool *out, char *err, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return errf(err, cap, "%s: \"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

/* A secret: 1..PSK_SECRET_MAX bytes, no NUL. */
static int parse_psk(json_t *o, const char *where, const char **out, size_t *len, char *err, size_t cap)
{
    if (mj_string(o, "psk", true, where, out, err, cap) < 0)
        return -1;
    *len = strlen(*out);
    if (*len == 0 || *len > PSK_SECRET_MAX)
        return errf(err, cap, "%s: \"psk\" must be 1..%d bytes", where, PSK_SECRET_MAX);
    return 0;
}

static int parse_nodes(json_t *nodes, const char *rwhere, struct cond_router *r, char *err, size_t cap)
{
    char where[200];
    size_t n = json_object_size(nodes);
    if (n == 0 || n > COND_NODES_MAX)
        return errf(err, cap, "%s.nodes: 1..%d nodes expected", rwhere, COND_NODES_MAX);
    r->nodes = calloc(n, sizeof *r->nodes);
    if (!r->nodes)
        return errf(err, cap, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(nodes, name, v) {
        snprintf(where, sizeof where, "%s.nodes.%.64s", rwhere, name);
        if (!psk_name_ok(name))
            return errf(err, cap, "%s: a node name is 1..%d of [A-Za-z0-9._-]", where, PSK_NAME_MAX);
        if (!json_is_object(v))
            return errf(err, cap, "%s: must be an object", where);
        static const char *const keys[] = {"asset-id", NULL};
        struct cond_node *nd = &r->nodes[r->n_nodes++];
        nd->name = name;
        if (mj_only_keys(v, keys, where, err, cap) < 0 || mj_string(v, "asset-id", false, where, &nd->asset_id, err, cap) < 0)
            return -1;
        if (nd->asset_id && !mist_id_valid(nd->asset_id, strlen(nd->asset_id)))
            return errf(err, cap, "%s: \"asset-id\" is 1..%d of [A-Za-z0-9._:-]", where, MIST_ID_MAX);
        if (pki_identity(r->name, name, nd->identity, sizeof nd->identity) < 0)
            return errf(err, cap, "%s: the identity %s.%s is longer than %d characters", where, r->name, name,
                        COND_IDENTITY_MAX);
    }
    return 0;
}

static int parse_routers(json_t *routers, struct cond_config *c, char *err, size_t cap)
{
    char where[120];
    size_t n = json_object_size(routers);
    if (n == 0 || n > COND_ROUTERS_MAX)
        return errf(err, cap, "routers: 1..%d routers expected", COND_ROUTERS_MAX);
    c->routers = calloc(n, sizeof *c->routers);
    if (!c->routers)
        return errf(err, cap, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(routers, name, v) {
        snprintf(where, sizeof where, "routers.%.64s", name);
        if (!psk_name_ok(name))
            return errf(err, cap, "%s: a router name is 1..%d of [A-Za-z0-9._-]", where, PSK_NAME_MAX);
        if (!json_is_object(v))
            return errf(err, cap, "%s: must be an object", where);
        static const char *const keys[] = {"psk", "nodes", NULL};
        struct cond_router *r = &c->routers[c->n_routers++];
        r->name = name;
        json_t *nodes;
        if (mj_only_keys(v, keys, where, err, cap) < 0 || parse_psk(v, where, &r->psk, &r->psk_len, err, cap) < 0 ||
            obj_member(v, "nodes", where, true, &nodes, err, cap) < 0 || parse_nodes(nodes, where, r, err, cap) < 0)
            return -1;
    }
    /* identities are the keys of the auth tables and of certificates: "A.b"+"c" and "A"+"b.c" collide */
    for (size_t i = 0; i < c->n_routers; i++)
        for (size_t j = 0; j < c->routers[i].n_nodes; j++)
            for (size_t k = i; k < c->n_routers; k++)
                for (size_t l = k == i ? j + 1 : 0; l < c->routers[k].n_nodes; l++)
                    if (strcmp(c->routers[i].nodes[j].identity, c->routers[k].nodes[l].identity) == 0)
                        return errf(err, cap, "routers: %s/%s and %s/%s have the same identity %s", c->routers[i].name,
                                    c->routers[i].nodes[j].name, c->routers[k].name, c->routers[k].nodes[l].name,
                                    c->routers[i].nodes[j].identity);
    return 0;
}

static int parse_production(json_t *p, struct cond_config *c, char *err, size_t cap)
{
    static const char *const keys[] = {"conductor", "psk", "root-ca-pem", NULL};
    size_t psk_len;
    if (mj_only_keys(p, keys, "production", err, cap) < 0)
        return -1;
    json_t *a = json_object_get(p, "conductor");
    if (!a)
        return errf(err, cap, "production: \"conductor\" is missing");
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > COND_CONDUCTORS_MAX)
        return errf(err, cap, "production: \"conductor\" must be an array of 1..%d addresses", COND_CONDUCTORS_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e) || !addr_ok(json_string_value(e), false) ||
            strlen(json_string_value(e)) != json_string_length(e))
            return errf(err, cap, "production.conductor[%zu]: must be \"HOST[:PORT]\"", i);
        c->prod_conductor[c->n_prod_conductors++] = json_string_value(e);
    }
    if (parse_psk(p, "production", &c->prod_psk, &psk_len, err, cap) < 0 ||
        mj_string(p, "root-ca-pem", true, "production", &c->prod_root_ca_pem, err, cap) < 0)
        return -1;
    X509 *x = pki_cert_parse(c->prod_root_ca_pem, strlen(c->prod_root_ca_pem), NULL, 0);
    if (!x)
        return errf(err, cap, "production: \"root-ca-pem\" is not a PEM certificate");
    X509_free(x);
    return 0;
}

static int parse_svr(json_t *s, struct cond_config *c, char *err, size_t cap)
{
    static const char *const keys[] = {"hub", "hub-name", NULL};
    if (mj_only_keys(s, keys, "svr", err, cap) < 0 || mj_string(s, "hub", true, "svr", &c->svr_hub, err, cap) < 0 ||
        mj_string(s, "hub-name", true, "svr", &c->svr_hub_name, err, cap) < 0)
        return -1;
    if (!addr_ok(c->svr_hub, true))
        return errf(err, cap, "svr: \"hub\" must be \"HOST:PORT\"");
    if (!psk_name_ok(c->svr_hub_name))
        return errf(err, cap, "svr: \"hub-name\" is 1..%d of [A-Za-z0-9._-]", PSK_NAME_MAX);
    return 0;
}

static int parse_faults(json_t *f, struct cond_config *c, char *err, size_t cap)
{
    static const char *const keys[] = {"reject-secret", "wrong-ca", "stall-ms", NULL};
    if (mj_only_keys(f, keys, "faults", err, cap) < 0 ||
        parse_bool(f, "reject-secret", "faults", &c->faults.reject_secret, err, cap) < 0 ||
        parse_bool(f, "wrong-ca", "faults", &c->faults.wrong_ca, err, cap) < 0 ||
        mj_uint(f, "stall-ms", 0, 600000, "faults", &c->faults.stall_ms, err, cap) < 0)
        return -1;
    return 0;
}

static int parse_root(json_t *root, enum cond_role role, struct cond_config *c, char *err, size_t cap)
{
    static const char *const keys[] = {"psk-ttl",  "session-ttl", "max-failures", "lockout-seconds",
                                       "ca-cert",  "ca-key",      "cert-days",    "routers",
                                       "production", "svr",       "faults",       NULL};
    static const char *const staging_only[] = {"ca-cert", "ca-key", "cert-days", "production", "svr", NULL};
    if (mj_only_keys(root, keys, "config", err, cap) < 0)
        return -1;
    if (role == COND_PRODUCTION)
        for (size_t i = 0; staging_only[i]; i++)
            if (json_object_get(root, staging_only[i]))
                return errf(err, cap, "config: \"%s\" is for --role staging only", staging_only[i]);
    if (mj_uint(root, "psk-ttl", 1, 3600, "config", &c->psk_ttl, err, cap) < 0 ||
        mj_uint(root, "session-ttl", 1, 86400, "config", &c->session_ttl, err, cap) < 0 ||
        mj_uint(root, "max-failures", 1, 1000, "config", &c->max_failures, err, cap) < 0 ||
        mj_uint(root, "lockout-seconds", 1, 86400, "config", &c->lockout_seconds, err, cap) < 0 ||
        mj_uint(root, "cert-days", 1, 3650, "config", &c->cert_days, err, cap) < 0)
        return -1;
    json_t *routers, *prod, *svr, *faults;
    if (obj_member(root, "routers", "config", true, &routers, err, cap) < 0 || parse_routers(routers, c, err, cap) < 0)
        return -1;
    if (obj_member(root, "faults", "config", false, &faults, err, cap) < 0 ||
        (faults && parse_faults(faults, c, err, cap) < 0))
        return -1;
    if (role == COND_PRODUCTION)
        return 0;
    if (mj_string(root, "ca-cert", true, "config", &c->ca_cert, err, cap) < 0 ||
        mj_string(root, "ca-key", true, "config", &c->ca_key, err, cap) < 0)
        return -1;
    if (!*c->ca_cert || !*c->ca_key)
        return errf(err, cap, "config: \"ca-cert\" and \"ca-key\" must name files");
    if (obj_member(root, "production", "config", true, &prod, err, cap) < 0 || parse_production(prod, c, err, cap) < 0 ||
        obj_member(root, "svr", "config", true, &svr, err, cap) < 0 || parse_svr(svr, c, err, cap) < 0)
        return -1;
    return 0;
}

static void free_parts(struct cond_config *c)
{
    for (size_t i = 0; i < c->n_routers; i++) {
        if (c->routers[i].psk)
            OPENSSL_cleanse((void *)(uintptr_t)c->routers[i].psk, c->routers[i].psk_len);
        free(c->routers[i].nodes);
    }
    if (c->prod_psk)
        OPENSSL_cleanse((void *)(uintptr_t)c->prod_psk, strlen(c->prod_psk));
    free(c->routers);
    json_decref(c->root);
    memset(c, 0, sizeof *c);
}

int cond_config_parse(const char *buf, size_t len, enum cond_role role, struct cond_config *c, char *err, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->psk_ttl = 30;
    c->session_ttl = 300;
    c->max_failures = 5;
    c->lockout_seconds = 60;
    c->cert_days = PKI_DEFAULT_DAYS;
    c->root = mj_load_object(buf, len, err, cap);
    if (!c->root)
        return -1;
    if (parse_root(c->root, role, c, err, cap) < 0) {
        free_parts(c);
        return -1;
    }
    return 0;
}

void cond_config_free(struct cond_config *c)
{
    free_parts(c);
}

const struct cond_router *cond_router_find(const struct cond_config *c, const char *router)
{
    for (size_t i = 0; i < c->n_routers; i++)
        if (strcmp(c->routers[i].name, router) == 0)
            return &c->routers[i];
    return NULL;
}

const struct cond_node *cond_node_find(const struct cond_router *r, const char *node)
{
    for (size_t i = 0; r && i < r->n_nodes; i++)
        if (strcmp(r->nodes[i].name, node) == 0)
            return &r->nodes[i];
    return NULL;
}

size_t cond_config_nodes(const struct cond_config *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_routers; i++)
        n += c->routers[i].n_nodes;
    return n;
}
