/* `lab fleet`: see fleet.h. */
#include "fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <dirent.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "proc.h"
#include "run.h"
#include "topo.h"
#include "ztp/daemon.h"

#define FLEET_MAX_NODES 20000
#define FLEET_BRIDGE_PORTS 1000 /* a Linux bridge takes 1024 (BR_MAX_PORTS): keep a margin */
#define FLEET_READY_MS 15000    /* a node's readiness bound (start-up + TPM manufacturing) */
#define FLEET_MOCK_READY_MS 10000
#define FLEET_STOP_GRACE_MS 3000
#define FLEET_SCAN_MS 100       /* how often the nodes' logs are read */

#define MPLS_PREFIX "198.19"
#define ADDR_DHCP "198.19.0.1"
#define ADDR_PROXY "198.19.0.8"
#define ADDR_HUB "198.19.0.20"
#define ADDR_PROXY_INET "198.18.100.8"
#define ADDR_EPT "198.18.100.10"
#define ADDR_MIST "198.18.100.40"
#define ADDR_STAGING "198.18.100.60"
#define ADDR_PRODUCTION "198.18.100.70"
#define PROXY_PORT 3128
#define CONDUCTOR_PORT 930
#define HUB_PORT 1280
#define EPT_NAME "ep-terminator.mistsys.net"
#define MIST_NAME "api.mist.com"
#define OCRA_SUITE "OCRA-1:HOTP-SHA256-8:QA08"

/* ---- the steps a node goes through (its own events) ------------------------------------------ */

enum ms {
    M_START,        /* spawned by the lab (lab clock) */
    M_MANUFACTURED, /* event=tpm.manufactured */
    M_READY,        /* event=node.ready */
    M_DHCP,         /* event=dhcpc.bound */
    M_PROXY,        /* event=proxy.changed new=A:P (the active management proxy) */
    M_REDIRECTED,   /* sztp.state to=redirected */
    M_AUTH,         /* sztp.state to=authenticated */
    M_SECRET,       /* sztp.state to=secret-stored */
    M_STAGING,      /* conductor.state to=staging-connected */
    M_CERTIFIED,    /* conductor.state to=certified */
    M_SVR,          /* conductor.state to=svr-configured */
    M_PRODUCTION,   /* conductor.state to=production-connected */
    M__COUNT
};
static const char *const ms_names[M__COUNT] = {
    "start",         "manufactured",      "ready",     "dhcp-bound",     "proxy-selected",       "redirected",
    "authenticated", "secret-stored",     "staging-connected", "certified", "svr-configured", "production-connected",
};

/* ---- state ---------------------------------------------------------------------------------- */

struct fnode {
    unsigned idx;                 /* 1..N */
    unsigned group;               /* 1..G */
    char name[16], router[16], dev[40], ifname[16], mac[18];
    char port[TOPO_IFNAME_MAX + 1];  /* its bridge port (the veth's other end) */
    char bridge_host[32];            /* the namespace of that bridge: s-mpls or an access bridge s-mplaN */
    char dir[PATH_MAX];           /* router.conf, state/, tpm/, the key file until the node removes it */
    char log[PATH_MAX];
    char ctl[PATH_MAX];
    char ocra[65], psk[33];
    char *argv[32];
    struct proc p;
    bool spawned, ready, exited;
    double t[M__COUNT];           /* wall-clock seconds (CLOCK_REALTIME), 0 = not reached */
    int logfd;
    off_t off;
    char *part;                   /* a partial line carried between reads */
    size_t part_len;
    unsigned https;               /* event=https.done */
    unsigned fails;               /* warn/error events */
    long hwm_kb, rss_kb;
    double cpu_s;
};

struct fmock {
    const char *host;             /* namespace host, log name */
    const char *prog;
    char *argv[40];
    struct proc p;
    struct proc_spec spec;
    char log[PATH_MAX];
    long hwm_kb;
    double cpu_s;
};

enum { MOCK_DHCP, MOCK_PROXY, MOCK_EPT, MOCK_MIST, MOCK_STAGING, MOCK_PRODUCTION, MOCK_HUB, MOCK__COUNT };

struct fclass {
    char key[96];
    unsigned count;
    char example[160];            /* one node and its line's class */
};

struct fleet {
    unsigned n, wave, per_ns, groups, timeout_s;
    bool keep;
    bool mock_state;              /* --mock-state: the conductors and the hub get their --state files */
    bool isolation;               /* node ports isolated from each other (default; see fleet.h) */
    int nice;                     /* --node-nice: the nodes' nice value (default 10) */
    int mock_nice;                /* --mock-nice: the Mist and conductor mocks' (libmicrohttpd; default 0) */
    int net_nice;                 /* --net-nice: mock-dhcpd's, mock-proxy's and mock-hub's (default 0) */
    unsigned mock_threads;        /* --mock-threads: libmicrohttpd pool of the Mist and conductor mocks (default 1;
                                   * 0: their own default, a thread per CPU) */
    const char *bin;
    volatile sig_atomic_t *cancel;
    char art[PATH_MAX];           /* ARTIFACTS/fleet */
    char nodes_root[PATH_MAX];    /* where nodes/nNNNN live */
    bool nodes_tmp;               /* nodes_root is the run's own directory on /dev/shm: removed at the end */
    char nodes_fs[16];            /* its file system: "tmpfs", "ext4", ... */
    char pki[PATH_MAX];
    char runid[TOPO_RUNID_LEN + 1];
    char sockdir[PATH_MAX];
    struct topo *t;
    struct fnode *nodes;
    struct fmock mocks[MOCK__COUNT];
    char production_psk[33];
    char *conductor_ca_pem, *production_ca_pem;
    unsigned n_access;            /* access bridges (0: every port on s-mpls) */
    char dhcp_port[TOPO_IFNAME_MAX + 1]; /* the DHCP server's port on s-mpls */
    struct fclass *classes;
    size_t n_classes;
    char err[2048];
    /* timings (monotonic) */
    double t0, t_topo, t_pki, t_mocks, t_first_spawn, t_all_spawned, t_all_ready, t_all_done, t_end;
    double wall_first_spawn;      /* realtime at the first spawn */
    unsigned n_spawned, n_ready, n_done, n_exited;
    /* the machine */
    unsigned long long cpu0[8], cpu1[8];
    double load0[3], load1[3];
};

/* ---- small helpers --------------------------------------------------------------------------- */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ferr(struct fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ferr(struct fleet *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
    return -1;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void random_hex(char *dst, size_t nbytes)
{
    unsigned char b[64];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(b + got, nbytes - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(dst + 2 * i, 3, "%02x", b[i]);
    explicit_bzero(b, sizeof(b));
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "lab: fleet: out of memory\n");
        exit(1);
    }
    return d;
}

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        fprintf(stderr, "lab: fleet: out of memory\n");
        exit(1);
    }
    va_end(ap);
    return s;
}

static void argv_free(char **argv)
{
    for (size_t i = 0; argv[i]; i++) {
        free(argv[i]);
        argv[i] = NULL;
    }
}

/* A JSON document to path (mode), the text wiped when it holds secrets. */
static int write_json(struct fleet *f, const char *path, json_t *j, mode_t mode)
{
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!txt)
        return ferr(f, "%s: cannot encode", path);
    size_t n = strlen(txt);
    int rc = atomic_write_file(path, txt, n, mode);
    explicit_bzero(txt, n);
    free(txt);
    return rc < 0 ? ferr(f, "%s: %s", path, strerror(-rc)) : 0;
}

/* ---- the machine ----------------------------------------------------------------------------- */

static void read_cpu(unsigned long long v[8])
{
    memset(v, 0, 8 * sizeof(v[0]));
    FILE *fp = fopen("/proc/stat", "r");
    if (!fp)
        return;
    if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) !=
        8)
        memset(v, 0, 8 * sizeof(v[0]));
    fclose(fp);
}

static void read_load(double l[3])
{
    l[0] = l[1] = l[2] = 0;
    FILE *fp = fopen("/proc/loadavg", "r");
    if (fp) {
        if (fscanf(fp, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
            l[0] = l[1] = l[2] = 0;
        fclose(fp);
    }
}

static void cpu_model(char *dst, size_t cap)
{
    snprintf(dst, cap, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp)
        return;
    char line[512];
    while (fgets(line, sizeof(line), fp))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ')
                    c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(dst, cap, "%s", c);
            }
            break;
        }
    fclose(fp);
}

/* VmHWM, VmRSS (KiB) and user+system CPU seconds of a live process. */
static void proc_usage(pid_t pid, long *hwm, long *rss, double *cpu)
{
    char path[64], line[256];
    *hwm = *rss = 0;
    *cpu = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp) {
        while (fgets(line, sizeof(line), fp)) {
            if (!strncmp(line, "VmHWM:", 6))
                *hwm = strtol(line + 6, NULL, 10);
            else if (!strncmp(line, "VmRSS:", 6))
                *rss = strtol(line + 6, NULL, 10);
        }
        fclose(fp);
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fp = fopen(path, "r");
    if (fp) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        char *p = strrchr(buf, ')'); /* the command may hold spaces */
        unsigned long ut = 0, st = 0;
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        fclose(fp);
    }
}

/* ---- topology --------------------------------------------------------------------------------- */

static int tcheck(struct fleet *f, int rc, const char *what)
{
    if (rc < 0)
        return ferr(f, "topology: %s: %s", what, topo_err(f->t)[0] ? topo_err(f->t) : strerror(-rc));
    return 0;
}

static void group_host(unsigned g, char *dst, size_t cap) { snprintf(dst, cap, "g%u", g); }

static void group_addr(unsigned g, char *dst, size_t cap)
{
    snprintf(dst, cap, MPLS_PREFIX ".%u.%u", 1 + (g - 1) / 250, 1 + (g - 1) % 250);
}

static int build_topology(struct fleet *f)
{
    struct topo *t = f->t;
    static const char *const fixed[] = {"s-mpls", "s-inet", "dhcp", "proxy", "ept", "mist", "staging", "production", "hub"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (tcheck(f, topo_ns_add(t, fixed[i], 0), fixed[i]) < 0)
            return -1;
    if (tcheck(f, topo_bridge(t, "s-mpls", "br0"), "s-mpls br0") < 0 ||
        tcheck(f, topo_bridge(t, "s-inet", "br0"), "s-inet br0") < 0)
        return -1;
    /* the servers */
    struct {
        const char *host, *ifname, *seg, *addr;
    } ifs[] = {
        {"dhcp", "eth0", "s-mpls", ADDR_DHCP "/16"},
        {"proxy", "eth0", "s-mpls", ADDR_PROXY "/16"},
        {"proxy", "eth1", "s-inet", ADDR_PROXY_INET "/24"},
        {"hub", "eth0", "s-mpls", ADDR_HUB "/16"},
        {"ept", "eth0", "s-inet", ADDR_EPT "/24"},
        {"mist", "eth0", "s-inet", ADDR_MIST "/24"},
        {"staging", "eth0", "s-inet", ADDR_STAGING "/24"},
        {"production", "eth0", "s-inet", ADDR_PRODUCTION "/24"},
    };
    for (size_t i = 0; i < sizeof(ifs) / sizeof(ifs[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "%s:%s", ifs[i].host, ifs[i].ifname);
        bool dhcp = !strcmp(ifs[i].host, "dhcp");
        if (tcheck(f, topo_attach(t, ifs[i].host, ifs[i].ifname, NULL, ifs[i].seg, "br0", dhcp ? f->dhcp_port : NULL,
                                  dhcp ? sizeof(f->dhcp_port) : 0),
                   what) < 0 ||
            tcheck(f, topo_addr_add(t, ifs[i].host, ifs[i].ifname, ifs[i].addr), ifs[i].addr) < 0)
            return -1;
    }
    /* the proxy resolves the Mist names; every other host needs no name */
    const char *hosts[] = {ADDR_EPT " " EPT_NAME, ADDR_MIST " " MIST_NAME, NULL};
    if (tcheck(f, topo_hosts(t, "proxy", hosts), "proxy hosts file") < 0)
        return -1;
    /* access bridges when one bridge cannot take every port */
    unsigned ports = 3 + f->groups * (f->per_ns + 1);
    unsigned groups_per_access = f->groups;
    if (ports > FLEET_BRIDGE_PORTS) {
        groups_per_access = (FLEET_BRIDGE_PORTS - 1) / (f->per_ns + 1);
        f->n_access = (f->groups + groups_per_access - 1) / groups_per_access;
        for (unsigned a = 1; a <= f->n_access; a++) {
            char host[32], up[16];
            snprintf(host, sizeof(host), "s-mpla%u", a);
            snprintf(up, sizeof(up), "a%u", a);
            if (tcheck(f, topo_ns_add(t, host, 0), host) < 0 || tcheck(f, topo_bridge(t, host, "br0"), host) < 0 ||
                tcheck(f, topo_veth(t, host, "up0", NULL, "s-mpls", up, NULL), host) < 0 ||
                tcheck(f, topo_bridge_port(t, host, "up0", "br0"), host) < 0 ||
                tcheck(f, topo_bridge_port(t, "s-mpls", up, "br0"), host) < 0)
                return -1;
        }
    }
    /* the node namespaces: lan0 (the namespace's one address) and one interface per node */
    for (unsigned g = 1; g <= f->groups; g++) {
        char host[32], seg[32], addr[40], what[96];
        group_host(g, host, sizeof(host));
        if (f->n_access)
            snprintf(seg, sizeof(seg), "s-mpla%u", 1 + (g - 1) / groups_per_access);
        else
            snprintf(seg, sizeof(seg), "s-mpls");
        group_addr(g, addr, sizeof(addr));
        strcat(addr, "/16");
        char mac[18];
        snprintf(mac, sizeof(mac), "02:f1:ef:00:%02x:%02x", (g >> 8) & 0xff, g & 0xff);
        if (tcheck(f, topo_ns_add(t, host, 0), host) < 0 ||
            /* only lan0 answers ARP for the namespace's address (the nodes' interfaces hold none) */
            tcheck(f, topo_sysctl(t, host, "net.ipv4.conf.all.arp_ignore", "1"), "arp_ignore") < 0 ||
            tcheck(f, topo_sysctl(t, host, "net.ipv4.conf.all.arp_announce", "2"), "arp_announce") < 0 ||
            tcheck(f, topo_attach(t, host, "lan0", mac, seg, "br0", NULL, 0), host) < 0 ||
            tcheck(f, topo_addr_add(t, host, "lan0", addr), addr) < 0)
            return -1;
        for (unsigned i = 0; i < f->n; i++) {
            struct fnode *nd = &f->nodes[i];
            if (nd->group != g)
                continue;
            snprintf(what, sizeof(what), "%s:%s", host, nd->ifname);
            snprintf(nd->bridge_host, sizeof(nd->bridge_host), "%s", seg);
            if (tcheck(f, topo_attach(t, host, nd->ifname, nd->mac, seg, "br0", nd->port, sizeof(nd->port)), what) < 0 ||
                (f->isolation && tcheck(f, topo_bridge_port_isolated(t, seg, nd->port, true), what) < 0))
                return -1;
        }
    }
    return 0;
}

/* ---- PKI and secrets --------------------------------------------------------------------------- */

static int make_pki(struct fleet *f)
{
    snprintf(f->pki, sizeof(f->pki), "%s/pki", f->art);
    mkdir_p(f->pki, 0755);
    char pem[PATH_MAX], key[PATH_MAX], cn[128], e[512];
    struct certs_ca *mist = NULL, *cond = NULL, *sign = NULL, *prod = NULL;
    int rc = 0;
#define CA(var, file, name)                                                                                            \
    do {                                                                                                               \
        snprintf(pem, sizeof(pem), "%s/" file ".pem", f->pki);                                                         \
        snprintf(key, sizeof(key), "%s/" file ".key", f->pki);                                                         \
        snprintf(cn, sizeof(cn), name " %s", f->runid);                                                                \
        if (rc == 0 && certs_ca_new(cn, 7, pem, key, &var, e, sizeof(e)) < 0)                                          \
            rc = ferr(f, "pki: %s", e);                                                                                \
    } while (0)
    CA(mist, "mist-ca", "ztp-lab Mist root CA");
    CA(cond, "conductor-ca", "ztp-lab conductor root CA");
    CA(prod, "production-ca", "ztp-lab production conductor root CA");
#undef CA
    if (rc == 0) {
        snprintf(pem, sizeof(pem), "%s/conductor-signing-ca.pem", f->pki);
        snprintf(key, sizeof(key), "%s/conductor-signing-ca.key", f->pki);
        snprintf(cn, sizeof(cn), "ztp-lab conductor signing CA %s", f->runid);
        if (certs_ca_sub(cond, cn, 7, pem, key, &sign, e, sizeof(e)) < 0)
            rc = ferr(f, "pki: %s", e);
    }
    snprintf(pem, sizeof(pem), "%s/conductor-ca-chain.pem", f->pki);
    if (rc == 0 && certs_ca_chain_write(sign, pem, e, sizeof(e)) < 0)
        rc = ferr(f, "pki: %s", e);
    if (rc == 0 && (!(f->conductor_ca_pem = certs_ca_pem(cond)) || !(f->production_ca_pem = certs_ca_pem(prod))))
        rc = ferr(f, "pki: CA PEM");
    struct {
        const char *host;
        const struct certs_ca *by;
        const char *names[2];
        size_t n;
    } srv[] = {
        {"ept", mist, {EPT_NAME}, 1},
        {"mist", mist, {MIST_NAME}, 1},
        {"staging", cond, {ADDR_STAGING, "staging"}, 2},
        {"production", prod, {ADDR_PRODUCTION, "production"}, 2},
        {"hub", sign, {ADDR_HUB, "hub"}, 2},
    };
    for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]) && rc == 0; i++) {
        snprintf(pem, sizeof(pem), "%s/%s.pem", f->pki, srv[i].host);
        snprintf(key, sizeof(key), "%s/%s.key", f->pki, srv[i].host);
        if (certs_server(srv[i].by, srv[i].names, srv[i].n, 7, pem, key, e, sizeof(e)) < 0)
            rc = ferr(f, "pki: %s: %s", srv[i].host, e);
    }
    certs_ca_free(mist);
    certs_ca_free(cond);
    certs_ca_free(sign);
    certs_ca_free(prod);
    return rc;
}

/* ---- the mocks' configurations ---------------------------------------------------------------- */

static int prep_mocks(struct fleet *f)
{
    char d[PATH_MAX], p[PATH_MAX + 64];
    const char *hosts[MOCK__COUNT] = {"dhcp", "proxy", "ept", "mist", "staging", "production", "hub"};
    for (int i = 0; i < MOCK__COUNT; i++) {
        f->mocks[i].host = hosts[i];
        snprintf(d, sizeof(d), "%s/%s", f->art, hosts[i]);
        mkdir_p(d, 0755);
        snprintf(f->mocks[i].log, sizeof(f->mocks[i].log), "%s/logs/%s.log", f->art, hosts[i]);
    }
    unsigned maxconn = f->n + 256 > 65536 ? 65536 : f->n + 256;

    /* mock-dhcpd: one pool on the MPLS segment, big enough for every node */
    json_t *pool = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:i, s:s, s:s}", "interface", "eth0", "server", ADDR_DHCP,
                             "range", MPLS_PREFIX ".16.0-" MPLS_PREFIX ".255.254", "subnet_mask", "255.255.0.0",
                             "routers", ADDR_DHCP, "lease_time", 6000, "vendor_class", "JuniperSSR", "proxy",
                             ADDR_PROXY ":3128");
    snprintf(p, sizeof(p), "%s/dhcp/dhcpd.json", f->art);
    if (write_json(f, p, json_pack("{s:[o]}", "pools", pool), 0644) < 0)
        return -1;
    struct fmock *m = &f->mocks[MOCK_DHCP];
    char **a = m->argv;
    size_t k = 0;
    a[k++] = xfmt("%s/mock-dhcpd", f->bin);
    a[k++] = xstrdup("--config");
    a[k++] = xstrdup(p);
    a[k++] = xstrdup("--leases");
    a[k++] = xfmt("%s/dhcp/leases.json", f->art);
    a[k++] = xstrdup("--host");
    a[k++] = xstrdup("dhcp");

    /* mock-proxy: the MPLS side for the nodes, the internet side to Mist and the conductors */
    json_t *c = json_pack("{s:[s, s], s:s, s:s, s:s, s:[s], s:[i, i], s:[i, i, i, i, i, s, i, i, i, i, i], s:{s:i}, s:{s:i}}",
                          "listen", ADDR_PROXY ":3128", ADDR_PROXY_INET ":3128", "access_log",
                          (snprintf(d, sizeof(d), "%s/proxy/access.log", f->art), d), "stats",
                          (snprintf(p, sizeof(p), "%s/proxy/stats.json", f->art), p), "host", "proxy", "allow_src",
                          "198.18.0.0/15", "ssl_ports", 443, CONDUCTOR_PORT, "safe_ports", 80, 21, 443, 70, 210,
                          "1025-65535", 280, 488, 591, 777, CONDUCTOR_PORT, "timeouts", "stop_grace_ms", 200, "limits",
                          "max_connections", (int)(maxconn * 2));
    snprintf(p, sizeof(p), "%s/proxy/proxy.json", f->art);
    if (write_json(f, p, c, 0644) < 0)
        return -1;
    m = &f->mocks[MOCK_PROXY];
    a = m->argv;
    k = 0;
    a[k++] = xfmt("%s/mock-proxy", f->bin);
    a[k++] = xstrdup("--config");
    a[k++] = xstrdup(p);
    a[k++] = xstrdup("--host");
    a[k++] = xstrdup("proxy");

    /* the EP terminator's claims and the org cloud's registry: every node */
    json_t *claims = json_object(), *devs = json_object();
    for (unsigned i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        json_object_set_new(claims, nd->dev, json_pack("{s:s, s:s}", "environment", "production", "org", "ztp-lab"));
        json_t *ob = json_pack("{s:s, s:s, s:s}", "conductor", ADDR_STAGING ":930", "psk", nd->psk, "root-ca-pem",
                               f->conductor_ca_pem);
        json_object_set_new(devs, nd->dev,
                            json_pack("{s:s, s:s, s:s, s:s, s:o}", "org", "ztp-lab", "site", nd->router, "ocra-suite",
                                      OCRA_SUITE, "ocra-key-hex", nd->ocra, "onboarding", ob));
    }
    snprintf(p, sizeof(p), "%s/ept/claims.json", f->art);
    if (write_json(f, p,
                   json_pack("{s:s, s:i, s:{s:s}, s:o}", "environment", "production", "retry-after", 1, "environments",
                             "production", "https://" MIST_NAME, "claims", claims),
                   0644) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s/mist/registry.json", f->art);
    if (write_json(f, p,
                   json_pack("{s:i, s:i, s:i, s:o}", "max-failures", 5, "lockout-seconds", 60, "challenge-ttl", 30,
                             "devices", devs),
                   0600) < 0)
        return -1;
    struct {
        int i;
        const char *prog, *conf, *listen;
    } cloud[] = {{MOCK_EPT, "mock-ep-terminator", "claims.json", ADDR_EPT ":443"},
                 {MOCK_MIST, "mock-mist", "registry.json", ADDR_MIST ":443"}};
    for (size_t j = 0; j < 2; j++) {
        m = &f->mocks[cloud[j].i];
        a = m->argv;
        k = 0;
        a[k++] = xfmt("%s/%s", f->bin, cloud[j].prog);
        a[k++] = xstrdup("--config");
        a[k++] = xfmt("%s/%s/%s", f->art, m->host, cloud[j].conf);
        a[k++] = xstrdup("--listen");
        a[k++] = xstrdup(cloud[j].listen);
        a[k++] = xstrdup("--cert");
        a[k++] = xfmt("%s/%s.pem", f->pki, m->host);
        a[k++] = xstrdup("--key");
        a[k++] = xfmt("%s/%s.key", f->pki, m->host);
        a[k++] = xstrdup("--host");
        a[k++] = xstrdup(m->host);
        a[k++] = xstrdup("--max-connections");
        a[k++] = xfmt("%u", maxconn);
        if (f->mock_threads) {
            a[k++] = xstrdup("--threads");
            a[k++] = xfmt("%u", f->mock_threads);
        }
    }

    /* the conductors: every router with its staging secret / the production secret */
    json_t *rs = json_object(), *rp = json_object();
    for (unsigned i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        json_object_set_new(rs, nd->router, json_pack("{s:s, s:{s:{}}}", "psk", nd->psk, "nodes", nd->name));
        json_object_set_new(rp, nd->router, json_pack("{s:s, s:{s:{}}}", "psk", f->production_psk, "nodes", nd->name));
    }
    json_t *st = json_pack("{s:i, s:i, s:s, s:s, s:o, s:{s:[s], s:s, s:s}, s:{s:s, s:s}, s:{s:b, s:i, s:b}}",
                           "max-failures", 5, "lockout-seconds", 60, "ca-cert",
                           (snprintf(d, sizeof(d), "%s/conductor-ca-chain.pem", f->pki), d), "ca-key",
                           (snprintf(p, sizeof(p), "%s/conductor-signing-ca.key", f->pki), p), "routers", rs,
                           "production", "conductor", ADDR_PRODUCTION ":930", "psk", f->production_psk, "root-ca-pem",
                           f->production_ca_pem, "svr", "hub", ADDR_HUB ":1280", "hub-name", "hub", "faults",
                           "reject-secret", 0, "stall-ms", 0, "wrong-ca", 0);
    snprintf(p, sizeof(p), "%s/staging/conductor.json", f->art);
    if (write_json(f, p, st, 0600) < 0)
        return -1;
    json_t *pr = json_pack("{s:i, s:i, s:o, s:{s:b, s:i}}", "max-failures", 5, "lockout-seconds", 60, "routers", rp,
                           "faults", "reject-secret", 0, "stall-ms", 0);
    snprintf(p, sizeof(p), "%s/production/conductor.json", f->art);
    if (write_json(f, p, pr, 0600) < 0)
        return -1;
    struct {
        int i;
        const char *role, *listen;
    } cond[] = {{MOCK_STAGING, "staging", ADDR_STAGING ":930"}, {MOCK_PRODUCTION, "production", ADDR_PRODUCTION ":930"}};
    for (size_t j = 0; j < 2; j++) {
        m = &f->mocks[cond[j].i];
        a = m->argv;
        k = 0;
        a[k++] = xfmt("%s/mock-conductor", f->bin);
        a[k++] = xstrdup("--role");
        a[k++] = xstrdup(cond[j].role);
        a[k++] = xstrdup("--config");
        a[k++] = xfmt("%s/%s/conductor.json", f->art, m->host);
        a[k++] = xstrdup("--listen");
        a[k++] = xstrdup(cond[j].listen);
        a[k++] = xstrdup("--cert");
        a[k++] = xfmt("%s/%s.pem", f->pki, m->host);
        a[k++] = xstrdup("--key");
        a[k++] = xfmt("%s/%s.key", f->pki, m->host);
        if (cond[j].i == MOCK_PRODUCTION) {
            a[k++] = xstrdup("--client-ca");
            a[k++] = xfmt("%s/conductor-ca-chain.pem", f->pki);
        }
        if (f->mock_state) {
            a[k++] = xstrdup("--state");
            a[k++] = xfmt("%s/%s/state.json", f->art, m->host);
        }
        a[k++] = xstrdup("--host");
        a[k++] = xstrdup(m->host);
        a[k++] = xstrdup("--max-connections");
        a[k++] = xfmt("%u", maxconn);
        if (f->mock_threads) {
            a[k++] = xstrdup("--threads");
            a[k++] = xfmt("%u", f->mock_threads);
        }
    }

    /* the hub: every node is a peer */
    json_t *peers = json_object();
    for (unsigned i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        char id[40];
        snprintf(id, sizeof(id), "%s.%s", nd->router, nd->name);
        json_object_set_new(peers, id, json_pack("{s:s, s:s}", "router", nd->router, "node", nd->name));
    }
    snprintf(p, sizeof(p), "%s/hub/hub.json", f->art);
    if (write_json(f, p, json_pack("{s:s, s:o, s:i}", "hub-name", "hub", "peers", peers, "max-connections", (int)maxconn),
                   0644) < 0)
        return -1;
    m = &f->mocks[MOCK_HUB];
    a = m->argv;
    k = 0;
    a[k++] = xfmt("%s/mock-hub", f->bin);
    a[k++] = xstrdup("--config");
    a[k++] = xstrdup(p);
    a[k++] = xstrdup("--listen");
    a[k++] = xstrdup(ADDR_HUB ":1280");
    a[k++] = xstrdup("--cert");
    a[k++] = xfmt("%s/hub.pem", f->pki);
    a[k++] = xstrdup("--key");
    a[k++] = xfmt("%s/hub.key", f->pki);
    a[k++] = xstrdup("--client-ca");
    a[k++] = xfmt("%s/conductor-ca-chain.pem", f->pki);
    if (f->mock_state) {
        a[k++] = xstrdup("--state");
        a[k++] = xfmt("%s/hub/state.json", f->art);
    }
    a[k++] = xstrdup("--host");
    a[k++] = xstrdup("hub");
    return 0;
}

/* A mock's process after proc.c's set-up (its namespace entered): its priority, then exec. */
struct mock_child {
    char **argv;
    int nice;
};

static int mock_child(void *ctx)
{
    struct mock_child *c = ctx;
    if (c->nice && setpriority(PRIO_PROCESS, 0, c->nice) < 0)
        dprintf(2, "lab: setpriority %d: %s\n", c->nice, strerror(errno));
    execvp(c->argv[0], c->argv);
    dprintf(2, "lab: cannot run %s: %s\n", c->argv[0], strerror(errno));
    return 127;
}

static int start_mocks(struct fleet *f)
{
    struct mock_child mc[MOCK__COUNT];
    char ns[MOCK__COUNT][TOPO_NSNAME_MAX + 1];
    for (int i = 0; i < MOCK__COUNT; i++) {
        struct fmock *m = &f->mocks[i];
        topo_host_ns(f->t, m->host, ns[i], sizeof(ns[i]));
        bool net = i == MOCK_DHCP || i == MOCK_PROXY || i == MOCK_HUB;
        mc[i] = (struct mock_child){.argv = m->argv, .nice = net ? f->net_nice : f->mock_nice};
        m->spec = (struct proc_spec){.name = m->host, .nsname = ns[i], .argv = m->argv, .log_path = m->log,
                                     .cwd = f->art, .ready = PROC_READY_FD, .timeout_ms = FLEET_MOCK_READY_MS,
                                     .detach = f->keep, .child_fn = mock_child, .child_ctx = &mc[i]};
        if (proc_begin(&m->p, &m->spec, f->err, sizeof(f->err)) < 0)
            return -1;
    }
    for (int i = 0; i < MOCK__COUNT; i++) {
        struct fmock *m = &f->mocks[i];
        if (proc_finish(&m->p, &m->spec, f->err, sizeof(f->err)) < 0) {
            char *tail = proc_tail(m->log, 6);
            size_t l = strlen(f->err);
            snprintf(f->err + l, sizeof(f->err) - l, "; last lines of logs/%s.log:\n%s", m->host, tail);
            free(tail);
            return -1;
        }
    }
    return 0;
}

/* ---- the nodes ----------------------------------------------------------------------------------- */

static void nodes_init(struct fleet *f)
{
    int w = f->n >= 10000 ? 5 : 4;
    for (unsigned i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        nd->idx = i + 1;
        nd->group = 1 + i / f->per_ns;
        nd->logfd = -1;
        snprintf(nd->name, sizeof(nd->name), "n%0*u", w, nd->idx);
        snprintf(nd->router, sizeof(nd->router), "R%0*u", w, nd->idx);
        snprintf(nd->dev, sizeof(nd->dev), "%s-%s", nd->router, nd->name);
        snprintf(nd->ifname, sizeof(nd->ifname), "w%0*u", w, nd->idx);
        snprintf(nd->mac, sizeof(nd->mac), "02:f1:ee:%02x:%02x:%02x", (nd->idx >> 16) & 0xff, (nd->idx >> 8) & 0xff,
                 nd->idx & 0xff);
        snprintf(nd->dir, sizeof(nd->dir), "%s/nodes/%s", f->nodes_root, nd->name);
        snprintf(nd->log, sizeof(nd->log), "%s/logs/nodes/%s.log", f->art, nd->name);
        snprintf(nd->ctl, sizeof(nd->ctl), "%s/%s.ctl", f->sockdir, nd->name);
        random_hex(nd->ocra, 32);
        random_hex(nd->psk, 16);
    }
    random_hex(f->production_psk, 16);
}

/* Files of a node: its router.conf (0600), state/, tpm/ (0700), the OCRA key file (0600: the node
 * imports it into its TPM and removes it), its argv. */
static int prep_node(struct fleet *f, struct fnode *nd)
{
    char p[PATH_MAX + 32];
    if (mkdir_p(nd->dir, 0755) < 0)
        return ferr(f, "%s: %s", nd->dir, strerror(errno));
    snprintf(p, sizeof(p), "%s/state", nd->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/tpm", nd->dir);
    mkdir(p, 0700);
    char conf[1024];
    int n = snprintf(conf, sizeof(conf),
                     "# written by lab fleet (node %u of %u)\n"
                     "config authority router %s management-proxy enable\n"
                     "config authority router %s management-proxy mode learned\n"
                     "config authority router %s node %s device-interface %s network-interface %s-net dhcp v4\n",
                     nd->idx, f->n, nd->router, nd->router, nd->router, nd->name, nd->ifname, nd->ifname);
    snprintf(p, sizeof(p), "%s/router.conf", nd->dir);
    int rc = atomic_write_file(p, conf, (size_t)n, 0600);
    if (rc < 0)
        return ferr(f, "%s: %s", p, strerror(-rc));
    char line[72];
    snprintf(line, sizeof(line), "%s\n", nd->ocra);
    snprintf(p, sizeof(p), "%s/ocra-key.hex", nd->dir);
    rc = atomic_write_file(p, line, strlen(line), 0600);
    explicit_bzero(line, sizeof(line));
    if (rc < 0)
        return ferr(f, "%s: %s", p, strerror(-rc));
    char **a = nd->argv;
    size_t k = 0;
    a[k++] = xfmt("%s/ssr-node", f->bin);
    a[k++] = xstrdup("--config");
    a[k++] = xfmt("%s/router.conf", nd->dir);
    a[k++] = xstrdup("--node");
    a[k++] = xstrdup(nd->name);
    a[k++] = xstrdup("--ctl");
    a[k++] = xstrdup(nd->ctl);
    a[k++] = xstrdup("--state-dir");
    a[k++] = xfmt("%s/state", nd->dir);
    a[k++] = xstrdup("--no-apply");
    a[k++] = xstrdup("--sztp");
    a[k++] = xstrdup("--device-id");
    a[k++] = xstrdup(nd->dev);
    a[k++] = xstrdup("--tpm");
    a[k++] = xfmt("libtpms:%s/tpm", nd->dir);
    a[k++] = xstrdup("--manufacture-ocra-key");
    a[k++] = xstrdup(p);
    a[k++] = xstrdup("--phone-home-url");
    a[k++] = xstrdup("https://" EPT_NAME "/");
    a[k++] = xstrdup("--mist-ca");
    a[k++] = xfmt("%s/mist-ca.pem", f->pki);
    a[k] = NULL;
    return 0;
}

/* The node's process: proc.c's light start (process group, PDEATHSIG, log, readiness fd); only its
 * network namespace is entered (setns), not topo_enter()'s mount namespace with /etc/netns files: a
 * node resolves no name (the proxy does) and reads nothing from /sys. */
static int spawn_node(struct fleet *f, struct fnode *nd)
{
    char host[32], ns[TOPO_NSNAME_MAX + 1], nspath[PATH_MAX];
    group_host(nd->group, host, sizeof(host));
    topo_host_ns(f->t, host, ns, sizeof(ns));
    snprintf(nspath, sizeof(nspath), "%s/%s", topo_netns_dir(), ns);
    /* CFS shares the CPU per task: a thousand busy nodes would leave each single-process server
     * (mock-dhcpd, mock-proxy, the mocks' few threads) a thousandth of it, and the servers, not the
     * nodes, would set the pace (DHCP answered seconds late, retransmissions). The nodes run niced.
     * Light start (proc.h): no copy of the lab's page tables per node. */
    struct proc_spec s = {.name = nd->name, .argv = nd->argv, .log_path = nd->log, .cwd = nd->dir,
                          .ready = PROC_READY_FD, .detach = f->keep, .light = true, .netns_path = nspath,
                          .nice = f->nice};
    nd->t[M_START] = wall_now();
    if (proc_begin(&nd->p, &s, f->err, sizeof(f->err)) < 0)
        return -1;
    nd->spawned = true;
    f->n_spawned++;
    return 0;
}

/* ---- reading the nodes' events ------------------------------------------------------------------ */

/* "ts=2026-11-23T17:10:42.267219Z" at the start of a line -> seconds since the epoch, 0 when absent */
static double line_ts(const char *l)
{
    if (strncmp(l, "ts=", 3) != 0)
        return 0;
    struct tm tm = {0};
    char frac[16] = "";
    if (sscanf(l + 3, "%4d-%2d-%2dT%2d:%2d:%2d.%15[0-9]Z", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, frac) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double fr = 0, scale = 1;
    for (const char *c = frac; *c; c++) {
        scale /= 10;
        fr += (*c - '0') * scale;
    }
    return (double)timegm(&tm) + fr;
}

/* the value of " key=" in a line (up to a blank; quotes kept) into dst */
static bool field(const char *l, const char *key, char *dst, size_t cap)
{
    char pat[40];
    snprintf(pat, sizeof(pat), " %s=", key);
    const char *p = strstr(l, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        const char *e = p + 1;
        while (*e && *e != '"') {
            if (*e == '\\' && e[1])
                e++;
            e++;
        }
        n = (size_t)(e - p) + (*e == '"');
    } else {
        n = strcspn(p, " ");
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return true;
}

static void add_class(struct fleet *f, const char *key, const char *example)
{
    for (size_t i = 0; i < f->n_classes; i++)
        if (!strcmp(f->classes[i].key, key)) {
            f->classes[i].count++;
            return;
        }
    struct fclass *c = realloc(f->classes, (f->n_classes + 1) * sizeof(*c));
    if (!c)
        return;
    f->classes = c;
    c = &f->classes[f->n_classes++];
    memset(c, 0, sizeof(*c));
    snprintf(c->key, sizeof(c->key), "%s", key);
    snprintf(c->example, sizeof(c->example), "%s", example);
    c->count = 1;
}

static void mark(struct fleet *f, struct fnode *nd, enum ms m, double ts)
{
    if (nd->t[m] != 0)
        return;
    nd->t[m] = ts ? ts : wall_now();
    if (m == M_PRODUCTION) {
        f->n_done++;
        if (f->n_done == f->n)
            f->t_all_done = proc_now();
    }
}

static void node_line(struct fleet *f, struct fnode *nd, const char *l)
{
    const char *ev = strstr(l, " event=");
    if (!ev)
        return;
    ev += 7;
    size_t el = strcspn(ev, " ");
#define EV(s) (el == sizeof(s) - 1 && !memcmp(ev, s, el))
    char to[48];
    if (EV("https.done")) {
        nd->https++;
        return;
    }
    if (strncmp(l + strcspn(l, " "), " level=warn", 11) == 0 || strncmp(l + strcspn(l, " "), " level=error", 12) == 0) {
        char cls[64] = "", key[96], ex[160];
        if (!field(l, "class", cls, sizeof(cls)))
            field(l, "reason", cls, sizeof(cls));
        snprintf(key, sizeof(key), "%.*s%s%s", (int)el, ev, cls[0] ? " " : "", cls);
        snprintf(ex, sizeof(ex), "%s", nd->name);
        add_class(f, key, ex);
        nd->fails++;
        return;
    }
    double ts = 0;
    if (EV("tpm.manufactured"))
        mark(f, nd, M_MANUFACTURED, line_ts(l));
    else if (EV("node.ready"))
        mark(f, nd, M_READY, line_ts(l));
    else if (EV("dhcpc.bound"))
        mark(f, nd, M_DHCP, line_ts(l));
    else if (EV("proxy.changed") || EV("proxy.selected")) {
        if ((field(l, "new", to, sizeof(to)) || field(l, "active", to, sizeof(to))) && strcmp(to, "none") != 0)
            mark(f, nd, M_PROXY, line_ts(l));
    } else if (EV("sztp.state") && field(l, "to", to, sizeof(to))) {
        ts = line_ts(l);
        if (!strcmp(to, "redirected"))
            mark(f, nd, M_REDIRECTED, ts);
        else if (!strcmp(to, "authenticated"))
            mark(f, nd, M_AUTH, ts);
        else if (!strcmp(to, "secret-stored"))
            mark(f, nd, M_SECRET, ts);
    } else if (EV("conductor.state") && field(l, "to", to, sizeof(to))) {
        ts = line_ts(l);
        if (!strcmp(to, "staging-connected"))
            mark(f, nd, M_STAGING, ts);
        else if (!strcmp(to, "certified"))
            mark(f, nd, M_CERTIFIED, ts);
        else if (!strcmp(to, "svr-configured"))
            mark(f, nd, M_SVR, ts);
        else if (!strcmp(to, "production-connected"))
            mark(f, nd, M_PRODUCTION, ts);
    }
#undef EV
}

static char readbuf[1 << 16];

/* New lines of a node's log since the last read. */
static void node_scan(struct fleet *f, struct fnode *nd)
{
    if (nd->logfd < 0) {
        nd->logfd = open(nd->log, O_RDONLY | O_CLOEXEC);
        if (nd->logfd < 0)
            return;
    }
    for (;;) {
        ssize_t n = pread(nd->logfd, readbuf, sizeof(readbuf), nd->off);
        if (n <= 0)
            return;
        nd->off += n;
        size_t s = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            if (readbuf[i] != '\n')
                continue;
            readbuf[i] = '\0';
            if (nd->part_len) {
                char *j = realloc(nd->part, nd->part_len + (i - s) + 1);
                if (j) {
                    memcpy(j + nd->part_len, readbuf + s, i - s + 1);
                    nd->part = j;
                    node_line(f, nd, j);
                }
                nd->part_len = 0;
            } else {
                node_line(f, nd, readbuf + s);
            }
            s = i + 1;
        }
        if (s < (size_t)n && n - (ssize_t)s < 8192) {
            char *j = realloc(nd->part, nd->part_len + ((size_t)n - s) + 1);
            if (j) {
                memcpy(j + nd->part_len, readbuf + s, (size_t)n - s);
                nd->part = j;
                nd->part_len += (size_t)n - s;
                nd->part[nd->part_len] = '\0';
            }
        }
        if ((size_t)n < sizeof(readbuf))
            return;
    }
}

/* Reap exited children: nodes are failures, a mock is fatal for the run. */
static void reap_children(struct fleet *f)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (unsigned i = 0; i < f->n; i++) {
            struct fnode *nd = &f->nodes[i];
            if (nd->spawned && nd->p.pid == pid) {
                nd->p.exited = true;
                nd->p.status = st;
                nd->exited = true;
                f->n_exited++;
                char key[96], why[96];
                proc_status_text(&nd->p, why, sizeof(why));
                snprintf(key, sizeof(key), "node exited: %s", why);
                add_class(f, key, nd->name);
                pid = 0;
                break;
            }
        }
        for (int i = 0; pid && i < MOCK__COUNT; i++)
            if (f->mocks[i].p.pid == pid) {
                f->mocks[i].p.exited = true;
                f->mocks[i].p.status = st;
                char key[96], why[96];
                proc_status_text(&f->mocks[i].p, why, sizeof(why));
                snprintf(key, sizeof(key), "mock %s exited: %s", f->mocks[i].host, why);
                add_class(f, key, f->mocks[i].host);
            }
    }
}

/* ---- where the nodes' state lives --------------------------------------------------------------- */

#define FLEET_SHM "/dev/shm"
#define FLEET_SHM_PREFIX "ztp-lab-fleet-"

static const char *fs_name(const char *path, char *dst, size_t cap)
{
    struct statfs sf;
    unsigned long t = statfs(path, &sf) == 0 ? (unsigned long)sf.f_type : 0;
    snprintf(dst, cap, "%s", t == 0x01021994ul ? "tmpfs" : t == 0xEF53ul ? "ext4" : t == 0x58465342ul ? "xfs"
                             : t == 0x9123683Eul ? "btrfs" : t == 0x794c7630ul ? "overlayfs" : t ? "other" : "?");
    return dst;
}

/* /dev/shm/ztp-lab-fleet-RUNID of runs that are no longer alive (a fleet killed with SIGKILL) */
void fleet_clean_leftovers(void)
{
    DIR *d = opendir(FLEET_SHM);
    if (!d)
        return;
    struct topo_run_info *runs = NULL;
    size_t nr = 0;
    topo_runs_list(&runs, &nr);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, FLEET_SHM_PREFIX, strlen(FLEET_SHM_PREFIX)) != 0)
            continue;
        const char *id = de->d_name + strlen(FLEET_SHM_PREFIX);
        bool alive = false;
        for (size_t i = 0; i < nr; i++)
            alive |= !strcmp(runs[i].runid, id) && (runs[i].alive || runs[i].keep);
        if (!alive && topo_runid_valid(id)) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", FLEET_SHM, de->d_name);
            run_rmtree(p);
        }
    }
    free(runs);
    closedir(d);
}

/* ---- the run ----------------------------------------------------------------------------------- */

static void progress(struct fleet *f, double now)
{
    unsigned c[M__COUNT] = {0};
    for (unsigned i = 0; i < f->n; i++)
        for (int m = 0; m < M__COUNT; m++)
            if (f->nodes[i].t[m] != 0)
                c[m]++;
    double l[3];
    read_load(l);
    printf("  %+7.2fs  started %u  ready %u  dhcp %u  proxy %u  redirected %u  auth %u  secret %u  staging %u  "
           "certified %u  svr %u  production %u%s  (load %.1f)\n",
           now - f->t_first_spawn, f->n_spawned, c[M_READY], c[M_DHCP], c[M_PROXY], c[M_REDIRECTED], c[M_AUTH],
           c[M_SECRET], c[M_STAGING], c[M_CERTIFIED], c[M_SVR], c[M_PRODUCTION],
           f->n_exited ? " EXITED" : "", l[0]);
    fflush(stdout);
}

static bool mocks_alive(struct fleet *f)
{
    for (int i = 0; i < MOCK__COUNT; i++)
        if (f->mocks[i].p.exited)
            return false;
    return true;
}

/* Start the nodes (a window of W starting at once) and follow them until every one is
 * production-connected, the timeout, a mock dies, or Ctrl-C. */
static int run_nodes(struct fleet *f)
{
    struct pollfd *pfd = calloc(f->wave + 1, sizeof(*pfd));
    unsigned *who = calloc(f->wave + 1, sizeof(*who));
    unsigned next = 0, starting = 0;
    unsigned *start_list = calloc(f->wave + 1, sizeof(*start_list));
    f->t_first_spawn = proc_now();
    f->wall_first_spawn = wall_now();
    double deadline = f->t_first_spawn + f->timeout_s, last_scan = 0, last_progress = f->t_first_spawn;
    unsigned scan_from = 0;
    int rc = 0;
    while (!*f->cancel) {
        double now = proc_now();
        while (starting < f->wave && next < f->n) {
            struct fnode *nd = &f->nodes[next];
            if (spawn_node(f, nd) < 0) {
                rc = -1;
                goto out;
            }
            start_list[starting++] = next++;
        }
        if (next == f->n && !f->t_all_spawned)
            f->t_all_spawned = proc_now();
        /* readiness lines of the nodes starting now */
        size_t np = 0;
        for (unsigned i = 0; i < starting; i++) {
            pfd[np] = (struct pollfd){.fd = f->nodes[start_list[i]].p.ready_fd, .events = POLLIN};
            who[np++] = i;
        }
        int tmo = FLEET_SCAN_MS;
        if (np) {
            double left = now - last_scan;
            tmo = left >= FLEET_SCAN_MS / 1000.0 ? 0 : (int)(FLEET_SCAN_MS - left * 1000);
        }
        int r = poll(pfd, np, np ? tmo : FLEET_SCAN_MS / 2);
        if (r < 0 && errno != EINTR)
            break;
        bool removed = false;
        for (size_t i = 0; r > 0 && i < np; i++) {
            if (!pfd[i].revents)
                continue;
            struct fnode *nd = &f->nodes[start_list[who[i]]];
            char line[64];
            ssize_t n = read(nd->p.ready_fd, line, sizeof(line));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            close(nd->p.ready_fd);
            nd->p.ready_fd = -1;
            if (n > 0) {
                nd->ready = true;
                nd->p.ready_ms = (proc_now() - nd->p.started_at) * 1000;
                f->n_ready++;
            } else {
                add_class(f, "node not ready: closed its readiness pipe", nd->name);
            }
            start_list[who[i]] = UINT32_MAX;
            removed = true;
        }
        /* a node that does not get ready in time is a failure; the window moves on */
        now = proc_now();
        for (unsigned i = 0; i < starting; i++) {
            struct fnode *nd = &f->nodes[start_list[i]];
            if (start_list[i] != UINT32_MAX && now - nd->p.started_at > FLEET_READY_MS / 1000.0) {
                close(nd->p.ready_fd);
                nd->p.ready_fd = -1;
                add_class(f, "node not ready within 15 s", nd->name);
                start_list[i] = UINT32_MAX;
                removed = true;
            }
        }
        if (removed) {
            unsigned w = 0;
            for (unsigned i = 0; i < starting; i++)
                if (start_list[i] != UINT32_MAX)
                    start_list[w++] = start_list[i];
            starting = w;
            if (next == f->n && !starting && !f->t_all_ready)
                f->t_all_ready = proc_now();
        }
        if (now - last_scan >= FLEET_SCAN_MS / 1000.0) {
            last_scan = now;
            reap_children(f);
            for (unsigned i = scan_from; i < next; i++) {
                struct fnode *nd = &f->nodes[i];
                if (nd->t[M_PRODUCTION] == 0)
                    node_scan(f, nd);
            }
            while (scan_from < next && f->nodes[scan_from].t[M_PRODUCTION] != 0)
                scan_from++;
            if (f->n_done == f->n)
                break;
            if (!mocks_alive(f)) {
                ferr(f, "a mock exited during the run (see failures)");
                rc = -1;
                break;
            }
            if (now >= deadline)
                break;
        }
        if (now - last_progress >= 1.0) {
            last_progress = now;
            progress(f, now);
        }
    }
out:
    for (unsigned i = 0; i < starting; i++)
        if (start_list[i] != UINT32_MAX && f->nodes[start_list[i]].p.ready_fd >= 0) {
            close(f->nodes[start_list[i]].p.ready_fd);
            f->nodes[start_list[i]].p.ready_fd = -1;
        }
    progress(f, proc_now());
    free(pfd);
    free(who);
    free(start_list);
    return rc;
}

/* Peak memory and CPU of every process, before they stop. */
static void collect_usage(struct fleet *f)
{
    for (int i = 0; i < MOCK__COUNT; i++) {
        long rss;
        if (f->mocks[i].p.pid && !f->mocks[i].p.exited)
            proc_usage(f->mocks[i].p.pid, &f->mocks[i].hwm_kb, &rss, &f->mocks[i].cpu_s);
    }
    for (unsigned i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        if (nd->spawned && !nd->exited)
            proc_usage(nd->p.pid, &nd->hwm_kb, &nd->rss_kb, &nd->cpu_s);
    }
}

static void teardown(struct fleet *f)
{
    if (f->keep)
        return;
    /* every node at once: SIGTERM, one deadline, SIGKILL the rest */
    size_t n = 0;
    struct proc **ps = calloc(f->n + MOCK__COUNT, sizeof(*ps));
    unsigned *grace = calloc(f->n + MOCK__COUNT, sizeof(*grace));
    for (unsigned i = 0; ps && grace && i < f->n; i++)
        if (f->nodes[i].spawned && !f->nodes[i].exited) {
            grace[n] = FLEET_STOP_GRACE_MS;
            ps[n++] = &f->nodes[i].p;
        }
    if (ps && grace)
        proc_stop_many(ps, grace, n);
    n = 0;
    for (int i = 0; ps && grace && i < MOCK__COUNT; i++)
        if (f->mocks[i].p.pid && !f->mocks[i].p.exited) {
            grace[n] = FLEET_STOP_GRACE_MS;
            ps[n++] = &f->mocks[i].p;
        }
    if (ps && grace)
        proc_stop_many(ps, grace, n);
    free(ps);
    free(grace);
    if (f->t) {
        topo_destroy(f->t);
        topo_free(f->t);
        f->t = NULL;
    }
    run_rmtree(f->sockdir);
    if (f->nodes_tmp)
        run_rmtree(f->nodes_root);
}

/* ---- the report --------------------------------------------------------------------------------- */

/* rounding without libm (lab links none): x to `digits` decimals */
static double rnd(double x, int digits)
{
    double m = 1;
    while (digits-- > 0)
        m *= 10;
    double v = x * m;
    long long i = (long long)(v < 0 ? v - 0.5 : v + 0.5);
    return (double)i / m;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted v[0..n) */
static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    double x = p / 100.0 * (double)n;
    size_t k = (size_t)x;
    if ((double)k < x)
        k++;
    if (k < 1)
        k = 1;
    return v[k - 1];
}

struct stat4 {
    size_t n;
    double p50, p95, p99, max;
};

static struct stat4 stats_of(double *v, size_t n)
{
    qsort(v, n, sizeof(double), dcmp);
    return (struct stat4){.n = n, .p50 = pct(v, n, 50), .p95 = pct(v, n, 95), .p99 = pct(v, n, 99),
                          .max = n ? v[n - 1] : 0};
}

static json_t *stat_json(struct stat4 s)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)s.n, "p50_ms", rnd(s.p50 * 1000, 1),
                     "p95_ms", rnd(s.p95 * 1000, 1), "p99_ms", rnd(s.p99 * 1000, 1), "max_ms",
                     rnd(s.max * 1000, 1));
}

static int report(struct fleet *f, bool pass)
{
    json_t *j = json_object();
    struct utsname u;
    uname(&u);
    char model[256];
    cpu_model(model, sizeof(model));
    unsigned long long busy = 0, total = 0, steal = f->cpu1[7] - f->cpu0[7];
    for (int i = 0; i < 8; i++) {
        unsigned long long d = f->cpu1[i] - f->cpu0[i];
        total += d;
        if (i != 3 && i != 4 && i != 7) /* not idle, iowait, steal */
            busy += d;
    }
    double tck = (double)sysconf(_SC_CLK_TCK);
    if (!f->t_first_spawn) /* nothing started: the set-up failed */
        f->t_first_spawn = f->t_end;
    double onboard_s = (f->t_all_done ? f->t_all_done : f->t_end) - f->t_first_spawn;
    double rate = onboard_s > 0 ? f->n_done / onboard_s : 0;

    printf("\n== fleet: %u/%u nodes production-connected in %.2f s from the first node start (%.1f onboardings/s)%s\n",
           f->n_done, f->n, onboard_s, rate, pass ? "" : "  FAIL");
    printf("   set-up %.2f s (topology %.2f s, PKI %.3f s, mocks %.2f s); all nodes started %.2f s, all ready %.2f s "
           "after the first; total %.2f s\n",
           f->t_first_spawn - f->t0, f->t_topo, f->t_pki, f->t_mocks,
           f->t_all_spawned ? f->t_all_spawned - f->t_first_spawn : 0, f->t_all_ready ? f->t_all_ready - f->t_first_spawn : 0,
           f->t_end - f->t0);
    printf("   machine: %ld CPUs (%s), kernel %s, load %.2f %.2f %.2f before, %.2f after; whole machine busy %.0f %% "
           "of %.1f CPU-s meanwhile\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, u.release, f->load0[0], f->load0[1], f->load0[2], f->load1[0],
           total ? 100.0 * (double)busy / (double)total : 0, (double)total / tck);

    /* steps */
    double *since_prev = calloc(f->n + 1, sizeof(double)), *since_start = calloc(f->n + 1, sizeof(double));
    json_t *steps = json_array();
    printf("\n   %-22s %6s   %-34s   %s\n", "step (node events)", "nodes", "since the previous step p50/p95/p99/max ms",
           "since the node's start p50/p95/p99/max ms");
    for (int m = M_MANUFACTURED; m < M__COUNT; m++) {
        size_t n1 = 0, n2 = 0;
        for (unsigned i = 0; i < f->n; i++) {
            const struct fnode *nd = &f->nodes[i];
            if (!nd->t[m])
                continue;
            int prev = m - 1;
            while (prev > M_START && !nd->t[prev])
                prev--;
            since_prev[n1++] = nd->t[m] - nd->t[prev];
            since_start[n2++] = nd->t[m] - nd->t[M_START];
        }
        struct stat4 a = stats_of(since_prev, n1), b = stats_of(since_start, n2);
        printf("   %-22s %6zu   %7.1f %7.1f %7.1f %8.1f       %7.1f %7.1f %7.1f %8.1f\n", ms_names[m], a.n, a.p50 * 1000,
               a.p95 * 1000, a.p99 * 1000, a.max * 1000, b.p50 * 1000, b.p95 * 1000, b.p99 * 1000, b.max * 1000);
        json_array_append_new(steps, json_pack("{s:s, s:o, s:o}", "step", ms_names[m], "since_previous", stat_json(a),
                                               "since_start", stat_json(b)));
    }
    free(since_prev);
    free(since_start);

    /* requests, memory, CPU */
    unsigned long long https = 0;
    long hwm_sum = 0, hwm_max = 0;
    double cpu_nodes = 0;
    for (unsigned i = 0; i < f->n; i++) {
        https += f->nodes[i].https;
        hwm_sum += f->nodes[i].hwm_kb;
        if (f->nodes[i].hwm_kb > hwm_max)
            hwm_max = f->nodes[i].hwm_kb;
        cpu_nodes += f->nodes[i].cpu_s;
    }
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    double cpu_lab = (double)self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + (double)self.ru_stime.tv_sec +
                     self.ru_stime.tv_usec / 1e6;
    printf("\n   HTTPS requests: %llu (%.1f per node)\n", https, f->n_done ? (double)https / f->n : 0);
    printf("   %-12s %10s %9s\n", "process", "VmHWM MiB", "CPU s");
    json_t *mem = json_object(), *cpu = json_object();
    for (int i = 0; i < MOCK__COUNT; i++) {
        const struct fmock *m = &f->mocks[i];
        const char *prog = strrchr(m->argv[0], '/') ? strrchr(m->argv[0], '/') + 1 : m->argv[0];
        char name[64];
        snprintf(name, sizeof(name), "%s (%s)", prog, m->host);
        printf("   %-30s %8.1f %9.2f\n", name, m->hwm_kb / 1024.0, m->cpu_s);
        json_object_set_new(mem, m->host, json_pack("{s:s, s:I}", "program", prog, "vmhwm_kb", (json_int_t)m->hwm_kb));
        json_object_set_new(cpu, m->host, json_real(rnd(m->cpu_s, 2)));
    }
    printf("   %-30s %8.1f %9.2f   (max %.1f MiB per node)\n", "ssr-node (sum over the nodes)", hwm_sum / 1024.0,
           cpu_nodes, hwm_max / 1024.0);
    printf("   %-30s %8.1f %9.2f\n", "lab", (double)self.ru_maxrss / 1024.0, cpu_lab);
    double cpu_mocks = 0;
    for (int i = 0; i < MOCK__COUNT; i++)
        cpu_mocks += f->mocks[i].cpu_s;
    printf("   %-30s %8s %9.2f   (nodes + mocks + lab)\n", "the fleet's processes", "", cpu_nodes + cpu_mocks + cpu_lab);
    printf("   %-30s %8s %9.2f   (the fleet's and everything else: kernel work outside them, other users)%s\n",
           "whole machine busy", "", (double)busy / tck, "");
    if (steal)
        printf("   %-30s %8s %9.2f   (taken by the hypervisor)\n", "steal", "", (double)steal / tck);
    json_object_set_new(mem, "nodes_sum", json_pack("{s:I, s:I}", "vmhwm_kb", (json_int_t)hwm_sum, "max_vmhwm_kb",
                                                     (json_int_t)hwm_max));
    json_object_set_new(mem, "lab", json_pack("{s:I}", "maxrss_kb", (json_int_t)self.ru_maxrss));
    json_object_set_new(cpu, "nodes_sum", json_real(rnd(cpu_nodes, 2)));
    json_object_set_new(cpu, "lab", json_real(rnd(cpu_lab, 2)));
    json_object_set_new(cpu, "fleet_processes", json_real(rnd(cpu_nodes + cpu_mocks + cpu_lab, 2)));
    json_object_set_new(cpu, "machine_busy", json_real(rnd((double)busy / tck, 2)));
    json_object_set_new(cpu, "machine_steal", json_real(rnd((double)steal / tck, 2)));
    json_object_set_new(cpu, "machine_total", json_real(rnd((double)total / tck, 2)));

    /* failures: every warn/error event, exits, and the nodes not done by their last step */
    json_t *notdone = json_array();
    unsigned nnot = 0;
    for (unsigned i = 0; i < f->n; i++) {
        const struct fnode *nd = &f->nodes[i];
        if (nd->t[M_PRODUCTION])
            continue;
        int last = M_START;
        for (int m = M_START; m < M__COUNT; m++)
            if (nd->t[m])
                last = m;
        char key[96];
        snprintf(key, sizeof(key), "not done: last step %s", ms_names[last]);
        add_class(f, key, nd->name);
        if (nnot++ < 50)
            json_array_append_new(notdone, json_pack("{s:s, s:s}", "node", nd->name, "last_step", ms_names[last]));
    }
    json_t *fails = json_object();
    unsigned nfail = 0;
    for (size_t i = 0; i < f->n_classes; i++) {
        json_object_set_new(fails, f->classes[i].key, json_pack("{s:i, s:s}", "count", (int)f->classes[i].count,
                                                                 "example", f->classes[i].example));
        nfail += f->classes[i].count;
    }
    printf("\n   failures: %s\n", f->n_classes ? "" : "none");
    for (size_t i = 0; i < f->n_classes; i++)
        printf("     %6u  %s  (e.g. %s)\n", f->classes[i].count, f->classes[i].key, f->classes[i].example);

    json_object_set_new(j, "result", json_string(pass ? "pass" : *f->cancel ? "interrupted" : "fail"));
    if (f->err[0])
        json_object_set_new(j, "error", json_string(f->err));
    json_object_set_new(j, "nodes", json_integer(f->n));
    json_object_set_new(j, "done", json_integer(f->n_done));
    json_object_set_new(j, "wave", json_integer(f->wave));
    json_object_set_new(j, "per_namespace", json_integer(f->per_ns));
    json_object_set_new(j, "node_nice", json_integer(f->nice));
    json_object_set_new(j, "mock_nice", json_integer(f->mock_nice));
    json_object_set_new(j, "net_nice", json_integer(f->net_nice));
    json_object_set_new(j, "mock_threads", json_integer(f->mock_threads));
    json_object_set_new(j, "port_isolation", json_boolean(f->isolation));
    json_object_set_new(j, "mock_state", json_boolean(f->mock_state));
    json_object_set_new(j, "namespaces", json_integer(f->groups));
    json_object_set_new(j, "access_bridges", json_integer(f->n_access));
    json_object_set_new(j, "runid", json_string(f->runid));
    json_object_set_new(j, "onboardings_per_s", json_real(rnd(rate, 1)));
    json_object_set_new(j, "time_to_all_done_s", json_real(rnd(onboard_s, 3)));
    json_object_set_new(
        j, "timings_s",
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "setup", f->t_first_spawn - f->t0, "topology", f->t_topo, "pki",
                  f->t_pki, "mocks", f->t_mocks, "all_started", f->t_all_spawned ? f->t_all_spawned - f->t_first_spawn : 0,
                  "all_ready", f->t_all_ready ? f->t_all_ready - f->t_first_spawn : 0, "total", f->t_end - f->t0));
    json_object_set_new(j, "steps", steps);
    json_object_set_new(j, "https_requests", json_integer((json_int_t)https));
    json_object_set_new(j, "memory", mem);
    json_object_set_new(j, "cpu_s", cpu);
    json_object_set_new(j, "failures", fails);
    json_object_set_new(j, "failure_events", json_integer(nfail));
    json_object_set_new(j, "not_done", notdone);
    json_object_set_new(j, "machine",
                        json_pack("{s:I, s:s, s:s, s:[f, f, f], s:[f, f, f]}", "nproc",
                                  (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "kernel", u.release, "cpu", model,
                                  "loadavg_before", f->load0[0], f->load0[1], f->load0[2], "loadavg_after", f->load1[0],
                                  f->load1[1], f->load1[2]));
    json_object_set_new(j, "bin", json_string(f->bin));
    json_object_set_new(j, "node_state", json_pack("{s:s, s:s, s:b}", "dir", f->nodes_root, "fs", f->nodes_fs,
                                                   "removed", f->nodes_tmp && !f->keep));
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/summary.json", f->art);
    int rc = write_json(f, path, j, 0644);
    printf("\nRESULT fleet: %s  (%u/%u production-connected; %.2fs)  artifacts: %s\n",
           pass ? "PASS" : *f->cancel ? "INTERRUPTED" : "FAIL", f->n_done, f->n, f->t_end - f->t0, f->art);
    if (f->err[0])
        printf("  error: %s\n", f->err);
    return rc;
}

/* ---- main --------------------------------------------------------------------------------------- */

#define FLEET_USAGE                                                                                                  \
    "usage: lab fleet [--nodes N (1000)] [--wave W (50)] [--per-ns K (50)] [--artifacts DIR] [--keep]\n"            \
    "                 [--timeout S (120)] [--state-dir-root DIR] [--mock-state] [--no-isolation]\n"            \
    "                 [--node-nice N (10)] [--mock-nice N (0)] [--net-nice N (0)] [--mock-threads N (1)]\n"

static unsigned parse_uint(const char *s, unsigned lo, unsigned hi, bool *ok)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        *ok = false;
        return 0;
    }
    return (unsigned)v;
}

int fleet_main(int argc, char **argv, const char *bin_dir, volatile sig_atomic_t *cancel)
{
    static const struct option lo[] = {{"nodes", required_argument, NULL, 'n'},   {"wave", required_argument, NULL, 'w'},
                                       {"per-ns", required_argument, NULL, 'k'},  {"artifacts", required_argument, NULL, 'A'},
                                       {"keep", no_argument, NULL, 'K'},          {"timeout", required_argument, NULL, 't'},
                                       {"state-dir-root", required_argument, NULL, 'S'},
                                       {"mock-state", no_argument, NULL, 'M'},
                                       {"no-isolation", no_argument, NULL, 'D'},
                                       {"node-nice", required_argument, NULL, 'N'},
                                       {"mock-nice", required_argument, NULL, 'P'},
                                       {"net-nice", required_argument, NULL, 'Q'},
                                       {"mock-threads", required_argument, NULL, 'T'},
                                       {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    struct fleet *f = calloc(1, sizeof(*f));
    if (!f)
        return 1;
    f->n = 1000;
    f->wave = 50;
    f->per_ns = 50;
    f->timeout_s = 120;
    f->isolation = true;
    f->nice = 10;
    f->mock_nice = 0;
    f->net_nice = 0;
    f->mock_threads = 1; /* seven servers on a few cores: one pool thread each (fleet.h) */
    f->bin = bin_dir;
    f->cancel = cancel;
    char artifacts[PATH_MAX] = "", state_root[PATH_MAX] = "";
    snprintf(artifacts, sizeof(artifacts), "%s/../artifacts", bin_dir);
    char real[PATH_MAX], parent[PATH_MAX + 8];
    snprintf(parent, sizeof(parent), "%s/..", bin_dir);
    if (realpath(parent, real))
        snprintf(artifacts, sizeof(artifacts), "%s/artifacts", real);
    bool ok = true;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n': f->n = parse_uint(optarg, 1, FLEET_MAX_NODES, &ok); break;
        case 'w': f->wave = parse_uint(optarg, 1, 1000, &ok); break;
        case 'k': f->per_ns = parse_uint(optarg, 1, 500, &ok); break;
        case 'A': snprintf(artifacts, sizeof(artifacts), "%s", optarg); break;
        case 'K': f->keep = true; break;
        case 't': f->timeout_s = parse_uint(optarg, 1, 3600, &ok); break;
        case 'S': snprintf(state_root, sizeof(state_root), "%s", optarg); break;
        case 'M': f->mock_state = true; break;
        case 'D': f->isolation = false; break;
        case 'N': f->nice = (int)parse_uint(optarg, 0, 19, &ok); break;
        case 'T': f->mock_threads = parse_uint(optarg, 0, 64, &ok); break;
        case 'P':
        case 'Q': {
            char *end;
            long v = strtol(optarg, &end, 10);
            ok = *optarg && !*end && v >= -20 && v <= 0;
            *(c == 'P' ? &f->mock_nice : &f->net_nice) = (int)v;
            break;
        }
        case 'h': fputs(FLEET_USAGE, stdout); free(f); return 0;
        default: ok = false;
        }
        if (!ok)
            break;
    }
    if (!ok || optind < argc) {
        fprintf(stderr, "lab: fleet: bad arguments (--nodes 1..%d, --wave 1..1000, --per-ns 1..500, --timeout 1..3600)\n%s",
                FLEET_MAX_NODES, FLEET_USAGE);
        free(f);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "lab: fleet needs root (namespaces for %u nodes); run it with sudo\n", f->n);
        free(f);
        return 77;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    f->groups = (f->n + f->per_ns - 1) / f->per_ns;
    if (f->groups > 250 * 15) {
        fprintf(stderr, "lab: fleet: too many namespaces (%u): raise --per-ns\n", f->groups);
        free(f);
        return 2;
    }
    /* a file descriptor per node's log and a few per process starting */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    f->t0 = proc_now();
    read_load(f->load0);
    /* what killed runs left behind */
    {
        struct topo_run_info *runs = NULL;
        size_t nr = 0;
        if (topo_runs_list(&runs, &nr) == 0) {
            for (size_t i = 0; i < nr; i++)
                if (!runs[i].alive && !runs[i].keep)
                    run_kill_leftovers(runs[i].runid);
            free(runs);
        }
        char e[256];
        topo_clean_all(NULL, 0, NULL, e, sizeof(e));
    }
    fleet_clean_leftovers();
    snprintf(f->art, sizeof(f->art), "%s/fleet", artifacts);
    run_rmtree(f->art);
    f->nodes = calloc(f->n, sizeof(*f->nodes));
    if (!f->nodes || topo_runid_new(f->runid) < 0) {
        free(f);
        return 1;
    }
    /* the nodes' state (router.conf, state/, tpm/): many small atomic writes per node, cheapest on a
     * tmpfs: the run's sockets dir (TOPO_RUN_DIR/RUNID.d, which `lab clean` removes with a killed
     * run) when /run is a tmpfs, else /dev/shm/ztp-lab-fleet-RUNID when that is one (a killed
     * fleet's is removed by the next `lab fleet`), else the artifacts */
    char fsb[16];
    run_sockdir(f->runid, f->sockdir, sizeof(f->sockdir));
    mkdir_p(f->sockdir, 0700);
    if (state_root[0]) {
        snprintf(f->nodes_root, sizeof(f->nodes_root), "%s", state_root);
    } else if (!strcmp(fs_name(f->sockdir, fsb, sizeof(fsb)), "tmpfs")) {
        snprintf(f->nodes_root, sizeof(f->nodes_root), "%s", f->sockdir);
    } else if (!strcmp(fs_name(FLEET_SHM, fsb, sizeof(fsb)), "tmpfs")) {
        snprintf(f->nodes_root, sizeof(f->nodes_root), "%s/%s%s", FLEET_SHM, FLEET_SHM_PREFIX, f->runid);
        f->nodes_tmp = true;
    } else {
        snprintf(f->nodes_root, sizeof(f->nodes_root), "%s", f->art);
    }
    int rc = 0;
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/logs/nodes", f->art);
    if (mkdir_p(p, 0755) < 0) {
        fprintf(stderr, "lab: fleet: %s: %s\n", p, strerror(errno));
        free(f);
        return 1;
    }
    if (state_root[0]) {
        snprintf(p, sizeof(p), "%s/nodes", f->nodes_root);
        run_rmtree(p);
    }
    mkdir_p(f->nodes_root, 0755);
    fs_name(f->nodes_root, f->nodes_fs, sizeof(f->nodes_fs));
    printf("lab fleet: %u nodes in %u namespaces (%u per namespace), a window of %u starting at once; run %s; "
           "artifacts %s; nodes' state in %s/nodes (%s)\n",
           f->n, f->groups, f->per_ns, f->wave, f->runid, f->art, f->nodes_root, f->nodes_fs);
    nodes_init(f);

    char e[512];
    double t = proc_now();
    f->t = topo_new(f->runid, "fleet", f->keep ? TOPO_NEW_KEEP : 0, e, sizeof(e));
    if (!f->t) {
        ferr(f, "%s", e);
        rc = -1;
    }
    if (rc == 0)
        rc = build_topology(f);
    f->t_topo = proc_now() - t;
    if (rc == 0)
        printf("  topology: %u namespaces, %u interfaces on the MPLS segment%s%s (%.2f s)\n", f->groups + 9 + f->n_access,
               f->n + f->groups + 3, f->n_access ? " (access bridges)" : "",
               f->isolation ? ", node ports isolated" : ", node ports not isolated", f->t_topo);
    t = proc_now();
    if (rc == 0)
        rc = make_pki(f);
    f->t_pki = proc_now() - t;
    t = proc_now();
    if (rc == 0)
        rc = prep_mocks(f);
    for (unsigned i = 0; rc == 0 && i < f->n; i++)
        rc = prep_node(f, &f->nodes[i]);
    if (rc == 0)
        printf("  PKI %.3f s; configs for the mocks and %u nodes %.2f s\n", f->t_pki, f->n, proc_now() - t);
    t = proc_now();
    if (rc == 0 && !*cancel)
        rc = start_mocks(f);
    f->t_mocks = proc_now() - t;
    if (rc == 0)
        printf("  mocks ready (%.2f s): mock-dhcpd, mock-proxy, mock-ep-terminator, mock-mist, mock-conductor "
               "staging + production, mock-hub\n",
               f->t_mocks);
    read_cpu(f->cpu0);
    if (rc == 0 && !*cancel)
        rc = run_nodes(f);
    read_cpu(f->cpu1);
    read_load(f->load1);
    collect_usage(f);
    f->t_end = proc_now();
    bool pass = rc == 0 && f->n_done == f->n && !*cancel;
    if (rc == 0 && !pass && !*cancel && f->n_done < f->n)
        ferr(f, "%u of %u nodes did not reach production-connected within %u s", f->n - f->n_done, f->n, f->timeout_s);
    double t_td = proc_now();
    teardown(f);
    f->t_end = proc_now();
    report(f, pass);
    printf("  teardown %.2f s\n", f->t_end - t_td);
    if (f->keep)
        printf("\nlab: the fleet stays up (run %s): `lab down fleet` removes it\n", f->runid);
    for (unsigned i = 0; i < f->n; i++) {
        argv_free(f->nodes[i].argv);
        free(f->nodes[i].part);
        if (f->nodes[i].logfd >= 0)
            close(f->nodes[i].logfd);
    }
    for (int i = 0; i < MOCK__COUNT; i++)
        argv_free(f->mocks[i].argv);
    free(f->nodes);
    free(f->classes);
    free(f->conductor_ca_pem);
    free(f->production_ca_pem);
    bool interrupted = *cancel;
    free(f);
    if (interrupted)
        return 130;
    return pass ? 0 : 1;
}
