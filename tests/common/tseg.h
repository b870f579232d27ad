/* tseg.h: a decoded TCP segment (struct dec_pkt) built by hand, for the flow table and
 * reassembly tests: the fields the driver would get from dec_packet(), without a frame.
 * Header-only; aborts on a bad address, which is a bug in the test.
 */
#ifndef ES_TEST_TSEG_H
#define ES_TEST_TSEG_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* One end of a connection: a textual IPv4 or IPv6 address and a port. */
struct tseg_ep {
    const char *addr;
    uint16_t port;
};

/* A segment from `from` to `to` carrying len payload bytes (borrowed, not copied). */
static inline struct dec_pkt tseg(uint64_t ts_us, struct tseg_ep from, struct tseg_ep to,
                                  uint8_t flags, uint32_t seq, uint32_t ack,
                                  const void *payload, uint32_t len)
{
    struct dec_pkt p;
    memset(&p, 0, sizeof p);
    int af = strchr(from.addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, from.addr, p.src) != 1 || inet_pton(af, to.addr, p.dst) != 1)
        abort();
    p.family = af == AF_INET ? 4 : 6;
    p.ts_us = ts_us;
    p.sport = from.port;
    p.dport = to.port;
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    p.window = 65535;
    p.wscale = DEC_NO_WSCALE;
    p.payload = payload;
    p.payload_len = len;
    p.l3_len = (p.family == 4 ? 40 : 60) + (size_t)len;
    p.wire_len = 14 + (uint32_t)p.l3_len;
    return p;
}

#endif
