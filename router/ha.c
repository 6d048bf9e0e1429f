/* HA sync with the peer node: JSON datagrams over UDP. See ha.h for the wire format. */
#include "ha.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ztp/log.h"

bool ha_name_ok(const char *s, size_t len)
{
    if (!s || len == 0 || len >= HA_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c <= ' ' || c > '~' || c == '"' || c == '\\' || c == '=')
            return false;
    }
    return true;
}

static bool ha_opt_name_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n == 0 || (n < cap && ha_name_ok(s, n));
}

static bool ifname_ok(const char *s, size_t len)
{
    if (len == 0 || len >= HA_IFNAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ':')
            return false;
    return true;
}

static bool ifname_opt_ok(const char *s)
{
    size_t n = strnlen(s, HA_IFNAME_MAX);
    return n == 0 || (n < HA_IFNAME_MAX && ifname_ok(s, n));
}

static bool lease_ok(const char *s, size_t len)
{
    if (len == 0 || len >= HA_LEASE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

static bool lease_opt_ok(const char *s)
{
    size_t n = strnlen(s, HA_LEASE_MAX);
    return n == 0 || (n < HA_LEASE_MAX && lease_ok(s, n));
}

ssize_t ha_encode(const struct ha_msg *m, char *buf, size_t cap)
{
    if (!ha_name_ok(m->router, strnlen(m->router, HA_NAME_MAX)) ||
        !ha_name_ok(m->node, strnlen(m->node, HA_NAME_MAX)) || m->n > HA_MAX_ENTRIES ||
        m->seq > (uint64_t)INT64_MAX)
        return -1;
    json_t *arr = json_array();
    if (!arr)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        const struct ha_entry *e = &m->e[i];
        char a[INET_ADDRSTRLEN];
        if (!ha_name_ok(e->netif, strnlen(e->netif, HA_NAME_MAX)) || !ha_opt_name_ok(e->device, HA_NAME_MAX) ||
            !ifname_opt_ok(e->ifname) || !lease_opt_ok(e->lease) || e->port == 0 ||
            !inet_ntop(AF_INET, &e->addr, a, sizeof a)) {
            json_decref(arr);
            return -1;
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I}", "network-interface", e->netif,
                              "device-interface", e->device, "ifname", e->ifname, "address", a, "port",
                              (int)e->port, "lease-state", e->lease, "lease-remaining",
                              (json_int_t)e->lease_remaining, "age", (json_int_t)e->age);
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return -1;
        }
    }
    json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:o}", "v", HA_VERSION, "type", "ha.sync", "router",
                             m->router, "node", m->node, "instance", (json_int_t)m->instance, "seq",
                             (json_int_t)m->seq, "entries", arr);
    if (!root)
        return -1; /* json_pack steals `arr` even on failure ("o") */
    size_t need = json_dumpb(root, buf, cap, JSON_COMPACT);
    json_decref(root);
    if (need == 0 || need > cap)
        return -1;
    return (ssize_t)need;
}

/* Copy a JSON string member into dst (cap bytes incl. NUL). `required`: missing is an error. */
static int get_str(json_t *o, const char *key, char *dst, size_t cap, bool required, bool (*ok)(const char *, size_t))
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v)
        return required ? -1 : 0;
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 && !required)
        return 0;
    if (n >= cap || !ok(s, n))
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_integer(v))
        return -1;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}


static int decode_entry(json_t *o, struct ha_entry *e, const char **why)
{
    json_int_t x;
    char a[INET_ADDRSTRLEN + 1];
    memset(e, 0, sizeof *e);
    if (!json_is_object(o))
        return *why = "entry is not an object", -1;
    if (get_str(o, "network-interface", e->netif, sizeof e->netif, true, ha_name_ok) < 0)
        return *why = "bad network-interface", -1;
    if (get_str(o, "device-interface", e->device, sizeof e->device, false, ha_name_ok) < 0)
        return *why = "bad device-interface", -1;
    if (get_str(o, "ifname", e->ifname, sizeof e->ifname, false, ifname_ok) < 0)
        return *why = "bad ifname", -1;
    if (get_str(o, "lease-state", e->lease, sizeof e->lease, false, lease_ok) < 0)
        return *why = "bad lease-state", -1;
    json_t *av = json_object_get(o, "address");
    if (!json_is_string(av) || json_string_length(av) >= sizeof a)
        return *why = "bad address", -1;
    memcpy(a, json_string_value(av), json_string_length(av) + 1);
    if (inet_pton(AF_INET, a, &e->addr) != 1 || e->addr.s_addr == htonl(INADDR_ANY))
        return *why = "bad address", -1;
    if (get_int(o, "port", 1, 65535, &x) < 0)
        return *why = "bad port", -1;
    e->port = (uint16_t)x;
    if (get_int(o, "lease-remaining", 0, HA_MAX_LEASE_S, &x) < 0)
        return *why = "bad lease-remaining", -1;
    e->lease_remaining = (uint32_t)x;
    if (get_int(o, "age", 0, INT64_MAX, &x) < 0)
        return *why = "bad age", -1;
    e->age = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    return 0;
}

int ha_decode(const void *buf, size_t len, struct ha_msg *out, const char **why)
{
    json_error_t jerr;
    json_int_t x;
    const char *dummy;
    int rc = -1;

    if (!why)
        why = &dummy;
    memset(out, 0, sizeof *out);
    if (len > HA_MAX_DATAGRAM)
        return *why = "oversize", -1;
    if (len == 0)
        return *why = "empty", -1;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return *why = "not JSON", -1;
    if (!json_is_object(root)) {
        *why = "not a JSON object";
        goto out;
    }
    if (get_int(root, "v", 0, INT32_MAX, &x) < 0) {
        *why = "missing version";
        goto out;
    }
    if (x != HA_VERSION) {
        *why = "unsupported version";
        goto out;
    }
    json_t *t = json_object_get(root, "type");
    if (!json_is_string(t) || strcmp(json_string_value(t), "ha.sync") != 0) {
        *why = "not an ha.sync message";
        goto out;
    }
    if (get_str(root, "router", out->router, sizeof out->router, true, ha_name_ok) < 0) {
        *why = "missing or bad router";
        goto out;
    }
    if (get_str(root, "node", out->node, sizeof out->node, true, ha_name_ok) < 0) {
        *why = "missing or bad node";
        goto out;
    }
    if (get_int(root, "instance", 0, UINT32_MAX, &x) < 0) {
        *why = "missing or bad instance";
        goto out;
    }
    out->instance = (uint32_t)x;
    if (get_int(root, "seq", 0, INT64_MAX, &x) < 0) {
        *why = "missing or bad seq";
        goto out;
    }
    out->seq = (uint64_t)x;
    json_t *arr = json_object_get(root, "entries");
    if (!json_is_array(arr)) {
        *why = "missing entries";
        goto out;
    }
    if (json_array_size(arr) > HA_MAX_ENTRIES) {
        *why = "too many entries";
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (decode_entry(json_array_get(arr, i), &out->e[i], why) < 0)
            goto out;
    out->n = json_array_size(arr);
    rc = 0;
out:
    json_decref(root);
    if (rc < 0) {
        /* Do not hand back half-filled names on error. */
        char r[HA_NAME_MAX], n[HA_NAME_MAX];
        memcpy(r, out->router, sizeof r);
        memcpy(n, out->node, sizeof n);
        memset(out, 0, sizeof *out);
        memcpy(out->router, r, sizeof r);
        memcpy(out->node, n, sizeof n);
    }
    return rc;
}

int ha_parse_endpoint(const char *s, struct sockaddr_in *sa)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || (size_t)(colon - s) >= sizeof ip || colon == s)
        return -1;
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
        return -1;
    const char *p = colon + 1;
    if (*p < '1' || *p > '9' || strlen(p) > 5)
        return -1;
    unsigned long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return -1;
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

void ha_init(struct ha *h, const char *router, const char *node, unsigned timeout_ms)
{
    memset(h, 0, sizeof *h);
    h->fd = -1;
    snprintf(h->router, sizeof h->router, "%s", router ? router : "");
    snprintf(h->node, sizeof h->node, "%s", node ? node : "");
    h->timeout_ms = timeout_ms ? timeout_ms : HA_DEFAULT_TIMEOUT_MS;
    h->heartbeat_ms = h->timeout_ms / 3 < HA_HEARTBEAT_MS ? h->timeout_ms / 3 : HA_HEARTBEAT_MS;
    if (h->heartbeat_ms < HA_HEARTBEAT_MIN_MS)
        h->heartbeat_ms = HA_HEARTBEAT_MIN_MS;
    if (getrandom(&h->instance, sizeof h->instance, 0) != (ssize_t)sizeof h->instance)
        h->instance = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
}

int ha_open(struct ha *h, const struct sockaddr_in *listen, const struct sockaddr_in *peer)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)listen, sizeof *listen) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    h->fd = fd;
    h->own_fd = true;
    h->listen_sa = *listen;
    h->peer_sa = *peer;
    h->have_peer_sa = true;
    return 0;
}

void ha_attach_fd(struct ha *h, int fd)
{
    h->fd = fd;
    h->own_fd = false;
    h->have_peer_sa = false;
}

void ha_close(struct ha *h)
{
    if (h->fd >= 0 && h->own_fd)
        close(h->fd);
    h->fd = -1;
}

bool ha_send_due(const struct ha *h, uint64_t now_ms) { return h->fd >= 0 && now_ms >= h->next_send_ms; }

int ha_send(struct ha *h, const struct ha_entry *e, size_t n, uint64_t now_ms)
{
    static struct ha_msg m; /* large: keep it off the stack; single-threaded daemon */
    char buf[HA_MAX_DATAGRAM];

    if (h->fd < 0)
        return 0;
    h->next_send_ms = now_ms + h->heartbeat_ms;
    memset(&m, 0, sizeof m);
    snprintf(m.router, sizeof m.router, "%s", h->router);
    snprintf(m.node, sizeof m.node, "%s", h->node);
    m.instance = h->instance;
    m.seq = ++h->seq;
    m.n = n > HA_MAX_ENTRIES ? HA_MAX_ENTRIES : n;
    if (n > HA_MAX_ENTRIES)
        log_warn("ha.truncated", "entries=%zu max=%d", n, HA_MAX_ENTRIES);
    if (m.n)
        memcpy(m.e, e, m.n * sizeof *e);
    ssize_t len = ha_encode(&m, buf, sizeof buf);
    if (len < 0)
        fatalx("ha.encode", "entries=%zu reason=\"cannot encode local entries\"", m.n);
    ssize_t w = h->have_peer_sa ? sendto(h->fd, buf, (size_t)len, 0, (const struct sockaddr *)&h->peer_sa,
                                         sizeof h->peer_sa)
                                : send(h->fd, buf, (size_t)len, 0);
    if (w < 0) {
        int err = errno;
        h->send_errors++;
        log_debug("ha.send_error", "seq=%llu error=\"%s\"", (unsigned long long)m.seq, strerror(err));
        return -err;
    }
    h->sent++;
    log_debug("ha.sent", "seq=%llu entries=%zu bytes=%zd", (unsigned long long)m.seq, m.n, len);
    return 0;
}

int ha_accept(struct ha *h, const struct ha_msg *m, uint64_t now_ms, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (strcmp(m->router, h->router) != 0)
        return *why = "wrong router", -1;
    if (strcmp(m->node, h->node) == 0)
        return *why = "own node name", -1;
    if (h->expect_peer[0] && strcmp(m->node, h->expect_peer) != 0)
        return *why = "not the peer node", -1;
    if (h->peer.known) {
        if (strcmp(h->peer.node, m->node) != 0)
            return *why = "another peer node is active", -1;
        if (h->peer.instance == m->instance && m->seq <= h->peer.seq)
            return *why = "stale sequence number", -1;
    }
    h->peer.known = true;
    snprintf(h->peer.node, sizeof h->peer.node, "%s", m->node);
    h->peer.instance = m->instance;
    h->peer.seq = m->seq;
    h->peer.seen_at_ms = now_ms;
    h->peer.datagrams++;
    return 0;
}

int ha_receive(struct ha *h, struct ha_msg *out, uint64_t now_ms)
{
    static char buf[HA_MAX_DATAGRAM + 1];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    char src[INET_ADDRSTRLEN + 8] = "local";
    const char *why = NULL;

    memset(&from, 0, sizeof from);
    out->router[0] = out->node[0] = '\0';
    out->n = 0;
    ssize_t r = recvfrom(h->fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &flen);
    if (r < 0)
        return -errno;
    if (flen >= sizeof(sa_family_t) && from.sin_family == AF_INET) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, a, sizeof a);
        snprintf(src, sizeof src, "%s:%u", a, ntohs(from.sin_port));
    }
    if ((size_t)r > HA_MAX_DATAGRAM) {
        why = "oversize";
    } else if (ha_decode(buf, (size_t)r, out, &why) == 0 && ha_accept(h, out, now_ms, &why) == 0) {
        log_debug("ha.received", "from=%s peer=%s seq=%llu entries=%zu", src, out->node,
                  (unsigned long long)out->seq, out->n);
        return 1;
    }
    h->peer.dropped++;
    char q[160], rq[80], nq[80];
    size_t shown = (size_t)r > HA_MAX_DATAGRAM ? HA_MAX_DATAGRAM : (size_t)r;
    log_warn("ha.dropped", "from=%s reason=\"%s\" bytes=%zd router=%s node=%s head=%s", src, why, r,
             log_quote(rq, sizeof rq, out->router, strnlen(out->router, sizeof out->router)),
             log_quote(nq, sizeof nq, out->node, strnlen(out->node, sizeof out->node)),
             log_quote(q, sizeof q, buf, shown > 48 ? 48 : shown));
    return 0;
}

bool ha_peer_timed_out(struct ha *h, uint64_t now_ms)
{
    if (!h->peer.known)
        return false;
    if (now_ms - h->peer.seen_at_ms < (uint64_t)h->timeout_ms)
        return false;
    h->peer.known = false;
    return true;
}

int64_t ha_next_timeout_ms(const struct ha *h, uint64_t now_ms)
{
    int64_t t = -1;
    if (h->fd >= 0)
        t = h->next_send_ms > now_ms ? (int64_t)(h->next_send_ms - now_ms) : 0;
    if (h->peer.known) {
        uint64_t dl = h->peer.seen_at_ms + (uint64_t)h->timeout_ms;
        int64_t p = dl > now_ms ? (int64_t)(dl - now_ms) : 0;
        if (t < 0 || p < t)
            t = p;
    }
    return t;
}
