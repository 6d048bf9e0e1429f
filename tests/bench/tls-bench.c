/* tls-bench: the project's load generator for HTTPS servers: full TLS handshakes per second and, with
 * keep-alive, HTTP requests per second. One process, one epoll loop, non-blocking sockets and
 * non-blocking OpenSSL clients. Used by tests/bench/tls-bench.sh to measure the lab's HTTPS mocks
 * (mock-ep-terminator, mock-mist, mock-conductor) against nginx; works against any HTTPS/1.1 server.
 *
 *   tls-bench --connect IP:PORT --ca FILE [--servername NAME] [--cert FILE --key FILE]
 *             [-c CONC] [--duration S] [--warmup S] [--keepalive N] [--method M] [--path P]
 *             [--body TEXT | --body-file FILE] [--header "Name: value"]... [--expect STATUS]
 *             [--src IP[,IP...]] [--pid PID[,PID...]] [--tls 1.2|1.3] [--timeout S]
 *
 * CONC connections, each in a loop: TCP connect -> a full TLS handshake (a fresh SSL every time, no
 * session cache, no tickets offered: never a resumption) verified against the CA file (the server
 * certificate must name --servername, sent as SNI, or else the IP address connected to) -> N HTTP/1.1
 * requests (N = --keepalive, default 1), each answered in full (Content-Length, or the end of the
 * stream) and its status checked -> close (close_notify, then close()); a new connection at once.
 * Source addresses rotate per connection (--src: spreads the client 4-tuples over TIME_WAIT).
 *
 * Counted inside the measured window (after the warm-up): handshakes completed, requests answered,
 * errors by kind, latencies (handshake: connect() to the end of the handshake, TCP included; request:
 * the request written to the last byte of its answer; exchange: connect() to the close of a
 * connection that made all its requests), and the CPU used in the window by this process, by the
 * server (--pid: the sum over the given processes, all their threads) and by each CPU.
 *
 * Prints one line of key=value pairs on stdout; exit 0 when nothing failed. Bounded: duration at most
 * 600 s, at most 10,000 connections, every connection has a deadline (--timeout, reset per request).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"
#define MAX_SRCS 64
#define MAX_PIDS 8
#define MAX_HEADERS 16
#define MAX_BODY (64 * 1024)
#define HEAD_MAX 4096       /* a response head larger than this is an error */
#define MAX_CONC 10000
#define BENCH_MAX_CPUS 64

/* ---- small helpers ---- */

struct addr {
    struct sockaddr_in sin;
    char text[64];
};

/* "IP:PORT" (need_port) or "IP", IPv4. */
static int parse_addr(const char *s, struct addr *a, bool need_port)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    size_t hl = need_port && colon ? (size_t)(colon - s) : strlen(s);
    memset(a, 0, sizeof *a);
    if ((need_port && !colon) || (!need_port && colon) || hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (need_port) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || v <= 0 || v > 65535)
            return -1;
        a->sin.sin_port = htons((uint16_t)v);
    }
    a->sin.sin_family = AF_INET;
    snprintf(a->text, sizeof a->text, "%s", host);
    return inet_pton(AF_INET, host, &a->sin.sin_addr) == 1 ? 0 : -1;
}

/* The sum over the --pid processes; -1 when one is unreadable. */
static double pids_cpu_s(const pid_t *pids, int n)
{
    double t = 0;
    for (int i = 0; i < n; i++) {
        double c = bench_proc_cpu_s(pids[i]);
        if (c < 0)
            return -1;
        t += c;
    }
    return t;
}

/* ---- latencies ---- */

struct lat {
    uint32_t *v;
    size_t n, cap;
};

static void lat_add(struct lat *l, int64_t us)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 65536;
        uint32_t *a = realloc(l->v, nc * sizeof *a);
        if (!a)
            return;
        l->v = a;
        l->cap = nc;
    }
    l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---- the client ---- */

enum phase { P_FREE, P_CONNECTING, P_HANDSHAKE, P_WRITE, P_READ, P_DONE };

struct conn {
    int fd;
    SSL *ssl;
    uint32_t gen;
    enum phase phase;
    int64_t t_start, t_req, deadline;
    unsigned reqs;          /* requests answered on this connection */
    size_t wrote;           /* request bytes written (a retried SSL_write repeats the whole request) */
    /* the answer being read */
    size_t head_len, body_got;
    long long body_len;     /* -1: until the end of the stream */
    bool head_done, server_close;
    int status;
    char *head;             /* HEAD_MAX bytes */
};

struct bench {
    SSL_CTX *ctx;
    struct addr to, srcs[MAX_SRCS];
    int n_srcs, next_src;
    const char *servername;
    char *req;
    size_t req_len;
    int expect;
    unsigned keepalive;
    int ep;
    struct conn *cs;
    size_t n;
    int64_t timeout_us;
    bool measuring;
    /* counters (in the window) */
    uint64_t handshakes, requests, conns_done, early_close;
    uint64_t err_connect, err_tls, err_status, err_http, err_closed, err_timeout;
    struct lat hs, rq, ex;
    char first_error[200];
    char tls_info[160];
};

static uint64_t errors_of(const struct bench *b)
{
    return b->err_connect + b->err_tls + b->err_status + b->err_http + b->err_closed + b->err_timeout;
}

/* The first OpenSSL error of the queue (and the queue cleared), or what errno says. */
static void ssl_why(char *out, size_t cap)
{
    unsigned long e = ERR_peek_error();
    if (e) {
        char b[160];
        ERR_error_string_n(e, b, sizeof b);
        snprintf(out, cap, "%s", b);
    } else if (errno) {
        snprintf(out, cap, "%s", strerror(errno));
    } else {
        snprintf(out, cap, "eof");
    }
    ERR_clear_error();
}

static void c_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->phase = P_FREE;
}

static void c_error(struct bench *b, struct conn *c, uint64_t *ctr, const char *what, const char *why)
{
    if (b->measuring) {
        (*ctr)++;
        if (!b->first_error[0]) {
            char h[48] = "";
            if (c && c->head_len && !c->head_done) {
                size_t l = c->head_len < 40 ? c->head_len : 40;
                for (size_t i = 0; i < l; i++)
                    h[i] = c->head[i] >= ' ' && c->head[i] < 0x7f ? c->head[i] : '.';
                h[l] = '\0';
            }
            snprintf(b->first_error, sizeof b->first_error, "%s%s%s%s%s", what, why && *why ? ": " : "",
                     why ? why : "", h[0] ? " head=" : "", h);
            for (char *p = b->first_error; *p; p++)
                if (*p == '"' || *p == '\n' || *p == '\r')
                    *p = '\'';
        }
    }
    ERR_clear_error();
    if (c)
        c_close(c);
}

static void c_start(struct bench *b, struct conn *c)
{
    c->gen++;
    c->reqs = 0;
    c->t_start = bench_now_us();
    c->deadline = c->t_start + b->timeout_us;
    c->ssl = NULL;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->phase = P_FREE;
        c_error(b, NULL, &b->err_connect, "socket", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (b->n_srcs) {
        const struct addr *src = &b->srcs[b->next_src];
        b->next_src = (b->next_src + 1) % b->n_srcs;
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (const struct sockaddr *)&src->sin, sizeof src->sin) < 0) {
            c_error(b, c, &b->err_connect, "bind", strerror(errno));
            return;
        }
    }
    if (connect(c->fd, (const struct sockaddr *)&b->to.sin, sizeof b->to.sin) < 0 && errno != EINPROGRESS) {
        c_error(b, c, &b->err_connect, "connect", strerror(errno));
        return;
    }
    c->phase = P_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - b->cs)};
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        c_error(b, c, &b->err_connect, "epoll_ctl", strerror(errno));
}

static void note_tls(struct bench *b, SSL *ssl)
{
    if (b->tls_info[0])
        return;
    const char *grp = "?";
    int nid = SSL_get_negotiated_group(ssl);
    if (nid > 0 && OBJ_nid2sn(nid))
        grp = OBJ_nid2sn(nid);
    char key[32] = "?";
    X509 *peer = SSL_get1_peer_certificate(ssl);
    EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;
    if (pk)
        snprintf(key, sizeof key, "%s-%d", EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC ? "EC" :
                                           EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA ? "RSA" : "other",
                 EVP_PKEY_get_bits(pk));
    X509_free(peer);
    snprintf(b->tls_info, sizeof b->tls_info, "tls_version=%s cipher=%s group=%s server_key=%s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), grp, key);
}

/* Parses the complete head in c->head: status, Content-Length, chunked (refused), Connection: close.
 * Returns 0 or -1 (bad head). */
static int parse_head(struct conn *c)
{
    const char *h = c->head, *end = h + c->head_len;
    if (c->head_len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
        return -1;
    c->status = 0;
    for (int i = 9; i < 12; i++) {
        if (h[i] < '0' || h[i] > '9')
            return -1;
        c->status = c->status * 10 + (h[i] - '0');
    }
    c->body_len = -1;
    c->server_close = h[7] == '0';
    const char *line = memchr(h, '\n', c->head_len);
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t ll = eol ? (size_t)(eol - line) : (size_t)(end - line);
        if (ll >= 15 && !strncasecmp(line, "content-length:", 15)) {
            char *e;
            long long v = strtoll(line + 15, &e, 10);
            if (v < 0 || e == line + 15)
                return -1;
            c->body_len = v;
        } else if (ll >= 18 && !strncasecmp(line, "transfer-encoding:", 18)) {
            return -1; /* chunked answers are not supported: the servers measured here send a length */
        } else if (ll >= 11 && !strncasecmp(line, "connection:", 11)) {
            for (const char *p = line + 11; p + 5 <= line + ll; p++)
                if (!strncasecmp(p, "close", 5))
                    c->server_close = true;
        }
        line = eol;
    }
    return 0;
}

static void begin_request(struct bench *b, struct conn *c)
{
    c->phase = P_WRITE;
    c->wrote = 0;
    c->head_len = c->body_got = 0;
    c->head_done = false;
    c->t_req = bench_now_us();
    c->deadline = c->t_req + b->timeout_us;
}

/* An answer is complete: count it, then the next request or the close. */
static void answered(struct bench *b, struct conn *c)
{
    int64_t t = bench_now_us();
    if (c->status != b->expect) {
        char why[32];
        snprintf(why, sizeof why, "%d", c->status);
        c_error(b, c, &b->err_status, "unexpected status", why);
        return;
    }
    c->reqs++;
    if (b->measuring) {
        b->requests++;
        lat_add(&b->rq, t - c->t_req);
    }
    if (c->reqs < b->keepalive && !c->server_close) {
        begin_request(b, c);
        return;
    }
    if (b->measuring) {
        if (c->reqs < b->keepalive)
            b->early_close++;
        b->conns_done++;
        lat_add(&b->ex, t - c->t_start);
    }
    ERR_clear_error();
    (void)SSL_shutdown(c->ssl); /* close_notify, as curl sends it; the answer to it is not awaited */
    ERR_clear_error();
    c_close(c);
}

/* Drive one connection as far as it goes (edge-triggered: until OpenSSL wants the socket). */
static void c_event(struct bench *b, struct conn *c)
{
    errno = 0;
    if (c->phase == P_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            c_error(b, c, &b->err_connect, "connect", strerror(err));
            return;
        }
        c->ssl = SSL_new(b->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
            c_error(b, c, &b->err_tls, "SSL_new", NULL);
            return;
        }
        if (b->servername) {
            SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)b->servername);
            SSL_set1_host(c->ssl, b->servername);
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), b->to.text);
        }
        SSL_set_connect_state(c->ssl);
        c->phase = P_HANDSHAKE;
    }
    if (c->phase == P_HANDSHAKE) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            char why[200];
            long vr = SSL_get_verify_result(c->ssl);
            if (vr != X509_V_OK)
                snprintf(why, sizeof why, "certificate: %s", X509_verify_cert_error_string(vr));
            else
                ssl_why(why, sizeof why);
            c_error(b, c, &b->err_tls, "handshake", why);
            return;
        }
        if (b->measuring) {
            b->handshakes++;
            lat_add(&b->hs, bench_now_us() - c->t_start);
        }
        note_tls(b, c->ssl);
        begin_request(b, c);
    }
    for (;;) {
        if (c->phase == P_WRITE) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, b->req, (int)b->req_len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return;
                char why[200];
                ssl_why(why, sizeof why);
                c_error(b, c, &b->err_closed, "write", why);
                return;
            }
            c->phase = P_READ;
        }
        if (c->phase != P_READ)
            return;
        char buf[16384];
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (c->head_done && c->body_len < 0 && (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)) {
                c->server_close = true; /* the end of the stream ends this answer */
                answered(b, c);
                return;
            }
            char why[200];
            if (e == SSL_ERROR_ZERO_RETURN)
                snprintf(why, sizeof why, "close_notify");
            else
                ssl_why(why, sizeof why);
            c_error(b, c, &b->err_closed, c->head_len ? "closed inside an answer" : "closed before an answer", why);
            return;
        }
        size_t off = 0, n = (size_t)r;
        if (!c->head_done) {
            /* copy into the head until its blank line; the rest is body */
            size_t take = n < HEAD_MAX - c->head_len ? n : HEAD_MAX - c->head_len;
            size_t scan_from = c->head_len >= 3 ? c->head_len - 3 : 0;
            memcpy(c->head + c->head_len, buf, take);
            c->head_len += take;
            char *e = memmem(c->head + scan_from, c->head_len - scan_from, "\r\n\r\n", 4);
            if (!e) {
                if (c->head_len == HEAD_MAX)
                    c_error(b, c, &b->err_http, "answer head too long", NULL);
                continue;
            }
            size_t hl = (size_t)(e + 4 - c->head);
            off = take - (c->head_len - hl);
            c->head_len = hl;
            c->head_done = true;
            if (parse_head(c) < 0) {
                c->head_done = false;
                c_error(b, c, &b->err_http, "bad or chunked answer head", NULL);
                return;
            }
        }
        c->body_got += n - off;
        if (c->body_len >= 0 && (long long)c->body_got > c->body_len) {
            c_error(b, c, &b->err_http, "bytes after the answer", NULL);
            return;
        }
        if (c->body_len >= 0 && (long long)c->body_got == c->body_len) {
            answered(b, c);
            if (c->phase == P_FREE)
                return;
        }
    }
}

static void expire(struct bench *b, int64_t now)
{
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = &b->cs[i];
        if (c->phase != P_FREE && now > c->deadline) {
            errno = 0;
            c_error(b, c, &b->err_timeout, "timeout",
                    c->phase == P_CONNECTING ? "connecting" : c->phase == P_HANDSHAKE ? "in the handshake"
                                                                                     : "waiting for the answer");
        }
    }
}

static int build_request(struct bench *b, const char *method, const char *path, const char *host, const char *body,
                         size_t body_len, const char *const *headers, int n_headers)
{
    bool has_ct = false;
    size_t cap = 1024 + body_len + strlen(path) + strlen(host);
    for (int i = 0; i < n_headers; i++) {
        cap += strlen(headers[i]) + 2;
        has_ct |= !strncasecmp(headers[i], "content-type:", 13);
    }
    b->req = malloc(cap);
    if (!b->req)
        return -1;
    int n = snprintf(b->req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tls-bench\r\nAccept: */*\r\n", method,
                     path, host);
    for (int i = 0; i < n_headers; i++)
        n += snprintf(b->req + n, cap - (size_t)n, "%s\r\n", headers[i]);
    if (body_len || strcmp(method, "GET") != 0) {
        if (body_len && !has_ct)
            n += snprintf(b->req + n, cap - (size_t)n, "Content-Type: application/json\r\n");
        n += snprintf(b->req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    }
    n += snprintf(b->req + n, cap - (size_t)n, "\r\n");
    memcpy(b->req + n, body, body_len);
    b->req_len = (size_t)n + body_len;
    return 0;
}

static int setup_tls(struct bench *b, const char *ca, const char *cert, const char *key, const char *tls)
{
    b->ctx = SSL_CTX_new(TLS_client_method());
    if (!b->ctx)
        return -1;
    SSL_CTX_set_min_proto_version(b->ctx, TLS1_2_VERSION);
    if (tls) {
        int v = !strcmp(tls, "1.2") ? TLS1_2_VERSION : !strcmp(tls, "1.3") ? TLS1_3_VERSION : 0;
        if (!v) {
            fprintf(stderr, "tls-bench: --tls 1.2|1.3\n");
            return -1;
        }
        SSL_CTX_set_min_proto_version(b->ctx, v);
        SSL_CTX_set_max_proto_version(b->ctx, v);
    }
    /* never a resumption: no client session cache, no ticket asked for (TLS 1.2); every SSL is new */
    SSL_CTX_set_session_cache_mode(b->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(b->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(b->ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(b->ctx, ca, NULL) != 1) {
        fprintf(stderr, "tls-bench: --ca %s: cannot load it\n", ca);
        return -1;
    }
    if (cert && (SSL_CTX_use_certificate_chain_file(b->ctx, cert) != 1 ||
                 SSL_CTX_use_PrivateKey_file(b->ctx, key, SSL_FILETYPE_PEM) != 1 ||
                 SSL_CTX_check_private_key(b->ctx) != 1)) {
        fprintf(stderr, "tls-bench: --cert %s / --key %s: cannot load them, or they do not match\n", cert, key);
        return -1;
    }
    return 0;
}

static int run(struct bench *b, double duration, double warmup, const pid_t *pids, int n_pids)
{
    int64_t t0 = bench_now_us(), t_measure = t0 + (int64_t)(warmup * 1e6), t_end = t_measure + (int64_t)(duration * 1e6);
    int64_t next_expire = t0 + 100000;
    double s0 = -1, g0 = 0;
    unsigned long long cb0[BENCH_MAX_CPUS], ct0[BENCH_MAX_CPUS], cb1[BENCH_MAX_CPUS], ct1[BENCH_MAX_CPUS];
    int ncpu = 0;
    char cpus[BENCH_MAX_CPUS * 5];
    for (;;) {
        int64_t now = bench_now_us();
        if (!b->measuring && now >= t_measure) {
            b->measuring = true;
            t_measure = now;
            t_end = now + (int64_t)(duration * 1e6);
            s0 = n_pids ? pids_cpu_s(pids, n_pids) : -1;
            g0 = bench_self_cpu_s();
            ncpu = bench_cpus_busy(cb0, ct0);
        }
        if (now >= t_end)
            break;
        for (size_t i = 0; i < b->n; i++)
            if (b->cs[i].phase == P_FREE)
                c_start(b, &b->cs[i]);
        if (now >= next_expire) {
            expire(b, now);
            next_expire = now + 100000;
        }
        struct epoll_event evs[512];
        int ne = epoll_wait(b->ep, evs, 512, 5);
        for (int i = 0; i < ne; i++) {
            uint64_t d = evs[i].data.u64;
            struct conn *c = &b->cs[(uint32_t)d];
            if (c->phase == P_FREE || c->gen != (uint32_t)(d >> 32))
                continue;
            c_event(b, c);
        }
    }
    int64_t t1 = bench_now_us();
    double s1 = n_pids ? pids_cpu_s(pids, n_pids) : -1, g1 = bench_self_cpu_s();
    if (bench_cpus_busy(cb1, ct1) != ncpu)
        ncpu = 0;
    bench_cpus_busy_fmt(cpus, sizeof cpus, ncpu, cb0, ct0, cb1, ct1);
    for (size_t i = 0; i < b->n; i++)
        c_close(&b->cs[i]);
    double secs = (double)(t1 - t_measure) / 1e6, scpu = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1;
    qsort(b->hs.v, b->hs.n, sizeof *b->hs.v, bench_cmp_u32);
    qsort(b->rq.v, b->rq.n, sizeof *b->rq.v, bench_cmp_u32);
    qsort(b->ex.v, b->ex.n, sizeof *b->ex.v, bench_cmp_u32);
    uint64_t errors = errors_of(b);
    printf("mode=tls target=%s:%u concurrency=%zu keepalive=%u duration_s=%.2f handshakes=%llu handshakes_per_s=%.0f "
           "requests=%llu requests_per_s=%.0f connections=%llu early_close=%llu errors=%llu err_connect=%llu "
           "err_tls=%llu err_status=%llu err_http=%llu err_closed=%llu err_timeout=%llu "
           "hs_p50_us=%u hs_p99_us=%u req_p50_us=%u req_p99_us=%u exch_p50_us=%u exch_p99_us=%u "
           "gen_cpu_pct=%.0f server_cpu_pct=%.0f server_cpu_us_per_conn=%.1f server_cpu_us_per_req=%.1f "
           "cpu_busy_pct=%s %s first_error=\"%s\"\n",
           b->to.text, ntohs(b->to.sin.sin_port), b->n, b->keepalive, secs, (unsigned long long)b->handshakes,
           (double)b->handshakes / secs, (unsigned long long)b->requests, (double)b->requests / secs,
           (unsigned long long)b->conns_done, (unsigned long long)b->early_close, (unsigned long long)errors,
           (unsigned long long)b->err_connect, (unsigned long long)b->err_tls, (unsigned long long)b->err_status,
           (unsigned long long)b->err_http, (unsigned long long)b->err_closed, (unsigned long long)b->err_timeout,
           bench_pct(b->hs.v, b->hs.n, 0.5), bench_pct(b->hs.v, b->hs.n, 0.99), bench_pct(b->rq.v, b->rq.n, 0.5),
           bench_pct(b->rq.v, b->rq.n, 0.99), bench_pct(b->ex.v, b->ex.n, 0.5), bench_pct(b->ex.v, b->ex.n, 0.99), 100.0 * (g1 - g0) / secs, scpu < 0 ? -1.0 : 100.0 * scpu / secs,
           scpu < 0 || !b->handshakes ? -1.0 : scpu * 1e6 / (double)b->handshakes,
           scpu < 0 || !b->requests ? -1.0 : scpu * 1e6 / (double)b->requests, cpus,
           b->tls_info[0] ? b->tls_info : "tls_version=-", b->first_error[0] ? b->first_error : "-");
    fflush(stdout);
    return errors || !b->requests ? 1 : 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tls-bench --connect IP:PORT --ca FILE [--servername NAME] [--cert FILE --key FILE]\n"
            "                 [-c CONC] [--duration S] [--warmup S] [--keepalive N] [--method M] [--path P]\n"
            "                 [--body TEXT | --body-file FILE] [--header 'Name: value']... [--expect STATUS]\n"
            "                 [--src IP[,IP...]] [--pid PID[,PID...]] [--tls 1.2|1.3] [--timeout S]\n"
            "Full TLS handshakes (never resumed) and HTTP/1.1 requests against an HTTPS server, CONC connections\n"
            "in one epoll loop; prints one key=value line (handshakes_per_s, requests_per_s, errors, latencies,\n"
            "server CPU per connection and per request with --pid). Defaults: -c 32, 5 s after 1 s of warm-up,\n"
            "1 request per connection, GET /, expect 200, timeout 10 s.\n");
}

static int read_body_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *out = malloc(MAX_BODY + 1);
    *len = *out ? fread(*out, 1, MAX_BODY + 1, f) : 0;
    int bad = ferror(f) || !*out || *len > MAX_BODY;
    fclose(f);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'C'},  {"ca", required_argument, NULL, 'a'},
        {"servername", required_argument, NULL, 'S'}, {"cert", required_argument, NULL, 'e'},
        {"key", required_argument, NULL, 'k'},      {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"keepalive", required_argument, NULL, 'K'}, {"method", required_argument, NULL, 'm'},
        {"path", required_argument, NULL, 'p'},     {"body", required_argument, NULL, 'b'},
        {"body-file", required_argument, NULL, 'B'}, {"header", required_argument, NULL, 'H'},
        {"expect", required_argument, NULL, 'x'},   {"src", required_argument, NULL, 's'},
        {"pid", required_argument, NULL, 'P'},      {"tls", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, 't'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench b = {.ep = -1, .expect = 200, .keepalive = 1};
    const char *connect_to = NULL, *ca = NULL, *cert = NULL, *key = NULL, *method = "GET", *path = "/";
    const char *body_text = NULL, *body_file = NULL, *srcs = NULL, *pids_s = NULL, *tls = NULL;
    const char *headers[MAX_HEADERS];
    int n_headers = 0, timeout_s = 10, c;
    double duration = 5, warmup = 1;
    long conc = 32, keepalive = 1, expect = 200;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'C': connect_to = optarg; break;
        case 'a': ca = optarg; break;
        case 'S': b.servername = optarg; break;
        case 'e': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'c': conc = strtol(optarg, NULL, 10); break;
        case 'd': duration = strtod(optarg, NULL); break;
        case 'w': warmup = strtod(optarg, NULL); break;
        case 'K': keepalive = strtol(optarg, NULL, 10); break;
        case 'm': method = optarg; break;
        case 'p': path = optarg; break;
        case 'b': body_text = optarg; break;
        case 'B': body_file = optarg; break;
        case 'H':
            if (n_headers == MAX_HEADERS || !strchr(optarg, ':') || strpbrk(optarg, "\r\n")) {
                fprintf(stderr, "tls-bench: bad or too many --header (at most %d, \"Name: value\")\n", MAX_HEADERS);
                return 64;
            }
            headers[n_headers++] = optarg;
            break;
        case 'x': expect = strtol(optarg, NULL, 10); break;
        case 's': srcs = optarg; break;
        case 'P': pids_s = optarg; break;
        case 'T': tls = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    /* bounded in count and time */
    if (optind != argc || !connect_to || !ca || (!cert) != (!key) || timeout_s <= 0 || timeout_s > 600 ||
        duration <= 0 || duration > 600 || warmup < 0 || warmup > 60 || conc <= 0 || conc > MAX_CONC ||
        keepalive <= 0 || keepalive > 100000 || expect < 100 || expect > 599 || (body_text && body_file) ||
        strpbrk(method, " \r\n") || strpbrk(path, " \r\n") || !*method || path[0] != '/' ||
        (b.servername && strpbrk(b.servername, " \r\n"))) {
        usage(stderr);
        return 64;
    }
    if (parse_addr(connect_to, &b.to, true) < 0) {
        fprintf(stderr, "tls-bench: --connect %s: expected IPv4:PORT\n", connect_to);
        return 64;
    }
    if (srcs) {
        char buf[2048], *save = NULL;
        if (strlen(srcs) >= sizeof buf)
            return 64;
        snprintf(buf, sizeof buf, "%s", srcs);
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (b.n_srcs == MAX_SRCS || parse_addr(tok, &b.srcs[b.n_srcs], false) < 0) {
                fprintf(stderr, "tls-bench: bad --src address \"%s\"\n", tok);
                return 64;
            }
            b.n_srcs++;
        }
    }
    pid_t pids[MAX_PIDS];
    int n_pids = 0;
    if (pids_s) {
        char buf[256], *save = NULL;
        snprintf(buf, sizeof buf, "%s", pids_s);
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            long v = strtol(tok, NULL, 10);
            if (n_pids == MAX_PIDS || v <= 0) {
                fprintf(stderr, "tls-bench: bad --pid \"%s\" (at most %d)\n", tok, MAX_PIDS);
                return 64;
            }
            pids[n_pids++] = (pid_t)v;
        }
    }
    char *body = NULL;
    size_t body_len = 0;
    if (body_file && read_body_file(body_file, &body, &body_len) < 0) {
        fprintf(stderr, "tls-bench: --body-file %s: unreadable or larger than %d bytes\n", body_file, MAX_BODY);
        return 64;
    }
    if (body_text) {
        body_len = strlen(body_text);
        if (body_len > MAX_BODY || !(body = strdup(body_text)))
            return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    char host[128];
    if (b.servername)
        snprintf(host, sizeof host, "%s:%u", b.servername, ntohs(b.to.sin.sin_port));
    else
        snprintf(host, sizeof host, "%s:%u", b.to.text, ntohs(b.to.sin.sin_port));
    if (setup_tls(&b, ca, cert, key, tls) < 0 ||
        build_request(&b, method, path, host, body ? body : "", body_len, headers, n_headers) < 0)
        return 3;
    free(body);
    b.expect = (int)expect;
    b.keepalive = (unsigned)keepalive;
    b.n = (size_t)conc;
    b.timeout_us = (int64_t)timeout_s * 1000000;
    bench_raise_nofile("tls-bench", (rlim_t)conc + 64);
    b.ep = epoll_create1(EPOLL_CLOEXEC);
    b.cs = calloc(b.n, sizeof *b.cs);
    char *heads = malloc(b.n * HEAD_MAX);
    if (b.ep < 0 || !b.cs || !heads) {
        fprintf(stderr, "tls-bench: out of memory\n");
        return 3;
    }
    for (size_t i = 0; i < b.n; i++) {
        b.cs[i].fd = -1;
        b.cs[i].head = heads + i * HEAD_MAX;
    }
    int rc = run(&b, duration, warmup, pids, n_pids);
    close(b.ep);
    free(heads);
    free(b.cs);
    free(b.req);
    free(b.hs.v);
    free(b.rq.v);
    free(b.ex.v);
    SSL_CTX_free(b.ctx);
    return rc;
}
