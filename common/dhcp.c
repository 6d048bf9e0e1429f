/* DHCPv4 codec: see ztp/dhcp.h. A strict cursor parser in the style of OpenBSD's dhcpleased:
 * every read is preceded by a length check. */
#include "ztp/dhcp.h"

#include <arpa/inet.h>
#include <string.h>

static const char *const dhcp_err_names[DHCP_E__COUNT] = {
    [DHCP_OK] = "ok",
    [DHCP_E_SHORT] = "message shorter than the BOOTP header and magic cookie",
    [DHCP_E_MAGIC] = "bad magic cookie",
    [DHCP_E_OPTLEN] = "option length runs past the end of the message",
    [DHCP_E_NOEND] = "options not terminated",
    [DHCP_E_BADOPT] = "option with an invalid length or value",
    [DHCP_E_HLEN] = "hardware address length over 16",
    [DHCP_E_OP] = "op is neither BOOTREQUEST nor BOOTREPLY",
    [DHCP_E_NOBUFS] = "message does not fit the buffer",
    [DHCP_E_INVAL] = "invalid message fields",
    [DHCP_E_CSUM] = "bad IPv4 or UDP checksum",
};

const char *dhcp_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err >= DHCP_E__COUNT)
        return "unknown error";
    return dhcp_err_names[err];
}

const char *dhcp_msg_type_name(unsigned type)
{
    static const char *const names[] = {"NONE", "DISCOVER", "OFFER", "REQUEST", "DECLINE",
                                        "ACK", "NAK", "RELEASE", "INFORM"};
    return type < sizeof names / sizeof names[0] ? names[type] : "UNKNOWN";
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static struct in_addr get_addr(const uint8_t *p) { struct in_addr a; memcpy(&a.s_addr, p, 4); return a; }

/* Append (RFC 3396 concatenation) bytes to a 255-byte option field. */
static int append_bytes(uint8_t *field, uint8_t *flen, const uint8_t *p, size_t n)
{
    if ((size_t)*flen + n > 255)
        return -DHCP_E_BADOPT;
    memcpy(field + *flen, p, n);
    *flen = (uint8_t)(*flen + n);
    return 0;
}

static int append_str(char *field, size_t cap, const uint8_t *p, size_t n)
{
    size_t cur = strnlen(field, cap);
    if (cur + n >= cap)
        return -DHCP_E_BADOPT;
    memcpy(field + cur, p, n);
    field[cur + n] = '\0';
    /* An embedded NUL ends the string; what follows is not kept. */
    return 0;
}

static int parse_addr_list(struct in_addr *list, uint8_t *n, const uint8_t *p, size_t len)
{
    if (len == 0 || len % 4)
        return -DHCP_E_BADOPT;
    for (size_t i = 0; i < len; i += 4)
        if (*n < DHCP_MAX_ADDRS)
            list[(*n)++] = get_addr(p + i);
    return 0;
}

static int parse_option(struct dhcp_msg *m, uint8_t code, const uint8_t *p, uint8_t len)
{
    int r = 0;
    switch (code) {
    case DHO_SUBNET_MASK:
    case DHO_REQUESTED_IP:
    case DHO_SERVER_ID:
        if (len != 4)
            return -DHCP_E_BADOPT;
        if (code == DHO_SUBNET_MASK)
            m->subnet_mask = get_addr(p);
        else if (code == DHO_REQUESTED_IP)
            m->requested_ip = get_addr(p);
        else
            m->server_id = get_addr(p);
        break;
    case DHO_LEASE_TIME:
    case DHO_T1:
    case DHO_T2:
        if (len != 4)
            return -DHCP_E_BADOPT;
        if (code == DHO_LEASE_TIME)
            m->lease_time = get32(p);
        else if (code == DHO_T1)
            m->t1 = get32(p);
        else
            m->t2 = get32(p);
        break;
    case DHO_ROUTERS:
        r = parse_addr_list(m->routers, &m->n_routers, p, len);
        break;
    case DHO_DNS:
        r = parse_addr_list(m->dns, &m->n_dns, p, len);
        break;
    case DHO_MSG_TYPE:
        if (len != 1 || p[0] < DHCPDISCOVER || p[0] > DHCPINFORM)
            return -DHCP_E_BADOPT;
        m->msg_type = p[0];
        break;
    case DHO_MAX_MSG_SIZE:
        if (len != 2)
            return -DHCP_E_BADOPT;
        m->max_msg_size = get16(p);
        break;
    case DHO_HOSTNAME:
        if (len == 0)
            return -DHCP_E_BADOPT;
        r = append_str(m->hostname, sizeof m->hostname, p, len);
        break;
    case DHO_MESSAGE:
        r = append_str(m->message, sizeof m->message, p, len);
        break;
    case DHO_VENDOR_OPTS:
        r = append_bytes(m->vendor_opts, &m->vendor_opts_len, p, len);
        break;
    case DHO_PARAM_REQ:
        r = append_bytes(m->prl, &m->prl_len, p, len);
        break;
    case DHO_VENDOR_CLASS:
        if (len == 0)
            return -DHCP_E_BADOPT;
        r = append_bytes(m->vendor_class, &m->vendor_class_len, p, len);
        break;
    case DHO_CLIENT_ID:
        if (len < 2)
            return -DHCP_E_BADOPT;
        r = append_bytes(m->client_id, &m->client_id_len, p, len);
        break;
    default:
        return 0; /* not one we name: skipped */
    }
    if (r == 0)
        m->have |= DHCP_HAVE(code);
    return r;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
    memset(m, 0, sizeof *m);
    if (!buf || len < DHCP_MIN_LEN)
        return -DHCP_E_SHORT;
    m->op = buf[0];
    m->htype = buf[1];
    m->hlen = buf[2];
    m->hops = buf[3];
    if (m->op != BOOTREQUEST && m->op != BOOTREPLY)
        return -DHCP_E_OP;
    if (m->hlen > 16)
        return -DHCP_E_HLEN;
    m->xid = get32(buf + 4);
    m->secs = get16(buf + 8);
    m->flags = get16(buf + 10);
    m->ciaddr = get_addr(buf + 12);
    m->yiaddr = get_addr(buf + 16);
    m->siaddr = get_addr(buf + 20);
    m->giaddr = get_addr(buf + 24);
    memcpy(m->chaddr, buf + 28, 16);
    memcpy(m->sname, buf + 44, 64);
    memcpy(m->file, buf + 108, 128);
    if (get32(buf + DHCP_FIXED_LEN) != DHCP_MAGIC)
        return -DHCP_E_MAGIC;

    size_t off = DHCP_MIN_LEN;
    while (off < len) {
        uint8_t code = buf[off++];
        if (code == DHO_PAD)
            continue;
        if (code == DHO_END)
            return 0;
        if (off >= len)
            return -DHCP_E_OPTLEN; /* code without its length byte */
        uint8_t olen = buf[off++];
        if (olen > len - off)
            return -DHCP_E_OPTLEN;
        int r = parse_option(m, code, buf + off, olen);
        if (r < 0)
            return r;
        off += olen;
    }
    /* Options ran exactly to the end of the buffer without END: accepted (some relays and
     * embedded servers trim it); every option was complete. */
    return 0;
}

void dhcp_msg_init(struct dhcp_msg *m, uint8_t op, enum dhcp_msg_type type, uint32_t xid, const uint8_t mac[6])
{
    memset(m, 0, sizeof *m);
    m->op = op;
    m->htype = 1;
    m->hlen = 6;
    m->xid = xid;
    if (mac)
        memcpy(m->chaddr, mac, 6);
    m->msg_type = (uint8_t)type;
    if (type)
        m->have |= DHCP_HAVE(DHO_MSG_TYPE);
}

void dhcp_set_addr(struct dhcp_msg *m, unsigned opt, struct in_addr a)
{
    switch (opt) {
    case DHO_SUBNET_MASK: m->subnet_mask = a; break;
    case DHO_REQUESTED_IP: m->requested_ip = a; break;
    case DHO_SERVER_ID: m->server_id = a; break;
    default: return;
    }
    m->have |= DHCP_HAVE(opt);
}

void dhcp_set_u32(struct dhcp_msg *m, unsigned opt, uint32_t v)
{
    switch (opt) {
    case DHO_LEASE_TIME: m->lease_time = v; break;
    case DHO_T1: m->t1 = v; break;
    case DHO_T2: m->t2 = v; break;
    default: return;
    }
    m->have |= DHCP_HAVE(opt);
}

int dhcp_add_addr(struct dhcp_msg *m, unsigned opt, struct in_addr a)
{
    struct in_addr *list;
    uint8_t *n;
    if (opt == DHO_ROUTERS) {
        list = m->routers;
        n = &m->n_routers;
    } else if (opt == DHO_DNS) {
        list = m->dns;
        n = &m->n_dns;
    } else {
        return -DHCP_E_INVAL;
    }
    if (*n >= DHCP_MAX_ADDRS)
        return -DHCP_E_NOBUFS;
    list[(*n)++] = a;
    m->have |= DHCP_HAVE(opt);
    return 0;
}

int dhcp_set_bytes(struct dhcp_msg *m, unsigned opt, const void *p, size_t n)
{
    if (n > 255)
        return -DHCP_E_INVAL;
    switch (opt) {
    case DHO_HOSTNAME:
    case DHO_MESSAGE: {
        char *dst = opt == DHO_HOSTNAME ? m->hostname : m->message;
        if (n == 0 || memchr(p, '\0', n))
            return -DHCP_E_INVAL;
        memcpy(dst, p, n);
        dst[n] = '\0';
        break;
    }
    case DHO_VENDOR_OPTS: memcpy(m->vendor_opts, p, n); m->vendor_opts_len = (uint8_t)n; break;
    case DHO_PARAM_REQ: memcpy(m->prl, p, n); m->prl_len = (uint8_t)n; break;
    case DHO_VENDOR_CLASS: memcpy(m->vendor_class, p, n); m->vendor_class_len = (uint8_t)n; break;
    case DHO_CLIENT_ID: memcpy(m->client_id, p, n); m->client_id_len = (uint8_t)n; break;
    default: return -DHCP_E_INVAL;
    }
    m->have |= DHCP_HAVE(opt);
    return 0;
}

/* Bounded option writer: returns -DHCP_E_NOBUFS instead of writing past cap. */
struct optw {
    uint8_t *buf;
    size_t cap, off;
    int err;
};

static void put_opt(struct optw *w, uint8_t code, const void *p, size_t n)
{
    if (w->err)
        return;
    if (n > 255) {
        w->err = -DHCP_E_INVAL;
        return;
    }
    /* Leave room for the END byte. */
    if (w->off + 2 + n + 1 > w->cap) {
        w->err = -DHCP_E_NOBUFS;
        return;
    }
    w->buf[w->off++] = code;
    w->buf[w->off++] = (uint8_t)n;
    memcpy(w->buf + w->off, p, n);
    w->off += n;
}

static void put_opt_addr(struct optw *w, uint8_t code, struct in_addr a) { put_opt(w, code, &a.s_addr, 4); }

static void put_opt_u32(struct optw *w, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    put_opt(w, code, b, 4);
}

static void put_opt_addrs(struct optw *w, uint8_t code, const struct in_addr *list, uint8_t n)
{
    uint8_t b[4 * DHCP_MAX_ADDRS];
    for (uint8_t i = 0; i < n && i < DHCP_MAX_ADDRS; i++)
        memcpy(b + 4 * i, &list[i].s_addr, 4);
    put_opt(w, code, b, (size_t)n * 4);
}

ssize_t dhcp_build(const struct dhcp_msg *m, uint8_t *buf, size_t cap, size_t pad_to)
{
    if (m->hlen > 16 || (m->op != BOOTREQUEST && m->op != BOOTREPLY))
        return -DHCP_E_INVAL;
    if (cap < DHCP_MIN_LEN + 1)
        return -DHCP_E_NOBUFS;
    memset(buf, 0, DHCP_MIN_LEN);
    buf[0] = m->op;
    buf[1] = m->htype;
    buf[2] = m->hlen;
    buf[3] = m->hops;
    put32(buf + 4, m->xid);
    put16(buf + 8, m->secs);
    put16(buf + 10, m->flags);
    memcpy(buf + 12, &m->ciaddr.s_addr, 4);
    memcpy(buf + 16, &m->yiaddr.s_addr, 4);
    memcpy(buf + 20, &m->siaddr.s_addr, 4);
    memcpy(buf + 24, &m->giaddr.s_addr, 4);
    memcpy(buf + 28, m->chaddr, 16);
    memcpy(buf + 44, m->sname, 64);
    memcpy(buf + 108, m->file, 128);
    put32(buf + DHCP_FIXED_LEN, DHCP_MAGIC);

    struct optw w = {.buf = buf, .cap = cap, .off = DHCP_MIN_LEN};
    if (m->msg_type)
        put_opt(&w, DHO_MSG_TYPE, &m->msg_type, 1);
    if (dhcp_has(m, DHO_SERVER_ID))
        put_opt_addr(&w, DHO_SERVER_ID, m->server_id);
    if (dhcp_has(m, DHO_LEASE_TIME))
        put_opt_u32(&w, DHO_LEASE_TIME, m->lease_time);
    if (dhcp_has(m, DHO_T1))
        put_opt_u32(&w, DHO_T1, m->t1);
    if (dhcp_has(m, DHO_T2))
        put_opt_u32(&w, DHO_T2, m->t2);
    if (dhcp_has(m, DHO_SUBNET_MASK))
        put_opt_addr(&w, DHO_SUBNET_MASK, m->subnet_mask);
    if (dhcp_has(m, DHO_ROUTERS) && m->n_routers)
        put_opt_addrs(&w, DHO_ROUTERS, m->routers, m->n_routers);
    if (dhcp_has(m, DHO_DNS) && m->n_dns)
        put_opt_addrs(&w, DHO_DNS, m->dns, m->n_dns);
    if (dhcp_has(m, DHO_HOSTNAME) && m->hostname[0])
        put_opt(&w, DHO_HOSTNAME, m->hostname, strnlen(m->hostname, sizeof m->hostname - 1));
    if (dhcp_has(m, DHO_REQUESTED_IP))
        put_opt_addr(&w, DHO_REQUESTED_IP, m->requested_ip);
    if (dhcp_has(m, DHO_MAX_MSG_SIZE)) {
        uint8_t b[2];
        put16(b, m->max_msg_size);
        put_opt(&w, DHO_MAX_MSG_SIZE, b, 2);
    }
    if (dhcp_has(m, DHO_CLIENT_ID))
        put_opt(&w, DHO_CLIENT_ID, m->client_id, m->client_id_len);
    if (dhcp_has(m, DHO_PARAM_REQ))
        put_opt(&w, DHO_PARAM_REQ, m->prl, m->prl_len);
    if (dhcp_has(m, DHO_VENDOR_CLASS))
        put_opt(&w, DHO_VENDOR_CLASS, m->vendor_class, m->vendor_class_len);
    if (dhcp_has(m, DHO_VENDOR_OPTS))
        put_opt(&w, DHO_VENDOR_OPTS, m->vendor_opts, m->vendor_opts_len);
    if (dhcp_has(m, DHO_MESSAGE) && m->message[0])
        put_opt(&w, DHO_MESSAGE, m->message, strnlen(m->message, sizeof m->message - 1));
    if (w.err)
        return w.err;
    buf[w.off++] = DHO_END; /* room reserved by put_opt */
    if (pad_to > w.off) {
        if (pad_to > cap)
            return -DHCP_E_NOBUFS;
        memset(buf + w.off, 0, pad_to - w.off);
        w.off = pad_to;
    }
    return (ssize_t)w.off;
}

int dhcp_vendor_find(const uint8_t *v, size_t len, uint8_t code, const uint8_t **data, uint8_t *dlen)
{
    size_t off = 0;
    while (off < len) {
        uint8_t c = v[off++];
        if (c == DHO_PAD)
            continue;
        if (c == DHO_END)
            break;
        if (off >= len)
            return -DHCP_E_OPTLEN;
        uint8_t l = v[off++];
        if (l > len - off)
            return -DHCP_E_OPTLEN;
        if (c == code) {
            *data = v + off;
            *dlen = l;
            return 0;
        }
        off += l;
    }
    return -1;
}

ssize_t dhcp_vendor_build_proxy_ex(uint8_t *buf, size_t cap, const char *addrport, bool with_end)
{
    size_t n = strlen(addrport), total = n + 2 + (with_end ? 1 : 0);
    if (total > 255)
        return -DHCP_E_INVAL;
    if (cap < total)
        return -DHCP_E_NOBUFS;
    buf[0] = DHCP_SUBOPT_PROXY;
    buf[1] = (uint8_t)n;
    memcpy(buf + 2, addrport, n);
    if (with_end)
        buf[n + 2] = DHO_END;
    return (ssize_t)total;
}

ssize_t dhcp_vendor_build_proxy(uint8_t *buf, size_t cap, const char *addrport)
{
    return dhcp_vendor_build_proxy_ex(buf, cap, addrport, false);
}

int proxy_addr_parse(const char *s, size_t len, struct in_addr *addr, uint16_t *port, const char **why)
{
    const char *dummy;
    uint32_t a = 0;
    size_t i = 0;
    if (!why)
        why = &dummy;
    if (!s || len == 0) {
        *why = "empty";
        return -1;
    }
    for (int octet = 0; octet < 4; octet++) {
        unsigned v = 0, digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (unsigned)(s[i] - '0');
            if (++digits > 3 || v > 255) {
                *why = "not an IPv4 address (octet over 255)";
                return -1;
            }
            i++;
        }
        if (digits == 0) {
            *why = "not an IPv4 address";
            return -1;
        }
        if (digits > 1 && s[i - digits] == '0') {
            *why = "not an IPv4 address (leading zero)";
            return -1;
        }
        a = a << 8 | v;
        if (octet < 3) {
            if (i >= len || s[i] != '.') {
                *why = "not an IPv4 address";
                return -1;
            }
            i++;
        }
    }
    if (i >= len || s[i] != ':') {
        *why = i >= len ? "missing :port" : "not an IPv4 address";
        return -1;
    }
    i++;
    unsigned long p = 0;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        p = p * 10 + (unsigned long)(s[i] - '0');
        if (++digits > 5) {
            *why = "port out of range";
            return -1;
        }
        i++;
    }
    if (digits == 0) {
        *why = "port is not a number";
        return -1;
    }
    if (i != len) {
        *why = "trailing characters after the port";
        return -1;
    }
    if (p == 0 || p > 65535) {
        *why = "port out of range";
        return -1;
    }
    if (a == 0 || a == 0xffffffffu) {
        *why = "not a usable IPv4 address";
        return -1;
    }
    if (addr)
        addr->s_addr = htonl(a);
    if (port)
        *port = (uint16_t)p;
    *why = NULL;
    return 0;
}
