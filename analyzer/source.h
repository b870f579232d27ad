/* source.h: where packets come from. One interface, so that the pipeline reads a
 * file and a live interface alike; each implementation has its own header
 * (source_file.h: pcap and pcapng files; a live one for `expectscope live`).
 *
 * Owns: nothing itself. An implementation owns its handles (libpcap, files), the
 *   packet and drop counters, and whether an input ended in a truncated record.
 * Does not own: the packet bytes beyond one source_next() call.
 * Called by: the pipeline, one source_next() per packet, and the command layer for
 *   progress and its messages. Calls: its implementation only.
 */
#ifndef ES_SOURCE_H
#define ES_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One captured packet. data is borrowed until the next source_next() or source_free(). */
struct source_packet {
    uint64_t ts_us;     /* capture time, microseconds since the Unix epoch */
    uint32_t caplen;    /* bytes present at data */
    uint32_t wire_len;  /* original length on the wire */
    int linktype;       /* DLT_ value of the input the packet came from */
    const uint8_t *data;
    const char *input;  /* the file or interface it came from; borrowed */
};

/* Counters over the source's life. */
struct source_stats {
    uint64_t packets;      /* records read */
    uint64_t bytes;        /* sum of wire lengths */
    uint64_t cut_packets;  /* records shorter than their wire length (snaplen) */
    uint64_t kernel_drops; /* live capture: dropped by the kernel (pcap_stats ps_drop) */
    uint64_t if_drops;     /* live capture: dropped by the interface (ps_ifdrop) */
    uint64_t unread;       /* live capture: still queued in the kernel when the capture
                              stopped and not read before its deadline; counted in
                              kernel_drops too */
    uint32_t files;        /* inputs opened */
    uint32_t peak_open;    /* file source: most inputs open at once (lazy opening keeps
                              this at 1 or 2 for rotated files); 0 for a live one */
    bool truncated;        /* some input ended inside a record, or its compressed data
                              broke */
};

/* One input of a source, and what identifies it, so that a database can tell a capture
 * it already holds. A live source has one (its interface) without a fingerprint. */
struct source_input {
    const char *path;          /* as given ("-" for standard input); borrowed */
    const char *compression;   /* "none", "gzip", "xz" or "zstd" */
    int linktype;              /* DLT_ value */
    uint64_t size;             /* bytes as stored (compressed); 0 for a pipe */
    uint64_t first_packet_us;  /* capture time of its first record; 0 when it has none */
    uint64_t head_hash;        /* 64-bit FNV-1a of its first SOURCE_HEAD_BYTES bytes,
                                  decompressed (the capture as libpcap reads it) */
    uint32_t head_bytes;       /* how many bytes head_hash covers (fewer for a short one) */
    uint64_t packets;          /* records read from it so far */
    int snaplen;               /* the snap length its header (or first IDB) declares, or
                                  the live capture's; 0 when unknown */
    bool undecodable;          /* one of several inputs whose link type decode.h does not
                                  know: read, merged, its packets counted undecodable */
    const char *link_name;     /* libpcap's name of linktype (static), NULL if none */
};

enum source_event {
    SOURCE_PACKET,    /* *pkt is filled in */
    SOURCE_END,       /* no packet will come any more (every input read, or stopped) */
    SOURCE_TIMEOUT,   /* live: no packet within the read timeout; call again */
    SOURCE_TRUNCATED, /* an input ended inside a record (or its compressed data broke);
                         err says which; the next call goes on with the other inputs */
    SOURCE_ERROR,     /* a read error; err says what, naming the input; the run stops */
};

struct source;

/* What an implementation provides. */
struct source_ops {
    enum source_event (*next)(struct source *s, struct source_packet *pkt, char *err,
                              size_t err_len);
    /* bytes read so far and in all (0 when unknown, as for a live source) */
    void (*progress)(const struct source *s, uint64_t *done, uint64_t *total);
    /* the counters; a live source refreshes its drop counters here */
    const struct source_stats *(*stats)(struct source *s);
    /* its inputs in the order given; NULL when it has none to tell (optional) */
    const struct source_input *(*inputs)(const struct source *s, int *n);
    void (*free)(struct source *s);
};

/* The part every implementation starts with. */
struct source {
    const struct source_ops *ops;
    const char *name; /* what runs.source records: the inputs space-separated, or the
                         interface; owned by the implementation */
    bool live;        /* packets arrive in real time (wall-clock timers apply) */
};

/* Next packet, or an event. */
static inline enum source_event source_next(struct source *s, struct source_packet *pkt,
                                            char *err, size_t err_len)
{
    return s->ops->next(s, pkt, err, err_len);
}

/* Bytes of input read so far and in total, for a progress bar. */
static inline void source_progress(const struct source *s, uint64_t *done, uint64_t *total)
{
    s->ops->progress(s, done, total);
}

static inline const struct source_stats *source_stats(struct source *s)
{
    return s->ops->stats(s);
}

/* The source's inputs, n of them (0 and NULL when it tells none). Valid for the
 * source's life; their packet counts move as it is read. */
static inline const struct source_input *source_inputs(const struct source *s, int *n)
{
    *n = 0;
    return s->ops->inputs ? s->ops->inputs(s, n) : NULL;
}

static inline bool source_is_live(const struct source *s)
{
    return s->live;
}

static inline const char *source_name(const struct source *s)
{
    return s->name;
}

/* Close and free; NULL is a no-op. */
static inline void source_free(struct source *s)
{
    if (s)
        s->ops->free(s);
}

#endif
