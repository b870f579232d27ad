/* evidence.h: the packets of problem flows, kept as pcap files for a person to open
 * (`expectscope live --save-pcap DIR`).
 *
 * Owns: a copy of the packets of every open flow, each in a buffer of its own indexed by
 *   flow->slot (pcap records, in arrival order), the memory budget over all of them, the
 *   index of the evidence files in DIR (from this run and earlier ones) with the
 *   directory's file and byte bounds, and the counters of struct evidence_stats.
 * Does not own: the flows (flow.h), the packets (borrowed from the source for one call)
 *   or the verdicts (the verdict engine decides them; the caller hands them in).
 * Called by: the pipeline, once per TCP packet of a flow it still looks at, when it
 *   detaches a flow (not HTTP) and when a flow leaves the table. Calls: libpcap's
 *   savefile writer, the file system.
 * Single-threaded: one evidence store belongs to one pipeline.
 *
 * Holding. Each flow's buffer is allocated on its first packet and doubles as it grows
 *   (no allocation per packet beyond that growth), up to EVIDENCE_MAX_FLOW_BYTES of pcap
 *   records (16-byte record header plus the captured bytes, at most EVIDENCE_SNAPLEN of
 *   them). Over all open flows the buffers take at most hold_bytes (their allocated
 *   size is what counts). A flow's file is always the first packets of the flow without
 *   a hole: once one packet is not kept, none after it is.
 *   - per-flow cap hit: the flow is counted in flows_cut, its later packets in
 *     packets_cut; the file holds the head (handshake, request headers, the 100 or 417).
 *   - hold budget full, or no memory (alloc_failures too): the packet is counted in
 *     packets_not_held and the flow holds nothing more.
 *   - a packet of another link type than the flow's first one (inputs merged from
 *     different interfaces): counted in packets_other_link and skipped, since a classic
 *     pcap file has one link type.
 * Writing. When a flow ends with a verdict that evidence_verdict_saved() accepts (every
 *   one but plain, continue_ok and none), its packets go to DIR as one classic pcap file
 *   (microsecond timestamps, the flow's link type, snaplen EVIDENCE_SNAPLEN) named
 *       YYYYmmddTHHMMSSZ_<client>_<cport>_<server>_<sport>_<verdict>.pcap
 *   from the flow's first packet time in UTC; IPv6 addresses have ':' replaced by '.'
 *   (2001.db8..1). A name already taken gets "-2", "-3", ... before ".pcap". The file is
 *   written under a temporary name (".evidence-PID-N.tmp") and renamed, so a reader
 *   never sees half a file. A write error (disk full, file size limit) is counted in
 *   write_errors, the temporary file is removed and the analysis goes on. Writes are not
 *   fsync'd: evidence is not worth stalling the capture thread for.
 * Directory bounds. DIR keeps at most max_files evidence files and max_bytes of them
 *   (file sizes), the oldest removed first: by the timestamp in the name, then by name
 *   (the names start with a fixed-width timestamp, so this is name order). Files
 *   already in DIR whose names match the pattern above (a verdict this module saves, a
 *   regular file, not a symbolic link) are counted at evidence_new(), and removed if
 *   they are over the bounds, so a restarted sensor keeps them. Anything else in DIR is
 *   never touched. A finished flow older than every file kept while DIR is full would
 *   be the first to go: it is not written (files_skipped).
 * Memory: 32 bytes per flow slot (calloc'd, so untouched slots cost no page), 168 bytes
 *   per evidence file in DIR, and the held buffers (hold_bytes at most).
 */
#ifndef ES_EVIDENCE_H
#define ES_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "flow.h"
#include "source.h"

/* Every field must be set; evidence_config_defaults() gives the documented defaults. */
struct evidence_config {
    const char *dir;      /* an existing writable directory; borrowed during evidence_new() */
    uint32_t max_files;   /* evidence files kept in dir: 1 .. EVIDENCE_MAX_FILES_MAX */
    uint64_t max_bytes;   /* their total size: at least EVIDENCE_MAX_FILE_BYTES */
    uint64_t hold_bytes;  /* memory held for open flows, over all of them: at least 1 */
};

struct evidence_stats {
    uint64_t files_written;      /* evidence files written by this run */
    uint64_t files_removed;      /* removed by the directory bounds (any run's files) */
    uint64_t files_skipped;      /* not written: older than every file kept, DIR full */
    uint64_t bytes_on_disk;      /* total size of the evidence files in DIR now */
    uint32_t files_on_disk;      /* evidence files in DIR now */
    uint64_t flows_cut;          /* flows that reached EVIDENCE_MAX_FLOW_BYTES */
    uint64_t packets_cut;        /* their packets past it, not kept */
    uint64_t packets_not_held;   /* not kept: hold_bytes was used up, or no memory */
    uint64_t packets_other_link; /* not kept: another link type than the flow's */
    uint64_t alloc_failures;     /* a flow's buffer could not grow (malloc failed) */
    uint64_t write_errors;       /* files that could not be written (nothing left behind) */
    uint64_t remove_errors;      /* old files that could not be removed (forgotten) */
    uint64_t held_bytes_now;     /* memory held for open flows */
    uint64_t held_bytes_peak;
};

/* What became of a flow's packets at evidence_flow_done(). */
enum evidence_done {
    EVIDENCE_NOT_KEPT,     /* nothing to keep: a verdict not saved, or no packet held */
    EVIDENCE_WRITTEN,      /* a file was written (and older ones removed as needed) */
    EVIDENCE_SKIPPED,      /* not written: older than every kept file, DIR full */
    EVIDENCE_WRITE_FAILED, /* counted in write_errors; the temporary file was removed */
};

struct evidence;

/* The defaults of limits.h for dir (borrowed). */
void evidence_config_defaults(struct evidence_config *cfg, const char *dir);

/* Whether a flow with verdict v is saved: every verdict but plain, continue_ok and
 * none (no HTTP). */
bool evidence_verdict_saved(enum verdict v);

/* An evidence store for a flow table of n_slots slots (flow_table_capacity()), writing
 * to cfg->dir. Checks that the directory exists and that a file can be created in it,
 * then counts the evidence files already there and removes the oldest past the bounds.
 * NULL with a one-line reason in err naming the directory ("DIR: No such file or
 * directory", "DIR: not writable: Permission denied", a bound out of range, no
 * memory). */
struct evidence *evidence_new(const struct evidence_config *cfg, uint32_t n_slots,
                              char *err, size_t err_len);

/* Keep a copy of packet pkt (borrowed) of open flow f (borrowed), within the caps above.
 * A flow is known by f->slot and f->id: the first packet of a new id in a slot starts
 * a new buffer (a previous flow's buffer left there is freed). Packets of a dropped flow
 * are ignored. */
void evidence_packet(struct evidence *ev, const struct flow *f,
                     const struct source_packet *pkt);

/* Flow f ends with verdict v (V_NONE for no HTTP): write its packets to DIR when v is
 * saved, then free its buffer either way. Errors are counted, never fatal. */
enum evidence_done evidence_flow_done(struct evidence *ev, const struct flow *f,
                                      enum verdict v);

/* Flow f will not be saved (not HTTP): free its buffer now, and ignore its packets until
 * evidence_flow_done() or a new flow in its slot. */
void evidence_flow_drop(struct evidence *ev, const struct flow *f);

/* The counters; valid until the next call on ev. */
const struct evidence_stats *evidence_stats(const struct evidence *ev);

/* Free every buffer (flows still open are not written) and the index; the files stay.
 * NULL is a no-op. */
void evidence_free(struct evidence *ev);

#endif
