/* libFuzzer harness for the router configuration parser (router/config.c): router_config_parse()
 * over exactly (data, size), copied into a malloc'd buffer of that size so ASan catches any read
 * past the end (the input need not be NUL-terminated). Properties checked:
 *   - a refusal has a non-empty, NUL-terminated reason starting "line N: " (N >= 1), also
 *     NUL-terminated with a tiny error buffer;
 *   - an accepted config has NUL-terminated names, counts within their arrays, a complete proxy
 *     (address and port) for every proxy, and parsing again gives the same struct. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct router_config c, again;
    char err[256], tiny[6];
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);

    int r = router_config_parse(buf, size, &c, err, sizeof err);
    if (r != 0 && r != -1)
        abort();
    if (r < 0) {
        unsigned line = 0;
        if (strnlen(err, sizeof err) == 0 || strnlen(err, sizeof err) >= sizeof err ||
            sscanf(err, "line %u: ", &line) != 1 || line == 0)
            abort();
        if (router_config_parse(buf, size, &again, tiny, sizeof tiny) != -1 || strnlen(tiny, sizeof tiny) >= sizeof tiny)
            abort();
        free(buf);
        return 0;
    }
    check_str(c.router, sizeof c.router);
    check_str(c.proxy_user, sizeof c.proxy_user);
    check_str(c.proxy_pass, sizeof c.proxy_pass);
    if (c.n_proxies > RCFG_MAX_PROXIES || c.n_nodes > RCFG_MAX_NODES || c.n_devifs > RCFG_MAX_DEVIFS ||
        c.n_netifs > RCFG_MAX_NETIFS || c.n_overrides > RCFG_MAX_OVERRIDES ||
        (c.mode != MGMT_PROXY_LEARNED && c.mode != MGMT_PROXY_STATIC) || !mgmt_proxy_mode_name(c.mode))
        abort();
    for (size_t i = 0; i < c.n_proxies; i++) {
        check_str(c.proxies[i].name, sizeof c.proxies[i].name);
        if (!c.proxies[i].have_addr || !c.proxies[i].have_port || c.proxies[i].port == 0)
            abort();
    }
    for (size_t i = 0; i < c.n_nodes; i++)
        check_str(c.nodes[i], sizeof c.nodes[i]);
    for (size_t i = 0; i < c.n_devifs; i++) {
        check_str(c.devifs[i].node, sizeof c.devifs[i].node);
        check_str(c.devifs[i].name, sizeof c.devifs[i].name);
        check_str(c.devifs[i].ifname, sizeof c.devifs[i].ifname);
    }
    for (size_t i = 0; i < c.n_netifs; i++) {
        check_str(c.netifs[i].node, sizeof c.netifs[i].node);
        check_str(c.netifs[i].devif, sizeof c.netifs[i].devif);
        check_str(c.netifs[i].name, sizeof c.netifs[i].name);
        check_str(c.netifs[i].ifname, sizeof c.netifs[i].ifname);
    }
    for (size_t i = 0; i < c.n_overrides; i++)
        check_str(c.overrides[i].name, sizeof c.overrides[i].name);
    if (router_config_parse(buf, size, &again, err, sizeof err) != 0 || memcmp(&c, &again, sizeof c) != 0)
        abort();
    free(buf);
    return 0;
}
