/* h1_start.c: see h1_start.h. */
#include "h1_start.h"

#include <string.h>

bool h1_is_request_line(const uint8_t *p, size_t n)
{
    /* method: a token of capitals (RFC 9110 9.1 methods are case-sensitive) */
    size_t i = 0;
    while (i < n && i < 24 && ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' || p[i] == '_'))
        i++;
    if (i == 0 || i == 24 || (i < n && p[i] != ' '))
        return false;
    if (i == n)
        return true;
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
            return false;
        }
    }
    if (i == n)
        return true; /* the line goes on past what we have */
    size_t end = i > target && p[i - 1] == '\r' ? i - 1 : i;
    if (end == target || p[target] == ' ')
        return false;
    if (spaces == 0)
        return true; /* no version: HTTP/0.9 style, or a request servers answer 400 */
    static const char v[] = "HTTP/1.";
    size_t vlen = end - (last_space + 1);
    return vlen == 8 && memcmp(p + last_space + 1, v, 7) == 0 && p[end - 1] >= '0' &&
           p[end - 1] <= '9';
}

bool h1_is_status_start(const uint8_t *p, size_t n)
{
    return memcmp(p, "HTTP/1.", n < 7 ? n : 7) == 0;
}

size_t h1_find_start(bool request, const uint8_t *p, size_t n, bool at_line_start)
{
    for (size_t i = 0; i < n; i++) {
        bool line_start = i == 0 ? at_line_start : p[i - 1] == '\n';
        if (line_start && (request ? h1_is_request_line(p + i, n - i)
                                   : h1_is_status_start(p + i, n - i)))
            return i;
    }
    return n;
}
