/* Processes of a lab run: start a component inside a host's namespace, wait (bounded) until it is
 * ready, stop it. Only processes the lab started, always by pid.
 *
 * A started process:
 *   - runs in a process group of its own (so Ctrl-C in the terminal reaches only the lab, which
 *     then stops everything in order; and a component's helper children are stopped with it);
 *   - dies with the lab (PR_SET_PDEATHSIG SIGKILL) unless `detach` (`lab up`);
 *   - enters its host's namespace with topo_enter() (netns + /etc/netns files, like `ip netns exec`);
 *   - has stdin on /dev/null and stdout+stderr appended to its log file (ARTIFACTS/logs/HOST.log);
 *   - with PROC_READY_FD, gets a pipe as fd 3 and ZTP_READY_FD=3: it writes one line when it serves
 *     (common/daemon.c daemon_ready()); EOF before a line means it died first.
 * Real peers without a readiness protocol (dnsmasq, kea, squid, tinyproxy, swtpm,
 * tcpdump) are waited for by a bounded check: a line in a log file, a socket file, or a callback
 * (e.g. a TCP connect from inside the namespace), polled every PROC_POLL_MS, never a bare sleep.
 * Every wait gives up at its timeout, when the process exits, or when the cancel flag is set.
 *
 * Stopping: SIGTERM to the process group, then SIGKILL after the grace period.
 */
#ifndef LAB_PROC_H
#define LAB_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_POLL_MS 10
#define PROC_DEFAULT_READY_MS 5000
#define PROC_DEFAULT_GRACE_MS 2000

enum proc_ready {
    PROC_READY_NONE,   /* started is ready (tcpdump is checked by its log line instead) */
    PROC_READY_FD,     /* ZTP_READY_FD line */
    PROC_READY_LOG,    /* ready_text appears in ready_file (default: the log file) */
    PROC_READY_UNIX,   /* ready_path exists and is a socket */
    PROC_READY_CHECK,  /* ready_check(ready_ctx) returns > 0 (0: not yet, < 0: give up) */
};

struct proc_spec {
    const char *name;              /* for messages: "r1a", "cap-mpls", "swtpm-r1a" */
    const char *nsname;            /* full namespace name to enter, NULL = stay in the lab's */
    char *const *argv;             /* argv[0] is looked up in PATH unless it has a '/' */
    const char *const *env;        /* extra "KEY=VALUE" strings, NULL-terminated (may be NULL) */
    const char *log_path;          /* stdout+stderr, appended; NULL = /dev/null */
    const char *cwd;               /* NULL = unchanged */
    enum proc_ready ready;
    const char *ready_text;        /* PROC_READY_LOG */
    const char *ready_file;        /* PROC_READY_LOG, NULL = log_path */
    const char *ready_path;        /* PROC_READY_UNIX */
    int (*ready_check)(void *ctx); /* PROC_READY_CHECK */
    void *ready_ctx;
    unsigned timeout_ms;           /* readiness bound, 0 = PROC_DEFAULT_READY_MS */
    bool detach;                   /* survive the lab (lab up): no PDEATHSIG */
    int (*child_fn)(void *ctx);    /* instead of exec: run this in the child (after the same set-up) and
                                    * exit with its return value; argv[0] is then only a name */
    void *child_ctx;
    /* Light start (lab fleet's nodes): clone(CLONE_VM | CLONE_VFORK) instead of fork, so the lab's
     * page tables are not copied (fork's cost grows with the lab's memory: a third of the lab's CPU
     * at 1,000 nodes). Only argv (a path), env, log_path, cwd, ready, detach and, instead of
     * nsname, a network namespace only (no mount namespace: setns(CLONE_NEWNET) alone, what
     * `nsenter --net` does); child_fn is not allowed. */
    bool light;
    const char *netns_path;        /* light: the namespace file to setns(CLONE_NEWNET) into, NULL = none */
    int nice;                      /* light: setpriority() in the child, 0 = unchanged */
};

struct proc {
    char name[64];
    pid_t pid;                     /* 0 when not running */
    int status;                    /* wait status once exited */
    bool exited;
    double started_at;             /* monotonic seconds */
    double ready_ms;               /* how long readiness took */
    int ready_fd;                  /* PROC_READY_FD: the pipe between proc_begin and proc_finish, else -1 */
};

/* The flag the lab's SIGINT/SIGTERM handler sets: every wait stops early when it is non-zero. */
void proc_set_cancel_flag(volatile sig_atomic_t *flag);
bool proc_cancelled(void);

/* Start and wait for readiness. Returns 0 when ready; -1 with one line in err otherwise (the
 * process is then stopped). */
int proc_start(struct proc *p, const struct proc_spec *s, char *err, size_t errlen);
/* proc_start in two halves, to start several components at once and wait for them together:
 * proc_begin() spawns (0, or -1 with err: nothing runs), proc_finish() waits for readiness exactly as
 * proc_start does (the readiness bound counts from proc_begin). The spec (and what it points to) must
 * stay valid until proc_finish. */
int proc_begin(struct proc *p, const struct proc_spec *s, char *err, size_t errlen);
int proc_finish(struct proc *p, const struct proc_spec *s, char *err, size_t errlen);
/* True while the process runs (reaps it when it has exited). */
bool proc_alive(struct proc *p);
/* SIGTERM (group), wait up to grace_ms, then SIGKILL. Returns the wait status, or -1 when it was
 * not running. Safe to call twice. */
int proc_stop(struct proc *p, unsigned grace_ms);
/* Stop several at once: SIGTERM to all, then wait for all with one deadline (grace_ms[i] each,
 * from the same start), SIGKILL the rest. Entries that are not running are skipped. */
void proc_stop_many(struct proc *const *ps, const unsigned *grace_ms, size_t n);
/* Send a signal to the process (not its group): e.g. SIGHUP to reload. */
int proc_signal(struct proc *p, int sig);
/* "exited with status 1" / "killed by signal 9" / "running" into dst. */
const char *proc_status_text(const struct proc *p, char *dst, size_t cap);

/* Run a command to completion (bounded): same set-up as proc_start, waits at most timeout_ms
 * (then kills it). Returns its exit status (0-255), or -1 (err says why: timeout, signal, exec). */
int proc_run(const struct proc_spec *s, unsigned timeout_ms, char *err, size_t errlen);

/* Every process whose network namespace is the one bound at ns_path (/run/netns/NAME): SIGTERM,
 * wait up to grace_ms, SIGKILL the rest. Never signals the caller. Returns how many there were. */
int proc_kill_in_netns(const char *ns_path, unsigned grace_ms);

/* The last `lines` lines of a file into a malloc'd string ("" when unreadable); for failure reports. */
char *proc_tail(const char *path, unsigned lines);

/* Monotonic seconds. */
double proc_now(void);

#endif
