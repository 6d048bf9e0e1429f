/* mock-hub: the certificate identity of a peer, through common/pki.c (the one place that knows how a
 * router node's certificate names it: CN "ROUTER.NODE", SAN URI ssr://ROUTER/NODE). */
#ifndef MOCK_HUB_IDENT_H
#define MOCK_HUB_IDENT_H

#include <openssl/x509.h>
#include <stddef.h>

/* "ROUTER.NODE" into out: pki_identity(). 0 / -1. */
int hub_make_identity(const char *router, const char *node, char *out, size_t cap);

/* The identity a certificate names (its CN): pki_cert_identity(). 0 / -1. */
int hub_cert_identity(X509 *cert, char *out, size_t cap);

/* The whole check of a peer's certificate once its hello named router/node: pki_cert_check()
 * (chains to ca_pem, currently valid, CN and SAN name router/node). 0 / -1 with err. */
int hub_cert_check(X509 *cert, const char *ca_pem, size_t ca_len, const char *router, const char *node, char *err,
                   size_t cap);

#endif
