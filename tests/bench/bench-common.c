/* Shared plumbing of the load generators in tests/bench/ (see bench-common.h). */
#include "bench-common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bench_raise_nofile(const char *prog, rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    struct rlimit nr = {.rlim_cur = want, .rlim_max = rl.rlim_max > want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &nr) < 0) {
        nr.rlim_cur = nr.rlim_max = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nr);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        fprintf(stderr, "%s: RLIMIT_NOFILE is %llu, wanted %llu\n", prog, (unsigned long long)rl.rlim_cur,
                (unsigned long long)want);
}

double bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[4096];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* fields after the ")" of comm: state(3) ... utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int bench_cpus_busy(unsigned long long busy[BENCH_MAX_CPUS], unsigned long long total[BENCH_MAX_CPUS])
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    int n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f) && n < BENCH_MAX_CPUS) {
        unsigned long long v[8] = {0};
        int id;
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        if (sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu %llu", &id, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7]) < 9)
            continue;
        total[n] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        busy[n] = total[n] - v[3] - v[4];
        n++;
    }
    fclose(f);
    return n;
}

void bench_cpus_busy_fmt(char *out, size_t cap, int n, const unsigned long long b0[], const unsigned long long t0[],
                         const unsigned long long b1[], const unsigned long long t1[])
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o + 8 < cap; i++) {
        unsigned long long dt = t1[i] - t0[i];
        o += (size_t)snprintf(out + o, cap - o, "%s%.0f", i ? "," : "",
                              dt ? 100.0 * (double)(b1[i] - b0[i]) / (double)dt : 0.0);
    }
    if (!n)
        snprintf(out, cap, "-");
}

int bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint32_t bench_pct(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}
