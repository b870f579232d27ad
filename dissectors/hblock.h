/* hblock.h: reading fields out of a raw HTTP/1 header block as captured (the start
 * line, then "Name: value" lines, each ended by CRLF or LF). Small parsers in pico's
 * shape: slices in, slices out, nothing kept, nothing allocated.
 *
 * Owns: nothing. Called by: the fingerprint table (fingerprint.c) and the path linker
 *   (hops.c), on the blocks the dissector keeps in each exchange.
 *
 * The blocks are capped copies (H1_MAX_HEADER_BYTES): a field past the cap is not seen.
 * Obsolete line folding is not joined: a continuation line is skipped.
 */
#ifndef ES_HBLOCK_H
#define ES_HBLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Iterates the fields of a block. */
struct hblock_iter {
    const char *p, *end;
};

void hblock_iter_init(struct hblock_iter *it, const char *block, size_t n);

/* The next field: its name and its value (trimmed of spaces and tabs). False at the end
 * of the block. */
bool hblock_next(struct hblock_iter *it, const char **name, size_t *name_len,
                 const char **value, size_t *value_len);

/* Is the field name (n bytes) `want`, ASCII case-insensitive? */
bool hblock_name_is(const char *name, size_t n, const char *want);

/* The first field called `name` (ASCII case-insensitive): true with its value. */
bool hblock_find(const char *block, size_t n, const char *name, const char **value,
                 size_t *value_len);

/* Several blocks one after the other, each ended by its empty line (the interim
 * responses an exchange keeps): the first field called `name` in any of them, true
 * with its value and the start line of its block (*start, *start_len: without the
 * line break). */
bool hblock_find_any(const char *blocks, size_t n, const char *name, const char **value,
                     size_t *value_len, const char **start, size_t *start_len);

/* True when the value holds `needle` (ASCII case-insensitive). */
bool hblock_contains(const char *value, size_t n, const char *needle);

#endif
