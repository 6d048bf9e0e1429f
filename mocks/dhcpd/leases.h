/* mock-dhcpd lease table: one entry per address handed out, keyed by client.
 *
 * A client is named by its Option 61 client identifier when it sent one, else by its chaddr.
 * Each entry binds one address to one client (or, DECLINED, to nobody for a while). Times are wall
 * clock seconds (time(NULL)) because the table is persisted: a JSON file written with
 * atomic_write_file() after every change and read back at start (see README.md). */
#ifndef MOCK_DHCPD_LEASES_H
#define MOCK_DHCPD_LEASES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

struct dhcpd_lease {
    struct in_addr addr;
    enum dhcpd_lease_state state;
    int64_t expires;
    bool by_client_id;             /* key is Option 61 (else chaddr) */
    uint8_t key[255]; uint8_t key_len;
    uint8_t chaddr[16]; uint8_t hlen;
};

struct dhcpd_lease_table {
    struct dhcpd_lease *v;
    size_t n, cap;
    bool dirty;                    /* changed since the last save */
};

void dhcpd_leases_init(struct dhcpd_lease_table *t);
void dhcpd_leases_free(struct dhcpd_lease_table *t);

/* A lease is active while OFFERED/BOUND/DECLINED and not expired: nobody else may take its address. */
bool dhcpd_lease_active(const struct dhcpd_lease *l, int64_t now);

/* The client's entry whose address is in [lo, hi] (host order), or NULL. */
struct dhcpd_lease *dhcpd_leases_find_client(struct dhcpd_lease_table *t, const uint8_t *key, size_t key_len, bool by_client_id,
                                 uint32_t lo, uint32_t hi);
struct dhcpd_lease *dhcpd_leases_find_addr(struct dhcpd_lease_table *t, struct in_addr a);
/* Append a zeroed entry (state DLEASE_FREE) for `a`; NULL when out of memory. Pointers into the
 * table are invalidated by dhcpd_leases_add() and dhcpd_leases_remove(). */
struct dhcpd_lease *dhcpd_leases_add(struct dhcpd_lease_table *t, struct in_addr a);
void dhcpd_leases_remove(struct dhcpd_lease_table *t, struct dhcpd_lease *l);

/* The one transition function: logs event=lease.state with old -> new, sets dirty. */
void dhcpd_lease_set_state(struct dhcpd_lease_table *t, struct dhcpd_lease *l, enum dhcpd_lease_state st,
                           int64_t expires, const char *why);

/* "fa:16:3e:14:db:05" or the client-id in hex, for logs; returns buf. */
char *dhcpd_lease_client_str(const struct dhcpd_lease *l, char *buf, size_t cap);

/* Serialize to JSON text (malloc'd, NUL-terminated); NULL when out of memory. */
char *dhcpd_leases_to_json(const struct dhcpd_lease_table *t);
/* Parse JSON text into an empty table; -1 with err on a malformed file. */
int dhcpd_leases_from_json(struct dhcpd_lease_table *t, const char *text, size_t len, char *err, size_t errlen);
/* Save with atomic_write_file (mode 0644) and clear dirty; -errno on failure. */
int dhcpd_leases_save(struct dhcpd_lease_table *t, const char *path);
/* Load a file; a missing file is an empty table (returns 0). -1 with err otherwise. */
int dhcpd_leases_load(struct dhcpd_lease_table *t, const char *path, char *err, size_t errlen);

#endif
