/* In-process TCTI over libtpms (see tcti_libtpms.h). */
#include "tcti_libtpms.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_memory.h>
#include <libtpms/tpm_nvfilename.h>
#include <libtpms/tpm_types.h>

#include "ztp/daemon.h"
#include "ztp/log.h"

#define TCTI_LIBTPMS_MAGIC 0x5a54504c49425450ULL /* "ZTPLIBTP" */
#define NV_BLOB_MAX (4u << 20)                   /* a permall blob is ~100 KiB */

enum tcti_state { TCTI_IDLE, TCTI_RESPONSE_READY };

struct tcti_libtpms {
    TSS2_TCTI_CONTEXT_COMMON_V2 common;
    enum tcti_state state;
    unsigned char *resp; /* owned by libtpms' allocator (TPM_Free) */
    uint32_t resp_len, resp_cap;
};

/* The process-global TPM: libtpms has one instance per process. */
#define MEM_BLOBS 3
static struct {
    bool active;
    bool mem; /* state in memory only */
    char dir[PATH_MAX];
    uint8_t locality;
    struct {
        char name[32];
        unsigned char *data;
        uint32_t len;
    } blob[MEM_BLOBS];
} g;

/* ---- NV callbacks ---- */

static TPM_RESULT nv_init(void)
{
    return TPM_SUCCESS;
}

static int mem_find(const char *name)
{
    for (int i = 0; i < MEM_BLOBS; i++)
        if (g.blob[i].data && strcmp(g.blob[i].name, name) == 0)
            return i;
    return -1;
}

static void mem_clear(void)
{
    for (int i = 0; i < MEM_BLOBS; i++) {
        free(g.blob[i].data);
        memset(&g.blob[i], 0, sizeof g.blob[i]);
    }
}

static int nv_path(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", g.dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static TPM_RESULT nv_load(unsigned char **data, uint32_t *length, uint32_t tpm_number, const char *name)
{
    *data = NULL;
    *length = 0;
    if (g.mem) {
        int i = mem_find(name);
        if (i < 0)
            return TPM_RETRY; /* nothing stored yet: libtpms manufactures a fresh TPM */
        if (TPM_Malloc(data, g.blob[i].len) != TPM_SUCCESS)
            return TPM_FAIL;
        memcpy(*data, g.blob[i].data, g.blob[i].len);
        *length = g.blob[i].len;
        return TPM_SUCCESS;
    }
    char path[PATH_MAX + 32];
    if (nv_path(path, sizeof path, name) < 0)
        return TPM_FAIL;
    char *buf = NULL;
    size_t len = 0;
    int r = read_file_max(path, NV_BLOB_MAX, &buf, &len);
    if (r == -ENOENT)
        return TPM_RETRY;
    if (r < 0) {
        log_error("tpm.nv_load_failed", "name=%s err=\"%s\"", name, strerror(-r));
        return TPM_FAIL;
    }
    if (TPM_Malloc(data, (uint32_t)(len ? len : 1)) != TPM_SUCCESS) {
        free(buf);
        return TPM_FAIL;
    }
    memcpy(*data, buf, len);
    free(buf);
    *length = (uint32_t)len;
    return TPM_SUCCESS;
}

static TPM_RESULT nv_store(const unsigned char *data, uint32_t length, uint32_t tpm_number, const char *name)
{
    if (g.mem) {
        int i = mem_find(name);
        if (i < 0) {
            for (i = 0; i < MEM_BLOBS && g.blob[i].data; i++)
                ;
            if (i == MEM_BLOBS || strlen(name) >= sizeof g.blob[i].name)
                return TPM_FAIL;
        }
        unsigned char *copy = malloc(length ? length : 1);
        if (!copy)
            return TPM_FAIL;
        memcpy(copy, data, length);
        free(g.blob[i].data);
        snprintf(g.blob[i].name, sizeof g.blob[i].name, "%s", name);
        g.blob[i].data = copy;
        g.blob[i].len = length;
        return TPM_SUCCESS;
    }
    char path[PATH_MAX + 32];
    if (nv_path(path, sizeof path, name) < 0)
        return TPM_FAIL;
    int r = atomic_write_file(path, data, length, 0600);
    if (r < 0) {
        log_error("tpm.nv_store_failed", "name=%s err=\"%s\"", name, strerror(-r));
        return TPM_FAIL;
    }
    return TPM_SUCCESS;
}

static TPM_RESULT nv_delete(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
    if (g.mem) {
        int i = mem_find(name);
        if (i < 0)
            return must_exist ? TPM_FAIL : TPM_SUCCESS;
        free(g.blob[i].data);
        memset(&g.blob[i], 0, sizeof g.blob[i]);
        return TPM_SUCCESS;
    }
    char path[PATH_MAX + 32];
    if (nv_path(path, sizeof path, name) < 0)
        return TPM_FAIL;
    if (unlink(path) < 0 && (errno != ENOENT || must_exist))
        return TPM_FAIL;
    return TPM_SUCCESS;
}

static TPM_RESULT io_init(void)
{
    return TPM_SUCCESS;
}

static TPM_RESULT io_locality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
    *loc = g.locality;
    return TPM_SUCCESS;
}

static TPM_RESULT io_pp(TPM_BOOL *pp, uint32_t tpm_number)
{
    *pp = FALSE;
    return TPM_SUCCESS;
}

/* ---- TCTI functions ---- */

static struct tcti_libtpms *ctx_of(TSS2_TCTI_CONTEXT *tcti)
{
    struct tcti_libtpms *c = (struct tcti_libtpms *)tcti;
    if (!c || c->common.v1.magic != TCTI_LIBTPMS_MAGIC)
        return NULL;
    return c;
}

static TSS2_RC t_transmit(TSS2_TCTI_CONTEXT *tcti, size_t size, uint8_t const *command)
{
    struct tcti_libtpms *c = ctx_of(tcti);
    if (!c)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (!command || size < 10 || size > UINT32_MAX)
        return TSS2_TCTI_RC_BAD_VALUE;
    if (c->state != TCTI_IDLE)
        return TSS2_TCTI_RC_BAD_SEQUENCE;
    /* libtpms takes a non-const command buffer */
    unsigned char *cmd = malloc(size);
    if (!cmd)
        return TSS2_TCTI_RC_MEMORY;
    memcpy(cmd, command, size);
    c->resp_len = 0;
    TPM_RESULT r = TPMLIB_Process(&c->resp, &c->resp_len, &c->resp_cap, cmd, (uint32_t)size);
    free(cmd);
    if (r != TPM_SUCCESS || c->resp_len < 10) {
        log_error("tpm.libtpms_process_failed", "rc=0x%x resp_len=%u", (unsigned)r, c->resp_len);
        return TSS2_TCTI_RC_IO_ERROR;
    }
    c->state = TCTI_RESPONSE_READY;
    return TSS2_RC_SUCCESS;
}

static TSS2_RC t_receive(TSS2_TCTI_CONTEXT *tcti, size_t *size, uint8_t *response, int32_t timeout)
{
    struct tcti_libtpms *c = ctx_of(tcti);
    if (!c)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (!size)
        return TSS2_TCTI_RC_BAD_REFERENCE;
    if (c->state != TCTI_RESPONSE_READY)
        return TSS2_TCTI_RC_BAD_SEQUENCE;
    if (!response) { /* size query */
        *size = c->resp_len;
        return TSS2_RC_SUCCESS;
    }
    if (*size < c->resp_len) {
        *size = c->resp_len;
        return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    }
    memcpy(response, c->resp, c->resp_len);
    *size = c->resp_len;
    c->state = TCTI_IDLE;
    return TSS2_RC_SUCCESS;
}

static void t_finalize(TSS2_TCTI_CONTEXT *tcti)
{
    struct tcti_libtpms *c = ctx_of(tcti);
    if (!c)
        return;
    TPM_Free(c->resp);
    c->resp = NULL;
    c->resp_len = c->resp_cap = 0;
    c->common.v1.magic = 0;
    if (g.active) {
        TPMLIB_Terminate();
        if (g.mem)
            mem_clear();
        g.active = false;
    }
}

static TSS2_RC t_cancel(TSS2_TCTI_CONTEXT *tcti)
{
    return ctx_of(tcti) ? TSS2_TCTI_RC_NOT_IMPLEMENTED : TSS2_TCTI_RC_BAD_CONTEXT;
}

static TSS2_RC t_poll_handles(TSS2_TCTI_CONTEXT *tcti, TSS2_TCTI_POLL_HANDLE *handles, size_t *num)
{
    if (!ctx_of(tcti))
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (!num)
        return TSS2_TCTI_RC_BAD_REFERENCE;
    *num = 0; /* no file descriptor: a response is ready as soon as transmit returns */
    return TSS2_RC_SUCCESS;
}

static TSS2_RC t_set_locality(TSS2_TCTI_CONTEXT *tcti, uint8_t locality)
{
    struct tcti_libtpms *c = ctx_of(tcti);
    if (!c)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (c->state != TCTI_IDLE)
        return TSS2_TCTI_RC_BAD_SEQUENCE;
    if (locality > 4)
        return TSS2_TCTI_RC_BAD_VALUE;
    g.locality = locality;
    return TSS2_RC_SUCCESS;
}

static TSS2_RC t_make_sticky(TSS2_TCTI_CONTEXT *tcti, TPM2_HANDLE *handle, uint8_t sticky)
{
    return ctx_of(tcti) ? TSS2_TCTI_RC_NOT_IMPLEMENTED : TSS2_TCTI_RC_BAD_CONTEXT;
}

TSS2_RC Tss2_Tcti_Libtpms_Init(TSS2_TCTI_CONTEXT *tcti, size_t *size, const char *conf)
{
    if (!size)
        return TSS2_TCTI_RC_BAD_VALUE;
    if (!tcti) {
        *size = sizeof(struct tcti_libtpms);
        return TSS2_RC_SUCCESS;
    }
    if (*size < sizeof(struct tcti_libtpms))
        return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    if (g.active) {
        log_error("tpm.libtpms_busy", "reason=\"libtpms is one TPM per process and it is in use\"");
        return TSS2_TCTI_RC_NOT_PERMITTED;
    }
    struct tcti_libtpms *c = (struct tcti_libtpms *)tcti;
    memset(c, 0, sizeof *c);

    g.mem = !conf || !*conf;
    g.locality = 0;
    if (!g.mem) {
        struct stat st;
        if (strlen(conf) >= sizeof g.dir || stat(conf, &st) < 0 || !S_ISDIR(st.st_mode)) {
            log_error("tpm.libtpms_bad_dir", "dir=%s", conf);
            return TSS2_TCTI_RC_BAD_VALUE;
        }
        snprintf(g.dir, sizeof g.dir, "%s", conf);
    } else {
        g.dir[0] = 0;
    }

    static struct libtpms_callbacks cbs = {
        .sizeOfStruct = sizeof(struct libtpms_callbacks),
        .tpm_nvram_init = nv_init,
        .tpm_nvram_loaddata = nv_load,
        .tpm_nvram_storedata = nv_store,
        .tpm_nvram_deletename = nv_delete,
        .tpm_io_init = io_init,
        .tpm_io_getlocality = io_locality,
        .tpm_io_getphysicalpresence = io_pp,
    };
    TPM_RESULT r = TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2);
    if (r == TPM_SUCCESS)
        r = TPMLIB_RegisterCallbacks(&cbs);
    if (r == TPM_SUCCESS)
        r = TPMLIB_MainInit();
    if (r != TPM_SUCCESS) {
        log_error("tpm.libtpms_init_failed", "rc=0x%x dir=%s", (unsigned)r, g.mem ? "(memory)" : g.dir);
        if (g.mem)
            mem_clear();
        return TSS2_TCTI_RC_GENERAL_FAILURE;
    }
    g.active = true;

    c->common.v1.magic = TCTI_LIBTPMS_MAGIC;
    c->common.v1.version = 2;
    c->common.v1.transmit = t_transmit;
    c->common.v1.receive = t_receive;
    c->common.v1.finalize = t_finalize;
    c->common.v1.cancel = t_cancel;
    c->common.v1.getPollHandles = t_poll_handles;
    c->common.v1.setLocality = t_set_locality;
    c->common.makeSticky = t_make_sticky;
    c->state = TCTI_IDLE;
    return TSS2_RC_SUCCESS;
}

TSS2_RC tcti_libtpms_new(const char *conf, TSS2_TCTI_CONTEXT **out)
{
    size_t size = 0;
    *out = NULL;
    TSS2_RC rc = Tss2_Tcti_Libtpms_Init(NULL, &size, conf);
    if (rc != TSS2_RC_SUCCESS)
        return rc;
    TSS2_TCTI_CONTEXT *ctx = calloc(1, size);
    if (!ctx)
        return TSS2_TCTI_RC_MEMORY;
    rc = Tss2_Tcti_Libtpms_Init(ctx, &size, conf);
    if (rc != TSS2_RC_SUCCESS) {
        free(ctx);
        return rc;
    }
    *out = ctx;
    return TSS2_RC_SUCCESS;
}

void tcti_libtpms_free(TSS2_TCTI_CONTEXT *ctx)
{
    if (!ctx)
        return;
    Tss2_Tcti_Finalize(ctx);
    free(ctx);
}

int tcti_libtpms_active(void)
{
    return g.active;
}
