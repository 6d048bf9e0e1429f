/* One scenario run: topology, processes, captures, steps, expectations, artifacts, teardown.
 *
 *   1. artifacts: ARTIFACTS/NAME/ is emptied and gets logs/, pcap/, one dir per host
 *   2. topology (topo.h): a namespace per host and per bridge segment ("s-SEG", bridge br0),
 *      veths, addresses, routes, forwarding, a hosts file per namespace mapping the Mist names
 *      to the ep-terminator and mist hosts and every host's name to its first address
 *   3. one tcpdump per segment (pcap/SEG.pcap), listening before anything else starts
 *   4. with an ep-terminator: the generated secrets (an OCRA key per router node, a staging
 *      pre-shared secret per router, the production secret) and the PKI in ARTIFACTS/NAME/pki
 *      (certs.h: mist-ca, conductor-ca, conductor-signing-ca under it, production-ca, rogue-ca, a
 *      certificate per ep-terminator, mist, conductor and hub host)
 *   5. components (proc.h): every server started at once and waited for together (DHCP servers,
 *      proxies, the hub (hub.json), the conductors (conductor.json), mist hosts (registry.json),
 *      the ep-terminator (claims.json)); meanwhile per router node its swtpm (answering
 *      TPM2_Startup) and its manufacturing (ssr-tpm provision: the OCRA key into the TPM); then
 *      every ssr-node (--sztp, ZTP_READY_FD). autostart: false hosts wait for a step's start:
 *   6. steps in order (actions, then expectations polled until they hold or the timeout); the
 *      live timeline follows the logs (event=... lines) of the router nodes and the Mist mocks
 *   7. teardown: router nodes, other components, swtpms, captures (SIGTERM, then SIGKILL), then
 *      every namespace (topo_destroy); summary.json and junit.xml are written last
 * On Ctrl-C (the cancel flag) every wait ends at once and the teardown runs.
 *
 * Sockets (control sockets, swtpm) live in TOPO_RUN_DIR/RUNID.d/ (short paths; removed at the end).
 */
#ifndef LAB_RUN_H
#define LAB_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "report.h"
#include "scenario.h"

#define LAB_VERSION "0.1.0"

enum run_result { RUN_PASS = 0, RUN_FAIL = 1, RUN_ERROR = 3, RUN_SKIPPED = 77, RUN_INTERRUPTED = 130 };

struct run_opts {
    const char *bin_dir;          /* where ssr-node, ssr-tpm and the mocks (mock-dhcpd, -proxy, -ep-terminator, -mist,
                                   * -conductor, -hub) are */
    const char *artifacts_root;   /* the scenario's artifacts go to ROOT/NAME */
    bool keep;                    /* leave topology and processes up (lab up, --keep) */
    bool verbose;                 /* the live timeline shows every event of the router nodes */
    const char *prefix;           /* put before every output line ("[learned] " with --jobs), or NULL */
    FILE *out;                    /* live output; NULL = silent */
    volatile sig_atomic_t *cancel;
    const char *mode;             /* "root" or "userns" (summary.json) */
    const char *valgrind;         /* "HOST[,HOST...]": run these hosts' processes under valgrind memcheck, or NULL */
};

/* Run one scenario. Fills rep (report_clear() it after). Returns RUN_PASS, RUN_FAIL (an
 * expectation did not hold), RUN_ERROR (the lab could not set it up: rep->error says why) or
 * RUN_SKIPPED (it cannot run in this mode, e.g. squid in an unprivileged lab: rep->error says why) or
 * RUN_INTERRUPTED. */
enum run_result run_scenario(const struct scenario *s, const struct run_opts *o, struct rep_run *rep);

/* The directory of a run's sockets and its lab.json (for lab exec/down): TOPO_RUN_DIR/RUNID.d */
void run_sockdir(const char *runid, char *dst, size_t cap);

/* Kill the processes left in the namespaces of run `runid` (its /run/netns/RUNID-* entries), then
 * remove its sockets dir. Used by `lab down` and by `lab clean` for dead runs. Returns how many
 * processes were signalled. */
int run_kill_leftovers(const char *runid);

/* Remove a directory tree (artifacts of a previous run). 0 or -errno. */
int run_rmtree(const char *path);

#endif
