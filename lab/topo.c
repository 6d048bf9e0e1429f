/* Lab topology through rtnetlink (libmnl) and plain syscalls: see topo.h. */
#include "topo.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ztp/daemon.h"
#include "ztp/log.h"
#include "ztp/util.h"

#define NL_BUF 8192
#define NL_DUMP_BUF 32768
#define PATH_CAP 512

/* ---- names ------------------------------------------------------------------------------------ */

static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

int topo_runid_new(char *out)
{
    unsigned char r[6];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    memcpy(out, TOPO_LAB_PREFIX, 2);
    out[2] = (char)('a' + r[0] % 26);
    for (int i = 1; i < 6; i++)
        out[2 + i] = b36[r[i] % 36];
    out[TOPO_RUNID_LEN] = '\0';
    return 0;
}

static bool is_b36(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* The first TOPO_RUNID_LEN chars of s form a run id (s may continue). */
static bool runid_prefix(const char *s)
{
    if (strncmp(s, TOPO_LAB_PREFIX, 2) != 0)
        return false;
    if (!(s[2] >= 'a' && s[2] <= 'z'))
        return false;
    for (int i = 3; i < TOPO_RUNID_LEN; i++)
        if (!is_b36(s[i]))
            return false;
    return true;
}

bool topo_runid_valid(const char *s)
{
    return s && strlen(s) == TOPO_RUNID_LEN && runid_prefix(s);
}

bool topo_host_valid(const char *s)
{
    if (!s || !*s || strlen(s) > TOPO_HOST_MAX || !is_b36(s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!is_b36(*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

bool topo_ifname_valid(const char *s)
{
    if (!s || !*s || strlen(s) > TOPO_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p == ':' || isspace(*p) || *p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

int topo_nsname(char *dst, size_t cap, const char *runid, const char *host)
{
    if (!topo_runid_valid(runid) || !topo_host_valid(host))
        return -EINVAL;
    int n = snprintf(dst, cap, "%s-%s", runid, host);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return n;
}

bool topo_nsname_split(const char *nsname, char *runid, const char **host)
{
    if (!nsname || strlen(nsname) < TOPO_RUNID_LEN + 2 || !runid_prefix(nsname) ||
        nsname[TOPO_RUNID_LEN] != '-' || !topo_host_valid(nsname + TOPO_RUNID_LEN + 1))
        return false;
    if (runid) {
        memcpy(runid, nsname, TOPO_RUNID_LEN);
        runid[TOPO_RUNID_LEN] = '\0';
    }
    if (host)
        *host = nsname + TOPO_RUNID_LEN + 1;
    return true;
}

int topo_parse_cidr(const char *s, struct in_addr *addr, unsigned *prefixlen)
{
    char a[INET_ADDRSTRLEN];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t alen = slash ? (size_t)(slash - s) : (s ? strlen(s) : 0);
    if (!s || alen == 0 || alen >= sizeof a)
        return -EINVAL;
    memcpy(a, s, alen);
    a[alen] = '\0';
    if (inet_pton(AF_INET, a, addr) != 1)
        return -EINVAL;
    unsigned len = 32;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 2)
            return -EINVAL;
        len = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            len = len * 10 + (unsigned)(*p - '0');
        }
        if (len > 32)
            return -EINVAL;
    }
    *prefixlen = len;
    return 0;
}

int topo_parse_mac(const char *s, unsigned char mac[6])
{
    if (!s || strlen(s) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[i * 3]), lo = hex_digit(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
            return -EINVAL;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* ---- directories ------------------------------------------------------------------------------ */

static char g_netns_dir[256] = TOPO_NETNS_DIR;
static char g_etc_dir[256] = TOPO_ETC_DIR;
static char g_run_dir[256] = TOPO_RUN_DIR;

void topo_set_dirs(const char *netns_dir, const char *etc_dir, const char *run_dir)
{
    if (netns_dir)
        snprintf(g_netns_dir, sizeof g_netns_dir, "%s", netns_dir);
    if (etc_dir)
        snprintf(g_etc_dir, sizeof g_etc_dir, "%s", etc_dir);
    if (run_dir)
        snprintf(g_run_dir, sizeof g_run_dir, "%s", run_dir);
}

const char *topo_netns_dir(void)
{
    return g_netns_dir;
}

const char *topo_etc_dir(void)
{
    return g_etc_dir;
}

const char *topo_run_dir(void)
{
    return g_run_dir;
}

/* ---- the context ------------------------------------------------------------------------------ */

struct nlsock {
    char ns[TOPO_NSNAME_MAX + 1]; /* "" = the caller's own namespace */
    struct mnl_socket *nl;
    unsigned portid;
};

struct topo {
    char runid[TOPO_RUNID_LEN + 1];
    char label[TOPO_LABEL_MAX + 1];
    char created[32];
    bool keep;
    bool record;
    pid_t pid;
    unsigned long long pid_start;
    char err[TOPO_ERR_MAX];
    struct nlsock *socks;
    size_t nsocks;
    char (*hosts)[TOPO_HOST_MAX + 1]; /* namespaces this context created, for the record */
    size_t nhosts;
    unsigned port_seq;
    unsigned seq;
};

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Record the failure "WHAT: strerror(-rc)[ (kernel: EXT)]" and return rc. */
static int failx(struct topo *t, int rc, const char *ext, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int failx(struct topo *t, int rc, const char *ext, const char *fmt, ...)
{
    char what[TOPO_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int n;
    if (ext && *ext)
        n = snprintf(t->err, sizeof t->err, "%s: %s (kernel: %s)", what, strerror(-rc), ext);
    else
        n = snprintf(t->err, sizeof t->err, "%s: %s", what, strerror(-rc));
    if (n < 0)
        t->err[0] = '\0';
    log_debug("topo.error", "runid=%s error=\"%s\"", t->runid, t->err);
    return rc;
}
#define fail(t, rc, ...) failx((t), (rc), NULL, __VA_ARGS__)

const char *topo_runid(const struct topo *t)
{
    return t->runid;
}

const char *topo_err(const struct topo *t)
{
    return t->err;
}

int topo_host_ns(const struct topo *t, const char *host, char *dst, size_t cap)
{
    return topo_nsname(dst, cap, t->runid, host);
}

/* ---- entering a network namespace for one step ------------------------------------------------ */

/* Save the calling thread's network namespace and switch it to `target_fd`. */
static int ns_step_begin(int target_fd, int *saved)
{
    *saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*saved < 0)
        return -errno;
    if (setns(target_fd, CLONE_NEWNET) < 0) {
        int rc = -errno;
        close(*saved);
        *saved = -1;
        return rc;
    }
    return 0;
}

/* Switch back. Failing to do so leaves the thread in an unknown namespace: broken invariant. */
static void ns_step_end(int saved)
{
    if (setns(saved, CLONE_NEWNET) < 0)
        fatalx("topo.setns_restore", "error=\"%s\"", strerror(errno));
    close(saved);
}

static int ns_path(char *dst, size_t cap, const char *nsname)
{
    int n = snprintf(dst, cap, "%s/%s", g_netns_dir, nsname);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int ns_open_fd(const char *nsname)
{
    char path[PATH_CAP];
    int rc = ns_path(path, sizeof path, nsname);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* ---- rtnetlink -------------------------------------------------------------------------------- */

static struct mnl_socket *nl_open_here(unsigned *portid)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl)
        return NULL;
    int one = 1;
    /* Ask for the kernel's error text and for errors without the echoed request; optional. */
    (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one);
    (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
    /* The kernel answers at once; a reply that never comes (seen once, on a dump during teardown)
     * must not hang the lab, so every receive is bounded. */
    struct timeval tmo = {.tv_sec = 5};
    (void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(nl);
        errno = e;
        return NULL;
    }
    *portid = mnl_socket_get_portid(nl);
    return nl;
}

static struct nlsock *sock_cache_add(struct topo *t, const char *nsname, struct mnl_socket *nl, unsigned portid)
{
    struct nlsock *s = realloc(t->socks, (t->nsocks + 1) * sizeof *s);
    if (!s)
        return NULL;
    t->socks = s;
    s = &t->socks[t->nsocks++];
    snprintf(s->ns, sizeof s->ns, "%s", nsname);
    s->nl = nl;
    s->portid = portid;
    return s;
}

static void sock_cache_drop(struct topo *t, const char *nsname)
{
    for (size_t i = 0; i < t->nsocks; i++) {
        if (strcmp(t->socks[i].ns, nsname) == 0) {
            mnl_socket_close(t->socks[i].nl);
            t->socks[i] = t->socks[--t->nsocks];
            return;
        }
    }
}

/* The rtnetlink socket of namespace `nsname` ("" = the caller's namespace), opened on first use
 * in one setns step. Returns NULL with -errno in *rc. */
static struct nlsock *sock_for(struct topo *t, const char *nsname, int *rc)
{
    for (size_t i = 0; i < t->nsocks; i++)
        if (strcmp(t->socks[i].ns, nsname) == 0)
            return &t->socks[i];
    unsigned portid = 0;
    struct mnl_socket *nl;
    if (!*nsname) {
        nl = nl_open_here(&portid);
        if (!nl) {
            *rc = -errno;
            return NULL;
        }
    } else {
        int fd = ns_open_fd(nsname);
        if (fd < 0) {
            *rc = fd;
            return NULL;
        }
        int saved;
        *rc = ns_step_begin(fd, &saved);
        close(fd);
        if (*rc < 0)
            return NULL;
        nl = nl_open_here(&portid);
        int e = errno;
        ns_step_end(saved);
        if (!nl) {
            *rc = -e;
            return NULL;
        }
    }
    struct nlsock *s = sock_cache_add(t, nsname, nl, portid);
    if (!s) {
        mnl_socket_close(nl);
        *rc = -ENOMEM;
    }
    return s;
}

struct nl_result {
    int err;        /* 0 or -errno from the kernel */
    char ext[200];  /* extended ack message */
    mnl_cb_t cb;    /* data messages (dumps, GET replies) */
    void *cb_data;
};

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nl_result *r = data;
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e)) {
        r->err = -EBADMSG;
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        size_t off = sizeof *e;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
            off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        struct nlattr *a; /* not const: mnl_attr_for_each casts it to char * */
        mnl_attr_for_each(a, nlh, off)
        {
            if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                snprintf(r->ext, sizeof r->ext, "%s", mnl_attr_get_str(a));
        }
    }
    if (e->error == 0)
        return MNL_CB_STOP;
    r->err = e->error < 0 ? e->error : -e->error;
    errno = -r->err;
    return MNL_CB_ERROR;
}

/* End of a dump: its payload is the dump's error code (0 = complete). */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nl_result *r = data;
    if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
        int e;
        memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
        if (e < 0) {
            r->err = e;
            errno = -e;
            return MNL_CB_ERROR;
        }
    }
    return MNL_CB_STOP;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nl_result *r = data;
    return r->cb ? r->cb(nlh, r->cb_data) : MNL_CB_OK;
}

/* Send one request (ACK requested) on s and process the answers until the ACK, the end of a dump
 * or an error. Returns 0 or -errno; r->ext holds the kernel's text. */
static int nl_talk(struct topo *t, struct nlsock *s, struct nlmsghdr *nlh, struct nl_result *r)
{
    uint8_t buf[NL_DUMP_BUF];
    nlh->nlmsg_seq = ++t->seq;
    bool dump = (nlh->nlmsg_type == RTM_GETLINK || nlh->nlmsg_type == RTM_GETADDR ||
                 nlh->nlmsg_type == RTM_GETROUTE) && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    if (!dump) /* a dump ends with NLMSG_DONE, no ACK */
        nlh->nlmsg_flags |= NLM_F_ACK;
    r->err = 0;
    r->ext[0] = '\0';
    if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
    ctl[NLMSG_ERROR] = nl_error_cb;
    ctl[NLMSG_DONE] = nl_done_cb;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                snprintf(r->ext, sizeof r->ext, "no answer from the kernel within 5 s");
                return -ETIMEDOUT;
            }
            return -errno;
        }
        int rc = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, s->portid, nl_data_cb, r, ctl, NLMSG_MIN_TYPE);
        if (rc == MNL_CB_ERROR)
            return r->err ? r->err : (errno ? -errno : -EIO);
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static struct nlmsghdr *msg_link(uint8_t *buf, uint16_t type, uint16_t flags, int ifindex)
{
    memset(buf, 0, NL_BUF);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    return nlh;
}

struct link_lookup {
    int ifindex;
};

static int link_lookup_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_lookup *l = data;
    if (nlh->nlmsg_type == RTM_NEWLINK) {
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        l->ifindex = ifm->ifi_index;
    }
    return MNL_CB_OK;
}

static int ifindex_in(struct topo *t, struct nlsock *s, const char *ifname, struct nl_result *r)
{
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_GETLINK, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
    struct link_lookup l = {0};
    r->cb = link_lookup_cb;
    r->cb_data = &l;
    int rc = nl_talk(t, s, nlh, r);
    r->cb = NULL;
    if (rc < 0)
        return rc;
    return l.ifindex > 0 ? l.ifindex : -ENODEV;
}

/* Resolve host -> namespace name and its socket, recording an error naming `what` on failure. */
static struct nlsock *host_sock(struct topo *t, const char *host, char *ns, int *rc)
{
    *rc = topo_host_ns(t, host, ns, TOPO_NSNAME_MAX + 1);
    if (*rc < 0) {
        fail(t, *rc, "host %s of run %s: invalid name", host ? host : "(null)", t->runid);
        return NULL;
    }
    struct nlsock *s = sock_for(t, ns, rc);
    if (!s)
        fail(t, *rc, "namespace %s", ns);
    return s;
}

/* ---- the run record --------------------------------------------------------------------------- */

/* State letter and start time (field 22, clock ticks since boot) of a process from /proc/PID/stat;
 * 0 when it cannot be read. */
static unsigned long long proc_stat(pid_t pid, char *state)
{
    char path[64], buf[1024];
    *state = '?';
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!p)
        return 0;
    p++;
    /* fields after comm: state(3) ... starttime(22) */
    unsigned long long v = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return 0;
        if (field == 3)
            *state = *p;
        if (field == 22) {
            v = strtoull(p, NULL, 10);
            break;
        }
        while (*p && *p != ' ')
            p++;
    }
    return v;
}

static unsigned long long proc_start_time(pid_t pid)
{
    char state;
    return proc_stat(pid, &state);
}

static bool pid_alive(pid_t pid, unsigned long long start)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno != EPERM)
        return false;
    char state;
    unsigned long long now = proc_stat(pid, &state);
    if (state == 'Z' || state == 'X')
        return false; /* a killed lab not yet reaped by its parent */
    if (start && now && now != start)
        return false; /* pid reused by another process */
    return true;
}

static int record_path(char *dst, size_t cap, const char *runid)
{
    int n = snprintf(dst, cap, "%s/%s.json", g_run_dir, runid);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int mkdir_p1(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int record_write(struct topo *t)
{
    if (!t->record)
        return 0;
    char path[PATH_CAP];
    int rc = mkdir_p1(g_run_dir, 0755);
    if (rc < 0)
        return fail(t, rc, "run record dir %s", g_run_dir);
    rc = record_path(path, sizeof path, t->runid);
    if (rc < 0)
        return fail(t, rc, "run record of %s", t->runid);
    json_t *nss = json_array();
    for (size_t i = 0; i < t->nhosts; i++) {
        char ns[TOPO_NSNAME_MAX + 1];
        if (topo_nsname(ns, sizeof ns, t->runid, t->hosts[i]) > 0)
            json_array_append_new(nss, json_string(ns));
    }
    json_t *o = json_pack("{s:s, s:i, s:I, s:s, s:b, s:s, s:o}", "runid", t->runid, "pid", (int)t->pid,
                          "pid_start", (json_int_t)t->pid_start, "label", t->label, "keep", t->keep,
                          "created", t->created, "namespaces", nss);
    if (!o)
        return fail(t, -ENOMEM, "run record %s", path);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return fail(t, -ENOMEM, "run record %s", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps' NUL becomes the final newline */
    rc = atomic_write_file(path, text, len + 1, 0644);
    free(text);
    if (rc < 0)
        return fail(t, rc, "run record %s", path);
    return 0;
}

static struct topo *topo_alloc(const char *runid, char *err, size_t errlen)
{
    if (!topo_runid_valid(runid)) {
        set_err(err, errlen, "run id \"%s\": not of the form zl[a-z][0-9a-z]{5}", runid ? runid : "");
        return NULL;
    }
    struct topo *t = calloc(1, sizeof *t);
    if (!t) {
        set_err(err, errlen, "run %s: out of memory", runid);
        return NULL;
    }
    memcpy(t->runid, runid, sizeof t->runid);
    t->seq = (unsigned)time(NULL);
    return t;
}

struct topo *topo_new(const char *runid, const char *label, unsigned flags, char *err, size_t errlen)
{
    struct topo *t = topo_alloc(runid, err, errlen);
    if (!t)
        return NULL;
    snprintf(t->label, sizeof t->label, "%s", label ? label : "");
    t->keep = (flags & TOPO_NEW_KEEP) != 0;
    t->record = !(flags & TOPO_NEW_NO_RECORD);
    t->pid = getpid();
    t->pid_start = proc_start_time(t->pid);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t->created, sizeof t->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (record_write(t) < 0) {
        set_err(err, errlen, "%s", t->err);
        free(t);
        return NULL;
    }
    log_debug("topo.run.new", "runid=%s label=%s pid=%d", t->runid, t->label, (int)t->pid);
    return t;
}

struct topo *topo_open(const char *runid, char *err, size_t errlen)
{
    return topo_alloc(runid, err, errlen);
}

void topo_free(struct topo *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsocks; i++)
        mnl_socket_close(t->socks[i].nl);
    free(t->socks);
    free(t->hosts);
    free(t);
}

int topo_set_label(struct topo *t, const char *label, bool keep)
{
    snprintf(t->label, sizeof t->label, "%s", label ? label : "");
    t->keep = keep;
    return record_write(t);
}

/* ---- namespaces ------------------------------------------------------------------------------- */

/* Make the netns dir a shared mount point, as iproute2 does, so that unmounting a namespace file
 * here unmounts it in every mount namespace that inherited it (the namespace is freed sooner). */
static int netns_dir_prepare(void)
{
    int rc = mkdir_p1(g_netns_dir, 0755);
    if (rc < 0)
        return rc;
    bool made = false;
    while (mount("", g_netns_dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
        if (errno != EINVAL || made)
            return -errno;
        if (mount(g_netns_dir, g_netns_dir, "none", MS_BIND | MS_REC, NULL) < 0)
            return -errno;
        made = true;
    }
    return 0;
}

/* Write a sysctl of the current thread's namespace; -ENOENT when the key does not exist. */
static int sysctl_write_here(const char *key, const char *value)
{
    char path[PATH_CAP];
    int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + strlen("/proc/sys/"); *p; p++)
        if (*p == '.')
            *p = '/';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(value);
    ssize_t w = write(fd, value, len);
    int rc = w < 0 ? -errno : ((size_t)w == len ? 0 : -EIO);
    close(fd);
    return rc;
}

static int host_remember(struct topo *t, const char *host)
{
    for (size_t i = 0; i < t->nhosts; i++)
        if (strcmp(t->hosts[i], host) == 0)
            return 0;
    char(*h)[TOPO_HOST_MAX + 1] = realloc(t->hosts, (t->nhosts + 1) * sizeof *h);
    if (!h)
        return -ENOMEM;
    t->hosts = h;
    snprintf(t->hosts[t->nhosts++], TOPO_HOST_MAX + 1, "%s", host);
    return 0;
}

static void host_forget(struct topo *t, const char *host)
{
    for (size_t i = 0; i < t->nhosts; i++) {
        if (strcmp(t->hosts[i], host) == 0) {
            memmove(t->hosts[i], t->hosts[t->nhosts - 1], sizeof t->hosts[i]);
            t->nhosts--;
            return;
        }
    }
}

static int lo_up(struct topo *t, struct nlsock *s, struct nl_result *r)
{
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, 0, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo");
    return nl_talk(t, s, nlh, r);
}

static int ns_file_remove(const char *path)
{
    umount2(path, MNT_DETACH);
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int topo_ns_add(struct topo *t, const char *host, unsigned flags)
{
    char ns[TOPO_NSNAME_MAX + 1], path[PATH_CAP];
    t->err[0] = '\0';
    int rc = topo_host_ns(t, host, ns, sizeof ns);
    if (rc < 0)
        return fail(t, rc, "namespace %s-%s: invalid host name", t->runid, host ? host : "(null)");
    rc = ns_path(path, sizeof path, ns);
    if (rc < 0)
        return fail(t, rc, "namespace %s", ns);
    rc = netns_dir_prepare();
    if (rc < 0)
        return fail(t, rc, "namespace dir %s (make it a shared mount point)", g_netns_dir);
    /* The record lists the namespace before it exists: a crash in between leaves a record that
     * names it, and `lab clean` removes what exists. */
    rc = host_remember(t, host);
    if (rc < 0)
        return fail(t, rc, "namespace %s", ns);
    rc = record_write(t);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        if (rc != -EEXIST) /* an existing namespace is not ours to forget */
            host_forget(t, host);
        return fail(t, rc, "namespace %s", ns);
    }
    close(fd);

    /* One step on this thread: new namespace, pin it with the bind mount, open its rtnetlink
     * socket and apply the sysctls while inside, then back. */
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0) {
        rc = -errno;
        ns_file_remove(path);
        host_forget(t, host);
        return fail(t, rc, "namespace %s: open /proc/thread-self/ns/net", ns);
    }
    const char *step = "unshare(CLONE_NEWNET)";
    struct mnl_socket *nl = NULL;
    unsigned portid = 0;
    rc = 0;
    if (unshare(CLONE_NEWNET) < 0) {
        rc = -errno;
        close(saved);
        ns_file_remove(path);
        host_forget(t, host);
        return fail(t, rc, "namespace %s: %s", ns, step);
    }
    if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) {
        rc = -errno;
        step = "bind mount";
    } else {
        if (flags & TOPO_NS_IPV6) {
            (void)sysctl_write_here("net.ipv6.conf.all.accept_dad", "0");
            (void)sysctl_write_here("net.ipv6.conf.default.accept_dad", "0");
        } else {
            (void)sysctl_write_here("net.ipv6.conf.all.disable_ipv6", "1");
            (void)sysctl_write_here("net.ipv6.conf.default.disable_ipv6", "1");
        }
        nl = nl_open_here(&portid);
        if (!nl) {
            rc = -errno;
            step = "rtnetlink socket";
        }
    }
    ns_step_end(saved);
    if (rc < 0) {
        ns_file_remove(path);
        host_forget(t, host);
        return fail(t, rc, "namespace %s: %s", ns, step);
    }
    sock_cache_drop(t, ns); /* a stale socket of an earlier namespace of that name */
    struct nlsock *s = sock_cache_add(t, ns, nl, portid);
    if (!s) {
        mnl_socket_close(nl);
        return fail(t, -ENOMEM, "namespace %s", ns);
    }
    struct nl_result r = {0};
    rc = lo_up(t, s, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "link %s:lo up", ns);
    log_debug("topo.ns.add", "ns=%s", ns);
    return 0;
}

/* Remove every plain file in dir, then dir (one level: /etc/netns/NS holds files only). */
static int rm_dir1(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT && !rc)
            rc = -errno;
    }
    closedir(d);
    if (rmdir(dir) < 0 && errno != ENOENT && !rc)
        rc = -errno;
    return rc;
}

/* Remove /run/netns/NS and /etc/netns/NS. Counts into *netns / *etc when non-NULL. */
static int ns_remove_by_name(const char *ns, unsigned *nnetns, unsigned *netc, char *err, size_t errlen)
{
    char path[PATH_CAP];
    int first = 0;
    if (ns_path(path, sizeof path, ns) == 0) {
        bool existed = access(path, F_OK) == 0;
        int rc = ns_file_remove(path);
        if (rc < 0) {
            set_err(err, errlen, "namespace %s: remove %s: %s", ns, path, strerror(-rc));
            first = rc;
        } else if (existed && nnetns) {
            (*nnetns)++;
        }
    }
    int n = snprintf(path, sizeof path, "%s/%s", g_etc_dir, ns);
    if (n > 0 && (size_t)n < sizeof path) {
        bool existed = access(path, F_OK) == 0;
        int rc = rm_dir1(path);
        if (rc < 0) {
            if (!first) {
                set_err(err, errlen, "namespace %s: remove %s: %s", ns, path, strerror(-rc));
                first = rc;
            }
        } else if (existed && netc) {
            (*netc)++;
        }
    }
    return first;
}

int topo_ns_del(struct topo *t, const char *host)
{
    char ns[TOPO_NSNAME_MAX + 1];
    t->err[0] = '\0';
    int rc = topo_host_ns(t, host, ns, sizeof ns);
    if (rc < 0)
        return fail(t, rc, "namespace %s-%s: invalid host name", t->runid, host ? host : "(null)");
    sock_cache_drop(t, ns);
    rc = ns_remove_by_name(ns, NULL, NULL, t->err, sizeof t->err);
    host_forget(t, host);
    (void)record_write(t);
    return rc;
}

bool topo_ns_exists(const struct topo *t, const char *host)
{
    char ns[TOPO_NSNAME_MAX + 1], path[PATH_CAP];
    if (topo_host_ns(t, host, ns, sizeof ns) < 0 || ns_path(path, sizeof path, ns) < 0)
        return false;
    return access(path, F_OK) == 0;
}

/* ---- links ------------------------------------------------------------------------------------ */

static int put_mac(struct topo *t, struct nlmsghdr *nlh, const char *mac, const char *what)
{
    if (!mac)
        return 0;
    unsigned char m[6];
    if (topo_parse_mac(mac, m) < 0)
        return fail(t, -EINVAL, "%s: MAC \"%s\" is not xx:xx:xx:xx:xx:xx", what, mac);
    mnl_attr_put(nlh, IFLA_ADDRESS, sizeof m, m);
    return 0;
}

int topo_veth(struct topo *t, const char *host_a, const char *if_a, const char *mac_a, const char *host_b,
              const char *if_b, const char *mac_b)
{
    char ns_a[TOPO_NSNAME_MAX + 1], ns_b[TOPO_NSNAME_MAX + 1], what[TOPO_ERR_MAX];
    t->err[0] = '\0';
    int ra = topo_host_ns(t, host_a, ns_a, sizeof ns_a);
    int rb = topo_host_ns(t, host_b, ns_b, sizeof ns_b);
    snprintf(what, sizeof what, "veth %s:%s -> %s:%s", ra < 0 ? (host_a ? host_a : "(null)") : ns_a,
             if_a ? if_a : "(null)", rb < 0 ? (host_b ? host_b : "(null)") : ns_b, if_b ? if_b : "(null)");
    if (ra < 0 || rb < 0)
        return fail(t, -EINVAL, "%s: invalid host name", what);
    if (!topo_ifname_valid(if_a) || !topo_ifname_valid(if_b))
        return fail(t, -EINVAL, "%s: invalid interface name (1..15 chars, no '/', ':' or space)", what);
    int rc;
    struct nlsock *self = sock_for(t, "", &rc);
    if (!self)
        return fail(t, rc, "%s: rtnetlink socket", what);
    int fd_a = ns_open_fd(ns_a);
    if (fd_a < 0)
        return fail(t, fd_a, "%s: namespace %s", what, ns_a);
    int fd_b = ns_open_fd(ns_b);
    if (fd_b < 0) {
        close(fd_a);
        return fail(t, fd_b, "%s: namespace %s", what, ns_b);
    }
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, if_a);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)fd_a);
    rc = put_mac(t, nlh, mac_a, what);
    if (rc == 0) {
        struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof *pifm);
        memset(pifm, 0, sizeof *pifm);
        pifm->ifi_family = AF_UNSPEC; /* not IFF_UP here: veth_open() of the peer fails with
                                          ENOTCONN before the pair is linked; set up below */
        mnl_attr_put_strz(nlh, IFLA_IFNAME, if_b);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)fd_b);
        rc = put_mac(t, nlh, mac_b, what);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);
    }
    struct nl_result r = {0};
    if (rc == 0)
        rc = nl_talk(t, self, nlh, &r);
    close(fd_a);
    close(fd_b);
    if (rc < 0) {
        if (!t->err[0])
            failx(t, rc, r.ext, "%s", what);
        return rc;
    }
    struct nlsock *sb = sock_for(t, ns_b, &rc);
    if (!sb)
        return fail(t, rc, "%s: namespace %s", what, ns_b);
    nlh = msg_link(buf, RTM_NEWLINK, 0, 0);
    ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, if_b);
    rc = nl_talk(t, sb, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "%s: set %s:%s up", what, ns_b, if_b);
    log_debug("topo.veth", "a=%s:%s b=%s:%s", ns_a, if_a, ns_b, if_b);
    return 0;
}

int topo_bridge(struct topo *t, const char *host, const char *br)
{
    char ns[TOPO_NSNAME_MAX + 1];
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    if (!topo_ifname_valid(br))
        return fail(t, -EINVAL, "bridge %s:%s: invalid interface name", ns, br ? br : "(null)");
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, br);
    struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
    mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    struct nl_result r = {0};
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "bridge %s:%s", ns, br);
    log_debug("topo.bridge", "ns=%s br=%s", ns, br);
    return 0;
}

/* host's netlink socket (*sp, its namespace in ns) and the index of its interface ifname; failures
 * set t->err with `what` ("link", "bridge port"). */
static int link_index(struct topo *t, const char *host, const char *ifname, const char *what, char *ns,
                      struct nlsock **sp)
{
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    if (!topo_ifname_valid(ifname))
        return fail(t, -EINVAL, "%s %s:%s: invalid interface name", what, ns, ifname ? ifname : "(null)");
    struct nl_result r = {0};
    rc = ifindex_in(t, s, ifname, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "%s %s:%s", what, ns, ifname);
    *sp = s;
    return rc;
}

int topo_ifindex(struct topo *t, const char *host, const char *ifname)
{
    char ns[TOPO_NSNAME_MAX + 1];
    struct nlsock *s = NULL;
    return link_index(t, host, ifname, "link", ns, &s);
}

int topo_bridge_port(struct topo *t, const char *host, const char *ifname, const char *br)
{
    char ns[TOPO_NSNAME_MAX + 1];
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    if (!topo_ifname_valid(ifname) || !topo_ifname_valid(br))
        return fail(t, -EINVAL, "bridge port %s:%s -> %s: invalid interface name", ns, ifname ? ifname : "(null)",
                    br ? br : "(null)");
    struct nl_result r = {0};
    int port = ifindex_in(t, s, ifname, &r);
    if (port < 0)
        return failx(t, port, r.ext, "bridge port %s:%s -> %s: port", ns, ifname, br);
    int bri = ifindex_in(t, s, br, &r);
    if (bri < 0)
        return failx(t, bri, r.ext, "bridge port %s:%s -> %s: bridge", ns, ifname, br);
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, 0, port);
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)bri);
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "bridge port %s:%s -> %s", ns, ifname, br);
    return 0;
}

int topo_bridge_port_isolated(struct topo *t, const char *host, const char *ifname, bool on)
{
    char ns[TOPO_NSNAME_MAX + 1];
    struct nlsock *s = NULL;
    int port = link_index(t, host, ifname, "bridge port", ns, &s);
    if (port < 0)
        return port;
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, 0, port);
    struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
    mnl_attr_put_u8(nlh, IFLA_BRPORT_ISOLATED, on ? 1 : 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    struct nl_result r = {0};
    int rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "bridge port %s:%s isolated %s", ns, ifname, on ? "on" : "off");
    return 0;
}

int topo_attach(struct topo *t, const char *host, const char *ifname, const char *mac, const char *seg_host,
                const char *br, char *port, size_t cap)
{
    char p[TOPO_IFNAME_MAX + 1];
    snprintf(p, sizeof p, "p%u", ++t->port_seq);
    int rc = topo_veth(t, host, ifname, mac, seg_host, p, NULL);
    if (rc < 0)
        return rc;
    rc = topo_bridge_port(t, seg_host, p, br);
    if (rc < 0)
        return rc;
    if (port && cap)
        snprintf(port, cap, "%s", p);
    return 0;
}

int topo_link_set(struct topo *t, const char *host, const char *ifname, bool up)
{
    char ns[TOPO_NSNAME_MAX + 1];
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    if (!topo_ifname_valid(ifname))
        return fail(t, -EINVAL, "link %s:%s: invalid interface name", ns, ifname ? ifname : "(null)");
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_NEWLINK, 0, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    ifm->ifi_flags = up ? IFF_UP : 0;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
    struct nl_result r = {0};
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "link %s:%s %s", ns, ifname, up ? "up" : "down");
    return 0;
}

static int addr_op(struct topo *t, uint16_t type, const char *host, const char *ifname, const char *cidr)
{
    const char *op = type == RTM_NEWADDR ? "addr" : "addr del";
    char ns[TOPO_NSNAME_MAX + 1];
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    struct in_addr a;
    unsigned plen;
    if (topo_parse_cidr(cidr, &a, &plen) < 0)
        return fail(t, -EINVAL, "%s \"%s\" on %s:%s: not a.b.c.d/len", op, cidr ? cidr : "(null)", ns,
                    ifname ? ifname : "(null)");
    if (!topo_ifname_valid(ifname))
        return fail(t, -EINVAL, "%s %s on %s:%s: invalid interface name", op, cidr, ns, ifname ? ifname : "(null)");
    struct nl_result r = {0};
    int ifindex = ifindex_in(t, s, ifname, &r);
    if (ifindex < 0)
        return failx(t, ifindex, r.ext, "%s %s on %s:%s", op, cidr, ns, ifname);
    uint8_t buf[NL_BUF];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)plen;
    ifa->ifa_scope = (ntohl(a.s_addr) >> 24) == 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    mnl_attr_put(nlh, IFA_LOCAL, sizeof a, &a);
    mnl_attr_put(nlh, IFA_ADDRESS, sizeof a, &a);
    if (type == RTM_NEWADDR && plen < 31) {
        uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
        struct in_addr bcast = {.s_addr = a.s_addr | htonl(~mask)};
        mnl_attr_put(nlh, IFA_BROADCAST, sizeof bcast, &bcast);
    }
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "%s %s on %s:%s", op, cidr, ns, ifname);
    return 0;
}

int topo_addr_add(struct topo *t, const char *host, const char *ifname, const char *cidr)
{
    return addr_op(t, RTM_NEWADDR, host, ifname, cidr);
}

int topo_addr_del(struct topo *t, const char *host, const char *ifname, const char *cidr)
{
    return addr_op(t, RTM_DELADDR, host, ifname, cidr);
}

int topo_route_add(struct topo *t, const char *host, const char *dst, const char *gw, const char *ifname)
{
    char ns[TOPO_NSNAME_MAX + 1], what[TOPO_ERR_MAX];
    int rc;
    t->err[0] = '\0';
    struct nlsock *s = host_sock(t, host, ns, &rc);
    if (!s)
        return rc;
    snprintf(what, sizeof what, "route %s%s%s%s%s in %s", dst ? dst : "(null)", gw ? " via " : "", gw ? gw : "",
             ifname ? " dev " : "", ifname ? ifname : "", ns);
    struct in_addr d = {0}, g = {0};
    unsigned plen = 0;
    if (!dst || (strcmp(dst, "default") != 0 && topo_parse_cidr(dst, &d, &plen) < 0))
        return fail(t, -EINVAL, "%s: destination is not \"default\" or a.b.c.d/len", what);
    if (gw && inet_pton(AF_INET, gw, &g) != 1)
        return fail(t, -EINVAL, "%s: gateway is not a.b.c.d", what);
    if (!gw && !ifname)
        return fail(t, -EINVAL, "%s: needs a gateway or an interface", what);
    if (ifname && !topo_ifname_valid(ifname))
        return fail(t, -EINVAL, "%s: invalid interface name", what);
    struct nl_result r = {0};
    int oif = 0;
    if (ifname) {
        oif = ifindex_in(t, s, ifname, &r);
        if (oif < 0)
            return failx(t, oif, r.ext, "%s", what);
    }
    uint8_t buf[NL_BUF];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = (unsigned char)plen;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    if (plen > 0)
        mnl_attr_put(nlh, RTA_DST, sizeof d, &d);
    if (gw)
        mnl_attr_put(nlh, RTA_GATEWAY, sizeof g, &g);
    if (oif > 0)
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "%s", what);
    return 0;
}

/* ---- inside a namespace: sysctls, sockets ----------------------------------------------------- */

int topo_sysctl(struct topo *t, const char *host, const char *key, const char *value)
{
    char ns[TOPO_NSNAME_MAX + 1];
    t->err[0] = '\0';
    int rc = topo_host_ns(t, host, ns, sizeof ns);
    if (rc < 0)
        return fail(t, rc, "sysctl in %s-%s: invalid host name", t->runid, host ? host : "(null)");
    if (!key || !*key || strstr(key, "..") || strchr(key, '/') || !value)
        return fail(t, -EINVAL, "sysctl %s in %s: invalid key or value", key ? key : "(null)", ns);
    int fd = ns_open_fd(ns);
    if (fd < 0)
        return fail(t, fd, "sysctl %s=%s in %s: namespace", key, value, ns);
    int saved;
    rc = ns_step_begin(fd, &saved);
    close(fd);
    if (rc < 0)
        return fail(t, rc, "sysctl %s=%s in %s: setns", key, value, ns);
    rc = sysctl_write_here(key, value);
    ns_step_end(saved);
    if (rc < 0)
        return fail(t, rc, "sysctl %s=%s in %s", key, value, ns);
    return 0;
}

int topo_socket(struct topo *t, const char *host, int domain, int type, int proto)
{
    char ns[TOPO_NSNAME_MAX + 1];
    t->err[0] = '\0';
    int rc = topo_host_ns(t, host, ns, sizeof ns);
    if (rc < 0)
        return fail(t, rc, "socket in %s-%s: invalid host name", t->runid, host ? host : "(null)");
    int fd = ns_open_fd(ns);
    if (fd < 0)
        return fail(t, fd, "socket in %s: namespace", ns);
    int saved;
    rc = ns_step_begin(fd, &saved);
    close(fd);
    if (rc < 0)
        return fail(t, rc, "socket in %s: setns", ns);
    int sfd = socket(domain, type | SOCK_CLOEXEC, proto);
    rc = sfd < 0 ? -errno : sfd;
    ns_step_end(saved);
    if (rc < 0)
        return fail(t, rc, "socket in %s", ns);
    return sfd;
}

/* ---- /etc/netns files ------------------------------------------------------------------------- */

static bool etc_name_valid(const char *name)
{
    return name && *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 128;
}

int topo_etc_file(struct topo *t, const char *host, const char *name, const char *content)
{
    char ns[TOPO_NSNAME_MAX + 1], dir[PATH_CAP], path[PATH_CAP + 130];
    t->err[0] = '\0';
    int rc = topo_host_ns(t, host, ns, sizeof ns);
    if (rc < 0)
        return fail(t, rc, "etc file in %s-%s: invalid host name", t->runid, host ? host : "(null)");
    if (!etc_name_valid(name) || !content)
        return fail(t, -EINVAL, "etc file \"%s\" of %s: not a plain file name", name ? name : "(null)", ns);
    rc = mkdir_p1(g_etc_dir, 0755);
    if (rc < 0)
        return fail(t, rc, "etc file %s of %s: mkdir %s", name, ns, g_etc_dir);
    snprintf(dir, sizeof dir, "%s/%s", g_etc_dir, ns);
    rc = mkdir_p1(dir, 0755);
    if (rc < 0)
        return fail(t, rc, "etc file %s of %s: mkdir %s", name, ns, dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rc = atomic_write_file(path, content, strlen(content), 0644);
    if (rc < 0)
        return fail(t, rc, "etc file %s", path);
    return 0;
}

int topo_hosts(struct topo *t, const char *host, const char *const *lines)
{
    size_t cap = 64, len = 0;
    for (const char *const *l = lines; l && *l; l++)
        cap += strlen(*l) + 1;
    char *text = malloc(cap);
    if (!text)
        return fail(t, -ENOMEM, "hosts file of %s-%s", t->runid, host ? host : "(null)");
    len = (size_t)snprintf(text, cap, "127.0.0.1\tlocalhost\n");
    for (const char *const *l = lines; l && *l; l++) {
        if (strchr(*l, '\n')) {
            free(text);
            return fail(t, -EINVAL, "hosts file of %s-%s: line \"%s\" contains a newline", t->runid,
                        host ? host : "(null)", *l);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s\n", *l);
    }
    int rc = topo_etc_file(t, host, "hosts", text);
    free(text);
    return rc;
}

/* ---- in a forked child: ip netns exec --------------------------------------------------------- */

int topo_enter(const char *nsname, char *err, size_t errlen)
{
    if (!nsname || !*nsname || strchr(nsname, '/')) {
        set_err(err, errlen, "enter namespace \"%s\": invalid name", nsname ? nsname : "(null)");
        return -EINVAL;
    }
    int fd = ns_open_fd(nsname);
    if (fd < 0) {
        set_err(err, errlen, "enter namespace %s: open %s/%s: %s", nsname, g_netns_dir, nsname, strerror(-fd));
        return fd;
    }
    int rc = 0;
    if (setns(fd, CLONE_NEWNET) < 0) {
        rc = -errno;
        close(fd);
        set_err(err, errlen, "enter namespace %s: setns: %s", nsname, strerror(-rc));
        return rc;
    }
    close(fd);
    if (unshare(CLONE_NEWNS) < 0) {
        rc = -errno;
        set_err(err, errlen, "enter namespace %s: unshare(CLONE_NEWNS): %s", nsname, strerror(-rc));
        return rc;
    }
    /* Nothing mounted from here on propagates back to the lab's mount namespace. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) {
        rc = -errno;
        set_err(err, errlen, "enter namespace %s: mount --make-rslave /: %s", nsname, strerror(-rc));
        return rc;
    }
    /* A /sys that shows this namespace's interfaces (best effort: a container may refuse it;
     * nothing in the lab depends on it). */
    struct statvfs sv;
    unsigned long mflags = 0;
    if (statvfs("/sys", &sv) == 0 && (sv.f_flag & ST_RDONLY))
        mflags = MS_RDONLY;
    /* In a user namespace the inherited /sys is locked (umount2 fails): mount over it instead. */
    (void)umount2("/sys", MNT_DETACH);
    (void)mount(nsname, "/sys", "sysfs", mflags, NULL);
    /* /etc/netns/NS/FILE over /etc/FILE. */
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s/%s", g_etc_dir, nsname);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no per-namespace files */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char src[PATH_CAP + 260], dst[300];
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        snprintf(dst, sizeof dst, "/etc/%s", e->d_name);
        if (access(dst, F_OK) < 0)
            continue;
        if (mount(src, dst, "none", MS_BIND, NULL) < 0) {
            rc = -errno;
            set_err(err, errlen, "enter namespace %s: bind %s -> %s: %s", nsname, src, dst, strerror(-rc));
            break;
        }
    }
    closedir(d);
    return rc;
}

/* ---- whole runs ------------------------------------------------------------------------------- */

/* Names in `dir` that start with "RUNID-" (runid NULL: any lab run id, then '-'), via cb. */
static int scan_dir(const char *dir, const char *runid, void (*cb)(const char *name, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (runid) {
            if (strncmp(e->d_name, runid, TOPO_RUNID_LEN) != 0 || e->d_name[TOPO_RUNID_LEN] != '-')
                continue;
        } else if (!topo_nsname_split(e->d_name, NULL, NULL)) {
            continue;
        }
        cb(e->d_name, arg);
    }
    closedir(d);
    return 0;
}

struct names {
    char (*v)[TOPO_NSNAME_MAX + 1];
    size_t n;
    bool oom;
};

static void names_add(const char *name, void *arg)
{
    struct names *ns = arg;
    if (strlen(name) > TOPO_NSNAME_MAX)
        return;
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i], name))
            return;
    char(*v)[TOPO_NSNAME_MAX + 1] = realloc(ns->v, (ns->n + 1) * sizeof *v);
    if (!v) {
        ns->oom = true;
        return;
    }
    ns->v = v;
    snprintf(ns->v[ns->n++], TOPO_NSNAME_MAX + 1, "%s", name);
}

/* Delete links in the caller's namespace whose name starts with the run id (none are created
 * there by topo; this catches what another tool or an older version left). */
struct link_names {
    char runid[TOPO_RUNID_LEN + 1];
    int idx[64];
    size_t n;
};

static int link_scan_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_names *ln = data;
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    struct nlattr *a; /* not const: mnl_attr_for_each casts it to char * */
    mnl_attr_for_each(a, nlh, sizeof *ifm)
    {
        if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
            strncmp(mnl_attr_get_str(a), ln->runid, TOPO_RUNID_LEN) == 0 && ln->n < 64)
            ln->idx[ln->n++] = ifm->ifi_index;
    }
    return MNL_CB_OK;
}

static int stray_links_remove(struct topo *t, unsigned *count)
{
    int rc;
    struct nlsock *s = sock_for(t, "", &rc);
    if (!s)
        return fail(t, rc, "links of run %s: rtnetlink socket", t->runid);
    struct link_names ln = {.n = 0};
    memcpy(ln.runid, t->runid, sizeof ln.runid);
    uint8_t buf[NL_BUF];
    struct nlmsghdr *nlh = msg_link(buf, RTM_GETLINK, NLM_F_DUMP, 0);
    struct nl_result r = {.cb = link_scan_cb, .cb_data = &ln};
    rc = nl_talk(t, s, nlh, &r);
    if (rc < 0)
        return failx(t, rc, r.ext, "links of run %s: dump", t->runid);
    r.cb = NULL;
    int first = 0;
    for (size_t i = 0; i < ln.n; i++) {
        nlh = msg_link(buf, RTM_DELLINK, 0, ln.idx[i]);
        rc = nl_talk(t, s, nlh, &r);
        if (rc == 0 && count)
            (*count)++;
        else if (rc < 0 && rc != -ENODEV && !first) /* deleting one veth end removes its peer */
            first = failx(t, rc, r.ext, "stray link index %d of run %s", ln.idx[i], t->runid);
    }
    return first;
}

static int run_remove(struct topo *t, struct topo_clean_report *rep)
{
    struct names ns = {0};
    int first = scan_dir(g_netns_dir, t->runid, names_add, &ns);
    if (first < 0)
        fail(t, first, "run %s: read %s", t->runid, g_netns_dir);
    int rc = scan_dir(g_etc_dir, t->runid, names_add, &ns);
    if (rc < 0 && !first)
        first = fail(t, rc, "run %s: read %s", t->runid, g_etc_dir);
    if (ns.oom && !first)
        first = fail(t, -ENOMEM, "run %s", t->runid);
    for (size_t i = 0; i < ns.n; i++) {
        sock_cache_drop(t, ns.v[i]);
        rc = ns_remove_by_name(ns.v[i], rep ? &rep->netns_removed : NULL, rep ? &rep->etc_removed : NULL,
                               first ? NULL : t->err, sizeof t->err);
        if (rc < 0 && !first)
            first = rc;
    }
    free(ns.v);
    rc = stray_links_remove(t, rep ? &rep->links_removed : NULL);
    if (rc < 0 && !first)
        first = rc;
    char path[PATH_CAP];
    if (record_path(path, sizeof path, t->runid) == 0) {
        if (unlink(path) == 0) {
            if (rep)
                rep->records_removed++;
        } else if (errno != ENOENT && !first) {
            first = fail(t, -errno, "run record %s", path);
        }
    }
    t->nhosts = 0;
    return first;
}

int topo_destroy(struct topo *t)
{
    t->err[0] = '\0';
    int rc = run_remove(t, NULL);
    log_debug("topo.run.destroy", "runid=%s rc=%d", t->runid, rc);
    return rc;
}

int topo_run_remove(const char *runid, char *err, size_t errlen)
{
    struct topo *t = topo_open(runid, err, errlen);
    if (!t)
        return -EINVAL;
    struct topo_clean_report rep = {0};
    int rc = run_remove(t, &rep);
    if (rc < 0)
        set_err(err, errlen, "%s", t->err);
    else if (!rep.netns_removed && !rep.etc_removed && !rep.records_removed && !rep.links_removed) {
        set_err(err, errlen, "run %s: nothing of it exists", runid);
        rc = -ENOENT;
    }
    topo_free(t);
    return rc;
}

/* ---- listing and cleaning --------------------------------------------------------------------- */

struct runs {
    struct topo_run_info *v;
    size_t n;
    bool oom;
};

static struct topo_run_info *runs_get(struct runs *rs, const char *runid)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strncmp(rs->v[i].runid, runid, TOPO_RUNID_LEN))
            return &rs->v[i];
    struct topo_run_info *v = realloc(rs->v, (rs->n + 1) * sizeof *v);
    if (!v) {
        rs->oom = true;
        return NULL;
    }
    rs->v = v;
    struct topo_run_info *ri = &rs->v[rs->n++];
    memset(ri, 0, sizeof *ri);
    memcpy(ri->runid, runid, TOPO_RUNID_LEN);
    ri->runid[TOPO_RUNID_LEN] = '\0';
    return ri;
}

static void runs_add_ns(const char *name, void *arg)
{
    struct topo_run_info *ri = runs_get(arg, name);
    if (ri)
        ri->namespaces++;
}

static void runs_add_etc(const char *name, void *arg)
{
    (void)runs_get(arg, name);
}

static int run_cmp(const void *a, const void *b)
{
    return strcmp(((const struct topo_run_info *)a)->runid, ((const struct topo_run_info *)b)->runid);
}

int topo_runs_list(struct topo_run_info **out, size_t *n)
{
    struct runs rs = {0};
    DIR *d = opendir(g_run_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l != TOPO_RUNID_LEN + 5 || strcmp(e->d_name + TOPO_RUNID_LEN, ".json") != 0 ||
                !runid_prefix(e->d_name))
                continue;
            char path[PATH_CAP];
            snprintf(path, sizeof path, "%s/%s", g_run_dir, e->d_name);
            json_t *o = json_load_file(path, 0, NULL);
            struct topo_run_info *ri = runs_get(&rs, e->d_name);
            if (!ri) {
                json_decref(o);
                continue;
            }
            ri->has_record = true;
            if (o) {
                json_int_t pid = json_integer_value(json_object_get(o, "pid"));
                json_int_t start = json_integer_value(json_object_get(o, "pid_start"));
                ri->pid = (pid_t)pid;
                ri->alive = pid_alive(ri->pid, (unsigned long long)start);
                ri->keep = json_is_true(json_object_get(o, "keep"));
                const char *s = json_string_value(json_object_get(o, "label"));
                snprintf(ri->label, sizeof ri->label, "%s", s ? s : "");
                s = json_string_value(json_object_get(o, "created"));
                snprintf(ri->created, sizeof ri->created, "%s", s ? s : "");
                json_decref(o);
            }
            /* An unreadable record counts as a dead run (pid 0). */
        }
        closedir(d);
    } else if (errno != ENOENT) {
        return -errno;
    }
    int rc = scan_dir(g_netns_dir, NULL, runs_add_ns, &rs);
    if (rc == 0)
        rc = scan_dir(g_etc_dir, NULL, runs_add_etc, &rs);
    if (rc == 0 && rs.oom)
        rc = -ENOMEM;
    if (rc < 0) {
        free(rs.v);
        return rc;
    }
    if (rs.n)
        qsort(rs.v, rs.n, sizeof *rs.v, run_cmp);
    *out = rs.v;
    *n = rs.n;
    return 0;
}

int topo_clean_all(const char *prefix, unsigned flags, struct topo_clean_report *rep, char *err, size_t errlen)
{
    struct topo_clean_report local = {0};
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!prefix)
        prefix = "";
    if (strlen(prefix) > TOPO_RUNID_LEN) {
        set_err(err, errlen, "clean: prefix \"%s\" is longer than a run id", prefix);
        return -EINVAL;
    }
    struct topo_run_info *runs = NULL;
    size_t n = 0;
    int rc = topo_runs_list(&runs, &n);
    if (rc < 0) {
        set_err(err, errlen, "clean: list runs: %s", strerror(-rc));
        return rc;
    }
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        struct topo_run_info *ri = &runs[i];
        if (strncmp(ri->runid, prefix, strlen(prefix)) != 0)
            continue;
        if (ri->has_record && ri->alive) {
            rep->runs_alive++;
            continue;
        }
        if (ri->keep && !(flags & TOPO_CLEAN_KEPT)) {
            rep->runs_kept++;
            continue;
        }
        rep->runs_removed++;
        if (flags & TOPO_CLEAN_DRY_RUN) {
            rep->netns_removed += ri->namespaces;
            continue;
        }
        struct topo *t = topo_open(ri->runid, NULL, 0);
        if (!t)
            continue;
        rc = run_remove(t, rep);
        if (rc < 0 && !first) {
            first = rc;
            set_err(err, errlen, "%s", t->err);
        }
        char q[2 * TOPO_LABEL_MAX + 8];
        log_info("lab.clean.run", "runid=%s pid=%d label=%s namespaces=%u rc=%d", ri->runid, (int)ri->pid,
                 log_quote(q, sizeof q, ri->label, strlen(ri->label)), ri->namespaces, rc);
        topo_free(t);
    }
    free(runs);
    return first;
}
