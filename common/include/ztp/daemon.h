/* Daemon plumbing shared by every program of the lab. */
#ifndef ZTP_DAEMON_H
#define ZTP_DAEMON_H

#include <stddef.h>

/* Signal readiness: writes "READY\n" to the fd named by $ZTP_READY_FD (and closes it), and sends
 * "READY=1" to $NOTIFY_SOCKET when set (systemd). Call once, when the daemon serves. */
void daemon_ready(void);

/* Block SIGTERM, SIGINT and SIGHUP and return a signalfd for them (non-blocking, close-on-exec),
 * so the event loop handles them; -1 on error. SIGPIPE is ignored. */
int daemon_signalfd(void);

/* Write `len` bytes to `path` atomically: temp file in the same directory, write, fsync, rename,
 * fsync the directory. `mode` is the file's mode (e.g. 0600). Returns 0 or -errno. */
int atomic_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* Remove the temp files a process killed inside atomic_write_file() left behind ("NAME.tmp.PID" with
 * PID all digits) in dir and, when depth > 0, in its subdirectories down to that depth. The files
 * they were to replace are untouched (the rename never happened). Calls on_removed(path, ctx) for
 * each (may be NULL). Returns how many were removed, or -errno when dir cannot be read. */
int atomic_write_sweep(const char *dir, unsigned depth, void (*on_removed)(const char *path, void *ctx), void *ctx);

/* Read a whole file of at most `max` bytes into a malloc'd NUL-terminated buffer. Returns 0 and
 * sets *out and *len, or -errno (-EFBIG when larger than max). */
int read_file_max(const char *path, size_t max, char **out, size_t *len);

#endif
