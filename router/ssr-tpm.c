/* ssr-tpm: the router's TPM from the command line ("manufacturing" and debugging).
 *
 *   ssr-tpm --tcti CONF provision --hash sha1|sha256|sha512 (--key-hex HEX | --key-hex-file FILE)
 *   ssr-tpm --tcti CONF hmac --hash H (--msg-hex HEX | --msg-file FILE)   prints the HMAC in hex
 *   ssr-tpm --tcti CONF status                                            prints "ocra-key HANDLE HASH" or "no ocra-key"
 *   ssr-tpm --tcti CONF seal FILE        seals stdin (1..128 bytes) into FILE (mode 0600)
 *   ssr-tpm --tcti CONF unseal FILE      prints the sealed secret on stdout
 *
 * CONF is a TCTI configuration as in tpm.h: "swtpm:path=SOCK", "libtpms:DIR", ...
 * --key-hex-file reads the hex key from a file ("-" = stdin) so the secret is not in argv.
 * Exit: 0 ok, 1 TPM or file error (one line on stderr), 2 bad arguments.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealed.h"
#include "tpm.h"
#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/util.h"

#define MSG_MAX (1u << 20)

static void usage(void)
{
    fprintf(stderr, "usage: ssr-tpm --tcti CONF provision|hmac|status|seal FILE|unseal FILE [options]\n");
    exit(2);
}

static int parse_hash(const char *s, enum tpm_hash *h)
{
    for (int i = TPM_HASH_SHA1; i <= TPM_HASH_SHA512; i++)
        if (s && strcasecmp(s, tpm_hash_name((enum tpm_hash)i)) == 0) {
            *h = (enum tpm_hash)i;
            return 0;
        }
    return -1;
}

/* Read a whole file ("-" = stdin) of at most max bytes. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    char *buf = NULL;
    if (strcmp(path, "-") == 0) {
        buf = malloc(max + 1);
        if (!buf)
            return NULL;
        *len = fread(buf, 1, max + 1, stdin);
        if (*len > max) {
            free(buf);
            return NULL;
        }
        buf[*len] = 0;
        return buf;
    }
    return read_file_max(path, max, &buf, len) == 0 ? buf : NULL;
}

/* Hex from a string or a file, surrounding whitespace ignored. */
static int get_hex(const char *hex, const char *file, uint8_t *out, size_t cap, size_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    if (file) {
        if (!(buf = slurp(file, 2 * cap + 64, &len)))
            return -1;
        hex = buf;
    }
    if (!hex)
        return -1;
    while (*hex == ' ' || *hex == '\n' || *hex == '\t' || *hex == '\r')
        hex++;
    char *tmp = strdup(hex);
    int r = -1;
    if (tmp) {
        size_t l = strlen(tmp);
        while (l && (tmp[l - 1] == '\n' || tmp[l - 1] == ' ' || tmp[l - 1] == '\r' || tmp[l - 1] == '\t'))
            tmp[--l] = 0;
        r = hex_decode(tmp, out, cap, n);
        explicit_bzero(tmp, l);
        free(tmp);
    }
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcti", required_argument, NULL, 't'},     {"hash", required_argument, NULL, 'h'},
        {"key-hex", required_argument, NULL, 'k'},  {"key-hex-file", required_argument, NULL, 'K'},
        {"msg-hex", required_argument, NULL, 'm'},  {"msg-file", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    const char *tcti = NULL, *hash_s = NULL, *key_hex = NULL, *key_file = NULL, *msg_hex = NULL, *msg_file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': tcti = optarg; break;
        case 'h': hash_s = optarg; break;
        case 'k': key_hex = optarg; break;
        case 'K': key_file = optarg; break;
        case 'm': msg_hex = optarg; break;
        case 'M': msg_file = optarg; break;
        default: usage();
        }
    }
    if (!tcti || optind >= argc)
        usage();
    const char *cmd = argv[optind];
    const char *file = optind + 1 < argc ? argv[optind + 1] : NULL;
    enum tpm_hash hash = TPM_HASH_SHA256;
    bool need_hash = !strcmp(cmd, "provision") || !strcmp(cmd, "hmac");
    if (need_hash && parse_hash(hash_s, &hash) < 0) {
        fprintf(stderr, "ssr-tpm: --hash must be sha1, sha256 or sha512\n");
        return 2;
    }
    if ((!strcmp(cmd, "seal") || !strcmp(cmd, "unseal")) && !file)
        usage();
    if (strcmp(cmd, "provision") && strcmp(cmd, "hmac") && strcmp(cmd, "status") && strcmp(cmd, "seal") &&
        strcmp(cmd, "unseal"))
        usage();

    log_init("-", "ssr-tpm", LOG_LVL_WARN);
    char err[512];
    struct tpm *tpm = NULL;
    if (tpm_open(&tpm, tcti, err, sizeof err) < 0) {
        fprintf(stderr, "ssr-tpm: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (!strcmp(cmd, "provision")) {
        uint8_t key[TPM_HMAC_KEY_MAX];
        size_t n = 0;
        if (get_hex(key_hex, key_file, key, sizeof key, &n) < 0 || n == 0) {
            fprintf(stderr, "ssr-tpm: the key must be 1..%d bytes of hex (--key-hex or --key-hex-file)\n",
                    TPM_HMAC_KEY_MAX);
            rc = 2;
        } else if (tpm_provision_hmac_key(tpm, hash, key, n, err, sizeof err) < 0) {
            fprintf(stderr, "ssr-tpm: %s\n", err);
            rc = 1;
        } else {
            printf("ocra-key 0x%08x %s\n", TPM_OCRA_KEY_HANDLE, tpm_hash_name(hash));
        }
        explicit_bzero(key, sizeof key);
    } else if (!strcmp(cmd, "hmac")) {
        uint8_t *msg = NULL;
        size_t n = 0;
        if (msg_file) {
            msg = (uint8_t *)slurp(msg_file, MSG_MAX, &n);
        } else if (msg_hex && (msg = malloc(strlen(msg_hex) / 2 + 1))) {
            if (hex_decode(msg_hex, msg, strlen(msg_hex) / 2 + 1, &n) < 0) {
                free(msg);
                msg = NULL;
            }
        }
        uint8_t out[TPM_HMAC_MAX];
        size_t on = sizeof out;
        if (!msg) {
            fprintf(stderr, "ssr-tpm: give the message with --msg-hex HEX or --msg-file FILE (at most 1 MiB)\n");
            rc = 2;
        } else if (tpm_hmac(tpm, hash, msg, n, out, &on) < 0) {
            fprintf(stderr, "ssr-tpm: TPM2_HMAC failed (no key, another hash, or TPM error)\n");
            rc = 1;
        } else {
            for (size_t i = 0; i < on; i++)
                printf("%02x", out[i]);
            printf("\n");
        }
        free(msg);
    } else if (!strcmp(cmd, "status")) {
        int p = tpm_hmac_key_present(tpm, &hash);
        if (p == 1)
            printf("ocra-key 0x%08x %s\n", TPM_OCRA_KEY_HANDLE, tpm_hash_name(hash));
        else if (p == 0)
            printf("no ocra-key\n");
        rc = p < 0 ? 1 : 0;
    } else if (!strcmp(cmd, "seal")) {
        size_t n = 0;
        char *secret = slurp("-", SEALED_MAX, &n);
        if (!secret || n == 0) {
            fprintf(stderr, "ssr-tpm: seal reads 1..%d bytes from stdin\n", SEALED_MAX);
            rc = 2;
        } else if (sealed_write(tpm, file, (const uint8_t *)secret, n, err, sizeof err) < 0) {
            fprintf(stderr, "ssr-tpm: %s\n", err);
            rc = 1;
        }
        if (secret) {
            explicit_bzero(secret, n);
            free(secret);
        }
    } else { /* unseal */
        uint8_t out[SEALED_MAX];
        size_t n = 0;
        if (sealed_read(tpm, file, out, sizeof out, &n, err, sizeof err) < 0) {
            fprintf(stderr, "ssr-tpm: %s\n", err);
            rc = 1;
        } else {
            fwrite(out, 1, n, stdout);
        }
        explicit_bzero(out, sizeof out);
    }
    tpm_close(tpm);
    return rc;
}
