/* mock-conductor's router inventory and task engine. Pure code with an injected clock (`now`, wall
 * clock seconds, only used for the `updated` field).
 *
 * Node states (enum + name table + one transition function, which logs router.state old -> new):
 *   staging:    pending -> onboarding (authenticated) -> certified (certificate issued) -> migrated
 *   production: pending -> connected (authenticated with the production psk and the router certificate)
 * A state never goes back (a migrated node that authenticates again stays migrated).
 *
 * Tasks (staging), in order, each given until the router acks it ok:
 *   production -> generate-key -> svr-config -> migrate -> none
 * generate-key is acked ok only once a certificate was issued for the node (POST /v1/router/csr,
 * accepted only while generate-key is the current task); the migrate ack marks the node migrated.
 * A production conductor always answers none; its routers ack "heartbeat".
 *
 * The inventory's JSON (GET /v1/inventory and the --state file) is
 *   {"role": "staging", "routers": {"R1": {"nodes": {"r1a": {"state": "certified", "asset-id": "SSR-0001",
 *    "serial": "4F..", "identity": "R1.r1a", "task": "svr-config", "updated": "2026-01-01T10:00:00Z"}}}}}
 * (asset-id, serial and updated are null until known). inv_restore() reads it back at start. */
#ifndef COND_INVENTORY_H
#define COND_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cconfig.h"

enum node_state { NS_PENDING, NS_ONBOARDING, NS_CERTIFIED, NS_MIGRATED, NS_CONNECTED, NS__COUNT };
extern const char *const node_state_name[];

/* The tasks in the order they are given, then what a router may ack that is no task. */
enum cond_task { TASK_PRODUCTION, TASK_GENERATE_KEY, TASK_SVR_CONFIG, TASK_MIGRATE, TASK_NONE, TASK_HEARTBEAT,
                 TASK__COUNT };
extern const char *const cond_task_name[];
int cond_task_parse(const char *s, enum cond_task *t);

struct inv_node {
    char router[PSK_NAME_MAX + 1], node[PSK_NAME_MAX + 1];
    char identity[COND_IDENTITY_MAX + 1];
    char asset_id[64 + 1];   /* "" none */
    enum node_state state;
    enum cond_task task;     /* staging: the task given until acked */
    char serial[41];         /* "" none */
    time_t updated;          /* 0: never */
};

struct inventory {
    enum cond_role role;
    struct inv_node *nodes;
    size_t n;
};

/* (Re)build the node list from the config: nodes already known keep their state, task, serial and
 * time; new ones are pending; nodes no longer configured go (their count is returned, or -1 on
 * allocation failure, the inventory unchanged). */
int inv_sync(struct inventory *inv, const struct cond_config *c);
void inv_free(struct inventory *inv);
struct inv_node *inv_find(struct inventory *inv, const char *router, const char *node);
struct inv_node *inv_find_identity(struct inventory *inv, const char *identity);

/* The one state transition: logs router.state, stamps updated. Refuses (returns false, no log) a
 * transition the role's state machine has no edge for (staying put, going back). */
bool inv_transition(struct inventory *inv, struct inv_node *n, enum node_state to, time_t now);

/* A successful authentication: staging pending -> onboarding, production -> connected. */
bool inv_authenticated(struct inventory *inv, struct inv_node *n, time_t now);

/* The task to give now (production: none). */
enum cond_task inv_task(const struct inventory *inv, const struct inv_node *n);

/* May the node send a CSR now? (staging, current task generate-key) */
bool inv_csr_allowed(const struct inventory *inv, const struct inv_node *n);
/* A certificate was issued: serial recorded, -> certified. */
void inv_certified(struct inventory *inv, struct inv_node *n, const char *serial_hex, time_t now);

enum inv_ack {
    ACK_ADVANCED,    /* ok: the next task is given now */
    ACK_RETRY,       /* failed: the same task is given again */
    ACK_REPEATED,    /* the previous task acked again (a lost answer): nothing changes */
    ACK_HEARTBEAT,   /* production heartbeat: updated */
    ACK_UNEXPECTED,  /* not the current task: 409 */
    ACK_NO_CERT,     /* generate-key acked ok before any certificate was issued: 409 */
};
/* Apply an ack; *next is the task given from now on. Changed state/time is persisted by the caller
 * whenever the result is ADVANCED or HEARTBEAT. */
enum inv_ack inv_ack(struct inventory *inv, struct inv_node *n, enum cond_task task, bool ok, time_t now,
                     enum cond_task *next);

/* The task's JSON for a node ({"task": "none"} and so on; see README.md). NULL on allocation failure. */
json_t *inv_task_json(const struct cond_config *c, const struct inv_node *n, enum cond_task t);

/* The inventory as JSON (no secret in it). */
json_t *inv_to_json(const struct inventory *inv);
/* Restore state, task, serial and time of the configured nodes from a state file's text. Nodes the
 * file has but the config does not are counted in *dropped. 0, or -1 with err (the inventory is then
 * unchanged). The file's role must be the inventory's. */
int inv_restore(struct inventory *inv, const char *buf, size_t len, size_t *restored, size_t *dropped, char *err,
                size_t cap);

#endif
