/* The router's secure zero-touch provisioning (sZTP) client: phone home to the Mist EP terminator
 * through the active management proxy, follow its redirect to the org cloud, authenticate with
 * OCRA (RFC 6287, mutual mode) computed IN THE TPM, fetch the onboarding data, install the root CA
 * and seal the conductor's pre-shared secret to the TPM.
 *
 * Off unless ssr-node is started with --sztp (then the simple phone-home GET of phonehome.h is not
 * used). Needs --state-dir, --device-id and --tpm; --phone-home-url gives the EP terminator (default
 * https://ep-terminator.mistsys.net/v1/phone-home; a URL whose path is "/" gets /v1/phone-home),
 * --mist-ca the Mist root CA every server certificate is verified against.
 *
 * States (enum + name table + ONE transition function sztp_set_state(), which logs
 *   event=sztp.state from=A to=B step=N why="..."
 * with N the step number of the product doc, and persists STATE_DIR/sztp.json atomically):
 *
 *   state                 step  reached when
 *   init                  0     nothing done yet
 *   proxy-ready           1     an active management proxy exists
 *   phoning-home          2     POST /v1/phone-home {device-id} is being sent (retried until 307)
 *   redirected            3     307 + {"redirect": URL}: the org cloud is known (persisted)
 *   authenticated         4     challenge -> OCRA response (TPM) -> session, server's response verified
 *   onboarding-received   5     GET {redirect}/onboarding with the session
 *   root-ca-installed     5     the root CA PEM is in STATE_DIR/trust/root-ca.pem (0644, atomic)
 *   secret-stored         5     the psk is sealed in STATE_DIR/secrets/conductor-psk.seal: done
 *
 * Allowed transitions (sztp_transition_allowed): one step forward; back to redirected from
 * authenticated/onboarding-received/root-ca-installed (the session or the in-memory onboarding data
 * is gone: a restart, a 401 unauthorized); back to phoning-home from redirected (the cloud does not
 * know the device); anything -> init only when the device id changed.
 *
 * Resume: sztp.json is loaded at start; the node continues from the last completed step. The
 * session token and the psk are never written outside the TPM-sealed file, so a node restarted in
 * authenticated..root-ca-installed authenticates again (-> redirected) without phoning home again;
 * a node restarted in secret-stored sends nothing. Files already written are never removed.
 *
 * Failures (class = https_err_name(): proxy-refused, tls-failed, ...; or the server's JSON "error":
 * unclaimed, bad-response, replayed-challenge, locked, unauthorized, ...; or local: tpm, ocra,
 * server-response-mismatch, bad-body, install-failed, seal-failed) are kept as last_error and logged
 * (event=sztp.failed), and the step is retried after phonehome_backoff_ms() (1 s doubling to 30 s,
 * minus up to 20 % jitter; ssr-node --retry-backoff MIN[,MAX]), or after the server's Retry-After
 * (404 unclaimed, 423 locked) when longer, capped at SZTP_RETRY_AFTER_MAX_MS (retry.h). A request
 * not complete within SZTP_TIMEOUT_MS (ssr-node --request-timeout) fails with class timeout.
 *
 * Re-check (event sztp.recheck): when the active management proxy changes while the node is in
 * secret-stored, and the new proxy is not the one that carried the last successful exchange (kept
 * in sztp.json as "proxy"; also checked at start), the node phones home once more (POST
 * /v1/phone-home) through the NEW proxy and logs
 *   event=sztp.recheck result=ok proxy=A:P redirect=same|moved
 * The state does not change. A failure is logged as `sztp.recheck result=failed class=...` (not
 * as last_error) and retried with the usual backoff until one succeeds through that proxy. This
 * keeps "new connections use the new proxy" observable (the new proxy's access log).
 *
 * Lab fault switch (ssr-node --sztp-fault NAME; an unknown NAME is a usage error):
 *   replay-response  once the node's real OCRA response was accepted (session obtained), it
 *                    replays the identical POST .../response (same challenge id, same response,
 *                    as an eavesdropper who captured it would) and checks the cloud's verdict:
 *                    401 replayed-challenge -> `event=sztp.replay result=refused status=401
 *                    reason=replayed-challenge`; 200 -> `level=error event=sztp.replay
 *                    result=accepted` and last_error class replay-accepted. Either way the node
 *                    carries on with its real session.
 *
 * Secrets never logged: OCRA responses, session token, psk, challenge texts.
 */
#ifndef SSR_SZTP_H
#define SSR_SZTP_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "https.h"
#include "ztp/ocra.h"
#include "proxysel.h"
#include "retry.h"

#define SZTP_STATE_FILE "sztp.json"
#define SZTP_CA_DIR "trust"
#define SZTP_CA_FILE "trust/root-ca.pem"
#define SZTP_SECRET_DIR "secrets"
#define SZTP_SECRET_FILE "secrets/conductor-psk.seal"
#define SZTP_DEFAULT_URL "https://ep-terminator.mistsys.net/v1/phone-home"
#define SZTP_DEVICE_ID_MAX 65
#define SZTP_URL_MAX (HTTPS_HOST_MAX + HTTPS_PATH_MAX + 16)
#define SZTP_HISTORY_MAX 32
#define SZTP_RETRY_AFTER_MAX_MS 120000u
#define SZTP_TIMEOUT_MS 15000u

enum sztp_state {
    SZTP_INIT = 0,
    SZTP_PROXY_READY,
    SZTP_PHONING_HOME,
    SZTP_REDIRECTED,
    SZTP_AUTHENTICATED,
    SZTP_ONBOARDING_RECEIVED,
    SZTP_ROOT_CA_INSTALLED,
    SZTP_SECRET_STORED,
    SZTP__COUNT
};

/* ---- pure parts ---- */

const char *sztp_state_name(enum sztp_state s);
/* The state for a name, or -1. */
int sztp_state_from_name(const char *name);
/* The product doc's step number of a state (0..5). */
unsigned sztp_state_step(enum sztp_state s);
bool sztp_transition_allowed(enum sztp_state from, enum sztp_state to);

struct sztp_hist {
    enum sztp_state from, to;
    time_t at;
    char why[64];
};

struct sztp_error {
    bool set;
    enum sztp_state state;        /* the state the failure happened in */
    char klass[32];
    char message[256];
    int status;                   /* HTTP status, 0 when none */
    unsigned retry_after_s;       /* the server's Retry-After, 0 when none */
    time_t at;
};

/* What sztp.json holds (no secret). */
struct sztp_persist {
    char device_id[SZTP_DEVICE_ID_MAX];
    enum sztp_state state;
    char redirect[SZTP_URL_MAX];  /* "" before redirected */
    char environment[64], org[64], site[64], conductor[64];
    bool root_ca;                 /* the onboarding data had a root CA (installed when >= root-ca-installed) */
    struct sztp_hist hist[SZTP_HISTORY_MAX];
    size_t n_hist;
    struct sztp_error last_error;
    unsigned attempts_total, failures_total;
    char proxy[24];               /* "A:P" that carried the last successful exchange, "" when none */
};

/* Serialize; never fails (out of memory is fatal). */
json_t *sztp_persist_to_json(const struct sztp_persist *p);
/* Parse a sztp.json text (not NUL-terminated). Returns 0 or -1 with one line in err. */
int sztp_persist_parse(const char *buf, size_t len, struct sztp_persist *p, char *err, size_t errcap);

/* Response bodies (JSON objects; each returns 0 or -1 with one line in err). */
int sztp_parse_redirect(const char *buf, size_t len, char *redirect, size_t cap, char *env, size_t envcap, char *org,
                        size_t orgcap, char *err, size_t errcap);
struct sztp_challenge {
    char challenge[OCRA_QUESTION_MAX + 1];
    char suite[OCRA_SUITE_MAX + 1];
    char id[80];
};
int sztp_parse_challenge(const char *buf, size_t len, struct sztp_challenge *c, char *err, size_t errcap);
/* {"session": "...", "server-response": "..."?} */
int sztp_parse_session(const char *buf, size_t len, char *session, size_t scap, char *server_resp, size_t rcap,
                       char *err, size_t errcap);
struct sztp_onboarding {
    char conductor[64], org[64], site[64];
    char psk[129];                /* SEALED_MAX + NUL */
    size_t psk_len;
    char *root_ca_pem;            /* malloc'd, NULL when none */
};
int sztp_parse_onboarding(const char *buf, size_t len, struct sztp_onboarding *o, char *err, size_t errcap);
void sztp_onboarding_clear(struct sztp_onboarding *o);  /* wipes the psk, frees the PEM */
/* The "error" member of a JSON error body into dst ("" when none). */
void sztp_body_error(const char *buf, size_t len, char *dst, size_t cap);

/* ---- the client ---- */

enum sztp_op {
    SZTP_OP_NONE = 0,
    SZTP_OP_PHONE_HOME,
    SZTP_OP_CHALLENGE,
    SZTP_OP_RESPONSE,
    SZTP_OP_ONBOARDING,
    SZTP_OP_REPLAY,               /* the replay-response fault */
    SZTP_OP_RECHECK,              /* phone home again through a new proxy (secret-stored) */
};

/* Lab fault switches (ssr-node --sztp-fault). */
enum sztp_fault { SZTP_FAULT_NONE = 0, SZTP_FAULT_REPLAY_RESPONSE, SZTP_FAULT__COUNT };
/* "none", "replay-response" */
const char *sztp_fault_name(enum sztp_fault f);
/* The fault for a name, or -1 ("none" is SZTP_FAULT_NONE). */
int sztp_fault_from_name(const char *name);

/* The re-check after a proxy change (see the top of this file). */
struct sztp_recheck {
    bool pending;                 /* a re-check through `proxy` is due (or under way) */
    char proxy[24];               /* the proxy it is for */
    unsigned attempts, failures;  /* for the current proxy */
    unsigned ok_total, failed_total;
    bool have_last;
    bool last_ok;
    char last_proxy[24];
    char last_class[32];          /* "" when ok */
    char last_redirect[8];        /* "same" | "moved" when ok */
    time_t last_at;
};

struct tpm;

struct sztp {
    bool enabled;
    char state_dir[PATH_MAX];
    char tpm_conf[PATH_MAX];
    char url[SZTP_URL_MAX];       /* the EP terminator's phone-home URL */
    struct https_url u;
    char ca_file[PATH_MAX];       /* "" = system store */
    unsigned timeout_ms;          /* per request (ssr-node --request-timeout) */

    const struct router_config *cfg;
    const struct active_proxy *active;
    int epfd;
    bool started;

    struct sztp_persist p;        /* p.state is THE state */
    enum sztp_op op;              /* request under way */
    struct https_client *cur;
    char cur_proxy[24];
    struct retry retry;           /* consecutive failures, backoff (retry.h) */

    struct tpm *tpm;
    struct sztp_challenge ch;     /* the challenge being answered */
    char client_challenge[OCRA_QUESTION_MAX + 1];
    char session[160];            /* in memory only */
    bool have_ob;
    struct sztp_onboarding ob;    /* in memory only */

    enum sztp_fault fault;
    bool replay_done;             /* the replay-response fault fired (once per process) */
    char *replay_url, *replay_body;  /* the captured request (malloc'd, wiped after use) */
    struct sztp_recheck recheck;
};

void sztp_init(struct sztp *z, const struct router_config *cfg, const struct active_proxy *active);
/* Enable: check the arguments and load STATE_DIR/sztp.json (a missing file is a fresh start; an
 * unreadable or corrupt one is an error). Returns 0 or -1 with one line in err. */
int sztp_configure(struct sztp *z, const char *state_dir, const char *device_id, const char *tpm_conf,
                   const char *url, const char *ca_file, char *err, size_t errcap);
/* Timers (before sztp_start; 0 keeps the default): the per-request timeout and the backoff's
 * base and cap (ms). */
void sztp_set_timers(struct sztp *z, unsigned timeout_ms, unsigned backoff_base_ms, unsigned backoff_max_ms);
/* Arm a lab fault switch (before sztp_start). */
void sztp_set_fault(struct sztp *z, enum sztp_fault f);
void sztp_start(struct sztp *z, int epfd, uint64_t now_ms);
void sztp_proxy_changed(struct sztp *z, uint64_t now_ms);
void sztp_network_changed(struct sztp *z, uint64_t now_ms);
void sztp_tick(struct sztp *z, uint64_t now_ms);
int sztp_next_timeout_ms(const struct sztp *z, uint64_t now_ms);
/* The node's TPM (opened on first use; libtpms allows one per process, so the conductor client
 * borrows this one). Returns it, or NULL with a message in err. */
struct tpm *sztp_tpm(struct sztp *z, char *err, size_t errcap);
/* Abandon a request under way and close the TPM (daemon stop). */
void sztp_stop(struct sztp *z);

/* The "onboarding" object of `show onboarding` (see ctl.h). */
json_t *sztp_json(const struct sztp *z, uint64_t now_ms);

#endif
