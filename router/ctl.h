/* Control socket of ssr-node: the `show` commands of ssr-cli.
 *
 * Transport: a Unix stream socket (default /run/ztp-lab/ssr-NODE.sock, or --ctl PATH; mode
 * 0660). One request per connection: the client connects, writes ONE JSON object terminated by
 * "\n" (or by shutting down its write side), and reads ONE JSON object terminated by "\n"; then
 * the server closes. A request larger than CTL_MAX_REQUEST bytes, or not complete within
 * CTL_CONN_TIMEOUT_MS, gets an error response (or is closed). At most CTL_MAX_CONNS clients at once.
 *
 * Requests:
 *   {"cmd":"show","what":"dhcp learned-proxies"}
 *   {"cmd":"show","what":"management-proxy"}
 *   {"cmd":"show","what":"config"}
 *   {"cmd":"show","what":"ha"}
 *   {"cmd":"show","what":"phone-home"}
 *   {"cmd":"show","what":"onboarding"}     -> "onboarding": sztp_json() (sztp.h): device-id, state,
 *                                             step, history [{from,to,step,at,time,why}], last-error,
 *                                             next-retry-in-ms, redirect, org, conductor, files
 *                                             recheck {pending,proxy,attempts,failures,ok-total,
 *                                             failed-total,last}, fault, proxy (sztp.h), and
 *                                             "conductor-client": conductor_json() (below)
 *   {"cmd":"show","what":"conductor"}      -> "conductor": conductor_json() (conductor.h): state, step,
 *                                             role, conductor (in use), staging, production [..],
 *                                             target [..], migrated-by, session, connected,
 *                                             connected-since, heartbeats, serial, certificate
 *                                             {file,serial,subject,not-after}, svr, hub {state, hub,
 *                                             hub-name, identity, peered-since, keepalives-*,
 *                                             last-failure}, history, last-error, next-retry-in-ms,
 *                                             files {root-ca, production-ca, router-key, ...}
 *   {"cmd":"migrate","conductor":["A[:P]","A[:P]"]}
 *                                          -> `ssr-cli migrate conductor ADDR [ADDR]`: "migrate":
 *                                             conductor_json() after the re-target, or an error
 *                                             (state before certified, no production secret, bad
 *                                             address)
 *   {"cmd":"fetch","url":"https://HOST[:PORT]/PATH","timeout-ms":N,"ca-file":"PATH"}
 *                                 (timeout-ms 100..120000, default 15000; ca-file default --mist-ca,
 *                                 else the system store)
 *   {"cmd":"ping"}
 *
 * Every response has "ok" (bool), "router", "node" and, for show, "what". Errors:
 *   {"ok":false,"error":"unknown command \"x\"", ...}
 *
 * "dhcp learned-proxies" -> "learned-proxies": [row...], one row per `dhcp v4` network-interface
 * of this node (with or without a proxy) and per entry received from the HA peer, sorted by node,
 * then network-interface:
 *   {"node":"r1a","network-interface":"wan1","device-interface":"wan1dev","ifname":"wan1",
 *    "address":"198.18.10.10" | null,"port":3128 | null,
 *    "lease-state":"bound"|"renewing"|"rebinding"|"expired"|"none",
 *    "dhcp-state":"BOUND"|...        (local rows with a running DHCP client only),
 *    "learned-at":"2026-11-23T13:40:01Z" | null,"learned-at-epoch":N | null,"age":SECONDS | null,
 *    "expires-in":SECONDS | null     (null: no entry, or an infinite lease),
 *    "source":"local"|"peer","discovery":true|false,"selected":true|false,
 *    "last-event":"learned 198.18.10.10:3128" | "rejected: port out of range" | ... (local rows)}
 *
 * "management-proxy" -> "management-proxy": {
 *    "enabled":true,"mode":"learned"|"static",
 *    "active":"198.18.10.10:3128" | null,"address":"198.18.10.10" | null,"port":3128 | null,
 *    "source":"learned"|"config-static"|"onboarding-json"|"none",
 *    "source-text":"learned on node r1a network-interface wan1 (local)" | "config proxy NAME" |
 *                  "onboarding.json" | "none: REASON",
 *    "learned-from":{"node":..,"network-interface":..,"ifname":..,"peer":bool} | null,
 *    "proxy-name":"NAME" | null      (config-static),
 *    "reason":"..." | null           (source none),
 *    "onboarded":bool,"since":"ISO time","changes":N}
 *
 * "config" -> "config": {"config-file":..,"router":..,"management-proxy":{"enabled","mode",
 *    "proxies":[{"name","address","port"}]},"network-interfaces":[{"node","device-interface",
 *    "network-interface","ifname","dhcp","enable-proxy-discovery"}],"onboarding":{"file","present",
 *    "mode","name","proxy","onboarded"} (never the registration code),"ha":{...}}
 *
 * "ha" -> "ha": {"enabled":bool,"listen","peer","expect-peer","timeout","instance","seq-sent",
 *    "peer-node","peer-up":bool,"peer-seen-ago-ms","peer-entries":N,"datagrams","dropped"}
 *
 * "config" also has, under "management-proxy": "username": U | null, "password-set": bool (the
 * password itself is never shown).
 *
 * "phone-home" -> "phone-home": {"enabled":bool,
 *    "state":"off"|"waiting-for-proxy"|"attempting"|"backoff"|"ok","url","host","port","ca-file",
 *    "active-proxy":"A:P"|null, "proxy":"A:P"|null (the attempt under way, else the last one),
 *    "proxy-user":U|null,"round":N (proxy changes that restarted it),"attempts":N (this round),
 *    "attempts-total","failures-total","successes","next-retry-in-ms":N|null,"retry-delay-ms":N|null,
 *    "succeeded-at":ISO|null,
 *    "last-result": null | {"ok":bool,"class":"ok"|"proxy-refused"|"tls-failed"|...,"message",
 *       "attempt","proxy","status":N|null,"reason","proxy-status":N|null,"proxy-reason",
 *       "squid-error","tls-version","peer-subject","peer-issuer","elapsed-ms","at"}}
 *
 * "fetch": one GET through the node's active proxy with the node's proxy credentials (https.h);
 * the answer comes when the request completes (the connection's deadline is extended to the
 * request's timeout). "ok" is true when an HTTP response came back (whatever its status):
 *    {"ok":..,"what":"fetch","fetch":{"url","proxy","class","message","proxy-status","proxy-reason",
 *     "squid-error","tls-version","peer-subject","peer-issuer","status","reason",
 *     "headers":[[name,value],...],"body-bytes":N,"body":"..."|null,"body-base64":"..." (a body
 *     that is not UTF-8),"elapsed-ms"}, "error":"CLASS: message" when not ok}
 * With no active proxy, a bad URL or timeout, the answer is an error at once.
 */
#ifndef SSR_CTL_H
#define SSR_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

#define CTL_MAX_REQUEST 4096
#define CTL_MAX_CONNS 16
#define CTL_CONN_TIMEOUT_MS 2000
#define CTL_DEFAULT_DIR "/run/ztp-lab"

struct ctl_server;

struct ctl_conn {
    struct node_ev ev;
    struct ctl_server *srv;
    bool in_use;
    int fd;
    char in[CTL_MAX_REQUEST + 1];
    size_t in_len;
    char *out;                     /* malloc'd response, NULL until built */
    size_t out_len, out_off;
    uint64_t deadline_ms;
    struct https_client *fetch;    /* a fetch under way (answered by its callback), or NULL */
};

struct ctl_server {
    struct node_ev ev;             /* the listening socket */
    struct node *node;
    int fd;                        /* listening socket, -1 when none */
    int epfd;                      /* -1: connections are not registered (tests) */
    char path[108];
    struct ctl_conn conns[CTL_MAX_CONNS];
};

/* Default socket path for a node: CTL_DEFAULT_DIR "/ssr-NODE.sock". */
void ctl_default_path(const char *node, char *buf, size_t cap);

void ctl_init(struct ctl_server *s, struct node *n, int epfd);
/* Bind and listen on `path` (a stale socket file is replaced; the directory is created when it
 * is CTL_DEFAULT_DIR), register it in epfd. Returns 0 or -errno. */
int ctl_listen(struct ctl_server *s, const char *path);
/* Close every connection and the listener; remove the socket file. */
void ctl_close(struct ctl_server *s);

/* Take an accepted (or socketpair) fd as a client connection: made non-blocking and registered
 * in epfd. Returns the connection, or NULL (fd closed) when all slots are busy. */
struct ctl_conn *ctl_adopt(struct ctl_server *s, int fd, uint64_t now_ms);
/* Handle readiness on a connection: read the request, answer, close when done. Returns true when
 * the connection is finished (and closed). */
bool ctl_conn_event(struct ctl_conn *c, uint32_t events);
/* Close connections past their deadline. */
void ctl_tick(struct ctl_server *s, uint64_t now_ms);

/* The pure part: a response object for a request object (never NULL). */
json_t *ctl_handle(struct node *n, const json_t *req, time_t now, uint64_t now_ms);
/* Same from request bytes: parse (bounded), handle, serialize + "\n". Returns a malloc'd string. */
char *ctl_handle_text(struct node *n, const char *buf, size_t len, time_t now, uint64_t now_ms, size_t *out_len);

#endif
