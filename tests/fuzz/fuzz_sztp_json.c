/* libFuzzer harness for every JSON body the router's sZTP client parses (router/sztp.h): the
 * EP terminator's redirect, mock-mist's challenge, session and onboarding answers, error bodies,
 * and the persisted sztp.json. Properties checked (abort on violation): every output string is
 * NUL-terminated inside its buffer; an accepted redirect is an https URL; an accepted sztp.json
 * serializes and parses back to the same state, device id and history length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sztp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nul_inside(const char *s, size_t cap)
{
    if (!memchr(s, 0, cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char err[256], red[SZTP_URL_MAX], env[64], org[64], sess[160], srv[OCRA_RESPONSE_MAX + 2], e[48];
    if (sztp_parse_redirect(buf, size, red, sizeof red, env, sizeof env, org, sizeof org, err, sizeof err) == 0) {
        nul_inside(red, sizeof red);
        if (strncmp(red, "https://", 8) != 0)
            abort();
    } else {
        nul_inside(err, sizeof err);
    }
    static struct sztp_challenge c;
    if (sztp_parse_challenge(buf, size, &c, err, sizeof err) == 0) {
        nul_inside(c.challenge, sizeof c.challenge);
        nul_inside(c.suite, sizeof c.suite);
        nul_inside(c.id, sizeof c.id);
    }
    if (sztp_parse_session(buf, size, sess, sizeof sess, srv, sizeof srv, err, sizeof err) == 0 && !sess[0])
        abort();
    static struct sztp_onboarding ob;
    if (sztp_parse_onboarding(buf, size, &ob, err, sizeof err) == 0) {
        if (ob.psk_len == 0 || ob.psk_len != strlen(ob.psk))
            abort();
        sztp_onboarding_clear(&ob);
    }
    sztp_body_error(buf, size, e, sizeof e);
    nul_inside(e, sizeof e);

    static struct sztp_persist p, q;
    if (sztp_persist_parse(buf, size, &p, err, sizeof err) == 0) {
        json_t *o = sztp_persist_to_json(&p);
        char *s = json_dumps(o, 0);
        json_decref(o);
        if (!s || sztp_persist_parse(s, strlen(s), &q, err, sizeof err) != 0 || q.state != p.state ||
            strcmp(q.device_id, p.device_id) != 0 || q.n_hist != p.n_hist)
            abort();
        free(s);
    }
    return 0;
}
