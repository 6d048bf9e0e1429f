/* Scenario files: libyaml's document tree, walked by a small table-driven schema (see scenario.h). */
#include "scenario.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "topo.h"
#include "ztp/daemon.h"

#define SCN_MAX_FILE (1024u * 1024u)

/* Field paths in error messages are built with snprintf into fixed buffers; a path cut short in
 * an error message is harmless. */
/* ---- names ------------------------------------------------------------------------------------ */

static const char *const kind_names[SCN_KIND_COUNT] = {"ssr-node", "dhcp-server", "proxy", "ep-terminator", "mist",
                                                       "conductor", "hub"};
static const char *const impl_names[SCN_IMPL_COUNT] = {"mock", "dnsmasq", "kea", "squid", "tinyproxy"};
static const char *const exp_names[EXP_KIND_COUNT + 1] = {
    "active-proxy", "proxy-source", "learned-from", "learned-proxies", "phone-home", "failure-reason",
    "internet-direct", "tpm", "logged", "not-logged", "carried", "denied", "decoded", "onboarding",
    "onboarding-error", "stored", "conductor", "conductor-error", "certificate", "inventory", "peered", "no-secrets",
    "secret-files", NULL};
/* router/sztp.h's states, in order */
static const char *const sztp_states[] = {"init", "proxy-ready", "phoning-home", "redirected", "authenticated",
                                          "onboarding-received", "root-ca-installed", "secret-stored", NULL};
/* router/conductor.h's states, in order: the conductor client runs once sZTP reached secret-stored */
static const char *const cond_states[] = {"idle", "staging-auth", "staging-connected", "production-received",
                                          "key-created", "certified", "svr-configured", "migrating",
                                          "production-connected", NULL};
/* mocks/conductor/README.md: the inventory's node states per role */
static const char *const inv_states[2][5] = {{"pending", "onboarding", "certified", "migrated", NULL},
                                             {"pending", "connected", NULL}};
static const char *const role_names[] = {"staging", "production"};

const char *scn_kind_name(enum scn_kind k) { return (unsigned)k < SCN_KIND_COUNT ? kind_names[k] : "?"; }
const char *scn_impl_name(enum scn_impl i) { return (unsigned)i < SCN_IMPL_COUNT ? impl_names[i] : "?"; }
const char *scn_exp_name(enum scn_exp_kind k) { return (unsigned)k < EXP_KIND_COUNT ? exp_names[k] : "?"; }

/* ---- arena ------------------------------------------------------------------------------------ */

struct scn_blk {
    struct scn_blk *next;
    size_t used, cap;
    max_align_t data[];
};

struct scn_arena {
    struct scn_blk *head;
};

static void *amalloc(struct scn_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    struct scn_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = calloc(1, sizeof(*b) + cap);
        if (!b)
            abort(); /* out of memory while parsing a small file: nothing sensible to do */
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *astrndup(struct scn_arena *a, const char *s, size_t n)
{
    char *d = amalloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *astrdup(struct scn_arena *a, const char *s) { return astrndup(a, s, strlen(s)); }

static char *aprintf(struct scn_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *aprintf(struct scn_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = amalloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

/* ---- the walker ------------------------------------------------------------------------------- */

struct P {
    const char *file;
    yaml_document_t *doc;
    struct scenario *s;
    struct scn_arena *a;
    char *err;
    size_t errlen;
    bool failed;
};

static int lineof(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static int perr(struct P *p, int line, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(struct P *p, int line, const char *path, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (!p->err || !p->errlen)
        return -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->file, line, path, msg);
    else
        snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, msg);
    /* one line, whatever the file's values hold (a quoted multi-line scalar, control bytes) */
    for (char *c = p->err; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            *c = ' ';
    return -1;
}

static yaml_node_t *node(struct P *p, int id) { return yaml_document_get_node(p->doc, id); }

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* A plain scalar that YAML reads as null: "", "~", "null". */
static bool is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = sval(n);
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static char *join_path(char *dst, size_t cap, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(dst, cap, "%s.%s", parent, key);
    else
        snprintf(dst, cap, "%s", key);
    return dst;
}

static size_t map_len(const yaml_node_t *m) { return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start); }
static size_t seq_len(const yaml_node_t *m) { return (size_t)(m->data.sequence.items.top - m->data.sequence.items.start); }

/* Check that `m` is a mapping whose keys are scalars, unique and in `allowed` (NULL-terminated). */
static int check_map(struct P *p, const yaml_node_t *m, const char *path, const char *const *allowed)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return perr(p, lineof(m), path, "expected a mapping (key: value lines)");
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return perr(p, lineof(k), path, "a key must be a plain word");
        for (yaml_node_pair_t *j = m->data.mapping.pairs.start; j < i; j++) {
            yaml_node_t *k2 = node(p, j->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), sval(k)))
                return perr(p, lineof(k), path, "duplicate key \"%s\" (first on line %d)", sval(k), lineof(k2));
        }
        if (!allowed)
            continue;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, sval(k)))
                ok = true;
        if (!ok) {
            char list[300] = "";
            size_t off = 0;
            for (const char *const *a = allowed; *a && off < sizeof(list) - 40; a++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", *a);
            char sub[256];
            return perr(p, lineof(k), join_path(sub, sizeof(sub), path, sval(k)), "unknown key (expected one of: %s)",
                        list);
        }
    }
    return 0;
}

static yaml_node_t *map_get(struct P *p, const yaml_node_t *m, const char *key, yaml_node_t **keynode)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), key)) {
            if (keynode)
                *keynode = k;
            return node(p, i->value);
        }
    }
    return NULL;
}

/* A scalar value: *out points into the arena; NULL when absent (and not required). */
static int get_str(struct P *p, const yaml_node_t *m, const char *path, const char *key, bool required, const char **out)
{
    char sub[256];
    yaml_node_t *k = NULL;
    yaml_node_t *v = map_get(p, m, key, &k);
    join_path(sub, sizeof(sub), path, key);
    *out = NULL;
    if (!v || is_null(v)) {
        if (required)
            return perr(p, v ? lineof(v) : lineof(m), v ? sub : path, v ? "a value is required" : "missing required key \"%s\"",
                        key);
        return 0;
    }
    if (v->type != YAML_SCALAR_NODE)
        return perr(p, lineof(v), sub, "expected a single value, not a %s",
                    v->type == YAML_MAPPING_NODE ? "mapping" : "list");
    *out = astrndup(p->a, sval(v), v->data.scalar.length);
    if (strlen(*out) != v->data.scalar.length)
        return perr(p, lineof(v), sub, "the value contains a NUL byte");
    return 0;
}

/* A number: a whole one (strtoul) or seconds (strtod; "2s" reads as seconds too) within [lo, hi] into
 * *out. 1 when given, 0 when absent, -1 (reported, with the field's path) when not such a number. */
static int get_number(struct P *p, const yaml_node_t *m, const char *path, const char *key, bool whole, double lo,
                      double hi, double *out)
{
    const char *s;
    if (get_str(p, m, path, key, false, &s) < 0)
        return -1;
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double v = whole ? (double)strtoul(s, &end, 10) : strtod(s, &end);
    if (!whole && end != s && *end == 's' && end[1] == '\0')
        end++;
    if (!*s || *end || errno || (whole && s[0] == '-') || !(v >= lo && v <= hi)) {
        char sub[256];
        join_path(sub, sizeof(sub), path, key);
        return whole ? perr(p, lineof(map_get(p, m, key, NULL)), sub, "expected a whole number from %.0f to %.0f, got \"%s\"",
                            lo, hi, s)
                     : perr(p, lineof(map_get(p, m, key, NULL)), sub,
                            "expected a number of seconds from %g to %g, got \"%s\"", lo, hi, s);
    }
    *out = v;
    return 1;
}

static int get_uint(struct P *p, const yaml_node_t *m, const char *path, const char *key, unsigned lo, unsigned hi,
                    unsigned *out)
{
    double v;
    int rc = get_number(p, m, path, key, true, lo, hi, &v);
    if (rc > 0)
        *out = (unsigned)v;
    return rc < 0 ? -1 : 0;
}

static int get_double(struct P *p, const yaml_node_t *m, const char *path, const char *key, double lo, double hi,
                      double *out)
{
    return get_number(p, m, path, key, false, lo, hi, out) < 0 ? -1 : 0;
}

static int parse_bool(const char *s)
{
    static const char *const t[] = {"true", "yes", "on", "True", "Yes", "On", "TRUE", "YES", "ON"};
    static const char *const f[] = {"false", "no", "off", "False", "No", "Off", "FALSE", "NO", "OFF"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!strcmp(s, t[i]))
            return 1;
        if (!strcmp(s, f[i]))
            return 0;
    }
    return -1;
}

static int get_bool(struct P *p, const yaml_node_t *m, const char *path, const char *key, int *out)
{
    const char *s;
    if (get_str(p, m, path, key, false, &s) < 0)
        return -1;
    if (!s)
        return 0;
    int b = parse_bool(s);
    if (b < 0) {
        char sub[256];
        return perr(p, lineof(map_get(p, m, key, NULL)), join_path(sub, sizeof(sub), path, key),
                    "expected true or false, got \"%s\"", s);
    }
    *out = b;
    return 0;
}

/* A list of scalars, or one scalar (a list of one). */
static int get_str_list(struct P *p, const yaml_node_t *m, const char *path, const char *key, const char ***out, size_t *n)
{
    char sub[256];
    join_path(sub, sizeof(sub), path, key);
    yaml_node_t *v = map_get(p, m, key, NULL);
    *out = NULL;
    *n = 0;
    if (!v || is_null(v))
        return 0;
    if (v->type == YAML_SCALAR_NODE) {
        *out = amalloc(p->a, sizeof(char *));
        (*out)[0] = astrndup(p->a, sval(v), v->data.scalar.length);
        *n = 1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), sub, "expected a list of values");
    *out = amalloc(p->a, (seq_len(v) + 1) * sizeof(char *));
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *e = node(p, *i);
        if (!e || e->type != YAML_SCALAR_NODE || is_null(e)) {
            char s2[280];
            snprintf(s2, sizeof(s2), "%s[%zu]", sub, *n);
            return perr(p, lineof(e), s2, "expected a single value");
        }
        (*out)[(*n)++] = astrndup(p->a, sval(e), e->data.scalar.length);
    }
    return 0;
}

/* Names the Mist mocks accept (device ids, orgs, sites): 1..64 of [A-Za-z0-9._:-]. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* An environment: also a DNS label (the default mist name is api.ENV.mist.com). */
static bool env_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 63 && s[0] != '-' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* A DNS name: labels of [a-z0-9-] (not starting or ending with '-') joined by dots. */
static bool dns_ok(const char *s)
{
    size_t n = strlen(s), lab = 0;
    if (n < 1 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (lab == 0 || lab > 63 || s[i - 1] == '-')
                return false;
            lab = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && lab > 0)))
            return false;
        lab++;
    }
    return true;
}

/* A string value checked by ok(); what describes the expected form in the error. */
static int get_checked(struct P *p, const yaml_node_t *m, const char *path, const char *key, bool (*ok)(const char *),
                       const char *what, const char **out)
{
    if (get_str(p, m, path, key, false, out) < 0)
        return -1;
    if (*out && !ok(*out)) {
        char sub[256];
        return perr(p, lineof(map_get(p, m, key, NULL)), join_path(sub, sizeof(sub), path, key), "\"%s\": expected %s",
                    *out, what);
    }
    return 0;
}

static int check_addr_port(struct P *p, int line, const char *path, const char *v);

/* An optional "A.B.C.D:PORT" in the lab's range (a conductor address). */
static int get_addr_port(struct P *p, const yaml_node_t *m, const char *path, const char *key, const char **out)
{
    char sub[256];
    if (get_str(p, m, path, key, false, out) < 0)
        return -1;
    if (*out && check_addr_port(p, lineof(map_get(p, m, key, NULL)), join_path(sub, sizeof(sub), path, key), *out) < 0)
        return -1;
    return 0;
}

#define ID_WHAT "1-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"
#define NAME_WHAT "1-63 characters of A-Z, a-z, 0-9, '.', '_', '-'"

/* Router, node and hub names as the conductor and the hub take them (psk_name_ok): 1..63 of [A-Za-z0-9._-]. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 63 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}
#define ENV_WHAT "1-63 characters of a-z, 0-9, '-'"

static int get_enum(struct P *p, const yaml_node_t *m, const char *path, const char *key, const char *const *names,
                    size_t n_names, bool required, int *out)
{
    const char *s;
    if (get_str(p, m, path, key, required, &s) < 0)
        return -1;
    if (!s)
        return 0;
    for (size_t i = 0; i < n_names; i++)
        if (names[i] && !strcmp(names[i], s)) {
            *out = (int)i;
            return 0;
        }
    char list[200] = "";
    size_t off = 0;
    for (size_t i = 0; i < n_names; i++)
        if (names[i])
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", names[i]);
    char sub[256];
    return perr(p, lineof(map_get(p, m, key, NULL)), join_path(sub, sizeof(sub), path, key),
                "unknown value \"%s\" (expected one of: %s)", s, list);
}

/* YAML -> JSON for onboarding.json written as a mapping: plain scalars that read as numbers,
 * booleans or null become those; everything else is a string. */
static json_t *yaml_to_json(struct P *p, const yaml_node_t *n)
{
    if (!n)
        return json_null();
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *v = sval(n);
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (is_null(n))
                return json_null();
            int b = parse_bool(v);
            if (b >= 0)
                return json_boolean(b);
            char *end;
            errno = 0;
            long long ll = strtoll(v, &end, 10);
            if (*v && !*end && !errno)
                return json_integer(ll);
            double d = strtod(v, &end);
            if (*v && !*end && !errno)
                return json_real(d);
        }
        return json_stringn(v, n->data.scalar.length);
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            json_array_append_new(a, yaml_to_json(p, node(p, *i)));
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *i = n->data.mapping.pairs.start; i < n->data.mapping.pairs.top; i++) {
            yaml_node_t *k = node(p, i->key);
            if (k && k->type == YAML_SCALAR_NODE)
                json_object_set_new(o, sval(k), yaml_to_json(p, node(p, i->value)));
        }
        return o;
    }
    default:
        return json_null();
    }
}

static void add_secret(struct P *p, const char *secret)
{
    if (!secret || !*secret)
        return;
    for (size_t i = 0; i < p->s->n_secrets; i++)
        if (!strcmp(p->s->secrets[i], secret))
            return;
    const char **n = amalloc(p->a, (p->s->n_secrets + 1) * sizeof(char *));
    if (p->s->n_secrets)
        memcpy(n, p->s->secrets, p->s->n_secrets * sizeof(char *));
    n[p->s->n_secrets++] = astrdup(p->a, secret);
    p->s->secrets = n;
}

/* ---- sections --------------------------------------------------------------------------------- */

static int parse_segments(struct P *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"kind", "description", "loss", NULL};
    if (check_map(p, m, "segments", NULL) < 0)
        return -1;
    p->s->segments = amalloc(p->a, (map_len(m) + 1) * sizeof(struct scn_segment));
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key), *v = node(p, i->value);
        struct scn_segment *seg = &p->s->segments[p->s->n_segments++];
        char path[256];
        snprintf(path, sizeof(path), "segments.%s", sval(k));
        seg->name = astrdup(p->a, sval(k));
        seg->line = lineof(k);
        seg->kind = SCN_SEG_BRIDGE;
        if (is_null(v))
            continue;
        if (v->type == YAML_SCALAR_NODE) { /* shorthand: "ha: link" */
            if (!strcmp(sval(v), "link"))
                seg->kind = SCN_SEG_LINK;
            else if (strcmp(sval(v), "bridge") != 0)
                return perr(p, lineof(v), path, "expected bridge, link or a mapping, got \"%s\"", sval(v));
            continue;
        }
        if (check_map(p, v, path, keys) < 0)
            return -1;
        static const char *const kinds[] = {"bridge", "link"};
        int kind = SCN_SEG_BRIDGE;
        if (get_enum(p, v, path, "kind", kinds, 2, false, &kind) < 0 || get_uint(p, v, path, "loss", 0, 100, &seg->loss) < 0)
            return -1;
        seg->kind = (enum scn_seg_kind)kind;
        if (seg->loss && seg->kind != SCN_SEG_BRIDGE)
            return perr(p, lineof(map_get(p, v, "loss", NULL)), path,
                        "loss is for a bridge segment (nftables in its namespace drops forwarded frames)");
    }
    return 0;
}

static int parse_ifaces(struct P *p, struct scn_host *h, const yaml_node_t *v, const char *path)
{
    static const char *const keys[] = {"name", "segment", "address", "mac", "dhcp", "link", NULL};
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), path, "expected a list of interfaces (- segment: ...)");
    h->ifs = amalloc(p->a, (seq_len(v) + 1) * sizeof(struct scn_iface));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct scn_iface *f = &h->ifs[h->n_ifs];
        char ip[256];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, h->n_ifs);
        h->n_ifs++;
        if (check_map(p, e, ip, keys) < 0)
            return -1;
        f->line = lineof(e);
        int dhcp = 0;
        if (get_str(p, e, ip, "name", false, &f->name) < 0 || get_str(p, e, ip, "segment", true, &f->segment) < 0 ||
            get_str(p, e, ip, "address", false, &f->address) < 0 || get_str(p, e, ip, "mac", false, &f->mac) < 0 ||
            get_bool(p, e, ip, "dhcp", &dhcp) < 0)
            return -1;
        f->dhcp = dhcp;
        static const char *const states[] = {"up", "down"};
        int st = 0;
        if (get_enum(p, e, ip, "link", states, 2, false, &st) < 0)
            return -1;
        f->down = st == 1;
        if (!f->name)
            f->name = aprintf(p->a, "%s%zu", h->kind == SCN_SSR_NODE ? "wan" : "eth", h->n_ifs - 1);
    }
    return 0;
}

static int parse_routes(struct P *p, struct scn_host *h, const yaml_node_t *v, const char *path)
{
    static const char *const keys[] = {"to", "via", "dev", NULL};
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), path, "expected a list of routes (- {to: CIDR, via: GATEWAY})");
    h->routes = amalloc(p->a, (seq_len(v) + 1) * sizeof(struct scn_route));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct scn_route *r = &h->routes[h->n_routes];
        char ip[256];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, h->n_routes++);
        if (check_map(p, e, ip, keys) < 0)
            return -1;
        r->line = lineof(e);
        if (get_str(p, e, ip, "to", true, &r->to) < 0 || get_str(p, e, ip, "via", false, &r->via) < 0 ||
            get_str(p, e, ip, "dev", false, &r->dev) < 0)
            return -1;
        if (!r->via && !r->dev)
            return perr(p, r->line, ip, "a route needs via (a gateway) or dev (an interface)");
    }
    return 0;
}

static int parse_pools(struct P *p, struct scn_host *h, const yaml_node_t *v, const char *path)
{
    static const char *const keys[] = {"interface", "range", "gateway", "lease-time", "t1", "t2", "proxy",
                                       "vendor-class", "option43-end", NULL};
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), path, "expected a list of pools (- interface: eth0 ...)");
    h->pools = amalloc(p->a, (seq_len(v) + 1) * sizeof(struct scn_pool));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct scn_pool *pl = &h->pools[h->n_pools];
        char ip[256];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, h->n_pools++);
        if (check_map(p, e, ip, keys) < 0)
            return -1;
        pl->line = lineof(e);
        pl->lease_time = SCN_DEFAULT_LEASE;
        int end = 0;
        if (get_str(p, e, ip, "interface", false, &pl->interface) < 0 || get_str(p, e, ip, "range", true, &pl->range) < 0 ||
            get_str(p, e, ip, "gateway", false, &pl->gateway) < 0 ||
            get_uint(p, e, ip, "lease-time", 1, 4294967295u, &pl->lease_time) < 0 ||
            get_uint(p, e, ip, "t1", 1, 4294967295u, &pl->t1) < 0 || get_uint(p, e, ip, "t2", 1, 4294967295u, &pl->t2) < 0 ||
            get_str(p, e, ip, "vendor-class", false, &pl->vendor_class) < 0 || get_bool(p, e, ip, "option43-end", &end) < 0)
            return -1;
        /* proxy: a value sent verbatim, so a quoted "" is a valid (bad) value; absence, ~ or
         * none mean no Option 43 */
        yaml_node_t *pv = map_get(p, e, "proxy", NULL);
        if (pv && pv->type != YAML_SCALAR_NODE) {
            char sub[280];
            return perr(p, lineof(pv), join_path(sub, sizeof(sub), ip, "proxy"), "expected a single value");
        }
        if (pv && !is_null(pv))
            pl->proxy = astrndup(p->a, sval(pv), pv->data.scalar.length);
        if (pl->proxy && !strcmp(pl->proxy, "none"))
            pl->proxy = NULL;
        pl->option43_end = end;
        if (!pl->vendor_class)
            pl->vendor_class = SCN_DEFAULT_VENDOR_CLASS;
    }
    return 0;
}

static const char *const fault_keys[] = {"refuse_all", "stall", "delay_200_ms", "close_after_bytes",
                                         "reset_after_bytes", "down_ms", "down_cut", NULL};

/* fault switches: {refuse_all: "403", delay_200_ms: 500, ...}; '-' may replace '_' */
static int parse_faults(struct P *p, const yaml_node_t *m, const char *path, const char *skip, struct scn_kv **out,
                        size_t *n)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return perr(p, lineof(m), path, "expected a mapping of fault switches (refuse_all: \"403\", ...)");
    if (check_map(p, m, path, NULL) < 0)
        return -1;
    *out = amalloc(p->a, (map_len(m) + 1) * sizeof(struct scn_kv));
    *n = 0;
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key), *v = node(p, i->value);
        if (skip && !strcmp(sval(k), skip))
            continue;
        char sub[300], key[64];
        snprintf(sub, sizeof(sub), "%s.%s", path, sval(k));
        snprintf(key, sizeof(key), "%s", sval(k));
        for (char *c = key; *c; c++)
            if (*c == '-')
                *c = '_';
        bool ok = false;
        for (const char *const *f = fault_keys; *f; f++)
            ok |= !strcmp(*f, key);
        if (!ok)
            return perr(p, lineof(k), sub,
                        "unknown fault switch (expected one of: refuse_all, stall, delay_200_ms, close_after_bytes, "
                        "reset_after_bytes, down_ms, down_cut)");
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v))
            return perr(p, lineof(v), sub, "expected a value (true/false, a number, or \"403\"/\"rst\")");
        struct scn_kv *kv = &(*out)[(*n)++];
        kv->key = astrdup(p->a, key);
        kv->value = astrndup(p->a, sval(v), v->data.scalar.length);
        kv->quoted = v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    }
    return 0;
}

static int parse_proxy(struct P *p, struct scn_host *h, const yaml_node_t *m, const char *path)
{
    h->proxy.port = SCN_DEFAULT_PROXY_PORT;
    if (get_uint(p, m, path, "port", 1, 65535, &h->proxy.port) < 0 ||
        get_str_list(p, m, path, "allow", &h->proxy.allow, &h->proxy.n_allow) < 0 ||
        get_str_list(p, m, path, "deny", &h->proxy.deny, &h->proxy.n_deny) < 0)
        return -1;
    const char **sp = NULL;
    size_t nsp = 0;
    if (get_str_list(p, m, path, "ssl-ports", &sp, &nsp) < 0)
        return -1;
    if (nsp) {
        yaml_node_t *spn = map_get(p, m, "ssl-ports", NULL);
        if (h->impl != SCN_IMPL_MOCK)
            return perr(p, lineof(spn), path, "ssl-ports: only with the lab's own proxy (impl mock)");
        h->proxy.ssl_ports = amalloc(p->a, nsp * sizeof(unsigned));
        for (size_t i = 0; i < nsp; i++) {
            char *end = NULL;
            unsigned long v = strtoul(sp[i], &end, 10);
            if (!sp[i][0] || *end || v < 1 || v > 65535)
                return perr(p, lineof(spn), path, "ssl-ports[%zu]: \"%s\" is not a port (1..65535)", i, sp[i]);
            h->proxy.ssl_ports[i] = (unsigned)v;
        }
        h->proxy.n_ssl_ports = nsp;
    }
    char up[256];
    join_path(up, sizeof(up), path, "users");
    yaml_node_t *u = map_get(p, m, "users", NULL);
    if (u && !is_null(u)) {
        if (check_map(p, u, up, NULL) < 0)
            return -1;
        h->proxy.users = amalloc(p->a, (map_len(u) + 1) * sizeof(struct scn_user));
        for (yaml_node_pair_t *i = u->data.mapping.pairs.start; i < u->data.mapping.pairs.top; i++) {
            yaml_node_t *k = node(p, i->key), *v = node(p, i->value);
            char sub[300];
            snprintf(sub, sizeof(sub), "%s.%s", up, sval(k));
            if (!v || v->type != YAML_SCALAR_NODE || is_null(v))
                return perr(p, lineof(v), sub, "expected the user's password");
            struct scn_user *us = &h->proxy.users[h->proxy.n_users++];
            us->name = astrdup(p->a, sval(k));
            us->password = astrndup(p->a, sval(v), v->data.scalar.length);
            if (strchr(us->name, ':') || !*us->name)
                return perr(p, lineof(k), sub, "a user name must be non-empty and without ':'");
            add_secret(p, us->password);
        }
    }
    yaml_node_t *fx = map_get(p, m, "faults", NULL);
    if (fx && !is_null(fx)) {
        join_path(up, sizeof(up), path, "faults");
        if (parse_faults(p, fx, up, NULL, &h->proxy.faults, &h->proxy.n_faults) < 0)
            return -1;
    }
    return 0;
}

static int parse_node(struct P *p, struct scn_host *h, const yaml_node_t *m, const char *path)
{
    struct scn_node *n = &h->node;
    if (get_str(p, m, path, "router", false, &n->router) < 0 || get_str(p, m, path, "node", false, &n->node) < 0 ||
        get_str(p, m, path, "config", true, &n->config) < 0 || get_str_list(p, m, path, "args", &n->args, &n->n_args) < 0)
        return -1;
    if (!n->router)
        n->router = SCN_DEFAULT_ROUTER;
    /* a proxy password written in the config lines is a secret too */
    for (const char *c = n->config; c && (c = strstr(c, "management-proxy password")); c++) {
        const char *v = c + strlen("management-proxy password");
        while (*v == ' ' || *v == '\t')
            v++;
        size_t l = strcspn(v, " \t\r\n#");
        if (l)
            add_secret(p, astrndup(p->a, v, l));
    }
    if (!n->node)
        n->node = h->name;
    char sub[256];
    yaml_node_t *ob = map_get(p, m, "onboarding", NULL);
    join_path(sub, sizeof(sub), path, "onboarding");
    if (ob && !is_null(ob)) {
        json_t *j = NULL;
        if (ob->type == YAML_SCALAR_NODE) {
            n->onboarding = astrndup(p->a, sval(ob), ob->data.scalar.length);
            j = json_loads(n->onboarding, 0, NULL); /* may be bad on purpose: ssr-node judges it */
        } else if (ob->type == YAML_MAPPING_NODE) {
            j = yaml_to_json(p, ob);
            char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            n->onboarding = aprintf(p->a, "%s\n", txt ? txt : "{}");
            free(txt);
        } else {
            return perr(p, lineof(ob), sub, "expected a mapping (the onboarding.json fields) or a JSON text");
        }
        json_t *rc = json_object_get(j, "registration-code");
        if (json_is_string(rc))
            add_secret(p, json_string_value(rc));
        json_decref(j);
    }
    yaml_node_t *ha = map_get(p, m, "ha", NULL);
    join_path(sub, sizeof(sub), path, "ha");
    if (ha && !is_null(ha)) {
        static const char *const keys[] = {"peer", "interface", "timeout", NULL};
        if (check_map(p, ha, sub, keys) < 0 || get_str(p, ha, sub, "peer", true, &n->ha_peer) < 0 ||
            get_str(p, ha, sub, "interface", true, &n->ha_interface) < 0 ||
            get_double(p, ha, sub, "timeout", 0.1, 3600, &n->ha_timeout) < 0)
            return -1;
    }
    yaml_node_t *pa = map_get(p, m, "proxy-auth", NULL);
    join_path(sub, sizeof(sub), path, "proxy-auth");
    if (pa && !is_null(pa)) {
        static const char *const keys[] = {"user", "password", NULL};
        if (check_map(p, pa, sub, keys) < 0 || get_str(p, pa, sub, "user", true, &n->proxy_user) < 0 ||
            get_str(p, pa, sub, "password", true, &n->proxy_password) < 0)
            return -1;
        add_secret(p, n->proxy_password);
    }
    /* sZTP: defaults are filled by check_scenario (they depend on the ep-terminator) */
    static const char *const sztp_keys[] = {"device-id", "claimed", "environment", "org", "site",
                                            "ocra-key", "sztp-fault", "conductor", "conductor-psk",
                                            "conductor-fault", "request-timeout", "retry-backoff", "task-poll", NULL};
    for (const char *const *k = sztp_keys; *k; k++) {
        yaml_node_t *kn = NULL;
        if (map_get(p, m, *k, &kn) && (!n->sztp_line || lineof(kn) < n->sztp_line))
            n->sztp_line = lineof(kn);
    }
    int claimed = 1, wrong = 0, fault = -1, pskw = 0, cfault = -1;
    static const char *const keyv[] = {"right", "wrong"};
    static const char *const faults[] = {"replay-response"};
    static const char *const cfaults[] = {"csr-other-router"};
    if (get_checked(p, m, path, "device-id", id_ok, ID_WHAT, &n->device_id) < 0 ||
        get_bool(p, m, path, "claimed", &claimed) < 0 ||
        get_checked(p, m, path, "environment", env_ok, ENV_WHAT, &n->environment) < 0 ||
        get_checked(p, m, path, "org", id_ok, ID_WHAT, &n->org) < 0 ||
        get_checked(p, m, path, "site", id_ok, ID_WHAT, &n->site) < 0 ||
        get_enum(p, m, path, "ocra-key", keyv, 2, false, &wrong) < 0 ||
        get_enum(p, m, path, "sztp-fault", faults, 1, false, &fault) < 0 ||
        get_addr_port(p, m, path, "conductor", &n->conductor) < 0 ||
        get_enum(p, m, path, "conductor-psk", keyv, 2, false, &pskw) < 0 ||
        get_enum(p, m, path, "conductor-fault", cfaults, 1, false, &cfault) < 0 ||
        get_double(p, m, path, "request-timeout", 0.1, 3600, &n->request_timeout) < 0 ||
        get_double(p, m, path, "task-poll", 0.01, 3600, &n->task_poll) < 0)
        return -1;
    yaml_node_t *rb = map_get(p, m, "retry-backoff", NULL);
    if (rb) { /* {min: S, max: S}: ssr-node --retry-backoff MIN[,MAX] */
        static const char *const rkeys[] = {"min", "max", NULL};
        char rsub[256];
        join_path(rsub, sizeof(rsub), path, "retry-backoff");
        if (check_map(p, rb, rsub, rkeys) < 0 || get_double(p, rb, rsub, "min", 0.01, 3600, &n->retry_min) < 0 ||
            get_double(p, rb, rsub, "max", 0.01, 3600, &n->retry_max) < 0)
            return -1;
        if (n->retry_min <= 0)
            return perr(p, lineof(rb), rsub, "missing required key \"min\" (seconds: the first wait after a failure)");
        if (n->retry_max > 0 && n->retry_max < n->retry_min)
            return perr(p, lineof(rb), rsub, "max (%g) is below min (%g)", n->retry_max, n->retry_min);
    }
    n->psk_wrong = pskw == 1;
    n->conductor_fault = cfault >= 0 ? cfaults[cfault] : NULL;
    n->cfault_line = lineof(map_get(p, m, "conductor-fault", NULL));
    n->psk_line = lineof(map_get(p, m, "conductor-psk", NULL));
    n->claimed = claimed;
    n->ocra_wrong = wrong == 1;
    n->sztp_fault = fault >= 0 ? faults[fault] : NULL;
    return 0;
}

/* ep-terminator and mist */
static int parse_cloud(struct P *p, struct scn_host *h, const yaml_node_t *m, const char *path)
{
    struct scn_cloud *c = &h->cloud;
    c->port = SCN_DEFAULT_HTTPS_PORT;
    c->retry_after = SCN_DEFAULT_RETRY_AFTER;
    c->max_failures = SCN_DEFAULT_MAX_FAILURES;
    c->lockout_seconds = SCN_DEFAULT_LOCKOUT;
    c->challenge_ttl = SCN_DEFAULT_CHALLENGE_TTL;
    static const char *const cas[] = {"lab", "untrusted"};
    int ca = 0;
    if (get_uint(p, m, path, "port", 1, 65535, &c->port) < 0 ||
        get_str_list(p, m, path, "names", &c->names, &c->n_names) < 0 ||
        get_checked(p, m, path, "environment", env_ok, ENV_WHAT, &c->environment) < 0 ||
        get_enum(p, m, path, "ca", cas, 2, false, &ca) < 0 ||
        get_uint(p, m, path, "retry-after", 1, 3600, &c->retry_after) < 0 ||
        get_uint(p, m, path, "max-failures", 1, 1000, &c->max_failures) < 0 ||
        get_uint(p, m, path, "lockout-seconds", 1, 86400, &c->lockout_seconds) < 0 ||
        get_uint(p, m, path, "challenge-ttl", 1, 3600, &c->challenge_ttl) < 0 ||
        get_addr_port(p, m, path, "conductor", &c->conductor) < 0)
        return -1;
    c->untrusted = ca == 1;
    for (size_t i = 0; i < c->n_names; i++)
        if (!dns_ok(c->names[i])) {
            char sub[280];
            snprintf(sub, sizeof(sub), "%s.names[%zu]", path, i);
            return perr(p, lineof(map_get(p, m, "names", NULL)), sub,
                        "\"%s\" is not a host name (lower-case labels of a-z, 0-9, '-', joined by dots)", c->names[i]);
        }
    if (!c->environment)
        c->environment = SCN_DEFAULT_ENVIRONMENT;
    /* conductor: when absent, check_conductors() fills the staging conductor's address (or the placeholder) */
    if (!c->n_names) {
        c->names = amalloc(p->a, 2 * sizeof(char *));
        if (h->kind == SCN_EP_TERMINATOR)
            c->names[0] = SCN_MIST_NAME;
        else if (!strcmp(c->environment, SCN_DEFAULT_ENVIRONMENT))
            c->names[0] = "api.mist.com";
        else
            c->names[0] = aprintf(p->a, "api.%s.mist.com", c->environment);
        c->n_names = 1;
    }
    return 0;
}

/* conductor: role, port, ca, faults {reject-secret, wrong-ca, stall-ms}, max-failures, lockout-seconds */
static int parse_conductor(struct P *p, struct scn_host *h, const yaml_node_t *m, const char *path)
{
    struct scn_conductor *c = &h->cond;
    c->port = SCN_CONDUCTOR_PORT;
    c->max_failures = SCN_DEFAULT_MAX_FAILURES;
    c->lockout_seconds = SCN_DEFAULT_LOCKOUT;
    static const char *const cas[] = {"lab", "untrusted"};
    int role = -1, ca = 0;
    if (get_enum(p, m, path, "role", role_names, 2, true, &role) < 0 ||
        get_uint(p, m, path, "port", 1, 65535, &c->port) < 0 || get_enum(p, m, path, "ca", cas, 2, false, &ca) < 0 ||
        get_uint(p, m, path, "max-failures", 1, 1000, &c->max_failures) < 0 ||
        get_uint(p, m, path, "lockout-seconds", 1, 86400, &c->lockout_seconds) < 0)
        return -1;
    c->role = (enum scn_cond_role)role;
    c->untrusted = ca == 1;
    char sub[280];
    yaml_node_t *fx = map_get(p, m, "faults", NULL);
    join_path(sub, sizeof(sub), path, "faults");
    if (fx && !is_null(fx)) {
        static const char *const keys[] = {"reject-secret", "wrong-ca", "stall-ms", NULL};
        int rs = 0, wc = 0;
        if (check_map(p, fx, sub, keys) < 0 || get_bool(p, fx, sub, "reject-secret", &rs) < 0 ||
            get_bool(p, fx, sub, "wrong-ca", &wc) < 0 || get_uint(p, fx, sub, "stall-ms", 0, 600000, &c->stall_ms) < 0)
            return -1;
        c->reject_secret = rs;
        c->wrong_ca = wc;
        if (wc && c->role != SCN_ROLE_STAGING)
            return perr(p, lineof(map_get(p, fx, "wrong-ca", NULL)), sub,
                        "wrong-ca is a staging fault (only the staging conductor signs certificates)");
    }
    return 0;
}

/* hub: port, hub-name */
static int parse_hub(struct P *p, struct scn_host *h, const yaml_node_t *m, const char *path)
{
    h->hub.port = SCN_HUB_PORT;
    if (get_uint(p, m, path, "port", 1, 65535, &h->hub.port) < 0 ||
        get_checked(p, m, path, "hub-name", name_ok, NAME_WHAT, &h->hub.hub_name) < 0)
        return -1;
    if (!h->hub.hub_name)
        h->hub.hub_name = h->name;
    return 0;
}

static int parse_hosts(struct P *p, const yaml_node_t *m)
{
    static const char *const common[] = {"kind",       "impl",       "description", "interfaces",
                                         "routes",     "forwarding", "autostart",   NULL};
    static const char *const per_kind[SCN_KIND_COUNT][24] = {
        [SCN_SSR_NODE] = {"router", "node", "config", "onboarding", "ha", "proxy-auth", "args", "device-id", "claimed",
                          "environment", "org", "site", "ocra-key", "sztp-fault", "conductor", "conductor-psk",
                          "conductor-fault", "request-timeout", "retry-backoff", "task-poll", NULL},
        [SCN_DHCP_SERVER] = {"pools", NULL},
        [SCN_PROXY] = {"port", "allow", "deny", "users", "faults", "ssl-ports", NULL},
        [SCN_EP_TERMINATOR] = {"port", "names", "environment", "ca", "retry-after", NULL},
        [SCN_MIST] = {"port", "names", "environment", "ca", "max-failures", "lockout-seconds", "challenge-ttl",
                      "conductor", NULL},
        [SCN_CONDUCTOR] = {"role", "port", "ca", "faults", "max-failures", "lockout-seconds", NULL},
        [SCN_HUB] = {"port", "hub-name", NULL},
    };
    if (check_map(p, m, "hosts", NULL) < 0)
        return -1;
    p->s->hosts = amalloc(p->a, (map_len(m) + 1) * sizeof(struct scn_host));
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key), *v = node(p, i->value);
        struct scn_host *h = &p->s->hosts[p->s->n_hosts++];
        char path[256];
        snprintf(path, sizeof(path), "hosts.%s", sval(k));
        h->name = astrdup(p->a, sval(k));
        h->line = lineof(k);
        if (!v || v->type != YAML_MAPPING_NODE)
            return perr(p, lineof(v), path, "expected a mapping with at least kind:");
        int kind = -1;
        if (get_enum(p, v, path, "kind", kind_names, SCN_KIND_COUNT, true, &kind) < 0)
            return -1;
        h->kind = (enum scn_kind)kind;
        const char *allowed[40];
        size_t na = 0;
        for (const char *const *c = common; *c; c++)
            allowed[na++] = *c;
        for (const char *const *c = per_kind[kind]; *c; c++)
            allowed[na++] = *c;
        allowed[na] = NULL;
        if (check_map(p, v, path, allowed) < 0)
            return -1;
        int impl = -1;
        if (get_enum(p, v, path, "impl", impl_names, SCN_IMPL_COUNT, false, &impl) < 0)
            return -1;
        h->impl_given = impl >= 0;
        if (impl < 0)
            impl = SCN_IMPL_MOCK;
        h->impl = (enum scn_impl)impl;
        int fwd = 0, autostart = 1;
        char sub[280];
        if (parse_ifaces(p, h, map_get(p, v, "interfaces", NULL), join_path(sub, sizeof(sub), path, "interfaces")) < 0 ||
            parse_routes(p, h, map_get(p, v, "routes", NULL), join_path(sub, sizeof(sub), path, "routes")) < 0 ||
            get_bool(p, v, path, "forwarding", &fwd) < 0 || get_bool(p, v, path, "autostart", &autostart) < 0)
            return -1;
        h->forwarding = fwd;
        h->autostart = autostart;
        switch (h->kind) {
        case SCN_SSR_NODE:
            if (parse_node(p, h, v, path) < 0)
                return -1;
            break;
        case SCN_DHCP_SERVER:
            if (parse_pools(p, h, map_get(p, v, "pools", NULL), join_path(sub, sizeof(sub), path, "pools")) < 0)
                return -1;
            break;
        case SCN_PROXY:
            if (parse_proxy(p, h, v, path) < 0)
                return -1;
            break;
        case SCN_EP_TERMINATOR:
        case SCN_MIST:
            if (parse_cloud(p, h, v, path) < 0)
                return -1;
            break;
        case SCN_CONDUCTOR:
            if (parse_conductor(p, h, v, path) < 0)
                return -1;
            break;
        case SCN_HUB:
            if (parse_hub(p, h, v, path) < 0)
                return -1;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* Which expectation keys each kind accepts. */
static bool exp_allowed(enum scn_kind k, enum scn_exp_kind e)
{
    switch (e) {
    case EXP_LOGGED:
    case EXP_NOT_LOGGED:
        return true;
    case EXP_CARRIED:
    case EXP_DENIED:
        return k == SCN_PROXY;
    case EXP_ONBOARDING:
    case EXP_ONBOARDING_ERROR:
    case EXP_STORED:
    case EXP_CONDUCTOR:
    case EXP_CONDUCTOR_ERROR:
    case EXP_CERTIFICATE:
        return k == SCN_SSR_NODE;
    case EXP_INVENTORY:
        return k == SCN_CONDUCTOR;
    case EXP_PEERED:
        return k == SCN_HUB;
    case EXP_NO_SECRETS:
    case EXP_SECRET_FILES:
    case EXP_DECODED:
        return false;
    default:
        return k == SCN_SSR_NODE;
    }
}

static int parse_lp_rows(struct P *p, struct scn_expect *x, const yaml_node_t *v, const char *path)
{
    static const char *const keys[] = {"node", "interface", "proxy", "lease", "selected", "discovery", NULL};
    if (!v || is_null(v)) {
        x->n_rows = 0; /* "learned-proxies: []" or empty: no rows at all */
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), path, "expected a list of rows (- {interface: wan0-net, proxy: A:P})");
    x->rows = amalloc(p->a, (seq_len(v) + 1) * sizeof(struct scn_lp_row));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct scn_lp_row *r = &x->rows[x->n_rows];
        char ip[280];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, x->n_rows++);
        if (check_map(p, e, ip, keys) < 0)
            return -1;
        r->line = lineof(e);
        r->selected = r->discovery = -1;
        if (get_str(p, e, ip, "node", false, &r->node) < 0 || get_str(p, e, ip, "interface", false, &r->interface) < 0 ||
            get_str(p, e, ip, "proxy", false, &r->proxy) < 0 || get_str(p, e, ip, "lease", false, &r->lease) < 0 ||
            get_bool(p, e, ip, "selected", &r->selected) < 0 || get_bool(p, e, ip, "discovery", &r->discovery) < 0)
            return -1;
    }
    return 0;
}

/* logged / not-logged: a regex, or a list of regexes and line counts: in logged, {regex: R, count: N}
 * (exactly N lines match) or {regex: R, min: N, max: M} (N..M lines; either bound may be left out);
 * in not-logged, {regex: R, max: M} (no more than M lines) */
static int parse_logged(struct P *p, struct scn_expect *x, const yaml_node_t *v, const char *path, bool neg)
{
    static const char *const keys[] = {"regex", "count", "min", "max", NULL};
    static const char *const neg_keys[] = {"regex", "max", NULL};
    const char *shape = neg ? "expected a regex or {regex: REGEX, max: N}"
                            : "expected a regex, {regex: REGEX, count: N} or {regex: REGEX, min: N, max: M}";
    if (!v || is_null(v))
        return 0;
    size_t n = v->type == YAML_SEQUENCE_NODE ? seq_len(v) : 1;
    x->list = amalloc(p->a, (n + 1) * sizeof(char *));
    x->counts = amalloc(p->a, (n + 1) * sizeof(int));
    x->counts_max = amalloc(p->a, (n + 1) * sizeof(int));
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = v->type == YAML_SEQUENCE_NODE ? node(p, v->data.sequence.items.start[i]) : v;
        char ip[320];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        x->counts[i] = x->counts_max[i] = -1;
        if (e && e->type == YAML_SCALAR_NODE && !is_null(e)) {
            x->list[x->n_list++] = astrndup(p->a, sval(e), e->data.scalar.length);
            continue;
        }
        if (!e || e->type != YAML_MAPPING_NODE)
            return perr(p, lineof(e), ip, "%s", shape);
        unsigned cnt = 0, lo = 0, hi = 0;
        const char *re = NULL;
        if (check_map(p, e, ip, neg ? neg_keys : keys) < 0 || get_str(p, e, ip, "regex", true, &re) < 0 ||
            get_uint(p, e, ip, "count", 0, 100000, &cnt) < 0 || get_uint(p, e, ip, "min", 0, 100000, &lo) < 0 ||
            get_uint(p, e, ip, "max", 0, 100000, &hi) < 0)
            return -1;
        bool has_count = map_get(p, e, "count", NULL), has_min = map_get(p, e, "min", NULL),
             has_max = map_get(p, e, "max", NULL);
        if (neg && !has_max)
            return perr(p, lineof(e), ip, "missing required key \"max\" (or write the regex alone: no line at all)");
        if (has_count && (has_min || has_max))
            return perr(p, lineof(e), ip, "count is exact: write count: N, or min:/max:, not both");
        if (!has_count && !has_min && !has_max)
            return perr(p, lineof(e), ip,
                        "missing required key \"count\" or \"min\"/\"max\" (or write the regex alone: at least one line)");
        if (has_min && has_max && hi < lo)
            return perr(p, lineof(e), ip, "max (%u) is below min (%u)", hi, lo);
        x->counts[x->n_list] = has_count ? (int)cnt : has_min ? (int)lo : 0;
        x->counts_max[x->n_list] = has_count ? (int)cnt : has_max ? (int)hi : -1;
        x->list[x->n_list++] = re;
    }
    return 0;
}

/* expect: {HOST: {KEY: VALUE, ...}, ...} */
static int parse_expect(struct P *p, struct scn_step *st, const yaml_node_t *m, const char *path)
{
    if (!m || is_null(m))
        return 0;
    if (check_map(p, m, path, NULL) < 0)
        return -1;
    size_t total = 0;
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *v = node(p, i->value);
        if (v && v->type == YAML_MAPPING_NODE)
            total += map_len(v);
    }
    st->expects = amalloc(p->a, (total + 2) * sizeof(struct scn_expect));
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key), *v = node(p, i->value);
        char hp[256];
        snprintf(hp, sizeof(hp), "%s.%s", path, sval(k));
        if (check_map(p, v, hp, exp_names) < 0)
            return -1;
        for (yaml_node_pair_t *j = v->data.mapping.pairs.start; j < v->data.mapping.pairs.top; j++) {
            yaml_node_t *ek = node(p, j->key), *ev = node(p, j->value);
            struct scn_expect *x = &st->expects[st->n_expects++];
            char ep[300];
            snprintf(ep, sizeof(ep), "%s.%s", hp, sval(ek));
            x->host = astrdup(p->a, sval(k));
            x->line = lineof(ek);
            for (int e = 0; e < EXP_KIND_COUNT; e++)
                if (!strcmp(exp_names[e], sval(ek)))
                    x->kind = (enum scn_exp_kind)e;
            if (x->kind == EXP_NO_SECRETS || x->kind == EXP_SECRET_FILES)
                return perr(p, x->line, ep, "checked in every run: no need to state it");
            switch (x->kind) {
            case EXP_LEARNED_PROXIES:
                if (parse_lp_rows(p, x, ev, ep) < 0)
                    return -1;
                break;
            case EXP_LOGGED:
            case EXP_NOT_LOGGED:
                if (parse_logged(p, x, ev, ep, x->kind == EXP_NOT_LOGGED) < 0)
                    return -1;
                break;
            case EXP_CARRIED:
            case EXP_DENIED:
            case EXP_DECODED:
            case EXP_PEERED:
                if (get_str_list(p, v, hp, sval(ek), &x->list, &x->n_list) < 0)
                    return -1;
                break;
            case EXP_INVENTORY: /* {ROUTER/NODE: STATE, ...} */
                if (!ev || ev->type != YAML_MAPPING_NODE)
                    return perr(p, lineof(ev ? ev : ek), ep, "expected a mapping {ROUTER/NODE: STATE, ...}, e.g. {R1/r1a: migrated}");
                if (check_map(p, ev, ep, NULL) < 0)
                    return -1;
                x->kv = amalloc(p->a, (map_len(ev) + 1) * sizeof(struct scn_kv));
                for (yaml_node_pair_t *q = ev->data.mapping.pairs.start; q < ev->data.mapping.pairs.top; q++) {
                    yaml_node_t *ik = node(p, q->key), *iv = node(p, q->value);
                    char ip[400];
                    snprintf(ip, sizeof(ip), "%s.%s", ep, sval(ik));
                    if (!iv || iv->type != YAML_SCALAR_NODE || is_null(iv))
                        return perr(p, lineof(iv ? iv : ik), ip, "expected a state (pending, onboarding, certified, migrated, connected)");
                    struct scn_kv *kv = &x->kv[x->n_kv++];
                    kv->key = astrdup(p->a, sval(ik));
                    kv->value = astrndup(p->a, sval(iv), iv->data.scalar.length);
                }
                if (!x->n_kv)
                    return perr(p, x->line, ep, "name at least one ROUTER/NODE");
                break;
            case EXP_STORED: /* a list, or none */
                if (get_str_list(p, v, hp, sval(ek), &x->list, &x->n_list) < 0)
                    return -1;
                if (x->n_list == 1 && !strcmp(x->list[0], "none"))
                    x->n_list = 0;
                else if (!x->n_list && (!ev || ev->type != YAML_SEQUENCE_NODE))
                    return perr(p, x->line, ep, "expected none or a list of names, e.g. [root-ca, conductor-psk]");
                break;
            default:
                if (get_str(p, v, hp, sval(ek), true, &x->value) < 0)
                    return -1;
                break;
            }
        }
    }
    return 0;
}

static int parse_actions_hosts(struct P *p, struct scn_step *st, const yaml_node_t *m, const char *path, const char *key,
                               enum scn_action_kind kind)
{
    const char **hosts;
    size_t n;
    if (get_str_list(p, m, path, key, &hosts, &n) < 0)
        return -1;
    yaml_node_t *v = map_get(p, m, key, NULL);
    for (size_t i = 0; i < n; i++) {
        struct scn_action *a = &st->actions[st->n_actions++];
        a->kind = kind;
        a->host = hosts[i];
        a->line = lineof(v);
        a->col = v ? (int)v->start_mark.column : 0;
    }
    return 0;
}

/* when: {HOST: STATE} or {HOST: {logged: REGEX}} */
static int parse_when(struct P *p, struct scn_step *st, const yaml_node_t *e, const char *sp)
{
    char sub[128];
    yaml_node_t *w = map_get(p, e, "when", NULL);
    if (!w || is_null(w))
        return 0;
    join_path(sub, sizeof(sub), sp, "when");
    if (check_map(p, w, sub, NULL) < 0)
        return -1;
    if (map_len(w) != 1)
        return perr(p, lineof(w), sub, "name one host: {HOST: STATE} or {HOST: {logged: REGEX}}");
    yaml_node_t *k = node(p, w->data.mapping.pairs.start[0].key), *v = node(p, w->data.mapping.pairs.start[0].value);
    st->when.host = astrdup(p->a, sval(k));
    st->when.line = lineof(k);
    char hp[200];
    snprintf(hp, sizeof(hp), "%s.%s", sub, sval(k));
    if (v && v->type == YAML_SCALAR_NODE && !is_null(v)) {
        st->when.state = astrndup(p->a, sval(v), v->data.scalar.length);
        return 0;
    }
    static const char *const keys[] = {"logged", NULL};
    if (!v || v->type != YAML_MAPPING_NODE)
        return perr(p, lineof(v ? v : k), hp, "expected a state (e.g. certified) or {logged: REGEX}");
    return check_map(p, v, hp, keys) < 0 || get_str(p, v, hp, "logged", true, &st->when.regex) < 0 ? -1 : 0;
}

/* A step's or a trigger's actions (in the order written), its condition and (steps) expectations. */
static int parse_step_body(struct P *p, struct scn_step *st, const yaml_node_t *e, const char *sp, bool trigger)
{
    {
        if (get_str(p, e, sp, "name", false, &st->name) < 0 || get_double(p, e, sp, "at", 0, 3600, &st->at) < 0 ||
            parse_when(p, st, e, sp) < 0 || get_double(p, e, sp, "after", 0, 60, &st->after) < 0)
            return -1;
        if (st->after > 0 && !st->when.host)
            return perr(p, lineof(map_get(p, e, "after", NULL)), sp, "after: counts from a when: condition (add one, or use at:)");
        size_t max = 5;
        for (const char *k2[] = {"stop", "start", "claim", "kill", NULL}, **k = k2; *k; k++) {
            yaml_node_t *h = map_get(p, e, *k, NULL);
            if (h && h->type == YAML_SEQUENCE_NODE)
                max += seq_len(h);
            else
                max += 1;
        }
        st->actions = amalloc(p->a, max * sizeof(struct scn_action));
        if (parse_actions_hosts(p, st, e, sp, "stop", ACT_STOP) < 0 ||
            parse_actions_hosts(p, st, e, sp, "start", ACT_START) < 0 ||
            parse_actions_hosts(p, st, e, sp, "claim", ACT_CLAIM) < 0 ||
            parse_actions_hosts(p, st, e, sp, "kill", ACT_KILL) < 0)
            return -1;
        char sub[128];
        yaml_node_t *sx = map_get(p, e, "set-proxy", NULL);
        if (sx && !is_null(sx)) {
            static const char *const k3[] = {"host", "pool", "proxy", NULL};
            join_path(sub, sizeof(sub), sp, "set-proxy");
            struct scn_action *a = &st->actions[st->n_actions++];
            a->kind = ACT_SET_PROXY;
            a->line = lineof(sx);
            a->col = (int)sx->start_mark.column;
            if (check_map(p, sx, sub, k3) < 0 || get_str(p, sx, sub, "host", true, &a->host) < 0 ||
                get_uint(p, sx, sub, "pool", 0, 1000, &a->pool) < 0 || get_str(p, sx, sub, "proxy", true, &a->value) < 0)
                return -1;
        }
        for (int up = 0; up < 2; up++) {
            const char *key = up ? "link-up" : "link-down";
            yaml_node_t *lx = map_get(p, e, key, NULL);
            if (!lx || is_null(lx))
                continue;
            static const char *const k4[] = {"host", "interface", NULL};
            join_path(sub, sizeof(sub), sp, key);
            struct scn_action *a = &st->actions[st->n_actions++];
            a->kind = up ? ACT_LINK_UP : ACT_LINK_DOWN;
            a->line = lineof(lx);
            a->col = (int)lx->start_mark.column;
            if (check_map(p, lx, sub, k4) < 0 || get_str(p, lx, sub, "host", true, &a->host) < 0 ||
                get_str(p, lx, sub, "interface", true, &a->interface) < 0)
                return -1;
        }
        yaml_node_t *wx = map_get(p, e, "write", NULL);
        if (wx && !is_null(wx)) {
            static const char *const k5[] = {"host", "file", "content", NULL};
            join_path(sub, sizeof(sub), sp, "write");
            struct scn_action *a = &st->actions[st->n_actions++];
            a->kind = ACT_WRITE;
            a->line = lineof(wx);
            a->col = (int)wx->start_mark.column;
            if (check_map(p, wx, sub, k5) < 0 || get_str(p, wx, sub, "host", true, &a->host) < 0 ||
                get_str(p, wx, sub, "file", true, &a->file) < 0 || get_str(p, wx, sub, "content", true, &a->value) < 0)
                return -1;
            if (a->file[0] == '/' || strstr(a->file, ".."))
                return perr(p, a->line, sub, "file is a path inside the host's directory (no leading / and no ..)");
        }
        yaml_node_t *pf = map_get(p, e, "proxy-fault", NULL);
        if (pf && !is_null(pf)) {
            join_path(sub, sizeof(sub), sp, "proxy-fault");
            struct scn_action *a = &st->actions[st->n_actions++];
            a->kind = ACT_PROXY_FAULT;
            a->line = lineof(pf);
            a->col = (int)pf->start_mark.column;
            if (get_str(p, pf, sub, "host", true, &a->host) < 0 || parse_faults(p, pf, sub, "host", &a->kv, &a->n_kv) < 0)
                return -1;
            if (!a->n_kv)
                return perr(p, a->line, sub, "name at least one fault switch (e.g. refuse_all: \"403\", or false to clear)");
        }
        /* actions run in the order they are written: stable sort by line */
        for (size_t a1 = 1; a1 < st->n_actions; a1++) {
            struct scn_action t = st->actions[a1];
            size_t b = a1;
            while (b > 0 && (st->actions[b - 1].line > t.line ||
                             (st->actions[b - 1].line == t.line && st->actions[b - 1].col > t.col))) {
                st->actions[b] = st->actions[b - 1];
                b--;
            }
            st->actions[b] = t;
        }
        if (trigger && !st->when.host)
            return perr(p, st->line, sp, "a trigger needs when: {HOST: STATE}");
        if (trigger && !st->n_actions)
            return perr(p, st->line, sp, "a trigger needs an action (kill, stop, start, ...)");
        if (!trigger &&
            parse_expect(p, st, map_get(p, e, "expect", NULL), join_path(sub, sizeof(sub), sp, "expect")) < 0)
            return -1;
    }
    return 0;
}

/* steps: [{name, at|when, after, actions..., expect}] in order, and triggers: [{name, when, after,
 * actions...}] fired once each, whenever the condition holds: one list parser for both */
static int parse_step_list(struct P *p, const yaml_node_t *v, bool trigger)
{
    static const char *const step_keys[] = {"name",      "at",      "when",        "after", "stop",  "start",  "kill",
                                            "set-proxy", "link-down", "link-up", "proxy-fault", "write", "claim", "expect",
                                            NULL};
    static const char *const trigger_keys[] = {"name",    "when",        "after", "stop",  "start", "kill", "set-proxy",
                                               "link-down", "link-up", "proxy-fault", "write", "claim", NULL};
    const char *what = trigger ? "triggers" : "steps";
    if (!v || is_null(v))
        return 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, lineof(v), what,
                    trigger ? "expected a list (- when: {HOST: STATE}, kill: HOST, start: HOST)"
                            : "expected a list of steps (- name: ...)");
    struct scn_step *list = amalloc(p->a, (seq_len(v) + 1) * sizeof(struct scn_step));
    size_t *n = trigger ? &p->s->n_triggers : &p->s->n_steps;
    if (trigger)
        p->s->triggers = list;
    else
        p->s->steps = list;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct scn_step *st = &list[*n];
        char sp[64];
        snprintf(sp, sizeof(sp), "%s[%zu]", what, (*n)++);
        if (check_map(p, e, sp, trigger ? trigger_keys : step_keys) < 0)
            return -1;
        st->line = lineof(e);
        st->at = -1;
        if (parse_step_body(p, st, e, sp, trigger) < 0)
            return -1;
        if (!st->name)
            st->name = aprintf(p->a, "%s %zu", trigger ? "trigger" : "step", *n);
    }
    return 0;
}

/* ---- checks ----------------------------------------------------------------------------------- */

static bool in_lab_range(struct in_addr a)
{
    uint32_t v = ntohl(a.s_addr);
    return (v & 0xfffe0000u) == 0xc6120000u; /* 198.18.0.0/15 */
}

static int check_ip(struct P *p, int line, const char *path, const char *s, bool cidr)
{
    struct in_addr a;
    unsigned len = 32;
    if (cidr ? topo_parse_cidr(s, &a, &len) < 0 : inet_pton(AF_INET, s, &a) != 1)
        return perr(p, line, path, "\"%s\" is not an IPv4 %s", s, cidr ? "address/prefix" : "address");
    if (!in_lab_range(a))
        return perr(p, line, path, "%s is outside the lab's range 198.18.0.0/15", s);
    return 0;
}

const struct scn_host *scenario_host(const struct scenario *s, const char *name)
{
    for (size_t i = 0; name && i < s->n_hosts; i++)
        if (!strcmp(s->hosts[i].name, name))
            return &s->hosts[i];
    return NULL;
}

const struct scn_segment *scenario_segment(const struct scenario *s, const char *name)
{
    for (size_t i = 0; name && i < s->n_segments; i++)
        if (!strcmp(s->segments[i].name, name))
            return &s->segments[i];
    return NULL;
}

const char *scn_iface_ip(const struct scn_iface *i, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (!i || !i->address)
        return dst;
    snprintf(dst, cap, "%s", i->address);
    char *slash = strchr(dst, '/');
    if (slash)
        *slash = '\0';
    return dst;
}

static const struct scn_iface *host_iface(const struct scn_host *h, const char *name)
{
    for (size_t i = 0; name && i < h->n_ifs; i++)
        if (!strcmp(h->ifs[i].name, name))
            return &h->ifs[i];
    return NULL;
}

const struct scn_host *scenario_ep_terminator(const struct scenario *s)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_EP_TERMINATOR)
            return &s->hosts[i];
    return NULL;
}

const struct scn_host *scenario_mist_for(const struct scenario *s, const char *env)
{
    for (size_t i = 0; env && i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_MIST && !strcmp(s->hosts[i].cloud.environment, env))
            return &s->hosts[i];
    return NULL;
}

const char *scn_cloud_url(const struct scn_host *h, char *dst, size_t cap)
{
    if (h->cloud.port == SCN_DEFAULT_HTTPS_PORT)
        snprintf(dst, cap, "https://%s", h->cloud.names[0]);
    else
        snprintf(dst, cap, "https://%s:%u", h->cloud.names[0], h->cloud.port);
    return dst;
}

bool scenario_is_cloud_name(const struct scenario *s, const char *name)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_EP_TERMINATOR || s->hosts[i].kind == SCN_MIST)
            for (size_t j = 0; j < s->hosts[i].cloud.n_names; j++)
                if (!strcasecmp(s->hosts[i].cloud.names[j], name))
                    return true;
    return false;
}

int scn_sztp_state_index(const char *name)
{
    for (int i = 0; name && sztp_states[i]; i++)
        if (!strcmp(sztp_states[i], name))
            return i;
    return -1;
}

/* "A.B.C.D:PORT" in the lab's range */
static int check_addr_port(struct P *p, int line, const char *path, const char *v)
{
    char a[64];
    const char *colon = strrchr(v, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || (size_t)(colon - v) >= sizeof(a) || !colon[1] || *end || port < 1 || port > 65535)
        return perr(p, line, path, "\"%s\" is not ADDRESS:PORT", v);
    snprintf(a, sizeof(a), "%.*s", (int)(colon - v), v);
    return check_ip(p, line, path, a, false);
}

/* The Mist mocks and the router nodes' sZTP keys: one ep-terminator, one mist host per environment,
 * every node's environment served; the nodes' defaults. */
static int check_cloud(struct P *p)
{
    struct scenario *s = p->s;
    char path[300];
    const struct scn_host *ept = NULL;
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        if (h->kind != SCN_EP_TERMINATOR && h->kind != SCN_MIST)
            continue;
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (h->kind == SCN_EP_TERMINATOR) {
            if (ept)
                return perr(p, h->line, path, "one ep-terminator per scenario (%s is one already)", ept->name);
            ept = h;
        } else {
            const struct scn_host *o = scenario_mist_for(s, h->cloud.environment);
            if (o != h)
                return perr(p, h->line, path, "environment %s is served by mist host %s already", h->cloud.environment,
                            o->name);
        }
        for (size_t j = 0; j < h->cloud.n_names; j++)
            for (size_t k = 0; k <= i; k++) {
                const struct scn_host *o = &s->hosts[k];
                if (o->kind != SCN_EP_TERMINATOR && o->kind != SCN_MIST)
                    continue;
                for (size_t l = 0; l < (k == i ? j : o->cloud.n_names); l++)
                    if (!strcasecmp(o->cloud.names[l], h->cloud.names[j]))
                        return perr(p, h->line, path, "name %s is a name of %s already", h->cloud.names[j], o->name);
            }
    }
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (h->kind == SCN_MIST && !ept)
            return perr(p, h->line, path, "a mist host needs an ep-terminator (the nodes phone home there first)");
    }
    if (ept && !scenario_mist_for(s, ept->cloud.environment)) {
        snprintf(path, sizeof(path), "hosts.%s", ept->name);
        return perr(p, ept->line, path, "no mist host serves its environment \"%s\" (add one with that environment)",
                    ept->cloud.environment);
    }
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct scn_host *h = &s->hosts[i];
        if (h->kind != SCN_SSR_NODE)
            continue;
        struct scn_node *n = &h->node;
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (!ept) {
            if (n->sztp_line)
                return perr(p, n->sztp_line, path,
                            "sZTP keys need an ep-terminator host in the scenario (without one the node does not run sZTP)");
            continue;
        }
        n->sztp = true;
        int line = n->sztp_line ? n->sztp_line : h->line;
        if (!n->device_id)
            n->device_id = aprintf(p->a, "%s-%s", n->router, n->node);
        if (!id_ok(n->device_id))
            return perr(p, h->line, path, "device id \"%s\" (router-node) is not 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'; set device-id",
                        n->device_id);
        if (!n->environment)
            n->environment = ept->cloud.environment;
        if (!n->org)
            n->org = SCN_DEFAULT_ORG;
        if (!n->site)
            n->site = id_ok(n->router) ? n->router : "site";
        if (!scenario_mist_for(s, n->environment))
            return perr(p, line, path, "no mist host serves environment \"%s\"", n->environment);
        for (size_t k = 0; k < i; k++)
            if (s->hosts[k].kind == SCN_SSR_NODE && s->hosts[k].node.device_id &&
                !strcmp(s->hosts[k].node.device_id, n->device_id))
                return perr(p, line, path, "device id %s is %s's already", n->device_id, s->hosts[k].name);
    }
    return 0;
}

const struct scn_host *scenario_conductor(const struct scenario *s, enum scn_cond_role role)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_CONDUCTOR && s->hosts[i].cond.role == role)
            return &s->hosts[i];
    return NULL;
}

const struct scn_host *scenario_hub(const struct scenario *s)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_HUB)
            return &s->hosts[i];
    return NULL;
}

int scn_cond_state_index(const char *name)
{
    for (int i = 0; name && cond_states[i]; i++)
        if (!strcmp(cond_states[i], name))
            return i;
    return -1;
}

/* "IP:PORT" of a host's first interface */
static const char *host_addr(struct P *p, const struct scn_host *h, unsigned port)
{
    char ip[INET_ADDRSTRLEN] = "";
    scn_iface_ip(&h->ifs[0], ip, sizeof(ip));
    return aprintf(p->a, "%s:%u", ip, port);
}

/* The conductors and the hub (issue 6): at most one staging and one production conductor and one
 * hub; they come together (the staging conductor's tasks hand out the production conductor and the
 * hub); they need an ep-terminator (the nodes learn the staging conductor from the Mist data). The
 * mist hosts' default conductor is the staging conductor. */
static int check_conductors(struct P *p)
{
    struct scenario *s = p->s;
    char path[300];
    const struct scn_host *role_host[2] = {NULL, NULL}, *hub = NULL, *any = NULL;
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct scn_host *h = &s->hosts[i];
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (h->kind == SCN_CONDUCTOR) {
            const struct scn_host **slot = &role_host[h->cond.role];
            if (*slot)
                return perr(p, h->line, path, "one %s conductor per scenario (%s is one already)", role_names[h->cond.role],
                            (*slot)->name);
            *slot = h;
            h->cond.addr = host_addr(p, h, h->cond.port);
        } else if (h->kind == SCN_HUB) {
            if (hub)
                return perr(p, h->line, path, "one hub per scenario (%s is one already)", hub->name);
            hub = h;
            h->hub.addr = host_addr(p, h, h->hub.port);
        } else {
            continue;
        }
        if (!any)
            any = h;
        if (!scenario_ep_terminator(s))
            return perr(p, h->line, path, "a %s needs an ep-terminator and a mist host (the nodes learn the staging "
                                          "conductor from the Mist data)", scn_kind_name(h->kind));
    }
    if (any) {
        const struct scn_host *st = role_host[SCN_ROLE_STAGING];
        snprintf(path, sizeof(path), "hosts.%s", any->name);
        if (!st)
            return perr(p, any->line, path, "a %s needs a staging conductor (conductor with role: staging) that hands it out",
                        any->kind == SCN_HUB ? "hub" : "production conductor");
        snprintf(path, sizeof(path), "hosts.%s", st->name);
        if (!role_host[SCN_ROLE_PRODUCTION])
            return perr(p, st->line, path, "a staging conductor needs a production conductor (conductor with role: "
                                           "production): its production task hands it out");
        if (!hub)
            return perr(p, st->line, path, "a staging conductor needs a hub (kind: hub): its svr-config task names it");
    }
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct scn_host *h = &s->hosts[i];
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (h->kind == SCN_MIST && !h->cloud.conductor)
            h->cloud.conductor = role_host[SCN_ROLE_STAGING] ? role_host[SCN_ROLE_STAGING]->cond.addr : SCN_DEFAULT_CONDUCTOR;
        if (h->kind != SCN_SSR_NODE)
            continue;
        if (h->node.psk_wrong && !role_host[SCN_ROLE_STAGING]) {
            char sub[340];
            return perr(p, h->node.psk_line, join_path(sub, sizeof(sub), path, "conductor-psk"),
                        "wrong needs a staging conductor to be wrong against");
        }
        if (h->node.conductor_fault && !role_host[SCN_ROLE_STAGING]) {
            char sub[340];
            return perr(p, h->node.cfault_line, join_path(sub, sizeof(sub), path, "conductor-fault"),
                        "%s needs a staging conductor (the fault is in the node's CSR to it)", h->node.conductor_fault);
        }
        if (any && (!name_ok(h->node.router) || !name_ok(h->node.node)))
            return perr(p, h->line, path, "router %s node %s: the conductors take names of %s", h->node.router, h->node.node,
                        NAME_WHAT);
    }
    return 0;
}

static bool node_name_known(const struct scenario *s, const char *node)
{
    for (size_t i = 0; i < s->n_hosts; i++)
        if (s->hosts[i].kind == SCN_SSR_NODE && !strcmp(s->hosts[i].node.node, node))
            return true;
    return false;
}

static int check_pool(struct P *p, struct scn_host *h, struct scn_pool *pl, const char *path)
{
    const struct scn_iface *f = NULL;
    if (pl->interface) {
        f = host_iface(h, pl->interface);
        if (!f)
            return perr(p, pl->line, path, "interface \"%s\" is not one of %s's interfaces", pl->interface, h->name);
    } else if (h->n_ifs == 1) {
        f = &h->ifs[0];
        pl->interface = f->name;
    } else {
        return perr(p, pl->line, path, "interface: is required when the server has several interfaces");
    }
    if (!f->address)
        return perr(p, pl->line, path, "interface %s has no address to serve from", f->name);
    struct in_addr a, lo, hi;
    unsigned len;
    topo_parse_cidr(f->address, &a, &len);
    uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;
    char buf[64];
    const char *dash = strchr(pl->range, '-');
    if (!dash || (size_t)(dash - pl->range) >= sizeof(buf))
        return perr(p, pl->line, path, "range \"%s\" is not START-END", pl->range);
    snprintf(buf, sizeof(buf), "%.*s", (int)(dash - pl->range), pl->range);
    char *b = buf;
    while (*b == ' ')
        b++;
    char *t = b + strlen(b);
    while (t > b && t[-1] == ' ')
        *--t = '\0';
    const char *e = dash + 1;
    while (*e == ' ')
        e++;
    if (inet_pton(AF_INET, b, &lo) != 1 || inet_pton(AF_INET, e, &hi) != 1)
        return perr(p, pl->line, path, "range \"%s\" is not START-END with two IPv4 addresses", pl->range);
    if ((ntohl(lo.s_addr) & mask) != (ntohl(a.s_addr) & mask) || (ntohl(hi.s_addr) & mask) != (ntohl(a.s_addr) & mask))
        return perr(p, pl->line, path, "range %s is not inside %s's subnet (%s)", pl->range, f->name, f->address);
    if (ntohl(lo.s_addr) > ntohl(hi.s_addr))
        return perr(p, pl->line, path, "range %s: start is after end", pl->range);
    pl->range = aprintf(p->a, "%s-%s", b, e);
    char ip[INET_ADDRSTRLEN];
    pl->server = astrdup(p->a, scn_iface_ip(f, ip, sizeof(ip)));
    struct in_addr m = {.s_addr = htonl(mask)}, net = {.s_addr = htonl(ntohl(a.s_addr) & mask)};
    pl->netmask = astrdup(p->a, inet_ntop(AF_INET, &m, ip, sizeof(ip)));
    pl->subnet = aprintf(p->a, "%s/%u", inet_ntop(AF_INET, &net, ip, sizeof(ip)), len);
    if (pl->gateway && strcmp(pl->gateway, "none") != 0 && inet_pton(AF_INET, pl->gateway, &lo) != 1)
        return perr(p, pl->line, path, "gateway \"%s\" is not an IPv4 address (or none)", pl->gateway);
    if (pl->option43_end && h->impl != SCN_IMPL_MOCK)
        return perr(p, pl->line, path, "option43-end is a mock-dhcpd switch (dnsmasq always ends Option 43 with END, kea never)");
    if ((h->impl == SCN_IMPL_KEA || h->impl == SCN_IMPL_DNSMASQ) && pl->proxy && (!*pl->proxy || strpbrk(pl->proxy, ",\"\\")))
        return perr(p, pl->line, path, "%s cannot send an empty value or one with a comma, quote or backslash; use impl: mock",
                    scn_impl_name(h->impl));
    return 0;
}

static int check_expect(struct P *p, const struct scn_expect *x, const char *path)
{
    const struct scenario *s = p->s;
    const struct scn_host *h = scenario_host(s, x->host);
    char ep[300];
    snprintf(ep, sizeof(ep), "%s.%s.%s", path, x->host, scn_exp_name(x->kind));
    if (!h && scenario_segment(s, x->host)) {
        if (x->kind != EXP_DECODED)
            return perr(p, x->line, ep, "a segment has only decoded: expectations");
    } else if (!h) {
        char hp[300];
        snprintf(hp, sizeof(hp), "%s.%s", path, x->host);
        return perr(p, x->line, hp, "no host or segment named \"%s\"", x->host);
    } else if (!exp_allowed(h->kind, x->kind)) {
        return perr(p, x->line, ep, "not an expectation for a %s host%s", scn_kind_name(h->kind),
                    x->kind == EXP_DECODED ? " (decoded: is for a segment)" : "");
    }
    switch (x->kind) {
    case EXP_ACTIVE_PROXY:
        if (strcmp(x->value, "none") != 0 && !strchr(x->value, ':'))
            return perr(p, x->line, ep, "expected ADDRESS:PORT or none, got \"%s\"", x->value);
        break;
    case EXP_PROXY_SOURCE: {
        static const char *const src[] = {"learned", "config-static", "onboarding-json", "none", NULL};
        bool ok = false;
        for (const char *const *c = src; *c; c++)
            ok |= !strcmp(*c, x->value);
        if (!ok)
            return perr(p, x->line, ep, "expected learned, config-static, onboarding-json or none, got \"%s\"", x->value);
        break;
    }
    case EXP_PHONE_HOME:
        if (strcmp(x->value, "ok") != 0 && strcmp(x->value, "failed") != 0)
            return perr(p, x->line, ep, "expected ok or failed, got \"%s\"", x->value);
        if (!h->node.sztp)
            return perr(p, x->line, ep, "%s does not phone home: the scenario has no ep-terminator", x->host);
        break;
    case EXP_ONBOARDING:
    case EXP_ONBOARDING_ERROR:
    case EXP_STORED:
    case EXP_CONDUCTOR:
    case EXP_CONDUCTOR_ERROR:
    case EXP_CERTIFICATE:
        if (!h->node.sztp)
            return perr(p, x->line, ep, "%s does not run sZTP: the scenario has no ep-terminator", x->host);
        if (x->kind == EXP_ONBOARDING && scn_sztp_state_index(x->value) < 0 && scn_cond_state_index(x->value) < 0) {
            char list[400] = "";
            size_t o = 0;
            for (const char *const *st = sztp_states; *st; st++)
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", *st);
            for (const char *const *st = cond_states + 1; *st && o < sizeof(list); st++)
                o += (size_t)snprintf(list + o, sizeof(list) - o, ", %s", *st);
            return perr(p, x->line, ep, "unknown state \"%s\" (expected one of: %s)", x->value, list);
        }
        if ((x->kind == EXP_ONBOARDING_ERROR || x->kind == EXP_CONDUCTOR_ERROR) &&
            (strspn(x->value, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(x->value) || !x->value[0]))
            return perr(p, x->line, ep, "expected an error class (%s) or none, got \"%s\"",
                        x->kind == EXP_ONBOARDING_ERROR ? "unclaimed, tls-failed, bad-response, ..."
                                                        : "bad-secret, tls-failed, unknown-ca, ...",
                        x->value);
        for (size_t i = 0; i < x->n_list; i++) {
            const char *nm = !strncmp(x->list[i], "certs/", 6) ? x->list[i] + 6 : x->list[i];
            if (!nm[0] || strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(nm))
                return perr(p, x->line, ep, "\"%s\" is not a stored file's name (root-ca, conductor-psk, certs/router, ...)",
                            x->list[i]);
        }
        if (x->kind == EXP_CONDUCTOR && strcmp(x->value, "none") != 0) {
            const struct scn_host *c = scenario_host(s, x->value);
            if (c && c->kind != SCN_CONDUCTOR)
                return perr(p, x->line, ep, "%s is not a conductor host", x->value);
            if (!c && check_addr_port(p, x->line, ep, x->value) < 0)
                return -1;
        }
        if (x->kind == EXP_CERTIFICATE) {
            if (strcmp(x->value, "valid") != 0 && strcmp(x->value, "none") != 0)
                return perr(p, x->line, ep, "expected valid or none, got \"%s\"", x->value);
            if (!strcmp(x->value, "valid") && !scenario_conductor(s, SCN_ROLE_STAGING))
                return perr(p, x->line, ep, "valid means signed by the staging conductor's CA: the scenario has no staging conductor");
        }
        break;
    case EXP_INVENTORY:
        for (size_t i = 0; i < x->n_kv; i++) {
            char ip[400], rt[80];
            snprintf(ip, sizeof(ip), "%s.%s", ep, x->kv[i].key);
            const char *sl = strchr(x->kv[i].key, '/');
            bool found = false;
            if (sl && (size_t)(sl - x->kv[i].key) < sizeof(rt)) {
                snprintf(rt, sizeof(rt), "%.*s", (int)(sl - x->kv[i].key), x->kv[i].key);
                for (size_t k = 0; k < s->n_hosts; k++)
                    found |= s->hosts[k].kind == SCN_SSR_NODE && !strcmp(s->hosts[k].node.router, rt) &&
                             !strcmp(s->hosts[k].node.node, sl + 1);
            }
            if (!found)
                return perr(p, x->line, ip, "not ROUTER/NODE of a router node of the scenario (e.g. R1/r1a)");
            const char *const *st = inv_states[h->cond.role];
            bool ok = false;
            for (size_t k = 0; st[k]; k++)
                ok |= !strcmp(st[k], x->kv[i].value);
            if (!ok)
                return perr(p, x->line, ip, "\"%s\" is not a %s conductor's node state (%s)", x->kv[i].value,
                            role_names[h->cond.role],
                            h->cond.role == SCN_ROLE_STAGING ? "pending, onboarding, certified, migrated" : "pending, connected");
        }
        break;
    case EXP_PEERED:
        for (size_t i = 0; i < x->n_list; i++) {
            bool found = false;
            for (size_t k = 0; k < s->n_hosts; k++) {
                const struct scn_host *n = &s->hosts[k];
                size_t rl = n->kind == SCN_SSR_NODE ? strlen(n->node.router) : 0;
                found |= rl && !strncmp(x->list[i], n->node.router, rl) && x->list[i][rl] == '.' &&
                         !strcmp(x->list[i] + rl + 1, n->node.node);
            }
            if (!found)
                return perr(p, x->line, ep, "\"%s\" is not ROUTER.NODE of a router node of the scenario (e.g. R1.r1a)",
                            x->list[i]);
        }
        break;
    case EXP_INTERNET_DIRECT:
        if (strcmp(x->value, "blocked") != 0)
            return perr(p, x->line, ep, "expected blocked, got \"%s\"", x->value);
        {
            bool any = false;
            for (size_t i = 0; i < s->n_hosts; i++)
                any |= s->hosts[i].kind == SCN_EP_TERMINATOR || s->hosts[i].kind == SCN_MIST;
            if (!any)
                return perr(p, x->line, ep, "no ep-terminator or mist host to try");
        }
        break;
    case EXP_TPM:
        if (strcmp(x->value, "answers") != 0)
            return perr(p, x->line, ep, "expected answers, got \"%s\"", x->value);
        break;
    case EXP_LOGGED:
    case EXP_NOT_LOGGED:
    case EXP_DECODED:
        for (size_t i = 0; i < x->n_list; i++) {
            regex_t rx;
            int rc = regcomp(&rx, x->list[i], REG_EXTENDED | REG_NOSUB);
            if (rc) {
                char m[160];
                regerror(rc, &rx, m, sizeof(m));
                return perr(p, x->line, ep, "/%s/ is not a valid extended regex: %s", x->list[i], m);
            }
            regfree(&rx);
        }
        break;
    case EXP_CARRIED:
    case EXP_DENIED:
        for (size_t i = 0; i < x->n_list; i++) {
            const struct scn_host *n = scenario_host(s, x->list[i]);
            if (!n || n->kind != SCN_SSR_NODE)
                return perr(p, x->line, ep, "\"%s\" is not a router node (ssr-node host)", x->list[i]);
        }
        break;
    case EXP_LEARNED_PROXIES:
        for (size_t i = 0; i < x->n_rows; i++)
            if (x->rows[i].node && !node_name_known(s, x->rows[i].node)) {
                char rp[320];
                snprintf(rp, sizeof(rp), "%s[%zu].node", ep, i);
                return perr(p, x->rows[i].line, rp, "no router node named \"%s\"", x->rows[i].node);
            }
        break;
    default:
        break;
    }
    return 0;
}

static int check_scenario(struct P *p)
{
    struct scenario *s = p->s;
    char path[300];
    for (size_t i = 0; i < s->n_segments; i++) {
        struct scn_segment *g = &s->segments[i];
        char ns[64];
        snprintf(ns, sizeof(ns), "s-%s", g->name);
        snprintf(path, sizeof(path), "segments.%s", g->name);
        if (!topo_host_valid(ns))
            return perr(p, g->line, path, "a segment name is 1-29 characters of a-z, 0-9, '_', '.', '-'");
    }
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct scn_host *h = &s->hosts[i];
        snprintf(path, sizeof(path), "hosts.%s", h->name);
        if (!topo_host_valid(h->name))
            return perr(p, h->line, path, "a host name is 1-31 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit");
        if (!strncmp(h->name, "s-", 2))
            return perr(p, h->line, path, "host names starting with \"s-\" are the segments' namespaces");
        static const bool impl_ok[SCN_KIND_COUNT][SCN_IMPL_COUNT] = {
            [SCN_SSR_NODE] = {[SCN_IMPL_MOCK] = true},
            [SCN_DHCP_SERVER] = {[SCN_IMPL_MOCK] = true, [SCN_IMPL_DNSMASQ] = true, [SCN_IMPL_KEA] = true},
            [SCN_PROXY] = {[SCN_IMPL_MOCK] = true, [SCN_IMPL_SQUID] = true, [SCN_IMPL_TINYPROXY] = true},
            [SCN_EP_TERMINATOR] = {[SCN_IMPL_MOCK] = true},
            [SCN_MIST] = {[SCN_IMPL_MOCK] = true},
            [SCN_CONDUCTOR] = {[SCN_IMPL_MOCK] = true},
            [SCN_HUB] = {[SCN_IMPL_MOCK] = true},
        };
        if (!impl_ok[h->kind][h->impl])
            return perr(p, h->line, path, "impl %s is not available for %s %s", scn_impl_name(h->impl),
                        strchr("aeiou", scn_kind_name(h->kind)[0]) ? "an" : "a", scn_kind_name(h->kind));
        if (!h->n_ifs)
            return perr(p, h->line, path, "a host needs at least one interface");
        for (size_t j = 0; j < h->n_ifs; j++) {
            struct scn_iface *f = &h->ifs[j];
            snprintf(path, sizeof(path), "hosts.%s.interfaces[%zu]", h->name, j);
            if (!topo_ifname_valid(f->name))
                return perr(p, f->line, path, "\"%s\" is not a valid interface name (1-15 characters)", f->name);
            for (size_t k = 0; k < j; k++)
                if (!strcmp(h->ifs[k].name, f->name))
                    return perr(p, f->line, path, "interface %s appears twice", f->name);
            struct scn_segment *g = NULL;
            for (size_t k = 0; k < s->n_segments; k++)
                if (!strcmp(s->segments[k].name, f->segment))
                    g = &s->segments[k];
            if (!g) {
                char sp[320];
                snprintf(sp, sizeof(sp), "%s.segment", path);
                return perr(p, f->line, sp, "unknown segment \"%s\"", f->segment);
            }
            g->n_attached++;
            if (f->dhcp && h->kind != SCN_SSR_NODE)
                return perr(p, f->line, path, "dhcp: only router interfaces (ssr-node) are DHCP clients");
            if (f->dhcp && f->address)
                return perr(p, f->line, path, "an interface has either dhcp: true or an address, not both");
            if (!f->dhcp && !f->address && h->kind != SCN_SSR_NODE)
                return perr(p, f->line, path, "address: is required (e.g. 198.18.1.1/24)");
            if (f->address) {
                char sp[320];
                snprintf(sp, sizeof(sp), "%s.address", path);
                if (check_ip(p, f->line, sp, f->address, true) < 0)
                    return -1;
                if (!strchr(f->address, '/'))
                    return perr(p, f->line, sp, "give the prefix length too (e.g. %s/24)", f->address);
            }
            unsigned char mac[6];
            if (f->mac && topo_parse_mac(f->mac, mac) < 0)
                return perr(p, f->line, path, "\"%s\" is not a MAC address", f->mac);
        }
        for (size_t j = 0; j < h->n_routes; j++) {
            struct scn_route *r = &h->routes[j];
            snprintf(path, sizeof(path), "hosts.%s.routes[%zu]", h->name, j);
            if (strcmp(r->to, "default") != 0 && check_ip(p, r->line, path, r->to, true) < 0)
                return -1;
            if (r->via && check_ip(p, r->line, path, r->via, false) < 0)
                return -1;
            if (r->dev && !host_iface(h, r->dev))
                return perr(p, r->line, path, "dev %s is not one of %s's interfaces", r->dev, h->name);
        }
        for (size_t j = 0; j < h->n_pools; j++) {
            snprintf(path, sizeof(path), "hosts.%s.pools[%zu]", h->name, j);
            if (check_pool(p, h, &h->pools[j], path) < 0)
                return -1;
            for (size_t k = 0; k < j; k++)
                if (!strcmp(h->pools[k].interface, h->pools[j].interface))
                    return perr(p, h->pools[j].line, path, "interface %s already has a pool", h->pools[j].interface);
        }
        if (h->proxy.n_faults && h->impl != SCN_IMPL_MOCK)
            return perr(p, h->line, path, "faults: are mock-proxy's switches; impl %s has none", scn_impl_name(h->impl));
        if (h->kind == SCN_DHCP_SERVER && !h->n_pools)
            return perr(p, h->line, path, "a dhcp-server needs pools:");
        for (size_t j = 0; j < h->proxy.n_allow; j++) {
            snprintf(path, sizeof(path), "hosts.%s.allow[%zu]", h->name, j);
            struct in_addr a;
            unsigned len;
            if (topo_parse_cidr(h->proxy.allow[j], &a, &len) < 0)
                return perr(p, h->line, path, "\"%s\" is not an IPv4 address/prefix", h->proxy.allow[j]);
        }
        if (h->kind == SCN_SSR_NODE) {
            struct scn_node *n = &h->node;
            snprintf(path, sizeof(path), "hosts.%s", h->name);
            if (!topo_host_valid(n->node))
                return perr(p, h->line, path, "node name \"%s\" is not a valid name", n->node);
            for (size_t k = 0; k < i; k++)
                if (s->hosts[k].kind == SCN_SSR_NODE && !strcmp(s->hosts[k].node.router, n->router) &&
                    !strcmp(s->hosts[k].node.node, n->node))
                    return perr(p, h->line, path, "router %s already has a node %s (host %s)", n->router, n->node,
                                s->hosts[k].name);
            if (n->ha_peer) {
                snprintf(path, sizeof(path), "hosts.%s.ha", h->name);
                const struct scn_host *peer = scenario_host(s, n->ha_peer);
                if (!peer || peer->kind != SCN_SSR_NODE || peer == h)
                    return perr(p, h->line, path, "peer \"%s\" is not another router node", n->ha_peer);
                if (!peer->node.ha_peer || strcmp(peer->node.ha_peer, h->name) != 0)
                    return perr(p, h->line, path, "peer %s must name %s as its ha peer too", n->ha_peer, h->name);
                if (strcmp(peer->node.router, n->router) != 0)
                    return perr(p, h->line, path, "peer %s belongs to router %s, not %s", n->ha_peer, peer->node.router,
                                n->router);
                const struct scn_iface *f = host_iface(h, n->ha_interface);
                if (!f || !f->address)
                    return perr(p, h->line, path, "interface \"%s\" is not an interface of %s with an address",
                                n->ha_interface, h->name);
            }
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->hosts[k].name, h->name))
                return perr(p, h->line, "hosts", "host %s appears twice", h->name);
    }
    if (check_cloud(p) < 0 || check_conductors(p) < 0)
        return -1;
    for (size_t i = 0; i < s->n_segments; i++) {
        struct scn_segment *g = &s->segments[i];
        snprintf(path, sizeof(path), "segments.%s", g->name);
        if (g->kind == SCN_SEG_LINK && g->n_attached != 2)
            return perr(p, g->line, path, "a link joins exactly two interfaces; %u are on it", g->n_attached);
        if (!g->n_attached)
            return perr(p, g->line, path, "no interface is on this segment");
    }
    for (size_t i = 0; i < s->n_steps + s->n_triggers; i++) {
        bool trig = i >= s->n_steps;
        struct scn_step *st = trig ? &s->triggers[i - s->n_steps] : &s->steps[i];
        const char *what = trig ? "triggers" : "steps";
        size_t idx = trig ? i - s->n_steps : i;
        if (st->when.host) {
            snprintf(path, sizeof(path), "%s[%zu].when.%s", what, idx, st->when.host);
            const struct scn_host *h = scenario_host(s, st->when.host);
            if (!h)
                return perr(p, st->when.line, path, "no host named \"%s\"", st->when.host);
            if (st->when.state) {
                if (h->kind != SCN_SSR_NODE || !h->node.sztp)
                    return perr(p, st->when.line, path, "a state is a router node's (running sZTP); use {logged: REGEX} for %s",
                                st->when.host);
                if (scn_sztp_state_index(st->when.state) <= 0 && scn_cond_state_index(st->when.state) <= 0)
                    return perr(p, st->when.line, path, "unknown state \"%s\" (an sZTP state from proxy-ready, or a conductor "
                                                        "state from staging-auth)", st->when.state);
            } else {
                regex_t rx;
                if (regcomp(&rx, st->when.regex, REG_EXTENDED | REG_NOSUB))
                    return perr(p, st->when.line, path, "/%s/ is not a valid extended regex", st->when.regex);
                regfree(&rx);
            }
        }
        for (size_t j = 0; j < st->n_actions; j++) {
            struct scn_action *a = &st->actions[j];
            static const char *const act_key[ACT_KIND_COUNT] = {
                [ACT_STOP] = "stop", [ACT_START] = "start", [ACT_SET_PROXY] = "set-proxy", [ACT_LINK_DOWN] = "link-down",
                [ACT_LINK_UP] = "link-up", [ACT_PROXY_FAULT] = "proxy-fault", [ACT_WRITE] = "write", [ACT_CLAIM] = "claim",
                [ACT_KILL] = "kill"};
            snprintf(path, sizeof(path), "%s[%zu].%s", what, idx, act_key[a->kind]);
            const struct scn_host *h = scenario_host(s, a->host);
            if (!h)
                return perr(p, a->line, path, "no host named \"%s\"", a->host);
            if (a->kind == ACT_SET_PROXY) {
                if (h->kind != SCN_DHCP_SERVER)
                    return perr(p, a->line, path, "%s is not a dhcp-server", a->host);
                if (h->impl != SCN_IMPL_MOCK)
                    return perr(p, a->line, path, "only the mock DHCP server reloads its pools (SIGHUP)");
                if (a->pool >= h->n_pools)
                    return perr(p, a->line, path, "%s has %zu pools (0-%zu)", a->host, h->n_pools,
                                h->n_pools ? h->n_pools - 1 : 0);
            }
            if (a->kind == ACT_PROXY_FAULT && (h->kind != SCN_PROXY || h->impl != SCN_IMPL_MOCK))
                return perr(p, a->line, path, "%s is not a mock proxy (fault switches are mock-proxy's)", a->host);
            if ((a->kind == ACT_LINK_DOWN || a->kind == ACT_LINK_UP) && !host_iface(h, a->interface))
                return perr(p, a->line, path, "%s has no interface %s", a->host, a->interface);
            if (a->kind == ACT_CLAIM) {
                if (h->kind != SCN_SSR_NODE)
                    return perr(p, a->line, path, "%s is not a router node (ssr-node host)", a->host);
                if (!h->node.sztp)
                    return perr(p, a->line, path, "%s does not run sZTP: the scenario has no ep-terminator", a->host);
                if (h->node.claimed)
                    return perr(p, a->line, path, "%s is claimed from the start (set claimed: false)", a->host);
                for (size_t k = 0; k <= i; k++) {
                    const struct scn_step *o = k < s->n_steps ? &s->steps[k] : &s->triggers[k - s->n_steps];
                    for (size_t l = 0; l < (k == i ? j : o->n_actions); l++)
                        if (o->actions[l].kind == ACT_CLAIM && !strcmp(o->actions[l].host, a->host))
                            return perr(p, a->line, path, "%s is claimed already (line %d)", a->host, o->actions[l].line);
                }
            }
        }
        if (trig)
            continue;
        if (i + 1 == s->n_steps)
            snprintf(path, sizeof(path), "expect");
        else
            snprintf(path, sizeof(path), "steps[%zu].expect", i);
        for (size_t j = 0; j < st->n_expects; j++)
            if (st->expects[j].kind != EXP_NO_SECRETS && st->expects[j].kind != EXP_SECRET_FILES &&
                check_expect(p, &st->expects[j], path) < 0)
                return -1;
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------------ */

void scenario_free(struct scenario *s)
{
    if (!s)
        return;
    struct scn_arena *a = s->arena;
    struct scn_blk *b = a->head;
    while (b) {
        struct scn_blk *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

static const char *base_name(const char *path, char *dst, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(dst, cap, "%s", b);
    size_t n = strlen(dst);
    if (n > 5 && !strcmp(dst + n - 5, ".yaml"))
        dst[n - 5] = '\0';
    else if (n > 4 && !strcmp(dst + n - 4, ".yml"))
        dst[n - 4] = '\0';
    return dst;
}

struct scenario *scenario_parse(const char *file, const char *buf, size_t len, char *err, size_t errlen)
{
    struct scn_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    struct scenario *s = amalloc(a, sizeof(*s));
    s->arena = a;
    s->file = astrdup(a, file);
    s->timeout = SCN_DEFAULT_TIMEOUT;
    struct P p = {.file = file, .s = s, .a = a, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';

    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        perr(&p, (int)parser.problem_mark.line + 1, NULL, "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
             parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        scenario_free(s);
        return NULL;
    }
    p.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    static const char *const top[] = {"name", "description", "timeout", "segments", "hosts", "steps", "triggers", "expect", NULL};
    int rc = 0;
    if (!root) {
        rc = perr(&p, 1, NULL, "the file is empty");
    } else if (check_map(&p, root, "", top) < 0) {
        rc = -1;
    } else if (get_str(&p, root, "", "name", true, &s->name) < 0 ||
               get_str(&p, root, "", "description", true, &s->description) < 0 ||
               get_double(&p, root, "", "timeout", 1, 3600, &s->timeout) < 0) {
        rc = -1;
    } else {
        char want[256];
        base_name(file, want, sizeof(want));
        yaml_node_t *nm = map_get(&p, root, "name", NULL);
        yaml_node_t *segs = map_get(&p, root, "segments", NULL), *hosts = map_get(&p, root, "hosts", NULL);
        if (strchr(s->description, '\n'))
            rc = perr(&p, lineof(map_get(&p, root, "description", NULL)), "description", "one line, for `lab list`");
        else if (!topo_host_valid(s->name))
            rc = perr(&p, lineof(nm), "name", "a scenario name is a-z, 0-9, '-' (like the file name)");
        else if (strcmp(want, s->name) != 0 && strcmp(file, "-") != 0 && strchr(file, '/'))
            rc = perr(&p, lineof(nm), "name", "\"%s\" differs from the file name \"%s\"", s->name, want);
        else if (!segs)
            rc = perr(&p, lineof(root), NULL, "missing required key \"segments\"");
        else if (!hosts)
            rc = perr(&p, lineof(root), NULL, "missing required key \"hosts\"");
        else if (parse_segments(&p, segs) < 0 || parse_hosts(&p, hosts) < 0 ||
                 parse_step_list(&p, map_get(&p, root, "steps", NULL), false) < 0 ||
                 parse_step_list(&p, map_get(&p, root, "triggers", NULL), true) < 0)
            rc = -1;
        if (rc == 0) {
            /* the final expectations are the last step */
            struct scn_step *steps = amalloc(a, (s->n_steps + 1) * sizeof(struct scn_step));
            if (s->n_steps)
                memcpy(steps, s->steps, s->n_steps * sizeof(struct scn_step));
            s->steps = steps;
            struct scn_step *fin = &s->steps[s->n_steps++];
            fin->name = "final state";
            fin->at = -1;
            yaml_node_t *ex = map_get(&p, root, "expect", NULL);
            if (parse_expect(&p, fin, ex, "expect") < 0)
                rc = -1;
            else if (!ex && s->n_steps == 1)
                rc = perr(&p, lineof(root), NULL, "missing required key \"expect\" (a scenario states what must hold)");
            bool cloud = false; /* the run generates secrets (OCRA keys, pre-shared secrets) */
            for (size_t i = 0; i < s->n_hosts; i++)
                cloud |= s->hosts[i].kind == SCN_EP_TERMINATOR;
            if (rc == 0 && (s->n_secrets || cloud)) {
                struct scn_expect *xs = amalloc(a, (fin->n_expects + 2) * sizeof(struct scn_expect));
                if (fin->n_expects)
                    memcpy(xs, fin->expects, fin->n_expects * sizeof(*xs));
                xs[fin->n_expects].kind = EXP_NO_SECRETS;
                xs[fin->n_expects].line = 0;
                fin->expects = xs;
                fin->n_expects++;
                if (cloud) { /* router nodes run sZTP: they keep secrets in files */
                    xs[fin->n_expects].kind = EXP_SECRET_FILES;
                    xs[fin->n_expects].line = 0;
                    fin->n_expects++;
                }
            }
        }
        if (rc == 0)
            rc = check_scenario(&p);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        scenario_free(s);
        return NULL;
    }
    return s;
}

struct scenario *scenario_load(const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file_max(path, SCN_MAX_FILE, &buf, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return NULL;
    }
    struct scenario *s = scenario_parse(path, buf, len, err, errlen);
    free(buf);
    return s;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct scn_entry *)a)->name, ((const struct scn_entry *)b)->name);
}

int scenario_dir_list(const char *dir, struct scn_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    size_t cap = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            struct scn_entry *ne = realloc(*out, cap * sizeof(**out));
            if (!ne)
                break;
            *out = ne;
        }
        struct scn_entry *e = &(*out)[*n];
        char path[4096], err[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        e->name = strndup(de->d_name, l - 5);
        e->path = strdup(path);
        struct scenario *s = scenario_load(path, err, sizeof(err));
        e->ok = s != NULL;
        e->description = strdup(s ? s->description : err);
        scenario_free(s);
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof(**out), entry_cmp);
    return 0;
}

void scenario_dir_free(struct scn_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].path);
        free(e[i].description);
    }
    free(e);
}
