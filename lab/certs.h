/* The certificates of a lab run, made with OpenSSL's C API (no openssl processes): EC P-256 keys,
 * SHA-256 signatures, a few milliseconds for a whole run.
 *
 *   certs_ca_new()   a self-signed root CA: v3, random 128-bit serial, basicConstraints critical
 *                    CA:TRUE, keyUsage critical keyCertSign+cRLSign, subjectKeyIdentifier.
 *   certs_ca_sub()   an intermediate CA signed by another CA: the same with pathlen:0 and an
 *                    authorityKeyIdentifier (the conductor's signing CA under its root CA).
 *   certs_server()   a server certificate signed by a CA: subject CN = names[0], subjectAltName
 *                    DNS:name or IP:address (a name that is an IPv4 address) for every name,
 *                    basicConstraints critical CA:FALSE, keyUsage critical digitalSignature,
 *                    extendedKeyUsage serverAuth, SKI/AKI. Its PEM file holds the certificate
 *                    followed by its issuer when that is an intermediate CA (the chain a server sends).
 * Validity: from an hour ago (clock skew between namespaces is none, but a CA made in the same
 * second as its leaf must already be valid) to `days` from now. Certificates are written 0644,
 * private keys 0600 (PKCS#8 PEM), atomically. Errors: -1 with one line in err.
 */
#ifndef LAB_CERTS_H
#define LAB_CERTS_H

#include <stddef.h>

struct certs_ca;

/* A new root CA "O=ztp-lab, CN=cn"; writes pem_path and key_path. */
int certs_ca_new(const char *cn, unsigned days, const char *pem_path, const char *key_path, struct certs_ca **out,
                 char *err, size_t errcap);
/* An intermediate CA "O=ztp-lab, CN=cn" signed by parent (CA:TRUE, pathlen:0); writes pem_path (the
 * intermediate alone) and key_path. */
int certs_ca_sub(const struct certs_ca *parent, const char *cn, unsigned days, const char *pem_path, const char *key_path,
                 struct certs_ca **out, char *err, size_t errcap);
/* The CA followed by its issuer (for an intermediate; the CA alone for a root) into path, 0644. */
int certs_ca_chain_write(const struct certs_ca *ca, const char *path, char *err, size_t errcap);
/* A server certificate for names[0..n-1] (host names or IPv4 addresses) signed by ca; writes
 * pem_path (with the intermediate, see above) and key_path. */
int certs_server(const struct certs_ca *ca, const char *const *names, size_t n, unsigned days, const char *pem_path,
                 const char *key_path, char *err, size_t errcap);
/* The CA certificate as PEM text (malloc'd), or NULL. */
char *certs_ca_pem(const struct certs_ca *ca);
void certs_ca_free(struct certs_ca *ca);

#endif
