/* See httpd.h. */
#include "httpd.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "mistjson.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

struct mhttp_server {
    struct MHD_Daemon *d;
    struct mhttp_opts o;
    /* Held-back answers (o.delay_ms): their connections are suspended and wait here, sorted by due
     * time, until the timer thread resumes them. Lock order: tmu, then MHD's own locks. */
    pthread_mutex_t tmu;
    pthread_cond_t tcv;     /* CLOCK_MONOTONIC */
    pthread_t timer;
    bool timer_started, stopping;
    struct mhttp_req *due;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The timer thread: resumes each held-back connection when its time comes (all of them at once when
 * the server stops). A resumed connection's pool thread calls the access handler again, which then
 * runs the route's handler. */
static void *timer_main(void *arg)
{
    struct mhttp_server *s = arg;
    pthread_mutex_lock(&s->tmu);
    for (;;) {
        int64_t now = mono_us();
        while (s->due && (s->stopping || s->due->due_us <= now)) {
            struct mhttp_req *r = s->due;
            struct MHD_Connection *conn = r->conn;
            s->due = r->next_due;
            r->next_due = NULL;
            MHD_resume_connection(conn); /* from here on r belongs to the pool thread (it may be freed) */
        }
        if (s->stopping)
            break;
        if (s->due) {
            struct timespec ts = {.tv_sec = (time_t)(s->due->due_us / 1000000),
                                  .tv_nsec = (long)(s->due->due_us % 1000000) * 1000};
            pthread_cond_timedwait(&s->tcv, &s->tmu, &ts);
        } else {
            pthread_cond_wait(&s->tcv, &s->tmu);
        }
    }
    pthread_mutex_unlock(&s->tmu);
    return NULL;
}

/* Hold r's answer back ms milliseconds: suspend its connection and queue it for the timer thread.
 * Returns false when the server is stopping (answer now). Called from the access handler. */
static bool hold_back(struct mhttp_server *s, struct mhttp_req *r, unsigned ms)
{
    pthread_mutex_lock(&s->tmu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->tmu);
        return false;
    }
    r->due_us = mono_us() + (int64_t)ms * 1000;
    MHD_suspend_connection(r->conn); /* before it is queued: the timer may resume it at once */
    struct mhttp_req **pp = &s->due;
    while (*pp && (*pp)->due_us <= r->due_us)
        pp = &(*pp)->next_due;
    r->next_due = *pp;
    *pp = r;
    if (s->due == r)
        pthread_cond_signal(&s->tcv);
    pthread_mutex_unlock(&s->tmu);
    return true;
}

/* Does pattern match path? A "*" segment captures the param. */
static bool pattern_match(const char *pat, const char *path, char *param, size_t cap)
{
    while (*pat && *path) {
        if (*pat == '*') {
            size_t n = strcspn(path, "/");
            if (!mist_id_valid(path, n) || n >= cap)
                return false;
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pat++;
            continue;
        }
        if (*pat != *path)
            return false;
        pat++;
        path++;
    }
    return *pat == '\0' && *path == '\0';
}

int mhttp_route_match(const struct mhttp_route *routes, const char *method, const char *path,
                      const struct mhttp_route **route, char *param, size_t param_cap, char *allow, size_t allow_cap)
{
    bool path_seen = false;
    if (allow_cap)
        allow[0] = '\0';
    for (const struct mhttp_route *r = routes; r->pattern; r++) {
        if (!pattern_match(r->pattern, path, param, param_cap))
            continue;
        if (strcmp(r->method, method) == 0) {
            *route = r;
            return 0;
        }
        if (allow_cap) {
            size_t l = strlen(allow);
            snprintf(allow + l, allow_cap - l, "%s%s", l ? ", " : "", r->method);
        }
        path_seen = true;
    }
    param[0] = '\0';
    return path_seen ? 405 : 404;
}

const char *mhttp_header(struct mhttp_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void mhttp_reply_json(struct mhttp_req *r, unsigned status, json_t *body, const char *hname, const char *hvalue)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        text = strdup("{}");
    size_t n = text ? strlen(text) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    if (MHD_queue_response(r->conn, status, resp) == MHD_YES) {
        r->status = status;
        r->answered = true;
    }
    MHD_destroy_response(resp);
}

void mhttp_reply_error(struct mhttp_req *r, unsigned status, const char *code, unsigned retry_after)
{
    json_t *b = json_pack("{s:s}", "error", code);
    if (!r->result[0])
        snprintf(r->result, sizeof r->result, "%s", code);
    if (retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", retry_after);
        json_object_set_new(b, "retry-after", json_integer(retry_after));
        mhttp_reply_json(r, status, b, "Retry-After", ra);
    } else {
        mhttp_reply_json(r, status, b, NULL, NULL);
    }
}

void mhttp_reply_error_detail(struct mhttp_req *r, unsigned status, const char *code, const char *detail)
{
    json_t *b = json_pack("{s:s}", "error", code);
    if (detail)
        json_object_set_new(b, "detail", json_string(detail));
    if (!r->result[0])
        snprintf(r->result, sizeof r->result, "%s", code);
    mhttp_reply_json(r, status, b, NULL, NULL);
}

static void peer_name(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ci->client_addr;
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
        snprintf(out, cap, "%s:%u", a, ntohs(s->sin_port));
    }
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct mhttp_server *s = cls;
    struct mhttp_req *r = *con_cls;
    (void)version;
    if (!r) {   /* first call: state, route, early rejections */
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->conn = conn;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        peer_name(conn, r->peer, sizeof r->peer);
        char allow[64];
        int rc = strlen(url) >= MHTTP_PATH_MAX ? 404
                                                : mhttp_route_match(s->o.routes, method, url, &r->route, r->param,
                                                                    sizeof r->param, allow, sizeof allow);
        if (rc == 404) {
            mhttp_reply_error(r, 404, "not-found", 0);
            return MHD_YES;
        }
        if (rc == 405) {
            json_t *b = json_pack("{s:s}", "error", "method-not-allowed");
            snprintf(r->result, sizeof r->result, "method-not-allowed");
            mhttp_reply_json(r, 405, b, "Allow", allow);
            return MHD_YES;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > MHTTP_BODY_MAX) {
            mhttp_reply_error(r, 413, "body-too-large", 0);
            return MHD_YES;
        }
        return MHD_YES;
    }
    if (r->answered) {   /* rejected early: discard whatever body still comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {   /* body chunk */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->len + n > MHTTP_BODY_MAX) {
            r->too_large = true;
            return MHD_YES;
        }
        if (r->len + n > r->cap) {
            size_t nc = r->cap ? r->cap : 1024;
            while (nc < r->len + n)
                nc *= 2;
            char *nb = realloc(r->body, nc);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->cap = nc;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        return MHD_YES;
    }
    /* last call: answer */
    if (r->too_large) {
        mhttp_reply_error(r, 413, "body-too-large", 0);
        return MHD_YES;
    }
    if (r->route->body == MHTTP_BODY_NONE && r->len) {
        mhttp_reply_error(r, 400, "unexpected-body", 0);
        return MHD_YES;
    }
    if (r->len && !r->json) {   /* parsed once (a held-back request comes here again) */
        json_error_t je;
        r->json = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
        if (!r->json || !json_is_object(r->json)) {
            json_t *b = json_pack("{s:s,s:s}", "error", "bad-json", "detail",
                                  r->json ? "the body must be a JSON object" : je.text);
            snprintf(r->result, sizeof r->result, "bad-json");
            mhttp_reply_json(r, 400, b, NULL, NULL);
            return MHD_YES;
        }
    } else if (!r->len && r->route->body == MHTTP_BODY_REQUIRED) {
        json_t *b = json_pack("{s:s,s:s}", "error", "bad-json", "detail", "a JSON body is required");
        snprintf(r->result, sizeof r->result, "bad-json");
        mhttp_reply_json(r, 400, b, NULL, NULL);
        return MHD_YES;
    }
    if (s->o.delay_ms && !r->delayed) {   /* a held-back answer: called again once resumed */
        unsigned ms = s->o.delay_ms(s->o.app, r);
        r->delayed = true;
        if (ms && hold_back(s, r, ms))
            return MHD_YES;
    }
    r->route->fn(s->o.app, r);
    if (!r->answered)
        mhttp_reply_error(r, 500, "internal-error", 0);
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct mhttp_req *r = *con_cls;
    (void)cls;
    (void)conn;
    if (!r)
        return;
    char qpath[MHTTP_PATH_MAX * 2], qm[40];
    log_info("http.request", "peer=%s method=%s path=%s status=%u result=%s completed=%s", r->peer,
             log_quote(qm, sizeof qm, r->method, strlen(r->method)),
             log_quote(qpath, sizeof qpath, r->path, strlen(r->path)), r->status, r->result[0] ? r->result : "-",
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "yes" : "no");
    json_decref(r->json);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http.mhd", "msg=%s", log_quote(q, sizeof q, msg, n));
}

static void conn_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    struct mhttp_server *s = cls;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED && s->o.conn_started)
        s->o.conn_started(s->o.app, conn);
}

struct mhttp_server *mhttp_start(const struct mhttp_opts *o, char *err, size_t cap)
{
    struct mhttp_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->o = *o;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->tmu, NULL);
    pthread_cond_init(&s->tcv, &ca);
    pthread_condattr_destroy(&ca);
    unsigned threads = o->threads > MHTTP_THREADS_MAX ? MHTTP_THREADS_MAX : o->threads;
    unsigned limit = o->max_connections ? o->max_connections : MHTTP_MAX_CONNECTIONS;
    /* the optional options, then the end */
    struct MHD_OptionItem opt[4];
    size_t n = 0;
    if (o->trust_pem)
        opt[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)(uintptr_t)o->trust_pem};
    if (threads > 1)
        opt[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    opt[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* one internal polling thread or a pool of them, each with its own poll() (default) or epoll loop;
     * never a thread per connection. poll(), not epoll: with TLS, libmicrohttpd 0.9.75's epoll loop
     * costs 1.4-1.8x the CPU per handshake (README, Decisions). Suspend/resume only where answers may be
     * held back (it adds an eventfd per thread). */
    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | (o->epoll ? MHD_USE_EPOLL : MHD_USE_POLL) |
                     MHD_USE_ERROR_LOG | (o->delay_ms ? MHD_ALLOW_SUSPEND_RESUME : 0);
    if (o->delay_ms) {
        if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
            snprintf(err, cap, "cannot start the timer thread");
            goto fail;
        }
        s->timer_started = true;
    }
    s->d = MHD_start_daemon(flags, ntohs(o->listen.sin_port), NULL, NULL, access_cb, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&s->o.listen,
                            MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
                            MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, limit,
                            MHD_OPTION_ARRAY, opt, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, cap, "MHD_start_daemon failed (address in use, or a bad certificate/key)");
        goto fail;
    }
    return s;
fail:
    mhttp_stop(s);
    return NULL;
}

void mhttp_stop(struct mhttp_server *s)
{
    if (!s)
        return;
    if (s->timer_started) {   /* release every held-back answer, and accept no new ones */
        pthread_mutex_lock(&s->tmu);
        s->stopping = true;
        pthread_cond_signal(&s->tcv);
        pthread_mutex_unlock(&s->tmu);
        pthread_join(s->timer, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);
    pthread_cond_destroy(&s->tcv);
    pthread_mutex_destroy(&s->tmu);
    free(s);
}

int mhttp_parse_listen(const char *str, struct sockaddr_in *sin)
{
    char ip[64];
    const char *colon = strrchr(str, ':');
    if (!colon || (size_t)(colon - str) >= sizeof ip)
        return -1;
    memcpy(ip, str, (size_t)(colon - str));
    ip[colon - str] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
        return -1;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &sin->sin_addr) == 1 ? 0 : -1;
}

int mhttp_wait_signals(int sigfd, void (*reload)(void *app), void *app)
{
    for (;;) {
        struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                reload(app);
                continue;
            }
            log_info("daemon.stop", "signal=%s", strsignal((int)si.ssi_signo));
            return 0;
        }
    }
}

int mhttp_args_parse(int argc, char **argv, const char *prog, const char *default_host, void (*usage)(FILE *f),
                     struct mhttp_args *a)
{
    return mhttp_args_parse_ext(argc, argv, prog, default_host, usage, a, NULL);
}

#define MHTTP_EXTRA_MAX 8

int mhttp_args_parse_ext(int argc, char **argv, const char *prog, const char *default_host, void (*usage)(FILE *f),
                         struct mhttp_args *a, const struct mhttp_extra_opt *extra)
{
    static const struct option common[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"cert", required_argument, NULL, 'C'},   {"key", required_argument, NULL, 'K'},
        {"host", required_argument, NULL, 'H'},   {"debug", no_argument, NULL, 'd'},
        {"check", no_argument, NULL, 'n'},        {"help", no_argument, NULL, 'h'},
        {"threads", required_argument, NULL, 'T'}, {"max-connections", required_argument, NULL, 'M'},
        {"event-loop", required_argument, NULL, 'E'}};
    enum { N_COMMON = sizeof common / sizeof common[0] };
    struct option opts[N_COMMON + MHTTP_EXTRA_MAX + 1];
    size_t n_extra = 0;
    memcpy(opts, common, sizeof common);
    for (; extra && extra[n_extra].name; n_extra++) {
        if (n_extra == MHTTP_EXTRA_MAX)
            fatalx("args.extra", "more than %d extra options", MHTTP_EXTRA_MAX);
        opts[N_COMMON + n_extra] = (struct option){extra[n_extra].name,
                                                   extra[n_extra].value ? required_argument : no_argument, NULL,
                                                   256 + (int)n_extra};
    }
    opts[N_COMMON + n_extra] = (struct option){NULL, 0, NULL, 0};
    const char *host = NULL;
    bool debug = false, bad = false;
    int c;
    memset(a, 0, sizeof *a);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads = ncpu < 1 ? 1 : ncpu > MHTTP_THREADS_MAX ? MHTTP_THREADS_MAX : (unsigned)ncpu;
    a->max_connections = MHTTP_MAX_CONNECTIONS;
    while ((c = getopt_long(argc, argv, "c:l:C:K:H:dnh", opts, NULL)) != -1) {
        if (c >= 256 && (size_t)(c - 256) < n_extra) {
            const struct mhttp_extra_opt *x = &extra[c - 256];
            if (x->value)
                *x->value = optarg;
            else if (x->flag)
                *x->flag = true;
            continue;
        }
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'l': a->listen = optarg; break;
        case 'C': a->cert = optarg; break;
        case 'K': a->key = optarg; break;
        case 'H': host = optarg; break;
        case 'd': debug = true; break;
        case 'n': a->check = true; break;
        case 'E':
            if (!strcmp(optarg, "poll") || !strcmp(optarg, "epoll")) {
                a->epoll = !strcmp(optarg, "epoll");
            } else {
                fprintf(stderr, "%s: --event-loop %s: expected poll or epoll\n", prog, optarg);
                bad = true;
            }
            break;
        case 'T':
        case 'M': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > (c == 'T' ? MHTTP_THREADS_MAX : 65536)) {
                fprintf(stderr, "%s: --%s %s: expected 1..%d\n", prog, c == 'T' ? "threads" : "max-connections",
                        optarg, c == 'T' ? MHTTP_THREADS_MAX : 65536);
                bad = true;
            } else if (c == 'T') {
                a->threads = (unsigned)v;
            } else {
                a->max_connections = (unsigned)v;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    static char hn[256];
    if (!host)
        host = gethostname(hn, sizeof hn - 1) == 0 ? hn : default_host;
    log_init(host, prog, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    if (bad || optind < argc || !a->config || (!a->check && (!a->listen || !a->cert || !a->key))) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int mhttp_serve(const char *prog, const struct mhttp_args *a, struct mhttp_opts *o, void (*reload)(void *app),
                void (*ready)(void *app))
{
    char *certpem = NULL, *keypem = NULL, err[512];
    size_t l;
    int rc, status = 1;
    if (mhttp_parse_listen(a->listen, &o->listen) < 0) {
        fprintf(stderr, "%s: --listen %s: expected IPv4:PORT\n", prog, a->listen);
        return 2;
    }
    if ((rc = read_file_max(a->cert, 1 << 20, &certpem, &l)) < 0 ||
        (rc = read_file_max(a->key, 1 << 20, &keypem, &l)) < 0) {
        fprintf(stderr, "%s: reading %s: %s\n", prog, certpem ? a->key : a->cert, strerror(-rc));
        goto out;
    }
    o->cert_pem = certpem;
    o->key_pem = keypem;
    if (!o->threads)
        o->threads = a->threads;
    if (!o->max_connections)
        o->max_connections = a->max_connections;
    o->epoll = a->epoll;
    /* a connection is one fd (poll and epoll: no FD_SETSIZE limit); raise the soft limit as far as allowed */
    struct rlimit rl;
    rlim_t want = (rlim_t)o->max_connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int sigfd = daemon_signalfd();
    if (sigfd < 0)
        fatalx("daemon.signalfd", "failed");
    struct mhttp_server *srv = mhttp_start(o, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "%s: %s: %s\n", prog, a->listen, err);
        close(sigfd);
        goto out;
    }
    log_info("http.server", "listen=%s threads=%u event_loop=%s max_connections=%u hold_back=%s", a->listen,
             o->threads > 1 ? o->threads : 1, o->epoll ? "epoll" : "poll", o->max_connections,
             o->delay_ms ? "yes" : "no");
    ready(o->app);
    daemon_ready();
    mhttp_wait_signals(sigfd, reload, o->app);
    mhttp_stop(srv);
    close(sigfd);
    status = 0;
out:
    free(certpem);
    if (keypem)
        OPENSSL_cleanse(keypem, strlen(keypem));
    free(keypem);
    return status;
}

/* ---- the configuration file ---------------------------------------------------------------------------- */

int mhttp_conf_load(const struct mhttp_conf *c, void *cfg, char *err, size_t cap)
{
    char *buf, e2[256];
    size_t len;
    int rc = read_file_max(c->path, 4 << 20, &buf, &len);
    if (rc < 0) {
        snprintf(err, cap, "%s: %s", c->path, strerror(-rc));
        return -1;
    }
    rc = c->parse(buf, len, cfg, e2, sizeof e2);
    if (c->wipe)
        OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc < 0)
        snprintf(err, cap, "%s: %s", c->path, e2);
    return rc < 0 ? -1 : 0;
}

void mhttp_conf_reload(const struct mhttp_conf *c, pthread_mutex_t *mu, void *cur)
{
    char err[512], q[600], desc[512];
    void *nc = calloc(1, c->size), *old = calloc(1, c->size);
    if (!nc || !old) {
        free(nc);
        free(old);
        log_warn("config.reload", "result=kept-old error=\"out of memory\"");
        return;
    }
    if (mhttp_conf_load(c, nc, err, sizeof err) < 0) {
        log_warn("config.reload", "result=kept-old error=%s", log_quote(q, sizeof q, err, strlen(err)));
    } else {
        pthread_mutex_lock(mu);
        memcpy(old, cur, c->size);
        memcpy(cur, nc, c->size);
        pthread_mutex_unlock(mu);
        c->free(old);
        c->describe(nc, desc, sizeof desc); /* the new configuration: only this thread replaces it */
        log_info("config.reload", "result=ok %s", desc);
    }
    free(nc);
    free(old);
}
