/* libFuzzer harness for the Hardware Bootstrapper onboarding.json parser (router/onboarding.c):
 * onboarding_parse() over exactly (data, size), copied into a malloc'd buffer of that size so
 * ASan catches any read past the end (the parser must not need a NUL). Properties checked:
 *   - a refusal has a non-empty, NUL-terminated reason, also with a tiny error buffer;
 *   - an accepted file has NUL-terminated strings, a known mode, counts within their arrays, a
 *     proxy (when present) with a non-zero port, and parsing it again gives the same struct. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onboarding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct onboarding_info o, again;
    char err[256], tiny[8];
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);

    int r = onboarding_parse(buf, size, &o, err, sizeof err);
    if (r != 0 && r != -1)
        abort();
    if (r < 0) {
        if (strnlen(err, sizeof err) == 0 || strnlen(err, sizeof err) >= sizeof err)
            abort();
        if (onboarding_parse(buf, size, &again, tiny, sizeof tiny) != -1 || strnlen(tiny, sizeof tiny) >= sizeof tiny)
            abort();
        free(buf);
        return 0;
    }
    check_str(o.name, sizeof o.name);
    check_str(o.registration_code, sizeof o.registration_code);
    check_str(o.asset_id, sizeof o.asset_id);
    check_str(o.node_name, sizeof o.node_name);
    if (o.n_conductor_hosts > ONB_MAX_CONDUCTORS || o.n_warnings > ONB_MAX_WARNINGS ||
        (o.mode != ONB_MODE_CONDUCTOR_MANAGED && o.mode != ONB_MODE_MIST_MANAGED) ||
        !onboarding_mode_name(o.mode) || (o.have_proxy && (o.proxy_port == 0 || o.proxy_addr.s_addr == 0)))
        abort();
    for (size_t i = 0; i < o.n_conductor_hosts; i++)
        check_str(o.conductor_hosts[i], sizeof o.conductor_hosts[i]);
    for (size_t i = 0; i < o.n_warnings; i++)
        check_str(o.warnings[i], sizeof o.warnings[i]);
    if (onboarding_parse(buf, size, &again, err, sizeof err) != 0 || memcmp(&o, &again, sizeof o) != 0)
        abort();
    free(buf);
    return 0;
}
