/* See auth.h. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

const char *const mist_take_error[] = {[MIST_TAKE_OK] = "", [MIST_TAKE_UNKNOWN] = "unknown-challenge",
                                       [MIST_TAKE_REPLAYED] = "replayed-challenge",
                                       [MIST_TAKE_EXPIRED] = "expired-challenge"};

int mist_random_hex(size_t n, char *out)
{
    unsigned char b[64];
    if (n > sizeof b || RAND_bytes(b, (int)n) != 1)
        return -1;
    mist_hex(b, n, out);
    return 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* Challenges: drop the ones expired (used or not) before adding; when still full, the oldest goes. */
static void ch_expire(struct mist_auth *a, uint64_t now)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n_ch; i++)
        if (a->ch[i].expires > now)
            a->ch[j++] = a->ch[i];
    a->n_ch = j;
}

int mist_challenge_add(struct mist_auth *a, const char *device_id, const char *challenge, uint64_t now,
                       unsigned ttl, char id[MIST_CHALLENGE_ID_LEN + 1])
{
    if (mist_random_hex(MIST_CHALLENGE_ID_LEN / 2, id) < 0)
        return -1;
    if (a->n_ch == MIST_AUTH_MAX)
        ch_expire(a, now);
    if (a->n_ch == MIST_AUTH_MAX) {   /* entries are in issue order: drop the oldest */
        memmove(&a->ch[0], &a->ch[1], (MIST_AUTH_MAX - 1) * sizeof a->ch[0]);
        a->n_ch--;
    }
    struct mist_challenge *c = &a->ch[a->n_ch++];
    memset(c, 0, sizeof *c);
    copy(c->id, sizeof c->id, id);
    copy(c->device_id, sizeof c->device_id, device_id);
    copy(c->challenge, sizeof c->challenge, challenge);
    c->issued = now;
    c->expires = now + ttl;
    return 0;
}

enum mist_take mist_challenge_take(struct mist_auth *a, const char *device_id, const char *id, uint64_t now,
                                   char *out, size_t cap)
{
    for (size_t i = 0; i < a->n_ch; i++) {
        struct mist_challenge *c = &a->ch[i];
        if (strcmp(c->id, id) != 0)
            continue;
        if (strcmp(c->device_id, device_id) != 0)
            return MIST_TAKE_UNKNOWN;
        if (c->used)
            return MIST_TAKE_REPLAYED;
        c->used = true;   /* single use, whatever the verdict */
        if (now >= c->expires)
            return MIST_TAKE_EXPIRED;
        copy(out, cap, c->challenge);
        return MIST_TAKE_OK;
    }
    return MIST_TAKE_UNKNOWN;
}

static struct mist_lock *lock_find(struct mist_auth *a, const char *device_id, bool create)
{
    for (size_t i = 0; i < a->n_locks; i++)
        if (strcmp(a->locks[i].device_id, device_id) == 0)
            return &a->locks[i];
    if (!create)
        return NULL;
    if (a->n_locks == MIST_AUTH_MAX) {   /* forget the oldest entry */
        memmove(&a->locks[0], &a->locks[1], (MIST_AUTH_MAX - 1) * sizeof a->locks[0]);
        a->n_locks--;
    }
    struct mist_lock *l = &a->locks[a->n_locks++];
    memset(l, 0, sizeof *l);
    copy(l->device_id, sizeof l->device_id, device_id);
    return l;
}

unsigned mist_lock_remaining(struct mist_auth *a, const char *device_id, uint64_t now)
{
    struct mist_lock *l = lock_find(a, device_id, false);
    if (!l || !l->locked_until)
        return 0;
    if (now >= l->locked_until) {
        l->locked_until = 0;
        l->failures = 0;
        return 0;
    }
    return (unsigned)(l->locked_until - now);
}

bool mist_lock_fail(struct mist_auth *a, const char *device_id, uint64_t now, unsigned max_failures,
                    unsigned lockout_seconds)
{
    struct mist_lock *l = lock_find(a, device_id, true);
    if (l->locked_until)
        return false;
    if (++l->failures >= max_failures) {
        l->locked_until = now + lockout_seconds;
        return true;
    }
    return false;
}

unsigned mist_lock_failures(const struct mist_auth *a, const char *device_id)
{
    for (size_t i = 0; i < a->n_locks; i++)
        if (strcmp(a->locks[i].device_id, device_id) == 0)
            return a->locks[i].failures;
    return 0;
}

void mist_lock_success(struct mist_auth *a, const char *device_id)
{
    struct mist_lock *l = lock_find(a, device_id, false);
    if (l) {
        l->failures = 0;
        l->locked_until = 0;
    }
}

int mist_session_new(struct mist_auth *a, const char *device_id, uint64_t now, unsigned ttl,
                     char token[MIST_TOKEN_LEN + 1])
{
    if (mist_random_hex(MIST_TOKEN_LEN / 2, token) < 0)
        return -1;
    size_t j = 0;
    for (size_t i = 0; i < a->n_sessions; i++)
        if (a->sessions[i].expires > now)
            a->sessions[j++] = a->sessions[i];
    a->n_sessions = j;
    if (a->n_sessions == MIST_AUTH_MAX) {
        memmove(&a->sessions[0], &a->sessions[1], (MIST_AUTH_MAX - 1) * sizeof a->sessions[0]);
        a->n_sessions--;
    }
    struct mist_session *s = &a->sessions[a->n_sessions++];
    copy(s->token, sizeof s->token, token);
    copy(s->device_id, sizeof s->device_id, device_id);
    s->expires = now + ttl;
    return 0;
}

bool mist_session_valid(struct mist_auth *a, const char *device_id, const char *token, size_t len, uint64_t now)
{
    if (len != MIST_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < a->n_sessions; i++) {
        struct mist_session *s = &a->sessions[i];
        if (CRYPTO_memcmp(s->token, token, MIST_TOKEN_LEN) == 0)
            return now < s->expires && strcmp(s->device_id, device_id) == 0;
    }
    return false;
}
