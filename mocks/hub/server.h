/* mock-hub: the event engine. One epoll loop (level-triggered) over the listener, a signalfd and
 * every connection; OpenSSL 3 non-blocking TLS server sockets. Each connection is a state machine
 * (enum conn_state, one transition function that logs old -> new at debug level):
 *
 *   handshake -> hello -> peered -> closing -> linger -> (freed)
 *        \          \                 ^          ^
 *         \          +-- refused -----+          |
 *          +-- TLS failure / timeout ------------+
 *
 * closing flushes the last answer and sends close_notify; linger half-closes the socket and drains
 * what the peer still sends (bounded), so a refusal line is not lost to a TCP reset. */
#ifndef MOCK_HUB_SERVER_H
#define MOCK_HUB_SERVER_H

#include <stddef.h>

#include "hubcore.h"

struct hub_server_opts {
    const char *config_path;           /* re-read on SIGHUP */
    const char *listen;                /* IP:PORT */
    const char *cert, *key;            /* the hub's certificate chain and key (PEM files) */
    const char *client_ca;             /* the CA peers' certificates must chain to (the conductor CA) */
    const char *state_path;            /* NULL: no state file */
};

struct hub_server;

/* Load the TLS material and open the listener. cfg is moved into the server (the caller's copy is
 * zeroed). NULL with err on failure. */
struct hub_server *hub_server_new(const struct hub_server_opts *o, struct hub_config *cfg, char *err, size_t cap);
/* Serve until SIGTERM/SIGINT (signals through daemon_signalfd()); SIGHUP reloads the config.
 * Calls daemon_ready() once listening. 0 after a clean stop, -1 when the loop could not start. */
int hub_server_run(struct hub_server *s);
void hub_server_free(struct hub_server *s);

#endif
