/* common/pki.c: the router certificate of the onboarding. CSR build -> check round trip; CSRs for
 * another router or node, with a tampered signature, truncated or garbage are refused with a clear
 * message; signing gives a v3 certificate with the listed extensions, a 16-octet positive serial and
 * the CSR's public key; pki_cert_check accepts it and refuses another CA's, an expired one, another
 * identity and another key; the private scalar round-trips. */
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "ztp/pki.h"

static X509 *g_ca, *g_other_ca;
static EVP_PKEY *g_ca_key, *g_other_key;
static char *g_ca_pem, *g_other_pem;

static void setup(void)
{
    char err[160];
    size_t l;
    if (g_ca)
        return;
    CU_ASSERT_EQUAL_FATAL(pki_ca_generate("ztp-lab conductor CA", 2, &g_ca, &g_ca_key, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(pki_ca_generate("ztp-lab conductor CA", 2, &g_other_ca, &g_other_key, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(pki_cert_pem(g_ca, &g_ca_pem, &l), 0);
    CU_ASSERT_EQUAL_FATAL(pki_cert_pem(g_other_ca, &g_other_pem, &l), 0);
}

/* A checked request for router/node built with key. */
static X509_REQ *checked_csr(EVP_PKEY *key, const char *router, const char *node)
{
    char *pem = NULL, err[160] = "";
    size_t len = 0;
    X509_REQ *req = NULL;
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(key, router, node, &pem, &len, err, sizeof err), 0);
    int rc = pki_csr_check(pem, len, router, node, &req, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  csr check: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    free(pem);
    return req;
}

/* Sign for R1/r1a with the test CA; returns the PEM. */
static char *issue(EVP_PKEY *key, char serial[41])
{
    char *pem = NULL, err[160] = "";
    size_t len;
    X509_REQ *req = checked_csr(key, "R1", "r1a");
    int rc = pki_sign_csr(req, g_ca, g_ca_key, 30, "R1", "r1a", &pem, &len, serial, 41, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  sign: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    X509_REQ_free(req);
    return pem;
}

static void test_identity(void)
{
    char id[PKI_IDENTITY_MAX];
    ZTP_ASSERT_EQ_INT(pki_identity("R1", "r1a", id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R1.r1a");
    ZTP_ASSERT_EQ_INT(pki_identity("R1", "r1a", id, 6), -1);   /* no room for the NUL */
    ZTP_ASSERT_EQ_INT(pki_identity("R 1", "r1a", id, sizeof id), -1);
    ZTP_ASSERT_EQ_INT(pki_identity("R1", "", id, sizeof id), -1);
}

static void test_scalar_round_trip(void)
{
    uint8_t d[PKI_SCALAR_LEN], d2[PKI_SCALAR_LEN];
    EVP_PKEY *k = pki_key_generate();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    ZTP_ASSERT_EQ_INT(pki_key_scalar(k, d), 0);
    EVP_PKEY *k2 = pki_key_from_scalar(d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(k, k2), 1);   /* same public key */
    ZTP_ASSERT_EQ_INT(pki_key_scalar(k2, d2), 0);
    CU_ASSERT(memcmp(d, d2, sizeof d) == 0);
    /* the rebuilt key signs a CSR that checks */
    X509_REQ *req = checked_csr(k2, "R1", "r1a");
    X509_REQ_free(req);
    /* 0 and n (the group order) are not private keys; 1 is */
    uint8_t zero[PKI_SCALAR_LEN] = {0}, one[PKI_SCALAR_LEN] = {0}, order[PKI_SCALAR_LEN];
    CU_ASSERT_PTR_NULL(pki_key_from_scalar(zero));
    one[PKI_SCALAR_LEN - 1] = 1;
    EVP_PKEY *k1 = pki_key_from_scalar(one);
    CU_ASSERT_PTR_NOT_NULL(k1);
    BIGNUM *n = NULL;
    CU_ASSERT_EQUAL_FATAL(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"), 64);
    BN_bn2binpad(n, order, sizeof order);
    CU_ASSERT_PTR_NULL(pki_key_from_scalar(order));
    BN_free(n);
    /* not a P-256 key */
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    ZTP_ASSERT_EQ_INT(pki_key_scalar(x, d), -1);
    EVP_PKEY_free(x);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k);
}

static void test_csr_round_trip(void)
{
    EVP_PKEY *k = pki_key_generate();
    char *pem = NULL, err[160] = "";
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, "R1", "r1a", &pem, &len, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(len, strlen(pem));
    CU_ASSERT(strncmp(pem, "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0);
    X509_REQ *req = NULL;
    ZTP_ASSERT_EQ_INT(pki_csr_check(pem, len, "R1", "r1a", &req, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), k), 1);
    /* subject O / OU / CN as pki.h says */
    char buf[128];
    X509_NAME_oneline(X509_REQ_get_subject_name(req), buf, sizeof buf);
    ZTP_ASSERT_EQ_STR(buf, "/O=ztp-lab router/OU=R1/CN=R1.r1a");
    X509_REQ_free(req);
    /* a key that is not P-256 cannot make a CSR */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *p2 = NULL;
    ZTP_ASSERT_EQ_INT(pki_csr_build(rsa, "R1", "r1a", &p2, &len, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(p2);
    ZTP_ASSERT_EQ_INT(pki_csr_build(k, "R1", "bad name", &p2, &len, err, sizeof err), -1);
    EVP_PKEY_free(rsa);
    free(pem);
    EVP_PKEY_free(k);
}

static void test_csr_other_identity(void)
{
    EVP_PKEY *k = pki_key_generate();
    char *pem = NULL, err[160] = "";
    size_t len = 0;
    X509_REQ *req = NULL;
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, "R2", "r2a", &pem, &len, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(pki_csr_check(pem, len, "R1", "r1a", &req, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(req);
    ZTP_ASSERT_EQ_STR(err, "csr: names router R2 node r2a, not R1/r1a");
    free(pem);
    /* the other node of the same router */
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, "R1", "r1b", &pem, &len, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(pki_csr_check(pem, len, "R1", "r1a", &req, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "csr: names router R1 node r1b, not R1/r1a");
    free(pem);
    EVP_PKEY_free(k);
}

/* A CSR whose CN is right but whose SAN URI names another node (made by hand). */
static void test_csr_san_mismatch(void)
{
    EVP_PKEY *k = pki_key_generate();
    X509_REQ *req = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"R1.r1a", -1, -1, 0);
    X509_REQ_set_subject_name(req, n);
    X509_REQ_set_pubkey(req, k);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "URI:ssr://R1/r1b"));
    X509_REQ_add_extensions(req, exts);
    X509_REQ_sign(req, k, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char *data, err[160] = "";
    long len = BIO_get_mem_data(b, &data);
    X509_REQ *out = NULL;
    ZTP_ASSERT_EQ_INT(pki_csr_check(data, (size_t)len, "R1", "r1a", &out, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "csr: subjectAltName URI ssr://R1/r1b, not ssr://R1/r1a");
    BIO_free(b);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(n);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
}

static void test_csr_tampered(void)
{
    EVP_PKEY *k = pki_key_generate();
    char *pem = NULL, err[160] = "";
    size_t len = 0;
    X509_REQ *req = NULL;
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, "R1", "r1a", &pem, &len, err, sizeof err), 0);
    /* decode, flip one bit of the signature, re-encode */
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    BIO_free(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    const ASN1_BIT_STRING *sig;
    X509_REQ_get0_signature(r, &sig, NULL);
    unsigned char *sd = (unsigned char *)(uintptr_t)ASN1_STRING_get0_data(sig);
    sd[ASN1_STRING_length(sig) - 1] ^= 0x01;
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, r);
    char *data;
    long tl = BIO_get_mem_data(b, &data);
    ZTP_ASSERT_EQ_INT(pki_csr_check(data, (size_t)tl, "R1", "r1a", &req, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "csr: signature does not verify");
    CU_ASSERT_PTR_NULL(req);
    BIO_free(b);
    X509_REQ_free(r);
    free(pem);
    EVP_PKEY_free(k);
}

static void test_csr_garbage(void)
{
    EVP_PKEY *k = pki_key_generate();
    char *pem = NULL, err[160] = "";
    size_t len = 0;
    X509_REQ *req = NULL;
    CU_ASSERT_EQUAL_FATAL(pki_csr_build(k, "R1", "r1a", &pem, &len, err, sizeof err), 0);
    /* every truncation, in a buffer of exactly that size (ASan sees any over-read) */
    for (size_t cut = 0; cut < len; cut += 7) {
        char *t = malloc(cut ? cut : 1);
        memcpy(t, pem, cut);
        err[0] = '\0';
        ZTP_ASSERT_EQ_INT(pki_csr_check(t, cut, "R1", "r1a", &req, err, sizeof err), -1);
        CU_ASSERT(err[0] != '\0');
        free(t);
    }
    ZTP_ASSERT_EQ_INT(pki_csr_check("garbage", 7, "R1", "r1a", &req, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "csr: not a PEM certificate request");
    const char *hdr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    ZTP_ASSERT_EQ_INT(pki_csr_check(hdr, strlen(hdr), "R1", "r1a", &req, err, sizeof err), -1);
    /* too large */
    char *big = malloc(PKI_PEM_MAX + 1);
    memset(big, 'A', PKI_PEM_MAX + 1);
    ZTP_ASSERT_EQ_INT(pki_csr_check(big, PKI_PEM_MAX + 1, "R1", "r1a", &req, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "larger than") != NULL);
    free(big);
    /* a certificate is not a request; a request for an RSA key is refused after its signature checks */
    setup();
    ZTP_ASSERT_EQ_INT(pki_csr_check(g_ca_pem, strlen(g_ca_pem), "R1", "r1a", &req, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(req);
    free(pem);
    EVP_PKEY_free(k);
}

static void test_sign_extensions(void)
{
    setup();
    EVP_PKEY *k = pki_key_generate();
    char serial[41];
    char *pem = issue(k, serial);
    X509 *x = pki_cert_parse(pem, strlen(pem), NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    ZTP_ASSERT_EQ_INT(X509_get_version(x), X509_VERSION_3);
    /* serial: positive, 16 octets, equal to serial_hex */
    const ASN1_INTEGER *ai = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    CU_ASSERT_FALSE(BN_is_negative(bn));
    ZTP_ASSERT_EQ_INT(BN_num_bytes(bn), 16);
    char *hex = BN_bn2hex(bn);
    ZTP_ASSERT_EQ_STR(hex, serial);
    ZTP_ASSERT_EQ_INT(strlen(serial), 32);
    OPENSSL_free(hex);
    BN_free(bn);
    /* the CSR's public key */
    CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
    /* issuer = CA subject, subject canonical */
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(g_ca)), 0);
    char id[PKI_IDENTITY_MAX];
    ZTP_ASSERT_EQ_INT(pki_cert_identity(x, id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "R1.r1a");
    /* validity: notBefore <= now - 59 s, notAfter ~ now + 30 days */
    int pday, psec;
    CU_ASSERT_EQUAL(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    ZTP_ASSERT_EQ_INT(pday, 30);
    CU_ASSERT(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    /* extensions */
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bc);
    CU_ASSERT_FALSE(bc->ca);
    ZTP_ASSERT_EQ_INT(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ku);
    ZTP_ASSERT_EQ_INT(crit, 1);
    ZTP_ASSERT_EQ_INT(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    ASN1_BIT_STRING_free(ku);
    ZTP_ASSERT_EQ_INT(X509_get_extended_key_usage(x), XKU_SSL_CLIENT | XKU_SSL_SERVER);
    CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(x));
    CU_ASSERT_PTR_NOT_NULL(X509_get0_authority_key_id(x));
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(x), *caskid = X509_get0_subject_key_id(g_ca);
    CU_ASSERT(akid && caskid && ASN1_OCTET_STRING_cmp(akid, caskid) == 0);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gens);
    ZTP_ASSERT_EQ_INT(sk_GENERAL_NAME_num(gens), 1);
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
    ZTP_ASSERT_EQ_INT(g->type, GEN_URI);
    ZTP_ASSERT_EQ_STR((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), "ssr://R1/r1a");
    GENERAL_NAMES_free(gens);
    /* two issues: two serials */
    char serial2[41];
    char *pem2 = issue(k, serial2);
    CU_ASSERT(strcmp(serial, serial2) != 0);
    free(pem2);
    /* refusals: mismatched CA key, bad days, small serial buffer */
    X509_REQ *req = checked_csr(k, "R1", "r1a");
    char *p3 = NULL, err[160];
    size_t l3;
    ZTP_ASSERT_EQ_INT(pki_sign_csr(req, g_ca, g_other_key, 30, "R1", "r1a", &p3, &l3, serial2, 41, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "sign: the CA key does not match the CA certificate");
    ZTP_ASSERT_EQ_INT(pki_sign_csr(req, g_ca, g_ca_key, 0, "R1", "r1a", &p3, &l3, serial2, 41, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(pki_sign_csr(req, g_ca, g_ca_key, 30, "R1", "r1a", &p3, &l3, serial2, 40, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(p3);
    X509_REQ_free(req);
    X509_free(x);
    free(pem);
    EVP_PKEY_free(k);
}

/* Re-sign x with notAfter in the past. */
static char *expired_copy(const char *pem)
{
    X509 *x = pki_cert_parse(pem, strlen(pem), NULL, 0);
    X509_gmtime_adj(X509_getm_notBefore(x), -7200);
    X509_gmtime_adj(X509_getm_notAfter(x), -3600);
    X509_sign(x, g_ca_key, EVP_sha256());
    char *out = NULL;
    size_t l;
    pki_cert_pem(x, &out, &l);
    X509_free(x);
    return out;
}

static void test_cert_check(void)
{
    setup();
    EVP_PKEY *k = pki_key_generate(), *other = pki_key_generate();
    char serial[41], err[200] = "";
    char *pem = issue(k, serial);
    size_t pl = strlen(pem), cl = strlen(g_ca_pem);
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, g_ca_pem, cl, "R1", "r1a", k, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, g_ca_pem, cl, "R1", "r1a", NULL, err, sizeof err), 0);   /* no key */
    /* a bundle holding the other CA first still chains */
    char bundle[8192];
    snprintf(bundle, sizeof bundle, "%s%s", g_other_pem, g_ca_pem);
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, bundle, strlen(bundle), "R1", "r1a", k, err, sizeof err), 0);
    /* another CA (same name, other key) */
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, g_other_pem, strlen(g_other_pem), "R1", "r1a", k, err, sizeof err), -1);
    CU_ASSERT(strncmp(err, "certificate: does not verify against the CA: ", 45) == 0);
    /* another identity */
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, g_ca_pem, cl, "R1", "r1b", k, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "certificate: names router R1 node r1a, not R1/r1b");
    /* another key */
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, g_ca_pem, cl, "R1", "r1a", other, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "certificate: carries another public key than ours");
    /* expired */
    char *old = expired_copy(pem);
    ZTP_ASSERT_EQ_INT(pki_cert_check(old, strlen(old), g_ca_pem, cl, "R1", "r1a", k, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "certificate: does not verify against the CA: certificate has expired");
    free(old);
    /* garbage, truncated, no CA */
    ZTP_ASSERT_EQ_INT(pki_cert_check("junk", 4, g_ca_pem, cl, "R1", "r1a", k, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl / 2, g_ca_pem, cl, "R1", "r1a", k, err, sizeof err), -1);
    ZTP_ASSERT_EQ_INT(pki_cert_check(pem, pl, "junk", 4, "R1", "r1a", k, err, sizeof err), -1);
    ZTP_ASSERT_EQ_STR(err, "certificate: the CA text holds no PEM certificate");
    /* the CA certificate itself is no router certificate */
    ZTP_ASSERT_EQ_INT(pki_cert_check(g_ca_pem, cl, g_ca_pem, cl, "R1", "r1a", NULL, err, sizeof err), -1);
    free(pem);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}

static void test_loaders(void)
{
    setup();
    char err[160];
    /* the CA key round-trips through PEM; an encrypted key is refused without a prompt */
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, g_ca_key, NULL, NULL, 0, NULL, NULL);
    char *data;
    long l = BIO_get_mem_data(b, &data);
    EVP_PKEY *k = pki_key_parse(data, (size_t)l, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(k);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(k, g_ca_key), 1);
    EVP_PKEY_free(k);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, g_ca_key, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)(uintptr_t) "pass");
    l = BIO_get_mem_data(b, &data);
    CU_ASSERT_PTR_NULL(pki_key_parse(data, (size_t)l, err, sizeof err));
    ZTP_ASSERT_EQ_STR(err, "key: not an unencrypted PEM private key");
    BIO_free(b);
    CU_ASSERT_PTR_NULL(pki_key_parse("x", 1, err, sizeof err));
    CU_ASSERT_PTR_NULL(pki_cert_parse("x", 1, err, sizeof err));
    ZTP_ASSERT_EQ_STR(err, "certificate: not a PEM certificate");
    X509 *x = pki_cert_parse(g_ca_pem, strlen(g_ca_pem), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(x);
    char id[PKI_IDENTITY_MAX];
    ZTP_ASSERT_EQ_INT(pki_cert_identity(x, id, sizeof id), 0);
    ZTP_ASSERT_EQ_STR(id, "ztp-lab conductor CA");
    ZTP_ASSERT_EQ_INT(pki_cert_identity(x, id, 4), -1);
    X509_free(x);
}

/* Certificates parsed once: the same block gives the same object; bundles; other PEM blocks; files. */
static void test_cert_cache(void)
{
    setup();
    char err[160];
    X509 *a = pki_cert_parse(g_ca_pem, strlen(g_ca_pem), err, sizeof err);
    X509 *b = pki_cert_parse(g_ca_pem, strlen(g_ca_pem), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(a, b); /* one parse, two references */
    CU_ASSERT_EQUAL(X509_cmp(a, g_ca), 0);
    X509_free(b);
    X509_free(a);

    size_t n1 = strlen(g_ca_pem), n2 = strlen(g_other_pem);
    char *bundle = malloc(n1 + n2 + 32);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bundle);
    snprintf(bundle, n1 + n2 + 32, "comment\n%s\n%s", g_ca_pem, g_other_pem);
    STACK_OF(X509) *sk = NULL;
    ZTP_ASSERT_EQ_INT(pki_certs_parse(bundle, strlen(bundle), &sk), 2);
    CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 0), g_ca), 0);
    CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 1), g_other_ca), 0);
    sk_X509_pop_free(sk, X509_free);
    ZTP_ASSERT_EQ_INT(pki_certs_parse("no PEM here", 11, &sk), 0);
    sk_X509_pop_free(sk, X509_free);
    /* a truncated block, or another PEM type: not for the cache (-1) */
    ZTP_ASSERT_EQ_INT(pki_certs_parse(g_ca_pem, n1 - 30, &sk), -1);
    CU_ASSERT_PTR_NULL(sk);
    const char *key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    snprintf(bundle, n1 + n2 + 32, "%s%s", g_ca_pem, key);
    ZTP_ASSERT_EQ_INT(pki_certs_parse(bundle, strlen(bundle), &sk), -1);
    /* ... but the first certificate of such a text still parses, and the checks' CA bundle too */
    X509 *c = pki_cert_parse(bundle, strlen(bundle), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(c);
    X509_free(c);

    /* a file through the cache into a store, as X509_STORE_load_file would */
    char path[] = "/tmp/test_pki_cacheXXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, g_other_pem, n2), (ssize_t)n2);
    close(fd);
    X509_STORE *st = X509_STORE_new();
    ZTP_ASSERT_EQ_INT(pki_store_load_file(st, path), 1);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    ZTP_ASSERT_EQ_INT(sk_X509_OBJECT_num(objs), 1);
    X509_STORE_free(st);
    CU_ASSERT_EQUAL(pki_certs_load_file(path, &sk), 1);
    sk_X509_pop_free(sk, X509_free);
    unlink(path);
    st = X509_STORE_new();
    ZTP_ASSERT_EQ_INT(pki_store_load_file(st, path), 0); /* gone: OpenSSL's loader says no */
    X509_STORE_free(st);
    free(bundle);
}

static void teardown(void)
{
    X509_free(g_ca);
    X509_free(g_other_ca);
    EVP_PKEY_free(g_ca_key);
    EVP_PKEY_free(g_other_key);
    free(g_ca_pem);
    free(g_other_pem);
}

static void test_last_teardown(void)
{
    teardown();
    CU_PASS("freed");
}

static const struct ztp_test pki_tests[] = {
    {"identity R1.r1a", test_identity},
    {"private scalar round trip", test_scalar_round_trip},
    {"CSR build -> check round trip", test_csr_round_trip},
    {"CSR for another router/node refused", test_csr_other_identity},
    {"CSR whose SAN names another node refused", test_csr_san_mismatch},
    {"CSR with a tampered signature refused", test_csr_tampered},
    {"truncated / garbage / oversized CSR refused", test_csr_garbage},
    {"signing: v3, serial, key, extensions", test_sign_extensions},
    {"certificate check: CA, expiry, identity, key", test_cert_check},
    {"PEM loaders", test_loaders},
    {"certificates parsed once (cache, bundles, files)", test_cert_cache},
    {"teardown", test_last_teardown},
    {NULL, NULL},
};

int main(void)
{
    static const struct ztp_suite suites[] = {{"pki", pki_tests}, {NULL, NULL}};
    return ztp_cunit_run(suites);
}
