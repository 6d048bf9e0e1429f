/* Running the lab without root: the lab process moves itself into a new user + mount + network
 * namespace where it is uid 0 with every capability, and builds the whole topology in there.
 *
 *   lab (uid 1000)  --unshare(USER|NS|NET)-->  lab (uid 0 in its user namespace)
 *     uid_map "0 1000 1", setgroups "deny", gid_map "0 1000 1"
 *     mount / rslave; tmpfs on /run (private: /run/netns, /run/ztp-lab are fresh and writable)
 *     /etc/netns: tmpfs over it when it exists, else the per-namespace /etc files live in
 *     /run/ztp-lab/etc (topo_set_dirs); topo_enter() bind-mounts from there either way.
 *
 * Nothing the lab creates is visible from the host, and nothing outlives the lab: when the lab's
 * last process exits, its mount namespace goes, and with it every namespace bind mount, so a
 * killed unprivileged run leaves nothing behind (`lab clean` has nothing to do for it).
 *
 * The kernel allows it when: user.max_user_namespaces > 0, kernel.unprivileged_userns_clone = 1
 * (Debian/Ubuntu kernels that have it), kernel.apparmor_restrict_unprivileged_userns = 0 (Ubuntu
 * >= 23.10), and no seccomp filter blocks unshare(CLONE_NEWUSER) (Docker's default profile does).
 *
 * Limits inside: only uid/gid 0 exist (programs that drop privileges to another user, e.g. Squid's
 * cache_effective_user, must be configured to stay uid 0); ports < 1024 and raw sockets work (the
 * capabilities are real inside the namespaces the lab owns); the host's /run is hidden.
 */
#ifndef LAB_USERNS_H
#define LAB_USERNS_H

#include <stddef.h>

enum userns_result {
    USERNS_ROOT = 0,    /* already privileged (euid 0): nothing was done */
    USERNS_ENTERED = 1, /* now uid 0 in the lab's own user, mount and network namespaces */
};

/* Make the process able to build topologies. Root: returns USERNS_ROOT and changes nothing.
 * Otherwise enters the namespaces described above (the calling process must be single-threaded:
 * call it first thing in main) and returns USERNS_ENTERED. On failure returns -errno and writes
 * one sentence into why saying which setting prevents it and what to do. */
int userns_enter(char *why, size_t cap);

/* Would userns_enter() work here? Tries it in a short-lived forked child (so the caller is not
 * changed). Returns USERNS_ROOT, USERNS_ENTERED (possible) or -errno with the sentence in why. */
int userns_probe(char *why, size_t cap);

/* "root", "userns" (after a successful userns_enter) or "none": for logs and summary.json. */
const char *userns_mode(void);

/* The one sentence explaining why unprivileged user namespaces are not available here, from the
 * sysctls (used by userns_enter/userns_probe on failure; errno_hint is the failing errno). */
void userns_explain(int errno_hint, char *why, size_t cap);

#endif
