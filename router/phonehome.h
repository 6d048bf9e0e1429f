/* Phone-home: the node reaches the Mist EP terminator over HTTPS through the active management
 * proxy (https.h). Until the Mist mocks exist (issue 5) it goes as far as one GET of the URL and
 * a verified TLS session; issue 5 adds the claim/redirect and OCRA exchanges on top.
 *
 * Off unless ssr-node is started with --phone-home-url URL (e.g. https://ep-terminator.mistsys.net/).
 * --mist-ca FILE is the Mist root CA the server certificate is verified against (default: the
 * system's CA store, which does not hold the lab's root: verification then fails, as it should).
 *
 * States (enum + name table + one transition function, event=phonehome.state from=A to=B):
 *   off                 not configured, or not started yet
 *   waiting-for-proxy   no active management proxy
 *   attempting          a GET is under way through the proxy
 *   backoff             the last attempt failed; the next one is due at next_retry
 *   ok                  reached: stops (until the active proxy changes)
 *
 * When the active proxy changes (a proxy becomes active, a renewal or the HA peer changes it, the
 * mode changes) an attempt under way is abandoned and a new one starts at once through the new
 * proxy, with a fresh backoff; when no proxy is left it waits. Failures are retried with capped
 * exponential backoff and jitter: 1 s, 2 s, 4 s, ... at most 30 s, each minus up to 20 %.
 *
 * Events: phonehome.attempt (attempt, url, proxy, auth=basic user=U | none), phonehome.ok (status,
 * proxy, TLS peer subject and issuer, version, ms), phonehome.failed (class, error, proxy_status,
 * proxy_reason, squid_error, retry_in_ms). A reply with a status >= 400 from the server is a
 * failure of class http-error.
 */
#ifndef SSR_PHONEHOME_H
#define SSR_PHONEHOME_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "https.h"
#include "proxysel.h"

#define PH_BACKOFF_BASE_MS 1000u
#define PH_BACKOFF_MAX_MS 30000u
#define PH_TIMEOUT_MS 15000u
#define PH_URL_MAX (HTTPS_HOST_MAX + HTTPS_PATH_MAX + 16)

enum ph_state { PH_OFF = 0, PH_WAITING, PH_ATTEMPTING, PH_BACKOFF, PH_OK, PH__COUNT };
/* "off", "waiting-for-proxy", "attempting", "backoff", "ok" */
const char *ph_state_name(enum ph_state s);

struct ph_result {
    bool ok;
    char klass[24];               /* https_err_name(), or "http-error" for a status >= 400 */
    char message[384];
    unsigned attempt;             /* which attempt of its round */
    char proxy[24];               /* the proxy the attempt went through */
    int status;                   /* the server's status, 0 when none */
    char reason[96];
    int proxy_status;             /* the proxy's answer to CONNECT, 0 when none */
    char proxy_reason[96];
    char squid_error[96];
    char tls_version[16];
    char peer_subject[256];
    char peer_issuer[256];
    uint64_t elapsed_ms;
    time_t at;
};

struct phonehome {
    bool enabled;                 /* --phone-home-url given */
    char url[PH_URL_MAX];
    struct https_url u;
    char ca_file[PATH_MAX];       /* "" = the system store */
    unsigned timeout_ms;
    unsigned backoff_base_ms, backoff_max_ms;

    const struct router_config *cfg;     /* the node's (credentials) */
    const struct active_proxy *active;   /* the node's active proxy */
    int epfd;
    bool started;

    enum ph_state state;
    struct https_client *cur;     /* the attempt under way */
    char cur_proxy[24];
    unsigned rounds;              /* starts: first proxy, then one per proxy change */
    unsigned attempts;            /* in this round */
    unsigned attempts_total, failures_total, successes;
    unsigned consecutive_failures;
    uint64_t next_retry_ms;       /* PH_BACKOFF */
    unsigned retry_in_ms;         /* the delay chosen after the last failure */
    bool have_last;
    struct ph_result last;
    time_t ok_at;
    uint32_t rng;
};

/* Pure: the delay before the retry after `failures` consecutive failures (>= 1): min(max,
 * base * 2^(failures-1)) minus up to 20 % of it, chosen by `rnd`. */
unsigned phonehome_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms, uint32_t rnd);
/* The jitter source of the backoffs (phone home, sZTP, conductor, hub): xorshift32 over *state
 * (a zero state starts from a fixed constant). Not for anything secret. */
uint32_t phonehome_xorshift32(uint32_t *state);

/* Zero *ph and bind it to the node's config and active proxy (state off, disabled). */
void phonehome_init(struct phonehome *ph, const struct router_config *cfg, const struct active_proxy *active);
/* Enable with a URL (https_url_parse) and an optional CA file (must be readable). Returns 0, or -1
 * with one line in err. */
int phonehome_configure(struct phonehome *ph, const char *url, const char *ca_file, char *err, size_t errcap);
/* Start (when enabled): attempt at once when a proxy is active, else wait for one. */
void phonehome_start(struct phonehome *ph, int epfd, uint64_t now_ms);
/* The node's active proxy changed (node_reselect). */
void phonehome_proxy_changed(struct phonehome *ph, uint64_t now_ms);
/* The node's own network changed (a new DHCP lease: address and routes applied). A failed attempt
 * waiting for its retry is retried at once: it may have failed only because there was no route to
 * the proxy yet (a static proxy configured before any lease). */
void phonehome_network_changed(struct phonehome *ph, uint64_t now_ms);
/* Retry when due. */
void phonehome_tick(struct phonehome *ph, uint64_t now_ms);
/* Milliseconds until phonehome_tick() must run, or -1. */
int phonehome_next_timeout_ms(const struct phonehome *ph, uint64_t now_ms);
/* Abandon an attempt under way (daemon stop). */
void phonehome_stop(struct phonehome *ph);

/* The "phone-home" object of `show phone-home` (see ctl.h). */
json_t *phonehome_json(const struct phonehome *ph, uint64_t now_ms);

#endif
