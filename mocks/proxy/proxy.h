/* mock-proxy: the event engine. One epoll loop (edge-triggered sockets) over the listeners, the
 * client and upstream sockets, the resolver's eventfd and the caller's signalfd. Each connection is
 * a state machine (enum conn_state, one transition function that logs old -> new at debug level):
 *
 *   read-head -> resolving -> connecting -> [delay-200] -> relay -> closed
 *        \            \            \                        \
 *         +-> reply (error page, then lingering close) -> closed; read-head -> stall -> closed
 *
 * Tunnels relay with splice() through one pipe per direction (read/write when splice is off or
 * refused by the kernel); plain-HTTP forwards use read/write to see the response status. */
#ifndef MOCK_PROXY_PROXY_H
#define MOCK_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "accesslog.h"

#define PROXY_STATUS_MAX 600

struct proxy_stats {
    uint64_t connections_total, connections_open;
    uint64_t requests_total;            /* request heads parsed (good or bad) */
    uint64_t tunnels_total, tunnels_open;
    uint64_t forwards_total, forwards_open;
    uint64_t bytes_up, bytes_down;      /* relayed client->upstream and upstream->client */
    uint64_t bytes_to_clients;          /* everything written to clients (incl. our replies) */
    uint64_t denials[ACL_VERDICT_COUNT]; /* [ACL_ALLOW] unused */
    uint64_t bad_requests, dns_failures, connect_failures, connect_timeouts, upstream_errors;
    uint64_t timeouts_request, timeouts_idle, aborted;
    uint64_t faults_rst, faults_stall, faults_close, faults_reset, faults_delay, downs;
    uint64_t status[PROXY_STATUS_MAX];  /* replies by status code */
};

struct proxy;

/* Hook called from the loop when the signalfd given to proxy_run() reports a signal. */
typedef void (*proxy_signal_fn)(struct proxy *p, int signo, void *ctx);

/* Create the engine with `cfg` (moved: the proxy owns and frees it) and open the listeners. NULL
 * with err on failure (cfg freed). */
struct proxy *proxy_new(struct proxy_config *cfg, char *err, size_t errlen);
/* Replace the configuration (moved). Listeners stay as they are (fixed at start); faults, ACLs,
 * timeouts, users, access log and stats paths apply to new requests at once. */
void proxy_apply_config(struct proxy *p, struct proxy_config *cfg);
const struct proxy_config *proxy_config(const struct proxy *p);
/* Run until proxy_stop() has been called and the connections are finished or cut. */
int proxy_run(struct proxy *p, int sigfd, proxy_signal_fn on_signal, void *ctx);
/* Stop: close listeners now; connections get cfg.stop_grace_ms to finish, then are cut. */
void proxy_stop(struct proxy *p);
/* Reopen the access log (after rotation). */
void proxy_reopen_log(struct proxy *p);
/* Write the stats file now (no-op when none configured). */
void proxy_write_stats(struct proxy *p);
const struct proxy_stats *proxy_get_stats(const struct proxy *p);
void proxy_free(struct proxy *p);

#endif
