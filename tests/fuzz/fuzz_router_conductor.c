/* libFuzzer harness for every JSON body the router's conductor client parses (router/conductor.h)
 * and the hub's lines (router/svr.h): the conductor's challenge, auth, task, CSR and ack answers and
 * error bodies, the persisted conductor.json, the hub's answer and keepalive lines. Properties checked
 * (abort on violation): output strings are NUL-terminated inside their buffers; an accepted task of
 * a known kind holds what its kind requires (addresses that parse, a psk of its length, PEM text,
 * svr names); an accepted conductor.json serializes and parses back to the same state, names,
 * addresses and history length; a rejected task leaves no allocation behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor.h"
#include "svr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nul_inside(const char *s, size_t cap)
{
    if (!memchr(s, 0, cap))
        abort();
}

static void addrs_ok(const struct cond_addrs *a)
{
    char h[COND_ADDR_MAX];
    uint16_t port;
    if (a->n > COND_MAX_ADDRS)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (cond_addr_parse(a->a[i], h, sizeof h, &port) != 0 || port == 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char err[256], e[48], d[160], next[32], serial[COND_SERIAL_MAX];

    static struct cond_challenge ch;
    if (cond_parse_challenge(buf, size, &ch, err, sizeof err) == 0) {
        nul_inside(ch.id, sizeof ch.id);
        if (strlen(ch.nonce) != PSK_NONCE_HEX)
            abort();
    } else {
        nul_inside(err, sizeof err);
    }
    static struct cond_auth au;
    if (cond_parse_auth(buf, size, &au, err, sizeof err) == 0) {
        nul_inside(au.session, sizeof au.session);
        nul_inside(au.server_mac, sizeof au.server_mac);
        if (!au.session[0] || strchr(au.session, ' '))
            abort();
    } else if (au.session[0]) {
        abort(); /* a refused answer leaves no session behind */
    }
    static struct cond_task t;
    if (cond_parse_task(buf, size, &t, err, sizeof err) == 0) {
        nul_inside(t.name, sizeof t.name);
        switch (t.kind) {
        case TASK_PRODUCTION:
            addrs_ok(&t.conductors);
            if (!t.conductors.n || !t.psk_len || t.psk_len != strlen(t.psk) || !t.root_ca_pem ||
                !strstr(t.root_ca_pem, "-----BEGIN CERTIFICATE-----"))
                abort();
            break;
        case TASK_MIGRATE:
            addrs_ok(&t.conductors);
            break;
        case TASK_SVR_CONFIG:
            if (!psk_name_ok(t.svr.hub_name) || !psk_name_ok(t.svr.router) || !psk_name_ok(t.svr.node))
                abort();
            break;
        case TASK_GENERATE_KEY:
            nul_inside(t.key_type, sizeof t.key_type);
            nul_inside(t.identity, sizeof t.identity);
            break;
        default:
            break;
        }
        cond_task_clear(&t);
    } else if (t.root_ca_pem || t.psk[0]) {
        abort();
    }
    char *cert = NULL, *ca = NULL;
    if (cond_parse_csr_answer(buf, size, &cert, &ca, serial, sizeof serial, err, sizeof err) == 0) {
        if (!cert || !ca)
            abort();
        nul_inside(serial, sizeof serial);
        free(cert);
        free(ca);
    } else if (cert || ca) {
        abort();
    }
    if (cond_parse_ack_answer(buf, size, next, sizeof next, err, sizeof err) == 0)
        nul_inside(next, sizeof next);
    cond_body_error(buf, size, e, sizeof e, d, sizeof d);
    nul_inside(e, sizeof e);
    nul_inside(d, sizeof d);

    static struct cond_persist p, q;
    if (cond_persist_parse(buf, size, &p, err, sizeof err) == 0) {
        addrs_ok(&p.production);
        addrs_ok(&p.target);
        json_t *o = cond_persist_to_json(&p);
        char *s = json_dumps(o, 0);
        json_decref(o);
        if (!s || cond_persist_parse(s, strlen(s), &q, err, sizeof err) != 0 || q.state != p.state ||
            strcmp(q.router, p.router) != 0 || strcmp(q.node, p.node) != 0 || strcmp(q.staging, p.staging) != 0 ||
            q.production.n != p.production.n || q.target.n != p.target.n || q.n_hist != p.n_hist ||
            q.have_svr != p.have_svr)
            abort();
        free(s);
    }

    static struct svr_answer a;
    if (svr_parse_answer(buf, size, &a, err, sizeof err) == 0) {
        nul_inside(a.hub, sizeof a.hub);
        nul_inside(a.peer, sizeof a.peer);
        nul_inside(a.reason, sizeof a.reason);
    }
    long long n;
    (void)svr_parse_keepalive(buf, size, &n);
    return 0;
}
