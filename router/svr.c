/* SVR peering with the hub: see svr.h. */
#include "svr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node.h" /* struct node_ev */
#include "https.h"
#include "phonehome.h"
#include "ztp/log.h"
#include "ztp/pki.h"
#include "ztp/psk.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static const char *const svr_names[SVR__COUNT] = {
    [SVR_OFF] = "off",     [SVR_CONNECTING] = "connecting", [SVR_TLS] = "tls",
    [SVR_HELLO] = "hello", [SVR_PEERED] = "peered",         [SVR_BACKOFF] = "backoff",
};

const char *svr_state_name(enum svr_state s) { return (unsigned)s < SVR__COUNT ? svr_names[s] : "unknown"; }

/* ---- pure parts ---- */

int svr_build_hello(const char *router, const char *node, const char *hub, char *out, size_t cap)
{
    if (!psk_name_ok(router) || !psk_name_ok(node) || !psk_name_ok(hub))
        return -1;
    int n = snprintf(out, cap, "{\"hello\":\"svr\",\"router\":\"%s\",\"node\":\"%s\",\"hub\":\"%s\"}\n", router, node,
                     hub);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static json_t *line_object(const char *buf, size_t len, char *err, size_t errcap)
{
    json_error_t je;
    if (len && buf[len - 1] == '\r')
        len--;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, errcap, "bad JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(err, errcap, "not a JSON object");
        return NULL;
    }
    return o;
}

/* A printable copy (others -> '?'); false when absent or not a string or too long. */
static bool get_printable(json_t *o, const char *key, char *dst, size_t cap, bool truncate)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    dst[0] = 0;
    if (!s)
        return false;
    size_t n = json_string_length(v);
    if (n >= cap && !truncate)
        return false;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = s[i] >= ' ' && s[i] <= '~' && s[i] != '"' && s[i] != '\\' ? s[i] : '?';
    dst[n] = 0;
    return true;
}

int svr_parse_answer(const char *buf, size_t len, struct svr_answer *a, char *err, size_t errcap)
{
    memset(a, 0, sizeof *a);
    json_t *o = line_object(buf, len, err, errcap);
    if (!o)
        return -1;
    int rc = -1;
    const char *r = json_string_value(json_object_get(o, "result"));
    if (!r) {
        snprintf(err, errcap, "missing \"result\"");
    } else if (strcmp(r, "peered") == 0) {
        a->peered = true;
        if (!get_printable(o, "hub", a->hub, sizeof a->hub, false) ||
            !get_printable(o, "peer", a->peer, sizeof a->peer, false))
            snprintf(err, errcap, "peered: \"hub\" and \"peer\" must be short strings");
        else
            rc = 0;
    } else if (strcmp(r, "refused") == 0) {
        if (!get_printable(o, "reason", a->reason, sizeof a->reason, true))
            snprintf(a->reason, sizeof a->reason, "(no reason)");
        rc = 0;
    } else {
        snprintf(err, errcap, "\"result\": neither peered nor refused");
    }
    json_decref(o);
    return rc;
}

int svr_parse_keepalive(const char *buf, size_t len, long long *n)
{
    char e[64];
    json_t *o = line_object(buf, len, e, sizeof e);
    if (!o)
        return -1;
    json_t *v = json_object_get(o, "keepalive");
    int rc = json_is_integer(v) && json_object_size(o) == 1 ? 0 : -1;
    if (rc == 0)
        *n = (long long)json_integer_value(v);
    json_decref(o);
    return rc;
}

/* ---- the peering ---- */

struct svr_peer {
    struct node_ev ev;
    int epfd, fd;
    uint32_t interest;
    enum svr_state state;
    char hub[32], hub_ip[INET_ADDRSTRLEN];
    struct sockaddr_in sa;
    char hub_name[SVR_NAME_MAX], router[SVR_NAME_MAX], node[SVR_NAME_MAX], identity[2 * SVR_NAME_MAX];
    char cert_file[PATH_MAX];
    EVP_PKEY *key;
    char anchors[4][PATH_MAX];
    size_t n_anchors;
    svr_outcome_fn fn;
    void *arg;

    SSL_CTX *ctx;
    SSL *ssl;
    char out[SVR_LINE_MAX + 2];
    size_t out_len, out_off;
    char in[SVR_LINE_MAX + 2];
    size_t in_len;

    uint64_t deadline_ms, hello_deadline_ms, next_keepalive_ms, last_rx_ms, retry_at_ms;
    unsigned consecutive_failures, attempts, peerings;
    unsigned retry_in_ms;
    long long ka_sent, ka_echoed;
    time_t peered_since, down_since;
    char last_class[32], last_detail[256];
    time_t last_at;
    char tls_version[16], peer_subject[256];
    uint32_t rng;
};

static uint64_t now_ms_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_state(struct svr_peer *s, enum svr_state to)
{
    if (s->state == to)
        return;
    log_debug("svr.state", "hub=%s from=%s to=%s", s->hub, svr_names[s->state], svr_names[to]);
    s->state = to;
}

static void set_interest(struct svr_peer *s, uint32_t events)
{
    if (s->fd < 0 || s->epfd < 0 || s->interest == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = &s->ev};
    if (epoll_ctl(s->epfd, s->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) == 0)
        s->interest = events;
    else
        log_warn("svr.epoll_error", "hub=%s error=\"%s\"", s->hub, strerror(errno));
}

static void close_conn(struct svr_peer *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->ctx) {
        SSL_CTX_free(s->ctx);
        s->ctx = NULL;
    }
    if (s->fd >= 0) {
        if (s->interest && s->epfd >= 0)
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->interest = 0;
    s->out_len = s->out_off = s->in_len = 0;
}

static void ssl_errors(char *dst, size_t cap)
{
    unsigned long e;
    size_t o = 0;
    dst[0] = 0;
    while ((e = ERR_get_error()) != 0 && o + 2 < cap) {
        char b[200];
        ERR_error_string_n(e, b, sizeof b);
        int w = snprintf(dst + o, cap - o, "%s%s", o ? "; " : "", b);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (!dst[0])
        snprintf(dst, cap, "no detail");
}

static void fail(struct svr_peer *s, const char *klass, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct svr_peer *s, const char *klass, const char *fmt, ...)
{
    char msg[256], q[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool was_peered = s->state == SVR_PEERED;
    close_conn(s);
    s->consecutive_failures++;
    s->retry_in_ms = phonehome_backoff_ms(s->consecutive_failures, PH_BACKOFF_BASE_MS, PH_BACKOFF_MAX_MS,
                                          phonehome_xorshift32(&s->rng));
    s->retry_at_ms = now_ms_mono() + s->retry_in_ms;
    snprintf(s->last_class, sizeof s->last_class, "%s", klass);
    snprintf(s->last_detail, sizeof s->last_detail, "%s", msg);
    s->last_at = time(NULL);
    log_quote(q, sizeof q, msg, strlen(msg));
    if (was_peered) {
        s->down_since = time(NULL);
        log_warn("svr.down", "hub=%s peer=%s class=%s error=%s keepalives=%lld retry_in_ms=%u", s->hub, s->identity,
                 klass, q, s->ka_echoed, s->retry_in_ms);
    } else {
        log_warn("svr.failed", "hub=%s peer=%s state=%s class=%s error=%s failures=%u retry_in_ms=%u", s->hub,
                 s->identity, svr_names[s->state], klass, q, s->consecutive_failures, s->retry_in_ms);
    }
    set_state(s, SVR_BACKOFF);
    if (s->fn)
        s->fn(s->arg, false, klass, msg);
}

static void on_event(struct node_ev *ev, uint32_t events);

static void connect_start(struct svr_peer *s, uint64_t now_ms)
{
    s->attempts++;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    set_state(s, SVR_CONNECTING);
    s->deadline_ms = now_ms + SVR_CONNECT_TIMEOUT_MS;
    s->hello_deadline_ms = now_ms + SVR_HELLO_TIMEOUT_MS;
    log_info("svr.connect", "hub=%s hub_name=%s peer=%s attempt=%u direct=yes", s->hub, s->hub_name, s->identity,
             s->attempts);
    if (s->fd < 0) {
        fail(s, "connect-failed", "socket: %s", strerror(errno));
        return;
    }
    if (connect(s->fd, (struct sockaddr *)&s->sa, sizeof s->sa) < 0 && errno != EINPROGRESS) {
        fail(s, "connect-failed", "connect %s: %s", s->hub, strerror(errno));
        return;
    }
    set_interest(s, EPOLLOUT);
}

static int tls_setup(struct svr_peer *s)
{
    char e[300];
    ERR_clear_error();
    s->ctx = SSL_CTX_new(TLS_client_method());
    if (!s->ctx) {
        ssl_errors(e, sizeof e);
        fail(s, "tls-failed", "SSL_CTX_new: %s", e);
        return -1;
    }
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
    size_t loaded = 0;
    for (size_t i = 0; i < s->n_anchors; i++)
        if (access(s->anchors[i], R_OK) == 0 && pki_store_load_file(SSL_CTX_get_cert_store(s->ctx), s->anchors[i]) == 1)
            loaded++;
    ERR_clear_error();
    if (!loaded) {
        fail(s, "tls-failed", "no CA file to verify the hub with");
        return -1;
    }
    if (https_use_cert_chain_file(s->ctx, NULL, s->cert_file) != 1 || SSL_CTX_use_PrivateKey(s->ctx, s->key) != 1 ||
        SSL_CTX_check_private_key(s->ctx) != 1) {
        ssl_errors(e, sizeof e);
        fail(s, "tls-failed", "the router certificate \"%s\" with its key: %s", s->cert_file, e);
        return -1;
    }
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        ssl_errors(e, sizeof e);
        fail(s, "tls-failed", "SSL_new: %s", e);
        return -1;
    }
    if (!psk_name_ok(s->hub_name) || SSL_set_tlsext_host_name(s->ssl, s->hub_name) != 1) {
        ssl_errors(e, sizeof e);
        fail(s, "tls-failed", "SNI: %s", e);
        return -1;
    }
    SSL_set_connect_state(s->ssl);
    return 0;
}

/* The hub's certificate names it: its address (IP SAN) or its name (DNS SAN / CN). */
static bool hub_named(struct svr_peer *s)
{
    X509 *pc = SSL_get1_peer_certificate(s->ssl);
    if (!pc)
        return false;
    bool ok = X509_check_ip_asc(pc, s->hub_ip, 0) == 1 || X509_check_host(pc, s->hub_name, 0, 0, NULL) == 1;
    X509_NAME_oneline(X509_get_subject_name(pc), s->peer_subject, sizeof s->peer_subject);
    X509_free(pc);
    return ok;
}

static void queue_line(struct svr_peer *s, const char *line, size_t len)
{
    if (s->out_off < s->out_len || len > sizeof s->out)
        return; /* one line at a time; a keepalive waits for the next round */
    memcpy(s->out, line, len);
    s->out_len = len;
    s->out_off = 0;
}

static void handle_line(struct svr_peer *s, const char *line, size_t len, uint64_t now_ms)
{
    char e[200], q[300];
    s->last_rx_ms = now_ms;
    if (s->state == SVR_HELLO) {
        struct svr_answer a;
        if (svr_parse_answer(line, len, &a, e, sizeof e) < 0) {
            fail(s, "protocol-error", "the hub's answer: %s", e);
            return;
        }
        if (!a.peered) {
            log_warn("svr.refused", "hub=%s peer=%s reason=%s", s->hub, s->identity,
                     log_quote(q, sizeof q, a.reason, strlen(a.reason)));
            fail(s, "refused", "the hub refused: %s", a.reason);
            return;
        }
        if (strcmp(a.hub, s->hub_name) != 0 || strcmp(a.peer, s->identity) != 0) {
            fail(s, "protocol-error", "peered as %s with hub %s, expected %s with %s", a.peer, a.hub, s->identity,
                 s->hub_name);
            return;
        }
        set_state(s, SVR_PEERED);
        s->consecutive_failures = 0;
        s->peerings++;
        s->peered_since = time(NULL);
        s->next_keepalive_ms = now_ms + SVR_KEEPALIVE_MS;
        s->last_class[0] = 0;
        s->last_detail[0] = 0;
        log_info("svr.peered", "hub=%s hub_name=%s peer=%s tls=%s hub_cert=\"%s\" peerings=%u", s->hub, s->hub_name,
                 s->identity, s->tls_version, s->peer_subject, s->peerings);
        if (s->fn)
            s->fn(s->arg, true, "ok", "peered");
        return;
    }
    long long n;
    if (svr_parse_keepalive(line, len, &n) == 0)
        s->ka_echoed++;
    else
        log_debug("svr.line_ignored", "hub=%s bytes=%zu", s->hub, len);
}

/* Flush what is queued, then read lines. */
static void drive_io(struct svr_peer *s)
{
    uint64_t now_ms = now_ms_mono();
    char e[300];
    while (s->ssl && s->out_off < s->out_len) {
        ERR_clear_error();
        int w = SSL_write(s->ssl, s->out + s->out_off, (int)(s->out_len - s->out_off));
        if (w > 0) {
            s->out_off += (size_t)w;
            continue;
        }
        int se = SSL_get_error(s->ssl, w);
        if (se == SSL_ERROR_WANT_WRITE || se == SSL_ERROR_WANT_READ)
            break;
        ssl_errors(e, sizeof e);
        fail(s, s->state == SVR_PEERED ? "closed" : "tls-failed", "write: %s", e);
        return;
    }
    if (s->out_off >= s->out_len)
        s->out_len = s->out_off = 0;
    for (int rounds = 0; s->ssl && rounds < 64; rounds++) {
        if (s->in_len >= sizeof s->in - 1) {
            fail(s, "protocol-error", "a line longer than %d bytes from the hub", SVR_LINE_MAX);
            return;
        }
        ERR_clear_error();
        int r = SSL_read(s->ssl, s->in + s->in_len, (int)(sizeof s->in - 1 - s->in_len));
        if (r <= 0) {
            int se = SSL_get_error(s->ssl, r);
            if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
                break;
            if (se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
                fail(s, "closed", "the hub closed the connection");
                return;
            }
            long vr = SSL_get_verify_result(s->ssl);
            ssl_errors(e, sizeof e);
            fail(s, s->state == SVR_PEERED ? "closed" : "tls-failed", "read: %s%s%s", e,
                 vr != X509_V_OK ? "; verify: " : "", vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
            return;
        }
        s->in_len += (size_t)r;
        char *nl;
        while (s->ssl && (nl = memchr(s->in, '\n', s->in_len)) != NULL) {
            size_t ll = (size_t)(nl - s->in);
            char line[SVR_LINE_MAX + 2];
            memcpy(line, s->in, ll);
            memmove(s->in, nl + 1, s->in_len - ll - 1);
            s->in_len -= ll + 1;
            handle_line(s, line, ll, now_ms);
        }
    }
    if (s->ssl)
        set_interest(s, EPOLLIN | (s->out_off < s->out_len ? EPOLLOUT : 0));
}

static void drive_tls(struct svr_peer *s)
{
    char e[300], hello[SVR_LINE_MAX];
    ERR_clear_error();
    int r = SSL_connect(s->ssl);
    if (r != 1) {
        int se = SSL_get_error(s->ssl, r);
        if (se == SSL_ERROR_WANT_READ) {
            set_interest(s, EPOLLIN);
            return;
        }
        if (se == SSL_ERROR_WANT_WRITE) {
            set_interest(s, EPOLLOUT);
            return;
        }
        long vr = SSL_get_verify_result(s->ssl);
        if (vr != X509_V_OK) {
            ERR_clear_error();
            fail(s, "tls-failed", "certificate verify failed: %s", X509_verify_cert_error_string(vr));
        } else {
            ssl_errors(e, sizeof e);
            fail(s, "tls-failed", "handshake: %s", e);
        }
        return;
    }
    snprintf(s->tls_version, sizeof s->tls_version, "%s", SSL_get_version(s->ssl));
    if (!hub_named(s)) {
        fail(s, "hub-name-mismatch", "the hub's certificate (%s) names neither %s nor %s", s->peer_subject, s->hub_ip,
             s->hub_name);
        return;
    }
    int n = svr_build_hello(s->router, s->node, s->hub_name, hello, sizeof hello);
    if (n < 0) {
        fail(s, "protocol-error", "cannot build the hello line");
        return;
    }
    set_state(s, SVR_HELLO);
    queue_line(s, hello, (size_t)n);
    drive_io(s);
}

static void on_event(struct node_ev *ev, uint32_t events)
{
    struct svr_peer *s = container_of(ev, struct svr_peer, ev);
    if (s->fd < 0)
        return;
    switch (s->state) {
    case SVR_CONNECTING: {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            fail(s, "connect-failed", "connect %s: %s", s->hub, strerror(err));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        set_state(s, SVR_TLS);
        if (tls_setup(s) < 0)
            return;
        drive_tls(s);
        return;
    }
    case SVR_TLS:
        drive_tls(s);
        return;
    case SVR_HELLO:
    case SVR_PEERED:
        drive_io(s);
        return;
    default:
        return;
    }
}

static int parse_hub(const char *hub, struct sockaddr_in *sa, char *ip, size_t ipcap)
{
    char b[32];
    if (!hub || strlen(hub) >= sizeof b)
        return -1;
    snprintf(b, sizeof b, "%s", hub);
    unsigned long port = SVR_DEFAULT_PORT;
    char *colon = strchr(b, ':');
    if (colon) {
        char *end;
        *colon = 0;
        if (colon[1] < '0' || colon[1] > '9')
            return -1;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
            return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, b, &sa->sin_addr) != 1)
        return -1;
    snprintf(ip, ipcap, "%s", b);
    return 0;
}

struct svr_peer *svr_peer_start(int epfd, const struct svr_params *p, svr_outcome_fn fn, void *arg, uint64_t now_ms,
                                char *err, size_t errcap)
{
    struct sockaddr_in sa;
    char ip[INET_ADDRSTRLEN];
    if (parse_hub(p->hub, &sa, ip, sizeof ip) < 0) {
        snprintf(err, errcap, "hub address \"%.40s\": expected IPv4[:PORT]", p->hub ? p->hub : "");
        return NULL;
    }
    if (!p->hub_name || !psk_name_ok(p->hub_name) || !p->router || !psk_name_ok(p->router) || !p->node ||
        !psk_name_ok(p->node) || strlen(p->hub_name) >= SVR_NAME_MAX || strlen(p->router) >= SVR_NAME_MAX ||
        strlen(p->node) >= SVR_NAME_MAX) {
        snprintf(err, errcap, "hub name, router or node: not a valid name");
        return NULL;
    }
    if (!p->cert_file || strlen(p->cert_file) >= PATH_MAX || !p->key) {
        snprintf(err, errcap, "no router certificate or key");
        return NULL;
    }
    struct svr_peer *s = calloc(1, sizeof *s);
    if (!s)
        fatalx("svr.alloc", "reason=\"out of memory\"");
    s->ev.fn = on_event;
    s->epfd = epfd;
    s->fd = -1;
    s->sa = sa;
    snprintf(s->hub_ip, sizeof s->hub_ip, "%s", ip);
    snprintf(s->hub, sizeof s->hub, "%s:%u", ip, ntohs(sa.sin_port));
    snprintf(s->hub_name, sizeof s->hub_name, "%s", p->hub_name);
    snprintf(s->router, sizeof s->router, "%s", p->router);
    snprintf(s->node, sizeof s->node, "%s", p->node);
    snprintf(s->identity, sizeof s->identity, "%s.%s", p->router, p->node);
    snprintf(s->cert_file, sizeof s->cert_file, "%s", p->cert_file);
    if (EVP_PKEY_up_ref(p->key) != 1)
        fatalx("svr.alloc", "reason=\"EVP_PKEY_up_ref\"");
    s->key = p->key;
    for (size_t i = 0; i < 4 && p->anchors[i]; i++)
        if (strlen(p->anchors[i]) < PATH_MAX)
            snprintf(s->anchors[s->n_anchors++], PATH_MAX, "%s", p->anchors[i]);
    s->fn = fn;
    s->arg = arg;
    s->rng = (uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ms;
    connect_start(s, now_ms);
    return s;
}

void svr_peer_free(struct svr_peer *s)
{
    if (!s)
        return;
    if (s->state == SVR_PEERED)
        log_info("svr.closed", "hub=%s peer=%s keepalives=%lld why=\"stopped\"", s->hub, s->identity, s->ka_echoed);
    close_conn(s);
    EVP_PKEY_free(s->key);
    free(s);
}

void svr_peer_tick(struct svr_peer *s, uint64_t now_ms)
{
    if (!s)
        return;
    switch (s->state) {
    case SVR_CONNECTING:
        if (now_ms >= s->deadline_ms)
            fail(s, "timeout", "no TCP connection to the hub within %u ms", SVR_CONNECT_TIMEOUT_MS);
        break;
    case SVR_TLS:
    case SVR_HELLO:
        if (now_ms >= s->hello_deadline_ms)
            fail(s, "timeout", "no %s within %u ms of connecting",
                 s->state == SVR_TLS ? "TLS session with the hub" : "answer to the hello", SVR_HELLO_TIMEOUT_MS);
        break;
    case SVR_PEERED:
        if (now_ms >= s->last_rx_ms + SVR_SILENCE_MS) {
            fail(s, "timeout", "nothing from the hub for %u ms", SVR_SILENCE_MS);
        } else if (now_ms >= s->next_keepalive_ms) {
            char line[64];
            int n = snprintf(line, sizeof line, "{\"keepalive\":%lld}\n", s->ka_sent + 1);
            if (s->out_off >= s->out_len && n > 0) {
                queue_line(s, line, (size_t)n);
                s->ka_sent++;
            }
            s->next_keepalive_ms = now_ms + SVR_KEEPALIVE_MS;
            drive_io(s);
        }
        break;
    case SVR_BACKOFF:
        if (now_ms >= s->retry_at_ms)
            connect_start(s, now_ms);
        break;
    case SVR_OFF:
    case SVR__COUNT:
        break;
    }
}

int svr_peer_next_timeout_ms(const struct svr_peer *s, uint64_t now_ms)
{
    if (!s)
        return -1;
    uint64_t at;
    switch (s->state) {
    case SVR_CONNECTING:
        at = s->deadline_ms;
        break;
    case SVR_TLS:
    case SVR_HELLO:
        at = s->hello_deadline_ms;
        break;
    case SVR_PEERED:
        at = s->next_keepalive_ms < s->last_rx_ms + SVR_SILENCE_MS ? s->next_keepalive_ms
                                                                   : s->last_rx_ms + SVR_SILENCE_MS;
        break;
    case SVR_BACKOFF:
        at = s->retry_at_ms;
        break;
    default:
        return -1;
    }
    return at > now_ms ? (int)(at - now_ms > 60000 ? 60000 : at - now_ms) : 0;
}

enum svr_state svr_peer_state(const struct svr_peer *s) { return s ? s->state : SVR_OFF; }

bool svr_peer_same(const struct svr_peer *s, const struct svr_params *p)
{
    struct sockaddr_in sa;
    char ip[INET_ADDRSTRLEN];
    if (!s || parse_hub(p->hub, &sa, ip, sizeof ip) < 0)
        return false;
    return sa.sin_addr.s_addr == s->sa.sin_addr.s_addr && sa.sin_port == s->sa.sin_port && p->hub_name &&
           strcmp(p->hub_name, s->hub_name) == 0 && p->router && strcmp(p->router, s->router) == 0 && p->node &&
           strcmp(p->node, s->node) == 0;
}

static json_t *iso(time_t t)
{
    struct tm tm;
    char b[32];
    if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(b);
}

json_t *svr_peer_json(const struct svr_peer *s, uint64_t now_ms)
{
    if (!s)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(svr_names[s->state]));
    json_object_set_new(o, "hub", json_string(s->hub));
    json_object_set_new(o, "hub-name", json_string(s->hub_name));
    json_object_set_new(o, "identity", json_string(s->identity));
    json_object_set_new(o, "direct", json_true());
    json_object_set_new(o, "peered-since", s->state == SVR_PEERED ? iso(s->peered_since) : json_null());
    json_object_set_new(o, "tls-version", s->tls_version[0] ? json_string(s->tls_version) : json_null());
    json_object_set_new(o, "hub-certificate", s->peer_subject[0] ? json_string(s->peer_subject) : json_null());
    json_object_set_new(o, "attempts", json_integer(s->attempts));
    json_object_set_new(o, "peerings", json_integer(s->peerings));
    json_object_set_new(o, "keepalives-sent", json_integer(s->ka_sent));
    json_object_set_new(o, "keepalives-echoed", json_integer(s->ka_echoed));
    if (s->last_class[0])
        json_object_set_new(o, "last-failure", json_pack("{s:s, s:s, s:o}", "class", s->last_class, "detail",
                                                         s->last_detail, "time", iso(s->last_at)));
    else
        json_object_set_new(o, "last-failure", json_null());
    json_object_set_new(o, "next-retry-in-ms",
                        s->state == SVR_BACKOFF
                            ? json_integer(s->retry_at_ms > now_ms ? (json_int_t)(s->retry_at_ms - now_ms) : 0)
                            : json_null());
    return o;
}
