/* proxy-probe: a test client and server for mock-proxy (and any HTTP proxy, e.g. Squid).
 *
 *   proxy-probe raw --proxy IP:PORT [--src IP] [--timeout S] [--all] 'REQUEST'
 *       Send REQUEST (C escapes \r \n \t \\ \xNN are decoded) and print the response: its head and
 *       a Content-Length body (--all: everything until EOF or the timeout). Exit 0 response seen,
 *       1 closed or reset without a response, 2 timeout, 3 system error.
 *   proxy-probe tunnels --proxy IP:PORT --target HOST:PORT [-n N] [--bytes B] [--pipeline]
 *                       [--user USER:PASS] [--src IP] [--timeout S]
 *       Open N CONNECT tunnels at once to an echo server; when all N have their 200 (all open at the
 *       same time), each sends B bytes of its own pattern, half-closes (SHUT_WR) and reads the echo
 *       until EOF. --pipeline sends the bytes right behind the CONNECT head, before the 200.
 *       Prints one summary line; exit 0 when every tunnel got its bytes back intact.
 *   proxy-probe echo --listen IP:PORT
 *       Echo server (epoll): echoes bytes, forwards a half-close (EOF -> SHUT_WR once drained).
 *       READY on $ZTP_READY_FD once listening; stops on SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ztp/daemon.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[80];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[') {
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
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return -1;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *sl = sizeof *s4;
    return 0;
}

static int open_conn(const struct sockaddr_storage *to, socklen_t tl, const char *src, bool nonblock)
{
    int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (to->ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            if (inet_pton(AF_INET, src, &s4->sin_addr) != 1 || bind(fd, (struct sockaddr *)&ss, sizeof *s4) < 0)
                goto fail;
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            if (inet_pton(AF_INET6, src, &s6->sin6_addr) != 1 || bind(fd, (struct sockaddr *)&ss, sizeof *s6) < 0)
                goto fail;
        }
    }
    if (connect(fd, (const struct sockaddr *)to, tl) < 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* Decode C escapes. Returns the length. */
static size_t unescape(const char *in, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o < cap; i++) {
        if (in[i] != '\\' || !in[i + 1]) {
            out[o++] = (uint8_t)in[i];
            continue;
        }
        char c = in[++i];
        if (c == 'r')
            out[o++] = '\r';
        else if (c == 'n')
            out[o++] = '\n';
        else if (c == 't')
            out[o++] = '\t';
        else if (c == '0')
            out[o++] = 0;
        else if (c == 'x' && in[i + 1] && in[i + 2]) {
            char hx[3] = {in[i + 1], in[i + 2], 0};
            out[o++] = (uint8_t)strtoul(hx, NULL, 16);
            i += 2;
        } else
            out[o++] = (uint8_t)c;
    }
    return o;
}

/* ---- raw ---- */

static int cmd_raw(const char *proxy, const char *src, int timeout_s, bool all, const char *request)
{
    struct sockaddr_storage to;
    socklen_t tl;
    size_t cap = strlen(request) + 1;
    uint8_t *req = malloc(cap);
    if (!req || parse_addr(proxy, &to, &tl) < 0) {
        fprintf(stderr, "proxy-probe: bad --proxy %s\n", proxy);
        free(req);
        return 3;
    }
    size_t rl = unescape(request, req, cap);
    int fd = open_conn(&to, tl, src, false);
    if (fd < 0) {
        fprintf(stderr, "proxy-probe: connect %s: %s\n", proxy, strerror(errno));
        free(req);
        return 1;
    }
    for (size_t off = 0; off < rl;) {
        ssize_t w = send(fd, req + off, rl - off, MSG_NOSIGNAL);
        if (w <= 0) {
            if (errno == EINTR)
                continue;
            break; /* the proxy may answer and close before reading it all */
        }
        off += (size_t)w;
    }
    free(req);
    static uint8_t buf[1 << 20];
    size_t len = 0, head = 0, want = SIZE_MAX;
    int64_t deadline = now_ms() + timeout_s * 1000;
    int rc = 2;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, sizeof buf - len - 1, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                fprintf(stderr, "proxy-probe: recv: %s\n", strerror(errno));
            rc = head ? 0 : 1;
            break;
        }
        len += (size_t)n;
        buf[len] = 0;
        if (!head) {
            uint8_t *e = memmem(buf, len, "\r\n\r\n", 4);
            if (e) {
                head = (size_t)(e - buf) + 4;
                const char *cl = strcasestr((const char *)buf, "\ncontent-length:");
                want = head;
                if (cl && cl < (const char *)buf + head && strncmp(request, "HEAD ", 5) != 0)
                    want = head + strtoull(cl + 16, NULL, 10);
            }
        }
        if (head && !all && len >= want) {
            rc = 0;
            break;
        }
        if (len == sizeof buf - 1) {
            rc = head ? 0 : 1;
            break;
        }
    }
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    if (rc == 2 && head && all)
        rc = 0;
    if (rc == 2)
        fprintf(stderr, "proxy-probe: timeout after %d s (%zu bytes received)\n", timeout_s, len);
    if (rc == 1)
        fprintf(stderr, "proxy-probe: connection closed without a response (%zu bytes received)\n", len);
    close(fd);
    return rc;
}

/* ---- tunnels ---- */

enum t_phase { T_CONNECTING, T_WAIT_200, T_OPEN, T_SENDING, T_DRAINING, T_DONE, T_FAILED };

struct tunnel {
    int fd;
    enum t_phase phase;
    uint32_t idx;
    char head[512];
    size_t head_len;
    size_t sent, got;
    const char *why;
};

static uint8_t pattern(uint32_t t, size_t i) { return (uint8_t)((i * 131u + t * 7u + (i >> 9)) ^ 0x5a); }

static void fail_t(struct tunnel *t, const char *why, size_t *failed)
{
    if (t->phase == T_FAILED || t->phase == T_DONE)
        return;
    t->phase = T_FAILED;
    t->why = why;
    (*failed)++;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static void b64(const char *in, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = tb[(v >> 18) & 63];
        out[o++] = tb[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tb[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tb[v & 63] : '=';
    }
    out[o] = '\0';
}

static int cmd_tunnels(const char *proxy, const char *target, const char *src, size_t n, size_t bytes, bool pipeline,
                       const char *user, int timeout_s)
{
    struct sockaddr_storage to;
    socklen_t tl;
    char req[1024], auth[400] = "";
    if (parse_addr(proxy, &to, &tl) < 0) {
        fprintf(stderr, "proxy-probe: bad --proxy %s\n", proxy);
        return 3;
    }
    if (user) {
        char enc[300];
        if (strlen(user) > 200)
            return 3;
        b64(user, enc);
        snprintf(auth, sizeof auth, "Proxy-Authorization: Basic %s\r\n", enc);
    }
    int rl = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", target, target, auth);
    struct rlimit lim = {.rlim_cur = n + 64, .rlim_max = n + 64};
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_cur < n + 64 && setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        fprintf(stderr, "proxy-probe: cannot raise RLIMIT_NOFILE to %zu\n", n + 64);
        return 3;
    }
    struct tunnel *ts = calloc(n, sizeof *ts);
    uint8_t *sbuf = malloc(65536), *rbuf = malloc(65536);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!ts || !sbuf || !rbuf || ep < 0)
        return 3;
    size_t failed = 0, done = 0, open_now = 0, max_open = 0, established = 0;
    uint64_t received = 0;
    int64_t t0 = now_ms(), deadline = t0 + timeout_s * 1000, t_est = 0;
    for (size_t i = 0; i < n; i++) {
        struct tunnel *t = &ts[i];
        t->idx = (uint32_t)i;
        t->fd = open_conn(&to, tl, src, true);
        if (t->fd < 0) {
            t->fd = -1;
            fail_t(t, "connect", &failed);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev);
    }
    bool go = false;
    while (done + failed < n && now_ms() < deadline) {
        struct epoll_event evs[256];
        int ne = epoll_wait(ep, evs, 256, 100);
        /* Phase two starts when every live tunnel has its 200 (they are all open together). */
        if (!go && established + failed == n) {
            go = true;
            t_est = now_ms();
            for (size_t i = 0; i < n; i++)
                if (ts[i].phase == T_OPEN)
                    ts[i].phase = T_SENDING;
            ne = -1; /* kick every tunnel below */
        }
        size_t cnt = ne < 0 ? n : (size_t)ne;
        for (size_t k = 0; k < cnt; k++) {
            struct tunnel *t = &ts[ne < 0 ? k : evs[k].data.u64];
            if (t->phase == T_FAILED || t->phase == T_DONE)
                continue;
            if (t->phase == T_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    fail_t(t, "connect", &failed);
                    continue;
                }
                struct sockaddr_storage pn;
                socklen_t pl = sizeof pn;
                if (getpeername(t->fd, (struct sockaddr *)&pn, &pl) < 0)
                    continue;
                /* request (+ pipelined bytes) in one send */
                size_t plen = pipeline ? (bytes < 65536 - (size_t)rl ? bytes : 65536 - (size_t)rl) : 0;
                memcpy(sbuf, req, (size_t)rl);
                for (size_t i = 0; i < plen; i++)
                    sbuf[rl + i] = pattern(t->idx, i);
                ssize_t w = send(t->fd, sbuf, (size_t)rl + plen, MSG_NOSIGNAL);
                if (w != (ssize_t)((size_t)rl + plen)) {
                    fail_t(t, "send request", &failed);
                    continue;
                }
                t->sent = plen;
                t->phase = T_WAIT_200;
                open_now++;
                if (open_now > max_open)
                    max_open = open_now;
            }
            if (t->phase == T_WAIT_200) {
                for (;;) {
                    /* read byte-exactly up to the end of the head, the rest is tunnel data */
                    ssize_t r = recv(t->fd, t->head + t->head_len, 1, 0);
                    if (r <= 0) {
                        if (r < 0 && errno == EAGAIN)
                            break;
                        open_now--;
                        fail_t(t, "closed before 200", &failed);
                        break;
                    }
                    t->head_len++;
                    if (t->head_len >= 4 && memcmp(t->head + t->head_len - 4, "\r\n\r\n", 4) == 0) {
                        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                        if (t->head_len != sizeof ok - 1 || memcmp(t->head, ok, sizeof ok - 1) != 0) {
                            open_now--;
                            fail_t(t, "not 200 Connection established", &failed);
                        } else {
                            t->phase = go ? T_SENDING : T_OPEN;
                            established++;
                        }
                        break;
                    }
                    if (t->head_len == sizeof t->head - 1) {
                        open_now--;
                        fail_t(t, "response head too long", &failed);
                        break;
                    }
                }
            }
            if (t->phase == T_SENDING) {
                while (t->sent < bytes) {
                    size_t chunk = bytes - t->sent < 65536 ? bytes - t->sent : 65536;
                    for (size_t i = 0; i < chunk; i++)
                        sbuf[i] = pattern(t->idx, t->sent + i);
                    ssize_t w = send(t->fd, sbuf, chunk, MSG_NOSIGNAL);
                    if (w <= 0)
                        break;
                    t->sent += (size_t)w;
                }
                if (t->sent >= bytes) {
                    shutdown(t->fd, SHUT_WR);
                    t->phase = T_DRAINING;
                }
            }
            if (t->phase == T_SENDING || t->phase == T_DRAINING) {
                for (;;) {
                    ssize_t r = recv(t->fd, rbuf, 65536, 0);
                    if (r < 0 && errno == EAGAIN)
                        break;
                    if (r < 0) {
                        open_now--;
                        fail_t(t, errno == ECONNRESET ? "reset" : "recv error", &failed);
                        break;
                    }
                    if (r == 0) {
                        open_now--;
                        if (t->got == bytes && t->phase == T_DRAINING) {
                            t->phase = T_DONE;
                            done++;
                            close(t->fd);
                            t->fd = -1;
                        } else {
                            fail_t(t, "short echo", &failed);
                        }
                        break;
                    }
                    for (ssize_t i = 0; i < r; i++)
                        if (rbuf[i] != pattern(t->idx, t->got + (size_t)i)) {
                            open_now--;
                            fail_t(t, "echo mismatch", &failed);
                            break;
                        }
                    if (t->phase == T_FAILED)
                        break;
                    t->got += (size_t)r;
                    received += (uint64_t)r;
                }
            }
        }
    }
    int64_t t1 = now_ms();
    size_t timed_out = 0;
    const char *first_why = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ts[i].phase != T_DONE && ts[i].phase != T_FAILED) {
            timed_out++;
            fail_t(&ts[i], "timeout", &failed);
        }
        if (ts[i].phase == T_FAILED && !first_why)
            first_why = ts[i].why;
    }
    printf("tunnels=%zu ok=%zu failed=%zu timed_out=%zu max_open=%zu established=%zu bytes_each=%zu "
           "received=%llu establish_ms=%lld total_ms=%lld first_failure=\"%s\"\n",
           n, done, failed, timed_out, max_open, established, bytes, (unsigned long long)received,
           (long long)((t_est ? t_est : t1) - t0), (long long)(t1 - t0), first_why ? first_why : "-");
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        if (ts[i].fd >= 0)
            close(ts[i].fd);
    free(ts);
    free(sbuf);
    free(rbuf);
    close(ep);
    return done == n ? 0 : 1;
}

/* ---- echo server ---- */

struct echo {
    int fd;
    uint8_t buf[65536];
    size_t len, off;
    bool eof, shut;
};

static void echo_pump(struct echo *e)
{
    for (;;) {
        while (e->off < e->len) {
            ssize_t w = send(e->fd, e->buf + e->off, e->len - e->off, MSG_NOSIGNAL);
            if (w <= 0) {
                if (w < 0 && errno == EAGAIN)
                    return;
                e->eof = e->shut = true;
                return;
            }
            e->off += (size_t)w;
        }
        e->off = e->len = 0;
        if (e->eof) {
            if (!e->shut) {
                shutdown(e->fd, SHUT_WR);
                e->shut = true;
            }
            return;
        }
        ssize_t r = recv(e->fd, e->buf, sizeof e->buf, 0);
        if (r > 0) {
            e->len = (size_t)r;
            continue;
        }
        if (r < 0 && errno == EAGAIN)
            return;
        e->eof = true;
    }
}

static int cmd_echo(const char *listen_on)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1;
    if (parse_addr(listen_on, &ss, &sl) < 0) {
        fprintf(stderr, "proxy-probe: bad --listen %s\n", listen_on);
        return 3;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int sigfd = daemon_signalfd();
    int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sigfd < 0 || lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "proxy-probe: listen %s: %s\n", listen_on, strerror(errno));
        return 3;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &sigfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &sev);
    fprintf(stderr, "proxy-probe: echo listening on %s\n", listen_on);
    daemon_ready();
    unsigned long accepted = 0;
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &sigfd) {
                fprintf(stderr, "proxy-probe: echo stop, %lu connections served\n", accepted);
                return 0;
            }
            if (!evs[i].data.ptr) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    accepted++;
                    struct echo *e = calloc(1, sizeof *e);
                    if (!e) {
                        close(fd);
                        continue;
                    }
                    e->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = e};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    echo_pump(e);
                }
                continue;
            }
            struct echo *e = evs[i].data.ptr;
            echo_pump(e);
            if (e->shut && (evs[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
                close(e->fd);
                free(e);
            }
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: proxy-probe raw --proxy IP:PORT [--src IP] [--timeout S] [--all] 'REQUEST'\n"
               "       proxy-probe tunnels --proxy IP:PORT --target HOST:PORT [-n N] [--bytes B] [--pipeline]\n"
               "                           [--user USER:PASS] [--src IP] [--timeout S]\n"
               "       proxy-probe echo --listen IP:PORT\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proxy", required_argument, NULL, 'p'}, {"src", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'}, {"all", no_argument, NULL, 'a'},
        {"target", required_argument, NULL, 'T'}, {"bytes", required_argument, NULL, 'b'},
        {"pipeline", no_argument, NULL, 'P'}, {"user", required_argument, NULL, 'u'},
        {"listen", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *proxy = NULL, *src = NULL, *target = NULL, *user = NULL, *listen_on = NULL;
    int timeout_s = 5, c;
    bool all = false, pipeline = false;
    size_t n = 1, bytes = 1024;
    if (argc < 2) {
        usage(stderr);
        return 64;
    }
    const char *cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "p:s:t:aT:b:Pu:l:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': proxy = optarg; break;
        case 's': src = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        case 'a': all = true; break;
        case 'T': target = optarg; break;
        case 'b': bytes = strtoull(optarg, NULL, 10); break;
        case 'P': pipeline = true; break;
        case 'u': user = optarg; break;
        case 'l': listen_on = optarg; break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (timeout_s <= 0 || timeout_s > 600 || n == 0 || n > 20000) {
        fprintf(stderr, "proxy-probe: --timeout 1..600, -n 1..20000\n");
        return 64;
    }
    if (!strcmp(cmd, "raw") && proxy && optind == argc - 1)
        return cmd_raw(proxy, src, timeout_s, all, argv[optind]);
    if (!strcmp(cmd, "tunnels") && proxy && target && optind == argc)
        return cmd_tunnels(proxy, target, src, n, bytes, pipeline, user, timeout_s);
    if (!strcmp(cmd, "echo") && listen_on && optind == argc)
        return cmd_echo(listen_on);
    usage(stderr);
    return 64;
}
