/* The components' structured log events of a lab run, as one time-ordered list, mapped to the
 * product doc's 12 onboarding steps and to the arrows of a message sequence.
 *
 * Input: what a run leaves in its artifacts directory, nothing else (so it works on artifacts
 * copied out of CI, and for runs of any age): logs/HOST.log (logfmt lines of common/log.c,
 *   ts=2026-11-23T13:40:01.123456Z level=info host=r1a comp=ssr-node event=dhcpc.bound k=v k="q \"x\""
 * among other programs' plain output), HOST/access.log (Squid native format, for proxies that do
 * not log structured events: squid, or anything writing that format), summary.json (hosts, start
 * time) and pki/HOST.pem (the names each server's certificate carries, to put a URL's host name on
 * the right lane).
 *
 * One schema for every event (README "Events"): time, host, component, step, event, fields.
 *
 * Layers:
 *   ev_parse_line / ev_list_add_log / ev_list_add_access_log   pure parsers over (buf, len): bounded
 *       (EV_MAX_LINE, EV_MAX_FIELDS, EV_MAX_EVENTS), a line that looks like logfmt but is broken is
 *       skipped and counted (malformed), a line of another program is counted (other);
 *   ev_classify      the table of events -> step, done-steps, failure (one line per event kind);
 *   ev_model_build   lanes (one per host), the per-node onboarding steps, the per-lane step boxes
 *                    and the message-sequence arrows, from the classified list;
 *   ev_load_dir      the only function that reads files.
 */
#ifndef LAB_EVENTS_H
#define LAB_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_MAX_LINE 16384         /* longer lines are skipped (counted as malformed) */
#define EV_MAX_FIELDS 64          /* fields beyond are dropped (counted in ev_list.truncated) */
#define EV_MAX_EVENTS 200000      /* per list; more are dropped (counted) */
#define EV_MAX_FILE (64u << 20)   /* bytes read of one log file (the tail beyond is ignored, counted) */
#define EV_STEPS 12
#define EV_MAX_LANES 256        /* hosts; more share the last lane */
#define EV_MAX_ARROWS 20000

/* ---- events --------------------------------------------------------------------------------- */

struct ev_kv {
    const char *k, *v;            /* unescaped value (a quoted value's \" \\ \xNN resolved, except \x00) */
};

enum ev_flag {
    EV_F_FAIL = 1,                /* the event reports a failure (a step did not succeed) */
    EV_F_WARN = 2,                /* level=warn or level=error */
    EV_F_QUIET = 4,               /* detail (state machine internals): not in the terminal timeline */
    EV_F_SYNTH = 8,               /* made from a non-logfmt source (a Squid access.log line) */
};

struct ev_event {
    double ts;                    /* seconds since the epoch (UTC, microseconds) */
    double t;                     /* seconds since the run's start (ev_list_rebase) */
    const char *host, *comp, *level, *event;
    struct ev_kv *kv;             /* the other fields, in line order */
    unsigned nkv;
    unsigned src;                 /* index into ev_list.srcs ("logs/r1a.log") */
    unsigned line;                /* 1-based line in that source */
    unsigned seq;                 /* input order (stable sort) */
    /* ev_classify */
    uint8_t step;                 /* 0: none; 1..12 */
    uint16_t done;                /* bit k: this event shows step k happened */
    uint8_t flags;                /* enum ev_flag */
    int16_t rule;                 /* index in the rule table, -1: a generic row */
    void *blk;                    /* the one allocation holding kv and the strings */
};

struct ev_list {
    struct ev_event *v;
    size_t n, cap;
    char **srcs;
    size_t nsrcs;
    unsigned malformed;           /* looked like logfmt (ts=...) but could not be parsed: skipped */
    unsigned other;               /* lines of other programs (not logfmt): skipped */
    unsigned truncated;           /* fields dropped beyond EV_MAX_FIELDS, bytes beyond EV_MAX_FILE */
    unsigned dropped;             /* events beyond EV_MAX_EVENTS */
    unsigned seq;
};

/* Timestamp "YYYY-MM-DDTHH:MM:SS[.frac]Z" (also "+00:00" or no zone = UTC) -> seconds since the
 * epoch, or -1. Pure. */
double ev_parse_ts(const char *s, size_t len);

/* Parse one logfmt line (no newline). Returns 1 and fills *e (free with ev_event_free), 0 when
 * the line is not logfmt (does not start with ts=), -1 when it is but is broken (bad time, no
 * event=, unterminated quote, too long). host/comp default to default_host / "-". */
int ev_parse_line(const char *buf, size_t len, const char *default_host, struct ev_event *e, unsigned *truncated);
void ev_event_free(struct ev_event *e);

/* The value of field key (also "host", "comp", "level", "event"), or NULL. */
const char *ev_get(const struct ev_event *e, const char *key);

/* Every line of a log buffer; src names it ("logs/r1a.log"), default_host is the host for lines
 * without host=. Returns the number of events added. */
size_t ev_list_add_log(struct ev_list *l, const char *buf, size_t len, const char *src, const char *default_host);

/* Every line of a Squid native access log:
 *   time elapsed client code/status bytes method URL user hierarchy/peer type
 * becomes event `proxy.access` (comp squid-access, EV_F_SYNTH) at time-elapsed with fields
 * client method target status code bytes user upstream elapsed_ms. */
size_t ev_list_add_access_log(struct ev_list *l, const char *buf, size_t len, const char *src, const char *host);

/* Sort by time (stable: equal times keep their input order); set t = ts - t0. */
void ev_list_sort(struct ev_list *l);
void ev_list_rebase(struct ev_list *l, double t0);
void ev_list_free(struct ev_list *l);

/* ---- steps --------------------------------------------------------------------------------- */

struct ev_step_def {
    unsigned num;
    const char *name;             /* short: "phone home" */
    const char *doc;              /* the product doc's words, shortened */
};
extern const struct ev_step_def ev_steps[EV_STEPS + 1]; /* [1..12]; [0] = "-" */

/* Classify every event (step, done, flags, rule) from the rule table. Needs the list sorted. */
void ev_classify(struct ev_list *l);
/* The rule table, for the README and tools: event, comp (NULL any), condition, step, what. */
struct ev_rule_info {
    const char *event, *comp, *cond, *what;
    unsigned step;                /* 0: from the event's fields (see `what`) */
};
size_t ev_rules(const struct ev_rule_info **out);

/* ---- the model: lanes, node steps, boxes, arrows ------------------------------------------- */

enum ev_lane_kind { EV_LANE_NODE, EV_LANE_DHCP, EV_LANE_PROXY, EV_LANE_EPT, EV_LANE_MIST, EV_LANE_CONDUCTOR,
                    EV_LANE_HUB, EV_LANE_OTHER, EV_LANE_EXTERNAL };

struct ev_hostinfo {              /* from summary.json: name, kind, impl (any may be "") */
    const char *name, *kind, *impl;
};

struct ev_name {                  /* a server name (certificate SAN) -> host */
    const char *name, *host;
};

struct ev_stepstat {
    double first, last;           /* t of the first/last event of this step on this lane; first < 0: none */
    double done;                  /* t of the first event showing it happened; < 0: not shown */
    unsigned n, nfail;
    int last_fail;                /* index in the list of the last failure event, -1 */
};

struct ev_lane {
    char name[64];
    char kind[24];                /* summary.json kind, or the component */
    char comp[32];                /* the component seen in its events */
    enum ev_lane_kind lk;
    bool used;                    /* has events or arrows */
    struct ev_stepstat steps[EV_STEPS + 1];
    int highest_done;             /* highest step k with done >= 0, 0 none */
    int missing;                  /* step that did not happen (set by the report from the result), 0 none */
};

enum ev_arrow_flag { EV_A_FAIL = 1, EV_A_TLS = 2, EV_A_REPLY = 4 };

struct ev_arrow {
    double t;
    int from, to;                 /* lane indexes */
    uint8_t step;
    uint8_t flags;
    int ev;                       /* index of the event it comes from */
    unsigned ord;                 /* creation order (stable sort) */
    char label[128];
    char detail[256];
    char key[96];                 /* merge key ("" none) */
};

struct ev_model {
    struct ev_list *l;
    struct ev_lane lanes[EV_MAX_LANES];
    size_t nlanes;
    struct ev_arrow *arrows;
    size_t narrows, cap_arrows;
    unsigned arrows_dropped;
    double t_end;                 /* max t of any event (>= 0) */
};

/* Build the model from a sorted, rebased, classified list. hosts: summary.json's hosts (may be
 * 0); names: certificate names -> host (may be 0). */
void ev_model_build(struct ev_model *m, struct ev_list *l, const struct ev_hostinfo *hosts, size_t nhosts,
                    const struct ev_name *names, size_t nnames);
void ev_model_free(struct ev_model *m);
int ev_lane_find(const struct ev_model *m, const char *name);
/* Where a step's box ends: when it was shown done (if after its first event), else its last event.
 * Its duration is ev_step_end() - first. */
double ev_step_end(const struct ev_stepstat *s);
/* Status of a step of a lane: "done", "failed", "started", "missing" (did not happen), "-". */
const char *ev_step_status(const struct ev_lane *ln, unsigned step);

/* ---- files ------------------------------------------------------------------------------------ */

/* Read an artifacts directory's every logs/NAME.log and HOST/access.log (only for hosts without structured
 * proxy events) into l, the certificate names of pki/HOST.pem into *names (free with
 * ev_names_free). Sorted, not rebased, not classified. 0, or -1 with err (no logs/ dir). */
int ev_load_dir(const char *dir, struct ev_list *l, struct ev_name **names, size_t *nnames, char *err, size_t cap);
void ev_names_free(struct ev_name *names, size_t n);

#endif
