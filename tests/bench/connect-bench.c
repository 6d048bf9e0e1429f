/* connect-bench: the project's own load generator for HTTP CONNECT proxies (ab, wrk and h2load cannot
 * drive CONNECT). One process, one epoll loop, non-blocking sockets. Used by tests/bench/proxy-bench.sh
 * to measure mock-proxy and Squid side by side; works against any CONNECT proxy.
 *
 *   connect-bench server --listen IP:PORT [--listen IP:PORT ...]
 *       The server behind the proxy. The first byte a connection sends picks the mode:
 *         'E'  echo every following byte; close once the peer's EOF is seen and everything is echoed
 *         'U' + 8-byte big-endian N: discard N bytes (recv MSG_TRUNC, no copy), then answer the
 *              count (8 bytes, big endian) and close (no half-close needed: Squid closes a tunnel
 *              when one side half-closes)
 *         'D' + 8-byte big-endian N: send N bytes (sendfile from a memfd, no copy), then close
 *       READY on $ZTP_READY_FD once listening; stops on SIGTERM/SIGINT.
 *
 *   connect-bench rate --proxy IP:PORT --target IP:PORT[,IP:PORT...] [-c CONC] [--duration S]
 *                      [--warmup S] [--payload B] [--src IP[,IP...]] [--pid PROXYPID]
 *                      [--server-pid PID] [--timeout S]
 *       CONC connections, each in a loop: connect, CONNECT (timer starts) -> 200 (timer stops),
 *       'E' + B bytes, read the B bytes back, close; a new connection at once. Targets and source
 *       addresses rotate per connection (spreads the 4-tuples of the client side over TIME_WAIT).
 *       Counts tunnels completed inside the measured window (after the warm-up), the latency of
 *       "CONNECT sent -> 200 received" and of the whole transaction, and the CPU used in the window
 *       by this process, the proxy (--pid) and the server (--server-pid).
 *
 *   connect-bench bulk --proxy IP:PORT --target IP:PORT --bytes N [--direction down|up]
 *                      [--pid PROXYPID] [--server-pid PID] [--timeout S]
 *       One tunnel, N bytes in one direction (down: server -> client, up: client -> server), timed
 *       from the command to the last byte (down) or to the server's count of N bytes (up).
 *
 *   connect-bench idle --proxy IP:PORT --target IP:PORT[,...] [-n N] --pid PROXYPID
 *                      [--settle-ms MS] [--src IP[,IP...]] [--timeout S]
 *       Reads the proxy's VmRSS, opens N tunnels (each echoes one byte, so both legs are up and the
 *       relay has run), waits MS, reads VmRSS/VmHWM/open fds of the proxy again, closes the tunnels,
 *       waits MS and reads VmRSS once more.
 *
 * Every measuring mode prints one line of key=value pairs on stdout; exit 0 when nothing failed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ztp/daemon.h"
#include "bench-common.h"

#define MAX_ADDRS 64
#define MAX_PAYLOAD 4096
#define MEMFD_SIZE (4u << 20)

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];
};

static int parse_addr(const char *s, struct addr *a, bool need_port)
{
    char host[64];
    const char *colon = need_port ? strrchr(s, ':') : NULL;
    size_t hl = colon ? (size_t)(colon - s) : strlen(s);
    int port = 0;
    if ((need_port && !colon) || hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v <= 0 || v > 65535)
            return -1;
        port = (int)v;
    }
    memset(a, 0, sizeof *a);
    snprintf(a->text, sizeof a->text, "%s", s);
    if (host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        a->len = sizeof *s6;
        return 0;
    }
    if (!need_port && strchr(host, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        a->len = sizeof *s6;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return -1;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    a->len = sizeof *s4;
    return 0;
}

/* "A,B,C" -> addrs; returns the count or -1. */
static int parse_list(const char *s, struct addr *out, int cap, bool need_port)
{
    char buf[4096];
    int n = 0;
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == cap || parse_addr(tok, &out[n], need_port) < 0) {
            fprintf(stderr, "connect-bench: bad address \"%s\"\n", tok);
            return -1;
        }
        n++;
    }
    return n;
}

/* A non-blocking connect from `src` (NULL = any; the port is picked at connect time). */
static int open_conn(const struct addr *to, const struct addr *src)
{
    int fd = socket(to->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)&src->ss, src->len) < 0)
            goto fail;
    }
    if (connect(fd, (const struct sockaddr *)&to->ss, to->len) < 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int build_connect(char *buf, size_t cap, const struct addr *target)
{
    return snprintf(buf, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target->text, target->text);
}

/* Checks a complete response head: "HTTP/1.x 200 ...". */
static bool head_is_200(const char *h, size_t len)
{
    return len >= 12 && memcmp(h, "HTTP/1.", 7) == 0 && h[8] == ' ' && memcmp(h + 9, "200", 3) == 0;
}

/* ---- /proc of the proxy ---- */

struct pstat {
    bool ok;
    double cpu_s;      /* utime + stime */
    long rss_kb, hwm_kb;
    long fds;
};

static struct pstat proc_read(pid_t pid, bool want_fds)
{
    struct pstat s = {0};
    char path[64], buf[4096];
    s.cpu_s = bench_proc_cpu_s(pid);
    if (s.cpu_s < 0) {
        s.cpu_s = 0;
        return s;
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return s;
    while (fgets(buf, sizeof buf, f)) {
        if (!strncmp(buf, "VmRSS:", 6))
            s.rss_kb = strtol(buf + 6, NULL, 10);
        else if (!strncmp(buf, "VmHWM:", 6))
            s.hwm_kb = strtol(buf + 6, NULL, 10);
    }
    fclose(f);
    if (want_fds) {
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                    s.fds++;
            closedir(d);
        }
    }
    s.ok = true;
    return s;
}

/* ---- server ---- */

enum s_mode { S_CMD, S_ECHO, S_SINK, S_SOURCE };

struct sconn {
    int fd;
    enum s_mode mode;
    uint8_t cmd[9];
    size_t cmd_len;
    uint64_t count, want, sent;
    bool eof;
    size_t len, off; /* echo buffer */
    uint8_t buf[MAX_PAYLOAD * 4];
};

static int g_memfd = -1;

static void s_close(struct sconn *c)
{
    close(c->fd);
    free(c);
}

/* Returns false when the connection is gone. */
static bool s_pump(struct sconn *c)
{
    for (;;) {
        switch (c->mode) {
        case S_CMD: {
            size_t need = c->cmd_len && (c->cmd[0] == 'D' || c->cmd[0] == 'U') ? 9 : 1;
            ssize_t r = recv(c->fd, c->cmd + c->cmd_len, need - c->cmd_len, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    return true;
                s_close(c);
                return false;
            }
            c->cmd_len += (size_t)r;
            if (c->cmd[0] == 'E')
                c->mode = S_ECHO;
            else if ((c->cmd[0] == 'D' || c->cmd[0] == 'U') && c->cmd_len == 9) {
                for (int i = 1; i < 9; i++)
                    c->want = c->want << 8 | c->cmd[i];
                c->mode = c->cmd[0] == 'D' ? S_SOURCE : S_SINK;
            } else if (c->cmd[0] != 'D' && c->cmd[0] != 'U') {
                s_close(c);
                return false;
            }
            continue;
        }
        case S_ECHO:
            while (c->off < c->len) {
                ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
                if (w < 0 && errno == EAGAIN)
                    return true;
                if (w <= 0) {
                    s_close(c);
                    return false;
                }
                c->off += (size_t)w;
            }
            c->off = c->len = 0;
            if (c->eof) {
                s_close(c); /* everything echoed and the peer is done: FIN */
                return false;
            }
            {
                ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
                if (r > 0) {
                    c->len = (size_t)r;
                    continue;
                }
                if (r < 0 && errno == EAGAIN)
                    return true;
                if (r < 0) {
                    s_close(c);
                    return false;
                }
                c->eof = true;
            }
            continue;
        case S_SINK:
            while (c->count < c->want) {
                uint64_t left = c->want - c->count;
                ssize_t r = recv(c->fd, NULL, left < (1u << 22) ? (size_t)left : (1u << 22), MSG_TRUNC);
                if (r > 0) {
                    c->count += (uint64_t)r;
                    continue;
                }
                if (r < 0 && errno == EAGAIN)
                    return true;
                s_close(c);
                return false;
            }
            {
                uint8_t be[8];
                for (int i = 0; i < 8; i++)
                    be[i] = (uint8_t)(c->count >> (56 - 8 * i));
                (void)send(c->fd, be, sizeof be, MSG_NOSIGNAL);
            }
            s_close(c);
            return false;
        case S_SOURCE:
            while (c->sent < c->want) {
                off_t off = (off_t)(c->sent % MEMFD_SIZE);
                uint64_t left = c->want - c->sent;
                size_t chunk = MEMFD_SIZE - (size_t)off;
                if (chunk > left)
                    chunk = (size_t)left;
                ssize_t w = sendfile(c->fd, g_memfd, &off, chunk);
                if (w < 0 && errno == EAGAIN)
                    return true;
                if (w <= 0) {
                    s_close(c);
                    return false;
                }
                c->sent += (uint64_t)w;
            }
            s_close(c);
            return false;
        }
    }
}

static int cmd_server(struct addr *ls, int n_ls)
{
    bench_raise_nofile("connect-bench", 65536);
    g_memfd = memfd_create("connect-bench", MFD_CLOEXEC);
    if (g_memfd < 0 || ftruncate(g_memfd, MEMFD_SIZE) < 0) {
        perror("connect-bench: memfd");
        return 3;
    }
    uint8_t *m = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g_memfd, 0);
    if (m == MAP_FAILED) {
        perror("connect-bench: mmap");
        return 3;
    }
    for (size_t i = 0; i < MEMFD_SIZE; i++)
        m[i] = (uint8_t)(i * 131u ^ 0x5a);
    munmap(m, MEMFD_SIZE);
    int sigfd = daemon_signalfd();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (sigfd < 0 || ep < 0) {
        perror("connect-bench: epoll/signalfd");
        return 3;
    }
    int lfds[MAX_ADDRS];
    for (int i = 0; i < n_ls; i++) {
        int one = 1;
        lfds[i] = socket(ls[i].ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (lfds[i] < 0 || setsockopt(lfds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(lfds[i], (struct sockaddr *)&ls[i].ss, ls[i].len) < 0 || listen(lfds[i], 4096) < 0) {
            fprintf(stderr, "connect-bench: listen %s: %s\n", ls[i].text, strerror(errno));
            return 3;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev);
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = 1000};
    epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &sev);
    fprintf(stderr, "connect-bench: server listening on %d address(es)\n", n_ls);
    daemon_ready();
    unsigned long accepted = 0;
    for (;;) {
        struct epoll_event evs[256];
        int ne = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < ne; i++) {
            uint64_t d = evs[i].data.u64;
            if (d == 1000) {
                fprintf(stderr, "connect-bench: server stop, %lu connections served\n", accepted);
                return 0;
            }
            if (d < (uint64_t)n_ls) {
                for (int k = 0; k < 256; k++) {
                    int fd = accept4(lfds[d], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    accepted++;
                    struct sconn *c = calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    s_pump(c);
                }
                continue;
            }
            s_pump(evs[i].data.ptr);
        }
    }
}

/* ---- client side: rate and idle ---- */

enum r_phase { R_FREE, R_CONNECTING, R_WAIT_200, R_ECHO, R_HOLD };

struct rconn {
    int fd;
    uint32_t gen;
    enum r_phase phase;
    int64_t t_start, t_req, deadline;
    uint16_t head_len;
    uint16_t target;        /* index into the client's targets */
    uint32_t got;
    char head[256];
};

struct client {
    struct addr proxy, targets[MAX_ADDRS], srcs[MAX_ADDRS];
    int n_targets, n_srcs, next_target, next_src;
    char reqs[MAX_ADDRS][300];
    int req_len[MAX_ADDRS];
    int ep;
    struct rconn *cs;
    size_t n;
    size_t payload;
    uint8_t send_buf[1 + MAX_PAYLOAD];
    bool hold;              /* idle mode: keep the tunnel after the echo */
    int64_t timeout_us;
    /* counters */
    bool measuring;
    uint64_t done, held;
    uint64_t err_connect, err_status, err_closed, err_timeout, err_echo;
    uint32_t *lat, *txn;    /* µs */
    size_t n_lat, cap_lat;
    char first_error[160];
};

static void c_error(struct client *cl, uint64_t *ctr, const char *what, struct rconn *c)
{
    if (!cl->measuring && !cl->hold)
        return; /* warm-up */
    (*ctr)++;
    if (!cl->first_error[0]) {
        if (c && c->phase == R_WAIT_200 && c->head_len) {
            size_t l = c->head_len < 40 ? c->head_len : 40;
            char h[48];
            for (size_t i = 0; i < l; i++)
                h[i] = c->head[i] >= ' ' && c->head[i] < 0x7f ? c->head[i] : '.';
            h[l] = '\0';
            snprintf(cl->first_error, sizeof cl->first_error, "%s: %s", what, h);
        } else {
            snprintf(cl->first_error, sizeof cl->first_error, "%s%s%s", what, errno ? ": " : "",
                     errno ? strerror(errno) : "");
        }
    }
}

static void c_start(struct client *cl, struct rconn *c)
{
    int t = cl->next_target;
    cl->next_target = (cl->next_target + 1) % cl->n_targets;
    const struct addr *src = NULL;
    if (cl->n_srcs) {
        src = &cl->srcs[cl->next_src];
        cl->next_src = (cl->next_src + 1) % cl->n_srcs;
    }
    c->gen++;
    c->head_len = 0;
    c->got = 0;
    c->t_start = bench_now_us();
    c->deadline = c->t_start + cl->timeout_us;
    c->target = (uint16_t)t;
    c->fd = open_conn(&cl->proxy, src);
    if (c->fd < 0) {
        c->phase = R_FREE;
        c_error(cl, &cl->err_connect, "connect", NULL);
        return;
    }
    c->phase = R_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - cl->cs)};
    if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        c->phase = R_FREE;
        c_error(cl, &cl->err_connect, "epoll_ctl", NULL);
    }
}

static void c_close(struct rconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->phase = R_FREE;
}

static void record(struct client *cl, uint32_t lat, uint32_t txn)
{
    if (cl->n_lat == cl->cap_lat) {
        size_t nc = cl->cap_lat ? cl->cap_lat * 2 : 65536;
        uint32_t *a = realloc(cl->lat, nc * sizeof *a), *b;
        if (!a)
            return;
        cl->lat = a;
        b = realloc(cl->txn, nc * sizeof *b);
        if (!b)
            return;
        cl->txn = b;
        cl->cap_lat = nc;
    }
    cl->lat[cl->n_lat] = lat;
    cl->txn[cl->n_lat++] = txn;
}

/* Drive one connection as far as it goes. */
static void c_event(struct client *cl, struct rconn *c)
{
    errno = 0;
    if (c->phase == R_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            errno = err;
            c_error(cl, &cl->err_connect, "connect to the proxy", NULL);
            c_close(c);
            return;
        }
        int t = c->target;
        c->t_req = bench_now_us();
        ssize_t w = send(c->fd, cl->reqs[t], (size_t)cl->req_len[t], MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) /* not connected yet: wait for EPOLLOUT */
            return;
        if (w != cl->req_len[t]) {
            c_error(cl, &cl->err_closed, "send CONNECT", NULL);
            c_close(c);
            return;
        }
        c->phase = R_WAIT_200;
    }
    if (c->phase == R_WAIT_200) {
        for (;;) {
            ssize_t r = recv(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len, 0);
            if (r < 0 && errno == EAGAIN)
                return;
            if (r <= 0) {
                c_error(cl, &cl->err_closed, r == 0 ? "closed before the 200" : "error before the 200", c);
                c_close(c);
                return;
            }
            c->head_len = (uint16_t)(c->head_len + r);
            c->head[c->head_len] = '\0';
            char *e = memmem(c->head, c->head_len, "\r\n\r\n", 4);
            if (!e) {
                if (c->head_len == sizeof c->head - 1) {
                    c_error(cl, &cl->err_status, "response head too long", c);
                    c_close(c);
                    return;
                }
                continue;
            }
            /* nothing may follow the head: the server only talks after our payload */
            if ((size_t)(e + 4 - c->head) != c->head_len || !head_is_200(c->head, c->head_len)) {
                errno = 0;
                c_error(cl, &cl->err_status, "not a 200", c);
                c_close(c);
                return;
            }
            break;
        }
        c->t_req = bench_now_us() - c->t_req; /* now the CONNECT latency */
        size_t len = 1 + cl->payload;
        ssize_t w = send(c->fd, cl->send_buf, len, MSG_NOSIGNAL);
        if (w != (ssize_t)len) {
            c_error(cl, &cl->err_echo, "send payload", NULL);
            c_close(c);
            return;
        }
        c->phase = R_ECHO;
    }
    if (c->phase == R_ECHO || c->phase == R_HOLD) {
        uint8_t buf[MAX_PAYLOAD + 64];
        for (;;) {
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r < 0 && errno == EAGAIN)
                return;
            if (r <= 0 || c->phase == R_HOLD) {
                c_error(cl, r > 0 ? &cl->err_echo : &cl->err_closed,
                        r > 0 ? "unexpected bytes" : r == 0 ? "closed inside the tunnel" : "error inside the tunnel",
                        NULL);
                if (c->phase == R_HOLD)
                    cl->held--;
                c_close(c);
                return;
            }
            if (c->got + (size_t)r > cl->payload || memcmp(buf, cl->send_buf + 1 + c->got, (size_t)r) != 0) {
                errno = 0;
                c_error(cl, &cl->err_echo, "echo mismatch", NULL);
                c_close(c);
                return;
            }
            c->got += (uint32_t)r;
            if (c->got < cl->payload)
                continue;
            if (cl->hold) {
                c->phase = R_HOLD;
                cl->held++;
                continue; /* and watch for an unexpected close */
            }
            if (cl->measuring) {
                cl->done++;
                record(cl, (uint32_t)c->t_req, (uint32_t)(bench_now_us() - c->t_start));
            }
            c_close(c);
            return;
        }
    }
}

static int client_init(struct client *cl, const char *proxy, const char *targets, const char *srcs, size_t n,
                       size_t payload, int timeout_s)
{
    memset(cl, 0, sizeof *cl);
    cl->ep = -1;
    if (!proxy || parse_addr(proxy, &cl->proxy, true) < 0) {
        fprintf(stderr, "connect-bench: bad --proxy\n");
        return -1;
    }
    cl->n_targets = parse_list(targets, cl->targets, MAX_ADDRS, true);
    if (cl->n_targets <= 0)
        return -1;
    if (srcs) {
        cl->n_srcs = parse_list(srcs, cl->srcs, MAX_ADDRS, false);
        if (cl->n_srcs <= 0)
            return -1;
    }
    for (int i = 0; i < cl->n_targets; i++)
        cl->req_len[i] = build_connect(cl->reqs[i], sizeof cl->reqs[i], &cl->targets[i]);
    cl->payload = payload;
    cl->send_buf[0] = 'E';
    for (size_t i = 0; i < payload; i++)
        cl->send_buf[1 + i] = (uint8_t)('a' + i % 26);
    cl->n = n;
    cl->timeout_us = (int64_t)timeout_s * 1000000;
    bench_raise_nofile("connect-bench", n * 2 + 64);
    cl->ep = epoll_create1(EPOLL_CLOEXEC);
    cl->cs = calloc(n, sizeof *cl->cs);
    if (cl->ep < 0 || !cl->cs)
        return -1;
    for (size_t i = 0; i < n; i++)
        cl->cs[i].fd = -1;
    return 0;
}

static void client_free(struct client *cl)
{
    for (size_t i = 0; i < cl->n; i++)
        c_close(&cl->cs[i]);
    if (cl->ep >= 0)
        close(cl->ep);
    free(cl->cs);
    free(cl->lat);
    free(cl->txn);
}

static void client_poll(struct client *cl, int timeout_ms)
{
    struct epoll_event evs[512];
    int ne = epoll_wait(cl->ep, evs, 512, timeout_ms);
    for (int i = 0; i < ne; i++) {
        uint64_t d = evs[i].data.u64;
        struct rconn *c = &cl->cs[(uint32_t)d];
        if (c->phase == R_FREE || c->gen != (uint32_t)(d >> 32))
            continue;
        c_event(cl, c);
    }
}

static void client_expire(struct client *cl, int64_t now)
{
    for (size_t i = 0; i < cl->n; i++) {
        struct rconn *c = &cl->cs[i];
        if (c->phase != R_FREE && c->phase != R_HOLD && now > c->deadline) {
            errno = 0;
            c_error(cl, &cl->err_timeout, "timeout", NULL);
            c_close(c);
        }
    }
}

static int cmd_rate(const char *proxy, const char *targets, const char *srcs, size_t conc, double duration,
                    double warmup, size_t payload, pid_t ppid, pid_t spid, int timeout_s)
{
    struct client cl;
    if (client_init(&cl, proxy, targets, srcs, conc, payload, timeout_s) < 0)
        return 3;
    int64_t t0 = bench_now_us(), t_measure = t0 + (int64_t)(warmup * 1e6), t_end = t_measure + (int64_t)(duration * 1e6);
    int64_t next_expire = t0 + 200000;
    struct pstat p0 = {0}, s0 = {0};
    double g0 = 0;
    unsigned long long cb0[BENCH_MAX_CPUS], ct0[BENCH_MAX_CPUS], cb1[BENCH_MAX_CPUS], ct1[BENCH_MAX_CPUS];
    int ncpu = 0;
    char cpus[BENCH_MAX_CPUS * 5];
    for (;;) {
        int64_t now = bench_now_us();
        if (!cl.measuring && now >= t_measure) {
            cl.measuring = true;
            t_measure = now;
            t_end = now + (int64_t)(duration * 1e6);
            p0 = proc_read(ppid, false);
            s0 = proc_read(spid, false);
            g0 = bench_self_cpu_s();
            ncpu = bench_cpus_busy(cb0, ct0);
        }
        if (now >= t_end)
            break;
        for (size_t i = 0; i < conc; i++)
            if (cl.cs[i].phase == R_FREE)
                c_start(&cl, &cl.cs[i]);
        if (now >= next_expire) {
            client_expire(&cl, now);
            next_expire = now + 200000;
        }
        client_poll(&cl, 5);
    }
    int64_t t1 = bench_now_us();
    struct pstat p1 = proc_read(ppid, false), s1 = proc_read(spid, false);
    double g1 = bench_self_cpu_s();
    if (bench_cpus_busy(cb1, ct1) != ncpu)
        ncpu = 0;
    bench_cpus_busy_fmt(cpus, sizeof cpus, ncpu, cb0, ct0, cb1, ct1);
    for (size_t i = 0; i < conc; i++)
        c_close(&cl.cs[i]);
    double secs = (double)(t1 - t_measure) / 1e6;
    qsort(cl.lat, cl.n_lat, sizeof *cl.lat, bench_cmp_u32);
    qsort(cl.txn, cl.n_lat, sizeof *cl.txn, bench_cmp_u32);
    uint64_t errors = cl.err_connect + cl.err_status + cl.err_closed + cl.err_timeout + cl.err_echo;
    double pcpu = p0.ok && p1.ok ? (p1.cpu_s - p0.cpu_s) : -1, scpu = s0.ok && s1.ok ? (s1.cpu_s - s0.cpu_s) : -1;
    printf("mode=rate concurrency=%zu payload=%zu duration_s=%.2f tunnels=%llu rate=%.0f errors=%llu "
           "err_connect=%llu err_status=%llu err_closed=%llu err_timeout=%llu err_echo=%llu "
           "lat_p50_us=%u lat_p90_us=%u lat_p99_us=%u lat_max_us=%u txn_p50_us=%u txn_p99_us=%u "
           "gen_cpu_pct=%.0f proxy_cpu_pct=%.0f server_cpu_pct=%.0f proxy_cpu_us_per_tunnel=%.1f cpu_busy_pct=%s first_error=\"%s\"\n",
           conc, payload, secs, (unsigned long long)cl.done, (double)cl.done / secs, (unsigned long long)errors,
           (unsigned long long)cl.err_connect, (unsigned long long)cl.err_status, (unsigned long long)cl.err_closed,
           (unsigned long long)cl.err_timeout, (unsigned long long)cl.err_echo, bench_pct(cl.lat, cl.n_lat, 0.5),
           bench_pct(cl.lat, cl.n_lat, 0.9), bench_pct(cl.lat, cl.n_lat, 0.99), cl.n_lat ? cl.lat[cl.n_lat - 1] : 0,
           bench_pct(cl.txn, cl.n_lat, 0.5), bench_pct(cl.txn, cl.n_lat, 0.99), 100.0 * (g1 - g0) / secs,
           pcpu < 0 ? -1.0 : 100.0 * pcpu / secs, scpu < 0 ? -1.0 : 100.0 * scpu / secs,
           pcpu < 0 || !cl.done ? -1.0 : pcpu * 1e6 / (double)cl.done, cpus, cl.first_error[0] ? cl.first_error : "-");
    fflush(stdout);
    client_free(&cl);
    return errors || !cl.done ? 1 : 0;
}

static int cmd_idle(const char *proxy, const char *targets, const char *srcs, size_t n, pid_t ppid, int settle_ms,
                    int timeout_s)
{
    struct client cl;
    if (ppid <= 0) {
        fprintf(stderr, "connect-bench: idle needs --pid PROXYPID\n");
        return 64;
    }
    if (client_init(&cl, proxy, targets, srcs, n, 1, timeout_s) < 0)
        return 3;
    cl.hold = true;
    struct pstat before = proc_read(ppid, true);
    if (!before.ok) {
        fprintf(stderr, "connect-bench: cannot read /proc/%d\n", (int)ppid);
        client_free(&cl);
        return 3;
    }
    int64_t t0 = bench_now_us(), deadline = t0 + cl.timeout_us;
    /* open in batches of 100 so the listen backlog never overflows */
    size_t started = 0;
    while (cl.held < n && bench_now_us() < deadline) {
        size_t inflight = 0;
        for (size_t i = 0; i < started; i++)
            inflight += cl.cs[i].phase != R_FREE && cl.cs[i].phase != R_HOLD;
        for (size_t i = started; i < n && inflight < 100; i++, started++, inflight++)
            c_start(&cl, &cl.cs[i]);
        client_poll(&cl, 10);
        client_expire(&cl, bench_now_us());
        uint64_t errs = cl.err_connect + cl.err_status + cl.err_closed + cl.err_timeout + cl.err_echo;
        if (errs)
            break;
    }
    int64_t t_open = bench_now_us();
    /* settle, still watching the tunnels */
    for (int64_t until = bench_now_us() + (int64_t)settle_ms * 1000; bench_now_us() < until;)
        client_poll(&cl, 10);
    struct pstat open = proc_read(ppid, true);
    uint64_t held = cl.held;
    for (size_t i = 0; i < n; i++)
        c_close(&cl.cs[i]);
    sleep_ms(settle_ms);
    struct pstat after = proc_read(ppid, true);
    uint64_t errors = cl.err_connect + cl.err_status + cl.err_closed + cl.err_timeout + cl.err_echo;
    long delta = open.rss_kb - before.rss_kb;
    printf("mode=idle tunnels=%zu held=%llu errors=%llu open_ms=%lld rss_before_kb=%ld rss_open_kb=%ld "
           "rss_after_kb=%ld hwm_kb=%ld delta_kb=%ld per_tunnel_bytes=%.0f fds_before=%ld fds_open=%ld "
           "fds_per_tunnel=%.1f first_error=\"%s\"\n",
           n, (unsigned long long)held, (unsigned long long)errors, (long long)((t_open - t0) / 1000), before.rss_kb,
           open.rss_kb, after.rss_kb, open.hwm_kb, delta, held ? (double)delta * 1024.0 / (double)held : 0.0,
           before.fds, open.fds, held ? (double)(open.fds - before.fds) / (double)held : 0.0,
           cl.first_error[0] ? cl.first_error : "-");
    fflush(stdout);
    client_free(&cl);
    return held == n && !errors ? 0 : 1;
}

/* ---- bulk ---- */

static int blocking_tunnel(const struct addr *proxy, const struct addr *target, int timeout_s, char *err, size_t errlen)
{
    int fd = socket(proxy->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)&proxy->ss, proxy->len) < 0) {
        snprintf(err, errlen, "connect %s: %s", proxy->text, strerror(errno));
        close(fd);
        return -1;
    }
    char req[300], head[512];
    int rl = build_connect(req, sizeof req, target);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
        snprintf(err, errlen, "send CONNECT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    size_t hl = 0;
    for (;;) { /* byte by byte: what follows the head is tunnel data */
        ssize_t r = recv(fd, head + hl, 1, 0);
        if (r <= 0) {
            snprintf(err, errlen, "no 200: %s", r == 0 ? "closed" : strerror(errno));
            close(fd);
            return -1;
        }
        hl++;
        if (hl >= 4 && !memcmp(head + hl - 4, "\r\n\r\n", 4))
            break;
        if (hl == sizeof head) {
            snprintf(err, errlen, "response head too long");
            close(fd);
            return -1;
        }
    }
    if (!head_is_200(head, hl)) {
        snprintf(err, errlen, "not a 200: %.40s", head);
        close(fd);
        return -1;
    }
    return fd;
}

static int cmd_bulk(const char *proxy, const char *target, uint64_t bytes, bool up, pid_t ppid, pid_t spid,
                    int timeout_s)
{
    struct addr pa, ta;
    char err[200] = "";
    if (!proxy || parse_addr(proxy, &pa, true) < 0 || !target || parse_addr(target, &ta, true) < 0) {
        fprintf(stderr, "connect-bench: bad --proxy or --target\n");
        return 64;
    }
    int fd = blocking_tunnel(&pa, &ta, timeout_s, err, sizeof err);
    if (fd < 0) {
        printf("mode=bulk direction=%s bytes=%llu ok=0 error=\"%s\"\n", up ? "up" : "down", (unsigned long long)bytes, err);
        return 1;
    }
    int memfd = -1;
    if (up) {
        memfd = memfd_create("connect-bench", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, MEMFD_SIZE) < 0) {
            perror("connect-bench: memfd");
            return 3;
        }
    }
    unsigned long long cb0[BENCH_MAX_CPUS], ct0[BENCH_MAX_CPUS], cb1[BENCH_MAX_CPUS], ct1[BENCH_MAX_CPUS];
    char cpus[BENCH_MAX_CPUS * 5];
    int ncpu = bench_cpus_busy(cb0, ct0);
    struct pstat p0 = proc_read(ppid, false), s0 = proc_read(spid, false);
    double g0 = bench_self_cpu_s();
    int64_t t0 = bench_now_us();
    uint64_t moved = 0;
    bool ok = false;
    if (!up) {
        uint8_t cmd[9] = {'D'};
        for (int i = 0; i < 8; i++)
            cmd[1 + i] = (uint8_t)(bytes >> (56 - 8 * i));
        if (send(fd, cmd, sizeof cmd, MSG_NOSIGNAL) != (ssize_t)sizeof cmd) {
            snprintf(err, sizeof err, "send command: %s", strerror(errno));
        } else {
            for (;;) {
                ssize_t r = recv(fd, NULL, 1u << 22, MSG_TRUNC);
                if (r > 0) {
                    moved += (uint64_t)r;
                    continue;
                }
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0)
                    snprintf(err, sizeof err, "recv: %s", strerror(errno));
                break;
            }
            ok = moved == bytes;
            if (!ok && !err[0])
                snprintf(err, sizeof err, "got %llu bytes", (unsigned long long)moved);
        }
    } else {
        uint8_t cmd[9] = {'U'};
        for (int i = 0; i < 8; i++)
            cmd[1 + i] = (uint8_t)(bytes >> (56 - 8 * i));
        if (send(fd, cmd, sizeof cmd, MSG_NOSIGNAL) != (ssize_t)sizeof cmd) {
            snprintf(err, sizeof err, "send command: %s", strerror(errno));
        } else {
            while (moved < bytes) {
                off_t off = (off_t)(moved % MEMFD_SIZE);
                size_t chunk = MEMFD_SIZE - (size_t)off;
                if (chunk > bytes - moved)
                    chunk = (size_t)(bytes - moved);
                ssize_t w = sendfile(fd, memfd, &off, chunk);
                if (w <= 0) {
                    if (w < 0 && errno == EINTR)
                        continue;
                    snprintf(err, sizeof err, "sendfile: %s", w < 0 ? strerror(errno) : "0");
                    break;
                }
                moved += (uint64_t)w;
            }
            uint8_t be[8];
            size_t got = 0;
            while (moved == bytes && got < sizeof be) {
                ssize_t r = recv(fd, be + got, sizeof be - got, 0);
                if (r <= 0) {
                    snprintf(err, sizeof err, "no count from the server: %s", r == 0 ? "closed" : strerror(errno));
                    break;
                }
                got += (size_t)r;
            }
            if (got == sizeof be) {
                uint64_t cnt = 0;
                for (int i = 0; i < 8; i++)
                    cnt = cnt << 8 | be[i];
                ok = cnt == bytes;
                if (!ok)
                    snprintf(err, sizeof err, "server counted %llu bytes", (unsigned long long)cnt);
            }
        }
    }
    int64_t t1 = bench_now_us();
    struct pstat p1 = proc_read(ppid, false), s1 = proc_read(spid, false);
    double g1 = bench_self_cpu_s();
    if (bench_cpus_busy(cb1, ct1) != ncpu)
        ncpu = 0;
    bench_cpus_busy_fmt(cpus, sizeof cpus, ncpu, cb0, ct0, cb1, ct1);
    close(fd);
    if (memfd >= 0)
        close(memfd);
    double secs = (double)(t1 - t0) / 1e6;
    printf("mode=bulk direction=%s bytes=%llu ok=%d secs=%.3f mib_s=%.0f gen_cpu_pct=%.0f proxy_cpu_pct=%.0f "
           "server_cpu_pct=%.0f cpu_busy_pct=%s error=\"%s\"\n",
           up ? "up" : "down", (unsigned long long)moved, ok, secs, (double)moved / 1048576.0 / secs,
           100.0 * (g1 - g0) / secs, p0.ok && p1.ok ? 100.0 * (p1.cpu_s - p0.cpu_s) / secs : -1.0,
           s0.ok && s1.ok ? 100.0 * (s1.cpu_s - s0.cpu_s) / secs : -1.0, cpus, err[0] ? err : "-");
    fflush(stdout);
    return ok ? 0 : 1;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: connect-bench server --listen IP:PORT [--listen IP:PORT ...]\n"
            "       connect-bench rate --proxy IP:PORT --target IP:PORT[,...] [-c CONC] [--duration S] [--warmup S]\n"
            "                          [--payload B] [--src IP[,...]] [--pid PROXYPID] [--server-pid PID] [--timeout S]\n"
            "       connect-bench bulk --proxy IP:PORT --target IP:PORT --bytes N [--direction down|up]\n"
            "                          [--pid PROXYPID] [--server-pid PID] [--timeout S]\n"
            "       connect-bench idle --proxy IP:PORT --target IP:PORT[,...] [-n N] --pid PROXYPID [--settle-ms MS]\n"
            "                          [--src IP[,...]] [--timeout S]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"proxy", required_argument, NULL, 'p'},
        {"target", required_argument, NULL, 'T'},   {"src", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"payload", required_argument, NULL, 'P'},  {"pid", required_argument, NULL, 'x'},
        {"server-pid", required_argument, NULL, 'X'}, {"timeout", required_argument, NULL, 't'},
        {"bytes", required_argument, NULL, 'b'},    {"direction", required_argument, NULL, 'D'},
        {"settle-ms", required_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct addr ls[MAX_ADDRS];
    int n_ls = 0, timeout_s = 10, settle_ms = 500, c;
    const char *proxy = NULL, *target = NULL, *srcs = NULL, *dir = "down";
    double duration = 5, warmup = 1;
    size_t conc = 64, payload = 64, n = 1000;
    uint64_t bytes = 1ull << 30;
    pid_t ppid = 0, spid = 0;
    if (argc < 2) {
        usage(stderr);
        return 64;
    }
    const char *cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "l:p:T:s:d:w:P:x:X:t:b:D:S:c:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (n_ls == MAX_ADDRS || parse_addr(optarg, &ls[n_ls], true) < 0) {
                fprintf(stderr, "connect-bench: bad --listen %s\n", optarg);
                return 64;
            }
            n_ls++;
            break;
        case 'p': proxy = optarg; break;
        case 'T': target = optarg; break;
        case 's': srcs = optarg; break;
        case 'd': duration = strtod(optarg, NULL); break;
        case 'w': warmup = strtod(optarg, NULL); break;
        case 'P': payload = strtoull(optarg, NULL, 10); break;
        case 'x': ppid = (pid_t)atoi(optarg); break;
        case 'X': spid = (pid_t)atoi(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        case 'b': bytes = strtoull(optarg, NULL, 10); break;
        case 'D': dir = optarg; break;
        case 'S': settle_ms = atoi(optarg); break;
        case 'c': conc = strtoull(optarg, NULL, 10); break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* bounded in count and time */
    if (optind != argc || timeout_s <= 0 || timeout_s > 600 || duration <= 0 || duration > 600 || warmup < 0 ||
        warmup > 60 || payload == 0 || payload > MAX_PAYLOAD || conc == 0 || conc > 20000 || n == 0 || n > 20000 ||
        settle_ms < 0 || settle_ms > 10000 || bytes == 0 || bytes > (64ull << 30)) {
        usage(stderr);
        return 64;
    }
    if (!strcmp(cmd, "server") && n_ls > 0)
        return cmd_server(ls, n_ls);
    if (!strcmp(cmd, "rate") && proxy && target)
        return cmd_rate(proxy, target, srcs, conc, duration, warmup, payload, ppid, spid, timeout_s);
    if (!strcmp(cmd, "bulk") && proxy && target && (!strcmp(dir, "down") || !strcmp(dir, "up")))
        return cmd_bulk(proxy, target, bytes, !strcmp(dir, "up"), ppid, spid, timeout_s);
    if (!strcmp(cmd, "idle") && proxy && target)
        return cmd_idle(proxy, target, srcs, n, ppid, settle_ms, timeout_s);
    usage(stderr);
    return 64;
}
