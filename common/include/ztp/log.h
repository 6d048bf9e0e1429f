/* Structured logging: one line per event, logfmt.
 *
 *   ts=2026-11-23T13:40:01.123456Z level=info host=r1a comp=ssr-node event=dhcp.ack ifname=wan0 ...
 *
 * Keys are fixed by the caller; values that come from the network must go through log_quote() so a
 * line never breaks and never carries control bytes. Secrets are never passed to the logger.
 */
#ifndef ZTP_LOG_H
#define ZTP_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Process identity printed on every line (host= and comp=). Strings are copied. */
void log_init(const char *host, const char *component, enum log_level min_level);
/* Where lines go (default stderr). The stream is flushed after every line. */
void log_set_stream(FILE *f);

/* One event line. `fmt` holds the event's fields as `key=value` pairs (may be NULL or ""). */
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(ev, ...)  log_event(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_event(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_LVL_DEBUG, ev, __VA_ARGS__)

/* Broken internal invariant: log and abort. */
void fatalx(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Quote `len` bytes of `src` for a logfmt value: always wrapped in double quotes, `"` and `\`
 * escaped, bytes outside printable ASCII as \xNN. Output is NUL-terminated and truncated to fit
 * `cap` (cap >= 3). Returns `dst`. */
char *log_quote(char *dst, size_t cap, const void *src, size_t len);

/* Hex of up to `len` bytes into dst (truncated to fit). Returns dst. */
char *log_hex(char *dst, size_t cap, const void *src, size_t len);

#endif
