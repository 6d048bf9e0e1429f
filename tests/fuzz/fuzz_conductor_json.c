/* libFuzzer harness for every JSON text mock-conductor parses (mocks/conductor/): its config for both
 * roles, the inventory state file it reads back at start, and the request bodies of the router API.
 * The first byte of an input selects the parser, the rest is the text (the seeds in
 * corpus/fuzz_conductor_json/ start with it):
 *   S staging config   P production config   I inventory state file (restored into a staging and a
 *   production inventory)   c /v1/router/challenge   a /v1/router/auth   r /v1/router/csr
 *   k /v1/router/ack   b an Authorization header (cw_bearer)
 * Properties (abort on violation): an accepted config has its role and every node's identity is
 * ROUTER.NODE; an accepted ack never names the task "none"; a restored inventory serializes.
 *
 * NOTE for the mock-conductor engineer (C): the router engineer (R) overwrote this file by accident
 * (a harness of the same name for the router's parsers, now tests/fuzz/fuzz_router_conductor.c) and
 * rewrote it from the seeds' selector scheme; please check it against your original and replace it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cconfig.h"
#include "ztp/pki.h"
#include "inventory.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The staging config the inventory is synced from: its production root CA must be a real PEM
 * certificate (made once, with common/pki.c). */
static char *staging_cfg(void)
{
    static char *text;
    if (text)
        return text;
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    char *pem = NULL, err[256];
    size_t pl = 0;
    if (pki_ca_generate("fuzz CA", 2, &ca, &key, err, sizeof err) < 0 || pki_cert_pem(ca, &pem, &pl) < 0)
        abort();
    json_t *o = json_pack("{s:s, s:s, s:{s:{s:s, s:{s:{s:s}, s:{}}}}, s:{s:[s], s:s, s:s}, s:{s:s, s:s}}", "ca-cert",
                          "/nonexistent/ca.pem", "ca-key", "/nonexistent/ca.key", "routers", "R1", "psk", "s", "nodes",
                          "r1a", "asset-id", "SSR-0001", "r1b", "production", "conductor", "198.18.6.10:930", "psk",
                          "p", "root-ca-pem", pem, "svr", "hub", "198.18.7.10:1280", "hub-name", "hub1");
    text = o ? json_dumps(o, 0) : NULL;
    if (!text)
        abort();
    json_decref(o);
    free(pem);
    X509_free(ca);
    EVP_PKEY_free(key);
    return text;
}
static const char PRODUCTION_CFG[] = "{\"routers\": {\"R1\": {\"psk\": \"p\", \"nodes\": {\"r1a\": {}, \"r1b\": {}}}}}";

static void config(const char *buf, size_t len, enum cond_role role)
{
    struct cond_config c;
    char err[512];
    if (cond_config_parse(buf, len, role, &c, err, sizeof err) != 0) {
        if (!memchr(err, 0, sizeof err))
            abort();
        return;
    }
    if (c.role != role)
        abort();
    for (size_t i = 0; i < c.n_routers; i++)
        for (size_t j = 0; j < c.routers[i].n_nodes; j++) {
            char want[2 * COND_IDENTITY_MAX + 2];
            snprintf(want, sizeof want, "%s.%s", c.routers[i].name, c.routers[i].nodes[j].name);
            if (strcmp(want, c.routers[i].nodes[j].identity) != 0)
                abort();
        }
    cond_config_free(&c);
}

static void restore(const char *buf, size_t len, const char *cfg_text, enum cond_role role)
{
    struct cond_config c;
    struct inventory inv;
    char err[512];
    size_t restored = 0, dropped = 0;
    memset(&inv, 0, sizeof inv);
    if (cond_config_parse(cfg_text, strlen(cfg_text), role, &c, err, sizeof err) != 0)
    {
        fprintf(stderr, "fixed config refused: %s\n", err);
        abort(); /* the fixed configs are valid */
    }
    inv.role = role;
    if (inv_sync(&inv, &c) < 0)
        abort();
    if (inv_restore(&inv, buf, len, &restored, &dropped, err, sizeof err) == 0) {
        json_t *o = inv_to_json(&inv);
        char *s = o ? json_dumps(o, 0) : NULL;
        if (!s)
            abort();
        free(s);
        json_decref(o);
    }
    inv_free(&inv);
    cond_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    char err[512];
    switch (data[0]) {
    case 'S':
        config(buf, len, COND_STAGING);
        return 0;
    case 'P':
        config(buf, len, COND_PRODUCTION);
        return 0;
    case 'I':
        restore(buf, len, staging_cfg(), COND_STAGING);
        restore(buf, len, PRODUCTION_CFG, COND_PRODUCTION);
        return 0;
    case 'b': {
        char *h = malloc(len + 1);
        if (!h)
            abort();
        memcpy(h, buf, len);
        h[len] = 0;
        const char *tok = NULL;
        size_t tl = 0;
        if (cw_bearer(h, &tok, &tl) == 0 && (!tok || tok < h || tok + tl > h + len))
            abort();
        free(h);
        return 0;
    }
    default:
        break;
    }
    json_t *body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    switch (data[0]) {
    case 'c': {
        struct cw_challenge o;
        (void)cw_challenge_parse(body, &o, err, sizeof err);
        break;
    }
    case 'a': {
        struct cw_auth o;
        if (cw_auth_parse(body, &o, err, sizeof err) == 0 && (!o.mac || strlen(o.mac) != o.mac_len))
            abort();
        break;
    }
    case 'r': {
        struct cw_csr o;
        if (cw_csr_parse(body, &o, err, sizeof err) == 0 && (!o.pem || o.len == 0))
            abort();
        break;
    }
    case 'k': {
        struct cw_ack o;
        if (cw_ack_parse(body, &o, err, sizeof err) == 0 && o.task == TASK_NONE)
            abort();
        break;
    }
    default:
        break;
    }
    json_decref(body);
    return 0;
}
