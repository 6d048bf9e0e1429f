/* mock-dhcpd configuration: a JSON file of pools (see README.md for the format).
 *
 * Parsing is a pure function over (text, len): it fills a struct dhcpd_config or returns -1 with
 * a one-line reason naming the key ("pools[0].range: start 198.18.1.20 is after end 198.18.1.10").
 * Unknown keys are errors. */
#ifndef MOCK_DHCPD_CONFIG_H
#define MOCK_DHCPD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ztp/dhcp.h"

#define DHCPD_DEFAULT_LEASE_TIME 6000u  /* the product doc's trace */
#define DHCPD_DEFAULT_DECLINE_TIME 600u
#define DHCPD_DEFAULT_OFFER_TIME 60u
#define DHCPD_MAX_POOL_SIZE 65536u
#define DHCPD_MAX_PROXY_LEN 252u        /* 128, len, value (, END) must fit Option 43's 255 bytes */

struct dhcpd_pool {
    char name[IFNAMSIZ + 16];      /* for logs: the interface name or "relay:A.B.C.D" */
    char ifname[IFNAMSIZ];         /* served interface ("" for a relay pool) */
    bool relayed;                  /* true: serves requests relayed from `relay` (giaddr) */
    struct in_addr relay;          /* the relay agent's address (giaddr) on the client subnet */
    struct in_addr server;         /* our address: Option 54 and the source of replies */
    struct in_addr start, end;     /* inclusive range */
    struct in_addr mask;           /* Option 1; also defines the pool's subnet */
    struct in_addr routers[DHCP_MAX_ADDRS]; uint8_t n_routers;
    struct in_addr dns[DHCP_MAX_ADDRS]; uint8_t n_dns;
    uint32_t lease_time;           /* Option 51 */
    uint32_t t1, t2;               /* Options 58/59 when have_t1/have_t2 */
    bool have_t1, have_t2;
    uint8_t vendor_class[255]; uint8_t vendor_class_len;   /* Option 60 value to match, exact bytes */
    char proxy[DHCPD_MAX_PROXY_LEN + 1];                   /* sub-option 128, sent verbatim */
    bool have_proxy;
    bool option43_end;             /* append END (255) inside Option 43, as dnsmasq does */
    bool option43_always;          /* send Option 43 on a class match even when 55 lacks 43 */
    bool echo_vendor_class;        /* echo the client's Option 60 in replies, as dnsmasq does */
    bool echo_client_id;           /* echo the client's Option 61 in replies (RFC 6842) */
};

struct dhcpd_config {
    struct dhcpd_pool *pools;
    size_t n_pools;
    char leases[4096];             /* lease file ("" = keep leases in memory only) */
    uint32_t decline_time;         /* seconds a DECLINEd address stays unusable */
    uint32_t offer_time;           /* seconds an OFFERed address stays reserved for the client */
    bool broadcast_replies;        /* OFFER/ACK to a client without an address always broadcast (RFC 2131
                                      4.1 allows it); default: unicast to yiaddr at chaddr unless the
                                      client set the broadcast flag, as the doc's trace shows */
};

/* Parse a JSON config. Returns 0, or -1 with `err` holding the reason. *out is zeroed first; on
 * success free it with dhcpd_config_free(). */
int dhcpd_config_parse(const char *text, size_t len, struct dhcpd_config *out, char *err, size_t errlen);
/* Read and parse a file (at most 1 MiB). Errors are prefixed with the path. */
int dhcpd_config_load(const char *path, struct dhcpd_config *out, char *err, size_t errlen);
void dhcpd_config_free(struct dhcpd_config *cfg);

/* The pool's subnet (start & mask) contains `a`. */
bool dhcpd_pool_in_subnet(const struct dhcpd_pool *p, struct in_addr a);
/* `a` lies inside [start, end]. */
bool dhcpd_pool_in_range(const struct dhcpd_pool *p, struct in_addr a);
/* Number of addresses in the range. */
uint32_t dhcpd_pool_size(const struct dhcpd_pool *p);

#endif
