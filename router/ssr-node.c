/* ssr-node: the router node daemon (DHCP clients, management-proxy selection, HA sync, control
 * socket, phone-home through the proxy). One epoll loop, no threads. See node.h, ha.h, ctl.h,
 * https.h and phonehome.h. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ctl.h"
#include "node.h"
#include "tpm.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

#define USAGE                                                                                                  \
    "usage: ssr-node --config FILE --node NAME [--onboarding FILE] [--state-dir DIR] [--ctl PATH]\n"           \
    "                [--ha-listen IP:PORT --ha-peer IP:PORT] [--ha-timeout SEC] [--no-apply]\n"               \
    "                [--phone-home-url https://HOST[:PORT]/PATH [--mist-ca FILE]]\n"                    \
    "                [--sztp --device-id ID --tpm TCTI [--sztp-fault replay-response]\n"                    \
    "                 [--conductor-fault csr-other-router] [--manufacture-ocra-key FILE]\n"                 \
    "                 [--request-timeout SEC] [--retry-backoff MIN[,MAX]] [--task-poll SEC]]\n"             \
    "                [--log-level debug|info]\n"                                                           \
    "  --request-timeout SEC      an sZTP or conductor request not answered within SEC fails (timeout);\n" \
    "                             default 15\n"                                                            \
    "  --retry-backoff MIN[,MAX]  after a failure wait MIN seconds, doubling per consecutive failure up\n"  \
    "                             to MAX (less up to 20 % jitter; a longer Retry-After wins); default 1,30\n" \
    "  --task-poll SEC            ask the staging conductor for a task again SEC after it had none or\n"   \
    "                             refused an ack; default 2\n"

static struct node the_node;
static struct ctl_server the_ctl;

struct sig_ev {
    struct node_ev ev;
    int fd;
    int stop_signal;
    bool reload;
};

static void on_signal(struct node_ev *ev, uint32_t events)
{
    struct sig_ev *s = (struct sig_ev *)(void *)ev; /* ev is the first member */
    struct signalfd_siginfo si;
    (void)events;
    while (read(s->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            s->stop_signal = (int)si.ssi_signo;
        else if (si.ssi_signo == SIGHUP)
            s->reload = true;
        else
            log_info("node.signal", "signal=%s action=ignored", strsignal((int)si.ssi_signo));
    }
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ssr-node: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(USAGE, stderr);
    return 2;
}

/* "2", "0.5", "1.25": seconds (at most 3 decimals) as milliseconds in [lo, hi]. */
static int parse_seconds_ms(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    unsigned long whole = 0, frac = 0, scale = 1000;
    const char *p = s;
    if (!p || *p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((whole = whole * 10 + (unsigned long)(*p - '0')) > 1000000ul)
            return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale == 1)
                return -1; /* more than 3 decimals */
            scale /= 10;
            frac += (unsigned long)(*p - '0') * scale;
        }
    }
    if (*p)
        return -1;
    unsigned long ms = whole * 1000ul + frac;
    if (ms < lo || ms > hi)
        return -1;
    *out = (unsigned)ms;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},     {"node", required_argument, NULL, 'n'},
        {"onboarding", required_argument, NULL, 'o'}, {"state-dir", required_argument, NULL, 's'},
        {"ctl", required_argument, NULL, 'C'},        {"ha-listen", required_argument, NULL, 'L'},
        {"ha-peer", required_argument, NULL, 'P'},    {"ha-timeout", required_argument, NULL, 'T'},
        {"log-level", required_argument, NULL, 'l'},  {"no-apply", no_argument, NULL, 'A'},
        {"phone-home-url", required_argument, NULL, 'U'}, {"mist-ca", required_argument, NULL, 'M'},
        {"sztp", no_argument, NULL, 'Z'},             {"device-id", required_argument, NULL, 'D'},
        {"tpm", required_argument, NULL, 'B'},        {"sztp-fault", required_argument, NULL, 'F'},
        {"conductor-fault", required_argument, NULL, 'G'}, {"manufacture-ocra-key", required_argument, NULL, 'K'},
        {"request-timeout", required_argument, NULL, 'R'}, {"retry-backoff", required_argument, NULL, 'W'},
        {"task-poll", required_argument, NULL, 'Q'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct node_options opt = {.dhcp_apply = true};
    enum log_level lvl = LOG_LVL_INFO;
    const char *manufacture_key = NULL;
    char ctl_path[PATH_MAX];
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt.config_path = optarg; break;
        case 'n': opt.node_name = optarg; break;
        case 'o': opt.onboarding_path = optarg; break;
        case 's': opt.state_dir = optarg; break;
        case 'C': opt.ctl_path = optarg; break;
        case 'L': opt.ha_listen = optarg; break;
        case 'P': opt.ha_peer = optarg; break;
        case 'A': opt.dhcp_apply = false; break;
        case 'U': opt.phone_home_url = optarg; break;
        case 'M': opt.mist_ca = optarg; break;
        case 'Z': opt.sztp = true; break;
        case 'D': opt.device_id = optarg; break;
        case 'B': opt.tpm = optarg; break;
        case 'K': manufacture_key = optarg; break;
        case 'F': {
            int f = sztp_fault_from_name(optarg);
            if (f <= SZTP_FAULT_NONE)
                return usage_error("--sztp-fault \"%s\": unknown fault (known: replay-response)", optarg);
            opt.sztp_fault = (enum sztp_fault)f;
            break;
        }
        case 'G': {
            int f = cond_fault_from_name(optarg);
            if (f <= COND_FAULT_NONE)
                return usage_error("--conductor-fault \"%s\": unknown fault (known: csr-other-router)", optarg);
            opt.cond_fault = (enum cond_fault)f;
            break;
        }
        case 'T':
            if (parse_seconds_ms(optarg, 100, 3600000u, &opt.ha_timeout_ms) < 0)
                return usage_error("--ha-timeout \"%s\": expected 0.1..3600 seconds", optarg);
            break;
        case 'R':
            if (parse_seconds_ms(optarg, 100, 3600000u, &opt.request_timeout_ms) < 0)
                return usage_error("--request-timeout \"%s\": expected 0.1..3600 seconds", optarg);
            break;
        case 'W': {
            char min[32], *comma = strchr(optarg, ',');
            snprintf(min, sizeof min, "%.*s", comma ? (int)(comma - optarg) : (int)strlen(optarg), optarg);
            if (parse_seconds_ms(min, 10, 3600000u, &opt.retry_backoff_min_ms) < 0 ||
                (comma && (parse_seconds_ms(comma + 1, 10, 3600000u, &opt.retry_backoff_max_ms) < 0 ||
                           opt.retry_backoff_max_ms < opt.retry_backoff_min_ms)))
                return usage_error("--retry-backoff \"%s\": expected MIN[,MAX] seconds, 0.01..3600, MIN <= MAX", optarg);
            if (!comma && opt.retry_backoff_min_ms > PH_BACKOFF_MAX_MS)
                opt.retry_backoff_max_ms = opt.retry_backoff_min_ms; /* the default cap is below it */
            break;
        }
        case 'Q':
            if (parse_seconds_ms(optarg, 10, 3600000u, &opt.task_poll_ms) < 0)
                return usage_error("--task-poll \"%s\": expected 0.01..3600 seconds", optarg);
            break;
        case 'l':
            if (strcmp(optarg, "debug") == 0)
                lvl = LOG_LVL_DEBUG;
            else if (strcmp(optarg, "info") == 0)
                lvl = LOG_LVL_INFO;
            else
                return usage_error("--log-level \"%s\": expected debug or info", optarg);
            break;
        case 'h': fputs(USAGE, stdout); return 0;
        default:
            return usage_error("bad option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!opt.config_path || !opt.node_name)
        return usage_error("%s", "--config and --node are required");
    if (opt.cond_fault != COND_FAULT_NONE && !opt.sztp)
        return usage_error("%s", "--conductor-fault goes with --sztp");
    if (opt.sztp_fault != SZTP_FAULT_NONE && !opt.sztp)
        return usage_error("%s", "--sztp-fault goes with --sztp");
    if (manufacture_key && !opt.sztp)
        return usage_error("%s", "--manufacture-ocra-key goes with --sztp (and --tpm)");

    if (opt.ctl_path)
        snprintf(ctl_path, sizeof ctl_path, "%s", opt.ctl_path);
    else
        ctl_default_path(opt.node_name, ctl_path, sizeof ctl_path);
    opt.ctl_path = ctl_path;

    log_init(opt.node_name, "ssr-node", lvl);
    char err[1024];
    if (node_load(&the_node, &opt, err, sizeof err) < 0) {
        fprintf(stderr, "ssr-node: %s\n", err);
        return 2;
    }
    struct node *n = &the_node;
    /* First-boot manufacturing (fleet runs: one TPM per process, made in parallel by the nodes
     * themselves instead of one ssr-tpm process per node): before readiness, so a node that is
     * ready has its OCRA key in its TPM. The OCRA suite of the lab and the product is
     * OCRA-1:HOTP-SHA256-8:QA08, hence SHA-256. */
    if (manufacture_key) {
        struct tpm *t = sztp_tpm(&n->sztp, err, sizeof err);
        if (!t || tpm_manufacture_from_file(t, TPM_HASH_SHA256, manufacture_key, err, sizeof err) < 0) {
            char q[1100];
            log_error("tpm.manufacture_failed", "error=%s", log_quote(q, sizeof q, err, strlen(err)));
            fprintf(stderr, "ssr-node: manufacturing: %s\n", err);
            return 1;
        }
    }

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct sig_ev sig = {.ev.fn = on_signal, .fd = daemon_signalfd()};
    if (epfd < 0 || sig.fd < 0)
        fatalx("node.setup", "error=\"%s\"", strerror(errno));
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &sig.ev};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sig.fd, &sev) < 0)
        fatalx("node.setup", "error=\"%s\"", strerror(errno));

    node_log_summary(n);
    node_reselect(n, "start");
    if (node_start_ha(n, epfd) < 0) {
        fprintf(stderr, "ssr-node: cannot open the HA socket on %s\n", n->ha_listen);
        return 1;
    }
    ctl_init(&the_ctl, n, epfd);
    int r = ctl_listen(&the_ctl, ctl_path);
    if (r < 0) {
        log_error("ctl.listen_failed", "path=\"%s\" error=\"%s\"", ctl_path,
                  r == -EADDRINUSE ? "another ssr-node answers on it" : strerror(-r));
        fprintf(stderr, "ssr-node: cannot listen on control socket %s: %s\n", ctl_path,
                r == -EADDRINUSE ? "another ssr-node answers on it" : strerror(-r));
        return 1;
    }
    if (node_start_dhcp(n, epfd, dhcpc_now_ms()) < 0) {
        fprintf(stderr, "ssr-node: cannot start the DHCP clients (see the log line above)\n");
        ctl_close(&the_ctl);
        return 1;
    }
    node_start_phonehome(n, epfd, dhcpc_now_ms());
    log_info("node.ready", "ctl=\"%s\" dhcp_clients=%zu ha=%s phone_home=%s sztp=%s", ctl_path, n->n_netifs,
             n->ha_enabled ? "on" : "off", n->ph.enabled ? "on" : "off", n->sztp.enabled ? "on" : "off");
    daemon_ready();

    while (!sig.stop_signal) {
        struct epoll_event evs[16];
        int timeout = node_next_timeout_ms(n, dhcpc_now_ms());
        int k = epoll_wait(epfd, evs, 16, timeout);
        if (k < 0 && errno != EINTR)
            fatalx("node.epoll", "error=\"%s\"", strerror(errno));
        for (int i = 0; i < k; i++) {
            struct node_ev *ev = evs[i].data.ptr;
            ev->fn(ev, evs[i].events);
        }
        if (sig.reload) {
            sig.reload = false;
            node_reload_config(n);
        }
        uint64_t now_ms = dhcpc_now_ms();
        node_tick(n, now_ms, time(NULL));
        ctl_tick(&the_ctl, now_ms);
    }

    log_info("node.stop", "signal=%s", strsignal(sig.stop_signal));
    ctl_close(&the_ctl);
    node_stop(n);
    close(sig.fd);
    close(epfd);
    return 0;
}
