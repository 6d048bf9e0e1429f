/* mock-mist's authentication state, all in memory and all driven by an injected clock (`now`, in
 * seconds of CLOCK_MONOTONIC in the daemon, anything in tests):
 *   - challenges: fresh, single use, expiring; a used id is remembered until it expires so a replay
 *     is told apart from an unknown id;
 *   - lockouts: failures per device; max_failures in a row lock it for lockout_seconds; success resets;
 *   - sessions: random bearer tokens bound to one device, expiring.
 * Tables are bounded (MIST_AUTH_MAX entries each); when full, the oldest entry is evicted. */
#ifndef MIST_AUTH_H
#define MIST_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mistjson.h"
#include "ztp/ocra.h"

#define MIST_AUTH_MAX 1024
#define MIST_CHALLENGE_ID_LEN 32   /* hex of 16 random bytes */
#define MIST_TOKEN_LEN 64          /* hex of 32 random bytes */

struct mist_challenge {
    char id[MIST_CHALLENGE_ID_LEN + 1];
    char device_id[MIST_ID_MAX + 1];
    char challenge[OCRA_QUESTION_MAX + 1];
    uint64_t issued, expires;
    bool used;
};

struct mist_lock {
    char device_id[MIST_ID_MAX + 1];
    unsigned failures;
    uint64_t locked_until;   /* 0: not locked */
};

struct mist_session {
    char token[MIST_TOKEN_LEN + 1];
    char device_id[MIST_ID_MAX + 1];
    uint64_t expires;
};

struct mist_auth {
    struct mist_challenge ch[MIST_AUTH_MAX];
    size_t n_ch;
    struct mist_lock locks[MIST_AUTH_MAX];
    size_t n_locks;
    struct mist_session sessions[MIST_AUTH_MAX];
    size_t n_sessions;
};

/* Random hex of n bytes (RAND_bytes) into out (2n+1). Returns 0 or -1. */
int mist_random_hex(size_t n, char *out);

/* Store a challenge for device (already made with ocra_make_challenge); writes its fresh id.
 * Returns 0 or -1 (no randomness). */
int mist_challenge_add(struct mist_auth *a, const char *device_id, const char *challenge, uint64_t now,
                       unsigned ttl, char id[MIST_CHALLENGE_ID_LEN + 1]);

enum mist_take { MIST_TAKE_OK, MIST_TAKE_UNKNOWN, MIST_TAKE_REPLAYED, MIST_TAKE_EXPIRED };
extern const char *const mist_take_error[];   /* "", "unknown-challenge", "replayed-challenge", "expired-challenge" */

/* Consume challenge `id` of device: OK copies its text into out (cap >= OCRA_QUESTION_MAX+1) and
 * marks it used. An id of another device is UNKNOWN. */
enum mist_take mist_challenge_take(struct mist_auth *a, const char *device_id, const char *id, uint64_t now,
                                   char *out, size_t cap);

/* Seconds the device stays locked (0: not locked). An expired lock is cleared (failures reset). */
unsigned mist_lock_remaining(struct mist_auth *a, const char *device_id, uint64_t now);
/* Count one failure; returns true when this failure locks the device. */
bool mist_lock_fail(struct mist_auth *a, const char *device_id, uint64_t now, unsigned max_failures,
                    unsigned lockout_seconds);
unsigned mist_lock_failures(const struct mist_auth *a, const char *device_id);
void mist_lock_success(struct mist_auth *a, const char *device_id);

/* New session for device; writes the token. Returns 0 or -1. */
int mist_session_new(struct mist_auth *a, const char *device_id, uint64_t now, unsigned ttl,
                     char token[MIST_TOKEN_LEN + 1]);
/* True when token (len bytes) is a live session of device_id (constant-time token comparison). */
bool mist_session_valid(struct mist_auth *a, const char *device_id, const char *token, size_t len, uint64_t now);

#endif
