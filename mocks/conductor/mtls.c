/* See mtls.h. */
#include "mtls.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <string.h>

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

/* The certificate's identity as pki_cert_identity() reads it: its subject's one and only CN, as UTF-8
 * without a NUL, that fits out. Parsed by GnuTLS (libtasn1): OpenSSL 3's d2i_X509 also decodes the
 * public key through its provider decoders, which cost ~130 us per request here. */
static int cn_of(const gnutls_datum_t *der, char *out, size_t cap)
{
    gnutls_x509_crt_t crt;
    char extra[8];
    size_t n = cap, n2 = sizeof extra;
    int rc = -1;
    if (cap < 2 || gnutls_x509_crt_init(&crt) < 0)
        return -1;
    if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out, &n) == 0 && n > 0 && n < cap &&
        memchr(out, '\0', n) == NULL &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0, extra, &n2) ==
            GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        out[n] = '\0';
        rc = 0;
    }
    gnutls_x509_crt_deinit(crt);
    return rc;
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
    /* The verdict of the verification the handshake made (cmtls_require's auto-verification): no
     * second ECDSA verification per request. (unsigned)-1 when none was made: verify now. */
    status = gnutls_session_get_verify_cert_status(s);
    if (status == (unsigned)-1 && gnutls_certificate_verify_peers2(s, &status) < 0)
        return errf(err, errcap, "the client certificate cannot be verified");
    if (status != 0)
        return errf(err, errcap, "the client certificate does not verify (status 0x%x)", status);
    return cn_of(&certs[0], out, cap) == 0 ? 0 : errf(err, errcap, "the client certificate names no identity");
}
