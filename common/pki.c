/* The router certificate of the onboarding (see ztp/pki.h): EC P-256 keys, CSRs, signing by the
 * conductor CA and the checks of an issued certificate. OpenSSL 3 (EVP, X509, no deprecated EC_KEY).
 * Every PEM parser reads through a memory BIO bounded by len; nothing here logs. */
#include "ztp/pki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/psk.h"
#include "ztp/util.h"

#define PKI_ORG "ztp-lab router"
#define PKI_LOAD_MAX (1u << 20)   /* CA files and keys read by the helpers */

int pki_identity(const char *router, const char *node, char *out, size_t cap)
{
    if (!psk_name_ok(router) || !psk_name_ok(node))
        return -1;
    int n = snprintf(out, cap, "%s.%s", router, node);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The SAN URI naming router/node. */
static int san_uri(const char *router, const char *node, char *out, size_t cap)
{
    int n = snprintf(out, cap, "ssr://%s/%s", router, node);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* True when key is an EC key on P-256. */
static bool key_is_p256(const EVP_PKEY *key)
{
    char group[32];
    size_t gl = 0;
    if (!key || !EVP_PKEY_is_a(key, "EC"))
        return false;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &gl) != 1)
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

EVP_PKEY *pki_key_generate(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int pki_key_scalar(const EVP_PKEY *key, uint8_t out[PKI_SCALAR_LEN])
{
    BIGNUM *d = NULL;
    if (!key_is_p256(key) || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
        return -1;
    int ok = BN_bn2binpad(d, out, PKI_SCALAR_LEN) == PKI_SCALAR_LEN;
    BN_clear_free(d);
    return ok ? 0 : -1;
}

EVP_PKEY *pki_key_from_scalar(const uint8_t scalar[PKI_SCALAR_LEN])
{
    EVP_PKEY *key = NULL;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bctx = BN_CTX_new();
    BIGNUM *d = BN_secure_new();
    EC_POINT *pub = g ? EC_POINT_new(g) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char pubbuf[65];
    if (!g || !bctx || !d || !pub || !bld || !BN_bin2bn(scalar, PKI_SCALAR_LEN, d))
        goto out;
    /* the scalar must be in [1, n-1] */
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    if (EC_POINT_mul(g, pub, d, NULL, NULL, bctx) != 1 ||
        EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED, pubbuf, sizeof pubbuf, bctx) != sizeof pubbuf)
        goto out;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pubbuf, sizeof pubbuf) != 1 ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        goto out;
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 || EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
    }
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);   /* holds a copy of d: the builder allocates it from the secure heap */
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(pub);
    BN_clear_free(d);
    BN_CTX_free(bctx);
    EC_GROUP_free(g);
    return key;
}

/* The subject O=ztp-lab router, OU=router, CN=router.node. NULL on failure. */
static X509_NAME *subject_name(const char *router, const char *node)
{
    char id[PKI_IDENTITY_MAX];
    X509_NAME *n = X509_NAME_new();
    if (!n || pki_identity(router, node, id, sizeof id) < 0 ||
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)PKI_ORG, -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)router, -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)id, -1, -1, 0) != 1) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

/* A memory BIO's contents into a malloc'd NUL-terminated string. */
static int bio_to_string(BIO *b, char **out, size_t *out_len)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return -1;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return -1;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    if (out_len)
        *out_len = (size_t)n;
    return 0;
}

/* A read-only memory BIO over exactly len bytes. */
static BIO *bio_over(const char *buf, size_t len)
{
    if (!buf || len == 0 || len > (size_t)INT32_MAX)
        return NULL;
    return BIO_new_mem_buf(buf, (int)len);
}

int pki_csr_build(EVP_PKEY *key, const char *router, const char *node, char **pem, size_t *pem_len, char *err,
                  size_t errcap)
{
    char uri[PKI_IDENTITY_MAX + 16];
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    X509_EXTENSION *ext = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    BIO *b = NULL;
    int rc = -1;
    *pem = NULL;
    if (!key_is_p256(key))
        return errf(err, errcap, "csr: the key is not EC P-256");
    if (!psk_name_ok(router) || !psk_name_ok(node) || san_uri(router, node, uri, sizeof uri) < 0)
        return errf(err, errcap, "csr: router and node names must be 1..%d of [A-Za-z0-9._-]", PSK_NAME_MAX);
    char val[sizeof uri + 8];
    snprintf(val, sizeof val, "URI:%s", uri);
    if (!(req = X509_REQ_new()) || !(name = subject_name(router, node)) || X509_REQ_set_version(req, 0) != 1 ||
        X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
        !(ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, val)) || !(exts = sk_X509_EXTENSION_new_null()) ||
        !sk_X509_EXTENSION_push(exts, ext)) {
        errf(err, errcap, "csr: building the request failed");
        goto out;
    }
    ext = NULL;   /* owned by exts */
    if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        errf(err, errcap, "csr: signing the request failed");
        goto out;
    }
    if (!(b = BIO_new(BIO_s_mem())) || PEM_write_bio_X509_REQ(b, req) != 1 || bio_to_string(b, pem, pem_len) < 0) {
        errf(err, errcap, "csr: PEM encoding failed");
        goto out;
    }
    rc = 0;
out:
    BIO_free(b);
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

/* The single CN of name as UTF-8 into out. 0, or -1 (none, several, NUL inside, too long). */
static int name_cn(const X509_NAME *name, char *out, size_t cap)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return -1;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, s);
    int rc = -1;
    if (n > 0 && (size_t)n < cap && memchr(u, '\0', (size_t)n) == NULL) {
        memcpy(out, u, (size_t)n);
        out[n] = '\0';
        rc = 0;
    }
    OPENSSL_free(u);
    return rc;
}

/* Every subjectAltName entry must be the URI want (a printable copy of the first offending entry goes
 * to err). *seen tells whether the URI was there. */
static int san_check(const GENERAL_NAMES *gens, const char *want, bool *seen, const char *what, char *err,
                     size_t errcap)
{
    *seen = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_URI)
            return errf(err, errcap, "%s: subjectAltName holds an entry other than the URI %s", what, want);
        const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
        int ul = ASN1_STRING_length(u);
        const unsigned char *ud = ASN1_STRING_get0_data(u);
        if (ul < 0 || (size_t)ul != strlen(want) || memcmp(ud, want, (size_t)ul) != 0) {
            char shown[96];
            size_t k = 0;
            for (int j = 0; j < ul && k + 1 < sizeof shown; j++)
                shown[k++] = ud[j] >= 0x20 && ud[j] < 0x7f ? (char)ud[j] : '?';
            shown[k] = '\0';
            return errf(err, errcap, "%s: subjectAltName URI %s, not %s", what, shown, want);
        }
        *seen = true;
    }
    return 0;
}

/* The CN names want_router.want_node; err says what it names instead (router/node split on the OU). */
static int cn_check(const X509_NAME *name, const char *want_router, const char *want_node, const char *what,
                    char *err, size_t errcap)
{
    char want[PKI_IDENTITY_MAX], cn[PKI_IDENTITY_MAX];
    if (pki_identity(want_router, want_node, want, sizeof want) < 0)
        return errf(err, errcap, "%s: bad expected router/node name", what);
    if (name_cn(name, cn, sizeof cn) < 0)
        return errf(err, errcap, "%s: the subject has no single printable CN", what);
    if (strcmp(cn, want) == 0)
        return 0;
    for (char *p = cn; *p; p++)   /* make it printable for the message */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    char ou[PKI_IDENTITY_MAX];
    int i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1);
    const ASN1_STRING *s = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
    int ol = s ? ASN1_STRING_length(s) : -1;
    if (ol > 0 && (size_t)ol < sizeof ou) {
        memcpy(ou, ASN1_STRING_get0_data(s), (size_t)ol);
        ou[ol] = '\0';
        size_t l = (size_t)ol;
        if (strncmp(cn, ou, l) == 0 && cn[l] == '.' && cn[l + 1] && psk_name_ok(ou))
            return errf(err, errcap, "%s: names router %s node %s, not %s/%s", what, ou, cn + l + 1, want_router,
                        want_node);
    }
    return errf(err, errcap, "%s: names %s, not %s", what, cn, want);
}

int pki_csr_check(const char *pem, size_t len, const char *want_router, const char *want_node, X509_REQ **req,
                  char *err, size_t errcap)
{
    char uri[PKI_IDENTITY_MAX + 16];
    *req = NULL;
    if (!pem || len == 0)
        return errf(err, errcap, "csr: empty");
    if (len > PKI_PEM_MAX)
        return errf(err, errcap, "csr: larger than %d bytes", PKI_PEM_MAX);
    if (!psk_name_ok(want_router) || !psk_name_ok(want_node) || san_uri(want_router, want_node, uri, sizeof uri) < 0)
        return errf(err, errcap, "csr: bad expected router/node name");
    BIO *b = bio_over(pem, len);
    X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = NULL;
    int rc = -1;
    if (!r) {
        errf(err, errcap, "csr: not a PEM certificate request");
        goto out;
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(r);
    if (!pub) {
        errf(err, errcap, "csr: no usable public key");
        goto out;
    }
    if (X509_REQ_verify(r, pub) != 1) {
        errf(err, errcap, "csr: signature does not verify");
        goto out;
    }
    if (!key_is_p256(pub)) {
        errf(err, errcap, "csr: the key is not EC P-256");
        goto out;
    }
    if (cn_check(X509_REQ_get_subject_name(r), want_router, want_node, "csr", err, errcap) < 0)
        goto out;
    exts = X509_REQ_get_extensions(r);
    int crit = -1;
    gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL) : NULL;
    if (!gens && crit != -1) {   /* -1: absent; anything else: several or unparsable */
        errf(err, errcap, "csr: unreadable subjectAltName");
        goto out;
    }
    bool seen;
    if (gens && san_check(gens, uri, &seen, "csr", err, errcap) < 0)
        goto out;
    *req = r;
    r = NULL;
    rc = 0;
out:
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(r);
    ERR_clear_error();
    return rc;
}

/* Add one extension made from its config text (issuer/subject in ctx). */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* 16 random bytes, top bit clear (positive) and second bit set (always 16 octets), as the serial. */
static ASN1_INTEGER *random_serial(char *hex, size_t cap)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return NULL;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    char *h = bn ? BN_bn2hex(bn) : NULL;
    if (!h || strlen(h) >= cap) {
        ASN1_INTEGER_free(ai);
        ai = NULL;
    } else {
        snprintf(hex, cap, "%s", h);
    }
    OPENSSL_free(h);
    BN_free(bn);
    return ai;
}

/* Sign a certificate for subject/pubkey with extensions given as (nid, value) pairs ending with 0. */
static X509 *make_cert(X509 *issuer, EVP_PKEY *issuer_key, X509_NAME *subject, EVP_PKEY *pub, long days,
                       const int *nids, const char *const *values, char *serial_hex, size_t serial_cap)
{
    X509 *x = X509_new();
    char hexbuf[64];
    ASN1_INTEGER *serial = random_serial(serial_hex ? serial_hex : hexbuf, serial_hex ? serial_cap : sizeof hexbuf);
    X509V3_CTX ctx;
    bool ok = x && serial && X509_set_version(x, X509_VERSION_3) == 1 && X509_set_serialNumber(x, serial) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(x), -60) && X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) &&
              X509_set_subject_name(x, subject) == 1 &&
              X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) == 1 &&
              X509_set_pubkey(x, pub) == 1;
    if (ok) {
        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        for (size_t i = 0; ok && nids[i]; i++)
            ok = add_ext(x, &ctx, nids[i], values[i]) == 0;
    }
    ok = ok && X509_sign(x, issuer_key, EVP_sha256()) > 0;
    ASN1_INTEGER_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int cert_to_pem(X509 *x, char **pem, size_t *pem_len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = b && PEM_write_bio_X509(b, x) == 1 ? bio_to_string(b, pem, pem_len) : -1;
    BIO_free(b);
    return rc;
}

int pki_cert_pem(X509 *cert, char **pem, size_t *pem_len)
{
    *pem = NULL;
    return cert ? cert_to_pem(cert, pem, pem_len) : -1;
}

int pki_sign_csr(X509_REQ *req, X509 *ca_cert, EVP_PKEY *ca_key, unsigned days, const char *router, const char *node,
                 char **pem, size_t *pem_len, char *serial_hex, size_t serial_cap, char *err, size_t errcap)
{
    char uri[PKI_IDENTITY_MAX + 16], san[PKI_IDENTITY_MAX + 24];
    *pem = NULL;
    if (!req || !ca_cert || !ca_key)
        return errf(err, errcap, "sign: no request or CA");
    if (serial_cap < 41)
        return errf(err, errcap, "sign: serial buffer too small");
    if (days == 0 || days > 36500)
        return errf(err, errcap, "sign: validity must be 1..36500 days");
    if (X509_check_private_key(ca_cert, ca_key) != 1) {
        ERR_clear_error();
        return errf(err, errcap, "sign: the CA key does not match the CA certificate");
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!key_is_p256(pub))
        return errf(err, errcap, "sign: the request's key is not EC P-256");
    X509_NAME *subject = subject_name(router, node);
    if (!subject || san_uri(router, node, uri, sizeof uri) < 0) {
        X509_NAME_free(subject);
        return errf(err, errcap, "sign: bad router/node name");
    }
    snprintf(san, sizeof san, "URI:%s", uri);
    static const int nids[] = {NID_basic_constraints, NID_key_usage,   NID_ext_key_usage, NID_subject_key_identifier,
                               NID_authority_key_identifier, NID_subject_alt_name, 0};
    const char *const values[] = {"critical,CA:FALSE", "critical,digitalSignature", "clientAuth,serverAuth", "hash",
                                  "keyid,issuer", san, NULL};
    X509 *x = make_cert(ca_cert, ca_key, subject, pub, (long)days, nids, values, serial_hex, serial_cap);
    X509_NAME_free(subject);
    int rc = x && cert_to_pem(x, pem, pem_len) == 0 ? 0 : errf(err, errcap, "sign: OpenSSL could not sign");
    X509_free(x);
    ERR_clear_error();
    return rc;
}

int pki_ca_generate(const char *cn, unsigned days, X509 **cert, EVP_PKEY **key, char *err, size_t errcap)
{
    *cert = NULL;
    *key = NULL;
    X509_NAME *n = X509_NAME_new();
    EVP_PKEY *k = pki_key_generate();
    if (!n || !k || !cn || !*cn ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(n);
        EVP_PKEY_free(k);
        return errf(err, errcap, "ca: could not make a key or name");
    }
    static const int nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier, 0};
    const char *const values[] = {"critical,CA:TRUE", "critical,keyCertSign,cRLSign", "hash", NULL};
    X509 *x = make_cert(NULL, k, n, k, days ? (long)days : 1, nids, values, NULL, 0);
    X509_NAME_free(n);
    if (!x) {
        EVP_PKEY_free(k);
        ERR_clear_error();
        return errf(err, errcap, "ca: OpenSSL could not self-sign");
    }
    *cert = x;
    *key = k;
    return 0;
}

/* Never prompt for a pass phrase: an encrypted key is refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* ---- certificates parsed once (see ztp/pki.h) ---- */

#define CERT_CACHE 64
static const char pem_begin[] = "-----BEGIN ", cert_begin[] = "-----BEGIN CERTIFICATE-----",
                  cert_end[] = "-----END CERTIFICATE-----";
static struct cert_entry {
    char *pem;  /* the PEM block, BEGIN to END */
    size_t len;
    X509 *x;
} cert_cache[CERT_CACHE];
static size_t cert_cache_next;
static pthread_mutex_t cert_cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* One PEM block (BEGIN CERTIFICATE ... END CERTIFICATE) -> a new reference, or NULL. */
static X509 *cert_block(const char *blk, size_t len)
{
    X509 *x = NULL;
    pthread_mutex_lock(&cert_cache_mu);
    for (size_t i = 0; i < CERT_CACHE && !x; i++) {
        struct cert_entry *e = &cert_cache[i];
        if (e->x && e->len == len && !memcmp(e->pem, blk, len) && X509_up_ref(e->x) == 1)
            x = e->x;
    }
    pthread_mutex_unlock(&cert_cache_mu);
    if (x)
        return x;
    BIO *b = bio_over(blk, len);
    x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    char *copy = x ? malloc(len) : NULL;
    if (!copy || X509_up_ref(x) != 1) {
        free(copy);
        return x;
    }
    memcpy(copy, blk, len);
    pthread_mutex_lock(&cert_cache_mu);
    struct cert_entry *e = &cert_cache[cert_cache_next];
    cert_cache_next = (cert_cache_next + 1) % CERT_CACHE;
    X509 *old = e->x;
    char *old_pem = e->pem;
    *e = (struct cert_entry){.pem = copy, .len = len, .x = x};
    pthread_mutex_unlock(&cert_cache_mu);
    X509_free(old);
    free(old_pem);
    return x;
}

/* The next "CERTIFICATE" block at or after *pos: its start and length; 0 at the end, -1 when the next
 * PEM block is of another type or has no END line. */
static int next_cert_block(const char *pem, size_t len, size_t *pos, const char **blk, size_t *blen)
{
    const char *p = memmem(pem + *pos, len - *pos, pem_begin, sizeof pem_begin - 1);
    if (!p)
        return 0;
    size_t off = (size_t)(p - pem);
    if (len - off < sizeof cert_begin - 1 || memcmp(p, cert_begin, sizeof cert_begin - 1) != 0)
        return -1;
    const char *end = memmem(p, len - off, cert_end, sizeof cert_end - 1);
    if (!end)
        return -1;
    *blk = p;
    *blen = (size_t)(end - p) + sizeof cert_end - 1;
    *pos = off + *blen;
    return 1;
}

int pki_certs_parse(const char *pem, size_t len, STACK_OF(X509) **out)
{
    *out = NULL;
    if (!pem || len > PKI_LOAD_MAX)
        return -1;
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (!sk)
        return -1;
    size_t pos = 0, blen;
    const char *blk;
    int r;
    while ((r = next_cert_block(pem, len, &pos, &blk, &blen)) > 0) {
        X509 *x = cert_block(blk, blen);
        if (!x || !sk_X509_push(sk, x)) {
            X509_free(x);
            r = -1;
            break;
        }
    }
    if (r < 0) {
        sk_X509_pop_free(sk, X509_free);
        return -1;
    }
    *out = sk;
    return sk_X509_num(sk);
}

int pki_certs_load_file(const char *path, STACK_OF(X509) **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    if (read_file_max(path, PKI_LOAD_MAX, &text, &len) < 0)
        return -1;
    int n = pki_certs_parse(text, len, out);
    free(text);
    return n;
}

int pki_store_load_file(X509_STORE *st, const char *path)
{
    STACK_OF(X509) *sk = NULL;
    if (pki_certs_load_file(path, &sk) <= 0)
        return X509_STORE_load_file(st, path);
    int ok = 1;
    for (int i = 0; ok && i < sk_X509_num(sk); i++)
        ok = X509_STORE_add_cert(st, sk_X509_value(sk, i)) == 1;
    sk_X509_pop_free(sk, X509_free);
    return ok;
}

/* The first PEM certificate (want_key false) or private key of a bounded text, or NULL with err. */
static void *pem_load(const char *pem, size_t len, bool want_key, char *err, size_t errcap)
{
    const char *what = want_key ? "key" : "certificate";
    if (len > PKI_LOAD_MAX) {
        errf(err, errcap, "%s: larger than %u bytes", what, PKI_LOAD_MAX);
        return NULL;
    }
    void *o = NULL;
    if (want_key) {
        BIO *b = bio_over(pem, len);
        o = b ? (void *)PEM_read_bio_PrivateKey(b, NULL, no_password, NULL) : NULL;
        BIO_free(b);
    } else {
        size_t pos = 0, blen;
        const char *blk;
        if (next_cert_block(pem, len, &pos, &blk, &blen) > 0) {
            o = cert_block(blk, blen);
        } else { /* another PEM type first (PEM_read_bio_X509 skips what it does not want) */
            BIO *b = bio_over(pem, len);
            o = b ? (void *)PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
            BIO_free(b);
        }
    }
    ERR_clear_error();
    if (!o)
        errf(err, errcap, "%s: not a%s PEM %s", what, want_key ? "n unencrypted" : "",
             want_key ? "private key" : "certificate");
    return o;
}

X509 *pki_cert_parse(const char *pem, size_t len, char *err, size_t errcap)
{
    return pem_load(pem, len, false, err, errcap);
}

EVP_PKEY *pki_key_parse(const char *pem, size_t len, char *err, size_t errcap)
{
    return pem_load(pem, len, true, err, errcap);
}

int pki_cert_identity(X509 *cert, char *out, size_t cap)
{
    return cert ? name_cn(X509_get_subject_name(cert), out, cap) : -1;
}

/* Every certificate of a PEM bundle into a new store. NULL when none. (A bundle with other PEM blocks
 * than certificates is read the way OpenSSL reads it, skipping them, without the cache.) */
static X509_STORE *store_from_pem(const char *pem, size_t len)
{
    STACK_OF(X509) *sk = NULL;
    if (len > PKI_LOAD_MAX)
        return NULL;
    X509_STORE *st = X509_STORE_new();
    int n = 0;
    if (st && pki_certs_parse(pem, len, &sk) >= 0) {
        for (int i = 0; i < sk_X509_num(sk); i++)
            n += X509_STORE_add_cert(st, sk_X509_value(sk, i)) == 1;
        sk_X509_pop_free(sk, X509_free);
    } else if (st) {
        BIO *b = bio_over(pem, len);
        X509 *x;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            n += X509_STORE_add_cert(st, x) == 1;
            X509_free(x);
        }
        BIO_free(b);
    }
    ERR_clear_error();
    if (st && n == 0) {
        X509_STORE_free(st);
        st = NULL;
    }
    return st;
}

int pki_cert_check(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len, const char *want_router,
                   const char *want_node, EVP_PKEY *key, char *err, size_t errcap)
{
    if (cert_len > PKI_PEM_MAX)
        return errf(err, errcap, "certificate: larger than %d bytes", PKI_PEM_MAX);
    X509 *x = pki_cert_parse(cert_pem, cert_len, err, errcap);
    if (!x)
        return -1;
    int rc = pki_cert_check_x509(x, ca_pem, ca_len, want_router, want_node, key, err, errcap);
    X509_free(x);
    return rc;
}

int pki_cert_check_x509(X509 *x, const char *ca_pem, size_t ca_len, const char *want_router, const char *want_node,
                        EVP_PKEY *key, char *err, size_t errcap)
{
    char uri[PKI_IDENTITY_MAX + 16];
    if (!psk_name_ok(want_router) || !psk_name_ok(want_node) || san_uri(want_router, want_node, uri, sizeof uri) < 0)
        return errf(err, errcap, "certificate: bad expected router/node name");
    X509_STORE *st = store_from_pem(ca_pem, ca_len);
    X509_STORE_CTX *ctx = st ? X509_STORE_CTX_new() : NULL;
    GENERAL_NAMES *gens = NULL;
    int rc = -1;
    if (!st) {
        errf(err, errcap, "certificate: the CA text holds no PEM certificate");
        goto out;
    }
    if (!ctx || X509_STORE_CTX_init(ctx, st, x, NULL) != 1 || X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1) {
        errf(err, errcap, "certificate: cannot set up the verification");
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        errf(err, errcap, "certificate: does not verify against the CA: %s", X509_verify_cert_error_string(e));
        goto out;
    }
    if (cn_check(X509_get_subject_name(x), want_router, want_node, "certificate", err, errcap) < 0)
        goto out;
    int crit = 0;
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    bool seen = false;
    if (gens && san_check(gens, uri, &seen, "certificate", err, errcap) < 0)
        goto out;
    if (!seen) {
        errf(err, errcap, "certificate: no subjectAltName URI %s", uri);
        goto out;
    }
    if (key && EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1) {
        errf(err, errcap, "certificate: carries another public key than ours");
        goto out;
    }
    rc = 0;
out:
    GENERAL_NAMES_free(gens);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    ERR_clear_error();
    return rc;
}
