/* Expectations checked against the running lab (see expect.h). */
#include "expect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "topo.h"

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
    if (!next_tok(&p, end, tok, sizeof(tok)) || strspn(tok, "0123456789-") != strlen(tok)) /* elapsed */
        return -1;
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
    return x->kind == EXP_NOT_LOGGED || x->kind == EXP_NO_SECRETS || x->kind == EXP_INTERNET_DIRECT;
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
        join_list(l, sizeof(l), x->list, x->n_list, " | ", "");
        snprintf(st->want, sizeof(st->want), "lines matching: %s", l);
        break;
    case EXP_NOT_LOGGED:
        join_list(l, sizeof(l), x->list, x->n_list, " | ", "");
        snprintf(st->want, sizeof(st->want), "no line matching: %s", l);
        break;
    case EXP_CARRIED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "nobody");
        snprintf(st->want, sizeof(st->want), "CONNECTs to Mist tunnelled for: %s", l);
        break;
    case EXP_DENIED:
        join_list(l, sizeof(l), x->list, x->n_list, ", ", "nobody");
        snprintf(st->want, sizeof(st->want), "CONNECTs to Mist refused for: %s", l);
        break;
    case EXP_NO_SECRETS:
        snprintf(st->want, sizeof(st->want), "no secret the lab wrote appears in any log");
        break;
    case EXP_DECODED:
        join_list(l, sizeof(l), x->list, x->n_list, " | ", "");
        snprintf(st->want, sizeof(st->want), "tcpdump -vvv of pcap/%s.pcap has lines matching: %s", x->host, l);
        st->fault_host = NULL;
        break;
    case EXP_INTERNET_DIRECT:
        snprintf(st->want, sizeof(st->want), "a direct TCP connection to the internet segment fails");
        break;
    case EXP_TPM:
        snprintf(st->want, sizeof(st->want), "its swtpm answers TPM2 commands");
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

static bool regex_any_line(const char *path, const char *re, char *errbuf, size_t errcap, bool *found)
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
        while (!*found && (n = getline(&line, &cap, f)) >= 0) {
            if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = '\0'; /* so that $ anchors at the end of the line */
            *found = regexec(&rx, line, 0, NULL, 0) == 0;
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

/* The mist names: every https-server's names. */
static bool is_mist_url(const struct scenario *s, const char *url)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", url);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    for (size_t i = 0; i < s->n_hosts; i++)
        for (size_t j = 0; j < s->hosts[i].https.n_names; j++)
            if (!strcasecmp(s->hosts[i].https.names[j], host))
                return true;
    return false;
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
static void eval_proxy_log(struct exp_ctx *c, struct exp_state *st, struct exp_host *ph)
{
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
        if (ph->access_from > 0)
            fseek(f, ph->access_from, SEEK_SET);
        while ((len = getline(&line, &cap, f)) >= 0) {
            struct access_rec r;
            if (tps ? exp_tinyproxy_feed(tps, line, &r) != 1 : exp_squid_parse(line, (size_t)len, &r) < 0)
                continue;
            if (strcmp(r.method, "CONNECT") != 0 || !is_mist_url(c->s, r.url))
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

static void eval_direct(struct exp_ctx *c, struct exp_state *st, double now_rel)
{
    if (!st->started) {
        st->started = now_rel > 0 ? now_rel : 1e-9;
        st->n_fds = 0;
        st->got[0] = '\0';
        for (size_t i = 0; i < c->s->n_hosts; i++) {
            const struct scn_host *h = &c->s->hosts[i];
            if (h->kind != SCN_HTTPS_SERVER)
                continue;
            for (size_t j = 0; j < h->n_ifs && st->n_fds < sizeof(st->fds) / sizeof(st->fds[0]); j++) {
                char ip[INET_ADDRSTRLEN];
                scn_iface_ip(&h->ifs[j], ip, sizeof(ip));
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->https.port)};
                inet_pton(AF_INET, ip, &sa.sin_addr);
                int fd = topo_socket(c->topo, st->x->host, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                size_t o = strlen(st->got);
                if (fd < 0) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%ssocket in %s: %s; ", "", st->x->host, strerror(-fd));
                    continue;
                }
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%s:%u connected; ", ip, h->https.port);
                    close(fd);
                    continue;
                }
                if (errno != EINPROGRESS) {
                    snprintf(st->got + o, sizeof(st->got) - o, "%s:%u %s; ", ip, h->https.port, strerror(errno));
                    close(fd);
                    continue;
                }
                snprintf(st->targets[st->n_fds], sizeof(st->targets[0]), "%s:%u", ip, h->https.port);
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
        snprintf(st->got, sizeof(st->got), "no https-server to try");
}

static void eval_secrets(struct exp_ctx *c, struct exp_state *st)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/logs", c->artifacts);
    st->pass = true;
    snprintf(st->got, sizeof(st->got), "none found in logs/ and the access logs (%zu secrets)", c->s->n_secrets);
    const char *files[256];
    char *owned[256];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 200) {
        if (de->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        owned[n] = strdup(p);
        files[n] = owned[n];
        n++;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < c->n_hosts && n < 256; i++)
        if (c->hosts[i].access_log[0]) {
            owned[n] = NULL;
            files[n++] = c->hosts[i].access_log;
        }
    for (size_t i = 0; i < n && st->pass; i++)
        for (size_t k = 0; k < c->s->n_secrets && st->pass; k++)
            if (file_contains(files[i], c->s->secrets[k])) {
                char m[64];
                mask_secret(c->s->secrets[k], m, sizeof(m));
                const char *rel = strncmp(files[i], c->artifacts, strlen(c->artifacts)) == 0
                                      ? files[i] + strlen(c->artifacts) + 1
                                      : files[i];
                snprintf(st->got, sizeof(st->got), "secret %s found in %s", m, rel);
                st->pass = false;
                st->fault_host = NULL;
            }
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
}

/* decoded: tcpdump's verbose decode of the segment's capture so far (pcap/SEG.txt), then regexes */
static void eval_decoded(struct exp_ctx *c, struct exp_state *st)
{
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
        if (!regex_any_line(txt, x->list[i], e, sizeof(e), &found)) {
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

static void eval_tpm(struct exp_host *eh, struct exp_state *st)
{
    if (!eh->tpm_ok) {
        snprintf(st->got, sizeof(st->got), "swtpm did not answer TPM2_Startup at start");
        st->pass = false;
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
        snprintf(st->got, sizeof(st->got), "TPM2_Startup and TPM2_GetRandom answered");
    else if (rc > 0)
        snprintf(st->got, sizeof(st->got), "tpm2_getrandom exited with %d", rc);
    else
        snprintf(st->got, sizeof(st->got), "%s", err);
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

static void eval_node(struct exp_ctx *c, struct exp_state *st, struct exp_host *eh)
{
    const struct scn_expect *x = st->x;
    char err[512] = "";
    const char *what = "management-proxy";
    if (x->kind == EXP_LEARNED_PROXIES)
        what = "dhcp learned-proxies";
    else if (x->kind == EXP_PHONE_HOME)
        what = "phone-home";
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
        json_t *ph = json_object_get(a, "phone-home");
        const char *state = jstr(ph, "state");
        json_t *lr = json_object_get(ph, "last-result");
        const char *klass = jstr(lr, "class"), *msg = jstr(lr, "message");
        bool lr_ok = json_is_true(json_object_get(lr, "ok"));
        if (!state)
            snprintf(st->got, sizeof(st->got), "no phone-home (is ssr-node started with --phone-home-url?)");
        else if (klass && !lr_ok)
            snprintf(st->got, sizeof(st->got), "%s (last attempt: %s%s%s)", state, klass, msg && *msg ? ": " : "",
                     msg && *msg ? msg : "");
        else if (klass)
            snprintf(st->got, sizeof(st->got), "%s (via %s)", state, jstr(lr, "proxy") ? jstr(lr, "proxy") : "?");
        else
            snprintf(st->got, sizeof(st->got), "%s", state);
        if (!strcmp(x->value, "ok"))
            st->pass = state && !strcmp(state, "ok");
        else
            st->pass = state && strcmp(state, "ok") != 0 && lr && !json_is_null(lr) &&
                       !json_is_true(json_object_get(lr, "ok"));
        break;
    }
    case EXP_FAILURE_REASON: {
        /* the phone-home failure, else the reason there is no active proxy */
        char t1[600] = "", t2[300] = "";
        json_t *b = exp_ctl_show(eh->ctl, "phone-home", 1000, err, sizeof(err));
        json_t *lr = json_object_get(json_object_get(b, "phone-home"), "last-result");
        if (lr && !json_is_null(lr) && !json_is_true(json_object_get(lr, "ok"))) {
            json_t *ps = json_object_get(lr, "proxy-status");
            const char *pr = jstr(lr, "proxy-reason"), *se = jstr(lr, "squid-error");
            snprintf(t1, sizeof(t1), "phone-home %s: %s", jstr(lr, "class") ? jstr(lr, "class") : "?",
                     jstr(lr, "message") ? jstr(lr, "message") : "");
            if (json_is_integer(ps)) {
                size_t l = strlen(t1);
                snprintf(t1 + l, sizeof(t1) - l, " (proxy %lld %s%s%s)", (long long)json_integer_value(ps), pr ? pr : "",
                         se && *se ? " " : "", se && *se ? se : "");
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

void exp_eval(struct exp_ctx *c, struct exp_state *st, double now_rel)
{
    const struct scn_expect *x = st->x;
    struct exp_host *eh = find_host(c, x->host);
    bool was = st->pass;
    if (x->kind != EXP_INTERNET_DIRECT)
        st->got[0] = '\0';
    switch (x->kind) {
    case EXP_ACTIVE_PROXY:
    case EXP_PROXY_SOURCE:
    case EXP_LEARNED_FROM:
    case EXP_LEARNED_PROXIES:
    case EXP_PHONE_HOME:
    case EXP_FAILURE_REASON:
        eval_node(c, st, eh);
        break;
    case EXP_INTERNET_DIRECT:
        eval_direct(c, st, now_rel);
        break;
    case EXP_TPM:
        eval_tpm(eh, st);
        break;
    case EXP_LOGGED:
    case EXP_NOT_LOGGED: {
        bool neg = x->kind == EXP_NOT_LOGGED;
        st->pass = true;
        size_t o = 0;
        for (size_t i = 0; i < x->n_list; i++) {
            bool found = false;
            char e[200] = "";
            if (!regex_any_line(eh->log, x->list[i], e, sizeof(e), &found)) {
                snprintf(st->got, sizeof(st->got), "%s", e);
                st->pass = false;
                break;
            }
            if (found == neg) {
                st->pass = false;
                if (o < sizeof(st->got))
                    o += (size_t)snprintf(st->got + o, sizeof(st->got) - o, "%s%s /%s/", o ? "; " : "",
                                          neg ? "found" : "no line matches", x->list[i]);
            }
        }
        if (st->pass && !st->got[0])
            snprintf(st->got, sizeof(st->got), neg ? "no line matches" : "every pattern matched");
        break;
    }
    case EXP_CARRIED:
    case EXP_DENIED:
        eval_proxy_log(c, st, eh);
        break;
    case EXP_NO_SECRETS:
        eval_secrets(c, st);
        break;
    case EXP_DECODED:
        eval_decoded(c, st);
        break;
    default:
        break;
    }
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
