/* The events of a run (lab/events.h) and the report views (lab/report_html.h): the logfmt parser
 * and its bounds, Squid access.log lines, the step table, the model (lanes, node steps, merged
 * message-sequence arrows) over real log lines of `lab run learned` (real Mist mocks) and of a run
 * whose device was not claimed, and the HTML/JSON/terminal views of a hostile log (no injected
 * element, attribute, script or external reference can come out of a log line). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "events.h"
#include "report.h"
#include "report_html.h"

/* ---- real lines (artifacts of `lab run learned`, run zlhxdguu) ----------------------------------- */

static const char LOG_DHCP[] =
    "ts=2026-11-23T16:16:51.641256Z level=info host=dhcp comp=mock-dhcpd event=dhcpd.pool pool=eth0 server=198.18.1.1 "
    "range=198.18.1.100-198.18.1.199 lease=6000 proxy=\"198.18.1.8:3128\" proxy_valid=yes\n"
    "ts=2026-11-23T16:16:51.983002Z level=info host=dhcp comp=mock-dhcpd event=dhcp.exchange ifname=eth0 pool=eth0 "
    "msg=DISCOVER kind=DISCOVER reply=OFFER reason=\"free address\" xid=0x2597e45d chaddr=fa:16:3e:14:db:05 "
    "client_id=01fa163e14db05 ciaddr=0.0.0.0 giaddr=0.0.0.0 hops=0 requested=- server_id=- yiaddr=198.18.1.100 "
    "lease=6000 vendor_class=\"JuniperSSR\" opt43=sent proxy=\"198.18.1.8:3128\" dst=255.255.255.255:68\n"
    "ts=2026-11-23T16:16:51.983780Z level=info host=dhcp comp=mock-dhcpd event=dhcp.exchange ifname=eth0 pool=eth0 "
    "msg=REQUEST kind=selecting reply=ACK reason=\"bound\" xid=0x2597e45d chaddr=fa:16:3e:14:db:05 "
    "client_id=01fa163e14db05 ciaddr=0.0.0.0 giaddr=0.0.0.0 hops=0 requested=198.18.1.100 server_id=198.18.1.1 "
    "yiaddr=198.18.1.100 lease=6000 vendor_class=\"JuniperSSR\" opt43=sent proxy=\"198.18.1.8:3128\" "
    "dst=255.255.255.255:68\n";

static const char LOG_PROXY[] =
    "ts=2026-11-23T16:16:51.685393Z level=info host=proxy comp=mock-proxy event=proxy.listen addr=198.18.1.8:3128\n"
    "ts=2026-11-23T16:16:51.685411Z level=info host=proxy comp=mock-proxy event=proxy.listen addr=198.18.100.8:3128\n"
    "ts=2026-11-23T16:16:52.055499Z level=info host=proxy comp=mock-proxy event=proxy.request id=0 client=198.18.1.100 "
    "method=CONNECT target=\"ep-terminator.mistsys.net:443\" user=- verdict=allow status=200 code=TCP_TUNNEL "
    "squid_error=- upstream=198.18.100.10 elapsed_ms=60 bytes_up=636 bytes_down=1300 to_client=1339 end=close "
    "reason=\"client error\"\n"
    "ts=2026-11-23T16:16:52.113885Z level=info host=proxy comp=mock-proxy event=proxy.request id=1 client=198.18.1.100 "
    "method=CONNECT target=\"api.mist.com:443\" user=- verdict=allow status=200 code=TCP_TUNNEL squid_error=- "
    "upstream=198.18.100.40 elapsed_ms=59 bytes_up=602 bytes_down=1218 to_client=1257 end=close reason=\"client error\"\n"
    "ts=2026-11-23T16:16:52.175363Z level=info host=proxy comp=mock-proxy event=proxy.request id=0 client=198.18.1.100 "
    "method=CONNECT target=\"api.mist.com:443\" user=- verdict=allow status=200 code=TCP_TUNNEL squid_error=- "
    "upstream=198.18.100.40 elapsed_ms=62 bytes_up=704 bytes_down=1216 to_client=1255 end=close reason=\"client error\"\n";

#define R1A "ts=2026-11-23T16:16:5"
static const char LOG_R1A[] =
    R1A "1.979135Z level=info host=r1a comp=ssr-node event=node.start router=R1 node=r1a config=\"/tmp/p-art2/learned/r1a/router.conf\" "
    "management_proxy=enabled mode=learned static_proxies=\"\" proxy_auth=none dhcp_netifs=\"wan0-net(wan0)\" onboarding=absent\n"
    R1A "1.980058Z level=info host=r1a comp=ssr-node event=dhcpc.send ifname=wan0 type=DISCOVER xid=0x2597e45d state=SELECTING "
    "dst=broadcast ciaddr=0.0.0.0 try=1 secs=0\n"
    R1A "1.980076Z level=info host=r1a comp=ssr-node event=sztp.start device=R1-r1a state=init step=0 "
    "url=\"https://ep-terminator.mistsys.net/v1/phone-home\" ca=\"/tmp/p-art2/learned/pki/mist-ca.pem\" proxy=none\n"
    R1A "1.980087Z level=info host=r1a comp=ssr-node event=conductor.start identity=R1.r1a state=idle step=5 staging=- "
    "production=- role=none\n"
    R1A "1.983518Z level=info host=r1a comp=ssr-node event=dhcpc.offer ifname=wan0 xid=0x2597e45d addr=198.18.1.100 "
    "server=198.18.1.1 lease=6000 vendor_opts=\"\\x80\\x0f198.18.1.8:3128\"\n"
    R1A "1.983618Z level=info host=r1a comp=ssr-node event=dhcpc.send ifname=wan0 type=REQUEST xid=0x2597e45d state=REQUESTING "
    "dst=broadcast ciaddr=0.0.0.0 try=1 secs=0\n"
    R1A "1.983845Z level=info host=r1a comp=ssr-node event=dhcpc.bound ifname=wan0 xid=0x2597e45d addr=198.18.1.100/24 "
    "router=198.18.1.1 server=198.18.1.1 lease=6000 t1=3000 t2=5250 renewals=0 vendor_opts=\"\\x80\\x0f198.18.1.8:3128\"\n"
    R1A "1.984031Z level=info host=r1a comp=ssr-node event=proxy.changed old=none new=198.18.1.8:3128 old_source=none "
    "source=learned origin=\"learned on node r1a network-interface wan0-net (local)\" cause=dhcp.bound/wan0-net\n"
    R1A "1.984042Z level=info host=r1a comp=ssr-node event=sztp.state from=init to=proxy-ready step=1 why=\"active management proxy\"\n"
    R1A "1.985432Z level=info host=r1a comp=ssr-node event=sztp.state from=proxy-ready to=phoning-home step=2 why=\"phone home\"\n"
    R1A "1.994848Z level=info host=r1a comp=ssr-node event=sztp.request state=phoning-home step=2 method=POST "
    "url=\"https://ep-terminator.mistsys.net:443/v1/phone-home\" proxy=198.18.1.8:3128\n"
    R1A "1.995033Z level=info host=r1a comp=ssr-node event=https.start id=1 tag=sztp method=POST "
    "url=\"https://ep-terminator.mistsys.net:443/v1/phone-home\" proxy=198.18.1.8:3128 auth=none client_cert=\"none\" timeout_ms=15000\n"
    R1A "1.996969Z level=info host=r1a comp=ssr-node event=https.tunnel id=1 tag=sztp proxy=198.18.1.8:3128 "
    "target=ep-terminator.mistsys.net:443 status=200 reason=\"Connection established\"\n"
    R1A "2.008281Z level=info host=r1a comp=ssr-node event=https.tls id=1 tag=sztp host=ep-terminator.mistsys.net version=TLSv1.3 "
    "cipher=TLS_AES_256_GCM_SHA384 peer_subject=\"CN=ep-terminator.mistsys.net,O=ztp-lab\" "
    "peer_issuer=\"CN=ztp-lab Mist root CA zlhxdguu,O=ztp-lab\" verify=ok\n"
    R1A "2.008300Z level=info host=r1a comp=ssr-node event=https.state id=1 tag=sztp from=tls-handshake to=request-send\n"
    R1A "2.051772Z level=info host=r1a comp=ssr-node event=https.done id=1 tag=sztp host=ep-terminator.mistsys.net status=307 "
    "reason=\"Temporary Redirect\" body_bytes=0 proxy=198.18.1.8:3128 ms=68\n"
    R1A "2.051815Z level=info host=r1a comp=ssr-node event=sztp.redirected redirect=\"https://api.mist.com/v1/device/R1-r1a\" "
    "environment=production org=ztp-lab\n"
    R1A "2.051820Z level=info host=r1a comp=ssr-node event=sztp.state from=phoning-home to=redirected step=3 "
    "why=\"307 from the EP terminator\"\n"
    R1A "2.054802Z level=info host=r1a comp=ssr-node event=sztp.request state=redirected step=3 method=POST "
    "url=\"https://api.mist.com/v1/device/R1-r1a/challenge\" proxy=198.18.1.8:3128\n"
    R1A "2.054892Z level=info host=r1a comp=ssr-node event=https.start id=2 tag=sztp method=POST "
    "url=\"https://api.mist.com:443/v1/device/R1-r1a/challenge\" proxy=198.18.1.8:3128 auth=none timeout_ms=15000\n"
    R1A "2.057536Z level=info host=r1a comp=ssr-node event=https.tunnel id=2 tag=sztp proxy=198.18.1.8:3128 "
    "target=api.mist.com:443 status=200 reason=\"Connection established\"\n"
    R1A "2.064402Z level=info host=r1a comp=ssr-node event=https.tls id=2 tag=sztp host=api.mist.com version=TLSv1.3 "
    "cipher=TLS_AES_256_GCM_SHA384 peer_subject=\"CN=api.mist.com,O=ztp-lab\" peer_issuer=\"CN=ztp-lab Mist root CA "
    "zlhxdguu,O=ztp-lab\" verify=ok\n"
    R1A "2.064500Z level=info host=r1a comp=ssr-node event=https.state id=2 tag=sztp from=tls-handshake to=request-send\n"
    R1A "2.110475Z level=info host=r1a comp=ssr-node event=https.done id=2 tag=sztp host=api.mist.com status=200 reason=\"OK\" "
    "body_bytes=0 proxy=198.18.1.8:3128 ms=58\n"
    R1A "2.113442Z level=info host=r1a comp=ssr-node event=sztp.request state=redirected step=3 method=POST "
    "url=\"https://api.mist.com/v1/device/R1-r1a/response\" proxy=198.18.1.8:3128\n"
    R1A "2.113494Z level=info host=r1a comp=ssr-node event=https.start id=3 tag=sztp method=POST "
    "url=\"https://api.mist.com:443/v1/device/R1-r1a/response\" proxy=198.18.1.8:3128 auth=none timeout_ms=15000\n"
    R1A "2.114517Z level=info host=r1a comp=ssr-node event=https.tunnel id=3 tag=sztp proxy=198.18.1.8:3128 "
    "target=api.mist.com:443 status=200 reason=\"Connection established\"\n"
    R1A "2.120700Z level=info host=r1a comp=ssr-node event=https.state id=3 tag=sztp from=tls-handshake to=request-send\n"
    R1A "2.164453Z level=info host=r1a comp=ssr-node event=https.done id=3 tag=sztp host=api.mist.com status=200 reason=\"OK\" "
    "body_bytes=0 proxy=198.18.1.8:3128 ms=54\n"
    R1A "2.165247Z level=info host=r1a comp=ssr-node event=sztp.authenticated mode=mutual server_verified=yes org=ztp-lab\n"
    R1A "2.165254Z level=info host=r1a comp=ssr-node event=sztp.state from=redirected to=authenticated step=4 "
    "why=\"mutual OCRA verified\"\n"
    R1A "2.174793Z level=info host=r1a comp=ssr-node event=sztp.request state=authenticated step=4 method=GET "
    "url=\"https://api.mist.com/v1/device/R1-r1a/onboarding\" proxy=198.18.1.8:3128\n"
    R1A "2.174859Z level=info host=r1a comp=ssr-node event=https.start id=4 tag=sztp method=GET "
    "url=\"https://api.mist.com:443/v1/device/R1-r1a/onboarding\" proxy=198.18.1.8:3128 auth=none timeout_ms=15000\n"
    R1A "2.179401Z level=info host=r1a comp=ssr-node event=https.tunnel id=4 tag=sztp proxy=198.18.1.8:3128 "
    "target=api.mist.com:443 status=200 reason=\"Connection established\"\n"
    R1A "2.185900Z level=info host=r1a comp=ssr-node event=https.state id=4 tag=sztp from=tls-handshake to=request-send\n"
    R1A "2.231508Z level=info host=r1a comp=ssr-node event=https.done id=4 tag=sztp host=api.mist.com status=200 reason=\"OK\" "
    "body_bytes=0 proxy=198.18.1.8:3128 ms=67\n"
    R1A "2.231709Z level=info host=r1a comp=ssr-node event=sztp.state from=authenticated to=onboarding-received step=5 "
    "why=\"onboarding data received\"\n"
    R1A "2.250755Z level=info host=r1a comp=ssr-node event=sztp.state from=onboarding-received to=root-ca-installed step=5 "
    "why=\"root CA installed\"\n"
    R1A "2.270782Z level=info host=r1a comp=ssr-node event=sztp.state from=root-ca-installed to=secret-stored step=5 "
    "why=\"secret sealed to the TPM\"\n"
    R1A "2.281977Z level=info host=r1a comp=ssr-node event=sztp.done device=R1-r1a org=ztp-lab conductor=198.18.5.10:930 root_ca=yes\n";

static const char LOG_EPT[] =
    "ts=2026-11-23T16:16:52.051151Z level=info host=ept comp=mock-ep-terminator event=device.phone-home device=\"R1-r1a\" "
    "peer=198.18.100.8:47204 verdict=claimed environment=production org=ztp-lab served=production "
    "redirect=https://api.mist.com/v1/device/R1-r1a\n";

static const char LOG_MIST[] =
    "ts=2026-11-23T16:16:52.109970Z level=info host=mist comp=mock-mist event=device.challenge device=R1-r1a org=ztp-lab "
    "peer=198.18.100.8:34852 challenge_id=a964b6291bd1c4986363ff6ed6b97d9c suite=OCRA-1:HOTP-SHA256-8:QA08 expires_in=30\n"
    "ts=2026-11-23T16:16:52.163660Z level=info host=mist comp=mock-mist event=device.verify device=R1-r1a org=ztp-lab "
    "site=R1 peer=198.18.100.8:34868 result=ok mode=mutual session_ttl=300\n"
    "ts=2026-11-23T16:16:52.231129Z level=info host=mist comp=mock-mist event=device.onboarding device=R1-r1a org=ztp-lab "
    "site=R1 peer=198.18.100.8:34882 result=served conductor=198.18.5.10:930 root_ca=yes\n";

/* a run whose device is not claimed (real lines, run zlr3at8y) */
static const char LOG_R1A_UNCLAIMED[] =
    "ts=2026-11-23T16:17:55.757980Z level=info host=r1a comp=ssr-node event=sztp.start device=R1-r1a state=init step=0 "
    "url=\"https://ep-terminator.mistsys.net/v1/phone-home\" proxy=none\n"
    "ts=2026-11-23T16:17:55.760001Z level=info host=r1a comp=ssr-node event=sztp.state from=init to=proxy-ready step=1 "
    "why=\"active management proxy\"\n"
    "ts=2026-11-23T16:17:55.761002Z level=info host=r1a comp=ssr-node event=sztp.state from=proxy-ready to=phoning-home "
    "step=2 why=\"phone home\"\n"
    "ts=2026-11-23T16:17:55.839500Z level=warn host=r1a comp=ssr-node event=sztp.failed state=phoning-home step=2 "
    "class=unclaimed status=404 retry_after=1 error=\"ep-terminator answered 404 Not Found\" failures=1 retry_in_ms=1000\n";
static const char LOG_EPT_UNCLAIMED[] =
    "ts=2026-11-23T16:17:55.838952Z level=info host=ept comp=mock-ep-terminator event=device.phone-home device=\"R1-r1a\" "
    "peer=198.18.100.8:59590 verdict=unclaimed retry_after=1\n"
    "ts=2026-11-23T16:17:55.841770Z level=info host=ept comp=mock-ep-terminator event=http.request peer=198.18.100.8:59590 "
    "method=\"POST\" path=\"/v1/phone-home\" status=404 result=unclaimed completed=yes\n";

static const char SQUID_LINE[] =
    "1795449827.452      7 198.18.1.100 TCP_TUNNEL/200 6688 CONNECT ep-terminator.mistsys.net:443 - HIER_DIRECT/198.18.100.10 -\n"
    "1795450612.310     16 198.18.1.100 TCP_DENIED/403 703 CONNECT 198.18.5.10:930 - HIER_NONE/- text/html\n";

/* ---- helpers ---------------------------------------------------------------------------------------- */

static int parse(const char *line, struct ev_event *e)
{
    unsigned trunc = 0;
    return ev_parse_line(line, strlen(line), "deflt", e, &trunc);
}

static void load_learned(struct ev_list *l)
{
    memset(l, 0, sizeof(*l));
    ev_list_add_log(l, LOG_DHCP, strlen(LOG_DHCP), "logs/dhcp.log", "dhcp");
    ev_list_add_log(l, LOG_PROXY, strlen(LOG_PROXY), "logs/proxy.log", "proxy");
    ev_list_add_log(l, LOG_R1A, strlen(LOG_R1A), "logs/r1a.log", "r1a");
    ev_list_add_log(l, LOG_EPT, strlen(LOG_EPT), "logs/ept.log", "ept");
    ev_list_add_log(l, LOG_MIST, strlen(LOG_MIST), "logs/mist.log", "mist");
    ev_list_sort(l);
    ev_list_rebase(l, ev_parse_ts("2026-11-23T16:16:51.220Z", 24));
    ev_classify(l);
}

static const struct ev_hostinfo learned_hosts[] = {
    {"dhcp", "dhcp-server", "mock"}, {"proxy", "proxy", "mock"}, {"ept", "ep-terminator", "mock"},
    {"mist", "mist", "mock"},         {"r1a", "ssr-node", "ssr-node"},
};
static const struct ev_name learned_names[] = {{"ep-terminator.mistsys.net", "ept"}, {"api.mist.com", "mist"}};

static const struct ev_event *find_ev(const struct ev_list *l, const char *host, const char *event, int nth)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].host, host) && !strcmp(l->v[i].event, event) && nth-- == 0)
            return &l->v[i];
    return NULL;
}

static int count_arrows(const struct ev_model *m, const char *from, const char *to, const char *label_prefix)
{
    int n = 0;
    for (size_t i = 0; i < m->narrows; i++)
        if (!strcmp(m->lanes[m->arrows[i].from].name, from) && !strcmp(m->lanes[m->arrows[i].to].name, to) &&
            !strncmp(m->arrows[i].label, label_prefix, strlen(label_prefix)))
            n++;
    return n;
}

static const struct ev_arrow *find_arrow(const struct ev_model *m, const char *label_prefix)
{
    for (size_t i = 0; i < m->narrows; i++)
        if (!strncmp(m->arrows[i].label, label_prefix, strlen(label_prefix)))
            return &m->arrows[i];
    return NULL;
}

/* ---- parsing ------------------------------------------------------------------------------------------ */

static void test_ts(void)
{
    double t = ev_parse_ts("2026-11-23T16:03:47.344378Z", 27);
    /* 2026-11-23 = day 20780 since the epoch */
    CU_ASSERT_DOUBLE_EQUAL(t, 20780.0 * 86400 + 16 * 3600 + 3 * 60 + 47.344378, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(ev_parse_ts("1970-01-01T00:00:00Z", 20), 0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(ev_parse_ts("2000-03-01T00:00:01.5+00:00", 27), 951868801.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(ev_parse_ts("2026-11-23T16:03:47.120Z", 24), ev_parse_ts("2026-11-23T16:03:47.12Z", 23), 1e-9);
    CU_ASSERT(ev_parse_ts("2026-11-23T16:03:47.Z", 21) < 0);
    CU_ASSERT(ev_parse_ts("2026-13-23T16:03:47Z", 20) < 0);
    CU_ASSERT(ev_parse_ts("2026-11-23 16:03", 16) < 0);
    CU_ASSERT(ev_parse_ts("2026-11-23T16:03:47Zjunk", 24) < 0);
    CU_ASSERT(ev_parse_ts("x", 1) < 0);
    /* never reads past len */
    CU_ASSERT(ev_parse_ts("2026-11-23T16:03:47.5Z", 19) > 0);
}

static void test_parse_line(void)
{
    struct ev_event e;
    const char *line = strchr(LOG_DHCP, '\n') + 1; /* the DISCOVER exchange */
    size_t len = (size_t)(strchr(line, '\n') - line);
    unsigned trunc = 0;
    ZTP_ASSERT_EQ_INT(ev_parse_line(line, len, "x", &e, &trunc), 1);
    ZTP_ASSERT_EQ_STR(e.host, "dhcp");
    ZTP_ASSERT_EQ_STR(e.comp, "mock-dhcpd");
    ZTP_ASSERT_EQ_STR(e.level, "info");
    ZTP_ASSERT_EQ_STR(e.event, "dhcp.exchange");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "msg"), "DISCOVER");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "reason"), "free address");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "proxy"), "198.18.1.8:3128");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "dst"), "255.255.255.255:68");
    CU_ASSERT_PTR_NULL(ev_get(&e, "nope"));
    ZTP_ASSERT_EQ_INT(e.nkv, 20);
    ZTP_ASSERT_EQ_INT(trunc, 0);
    CU_ASSERT_DOUBLE_EQUAL(e.ts, ev_parse_ts("2026-11-23T16:16:51.983002Z", 27), 1e-9);
    ev_event_free(&e);

    /* escapes: \xNN bytes, \" and \\ ; \x00 stays as text; a second host= is a field (https.*) */
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51.983518Z level=info host=r1a comp=ssr-node event=dhcpc.offer "
                            "vendor_opts=\"\\x80\\x0f198.18.1.8:3128\" error=\"a \\\"b\\\" \\\\c\" z=\"\\x00x\" "
                            "host=ep-terminator.mistsys.net last=1",
                            &e),
                      1);
    ZTP_ASSERT_EQ_STR(ev_get(&e, "vendor_opts"), "\x80\x0f" "198.18.1.8:3128");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "error"), "a \"b\" \\c");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "z"), "\\x00x");
    ZTP_ASSERT_EQ_STR(e.host, "r1a");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "last"), "1");
    int hosts = 0;
    for (unsigned i = 0; i < e.nkv; i++)
        hosts += !strcmp(e.kv[i].k, "host") && !strcmp(e.kv[i].v, "ep-terminator.mistsys.net");
    ZTP_ASSERT_EQ_INT(hosts, 1);
    ev_event_free(&e);

    /* an unquoted value with spaces (a producer that forgot log_quote) is kept whole */
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z event=node.stop signal=Hang up now k=v", &e), 1);
    ZTP_ASSERT_EQ_STR(ev_get(&e, "signal"), "Hang up now");
    ZTP_ASSERT_EQ_STR(ev_get(&e, "k"), "v");
    ZTP_ASSERT_EQ_STR(e.host, "deflt"); /* no host=: the log file's host */
    ZTP_ASSERT_EQ_STR(e.comp, "-");
    ev_event_free(&e);
    /* CRLF */
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z host=a comp=b event=c.d k=\"v\"\r", &e), 1);
    ZTP_ASSERT_EQ_STR(ev_get(&e, "k"), "v");
    ev_event_free(&e);
}

static void test_parse_rejects(void)
{
    struct ev_event e;
    /* other programs' lines */
    ZTP_ASSERT_EQ_INT(parse("swtpm: Data client disconnected", &e), 0);
    ZTP_ASSERT_EQ_INT(parse("", &e), 0);
    ZTP_ASSERT_EQ_INT(parse("tcpdump: listening on br0", &e), 0);
    /* logfmt, but broken */
    ZTP_ASSERT_EQ_INT(parse("ts=yesterday level=info host=a comp=b event=c", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z level=info host=a comp=b", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z level=info host=a comp=b event=", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z event=a.b k=\"unterminated", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z event=a.b \"k\"=v", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z event=a.b =v", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z word event=a.b", &e), -1);
    ZTP_ASSERT_EQ_INT(parse("ts=2026-11-23T16:16:51Z event=a.b k=\"x\\", &e), -1);
    /* too long: skipped, never read past */
    size_t big = EV_MAX_LINE + 10;
    char *b = malloc(big + 1);
    memset(b, 'a', big);
    memcpy(b, "ts=2026-11-23T16:16:51Z event=a.b k=", 36);
    b[big] = '\0';
    ZTP_ASSERT_EQ_INT(parse(b, &e), -1);
    /* at the limit: fine */
    b[EV_MAX_LINE] = '\0';
    ZTP_ASSERT_EQ_INT(parse(b, &e), 1);
    ZTP_ASSERT_EQ_INT(strlen(ev_get(&e, "k")), EV_MAX_LINE - 36);
    ev_event_free(&e);
    free(b);
}

static void test_parse_bounds(void)
{
    char line[8192];
    int o = snprintf(line, sizeof(line), "ts=2026-11-23T16:16:51Z host=h comp=c event=e.f");
    for (int i = 0; i < 200; i++)
        o += snprintf(line + o, sizeof(line) - (size_t)o, " k%d=\"v %d\"", i, i);
    struct ev_event e;
    unsigned trunc = 0;
    ZTP_ASSERT_EQ_INT(ev_parse_line(line, (size_t)o, "x", &e, &trunc), 1);
    CU_ASSERT(e.nkv <= EV_MAX_FIELDS + 4);
    CU_ASSERT(trunc > 0);
    ZTP_ASSERT_EQ_STR(ev_get(&e, "k0"), "v 0");
    CU_ASSERT_PTR_NULL(ev_get(&e, "k199"));
    ev_event_free(&e);
}

static void test_list_counts(void)
{
    static const char buf[] = "swtpm: Data client disconnected\n"
                              "ts=2026-11-23T16:16:51.100000Z level=info host=a comp=x event=one k=1\n"
                              "\n"
                              "ts=broken event=x\n"
                              "ts=2026-11-23T16:16:51.050000Z level=warn host=a comp=x event=two k=2\r\n"
                              "ts=2026-11-23T16:16:51.200000Z level=info host=a comp=x event=three";
    struct ev_list l = {0};
    ZTP_ASSERT_EQ_INT(ev_list_add_log(&l, buf, strlen(buf), "logs/a.log", "a"), 3);
    ZTP_ASSERT_EQ_INT(l.malformed, 1);
    ZTP_ASSERT_EQ_INT(l.other, 1);
    ev_list_sort(&l);
    ZTP_ASSERT_EQ_STR(l.v[0].event, "two");
    ZTP_ASSERT_EQ_INT(l.v[0].line, 5);
    ZTP_ASSERT_EQ_STR(l.srcs[l.v[0].src], "logs/a.log");
    ZTP_ASSERT_EQ_STR(l.v[2].event, "three");
    ZTP_ASSERT_EQ_INT(l.v[2].line, 6);
    ev_list_rebase(&l, ev_parse_ts("2026-11-23T16:16:51Z", 20));
    CU_ASSERT_DOUBLE_EQUAL(l.v[1].t, 0.1, 1e-6);
    /* equal times keep their input order (another source's event added later sorts after) */
    static const char b2[] = "ts=2026-11-23T16:16:51.100000Z level=info host=b comp=x event=same\n";
    ev_list_add_log(&l, b2, strlen(b2), "logs/b.log", "b");
    ev_list_sort(&l);
    ZTP_ASSERT_EQ_STR(l.v[1].event, "one");
    ZTP_ASSERT_EQ_STR(l.v[2].event, "same");
    ev_list_free(&l);
}

static void test_access_log(void)
{
    struct ev_list l = {0};
    char buf[512];
    snprintf(buf, sizeof(buf), "%sgarbage line here\n   \n", SQUID_LINE);
    ZTP_ASSERT_EQ_INT(ev_list_add_access_log(&l, buf, strlen(buf), "proxy/access.log", "proxy"), 2);
    ZTP_ASSERT_EQ_INT(l.malformed, 1);
    const struct ev_event *e = &l.v[0];
    ZTP_ASSERT_EQ_STR(e->event, "proxy.access");
    ZTP_ASSERT_EQ_STR(e->host, "proxy");
    ZTP_ASSERT_EQ_STR(e->comp, "squid-access");
    ZTP_ASSERT_EQ_STR(ev_get(e, "client"), "198.18.1.100");
    ZTP_ASSERT_EQ_STR(ev_get(e, "method"), "CONNECT");
    ZTP_ASSERT_EQ_STR(ev_get(e, "target"), "ep-terminator.mistsys.net:443");
    ZTP_ASSERT_EQ_STR(ev_get(e, "status"), "200");
    ZTP_ASSERT_EQ_STR(ev_get(e, "code"), "TCP_TUNNEL");
    ZTP_ASSERT_EQ_STR(ev_get(e, "upstream"), "198.18.100.10");
    CU_ASSERT(e->flags & EV_F_SYNTH);
    CU_ASSERT_DOUBLE_EQUAL(e->ts, 1795449827.452 - 0.007, 1e-6); /* the tunnel's start */
    ZTP_ASSERT_EQ_STR(ev_get(&l.v[1], "upstream"), "-");
    ev_classify(&l);
    CU_ASSERT(l.v[1].flags & EV_F_FAIL);       /* 403 */
    CU_ASSERT(!(l.v[0].flags & EV_F_FAIL));
    ev_list_free(&l);
}

/* ---- classification ------------------------------------------------------------------------------------ */

static void test_classify_sztp(void)
{
    struct ev_list l;
    load_learned(&l);
    ZTP_ASSERT_EQ_INT(l.malformed, 0);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "dhcpc.send", 0)->step, 1);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "sztp.start", 0)->step, 0);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "conductor.start", 0)->step, 0); /* idle: not yet step 5 */
    const struct ev_event *e = find_ev(&l, "r1a", "proxy.changed", 0);
    ZTP_ASSERT_EQ_INT(e->step, 1);
    CU_ASSERT(e->done & (1u << 1));
    /* the state reached proves the steps before it */
    e = find_ev(&l, "r1a", "sztp.state", 2); /* -> redirected */
    ZTP_ASSERT_EQ_INT(e->step, 3);
    ZTP_ASSERT_EQ_INT(e->done, (1u << 1) | (1u << 2) | (1u << 3));
    /* a request in state redirected works on step 4 (OCRA), and its https.* events follow it */
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "sztp.request", 1)->step, 4);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "https.tunnel", 1)->step, 4);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "https.done", 1)->step, 4);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "https.done", 0)->step, 2);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "https.tls", 1)->step, 4);
    e = find_ev(&l, "r1a", "https.state", 0);
    CU_ASSERT(e->flags & EV_F_QUIET);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "sztp.done", 0)->done, 0x3e);
    /* the servers */
    ZTP_ASSERT_EQ_INT(find_ev(&l, "ept", "device.phone-home", 0)->step, 3);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "mist", "device.challenge", 0)->step, 4);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "mist", "device.onboarding", 0)->step, 5);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "dhcp", "dhcp.exchange", 1)->done, 1u << 1);
    ev_list_free(&l);
}

static void test_classify_issue6(void)
{
    /* the issue-6 wire contract's events (conductor, hub, router conductor client) */
    static const char buf[] =
        "ts=2026-11-23T10:00:00.000Z level=info host=stg comp=mock-conductor event=daemon.ready role=staging listen=198.18.5.10:930\n"
        "ts=2026-11-23T10:00:00.100Z level=info host=prd comp=mock-conductor event=daemon.ready role=production listen=198.18.6.10:930\n"
        "ts=2026-11-23T10:00:01.000Z level=info host=stg comp=mock-conductor event=router.challenge router=R1 node=r1a\n"
        "ts=2026-11-23T10:00:01.100Z level=info host=stg comp=mock-conductor event=router.auth router=R1 node=r1a result=ok\n"
        "ts=2026-11-23T10:00:01.200Z level=info host=stg comp=mock-conductor event=router.task router=R1 node=r1a task=production\n"
        "ts=2026-11-23T10:00:01.300Z level=info host=stg comp=mock-conductor event=router.task router=R1 node=r1a task=generate-key\n"
        "ts=2026-11-23T10:00:01.400Z level=info host=stg comp=mock-conductor event=router.csr router=R1 node=r1a result=signed serial=1F identity=R1.r1a\n"
        "ts=2026-11-23T10:00:01.450Z level=warn host=stg comp=mock-conductor event=router.csr router=R1 node=r1b result=rejected reason=bad-identity\n"
        "ts=2026-11-23T10:00:01.500Z level=info host=stg comp=mock-conductor event=router.task router=R1 node=r1a task=svr-config\n"
        "ts=2026-11-23T10:00:01.600Z level=info host=hub comp=mock-hub event=svr.peered peer=R1.r1a identity=R1.r1a addr=198.18.7.1:5000 hub=hub1 tls=TLSv1.3 replaced=no\n"
        "ts=2026-11-23T10:00:01.700Z level=info host=stg comp=mock-conductor event=router.ack router=R1 node=r1a task=migrate result=ok\n"
        "ts=2026-11-23T10:00:01.800Z level=info host=prd comp=mock-conductor event=router.auth router=R1 node=r1a result=ok\n"
        "ts=2026-11-23T10:00:01.900Z level=info host=prd comp=mock-conductor event=router.state router=R1 node=r1a from=pending to=connected\n"
        "ts=2026-11-23T10:00:02.000Z level=info host=r1a comp=ssr-node event=conductor.state from=migrating to=production-connected step=12\n"
        "ts=2026-11-23T10:00:02.100Z level=warn host=hub comp=mock-hub event=svr.refused reason=unknown-peer addr=198.18.7.2:5000 identity=R9.x\n"
        "ts=2026-11-23T10:00:02.200Z level=info host=r1a comp=ssr-node event=conductor.csr step=8 serial=1F\n"
        "ts=2026-11-23T10:00:02.300Z level=info host=r1a comp=ssr-node event=something.new step=9 k=v\n"
        "ts=2026-11-23T10:00:02.400Z level=info host=r1a comp=ssr-node event=something.else result=failed\n";
    struct ev_list l = {0};
    ev_list_add_log(&l, buf, strlen(buf), "logs/x.log", "x");
    ev_list_sort(&l);
    ev_classify(&l);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.challenge", 0)->step, 5);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.auth", 0)->step, 5);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.task", 0)->step, 6);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.task", 1)->step, 7);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.csr", 0)->step, 8);
    CU_ASSERT(find_ev(&l, "stg", "router.csr", 0)->done & (1u << 8));
    CU_ASSERT(find_ev(&l, "stg", "router.csr", 1)->flags & EV_F_FAIL);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.task", 2)->step, 9);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "hub", "svr.peered", 0)->step, 9);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "stg", "router.ack", 0)->step, 12);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "prd", "router.auth", 0)->step, 12); /* the production conductor */
    ZTP_ASSERT_EQ_INT(find_ev(&l, "prd", "router.state", 0)->step, 12);
    const struct ev_event *e = find_ev(&l, "r1a", "conductor.state", 0);
    ZTP_ASSERT_EQ_INT(e->step, 12);
    ZTP_ASSERT_EQ_INT(e->done, 0x1ffe); /* every step 1..12 */
    CU_ASSERT(find_ev(&l, "hub", "svr.refused", 0)->flags & EV_F_FAIL);
    CU_ASSERT(find_ev(&l, "hub", "svr.refused", 0)->flags & EV_F_WARN);
    ZTP_ASSERT_EQ_INT(find_ev(&l, "r1a", "conductor.csr", 0)->step, 8);
    /* unknown events: generic rows, step from a step= field, failure from result= */
    e = find_ev(&l, "r1a", "something.new", 0);
    ZTP_ASSERT_EQ_INT(e->rule, -1);
    ZTP_ASSERT_EQ_INT(e->step, 9);
    CU_ASSERT(find_ev(&l, "r1a", "something.else", 0)->flags & EV_F_FAIL);
    /* the model: conductor and hub lanes, arrows to the router from the identity R1.r1a */
    struct ev_model m;
    const struct ev_hostinfo hosts[] = {{"r1a", "ssr-node", ""}, {"stg", "conductor", ""}, {"prd", "conductor", ""},
                                        {"hub", "hub", ""}};
    static const char start[] = "ts=2026-11-23T09:59:59Z level=info host=r1a comp=ssr-node event=node.start router=R1 node=r1a\n";
    ev_list_add_log(&l, start, strlen(start), "logs/r1a.log", "r1a");
    ev_list_sort(&l);
    ev_classify(&l);
    ev_model_build(&m, &l, hosts, 4, NULL, 0);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "stg", "r1a", "task generate-key"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "stg", "r1a", "certificate serial 1F"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "stg", "ack migrate ok"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "hub", "r1a", "SVR peered"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "prd", "r1a", "PSK auth ok"), 1);
    ZTP_ASSERT_EQ_INT(m.lanes[ev_lane_find(&m, "r1a")].highest_done, 12);
    ev_model_free(&m);
    ev_list_free(&l);
}

/* ---- the model ----------------------------------------------------------------------------------------- */

static void test_model_learned(void)
{
    struct ev_list l;
    load_learned(&l);
    struct ev_model m;
    ev_model_build(&m, &l, learned_hosts, 5, learned_names, 2);
    /* lanes: the node first, then DHCP, proxy, EP terminator, Mist; no stranger */
    ZTP_ASSERT_EQ_INT(m.nlanes, 5);
    ZTP_ASSERT_EQ_STR(m.lanes[0].name, "r1a");
    ZTP_ASSERT_EQ_STR(m.lanes[1].name, "dhcp");
    ZTP_ASSERT_EQ_STR(m.lanes[2].name, "proxy");
    ZTP_ASSERT_EQ_STR(m.lanes[3].name, "ept");
    ZTP_ASSERT_EQ_STR(m.lanes[4].name, "mist");
    ZTP_ASSERT_EQ_STR(m.lanes[0].comp, "ssr-node");
    /* the node's steps */
    const struct ev_lane *r = &m.lanes[0];
    for (unsigned k = 1; k <= 5; k++)
        ZTP_ASSERT_EQ_STR(ev_step_status(r, k), "done");
    ZTP_ASSERT_EQ_STR(ev_step_status(r, 6), "-");
    ZTP_ASSERT_EQ_INT(r->highest_done, 5);
    CU_ASSERT(r->steps[2].first >= 0.76 && r->steps[2].first < 0.78); /* sztp.state -> phoning-home */
    CU_ASSERT(r->steps[4].last > r->steps[4].first);
    /* the proxy lane carries the steps of the requests it tunnelled */
    CU_ASSERT(m.lanes[2].steps[2].n == 1 && m.lanes[2].steps[4].n == 2);
    /* DHCP: the router's and the server's view of each message merged into one arrow */
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "dhcp", "DHCPDISCOVER"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "dhcp", "r1a", "DHCPOFFER 198.18.1.100 proxy 198.18.1.8:3128"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "dhcp", "DHCPREQUEST"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "dhcp", "r1a", "DHCPACK"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(find_arrow(&m, "DHCPACK")->label, "proxy 198.18.1.8:3128"));
    /* CONNECT: the router's and the proxy's record merged; the proxy's leg to the server */
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "proxy", "CONNECT "), 4);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "proxy", "r1a", "200 "), 4);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "proxy", "ept", "TCP ep-terminator.mistsys.net:443"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "proxy", "mist", "TCP api.mist.com:443"), 2);
    /* TLS and requests to the servers by name; the servers' answers replace the bare HTTP status */
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "ept", "TLS TLSv1.3 verify=ok"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "ept", "POST /v1/phone-home"), 1);
    const struct ev_arrow *a = find_arrow(&m, "307 redirect to api.mist.com");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ZTP_ASSERT_EQ_STR(m.lanes[a->from].name, "ept");
    ZTP_ASSERT_EQ_INT(a->step, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(a->detail, "HTTP 307 Temporary Redirect"));
    CU_ASSERT_PTR_NULL(find_arrow(&m, "307 Temporary"));
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "mist", "r1a", "OCRA challenge"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "mist", "r1a", "OCRA verified (mutual)"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "mist", "r1a", "onboarding data: conductor 198.18.5.10:930, root CA yes"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "mist", "r1a", "200 OK"), 0);
    /* in time order */
    for (size_t i = 1; i < m.narrows; i++)
        CU_ASSERT(m.arrows[i].t >= m.arrows[i - 1].t);
    ZTP_ASSERT_EQ_INT(m.arrows_dropped, 0);
    ev_model_free(&m);
    ev_list_free(&l);
}

static void test_model_unclaimed(void)
{
    struct ev_list l = {0};
    ev_list_add_log(&l, LOG_R1A_UNCLAIMED, strlen(LOG_R1A_UNCLAIMED), "logs/r1a.log", "r1a");
    ev_list_add_log(&l, LOG_EPT_UNCLAIMED, strlen(LOG_EPT_UNCLAIMED), "logs/ept.log", "ept");
    ev_list_sort(&l);
    ev_list_rebase(&l, l.v[0].ts);
    ev_classify(&l);
    struct ev_model m;
    ev_model_build(&m, &l, learned_hosts, 5, learned_names, 2);
    const struct ev_lane *r = &m.lanes[ev_lane_find(&m, "r1a")];
    ZTP_ASSERT_EQ_STR(ev_step_status(r, 1), "done");
    ZTP_ASSERT_EQ_STR(ev_step_status(r, 2), "failed");
    ZTP_ASSERT_EQ_INT(r->steps[2].nfail, 1);
    CU_ASSERT(r->steps[2].last_fail >= 0);
    const struct ev_arrow *a = find_arrow(&m, "404 unclaimed");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(a->flags & EV_A_FAIL);
    ZTP_ASSERT_EQ_STR(m.lanes[a->to].name, "r1a");
    ev_model_free(&m);
    ev_list_free(&l);
}

static void test_model_router_only_dhcp(void)
{
    /* dnsmasq/kea log nothing structured: the router's view alone, the proxy decoded from Option 43 */
    struct ev_list l = {0};
    const char *r = LOG_R1A;
    ev_list_add_log(&l, r, (size_t)(strstr(r, "event=proxy.changed") - r), "logs/r1a.log", "r1a");
    ev_list_sort(&l);
    ev_classify(&l);
    const struct ev_hostinfo hosts[] = {{"r1a", "ssr-node", ""}, {"dns", "dhcp-server", "dnsmasq"}};
    struct ev_model m;
    ev_model_build(&m, &l, hosts, 2, NULL, 0);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "r1a", "dns", "DHCPDISCOVER"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "dns", "r1a", "DHCPOFFER 198.18.1.100 proxy 198.18.1.8:3128"), 1);
    ZTP_ASSERT_EQ_INT(count_arrows(&m, "dns", "r1a", "DHCPACK 198.18.1.100/24 proxy 198.18.1.8:3128"), 1);
    ZTP_ASSERT_EQ_INT(m.nlanes, 2);
    ev_model_free(&m);
    ev_list_free(&l);
}

static void test_rules_table(void)
{
    const struct ev_rule_info *ri;
    size_t n = ev_rules(&ri);
    CU_ASSERT(n > 40);
    bool verify = false;
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL(ri[i].event);
        CU_ASSERT_PTR_NOT_NULL(ri[i].what);
        CU_ASSERT(ri[i].step <= EV_STEPS);
        verify |= !strcmp(ri[i].event, "device.verify") && ri[i].step == 4;
    }
    CU_ASSERT(verify);
    for (unsigned k = 1; k <= EV_STEPS; k++)
        ZTP_ASSERT_EQ_INT(ev_steps[k].num, k);
}

/* ---- the views ------------------------------------------------------------------------------------------ */

static char tmpdir[64];

static void put_file(const char *rel, const char *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
    char d[512];
    snprintf(d, sizeof(d), "%s", p);
    for (char *c = d + strlen(tmpdir) + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(d, 0755);
            *c = '/';
        }
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(data, 1, len, f);
    fclose(f);
}

static void rm_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT(system(cmd) == 0);
}

static void write_summary(const char *scenario, const char *result, const char *exp_name, const char *got,
                          const char *descr)
{
    struct rep_run r;
    memset(&r, 0, sizeof(r));
    snprintf(r.scenario, sizeof(r.scenario), "%s", scenario);
    snprintf(r.description, sizeof(r.description), "%s", descr);
    snprintf(r.result, sizeof(r.result), "%s", result);
    snprintf(r.started, sizeof(r.started), "2026-11-23T16:16:51.220Z");
    snprintf(r.runid, sizeof(r.runid), "zltest01");
    r.total_s = 1.5;
    const char *hn[] = {"dhcp", "proxy", "ept", "mist", "r1a"};
    const char *hk[] = {"dhcp-server", "proxy", "ep-terminator", "mist", "ssr-node"};
    for (int i = 0; i < 5; i++) {
        struct rep_host *h = report_add_host(&r);
        snprintf(h->name, sizeof(h->name), "%s", hn[i]);
        snprintf(h->kind, sizeof(h->kind), "%s", hk[i]);
    }
    struct rep_expect *x = report_add_expect(&r);
    snprintf(x->step, sizeof(x->step), "final state");
    snprintf(x->name, sizeof(x->name), "%s", exp_name);
    snprintf(x->want, sizeof(x->want), "secret-stored");
    snprintf(x->got, sizeof(x->got), "%s", got);
    x->pass = !strcmp(result, "pass");
    x->at_s = x->pass ? 1.0 : -1;
    snprintf(x->log, sizeof(x->log), "logs/r1a.log");
    x = report_add_expect(&r);
    snprintf(x->step, sizeof(x->step), "final state");
    snprintf(x->name, sizeof(x->name), "proxy carried");
    snprintf(x->want, sizeof(x->want), "r1a");
    snprintf(x->got, sizeof(x->got), "r1a (4)");
    x->pass = true;
    x->at_s = 0.8;
    char p[256];
    snprintf(p, sizeof(p), "%s/summary.json", tmpdir);
    ZTP_ASSERT_EQ_INT(report_write_summary(&r, p), 0);
    report_clear(&r);
}

static char *render(enum report_fmt fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char err[256] = "";
    int rc = report_render(tmpdir, fmt, "", f, err, sizeof(err));
    fclose(f);
    if (rc)
        fprintf(stderr, "\n  report_render: %s\n", err);
    ZTP_ASSERT_EQ_INT(rc, 0);
    return buf;
}

/* Every '<' opens an element we write; no event handler, src or external link can appear. */
static void check_html_safe(const char *h)
{
    static const char *const tags[] = {"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1",
                                       "h2", "h3", "p", "code", "section", "dl", "dt", "dd", "div", "ul", "li", "b",
                                       "a", "pre", "table", "tr", "th", "td", "span", "details", "summary", "svg",
                                       "defs", "marker", "path", "line", "text", "rect", "g", "circle", "nav", NULL};
    int bad = 0;
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        const char *n = p + 1 + (p[1] == '/');
        size_t l = strspn(n, "!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        bool ok = false;
        for (size_t i = 0; tags[i]; i++)
            ok |= strlen(tags[i]) == l && !strncmp(tags[i], n, l);
        const char *end = strchr(p, '>');
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        /* inside the tag: no on*= handler, no src=, no link outside the artifacts */
        char tag[4096];
        size_t tl = (size_t)(end - p) < sizeof(tag) - 1 ? (size_t)(end - p) : sizeof(tag) - 1;
        memcpy(tag, p, tl);
        tag[tl] = '\0';
        for (char *c = tag; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (strstr(tag, " on") && strstr(strstr(tag, " on"), "="))
            ok &= !!strstr(tag, "content=") || !!strstr(tag, "orient=");
        if (strstr(tag, "src=") || strstr(tag, "href=\"http") || strstr(tag, "href=\"//") ||
            strstr(tag, "href=\"javascript") || strstr(tag, "href=\"data") || strstr(tag, "url(http"))
            ok = false;
        if (!ok && bad++ < 5)
            fprintf(stderr, "\n  unexpected markup: %.120s\n", p);
    }
    ZTP_ASSERT_EQ_INT(bad, 0);
}

static void test_render_hostile(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_events.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
    static const char evil[] =
        "ts=2026-11-23T16:16:52.000000Z level=warn host=r1a comp=\"<script>alert(1)</script>\" "
        "event=sztp.failed state=phoning-home step=2 class=\"<img src=x onerror=alert(2)>\" "
        "error=\"</title></text></svg><script src=https://evil.example/x.js></script>\" "
        "url=\"javascript:alert(3)\" esc=\"\\x1b[2J\\x1b]0;pwned\\x07\" bad=\"\\xff\\xfe\" "
        "q=\"' onmouseover='alert(4)\" amp=\"&lt;script&gt;\"\n"
        "ts=2026-11-23T16:16:52.100000Z level=info host=\"<svg onload=alert(5)>\" comp=x event=\"<b>ev</b>\" "
        "\"k\\\"<i>\"=v\n"
        "ts=2026-11-23T16:16:52.200000Z level=info host=r1a comp=ssr-node event=https.start id=9 tag=sztp method=POST "
        "url=\"https://<img src=y>/a\\\"b\" proxy=\"<p>:1\"\n"
        "ts=2026-11-23T16:16:52.300000Z level=info host=r1a comp=ssr-node event=https.tls id=9 tag=sztp version=\"<u>\" "
        "verify=ok\n"
        "ts=2026-11-23T16:16:52.400000Z level=info host=r1a comp=ssr-node event=https.state id=9 tag=sztp "
        "from=tls-handshake to=request-send\n";
    put_file("logs/r1a.log", evil, sizeof(evil) - 1);
    put_file("logs/\"><script>alert(6)<.log", evil, sizeof(evil) - 1);
    put_file("pcap/mpls.pcap", "x", 1);
    write_summary("evil\"<script>", "fail", "r1a onboarding <script>alert(7)</script>", "\"><img src=z>",
                  "desc <iframe src=//evil.example>");
    char *h = render(REPORT_HTML);
    check_html_safe(h);
    CU_ASSERT_PTR_NULL(strstr(h, "<script"));
    CU_ASSERT_PTR_NULL(strstr(h, "<img"));
    CU_ASSERT_PTR_NULL(strstr(h, "<iframe"));
    CU_ASSERT_PTR_NULL(strchr(h, '\x1b'));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "\\x1b[2J"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "\\xff\\xfe"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "&amp;lt;script&amp;gt;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "href=\"logs/%22%3E%3Cscript%3Ealert%286%29%3C.log\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "href=\"pcap/mpls.pcap\""));
    /* the failure stands out: the step that did not happen, the component at fault */
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "What went wrong"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "</b>: step 1 (proxy) did not happen"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "data-step=\"1\">did not happen"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "Component at fault: <b>r1a</b>"));
    free(h);
    /* JSON: valid, with the bytes as text */
    char *j = render(REPORT_JSON);
    json_error_t je;
    json_t *o = json_loads(j, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    json_t *evs = json_object_get(json_array_get(json_object_get(o, "scenarios"), 0), "events");
    CU_ASSERT(json_array_size(evs) >= 4);
    json_decref(o);
    free(j);
    /* terminal: no escape sequence from a log reaches it */
    char *t = render(REPORT_TEXT);
    CU_ASSERT_PTR_NULL(strchr(t, '\x1b'));
    CU_ASSERT_PTR_NULL(strchr(t, '\x07'));
    free(t);
    rm_tree(tmpdir);
}

static void test_render_learned(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_events.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
    put_file("logs/dhcp.log", LOG_DHCP, strlen(LOG_DHCP));
    put_file("logs/proxy.log", LOG_PROXY, strlen(LOG_PROXY));
    put_file("logs/r1a.log", LOG_R1A, strlen(LOG_R1A));
    put_file("logs/ept.log", LOG_EPT, strlen(LOG_EPT));
    put_file("logs/mist.log", LOG_MIST, strlen(LOG_MIST));
    put_file("logs/r1a-swtpm.log", "swtpm: Data client disconnected\n", 32);
    /* the proxy also wrote a Squid access log: not read twice (it logged proxy.request) */
    put_file("proxy/access.log", SQUID_LINE, strlen(SQUID_LINE));
    write_summary("learned", "pass", "r1a onboarding", "secret-stored", "One node learns its proxy");
    char *h = render(REPORT_HTML);
    check_html_safe(h);
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "<title>ztp-lab report: learned PASS</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "<td>r1a onboarding</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "<td>proxy carried</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "data-node=\"r1a\" data-step=\"4\">done at"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "307 redirect to api.mist.com (claimed)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "href=\"logs/r1a.log\""));
    CU_ASSERT_PTR_NULL(strstr(h, "What went wrong"));
    CU_ASSERT_PTR_NULL(strstr(h, "http://www.w3.org/2000/svg\" src"));
    free(h);
    char *t = render(REPORT_TEXT);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "== learned: PASS"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "ept          -> r1a          307 redirect to api.mist.com (claimed)"));
    free(t);
    char *j = render(REPORT_JSON);
    json_t *o = json_loads(j, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    json_t *sc = json_array_get(json_object_get(o, "scenarios"), 0);
    size_t access = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(sc, "events"), i, v)
    access += !strcmp(json_string_value(json_object_get(v, "event")), "proxy.access");
    ZTP_ASSERT_EQ_INT(access, 0);
    ZTP_ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(sc, "skipped_lines"), "other")), 1);
    json_decref(o);
    free(j);
    /* report.html in the directory, atomically, and a second scenario makes a directory of runs */
    char err[256];
    ZTP_ASSERT_EQ_INT(report_html_write(tmpdir, NULL, err, sizeof(err)), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/report.html", tmpdir);
    struct stat st;
    CU_ASSERT(stat(p, &st) == 0 && st.st_size > 10000);
    /* not an artifacts directory */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ZTP_ASSERT_EQ_INT(report_render("/nonexistent-dir", REPORT_TEXT, "", f, err, sizeof(err)), -1);
    fclose(f);
    free(buf);
    rm_tree(tmpdir);
}

static const struct ztp_test parse_tests[] = {
    {"timestamps", test_ts},
    {"logfmt line", test_parse_line},
    {"lines that are not events", test_parse_rejects},
    {"field bound", test_parse_bounds},
    {"a log: counts, order, lines", test_list_counts},
    {"squid access.log", test_access_log},
    {NULL, NULL},
};
static const struct ztp_test model_tests[] = {
    {"steps of the sZTP client and Mist", test_classify_sztp},
    {"steps of conductors and hub (issue 6)", test_classify_issue6},
    {"learned run: lanes, steps, arrows", test_model_learned},
    {"unclaimed device: failure", test_model_unclaimed},
    {"DHCP server without events", test_model_router_only_dhcp},
    {"rule table", test_rules_table},
    {NULL, NULL},
};
static const struct ztp_test view_tests[] = {
    {"hostile log: HTML, JSON, terminal", test_render_hostile},
    {"learned run: HTML, text, JSON", test_render_learned},
    {NULL, NULL},
};
static const struct ztp_suite suites[] = {
    {"parse", parse_tests}, {"model", model_tests}, {"views", view_tests}, {NULL, NULL}};

int main(void) { return ztp_cunit_run(suites); }
