/* Hardware Bootstrapper onboarding.json, and the persisted "onboarded to a conductor" state.
 *
 * onboarding.json is one JSON object in the product's shape. Known members:
 *
 *   "name"              string   router name
 *   "mode"              string   "conductor-managed" (default when absent) | "mist-managed"
 *                                ("conductor", the product's mode for a conductor, is refused)
 *   "conductor-hosts"   array of strings (or one string)   conductor IP addresses or FQDNs
 *   "registration-code" string   Mist registration (claim) code: a secret, never logged
 *   "asset-id"          string
 *   "node-name"         string
 *   "ssr-version", "artifactory-user", "artifactory-password" (secret), "cloud-provider",
 *   "download-timeout", "download-retries"
 *                       product members the lab does not use: accepted silently, not stored
 *   "proxy"             object   {"address": "A", "port": P}: the static management proxy to use
 *                                until the router is onboarded to a conductor. A is a strict
 *                                dotted-quad IPv4, P an integer 1..65535 (a decimal string is
 *                                accepted too). Both members required. The product docs only say
 *                                "the Hardware Bootstrapper onboarding.json [can] set the static IP
 *                                address and port": this member's shape is the lab's choice.
 *
 * No cross-field requirement: a conductor-managed router onboarded through Mist gets its
 * conductor from the cloud, so "conductor-hosts" may be absent.
 *
 * Unknown members (top level and inside "proxy") are accepted and reported as warnings
 * ("unknown field \"x\"") for the daemon to log. A file that is not one JSON object, a member of
 * the wrong type, an unknown mode, a bad proxy address/port or too long a value is refused:
 * the reason names the member, or carries jansson's "line L column C: text" for bad JSON.
 *
 * The onboarded state is a small JSON file in the router's state directory
 * (ONBOARDING_STATE_FILE), written with atomic_write_file(); the onboarding.json proxy stops
 * applying once `onboarded` is true (see proxysel.h).
 */
#ifndef SSR_ONBOARDING_H
#define SSR_ONBOARDING_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ONB_STR_MAX 256         /* every string member (incl. NUL) */
#define ONB_MAX_CONDUCTORS 4
#define ONB_MAX_WARNINGS 16     /* further warnings are counted in n_warnings_dropped */
#define ONB_WARN_MAX 128
#define ONB_FILE_MAX (64 * 1024)

enum onboarding_mode { ONB_MODE_CONDUCTOR_MANAGED = 0, ONB_MODE_MIST_MANAGED = 1 };
/* "conductor-managed" / "mist-managed" */
const char *onboarding_mode_name(enum onboarding_mode m);

struct onboarding_info {
    char name[ONB_STR_MAX];
    enum onboarding_mode mode;
    bool mode_set;
    char conductor_hosts[ONB_MAX_CONDUCTORS][ONB_STR_MAX];
    size_t n_conductor_hosts;
    char registration_code[ONB_STR_MAX];  /* SECRET: never log */
    char asset_id[ONB_STR_MAX];
    char node_name[ONB_STR_MAX];

    bool have_proxy;
    struct in_addr proxy_addr;            /* network order */
    uint16_t proxy_port;                  /* host order */

    char warnings[ONB_MAX_WARNINGS][ONB_WARN_MAX];
    size_t n_warnings;
    size_t n_warnings_dropped;
};

/* Parse `len` bytes of onboarding.json. Fills *out (zeroed first). Returns 0 (warnings, if any,
 * in out->warnings), or -1 with the reason in err. Pure. */
int onboarding_parse(const char *buf, size_t len, struct onboarding_info *out, char *err, size_t errcap);

/* Read (at most ONB_FILE_MAX bytes) and parse `path`. Returns 0, 1 when the file does not exist
 * (*out zeroed: no onboarding.json, not an error), or -1 with "PATH: reason" in err. */
int onboarding_load(const char *path, struct onboarding_info *out, char *err, size_t errcap);

/* ---- persisted onboarding state ---- */

#define ONBOARDING_STATE_FILE "onboarding-state.json"

struct onboarding_state {
    bool onboarded;               /* onboarded to a conductor: the onboarding.json proxy is off */
    char conductor[ONB_STR_MAX];  /* the conductor it onboarded to ("" when unknown) */
    time_t since;                 /* when it became onboarded (0 when not) */
};

/* Load STATE_DIR/onboarding-state.json: {"onboarded": bool, "conductor": "...", "since": N}.
 * Returns 0 (a missing file is "not onboarded", 0), or -1 with the reason in err (corrupt file:
 * the caller decides; *st is then zeroed = not onboarded). */
int onboarding_state_load(const char *state_dir, struct onboarding_state *st, char *err, size_t errcap);
/* Write it atomically (mode 0644). Returns 0 or -errno. */
int onboarding_state_save(const char *state_dir, const struct onboarding_state *st);

#endif
