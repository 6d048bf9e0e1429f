/* Processes of a lab run (see proc.h). */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "topo.h"

static volatile sig_atomic_t *cancel_flag;

void proc_set_cancel_flag(volatile sig_atomic_t *flag) { cancel_flag = flag; }
bool proc_cancelled(void) { return cancel_flag && *cancel_flag; }

double proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !proc_cancelled())
        ;
}

/* In a new child (fork or light start), system calls only: its own process group, SIGKILL when the
 * lab dies (unless detached), no blocked or handled signal, stdin /dev/null, stdout+stderr appended
 * to log_path, the readiness pipe as fd 3, nothing else open. Exits 127 when that fails. */
static void child_setup(bool detach, pid_t parent, const char *log_path, int ready_wr)
{
    setpgid(0, 0);
    if (!detach) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) /* the child's own table: a light start has no CLONE_SIGHAND */
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    int logfd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0)
        _exit(127);
    /* move everything above the target numbers first, so no dup2 clobbers a source */
    logfd = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
    nullfd = fcntl(nullfd, F_DUPFD_CLOEXEC, 10);
    if (ready_wr >= 0)
        ready_wr = fcntl(ready_wr, F_DUPFD_CLOEXEC, 10);
    if (logfd < 0 || nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        _exit(127);
    if (ready_wr >= 0 && dup2(ready_wr, 3) < 0)
        _exit(127);
    close_range(ready_wr >= 0 ? 4 : 3, ~0u, 0);
}

/* In the child, after fork(): never returns. */
static void child_exec(const struct proc_spec *s, pid_t parent, int ready_wr)
{
    child_setup(s->detach, parent, s->log_path, ready_wr);

    if (s->nsname) {
        char err[512];
        if (topo_enter(s->nsname, err, sizeof(err)) < 0) {
            dprintf(2, "lab: %s: %s\n", s->name, err);
            _exit(127);
        }
    }
    if (s->cwd && chdir(s->cwd) < 0) {
        dprintf(2, "lab: %s: chdir %s: %s\n", s->name, s->cwd, strerror(errno));
        _exit(127);
    }
    unsetenv("ZTP_READY_FD");
    unsetenv("NOTIFY_SOCKET");
    for (const char *const *e = s->env; e && *e; e++)
        putenv((char *)(uintptr_t)*e);
    if (ready_wr >= 0)
        setenv("ZTP_READY_FD", "3", 1);
    if (s->child_fn) {
        fflush(NULL);
        _exit(s->child_fn(s->child_ctx));
    }
    execvp(s->argv[0], s->argv);
    dprintf(2, "lab: %s: cannot run %s: %s\n", s->name, s->argv[0], strerror(errno));
    _exit(127);
}

/* ---- light start: clone(CLONE_VM | CLONE_VFORK) ----
 * The child shares the lab's memory until it execs (the lab waits meanwhile), so it only makes
 * system calls on what light_spawn() prepared: no malloc, no stdio, no environment changes. */
struct light_child {
    char *const *argv;
    char **envp;
    const char *log_path, *cwd;
    int nsfd, ready_wr, nice;
    bool pdeath;
    pid_t parent;
};

static void light_fail(const char *what)
{
    static const char pre[] = "lab: cannot start the process: ";
    (void)!write(2, pre, sizeof pre - 1);
    (void)!write(2, what, strlen(what));
    (void)!write(2, "\n", 1);
    _exit(127);
}

static int light_main(void *arg)
{
    const struct light_child *c = arg;
    if (c->nsfd >= 0 && setns(c->nsfd, CLONE_NEWNET) < 0)
        light_fail("setns");
    child_setup(!c->pdeath, c->parent, c->log_path, c->ready_wr);
    if (c->nice && setpriority(PRIO_PROCESS, 0, c->nice) < 0)
        light_fail("setpriority");
    if (c->cwd && chdir(c->cwd) < 0)
        light_fail("chdir");
    execve(c->argv[0], c->argv, c->envp);
    light_fail(c->argv[0]);
    return 127;
}

static bool env_skip(const char *e)
{
    return !strncmp(e, "ZTP_READY_FD=", 13) || !strncmp(e, "NOTIFY_SOCKET=", 14);
}

static pid_t light_spawn(const struct proc_spec *s, int *ready_rd, char *err, size_t errlen)
{
    extern char **environ;
    if (s->child_fn || !s->argv || !s->argv[0] || !strchr(s->argv[0], '/')) {
        snprintf(err, errlen, "%s: a light start needs argv[0] with a path and no child_fn", s->name);
        return -1;
    }
    size_t n = 0, extra = 0;
    while (environ && environ[n])
        n++;
    while (s->env && s->env[extra])
        extra++;
    char **envp = calloc(n + extra + 2, sizeof(char *));
    size_t stack_sz = 64 * 1024;
    char *stack = malloc(stack_sz);
    int pfd[2] = {-1, -1};
    int nsfd = s->netns_path ? open(s->netns_path, O_RDONLY | O_CLOEXEC) : -1;
    pid_t pid = -1;
    if (!envp || !stack) {
        snprintf(err, errlen, "%s: out of memory", s->name);
        goto out;
    }
    if (s->netns_path && nsfd < 0) {
        snprintf(err, errlen, "%s: open %s: %s", s->name, s->netns_path, strerror(errno));
        goto out;
    }
    if (ready_rd && pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s: pipe: %s", s->name, strerror(errno));
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_skip(environ[i]))
            envp[k++] = environ[i];
    for (size_t i = 0; i < extra; i++)
        envp[k++] = (char *)(uintptr_t)s->env[i];
    if (ready_rd)
        envp[k++] = "ZTP_READY_FD=3";
    envp[k] = NULL;
    struct light_child c = {.argv = s->argv, .envp = envp, .log_path = s->log_path, .cwd = s->cwd, .nsfd = nsfd,
                            .ready_wr = ready_rd ? pfd[1] : -1, .nice = s->nice, .pdeath = !s->detach,
                            .parent = getpid()};
    fflush(NULL);
    pid = clone(light_main, stack + stack_sz, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    if (pid < 0) {
        snprintf(err, errlen, "%s: clone: %s", s->name, strerror(errno));
        goto out;
    }
    setpgid(pid, pid);
    if (ready_rd) {
        close(pfd[1]);
        pfd[1] = -1;
        *ready_rd = pfd[0];
        pfd[0] = -1;
    }
out:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (nsfd >= 0)
        close(nsfd);
    free(stack);
    free(envp);
    return pid;
}

static pid_t spawn(const struct proc_spec *s, int *ready_rd, char *err, size_t errlen)
{
    if (s->light)
        return light_spawn(s, ready_rd, err, errlen);
    int pfd[2] = {-1, -1};
    if (ready_rd && pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s: pipe: %s", s->name, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: fork: %s", s->name, strerror(errno));
        if (ready_rd) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (ready_rd)
            close(pfd[0]);
        child_exec(s, parent, ready_rd ? pfd[1] : -1);
    }
    setpgid(pid, pid); /* also in the parent: no race with a kill(-pid) right after */
    if (ready_rd) {
        close(pfd[1]);
        *ready_rd = pfd[0];
    }
    return pid;
}

static bool reap(struct proc *p, bool block)
{
    if (!p->pid || p->exited)
        return p->exited;
    int st;
    pid_t r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    if (r == p->pid) {
        p->status = st;
        p->exited = true;
    } else if (r < 0 && errno == ECHILD) {
        p->exited = true;
        p->status = 0;
    }
    return p->exited;
}

bool proc_alive(struct proc *p) { return p->pid && !reap(p, false); }

const char *proc_status_text(const struct proc *p, char *dst, size_t cap)
{
    if (!p->pid)
        snprintf(dst, cap, "not started");
    else if (!p->exited)
        snprintf(dst, cap, "running");
    else if (WIFEXITED(p->status))
        snprintf(dst, cap, "exited with status %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(dst, cap, "killed by signal %d (%s)", WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
    else
        snprintf(dst, cap, "stopped");
    return dst;
}

static bool file_has(const char *path, const char *text)
{
    char *buf = NULL;
    size_t cap = 0;
    bool found = false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    ssize_t n;
    while (!found && (n = getline(&buf, &cap, f)) >= 0)
        found = strstr(buf, text) != NULL;
    free(buf);
    fclose(f);
    return found;
}

/* Wait until the process exited, at most ms (pidfd + poll when available). */
static bool wait_exit(struct proc *p, unsigned ms)
{
    if (reap(p, false))
        return true;
    int pfd = pidfd_open(p->pid, 0);
    double deadline = proc_now() + ms / 1000.0;
    while (!reap(p, false)) {
        double left = deadline - proc_now();
        if (left <= 0)
            return false;
        if (pfd >= 0) {
            struct pollfd pl = {.fd = pfd, .events = POLLIN};
            int t = (int)(left * 1000) + 1;
            if (poll(&pl, 1, t) < 0 && errno != EINTR)
                sleep_ms(PROC_POLL_MS);
        } else {
            sleep_ms(PROC_POLL_MS);
        }
    }
    if (pfd >= 0)
        close(pfd);
    return true;
}

int proc_begin(struct proc *p, const struct proc_spec *s, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", s->name);
    p->ready_fd = -1;
    p->started_at = proc_now();
    p->pid = spawn(s, s->ready == PROC_READY_FD ? &p->ready_fd : NULL, err, errlen);
    if (p->pid < 0) {
        p->pid = 0;
        return -1;
    }
    return 0;
}

int proc_start(struct proc *p, const struct proc_spec *s, char *err, size_t errlen)
{
    if (proc_begin(p, s, err, errlen) < 0)
        return -1;
    return proc_finish(p, s, err, errlen);
}

int proc_finish(struct proc *p, const struct proc_spec *s, char *err, size_t errlen)
{
    int rd = p->ready_fd;
    p->ready_fd = -1;
    double t0 = p->started_at;
    unsigned tmo = s->timeout_ms ? s->timeout_ms : PROC_DEFAULT_READY_MS;
    double deadline = t0 + tmo / 1000.0;
    bool ready = false;
    char why[200] = "";
    if (s->ready == PROC_READY_NONE) {
        ready = true;
    } else if (s->ready == PROC_READY_FD) {
        char line[64];
        size_t got = 0;
        while (!ready) {
            double left = deadline - proc_now();
            if (left <= 0 || proc_cancelled()) {
                snprintf(why, sizeof(why), proc_cancelled() ? "interrupted" : "no readiness line within %u ms", tmo);
                break;
            }
            struct pollfd pl = {.fd = rd, .events = POLLIN};
            int r = poll(&pl, 1, (int)(left * 1000) + 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                continue;
            ssize_t n = read(rd, line + got, sizeof(line) - 1 - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                snprintf(why, sizeof(why), "it closed its readiness pipe without a line");
                break;
            }
            got += (size_t)n;
            line[got] = '\0';
            if (strchr(line, '\n') || got == sizeof(line) - 1)
                ready = true;
        }
        close(rd);
    } else {
        for (;;) {
            int r = 0;
            if (s->ready == PROC_READY_LOG)
                r = file_has(s->ready_file ? s->ready_file : s->log_path, s->ready_text);
            else if (s->ready == PROC_READY_UNIX) {
                struct stat st;
                r = stat(s->ready_path, &st) == 0 && S_ISSOCK(st.st_mode);
            } else if (s->ready == PROC_READY_CHECK)
                r = s->ready_check(s->ready_ctx);
            if (r > 0) {
                ready = true;
                break;
            }
            if (r < 0) {
                snprintf(why, sizeof(why), "its readiness check failed");
                break;
            }
            if (!proc_alive(p))
                break;
            if (proc_now() >= deadline || proc_cancelled()) {
                if (s->ready == PROC_READY_LOG)
                    snprintf(why, sizeof(why), "\"%s\" did not appear within %u ms", s->ready_text, tmo);
                else
                    snprintf(why, sizeof(why), "%s within %u ms",
                             s->ready == PROC_READY_UNIX ? "its socket did not appear" : "not answering", tmo);
                if (proc_cancelled())
                    snprintf(why, sizeof(why), "interrupted");
                break;
            }
            sleep_ms(PROC_POLL_MS);
        }
    }
    p->ready_ms = (proc_now() - t0) * 1000.0;
    if (ready && proc_alive(p))
        return 0;
    if (ready && !proc_alive(p))
        why[0] = '\0';
    char st[96];
    if (!proc_alive(p) || (wait_exit(p, 50), p->exited))
        snprintf(err, errlen, "%s %s before it was ready%s%s", s->name, proc_status_text(p, st, sizeof(st)),
                 why[0] ? ": " : "", why);
    else
        snprintf(err, errlen, "%s was not ready: %s", s->name, why[0] ? why : "unknown");
    proc_stop(p, 500);
    return -1;
}

int proc_signal(struct proc *p, int sig)
{
    if (!proc_alive(p))
        return -ESRCH;
    return kill(p->pid, sig) < 0 ? -errno : 0;
}

int proc_stop(struct proc *p, unsigned grace_ms)
{
    if (!p->pid)
        return -1;
    if (!p->exited) {
        kill(-p->pid, SIGTERM);
        kill(p->pid, SIGTERM);
        if (!wait_exit(p, grace_ms)) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            reap(p, true);
        }
    }
    /* helpers the component forked (same group) go with it */
    kill(-p->pid, SIGKILL);
    return p->status;
}

void proc_stop_many(struct proc *const *ps, const unsigned *grace_ms, size_t n)
{
    double t0 = proc_now();
    for (size_t i = 0; i < n; i++)
        if (ps[i]->pid && !reap(ps[i], false)) {
            kill(-ps[i]->pid, SIGTERM);
            kill(ps[i]->pid, SIGTERM);
        }
    for (size_t i = 0; i < n; i++) {
        if (!ps[i]->pid)
            continue;
        double left = t0 + grace_ms[i] / 1000.0 - proc_now();
        if (!wait_exit(ps[i], left > 0 ? (unsigned)(left * 1000) : 0)) {
            kill(-ps[i]->pid, SIGKILL);
            kill(ps[i]->pid, SIGKILL);
            reap(ps[i], true);
        }
        kill(-ps[i]->pid, SIGKILL);
    }
}

int proc_run(const struct proc_spec *s, unsigned timeout_ms, char *err, size_t errlen)
{
    struct proc p = {0};
    snprintf(p.name, sizeof(p.name), "%s", s->name);
    p.pid = spawn(s, NULL, err, errlen);
    if (p.pid < 0)
        return -1;
    if (!wait_exit(&p, timeout_ms)) {
        proc_stop(&p, 200);
        snprintf(err, errlen, "%s did not finish within %u ms", s->name, timeout_ms);
        return -1;
    }
    kill(-p.pid, SIGKILL);
    if (WIFEXITED(p.status))
        return WEXITSTATUS(p.status);
    char st[96];
    snprintf(err, errlen, "%s %s", s->name, proc_status_text(&p, st, sizeof(st)));
    return -1;
}

int proc_kill_in_netns(const char *ns_path, unsigned grace_ms)
{
    struct stat ns;
    if (stat(ns_path, &ns) < 0)
        return 0;
    pid_t self = getpid();
    pid_t pids[1024];
    int n = 0, first = 0;
    for (int round = 0; round < 2; round++) {
        n = 0;
        DIR *d = opendir("/proc");
        if (!d)
            return 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < (int)(sizeof(pids) / sizeof(pids[0]))) {
            char *end;
            long pid = strtol(de->d_name, &end, 10);
            if (*end || pid <= 0 || pid == self)
                continue;
            char path[64];
            struct stat st;
            snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
            if (stat(path, &st) == 0 && st.st_dev == ns.st_dev && st.st_ino == ns.st_ino)
                pids[n++] = (pid_t)pid;
        }
        closedir(d);
        if (round == 0)
            first = n;
        if (!n)
            break;
        for (int i = 0; i < n; i++)
            kill(pids[i], round == 0 ? SIGTERM : SIGKILL);
        if (round == 0) {
            /* bounded: until none is left or the grace period is over */
            double deadline = proc_now() + grace_ms / 1000.0;
            while (proc_now() < deadline) {
                int left = 0;
                for (int i = 0; i < n; i++)
                    if (kill(pids[i], 0) == 0)
                        left++;
                if (!left)
                    break;
                sleep_ms(PROC_POLL_MS);
            }
        }
    }
    return first;
}

char *proc_tail(const char *path, unsigned lines)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    /* read the last 64 KiB at most */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 65536 ? size - 65536 : 0;
    fseek(f, from, SEEK_SET);
    char *buf = malloc((size_t)(size - from) + 1);
    if (!buf) {
        fclose(f);
        return strdup("");
    }
    size_t n = fread(buf, 1, (size_t)(size - from), f);
    fclose(f);
    buf[n] = '\0';
    size_t end = n;
    while (end > 0 && buf[end - 1] == '\n')
        end--;
    size_t start = end;
    unsigned seen = 0;
    while (start > 0) {
        if (buf[start - 1] == '\n' && ++seen == lines)
            break;
        start--;
    }
    memmove(buf, buf + start, end - start);
    buf[end - start] = '\0';
    return buf;
}
