/* mock-hub: peer identity through common/pki.c (see ident.h). */
#include "ident.h"

#include <stdlib.h>

#include "ztp/pki.h"
#include "ztp/util.h"

int hub_make_identity(const char *router, const char *node, char *out, size_t cap)
{
    return pki_identity(router, node, out, cap);
}

int hub_cert_identity(X509 *cert, char *out, size_t cap)
{
    return pki_cert_identity(cert, out, cap);
}

int hub_cert_check(X509 *cert, const char *ca_pem, size_t ca_len, const char *router, const char *node, char *err,
                   size_t cap)
{
    return pki_cert_check_x509(cert, ca_pem, ca_len, router, node, NULL, err, cap);
}
