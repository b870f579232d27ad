/* h1_start.h: where HTTP/1.x messages start. Small parsers in pico's shape: bytes in,
 * an answer out, nothing kept, nothing allocated.
 *
 * Owns: nothing. Called by: h1.c, to tell a request line from body bytes (the retry
 *   after an early answer) and to find the next message after lost or rejected bytes.
 */
#ifndef ES_H1_START_H
#define ES_H1_START_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when bytes start with an HTTP/1.x request line: a method token, a space, and
 * a line of printable bytes that ends with " HTTP/1." and a digit, or that holds no
 * further space (no version: malformed, but servers answer it). When the line is cut
 * short by n, the part present must fit. */
bool h1_is_request_line(const uint8_t *p, size_t n);

/* True when bytes start with "HTTP/1." (or a prefix of it, when n is short). */
bool h1_is_status_start(const uint8_t *p, size_t n);

/* The offset of the first line start (offset 0 counts when at_line_start) where a
 * request line (request) or a status line (!request) begins; n when there is none. */
size_t h1_find_start(bool request, const uint8_t *p, size_t n, bool at_line_start);

#endif
