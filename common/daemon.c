#include "ztp/daemon.h"

#include <errno.h>
#include <stdbool.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void daemon_ready(void)
{
    const char *fd_s = getenv("ZTP_READY_FD");
    if (fd_s && *fd_s) {
        char *end;
        long fd = strtol(fd_s, &end, 10);
        if (*end == '\0' && fd > 2 && fd < 65536) {
            static const char msg[] = "READY\n";
            ssize_t w = write((int)fd, msg, sizeof msg - 1);
            (void)w;
            close((int)fd);
        }
        unsetenv("ZTP_READY_FD");
    }
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && (ns[0] == '/' || ns[0] == '@') && strlen(ns) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, ns, strlen(ns));
        if (sa.sun_path[0] == '@')
            sa.sun_path[0] = '\0';
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s >= 0) {
            static const char msg[] = "READY=1";
            ssize_t w = sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa,
                               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns)));
            (void)w;
            close(s);
        }
    }
}

int daemon_signalfd(void)
{
    sigset_t set;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int atomic_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096], dir[4096];
    int fd, r;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, (mode_t)mode) < 0)
        goto fail;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    r = -errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return r;
}

int read_file_max(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t n = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (r == 0 || (n += (size_t)r) == (size_t)st.st_size)
            break;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static bool is_atomic_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name)
        return false;
    const char *d = t + 5;
    if (!*d)
        return false;
    for (; *d; d++)
        if (*d < '0' || *d > '9')
            return false;
    return true;
}

int atomic_write_sweep(const char *dir, unsigned depth, void (*on_removed)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) {
                int k = atomic_write_sweep(p, depth - 1, on_removed, ctx);
                if (k > 0)
                    n += k;
            }
        } else if (S_ISREG(st.st_mode) && is_atomic_tmp(e->d_name) && unlink(p) == 0) {
            n++;
            if (on_removed)
                on_removed(p, ctx);
        }
    }
    closedir(d);
    return n;
}
