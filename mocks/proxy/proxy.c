#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "resolve.h"
#include "ztp/daemon.h"
#include "ztp/log.h"

#define COPY_BUF 16384u
#define SPLICE_CHUNK (1u << 20)
#define LINGER_MS 2000
#define PUMP_ROUNDS 32
#define HEAD_INIT 2048u

/* epoll data: kind in the top 2 bits, then slot (30 bits) and generation (32 bits). */
enum ev_kind { EV_STATIC = 0, EV_CLIENT = 1, EV_UPSTREAM = 2 };
#define EV_SIGNAL 1000u
#define EV_RESOLVER 1001u

enum conn_state {
    CS_READ_HEAD, CS_RESOLVING, CS_CONNECTING, CS_DELAY, CS_RELAY, CS_REPLY, CS_STALL, CS_CLOSED, CS_COUNT,
};

static const char *const state_names[CS_COUNT] = {
    [CS_READ_HEAD] = "read-head", [CS_RESOLVING] = "resolving", [CS_CONNECTING] = "connecting",
    [CS_DELAY] = "delay-200",     [CS_RELAY] = "relay",         [CS_REPLY] = "reply",
    [CS_STALL] = "stall",         [CS_CLOSED] = "closed",
};

/* Allowed transitions: allowed[old] has bit `new` set. */
#define B(s) (1u << (s))
static const unsigned transitions[CS_COUNT] = {
    [CS_READ_HEAD] = B(CS_RESOLVING) | B(CS_CONNECTING) | B(CS_REPLY) | B(CS_STALL) | B(CS_CLOSED),
    [CS_RESOLVING] = B(CS_CONNECTING) | B(CS_REPLY) | B(CS_CLOSED),
    [CS_CONNECTING] = B(CS_CONNECTING) | B(CS_DELAY) | B(CS_RELAY) | B(CS_REPLY) | B(CS_CLOSED),
    [CS_DELAY] = B(CS_RELAY) | B(CS_CLOSED),
    [CS_RELAY] = B(CS_REPLY) | B(CS_CLOSED),
    [CS_REPLY] = B(CS_CLOSED),
    [CS_STALL] = B(CS_CLOSED),
    [CS_CLOSED] = 0,
};

struct dir {
    int src, dst;
    uint8_t *pre;              /* our bytes for dst, sent before anything relayed */
    size_t pre_len, pre_off;
    int pr, pw;                /* the pipe, once this direction splices (-1 before) */
    size_t in_pipe;
    uint8_t *buf;              /* bytes read but not yet written (NULL when none) */
    size_t b_len, b_off;
    bool src_eof, dst_shut;
    uint64_t bytes;            /* relayed bytes delivered to dst */
};

struct conn {
    uint32_t slot, gen;
    enum conn_state state;
    int cfd, ufd;
    int64_t t_start;           /* monotonic ms */
    int64_t deadline;          /* monotonic ms, 0 = none */
    int64_t last_io;           /* monotonic ms */
    struct sockaddr_storage client;
    char client_ip[INET6_ADDRSTRLEN];
    uint8_t *in;
    size_t in_len, in_cap;
    /* the request */
    bool have_request, is_connect, forward;
    char method[HTTP_MAX_METHOD + 1];
    char host[HTTP_MAX_HOST + 1];
    uint16_t port;
    char *url;                 /* for the logs */
    char user[HTTP_MAX_USER + 1];
    struct addrinfo *ai, *ai_next;
    int last_errno;
    char peer[INET6_ADDRSTRLEN];
    uint64_t cookie;           /* resolver cookie */
    /* outcome */
    int status;
    const char *code;          /* Squid result code */
    const char *squid_err;     /* X-Squid-Error name, NULL when none */
    int squid_errno;
    const char *reason;        /* log reason */
    enum acl_verdict verdict;
    char rtype[64];            /* forwarded response's Content-Type */
    bool sniffed;
    /* relay */
    bool splice;               /* a direction may switch to splice() (CONNECT tunnels) */
    struct dir up, down;
    uint64_t to_client;        /* all bytes written to the client */
    uint64_t taken;            /* relayed bytes read from either side (fault thresholds) */
    bool counted_tunnel, counted_forward;
    struct conn *prev, *next, *hot_next;
    bool hot;
};

struct listener {
    int fd;
    struct sockaddr_storage addr;
    socklen_t alen;
    char name[64];
};

struct proxy {
    struct proxy_config cfg;
    struct access_log alog;
    struct resolver *res;
    int epfd;
    struct listener ls[PROXY_MAX_LISTEN];
    size_t n_ls;
    bool listening;
    int64_t down_until;        /* monotonic ms; 0 = up */
    struct conn **slots;
    uint32_t n_slots, *free_slots, n_free;
    uint32_t gen_counter;
    uint64_t next_cookie;
    struct conn *conns;        /* all live connections */
    struct conn *hot;          /* connections with more to pump */
    int64_t next_deadline;
    int64_t next_stats;
    bool stopping;
    int64_t stop_deadline;
    bool splice_broken;
    uint8_t scratch[COPY_BUF]; /* every recv/send relay goes through here */
    struct proxy_stats st;
};

/* ---- time ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_deadline(struct proxy *p, struct conn *c, int64_t when)
{
    c->deadline = when;
    if (when && (p->next_deadline == 0 || when < p->next_deadline))
        p->next_deadline = when;
}

/* ---- the state machine ---- */

static void conn_set_state(struct proxy *p, struct conn *c, enum conn_state s, const char *why)
{
    (void)p;
    if (!(transitions[c->state] & B(s)))
        fatalx("conn.state", "id=%u old=%s new=%s why=\"%s\" error=\"invalid transition\"", c->slot,
               state_names[c->state], state_names[s], why);
    log_debug("conn.state", "id=%u client=%s old=%s new=%s why=\"%s\"", c->slot, c->client_ip,
              state_names[c->state], state_names[s], why);
    c->state = s;
}

/* ---- helpers ---- */

static uint64_t ev_data(enum ev_kind k, const struct conn *c)
{
    return ((uint64_t)k << 62) | ((uint64_t)c->slot << 32) | c->gen;
}

static void sockaddr_ip(const struct sockaddr *sa, char *buf, size_t cap)
{
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, buf, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)cap);
    } else
        snprintf(buf, cap, "-");
}

static void http_date(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        fatalx("proxy.oom", "error=\"out of memory\"");
    return d;
}

static void *xmalloc(size_t n)
{
    void *v = malloc(n);
    if (!v)
        fatalx("proxy.oom", "error=\"out of memory\" size=%zu", n);
    return v;
}

/* HTML-escape into buf. */
static void html_escape(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        default: break;
        }
        if (rep) {
            memcpy(buf + o, rep, strlen(rep));
            o += strlen(rep);
        } else if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
            buf[o++] = *s;
    }
    buf[o] = '\0';
}

/* ---- connections ---- */

static struct conn *conn_lookup(struct proxy *p, uint64_t data)
{
    uint32_t slot = (uint32_t)((data >> 32) & 0x3fffffffu), gen = (uint32_t)data;
    if (slot >= p->n_slots || !p->slots[slot] || p->slots[slot]->gen != gen)
        return NULL;
    return p->slots[slot];
}

static void dir_init(struct dir *d)
{
    memset(d, 0, sizeof *d);
    d->src = d->dst = d->pr = d->pw = -1;
}

static void dir_free(struct dir *d)
{
    free(d->pre);
    free(d->buf);
    if (d->pr >= 0)
        close(d->pr);
    if (d->pw >= 0)
        close(d->pw);
    dir_init(d);
}

static void hot_add(struct proxy *p, struct conn *c)
{
    if (c->hot)
        return;
    c->hot = true;
    c->hot_next = p->hot;
    p->hot = c;
}

static void hot_remove(struct proxy *p, struct conn *c)
{
    if (!c->hot)
        return;
    for (struct conn **pp = &p->hot; *pp; pp = &(*pp)->hot_next)
        if (*pp == c) {
            *pp = c->hot_next;
            break;
        }
    c->hot = false;
}

static const char *host_port(const struct conn *c, char *buf, size_t cap)
{
    bool v6 = strchr(c->host, ':') != NULL;
    snprintf(buf, cap, "%s%s%s:%u", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
    return buf;
}

/* End of a transaction: access log line, structured log line, counters, close, free. */
static void conn_finish(struct proxy *p, struct conn *c, bool reset, const char *why)
{
    char tq[700], uq[300], rq[200];
    int64_t now = mono_ms();
    if (c->state != CS_CLOSED)
        conn_set_state(p, c, CS_CLOSED, why);
    if (!c->reason)
        c->reason = why;
    if (!c->code)
        c->code = "NONE_NONE";
    struct access_entry e = {
        .end_ms = real_ms(),
        .elapsed_ms = now - c->t_start,
        .client = c->client_ip,
        .code = c->code,
        .status = c->status,
        .bytes = c->to_client,
        .method = c->have_request || c->method[0] ? c->method : "-",
        .url = c->url ? c->url : "error:transaction-end-before-headers",
        .user = c->user,
        .hier = c->peer[0] ? "HIER_DIRECT" : "HIER_NONE",
        .peer = c->peer,
        .type = c->is_connect && c->status == 200 ? "-" : c->sniffed ? c->rtype : c->squid_err ? "text/html" : "-",
    };
    int w = access_log_write(&p->alog, &e);
    if (w < 0)
        log_error("proxy.access_log", "path=%s error=\"%s\"", p->alog.path, strerror(-w));
    const char *url = c->url ? c->url : "-";
    log_event(c->status >= 400 || c->status == 0 ? LOG_LVL_WARN : LOG_LVL_INFO, "proxy.request",
              "id=%u client=%s method=%s target=%s user=%s verdict=%s status=%03d code=%s squid_error=%s "
              "upstream=%s elapsed_ms=%lld bytes_up=%llu bytes_down=%llu to_client=%llu end=%s reason=%s",
              c->slot, c->client_ip, c->method[0] ? c->method : "-", log_quote(tq, sizeof tq, url, strlen(url)),
              c->user[0] ? log_quote(uq, sizeof uq, c->user, strlen(c->user)) : "-",
              acl_verdict_name(c->verdict), c->status, c->code, c->squid_err ? c->squid_err : "-",
              c->peer[0] ? c->peer : "-", (long long)(now - c->t_start), (unsigned long long)c->up.bytes,
              (unsigned long long)c->down.bytes, (unsigned long long)c->to_client, reset ? "rst" : "close",
              log_quote(rq, sizeof rq, c->reason, strlen(c->reason)));
    if (c->status > 0 && c->status < PROXY_STATUS_MAX)
        p->st.status[c->status]++;
    if (c->counted_tunnel)
        p->st.tunnels_open--;
    if (c->counted_forward)
        p->st.forwards_open--;
    p->st.connections_open--;

    hot_remove(p, c);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        if (c->cfd >= 0)
            setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (c->ufd >= 0)
            setsockopt(c->ufd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    dir_free(&c->up);
    dir_free(&c->down);
    if (c->ai)
        freeaddrinfo(c->ai);
    free(c->in);
    free(c->url);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->slots[c->slot] = NULL;
    p->free_slots[p->n_free++] = c->slot;
    memset(c, 0, sizeof *c);
    free(c);
}

/* Build an error reply into the client direction's `pre` and move to REPLY. */
static void pump_reply(struct proxy *p, struct conn *c);

static void conn_reply(struct proxy *p, struct conn *c, int status, const char *code, const char *squid_err,
                       int err_no, const char *why)
{
    char date[64], url[1200], body[2400], hdr[1024];
    const char *text;
    http_date(date, sizeof date);
    html_escape(url, sizeof url, c->url ? c->url : "");
    switch (status) {
    case 403: text = "Access Denied. Access control configuration prevents your request from being allowed at this time."; break;
    case 407: text = "Cache Access Denied. Sorry, you are not currently allowed to request this URL until you have authenticated yourself."; break;
    case 411: case 431: case 400: text = "Invalid Request. Some aspect of the HTTP request is invalid."; break;
    case 501: text = "Unsupported Request Method and Protocol."; break;
    case 505: text = "Unsupported HTTP version."; break;
    case 502: text = "The upstream server closed the connection or sent nothing."; break;
    default: text = "The system returned an error while connecting to the destination."; break;
    }
    int bl = snprintf(body, sizeof body,
                      "<!DOCTYPE html>\n<html><head><title>ERROR: The requested URL could not be retrieved</title></head>\n"
                      "<body id=\"%s\"><h1>ERROR</h1><h2>The requested URL could not be retrieved</h2>\n"
                      "<p>URL: <a href=\"%s\">%s</a></p>\n<p><b>%s</b> %s</p>\n"
                      "<p>Generated %s by %s (mock-proxy)</p>\n</body></html>\n",
                      squid_err, url, url, squid_err, text, date, p->cfg.host);
    if (bl < 0 || (size_t)bl >= sizeof body)
        bl = (int)strlen(body);
    char auth[PROXY_MAX_REALM + 64] = "";
    if (status == 407)
        snprintf(auth, sizeof auth, "Proxy-Authenticate: Basic realm=\"%s\"\r\n", p->cfg.realm);
    int hl = snprintf(hdr, sizeof hdr,
                      "HTTP/1.1 %d %s\r\nServer: mock-proxy\r\nMime-Version: 1.0\r\nDate: %s\r\n"
                      "Content-Type: text/html;charset=utf-8\r\nContent-Length: %d\r\nX-Squid-Error: %s %d\r\n"
                      "%sContent-Language: en\r\nConnection: close\r\n\r\n",
                      status, http_reason(status), date, bl, squid_err, err_no, auth);
    free(c->down.pre);
    c->down.pre = xmalloc((size_t)hl + (size_t)bl);
    memcpy(c->down.pre, hdr, (size_t)hl);
    memcpy(c->down.pre + hl, body, (size_t)bl);
    c->down.pre_len = (size_t)hl + (size_t)bl;
    c->down.pre_off = 0;
    c->down.dst = c->cfd;
    c->status = status;
    c->code = code;
    c->squid_err = squid_err;
    c->squid_errno = err_no;
    c->reason = why;
    c->sniffed = false;
    /* the upstream side is done */
    if (c->ufd >= 0) {
        close(c->ufd);
        c->ufd = -1;
    }
    conn_set_state(p, c, CS_REPLY, why);
    set_deadline(p, c, mono_ms() + LINGER_MS + 5000);
    pump_reply(p, c);
}

/* REPLY: write the reply, shut our side, read and drop until EOF (so unread request bytes do not
 * turn our close into a reset that could destroy the reply), bounded by LINGER_MS. */
static void pump_reply(struct proxy *p, struct conn *c)
{
    struct dir *d = &c->down;
    while (d->pre && d->pre_off < d->pre_len) {
        ssize_t n = send(c->cfd, d->pre + d->pre_off, d->pre_len - d->pre_off, MSG_NOSIGNAL);
        if (n > 0) {
            d->pre_off += (size_t)n;
            c->to_client += (uint64_t)n;
            p->st.bytes_to_clients += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_finish(p, c, false, c->reason ? c->reason : "client gone during the reply");
        return;
    }
    if (!d->dst_shut) {
        shutdown(c->cfd, SHUT_WR);
        d->dst_shut = true;
        set_deadline(p, c, mono_ms() + LINGER_MS);
    }
    for (;;) {
        char junk[4096];
        ssize_t n = recv(c->cfd, junk, sizeof junk, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_finish(p, c, false, c->reason);
        return;
    }
}

/* ---- relay ---- */

static bool dir_empty(const struct dir *d)
{
    return (!d->pre || d->pre_off >= d->pre_len) && d->in_pipe == 0 && d->b_off >= d->b_len;
}

static uint64_t fault_limit(const struct proxy *p, const struct conn *c)
{
    uint64_t lim = UINT64_MAX;
    const struct proxy_faults *f = &p->cfg.faults;
    if (!c->is_connect)
        return lim;
    if (f->close_after_bytes)
        lim = c->taken < f->close_after_bytes ? f->close_after_bytes - c->taken : 0;
    if (f->reset_after_bytes) {
        uint64_t r = c->taken < f->reset_after_bytes ? f->reset_after_bytes - c->taken : 0;
        if (r < lim)
            lim = r;
    }
    return lim;
}

static void account(struct proxy *p, struct conn *c, struct dir *d, size_t n, bool relayed)
{
    if (d->dst == c->cfd) {
        c->to_client += n;
        p->st.bytes_to_clients += n;
    }
    if (relayed) {
        d->bytes += n;
        if (d == &c->up)
            p->st.bytes_up += n;
        else
            p->st.bytes_down += n;
    }
}

/* Returns bytes moved, 0 when blocked, -errno on a fatal error. */
static ssize_t dir_flush_pre(struct proxy *p, struct conn *c, struct dir *d)
{
    ssize_t moved = 0;
    while (d->pre && d->pre_off < d->pre_len) {
        ssize_t n = send(d->dst, d->pre + d->pre_off, d->pre_len - d->pre_off, MSG_NOSIGNAL);
        if (n > 0) {
            d->pre_off += (size_t)n;
            /* upstream-bound pre bytes are the client's (pipelined data, the forwarded head): relayed */
            account(p, c, d, (size_t)n, d == &c->up);
            moved += n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        return n < 0 ? -errno : -EPIPE;
    }
    if (d->pre && d->pre_off >= d->pre_len) {
        free(d->pre);
        d->pre = NULL;
        d->pre_len = d->pre_off = 0;
    }
    return moved;
}

static ssize_t dir_drain(struct proxy *p, struct conn *c, struct dir *d)
{
    ssize_t moved = 0;
    if (d->pre)
        return 0;
    /* Held bytes first: a direction switches to its pipe only when nothing is held. */
    while (d->b_off < d->b_len) {
        ssize_t n = send(d->dst, d->buf + d->b_off, d->b_len - d->b_off, MSG_NOSIGNAL);
        if (n > 0) {
            d->b_off += (size_t)n;
            account(p, c, d, (size_t)n, true);
            moved += n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return moved;
        return n < 0 ? -errno : -EPIPE;
    }
    if (d->buf) {
        /* idle tunnels hold no buffer */
        free(d->buf);
        d->buf = NULL;
        d->b_off = d->b_len = 0;
    }
    if (d->pr >= 0) {
        while (d->in_pipe > 0) {
            ssize_t n = splice(d->pr, NULL, d->dst, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->in_pipe -= (size_t)n;
                account(p, c, d, (size_t)n, true);
                moved += n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            return n < 0 ? -errno : -EPIPE;
        }
    }
    return moved;
}

/* Sniff the status code and Content-Type of a forwarded response from its first bytes. */
static void sniff_response(struct conn *c, const uint8_t *b, size_t n)
{
    c->sniffed = true;
    c->rtype[0] = '\0';
    if (n >= 12 && memcmp(b, "HTTP/", 5) == 0) {
        const uint8_t *sp = memchr(b, ' ', n < 16 ? n : 16);
        if (sp && (size_t)(sp - b) + 4 <= n && sp[1] >= '1' && sp[1] <= '5' && sp[2] >= '0' && sp[2] <= '9' &&
            sp[3] >= '0' && sp[3] <= '9')
            c->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    }
    for (size_t i = 0; i + 14 < n; i++) {
        if (b[i] != '\n' || strncasecmp((const char *)b + i + 1, "Content-Type:", 13) != 0)
            continue;
        size_t s = i + 14, o = 0;
        while (s < n && (b[s] == ' ' || b[s] == '\t'))
            s++;
        while (s < n && b[s] != '\r' && b[s] != '\n' && b[s] != ';' && b[s] != ' ' && o + 1 < sizeof c->rtype)
            c->rtype[o++] = (char)b[s++];
        c->rtype[o] = '\0';
        break;
    }
}

static int make_pipe(struct dir *d)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    d->pr = fds[0];
    d->pw = fds[1];
    return 0;
}

/* Read from src. A direction starts with recv() into the shared scratch buffer and send() to dst at
 * once (what dst does not take is held in d->buf, so an idle tunnel owns no buffer and no pipe); once
 * a single read fills the scratch buffer the direction is streaming and, in a tunnel, switches to
 * splice() through a pipe of its own (no copy to user space). The switch happens only when nothing is
 * held, so bytes stay in order. */
static ssize_t dir_fill(struct proxy *p, struct conn *c, struct dir *d)
{
    ssize_t moved = 0;
    if (d->src_eof)
        return 0;
    for (;;) {
        uint64_t lim = fault_limit(p, c);
        if (lim == 0)
            break;
        if (d->pr >= 0) {
            size_t want = lim < SPLICE_CHUNK ? (size_t)lim : SPLICE_CHUNK;
            ssize_t n = splice(d->src, NULL, d->pw, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->in_pipe += (size_t)n;
                c->taken += (uint64_t)n;
                moved += n;
                continue;
            }
            if (n == 0) {
                d->src_eof = true;
                break;
            }
            if (errno == EAGAIN || errno == EINTR)
                break;
            if ((errno == EINVAL || errno == ENOSYS) && d->in_pipe == 0) {
                /* The kernel refuses splice for these sockets: fall back to read/write for good. */
                if (!p->splice_broken)
                    log_warn("proxy.splice", "error=\"%s\" note=\"relaying with read/write from now on\"",
                             strerror(errno));
                p->splice_broken = true;
                c->splice = false;
                close(d->pr);
                close(d->pw);
                d->pr = d->pw = -1;
                continue;
            }
            return -errno;
        }
        if (d->b_off < d->b_len)
            break; /* bytes still held for dst */
        size_t want = lim < COPY_BUF ? (size_t)lim : COPY_BUF;
        ssize_t n = recv(d->src, p->scratch, want, 0);
        if (n > 0) {
            if (c->forward && d == &c->down && !c->sniffed)
                sniff_response(c, p->scratch, (size_t)n);
            c->taken += (uint64_t)n;
            moved += n;
            size_t sent = 0;
            while (!d->pre && sent < (size_t)n) { /* our own bytes (the 200, pipelined bytes) go first */
                ssize_t w = send(d->dst, p->scratch + sent, (size_t)n - sent, MSG_NOSIGNAL);
                if (w > 0) {
                    sent += (size_t)w;
                    account(p, c, d, (size_t)w, true);
                    continue;
                }
                if (w < 0 && errno == EINTR)
                    continue;
                break; /* would block; an error shows again (and is reported) in dir_drain */
            }
            if (sent < (size_t)n) {
                if (!d->buf)
                    d->buf = xmalloc(COPY_BUF);
                memcpy(d->buf, p->scratch + sent, (size_t)n - sent);
                d->b_off = 0;
                d->b_len = (size_t)n - sent;
            } else if ((size_t)n == COPY_BUF && c->splice && d->pr < 0 && make_pipe(d) < 0) {
                log_warn("proxy.pipe", "id=%u error=\"%s\" note=\"read/write for this tunnel\"", c->slot,
                         strerror(errno));
                c->splice = false;
            }
            break; /* one read per round: the pump's rounds and the hot list keep it fair */
        }
        if (n == 0) {
            d->src_eof = true;
            break;
        }
        if (errno == EAGAIN || errno == EINTR)
            break;
        return -errno;
    }
    return moved;
}

/* Read and drop what a socket has queued (bounded). */
static void discard_input(int fd)
{
    char junk[16384];
    for (int i = 0; i < 64; i++)
        if (recv(fd, junk, sizeof junk, MSG_DONTWAIT) <= 0)
            break;
}

static void relay_pump(struct proxy *p, struct conn *c)
{
    struct dir *ds[2] = {&c->up, &c->down};
    const struct proxy_faults *f = &p->cfg.faults;
    int round;
    for (round = 0; round < PUMP_ROUNDS; round++) {
        ssize_t progress = 0;
        for (int i = 0; i < 2; i++) {
            struct dir *d = ds[i];
            ssize_t r1 = dir_flush_pre(p, c, d), r2 = 0, r3 = 0, r4 = 0;
            if (r1 >= 0)
                r2 = dir_drain(p, c, d);
            if (r1 >= 0 && r2 >= 0)
                r3 = dir_fill(p, c, d);
            if (r1 >= 0 && r2 >= 0 && r3 >= 0)
                r4 = dir_drain(p, c, d);
            if (r1 < 0 || r2 < 0 || r3 < 0 || r4 < 0) {
                int e = (int)-(r1 < 0 ? r1 : r2 < 0 ? r2 : r3 < 0 ? r3 : r4);
                bool from_upstream = (d == &c->down) == (r3 < 0);
                if (c->forward && c->down.bytes == 0 && c->to_client == 0 && from_upstream) {
                    p->st.upstream_errors++;
                    conn_reply(p, c, 502, "TCP_MISS", "ERR_READ_ERROR", e, "upstream read error");
                    return;
                }
                p->st.aborted++;
                conn_finish(p, c, false, from_upstream ? "upstream error" : "client error");
                return;
            }
            progress += r1 + r2 + r3 + r4;
            if (d->src_eof && dir_empty(d) && !d->dst_shut) {
                if (c->forward && d == &c->down && c->down.bytes == 0 && c->to_client == 0) {
                    p->st.upstream_errors++;
                    conn_reply(p, c, 502, "TCP_MISS", "ERR_ZERO_SIZE_OBJECT", 0, "upstream sent nothing");
                    return;
                }
                shutdown(d->dst, SHUT_WR);
                d->dst_shut = true;
                log_debug("relay.half_close", "id=%u dir=%s", c->slot, d == &c->up ? "up" : "down");
            }
        }
        if (progress)
            c->last_io = mono_ms();
        uint64_t thr = 0;
        bool rst = false;
        if (c->is_connect && f->reset_after_bytes && c->taken >= f->reset_after_bytes)
            thr = f->reset_after_bytes, rst = true;
        else if (c->is_connect && f->close_after_bytes && c->taken >= f->close_after_bytes)
            thr = f->close_after_bytes;
        if (thr && dir_empty(&c->up) && dir_empty(&c->down)) {
            if (rst) {
                p->st.faults_reset++;
            } else {
                /* A clean close (FIN both ways): drop what is queued unread so close() does not turn
                 * into a reset. */
                p->st.faults_close++;
                shutdown(c->cfd, SHUT_WR);
                shutdown(c->ufd, SHUT_WR);
                discard_input(c->cfd);
                discard_input(c->ufd);
            }
            conn_finish(p, c, rst, rst ? "fault reset_after_bytes" : "fault close_after_bytes");
            return;
        }
        if (c->up.dst_shut && c->down.dst_shut) {
            conn_finish(p, c, false, "both sides closed");
            return;
        }
        if (c->forward && c->down.dst_shut) {
            conn_finish(p, c, false, "response complete");
            return;
        }
        if (!progress)
            break;
    }
    if (round == PUMP_ROUNDS)
        hot_add(p, c);
}

static void start_relay(struct proxy *p, struct conn *c)
{
    c->up.src = c->down.dst = c->cfd;
    c->up.dst = c->down.src = c->ufd;
    c->splice = p->cfg.splice && !p->splice_broken && c->is_connect; /* pipes come when a direction streams */
    if (c->is_connect) {
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        c->down.pre = xmalloc(sizeof ok - 1);
        memcpy(c->down.pre, ok, sizeof ok - 1);
        c->down.pre_len = sizeof ok - 1;
        c->status = 200;
        c->code = "TCP_TUNNEL";
        p->st.tunnels_total++;
        p->st.tunnels_open++;
        c->counted_tunnel = true;
    } else {
        p->st.forwards_total++;
        p->st.forwards_open++;
        c->counted_forward = true;
        c->code = "TCP_MISS";
    }
    /* Bytes the client sent after the head (a pipelined TLS ClientHello, a request body) go first. */
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    c->last_io = mono_ms();
    conn_set_state(p, c, CS_RELAY, c->is_connect ? "tunnel established" : "forwarding");
    set_deadline(p, c, c->last_io + p->cfg.idle_timeout_ms);
    relay_pump(p, c);
}

/* ---- upstream connect ---- */

static void fail_connect(struct proxy *p, struct conn *c, int e, const char *why)
{
    if (e == ETIMEDOUT)
        p->st.connect_timeouts++;
    else
        p->st.connect_failures++;
    conn_reply(p, c, 503, c->is_connect ? "NONE_NONE" : "TCP_MISS", "ERR_CONNECT_FAIL", e, why);
}

static void try_connect(struct proxy *p, struct conn *c)
{
    while (c->ai_next) {
        struct addrinfo *a = c->ai_next;
        c->ai_next = a->ai_next;
        sockaddr_ip(a->ai_addr, c->peer, sizeof c->peer);
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            c->last_errno = errno;
            close(fd);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
        c->ufd = fd;
        ev.data.u64 = ev_data(EV_UPSTREAM, c);
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            fatalx("proxy.epoll", "error=\"%s\"", strerror(errno));
        if (c->state != CS_CONNECTING) {
            conn_set_state(p, c, CS_CONNECTING, "connecting");
            set_deadline(p, c, mono_ms() + p->cfg.connect_timeout_ms);
        } else {
            conn_set_state(p, c, CS_CONNECTING, "next address");
        }
        return;
    }
    fail_connect(p, c, c->last_errno ? c->last_errno : EHOSTUNREACH, "connect failed");
}

static void on_connect_event(struct proxy *p, struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (err == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(c->ufd, (struct sockaddr *)&ss, &sl) < 0)
            return; /* not connected yet (spurious wakeup) */
        if (p->cfg.faults.delay_200_ms && c->is_connect) {
            p->st.faults_delay++;
            conn_set_state(p, c, CS_DELAY, "fault delay_200_ms");
            set_deadline(p, c, mono_ms() + p->cfg.faults.delay_200_ms);
            return;
        }
        start_relay(p, c);
        return;
    }
    c->last_errno = err;
    close(c->ufd); /* also leaves the epoll set */
    c->ufd = -1;
    try_connect(p, c);
}

/* ---- requests ---- */

static void resolved(struct proxy *p, struct conn *c, int gai_err, struct addrinfo *ai)
{
    if (gai_err || !ai) {
        char q[300];
        p->st.dns_failures++;
        log_info("proxy.dns", "id=%u host=%s error=%s", c->slot, log_quote(q, sizeof q, c->host, strlen(c->host)),
                 gai_err ? gai_strerror(gai_err) : "\"no address\"");
        if (ai)
            freeaddrinfo(ai);
        if (p->cfg.squid_dns_bug) {
            /* Squid 5.7 (bug 5294): ERR_CANNOT_FORWARD for CONNECT, a read error for the rest */
            if (c->is_connect)
                conn_reply(p, c, 500, "NONE_NONE", "ERR_CANNOT_FORWARD", 0, "name not resolved");
            else
                conn_reply(p, c, 502, "TCP_MISS", "ERR_READ_ERROR", 0, "name not resolved");
        } else {
            conn_reply(p, c, 503, c->is_connect ? "NONE_NONE" : "TCP_MISS", "ERR_DNS_FAIL", 0, "name not resolved");
        }
        return;
    }
    c->ai = c->ai_next = ai;
    try_connect(p, c);
}

/* The head of a forwarded request: origin-form target, hop-by-hop and proxy headers dropped,
 * Host kept (added when missing), Via and X-Forwarded-For added, Connection: close. */
static uint8_t *rewrite_request(struct proxy *p, const struct conn *c, const struct http_request *r,
                                const uint8_t *buf, size_t *out_len)
{
    static const char *const drop[] = {"Proxy-Authorization", "Proxy-Connection", "Connection", "Keep-Alive",
                                       "Proxy-Authenticate", "TE", "Upgrade", NULL};
    size_t cap = r->head_len + 512 + strlen(p->cfg.host), o = 0;
    uint8_t *out = xmalloc(cap);
    char hp[HTTP_MAX_HOST + 16];
    int n = snprintf((char *)out, cap, "%s ", c->method);
    o = (size_t)n;
    if (r->path.len == 0 || buf[r->path.off] != '/')
        out[o++] = '/';
    memcpy(out + o, buf + r->path.off, r->path.len);
    o += r->path.len;
    o += (size_t)snprintf((char *)out + o, cap - o, " HTTP/%d.%d\r\n", r->v_major, r->v_minor ? r->v_minor : 0);
    bool have_host = http_find_header(r, buf, "Host", 0) >= 0;
    if (!have_host) {
        if (r->port_given && r->port != 80)
            host_port(c, hp, sizeof hp);
        else
            snprintf(hp, sizeof hp, "%s%s%s", r->host_v6 ? "[" : "", r->host, r->host_v6 ? "]" : "");
        o += (size_t)snprintf((char *)out + o, cap - o, "Host: %s\r\n", hp);
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        bool skip = false;
        for (size_t k = 0; drop[k]; k++)
            if (h->name.len == strlen(drop[k]) && strncasecmp((const char *)buf + h->name.off, drop[k], h->name.len) == 0)
                skip = true;
        if (skip)
            continue;
        memcpy(out + o, buf + h->name.off, h->name.len);
        o += h->name.len;
        out[o++] = ':';
        out[o++] = ' ';
        memcpy(out + o, buf + h->value.off, h->value.len);
        o += h->value.len;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    o += (size_t)snprintf((char *)out + o, cap - o, "Via: 1.1 %s (mock-proxy)\r\nX-Forwarded-For: %s\r\nConnection: close\r\n\r\n",
                          p->cfg.host, c->client_ip);
    *out_len = o;
    return out;
}

static void deny(struct proxy *p, struct conn *c, enum acl_verdict v)
{
    c->verdict = v;
    p->st.denials[v]++;
    if (v == ACL_AUTH_REQUIRED || v == ACL_AUTH_FAILED)
        conn_reply(p, c, 407, "TCP_DENIED", "ERR_CACHE_ACCESS_DENIED", 0, acl_verdict_name(v));
    else
        conn_reply(p, c, 403, "TCP_DENIED", "ERR_ACCESS_DENIED", 0, acl_verdict_name(v));
}

static void set_url_from_bad_head(struct conn *c, int rc)
{
    size_t i = 0;
    while (i < c->in_len && (c->in[i] == '\r' || c->in[i] == '\n'))
        i++;
    size_t m = 0;
    while (i + m < c->in_len && m < HTTP_MAX_METHOD && c->in[i + m] > ' ' && c->in[i + m] < 0x7f)
        m++;
    if (m)
        memcpy(c->method, c->in + i, m);
    c->method[m] = '\0';
    c->url = xstrdup(rc == HTTP_E_TOO_BIG || rc == HTTP_E_TOO_MANY ? "error:request-too-large" : "error:invalid-request");
}

/* Returns true when the head is still incomplete (the connection stays in read-head); false when
 * the request was handled (the connection may be gone). */
static bool handle_request(struct proxy *p, struct conn *c)
{
    struct http_request *r = xmalloc(sizeof *r);
    int rc = http_parse_request(c->in, c->in_len, &p->cfg.limits, r);
    if (rc == HTTP_NEED_MORE) {
        free(r);
        return true;
    }
    p->st.requests_total++;
    if (rc < 0) {
        char q[200];
        p->st.bad_requests++;
        log_info("proxy.bad_request", "id=%u client=%s error=%s reason=\"%s\" head=%s", c->slot, c->client_ip,
                 http_result_name(rc), r->why ? r->why : "-",
                 log_quote(q, sizeof q, c->in, c->in_len < 60 ? c->in_len : 60));
        /* A request line that parsed keeps its method and URL for the log, as Squid does. */
        if (r->target.len && rc != HTTP_E_PROTOCOL && rc != HTTP_E_TOO_BIG) {
            snprintf(c->method, sizeof c->method, "%s", r->method_str);
            c->url = strndup((const char *)c->in + r->target.off, r->target.len);
            if (!c->url)
                fatalx("proxy.oom", "error=\"out of memory\"");
        } else {
            set_url_from_bad_head(c, rc);
        }
        conn_reply(p, c, http_error_status(rc), "NONE_NONE", http_error_squid(rc), 0, r->why ? r->why : "bad request");
        free(r);
        return false;
    }
    c->have_request = true;
    snprintf(c->method, sizeof c->method, "%s", r->method_str);
    snprintf(c->host, sizeof c->host, "%s", r->host);
    c->port = r->port;
    c->is_connect = r->method == HTTP_M_CONNECT;
    if (r->auth == HTTP_AUTH_BASIC)
        snprintf(c->user, sizeof c->user, "%s", r->user);
    if (c->is_connect) {
        char hp[HTTP_MAX_HOST + 16];
        c->url = xstrdup(host_port(c, hp, sizeof hp));
    } else {
        c->url = strndup((const char *)c->in + r->target.off, r->target.len);
        if (!c->url)
            fatalx("proxy.oom", "error=\"out of memory\"");
    }

    if (p->cfg.faults.stall) {
        p->st.faults_stall++;
        conn_set_state(p, c, CS_STALL, "fault stall");
        set_deadline(p, c, mono_ms() + p->cfg.idle_timeout_ms);
        goto out;
    }
    /* What the proxy cannot forward, before any ACL (Squid answers these without a lookup). */
    if (!c->is_connect) {
        if (r->form == HTTP_FORM_ASTERISK) {
            conn_reply(p, c, 501, "NONE_NONE", "ERR_UNSUP_REQ", 0, "asterisk-form request");
            goto out;
        }
        if (r->form == HTTP_FORM_ORIGIN) {
            conn_reply(p, c, 400, "NONE_NONE", "ERR_INVALID_URL", 0, "origin-form request to a proxy");
            goto out;
        }
        if (strcmp(r->scheme, "http") != 0) {
            if (http_scheme_port(r->scheme))
                conn_reply(p, c, 501, "NONE_NONE", "ERR_UNSUP_REQ", 0, "scheme not forwarded by mock-proxy");
            else
                conn_reply(p, c, 400, "NONE_NONE", "ERR_INVALID_URL", 0, "unknown URL scheme");
            goto out;
        }
    }
    enum acl_verdict v = acl_check(&p->cfg, (const struct sockaddr *)&c->client, c->is_connect, c->host, c->port,
                                   r->auth, r->user, r->pass);
    if (v != ACL_ALLOW) {
        deny(p, c, v);
        goto out;
    }
    c->verdict = ACL_ALLOW;
    /* Queue what goes upstream first: the pipelined bytes (tunnel) or the rewritten head + body. */
    size_t extra = c->in_len - r->head_len;
    if (c->is_connect) {
        if (extra) {
            c->up.pre = xmalloc(extra);
            memcpy(c->up.pre, c->in + r->head_len, extra);
            c->up.pre_len = extra;
            c->taken += extra; /* counts towards the byte faults like relayed bytes */
        }
    } else {
        size_t hl;
        uint8_t *h = rewrite_request(p, c, r, c->in, &hl);
        c->up.pre = xmalloc(hl + extra);
        memcpy(c->up.pre, h, hl);
        memcpy(c->up.pre + hl, c->in + r->head_len, extra);
        c->up.pre_len = hl + extra;
        free(h);
        c->forward = true;
    }
    /* Literal addresses need no lookup. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", c->port);
    if (getaddrinfo(c->host, port, &hints, &ai) == 0) {
        resolved(p, c, 0, ai);
        goto out;
    }
    c->cookie = ++p->next_cookie;
    int e = resolver_submit(p->res, ((uint64_t)c->slot << 32) | (c->cookie & 0xffffffffu), c->host, c->port);
    if (e < 0) {
        conn_reply(p, c, 500, "NONE_NONE", "ERR_CANNOT_FORWARD", 0, "resolver queue failed");
        goto out;
    }
    conn_set_state(p, c, CS_RESOLVING, "resolving");
    set_deadline(p, c, mono_ms() + p->cfg.connect_timeout_ms + 30000);
out:
    http_request_wipe(r);
    free(r);
    return false;
}

static void read_head(struct proxy *p, struct conn *c)
{
    size_t cap_max = p->cfg.limits.max_head + 1;
    for (;;) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= cap_max)
                break;
            size_t nc = c->in_cap ? c->in_cap * 2 : HEAD_INIT;
            if (nc > cap_max)
                nc = cap_max;
            uint8_t *nb = realloc(c->in, nc);
            if (!nb)
                fatalx("proxy.oom", "error=\"out of memory\"");
            c->in = nb;
            c->in_cap = nc;
        }
        ssize_t n = recv(c->cfd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            if (handle_request(p, c)) {
                p->st.aborted++;
                conn_finish(p, c, false, c->in_len ? "client closed inside the request head" : "client closed before a request");
            }
            return;
        }
        if (errno == EAGAIN || errno == EINTR)
            break;
        p->st.aborted++;
        conn_finish(p, c, false, "client error before a request");
        return;
    }
    (void)handle_request(p, c);
}

/* ---- accept ---- */

static void accept_one(struct proxy *p, struct listener *l)
{
    for (int k = 0; k < 256; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            log_warn("proxy.accept", "listen=%s error=\"%s\"", l->name, strerror(errno));
            return;
        }
        p->st.connections_total++;
        if (p->cfg.faults.refuse_all == REFUSE_RST || p->n_free == 0) {
            char ip[INET6_ADDRSTRLEN];
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            sockaddr_ip((struct sockaddr *)&ss, ip, sizeof ip);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(fd);
            if (p->n_free == 0) {
                log_warn("proxy.refused", "client=%s reason=\"max_connections reached\"", ip);
            } else {
                p->st.faults_rst++;
                p->st.denials[ACL_DENY_REFUSE_ALL]++;
                struct access_entry e = {.end_ms = real_ms(), .client = ip, .code = "TCP_DENIED", .method = "-",
                                         .url = "error:fault-refuse-rst", .hier = "HIER_NONE"};
                access_log_write(&p->alog, &e);
                log_warn("proxy.request", "client=%s method=- verdict=refuse_all status=000 end=rst reason=\"fault refuse_all=rst\"", ip);
            }
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
            fatalx("proxy.oom", "error=\"out of memory\"");
        c->slot = p->free_slots[--p->n_free];
        c->gen = ++p->gen_counter;
        c->cfd = fd;
        c->ufd = -1;
        c->state = CS_READ_HEAD;
        c->t_start = c->last_io = mono_ms();
        memcpy(&c->client, &ss, sizeof ss);
        sockaddr_ip((struct sockaddr *)&ss, c->client_ip, sizeof c->client_ip);
        dir_init(&c->up);
        dir_init(&c->down);
        p->slots[c->slot] = c;
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->st.connections_open++;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = ev_data(EV_CLIENT, c)};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            fatalx("proxy.epoll", "error=\"%s\"", strerror(errno));
        set_deadline(p, c, c->t_start + p->cfg.request_timeout_ms);
        log_debug("conn.accept", "id=%u client=%s listen=%s", c->slot, c->client_ip, l->name);
    }
}

/* ---- listeners ---- */

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host || !colon[1])
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        host[strlen(host) - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *s6;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &s4->sin_addr) != 1)
        return -1;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *sl = sizeof *s4;
    return 0;
}

static int listen_open(struct proxy *p, struct listener *l, char *err, size_t errlen)
{
    int one = 1;
    l->fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(l->fd, (struct sockaddr *)&l->addr, l->alen) < 0 || listen(l->fd, 4096) < 0) {
        snprintf(err, errlen, "listen %s: %s", l->name, strerror(errno));
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(l - p->ls)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
        fatalx("proxy.epoll", "error=\"%s\"", strerror(errno));
    return 0;
}

static void listeners_close(struct proxy *p)
{
    for (size_t i = 0; i < p->n_ls; i++)
        if (p->ls[i].fd >= 0) {
            close(p->ls[i].fd);
            p->ls[i].fd = -1;
        }
    p->listening = false;
}

static int listeners_open(struct proxy *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n_ls; i++)
        if (listen_open(p, &p->ls[i], err, errlen) < 0) {
            listeners_close(p);
            return -1;
        }
    p->listening = true;
    for (size_t i = 0; i < p->n_ls; i++)
        log_info("proxy.listen", "addr=%s", p->ls[i].name);
    return 0;
}

/* ---- faults: down and up ---- */

static void cut_all(struct proxy *p, const char *why)
{
    while (p->conns) {
        struct conn *c = p->conns;
        if (!c->code)
            c->code = "NONE_NONE";
        p->st.aborted++;
        conn_finish(p, c, false, why);
    }
}

static void go_down(struct proxy *p, uint32_t ms, bool cut)
{
    p->st.downs++;
    listeners_close(p);
    p->down_until = mono_ms() + ms;
    log_warn("proxy.down", "for_ms=%u cut=%s open=%llu", ms, cut ? "true" : "false",
             (unsigned long long)p->st.connections_open);
    if (cut)
        cut_all(p, "fault down_cut");
}

static void maybe_up(struct proxy *p)
{
    char err[300];
    if (!p->down_until || mono_ms() < p->down_until || p->stopping)
        return;
    if (listeners_open(p, err, sizeof err) < 0) {
        log_error("proxy.up", "error=\"%s\" note=\"retrying\"", err);
        p->down_until = mono_ms() + 100;
        return;
    }
    p->down_until = 0;
    log_info("proxy.up", NULL);
}

/* ---- stats ---- */

void proxy_write_stats(struct proxy *p)
{
    if (!p->cfg.stats[0])
        return;
    json_t *o = json_object(), *den = json_object(), *st = json_object(), *fa = json_object();
    const struct proxy_stats *s = &p->st;
    json_object_set_new(o, "time", json_real((double)real_ms() / 1000.0));
    json_object_set_new(o, "listening", json_boolean(p->listening));
    json_object_set_new(o, "connections_open", json_integer((json_int_t)s->connections_open));
    json_object_set_new(o, "connections_total", json_integer((json_int_t)s->connections_total));
    json_object_set_new(o, "requests_total", json_integer((json_int_t)s->requests_total));
    json_object_set_new(o, "tunnels_open", json_integer((json_int_t)s->tunnels_open));
    json_object_set_new(o, "tunnels_total", json_integer((json_int_t)s->tunnels_total));
    json_object_set_new(o, "forwards_open", json_integer((json_int_t)s->forwards_open));
    json_object_set_new(o, "forwards_total", json_integer((json_int_t)s->forwards_total));
    json_object_set_new(o, "bytes_up", json_integer((json_int_t)s->bytes_up));
    json_object_set_new(o, "bytes_down", json_integer((json_int_t)s->bytes_down));
    json_object_set_new(o, "bytes_to_clients", json_integer((json_int_t)s->bytes_to_clients));
    for (int v = 1; v < ACL_VERDICT_COUNT; v++)
        json_object_set_new(den, acl_verdict_name((enum acl_verdict)v), json_integer((json_int_t)s->denials[v]));
    json_object_set_new(o, "denials", den);
    json_object_set_new(o, "bad_requests", json_integer((json_int_t)s->bad_requests));
    json_object_set_new(o, "dns_failures", json_integer((json_int_t)s->dns_failures));
    json_object_set_new(o, "connect_failures", json_integer((json_int_t)s->connect_failures));
    json_object_set_new(o, "connect_timeouts", json_integer((json_int_t)s->connect_timeouts));
    json_object_set_new(o, "upstream_errors", json_integer((json_int_t)s->upstream_errors));
    json_object_set_new(o, "request_timeouts", json_integer((json_int_t)s->timeouts_request));
    json_object_set_new(o, "idle_timeouts", json_integer((json_int_t)s->timeouts_idle));
    json_object_set_new(o, "aborted", json_integer((json_int_t)s->aborted));
    json_object_set_new(fa, "refuse_rst", json_integer((json_int_t)s->faults_rst));
    json_object_set_new(fa, "stall", json_integer((json_int_t)s->faults_stall));
    json_object_set_new(fa, "close_after_bytes", json_integer((json_int_t)s->faults_close));
    json_object_set_new(fa, "reset_after_bytes", json_integer((json_int_t)s->faults_reset));
    json_object_set_new(fa, "delay_200", json_integer((json_int_t)s->faults_delay));
    json_object_set_new(fa, "down", json_integer((json_int_t)s->downs));
    json_object_set_new(o, "faults", fa);
    for (int code = 100; code < PROXY_STATUS_MAX; code++)
        if (s->status[code]) {
            char k[8];
            snprintf(k, sizeof k, "%d", code);
            json_object_set_new(st, k, json_integer((json_int_t)s->status[code]));
        }
    json_object_set_new(o, "status", st);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n';
    int w = atomic_write_file(p->cfg.stats, text, n + 1, 0644);
    if (w < 0)
        log_error("proxy.stats", "path=%s error=\"%s\"", p->cfg.stats, strerror(-w));
    free(text);
}

const struct proxy_stats *proxy_get_stats(const struct proxy *p) { return &p->st; }
const struct proxy_config *proxy_config(const struct proxy *p) { return &p->cfg; }

/* ---- timers ---- */

static void check_timers(struct proxy *p, int64_t now)
{
    int64_t next = 0;
    for (struct conn *c = p->conns, *nx; c; c = nx) {
        nx = c->next;
        int64_t dl = c->deadline;
        if (c->state == CS_RELAY || c->state == CS_STALL)
            dl = c->last_io + p->cfg.idle_timeout_ms;
        if (!dl)
            continue;
        if (dl > now) {
            if (!next || dl < next)
                next = dl;
            continue;
        }
        /* nx may be freed by cut_all-like paths below only for c itself: conn_finish unlinks c only. */
        switch (c->state) {
        case CS_READ_HEAD:
            p->st.timeouts_request++;
            conn_finish(p, c, false, "request head timeout");
            break;
        case CS_RESOLVING:
            p->st.dns_failures++;
            conn_reply(p, c, 503, c->is_connect ? "NONE_NONE" : "TCP_MISS", "ERR_DNS_FAIL", 0, "resolver timeout");
            break;
        case CS_CONNECTING:
            if (c->ufd >= 0) {
                close(c->ufd);
                c->ufd = -1;
            }
            fail_connect(p, c, ETIMEDOUT, "connect timeout");
            break;
        case CS_DELAY:
            start_relay(p, c);
            break;
        case CS_RELAY:
        case CS_STALL:
            p->st.timeouts_idle++;
            conn_finish(p, c, false, "idle timeout");
            break;
        case CS_REPLY:
            conn_finish(p, c, false, c->reason ? c->reason : "linger timeout");
            break;
        default:
            break;
        }
    }
    p->next_deadline = next;
}

/* ---- events ---- */

static void on_conn_event(struct proxy *p, struct conn *c, enum ev_kind kind, uint32_t events)
{
    switch (c->state) {
    case CS_READ_HEAD:
        if (kind == EV_CLIENT)
            read_head(p, c);
        break;
    case CS_RESOLVING:
    case CS_DELAY:
        if (kind == EV_CLIENT && (events & (EPOLLERR | EPOLLHUP))) {
            p->st.aborted++;
            conn_finish(p, c, false, "client gone");
        }
        break;
    case CS_CONNECTING:
        if (kind == EV_UPSTREAM)
            on_connect_event(p, c);
        else if (events & (EPOLLERR | EPOLLHUP)) {
            p->st.aborted++;
            conn_finish(p, c, false, "client gone");
        }
        break;
    case CS_RELAY:
        relay_pump(p, c);
        break;
    case CS_REPLY:
        if (kind == EV_CLIENT)
            pump_reply(p, c);
        break;
    case CS_STALL:
        if (kind == EV_CLIENT) {
            for (;;) {
                char junk[4096];
                ssize_t n = recv(c->cfd, junk, sizeof junk, 0);
                if (n > 0)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                conn_finish(p, c, false, "client left the stalled connection");
                break;
            }
        }
        break;
    default:
        break;
    }
}

static void on_resolver(struct proxy *p)
{
    struct resolve_result rs[64];
    size_t n;
    while ((n = resolver_collect(p->res, rs, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            uint32_t slot = (uint32_t)(rs[i].cookie >> 32);
            struct conn *c = slot < p->n_slots ? p->slots[slot] : NULL;
            if (!c || c->state != CS_RESOLVING || (c->cookie & 0xffffffffu) != (rs[i].cookie & 0xffffffffu)) {
                if (rs[i].ai)
                    freeaddrinfo(rs[i].ai);
                continue;
            }
            resolved(p, c, rs[i].gai_err, rs[i].ai);
        }
        if (n < 64)
            break;
    }
}

int proxy_run(struct proxy *p, int sigfd, proxy_signal_fn on_signal, void *ctx)
{
    if (sigfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_SIGNAL};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, sigfd, &ev) < 0)
            return -errno;
    }
    p->next_stats = mono_ms();
    for (;;) {
        int64_t now = mono_ms();
        if (p->stopping && (!p->conns || now >= p->stop_deadline)) {
            cut_all(p, "stopping");
            break;
        }
        if (p->next_deadline && now >= p->next_deadline)
            check_timers(p, now);
        maybe_up(p);
        if (now >= p->next_stats) {
            proxy_write_stats(p);
            p->next_stats = now + 1000;
            if (!p->next_deadline)
                check_timers(p, now); /* recompute the earliest deadline once a second */
        }
        int64_t wake = p->next_stats;
        if (p->next_deadline && p->next_deadline < wake)
            wake = p->next_deadline;
        if (p->down_until && p->down_until < wake)
            wake = p->down_until;
        if (p->stopping && p->stop_deadline < wake)
            wake = p->stop_deadline;
        int timeout = p->hot ? 0 : wake > now ? (int)(wake - now) : 0;
        struct epoll_event evs[256];
        int n = epoll_wait(p->epfd, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatalx("proxy.epoll", "error=\"%s\"", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            enum ev_kind kind = (enum ev_kind)(d >> 62);
            if (kind == EV_STATIC) {
                if (d == EV_SIGNAL) {
                    struct signalfd_siginfo si;
                    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                        if (on_signal)
                            on_signal(p, (int)si.ssi_signo, ctx);
                } else if (d == EV_RESOLVER) {
                    on_resolver(p);
                } else if (d < p->n_ls && p->ls[d].fd >= 0 && !p->stopping) {
                    accept_one(p, &p->ls[d]);
                }
                continue;
            }
            struct conn *c = conn_lookup(p, d);
            if (c)
                on_conn_event(p, c, kind, evs[i].events);
        }
        /* Connections that still had bytes to move after their pump rounds. */
        struct conn *hot = p->hot;
        p->hot = NULL;
        while (hot) {
            struct conn *c = hot;
            hot = c->hot_next;
            c->hot = false;
            c->hot_next = NULL;
            if (c->state == CS_RELAY)
                relay_pump(p, c);
        }
    }
    proxy_write_stats(p);
    return 0;
}

void proxy_stop(struct proxy *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    p->stop_deadline = mono_ms() + p->cfg.stop_grace_ms;
    listeners_close(p);
    p->down_until = 0;
    log_info("proxy.stopping", "open=%llu grace_ms=%u", (unsigned long long)p->st.connections_open,
             p->cfg.stop_grace_ms);
}

void proxy_reopen_log(struct proxy *p)
{
    int r = access_log_open(&p->alog, p->cfg.access_log);
    if (r < 0)
        log_error("proxy.access_log", "path=%s error=\"%s\"", p->cfg.access_log, strerror(-r));
}

static void log_config(const struct proxy_config *c)
{
    log_info("proxy.config", "ssl_ports=%zu safe_ports=%zu allow_src=%zu allow_domains=%zu deny_domains=%zu "
             "auth=%s users=%zu realm=\"%s\" connect_ms=%u idle_ms=%u request_ms=%u splice=%s squid_dns_bug=%s "
             "access_log=%s stats=%s",
             c->n_ssl_ports, c->n_safe_ports, c->n_allow_src, c->n_allow_domains, c->n_deny_domains,
             c->auth ? "on" : "off", c->n_users, c->realm, c->connect_timeout_ms, c->idle_timeout_ms,
             c->request_timeout_ms, c->splice ? "on" : "off", c->squid_dns_bug ? "on" : "off",
             c->access_log[0] ? c->access_log : "-", c->stats[0] ? c->stats : "-");
    const struct proxy_faults *f = &c->faults;
    log_info("proxy.faults", "refuse_all=%s close_after_bytes=%llu reset_after_bytes=%llu stall=%s delay_200_ms=%u "
             "down_ms=%u down_cut=%s",
             f->refuse_all == REFUSE_403 ? "403" : f->refuse_all == REFUSE_RST ? "rst" : "off",
             (unsigned long long)f->close_after_bytes, (unsigned long long)f->reset_after_bytes,
             f->stall ? "on" : "off", f->delay_200_ms, f->down_ms, f->down_cut ? "true" : "false");
}

void proxy_apply_config(struct proxy *p, struct proxy_config *cfg)
{
    bool same_listen = cfg->n_listen == p->cfg.n_listen;
    for (size_t i = 0; same_listen && i < cfg->n_listen; i++)
        same_listen = strcmp(cfg->listen[i], p->cfg.listen[i]) == 0;
    if (!same_listen)
        log_warn("proxy.reload", "note=\"listen addresses are fixed at start; keeping the running ones\"");
    memcpy(cfg->listen, p->cfg.listen, sizeof cfg->listen);
    cfg->n_listen = p->cfg.n_listen;
    cfg->max_connections = p->cfg.max_connections;
    bool log_changed = strcmp(cfg->access_log, p->cfg.access_log) != 0;
    proxy_config_free(&p->cfg);
    p->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (log_changed)
        proxy_reopen_log(p);
    log_config(&p->cfg);
    if (p->cfg.faults.down_ms && !p->stopping)
        go_down(p, p->cfg.faults.down_ms, p->cfg.faults.down_cut);
}

struct proxy *proxy_new(struct proxy_config *cfg, char *err, size_t errlen)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p) {
        proxy_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    access_log_init(&p->alog);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->n_slots = (uint32_t)p->cfg.max_connections;
    p->slots = calloc(p->n_slots, sizeof *p->slots);
    p->free_slots = calloc(p->n_slots, sizeof *p->free_slots);
    if (p->epfd < 0 || !p->slots || !p->free_slots) {
        snprintf(err, errlen, "start: %s", strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    for (uint32_t i = 0; i < p->n_slots; i++)
        p->free_slots[i] = p->n_slots - 1 - i;
    p->n_free = p->n_slots;
    if (p->cfg.access_log[0]) {
        int r = access_log_open(&p->alog, p->cfg.access_log);
        if (r < 0) {
            snprintf(err, errlen, "access log %s: %s", p->cfg.access_log, strerror(-r));
            goto fail;
        }
    }
    p->res = resolver_new(p->cfg.resolver_threads);
    if (!p->res) {
        snprintf(err, errlen, "resolver: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_RESOLVER};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, resolver_fd(p->res), &ev) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    if (p->cfg.n_listen == 0) {
        snprintf(err, errlen, "nothing to listen on (--listen IP:PORT or \"listen\" in the config)");
        goto fail;
    }
    for (size_t i = 0; i < p->cfg.n_listen; i++) {
        struct listener *l = &p->ls[p->n_ls++];
        l->fd = -1;
        snprintf(l->name, sizeof l->name, "%s", p->cfg.listen[i]);
        if (parse_listen(p->cfg.listen[i], &l->addr, &l->alen) < 0) {
            snprintf(err, errlen, "listen \"%s\": not IP:PORT or [IPv6]:PORT", p->cfg.listen[i]);
            goto fail;
        }
    }
    if (listeners_open(p, err, errlen) < 0)
        goto fail;
    log_config(&p->cfg);
    if (p->cfg.faults.down_ms)
        go_down(p, p->cfg.faults.down_ms, false);
    return p;
fail:
    proxy_free(p);
    return NULL;
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    cut_all(p, "stopping");
    listeners_close(p);
    resolver_free(p->res);
    access_log_close(&p->alog);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p->slots);
    free(p->free_slots);
    proxy_config_free(&p->cfg);
    free(p);
}
