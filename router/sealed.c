/* Secrets sealed to the node's TPM (see sealed.h). */
#include "sealed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/util.h"

#define SEALED_MAGIC "ZTPSEAL1"
#define SEALED_MAGIC_LEN 8
#define SEALED_FILE_MAX (SEALED_MAGIC_LEN + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE))

int sealed_write(struct tpm *tpm, const char *path, const uint8_t *secret, size_t len, char *err, size_t errcap)
{
    if (len == 0 || len > SEALED_MAX)
        return errf(err, errcap, "secret length %zu not in 1..%d", len, SEALED_MAX);
    TPM2B_SENSITIVE_CREATE insens = {0};
    insens.sensitive.data.size = (UINT16)len;
    memcpy(insens.sensitive.data.buffer, secret, len);
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes =
                TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA,
            .parameters.keyedHashDetail.scheme = {.scheme = TPM2_ALG_NULL},
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    TSS2_RC rc = Esys_Create(tpm_esys(tpm), tpm_primary(tpm), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &insens,
                             &tmpl, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    explicit_bzero(&insens, sizeof insens);
    if (rc != TSS2_RC_SUCCESS)
        return errf(err, errcap, "TPM2_Create (sealed data): %s", tpm_rc_str(rc));

    uint8_t buf[SEALED_FILE_MAX];
    size_t off = SEALED_MAGIC_LEN;
    memcpy(buf, SEALED_MAGIC, SEALED_MAGIC_LEN);
    rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof buf, &off);
    if (rc == TSS2_RC_SUCCESS)
        rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof buf, &off);
    Esys_Free(priv);
    Esys_Free(pub);
    if (rc != TSS2_RC_SUCCESS)
        return errf(err, errcap, "marshal sealed blob: %s", tpm_rc_str(rc));
    int r = atomic_write_file(path, buf, off, 0600);
    if (r < 0)
        return errf(err, errcap, "%s: %s", path, strerror(-r));
    log_info("tpm.sealed_write", "path=%s secret_len=%zu file_len=%zu", path, len, off);
    return 0;
}

int sealed_read(struct tpm *tpm, const char *path, uint8_t *out, size_t cap, size_t *len, char *err, size_t errcap)
{
    char *file = NULL;
    size_t flen = 0;
    int r = read_file_max(path, SEALED_FILE_MAX, &file, &flen);
    if (r < 0)
        return errf(err, errcap, "%s: %s", path, r == -EFBIG ? "too large for a sealed blob" : strerror(-r));

    TPM2B_PUBLIC pub = {0};
    TPM2B_PRIVATE priv = {0};
    size_t off = SEALED_MAGIC_LEN;
    const uint8_t *b = (const uint8_t *)file;
    TSS2_RC rc = TSS2_MU_RC_BAD_SIZE;
    if (flen > SEALED_MAGIC_LEN && memcmp(b, SEALED_MAGIC, SEALED_MAGIC_LEN) == 0) {
        rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(b, flen, &off, &pub);
        if (rc == TSS2_RC_SUCCESS)
            rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(b, flen, &off, &priv);
    }
    free(file);
    if (rc != TSS2_RC_SUCCESS || off != flen || pub.publicArea.type != TPM2_ALG_KEYEDHASH)
        return errf(err, errcap, "%s: not a sealed blob", path);

    ESYS_TR obj = ESYS_TR_NONE;
    rc = Esys_Load(tpm_esys(tpm), tpm_primary(tpm), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
    if (rc != TSS2_RC_SUCCESS)
        return errf(err, errcap, "%s: does not load on this TPM (sealed elsewhere or damaged): %s", path,
                    tpm_rc_str(rc));
    TPM2B_SENSITIVE_DATA *data = NULL;
    rc = Esys_Unseal(tpm_esys(tpm), obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data);
    Esys_FlushContext(tpm_esys(tpm), obj);
    if (rc != TSS2_RC_SUCCESS)
        return errf(err, errcap, "%s: TPM2_Unseal: %s", path, tpm_rc_str(rc));
    int ret = 0;
    if (data->size > cap) {
        ret = errf(err, errcap, "%s: secret of %u bytes does not fit in %zu", path, data->size, cap);
    } else {
        memcpy(out, data->buffer, data->size);
        *len = data->size;
        log_info("tpm.sealed_read", "path=%s secret_len=%u", path, data->size);
    }
    explicit_bzero(data, sizeof *data);
    Esys_Free(data);
    return ret;
}
