/* pcapw.h: a test-only packet builder and capture writer.
 *
 * Owns: the frame being built (a fixed buffer, no allocation) and the open capture
 *   file of a writer.
 * Does not own: anything of the analyzer; it does not include analyzer headers, so the
 *   frames it builds are independent of the code under test.
 * Called by: unit and end-to-end tests.
 *
 * A frame is built from the inside out, so that every header knows the length of what
 * follows it: start with pcapw_init(), append the payload, then push TCP, IP and link
 * headers in that order. Lengths, offsets and next-header fields are computed unless a
 * test overrides them to craft a bad packet. Checksums are left at zero: the analyzer
 * does not check them.
 *
 *   struct pcapw_pkt p;
 *   pcapw_init(&p);
 *   pcapw_append(&p, "GET / HTTP/1.1\r\n\r\n", 18);
 *   pcapw_tcp(&p, &(struct pcapw_tcp){ .sport = 40000, .dport = 80, .flags = 0x18 });
 *   pcapw_ipv4(&p, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
 *   pcapw_ether(&p, PCAPW_ETH_IPV4, NULL, 0);
 *   pcapw_write(w, ts_ns, pcapw_data(&p), pcapw_len(&p));
 */
#ifndef ES_TEST_PCAPW_H
#define ES_TEST_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAPW_HEADROOM 512u     /* room for every header pushed in front of the data */
#define PCAPW_MAX_DATA 66000u   /* payload plus trailing padding */

enum {
    PCAPW_ETH_IPV4 = 0x0800,
    PCAPW_ETH_IPV6 = 0x86dd,
    PCAPW_ETH_ARP = 0x0806,
    PCAPW_ETH_VLAN = 0x8100,
    PCAPW_ETH_QINQ = 0x88a8,
};

/* Link types written in file headers (the DLT_ values libpcap maps them to). */
enum {
    PCAPW_LINK_NULL = 0,
    PCAPW_LINK_ETHERNET = 1,
    PCAPW_LINK_RAW = 101,        /* DLT_RAW */
    PCAPW_LINK_IEEE802_11 = 105, /* unsupported by the analyzer */
    PCAPW_LINK_LOOP = 108,
    PCAPW_LINK_SLL = 113,
    PCAPW_LINK_IPV4 = 228,
    PCAPW_LINK_IPV6 = 229,
    PCAPW_LINK_SLL2 = 276,
};

/* A frame under construction: bytes [head, tail) of buf. */
struct pcapw_pkt {
    uint8_t buf[PCAPW_HEADROOM + PCAPW_MAX_DATA];
    size_t head, tail;
};

void pcapw_init(struct pcapw_pkt *p);
const uint8_t *pcapw_data(const struct pcapw_pkt *p);
size_t pcapw_len(const struct pcapw_pkt *p);

/* Append n bytes at the end (payload, or trailing bytes after a finished frame). */
void pcapw_append(struct pcapw_pkt *p, const void *data, size_t n);

/* Append `fill` bytes until the frame is at least min_len long: Ethernet padding. */
void pcapw_pad(struct pcapw_pkt *p, size_t min_len, uint8_t fill);

/* Make room for n bytes in front of the frame; returns them, zeroed. */
uint8_t *pcapw_push(struct pcapw_pkt *p, size_t n);

struct pcapw_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;           /* TCP flag bits as on the wire */
    uint16_t window;         /* 0: 65535 */
    const uint8_t *opt;      /* options, opt_len a multiple of 4, at most 40 */
    size_t opt_len;
    uint8_t doff_words;      /* data offset override; 0: computed */
};

/* Push a TCP header in front of what the frame holds (the payload). */
void pcapw_tcp(struct pcapw_pkt *p, const struct pcapw_tcp *t);

struct pcapw_ip4 {
    const char *src, *dst;   /* dotted quads */
    uint8_t proto;           /* 0: TCP (6) */
    uint16_t frag;           /* flags and fragment offset field as on the wire */
    const uint8_t *opt;      /* options, opt_len a multiple of 4, at most 40 */
    size_t opt_len;
    uint16_t total_len;      /* override; 0: computed */
    uint8_t ihl_words;       /* override; 0: computed */
};

/* Push an IPv4 header in front of what the frame holds. */
void pcapw_ipv4(struct pcapw_pkt *p, const struct pcapw_ip4 *h);

struct pcapw_ip6 {
    const char *src, *dst;   /* textual IPv6 addresses */
    uint8_t next;            /* next header (6 TCP, 0 hop-by-hop, 44 fragment, ...) */
    uint16_t payload_len;    /* override; 0: computed */
};

/* Push an IPv6 header in front of what the frame holds. */
void pcapw_ipv6(struct pcapw_pkt *p, const struct pcapw_ip6 *h);

/* Push a hop-by-hop (type 0) or destination options (type 60) header of len bytes (a
 * multiple of 8, at least 8), filled with PadN; `next` names what follows it. */
void pcapw_ipv6_opts(struct pcapw_pkt *p, uint8_t next, size_t len);

/* Push an IPv6 fragment header: offset in 8-byte units, M flag, identification. */
void pcapw_ipv6_frag(struct pcapw_pkt *p, uint8_t next, uint16_t offset, bool more,
                     uint32_t id);

/* Push an Ethernet header, preceded by n_tags VLAN tags (vids outermost first) ahead
 * of `type`. One tag uses TPID 0x8100; with several, the outer one uses 0x88a8 (802.1ad)
 * and the inner ones 0x8100, as QinQ does. */
void pcapw_ether(struct pcapw_pkt *p, uint16_t type, const uint16_t *vids, int n_tags);

/* Push a Linux cooked header: SLL (16 bytes) or SLL2 (20 bytes) for protocol `type`. */
void pcapw_sll(struct pcapw_pkt *p, uint16_t type);
void pcapw_sll2(struct pcapw_pkt *p, uint16_t type);

/* Push a BSD loopback header (DLT_NULL: 4-byte family in either byte order). */
void pcapw_null(struct pcapw_pkt *p, uint32_t family, bool big_endian);

/* Capture files. */
enum pcapw_format {
    PCAPW_PCAP,       /* classic pcap, microsecond timestamps */
    PCAPW_PCAP_NS,    /* classic pcap, nanosecond timestamps (magic a1b23c4d) */
    PCAPW_PCAPNG,     /* pcapng: SHB, one IDB (microsecond resolution), EPBs */
    PCAPW_PCAPNG_NS,  /* pcapng with if_tsresol = 9 (nanoseconds) */
};

struct pcapw_file;

/* Create path and write the file header. A record keeps at most snaplen bytes of its
 * frame (0: 262144). NULL when the file cannot be created. */
struct pcapw_file *pcapw_open(const char *path, enum pcapw_format fmt, int linktype,
                              uint32_t snaplen);

/* pcapw_open(), or the reason on stderr and abort(): for tests, where a file that
 * cannot be written is the machine's fault, not the case under test. */
struct pcapw_file *pcapw_open_or_die(const char *path, enum pcapw_format fmt, int linktype,
                                     uint32_t snaplen);

/* Write one record of a frame of len bytes: min(len, snaplen) captured, len on the
 * wire. Returns 0, or -1 on a write error. */
int pcapw_write(struct pcapw_file *w, uint64_t ts_ns, const void *data, size_t len);

/* Write one record with an explicit wire length (>= caplen normally; a test may lie). */
int pcapw_write_rec(struct pcapw_file *w, uint64_t ts_ns, const void *data,
                    uint32_t caplen, uint32_t wire_len);

/* Close the file, first removing its last `drop` bytes (0: none): a capture whose last
 * record is cut short. Returns 0, or -1 on an error. */
int pcapw_close(struct pcapw_file *w, size_t drop);

/* Write n bytes to path: a file that is not a capture. Returns 0 or -1. */
int pcapw_write_raw(const char *path, const void *data, size_t n);

#endif
