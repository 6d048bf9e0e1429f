/* Lab topology (lab/topo.c) and unprivileged mode (lab/userns.c).
 *
 * The name functions are pure and always run. Everything else needs root (network namespaces,
 * mounts): without root those tests print one line and pass, except the user-namespace test, which
 * is exactly the non-root path (it runs when the kernel allows unprivileged user namespaces and
 * prints the reason when it does not).
 *
 * Namespaces are created with fresh random run ids ("zl" + [a-z] + 5 base36) and always removed;
 * the cleaning tests use private directories, so `topo_clean_all(NULL)` only sees this test's runs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cunit_main.h"
#include "topo.h"
#include "userns.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Set by main: the whole suite runs inside the lab's own user namespace (not root, but allowed). */
static bool g_in_userns;
static char g_userns_why[512];

static bool have_root(void)
{
    static int cached = -1;
    if (cached < 0) {
        cached = geteuid() == 0;
        if (!cached)
            printf("\n  [topo] not root and %s: namespace tests skipped (run as root: sudo ctest -R test_topo)\n",
                   g_userns_why);
    }
    return cached;
}

/* Run fn(arg, fd) in a forked child with a 10 s alarm; the child writes its result to fd. Returns
 * the child's exit status (0 = ok) and the bytes written in out. */
static int in_child(int (*fn)(void *arg, int fd), void *arg, char *out, size_t cap)
{
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        alarm(10);
        _exit(fn(arg, p[1]));
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(p[0], out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    out[len] = '\0';
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void put(int fd, const char *s)
{
    ssize_t w = write(fd, s, strlen(s));
    (void)w;
}

/* Entries of dir that start with prefix. */
static unsigned count_prefix(const char *dir, const char *prefix)
{
    unsigned n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* dir/RUNID.json exists */
static bool record_exists(const char *dir, const char *runid)
{
    char path[1100];
    if (snprintf(path, sizeof path, "%s/%s.json", dir, runid) >= (int)sizeof path)
        return false;
    return access(path, F_OK) == 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define TRY(t, call)                                                                   \
    do {                                                                               \
        int _rc = (call);                                                              \
        if (_rc < 0)                                                                   \
            fprintf(stderr, "\n  %s:%d: %s: %s\n", __FILE__, __LINE__, #call, topo_err(t)); \
        CU_ASSERT_EQUAL_FATAL(_rc < 0 ? _rc : 0, 0);                                   \
    } while (0)

/* ---- names (pure) ----------------------------------------------------------------------------- */

static void test_names(void)
{
    char id[TOPO_RUNID_LEN + 1], id2[TOPO_RUNID_LEN + 1];
    ZTP_ASSERT_EQ_INT(topo_runid_new(id), 0);
    ZTP_ASSERT_EQ_INT(strlen(id), TOPO_RUNID_LEN);
    CU_ASSERT(topo_runid_valid(id));
    CU_ASSERT(id[0] == 'z' && id[1] == 'l' && id[2] >= 'a' && id[2] <= 'z');
    ZTP_ASSERT_EQ_INT(topo_runid_new(id2), 0);
    CU_ASSERT(strcmp(id, id2) != 0);

    CU_ASSERT(topo_runid_valid("zlk3x9a2"));
    CU_ASSERT(!topo_runid_valid("zl123456")); /* lib.sh's zl<pid> is not a lab run id */
    CU_ASSERT(!topo_runid_valid("zlk3x9a"));
    CU_ASSERT(!topo_runid_valid("zlk3x9a22"));
    CU_ASSERT(!topo_runid_valid("zlK3x9a2"));
    CU_ASSERT(!topo_runid_valid("xlk3x9a2"));
    CU_ASSERT(!topo_runid_valid(NULL));

    CU_ASSERT(topo_host_valid("r1a"));
    CU_ASSERT(topo_host_valid("s-mpls"));
    CU_ASSERT(topo_host_valid("mist.ep_1"));
    CU_ASSERT(!topo_host_valid(""));
    CU_ASSERT(!topo_host_valid("-x"));
    CU_ASSERT(!topo_host_valid("R1"));
    CU_ASSERT(!topo_host_valid("a/b"));
    CU_ASSERT(!topo_host_valid("0123456789012345678901234567890123"));

    CU_ASSERT(topo_ifname_valid("wan0"));
    CU_ASSERT(topo_ifname_valid("123456789012345"));
    CU_ASSERT(!topo_ifname_valid("1234567890123456"));
    CU_ASSERT(!topo_ifname_valid("a:b"));
    CU_ASSERT(!topo_ifname_valid("a b"));
    CU_ASSERT(!topo_ifname_valid("a/b"));
    CU_ASSERT(!topo_ifname_valid(".."));
    CU_ASSERT(!topo_ifname_valid(""));

    char ns[TOPO_NSNAME_MAX + 1];
    ZTP_ASSERT_EQ_INT(topo_nsname(ns, sizeof ns, "zlk3x9a2", "r1a"), 12);
    ZTP_ASSERT_EQ_STR(ns, "zlk3x9a2-r1a");
    ZTP_ASSERT_EQ_INT(topo_nsname(ns, sizeof ns, "zl123456", "r1a"), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_nsname(ns, sizeof ns, "zlk3x9a2", "R1"), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_nsname(ns, 8, "zlk3x9a2", "r1a"), -ENAMETOOLONG);
    char longhost[TOPO_HOST_MAX + 1];
    memset(longhost, 'h', TOPO_HOST_MAX);
    longhost[TOPO_HOST_MAX] = '\0';
    ZTP_ASSERT_EQ_INT(topo_nsname(ns, sizeof ns, "zlk3x9a2", longhost), TOPO_NSNAME_MAX);

    char rid[TOPO_RUNID_LEN + 1];
    const char *host = NULL;
    CU_ASSERT(topo_nsname_split("zlk3x9a2-dhcp", rid, &host));
    ZTP_ASSERT_EQ_STR(rid, "zlk3x9a2");
    ZTP_ASSERT_EQ_STR(host, "dhcp");
    CU_ASSERT(!topo_nsname_split("zl12345-dhcp", NULL, NULL));  /* lib.sh */
    CU_ASSERT(!topo_nsname_split("zlk3x9a2", NULL, NULL));
    CU_ASSERT(!topo_nsname_split("zlk3x9a2-", NULL, NULL));
    CU_ASSERT(!topo_nsname_split("zlk3x9a2_dhcp", NULL, NULL));
    CU_ASSERT(!topo_nsname_split("pxe-proxy", NULL, NULL));

    struct in_addr a;
    unsigned plen = 99;
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1.2/24", &a, &plen), 0);
    ZTP_ASSERT_EQ_INT(plen, 24);
    ZTP_ASSERT_EQ_INT(ntohl(a.s_addr), 0xc6120102u);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1.2", &a, &plen), 0);
    ZTP_ASSERT_EQ_INT(plen, 32);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("0.0.0.0/0", &a, &plen), 0);
    ZTP_ASSERT_EQ_INT(plen, 0);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1.2/33", &a, &plen), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1.2/", &a, &plen), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1/24", &a, &plen), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("198.18.1.2/2x", &a, &plen), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_cidr("/24", &a, &plen), -EINVAL);

    unsigned char mac[6];
    ZTP_ASSERT_EQ_INT(topo_parse_mac("02:00:5e:0A:ff:01", mac), 0);
    CU_ASSERT(mac[0] == 2 && mac[3] == 0x0a && mac[4] == 0xff && mac[5] == 1);
    ZTP_ASSERT_EQ_INT(topo_parse_mac("02:00:5e:0a:ff", mac), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_mac("02-00-5e-0a-ff-01", mac), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_parse_mac("02:00:5e:0a:ff:0g", mac), -EINVAL);
}

static void test_open_bad_runid(void)
{
    char err[TOPO_ERR_MAX] = "";
    CU_ASSERT_PTR_NULL(topo_open("zl123456", err, sizeof err));
    CU_ASSERT(strstr(err, "zl123456") != NULL);
    CU_ASSERT_PTR_NULL(topo_new("bad", NULL, TOPO_NEW_NO_RECORD, err, sizeof err));
}

/* ---- a 3-namespace topology --------------------------------------------------------------------- */

/* Two hosts on a bridge in a segment namespace:
 *   h1:eth0 198.18.10.1/24 --- seg:br0 --- h2:eth0 198.18.10.2/24, h2:lo 198.18.20.1/32
 *   h1: route 198.18.20.0/24 via 198.18.10.2 */
static struct topo *g_t;
static char g_runid[TOPO_RUNID_LEN + 1];

static void build3(void)
{
    char err[TOPO_ERR_MAX];
    CU_ASSERT_EQUAL_FATAL(topo_runid_new(g_runid), 0);
    g_t = topo_new(g_runid, "test_topo", 0, err, sizeof err);
    if (!g_t)
        fprintf(stderr, "\n  topo_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_t);
    TRY(g_t, topo_ns_add(g_t, "h1", 0));
    TRY(g_t, topo_ns_add(g_t, "h2", 0));
    TRY(g_t, topo_ns_add(g_t, "seg", 0));
    TRY(g_t, topo_bridge(g_t, "seg", "br0"));
    char port[TOPO_IFNAME_MAX + 1];
    TRY(g_t, topo_attach(g_t, "h1", "eth0", "02:00:c6:12:0a:01", "seg", "br0", port, sizeof port));
    ZTP_ASSERT_EQ_STR(port, "p1");
    TRY(g_t, topo_attach(g_t, "h2", "eth0", NULL, "seg", "br0", port, sizeof port));
    ZTP_ASSERT_EQ_STR(port, "p2");
    TRY(g_t, topo_addr_add(g_t, "h1", "eth0", "198.18.10.1/24"));
    TRY(g_t, topo_addr_add(g_t, "h2", "eth0", "198.18.10.2/24"));
    TRY(g_t, topo_addr_add(g_t, "h2", "lo", "198.18.20.1/32"));
    TRY(g_t, topo_route_add(g_t, "h1", "198.18.20.0/24", "198.18.10.2", NULL));
    TRY(g_t, topo_sysctl(g_t, "h2", "net.ipv4.ip_forward", "1"));
    const char *hosts[] = {"198.18.10.2 ep-terminator.mistsys.net", "198.18.10.2 redirect.mistsys.net", NULL};
    TRY(g_t, topo_hosts(g_t, "h1", hosts));
    CU_ASSERT(topo_ns_exists(g_t, "h1"));
    CU_ASSERT(!topo_ns_exists(g_t, "h3"));
    CU_ASSERT(topo_ifindex(g_t, "h1", "eth0") > 0);
}

static void test_build(void)
{
    if (!have_root())
        return;
    build3();
    /* The record names the run and its namespaces. */
    char path[256];
    snprintf(path, sizeof path, "%s/%s.json", topo_run_dir(), g_runid);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CU_ASSERT(strstr(buf, "\"label\": \"test_topo\"") != NULL);
    char want[64];
    snprintf(want, sizeof want, "\"%s-seg\"", g_runid);
    CU_ASSERT(strstr(buf, want) != NULL);
    snprintf(want, sizeof want, "\"pid\": %d", (int)getpid());
    CU_ASSERT(strstr(buf, want) != NULL);
    /* Listed as a live run. */
    struct topo_run_info *runs = NULL;
    size_t nr = 0;
    ZTP_ASSERT_EQ_INT(topo_runs_list(&runs, &nr), 0);
    bool found = false;
    for (size_t i = 0; i < nr; i++)
        if (!strcmp(runs[i].runid, g_runid)) {
            found = true;
            CU_ASSERT(runs[i].alive && runs[i].has_record && !runs[i].keep);
            ZTP_ASSERT_EQ_INT(runs[i].namespaces, 3);
            ZTP_ASSERT_EQ_STR(runs[i].label, "test_topo");
        }
    CU_ASSERT(found);
    free(runs);
}

static void test_errors_name_objects(void)
{
    if (!have_root() || !g_t)
        return;
    char want[256];
    ZTP_ASSERT_EQ_INT(topo_veth(g_t, "h1", "eth0", NULL, "h2", "eth9", NULL), -EEXIST);
    snprintf(want, sizeof want, "veth %s-h1:eth0 -> %s-h2:eth9: File exists", g_runid, g_runid);
    ZTP_ASSERT_EQ_STR(topo_err(g_t), want);
    CU_ASSERT(topo_ifindex(g_t, "h2", "eth9") < 0); /* nothing half-created */

    ZTP_ASSERT_EQ_INT(topo_addr_add(g_t, "h1", "eth7", "198.18.10.9/24"), -ENODEV);
    snprintf(want, sizeof want, "addr 198.18.10.9/24 on %s-h1:eth7: No such device", g_runid);
    ZTP_ASSERT_EQ_STR(topo_err(g_t), want);

    ZTP_ASSERT_EQ_INT(topo_ns_add(g_t, "h1", 0), -EEXIST);
    snprintf(want, sizeof want, "namespace %s-h1: File exists", g_runid);
    ZTP_ASSERT_EQ_STR(topo_err(g_t), want);
    CU_ASSERT(topo_ns_exists(g_t, "h1")); /* a failed add leaves the existing one alone */

    ZTP_ASSERT_EQ_INT(topo_veth(g_t, "h1", "x0", NULL, "nohost", "x1", NULL), -ENOENT);
    CU_ASSERT(strstr(topo_err(g_t), "-nohost: No such file or directory") != NULL);

    ZTP_ASSERT_EQ_INT(topo_route_add(g_t, "h1", "198.18.30.0/24", "198.18.99.1", NULL), -ENETUNREACH);
    snprintf(want, sizeof want, "route 198.18.30.0/24 via 198.18.99.1 in %s-h1: Network is unreachable", g_runid);
    CU_ASSERT(strncmp(topo_err(g_t), want, strlen(want)) == 0);
    if (strncmp(topo_err(g_t), want, strlen(want)) != 0)
        fprintf(stderr, "\n  got: %s\n", topo_err(g_t));

    ZTP_ASSERT_EQ_INT(topo_veth(g_t, "h1", "this-is-too-long0", NULL, "h2", "x", NULL), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_veth(g_t, "h1", "m0", "02:00", "h2", "m1", NULL), -EINVAL);
    CU_ASSERT(strstr(topo_err(g_t), "MAC \"02:00\"") != NULL);
    ZTP_ASSERT_EQ_INT(topo_addr_add(g_t, "h1", "eth0", "198.18.10.300/24"), -EINVAL);
    ZTP_ASSERT_EQ_INT(topo_sysctl(g_t, "h1", "net/../../x", "1"), -EINVAL);
}

/* UDP: bind 198.18.20.1:5555 in h2 (a child that entered h2), send from h1 through the route. */
struct udp_arg {
    char ns[TOPO_NSNAME_MAX + 1];
    int ready_fd;
};

static int udp_echo_child(void *argp, int out)
{
    struct udp_arg *arg = argp;
    char err[TOPO_ERR_MAX];
    if (topo_enter(arg->ns, err, sizeof err) < 0) {
        put(out, err);
        return 1;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5555)};
    inet_pton(AF_INET, "198.18.20.1", &sa.sin_addr);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        put(out, "bind failed");
        return 1;
    }
    put(arg->ready_fd, "R");
    char buf[256];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &fl);
    if (n <= 0)
        return 1;
    memcpy(buf, "echo:", 5);
    sendto(s, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, fl);
    char fs[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from.sin_addr, fs, sizeof fs);
    put(out, fs);
    return 0;
}

struct udp_run {
    struct udp_arg arg;
    int ready[2];
};

static int udp_child_wrapper(void *p, int out)
{
    struct udp_run *r = p;
    close(r->ready[0]);
    r->arg.ready_fd = r->ready[1];
    return udp_echo_child(&r->arg, out);
}

static void test_udp_between_namespaces(void)
{
    if (!have_root() || !g_t)
        return;
    struct udp_run run;
    CU_ASSERT_FATAL(topo_host_ns(g_t, "h2", run.arg.ns, sizeof run.arg.ns) > 0);
    CU_ASSERT_EQUAL_FATAL(pipe(run.ready), 0);
    /* The echo child runs while this process sends: fork it by hand (in_child waits). */
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        alarm(10);
        _exit(udp_child_wrapper(&run, p[1]));
    }
    close(p[1]);
    close(run.ready[1]);
    char c = 0;
    CU_ASSERT_EQUAL(read(run.ready[0], &c, 1), 1);
    close(run.ready[0]);

    int s = topo_socket(g_t, "h1", AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(s >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5555)};
    inet_pton(AF_INET, "198.18.20.1", &to.sin_addr);
    CU_ASSERT_EQUAL(sendto(s, "hello", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    char buf[64] = "";
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    CU_ASSERT_EQUAL(n, 10);
    if (n > 0)
        buf[n] = '\0';
    ZTP_ASSERT_EQ_STR(buf, "echo:hello");
    close(s);
    /* What the peer saw: the datagram came from h1's address. */
    char saw[64] = "";
    n = read(p[0], saw, sizeof saw - 1);
    saw[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ZTP_ASSERT_EQ_STR(saw, "198.18.10.1");

    /* The socket of another host cannot reach h2's lo address (no route there). */
    s = topo_socket(g_t, "seg", AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(s >= 0);
    CU_ASSERT(sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno == ENETUNREACH);
    close(s);
}

/* In a child that entered h1 like `ip netns exec`: resolve the Mist name, read the sysctls. */
static int resolve_child(void *argp, int out)
{
    const char *ns = argp;
    char err[TOPO_ERR_MAX];
    if (topo_enter(ns, err, sizeof err) < 0) {
        put(out, err);
        return 1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo("ep-terminator.mistsys.net", "443", &hints, &res);
    if (rc != 0) {
        put(out, gai_strerror(rc));
        return 1;
    }
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, a, sizeof a);
    freeaddrinfo(res);
    put(out, a);
    /* /sys shows this namespace: exactly lo and eth0. */
    unsigned nif = 0;
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            nif++;
    if (d)
        closedir(d);
    put(out, nif == 2 && access("/sys/class/net/eth0", F_OK) == 0 ? " sys=ns" : " sys=host");
    return 0;
}

static int sysctl_child(void *argp, int out)
{
    const char *ns = argp;
    char err[TOPO_ERR_MAX];
    if (topo_enter(ns, err, sizeof err) < 0) {
        put(out, err);
        return 1;
    }
    char buf[16] = "";
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    put(out, buf);
    fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_RDONLY);
    n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    put(out, buf);
    return 0;
}

static void test_hosts_and_sysctl(void)
{
    if (!have_root() || !g_t)
        return;
    char ns[TOPO_NSNAME_MAX + 1], out[512];
    topo_host_ns(g_t, "h1", ns, sizeof ns);
    ZTP_ASSERT_EQ_INT(in_child(resolve_child, ns, out, sizeof out), 0);
    ZTP_ASSERT_EQ_STR(out, "198.18.10.2 sys=ns");
    /* The lab's own /etc/hosts is untouched. */
    FILE *f = fopen("/etc/hosts", "r");
    if (f) {
        char line[512];
        bool leaked = false;
        while (fgets(line, sizeof line, f))
            if (strstr(line, "ep-terminator.mistsys.net"))
                leaked = true;
        fclose(f);
        CU_ASSERT(!leaked);
    }
    /* ip_forward=1 in h2 only; IPv6 disabled by default. */
    topo_host_ns(g_t, "h2", ns, sizeof ns);
    ZTP_ASSERT_EQ_INT(in_child(sysctl_child, ns, out, sizeof out), 0);
    ZTP_ASSERT_EQ_STR(out, "1\n1\n");
    topo_host_ns(g_t, "h1", ns, sizeof ns);
    ZTP_ASSERT_EQ_INT(in_child(sysctl_child, ns, out, sizeof out), 0);
    ZTP_ASSERT_EQ_STR(out, "0\n1\n");
}

static void test_iproute2_sees_namespaces(void)
{
    if (!have_root() || !g_t)
        return;
    if (strcmp(topo_netns_dir(), TOPO_NETNS_DIR) != 0)
        return;
    /* `ip netns list` sees them; `ip netns exec` sees the hosts file topo wrote for h1. */
    char h1[TOPO_NSNAME_MAX + 1], cmd[256];
    topo_host_ns(g_t, "h1", h1, sizeof h1);
    snprintf(cmd, sizeof cmd, "ip netns list 2>&1; ip netns exec %s getent hosts ep-terminator.mistsys.net 2>&1", h1);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    pclose(p);
    if (strcmp(topo_etc_dir(), TOPO_ETC_DIR) == 0) { /* else (userns without /etc/netns) only topo_enter */
        if (!strstr(buf, "198.18.10.2     ep-terminator.mistsys.net"))
            fprintf(stderr, "\n  `ip netns exec %s getent hosts` did not resolve through the hosts file:\n%s\n", h1,
                    buf);
        CU_ASSERT(strstr(buf, "198.18.10.2     ep-terminator.mistsys.net") != NULL);
    }
    const char *hosts[] = {"h1", "h2", "seg"};
    for (size_t i = 0; i < 3; i++) {
        char ns[TOPO_NSNAME_MAX + 1];
        topo_host_ns(g_t, hosts[i], ns, sizeof ns);
        if (!strstr(buf, ns))
            fprintf(stderr, "\n  `ip netns list` lacks %s:\n%s\n", ns, buf);
        CU_ASSERT(strstr(buf, ns) != NULL);
    }
}

static void test_link_down_up(void)
{
    if (!have_root() || !g_t)
        return;
    TRY(g_t, topo_link_set(g_t, "h1", "eth0", false));
    int s = topo_socket(g_t, "h1", AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(s >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "198.18.10.2", &to.sin_addr);
    CU_ASSERT(sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof to) < 0); /* no route while down */
    TRY(g_t, topo_link_set(g_t, "h1", "eth0", true));
    TRY(g_t, topo_addr_del(g_t, "h2", "lo", "198.18.20.1/32"));
    ZTP_ASSERT_EQ_INT(topo_addr_del(g_t, "h2", "lo", "198.18.20.1/32"), -EADDRNOTAVAIL);
    close(s);
}

static void test_teardown(void)
{
    if (!have_root() || !g_t)
        return;
    char prefix[TOPO_RUNID_LEN + 2];
    snprintf(prefix, sizeof prefix, "%s-", g_runid);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), prefix), 3);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_etc_dir(), prefix), 1);
    TRY(g_t, topo_destroy(g_t));
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), prefix), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_etc_dir(), prefix), 0);
    CU_ASSERT(!record_exists(topo_run_dir(), g_runid));
    topo_free(g_t);
    g_t = NULL;
    char err[TOPO_ERR_MAX];
    ZTP_ASSERT_EQ_INT(topo_run_remove(g_runid, err, sizeof err), -ENOENT);
}

/* ---- cleaning: a crashed run goes, a live run and a kept run stay ----------------------------- */

struct crash_arg {
    char runid[TOPO_RUNID_LEN + 1];
    unsigned flags;
};

/* A run that builds two namespaces and a hosts file, then dies without teardown. */
static int crashing_run(void *argp, int out)
{
    struct crash_arg *a = argp;
    char err[TOPO_ERR_MAX];
    struct topo *t = topo_new(a->runid, "crashed", a->flags, err, sizeof err);
    if (!t) {
        put(out, err);
        return 1;
    }
    const char *hosts[] = {"198.18.0.1 x", NULL};
    if (topo_ns_add(t, "a", 0) < 0 || topo_ns_add(t, "b", 0) < 0 ||
        topo_veth(t, "a", "e0", NULL, "b", "e0", NULL) < 0 || topo_hosts(t, "a", hosts) < 0) {
        put(out, topo_err(t));
        return 1;
    }
    return 0; /* "crash": no topo_destroy */
}

static char g_dirs[128];
static char g_saved[3][256];

static void private_dirs(void)
{
    snprintf(g_saved[0], sizeof g_saved[0], "%s", topo_netns_dir());
    snprintf(g_saved[1], sizeof g_saved[1], "%s", topo_etc_dir());
    snprintf(g_saved[2], sizeof g_saved[2], "%s", topo_run_dir());
    snprintf(g_dirs, sizeof g_dirs, "/run/ztp-lab-test-%d", (int)getpid());
    mkdir(g_dirs, 0755);
    char n[192], e[192], r[192];
    snprintf(n, sizeof n, "%s/netns", g_dirs);
    snprintf(e, sizeof e, "%s/etc", g_dirs);
    snprintf(r, sizeof r, "%s/runs", g_dirs);
    topo_set_dirs(n, e, r);
}

static void restore_dirs(void)
{
    char cmd[256];
    /* The private netns dir is a bind mount point (made shared by topo): unmount, then remove. */
    char n[192];
    snprintf(n, sizeof n, "%s/netns", g_dirs);
    umount2(n, MNT_DETACH);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dirs);
    CU_ASSERT_EQUAL(system(cmd), 0);
    topo_set_dirs(g_saved[0], g_saved[1], g_saved[2]);
}

static void test_clean_all(void)
{
    if (!have_root())
        return;
    private_dirs();
    char out[512], err[TOPO_ERR_MAX];
    struct crash_arg dead, kept;
    topo_runid_new(dead.runid);
    dead.flags = 0;
    topo_runid_new(kept.runid);
    kept.flags = TOPO_NEW_KEEP;
    ZTP_ASSERT_EQ_INT(in_child(crashing_run, &dead, out, sizeof out), 0);
    if (out[0])
        fprintf(stderr, "\n  crashing run: %s\n", out);
    ZTP_ASSERT_EQ_INT(in_child(crashing_run, &kept, out, sizeof out), 0);

    /* A live run: this process. */
    char live_id[TOPO_RUNID_LEN + 1];
    topo_runid_new(live_id);
    struct topo *live = topo_new(live_id, "live", 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(live);
    TRY(live, topo_ns_add(live, "a", 0));
    /* A leftover without any record (e.g. made by an older lab). */
    char orphan_id[TOPO_RUNID_LEN + 1];
    topo_runid_new(orphan_id);
    struct topo *orphan = topo_new(orphan_id, NULL, TOPO_NEW_NO_RECORD, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(orphan);
    TRY(orphan, topo_ns_add(orphan, "a", 0));
    topo_free(orphan);

    struct topo_clean_report rep;
    ZTP_ASSERT_EQ_INT(topo_clean_all(NULL, TOPO_CLEAN_DRY_RUN, &rep, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(rep.runs_removed, 2);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), dead.runid), 2);

    ZTP_ASSERT_EQ_INT(topo_clean_all(NULL, 0, &rep, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(rep.runs_removed, 2);  /* dead + orphan */
    ZTP_ASSERT_EQ_INT(rep.runs_alive, 1);
    ZTP_ASSERT_EQ_INT(rep.runs_kept, 1);
    ZTP_ASSERT_EQ_INT(rep.netns_removed, 3);
    ZTP_ASSERT_EQ_INT(rep.etc_removed, 1);
    ZTP_ASSERT_EQ_INT(rep.records_removed, 1);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), dead.runid), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_etc_dir(), dead.runid), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), orphan_id), 0);
    CU_ASSERT(!record_exists(topo_run_dir(), dead.runid));
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), live_id), 1);
    CU_ASSERT(topo_ns_exists(live, "a"));
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), kept.runid), 2);

    /* `lab clean --all` takes the kept run too; still not the live one. */
    ZTP_ASSERT_EQ_INT(topo_clean_all(NULL, TOPO_CLEAN_KEPT, &rep, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(rep.runs_removed, 1);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), kept.runid), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_etc_dir(), kept.runid), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), live_id), 1);

    /* `lab down`: one run, whatever its pid. */
    ZTP_ASSERT_EQ_INT(topo_run_remove(live_id, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), live_id), 0);
    CU_ASSERT(!record_exists(topo_run_dir(), live_id));
    topo_free(live);
    restore_dirs();
}

/* ---- bigger topology: 10 namespaces, 12 links; time printed, never asserted -------------------- */

static void test_ten_namespaces(void)
{
    if (!have_root())
        return;
    char id[TOPO_RUNID_LEN + 1], err[TOPO_ERR_MAX];
    topo_runid_new(id);
    double t0 = now_ms();
    struct topo *t = topo_new(id, "bench", 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* 3 segments (mpls, internet, ha) + 7 hosts: r1a r1b dhcp proxy1 proxy2 mist cond.
     * Links: r1a,r1b,dhcp,proxy1,proxy2 on mpls (5); proxy1,proxy2,mist,cond on internet (4);
     * r1a,r1b on ha (2); r1a-r1b direct fabric (1) = 12. */
    const char *segs[] = {"s-mpls", "s-inet", "s-ha"};
    const char *hosts[] = {"r1a", "r1b", "dhcp", "proxy1", "proxy2", "mist", "cond"};
    for (size_t i = 0; i < 3; i++) {
        TRY(t, topo_ns_add(t, segs[i], 0));
        TRY(t, topo_bridge(t, segs[i], "br0"));
    }
    for (size_t i = 0; i < 7; i++)
        TRY(t, topo_ns_add(t, hosts[i], 0));
    struct {
        const char *host, *ifname, *seg, *addr;
    } links[] = {
        {"r1a", "wan0", "s-mpls", "198.18.1.11/24"},   {"r1b", "wan0", "s-mpls", "198.18.1.12/24"},
        {"dhcp", "eth0", "s-mpls", "198.18.1.2/24"},   {"proxy1", "eth0", "s-mpls", "198.18.1.8/24"},
        {"proxy2", "eth0", "s-mpls", "198.18.1.9/24"}, {"proxy1", "eth1", "s-inet", "198.18.2.8/24"},
        {"proxy2", "eth1", "s-inet", "198.18.2.9/24"}, {"mist", "eth0", "s-inet", "198.18.2.20/24"},
        {"cond", "eth0", "s-inet", "198.18.2.30/24"},  {"r1a", "ha0", "s-ha", "198.18.3.1/30"},
        {"r1b", "ha0", "s-ha", "198.18.3.2/30"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        TRY(t, topo_attach(t, links[i].host, links[i].ifname, NULL, links[i].seg, "br0", NULL, 0));
        TRY(t, topo_addr_add(t, links[i].host, links[i].ifname, links[i].addr));
    }
    TRY(t, topo_veth(t, "r1a", "fab0", NULL, "r1b", "fab0", NULL));
    TRY(t, topo_addr_add(t, "r1a", "fab0", "198.18.4.1/30"));
    TRY(t, topo_addr_add(t, "r1b", "fab0", "198.18.4.2/30"));
    TRY(t, topo_route_add(t, "mist", "198.18.1.0/24", "198.18.2.8", NULL));
    TRY(t, topo_sysctl(t, "proxy1", "net.ipv4.ip_forward", "0"));
    const char *hl[] = {"198.18.2.20 ep-terminator.mistsys.net", NULL};
    TRY(t, topo_hosts(t, "proxy1", hl));
    TRY(t, topo_hosts(t, "proxy2", hl));
    double t1 = now_ms();
    TRY(t, topo_destroy(t));
    double t2 = now_ms();
    topo_free(t);
    char prefix[TOPO_RUNID_LEN + 2];
    snprintf(prefix, sizeof prefix, "%s-", id);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_netns_dir(), prefix), 0);
    ZTP_ASSERT_EQ_INT(count_prefix(topo_etc_dir(), prefix), 0);
    printf("\n  [topo] 10 namespaces / 12 links / 14 addresses: build %.1f ms, teardown %.1f ms\n", t1 - t0,
           t2 - t1);
}

/* ---- unprivileged: the same topology inside the lab's own user namespace ---------------------- */

static int userns_child(void *argp, int out)
{
    (void)argp;
    if (geteuid() == 0) {
        /* Root runs the test: become an ordinary user first (nobody). */
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
            put(out, "SKIP cannot drop to uid 65534");
            return 0;
        }
        /* setuid() from root made us non-dumpable, which makes /proc/self/{uid_map,setgroups}
         * root's; an exec'd ordinary program is dumpable, so restore that. */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
    char why[512];
    int rc = userns_enter(why, sizeof why);
    if (rc != USERNS_ENTERED) {
        put(out, "SKIP ");
        put(out, rc < 0 ? why : "unexpected: still root");
        return 0;
    }
    char id[TOPO_RUNID_LEN + 1], err[TOPO_ERR_MAX];
    topo_runid_new(id);
    struct topo *t = topo_new(id, "userns", 0, err, sizeof err);
    if (!t) {
        put(out, err);
        return 1;
    }
    const char *hl[] = {"198.18.30.2 ep-terminator.mistsys.net", NULL};
    if (topo_ns_add(t, "a", 0) < 0 || topo_ns_add(t, "b", 0) < 0 || topo_ns_add(t, "s", 0) < 0 ||
        topo_bridge(t, "s", "br0") < 0 || topo_attach(t, "a", "eth0", NULL, "s", "br0", NULL, 0) < 0 ||
        topo_attach(t, "b", "eth0", NULL, "s", "br0", NULL, 0) < 0 ||
        topo_addr_add(t, "a", "eth0", "198.18.30.1/24") < 0 || topo_addr_add(t, "b", "eth0", "198.18.30.2/24") < 0 ||
        topo_sysctl(t, "a", "net.ipv4.ip_forward", "1") < 0 || topo_hosts(t, "a", hl) < 0) {
        put(out, topo_err(t));
        return 1;
    }
    /* UDP a -> b. */
    int sb = topo_socket(t, "b", AF_INET, SOCK_DGRAM, 0);
    int sa = topo_socket(t, "a", AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(5556)};
    inet_pton(AF_INET, "198.18.30.2", &b.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(sb, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (sa < 0 || sb < 0 || bind(sb, (struct sockaddr *)&b, sizeof b) < 0 ||
        sendto(sa, "hi", 2, 0, (struct sockaddr *)&b, sizeof b) != 2) {
        put(out, "udp setup failed");
        return 1;
    }
    char buf[8] = "";
    if (recv(sb, buf, sizeof buf - 1, 0) != 2 || strcmp(buf, "hi") != 0) {
        put(out, "udp not received");
        return 1;
    }
    /* The hosts file through topo_enter, in a grandchild. */
    char ns[TOPO_NSNAME_MAX + 1], res[256];
    topo_host_ns(t, "a", ns, sizeof ns);
    rc = in_child(resolve_child, ns, res, sizeof res);
    if (rc != 0 || strcmp(res, "198.18.30.2 sys=ns") != 0) {
        put(out, "resolve: ");
        put(out, res);
        return 1;
    }
    put(out, "OK ");
    put(out, id);
    /* No teardown: everything goes with this process's namespaces. */
    return 0;
}

static void test_userns(void)
{
    char out[1024];
    if (g_in_userns) {
        printf("\n  [topo] the whole suite ran in the lab's own user namespace (unprivileged mode)\n");
        return;
    }
    int rc = in_child(userns_child, NULL, out, sizeof out);
    if (strncmp(out, "SKIP", 4) == 0) {
        printf("\n  [topo] unprivileged mode not available here: %s\n", out + 5);
        return;
    }
    if (rc != 0)
        fprintf(stderr, "\n  userns child: %s\n", out);
    ZTP_ASSERT_EQ_INT(rc, 0);
    CU_ASSERT(strncmp(out, "OK zl", 5) == 0);
    /* Nothing of it is visible on the host. */
    if (strncmp(out, "OK ", 3) == 0) {
        ZTP_ASSERT_EQ_INT(count_prefix(TOPO_NETNS_DIR, out + 3), 0);
        ZTP_ASSERT_EQ_INT(count_prefix(TOPO_ETC_DIR, out + 3), 0);
        CU_ASSERT(!record_exists(TOPO_RUN_DIR, out + 3));
    }
    char why[512] = "";
    rc = userns_probe(why, sizeof why);
    CU_ASSERT(rc == USERNS_ROOT || rc == USERNS_ENTERED);
}

static void test_userns_explain(void)
{
    char why[512];
    userns_explain(EPERM, why, sizeof why);
    CU_ASSERT(strstr(why, "root") != NULL);
    CU_ASSERT(strlen(why) > 20);
}

static const struct ztp_test name_tests[] = {
    {"run ids, hosts, ifnames, ns names, cidr, mac", test_names},
    {"bad run id refused", test_open_bad_runid},
    {"userns explanation names a fix", test_userns_explain},
    {NULL, NULL},
};

static const struct ztp_test ns_tests[] = {
    {"3 namespaces, bridge, addresses, route, record", test_build},
    {"errors name the object and the cause", test_errors_name_objects},
    {"UDP between namespaces through the route", test_udp_between_namespaces},
    {"hosts file via topo_enter + getaddrinfo; sysctls", test_hosts_and_sysctl},
    {"ip netns list sees the namespaces", test_iproute2_sees_namespaces},
    {"link down/up, addr del", test_link_down_up},
    {"teardown leaves nothing", test_teardown},
    {"clean: dead run removed, live and kept runs stay", test_clean_all},
    {"10 namespaces / 12 links build + teardown", test_ten_namespaces},
    {NULL, NULL},
};

static const struct ztp_test userns_tests[] = {
    {"unprivileged topology in a user namespace", test_userns},
    {NULL, NULL},
};

static const struct ztp_suite suites[] = {
    {"topo names", name_tests},
    {"topo namespaces (root)", ns_tests},
    {"topo unprivileged", userns_tests},
    {NULL, NULL},
};

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Not root: do what `lab` does, enter its own user namespace, and run everything there. */
    if (geteuid() != 0) {
        int r = userns_enter(g_userns_why, sizeof g_userns_why);
        g_in_userns = r == USERNS_ENTERED;
        if (g_in_userns)
            printf("[topo] not root: running inside the lab's own user namespace\n");
    }
    int rc = ztp_cunit_run(suites);
    if (g_t) { /* a fatal assertion left the 3-namespace run: remove it */
        topo_destroy(g_t);
        topo_free(g_t);
    }
    return rc;
}
