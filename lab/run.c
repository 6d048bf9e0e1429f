/* One scenario run (see run.h). */
#include "run.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <glob.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"
#include "proc.h"
#include "topo.h"
#include "ztp/daemon.h"

#define MAX_ARGS 96
#define STOP_GRACE_MS 2000
#define START_TIMEOUT_MS 5000
#define TAIL_LINES 12

/* ---- small helpers ---------------------------------------------------------------------------- */

struct av {
    char *v[MAX_ARGS + 1];
    size_t n;
};

static void av_add(struct av *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_add(struct av *a, const char *fmt, ...)
{
    if (a->n >= MAX_ARGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s)
        a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void av_free(struct av *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
    a->v[0] = NULL;
}

static int write_text(const char *path, const char *text)
{
    return atomic_write_file(path, text, strlen(text), 0644);
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int run_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

void run_sockdir(const char *runid, char *dst, size_t cap) { snprintf(dst, cap, "%s/%s.d", topo_run_dir(), runid); }

int run_kill_leftovers(const char *runid)
{
    char pat[PATH_MAX];
    snprintf(pat, sizeof(pat), "%s/%s-*", topo_netns_dir(), runid);
    glob_t g;
    int n = 0;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            n += proc_kill_in_netns(g.gl_pathv[i], STOP_GRACE_MS);
        globfree(&g);
    }
    char sd[PATH_MAX];
    run_sockdir(runid, sd, sizeof(sd));
    run_rmtree(sd);
    return n;
}

static void iso_now(char *dst, size_t cap, bool frac)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(dst, cap, "%s.%03ldZ", b, ts.tv_nsec / 1000000);
    else
        snprintf(dst, cap, "%sZ", b);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "ts=2026-11-23T13:40:01.123456Z" -> epoch seconds, or -1 */
static double parse_ts(const char *v)
{
    struct tm tm = {0};
    const char *rest = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    double frac = 0;
    if (*rest == '.')
        frac = strtod(rest, NULL);
    return (double)timegm(&tm) + frac;
}

/* ---- the run's state ------------------------------------------------------------------------- */

struct rhost {
    const struct scn_host *h;
    char ns[TOPO_NSNAME_MAX + 1];
    char dir[PATH_MAX];
    char log[PATH_MAX];
    char logrel[96];
    struct proc p;                 /* the component */
    struct proc tpm;               /* ssr-node: its swtpm */
    bool started;                  /* has been started once */
    struct av argv;
    char envbuf[4][PATH_MAX + 32];
    const char *env[5];
    enum proc_ready ready;
    char ready_text[160];
    char ready_file[PATH_MAX];
    unsigned ready_port;
    char ctl[108], tpm_sock[108], tpm_ctrl[108];
    const char *pool_proxy[64];    /* mock-dhcpd: the pools' current Option 43 values */
    json_t *faults;                /* mock-proxy: the current fault switches */
    /* timeline follower */
    off_t off;
    char part[8192];
    size_t part_len;
    struct run *run;
};

struct cap {
    const struct scn_segment *seg;
    char host[TOPO_HOST_MAX + 1];
    char ifname[TOPO_IFNAME_MAX + 1];
    struct proc p;
};

struct run {
    const struct scenario *s;
    const struct run_opts *o;
    struct rep_run *rep;
    struct topo *t;
    char runid[TOPO_RUNID_LEN + 1];
    char art[PATH_MAX];
    char sockdir[PATH_MAX];
    struct rhost *hosts;
    size_t n_hosts;
    struct cap *caps;
    size_t n_caps;
    double t0, wall0;
    char pki[PATH_MAX];
    bool have_pki;
    char mist_ip[INET_ADDRSTRLEN];
    unsigned mist_port;
    FILE *tl;                      /* ARTIFACTS/timeline.txt */
    struct exp_host *eh;
    struct exp_ctx ec;
    char err[1024];
    bool skip;                     /* err says why this scenario cannot run here */
    bool foreign_art;              /* the artifact dir is not ours: write nothing into it */
};

static void out(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct run *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (r->o->out) {
        /* one write per line so parallel runs do not interleave inside a line */
        char full[2200];
        int n = snprintf(full, sizeof(full), "%s%s", r->o->prefix ? r->o->prefix : "", line);
        if (n > 0)
            fwrite(full, 1, (size_t)n < sizeof(full) ? (size_t)n : sizeof(full) - 1, r->o->out);
        fflush(r->o->out);
    }
    if (r->tl) {
        fputs(line, r->tl);
        fflush(r->tl);
    }
}

static double rel(struct run *r) { return proc_now() - r->t0; }

static int fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct run *r, const char *fmt, ...)
{
    if (r->err[0])
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    return -1;
}

static struct rhost *rhost_by_name(struct run *r, const char *name)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (!strcmp(r->hosts[i].h->name, name))
            return &r->hosts[i];
    return NULL;
}

/* ---- timeline --------------------------------------------------------------------------------- */

/* Onboarding steps of a router node, from its structured events. Later issues add their events
 * (redirect, authenticated, staging, certificate, SVR config, migrate, production) here. */
static const struct tl_map {
    const char *event;
    const char *step;
    const char *fields[5];
    bool always;                   /* shown without --verbose */
} tl_events[] = {
    {"node.ready", "node ready", {NULL}, true},
    {"dhcpc.bound", "dhcp bound", {"ifname", "addr", "router", NULL}, true},
    {"proxy.learned", "proxy learned", {"proxy", "network-interface", "change", NULL}, true},
    {"proxy.rejected", "proxy rejected", {"network-interface", "reason", "value", NULL}, true},
    {"proxy.ignored", "proxy ignored", {"network-interface", "proxy", NULL}, true},
    {"proxy.selected", "proxy selected", {"active", "source", "cause", NULL}, true},
    {"proxy.changed", "proxy selected", {"new", "source", "cause", NULL}, true},
    {"proxy.dropped", "proxy dropped", {"proxy", "reason", NULL}, true},
    {"proxy.expired", "proxy expired", {"node", "proxy", NULL}, true},
    {"ha.peer.up", "HA peer up", {"peer", NULL}, true},
    {"ha.peer.down", "HA peer down", {"peer", NULL}, true},
    {"phonehome.attempt", "phone-home attempt", {"proxy", "url", "auth", NULL}, false},
    {"phonehome.ok", "phone-home reached", {"url", "proxy", "status", "ms", NULL}, true},
    {"phonehome.failed", "phone-home failed", {"class", "error", "proxy_status", "proxy", NULL}, true},
    {"node.stop", "node stopped", {NULL}, true},
};

struct tl_pending {
    double t;
    char host[32];
    const char *step;
    char detail[256];
};

static void tl_line(struct run *r, struct rhost *rh, const char *line, struct tl_pending *pend, size_t *np, size_t cap)
{
    char ev[64];
    if (!exp_logfmt_get(line, "event", ev, sizeof(ev)))
        return;
    const struct tl_map *m = NULL;
    for (size_t i = 0; i < sizeof(tl_events) / sizeof(tl_events[0]); i++)
        if (!strcmp(tl_events[i].event, ev))
            m = &tl_events[i];
    if (!m || (!m->always && !r->o->verbose) || *np >= cap)
        return;
    char ts[64];
    struct tl_pending *e = &pend[(*np)++];
    e->t = rel(r);
    if (exp_logfmt_get(line, "ts", ts, sizeof(ts))) {
        double w = parse_ts(ts);
        if (w > 0)
            e->t = w - r->wall0;
    }
    snprintf(e->host, sizeof(e->host), "%s", rh->h->name);
    e->step = m->step;
    size_t o = 0;
    e->detail[0] = '\0';
    for (size_t i = 0; m->fields[i] && o < sizeof(e->detail); i++) {
        char v[200];
        if (!exp_logfmt_get(line, m->fields[i], v, sizeof(v)) || !v[0] || !strcmp(v, "0"))
            continue;
        if (i == 0)
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, "%s", v);
        else
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, " %s=%s", m->fields[i], v);
    }
}

static int tl_cmp(const void *a, const void *b)
{
    double x = ((const struct tl_pending *)a)->t, y = ((const struct tl_pending *)b)->t;
    return x < y ? -1 : x > y;
}

/* Read what the router nodes logged since the last call; print it in time order. */
static void tl_pump(struct run *r)
{
    size_t cap = 512, np = 0;
    struct tl_pending *pend = malloc(cap * sizeof(*pend));
    for (size_t i = 0; i < r->n_hosts && pend; i++) {
        struct rhost *rh = &r->hosts[i];
        if (rh->h->kind != SCN_SSR_NODE)
            continue;
        int fd = open(rh->log, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        for (;;) {
            ssize_t n = pread(fd, rh->part + rh->part_len, sizeof(rh->part) - 1 - rh->part_len, rh->off);
            if (n <= 0)
                break;
            rh->off += n;
            rh->part_len += (size_t)n;
            rh->part[rh->part_len] = '\0';
            char *start = rh->part, *nl;
            while ((nl = strchr(start, '\n'))) {
                *nl = '\0';
                tl_line(r, rh, start, pend, &np, cap);
                start = nl + 1;
            }
            size_t left = rh->part_len - (size_t)(start - rh->part);
            if (left == sizeof(rh->part) - 1)
                left = 0; /* a line longer than the buffer: drop it */
            memmove(rh->part, start, left);
            rh->part_len = left;
        }
        close(fd);
    }
    if (np)
        qsort(pend, np, sizeof(*pend), tl_cmp);
    for (size_t i = 0; i < np; i++) {
        struct rep_event *e = report_add_event(r->rep);
        e->t = pend[i].t;
        snprintf(e->host, sizeof(e->host), "%s", pend[i].host);
        snprintf(e->step, sizeof(e->step), "%s", pend[i].step);
        snprintf(e->detail, sizeof(e->detail), "%s", pend[i].detail);
        out(r, "  %+8.3fs  %-8s %-20s %s\n", e->t, e->host, e->step, e->detail);
    }
    free(pend);
}

/* Wait ms while following the logs (bounded; returns early on cancel). */
static void idle(struct run *r, unsigned ms)
{
    double until = proc_now() + ms / 1000.0;
    while (!proc_cancelled()) {
        tl_pump(r);
        double left = until - proc_now();
        if (left <= 0)
            break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((left < 0.02 ? left : 0.02) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* ---- topology -------------------------------------------------------------------------------- */

static int topo_check(struct run *r, int rc, const char *what)
{
    if (rc < 0)
        return fail(r, "topology: %s: %s", what, topo_err(r->t)[0] ? topo_err(r->t) : strerror(-rc));
    return 0;
}

static int build_topology(struct run *r)
{
    const struct scenario *s = r->s;
    char seghost[TOPO_HOST_MAX + 1];
    for (size_t i = 0; i < s->n_segments; i++) {
        const struct scn_segment *g = &s->segments[i];
        if (g->kind != SCN_SEG_BRIDGE)
            continue;
        snprintf(seghost, sizeof(seghost), "s-%s", g->name);
        if (topo_check(r, topo_ns_add(r->t, seghost, 0), seghost) < 0 ||
            topo_check(r, topo_bridge(r->t, seghost, "br0"), seghost) < 0)
            return -1;
        struct cap *c = &r->caps[r->n_caps++];
        c->seg = g;
        snprintf(c->host, sizeof(c->host), "%s", seghost);
        snprintf(c->ifname, sizeof(c->ifname), "br0");
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        if (topo_check(r, topo_ns_add(r->t, rh->h->name, 0), rh->h->name) < 0)
            return -1;
        topo_host_ns(r->t, rh->h->name, rh->ns, sizeof(rh->ns));
        if (rh->h->forwarding &&
            topo_check(r, topo_sysctl(r->t, rh->h->name, "net.ipv4.ip_forward", "1"), "ip_forward") < 0)
            return -1;
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct scn_host *h = r->hosts[i].h;
        for (size_t j = 0; j < h->n_ifs; j++) {
            const struct scn_iface *f = &h->ifs[j];
            const struct scn_segment *g = scenario_segment(s, f->segment);
            char what[128];
            snprintf(what, sizeof(what), "%s:%s on %s", h->name, f->name, g->name);
            if (g->kind == SCN_SEG_BRIDGE) {
                snprintf(seghost, sizeof(seghost), "s-%s", g->name);
                if (topo_check(r, topo_attach(r->t, h->name, f->name, f->mac, seghost, "br0", NULL, 0), what) < 0)
                    return -1;
                continue;
            }
            /* a link: created once, from its first end (hosts in file order) */
            const struct scn_host *oh = NULL;
            const struct scn_iface *of = NULL;
            bool first = true;
            for (size_t k = 0; k < s->n_hosts; k++)
                for (size_t l = 0; l < s->hosts[k].n_ifs; l++) {
                    const struct scn_iface *x = &s->hosts[k].ifs[l];
                    if (x == f || strcmp(x->segment, g->name) != 0)
                        continue;
                    oh = &s->hosts[k];
                    of = x;
                    if (k < i || (k == i && l < j))
                        first = false;
                }
            if (!first || !oh)
                continue;
            if (topo_check(r, topo_veth(r->t, h->name, f->name, f->mac, oh->name, of->name, of->mac), what) < 0)
                return -1;
            struct cap *c = &r->caps[r->n_caps++];
            c->seg = g;
            snprintf(c->host, sizeof(c->host), "%s", h->name);
            snprintf(c->ifname, sizeof(c->ifname), "%s", f->name);
        }
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct scn_host *h = r->hosts[i].h;
        for (size_t j = 0; j < h->n_ifs; j++)
            if (h->ifs[j].address && topo_check(r, topo_addr_add(r->t, h->name, h->ifs[j].name, h->ifs[j].address),
                                                h->ifs[j].address) < 0)
                return -1;
        for (size_t j = 0; j < h->n_routes; j++) {
            char what[128];
            snprintf(what, sizeof(what), "route %s via %s in %s", h->routes[j].to, h->routes[j].via ? h->routes[j].via : "-",
                     h->name);
            if (topo_check(r, topo_route_add(r->t, h->name, h->routes[j].to, h->routes[j].via, h->routes[j].dev), what) < 0)
                return -1;
        }
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct scn_host *h = r->hosts[i].h;
        for (size_t j = 0; j < h->n_ifs; j++)
            if (h->ifs[j].down && topo_check(r, topo_link_set(r->t, h->name, h->ifs[j].name, false), h->ifs[j].name) < 0)
                return -1;
    }
    /* hosts files: the Mist names to the https-servers, every host's name to its first address */
    size_t nl = 0;
    const char **lines = calloc(s->n_hosts * 2 + 1, sizeof(char *));
    char (*buf)[512] = calloc(s->n_hosts * 2 + 1, sizeof(*buf));
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        char ip[INET_ADDRSTRLEN] = "";
        for (size_t j = 0; j < h->n_ifs && !ip[0]; j++)
            scn_iface_ip(&h->ifs[j], ip, sizeof(ip));
        if (!ip[0])
            continue;
        if (h->kind == SCN_HTTPS_SERVER) {
            size_t o = (size_t)snprintf(buf[nl], sizeof(buf[nl]), "%s", ip);
            for (size_t k = 0; k < h->https.n_names; k++)
                o += (size_t)snprintf(buf[nl] + o, sizeof(buf[nl]) - o, " %s", h->https.names[k]);
            lines[nl] = buf[nl];
            nl++;
            if (!r->mist_ip[0]) {
                snprintf(r->mist_ip, sizeof(r->mist_ip), "%s", ip);
                r->mist_port = h->https.port;
            }
        }
        snprintf(buf[nl], sizeof(buf[nl]), "%s %s", ip, h->name);
        lines[nl] = buf[nl];
        nl++;
    }
    lines[nl] = NULL;
    int rc = 0;
    for (size_t i = 0; i < r->n_hosts && rc == 0; i++)
        rc = topo_check(r, topo_hosts(r->t, r->hosts[i].h->name, lines), "hosts file");
    free(lines);
    free(buf);
    return rc;
}

/* ---- captures --------------------------------------------------------------------------------- */

/* The lab's own capture, for unprivileged runs (tcpdump insists on changing to its own user, which
 * a user namespace with one uid cannot do): an AF_PACKET socket on the interface, every frame of
 * both directions written to a pcap file (microsecond timestamps, Ethernet), flushed per frame
 * like tcpdump -U. Runs in a forked child inside the namespace; SIGTERM ends it. */
struct pcap_ctx {
    const char *ifname;
    const char *path;
};

static volatile sig_atomic_t cap_stop;
static void cap_on_term(int sig)
{
    (void)sig;
    cap_stop = 1;
}

static int capture_child(void *ctx)
{
    struct pcap_ctx *c = ctx;
    struct sigaction sa = {.sa_handler = cap_on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    unsigned idx = if_nametoindex(c->ifname);
    if (fd < 0 || !idx) {
        fprintf(stderr, "lab capture: %s: %s\n", c->ifname, strerror(errno));
        return 1;
    }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)idx};
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        fprintf(stderr, "lab capture: bind %s: %s\n", c->ifname, strerror(errno));
        return 1;
    }
    /* promiscuous, as tcpdump: a bridge's frames between its ports are not addressed to it */
    struct packet_mreq mr = {.mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC};
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
        fprintf(stderr, "lab capture: promiscuous mode on %s: %s\n", c->ifname, strerror(errno));
    FILE *f = fopen(c->path, "w");
    if (!f) {
        fprintf(stderr, "lab capture: %s: %s\n", c->path, strerror(errno));
        return 1;
    }
    const uint32_t snap = 262144;
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t zone;
        uint32_t sigfigs, snaplen, linktype;
    } gh = {0xa1b2c3d4, 2, 4, 0, 0, snap, 1 /* LINKTYPE_ETHERNET */};
    fwrite(&gh, sizeof(gh), 1, f);
    fflush(f);
    fprintf(stderr, "lab capture: listening on %s, link-type EN10MB (Ethernet), snapshot length %u bytes\n", c->ifname, snap);
    static unsigned char buf[262144];
    unsigned long long count = 0;
    while (!cap_stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
        if (n < 0)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint32_t caplen = (uint32_t)((size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
        uint32_t rec[4] = {(uint32_t)ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000), caplen, (uint32_t)n};
        fwrite(rec, sizeof(rec), 1, f);
        fwrite(buf, 1, caplen, f);
        fflush(f);
        count++;
    }
    fclose(f);
    fprintf(stderr, "%llu packets captured\n", count);
    return 0;
}

static int start_captures(struct run *r)
{
    /* tcpdump when we are really root; the lab's own capture in a user namespace */
    bool builtin = r->o->mode && !strcmp(r->o->mode, "userns");
    for (size_t i = 0; i < r->n_caps; i++) {
        struct cap *c = &r->caps[i];
        char ns[TOPO_NSNAME_MAX + 1], pcap[PATH_MAX], log[PATH_MAX], name[64];
        topo_host_ns(r->t, c->host, ns, sizeof(ns));
        snprintf(pcap, sizeof(pcap), "%s/pcap/%s.pcap", r->art, c->seg->name);
        snprintf(log, sizeof(log), "%s/logs/cap-%s.log", r->art, c->seg->name);
        snprintf(name, sizeof(name), "tcpdump %s", c->seg->name);
        char *argv[] = {"tcpdump", "-i", c->ifname, "-w", pcap, "--immediate-mode", "-U", "-n", "-s", "0", "-Z", "root", NULL};
        struct pcap_ctx pc = {.ifname = c->ifname, .path = pcap};
        struct proc_spec ps = {.name = name, .nsname = ns, .argv = argv, .log_path = log, .ready = PROC_READY_LOG,
                               .ready_text = "listening on", .timeout_ms = START_TIMEOUT_MS, .detach = r->o->keep,
                               .child_fn = builtin ? capture_child : NULL, .child_ctx = &pc};
        if (proc_start(&c->p, &ps, r->err, sizeof(r->err)) < 0)
            return -1;
    }
    return 0;
}

/* ---- PKI -------------------------------------------------------------------------------------- */

static int openssl_run(struct run *r, char **argv, const char *what)
{
    char log[PATH_MAX], err[512];
    snprintf(log, sizeof(log), "%s/logs/pki.log", r->art);
    struct proc_spec ps = {.name = "openssl", .argv = argv, .log_path = log};
    int rc = proc_run(&ps, 10000, err, sizeof(err));
    if (rc != 0)
        return fail(r, "pki: %s: %s", what, rc > 0 ? "openssl failed (see logs/pki.log)" : err);
    return 0;
}

static int make_pki(struct run *r)
{
    bool need = false;
    for (size_t i = 0; i < r->s->n_hosts; i++)
        need |= r->s->hosts[i].kind == SCN_HTTPS_SERVER;
    if (!need)
        return 0;
    snprintf(r->pki, sizeof(r->pki), "%s/pki", r->art);
    mkdir_p(r->pki, 0755);
    char key[PATH_MAX], pem[PATH_MAX], subj[128];
    snprintf(key, sizeof(key), "%s/ca.key", r->pki);
    snprintf(pem, sizeof(pem), "%s/ca.pem", r->pki);
    snprintf(subj, sizeof(subj), "/O=ztp-lab/CN=ztp-lab root CA %s", r->runid);
    char *ca[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", pem, "-days", "7", "-subj", subj,
                  "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL};
    if (openssl_run(r, ca, "lab CA") < 0)
        return -1;
    for (size_t i = 0; i < r->s->n_hosts; i++) {
        const struct scn_host *h = &r->s->hosts[i];
        if (h->kind != SCN_HTTPS_SERVER)
            continue;
        char hk[PATH_MAX], hp[PATH_MAX], hs[300], san[1024];
        snprintf(hk, sizeof(hk), "%s/%s.key", r->pki, h->name);
        snprintf(hp, sizeof(hp), "%s/%s.pem", r->pki, h->name);
        snprintf(hs, sizeof(hs), "/O=ztp-lab/CN=%s", h->https.names[0]);
        size_t o = (size_t)snprintf(san, sizeof(san), "subjectAltName=");
        for (size_t k = 0; k < h->https.n_names; k++)
            o += (size_t)snprintf(san + o, sizeof(san) - o, "%sDNS:%s", k ? "," : "", h->https.names[k]);
        char *leaf[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", hk, "-out", hp, "-days", "7", "-subj", hs, "-CA", pem, "-CAkey", key,
                        "-addext", san, "-addext", "extendedKeyUsage=serverAuth",
                        "-addext", "basicConstraints=critical,CA:FALSE", NULL};
        if (openssl_run(r, leaf, h->name) < 0)
            return -1;
    }
    r->have_pki = true;
    return 0;
}

/* ---- component configurations ---------------------------------------------------------------- */

static int write_router_config(struct run *r, struct rhost *rh, char *path, size_t cap)
{
    const struct scn_node *n = &rh->h->node;
    snprintf(path, cap, "%s/router.conf", rh->dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "# written by lab from %s (host %s)\n", r->s->file, rh->h->name);
    const char *p = n->config;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && (*p == ' ' || *p == '\t')) {
            p++;
            l--;
        }
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
            l--;
        if (l && *p != '#') {
            if (l > 7 && !strncmp(p, "config ", 7))
                fprintf(f, "%.*s\n", (int)l, p);
            else
                fprintf(f, "config authority router %s %.*s\n", n->router, (int)l, p);
        }
        p = e ? e + 1 : NULL;
    }
    if (n->proxy_user)
        fprintf(f, "config authority router %s management-proxy username %s\n", n->router, n->proxy_user);
    if (n->proxy_password)
        fprintf(f, "config authority router %s management-proxy password %s\n", n->router, n->proxy_password);
    fclose(f);
    int rc = atomic_write_file(path, buf, len, 0600);
    free(buf);
    return rc < 0 ? fail(r, "%s: %s", path, strerror(-rc)) : 0;
}

static const char *ha_addr(const struct scn_host *h, char *dst, size_t cap)
{
    for (size_t i = 0; i < h->n_ifs; i++)
        if (!strcmp(h->ifs[i].name, h->node.ha_interface))
            return scn_iface_ip(&h->ifs[i], dst, cap);
    dst[0] = '\0';
    return dst;
}

static int prep_node(struct run *r, struct rhost *rh)
{
    const struct scn_node *n = &rh->h->node;
    char conf[PATH_MAX], state[PATH_MAX];
    if (write_router_config(r, rh, conf, sizeof(conf)) < 0)
        return -1;
    snprintf(state, sizeof(state), "%s/state", rh->dir);
    mkdir_p(state, 0755);
    snprintf(rh->ctl, sizeof(rh->ctl), "%s/%s.ctl", r->sockdir, rh->h->name);
    struct av *a = &rh->argv;
    av_add(a, "%s/ssr-node", r->o->bin_dir);
    av_add(a, "--config");
    av_add(a, "%s", conf);
    av_add(a, "--node");
    av_add(a, "%s", n->node);
    av_add(a, "--ctl");
    av_add(a, "%s", rh->ctl);
    av_add(a, "--state-dir");
    av_add(a, "%s", state);
    if (n->onboarding) {
        char ob[PATH_MAX];
        snprintf(ob, sizeof(ob), "%s/onboarding.json", rh->dir);
        if (atomic_write_file(ob, n->onboarding, strlen(n->onboarding), 0600) < 0)
            return fail(r, "%s: cannot write", ob);
        av_add(a, "--onboarding");
        av_add(a, "%s", ob);
    }
    if (n->ha_peer) {
        const struct scn_host *peer = scenario_host(r->s, n->ha_peer);
        char mine[INET_ADDRSTRLEN], theirs[INET_ADDRSTRLEN];
        ha_addr(rh->h, mine, sizeof(mine));
        ha_addr(peer, theirs, sizeof(theirs));
        av_add(a, "--ha-listen");
        av_add(a, "%s:%u", mine, SCN_HA_PORT);
        av_add(a, "--ha-peer");
        av_add(a, "%s:%u", theirs, SCN_HA_PORT);
        if (n->ha_timeout > 0) {
            av_add(a, "--ha-timeout");
            av_add(a, "%u", n->ha_timeout);
        }
    }
    if (r->have_pki) {
        const struct scn_host *mist = NULL;
        for (size_t i = 0; i < r->s->n_hosts && !mist; i++)
            if (r->s->hosts[i].kind == SCN_HTTPS_SERVER)
                mist = &r->s->hosts[i];
        av_add(a, "--phone-home-url");
        if (mist->https.port == 443)
            av_add(a, "https://%s/", mist->https.names[0]);
        else
            av_add(a, "https://%s:%u/", mist->https.names[0], mist->https.port);
        av_add(a, "--mist-ca");
        av_add(a, "%s/ca.pem", r->pki);
    }
    for (size_t i = 0; i < n->n_args; i++)
        av_add(a, "%s", n->args[i]);
    rh->ready = PROC_READY_FD;
    return 0;
}

static json_t *mock_dhcpd_config(struct rhost *rh)
{
    json_t *pools = json_array();
    for (size_t i = 0; i < rh->h->n_pools; i++) {
        const struct scn_pool *p = &rh->h->pools[i];
        json_t *j = json_object();
        json_object_set_new(j, "interface", json_string(p->interface));
        json_object_set_new(j, "server", json_string(p->server));
        json_object_set_new(j, "range", json_string(p->range));
        json_object_set_new(j, "subnet_mask", json_string(p->netmask));
        const char *gw = p->gateway ? p->gateway : p->server;
        if (strcmp(gw, "none") != 0)
            json_object_set_new(j, "routers", json_pack("[s]", gw));
        json_object_set_new(j, "lease_time", json_integer(p->lease_time));
        if (p->t1)
            json_object_set_new(j, "t1", json_integer(p->t1));
        if (p->t2)
            json_object_set_new(j, "t2", json_integer(p->t2));
        json_object_set_new(j, "vendor_class", json_string(p->vendor_class));
        if (rh->pool_proxy[i])
            json_object_set_new(j, "proxy", json_string(rh->pool_proxy[i]));
        if (p->option43_end)
            json_object_set_new(j, "option43_end", json_true());
        json_array_append_new(pools, j);
    }
    return json_pack("{s:o}", "pools", pools);
}

static int write_json(struct run *r, const char *path, json_t *j)
{
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!txt)
        return fail(r, "%s: cannot encode", path);
    size_t n = strlen(txt);
    char *t2 = realloc(txt, n + 2);
    if (t2) {
        txt = t2;
        txt[n++] = '\n';
        txt[n] = '\0';
    }
    int rc = atomic_write_file(path, txt, n, 0644);
    free(txt);
    return rc < 0 ? fail(r, "%s: %s", path, strerror(-rc)) : 0;
}

static int prep_dhcp(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    struct av *a = &rh->argv;
    char conf[PATH_MAX];
    for (size_t i = 0; i < h->n_pools && i < 64; i++)
        rh->pool_proxy[i] = h->pools[i].proxy;
    switch (h->impl) {
    case SCN_IMPL_MOCK:
        snprintf(conf, sizeof(conf), "%s/dhcpd.json", rh->dir);
        if (write_json(r, conf, mock_dhcpd_config(rh)) < 0)
            return -1;
        av_add(a, "%s/mock-dhcpd", r->o->bin_dir);
        av_add(a, "--config");
        av_add(a, "%s", conf);
        av_add(a, "--leases");
        av_add(a, "%s/leases.json", rh->dir);
        av_add(a, "--host");
        av_add(a, "%s", h->name);
        rh->ready = PROC_READY_FD;
        return 0;
    case SCN_IMPL_DNSMASQ: {
        snprintf(conf, sizeof(conf), "%s/dnsmasq.conf", rh->dir);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        fprintf(f, "# written by lab from %s\nport=0\nno-resolv\nno-hosts\nno-ping\nbind-interfaces\nlog-dhcp\n"
                   "dhcp-leasefile=%s/dnsmasq.leases\n",
                r->s->file, rh->dir);
        for (size_t i = 0; i < h->n_pools; i++) {
            const struct scn_pool *p = &h->pools[i];
            char lo[32], hi[32];
            sscanf(p->range, "%31[^-]-%31s", lo, hi);
            fprintf(f, "interface=%s\ndhcp-range=set:p%zu,%s,%s,%s,%u\n", p->interface, i, lo, hi, p->netmask, p->lease_time);
            const char *gw = p->gateway ? p->gateway : p->server;
            if (strcmp(gw, "none") != 0)
                fprintf(f, "dhcp-option=tag:p%zu,option:router,%s\n", i, gw);
            else
                fprintf(f, "dhcp-option=tag:p%zu,option:router\n", i);
            if (p->t1)
                fprintf(f, "dhcp-option=tag:p%zu,58,%u\n", i, p->t1);
            if (p->t2)
                fprintf(f, "dhcp-option=tag:p%zu,59,%u\n", i, p->t2);
            if (p->proxy)
                fprintf(f, "dhcp-option=tag:p%zu,vendor:%s,128,%s\n", i, p->vendor_class, p->proxy);
        }
        fclose(f);
        int rc = write_text(conf, buf);
        free(buf);
        if (rc < 0)
            return fail(r, "%s: %s", conf, strerror(-rc));
        av_add(a, "dnsmasq");
        av_add(a, "--no-daemon"); /* foreground, and no user/group change (works in a user namespace too) */
        av_add(a, "--log-facility=-");
        av_add(a, "--pid-file=");
        av_add(a, "--conf-file=%s", conf);
        rh->ready = PROC_READY_LOG;
        char lo[32] = "";
        sscanf(h->pools[h->n_pools - 1].range, "%31[^-]", lo);
        snprintf(rh->ready_text, sizeof(rh->ready_text), "DHCP, IP range %s", lo);
        return 0;
    }
    case SCN_IMPL_KEA: {
        snprintf(conf, sizeof(conf), "%s/kea-dhcp4.json", rh->dir);
        json_t *ifs = json_array(), *subnets = json_array(), *classes = json_array();
        for (size_t i = 0; i < h->n_pools; i++) {
            const struct scn_pool *p = &h->pools[i];
            json_array_append_new(ifs, json_string(p->interface));
            char lo[32], hi[32], pool[80];
            sscanf(p->range, "%31[^-]-%31s", lo, hi);
            snprintf(pool, sizeof(pool), "%s - %s", lo, hi);
            json_t *opts = json_array();
            const char *gw = p->gateway ? p->gateway : p->server;
            if (strcmp(gw, "none") != 0)
                json_array_append_new(opts, json_pack("{s:s, s:s}", "name", "routers", "data", gw));
            json_t *sn = json_pack("{s:I, s:s, s:s, s:[{s:s}], s:o, s:I}", "id", (json_int_t)(i + 1), "subnet", p->subnet,
                                   "interface", p->interface, "pools", "pool", pool, "option-data", opts, "valid-lifetime",
                                   (json_int_t)p->lease_time);
            if (p->t1)
                json_object_set_new(sn, "renew-timer", json_integer(p->t1));
            if (p->t2)
                json_object_set_new(sn, "rebind-timer", json_integer(p->t2));
            json_array_append_new(subnets, sn);
            if (p->proxy) {
                /* Option 43 carries sub-option 128 only for this pool's interface and the vendor class */
                char cname[64], test[256];
                snprintf(cname, sizeof(cname), "ssr-proxy-%zu", i);
                snprintf(test, sizeof(test), "option[60].text == '%s' and pkt.iface == '%s'", p->vendor_class, p->interface);
                json_array_append_new(
                    classes, json_pack("{s:s, s:s, s:[{s:s}, {s:s, s:s, s:s}]}", "name", cname, "test", test, "option-data",
                                       "name", "vendor-encapsulated-options", "name", "ssr-proxy", "space",
                                       "vendor-encapsulated-options-space", "data", p->proxy));
            }
        }
        json_t *cfg = json_pack(
            "{s:{s:{s:o, s:s}, s:{s:s, s:b, s:s, s:i}, s:[{s:s, s:i, s:s, s:s}], s:o, s:o, s:[{s:s, s:[{s:s, s:b}], s:s}]}}",
            "Dhcp4", "interfaces-config", "interfaces", ifs, "dhcp-socket-type", "raw", "lease-database", "type", "memfile",
            "persist", 1, "name", "", "lfc-interval", 0, "option-def", "name", "ssr-proxy", "code", 128, "space",
            "vendor-encapsulated-options-space", "type", "string", "client-classes", classes, "subnet4", subnets, "loggers",
            "name", "kea-dhcp4", "output_options", "output", "stdout", "flush", 1, "severity", "INFO");
        char leases[PATH_MAX];
        snprintf(leases, sizeof(leases), "%s/kea-leases4.csv", rh->dir);
        json_object_set_new(json_object_get(json_object_get(cfg, "Dhcp4"), "lease-database"), "name", json_string(leases));
        if (write_json(r, conf, cfg) < 0)
            return -1;
        av_add(a, "kea-dhcp4");
        av_add(a, "-c");
        av_add(a, "%s", conf);
        snprintf(rh->envbuf[0], sizeof(rh->envbuf[0]), "KEA_LOCKFILE_DIR=%s", rh->dir);
        snprintf(rh->envbuf[1], sizeof(rh->envbuf[1]), "KEA_PIDFILE_DIR=%s", rh->dir);
        rh->env[0] = rh->envbuf[0];
        rh->env[1] = rh->envbuf[1];
        rh->env[2] = NULL;
        rh->ready = PROC_READY_LOG;
        snprintf(rh->ready_text, sizeof(rh->ready_text), "DHCP4_STARTED");
        return 0;
    }
    default:
        return fail(r, "%s: impl %s is not a DHCP server", h->name, scn_impl_name(h->impl));
    }
}

/* A TCP connect from inside the host's namespace: the readiness check of servers without one. */
struct tcp_check {
    struct run *r;
    const char *host;
    const char *ip;
    unsigned port;
};

static int tcp_ready(void *ctx)
{
    struct tcp_check *c = ctx;
    int fd = topo_socket(c->r->t, c->host, AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    inet_pton(AF_INET, c->ip, &sa.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc == 0 ? 1 : 0;
}

static int hash_password(struct run *r, struct rhost *rh, const char *pass, char *dst, size_t cap)
{
    char out[PATH_MAX], err[256];
    snprintf(out, sizeof(out), "%s/passwd.tmp", rh->dir);
    unlink(out);
    char *argv[] = {"openssl", "passwd", "-apr1", (char *)(uintptr_t)pass, NULL};
    struct proc_spec ps = {.name = "openssl passwd", .argv = argv, .log_path = out};
    if (proc_run(&ps, 5000, err, sizeof(err)) != 0)
        return fail(r, "%s: openssl passwd failed", rh->h->name);
    FILE *f = fopen(out, "r");
    if (!f || !fgets(dst, (int)cap, f)) {
        if (f)
            fclose(f);
        return fail(r, "%s: no password hash", rh->h->name);
    }
    fclose(f);
    unlink(out);
    dst[strcspn(dst, "\r\n")] = '\0';
    return 0;
}

static json_t *kv_json(const struct scn_kv *kv)
{
    if (!kv->quoted) {
        if (!strcmp(kv->value, "true") || !strcmp(kv->value, "yes"))
            return json_true();
        if (!strcmp(kv->value, "false") || !strcmp(kv->value, "no"))
            return json_false();
        char *end;
        long long v = strtoll(kv->value, &end, 10);
        if (*kv->value && !*end)
            return json_integer(v);
    }
    return json_string(kv->value);
}

/* mock-proxy's JSON config (mocks/proxy/README.md) from the scenario */
static json_t *mock_proxy_config(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    json_t *c = json_object(), *listen = json_array();
    char v[PATH_MAX + 32];
    for (size_t i = 0; i < h->n_ifs; i++) {
        char ip[INET_ADDRSTRLEN];
        scn_iface_ip(&h->ifs[i], ip, sizeof(ip));
        snprintf(v, sizeof(v), "%s:%u", ip, h->proxy.port);
        json_array_append_new(listen, json_string(v));
    }
    json_object_set_new(c, "listen", listen);
    snprintf(v, sizeof(v), "%s/access.log", rh->dir);
    json_object_set_new(c, "access_log", json_string(v));
    snprintf(v, sizeof(v), "%s/stats.json", rh->dir);
    json_object_set_new(c, "stats", json_string(v));
    json_object_set_new(c, "host", json_string(h->name));
    json_t *allow = json_array();
    if (!h->proxy.n_allow)
        json_array_append_new(allow, json_string("198.18.0.0/15"));
    for (size_t i = 0; i < h->proxy.n_allow; i++)
        json_array_append_new(allow, json_string(h->proxy.allow[i]));
    json_object_set_new(c, "allow_src", allow);
    if (h->proxy.n_deny) {
        json_t *deny = json_array();
        for (size_t i = 0; i < h->proxy.n_deny; i++)
            json_array_append_new(deny, json_string(h->proxy.deny[i]));
        json_object_set_new(c, "deny_domains", deny);
    }
    if (h->proxy.n_users) {
        snprintf(v, sizeof(v), "%s/users", rh->dir);
        json_object_set_new(c, "auth", json_pack("{s:s, s:s}", "users_file", v, "realm", "ztp-lab"));
    }
    /* a lab run stops it right after the checks: no reason to wait a second for idle tunnels */
    json_object_set_new(c, "timeouts", json_pack("{s:i}", "stop_grace_ms", 200));
    json_object_set_new(c, "faults", json_deep_copy(rh->faults));
    (void)r;
    return c;
}

static int prep_proxy(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    struct av *a = &rh->argv;
    char conf[PATH_MAX];
    char ip0[INET_ADDRSTRLEN];
    scn_iface_ip(&h->ifs[0], ip0, sizeof(ip0));
    switch (h->impl) {
    case SCN_IMPL_MOCK: {
        char access[PATH_MAX], users[PATH_MAX];
        snprintf(conf, sizeof(conf), "%s/proxy.json", rh->dir);
        snprintf(access, sizeof(access), "%s/access.log", rh->dir);
        snprintf(users, sizeof(users), "%s/users", rh->dir);
        rh->faults = json_object();
        for (size_t i = 0; i < h->proxy.n_faults; i++)
            json_object_set_new(rh->faults, h->proxy.faults[i].key, kv_json(&h->proxy.faults[i]));
        if (h->proxy.n_users) {
            char *ub = NULL;
            size_t ul = 0;
            FILE *uf = open_memstream(&ub, &ul);
            fprintf(uf, "# written by lab: user:password\n");
            for (size_t i = 0; i < h->proxy.n_users; i++)
                fprintf(uf, "%s:%s\n", h->proxy.users[i].name, h->proxy.users[i].password);
            fclose(uf);
            int rc = atomic_write_file(users, ub, ul, 0600);
            free(ub);
            if (rc < 0)
                return fail(r, "%s: %s", users, strerror(-rc));
        }
        if (write_json(r, conf, mock_proxy_config(r, rh)) < 0)
            return -1;
        snprintf(r->eh[rh - r->hosts].access_log, sizeof(r->eh[0].access_log), "%s", access);
        av_add(a, "%s/mock-proxy", r->o->bin_dir);
        av_add(a, "--config");
        av_add(a, "%s", conf);
        av_add(a, "--host");
        av_add(a, "%s", h->name);
        rh->ready = PROC_READY_FD;
        return 0;
    }
    case SCN_IMPL_SQUID: {
        if (r->o->mode && !strcmp(r->o->mode, "userns") && (r->skip = true))
            return fail(r, "%s: squid cannot run in an unprivileged lab: it refuses to run as root and the lab's user "
                           "namespace has no other user to switch to (run this scenario as root)",
                        h->name);
        char access[PATH_MAX], hosts[PATH_MAX], passwd[PATH_MAX];
        snprintf(conf, sizeof(conf), "%s/squid.conf", rh->dir);
        snprintf(access, sizeof(access), "%s/access.log", rh->dir);
        snprintf(hosts, sizeof(hosts), "%s/hosts", rh->dir);
        snprintf(passwd, sizeof(passwd), "%s/passwd", rh->dir);
        /* squid resolves through its own hosts_file */
        char *hb = NULL;
        size_t hl = 0;
        FILE *hf = open_memstream(&hb, &hl);
        fprintf(hf, "127.0.0.1 localhost\n");
        for (size_t i = 0; i < r->s->n_hosts; i++) {
            const struct scn_host *o = &r->s->hosts[i];
            if (o->kind != SCN_HTTPS_SERVER)
                continue;
            char ip[INET_ADDRSTRLEN];
            scn_iface_ip(&o->ifs[0], ip, sizeof(ip));
            fprintf(hf, "%s", ip);
            for (size_t k = 0; k < o->https.n_names; k++)
                fprintf(hf, " %s", o->https.names[k]);
            fprintf(hf, "\n");
        }
        fclose(hf);
        write_text(hosts, hb);
        free(hb);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        fprintf(f,
                "# written by lab from %s (host %s)\n"
                "http_port %u\nvisible_hostname %s\npid_filename none\ncache_log stdio:%s/cache.log\n"
                "access_log stdio:%s squid\nlogfile_rotate 0\ncache deny all\ncache_mem 8 MB\npinger_enable off\n"
                "shutdown_lifetime 0 seconds\ndns_nameservers 127.0.0.1\nhosts_file %s\ncoredump_dir %s\n"
                "acl SSL_ports port 443\nacl CONNECT method CONNECT\nhttp_access deny CONNECT !SSL_ports\n",
                r->s->file, h->name, h->proxy.port, h->name, rh->dir, access, hosts, rh->dir);
        if (h->proxy.n_users) {
            char *pb = NULL;
            size_t pl = 0;
            FILE *pf = open_memstream(&pb, &pl);
            for (size_t i = 0; i < h->proxy.n_users; i++) {
                char hash[256];
                if (hash_password(r, rh, h->proxy.users[i].password, hash, sizeof(hash)) < 0) {
                    fclose(pf);
                    free(pb);
                    fclose(f);
                    free(buf);
                    return -1;
                }
                fprintf(pf, "%s:%s\n", h->proxy.users[i].name, hash);
            }
            fclose(pf);
            atomic_write_file(passwd, pb, pl, 0644);
            free(pb);
            fprintf(f,
                    "auth_param basic program /usr/lib/squid/basic_ncsa_auth %s\nauth_param basic realm ztp-lab\n"
                    "acl authed proxy_auth REQUIRED\nhttp_access deny !authed\n",
                    passwd);
        }
        if (h->proxy.n_deny) {
            fprintf(f, "acl denied_dst dstdomain");
            for (size_t i = 0; i < h->proxy.n_deny; i++)
                fprintf(f, " %s", h->proxy.deny[i]);
            fprintf(f, "\nhttp_access deny denied_dst\n");
        }
        fprintf(f, "acl clients src");
        if (!h->proxy.n_allow)
            fprintf(f, " 198.18.0.0/15");
        for (size_t i = 0; i < h->proxy.n_allow; i++)
            fprintf(f, " %s", h->proxy.allow[i]);
        fprintf(f, "\nhttp_access allow clients\nhttp_access deny all\n");
        fclose(f);
        int rc = write_text(conf, buf);
        free(buf);
        if (rc < 0)
            return fail(r, "%s: %s", conf, strerror(-rc));
        /* squid drops to its own user: let it write its logs */
        struct passwd *pw = getpwnam("proxy");
        if (pw && geteuid() == 0) {
            if (chown(rh->dir, pw->pw_uid, pw->pw_gid) < 0)
                return fail(r, "chown %s: %s", rh->dir, strerror(errno));
        }
        snprintf(r->eh[rh - r->hosts].access_log, sizeof(r->eh[0].access_log), "%s", access);
        av_add(a, "squid");
        av_add(a, "-N");
        av_add(a, "-d");
        av_add(a, "1");
        av_add(a, "-f");
        av_add(a, "%s", conf);
        rh->ready = PROC_READY_LOG;
        snprintf(rh->ready_text, sizeof(rh->ready_text), "Accepting HTTP Socket connections");
        return 0;
    }
    case SCN_IMPL_TINYPROXY: {
        char access[PATH_MAX], filter[PATH_MAX];
        snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", rh->dir);
        snprintf(access, sizeof(access), "%s/tinyproxy.log", rh->dir);
        snprintf(filter, sizeof(filter), "%s/filter", rh->dir);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        fprintf(f,
                "# written by lab from %s (host %s)\nPort %u\nTimeout 60\nLogFile \"%s\"\nLogLevel Connect\n"
                "MaxClients 50\nConnectPort 443\nDisableViaHeader Yes\n",
                r->s->file, h->name, h->proxy.port, access);
        if (!h->proxy.n_allow)
            fprintf(f, "Allow 198.18.0.0/15\n");
        for (size_t i = 0; i < h->proxy.n_allow; i++)
            fprintf(f, "Allow %s\n", h->proxy.allow[i]);
        for (size_t i = 0; i < h->proxy.n_users; i++)
            fprintf(f, "BasicAuth %s %s\n", h->proxy.users[i].name, h->proxy.users[i].password);
        if (h->proxy.n_deny) {
            char *fb = NULL;
            size_t fl = 0;
            FILE *ff = open_memstream(&fb, &fl);
            for (size_t i = 0; i < h->proxy.n_deny; i++)
                fprintf(ff, "%s\n", h->proxy.deny[i]);
            fclose(ff);
            atomic_write_file(filter, fb, fl, 0644);
            free(fb);
            fprintf(f, "Filter \"%s\"\nFilterDefaultDeny No\n", filter);
        }
        fclose(f);
        int rc = atomic_write_file(conf, buf, len, 0600);
        free(buf);
        if (rc < 0)
            return fail(r, "%s: %s", conf, strerror(-rc));
        snprintf(r->eh[rh - r->hosts].access_log, sizeof(r->eh[0].access_log), "%s", access);
        av_add(a, "tinyproxy");
        av_add(a, "-d");
        av_add(a, "-c");
        av_add(a, "%s", conf);
        rh->ready = PROC_READY_CHECK;
        rh->ready_port = h->proxy.port;
        snprintf(rh->ready_text, sizeof(rh->ready_text), "%s", ip0);
        return 0;
    }
    default:
        return fail(r, "%s: impl %s is not a proxy", h->name, scn_impl_name(h->impl));
    }
}

static int prep_https(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    struct av *a = &rh->argv;
    av_add(a, "openssl");
    av_add(a, "s_server");
    av_add(a, "-accept");
    av_add(a, "%u", h->https.port);
    av_add(a, "-www");
    av_add(a, "-cert");
    av_add(a, "%s/%s.pem", r->pki, h->name);
    av_add(a, "-key");
    av_add(a, "%s/%s.key", r->pki, h->name);
    rh->ready = PROC_READY_LOG;
    snprintf(rh->ready_text, sizeof(rh->ready_text), "ACCEPT");
    return 0;
}

/* ---- starting and stopping -------------------------------------------------------------------- */

static int start_host(struct run *r, struct rhost *rh)
{
    struct tcp_check tc = {.r = r, .host = rh->h->name, .ip = rh->ready_text, .port = rh->ready_port};
    struct proc_spec ps = {
        .name = rh->h->name,
        .nsname = rh->ns,
        .argv = rh->argv.v,
        .env = rh->env[0] ? rh->env : NULL,
        .log_path = rh->log,
        .cwd = rh->dir,
        .ready = rh->ready,
        .ready_text = rh->ready_text,
        .ready_file = rh->ready_file[0] ? rh->ready_file : NULL,
        .ready_check = tcp_ready,
        .ready_ctx = &tc,
        .timeout_ms = START_TIMEOUT_MS,
        .detach = r->o->keep,
    };
    /* a restart waits for a fresh readiness line, not the old one */
    if (rh->started && ps.ready == PROC_READY_LOG) {
        char mark[200];
        snprintf(mark, sizeof(mark), "\n--- lab: restarting %s ---\n", rh->h->name);
        int fd = open(rh->log, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, mark, strlen(mark)) < 0) {
            }
            close(fd);
        }
    }
    if (proc_start(&rh->p, &ps, r->err, sizeof(r->err)) < 0) {
        char *tail = proc_tail(rh->log, 8);
        size_t l = strlen(r->err);
        if (tail[0])
            snprintf(r->err + l, sizeof(r->err) - l, "; last lines of %s:\n%s", rh->logrel, tail);
        free(tail);
        return -1;
    }
    rh->started = true;
    return 0;
}

static int tpm_startup(struct run *r, struct rhost *rh)
{
    char tcti[200], err[256];
    snprintf(tcti, sizeof(tcti), "TPM2TOOLS_TCTI=swtpm:path=%s", rh->tpm_sock);
    const char *env[] = {tcti, NULL};
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/logs/%s-swtpm.log", r->art, rh->h->name);
    char *argv[] = {"tpm2_startup", "-c", NULL};
    struct proc_spec ps = {.name = "tpm2_startup", .argv = argv, .env = env, .log_path = log};
    int rc = proc_run(&ps, 3000, err, sizeof(err));
    return rc == 0 ? 0 : fail(r, "%s: swtpm did not answer TPM2_Startup (%s)", rh->h->name, rc > 0 ? "tpm2_startup failed" : err);
}

static int start_swtpm(struct run *r, struct rhost *rh)
{
    char dir[PATH_MAX], log[PATH_MAX], name[64], st[PATH_MAX + 16], srv[160], ctrl[160];
    snprintf(dir, sizeof(dir), "%s/tpm", rh->dir);
    mkdir_p(dir, 0700);
    snprintf(rh->tpm_sock, sizeof(rh->tpm_sock), "%s/%s.tpm", r->sockdir, rh->h->name);
    snprintf(rh->tpm_ctrl, sizeof(rh->tpm_ctrl), "%s/%s.tpm.ctrl", r->sockdir, rh->h->name);
    snprintf(log, sizeof(log), "%s/logs/%s-swtpm.log", r->art, rh->h->name);
    snprintf(name, sizeof(name), "swtpm %s", rh->h->name);
    snprintf(st, sizeof(st), "dir=%s", dir);
    snprintf(srv, sizeof(srv), "type=unixio,path=%s", rh->tpm_sock);
    snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s", rh->tpm_ctrl);
    char *argv[] = {"swtpm", "socket", "--tpm2", "--tpmstate", st, "--server", srv, "--ctrl", ctrl, "--flags",
                    "not-need-init", NULL};
    struct proc_spec ps = {.name = name, .nsname = rh->ns, .argv = argv, .log_path = log, .ready = PROC_READY_UNIX,
                           .ready_path = rh->tpm_sock, .timeout_ms = START_TIMEOUT_MS, .detach = r->o->keep};
    if (proc_start(&rh->tpm, &ps, r->err, sizeof(r->err)) < 0)
        return -1;
    if (tpm_startup(r, rh) < 0)
        return -1;
    struct exp_host *eh = &r->eh[rh - r->hosts];
    snprintf(eh->tpm_sock, sizeof(eh->tpm_sock), "%s", rh->tpm_sock);
    eh->tpm_ok = true;
    return 0;
}

static unsigned grace_of(const struct scn_host *h);

static void stop_host(struct run *r, struct rhost *rh)
{
    if (rh->p.pid && !rh->p.exited)
        proc_stop(&rh->p, grace_of(rh->h));
    tl_pump(r);
}

/* ---- actions ---------------------------------------------------------------------------------- */

static int count_lines(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) >= 0)
        n += strstr(line, text) != NULL;
    free(line);
    fclose(f);
    return n;
}

static int do_action(struct run *r, const struct scn_step *st, const struct scn_action *a)
{
    struct rhost *rh = rhost_by_name(r, a->host);
    struct rep_event *e = report_add_event(r->rep);
    e->t = rel(r);
    snprintf(e->host, sizeof(e->host), "%s", a->host);
    switch (a->kind) {
    case ACT_STOP:
        snprintf(e->step, sizeof(e->step), "lab: stop");
        out(r, "  %+8.3fs  %-8s %-20s (step \"%s\")\n", e->t, a->host, "lab: stop", st->name);
        stop_host(r, rh);
        return 0;
    case ACT_START:
        snprintf(e->step, sizeof(e->step), "lab: start");
        out(r, "  %+8.3fs  %-8s %-20s (step \"%s\")\n", e->t, a->host, "lab: start", st->name);
        if (proc_alive(&rh->p))
            return 0;
        return start_host(r, rh);
    case ACT_SET_PROXY: {
        snprintf(e->step, sizeof(e->step), "lab: set-proxy");
        snprintf(e->detail, sizeof(e->detail), "pool %u proxy=%s", a->pool, a->value);
        out(r, "  %+8.3fs  %-8s %-20s pool %u Option 43 = \"%s\" (step \"%s\")\n", e->t, a->host, "lab: set-proxy", a->pool,
            a->value, st->name);
        rh->pool_proxy[a->pool] = strcmp(a->value, "none") ? a->value : NULL;
        char conf[PATH_MAX];
        snprintf(conf, sizeof(conf), "%s/dhcpd.json", rh->dir);
        if (write_json(r, conf, mock_dhcpd_config(rh)) < 0)
            return -1;
        int before = count_lines(rh->log, "event=dhcpd.reload");
        proc_signal(&rh->p, SIGHUP);
        double deadline = proc_now() + START_TIMEOUT_MS / 1000.0;
        while (count_lines(rh->log, "event=dhcpd.reload") <= before) {
            if (proc_now() > deadline || proc_cancelled())
                return fail(r, "%s did not reload its config after SIGHUP", a->host);
            idle(r, PROC_POLL_MS);
        }
        char *tail = proc_tail(rh->log, 3);
        bool ok = strstr(tail, "event=dhcpd.reload") && strstr(tail, "ok=true");
        free(tail);
        return ok ? 0 : fail(r, "%s refused the new config (see %s)", a->host, rh->logrel);
    }
    case ACT_WRITE: {
        snprintf(e->step, sizeof(e->step), "lab: write");
        snprintf(e->detail, sizeof(e->detail), "%s", a->file);
        out(r, "  %+8.3fs  %-8s %-20s %s (step \"%s\")\n", e->t, a->host, "lab: write", a->file, st->name);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", rh->dir, a->file);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        mkdir_p(path, 0755);
        *slash = '/';
        int rc = write_text(path, a->value);
        return rc < 0 ? fail(r, "write %s: %s", path, strerror(-rc)) : 0;
    }
    case ACT_PROXY_FAULT: {
        snprintf(e->step, sizeof(e->step), "lab: proxy-fault");
        size_t o = 0;
        for (size_t i = 0; i < a->n_kv && o < sizeof(e->detail); i++) {
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, "%s%s=%s", i ? " " : "", a->kv[i].key, a->kv[i].value);
            json_object_set_new(rh->faults, a->kv[i].key, kv_json(&a->kv[i]));
        }
        out(r, "  %+8.3fs  %-8s %-20s %s (step \"%s\")\n", e->t, a->host, "lab: proxy-fault", e->detail, st->name);
        char conf[PATH_MAX];
        snprintf(conf, sizeof(conf), "%s/proxy.json", rh->dir);
        if (write_json(r, conf, mock_proxy_config(r, rh)) < 0)
            return -1;
        int before = count_lines(rh->log, "event=proxy.reload");
        proc_signal(&rh->p, SIGHUP);
        double deadline = proc_now() + START_TIMEOUT_MS / 1000.0;
        while (count_lines(rh->log, "event=proxy.reload") <= before) {
            if (proc_now() > deadline || proc_cancelled())
                return fail(r, "%s did not reload its config after SIGHUP", a->host);
            idle(r, PROC_POLL_MS);
        }
        char *tail = proc_tail(rh->log, 4);
        bool ok = strstr(tail, "ok=true") != NULL;
        free(tail);
        return ok ? 0 : fail(r, "%s refused the new faults (see %s)", a->host, rh->logrel);
    }
    case ACT_LINK_DOWN:
    case ACT_LINK_UP: {
        bool up = a->kind == ACT_LINK_UP;
        snprintf(e->step, sizeof(e->step), "lab: link %s", up ? "up" : "down");
        snprintf(e->detail, sizeof(e->detail), "%s", a->interface);
        out(r, "  %+8.3fs  %-8s %-20s %s (step \"%s\")\n", e->t, a->host, e->step, a->interface, st->name);
        int rc = topo_link_set(r->t, a->host, a->interface, up);
        return rc < 0 ? fail(r, "link %s %s:%s: %s", up ? "up" : "down", a->host, a->interface, topo_err(r->t)) : 0;
    }
    default:
        return 0;
    }
}

/* ---- expectations ----------------------------------------------------------------------------- */

static void record(struct run *r, const struct scn_step *st, struct exp_state *x)
{
    struct rep_expect *e = report_add_expect(r->rep);
    snprintf(e->step, sizeof(e->step), "%s", st->name);
    snprintf(e->name, sizeof(e->name), "%s", x->name);
    e->pass = x->pass;
    e->skipped = x->skipped;
    snprintf(e->want, sizeof(e->want), "%s", x->want);
    snprintf(e->got, sizeof(e->got), "%s", x->got);
    e->at_s = x->pass ? x->at : -1;
    if (x->fault_host) {
        snprintf(e->log, sizeof(e->log), "logs/%s.log", x->fault_host);
        if (!x->pass) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", r->art, e->log);
            e->log_tail = proc_tail(p, TAIL_LINES);
        }
    }
}

static void run_step(struct run *r, const struct scn_step *st, double deadline)
{
    size_t n = st->n_expects;
    if (!n)
        return;
    struct exp_state *xs = calloc(n, sizeof(*xs));
    for (size_t i = 0; i < n; i++)
        exp_describe(&st->expects[i], &xs[i]);
    /* the others first: polled until all hold together, or the deadline */
    bool confirmed = false;
    while (!confirmed) {
        tl_pump(r);
        bool all = true;
        for (size_t i = 0; i < n; i++)
            if (!exp_is_absence(xs[i].x) && !xs[i].pass && !xs[i].skipped)
                exp_eval(&r->ec, &xs[i], rel(r));
        for (size_t i = 0; i < n; i++)
            all &= exp_is_absence(xs[i].x) || xs[i].pass || xs[i].skipped;
        if (all) {
            /* one more look at all of them: the step's state is one picture */
            bool still = true;
            for (size_t i = 0; i < n; i++)
                if (!exp_is_absence(xs[i].x) && !xs[i].skipped) {
                    exp_eval(&r->ec, &xs[i], rel(r));
                    still &= xs[i].pass;
                }
            if (still)
                confirmed = true;
        }
        if (confirmed || proc_now() >= deadline || proc_cancelled())
            break;
        idle(r, EXP_POLL_MS);
    }
    /* absence checks: once, now */
    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < n; i++)
            if (exp_is_absence(xs[i].x) && !xs[i].final) {
                exp_eval(&r->ec, &xs[i], rel(r));
                if (xs[i].x->kind != EXP_INTERNET_DIRECT)
                    xs[i].final = true;
                pending |= !xs[i].final;
            }
        if (!pending || proc_cancelled())
            break;
        idle(r, 10);
    }
    tl_pump(r);
    for (size_t i = 0; i < n; i++) {
        record(r, st, &xs[i]);
        exp_release(&xs[i]);
    }
    free(xs);
    /* the next step's carried/denied start here */
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct stat sb;
        if (r->eh[i].access_log[0] && stat(r->eh[i].access_log, &sb) == 0)
            r->eh[i].access_from = (long)sb.st_size;
    }
}

/* ---- versions --------------------------------------------------------------------------------- */

static void add_version(struct run *r, json_t *v, const char *key, char **argv)
{
    if (json_object_get(v, key))
        return;
    char path[PATH_MAX], err[128];
    snprintf(path, sizeof(path), "%s/logs/.version", r->art);
    unlink(path);
    struct proc_spec ps = {.name = key, .argv = argv, .log_path = path};
    proc_run(&ps, 3000, err, sizeof(err));
    char *t = proc_tail(path, 200);
    unlink(path);
    char *nl = strchr(t, '\n');
    if (nl)
        *nl = '\0';
    json_object_set_new(v, key, json_string(t[0] ? t : "unknown"));
    free(t);
}

static void collect_versions(struct run *r)
{
    json_t *v = json_object();
    json_object_set_new(v, "lab", json_string(LAB_VERSION));
    const char *ours[] = {"ssr-node", "mock-dhcpd", "mock-proxy"};
    for (size_t i = 0; i < 3; i++) {
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", r->o->bin_dir, ours[i]);
        if (stat(p, &st) == 0) {
            char b[64], t[96];
            struct tm tm;
            gmtime_r(&st.st_mtime, &tm);
            strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
            snprintf(t, sizeof(t), "%s built %s", LAB_VERSION, b);
            json_object_set_new(v, ours[i], json_string(t));
        }
    }
    for (size_t i = 0; i < r->s->n_hosts; i++) {
        switch (r->s->hosts[i].impl) {
        case SCN_IMPL_DNSMASQ: add_version(r, v, "dnsmasq", (char *[]){"dnsmasq", "--version", NULL}); break;
        case SCN_IMPL_KEA: add_version(r, v, "kea-dhcp4", (char *[]){"kea-dhcp4", "-v", NULL}); break;
        case SCN_IMPL_SQUID: add_version(r, v, "squid", (char *[]){"squid", "-v", NULL}); break;
        case SCN_IMPL_TINYPROXY: add_version(r, v, "tinyproxy", (char *[]){"tinyproxy", "-v", NULL}); break;
        case SCN_IMPL_OPENSSL: add_version(r, v, "openssl", (char *[]){"openssl", "version", NULL}); break;
        default: break;
        }
        if (r->s->hosts[i].kind == SCN_SSR_NODE)
            add_version(r, v, "swtpm", (char *[]){"swtpm", "--version", NULL});
    }
    add_version(r, v, "tcpdump", (char *[]){"tcpdump", "--version", NULL});
    r->rep->versions = v;
}

/* ---- the run ---------------------------------------------------------------------------------- */

static int write_lab_json(struct run *r)
{
    json_t *hosts = json_object();
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "kind", scn_kind_name(rh->h->kind), "namespace", rh->ns, "log",
                              rh->log, "dir", rh->dir);
        if (rh->ctl[0])
            json_object_set_new(h, "ctl", json_string(rh->ctl));
        if (rh->tpm_sock[0])
            json_object_set_new(h, "tpm", json_string(rh->tpm_sock));
        json_object_set_new(hosts, rh->h->name, h);
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "runid", r->runid, "scenario", r->s->name, "file", r->s->file,
                          "artifacts", r->art, "hosts", hosts);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/lab.json", r->sockdir);
    return write_json(r, p, j);
}

static int setup(struct run *r)
{
    const struct scenario *s = r->s;
    /* empty the scenario's artifact dir, but only one a lab run made (never a directory someone
     * pointed --artifacts at by mistake) */
    struct stat sb;
    char mark[PATH_MAX];
    snprintf(mark, sizeof(mark), "%s/timeline.txt", r->art);
    if (stat(r->art, &sb) == 0) {
        DIR *d = opendir(r->art);
        bool empty = true;
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                empty = false;
        if (d)
            closedir(d);
        if (!empty && stat(mark, &sb) < 0 && (r->foreign_art = true))
            return fail(r, "%s exists and is not a lab artifact directory (no timeline.txt): not emptying it", r->art);
        int rc = run_rmtree(r->art);
        if (rc < 0)
            return fail(r, "cannot empty %s: %s", r->art, strerror(-rc));
    }
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/logs", r->art);
    if (mkdir_p(p, 0755) < 0)
        return fail(r, "cannot create %s: %s", p, strerror(errno));
    snprintf(p, sizeof(p), "%s/pcap", r->art);
    mkdir_p(p, 0755);
    snprintf(p, sizeof(p), "%s/timeline.txt", r->art);
    r->tl = fopen(p, "w");

    char err[512];
    if (topo_runid_new(r->runid) < 0)
        return fail(r, "no run id: %s", strerror(errno));
    snprintf(r->rep->runid, sizeof(r->rep->runid), "%s", r->runid);
    r->t = topo_new(r->runid, s->name, r->o->keep ? TOPO_NEW_KEEP : 0, err, sizeof(err));
    if (!r->t)
        return fail(r, "topology: %s", err);
    run_sockdir(r->runid, r->sockdir, sizeof(r->sockdir));
    if (mkdir_p(r->sockdir, 0755) < 0)
        return fail(r, "cannot create %s: %s", r->sockdir, strerror(errno));
    out(r, "== %s: %s (run %s, artifacts %s)\n", s->name, s->description, r->runid, r->art);

    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        snprintf(rh->dir, sizeof(rh->dir), "%s/%s", r->art, rh->h->name);
        mkdir_p(rh->dir, 0755);
        snprintf(rh->logrel, sizeof(rh->logrel), "logs/%s.log", rh->h->name);
        snprintf(rh->log, sizeof(rh->log), "%s/%s", r->art, rh->logrel);
        struct exp_host *eh = &r->eh[i];
        eh->h = rh->h;
        snprintf(eh->log, sizeof(eh->log), "%s", rh->log);
    }
    if (build_topology(r) < 0 || start_captures(r) < 0 || make_pki(r) < 0)
        return -1;
    /* servers first, in kind order, then the router nodes (with their swtpm) */
    static const enum scn_kind order[] = {SCN_DHCP_SERVER, SCN_PROXY, SCN_HTTPS_SERVER, SCN_SSR_NODE};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = 0; i < r->n_hosts; i++) {
            struct rhost *rh = &r->hosts[i];
            if (rh->h->kind != order[k])
                continue;
            if (proc_cancelled())
                return fail(r, "interrupted");
            int rc = 0;
            switch (rh->h->kind) {
            case SCN_DHCP_SERVER: rc = prep_dhcp(r, rh); break;
            case SCN_PROXY: rc = prep_proxy(r, rh); break;
            case SCN_HTTPS_SERVER: rc = prep_https(r, rh); break;
            case SCN_SSR_NODE: rc = prep_node(r, rh); break;
            default: break;
            }
            if (rc < 0)
                return -1;
            snprintf(r->eh[i].ctl, sizeof(r->eh[i].ctl), "%s", rh->ctl);
            if (rh->h->kind == SCN_SSR_NODE && start_swtpm(r, rh) < 0)
                return -1;
            if (start_host(r, rh) < 0)
                return -1;
        }
    write_lab_json(r);
    return 0;
}

/* How long a component gets between SIGTERM and SIGKILL. Squid takes two of its one-second
 * event-loop ticks to exit even with shutdown_lifetime 0; its access log is written per request,
 * so it loses nothing when cut short. */
static unsigned grace_of(const struct scn_host *h)
{
    return h->impl == SCN_IMPL_SQUID ? 150 : STOP_GRACE_MS;
}

static void teardown(struct run *r)
{
    tl_pump(r);
    if (r->o->keep)
        return;
    size_t cap = r->n_hosts * 2 + r->n_caps + 1, n = 0;
    struct proc **ps = calloc(cap, sizeof(*ps));
    unsigned *gr = calloc(cap, sizeof(*gr));
    /* the router nodes first (they log their stop), then every server at once, then the captures */
    for (size_t i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].h->kind == SCN_SSR_NODE) {
            ps[n] = &r->hosts[i].p;
            gr[n++] = STOP_GRACE_MS;
        }
    proc_stop_many(ps, gr, n);
    tl_pump(r);
    n = 0;
    for (size_t i = 0; i < r->n_hosts; i++) {
        if (r->hosts[i].h->kind != SCN_SSR_NODE) {
            ps[n] = &r->hosts[i].p;
            gr[n++] = grace_of(r->hosts[i].h);
        }
        if (r->hosts[i].tpm.pid) {
            ps[n] = &r->hosts[i].tpm;
            gr[n++] = STOP_GRACE_MS;
        }
    }
    proc_stop_many(ps, gr, n);
    n = 0;
    for (size_t i = 0; i < r->n_caps; i++) {
        ps[n] = &r->caps[i].p;
        gr[n++] = STOP_GRACE_MS;
    }
    proc_stop_many(ps, gr, n);
    free(ps);
    free(gr);
    if (r->t) {
        /* anything still in the run's namespaces was started by it (helpers of a component) */
        run_kill_leftovers(r->runid);
        if (topo_destroy(r->t) < 0)
            out(r, "lab: teardown: %s\n", topo_err(r->t));
    }
}

static void host_report(struct run *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        struct rep_host *h = report_add_host(r->rep);
        snprintf(h->name, sizeof(h->name), "%s", rh->h->name);
        snprintf(h->kind, sizeof(h->kind), "%s", scn_kind_name(rh->h->kind));
        snprintf(h->impl, sizeof(h->impl), "%s",
                 rh->h->kind == SCN_SSR_NODE ? "ssr-node" : scn_impl_name(rh->h->impl));
        snprintf(h->ns, sizeof(h->ns), "%s", rh->ns);
        h->ready_ms = rh->p.ready_ms;
        proc_status_text(&rh->p, h->status, sizeof(h->status));
        static const char *const vkey[SCN_IMPL_COUNT] = {[SCN_IMPL_DNSMASQ] = "dnsmasq", [SCN_IMPL_KEA] = "kea-dhcp4",
                                                         [SCN_IMPL_SQUID] = "squid", [SCN_IMPL_TINYPROXY] = "tinyproxy",
                                                         [SCN_IMPL_OPENSSL] = "openssl"};
        const char *k = vkey[rh->h->impl];
        if (rh->h->impl == SCN_IMPL_MOCK)
            k = rh->h->kind == SCN_SSR_NODE ? "ssr-node" : rh->h->kind == SCN_DHCP_SERVER ? "mock-dhcpd" : "mock-proxy";
        const char *v = k ? json_string_value(json_object_get(r->rep->versions, k)) : NULL;
        snprintf(h->version, sizeof(h->version), "%s", v ? v : "");
    }
}

static void print_results(struct run *r)
{
    struct rep_run *rep = r->rep;
    out(r, "\n");
    for (size_t i = 0; i < rep->n_exps; i++) {
        const struct rep_expect *e = &rep->exps[i];
        if (e->pass)
            out(r, "  PASS  %s: %s = %s  (%.3fs)\n", e->step, e->name, e->got, e->at_s >= 0 ? e->at_s : 0.0);
        else if (e->skipped)
            out(r, "  SKIP  %s: %s: %s\n", e->step, e->name, e->got);
        else {
            out(r, "  FAIL  %s: %s\n          want: %s\n          got:  %s\n", e->step, e->name, e->want, e->got);
            if (e->log_tail && e->log_tail[0]) {
                out(r, "          --- last lines of %s ---\n", e->log);
                const char *p = e->log_tail;
                while (*p) {
                    const char *nl = strchr(p, '\n');
                    int l = nl ? (int)(nl - p) : (int)strlen(p);
                    out(r, "          %.*s%s\n", l > 180 ? 180 : l, p, l > 180 ? " ..." : "");
                    p = nl ? nl + 1 : p + l;
                }
            }
        }
    }
    if (!strcmp(rep->result, "error"))
        out(r, "  ERROR %s\n", rep->error);
    if (!strcmp(rep->result, "skipped"))
        out(r, "  SKIP  %s\n", rep->error);
    unsigned f = report_failures(rep), sk = 0;
    for (size_t i = 0; i < rep->n_exps; i++)
        sk += rep->exps[i].skipped;
    char skipped[48] = "";
    if (sk)
        snprintf(skipped, sizeof(skipped), ", %u skipped", sk);
    out(r, "RESULT %s: %s  (%zu/%zu expectations held%s; %.2fs: setup %.2fs, checks %.2fs, teardown %.2fs)  artifacts: %s\n",
        rep->scenario,
        !strcmp(rep->result, "pass")      ? "PASS"
        : !strcmp(rep->result, "fail")    ? "FAIL"
        : !strcmp(rep->result, "skipped") ? "SKIPPED"
                                          : "ERROR",
        rep->n_exps - f - sk, rep->n_exps, skipped, rep->total_s, rep->setup_s, rep->checks_s, rep->teardown_s,
        rep->artifacts);
}

enum run_result run_scenario(const struct scenario *s, const struct run_opts *o, struct rep_run *rep)
{
    struct run r = {.s = s, .o = o, .rep = rep};
    r.t0 = proc_now();
    r.wall0 = wall_now();
    snprintf(rep->scenario, sizeof(rep->scenario), "%s", s->name);
    snprintf(rep->file, sizeof(rep->file), "%s", s->file);
    snprintf(rep->description, sizeof(rep->description), "%s", s->description);
    snprintf(rep->mode, sizeof(rep->mode), "%s", o->mode ? o->mode : "root");
    iso_now(rep->started, sizeof(rep->started), true);
    snprintf(r.art, sizeof(r.art), "%s/%s", o->artifacts_root, s->name);
    if (r.art[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)))
            snprintf(r.art, sizeof(r.art), "%s/%s/%s", cwd, o->artifacts_root, s->name);
    }
    snprintf(rep->artifacts, sizeof(rep->artifacts), "%s", r.art);
    r.n_hosts = s->n_hosts;
    r.hosts = calloc(s->n_hosts + 1, sizeof(*r.hosts));
    r.eh = calloc(s->n_hosts + 1, sizeof(*r.eh));
    r.caps = calloc(s->n_segments + 1, sizeof(*r.caps));
    for (size_t i = 0; i < s->n_hosts; i++) {
        r.hosts[i].h = &s->hosts[i];
        r.hosts[i].run = &r;
        r.eh[i].h = &s->hosts[i];
    }

    int rc = setup(&r);
    rep->setup_s = rel(&r);
    if (rc < 0)
        out(&r, "lab: %s %s: %s\n", s->name, r.skip ? "is skipped" : "could not be set up", r.err);
    enum run_result res = RUN_PASS;
    if (rc == 0) {
        r.ec = (struct exp_ctx){.s = s, .hosts = r.eh, .n_hosts = r.n_hosts, .artifacts = r.art, .topo = r.t,
                                .unprivileged = o->mode && !strcmp(o->mode, "userns")};
        double deadline = r.t0 + s->timeout;
        for (size_t i = 0; i < s->n_steps && !proc_cancelled(); i++) {
            const struct scn_step *st = &s->steps[i];
            if (st->at >= 0) {
                double until = r.t0 + st->at;
                while (proc_now() < until && !proc_cancelled())
                    idle(&r, 20);
            }
            tl_pump(&r);
            if (i + 1 < s->n_steps || st->n_actions)
                out(&r, "  %+8.3fs  -- step: %s\n", rel(&r), st->name);
            for (size_t j = 0; j < st->n_actions && rc == 0; j++)
                rc = do_action(&r, st, &st->actions[j]);
            if (rc < 0)
                break;
            run_step(&r, st, deadline);
        }
        rep->checks_s = rel(&r) - rep->setup_s;
    }
    double td0 = rel(&r);
    if (proc_cancelled()) {
        fail(&r, "interrupted");
        res = RUN_INTERRUPTED;
    }
    teardown(&r);
    /* the no-secrets check again, now that every log is complete */
    for (size_t i = 0; i < rep->n_exps && rc == 0; i++)
        if (!strcmp(rep->exps[i].name, "no-secrets")) {
            struct scn_expect x = {.kind = EXP_NO_SECRETS};
            struct exp_state st;
            exp_describe(&x, &st);
            exp_eval(&r.ec, &st, rel(&r));
            rep->exps[i].pass = st.pass;
            snprintf(rep->exps[i].got, sizeof(rep->exps[i].got), "%s", st.got);
        }
    rep->teardown_s = rel(&r) - td0;
    rep->total_s = rel(&r);
    if (!o->keep)
        collect_versions(&r);
    host_report(&r);
    if (r.err[0] && r.skip) {
        snprintf(rep->result, sizeof(rep->result), "skipped");
        snprintf(rep->error, sizeof(rep->error), "%s", r.err);
        res = RUN_SKIPPED;
    } else if (r.err[0]) {
        snprintf(rep->result, sizeof(rep->result), "error");
        snprintf(rep->error, sizeof(rep->error), "%s", r.err);
        if (res != RUN_INTERRUPTED)
            res = RUN_ERROR;
    } else if (report_failures(rep)) {
        snprintf(rep->result, sizeof(rep->result), "fail");
        res = RUN_FAIL;
    } else {
        snprintf(rep->result, sizeof(rep->result), "pass");
    }
    print_results(&r);
    if (!r.foreign_art) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/summary.json", r.art);
        report_write_summary(rep, p);
        snprintf(p, sizeof(p), "%s/junit.xml", r.art);
        const struct rep_run *one = rep;
        report_write_junit(p, &one, 1);
    }
    if (r.tl)
        fclose(r.tl);
    if (r.t && !o->keep)
        run_rmtree(r.sockdir);
    topo_free(r.t);
    for (size_t i = 0; i < r.n_hosts; i++) {
        av_free(&r.hosts[i].argv);
        json_decref(r.hosts[i].faults);
    }
    free(r.hosts);
    free(r.eh);
    free(r.caps);
    return res;
}
