/* mock-hub: the operational hub a router peers with over SVR after onboarding (issue 6).
 * Command line, logger, configuration; the engine is server.c, the decisions hubcore.c. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hubcore.h"
#include "server.h"
#include "ztp/log.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mock-hub --config FILE --listen IP[:PORT] --cert PEM --key PEM --client-ca PEM\n"
            "                [--state FILE] [--host NAME] [--debug]\n"
            "       mock-hub --check --config FILE\n"
            "\n"
            "The lab's operational hub: a TLS server (mutual TLS) that accepts SVR peering from a router\n"
            "node whose certificate (chained to --client-ca) names a configured peer. See mocks/hub/README.md.\n"
            "\n"
            "  -c, --config FILE     JSON configuration: hub-name, peers, timeouts (re-read on SIGHUP)\n"
            "  -l, --listen ADDR     IP[:PORT] or [IPv6][:PORT] to listen on (default port %d)\n"
            "  -C, --cert FILE       the hub's certificate chain, PEM\n"
            "  -K, --key FILE        its private key, PEM\n"
            "  -A, --client-ca FILE  the CA peers' certificates must chain to (the conductor CA), PEM\n"
            "  -s, --state FILE      write the peers' state here (JSON, atomically) on every change\n"
            "  -H, --host NAME       host= value of the log lines (default: the hostname)\n"
            "  -d, --debug           log debug lines too\n"
            "  -n, --check           parse the configuration, report, exit 0 (valid) or 1\n"
            "  -h, --help            this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the configuration (kept when invalid).\n"
            "Readiness: writes READY to $ZTP_READY_FD (and $NOTIFY_SOCKET) once listening.\n",
            HUB_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},    {"listen", required_argument, NULL, 'l'},
        {"cert", required_argument, NULL, 'C'},      {"key", required_argument, NULL, 'K'},
        {"client-ca", required_argument, NULL, 'A'}, {"state", required_argument, NULL, 's'},
        {"host", required_argument, NULL, 'H'},      {"debug", no_argument, NULL, 'd'},
        {"check", no_argument, NULL, 'n'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hub_server_opts o = {0};
    struct hub_config cfg = {0};
    char host[256] = "-", err[600], q[1300];
    bool debug = false, check = false;
    int c;

    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "-");
    host[sizeof host - 1] = '\0';
    while ((c = getopt_long(argc, argv, "c:l:C:K:A:s:H:dnh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'C': o.cert = optarg; break;
        case 'K': o.key = optarg; break;
        case 'A': o.client_ca = optarg; break;
        case 's': o.state_path = optarg; break;
        case 'H': snprintf(host, sizeof host, "%s", optarg); break;
        case 'd': debug = true; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !o.config_path ||
        (!check && (!o.listen || !o.cert || !o.key || !o.client_ca))) {
        usage(stderr);
        return 2;
    }
    log_init(host, "mock-hub", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    if (hub_config_load(o.config_path, &cfg, err, sizeof err) < 0) {
        if (check)
            fprintf(stderr, "%s\n", err);
        else
            log_error("config.load", "path=%s error=%s", o.config_path, log_quote(q, sizeof q, err, strlen(err)));
        return 1;
    }
    if (check) {
        printf("ok: hub %s, %zu peers, idle-timeout %u s, hello-timeout %u s, max-connections %u\n", cfg.hub_name,
               cfg.n_peers, cfg.idle_timeout, cfg.hello_timeout, cfg.max_connections);
        hub_config_free(&cfg);
        return 0;
    }
    struct hub_server *s = hub_server_new(&o, &cfg, err, sizeof err);
    if (!s) {
        hub_config_free(&cfg);
        log_error("daemon.start", "error=%s", log_quote(q, sizeof q, err, strlen(err)));
        return 1;
    }
    int r = hub_server_run(s);
    hub_server_free(s);
    return r < 0 ? 1 : 0;
}
