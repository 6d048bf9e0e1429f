#include "leases.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/util.h"
#include "ztp/log.h"

/* uthash (Debian uthash-dev): an out-of-memory while adding leaves the hash as it was and sets
 * hash_oom, so a full memory drops one request instead of the daemon. */
static bool hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = true)
#include <uthash.h>
#include <utlist.h>

#define LEASES_MAX_BYTES (64u << 20)

struct client;
struct range;

/* One entry. The public part comes first, so a struct dhcpd_lease * is a struct node *. */
struct node {
    struct dhcpd_lease l;
    UT_hash_handle hh;            /* by address (l.addr.s_addr); the hash's order is the file's */
    struct client *cl;            /* the client's index entry; NULL when the entry has no key */
    struct node *cprev, *cnext;   /* the client's other entries (one per pool, plus declined ones) */
    struct range *rg;             /* the range of the address (NULL: in none, or a skipped address) */
    size_t hpos;                  /* position in rg->heap */
    int64_t hkey;                 /* l.expires as the heap knows it */
    char *line;                   /* the entry as a JSON object (jansson), NULL when it changed */
    size_t line_len;
};

/* A client key: by_client_id (0 or 1), then the Option 61 or chaddr bytes. */
struct client {
    UT_hash_handle hh;
    struct node *leases;          /* utlist DL list through cprev/cnext */
    size_t klen;
    uint8_t k[];
};

struct range {
    struct dhcpd_lease_range spec;
    uint32_t lo, hi;              /* host order */
    uint64_t cursor;              /* every address below it is in the table, skipped, or in holes */
    uint32_t *holes;              /* min-heap of addresses below the cursor that left the table */
    size_t n_holes, cap_holes;    /* (lazy: an address may since be back in the table) */
    struct node **heap;           /* the range's entries, min-heap by (hkey, address) */
    size_t n_heap, cap_heap;
};

struct dhcpd_lease_index {
    struct node *by_addr;
    struct client *clients;
    struct range *ranges;
    size_t n_ranges;
    char *buf;                    /* the lease file's text, reused from save to save */
    size_t cap;
};

static const char *const state_names[DLEASE_STATE__COUNT] = {
    [DLEASE_FREE] = "free", [DLEASE_OFFERED] = "offered", [DLEASE_BOUND] = "bound",
    [DLEASE_RELEASED] = "released", [DLEASE_DECLINED] = "declined",
};

const char *dhcpd_lease_state_name(enum dhcpd_lease_state s)
{
    return (unsigned)s < DLEASE_STATE__COUNT ? state_names[s] : "invalid";
}

static struct node *node_of(struct dhcpd_lease *l) { return (struct node *)l; }
static uint32_t host_addr(const struct node *n) { return ntohl(n->l.addr.s_addr); }

static struct dhcpd_lease_index *ix_get(struct dhcpd_lease_table *t)
{
    if (!t->ix)
        t->ix = calloc(1, sizeof *t->ix);
    return t->ix;
}

void dhcpd_leases_init(struct dhcpd_lease_table *t) { memset(t, 0, sizeof *t); }

static void ranges_free(struct dhcpd_lease_index *ix)
{
    for (size_t i = 0; i < ix->n_ranges; i++) {
        free(ix->ranges[i].holes);
        free(ix->ranges[i].heap);
    }
    free(ix->ranges);
    ix->ranges = NULL;
    ix->n_ranges = 0;
}

void dhcpd_leases_free(struct dhcpd_lease_table *t)
{
    struct dhcpd_lease_index *ix = t->ix;
    struct node *n, *ntmp;
    struct client *c, *ctmp;
    if (ix) {
        HASH_ITER(hh, ix->by_addr, n, ntmp) {
            HASH_DEL(ix->by_addr, n);
            free(n->line);
            free(n);
        }
        HASH_ITER(hh, ix->clients, c, ctmp) {
            HASH_DEL(ix->clients, c);
            free(c);
        }
        ranges_free(ix);
        free(ix->buf);
        free(ix);
    }
    memset(t, 0, sizeof *t);
}

bool dhcpd_lease_active(const struct dhcpd_lease *l, int64_t now)
{
    return (l->state == DLEASE_OFFERED || l->state == DLEASE_BOUND || l->state == DLEASE_DECLINED) && l->expires > now;
}

/* ---- the per-range heaps ---- */

static bool node_before(const struct node *a, const struct node *b)
{
    if (a->hkey != b->hkey)
        return a->hkey < b->hkey;
    return host_addr(a) < host_addr(b);
}

static void heap_put(struct range *r, size_t i, struct node *n)
{
    r->heap[i] = n;
    n->hpos = i;
}

static void heap_up(struct range *r, size_t i)
{
    struct node *n = r->heap[i];
    while (i > 0 && node_before(n, r->heap[(i - 1) / 2])) {
        heap_put(r, i, r->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(r, i, n);
}

static void heap_down(struct range *r, size_t i)
{
    struct node *n = r->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->n_heap)
            break;
        if (c + 1 < r->n_heap && node_before(r->heap[c + 1], r->heap[c]))
            c++;
        if (!node_before(r->heap[c], n))
            break;
        heap_put(r, i, r->heap[c]);
        i = c;
    }
    heap_put(r, i, n);
}

static int heap_push(struct range *r, struct node *n)
{
    if (r->n_heap == r->cap_heap) {
        size_t cap = r->cap_heap ? r->cap_heap * 2 : 64;
        struct node **h = realloc(r->heap, cap * sizeof *h);
        if (!h)
            return -1;
        r->heap = h;
        r->cap_heap = cap;
    }
    heap_put(r, r->n_heap++, n);
    heap_up(r, n->hpos);
    return 0;
}

static void heap_remove(struct range *r, struct node *n)
{
    size_t i = n->hpos;
    struct node *last = r->heap[--r->n_heap];
    if (last == n)
        return;
    heap_put(r, i, last);
    heap_up(r, i);
    heap_down(r, last->hpos);
}

static void hole_push(struct range *r, uint32_t h)
{
    size_t i;
    if (r->n_holes == r->cap_holes) {
        size_t cap = r->cap_holes ? r->cap_holes * 2 : 16;
        uint32_t *v = realloc(r->holes, cap * sizeof *v);
        if (!v) {
            /* Moving the cursor back keeps its promise too (at the cost of a rescan). */
            if (h < r->cursor)
                r->cursor = h;
            return;
        }
        r->holes = v;
        r->cap_holes = cap;
    }
    for (i = r->n_holes++; i > 0 && h < r->holes[(i - 1) / 2]; i = (i - 1) / 2)
        r->holes[i] = r->holes[(i - 1) / 2];
    r->holes[i] = h;
}

static void hole_pop(struct range *r)
{
    uint32_t last = r->holes[--r->n_holes];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->n_holes)
            break;
        if (c + 1 < r->n_holes && r->holes[c + 1] < r->holes[c])
            c++;
        if (r->holes[c] >= last)
            break;
        r->holes[i] = r->holes[c];
        i = c;
    }
    if (r->n_holes)
        r->holes[i] = last;
}

static bool range_skips(const struct range *r, uint32_t h)
{
    for (uint8_t i = 0; i < r->spec.n_skip; i++)
        if (ntohl(r->spec.skip[i].s_addr) == h)
            return true;
    return false;
}

static struct range *range_of(struct dhcpd_lease_index *ix, uint32_t h)
{
    for (size_t i = 0; i < ix->n_ranges; i++) {
        struct range *r = &ix->ranges[i];
        if (h >= r->lo && h <= r->hi)
            return range_skips(r, h) ? NULL : r;
    }
    return NULL;
}

/* A change of the entry: the heap learns the new expiry, the file's cached line goes. */
static void node_changed(struct node *n)
{
    if (n->hkey != n->l.expires) {
        n->hkey = n->l.expires;
        if (n->rg) {
            heap_up(n->rg, n->hpos);
            heap_down(n->rg, n->hpos);
        }
    }
    free(n->line);
    n->line = NULL;
}

/* ---- entries and clients ---- */

static struct node *find_h(struct dhcpd_lease_index *ix, uint32_t h)
{
    struct node *n = NULL;
    uint32_t key = htonl(h);
    if (ix)
        HASH_FIND(hh, ix->by_addr, &key, sizeof key, n);
    return n;
}

struct dhcpd_lease *dhcpd_leases_find_addr(struct dhcpd_lease_table *t, struct in_addr a)
{
    struct node *n = find_h(t->ix, ntohl(a.s_addr));
    return n ? &n->l : NULL;
}

static size_t client_key(uint8_t *k, bool by_client_id, const uint8_t *key, size_t key_len)
{
    k[0] = by_client_id;
    memcpy(k + 1, key, key_len);
    return key_len + 1;
}

static struct client *client_find(struct dhcpd_lease_index *ix, const uint8_t *k, size_t klen)
{
    struct client *c = NULL;
    if (ix)
        HASH_FIND(hh, ix->clients, k, klen, c);
    return c;
}

static void client_unlink(struct dhcpd_lease_index *ix, struct node *n)
{
    struct client *c = n->cl;
    if (!c)
        return;
    DL_DELETE2(c->leases, n, cprev, cnext);
    n->cl = NULL;
    if (!c->leases) {
        HASH_DEL(ix->clients, c);
        free(c);
    }
}

struct dhcpd_lease *dhcpd_leases_find_client(struct dhcpd_lease_table *t, const uint8_t *key, size_t key_len,
                                             bool by_client_id, uint32_t lo, uint32_t hi)
{
    uint8_t k[256];
    struct client *c;
    struct node *n;
    if (key_len == 0 || key_len > 255)
        return NULL;
    c = client_find(t->ix, k, client_key(k, by_client_id, key, key_len));
    if (!c)
        return NULL;
    DL_FOREACH2(c->leases, n, cnext) {
        uint32_t h = host_addr(n);
        if (n->l.state != DLEASE_DECLINED && h >= lo && h <= hi)
            return &n->l;
    }
    return NULL;
}

struct dhcpd_lease *dhcpd_leases_add(struct dhcpd_lease_table *t, struct in_addr a)
{
    struct dhcpd_lease_index *ix = ix_get(t);
    struct node *n;
    if (!ix || find_h(ix, ntohl(a.s_addr)))
        return NULL;
    if (!(n = calloc(1, sizeof *n)))
        return NULL;
    n->l.addr = a;
    n->l.state = DLEASE_FREE;
    hash_oom = false;
    HASH_ADD(hh, ix->by_addr, l.addr.s_addr, sizeof n->l.addr.s_addr, n);
    if (hash_oom) {
        free(n);
        return NULL;
    }
    n->rg = range_of(ix, host_addr(n));
    if (n->rg && heap_push(n->rg, n) < 0) {
        HASH_DEL(ix->by_addr, n);
        free(n);
        return NULL;
    }
    t->n++;
    return &n->l;
}

void dhcpd_leases_remove(struct dhcpd_lease_table *t, struct dhcpd_lease *l)
{
    struct node *n = node_of(l);
    struct dhcpd_lease_index *ix = t->ix;
    if (find_h(ix, host_addr(n)) != n)
        fatalx("lease.invariant", "reason=\"remove of an entry not in the table\"");
    client_unlink(ix, n);
    if (n->rg) {
        heap_remove(n->rg, n);
        if (host_addr(n) < n->rg->cursor)
            hole_push(n->rg, host_addr(n));
    }
    HASH_DEL(ix->by_addr, n);
    free(n->line);
    free(n);
    t->n--;
    t->dirty = true;
}

int dhcpd_leases_set_client(struct dhcpd_lease_table *t, struct dhcpd_lease *l, bool by_client_id,
                            const uint8_t *key, size_t key_len, const uint8_t *chaddr, size_t hlen)
{
    struct dhcpd_lease_index *ix = t->ix;
    struct node *n = node_of(l);
    struct client *c = NULL;
    uint8_t k[256];
    size_t klen;

    if (key_len > sizeof l->key || hlen > sizeof l->chaddr)
        fatalx("lease.invariant", "reason=\"client key too long\" key_len=%zu hlen=%zu", key_len, hlen);
    if (key_len > 0) {
        klen = client_key(k, by_client_id, key, key_len);
        c = client_find(ix, k, klen);
        if (!c) {
            if (!(c = calloc(1, sizeof *c + klen)))
                return -1;
            memcpy(c->k, k, klen);
            c->klen = klen;
            hash_oom = false;
            HASH_ADD_KEYPTR(hh, ix->clients, c->k, c->klen, c);
            if (hash_oom) {
                free(c);
                return -1;
            }
        }
    }
    if (c != n->cl) {
        client_unlink(ix, n);
        if (c) {
            DL_APPEND2(c->leases, n, cprev, cnext);
            n->cl = c;
        }
    }
    l->by_client_id = by_client_id;
    memcpy(l->key, key, key_len);
    l->key_len = (uint8_t)key_len;
    memcpy(l->chaddr, chaddr, hlen);
    l->hlen = (uint8_t)hlen;
    l->state = DLEASE_FREE;
    l->expires = 0;
    node_changed(n);
    return 0;
}

char *dhcpd_lease_client_str(const struct dhcpd_lease *l, char *buf, size_t cap)
{
    if (l->state == DLEASE_DECLINED && l->key_len == 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    if (l->by_client_id)
        return log_hex(buf, cap, l->key, l->key_len);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->hlen && o + 4 <= cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%02x", i ? ":" : "", l->chaddr[i]);
    return buf;
}

void dhcpd_lease_set_state(struct dhcpd_lease_table *t, struct dhcpd_lease *l, enum dhcpd_lease_state st,
                           int64_t expires, const char *why)
{
    char addr[INET_ADDRSTRLEN], client[520];
    enum dhcpd_lease_state old = l->state;
    if ((unsigned)st >= DLEASE_STATE__COUNT || st == DLEASE_FREE)
        fatalx("lease.invariant", "reason=\"bad target state\" state=%d", (int)st);
    l->state = st;
    l->expires = expires;
    node_changed(node_of(l));
    t->dirty = true;
    if (old != st)
        log_info("lease.state", "addr=%s client=%s old=%s new=%s why=%s",
                 inet_ntop(AF_INET, &l->addr, addr, sizeof addr), dhcpd_lease_client_str(l, client, sizeof client),
                 dhcpd_lease_state_name(old), dhcpd_lease_state_name(st), why);
}

struct dhcpd_lease *dhcpd_leases_first(struct dhcpd_lease_table *t)
{
    return t->ix && t->ix->by_addr ? &t->ix->by_addr->l : NULL;
}

struct dhcpd_lease *dhcpd_leases_next(struct dhcpd_lease_table *t, struct dhcpd_lease *l)
{
    struct node *n = node_of(l)->hh.next;
    return n ? &n->l : NULL;
}

/* ---- allocation ---- */

static bool range_same(const struct dhcpd_lease_range *a, const struct dhcpd_lease_range *b)
{
    if (a->start.s_addr != b->start.s_addr || a->end.s_addr != b->end.s_addr || a->n_skip != b->n_skip)
        return false;
    for (uint8_t i = 0; i < a->n_skip; i++)
        if (a->skip[i].s_addr != b->skip[i].s_addr)
            return false;
    return true;
}

int dhcpd_leases_set_ranges(struct dhcpd_lease_table *t, const struct dhcpd_lease_range *r, size_t n)
{
    struct dhcpd_lease_index *ix = ix_get(t);
    struct node *e;
    bool same;
    if (!ix)
        return -1;
    same = ix->n_ranges == n && ix->ranges;
    for (size_t i = 0; same && i < n; i++)
        same = range_same(&ix->ranges[i].spec, &r[i]);
    if (same)
        return 0;
    ranges_free(ix);
    for (e = ix->by_addr; e; e = e->hh.next)
        e->rg = NULL;
    if (n == 0)
        return 0;
    if (!(ix->ranges = calloc(n, sizeof *ix->ranges)))
        return -1;
    ix->n_ranges = n;
    for (size_t i = 0; i < n; i++) {
        struct range *g = &ix->ranges[i];
        g->spec = r[i];
        if (g->spec.n_skip > 2)
            g->spec.n_skip = 2;
        g->lo = ntohl(r[i].start.s_addr);
        g->hi = ntohl(r[i].end.s_addr);
        g->cursor = g->lo;
    }
    for (e = ix->by_addr; e; e = e->hh.next) {
        e->rg = range_of(ix, host_addr(e));
        e->hkey = e->l.expires;
        if (e->rg && heap_push(e->rg, e) < 0) {
            for (struct node *f = ix->by_addr; f; f = f->hh.next)
                f->rg = NULL;
            ranges_free(ix);
            return -1;
        }
    }
    return 0;
}

bool dhcpd_leases_unused(struct dhcpd_lease_table *t, size_t range, struct in_addr *out)
{
    struct range *r;
    if (!t->ix || range >= t->ix->n_ranges)
        return false;
    r = &t->ix->ranges[range];
    /* Addresses that left the table below the cursor are lower than anything at or above it. */
    while (r->n_holes) {
        if (!find_h(t->ix, r->holes[0])) {
            out->s_addr = htonl(r->holes[0]);
            return true;
        }
        hole_pop(r);
    }
    for (; r->cursor <= r->hi; r->cursor++) {
        uint32_t h = (uint32_t)r->cursor;
        if (!range_skips(r, h) && !find_h(t->ix, h)) {
            out->s_addr = htonl(h);
            return true;
        }
    }
    return false;
}

struct dhcpd_lease *dhcpd_leases_oldest_free(struct dhcpd_lease_table *t, size_t range, int64_t now)
{
    struct range *r;
    if (!t->ix || range >= t->ix->n_ranges)
        return NULL;
    r = &t->ix->ranges[range];
    if (r->n_heap == 0 || dhcpd_lease_active(&r->heap[0]->l, now))
        return NULL;
    return &r->heap[0]->l;
}

/* ---- self-check ---- */

static bool is_hole(const struct range *r, uint32_t h)
{
    for (size_t i = 0; i < r->n_holes; i++)
        if (r->holes[i] == h)
            return true;
    return false;
}

int dhcpd_leases_check(struct dhcpd_lease_table *t, char *err, size_t errlen)
{
    struct dhcpd_lease_index *ix = t->ix;
    struct node *n, *m;
    struct client *c;
    size_t count = 0, in_heaps = 0, in_lists = 0;
    uint8_t k[256];
    if (!ix)
        return t->n == 0 ? 0 : errf(err, errlen, "no index but n=%zu", t->n);
    for (n = ix->by_addr; n; n = n->hh.next) {
        count++;
        if (find_h(ix, host_addr(n)) != n)
            return errf(err, errlen, "address hash does not find %08x", host_addr(n));
        if (n->l.key_len == 0) {
            if (n->cl)
                return errf(err, errlen, "entry %08x without a key is on a client", host_addr(n));
        } else {
            size_t klen = client_key(k, n->l.by_client_id, n->l.key, n->l.key_len);
            if (!n->cl || client_find(ix, k, klen) != n->cl)
                return errf(err, errlen, "entry %08x is not on its client", host_addr(n));
            bool found = false;
            DL_FOREACH2(n->cl->leases, m, cnext) found |= m == n;
            if (!found)
                return errf(err, errlen, "entry %08x is missing from its client's list", host_addr(n));
        }
        if (n->rg != range_of(ix, host_addr(n)))
            return errf(err, errlen, "entry %08x has the wrong range", host_addr(n));
        if (n->rg && (n->hpos >= n->rg->n_heap || n->rg->heap[n->hpos] != n))
            return errf(err, errlen, "entry %08x is not where its range's heap says", host_addr(n));
        if (n->hkey != n->l.expires)
            return errf(err, errlen, "entry %08x: heap key %lld, expires %lld", host_addr(n), (long long)n->hkey,
                        (long long)n->l.expires);
    }
    if (count != t->n || HASH_COUNT(ix->by_addr) != t->n)
        return errf(err, errlen, "%zu entries listed, %u hashed, n=%zu", count, HASH_COUNT(ix->by_addr), t->n);
    for (c = ix->clients; c; c = c->hh.next) {
        if (!c->leases)
            return errf(err, errlen, "a client without entries");
        DL_FOREACH2(c->leases, m, cnext) {
            if (m->cl != c || client_key(k, m->l.by_client_id, m->l.key, m->l.key_len) != c->klen ||
                memcmp(k, c->k, c->klen) != 0)
                return errf(err, errlen, "entry %08x is on another client's list", host_addr(m));
            in_lists++;
        }
    }
    for (size_t i = 0; i < ix->n_ranges; i++) {
        struct range *r = &ix->ranges[i];
        for (size_t j = 1; j < r->n_heap; j++)
            if (node_before(r->heap[j], r->heap[(j - 1) / 2]))
                return errf(err, errlen, "range %zu: heap order broken at %zu", i, j);
        for (size_t j = 1; j < r->n_holes; j++)
            if (r->holes[j] < r->holes[(j - 1) / 2])
                return errf(err, errlen, "range %zu: hole heap order broken at %zu", i, j);
        for (uint64_t h = r->lo; h < r->cursor; h++)
            if (!range_skips(r, (uint32_t)h) && !find_h(ix, (uint32_t)h) && !is_hole(r, (uint32_t)h))
                return errf(err, errlen, "range %zu: %08llx below the cursor is neither used nor a hole", i,
                            (unsigned long long)h);
        in_heaps += r->n_heap;
    }
    for (n = ix->by_addr; n; n = n->hh.next)
        in_heaps -= n->rg != NULL;
    if (in_heaps != 0)
        return errf(err, errlen, "range heaps hold entries that are not in the table");
    for (n = ix->by_addr; n; n = n->hh.next)
        in_lists -= n->cl != NULL;
    if (in_lists != 0)
        return errf(err, errlen, "client lists hold entries that are not in the table");
    return 0;
}

/* ---- persistence ---- */

static void hex_to(char *dst, const uint8_t *p, size_t n, char sep)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (sep && i)
            dst[o++] = sep;
        o += (size_t)sprintf(dst + o, "%02x", p[i]);
    }
    dst[o] = '\0';
}

/* The entry as one line of JSON (jansson's default separators: `"key": value, ...`). */
static int node_line(struct node *n)
{
    const struct dhcpd_lease *l = &n->l;
    char addr[INET_ADDRSTRLEN], hex[3 * 255 + 1];
    json_t *e = json_object();
    if (!e)
        return -1;
    json_object_set_new(e, "address", json_string(inet_ntop(AF_INET, &l->addr, addr, sizeof addr)));
    json_object_set_new(e, "state", json_string(dhcpd_lease_state_name(l->state)));
    json_object_set_new(e, "expires", l->expires == DLEASE_NEVER ? json_null() : json_integer(l->expires));
    if (l->hlen) {
        hex_to(hex, l->chaddr, l->hlen, ':');
        json_object_set_new(e, "chaddr", json_string(hex));
    }
    if (l->by_client_id) {
        hex_to(hex, l->key, l->key_len, 0);
        json_object_set_new(e, "client_id", json_string(hex));
    }
    n->line = json_dumps(e, JSON_PRESERVE_ORDER);
    json_decref(e);
    if (!n->line)
        return -1;
    n->line_len = strlen(n->line);
    return 0;
}

/* The whole file into ix->buf: a fixed head, one entry per line, a fixed tail. Entries that did not
 * change since the last save reuse their line, so a save costs one jansson call per changed entry
 * and a copy. Returns the length, or -1 when out of memory. */
static ssize_t render(struct dhcpd_lease_table *t)
{
    static const char head[] = "{\n  \"version\": 1,\n  \"leases\": [\n", tail[] = "  ]\n}\n";
    struct dhcpd_lease_index *ix = ix_get(t);
    size_t need = sizeof head + sizeof tail, o = 0;
    struct node *n;
    if (!ix)
        return -1;
    for (n = ix->by_addr; n; n = n->hh.next) {
        if (!n->line && node_line(n) < 0)
            return -1;
        need += n->line_len + 6;
    }
    if (need > ix->cap) {
        char *b = realloc(ix->buf, need);
        if (!b)
            return -1;
        ix->buf = b;
        ix->cap = need;
    }
    memcpy(ix->buf, head, sizeof head - 1);
    o = sizeof head - 1;
    for (n = ix->by_addr; n; n = n->hh.next) {
        memcpy(ix->buf + o, "    ", 4);
        memcpy(ix->buf + o + 4, n->line, n->line_len);
        o += 4 + n->line_len;
        if (n->hh.next)
            ix->buf[o++] = ',';
        ix->buf[o++] = '\n';
    }
    memcpy(ix->buf + o, tail, sizeof tail);
    return (ssize_t)(o + sizeof tail - 1);
}

char *dhcpd_leases_to_json(struct dhcpd_lease_table *t)
{
    ssize_t n = render(t);
    char *s;
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    memcpy(s, t->ix->buf, (size_t)n + 1);
    return s;
}

static int entry_from_json(json_t *e, size_t i, struct dhcpd_lease *l, char *err, size_t errlen)
{
    static const char *const keys[] = {"address", "state", "expires", "chaddr", "client_id", NULL};
    const char *key;
    json_t *v;
    size_t n;

    memset(l, 0, sizeof *l);
    if (!json_is_object(e))
        return errf(err, errlen, "leases[%zu]: must be an object", i);
    json_object_foreach(e, key, v) {
        bool ok = false;
        for (size_t k = 0; keys[k]; k++)
            ok |= strcmp(key, keys[k]) == 0;
        if (!ok)
            return errf(err, errlen, "leases[%zu]: unknown key \"%s\"", i, key);
    }
    v = json_object_get(e, "address");
    if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), &l->addr) != 1)
        return errf(err, errlen, "leases[%zu].address: not an IPv4 address", i);
    v = json_object_get(e, "state");
    l->state = DLEASE_STATE__COUNT;
    for (unsigned s = DLEASE_OFFERED; s < DLEASE_STATE__COUNT && json_is_string(v); s++)
        if (strcmp(json_string_value(v), state_names[s]) == 0)
            l->state = (enum dhcpd_lease_state)s;
    if (l->state == DLEASE_STATE__COUNT)
        return errf(err, errlen, "leases[%zu].state: not offered, bound, released or declined", i);
    v = json_object_get(e, "expires");
    if (json_is_null(v))
        l->expires = DLEASE_NEVER;
    else if (json_is_integer(v))
        l->expires = json_integer_value(v);
    else
        return errf(err, errlen, "leases[%zu].expires: must be an integer (unix time) or null", i);
    v = json_object_get(e, "chaddr");
    if (v) {
        if (!json_is_string(v) || hex_decode(json_string_value(v), l->chaddr, sizeof l->chaddr, &n) < 0)
            return errf(err, errlen, "leases[%zu].chaddr: not hex bytes (at most 16)", i);
        l->hlen = (uint8_t)n;
    }
    v = json_object_get(e, "client_id");
    if (v) {
        if (!json_is_string(v) || hex_decode(json_string_value(v), l->key, sizeof l->key, &n) < 0 || n == 0)
            return errf(err, errlen, "leases[%zu].client_id: not hex bytes (1..255)", i);
        l->key_len = (uint8_t)n;
        l->by_client_id = true;
    } else if (l->hlen) {
        memcpy(l->key, l->chaddr, l->hlen);
        l->key_len = l->hlen;
    } else if (l->state != DLEASE_DECLINED) {
        return errf(err, errlen, "leases[%zu]: needs chaddr or client_id", i);
    }
    return 0;
}

int dhcpd_leases_from_json(struct dhcpd_lease_table *t, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *arr, *e;
    size_t i;
    int rc = -1;
    if (!root)
        return errf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) != 1) {
        errf(err, errlen, "not a version 1 lease file");
        goto out;
    }
    arr = json_object_get(root, "leases");
    if (!json_is_array(arr)) {
        errf(err, errlen, "leases: must be an array");
        goto out;
    }
    json_array_foreach(arr, i, e) {
        struct dhcpd_lease tmp, *l;
        if (entry_from_json(e, i, &tmp, err, errlen) < 0)
            goto out;
        if (dhcpd_leases_find_addr(t, tmp.addr)) {
            errf(err, errlen, "leases[%zu].address: listed twice", i);
            goto out;
        }
        if (!(l = dhcpd_leases_add(t, tmp.addr)) ||
            dhcpd_leases_set_client(t, l, tmp.by_client_id, tmp.key, tmp.key_len, tmp.chaddr, tmp.hlen) < 0) {
            errf(err, errlen, "out of memory");
            goto out;
        }
        l->state = tmp.state;
        l->expires = tmp.expires;
        node_changed(node_of(l));
    }
    t->dirty = false;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

ssize_t dhcpd_leases_render(struct dhcpd_lease_table *t, const char **text)
{
    ssize_t n = render(t);
    *text = n < 0 ? NULL : t->ix->buf;
    return n;
}

int dhcpd_leases_save(struct dhcpd_lease_table *t, const char *path)
{
    ssize_t n = render(t);
    int r;
    if (n < 0)
        return -ENOMEM;
    r = atomic_write_file(path, t->ix->buf, (size_t)n, 0644);
    if (r == 0)
        t->dirty = false;
    return r;
}

int dhcpd_leases_load(struct dhcpd_lease_table *t, const char *path, char *err, size_t errlen)
{
    char *text, inner[256];
    size_t len;
    int r = read_file_max(path, LEASES_MAX_BYTES, &text, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return errf(err, errlen, "%s: %s", path, strerror(-r));
    r = dhcpd_leases_from_json(t, text, len, inner, sizeof inner);
    free(text);
    if (r < 0) {
        dhcpd_leases_free(t);
        return errf(err, errlen, "%s: %s", path, inner);
    }
    return 0;
}
