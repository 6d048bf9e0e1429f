/* DHCPv4 codec (RFC 2131/2132), shared by the router's DHCP client and mock-dhcpd.
 *
 * dhcp_parse() and dhcp_build() are pure functions over bounded buffers: the parser never reads
 * past `len`, checks every length and returns a negative DHCP_E_* code for malformed input; the
 * builder never writes past `cap` and returns -DHCP_E_NOBUFS when the message does not fit.
 * Nobody else builds or reads DHCP bytes by hand.
 *
 * Options known by name: 1, 3, 6, 12, 43, 50, 51, 53, 54, 55, 57, 58, 59, 60, 61 and 0/255.
 * Other options are skipped by the parser (their length still checked). A repeated option is
 * concatenated (RFC 3396) up to the 255-byte field. Option 52 (overload) is not honoured: sname
 * and file are kept as raw bytes.
 */
#ifndef ZTP_DHCP_H
#define ZTP_DHCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAGIC 0x63825363u
#define DHCP_FIXED_LEN 236        /* op .. file, before the magic cookie */
#define DHCP_MIN_LEN (DHCP_FIXED_LEN + 4)
#define DHCP_BOOTP_MIN_LEN 300    /* RFC 1542 minimum BOOTP message, used as default padding */
#define DHCP_MAX_LEN 1500
#define DHCP_MAX_ADDRS 8

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define DHCP_FLAG_BROADCAST 0x8000

enum dhcp_msg_type {
    DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPDECLINE = 4,
    DHCPACK = 5, DHCPNAK = 6, DHCPRELEASE = 7, DHCPINFORM = 8,
};

enum dhcp_opt {
    DHO_PAD = 0, DHO_SUBNET_MASK = 1, DHO_ROUTERS = 3, DHO_DNS = 6, DHO_HOSTNAME = 12,
    DHO_VENDOR_OPTS = 43, DHO_REQUESTED_IP = 50, DHO_LEASE_TIME = 51, DHO_MSG_TYPE = 53,
    DHO_SERVER_ID = 54, DHO_PARAM_REQ = 55, DHO_MESSAGE = 56, DHO_MAX_MSG_SIZE = 57, DHO_T1 = 58, DHO_T2 = 59,
    DHO_VENDOR_CLASS = 60, DHO_CLIENT_ID = 61, DHO_END = 255,
};

/* Option 43 sub-option carrying the management proxy as ASCII "address:port". */
#define DHCP_SUBOPT_PROXY 128
#define DHCP_VENDOR_CLASS_SSR "JuniperSSR"

/* Presence bits for dhcp_msg.have (bit n = option n for the options above, via DHCP_HAVE()). */
#define DHCP_HAVE(opt) (1ull << ((opt) & 63))
/* All option numbers we name are < 64 except 255, which is never stored. */

/* Parse errors (returned negated). */
enum dhcp_err {
    DHCP_OK = 0,
    DHCP_E_SHORT,       /* shorter than the fixed header + cookie */
    DHCP_E_MAGIC,       /* wrong magic cookie */
    DHCP_E_OPTLEN,      /* an option's length runs past the buffer */
    DHCP_E_NOEND,       /* options not terminated by END (tolerated: see dhcp_parse) */
    DHCP_E_BADOPT,      /* a known option with an impossible length or value */
    DHCP_E_HLEN,        /* hlen > 16 */
    DHCP_E_OP,          /* op not 1 or 2 */
    DHCP_E_NOBUFS,      /* builder: does not fit */
    DHCP_E_INVAL,       /* builder: inconsistent input */
    DHCP_E_CSUM,        /* framing: bad IPv4 header or UDP checksum */
    DHCP_E__COUNT
};
const char *dhcp_strerror(int err); /* accepts err or -err */

struct dhcp_msg {
    uint8_t op, htype, hlen, hops;
    uint32_t xid;                 /* host order */
    uint16_t secs, flags;         /* host order */
    struct in_addr ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    uint8_t sname[64];
    uint8_t file[128];

    uint64_t have;                /* DHCP_HAVE(opt) bits of the options present */
    uint8_t msg_type;             /* 53, 0 when absent (plain BOOTP) */
    struct in_addr subnet_mask;   /* 1 */
    struct in_addr routers[DHCP_MAX_ADDRS]; uint8_t n_routers;   /* 3 (extra addresses dropped) */
    struct in_addr dns[DHCP_MAX_ADDRS];     uint8_t n_dns;       /* 6 */
    char hostname[256];           /* 12, NUL-terminated (bytes after an embedded NUL are lost) */
    uint8_t vendor_opts[255];     uint8_t vendor_opts_len;       /* 43, raw bytes */
    struct in_addr requested_ip;  /* 50 */
    uint32_t lease_time;          /* 51, seconds */
    struct in_addr server_id;     /* 54 */
    uint8_t prl[255];             uint8_t prl_len;               /* 55 */
    char message[256];            /* 56, NUL-terminated */
    uint16_t max_msg_size;        /* 57 */
    uint32_t t1, t2;              /* 58, 59 */
    uint8_t vendor_class[255];    uint8_t vendor_class_len;      /* 60, raw bytes */
    uint8_t client_id[255];       uint8_t client_id_len;         /* 61, raw bytes (type + id) */
};

static inline bool dhcp_has(const struct dhcp_msg *m, unsigned opt) { return (m->have & DHCP_HAVE(opt)) != 0; }

/* Parse `len` bytes (a UDP payload). Fills *out (zeroed first). Returns 0 or -DHCP_E_*.
 * Accepts what real servers send: options padded with 0, data after END ignored, a missing END
 * when the options run exactly to the end of the buffer. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out);

/* Options are written in this order, each only when its DHCP_HAVE bit is set (msg_type always,
 * when non-zero): 53, 54, 51, 58, 59, 1, 3, 6, 12, 50, 57, 61, 55, 60, 43, 56, then END, then
 * zero padding up to `pad_to` bytes (0 for none). Returns the length written or -DHCP_E_*. */
ssize_t dhcp_build(const struct dhcp_msg *m, uint8_t *buf, size_t cap, size_t pad_to);

/* Start a message: zeroes *m and sets op, htype=1 (Ethernet), hlen=6, xid, chaddr, msg_type. */
void dhcp_msg_init(struct dhcp_msg *m, uint8_t op, enum dhcp_msg_type type, uint32_t xid, const uint8_t mac[6]);

/* Setters that also set the presence bit. Byte setters refuse > 255 bytes with -DHCP_E_INVAL. */
void dhcp_set_addr(struct dhcp_msg *m, unsigned opt, struct in_addr a);        /* 1, 50, 54 */
void dhcp_set_u32(struct dhcp_msg *m, unsigned opt, uint32_t v);               /* 51, 58, 59 */
int dhcp_add_addr(struct dhcp_msg *m, unsigned opt, struct in_addr a);        /* 3, 6: append */
int dhcp_set_bytes(struct dhcp_msg *m, unsigned opt, const void *p, size_t n); /* 12, 43, 55, 56, 60, 61 */

const char *dhcp_msg_type_name(unsigned type); /* "DISCOVER", ... or "UNKNOWN" */

/* ---- Option 43 (vendor-specific information) as TLV sub-options ---- */

/* Find sub-option `code` in an Option 43 value. 0 pads are skipped and 255 ends the list (dnsmasq
 * appends one; Kea does not). Returns 0 and sets *data and *dlen, -1 when absent, -DHCP_E_OPTLEN when a
 * sub-option runs past `len`. */
int dhcp_vendor_find(const uint8_t *v, size_t len, uint8_t code, const uint8_t **data, uint8_t *dlen);

/* Build an Option 43 value holding sub-option 128 = `addrport` (no END: 17 bytes for
 * "10.92.53.8:3128", as Kea sends it). Returns its length or -DHCP_E_*. */
ssize_t dhcp_vendor_build_proxy(uint8_t *buf, size_t cap, const char *addrport);
/* The same, optionally followed by an END byte as dnsmasq sends it (18 bytes for the example). */
ssize_t dhcp_vendor_build_proxy_ex(uint8_t *buf, size_t cap, const char *addrport, bool with_end);

/* ---- management proxy "address:port" ---- */

/* Strict dotted-quad IPv4 (four decimal octets 0-255, no leading '+', no hostnames) ':' port
 * 1-65535 (decimal, no sign), exactly `len` bytes, no spaces. Returns 0, or -1 with *why set to a
 * short static reason ("not an IPv4 address", "port out of range", ...). */
int proxy_addr_parse(const char *s, size_t len, struct in_addr *addr, uint16_t *port, const char **why);

/* ---- Ethernet/IPv4/UDP framing for AF_PACKET DHCP ---- */

struct udp4_frame {
    uint8_t src_mac[6], dst_mac[6];
    struct in_addr src, dst;
    uint16_t sport, dport;        /* host order */
    uint8_t tos, ttl;
    uint16_t ip_id;
    const uint8_t *payload;       /* points into the parsed buffer */
    size_t payload_len;
};

/* Build an Ethernet II + IPv4 (no options, DF clear) + UDP frame with valid IP and UDP checksums.
 * Returns the frame length or -DHCP_E_NOBUFS. */
ssize_t udp4_frame_build(uint8_t *buf, size_t cap, const struct udp4_frame *f, const uint8_t *payload, size_t plen);
/* Parse an Ethernet frame carrying IPv4/UDP. Returns 0; UDP4_NOT_UDP (positive: not an error,
 * ignore) when it is not IPv4/UDP; or -DHCP_E_* when it is malformed (truncated, bad header length,
 * fragment: -DHCP_E_SHORT/-DHCP_E_BADOPT; bad IP checksum, or bad UDP checksum when non-zero:
 * -DHCP_E_CSUM). With UDP4_NO_UDP_CSUM the UDP checksum is not checked (a packet socket reports
 * TP_STATUS_CSUMNOTREADY for frames from a local sender whose checksum was never filled in). */
#define UDP4_NOT_UDP 1
#define UDP4_NO_UDP_CSUM 0x1u
int udp4_frame_parse(const uint8_t *buf, size_t len, unsigned flags, struct udp4_frame *out);

#endif
