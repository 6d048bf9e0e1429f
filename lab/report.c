/* summary.json and JUnit XML (see report.h). */
#include "report.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc = (cap) ? (cap) * 2 : 16;                                                    \
            void *np = realloc((arr), nc * sizeof(*(arr)));                                        \
            if (!np)                                                                               \
                abort();                                                                           \
            (arr) = np;                                                                            \
            (cap) = nc;                                                                            \
        }                                                                                          \
    } while (0)

struct rep_expect *report_add_expect(struct rep_run *r)
{
    GROW(r->exps, r->n_exps, r->cap_exps);
    struct rep_expect *e = &r->exps[r->n_exps++];
    memset(e, 0, sizeof(*e));
    e->at_s = -1;
    return e;
}

struct rep_event *report_add_event(struct rep_run *r)
{
    GROW(r->events, r->n_events, r->cap_events);
    struct rep_event *e = &r->events[r->n_events++];
    memset(e, 0, sizeof(*e));
    return e;
}

struct rep_host *report_add_host(struct rep_run *r)
{
    GROW(r->hosts, r->n_hosts, r->cap_hosts);
    struct rep_host *h = &r->hosts[r->n_hosts++];
    memset(h, 0, sizeof(*h));
    return h;
}

void report_clear(struct rep_run *r)
{
    for (size_t i = 0; i < r->n_exps; i++)
        free(r->exps[i].log_tail);
    free(r->exps);
    free(r->events);
    free(r->hosts);
    json_decref(r->versions);
    r->exps = NULL;
    r->events = NULL;
    r->hosts = NULL;
    r->versions = NULL;
    r->n_exps = r->n_events = r->n_hosts = 0;
    r->cap_exps = r->cap_events = r->cap_hosts = 0;
}

unsigned report_failures(const struct rep_run *r)
{
    unsigned n = 0;
    for (size_t i = 0; i < r->n_exps; i++)
        n += !r->exps[i].pass && !r->exps[i].skipped;
    return n;
}

json_t *report_json_str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *c = strdup(s);
    if (!c)
        abort();
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j ? j : json_string("");
}

static json_t *jnum(double v) { return json_real((double)(int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0); }

json_t *report_summary(const struct rep_run *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "scenario", report_json_str(r->scenario));
    json_object_set_new(o, "file", report_json_str(r->file));
    json_object_set_new(o, "description", report_json_str(r->description));
    json_object_set_new(o, "result", json_string(r->result[0] ? r->result : "error"));
    json_object_set_new(o, "error", r->error[0] ? report_json_str(r->error) : json_null());
    json_object_set_new(o, "runid", report_json_str(r->runid));
    json_object_set_new(o, "mode", report_json_str(r->mode));
    json_object_set_new(o, "started", report_json_str(r->started));
    json_t *t = json_object();
    json_object_set_new(t, "total_s", jnum(r->total_s));
    json_object_set_new(t, "setup_s", jnum(r->setup_s));
    json_object_set_new(t, "checks_s", jnum(r->checks_s));
    json_object_set_new(t, "teardown_s", jnum(r->teardown_s));
    json_object_set_new(o, "timings", t);
    json_object_set_new(o, "artifacts", report_json_str(r->artifacts));
    json_t *hs = json_array();
    for (size_t i = 0; i < r->n_hosts; i++) {
        const struct rep_host *h = &r->hosts[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", report_json_str(h->name));
        json_object_set_new(j, "kind", report_json_str(h->kind));
        json_object_set_new(j, "impl", report_json_str(h->impl));
        json_object_set_new(j, "namespace", report_json_str(h->ns));
        json_object_set_new(j, "ready_ms", jnum(h->ready_ms));
        json_object_set_new(j, "status", report_json_str(h->status));
        json_object_set_new(j, "version", h->version[0] ? report_json_str(h->version) : json_null());
        json_array_append_new(hs, j);
    }
    json_object_set_new(o, "hosts", hs);
    json_object_set(o, "versions", r->versions ? r->versions : json_object());
    if (!r->versions)
        json_decref(json_object_get(o, "versions"));
    json_t *xs = json_array();
    for (size_t i = 0; i < r->n_exps; i++) {
        const struct rep_expect *e = &r->exps[i];
        json_t *j = json_object();
        json_object_set_new(j, "step", report_json_str(e->step));
        json_object_set_new(j, "name", report_json_str(e->name));
        json_object_set_new(j, "result", json_string(e->pass ? "pass" : e->skipped ? "skipped" : "fail"));
        json_object_set_new(j, "want", report_json_str(e->want));
        json_object_set_new(j, "got", report_json_str(e->got));
        json_object_set_new(j, "at_s", e->at_s >= 0 ? jnum(e->at_s) : json_null());
        json_object_set_new(j, "log", e->log[0] ? report_json_str(e->log) : json_null());
        json_object_set_new(j, "log_tail", e->log_tail ? report_json_str(e->log_tail) : json_null());
        json_array_append_new(xs, j);
    }
    json_object_set_new(o, "expectations", xs);
    json_t *tl = json_array();
    for (size_t i = 0; i < r->n_events; i++) {
        const struct rep_event *e = &r->events[i];
        json_t *j = json_object();
        json_object_set_new(j, "t", jnum(e->t));
        json_object_set_new(j, "host", report_json_str(e->host));
        json_object_set_new(j, "step", report_json_str(e->step));
        json_object_set_new(j, "detail", report_json_str(e->detail));
        json_array_append_new(tl, j);
    }
    json_object_set_new(o, "timeline", tl);
    return o;
}

int report_write_summary(const struct rep_run *r, const char *path)
{
    json_t *o = report_summary(r);
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!txt)
        return -ENOMEM;
    size_t n = strlen(txt);
    txt[n] = '\0';
    char *out = malloc(n + 2);
    if (!out) {
        free(txt);
        return -ENOMEM;
    }
    memcpy(out, txt, n);
    out[n] = '\n';
    free(txt);
    int rc = atomic_write_file(path, out, n + 1, 0644);
    free(out);
    return rc;
}

size_t report_utf8_len(const unsigned char *p, bool xml)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (xml && (cp == 0xfffe || cp == 0xffff)))
        return 0;
    return n;
}

void report_markup_put(FILE *f, const char *s, size_t maxch, bool html)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t ch = 0;
    while (*p) {
        if (maxch && ch >= maxch) {
            fputs("...", f);
            return;
        }
        ch++;
        switch (*p) {
        case '&': fputs("&amp;", f); p++; continue;
        case '<': fputs("&lt;", f); p++; continue;
        case '>': fputs("&gt;", f); p++; continue;
        case '"': fputs("&quot;", f); p++; continue;
        case '\'': fputs(html ? "&#39;" : "&apos;", f); p++; continue;
        case '\t': case '\n': fputc(*p, f); p++; continue;
        case '\r':
            if (html)
                break;
            fputc(*p, f);
            p++;
            continue;
        default: break;
        }
        size_t n = *p < 0x20 || *p == 0x7f ? 0 : report_utf8_len(p, !html);
        if (!n) {
            fprintf(f, "\\x%02x", *p);
            p++;
            continue;
        }
        fwrite(p, 1, n, f);
        p += n;
    }
}

void report_xml_put(FILE *f, const char *s) { report_markup_put(f, s, 0, false); }

static void put_attr(FILE *f, const char *name, const char *value)
{
    fprintf(f, " %s=\"", name);
    report_xml_put(f, value);
    fputc('"', f);
}

static void timeline_text(FILE *f, const struct rep_run *r)
{
    for (size_t i = 0; i < r->n_events; i++) {
        const struct rep_event *e = &r->events[i];
        char line[512];
        snprintf(line, sizeof(line), "+%.3fs  %-8s %-20s %s\n", e->t, e->host, e->step, e->detail);
        report_xml_put(f, line);
    }
}

void report_junit(FILE *f, const struct rep_run *const *runs, size_t n)
{
    unsigned tests = 0, failures = 0, errors = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rep_run *r = runs[i];
        bool err = !strcmp(r->result, "error") || !strcmp(r->result, "skipped");
        tests += (unsigned)r->n_exps + (err ? 1 : 0);
        failures += report_failures(r);
        errors += err && strcmp(r->result, "skipped") != 0;
        total += r->total_s;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"ztp-lab\" tests=\"%u\" failures=\"%u\" errors=\"%u\" time=\"%.3f\">\n", tests, failures,
            errors, total);
    for (size_t i = 0; i < n; i++) {
        const struct rep_run *r = runs[i];
        bool skip = !strcmp(r->result, "skipped");
        bool err = !strcmp(r->result, "error");
        char cls[96], num[64];
        snprintf(cls, sizeof(cls), "lab.%s", r->scenario);
        fprintf(f, "  <testsuite");
        put_attr(f, "name", r->scenario);
        snprintf(num, sizeof(num), "%zu", r->n_exps + (err || skip ? 1 : 0));
        put_attr(f, "tests", num);
        snprintf(num, sizeof(num), "%u", report_failures(r));
        put_attr(f, "failures", num);
        put_attr(f, "errors", err ? "1" : "0");
        unsigned nskip = skip ? 1 : 0;
        for (size_t k = 0; k < r->n_exps; k++)
            nskip += r->exps[k].skipped;
        snprintf(num, sizeof(num), "%u", nskip);
        put_attr(f, "skipped", num);
        snprintf(num, sizeof(num), "%.3f", r->total_s);
        put_attr(f, "time", num);
        if (r->started[0])
            put_attr(f, "timestamp", r->started);
        put_attr(f, "hostname", "localhost");
        fprintf(f, ">\n    <properties>\n");
        const char *props[][2] = {{"file", r->file}, {"runid", r->runid}, {"mode", r->mode}, {"artifacts", r->artifacts},
                                  {"description", r->description}};
        for (size_t k = 0; k < sizeof(props) / sizeof(props[0]); k++) {
            fprintf(f, "      <property");
            put_attr(f, "name", props[k][0]);
            put_attr(f, "value", props[k][1]);
            fprintf(f, "/>\n");
        }
        fprintf(f, "    </properties>\n");
        if (skip) {
            fprintf(f, "    <testcase");
            put_attr(f, "classname", cls);
            put_attr(f, "name", "setup");
            put_attr(f, "time", "0.000");
            fprintf(f, ">\n      <skipped");
            put_attr(f, "message", r->error);
            fprintf(f, "/>\n    </testcase>\n");
        }
        if (err) {
            fprintf(f, "    <testcase");
            put_attr(f, "classname", cls);
            put_attr(f, "name", "setup");
            snprintf(num, sizeof(num), "%.3f", r->setup_s);
            put_attr(f, "time", num);
            fprintf(f, ">\n      <error");
            put_attr(f, "message", r->error);
            put_attr(f, "type", "setup");
            fprintf(f, ">");
            report_xml_put(f, r->error);
            fprintf(f, "</error>\n    </testcase>\n");
        }
        for (size_t k = 0; k < r->n_exps; k++) {
            const struct rep_expect *e = &r->exps[k];
            char name[256];
            snprintf(name, sizeof(name), "%s: %s", e->step, e->name);
            fprintf(f, "    <testcase");
            put_attr(f, "classname", cls);
            put_attr(f, "name", name);
            snprintf(num, sizeof(num), "%.3f", e->at_s >= 0 ? e->at_s : 0.0);
            put_attr(f, "time", num);
            if (e->pass) {
                fprintf(f, "/>\n");
                continue;
            }
            if (e->skipped) {
                fprintf(f, ">\n      <skipped");
                put_attr(f, "message", e->got);
                fprintf(f, "/>\n    </testcase>\n");
                continue;
            }
            char msg[1700];
            snprintf(msg, sizeof(msg), "got %s, want %s", e->got, e->want);
            fprintf(f, ">\n      <failure");
            put_attr(f, "message", msg);
            put_attr(f, "type", "expectation");
            fprintf(f, ">");
            report_xml_put(f, msg);
            if (e->log_tail) {
                fprintf(f, "\n--- last lines of ");
                report_xml_put(f, e->log);
                fprintf(f, " ---\n");
                report_xml_put(f, e->log_tail);
            }
            fprintf(f, "</failure>\n    </testcase>\n");
        }
        fprintf(f, "    <system-out>");
        timeline_text(f, r);
        fprintf(f, "</system-out>\n  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
}

int report_write_junit(const char *path, const struct rep_run *const *runs, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -errno;
    report_junit(f, runs, n);
    if (fclose(f) != 0) {
        free(buf);
        return -EIO;
    }
    int rc = atomic_write_file(path, buf, len, 0644);
    free(buf);
    return rc;
}

static void cp(char *dst, size_t cap, json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(dst, cap, "%s", s ? s : "");
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : -1;
}

int report_from_summary(const char *path, struct rep_run *r)
{
    memset(r, 0, sizeof(*r));
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return -ENOENT;
    cp(r->scenario, sizeof(r->scenario), o, "scenario");
    cp(r->file, sizeof(r->file), o, "file");
    cp(r->description, sizeof(r->description), o, "description");
    cp(r->runid, sizeof(r->runid), o, "runid");
    cp(r->mode, sizeof(r->mode), o, "mode");
    cp(r->result, sizeof(r->result), o, "result");
    cp(r->error, sizeof(r->error), o, "error");
    cp(r->started, sizeof(r->started), o, "started");
    cp(r->artifacts, sizeof(r->artifacts), o, "artifacts");
    json_t *t = json_object_get(o, "timings");
    r->total_s = num(t, "total_s");
    r->setup_s = num(t, "setup_s");
    r->checks_s = num(t, "checks_s");
    r->teardown_s = num(t, "teardown_s");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "expectations"), i, v)
    {
        struct rep_expect *e = report_add_expect(r);
        cp(e->step, sizeof(e->step), v, "step");
        cp(e->name, sizeof(e->name), v, "name");
        cp(e->want, sizeof(e->want), v, "want");
        cp(e->got, sizeof(e->got), v, "got");
        cp(e->log, sizeof(e->log), v, "log");
        const char *res = json_string_value(json_object_get(v, "result"));
        e->pass = res && !strcmp(res, "pass");
        e->skipped = res && !strcmp(res, "skipped");
        e->at_s = num(v, "at_s");
        const char *tail = json_string_value(json_object_get(v, "log_tail"));
        e->log_tail = tail ? strdup(tail) : NULL;
    }
    json_array_foreach(json_object_get(o, "timeline"), i, v)
    {
        struct rep_event *e = report_add_event(r);
        e->t = num(v, "t");
        cp(e->host, sizeof(e->host), v, "host");
        cp(e->step, sizeof(e->step), v, "step");
        cp(e->detail, sizeof(e->detail), v, "detail");
    }
    json_array_foreach(json_object_get(o, "hosts"), i, v)
    {
        struct rep_host *h = report_add_host(r);
        cp(h->name, sizeof(h->name), v, "name");
        cp(h->kind, sizeof(h->kind), v, "kind");
        cp(h->impl, sizeof(h->impl), v, "impl");
        cp(h->ns, sizeof(h->ns), v, "namespace");
        cp(h->status, sizeof(h->status), v, "status");
        cp(h->version, sizeof(h->version), v, "version");
        h->ready_ms = num(v, "ready_ms");
    }
    json_t *vs = json_object_get(o, "versions");
    r->versions = vs ? json_incref(vs) : NULL;
    json_decref(o);
    return 0;
}
