/* `lab fleet`: N router nodes onboarding at once, end to end, through one proxy to one set of mocks.
 *
 *   lab fleet [--nodes N (1000)] [--wave W (50)] [--per-ns K (50)] [--artifacts DIR] [--keep]
 *             [--timeout S (120)] [--state-dir-root DIR] [--mock-state] [--no-isolation]
 *             [--node-nice N (10)] [--mock-nice N (0)] [--net-nice N (0)] [--mock-threads N (1)]
 *
 * WHAT RUNS
 *   Every node does the whole story of a normal lab run (scenarios/README.md, "What a run does"):
 *   DHCP DISCOVER/REQUEST with Option 60 JuniperSSR on its own interface -> Option 43 sub-option 128
 *   (the proxy) from mock-dhcpd -> the active management proxy -> sZTP through mock-proxy (phone home
 *   to mock-ep-terminator, 307 to mock-mist, OCRA computed by its TPM, onboarding data, root CA, psk
 *   sealed) -> the staging mock-conductor (psk auth, production data, key + CSR, certificate, SVR
 *   config) -> peering with mock-hub (direct) -> migrate -> the production mock-conductor (mutual
 *   TLS + production psk), then heartbeats. ONE mock of each kind serves every node: one mock-dhcpd,
 *   one mock-proxy, one mock-ep-terminator, one mock-mist, one staging and one production
 *   mock-conductor, one mock-hub. Each node is its own router (R0001 ... with node n0001 ..., device
 *   id R0001-n0001), with its own OCRA key, staging secret, certificate and hub peering.
 *
 * TOPOLOGY (namespaces RUNID-HOST and the run record of topo.h: `lab clean` removes a killed fleet)
 *   s-mpls      bridge br0: the MPLS segment, 198.19.0.0/16
 *   s-inet      bridge br0: the internet segment, 198.18.100.0/24
 *   dhcp        eth0 198.19.0.1 (mpls); pool 198.19.16.0-198.19.255.254 (61,439 leases), Option 43
 *               sub-option 128 = 198.19.0.8:3128 for vendor class JuniperSSR
 *   proxy       eth0 198.19.0.8 (mpls), eth1 198.18.100.8 (inet); /etc/hosts maps the Mist names
 *   ept, mist, staging, production   198.18.100.10, .40, .60 (:930), .70 (:930) on inet
 *   hub         eth0 198.19.0.20 (mpls, :1280): peering is direct, never through the proxy
 *   g1, g2 ...  the node namespaces, K nodes each (--per-ns)
 *   Every node has its OWN interface (wNNNN, its own MAC 02:f1:ee:XX:XX:XX) on the MPLS bridge and
 *   runs its own DHCP client there, so the DHCP exchanges, MACs and leases are true per node. What
 *   is shared: a node namespace holds ONE address for TCP (lan0, 198.19.1.G/16; arp_ignore=1, so only
 *   lan0 answers ARP for it), and the nodes run with `--no-apply` (the lease is learned and shown,
 *   its address and route are not configured: K nodes cannot each own the namespace's routing). So
 *   the proxy, the hub and the conductors see K nodes per source address, each on its own port.
 *   Nodes have no route to the internet segment: only the proxy reaches Mist and the conductors.
 *   Linux bridges take at most 1024 ports: when N + namespaces + 3 ports would not fit on one
 *   bridge (N > ~970 with K = 50), the node namespaces' interfaces go on access bridges (s-mpla1,
 *   s-mpla2, ..., up to 1,000 ports each) uplinked to s-mpls: one L2 segment, a switch stack.
 *
 * PORT ISOLATION (default; --no-isolation turns it off)
 *   The nodes' ports on the MPLS bridges are isolated (a switch's protected ports, a private VLAN
 *   edge): a node's frames reach the ports that are not isolated (mock-dhcpd, the proxy, the hub, the
 *   namespaces' lan0, the access bridges' uplinks), never another node's port. Every client
 *   broadcasts its DISCOVER and REQUEST; on a bridge of 1,000 ports each broadcast would otherwise be
 *   ~1,000 frames (cloned, queued on one CPU's backlog, net.core.netdev_max_backlog = 1,000 host-wide,
 *   and parsed by every other node's packet filter): the bridge skips isolated ports before it copies
 *   anything. mock-dhcpd answers a client without an address at its chaddr (RFC 2131 4.1, the doc's
 *   trace), so replies go to one port only. (Before both, the nodes' DHCP took 20-30 s (p50) at
 *   N = 1000 and some never got a lease; then nftables "DHCP snooping" rules did the job at ~3 CPU-s
 *   per 1,000 nodes.) ssr-node's packet socket also filters on its chaddr in the kernel
 *   (router/dhcpc_io.c), as systemd-networkd's does.
 *
 * TPM
 *   Each node has the in-process libtpms TPM (`--tpm libtpms:DIR`, its NV state in DIR) and
 *   manufactures it itself on first boot: `ssr-node --manufacture-ocra-key FILE` imports the OCRA
 *   key from FILE (0600, written by the lab, removed by the node) into the TPM before the node is
 *   ready (event=tpm.manufactured). Normal `lab run`s keep swtpm + `ssr-tpm provision`.
 *
 * WAVES AND PRIORITIES
 *   At most W nodes are starting at once (spawned, not yet ready: ZTP_READY_FD comes after the TPM
 *   manufacturing); each readiness line lets the next node start (a sliding window of W). No
 *   sleeps: readiness only. The mocks are started first, all at once, and waited for. The nodes run
 *   at nice --node-nice (10): CFS shares the CPU per task, and a thousand busy nodes would otherwise
 *   leave each one-process server a thousandth of it (DHCP answered seconds late, retransmissions).
 *   --mock-nice (mock-ep-terminator, mock-mist, mock-conductor) and --net-nice (mock-dhcpd,
 *   mock-proxy, mock-hub) stay 0 by default: the libmicrohttpd mocks poll while a TLS handshake
 *   waits, so a higher priority only makes them burn more (mock-ep-terminator: 29 CPU-s instead of
 *   3-4 at -10), and the event-loop servers batch less. --mock-threads N (default 1; 0 = their own
 *   default, a thread per CPU) is the libmicrohttpd mocks' --threads: seven servers on 2 cores do
 *   better with one pool thread each (1,000 nodes: mocks 10-13 CPU-s instead of 17-22, ~22 s
 *   instead of ~25-28 s).
 *   A node enters only its network namespace (setns), not topo_enter()'s mount namespace: it
 *   resolves no name and reads nothing from /sys.
 *
 * STATE
 *   The nodes' router.conf, state/ and tpm/ (many small atomic writes each) go on a tmpfs: the run's
 *   sockets dir TOPO_RUN_DIR/RUNID.d when /run is a tmpfs (`lab clean` removes it with a killed
 *   run), else /dev/shm/ztp-lab-fleet-RUNID (removed at the end; a killed fleet's by the next
 *   `lab fleet`), else ARTIFACTS/fleet; --state-dir-root DIR puts them in DIR/nodes (kept). On ext4
 *   the same writes cost ~40 % more node CPU (inode allocation after the previous run's deletions).
 *   The conductors and the hub get no --state file unless --mock-state: each rewrites its whole JSON
 *   state (1,000 routers) with fsync on every change, under its lock.
 *
 * REPORT (stdout and ARTIFACTS/fleet/summary.json)
 *   onboardings per second (N / time from the first node start to the last production-connected),
 *   time to all done, per step p50/p95/p99/max of the time since the previous step and since the
 *   node's start (manufactured, ready, dhcp-bound, proxy-selected, redirected, authenticated,
 *   secret-stored, staging-connected, certified, svr-configured, production-connected: from each
 *   node's own structured events, their ts= fields), HTTPS requests, peak memory (VmHWM) and CPU
 *   time of every mock, of the sum over the nodes and of the lab, failures by class (every
 *   warn/error event of a node by event and class; nodes that exited or were not ready in 15 s;
 *   nodes not done at the timeout by their last step), the machine (nproc, kernel, CPU, load
 *   average) and the CPU the whole machine spent meanwhile (other users included).
 *   Exit status: 0 every node reached production-connected within --timeout (from the first node
 *   start); 1 otherwise or a component did not start; 2 usage; 77 not root (one line); 130
 *   interrupted. Everything is torn down in every case, except with --keep (then `lab down fleet`).
 *
 * ARTIFACTS/fleet/  (emptied at the start)
 *   summary.json, logs/HOST.log (mocks), logs/nodes/nNNNN.log, pki/,
 *   HOST/ (configs; the proxy's access.log and stats.json; the mock-dhcpd lease file)
 *
 * Not reused from run.c (static there): its PKI (make_pki), mock config writers and argv builder
 * are re-done here in a minimal form with the public certs.h/topo.h/proc.h.
 */
#ifndef LAB_FLEET_H
#define LAB_FLEET_H

#include <signal.h>

/* `lab fleet ...` (argv[0] = "fleet"). bin_dir: where ssr-node and the mocks are. Returns the exit status. */
int fleet_main(int argc, char **argv, const char *bin_dir, volatile sig_atomic_t *cancel);
/* Remove /dev/shm/ztp-lab-fleet-RUNID of fleets that are no longer running (a killed fleet's node
 * state): `lab clean` and every `lab fleet` call it. */
void fleet_clean_leftovers(void);

#endif
