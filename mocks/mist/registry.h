/* mock-mist's device registry (the config file; SIGHUP reloads it):
 *
 *   {"max-failures": 5, "lockout-seconds": 60, "challenge-ttl": 30, "session-ttl": 300,
 *    "devices": {"SSR-0001": {"org": "acme", "site": "branch-1",
 *                             "ocra-suite": "OCRA-1:HOTP-SHA256-8:QA08", "ocra-key-hex": "3132...",
 *                             "onboarding": {"conductor": "198.18.5.10:930", "psk": "...",
 *                                            "root-ca-pem": "-----BEGIN CERTIFICATE-----..."}}}}
 *
 * The suite must be a challenge/response suite the device flow can answer: Q only (no C, P, S or T:
 * the protocol carries no counter, PIN, session data or time). Unknown keys are refused. Pure code. */
#ifndef MIST_REGISTRY_H
#define MIST_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ztp/ocra.h"

#define MIST_KEY_MAX 128

struct mist_device {
    const char *id, *org, *site;
    struct ocra_suite suite;
    uint8_t key[MIST_KEY_MAX];
    size_t key_len;
    const char *conductor, *psk, *root_ca_pem;   /* root_ca_pem may be NULL */
};

struct mist_registry {
    json_t *root;   /* owns the strings */
    unsigned max_failures, lockout_seconds, challenge_ttl, session_ttl;
    struct mist_device *devices;
    size_t n_devices;
};

int mist_registry_parse(const char *buf, size_t len, struct mist_registry *reg, char *err, size_t cap);
void mist_registry_free(struct mist_registry *reg);   /* wipes the keys */
const struct mist_device *mist_registry_find(const struct mist_registry *reg, const char *id);

#endif
