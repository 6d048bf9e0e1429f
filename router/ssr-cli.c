/* ssr-cli: the router's show commands, over ssr-node's control socket (protocol in ctl.h).
 *
 *   ssr-cli [--ctl PATH | --node NAME] [--json] show dhcp learned-proxies
 *   ssr-cli [--ctl PATH | --node NAME] [--json] show management-proxy
 *   ssr-cli [--ctl PATH | --node NAME] [--json] show config | show ha | show phone-home | show onboarding
 *   ssr-cli [--ctl PATH | --node NAME] [--json] show conductor
 *   ssr-cli [--ctl PATH | --node NAME] [--json] migrate conductor ADDR [ADDR]   (two: an HA conductor)
 *   ssr-cli [--ctl PATH | --node NAME] wait management-proxy [--active A:P | --none] [--timeout SEC]
 *   ssr-cli [--ctl PATH | --node NAME] [--json] fetch https://HOST[:PORT]/PATH [--timeout SEC] [--ca FILE]
 *
 * `fetch`: the node performs one GET through its active management proxy (with its proxy
 * credentials) and the answer is printed: status line, proxy and TLS peer on stderr, the body on
 * stdout. Default timeout 15 s; default CA: the node's --mist-ca, else the system store.
 *
 * Exit: 0 ok (fetch: an HTTP response came back, whatever its status); 1 daemon not running,
 * error answer, fetch failed, or `wait` timed out; 2 bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define USAGE                                                                                               \
    "usage: ssr-cli [--ctl PATH | --node NAME] [--json] show dhcp learned-proxies | management-proxy | config | ha\n" \
    "                                                   | phone-home | onboarding | conductor\n"                           \
    "       ssr-cli [--ctl PATH | --node NAME] [--json] migrate conductor ADDR [ADDR]\n"                       \
    "       ssr-cli [--ctl PATH | --node NAME] wait management-proxy [--active A:P | --none] [--timeout SEC]\n"  \
    "       ssr-cli [--ctl PATH | --node NAME] [--json] fetch https://HOST[:PORT]/PATH [--timeout SEC] [--ca FILE]\n"

#define CLI_IO_TIMEOUT_MS 3000
#define CLI_MAX_RESPONSE (1024 * 1024)
#define WAIT_POLL_MS 50

enum { REQ_OK = 0, REQ_NOT_RUNNING = 1, REQ_ERROR = 2 };

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    fputs("ssr-cli: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(USAGE, stderr);
    return 2;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One request/response exchange. On REQ_NOT_RUNNING/REQ_ERROR, msg holds one line. */
static int ctl_request_t(const char *path, const char *req, json_t **resp, char *msg, size_t cap, unsigned io_ms);

static int ctl_request(const char *path, const char *req, json_t **resp, char *msg, size_t cap)
{
    return ctl_request_t(path, req, resp, msg, cap, CLI_IO_TIMEOUT_MS);
}

/* Same with an answer deadline of io_ms (fetch waits for the node's request). */
static int ctl_request_t(const char *path, const char *req, json_t **resp, char *msg, size_t cap, unsigned io_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    *resp = NULL;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(msg, cap, "control socket path too long: %s", path);
        return REQ_ERROR;
    }
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, cap, "socket: %s", strerror(errno));
        return REQ_ERROR;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ENOTDIR)
            snprintf(msg, cap, "ssr-node is not running (no control socket at %s)", path);
        else if (e == ECONNREFUSED)
            snprintf(msg, cap, "ssr-node is not running (nobody answers on control socket %s)", path);
        else {
            snprintf(msg, cap, "cannot connect to control socket %s: %s", path, strerror(e));
            return REQ_ERROR;
        }
        return REQ_NOT_RUNNING;
    }
    size_t rl = strlen(req);
    if (send(fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
        snprintf(msg, cap, "cannot send to %s: %s", path, strerror(errno));
        close(fd);
        return REQ_ERROR;
    }
    shutdown(fd, SHUT_WR);

    size_t len = 0, capb = 4096;
    char *buf = malloc(capb);
    uint64_t deadline = mono_ms() + io_ms;
    int rc = REQ_OK;
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            snprintf(msg, cap, "no answer from ssr-node on %s within %u ms", path, io_ms);
            rc = REQ_ERROR;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        if (len + 1 >= capb) {
            if (capb >= CLI_MAX_RESPONSE) {
                snprintf(msg, cap, "answer from %s larger than %d bytes", path, CLI_MAX_RESPONSE);
                rc = REQ_ERROR;
                break;
            }
            capb *= 2;
            char *nb = realloc(buf, capb);
            if (!nb) {
                snprintf(msg, cap, "out of memory");
                rc = REQ_ERROR;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, capb - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(msg, cap, "reading from %s: %s", path, strerror(errno));
            rc = REQ_ERROR;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (rc == REQ_OK) {
        json_error_t jerr;
        *resp = json_loadb(buf, len, 0, &jerr);
        if (!*resp || !json_is_object(*resp)) {
            snprintf(msg, cap, "bad answer from ssr-node on %s: %s", path, *resp ? "not an object" : jerr.text);
            json_decref(*resp);
            *resp = NULL;
            rc = REQ_ERROR;
        }
    }
    free(buf);
    return rc;
}

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static void fmt_age(json_t *v, char *buf, size_t cap)
{
    if (!json_is_integer(v)) {
        snprintf(buf, cap, "-");
        return;
    }
    long long s = json_integer_value(v);
    if (s < 60)
        snprintf(buf, cap, "%llds", s);
    else if (s < 3600)
        snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, cap, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, cap, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
}

#define LP_COLS 11

static void print_learned(const json_t *resp)
{
    static const char *const hdr[LP_COLS] = {"",     "NODE",  "NETWORK-INTERFACE", "DEVICE-INTERFACE",
                                             "IFNAME", "PROXY-ADDRESS", "PORT", "LEASE", "LEARNED", "AGE",
                                             "SOURCE"};
    json_t *arr = json_object_get(resp, "learned-proxies");
    size_t n = json_array_size(arr);
    if (n == 0) {
        printf("node %s: no DHCP network-interface and no learned proxy\n", jstr(resp, "node", "?"));
        return;
    }
    char(*cells)[LP_COLS][64] = calloc(n + 1, sizeof *cells);
    if (!cells)
        return;
    for (size_t c = 0; c < LP_COLS; c++)
        snprintf(cells[0][c], 64, "%s", hdr[c]);
    bool any_sel = false;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        char(*row)[64] = cells[i + 1];
        bool sel = json_is_true(json_object_get(r, "selected"));
        any_sel |= sel;
        snprintf(row[0], 64, "%s", sel ? "*" : "");
        snprintf(row[1], 64, "%s", jstr(r, "node", "-"));
        snprintf(row[2], 64, "%s", jstr(r, "network-interface", "-"));
        snprintf(row[3], 64, "%s", jstr(r, "device-interface", "-"));
        snprintf(row[4], 64, "%s", jstr(r, "ifname", "-"));
        const char *addr = jstr(r, "address", NULL);
        if (addr)
            snprintf(row[5], 64, "%s", addr);
        else
            snprintf(row[5], 64, "%s", json_is_false(json_object_get(r, "discovery")) ? "(discovery off)" : "-");
        json_t *port = json_object_get(r, "port");
        if (json_is_integer(port))
            snprintf(row[6], 64, "%lld", (long long)json_integer_value(port));
        else
            snprintf(row[6], 64, "-");
        snprintf(row[7], 64, "%s", jstr(r, "lease-state", "-"));
        snprintf(row[8], 64, "%s", jstr(r, "learned-at", "-"));
        fmt_age(json_object_get(r, "age"), row[9], 64);
        snprintf(row[10], 64, "%s", jstr(r, "source", "-"));
    }
    size_t w[LP_COLS] = {0};
    for (size_t i = 0; i <= n; i++)
        for (size_t c = 0; c < LP_COLS; c++)
            if (strlen(cells[i][c]) > w[c])
                w[c] = strlen(cells[i][c]);
    for (size_t i = 0; i <= n; i++) {
        for (size_t c = 0; c < LP_COLS; c++) {
            if (c == LP_COLS - 1)
                printf("%s", cells[i][c]);
            else
                printf("%-*s ", (int)w[c] + (c ? 1 : 0), cells[i][c]);
        }
        putchar('\n');
    }
    if (any_sel)
        printf("* = active management proxy\n");
    free(cells);
}

static void print_mgmt(const json_t *resp)
{
    json_t *m = json_object_get(resp, "management-proxy");
    const char *active = jstr(m, "active", NULL);
    printf("management-proxy (router %s node %s)\n", jstr(resp, "router", "?"), jstr(resp, "node", "?"));
    printf("  enabled:  %s\n", json_is_true(json_object_get(m, "enabled")) ? "true" : "false");
    printf("  mode:     %s\n", jstr(m, "mode", "?"));
    printf("  active:   %s\n", active ? active : "none");
    printf("  source:   %s\n", jstr(m, "source-text", jstr(m, "source", "?")));
    if (json_is_true(json_object_get(m, "onboarded")))
        printf("  onboarded to a conductor: true\n");
    printf("  since:    %s\n", jstr(m, "since", "-"));
}

static void print_config(const json_t *resp)
{
    json_t *c = json_object_get(resp, "config");
    json_t *mp = json_object_get(c, "management-proxy");
    printf("config %s: router %s, this node %s\n", jstr(c, "config-file", "-"), jstr(c, "router", "?"),
           jstr(resp, "node", "?"));
    printf("  management-proxy: %s, mode %s\n", json_is_true(json_object_get(mp, "enabled")) ? "enabled" : "disabled",
           jstr(mp, "mode", "?"));
    if (json_is_string(json_object_get(mp, "username")))
        printf("    username %s, password %s\n", jstr(mp, "username", "?"),
               json_is_true(json_object_get(mp, "password-set")) ? "(set)" : "(none)");
    json_t *px = json_object_get(mp, "proxies");
    for (size_t i = 0; i < json_array_size(px); i++) {
        json_t *p = json_array_get(px, i);
        json_t *port = json_object_get(p, "port");
        printf("    proxy %s address %s port %lld\n", jstr(p, "name", "?"), jstr(p, "address", "-"),
               json_is_integer(port) ? (long long)json_integer_value(port) : 0LL);
    }
    json_t *nis = json_object_get(c, "network-interfaces");
    for (size_t i = 0; i < json_array_size(nis); i++) {
        json_t *ni = json_array_get(nis, i);
        printf("  node %s device-interface %s (%s) network-interface %s: dhcp %s, enable-proxy-discovery %s\n",
               jstr(ni, "node", "?"), jstr(ni, "device-interface", "?"), jstr(ni, "ifname", "?"),
               jstr(ni, "network-interface", "?"), json_is_true(json_object_get(ni, "dhcp")) ? "v4" : "disabled",
               json_is_true(json_object_get(ni, "enable-proxy-discovery")) ? "true" : "false");
    }
    json_t *ob = json_object_get(c, "onboarding");
    if (json_is_true(json_object_get(ob, "present")))
        printf("  onboarding.json %s: mode %s, proxy %s, onboarded %s\n", jstr(ob, "file", "-"), jstr(ob, "mode", "-"),
               jstr(ob, "proxy", "none"), json_is_true(json_object_get(ob, "onboarded")) ? "true" : "false");
    else
        printf("  onboarding.json: none (onboarded %s)\n",
               json_is_true(json_object_get(ob, "onboarded")) ? "true" : "false");
    json_t *ha = json_object_get(c, "ha");
    if (json_is_true(json_object_get(ha, "enabled")))
        printf("  ha: listen %s peer %s timeout %gs\n", jstr(ha, "listen", "-"), jstr(ha, "peer", "-"),
               json_number_value(json_object_get(ha, "timeout")));
    else
        printf("  ha: off\n");
}

static void print_ha(const json_t *resp)
{
    json_t *h = json_object_get(resp, "ha");
    if (!json_is_true(json_object_get(h, "enabled"))) {
        printf("ha: off (node %s)\n", jstr(resp, "node", "?"));
        return;
    }
    json_t *ago = json_object_get(h, "peer-seen-ago-ms");
    printf("ha (router %s node %s)\n", jstr(resp, "router", "?"), jstr(resp, "node", "?"));
    printf("  listen:      %s\n  peer:        %s\n", jstr(h, "listen", "-"), jstr(h, "peer", "-"));
    printf("  peer node:   %s (%s)\n", jstr(h, "peer-node", "-"),
           json_is_true(json_object_get(h, "peer-up")) ? "up" : "down");
    if (json_is_integer(ago))
        printf("  last heard:  %lld ms ago\n", (long long)json_integer_value(ago));
    printf("  peer entries: %lld, datagrams %lld, dropped %lld, sent %lld\n",
           (long long)json_integer_value(json_object_get(h, "peer-entries")),
           (long long)json_integer_value(json_object_get(h, "datagrams")),
           (long long)json_integer_value(json_object_get(h, "dropped")),
           (long long)json_integer_value(json_object_get(h, "seq-sent")));
}

static void print_phonehome(const json_t *resp)
{
    json_t *p = json_object_get(resp, "phone-home");
    if (!json_is_true(json_object_get(p, "enabled"))) {
        printf("phone-home: off (node %s; start ssr-node with --phone-home-url)\n", jstr(resp, "node", "?"));
        return;
    }
    json_t *next = json_object_get(p, "next-retry-in-ms");
    printf("phone-home (router %s node %s)\n", jstr(resp, "router", "?"), jstr(resp, "node", "?"));
    printf("  url:       %s\n", jstr(p, "url", "-"));
    printf("  state:     %s\n", jstr(p, "state", "?"));
    printf("  proxy:     %s (active %s%s%s)\n", jstr(p, "proxy", "-"), jstr(p, "active-proxy", "none"),
           json_is_string(json_object_get(p, "proxy-user")) ? ", user " : "", jstr(p, "proxy-user", ""));
    printf("  CA:        %s\n", jstr(p, "ca-file", "system store"));
    printf("  attempts:  %lld this round, %lld in all, %lld failed, %lld succeeded\n",
           (long long)json_integer_value(json_object_get(p, "attempts")),
           (long long)json_integer_value(json_object_get(p, "attempts-total")),
           (long long)json_integer_value(json_object_get(p, "failures-total")),
           (long long)json_integer_value(json_object_get(p, "successes")));
    json_t *l = json_object_get(p, "last-result");
    if (json_is_object(l)) {
        json_t *st = json_object_get(l, "status"), *ps = json_object_get(l, "proxy-status");
        if (json_is_true(json_object_get(l, "ok")))
            printf("  last:      ok, HTTP %lld %s via %s in %lld ms, peer %s\n", (long long)json_integer_value(st),
                   jstr(l, "reason", ""), jstr(l, "proxy", "-"),
                   (long long)json_integer_value(json_object_get(l, "elapsed-ms")), jstr(l, "peer-subject", "-"));
        else
            printf("  last:      %s: %s\n", jstr(l, "class", "?"), jstr(l, "message", "-"));
        if (json_is_integer(ps) && json_integer_value(ps) != 200)
            printf("  proxy said: %lld %s%s%s\n", (long long)json_integer_value(ps), jstr(l, "proxy-reason", ""),
                   json_is_string(json_object_get(l, "squid-error")) ? ", X-Squid-Error " : "",
                   jstr(l, "squid-error", ""));
        printf("  at:        %s (attempt %lld)\n", jstr(l, "at", "-"),
               (long long)json_integer_value(json_object_get(l, "attempt")));
    }
    if (json_is_integer(next))
        printf("  next retry in %lld ms\n", (long long)json_integer_value(next));
}

/* `show onboarding`: the sZTP client (sztp.h). */
static void print_onboarding(const json_t *resp)
{
    json_t *o = json_object_get(resp, "onboarding");
    if (!json_is_true(json_object_get(o, "enabled"))) {
        printf("onboarding (sZTP): off (node %s; start ssr-node with --sztp)\n", jstr(resp, "node", "?"));
        return;
    }
    printf("onboarding (sZTP) (router %s node %s device %s)\n", jstr(resp, "router", "?"), jstr(resp, "node", "?"),
           jstr(o, "device-id", "?"));
    printf("  state:     %s (step %lld)%s\n", jstr(o, "state", "?"), (long long)json_integer_value(json_object_get(o, "step")),
           json_is_string(json_object_get(o, "request")) ? " request under way" : "");
    printf("  url:       %s\n", jstr(o, "url", "-"));
    printf("  redirect:  %s\n", jstr(o, "redirect", "-"));
    printf("  org:       %s  conductor: %s\n", jstr(o, "org", "-"), jstr(o, "conductor", "-"));
    printf("  root CA:   %s\n", jstr(o, "root-ca-file", "-"));
    printf("  secret:    %s\n", jstr(o, "secret-file", "-"));
    json_t *e = json_object_get(o, "last-error");
    if (json_is_object(e)) {
        json_t *st = json_object_get(e, "status"), *ra = json_object_get(e, "retry-after");
        char extra[64] = "";
        if (json_is_integer(st) && json_is_integer(ra))
            snprintf(extra, sizeof extra, ", HTTP %lld, retry-after %llds", (long long)json_integer_value(st),
                     (long long)json_integer_value(ra));
        else if (json_is_integer(st))
            snprintf(extra, sizeof extra, ", HTTP %lld", (long long)json_integer_value(st));
        printf("  last error: %s in %s: %s (at %s%s)\n", jstr(e, "class", "?"), jstr(e, "state", "?"),
               jstr(e, "message", "-"), jstr(e, "time", "-"), extra);
    }
    json_t *next = json_object_get(o, "next-retry-in-ms");
    if (json_is_integer(next))
        printf("  next retry in %lld ms\n", (long long)json_integer_value(next));
    if (json_is_string(json_object_get(o, "fault")))
        printf("  fault:     %s (lab fault switch)\n", jstr(o, "fault", "?"));
    json_t *rc = json_object_get(o, "recheck"), *rl = json_object_get(rc, "last");
    if (json_is_true(json_object_get(rc, "pending")))
        printf("  recheck:   due through %s (attempts %lld, failures %lld)\n", jstr(rc, "proxy", "?"),
               (long long)json_integer_value(json_object_get(rc, "attempts")),
               (long long)json_integer_value(json_object_get(rc, "failures")));
    if (json_is_object(rl))
        printf("  last recheck: %s through %s%s%s (at %s)\n", jstr(rl, "result", "?"), jstr(rl, "proxy", "?"),
               json_is_string(json_object_get(rl, "redirect")) ? ", redirect " : ", class ",
               jstr(rl, "redirect", jstr(rl, "class", "?")), jstr(rl, "time", "-"));
    json_t *h = json_object_get(o, "history"), *it;
    size_t i;
    printf("  history:\n");
    json_array_foreach(h, i, it)
        printf("    %s  %-20s -> %-20s step %lld  %s\n", jstr(it, "time", "-"), jstr(it, "from", "?"),
               jstr(it, "to", "?"), (long long)json_integer_value(json_object_get(it, "step")), jstr(it, "why", ""));
    /* the conductor steps (5..12) after the sZTP ones */
    json_t *c = json_object_get(o, "conductor-client");
    if (!json_is_true(json_object_get(c, "enabled")))
        return;
    printf("conductor (steps 5-12): %s (step %lld)%s%s\n", jstr(c, "state", "?"),
           (long long)json_integer_value(json_object_get(c, "step")),
           json_is_string(json_object_get(c, "conductor")) ? ", conductor " : "", jstr(c, "conductor", ""));
    json_t *ce = json_object_get(c, "last-error");
    if (json_is_object(ce))
        printf("  last error: %s in %s: %s (at %s)\n", jstr(ce, "class", "?"), jstr(ce, "state", "?"),
               jstr(ce, "message", "-"), jstr(ce, "time", "-"));
    json_t *cn = json_object_get(c, "next-retry-in-ms");
    if (json_is_integer(cn))
        printf("  next retry in %lld ms\n", (long long)json_integer_value(cn));
    printf("  history:\n");
    json_array_foreach(json_object_get(c, "history"), i, it)
        printf("    %s  %-20s -> %-20s step %lld  %s\n", jstr(it, "time", "-"), jstr(it, "from", "?"),
               jstr(it, "to", "?"), (long long)json_integer_value(json_object_get(it, "step")), jstr(it, "why", ""));
}

static void print_list(const char *label, json_t *arr)
{
    json_t *it;
    size_t i;
    printf("  %-13s", label);
    if (!json_array_size(arr))
        printf(" -");
    json_array_foreach(arr, i, it)
        printf(" %s", json_string_value(it) ? json_string_value(it) : "?");
    putchar('\n');
}

/* `show conductor` (and the answer of `migrate conductor`). */
static void print_conductor(const json_t *resp, const char *key)
{
    json_t *c = json_object_get(resp, key);
    if (!json_is_true(json_object_get(c, "enabled"))) {
        printf("conductor: off (node %s; the conductor client runs after sZTP: start ssr-node with --sztp)\n",
               jstr(resp, "node", "?"));
        return;
    }
    printf("conductor (router %s node %s identity %s)\n", jstr(resp, "router", "?"), jstr(resp, "node", "?"),
           jstr(c, "identity", "?"));
    printf("  state:        %s (step %lld)%s\n", jstr(c, "state", "?"),
           (long long)json_integer_value(json_object_get(c, "step")),
           json_is_string(json_object_get(c, "request")) ? " request under way" : "");
    printf("  role:         %s\n", jstr(c, "role", "-"));
    printf("  conductor:    %s (session %s%s%s)\n", jstr(c, "conductor", "-"), jstr(c, "session", "-"),
           json_is_string(json_object_get(c, "proxy")) ? ", via proxy " : "", jstr(c, "proxy", ""));
    printf("  staging:      %s\n", jstr(c, "staging", "-"));
    print_list("production:", json_object_get(c, "production"));
    if (json_array_size(json_object_get(c, "target")))
        print_list("migrate to:", json_object_get(c, "target"));
    if (json_is_string(json_object_get(c, "migrated-by")))
        printf("  migrated by:  %s\n", jstr(c, "migrated-by", "-"));
    if (json_is_string(json_object_get(c, "connected-since")))
        printf("  connected:    %s since %s, %lld heartbeats (last %s)\n", jstr(c, "connected", "-"),
               jstr(c, "connected-since", "-"), (long long)json_integer_value(json_object_get(c, "heartbeats")),
               jstr(c, "last-heartbeat", "-"));
    json_t *cert = json_object_get(c, "certificate");
    if (json_is_object(cert))
        printf("  certificate:  serial %s, %s, until %s (%s)\n", jstr(cert, "serial", "-"), jstr(cert, "subject", "-"),
               jstr(cert, "not-after", "-"), jstr(cert, "file", "-"));
    else
        printf("  certificate:  none\n");
    json_t *hub = json_object_get(c, "hub");
    if (json_is_object(hub)) {
        printf("  hub peering:  %s with %s (%s) as %s, direct%s%s\n", jstr(hub, "state", "?"),
               jstr(hub, "hub-name", "?"), jstr(hub, "hub", "?"), jstr(hub, "identity", "?"),
               json_is_string(json_object_get(hub, "peered-since")) ? ", since " : "", jstr(hub, "peered-since", ""));
        json_t *lf = json_object_get(hub, "last-failure");
        if (json_is_object(lf))
            printf("                last failure: %s: %s (at %s)\n", jstr(lf, "class", "?"), jstr(lf, "detail", "-"),
                   jstr(lf, "time", "-"));
    } else {
        printf("  hub peering:  none\n");
    }
    json_t *e = json_object_get(c, "last-error");
    if (json_is_object(e))
        printf("  last error:   %s in %s: %s (conductor %s, at %s)\n", jstr(e, "class", "?"), jstr(e, "state", "?"),
               jstr(e, "message", "-"), jstr(e, "conductor", "-"), jstr(e, "time", "-"));
    json_t *next = json_object_get(c, "next-retry-in-ms");
    if (json_is_integer(next))
        printf("  next retry in %lld ms\n", (long long)json_integer_value(next));
}

/* `fetch`: the answer's status and peer on stderr, the body on stdout. */
static int print_fetch(const json_t *resp)
{
    json_t *f = json_object_get(resp, "fetch");
    if (!json_is_true(json_object_get(resp, "ok"))) {
        fprintf(stderr, "ssr-cli: fetch %s via proxy %s failed: %s\n", jstr(f, "url", "?"), jstr(f, "proxy", "?"),
                jstr(resp, "error", "error"));
        return 1;
    }
    fprintf(stderr, "HTTP %lld %s (via proxy %s, %s, peer %s, %lld ms)\n",
            (long long)json_integer_value(json_object_get(f, "status")), jstr(f, "reason", ""), jstr(f, "proxy", "?"),
            jstr(f, "tls-version", "?"), jstr(f, "peer-subject", "?"),
            (long long)json_integer_value(json_object_get(f, "elapsed-ms")));
    json_t *body = json_object_get(f, "body");
    if (json_is_string(body))
        fwrite(json_string_value(body), 1, json_string_length(body), stdout);
    else if (json_is_string(json_object_get(f, "body-base64")))
        fprintf(stderr, "(binary body of %lld bytes: use --json for its base64)\n",
                (long long)json_integer_value(json_object_get(f, "body-bytes")));
    return 0;
}

/* --ctl, then --node, then $SSR_CTL, then the only socket in CTL_DEFAULT_DIR. */
static int resolve_path(const char *ctl, const char *node, char *out, size_t cap)
{
    const char *env = getenv("SSR_CTL");
    if (ctl)
        snprintf(out, cap, "%s", ctl);
    else if (node)
        ctl_default_path(node, out, cap);
    else if (env && *env)
        snprintf(out, cap, "%s", env);
    else {
        glob_t g;
        int r = glob(CTL_DEFAULT_DIR "/ssr-*.sock", 0, NULL, &g);
        if (r != 0 || g.gl_pathc == 0) {
            if (r == 0)
                globfree(&g);
            fprintf(stderr, "ssr-node is not running (no control socket in %s; use --ctl PATH)\n", CTL_DEFAULT_DIR);
            return 1;
        }
        if (g.gl_pathc > 1) {
            fprintf(stderr, "ssr-cli: %zu control sockets in %s: pick one with --node NAME or --ctl PATH\n",
                    (size_t)g.gl_pathc, CTL_DEFAULT_DIR);
            globfree(&g);
            return 2;
        }
        snprintf(out, cap, "%s", g.gl_pathv[0]);
        globfree(&g);
    }
    return 0;
}

static bool valid_addrport(const char *s)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = strrchr(s, ':');
    struct in_addr a;
    if (!colon || (size_t)(colon - s) >= sizeof ip)
        return false;
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    if (inet_pton(AF_INET, ip, &a) != 1)
        return false;
    char *end;
    if (colon[1] < '1' || colon[1] > '9')
        return false;
    unsigned long p = strtoul(colon + 1, &end, 10);
    return *end == '\0' && p >= 1 && p <= 65535;
}

static bool wait_holds(const json_t *resp, const char *want, bool none)
{
    const json_t *m = json_object_get(resp, "management-proxy");
    const char *active = json_string_value(json_object_get(m, "active"));
    if (none)
        return active == NULL;
    if (want)
        return active && strcmp(active, want) == 0;
    return active != NULL;
}

static void print_state_line(FILE *f, const json_t *resp)
{
    const json_t *m = json_object_get(resp, "management-proxy");
    const char *active = json_string_value(json_object_get(m, "active"));
    fprintf(f, "management-proxy on %s: active %s, source %s\n", jstr(resp, "node", "?"), active ? active : "none",
            jstr(m, "source-text", "?"));
}

static int do_wait(const char *path, const char *want, bool none, unsigned timeout_s, bool json_out)
{
    uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000u;
    json_t *last = NULL;
    char msg[512] = "";
    int last_rc = REQ_NOT_RUNNING;
    for (;;) {
        json_t *resp;
        int rc = ctl_request(path, "{\"cmd\":\"show\",\"what\":\"management-proxy\"}", &resp, msg, sizeof msg);
        last_rc = rc;
        if (rc == REQ_OK && json_is_true(json_object_get(resp, "ok"))) {
            json_decref(last);
            last = resp;
            if (wait_holds(resp, want, none)) {
                if (json_out) {
                    json_dumpf(resp, stdout, JSON_INDENT(2));
                    putchar('\n');
                } else
                    print_state_line(stdout, resp);
                json_decref(last);
                return 0;
            }
        } else {
            json_decref(resp);
        }
        if (mono_ms() >= deadline)
            break;
        usleep(WAIT_POLL_MS * 1000);
    }
    fprintf(stderr, "ssr-cli: timed out after %us waiting for management-proxy %s%s\n", timeout_s,
            none ? "none" : want ? "active " : "active", none ? "" : want ? want : "");
    if (last) {
        if (json_out) {
            json_dumpf(last, stdout, JSON_INDENT(2));
            putchar('\n');
        } else
            print_state_line(stdout, last);
        json_decref(last);
    } else if (last_rc != REQ_OK) {
        fprintf(stderr, "%s\n", msg);
    }
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ctl", required_argument, NULL, 'C'},     {"node", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},          {"active", required_argument, NULL, 'a'},
        {"none", no_argument, NULL, 'N'},          {"timeout", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'c'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ctl = NULL, *node = NULL, *want = NULL, *ca = NULL;
    bool json_out = false, none = false, have_timeout = false;
    unsigned timeout_s = 10;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'C': ctl = optarg; break;
        case 'n': node = optarg; break;
        case 'j': json_out = true; break;
        case 'a':
            if (!valid_addrport(optarg))
                return usage("--active \"%s\": expected IPv4:PORT", optarg);
            want = optarg;
            break;
        case 'N': none = true; break;
        case 'c': ca = optarg; break;
        case 't': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || v < 1 || v > 3600)
                return usage("--timeout \"%s\": expected 1..3600 seconds", optarg);
            timeout_s = (unsigned)v;
            have_timeout = true;
            break;
        }
        case 'h': fputs(USAGE, stdout); return 0;
        default: return usage("bad option \"%s\"", argv[optind - 1]);
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1)
        return usage("%s", "missing command");
    if (ctl && node)
        return usage("%s", "--ctl and --node are exclusive");

    const char *what = NULL, *fetch_url = NULL;
    bool is_wait = false, is_migrate = false;
    if (strcmp(args[0], "show") == 0) {
        if (nargs == 3 && strcmp(args[1], "dhcp") == 0 && strcmp(args[2], "learned-proxies") == 0)
            what = "dhcp learned-proxies";
        else if (nargs == 2 && (strcmp(args[1], "management-proxy") == 0 || strcmp(args[1], "config") == 0 ||
                                strcmp(args[1], "ha") == 0 || strcmp(args[1], "phone-home") == 0 ||
                                strcmp(args[1], "onboarding") == 0 || strcmp(args[1], "conductor") == 0))
            what = args[1];
        else
            return usage("%s", "unknown show command");
    } else if (strcmp(args[0], "wait") == 0) {
        if (nargs != 2 || strcmp(args[1], "management-proxy") != 0)
            return usage("%s", "expected: wait management-proxy");
        is_wait = true;
    } else if (strcmp(args[0], "migrate") == 0) {
        if (nargs < 3 || nargs > 4 || strcmp(args[1], "conductor") != 0)
            return usage("%s", "expected: migrate conductor ADDR [ADDR]");
        is_migrate = true;
    } else if (strcmp(args[0], "fetch") == 0) {
        if (nargs != 2)
            return usage("%s", "expected: fetch https://HOST[:PORT]/PATH");
        fetch_url = args[1];
    } else {
        return usage("unknown command \"%s\"", args[0]);
    }
    if (!is_wait && (want || none || (have_timeout && !fetch_url)))
        return usage("%s", "--active and --none go with wait, --timeout with wait and fetch");
    if (ca && !fetch_url)
        return usage("%s", "--ca goes with fetch");
    if (want && none)
        return usage("%s", "--active and --none are exclusive");

    char path[108];
    int pr = resolve_path(ctl, node, path, sizeof path);
    if (pr)
        return pr;
    if (is_wait)
        return do_wait(path, want, none, timeout_s, json_out);
    if (fetch_url) {
        unsigned t_ms = (have_timeout ? timeout_s : 15) * 1000u;
        if (t_ms > 120000)
            return usage("%s", "fetch --timeout: at most 120 seconds");
        json_t *freq = json_pack("{s:s, s:s, s:i}", "cmd", "fetch", "url", fetch_url, "timeout-ms", (int)t_ms);
        if (!freq)
            return usage("%s", "the URL is not valid UTF-8");
        if (ca)
            json_object_set_new(freq, "ca-file", json_string(ca));
        char *fs = json_dumps(freq, JSON_COMPACT);
        json_decref(freq);
        json_t *fresp;
        char fmsg[512];
        int frc = ctl_request_t(path, fs, &fresp, fmsg, sizeof fmsg, t_ms + 5000);
        free(fs);
        if (frc != REQ_OK) {
            fprintf(stderr, "%s%s\n", frc == REQ_NOT_RUNNING ? "" : "ssr-cli: ", fmsg);
            return 1;
        }
        int rc;
        if (json_out) {
            json_dumpf(fresp, stdout, JSON_INDENT(2));
            putchar('\n');
            rc = json_is_true(json_object_get(fresp, "ok")) ? 0 : 1;
        } else if (!json_is_object(json_object_get(fresp, "fetch"))) {
            fprintf(stderr, "ssr-cli: ssr-node answered: %s\n", jstr(fresp, "error", "error"));
            rc = 1;
        } else {
            rc = print_fetch(fresp);
        }
        json_decref(fresp);
        return rc;
    }

    json_t *req;
    if (is_migrate) {
        json_t *list = json_array();
        for (int i = 2; i < nargs; i++)
            json_array_append_new(list, json_string(args[i]));
        req = json_pack("{s:s, s:o}", "cmd", "migrate", "conductor", list);
        what = "migrate";
    } else {
        req = json_pack("{s:s, s:s}", "cmd", "show", "what", what);
    }
    char *reqs = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_t *resp;
    char msg[512];
    int rc = ctl_request(path, reqs, &resp, msg, sizeof msg);
    free(reqs);
    if (rc != REQ_OK) {
        fprintf(stderr, "%s%s\n", rc == REQ_NOT_RUNNING ? "" : "ssr-cli: ", msg);
        return 1;
    }
    if (!json_is_true(json_object_get(resp, "ok"))) {
        fprintf(stderr, "ssr-cli: ssr-node answered: %s\n", jstr(resp, "error", "error"));
        json_decref(resp);
        return 1;
    }
    if (json_out) {
        json_dumpf(resp, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (strcmp(what, "dhcp learned-proxies") == 0)
        print_learned(resp);
    else if (strcmp(what, "management-proxy") == 0)
        print_mgmt(resp);
    else if (strcmp(what, "config") == 0)
        print_config(resp);
    else if (strcmp(what, "phone-home") == 0)
        print_phonehome(resp);
    else if (strcmp(what, "onboarding") == 0)
        print_onboarding(resp);
    else if (strcmp(what, "conductor") == 0)
        print_conductor(resp, "conductor");
    else if (strcmp(what, "migrate") == 0) {
        printf("migrate conductor: re-targeted\n");
        print_conductor(resp, "migrate");
    }
    else
        print_ha(resp);
    json_decref(resp);
    return 0;
}
