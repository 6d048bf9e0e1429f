/* Reports of a lab run read back from its artifacts directory only (summary.json, logs/, HOST/
 * access.log, pki/, pcap/): the onboarding of every router node as the product doc's 12 steps, a
 * timeline (one lane per router node and per component) and a message sequence, built from the
 * components' structured events (events.h).
 *
 *   lab report DIR [--json] [--html FILE]
 *
 * DIR is one scenario's artifacts (DIR/summary.json) or a directory of them (DIR/NAME/summary.json,
 * e.g. build/artifacts after `lab run --all`). Without options the report is printed for a terminal
 * (steps, timeline, sequence, expectations: for CI logs); --json prints the events, steps and
 * sequence for tools; --html FILE writes one self-contained HTML page (no network access: inline
 * CSS, no scripts, no external fonts or images; links to the logs and captures are relative to
 * FILE). Every string from a log is escaped (HTML, JSON, or \xNN on the terminal).
 *
 * `lab run` writes ARTIFACTS/NAME/report.html after every scenario (report_html_write) and, for
 * several scenarios, ARTIFACTS/report.html: an index linking them (report_html_index).
 */
#ifndef LAB_REPORT_HTML_H
#define LAB_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

enum report_fmt { REPORT_TEXT, REPORT_JSON, REPORT_HTML };

/* Render the report of DIR (one scenario or a directory of them) to out. link_base is the path
 * from the HTML file's directory to DIR ("" when the file is in DIR), used for the relative links.
 * Returns 0, or -1 with err (DIR holds no artifacts). */
int report_render(const char *dir, enum report_fmt fmt, const char *link_base, FILE *out, char *err, size_t cap);

/* Write DIR/report.html, or out_path when not NULL (atomically). 0 or -1 with err. */
int report_html_write(const char *dir, const char *out_path, char *err, size_t cap);

/* ROOT/report.html: one row per ROOT/NAME/summary.json linking NAME/report.html. 0 or -1. */
int report_html_index(const char *root);

/* `lab report DIR [--json] [--html FILE]` (argv[0] = "report"). Exit status: 0, or 2 (usage, DIR
 * is not an artifacts directory, FILE cannot be written). */
int report_cmd(int argc, char **argv);

#endif
