/* source_file.h: the packet source for capture files: pcap and pcapng, plain or
 * gzip-compressed, several read one after another in the order given.
 *
 * Owns: the libpcap handle of the open input, its stdio buffer, the list of inputs
 *   and the counters of struct source_stats.
 * Called by: the command layer, which hands the source to the pipeline. Calls:
 *   libpcap and zlib.
 */
#ifndef ES_SOURCE_FILE_H
#define ES_SOURCE_FILE_H

#include "source.h"

/* Check that every path opens as a pcap or pcapng file of a supported link type, then
 * prepare to read them in order. On failure returns NULL and writes a one-line reason
 * naming the file to err. `paths` is borrowed for the life of the source. */
struct source *source_file_open(const char *const *paths, int n_paths, char *err,
                                size_t err_len);

#endif
