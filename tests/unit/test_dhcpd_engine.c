/* mock-dhcpd engine, lease table and config: requests go through the real codec (built, then
 * parsed as the server would receive them) and replies are built and parsed back, so the
 * assertions are about what would be on the wire. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
/* engine.h brings mocks/dhcpd's config.h and leases.h (the router also has a config.h). */
#include "engine.h"
#include "ztp/daemon.h"
#include "ztp/dhcp.h"
#include "ztp/log.h"

#define T0 1700000000

static const char *const base_cfg =
    "{\"pools\": [\n"
    " {\"interface\": \"eth1\", \"server\": \"198.18.10.1\", \"range\": \"198.18.10.100-198.18.10.102\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"routers\": [\"198.18.10.1\"], \"dns\": [\"8.8.8.8\", \"8.8.4.4\"],\n"
    "  \"proxy\": \"10.92.53.8:3128\"},\n"
    " {\"relay\": \"198.18.30.1\", \"server\": \"198.18.20.1\", \"range\": \"198.18.30.50-198.18.30.60\",\n"
    "  \"subnet_mask\": \"255.255.255.0\", \"routers\": [\"198.18.30.1\"], \"lease_time\": 120, \"t1\": 60,\n"
    "  \"t2\": 105, \"proxy\": \"198.18.40.5:8080\", \"option43_end\": true, \"echo_vendor_class\": true}\n"
    "], \"decline_time\": 300, \"offer_time\": 30}\n";

static struct dhcpd_config cfg;
static struct dhcpd_lease_table lt;

static const uint8_t mac1[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x05};
static const uint8_t mac2[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x06};
static const uint8_t mac3[6] = {0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x07};

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    CU_ASSERT_EQUAL(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static const char *ipstr(struct in_addr a)
{
    static char buf[4][INET_ADDRSTRLEN];
    static int i;
    i = (i + 1) % 4;
    return inet_ntop(AF_INET, &a, buf[i], sizeof buf[i]);
}

static void setup(const char *text)
{
    char err[512];
    dhcpd_leases_free(&lt);
    dhcpd_config_free(&cfg);
    dhcpd_leases_init(&lt);
    int r = dhcpd_config_parse(text, strlen(text), &cfg, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "\n  config: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(r, 0);
}

/* Through the wire: build, then parse. */
static void wire(struct dhcp_msg *m)
{
    uint8_t buf[DHCP_MAX_LEN];
    ssize_t n = dhcp_build(m, buf, sizeof buf, DHCP_BOOTP_MIN_LEN);
    CU_ASSERT_TRUE_FATAL(n > 0);
    CU_ASSERT_EQUAL_FATAL(dhcp_parse(buf, (size_t)n, m), 0);
}

/* A request like the router's: 61 = 01+MAC, 55 = 1 3 6 43, 60 = vendor (NULL: none). */
static struct dhcp_msg req(enum dhcp_msg_type t, const uint8_t *mac, const char *vendor, bool ask43)
{
    static const uint8_t prl[] = {1, 3, 6, 43};
    uint8_t cid[7] = {1};
    struct dhcp_msg m;
    memcpy(cid + 1, mac, 6);
    dhcp_msg_init(&m, BOOTREQUEST, t, 0xe5dadd09, mac);
    dhcp_set_bytes(&m, DHO_CLIENT_ID, cid, sizeof cid);
    dhcp_set_bytes(&m, DHO_PARAM_REQ, prl, ask43 ? 4 : 3);
    if (vendor)
        dhcp_set_bytes(&m, DHO_VENDOR_CLASS, vendor, strlen(vendor));
    return m;
}

/* Run one request through pool selection and the engine; the reply is put through the wire. */
static struct dhcpd_result run_at(const char *ifname, struct dhcp_msg *m, struct dhcp_msg *reply, int64_t now)
{
    struct dhcpd_result res;
    wire(m);
    const struct dhcpd_pool *pool = dhcpd_engine_select_pool(&cfg, ifname, m);
    dhcpd_engine_handle(&cfg, pool, &lt, now, m, reply, &res);
    if (res.reply != DHCPD_NONE)
        wire(reply);
    return res;
}

static struct dhcpd_result run(struct dhcp_msg *m, struct dhcp_msg *reply)
{
    return run_at("eth1", m, reply, T0);
}

/* DISCOVER then REQUEST (selecting) for mac; returns the address bound. */
static struct in_addr dora(const uint8_t *mac, int64_t now)
{
    struct dhcp_msg m = req(DHCPDISCOVER, mac, "JuniperSSR", true), r;
    struct dhcpd_result res = run_at("eth1", &m, &r, now);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    struct in_addr a = r.yiaddr;
    m = req(DHCPREQUEST, mac, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_SERVER_ID, r.server_id);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a);
    res = run_at("eth1", &m, &r, now);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a));
    return a;
}

static const uint8_t proxy17[] = {0x80, 0x0f, '1', '0', '.', '9', '2', '.', '5', '3', '.', '8', ':', '3', '1', '2', '8'};

/* ---- DISCOVER / OFFER ---- */

static void test_offer_juniper(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_INT(r.op, BOOTREPLY);
    ZTP_ASSERT_EQ_INT(r.msg_type, DHCPOFFER);
    ZTP_ASSERT_EQ_INT(r.xid, 0xe5dadd09);
    CU_ASSERT_EQUAL(memcmp(r.chaddr, mac1, 6), 0);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.100");
    ZTP_ASSERT_EQ_STR(ipstr(r.server_id), "198.18.10.1");
    ZTP_ASSERT_EQ_INT(r.lease_time, 6000);
    ZTP_ASSERT_EQ_STR(ipstr(r.subnet_mask), "255.255.255.0");
    ZTP_ASSERT_EQ_INT(r.n_routers, 1);
    ZTP_ASSERT_EQ_STR(ipstr(r.routers[0]), "198.18.10.1");
    ZTP_ASSERT_EQ_INT(r.n_dns, 2);
    ZTP_ASSERT_EQ_STR(ipstr(r.dns[1]), "8.8.4.4");
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_T1));
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_CLASS)); /* echo is off by default */
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_CLIENT_ID));
    /* Option 43 = sub-option 128, length 15, "10.92.53.8:3128": 17 bytes, no END (like Kea). */
    CU_ASSERT_TRUE(dhcp_has(&r, DHO_VENDOR_OPTS));
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 17);
    CU_ASSERT_EQUAL(memcmp(r.vendor_opts, proxy17, sizeof proxy17), 0);
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_SENT);
    /* No address yet, broadcast flag clear: unicast to yiaddr at chaddr (the doc's trace), port 68. */
    CU_ASSERT_FALSE(res.broadcast);
    CU_ASSERT_TRUE(res.to_chaddr);
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), ipstr(r.yiaddr));
    ZTP_ASSERT_EQ_INT(res.dport, 68);
    /* The offered address is reserved for offer_time. */
    struct dhcpd_lease *l = dhcpd_leases_find_addr(&lt, r.yiaddr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ZTP_ASSERT_EQ_INT(l->state, DLEASE_OFFERED);
    ZTP_ASSERT_EQ_INT(l->expires, T0 + 30);
}

static void test_offer_other_vendor(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "udhcp 1.35.0", true), r;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.100");
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_MISMATCH);

    /* A prefix, or a different case, is not the class: the match is on exact bytes. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR2", true);
    res = run(&m, &r);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
    m = req(DHCPDISCOVER, mac1, "junipessr", true);
    res = run(&m, &r);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));

    /* No Option 60 at all. */
    m = req(DHCPDISCOVER, mac1, NULL, true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_NO_CLASS);

    /* The class matches but 43 is not in Option 55: not sent (unless option43_always). */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", false);
    res = run(&m, &r);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_NOT_REQUESTED);
}

/* RFC 2131 4.1: the broadcast flag, or the server's broadcast_replies, makes the OFFER/ACK a broadcast. */
static void test_reply_destination(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    m.flags = DHCP_FLAG_BROADCAST;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    CU_ASSERT_TRUE(res.broadcast);
    CU_ASSERT_FALSE(res.to_chaddr);
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), "255.255.255.255");
    ZTP_ASSERT_EQ_INT(r.flags, DHCP_FLAG_BROADCAST); /* copied into the reply */

    /* not Ethernet (hlen 16): the server could not install a neighbour entry for it */
    m = req(DHCPDISCOVER, mac2, "JuniperSSR", true);
    m.hlen = 16;
    res = run(&m, &r);
    CU_ASSERT_TRUE(res.broadcast);

    setup("{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.1\", "
          "\"range\": \"198.18.10.100-198.18.10.102\", \"subnet_mask\": \"255.255.255.0\"}], "
          "\"broadcast_replies\": true}");
    CU_ASSERT_TRUE(cfg.broadcast_replies);
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    CU_ASSERT_TRUE(res.broadcast);
    CU_ASSERT_FALSE(res.to_chaddr);
}

static void test_option43_switches(void)
{
    setup("{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.1\", \"range\": "
          "\"198.18.10.100-198.18.10.102\", \"subnet_mask\": \"255.255.255.0\", \"proxy\": \"proxy.example:3128\", "
          "\"vendor_class\": \"LabVendor\", \"option43_always\": true, \"option43_end\": true, "
          "\"echo_vendor_class\": true, \"echo_client_id\": true}]}");
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "LabVendor", false), r;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_SENT);
    /* A deliberately bad value is sent verbatim; END appended like dnsmasq: 2 + 18 + 1 bytes. */
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 21);
    ZTP_ASSERT_EQ_INT(r.vendor_opts[0], 128);
    ZTP_ASSERT_EQ_INT(r.vendor_opts[1], 18);
    CU_ASSERT_EQUAL(memcmp(r.vendor_opts + 2, "proxy.example:3128", 18), 0);
    ZTP_ASSERT_EQ_INT(r.vendor_opts[20], 255);
    const uint8_t *sub;
    uint8_t sublen;
    ZTP_ASSERT_EQ_INT(dhcp_vendor_find(r.vendor_opts, r.vendor_opts_len, DHCP_SUBOPT_PROXY, &sub, &sublen), 0);
    ZTP_ASSERT_EQ_INT(sublen, 18);
    CU_ASSERT_TRUE(dhcp_has(&r, DHO_VENDOR_CLASS));
    ZTP_ASSERT_EQ_INT(r.vendor_class_len, 9);
    CU_ASSERT_TRUE(dhcp_has(&r, DHO_CLIENT_ID));
    ZTP_ASSERT_EQ_INT(r.client_id_len, 7);
    /* The default class no longer matches. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_MISMATCH);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));

    /* A pool without "proxy" never sends 43. */
    setup("{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.1\", \"range\": "
          "\"198.18.10.100-198.18.10.102\", \"subnet_mask\": \"255.255.255.0\"}]}");
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_INT(res.opt43, DHCPD_OPT43_NO_PROXY);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
}

static void test_offer_requested_and_exhausted(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.102"));
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.102");
    /* Requested address outside the pool: a free one instead. */
    m = req(DHCPDISCOVER, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.99.9"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.100");
    m = req(DHCPDISCOVER, mac3, "JuniperSSR", true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.101");
    /* Three addresses, three offers outstanding: the fourth client gets nothing. */
    static const uint8_t mac4[6] = {2, 0, 0, 0, 0, 4};
    m = req(DHCPDISCOVER, mac4, "JuniperSSR", true);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_TRUE(res.drop);
    ZTP_ASSERT_EQ_STR(res.reason, "pool exhausted");
    /* Once the offers time out (offer_time 30 s), the address is reused. */
    res = run_at("eth1", &m, &r, T0 + 31);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    CU_ASSERT_TRUE(dhcpd_pool_in_range(&cfg.pools[0], r.yiaddr));
}

static struct in_addr offer_at(const uint8_t *mac, int64_t now, struct dhcpd_result *res)
{
    struct dhcp_msg m = req(DHCPDISCOVER, mac, "JuniperSSR", true), r;
    *res = run_at("eth1", &m, &r, now);
    return res->reply == DHCPD_OFFER ? r.yiaddr : (struct in_addr){0};
}

/* The allocator (indexed since issue 8) keeps the choices: a client's previous address, else a
 * never-used one (the lowest), else the entry free the longest; never the server's address. */
static void test_address_choice(void)
{
    static const uint8_t mac4[6] = {2, 0, 0, 0, 0, 4};
    struct dhcpd_result res;
    struct dhcp_msg m, r;
    setup(base_cfg);
    ZTP_ASSERT_EQ_STR(ipstr(dora(mac1, T0)), "198.18.10.100");
    ZTP_ASSERT_EQ_STR(ipstr(dora(mac2, T0 + 10)), "198.18.10.101");
    /* Both leases (6000 s) expired: a new client still gets the never-used address... */
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac3, T0 + 7000, &res)), "198.18.10.102");
    ZTP_ASSERT_EQ_STR(res.reason, "free address");
    /* ...and mac1 its previous one. */
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac1, T0 + 7000, &res)), "198.18.10.100");
    ZTP_ASSERT_EQ_STR(res.reason, "client's address");
    /* Nothing never-used left: the entry free the longest (mac2's) goes to a newcomer. */
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac4, T0 + 7000, &res)), "198.18.10.101");
    ZTP_ASSERT_EQ_STR(res.reason, "free address");
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_client(&lt, (const uint8_t[]){1, 0xfa, 0x16, 0x3e, 0x14, 0xdb, 0x06}, 7, true,
                                                0, UINT32_MAX));
    /* Three offers outstanding: mac2 gets nothing. */
    offer_at(mac2, T0 + 7000, &res);
    ZTP_ASSERT_EQ_STR(res.reason, "pool exhausted");

    /* A client moving to another address makes its old one never-used again: the next newcomer gets
     * it before any entry is reused. */
    setup(base_cfg);
    dora(mac1, T0);                                   /* .100 */
    dora(mac2, T0);                                   /* .101 */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);   /* expired, INIT-REBOOT with .102 */
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.102"));
    res = run_at("eth1", &m, &r, T0 + 7000);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_addr(&lt, ip("198.18.10.100")));
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac3, T0 + 7000, &res)), "198.18.10.100");

    /* A release counts as free since its time: of two free entries the one released first is reused. */
    setup(base_cfg);
    dora(mac1, T0);                                   /* .100, bound until T0+6000 */
    dora(mac2, T0);                                   /* .101 */
    dora(mac3, T0);                                   /* .102 */
    m = req(DHCPRELEASE, mac2, NULL, false);
    m.ciaddr = ip("198.18.10.101");
    run_at("eth1", &m, &r, T0 + 100);
    m = req(DHCPRELEASE, mac3, NULL, false);
    m.ciaddr = ip("198.18.10.102");
    run_at("eth1", &m, &r, T0 + 50);
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac4, T0 + 200, &res)), "198.18.10.102");
    ZTP_ASSERT_EQ_STR(ipstr(dora(mac2, T0 + 200)), "198.18.10.101"); /* its own, remembered */

    /* The server's address inside the range is skipped; a declined address is held. */
    setup("{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.101\", \"range\": "
          "\"198.18.10.100-198.18.10.103\", \"subnet_mask\": \"255.255.255.0\"}], \"decline_time\": 300}");
    ZTP_ASSERT_EQ_STR(ipstr(dora(mac1, T0)), "198.18.10.100");
    ZTP_ASSERT_EQ_STR(ipstr(dora(mac2, T0)), "198.18.10.102");
    m = req(DHCPDECLINE, mac2, NULL, false);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.102"));
    run_at("eth1", &m, &r, T0 + 1);
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac2, T0 + 2, &res)), "198.18.10.103");
    offer_at(mac3, T0 + 2, &res);
    ZTP_ASSERT_EQ_STR(res.reason, "pool exhausted");
    /* Later both are free: mac2's unanswered offer of .103 (ran out at T0+32) before the declined
     * .102 (held until T0+301). */
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac3, T0 + 400, &res)), "198.18.10.103");
    ZTP_ASSERT_EQ_STR(ipstr(offer_at(mac4, T0 + 400, &res)), "198.18.10.102");
    char err[256] = "";
    ZTP_ASSERT_EQ_INT(dhcpd_leases_check(&lt, err, sizeof err), 0);
}

static void test_client_identity(void)
{
    setup(base_cfg);
    /* Same chaddr, different client-id: two clients. */
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    run(&m, &r);
    struct in_addr a = r.yiaddr;
    static const uint8_t other_cid[] = {0xff, 1, 2, 3, 4};
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    dhcp_set_bytes(&m, DHO_CLIENT_ID, other_cid, sizeof other_cid);
    run(&m, &r);
    CU_ASSERT_NOT_EQUAL(r.yiaddr.s_addr, a.s_addr);
    /* Without Option 61 the chaddr names the client. */
    m = req(DHCPDISCOVER, mac2, "JuniperSSR", true);
    m.have &= ~DHCP_HAVE(DHO_CLIENT_ID);
    run(&m, &r);
    struct dhcpd_lease *l = dhcpd_leases_find_addr(&lt, r.yiaddr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_FALSE(l->by_client_id);
    ZTP_ASSERT_EQ_INT(l->key_len, 6);
    CU_ASSERT_EQUAL(memcmp(l->key, mac2, 6), 0);
}

/* ---- REQUEST ---- */

static void test_request_ack(void)
{
    setup(base_cfg);
    struct in_addr a = dora(mac1, T0);
    ZTP_ASSERT_EQ_STR(ipstr(a), "198.18.10.100");
    struct dhcpd_lease *l = dhcpd_leases_find_addr(&lt, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ZTP_ASSERT_EQ_INT(l->state, DLEASE_BOUND);
    ZTP_ASSERT_EQ_INT(l->expires, T0 + 6000);
    CU_ASSERT_TRUE(lt.dirty);

    /* The ACK carries the same options as the OFFER, Option 43 included. */
    struct dhcp_msg m = req(DHCPREQUEST, mac1, "JuniperSSR", true), r;
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.10.1"));
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a);
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_INT(r.msg_type, DHCPACK);
    ZTP_ASSERT_EQ_INT(r.lease_time, 6000);
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 17);
    CU_ASSERT_EQUAL(memcmp(r.vendor_opts, proxy17, sizeof proxy17), 0);
    ZTP_ASSERT_EQ_STR(res.kind, "selecting");
    CU_ASSERT_TRUE(res.to_chaddr);
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), ipstr(a));

    /* INIT-REBOOT (50 only) of the same address: ACK. */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a);
    res = run_at("eth1", &m, &r, T0 + 100);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_STR(res.kind, "init-reboot");
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a));
}

static void test_request_nak(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.10.100");

    /* Selecting, but asking for another address than the one offered. */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.10.1"));
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.101"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_INT(r.msg_type, DHCPNAK);
    ZTP_ASSERT_EQ_INT(r.yiaddr.s_addr, 0);
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_LEASE_TIME));
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_VENDOR_OPTS));
    CU_ASSERT_TRUE(dhcp_has(&r, DHO_MESSAGE));
    ZTP_ASSERT_EQ_STR(ipstr(r.server_id), "198.18.10.1");
    CU_ASSERT_TRUE(res.broadcast);

    /* INIT-REBOOT on another network (the client moved): NAK. */
    m = req(DHCPREQUEST, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("192.0.2.7"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(res.reason, "requested address not on this network");

    /* Right network, outside the range; and the server's own address. */
    m = req(DHCPREQUEST, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.200"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(res.reason, "requested address outside the pool");
    m = req(DHCPREQUEST, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.1"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);

    /* An address offered to somebody else. */
    m = req(DHCPREQUEST, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.100"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(res.reason, "address leased to another client");

    /* A client that chose another server: no reply, and its offer is withdrawn. */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.10.254"));
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.10.77"));
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_FALSE(res.drop);
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_addr(&lt, ip("198.18.10.100")));
}

static void test_renew_rebind(void)
{
    setup(base_cfg);
    struct in_addr a = dora(mac1, T0);
    /* RENEWING at T1: ciaddr set, no 50/54, unicast; the ACK goes back to ciaddr:68. */
    struct dhcp_msg m = req(DHCPREQUEST, mac1, "JuniperSSR", true), r;
    m.ciaddr = a;
    struct dhcpd_result res = run_at("eth1", &m, &r, T0 + 3000);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_STR(res.kind, "renewing");
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a));
    ZTP_ASSERT_EQ_STR(ipstr(r.ciaddr), ipstr(a));
    CU_ASSERT_FALSE(res.broadcast);
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), ipstr(a));
    ZTP_ASSERT_EQ_INT(res.dport, 68);
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 17); /* renewals re-learn the proxy */
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&lt, a)->expires, T0 + 3000 + 6000);

    /* Long after mac1's lease expired (T0+9000), mac2 holds .101: mac1 rebinding with it is NAKed, and
     * a NAK is broadcast even when ciaddr is set (RFC 2131 4.1). */
    struct in_addr b = dora(mac2, T0 + 20000);
    ZTP_ASSERT_EQ_STR(ipstr(b), "198.18.10.101");
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    m.ciaddr = b;
    res = run_at("eth1", &m, &r, T0 + 20001);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(res.reason, "address leased to another client");
    CU_ASSERT_TRUE(res.broadcast);
    /* A free address: the client (no active lease) may move there. */
    m.ciaddr = ip("198.18.10.102");
    res = run_at("eth1", &m, &r, T0 + 20002);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    CU_ASSERT_PTR_NULL(dhcpd_leases_find_addr(&lt, a)); /* its old entry is gone */
}

/* ---- RELEASE, DECLINE, INFORM ---- */

static void test_release_reoffer(void)
{
    setup(base_cfg);
    struct in_addr a = dora(mac1, T0);
    struct dhcp_msg m = req(DHCPRELEASE, mac1, NULL, false), r;
    m.ciaddr = a;
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.10.1"));
    struct dhcpd_result res = run_at("eth1", &m, &r, T0 + 10);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_FALSE(res.drop);
    ZTP_ASSERT_EQ_STR(res.reason, "released");
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&lt, a)->state, DLEASE_RELEASED);
    CU_ASSERT_FALSE(dhcpd_lease_active(dhcpd_leases_find_addr(&lt, a), T0 + 10));

    /* The same client comes back: same address. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    res = run_at("eth1", &m, &r, T0 + 20);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a));
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 17);

    /* A RELEASE of an address that is not the client's changes nothing. */
    m = req(DHCPRELEASE, mac2, NULL, false);
    m.ciaddr = a;
    res = run_at("eth1", &m, &r, T0 + 30);
    ZTP_ASSERT_EQ_STR(res.reason, "no such lease");
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&lt, a)->state, DLEASE_OFFERED);
}

static void test_decline(void)
{
    setup(base_cfg);
    struct in_addr a = dora(mac1, T0);
    struct dhcp_msg m = req(DHCPDECLINE, mac1, NULL, false), r;
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a);
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.10.1"));
    struct dhcpd_result res = run_at("eth1", &m, &r, T0 + 1);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    ZTP_ASSERT_EQ_STR(res.reason, "declined");
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&lt, a)->state, DLEASE_DECLINED);
    /* Neither the decliner nor anyone else gets it during decline_time (300 s)... */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    res = run_at("eth1", &m, &r, T0 + 2);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    CU_ASSERT_NOT_EQUAL(r.yiaddr.s_addr, a.s_addr);
    m = req(DHCPREQUEST, mac2, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a);
    res = run_at("eth1", &m, &r, T0 + 3);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(res.reason, "address declined");
    /* ...and it is usable again afterwards. */
    res = run_at("eth1", &m, &r, T0 + 400);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a));
}

static void test_inform(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPINFORM, mac1, "JuniperSSR", true), r;
    m.ciaddr = ip("198.18.10.9"); /* configured by hand, outside the range */
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    ZTP_ASSERT_EQ_INT(r.msg_type, DHCPACK);
    ZTP_ASSERT_EQ_INT(r.yiaddr.s_addr, 0);
    ZTP_ASSERT_EQ_STR(ipstr(r.ciaddr), "198.18.10.9");
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_LEASE_TIME));
    CU_ASSERT_FALSE(dhcp_has(&r, DHO_T1));
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 17);
    ZTP_ASSERT_EQ_STR(ipstr(r.subnet_mask), "255.255.255.0");
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), "198.18.10.9");
    ZTP_ASSERT_EQ_INT(res.dport, 68);
    ZTP_ASSERT_EQ_INT(lt.n, 0); /* INFORM allocates nothing */
}

/* ---- relays ---- */

static void test_relayed(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPDISCOVER, mac1, "JuniperSSR", true), r;
    m.giaddr = ip("198.18.30.1");
    m.hops = 1;
    /* Pool selection by giaddr, whichever interface the request came in on. */
    struct dhcpd_result res = run_at("eth0", &m, &r, T0);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_OFFER);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), "198.18.30.50");
    ZTP_ASSERT_EQ_STR(ipstr(r.server_id), "198.18.20.1");
    ZTP_ASSERT_EQ_STR(ipstr(r.giaddr), "198.18.30.1");
    ZTP_ASSERT_EQ_INT(r.hops, 1);
    ZTP_ASSERT_EQ_INT(r.lease_time, 120);
    ZTP_ASSERT_EQ_INT(r.t1, 60);
    ZTP_ASSERT_EQ_INT(r.t2, 105);
    CU_ASSERT_TRUE(dhcp_has(&r, DHO_VENDOR_CLASS)); /* echo_vendor_class */
    ZTP_ASSERT_EQ_INT(r.vendor_opts_len, 2 + 16 + 1); /* "198.18.40.5:8080" + END */
    /* Back to the relay, on the server port. */
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), "198.18.30.1");
    ZTP_ASSERT_EQ_INT(res.dport, 67);
    CU_ASSERT_FALSE(res.broadcast);

    /* A relayed NAK goes to the relay with the broadcast bit set. */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    m.giaddr = ip("198.18.30.1");
    dhcp_set_addr(&m, DHO_SERVER_ID, ip("198.18.20.1"));
    dhcp_set_addr(&m, DHO_REQUESTED_IP, ip("198.18.30.51"));
    res = run_at("eth0", &m, &r, T0);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);
    ZTP_ASSERT_EQ_STR(ipstr(res.dst), "198.18.30.1");
    ZTP_ASSERT_EQ_INT(r.flags & DHCP_FLAG_BROADCAST, DHCP_FLAG_BROADCAST);

    /* A giaddr no pool covers: dropped. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    m.giaddr = ip("198.18.77.1");
    res = run_at("eth1", &m, &r, T0);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_TRUE(res.drop);
    /* A relayed client renewing by unicast (giaddr 0, ciaddr in the relay pool) finds its pool by ciaddr. */
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    m.ciaddr = ip("198.18.30.55");
    CU_ASSERT_PTR_EQUAL(dhcpd_engine_select_pool(&cfg, "eth9", &m), &cfg.pools[1]);
    /* Not a served interface, no giaddr, no ciaddr: no pool. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    CU_ASSERT_PTR_NULL(dhcpd_engine_select_pool(&cfg, "eth9", &m));
}

static void test_bad_requests(void)
{
    setup(base_cfg);
    struct dhcp_msg m = req(DHCPOFFER, mac1, "JuniperSSR", true), r;
    struct dhcpd_result res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_TRUE(res.drop);
    /* A BOOTREPLY sent to the server port. */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    m.op = BOOTREPLY;
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    /* Plain BOOTP (no Option 53). */
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    m.msg_type = 0;
    m.have &= ~DHCP_HAVE(DHO_MSG_TYPE);
    res = run(&m, &r);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NONE);
    CU_ASSERT_TRUE(res.drop);
    ZTP_ASSERT_EQ_INT(lt.n, 0);
}

/* ---- lease file ---- */

static void test_lease_persistence(void)
{
    char path[] = "/tmp/test_dhcpd_leases.XXXXXX", err[256];
    int fd = mkstemp(path);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    close(fd);

    setup(base_cfg);
    struct in_addr a1 = dora(mac1, T0);
    struct in_addr a2 = dora(mac2, T0);
    struct dhcp_msg m = req(DHCPDECLINE, mac2, NULL, false), r;
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a2);
    run_at("eth1", &m, &r, T0 + 5);
    m = req(DHCPDISCOVER, mac3, "JuniperSSR", true);
    m.have &= ~DHCP_HAVE(DHO_CLIENT_ID); /* a chaddr-keyed client */
    run_at("eth1", &m, &r, T0 + 6);
    struct in_addr a3 = r.yiaddr;
    ZTP_ASSERT_EQ_INT(lt.n, 3);

    ZTP_ASSERT_EQ_INT(dhcpd_leases_save(&lt, path), 0);
    CU_ASSERT_FALSE(lt.dirty);

    /* "Restart": a fresh table from the file holds the same entries. */
    struct dhcpd_lease_table t2;
    dhcpd_leases_init(&t2);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t2, path, err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(t2.n, 3);
    for (struct dhcpd_lease *x = dhcpd_leases_first(&lt); x; x = dhcpd_leases_next(&lt, x)) {
        struct dhcpd_lease *y = dhcpd_leases_find_addr(&t2, x->addr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(y);
        ZTP_ASSERT_EQ_INT(y->state, x->state);
        ZTP_ASSERT_EQ_INT(y->expires, x->expires);
        ZTP_ASSERT_EQ_INT(y->by_client_id, x->by_client_id);
        ZTP_ASSERT_EQ_INT(y->key_len, x->key_len);
        CU_ASSERT_EQUAL(memcmp(y->key, x->key, x->key_len), 0);
        ZTP_ASSERT_EQ_INT(y->hlen, x->hlen);
        CU_ASSERT_EQUAL(memcmp(y->chaddr, x->chaddr, x->hlen), 0);
    }
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&t2, a1)->state, DLEASE_BOUND);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&t2, a2)->state, DLEASE_DECLINED);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_find_addr(&t2, a3)->state, DLEASE_OFFERED);

    /* The restarted server honours them: mac1 keeps its address, mac2's address stays declined. */
    dhcpd_leases_free(&lt);
    lt = t2;
    m = req(DHCPDISCOVER, mac1, "JuniperSSR", true);
    run_at("eth1", &m, &r, T0 + 60);
    ZTP_ASSERT_EQ_STR(ipstr(r.yiaddr), ipstr(a1));
    m = req(DHCPREQUEST, mac1, "JuniperSSR", true);
    m.ciaddr = a1;
    struct dhcpd_result res = run_at("eth1", &m, &r, T0 + 60);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_ACK);
    m = req(DHCPREQUEST, mac3, "JuniperSSR", true);
    dhcp_set_addr(&m, DHO_REQUESTED_IP, a2);
    res = run_at("eth1", &m, &r, T0 + 60);
    ZTP_ASSERT_EQ_INT(res.reply, DHCPD_NAK);

    /* A missing file is an empty table; a malformed one is refused with the reason. */
    struct dhcpd_lease_table t3;
    dhcpd_leases_init(&t3);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t3, "/nonexistent/leases.json", err, sizeof err), 0);
    ZTP_ASSERT_EQ_INT(t3.n, 0);
    static const char bad[] = "{\"version\": 1, \"leases\": [{\"address\": \"198.18.10.300\", \"state\": \"bound\", "
                              "\"expires\": 5, \"chaddr\": \"00:11:22:33:44:55\"}]}";
    ZTP_ASSERT_EQ_INT(atomic_write_file(path, bad, strlen(bad), 0600), 0);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t3, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "leases[0].address"));
    static const char bad2[] = "{\"version\": 1, \"leases\": [{\"address\": \"198.18.10.3\", \"state\": \"gone\", "
                               "\"expires\": 5, \"chaddr\": \"00:11:22:33:44:55\"}]}";
    ZTP_ASSERT_EQ_INT(atomic_write_file(path, bad2, strlen(bad2), 0600), 0);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t3, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "leases[0].state"));
    ZTP_ASSERT_EQ_INT(atomic_write_file(path, "[1,", 3, 0600), 0);
    ZTP_ASSERT_EQ_INT(dhcpd_leases_load(&t3, path, err, sizeof err), -1);
    dhcpd_leases_free(&t3);
    unlink(path);
}

/* ---- config ---- */

static void cfg_error(const char *text, const char *want)
{
    char err[512] = "";
    struct dhcpd_config c;
    int r = dhcpd_config_parse(text, strlen(text), &c, err, sizeof err);
    ZTP_ASSERT_EQ_INT(r, -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error \"%s\" does not contain \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NULL(c.pools);
}

#define POOL_HEAD "{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.1\", \"subnet_mask\": \"255.255.255.0\", "

static void test_config_defaults(void)
{
    setup(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\"}]}");
    ZTP_ASSERT_EQ_INT(cfg.n_pools, 1);
    ZTP_ASSERT_EQ_INT(cfg.pools[0].lease_time, 6000);
    ZTP_ASSERT_EQ_INT(cfg.pools[0].vendor_class_len, 10);
    CU_ASSERT_EQUAL(memcmp(cfg.pools[0].vendor_class, "JuniperSSR", 10), 0);
    CU_ASSERT_FALSE(cfg.pools[0].have_proxy);
    CU_ASSERT_FALSE(cfg.pools[0].option43_end);
    CU_ASSERT_FALSE(cfg.pools[0].echo_vendor_class);
    CU_ASSERT_FALSE(cfg.pools[0].have_t1);
    ZTP_ASSERT_EQ_INT(cfg.decline_time, 600);
    ZTP_ASSERT_EQ_INT(cfg.offer_time, 60);
    ZTP_ASSERT_EQ_INT(dhcpd_pool_size(&cfg.pools[0]), 11);
    ZTP_ASSERT_EQ_STR(cfg.pools[0].name, "eth1");
    /* Bad proxy values are accepted (sent verbatim for negative tests). */
    setup(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"proxy\": \"10.0.0.1:99999\"}]}");
    ZTP_ASSERT_EQ_STR(cfg.pools[0].proxy, "10.0.0.1:99999");
    setup(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"proxy\": \"\"}]}");
    CU_ASSERT_TRUE(cfg.pools[0].have_proxy);
}

static void test_config_errors(void)
{
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"colour\": \"blue\"}]}",
              "pools[0]: unknown key \"colour\"");
    cfg_error("{\"pools\": [], \"lease\": 5}", "config: unknown key \"lease\"");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.20-198.18.10.10\"}]}",
              "pools[0].range: start 198.18.10.20 is after end 198.18.10.10");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10\"}]}", "pools[0].range: \"198.18.10.10\" is not START-END");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.x\"}]}", "pools[0].range: end \"198.18.10.x\"");
    cfg_error(POOL_HEAD "\"range\": \"198.18.11.10-198.18.11.20\"}]}", "not in the subnet of server 198.18.10.1");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.12.20\"}]}", "start and end are not in the same subnet");
    cfg_error(POOL_HEAD "\"range\": 5}]}", "pools[0].range: must be a string");
    cfg_error("{\"pools\": [{\"interface\": \"eth1\", \"server\": \"198.18.10.1\", \"subnet_mask\": \"255.0.255.0\", "
              "\"range\": \"198.18.10.10-198.18.10.20\"}]}",
              "pools[0].subnet_mask: 255.0.255.0 is not a contiguous netmask");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"lease_time\": \"1h\"}]}",
              "pools[0].lease_time: must be an integer");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"routers\": \"198.18.10.1\"}]}",
              "pools[0].routers: must be an array");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"relay\": \"198.18.10.2\"}]}",
              "give exactly one of \"interface\"");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\"}, {\"interface\": \"eth1\", \"server\": "
                        "\"198.18.11.1\", \"subnet_mask\": \"255.255.255.0\", \"range\": \"198.18.11.10-198.18.11.20\"}]}",
              "pools[1].interface: eth1 already has a pool");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"option43_end\": 1}]}",
              "pools[0].option43_end: must be true or false");
    cfg_error("{\"pools\": []}", "config.pools: must be a non-empty array");
    cfg_error("{\"pools\": [}", "line 1");
    cfg_error(POOL_HEAD "\"range\": \"198.18.10.10-198.18.10.20\", \"server\": \"x\"}]}", "duplicate");
}

static void test_config_load_file(void)
{
    char err[512];
    struct dhcpd_config c;
    ZTP_ASSERT_EQ_INT(dhcpd_config_load("/nonexistent/dhcpd.json", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dhcpd.json: No such file"));
}

int main(void)
{
    log_init("test", "test_dhcpd_engine", LOG_LVL_WARN); /* no lease.state lines in the report */
    static const struct ztp_test engine_tests[] = {
        {"DISCOVER -> OFFER with Option 43 (JuniperSSR)", test_offer_juniper},
        {"OFFER without Option 43 for other classes", test_offer_other_vendor},
        {"OFFER/ACK to chaddr, or broadcast (flag, broadcast_replies)", test_reply_destination},
        {"Option 43 switches: END, always, echo, no proxy", test_option43_switches},
        {"requested address, exhausted pool, offer timeout", test_offer_requested_and_exhausted},
        {"client identity: option 61 else chaddr", test_client_identity},
        {"address choice: previous, never-used, oldest free, skips", test_address_choice},
        {"REQUEST selecting/init-reboot -> ACK", test_request_ack},
        {"REQUEST -> NAK (wrong address, outside pool, other server)", test_request_nak},
        {"renew and rebind", test_renew_rebind},
        {"RELEASE then re-offer", test_release_reoffer},
        {"DECLINE", test_decline},
        {"INFORM", test_inform},
        {"relayed requests", test_relayed},
        {"bad requests are dropped", test_bad_requests},
        {NULL, NULL},
    };
    static const struct ztp_test lease_tests[] = {
        {"lease file round trip", test_lease_persistence},
        {NULL, NULL},
    };
    static const struct ztp_test config_tests[] = {
        {"defaults", test_config_defaults},
        {"errors name the key", test_config_errors},
        {"missing file", test_config_load_file},
        {NULL, NULL},
    };
    static const struct ztp_suite suites[] = {
        {"dhcpd engine", engine_tests},
        {"dhcpd leases", lease_tests},
        {"dhcpd config", config_tests},
        {NULL, NULL},
    };
    int rc = ztp_cunit_run(suites);
    dhcpd_leases_free(&lt);
    dhcpd_config_free(&cfg);
    return rc;
}
