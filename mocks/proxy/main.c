/* mock-proxy: flags, configuration, signals. The engine is proxy.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "acl.h"
#include "proxy.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

#define MAX_FLAG_FAULTS 16

/* Command-line values, laid over the configuration at start and on every reload. */
struct flags {
    const char *config;
    const char *listen[PROXY_MAX_LISTEN];
    size_t n_listen;
    const char *access_log, *stats, *host, *users, *realm;
    const char *faults[MAX_FLAG_FAULTS];
    size_t n_faults;
    bool no_splice, squid_dns_bug;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mock-proxy --listen IP:PORT [--config FILE] [--access-log FILE] [--stats FILE] [--host NAME]\n"
            "                  [--users FILE [--realm REALM]] [--fault KEY=VALUE]... [--no-splice] [--debug]\n"
            "       mock-proxy --check [--config FILE]\n"
            "\n"
            "A Squid-like non-transparent HTTP proxy for the ztp-lab: CONNECT tunnels, plain-HTTP forwarding,\n"
            "Squid's ACL defaults, Basic auth, Squid's status codes and access log, fault switches.\n"
            "\n"
            "  -l, --listen IP:PORT     listen address (repeatable; [v6]:PORT for IPv6)\n"
            "  -c, --config FILE        JSON configuration (see mocks/proxy/README.md)\n"
            "  -a, --access-log FILE    Squid-format access log\n"
            "  -s, --stats FILE         counters as JSON, rewritten atomically every second and on SIGUSR1\n"
            "  -H, --host NAME          host= of the log lines and the name on error pages\n"
            "  -u, --users FILE         require Basic auth; users file of user:password lines\n"
            "  -r, --realm REALM        Basic realm (default mock-proxy)\n"
            "  -f, --fault KEY=VALUE    refuse_all=403|rst, close_after_bytes=N, reset_after_bytes=N, stall=true,\n"
            "                           delay_200_ms=N, down_ms=N, down_cut=true (repeatable)\n"
            "      --squid-dns-bug      answer unresolvable names as Squid 5.7 does (500/502, bug 5294)\n"
            "      --no-splice          relay with read/write instead of splice\n"
            "  -d, --debug              log debug lines too (state transitions)\n"
            "  -n, --check              load the configuration, report, exit 0 (valid) or 1\n"
            "  -h, --help               this text\n"
            "\n"
            "Flags are applied over the configuration file at start and on every reload.\n"
            "Signals: SIGTERM/SIGINT stop (listeners closed, tunnels get timeouts.stop_grace_ms, then cut),\n"
            "SIGHUP reloads the configuration (faults included) and reopens the access log, SIGUSR1 writes\n"
            "the stats file now. Readiness: READY on $ZTP_READY_FD (and $NOTIFY_SOCKET) once listening.\n");
}

static int apply_flags(const struct flags *fl, struct proxy_config *cfg, char *err, size_t errlen)
{
    if (fl->n_listen) {
        for (size_t i = 0; i < fl->n_listen; i++)
            snprintf(cfg->listen[i], sizeof cfg->listen[i], "%s", fl->listen[i]);
        cfg->n_listen = fl->n_listen;
    }
    if (fl->access_log)
        snprintf(cfg->access_log, sizeof cfg->access_log, "%s", fl->access_log);
    if (fl->stats)
        snprintf(cfg->stats, sizeof cfg->stats, "%s", fl->stats);
    if (fl->host)
        snprintf(cfg->host, sizeof cfg->host, "%s", fl->host);
    if (fl->realm)
        snprintf(cfg->realm, sizeof cfg->realm, "%s", fl->realm);
    if (fl->no_splice)
        cfg->splice = false;
    if (fl->squid_dns_bug)
        cfg->squid_dns_bug = true;
    for (size_t i = 0; i < fl->n_faults; i++)
        if (proxy_fault_set(&cfg->faults, fl->faults[i], err, errlen) < 0)
            return -1;
    if (fl->users) {
        cfg->auth = true;
        snprintf(cfg->users_file, sizeof cfg->users_file, "%s", fl->users);
        if (proxy_users_load(cfg, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int load(const struct flags *fl, struct proxy_config *cfg, char *err, size_t errlen)
{
    if (proxy_config_load(fl->config, cfg, err, errlen) < 0)
        return -1;
    if (apply_flags(fl, cfg, err, errlen) < 0) {
        proxy_config_free(cfg);
        return -1;
    }
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = 1048576;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1 && v < want)
            want = v;
        fclose(f);
    }
    struct rlimit nr = {.rlim_cur = want, .rlim_max = want > rl.rlim_max ? want : rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &nr) < 0) {
        nr.rlim_cur = nr.rlim_max = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nr);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    log_info("proxy.nofile", "soft=%llu hard=%llu", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
}

static void on_signal(struct proxy *p, int signo, void *ctx)
{
    const struct flags *fl = ctx;
    char err[1200], q[2500];
    if (signo == SIGHUP) {
        struct proxy_config cfg;
        log_info("proxy.signal", "signal=HUP action=reload");
        if (load(fl, &cfg, err, sizeof err) < 0) {
            log_error("proxy.reload", "ok=false error=%s note=\"keeping the running configuration\"",
                      log_quote(q, sizeof q, err, strlen(err)));
            proxy_reopen_log(p);
            return;
        }
        proxy_apply_config(p, &cfg);
        proxy_reopen_log(p);
        log_info("proxy.reload", "ok=true");
    } else if (signo == SIGUSR1) {
        log_info("proxy.signal", "signal=USR1 action=stats");
        proxy_write_stats(p);
    } else {
        log_info("proxy.signal", "signal=%s action=stop", signo == SIGINT ? "INT" : "TERM");
        proxy_stop(p);
    }
}

int main(int argc, char **argv)
{
    enum { OPT_NO_SPLICE = 1000, OPT_DNS_BUG };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"config", required_argument, NULL, 'c'},
        {"access-log", required_argument, NULL, 'a'}, {"stats", required_argument, NULL, 's'},
        {"host", required_argument, NULL, 'H'},     {"users", required_argument, NULL, 'u'},
        {"realm", required_argument, NULL, 'r'},    {"fault", required_argument, NULL, 'f'},
        {"no-splice", no_argument, NULL, OPT_NO_SPLICE}, {"squid-dns-bug", no_argument, NULL, OPT_DNS_BUG},
        {"debug", no_argument, NULL, 'd'},          {"check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    struct flags fl = {0};
    char host[256] = "-", err[1200], q[2500];
    bool debug = false, check = false;
    int c;

    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "-");
    host[sizeof host - 1] = '\0';
    while ((c = getopt_long(argc, argv, "l:c:a:s:H:u:r:f:dnh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (fl.n_listen == PROXY_MAX_LISTEN) {
                fprintf(stderr, "mock-proxy: at most %d --listen\n", PROXY_MAX_LISTEN);
                return 2;
            }
            fl.listen[fl.n_listen++] = optarg;
            break;
        case 'c': fl.config = optarg; break;
        case 'a': fl.access_log = optarg; break;
        case 's': fl.stats = optarg; break;
        case 'H': fl.host = optarg; snprintf(host, sizeof host, "%s", optarg); break;
        case 'u': fl.users = optarg; break;
        case 'r': fl.realm = optarg; break;
        case 'f':
            if (fl.n_faults == MAX_FLAG_FAULTS) {
                fprintf(stderr, "mock-proxy: at most %d --fault\n", MAX_FLAG_FAULTS);
                return 2;
            }
            fl.faults[fl.n_faults++] = optarg;
            break;
        case OPT_NO_SPLICE: fl.no_splice = true; break;
        case OPT_DNS_BUG: fl.squid_dns_bug = true; break;
        case 'd': debug = true; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init(host, "mock-proxy", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);

    struct proxy_config cfg;
    if (load(&fl, &cfg, err, sizeof err) < 0) {
        log_error("proxy.config", "ok=false error=%s", log_quote(q, sizeof q, err, strlen(err)));
        return 1;
    }
    if (check) {
        log_info("proxy.config", "ok=true path=%s listen=%zu users=%zu", fl.config ? fl.config : "-", cfg.n_listen,
                 cfg.n_users);
        proxy_config_free(&cfg);
        return 0;
    }
    raise_nofile();
    /* Signals are blocked before the resolver threads start, so they all arrive on the signalfd. */
    int sigfd = daemon_signalfd();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    if (sigfd < 0 || sigprocmask(SIG_BLOCK, &set, NULL) < 0 || signalfd(sigfd, &set, 0) < 0) {
        log_error("proxy.start", "error=\"signalfd: %s\"", strerror(errno));
        proxy_config_free(&cfg);
        return 1;
    }
    struct proxy *p = proxy_new(&cfg, err, sizeof err);
    if (!p) {
        log_error("proxy.start", "error=%s", log_quote(q, sizeof q, err, strlen(err)));
        close(sigfd);
        return 1;
    }
    log_info("proxy.start", "config=%s listen=%zu pid=%ld", fl.config ? fl.config : "-", proxy_config(p)->n_listen,
             (long)getpid());
    daemon_ready();
    log_info("proxy.ready", NULL);
    int rc = proxy_run(p, sigfd, on_signal, &fl);
    const struct proxy_stats *s = proxy_get_stats(p);
    log_info("proxy.stop", "connections=%llu requests=%llu tunnels=%llu forwards=%llu bytes_up=%llu bytes_down=%llu",
             (unsigned long long)s->connections_total, (unsigned long long)s->requests_total,
             (unsigned long long)s->tunnels_total, (unsigned long long)s->forwards_total,
             (unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down);
    proxy_free(p);
    close(sigfd);
    return rc < 0 ? 1 : 0;
}
