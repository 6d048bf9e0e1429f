/* mock-dhcpd lease table: one entry per address handed out, keyed by client.
 *
 * A client is named by its Option 61 client identifier when it sent one, else by its chaddr.
 * Each entry binds one address to one client (or, DECLINED, to nobody for a while). Times are wall
 * clock seconds (time(NULL)) because the table is persisted: a JSON file written with
 * atomic_write_file() (the frontend coalesces the writes, see README.md) and read back at start.
 *
 * Indexes (leases.c, uthash): address -> entry and client -> entries, both O(1); per address range
 * (one per pool) a cursor over never-used addresses, a min-heap of addresses that became never-used
 * again below it, and a min-heap of the range's entries by expiry, so finding a free address is
 * O(1) amortised (O(log n) when an entry has to be reused). Entries are allocated one by one:
 * a pointer stays valid until dhcpd_leases_remove() of that entry or dhcpd_leases_free(). */
#ifndef MOCK_DHCPD_LEASES_H
#define MOCK_DHCPD_LEASES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define DLEASE_NEVER ((int64_t)INT64_MAX) /* expiry of an infinite lease */

enum dhcpd_lease_state {
    DLEASE_FREE,      /* not in the table (only used as the "old" side of a transition) */
    DLEASE_OFFERED,   /* reserved for the client until `expires` */
    DLEASE_BOUND,     /* ACKed, valid until `expires` */
    DLEASE_RELEASED,  /* the client gave it back; remembered to re-offer it the same address */
    DLEASE_DECLINED,  /* a client said the address is in use: nobody gets it until `expires` */
    DLEASE_STATE__COUNT
};
const char *dhcpd_lease_state_name(enum dhcpd_lease_state s);

/* Read-only for callers: change an entry only through the functions below (they keep the indexes
 * and the lease file's cached text up to date). */
struct dhcpd_lease {
    struct in_addr addr;
    enum dhcpd_lease_state state;
    int64_t expires;
    bool by_client_id;             /* key is Option 61 (else chaddr) */
    uint8_t key[255]; uint8_t key_len;
    uint8_t chaddr[16]; uint8_t hlen;
};

struct dhcpd_lease_index;          /* leases.c */

struct dhcpd_lease_table {
    struct dhcpd_lease_index *ix;  /* NULL until the first entry or range */
    size_t n;                      /* entries */
    bool dirty;                    /* changed since the last save */
};

/* An address range the table keeps an allocator for (one per pool): [start, end], without the
 * `skip` addresses (the pool's server and relay addresses, which are never handed out). */
struct dhcpd_lease_range {
    struct in_addr start, end;
    struct in_addr skip[2];
    uint8_t n_skip;
};

void dhcpd_leases_init(struct dhcpd_lease_table *t);
void dhcpd_leases_free(struct dhcpd_lease_table *t);

/* A lease is active while OFFERED/BOUND/DECLINED and not expired: nobody else may take its address. */
bool dhcpd_lease_active(const struct dhcpd_lease *l, int64_t now);

/* The client's entry (not DECLINED) whose address is in [lo, hi] (host order), or NULL. */
struct dhcpd_lease *dhcpd_leases_find_client(struct dhcpd_lease_table *t, const uint8_t *key, size_t key_len,
                                             bool by_client_id, uint32_t lo, uint32_t hi);
struct dhcpd_lease *dhcpd_leases_find_addr(struct dhcpd_lease_table *t, struct in_addr a);
/* Add an entry (state DLEASE_FREE, no client) for `a`, which must not be in the table; NULL when
 * out of memory. */
struct dhcpd_lease *dhcpd_leases_add(struct dhcpd_lease_table *t, struct in_addr a);
/* Remove and free an entry. Its address becomes never-used again. */
void dhcpd_leases_remove(struct dhcpd_lease_table *t, struct dhcpd_lease *l);
/* Give the entry to a client (key = Option 61 or chaddr): state DLEASE_FREE, expires 0, until the
 * caller's dhcpd_lease_set_state(). -1 when out of memory (the entry is unchanged). */
int dhcpd_leases_set_client(struct dhcpd_lease_table *t, struct dhcpd_lease *l, bool by_client_id,
                            const uint8_t *key, size_t key_len, const uint8_t *chaddr, size_t hlen);

/* The one transition function: logs event=lease.state with old -> new, sets dirty. */
void dhcpd_lease_set_state(struct dhcpd_lease_table *t, struct dhcpd_lease *l, enum dhcpd_lease_state st,
                           int64_t expires, const char *why);

/* Entries in table order (the lease file's order); NULL at the end. */
struct dhcpd_lease *dhcpd_leases_first(struct dhcpd_lease_table *t);
struct dhcpd_lease *dhcpd_leases_next(struct dhcpd_lease_table *t, struct dhcpd_lease *l);

/* ---- allocation ---- */

/* Index the table for these ranges (non-overlapping; range i is what the functions below call
 * `range`). A no-op when they are the ranges already indexed. -1 when out of memory. */
int dhcpd_leases_set_ranges(struct dhcpd_lease_table *t, const struct dhcpd_lease_range *r, size_t n);
/* The lowest address of the range that is in no entry and not skipped; false when none is left.
 * O(1) amortised: a cursor moves up the range once, addresses removed below it are kept in a heap. */
bool dhcpd_leases_unused(struct dhcpd_lease_table *t, size_t range, struct in_addr *out);
/* The inactive entry of the range that has been free the longest (smallest `expires`, then lowest
 * address), or NULL. Released entries count as free since their `expires` (the release time). */
struct dhcpd_lease *dhcpd_leases_oldest_free(struct dhcpd_lease_table *t, size_t range, int64_t now);

/* Check every index against the entries (for tests): 0, or -1 with the first inconsistency. */
int dhcpd_leases_check(struct dhcpd_lease_table *t, char *err, size_t errlen);

/* "fa:16:3e:14:db:05" or the client-id in hex, for logs; returns buf. */
char *dhcpd_lease_client_str(const struct dhcpd_lease *l, char *buf, size_t cap);

/* ---- lease file ---- */

/* Serialize to JSON text (malloc'd, NUL-terminated); NULL when out of memory. One entry per line,
 * each made by jansson once per change and cached. */
char *dhcpd_leases_to_json(struct dhcpd_lease_table *t);
/* Parse JSON text into an empty table; -1 with err on a malformed file. */
int dhcpd_leases_from_json(struct dhcpd_lease_table *t, const char *text, size_t len, char *err, size_t errlen);
/* Render the file into the table's own buffer: *text stays valid and unchanged until the next
 * render, save or dhcpd_leases_free() (so another thread may write it out meanwhile). Returns the
 * length, -1 when out of memory. Does not touch `dirty`. */
ssize_t dhcpd_leases_render(struct dhcpd_lease_table *t, const char **text);
/* Save with atomic_write_file (mode 0644) and clear dirty; -errno on failure. */
int dhcpd_leases_save(struct dhcpd_lease_table *t, const char *path);
/* Load a file; a missing file is an empty table (returns 0). -1 with err otherwise. */
int dhcpd_leases_load(struct dhcpd_lease_table *t, const char *path, char *err, size_t errlen);

#endif
