/* Retry bookkeeping shared by the sZTP and conductor clients: see retry.h. */
#include "retry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "https.h"
#include "phonehome.h"

void retry_init(struct retry *r, unsigned base_ms, unsigned max_ms, unsigned retry_after_max_ms, uint32_t seed)
{
    *r = (struct retry){.base_ms = base_ms, .max_ms = max_ms, .retry_after_max_ms = retry_after_max_ms, .rng = seed};
}

unsigned retry_fail(struct retry *r, unsigned retry_after_s, uint64_t now_ms)
{
    r->failures++;
    unsigned d = phonehome_backoff_ms(r->failures, r->base_ms, r->max_ms, phonehome_xorshift32(&r->rng));
    if (retry_after_s) {
        uint64_t ra = (uint64_t)retry_after_s * 1000u;
        if (ra > r->retry_after_max_ms)
            ra = r->retry_after_max_ms;
        if (ra > d)
            d = (unsigned)ra;
    }
    r->delay_ms = d;
    r->next_ms = now_ms + d;
    r->waiting = true;
    return d;
}

void retry_ok(struct retry *r)
{
    r->failures = 0;
    r->waiting = false;
}

bool retry_due(struct retry *r, uint64_t now_ms)
{
    if (r->waiting && now_ms >= r->next_ms)
        r->waiting = false;
    return !r->waiting;
}

void retry_hurry(struct retry *r, uint64_t now_ms)
{
    if (r->waiting && r->next_ms > now_ms)
        r->next_ms = now_ms;
}

int64_t retry_left_ms(const struct retry *r, uint64_t now_ms)
{
    if (!r->waiting)
        return -1;
    return r->next_ms > now_ms ? (int64_t)(r->next_ms - now_ms) : 0;
}

unsigned retry_after_parse(const struct https_result *res, bool json_body)
{
    char v[32] = "";
    if (res->head)
        http_head_copy(res->head, "Retry-After", v, sizeof v);
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] && !*end && n <= 86400)
        return (unsigned)n;
    if (!json_body || !res->body || !res->body_len)
        return 0;
    json_t *o = json_loadb(res->body, res->body_len, 0, NULL);
    json_int_t b = json_integer_value(json_object_get(o, "retry-after"));
    json_decref(o);
    return b > 0 && b <= 86400 ? (unsigned)b : 0;
}

void retry_reason(char *dst, size_t cap, const char *fmt, va_list ap)
{
    vsnprintf(dst, cap, fmt, ap);
    for (char *p = dst; *p; p++)
        if (*p < ' ' || *p > '~')
            *p = '?';
}
