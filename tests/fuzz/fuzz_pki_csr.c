/* libFuzzer harness for pki_csr_check() (common/pki.c), the conductor's check of a CSR from the
 * network: the input is the PEM text, in a malloc'd buffer of exactly its size (ASan sees any read
 * past the end), checked for router R1 node r1a. Properties (abort on violation):
 *   - a refusal has a non-empty reason that starts with "csr: " and hands out no request;
 *   - an accepted request has an EC P-256 key whose signature verifies, is signed by a fixed test CA,
 *     and the certificate passes pki_cert_check for R1/r1a with that key (whatever was accepted can be
 *     issued, and the issued certificate is what the router will accept). */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *g_ca;
static EVP_PKEY *g_ca_key;
static char *g_ca_pem;
static size_t g_ca_len;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    if (!g_ca) {
        if (pki_ca_generate("fuzz CA", 2, &g_ca, &g_ca_key, err, sizeof err) != 0 ||
            pki_cert_pem(g_ca, &g_ca_pem, &g_ca_len) != 0)
            abort();
    }
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    X509_REQ *req = NULL;
    if (pki_csr_check(buf, size, "R1", "r1a", &req, err, sizeof err) != 0) {
        if (req || strncmp(err, "csr: ", 5) != 0 || strnlen(err, sizeof err) >= sizeof err)
            abort();
        free(buf);
        return 0;
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1 || !EVP_PKEY_is_a(pub, "EC"))
        abort();
    char *pem = NULL, serial[41];
    size_t pl;
    if (pki_sign_csr(req, g_ca, g_ca_key, 1, "R1", "r1a", &pem, &pl, serial, sizeof serial, err, sizeof err) != 0 ||
        pki_cert_check(pem, pl, g_ca_pem, g_ca_len, "R1", "r1a", pub, err, sizeof err) != 0)
        abort();
    free(pem);
    X509_REQ_free(req);
    free(buf);
    return 0;
}
