/* The router certificate of the onboarding (issue 6, steps 7-8): key pair, CSR, signing by the
 * conductor CA, and the checks the conductor, the hub and the router make. OpenSSL 3 (EVP, X509).
 *
 * Identity: a router node's certificate names it in its subject
 *     O = ztp-lab router, OU = <router>, CN = <router>.<node>          e.g. CN = R1.r1a
 * and in a subjectAltName URI  ssr://<router>/<node>. pki_identity() gives "R1.r1a".
 *
 * Keys are EC P-256. The router keeps its private key sealed to its TPM as the 32-byte private scalar
 * (pki_key_scalar / pki_key_from_scalar): 32 bytes fit a TPM sealed object (128 bytes at most).
 *
 * All parsers take (buf, len), never read past len, and return -1 with one line in err for anything
 * malformed, wrongly signed, or naming another node. Nothing here logs, and nothing here prints a
 * private key.
 */
#ifndef ZTP_PKI_H
#define ZTP_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKI_IDENTITY_MAX 128
#define PKI_SCALAR_LEN 32
#define PKI_DEFAULT_DAYS 365
#define PKI_PEM_MAX 16384            /* the largest CSR/certificate PEM accepted from the network */

/* "<router>.<node>" into out. Returns 0, or -1 when a name is not psk_name_ok() or out is too small. */
int pki_identity(const char *router, const char *node, char *out, size_t cap);

/* A fresh EC P-256 key. NULL on failure. */
EVP_PKEY *pki_key_generate(void);
/* The private scalar (big-endian, zero-padded to 32 bytes) and back. 0 / -1. */
int pki_key_scalar(const EVP_PKEY *key, uint8_t out[PKI_SCALAR_LEN]);
EVP_PKEY *pki_key_from_scalar(const uint8_t scalar[PKI_SCALAR_LEN]);

/* A PEM CSR for router/node, signed (SHA-256) by key, subject and SAN as above. *pem is malloc'd,
 * NUL-terminated; *pem_len its length. Returns 0 or -1 with err. */
int pki_csr_build(EVP_PKEY *key, const char *router, const char *node, char **pem, size_t *pem_len, char *err,
                  size_t errcap);

/* Parse a PEM CSR (at most PKI_PEM_MAX bytes), check its self-signature, that its key is EC P-256,
 * and that its subject CN (and SAN URI, when present) name exactly want_router/want_node.
 * On success *req is the parsed request (X509_REQ_free it). 0 / -1 with err ("csr: signature does
 * not verify", "csr: names router R2 node r2a, not R1/r1a", ...). */
int pki_csr_check(const char *pem, size_t len, const char *want_router, const char *want_node, X509_REQ **req,
                  char *err, size_t errcap);

/* Sign a checked request with the CA: v3, random 128-bit positive serial, notBefore now - 60 s,
 * notAfter now + days, the request's key and the subject above for router/node (what a checked
 * request names; other RDNs of the request are not copied), basicConstraints critical CA:FALSE,
 * keyUsage critical digitalSignature, extendedKeyUsage clientAuth+serverAuth, subjectKeyIdentifier,
 * authorityKeyIdentifier, the SAN URI ssr://router/node. *pem malloc'd; serial_hex (cap >= 41) gets
 * the serial in upper-case hex. 0 / -1 with err. */
int pki_sign_csr(X509_REQ *req, X509 *ca_cert, EVP_PKEY *ca_key, unsigned days, const char *router, const char *node,
                 char **pem, size_t *pem_len, char *serial_hex, size_t serial_cap, char *err, size_t errcap);

/* Load helpers (PEM text, bounded). NULL with err on failure.
 * Certificates are parsed once per process: OpenSSL 3.0 decodes each certificate's public key through
 * a freshly built provider decoder chain (~1.5 M instructions, a quarter of a router's onboarding
 * when measured with callgrind), and the same texts (CA files, the router's certificate) are read
 * again and again. pki_cert_parse() and pki_certs_parse() keep the parsed X509 by its PEM block
 * (thread-safe); the caller gets its own reference (X509_free / sk_X509_pop_free(sk, X509_free) as usual)
 * and must not modify it. */
X509 *pki_cert_parse(const char *pem, size_t len, char *err, size_t errcap);
/* Every "CERTIFICATE" PEM block of a text, in order, into a new stack. Returns how many (>= 1), 0 when
 * there is none, -1 when a block does not parse or the text holds other PEM blocks (a CRL, a key,
 * TRUSTED CERTIFICATE: those are for OpenSSL's own loaders). */
int pki_certs_parse(const char *pem, size_t len, STACK_OF(X509) **out);
/* pki_certs_parse() of a file (at most 1 MiB). -1 also when it cannot be read (errno set). */
int pki_certs_load_file(const char *path, STACK_OF(X509) **out);
/* X509_STORE_load_file() through the cache: the file's certificates added to st (OpenSSL's own loader
 * when the file holds other PEM blocks). 1 / 0 as X509_STORE_load_file. */
int pki_store_load_file(X509_STORE *st, const char *path);
EVP_PKEY *pki_key_parse(const char *pem, size_t len, char *err, size_t errcap);

/* The router's checks of an issued certificate (and the hub's of a peer's): chains to ca_pem
 * (X509_verify_cert, purpose any), is currently valid, names want_router/want_node (CN and SAN),
 * and (when key is given) carries key's public key. 0 / -1 with err. */
int pki_cert_check(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len, const char *want_router,
                   const char *want_node, EVP_PKEY *key, char *err, size_t errcap);

/* The same checks of a parsed certificate (a TLS peer's: no second parse). */
int pki_cert_check_x509(X509 *cert, const char *ca_pem, size_t ca_len, const char *want_router, const char *want_node,
                        EVP_PKEY *key, char *err, size_t errcap);

/* The identity ("R1.r1a") a certificate names in its CN; 0 / -1. */
int pki_cert_identity(X509 *cert, char *out, size_t cap);

/* Added by the conductor work: */
/* A self-signed CA (fresh EC P-256 key, CN = cn, CA:TRUE, keyCertSign|cRLSign, valid `days`): the
 * mock conductor's throwaway "wrong" CA and the tests' CAs. 0, or -1 with err. */
int pki_ca_generate(const char *cn, unsigned days, X509 **cert, EVP_PKEY **key, char *err, size_t errcap);
/* A certificate as PEM text (*pem malloc'd, NUL-terminated). 0 / -1. */
int pki_cert_pem(X509 *cert, char **pem, size_t *pem_len);

#endif
