/* See inventory.h. */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mistjson.h"
#include "ztp/log.h"
#include "ztp/util.h"

const char *const node_state_name[] = {[NS_PENDING] = "pending",     [NS_ONBOARDING] = "onboarding",
                                       [NS_CERTIFIED] = "certified", [NS_MIGRATED] = "migrated",
                                       [NS_CONNECTED] = "connected"};

const char *const cond_task_name[] = {[TASK_PRODUCTION] = "production", [TASK_GENERATE_KEY] = "generate-key",
                                      [TASK_SVR_CONFIG] = "svr-config", [TASK_MIGRATE] = "migrate",
                                      [TASK_NONE] = "none",             [TASK_HEARTBEAT] = "heartbeat"};

int cond_task_parse(const char *s, enum cond_task *t)
{
    for (int i = 0; i < TASK__COUNT; i++)
        if (s && strcmp(s, cond_task_name[i]) == 0) {
            *t = (enum cond_task)i;
            return 0;
        }
    return -1;
}

/* The state machines' edges. */
static bool edge(enum cond_role role, enum node_state from, enum node_state to)
{
    if (role == COND_PRODUCTION)
        return from == NS_PENDING && to == NS_CONNECTED;
    return (from == NS_PENDING && to == NS_ONBOARDING) || (from == NS_ONBOARDING && to == NS_CERTIFIED) ||
           (from == NS_CERTIFIED && to == NS_MIGRATED);
}

static bool state_of_role(enum cond_role role, enum node_state s)
{
    return s == NS_PENDING || (role == COND_PRODUCTION ? s == NS_CONNECTED : s != NS_CONNECTED);
}

bool inv_transition(struct inventory *inv, struct inv_node *n, enum node_state to, time_t now)
{
    if (!edge(inv->role, n->state, to))
        return false;
    log_info("router.state", "router=%s node=%s from=%s to=%s", n->router, n->node, node_state_name[n->state],
             node_state_name[to]);
    n->state = to;
    n->updated = now;
    return true;
}

bool inv_authenticated(struct inventory *inv, struct inv_node *n, time_t now)
{
    return inv_transition(inv, n, inv->role == COND_PRODUCTION ? NS_CONNECTED : NS_ONBOARDING, now);
}

enum cond_task inv_task(const struct inventory *inv, const struct inv_node *n)
{
    return inv->role == COND_PRODUCTION ? TASK_NONE : n->task;
}

bool inv_csr_allowed(const struct inventory *inv, const struct inv_node *n)
{
    return inv->role == COND_STAGING && n->task == TASK_GENERATE_KEY;
}

void inv_certified(struct inventory *inv, struct inv_node *n, const char *serial_hex, time_t now)
{
    snprintf(n->serial, sizeof n->serial, "%s", serial_hex);
    n->updated = now;
    inv_transition(inv, n, NS_CERTIFIED, now);
}

enum inv_ack inv_ack(struct inventory *inv, struct inv_node *n, enum cond_task task, bool ok, time_t now,
                     enum cond_task *next)
{
    if (inv->role == COND_PRODUCTION) {
        *next = TASK_NONE;
        if (task != TASK_HEARTBEAT)
            return ACK_UNEXPECTED;
        n->updated = now;
        inv_transition(inv, n, NS_CONNECTED, now);
        return ACK_HEARTBEAT;
    }
    enum cond_task cur = n->task;
    *next = cur;
    if (task == cur && cur < TASK_NONE) {
        if (!ok)
            return ACK_RETRY;
        if (cur == TASK_GENERATE_KEY && !n->serial[0])
            return ACK_NO_CERT;
        n->task = (enum cond_task)(cur + 1);
        n->updated = now;
        if (cur == TASK_MIGRATE)
            inv_transition(inv, n, NS_MIGRATED, now);
        *next = n->task;
        return ACK_ADVANCED;
    }
    if (cur > TASK_PRODUCTION && task == cur - 1 && task < TASK_NONE)
        return ACK_REPEATED;
    return ACK_UNEXPECTED;
}

json_t *inv_task_json(const struct cond_config *c, const struct inv_node *n, enum cond_task t)
{
    json_t *o = json_pack("{s:s}", "task", cond_task_name[t]);
    json_t *addrs = NULL;
    if (!o)
        return NULL;
    if (t == TASK_PRODUCTION || t == TASK_MIGRATE) {
        addrs = json_array();
        for (size_t i = 0; addrs && i < c->n_prod_conductors; i++)
            json_array_append_new(addrs, json_string(c->prod_conductor[i]));
        json_object_set_new(o, "conductor", addrs);
    }
    switch (t) {
    case TASK_PRODUCTION:
        json_object_set_new(o, "psk", json_string(c->prod_psk ? c->prod_psk : ""));
        json_object_set_new(o, "root-ca-pem", json_string(c->prod_root_ca_pem ? c->prod_root_ca_pem : ""));
        break;
    case TASK_GENERATE_KEY:
        json_object_set_new(o, "key-type", json_string("ec-p256"));
        json_object_set_new(o, "identity", json_string(n->identity));
        break;
    case TASK_SVR_CONFIG:
        json_object_set_new(o, "svr",
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "hub", c->svr_hub ? c->svr_hub : "", "hub-name",
                                      c->svr_hub_name ? c->svr_hub_name : "", "router", n->router, "node", n->node,
                                      "identity", n->identity));
        break;
    default:
        break;
    }
    return o;
}

/* ---- node list ---- */

struct inv_node *inv_find(struct inventory *inv, const char *router, const char *node)
{
    for (size_t i = 0; i < inv->n; i++)
        if (strcmp(inv->nodes[i].router, router) == 0 && strcmp(inv->nodes[i].node, node) == 0)
            return &inv->nodes[i];
    return NULL;
}

struct inv_node *inv_find_identity(struct inventory *inv, const char *identity)
{
    for (size_t i = 0; i < inv->n; i++)
        if (strcmp(inv->nodes[i].identity, identity) == 0)
            return &inv->nodes[i];
    return NULL;
}

int inv_sync(struct inventory *inv, const struct cond_config *c)
{
    size_t total = cond_config_nodes(c), k = 0;
    struct inv_node *nn = calloc(total ? total : 1, sizeof *nn);
    if (!nn)
        return -1;
    for (size_t i = 0; i < c->n_routers; i++)
        for (size_t j = 0; j < c->routers[i].n_nodes; j++) {
            const struct cond_router *r = &c->routers[i];
            const struct cond_node *cn = &r->nodes[j];
            struct inv_node *n = &nn[k++], *old = inv_find(inv, r->name, cn->name);
            if (old)
                *n = *old;
            snprintf(n->router, sizeof n->router, "%s", r->name);
            snprintf(n->node, sizeof n->node, "%s", cn->name);
            snprintf(n->identity, sizeof n->identity, "%s", cn->identity);
            snprintf(n->asset_id, sizeof n->asset_id, "%s", cn->asset_id ? cn->asset_id : "");
        }
    size_t kept = 0;
    for (size_t i = 0; i < inv->n; i++)
        for (size_t j = 0; j < k; j++)
            if (strcmp(inv->nodes[i].router, nn[j].router) == 0 && strcmp(inv->nodes[i].node, nn[j].node) == 0) {
                kept++;
                break;
            }
    int dropped = (int)(inv->n - kept);
    free(inv->nodes);
    inv->nodes = nn;
    inv->n = k;
    inv->role = c->role;
    return dropped;
}

void inv_free(struct inventory *inv)
{
    free(inv->nodes);
    inv->nodes = NULL;
    inv->n = 0;
}

/* ---- JSON ---- */

static json_t *time_json(time_t t)
{
    struct tm tm;
    char buf[32];
    if (!t || !gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

static int time_parse(const char *s, time_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -1;
    *t = timegm(&tm);
    return *t > 0 ? 0 : -1;
}

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

json_t *inv_to_json(const struct inventory *inv)
{
    json_t *routers = json_object();
    for (size_t i = 0; routers && i < inv->n; i++) {
        const struct inv_node *n = &inv->nodes[i];
        json_t *r = json_object_get(routers, n->router);
        if (!r) {
            r = json_pack("{s:{}}", "nodes");
            json_object_set_new(routers, n->router, r);
        }
        json_t *nodes = json_object_get(r, "nodes");
        json_object_set_new(nodes, n->node,
                            json_pack("{s:s,s:o,s:o,s:s,s:s,s:o}", "state", node_state_name[n->state], "asset-id",
                                      str_or_null(n->asset_id), "serial", str_or_null(n->serial), "identity",
                                      n->identity, "task", cond_task_name[inv_task(inv, n)], "updated",
                                      time_json(n->updated)));
    }
    return json_pack("{s:s,s:o}", "role", cond_role_name[inv->role], "routers", routers ? routers : json_object());
}

/* An optional string-or-null member. */
static int opt_string(json_t *o, const char *key, const char *where, const char **out, char *err, size_t cap)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    return mj_string(o, key, true, where, out, err, cap);
}

static int restore_node(json_t *v, const char *where, enum cond_role role, struct inv_node *n, char *err, size_t cap)
{
    static const char *const keys[] = {"state", "asset-id", "serial", "identity", "task", "updated", NULL};
    const char *state, *serial, *task, *updated, *asset, *identity;
    if (!json_is_object(v))
        return errf(err, cap, "%s: must be an object", where);
    if (mj_only_keys(v, keys, where, err, cap) < 0 || mj_string(v, "state", true, where, &state, err, cap) < 0 ||
        opt_string(v, "serial", where, &serial, err, cap) < 0 || opt_string(v, "task", where, &task, err, cap) < 0 ||
        opt_string(v, "updated", where, &updated, err, cap) < 0 ||
        opt_string(v, "asset-id", where, &asset, err, cap) < 0 ||
        opt_string(v, "identity", where, &identity, err, cap) < 0)
        return -1;
    int s = -1;
    for (int i = 0; i < NS__COUNT; i++)
        if (strcmp(state, node_state_name[i]) == 0)
            s = i;
    if (s < 0 || !state_of_role(role, (enum node_state)s))
        return errf(err, cap, "%s: \"state\" %.32s is not a %s state", where, state, cond_role_name[role]);
    enum cond_task t = TASK_PRODUCTION;
    if (task && (cond_task_parse(task, &t) < 0 || t > TASK_NONE))
        return errf(err, cap, "%s: unknown \"task\" %.32s", where, task);
    if (serial) {
        size_t sl = strlen(serial);
        if (sl == 0 || sl > 40 || strspn(serial, "0123456789ABCDEF") != sl)
            return errf(err, cap, "%s: \"serial\" must be 1..40 upper-case hex digits", where);
    }
    time_t when = 0;
    if (updated && time_parse(updated, &when) < 0)
        return errf(err, cap, "%s: \"updated\" must be YYYY-MM-DDTHH:MM:SSZ", where);
    if (identity && strcmp(identity, n->identity) != 0)
        return errf(err, cap, "%s: \"identity\" %.64s is not %s", where, identity, n->identity);
    n->state = (enum node_state)s;
    n->task = role == COND_STAGING ? t : TASK_PRODUCTION;
    snprintf(n->serial, sizeof n->serial, "%s", serial ? serial : "");
    n->updated = when;
    return 0;
}

static int restore_into(struct inventory *inv, struct inv_node *work, json_t *root, size_t *restored,
                        size_t *dropped, char *err, size_t cap)
{
    static const char *const keys[] = {"role", "routers", NULL};
    const char *role;
    char where[200];
    if (mj_only_keys(root, keys, "state", err, cap) < 0 || mj_string(root, "role", true, "state", &role, err, cap) < 0)
        return -1;
    if (strcmp(role, cond_role_name[inv->role]) != 0)
        return errf(err, cap, "state: written by a %.32s conductor, this one is %s", role, cond_role_name[inv->role]);
    json_t *routers = json_object_get(root, "routers");
    if (!json_is_object(routers))
        return errf(err, cap, "state: \"routers\" must be an object");
    const char *rname, *nname;
    json_t *r, *nv;
    json_object_foreach(routers, rname, r) {
        static const char *const rkeys[] = {"nodes", NULL};
        snprintf(where, sizeof where, "state.routers.%.64s", rname);
        if (!json_is_object(r))
            return errf(err, cap, "%s: must be an object", where);
        if (mj_only_keys(r, rkeys, where, err, cap) < 0)
            return -1;
        json_t *nodes = json_object_get(r, "nodes");
        if (!json_is_object(nodes))
            return errf(err, cap, "%s: \"nodes\" must be an object", where);
        json_object_foreach(nodes, nname, nv) {
            snprintf(where, sizeof where, "state.routers.%.64s.nodes.%.64s", rname, nname);
            struct inv_node *n = NULL;
            for (size_t i = 0; i < inv->n && !n; i++)
                if (strcmp(work[i].router, rname) == 0 && strcmp(work[i].node, nname) == 0)
                    n = &work[i];
            if (!n) {
                (*dropped)++;
                continue;
            }
            if (restore_node(nv, where, inv->role, n, err, cap) < 0)
                return -1;
            (*restored)++;
        }
    }
    return 0;
}

int inv_restore(struct inventory *inv, const char *buf, size_t len, size_t *restored, size_t *dropped, char *err,
                size_t cap)
{
    *restored = *dropped = 0;
    json_t *root = mj_load_object(buf, len, err, cap);
    if (!root)
        return -1;
    struct inv_node *work = calloc(inv->n ? inv->n : 1, sizeof *work);
    if (!work) {
        json_decref(root);
        return errf(err, cap, "out of memory");
    }
    if (inv->n)
        memcpy(work, inv->nodes, inv->n * sizeof *work);
    int rc = restore_into(inv, work, root, restored, dropped, err, cap);
    if (rc == 0 && inv->n)
        memcpy(inv->nodes, work, inv->n * sizeof *work);
    if (rc < 0)
        *restored = *dropped = 0;
    free(work);
    json_decref(root);
    return rc;
}
