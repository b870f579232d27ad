/* decode.c: see decode.h. */
#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>

#include "limits.h"
#include "rd.h"

enum {
    ETH_IPV4 = 0x0800,
    ETH_IPV6 = 0x86dd,
    ETH_VLAN = 0x8100,
    ETH_QINQ = 0x88a8,
    ETH_QINQ_OLD = 0x9100,
    ETH_MPLS = 0x8847,
    ETH_MPLS_MC = 0x8848,
    ETH_PPPOE_SESSION = 0x8864,
    /* pseudo-types for link layers that name the IP version another way */
    L3_GUESS = 0x10000, /* look at the first nibble (raw IP, MPLS payload) */
};

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#ifndef DLT_PPI
#define DLT_PPI 192
#endif

static const char *const result_names[DEC_RESULT_COUNT] = {
    [DEC_TCP] = "tcp",
    [DEC_UDP] = "udp",
    [DEC_OTHER_IP] = "other_ip",
    [DEC_NOT_IP] = "not_ip",
    [DEC_FRAGMENT] = "fragment",
    [DEC_TRUNCATED] = "truncated",
    [DEC_BAD_IP] = "bad_ip",
    [DEC_BAD_TCP] = "bad_tcp",
    [DEC_TOO_DEEP] = "too_deep",
    [DEC_UNSUPPORTED_LINK] = "unsupported_link",
};

const char *dec_result_name(enum dec_result r)
{
    return (unsigned)r < DEC_RESULT_COUNT ? result_names[r] : "?";
}

/* BSD loopback stores the address family in the capturing host's byte order, and the
 * value of AF_INET6 differs between systems (10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD,
 * 30 macOS). */
static uint32_t null_family_to_ethertype(uint32_t fam)
{
    switch (fam) {
    case 2:
        return ETH_IPV4;
    case 10: case 24: case 28: case 30:
        return ETH_IPV6;
    default:
        return 0;
    }
}

/* Consume the link header; return the ethertype (or L3_GUESS) of what follows, 0 for
 * something that is not IP, or -1 for an unsupported link type. PPI wraps another link
 * header, so this loops instead of recursing. */
static long link_header(int linktype, struct rd *r)
{
    for (int depth = 0; depth < 2; depth++) {
        switch (linktype) {
        case DLT_EN10MB: {
            rd_skip(r, 12);
            uint16_t type = rd_be16(r);
            if (type < 0x0600) /* 802.3 length field: LLC, never IP here */
                return 0;
            return type;
        }
        case DLT_LINUX_SLL: {
            rd_skip(r, 14);
            return rd_be16(r);
        }
        case DLT_LINUX_SLL2: {
            uint16_t type = rd_be16(r);
            rd_skip(r, 18);
            return type;
        }
        case DLT_NULL: {
            const uint8_t *b = rd_bytes(r, 4);
            if (!b)
                return 0;
            uint32_t le = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                          (uint32_t)b[3] << 24;
            uint32_t be = (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 |
                          (uint32_t)b[0] << 24;
            uint32_t t = null_family_to_ethertype(le);
            return t ? t : null_family_to_ethertype(be);
        }
        case DLT_LOOP:
            return null_family_to_ethertype(rd_be32(r));
        case DLT_RAW:
            return L3_GUESS;
        case DLT_IPV4:
            return ETH_IPV4;
        case DLT_IPV6:
            return ETH_IPV6;
        case DLT_PPI: {
            /* PPI header: version, flags, length (LE), inner DLT (LE) */
            rd_skip(r, 2);
            uint16_t len = rd_le16(r);
            uint32_t inner = rd_le32(r);
            if (r->bad || len < 8)
                return 0;
            rd_skip(r, len - 8u);
            if (inner == DLT_PPI)
                return -1;
            linktype = (int)inner;
            continue;
        }
        default:
            return -1;
        }
    }
    return -1;
}

static uint32_t guess_ip(struct rd *r)
{
    if (!rd_need(r, 1)) /* no IP header at all: truncated, not "not IP" */
        return 0;
    switch (r->p[0] >> 4) {
    case 4:
        return ETH_IPV4;
    case 6:
        return ETH_IPV6;
    default:
        return 0;
    }
}

int dec_link_supported(int linktype)
{
    switch (linktype) {
    case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_NULL:
    case DLT_LOOP: case DLT_RAW: case DLT_IPV4: case DLT_IPV6: case DLT_PPI:
        return 1;
    default:
        return 0;
    }
}

/* Peel VLAN, QinQ, MPLS and PPPoE layers in a loop with a budget until an IP header.
 * Returns ETH_IPV4/ETH_IPV6, 0 for non-IP, or -2 when too deep. */
static long peel_encapsulation(long type, struct rd *r, struct dec_pkt *out)
{
    int tags = 0;
    for (int depth = 0;; depth++) {
        if (depth > DEC_MAX_ENCAP)
            return -2;
        switch (type) {
        case ETH_IPV4:
        case ETH_IPV6:
            return type;
        case L3_GUESS:
            return guess_ip(r);
        case ETH_VLAN:
        case ETH_QINQ:
        case ETH_QINQ_OLD: {
            uint16_t vid = rd_be16(r) & 0x0fff;
            if (tags == 0)
                out->vlan_outer = vid;
            else if (tags == 1)
                out->vlan_inner = vid;
            tags++;
            type = rd_be16(r);
            break;
        }
        case ETH_MPLS:
        case ETH_MPLS_MC: {
            uint32_t label = rd_be32(r);
            if (r->bad)
                return 0;
            if (label & 0x100) /* bottom of stack: IP follows, version in first nibble */
                type = L3_GUESS;
            break;
        }
        case ETH_PPPOE_SESSION: {
            rd_skip(r, 6);
            uint16_t proto = rd_be16(r);
            type = proto == 0x0021 ? ETH_IPV4 : proto == 0x0057 ? ETH_IPV6 : 0;
            break;
        }
        default:
            return 0;
        }
        if (r->bad)
            return 0;
    }
}

/* Transport header decoding shared by IPv4 and IPv6. `r` spans the transport header
 * and its payload as far as the IP header announces them, clamped to the capture;
 * `cut` is how much of that announced span the capture lost. */
static enum dec_result tcp_header(struct rd *r, uint32_t cut, struct dec_pkt *out)
{
    size_t avail = rd_left(r);
    out->sport = rd_be16(r);
    out->dport = rd_be16(r);
    out->seq = rd_be32(r);
    out->ack = rd_be32(r);
    uint8_t off = rd_u8(r) >> 4;
    out->tcp_flags = rd_u8(r);
    out->window = rd_be16(r);
    out->wscale = DEC_NO_WSCALE;
    rd_skip(r, 4); /* checksum, urgent pointer */
    if (r->bad)
        return cut ? DEC_TRUNCATED : DEC_BAD_TCP;
    size_t hlen = (size_t)off * 4;
    if (hlen < 20)
        return DEC_BAD_TCP;
    if (hlen > avail)
        return cut ? DEC_TRUNCATED : DEC_BAD_TCP;
    struct rd o = rd_make(r->p, hlen - 20);
    rd_skip(r, hlen - 20);
    /* Options: only a SYN's window scale is of use (the RST window check, flow.h). */
    while ((out->tcp_flags & TCP_SYN) && rd_left(&o) >= 1) {
        uint8_t kind = rd_u8(&o);
        if (kind == 0)
            break; /* end of options */
        if (kind == 1)
            continue; /* no-op */
        if (rd_left(&o) < 1)
            break;
        uint8_t olen = rd_u8(&o);
        if (olen < 2 || (size_t)olen - 2 > rd_left(&o))
            break; /* malformed: the rest is not read */
        if (kind == 3 && olen == 3) {
            uint8_t shift = rd_u8(&o);
            out->wscale = shift > 14 ? 14 : shift; /* RFC 7323: larger means 14 */
        } else {
            rd_skip(&o, (size_t)olen - 2);
        }
    }
    out->payload = r->p;
    out->payload_len = (uint32_t)rd_left(r);
    out->payload_cut = cut;
    return DEC_TCP;
}

/* `ip_span` is what the IP header says the datagram holds after the point the
 * reader is at; clamp it to the capture and remember how much was cut. */
static struct rd clamp_span(const struct rd *r, size_t ip_span, uint32_t *cut)
{
    size_t have = rd_left(r);
    *cut = ip_span > have ? (uint32_t)(ip_span - have) : 0;
    return rd_make(r->p, ip_span < have ? ip_span : have);
}

/* `snap_cut` is how many bytes of the frame the snaplen removed (wire - captured): an
 * IP length may reach that far past the capture, never further. */
static enum dec_result ipv4(struct rd *r, uint32_t snap_cut, struct dec_pkt *out)
{
    const uint8_t *ip = r->p;
    size_t have = rd_left(r);
    uint8_t vihl = rd_u8(r);
    rd_skip(r, 1);
    uint16_t total = rd_be16(r);
    rd_skip(r, 2);
    uint16_t frag = rd_be16(r);
    rd_skip(r, 1);
    uint8_t proto = rd_u8(r);
    rd_skip(r, 2);
    const uint8_t *src = rd_bytes(r, 4);
    const uint8_t *dst = rd_bytes(r, 4);
    if (r->bad)
        return DEC_TRUNCATED;
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if ((vihl >> 4) != 4 || ihl < 20)
        return DEC_BAD_IP;
    /* Segmentation offload: a sender-side capture of a TSO super-packet can carry a
     * total length of 0; then the captured length is all we have (Wireshark does the
     * same). */
    if (total == 0)
        total = have > 0xffff ? 0xffff : (uint16_t)have;
    if (total < ihl)
        return DEC_BAD_IP;
    if (ihl > have)
        return DEC_TRUNCATED;
    if (total > have && total - have > snap_cut)
        return DEC_BAD_IP; /* claims bytes the frame never had */
    out->family = 4;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, src, 4);
    memcpy(out->dst, dst, 4);
    out->l3 = ip;
    out->l3_len = total < have ? total : have;
    if (frag & 0x3fff) /* MF set or non-zero offset */
        return DEC_FRAGMENT;
    struct rd body = rd_make(ip, out->l3_len);
    rd_skip(&body, ihl);
    uint32_t cut = total > have ? (uint32_t)(total - have) : 0;
    switch (proto) {
    case 6:
        return tcp_header(&body, cut, out);
    case 17:
        return DEC_UDP;
    default:
        return DEC_OTHER_IP;
    }
}

static enum dec_result ipv6(struct rd *r, uint32_t snap_cut, struct dec_pkt *out)
{
    const uint8_t *ip = r->p;
    uint32_t vtf = rd_be32(r);
    uint16_t plen = rd_be16(r);
    uint8_t next = rd_u8(r);
    rd_skip(r, 1);
    const uint8_t *src = rd_bytes(r, 16);
    const uint8_t *dst = rd_bytes(r, 16);
    if (r->bad)
        return DEC_TRUNCATED;
    if ((vtf >> 28) != 6)
        return DEC_BAD_IP;
    size_t have = rd_left(r);
    if (plen == 0) /* jumbogram or offload: take what was captured */
        plen = have > 0xffff ? 0xffff : (uint16_t)have;
    if (plen > have && plen - have > snap_cut)
        return DEC_BAD_IP;
    out->family = 6;
    memcpy(out->src, src, 16);
    memcpy(out->dst, dst, 16);
    out->l3 = ip;
    out->l3_len = 40 + (plen < have ? plen : have);
    uint32_t cut;
    struct rd body = clamp_span(r, plen, &cut);
    /* Walk the extension headers; each one counts against the budget. */
    for (int i = 0; i <= DEC_MAX_IPV6_EXT; i++) {
        switch (next) {
        case 6:
            return tcp_header(&body, cut, out);
        case 17:
            return DEC_UDP;
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */ {
            next = rd_u8(&body);
            size_t len = ((size_t)rd_u8(&body) + 1) * 8;
            rd_skip(&body, len - 2);
            break;
        }
        case 51: { /* AH: length in 4-octet units, minus 2 */
            next = rd_u8(&body);
            size_t len = ((size_t)rd_u8(&body) + 2) * 4;
            rd_skip(&body, len - 2);
            break;
        }
        case 44: { /* fragment header */
            next = rd_u8(&body);
            rd_skip(&body, 1);
            uint16_t off = rd_be16(&body);
            rd_skip(&body, 4);
            if (!body.bad && (off & 0xfff9)) /* offset or M set: a real fragment */
                return DEC_FRAGMENT;
            break;
        }
        default:
            return DEC_OTHER_IP;
        }
        if (body.bad)
            return cut ? DEC_TRUNCATED : DEC_BAD_IP;
    }
    return DEC_TOO_DEEP;
}

enum dec_result dec_packet(int linktype, const uint8_t *data, uint32_t caplen,
                           uint32_t wire_len, struct dec_pkt *out)
{
    struct rd r = rd_make(data, caplen);
    out->wire_len = wire_len;
    out->vlan_outer = 0;
    out->vlan_inner = 0;
    out->payload = NULL;
    out->payload_len = 0;
    out->payload_cut = 0;
    long type = link_header(linktype, &r);
    if (type == -1)
        return DEC_UNSUPPORTED_LINK;
    if (r.bad)
        return DEC_TRUNCATED;
    type = peel_encapsulation(type, &r, out);
    if (type == -2)
        return DEC_TOO_DEEP;
    if (r.bad)
        return DEC_TRUNCATED;
    uint32_t snap_cut = wire_len > caplen ? wire_len - caplen : 0;
    if (type == ETH_IPV4)
        return ipv4(&r, snap_cut, out);
    if (type == ETH_IPV6)
        return ipv6(&r, snap_cut, out);
    return DEC_NOT_IP;
}
