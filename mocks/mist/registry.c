/* See registry.h. */
#include "registry.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mistjson.h"
#include "ztp/util.h"

static int parse_device(const char *id, json_t *v, struct mist_device *d, char *err, size_t cap)
{
    static const char *const keys[] = {"org", "site", "ocra-suite", "ocra-key-hex", "onboarding", NULL};
    static const char *const ob_keys[] = {"conductor", "psk", "root-ca-pem", NULL};
    char where[96], ob_where[112], oerr[128];
    const char *suite, *hex;
    snprintf(where, sizeof where, "devices.%.64s", id);
    snprintf(ob_where, sizeof ob_where, "%s.onboarding", where);
    d->id = id;
    if (!mist_id_valid(id, strlen(id))) {
        snprintf(err, cap, "devices: bad device id \"%.64s\"", id);
        return -1;
    }
    if (!json_is_object(v)) {
        snprintf(err, cap, "%s: must be an object", where);
        return -1;
    }
    if (mj_only_keys(v, keys, where, err, cap) || mj_string(v, "org", true, where, &d->org, err, cap) ||
        mj_string(v, "site", true, where, &d->site, err, cap) ||
        mj_string(v, "ocra-suite", true, where, &suite, err, cap) ||
        mj_string(v, "ocra-key-hex", true, where, &hex, err, cap))
        return -1;
    if (ocra_suite_parse(suite, strlen(suite), &d->suite, oerr, sizeof oerr) < 0) {
        snprintf(err, cap, "%s: ocra-suite: %s", where, oerr);
        return -1;
    }
    if (d->suite.counter || d->suite.pin || d->suite.session || d->suite.time) {
        snprintf(err, cap, "%s: ocra-suite: only Q suites are supported (no C, P, S or T)", where);
        return -1;
    }
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > MIST_KEY_MAX) {
        snprintf(err, cap, "%s: ocra-key-hex: must be 1..%d bytes of hex", where, MIST_KEY_MAX);
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, cap, "%s: ocra-key-hex: not hex", where);
            return -1;
        }
        d->key[i] = (uint8_t)(hi << 4 | lo);
    }
    d->key_len = n / 2;
    json_t *ob = json_object_get(v, "onboarding");
    if (!json_is_object(ob)) {
        snprintf(err, cap, "%s: \"onboarding\" must be an object {conductor, psk, root-ca-pem}", where);
        return -1;
    }
    if (mj_only_keys(ob, ob_keys, ob_where, err, cap) ||
        mj_string(ob, "conductor", true, ob_where, &d->conductor, err, cap) ||
        mj_string(ob, "psk", true, ob_where, &d->psk, err, cap) ||
        mj_string(ob, "root-ca-pem", false, ob_where, &d->root_ca_pem, err, cap))
        return -1;
    if (!*d->conductor || !*d->psk) {
        snprintf(err, cap, "%s: conductor and psk must not be empty", ob_where);
        return -1;
    }
    if (d->root_ca_pem && !strstr(d->root_ca_pem, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, cap, "%s: root-ca-pem is not a PEM certificate", ob_where);
        return -1;
    }
    return 0;
}

int mist_registry_parse(const char *buf, size_t len, struct mist_registry *reg, char *err, size_t cap)
{
    static const char *const top[] = {"max-failures", "lockout-seconds", "challenge-ttl", "session-ttl", "devices",
                                      NULL};
    const char *key;
    json_t *v, *devs = NULL;
    memset(reg, 0, sizeof *reg);
    reg->max_failures = 5;
    reg->lockout_seconds = 60;
    reg->challenge_ttl = 30;
    reg->session_ttl = 300;
    reg->root = mj_load_object(buf, len, err, cap);
    if (!reg->root)
        return -1;
    if (mj_only_keys(reg->root, top, "registry", err, cap) ||
        mj_uint(reg->root, "max-failures", 1, 1000, "registry", &reg->max_failures, err, cap) ||
        mj_uint(reg->root, "lockout-seconds", 1, 86400, "registry", &reg->lockout_seconds, err, cap) ||
        mj_uint(reg->root, "challenge-ttl", 1, 3600, "registry", &reg->challenge_ttl, err, cap) ||
        mj_uint(reg->root, "session-ttl", 1, 86400, "registry", &reg->session_ttl, err, cap))
        goto fail;
    devs = json_object_get(reg->root, "devices");
    if (!json_is_object(devs)) {
        snprintf(err, cap, "registry: \"devices\" must be an object of device-id: {...}");
        goto fail;
    }
    if (json_object_size(devs)) {
        reg->devices = calloc(json_object_size(devs), sizeof *reg->devices);
        if (!reg->devices) {
            snprintf(err, cap, "out of memory");
            goto fail;
        }
    }
    json_object_foreach(devs, key, v) {
        if (parse_device(key, v, &reg->devices[reg->n_devices], err, cap) < 0)
            goto fail;
        reg->n_devices++;
    }
    return 0;
fail:
    reg->n_devices = json_object_size(devs);   /* wipe every slot that may hold a key */
    mist_registry_free(reg);
    return -1;
}

void mist_registry_free(struct mist_registry *reg)
{
    if (reg->devices)
        OPENSSL_cleanse(reg->devices, reg->n_devices * sizeof *reg->devices);
    free(reg->devices);
    json_decref(reg->root);
    memset(reg, 0, sizeof *reg);
}

const struct mist_device *mist_registry_find(const struct mist_registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->n_devices; i++)
        if (strcmp(reg->devices[i].id, id) == 0)
            return &reg->devices[i];
    return NULL;
}
