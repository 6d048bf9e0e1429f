/* The router node's TPM through ESAPI (see tpm.h). */
#include "tpm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tcti_libtpms.h"
#include "ztp/log.h"
#include "ztp/util.h"

struct tpm {
    ESYS_CONTEXT *esys;
    TSS2_TCTI_CONTEXT *tcti;
    bool libtpms;        /* tcti is ours (tcti_libtpms_free), else tctildr's */
    ESYS_TR primary;     /* transient storage primary */
    ESYS_TR key;         /* persisted OCRA key, ESYS_TR_NONE until looked up */
    enum tpm_hash key_hash;
    char conf[128];      /* for log lines */
};

static const struct {
    const char *name;
    size_t size;
    TPMI_ALG_HASH alg;
} hashes[] = {
    [TPM_HASH_SHA1] = {"sha1", 20, TPM2_ALG_SHA1},
    [TPM_HASH_SHA256] = {"sha256", 32, TPM2_ALG_SHA256},
    [TPM_HASH_SHA512] = {"sha512", 64, TPM2_ALG_SHA512},
};

static bool hash_ok(enum tpm_hash h)
{
    return (unsigned)h < sizeof hashes / sizeof hashes[0];
}

const char *tpm_hash_name(enum tpm_hash h)
{
    return hash_ok(h) ? hashes[h].name : "?";
}

size_t tpm_hash_size(enum tpm_hash h)
{
    return hash_ok(h) ? hashes[h].size : 0;
}

const char *tpm_rc_str(TSS2_RC rc)
{
    return Tss2_RC_Decode(rc);
}

ESYS_CONTEXT *tpm_esys(struct tpm *tpm)
{
    return tpm->esys;
}

ESYS_TR tpm_primary(struct tpm *tpm)
{
    return tpm->primary;
}

static int create_primary(struct tpm *tpm, char *err, size_t errcap)
{
    TPM2B_SENSITIVE_CREATE insens = {0};
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                                TPMA_OBJECT_DECRYPT,
            .parameters.eccDetail = {
                .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
                .scheme = {.scheme = TPM2_ALG_NULL},
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = {.scheme = TPM2_ALG_NULL},
            },
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TSS2_RC rc = Esys_CreatePrimary(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                    &insens, &tmpl, &outside, &pcrs, &tpm->primary, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return errf(err, errcap, "TPM2_CreatePrimary (owner, ECC P-256 storage key): %s", tpm_rc_str(rc));
    return 0;
}

/* A process killed while it held objects in the TPM (a primary, a loaded key or sealed blob) leaves
 * them there: no resource manager sits between the node and its TPM (swtpm, libtpms), unlike
 * /dev/tpmrm0. After a few such kills every load fails with TPM_RC_OBJECT_MEMORY. This node is the
 * TPM's only user, so at open it flushes every transient object, as the resource manager would have
 * at the dead process's exit. Returns how many. */
static unsigned flush_transients(struct tpm *tpm)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    unsigned n = 0;
    TSS2_RC rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                    0x80000000u /* TPM2_TRANSIENT_FIRST, whose macro shifts a signed int */, TPM2_MAX_CAP_HANDLES, &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        log_warn("tpm.flush_failed", "what=get-capability error=\"%s\"", tpm_rc_str(rc));
        return 0;
    }
    for (UINT32 i = 0; i < cap->data.handles.count; i++) {
        TPM2_HANDLE h = cap->data.handles.handle[i];
        ESYS_TR tr = ESYS_TR_NONE;
        rc = Esys_TR_FromTPMPublic(tpm->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
        if (rc == TSS2_RC_SUCCESS)
            rc = Esys_FlushContext(tpm->esys, tr);
        if (rc == TSS2_RC_SUCCESS)
            n++;
        else
            log_warn("tpm.flush_failed", "handle=0x%08x error=\"%s\"", (unsigned)h, tpm_rc_str(rc));
    }
    Esys_Free(cap);
    if (n)
        log_info("tpm.flushed", "stale_objects=%u why=\"left by a process that did not close the TPM\"", n);
    return n;
}

int tpm_open(struct tpm **out, const char *conf, char *err, size_t errcap)
{
    *out = NULL;
    if (!conf || !*conf)
        return errf(err, errcap, "empty TPM configuration");
    /* tpm2-tss prints its own unstructured WARNING/ERROR lines on stderr, which would break the
     * daemon's logfmt stream; every failure is reported here instead. TSS2_LOG=all+warning (or
     * any value) in the environment brings them back for debugging. */
    setenv("TSS2_LOG", "all+none", 0);
    struct tpm *tpm = calloc(1, sizeof *tpm);
    if (!tpm)
        return errf(err, errcap, "out of memory");
    tpm->primary = ESYS_TR_NONE;
    tpm->key = ESYS_TR_NONE;
    snprintf(tpm->conf, sizeof tpm->conf, "%s", conf);

    TSS2_RC rc;
    if (strcmp(conf, "libtpms") == 0 || strncmp(conf, "libtpms:", 8) == 0) {
        tpm->libtpms = true;
        rc = tcti_libtpms_new(conf[7] == ':' ? conf + 8 : "", &tpm->tcti);
        if (rc != TSS2_RC_SUCCESS) {
            errf(err, errcap, "%s: in-process libtpms: %s%s", conf, tpm_rc_str(rc),
                 tcti_libtpms_active() ? " (libtpms is one TPM per process and it is open)" : "");
            free(tpm);
            return -1;
        }
    } else {
        rc = Tss2_TctiLdr_Initialize(conf, &tpm->tcti);
        if (rc != TSS2_RC_SUCCESS) {
            errf(err, errcap, "%s: TCTI: %s", conf, tpm_rc_str(rc));
            free(tpm);
            return -1;
        }
    }
    rc = Esys_Initialize(&tpm->esys, tpm->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        errf(err, errcap, "%s: Esys_Initialize: %s", conf, tpm_rc_str(rc));
        goto fail;
    }
    rc = Esys_Startup(tpm->esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
        errf(err, errcap, "%s: TPM2_Startup: %s", conf, tpm_rc_str(rc));
        goto fail;
    }
    unsigned flushed = flush_transients(tpm);
    if (create_primary(tpm, err, errcap) < 0)
        goto fail;
    log_info("tpm.opened", "tcti=\"%s\" startup=%s primary=ecc-p256 stale_objects_flushed=%u", tpm->conf,
             rc == TPM2_RC_INITIALIZE ? "already" : "clear", flushed);
    *out = tpm;
    return 0;
fail:
    tpm_close(tpm);
    return -1;
}

void tpm_close(struct tpm *tpm)
{
    if (!tpm)
        return;
    if (tpm->esys) {
        if (tpm->primary != ESYS_TR_NONE)
            Esys_FlushContext(tpm->esys, tpm->primary);
        if (tpm->libtpms)
            Esys_Shutdown(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR); /* orderly power-off of the in-process TPM */
        Esys_Finalize(&tpm->esys);
    }
    if (tpm->libtpms)
        tcti_libtpms_free(tpm->tcti);
    else if (tpm->tcti)
        Tss2_TctiLdr_Finalize(&tpm->tcti);
    free(tpm);
}

/* 1 when `handle` is a persistent object of this TPM, 0 when not, -1 on error. Asks
 * TPM2_GetCapability(HANDLES) rather than reading the public area, so a missing key is no error. */
static int persistent_present(struct tpm *tpm, TPM2_HANDLE handle)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    TSS2_RC rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, handle, 1,
                                    &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        log_error("tpm.getcap_failed", "rc=\"%s\"", tpm_rc_str(rc));
        return -1;
    }
    int found = cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle;
    Esys_Free(cap);
    return found;
}

/* Look up the persisted OCRA key and its scheme hash (cached in tpm->key). 1 found, 0 none, -1 error. */
static int key_lookup(struct tpm *tpm)
{
    if (tpm->key != ESYS_TR_NONE)
        return 1;
    int p = persistent_present(tpm, TPM_OCRA_KEY_HANDLE);
    if (p <= 0)
        return p;
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(tpm->esys, TPM_OCRA_KEY_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
    if (rc != TSS2_RC_SUCCESS) {
        log_error("tpm.key_lookup_failed", "handle=0x%08x rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        return -1;
    }
    TPM2B_PUBLIC *pub = NULL;
    rc = Esys_ReadPublic(tpm->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        log_error("tpm.key_lookup_failed", "handle=0x%08x rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        Esys_TR_Close(tpm->esys, &tr);
        return -1;
    }
    int found = -1;
    if (pub->publicArea.type == TPM2_ALG_KEYEDHASH &&
        pub->publicArea.parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_HMAC) {
        TPMI_ALG_HASH alg = pub->publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg;
        for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
            if (hashes[i].alg == alg) {
                tpm->key_hash = (enum tpm_hash)i;
                found = 1;
            }
    }
    Esys_Free(pub);
    if (found < 0) {
        log_error("tpm.key_unusable", "handle=0x%08x reason=\"not a keyed-hash HMAC key with a known hash\"",
                  TPM_OCRA_KEY_HANDLE);
        Esys_TR_Close(tpm->esys, &tr);
        return -1;
    }
    tpm->key = tr;
    return 1;
}

int tpm_hmac_key_present(struct tpm *tpm, enum tpm_hash *hash)
{
    int r = key_lookup(tpm);
    if (r == 1 && hash)
        *hash = tpm->key_hash;
    return r;
}

int tpm_provision_hmac_key(struct tpm *tpm, enum tpm_hash hash, const uint8_t *key, size_t keylen, char *err,
                           size_t errcap)
{
    if (!hash_ok(hash))
        return errf(err, errcap, "unknown hash");
    if (keylen == 0 || keylen > TPM_HMAC_KEY_MAX)
        return errf(err, errcap, "HMAC key length %zu not in 1..%d", keylen, TPM_HMAC_KEY_MAX);

    /* Replace whatever is persisted at the handle. */
    int p = persistent_present(tpm, TPM_OCRA_KEY_HANDLE);
    if (p < 0)
        return errf(err, errcap, "cannot list persistent handles");
    if (p == 1) {
        ESYS_TR old = tpm->key, none = ESYS_TR_NONE;
        TSS2_RC rc = TSS2_RC_SUCCESS;
        if (old == ESYS_TR_NONE)
            rc = Esys_TR_FromTPMPublic(tpm->esys, TPM_OCRA_KEY_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &old);
        if (rc == TSS2_RC_SUCCESS)
            rc = Esys_EvictControl(tpm->esys, ESYS_TR_RH_OWNER, old, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                   TPM_OCRA_KEY_HANDLE, &none);
        tpm->key = ESYS_TR_NONE; /* ESAPI drops the evicted object's ESYS_TR */
        if (rc != TSS2_RC_SUCCESS)
            return errf(err, errcap, "evict old key at 0x%08x: %s", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        log_info("tpm.key_evicted", "handle=0x%08x", TPM_OCRA_KEY_HANDLE);
    }

    TPM2B_SENSITIVE_CREATE insens = {0};
    insens.sensitive.data.size = (UINT16)keylen;
    memcpy(insens.sensitive.data.buffer, key, keylen);
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
                                TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA,
            .parameters.keyedHashDetail.scheme = {.scheme = TPM2_ALG_HMAC,
                                                  .details.hmac.hashAlg = hashes[hash].alg},
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR obj = ESYS_TR_NONE, persisted = ESYS_TR_NONE;
    int ret = -1;

    TSS2_RC rc = Esys_Create(tpm->esys, tpm->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &insens, &tmpl,
                             &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    explicit_bzero(&insens, sizeof insens);
    if (rc != TSS2_RC_SUCCESS) {
        errf(err, errcap, "TPM2_Create (keyed-hash %s): %s", hashes[hash].name, tpm_rc_str(rc));
        goto out;
    }
    rc = Esys_Load(tpm->esys, tpm->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &obj);
    if (rc != TSS2_RC_SUCCESS) {
        errf(err, errcap, "TPM2_Load (keyed-hash): %s", tpm_rc_str(rc));
        goto out;
    }
    rc = Esys_EvictControl(tpm->esys, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM_OCRA_KEY_HANDLE, &persisted);
    if (rc != TSS2_RC_SUCCESS) {
        errf(err, errcap, "TPM2_EvictControl (persist at 0x%08x): %s", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        goto out;
    }
    tpm->key = persisted;
    tpm->key_hash = hash;
    log_info("tpm.key_provisioned", "handle=0x%08x hash=%s key_len=%zu", TPM_OCRA_KEY_HANDLE, hashes[hash].name,
             keylen);
    ret = 0;
out:
    if (obj != ESYS_TR_NONE)
        Esys_FlushContext(tpm->esys, obj);
    Esys_Free(priv);
    Esys_Free(pub);
    return ret;
}

int tpm_manufacture_from_file(struct tpm *tpm, enum tpm_hash hash, const char *path, char *err, size_t errcap)
{
    int present = tpm_hmac_key_present(tpm, NULL);
    if (present < 0)
        return errf(err, errcap, "cannot tell whether an OCRA key is persisted");
    if (present == 1) {
        log_info("tpm.manufactured", "result=already handle=0x%08x", TPM_OCRA_KEY_HANDLE);
        return 0;
    }
    /* O_NOFOLLOW: never read through a symlink someone put in place of the key file */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errf(err, errcap, "manufacturing key file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errf(err, errcap, "manufacturing key file %s: not a regular file", path);
    }
    if ((st.st_mode & 07777) != 0600 || st.st_uid != geteuid()) {
        close(fd);
        return errf(err, errcap, "manufacturing key file %s: mode %04o owner %u, refused (must be 0600, ours)", path,
                    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
    }
    char buf[2 * TPM_HMAC_KEY_MAX + 64];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            explicit_bzero(buf, sizeof buf);
            return errf(err, errcap, "manufacturing key file %s: %s", path, strerror(e));
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[len] = 0;
    char *s = buf;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
        s[--l] = 0;
    uint8_t key[TPM_HMAC_KEY_MAX];
    size_t keylen = 0;
    int r = len == sizeof buf - 1 ? -1 : hex_decode(s, key, sizeof key, &keylen);
    explicit_bzero(buf, sizeof buf);
    if (r < 0 || keylen == 0) {
        explicit_bzero(key, sizeof key);
        return errf(err, errcap, "manufacturing key file %s: not 1..%d bytes of hex", path, TPM_HMAC_KEY_MAX);
    }
    r = tpm_provision_hmac_key(tpm, hash, key, keylen, err, errcap);
    explicit_bzero(key, sizeof key);
    if (r < 0)
        return -1;
    if (unlink(path) < 0)
        log_warn("tpm.manufacture_unlink_failed", "path=\"%s\" error=\"%s\"", path, strerror(errno));
    log_info("tpm.manufactured", "result=ok handle=0x%08x hash=%s key_len=%zu file=removed", TPM_OCRA_KEY_HANDLE,
             hashes[hash].name, keylen);
    return 1;
}

static int hmac_sequence(struct tpm *tpm, TPMI_ALG_HASH alg, const uint8_t *msg, size_t len, TPM2B_DIGEST **res)
{
    TPM2B_AUTH seq_auth = {0};
    ESYS_TR seq = ESYS_TR_NONE;
    TSS2_RC rc = Esys_HMAC_Start(tpm->esys, tpm->key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &seq_auth, alg,
                                 &seq);
    if (rc != TSS2_RC_SUCCESS) {
        log_error("tpm.hmac_failed", "handle=0x%08x step=start rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        return -1;
    }
    TPM2B_MAX_BUFFER buf;
    size_t off = 0;
    /* Updates of full chunks, then SequenceComplete with the rest (1..1024 bytes). */
    while (len - off > TPM_HMAC_CHUNK) {
        buf.size = TPM_HMAC_CHUNK;
        memcpy(buf.buffer, msg + off, TPM_HMAC_CHUNK);
        off += TPM_HMAC_CHUNK;
        rc = Esys_SequenceUpdate(tpm->esys, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf);
        if (rc != TSS2_RC_SUCCESS) {
            log_error("tpm.hmac_failed", "handle=0x%08x step=update rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
            Esys_FlushContext(tpm->esys, seq);
            return -1;
        }
    }
    buf.size = (UINT16)(len - off);
    memcpy(buf.buffer, msg + off, len - off);
    TPMT_TK_HASHCHECK *ticket = NULL;
    rc = Esys_SequenceComplete(tpm->esys, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf, ESYS_TR_RH_NULL,
                               res, &ticket);
    Esys_Free(ticket);
    if (rc != TSS2_RC_SUCCESS) {
        log_error("tpm.hmac_failed", "handle=0x%08x step=complete rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
        Esys_FlushContext(tpm->esys, seq);
        return -1;
    }
    return 0; /* SequenceComplete flushed the sequence object */
}

int tpm_hmac(struct tpm *tpm, enum tpm_hash hash, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen)
{
    if (!tpm || !hash_ok(hash) || !out || !outlen || (!msg && len)) {
        log_error("tpm.hmac_failed", "reason=\"bad arguments\"");
        return -1;
    }
    if (*outlen < hashes[hash].size) {
        log_error("tpm.hmac_failed", "reason=\"output buffer too small\" need=%zu have=%zu", hashes[hash].size,
                  *outlen);
        return -1;
    }
    int k = key_lookup(tpm);
    if (k <= 0) {
        if (k == 0)
            log_error("tpm.hmac_failed", "handle=0x%08x reason=\"no OCRA key provisioned\"", TPM_OCRA_KEY_HANDLE);
        return -1;
    }
    if (hash != tpm->key_hash) {
        log_error("tpm.hmac_failed", "handle=0x%08x reason=\"hash is not the key's\" want=%s key=%s",
                  TPM_OCRA_KEY_HANDLE, hashes[hash].name, hashes[tpm->key_hash].name);
        return -1;
    }
    TPM2B_DIGEST *res = NULL;
    if (len <= TPM_HMAC_CHUNK) {
        TPM2B_MAX_BUFFER buf;
        buf.size = (UINT16)len;
        if (len)
            memcpy(buf.buffer, msg, len);
        TSS2_RC rc = Esys_HMAC(tpm->esys, tpm->key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf,
                               hashes[hash].alg, &res);
        if (rc != TSS2_RC_SUCCESS) {
            log_error("tpm.hmac_failed", "handle=0x%08x rc=\"%s\"", TPM_OCRA_KEY_HANDLE, tpm_rc_str(rc));
            return -1;
        }
    } else if (hmac_sequence(tpm, hashes[hash].alg, msg, len, &res) < 0) {
        return -1;
    }
    if (res->size != hashes[hash].size) {
        log_error("tpm.hmac_failed", "reason=\"unexpected digest size\" size=%u", res->size);
        Esys_Free(res);
        return -1;
    }
    memcpy(out, res->buffer, res->size);
    *outlen = res->size;
    Esys_Free(res);
    return 0;
}

int tpm_hash_from_ocra(enum ocra_hash h, enum tpm_hash *out)
{
    switch (h) {
    case OCRA_SHA1: *out = TPM_HASH_SHA1; return 0;
    case OCRA_SHA256: *out = TPM_HASH_SHA256; return 0;
    case OCRA_SHA512: *out = TPM_HASH_SHA512; return 0;
    }
    return -1;
}

int tpm_ocra_hmac(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen)
{
    enum tpm_hash th;
    if (!ctx || tpm_hash_from_ocra(h, &th) < 0) {
        log_error("tpm.hmac_failed", "reason=\"unknown OCRA hash\"");
        return -1;
    }
    return tpm_hmac(ctx, th, msg, len, out, outlen);
}
