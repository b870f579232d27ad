/* sniff.c: see sniff.h. */
#include "sniff.h"

#include <string.h>

/* Methods of RFC 9110 9.3, PATCH (RFC 5789) and WebDAV (RFC 4918): seeing one of these
 * and a space is enough to call a connection HTTP even when the line goes on past
 * the first segment (long URIs, short snap lengths). */
static bool registered_method(const uint8_t *p, size_t n)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH",
                                           "PROPFIND", "PROPPATCH", "MKCOL", "COPY",
                                           "MOVE", "LOCK", "UNLOCK" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i]) == n && memcmp(p, methods[i], n) == 0)
            return true;
    return false;
}

enum sniff sniff_request_line(const uint8_t *p, size_t n)
{
    /* method: a token of capitals (RFC 9110 9.1 methods are case-sensitive) */
    size_t i = 0;
    while (i < n && i < 24 && ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' || p[i] == '_'))
        i++;
    if (i == 0 || i == 24)
        return SNIFF_NO;
    if (i == n)
        return SNIFF_MAYBE;
    if (p[i] != ' ')
        return SNIFF_NO;
    size_t method_len = i;
    size_t target = ++i;
    /* The rest of the line: printable bytes up to LF. A target with spaces in it is
     * malformed, but scanners send them and servers answer 400, so the line counts
     * as long as it ends with the version. */
    size_t spaces = 0, last_space = 0;
    for (; i < n && p[i] != '\n'; i++) {
        if (p[i] == ' ') {
            spaces++;
            last_space = i;
        } else if ((p[i] < 0x20 && p[i] != '\r' && p[i] != '\t') || p[i] == 0x7f) {
            return SNIFF_NO;
        }
    }
    if (i == n) /* the line goes on past what we have */
        return registered_method(p, method_len) ? SNIFF_YES : SNIFF_MAYBE;
    size_t end = i > target && p[i - 1] == '\r' ? i - 1 : i;
    if (end == target || p[target] == ' ')
        return SNIFF_NO;
    if (spaces == 0) /* no version: HTTP/0.9 style, or a request servers answer 400 */
        return registered_method(p, method_len) ? SNIFF_YES : SNIFF_MAYBE;
    static const char v[] = "HTTP/1.";
    size_t vlen = end - (last_space + 1);
    bool versioned = vlen == 8 && memcmp(p + last_space + 1, v, 7) == 0 &&
                     p[end - 1] >= '0' && p[end - 1] <= '9';
    return versioned ? SNIFF_YES : SNIFF_NO;
}

enum sniff sniff_status_line(const uint8_t *p, size_t n)
{
    if (memcmp(p, "HTTP/1.", n < 7 ? n : 7) != 0)
        return SNIFF_NO;
    return n >= 7 ? SNIFF_YES : SNIFF_MAYBE;
}

int sniff_http_start(const uint8_t *p, size_t n)
{
    if (sniff_status_line(p, n) == SNIFF_YES)
        return 0;
    if (sniff_request_line(p, n) == SNIFF_YES)
        return 1;
    return -1;
}

size_t sniff_find_start(bool request, const uint8_t *p, size_t n, bool at_line_start)
{
    for (size_t i = 0; i < n; i++) {
        bool line_start = i == 0 ? at_line_start : p[i - 1] == '\n';
        if (line_start && (request ? sniff_request_line(p + i, n - i)
                                   : sniff_status_line(p + i, n - i)) != SNIFF_NO)
            return i;
    }
    return n;
}
