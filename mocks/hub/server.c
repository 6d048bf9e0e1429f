/* mock-hub: the event engine (see server.h). Decisions are in hubcore.c; this file moves bytes,
 * keeps the peer table and the state file, and logs one line per event. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ident.h"
#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/util.h"

#define HUB_OUT_MAX 8192               /* queued answer bytes per connection before "slow-peer" */
#define HUB_LINGER_MS 2000             /* how long closing + linger may take */
#define HUB_CA_MAX (1024 * 1024)

enum conn_state { CONN_HANDSHAKE, CONN_HELLO, CONN_PEERED, CONN_CLOSING, CONN_LINGER, CONN_STATE_COUNT };
static const char *const conn_state_names[CONN_STATE_COUNT] = {
    [CONN_HANDSHAKE] = "handshake", [CONN_HELLO] = "hello", [CONN_PEERED] = "peered",
    [CONN_CLOSING] = "closing",     [CONN_LINGER] = "linger",
};

struct conn {
    struct conn *next, *prev;
    struct hub_server *srv;
    int fd;
    SSL *ssl;
    enum conn_state state;
    bool dead;                         /* closed; freed at the end of the loop iteration */
    bool ssl_failed;                   /* a fatal TLS error: no SSL_shutdown */
    bool want_write;                   /* the last TLS operation wants the socket writable */
    uint32_t events;                   /* current epoll mask */
    char addr[64];
    char identity[PKI_IDENTITY_MAX];   /* the certificate's identity ("" when unknown) */
    char verify_err[160];              /* the first certificate verification error */
    char peer[PKI_IDENTITY_MAX];       /* the peer this link carries, once peered */
    char in[HUB_LINE_MAX + 1];
    size_t in_len;
    char out[HUB_OUT_MAX];
    size_t out_len;
    int64_t deadline;                  /* CLOCK_MONOTONIC ms */
    int64_t peered_at;
    int64_t last_keepalive;            /* peered: the idle timer counts from here */
    unsigned long long keepalives;
};

struct peer_rt {
    struct hub_peer_status st;
    struct conn *conn;                 /* the peered link, or NULL */
};

struct hub_server {
    struct hub_server_opts o;
    struct hub_config cfg;
    SSL_CTX *ctx;
    char *ca_pem;
    size_t ca_len;
    char listen_str[80];
    int lfd, epfd, sigfd;
    bool listen_paused, stop, state_dirty;
    const char *stop_signal;
    struct conn *conns, *graveyard;
    size_t n_conns;
    struct peer_rt *peers;
    size_t n_peers, cap_peers;
    unsigned long long accepted, peered, refused, closed;
};

static char tag_listen, tag_signal;    /* epoll data for the two non-connection fds */

static void end_peered(struct conn *c, enum hub_reason r, const char *detail);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last OpenSSL error's reason (the queue is emptied). */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    const char *r = last ? ERR_reason_error_string(last) : NULL;
    snprintf(buf, cap, "%s", r ? r : last ? "unknown TLS error" : "connection closed");
    return buf;
}

/* ---- peer table and state file ---- */

static struct peer_rt *peer_find(struct hub_server *s, const char *identity)
{
    for (size_t i = 0; i < s->n_peers; i++)
        if (strcmp(s->peers[i].st.identity, identity) == 0)
            return &s->peers[i];
    return NULL;
}

static struct peer_rt *peer_get(struct hub_server *s, const char *identity)
{
    struct peer_rt *p = peer_find(s, identity);
    if (p)
        return p;
    if (s->n_peers == s->cap_peers) {
        size_t nc = s->cap_peers ? 2 * s->cap_peers : 16;
        struct peer_rt *np = realloc(s->peers, nc * sizeof *np);
        if (!np)
            fatalx("hub.oom", "what=peers n=%zu", nc);
        s->peers = np;
        s->cap_peers = nc;
    }
    p = &s->peers[s->n_peers++];
    memset(p, 0, sizeof *p);
    snprintf(p->st.identity, sizeof p->st.identity, "%s", identity);
    p->st.state = HUB_PEER_DOWN;
    p->st.since = time(NULL);
    s->state_dirty = true;
    return p;
}

static void add_configured_peers(struct hub_server *s)
{
    for (size_t i = 0; i < s->cfg.n_peers; i++)
        peer_get(s, s->cfg.peers[i].identity);
}

static int write_state(struct hub_server *s)
{
    s->state_dirty = false;
    if (!s->o.state_path)
        return 0;
    struct hub_peer_status *a = calloc(s->n_peers + 1, sizeof *a);
    if (!a)
        fatalx("hub.oom", "what=state");
    for (size_t i = 0; i < s->n_peers; i++)
        a[i] = s->peers[i].st;
    char *json = hub_state_json(s->cfg.hub_name, a, s->n_peers);
    free(a);
    if (!json)
        fatalx("hub.state", "error=\"cannot build the state JSON\"");
    size_t len = strlen(json);
    json[len] = '\n';                  /* json_dumps' NUL becomes the final newline */
    int r = atomic_write_file(s->o.state_path, json, len + 1, 0644);
    free(json);
    if (r < 0)
        log_error("hub.state", "path=%s error=\"%s\"", s->o.state_path, strerror(-r));
    return r;
}

/* ---- connection plumbing ---- */

static void conn_transition(struct conn *c, enum conn_state to)
{
    if (c->state == to)
        return;
    log_debug("conn.state", "addr=%s from=%s to=%s", c->addr, conn_state_names[c->state], conn_state_names[to]);
    c->state = to;
}

static void conn_update_events(struct conn *c)
{
    if (c->dead)
        return;
    uint32_t ev = EPOLLIN;
    if (c->state != CONN_LINGER && (c->want_write || c->out_len))
        ev |= EPOLLOUT;
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        fatalx("hub.epoll", "op=mod error=\"%s\"", strerror(errno));
    c->events = ev;
}

/* Close the socket now; the memory is freed at the end of the loop iteration. */
static void conn_close(struct conn *c)
{
    struct hub_server *s = c->srv;
    if (c->dead)
        return;
    if (c->state == CONN_PEERED)       /* every peered link ends through end_peered() first */
        fatalx("hub.invariant", "peer=%s addr=%s closed while peered", c->peer, c->addr);
    c->dead = true;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = s->graveyard;
    c->prev = NULL;
    s->graveyard = c;
    s->n_conns--;
    if (s->listen_paused) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &tag_listen};
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &e) == 0)
            s->listen_paused = false;
    }
}

/* Half-close and drain what the peer still sends until it closes or the linger time is over. */
static void conn_linger(struct conn *c)
{
    if (c->dead)
        return;
    conn_transition(c, CONN_LINGER);
    c->out_len = 0;
    c->want_write = false;
    c->deadline = now_ms() + HUB_LINGER_MS;
    if (shutdown(c->fd, SHUT_WR) < 0) {
        conn_close(c);
        return;
    }
    conn_update_events(c);
}

static void conn_drain(struct conn *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        conn_close(c);                 /* EOF or error: done */
        return;
    }
}

/* Send close_notify (best effort) and linger. */
static void conn_shutdown(struct conn *c)
{
    if (c->dead)
        return;
    if (!c->ssl_failed && SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    conn_linger(c);
}

static void conn_flush(struct conn *c);

/* Finish the connection gracefully: flush what is queued, then close_notify, then linger. */
static void conn_finish(struct conn *c)
{
    if (c->dead || c->state == CONN_LINGER)
        return;
    conn_transition(c, CONN_CLOSING);
    c->deadline = now_ms() + HUB_LINGER_MS;
    conn_flush(c);
}

static bool conn_queue(struct conn *c, const char *data, size_t len)
{
    if (len > sizeof c->out - c->out_len)
        return false;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return true;
}

static void conn_flush(struct conn *c)
{
    while (!c->dead && c->out_len) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, c->out, (int)c->out_len);
        if (r > 0) {
            memmove(c->out, c->out + r, c->out_len - (size_t)r);
            c->out_len -= (size_t)r;
            c->want_write = false;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = true;
            break;
        }
        if (e == SSL_ERROR_WANT_READ)
            break;
        /* The peer is gone: drop what is queued. */
        char why[160];
        ssl_reason(why, sizeof why);
        c->ssl_failed = true;
        c->out_len = 0;
        if (c->state == CONN_PEERED)
            end_peered(c, HUB_C_TLS_ERROR, why);
        conn_close(c);
        return;
    }
    if (c->dead)
        return;
    if (c->state == CONN_CLOSING && c->out_len == 0)
        conn_shutdown(c);
    else
        conn_update_events(c);
}

/* ---- refusals, peering, closing ---- */

/* Reasons the peer is told about (after the TLS handshake, while it may still read). */
static bool reason_answered(enum hub_reason r)
{
    switch (r) {
    case HUB_R_HELLO_TIMEOUT:
    case HUB_R_HELLO_TOO_LONG:
    case HUB_R_BAD_HELLO:
    case HUB_R_NO_IDENTITY:
    case HUB_R_IDENTITY_MISMATCH:
    case HUB_R_UNKNOWN_PEER:
    case HUB_R_WRONG_HUB:
    case HUB_R_BAD_CERTIFICATE:
        return true;
    default:
        return false;
    }
}

static void refuse(struct conn *c, enum hub_reason r, const char *detail)
{
    char qd[600], qi[PKI_IDENTITY_MAX * 4 + 3], qv[400];
    c->srv->refused++;
    log_warn("svr.refused", "reason=%s addr=%s identity=%s%s%s detail=%s", hub_reason_name(r), c->addr,
             c->identity[0] ? log_quote(qi, sizeof qi, c->identity, strlen(c->identity)) : "-",
             c->verify_err[0] ? " verify=" : "",
             c->verify_err[0] ? log_quote(qv, sizeof qv, c->verify_err, strlen(c->verify_err)) : "",
             log_quote(qd, sizeof qd, detail ? detail : "-", detail ? strlen(detail) : 1));
    if (reason_answered(r)) {
        char line[128];
        int n = hub_answer_refused(r, line, sizeof line);
        if (n < 0)
            fatalx("hub.answer", "reason=%s", hub_reason_name(r));
        c->out_len = 0;
        conn_queue(c, line, (size_t)n);
        conn_finish(c);
    } else if (r == HUB_R_HELLO_MISSING) {
        conn_close(c);
    } else {
        c->ssl_failed = true;
        conn_linger(c);
    }
}

/* A peered link ends: log it and, unless another link replaced it, mark the peer down. The caller
 * closes the connection. */
static void end_peered(struct conn *c, enum hub_reason r, const char *detail)
{
    struct hub_server *s = c->srv;
    char qd[400];
    if (c->state != CONN_PEERED)
        return;
    s->closed++;
    log_info("svr.closed", "peer=%s addr=%s reason=%s peered_s=%lld keepalives=%llu%s%s", c->peer, c->addr,
             hub_reason_name(r), (long long)((now_ms() - c->peered_at) / 1000), c->keepalives,
             detail ? " detail=" : "", detail ? log_quote(qd, sizeof qd, detail, strlen(detail)) : "");
    struct peer_rt *p = peer_find(s, c->peer);
    if (p && p->conn == c) {
        p->conn = NULL;
        p->st.state = HUB_PEER_DOWN;
        p->st.since = time(NULL);
        s->state_dirty = true;
    }
    conn_transition(c, CONN_CLOSING);
}

static void peer_up(struct conn *c, const struct hub_peer *hp)
{
    struct hub_server *s = c->srv;
    struct peer_rt *p = peer_get(s, hp->identity);
    bool replaced = false;
    char line[256];
    if (p->conn && p->conn != c) {
        struct conn *old = p->conn;
        p->conn = NULL;                /* keeps end_peered from marking the peer down */
        end_peered(old, HUB_C_REPLACED, NULL);
        conn_finish(old);
        replaced = true;
    }
    p->conn = c;
    p->st.state = HUB_PEER_PEERED;
    p->st.since = time(NULL);
    snprintf(p->st.addr, sizeof p->st.addr, "%s", c->addr);
    s->state_dirty = true;
    s->peered++;
    snprintf(c->peer, sizeof c->peer, "%s", hp->identity);
    c->peered_at = c->last_keepalive = now_ms();
    c->deadline = c->peered_at + (int64_t)s->cfg.idle_timeout * 1000;
    conn_transition(c, CONN_PEERED);
    log_info("svr.peered", "peer=%s identity=%s addr=%s hub=%s tls=%s replaced=%s", hp->identity, c->identity,
             c->addr, s->cfg.hub_name, SSL_get_version(c->ssl), replaced ? "yes" : "no");
    int n = hub_answer_peered(s->cfg.hub_name, hp->identity, line, sizeof line);
    if (n < 0 || !conn_queue(c, line, (size_t)n))
        fatalx("hub.answer", "peer=%s", hp->identity);
}

/* ---- lines ---- */

static void hello_line(struct conn *c, const char *line, size_t len)
{
    struct hub_server *s = c->srv;
    struct hub_hello h;
    const struct hub_peer *hp;
    char err[300], detail[400];
    if (hub_hello_parse(line, len, &h, err, sizeof err) < 0) {
        refuse(c, HUB_R_BAD_HELLO, err);
        return;
    }
    enum hub_reason r = hub_decide(&s->cfg, c->identity[0] ? c->identity : NULL, &h, &hp, detail, sizeof detail);
    if (r != HUB_OK) {
        refuse(c, r, detail);
        return;
    }
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    if (!cert || hub_cert_check(cert, s->ca_pem, s->ca_len, hp->router, hp->node, err, sizeof err) < 0) {
        refuse(c, HUB_R_BAD_CERTIFICATE, cert ? err : "no peer certificate");
        return;
    }
    peer_up(c, hp);
}

static void peered_line(struct conn *c, const char *line, size_t len)
{
    long long n;
    char err[300], q[400], ans[64];
    if (hub_keepalive_parse(line, len, &n, err, sizeof err) < 0) {
        log_warn("svr.line", "peer=%s addr=%s result=dropped error=%s", c->peer, c->addr,
                 log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    c->keepalives++;
    c->last_keepalive = now_ms();
    c->deadline = c->last_keepalive + (int64_t)c->srv->cfg.idle_timeout * 1000;
    log_debug("svr.keepalive", "peer=%s n=%lld", c->peer, n);
    int al = hub_answer_keepalive(n, ans, sizeof ans);
    if (al > 0 && (size_t)al > sizeof c->out - c->out_len)
        conn_flush(c);                 /* a burst of keepalives: write what we can first */
    if (c->dead)
        return;
    if (al < 0 || !conn_queue(c, ans, (size_t)al)) {
        end_peered(c, HUB_C_SLOW_PEER, "the peer does not read its keepalive echoes");
        conn_close(c);
    }
}

/* Split the input into lines; stops when the connection leaves hello/peered. */
static void process_input(struct conn *c)
{
    while (!c->dead && (c->state == CONN_HELLO || c->state == CONN_PEERED)) {
        char *nl = memchr(c->in, '\n', c->in_len);
        size_t ll = nl ? (size_t)(nl - c->in) : c->in_len;
        if (ll > HUB_LINE_MAX) {
            if (c->state == CONN_HELLO) {
                refuse(c, HUB_R_HELLO_TOO_LONG, "no newline within the first 1025 bytes");
            } else {
                end_peered(c, HUB_C_LINE_TOO_LONG, "a line longer than 1024 bytes");
                conn_finish(c);
            }
            return;
        }
        if (!nl)
            return;
        if (c->state == CONN_HELLO)
            hello_line(c, c->in, ll);
        else
            peered_line(c, c->in, ll);
        if (c->dead)
            return;
        memmove(c->in, nl + 1, c->in_len - ll - 1);
        c->in_len -= ll + 1;
    }
}

static void conn_read(struct conn *c)
{
    while (!c->dead && (c->state == CONN_HELLO || c->state == CONN_PEERED)) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
        if (r > 0) {
            c->want_write = false;
            c->in_len += (size_t)r;
            process_input(c);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            c->want_write = false;
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = true;
            return;
        }
        char why[160];
        bool eof = e == SSL_ERROR_ZERO_RETURN;
        ssl_reason(why, sizeof why);
        if (e == SSL_ERROR_SYSCALL && errno)
            snprintf(why, sizeof why, "%s", strerror(errno));
        if (!eof)
            c->ssl_failed = true;
        if (c->state == CONN_HELLO) {
            refuse(c, HUB_R_HELLO_MISSING, eof ? "the peer closed before its hello" : why);
        } else {
            end_peered(c, eof ? HUB_C_PEER_CLOSED : HUB_C_TLS_ERROR, eof ? NULL : why);
            if (eof)
                conn_shutdown(c);      /* answer its close_notify */
            else
                conn_close(c);
        }
        return;
    }
}

static void conn_handshake(struct conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        X509 *cert = SSL_get0_peer_certificate(c->ssl);
        c->identity[0] = '\0';
        if (cert && hub_cert_identity(cert, c->identity, sizeof c->identity) < 0)
            c->identity[0] = '\0';
        c->want_write = false;
        log_debug("svr.tls", "addr=%s version=%s cipher=%s identity=%s", c->addr, SSL_get_version(c->ssl),
                  SSL_get_cipher_name(c->ssl), c->identity[0] ? c->identity : "-");
        conn_transition(c, CONN_HELLO);
        conn_read(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want_write = e == SSL_ERROR_WANT_WRITE;
        return;
    }
    char why[160];
    ssl_reason(why, sizeof why);
    if (e == SSL_ERROR_SYSCALL && errno)
        snprintf(why, sizeof why, "%s", strerror(errno));
    c->ssl_failed = true;
    refuse(c, HUB_R_TLS_HANDSHAKE, why);
}

static void conn_event(struct conn *c)
{
    switch (c->state) {
    case CONN_HANDSHAKE:
        conn_handshake(c);
        if (!c->dead && (c->state == CONN_HELLO || c->state == CONN_PEERED))
            conn_flush(c);
        break;
    case CONN_HELLO:
    case CONN_PEERED:
        conn_read(c);
        if (!c->dead && (c->state == CONN_HELLO || c->state == CONN_PEERED))
            conn_flush(c);
        break;
    case CONN_CLOSING: conn_flush(c); break;
    case CONN_LINGER: conn_drain(c); break;
    case CONN_STATE_COUNT: fatalx("hub.state", "conn state out of range");
    }
    conn_update_events(c);
}

/* ---- accept ---- */

static void fmt_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!c)
        return ok;
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    if (leaf && !c->identity[0] && hub_cert_identity(leaf, c->identity, sizeof c->identity) < 0)
        c->identity[0] = '\0';
    if (!ok && !c->verify_err[0])
        snprintf(c->verify_err, sizeof c->verify_err, "%s (depth %d)",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)), X509_STORE_CTX_get_error_depth(x));
    return ok;
}

static void accept_all(struct hub_server *s)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return;
            log_error("svr.accept", "error=\"%s\" open=%zu", strerror(errno), s->n_conns);
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Stop accepting until a connection closes (level-triggered: no busy loop). */
                struct epoll_event e = {.events = 0, .data.ptr = &tag_listen};
                if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &e) == 0)
                    s->listen_paused = true;
            }
            return;
        }
        s->accepted++;
        char addr[64];
        fmt_addr(&ss, addr, sizeof addr);
        if (s->n_conns >= s->cfg.max_connections) {
            s->refused++;
            log_warn("svr.refused", "reason=%s addr=%s identity=- detail=\"%zu connections open\"",
                     hub_reason_name(HUB_R_TOO_MANY), addr, s->n_conns);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        SSL *ssl = c ? SSL_new(s->ctx) : NULL;
        if (!ssl || !SSL_set_fd(ssl, fd)) {
            log_error("svr.accept", "addr=%s error=\"out of memory\"", addr);
            SSL_free(ssl);
            free(c);
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        c->ssl = ssl;
        c->state = CONN_HANDSHAKE;
        c->events = EPOLLIN;
        c->deadline = now_ms() + (int64_t)s->cfg.hello_timeout * 1000;
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        SSL_set_app_data(ssl, c);
        SSL_set_accept_state(ssl);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
            fatalx("hub.epoll", "op=add error=\"%s\"", strerror(errno));
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        log_debug("svr.accept", "addr=%s open=%zu", addr, s->n_conns);
    }
}

/* ---- timers ---- */

static void sweep_timeouts(struct hub_server *s, int64_t now)
{
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->dead || c->deadline > now)
            continue;
        switch (c->state) {
        case CONN_HANDSHAKE:
            refuse(c, HUB_R_HANDSHAKE_TIMEOUT, "no TLS handshake within hello-timeout");
            break;
        case CONN_HELLO: refuse(c, HUB_R_HELLO_TIMEOUT, "no hello line within hello-timeout"); break;
        case CONN_PEERED:
            end_peered(c, HUB_C_IDLE_TIMEOUT, NULL);
            conn_finish(c);
            break;
        case CONN_CLOSING: conn_linger(c); break;
        case CONN_LINGER: conn_close(c); break;
        case CONN_STATE_COUNT: break;
        }
        /* conn_finish/refuse may have closed or lingered this one only; next is still valid
         * because connections are freed only at the end of the iteration. */
    }
}

static int next_timeout(const struct hub_server *s, int64_t now)
{
    int64_t min = -1;
    for (const struct conn *c = s->conns; c; c = c->next)
        if (!c->dead && (min < 0 || c->deadline < min))
            min = c->deadline;
    if (min < 0)
        return -1;
    if (min <= now)
        return 0;
    return min - now > 60000 ? 60000 : (int)(min - now);
}

static void free_graveyard(struct hub_server *s)
{
    while (s->graveyard) {
        struct conn *c = s->graveyard;
        s->graveyard = c->next;
        free(c);
    }
}

/* ---- configuration reload ---- */

static void reload(struct hub_server *s)
{
    struct hub_config nc = {0};
    char err[600], q[1300];
    if (hub_config_load(s->o.config_path, &nc, err, sizeof err) < 0) {
        log_warn("config.reload", "result=kept-old error=%s", log_quote(q, sizeof q, err, strlen(err)));
        return;
    }
    bool hub_renamed = strcmp(nc.hub_name, s->cfg.hub_name) != 0;
    struct hub_config old = s->cfg;
    s->cfg = nc;
    unsigned cut = 0;
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->dead || c->state != CONN_PEERED)
            continue;
        c->deadline = c->last_keepalive + (int64_t)s->cfg.idle_timeout * 1000;   /* the new idle-timeout */
        if (hub_renamed || !hub_config_find_identity(&s->cfg, c->peer)) {
            end_peered(c, HUB_C_CONFIG_REMOVED, hub_renamed ? "the hub was renamed" : "no longer a configured peer");
            conn_finish(c);
            cut++;
        }
    }
    hub_config_free(&old);
    add_configured_peers(s);
    s->state_dirty = true;
    log_info("config.reload", "result=ok hub=%s peers=%zu idle_timeout=%u hello_timeout=%u max_connections=%u cut=%u",
             s->cfg.hub_name, s->cfg.n_peers, s->cfg.idle_timeout, s->cfg.hello_timeout, s->cfg.max_connections, cut);
}

static void read_signals(struct hub_server *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            reload(s);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            s->stop_signal = si.ssi_signo == SIGINT ? "INT" : "TERM";
            s->stop = true;
        }
    }
}

/* ---- setup, loop, teardown ---- */

static int tls_setup(struct hub_server *s, char *err, size_t cap)
{
    char why[160];
    STACK_OF(X509_NAME) *names = NULL;
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (!s->ctx)
        return errf(err, cap, "TLS: %s", ssl_reason(why, sizeof why));
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(s->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_num_tickets(s->ctx, 0);
    SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
    const char *files[] = {s->o.cert, s->o.key, s->o.client_ca};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (access(files[i], R_OK) < 0)   /* a clearer message than OpenSSL's "system lib" */
            return errf(err, cap, "%s: %s", files[i], strerror(errno));
    if (SSL_CTX_use_certificate_chain_file(s->ctx, s->o.cert) != 1)
        return errf(err, cap, "--cert %s: %s", s->o.cert, ssl_reason(why, sizeof why));
    if (SSL_CTX_use_PrivateKey_file(s->ctx, s->o.key, SSL_FILETYPE_PEM) != 1)
        return errf(err, cap, "--key %s: %s", s->o.key, ssl_reason(why, sizeof why));
    if (SSL_CTX_check_private_key(s->ctx) != 1)
        return errf(err, cap, "--key %s does not match --cert %s", s->o.key, s->o.cert);
    if (SSL_CTX_load_verify_locations(s->ctx, s->o.client_ca, NULL) != 1)
        return errf(err, cap, "--client-ca %s: %s", s->o.client_ca, ssl_reason(why, sizeof why));
    names = SSL_load_client_CA_file(s->o.client_ca);
    if (!names)
        return errf(err, cap, "--client-ca %s: no certificate in it", s->o.client_ca);
    SSL_CTX_set_client_CA_list(s->ctx, names);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_verify_depth(s->ctx, 4);
    int r = read_file_max(s->o.client_ca, HUB_CA_MAX, &s->ca_pem, &s->ca_len);
    if (r < 0)
        return errf(err, cap, "--client-ca %s: %s", s->o.client_ca, strerror(-r));
    return 0;
}

static int listen_setup(struct hub_server *s, char *err, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1;
    if (hub_listen_parse(s->o.listen, &ss, &sl) < 0)
        return errf(err, cap, "--listen %s: not IP[:PORT] or [IPv6][:PORT]", s->o.listen);
    fmt_addr(&ss, s->listen_str, sizeof s->listen_str);
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, 512) < 0)
        return errf(err, cap, "--listen %s: %s", s->listen_str, strerror(errno));
    return 0;
}

struct hub_server *hub_server_new(const struct hub_server_opts *o, struct hub_config *cfg, char *err, size_t cap)
{
    struct hub_server *s = calloc(1, sizeof *s);
    if (!s) {
        errf(err, cap, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    s->lfd = s->epfd = s->sigfd = -1;
    if (tls_setup(s, err, cap) < 0 || listen_setup(s, err, cap) < 0) {
        hub_server_free(s);
        return NULL;
    }
    add_configured_peers(s);
    return s;
}

static void shutdown_all(struct hub_server *s)
{
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        end_peered(c, HUB_C_SHUTDOWN, NULL);
        if (!c->dead && !c->ssl_failed && SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);      /* close_notify, best effort: the socket is non-blocking */
            ERR_clear_error();
        }
        conn_close(c);
    }
    free_graveyard(s);
}

int hub_server_run(struct hub_server *s)
{
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &tag_listen};
    struct epoll_event se = {.events = EPOLLIN, .data.ptr = &tag_signal};
    s->sigfd = daemon_signalfd();
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->sigfd < 0 || s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &le) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &se) < 0) {
        log_error("daemon.start", "error=\"%s\"", strerror(errno));
        return -1;
    }
    if (write_state(s) < 0)
        return -1;                     /* logged; a state file the lab cannot read is a start-up error */
    daemon_ready();
    log_info("daemon.ready", "listen=%s hub=%s peers=%zu idle_timeout=%u hello_timeout=%u max_connections=%u state=%s",
             s->listen_str, s->cfg.hub_name, s->cfg.n_peers, s->cfg.idle_timeout, s->cfg.hello_timeout,
             s->cfg.max_connections, s->o.state_path ? s->o.state_path : "-");
    while (!s->stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(s->epfd, evs, 64, next_timeout(s, now_ms()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatalx("hub.epoll", "op=wait error=\"%s\"", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_signal)
                read_signals(s);
            else if (p == &tag_listen)
                accept_all(s);
            else if (!((struct conn *)p)->dead)
                conn_event(p);
        }
        sweep_timeouts(s, now_ms());
        free_graveyard(s);
        if (s->state_dirty)
            write_state(s);
    }
    shutdown_all(s);
    write_state(s);
    log_info("daemon.stop", "signal=%s accepted=%llu peered=%llu refused=%llu closed=%llu",
             s->stop_signal ? s->stop_signal : "-", s->accepted, s->peered, s->refused, s->closed);
    return 0;
}

void hub_server_free(struct hub_server *s)
{
    if (!s)
        return;
    shutdown_all(s);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->sigfd >= 0)
        close(s->sigfd);
    SSL_CTX_free(s->ctx);
    free(s->ca_pem);
    free(s->peers);
    hub_config_free(&s->cfg);
    free(s);
}
