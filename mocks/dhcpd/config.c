#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ztp/daemon.h"
#include "ztp/util.h"

#define CONFIG_MAX_BYTES (1u << 20)

static int parse_ip(const char *s, struct in_addr *a)
{
    return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

static int get_ip(json_t *obj, const char *key, const char *where, struct in_addr *a, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return errf(err, errlen, "%s.%s: must be an IPv4 address string", where, key);
    if (parse_ip(json_string_value(v), a) < 0)
        return errf(err, errlen, "%s.%s: \"%s\" is not an IPv4 address", where, key, json_string_value(v));
    return 0;
}

static int get_ip_list(json_t *obj, const char *key, const char *where, struct in_addr *out, uint8_t *n,
                       char *err, size_t errlen)
{
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;
    *n = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return errf(err, errlen, "%s.%s: must be an array of IPv4 address strings", where, key);
    if (json_array_size(arr) > DHCP_MAX_ADDRS)
        return errf(err, errlen, "%s.%s: at most %d addresses", where, key, DHCP_MAX_ADDRS);
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || parse_ip(json_string_value(v), &out[i]) < 0)
            return errf(err, errlen, "%s.%s[%zu]: not an IPv4 address string", where, key, i);
        (*n)++;
    }
    return 0;
}

static int get_u32(json_t *obj, const char *key, const char *where, uint32_t *out, bool *have, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (have)
        *have = false;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return errf(err, errlen, "%s.%s: must be an integer 0..4294967295", where, key);
    *out = (uint32_t)json_integer_value(v);
    if (have)
        *have = true;
    return 0;
}

static int get_bool(json_t *obj, const char *key, const char *where, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return errf(err, errlen, "%s.%s: must be true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

static bool mask_ok(struct in_addr m)
{
    uint32_t h = ntohl(m.s_addr);
    return h != 0 && (~h & (~h + 1)) == 0; /* contiguous ones from the top */
}

static int parse_range(const char *s, const char *where, struct in_addr *start, struct in_addr *end, char *err,
                       size_t errlen)
{
    char a[32], b[32];
    const char *dash = strchr(s, '-');
    if (!dash || (size_t)(dash - s) >= sizeof a || strlen(dash + 1) >= sizeof b)
        return errf(err, errlen, "%s.range: \"%s\" is not START-END (e.g. 198.18.1.100-198.18.1.200)", where, s);
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = '\0';
    snprintf(b, sizeof b, "%s", dash + 1);
    if (parse_ip(a, start) < 0)
        return errf(err, errlen, "%s.range: start \"%s\" is not an IPv4 address", where, a);
    if (parse_ip(b, end) < 0)
        return errf(err, errlen, "%s.range: end \"%s\" is not an IPv4 address", where, b);
    if (ntohl(start->s_addr) > ntohl(end->s_addr))
        return errf(err, errlen, "%s.range: start %s is after end %s", where, a, b);
    return 0;
}

bool dhcpd_pool_in_subnet(const struct dhcpd_pool *p, struct in_addr a)
{
    return (a.s_addr & p->mask.s_addr) == (p->start.s_addr & p->mask.s_addr);
}

bool dhcpd_pool_in_range(const struct dhcpd_pool *p, struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return h >= ntohl(p->start.s_addr) && h <= ntohl(p->end.s_addr);
}

uint32_t dhcpd_pool_size(const struct dhcpd_pool *p)
{
    return ntohl(p->end.s_addr) - ntohl(p->start.s_addr) + 1;
}

static int parse_pool(json_t *o, size_t idx, struct dhcpd_pool *p, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "interface", "relay", "server", "range", "subnet_mask", "routers", "dns", "lease_time", "t1", "t2",
        "vendor_class", "proxy", "option43_end", "option43_always", "echo_vendor_class", "echo_client_id", NULL,
    };
    char where[32], sa[INET_ADDRSTRLEN];
    json_t *v;

    snprintf(where, sizeof where, "pools[%zu]", idx);
    if (!json_is_object(o))
        return errf(err, errlen, "%s: must be an object", where);
    if (json_check_keys(o, keys, where, err, errlen) < 0)
        return -1;

    memset(p, 0, sizeof *p);
    json_t *ifn = json_object_get(o, "interface"), *rel = json_object_get(o, "relay");
    if ((ifn != NULL) == (rel != NULL))
        return errf(err, errlen, "%s: give exactly one of \"interface\" (a local link) or \"relay\" (giaddr)", where);
    if (ifn) {
        if (!json_is_string(ifn) || json_string_length(ifn) == 0 || json_string_length(ifn) >= IFNAMSIZ)
            return errf(err, errlen, "%s.interface: must be an interface name of 1..%d characters", where,
                           IFNAMSIZ - 1);
        snprintf(p->ifname, sizeof p->ifname, "%s", json_string_value(ifn));
        snprintf(p->name, sizeof p->name, "%s", p->ifname);
    } else {
        if (get_ip(o, "relay", where, &p->relay, err, errlen) < 0)
            return -1;
        p->relayed = true;
        snprintf(p->name, sizeof p->name, "relay:%s", inet_ntop(AF_INET, &p->relay, sa, sizeof sa));
    }
    if (get_ip(o, "server", where, &p->server, err, errlen) < 0)
        return -1;

    v = json_object_get(o, "range");
    if (!json_is_string(v))
        return errf(err, errlen, "%s.range: must be a string START-END", where);
    if (parse_range(json_string_value(v), where, &p->start, &p->end, err, errlen) < 0)
        return -1;
    if (dhcpd_pool_size(p) > DHCPD_MAX_POOL_SIZE || dhcpd_pool_size(p) == 0)
        return errf(err, errlen, "%s.range: more than %u addresses", where, DHCPD_MAX_POOL_SIZE);

    if (get_ip(o, "subnet_mask", where, &p->mask, err, errlen) < 0)
        return -1;
    if (!mask_ok(p->mask))
        return errf(err, errlen, "%s.subnet_mask: %s is not a contiguous netmask", where,
                       inet_ntop(AF_INET, &p->mask, sa, sizeof sa));
    if ((p->start.s_addr & p->mask.s_addr) != (p->end.s_addr & p->mask.s_addr))
        return errf(err, errlen, "%s.range: start and end are not in the same subnet", where);
    if (!p->relayed && !dhcpd_pool_in_subnet(p, p->server))
        return errf(err, errlen, "%s.range: not in the subnet of server %s", where,
                       inet_ntop(AF_INET, &p->server, sa, sizeof sa));
    if (p->relayed && !dhcpd_pool_in_subnet(p, p->relay))
        return errf(err, errlen, "%s.range: not in the subnet of relay %s", where,
                       inet_ntop(AF_INET, &p->relay, sa, sizeof sa));

    if (get_ip_list(o, "routers", where, p->routers, &p->n_routers, err, errlen) < 0 ||
        get_ip_list(o, "dns", where, p->dns, &p->n_dns, err, errlen) < 0)
        return -1;

    p->lease_time = DHCPD_DEFAULT_LEASE_TIME;
    if (get_u32(o, "lease_time", where, &p->lease_time, NULL, err, errlen) < 0 ||
        get_u32(o, "t1", where, &p->t1, &p->have_t1, err, errlen) < 0 ||
        get_u32(o, "t2", where, &p->t2, &p->have_t2, err, errlen) < 0)
        return -1;
    if (p->lease_time == 0)
        return errf(err, errlen, "%s.lease_time: must be at least 1 second", where);

    v = json_object_get(o, "vendor_class");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255)
            return errf(err, errlen, "%s.vendor_class: must be a string of 1..255 bytes", where);
        memcpy(p->vendor_class, json_string_value(v), json_string_length(v));
        p->vendor_class_len = (uint8_t)json_string_length(v);
    } else {
        p->vendor_class_len = (uint8_t)strlen(DHCP_VENDOR_CLASS_SSR);
        memcpy(p->vendor_class, DHCP_VENDOR_CLASS_SSR, p->vendor_class_len);
    }

    v = json_object_get(o, "proxy");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) > DHCPD_MAX_PROXY_LEN)
            return errf(err, errlen, "%s.proxy: must be a string of at most %u bytes (sent verbatim)", where,
                           DHCPD_MAX_PROXY_LEN);
        snprintf(p->proxy, sizeof p->proxy, "%s", json_string_value(v));
        p->have_proxy = true;
    }
    if (get_bool(o, "option43_end", where, &p->option43_end, err, errlen) < 0 ||
        get_bool(o, "option43_always", where, &p->option43_always, err, errlen) < 0 ||
        get_bool(o, "echo_vendor_class", where, &p->echo_vendor_class, err, errlen) < 0 ||
        get_bool(o, "echo_client_id", where, &p->echo_client_id, err, errlen) < 0)
        return -1;
    return 0;
}

int dhcpd_config_parse(const char *text, size_t len, struct dhcpd_config *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"pools", "leases", "decline_time", "offer_time", "broadcast_replies", NULL};
    json_error_t jerr;
    json_t *root, *pools, *v;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof *out);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return errf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        errf(err, errlen, "the top level must be an object");
        goto out;
    }
    if (json_check_keys(root, keys, "config", err, errlen) < 0)
        goto out;

    v = json_object_get(root, "leases");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof out->leases) {
            errf(err, errlen, "config.leases: must be a file path string");
            goto out;
        }
        snprintf(out->leases, sizeof out->leases, "%s", json_string_value(v));
    }
    out->decline_time = DHCPD_DEFAULT_DECLINE_TIME;
    out->offer_time = DHCPD_DEFAULT_OFFER_TIME;
    if (get_u32(root, "decline_time", "config", &out->decline_time, NULL, err, errlen) < 0 ||
        get_u32(root, "offer_time", "config", &out->offer_time, NULL, err, errlen) < 0 ||
        get_bool(root, "broadcast_replies", "config", &out->broadcast_replies, err, errlen) < 0)
        goto out;

    pools = json_object_get(root, "pools");
    if (!json_is_array(pools) || json_array_size(pools) == 0) {
        errf(err, errlen, "config.pools: must be a non-empty array of pools");
        goto out;
    }
    out->pools = calloc(json_array_size(pools), sizeof *out->pools);
    if (!out->pools) {
        errf(err, errlen, "out of memory");
        goto out;
    }
    json_array_foreach(pools, i, v) {
        if (parse_pool(v, i, &out->pools[i], err, errlen) < 0)
            goto out;
        out->n_pools++;
        for (size_t j = 0; j < i; j++) {
            const struct dhcpd_pool *a = &out->pools[j], *b = &out->pools[i];
            if (!a->relayed && !b->relayed && strcmp(a->ifname, b->ifname) == 0) {
                errf(err, errlen, "pools[%zu].interface: %s already has a pool (pools[%zu])", i, b->ifname, j);
                goto out;
            }
            if (ntohl(a->start.s_addr) <= ntohl(b->end.s_addr) && ntohl(b->start.s_addr) <= ntohl(a->end.s_addr)) {
                errf(err, errlen, "pools[%zu].range: overlaps pools[%zu].range", i, j);
                goto out;
            }
        }
    }
    rc = 0;
out:
    json_decref(root);
    if (rc < 0)
        dhcpd_config_free(out);
    return rc;
}

int dhcpd_config_load(const char *path, struct dhcpd_config *out, char *err, size_t errlen)
{
    char *text, inner[512];
    size_t len;
    int r = read_file_max(path, CONFIG_MAX_BYTES, &text, &len);
    memset(out, 0, sizeof *out);
    if (r < 0)
        return errf(err, errlen, "%s: %s", path, strerror(-r));
    r = dhcpd_config_parse(text, len, out, inner, sizeof inner);
    free(text);
    if (r < 0)
        return errf(err, errlen, "%s: %s", path, inner);
    return 0;
}

void dhcpd_config_free(struct dhcpd_config *cfg)
{
    free(cfg->pools);
    cfg->pools = NULL;
    cfg->n_pools = 0;
}
