/* Expectations: what a scenario states, checked against the running lab.
 *
 * Sources of truth: ssr-node's control socket (`show management-proxy`, `show dhcp learned-proxies`,
 * `show onboarding`, the same JSON as `ssr-cli --json`), the router node's state directory (what
 * sZTP stored in trust/ and secrets/), the proxies' access logs (Squid's native format, which
 * mock-proxy writes too; tinyproxy's own log), the components' logs, the run's sockets (a direct TCP
 * connect from a router node's namespace), the swtpm of each router node.
 *
 * The conductors' `inventory` and the hub's `peered` read their --state files (JSON, written
 * atomically by the mock on every change). A node's `certificate: valid` is checked here with OpenSSL
 * (lab/expect.c: eval_certificate): STATE/certs/router.pem chains to the conductor signing CA and on
 * to the conductor root CA (`openssl verify -CAfile conductor-ca.pem -untrusted
 * conductor-signing-ca.pem` semantics, its issuer being the signing CA), is valid now, names
 * ROUTER.NODE (CN and SAN URI ssr://ROUTER/NODE), carries an EC P-256 key, is the certificate the
 * staging conductor issued to that node (its serial is the inventory's), and its public key is the
 * one the node made (when the node logs it: event=conductor.key pubkey_sha256=).
 *
 * `phone-home` and `failure-reason` read the node's sZTP state (`show onboarding`): phone-home ok =
 * the node got past phoning-home (redirected or later); failed = it is not past it and its last
 * error happened while phoning home.
 *
 * `carried` counts tunnels to a Mist name (any name of an ep-terminator or mist host) that carried
 * data (see EXP_TUNNEL_MIN_BYTES).
 * `carried` and `denied` look at the tunnels STARTED during the step (from the end of the previous
 * step's checks; the first step: from the start): a Squid-format line carries its end time and
 * duration, and a tunnel is logged when it closes, which can be just after the step that opened it
 * ended (tinyproxy's log has no durations: its lines count by where they are in the file).
 *
 * Each expectation of a step is polled (every EXP_POLL_MS) until it holds or the run's deadline;
 * once all hold they are checked once more together, so the step's state is one consistent
 * picture. Expectations about absence (not-logged, no-secrets, internet-direct) are checked once,
 * after the others held (or gave up).
 */
#ifndef LAB_EXPECT_H
#define LAB_EXPECT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "scenario.h"

#define EXP_POLL_MS 20
#define EXP_DIRECT_TIMEOUT_MS 250
#define EXP_MAX_ADDRS 16
/* A tunnel "carried traffic" when it sent the client more than the proxy's own 200 answer (39
 * bytes; Squid counts a little differently): an attempt abandoned right after the 200 does not. */
#define EXP_TUNNEL_MIN_BYTES 100

struct topo;

/* What the expectations need to know about one host of the run. */
struct exp_host {
    const struct scn_host *h;
    char log[PATH_MAX];           /* logs/HOST.log */
    char ctl[108];                /* ssr-node control socket */
    char access_log[PATH_MAX];    /* proxy: its access log ("" = none) */
    long access_from;             /* tinyproxy: carried/denied count lines from this offset: the step's start */
    double access_since;          /* Squid format: tunnels started at or after this time (epoch s; 0 = all) */
    char tpm_sock[108];           /* ssr-node: its swtpm's socket (control channel: tpm_sock + ".ctrl") */
    bool tpm_ok;                  /* swtpm answered TPM2_Startup at start */
    bool manufactured;            /* ssr-tpm provisioned its OCRA key */
    char state_dir[PATH_MAX];     /* ssr-node: its --state-dir */
    char state_file[PATH_MAX];    /* conductor, hub: its --state file */
    char addrs[EXP_MAX_ADDRS][16];/* its IPv4 addresses (ssr-node: refreshed from its namespace) */
    size_t n_addrs;
};

struct exp_ctx {
    const struct scenario *s;
    struct exp_host *hosts;
    size_t n_hosts;
    const char *artifacts;        /* the scenario's artifact dir */
    struct topo *topo;
    bool unprivileged;            /* in the lab's user namespace: tcpdump cannot run (decoded: skipped) */
    const char *const *secrets;   /* what the run generated (OCRA keys, pre-shared secrets), besides s->secrets */
    size_t n_secrets;
    const char *summary_text;     /* no-secrets also looks in this text (summary.json before it is written) */
    const char *pki;              /* the run's pki/ (certificate: the conductor CAs) */
};

/* The state of one expectation during a run, and its outcome. */
struct exp_state {
    const struct scn_expect *x;
    char name[160];               /* "r1a active-proxy" */
    char want[512];
    char got[1024];
    bool pass;
    bool skipped;                 /* cannot be checked in this mode (got says why); not a failure */
    bool final;                   /* decided (absence checks, or gave up) */
    double at;                    /* seconds after the run's start when it last changed to pass */
    const char *fault_host;       /* whose log to show on failure */
    /* internet-direct: the connects under way */
    int fds[8];
    char targets[8][24];
    size_t n_fds;
    double started;
};

/* Fill st->name/want for x. */
void exp_describe(const struct scn_expect *x, struct exp_state *st);
/* Evaluate once (st->pass, st->got). Absence checks are evaluated too; callers decide when. */
void exp_eval(struct exp_ctx *c, struct exp_state *st, double now_rel);
/* True for the checks that run once after the others (absence). */
bool exp_is_absence(const struct scn_expect *x);
/* Release what exp_eval holds (internet-direct sockets). */
void exp_release(struct exp_state *st);

/* ---- the sources, usable on their own (pure where possible) ---------------------------------- */

/* One request on an ssr-node control socket: {"cmd":"show","what":WHAT}. Returns the answer
 * object (json_decref it) or NULL with err. Bounded by timeout_ms. */
json_t *exp_ctl_show(const char *sock, const char *what, unsigned timeout_ms, char *err, size_t errlen);

/* A proxy access-log record. */
struct access_rec {
    double end;                   /* epoch seconds the transaction ended (Squid's time field), 0 unknown */
    long long elapsed_ms;         /* its duration */
    char client[16];              /* client IPv4 */
    char code[32];                /* "TCP_TUNNEL", "TCP_DENIED", "NONE_NONE" */
    int status;                   /* HTTP status */
    unsigned long long bytes;     /* bytes sent to the client */
    char method[16];
    char url[256];                /* "host:port" for CONNECT */
    char user[64];                /* "-" when none */
};
/* Parse one line of Squid's native access log:
 *   time elapsed client code/status bytes method URL user hierarchy/peer type
 * e.g. "1795392001.123    211 198.18.1.100 TCP_TUNNEL/200 4321 CONNECT ep-terminator.mistsys.net:443 - HIER_DIRECT/198.18.100.10 -".
 * Returns 0, or -1 when the line is not one. Pure. */
int exp_squid_parse(const char *line, size_t len, struct access_rec *out);
/* Tinyproxy's log as records (CONNECT requests with their outcome): feed lines in order. */
struct tinyproxy_state {
    struct {
        int fd;
        char client[16];
        char url[256];
    } conns[64];
};
int exp_tinyproxy_feed(struct tinyproxy_state *ts, const char *line, struct access_rec *out);

/* The value of key in a logfmt line into dst (unquoted, escapes kept as written), or NULL. Pure. */
const char *exp_logfmt_get(const char *line, const char *key, char *dst, size_t cap);

/* certificate: valid, on its own: the checks above of the certificate text against the signing CA
 * chain (signing CA first, then the root) and the root; want_serial (upper-case hex) and
 * want_pubkey_sha256 (hex SHA-256 of the SubjectPublicKeyInfo DER) are compared when not NULL.
 * Returns 0, or -1 with what failed in why. */
int exp_cert_check(const char *cert_pem, size_t cert_len, const char *chain_pem, size_t chain_len, const char *root_pem,
                   size_t root_len, const char *router, const char *node, const char *want_serial,
                   const char *want_pubkey_sha256, char *why, size_t cap);

/* The IPv4 addresses of a host's namespace (SIOCGIFCONF on a socket made in it), lo excluded. */
int exp_host_addrs(struct topo *t, struct exp_host *h);

#endif
