/* source_file.h: the packet source for capture files: pcap and pcapng, plain or
 * compressed (gzip, xz, zstd), from files or from standard input ("-"), several merged
 * into one stream in timestamp order (as mergecap and Zeek do), through an optional
 * BPF filter.
 *
 * Owns: the libpcap handle and stdio buffer of every open input, the decompressors,
 *   the head of standard input read ahead for its fingerprint, each input's
 *   fingerprint, the list of inputs and the counters of struct source_stats.
 * Called by: the command layer, which hands the source to the pipeline. Calls:
 *   libpcap, zlib, liblzma, libzstd (through instream.h).
 *
 * Compression is told by magic bytes, for files and standard input alike; it is
 *   streamed (no temporary file), with a decoder memory bound of
 *   SOURCE_DECOMPRESS_MEM_MAX (limits.h: 256 MiB; liblzma's memlimit, zstd's largest
 *   window). bzip2, lz4, lzip, 7z, zip and compress(1) data are refused by name:
 *   "PATH: unsupported compression (bzip2)". Compressed data that breaks mid-file (corrupt,
 *   cut short, over the memory bound) ends that input like a truncated capture.
 * Standard input is read once, never sought: its first SOURCE_HEAD_BYTES (decoded) are
 *   read ahead for the fingerprint and served to libpcap again from memory.
 * Merge: records come out in capture-time order over all inputs, as mergecap does: the
 *   next record is the earliest of every input's next record, a tie going to the input
 *   given first. Records of one input keep their file order, sorted or not (a capture
 *   that goes back in time is passed on as it is, not reordered).
 * Lazy opening: every input is opened, checked, fingerprinted and closed again at
 *   source_file_open() (standard input stays open); during the merge an input is opened
 *   only when the merge reaches the time of its first record, and closed at its end.
 *   Rotated files that do not overlap (cap1 cap10 cap2 ...) are then read one at a
 *   time, each with one libpcap handle and one 1 MiB stdio buffer
 *   (source_stats.peak_open says how many were open at once).
 * Filter: compiled with pcap_compile() for each input's link type at
 *   source_file_open(), applied by libpcap (pcap_setfilter()). Records it rejects are
 *   not returned and not counted anywhere: libpcap's offline filter skips them without
 *   a count. The fingerprint does not depend on it.
 * Link types: an input whose link type decode.h does not know is refused when it is the
 *   only one; one of several is read and merged all the same (source_input.undecodable
 *   says so, for a warning), its packets counted as undecodable by the pipeline, so that
 *   one odd file does not stop the analysis of the others. Several inputs of which none
 *   can be decoded are refused.
 * Truncation: an input that ends inside a record (or whose compressed data breaks) gives
 *   SOURCE_TRUNCATED once, with err naming it and the records read from it; the merge
 *   goes on with the other inputs.
 * Progress: source_progress() counts stored (compressed) bytes read over all inputs;
 *   the total is 0 (unknown) when an input is a pipe.
 * The record returned by source_next() stays valid until the next call: the input it
 *   came from is advanced only then.
 */
#ifndef ES_SOURCE_FILE_H
#define ES_SOURCE_FILE_H

#include <stdint.h>

#include "source.h"

/* The first bytes of a capture that its fingerprint hashes. */
#define SOURCE_HEAD_BYTES (1u << 20)

struct source_file_config {
    const char *const *paths; /* "-" is standard input (once at most); borrowed */
    int n_paths;
    const char *filter;       /* a BPF expression (pcap-filter(7)), or NULL */
};

/* Why source_file_open() failed. */
enum source_file_error {
    SOURCE_FILE_BAD_INPUT,  /* an input cannot be read, is not a capture, has a link
                               type we cannot decode, or a compression we cannot read */
    SOURCE_FILE_BAD_FILTER, /* the BPF expression does not compile (a usage error) */
};


/* Open every input, check it (a capture of a link type we decode, readable, the filter
 * compiles for its link type), fingerprint it, and prepare to read all of them merged
 * by timestamp. Standard input is read ahead by up to SOURCE_HEAD_BYTES for its
 * fingerprint. NULL on failure, with a one-line reason naming the input (or the
 * filter) in err and the kind of failure in *why. */
struct source *source_file_open(const struct source_file_config *cfg, char *err,
                                size_t err_len, enum source_file_error *why);

#endif
