/* Pre-shared-secret challenge/response (see ztp/psk.h). */
#include "ztp/psk.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ztp/util.h"

bool psk_name_ok(const char *s)
{
    size_t n = s ? strnlen(s, PSK_NAME_MAX + 1) : 0;
    if (n == 0 || n > PSK_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool nonce_ok(const char *n)
{
    if (!n || strnlen(n, PSK_NONCE_HEX + 1) != PSK_NONCE_HEX)
        return false;
    for (size_t i = 0; i < PSK_NONCE_HEX; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            return false;
    return true;
}

int psk_nonce(char *out, size_t cap)
{
    unsigned char b[PSK_NONCE_BYTES];
    if (cap < PSK_NONCE_HEX + 1 || RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    OPENSSL_cleanse(b, sizeof(b));
    return 0;
}

int psk_mac(enum psk_role role, const unsigned char *psk, size_t psk_len, const char *nonce, const char *router,
            const char *node, char *out, size_t cap, char *err, size_t errcap)
{
    if (cap < PSK_MAC_HEX + 1)
        return errf(err, errcap, "psk: output buffer too small");
    if (!psk || psk_len == 0 || psk_len > PSK_SECRET_MAX)
        return errf(err, errcap, "psk: the secret must be 1..%d bytes", PSK_SECRET_MAX);
    if (!nonce_ok(nonce))
        return errf(err, errcap, "psk: the nonce is not %d lower-case hex digits", PSK_NONCE_HEX);
    if (!psk_name_ok(router) || !psk_name_ok(node))
        return errf(err, errcap, "psk: router and node names must be 1..%d of [A-Za-z0-9._-]", PSK_NAME_MAX);
    char msg[32 + PSK_NONCE_HEX + 2 * PSK_NAME_MAX + 8];
    int ml = snprintf(msg, sizeof(msg), "ztp-psk-v1|%s|%s|%s|%s", role == PSK_SERVER ? "server" : "client", nonce,
                      router, node);
    if (ml < 0 || (size_t)ml >= sizeof(msg))
        return errf(err, errcap, "psk: message too long");
    unsigned char mac[32];
    size_t maclen = sizeof(mac);
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    int ok = ctx && EVP_MAC_init(ctx, psk, psk_len, params) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)msg, (size_t)ml) == 1 &&
             EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == sizeof(mac);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    if (!ok)
        return errf(err, errcap, "psk: HMAC-SHA256 failed");
    for (size_t i = 0; i < sizeof(mac); i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

bool psk_mac_equal(const char *expected_hex, const char *got, size_t got_len)
{
    if (!expected_hex || !got || got_len != PSK_MAC_HEX || strnlen(expected_hex, PSK_MAC_HEX + 1) != PSK_MAC_HEX)
        return false;
    return CRYPTO_memcmp(expected_hex, got, PSK_MAC_HEX) == 0;
}
