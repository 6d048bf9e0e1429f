/* Secure storage: small secrets (the conductor pre-shared secret, ...) sealed to the node's TPM.
 *
 * sealed_write() creates a sealed data object (TPM2_Create of a keyed-hash object without a scheme,
 * holding the secret as sensitive data, under the TPM's storage primary key; fixedTPM, fixedParent,
 * userWithAuth with an empty auth, noDA) and writes its public and private blobs to one file,
 * atomically, mode 0600. The private blob is encrypted by the primary key, so the file is useless on
 * any other TPM. sealed_read() loads the blobs under the primary and TPM2_Unseal()s the secret.
 *
 * File format (all TPM structures in TPM wire format, tss2-mu):
 *     "ZTPSEAL1"  TPM2B_PUBLIC  TPM2B_PRIVATE         (nothing after)
 *
 * Never logs the secret: events carry the path and lengths only.
 */
#ifndef ZTP_SEALED_H
#define ZTP_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "tpm.h"

#define SEALED_MAX 128 /* MAX_SYM_DATA: the largest sealable secret */

/* Seal `len` bytes (1..SEALED_MAX) to `tpm` into `path`. Returns 0, or -1 with a message in err. */
int sealed_write(struct tpm *tpm, const char *path, const uint8_t *secret, size_t len, char *err, size_t errcap);

/* Unseal `path` with `tpm` into `out` (room for `cap` bytes); sets *len. Returns 0, or -1 with a
 * message in err: missing file, not a sealed blob, sealed by another TPM, buffer too small. */
int sealed_read(struct tpm *tpm, const char *path, uint8_t *out, size_t cap, size_t *len, char *err, size_t errcap);

#endif
