/* Expectations checked against the running lab (see expect.h). */
#include "expect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "topo.h"
#include "ztp/daemon.h"
#include "ztp/pki.h"

#define CTL_ANSWER_MAX (1024u * 1024u)

/* ---- control socket --------------------------------------------------------------------------- */

json_t *exp_ctl_show(const char *sock, const char *what, unsigned timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket path too long: %s", sock);
        return NULL;
    }
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (long)(timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "ssr-node control socket %s: %s", sock, strerror(errno));
        close(fd);
        return NULL;
    }
    json_t *req = json_pack("{s:s, s:s}", "cmd", "show", "what", what);
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t tl = strlen(txt);
    txt[tl] = '\0';
    bool ok = write(fd, txt, tl) == (ssize_t)tl && write(fd, "\n", 1) == 1;
    free(txt);
    if (!ok) {
        snprintf(err, errlen, "write to %s: %s", sock, strerror(errno));
        close(fd);
        return NULL;
    }
    shutdown(fd, SHUT_WR);
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= CTL_ANSWER_MAX)
                break;
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    json_error_t je;
    json_t *ans = json_loadb(buf, len, 0, &je);
    free(buf);
    if (!ans) {
        snprintf(err, errlen, "show %s: no valid answer (%s)", what, len ? je.text : "empty");
        return NULL;
    }
    if (!json_is_true(json_object_get(ans, "ok"))) {
        const char *e = json_string_value(json_object_get(ans, "error"));
        snprintf(err, errlen, "show %s: %s", what, e ? e : "not ok");
        json_decref(ans);
        return NULL;
    }
    return ans;
}

/* ---- logfmt and access logs ------------------------------------------------------------------ */

const char *exp_logfmt_get(const char *line, const char *key, char *dst, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = line;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        bool match = (size_t)(p - k) == kl && !strncmp(k, key, kl);
        if (*p != '=') {
            continue;
        }
        p++;
        size_t o = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    if (match && o + 2 < cap) {
                        dst[o++] = p[0];
                        dst[o++] = p[1];
                    }
                    p += 2;
                    continue;
                }
                if (match && o + 1 < cap)
                    dst[o++] = *p;
                p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ' ' && *p != '\n') {
                if (match && o + 1 < cap)
                    dst[o++] = *p;
                p++;
            }
        }
        if (match) {
            if (cap)
                dst[o] = '\0';
            return dst;
        }
    }
    return NULL;
}

static size_t next_tok(const char **p, const char *end, char *dst, size_t cap)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    size_t n = 0;
    while (*p < end && **p != ' ' && **p != '\t' && **p != '\n' && **p != '\r') {
        if (n + 1 < cap)
            dst[n] = **p;
        n++;
        (*p)++;
    }
    if (cap)
        dst[n < cap ? n : cap - 1] = '\0';
    return n;
}

int exp_squid_parse(const char *line, size_t len, struct access_rec *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = line, *end = line + len;
    char tok[512];
    /* time: digits '.' digits */
    if (!next_tok(&p, end, tok, sizeof(tok)) || !isdigit((unsigned char)tok[0]) || strspn(tok, "0123456789.") != strlen(tok))
        return -1;
    out->end = strtod(tok, NULL);
    if (!next_tok(&p, end, tok, sizeof(tok)) || strspn(tok, "0123456789-") != strlen(tok)) /* elapsed */
        return -1;
    out->elapsed_ms = strtoll(tok, NULL, 10);
    size_t n = next_tok(&p, end, tok, sizeof(tok));
    struct in_addr a;
    if (!n || n >= sizeof(out->client) || inet_pton(AF_INET, tok, &a) != 1)
        return -1;
    memcpy(out->client, tok, n + 1);
    n = next_tok(&p, end, tok, sizeof(tok));
    char *slash = n ? strchr(tok, '/') : NULL;
    if (!slash || (size_t)(slash - tok) >= sizeof(out->code))
        return -1;
    memcpy(out->code, tok, (size_t)(slash - tok));
    char *e2;
    long st = strtol(slash + 1, &e2, 10);
    if (*e2 || st < 0 || st > 999)
        return -1;
    out->status = (int)st;
    if (!next_tok(&p, end, tok, sizeof(tok)) || strspn(tok, "0123456789") != strlen(tok)) /* bytes */
        return -1;
    out->bytes = strtoull(tok, NULL, 10);
    n = next_tok(&p, end, tok, sizeof(tok));
    if (!n || n >= sizeof(out->method))
        return -1;
    memcpy(out->method, tok, n + 1);
    n = next_tok(&p, end, tok, sizeof(tok));
    if (!n)
        return -1;
    snprintf(out->url, sizeof(out->url), "%s", tok);
    n = next_tok(&p, end, tok, sizeof(tok));
    snprintf(out->user, sizeof(out->user), "%s", n ? tok : "-");
    return 0;
}

/* tinyproxy (1.11) logs, one connection at a time in a lab:
 *   CONNECT   Nov 23 14:07:22.123 [77]: Connect (file descriptor 7): 198.18.1.100
 *   CONNECT   Nov 23 14:07:22.124 [77]: Request (file descriptor 7): CONNECT ep-terminator.mistsys.net:443 HTTP/1.1
 *   INFO      Nov 23 14:07:22.125 [77]: Established connection to host "ep-terminator.mistsys.net" using file descriptor 8.
 *   NOTICE    ... Proxying refused on filtered domain "ep-terminator.mistsys.net"
 *   NOTICE    ... Unauthorized connection from "198.18.1.100" [198.18.1.100].
 * Returns 1 when a record is complete (out filled), 0 otherwise. */
int exp_tinyproxy_feed(struct tinyproxy_state *ts, const char *line, struct access_rec *out)
{
    const char *m;
    int fd;
    char buf[300];
    size_t nconn = sizeof(ts->conns) / sizeof(ts->conns[0]);
    if ((m = strstr(line, "]: Connect (file descriptor "))) {
        if (sscanf(m, "]: Connect (file descriptor %d): %15s", &fd, buf) == 2 && fd >= 0) {
            size_t i = (size_t)fd % nconn;
            ts->conns[i].fd = fd;
            snprintf(ts->conns[i].client, sizeof(ts->conns[i].client), "%s", buf);
            ts->conns[i].url[0] = '\0';
            ts->conns[0].fd = fd; /* slot 0's fd doubles as "the last connection" */
        }
        return 0;
    }
    if ((m = strstr(line, "]: Request (file descriptor "))) {
        char method[16];
        if (sscanf(m, "]: Request (file descriptor %d): %15s %299s", &fd, method, buf) == 3 && fd >= 0) {
            size_t i = (size_t)fd % nconn;
            snprintf(ts->conns[i].url, sizeof(ts->conns[i].url), "%s %s", method, buf);
            ts->conns[0].fd = fd;
        }
        return 0;
    }
    bool est = strstr(line, "Established connection to host") != NULL;
    bool refused = strstr(line, "Proxying refused on filtered domain") != NULL;
    bool unauth = (m = strstr(line, "Unauthorized connection from")) != NULL;
    if (!est && !refused && !unauth)
        return 0;
    memset(out, 0, sizeof(*out));
    size_t i = (size_t)ts->conns[0].fd % nconn;
    if (unauth) {
        const char *b = strchr(m, '[');
        if (!b || sscanf(b, "[%15[0-9.]]", out->client) != 1)
            return 0;
        snprintf(out->method, sizeof(out->method), "CONNECT");
        snprintf(out->code, sizeof(out->code), "TCP_DENIED");
        out->status = 403;
        return 1;
    }
    snprintf(out->client, sizeof(out->client), "%s", ts->conns[i].client);
    char method[16] = "", url[256] = "";
    sscanf(ts->conns[i].url, "%15s %255s", method, url);
    snprintf(out->method, sizeof(out->method), "%s", method);
    snprintf(out->url, sizeof(out->url), "%s", url);
    snprintf(out->code, sizeof(out->code), "%s", est ? "TCP_TUNNEL" : "TCP_DENIED");
    out->status = est ? 200 : 403;
    out->bytes = est ? 1000000 : 0; /* tinyproxy logs no byte counts: an established tunnel counts */
    snprintf(out->user, sizeof(out->user), "-");
    return out->client[0] ? 1 : 0;
}

/* ---- namespace addresses ----------------------------------------------------------------------- */

int exp_host_addrs(struct topo *t, struct exp_host *h)
{
    int fd = topo_socket(t, h->h->name, AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return fd;
    struct ifreq rq[32];
    struct ifconf ic = {.ifc_len = sizeof(rq), .ifc_req = rq};
    int rc = ioctl(fd, SIOCGIFCONF, &ic);
    close(fd);
    if (rc < 0)
        return -errno;
    h->n_addrs = 0;
    for (size_t i = 0; i < (size_t)ic.ifc_len / sizeof(struct ifreq) && h->n_addrs < EXP_MAX_ADDRS; i++) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&rq[i].ifr_addr;
        if (sin->sin_family != AF_INET || (ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sin->sin_addr, h->addrs[h->n_addrs++], 16);
    }
    return (int)h->n_addrs;
}

/* ---- describing ------------------------------------------------------------------------------- */

bool exp_is_absence(const struct scn_expect *x)
{
    return x->kind == EXP_NOT_LOGGED || x->kind == EXP_NO_SECRETS || x->kind == EXP_SECRET_FILES ||
           x->kind == EXP_INTERNET_DIRECT;
}

static void join_list(char *dst, size_t cap, const char *const *l, size_t n, const char *sep, const char *empty)
{
    size_t o = 0;
    dst[0] = '\0';
    if (!n) {
        snprintf(dst, cap, "%s", empty);
        return;
    }
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(dst + o, cap - o, "%s%s", i ? sep : "", l[i]);
}

static void row_text(char *dst, size_t cap, const struct scn_lp_row *r)
{
    size_t o = 0;
    dst[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < cap)                                                                               \
            o += (size_t)snprintf(dst + o, cap - o, __VA_ARGS__);                                  \
    } while (0)
    if (r->node)
        ADD("%s ", r->node);
    if (r->interface)
        ADD("%s ", r->interface);
    if (r->proxy)
        ADD("%s ", r->proxy);
    if (r->lease)
        ADD("%s ", r->lease);
    if (r->selected >= 0)
        ADD("selected=%s ", r->selected ? "true" : "false");
    if (r->discovery >= 0)
        ADD("discovery=%s ", r->discovery ? "true" : "false");
#undef ADD
    if (o && o < cap && dst[o - 1] == ' ')
        dst[o - 1] = '\0';
}

/* " (exactly N)", " (N..M lines)", " (at least N)", " (at most M)" for a counted logged/not-logged
 * item, "" for a plain regex. */
static void count_range_text(char *dst, size_t cap, const struct scn_expect *x, size_t i)
{
    int lo = x->counts ? x->counts[i] : -1, hi = x->counts_max ? x->counts_max[i] : -1;
    if (lo < 0)
        snprintf(dst, cap, "%s", "");
    else if (lo == hi)
        snprintf(dst, cap, " (exactly %d)", lo);
    else if (hi < 0)
        snprintf(dst, cap, " (at least %d)", lo);
    else if (lo == 0)
        snprintf(dst, cap, " (at most %d)", hi);
    else
        snprintf(dst, cap, " (%d..%d lines)", lo, hi);
}

void exp_describe(const struct scn_expect *x, struct exp_state *st)
{
    memset(st, 0, sizeof(*st));
    st->x = x;
    for (size_t i = 0; i < sizeof(st->fds) / sizeof(st->fds[0]); i++)
        st->fds[i] = -1;
    if (x->host)
        snprintf(st->name, sizeof(st->name), "%s %s", x->host, scn_exp_name(x->kind));
    else
        snprintf(st->name, sizeof(st->name), "%s", scn_exp_name(x->kind));
    st->fault_host = x->host;
    char l[480];
    switch (x->kind) {
    case EXP_FAILURE_REASON:
        snprintf(st->want, sizeof(st->want), "contains \"%s\"", x->value);
        break;
    case EXP_LEARNED_PROXIES: {
        size_t o = 0;
        if (!x->n_rows)
            snprintf(st->want, sizeof(st->want), "no rows");
        for (size_t i = 0; i < x->n_rows && o < sizeof(st->want); i++) {
            char r[200];
            row_text(r, sizeof(r), &x->rows[i]);
            o += (size_t)snprintf(st->want + o, sizeof(st->want) - o, "%s%s", i ? "; " : "", r);
        }
        break;
    }
    case EXP_LOGGED:
    case EXP_NOT_LOGGED: {
        size_t o = 0;
        l[0] = '\0';
        for (size_t i = 0; i < x->n_list && o < sizeof(l); i++) {
            char r[48];
            count_range_text(r, sizeof(r), x, i);
            o += (size_t)snprintf(l + o, sizeof(l) - o, "%s%s%s", i ? " | " : "", x->list[i], r);
        }
        snprintf(st->want, sizeof(st->want), "%s: %s", x->kind == EXP_LOGGED ? "lines matching" : "no line matching", l);
        break;
    }
    case EXP_CARRIED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "nobody");
        snprintf(st->want, sizeof(st->want), "CONNECTs to Mist tunnelled for: %s", l);
        break;
    case EXP_DENIED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "nobody");
        snprintf(st->want, sizeof(st->want), "CONNECTs to Mist refused for: %s", l);
        break;
    case EXP_NO_SECRETS:
        snprintf(st->want, sizeof(st->want), "no secret (the file's, the generated OCRA keys and pre-shared secrets) in "
                                             "any log, timeline.txt, capture, ssr-cli show answer, state file or summary.json");
        break;
    case EXP_SECRET_FILES:
        snprintf(st->want, sizeof(st->want), "secret files 0600 (state/secrets/ 0700), nothing in state/ writable by others");
        st->fault_host = NULL;
        break;
    case EXP_DECODED:
        join_list(l, sizeof(l), x->list, x->n_list, " | ", "");
        snprintf(st->want, sizeof(st->want), "tcpdump -vvv of pcap/%s.pcap has lines matching: %s", x->host, l);
        st->fault_host = NULL;
        break;
    case EXP_INTERNET_DIRECT:
        snprintf(st->want, sizeof(st->want), "a direct TCP connection to every Mist mock and conductor fails");
        break;
    case EXP_TPM:
        snprintf(st->want, sizeof(st->want), "its swtpm answers TPM2 commands");
        break;
    case EXP_STORED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "none");
        snprintf(st->want, sizeof(st->want), "%s (state/trust/*.pem, state/secrets/*.seal mode 0600, state/certs/*.pem)", l);
        break;
    case EXP_CERTIFICATE:
        if (!strcmp(x->value, "none"))
            snprintf(st->want, sizeof(st->want), "none (no state/certs/router.pem)");
        else
            snprintf(st->want, sizeof(st->want),
                     "valid: state/certs/router.pem chains to the conductor signing CA and root, names the node, is the "
                     "one the staging conductor issued, carries the node's key");
        break;
    case EXP_INVENTORY: {
        size_t o = 0;
        for (size_t i = 0; i < x->n_kv && o < sizeof(st->want); i++)
            o += (size_t)snprintf(st->want + o, sizeof(st->want) - o, "%s%s %s", i ? ", " : "", x->kv[i].key,
                                  x->kv[i].value);
        break;
    }
    case EXP_PEERED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "nobody");
        snprintf(st->want, sizeof(st->want), "peered: %s (every other peer down)", l);
        break;
    case EXP_PHONE_HOME:
        snprintf(st->want, sizeof(st->want), "%s", !strcmp(x->value, "ok") ? "ok (sZTP past phoning-home)"
                                                                           : "failed (sZTP failed while phoning home)");
        break;
    default:
        snprintf(st->want, sizeof(st->want), "%s", x->value ? x->value : "");
        break;
    }
}

/* ---- evaluating -------------------------------------------------------------------------------- */

static struct exp_host *find_host(struct exp_ctx *c, const char *name)
{
    for (size_t i = 0; name && i < c->n_hosts; i++)
        if (!strcmp(c->hosts[i].h->name, name))
            return &c->hosts[i];
    return NULL;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void mask_secret(const char *s, char *dst, size_t cap)
{
    size_t n = strlen(s);
    snprintf(dst, cap, "%.2s%s (%zu chars)", s, n > 2 ? "***" : "", n);
}

/* How many lines of the file match (all of them when count is non-NULL; else stop at the first). */
static bool regex_lines(const char *path, const char *re, char *errbuf, size_t errcap, bool *found, unsigned *count)
{
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char m[128];
        regerror(rc, &rx, m, sizeof(m));
        snprintf(errbuf, errcap, "bad regex /%s/: %s", re, m);
        return false;
    }
    *found = false;
    FILE *f = fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        if (count)
            *count = 0;
        while ((count || !*found) && (n = getline(&line, &cap, f)) >= 0) {
            if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = '\0'; /* so that $ anchors at the end of the line */
            if (regexec(&rx, line, 0, NULL, 0) == 0) {
                *found = true;
                if (count)
                    (*count)++;
            }
        }
        free(line);
        fclose(f);
    }
    regfree(&rx);
    return true;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t nl = strlen(needle);
    char buf[65536 + 256];
    size_t keep = 0;
    bool found = false;
    for (;;) {
        size_t n = fread(buf + keep, 1, 65536, f);
        if (!n)
            break;
        if (memmem(buf, keep + n, needle, nl)) {
            found = true;
            break;
        }
        size_t tot = keep + n;
        keep = nl - 1 < tot ? nl - 1 : tot;
        if (keep > 255)
            keep = 255;
        memmove(buf, buf + tot - keep, keep);
    }
    fclose(f);
    return found;
}

/* A CONNECT target "host:port" naming an ep-terminator or a mist host. */
static bool is_mist_url(const struct scenario *s, const char *url)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", url);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    return scenario_is_cloud_name(s, host);
}

static const char *node_of_addr(struct exp_ctx *c, const char *ip)
{
    for (size_t i = 0; i < c->n_hosts; i++)
        if (c->hosts[i].h->kind == SCN_SSR_NODE)
            for (size_t j = 0; j < c->hosts[i].n_addrs; j++)
                if (!strcmp(c->hosts[i].addrs[j], ip))
                    return c->hosts[i].h->name;
    return NULL;
}

/* carried / denied: which nodes had CONNECTs to a Mist name tunnelled (status 200) or refused (4xx). */
static void eval_proxy_log(struct exp_ctx *c, struct exp_state *st, struct exp_host *ph, double now)
{
    (void)now;
    const struct scn_expect *x = st->x;
    bool denied = x->kind == EXP_DENIED;
    for (size_t i = 0; i < c->n_hosts; i++)
        if (c->hosts[i].h->kind == SCN_SSR_NODE)
            exp_host_addrs(c->topo, &c->hosts[i]);
    const char *names[32];
    unsigned counts[32];
    size_t n = 0;
    unsigned total = 0;
    FILE *f = ph->access_log[0] ? fopen(ph->access_log, "r") : NULL;
    struct tinyproxy_state *tps = ph->h->impl == SCN_IMPL_TINYPROXY ? calloc(1, sizeof(*tps)) : NULL;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        if (tps && ph->access_from > 0)
            fseek(f, ph->access_from, SEEK_SET);
        while ((len = getline(&line, &cap, f)) >= 0) {
            struct access_rec r;
            if (tps ? exp_tinyproxy_feed(tps, line, &r) != 1 : exp_squid_parse(line, (size_t)len, &r) < 0)
                continue;
            if (strcmp(r.method, "CONNECT") != 0 || !is_mist_url(c->s, r.url))
                continue;
            /* a tunnel belongs to the step it started in */
            if (!tps && r.end > 0 && r.end - (double)r.elapsed_ms / 1000.0 < ph->access_since)
                continue;
            /* carried: the tunnel moved data, not only the proxy's own 39-byte "200 Connection
             * established" (an attempt the router abandoned when it switched proxies) */
            bool hit = denied ? (r.status >= 400 && r.status < 500) : (r.status == 200 && r.bytes > EXP_TUNNEL_MIN_BYTES);
            if (!hit)
                continue;
            total++;
            const char *who = node_of_addr(c, r.client);
            char *unknown = NULL;
            if (!who)
                who = unknown = strdup(r.client);
            size_t k;
            for (k = 0; k < n; k++)
                if (!strcmp(names[k], who))
                    break;
            if (k == n && n < 32) {
                names[n] = unknown ? unknown : who;
                counts[n++] = 0;
                unknown = NULL;
            }
            if (k < 32)
                counts[k]++;
            free(unknown);
        }
        free(line);
        fclose(f);
    }
    free(tps);
    /* exact set equality */
    bool pass = true;
    for (size_t i = 0; i < x->n_list; i++) {
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen |= !strcmp(names[k], x->list[i]);
        pass &= seen;
    }
    for (size_t k = 0; k < n; k++) {
        bool listed = false;
        for (size_t i = 0; i < x->n_list; i++)
            listed |= !strcmp(names[k], x->list[i]);
        pass &= listed;
    }
    size_t o = 0;
    if (!ph->access_log[0])
        o += (size_t)snprintf(st->got, sizeof(st->got), "no access log for impl %s", scn_impl_name(ph->h->impl));
    else if (!n)
        o += (size_t)snprintf(st->got, sizeof(st->got), "nobody (no %s CONNECT to Mist in %s)",
                              denied ? "refused" : "tunnelled", ph->access_log);
    for (size_t k = 0; k < n && o < sizeof(st->got); k++)
        o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s (%u)", k ? ", " : "", names[k], counts[k]);
    for (size_t k = 0; k < n; k++) {
        bool is_node = false;
        for (size_t i = 0; i < c->n_hosts; i++)
            is_node |= names[k] == c->hosts[i].h->name;
        if (!is_node)
            free((char *)(uintptr_t)names[k]);
    }
    (void)total;
    st->pass = pass;
}

static void eval_direct(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now_rel)
{
    (void)eh;
    if (!st->started) {
        st->started = now_rel > 0 ? now_rel : 1e-9;
        st->n_fds = 0;
        st->got[0] = '\0';
        for (size_t i = 0; i < c->s->n_hosts; i++) {
            const struct scn_host *h = &c->s->hosts[i];
            if (h->kind != SCN_EP_TERMINATOR && h->kind != SCN_MIST && h->kind != SCN_CONDUCTOR)
                continue;
            unsigned port = h->kind == SCN_CONDUCTOR ? h->cond.port : h->cloud.port;
            for (size_t j = 0; j < h->n_ifs && st->n_fds < sizeof(st->fds) / sizeof(st->fds[0]); j++) {
                char ip[INET_ADDRSTRLEN];
                scn_iface_ip(&h->ifs[j], ip, sizeof(ip));
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
                inet_pton(AF_INET, ip, &sa.sin_addr);
                int fd = topo_socket(c->topo, st->x->host, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                size_t o = strlen(st->got);
                if (fd < 0) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%ssocket in %s: %s; ", "", st->x->host, strerror(-fd));
                    continue;
                }
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%s:%u connected; ", ip, port);
                    close(fd);
                    continue;
                }
                if (errno != EINPROGRESS) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%s:%u %s; ", ip, port, strerror(errno));
                    close(fd);
                    continue;
                }
                snprintf(st->targets[st->n_fds], sizeof(st->targets[0]), "%s:%u", ip, port);
                st->fds[st->n_fds++] = fd;
            }
        }
    }
    double waited = (now_rel - st->started) * 1000.0;
    for (size_t i = 0; i < st->n_fds; i++) {
        if (st->fds[i] < 0)
            continue;
        struct pollfd p = {.fd = st->fds[i], .events = POLLOUT};
        if (poll(&p, 1, 0) <= 0) {
            if (waited < EXP_DIRECT_TIMEOUT_MS)
                continue;
            size_t o = strlen(st->got);
            snprintf(st->got + o, sizeof(st->got) - o, "%s: no answer within %d ms; ", st->targets[i],
                     EXP_DIRECT_TIMEOUT_MS);
        } else {
            int e = 0;
            socklen_t el = sizeof(e);
            getsockopt(st->fds[i], SOL_SOCKET, SO_ERROR, &e, &el);
            size_t o = strlen(st->got);
            snprintf(st->got + o, sizeof(st->got) - o, "%s: %s; ", st->targets[i], e ? strerror(e) : "CONNECTED");
        }
        close(st->fds[i]);
        st->fds[i] = -1;
    }
    bool open_left = false;
    for (size_t i = 0; i < st->n_fds; i++)
        open_left |= st->fds[i] >= 0;
    if (open_left)
        return; /* not decided yet */
    st->final = true;
    st->pass = !strstr(st->got, "connected") && !strstr(st->got, "CONNECTED") && !strstr(st->got, "socket in");
    size_t l = strlen(st->got);
    if (l >= 2 && st->got[l - 2] == ';')
        st->got[l - 2] = '\0';
    if (!st->got[0])
        snprintf(st->got, sizeof(st->got), "no ep-terminator or mist host to try");
}

/* no-secrets: no secret of the scenario file nor any the run generated (OCRA keys, pre-shared
 * secrets) in logs/, the proxies' access logs, timeline.txt, the captures (pcap/: the raw bytes, and
 * tcpdump's decodes), what `ssr-cli show` answered at the end (HOST/show/), every router node's
 * state/ tree (its JSON files, and the sealed blobs: a sealed secret is not its plain text), and the
 * summary about to be written. Each secret is looked for as written, and a hex secret (OCRA keys,
 * pre-shared secrets) also as the bytes it encodes. HTTP Basic credentials (`Authorization: Basic
 * B64`, `Proxy-Authorization: Basic B64`) are decoded wherever they appear: a secret inside one is a
 * finding, except a proxy password inside a capture: the router sends it to its proxy in every
 * CONNECT in a Proxy-Authorization header, base64 and unencrypted (the CONNECT precedes TLS), by
 * design of HTTP Basic authentication. Those are counted in `got`, never failed. */
#define SECRET_FILE_MAX (256u * 1024u * 1024u)

struct sec_file {
    char *path;
    bool pcap;                    /* a capture: a proxy password in Basic credentials is by design */
};

static void sec_add(struct sec_file **fs, size_t *n, size_t *cap, const char *path, bool pcap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct sec_file *nf = realloc(*fs, *cap * sizeof(**fs));
        if (!nf)
            return;
        *fs = nf;
    }
    (*fs)[*n].path = strdup(path);
    (*fs)[*n].pcap = pcap;
    if ((*fs)[*n].path)
        (*n)++;
}

/* every regular file under dir (depth-bounded), no symlinks followed */
static void sec_add_tree(struct sec_file **fs, size_t *n, size_t *cap, const char *dir, int depth, bool pcap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode) && depth > 0)
            sec_add_tree(fs, n, cap, p, depth - 1, pcap);
        else if (S_ISREG(sb.st_mode))
            sec_add(fs, n, cap, p, pcap);
    }
    if (d)
        closedir(d);
}

static int hexval(int ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* A hex secret of at least 16 digits: its bytes into out (cap >= strlen/2). Returns the length or 0. */
static size_t hex_bytes(const char *s, unsigned char *out, size_t cap)
{
    size_t l = strlen(s);
    if (l < 16 || l % 2 || l / 2 > cap)
        return 0;
    for (size_t i = 0; i < l; i += 2) {
        int a = hexval((unsigned char)s[i]), b = hexval((unsigned char)s[i + 1]);
        if (a < 0 || b < 0)
            return 0;
        out[i / 2] = (unsigned char)(a * 16 + b);
    }
    return l / 2;
}

/* True when sec is a proxy password of the scenario (proxy users, a node's proxy-auth, a
 * `management-proxy password` config line). */
static bool is_proxy_password(const struct scenario *s, const char *sec)
{
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        for (size_t k = 0; k < h->proxy.n_users; k++)
            if (h->proxy.users[k].password && !strcmp(h->proxy.users[k].password, sec))
                return true;
        if (h->kind != SCN_SSR_NODE)
            continue;
        if (h->node.proxy_password && !strcmp(h->node.proxy_password, sec))
            return true;
        const char *cf = h->node.config, *k = cf ? strstr(cf, "management-proxy password ") : NULL;
        if (k) {
            k += strlen("management-proxy password ");
            size_t l = strcspn(k, " \t\r\n");
            if (l == strlen(sec) && !strncmp(k, sec, l))
                return true;
        }
    }
    return false;
}

/* Decode one base64 token (stops at the first character that is not base64). Returns the length. */
static size_t b64_decode(const char *in, size_t inlen, unsigned char *out, size_t cap)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0, bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < inlen && o < cap; i++) {
        const char *p = in[i] ? strchr(tab, in[i]) : NULL;
        if (!p)
            break;
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static void eval_secrets(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)eh;
    (void)now;
    const struct scenario *s = c->s;
    size_t nsec = s->n_secrets + c->n_secrets;
    struct sec_file *fs = NULL;
    size_t n = 0, cap = 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/logs", c->artifacts);
    sec_add_tree(&fs, &n, &cap, dir, 0, false);
    for (size_t i = 0; i < c->n_hosts; i++)
        if (c->hosts[i].access_log[0])
            sec_add(&fs, &n, &cap, c->hosts[i].access_log, false);
    snprintf(dir, sizeof(dir), "%s/timeline.txt", c->artifacts);
    sec_add(&fs, &n, &cap, dir, false);
    snprintf(dir, sizeof(dir), "%s/pcap", c->artifacts);
    sec_add_tree(&fs, &n, &cap, dir, 0, true);
    size_t npcap = n;
    for (size_t i = 0; i < c->n_hosts; i++) {
        if (c->hosts[i].h->kind != SCN_SSR_NODE)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s/show", c->artifacts, c->hosts[i].h->name);
        sec_add_tree(&fs, &n, &cap, dir, 0, false);
        if (c->hosts[i].state_dir[0])
            sec_add_tree(&fs, &n, &cap, c->hosts[i].state_dir, 3, false);
    }
    size_t ncap = 0, nshow = 0, nstate = 0;
    for (size_t i = 0; i < n; i++) {
        ncap += strstr(fs[i].path, "/pcap/") != NULL;
        nshow += strstr(fs[i].path, "/show/") != NULL;
        nstate += strstr(fs[i].path, "/state/") != NULL;
    }
    (void)npcap;
    st->pass = true;
    unsigned basic_by_design = 0;
    char where[PATH_MAX + 64] = "";
    const char *found = NULL;
    for (size_t i = 0; i < n && st->pass; i++) {
        char *buf = NULL;
        size_t len = 0;
        if (read_file_max(fs[i].path, SECRET_FILE_MAX, &buf, &len) < 0)
            continue;
        const char *rel = !strncmp(fs[i].path, c->artifacts, strlen(c->artifacts)) ? fs[i].path + strlen(c->artifacts) + 1
                                                                                    : fs[i].path;
        for (size_t k = 0; k < nsec && !found; k++) {
            const char *sec = k < s->n_secrets ? s->secrets[k] : c->secrets[k - s->n_secrets];
            unsigned char raw[128];
            size_t rl = hex_bytes(sec, raw, sizeof(raw));
            if (memmem(buf, len, sec, strlen(sec))) {
                found = sec;
                snprintf(where, sizeof(where), "%s", rel);
            } else if (rl && memmem(buf, len, raw, rl)) {
                found = sec;
                snprintf(where, sizeof(where), "%s (as the bytes its hex encodes)", rel);
            }
        }
        /* Basic credentials, wherever they are */
        for (size_t off = 0; !found && off + 20 < len;) {
            const char *hit = memmem(buf + off, len - off, "uthorization: Basic ", 20);
            if (!hit) {
                hit = memmem(buf + off, len - off, "uthorization: basic ", 20);
                if (!hit)
                    break;
            }
            const char *tok = hit + 20;
            unsigned char dec[512];
            size_t dl = b64_decode(tok, len - (size_t)(tok - buf), dec, sizeof(dec) - 1);
            dec[dl] = 0;
            bool proxy_pw = false;
            for (size_t k = 0; k < nsec && !found; k++) {
                const char *sec = k < s->n_secrets ? s->secrets[k] : c->secrets[k - s->n_secrets];
                if (!memmem(dec, dl, sec, strlen(sec)))
                    continue;
                if (fs[i].pcap && is_proxy_password(s, sec)) {
                    proxy_pw = true;
                    continue;
                }
                found = sec;
                snprintf(where, sizeof(where), "%s (base64 in an Authorization: Basic header)", rel);
            }
            basic_by_design += proxy_pw;
            off = (size_t)(tok - buf);
        }
        free(buf);
        if (found)
            st->pass = false;
    }
    if (!found && c->summary_text) {
        for (size_t k = 0; k < nsec && !found; k++) {
            const char *sec = k < s->n_secrets ? s->secrets[k] : c->secrets[k - s->n_secrets];
            if (strstr(c->summary_text, sec)) {
                found = sec;
                snprintf(where, sizeof(where), "summary.json");
                st->pass = false;
            }
        }
    }
    if (found) {
        char m[64];
        mask_secret(found, m, sizeof(m));
        snprintf(st->got, sizeof(st->got), "secret %s found in %s", m, where);
        st->fault_host = NULL;
    } else {
        size_t o = (size_t)snprintf(st->got, sizeof(st->got),
                                    "none found in logs/, the access logs, timeline.txt, %zu capture files (raw bytes), %zu "
                                    "ssr-cli show answers, %zu state files%s (%zu secrets, hex ones also as bytes)",
                                    ncap, nshow, nstate, c->summary_text ? " and summary.json" : "", nsec);
        if (basic_by_design && o < sizeof(st->got))
            snprintf(st->got + o, sizeof(st->got) - o,
                     "; %u Proxy-Authorization: Basic headers in the captures carry the proxy password (HTTP Basic to "
                     "the proxy, before TLS: by design)",
                     basic_by_design);
    }
    for (size_t i = 0; i < n; i++)
        free(fs[i].path);
    free(fs);
}

/* secret-files: every router node's state/secrets/ is 0700 and each file in it a regular file of
 * mode 0600; nothing under its state/ is writable by group or others; the files the lab writes
 * with secrets in them (router.conf, onboarding.json, a mist host's registry.json, a conductor's
 * conductor.json, a mock proxy's users) are 0600. */
static void check_mode(const char *path, unsigned want, unsigned forbid, bool need, char *bad, size_t cap, unsigned *n)
{
    struct stat sb;
    if (lstat(path, &sb) < 0) {
        if (need && !bad[0])
            snprintf(bad, cap, "%s: missing", path);
        return;
    }
    (*n)++;
    unsigned m = (unsigned)(sb.st_mode & 07777);
    if (bad[0])
        return;
    if (want && m != want)
        snprintf(bad, cap, "%s has mode %04o, not %04o", path, m, want);
    else if (m & forbid)
        snprintf(bad, cap, "%s has mode %04o (writable by group or others)", path, m);
}

static void check_tree_modes(const char *dir, int depth, char *bad, size_t cap, unsigned *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) && !bad[0]) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        bool secrets = strlen(dir) >= 8 && !strcmp(dir + strlen(dir) - 8, "/secrets");
        struct stat sb;
        if (lstat(p, &sb) < 0)
            continue;
        if (secrets && de->d_name[0] != '.' && !S_ISREG(sb.st_mode)) {
            snprintf(bad, cap, "%s is not a regular file", p);
            break;
        }
        check_mode(p, secrets && de->d_name[0] != '.' ? 0600 : 0, 0022, false, bad, cap, n);
        if (S_ISDIR(sb.st_mode) && depth > 0)
            check_tree_modes(p, depth - 1, bad, cap, n);
    }
    if (d)
        closedir(d);
}

static void eval_secret_files(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)eh;
    (void)now;
    char bad[PATH_MAX + 96] = "", p[PATH_MAX + 32];
    unsigned n = 0, nsealed = 0;
    for (size_t i = 0; i < c->n_hosts; i++) {
        const struct scn_host *h = c->hosts[i].h;
        const char *lab_secret[3] = {NULL, NULL, NULL};
        switch (h->kind) {
        case SCN_SSR_NODE:
            lab_secret[0] = "router.conf";
            if (h->node.onboarding)
                lab_secret[1] = "onboarding.json";
            if (c->hosts[i].state_dir[0]) {
                snprintf(p, sizeof(p), "%s/secrets", c->hosts[i].state_dir);
                struct stat sb;
                if (lstat(p, &sb) == 0) {
                    check_mode(p, 0700, 0, false, bad, sizeof(bad), &n);
                    DIR *d = opendir(p);
                    struct dirent *de;
                    while (d && (de = readdir(d)))
                        nsealed += de->d_name[0] != '.';
                    if (d)
                        closedir(d);
                }
                check_tree_modes(c->hosts[i].state_dir, 3, bad, sizeof(bad), &n);
            }
            break;
        case SCN_MIST: lab_secret[0] = "registry.json"; break;
        case SCN_CONDUCTOR: lab_secret[0] = "conductor.json"; break;
        case SCN_PROXY:
            if (h->impl == SCN_IMPL_MOCK && h->proxy.n_users)
                lab_secret[0] = "users";
            break;
        default: break;
        }
        for (size_t k = 0; k < 2 && lab_secret[k]; k++) {
            snprintf(p, sizeof(p), "%s/%s/%s", c->artifacts, h->name, lab_secret[k]);
            check_mode(p, 0600, 0, false, bad, sizeof(bad), &n);
        }
    }
    st->pass = !bad[0];
    if (bad[0]) {
        const char *rel = !strncmp(bad, c->artifacts, strlen(c->artifacts)) ? bad + strlen(c->artifacts) + 1 : bad;
        snprintf(st->got, sizeof(st->got), "%s", rel);
    } else {
        snprintf(st->got, sizeof(st->got),
                 "%u sealed secret files 0600 in 0700 state/secrets/, nothing in state/ writable by others, the lab's "
                 "secret-bearing files 0600 (%u paths checked)",
                 nsealed, n);
    }
}

/* decoded: tcpdump's verbose decode of the segment's capture so far (pcap/SEG.txt), then regexes */
static void eval_decoded(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)eh;
    (void)now;
    const struct scn_expect *x = st->x;
    if (c->unprivileged) {
        st->skipped = true;
        st->pass = false;
        snprintf(st->got, sizeof(st->got),
                 "not checked: tcpdump cannot run in the lab's user namespace (it insists on switching users); run as root");
        return;
    }
    char pcap[PATH_MAX], txt[PATH_MAX], err[256];
    snprintf(pcap, sizeof(pcap), "%s/pcap/%s.pcap", c->artifacts, x->host);
    snprintf(txt, sizeof(txt), "%s/pcap/%s.txt", c->artifacts, x->host);
    unlink(txt);
    char *argv[] = {"tcpdump", "-r", pcap, "-n", "-vvv", NULL};
    struct proc_spec ps = {.name = "tcpdump -r", .argv = argv, .log_path = txt};
    int rc = proc_run(&ps, 5000, err, sizeof(err));
    if (rc < 0) {
        snprintf(st->got, sizeof(st->got), "%s", err);
        st->pass = false;
        return;
    }
    st->pass = true;
    size_t o = 0;
    for (size_t i = 0; i < x->n_list; i++) {
        bool found = false;
        char e[200] = "";
        if (!regex_lines(txt, x->list[i], e, sizeof(e), &found, NULL)) {
            snprintf(st->got, sizeof(st->got), "%s", e);
            st->pass = false;
            return;
        }
        if (!found) {
            st->pass = false;
            if (o < sizeof(st->got))
                o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%sno line of pcap/%s.txt matches /%s/",
                                      o ? "; " : "", x->host, x->list[i]);
        }
    }
    if (st->pass)
        snprintf(st->got, sizeof(st->got), "every pattern matched (pcap/%s.txt)", x->host);
}

/* swtpm's control channel (SOCK.ctrl): PTM_GET_CAPABILITY answers a result code 0. It is served
 * even while a client holds the command channel. 0, or -1 with why. */
static int tpm_ctrl_answers(const char *sock, char *why, size_t cap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.ctrl", sock) >= sizeof(sa.sun_path)) {
        snprintf(why, cap, "control socket path too long");
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    unsigned char cmd[4] = {0, 0, 0, 1}, ans[12];
    ssize_t n = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd))
        n = read(fd, ans, sizeof(ans));
    int e = errno;
    close(fd);
    if (n < 4) {
        snprintf(why, cap, "control channel %s: %s", sa.sun_path, n < 0 ? strerror(e) : "short answer");
        return -1;
    }
    if (ans[0] | ans[1] | ans[2] | ans[3]) {
        snprintf(why, cap, "control channel: PTM_GET_CAPABILITY result %02x%02x%02x%02x", ans[0], ans[1], ans[2], ans[3]);
        return -1;
    }
    return 0;
}

static void eval_tpm(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)c;
    (void)now;
    if (!eh->tpm_ok) {
        snprintf(st->got, sizeof(st->got), "swtpm did not answer TPM2_Startup at start");
        st->pass = false;
        return;
    }
    if (eh->h->node.sztp && !eh->manufactured) {
        snprintf(st->got, sizeof(st->got), "its OCRA key was not provisioned (manufacturing)");
        st->pass = false;
        return;
    }
    char why[300];
    if (tpm_ctrl_answers(eh->tpm_sock, why, sizeof(why)) < 0) {
        snprintf(st->got, sizeof(st->got), "%s", why);
        st->pass = false;
        return;
    }
    const char *made = eh->h->node.sztp ? ", OCRA key provisioned" : "";
    /* swtpm serves one client at a time, and ssr-node keeps its TPM open once sZTP used it: then
     * the node's own TPM2_HMAC answers are the proof, and only the control channel is asked. */
    if (eh->h->node.sztp && file_contains(eh->log, "event=sztp.tpm ")) {
        snprintf(st->got, sizeof(st->got),
                 "TPM2_Startup at start%s; ssr-node holds the command channel (event=sztp.tpm), the control channel answers",
                 made);
        st->pass = true;
        return;
    }
    char tcti[160];
    snprintf(tcti, sizeof(tcti), "TPM2TOOLS_TCTI=swtpm:path=%s", eh->tpm_sock);
    const char *env[] = {tcti, NULL};
    char *argv[] = {"tpm2_getrandom", "--hex", "8", NULL};
    struct proc_spec ps = {.name = "tpm2_getrandom", .argv = argv, .env = env, .log_path = NULL};
    char err[256] = "";
    int rc = proc_run(&ps, 2000, err, sizeof(err));
    st->pass = rc == 0;
    if (rc == 0)
        snprintf(st->got, sizeof(st->got), "TPM2_Startup%s and TPM2_GetRandom answered", made);
    else if (rc > 0)
        snprintf(st->got, sizeof(st->got), "tpm2_getrandom exited with %d", rc);
    else
        snprintf(st->got, sizeof(st->got), "%s", err);
}

/* stored: the names of the files in STATE/trust (*.pem) and STATE/secrets (*.seal); a sealed
 * secret must be mode 0600. */
static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void eval_stored(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)c;
    (void)now;
    const struct scn_expect *x = st->x;
    static const struct {
        const char *dir, *ext, *prefix;
        bool secret;
    } dirs[] = {{"trust", ".pem", "", false}, {"secrets", ".seal", "", true}, {"certs", ".pem", "certs/", false}};
    char *names[64];
    size_t n = 0;
    char bad[300] = "";
    for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
        char dp[PATH_MAX + 16];
        snprintf(dp, sizeof(dp), "%s/%s", eh->state_dir, dirs[k].dir);
        DIR *d = opendir(dp);
        struct dirent *de;
        while (d && (de = readdir(d)) && n < 64) {
            if (de->d_name[0] == '.')
                continue; /* ".", ".." */
            const char *tmp = strstr(de->d_name, ".tmp.");
            if (tmp && tmp[5] && strspn(tmp + 5, "0123456789") == strlen(tmp + 5)) {
                /* atomic_write_file's NAME.tmp.PID: a write that was interrupted (the process was
                 * killed between creating it and renaming it) and that nobody cleaned up */
                if (!bad[0])
                    snprintf(bad, sizeof(bad), "; %s/%s is left over from an interrupted write", dirs[k].dir, de->d_name);
                continue;
            }
            size_t l = strlen(de->d_name), el = strlen(dirs[k].ext);
            if (l > el && !strcmp(de->d_name + l - el, dirs[k].ext))
                l -= el;
            if (asprintf(&names[n], "%s%.*s", dirs[k].prefix, (int)l, de->d_name) < 0)
                continue;
            n++;
            struct stat sb;
            char fp[PATH_MAX + 300];
            snprintf(fp, sizeof(fp), "%s/%s", dp, de->d_name);
            if (dirs[k].secret && stat(fp, &sb) == 0 && (sb.st_mode & 07777) != 0600 && !bad[0])
                snprintf(bad, sizeof(bad), "; %s/%s has mode %04o, not 0600", dirs[k].dir, de->d_name,
                         (unsigned)(sb.st_mode & 07777));
        }
        if (d)
            closedir(d);
    }
    qsort(names, n, sizeof(names[0]), name_cmp);
    bool pass = n == x->n_list && !bad[0];
    for (size_t i = 0; i < x->n_list && pass; i++) {
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen |= !strcmp(names[k], x->list[i]);
        pass &= seen;
    }
    size_t o = 0;
    if (!n)
        o = (size_t)snprintf(st->got, sizeof(st->got), "none");
    for (size_t k = 0; k < n; k++) {
        if (o < sizeof(st->got))
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s", k ? ", " : "", names[k]);
        free(names[k]);
    }
    if (o < sizeof(st->got))
        snprintf(st->got + o, sizeof(st->got) - o, "%s", bad);
    st->pass = pass;
}

static bool row_matches(const struct scn_lp_row *w, json_t *r, char *gotrow, size_t cap)
{
    const char *node = jstr(r, "node"), *nif = jstr(r, "network-interface"), *addr = jstr(r, "address");
    const char *lease = jstr(r, "lease-state");
    json_t *port = json_object_get(r, "port");
    char proxy[64];
    if (addr && json_is_integer(port))
        snprintf(proxy, sizeof(proxy), "%s:%lld", addr, (long long)json_integer_value(port));
    else
        snprintf(proxy, sizeof(proxy), "none");
    int sel = json_is_true(json_object_get(r, "selected")), disc = json_is_true(json_object_get(r, "discovery"));
    snprintf(gotrow, cap, "%s %s %s %s selected=%s discovery=%s", node ? node : "?", nif ? nif : "?", proxy,
             lease ? lease : "?", sel ? "true" : "false", disc ? "true" : "false");
    if (w->node && (!node || strcmp(w->node, node) != 0))
        return false;
    if (w->interface && (!nif || strcmp(w->interface, nif) != 0))
        return false;
    if (w->proxy && strcmp(w->proxy, proxy) != 0)
        return false;
    if (w->lease && (!lease || strcmp(w->lease, lease) != 0))
        return false;
    if (w->selected >= 0 && w->selected != sel)
        return false;
    if (w->discovery >= 0 && w->discovery != disc)
        return false;
    return true;
}

static void eval_node(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)now;
    const struct scn_expect *x = st->x;
    char err[512] = "";
    const char *what = "management-proxy";
    if (x->kind == EXP_LEARNED_PROXIES)
        what = "dhcp learned-proxies";
    else if (x->kind == EXP_PHONE_HOME || x->kind == EXP_ONBOARDING || x->kind == EXP_ONBOARDING_ERROR ||
             x->kind == EXP_CONDUCTOR || x->kind == EXP_CONDUCTOR_ERROR)
        what = "onboarding";
    json_t *a = exp_ctl_show(eh->ctl, what, 1000, err, sizeof(err));
    if (!a) {
        snprintf(st->got, sizeof(st->got), "%s", err);
        st->pass = false;
        return;
    }
    json_t *mp = json_object_get(a, "management-proxy");
    switch (x->kind) {
    case EXP_ACTIVE_PROXY: {
        const char *act = jstr(mp, "active");
        const char *reason = jstr(mp, "reason");
        if (act)
            snprintf(st->got, sizeof(st->got), "%s", act);
        else
            snprintf(st->got, sizeof(st->got), "none%s%s%s", reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
        st->pass = act ? !strcmp(act, x->value) : !strcmp(x->value, "none");
        break;
    }
    case EXP_PROXY_SOURCE: {
        const char *src = jstr(mp, "source");
        snprintf(st->got, sizeof(st->got), "%s", src ? src : "(missing)");
        st->pass = src && !strcmp(src, x->value);
        break;
    }
    case EXP_LEARNED_FROM: {
        json_t *lf = json_object_get(mp, "learned-from");
        const char *nd = jstr(lf, "node"), *nif = jstr(lf, "network-interface");
        if (!lf || json_is_null(lf))
            snprintf(st->got, sizeof(st->got), "none");
        else if (strchr(x->value, '/'))
            snprintf(st->got, sizeof(st->got), "%s/%s", nd ? nd : "?", nif ? nif : "?");
        else
            snprintf(st->got, sizeof(st->got), "%s", nif ? nif : "?");
        st->pass = !strcmp(st->got, x->value);
        break;
    }
    case EXP_LEARNED_PROXIES: {
        json_t *rows = json_object_get(a, "learned-proxies");
        size_t n = json_array_size(rows), o = 0;
        bool pass = n == x->n_rows;
        st->got[0] = '\0';
        if (!n)
            snprintf(st->got, sizeof(st->got), "no rows");
        for (size_t i = 0; i < n; i++) {
            char gr[256];
            static const struct scn_lp_row any = {.selected = -1, .discovery = -1};
            bool m = row_matches(i < x->n_rows ? &x->rows[i] : &any, json_array_get(rows, i), gr, sizeof(gr));
            pass &= m;
            if (o < sizeof(st->got))
                o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s", i ? "; " : "", gr);
        }
        st->pass = pass;
        break;
    }
    case EXP_PHONE_HOME: {
        /* the sZTP state: ok = past phoning-home; failed = not past it, last error while phoning home */
        json_t *ob = json_object_get(a, "onboarding");
        const char *state = jstr(ob, "state");
        json_t *le = json_object_get(ob, "last-error");
        const char *lstate = jstr(le, "state"), *klass = jstr(le, "class"), *msg = jstr(le, "message");
        int idx = scn_sztp_state_index(state), ph = scn_sztp_state_index("phoning-home");
        bool past = state && (idx < 0 || idx > ph);
        bool failed = state && !past && lstate && !strcmp(lstate, "phoning-home");
        if (!state) {
            snprintf(st->got, sizeof(st->got), "no sZTP state (is ssr-node started with --sztp?)");
        } else {
            char *g = st->got;
            size_t cap = sizeof(st->got), o = (size_t)snprintf(g, cap, "%s (onboarding %s",
                                                                past ? "ok" : failed ? "failed" : "not yet", state);
            if (klass && o < cap)
                o += (size_t)snprintf(g + o, cap - o, "; last error %s while %s", klass, lstate ? lstate : "?");
            if (klass && !past && msg && *msg && o < cap)
                o += (size_t)snprintf(g + o, cap - o, ": %s", msg);
            if (o < cap)
                snprintf(g + o, cap - o, ")");
        }
        st->pass = !strcmp(x->value, "ok") ? past : failed;
        break;
    }
    case EXP_ONBOARDING: {
        /* an sZTP state is the sZTP state machine's; a conductor state (router/conductor.h) the
         * conductor client's, which runs once sZTP reached secret-stored */
        json_t *ob = json_object_get(a, "onboarding"), *cc = json_object_get(ob, "conductor-client");
        const char *state = jstr(ob, "state"), *cstate = jstr(cc, "state");
        const char *klass = jstr(json_object_get(ob, "last-error"), "class");
        const char *cklass = jstr(json_object_get(cc, "last-error"), "class");
        bool conductor = scn_sztp_state_index(x->value) < 0;
        size_t o = (size_t)snprintf(st->got, sizeof(st->got), "%s", state ? state : "(no sZTP state)");
        if (state && cstate && (conductor || strcmp(cstate, "idle") != 0))
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, ", conductor %s", cstate);
        const char *mine = conductor ? cstate : state, *le = conductor ? cklass : klass;
        if (mine && strcmp(mine, x->value) != 0 && le && o < sizeof(st->got))
            snprintf(st->got + o, sizeof(st->got) - o, " (last error: %s)", le);
        st->pass = mine && !strcmp(mine, x->value) && (!conductor || (state && !strcmp(state, "secret-stored")));
        break;
    }
    case EXP_CONDUCTOR: {
        json_t *cc = json_object_get(json_object_get(a, "onboarding"), "conductor-client");
        const char *in_use = jstr(cc, "conductor"), *role = jstr(cc, "role"), *cstate = jstr(cc, "state");
        const struct scn_host *ch = scenario_host(c->s, x->value);
        const char *want = ch ? ch->cond.addr : x->value;
        if (!cc)
            snprintf(st->got, sizeof(st->got), "(no conductor client in show onboarding)");
        else
            snprintf(st->got, sizeof(st->got), "%s%s%s%s%s%s", in_use ? in_use : "none", role || cstate ? " (" : "",
                     role ? role : "", role && cstate ? ", " : "", cstate ? cstate : "", role || cstate ? ")" : "");
        st->pass = cc && (in_use ? !strcmp(in_use, want) : !strcmp(want, "none"));
        break;
    }
    case EXP_CONDUCTOR_ERROR: {
        json_t *cc = json_object_get(json_object_get(a, "onboarding"), "conductor-client");
        json_t *le = json_object_get(cc, "last-error");
        const char *klass = jstr(le, "class"), *lstate = jstr(le, "state"), *msg = jstr(le, "message");
        if (!cc)
            snprintf(st->got, sizeof(st->got), "(no conductor client in show onboarding)");
        else if (!klass)
            snprintf(st->got, sizeof(st->got), "none");
        else
            snprintf(st->got, sizeof(st->got), "%s (while %s: %s)", klass, lstate ? lstate : "?", msg ? msg : "");
        st->pass = cc && (klass ? !strcmp(klass, x->value) : !strcmp(x->value, "none"));
        break;
    }
    case EXP_ONBOARDING_ERROR: {
        json_t *ob = json_object_get(a, "onboarding");
        json_t *le = json_object_get(ob, "last-error");
        const char *klass = jstr(le, "class"), *lstate = jstr(le, "state"), *msg = jstr(le, "message");
        if (!ob)
            snprintf(st->got, sizeof(st->got), "(no sZTP state)");
        else if (!klass)
            snprintf(st->got, sizeof(st->got), "none");
        else
            snprintf(st->got, sizeof(st->got), "%s (while %s: %s)", klass, lstate ? lstate : "?", msg ? msg : "");
        st->pass = ob && (klass ? !strcmp(klass, x->value) : !strcmp(x->value, "none"));
        break;
    }
    case EXP_FAILURE_REASON: {
        /* the last sZTP error, else the reason there is no active proxy */
        char t1[600] = "", t2[300] = "";
        json_t *b = eh->h->node.sztp ? exp_ctl_show(eh->ctl, "onboarding", 1000, err, sizeof(err)) : NULL;
        json_t *le = json_object_get(json_object_get(b, "onboarding"), "last-error");
        if (le && !json_is_null(le)) {
            json_t *code = json_object_get(le, "status");
            snprintf(t1, sizeof(t1), "onboarding %s while %s: %s", jstr(le, "class") ? jstr(le, "class") : "?",
                     jstr(le, "state") ? jstr(le, "state") : "?", jstr(le, "message") ? jstr(le, "message") : "");
            if (json_is_integer(code)) {
                size_t l = strlen(t1);
                snprintf(t1 + l, sizeof(t1) - l, " (status %lld)", (long long)json_integer_value(code));
            }
        }
        json_decref(b);
        if (!jstr(mp, "active"))
            snprintf(t2, sizeof(t2), "no active proxy: %s", jstr(mp, "reason") ? jstr(mp, "reason") : "?");
        snprintf(st->got, sizeof(st->got), "%s%s%s", t1, t1[0] && t2[0] ? "; " : "", t2);
        if (!st->got[0])
            snprintf(st->got, sizeof(st->got), "no failure");
        st->pass = strstr(st->got, x->value) != NULL;
        break;
    }
    default:
        break;
    }
    json_decref(a);
}

/* ---- conductors, hub, the router certificate ---------------------------------------------------- */

/* A mock's --state file (JSON). NULL with why. */
static json_t *load_state(const char *path, char *why, size_t cap)
{
    if (!path[0]) {
        snprintf(why, cap, "no state file");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        snprintf(why, cap, "%s: %s", path, je.text);
    return j;
}

/* The host's --state file for an expectation on it; NULL (the expectation failed, got says why). */
static json_t *load_state_for(const struct exp_host *eh, struct exp_state *st)
{
    char why[400];
    json_t *j = load_state(eh->state_file, why, sizeof(why));
    if (!j) {
        snprintf(st->got, sizeof(st->got), "%s", why);
        st->pass = false;
    }
    return j;
}

/* inventory: each listed ROUTER/NODE has that state in the conductor's --state file */
static void eval_inventory(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)c;
    (void)now;
    const struct scn_expect *x = st->x;
    json_t *j = load_state_for(eh, st);
    if (!j)
        return;
    json_t *routers = json_object_get(j, "routers");
    bool pass = true;
    size_t o = 0;
    for (size_t i = 0; i < x->n_kv; i++) {
        char rt[80];
        const char *sl = strchr(x->kv[i].key, '/');
        snprintf(rt, sizeof(rt), "%.*s", sl ? (int)(sl - x->kv[i].key) : 0, x->kv[i].key);
        json_t *nd = json_object_get(json_object_get(json_object_get(routers, rt), "nodes"), sl ? sl + 1 : "");
        const char *state = jstr(nd, "state"), *task = jstr(nd, "task");
        pass &= state && !strcmp(state, x->kv[i].value);
        if (o < sizeof(st->got))
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s %s%s%s%s", i ? ", " : "", x->kv[i].key,
                                  state ? state : "(not in the inventory)", task && strcmp(task, "none") ? " (task " : "",
                                  task && strcmp(task, "none") ? task : "", task && strcmp(task, "none") ? ")" : "");
    }
    json_decref(j);
    st->pass = pass;
}

/* peered: exactly these identities are "peered" in the hub's --state file */
static void eval_peered(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)c;
    (void)now;
    const struct scn_expect *x = st->x;
    json_t *j = load_state_for(eh, st);
    if (!j)
        return;
    json_t *peers = json_object_get(j, "peers");
    const char *id;
    json_t *v;
    bool pass = true;
    size_t o = 0, n = 0;
    json_object_foreach(peers, id, v) {
        if (!json_is_string(json_object_get(v, "state")) || strcmp(jstr(v, "state"), "peered") != 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < x->n_list; i++)
            listed |= !strcmp(x->list[i], id);
        pass &= listed;
        n++;
        if (o < sizeof(st->got))
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s", o ? ", " : "", id);
    }
    for (size_t i = 0; i < x->n_list; i++) {
        const char *state = jstr(json_object_get(peers, x->list[i]), "state");
        pass &= state && !strcmp(state, "peered");
    }
    if (!n)
        snprintf(st->got, sizeof(st->got), "nobody");
    json_decref(j);
    st->pass = pass;
}

static X509 *first_cert(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

int exp_cert_check(const char *cert_pem, size_t cert_len, const char *chain_pem, size_t chain_len, const char *root_pem,
                   size_t root_len, const char *router, const char *node, const char *want_serial,
                   const char *want_pubkey_sha256, char *why, size_t cap)
{
    int rc = -1;
    X509 *x = first_cert(cert_pem, cert_len), *signing = first_cert(chain_pem, chain_len);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    BIGNUM *bn = NULL;
    char *hex = NULL;
    unsigned char *der = NULL;
    if (!x) {
        snprintf(why, cap, "not a PEM certificate");
        goto out;
    }
    if (!signing || !store || !ctx || !untrusted) {
        snprintf(why, cap, "no conductor signing CA to check it with");
        goto out;
    }
    /* openssl verify -CAfile ROOT -untrusted SIGNING: the root is the only anchor */
    BIO *b = BIO_new_mem_buf(root_pem, (int)root_len);
    X509 *t;
    int anchors = 0;
    while (b && (t = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        anchors += X509_STORE_add_cert(store, t) == 1;
        X509_free(t);
    }
    BIO_free(b);
    b = BIO_new_mem_buf(chain_pem, (int)chain_len);
    while (b && (t = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(untrusted, t))
            X509_free(t);
    BIO_free(b);
    ERR_clear_error();
    if (!anchors || X509_STORE_CTX_init(ctx, store, x, untrusted) != 1) {
        snprintf(why, cap, "no conductor root CA to check it with");
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        snprintf(why, cap, "does not verify against the conductor signing CA and root: %s (depth %d)",
                 X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    if (sk_X509_num(chain) < 2 || X509_cmp(sk_X509_value(chain, 1), signing) != 0) {
        snprintf(why, cap, "its issuer is not the conductor signing CA");
        goto out;
    }
    /* validity now, CN and SAN URI (the code the router and the hub use) */
    char e2[300];
    if (pki_cert_check(cert_pem, cert_len, chain_pem, chain_len, router, node, NULL, e2, sizeof(e2)) < 0) {
        snprintf(why, cap, "%s", e2);
        goto out;
    }
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[64] = "";
    size_t gl = 0;
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &gl) != 1 || strcmp(group, "prime256v1") != 0) {
        snprintf(why, cap, "its key is not EC P-256 (%s)", group[0] ? group : "?");
        goto out;
    }
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    hex = bn ? BN_bn2hex(bn) : NULL;
    if (want_serial && (!hex || strcasecmp(hex, want_serial) != 0)) {
        snprintf(why, cap, "serial %s is not the one the staging conductor issued to the node (%s)", hex ? hex : "?",
                 want_serial);
        goto out;
    }
    if (want_pubkey_sha256) {
        int dl = i2d_PUBKEY(pk, &der);
        unsigned char md[32];
        unsigned ml = 0;
        char mh[65];
        if (dl <= 0 || EVP_Digest(der, (size_t)dl, md, &ml, EVP_sha256(), NULL) != 1 || ml != 32) {
            snprintf(why, cap, "cannot hash its public key");
            goto out;
        }
        for (unsigned i = 0; i < 32; i++)
            snprintf(mh + 2 * i, 3, "%02x", md[i]);
        if (strcasecmp(mh, want_pubkey_sha256) != 0) {
            snprintf(why, cap, "its public key (sha256 %.16s...) is not the one the node made (%.16s...)", mh,
                     want_pubkey_sha256);
            goto out;
        }
    }
    snprintf(why, cap, "serial %s", hex ? hex : "?");
    rc = 0;
out:
    OPENSSL_free(der);
    OPENSSL_free(hex);
    BN_free(bn);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(signing);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* The last value of field in the lines of path that match event (logfmt), or NULL. */
/* The last value of field in the event's lines; *distinct (when not NULL) counts the different
 * values seen (a node that made, loaded or reused its key across restarts logs the same one). */
static const char *last_field(const char *path, const char *event, const char *field, char *dst, size_t cap,
                              unsigned *distinct)
{
    FILE *f = fopen(path, "r");
    if (distinct)
        *distinct = 0;
    if (!f)
        return NULL;
    char *line = NULL, ev[64], v[256], seen[8][256];
    size_t lc = 0;
    bool found = false;
    while (getline(&line, &lc, f) >= 0)
        if (exp_logfmt_get(line, "event", ev, sizeof(ev)) && !strcmp(ev, event) &&
            exp_logfmt_get(line, field, v, sizeof(v))) {
            snprintf(dst, cap, "%s", v);
            found = true;
            if (distinct) {
                bool known = false;
                for (unsigned i = 0; i < *distinct && i < 8; i++)
                    known |= !strcmp(seen[i], v);
                if (!known && *distinct < 8)
                    snprintf(seen[(*distinct)++], sizeof(seen[0]), "%s", v);
            }
        }
    free(line);
    fclose(f);
    return found ? dst : NULL;
}

/* certificate: valid | none (see expect.h) */
static void eval_certificate(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)now;
    const struct scn_node *n = &eh->h->node;
    char path[PATH_MAX + 32], why[512];
    snprintf(path, sizeof(path), "%s/certs/router.pem", eh->state_dir);
    char *cert = NULL, *chain = NULL, *root = NULL;
    size_t cl = 0, chl = 0, rl = 0;
    int rc = read_file_max(path, 1 << 20, &cert, &cl);
    if (!strcmp(st->x->value, "none")) {
        st->pass = rc == -ENOENT;
        snprintf(st->got, sizeof(st->got), "%s", rc == -ENOENT ? "none" : "state/certs/router.pem exists");
        free(cert);
        return;
    }
    st->pass = false;
    if (rc < 0) {
        snprintf(st->got, sizeof(st->got), "state/certs/router.pem: %s", strerror(-rc));
        return;
    }
    snprintf(path, sizeof(path), "%s/conductor-ca-chain.pem", c->pki ? c->pki : "");
    int r1 = read_file_max(path, 1 << 20, &chain, &chl);
    snprintf(path, sizeof(path), "%s/conductor-ca.pem", c->pki ? c->pki : "");
    int r2 = read_file_max(path, 1 << 20, &root, &rl);
    /* the serial the staging conductor issued to this node (its inventory) */
    char serial[80] = "", pub[80] = "";
    const char *want_serial = NULL;
    for (size_t i = 0; i < c->n_hosts; i++) {
        const struct scn_host *h = c->hosts[i].h;
        if (h->kind != SCN_CONDUCTOR || h->cond.role != SCN_ROLE_STAGING)
            continue;
        json_t *j = load_state(c->hosts[i].state_file, why, sizeof(why));
        json_t *nd = json_object_get(json_object_get(json_object_get(json_object_get(j, "routers"), n->router), "nodes"),
                                     n->node);
        if (jstr(nd, "serial")) {
            snprintf(serial, sizeof(serial), "%s", jstr(nd, "serial"));
            want_serial = serial;
        }
        json_decref(j);
    }
    unsigned nkeys = 0;
    const char *want_pub = last_field(eh->log, "conductor.key", "pubkey_sha256", pub, sizeof(pub), &nkeys);
    if (nkeys > 1) {
        /* every event=conductor.key line (created, then loaded or reused after restarts) names one key */
        snprintf(st->got, sizeof(st->got), "the node logged %u different keys (pubkey_sha256 of event=conductor.key)", nkeys);
    } else if (r1 < 0 || r2 < 0) {
        snprintf(st->got, sizeof(st->got), "the run's pki/ has no conductor CA chain (%s)", strerror(-(r1 < 0 ? r1 : r2)));
    } else if (!want_serial) {
        snprintf(st->got, sizeof(st->got), "the staging conductor's inventory has no serial for %s/%s", n->router, n->node);
    } else if (exp_cert_check(cert, cl, chain, chl, root, rl, n->router, n->node, want_serial, want_pub, why,
                              sizeof(why)) < 0) {
        snprintf(st->got, sizeof(st->got), "state/certs/router.pem: %s", why);
    } else {
        snprintf(st->got, sizeof(st->got), "valid: %s.%s, %s, issued by the conductor signing CA (staging inventory), %s",
                 n->router, n->node, why,
                 want_pub ? "the node's own key, the same in every event=conductor.key line (pubkey_sha256)"
                          : "key not compared (the node logs no pubkey_sha256)");
        st->pass = true;
    }
    free(cert);
    free(chain);
    free(root);
}

/* logged / not-logged: each regex against logs/HOST.log; a counted item wants its number of matching
 * lines within its range (count_range_text), a plain one a line (logged) or none (not-logged) */
static void eval_logged(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh, double now)
{
    (void)c;
    (void)now;
    const struct scn_expect *x = st->x;
    bool neg = x->kind == EXP_NOT_LOGGED;
    st->pass = true;
    size_t o = 0;
    for (size_t i = 0; i < x->n_list; i++) {
        bool found = false;
        char e[200] = "";
        unsigned cnt = 0;
        bool ranged = x->counts && x->counts[i] >= 0;
        if (!regex_lines(eh->log, x->list[i], e, sizeof(e), &found, ranged ? &cnt : NULL)) {
            snprintf(st->got, sizeof(st->got), "%s", e);
            st->pass = false;
            return;
        }
        if (ranged ? cnt >= (unsigned)x->counts[i] && (x->counts_max[i] < 0 || cnt <= (unsigned)x->counts_max[i])
                   : found != neg)
            continue;
        st->pass = false;
        if (o >= sizeof(st->got))
            continue;
        char r[48] = "";
        if (ranged) {
            count_range_text(r, sizeof(r), x, i);
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%u lines match /%s/ (want%s)", o ? "; " : "", cnt,
                                  x->list[i], r);
        } else {
            o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s /%s/", o ? "; " : "",
                                  neg ? "found" : "no line matches", x->list[i]);
        }
    }
    if (st->pass && !st->got[0])
        snprintf(st->got, sizeof(st->got), neg ? "no line matches" : "every pattern matched");
}

void exp_eval(struct exp_ctx *c, struct exp_state *st, double now_rel)
{
    const struct scn_expect *x = st->x;
    struct exp_host *eh = find_host(c, x->host);
    bool was = st->pass;
    if (x->kind != EXP_INTERNET_DIRECT)
        st->got[0] = '\0';
    static void (*const eval[EXP_KIND_COUNT])(struct exp_ctx *, struct exp_state *, struct exp_host *, double) = {
        [EXP_ACTIVE_PROXY] = eval_node,      [EXP_PROXY_SOURCE] = eval_node,      [EXP_LEARNED_FROM] = eval_node,
        [EXP_LEARNED_PROXIES] = eval_node,   [EXP_PHONE_HOME] = eval_node,        [EXP_FAILURE_REASON] = eval_node,
        [EXP_ONBOARDING] = eval_node,        [EXP_ONBOARDING_ERROR] = eval_node,  [EXP_CONDUCTOR] = eval_node,
        [EXP_CONDUCTOR_ERROR] = eval_node,   [EXP_STORED] = eval_stored,          [EXP_CERTIFICATE] = eval_certificate,
        [EXP_INVENTORY] = eval_inventory,    [EXP_PEERED] = eval_peered,          [EXP_INTERNET_DIRECT] = eval_direct,
        [EXP_TPM] = eval_tpm,                [EXP_LOGGED] = eval_logged,          [EXP_NOT_LOGGED] = eval_logged,
        [EXP_CARRIED] = eval_proxy_log,      [EXP_DENIED] = eval_proxy_log,       [EXP_NO_SECRETS] = eval_secrets,
        [EXP_SECRET_FILES] = eval_secret_files, [EXP_DECODED] = eval_decoded,
    };
    if ((unsigned)x->kind < EXP_KIND_COUNT && eval[x->kind])
        eval[x->kind](c, st, eh, now_rel);
    if (st->pass && !was)
        st->at = now_rel;
}

void exp_release(struct exp_state *st)
{
    for (size_t i = 0; i < st->n_fds; i++)
        if (st->fds[i] >= 0) {
            close(st->fds[i]);
            st->fds[i] = -1;
        }
}
