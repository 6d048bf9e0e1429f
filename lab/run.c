/* One scenario run (see run.h). */
#include "run.h"
#include "report_html.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <sys/inotify.h>
#include <glob.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "expect.h"
#include "proc.h"
#include "topo.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

#define MAX_ARGS 96
#define STOP_GRACE_MS 2000
#define START_TIMEOUT_MS 5000
#define TAIL_LINES 12
#define VG_SLOWDOWN 8              /* --valgrind: start and stop bounds, the scenario's timeout x this (x4) */
#define VG_ERROR_EXIT 99

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

struct run;

/* The readiness check of servers without a readiness protocol: a TCP connect from inside the
 * host's namespace (tcp_ready). */
struct tcp_check {
    struct run *r;
    const char *host;
    const char *ip;
    unsigned port;
};

struct rhost {
    const struct scn_host *h;
    char ns[TOPO_NSNAME_MAX + 1];
    char dir[PATH_MAX];
    char log[PATH_MAX];
    char logrel[96];
    struct proc p;                 /* the component */
    struct proc_spec spec;         /* how it is started (kept from start_host_begin to _finish) */
    struct tcp_check tc;
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
    /* ssr-node with sZTP (secrets: never in a log; see run->secrets) */
    char ocra_hex[2 * SCN_OCRA_KEY_LEN + 1];     /* manufactured into its TPM */
    char registry_hex[2 * SCN_OCRA_KEY_LEN + 1]; /* what the Mist registry holds (another key: ocra-key wrong) */
    char psk[33];                  /* its router's pre-shared secret (the same on both nodes) */
    char mist_psk[33];             /* conductor-psk: wrong: the other secret Mist hands out */
    bool claimed;                  /* in the claims file now */
    /* timeline follower */
    off_t off;
    char part[8192];
    size_t part_len;
    struct run *run;
    /* the watcher thread's view of the current process (see watch_check): set before each start */
    off_t log_start;               /* the log's size when it was (re)started */
    unsigned gen;                  /* starts so far (atomic) */
    unsigned killed_gen;           /* the start a trigger's kill: ended (atomic) */
    bool vg;                       /* runs under valgrind memcheck (--valgrind) */
    struct av vgargv;              /* valgrind's argv + the component's */
};

/* A condition being watched (a trigger, or the current step's when:), see watcher_main. */
struct watch {
    const struct scn_step *st;
    struct rhost *rh;              /* the condition's host */
    bool trigger;
    int armed;                     /* atomic: the watcher looks at it */
    int fired;                     /* atomic: it held, and the leading kill: actions were sent */
    bool handled;                  /* main thread: the rest of the actions ran */
    double t_met, t_killed;        /* seconds since the start */
    char note[256];                /* what the watcher did */
    unsigned gen;                  /* the host start the scan belongs to */
    off_t off;
    char part[8192];
    size_t part_len;
    regex_t rx;
    bool have_rx;
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
    char *conductor_ca_pem;        /* the onboarding data's root CA (pki/conductor-ca.pem) */
    char *production_ca_pem;       /* the production conductor's root CA (pki/production-ca.pem), handed out by staging */
    char production_psk[33];       /* the production conductor's secret (one per run: staging hands out one) */
    struct rhost *ept;             /* the ep-terminator, NULL when none */
    char **secrets;                /* what the run generated: OCRA keys (hex), pre-shared secrets */
    size_t n_secrets;
    FILE *tl;                      /* ARTIFACTS/timeline.txt */
    struct exp_host *eh;
    struct exp_ctx ec;
    char err[1024];
    bool skip;                     /* err says why this scenario cannot run here */
    bool foreign_art;              /* the artifact dir is not ours: write nothing into it */
    struct watch *w;               /* the triggers, then one slot for the current step's when: */
    size_t n_w;
    pthread_t watcher;
    bool watcher_on;
    int w_stop;                    /* atomic */
    unsigned w_pass;               /* atomic: the watcher's passes over the watches so far */
    bool in_service;
    bool vg_any;                   /* a host runs under valgrind */
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

/* Onboarding steps of a router node, from its structured events, and the Mist mocks', the
 * conductors' and the hub's events in their own lanes. `sztp.state` and `conductor.state` are
 * special: their step is named after the state reached (sztp_steps, cond_steps below), with the
 * product doc's step number. */
#define K(kind) (1u << (kind))
static const struct tl_map {
    const char *event;
    const char *step;
    const char *fields[8];         /* NULL-terminated */
    bool always;                   /* shown without --verbose */
    unsigned kinds;                /* only for hosts of these kinds (K(SCN_...)); 0: any */
} tl_events[] = {
    {"node.ready", "node ready", {NULL}, true, 0},
    {"dhcpc.bound", "dhcp bound", {"ifname", "addr", "router", NULL}, true, 0},
    {"proxy.learned", "proxy learned", {"proxy", "network-interface", "change", NULL}, true, 0},
    {"proxy.rejected", "proxy rejected", {"network-interface", "reason", "value", NULL}, true, 0},
    {"proxy.ignored", "proxy ignored", {"network-interface", "proxy", NULL}, true, 0},
    {"proxy.selected", "proxy selected", {"active", "source", "cause", NULL}, true, 0},
    {"proxy.changed", "proxy selected", {"new", "source", "cause", NULL}, true, 0},
    {"proxy.dropped", "proxy dropped", {"proxy", "reason", NULL}, true, 0},
    {"proxy.expired", "proxy expired", {"node", "proxy", NULL}, true, 0},
    {"ha.peer.up", "HA peer up", {"peer", NULL}, true, 0},
    {"ha.peer.down", "HA peer down", {"peer", NULL}, true, 0},
    {"sztp.request", "sZTP request", {"method", "url", "proxy", NULL}, false, 0},
    {"sztp.failed", "onboarding failed", {"class", "state", "status", "error", "retry_in_ms", NULL}, true, 0},
    {"sztp.replay", "replay", {"result", "status", "reason", NULL}, true, 0},
    {"sztp.recheck", "recheck", {"result", "proxy", "redirect", "class", NULL}, true, 0},
    {"sztp.resume", "onboarding resumed", {"state", "action", NULL}, true, 0},
    /* the conductor client (router/conductor.c) and SVR peering (router/svr.c) */
    {"conductor.production_ca", "production CA stored", {"step", NULL}, true, K(SCN_SSR_NODE)},
    {"conductor.production_psk", "production psk sealed", {"step", "sealed", NULL}, true, K(SCN_SSR_NODE)},
    {"conductor.key", "router key", {"step", "result", "type", NULL}, false, K(SCN_SSR_NODE)},
    {"conductor.csr", "CSR sent", {"step", "identity", NULL}, true, K(SCN_SSR_NODE)},
    {"conductor.certificate", "certificate", {"step", "result", "serial", NULL}, true, K(SCN_SSR_NODE)},
    {"conductor.migrate", "migrate", {"step", "by", "conductor", "ack", NULL}, true, K(SCN_SSR_NODE)},
    {"conductor.staging", "staging conductor", {"step", "conductor", "result", NULL}, false, K(SCN_SSR_NODE)},
    {"conductor.connected", "production connected", {"step", "conductor", "by", "resumed", NULL}, false, K(SCN_SSR_NODE)},
    {"conductor.failed", "conductor failed",
     {"step", "class", "state", "conductor", "status", "error", "retry_in_ms"}, true, K(SCN_SSR_NODE)},
    {"conductor.task", "task", {"task", "role", "conductor", NULL}, false, K(SCN_SSR_NODE)},
    {"conductor.ack", "ack", {"task", "result", "next", NULL}, false, K(SCN_SSR_NODE)},
    {"conductor.request", "conductor request", {"method", "url", "proxy", NULL}, false, K(SCN_SSR_NODE)},
    {"svr.peered", "hub peered", {"step", "hub", "hub_name", "peer", NULL}, true, K(SCN_SSR_NODE)},
    {"svr.refused", "hub refused", {"step", "hub", "reason", NULL}, true, K(SCN_SSR_NODE)},
    {"svr.failed", "hub failed", {"step", "hub", "class", "error", "retry_in_ms", NULL}, true, K(SCN_SSR_NODE)},
    {"svr.down", "hub down", {"step", "hub", "class", "error", NULL}, true, K(SCN_SSR_NODE)},
    {"node.stop", "node stopped", {NULL}, true, 0},
    /* mock-ep-terminator, mock-mist */
    {"device.phone-home", "phone-home seen", {"verdict", "device", "environment", "retry_after", NULL}, true, 0},
    {"device.verify", "device verify", {"result", "device", "mode", "reason", "failures", NULL}, true, 0},
    {"device.locked", "device locked", {"device", "failures", "lockout_seconds", NULL}, true, 0},
    {"device.onboarding", "onboarding served", {"result", "device", "reason", NULL}, false, 0},
    {"config.reload", "config reload", {"result", "error", NULL}, true, 0},
    /* mock-conductor */
    {"router.auth", "auth", {"result", "router", "node", "role", "reason", "failures", NULL}, false, K(SCN_CONDUCTOR)},
    {"router.csr", "CSR", {"result", "identity", "serial", "ca", "reason", NULL}, true, K(SCN_CONDUCTOR)},
    {"router.state", "inventory", {"router", "node", "from", "to", NULL}, true, K(SCN_CONDUCTOR)},
    {"router.locked", "node locked", {"router", "node", "failures", "lockout_seconds", NULL}, true, K(SCN_CONDUCTOR)},
    {"router.tls", "client refused", {"result", "identity", "reason", NULL}, true, K(SCN_CONDUCTOR)},
    {"router.task", "task", {"task", "router", "node", NULL}, false, K(SCN_CONDUCTOR)},
    {"inventory.restored", "inventory restored", {"nodes", "dropped", NULL}, true, K(SCN_CONDUCTOR)},
    /* mock-hub */
    {"svr.peered", "peered", {"peer", "addr", "tls", NULL}, true, K(SCN_HUB)},
    {"svr.refused", "refused", {"reason", "identity", "addr", "detail", NULL}, true, K(SCN_HUB)},
    {"svr.closed", "closed", {"peer", "reason", NULL}, false, K(SCN_HUB)},
};
#undef K

/* sztp.state to=STATE: the timeline's name of the step reached */
static const struct {
    const char *state, *step;
    bool always;
} sztp_steps[] = {
    {"init", "onboarding reset", true},         {"proxy-ready", "proxy ready", false},
    {"phoning-home", "phone home", true},       {"redirected", "redirected", true},
    {"authenticated", "authenticated", true},   {"onboarding-received", "onboarding data", true},
    {"root-ca-installed", "root CA installed", true}, {"secret-stored", "secret stored", true},
};

/* conductor.state to=STATE: the timeline's name of the step reached (router/conductor.h) */
static const struct {
    const char *state, *step;
} cond_steps[] = {
    {"idle", "conductor reset"},          {"staging-auth", "staging auth"},    {"staging-connected", "staging connected"},
    {"production-received", "production data"}, {"key-created", "key created"},   {"certified", "certified"},
    {"svr-configured", "SVR configured"}, {"migrating", "migrating"},          {"production-connected", "production connected"},
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
    struct tl_map st = {"sztp.state", NULL, {"step", NULL}, true, 0};
    bool cond = !strcmp(ev, "conductor.state") && rh->h->kind == SCN_SSR_NODE;
    if (cond) {
        char to[40];
        if (!exp_logfmt_get(line, "to", to, sizeof(to)))
            return;
        for (size_t i = 0; i < sizeof(cond_steps) / sizeof(cond_steps[0]); i++)
            if (!strcmp(cond_steps[i].state, to))
                st.step = cond_steps[i].step;
        if (!st.step)
            st.step = "conductor step";
        m = &st;
    } else if (!strcmp(ev, "sztp.state")) {
        char to[40];
        if (!exp_logfmt_get(line, "to", to, sizeof(to)))
            return;
        for (size_t i = 0; i < sizeof(sztp_steps) / sizeof(sztp_steps[0]); i++)
            if (!strcmp(sztp_steps[i].state, to)) {
                st.step = sztp_steps[i].step;
                st.always = sztp_steps[i].always;
            }
        if (!st.step)
            st.step = "onboarding step"; /* a state this lab does not name yet */
        m = &st;
    }
    for (size_t i = 0; !m && i < sizeof(tl_events) / sizeof(tl_events[0]); i++)
        if (!strcmp(tl_events[i].event, ev) && (!tl_events[i].kinds || (tl_events[i].kinds & (1u << rh->h->kind))))
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
    char rt[80], nd[80], fr[40], tt[40];
    if (!strcmp(ev, "router.state") && exp_logfmt_get(line, "router", rt, sizeof(rt)) &&
        exp_logfmt_get(line, "node", nd, sizeof(nd)) && exp_logfmt_get(line, "from", fr, sizeof(fr)) &&
        exp_logfmt_get(line, "to", tt, sizeof(tt))) {
        /* the conductor's inventory: "R1/r1a pending -> onboarding" */
        snprintf(e->detail, sizeof(e->detail), "%s/%s %s -> %s", rt, nd, fr, tt);
        return;
    }
    for (size_t i = 0; m->fields[i] && o < sizeof(e->detail); i++) {
        char v[200];
        if (!exp_logfmt_get(line, m->fields[i], v, sizeof(v)) || !v[0] || !strcmp(v, "0"))
            continue;
        if (!strcmp(m->fields[i], "step"))
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, "%sstep %s", o ? " " : "", v);
        else if (i == 0 && strspn(v, "0123456789") != strlen(v)) /* a number says nothing without its name */
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, "%s", v);
        else
            o += (size_t)snprintf(e->detail + o, sizeof(e->detail) - o, "%s%s=%s", o ? " " : "", m->fields[i], v);
    }
    /* a step back (authenticate again, phone home again, start over): say from where and why */
    char from[40], to[40], why[160];
    if (m == &st && exp_logfmt_get(line, "from", from, sizeof(from)) && exp_logfmt_get(line, "to", to, sizeof(to)) &&
        (cond ? scn_cond_state_index(to) < scn_cond_state_index(from)
              : scn_sztp_state_index(to) < scn_sztp_state_index(from)) &&
        o < sizeof(e->detail))
        snprintf(e->detail + o, sizeof(e->detail) - o, " from=%s why=\"%s\"", from,
                 exp_logfmt_get(line, "why", why, sizeof(why)) ? why : "");
}

static int tl_cmp(const void *a, const void *b)
{
    double x = ((const struct tl_pending *)a)->t, y = ((const struct tl_pending *)b)->t;
    return x < y ? -1 : x > y;
}

/* Read what the router nodes and the Mist mocks logged since the last call; print it in time order. */
static void tl_pump(struct run *r)
{
    size_t cap = 512, np = 0;
    struct tl_pending *pend = malloc(cap * sizeof(*pend));
    for (size_t i = 0; i < r->n_hosts && pend; i++) {
        struct rhost *rh = &r->hosts[i];
        if (rh->h->kind != SCN_SSR_NODE && rh->h->kind != SCN_EP_TERMINATOR && rh->h->kind != SCN_MIST &&
            rh->h->kind != SCN_CONDUCTOR && rh->h->kind != SCN_HUB)
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
        out(r, "  %+8.3fs  %-10s %-20s %s\n", e->t, e->host, e->step, e->detail);
    }
    free(pend);
}

static void service_watches(struct run *r);

/* Wait ms while following the logs (bounded; returns early on cancel). */
static void idle(struct run *r, unsigned ms)
{
    double until = proc_now() + ms / 1000.0;
    while (!proc_cancelled()) {
        service_watches(r);
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
        /* a router answers every packet it cannot forward with an ICMP error at once, not one a
         * second: a blocked direct path (internet-direct) then fails right away instead of timing out */
        if (rh->h->forwarding)
            topo_sysctl(r->t, rh->h->name, "net.ipv4.icmp_ratelimit", "0");
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
    /* hosts files: the Mist names to the ep-terminator and mist hosts, every host's name to its first address */
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
        if (h->kind == SCN_EP_TERMINATOR || h->kind == SCN_MIST) {
            size_t o = (size_t)snprintf(buf[nl], sizeof(buf[nl]), "%s", ip);
            for (size_t k = 0; k < h->cloud.n_names && o < sizeof(buf[nl]); k++)
                o += (size_t)snprintf(buf[nl] + o, sizeof(buf[nl]) - o, " %s", h->cloud.names[k]);
            lines[nl] = buf[nl];
            nl++;
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

/* ---- packet loss ------------------------------------------------------------------------------ */

/* `loss: N` on a bridge segment: an nftables table in the segment's namespace (bridge family,
 * forward hook) that counts every frame the bridge forwards and drops N % of them at random
 * (`numgen random mod 100 < N`): both directions, every protocol (DHCP, TCP, the HA datagrams).
 * The ruleset is written to pcap/../SEG.nft and loaded with `nft -f` inside the namespace. */
/* prog's full path in $PATH (and /usr/sbin, /sbin: nft lives there) into dst, or NULL */
static const char *in_path(const char *prog, char *dst, size_t cap)
{
    const char *path = getenv("PATH");
    char all[4096];
    snprintf(all, sizeof(all), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    for (const char *p = all; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dst, cap, "%.*s/%s", (int)n, p, prog);
        if (n && access(dst, X_OK) == 0)
            return dst;
        p += n + (p[n] == ':');
    }
    return NULL;
}

static int apply_loss(struct run *r)
{
    for (size_t i = 0; i < r->s->n_segments; i++) {
        const struct scn_segment *g = &r->s->segments[i];
        if (!g->loss)
            continue;
        char nft[PATH_MAX];
        if (!in_path("nft", nft, sizeof(nft)) && (r->skip = true))
            return fail(r, "segment %s: loss: needs nft (Debian package nftables), which is not installed", g->name);
        char host[TOPO_HOST_MAX + 1], ns[TOPO_NSNAME_MAX + 1], file[PATH_MAX], log[PATH_MAX], txt[512], err[256];
        snprintf(host, sizeof(host), "s-%s", g->name);
        topo_host_ns(r->t, host, ns, sizeof(ns));
        snprintf(file, sizeof(file), "%s/logs/loss-%s.nft", r->art, g->name);
        snprintf(log, sizeof(log), "%s/logs/loss-%s.log", r->art, g->name);
        snprintf(txt, sizeof(txt),
                 "# written by lab: segment %s drops %u %% of the frames its bridge forwards\n"
                 "table bridge ztp_lab_loss {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n"
                 "    counter\n    numgen random mod 100 < %u counter drop\n  }\n}\n",
                 g->name, g->loss, g->loss);
        if (write_text(file, txt) < 0)
            return fail(r, "%s: cannot write", file);
        char *argv[] = {nft, "-f", file, NULL};
        struct proc_spec ps = {.name = "nft", .nsname = ns, .argv = argv, .log_path = log};
        int rc = proc_run(&ps, 5000, err, sizeof(err));
        if (rc != 0)
            return fail(r, "segment %s: loss %u %%: nft -f failed (%s; see logs/loss-%s.log; is nftables installed?)", g->name,
                        g->loss, rc < 0 ? err : "exit status", g->name);
        out(r, "  %+8.3fs  %-10s %-20s %u %% of the frames dropped at random (nftables, bridge forward)\n", rel(r), g->name,
            "lab: loss", g->loss);
    }
    return 0;
}

/* At the end: how many frames each lossy bridge forwarded and dropped (nft list), on the timeline. */
static void report_loss(struct run *r)
{
    for (size_t i = 0; i < r->s->n_segments; i++) {
        const struct scn_segment *g = &r->s->segments[i];
        if (!g->loss)
            continue;
        char host[TOPO_HOST_MAX + 1], ns[TOPO_NSNAME_MAX + 1], log[PATH_MAX], err[256];
        snprintf(host, sizeof(host), "s-%s", g->name);
        topo_host_ns(r->t, host, ns, sizeof(ns));
        snprintf(log, sizeof(log), "%s/logs/loss-%s.log", r->art, g->name);
        char nft[PATH_MAX];
        if (!in_path("nft", nft, sizeof(nft)))
            continue;
        char *argv[] = {nft, "list", "table", "bridge", "ztp_lab_loss", NULL};
        struct proc_spec ps = {.name = "nft", .nsname = ns, .argv = argv, .log_path = log};
        if (proc_run(&ps, 5000, err, sizeof(err)) != 0)
            continue;
        char *t = proc_tail(log, 40);
        unsigned long long all = 0, dropped = 0;
        const char *a = strstr(t, "counter packets "), *b = a ? strstr(a + 1, "counter packets ") : NULL;
        if (a)
            all = strtoull(a + 16, NULL, 10);
        if (b)
            dropped = strtoull(b + 16, NULL, 10);
        free(t);
        struct rep_event *e = report_add_event(r->rep);
        e->t = rel(r);
        snprintf(e->host, sizeof(e->host), "%s", g->name);
        snprintf(e->step, sizeof(e->step), "lab: loss");
        snprintf(e->detail, sizeof(e->detail), "%llu of %llu frames dropped (%.1f %%)", dropped, all,
                 all ? 100.0 * (double)dropped / (double)all : 0.0);
        out(r, "  %+8.3fs  %-10s %-20s %s\n", e->t, e->host, e->step, e->detail);
    }
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

/* The run's CAs and server certificates (pki/, OpenSSL's C API, see certs.h):
 *   mist-ca       the lab "Mist" root CA: the router nodes' factory trust (--mist-ca); it signs the
 *                 certificate of every ep-terminator and mist host with ca: lab
 *   rogue-ca      signs those with ca: untrusted (only made when one is)
 *   conductor-ca  the conductor root CA the onboarding data hands out (root-ca-pem): it signs the
 *                 staging conductor's certificate (the nodes verify staging with it) and
 *   conductor-signing-ca  an intermediate under it: the staging conductor's CA (ca-cert/ca-key) that
 *                 signs the routers' certificates, and the hub's; conductor-ca-chain.pem = signing CA +
 *                 root, what staging hands out as ca-pem and what the production conductor and the
 *                 hub trust for client certificates (--client-ca)
 *   production-ca the production conductor's root CA (signs its certificate), handed out by staging
 *   HOST.pem/.key each ep-terminator's and mist host's certificate, for all its names; each
 *                 conductor's for its address (IP SAN) and host name; the hub's for its address and
 *                 hub name (svr.h: the router checks the IP SAN or the hub name) */
static int make_pki(struct run *r)
{
    bool need = false, rogue = false, conductors = false;
    for (size_t i = 0; i < r->s->n_hosts; i++) {
        const struct scn_host *h = &r->s->hosts[i];
        need |= h->kind == SCN_EP_TERMINATOR || h->kind == SCN_MIST;
        rogue |= (h->kind == SCN_EP_TERMINATOR || h->kind == SCN_MIST) && h->cloud.untrusted;
        rogue |= h->kind == SCN_CONDUCTOR && h->cond.untrusted;
        conductors |= h->kind == SCN_CONDUCTOR;
    }
    if (!need)
        return 0;
    double t0 = proc_now();
    snprintf(r->pki, sizeof(r->pki), "%s/pki", r->art);
    mkdir_p(r->pki, 0755);
    char pem[PATH_MAX], key[PATH_MAX], cn[128], err[512];
    struct certs_ca *mist = NULL, *bad = NULL, *cond = NULL, *sign = NULL, *prod = NULL;
    int rc = 0;
#define CA(var, file, name)                                                                                            \
    do {                                                                                                               \
        snprintf(pem, sizeof(pem), "%s/" file ".pem", r->pki);                                                         \
        snprintf(key, sizeof(key), "%s/" file ".key", r->pki);                                                         \
        snprintf(cn, sizeof(cn), name " %s", r->runid);                                                                \
        if (rc == 0 && certs_ca_new(cn, 7, pem, key, &var, err, sizeof(err)) < 0)                                      \
            rc = fail(r, "pki: %s", err);                                                                              \
    } while (0)
    CA(mist, "mist-ca", "ztp-lab Mist root CA");
    CA(cond, "conductor-ca", "ztp-lab conductor root CA");
    if (rogue)
        CA(bad, "rogue-ca", "rogue CA (not the nodes' trust)");
    if (conductors)
        CA(prod, "production-ca", "ztp-lab production conductor root CA");
#undef CA
    if (conductors && rc == 0) {
        snprintf(pem, sizeof(pem), "%s/conductor-signing-ca.pem", r->pki);
        snprintf(key, sizeof(key), "%s/conductor-signing-ca.key", r->pki);
        snprintf(cn, sizeof(cn), "ztp-lab conductor signing CA %s", r->runid);
        if (certs_ca_sub(cond, cn, 7, pem, key, &sign, err, sizeof(err)) < 0)
            rc = fail(r, "pki: %s", err);
        snprintf(pem, sizeof(pem), "%s/conductor-ca-chain.pem", r->pki);
        if (rc == 0 && certs_ca_chain_write(sign, pem, err, sizeof(err)) < 0)
            rc = fail(r, "pki: %s", err);
        if (rc == 0 && !(r->production_ca_pem = certs_ca_pem(prod)))
            rc = fail(r, "pki: production CA PEM");
    }
    if (rc == 0 && !(r->conductor_ca_pem = certs_ca_pem(cond)))
        rc = fail(r, "pki: conductor CA PEM");
    size_t ncerts = 0;
    for (size_t i = 0; i < r->s->n_hosts && rc == 0; i++) {
        const struct scn_host *h = &r->s->hosts[i];
        const struct certs_ca *by = NULL;
        const char **names = calloc(h->cloud.n_names + 3, sizeof(char *));
        size_t nn = 0;
        if (!names)
            fatalx("lab.oom", "what=names");
        char ip[INET_ADDRSTRLEN];
        scn_iface_ip(&h->ifs[0], ip, sizeof(ip));
        if (h->kind == SCN_EP_TERMINATOR || h->kind == SCN_MIST) {
            by = h->cloud.untrusted ? bad : mist;
            for (size_t k = 0; k < h->cloud.n_names; k++)
                names[nn++] = h->cloud.names[k];
        } else if (h->kind == SCN_CONDUCTOR) {
            by = h->cond.untrusted ? bad : h->cond.role == SCN_ROLE_STAGING ? cond : prod;
            names[nn++] = ip;
            names[nn++] = h->name;
        } else if (h->kind == SCN_HUB) {
            by = sign;
            names[nn++] = ip;
            names[nn++] = h->hub.hub_name;
        } else {
            free(names);
            continue;
        }
        ncerts++;
        snprintf(pem, sizeof(pem), "%s/%s.pem", r->pki, h->name);
        snprintf(key, sizeof(key), "%s/%s.key", r->pki, h->name);
        if (certs_server(by, names, nn, 7, pem, key, err, sizeof(err)) < 0)
            rc = fail(r, "pki: %s: %s", h->name, err);
        free(names);
    }
    certs_ca_free(mist);
    certs_ca_free(bad);
    certs_ca_free(cond);
    certs_ca_free(sign);
    certs_ca_free(prod);
    if (rc < 0)
        return -1;
    r->have_pki = true;
    out(r, "  %+8.3fs  %-10s %-20s mist-ca, conductor-ca%s%s, %zu server certificates (%.0f ms)\n", rel(r), "lab", "pki",
        conductors ? " + signing CA, production-ca" : "", rogue ? ", rogue-ca" : "", ncerts, (proc_now() - t0) * 1000);
    return 0;
}

/* ---- generated secrets ------------------------------------------------------------------------ */

static void random_hex(char *dst, size_t nbytes)
{
    unsigned char b[64];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(b + got, nbytes - got, 0);
        if (n < 0 && errno != EINTR)
            fatalx("lab.getrandom", "error=\"%s\"", strerror(errno));
        if (n > 0)
            got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(dst + 2 * i, 3, "%02x", b[i]);
    explicit_bzero(b, sizeof(b));
}

static void add_secret(struct run *r, const char *v)
{
    char **n = realloc(r->secrets, (r->n_secrets + 2) * sizeof(char *));
    if (!n)
        fatalx("lab.oom", "what=secrets");
    r->secrets = n;
    r->secrets[r->n_secrets++] = strdup(v);
    /* hex written upper-case by some tool would be the same secret */
    char *up = strdup(v);
    for (char *c = up; c && *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    if (up && strcmp(up, v) != 0)
        r->secrets[r->n_secrets++] = up;
    else
        free(up);
}

/* Per router node with sZTP: its OCRA key (and the other key the registry holds for ocra-key:
 * wrong; the other pre-shared secret Mist hands out for conductor-psk: wrong); per router: its
 * (staging) pre-shared secret; per run: the production conductor's secret. All go on the
 * no-secrets list. */
static void make_secrets(struct run *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        if (rh->h->kind == SCN_EP_TERMINATOR)
            r->ept = rh;
        if (rh->h->kind != SCN_SSR_NODE || !rh->h->node.sztp)
            continue;
        const struct scn_node *n = &rh->h->node;
        random_hex(rh->ocra_hex, SCN_OCRA_KEY_LEN);
        add_secret(r, rh->ocra_hex);
        if (n->ocra_wrong) {
            random_hex(rh->registry_hex, SCN_OCRA_KEY_LEN);
            add_secret(r, rh->registry_hex);
        } else {
            memcpy(rh->registry_hex, rh->ocra_hex, sizeof(rh->registry_hex));
        }
        rh->claimed = n->claimed;
        for (size_t k = 0; k < i && !rh->psk[0]; k++) /* another node of the same router has one */
            if (r->hosts[k].h->kind == SCN_SSR_NODE && r->hosts[k].psk[0] && !strcmp(r->hosts[k].h->node.router, n->router))
                memcpy(rh->psk, r->hosts[k].psk, sizeof(rh->psk));
        if (!rh->psk[0]) {
            random_hex(rh->psk, 16);
            add_secret(r, rh->psk);
        }
        if (n->psk_wrong) {
            random_hex(rh->mist_psk, 16);
            add_secret(r, rh->mist_psk);
        }
    }
    if (scenario_conductor(r->s, SCN_ROLE_PRODUCTION)) {
        random_hex(r->production_psk, 16);
        add_secret(r, r->production_psk);
    }
    r->ec.secrets = (const char *const *)r->secrets;
    r->ec.n_secrets = r->n_secrets;
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

static void tpm_paths(struct run *r, struct rhost *rh)
{
    snprintf(rh->tpm_sock, sizeof(rh->tpm_sock), "%s/%s.tpm", r->sockdir, rh->h->name);
    /* the swtpm TCTI finds the control channel at SOCK.ctrl */
    snprintf(rh->tpm_ctrl, sizeof(rh->tpm_ctrl), "%s/%s.tpm.ctrl", r->sockdir, rh->h->name);
}

static int prep_node(struct run *r, struct rhost *rh)
{
    const struct scn_node *n = &rh->h->node;
    char conf[PATH_MAX], state[PATH_MAX];
    tpm_paths(r, rh);
    snprintf(r->eh[rh - r->hosts].state_dir, sizeof(r->eh[0].state_dir), "%s/state", rh->dir);
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
            av_add(a, "%.3f", n->ha_timeout);
        }
    }
    if (n->sztp) {
        char url[300];
        av_add(a, "--sztp");
        av_add(a, "--device-id");
        av_add(a, "%s", n->device_id);
        av_add(a, "--tpm");
        av_add(a, "swtpm:path=%s", rh->tpm_sock);
        av_add(a, "--phone-home-url");
        av_add(a, "%s/", scn_cloud_url(r->ept->h, url, sizeof(url)));
        av_add(a, "--mist-ca");
        av_add(a, "%s/mist-ca.pem", r->pki);
        if (n->sztp_fault) {
            av_add(a, "--sztp-fault");
            av_add(a, "%s", n->sztp_fault);
        }
        if (n->conductor_fault) {
            av_add(a, "--conductor-fault");
            av_add(a, "%s", n->conductor_fault);
        }
        if (n->request_timeout > 0) {
            av_add(a, "--request-timeout");
            av_add(a, "%.3f", n->request_timeout);
        }
        if (n->retry_min > 0) {
            av_add(a, "--retry-backoff");
            if (n->retry_max > 0)
                av_add(a, "%.3f,%.3f", n->retry_min, n->retry_max);
            else
                av_add(a, "%.3f", n->retry_min);
        }
        if (n->task_poll > 0) {
            av_add(a, "--task-poll");
            av_add(a, "%.3f", n->task_poll);
        }
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

/* The ports every proxy lets CONNECT through besides 443: the Mist mocks' other ports and the
 * conductors' (930: conductor traffic goes through the active management proxy). Distinct, in host
 * order. The hub is not among them: SVR peering is direct. */
static size_t connect_ports(const struct scenario *s, unsigned *ports, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_hosts && n < cap; i++) {
        const struct scn_host *h = &s->hosts[i];
        unsigned port = h->kind == SCN_EP_TERMINATOR || h->kind == SCN_MIST ? h->cloud.port
                        : h->kind == SCN_CONDUCTOR                           ? h->cond.port
                                                                             : 443;
        bool seen = port == 443;
        for (size_t k = 0; k < n; k++)
            seen |= ports[k] == port;
        if (!seen)
            ports[n++] = port;
    }
    return n;
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
    unsigned extra[64];
    size_t n_extra = connect_ports(r->s, extra, 64);
    if (h->proxy.n_ssl_ports) {
        /* the scenario says which ports are SSL ports: exactly those (a negative scenario leaves one out) */
        json_t *ssl = json_array();
        json_t *safe = json_pack("[i, i, i, i, i, s, i, i, i, i]", 80, 21, 443, 70, 210, "1025-65535", 280, 488, 591, 777);
        for (size_t i = 0; i < h->proxy.n_ssl_ports; i++) {
            json_array_append_new(ssl, json_integer(h->proxy.ssl_ports[i]));
            json_array_append_new(safe, json_integer(h->proxy.ssl_ports[i]));
        }
        json_object_set_new(c, "ssl_ports", ssl);
        json_object_set_new(c, "safe_ports", safe);
    } else if (n_extra) {
        /* Squid's SSL_ports: 443 and the other ports; Safe_ports: Squid's defaults and those (930 is not
         * among the defaults) */
        json_t *ssl = json_pack("[i]", 443);
        json_t *safe = json_pack("[i, i, i, i, i, s, i, i, i, i]", 80, 21, 443, 70, 210, "1025-65535", 280, 488, 591, 777);
        for (size_t i = 0; i < n_extra; i++) {
            json_array_append_new(ssl, json_integer(extra[i]));
            json_array_append_new(safe, json_integer(extra[i]));
        }
        json_object_set_new(c, "ssl_ports", ssl);
        json_object_set_new(c, "safe_ports", safe);
    }
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
            if (o->kind != SCN_EP_TERMINATOR && o->kind != SCN_MIST)
                continue;
            char ip[INET_ADDRSTRLEN];
            scn_iface_ip(&o->ifs[0], ip, sizeof(ip));
            fprintf(hf, "%s", ip);
            for (size_t k = 0; k < o->cloud.n_names; k++)
                fprintf(hf, " %s", o->cloud.names[k]);
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
                "acl SSL_ports port 443\nacl CONNECT method CONNECT\n",
                r->s->file, h->name, h->proxy.port, h->name, rh->dir, access, hosts, rh->dir);
        unsigned extra[64];
        size_t n_extra = connect_ports(r->s, extra, 64); /* the Mist mocks' other ports, the conductors' */
        for (size_t i = 0; i < n_extra; i++)
            fprintf(f, "acl SSL_ports port %u\n", extra[i]);
        fprintf(f, "http_access deny CONNECT !SSL_ports\n");
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
        unsigned extra[64];
        size_t n_extra = connect_ports(r->s, extra, 64); /* the Mist mocks' other ports, the conductors' */
        for (size_t i = 0; i < n_extra; i++)
            fprintf(f, "ConnectPort %u\n", extra[i]);
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

/* The EP terminator's claims file (mocks/mist/README.md): the environments (each mist host's
 * URL) and the claims of the router nodes claimed now. Rewritten by the claim: action. */
static int write_claims(struct run *r, struct rhost *rh)
{
    const struct scn_cloud *c = &rh->h->cloud;
    json_t *envs = json_object(), *claims = json_object();
    for (size_t i = 0; i < r->s->n_hosts; i++) {
        const struct scn_host *h = &r->s->hosts[i];
        char url[300];
        if (h->kind == SCN_MIST)
            json_object_set_new(envs, h->cloud.environment, json_string(scn_cloud_url(h, url, sizeof(url))));
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct rhost *n = &r->hosts[i];
        if (n->h->kind == SCN_SSR_NODE && n->h->node.sztp && n->claimed)
            json_object_set_new(claims, n->h->node.device_id, json_pack("{s:s, s:s}", "environment",
                                                                        n->h->node.environment, "org", n->h->node.org));
    }
    json_t *j = json_pack("{s:s, s:i, s:o, s:o}", "environment", c->environment, "retry-after", (int)c->retry_after,
                          "environments", envs, "claims", claims);
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/claims.json", rh->dir);
    return write_json(r, conf, j);
}

/* mock-mist's device registry: every router node of its environment, with the key the registry
 * holds, its org/site and onboarding data (conductor, its router's pre-shared secret, the
 * conductor root CA). Secrets inside: mode 0600. */
static int write_registry(struct run *r, struct rhost *rh)
{
    const struct scn_cloud *c = &rh->h->cloud;
    json_t *devs = json_object();
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct rhost *nh = &r->hosts[i];
        const struct scn_node *n = &nh->h->node;
        if (nh->h->kind != SCN_SSR_NODE || !n->sztp || strcmp(n->environment, c->environment) != 0)
            continue;
        json_t *ob = json_pack("{s:s, s:s, s:s}", "conductor", n->conductor ? n->conductor : c->conductor, "psk",
                               n->psk_wrong ? nh->mist_psk : nh->psk, "root-ca-pem", r->conductor_ca_pem);
        json_object_set_new(devs, n->device_id,
                            json_pack("{s:s, s:s, s:s, s:s, s:o}", "org", n->org, "site", n->site, "ocra-suite",
                                      SCN_OCRA_SUITE, "ocra-key-hex", nh->registry_hex, "onboarding", ob));
    }
    json_t *j = json_pack("{s:i, s:i, s:i, s:o}", "max-failures", (int)c->max_failures, "lockout-seconds",
                          (int)c->lockout_seconds, "challenge-ttl", (int)c->challenge_ttl, "devices", devs);
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/registry.json", rh->dir);
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!txt)
        return fail(r, "%s: cannot encode", conf);
    int rc = atomic_write_file(conf, txt, strlen(txt), 0600);
    explicit_bzero(txt, strlen(txt));
    free(txt);
    return rc < 0 ? fail(r, "%s: %s", conf, strerror(-rc)) : 0;
}

/* mock-ep-terminator / mock-mist: config, certificate, listening on the host's first address */
static int prep_cloud(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    bool ept = h->kind == SCN_EP_TERMINATOR;
    if ((ept ? write_claims(r, rh) : write_registry(r, rh)) < 0)
        return -1;
    char ip[INET_ADDRSTRLEN];
    scn_iface_ip(&h->ifs[0], ip, sizeof(ip));
    struct av *a = &rh->argv;
    av_add(a, "%s/%s", r->o->bin_dir, ept ? "mock-ep-terminator" : "mock-mist");
    av_add(a, "--config");
    av_add(a, "%s/%s", rh->dir, ept ? "claims.json" : "registry.json");
    av_add(a, "--listen");
    av_add(a, "%s:%u", ip, h->cloud.port);
    av_add(a, "--cert");
    av_add(a, "%s/%s.pem", r->pki, h->name);
    av_add(a, "--key");
    av_add(a, "%s/%s.key", r->pki, h->name);
    av_add(a, "--host");
    av_add(a, "%s", h->name);
    rh->ready = PROC_READY_FD;
    return 0;
}

/* A JSON config holding secrets: written 0600, the text wiped. */
static int write_secret_json(struct run *r, const char *path, json_t *j)
{
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!txt)
        return fail(r, "%s: cannot encode", path);
    size_t n = strlen(txt);
    int rc = atomic_write_file(path, txt, n, 0600);
    explicit_bzero(txt, n);
    free(txt);
    return rc < 0 ? fail(r, "%s: %s", path, strerror(-rc)) : 0;
}

/* Every router of the scenario's sZTP nodes with its nodes: {"R1": {"psk": PSK, "nodes": {"r1a": {}}}}.
 * psk: the router's staging secret, or (production) the run's production secret. */
static json_t *conductor_routers(struct run *r, bool production)
{
    json_t *routers = json_object();
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct rhost *nh = &r->hosts[i];
        if (nh->h->kind != SCN_SSR_NODE || !nh->h->node.sztp)
            continue;
        const struct scn_node *n = &nh->h->node;
        json_t *rt = json_object_get(routers, n->router);
        if (!rt) {
            rt = json_pack("{s:s, s:{}}", "psk", production ? r->production_psk : nh->psk, "nodes");
            json_object_set_new(routers, n->router, rt);
        }
        json_object_set_new(json_object_get(rt, "nodes"), n->node, json_object());
    }
    return routers;
}

/* The rest of a TLS mock's command line (mock-conductor, mock-hub): --config CONF --listen ADDR, its
 * certificate and key from pki/, --client-ca pki/conductor-ca-chain.pem when it checks router
 * certificates, --state HOST/state.json, --host HOST; it signals readiness on the fd. */
static void tls_mock_args(struct run *r, struct rhost *rh, const char *conf, const char *listen, bool client_ca)
{
    struct av *a = &rh->argv;
    const char *name = rh->h->name;
    av_add(a, "--config");
    av_add(a, "%s", conf);
    av_add(a, "--listen");
    av_add(a, "%s", listen);
    av_add(a, "--cert");
    av_add(a, "%s/%s.pem", r->pki, name);
    av_add(a, "--key");
    av_add(a, "%s/%s.key", r->pki, name);
    if (client_ca) {
        av_add(a, "--client-ca");
        av_add(a, "%s/conductor-ca-chain.pem", r->pki);
    }
    av_add(a, "--state");
    av_add(a, "%s/state.json", rh->dir);
    av_add(a, "--host");
    av_add(a, "%s", name);
    rh->ready = PROC_READY_FD;
}

/* mock-conductor (mocks/conductor/README.md): HOST/conductor.json (0600: the secrets), its
 * inventory in HOST/state.json (--state; what inventory: reads), HTTPS on its first address.
 * Staging: signs with the conductor signing CA (ca-cert = signing CA + root, handed out as ca-pem),
 * hands out the production conductor (address, the run's production secret, production-ca) and the
 * hub. Production: mutual TLS, router certificates must chain to the signing CA. */
static int prep_conductor(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    const struct scn_conductor *c = &h->cond;
    bool staging = c->role == SCN_ROLE_STAGING;
    json_t *j = json_pack("{s:i, s:i}", "max-failures", (int)c->max_failures, "lockout-seconds", (int)c->lockout_seconds);
    char v[PATH_MAX + 32];
    if (staging) {
        const struct scn_host *prod = scenario_conductor(r->s, SCN_ROLE_PRODUCTION), *hub = scenario_hub(r->s);
        snprintf(v, sizeof(v), "%s/conductor-ca-chain.pem", r->pki);
        json_object_set_new(j, "ca-cert", json_string(v));
        snprintf(v, sizeof(v), "%s/conductor-signing-ca.key", r->pki);
        json_object_set_new(j, "ca-key", json_string(v));
        json_object_set_new(j, "routers", conductor_routers(r, false));
        json_object_set_new(j, "production", json_pack("{s:[s], s:s, s:s}", "conductor", prod->cond.addr, "psk",
                                                       r->production_psk, "root-ca-pem", r->production_ca_pem));
        json_object_set_new(j, "svr", json_pack("{s:s, s:s}", "hub", hub->hub.addr, "hub-name", hub->hub.hub_name));
    } else {
        json_object_set_new(j, "routers", conductor_routers(r, true));
    }
    json_t *faults = json_pack("{s:b, s:i}", "reject-secret", c->reject_secret, "stall-ms", (int)c->stall_ms);
    if (staging)
        json_object_set_new(faults, "wrong-ca", json_boolean(c->wrong_ca));
    json_object_set_new(j, "faults", faults);
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/conductor.json", rh->dir);
    if (write_secret_json(r, conf, j) < 0)
        return -1;
    snprintf(r->eh[rh - r->hosts].state_file, sizeof(r->eh[0].state_file), "%s/state.json", rh->dir);
    struct av *a = &rh->argv;
    av_add(a, "%s/mock-conductor", r->o->bin_dir);
    av_add(a, "--role");
    av_add(a, "%s", staging ? "staging" : "production");
    tls_mock_args(r, rh, conf, c->addr, !staging);
    return 0;
}

/* mock-hub (mocks/hub/README.md): HOST/hub.json (its name, every sZTP node as a peer ROUTER.NODE),
 * its peers' state in HOST/state.json (--state; what peered: reads), TLS on its first address,
 * router certificates must chain to the conductor signing CA. */
static int prep_hub(struct run *r, struct rhost *rh)
{
    const struct scn_host *h = rh->h;
    json_t *peers = json_object();
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct scn_host *n = r->hosts[i].h;
        if (n->kind != SCN_SSR_NODE || !n->node.sztp)
            continue;
        char id[160];
        snprintf(id, sizeof(id), "%s.%s", n->node.router, n->node.node);
        json_object_set_new(peers, id, json_pack("{s:s, s:s}", "router", n->node.router, "node", n->node.node));
    }
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/hub.json", rh->dir);
    if (write_json(r, conf, json_pack("{s:s, s:o}", "hub-name", h->hub.hub_name, "peers", peers)) < 0)
        return -1;
    snprintf(r->eh[rh - r->hosts].state_file, sizeof(r->eh[0].state_file), "%s/state.json", rh->dir);
    struct av *a = &rh->argv;
    av_add(a, "%s/mock-hub", r->o->bin_dir);
    tls_mock_args(r, rh, conf, h->hub.addr, true);
    return 0;
}

/* ---- starting and stopping -------------------------------------------------------------------- */

/* Start a host's component without waiting (start_host_finish waits for its readiness): several
 * components come up at once. */
static int start_host_begin(struct run *r, struct rhost *rh)
{
    rh->tc = (struct tcp_check){.r = r, .host = rh->h->name, .ip = rh->ready_text, .port = rh->ready_port};
    if (rh->vg && !rh->vgargv.n) {
        struct av *v = &rh->vgargv;
        av_add(v, "valgrind");
        av_add(v, "--tool=memcheck");
        av_add(v, "--leak-check=full");
        av_add(v, "--show-leak-kinds=definite");
        av_add(v, "--errors-for-leak-kinds=definite");
        av_add(v, "--error-exitcode=%d", VG_ERROR_EXIT);
        av_add(v, "--num-callers=30");
        av_add(v, "--log-file=%s/logs/%s-valgrind.%%p.log", r->art, rh->h->name);
        for (size_t i = 0; i < rh->argv.n; i++)
            av_add(v, "%s", rh->argv.v[i]);
    }
    rh->spec = (struct proc_spec){
        .name = rh->h->name,
        .nsname = rh->ns,
        .argv = rh->vg ? rh->vgargv.v : rh->argv.v,
        .env = rh->env[0] ? rh->env : NULL,
        .log_path = rh->log,
        .cwd = rh->dir,
        .ready = rh->ready,
        .ready_text = rh->ready_text,
        .ready_file = rh->ready_file[0] ? rh->ready_file : NULL,
        .ready_check = tcp_ready,
        .ready_ctx = &rh->tc,
        .timeout_ms = rh->vg ? START_TIMEOUT_MS * VG_SLOWDOWN : START_TIMEOUT_MS,
        .detach = r->o->keep,
    };
    /* a restart waits for a fresh readiness line, not the old one (and the log says where it restarted) */
    if (rh->started) {
        char mark[200];
        snprintf(mark, sizeof(mark), "\n--- lab: restarting %s ---\n", rh->h->name);
        int fd = open(rh->log, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, mark, strlen(mark)) < 0) {
            }
            close(fd);
        }
    }
    struct stat sb;
    __atomic_store_n(&rh->log_start, stat(rh->log, &sb) == 0 ? sb.st_size : 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&rh->gen, 1, __ATOMIC_ACQ_REL);
    return proc_begin(&rh->p, &rh->spec, r->err, sizeof(r->err));
}

static int start_host_finish(struct run *r, struct rhost *rh)
{
    int rc = proc_finish(&rh->p, &rh->spec, r->err, sizeof(r->err));
    if (rc < 0 && __atomic_load_n(&rh->killed_gen, __ATOMIC_ACQUIRE) == __atomic_load_n(&rh->gen, __ATOMIC_ACQUIRE)) {
        r->err[0] = '\0'; /* a trigger killed it as soon as it was up: that is the scenario, not a failed start */
        rc = 0;
    }
    if (rc < 0) {
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

static int start_host(struct run *r, struct rhost *rh)
{
    return start_host_begin(r, rh) < 0 ? -1 : start_host_finish(r, rh);
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
    tpm_paths(r, rh);
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

/* "Manufacturing": the node's OCRA key into its TPM (ssr-tpm provision: imported as a keyed-hash
 * object, persisted at 0x81010001). The key goes through a 0600 file in the node's dir, deleted
 * right after, so it is never in an argv. */
static int manufacture(struct run *r, struct rhost *rh)
{
    double t0 = proc_now();
    char keyfile[PATH_MAX], log[PATH_MAX], tcti[160], err[256];
    snprintf(keyfile, sizeof(keyfile), "%s/ocra-key.hex", rh->dir);
    snprintf(log, sizeof(log), "%s/logs/%s-swtpm.log", r->art, rh->h->name);
    snprintf(tcti, sizeof(tcti), "swtpm:path=%s", rh->tpm_sock);
    char line[2 * SCN_OCRA_KEY_LEN + 2];
    snprintf(line, sizeof(line), "%s\n", rh->ocra_hex);
    int rc = atomic_write_file(keyfile, line, strlen(line), 0600);
    explicit_bzero(line, sizeof(line));
    if (rc < 0)
        return fail(r, "%s: manufacturing: %s: %s", rh->h->name, keyfile, strerror(-rc));
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/ssr-tpm", r->o->bin_dir);
    char *argv[] = {bin, "--tcti", tcti, "provision", "--hash", "sha256", "--key-hex-file", keyfile, NULL};
    struct proc_spec ps = {.name = "ssr-tpm", .argv = argv, .log_path = log};
    rc = proc_run(&ps, 5000, err, sizeof(err));
    unlink(keyfile);
    if (rc != 0)
        return fail(r, "%s: manufacturing: ssr-tpm provision %s (see logs/%s-swtpm.log)", rh->h->name,
                    rc > 0 ? "failed" : err, rh->h->name);
    r->eh[rh - r->hosts].manufactured = true;
    struct rep_event *e = report_add_event(r->rep);
    e->t = rel(r);
    snprintf(e->host, sizeof(e->host), "%s", rh->h->name);
    snprintf(e->step, sizeof(e->step), "manufactured");
    snprintf(e->detail, sizeof(e->detail), "device %s, OCRA key in its TPM (sha256, 0x81010001), %.0f ms",
             rh->h->node.device_id, (proc_now() - t0) * 1000);
    out(r, "  %+8.3fs  %-10s %-20s %s\n", e->t, e->host, e->step, e->detail);
    return 0;
}

static unsigned grace_of(const struct scn_host *h);

static void stop_host(struct run *r, struct rhost *rh)
{
    if (rh->p.pid && !rh->p.exited)
        proc_stop(&rh->p, grace_of(rh->h));
    tl_pump(r);
}

/* ---- conditions: triggers and when: ----------------------------------------------------------- */

/* The watcher thread: a condition (`when: {HOST: STATE}` or `{HOST: {logged: REGEX}}`) is noticed
 * within a millisecond or so of the line that satisfies it (inotify on logs/, a 5 ms poll as a
 * backstop), whatever the main thread is busy with (an expectation round can take longer). For a
 * state, it then waits (bounded, 500 ms) until the node's state file (state/sztp.json or
 * state/conductor.json) holds the state too: ssr-node logs a transition and then persists it, and
 * "killed at S" means "killed once S is durable". Then it sends the condition's leading `kill:`
 * actions itself (SIGKILL to the host's process group), so a node is killed in the state it reached,
 * before its next request. Everything else (reaping, `start:`, the timeline) is the main thread's
 * (service_watches). Only the watch's own fields and the hosts' pid/gen/log_start (atomics) are
 * shared. */
static bool watch_line_matches(struct watch *w, const char *line)
{
    const struct scn_when *c = &w->st->when;
    if (c->regex)
        return w->have_rx && regexec(&w->rx, line, 0, NULL, 0) == 0;
    if (!strstr(line, "event=sztp.state ") && !strstr(line, "event=conductor.state "))
        return false;
    char to[48];
    return exp_logfmt_get(line, "to", to, sizeof(to)) && !strcmp(to, c->state);
}

static void watch_fire(struct run *r, struct watch *w)
{
    const struct scn_when *c = &w->st->when;
    w->t_met = rel(r);
    size_t o = 0;
    if (c->state) {
        char path[PATH_MAX + 32], want[96];
        struct exp_host *eh = &r->eh[w->rh - r->hosts];
        bool sztp = scn_sztp_state_index(c->state) >= 0;
        snprintf(path, sizeof(path), "%s/%s", eh->state_dir, sztp ? "sztp.json" : "conductor.json");
        int want_i = sztp ? scn_sztp_state_index(c->state) : scn_cond_state_index(c->state), got_i = -1;
        char got[48] = "";
        double t0 = proc_now();
        while (got_i < want_i && proc_now() - t0 < 0.5) {
            char *buf = NULL;
            size_t len = 0;
            if (read_file_max(path, 1u << 20, &buf, &len) == 0) {
                /* the top-level "state" member ({"state": "key-created", ...}; history entries use from/to) */
                const char *v = memmem(buf, len, "\"state\": \"", 10);
                if (v) {
                    snprintf(got, sizeof(got), "%.*s", (int)strcspn(v + 10, "\""), v + 10);
                    got_i = sztp ? scn_sztp_state_index(got) : scn_cond_state_index(got);
                }
            }
            free(buf);
            if (got_i < want_i) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        }
        (void)want;
        if (got_i == want_i)
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, "persisted in %s", sztp ? "sztp.json" : "conductor.json");
        else if (got_i > want_i) /* a state the node leaves in the same breath (e.g. onboarding-received) */
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, "persisted, and already past it: %s says %s",
                                  sztp ? "sztp.json" : "conductor.json", got);
        else
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, "NOT persisted in %s within 500 ms (it says %s)",
                                  sztp ? "sztp.json" : "conductor.json", got[0] ? got : "nothing");
        if (got_i >= want_i && proc_now() - t0 > 0.001)
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, " (%.1f ms after the log line)",
                                  (proc_now() - t0) * 1000);
    }
    if (w->st->after > 0) { /* e.g. let the node's next request get into its tunnel */
        struct timespec ts = {.tv_sec = (time_t)w->st->after,
                              .tv_nsec = (long)((w->st->after - (double)(time_t)w->st->after) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        if (o < sizeof(w->note))
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, "%swaited %.3f s", o ? "; " : "", w->st->after);
    }
    for (size_t i = 0; i < w->st->n_actions && w->st->actions[i].kind == ACT_KILL; i++) {
        struct rhost *t = rhost_by_name(r, w->st->actions[i].host);
        pid_t pid = t ? __atomic_load_n(&t->p.pid, __ATOMIC_ACQUIRE) : 0;
        if (pid > 0) {
            __atomic_store_n(&t->killed_gen, __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        if (o < sizeof(w->note))
            o += (size_t)snprintf(w->note + o, sizeof(w->note) - o, "%sSIGKILL %s (pid %d)", o ? "; " : "",
                                  w->st->actions[i].host, (int)pid);
    }
    w->t_killed = rel(r);
    __atomic_store_n(&w->fired, 1, __ATOMIC_RELEASE);
}

static void watch_check(struct run *r, struct watch *w)
{
    struct rhost *rh = w->rh;
    unsigned gen = __atomic_load_n(&rh->gen, __ATOMIC_ACQUIRE);
    if (!gen)
        return;
    if (w->gen != gen) { /* (re)started since: scan this start's lines only */
        w->gen = gen;
        w->off = __atomic_load_n(&rh->log_start, __ATOMIC_ACQUIRE);
        w->part_len = 0;
    }
    int fd = open(rh->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    for (;;) {
        ssize_t n = pread(fd, w->part + w->part_len, sizeof(w->part) - 1 - w->part_len, w->off);
        if (n <= 0)
            break;
        w->off += n;
        w->part_len += (size_t)n;
        w->part[w->part_len] = '\0';
        char *start = w->part, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = '\0';
            if (watch_line_matches(w, start)) {
                close(fd);
                watch_fire(r, w);
                return;
            }
            start = nl + 1;
        }
        size_t left = w->part_len - (size_t)(start - w->part);
        if (left == sizeof(w->part) - 1)
            left = 0;
        memmove(w->part, start, left);
        w->part_len = left;
    }
    close(fd);
}

static void *watcher_main(void *arg)
{
    struct run *r = arg;
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    char logs[PATH_MAX];
    snprintf(logs, sizeof(logs), "%s/logs", r->art);
    if (ifd >= 0 && inotify_add_watch(ifd, logs, IN_MODIFY | IN_CREATE) < 0) {
        close(ifd);
        ifd = -1;
    }
    while (!__atomic_load_n(&r->w_stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf = {.fd = ifd, .events = POLLIN};
        if (ifd >= 0 ? poll(&pf, 1, 5) > 0 : poll(NULL, 0, 2) > 0) {
            char buf[4096];
            while (read(ifd, buf, sizeof(buf)) > 0) {
            }
        }
        for (size_t i = 0; i < r->n_w; i++) {
            struct watch *w = &r->w[i];
            if (__atomic_load_n(&w->armed, __ATOMIC_ACQUIRE) && !__atomic_load_n(&w->fired, __ATOMIC_ACQUIRE))
                watch_check(r, w);
        }
        __atomic_add_fetch(&r->w_pass, 1, __ATOMIC_ACQ_REL);
    }
    if (ifd >= 0)
        close(ifd);
    return NULL;
}

static void watch_init(struct run *r, struct watch *w, const struct scn_step *st, bool trigger)
{
    memset(w, 0, sizeof(*w));
    w->st = st;
    w->trigger = trigger;
    w->rh = rhost_by_name(r, st->when.host);
    if (st->when.regex)
        w->have_rx = regcomp(&w->rx, st->when.regex, REG_EXTENDED | REG_NOSUB) == 0;
}

/* Arm the triggers and start the watcher (before any component starts). */
static int watches_start(struct run *r)
{
    r->n_w = r->s->n_triggers + 1;
    r->w = calloc(r->n_w, sizeof(*r->w));
    if (!r->w)
        return fail(r, "out of memory");
    for (size_t i = 0; i < r->s->n_triggers; i++) {
        watch_init(r, &r->w[i], &r->s->triggers[i], true);
        __atomic_store_n(&r->w[i].armed, 1, __ATOMIC_RELEASE);
    }
    if (pthread_create(&r->watcher, NULL, watcher_main, r) != 0)
        return fail(r, "cannot start the watcher thread");
    r->watcher_on = true;
    return 0;
}

static void watches_stop(struct run *r)
{
    if (r->watcher_on) {
        __atomic_store_n(&r->w_stop, 1, __ATOMIC_RELEASE);
        pthread_join(r->watcher, NULL);
        r->watcher_on = false;
    }
}

static void watches_free(struct run *r)
{
    for (size_t i = 0; i < r->n_w; i++)
        if (r->w[i].have_rx)
            regfree(&r->w[i].rx);
    free(r->w);
    r->w = NULL;
    r->n_w = 0;
}

static int do_action(struct run *r, const struct scn_step *st, const struct scn_action *a);

/* A killed process: wait (bounded) until it has exited and reap it. */
static void reap_killed(struct rhost *rh)
{
    double end = proc_now() + 2.0;
    while (proc_alive(&rh->p) && proc_now() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (proc_alive(&rh->p))
        proc_stop(&rh->p, 0);
}

/* The main thread's part of a fired condition: the timeline, reaping what the watcher killed, then
 * the other actions in order. Returns do_action's result. */
static int watch_actions(struct run *r, struct watch *w)
{
    const struct scn_step *st = w->st;
    const struct scn_when *c = &st->when;
    struct rep_event *e = report_add_event(r->rep);
    e->t = w->t_met;
    snprintf(e->host, sizeof(e->host), "%s", c->host);
    snprintf(e->step, sizeof(e->step), "lab: %s", w->trigger ? "trigger" : "when");
    snprintf(e->detail, sizeof(e->detail), "%s%s%s: %s", c->state ? "reached " : "logged /", c->state ? c->state : c->regex,
             c->state ? "" : "/", w->note);
    out(r, "  %+8.3fs  %-10s %-20s %s (%s \"%s\")\n", e->t, e->host, e->step, e->detail, w->trigger ? "trigger" : "step",
        st->name);
    int rc = 0;
    size_t i = 0;
    for (; i < st->n_actions && st->actions[i].kind == ACT_KILL; i++) {
        struct rhost *t = rhost_by_name(r, st->actions[i].host);
        reap_killed(t);
        char how[64];
        proc_status_text(&t->p, how, sizeof(how));
        struct rep_event *k = report_add_event(r->rep);
        k->t = w->t_killed;
        snprintf(k->host, sizeof(k->host), "%s", t->h->name);
        snprintf(k->step, sizeof(k->step), "lab: kill");
        snprintf(k->detail, sizeof(k->detail), "SIGKILL, %s", how);
        out(r, "  %+8.3fs  %-10s %-20s %s\n", k->t, k->host, k->step, k->detail);
    }
    for (; i < st->n_actions && rc == 0; i++)
        rc = do_action(r, st, &st->actions[i]);
    return rc;
}

static void service_watches(struct run *r)
{
    if (r->in_service || !r->w)
        return;
    r->in_service = true;
    for (size_t i = 0; i + 1 < r->n_w; i++) {
        struct watch *w = &r->w[i];
        if (w->handled || !__atomic_load_n(&w->fired, __ATOMIC_ACQUIRE))
            continue;
        w->handled = true;
        if (watch_actions(r, w) < 0) {
            out(r, "lab: trigger \"%s\": %s\n", w->st->name, r->err);
            r->err[0] = '\0'; /* a trigger's failed action is its expectation's failure, not the run's */
            snprintf(w->note + strlen(w->note), sizeof(w->note) - strlen(w->note), "; an action failed");
        }
    }
    r->in_service = false;
}

/* A step's when:, in the main thread: arm the step slot, wait until it fired (or the deadline). */
static bool step_when(struct run *r, const struct scn_step *st, double deadline)
{
    struct watch *w = &r->w[r->n_w - 1];
    if (w->st) {
        /* the slot served an earlier step: let the watcher finish the pass that may still look at it */
        unsigned p0 = __atomic_load_n(&r->w_pass, __ATOMIC_ACQUIRE);
        double end = proc_now() + 0.2;
        while (__atomic_load_n(&r->w_pass, __ATOMIC_ACQUIRE) - p0 < 2 && proc_now() < end) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    }
    if (w->have_rx)
        regfree(&w->rx);
    watch_init(r, w, st, false);
    __atomic_store_n(&w->armed, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&w->fired, __ATOMIC_ACQUIRE) && proc_now() < deadline && !proc_cancelled())
        idle(r, 5);
    __atomic_store_n(&w->armed, 0, __ATOMIC_RELEASE);
    return __atomic_load_n(&w->fired, __ATOMIC_ACQUIRE);
}

/* One result per trigger (and per step when: that never held): did its condition hold? */
static void record_watch(struct run *r, struct watch *w, const char *step)
{
    const struct scn_when *c = &w->st->when;
    struct rep_expect *e = report_add_expect(r->rep);
    snprintf(e->step, sizeof(e->step), "%s", step);
    snprintf(e->name, sizeof(e->name), "%s when", w->trigger ? w->st->name : c->host);
    size_t o = (size_t)snprintf(e->want, sizeof(e->want), "%s %s%s%s, then:", c->host, c->state ? "reaches " : "logs /",
                                c->state ? c->state : c->regex, c->state ? "" : "/");
    for (size_t i = 0; i < w->st->n_actions && o < sizeof(e->want); i++)
        o += (size_t)snprintf(e->want + o, sizeof(e->want) - o, " %s %s",
                              w->st->actions[i].kind == ACT_KILL    ? "kill"
                              : w->st->actions[i].kind == ACT_START ? "start"
                              : w->st->actions[i].kind == ACT_STOP  ? "stop"
                                                                    : "action",
                              w->st->actions[i].host);
    bool fired = __atomic_load_n(&w->fired, __ATOMIC_ACQUIRE);
    e->pass = fired && w->handled && !strstr(w->note, "NOT persisted") && !strstr(w->note, "an action failed");
    e->at_s = e->pass ? w->t_met : -1;
    if (fired)
        snprintf(e->got, sizeof(e->got), "at %+.3fs: %s (actions done %.1f ms after the line)", w->t_met, w->note,
                 (w->t_killed - w->t_met) * 1000);
    else
        snprintf(e->got, sizeof(e->got), "never held before the end of the run");
    snprintf(e->log, sizeof(e->log), "logs/%s.log", c->host);
    if (!e->pass) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", r->art, e->log);
        e->log_tail = proc_tail(p, TAIL_LINES);
    }
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
        out(r, "  %+8.3fs  %-10s %-20s (step \"%s\")\n", e->t, a->host, "lab: stop", st->name);
        stop_host(r, rh);
        return 0;
    case ACT_KILL:
        snprintf(e->step, sizeof(e->step), "lab: kill");
        out(r, "  %+8.3fs  %-10s %-20s SIGKILL (step \"%s\")\n", e->t, a->host, "lab: kill", st->name);
        if (proc_alive(&rh->p)) {
            kill(-rh->p.pid, SIGKILL);
            kill(rh->p.pid, SIGKILL);
            reap_killed(rh);
        }
        tl_pump(r);
        return 0;
    case ACT_START:
        snprintf(e->step, sizeof(e->step), "lab: start");
        out(r, "  %+8.3fs  %-10s %-20s (step \"%s\")\n", e->t, a->host, "lab: start", st->name);
        if (proc_alive(&rh->p))
            return 0;
        return start_host(r, rh);
    case ACT_SET_PROXY: {
        snprintf(e->step, sizeof(e->step), "lab: set-proxy");
        snprintf(e->detail, sizeof(e->detail), "pool %u proxy=%s", a->pool, a->value);
        out(r, "  %+8.3fs  %-10s %-20s pool %u Option 43 = \"%s\" (step \"%s\")\n", e->t, a->host, "lab: set-proxy", a->pool,
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
        out(r, "  %+8.3fs  %-10s %-20s %s (step \"%s\")\n", e->t, a->host, "lab: write", a->file, st->name);
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
        out(r, "  %+8.3fs  %-10s %-20s %s (step \"%s\")\n", e->t, a->host, "lab: proxy-fault", e->detail, st->name);
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
    case ACT_CLAIM: {
        /* the claim goes into the EP terminator's claims file (atomic rewrite), then SIGHUP */
        struct rhost *ept = r->ept;
        snprintf(e->step, sizeof(e->step), "lab: claim");
        snprintf(e->detail, sizeof(e->detail), "%s in %s (org %s)", rh->h->node.device_id, rh->h->node.environment,
                 rh->h->node.org);
        out(r, "  %+8.3fs  %-10s %-20s %s (step \"%s\")\n", e->t, a->host, "lab: claim", e->detail, st->name);
        rh->claimed = true;
        if (write_claims(r, ept) < 0)
            return -1;
        int before = count_lines(ept->log, "event=config.reload");
        proc_signal(&ept->p, SIGHUP);
        double deadline = proc_now() + START_TIMEOUT_MS / 1000.0;
        while (count_lines(ept->log, "event=config.reload") <= before) {
            if (proc_now() > deadline || proc_cancelled())
                return fail(r, "%s did not reload its claims after SIGHUP", ept->h->name);
            idle(r, PROC_POLL_MS);
        }
        char *tail = proc_tail(ept->log, 4);
        bool ok = strstr(tail, "event=config.reload result=ok") != NULL;
        free(tail);
        return ok ? 0 : fail(r, "%s refused the new claims (see %s)", ept->h->name, ept->logrel);
    }
    case ACT_LINK_DOWN:
    case ACT_LINK_UP: {
        bool up = a->kind == ACT_LINK_UP;
        snprintf(e->step, sizeof(e->step), "lab: link %s", up ? "up" : "down");
        snprintf(e->detail, sizeof(e->detail), "%s", a->interface);
        out(r, "  %+8.3fs  %-10s %-20s %s (step \"%s\")\n", e->t, a->host, e->step, a->interface, st->name);
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
    double now = wall_now();
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct stat sb;
        if (r->eh[i].access_log[0] && stat(r->eh[i].access_log, &sb) == 0)
            r->eh[i].access_from = (long)sb.st_size;
        r->eh[i].access_since = now;
    }
}

/* ---- valgrind --------------------------------------------------------------------------------- */

/* --valgrind HOST[,HOST...]: those hosts' processes run under `valgrind --tool=memcheck
 * --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99`, each process's report in
 * logs/HOST-valgrind.PID.log; their start and stop bounds are 8 times longer and the scenario's
 * timeout 4 times. After teardown each such host gets one more result, "HOST valgrind": every
 * report has "ERROR SUMMARY: 0 errors" and nothing "definitely lost" (with the first error's stack
 * when not). The components must not be built with ZTP_SANITIZE: ASan and valgrind cannot share a
 * process (the run is then skipped, saying so). */
static bool binary_has(const char *path, const char *needle)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_file_max(path, 256u << 20, &buf, &len) < 0)
        return false;
    bool f = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return f;
}

static int vg_prepare(struct run *r)
{
    const char *list = r->o->valgrind;
    if (!list || !*list)
        return 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), p);
        struct rhost *rh = rhost_by_name(r, name);
        if (!rh)
            return fail(r, "--valgrind: the scenario has no host \"%s\"", name);
        if (rh->h->impl != SCN_IMPL_MOCK)
            return fail(r, "--valgrind: %s is %s, not one of this project's programs", name, scn_impl_name(rh->h->impl));
        rh->vg = true;
        r->vg_any = true;
        p += n + (p[n] == ',');
    }
    char *argv[] = {"valgrind", "--version", NULL}, err[256], log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/logs/valgrind-version.log", r->art);
    struct proc_spec ps = {.name = "valgrind", .argv = argv, .log_path = log};
    if (proc_run(&ps, 5000, err, sizeof(err)) != 0 && (r->skip = true))
        return fail(r, "--valgrind: valgrind is not installed (apt-get install valgrind)");
    static const char *const progs[] = {"ssr-node", "mock-dhcpd", "mock-proxy", "mock-ep-terminator", "mock-mist",
                                        "mock-conductor", "mock-hub"};
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", r->o->bin_dir, progs[i]);
        if (binary_has(p, "__asan_init") && (r->skip = true))
            return fail(r, "--valgrind: %s is built with ZTP_SANITIZE (AddressSanitizer and valgrind cannot share a "
                           "process): use a build without it, e.g. cmake -B build-vg -DZTP_SANITIZE=OFF",
                        p);
    }
    out(r, "  %+8.3fs  %-10s %-20s memcheck for %s (timeouts x%d)\n", rel(r), "lab", "valgrind", list, VG_SLOWDOWN);
    return 0;
}

/* After teardown: one result per valgrind host from its reports. */
static void vg_report(struct run *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        if (!rh->vg)
            continue;
        struct rep_expect *e = report_add_expect(r->rep);
        snprintf(e->step, sizeof(e->step), "valgrind");
        snprintf(e->name, sizeof(e->name), "%s valgrind", rh->h->name);
        snprintf(e->want, sizeof(e->want), "memcheck: ERROR SUMMARY 0 errors and nothing definitely lost, in every process");
        char pat[PATH_MAX];
        snprintf(pat, sizeof(pat), "%s/logs/%s-valgrind.*.log", r->art, rh->h->name);
        glob_t g;
        size_t nproc = 0;
        unsigned long long errors = 0, lost = 0;
        bool complete = true;
        char first[PATH_MAX] = "";
        if (glob(pat, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                FILE *f = fopen(g.gl_pathv[k], "r");
                if (!f)
                    continue;
                nproc++;
                char line[1024];
                bool summary = false;
                unsigned long long fe = 0;
                while (fgets(line, sizeof(line), f)) {
                    const char *m = strstr(line, "ERROR SUMMARY: ");
                    if (m) {
                        summary = true;
                        fe = strtoull(m + 15, NULL, 10);
                        errors += fe;
                    }
                    m = strstr(line, "definitely lost: ");
                    if (m) {
                        char num[64] = "";
                        size_t o = 0;
                        for (const char *c = m + 17; *c && *c != ' ' && o + 1 < sizeof(num); c++)
                            if (*c != ',')
                                num[o++] = *c;
                        lost += strtoull(num, NULL, 10);
                    }
                }
                fclose(f);
                complete &= summary;
                if ((fe || !summary) && !first[0])
                    snprintf(first, sizeof(first), "%s", g.gl_pathv[k]);
            }
            globfree(&g);
        }
        e->pass = nproc > 0 && complete && !errors && !lost;
        snprintf(e->got, sizeof(e->got), "%zu process%s: %llu errors, %llu bytes definitely lost%s", nproc,
                 nproc == 1 ? "" : "es", errors, lost,
                 !nproc ? " (no report: did it start under valgrind?)"
                 : !complete ? " (a report has no ERROR SUMMARY: the process did not exit normally)"
                             : "");
        if (first[0]) {
            snprintf(e->log, sizeof(e->log), "%s", first + strlen(r->art) + 1);
            /* the first error with its stack */
            FILE *f = fopen(first, "r");
            char *buf = NULL;
            size_t bl = 0;
            FILE *mo = open_memstream(&buf, &bl);
            if (f && mo) {
                char line[1024];
                int taking = 0, taken = 0;
                while (fgets(line, sizeof(line), f) && taken < 40) {
                    const char *t = strstr(line, "== ");
                    t = t ? t + 3 : line;
                    if (!taking && (strstr(t, "Invalid ") == t || strstr(t, "Conditional jump") == t ||
                                    strstr(t, "Use of uninitialised") == t || strstr(t, "Syscall param") == t ||
                                    strstr(t, "Mismatched free") == t || strstr(t, "Source and destination") == t ||
                                    strstr(line, "are definitely lost in loss record")))
                        taking = 1;
                    if (taking) {
                        if (*t == '\n' && taken > 1)
                            break;
                        fputs(line, mo);
                        taken++;
                    }
                }
            }
            if (f)
                fclose(f);
            if (mo)
                fclose(mo);
            e->log_tail = buf ? buf : strdup("");
        }
        e->at_s = e->pass ? rel(r) : -1;
    }
}

/* ---- what the router nodes show at the end ----------------------------------------------------- */

/* Every running router node's `show` answers at the end of the run, kept in HOST/show/: the JSON
 * of each (as `ssr-cli --json`: WHAT.json) and `ssr-cli show onboarding` / `show conductor` as an
 * operator reads them (WHAT.txt). The no-secrets check searches them. */
static void capture_show(struct run *r)
{
    static const char *const whats[] = {"onboarding", "conductor", "management-proxy", "dhcp learned-proxies",
                                        "ha",         "phone-home", "config"};
    for (size_t i = 0; i < r->n_hosts; i++) {
        struct rhost *rh = &r->hosts[i];
        if (rh->h->kind != SCN_SSR_NODE || !proc_alive(&rh->p))
            continue;
        char dir[PATH_MAX], p[PATH_MAX + 64], err[256];
        snprintf(dir, sizeof(dir), "%s/show", rh->dir);
        mkdir_p(dir, 0755);
        for (size_t k = 0; k < sizeof(whats) / sizeof(whats[0]); k++) {
            json_t *j = exp_ctl_show(rh->ctl, whats[k], 2000, err, sizeof(err));
            char name[64];
            snprintf(name, sizeof(name), "%s", whats[k]);
            for (char *c = name; *c; c++)
                if (*c == ' ')
                    *c = '-';
            snprintf(p, sizeof(p), "%s/%s.json", dir, name);
            if (j)
                write_json(r, p, j);
            else
                write_text(p, err);
        }
        for (size_t k = 0; k < 2; k++) {
            char bin[PATH_MAX];
            snprintf(bin, sizeof(bin), "%s/ssr-cli", r->o->bin_dir);
            snprintf(p, sizeof(p), "%s/%s.txt", dir, whats[k]);
            unlink(p);
            char *argv[] = {bin, "--ctl", rh->ctl, "show", (char *)(uintptr_t)whats[k], NULL};
            struct proc_spec ps = {.name = "ssr-cli", .argv = argv, .log_path = p};
            proc_run(&ps, 3000, err, sizeof(err));
        }
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
    const char *ours[] = {"ssr-node",  "ssr-tpm",        "mock-dhcpd", "mock-proxy", "mock-ep-terminator",
                          "mock-mist", "mock-conductor", "mock-hub"};
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
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
    make_secrets(r);
    if (vg_prepare(r) < 0)
        return -1;
    if (build_topology(r) < 0 || start_captures(r) < 0 || apply_loss(r) < 0 || make_pki(r) < 0)
        return -1;
    bool whens = s->n_triggers > 0;
    for (size_t i = 0; i < s->n_steps; i++)
        whens |= s->steps[i].when.host != NULL;
    if (whens && watches_start(r) < 0) /* armed before anything starts: a trigger sees a node's first lines */
        return -1;
    /* Every server is started at once (they do not depend on each other) in kind order; while they
     * come up, each router node's swtpm starts and is manufactured; once every server is ready, the
     * router nodes start (at once too) and are waited for. */
    static const enum scn_kind order[] = {SCN_DHCP_SERVER, SCN_PROXY, SCN_HUB,          SCN_CONDUCTOR,
                                          SCN_MIST,        SCN_EP_TERMINATOR, SCN_SSR_NODE};
    bool *begun = calloc(r->n_hosts + 1, sizeof(bool)), *node_ready = calloc(r->n_hosts + 1, sizeof(bool));
    int rc = 0;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]) && rc == 0; k++)
        for (size_t i = 0; i < r->n_hosts && rc == 0; i++) {
            struct rhost *rh = &r->hosts[i];
            if (rh->h->kind != order[k])
                continue;
            if (proc_cancelled()) {
                rc = fail(r, "interrupted");
                break;
            }
            switch (rh->h->kind) {
            case SCN_DHCP_SERVER: rc = prep_dhcp(r, rh); break;
            case SCN_PROXY: rc = prep_proxy(r, rh); break;
            case SCN_EP_TERMINATOR:
            case SCN_MIST: rc = prep_cloud(r, rh); break;
            case SCN_CONDUCTOR: rc = prep_conductor(r, rh); break;
            case SCN_HUB: rc = prep_hub(r, rh); break;
            case SCN_SSR_NODE: rc = prep_node(r, rh); break;
            default: break;
            }
            if (rc < 0)
                break;
            snprintf(r->eh[i].ctl, sizeof(r->eh[i].ctl), "%s", rh->ctl);
            if (rh->h->kind == SCN_SSR_NODE && (rc = start_swtpm(r, rh)) < 0)
                break;
            if (rh->h->kind == SCN_SSR_NODE && rh->h->node.sztp && (rc = manufacture(r, rh)) < 0)
                break;
            if (!rh->h->autostart) {
                out(r, "  %+8.3fs  %-10s %-20s autostart: false (a step's start: starts it)\n", rel(r), rh->h->name,
                    "lab: not started");
                continue;
            }
            if (rh->h->kind == SCN_SSR_NODE) {
                node_ready[i] = true; /* started below, all at once, once every node is manufactured */
                continue;
            }
            if ((rc = start_host_begin(r, rh)) < 0)
                break;
            begun[i] = true;
        }
    /* the servers first (a node's DHCP client and sZTP start at once), then every router node at
     * once: setup ends right after they are up, so a trigger on an early state is serviced at once */
    for (size_t j = 0; j < r->n_hosts && rc == 0; j++)
        if (begun[j]) {
            begun[j] = false;
            rc = start_host_finish(r, &r->hosts[j]);
        }
    for (size_t j = 0; j < r->n_hosts && rc == 0; j++)
        if (node_ready[j]) {
            rc = start_host_begin(r, &r->hosts[j]);
            begun[j] = rc == 0;
        }
    free(node_ready);
    for (size_t j = 0; j < r->n_hosts; j++)
        if (begun[j] && rc == 0) {
            begun[j] = false;
            rc = start_host_finish(r, &r->hosts[j]);
        } else if (begun[j] && r->hosts[j].p.ready_fd >= 0) {
            close(r->hosts[j].p.ready_fd); /* set-up failed: the teardown stops it */
            r->hosts[j].p.ready_fd = -1;
        }
    free(begun);
    if (rc < 0)
        return -1;
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
            gr[n++] = r->hosts[i].vg ? STOP_GRACE_MS * VG_SLOWDOWN : STOP_GRACE_MS;
        }
    proc_stop_many(ps, gr, n);
    tl_pump(r);
    n = 0;
    for (size_t i = 0; i < r->n_hosts; i++) {
        if (r->hosts[i].h->kind != SCN_SSR_NODE) {
            ps[n] = &r->hosts[i].p;
            gr[n++] = r->hosts[i].vg ? STOP_GRACE_MS * VG_SLOWDOWN : grace_of(r->hosts[i].h);
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
                                                         [SCN_IMPL_SQUID] = "squid", [SCN_IMPL_TINYPROXY] = "tinyproxy"};
        static const char *const mkey[SCN_KIND_COUNT] = {[SCN_SSR_NODE] = "ssr-node", [SCN_DHCP_SERVER] = "mock-dhcpd",
                                                         [SCN_PROXY] = "mock-proxy",
                                                         [SCN_EP_TERMINATOR] = "mock-ep-terminator",
                                                         [SCN_MIST] = "mock-mist", [SCN_CONDUCTOR] = "mock-conductor",
                                                         [SCN_HUB] = "mock-hub"};
        const char *k = rh->h->impl == SCN_IMPL_MOCK ? mkey[rh->h->kind] : vkey[rh->h->impl];
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
                                .unprivileged = o->mode && !strcmp(o->mode, "userns"),
                                .secrets = (const char *const *)r.secrets, .n_secrets = r.n_secrets,
                                .pki = r.pki};
        double deadline = r.t0 + s->timeout * (r.vg_any ? VG_SLOWDOWN / 2 : 1);
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
            if (st->when.host) {
                struct watch *w = &r.w[r.n_w - 1];
                if (step_when(&r, st, deadline)) {
                    rc = watch_actions(&r, w);
                    w->handled = true;
                    record_watch(&r, w, st->name);
                } else {
                    record_watch(&r, w, st->name); /* never held: the step's actions do not run */
                    run_step(&r, st, deadline);
                    continue;
                }
            } else {
                for (size_t j = 0; j < st->n_actions && rc == 0; j++)
                    rc = do_action(&r, st, &st->actions[j]);
            }
            if (rc < 0)
                break;
            run_step(&r, st, deadline);
        }
        service_watches(&r); /* a trigger that fired last */
        for (size_t i = 0; i < s->n_triggers; i++)
            record_watch(&r, &r.w[i], "triggers");
        if (!proc_cancelled() && rc == 0)
            capture_show(&r);
        report_loss(&r);
        rep->checks_s = rel(&r) - rep->setup_s;
    }
    watches_stop(&r);
    double td0 = rel(&r);
    if (proc_cancelled()) {
        fail(&r, "interrupted");
        res = RUN_INTERRUPTED;
    }
    teardown(&r);
    rep->teardown_s = rel(&r) - td0;
    if (rc == 0)
        vg_report(&r);
    rep->total_s = rel(&r);
    if (!o->keep)
        collect_versions(&r);
    host_report(&r);
    /* the no-secrets check again, now that every log is complete, and over the summary as it will
     * be written (its got text names where, never the secret) */
    for (size_t i = 0; i < rep->n_exps && rc == 0; i++)
        if (!strcmp(rep->exps[i].name, "no-secrets") || !strcmp(rep->exps[i].name, "secret-files")) {
            struct scn_expect x = {.kind = strcmp(rep->exps[i].name, "no-secrets") ? EXP_SECRET_FILES : EXP_NO_SECRETS};
            struct exp_state st;
            json_t *sj = report_summary(rep);
            char *stext = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
            json_decref(sj);
            exp_describe(&x, &st);
            r.ec.summary_text = stext;
            exp_eval(&r.ec, &st, rel(&r));
            r.ec.summary_text = NULL;
            free(stext);
            rep->exps[i].pass = st.pass;
            snprintf(rep->exps[i].got, sizeof(rep->exps[i].got), "%s", st.got);
        }
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
        char herr[512];
        if (report_html_write(r.art, NULL, herr, sizeof(herr)) < 0)
            out(&r, "lab: report.html: %s\n", herr);
    }
    if (r.tl)
        fclose(r.tl);
    if (r.t && !o->keep)
        run_rmtree(r.sockdir);
    topo_free(r.t);
    for (size_t i = 0; i < r.n_hosts; i++) {
        av_free(&r.hosts[i].argv);
        av_free(&r.hosts[i].vgargv);
        json_decref(r.hosts[i].faults);
        explicit_bzero(r.hosts[i].ocra_hex, sizeof(r.hosts[i].ocra_hex));
        explicit_bzero(r.hosts[i].registry_hex, sizeof(r.hosts[i].registry_hex));
        explicit_bzero(r.hosts[i].psk, sizeof(r.hosts[i].psk));
        explicit_bzero(r.hosts[i].mist_psk, sizeof(r.hosts[i].mist_psk));
    }
    for (size_t i = 0; i < r.n_secrets; i++) {
        explicit_bzero(r.secrets[i], strlen(r.secrets[i]));
        free(r.secrets[i]);
    }
    free(r.secrets);
    free(r.conductor_ca_pem);
    free(r.production_ca_pem);
    explicit_bzero(r.production_psk, sizeof(r.production_psk));
    watches_free(&r);
    free(r.hosts);
    free(r.eh);
    free(r.caps);
    return res;
}
