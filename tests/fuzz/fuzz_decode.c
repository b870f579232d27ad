/* fuzz_decode.c: dec_packet() on hostile frames of every link type it supports.
 *
 * Input: byte 0 picks the link type (an index into the supported list; values past it
 * give an unsupported type), byte 1 how many bytes the wire had beyond the capture,
 * the rest is the frame. Each frame is decoded twice: whole (wire_len == caplen), and
 * as if the snaplen had cut it (wire_len > caplen), which is what payload_cut is for.
 *
 * Beyond what ASan sees, it checks the decoder's promises: every pointer of a DEC_TCP
 * result lies inside the captured bytes, and every payload byte is read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Link types are found through the public API, so a new one is fuzzed without an
 * edit here. DLT_ values of interest are all below 300. */
enum { MAX_LINK_SCAN = 300, MAX_LINKS = 32 };

static int links[MAX_LINKS];
static int n_links = -1;

static void find_links(void)
{
    n_links = 0;
    for (int lt = 0; lt < MAX_LINK_SCAN && n_links < MAX_LINKS; lt++)
        if (dec_link_supported(lt))
            links[n_links++] = lt;
}

/* A broken promise is a bug even when nothing was read out of bounds: abort so that
 * libFuzzer (or the replayer) reports it with the input. */
static void require(int ok)
{
    if (!ok)
        abort();
}

static int inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
    return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

static volatile uint32_t sink_sum; /* keeps the payload reads from being optimised out */

static void decode_once(int linktype, const uint8_t *frame, uint32_t caplen,
                        uint32_t wire_len)
{
    struct dec_pkt p;
    memset(&p, 0xa5, sizeof p); /* garbage in, to catch fields left unset */
    enum dec_result r = dec_packet(linktype, frame, caplen, wire_len, &p);
    require((unsigned)r < DEC_RESULT_COUNT);
    require(dec_result_name(r) != NULL);
    if (r != DEC_TCP)
        return;
    require(p.family == 4 || p.family == 6);
    require(inside(frame, caplen, p.l3, p.l3_len));
    require(p.payload_len == 0 || inside(frame, caplen, p.payload, p.payload_len));
    require(p.payload_len == 0 || (p.payload >= p.l3 &&
                                   inside(p.l3, p.l3_len, p.payload, p.payload_len)));
    /* bytes cut by the snaplen exist only when the wire was longer than the capture */
    require(p.payload_cut == 0 || (wire_len > caplen && p.payload_cut <= wire_len - caplen));
    uint32_t sum = 0;
    for (uint32_t i = 0; i < p.payload_len; i++)
        sum += p.payload[i];
    sink_sum += sum + p.sport + p.dport + p.seq + p.ack + p.tcp_flags;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (n_links < 0)
        find_links();
    if (size < 2 || size - 2 > UINT32_MAX / 2)
        return 0;
    int linktype = data[0] < n_links ? links[data[0]] : 1000 + data[0];
    uint32_t extra = data[1] ? data[1] : 1;
    /* A copy of exactly the frame's size, so that a read one past it is caught. */
    uint32_t caplen = (uint32_t)(size - 2);
    uint8_t *frame = malloc(caplen ? caplen : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 2, caplen);
    decode_once(linktype, frame, caplen, caplen);
    decode_once(linktype, frame, caplen, caplen + extra * 97u);
    free(frame);
    return 0;
}
