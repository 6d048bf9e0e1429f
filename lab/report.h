/* Reports of lab runs: summary.json (for machines and `lab report`) and JUnit XML (for CI).
 *
 * summary.json (one per scenario, in its artifact dir):
 *   {"scenario","file","description","result":"pass"|"fail"|"error","error":null|"...",
 *    "runid","mode":"root"|"userns","started":ISO,"timings":{"total_s","setup_s","checks_s","teardown_s"},
 *    "artifacts":DIR,
 *    "hosts":[{"name","kind","impl","namespace","ready_ms","status","version"}],
 *    "versions":{"lab","ssr-node",...},
 *    "expectations":[{"step","name","result":"pass"|"fail","want","got","at_s","log":"logs/HOST.log"|null,
 *                     "log_tail":"..."|null}],
 *    "timeline":[{"t","host","step","detail"}]}
 *
 * JUnit: <testsuites> with one <testsuite name=SCENARIO> per scenario and one <testcase> per
 * expectation (classname "lab.SCENARIO", name "STEP: HOST KEY"); a failed expectation is a
 * <failure message="got ..., want ..."> whose text holds the last log lines of the component at
 * fault; a scenario that could not run (bad topology, a component that did not start) is one
 * testcase "setup" with an <error>. The timeline is the suite's <system-out>. Text is escaped for
 * XML 1.0 (& < > " ' as entities; control bytes and invalid UTF-8 as \xNN), so the file is always
 * well-formed.
 */
#ifndef LAB_REPORT_H
#define LAB_REPORT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct rep_expect {
    char step[64];
    char name[160];
    bool pass;
    bool skipped;                 /* could not be checked in this mode: neither pass nor failure */
    char want[512];
    char got[1024];
    double at_s;                  /* when it held, seconds after the start; < 0: never */
    char log[80];                 /* "logs/HOST.log" of the component at fault, "" when none */
    char *log_tail;               /* malloc'd last lines of that log on failure, or NULL */
};

struct rep_event {
    double t;                     /* seconds after the start */
    char host[32];
    char step[40];                /* "proxy learned", "secret stored", "manufactured" ... */
    char detail[256];
};

struct rep_host {
    char name[32];
    char kind[16];
    char impl[16];
    char ns[48];
    double ready_ms;
    char status[96];
    char version[96];
};

struct rep_run {
    char scenario[64];
    char file[PATH_MAX];
    char description[256];
    char runid[16];
    char mode[16];
    char result[8];               /* "pass", "fail", "error" */
    char error[1024];             /* when result is "error" */
    char started[32];
    double total_s, setup_s, checks_s, teardown_s;
    char artifacts[PATH_MAX];
    struct rep_expect *exps;
    size_t n_exps, cap_exps;
    struct rep_event *events;
    size_t n_events, cap_events;
    struct rep_host *hosts;
    size_t n_hosts, cap_hosts;
    json_t *versions;             /* {"lab": "...", "ssr-node": "...", ...}, may be NULL */
};

/* Append (grows the arrays); return the new element, zeroed. */
struct rep_expect *report_add_expect(struct rep_run *r);
struct rep_event *report_add_event(struct rep_run *r);
struct rep_host *report_add_host(struct rep_run *r);
/* Free what the run holds (not r itself). */
void report_clear(struct rep_run *r);

unsigned report_failures(const struct rep_run *r);

json_t *report_summary(const struct rep_run *r);
/* Write summary.json atomically. Returns 0 or -errno. */
int report_write_summary(const struct rep_run *r, const char *path);

/* XML 1.0 text/attribute escaping of a NUL-terminated string to f. */
void report_xml_put(FILE *f, const char *s);

/* The escaping shared by the JUnit and the HTML reports. report_utf8_len: the length of a valid UTF-8
 * sequence at p (1-4), 0 when invalid (overlong, surrogate, beyond U+10FFFF; with xml, U+FFFE and U+FFFF
 * too: not XML 1.0 characters). report_markup_put: s as XML (html false) or HTML text or attribute
 * value: & < > " ' as entities, tab and newline kept (XML: carriage return too), other control bytes
 * and invalid UTF-8 as \xNN; at most maxch characters (0: all), a cut string ends in "...".
 * report_json_str: a JSON string of s, its bytes >= 0x80 as '?' when s is not valid UTF-8 (jansson
 * refuses it). */
size_t report_utf8_len(const unsigned char *p, bool xml);
void report_markup_put(FILE *f, const char *s, size_t maxch, bool html);
json_t *report_json_str(const char *s);
/* The JUnit document for n runs to f. */
void report_junit(FILE *f, const struct rep_run *const *runs, size_t n);
/* Write it atomically to path. Returns 0 or -errno. */
int report_write_junit(const char *path, const struct rep_run *const *runs, size_t n);
/* Read the runs' summary.json back (for merging the JUnit of runs made in child processes). */
int report_from_summary(const char *path, struct rep_run *r);

#endif
