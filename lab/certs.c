/* Lab certificates with OpenSSL's C API (see certs.h). */
#include "certs.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"

struct certs_ca {
    X509 *cert;
    EVP_PKEY *key;
    X509 *issuer;                 /* an intermediate's issuer (up-ref'd), NULL for a root */
};

static int cfail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cfail(char *err, size_t cap, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    unsigned long e = ERR_get_error();
    char ossl[256] = "";
    if (e)
        ERR_error_string_n(e, ossl, sizeof(ossl));
    ERR_clear_error();
    snprintf(err, cap, "%s%s%s", what, ossl[0] ? ": " : "", ossl);
    return -1;
}

/* Write what a PEM writer puts into a memory BIO to path, atomically, with mode. */
static int write_bio(BIO *b, const char *path, unsigned mode, char *err, size_t cap)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return cfail(err, cap, "%s: nothing to write", path);
    int rc = atomic_write_file(path, data, (size_t)n, mode);
    if (rc < 0)
        return cfail(err, cap, "%s: %s", path, strerror(-rc));
    return 0;
}

/* The certificate (then `chain`, when given) into pem_path, the key into key_path. */
static int write_pair(X509 *x, X509 *chain, EVP_PKEY *key, const char *pem_path, const char *key_path, char *err,
                      size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!b)
        return cfail(err, cap, "BIO_new");
    if (!PEM_write_bio_X509(b, x) || (chain && !PEM_write_bio_X509(b, chain)))
        cfail(err, cap, "PEM_write_bio_X509");
    else if (write_bio(b, pem_path, 0644, err, cap) == 0) {
        (void)BIO_reset(b);
        if (!PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
            cfail(err, cap, "PEM_write_bio_PrivateKey");
        else
            rc = write_bio(b, key_path, 0600, err, cap);
    }
    /* the memory BIO held the private key: wipe it */
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n > 0)
        OPENSSL_cleanse(data, (size_t)n);
    BIO_free(b);
    return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A v3 certificate for key, subject O=ztp-lab/CN=cn, a random positive serial, valid from an
 * hour ago for days. The issuer is set by the caller. */
static X509 *cert_base(EVP_PKEY *key, const char *cn, unsigned days)
{
    X509 *x = X509_new();
    unsigned char rnd[16];
    BIGNUM *bn = NULL;
    if (!x || RAND_bytes(rnd, sizeof(rnd)) != 1)
        goto fail;
    rnd[0] &= 0x7f;
    rnd[0] |= 0x01; /* positive, 128 bits */
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    X509_NAME *name = X509_get_subject_name(x);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"ztp-lab", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* A root CA (parent NULL) or an intermediate signed by parent. */
static int ca_make(const struct certs_ca *parent, const char *cn, unsigned days, const char *pem_path,
                   const char *key_path, struct certs_ca **out, char *err, size_t errcap)
{
    *out = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        return cfail(err, errcap, "%s: EC P-256 key", cn);
    X509 *x = cert_base(key, cn, days);
    if (!x) {
        EVP_PKEY_free(key);
        return cfail(err, errcap, "%s: certificate", cn);
    }
    X509 *icert = parent ? parent->cert : x;
    EVP_PKEY *ikey = parent ? parent->key : key;
    /* the extensions' context: the subject key identifier must exist before the AKI refers to it */
    if (!X509_set_issuer_name(x, X509_get_subject_name(icert)) ||
        add_ext(x, icert, NID_basic_constraints, parent ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") < 0 ||
        add_ext(x, icert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        add_ext(x, icert, NID_subject_key_identifier, "hash") < 0 ||
        (parent && add_ext(x, icert, NID_authority_key_identifier, "keyid:always") < 0) ||
        !X509_sign(x, ikey, EVP_sha256())) {
        X509_free(x);
        EVP_PKEY_free(key);
        return cfail(err, errcap, "%s: sign", cn);
    }
    if (write_pair(x, NULL, key, pem_path, key_path, err, errcap) < 0) {
        X509_free(x);
        EVP_PKEY_free(key);
        return -1;
    }
    struct certs_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) {
        X509_free(x);
        EVP_PKEY_free(key);
        return cfail(err, errcap, "out of memory");
    }
    ca->cert = x;
    ca->key = key;
    if (parent && X509_up_ref(parent->cert))
        ca->issuer = parent->cert;
    *out = ca;
    return 0;
}

int certs_ca_new(const char *cn, unsigned days, const char *pem_path, const char *key_path, struct certs_ca **out,
                 char *err, size_t errcap)
{
    return ca_make(NULL, cn, days, pem_path, key_path, out, err, errcap);
}

int certs_ca_sub(const struct certs_ca *parent, const char *cn, unsigned days, const char *pem_path, const char *key_path,
                 struct certs_ca **out, char *err, size_t errcap)
{
    return ca_make(parent, cn, days, pem_path, key_path, out, err, errcap);
}

int certs_ca_chain_write(const struct certs_ca *ca, const char *path, char *err, size_t errcap)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!b)
        return cfail(err, errcap, "BIO_new");
    if (!PEM_write_bio_X509(b, ca->cert) || (ca->issuer && !PEM_write_bio_X509(b, ca->issuer)))
        cfail(err, errcap, "PEM_write_bio_X509");
    else
        rc = write_bio(b, path, 0644, err, errcap);
    BIO_free(b);
    return rc;
}

int certs_server(const struct certs_ca *ca, const char *const *names, size_t n, unsigned days, const char *pem_path,
                 const char *key_path, char *err, size_t errcap)
{
    if (!n)
        return cfail(err, errcap, "a server certificate needs a name");
    char san[2048];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(san); i++) {
        struct in_addr a;
        bool ip = inet_pton(AF_INET, names[i], &a) == 1;
        o += (size_t)snprintf(san + o, sizeof(san) - o, "%s%s:%s", i ? "," : "", ip ? "IP" : "DNS", names[i]);
    }
    if (o >= sizeof(san))
        return cfail(err, errcap, "%s: too many names", names[0]);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        return cfail(err, errcap, "%s: EC P-256 key", names[0]);
    X509 *x = cert_base(key, names[0], days);
    int rc = -1;
    if (!x)
        cfail(err, errcap, "%s: certificate", names[0]);
    else if (!X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
             add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
             add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
             add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
             add_ext(x, ca->cert, NID_subject_alt_name, san) < 0 ||
             add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
             add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
             !X509_sign(x, ca->key, EVP_sha256()))
        cfail(err, errcap, "%s: sign", names[0]);
    else
        rc = write_pair(x, ca->issuer ? ca->cert : NULL, key, pem_path, key_path, err, errcap);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

char *certs_ca_pem(const struct certs_ca *ca)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    if (b && PEM_write_bio_X509(b, ca->cert)) {
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (out = malloc((size_t)n + 1))) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

void certs_ca_free(struct certs_ca *ca)
{
    if (!ca)
        return;
    X509_free(ca->cert);
    X509_free(ca->issuer);
    EVP_PKEY_free(ca->key);
    free(ca);
}
