/* Hardware Bootstrapper onboarding.json and the persisted onboarding state: see onboarding.h. */
#include "onboarding.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/dhcp.h"

const char *onboarding_mode_name(enum onboarding_mode m)
{
    switch (m) {
    case ONB_MODE_CONDUCTOR_MANAGED: return "conductor-managed";
    case ONB_MODE_MIST_MANAGED: return "mist-managed";
    }
    return "unknown";
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A JSON key for a message: printable ASCII, others as \xNN, truncated. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i >= 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
    return buf;
}
#define SHOW(s) shown((s), (char[80]){0}, 80)

static void warn(struct onboarding_info *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct onboarding_info *o, const char *fmt, ...)
{
    if (o->n_warnings == ONB_MAX_WARNINGS) {
        o->n_warnings_dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->warnings[o->n_warnings++], ONB_WARN_MAX, fmt, ap);
    va_end(ap);
}

static int get_string(const char *key, json_t *v, char *dst, size_t cap, char *err, size_t errcap)
{
    if (!json_is_string(v))
        return fail(err, errcap, "\"%s\" must be a string", key);
    size_t l = json_string_length(v);
    if (l == 0)
        return fail(err, errcap, "\"%s\" must not be empty", key);
    if (l >= cap)
        return fail(err, errcap, "\"%s\" too long (at most %zu bytes)", key, cap - 1);
    memcpy(dst, json_string_value(v), l + 1);
    return 0;
}

static int get_proxy(json_t *v, struct onboarding_info *o, char *err, size_t errcap)
{
    if (!json_is_object(v))
        return fail(err, errcap, "\"proxy\" must be an object {\"address\": \"A\", \"port\": P}");
    json_t *a = json_object_get(v, "address");
    json_t *p = json_object_get(v, "port");
    const char *key;
    json_t *m;
    json_object_foreach(v, key, m)
    {
        if (strcmp(key, "address") != 0 && strcmp(key, "port") != 0)
            warn(o, "unknown field \"proxy.%s\"", SHOW(key));
    }
    if (!a)
        return fail(err, errcap, "\"proxy\" has no \"address\"");
    if (!p)
        return fail(err, errcap, "\"proxy\" has no \"port\"");
    if (!json_is_string(a))
        return fail(err, errcap, "\"proxy.address\" must be a string");
    char tmp[96];
    int n;
    const char *as = json_string_value(a);
    size_t al = json_string_length(a);
    if (al > 32)
        return fail(err, errcap, "\"proxy.address\": not an IPv4 address");
    if (json_is_integer(p)) {
        json_int_t pv = json_integer_value(p);
        if (pv < 1 || pv > 65535)
            return fail(err, errcap, "\"proxy.port\": %" JSON_INTEGER_FORMAT " out of range (1-65535)", pv);
        n = snprintf(tmp, sizeof tmp, "%s:%" JSON_INTEGER_FORMAT, as, pv);
    } else if (json_is_string(p)) {
        if (json_string_length(p) > 8)
            return fail(err, errcap, "\"proxy.port\": not a port number (1-65535)");
        n = snprintf(tmp, sizeof tmp, "%s:%s", as, json_string_value(p));
    } else {
        return fail(err, errcap, "\"proxy.port\" must be an integer");
    }
    if (n < 0 || (size_t)n >= sizeof tmp)
        return fail(err, errcap, "\"proxy\": invalid");
    /* Same strict rules as a learned proxy. The address may not carry its own ":port". */
    const char *why = "invalid";
    if (memchr(as, ':', al))
        return fail(err, errcap, "\"proxy.address\" %s: give the port in \"proxy.port\"", SHOW(as));
    if (strlen(as) != al ||
        proxy_addr_parse(tmp, (size_t)n, &o->proxy_addr, &o->proxy_port, &why) < 0)
        return fail(err, errcap, "\"proxy\": %s:%s: %s", SHOW(as),
                    json_is_string(p) ? SHOW(json_string_value(p)) : "port", why);
    o->have_proxy = true;
    return 0;
}

/* Members of the product's file that the lab accepts without using them. */
static bool is_ignored(const char *key)
{
    static const char *const ignored[] = {"ssr-version",  "artifactory-user", "artifactory-password",
                                          "cloud-provider", "download-timeout", "download-retries"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (strcmp(key, ignored[i]) == 0)
            return true;
    return false;
}

int onboarding_parse(const char *buf, size_t len, struct onboarding_info *o, char *err, size_t errcap)
{
    json_error_t je;
    memset(o, 0, sizeof *o);
    if (err && errcap)
        err[0] = '\0';
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(err, errcap, "invalid JSON: line %d column %d: %s", je.line, je.column, je.text);
    int r = -1;
    if (!json_is_object(root)) {
        fail(err, errcap, "not a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "name") == 0) {
            if (get_string(key, v, o->name, sizeof o->name, err, errcap) < 0)
                goto out;
        } else if (strcmp(key, "mode") == 0) {
            if (!json_is_string(v)) {
                fail(err, errcap, "\"mode\" must be a string");
                goto out;
            }
            const char *m = json_string_value(v);
            if (strcmp(m, "conductor-managed") == 0)
                o->mode = ONB_MODE_CONDUCTOR_MANAGED;
            else if (strcmp(m, "mist-managed") == 0)
                o->mode = ONB_MODE_MIST_MANAGED;
            else if (strcmp(m, "conductor") == 0) {
                fail(err, errcap, "mode \"conductor\" is for a conductor, not a router");
                goto out;
            } else {
                fail(err, errcap, "unknown mode \"%s\" (conductor-managed or mist-managed)", SHOW(m));
                goto out;
            }
            o->mode_set = true;
        } else if (strcmp(key, "conductor-hosts") == 0) {
            if (json_is_string(v)) {
                if (get_string(key, v, o->conductor_hosts[0], ONB_STR_MAX, err, errcap) < 0)
                    goto out;
                o->n_conductor_hosts = 1;
            } else if (json_is_array(v)) {
                size_t i;
                json_t *h;
                if (json_array_size(v) > ONB_MAX_CONDUCTORS) {
                    fail(err, errcap, "\"conductor-hosts\": too many (at most %d)", ONB_MAX_CONDUCTORS);
                    goto out;
                }
                json_array_foreach(v, i, h)
                {
                    if (get_string("conductor-hosts[]", h, o->conductor_hosts[i], ONB_STR_MAX, err, errcap) < 0)
                        goto out;
                }
                o->n_conductor_hosts = json_array_size(v);
            } else {
                fail(err, errcap, "\"conductor-hosts\" must be an array of strings");
                goto out;
            }
        } else if (strcmp(key, "registration-code") == 0) {
            if (get_string(key, v, o->registration_code, sizeof o->registration_code, err, errcap) < 0)
                goto out;
        } else if (strcmp(key, "asset-id") == 0) {
            if (get_string(key, v, o->asset_id, sizeof o->asset_id, err, errcap) < 0)
                goto out;
        } else if (strcmp(key, "node-name") == 0) {
            if (get_string(key, v, o->node_name, sizeof o->node_name, err, errcap) < 0)
                goto out;
        } else if (strcmp(key, "proxy") == 0) {
            if (get_proxy(v, o, err, errcap) < 0)
                goto out;
        } else if (is_ignored(key)) {
            /* product member the lab does not use */
        } else {
            warn(o, "unknown field \"%s\"", SHOW(key));
        }
    }
    r = 0;
out:
    json_decref(root);
    if (r < 0) {
        memset(o, 0, sizeof *o); /* never hand back half a file */
    }
    return r;
}

int onboarding_load(const char *path, struct onboarding_info *out, char *err, size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    char e[256];
    memset(out, 0, sizeof *out);
    int r = read_file_max(path, ONB_FILE_MAX, &buf, &len);
    if (r == -ENOENT)
        return 1;
    if (r < 0)
        return fail(err, errcap, "%s: %s", path, r == -EFBIG ? "file too large" : strerror(-r));
    r = onboarding_parse(buf, len, out, e, sizeof e);
    free(buf);
    if (r < 0)
        return fail(err, errcap, "%s: %s", path, e);
    return 0;
}

static int state_path(const char *dir, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", dir, ONBOARDING_STATE_FILE);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int onboarding_state_load(const char *state_dir, struct onboarding_state *st, char *err, size_t errcap)
{
    char path[4096];
    char *buf = NULL;
    size_t len = 0;
    json_error_t je;
    memset(st, 0, sizeof *st);
    if (state_path(state_dir, path, sizeof path) < 0)
        return fail(err, errcap, "%s: path too long", state_dir);
    int r = read_file_max(path, 16 * 1024, &buf, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return fail(err, errcap, "%s: %s", path, strerror(-r));
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!root)
        return fail(err, errcap, "%s: invalid JSON: line %d column %d: %s", path, je.line, je.column, je.text);
    r = -1;
    json_t *on = json_object_get(root, "onboarded");
    json_t *co = json_object_get(root, "conductor");
    json_t *si = json_object_get(root, "since");
    if (!json_is_object(root)) {
        fail(err, errcap, "%s: not a JSON object", path);
    } else if (!json_is_boolean(on)) {
        fail(err, errcap, "%s: \"onboarded\" must be true or false", path);
    } else if (co && !json_is_string(co)) {
        fail(err, errcap, "%s: \"conductor\" must be a string", path);
    } else if (co && json_string_length(co) >= sizeof st->conductor) {
        fail(err, errcap, "%s: \"conductor\" too long", path);
    } else if (si && (!json_is_integer(si) || json_integer_value(si) < 0)) {
        fail(err, errcap, "%s: \"since\" must be a non-negative integer", path);
    } else {
        st->onboarded = json_is_true(on);
        if (co)
            snprintf(st->conductor, sizeof st->conductor, "%s", json_string_value(co));
        if (si)
            st->since = (time_t)json_integer_value(si);
        r = 0;
    }
    json_decref(root);
    if (r < 0)
        memset(st, 0, sizeof *st);
    return r;
}

int onboarding_state_save(const char *state_dir, const struct onboarding_state *st)
{
    char path[4096];
    if (state_path(state_dir, path, sizeof path) < 0)
        return -ENAMETOOLONG;
    json_t *root = json_pack("{s:b, s:s, s:I}", "onboarded", st->onboarded ? 1 : 0, "conductor", st->conductor,
                             "since", (json_int_t)st->since);
    if (!root)
        return -ENOMEM;
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!s)
        return -ENOMEM;
    size_t l = strlen(s);
    char *withnl = realloc(s, l + 2);
    if (!withnl) {
        free(s);
        return -ENOMEM;
    }
    withnl[l] = '\n';
    withnl[l + 1] = '\0';
    int r = atomic_write_file(path, withnl, l + 1, 0644);
    free(withnl);
    return r;
}
