/* An in-process TCTI for tpm2-tss over libtpms: the TPM 2.0 simulator runs inside this process and
 * every command that ESAPI transmits is executed synchronously with TPMLIB_Process().
 *
 * libtpms is a process-global TPM: there is ONE instance per process. Only one context of this TCTI
 * may exist at a time (a second init fails with TSS2_TCTI_RC_NOT_PERMITTED); finalizing the context
 * terminates the TPM (TPMLIB_Terminate), and a new init starts it again from its NV state, which is
 * how tests simulate a reboot. Unit tests and fleet runs (one node per process) use it; lab runs use
 * swtpm through the standard "swtpm" TCTI (see tpm.h).
 *
 * Config string: the directory that holds the TPM's NV state ("permall", "volatilestate",
 * "savestate", each written with atomic_write_file(), mode 0600; the directory must exist), or the
 * empty string / NULL for a TPM whose state lives only in memory and is lost at finalize. The state
 * files are libtpms' own portable blobs, not swtpm's (swtpm adds a header): a directory is not
 * interchangeable between the two.
 *
 * The context follows the TCTI conventions of tss2_tcti.h (TSS2_TCTI_CONTEXT_COMMON_V2):
 * transmit runs the command, receive hands back the response (response == NULL queries its size),
 * cancel has nothing to cancel (commands complete inside transmit) and answers
 * TSS2_TCTI_RC_NOT_IMPLEMENTED as tpm2-tss's device TCTI does, getPollHandles reports zero handles
 * (a response is always ready), setLocality sets the locality libtpms sees.
 * Not thread-safe (neither is libtpms).
 */
#ifndef ZTP_TCTI_LIBTPMS_H
#define ZTP_TCTI_LIBTPMS_H

#include <stddef.h>
#include <tss2/tss2_tcti.h>

/* The standard TCTI init function: with ctx == NULL, sets *size to the context size and returns
 * TSS2_RC_SUCCESS; otherwise initializes the caller-allocated context of *size bytes, chooses TPM
 * 2.0, registers the NV callbacks and runs TPMLIB_MainInit() (the TPM still needs TPM2_Startup). */
TSS2_RC Tss2_Tcti_Libtpms_Init(TSS2_TCTI_CONTEXT *ctx, size_t *size, const char *conf);

/* Convenience: allocate and initialize a context (free it with tcti_libtpms_free()). */
TSS2_RC tcti_libtpms_new(const char *conf, TSS2_TCTI_CONTEXT **out);
/* Finalize (terminates the in-process TPM) and free. NULL is fine. */
void tcti_libtpms_free(TSS2_TCTI_CONTEXT *ctx);

/* Whether the process-global libtpms instance is currently initialized. */
int tcti_libtpms_active(void);

#endif
