/* instream.h: the bytes of one capture input, decompressed: a file or standard input,
 * plain or compressed with gzip, xz or zstd (told by magic bytes, never by name), handed
 * to libpcap as a stdio FILE.
 *
 * Owns: the input's file descriptor (not standard input's: fd 0 stays open), the
 *   compressed bytes read but not yet decoded, the decoder (zlib, liblzma or libzstd),
 *   the head read ahead for a fingerprint, and the reason decoding stopped.
 * Does not own: the FILE it makes (libpcap closes it) or its stdio buffer (the caller's).
 * Called by: the file source (source_file.c), once per input opened. Calls: zlib,
 *   liblzma, libzstd, read(2).
 *
 * Memory is bounded whatever the input: one compressed-input buffer per stream (zstd's
 * recommended ZSTD_DStreamInSize(), 256 KiB for gzip and xz), the decoder's state (gzip:
 * a 32 KiB window; xz: at most SOURCE_DECOMPRESS_MEM_MAX, set as liblzma's memlimit;
 * zstd: windows up to that size, ZSTD_d_windowLogMax), and the head when asked for.
 * Nothing is written to disk. Decoding writes straight into the caller's buffer.
 *
 * A compressed stream that is corrupt, cut short or needs more memory than the limit
 * reads as end of data from that point on; instream_error() then says why, so that the
 * caller reports the input like a truncated capture instead of dropping the run.
 */
#ifndef ES_INSTREAM_H
#define ES_INSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct instream;

/* Open `path` ("-": standard input) and sniff its first bytes. gzip, xz and zstd are
 * decoded; bzip2, lz4, lzip, 7z, zip and compress(1) data are refused with
 * "PATH: unsupported compression (NAME)"; anything else is read as it is. NULL on
 * failure with a one-line reason naming path in err. path is borrowed for the life
 * of the stream. */
struct instream *instream_open(const char *path, char *err, size_t err_len);

/* Read up to max_bytes of decoded data ahead into the head (malloc'd), for a
 * fingerprint; later reads serve it first. Call at most once, before instream_fopen().
 * 0, or -1 with a reason in err (no memory, a read error). A decoding error is not a
 * failure here: the head is short and instream_error() says why. */
int instream_read_head(struct instream *in, size_t max_bytes, char *err, size_t err_len);

/* The head read by instream_read_head(): its bytes and length (NULL, 0 before). Valid
 * until instream_fopen(). */
const uint8_t *instream_head(const struct instream *in, size_t *n_bytes);

/* The decoded input as a FILE for libpcap, with `rbuf` (rbuf_len bytes) as its stdio
 * buffer when rbuf is not NULL; rbuf must outlive the FILE. A plain regular file is
 * rewound and handed to stdio as it is (no copy, no cookie; the FILE takes over its
 * descriptor); anything else goes through fopencookie: the head first, then the rest
 * from the decoder or the pipe. The FILE borrows `in`: call instream_forget_file(),
 * then fclose() it (pcap_close() does), then instream_free(). NULL with a reason in
 * err on failure. Call at most once. */
FILE *instream_fopen(struct instream *in, char *rbuf, size_t rbuf_len, char *err,
                     size_t err_len);

/* The FILE of instream_fopen() is about to be closed: remember how far it read. */
void instream_forget_file(struct instream *in);

/* "none", "gzip", "xz" or "zstd". */
const char *instream_compression(const struct instream *in);

/* Bytes as stored (compressed) for a regular file or standard input redirected from
 * one; 0 for a pipe or a terminal, whose size is unknown. */
uint64_t instream_size(const struct instream *in);

/* Bytes of the stored (compressed) input consumed so far, for progress. */
uint64_t instream_pos(const struct instream *in);

/* Why the decoder stopped early, or NULL: "corrupt gzip data (invalid block type)",
 * "xz data cut short", "zstd data needs more than 256 MiB of memory (...)", ... */
const char *instream_error(const struct instream *in);

/* After a read failed for another reason (libpcap rejected a record), decode on, up to
 * INSTREAM_CHECK_REST_MAX bytes, to find out whether the compressed stream is corrupt
 * (a checksum often says so only at its end): true when instream_error() now says so.
 * False at once for a plain input. The bound keeps a pipe that never ends (a live
 * `tcpdump -w - | gzip`) from holding the run. Use on error paths only, after the FILE
 * has been closed. */
#define INSTREAM_CHECK_REST_MAX (64ull * 1024u * 1024u)
bool instream_check_rest(struct instream *in);

/* Free the stream and close its descriptor (unless the FILE took it over, or it is
 * standard input). NULL is a no-op. */
void instream_free(struct instream *in);

#endif
