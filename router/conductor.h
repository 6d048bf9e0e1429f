/* The router's conductor client (issue 6, steps 5-12 of the product doc): after sZTP reached
 * secret-stored, onboard to the STAGING conductor named by the Mist data, run its tasks (production
 * data, key pair + CSR, SVR configuration and hub peering, migrate), then connect to the PRODUCTION
 * conductor and stay connected (heartbeats). The wire is the issue-6 contract (mocks/conductor/README.md).
 *
 * Transport: HTTPS (https.h) through the ACTIVE MANAGEMENT PROXY like every management connection
 * (CONNECT A:930), the conductor's certificate verified against STATE/trust/root-ca.pem (staging) or
 * STATE/trust/production-ca.pem (production; with the router certificate as client certificate:
 * mutual TLS). The conductor address is "A[:PORT]" (PORT default 930); an IPv4 address is checked
 * against the certificate's IP SAN, a name against its DNS names.
 *
 * Authentication (common/include/ztp/psk.h): POST /v1/router/challenge {"router","node"} -> nonce;
 * POST /v1/router/auth {"challenge-id","router","node","mac"} with mac = psk_mac(client) -> session,
 * role, server-mac; the server-mac is checked (psk_mac(server), constant time) and the role must be the
 * one expected, before the session is used. The psk is unsealed from the TPM for the MACs only
 * (secrets/conductor-psk.seal for staging, secrets/production-psk.seal for production) and wiped.
 *
 * States (enum + name table + ONE transition function cond_set_state(), which logs
 *   event=conductor.state from=A to=B step=N why="..."
 * and persists STATE/conductor.json atomically):
 *
 *   state                   step  reached when
 *   idle                    5     sZTP not done yet
 *   staging-auth            5     sZTP secret-stored: authenticating to the staging conductor
 *   staging-connected       5     first session with the staging conductor
 *   production-received     6     task "production": trust/production-ca.pem installed (step 10),
 *                                 the production psk sealed to secrets/production-psk.seal (step 11)
 *   key-created             7     task "generate-key": EC P-256 key made, its 32-byte scalar sealed to
 *                                 secrets/router-key.seal
 *   certified               8     CSR signed: certs/router.pem + certs/conductor-ca.pem installed after
 *                                 pki_cert_check (chain, names, our key) and the conductor CA is trusted
 *                                 (it chains to trust/root-ca.pem or trust/production-ca.pem)
 *   svr-configured          9     task "svr-config": svr.json stored, hub peering started (svr.h)
 *   migrating               12    task "migrate" (acked to staging, then staging dropped) or
 *                                 `ssr-cli migrate conductor ADDR [ADDR]`
 *   production-connected    12    production session + task "none": onboarded
 *                                 (STATE/onboarding-state.json: the onboarding.json proxy stops applying)
 *
 * Allowed transitions (cond_transition_allowed): one step forward; to migrating from certified,
 * svr-configured or production-connected (migrate by hand); to idle from any state (the staging
 * conductor named by the Mist data changed before migration).
 *
 * Tasks are idempotent against the state, so a restart (or a lost answer) never repeats a step the
 * conductor would refuse and never loses what is stored: the session is in memory only, so a resumed
 * node authenticates again (no state change) and asks for its task; a task already done is re-acked
 * (production data re-installed, generate-key with a certificate already installed that still checks:
 * acked without a new CSR, also in key-created when the power went between installing it and saving
 * certified (its serial read from the certificate, logged result=already-installed recovered=yes);
 * with a sealed key but no certificate: a CSR for the SAME key). A task out
 * of order or naming another node is acked "failed" with the reason. A failure (class below) is kept
 * as last_error, logged (event=conductor.failed) and retried after phonehome_backoff_ms() (1 s
 * doubling to 30 s, minus up to 20 % jitter; ssr-node --retry-backoff MIN[,MAX]) or the server's
 * Retry-After when longer (capped at COND_RETRY_AFTER_MAX_MS; retry.h); files already written are
 * never removed. A request times out after COND_TIMEOUT_MS (--request-timeout); the staging
 * conductor is asked again for a task COND_TASK_POLL_MS after a "none" or a refused task (--task-poll).
 *
 * Failure classes: https_err_name() (proxy-refused, tls-failed, timeout, ...); the conductor's JSON
 * "error" (bad-secret, unknown-router, replayed-challenge, expired-challenge, unknown-challenge,
 * locked, csr-rejected, unauthorized, ...); local: server-mac-mismatch, wrong-role, bad-body,
 * bad-task, unseal-failed, seal-failed, install-failed, key-failed, cert-check-failed, unknown-ca,
 * no-production-data.
 *
 * Production: addresses tried in order (an HA conductor: a transport failure moves to the next one);
 * POST /v1/router/ack {"task":"heartbeat","result":"ok"} every COND_HEARTBEAT_MS once connected.
 *
 * Never logged or written outside the TPM-sealed files: the psks, the MACs, the session, the key.
 */
#ifndef SSR_CONDUCTOR_H
#define SSR_CONDUCTOR_H

#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "https.h"
#include "proxysel.h"
#include "retry.h"
#include "ztp/pki.h"
#include "ztp/psk.h"

#define COND_STATE_FILE "conductor.json"
#define COND_SVR_FILE "svr.json"
#define COND_STAGING_PSK_FILE "secrets/conductor-psk.seal"
#define COND_PROD_PSK_FILE "secrets/production-psk.seal"
#define COND_ROOT_CA_FILE "trust/root-ca.pem"
#define COND_PROD_CA_FILE "trust/production-ca.pem"
#define COND_KEY_FILE "secrets/router-key.seal"
#define COND_CERT_DIR "certs"
#define COND_CERT_FILE "certs/router.pem"
#define COND_CA_FILE "certs/conductor-ca.pem"
#define COND_DEFAULT_PORT 930
#define COND_MAX_ADDRS 4
#define COND_ADDR_MAX 80              /* "host:port" + NUL */
#define COND_NAME_MAX (PSK_NAME_MAX + 1)
#define COND_HISTORY_MAX 32
#define COND_HEARTBEAT_MS 5000u
#define COND_TASK_POLL_MS 2000u       /* staging answered "none": ask again */
#define COND_TIMEOUT_MS 15000u
#define COND_RETRY_AFTER_MAX_MS 120000u
#define COND_MIGRATE_ACK_TRIES 3      /* then staging is dropped anyway */
#define COND_SESSION_MAX 160
#define COND_SERIAL_MAX 48

enum cond_state {
    COND_IDLE = 0,
    COND_STAGING_AUTH,
    COND_STAGING_CONNECTED,
    COND_PRODUCTION_RECEIVED,
    COND_KEY_CREATED,
    COND_CERTIFIED,
    COND_SVR_CONFIGURED,
    COND_MIGRATING,
    COND_PRODUCTION_CONNECTED,
    COND__COUNT
};

/* ---- pure parts ---- */

const char *cond_state_name(enum cond_state s);
int cond_state_from_name(const char *name);  /* -1 when unknown */
unsigned cond_state_step(enum cond_state s); /* the product doc's step (5..12) */
bool cond_transition_allowed(enum cond_state from, enum cond_state to);

/* "A[:PORT]": a DNS name or dotted-quad IPv4 (http_host_valid) and a port 1..65535 (default 930). */
int cond_addr_parse(const char *s, char *host, size_t hostcap, uint16_t *port);

struct cond_addrs {
    char a[COND_MAX_ADDRS][COND_ADDR_MAX];
    size_t n;
};

struct svr_config {
    char hub[COND_ADDR_MAX];      /* "IPv4:PORT" */
    char hub_name[COND_NAME_MAX];
    char router[COND_NAME_MAX], node[COND_NAME_MAX];
    char identity[PKI_IDENTITY_MAX];
};

struct cond_hist {
    enum cond_state from, to;
    time_t at;
    char why[64];
};

struct cond_error {
    bool set;
    enum cond_state state;
    char klass[32];
    char message[256];
    int status;
    unsigned retry_after_s;
    char conductor[COND_ADDR_MAX];
    time_t at;
};

/* What conductor.json holds (no secret). */
struct cond_persist {
    enum cond_state state;
    char router[COND_NAME_MAX], node[COND_NAME_MAX];
    char staging[COND_ADDR_MAX];          /* from the Mist data */
    struct cond_addrs production;         /* from the "production" task */
    struct cond_addrs target;             /* where to migrate (migrate task, or by hand) */
    char migrated_by[16];                 /* "conductor" | "cli" | "" */
    bool staging_acked;                   /* the migrate task was acked (or not needed) */
    char connected[COND_ADDR_MAX];        /* the production conductor connected to ("" when none) */
    char serial[COND_SERIAL_MAX];         /* the router certificate's serial */
    bool have_svr;
    struct svr_config svr;
    struct cond_hist hist[COND_HISTORY_MAX];
    size_t n_hist;
    struct cond_error last_error;
    unsigned attempts_total, failures_total;
};

json_t *cond_persist_to_json(const struct cond_persist *p);
int cond_persist_parse(const char *buf, size_t len, struct cond_persist *p, char *err, size_t errcap);

/* Response bodies (JSON objects). Each returns 0 or -1 with one line in err. */
struct cond_challenge {
    char id[80];                  /* printable token */
    char nonce[PSK_NONCE_HEX + 1];
    unsigned expires_in;
};
int cond_parse_challenge(const char *buf, size_t len, struct cond_challenge *c, char *err, size_t errcap);

struct cond_auth {
    char session[COND_SESSION_MAX];
    char role[16];                /* "staging" | "production" */
    char server_mac[PSK_MAC_HEX + 1];
    unsigned expires_in;
};
int cond_parse_auth(const char *buf, size_t len, struct cond_auth *a, char *err, size_t errcap);

enum cond_task_kind { TASK_NONE = 0, TASK_PRODUCTION, TASK_GENERATE_KEY, TASK_SVR_CONFIG, TASK_MIGRATE, TASK_UNKNOWN };
struct cond_task {
    enum cond_task_kind kind;
    char name[32];                /* the "task" string (printable; truncated for unknown ones) */
    struct cond_addrs conductors; /* production, migrate */
    char psk[PSK_SECRET_MAX + 1]; /* production: SECRET */
    size_t psk_len;
    char *root_ca_pem;            /* production: malloc'd */
    char key_type[32];            /* generate-key */
    char identity[PKI_IDENTITY_MAX];
    struct svr_config svr;        /* svr-config */
};
/* A task body. Known tasks are checked strictly (required members, types, sizes, PEM text, addresses);
 * an unknown "task" name is TASK_UNKNOWN (not an error). */
int cond_parse_task(const char *buf, size_t len, struct cond_task *t, char *err, size_t errcap);
void cond_task_clear(struct cond_task *t); /* wipes the psk, frees the PEM */
const char *cond_task_kind_name(enum cond_task_kind k);

/* POST /v1/router/csr answer: {"certificate-pem","ca-pem","serial"}; the PEMs malloc'd. */
int cond_parse_csr_answer(const char *buf, size_t len, char **cert_pem, char **ca_pem, char *serial, size_t serialcap,
                          char *err, size_t errcap);
/* POST /v1/router/ack answer: {"next": T} (T a string or null; "" when absent). */
int cond_parse_ack_answer(const char *buf, size_t len, char *next, size_t cap, char *err, size_t errcap);
/* The "error" and "detail" members of an error body (printable; "" when none). */
void cond_body_error(const char *buf, size_t len, char *error, size_t ecap, char *detail, size_t dcap);

/* ---- the client ---- */

enum cond_op { COND_OP_NONE = 0, COND_OP_CHALLENGE, COND_OP_AUTH, COND_OP_TASK, COND_OP_CSR, COND_OP_ACK,
               COND_OP_HEARTBEAT };
enum cond_role { COND_ROLE_NONE = 0, COND_ROLE_STAGING, COND_ROLE_PRODUCTION };

struct sztp;
struct svr_peer;

/* Called once the node reached production-connected (to switch the onboarding.json proxy off). */
typedef void (*cond_connected_fn)(void *arg, const char *conductor);

/* Lab fault switches (ssr-node --conductor-fault NAME; an unknown NAME is a usage error):
 *   csr-other-router   the CSR names router "<router>-other" instead of this node's router, as a
 *                      device trying to get a certificate for someone else would: the staging
 *                      conductor must refuse it (422 csr-rejected) and nothing may be installed. */
enum cond_fault { COND_FAULT_NONE = 0, COND_FAULT_CSR_OTHER_ROUTER, COND_FAULT__COUNT };
const char *cond_fault_name(enum cond_fault f);
/* The fault for a name, or -1. */
int cond_fault_from_name(const char *name);

struct conductor {
    bool enabled;
    char state_dir[PATH_MAX];
    char identity[PKI_IDENTITY_MAX];
    struct sztp *sz;              /* the sZTP client: its state, its Mist data, its TPM */
    const struct router_config *cfg;
    const struct active_proxy *active;
    int epfd;
    bool started;
    cond_connected_fn on_connected;
    void *cb_arg;
    unsigned timeout_ms;          /* per request (ssr-node --request-timeout) */
    unsigned task_poll_ms;        /* staging answered "none" or a refused task: ask again (--task-poll) */

    struct cond_persist p;        /* p.state is THE state */

    enum cond_op op;
    struct https_client *cur;
    char cur_proxy[24], cur_addr[COND_ADDR_MAX];
    struct retry retry;           /* consecutive failures, backoff (retry.h) */
    uint64_t next_poll_ms;        /* task poll / heartbeat due */

    enum cond_role sess_role;     /* the session's role (none: no session) */
    enum cond_role auth_role;     /* the role of the challenge/auth under way */
    bool task_polled;             /* production: GET task answered in this session */
    char session[COND_SESSION_MAX];
    char challenge_id[80];
    char expect_server_mac[PSK_MAC_HEX + 1];
    size_t addr_idx;              /* production: which address of the target list */
    time_t session_since;

    bool ack_pending;             /* an /ack to send before anything else */
    char ack_task[32], ack_result[8], ack_detail[200];
    bool ack_is_migrate;
    unsigned migrate_ack_failures;
    bool waiting_hub;             /* svr-config: acked once the hub answered */
    bool force_csr;               /* the conductor knows no certificate of ours: send a CSR again */
    unsigned session_lost_streak; /* 401s on a session since the last request that went through */
    enum cond_fault fault;        /* lab fault switch */

    EVP_PKEY *key;                /* the router key (unsealed), in memory only */
    struct svr_peer *hub;
    char cert_subject[256], cert_not_after[32];

    unsigned heartbeats, heartbeat_failures;
    time_t last_heartbeat_at, connected_at;
};

void conductor_init(struct conductor *c, const struct router_config *cfg, const struct active_proxy *active,
                    struct sztp *sz);
/* Enable (a node with --sztp): load STATE_DIR/conductor.json (a missing file is a fresh start, a
 * corrupt one an error). router/node name the node. Returns 0 or -1 with one line in err. */
int conductor_configure(struct conductor *c, const char *state_dir, const char *router, const char *node, char *err,
                        size_t errcap);
void conductor_set_callback(struct conductor *c, cond_connected_fn fn, void *arg);
void conductor_set_fault(struct conductor *c, enum cond_fault f);
/* Timers (before conductor_start; 0 keeps the default): the per-request timeout, the backoff's
 * base and cap, the task poll (ms). */
void conductor_set_timers(struct conductor *c, unsigned timeout_ms, unsigned backoff_base_ms, unsigned backoff_max_ms,
                          unsigned task_poll_ms);
void conductor_start(struct conductor *c, int epfd, uint64_t now_ms);
void conductor_proxy_changed(struct conductor *c, uint64_t now_ms);
void conductor_tick(struct conductor *c, uint64_t now_ms);
int conductor_next_timeout_ms(const struct conductor *c, uint64_t now_ms);
void conductor_stop(struct conductor *c);
/* `ssr-cli migrate conductor ADDR [ADDR]`: re-target to these addresses (tried in order) with the
 * production secret, CA and the router certificate. Needs state certified or later. Returns 0, or
 * -1 with the reason in err (nothing changed). */
int conductor_migrate(struct conductor *c, const char *const *addrs, size_t n, uint64_t now_ms, char *err,
                      size_t errcap);

/* `show conductor`, and the "conductor" part of `show onboarding`. */
json_t *conductor_json(const struct conductor *c, uint64_t now_ms);

#endif
