/* test_decode.c: dec_packet() on frames built with pcapw.
 *
 * Every frame is decoded from a heap copy of exactly caplen bytes, so that a read past
 * the captured bytes is caught by AddressSanitizer in the sanitizer build.
 */
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode.h"
#include "limits.h"
#include "pcapw.h"

static struct pcapw_pkt pk;       /* the frame being built; too big for the stack */
static uint8_t *frame;            /* the copy dec_packet() last read */

static const uint8_t ip4_a[4] = { 10, 0, 0, 1 }, ip4_b[4] = { 10, 0, 0, 2 };
static const uint8_t ip6_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t ip6_b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* Decode the first caplen bytes of the frame, announced as wire_len long. */
static enum dec_result dec_cut(int linktype, size_t caplen, size_t wire_len,
                               struct dec_pkt *out)
{
    free(frame);
    frame = malloc(caplen ? caplen : 1);
    if (!frame)
        abort();
    memcpy(frame, pcapw_data(&pk), caplen);
    memset(out, 0xa5, sizeof *out); /* fields dec_packet() must set are not left to luck */
    return dec_packet(linktype, frame, (uint32_t)caplen, (uint32_t)wire_len, out);
}

static enum dec_result dec(int linktype, struct dec_pkt *out)
{
    return dec_cut(linktype, pcapw_len(&pk), pcapw_len(&pk), out);
}

/* Start a frame: payload and a TCP header (40000 -> 80, seq 1000, ack 2000). */
static void seg(const char *payload, size_t n, uint8_t flags)
{
    pcapw_init(&pk);
    pcapw_append(&pk, payload, n);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 40000, .dport = 80, .seq = 1000,
                                        .ack = 2000, .flags = flags });
}

static void ip4(void)
{
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
}

static void ip6(uint8_t next)
{
    pcapw_ipv6(&pk, &(struct pcapw_ip6){ .src = "2001:db8::1", .dst = "2001:db8::2",
                                         .next = next });
}

/* The common checks of a decoded "hello" segment; l3_off is where the IP header is. */
static void check_hello(const struct dec_pkt *p, int family, size_t l3_off)
{
    size_t iplen = family == 4 ? 20 : 40;
    CHECK_EQ(p->family, family);
    if (family == 4) {
        CHECK_MEM(p->src, 4, ip4_a, 4);
        CHECK_MEM(p->dst, 4, ip4_b, 4);
    } else {
        CHECK_MEM(p->src, 16, ip6_a, 16);
        CHECK_MEM(p->dst, 16, ip6_b, 16);
    }
    CHECK(p->l3 == frame + l3_off);
    CHECK_EQ(p->l3_len, iplen + 20 + 5);
    CHECK_EQ(p->sport, 40000);
    CHECK_EQ(p->dport, 80);
    CHECK_EQ(p->seq, 1000);
    CHECK_EQ(p->ack, 2000);
    CHECK_EQ(p->tcp_flags, TCP_PSH | TCP_ACK);
    CHECK(p->payload == frame + l3_off + iplen + 20);
    CHECK_MEM(p->payload, p->payload_len, "hello", 5);
    CHECK_EQ(p->payload_cut, 0);
}

static void test_ethernet(void)
{
    check_case("ethernet ipv4 tcp");
    struct dec_pkt p;
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 4, 14);
    CHECK_EQ(p.wire_len, 14 + 20 + 20 + 5);
    CHECK_EQ(p.vlan_outer, 0);
    CHECK_EQ(p.vlan_inner, 0);

    check_case("ethernet ipv6 tcp");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 6, 14);

    check_case("ethernet padding is not payload");
    seg("hi", 2, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    pcapw_pad(&pk, 60, 0xee);
    CHECK_EQ(pcapw_len(&pk), 60);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    CHECK_MEM(p.payload, p.payload_len, "hi", 2);
    CHECK_EQ(p.payload_cut, 0);
    CHECK_EQ(p.l3_len, 42);

    check_case("ethernet padding of a pure ACK");
    seg("", 0, TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    pcapw_pad(&pk, 60, 0xee);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    CHECK_EQ(p.payload_len, 0);
    CHECK_EQ(p.payload_cut, 0);
    CHECK_EQ(p.l3_len, 40);

    check_case("trailing bytes after an IPv6 datagram are not payload");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, NULL, 0);
    pcapw_append(&pk, "\xee\xee\xee\xee", 4);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 6, 14);

    check_case("ethernet non-IP");
    pcapw_init(&pk);
    pcapw_pad(&pk, 28, 0);
    pcapw_ether(&pk, PCAPW_ETH_ARP, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_NOT_IP);
    /* 802.3 frame: a length where the type would be (LLC, e.g. STP) */
    pcapw_init(&pk);
    pcapw_pad(&pk, 46, 0x42);
    pcapw_ether(&pk, 46, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_NOT_IP);
}

static void test_vlan(void)
{
    struct dec_pkt p;
    check_case("802.1Q");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, (const uint16_t[]){ 100 }, 1);
    CHECK_EQ(pk.buf[pk.head + 12], 0x81);
    pk.buf[pk.head + 14] |= 0xe0; /* priority bits are not part of the VLAN ID */
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 4, 18);
    CHECK_EQ(p.vlan_outer, 100);
    CHECK_EQ(p.vlan_inner, 0);

    check_case("QinQ 802.1ad + 802.1Q");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, (const uint16_t[]){ 10, 20 }, 2);
    CHECK_EQ(pk.buf[pk.head + 12], 0x88);
    CHECK_EQ(pk.buf[pk.head + 13], 0xa8);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 6, 22);
    CHECK_EQ(p.vlan_outer, 10);
    CHECK_EQ(p.vlan_inner, 20);

    check_case("QinQ with the old 0x9100 TPID");
    pk.buf[pk.head + 12] = 0x91;
    pk.buf[pk.head + 13] = 0x00;
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    CHECK_EQ(p.vlan_outer, 10);
    CHECK_EQ(p.vlan_inner, 20);

    check_case("DEC_MAX_ENCAP tags decode, one more is too deep");
    uint16_t vids[DEC_MAX_ENCAP + 1];
    for (int i = 0; i < DEC_MAX_ENCAP + 1; i++)
        vids[i] = (uint16_t)(i + 1);
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, vids, DEC_MAX_ENCAP);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 4, 14 + 4 * DEC_MAX_ENCAP);
    CHECK_EQ(p.vlan_outer, 1);
    CHECK_EQ(p.vlan_inner, 2);
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, vids, DEC_MAX_ENCAP + 1);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TOO_DEEP);

    check_case("MPLS bottom of stack, then IPv4");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    uint8_t *l = pcapw_push(&pk, 4);
    l[0] = 0x00, l[1] = 0x01, l[2] = 0x01, l[3] = 64; /* label 16, S=1, TTL 64 */
    pcapw_ether(&pk, 0x8847, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 4, 18);

    check_case("PPPoE session, then IPv6");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    uint8_t *e = pcapw_push(&pk, 8);
    e[0] = 0x11, e[3] = 7, e[5] = 67, e[7] = 0x57; /* ver/type, session 7, PPP IPv6 */
    pcapw_ether(&pk, 0x8864, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    check_hello(&p, 6, 22);
}

static void test_links(void)
{
    struct dec_pkt p;
    check_case("Linux SLL");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_sll(&pk, PCAPW_ETH_IPV4);
    CHECK_EQ(dec(DLT_LINUX_SLL, &p), DEC_TCP);
    check_hello(&p, 4, 16);
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_sll(&pk, PCAPW_ETH_IPV6);
    CHECK_EQ(dec(DLT_LINUX_SLL, &p), DEC_TCP);
    check_hello(&p, 6, 16);
    pcapw_init(&pk);
    pcapw_pad(&pk, 28, 0);
    pcapw_sll(&pk, PCAPW_ETH_ARP);
    CHECK_EQ(dec(DLT_LINUX_SLL, &p), DEC_NOT_IP);

    check_case("Linux SLL2");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_sll2(&pk, PCAPW_ETH_IPV4);
    CHECK_EQ(dec(DLT_LINUX_SLL2, &p), DEC_TCP);
    check_hello(&p, 4, 20);
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_sll2(&pk, PCAPW_ETH_IPV6);
    CHECK_EQ(dec(DLT_LINUX_SLL2, &p), DEC_TCP);
    check_hello(&p, 6, 20);

    check_case("BSD loopback, both byte orders");
    for (int be = 0; be < 2; be++) {
        seg("hello", 5, TCP_PSH | TCP_ACK);
        ip4();
        pcapw_null(&pk, 2, be);
        CHECK_EQ(dec(DLT_NULL, &p), DEC_TCP);
        check_hello(&p, 4, 4);
        /* AF_INET6 of Linux, NetBSD/OpenBSD, FreeBSD, macOS */
        static const uint32_t inet6[] = { 10, 24, 28, 30 };
        for (size_t i = 0; i < sizeof inet6 / sizeof inet6[0]; i++) {
            seg("hello", 5, TCP_PSH | TCP_ACK);
            ip6(6);
            pcapw_null(&pk, inet6[i], be);
            CHECK_EQ(dec(DLT_NULL, &p), DEC_TCP);
            check_hello(&p, 6, 4);
        }
        pcapw_init(&pk);
        pcapw_pad(&pk, 40, 0x45);
        pcapw_null(&pk, 7, be); /* no IP family */
        CHECK_EQ(dec(DLT_NULL, &p), DEC_NOT_IP);
    }

    check_case("DLT_LOOP: network byte order");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    pcapw_null(&pk, 30, true);
    CHECK_EQ(dec(DLT_LOOP, &p), DEC_TCP);
    check_hello(&p, 6, 4);

    check_case("raw IP");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    check_hello(&p, 4, 0);
    CHECK_EQ(dec(DLT_IPV4, &p), DEC_TCP);
    check_hello(&p, 4, 0);
    CHECK_EQ(dec(DLT_IPV6, &p), DEC_BAD_IP); /* an IPv4 header where IPv6 must be */
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip6(6);
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    check_hello(&p, 6, 0);
    CHECK_EQ(dec(DLT_IPV6, &p), DEC_TCP);
    check_hello(&p, 6, 0);
    CHECK_EQ(dec(DLT_IPV4, &p), DEC_BAD_IP);
    pcapw_init(&pk);
    pcapw_pad(&pk, 40, 0x55); /* version 5 */
    CHECK_EQ(dec(DLT_RAW, &p), DEC_NOT_IP);

    check_case("PPI around Ethernet");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    uint8_t *ppi = pcapw_push(&pk, 8);
    ppi[2] = 8;                /* header length, little-endian */
    ppi[4] = DLT_EN10MB;       /* inner link type, little-endian */
    CHECK_EQ(dec(DLT_PPI, &p), DEC_TCP);
    check_hello(&p, 4, 22);
    ppi[4] = DLT_PPI;          /* PPI inside PPI */
    CHECK_EQ(dec(DLT_PPI, &p), DEC_UNSUPPORTED_LINK);

    check_case("unsupported link types");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    CHECK_EQ(dec(DLT_IEEE802_11, &p), DEC_UNSUPPORTED_LINK);
    CHECK_EQ(dec(4242, &p), DEC_UNSUPPORTED_LINK);
    CHECK_EQ(dec(-1, &p), DEC_UNSUPPORTED_LINK);
    CHECK(!dec_link_supported(DLT_IEEE802_11));
    CHECK(!dec_link_supported(4242));
    static const int supported[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
                                     DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6 };
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++)
        CHECK(dec_link_supported(supported[i]));
}

static void test_ip_options_and_extensions(void)
{
    struct dec_pkt p;
    check_case("IPv4 with options");
    /* router alert, then NOPs and end of list */
    static const uint8_t opts[12] = { 0x94, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0 };
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .opt = opts, .opt_len = sizeof opts });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    CHECK_EQ(p.l3_len, 32 + 20 + 5);
    CHECK(p.payload == frame + 14 + 32 + 20);
    CHECK_MEM(p.payload, p.payload_len, "hello", 5);
    CHECK_EQ(p.sport, 40000);

    check_case("TCP with options");
    static const uint8_t topts[12] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 };
    pcapw_init(&pk);
    pcapw_append(&pk, "hello", 5);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 40000, .dport = 80, .seq = 1000,
                                        .ack = 2000, .flags = TCP_PSH | TCP_ACK,
                                        .opt = topts, .opt_len = sizeof topts });
    ip4();
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    CHECK(p.payload == frame + 20 + 32);
    CHECK_MEM(p.payload, p.payload_len, "hello", 5);

    check_case("IPv6 hop-by-hop, destination options, atomic fragment, AH");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    uint8_t *ah = pcapw_push(&pk, 16);
    ah[0] = 6;
    ah[1] = 2; /* (2 + 2) * 4 = 16 bytes */
    pcapw_ipv6_frag(&pk, 51, 0, false, 0x1234); /* offset 0, M 0: not a real fragment */
    pcapw_ipv6_opts(&pk, 44, 16);               /* destination options */
    pcapw_ipv6_opts(&pk, 60, 8);                /* hop-by-hop */
    ip6(0);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_TCP);
    CHECK_EQ(p.family, 6);
    CHECK_MEM(p.src, 16, ip6_a, 16);
    CHECK(p.payload == frame + 14 + 40 + 8 + 16 + 8 + 16 + 20);
    CHECK_MEM(p.payload, p.payload_len, "hello", 5);
    CHECK_EQ(p.l3_len, 40 + 48 + 20 + 5);
    CHECK_EQ(p.seq, 1000);

    check_case("DEC_MAX_IPV6_EXT extension headers, then one too many");
    for (int n = DEC_MAX_IPV6_EXT; n <= DEC_MAX_IPV6_EXT + 1; n++) {
        seg("hello", 5, TCP_PSH | TCP_ACK);
        uint8_t next = 6;
        for (int i = 0; i < n; i++) {
            pcapw_ipv6_opts(&pk, next, 8);
            next = 60;
        }
        ip6(60);
        enum dec_result r = dec(DLT_RAW, &p);
        CHECK_EQ(r, n == DEC_MAX_IPV6_EXT ? DEC_TCP : DEC_TOO_DEEP);
        if (r == DEC_TCP)
            CHECK_MEM(p.payload, p.payload_len, "hello", 5);
    }

    check_case("IPv6 extension header longer than the datagram");
    seg("", 0, TCP_ACK);
    pcapw_ipv6_opts(&pk, 6, 8);
    pk.buf[pk.head + 1] = 200; /* (200 + 1) * 8 bytes */
    ip6(0);
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_IP);
}

static void test_fragments(void)
{
    struct dec_pkt p;
    check_case("IPv4 fragments");
    static const uint16_t frags[] = { 0x2000 /* MF */, 0x0010 /* offset */,
                                      0x2010 /* both */, 0x6000 /* DF|MF */ };
    for (size_t i = 0; i < sizeof frags / sizeof frags[0]; i++) {
        seg("hello", 5, TCP_PSH | TCP_ACK);
        pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                             .frag = frags[i] });
        pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
        CHECK_EQ(dec(DLT_EN10MB, &p), DEC_FRAGMENT);
    }
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .frag = 0x4000 /* DF alone */ });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    check_hello(&p, 4, 0);
    /* A non-first fragment carries no TCP header at all. */
    pcapw_init(&pk);
    pcapw_append(&pk, "tail of a datagram", 18);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .frag = 0x00b9 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_FRAGMENT);

    check_case("IPv6 fragments");
    static const struct { uint16_t off; bool more; } f6[] = { { 0, true }, { 185, false },
                                                             { 185, true } };
    for (size_t i = 0; i < sizeof f6 / sizeof f6[0]; i++) {
        seg("hello", 5, TCP_PSH | TCP_ACK);
        pcapw_ipv6_frag(&pk, 6, f6[i].off, f6[i].more, 77);
        ip6(44);
        CHECK_EQ(dec(DLT_RAW, &p), DEC_FRAGMENT);
    }
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv6_frag(&pk, 6, 0, true, 77);
    pcapw_ipv6_opts(&pk, 44, 8);
    ip6(0);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_FRAGMENT);
}

static void test_other_transports(void)
{
    struct dec_pkt p;
    check_case("UDP, ICMP, no next header");
    pcapw_init(&pk);
    pcapw_pad(&pk, 12, 0);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .proto = 17 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_UDP);
    pcapw_init(&pk);
    pcapw_pad(&pk, 8, 0);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .proto = 1 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_OTHER_IP);
    pcapw_init(&pk);
    pcapw_pad(&pk, 12, 0);
    pcapw_ipv6_opts(&pk, 17, 8);
    ip6(0);
    CHECK_EQ(dec(DLT_RAW, &p), DEC_UDP);
    pcapw_init(&pk);
    ip6(59);
    CHECK_EQ(dec(DLT_RAW, &p), DEC_OTHER_IP);

    check_case("result names");
    CHECK_STR(dec_result_name(DEC_TCP), "tcp");
    CHECK_STR(dec_result_name(DEC_FRAGMENT), "fragment");
    CHECK_STR(dec_result_name(DEC_BAD_IP), "bad_ip");
    CHECK_STR(dec_result_name(DEC_UNSUPPORTED_LINK), "unsupported_link");
    CHECK_STR(dec_result_name(DEC_RESULT_COUNT), "?");
}

static void test_snaplen(void)
{
    struct dec_pkt p;
    char body[100];
    for (int i = 0; i < 100; i++)
        body[i] = (char)('a' + i % 26);

    check_case("snaplen cut inside the IPv4 payload");
    seg(body, 100, TCP_PSH | TCP_ACK);
    ip4();
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    size_t full = pcapw_len(&pk);
    CHECK_EQ(dec_cut(DLT_EN10MB, full - 60, full, &p), DEC_TCP);
    CHECK_MEM(p.payload, p.payload_len, body, 40);
    CHECK_EQ(p.payload_cut, 60);
    CHECK_EQ(p.l3_len, 20 + 20 + 40);
    CHECK_EQ(p.wire_len, full);

    check_case("snaplen cut right after the TCP header");
    CHECK_EQ(dec_cut(DLT_EN10MB, 54, full, &p), DEC_TCP);
    CHECK_EQ(p.payload_len, 0);
    CHECK_EQ(p.payload_cut, 100);

    check_case("snaplen cut inside the IPv6 payload");
    seg(body, 100, TCP_PSH | TCP_ACK);
    pcapw_ipv6_opts(&pk, 6, 8);
    ip6(0);
    pcapw_sll2(&pk, PCAPW_ETH_IPV6);
    full = pcapw_len(&pk);
    CHECK_EQ(dec_cut(DLT_LINUX_SLL2, full - 1, full, &p), DEC_TCP);
    CHECK_MEM(p.payload, p.payload_len, body, 99);
    CHECK_EQ(p.payload_cut, 1);
    CHECK_EQ(p.l3_len, 40 + 8 + 20 + 99);

    check_case("snaplen cut inside the TCP header");
    CHECK_EQ(dec_cut(DLT_LINUX_SLL2, 20 + 48 + 19, full, &p), DEC_TRUNCATED);

    check_case("snap-cut record whose IP header claims more than the wire had");
    /* 100 bytes on the wire, 90 captured, but the IPv4 header announces 1500: the
     * 1400 bytes that were never on the wire are not a snaplen cut. */
    seg(body, 46, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .total_len = 1500 });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    CHECK_EQ(pcapw_len(&pk), 100);
    CHECK_EQ(dec_cut(DLT_EN10MB, 90, 100, &p), DEC_BAD_IP);
    seg(body, 26, TCP_PSH | TCP_ACK);
    pcapw_ipv6(&pk, &(struct pcapw_ip6){ .src = "2001:db8::1", .dst = "2001:db8::2",
                                         .next = 6, .payload_len = 1460 });
    pcapw_ether(&pk, PCAPW_ETH_IPV6, NULL, 0);
    CHECK_EQ(pcapw_len(&pk), 100);
    CHECK_EQ(dec_cut(DLT_EN10MB, 90, 100, &p), DEC_BAD_IP);
    /* The same datagram with a wire length that does hold it is a snaplen cut. */
    CHECK_EQ(dec_cut(DLT_EN10MB, 90, 14 + 40 + 1460, &p), DEC_TCP);
    CHECK_EQ(p.payload_len, 90 - 14 - 40 - 20);
    CHECK_EQ(p.payload_cut, 1460 - 20 - 16);
}

static void test_bad_lengths(void)
{
    struct dec_pkt p;
    check_case("IPv4 ihl greater than total length");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .ihl_words = 15, .total_len = 40 });
    pcapw_pad(&pk, 80, 0);
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_IP);

    check_case("IPv4 ihl below 5");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .ihl_words = 4 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_IP);

    check_case("IPv4 ihl past the captured bytes");
    seg("", 0, TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .ihl_words = 15, .total_len = 80 });
    enum dec_result r = dec(DLT_RAW, &p);
    CHECK(r == DEC_BAD_IP || r == DEC_TRUNCATED);

    check_case("IPv4 version field is not 4");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pk.buf[pk.head] = 0x65;
    CHECK_EQ(dec(DLT_IPV4, &p), DEC_BAD_IP);

    check_case("IPv4 total length beyond the frame, not snap-cut");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .total_len = 46 });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_BAD_IP);

    check_case("IPv6 payload length beyond the frame, not snap-cut");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv6(&pk, &(struct pcapw_ip6){ .src = "2001:db8::1", .dst = "2001:db8::2",
                                         .next = 6, .payload_len = 26 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_IP);
    pk.buf[pk.head] = 0x50; /* and an IPv6 header that says version 5 */
    CHECK_EQ(dec(DLT_IPV6, &p), DEC_BAD_IP);

    check_case("IPv4 total length leaves no room for the TCP header");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .total_len = 30 });
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_TCP);

    check_case("TCP data offset below 5");
    for (uint8_t off = 0; off < 5; off++) {
        pcapw_init(&pk);
        pcapw_append(&pk, "hello", 5);
        pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2 });
        pk.buf[pk.head + 12] = (uint8_t)(off << 4); /* 0 would mean "computed" */
        ip4();
        CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_TCP);
    }

    check_case("TCP data offset past the segment");
    pcapw_init(&pk);
    pcapw_append(&pk, "0123456789", 10);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2, .doff_words = 8 });
    ip4();
    CHECK_EQ(dec(DLT_RAW, &p), DEC_BAD_TCP);
    /* within the IP datagram, but only because of Ethernet padding: still bad */
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    pcapw_pad(&pk, 64 + 14, 0);
    CHECK_EQ(dec(DLT_EN10MB, &p), DEC_BAD_TCP);
    /* exactly the segment: every byte is an option, no payload */
    pcapw_init(&pk);
    pcapw_append(&pk, "012345678901", 12);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2, .doff_words = 8 });
    ip4();
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    CHECK_EQ(p.payload_len, 0);

    check_case("IPv4 total length 0 (segmentation offload): the capture is the datagram");
    seg("hello", 5, TCP_PSH | TCP_ACK);
    ip4();
    pk.buf[pk.head + 2] = pk.buf[pk.head + 3] = 0;
    CHECK_EQ(dec(DLT_RAW, &p), DEC_TCP);
    check_hello(&p, 4, 0);
}

/* Cut a valid frame at every length up to its end, as a snaplen would (wire length
 * kept) and as a broken frame would (wire length = what is there): no read outside
 * the bytes, no DEC_TCP before the headers are complete, and exact payload accounting
 * after. */
static void truncation_loop(const char *what, int linktype, size_t hdrs)
{
    check_case(what);
    size_t full = pcapw_len(&pk);
    for (size_t n = 0; n <= full; n++) {
        struct dec_pkt p;
        enum dec_result r = dec_cut(linktype, n, full, &p);
        if (n < hdrs) {
            CHECK_EQ(r, DEC_TRUNCATED);
        } else {
            CHECK_EQ(r, DEC_TCP);
            CHECK_EQ(p.payload_len, n - hdrs);
            CHECK_EQ(p.payload_cut, full - n);
        }
        r = dec_cut(linktype, n, n, &p);
        if (n < full)
            CHECK(r == DEC_TRUNCATED || r == DEC_BAD_IP || r == DEC_BAD_TCP);
        else
            CHECK_EQ(r, DEC_TCP);
    }
}

static void test_truncation(void)
{
    static const uint8_t opts[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
    static const uint8_t topts[4] = { 2, 4, 0x05, 0xb4 };

    pcapw_init(&pk);
    pcapw_append(&pk, "hello", 5);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2, .opt = topts,
                                        .opt_len = sizeof topts });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2",
                                         .opt = opts, .opt_len = sizeof opts });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
    truncation_loop("truncation: ethernet, IPv4 options, TCP options", DLT_EN10MB,
                    14 + 28 + 24);

    seg("hello", 5, TCP_ACK);
    pcapw_ipv6_frag(&pk, 6, 0, false, 1);
    pcapw_ipv6_opts(&pk, 44, 16);
    ip6(0);
    pcapw_ether(&pk, PCAPW_ETH_IPV6, (const uint16_t[]){ 10, 20 }, 2);
    truncation_loop("truncation: QinQ, IPv6 extension headers", DLT_EN10MB,
                    22 + 40 + 24 + 20);

    seg("hello", 5, TCP_ACK);
    ip4();
    pcapw_sll2(&pk, PCAPW_ETH_IPV4);
    truncation_loop("truncation: SLL2", DLT_LINUX_SLL2, 20 + 40);

    seg("hello", 5, TCP_ACK);
    ip6(6);
    pcapw_sll(&pk, PCAPW_ETH_IPV6);
    truncation_loop("truncation: SLL", DLT_LINUX_SLL, 16 + 60);

    seg("hello", 5, TCP_ACK);
    ip6(6);
    pcapw_null(&pk, 30, true);
    truncation_loop("truncation: NULL", DLT_NULL, 4 + 60);

    seg("hello", 5, TCP_ACK);
    ip4();
    truncation_loop("truncation: raw IPv4", DLT_RAW, 40);

    seg("hello", 5, TCP_ACK);
    ip4();
    uint8_t *l = pcapw_push(&pk, 8);
    l[2] = 0x00, l[6] = 0x01; /* two MPLS labels, the second at the bottom */
    pcapw_ether(&pk, 0x8847, (const uint16_t[]){ 5 }, 1);
    truncation_loop("truncation: VLAN, MPLS", DLT_EN10MB, 18 + 8 + 40);
}

int main(void)
{
    test_ethernet();
    test_vlan();
    test_links();
    test_ip_options_and_extensions();
    test_fragments();
    test_other_transports();
    test_snaplen();
    test_bad_lengths();
    test_truncation();
    free(frame);
    return check_done("test_decode");
}
