/* libFuzzer harness for the DHCP codec: dhcp_parse, the Option 43 sub-option walk, the proxy
 * address parser and the AF_PACKET frame parser. Whatever parses must build again and parse to the
 * same presence bits (round-trip property). */
#include "ztp/dhcp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dhcp_msg m, again;
    uint8_t out[DHCP_MAX_LEN + 512];
    struct udp4_frame f;

    if (udp4_frame_parse(data, size, size & 1 ? UDP4_NO_UDP_CSUM : 0, &f) == 0 && f.payload_len <= size)
        (void)dhcp_parse(f.payload, f.payload_len, &m);

    if (dhcp_parse(data, size, &m) == 0) {
        const uint8_t *d;
        uint8_t dl;
        if (dhcp_vendor_find(m.vendor_opts, m.vendor_opts_len, DHCP_SUBOPT_PROXY, &d, &dl) == 0) {
            struct in_addr a;
            uint16_t port;
            (void)proxy_addr_parse((const char *)d, dl, &a, &port, NULL);
        }
        if (m.hlen <= 16) {
            ssize_t n = dhcp_build(&m, out, sizeof out, 0);
            if (n > 0) {
                if (dhcp_parse(out, (size_t)n, &again) != 0)
                    abort();
                /* hostname/message with embedded NULs shrink; everything else must round-trip. */
                if (again.xid != m.xid || again.msg_type != m.msg_type || again.vendor_opts_len != m.vendor_opts_len ||
                    memcmp(again.vendor_opts, m.vendor_opts, m.vendor_opts_len) != 0)
                    abort();
            }
        }
    }
    (void)proxy_addr_parse((const char *)data, size, NULL, NULL, NULL);
    return 0;
}
