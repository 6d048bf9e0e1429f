/* libFuzzer harness for the HA sync datagram codec (router/ha.c): ha_decode() on every input.
 * Properties checked (abort on violation):
 *   - a refused datagram always has a reason, and its message carries no entries;
 *   - a decoded message is valid: names pass ha_name_ok(), n <= HA_MAX_ENTRIES, ports non-zero,
 *     no 0.0.0.0 address, strings NUL-terminated inside their arrays;
 *   - it re-encodes (ha_encode) and the encoding decodes back to the same struct; when the
 *     encoding fits in a datagram, encoding again gives the same bytes (deterministic). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ha_msg m, again;
    static char enc[64 * 1024], enc2[64 * 1024];
    const char *why = NULL;

    if (ha_decode(data, size, &m, &why) < 0) {
        if (!why || !*why || m.n != 0)
            abort();
        return 0;
    }
    if (!ha_name_ok(m.router, strlen(m.router)) || !ha_name_ok(m.node, strlen(m.node)) || m.n > HA_MAX_ENTRIES)
        abort();
    for (size_t i = 0; i < m.n; i++) {
        const struct ha_entry *e = &m.e[i];
        check_str(e->netif, sizeof e->netif);
        check_str(e->device, sizeof e->device);
        check_str(e->ifname, sizeof e->ifname);
        check_str(e->lease, sizeof e->lease);
        if (!ha_name_ok(e->netif, strlen(e->netif)) || e->port == 0 || e->addr.s_addr == 0 ||
            e->lease_remaining > HA_MAX_LEASE_S)
            abort();
    }

    /* Round trip. The encoding may exceed HA_MAX_DATAGRAM (empty optional members are written
     * out), so encode into a large buffer. */
    ssize_t n = ha_encode(&m, enc, sizeof enc);
    if (n <= 0)
        abort();
    if ((size_t)n <= HA_MAX_DATAGRAM) {
        why = NULL;
        if (ha_decode(enc, (size_t)n, &again, &why) != 0 || memcmp(&m, &again, sizeof m) != 0)
            abort();
        ssize_t n2 = ha_encode(&again, enc2, sizeof enc2);
        if (n2 != n || memcmp(enc, enc2, (size_t)n) != 0)
            abort();
    }
    /* Too small a buffer is refused, never overrun (ASan checks the bound). */
    if (n > 1) {
        char *small = malloc((size_t)n - 1);
        if (!small || ha_encode(&m, small, (size_t)n - 1) != -1)
            abort();
        free(small);
    }
    return 0;
}
