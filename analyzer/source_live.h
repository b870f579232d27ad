/* source_live.h: the packet source for a live interface (a span port, a tap, `any`),
 * through libpcap, with tcpdump's habits: promiscuous unless told not to, a snap length
 * that keeps whole header blocks, a BPF filter, a kernel buffer size, immediate
 * delivery, and a short read timeout so that the pipeline's clock moves on a quiet
 * link.
 *
 * Owns: the libpcap handle of the interface, its compiled filter, the packet counters
 *   and the drop counters read from pcap_stats().
 * Called by: the command layer (`live`), which hands the source to the pipeline.
 *   Calls: libpcap.
 */
#ifndef ES_SOURCE_LIVE_H
#define ES_SOURCE_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

/* Defaults, tcpdump's where it has one. */
#define SOURCE_LIVE_SNAPLEN 262144      /* -s: whole header blocks, whole packets */
#define SOURCE_LIVE_BUFFER_KIB 32768u   /* -B: 32 MiB, for bursts on a busy span port */
#define SOURCE_LIVE_TIMEOUT_MS 100      /* a read returns at least this often */
/* After a wake-up for new packets, wait this long before reading them: a busy link then
 * delivers tens of packets per wake-up instead of one (a context switch per packet
 * capped live below 1 Gbit/s), and an exchange is still stored well within its second. */
#define SOURCE_LIVE_NAP_US 200

struct source_live_config {
    const char *iface;       /* "eth0", "any" */
    int snaplen;             /* bytes kept per packet */
    bool promisc;            /* promiscuous mode (not for "any") */
    uint32_t buffer_kib;     /* kernel buffer */
    const char *filter;      /* BPF expression, or NULL */
};

/* Why source_live_open() failed. */
enum source_live_error {
    SOURCE_LIVE_BAD_INTERFACE, /* no such interface, no permission, cannot activate */
    SOURCE_LIVE_BAD_FILTER,    /* the filter does not compile (a usage error) */
};

/* Open and activate the interface and install the filter. NULL on failure with a
 * one-line reason naming the interface (or the filter) in err and the kind in *why.
 * A libpcap warning (promiscuous mode not supported, ...) is written to warn (empty
 * when none). */
struct source *source_live_open(const struct source_live_config *cfg, char *err,
                                size_t err_len, enum source_live_error *why, char *warn,
                                size_t warn_len);

/* Stop: what the kernel already queued is still read, for at most
 * SOURCE_LIVE_STOP_MS, then the source ends (SOURCE_END) and its counters are read one
 * last time and kept: whoever asks afterwards (the run row, the metrics, the summary
 * line) gets the same numbers. Packets left queued are counted as kernel drops
 * (source_stats.unread), never lost silently. Safe to call more than once. */
#define SOURCE_LIVE_STOP_MS 2000
void source_live_stop(struct source *s);

/* The link type the interface delivers (DLT_ value). */
int source_live_linktype(const struct source *s);

#endif
