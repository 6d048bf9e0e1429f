/* mock-proxy: access log in Squid's native format (logformat squid), one line per request or tunnel,
 * written when the transaction ends:
 *
 *   %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
 *   1700000000.123    412 198.18.1.100 TCP_TUNNEL/200 4821 CONNECT ep-terminator.mistsys.net:443 - HIER_DIRECT/198.18.30.10 -
 *
 * Formatting is a pure function; the writer appends one write() per line (O_APPEND). */
#ifndef MOCK_PROXY_ACCESSLOG_H
#define MOCK_PROXY_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

struct access_entry {
    int64_t end_ms;        /* Unix time of the end of the transaction, milliseconds */
    int64_t elapsed_ms;    /* from accept to end */
    const char *client;    /* client address */
    const char *code;      /* Squid result code: TCP_TUNNEL, TCP_MISS, TCP_DENIED, NONE_NONE... */
    int status;            /* HTTP status sent to the client (0 = none: printed 000) */
    uint64_t bytes;        /* bytes sent to the client (incl. our own reply heads) */
    const char *method;    /* "-" when no request was read */
    const char *url;       /* CONNECT: host:port; others: the URL; or "error:..." */
    const char *user;      /* authenticated (or attempted) user name, NULL/"" = "-" */
    const char *hier;      /* HIER_DIRECT or HIER_NONE */
    const char *peer;      /* upstream address, NULL/"" = "-" */
    const char *type;      /* MIME type of the reply, NULL/"" = "-" */
};

/* Format one line (with '\n') into buf. Fields from the network are %-escaped (bytes outside
 * '!'..'~' and '%'), so a line never breaks. Returns the length (truncated to cap-1). */
size_t access_format(char *buf, size_t cap, const struct access_entry *e);

struct access_log {
    int fd;                /* -1 = disabled */
    char path[4096];
};

void access_log_init(struct access_log *l);
/* Open (append, create 0644) `path`; "" disables. Reopening (SIGHUP) closes the old fd. 0 or -errno. */
int access_log_open(struct access_log *l, const char *path);
/* Append one entry. 0 or -errno. */
int access_log_write(struct access_log *l, const struct access_entry *e);
void access_log_close(struct access_log *l);

#endif
