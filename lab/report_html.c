/* `lab report`: terminal, JSON and HTML views of a run's artifacts (see report_html.h). */
#include "report_html.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "report.h"
#include "ztp/daemon.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_SCENARIOS 256
#define MAX_EVENT_ROWS 5000      /* rows of the HTML event table */
#define MAX_SEQ_ROWS 3000        /* arrows drawn */
#define MAX_TICKS 1500           /* event marks per timeline lane */
#define TAIL_LINES 15

static const char *const step_color[EV_STEPS + 1] = {
    "#999999", "#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8", "#8cd17d",
};

/* ---- one scenario's artifacts ------------------------------------------------------------------- */

struct scn {
    char dir[PATH_MAX];
    char name[128];
    char link[PATH_MAX];          /* link prefix from the HTML file to this dir, "" or ending in '/' */
    bool have_summary;
    struct rep_run rep;
    struct ev_list l;
    struct ev_model m;
    struct ev_name *names;
    size_t nnames;
    double t0;
    bool failed;                  /* result fail or error */
    char fault[8][64];            /* hosts named by failed expectations (their log) */
    size_t nfault;
};

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *base_name(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    const char *s = p + n;
    while (s > p && s[-1] != '/')
        s--;
    return s;
}

static void host_of_log(const char *log, char *dst, size_t cap)
{
    /* "logs/HOST.log" -> HOST */
    const char *b = base_name(log);
    size_t n = strlen(b);
    if (n > 4 && !strcmp(b + n - 4, ".log"))
        n -= 4;
    snprintf(dst, cap, "%.*s", (int)n, b);
}

static void scn_mark_missing(struct scn *s)
{
    struct ev_model *m = &s->m;
    int scope = 0;
    for (size_t i = 0; i < m->nlanes; i++)
        if (m->lanes[i].lk == EV_LANE_NODE && m->lanes[i].highest_done > scope)
            scope = m->lanes[i].highest_done;
    if (!s->failed)
        return;
    for (size_t i = 0; i < m->nlanes; i++) {
        struct ev_lane *ln = &m->lanes[i];
        if (ln->lk != EV_LANE_NODE)
            continue;
        int next = ln->highest_done + 1;
        if (next > EV_STEPS)
            continue;
        bool named = false, later = false;
        for (size_t k = 0; k < s->nfault; k++)
            named |= !strcmp(s->fault[k], ln->name);
        for (size_t k = 0; k < s->rep.n_exps; k++) {
            const struct rep_expect *x = &s->rep.exps[k];
            size_t nl = strlen(ln->name);
            if (!x->pass && !x->skipped && !strncmp(x->name, ln->name, nl) && x->name[nl] == ' ')
                named = true;
        }
        for (int k = next; k <= EV_STEPS; k++)
            later |= ln->steps[k].n > 0;
        if (named || later || ln->highest_done < scope)
            ln->missing = next;
    }
}

static int scn_load(struct scn *s, const char *dir, char *err, size_t cap)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/summary.json", dir);
    s->have_summary = report_from_summary(p, &s->rep) == 0;
    snprintf(s->name, sizeof(s->name), "%s", s->have_summary && s->rep.scenario[0] ? s->rep.scenario : base_name(dir));
    if (ev_load_dir(dir, &s->l, &s->names, &s->nnames, err, cap) < 0 && !s->have_summary) {
        report_clear(&s->rep);
        ev_list_free(&s->l);
        return -1;
    }
    s->t0 = s->have_summary ? ev_parse_ts(s->rep.started, strlen(s->rep.started)) : -1;
    if (s->t0 < 0)
        s->t0 = s->l.n ? s->l.v[0].ts : 0;
    ev_list_rebase(&s->l, s->t0);
    ev_classify(&s->l);
    struct ev_hostinfo hi[EV_MAX_LANES];
    size_t nh = 0;
    for (size_t i = 0; i < s->rep.n_hosts && nh < ARRAY_LEN(hi); i++)
        hi[nh++] = (struct ev_hostinfo){s->rep.hosts[i].name, s->rep.hosts[i].kind, s->rep.hosts[i].impl};
    ev_model_build(&s->m, &s->l, hi, nh, s->names, s->nnames);
    s->failed = s->have_summary && (!strcmp(s->rep.result, "fail") || !strcmp(s->rep.result, "error"));
    for (size_t k = 0; k < s->rep.n_exps && s->nfault < ARRAY_LEN(s->fault); k++) {
        const struct rep_expect *x = &s->rep.exps[k];
        if (x->pass || x->skipped || !x->log[0])
            continue;
        char h[64];
        host_of_log(x->log, h, sizeof(h));
        bool dup = false;
        for (size_t j = 0; j < s->nfault; j++)
            dup |= !strcmp(s->fault[j], h);
        if (!dup)
            snprintf(s->fault[s->nfault++], sizeof(s->fault[0]), "%s", h);
    }
    scn_mark_missing(s);
    return 0;
}

static void scn_free(struct scn *s)
{
    ev_model_free(&s->m);
    ev_list_free(&s->l);
    ev_names_free(s->names, s->nnames);
    report_clear(&s->rep);
}

static int sub_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* DIR itself, or its subdirectories that hold a summary.json or logs/ (sorted by name). */
static char **find_scenarios(const char *dir, size_t *n)
{
    *n = 0;
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/summary.json", dir);
    char q[PATH_MAX + 32];
    snprintf(q, sizeof(q), "%s/logs", dir);
    char **v = calloc(MAX_SCENARIOS, sizeof(*v));
    if (!v)
        abort();
    if (is_file(p) || is_dir(q)) {
        v[(*n)++] = strdup(dir);
        return v;
    }
    DIR *d = opendir(dir);
    if (!d)
        return v;
    struct dirent *de;
    while ((de = readdir(d)) && *n < MAX_SCENARIOS) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s/summary.json", dir, de->d_name);
        if (!is_file(p))
            continue;
        snprintf(q, sizeof(q), "%s/%s", dir, de->d_name);
        v[(*n)++] = strdup(q);
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), sub_cmp);
    return v;
}

/* ---- small helpers --------------------------------------------------------------------------------- */

static size_t u8len(const unsigned char *p) { return report_utf8_len(p, false); }

/* HTML text or attribute value (report_markup_put): at most maxch characters (0: all) */
static void hput_n(FILE *f, const char *s, size_t maxch) { report_markup_put(f, s, maxch, true); }

static void hput(FILE *f, const char *s) { hput_n(f, s, 0); }

/* pre, s escaped for HTML, post */
static void hput_in(FILE *f, const char *pre, const char *s, const char *post)
{
    fputs(pre, f);
    hput(f, s);
    fputs(post, f);
}

/* a relative link: prefix + path, percent-encoded (prefix and path come from file names) */
static void href(FILE *f, const char *prefix, const char *path)
{
    static const char hx[] = "0123456789ABCDEF";
    for (int k = 0; k < 2; k++)
        for (const unsigned char *p = (const unsigned char *)(k ? path : prefix); p && *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '/' ||
                *p == '.' || *p == '-' || *p == '_' || *p == '~')
                fputc(*p, f);
            else
                fprintf(f, "%%%c%c", hx[*p >> 4], hx[*p & 15]);
        }
}

/* terminal: control bytes and invalid UTF-8 as \xNN (no escape sequences from a log reach it) */
static void tput(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\x%02x", *p++);
            continue;
        }
        size_t n = u8len(p);
        if (!n || (n == 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)) { /* C1 controls too */
            fprintf(f, "\\x%02x", *p++);
            continue;
        }
        fwrite(p, 1, n, f);
        p += n;
    }
}

/* pre, s made safe for a terminal, post */
static void tput_in(FILE *f, const char *pre, const char *s, const char *post)
{
    fputs(pre, f);
    tput(f, s);
    fputs(post, f);
}

/* terminal, padded/cut to w columns (one column per character) */
static void tput_w(FILE *f, const char *s, int w)
{
    char buf[512];
    int n = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0;
    while (*p && n < w && o < sizeof(buf) - 8) {
        size_t l = *p < 0x20 || *p == 0x7f ? 0 : u8len(p);
        if (!l) {
            buf[o++] = '?';
            p++;
        } else {
            memcpy(buf + o, p, l);
            o += l;
            p += l;
        }
        n++;
    }
    buf[o] = '\0';
    fputs(buf, f);
    for (; n < w; n++)
        fputc(' ', f);
}

static json_t *jstr(const char *s) { return report_json_str(s); }

/* microseconds are what the logs have: no float noise beyond them in the JSON */
static json_t *jnum3(double v) { return json_real((double)(long long)(v * 1e6 + (v >= 0 ? 0.5 : -0.5)) / 1e6); }

static void fmt_dur(char *dst, size_t cap, double s)
{
    if (s < 0)
        snprintf(dst, cap, "-");
    else if (s < 1)
        snprintf(dst, cap, "%.0f ms", s * 1000.0);
    else
        snprintf(dst, cap, "%.2f s", s);
}

/* "k=v k2="v w"" of an event's fields (for tables), bounded */
static void fields_text(const struct ev_event *e, char *dst, size_t cap)
{
    size_t o = 0;
    dst[0] = '\0';
    for (unsigned i = 0; i < e->nkv && o + 8 < cap; i++) {
        const char *v = e->kv[i].v;
        bool q = !*v || strpbrk(v, " \"=") != NULL;
        int r = snprintf(dst + o, cap - o, "%s%s=%s%s%s", o ? " " : "", e->kv[i].k, q ? "\"" : "", v, q ? "\"" : "");
        if (r < 0)
            break;
        o += (size_t)r;
        if (o >= cap) {
            o = cap - 1;
            break;
        }
    }
}

static const char *result_word(const struct scn *s)
{
    if (!s->have_summary)
        return "NO SUMMARY";
    const char *r = s->rep.result;
    return !strcmp(r, "pass") ? "PASS" : !strcmp(r, "fail") ? "FAIL" : !strcmp(r, "skipped") ? "SKIP" : "ERROR";
}

static unsigned n_pass(const struct rep_run *r)
{
    unsigned n = 0;
    for (size_t i = 0; i < r->n_exps; i++)
        n += r->exps[i].pass;
    return n;
}

/* last n lines of a file in the scenario dir (relative path), malloc'd, or NULL */
static char *tail_of(const struct scn *s, const char *rel, int n)
{
    if (!rel || !*rel || strstr(rel, ".."))
        return NULL;
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", s->dir, rel);
    char *buf = NULL;
    size_t len = 0;
    if (read_file_max(p, 64u << 20, &buf, &len) < 0)
        return NULL;
    size_t i = len;
    while (i > 0 && buf[i - 1] == '\n')
        i--;
    int lines = 0;
    while (i > 0) {
        if (buf[i - 1] == '\n' && ++lines == n)
            break;
        i--;
    }
    char *t = strdup(buf + i);
    free(buf);
    return t;
}

static const struct ev_lane *lane_by_name(const struct scn *s, const char *name)
{
    int i = ev_lane_find(&s->m, name);
    return i >= 0 ? &s->m.lanes[i] : NULL;
}

/* ---- terminal ------------------------------------------------------------------------------------------ */

static char step_char(int k) { return k <= 0 ? '.' : k <= 9 ? (char)('0' + k) : (char)('a' + k - 10); }

static void text_scn(FILE *f, const struct scn *s)
{
    const struct rep_run *r = &s->rep;
    const struct ev_model *m = &s->m;
    fprintf(f, "== ");
    tput(f, s->name);
    fprintf(f, ": %s", result_word(s));
    if (s->have_summary)
        fprintf(f, "  %u/%zu expectations held  (%.2fs, run ", n_pass(r), r->n_exps, r->total_s);
    if (s->have_summary) {
        tput(f, r->runid);
        tput_in(f, ", started ", r->started, ")");
    }
    fprintf(f, "\n");
    if (r->description[0]) {
        tput_in(f, "   ", r->description, "\n");
    }
    fprintf(f, "   artifacts: ");
    tput(f, s->dir);
    fprintf(f, "   %zu events", s->l.n);
    if (s->l.malformed)
        fprintf(f, ", %u malformed lines skipped", s->l.malformed);
    if (s->l.dropped || s->l.truncated)
        fprintf(f, ", %u dropped, %u truncated", s->l.dropped, s->l.truncated);
    fprintf(f, "\n");
    if (r->error[0]) {
        tput_in(f, "   error: ", r->error, "\n");
    }

    /* onboarding steps per node */
    size_t nodes[EV_MAX_LANES], nn = 0;
    for (size_t i = 0; i < m->nlanes; i++)
        if (m->lanes[i].lk == EV_LANE_NODE)
            nodes[nn++] = i;
    if (nn) {
        fprintf(f, "\nonboarding steps      ");
        for (size_t j = 0; j < nn; j++) {
            fputc(' ', f);
            tput_w(f, m->lanes[nodes[j]].name, 30);
        }
        fprintf(f, "\n");
        for (int k = 1; k <= EV_STEPS; k++) {
            fprintf(f, "  %2d %-16s ", k, ev_steps[k].name);
            for (size_t j = 0; j < nn; j++) {
                const struct ev_lane *ln = &m->lanes[nodes[j]];
                const struct ev_stepstat *st = &ln->steps[k];
                const char *stt = ev_step_status(ln, (unsigned)k);
                char cell[96], d[24];
                if (st->first >= 0) {
                    fmt_dur(d, sizeof(d), ev_step_end(st) - st->first);
                    snprintf(cell, sizeof(cell), "%+.3fs %-7s %s", st->first, d,
                             !strcmp(stt, "missing") ? "DID NOT HAPPEN" : stt);
                } else if (st->done >= 0) {
                    snprintf(cell, sizeof(cell), "%+.3fs %-7s done", st->done, "");
                } else {
                    snprintf(cell, sizeof(cell), "%s", !strcmp(stt, "missing") ? "DID NOT HAPPEN" : "-");
                }
                fputc(' ', f);
                tput_w(f, cell, 30);
            }
            fprintf(f, "\n");
        }
    }

    /* timeline: one row per lane, one column per slice of time, the step of the events in it */
    double T = m->t_end > r->total_s ? m->t_end : r->total_s;
    if (T <= 0)
        T = 1;
    enum { COLS = 64 };
    fprintf(f, "\ntimeline  0 .. %.3fs, one column = %.0f ms; digits = steps (a b c = 10 11 12), ! = failure\n", T,
            T / COLS * 1000.0);
    for (size_t i = 0; i < m->nlanes; i++) {
        const struct ev_lane *ln = &m->lanes[i];
        if (!ln->used || ln->lk == EV_LANE_EXTERNAL)
            continue;
        char row[COLS + 1];
        memset(row, ' ', COLS);
        row[COLS] = '\0';
        for (size_t k = 0; k < s->l.n; k++) {
            const struct ev_event *e = &s->l.v[k];
            if (strcmp(e->host, ln->name))
                continue;
            int c = (int)(e->t / T * COLS);
            c = c < 0 ? 0 : c >= COLS ? COLS - 1 : c;
            if (e->flags & EV_F_FAIL)
                row[c] = '!';
            else if (row[c] != '!' && (e->step || row[c] == ' '))
                row[c] = step_char(e->step);
        }
        fprintf(f, "  ");
        tput_w(f, ln->name, 14);
        fprintf(f, " |%s|", row);
        if (ln->missing)
            fprintf(f, " step %d (%s) did not happen", ln->missing, ev_steps[ln->missing].name);
        fprintf(f, "\n");
    }

    /* sequence */
    if (m->narrows) {
        fprintf(f, "\nsequence\n");
        for (size_t i = 0; i < m->narrows; i++) {
            const struct ev_arrow *a = &m->arrows[i];
            fprintf(f, "  %+8.3fs %c ", a->t, a->step ? step_char(a->step) : ' ');
            tput_w(f, m->lanes[a->from].name, 12);
            fprintf(f, " -> ");
            tput_w(f, m->lanes[a->to].name, 12);
            fprintf(f, " %s", a->flags & EV_A_FAIL ? "FAILED " : "");
            tput(f, a->label);
            if (a->detail[0]) {
                tput_in(f, "  (", a->detail, ")");
            }
            fprintf(f, "\n");
        }
        if (m->arrows_dropped)
            fprintf(f, "  ... %u more arrows not kept\n", m->arrows_dropped);
    }

    /* expectations and what went wrong */
    if (r->n_exps) {
        fprintf(f, "\nexpectations\n");
        for (size_t i = 0; i < r->n_exps; i++) {
            const struct rep_expect *x = &r->exps[i];
            fprintf(f, "  %-4s  ", x->pass ? "PASS" : x->skipped ? "SKIP" : "FAIL");
            tput(f, x->step);
            tput_in(f, ": ", x->name, " = ");
            tput(f, x->got);
            if (!x->pass) {
                tput_in(f, "  (want ", x->want, ")");
            }
            if (x->at_s >= 0)
                fprintf(f, "  %.3fs", x->at_s);
            fprintf(f, "\n");
        }
    }
    for (size_t i = 0; i < s->nfault; i++) {
        char rel[96];
        snprintf(rel, sizeof(rel), "logs/%s.log", s->fault[i]);
        char *t = tail_of(s, rel, 8);
        fprintf(f, "\ncomponent at fault: ");
        tput(f, s->fault[i]);
        fprintf(f, " (%s), its last lines:\n", rel);
        for (char *line = t ? strtok(t, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            tput_in(f, "  | ", line, "\n");
        }
        free(t);
    }
    fprintf(f, "\n");
}

/* ---- JSON ------------------------------------------------------------------------------------------------ */

static json_t *json_scn(const struct scn *s)
{
    const struct ev_model *m = &s->m;
    json_t *o = json_object();
    json_object_set_new(o, "scenario", jstr(s->name));
    json_object_set_new(o, "dir", jstr(s->dir));
    json_object_set_new(o, "result", s->have_summary ? jstr(s->rep.result) : json_null());
    json_object_set_new(o, "started", s->have_summary ? jstr(s->rep.started) : json_null());
    json_object_set_new(o, "t0", json_real(s->t0));
    json_t *st = json_array();
    for (int k = 1; k <= EV_STEPS; k++) {
        json_t *j = json_object();
        json_object_set_new(j, "step", json_integer(k));
        json_object_set_new(j, "name", json_string(ev_steps[k].name));
        json_object_set_new(j, "doc", json_string(ev_steps[k].doc));
        json_array_append_new(st, j);
    }
    json_object_set_new(o, "steps", st);
    json_t *lanes = json_array();
    for (size_t i = 0; i < m->nlanes; i++) {
        const struct ev_lane *ln = &m->lanes[i];
        json_t *j = json_object();
        static const char *const lk[] = {"node", "dhcp-server", "proxy", "ep-terminator", "mist", "conductor", "hub",
                                         "other", "external"};
        json_object_set_new(j, "host", jstr(ln->name));
        json_object_set_new(j, "kind", jstr(ln->kind));
        json_object_set_new(j, "component", jstr(ln->comp));
        json_object_set_new(j, "lane", json_string(lk[ln->lk]));
        json_t *ss = json_array();
        for (int k = 1; k <= EV_STEPS; k++) {
            const struct ev_stepstat *x = &ln->steps[k];
            if (x->first < 0 && x->done < 0 && ln->missing != k)
                continue;
            json_t *sj = json_object();
            json_object_set_new(sj, "step", json_integer(k));
            json_object_set_new(sj, "status", json_string(ev_step_status(ln, (unsigned)k)));
            json_object_set_new(sj, "first", x->first >= 0 ? jnum3(x->first) : json_null());
            json_object_set_new(sj, "last", x->last >= 0 ? jnum3(x->last) : json_null());
            json_object_set_new(sj, "duration", x->first >= 0 ? jnum3(ev_step_end(x) - x->first) : json_null());
            json_object_set_new(sj, "done", x->done >= 0 ? jnum3(x->done) : json_null());
            json_object_set_new(sj, "events", json_integer(x->n));
            json_object_set_new(sj, "failures", json_integer(x->nfail));
            json_array_append_new(ss, sj);
        }
        json_object_set_new(j, "steps", ss);
        json_array_append_new(lanes, j);
    }
    json_object_set_new(o, "lanes", lanes);
    json_t *evs = json_array();
    for (size_t i = 0; i < s->l.n; i++) {
        const struct ev_event *e = &s->l.v[i];
        json_t *j = json_object();
        json_object_set_new(j, "t", jnum3(e->t));
        json_object_set_new(j, "ts", json_real(e->ts));
        json_object_set_new(j, "host", jstr(e->host));
        json_object_set_new(j, "component", jstr(e->comp));
        json_object_set_new(j, "step", e->step ? json_integer(e->step) : json_null());
        json_object_set_new(j, "event", jstr(e->event));
        json_object_set_new(j, "level", jstr(e->level));
        json_object_set_new(j, "failure", json_boolean(e->flags & EV_F_FAIL));
        json_t *fl = json_object();
        for (unsigned k = 0; k < e->nkv; k++) {
            char key[128];
            snprintf(key, sizeof(key), "%s", e->kv[k].k);
            for (unsigned char *p = (unsigned char *)key; *p; p++)
                if (*p >= 0x80 || *p < 0x20)
                    *p = '?';
            if (!json_object_get(fl, key))
                json_object_set_new(fl, key, jstr(e->kv[k].v));
        }
        json_object_set_new(j, "fields", fl);
        json_object_set_new(j, "source", jstr(e->src < s->l.nsrcs ? s->l.srcs[e->src] : "-"));
        json_object_set_new(j, "line", json_integer(e->line));
        json_array_append_new(evs, j);
    }
    json_object_set_new(o, "events", evs);
    json_t *seq = json_array();
    for (size_t i = 0; i < m->narrows; i++) {
        const struct ev_arrow *a = &m->arrows[i];
        json_t *j = json_object();
        json_object_set_new(j, "t", jnum3(a->t));
        json_object_set_new(j, "from", jstr(m->lanes[a->from].name));
        json_object_set_new(j, "to", jstr(m->lanes[a->to].name));
        json_object_set_new(j, "step", a->step ? json_integer(a->step) : json_null());
        json_object_set_new(j, "label", jstr(a->label));
        json_object_set_new(j, "detail", jstr(a->detail));
        json_object_set_new(j, "failure", json_boolean(a->flags & EV_A_FAIL));
        json_object_set_new(j, "reply", json_boolean(a->flags & EV_A_REPLY));
        json_array_append_new(seq, j);
    }
    json_object_set_new(o, "sequence", seq);
    json_t *cnt = json_object();
    json_object_set_new(cnt, "malformed", json_integer(s->l.malformed));
    json_object_set_new(cnt, "other", json_integer(s->l.other));
    json_object_set_new(cnt, "truncated", json_integer(s->l.truncated));
    json_object_set_new(cnt, "dropped", json_integer(s->l.dropped));
    json_object_set_new(o, "skipped_lines", cnt);
    return o;
}

/* ---- HTML ------------------------------------------------------------------------------------------------ */

static const char css[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;padding:16px 24px;"
    "color:#222;background:#fafafa}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:19px;margin:0 0 6px}h3{font-size:16px;margin:22px 0 6px}\n"
    "code,pre,.mono,td.f{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px}\n"
    "section.scn{background:#fff;border:1px solid #ccc;border-left:8px solid #2ca02c;border-radius:4px;"
    "padding:12px 18px;margin:18px 0}\n"
    "section.scn.fail{border-left-color:#d62728}section.scn.skip{border-left-color:#999}\n"
    ".badge{display:inline-block;padding:1px 8px;border-radius:3px;color:#fff;font-weight:bold;font-size:13px;"
    "vertical-align:middle}\n"
    ".badge.pass{background:#2ca02c}.badge.fail{background:#d62728}.badge.skip{background:#999}\n"
    "table{border-collapse:collapse;margin:4px 0}th,td{border:1px solid #ddd;padding:2px 8px;text-align:left;"
    "vertical-align:top}\n"
    "th{background:#f0f0f0}tr.fail td{background:#fde0e0}td.res-pass{color:#2ca02c;font-weight:bold}"
    "td.res-fail{color:#d62728;font-weight:bold}td.res-skip{color:#777}\n"
    "td.st-done{background:#e3f4e1}td.st-missing{background:#d62728;color:#fff;font-weight:bold}"
    "td.st-failed{background:#fde0e0}td.st-started{background:#fff4d6}td.st-none{color:#aaa}\n"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle;margin-right:3px}\n"
    ".legend span.it{margin-right:12px;white-space:nowrap;font-size:12px}\n"
    ".wrong{background:#fff0f0;border:1px solid #d62728;border-radius:4px;padding:8px 14px;margin:10px 0}\n"
    ".wrong h3{margin-top:4px;color:#d62728}\n"
    "pre.tail{background:#222;color:#eee;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\n"
    ".svgwrap{overflow-x:auto;border:1px solid #ddd;background:#fff}\n"
    "svg text{font-family:system-ui,Helvetica,Arial,sans-serif}\n"
    "svg .mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace}\n"
    "dl.meta{display:grid;grid-template-columns:max-content auto;gap:0 12px;margin:6px 0}dl.meta dt{color:#666}"
    "dl.meta dd{margin:0}\n"
    "td.f{word-break:break-all}tr.lv-warn td{background:#fff7e6}tr.lv-fail td{background:#fde0e0}\n"
    "ul.files{columns:3;font-size:13px}nav table td{padding:1px 8px}\n"
    "@media print{.svgwrap{overflow:visible}}\n";

static void h_badge(FILE *f, const struct scn *s)
{
    const char *w = result_word(s);
    const char *c = !strcmp(w, "PASS") ? "pass" : !strcmp(w, "SKIP") ? "skip" : "fail";
    fprintf(f, "<span class=\"badge %s\">%s</span>", c, w);
}

static void h_anchor(FILE *f, const char *name)
{
    fputs("sc-", f);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        fputc(((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-') ? *p : '_',
              f);
}

/* a round tick interval (1, 2 or 5 times a power of ten) giving about `want` ticks over span */
static double nice_step(double span, int want)
{
    double raw = span / want, p = 1e-6;
    while (p * 10 <= raw && p < 1e9)
        p *= 10;
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void h_legend(FILE *f)
{
    fprintf(f, "<div class=\"legend\">");
    for (int k = 1; k <= EV_STEPS; k++) {
        fprintf(f, "<span class=\"it\" title=\"");
        hput(f, ev_steps[k].doc);
        fprintf(f, "\"><span class=\"sw\" style=\"background:%s\"></span>%d %s</span>", step_color[k], k, ev_steps[k].name);
    }
    fprintf(f, "<span class=\"it\"><span class=\"sw\" style=\"background:#d62728\"></span>failure</span></div>\n");
}

static void h_timeline(FILE *f, const struct scn *s)
{
    const struct ev_model *m = &s->m;
    double T = m->t_end > s->rep.total_s ? m->t_end : s->rep.total_s;
    if (T <= 0)
        T = 1;
    /* zoom to the onboarding (the span of the steps) when it is a small part of the run */
    double lo = -1, hi = -1;
    for (size_t i = 0; i < m->nlanes; i++)
        for (int k = 1; k <= EV_STEPS; k++) {
            const struct ev_stepstat *x = &m->lanes[i].steps[k];
            if (x->first < 0)
                continue;
            if (lo < 0 || x->first < lo)
                lo = x->first;
            if (x->last > hi)
                hi = x->last;
        }
    double t_lo = 0, t_hi = T * 1.02;
    if (lo >= 0 && hi - lo < 0.6 * T) {
        double pad = (hi - lo) * 0.04 > 0.002 ? (hi - lo) * 0.04 : 0.002;
        t_lo = lo - pad < 0 ? 0 : lo - pad;
        t_hi = hi + pad;
        fprintf(f, "<p>Zoomed to the onboarding steps: %+.3fs to %+.3fs of a %.2fs run (events outside are not "
                   "drawn; the event table has them all).</p>\n",
                t_lo, t_hi, T);
    }
    const double span = t_hi - t_lo;
    const int LW = 170, PW = 1060, LH = 38, TOP = 26;
    size_t nl = 0;
    for (size_t i = 0; i < m->nlanes; i++)
        nl += m->lanes[i].lk != EV_LANE_EXTERNAL;
    int H = TOP + (int)nl * LH + 10;
    int W = LW + PW + 20;
    fprintf(f, "<div class=\"svgwrap\"><svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"timeline\">\n",
            W, H, W, H);
    /* axis */
    double st = nice_step(span, 10);
    for (double t = (double)(long long)(t_lo / st + 0.999999) * st; t <= t_hi + 1e-9; t += st) {
        double x = LW + (t - t_lo) / span * PW;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>", x, TOP - 4, x, H - 6);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#666\" text-anchor=\"middle\">%.*fs</text>\n", x,
                TOP - 8, st < 0.01 ? 3 : st < 0.1 ? 2 : st < 1 ? 1 : 0, t);
    }
    int row = 0;
    for (size_t i = 0; i < m->nlanes; i++) {
        const struct ev_lane *ln = &m->lanes[i];
        if (ln->lk == EV_LANE_EXTERNAL)
            continue;
        int y = TOP + row++ * LH;
        fprintf(f, "<g class=\"lane\" data-host=\"");
        hput(f, ln->name);
        fprintf(f, "\"><rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", y, W, LH,
                row % 2 ? "#ffffff" : "#f6f6f6");
        fprintf(f, "<text x=\"6\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">", y + 16);
        hput_n(f, ln->name, 24);
        fprintf(f, "</text><text x=\"6\" y=\"%d\" font-size=\"10\" fill=\"#777\">", y + 30);
        hput_n(f, ln->comp[0] ? ln->comp : ln->kind, 30);
        fprintf(f, "</text>\n");
        /* step boxes: odd steps in the upper half, even in the lower */
        for (int k = 1; k <= EV_STEPS; k++) {
            const struct ev_stepstat *x = &ln->steps[k];
            if (x->first < 0)
                continue;
            double x0 = LW + (x->first - t_lo) / span * PW, x1 = LW + (ev_step_end(x) - t_lo) / span * PW;
            if (x0 < LW)
                x0 = LW;
            double w = x1 - x0 < 4 ? 4 : x1 - x0;
            int yy = y + 4 + (k % 2 ? 0 : 15);
            char d[24];
            fmt_dur(d, sizeof(d), ev_step_end(x) - x->first);
            fprintf(f, "<rect class=\"step s%d\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"13\" rx=\"2\" fill=\"%s\" "
                       "stroke=\"%s\" stroke-width=\"%s\"><title>",
                    k, x0, yy, w, step_color[k], x->nfail ? "#d62728" : "#555", x->nfail ? "2" : "0.5");
            hput(f, ln->name);
            fprintf(f, " step %d %s: %+.3fs to %+.3fs (%s), %u events until %+.3fs%s%s</title></rect>", k, ev_steps[k].name,
                    x->first, ev_step_end(x), d, x->n, x->last, x->nfail ? ", failures" : "", x->done >= 0 ? ", done" : "");
            if (w >= 12)
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#000\">%d</text>", x0 + 2, yy + 10, k);
            if (w >= 70)
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#000\">%s %s</text>", x0 + 16, yy + 10,
                        ev_steps[k].name, d);
            fputc('\n', f);
        }
        /* event marks and failures */
        unsigned nt = 0;
        for (size_t k = 0; k < s->l.n && nt < MAX_TICKS; k++) {
            const struct ev_event *e = &s->l.v[k];
            if (strcmp(e->host, ln->name) || ((e->flags & EV_F_QUIET) && !(e->flags & EV_F_FAIL)) || e->t < t_lo ||
                e->t > t_hi)
                continue;
            nt++;
            double x = LW + (e->t - t_lo) / span * PW;
            bool bad = e->flags & EV_F_FAIL;
            if (bad)
                fprintf(f, "<path d=\"M%.1f %d l-4 7 h8 z\" fill=\"#d62728\"><title>", x, y + LH - 8);
            else
                fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" stroke-width=\"1\"><title>", x,
                        y + LH - 6, x, y + LH - 2);
            char fl[600];
            fields_text(e, fl, sizeof(fl));
            fprintf(f, "%+.3fs ", e->t);
            hput(f, e->event);
            fputc(' ', f);
            hput_n(f, fl, 300);
            fprintf(f, "</title></%s>", bad ? "path" : "line");
        }
        if (ln->missing) {
            /* after the missing step's own events (it started but never got done), else after the last done one */
            const struct ev_stepstat *ms = &ln->steps[ln->missing];
            double tl = ms->last >= 0 ? ms->last
                        : ln->highest_done > 0 && ln->steps[ln->highest_done].last >= 0 ? ln->steps[ln->highest_done].last
                                                                                         : t_lo;
            double xl = LW + (tl - t_lo) / span * PW + 6;
            if (xl < LW)
                xl = LW;
            if (xl > LW + PW - 150)
                xl = LW + PW - 150;
            fprintf(f, "<rect class=\"missing\" x=\"%.1f\" y=\"%d\" width=\"150\" height=\"%d\" fill=\"#fde0e0\" "
                       "stroke=\"#d62728\" stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
                       "fill=\"#d62728\" font-weight=\"bold\">step %d %s did not happen</text>",
                    xl, y + 4, LH - 8, xl + 4, y + 22, ln->missing, ev_steps[ln->missing].name);
        }
        fprintf(f, "</g>\n");
    }
    fprintf(f, "</svg></div>\n");
}

static void h_sequence(FILE *f, const struct scn *s)
{
    const struct ev_model *m = &s->m;
    int col[EV_MAX_LANES];
    int nc = 0;
    bool in[EV_MAX_LANES] = {false};
    for (size_t i = 0; i < m->narrows; i++)
        in[m->arrows[i].from] = in[m->arrows[i].to] = true;
    for (size_t i = 0; i < m->nlanes; i++)
        col[i] = in[i] ? nc++ : -1;
    if (!nc) {
        fprintf(f, "<p>No messages in the logs.</p>\n");
        return;
    }
    size_t rows = m->narrows < MAX_SEQ_ROWS ? m->narrows : MAX_SEQ_ROWS;
    const int TL = 120, RH = 24, TOP = 50;
    int cw = (1240 - TL) / nc;
    cw = cw < 130 ? 130 : cw > 260 ? 260 : cw;
    int W = TL + nc * cw + 10, H = TOP + (int)rows * RH + 30;
    fprintf(f, "<div class=\"svgwrap\"><svg class=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"message sequence\">\n",
            W, H, W, H);
    fprintf(f, "<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
               "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"#333\"/></marker>"
               "<marker id=\"ahr\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
               "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"#d62728\"/></marker></defs>\n");
    for (size_t i = 0; i < m->nlanes; i++) {
        if (col[i] < 0)
            continue;
        int x = TL + col[i] * cw + cw / 2;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\" stroke-dasharray=\"3 3\"/>", x, TOP - 8, x,
                H - 6);
        fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">", x);
        hput_n(f, m->lanes[i].name, (size_t)cw / 8);
        fprintf(f, "</text><text x=\"%d\" y=\"33\" font-size=\"10\" fill=\"#777\" text-anchor=\"middle\">", x);
        hput_n(f, m->lanes[i].comp[0] ? m->lanes[i].comp : m->lanes[i].kind, (size_t)cw / 6);
        fprintf(f, "</text>\n");
    }
    for (size_t i = 0; i < rows; i++) {
        const struct ev_arrow *a = &m->arrows[i];
        int y = TOP + (int)i * RH + 14;
        int x1 = TL + col[a->from] * cw + cw / 2, x2 = TL + col[a->to] * cw + cw / 2;
        bool bad = a->flags & EV_A_FAIL;
        const char *color = bad ? "#d62728" : a->flags & EV_A_TLS ? "#1f5fa8" : "#333";
        fprintf(f, "<g class=\"msg%s\"><title>%+.3fs ", bad ? " fail" : "", a->t);
        hput(f, m->lanes[a->from].name);
        fputs(" &#8594; ", f);
        hput(f, m->lanes[a->to].name);
        fputs(": ", f);
        hput(f, a->label);
        if (a->detail[0]) {
            fputs(" (", f);
            hput(f, a->detail);
            fputs(")", f);
        }
        fprintf(f, "</title><text class=\"mono\" x=\"4\" y=\"%d\" font-size=\"11\" fill=\"#555\">%+.3fs</text>", y + 4, a->t);
        if (a->step)
            fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"8\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"10\" "
                       "text-anchor=\"middle\">%d</text>",
                    TL - 20, y, step_color[a->step], TL - 20, y + 4, a->step);
        if (x1 == x2) {
            fprintf(f, "<path d=\"M%d %d h24 v8 h-24\" fill=\"none\" stroke=\"%s\" marker-end=\"url(#%s)\"/>", x1, y - 4,
                    color, bad ? "ahr" : "ah");
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">", x1 + 28, y + 3, color);
            hput_n(f, a->label, (size_t)cw / 7);
        } else {
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1.4\"%s "
                       "marker-end=\"url(#%s)\"/>",
                    x1, y, x2 + (x2 > x1 ? -2 : 2), y, color, a->flags & EV_A_REPLY ? " stroke-dasharray=\"6 3\"" : "",
                    bad ? "ahr" : "ah");
            int span = abs(x2 - x1);
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\" text-anchor=\"middle\"%s>", (x1 + x2) / 2, y - 4,
                    color, bad ? " font-weight=\"bold\"" : "");
            hput_n(f, a->label, (size_t)(span / 5.5 > 24 ? span / 5.5 : 24));
        }
        fprintf(f, "</text></g>\n");
    }
    fprintf(f, "</svg></div>\n");
    if (m->narrows > rows || m->arrows_dropped)
        fprintf(f, "<p>%zu more messages not drawn (see the event table and the logs).</p>\n",
                m->narrows - rows + m->arrows_dropped);
}

static void h_files(FILE *f, const struct scn *s)
{
    fprintf(f, "<h3>Artifacts</h3>\n<ul class=\"files\">\n");
    static const char *const top[] = {"summary.json", "junit.xml", "timeline.txt"};
    for (size_t i = 0; i < ARRAY_LEN(top); i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/%s", s->dir, top[i]);
        if (!is_file(p))
            continue;
        fprintf(f, "<li><a href=\"");
        href(f, s->link, top[i]);
        fprintf(f, "\">%s</a></li>\n", top[i]);
    }
    static const char *const sub[] = {"logs", "pcap"};
    for (size_t k = 0; k < ARRAY_LEN(sub); k++) {
        char d[PATH_MAX + 16];
        snprintf(d, sizeof(d), "%s/%s", s->dir, sub[k]);
        DIR *dd = opendir(d);
        if (!dd)
            continue;
        char *names[512];
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(dd)) && n < ARRAY_LEN(names))
            if (de->d_name[0] != '.')
                names[n++] = strdup(de->d_name);
        closedir(dd);
        qsort(names, n, sizeof(names[0]), sub_cmp);
        for (size_t i = 0; i < n; i++) {
            char rel[NAME_MAX + 16];
            snprintf(rel, sizeof(rel), "%s/%s", sub[k], names[i]);
            fprintf(f, "<li><a href=\"");
            href(f, s->link, rel);
            hput_in(f, "\">", rel, "</a></li>\n");
            free(names[i]);
        }
    }
    /* the hosts' directories */
    for (size_t i = 0; i < s->rep.n_hosts; i++) {
        char d[PATH_MAX + 64];
        snprintf(d, sizeof(d), "%s/%s", s->dir, s->rep.hosts[i].name);
        if (!s->rep.hosts[i].name[0] || strchr(s->rep.hosts[i].name, '/') || !is_dir(d))
            continue;
        char rel[96];
        snprintf(rel, sizeof(rel), "%s/", s->rep.hosts[i].name);
        fprintf(f, "<li><a href=\"");
        href(f, s->link, rel);
        hput_in(f, "\">", rel, "</a></li>\n");
    }
    fprintf(f, "</ul>\n");
}

static void h_steps_table(FILE *f, const struct scn *s)
{
    const struct ev_model *m = &s->m;
    size_t nodes[EV_MAX_LANES], nn = 0;
    for (size_t i = 0; i < m->nlanes; i++)
        if (m->lanes[i].lk == EV_LANE_NODE)
            nodes[nn++] = i;
    if (!nn) {
        fprintf(f, "<p>No router node in this run.</p>\n");
        return;
    }
    fprintf(f, "<table class=\"steps\"><tr><th>step</th><th>product doc</th>");
    for (size_t j = 0; j < nn; j++) {
        hput_in(f, "<th>", m->lanes[nodes[j]].name, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (int k = 1; k <= EV_STEPS; k++) {
        fprintf(f, "<tr class=\"step s%d\"><td><span class=\"sw\" style=\"background:%s\"></span>%d %s</td><td>%s</td>",
                k, step_color[k], k, ev_steps[k].name, ev_steps[k].doc);
        for (size_t j = 0; j < nn; j++) {
            const struct ev_lane *ln = &m->lanes[nodes[j]];
            const struct ev_stepstat *x = &ln->steps[k];
            const char *stt = ev_step_status(ln, (unsigned)k);
            fprintf(f, "<td class=\"st-%s\" data-node=\"", !strcmp(stt, "-") ? "none" : stt);
            hput(f, ln->name);
            fprintf(f, "\" data-step=\"%d\">", k);
            if (!strcmp(stt, "missing"))
                fprintf(f, "did not happen");
            else if (x->first >= 0) {
                char d[24];
                fmt_dur(d, sizeof(d), ev_step_end(x) - x->first);
                fprintf(f, "%s at %+.3fs, %s", stt, x->first, d);
                if (x->nfail)
                    fprintf(f, ", %u failure%s", x->nfail, x->nfail > 1 ? "s" : "");
            } else if (x->done >= 0)
                fprintf(f, "done at %+.3fs", x->done);
            else
                fprintf(f, "-");
            fprintf(f, "</td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void h_wrong(FILE *f, const struct scn *s)
{
    const struct rep_run *r = &s->rep;
    const struct ev_model *m = &s->m;
    if (!s->failed)
        return;
    fprintf(f, "<div class=\"wrong\"><h3>What went wrong</h3>\n");
    if (r->error[0]) {
        hput_in(f, "<p><b>The scenario could not run:</b> ", r->error, "</p>\n");
    }
    fprintf(f, "<ul>\n");
    for (size_t i = 0; i < r->n_exps; i++) {
        const struct rep_expect *x = &r->exps[i];
        if (x->pass || x->skipped)
            continue;
        hput_in(f, "<li><b>", x->step, ": ");
        hput(f, x->name);
        hput_in(f, "</b>: got <code>", x->got, "</code>, want <code>");
        hput(f, x->want);
        fprintf(f, "</code></li>\n");
    }
    for (size_t i = 0; i < m->nlanes; i++) {
        const struct ev_lane *ln = &m->lanes[i];
        if (!ln->missing)
            continue;
        fprintf(f, "<li class=\"missing\"><b>");
        hput(f, ln->name);
        fprintf(f, "</b>: step %d (%s) did not happen", ln->missing, ev_steps[ln->missing].name);
        if (ln->highest_done)
            fprintf(f, "; last step done: %d %s at %+.3fs", ln->highest_done, ev_steps[ln->highest_done].name,
                    ln->steps[ln->highest_done].done);
        /* the last failure the node logged */
        int lf = -1;
        for (int k = 1; k <= EV_STEPS; k++)
            if (ln->steps[k].last_fail > lf)
                lf = ln->steps[k].last_fail;
        if (lf >= 0 && (size_t)lf < s->l.n) {
            const struct ev_event *e = &s->l.v[lf];
            char fl[400];
            fields_text(e, fl, sizeof(fl));
            fprintf(f, "; last failure at %+.3fs: <code>", e->t);
            hput(f, e->event);
            fputc(' ', f);
            hput(f, fl);
            fprintf(f, "</code> (");
            hput(f, e->src < s->l.nsrcs ? s->l.srcs[e->src] : "-");
            fprintf(f, ":%u)", e->line);
        }
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
    for (size_t i = 0; i < s->nfault; i++) {
        char rel[96];
        snprintf(rel, sizeof(rel), "logs/%s.log", s->fault[i]);
        const struct ev_lane *ln = lane_by_name(s, s->fault[i]);
        fprintf(f, "<p>Component at fault: <b>");
        hput(f, s->fault[i]);
        fprintf(f, "</b>%s", ln && ln->comp[0] ? " (" : "");
        if (ln && ln->comp[0]) {
            hput(f, ln->comp);
            fputc(')', f);
        }
        fprintf(f, ", the last lines of <a href=\"");
        href(f, s->link, rel);
        hput_in(f, "\">", rel, "</a>:</p>\n<pre class=\"tail\">");
        char *t = tail_of(s, rel, TAIL_LINES);
        const char *tail = t;
        for (size_t k = 0; !tail && k < r->n_exps; k++)
            if (r->exps[k].log_tail && !strcmp(r->exps[k].log, rel))
                tail = r->exps[k].log_tail;
        hput(f, tail ? tail : "(no log)");
        free(t);
        fprintf(f, "</pre>\n");
    }
    fprintf(f, "</div>\n");
}

static void h_events(FILE *f, const struct scn *s)
{
    fprintf(f, "<details><summary>All %zu events", s->l.n);
    if (s->l.malformed)
        fprintf(f, " (%u malformed lines skipped)", s->l.malformed);
    fprintf(f, "</summary>\n<table class=\"events\"><tr><th>t</th><th>host</th><th>component</th><th>step</th>"
               "<th>event</th><th>fields</th><th>source</th></tr>\n");
    size_t n = s->l.n < MAX_EVENT_ROWS ? s->l.n : MAX_EVENT_ROWS;
    for (size_t i = 0; i < n; i++) {
        const struct ev_event *e = &s->l.v[i];
        char fl[1200];
        fields_text(e, fl, sizeof(fl));
        fprintf(f, "<tr class=\"%s\"><td class=\"f\">%+.6f</td><td>", e->flags & EV_F_FAIL ? "lv-fail" : e->flags & EV_F_WARN ? "lv-warn" : "ev",
                e->t);
        hput(f, e->host);
        hput_in(f, "</td><td>", e->comp, "</td><td>");
        if (e->step)
            fprintf(f, "<span class=\"sw\" style=\"background:%s\"></span>%d", step_color[e->step], e->step);
        hput_in(f, "</td><td>", e->event, "</td><td class=\"f\">");
        hput(f, fl);
        fprintf(f, "</td><td class=\"f\">");
        hput(f, e->src < s->l.nsrcs ? s->l.srcs[e->src] : "-");
        fprintf(f, ":%u</td></tr>\n", e->line);
    }
    fprintf(f, "</table>\n");
    if (n < s->l.n)
        fprintf(f, "<p>%zu more events: <code>lab report --json</code> or the logs.</p>\n", s->l.n - n);
    fprintf(f, "</details>\n");
}

/* The expectation table (summary.json): after the timeline, before the long message sequence. */
static void h_expectations(FILE *f, const struct rep_run *r)
{
    fprintf(f, "<h3>Expectations</h3>\n");
    if (r->n_exps) {
        fprintf(f, "<table class=\"exp\"><tr><th>step</th><th>expectation</th><th>want</th><th>got</th><th>result</th>"
                   "<th>time</th></tr>\n");
        for (size_t i = 0; i < r->n_exps; i++) {
            const struct rep_expect *x = &r->exps[i];
            const char *res = x->pass ? "pass" : x->skipped ? "skip" : "fail";
            fprintf(f, "<tr class=\"%s\"><td>", res);
            hput(f, x->step);
            hput_in(f, "</td><td>", x->name, "</td><td><code>");
            hput(f, x->want);
            fprintf(f, "</code></td><td><code>");
            hput(f, x->got);
            fprintf(f, "</code></td><td class=\"res-%s\">%s</td><td>", res,
                    x->pass ? "PASS" : x->skipped ? "SKIP" : "FAIL");
            if (x->at_s >= 0)
                fprintf(f, "%.3fs", x->at_s);
            else
                fprintf(f, "-");
            fprintf(f, "</td></tr>\n");
        }
        fprintf(f, "</table>\n");
    } else {
        fprintf(f, "<p>None recorded.</p>\n");
    }
}

static void h_scn(FILE *f, const struct scn *s)
{
    const struct rep_run *r = &s->rep;
    const char *w = result_word(s);
    fprintf(f, "<section class=\"scn %s\" id=\"", !strcmp(w, "PASS") ? "pass" : !strcmp(w, "SKIP") ? "skip" : "fail");
    h_anchor(f, s->name);
    fprintf(f, "\">\n<h2>");
    h_badge(f, s);
    hput_in(f, " ", s->name, "</h2>\n");
    if (r->description[0]) {
        hput_in(f, "<p>", r->description, "</p>\n");
    }
    fprintf(f, "<dl class=\"meta\">");
    if (s->have_summary) {
        fprintf(f, "<dt>result</dt><dd>%s: %u of %zu expectations held</dd>", w, n_pass(r), r->n_exps);
        hput_in(f, "<dt>run</dt><dd>", r->runid, " (");
        hput(f, r->mode);
        fprintf(f, "), started ");
        hput(f, r->started);
        fprintf(f, "</dd><dt>time</dt><dd>%.2fs: setup %.2fs, checks %.2fs, teardown %.2fs</dd>", r->total_s, r->setup_s,
                r->checks_s, r->teardown_s);
        hput_in(f, "<dt>file</dt><dd><code>", r->file, "</code></dd>");
    } else {
        fprintf(f, "<dt>result</dt><dd>no summary.json in this directory</dd>");
    }
    fprintf(f, "<dt>events</dt><dd>%zu from %zu sources", s->l.n, s->l.nsrcs);
    if (s->l.malformed)
        fprintf(f, "; %u malformed lines skipped", s->l.malformed);
    if (s->l.dropped || s->l.truncated)
        fprintf(f, "; %u events dropped, %u truncated", s->l.dropped, s->l.truncated);
    fprintf(f, "</dd></dl>\n");
    h_wrong(f, s);

    fprintf(f, "<h3>Onboarding steps</h3>\n");
    h_steps_table(f, s);
    fprintf(f, "<h3>Timeline</h3>\n");
    h_legend(f);
    h_timeline(f, s);
    h_expectations(f, r);
    fprintf(f, "<h3>Message sequence</h3>\n<p>Solid: requests; dashed: answers; blue: inside TLS through the proxy; "
               "red: failures. Hover for the fields.</p>\n");
    h_sequence(f, s);
    h_events(f, s);
    h_files(f, s);
    fprintf(f, "</section>\n");
}

static void h_head(FILE *f, const char *title)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    hput(f, title);
    fprintf(f, "</title>\n<style>\n%s</style></head>\n<body>\n", css);
}

static void html(FILE *f, struct scn *sc, size_t n, const char *dir)
{
    char title[256];
    if (n == 1)
        snprintf(title, sizeof(title), "ztp-lab report: %s %s", sc[0].name, result_word(&sc[0]));
    else
        snprintf(title, sizeof(title), "ztp-lab report: %zu scenarios", n);
    h_head(f, title);
    hput_in(f, "<header><h1>", title, "</h1><p>From the artifacts in <code>");
    hput(f, dir);
    fprintf(f, "</code>, by <code>lab report</code>: the components' structured log events as the product "
               "documentation's 12 onboarding steps, a timeline and a message sequence.</p></header>\n");
    if (n > 1) {
        fprintf(f, "<nav><table><tr><th>result</th><th>scenario</th><th>expectations</th><th>time</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "<tr><td>");
            h_badge(f, &sc[i]);
            fprintf(f, "</td><td><a href=\"#");
            h_anchor(f, sc[i].name);
            fprintf(f, "\">");
            hput(f, sc[i].name);
            fprintf(f, "</a></td><td>%u/%zu</td><td>%.2fs</td></tr>\n", n_pass(&sc[i].rep), sc[i].rep.n_exps,
                    sc[i].rep.total_s);
        }
        fprintf(f, "</table></nav>\n");
    }
    for (size_t i = 0; i < n; i++)
        h_scn(f, &sc[i]);
    fprintf(f, "</body></html>\n");
}

/* ---- entry points ----------------------------------------------------------------------------------------- */

static int render_scns(const char *dir, enum report_fmt fmt, const char *link_base, FILE *out, char *err, size_t cap)
{
    size_t n;
    char **dirs = find_scenarios(dir, &n);
    if (!n) {
        snprintf(err, cap, "%s: no artifacts here (no summary.json or logs/, nor NAME/summary.json)", dir);
        free(dirs);
        return -1;
    }
    struct scn *sc = calloc(n, sizeof(*sc));
    if (!sc)
        abort();
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        char e[512];
        if (scn_load(&sc[ok], dirs[i], e, sizeof(e)) < 0) {
            snprintf(err, cap, "%s", e);
            continue;
        }
        /* dirs[i] is dir itself or dir/NAME */
        const char *rel = strlen(dirs[i]) > strlen(dir) ? dirs[i] + strlen(dir) + (dirs[i][strlen(dir)] == '/') : "";
        snprintf(sc[ok].link, sizeof(sc[ok].link), "%s%s%s%s", link_base, *link_base && link_base[strlen(link_base) - 1] != '/' ? "/" : "",
                 rel, *rel ? "/" : "");
        ok++;
    }
    int rc = ok ? 0 : -1;
    if (ok) {
        if (fmt == REPORT_HTML) {
            html(out, sc, ok, dir);
        } else if (fmt == REPORT_JSON) {
            json_t *o = json_object();
            json_t *a = json_array();
            for (size_t i = 0; i < ok; i++)
                json_array_append_new(a, json_scn(&sc[i]));
            json_object_set_new(o, "schema", json_string("ztp-lab events 1: time, host, component, step, event, fields"));
            json_object_set_new(o, "scenarios", a);
            json_dumpf(o, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
            fputc('\n', out);
            json_decref(o);
        } else {
            for (size_t i = 0; i < ok; i++)
                text_scn(out, &sc[i]);
        }
    }
    for (size_t i = 0; i < ok; i++)
        scn_free(&sc[i]);
    free(sc);
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}

int report_render(const char *dir, enum report_fmt fmt, const char *link_base, FILE *out, char *err, size_t cap)
{
    return render_scns(dir, fmt, link_base ? link_base : "", out, err, cap);
}

/* the relative path from directory `from` to directory `to` (both made absolute), "" when equal */
static void rel_path(const char *from, const char *to, char *dst, size_t cap)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, b)) {
        snprintf(dst, cap, "%s", to);
        return;
    }
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/')
            common = i;
        i++;
    }
    if (!a[i] && (!b[i] || b[i] == '/'))
        common = i;
    else if (!b[i] && a[i] == '/')
        common = i;
    size_t o = 0;
    dst[0] = '\0';
    for (const char *p = a + common; *p; p++)
        if (*p == '/' && o + 4 < cap) {
            memcpy(dst + o, "../", 3);
            o += 3;
        }
    const char *rest = b + common;
    while (*rest == '/')
        rest++;
    snprintf(dst + o, cap - o, "%s", rest);
    size_t l = strlen(dst);
    if (l && dst[l - 1] == '/')
        dst[l - 1] = '\0';
}

static int write_html(const char *dir, const char *out_path, char *err, size_t cap)
{
    char outdir[PATH_MAX];
    snprintf(outdir, sizeof(outdir), "%s", out_path);
    char *sl = strrchr(outdir, '/');
    if (sl)
        *(sl == outdir ? sl + 1 : sl) = '\0';
    else
        snprintf(outdir, sizeof(outdir), ".");
    char link[PATH_MAX];
    rel_path(outdir, dir, link, sizeof(link));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, cap, "%s", strerror(errno));
        return -1;
    }
    int rc = render_scns(dir, REPORT_HTML, link, f, err, cap);
    fclose(f);
    if (rc == 0) {
        int w = atomic_write_file(out_path, buf, len, 0644);
        if (w < 0) {
            snprintf(err, cap, "%s: %s", out_path, strerror(-w));
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

int report_html_write(const char *dir, const char *out_path, char *err, size_t cap)
{
    char p[PATH_MAX + 16];
    if (!out_path) {
        snprintf(p, sizeof(p), "%s/report.html", dir);
        out_path = p;
    }
    return write_html(dir, out_path, err, cap);
}

int report_html_index(const char *root)
{
    size_t n;
    char **dirs = find_scenarios(root, &n);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        for (size_t i = 0; i < n; i++)
            free(dirs[i]);
        free(dirs);
        return -1;
    }
    h_head(f, "ztp-lab runs");
    fprintf(f, "<header><h1>ztp-lab runs</h1><p>The scenarios in <code>");
    hput(f, root);
    fprintf(f, "</code>; each links its report.</p></header>\n<table><tr><th>result</th><th>scenario</th>"
               "<th>description</th><th>expectations</th><th>time</th><th>started</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        struct rep_run r;
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/summary.json", dirs[i]);
        if (report_from_summary(p, &r) < 0)
            continue;
        const char *name = base_name(dirs[i]);
        const char *res = r.result;
        fprintf(f, "<tr><td><span class=\"badge %s\">%s</span></td><td><a href=\"",
                !strcmp(res, "pass") ? "pass" : !strcmp(res, "skipped") ? "skip" : "fail",
                !strcmp(res, "pass") ? "PASS" : !strcmp(res, "fail") ? "FAIL" : !strcmp(res, "skipped") ? "SKIP" : "ERROR");
        char rel[NAME_MAX + 16];
        snprintf(rel, sizeof(rel), "%s/report.html", name);
        href(f, "", rel);
        hput_in(f, "\">", r.scenario[0] ? r.scenario : name, "</a></td><td>");
        hput(f, r.description);
        fprintf(f, "</td><td>%u/%zu</td><td>%.2fs</td><td>", n_pass(&r), r.n_exps, r.total_s);
        hput(f, r.started);
        fprintf(f, "</td></tr>\n");
        report_clear(&r);
    }
    fprintf(f, "</table></body></html>\n");
    fclose(f);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/report.html", root);
    int rc = atomic_write_file(p, buf, len, 0644);
    free(buf);
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc < 0 ? -1 : 0;
}

int report_cmd(int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"html", required_argument, NULL, 'H'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    bool json = false;
    const char *html_out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'H': html_out = optarg; break;
        case 'h':
            printf("usage: lab report DIR [--json] [--html FILE]\n");
            return 0;
        default: fprintf(stderr, "usage: lab report DIR [--json] [--html FILE]\n"); return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: lab report DIR [--json] [--html FILE]\n"
                        "  DIR: a scenario's artifacts (build/artifacts/NAME) or a directory of them\n");
        return 2;
    }
    const char *dir = argv[optind];
    char err[1024] = "";
    if (html_out) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (write_html(dir, html_out, err, sizeof(err)) < 0) {
            fprintf(stderr, "lab: report: %s\n", err);
            return 2;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        struct stat st;
        long long sz = stat(html_out, &st) == 0 ? (long long)st.st_size : -1;
        fprintf(stderr, "lab: report: wrote %s (%lld bytes, %.0f ms)\n", html_out, sz,
                ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9) * 1000.0);
        if (!json)
            return 0;
    }
    if (render_scns(dir, json ? REPORT_JSON : REPORT_TEXT, "", stdout, err, sizeof(err)) < 0) {
        fprintf(stderr, "lab: report: %s\n", err);
        return 2;
    }
    return 0;
}
