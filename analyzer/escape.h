/* escape.h: captured bytes made safe for one output format: TSV and terminal text, a JSON
 * string, a CSV field, HTML text.
 *
 * Owns: nothing. The bytes are borrowed for the call; nothing is allocated.
 * Called by: the command layer (analyze --list, report tables) and web-export.
 * Calls: stdio only.
 *
 * Every format shows the same "display text". The captured bytes are read as UTF-8
 * (RFC 3629: overlong forms, surrogates U+D800-U+DFFF, code points above U+10FFFF and
 * truncated sequences are invalid). Each byte that is
 *   - a C0 control (0x00-0x1F) or DEL (0x7F),
 *   - not part of a valid UTF-8 sequence,
 *   - part of a UTF-8-encoded C1 control U+0080-U+009F (both bytes: C2 80 to C2 9F), or
 *   - a backslash (0x5C)
 * is shown as the four characters \xNN, in lowercase hex. All other valid UTF-8 is shown
 * unchanged. So the display text never holds a tab, newline, CR or terminal escape
 * sequence, it is valid UTF-8, and \xNN is unambiguous: a real backslash is \x5c, so the
 * captured bytes can be recovered exactly. Each writer below adds only what its own format
 * needs on top of the display text.
 *
 * Every function takes the bytes as (p, n); p may be NULL when n is 0. Nothing is read
 * outside p[0, n), and the bytes need no NUL terminator. The writers return nothing: a
 * write error stays in the stream's error flag for the caller's ferror() or fclose().
 */
#ifndef ES_ESCAPE_H
#define ES_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* TSV and terminal text: the display text, nothing more. It never holds a tab or a
 * newline, so it can be one TSV field as it is. */
void esc_tsv(FILE *out, const void *p, size_t n);

/* The display text into buf, cut to at most max_cols display columns: each \xNN escape
 * counts 4 columns, each ASCII character 1 and each multi-byte UTF-8 code point 1 (wide
 * East Asian characters and emoji too). When input remains after the cut, "..." is
 * appended; the three dots are not counted in max_cols. The cut is always at a whole
 * escape or character.
 * buf is always NUL-terminated (unless buf_len is 0: then nothing is written). When buf_len
 * is too small for the text, the text is cut earlier, still at a whole escape or character,
 * and "..." is appended; if buf_len is under 4, only the dots that fit are written.
 * Returns buf. */
char *esc_tsv_cut(char *buf, size_t buf_len, const void *p, size_t n, size_t max_cols);

/* A JSON string value (RFC 8259), quotes included: the display text with " written as \"
 * and the backslash of every \xNN written as \\, so the JSON string decodes to the display
 * text. The output is always valid JSON and valid UTF-8. */
void esc_json(FILE *out, const void *p, size_t n);

/* One CSV field (RFC 4180), always quoted: the display text with " doubled. It never holds
 * a raw CR or LF, so one record stays one line. Formula guard (OWASP CSV injection): when
 * the display text starts with =, +, - or @, a single quote ' is put before it, inside
 * the quotes. */
void esc_csv(FILE *out, const void *p, size_t n);

/* HTML text, safe in element content and in a quoted attribute value (either quote): the
 * display text with & < > " ' written as &amp; &lt; &gt; &quot; &#39;. Not safe inside
 * <script> or <style>, nor in an unquoted attribute or a URL attribute (javascript:). */
void esc_html(FILE *out, const void *p, size_t n);

#endif
