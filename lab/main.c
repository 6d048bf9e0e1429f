/* lab: network-namespace topologies from scenario files, runs for CI and for local work.
 *
 *   lab list [--shard I/N]
 *   lab run NAME|FILE... | --all [--jobs N] [--junit FILE] [--artifacts DIR] [--keep] [--shard I/N] [--verbose]
 *           [--valgrind HOST[,HOST...]]   the hosts' processes under valgrind memcheck (run.h)
 *   lab up NAME              leave the scenario's topology and processes running (root only)
 *   lab exec NAME HOST -- CMD...
 *   lab down NAME
 *   lab clean [--all]        remove what killed runs left behind (--all: also `lab up` runs)
 *   lab report DIR [--json] [--html FILE]   a run's steps, timeline and message sequence (report_html.h)
 *
 * Exit status: 0 every expectation held; 1 one did not (or a scenario could not be set up);
 * 2 usage or scenario-file error; 77 network namespaces cannot be made here (not root and no
 * unprivileged user namespaces; one line says why), or every scenario was skipped (a component that
 * cannot run unprivileged, e.g. squid); 130 interrupted (Ctrl-C), after tearing down.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"
#include "proc.h"
#include "report.h"
#include "report_html.h"
#include "run.h"
#include "scenario.h"
#include "topo.h"
#include "userns.h"

/* paths are cut at PATH_MAX: a longer one fails later with a clear error */
#define USAGE                                                                                                         \
    "usage: lab list [--shard I/N]\n"                                                                                               \
    "       lab run NAME|FILE... | --all [--jobs N] [--junit FILE] [--artifacts DIR] [--keep] [--shard I/N] [--verbose]\n" \
    "               [--valgrind HOST[,HOST...]]   (or $LAB_VALGRIND; a build without ZTP_SANITIZE)\n"            \
    "       lab up NAME [--artifacts DIR]\n"                                                                          \
    "       lab exec NAME HOST -- CMD [ARG...]\n"                                                                     \
    "       lab down NAME\n"                                                                                          \
    "       lab clean [--all]\n"                                                                                      \
    "       lab report DIR [--json] [--html FILE]\n"                                                                  \
    "       lab fleet [--nodes N] [--wave W] [--per-ns K] [--artifacts DIR] [--keep] [--timeout S] (root; fleet.h)\n"   \
    "options for every command: --scenarios DIR (default: the source tree's scenarios/, or $LAB_SCENARIOS)\n"        \
    "                           --bin DIR (the components; default: the directory of lab)\n"

static volatile sig_atomic_t cancel;

static void on_signal(int sig)
{
    (void)sig;
    cancel = 1;
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    proc_set_cancel_flag(&cancel);
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "lab: %s\n", msg);
    fputs(USAGE, stderr);
    return 2;
}

/* ---- where things are ------------------------------------------------------------------------ */

static char bin_dir[PATH_MAX];
static char scn_dir[PATH_MAX];

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_dirs(const char *bin_opt, const char *scn_opt)
{
    if (bin_opt) {
        snprintf(bin_dir, sizeof(bin_dir), "%s", bin_opt);
    } else {
        ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof(bin_dir) - 1);
        bin_dir[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(bin_dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(bin_dir, sizeof(bin_dir), ".");
    }
    const char *env = getenv("LAB_SCENARIOS");
    if (scn_opt) {
        snprintf(scn_dir, sizeof(scn_dir), "%s", scn_opt);
        return;
    }
    if (env && *env) {
        snprintf(scn_dir, sizeof(scn_dir), "%s", env);
        return;
    }
    /* the build tree knows its source tree: BIN/../CMakeCache.txt */
    char cache[PATH_MAX + 32];
    snprintf(cache, sizeof(cache), "%s/../CMakeCache.txt", bin_dir);
    FILE *f = fopen(cache, "r");
    if (f) {
        char line[PATH_MAX + 64];
        while (fgets(line, sizeof(line), f)) {
            const char *k = "CMAKE_HOME_DIRECTORY:INTERNAL=";
            if (!strncmp(line, k, strlen(k))) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(scn_dir, sizeof(scn_dir), "%s/scenarios", line + strlen(k));
                break;
            }
        }
        fclose(f);
        if (scn_dir[0] && is_dir(scn_dir))
            return;
    }
    snprintf(scn_dir, sizeof(scn_dir), "%s/../../scenarios", bin_dir);
    if (!is_dir(scn_dir))
        snprintf(scn_dir, sizeof(scn_dir), "scenarios");
}

static void default_artifacts(char *dst, size_t cap)
{
    /* build/bin/lab -> build/artifacts */
    snprintf(dst, cap, "%s/../artifacts", bin_dir);
    char real[PATH_MAX];
    char parent[PATH_MAX + 8];
    snprintf(parent, sizeof(parent), "%s/..", bin_dir);
    if (realpath(parent, real))
        snprintf(dst, cap, "%s/artifacts", real);
}

/* NAME -> scenarios/NAME.yaml; anything with a '/' or ending in .yaml is a file */
static void scenario_path(const char *arg, char *dst, size_t cap)
{
    size_t l = strlen(arg);
    if (strchr(arg, '/') || (l > 5 && !strcmp(arg + l - 5, ".yaml")))
        snprintf(dst, cap, "%s", arg);
    else
        snprintf(dst, cap, "%s/%s.yaml", scn_dir, arg);
}

/* ---- privileges --------------------------------------------------------------------------------- */

static const char *mode = "root";

static int need_namespaces(bool allow_userns, const char *cmd)
{
    if (geteuid() == 0) {
        mode = "root";
        return 0;
    }
    char why[512] = "";
    if (!allow_userns) {
        fprintf(stderr, "lab: `lab %s` needs root (an unprivileged lab's namespaces end with its process): run it with sudo\n",
                cmd);
        return 77;
    }
    int rc = userns_enter(why, sizeof(why));
    if (rc == USERNS_ENTERED) {
        mode = "userns";
        return 0;
    }
    fprintf(stderr, "lab: cannot create network namespaces here: not root, and %s\n",
            why[0] ? why : "unprivileged user namespaces are not available");
    return 77;
}

/* remove what dead runs left behind; quiet unless something was removed */
static void clean_dead(bool kept, bool verbose)
{
    struct topo_run_info *runs = NULL;
    size_t n = 0;
    unsigned killed = 0;
    if (topo_runs_list(&runs, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (!runs[i].alive && (!runs[i].keep || kept))
                killed += (unsigned)run_kill_leftovers(runs[i].runid);
        free(runs);
    }
    struct topo_clean_report rep = {0};
    char err[512] = "";
    int rc = topo_clean_all(NULL, kept ? TOPO_CLEAN_KEPT : 0, &rep, err, sizeof(err));
    fleet_clean_leftovers(); /* a killed fleet's node state on /dev/shm */
    if (verbose || rep.runs_removed || killed)
        fprintf(stderr, "lab: clean: %u run(s) removed (%u namespaces, %u processes), %u running, %u kept by `lab up`%s%s\n",
                rep.runs_removed, rep.netns_removed, killed, rep.runs_alive, rep.runs_kept, rc < 0 ? "; " : "",
                rc < 0 ? err : "");
}

/* ---- lab list ---------------------------------------------------------------------------------- */

/* --shard I/N: 1 <= I <= N. Scenario number i (0-based, in the directory's name order) belongs to
 * shard I when i % N == I - 1: the same split for `lab list` and `lab run --all`. */
static bool parse_shard(const char *arg, unsigned *i, unsigned *n)
{
    char tail;
    return sscanf(arg, "%u/%u%c", i, n, &tail) == 2 && *n && *i && *i <= *n;
}

static bool in_shard(size_t idx, unsigned i, unsigned n) { return !n || idx % n == i - 1; }

static int cmd_list(unsigned shard_i, unsigned shard_n)
{
    struct scn_entry *e;
    size_t n;
    if (scenario_dir_list(scn_dir, &e, &n) < 0) {
        fprintf(stderr, "lab: %s: %s\n", scn_dir, strerror(errno));
        return 2;
    }
    int w = 8;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(e[i].name) > w)
            w = (int)strlen(e[i].name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_shard(i, shard_i, shard_n))
            continue;
        printf("%-*s  %s%s\n", w, e[i].name, e[i].ok ? "" : "ERROR: ", e[i].description);
        if (!e[i].ok)
            rc = 2;
    }
    scenario_dir_free(e, n);
    return rc;
}

/* ---- lab run ---------------------------------------------------------------------------------- */

struct job {
    struct scenario *s;
    pid_t pid;
    int status;
    enum run_result res;
    bool done;
};

/* --jobs N starts the longest scenarios first, so that the run's wall time is not a long scenario
 * started last: by each scenario's `timeout:` (longest first; the same timeout keeps the name order).
 * Deterministic; the results, the summary and the JUnit file stay in name order, and which scenarios
 * a --shard holds does not change. */
static int by_timeout(const void *a, const void *b)
{
    const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
    if (x->s->timeout != y->s->timeout)
        return x->s->timeout > y->s->timeout ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int run_all(struct job *jobs, size_t n, unsigned njobs, const char *artifacts, const char *junit, bool keep,
                   bool verbose, const char *valgrind)
{
    struct run_opts o = {.bin_dir = bin_dir, .artifacts_root = artifacts, .keep = keep, .verbose = verbose,
                         .out = stdout, .cancel = &cancel, .mode = mode, .valgrind = valgrind && *valgrind ? valgrind : NULL};
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t0 = proc_now();
    if (njobs <= 1 || n == 1) {
        for (size_t i = 0; i < n && !cancel; i++) {
            struct rep_run rep = {0};
            jobs[i].res = run_scenario(jobs[i].s, &o, &rep);
            jobs[i].done = true;
            report_clear(&rep);
            if (i + 1 < n)
                printf("\n");
        }
    } else {
        size_t next = 0, running = 0, finished = 0;
        struct job **order = calloc(n, sizeof(*order));
        if (!order) {
            perror("lab");
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            order[i] = &jobs[i];
        qsort(order, n, sizeof(*order), by_timeout);
        while (finished < n) {
            while (!cancel && running < njobs && next < n) {
                struct job *j = order[next++];
                fflush(NULL);
                j->pid = fork();
                if (j->pid == 0) {
                    char prefix[80];
                    snprintf(prefix, sizeof(prefix), "[%s] ", j->s->name);
                    o.prefix = prefix;
                    enum run_result res = run_scenario(j->s, &o, &(struct rep_run){0});
                    fflush(NULL);
                    _exit((int)res);
                }
                if (j->pid < 0) {
                    j->done = true;
                    j->res = RUN_ERROR;
                    finished++;
                    continue;
                }
                running++;
            }
            if (!running) {
                /* interrupted before starting the rest */
                for (size_t i = next; i < n; i++) {
                    order[i]->done = true;
                    order[i]->res = RUN_INTERRUPTED;
                }
                break;
            }
            int st;
            pid_t p = wait(&st);
            if (p < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            for (size_t i = 0; i < n; i++)
                if (jobs[i].pid == p && !jobs[i].done) {
                    jobs[i].done = true;
                    jobs[i].res = WIFEXITED(st) ? (enum run_result)WEXITSTATUS(st) : RUN_ERROR;
                    running--;
                    finished++;
                }
        }
        free(order);
    }
    /* the merged report and the verdict */
    struct rep_run *reps = calloc(n, sizeof(*reps));
    const struct rep_run **ptrs = calloc(n, sizeof(*ptrs));
    size_t nr = 0;
    unsigned pass = 0, failed = 0, errors = 0, interrupted = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].done)
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s/summary.json", artifacts, jobs[i].s->name);
        if (jobs[i].res != RUN_INTERRUPTED && report_from_summary(p, &reps[nr]) == 0) {
            ptrs[nr] = &reps[nr];
            nr++;
        }
        switch (jobs[i].res) {
        case RUN_PASS: pass++; break;
        case RUN_FAIL: failed++; break;
        case RUN_INTERRUPTED: interrupted++; break;
        case RUN_SKIPPED: skipped++; break;
        default: errors++; break;
        }
    }
    if (junit && nr) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", junit);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            for (char *c = dir + 1; *c; c++)
                if (*c == '/') {
                    *c = '\0';
                    mkdir(dir, 0755);
                    *c = '/';
                }
            mkdir(dir, 0755);
        }
        int rc = report_write_junit(junit, ptrs, nr);
        if (rc < 0)
            fprintf(stderr, "lab: %s: %s\n", junit, strerror(-rc));
    }
    if (n > 1)
        report_html_index(artifacts);
    if (n > 1) {
        printf("\n== %zu scenarios: %u passed, %u failed, %u could not run, %u skipped%s (%.1fs, --jobs %u)\n", n, pass,
               failed, errors, skipped, interrupted ? ", interrupted" : "", proc_now() - t0, njobs ? njobs : 1);
        for (size_t i = 0; i < nr; i++)
            printf("  %-5s %-28s %6.2fs  %zu/%zu%s%s\n",
                   !strcmp(reps[i].result, "pass")      ? "PASS"
                   : !strcmp(reps[i].result, "fail")    ? "FAIL"
                   : !strcmp(reps[i].result, "skipped") ? "SKIP"
                                                        : "ERROR",
                   reps[i].scenario, reps[i].total_s, reps[i].n_exps - report_failures(&reps[i]), reps[i].n_exps,
                   reps[i].error[0] ? "  " : "", reps[i].error[0] ? reps[i].error : "");
    }
    for (size_t i = 0; i < nr; i++)
        report_clear(&reps[i]);
    free(reps);
    free(ptrs);
    if (interrupted || cancel)
        return 130;
    if (failed || errors)
        return 1;
    return skipped && !pass ? 77 : 0; /* every scenario skipped: ctest reports a skip */
}

static int cmd_run(int argc, char **argv, bool up)
{
    static const struct option lo[] = {{"all", no_argument, NULL, 'a'},       {"jobs", required_argument, NULL, 'j'},
                                       {"junit", required_argument, NULL, 'J'}, {"artifacts", required_argument, NULL, 'A'},
                                       {"keep", no_argument, NULL, 'k'},       {"shard", required_argument, NULL, 'S'},
                                       {"verbose", no_argument, NULL, 'v'},    {"valgrind", required_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
    bool all = false, keep = up, verbose = false;
    unsigned njobs = 1, shard_i = 0, shard_n = 0;
    const char *junit = NULL, *valgrind = getenv("LAB_VALGRIND");
    char artifacts[PATH_MAX];
    default_artifacts(artifacts, sizeof(artifacts));
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'a': all = true; break;
        case 'j':
            njobs = (unsigned)strtoul(optarg, NULL, 10);
            if (!njobs || njobs > 64)
                return usage("--jobs takes 1 to 64");
            break;
        case 'J': junit = optarg; break;
        case 'A': snprintf(artifacts, sizeof(artifacts), "%s", optarg); break;
        case 'k': keep = true; break;
        case 'S':
            if (!parse_shard(optarg, &shard_i, &shard_n))
                return usage("--shard takes I/N with 1 <= I <= N (e.g. --shard 2/4)");
            break;
        case 'v': verbose = true; break;
        case 'V': valgrind = optarg; break;
        default: return usage(NULL);
        }
    }
    if (up && (all || argc - optind != 1 || njobs > 1))
        return usage("lab up takes one scenario");
    if (!all && optind >= argc)
        return usage("name a scenario (lab list shows them) or use --all");
    if (all && optind < argc)
        return usage("--all or names, not both");
    if (keep && (all || argc - optind > 1))
        return usage("--keep runs one scenario");
    /* load every scenario first: a bad file stops everything before anything starts */
    size_t n = 0;
    struct job *jobs = NULL;
    char err[1024];
    int rc = 0;
    if (all) {
        struct scn_entry *e;
        size_t ne;
        if (scenario_dir_list(scn_dir, &e, &ne) < 0) {
            fprintf(stderr, "lab: %s: %s\n", scn_dir, strerror(errno));
            return 2;
        }
        jobs = calloc(ne + 1, sizeof(*jobs));
        for (size_t i = 0; i < ne && rc == 0; i++) {
            if (!in_shard(i, shard_i, shard_n))
                continue;
            jobs[n].s = scenario_load(e[i].path, err, sizeof(err));
            if (!jobs[n].s) {
                fprintf(stderr, "lab: %s\n", err);
                rc = 2;
                break;
            }
            n++;
        }
        scenario_dir_free(e, ne);
        if (rc == 0 && !n) {
            fprintf(stderr, "lab: no scenarios in %s%s\n", scn_dir, shard_n ? " for this shard" : "");
            rc = 2;
        }
    } else {
        jobs = calloc((size_t)(argc - optind) + 1, sizeof(*jobs));
        for (int i = optind; i < argc && rc == 0; i++) {
            char path[PATH_MAX];
            scenario_path(argv[i], path, sizeof(path));
            struct stat st;
            if (stat(path, &st) < 0) {
                fprintf(stderr, "lab: no scenario \"%s\" (%s: %s); `lab list` shows them\n", argv[i], path, strerror(errno));
                rc = 2;
                break;
            }
            jobs[n].s = scenario_load(path, err, sizeof(err));
            if (!jobs[n].s) {
                fprintf(stderr, "lab: %s\n", err);
                rc = 2;
                break;
            }
            if (shard_n && (size_t)(i - optind) % shard_n != shard_i - 1) {
                scenario_free(jobs[n].s);
                jobs[n].s = NULL;
                continue;
            }
            n++;
        }
    }
    if (rc == 0)
        rc = need_namespaces(!keep, up ? "up" : "run --keep");
    if (rc == 0) {
        install_signals();
        clean_dead(false, false);
    }
    if (rc == 0 && up) {
        struct topo_run_info *runs = NULL;
        size_t nr = 0;
        if (topo_runs_list(&runs, &nr) == 0)
            for (size_t i = 0; i < nr; i++)
                if (runs[i].keep && !strcmp(runs[i].label, jobs[0].s->name)) {
                    fprintf(stderr, "lab: %s is already up (run %s): `lab down %s` first\n", jobs[0].s->name, runs[i].runid,
                            jobs[0].s->name);
                    rc = 1;
                    break;
                }
        free(runs);
    }
    if (rc == 0) {
        rc = run_all(jobs, n, njobs, artifacts, junit, keep, verbose, valgrind);
        if (keep && rc != 130)
            printf("\nlab: %s stays up: `lab exec %s HOST -- CMD` to look inside, `lab down %s` to remove it\n",
                   jobs[0].s->name, jobs[0].s->name, jobs[0].s->name);
    }
    for (size_t i = 0; jobs && jobs[i].s; i++)
        scenario_free(jobs[i].s);
    free(jobs);
    return rc;
}

/* ---- lab exec / down / clean ------------------------------------------------------------------ */

/* The run of scenario NAME: a `lab up` one first, else a running one. */
static int find_run(const char *name, char *runid, bool *kept)
{
    struct topo_run_info *runs = NULL;
    size_t n = 0;
    int found = -1;
    if (topo_runs_list(&runs, &n) < 0)
        return -1;
    for (int pass = 0; pass < 2 && found < 0; pass++)
        for (size_t i = 0; i < n; i++)
            if ((!strcmp(runs[i].label, name) || !strcmp(runs[i].runid, name)) &&
                (pass == 0 ? runs[i].keep : runs[i].alive)) {
                found = (int)i;
                snprintf(runid, TOPO_RUNID_LEN + 1, "%s", runs[i].runid);
                *kept = runs[i].keep;
                break;
            }
    free(runs);
    return found;
}

static int cmd_exec(int argc, char **argv)
{
    int i = 1;
    if (argc - i < 3)
        return usage("lab exec NAME HOST -- CMD [ARG...]");
    const char *name = argv[i++], *host = argv[i++];
    if (!strcmp(argv[i], "--"))
        i++;
    if (i >= argc)
        return usage("lab exec NAME HOST -- CMD [ARG...]: no command");
    int rc = need_namespaces(false, "exec");
    if (rc)
        return rc;
    char runid[TOPO_RUNID_LEN + 1];
    bool kept;
    if (find_run(name, runid, &kept) < 0) {
        fprintf(stderr, "lab: no run of %s is up (`lab up %s` starts one)\n", name, name);
        return 1;
    }
    char ns[TOPO_NSNAME_MAX + 1];
    if (topo_nsname(ns, sizeof(ns), runid, host) < 0) {
        fprintf(stderr, "lab: \"%s\" is not a host name\n", host);
        return 2;
    }
    char nspath[PATH_MAX];
    snprintf(nspath, sizeof(nspath), "%s/%s", topo_netns_dir(), ns);
    struct stat st;
    if (stat(nspath, &st) < 0) {
        fprintf(stderr, "lab: run %s of %s has no host %s\n", runid, name, host);
        return 1;
    }
    /* the host's control socket, for ssr-cli */
    char sd[PATH_MAX], lj[PATH_MAX + 16], ctl[PATH_MAX] = "";
    run_sockdir(runid, sd, sizeof(sd));
    snprintf(lj, sizeof(lj), "%s/lab.json", sd);
    json_t *j = json_load_file(lj, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(json_object_get(j, "hosts"), host), "ctl"));
    if (c)
        snprintf(ctl, sizeof(ctl), "%s", c);
    json_decref(j);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        if (topo_enter(ns, err, sizeof(err)) < 0) {
            fprintf(stderr, "lab: %s\n", err);
            _exit(127);
        }
        if (ctl[0])
            setenv("SSR_CTL", ctl, 1);
        const char *path = getenv("PATH");
        char np[8192];
        snprintf(np, sizeof(np), "%s:%s", bin_dir, path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
        setenv("PATH", np, 1);
        setenv("LAB_HOST", host, 1);
        setenv("LAB_RUN", runid, 1);
        execvp(argv[i], argv + i);
        fprintf(stderr, "lab: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    signal(SIGINT, SIG_IGN);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static int cmd_down(int argc, char **argv)
{
    if (argc != 2)
        return usage("lab down NAME");
    int rc = need_namespaces(false, "down");
    if (rc)
        return rc;
    char runid[TOPO_RUNID_LEN + 1];
    bool kept;
    int removed = 0;
    while (find_run(argv[1], runid, &kept) >= 0 && kept) {
        int k = run_kill_leftovers(runid);
        char err[512];
        if (topo_run_remove(runid, err, sizeof(err)) < 0) {
            fprintf(stderr, "lab: down %s: %s\n", runid, err);
            return 1;
        }
        printf("lab: %s (run %s) removed: its namespaces and %d process(es)\n", argv[1], runid, k);
        removed++;
    }
    if (!removed) {
        fprintf(stderr, "lab: no run of %s is up\n", argv[1]);
        return 1;
    }
    return 0;
}

static int cmd_clean(int argc, char **argv)
{
    bool all = argc > 1 && !strcmp(argv[1], "--all");
    if (argc > 2 || (argc == 2 && !all))
        return usage("lab clean [--all]");
    int rc = need_namespaces(false, "clean");
    if (rc)
        return rc;
    clean_dead(all, true);
    return 0;
}

int main(int argc, char **argv)
{
    /* global options may come first or anywhere: take them out */
    const char *bin_opt = NULL, *scn_opt = NULL;
    int w = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--") ) {
            while (i < argc)
                argv[w++] = argv[i++];
            break;
        }
        if ((!strcmp(argv[i], "--bin") || !strcmp(argv[i], "--scenarios")) && i + 1 < argc) {
            if (argv[i][2] == 'b')
                bin_opt = argv[i + 1];
            else
                scn_opt = argv[i + 1];
            i++;
            continue;
        }
        argv[w++] = argv[i];
    }
    argc = w;
    argv[argc] = NULL;
    find_dirs(bin_opt, scn_opt);
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("lab %s\n", LAB_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "list")) {
        unsigned si = 0, sn = 0;
        bool shard = argc == 4 && !strcmp(argv[2], "--shard");
        if (argc != 2 && !shard)
            return usage("lab list takes no arguments but --shard I/N");
        if (shard && !parse_shard(argv[3], &si, &sn))
            return usage("--shard takes I/N with 1 <= I <= N (e.g. --shard 2/4)");
        return cmd_list(si, sn);
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1, false);
    if (!strcmp(cmd, "up"))
        return cmd_run(argc - 1, argv + 1, true);
    if (!strcmp(cmd, "exec"))
        return cmd_exec(argc - 1, argv + 1);
    if (!strcmp(cmd, "down"))
        return cmd_down(argc - 1, argv + 1);
    if (!strcmp(cmd, "clean"))
        return cmd_clean(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return report_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "fleet")) /* N nodes onboarding at once (fleet.h) */
        return install_signals(), fleet_main(argc - 1, argv + 1, bin_dir, &cancel);
    char m[128];
    snprintf(m, sizeof(m), "unknown command \"%s\"", cmd);
    return usage(m);
}
