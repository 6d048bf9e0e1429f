/* Pre-shared-secret challenge/response between a router node and a conductor (issue 6).
 *
 * The secret is never sent. The conductor hands out a fresh random nonce (32 bytes, hex) with a
 * challenge id; the router proves it knows the secret with
 *
 *     client-mac = hex( HMAC-SHA256( psk, "ztp-psk-v1|client|" nonce "|" router "|" node ) )
 *
 * and, on success, the conductor proves the same to the router (mutual) with
 *
 *     server-mac = hex( HMAC-SHA256( psk, "ztp-psk-v1|server|" nonce "|" router "|" node ) )
 *
 * The role prefix keeps a server MAC from being replayed as a client MAC; router and node names bind
 * the proof to one node. Comparisons are constant time. Names are 1..PSK_NAME_MAX characters of
 * [A-Za-z0-9._-]; nonces exactly PSK_NONCE_HEX lower-case hex digits.
 */
#ifndef ZTP_PSK_H
#define ZTP_PSK_H

#include <stdbool.h>
#include <stddef.h>

#define PSK_NONCE_BYTES 32
#define PSK_NONCE_HEX (2 * PSK_NONCE_BYTES)
#define PSK_MAC_HEX 64               /* HMAC-SHA256 in lower-case hex */
#define PSK_NAME_MAX 63
#define PSK_SECRET_MAX 128           /* = SEALED_MAX: what a node's TPM can seal */

enum psk_role { PSK_CLIENT, PSK_SERVER };

/* True when s (NUL-terminated) is a valid router/node name. */
bool psk_name_ok(const char *s);

/* A fresh nonce from the OpenSSL CSPRNG: PSK_NONCE_HEX hex digits + NUL into out (cap >= 65).
 * Returns 0 or -1. */
int psk_nonce(char *out, size_t cap);

/* The MAC for `role`: PSK_MAC_HEX hex digits + NUL into out (cap >= 65). Returns 0, or -1 with one
 * line in err (bad nonce, bad name, empty or too long secret). */
int psk_mac(enum psk_role role, const unsigned char *psk, size_t psk_len, const char *nonce, const char *router,
            const char *node, char *out, size_t cap, char *err, size_t errcap);

/* Constant-time check of a received MAC (any length; a wrong length is simply false). */
bool psk_mac_equal(const char *expected_hex, const char *got, size_t got_len);

#endif
