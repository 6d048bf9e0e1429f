#include "leases.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/util.h"
#include "ztp/log.h"

#define LEASES_MAX_BYTES (64u << 20)

static const char *const state_names[DLEASE_STATE__COUNT] = {
    [DLEASE_FREE] = "free", [DLEASE_OFFERED] = "offered", [DLEASE_BOUND] = "bound",
    [DLEASE_RELEASED] = "released", [DLEASE_DECLINED] = "declined",
};

const char *dhcpd_lease_state_name(enum dhcpd_lease_state s)
{
    return (unsigned)s < DLEASE_STATE__COUNT ? state_names[s] : "invalid";
}

void dhcpd_leases_init(struct dhcpd_lease_table *t) { memset(t, 0, sizeof *t); }

void dhcpd_leases_free(struct dhcpd_lease_table *t)
{
    free(t->v);
    memset(t, 0, sizeof *t);
}

bool dhcpd_lease_active(const struct dhcpd_lease *l, int64_t now)
{
    return (l->state == DLEASE_OFFERED || l->state == DLEASE_BOUND || l->state == DLEASE_DECLINED) && l->expires > now;
}

struct dhcpd_lease *dhcpd_leases_find_client(struct dhcpd_lease_table *t, const uint8_t *key, size_t key_len, bool by_client_id,
                                 uint32_t lo, uint32_t hi)
{
    for (size_t i = 0; i < t->n; i++) {
        struct dhcpd_lease *l = &t->v[i];
        uint32_t h = ntohl(l->addr.s_addr);
        if (l->state == DLEASE_DECLINED || l->by_client_id != by_client_id || l->key_len != key_len)
            continue;
        if (h < lo || h > hi || memcmp(l->key, key, key_len) != 0)
            continue;
        return l;
    }
    return NULL;
}

struct dhcpd_lease *dhcpd_leases_find_addr(struct dhcpd_lease_table *t, struct in_addr a)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].addr.s_addr == a.s_addr)
            return &t->v[i];
    return NULL;
}

struct dhcpd_lease *dhcpd_leases_add(struct dhcpd_lease_table *t, struct in_addr a)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct dhcpd_lease *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    struct dhcpd_lease *l = &t->v[t->n++];
    memset(l, 0, sizeof *l);
    l->addr = a;
    l->state = DLEASE_FREE;
    return l;
}

void dhcpd_leases_remove(struct dhcpd_lease_table *t, struct dhcpd_lease *l)
{
    size_t i = (size_t)(l - t->v);
    if (i >= t->n)
        fatalx("lease.invariant", "reason=\"remove of an entry not in the table\"");
    t->v[i] = t->v[t->n - 1];
    t->n--;
    t->dirty = true;
}

char *dhcpd_lease_client_str(const struct dhcpd_lease *l, char *buf, size_t cap)
{
    if (l->state == DLEASE_DECLINED && l->key_len == 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    if (l->by_client_id)
        return log_hex(buf, cap, l->key, l->key_len);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->hlen && o + 4 <= cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%02x", i ? ":" : "", l->chaddr[i]);
    return buf;
}

void dhcpd_lease_set_state(struct dhcpd_lease_table *t, struct dhcpd_lease *l, enum dhcpd_lease_state st,
                           int64_t expires, const char *why)
{
    char addr[INET_ADDRSTRLEN], client[520];
    enum dhcpd_lease_state old = l->state;
    if ((unsigned)st >= DLEASE_STATE__COUNT || st == DLEASE_FREE)
        fatalx("lease.invariant", "reason=\"bad target state\" state=%d", (int)st);
    l->state = st;
    l->expires = expires;
    t->dirty = true;
    if (old != st)
        log_info("lease.state", "addr=%s client=%s old=%s new=%s why=%s",
                 inet_ntop(AF_INET, &l->addr, addr, sizeof addr), dhcpd_lease_client_str(l, client, sizeof client),
                 dhcpd_lease_state_name(old), dhcpd_lease_state_name(st), why);
}

/* ---- persistence ---- */

static void hex_to(char *dst, const uint8_t *p, size_t n, char sep)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (sep && i)
            dst[o++] = sep;
        o += (size_t)sprintf(dst + o, "%02x", p[i]);
    }
    dst[o] = '\0';
}

/* Parse "0a1b2c" or "0a:1b:2c" (two digits per byte). */
char *dhcpd_leases_to_json(const struct dhcpd_lease_table *t)
{
    json_t *root = json_object(), *arr = json_array();
    char *out = NULL;
    if (!root || !arr)
        goto out;
    json_object_set_new(root, "version", json_integer(1));
    for (size_t i = 0; i < t->n; i++) {
        const struct dhcpd_lease *l = &t->v[i];
        char addr[INET_ADDRSTRLEN], hex[3 * 255 + 1];
        json_t *e = json_object();
        if (!e)
            goto out;
        json_object_set_new(e, "address", json_string(inet_ntop(AF_INET, &l->addr, addr, sizeof addr)));
        json_object_set_new(e, "state", json_string(dhcpd_lease_state_name(l->state)));
        json_object_set_new(e, "expires", l->expires == DLEASE_NEVER ? json_null() : json_integer(l->expires));
        if (l->hlen) {
            hex_to(hex, l->chaddr, l->hlen, ':');
            json_object_set_new(e, "chaddr", json_string(hex));
        }
        if (l->by_client_id) {
            hex_to(hex, l->key, l->key_len, 0);
            json_object_set_new(e, "client_id", json_string(hex));
        }
        json_array_append_new(arr, e);
    }
    json_object_set(root, "leases", arr);
    out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
    json_decref(arr);
    json_decref(root);
    return out;
}

static int entry_from_json(json_t *e, size_t i, struct dhcpd_lease *l, char *err, size_t errlen)
{
    static const char *const keys[] = {"address", "state", "expires", "chaddr", "client_id", NULL};
    const char *key;
    json_t *v;
    size_t n;

    memset(l, 0, sizeof *l);
    if (!json_is_object(e))
        return errf(err, errlen, "leases[%zu]: must be an object", i);
    json_object_foreach(e, key, v) {
        bool ok = false;
        for (size_t k = 0; keys[k]; k++)
            ok |= strcmp(key, keys[k]) == 0;
        if (!ok)
            return errf(err, errlen, "leases[%zu]: unknown key \"%s\"", i, key);
    }
    v = json_object_get(e, "address");
    if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), &l->addr) != 1)
        return errf(err, errlen, "leases[%zu].address: not an IPv4 address", i);
    v = json_object_get(e, "state");
    l->state = DLEASE_STATE__COUNT;
    for (unsigned s = DLEASE_OFFERED; s < DLEASE_STATE__COUNT && json_is_string(v); s++)
        if (strcmp(json_string_value(v), state_names[s]) == 0)
            l->state = (enum dhcpd_lease_state)s;
    if (l->state == DLEASE_STATE__COUNT)
        return errf(err, errlen, "leases[%zu].state: not offered, bound, released or declined", i);
    v = json_object_get(e, "expires");
    if (json_is_null(v))
        l->expires = DLEASE_NEVER;
    else if (json_is_integer(v))
        l->expires = json_integer_value(v);
    else
        return errf(err, errlen, "leases[%zu].expires: must be an integer (unix time) or null", i);
    v = json_object_get(e, "chaddr");
    if (v) {
        if (!json_is_string(v) || hex_decode(json_string_value(v), l->chaddr, sizeof l->chaddr, &n) < 0)
            return errf(err, errlen, "leases[%zu].chaddr: not hex bytes (at most 16)", i);
        l->hlen = (uint8_t)n;
    }
    v = json_object_get(e, "client_id");
    if (v) {
        if (!json_is_string(v) || hex_decode(json_string_value(v), l->key, sizeof l->key, &n) < 0 || n == 0)
            return errf(err, errlen, "leases[%zu].client_id: not hex bytes (1..255)", i);
        l->key_len = (uint8_t)n;
        l->by_client_id = true;
    } else if (l->hlen) {
        memcpy(l->key, l->chaddr, l->hlen);
        l->key_len = l->hlen;
    } else if (l->state != DLEASE_DECLINED) {
        return errf(err, errlen, "leases[%zu]: needs chaddr or client_id", i);
    }
    return 0;
}

int dhcpd_leases_from_json(struct dhcpd_lease_table *t, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *arr, *e;
    size_t i;
    int rc = -1;
    if (!root)
        return errf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) != 1) {
        errf(err, errlen, "not a version 1 lease file");
        goto out;
    }
    arr = json_object_get(root, "leases");
    if (!json_is_array(arr)) {
        errf(err, errlen, "leases: must be an array");
        goto out;
    }
    json_array_foreach(arr, i, e) {
        struct dhcpd_lease tmp, *l;
        if (entry_from_json(e, i, &tmp, err, errlen) < 0)
            goto out;
        if (dhcpd_leases_find_addr(t, tmp.addr)) {
            errf(err, errlen, "leases[%zu].address: listed twice", i);
            goto out;
        }
        if (!(l = dhcpd_leases_add(t, tmp.addr))) {
            errf(err, errlen, "out of memory");
            goto out;
        }
        *l = tmp;
    }
    t->dirty = false;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int dhcpd_leases_save(struct dhcpd_lease_table *t, const char *path)
{
    char *text = dhcpd_leases_to_json(t), *nl;
    int r;
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    nl = realloc(text, len + 2); /* end the file with a newline */
    if (!nl) {
        free(text);
        return -ENOMEM;
    }
    nl[len++] = '\n';
    nl[len] = '\0';
    r = atomic_write_file(path, nl, len, 0644);
    free(nl);
    if (r == 0)
        t->dirty = false;
    return r;
}

int dhcpd_leases_load(struct dhcpd_lease_table *t, const char *path, char *err, size_t errlen)
{
    char *text, inner[256];
    size_t len;
    int r = read_file_max(path, LEASES_MAX_BYTES, &text, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return errf(err, errlen, "%s: %s", path, strerror(-r));
    r = dhcpd_leases_from_json(t, text, len, inner, sizeof inner);
    free(text);
    if (r < 0) {
        dhcpd_leases_free(t);
        return errf(err, errlen, "%s: %s", path, inner);
    }
    return 0;
}
