/* decode.h: link, IP and TCP header decoding of one captured packet.
 *
 * Owns: nothing but the packet view it fills, which lives on the caller's stack and
 *   borrows the packet bytes for the duration of one packet.
 * Does not own: the packet bytes (the capture layer) or any flow state.
 * Called by: the pipeline, once per packet. Calls: nothing.
 *
 * Every length field is checked against the header it belongs to and clamped to what
 * was captured: Ethernet padding never reaches the TCP stream, and payload bytes that
 * the IP header announces but the snaplen cut off are reported in payload_cut so that
 * reassembly can move over them as uncaptured bytes (stream.h), neither data nor a gap.
 */
#ifndef ES_DECODE_H
#define ES_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* The outcome of decoding one packet. Values index the counters in struct dec_stats. */
enum dec_result {
    DEC_TCP,              /* a TCP segment; every field of struct dec_pkt is set */
    DEC_UDP,              /* UDP over IP: counted, not analysed */
    DEC_OTHER_IP,         /* IP with another transport (ICMP, SCTP, ESP, ...) */
    DEC_NOT_IP,           /* ARP, LLDP, STP and other non-IP frames */
    DEC_FRAGMENT,         /* an IPv4 or IPv6 fragment: counted and skipped */
    DEC_TRUNCATED,        /* headers cut short by the snaplen or the frame */
    DEC_BAD_IP,           /* IP header inconsistent with itself or the frame */
    DEC_BAD_TCP,          /* TCP header inconsistent with the IP payload */
    DEC_TOO_DEEP,         /* more than DEC_MAX_ENCAP encapsulation layers */
    DEC_UNSUPPORTED_LINK, /* a link type we cannot decode */
    DEC_RESULT_COUNT
};

/* TCP flag bits as in the header. */
enum {
    TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08,
    TCP_ACK = 0x10, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80,
};

/* struct dec_pkt.wscale when the segment is not a SYN or its SYN has no such option. */
#define DEC_NO_WSCALE 0xffu

/* A decoded packet. Pointers borrow the packet bytes: valid for this packet only. */
struct dec_pkt {
    uint64_t ts_us;           /* capture time, copied from the capture record */
    uint32_t wire_len;        /* frame length on the wire */
    uint16_t vlan_outer;      /* first 802.1Q/802.1ad tag's VLAN ID, 0 when untagged */
    uint16_t vlan_inner;      /* second tag's VLAN ID (QinQ), 0 when absent */
    uint8_t family;           /* 4 or 6 */
    uint8_t src[16], dst[16]; /* IPv4 addresses use the first 4 bytes */
    const uint8_t *l3;        /* IP header, for nDPI */
    size_t l3_len;            /* IP header + payload, clamped to the capture */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t window;          /* the header's window field, unscaled */
    uint8_t wscale;           /* a SYN's window scale option (shift), else DEC_NO_WSCALE */
    const uint8_t *payload;   /* captured TCP payload */
    uint32_t payload_len;
    uint32_t payload_cut;     /* payload announced by IP but not captured (snaplen) */
    uint64_t pkt_no;          /* set by the pipeline, not the decoder: the packet's
                                 number in the run (flow.h first_pkt, lru_pkt) */
};

/* Decode one packet of link type `linktype` (a DLT_ value as pcap_datalink() returns).
 * `caplen` bytes are present at `data`; `wire_len` is the original length.
 * Returns DEC_TCP with *out filled in, or another result saying why not; never reads
 * outside data[0, caplen). */
enum dec_result dec_packet(int linktype, const uint8_t *data, uint32_t caplen,
                           uint32_t wire_len, struct dec_pkt *out);

/* True when dec_packet() knows how to decode this link type. */
int dec_link_supported(int linktype);

/* A short stable name for a result ("fragment", "bad_ip", ...), for reports. */
const char *dec_result_name(enum dec_result r);

#endif
