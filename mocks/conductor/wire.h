/* The JSON bodies mock-conductor reads (pure parsers over a parsed body; see README.md), the bearer
 * header, and the session lookup over mock-mist's auth tables (mocks/mist/auth.h): the conductor keys
 * challenges, lockouts and sessions by the node identity "ROUTER.NODE". Every refusal is one line in
 * err; unknown members of a body are ignored (as mock-mist does). */
#ifndef COND_WIRE_H
#define COND_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "inventory.h"

#define CW_DETAIL_MAX 256

/* POST /v1/router/challenge {"router","node"} */
struct cw_challenge {
    const char *router, *node;
};
int cw_challenge_parse(json_t *body, struct cw_challenge *out, char *err, size_t cap);

/* POST /v1/router/auth {"challenge-id","router","node","mac"} */
struct cw_auth {
    const char *challenge_id, *router, *node, *mac;
    size_t mac_len;
};
int cw_auth_parse(json_t *body, struct cw_auth *out, char *err, size_t cap);

/* POST /v1/router/csr {"csr-pem"} */
struct cw_csr {
    const char *pem;
    size_t len;
};
int cw_csr_parse(json_t *body, struct cw_csr *out, char *err, size_t cap);

/* POST /v1/router/ack {"task", "result": "ok"|"failed", "detail"?} ("none" cannot be acked) */
struct cw_ack {
    enum cond_task task;
    bool ok;
    const char *detail;   /* may be NULL; at most CW_DETAIL_MAX bytes */
};
int cw_ack_parse(json_t *body, struct cw_ack *out, char *err, size_t cap);

/* "Bearer <token>" (scheme case-insensitive): 0 and the token, or -1. */
int cw_bearer(const char *header, const char **token, size_t *len);

/* The identity of the live session `token` (constant-time compare), or -1 (unknown or expired). */
int cw_session_identity(struct mist_auth *a, const char *token, size_t len, uint64_t now, char *out, size_t cap);

#endif
