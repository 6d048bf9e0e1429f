/* See mtls.h. */
#include "mtls.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/x509.h>

#include "ztp/pki.h"
#include "ztp/util.h"

static gnutls_session_t session_of(void *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

void cmtls_require(void *conn)
{
    gnutls_session_t s = session_of(conn);
    if (!s)
        return;
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert(s, NULL, 0);
}

int cmtls_peer_identity(void *conn, char *out, size_t cap, char *err, size_t errcap)
{
    gnutls_session_t s = session_of(conn);
    unsigned status = 0, n = 0;
    if (!s)
        return errf(err, errcap, "no TLS session");
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0)
        return errf(err, errcap, "no client certificate");
    if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
        return errf(err, errcap, "the client certificate does not verify (status 0x%x)", status);
    const unsigned char *p = certs[0].data;
    X509 *x = d2i_X509(NULL, &p, (long)certs[0].size);
    int rc = x && pki_cert_identity(x, out, cap) == 0 ? 0 : errf(err, errcap, "the client certificate names no identity");
    X509_free(x);
    return rc;
}
