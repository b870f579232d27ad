/* fuzz_pcap.c: the file source on a hostile file, and every packet it returns
 * through the whole pipeline exactly as `analyze` runs it (analyzer/pipeline): decode,
 * flow table, reassembly, the HTTP/1 dissector and the verdict engine. Classification
 * is left out (it is nDPI's code, not ours), and so is storage (SQLite's).
 *
 * Input: the whole file (pcap, pcapng, or either compressed with gzip, xz or zstd: the
 * file source sniffs the magic). It is handed to source_file_open() as /proc/self/fd/N of a
 * memfd, so no file is left behind and nothing depends on the working directory.
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

#include "pipeline.h"
#include "source_file.h"

static void require(bool ok)
{
    if (!ok)
        abort();
}

struct seen {
    uint64_t exchanges, flows, flow_exchanges;
};

static void on_exchange(void *ctx, const struct flow *f, const struct exchange *x)
{
    struct seen *s = ctx;
    (void)f;
    require((unsigned)x->verdict < V_COUNT);
    /* no verdict exactly for a response without request, flagged orphan_response */
    require((x->verdict == V_NONE) == !x->has_request);
    require(x->has_request == !(x->flags & XF_ORPHAN_RESPONSE));
    s->exchanges++;
}

static void on_flow(void *ctx, const struct flow_result *r)
{
    struct seen *s = ctx;
    /* no exchange: no verdict; only orphan responses: none either */
    require(r->v.exchanges > 0 || r->v.verdict == V_NONE);
    s->flows++;
    s->flow_exchanges += r->v.exchanges;
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
    struct source_file_config sfc = { paths, 1, NULL };
    enum source_file_error why;
    struct source *src = source_file_open(&sfc, err, sizeof err, &why);
    if (!src) {
        require(err[0] != '\0'); /* a refusal always says why */
        close(fd);
        return 0;
    }

    struct seen seen = { 0, 0, 0 };
    struct pipeline_observer obs = { .exchange = on_exchange, .flow = on_flow, .ctx = &seen };
    struct pipeline_config cfg;
    pipeline_config_defaults(&cfg);
    cfg.flow.max_flows = 16; /* small: eviction is reached */
    cfg.ooo_cap_bytes = 65536;
    cfg.classify = false;
    cfg.observer = &obs;
    struct pipeline *p = pipeline_new(&cfg, src, err, sizeof err);
    require(p != NULL);
    for (;;) {
        enum pipeline_state st = pipeline_feed(p, 1024, err, sizeof err);
        if (st == PIPELINE_MORE || st == PIPELINE_WARNING)
            continue;
        require(st == PIPELINE_END || st == PIPELINE_ERROR);
        require(st == PIPELINE_END || err[0] != '\0');
        break;
    }
    require(pipeline_drain(p, err, sizeof err) == 0);
    const struct pipeline_totals *t = pipeline_totals(p);
    require(t->source.cut_packets <= t->source.packets);
    require(t->reasm.ooo_bytes_now == 0);
    require(t->http.exchanges == seen.exchanges && seen.exchanges == seen.flow_exchanges);
    require(t->flows.created == seen.flows);
    pipeline_free(p);
    source_free(src);
    close(fd);
    return 0;
}
