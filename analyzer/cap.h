/* cap.h: capture sources. Reads pcap and pcapng files, several in the order given.
 *
 * Owns: the pcap handle, the list of files, packet and byte counters, and whether an
 *   input ended in a truncated record.
 * Does not own: the packet bytes beyond one cap_next() call (libpcap's buffer).
 * Called by: the driver. Calls: libpcap only.
 */
#ifndef ES_CAP_H
#define ES_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cap;

/* One captured packet. data is borrowed until the next cap_next() or cap_free(). */
struct cap_packet {
    uint64_t ts_us;     /* capture time, microseconds since the Unix epoch */
    uint32_t caplen;    /* bytes present at data */
    uint32_t wire_len;  /* original length on the wire */
    int linktype;       /* DLT_ value of the file the packet came from */
    const uint8_t *data;
    const char *source; /* the file it came from; borrowed from cap_open_files() */
};

/* Run totals, read at the end of a run. */
struct cap_stats {
    uint64_t packets;      /* records read */
    uint64_t bytes;        /* sum of wire lengths */
    uint64_t cut_packets;  /* records shorter than their wire length (snaplen) */
    uint64_t kernel_drops; /* live capture only */
    uint64_t if_drops;     /* live capture only */
    uint32_t files;        /* inputs opened */
    bool truncated;        /* some input ended inside a record */
};

enum cap_event {
    CAP_PACKET,    /* *pkt is filled in */
    CAP_END,       /* every input has been read */
    CAP_TRUNCATED, /* the current input ended inside a record; err says which; the
                      next call goes on with the next input */
    CAP_ERROR,     /* a read error; err says what; the run should stop */
};

/* Check that every path opens as a pcap or pcapng file of a supported link type, then
 * prepare to read them in order. On failure returns NULL and writes a one-line reason
 * naming the file to err. `paths` is borrowed for the life of the handle. */
struct cap *cap_open_files(const char *const *paths, int n_paths, char *err, size_t err_len);

/* Next packet, or an event. */
enum cap_event cap_next(struct cap *c, struct cap_packet *pkt, char *err, size_t err_len);

/* Bytes of input read so far and in total, for a progress bar. */
void cap_progress(const struct cap *c, uint64_t *done, uint64_t *total);

const struct cap_stats *cap_stats(const struct cap *c);

/* Close the current input and free the handle; NULL is a no-op. */
void cap_free(struct cap *c);

#endif
