/* Unprivileged lab runs in a user + mount + network namespace of their own: see userns.h. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "topo.h"
#include "ztp/log.h"

static const char *g_mode = "none";

const char *userns_mode(void)
{
    if (g_mode[0] == 'n' && geteuid() == 0)
        return "root";
    return g_mode;
}

/* Integer value of a sysctl file, or -1 when it does not exist or is unreadable. */
static long sysctl_long(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

void userns_explain(int errno_hint, char *why, size_t cap)
{
    if (!why || !cap)
        return;
    if (sysctl_long("/proc/sys/kernel/unprivileged_userns_clone") == 0)
        snprintf(why, cap,
                 "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): run the lab "
                 "as root (sudo), or allow them with `sysctl -w kernel.unprivileged_userns_clone=1`");
    else if (sysctl_long("/proc/sys/user/max_user_namespaces") == 0)
        snprintf(why, cap,
                 "user namespaces are disabled (user.max_user_namespaces = 0): run the lab as root (sudo), or "
                 "allow them with `sysctl -w user.max_user_namespaces=15000`");
    else if (sysctl_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
        snprintf(why, cap,
                 "AppArmor restricts unprivileged user namespaces "
                 "(kernel.apparmor_restrict_unprivileged_userns = 1): run the lab as root (sudo), or set it to 0");
    else if (errno_hint == EINVAL)
        snprintf(why, cap,
                 "unshare(CLONE_NEWUSER) failed with EINVAL: the process is multi-threaded or chrooted; "
                 "userns_enter() must run first thing in main (or run the lab as root)");
    else if (errno_hint == ENOSPC || errno_hint == EUSERS)
        snprintf(why, cap,
                 "the user namespace limit is reached (user.max_user_namespaces, or nesting deeper than 32): "
                 "raise it or run the lab as root (sudo)");
    else if (errno_hint == EPERM || errno_hint == EACCES)
        snprintf(why, cap,
                 "unprivileged user namespaces are refused (%s) although the sysctls allow them: a seccomp "
                 "filter (Docker's default profile) or a security module blocks unshare(CLONE_NEWUSER); run the "
                 "lab as root or in a privileged container",
                 strerror(errno_hint));
    else
        snprintf(why, cap, "cannot enter a user namespace (%s): run the lab as root (sudo)",
                 strerror(errno_hint));
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int rc = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
    close(fd);
    return rc;
}

int userns_enter(char *why, size_t cap)
{
    if (geteuid() == 0) {
        if (g_mode[0] == 'n')
            g_mode = "root";
        return USERNS_ROOT;
    }
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) < 0) {
        int e = errno;
        userns_explain(e, why, cap);
        return -e;
    }
    char map[64];
    int rc = write_file("/proc/self/setgroups", "deny");
    if (rc < 0 && rc != -ENOENT) { /* ENOENT: kernels < 3.19 have no setgroups file */
        snprintf(why, cap, "user namespace: write /proc/self/setgroups: %s", strerror(-rc));
        return rc;
    }
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    rc = write_file("/proc/self/uid_map", map);
    if (rc < 0) {
        snprintf(why, cap, "user namespace: write /proc/self/uid_map \"0 %u 1\": %s", (unsigned)uid, strerror(-rc));
        return rc;
    }
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    rc = write_file("/proc/self/gid_map", map);
    if (rc < 0) {
        snprintf(why, cap, "user namespace: write /proc/self/gid_map \"0 %u 1\": %s", (unsigned)gid, strerror(-rc));
        return rc;
    }
    /* Our mounts stay ours; the host's still show (as slaves) except what we cover. */
    if (mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
        rc = -errno;
        snprintf(why, cap, "user namespace: mount --make-rslave /: %s", strerror(-rc));
        return rc;
    }
    /* A private, writable /run: /run/netns and /run/ztp-lab live there. */
    if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
        rc = -errno;
        snprintf(why, cap, "user namespace: mount tmpfs on /run: %s", strerror(-rc));
        return rc;
    }
    if (mkdir(TOPO_NETNS_DIR, 0755) < 0 || mkdir(TOPO_RUN_DIR, 0755) < 0) {
        rc = -errno;
        snprintf(why, cap, "user namespace: mkdir in the private /run: %s", strerror(-rc));
        return rc;
    }
    /* /etc/netns: cover it when it exists (iproute2 inside sees ours); otherwise keep the
     * per-namespace /etc files in the private /run (only topo_enter reads them). */
    struct stat st;
    if (stat(TOPO_ETC_DIR, &st) == 0 && S_ISDIR(st.st_mode) &&
        mount("tmpfs", TOPO_ETC_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0) {
        topo_set_dirs(TOPO_NETNS_DIR, TOPO_ETC_DIR, TOPO_RUN_DIR);
    } else {
        if (mkdir(TOPO_RUN_DIR "/etc", 0755) < 0) {
            rc = -errno;
            snprintf(why, cap, "user namespace: mkdir %s/etc: %s", TOPO_RUN_DIR, strerror(-rc));
            return rc;
        }
        topo_set_dirs(TOPO_NETNS_DIR, TOPO_RUN_DIR "/etc", TOPO_RUN_DIR);
    }
    g_mode = "userns";
    log_debug("lab.userns", "uid=%u gid=%u etc_dir=%s", (unsigned)uid, (unsigned)gid, topo_etc_dir());
    return USERNS_ENTERED;
}

int userns_probe(char *why, size_t cap)
{
    if (geteuid() == 0)
        return USERNS_ROOT;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        char msg[512] = "";
        close(p[0]);
        int rc = userns_enter(msg, sizeof msg);
        if (rc < 0) {
            ssize_t w = write(p[1], msg, strlen(msg));
            (void)w;
        }
        _exit(rc < 0 ? (-rc & 0xff) : 0);
    }
    close(p[1]);
    char msg[512];
    ssize_t n = read(p[0], msg, sizeof msg - 1);
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return USERNS_ENTERED;
    int e = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
    if (n > 0) {
        msg[n] = '\0';
        snprintf(why, cap, "%s", msg);
    } else {
        userns_explain(e, why, cap);
    }
    return -e;
}
