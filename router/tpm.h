/* The router node's TPM, through tpm2-tss ESAPI (no hand-marshalled commands).
 *
 *   - tpm_open(): connect (in-process libtpms or any tctildr TCTI such as swtpm), TPM2_Startup(CLEAR)
 *     (TPM2_RC_INITIALIZE, "already started", is fine), and create the storage primary key in the
 *     owner hierarchy (ECC P-256, restricted decrypt, AES-128-CFB; derived from the owner seed, so
 *     the same key every time on the same TPM). Blobs sealed under it (sealed.h) load only on this TPM.
 *   - "Manufacturing": tpm_provision_hmac_key() imports the device's OCRA secret as a keyed-hash
 *     object (TPM2_Create with sensitive data under the primary: sign, not restricted, userWithAuth
 *     with an empty auth, fixedTPM/fixedParent, noDA, HMAC scheme = the suite's hash) and persists
 *     it with TPM2_EvictControl at TPM_OCRA_KEY_HANDLE, replacing any key already there.
 *   - From then on tpm_hmac() computes TPM2_HMAC (or HMAC_Start/SequenceUpdate/SequenceComplete
 *     for messages over 1024 bytes) with the persisted key: the secret never leaves the TPM.
 *
 * TCTI configuration strings:
 *   "libtpms:DIR"  in-process libtpms with its NV state in directory DIR (must exist)
 *   "libtpms" or "libtpms:"  in-process libtpms, state in memory only (lost at tpm_close)
 *   anything else  handed to Tss2_TctiLdr_Initialize(), e.g. "swtpm:path=/run/lab/r1a.tpm"
 *                  (the swtpm TCTI uses PATH.ctrl as the control channel)
 * libtpms is process-global: one "libtpms" TPM may be open per process (tcti_libtpms.h).
 * Closing a libtpms TPM sends TPM2_Shutdown(CLEAR) and terminates it (a "power off"); opening it
 * again from the same DIR is a reboot. Closing a tctildr TPM only disconnects.
 *
 * tpm2-tss's own stderr diagnostics are off unless TSS2_LOG is set (tpm_open sets TSS2_LOG=all+none
 * when it is unset), so the daemon's stderr stays logfmt.
 * Logs carry handles, names, algorithms and lengths, never key material. Not thread-safe.
 */
#ifndef ZTP_TPM_H
#define ZTP_TPM_H

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_esys.h>

#include "ztp/ocra.h"

#define TPM_OCRA_KEY_HANDLE 0x81010001u /* persistent handle of the device's OCRA HMAC key */
#define TPM_HMAC_KEY_MAX 128            /* MAX_SYM_DATA: the largest keyed-hash secret */
#define TPM_HMAC_MAX 64                 /* SHA-512 */
#define TPM_HMAC_CHUNK 1024             /* MAX_DIGEST_BUFFER: longer messages use a sequence */

enum tpm_hash { TPM_HASH_SHA1, TPM_HASH_SHA256, TPM_HASH_SHA512 };

struct tpm;

/* Name of a hash ("sha1", "sha256", "sha512"), its digest size, and its TPM2_ALG_ id. */
const char *tpm_hash_name(enum tpm_hash h);
size_t tpm_hash_size(enum tpm_hash h);

/* Open the TPM named by `conf` (see above). Returns 0 and sets *out, or -1 with a message in err. */
int tpm_open(struct tpm **out, const char *conf, char *err, size_t errcap);
/* Flush and disconnect (libtpms: TPM2_Shutdown(CLEAR) and terminate). NULL is fine. */
void tpm_close(struct tpm *tpm);

/* Manufacturing: import `key` (1..TPM_HMAC_KEY_MAX bytes) as the persisted OCRA HMAC key for `hash`
 * at TPM_OCRA_KEY_HANDLE (an existing key there is evicted first). Returns 0 or -1 with err. */
int tpm_provision_hmac_key(struct tpm *tpm, enum tpm_hash hash, const uint8_t *key, size_t keylen, char *err,
                           size_t errcap);

/* First-boot manufacturing from a key file (ssr-node --manufacture-ocra-key FILE): when no OCRA key
 * is persisted yet, read the key (hex, surrounding blanks ignored) from `path`, provision it for
 * `hash` as tpm_provision_hmac_key() does, then unlink `path` and log event=tpm.manufactured. The
 * file must be a regular file (not a symlink) owned by the caller with mode exactly 0600, else it is
 * refused (nothing read). When a key is already persisted nothing happens and the file, if any, is
 * left alone (a restart after manufacturing). Returns 1 manufactured, 0 already manufactured, -1 with
 * one line in err (the key is never in it). The key bytes are wiped after use. */
int tpm_manufacture_from_file(struct tpm *tpm, enum tpm_hash hash, const char *path, char *err, size_t errcap);

/* Whether a usable OCRA key is persisted: 1 (and *hash set when non-NULL), 0 none, -1 error. */
int tpm_hmac_key_present(struct tpm *tpm, enum tpm_hash *hash);

/* HMAC-`hash`(persisted key, msg) computed by the TPM. `out` has *outlen bytes of room (at least
 * tpm_hash_size(hash)); on success *outlen is set to the digest size and 0 is returned. Returns -1
 * (logged, reason only) when no key is provisioned, `hash` is not the key's scheme hash, or the TPM
 * fails. `msg` may be NULL when len == 0. */
int tpm_hmac(struct tpm *tpm, enum tpm_hash hash, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen);

/* The OCRA HMAC callback (ocra_hmac_fn in ztp/ocra.h) over the TPM: `ctx` is the struct tpm *.
 *     ocra_compute(&suite, &in, tpm_ocra_hmac, tpm, resp, sizeof resp, err, sizeof err);
 * Fails (-1) for a suite hash other than the provisioned key's. */
int tpm_ocra_hmac(void *ctx, enum ocra_hash h, const uint8_t *msg, size_t len, uint8_t *out, size_t *outlen);
/* OCRA's hash as the TPM layer's; -1 for an unknown one. */
int tpm_hash_from_ocra(enum ocra_hash h, enum tpm_hash *out);

/* For the TPM layer's own modules (sealed.c): the ESAPI context and the storage primary key. */
ESYS_CONTEXT *tpm_esys(struct tpm *tpm);
ESYS_TR tpm_primary(struct tpm *tpm);
/* A TSS2_RC as text (tss2-rc decoder). */
const char *tpm_rc_str(TSS2_RC rc);

#endif
