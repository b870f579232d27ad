/* fuzz_pcap.c: the capture reader on a hostile file, and every packet it returns
 * through the rest of the pipeline as analyzer/run.c runs it: decode, flow table,
 * reassembly, the HTTP/1 dissector and the verdict engine (classification is left
 * out: it is nDPI's code, not ours).
 *
 * Input: the whole file (pcap, pcapng, or either gzip-compressed: cap.c sniffs the
 * gzip magic). It is handed to cap_open_files() as /proc/self/fd/N of a memfd, so no
 * file is left behind and nothing depends on the working directory.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cap.h"
#include "decode.h"
#include "flow.h"
#include "h1.h"
#include "reasm.h"
#include "verdict.h"

static void require(bool ok)
{
    if (!ok)
        abort();
}

struct pipe {
    struct flow_table *ft;
    struct reasm *ra;
    struct h1 *h1;
    struct verdict_engine *v;
};

static void on_release(void *ctx, struct flow *f)
{
    struct pipe *p = ctx;
    struct reasm_counters rc;
    reasm_release(p->ra, f, (enum end_reason)f->end_reason, f->last_seen_us, &rc);
}

static void judge(void *ctx, const struct flow *f, struct exchange *x)
{
    struct pipe *p = ctx;
    verdict_judge(p->v, f, x);
    require((unsigned)x->verdict < V_COUNT);
}

static volatile uint64_t sink_sum;

static void packet(struct pipe *pp, const struct cap_packet *cp)
{
    struct dec_pkt p;
    enum dec_result dr = dec_packet(cp->linktype, cp->data, cp->caplen, cp->wire_len, &p);
    require((unsigned)dr < DEC_RESULT_COUNT);
    if (dr != DEC_TCP)
        return;
    p.ts_us = cp->ts_us;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p.payload_len; i++)
        sum += p.payload[i];
    sink_sum += sum;
    struct flow_hit hit = flow_table_packet(pp->ft, &p);
    if (hit.after_end)
        return;
    reasm_segment(pp->ra, hit.f, hit.dir, &p);
    if (hit.ended)
        reasm_close(pp->ra, hit.f, (enum end_reason)hit.f->end_reason, p.ts_us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_pcap", MFD_CLOEXEC);
    require(fd >= 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        require(w > 0);
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const char *paths[1] = { path };
    char err[512];
    struct cap *cap = cap_open_files(paths, 1, err, sizeof err);
    if (!cap) {
        require(err[0] != '\0'); /* a refusal always says why */
        close(fd);
        return 0;
    }

    struct pipe pp;
    memset(&pp, 0, sizeof pp);
    struct flow_config fc = { 16, 0, 0 };
    pp.ft = flow_table_new(&fc, on_release, &pp);
    require(pp.ft != NULL);
    static const struct verdict_config vc = { VERDICT_DEFAULT_NO_WAIT_US,
                                             VERDICT_DEFAULT_RETRY_WINDOW_US,
                                             VERDICT_DEFAULT_STALL_US };
    pp.v = verdict_new(&vc, flow_table_capacity(pp.ft));
    struct exchange_sink sink = { judge, &pp };
    pp.h1 = h1_new(&sink);
    pp.ra = reasm_new(flow_table_capacity(pp.ft), 65536, h1_sink_ops(), pp.h1);
    require(pp.v && pp.h1 && pp.ra);

    for (;;) {
        struct cap_packet cp;
        enum cap_event ev = cap_next(cap, &cp, err, sizeof err);
        if (ev == CAP_PACKET) {
            require(cp.data != NULL || cp.caplen == 0);
            packet(&pp, &cp);
            continue;
        }
        if (ev == CAP_TRUNCATED)
            continue;
        require(ev == CAP_END || ev == CAP_ERROR);
        break;
    }
    const struct cap_stats *cs = cap_stats(cap);
    require(cs->cut_packets <= cs->packets);
    flow_table_flush(pp.ft);
    require(reasm_stats(pp.ra)->ooo_bytes_now == 0);

    reasm_free(pp.ra);
    flow_table_free(pp.ft);
    h1_free(pp.h1);
    verdict_free(pp.v);
    cap_free(cap);
    close(fd);
    return 0;
}
