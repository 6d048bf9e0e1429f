/* The components' structured events of a run: parse, classify, model (see events.h). */
#include "events.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ztp/util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(k) ((uint16_t)(1u << (k)))
#define UPTO(k) ((uint16_t)(((1u << ((k) + 1)) - 1) & ~1u)) /* bits 1..k */

const struct ev_step_def ev_steps[EV_STEPS + 1] = {
    {0, "-", "-"},
    {1, "proxy", "SSR configured with a Mist connection through a web proxy (static, onboarding.json or learned from DHCP Option 43)"},
    {2, "phone home", "phones home to the Mist EP terminator (ep-terminator.mistsys.net) through the proxy"},
    {3, "redirect", "redirected to the organization of the claimed environment"},
    {4, "OCRA auth", "TLS to the Mist cloud, OCRA challenge/response computed by the TPM"},
    {5, "staging", "conductor address, pre-shared secret and root CA installed; onboards to the staging conductor"},
    {6, "production info", "the onboarding conductor sends the production conductor's address, secret and root CA"},
    {7, "key", "the onboarding conductor triggers certificate (key) creation on the router"},
    {8, "CSR", "certificate signing request for the generated public key, signed"},
    {9, "SVR config", "SVR configuration for peering with the operational hub"},
    {10, "root CA", "the production root CA installed on the router"},
    {11, "secret", "the production pre-shared secret installed in secure storage"},
    {12, "migrate", "migrate: the router is re-targeted to the production conductor"},
};

/* ---- time ------------------------------------------------------------------------------------ */

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

double ev_parse_ts(const char *s, size_t len)
{
    int Y, M, D, h, m, sec;
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) || digits(s + 11, 2, &h) ||
        digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    size_t i = 19;
    double frac = 0, scale = 0.1;
    if (i < len && s[i] == '.') {
        i++;
        size_t st = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - st < 9) {
                frac += (s[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == st)
            return -1;
    }
    if (i < len && s[i] == 'Z')
        i++;
    else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && !memcmp(s + i + 1, "00:00", 5))
        i += 6;
    if (i != len)
        return -1;
    return (double)(days_from_civil(Y, M, D) * 86400L + h * 3600L + m * 60L + sec) + frac;
}

/* ---- events ---------------------------------------------------------------------------------- */

struct pair {
    const char *k, *v;
    size_t kl, vl;
};

/* One event from its pairs (copied into one allocation). */
static int ev_make(struct ev_event *e, double ts, const struct pair *p, size_t np)
{
    static const char *const reserved[] = {"host", "comp", "level", "event"};
    size_t need = 0, nkv = 0;
    bool seen[ARRAY_LEN(reserved)] = {false};
    for (size_t i = 0; i < np; i++) {
        need += p[i].kl + p[i].vl + 2;
        bool res = false;
        /* the first host/comp/level/event is the line's identity; a later one is an ordinary field
         * (https.* events carry host=SERVER after host=NODE) */
        for (size_t r = 0; r < ARRAY_LEN(reserved); r++)
            if (!seen[r] && strlen(reserved[r]) == p[i].kl && !memcmp(reserved[r], p[i].k, p[i].kl))
                res = seen[r] = true;
        nkv += !res;
    }
    need += 8 * 4; /* defaults */
    char *blk = malloc(nkv * sizeof(struct ev_kv) + need);
    if (!blk)
        return -1;
    memset(e, 0, sizeof(*e));
    e->blk = blk;
    e->kv = (struct ev_kv *)(void *)blk;
    char *s = blk + nkv * sizeof(struct ev_kv);
    e->ts = ts;
    e->host = e->comp = e->level = e->event = NULL;
    e->rule = -1;
    for (size_t i = 0; i < np; i++) {
        char *k = s;
        memcpy(s, p[i].k, p[i].kl);
        s[p[i].kl] = '\0';
        s += p[i].kl + 1;
        char *v = s;
        memcpy(s, p[i].v, p[i].vl);
        s[p[i].vl] = '\0';
        s += p[i].vl + 1;
        if (!strcmp(k, "host") && !e->host)
            e->host = v;
        else if (!strcmp(k, "comp") && !e->comp)
            e->comp = v;
        else if (!strcmp(k, "level") && !e->level)
            e->level = v;
        else if (!strcmp(k, "event") && !e->event)
            e->event = v;
        else if (e->nkv < nkv)
            e->kv[e->nkv++] = (struct ev_kv){k, v};
    }
    return 0;
}

void ev_event_free(struct ev_event *e)
{
    free(e->blk);
    e->blk = NULL;
    e->kv = NULL;
    e->nkv = 0;
}

int ev_parse_line(const char *buf, size_t len, const char *default_host, struct ev_event *e, unsigned *truncated)
{
    while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
        len--;
    if (len < 3 || memcmp(buf, "ts=", 3) != 0)
        return 0;
    if (len > EV_MAX_LINE)
        return -1;
    char scratch[EV_MAX_LINE + 16];   /* decoded values never grow */
    size_t so = 0;
    struct pair p[EV_MAX_FIELDS + 8];
    size_t np = 0;
    bool last_bare = false;
    size_t i = 0;
    while (i < len) {
        while (i < len && buf[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t ks = i;
        while (i < len && buf[i] != '=' && buf[i] != ' ' && buf[i] != '"')
            i++;
        if (i < len && buf[i] == '=' && i == ks)
            return -1; /* "=v": a value without a key */
        if (i >= len || buf[i] != '=') {
            /* a word without '=': the rest of an unquoted value that had spaces */
            if (!np || !last_bare || (i < len && buf[i] == '"'))
                return -1;
            while (i < len && buf[i] != ' ')
                i++;
            /* the previous value is the last thing in scratch: extend it */
            scratch[so++] = ' ';
            memcpy(scratch + so, buf + ks, i - ks);
            so += i - ks;
            p[np - 1].vl = (size_t)(scratch + so - p[np - 1].v);
            continue;
        }
        size_t kl = i - ks;
        i++; /* '=' */
        const char *v = scratch + so;
        if (i < len && buf[i] == '"') {
            i++;
            bool closed = false;
            while (i < len) {
                char c = buf[i];
                if (c == '"') {
                    closed = true;
                    i++;
                    break;
                }
                if (c == '\\' && i + 1 < len) {
                    char n = buf[i + 1];
                    if (n == '"' || n == '\\') {
                        scratch[so++] = n;
                        i += 2;
                        continue;
                    }
                    if (n == 'x' && i + 3 < len && hex_digit(buf[i + 2]) >= 0 && hex_digit(buf[i + 3]) >= 0) {
                        int b = hex_digit(buf[i + 2]) * 16 + hex_digit(buf[i + 3]);
                        if (b == 0) {
                            memcpy(scratch + so, "\\x00", 4);
                            so += 4;
                        } else {
                            scratch[so++] = (char)b;
                        }
                        i += 4;
                        continue;
                    }
                }
                scratch[so++] = c;
                i++;
            }
            if (!closed)
                return -1;
            /* junk glued to the closing quote: keep it with the value */
            while (i < len && buf[i] != ' ')
                scratch[so++] = buf[i++];
            last_bare = false;
        } else {
            while (i < len && buf[i] != ' ')
                scratch[so++] = buf[i++];
            last_bare = true;
        }
        size_t vl = (size_t)(scratch + so - v);
        if (np >= EV_MAX_FIELDS + 4) {
            if (truncated)
                (*truncated)++;
            so -= vl;
            last_bare = false;
            continue;
        }
        p[np++] = (struct pair){buf + ks, v, kl, vl};
        if (so > sizeof(scratch) - 8)
            return -1;
    }
    if (!np || p[0].kl != 2)
        return -1;
    double ts = ev_parse_ts(p[0].v, p[0].vl);
    if (ts < 0)
        return -1;
    bool has_event = false;
    for (size_t k = 1; k < np; k++)
        if (p[k].kl == 5 && !memcmp(p[k].k, "event", 5) && p[k].vl)
            has_event = true;
    if (!has_event)
        return -1;
    if (ev_make(e, ts, p + 1, np - 1) < 0)
        return -1;
    if (!e->host)
        e->host = default_host && *default_host ? default_host : "-";
    if (!e->comp)
        e->comp = "-";
    if (!e->level)
        e->level = "info";
    /* host/comp defaults point outside blk: copy them in (the list outlives the caller's strings) */
    if (e->host == default_host) {
        struct ev_event d = *e;
        struct pair q[EV_MAX_FIELDS + 8];
        size_t nq = 0;
        q[nq++] = (struct pair){"host", default_host, 4, strlen(default_host)};
        q[nq++] = (struct pair){"comp", d.comp, 4, strlen(d.comp)};
        q[nq++] = (struct pair){"level", d.level, 5, strlen(d.level)};
        q[nq++] = (struct pair){"event", d.event, 5, strlen(d.event)};
        for (unsigned k = 0; k < d.nkv; k++)
            q[nq++] = (struct pair){d.kv[k].k, d.kv[k].v, strlen(d.kv[k].k), strlen(d.kv[k].v)};
        int r = ev_make(e, ts, q, nq);
        ev_event_free(&d);
        if (r < 0)
            return -1;
    }
    return 1;
}

const char *ev_get(const struct ev_event *e, const char *key)
{
    if (!strcmp(key, "host"))
        return e->host;
    if (!strcmp(key, "comp"))
        return e->comp;
    if (!strcmp(key, "level"))
        return e->level;
    if (!strcmp(key, "event"))
        return e->event;
    for (unsigned i = 0; i < e->nkv; i++)
        if (!strcmp(e->kv[i].k, key))
            return e->kv[i].v;
    return NULL;
}

static unsigned list_src(struct ev_list *l, const char *src)
{
    for (size_t i = 0; i < l->nsrcs; i++)
        if (!strcmp(l->srcs[i], src))
            return (unsigned)i;
    char **n = realloc(l->srcs, (l->nsrcs + 1) * sizeof(*n));
    if (!n)
        abort();
    l->srcs = n;
    l->srcs[l->nsrcs] = strdup(src ? src : "-");
    if (!l->srcs[l->nsrcs])
        abort();
    return (unsigned)l->nsrcs++;
}

static bool list_push(struct ev_list *l, struct ev_event *e)
{
    if (l->n >= EV_MAX_EVENTS) {
        l->dropped++;
        ev_event_free(e);
        return false;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        struct ev_event *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            abort();
        l->v = nv;
        l->cap = nc;
    }
    e->seq = l->seq++;
    l->v[l->n++] = *e;
    return true;
}

size_t ev_list_add_log(struct ev_list *l, const char *buf, size_t len, const char *src, const char *default_host)
{
    unsigned si = list_src(l, src);
    size_t added = 0, pos = 0;
    unsigned line = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        line++;
        struct ev_event e;
        int r = ev_parse_line(buf + pos, ll, default_host, &e, &l->truncated);
        if (r > 0) {
            e.src = si;
            e.line = line;
            added += list_push(l, &e);
        } else if (r < 0) {
            l->malformed++;
        } else {
            size_t k = 0;
            while (k < ll && (buf[pos + k] == ' ' || buf[pos + k] == '\t' || buf[pos + k] == '\r'))
                k++;
            if (k < ll)
                l->other++;
        }
        pos += ll + 1;
    }
    return added;
}

/* split on runs of spaces; returns the number of words (at most max) */
static size_t words(const char *s, size_t len, const char **w, size_t *wl, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= len)
            break;
        size_t st = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        w[n] = s + st;
        wl[n++] = i - st;
    }
    return n;
}

static bool all_digits(const char *s, size_t n, bool dot)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (dot && s[i] == '.')))
            return false;
    return true;
}

size_t ev_list_add_access_log(struct ev_list *l, const char *buf, size_t len, const char *src, const char *host)
{
    unsigned si = list_src(l, src);
    size_t added = 0, pos = 0;
    unsigned line = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        const char *s = buf + pos;
        pos += ll + 1;
        line++;
        const char *w[12];
        size_t wl[12];
        size_t n = words(s, ll, w, wl, 12);
        if (!n)
            continue;
        if (ll > EV_MAX_LINE || n < 9 || !all_digits(w[0], wl[0], true) || !all_digits(w[1], wl[1], false) ||
            !memchr(w[3], '/', wl[3]) || wl[0] > 24 || wl[1] > 12) {
            l->malformed++;
            continue;
        }
        char num[32];
        memcpy(num, w[0], wl[0]);
        num[wl[0]] = '\0';
        double end = strtod(num, NULL);
        memcpy(num, w[1], wl[1]);
        num[wl[1]] = '\0';
        double elapsed = strtod(num, NULL);
        const char *slash = memchr(w[3], '/', wl[3]);
        const char *hs = memchr(w[8], '/', wl[8]);
        struct pair p[16];
        size_t np = 0;
        p[np++] = (struct pair){"host", host, 4, strlen(host)};
        p[np++] = (struct pair){"comp", "squid-access", 4, 12};
        p[np++] = (struct pair){"level", "info", 5, 4};
        p[np++] = (struct pair){"event", "proxy.access", 5, 12};
        p[np++] = (struct pair){"client", w[2], 6, wl[2]};
        p[np++] = (struct pair){"method", w[5], 6, wl[5]};
        p[np++] = (struct pair){"target", w[6], 6, wl[6]};
        p[np++] = (struct pair){"status", slash + 1, 6, (size_t)(w[3] + wl[3] - slash - 1)};
        p[np++] = (struct pair){"code", w[3], 4, (size_t)(slash - w[3])};
        p[np++] = (struct pair){"bytes", w[4], 5, wl[4]};
        p[np++] = (struct pair){"user", w[7], 4, wl[7]};
        if (hs)
            p[np++] = (struct pair){"upstream", hs + 1, 8, (size_t)(w[8] + wl[8] - hs - 1)};
        p[np++] = (struct pair){"elapsed_ms", w[1], 10, wl[1]};
        struct ev_event e;
        if (ev_make(&e, end - elapsed / 1000.0, p, np) < 0) {
            l->malformed++;
            continue;
        }
        e.src = si;
        e.line = line;
        e.flags |= EV_F_SYNTH;
        added += list_push(l, &e);
    }
    return added;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ev_event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void ev_list_sort(struct ev_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), ev_cmp);
}

void ev_list_rebase(struct ev_list *l, double t0)
{
    for (size_t i = 0; i < l->n; i++)
        l->v[i].t = l->v[i].ts - t0;
}

void ev_list_free(struct ev_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ev_event_free(&l->v[i]);
    free(l->v);
    for (size_t i = 0; i < l->nsrcs; i++)
        free(l->srcs[i]);
    free(l->srcs);
    memset(l, 0, sizeof(*l));
}

/* ---- classification ---------------------------------------------------------------------------- */

/* How a rule finds the step. */
enum {
    S_FIELD = -1,    /* the event's step= field */
    S_SZTP = -2,     /* router sZTP state (field to=, or state=) */
    S_COND = -3,     /* router conductor state (field to=) */
    S_TASK = -4,     /* conductor task name (field task=) */
    S_ROLE = -5,     /* conductor: 5 on a staging conductor, 12 on a production one */
    S_INV = -6,      /* conductor inventory state (field to=) */
    S_INHERIT = -7,  /* the step of the host's previous event (https.*: of the request's start) */
    S_PROXY = -8,    /* a proxy's tunnel: the step of the router request it carried (ev_model_build) */
    S_SZTPWORK = -9, /* router sZTP request/failure: the step the state works on (field state=) */
};

enum { D_SELF = 0x8000 }; /* done mask: the event's own step */

struct rule {
    const char *event;            /* exact, or a prefix ending in '*' */
    const char *comp;             /* NULL: any */
    const char *key, *val;        /* condition: field key == val ("!v": != v; NULL val: present) */
    int8_t step;
    uint16_t done;
    uint8_t flags;
    const char *what;             /* for the README */
};

#define FAIL EV_F_FAIL
#define QUIET EV_F_QUIET

static const struct rule rules[] = {
    /* router node (ssr-node): proxy discovery, step 1 */
    {"dhcp.start", "ssr-node", NULL, NULL, 1, 0, QUIET, "DHCP client of a network-interface starts"},
    {"dhcpc.open", "ssr-node", NULL, NULL, 1, 0, QUIET, "DHCP client socket"},
    {"dhcpc.state", "ssr-node", NULL, NULL, 1, 0, QUIET, "DHCP client state from -> to"},
    {"dhcpc.netlink", "ssr-node", NULL, NULL, 1, 0, QUIET, "address/route applied"},
    {"dhcpc.send", "ssr-node", NULL, NULL, 1, 0, 0, "DISCOVER/REQUEST sent (type xid dst)"},
    {"dhcpc.offer", "ssr-node", NULL, NULL, 1, 0, 0, "OFFER received (addr server vendor_opts)"},
    {"dhcpc.bound", "ssr-node", NULL, NULL, 1, 0, 0, "ACK: lease bound (addr router server vendor_opts)"},
    {"dhcpc.nak", "ssr-node", NULL, NULL, 1, 0, FAIL, "NAK received"},
    {"dhcpc.request_timeout", "ssr-node", NULL, NULL, 1, 0, FAIL, "no ACK"},
    {"dhcpc.*", "ssr-node", NULL, NULL, 1, 0, 0, "other DHCP client events"},
    {"proxy.learned", "ssr-node", NULL, NULL, 1, 0, 0, "Option 43 sub-option 128 learned (proxy network-interface)"},
    {"proxy.rejected", "ssr-node", NULL, NULL, 1, 0, FAIL, "unusable Option 43 value (reason)"},
    {"proxy.selected", "ssr-node", "active", "!none", 1, D_SELF, 0, "active management proxy (active source)"},
    {"proxy.changed", "ssr-node", "new", "!none", 1, D_SELF, 0, "active management proxy changed (old new source)"},
    {"proxy.lease_state", "ssr-node", NULL, NULL, 1, 0, QUIET, "lease state of a learned proxy"},
    {"proxy.*", "ssr-node", NULL, NULL, 1, 0, 0, "proxy dropped/expired/ignored/none selected"},
    {"ha.*", "ssr-node", NULL, NULL, 1, 0, 0, "HA peer up/down, learned proxies exchanged"},
    /* simple phone-home (without --sztp), step 2 */
    {"phonehome.ok", "ssr-node", NULL, NULL, 2, UPTO(2), 0, "EP terminator reached through the proxy"},
    {"phonehome.failed", "ssr-node", NULL, NULL, 2, 0, FAIL, "phone-home failed (class error proxy_status)"},
    {"phonehome.attempt", "ssr-node", NULL, NULL, 2, 0, 0, "phone-home attempt (proxy url)"},
    {"phonehome.start", "ssr-node", NULL, NULL, 0, 0, QUIET, "phone-home client configured (url proxy)"},
    {"phonehome.state", "ssr-node", "to", "waiting-for-proxy", 0, 0, QUIET, "waiting for an active proxy (step 1)"},
    {"phonehome.*", "ssr-node", NULL, NULL, 2, 0, QUIET, "phone-home state"},
    /* sZTP client, steps 1-5 */
    {"sztp.state", "ssr-node", NULL, NULL, S_SZTP, 0, 0, "sZTP state from -> to (step)"},
    {"sztp.resume", "ssr-node", NULL, NULL, S_SZTP, 0, 0, "resumed at a persisted state"},
    {"sztp.start", "ssr-node", NULL, NULL, S_FIELD, 0, QUIET, "sZTP client starts (device state step)"},
    {"sztp.request", "ssr-node", NULL, NULL, S_SZTPWORK, 0, QUIET, "request of the step its state works on (method url proxy)"},
    {"sztp.failed", "ssr-node", NULL, NULL, S_SZTPWORK, 0, FAIL, "the step its state works on failed (state class status error)"},
    {"sztp.redirected", "ssr-node", NULL, NULL, 3, UPTO(3), 0, "redirect received (redirect environment org)"},
    {"sztp.tpm", "ssr-node", NULL, NULL, 4, 0, QUIET, "TPM opened"},
    {"sztp.ocra", "ssr-node", NULL, NULL, 4, 0, 0, "OCRA response computed in the TPM (suite mode)"},
    {"sztp.authenticated", "ssr-node", NULL, NULL, 4, UPTO(4), 0, "cloud verified, server response checked"},
    {"sztp.replay", "ssr-node", NULL, NULL, 4, 0, 0, "lab fault replay-response: the cloud's verdict"},
    {"sztp.onboarding", "ssr-node", NULL, NULL, 5, 0, 0, "onboarding data received (conductor org site root_ca)"},
    {"sztp.root_ca", "ssr-node", NULL, NULL, 5, 0, 0, "root CA installed (path)"},
    {"sztp.secret", "ssr-node", NULL, NULL, 5, 0, 0, "pre-shared secret sealed to the TPM (path)"},
    {"sztp.done", "ssr-node", NULL, NULL, 5, UPTO(5), 0, "sZTP done (device org conductor)"},
    {"sztp.recheck", "ssr-node", "result", "failed", 2, 0, FAIL, "phone home again through a new proxy failed"},
    {"sztp.recheck", "ssr-node", NULL, NULL, 2, 0, 0, "phone home again through a new proxy"},
    {"sztp.*", "ssr-node", NULL, NULL, S_INHERIT, 0, 0, "other sZTP events"},
    /* conductor client (issue 6), steps 5-12 */
    {"conductor.state", "ssr-node", NULL, NULL, S_COND, 0, 0, "conductor client state from -> to (step)"},
    {"conductor.start", "ssr-node", NULL, NULL, S_COND, 0, QUIET, "conductor client starts (identity state)"},
    {"conductor.*", "ssr-node", "result", "failed", S_INHERIT, 0, FAIL, "a conductor step failed"},
    {"conductor.*", "ssr-node", "result", "fail", S_INHERIT, 0, FAIL, "a conductor step failed"},
    {"conductor.failed", "ssr-node", NULL, NULL, S_INHERIT, 0, FAIL, "a conductor step failed"},
    {"conductor.*", "ssr-node", NULL, NULL, S_INHERIT, 0, 0, "other conductor client events"},
    /* the router's HTTPS client: the step of the request */
    {"https.failed", "ssr-node", NULL, NULL, S_INHERIT, 0, FAIL, "request failed (class failed_in proxy_status error)"},
    {"https.proxy_response", "ssr-node", NULL, NULL, S_INHERIT, 0, FAIL, "the proxy refused the CONNECT (status)"},
    {"https.state", "ssr-node", NULL, NULL, S_INHERIT, 0, QUIET, "request state from -> to"},
    {"https.start", "ssr-node", NULL, NULL, S_INHERIT, 0, QUIET, "request starts (method url proxy)"},
    {"https.*", "ssr-node", NULL, NULL, S_INHERIT, 0, 0, "CONNECT tunnel, TLS, response (https.tunnel/tls/done)"},
    {"tpm.*", "ssr-node", NULL, NULL, S_INHERIT, 0, QUIET, "TPM operations"},
    /* DHCP server */
    {"dhcp.exchange", NULL, "reply", "ACK", 1, D_SELF, 0, "message received and answered (msg reply yiaddr proxy)"},
    {"dhcp.exchange", NULL, "reply", "NAK", 1, 0, FAIL, "NAK sent"},
    {"dhcp.exchange", NULL, NULL, NULL, 1, 0, 0, "message received and answered (msg reply yiaddr proxy)"},
    {"lease.state", NULL, NULL, NULL, 1, 0, QUIET, "lease state (addr old new)"},
    {"dhcp.drop", NULL, NULL, NULL, 1, 0, 0, "packet dropped (reason)"},
    /* proxies: the step of the router request they carried */
    {"proxy.request", NULL, "verdict", "!allow", S_PROXY, 0, FAIL, "request refused (client method target status)"},
    {"proxy.request", NULL, NULL, NULL, S_PROXY, 0, 0, "request/tunnel done (client method target status upstream bytes)"},
    {"proxy.access", NULL, NULL, NULL, S_PROXY, 0, 0, "Squid access.log line (client method target status code)"},
    /* Mist: EP terminator and org cloud */
    {"device.phone-home", NULL, "verdict", "unclaimed", 2, 0, FAIL, "device not claimed (retry_after)"},
    {"device.phone-home", NULL, NULL, NULL, 3, D_SELF, 0, "redirect (device verdict environment org redirect)"},
    {"device.challenge", NULL, NULL, NULL, 4, 0, 0, "OCRA challenge issued (device suite challenge_id)"},
    {"device.verify", NULL, "result", "ok", 4, D_SELF, 0, "OCRA response verified (mode)"},
    {"device.verify", NULL, NULL, NULL, 4, 0, FAIL, "OCRA response refused (reason failures)"},
    {"device.locked", NULL, NULL, NULL, 4, 0, FAIL, "device locked (failures lockout_seconds)"},
    {"device.refused", NULL, NULL, NULL, 4, 0, FAIL, "request of a locked device refused"},
    {"device.unknown", NULL, NULL, NULL, 4, 0, FAIL, "unknown device"},
    {"device.onboarding", NULL, "result", "served", 5, D_SELF, 0, "onboarding data served (conductor root_ca)"},
    {"device.onboarding", NULL, NULL, NULL, 5, 0, FAIL, "onboarding data refused (reason)"},
    {"http.request", NULL, NULL, NULL, S_INHERIT, 0, QUIET, "one line per HTTP request (method path status)"},
    {"http.mhd", NULL, NULL, NULL, S_INHERIT, 0, 0, "libmicrohttpd messages (TLS failures)"},
    /* conductors (issue 6) */
    {"router.challenge", NULL, NULL, NULL, S_ROLE, 0, 0, "PSK challenge issued (router node)"},
    {"router.auth", NULL, "result", "ok", S_ROLE, D_SELF, 0, "PSK authentication ok"},
    {"router.auth", NULL, NULL, NULL, S_ROLE, 0, FAIL, "PSK authentication refused (reason)"},
    {"router.locked", NULL, NULL, NULL, S_ROLE, 0, FAIL, "router locked"},
    {"router.task", NULL, NULL, NULL, S_TASK, 0, 0, "task given (node task)"},
    {"router.csr", NULL, "result", "signed", 8, D_SELF, 0, "certificate signed (serial identity)"},
    {"router.csr", NULL, NULL, NULL, 8, 0, FAIL, "CSR rejected (reason)"},
    {"router.ack", NULL, "result", "failed", S_TASK, 0, FAIL, "task failed on the router"},
    {"router.ack", NULL, NULL, NULL, S_TASK, D_SELF, 0, "task acknowledged (task result)"},
    {"router.state", NULL, NULL, NULL, S_INV, 0, 0, "inventory state (router node from to)"},
    /* hub (issue 6) */
    {"svr.peered", NULL, NULL, NULL, 9, D_SELF, 0, "SVR peering up (peer identity addr)"},
    {"svr.refused", NULL, NULL, NULL, 9, 0, FAIL, "SVR peering refused (reason addr)"},
    {"svr.line", NULL, "result", "dropped", 9, 0, FAIL, "bad line from a peer"},
    {"svr.*", NULL, NULL, NULL, 9, 0, 0, "SVR peering (closed, keepalive, tls)"},
};

#undef FAIL
#undef QUIET

/* A state (or task) of a component's state machine -> the step it is at (and the steps it has done). */
struct state_step {
    const char *state;
    int8_t step;
    uint16_t done;
};

/* the step a state works on: its requests and failures belong to it (redirected -> the OCRA auth) */
static const struct state_step sztp_work[] = {
    {"init", 1, 0}, {"proxy-ready", 2, 0}, {"phoning-home", 2, 0}, {"redirected", 4, 0}, {"authenticated", 5, 0},
    {"onboarding-received", 5, 0}, {"root-ca-installed", 5, 0}, {"secret-stored", 2, 0},
};

static const struct state_step sztp_states[] = {
    {"init", 0, 0},
    {"proxy-ready", 1, UPTO(1)},
    {"phoning-home", 2, UPTO(1)},
    {"redirected", 3, UPTO(3)},
    {"authenticated", 4, UPTO(4)},
    {"onboarding-received", 5, UPTO(4)},
    {"root-ca-installed", 5, UPTO(4)},
    {"secret-stored", 5, UPTO(5)},
};

/* the router's conductor client (issue 6 spec) */
static const struct state_step cond_states[] = {
    {"idle", 0, 0},
    {"staging-auth", 5, UPTO(4)},
    {"staging-connected", 5, UPTO(5)},
    {"production-received", 6, UPTO(6) | BIT(10) | BIT(11)},
    {"key-created", 7, UPTO(7) | BIT(10) | BIT(11)},
    {"certified", 8, UPTO(8) | BIT(10) | BIT(11)},
    {"svr-configured", 9, UPTO(11)},
    {"migrating", 12, UPTO(11)},
    {"production-connected", 12, UPTO(12)},
};

static const struct state_step tasks[] = {
    {"production", 6, 0}, {"generate-key", 7, 0}, {"csr", 8, 0}, {"svr-config", 9, 0}, {"migrate", 12, 0},
    {"heartbeat", 12, 0},
};

static const struct state_step inv_states[] = {
    {"pending", 0, 0}, {"onboarding", 5, BIT(5)}, {"certified", 8, BIT(8)}, {"migrated", 12, BIT(12)},
    {"connected", 12, BIT(12)},
};

/* the row of table t (n rows) for state v; NULL when v is NULL or not in it */
static const struct state_step *state_find(const struct state_step *t, size_t n, const char *v)
{
    for (size_t k = 0; v && k < n; k++)
        if (!strcmp(v, t[k].state))
            return &t[k];
    return NULL;
}

/* a state machine's transition event names the new state "to"; a snapshot names it "state" */
static const char *state_of(const struct ev_event *e)
{
    const char *v = ev_get(e, "to");
    return v ? v : ev_get(e, "state");
}

size_t ev_rules(const struct ev_rule_info **out)
{
    static struct ev_rule_info info[ARRAY_LEN(rules)];
    static char conds[ARRAY_LEN(rules)][64];
    for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
        const struct rule *r = &rules[i];
        conds[i][0] = '\0';
        if (r->key)
            snprintf(conds[i], sizeof(conds[i]), "%s%s%s", r->key, r->val && r->val[0] == '!' ? "!=" : "=",
                     r->val ? (r->val[0] == '!' ? r->val + 1 : r->val) : "*");
        info[i] = (struct ev_rule_info){r->event, r->comp, conds[i], r->what, r->step > 0 ? (unsigned)r->step : 0};
    }
    *out = info;
    return ARRAY_LEN(rules);
}

static bool rule_match(const struct rule *r, const struct ev_event *e)
{
    size_t n = strlen(r->event);
    if (r->event[n - 1] == '*') {
        if (strncmp(e->event, r->event, n - 1) != 0)
            return false;
    } else if (strcmp(e->event, r->event) != 0) {
        return false;
    }
    if (r->comp && strcmp(r->comp, e->comp) != 0)
        return false;
    if (r->key) {
        const char *v = ev_get(e, r->key);
        if (!v)
            return false;
        if (r->val && r->val[0] == '!')
            return strcmp(v, r->val + 1) != 0;
        if (r->val && strcmp(v, r->val) != 0)
            return false;
    }
    return true;
}

static int field_step(const struct ev_event *e)
{
    const char *s = ev_get(e, "step");
    if (!s || !*s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > EV_STEPS ? 0 : (int)v;
}

/* per-host memory while classifying */
struct hostmem {
    const char *host;
    int last, last_sztp, last_cond;
    char role[16];
};
struct reqmem {
    const char *host;
    char id[16];
    int step;
};

static struct hostmem *hm_get(struct hostmem *hm, size_t *n, size_t cap, const char *host)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(hm[i].host, host))
            return &hm[i];
    if (*n >= cap)
        return &hm[cap - 1];
    hm[*n] = (struct hostmem){.host = host};
    return &hm[(*n)++];
}

void ev_classify(struct ev_list *l)
{
    struct hostmem hm[EV_MAX_LANES];
    size_t nhm = 0;
    struct reqmem rq[256];
    size_t nrq = 0;
    memset(rq, 0, sizeof(rq));
    /* the conductors' roles first (a role= field anywhere in a host's events) */
    for (size_t i = 0; i < l->n; i++) {
        const char *role = ev_get(&l->v[i], "role");
        if (role && (!strcmp(role, "staging") || !strcmp(role, "production"))) {
            struct hostmem *h = hm_get(hm, &nhm, ARRAY_LEN(hm), l->v[i].host);
            if (!h->role[0])
                snprintf(h->role, sizeof(h->role), "%s", role);
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct ev_event *e = &l->v[i];
        struct hostmem *h = hm_get(hm, &nhm, ARRAY_LEN(hm), e->host);
        e->rule = -1;
        e->step = 0;
        e->done = 0;
        e->flags &= EV_F_SYNTH;
        if (!strcmp(e->level, "warn") || !strcmp(e->level, "error"))
            e->flags |= EV_F_WARN;
        const struct rule *r = NULL;
        for (size_t k = 0; k < ARRAY_LEN(rules); k++)
            if (rule_match(&rules[k], e)) {
                r = &rules[k];
                e->rule = (int16_t)k;
                break;
            }
        int step = 0;
        uint16_t done = 0;
        if (!r) {
            step = field_step(e);
            const char *res = ev_get(e, "result");
            if (res && (!strcmp(res, "fail") || !strcmp(res, "failed") || !strcmp(res, "refused")))
                e->flags |= EV_F_FAIL;
        } else {
            e->flags |= r->flags;
            done = r->done & (uint16_t)~D_SELF;
            const char *v;
            const struct state_step *ss;
            switch (r->step) {
            case S_FIELD: step = field_step(e); break;
            case S_SZTP:
            case S_COND:
                step = field_step(e);
                ss = r->step == S_SZTP ? state_find(sztp_states, ARRAY_LEN(sztp_states), state_of(e))
                                       : state_find(cond_states, ARRAY_LEN(cond_states), state_of(e));
                if (ss) {
                    step = ss->step;
                    done = ss->done;
                }
                break;
            case S_SZTPWORK:
                step = field_step(e);
                if ((ss = state_find(sztp_work, ARRAY_LEN(sztp_work), ev_get(e, "state"))))
                    step = ss->step;
                break;
            case S_INV:
                if ((ss = state_find(inv_states, ARRAY_LEN(inv_states), ev_get(e, "to")))) {
                    step = ss->step;
                    done = ss->done;
                }
                break;
            case S_TASK:
                v = ev_get(e, "task");
                if ((ss = state_find(tasks, ARRAY_LEN(tasks), v)))
                    step = ss->step;
                if (v && !strcmp(v, "none"))
                    step = !strcmp(h->role, "production") ? 12 : h->last;
                break;
            case S_ROLE: step = !strcmp(h->role, "production") ? 12 : 5; break;
            case S_INHERIT: {
                const char *id = !strncmp(e->event, "https.", 6) ? ev_get(e, "id") : NULL;
                if (id && !strcmp(e->event, "https.start")) {
                    const char *tag = ev_get(e, "tag");
                    step = h->last;
                    if (tag && !strcmp(tag, "phonehome"))
                        step = 2;
                    else if (tag && !strncmp(tag, "sztp", 4) && h->last_sztp)
                        step = h->last_sztp;
                    else if (tag && strstr(tag, "conductor") && h->last_cond)
                        step = h->last_cond;
                    struct reqmem *q = &rq[nrq++ % ARRAY_LEN(rq)];
                    q->host = e->host;
                    snprintf(q->id, sizeof(q->id), "%s", id);
                    q->step = step;
                } else if (id) {
                    step = h->last;
                    for (size_t k = 0; k < ARRAY_LEN(rq); k++)
                        if (rq[k].host && !strcmp(rq[k].host, e->host) && !strcmp(rq[k].id, id))
                            step = rq[k].step;
                } else {
                    step = field_step(e);
                    if (!step)
                        step = h->last;
                }
                break;
            }
            case S_PROXY: step = 0; break;
            default: step = r->step; break;
            }
            if (r->done & D_SELF && step > 0)
                done |= BIT(step);
        }
        if (r && r->step == S_PROXY) {
            /* a proxy's record: refused (4xx/5xx, or 000 for a reset) is a failure */
            const char *st = ev_get(e, "status");
            const char *vd = ev_get(e, "verdict");
            if ((st && (atoi(st) >= 400 || !strcmp(st, "000"))) || (vd && strcmp(vd, "allow")))
                e->flags |= EV_F_FAIL;
        }
        if (step < 0 || step > EV_STEPS)
            step = 0;
        e->step = (uint8_t)step;
        e->done = done;
        if (step > 0 && strncmp(e->event, "https.", 6) != 0 && strcmp(e->event, "http.request") != 0 &&
            strncmp(e->event, "tpm.", 4) != 0) {
            h->last = step;
            if (!strncmp(e->event, "sztp.", 5))
                h->last_sztp = step;
            if (!strncmp(e->event, "conductor.", 10))
                h->last_cond = step;
        }
    }
}

/* ---- the model ------------------------------------------------------------------------------------ */

static enum ev_lane_kind kind_of(const char *kind, const char *comp)
{
    static const struct { const char *s; enum ev_lane_kind k; } kinds[] = {
        {"ssr-node", EV_LANE_NODE},        {"dhcp-server", EV_LANE_DHCP},     {"proxy", EV_LANE_PROXY},
        {"ep-terminator", EV_LANE_EPT},    {"https-server", EV_LANE_EPT},     {"mist", EV_LANE_MIST},
        {"conductor", EV_LANE_CONDUCTOR},  {"hub", EV_LANE_HUB},              {"mock-dhcpd", EV_LANE_DHCP},
        {"dnsmasq", EV_LANE_DHCP},         {"kea", EV_LANE_DHCP},             {"mock-proxy", EV_LANE_PROXY},
        {"squid-access", EV_LANE_PROXY},   {"squid", EV_LANE_PROXY},          {"tinyproxy", EV_LANE_PROXY},
        {"mock-ep-terminator", EV_LANE_EPT}, {"mock-mist", EV_LANE_MIST},     {"mock-conductor", EV_LANE_CONDUCTOR},
        {"mock-hub", EV_LANE_HUB},
    };
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass ? comp : kind;
        if (!s || !*s)
            continue;
        for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
            if (!strcmp(s, kinds[i].s))
                return kinds[i].k;
        if (strstr(s, "conductor"))
            return EV_LANE_CONDUCTOR;
    }
    return EV_LANE_OTHER;
}

int ev_lane_find(const struct ev_model *m, const char *name)
{
    for (size_t i = 0; i < m->nlanes; i++)
        if (!strcmp(m->lanes[i].name, name))
            return (int)i;
    return -1;
}

static int lane_add(struct ev_model *m, const char *name, const char *kind, const char *comp, enum ev_lane_kind lk)
{
    int i = ev_lane_find(m, name);
    if (i >= 0) {
        struct ev_lane *ln = &m->lanes[i];
        if (comp && *comp && strcmp(comp, "-") && !ln->comp[0])
            snprintf(ln->comp, sizeof(ln->comp), "%s", comp);
        if (ln->lk == EV_LANE_OTHER && lk != EV_LANE_OTHER)
            ln->lk = lk;
        return i;
    }
    if (m->nlanes >= EV_MAX_LANES)
        return (int)EV_MAX_LANES - 1;
    struct ev_lane *ln = &m->lanes[m->nlanes];
    memset(ln, 0, sizeof(*ln));
    snprintf(ln->name, sizeof(ln->name), "%s", name);
    snprintf(ln->kind, sizeof(ln->kind), "%s", kind && *kind ? kind : (comp && strcmp(comp, "-") ? comp : ""));
    if (comp && strcmp(comp, "-"))
        snprintf(ln->comp, sizeof(ln->comp), "%s", comp);
    ln->lk = lk;
    for (int k = 0; k <= EV_STEPS; k++)
        ln->steps[k] = (struct ev_stepstat){.first = -1, .last = -1, .done = -1, .last_fail = -1};
    return (int)m->nlanes++;
}

/* string -> lane maps */
struct smap {
    char key[80];
    int lane;
};
struct maps {
    struct smap *addr, *name, *dev, *ident, *xid;
    size_t naddr, nname, ndev, nident, nxid;
};

static void map_put(struct smap **m, size_t *n, const char *key, size_t kl, int lane)
{
    if (!key || !kl || lane < 0 || kl >= sizeof((*m)->key))
        return;
    for (size_t i = 0; i < *n; i++)
        if (strlen((*m)[i].key) == kl && !strncmp((*m)[i].key, key, kl))
            return;
    if (*n % 64 == 0) {
        struct smap *nm = realloc(*m, (*n + 64) * sizeof(**m));
        if (!nm)
            abort();
        *m = nm;
    }
    memcpy((*m)[*n].key, key, kl);
    (*m)[*n].key[kl] = '\0';
    (*m)[*n].lane = lane;
    (*n)++;
}

static int map_get(const struct smap *m, size_t n, const char *key, size_t kl)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(m[i].key) == kl && !strncmp(m[i].key, key, kl))
            return m[i].lane;
    return -1;
}

/* "198.18.1.8:3128" -> "198.18.1.8"; "198.18.1.100/24" -> "198.18.1.100"; "[::1]:80" -> "::1" */
static size_t host_part(const char *s, const char **start)
{
    *start = s;
    if (*s == '[') {
        const char *e = strchr(s, ']');
        *start = s + 1;
        return e ? (size_t)(e - s - 1) : strlen(s + 1);
    }
    size_t n = strcspn(s, "/");
    const char *c = memchr(s, ':', n);
    if (c && !memchr(c + 1, ':', n - (size_t)(c + 1 - s)))
        n = (size_t)(c - s);
    return n;
}

static void put_addr(struct maps *mp, const char *v, int lane)
{
    if (!v)
        return;
    const char *s;
    size_t n = host_part(v, &s);
    map_put(&mp->addr, &mp->naddr, s, n, lane);
}

/* A known address or name -> its lane, -1 (no guessing, no new lane). */
static int resolve_known(const struct maps *mp, const char *v)
{
    if (!v || !*v)
        return -1;
    const char *h;
    size_t n = host_part(v, &h);
    int l = map_get(mp->addr, mp->naddr, h, n);
    return l >= 0 ? l : map_get(mp->name, mp->nname, h, n);
}

static int count_kind(const struct ev_model *m, enum ev_lane_kind k, int *only)
{
    int n = 0;
    for (size_t i = 0; i < m->nlanes; i++)
        if (m->lanes[i].lk == k) {
            n++;
            *only = (int)i;
        }
    return n;
}

/* A peer named by address, name, URL, device id or identity -> its lane (an external lane if unknown). */
static int resolve(struct ev_model *m, struct maps *mp, const char *v, enum ev_lane_kind hint)
{
    if (!v || !*v || !strcmp(v, "-") || !strcmp(v, "none"))
        return -1;
    const char *s = v;
    if (!strncmp(s, "https://", 8))
        s += 8;
    else if (!strncmp(s, "http://", 7))
        s += 7;
    const char *h;
    size_t n = host_part(s, &h);
    size_t pl = strcspn(h, "/");
    if (pl < n)
        n = pl;
    int l;
    if ((l = map_get(mp->addr, mp->naddr, h, n)) >= 0 || (l = map_get(mp->name, mp->nname, h, n)) >= 0 ||
        (l = map_get(mp->dev, mp->ndev, h, n)) >= 0 || (l = map_get(mp->ident, mp->nident, h, n)) >= 0)
        return l;
    char key[80];
    snprintf(key, sizeof(key), "%.*s", (int)(n < 79 ? n : 79), h);
    if ((l = ev_lane_find(m, key)) >= 0)
        return l;
    int only = -1;
    if (strstr(key, "ep-terminator") && count_kind(m, EV_LANE_EPT, &only) == 1)
        return only;
    if (hint != EV_LANE_OTHER && hint != EV_LANE_EXTERNAL && count_kind(m, hint, &only) == 1)
        return only;
    l = lane_add(m, key, "external", "", EV_LANE_EXTERNAL);
    return l;
}

static int arrow_find(struct ev_model *m, const char *key)
{
    if (!key[0])
        return -1;
    size_t from = m->narrows > 1024 ? m->narrows - 1024 : 0;
    for (size_t i = m->narrows; i-- > from;)
        if (!strcmp(m->arrows[i].key, key))
            return (int)i;
    return -1;
}

/* Add an arrow, or merge it into the one with the same key (earliest time, longest label). */
static int arrow_add(struct ev_model *m, double t, int from, int to, int ev, int step, unsigned flags, const char *key,
                     const char *label, const char *detail)
{
    if (from < 0 || to < 0)
        return -1;
    int k = key ? arrow_find(m, key) : -1;
    if (k >= 0) {
        struct ev_arrow *a = &m->arrows[k];
        if (t < a->t)
            a->t = t;
        if (strlen(label) > strlen(a->label))
            snprintf(a->label, sizeof(a->label), "%s", label);
        if (detail && strlen(detail) > strlen(a->detail))
            snprintf(a->detail, sizeof(a->detail), "%s", detail);
        a->flags |= (uint8_t)flags;
        if (!a->step)
            a->step = (uint8_t)step;
        return k;
    }
    if (m->narrows >= EV_MAX_ARROWS) {
        m->arrows_dropped++;
        return -1;
    }
    if (m->narrows == m->cap_arrows) {
        size_t nc = m->cap_arrows ? m->cap_arrows * 2 : 64;
        struct ev_arrow *na = realloc(m->arrows, nc * sizeof(*na));
        if (!na)
            abort();
        m->arrows = na;
        m->cap_arrows = nc;
    }
    struct ev_arrow *a = &m->arrows[m->narrows];
    memset(a, 0, sizeof(*a));
    a->t = t;
    a->from = from;
    a->to = to;
    a->ev = ev;
    a->ord = (unsigned)m->narrows;
    a->step = (uint8_t)step;
    a->flags = (uint8_t)flags;
    snprintf(a->key, sizeof(a->key), "%s", key ? key : "");
    snprintf(a->label, sizeof(a->label), "%s", label);
    snprintf(a->detail, sizeof(a->detail), "%s", detail ? detail : "");
    m->lanes[from].used = m->lanes[to].used = true;
    return (int)m->narrows++;
}

static const char *g(const struct ev_event *e, const char *k)
{
    const char *v = ev_get(e, k);
    return v ? v : "";
}

/* Option 43 as the router logs it (vendor_opts, unescaped bytes): sub-option 128's text. */
static void opt43_proxy(const char *v, char *dst, size_t cap)
{
    dst[0] = '\0';
    const unsigned char *p = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t i = 0; i + 1 < n;) {
        unsigned code = p[i], l = p[i + 1];
        if (code == 0) {
            i++;
            continue;
        }
        if (code == 255 || i + 2 + l > n)
            break;
        if (code == 128) {
            snprintf(dst, cap, "%.*s", (int)l, (const char *)p + i + 2);
            return;
        }
        i += 2 + l;
    }
}

/* the path of a URL, at most cap-1 bytes */
static const char *url_path(const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    const char *p = strchr(s, '/');
    return p ? p : "/";
}

struct req {                     /* an HTTPS request of a router in flight */
    int lane;
    char id[16];
    char method[12];
    char path[96];
    char target[80];
    char auth[16];
    int tlane, plane;            /* the server's and the proxy's lanes */
    double t_req;                /* request sent (after TLS) */
    int reply;                   /* the proxy's answer to its CONNECT (arrow), -1 */
    bool used;
};

struct tunnel {                  /* a router's CONNECT, for matching the proxy's record */
    int node, proxy;
    char target[80];
    double t;
    int step;
};

static struct req *req_get(struct req *rq, size_t cap, int lane, const char *id, bool create)
{
    for (size_t i = 0; i < cap; i++)
        if (rq[i].used && rq[i].lane == lane && !strcmp(rq[i].id, id))
            return &rq[i];
    if (!create)
        return NULL;
    size_t best = 0;
    for (size_t i = 0; i < cap; i++)
        if (!rq[i].used) {
            best = i;
            break;
        } else if (rq[i].t_req < rq[best].t_req) {
            best = i;
        }
    memset(&rq[best], 0, sizeof(rq[best]));
    rq[best].used = true;
    rq[best].lane = lane;
    rq[best].tlane = rq[best].plane = rq[best].reply = -1;
    snprintf(rq[best].id, sizeof(rq[best].id), "%s", id);
    return &rq[best];
}

static int arrow_cmp(const void *a, const void *b)
{
    const struct ev_arrow *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static void stat_add(struct ev_lane *ln, const struct ev_event *e, int idx)
{
    for (int k = 1; k <= EV_STEPS; k++)
        if (e->done & BIT(k)) {
            if (ln->steps[k].done < 0)
                ln->steps[k].done = e->t;
            if (k > ln->highest_done)
                ln->highest_done = k;
        }
    if (!e->step)
        return;
    struct ev_stepstat *s = &ln->steps[e->step];
    if (s->first < 0)
        s->first = e->t;
    s->last = e->t;
    s->n++;
    if (e->flags & EV_F_FAIL) {
        s->nfail++;
        s->last_fail = idx;
    }
}

/* the k-th CONNECT of node to target through proxy, counted on each side */
struct ccount {
    int node, proxy, side;
    char target[80];
    unsigned n;
};

static unsigned connect_index(struct ccount *cc, size_t *ncc, size_t cap, int node, int proxy, const char *target,
                              int side)
{
    for (size_t i = 0; i < *ncc; i++)
        if (cc[i].node == node && cc[i].proxy == proxy && cc[i].side == side && !strcmp(cc[i].target, target))
            return ++cc[i].n;
    if (*ncc >= cap)
        return 0;
    cc[*ncc] = (struct ccount){.node = node, .proxy = proxy, .side = side, .n = 1};
    snprintf(cc[*ncc].target, sizeof(cc[*ncc].target), "%s", target);
    (*ncc)++;
    return 1;
}

void ev_model_build(struct ev_model *m, struct ev_list *l, const struct ev_hostinfo *hosts, size_t nhosts,
                    const struct ev_name *names, size_t nnames)
{
    memset(m, 0, sizeof(*m));
    m->l = l;
    /* lanes: the scenario's hosts, then hosts seen only in the logs; nodes first */
    for (size_t i = 0; i < nhosts; i++)
        lane_add(m, hosts[i].name, hosts[i].kind, "", kind_of(hosts[i].kind, hosts[i].impl));
    for (size_t i = 0; i < l->n; i++)
        lane_add(m, l->v[i].host, "", l->v[i].comp, kind_of(NULL, l->v[i].comp));
    /* nodes first, then DHCP servers, proxies, Mist, conductors, hub, others (a stable partition) */
    {
        struct ev_lane tmp[EV_MAX_LANES];
        size_t n = 0;
        for (int k = EV_LANE_NODE; k <= EV_LANE_EXTERNAL; k++)
            for (size_t i = 0; i < m->nlanes; i++)
                if (m->lanes[i].lk == (enum ev_lane_kind)k)
                    tmp[n++] = m->lanes[i];
        memcpy(m->lanes, tmp, n * sizeof(tmp[0]));
    }
    int *lane_of = calloc(l->n ? l->n : 1, sizeof(int));
    if (!lane_of)
        abort();
    for (size_t i = 0; i < l->n; i++) {
        lane_of[i] = ev_lane_find(m, l->v[i].host);
        if (lane_of[i] >= 0)
            m->lanes[lane_of[i]].used = true;
    }

    /* who is who: addresses, names, device ids, identities, DHCP transactions */
    struct maps mp = {0};
    for (size_t i = 0; i < nnames; i++) {
        int li = ev_lane_find(m, names[i].host);
        if (li >= 0)
            map_put(&mp.name, &mp.nname, names[i].name, strlen(names[i].name), li);
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct ev_event *e = &l->v[i];
        int li = lane_of[i];
        const char *ev = e->event;
        if (!strcmp(ev, "dhcpc.bound"))
            put_addr(&mp, ev_get(e, "addr"), li);
        else if (!strcmp(ev, "dhcpd.pool"))
            put_addr(&mp, ev_get(e, "server"), li);
        else if (!strcmp(ev, "proxy.listen") || !strcmp(ev, "ha.start") || !strcmp(ev, "daemon.ready") ||
                 !strcmp(ev, "daemon.listen"))
            put_addr(&mp, ev_get(e, !strcmp(ev, "proxy.listen") ? "addr" : "listen"), li);
        else if (!strcmp(ev, "sztp.start") || !strcmp(ev, "sztp.done")) {
            const char *d = ev_get(e, "device");
            if (d)
                map_put(&mp.dev, &mp.ndev, d, strlen(d), li);
        } else if (!strcmp(ev, "node.start")) {
            const char *r = ev_get(e, "router"), *n = ev_get(e, "node");
            if (r && n) {
                char id[80];
                int k = snprintf(id, sizeof(id), "%s.%s", r, n);
                map_put(&mp.ident, &mp.nident, id, (size_t)k, li);
            }
            if (n && strcmp(n, e->host))
                map_put(&mp.ident, &mp.nident, n, strlen(n), li);
        } else if (!strcmp(ev, "dhcpc.send")) {
            const char *x = ev_get(e, "xid");
            if (x)
                map_put(&mp.xid, &mp.nxid, x, strlen(x), li);
        }
    }
    /* names from what proxies saw: target name -> upstream address */
    for (size_t i = 0; i < l->n; i++) {
        const struct ev_event *e = &l->v[i];
        if (strcmp(e->event, "proxy.request") && strcmp(e->event, "proxy.access"))
            continue;
        const char *t = ev_get(e, "target"), *u = ev_get(e, "upstream");
        if (!t || !u)
            continue;
        const char *us;
        size_t un = host_part(u, &us);
        int li = map_get(mp.addr, mp.naddr, us, un);
        const char *ts;
        size_t tn = host_part(t, &ts);
        if (li >= 0)
            map_put(&mp.name, &mp.nname, ts, tn, li);
    }
    /* DHCP: which server answered a transaction */
    struct smap *xsrv = NULL;
    size_t nxsrv = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].event, "dhcp.exchange") && ev_get(&l->v[i], "xid"))
            map_put(&xsrv, &nxsrv, ev_get(&l->v[i], "xid"), strlen(ev_get(&l->v[i], "xid")), lane_of[i]);

    /* the routers' CONNECTs, for proxies' records whose client address is not known */
    struct tunnel *tun = NULL;
    size_t ntun = 0, captun = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct ev_event *e = &l->v[i];
        if (strcmp(e->event, "https.tunnel") && strcmp(e->event, "https.proxy_response"))
            continue;
        if (ntun == captun) {
            captun = captun ? captun * 2 : 32;
            struct tunnel *nt = realloc(tun, captun * sizeof(*nt));
            if (!nt)
                abort();
            tun = nt;
        }
        struct tunnel *t = &tun[ntun++];
        t->node = lane_of[i];
        t->proxy = resolve(m, &mp, ev_get(e, "proxy"), EV_LANE_PROXY);
        snprintf(t->target, sizeof(t->target), "%s", g(e, "target"));
        t->t = e->t;
        t->step = e->step;
    }

    /* arrows, in time order */
    const size_t rq_cap = 1024; /* requests in flight at once (a fleet's nodes onboarding together) */
    struct req *rq = calloc(rq_cap, sizeof(*rq));
    if (!rq)
        abort();
    const size_t cc_cap = 4096;
    struct ccount *cc = calloc(cc_cap, sizeof(*cc));
    size_t ncc = 0;
    if (!cc)
        abort();
    int last_sem[EV_MAX_LANES];      /* per router lane: the last server answer's arrow */
    for (size_t i = 0; i < EV_MAX_LANES; i++)
        last_sem[i] = -1;
    char key[96], label[128], detail[256];
    for (size_t i = 0; i < l->n; i++) {
        struct ev_event *e = &l->v[i];
        const char *ev = e->event;
        int me = lane_of[i];
        int step = e->step;
        unsigned fail = e->flags & EV_F_FAIL ? EV_A_FAIL : 0;
        if (me < 0)
            continue;
        /* ---- DHCP ---- */
        if (!strcmp(ev, "dhcpc.send")) {
            const char *type = g(e, "type"), *xid = g(e, "xid"), *dst = g(e, "dst");
            int srv = map_get(xsrv, nxsrv, xid, strlen(xid));
            if (srv < 0 && strcmp(dst, "broadcast"))
                srv = resolve(m, &mp, dst, EV_LANE_DHCP);
            if (srv < 0)
                srv = resolve(m, &mp, "dhcp-server", EV_LANE_DHCP);
            snprintf(key, sizeof(key), "dhcp:%s:%s:%d", xid, type, me);
            snprintf(label, sizeof(label), "DHCP%s", type);
            snprintf(detail, sizeof(detail), "xid=%s ifname=%s dst=%s try=%s", xid, g(e, "ifname"), dst, g(e, "try"));
            arrow_add(m, e->t, me, srv, (int)i, step, 0, key, label, detail);
            continue;
        }
        if (!strcmp(ev, "dhcpc.offer") || !strcmp(ev, "dhcpc.bound") || !strcmp(ev, "dhcpc.nak")) {
            const char *xid = g(e, "xid");
            const char *type = !strcmp(ev, "dhcpc.offer") ? "OFFER" : !strcmp(ev, "dhcpc.bound") ? "ACK" : "NAK";
            int srv = map_get(xsrv, nxsrv, xid, strlen(xid));
            if (srv < 0)
                srv = resolve(m, &mp, ev_get(e, "server") ? ev_get(e, "server") : "dhcp-server", EV_LANE_DHCP);
            char px[96];
            opt43_proxy(g(e, "vendor_opts"), px, sizeof(px));
            snprintf(key, sizeof(key), "dhcp:%s:%s:%d", xid, type, me);
            snprintf(label, sizeof(label), "DHCP%s %s%s%s", type, g(e, "addr"), px[0] ? " proxy " : "", px);
            snprintf(detail, sizeof(detail), "xid=%s lease=%s router=%s%s", xid, g(e, "lease"), g(e, "router"),
                     ev_get(e, "vendor_opts") ? (px[0] ? " option43 sub-option 128" : " option43 without 128") : " no option43");
            arrow_add(m, e->t, srv, me, (int)i, step, EV_A_REPLY | fail, key, label, detail);
            continue;
        }
        if (!strcmp(ev, "dhcp.exchange")) {
            const char *xid = g(e, "xid"), *msg = g(e, "msg"), *reply = g(e, "reply");
            int cl = map_get(mp.xid, mp.nxid, xid, strlen(xid));
            if (cl < 0)
                cl = resolve(m, &mp, g(e, "chaddr"), EV_LANE_OTHER);
            snprintf(key, sizeof(key), "dhcp:%s:%s:%d", xid, msg, cl);
            snprintf(label, sizeof(label), "DHCP%s", msg);
            snprintf(detail, sizeof(detail), "xid=%s chaddr=%s vendor_class=%s", xid, g(e, "chaddr"), g(e, "vendor_class"));
            arrow_add(m, e->t, cl, me, (int)i, step, 0, key, label, detail);
            if (*reply && strcmp(reply, "-") && strcmp(reply, "none")) {
                const char *px = g(e, "proxy");
                snprintf(key, sizeof(key), "dhcp:%s:%s:%d", xid, reply, cl);
                snprintf(label, sizeof(label), "DHCP%s %s%s%s", reply, g(e, "yiaddr"),
                         *px && strcmp(px, "-") ? " proxy " : "", *px && strcmp(px, "-") ? px : "");
                snprintf(detail, sizeof(detail), "xid=%s lease=%s opt43=%s reason=%s", xid, g(e, "lease"), g(e, "opt43"),
                         g(e, "reason"));
                arrow_add(m, e->t, me, cl, (int)i, step, EV_A_REPLY | (!strcmp(reply, "NAK") ? EV_A_FAIL : 0), key, label,
                          detail);
            }
            continue;
        }
        /* ---- HA ---- */
        if (!strcmp(ev, "ha.peer.up") || !strcmp(ev, "ha.peer.down")) {
            int peer = resolve(m, &mp, g(e, "peer"), EV_LANE_NODE);
            bool up = !strcmp(ev, "ha.peer.up");
            snprintf(label, sizeof(label), "HA peer %s", up ? "up" : "silent");
            snprintf(detail, sizeof(detail), "entries=%s%s%s", g(e, "entries"), up ? "" : " silent_for_ms=",
                     up ? "" : g(e, "silent_for_ms"));
            arrow_add(m, e->t, peer, me, (int)i, step, up ? 0 : EV_A_FAIL, NULL, label, detail);
            continue;
        }
        /* ---- the router's HTTPS client ---- */
        if (!strncmp(ev, "https.", 6) && ev_get(e, "id")) {
            struct req *q = req_get(rq, rq_cap, me, g(e, "id"), !strcmp(ev, "https.start"));
            if (!q)
                continue;
            if (!strcmp(ev, "https.start")) {
                const char *url = g(e, "url");
                snprintf(q->method, sizeof(q->method), "%s", g(e, "method"));
                snprintf(q->auth, sizeof(q->auth), "%s", g(e, "auth"));
                snprintf(q->path, sizeof(q->path), "%s", url_path(url));
                const char *hs = strstr(url, "://");
                hs = hs ? hs + 3 : url;
                snprintf(q->target, sizeof(q->target), "%.*s", (int)strcspn(hs, "/"), hs);
                q->tlane = resolve(m, &mp, q->target, EV_LANE_OTHER);
                q->plane = resolve(m, &mp, ev_get(e, "proxy"), EV_LANE_PROXY);
                q->t_req = e->t;
                continue;
            }
            if (!strcmp(ev, "https.tunnel") || !strcmp(ev, "https.proxy_response")) {
                int px = resolve(m, &mp, g(e, "proxy"), EV_LANE_PROXY);
                const char *target = ev_get(e, "target") ? g(e, "target") : q->target;
                unsigned k = connect_index(cc, &ncc, cc_cap, me, px, target, 0);
                snprintf(key, sizeof(key), "connect:%d:%d:%s:%u", me, px, target, k);
                snprintf(label, sizeof(label), "CONNECT %s", target);
                snprintf(detail, sizeof(detail), "auth %s", *g(e, "auth") ? g(e, "auth") : q->auth[0] ? q->auth : "-");
                arrow_add(m, e->t, me, px, (int)i, step, 0, k ? key : NULL, label, detail);
                snprintf(key, sizeof(key), "connect-reply:%d:%d:%s:%u", me, px, target, k);
                snprintf(label, sizeof(label), "%s %s", g(e, "status"), g(e, "reason"));
                snprintf(detail, sizeof(detail), "%s%s", *g(e, "squid_error") ? "squid_error=" : "", g(e, "squid_error"));
                q->reply = arrow_add(m, e->t, px, me, (int)i, step, EV_A_REPLY | fail, k ? key : NULL, label, detail);
                continue;
            }
            if (!strcmp(ev, "https.tls")) {
                snprintf(label, sizeof(label), "TLS %s verify=%s", g(e, "version"), g(e, "verify"));
                snprintf(detail, sizeof(detail), "%s peer %s issuer %s", g(e, "cipher"), g(e, "peer_subject"),
                         g(e, "peer_issuer"));
                arrow_add(m, e->t, me, q->tlane, (int)i, step, EV_A_TLS, NULL, label, detail);
                continue;
            }
            if (!strcmp(ev, "https.state")) {
                if (!strcmp(g(e, "to"), "request-send")) {
                    q->t_req = e->t;
                    snprintf(label, sizeof(label), "%s %s", q->method, q->path);
                    arrow_add(m, e->t, me, q->tlane, (int)i, step, EV_A_TLS, NULL, label, q->target);
                }
                continue;
            }
            if (!strcmp(ev, "https.done")) {
                int sa = me < EV_MAX_LANES ? last_sem[me] : -1;
                if (sa >= 0 && m->arrows[sa].from == q->tlane && m->arrows[sa].t >= q->t_req - 1e-6) {
                    struct ev_arrow *a = &m->arrows[sa];
                    size_t dl = strlen(a->detail);
                    snprintf(a->detail + dl, sizeof(a->detail) - dl, "%sHTTP %s %s, %s ms", dl ? "; " : "", g(e, "status"),
                             g(e, "reason"), g(e, "ms"));
                    continue;
                }
                snprintf(label, sizeof(label), "%s %s", g(e, "status"), g(e, "reason"));
                snprintf(detail, sizeof(detail), "%s %s: %s ms, %s bytes", q->method, q->path, g(e, "ms"), g(e, "body_bytes"));
                int st = atoi(g(e, "status"));
                arrow_add(m, e->t, q->tlane, me, (int)i, step, EV_A_REPLY | EV_A_TLS | (st >= 400 ? EV_A_FAIL : 0), NULL,
                          label, detail);
                continue;
            }
            if (!strcmp(ev, "https.failed")) {
                const char *in = g(e, "failed_in"), *cls = g(e, "class");
                int from = q->tlane;
                unsigned fl = EV_A_FAIL | EV_A_REPLY;
                if (!strncmp(in, "proxy", 5) || !strcmp(in, "tcp-connect"))
                    from = q->plane >= 0 ? q->plane : resolve(m, &mp, g(e, "proxy"), EV_LANE_PROXY);
                if (!strcmp(in, "tcp-connect") || !strncmp(in, "proxy", 5)) {
                    /* the CONNECT that never got an answer */
                    if (from >= 0 && !strcmp(in, "tcp-connect"))
                        fl = EV_A_FAIL;
                } else if (!strncmp(in, "tls", 3)) {
                    fl = EV_A_FAIL | EV_A_TLS;
                }
                snprintf(label, sizeof(label), "%s (%s)", cls, in);
                snprintf(detail, sizeof(detail), "%s proxy_status=%s %s ms", g(e, "error"), g(e, "proxy_status"), g(e, "ms"));
                if (!strncmp(in, "proxy", 5) && q->reply >= 0 && (size_t)q->reply < m->narrows) {
                    /* the proxy's refusal is already an arrow: say what the router made of it */
                    struct ev_arrow *a = &m->arrows[q->reply];
                    a->flags |= EV_A_FAIL;
                    snprintf(a->detail, sizeof(a->detail), "%s: %s", label, g(e, "error"));
                    continue;
                }
                if (fl & EV_A_REPLY)
                    arrow_add(m, e->t, from, me, (int)i, step, fl, NULL, label, detail);
                else
                    arrow_add(m, e->t, me, from >= 0 ? from : q->tlane, (int)i, step, fl, NULL, label, detail);
                continue;
            }
            continue;
        }
        /* ---- proxies ---- */
        if (!strcmp(ev, "proxy.request") || !strcmp(ev, "proxy.access")) {
            const char *target = g(e, "target"), *method = g(e, "method");
            double el = atof(g(e, "elapsed_ms")) / 1000.0;
            double start = e->flags & EV_F_SYNTH ? e->t : e->t - el;
            const char *ca = g(e, "client");
            const char *cs;
            size_t cn = host_part(ca, &cs);
            int cl = map_get(mp.addr, mp.naddr, cs, cn);
            int tstep = 0;
            /* the routers' tunnels are in time order: start at the first one that can match */
            size_t k0 = 0, k1 = ntun;
            while (k0 < k1) {
                size_t mid = (k0 + k1) / 2;
                if (tun[mid].t < start - 0.05)
                    k0 = mid + 1;
                else
                    k1 = mid;
            }
            for (size_t k = k0; k < ntun && tun[k].t <= start + el + 0.05; k++) {
                /* the router tunnel this record carried: same proxy, same target, inside its time */
                if (tun[k].proxy == me && !strcmp(tun[k].target, target) && tun[k].t >= start - 0.05 &&
                    tun[k].t <= start + el + 0.05 && (cl < 0 || tun[k].node == cl)) {
                    if (cl < 0) {
                        cl = tun[k].node;
                        map_put(&mp.addr, &mp.naddr, cs, cn, cl);
                    }
                    tstep = tun[k].step;
                    break;
                }
            }
            if (cl < 0)
                cl = resolve(m, &mp, ca, EV_LANE_OTHER);
            if (!e->step && tstep) {
                e->step = (uint8_t)tstep;
                step = tstep;
            }
            int status = atoi(g(e, "status"));
            /* a connection the client closed before sending a request (a router that dropped an attempt
             * when its proxy changed): not a refusal by the proxy */
            bool abandoned = !*method || !strcmp(method, "-");
            bool refused = !abandoned &&
                           (status >= 400 || status == 0 || (ev_get(e, "verdict") && strcmp(g(e, "verdict"), "allow")));
            if (refused)
                e->flags |= EV_F_FAIL;
            if (!strcmp(method, "CONNECT")) {
                unsigned k = connect_index(cc, &ncc, cc_cap, cl, me, target, 1);
                snprintf(key, sizeof(key), "connect:%d:%d:%s:%u", cl, me, target, k);
                snprintf(label, sizeof(label), "CONNECT %s", target);
                arrow_add(m, start, cl, me, (int)i, step, 0, k ? key : NULL, label, NULL);
                snprintf(key, sizeof(key), "connect-reply:%d:%d:%s:%u", cl, me, target, k);
                snprintf(label, sizeof(label), "%d %s", status, g(e, "code"));
                snprintf(detail, sizeof(detail), "%s%s%s%s%s", g(e, "code"), *g(e, "verdict") ? " verdict " : "",
                         g(e, "verdict"), *g(e, "squid_error") && strcmp(g(e, "squid_error"), "-") ? " " : "",
                         strcmp(g(e, "squid_error"), "-") ? g(e, "squid_error") : "");
                arrow_add(m, start, me, cl, (int)i, step, EV_A_REPLY | (refused ? EV_A_FAIL : 0), k ? key : NULL, label,
                          detail);
            } else if (abandoned) {
                snprintf(detail, sizeof(detail), "%s %s", g(e, "code"), g(e, "reason"));
                arrow_add(m, start, cl, me, (int)i, step, 0, NULL, "TCP connect, closed before a request", detail);
            } else {
                snprintf(label, sizeof(label), "%s %s", method, target);
                arrow_add(m, start, cl, me, (int)i, step, 0, NULL, label, NULL);
                snprintf(label, sizeof(label), "%d %s", status, g(e, "code"));
                arrow_add(m, start, me, cl, (int)i, step, EV_A_REPLY | (refused ? EV_A_FAIL : 0), NULL, label, NULL);
            }
            if (!refused) {
                const char *up = ev_get(e, "upstream");
                int ul = resolve_known(&mp, up);
                if (ul < 0)
                    ul = resolve_known(&mp, target);
                if (ul < 0 && up && strcmp(up, "-")) {
                    /* a name the proxy resolved: learn its address if the name is known by kind */
                    int byname = resolve(m, &mp, target, EV_LANE_OTHER);
                    if (byname >= 0 && m->lanes[byname].lk != EV_LANE_EXTERNAL) {
                        ul = byname;
                        put_addr(&mp, up, ul);
                    } else {
                        ul = resolve(m, &mp, up, EV_LANE_OTHER);
                    }
                }
                if (ul < 0)
                    ul = resolve(m, &mp, target, EV_LANE_OTHER);
                snprintf(label, sizeof(label), "TCP %s", target);
                if (ev_get(e, "bytes_up"))
                    snprintf(detail, sizeof(detail), "%s: up %s down %s bytes, %s ms, %s", g(e, "code"), g(e, "bytes_up"),
                             g(e, "bytes_down"), g(e, "elapsed_ms"), *g(e, "reason") ? g(e, "reason") : "closed");
                else
                    snprintf(detail, sizeof(detail), "%s: %s bytes to the client, %s ms", g(e, "code"), g(e, "bytes"),
                             g(e, "elapsed_ms"));
                arrow_add(m, start + 1e-6, me, ul, (int)i, step, 0, NULL, label, detail);
            }
            continue;
        }
        /* ---- Mist ---- */
        if (!strncmp(ev, "device.", 7)) {
            int node = resolve(m, &mp, ev_get(e, "device") ? g(e, "device") : g(e, "peer"), EV_LANE_OTHER);
            if (node < 0)
                continue;
            if (!strcmp(ev, "device.phone-home")) {
                const char *v = g(e, "verdict");
                if (!strcmp(v, "unclaimed")) {
                    snprintf(label, sizeof(label), "404 unclaimed");
                    snprintf(detail, sizeof(detail), "device %s: retry after %s s", g(e, "device"), g(e, "retry_after"));
                } else {
                    const char *rd = g(e, "redirect");
                    const char *rh = strstr(rd, "://");
                    rh = rh ? rh + 3 : rd;
                    snprintf(label, sizeof(label), "307 redirect to %.*s (%s)", (int)strcspn(rh, "/"), rh, v);
                    snprintf(detail, sizeof(detail), "device %s org %s environment %s: %s", g(e, "device"), g(e, "org"),
                             g(e, "environment"), rd);
                }
            } else if (!strcmp(ev, "device.challenge")) {
                snprintf(label, sizeof(label), "OCRA challenge");
                snprintf(detail, sizeof(detail), "device %s suite %s challenge_id %s expires in %s s", g(e, "device"),
                         g(e, "suite"), g(e, "challenge_id"), g(e, "expires_in"));
            } else if (!strcmp(ev, "device.verify")) {
                if (fail)
                    snprintf(label, sizeof(label), "OCRA refused: %s", g(e, "reason"));
                else
                    snprintf(label, sizeof(label), "OCRA verified (%s)", g(e, "mode"));
                snprintf(detail, sizeof(detail), "device %s org %s%s%s", g(e, "device"), g(e, "org"),
                         ev_get(e, "failures") ? " failures " : "", g(e, "failures"));
            } else if (!strcmp(ev, "device.onboarding")) {
                if (fail)
                    snprintf(label, sizeof(label), "onboarding data refused: %s", g(e, "reason"));
                else
                    snprintf(label, sizeof(label), "onboarding data: conductor %s, root CA %s", g(e, "conductor"),
                             g(e, "root_ca"));
                snprintf(detail, sizeof(detail), "device %s org %s site %s", g(e, "device"), g(e, "org"), g(e, "site"));
            } else if (!strcmp(ev, "device.locked") || !strcmp(ev, "device.refused") || !strcmp(ev, "device.unknown")) {
                snprintf(label, sizeof(label), "%s", ev + 7);
                snprintf(detail, sizeof(detail), "device %s reason=%s failures=%s retry_after=%s", g(e, "device"),
                         g(e, "reason"), g(e, "failures"), g(e, "retry_after"));
            } else {
                continue;
            }
            int a = arrow_add(m, e->t, me, node, (int)i, step, EV_A_REPLY | EV_A_TLS | fail, NULL, label, detail);
            if (a >= 0 && node < EV_MAX_LANES)
                last_sem[node] = a;
            continue;
        }
        /* ---- conductors ---- */
        if (!strncmp(ev, "router.", 7) && strcmp(ev, "router.state") != 0) {
            char id[80];
            const char *node = g(e, "node"), *router = g(e, "router");
            snprintf(id, sizeof(id), "%s.%s", router, node);
            int nl = -1;
            if (*node) {
                const char *ident = *router ? id : node;
                nl = resolve(m, &mp, ev_get(e, "identity") ? g(e, "identity") : ident, EV_LANE_OTHER);
                if (nl >= 0 && m->lanes[nl].lk == EV_LANE_EXTERNAL && ev_lane_find(m, node) >= 0)
                    nl = ev_lane_find(m, node);
            }
            if (nl < 0)
                continue;
            bool to_router = true;
            if (!strcmp(ev, "router.challenge"))
                snprintf(label, sizeof(label), "PSK challenge");
            else if (!strcmp(ev, "router.auth"))
                snprintf(label, sizeof(label), fail ? "PSK auth refused: %s" : "PSK auth ok%s", fail ? g(e, "reason") : "");
            else if (!strcmp(ev, "router.locked"))
                snprintf(label, sizeof(label), "locked");
            else if (!strcmp(ev, "router.task"))
                snprintf(label, sizeof(label), "task %s", g(e, "task"));
            else if (!strcmp(ev, "router.csr"))
                snprintf(label, sizeof(label), fail ? "CSR rejected: %s" : "certificate serial %s",
                         fail ? g(e, "reason") : g(e, "serial"));
            else if (!strcmp(ev, "router.ack")) {
                snprintf(label, sizeof(label), "ack %s %s", g(e, "task"), g(e, "result"));
                to_router = false;
            } else
                continue;
            snprintf(detail, sizeof(detail), "%s %s", id, *g(e, "detail") ? g(e, "detail") : g(e, "identity"));
            int a = to_router ? arrow_add(m, e->t, me, nl, (int)i, step, EV_A_REPLY | EV_A_TLS | fail, NULL, label, detail)
                              : arrow_add(m, e->t, nl, me, (int)i, step, EV_A_TLS | fail, NULL, label, detail);
            if (a >= 0 && to_router && nl < EV_MAX_LANES)
                last_sem[nl] = a;
            continue;
        }
        /* ---- hub ---- */
        if (!strncmp(ev, "svr.", 4) && m->lanes[me].lk == EV_LANE_HUB) {
            const char *who = *g(e, "peer") && strcmp(g(e, "peer"), "-") ? g(e, "peer") : g(e, "identity");
            int nl = resolve(m, &mp, *who && strcmp(who, "-") ? who : g(e, "addr"), EV_LANE_OTHER);
            if (nl < 0)
                continue;
            if (!strcmp(ev, "svr.peered"))
                snprintf(label, sizeof(label), "SVR peered (%s)", g(e, "tls"));
            else if (!strcmp(ev, "svr.refused"))
                snprintf(label, sizeof(label), "SVR refused: %s", g(e, "reason"));
            else if (!strcmp(ev, "svr.closed"))
                snprintf(label, sizeof(label), "SVR closed: %s", g(e, "reason"));
            else
                continue;
            snprintf(detail, sizeof(detail), "peer %s identity %s addr %s", g(e, "peer"), g(e, "identity"), g(e, "addr"));
            arrow_add(m, e->t, me, nl, (int)i, step, EV_A_REPLY | EV_A_TLS | fail, NULL, label, detail);
            continue;
        }
    }
    /* step statistics per lane (after the proxies got the steps of the tunnels they carried) */
    for (size_t i = 0; i < l->n; i++) {
        if (lane_of[i] >= 0)
            stat_add(&m->lanes[lane_of[i]], &l->v[i], (int)i);
        if (l->v[i].t > m->t_end)
            m->t_end = l->v[i].t;
    }
    /* arrows in time order (stable) */
    if (m->narrows > 1)
        qsort(m->arrows, m->narrows, sizeof(*m->arrows), arrow_cmp);
    free(cc);
    free(rq);
    free(tun);
    free(xsrv);
    free(mp.addr);
    free(mp.name);
    free(mp.dev);
    free(mp.ident);
    free(mp.xid);
    free(lane_of);
}

void ev_model_free(struct ev_model *m)
{
    free(m->arrows);
    m->arrows = NULL;
    m->narrows = m->cap_arrows = 0;
}

double ev_step_end(const struct ev_stepstat *s)
{
    if (s->first < 0)
        return -1;
    return s->done >= s->first ? s->done : s->last;
}

const char *ev_step_status(const struct ev_lane *ln, unsigned step)
{
    if (step < 1 || step > EV_STEPS)
        return "-";
    const struct ev_stepstat *s = &ln->steps[step];
    if (s->done >= 0)
        return "done";
    if (ln->missing == (int)step)
        return "missing";
    if (s->nfail)
        return "failed";
    if (s->n)
        return "started";
    return "-";
}

/* ---- files ------------------------------------------------------------------------------------ */

/* At most max bytes of a file (the rest is ignored: *cut set). */
static char *read_prefix(const char *path, size_t max, size_t *len, bool *cut)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *len = 0;
    *cut = false;
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
    *cut = (size_t)st.st_size > max;
    char *buf = malloc(want + 1);
    if (!buf) {
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted names of the entries of dir ending in suffix ("" any), without . and .. */
static char **list_dir(const char *dir, const char *suffix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (de->d_name[0] == '.' || l <= sl || strcmp(de->d_name + l - sl, suffix))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*nv));
            if (!nv)
                abort();
            v = nv;
        }
        v[(*n)++] = strdup(de->d_name);
        if (*n >= 4096)
            break;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof(*v), name_cmp);
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void name_push(struct ev_name **names, size_t *n, const char *name, size_t nl, const char *host)
{
    if (!nl || nl > 255)
        return;
    struct ev_name *nn = realloc(*names, (*n + 1) * sizeof(**names));
    if (!nn)
        abort();
    *names = nn;
    nn[*n].name = strndup(name, nl);
    nn[*n].host = strdup(host);
    if (!nn[*n].name || !nn[*n].host)
        abort();
    (*n)++;
}

/* The DNS names (and CN) of the first certificate in pki/HOST.pem. */
static void cert_names(const char *path, const char *host, struct ev_name **names, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        return;
    GENERAL_NAMES *gn = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gn && i < sk_GENERAL_NAME_num(gn) && i < 64; i++) {
        const GENERAL_NAME *e = sk_GENERAL_NAME_value(gn, i);
        if (e->type == GEN_DNS) {
            const ASN1_IA5STRING *s = e->d.dNSName;
            name_push(names, n, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), host);
        }
    }
    GENERAL_NAMES_free(gn);
    char cn[256];
    int l = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    if (l > 0)
        name_push(names, n, cn, (size_t)l, host);
    X509_free(x);
}

void ev_names_free(struct ev_name *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *a, *b; /* allocated by name_push: const only for the readers */
        memcpy(&a, &names[i].name, sizeof(a));
        memcpy(&b, &names[i].host, sizeof(b));
        free(a);
        free(b);
    }
    free(names);
}

int ev_load_dir(const char *dir, struct ev_list *l, struct ev_name **names, size_t *nnames, char *err, size_t cap)
{
    char p[PATH_MAX];
    *names = NULL;
    *nnames = 0;
    snprintf(p, sizeof(p), "%s/logs", dir);
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "%s: no logs/ directory (not the artifacts of a lab run?)", dir);
        return -1;
    }
    size_t n;
    char **logs = list_dir(p, ".log", &n);
    for (size_t i = 0; i < n; i++) {
        char f[PATH_MAX], src[NAME_MAX + 8], host[NAME_MAX + 1];
        snprintf(f, sizeof(f), "%s/logs/%s", dir, logs[i]);
        snprintf(src, sizeof(src), "logs/%s", logs[i]);
        snprintf(host, sizeof(host), "%.*s", (int)(strlen(logs[i]) - 4), logs[i]);
        size_t len;
        bool cut;
        char *buf = read_prefix(f, EV_MAX_FILE, &len, &cut);
        if (!buf)
            continue;
        l->truncated += cut;
        ev_list_add_log(l, buf, len, src, host);
        free(buf);
    }
    free_names(logs, n);
    /* Squid-format access logs of proxies that logged no structured requests */
    char **subs = list_dir(dir, "", &n);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(subs[i], "logs") || !strcmp(subs[i], "pcap") || !strcmp(subs[i], "pki"))
            continue;
        char f[PATH_MAX];
        snprintf(f, sizeof(f), "%s/%s/access.log", dir, subs[i]);
        if (stat(f, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        bool structured = false;
        for (size_t k = 0; k < l->n && !structured; k++)
            structured = !strcmp(l->v[k].host, subs[i]) && !strcmp(l->v[k].event, "proxy.request");
        if (structured)
            continue;
        size_t len;
        bool cut;
        char *buf = read_prefix(f, EV_MAX_FILE, &len, &cut);
        if (!buf)
            continue;
        char src[NAME_MAX + 16];
        snprintf(src, sizeof(src), "%s/access.log", subs[i]);
        l->truncated += cut;
        ev_list_add_access_log(l, buf, len, src, subs[i]);
        free(buf);
    }
    free_names(subs, n);
    /* the servers' certificate names */
    snprintf(p, sizeof(p), "%s/pki", dir);
    char **pems = list_dir(p, ".pem", &n);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(pems[i], "ca.pem") || strstr(pems[i], "-ca.pem"))
            continue;
        char f[PATH_MAX], host[NAME_MAX + 1];
        snprintf(f, sizeof(f), "%s/pki/%s", dir, pems[i]);
        snprintf(host, sizeof(host), "%.*s", (int)(strlen(pems[i]) - 4), pems[i]);
        cert_names(f, host, names, nnames);
    }
    free_names(pems, n);
    ev_list_sort(l);
    return 0;
}
