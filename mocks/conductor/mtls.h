/* Mutual TLS for the production conductor, on libmicrohttpd's GnuTLS session. libmicrohttpd with
 * MHD_OPTION_HTTPS_MEM_TRUST only *requests* a client certificate; cmtls_require() (called for each
 * new connection, before its handshake) makes GnuTLS require one and verify it against that trust
 * (gnutls_session_set_verify_cert), so a client without a certificate, or with one that does not
 * chain to --client-ca, fails the handshake. cmtls_peer_identity() re-checks that verdict in the
 * handler (the one the handshake reached, gnutls_session_get_verify_cert_status: no second
 * verification per request) and gives the certificate's identity (its CN, "ROUTER.NODE"). */
#ifndef COND_MTLS_H
#define COND_MTLS_H

#include <stddef.h>

/* conn: the struct MHD_Connection *. */
void cmtls_require(void *conn);
/* 0 and the verified client certificate's identity, or -1 with a reason in err. */
int cmtls_peer_identity(void *conn, char *out, size_t cap, char *err, size_t errcap);

#endif
