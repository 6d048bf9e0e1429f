/* Retry bookkeeping of the router's request loops: the sZTP client (sztp.c) and the conductor
 * client (conductor.c). Both retry a failed step the same way:
 *
 *   - a failure counts one more CONSECUTIVE failure and arms a wait: phonehome_backoff_ms() (base
 *     doubling per consecutive failure up to max, minus up to 20 % jitter from a per-client
 *     xorshift32 generator), or the server's Retry-After when that is longer (capped at
 *     retry_after_max_ms);
 *   - a success (or a new proxy: another path is worth trying at once) clears the count and the wait;
 *   - the client's tick ends the wait once its time has come; its next-timeout asks how long is left.
 *
 * The failure's reason (class, message, status) and its log line stay with each client: their
 * persisted error records and events differ (event=sztp.failed, event=conductor.failed). This file
 * only does the arithmetic and the bookkeeping, with the time passed in (unit-testable). */
#ifndef SSR_RETRY_H
#define SSR_RETRY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct https_result;

struct retry {
    unsigned base_ms, max_ms;      /* backoff: base doubling to max (ssr-node --retry-backoff) */
    unsigned retry_after_max_ms;   /* a server's Retry-After is honoured up to this */
    bool waiting;                  /* backing off until next_ms */
    uint64_t next_ms;
    unsigned delay_ms;             /* the wait last armed */
    unsigned failures;             /* consecutive failures */
    uint32_t rng;                  /* xorshift32 state: the jitter */
};

void retry_init(struct retry *r, unsigned base_ms, unsigned max_ms, unsigned retry_after_max_ms, uint32_t seed);
/* One more consecutive failure at now_ms: arms the wait and returns it (ms). retry_after_s: the
 * server's Retry-After in seconds, 0 for none. */
unsigned retry_fail(struct retry *r, unsigned retry_after_s, uint64_t now_ms);
/* A step went through: no failures, no wait. */
void retry_ok(struct retry *r);
/* Ends the wait once now_ms has reached it; true when not waiting (any more). */
bool retry_due(struct retry *r, uint64_t now_ms);
/* Brings a pending wait forward to now_ms (e.g. the network changed); the count stays. */
void retry_hurry(struct retry *r, uint64_t now_ms);
/* ms left of the wait (0 when due), -1 when not waiting. */
int64_t retry_left_ms(const struct retry *r, uint64_t now_ms);

/* The server's Retry-After header in seconds (delta-seconds, at most a day), else with json_body
 * the "retry-after" member of a JSON body; 0 when none. */
unsigned retry_after_parse(const struct https_result *res, bool json_body);

/* fmt/ap formatted into dst (cap > 0), every byte outside ' '..'~' replaced by '?': a failure's
 * message, safe in a log line and a JSON state file. */
void retry_reason(char *dst, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
