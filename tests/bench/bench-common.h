/* Shared plumbing of the load generators in tests/bench/ (connect-bench, tls-bench): clocks, the
 * file-descriptor limit, CPU time of processes and of each CPU from /proc, percentiles. */
#ifndef ZTP_BENCH_COMMON_H
#define ZTP_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define BENCH_MAX_CPUS 64

/* CLOCK_MONOTONIC in microseconds. */
int64_t bench_now_us(void);

/* Raise RLIMIT_NOFILE to `want` (up to the hard limit when it cannot be raised); says on stderr,
 * prefixed with `prog`, when the limit stays below `want`. */
void bench_raise_nofile(const char *prog, rlim_t want);

/* utime + stime of a process (all its threads), in seconds, from /proc/PID/stat; -1 when unreadable. */
double bench_proc_cpu_s(pid_t pid);

/* This process's user + system time, in seconds. */
double bench_self_cpu_s(void);

/* Busy time of every CPU (everything but idle and iowait: user, system, irq, softirq, steal), in
 * clock ticks, and the total. Softirq time (the loopback's TCP receive work) is charged to no
 * process, so this is what says whether a CPU was saturated. Returns the number of CPUs read. */
int bench_cpus_busy(unsigned long long busy[BENCH_MAX_CPUS], unsigned long long total[BENCH_MAX_CPUS]);

/* "A,B,..." (busy % of each CPU between two bench_cpus_busy() readings); "-" when n is 0. */
void bench_cpus_busy_fmt(char *out, size_t cap, int n, const unsigned long long b0[], const unsigned long long t0[],
                         const unsigned long long b1[], const unsigned long long t1[]);

/* qsort comparator for uint32_t, and the p-th quantile (0..1) of n sorted values (0 when n is 0). */
int bench_cmp_u32(const void *a, const void *b);
uint32_t bench_pct(const uint32_t *v, size_t n, double p);

#endif
