/* Lab topology: named network namespaces, veth pairs, bridges, addresses, routes, sysctls and
 * per-namespace /etc files, all through rtnetlink (libmnl) and plain syscalls; no `ip` processes.
 *
 * NAMES
 *   Every run has a run id: "zl" + one letter [a-z] + five [0-9a-z], e.g. "zlk3x9a2" (8 chars,
 *   TOPO_RUNID_LEN). The letter after "zl" keeps run ids apart from tests/integration/lib.sh's
 *   "zl<pid>" prefixes (digits only), so `lab clean` never touches a shell test's namespaces.
 *   A host's namespace is "RUNID-HOST" (e.g. "zlk3x9a2-r1a"); HOST is [a-z0-9][a-z0-9_.-]{0,30}.
 *   The namespace is an iproute2 named namespace: /run/netns/RUNID-HOST (`ip netns list`,
 *   `ip netns exec` see it), and its per-namespace files live in /etc/netns/RUNID-HOST/ (hosts,
 *   resolv.conf...), which `ip netns exec` and topo_enter() bind-mount over /etc/.
 *   Created as iproute2 does (ip/ipnetns.c): /run/netns is made a shared mount point (bind-mounted
 *   on itself once), an empty file /run/netns/NS is created, a thread unshare(CLONE_NEWNET)s and
 *   bind-mounts /proc/thread-self/ns/net on that file (the mount keeps the namespace alive with no
 *   process in it), then setns()es back. Removed by umount2(MNT_DETACH) + unlink, and
 *   /etc/netns/NS is removed with it.
 *   Interface names (max 15 chars, TOPO_IFNAME_MAX) carry no prefix: every interface is created
 *   directly inside its namespace (never in the namespace of the caller), so names of parallel runs
 *   cannot collide. The bridge of a segment lives in a namespace of its own (e.g. host "s-mpls"
 *   with bridge "br0"); `tcpdump -i br0` in that namespace captures the segment.
 *
 * RUN RECORD
 *   topo_new() writes <run dir>/RUNID.json (default /run/ztp-lab) BEFORE creating anything:
 *     {"runid":"zlk3x9a2","pid":1234,"pid_start":567890,"label":"ha-learned","keep":false,
 *      "created":"2026-11-23T13:40:01Z","namespaces":["zlk3x9a2-r1a",...]}
 *   and topo_destroy() removes it AFTER everything else. So a namespace of a valid run id without
 *   a record, or whose record names a dead pid (pid_start guards against pid reuse), is a leftover
 *   of a killed run; topo_clean_all() removes those and keeps runs whose pid is alive, and runs
 *   marked keep (`lab up`) unless asked (TOPO_CLEAN_KEPT).
 *
 * ERRORS
 *   Functions return 0 (or a value >= 0 where said) on success and -errno on failure; nothing is
 *   fatal. On failure, topo_err(t) holds one line naming the object and the cause, e.g.
 *     veth zlk3x9a2-r1a:wan0 -> zlk3x9a2-dhcp:eth0: File exists
 *     addr 198.18.1.2/24 on zlk3x9a2-r1a:wan0: No such device
 *   (with the kernel's extended-ack text appended when it gives one).
 *
 * THREADS AND NAMESPACES
 *   setns(2) changes the namespace of the calling THREAD only. Whenever topo must act inside a
 *   namespace (open its rtnetlink socket, write its /proc/sys, open a socket for the caller), it
 *   does it in one bounded step on the calling thread: save /proc/thread-self/ns/net, setns()
 *   into the target, do the one thing (a socket keeps the namespace it was created in; a file
 *   under /proc/sys/net is resolved at open time), setns() back to the saved one. If restoring
 *   fails, the thread is in an unknown namespace: that is a broken invariant and fatalx()s (it
 *   cannot happen unless the process lost CAP_SYS_ADMIN in between). Mount-namespace changes
 *   (topo_enter) are only ever made in a forked child, never in the lab process.
 *   A struct topo is not thread-safe; use one per thread. It caches one rtnetlink socket per
 *   namespace.
 *
 * PRIVILEGES
 *   Needs CAP_SYS_ADMIN + CAP_NET_ADMIN: real root, or root inside the lab's own user namespace
 *   (see userns.h, which calls topo_set_dirs() for its private /run).
 */
#ifndef LAB_TOPO_H
#define LAB_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/types.h>

#define TOPO_LAB_PREFIX "zl"
#define TOPO_RUNID_LEN 8                                   /* "zl" + [a-z] + 5 x [0-9a-z] */
#define TOPO_HOST_MAX 31                                   /* host part of a namespace name */
#define TOPO_NSNAME_MAX (TOPO_RUNID_LEN + 1 + TOPO_HOST_MAX) /* "RUNID-HOST", without the NUL */
#define TOPO_IFNAME_MAX 15                                 /* IFNAMSIZ - 1 */
#define TOPO_ERR_MAX 512
#define TOPO_LABEL_MAX 63

/* Default directories (see topo_set_dirs). */
#define TOPO_NETNS_DIR "/run/netns"
#define TOPO_ETC_DIR "/etc/netns"
#define TOPO_RUN_DIR "/run/ztp-lab"

/* ---- names (pure functions, no privileges needed) ---------------------------------------- */

/* A fresh random run id into out[TOPO_RUNID_LEN + 1] (getrandom). Returns 0 or -errno. */
int topo_runid_new(char *out);
/* True when s is exactly a run id: "zl" [a-z] [0-9a-z]{5}. */
bool topo_runid_valid(const char *s);
/* True when s is a valid host part: [a-z0-9][a-z0-9_.-]{0,30}. */
bool topo_host_valid(const char *s);
/* True when s is a valid interface name: 1..15 chars, none of '/', ':', whitespace, not "." or "..". */
bool topo_ifname_valid(const char *s);
/* "RUNID-HOST" into dst. Returns its length, -EINVAL for a bad run id or host, -ENAMETOOLONG when
 * cap is too small (cap >= TOPO_NSNAME_MAX + 1 always fits). */
int topo_nsname(char *dst, size_t cap, const char *runid, const char *host);
/* Split a namespace name "RUNID-HOST": true when it is one of the lab's, copying the run id into
 * runid[TOPO_RUNID_LEN + 1] (may be NULL) and pointing *host at the host part (may be NULL). */
bool topo_nsname_split(const char *nsname, char *runid, const char **host);
/* Parse "a.b.c.d/len" (len 0..32; "a.b.c.d" alone means /32). Returns 0 or -EINVAL. */
int topo_parse_cidr(const char *s, struct in_addr *addr, unsigned *prefixlen);
/* Parse a MAC "02:00:5e:00:00:01" into mac[6]. Returns 0 or -EINVAL. */
int topo_parse_mac(const char *s, unsigned char mac[6]);

/* ---- directories --------------------------------------------------------------------------- */

/* Override the three directories for the whole process (NULL keeps the current value). Used by
 * userns_enter() when running unprivileged, and by tests. Call before topo_new(). */
void topo_set_dirs(const char *netns_dir, const char *etc_dir, const char *run_dir);
const char *topo_netns_dir(void);
const char *topo_etc_dir(void);
const char *topo_run_dir(void);

/* ---- a run's topology ----------------------------------------------------------------------- */

struct topo;

enum {
    TOPO_NEW_NO_RECORD = 1 << 0, /* do not write a run record (tests only: without a record the run
                                    counts as dead, and topo_clean_all() removes it) */
    TOPO_NEW_KEEP = 1 << 1,      /* record keep=true: `lab up`; only topo_run_remove/--kept clean it */
};

/* Start a run: allocate the context and write the run record (pid = getpid()). `runid` must be
 * valid (topo_runid_new); `label` (may be NULL) is a free text shown by `lab` (scenario name).
 * Returns NULL and fills err (if non-NULL) on failure. Creates no namespace yet. */
struct topo *topo_new(const char *runid, const char *label, unsigned flags, char *err, size_t errlen);
/* Attach to an existing run (for `lab exec`/`lab down` from another process): no record is
 * written, nothing is created. Hosts are found as /run/netns/RUNID-HOST. */
struct topo *topo_open(const char *runid, char *err, size_t errlen);
/* Free the context and close its sockets. Removes nothing (see topo_destroy). NULL is a no-op. */
void topo_free(struct topo *t);

const char *topo_runid(const struct topo *t);
/* The last error message ("" when none). Valid until the next call on t. */
const char *topo_err(const struct topo *t);
/* Change the record's label and keep flag (rewrites the record). */
int topo_set_label(struct topo *t, const char *label, bool keep);

/* Namespace name "RUNID-HOST" of a host into dst (cap >= TOPO_NSNAME_MAX + 1). Returns length or
 * -errno. The host need not exist. */
int topo_host_ns(const struct topo *t, const char *host, char *dst, size_t cap);

enum {
    TOPO_NS_IPV6 = 1 << 0, /* keep IPv6 enabled (default: disable_ipv6=1 for all/default, so pcaps
                              carry no RS/MLD/DAD noise); with IPv6, DAD is off (accept_dad=0) */
};
/* Create host namespace RUNID-HOST (iproute2-compatible), bring lo up, apply the IPv6 defaults,
 * and add it to the run record. -EEXIST when it exists already. */
int topo_ns_add(struct topo *t, const char *host, unsigned flags);
/* Remove one host namespace: unmount + unlink /run/netns/RUNID-HOST, remove /etc/netns/RUNID-HOST.
 * Interfaces inside disappear with it (a veth's peer in another namespace goes too). */
int topo_ns_del(struct topo *t, const char *host);
/* True when /run/netns/RUNID-HOST exists. */
bool topo_ns_exists(const struct topo *t, const char *host);

/* A veth pair: end host_a:if_a and end host_b:if_b, each created directly in its namespace
 * (IFLA_NET_NS_FD on both ends), with the given MAC ("02:..", NULL = kernel random), both set up.
 * host_a may equal host_b. */
int topo_veth(struct topo *t, const char *host_a, const char *if_a, const char *mac_a,
              const char *host_b, const char *if_b, const char *mac_b);
/* A bridge `br` in host's namespace (STP off, forward delay 0), set up. */
int topo_bridge(struct topo *t, const char *host, const char *br);
/* Enslave host:ifname to bridge host:br and set the port up. */
int topo_bridge_port(struct topo *t, const char *host, const char *ifname, const char *br);
/* Make bridge port host:ifname isolated (on) or not: an isolated port exchanges frames only with
 * ports that are not isolated (a switch's protected port / private VLAN edge); the bridge skips
 * isolated ports when it floods a frame from another isolated one. */
int topo_bridge_port_isolated(struct topo *t, const char *host, const char *ifname, bool on);
/* Attach host:ifname to a segment: veth host:ifname (mac) <-> seg_host:PORT enslaved to
 * seg_host:br, both up. PORT is generated ("p" + counter, unique within the context) and copied
 * into port (may be NULL; cap >= TOPO_IFNAME_MAX + 1). */
int topo_attach(struct topo *t, const char *host, const char *ifname, const char *mac,
                const char *seg_host, const char *br, char *port, size_t cap);
/* Set a link up or down (faults: cut a link, restore it). */
int topo_link_set(struct topo *t, const char *host, const char *ifname, bool up);
/* Interface index of host:ifname (> 0) or -errno. */
int topo_ifindex(struct topo *t, const char *host, const char *ifname);
/* Add an IPv4 address "a.b.c.d/len" to host:ifname (broadcast set from the prefix). */
int topo_addr_add(struct topo *t, const char *host, const char *ifname, const char *cidr);
/* Remove an IPv4 address "a.b.c.d/len" from host:ifname. */
int topo_addr_del(struct topo *t, const char *host, const char *ifname, const char *cidr);
/* Add an IPv4 route in host's namespace: dst is "default" or "a.b.c.d/len"; gw is "a.b.c.d" or
 * NULL (on-link; then ifname is required); ifname may be NULL when gw is given. */
int topo_route_add(struct topo *t, const char *host, const char *dst, const char *gw, const char *ifname);
/* Set a sysctl in host's namespace by writing /proc/sys/KEY (dots become slashes), e.g.
 * ("net.ipv4.ip_forward", "1"). Only per-namespace keys (net.*) make sense. */
int topo_sysctl(struct topo *t, const char *host, const char *key, const char *value);
/* Write /etc/netns/RUNID-HOST/hosts: the NULL-terminated lines (each "ADDR NAME [NAME...]"),
 * one per line, after a "127.0.0.1 localhost" line. Processes started through topo_enter() or
 * `ip netns exec` see it as /etc/hosts. */
int topo_hosts(struct topo *t, const char *host, const char *const *lines);
/* Write /etc/netns/RUNID-HOST/NAME (e.g. "resolv.conf", "nsswitch.conf") with content. NAME is a
 * plain file name. Note: only names that exist in /etc are bind-mounted over it by topo_enter. */
int topo_etc_file(struct topo *t, const char *host, const char *name, const char *content);
/* A socket(domain, type | SOCK_CLOEXEC, proto) created inside host's namespace (it stays there);
 * returns the fd or -errno. E.g. for an expectation that a direct TCP connect fails. */
int topo_socket(struct topo *t, const char *host, int domain, int type, int proto);

/* Remove the whole run: every /run/netns/RUNID-* (not only those this context created), its
 * /etc/netns dirs, links named RUNID* in the caller's namespace, then the run record. Best effort:
 * continues past errors, returns the first. The context stays valid (topo_free it after).
 * Stop the run's processes first: a process inside a namespace keeps it (and its interfaces and
 * addresses) alive after its name is gone. The kernel frees a namespace asynchronously, so its
 * interfaces may linger for a few milliseconds after this returns; names never clash since the
 * next run has another run id. */
int topo_destroy(struct topo *t);

/* ---- in a forked child ---------------------------------------------------------------------- */

/* Enter namespace `nsname` (full name "RUNID-HOST", or any /run/netns name) the way
 * `ip netns exec` does, for a child between fork() and exec():
 *   setns(CLONE_NEWNET); unshare(CLONE_NEWNS); mount / MS_SLAVE|MS_REC (nothing propagates back);
 *   remount /sys so /sys/class/net shows this namespace; bind-mount every /etc/netns/NS/FILE over
 *   /etc/FILE (when /etc/FILE exists).
 * Then getaddrinfo() in the child resolves through the namespace's hosts file.
 * Returns 0 or -errno with a message in err. Uses opendir() (malloc): call it only after fork()
 * of a single-threaded process, or before starting threads. Never call it in the lab process. */
int topo_enter(const char *nsname, char *err, size_t errlen);

/* ---- runs and cleaning ---------------------------------------------------------------------- */

struct topo_run_info {
    char runid[TOPO_RUNID_LEN + 1];
    pid_t pid;            /* 0 when the run has no record (leftover) */
    bool alive;           /* the recorded pid runs and is the same process (start time) */
    bool keep;            /* `lab up` run */
    bool has_record;
    char label[TOPO_LABEL_MAX + 1];
    char created[32];     /* ISO 8601 UTC, "" when unknown */
    unsigned namespaces;  /* /run/netns entries RUNID-* present now */
};
/* Every run known on this machine: from the records and from /run/netns entries with a lab run
 * id (runs without a record appear with has_record=false). *out is malloc'd (free() it); sorted
 * by run id. Returns 0 or -errno. */
int topo_runs_list(struct topo_run_info **out, size_t *n);

enum {
    TOPO_CLEAN_KEPT = 1 << 0,   /* also remove dead runs marked keep (`lab clean --all`) */
    TOPO_CLEAN_DRY_RUN = 1 << 1 /* only count what would be removed */
};
struct topo_clean_report {
    unsigned runs_removed;   /* runs whose objects were removed */
    unsigned runs_alive;     /* skipped: pid alive */
    unsigned runs_kept;      /* skipped: keep, without TOPO_CLEAN_KEPT */
    unsigned netns_removed;  /* /run/netns entries */
    unsigned etc_removed;    /* /etc/netns dirs */
    unsigned links_removed;  /* stray links named RUNID* in the caller's namespace */
    unsigned records_removed;
};
/* `lab clean`: for every lab run whose run id starts with `prefix` (NULL or "" = every lab run,
 * i.e. "zl" + run-id format; a full run id = that run only): when its pid is dead (or it has no
 * record), remove its /run/netns/RUNID-* entries, /etc/netns/RUNID-* dirs, stray links named
 * RUNID* in the caller's network namespace, and its record. Live runs are never touched; kept runs
 * only with TOPO_CLEAN_KEPT. rep (may be NULL) counts. Returns 0 or the first -errno (continues
 * past errors), with the message in err. */
int topo_clean_all(const char *prefix, unsigned flags, struct topo_clean_report *rep, char *err,
                   size_t errlen);
/* `lab down`: remove one run whatever its pid or keep flag. Returns 0, -ENOENT when nothing of it
 * exists, or the first -errno. */
int topo_run_remove(const char *runid, char *err, size_t errlen);

#endif
