/* The HTTPS plumbing the mocks share, over libmicrohttpd (GnuTLS inside): MHD's internal thread pool
 * (a fixed number of threads started once, each with its own poll() or epoll loop; never a thread or a
 * process per connection or per request), the multi-call access handler (per-request state
 * allocated on the first call, the body collected up to MHTTP_BODY_MAX (413 beyond), the answer on
 * the last call, state freed in the completion callback), a route table checked on the first call
 * (404 / 405 early), JSON bodies parsed with jansson (400 {"error":"bad-json"}), and one structured
 * log line per request (event=http.request). Handlers run on any pool thread, concurrently: shared
 * state needs the caller's lock. An answer can be held back (a fault's delay) without holding a
 * thread: the connection is suspended and one timer thread resumes it. Optional mutual TLS: a client
 * CA and a hook on each new TLS session. */
#ifndef MIST_HTTPD_H
#define MIST_HTTPD_H

#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MHTTP_BODY_MAX (16 * 1024)
#define MHTTP_PATH_MAX 256

struct mhttp_req;
typedef void (*mhttp_handler)(void *app, struct mhttp_req *r);

enum mhttp_body { MHTTP_BODY_NONE, MHTTP_BODY_OPTIONAL, MHTTP_BODY_REQUIRED };

/* pattern: a path where one "*" segment matches 1..64 characters of [A-Za-z0-9._:-] (the param). */
struct mhttp_route {
    const char *method, *pattern;
    enum mhttp_body body;
    mhttp_handler fn;
};

struct mhttp_req {
    void *conn;                        /* struct MHD_Connection * */
    const struct mhttp_route *route;
    char method[16];
    char path[MHTTP_PATH_MAX];
    char param[72];
    char peer[64];
    char *body;
    size_t len, cap;
    bool too_large, answered;
    json_t *json;                      /* parsed body, NULL when empty */
    unsigned status;
    char result[64];                   /* short outcome for the request log line (no secrets) */
    /* a held-back answer (opts.delay_ms): private to httpd.c */
    bool delayed;
    int64_t due_us;
    struct mhttp_req *next_due;
};

/* Route lookup (pure): 0 and *route/param, 404 (no pattern matches the path) or 405 (the path
 * matches, the method does not; allow gets the allowed methods). */
int mhttp_route_match(const struct mhttp_route *routes, const char *method, const char *path,
                      const struct mhttp_route **route, char *param, size_t param_cap, char *allow, size_t allow_cap);

/* Answer with a JSON body (stolen) and at most one extra header (name NULL for none). */
void mhttp_reply_json(struct mhttp_req *r, unsigned status, json_t *body, const char *hname, const char *hvalue);
/* {"error": code} (plus "retry-after" and a Retry-After header when retry_after > 0). */
void mhttp_reply_error(struct mhttp_req *r, unsigned status, const char *code, unsigned retry_after);
/* {"error": code, "detail": detail} (detail copied; NULL leaves it out). */
void mhttp_reply_error_detail(struct mhttp_req *r, unsigned status, const char *code, const char *detail);
/* A request header, or NULL. */
const char *mhttp_header(struct mhttp_req *r, const char *name);

struct mhttp_opts {
    struct sockaddr_in listen;
    const char *cert_pem, *key_pem;    /* PEM text */
    const struct mhttp_route *routes;
    void *app;
    /* Optional (zero: off), used by mock-conductor: */
    const char *trust_pem;             /* client CA, PEM: libmicrohttpd asks for a client certificate */
    /* Called for each new connection once its TLS session exists, before the handshake (conn is the
     * struct MHD_Connection *): where a caller tightens the session (require and verify a client cert). */
    void (*conn_started)(void *app, void *conn);
    /* Called on the last call of a routed request whose body is well-formed, before its handler: a
     * non-zero N holds the answer back N ms (the handler runs then). The connection is suspended
     * meanwhile (MHD_suspend_connection): no thread waits, the other connections go on. */
    unsigned (*delay_ms)(void *app, const struct mhttp_req *r);
    unsigned threads;                  /* MHD's thread pool size; 0 or 1: one internal polling thread */
    bool epoll;                        /* each thread's loop: epoll (true) or poll() (false, the default) */
    unsigned max_connections;          /* 0: MHTTP_MAX_CONNECTIONS */
};
#define MHTTP_MAX_CONNECTIONS 1024
#define MHTTP_THREADS_MAX 64
struct mhttp_server;
struct mhttp_server *mhttp_start(const struct mhttp_opts *o, char *err, size_t cap);
void mhttp_stop(struct mhttp_server *s);

/* "IP:PORT" (IPv4) into sin. Returns 0 or -1. */
int mhttp_parse_listen(const char *s, struct sockaddr_in *sin);

/* The common main loop: waits on the signalfd; SIGHUP calls reload(app), SIGTERM/SIGINT return 0. */
int mhttp_wait_signals(int sigfd, void (*reload)(void *app), void *app);

/* The command line the mocks share: --config FILE --listen IP:PORT --cert PEM --key PEM [--host NAME]
 * [--threads N] [--max-connections N] [--event-loop poll|epoll] [--debug] [--check] [--help]. Also
 * starts the logger (host= from --host, else the hostname, else default_host; comp= prog). Returns -1 to
 * go on, or the exit status (0 after --help, 2 for bad usage). threads defaults to the number of online
 * CPUs (at most MHTTP_THREADS_MAX), max_connections to MHTTP_MAX_CONNECTIONS, the event loop to poll(). */
struct mhttp_args {
    const char *config, *listen, *cert, *key;
    bool check, epoll;
    unsigned threads, max_connections;
};
/* The usage lines of the shared flags, for a program's usage(). */
#define MHTTP_USAGE_COMMON "[--threads N] [--max-connections N] [--event-loop poll|epoll] [--host NAME] [--debug]"
int mhttp_args_parse(int argc, char **argv, const char *prog, const char *default_host, void (*usage)(FILE *f),
                     struct mhttp_args *a);
/* The same with a program's own long options (at most 8; name NULL ends the list): a flag with an
 * argument stores it in *value, one without sets *flag. */
struct mhttp_extra_opt {
    const char *name;
    const char **value;
    bool *flag;
};
int mhttp_args_parse_ext(int argc, char **argv, const char *prog, const char *default_host, void (*usage)(FILE *f),
                         struct mhttp_args *a, const struct mhttp_extra_opt *extra);

/* Serve until SIGTERM/SIGINT: parse --listen, read the PEM files, raise RLIMIT_NOFILE for the connection limit,
 * start the server (threads and max_connections from the args unless o sets them, the event loop from the
 * args), call ready(app) (which logs the daemon.ready line), signal readiness, wait (SIGHUP -> reload(app)),
 * stop (held-back answers are released first). Returns the exit status (0, 1 when a file or the listener
 * fails, 2 for a bad --listen); errors are one line on stderr. The key's PEM is wiped before it is freed. */
int mhttp_serve(const char *prog, const struct mhttp_args *a, struct mhttp_opts *o, void (*reload)(void *app),
                void (*ready)(void *app));

/* A mock's configuration file, loaded at start and replaced on SIGHUP. */
struct mhttp_conf {
    const char *path;
    bool wipe;                          /* the file holds secrets: cleanse its bytes before freeing them */
    size_t size;                        /* sizeof the parsed configuration */
    int (*parse)(const char *buf, size_t len, void *cfg, char *err, size_t cap);
    void (*free)(void *cfg);
    void (*describe)(const void *cfg, char *out, size_t cap); /* "k=v ..." of the config.reload line */
};
/* Read c->path (at most 4 MiB) and parse it into cfg. Returns 0, or -1 with err = "PATH: why". */
int mhttp_conf_load(const struct mhttp_conf *c, void *cfg, char *err, size_t cap);
/* SIGHUP: load the file again; on success swap it into *cur under mu, free the old one and log
 * config.reload result=ok + describe(); on failure keep the old one and log result=kept-old error=... */
void mhttp_conf_reload(const struct mhttp_conf *c, pthread_mutex_t *mu, void *cur);

#endif
