/* DHCPv4 client engine: see dhcpc.h for the state machine, what is sent and the timing. */
#include "dhcpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ztp/log.h"

#define INFINITE_LEASE 0xffffffffu

static const char *const state_names[DHCPC_STATE__COUNT] = {
    [DHCPC_STOPPED] = "STOPPED",     [DHCPC_INIT] = "INIT",         [DHCPC_SELECTING] = "SELECTING",
    [DHCPC_REQUESTING] = "REQUESTING", [DHCPC_BOUND] = "BOUND",    [DHCPC_RENEWING] = "RENEWING",
    [DHCPC_REBINDING] = "REBINDING",
};

static const char *const unbound_names[DHCPC_UNBOUND__COUNT] = {
    [DHCPC_UNBOUND_EXPIRED] = "expired",
    [DHCPC_UNBOUND_NAK] = "nak",
    [DHCPC_UNBOUND_STOPPED] = "stopped",
};

/* The parameter request list of the product's trace: Subnet-Mask, Default-Gateway,
 * Domain-Name-Server, Vendor-Option. */
static const uint8_t param_req[] = {DHO_SUBNET_MASK, DHO_ROUTERS, DHO_DNS, DHO_VENDOR_OPTS};

const char *dhcpc_state_name(enum dhcpc_state s)
{
    if ((unsigned)s >= DHCPC_STATE__COUNT)
        return "UNKNOWN";
    return state_names[s];
}

const char *dhcpc_unbound_reason_name(enum dhcpc_unbound_reason r)
{
    if ((unsigned)r >= DHCPC_UNBOUND__COUNT)
        return "unknown";
    return unbound_names[r];
}

int dhcpc_mask_prefixlen(struct in_addr mask)
{
    uint32_t m = ntohl(mask.s_addr);
    int n = 0;
    while (n < 32 && (m & (0x80000000u >> n)))
        n++;
    /* every bit after the leading ones must be zero */
    if (n < 32 && (m << n) != 0)
        return -1;
    return n;
}

static struct in_addr prefix_mask(int plen)
{
    struct in_addr a;
    a.s_addr = htonl(plen <= 0 ? 0 : 0xffffffffu << (32 - plen));
    return a;
}

static int classful_prefixlen(struct in_addr addr)
{
    uint32_t a = ntohl(addr.s_addr);
    if ((a & 0x80000000u) == 0)
        return 8;
    if ((a & 0xc0000000u) == 0x80000000u)
        return 16;
    return 24;
}

/* ---- the one transition function ---- */

static void dhcpc_set_state(struct dhcpc *c, enum dhcpc_state to)
{
    if ((unsigned)to >= DHCPC_STATE__COUNT)
        fatalx("dhcpc.state", "ifname=%s bad_state=%d", c->cfg.ifname, (int)to);
    if (c->state == to)
        return;
    log_info("dhcpc.state", "ifname=%s from=%s to=%s", c->cfg.ifname, state_names[c->state], state_names[to]);
    c->state = to;
}

/* ---- helpers ---- */

static uint32_t rnd(struct dhcpc *c)
{
    if (c->ops->random)
        return c->ops->random(c->arg);
    uint32_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    /* No entropy yet (very early boot): still differ per process and per call. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static uint32_t ctr;
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 12) ^ (++ctr * 2654435761u);
}

static uint64_t with_jitter(struct dhcpc *c, uint64_t delay)
{
    uint64_t span = delay / 10;
    return span ? delay + rnd(c) % (span + 1) : delay;
}

/* Retransmission delay after the `tries`-th send (1-based): 1 s, 2 s, 4 s, 8 s, 8 s, ... */
static uint64_t retrans_delay(struct dhcpc *c, unsigned tries)
{
    uint64_t d = DHCPC_RETRANS_MIN_MS;
    for (unsigned i = 1; i < tries && d < DHCPC_RETRANS_MAX_MS; i++)
        d *= 2;
    if (d > DHCPC_RETRANS_MAX_MS)
        d = DHCPC_RETRANS_MAX_MS;
    return with_jitter(c, d);
}

/* RENEWING/REBINDING: half the time left until `limit`, within [RENEW_MIN, RENEW_MAX], never
 * past `limit` itself (the next phase starts exactly there). */
static uint64_t renew_deadline(uint64_t now, uint64_t limit)
{
    if (limit == DHCPC_NEVER)
        return now + DHCPC_RENEW_MAX_MS;
    uint64_t left = limit > now ? limit - now : 0;
    uint64_t d = left / 2;
    if (d < DHCPC_RENEW_MIN_MS)
        d = DHCPC_RENEW_MIN_MS;
    if (d > DHCPC_RENEW_MAX_MS)
        d = DHCPC_RENEW_MAX_MS;
    return now + d < limit ? now + d : limit;
}

static void new_exchange(struct dhcpc *c, uint64_t now)
{
    c->xid = rnd(c);
    c->exchange_start = now;
    c->tries = 0;
}

static const char *vendor_class(const struct dhcpc *c)
{
    return c->cfg.vendor_class[0] ? c->cfg.vendor_class : DHCP_VENDOR_CLASS_SSR;
}

static void msg_start(struct dhcpc *c, struct dhcp_msg *m, enum dhcp_msg_type type, uint64_t now)
{
    dhcp_msg_init(m, BOOTREQUEST, type, c->xid, c->cfg.mac);
    uint64_t secs = (now - c->exchange_start) / 1000;
    m->secs = secs > 0xffff ? 0xffff : (uint16_t)secs;
    m->flags = 0; /* Flags [none]: servers unicast to chaddr, which the packet socket receives */

    uint8_t cid[7];
    cid[0] = 1; /* htype Ethernet */
    memcpy(cid + 1, c->cfg.mac, 6);
    if (dhcp_set_bytes(m, DHO_CLIENT_ID, cid, sizeof cid) < 0)
        fatalx("dhcpc.build", "ifname=%s option=61", c->cfg.ifname);
}

static void msg_params(struct dhcpc *c, struct dhcp_msg *m)
{
    const char *vc = vendor_class(c);
    if (dhcp_set_bytes(m, DHO_PARAM_REQ, param_req, sizeof param_req) < 0 ||
        dhcp_set_bytes(m, DHO_VENDOR_CLASS, vc, strlen(vc)) < 0)
        fatalx("dhcpc.build", "ifname=%s option=55/60", c->cfg.ifname);
}

static void do_send(struct dhcpc *c, const struct dhcp_msg *m, bool broadcast, struct in_addr dst)
{
    char dbuf[INET_ADDRSTRLEN], cbuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &dst, dbuf, sizeof dbuf);
    inet_ntop(AF_INET, &m->ciaddr, cbuf, sizeof cbuf);
    int rc = c->ops->send(c, m, broadcast, dst, c->arg);
    if (rc < 0) {
        log_warn("dhcpc.send_failed", "ifname=%s type=%s xid=0x%08x dst=%s error=\"%s\"", c->cfg.ifname,
                 dhcp_msg_type_name(m->msg_type), m->xid, broadcast ? "broadcast" : dbuf, strerror(-rc));
        return;
    }
    log_info("dhcpc.send", "ifname=%s type=%s xid=0x%08x state=%s dst=%s ciaddr=%s try=%u secs=%u", c->cfg.ifname,
             dhcp_msg_type_name(m->msg_type), m->xid, state_names[c->state], broadcast ? "broadcast" : dbuf, cbuf,
             c->tries, m->secs);
}

static void send_discover(struct dhcpc *c, uint64_t now)
{
    struct dhcp_msg m;
    c->tries++;
    msg_start(c, &m, DHCPDISCOVER, now);
    msg_params(c, &m);
    struct in_addr bcast = {.s_addr = INADDR_BROADCAST};
    do_send(c, &m, true, bcast);
    c->deadline = now + retrans_delay(c, c->tries);
}

/* REQUEST for the state we are in (REQUESTING, RENEWING or REBINDING). */
static void send_request(struct dhcpc *c, uint64_t now)
{
    struct dhcp_msg m;
    struct in_addr bcast = {.s_addr = INADDR_BROADCAST};
    c->tries++;
    msg_start(c, &m, DHCPREQUEST, now);
    switch (c->state) {
    case DHCPC_REQUESTING:
        dhcp_set_addr(&m, DHO_REQUESTED_IP, c->offer_addr);
        dhcp_set_addr(&m, DHO_SERVER_ID, c->offer_server);
        msg_params(c, &m);
        do_send(c, &m, true, bcast);
        c->deadline = now + retrans_delay(c, c->tries);
        break;
    case DHCPC_RENEWING:
        m.ciaddr = c->lease.addr;
        msg_params(c, &m);
        do_send(c, &m, false, c->lease.server_id);
        c->deadline = renew_deadline(now, c->lease.t2_at);
        break;
    case DHCPC_REBINDING:
        m.ciaddr = c->lease.addr;
        msg_params(c, &m);
        do_send(c, &m, true, bcast);
        c->deadline = renew_deadline(now, c->lease.expires_at);
        break;
    default:
        fatalx("dhcpc.request", "ifname=%s state=%s", c->cfg.ifname, state_names[c->state]);
    }
}

static void begin_discover(struct dhcpc *c, uint64_t now)
{
    new_exchange(c, now);
    dhcpc_set_state(c, DHCPC_SELECTING);
    send_discover(c, now);
}

/* Forget the lease (state already changed by the caller), then tell the owner. */
static void drop_lease(struct dhcpc *c, enum dhcpc_unbound_reason why)
{
    if (!c->have_lease)
        return;
    struct dhcpc_lease old = c->lease;
    char abuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &old.addr, abuf, sizeof abuf);
    c->have_lease = false;
    memset(&c->lease, 0, sizeof c->lease);
    log_info("dhcpc.unbound", "ifname=%s addr=%s/%u reason=%s", c->cfg.ifname, abuf, old.prefixlen,
             unbound_names[why]);
    c->ops->unbound(c, &old, why, c->arg);
}

static void expire(struct dhcpc *c, uint64_t now)
{
    dhcpc_set_state(c, DHCPC_INIT);
    c->deadline = now; /* DISCOVER at once */
    drop_lease(c, DHCPC_UNBOUND_EXPIRED);
}

/* ---- public API ---- */

void dhcpc_init(struct dhcpc *c, const struct dhcpc_config *cfg, const struct dhcpc_ops *ops, void *arg)
{
    if (!c || !cfg || !ops || !ops->send || !ops->bound || !ops->unbound)
        fatalx("dhcpc.init", "reason=\"missing config or callback\"");
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->cfg.ifname[sizeof c->cfg.ifname - 1] = '\0';
    c->cfg.vendor_class[sizeof c->cfg.vendor_class - 1] = '\0';
    c->ops = ops;
    c->arg = arg;
    c->state = DHCPC_STOPPED;
    c->deadline = DHCPC_NEVER;
}

void dhcpc_start(struct dhcpc *c, uint64_t now)
{
    if (c->state != DHCPC_STOPPED)
        return;
    dhcpc_set_state(c, DHCPC_INIT);
    begin_discover(c, now);
}

void dhcpc_stop(struct dhcpc *c, uint64_t now, bool release)
{
    if (c->state == DHCPC_STOPPED)
        return;
    if (c->have_lease && release) {
        struct dhcp_msg m;
        new_exchange(c, now);
        c->tries = 1;
        msg_start(c, &m, DHCPRELEASE, now);
        m.ciaddr = c->lease.addr;
        dhcp_set_addr(&m, DHO_SERVER_ID, c->lease.server_id);
        do_send(c, &m, false, c->lease.server_id);
    }
    dhcpc_set_state(c, DHCPC_STOPPED);
    c->deadline = DHCPC_NEVER;
    drop_lease(c, DHCPC_UNBOUND_STOPPED);
}

uint64_t dhcpc_next_timeout(const struct dhcpc *c)
{
    return c->state == DHCPC_STOPPED ? DHCPC_NEVER : c->deadline;
}

int dhcpc_timeout_ms(uint64_t deadline, uint64_t now)
{
    if (deadline == DHCPC_NEVER)
        return -1;
    if (deadline <= now)
        return 0;
    uint64_t d = deadline - now;
    return d > INT_MAX ? INT_MAX : (int)d;
}

enum dhcpc_state dhcpc_get_state(const struct dhcpc *c) { return c->state; }

const struct dhcpc_lease *dhcpc_get_lease(const struct dhcpc *c) { return c->have_lease ? &c->lease : NULL; }

const char *dhcpc_ifname(const struct dhcpc *c) { return c->cfg.ifname; }

void dhcpc_timeout(struct dhcpc *c, uint64_t now)
{
    /* A few steps at most: e.g. after a long suspend BOUND -> (expired) -> INIT -> SELECTING. */
    for (int step = 0; step < 4 && c->state != DHCPC_STOPPED && c->deadline <= now; step++) {
        switch (c->state) {
        case DHCPC_INIT:
            begin_discover(c, now);
            break;
        case DHCPC_SELECTING:
            send_discover(c, now);
            break;
        case DHCPC_REQUESTING:
            if (c->tries >= DHCPC_REQUEST_TRIES) {
                char abuf[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &c->offer_addr, abuf, sizeof abuf);
                log_warn("dhcpc.request_timeout", "ifname=%s addr=%s tries=%u", c->cfg.ifname, abuf, c->tries);
                dhcpc_set_state(c, DHCPC_INIT);
                c->deadline = now;
            } else {
                send_request(c, now);
            }
            break;
        case DHCPC_BOUND:
        case DHCPC_RENEWING:
        case DHCPC_REBINDING:
            if (now >= c->lease.expires_at) {
                expire(c, now);
            } else if (now >= c->lease.t2_at) {
                if (c->state != DHCPC_REBINDING) {
                    new_exchange(c, now);
                    dhcpc_set_state(c, DHCPC_REBINDING);
                }
                send_request(c, now);
            } else if (now >= c->lease.t1_at) {
                if (c->state != DHCPC_RENEWING) {
                    new_exchange(c, now);
                    dhcpc_set_state(c, DHCPC_RENEWING);
                }
                send_request(c, now);
            } else {
                c->deadline = c->lease.t1_at; /* early call: nothing due */
            }
            break;
        case DHCPC_STOPPED:
        case DHCPC_STATE__COUNT:
            break;
        }
    }
}

static bool ignore(struct dhcpc *c, const struct dhcp_msg *m, const char *why)
{
    log_debug("dhcpc.ignored", "ifname=%s type=%s xid=0x%08x state=%s reason=\"%s\"", c->cfg.ifname,
              dhcp_msg_type_name(m->msg_type), m->xid, state_names[c->state], why);
    return false;
}

/* Fill c->lease from an ACK. Returns false (and logs) when the ACK is unusable. */
static bool lease_from_ack(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now, struct dhcpc_lease *l)
{
    char abuf[INET_ADDRSTRLEN];
    memset(l, 0, sizeof *l);
    l->addr = m->yiaddr;
    inet_ntop(AF_INET, &l->addr, abuf, sizeof abuf);
    uint32_t a = ntohl(m->yiaddr.s_addr);
    if (a == 0 || a == 0xffffffffu || (a >> 28) == 0xe || (a >> 24) == 127) {
        log_warn("dhcpc.bad_ack", "ifname=%s reason=\"unusable yiaddr\" yiaddr=%s", c->cfg.ifname, abuf);
        return false;
    }
    if (!dhcp_has(m, DHO_LEASE_TIME) || m->lease_time == 0) {
        log_warn("dhcpc.bad_ack", "ifname=%s reason=\"no lease time\" yiaddr=%s", c->cfg.ifname, abuf);
        return false;
    }

    int plen = -1;
    if (dhcp_has(m, DHO_SUBNET_MASK)) {
        plen = dhcpc_mask_prefixlen(m->subnet_mask);
        if (plen < 0 || plen == 0) {
            char mbuf[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &m->subnet_mask, mbuf, sizeof mbuf);
            log_warn("dhcpc.bad_mask", "ifname=%s mask=%s action=classful", c->cfg.ifname, mbuf);
            plen = -1;
        }
    }
    if (plen < 0)
        plen = classful_prefixlen(l->addr);
    l->prefixlen = (uint8_t)plen;
    l->mask = prefix_mask(plen);

    if (m->n_routers > 0) {
        l->router = m->routers[0];
        l->have_router = true;
    }
    l->n_dns = m->n_dns > DHCP_MAX_ADDRS ? DHCP_MAX_ADDRS : m->n_dns;
    memcpy(l->dns, m->dns, l->n_dns * sizeof l->dns[0]);

    if (dhcp_has(m, DHO_SERVER_ID))
        l->server_id = m->server_id;
    else if (c->state == DHCPC_REQUESTING)
        l->server_id = c->offer_server;
    else
        l->server_id = c->lease.server_id;

    l->lease_time = m->lease_time;
    l->acquired_at = now;
    if (m->lease_time == INFINITE_LEASE) {
        l->t1 = l->t2 = INFINITE_LEASE;
        l->t1_at = l->t2_at = l->expires_at = DHCPC_NEVER;
    } else {
        uint64_t lease_ms = (uint64_t)m->lease_time * 1000;
        uint64_t t1_ms = lease_ms / 2, t2_ms = lease_ms * 7 / 8;
        bool opt_t1 = dhcp_has(m, DHO_T1) && m->t1 > 0 && m->t1 < m->lease_time;
        bool opt_t2 = dhcp_has(m, DHO_T2) && m->t2 > 0 && m->t2 < m->lease_time;
        if (opt_t1)
            t1_ms = (uint64_t)m->t1 * 1000;
        if (opt_t2)
            t2_ms = (uint64_t)m->t2 * 1000;
        if (t1_ms >= t2_ms) { /* inconsistent pair: RFC defaults */
            t1_ms = lease_ms / 2;
            t2_ms = lease_ms * 7 / 8;
        }
        l->t1 = (uint32_t)(t1_ms / 1000);
        l->t2 = (uint32_t)(t2_ms / 1000);
        l->t1_at = now + t1_ms;
        l->t2_at = now + t2_ms;
        l->expires_at = now + lease_ms;
    }

    l->have_vendor_opts = dhcp_has(m, DHO_VENDOR_OPTS);
    l->vendor_opts_len = m->vendor_opts_len;
    memcpy(l->vendor_opts, m->vendor_opts, m->vendor_opts_len);
    l->vendor_class_len = m->vendor_class_len;
    memcpy(l->vendor_class, m->vendor_class, m->vendor_class_len);
    return true;
}

static bool on_offer(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now)
{
    if (c->state != DHCPC_SELECTING)
        return ignore(c, m, "offer outside SELECTING");
    uint32_t a = ntohl(m->yiaddr.s_addr);
    if (a == 0 || a == 0xffffffffu || (a >> 28) == 0xe)
        return ignore(c, m, "offer without a usable yiaddr");
    if (!dhcp_has(m, DHO_SERVER_ID) || m->server_id.s_addr == 0)
        return ignore(c, m, "offer without server id");

    char abuf[INET_ADDRSTRLEN], sbuf[INET_ADDRSTRLEN], vbuf[96];
    inet_ntop(AF_INET, &m->yiaddr, abuf, sizeof abuf);
    inet_ntop(AF_INET, &m->server_id, sbuf, sizeof sbuf);
    log_info("dhcpc.offer", "ifname=%s xid=0x%08x addr=%s server=%s lease=%u vendor_opts=%s", c->cfg.ifname,
             m->xid, abuf, sbuf, m->lease_time,
             dhcp_has(m, DHO_VENDOR_OPTS) ? log_quote(vbuf, sizeof vbuf, m->vendor_opts, m->vendor_opts_len)
                                          : "none");
    c->offer_addr = m->yiaddr;
    c->offer_server = m->server_id;
    /* Same xid for the REQUEST (RFC 2131 4.4.1); secs keeps counting from the DISCOVER. */
    c->tries = 0;
    dhcpc_set_state(c, DHCPC_REQUESTING);
    send_request(c, now);
    return true;
}

static bool on_ack(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now)
{
    if (c->state != DHCPC_REQUESTING && c->state != DHCPC_RENEWING && c->state != DHCPC_REBINDING)
        return ignore(c, m, "ack outside REQUESTING/RENEWING/REBINDING");
    if (c->state == DHCPC_REQUESTING && dhcp_has(m, DHO_SERVER_ID) && m->server_id.s_addr != c->offer_server.s_addr)
        return ignore(c, m, "ack from another server");

    struct dhcpc_lease l;
    if (!lease_from_ack(c, m, now, &l))
        return false;

    struct dhcpc_lease prev;
    bool had = c->have_lease;
    if (had) {
        prev = c->lease;
        if (prev.addr.s_addr == l.addr.s_addr)
            l.renewals = prev.renewals + 1;
    }
    c->lease = l;
    c->have_lease = true;
    dhcpc_set_state(c, DHCPC_BOUND);
    c->tries = 0;
    c->deadline = l.t1_at;

    char abuf[INET_ADDRSTRLEN], rbuf[INET_ADDRSTRLEN], sbuf[INET_ADDRSTRLEN], vbuf[96];
    inet_ntop(AF_INET, &l.addr, abuf, sizeof abuf);
    inet_ntop(AF_INET, &l.router, rbuf, sizeof rbuf);
    inet_ntop(AF_INET, &l.server_id, sbuf, sizeof sbuf);
    log_info("dhcpc.bound", "ifname=%s xid=0x%08x addr=%s/%u router=%s server=%s lease=%u t1=%u t2=%u renewals=%u "
             "vendor_opts=%s", c->cfg.ifname, m->xid, abuf, l.prefixlen, l.have_router ? rbuf : "none", sbuf,
             l.lease_time, l.t1, l.t2, l.renewals,
             l.have_vendor_opts ? log_quote(vbuf, sizeof vbuf, l.vendor_opts, l.vendor_opts_len) : "none");
    c->ops->bound(c, &c->lease, had ? &prev : NULL, c->arg);
    return true;
}

static bool on_nak(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now)
{
    if (c->state != DHCPC_REQUESTING && c->state != DHCPC_RENEWING && c->state != DHCPC_REBINDING)
        return ignore(c, m, "nak outside REQUESTING/RENEWING/REBINDING");
    if (c->state == DHCPC_REQUESTING && dhcp_has(m, DHO_SERVER_ID) && m->server_id.s_addr != c->offer_server.s_addr)
        return ignore(c, m, "nak from another server");

    char sbuf[INET_ADDRSTRLEN], qbuf[160];
    inet_ntop(AF_INET, &m->server_id, sbuf, sizeof sbuf);
    log_warn("dhcpc.nak", "ifname=%s xid=0x%08x state=%s server=%s message=%s", c->cfg.ifname, m->xid,
             state_names[c->state], dhcp_has(m, DHO_SERVER_ID) ? sbuf : "none",
             log_quote(qbuf, sizeof qbuf, m->message, strnlen(m->message, sizeof m->message)));
    dhcpc_set_state(c, DHCPC_INIT);
    c->deadline = now + DHCPC_NAK_HOLDOFF_MS;
    drop_lease(c, DHCPC_UNBOUND_NAK);
    return true;
}

bool dhcpc_input(struct dhcpc *c, const struct dhcp_msg *m, uint64_t now)
{
    if (c->state == DHCPC_STOPPED || c->state == DHCPC_INIT || c->state == DHCPC_BOUND)
        return ignore(c, m, "not waiting for a reply");
    if (m->op != BOOTREPLY)
        return ignore(c, m, "not a BOOTREPLY");
    if (m->xid != c->xid)
        return ignore(c, m, "foreign xid");
    if (m->htype != 1 || m->hlen != 6 || memcmp(m->chaddr, c->cfg.mac, 6) != 0)
        return ignore(c, m, "foreign chaddr");
    switch (m->msg_type) {
    case DHCPOFFER:
        return on_offer(c, m, now);
    case DHCPACK:
        return on_ack(c, m, now);
    case DHCPNAK:
        return on_nak(c, m, now);
    default:
        return ignore(c, m, "unexpected message type");
    }
}
