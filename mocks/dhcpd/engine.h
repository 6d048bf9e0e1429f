/* mock-dhcpd engine: the server's decisions, no I/O.
 *
 * Given a parsed request, the pool it belongs to and the lease table, dhcpd_engine_handle() decides the
 * reply (OFFER, ACK, NAK or none), fills the reply message and says where it must be sent
 * (RFC 2131 4.1). The frontend (main.c) only moves bytes, logs and persists the table. */
#ifndef MOCK_DHCPD_ENGINE_H
#define MOCK_DHCPD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "leases.h"
#include "ztp/dhcp.h"

enum dhcpd_reply { DHCPD_NONE, DHCPD_OFFER, DHCPD_ACK, DHCPD_NAK };
const char *dhcpd_engine_reply_name(enum dhcpd_reply r); /* "none", "OFFER", "ACK", "NAK" */

/* What happened to Option 43 in the reply, for the exchange log. */
enum dhcpd_opt43 {
    DHCPD_OPT43_NONE,          /* no reply, or a NAK */
    DHCPD_OPT43_SENT,          /* sub-option 128 sent */
    DHCPD_OPT43_NO_PROXY,      /* the pool has no "proxy" */
    DHCPD_OPT43_NO_CLASS,      /* the client sent no Option 60 */
    DHCPD_OPT43_MISMATCH,      /* Option 60 differs from the pool's vendor_class */
    DHCPD_OPT43_NOT_REQUESTED, /* class matches but 43 is not in Option 55 (and option43_always is off) */
};
const char *dhcpd_engine_opt43_name(enum dhcpd_opt43 o);

struct dhcpd_result {
    enum dhcpd_reply reply;
    bool drop;                 /* no reply because the request cannot be served (vs. by protocol) */
    const char *kind;          /* "selecting", "init-reboot", "renewing", ... or the message name */
    const char *reason;        /* short static text: why a NAK or no reply, or what was done */
    enum dhcpd_opt43 opt43;
    struct in_addr dst;        /* where to send the reply */
    uint16_t dport;
    bool broadcast;            /* dst is 255.255.255.255 on the receiving interface */
    bool to_chaddr;            /* dst is yiaddr, which the client does not hold yet: the frame goes to
                                  chaddr (the sender installs that neighbour entry first) */
};

/* The pool for a request: giaddr set -> the pool whose subnet contains giaddr (relay pools first);
 * else the pool of the receiving interface `ifname` (may be NULL); else, ciaddr set (a relayed
 * client renewing by unicast) -> the pool whose subnet contains ciaddr. NULL when none. */
const struct dhcpd_pool *dhcpd_engine_select_pool(const struct dhcpd_config *cfg, const char *ifname,
                                            const struct dhcp_msg *req);

/* Decide and build the reply. `pool` may be NULL (then the request is dropped). `now` is wall
 * clock seconds. Changes to the lease table set lt->dirty. Always fills *res; *reply is filled
 * when res->reply != DHCPD_NONE. */
void dhcpd_engine_handle(const struct dhcpd_config *cfg, const struct dhcpd_pool *pool, struct dhcpd_lease_table *lt,
                   int64_t now, const struct dhcp_msg *req, struct dhcp_msg *reply, struct dhcpd_result *res);

#endif
