/* Ethernet II + IPv4 + UDP framing for DHCP over AF_PACKET (see ztp/dhcp.h). */
#include "ztp/dhcp.h"

#include <string.h>

#define ETH_HLEN_ 14
#define IP_HLEN_ 20
#define UDP_HLEN_ 8

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t udp_csum(const uint8_t *ip, const uint8_t *udp, size_t udplen)
{
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8); /* src, dst */
    pseudo[8] = 0;
    pseudo[9] = 17;
    pseudo[10] = (uint8_t)(udplen >> 8);
    pseudo[11] = (uint8_t)udplen;
    uint32_t sum = csum_add(0, pseudo, sizeof pseudo);
    sum = csum_add(sum, udp, udplen);
    uint16_t c = csum_fold(sum);
    return c ? c : 0xffff;
}

ssize_t udp4_frame_build(uint8_t *buf, size_t cap, const struct udp4_frame *f, const uint8_t *payload, size_t plen)
{
    size_t total = ETH_HLEN_ + IP_HLEN_ + UDP_HLEN_ + plen;
    if (plen > 65535 - IP_HLEN_ - UDP_HLEN_ || total > cap)
        return -DHCP_E_NOBUFS;
    uint8_t *eth = buf, *ip = buf + ETH_HLEN_, *udp = ip + IP_HLEN_;
    memcpy(eth, f->dst_mac, 6);
    memcpy(eth + 6, f->src_mac, 6);
    eth[12] = 0x08;
    eth[13] = 0x00;

    size_t iplen = IP_HLEN_ + UDP_HLEN_ + plen;
    memset(ip, 0, IP_HLEN_);
    ip[0] = 0x45;
    ip[1] = f->tos;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[4] = (uint8_t)(f->ip_id >> 8);
    ip[5] = (uint8_t)f->ip_id;
    ip[8] = f->ttl ? f->ttl : 64;
    ip[9] = 17;
    memcpy(ip + 12, &f->src.s_addr, 4);
    memcpy(ip + 16, &f->dst.s_addr, 4);
    uint16_t c = csum_fold(csum_add(0, ip, IP_HLEN_));
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;

    size_t ulen = UDP_HLEN_ + plen;
    udp[0] = (uint8_t)(f->sport >> 8);
    udp[1] = (uint8_t)f->sport;
    udp[2] = (uint8_t)(f->dport >> 8);
    udp[3] = (uint8_t)f->dport;
    udp[4] = (uint8_t)(ulen >> 8);
    udp[5] = (uint8_t)ulen;
    udp[6] = udp[7] = 0;
    if (plen)
        memcpy(udp + UDP_HLEN_, payload, plen);
    c = udp_csum(ip, udp, ulen);
    udp[6] = (uint8_t)(c >> 8);
    udp[7] = (uint8_t)c;
    return (ssize_t)total;
}

int udp4_frame_parse(const uint8_t *buf, size_t len, unsigned flags, struct udp4_frame *out)
{
    memset(out, 0, sizeof *out);
    if (len < ETH_HLEN_)
        return -DHCP_E_SHORT;
    if (buf[12] != 0x08 || buf[13] != 0x00)
        return UDP4_NOT_UDP;
    memcpy(out->dst_mac, buf, 6);
    memcpy(out->src_mac, buf + 6, 6);
    const uint8_t *ip = buf + ETH_HLEN_;
    size_t rest = len - ETH_HLEN_;
    if (rest < IP_HLEN_)
        return -DHCP_E_SHORT;
    if ((ip[0] >> 4) != 4)
        return UDP4_NOT_UDP;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < IP_HLEN_ || ihl > rest)
        return -DHCP_E_BADOPT;
    size_t iplen = (size_t)(ip[2] << 8 | ip[3]);
    if (iplen < ihl || iplen > rest)
        return -DHCP_E_SHORT;
    if (ip[9] != 17)
        return UDP4_NOT_UDP;
    if ((ip[6] & 0x3f) || ip[7]) /* MF set or fragment offset: not reassembled */
        return -DHCP_E_BADOPT;
    if (csum_fold(csum_add(0, ip, ihl)) != 0)
        return -DHCP_E_CSUM;
    const uint8_t *udp = ip + ihl;
    size_t udpspace = iplen - ihl;
    if (udpspace < UDP_HLEN_)
        return -DHCP_E_SHORT;
    size_t ulen = (size_t)(udp[4] << 8 | udp[5]);
    if (ulen < UDP_HLEN_ || ulen > udpspace)
        return -DHCP_E_SHORT;
    if ((udp[6] || udp[7]) && !(flags & UDP4_NO_UDP_CSUM)) {
        uint32_t sum;
        uint8_t pseudo[12];
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 17;
        pseudo[10] = (uint8_t)(ulen >> 8);
        pseudo[11] = (uint8_t)ulen;
        sum = csum_add(0, pseudo, sizeof pseudo);
        sum = csum_add(sum, udp, ulen);
        if (csum_fold(sum) != 0)
            return -DHCP_E_CSUM;
    }
    out->tos = ip[1];
    out->ttl = ip[8];
    out->ip_id = (uint16_t)(ip[4] << 8 | ip[5]);
    memcpy(&out->src.s_addr, ip + 12, 4);
    memcpy(&out->dst.s_addr, ip + 16, 4);
    out->sport = (uint16_t)(udp[0] << 8 | udp[1]);
    out->dport = (uint16_t)(udp[2] << 8 | udp[3]);
    out->payload = udp + UDP_HLEN_;
    out->payload_len = ulen - UDP_HLEN_;
    return 0;
}
