/* libFuzzer harness for the lines mock-hub reads from the network (mocks/hub/hubcore.h): the hello
 * line, the peering decision it feeds, and the keepalive lines after peering. The input is copied to
 * a heap buffer of exactly its size, so ASan catches any read past len. Properties checked (abort
 * on violation): an accepted hello's names are valid names (psk_name_ok), NUL-terminated in their
 * buffers, and a hello longer than 1024 bytes is never accepted; the decision accepts only when the
 * certificate identity is router.node of a configured peer and the hub is this one, and then names
 * that peer; an accepted keepalive is >= 0 and its echo parses back to the same number. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubcore.h"
#include "ident.h"
#include "ztp/psk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hub_config cfg;

static void nul_inside(const char *s, size_t cap)
{
    if (!memchr(s, 0, cap))
        abort();
}

static void check_decision(const struct hub_hello *h, const char *cert_id)
{
    const struct hub_peer *p = NULL;
    char detail[400];
    enum hub_reason r = hub_decide(&cfg, cert_id, h, &p, detail, sizeof detail);
    nul_inside(detail, sizeof detail);
    if (r != HUB_OK) {
        if (p)
            abort();
        return;
    }
    if (!p || strcmp(p->router, h->router) != 0 || strcmp(p->node, h->node) != 0 ||
        strcmp(p->identity, cert_id) != 0 || strcmp(h->hub, cfg.hub_name) != 0)
        abort();
    char line[256];
    if (hub_answer_peered(cfg.hub_name, p->identity, line, sizeof line) <= 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg.n_peers) {
        static const char c[] = "{\"hub-name\":\"hub1\",\"peers\":{\"R1.r1a\":{\"router\":\"R1\",\"node\":\"r1a\"},"
                                "\"R1.a.b\":{\"router\":\"R1\",\"node\":\"a.b\"}}}";
        char err[200];
        if (hub_config_parse(c, sizeof c - 1, &cfg, err, sizeof err) != 0)
            abort();
    }
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char err[300];
    struct hub_hello h;
    if (hub_hello_parse(buf, size, &h, err, sizeof err) == 0) {
        if (size > HUB_LINE_MAX)
            abort();
        nul_inside(h.router, sizeof h.router);
        nul_inside(h.node, sizeof h.node);
        nul_inside(h.hub, sizeof h.hub);
        if (!psk_name_ok(h.router) || !psk_name_ok(h.node) || !psk_name_ok(h.hub))
            abort();
        check_decision(&h, "R1.r1a");
        check_decision(&h, "R1.a.b");
        check_decision(&h, NULL);
        char id[PKI_IDENTITY_MAX];
        if (hub_make_identity(h.router, h.node, id, sizeof id) == 0)
            check_decision(&h, id);
    } else {
        nul_inside(err, sizeof err);
    }
    long long n;
    if (hub_keepalive_parse(buf, size, &n, err, sizeof err) == 0) {
        char echo[64];
        long long back = -1;
        int l = hub_answer_keepalive(n, echo, sizeof echo);
        if (n < 0 || l <= 1 || echo[l - 1] != '\n' ||
            hub_keepalive_parse(echo, (size_t)l - 1, &back, err, sizeof err) != 0 || back != n)
            abort();
    }
    free(buf);
    return 0;
}
