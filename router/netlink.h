/* Minimal rtnetlink (libmnl) for the DHCP client: IPv4 address and default route on one interface.
 *
 * Each call opens a NETLINK_ROUTE socket in the current network namespace, sends one request with
 * NLM_F_ACK, waits for the kernel's answer and closes the socket: synchronous, short, no state.
 * All functions return 0 or -errno (never fatal; the caller logs).
 */
#ifndef SSR_NETLINK_H
#define SSR_NETLINK_H

#include <netinet/in.h>
#include <stdint.h>

/* Add or replace `addr`/`prefixlen` on `ifindex` (with the subnet's broadcast address). */
int netlink_addr4_replace(int ifindex, struct in_addr addr, uint8_t prefixlen);
/* Delete `addr`/`prefixlen` from `ifindex`; -EADDRNOTAVAIL when it is not there. */
int netlink_addr4_delete(int ifindex, struct in_addr addr, uint8_t prefixlen);

/* Add or replace the default route (main table, proto dhcp) via `gw` out of `ifindex` with
 * priority `metric`; routes with other metrics (other DHCP interfaces) are left alone. When `gw`
 * is outside the interface's subnets the kernel refuses it (-ENETUNREACH): pass `onlink` = 1 to
 * add it with RTNH_F_ONLINK. */
int netlink_route4_default_replace(int ifindex, struct in_addr gw, uint32_t metric, int onlink);
/* Delete that default route; -ESRCH when it is not there. */
int netlink_route4_default_delete(int ifindex, struct in_addr gw, uint32_t metric);

#endif
