/* sniff.h: does this look like HTTP/1.x? The one answer every layer uses: the flow
 * table's role guess for a connection picked up mid-stream, classification of HTTP on
 * any port, and the dissector telling a request line from body bytes and finding the
 * next message after lost bytes. Small parsers in pico's shape: bytes in, an answer
 * out, nothing kept, nothing allocated.
 *
 * Owns: nothing. Called by: flow.c, classify.c (analyzer) and h1.c (dissectors).
 *
 * Answers come in three strengths, because the callers need different certainty:
 * the dissector, already inside an HTTP stream, accepts anything that could still
 * become a message (SNIFF_MAYBE); the flow table and the classifier decide what a
 * whole connection is from its first bytes and want SNIFF_YES.
 */
#ifndef ES_SNIFF_H
#define ES_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sniff {
    SNIFF_NO,    /* cannot be the start of such a line */
    SNIFF_MAYBE, /* consistent so far, or malformed in a way servers still answer */
    SNIFF_YES,   /* a start line beyond reasonable doubt */
};

/* A request line: a method token of capitals, a space, and printable bytes up to LF.
 * SNIFF_YES: the line ends with " HTTP/1." and a digit; or its method is a
 *   registered one (GET, POST, PROPFIND, ...) and the line is cut short by n or has
 *   no version at all (HTTP/0.9 style, or a request servers answer with 400).
 * SNIFF_MAYBE: a prefix of a token (n ends inside it); an unregistered method on a
 *   line cut short or without a version.
 * SNIFF_NO: anything else (lower case, two spaces, control bytes, a wrong version). */
enum sniff sniff_request_line(const uint8_t *p, size_t n);

/* A status line: SNIFF_YES when p starts with "HTTP/1.", SNIFF_MAYBE when the n < 7
 * bytes present are a prefix of it, SNIFF_NO otherwise. */
enum sniff sniff_status_line(const uint8_t *p, size_t n);

/* What a connection's payload starts with, for deciding roles and protocol:
 * 1 a request line, 0 a status line (each SNIFF_YES), -1 neither. */
int sniff_http_start(const uint8_t *p, size_t n);

/* The offset of the first line start (offset 0 counts when at_line_start) where a
 * request line (request) or a status line (!request) may begin (not SNIFF_NO); n
 * when there is none. */
size_t sniff_find_start(bool request, const uint8_t *p, size_t n, bool at_line_start);

#endif
