/* DHCP client I/O for one interface: sockets, frames, timers glue around the engine (dhcpc.h).
 *
 * Receive: one AF_PACKET SOCK_RAW socket bound to ETH_P_IP on the interface, with a classic BPF
 * filter (SO_ATTACH_FILTER) passing only unfragmented IPv4/UDP to port 68, so it works before the
 * interface has an address and does not wake for other traffic. Frames are decoded with
 * udp4_frame_parse() + dhcp_parse(); bad frames/packets are logged (quoted, truncated) and dropped.
 * PACKET_AUXDATA is enabled: a frame the kernel marks TP_STATUS_CSUMNOTREADY (checksum offload on
 * veth or a local sender: the UDP checksum was never filled in) has its UDP checksum treated as
 * absent, as dhclient and udhcpc do; the IP header checksum is still verified.
 *
 * Send:
 *   - broadcast (DISCOVER, REQUEST in SELECTING/REQUESTING/REBINDING): through the packet socket,
 *     Ethernet to ff:ff:ff:ff:ff:ff, IPv4 from m->ciaddr (0.0.0.0 before a lease) port 68 to
 *     255.255.255.255:67, tos 0, ttl 128, id 0, DF clear, payload padded to DHCPC_PAD_TO bytes,
 *     built with udp4_frame_build() + dhcp_build().
 *   - unicast (REQUEST in RENEWING, RELEASE): through a normal UDP socket bound to 0.0.0.0:68 on
 *     the interface (SO_BINDTODEVICE, SO_REUSEADDR), sendto(server:67); the kernel resolves the
 *     server's MAC and the source is the leased address. This socket also keeps the kernel from
 *     answering unicast replies with ICMP port-unreachable; replies are read from the packet
 *     socket, and the UDP socket is drained (discarded) whenever the packet socket is read.
 *
 * On bound, when `apply` is set, the address/prefix and the default route via the lease's router
 * (metric `route_metric`, so several DHCP interfaces coexist) are applied with netlink.h (replacing
 * the previous lease's when it differs), then the daemon's bound() callback runs. On unbound the
 * route and address are removed, then unbound() runs. Netlink errors are logged, never fatal.
 *
 * Event-loop use (no threads):
 *   dhcpc_io_open(&io, &cfg, &ops, arg);   epoll_ctl(ADD, dhcpc_io_fd(io), EPOLLIN)
 *   dhcpc_io_start(io, dhcpc_now_ms());
 *   loop: timeout = dhcpc_timeout_ms(dhcpc_io_next_timeout(io), dhcpc_now_ms()) (min over all)
 *         on EPOLLIN:  dhcpc_io_readable(io, dhcpc_now_ms());
 *         always after epoll_wait returns: dhcpc_io_timeout(io, dhcpc_now_ms());
 *   dhcpc_io_close(io, false);
 */
#ifndef SSR_DHCPC_IO_H
#define SSR_DHCPC_IO_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "dhcpc.h"

struct dhcpc_io;

struct dhcpc_io_config {
    char ifname[IF_NAMESIZE];       /* the interface (must exist; it may have no address) */
    char vendor_class[64];          /* option 60; "" = "JuniperSSR" */
    bool apply;                     /* configure address + default route with netlink on bound */
    uint32_t route_metric;          /* default route metric; 0 = DHCPC_IO_METRIC_BASE + ifindex */
};
#define DHCPC_IO_METRIC_BASE 100u

struct dhcpc_io_ops {
    /* A lease was acquired or renewed (every ACK), after address/route were applied. Hand
     * lease->vendor_opts/vendor_opts_len (when have_vendor_opts) to proxysel_learn(). `prev` as
     * in struct dhcpc_ops. */
    void (*bound)(struct dhcpc_io *io, const struct dhcpc_lease *lease, const struct dhcpc_lease *prev, void *arg);
    /* The lease is gone (expired, NAK, stopped), after address/route were removed. */
    void (*unbound)(struct dhcpc_io *io, const struct dhcpc_lease *lease, enum dhcpc_unbound_reason why, void *arg);
};

/* Open the sockets for cfg->ifname (reads its ifindex and MAC). Nothing is sent until
 * dhcpc_io_start(). `ops` may be NULL or have NULL members. Returns 0 and sets *out, or -errno
 * (logged): -ENODEV for an unknown interface, -EPERM without CAP_NET_RAW. */
int dhcpc_io_open(struct dhcpc_io **out, const struct dhcpc_io_config *cfg, const struct dhcpc_io_ops *ops, void *arg);
/* Stop the client and free everything. With `release`, a held lease is released (RELEASE sent,
 * address/route removed and unbound() called); without, the address and route stay configured
 * (like dhclient on exit) and no callback runs. NULL is accepted. */
void dhcpc_io_close(struct dhcpc_io *io, bool release);

/* Start the DHCP exchange (sends the first DISCOVER now). */
void dhcpc_io_start(struct dhcpc_io *io, uint64_t now);
/* The fd to watch for EPOLLIN (the packet socket). */
int dhcpc_io_fd(const struct dhcpc_io *io);
/* Read and process every frame queued on the socket (non-blocking), then drain the UDP socket. */
void dhcpc_io_readable(struct dhcpc_io *io, uint64_t now);
/* Run due timers (harmless when nothing is due). */
void dhcpc_io_timeout(struct dhcpc_io *io, uint64_t now);
/* Absolute monotonic ms of the next timer, or DHCPC_NEVER. */
uint64_t dhcpc_io_next_timeout(const struct dhcpc_io *io);

/* Accessors for show commands and the daemon. */
const char *dhcpc_io_ifname(const struct dhcpc_io *io);
int dhcpc_io_ifindex(const struct dhcpc_io *io);
enum dhcpc_state dhcpc_io_state(const struct dhcpc_io *io);
const struct dhcpc_lease *dhcpc_io_lease(const struct dhcpc_io *io); /* NULL when no lease held */
struct dhcpc *dhcpc_io_engine(struct dhcpc_io *io);

/* CLOCK_MONOTONIC in milliseconds: the time base of everything above. */
uint64_t dhcpc_now_ms(void);

#endif
