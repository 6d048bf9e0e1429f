/* Minimal rtnetlink over libmnl: see netlink.h. */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Send one request built in `buf` and wait for the kernel's ACK/error. Returns 0 or -errno. */
static int nl_transact(struct nlmsghdr *nlh)
{
    static unsigned int seq_counter;
    uint8_t buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is a sysconf() call: a VLA */
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl)
        return -errno;
    int rc = 0;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        rc = -errno;
        goto out;
    }
    unsigned int portid = mnl_socket_get_portid(nl);
    unsigned int seq = (unsigned int)time(NULL) ^ (++seq_counter << 20);
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0) {
            rc = -errno;
            break;
        }
        int r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
        if (r < 0) {
            rc = errno ? -errno : -EIO;
            break;
        }
        if (r == MNL_CB_STOP)
            break; /* the ACK (error 0) */
    }
out:
    mnl_socket_close(nl);
    return rc;
}

static int addr4(uint16_t type, uint16_t flags, int ifindex, struct in_addr addr, uint8_t prefixlen)
{
    if (ifindex <= 0 || prefixlen > 32)
        return -EINVAL;
    uint8_t buf[512];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = prefixlen;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    mnl_attr_put(nlh, IFA_LOCAL, sizeof addr, &addr);
    mnl_attr_put(nlh, IFA_ADDRESS, sizeof addr, &addr);
    if (type == RTM_NEWADDR && prefixlen < 31) {
        struct in_addr bcast;
        uint32_t mask = prefixlen ? 0xffffffffu << (32 - prefixlen) : 0;
        bcast.s_addr = addr.s_addr | htonl(~mask);
        mnl_attr_put(nlh, IFA_BROADCAST, sizeof bcast, &bcast);
    }
    return nl_transact(nlh);
}

int netlink_addr4_replace(int ifindex, struct in_addr addr, uint8_t prefixlen)
{
    return addr4(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr, prefixlen);
}

int netlink_addr4_delete(int ifindex, struct in_addr addr, uint8_t prefixlen)
{
    return addr4(RTM_DELADDR, 0, ifindex, addr, prefixlen);
}

static int route4_default(uint16_t type, uint16_t flags, int ifindex, struct in_addr gw, uint32_t metric,
                          int onlink)
{
    if (ifindex <= 0)
        return -EINVAL;
    uint8_t buf[512];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 0;
    rtm->rtm_src_len = 0;
    rtm->rtm_tos = 0;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_DHCP;
    rtm->rtm_scope = type == RTM_NEWROUTE ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
    rtm->rtm_type = RTN_UNICAST;
    rtm->rtm_flags = onlink ? RTNH_F_ONLINK : 0;
    mnl_attr_put(nlh, RTA_GATEWAY, sizeof gw, &gw);
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
    mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
    return nl_transact(nlh);
}

int netlink_route4_default_replace(int ifindex, struct in_addr gw, uint32_t metric, int onlink)
{
    return route4_default(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifindex, gw, metric, onlink);
}

int netlink_route4_default_delete(int ifindex, struct in_addr gw, uint32_t metric)
{
    return route4_default(RTM_DELROUTE, 0, ifindex, gw, metric, 0);
}
