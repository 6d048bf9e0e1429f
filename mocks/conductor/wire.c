/* See wire.h. */
#include "wire.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mistjson.h"
#include "ztp/psk.h"
#include "ztp/util.h"

static int names(json_t *body, const char **router, const char **node, char *err, size_t cap)
{
    if (mj_string(body, "router", true, "body", router, err, cap) < 0 ||
        mj_string(body, "node", true, "body", node, err, cap) < 0)
        return -1;
    if (!psk_name_ok(*router) || !psk_name_ok(*node))
        return errf(err, cap, "body: \"router\" and \"node\" are 1..%d of [A-Za-z0-9._-]", PSK_NAME_MAX);
    return 0;
}

int cw_challenge_parse(json_t *body, struct cw_challenge *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return errf(err, cap, "body: a JSON object is required");
    return names(body, &out->router, &out->node, err, cap);
}

int cw_auth_parse(json_t *body, struct cw_auth *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return errf(err, cap, "body: a JSON object is required");
    if (mj_string(body, "challenge-id", true, "body", &out->challenge_id, err, cap) < 0 ||
        names(body, &out->router, &out->node, err, cap) < 0 ||
        mj_string(body, "mac", true, "body", &out->mac, err, cap) < 0)
        return -1;
    size_t l = strlen(out->challenge_id);
    if (l != MIST_CHALLENGE_ID_LEN || strspn(out->challenge_id, "0123456789abcdef") != l)
        return errf(err, cap, "body: \"challenge-id\" is %d lower-case hex digits", MIST_CHALLENGE_ID_LEN);
    out->mac_len = strlen(out->mac);
    return 0;
}

int cw_csr_parse(json_t *body, struct cw_csr *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return errf(err, cap, "body: a JSON object is required");
    if (mj_string(body, "csr-pem", true, "body", &out->pem, err, cap) < 0)
        return -1;
    out->len = strlen(out->pem);
    if (out->len == 0)
        return errf(err, cap, "body: \"csr-pem\" is empty");
    return 0;
}

int cw_ack_parse(json_t *body, struct cw_ack *out, char *err, size_t cap)
{
    const char *task, *result;
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return errf(err, cap, "body: a JSON object is required");
    if (mj_string(body, "task", true, "body", &task, err, cap) < 0 ||
        mj_string(body, "result", true, "body", &result, err, cap) < 0 ||
        mj_string(body, "detail", false, "body", &out->detail, err, cap) < 0)
        return -1;
    if (cond_task_parse(task, &out->task) < 0 || out->task == TASK_NONE)
        return errf(err, cap, "body: \"task\" must be production, generate-key, svr-config, migrate or heartbeat");
    if (strcmp(result, "ok") == 0)
        out->ok = true;
    else if (strcmp(result, "failed") != 0)
        return errf(err, cap, "body: \"result\" must be \"ok\" or \"failed\"");
    if (out->detail && strlen(out->detail) > CW_DETAIL_MAX)
        return errf(err, cap, "body: \"detail\" is longer than %d bytes", CW_DETAIL_MAX);
    return 0;
}

int cw_bearer(const char *h, const char **token, size_t *len)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ')
        n--;
    if (n == 0)
        return -1;
    *token = h;
    *len = n;
    return 0;
}

int cw_session_identity(struct mist_auth *a, const char *token, size_t len, uint64_t now, char *out, size_t cap)
{
    if (len != MIST_TOKEN_LEN)
        return -1;
    for (size_t i = 0; i < a->n_sessions; i++) {
        const struct mist_session *s = &a->sessions[i];
        if (CRYPTO_memcmp(s->token, token, MIST_TOKEN_LEN) != 0)
            continue;
        /* found: the expiry check is mock-mist's own */
        if (!mist_session_valid(a, s->device_id, token, len, now))
            return -1;
        int n = snprintf(out, cap, "%s", s->device_id);
        return n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    return -1;
}
