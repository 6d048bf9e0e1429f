#include "engine.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/log.h"

static const char *const reply_names[] = {
    [DHCPD_NONE] = "none", [DHCPD_OFFER] = "OFFER", [DHCPD_ACK] = "ACK", [DHCPD_NAK] = "NAK",
};

const char *dhcpd_engine_reply_name(enum dhcpd_reply r)
{
    return (unsigned)r < sizeof reply_names / sizeof reply_names[0] ? reply_names[r] : "invalid";
}

static const char *const opt43_names[] = {
    [DHCPD_OPT43_NONE] = "-",
    [DHCPD_OPT43_SENT] = "sent",
    [DHCPD_OPT43_NO_PROXY] = "no-proxy",
    [DHCPD_OPT43_NO_CLASS] = "no-class",
    [DHCPD_OPT43_MISMATCH] = "class-mismatch", [DHCPD_OPT43_NOT_REQUESTED] = "not-requested",
};

const char *dhcpd_engine_opt43_name(enum dhcpd_opt43 o)
{
    return (unsigned)o < sizeof opt43_names / sizeof opt43_names[0] ? opt43_names[o] : "invalid";
}

/* ---- pool selection ---- */

const struct dhcpd_pool *dhcpd_engine_select_pool(const struct dhcpd_config *cfg, const char *ifname,
                                            const struct dhcp_msg *req)
{
    if (req->giaddr.s_addr != INADDR_ANY) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < cfg->n_pools; i++)
                if (cfg->pools[i].relayed == (pass == 0) && dhcpd_pool_in_subnet(&cfg->pools[i], req->giaddr))
                    return &cfg->pools[i];
        return NULL;
    }
    if (ifname)
        for (size_t i = 0; i < cfg->n_pools; i++)
            if (!cfg->pools[i].relayed && strcmp(cfg->pools[i].ifname, ifname) == 0)
                return &cfg->pools[i];
    if (req->ciaddr.s_addr != INADDR_ANY)
        for (size_t i = 0; i < cfg->n_pools; i++)
            if (dhcpd_pool_in_subnet(&cfg->pools[i], req->ciaddr))
                return &cfg->pools[i];
    return NULL;
}

/* ---- clients and addresses ---- */

struct client {
    const uint8_t *key;
    size_t len;
    bool by_cid;
};

static void client_of(const struct dhcp_msg *m, struct client *c)
{
    if (dhcp_has(m, DHO_CLIENT_ID) && m->client_id_len > 0) {
        c->key = m->client_id;
        c->len = m->client_id_len;
        c->by_cid = true;
    } else {
        c->key = m->chaddr;
        c->len = m->hlen <= sizeof m->chaddr ? m->hlen : sizeof m->chaddr;
        c->by_cid = false;
    }
}

static struct dhcpd_lease *find_mine(struct dhcpd_lease_table *lt, const struct dhcpd_pool *p, const struct client *c)
{
    return dhcpd_leases_find_client(lt, c->key, c->len, c->by_cid, ntohl(p->start.s_addr), ntohl(p->end.s_addr));
}

static bool is_mine(const struct dhcpd_lease *l, const struct client *c)
{
    return l->state != DLEASE_DECLINED && l->by_client_id == c->by_cid && l->key_len == c->len &&
           memcmp(l->key, c->key, c->len) == 0;
}

/* In the range and not one of the addresses the pool must never hand out. */
static bool assignable(const struct dhcpd_pool *p, struct in_addr a)
{
    return dhcpd_pool_in_range(p, a) && a.s_addr != p->server.s_addr &&
           !(p->relayed && a.s_addr == p->relay.s_addr);
}

/* `a` can be given to client `c` now. */
static bool usable_by(struct dhcpd_lease_table *lt, const struct dhcpd_pool *p, struct in_addr a,
                      const struct client *c, int64_t now)
{
    if (!assignable(p, a))
        return false;
    struct dhcpd_lease *o = dhcpd_leases_find_addr(lt, a);
    return !o || !dhcpd_lease_active(o, now) || is_mine(o, c);
}

/* The allocator ranges of the lease table are the pools' ranges without the server and relay
 * addresses; re-indexed only when the pools changed (a reload, a new config). */
static int index_pools(const struct dhcpd_config *cfg, struct dhcpd_lease_table *lt)
{
    struct dhcpd_lease_range stack[16] = {0}, *r = stack;
    int rc;
    if (cfg->n_pools > sizeof stack / sizeof stack[0] && !(r = calloc(cfg->n_pools, sizeof *r)))
        return -1;
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct dhcpd_pool *p = &cfg->pools[i];
        memset(&r[i], 0, sizeof r[i]);
        r[i].start = p->start;
        r[i].end = p->end;
        r[i].skip[r[i].n_skip++] = p->server;
        if (p->relayed)
            r[i].skip[r[i].n_skip++] = p->relay;
    }
    rc = dhcpd_leases_set_ranges(lt, r, cfg->n_pools);
    if (r != stack)
        free(r);
    return rc;
}

/* A never-used address first (the lowest), else the inactive entry that has been free the longest.
 * Both come from the lease table's per-pool indexes: O(1) amortised, O(log n) for a reuse. */
static bool find_free(const struct dhcpd_config *cfg, struct dhcpd_lease_table *lt, const struct dhcpd_pool *p,
                      int64_t now, struct in_addr *out)
{
    size_t i = (size_t)(p - cfg->pools);
    const struct dhcpd_lease *best;
    if (i >= cfg->n_pools)
        fatalx("dhcp.invariant", "reason=\"pool not in the config\" pool=%s", p->name);
    if (index_pools(cfg, lt) < 0)
        return false;
    if (dhcpd_leases_unused(lt, i, out))
        return true;
    if (!(best = dhcpd_leases_oldest_free(lt, i, now)))
        return false;
    *out = best->addr;
    return true;
}

/* Make the entry for `a` belong to client `c` (which moves off `mine`, its entry in this pool, found
 * by the caller with find_mine()). Returns the entry, in state DLEASE_FREE when it was not already
 * the client's; NULL on ENOMEM. */
static struct dhcpd_lease *claim(struct dhcpd_lease_table *lt, struct dhcpd_lease *mine, const struct client *c,
                                 const struct dhcp_msg *req, struct in_addr a)
{
    struct dhcpd_lease *l;
    bool added = false;
    if (mine && mine->addr.s_addr != a.s_addr)
        dhcpd_leases_remove(lt, mine);
    l = dhcpd_leases_find_addr(lt, a);
    if (l && is_mine(l, c))
        return l;
    if (!l) {
        if (!(l = dhcpd_leases_add(lt, a)))
            return NULL;
        added = true;
    }
    if (dhcpd_leases_set_client(lt, l, c->by_cid, c->key, c->len, req->chaddr,
                                req->hlen <= sizeof l->chaddr ? req->hlen : sizeof l->chaddr) < 0) {
        if (added)
            dhcpd_leases_remove(lt, l);
        return NULL;
    }
    return l;
}

static int64_t expiry(int64_t now, uint32_t secs)
{
    return secs == UINT32_MAX ? DLEASE_NEVER : now + (int64_t)secs;
}

/* ---- replies ---- */

static void reply_init(const struct dhcp_msg *req, const struct dhcpd_pool *p, enum dhcp_msg_type t,
                       struct dhcp_msg *r)
{
    dhcp_msg_init(r, BOOTREPLY, t, req->xid, req->chaddr);
    r->htype = req->htype;
    r->hlen = req->hlen;
    memcpy(r->chaddr, req->chaddr, sizeof r->chaddr);
    r->hops = req->hops;        /* kept, as Kea does */
    r->flags = req->flags;
    r->giaddr = req->giaddr;
    dhcp_set_addr(r, DHO_SERVER_ID, p->server);
    if (p->echo_client_id && dhcp_has(req, DHO_CLIENT_ID))
        dhcp_set_bytes(r, DHO_CLIENT_ID, req->client_id, req->client_id_len);
}

static bool prl_has(const struct dhcp_msg *m, uint8_t opt)
{
    if (!dhcp_has(m, DHO_PARAM_REQ))
        return false;
    return memchr(m->prl, opt, m->prl_len) != NULL;
}

static enum dhcpd_opt43 add_opt43(const struct dhcpd_pool *p, const struct dhcp_msg *req, struct dhcp_msg *r)
{
    uint8_t v[255];
    ssize_t n;
    if (!p->have_proxy)
        return DHCPD_OPT43_NO_PROXY;
    if (!dhcp_has(req, DHO_VENDOR_CLASS))
        return DHCPD_OPT43_NO_CLASS;
    if (req->vendor_class_len != p->vendor_class_len || memcmp(req->vendor_class, p->vendor_class, p->vendor_class_len))
        return DHCPD_OPT43_MISMATCH;
    if (!p->option43_always && !prl_has(req, DHO_VENDOR_OPTS))
        return DHCPD_OPT43_NOT_REQUESTED;
    /* With option43_end, the encapsulation ends with END as dnsmasq sends it. */
    n = dhcp_vendor_build_proxy_ex(v, sizeof v, p->proxy, p->option43_end);
    if (n < 0)
        fatalx("dhcp.invariant", "reason=\"option 43 does not fit\" pool=%s", p->name); /* config checks the length */
    dhcp_set_bytes(r, DHO_VENDOR_OPTS, v, (size_t)n);
    return DHCPD_OPT43_SENT;
}

/* Options of an OFFER/ACK (INFORM: without the lease times). */
static void add_lease_opts(const struct dhcpd_pool *p, const struct dhcp_msg *req, struct dhcp_msg *r,
                           bool with_times, struct dhcpd_result *res)
{
    if (with_times) {
        dhcp_set_u32(r, DHO_LEASE_TIME, p->lease_time);
        if (p->have_t1)
            dhcp_set_u32(r, DHO_T1, p->t1);
        if (p->have_t2)
            dhcp_set_u32(r, DHO_T2, p->t2);
    }
    dhcp_set_addr(r, DHO_SUBNET_MASK, p->mask);
    for (uint8_t i = 0; i < p->n_routers; i++)
        dhcp_add_addr(r, DHO_ROUTERS, p->routers[i]);
    for (uint8_t i = 0; i < p->n_dns; i++)
        dhcp_add_addr(r, DHO_DNS, p->dns[i]);
    if (p->echo_vendor_class && dhcp_has(req, DHO_VENDOR_CLASS))
        dhcp_set_bytes(r, DHO_VENDOR_CLASS, req->vendor_class, req->vendor_class_len);
    res->opt43 = add_opt43(p, req, r);
}

/* RFC 2131 4.1: relay -> giaddr:67; NAK -> broadcast; ciaddr -> unicast; broadcast flag set (or
 * cfg->broadcast_replies) -> broadcast; else unicast to yiaddr at chaddr (an Ethernet client: the
 * sender installs the neighbour entry yiaddr -> chaddr), as Kea, ISC dhcpd and dnsmasq do and as the
 * doc's trace shows (the OFFER goes to 10.73.3.50). */
static void set_destination(const struct dhcpd_config *cfg, const struct dhcp_msg *req, struct dhcp_msg *r,
                            struct dhcpd_result *res)
{
    if (req->giaddr.s_addr != INADDR_ANY) {
        res->dst = req->giaddr;
        res->dport = DHCP_SERVER_PORT;
        if (res->reply == DHCPD_NAK)
            r->flags |= DHCP_FLAG_BROADCAST;
    } else if (res->reply != DHCPD_NAK && req->ciaddr.s_addr != INADDR_ANY) {
        res->dst = req->ciaddr;
        res->dport = DHCP_CLIENT_PORT;
    } else if (res->reply != DHCPD_NAK && !cfg->broadcast_replies && !(req->flags & DHCP_FLAG_BROADCAST) &&
               req->htype == 1 && req->hlen == 6 && r->yiaddr.s_addr != INADDR_ANY) {
        res->dst = r->yiaddr;
        res->dport = DHCP_CLIENT_PORT;
        res->to_chaddr = true;
    } else {
        res->dst.s_addr = INADDR_BROADCAST;
        res->dport = DHCP_CLIENT_PORT;
        res->broadcast = true;
    }
}

static void nak(const struct dhcp_msg *req, const struct dhcpd_pool *p, struct dhcp_msg *r, struct dhcpd_result *res,
                const char *why)
{
    reply_init(req, p, DHCPNAK, r);
    dhcp_set_bytes(r, DHO_MESSAGE, why, strlen(why));
    res->reply = DHCPD_NAK;
    res->reason = why;
}

static void none(struct dhcpd_result *res, bool drop, const char *why)
{
    res->reply = DHCPD_NONE;
    res->drop = drop;
    res->reason = why;
}

/* ---- messages ---- */

static void on_discover(const struct dhcpd_config *cfg, const struct dhcpd_pool *p, struct dhcpd_lease_table *lt,
                        int64_t now, const struct dhcp_msg *req, struct dhcp_msg *r, struct dhcpd_result *res)
{
    struct client c;
    struct dhcpd_lease *mine, *l;
    struct in_addr a;

    client_of(req, &c);
    mine = find_mine(lt, p, &c);
    if (mine && usable_by(lt, p, mine->addr, &c, now)) {
        a = mine->addr;
        res->reason = "client's address";
    } else if (dhcp_has(req, DHO_REQUESTED_IP) && usable_by(lt, p, req->requested_ip, &c, now)) {
        a = req->requested_ip;
        res->reason = "requested address";
    } else if (find_free(cfg, lt, p, now, &a)) {
        res->reason = "free address";
    } else {
        none(res, true, "pool exhausted");
        return;
    }
    if (!(l = claim(lt, mine, &c, req, a))) {
        none(res, true, "out of memory");
        return;
    }
    if (!(l->state == DLEASE_BOUND && dhcpd_lease_active(l, now)))
        dhcpd_lease_set_state(lt, l, DLEASE_OFFERED, now + cfg->offer_time, "discover");
    reply_init(req, p, DHCPOFFER, r);
    r->yiaddr = a;
    add_lease_opts(p, req, r, true, res);
    res->reply = DHCPD_OFFER;
}

static void on_request(const struct dhcpd_pool *p, struct dhcpd_lease_table *lt, int64_t now, const struct dhcp_msg *req,
                       struct dhcp_msg *r, struct dhcpd_result *res)
{
    struct client c;
    struct dhcpd_lease *mine, *owner, *l;
    struct in_addr want;

    client_of(req, &c);
    mine = find_mine(lt, p, &c);
    if (dhcp_has(req, DHO_SERVER_ID)) {
        res->kind = "selecting";
        if (req->server_id.s_addr != p->server.s_addr) {
            if (mine && mine->state == DLEASE_OFFERED) {
                char addr[INET_ADDRSTRLEN];
                log_info("lease.state", "addr=%s old=offered new=free why=\"client chose another server\"",
                         inet_ntop(AF_INET, &mine->addr, addr, sizeof addr));
                dhcpd_leases_remove(lt, mine);
            }
            none(res, false, "client chose another server");
            return;
        }
        if (!dhcp_has(req, DHO_REQUESTED_IP)) {
            nak(req, p, r, res, "no requested address (option 50)");
            return;
        }
        want = req->requested_ip;
    } else if (dhcp_has(req, DHO_REQUESTED_IP)) {
        res->kind = "init-reboot";
        want = req->requested_ip;
    } else if (req->ciaddr.s_addr != INADDR_ANY) {
        res->kind = "renewing";
        want = req->ciaddr;
    } else {
        res->kind = "invalid";
        nak(req, p, r, res, "no address requested");
        return;
    }

    if (!dhcpd_pool_in_subnet(p, want)) {
        nak(req, p, r, res, "requested address not on this network");
        return;
    }
    if (!assignable(p, want)) {
        nak(req, p, r, res, "requested address outside the pool");
        return;
    }
    if (mine && mine->addr.s_addr != want.s_addr && dhcpd_lease_active(mine, now)) {
        nak(req, p, r, res, "not the address offered or leased to this client");
        return;
    }
    owner = dhcpd_leases_find_addr(lt, want);
    if (owner && dhcpd_lease_active(owner, now) && !is_mine(owner, &c)) {
        nak(req, p, r, res, owner->state == DLEASE_DECLINED ? "address declined" : "address leased to another client");
        return;
    }
    if (!(l = claim(lt, mine, &c, req, want))) {
        none(res, true, "out of memory");
        return;
    }
    dhcpd_lease_set_state(lt, l, DLEASE_BOUND, expiry(now, p->lease_time), res->kind); /* a renewal extends it */
    reply_init(req, p, DHCPACK, r);
    r->ciaddr = req->ciaddr;
    r->yiaddr = want;
    add_lease_opts(p, req, r, true, res);
    res->reply = DHCPD_ACK;
    res->reason = "bound";
}

static void on_release(const struct dhcpd_pool *p, struct dhcpd_lease_table *lt, int64_t now, const struct dhcp_msg *req,
                       struct dhcpd_result *res)
{
    struct client c;
    struct dhcpd_lease *mine;
    client_of(req, &c);
    if (dhcp_has(req, DHO_SERVER_ID) && req->server_id.s_addr != p->server.s_addr) {
        none(res, false, "release for another server");
        return;
    }
    mine = find_mine(lt, p, &c);
    if (!mine || mine->addr.s_addr != req->ciaddr.s_addr) {
        none(res, false, "no such lease");
        return;
    }
    dhcpd_lease_set_state(lt, mine, DLEASE_RELEASED, now, "release");
    none(res, false, "released");
}

static void on_decline(const struct dhcpd_config *cfg, const struct dhcpd_pool *p, struct dhcpd_lease_table *lt,
                       int64_t now, const struct dhcp_msg *req, struct dhcpd_result *res)
{
    struct client c;
    struct dhcpd_lease *l;
    client_of(req, &c);
    if (dhcp_has(req, DHO_SERVER_ID) && req->server_id.s_addr != p->server.s_addr) {
        none(res, false, "decline for another server");
        return;
    }
    if (!dhcp_has(req, DHO_REQUESTED_IP) || !assignable(p, req->requested_ip)) {
        none(res, true, "declined address not in the pool");
        return;
    }
    l = dhcpd_leases_find_addr(lt, req->requested_ip);
    if (l && dhcpd_lease_active(l, now) && !is_mine(l, &c)) {
        none(res, true, "declined address belongs to another client");
        return;
    }
    if (!(l = claim(lt, find_mine(lt, p, &c), &c, req, req->requested_ip))) {
        none(res, true, "out of memory");
        return;
    }
    dhcpd_lease_set_state(lt, l, DLEASE_DECLINED, now + cfg->decline_time, "decline");
    none(res, false, "declined");
}

static void on_inform(const struct dhcpd_pool *p, const struct dhcp_msg *req, struct dhcp_msg *r,
                      struct dhcpd_result *res)
{
    reply_init(req, p, DHCPACK, r);
    r->ciaddr = req->ciaddr;
    add_lease_opts(p, req, r, false, res);
    res->reply = DHCPD_ACK;
    res->reason = "inform";
}

void dhcpd_engine_handle(const struct dhcpd_config *cfg, const struct dhcpd_pool *pool, struct dhcpd_lease_table *lt,
                   int64_t now, const struct dhcp_msg *req, struct dhcp_msg *reply, struct dhcpd_result *res)
{
    memset(res, 0, sizeof *res);
    memset(reply, 0, sizeof *reply);
    res->kind = dhcp_msg_type_name(req->msg_type);
    if (req->op != BOOTREQUEST) {
        none(res, true, "not a BOOTREQUEST");
        return;
    }
    if (req->msg_type == 0) {
        none(res, true, "BOOTP without option 53 is not served");
        return;
    }
    if (!pool) {
        none(res, true, req->giaddr.s_addr != INADDR_ANY ? "no pool for giaddr" : "no pool for this interface");
        return;
    }
    if (!(dhcp_has(req, DHO_CLIENT_ID) && req->client_id_len > 0) && (req->hlen == 0 || req->hlen > 16)) {
        none(res, true, "no client identity (no option 61, hlen 0)");
        return;
    }

    switch (req->msg_type) {
    case DHCPDISCOVER:
        on_discover(cfg, pool, lt, now, req, reply, res);
        break;
    case DHCPREQUEST:
        on_request(pool, lt, now, req, reply, res);
        break;
    case DHCPRELEASE:
        on_release(pool, lt, now, req, res);
        break;
    case DHCPDECLINE:
        on_decline(cfg, pool, lt, now, req, res);
        break;
    case DHCPINFORM:
        on_inform(pool, req, reply, res);
        break;
    default:
        none(res, true, "not a client message type");
        break;
    }
    if (res->reply != DHCPD_NONE)
        set_destination(cfg, req, reply, res);
}
