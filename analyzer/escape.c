/* escape.c: see escape.h. */
#include "escape.h"

#include <stdint.h>

enum esc_fmt {
    FMT_TSV,  /* display text only */
    FMT_JSON, /* " as \", the backslash of \xNN as \\ */
    FMT_CSV,  /* " doubled */
    FMT_HTML, /* & < > " ' as entities */
};

/* The length of the sequence at s[0, n) that the display text shows unchanged: 1 for
 * printable ASCII other than the backslash, 2 to 4 for a valid UTF-8 encoding of a code
 * point that is not a C1 control. 0 when s[0] must be shown as \xNN.
 * RFC 3629 section 4: the second byte's range depends on the lead byte, which is what
 * rules out overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code
 * points above U+10FFFF (F4 90-BF, F5-FF). A sequence cut short by the end of the input
 * is invalid: its lead byte is escaped here, and its continuation bytes, being no lead
 * byte, on the following calls. */
static size_t shown_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f && c != '\\';
    uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        if (c == 0xc2)
            lo = 0xa0; /* C2 80-9F is U+0080-U+009F, the C1 controls (CSI is C2 9B) */
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0; /* a continuation byte, C0, C1 or F5-FF: never a lead byte */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* The four characters \xNN of one byte, into d. */
static void hex_escape(char d[4], uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    d[0] = '\\';
    d[1] = 'x';
    d[2] = hex[c >> 4];
    d[3] = hex[c & 0x0f];
}

/* fwrite, but never with an empty run. */
static void put(FILE *out, const void *p, size_t n)
{
    if (n)
        fwrite(p, 1, n, out);
}

/* What format f writes for a printable ASCII character, or NULL when it is written as it
 * is. Kept out of the plain-run test in put_display() for every other byte. */
static const char *special(enum esc_fmt f, uint8_t c)
{
    switch (f) {
    case FMT_TSV:
        return NULL;
    case FMT_JSON:
        return c == '"' ? "\\\"" : NULL;
    case FMT_CSV:
        return c == '"' ? "\"\"" : NULL;
    case FMT_HTML:
        switch (c) {
        case '&': return "&amp;";
        case '<': return "&lt;";
        case '>': return "&gt;";
        case '"': return "&quot;";
        case '\'': return "&#39;";
        default: return NULL;
        }
    }
    return NULL;
}

/* The display text of s[0, n) in format f. Bytes shown unchanged are gathered into runs
 * and written with one fwrite each: a large export is mostly plain text. */
static void put_display(FILE *out, const uint8_t *s, size_t n, enum esc_fmt f)
{
    if (n == 0)
        return; /* s may be NULL, and even NULL + 0 is undefined */
    size_t run = 0, i = 0;
    while (i < n) {
        size_t len = shown_len(s + i, n - i);
        const char *sp = len == 1 ? special(f, s[i]) : NULL;
        if (len && !sp) {
            i += len;
            continue;
        }
        put(out, s + run, i - run);
        if (sp) {
            fputs(sp, out);
        } else {
            char e[5];
            e[0] = '\\'; /* JSON: a \\ so that the string decodes to \xNN */
            hex_escape(e + 1, s[i]);
            if (f == FMT_JSON)
                put(out, e, 5);
            else
                put(out, e + 1, 4);
        }
        run = ++i;
    }
    put(out, s + run, n - run);
}

void esc_tsv(FILE *out, const void *p, size_t n)
{
    put_display(out, p, n, FMT_TSV);
}

void esc_json(FILE *out, const void *p, size_t n)
{
    fputc('"', out);
    put_display(out, p, n, FMT_JSON);
    fputc('"', out);
}

void esc_csv(FILE *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    fputc('"', out);
    /* Spreadsheets run a cell starting with one of these as a formula (=HYPERLINK, DDE).
     * Tab and CR, which OWASP lists too, never start the display text: they are \x09
     * and \x0d. The display text starts with s[0] exactly when s[0] is shown unchanged,
     * and these four always are. */
    if (n && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@'))
        fputc('\'', out);
    put_display(out, s, n, FMT_CSV);
    fputc('"', out);
}

void esc_html(FILE *out, const void *p, size_t n)
{
    put_display(out, p, n, FMT_HTML);
}

char *esc_tsv_cut(char *buf, size_t buf_len, const void *p, size_t n, size_t max_cols)
{
    if (buf_len == 0)
        return buf;
    const uint8_t *s = p;
    /* Write whole units (one escape or one character) while they fit in max_cols and in
     * buf with its NUL. keep is the last unit boundary that also leaves room for "...":
     * if the input does not all fit, the text goes back to it. A unit that fits only
     * without the dots is written anyway, in case it is the last one. */
    size_t k = 0, keep = 0, cols = 0, i = 0;
    while (i < n) {
        size_t len = shown_len(s + i, n - i);
        size_t bytes = len ? len : 4, w = len ? 1 : 4;
        if (cols + w > max_cols || bytes > buf_len - 1 - k)
            break;
        if (len)
            for (size_t j = 0; j < len; j++)
                buf[k + j] = (char)s[i + j];
        else
            hex_escape(buf + k, s[i]);
        k += bytes;
        cols += w;
        i += len ? len : 1;
        if (k + 3 < buf_len)
            keep = k;
    }
    if (i < n) {
        k = keep;
        for (int d = 0; d < 3 && k < buf_len - 1; d++)
            buf[k++] = '.';
    }
    buf[k] = '\0';
    return buf;
}
