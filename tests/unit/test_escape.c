/* test_escape.c: the esc_ writers on hostile bytes.
 *
 * Each writer gets a heap copy of exactly n bytes (NULL when n is 0), so that a read
 * past the input is caught by AddressSanitizer in the sanitizer build; esc_tsv_cut gets
 * a heap buffer of exactly buf_len bytes for the same reason on the output side.
 * A table fixes the output byte by byte for every format; then every 1- and 2-byte input
 * and 100,000 random ones are checked against a second, independently written model of
 * the display text, and the JSON, CSV and HTML outputs are parsed back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "escape.h"

typedef void (*esc_fn)(FILE *out, const void *p, size_t n);

static char *got;      /* the last output of run() */
static size_t got_len;

/* What fn writes for in[0, n). Returns a NUL-terminated copy, valid until the next call;
 * an output holding a NUL comes back as a marker that matches no expectation. */
static const char *run(esc_fn fn, const void *in, size_t n)
{
    void *copy = n ? malloc(n) : NULL;
    if (n && !copy)
        abort();
    if (n)
        memcpy(copy, in, n);
    free(got);
    got = NULL;
    FILE *f = open_memstream(&got, &got_len);
    if (!f)
        abort();
    fn(f, copy, n);
    if (fclose(f) != 0)
        abort();
    free(copy);
    return strlen(got) == got_len ? got : "<output holds a NUL>";
}

static char cut_out[256]; /* the last result of cut(), copied out of its exact buffer */

/* esc_tsv_cut into a heap buffer of exactly buf_len bytes. */
static const char *cut(const void *in, size_t n, size_t buf_len, size_t max_cols)
{
    void *copy = n ? malloc(n) : NULL;
    char *buf = malloc(buf_len ? buf_len : 1);
    if ((n && !copy) || !buf)
        abort();
    if (n)
        memcpy(copy, in, n);
    memset(buf, 'Z', buf_len ? buf_len : 1);
    char *r = esc_tsv_cut(buf, buf_len, copy, n, max_cols);
    if (r != buf)
        snprintf(cut_out, sizeof cut_out, "<wrong pointer returned>");
    else if (buf_len == 0)
        snprintf(cut_out, sizeof cut_out, "%s", buf[0] == 'Z' ? "<untouched>" : "<written>");
    else if (!memchr(buf, '\0', buf_len))
        snprintf(cut_out, sizeof cut_out, "<not NUL-terminated>");
    else
        snprintf(cut_out, sizeof cut_out, "%s", buf);
    free(buf);
    free(copy);
    return cut_out;
}

/* ---- every format, byte by byte ---- */

struct row {
    const char *name;
    const char *in;
    size_t n;
    const char *tsv, *json, *csv, *html;
};

/* in is a string literal: its length is taken with sizeof, so it may hold NULs. */
#define ROW(name, in, tsv, json, csv, html) { name, in, sizeof(in) - 1, tsv, json, csv, html }

static const struct row rows[] = {
    ROW("plain ASCII", "GET /a/b?c=1 HTTP/1.1",
        "GET /a/b?c=1 HTTP/1.1", "\"GET /a/b?c=1 HTTP/1.1\"", "\"GET /a/b?c=1 HTTP/1.1\"",
        "GET /a/b?c=1 HTTP/1.1"),
    ROW("empty", "", "", "\"\"", "\"\"", ""),
    ROW("space and tilde", " ~", " ~", "\" ~\"", "\" ~\"", " ~"),
    ROW("NUL", "a\0b", "a\\x00b", "\"a\\\\x00b\"", "\"a\\x00b\"", "a\\x00b"),
    ROW("only NUL", "\0", "\\x00", "\"\\\\x00\"", "\"\\x00\"", "\\x00"),
    ROW("tab CR LF", "a\tb\r\nc", "a\\x09b\\x0d\\x0ac", "\"a\\\\x09b\\\\x0d\\\\x0ac\"",
        "\"a\\x09b\\x0d\\x0ac\"", "a\\x09b\\x0d\\x0ac"),
    ROW("0x1f", "\x1f", "\\x1f", "\"\\\\x1f\"", "\"\\x1f\"", "\\x1f"),
    ROW("DEL", "a\x7f", "a\\x7f", "\"a\\\\x7f\"", "\"a\\x7f\"", "a\\x7f"),
    ROW("terminal escape", "\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J",
        "\"\\\\x1b]0;pwned\\\\x07\\\\x1b[2J\"", "\"\\x1b]0;pwned\\x07\\x1b[2J\"",
        "\\x1b]0;pwned\\x07\\x1b[2J"),
    ROW("backslash", "a\\b", "a\\x5cb", "\"a\\\\x5cb\"", "\"a\\x5cb\"", "a\\x5cb"),
    ROW("backslash looks like an escape", "\\x41", "\\x5cx41", "\"\\\\x5cx41\"",
        "\"\\x5cx41\"", "\\x5cx41"),
    ROW("double quote", "say \"hi\"", "say \"hi\"", "\"say \\\"hi\\\"\"",
        "\"say \"\"hi\"\"\"", "say &quot;hi&quot;"),
    ROW("single quote", "it's", "it's", "\"it's\"", "\"it's\"", "it&#39;s"),
    ROW("markup", "<a href=\"x\" title='y'>&amp;</a>",
        "<a href=\"x\" title='y'>&amp;</a>",
        "\"<a href=\\\"x\\\" title='y'>&amp;</a>\"",
        "\"<a href=\"\"x\"\" title='y'>&amp;</a>\"",
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"),
    ROW("script", "</script><script>alert(1)</script>", "</script><script>alert(1)</script>",
        "\"</script><script>alert(1)</script>\"", "\"</script><script>alert(1)</script>\"",
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
    ROW("2-byte UTF-8", "caf\xc3\xa9", "caf\xc3\xa9", "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"",
        "caf\xc3\xa9"),
    ROW("3-byte UTF-8", "\xe2\x82\xac" "5", "\xe2\x82\xac" "5", "\"\xe2\x82\xac" "5\"",
        "\"\xe2\x82\xac" "5\"", "\xe2\x82\xac" "5"),
    ROW("4-byte UTF-8", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"",
        "\"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80"),
    /* U+00A0, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
    ROW("UTF-8 range ends",
        "\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
        "\xf4\x8f\xbf\xbf",
        "\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
        "\xf4\x8f\xbf\xbf",
        "\"\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
        "\xf4\x8f\xbf\xbf\"",
        "\"\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
        "\xf4\x8f\xbf\xbf\"",
        "\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
        "\xf4\x8f\xbf\xbf"),
    ROW("lone continuation", "a\x80" "b", "a\\x80b", "\"a\\\\x80b\"", "\"a\\x80b\"",
        "a\\x80b"),
    ROW("continuation 0xbf", "\xbf", "\\xbf", "\"\\\\xbf\"", "\"\\xbf\"", "\\xbf"),
    ROW("truncated 0xc3 at end", "ab\xc3", "ab\\xc3", "\"ab\\\\xc3\"", "\"ab\\xc3\"",
        "ab\\xc3"),
    ROW("0xc3 before ASCII", "\xc3" "A", "\\xc3A", "\"\\\\xc3A\"", "\"\\xc3A\"", "\\xc3A"),
    ROW("truncated 3-byte", "\xe2\x82", "\\xe2\\x82", "\"\\\\xe2\\\\x82\"", "\"\\xe2\\x82\"",
        "\\xe2\\x82"),
    ROW("truncated 4-byte", "\xf0\x9f\x98", "\\xf0\\x9f\\x98",
        "\"\\\\xf0\\\\x9f\\\\x98\"", "\"\\xf0\\x9f\\x98\"", "\\xf0\\x9f\\x98"),
    ROW("bad lead, then valid", "\xe2\xc3\xa9", "\\xe2\xc3\xa9", "\"\\\\xe2\xc3\xa9\"",
        "\"\\xe2\xc3\xa9\"", "\\xe2\xc3\xa9"),
    ROW("overlong C0 AF", "\xc0\xaf", "\\xc0\\xaf", "\"\\\\xc0\\\\xaf\"", "\"\\xc0\\xaf\"",
        "\\xc0\\xaf"),
    ROW("overlong C1 BF", "\xc1\xbf", "\\xc1\\xbf", "\"\\\\xc1\\\\xbf\"", "\"\\xc1\\xbf\"",
        "\\xc1\\xbf"),
    ROW("overlong E0 80 AF", "\xe0\x80\xaf", "\\xe0\\x80\\xaf",
        "\"\\\\xe0\\\\x80\\\\xaf\"", "\"\\xe0\\x80\\xaf\"", "\\xe0\\x80\\xaf"),
    ROW("overlong E0 9F BF", "\xe0\x9f\xbf", "\\xe0\\x9f\\xbf",
        "\"\\\\xe0\\\\x9f\\\\xbf\"", "\"\\xe0\\x9f\\xbf\"", "\\xe0\\x9f\\xbf"),
    ROW("overlong F0 8F BF BF", "\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf",
        "\"\\\\xf0\\\\x8f\\\\xbf\\\\xbf\"", "\"\\xf0\\x8f\\xbf\\xbf\"",
        "\\xf0\\x8f\\xbf\\xbf"),
    ROW("surrogate ED A0 80", "\xed\xa0\x80", "\\xed\\xa0\\x80",
        "\"\\\\xed\\\\xa0\\\\x80\"", "\"\\xed\\xa0\\x80\"", "\\xed\\xa0\\x80"),
    ROW("surrogate ED BF BF", "\xed\xbf\xbf", "\\xed\\xbf\\xbf",
        "\"\\\\xed\\\\xbf\\\\xbf\"", "\"\\xed\\xbf\\xbf\"", "\\xed\\xbf\\xbf"),
    ROW("above U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
        "\"\\\\xf4\\\\x90\\\\x80\\\\x80\"", "\"\\xf4\\x90\\x80\\x80\"",
        "\\xf4\\x90\\x80\\x80"),
    ROW("lead F5", "\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80",
        "\"\\\\xf5\\\\x80\\\\x80\\\\x80\"", "\"\\xf5\\x80\\x80\\x80\"",
        "\\xf5\\x80\\x80\\x80"),
    ROW("0xff", "\xff", "\\xff", "\"\\\\xff\"", "\"\\xff\"", "\\xff"),
    ROW("0xfe", "\xfe", "\\xfe", "\"\\\\xfe\"", "\"\\xfe\"", "\\xfe"),
    ROW("C1 CSI C2 9B", "\xc2\x9b" "31m", "\\xc2\\x9b31m", "\"\\\\xc2\\\\x9b31m\"",
        "\"\\xc2\\x9b31m\"", "\\xc2\\x9b31m"),
    ROW("C1 U+0080", "\xc2\x80", "\\xc2\\x80", "\"\\\\xc2\\\\x80\"", "\"\\xc2\\x80\"",
        "\\xc2\\x80"),
    ROW("C1 U+009F", "\xc2\x9f", "\\xc2\\x9f", "\"\\\\xc2\\\\x9f\"", "\"\\xc2\\x9f\"",
        "\\xc2\\x9f"),
    ROW("formula =", "=1+2", "=1+2", "\"=1+2\"", "\"'=1+2\"", "=1+2"),
    ROW("formula +", "+1", "+1", "\"+1\"", "\"'+1\"", "+1"),
    ROW("formula -", "-1", "-1", "\"-1\"", "\"'-1\"", "-1"),
    ROW("formula @", "@SUM(A1)", "@SUM(A1)", "\"@SUM(A1)\"", "\"'@SUM(A1)\"", "@SUM(A1)"),
    ROW("formula alone", "=", "=", "\"=\"", "\"'=\"", "="),
    ROW("formula with a quote", "=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")",
        "\"=HYPERLINK(\\\"x\\\")\"", "\"'=HYPERLINK(\"\"x\"\")\"",
        "=HYPERLINK(&quot;x&quot;)"),
    ROW("formula char not first", "a=1", "a=1", "\"a=1\"", "\"a=1\"", "a=1"),
    ROW("tab before formula", "\t=1", "\\x09=1", "\"\\\\x09=1\"", "\"\\x09=1\"", "\\x09=1"),
    ROW("comma and quote", "a,\"b\",c", "a,\"b\",c", "\"a,\\\"b\\\",c\"",
        "\"a,\"\"b\"\",c\"", "a,&quot;b&quot;,c"),
};

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        check_case(r->name);
        CHECK_STR(run(esc_tsv, r->in, r->n), r->tsv);
        CHECK_STR(run(esc_json, r->in, r->n), r->json);
        CHECK_STR(run(esc_csv, r->in, r->n), r->csv);
        CHECK_STR(run(esc_html, r->in, r->n), r->html);
    }
}

static void test_null_input(void)
{
    check_case("NULL with n 0");
    CHECK_STR(run(esc_tsv, NULL, 0), "");
    CHECK_STR(run(esc_json, NULL, 0), "\"\"");
    CHECK_STR(run(esc_csv, NULL, 0), "\"\"");
    CHECK_STR(run(esc_html, NULL, 0), "");
    char buf[4] = "xyz";
    CHECK(esc_tsv_cut(buf, sizeof buf, NULL, 0, 10) == buf);
    CHECK_STR(buf, "");
}

/* A run of plain text longer than any stdio buffer, with escapes at both ends. */
static void test_long_run(void)
{
    check_case("long run");
    static char in[10002], want_tsv[10010], want_json[10014];
    memset(in + 1, 'a', 10000);
    in[0] = '\n';
    in[10001] = '"';
    snprintf(want_tsv, sizeof want_tsv, "\\x0a%.10000s\"", in + 1);
    snprintf(want_json, sizeof want_json, "\"\\\\x0a%.10000s\\\"\"", in + 1);
    CHECK_STR(run(esc_tsv, in, sizeof in), want_tsv);
    CHECK_STR(run(esc_json, in, sizeof in), want_json);
}

/* ---- esc_tsv_cut ---- */

#define CUT(in, buf_len, max_cols) cut(in, sizeof(in) - 1, buf_len, max_cols)

static void test_cut_cols(void)
{
    check_case("cut: columns");
    CHECK_STR(CUT("", 64, 0), "");
    CHECK_STR(CUT("", 64, 5), "");
    CHECK_STR(CUT("a", 64, 0), "...");
    CHECK_STR(CUT("abc", 64, 3), "abc");          /* exactly max_cols: no dots */
    CHECK_STR(CUT("abcd", 64, 3), "abc...");      /* one more */
    CHECK_STR(CUT("abc", 64, 2), "ab...");
    CHECK_STR(CUT("abc", 64, 100), "abc");

    check_case("cut: escapes count 4");
    CHECK_STR(CUT("\x01", 64, 4), "\\x01");
    CHECK_STR(CUT("\x01", 64, 3), "...");
    CHECK_STR(CUT("a\x01", 64, 5), "a\\x01");
    CHECK_STR(CUT("a\x01", 64, 4), "a...");
    CHECK_STR(CUT("a\x01" "b", 64, 5), "a\\x01...");
    CHECK_STR(CUT("a\x01" "b", 64, 6), "a\\x01" "b");
    CHECK_STR(CUT("\\\\", 64, 8), "\\x5c\\x5c");
    CHECK_STR(CUT("\\\\", 64, 7), "\\x5c...");
    CHECK_STR(CUT("\xc2\x9b", 64, 8), "\\xc2\\x9b");   /* C1: two escapes, 8 columns */
    CHECK_STR(CUT("\xc2\x9b", 64, 7), "\\xc2...");
    CHECK_STR(CUT("\xed\xa0\x80", 64, 11), "\\xed\\xa0...");

    check_case("cut: a multi-byte character counts 1");
    /* é € 😀: 2 + 3 + 4 bytes, 3 columns */
    CHECK_STR(CUT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 64, 3),
              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_STR(CUT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 64, 2), "\xc3\xa9\xe2\x82\xac...");
    CHECK_STR(CUT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 64, 1), "\xc3\xa9...");
    CHECK_STR(CUT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 64, 0), "...");
    CHECK_STR(CUT("abc\xf0\x9f\x98\x80", 64, 4), "abc\xf0\x9f\x98\x80");
    CHECK_STR(CUT("abc\xf0\x9f\x98\x80", 64, 3), "abc...");
    CHECK_STR(CUT("ab\xc3", 64, 6), "ab\\xc3");  /* truncated at the end: an escape */
    CHECK_STR(CUT("ab\xc3", 64, 5), "ab...");
}

static void test_cut_buf(void)
{
    check_case("cut: buf_len");
    CHECK_STR(CUT("abcdef", 7, 100), "abcdef");   /* exactly fits with its NUL */
    CHECK_STR(CUT("abcdef", 6, 100), "ab...");
    CHECK_STR(CUT("abcdef", 5, 100), "a...");
    CHECK_STR(CUT("abcdef", 4, 100), "...");
    CHECK_STR(CUT("abcdef", 3, 100), "..");
    CHECK_STR(CUT("abcdef", 2, 100), ".");
    CHECK_STR(CUT("abcdef", 1, 100), "");
    CHECK_STR(CUT("abcdef", 0, 100), "<untouched>");
    CHECK_STR(CUT("", 1, 100), "");
    CHECK_STR(CUT("a", 2, 100), "a");
    CHECK_STR(CUT("ab", 2, 100), ".");

    check_case("cut: buf_len at an escape");
    CHECK_STR(CUT("\x01\x02", 9, 100), "\\x01\\x02");
    CHECK_STR(CUT("\x01\x02", 8, 100), "\\x01...");
    CHECK_STR(CUT("\x01\x02", 7, 100), "...");
    CHECK_STR(CUT("\x01", 5, 100), "\\x01");
    CHECK_STR(CUT("\x01", 4, 100), "...");
    CHECK_STR(CUT("a\x01", 5, 100), "a...");

    check_case("cut: buf_len at a multi-byte character");
    CHECK_STR(CUT("\xe2\x82\xac\xe2\x82\xac", 7, 100), "\xe2\x82\xac\xe2\x82\xac");
    CHECK_STR(CUT("\xe2\x82\xac\xe2\x82\xac", 6, 100), "...");
    CHECK_STR(CUT("\xe2\x82\xac\xe2\x82\xac" "a", 7, 100), "\xe2\x82\xac...");
    CHECK_STR(CUT("\xf0\x9f\x98\x80", 5, 100), "\xf0\x9f\x98\x80");
    CHECK_STR(CUT("\xf0\x9f\x98\x80", 4, 100), "...");
    CHECK_STR(CUT("a\xf0\x9f\x98\x80", 5, 100), "a...");

    check_case("cut: both limits");
    CHECK_STR(CUT("abcdef", 7, 3), "abc...");     /* the columns cut */
    CHECK_STR(CUT("abcdef", 7, 4), "abc...");     /* the buffer cuts */
    CHECK_STR(CUT("abcdef", 6, 3), "ab...");      /* both, the buffer earlier */
    CHECK_STR(CUT("abc", 4, 3), "abc");
}

/* ---- an independent model of the display text ---- */

/* One UTF-8 sequence at s[0, n), decoded the long way: its length, or 0 when it is not a
 * valid RFC 3629 encoding. */
static size_t ref_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    uint8_t c = s[0];
    size_t len = c < 0x80 ? 1 : c < 0xc0 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 0;
    if (len == 0 || n < len)
        return 0;
    uint32_t v = len == 1 ? c : c & (0x7fu >> len);
    for (size_t j = 1; j < len; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[j] & 0x3fu);
    }
    if (v < min_cp[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

#define MAX_IN 16

/* The display text as units (one escape or one character each). */
struct model {
    char text[MAX_IN * 4 + 1];
    size_t len;
    size_t n_units;
    size_t end[MAX_IN];   /* text offset after each unit */
    size_t cols[MAX_IN];  /* columns of each unit */
};

static void model_of(struct model *m, const uint8_t *s, size_t n)
{
    m->len = m->n_units = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = ref_utf8(s + i, n - i, &cp);
        if (len && !is_control(cp) && cp != '\\') {
            memcpy(m->text + m->len, s + i, len);
            m->len += len;
            m->cols[m->n_units] = 1;
            i += len;
        } else {
            m->len += (size_t)snprintf(m->text + m->len, 5, "\\x%02x", s[i]);
            m->cols[m->n_units] = 4;
            i++;
        }
        m->end[m->n_units++] = m->len;
    }
    m->text[m->len] = '\0';
}

/* What esc_tsv_cut must give, worked out as: everything if it all fits, else the most
 * whole units that fit in max_cols and leave room for "..." and the NUL, then the dots. */
static void model_cut(const struct model *m, size_t buf_len, size_t max_cols, char *want)
{
    size_t cols = 0;
    for (size_t u = 0; u < m->n_units; u++)
        cols += m->cols[u];
    if (cols <= max_cols && m->len < buf_len) {
        memcpy(want, m->text, m->len + 1);
        return;
    }
    size_t k = 0;
    cols = 0;
    for (size_t u = 0; u < m->n_units; u++) {
        if (cols + m->cols[u] > max_cols || m->end[u] + 4 > buf_len)
            break;
        cols += m->cols[u];
        k = m->end[u];
    }
    memcpy(want, m->text, k);
    size_t dots = buf_len - 1 - k < 3 ? buf_len - 1 - k : 3;
    memcpy(want + k, "...", dots);
    want[k + dots] = '\0';
}

/* The display text holds only printable ASCII, \xNN escapes and valid UTF-8 that is no
 * control, whatever the model says. */
static bool display_ok(const char *t, size_t n)
{
    const uint8_t *s = (const uint8_t *)t;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = ref_utf8(s + i, n - i, &cp);
        if (len == 0 || is_control(cp))
            return false;
        if (cp == '\\') {
            if (n - i < 4 || s[i + 1] != 'x' || !strchr("0123456789abcdef", s[i + 2]) ||
                !strchr("0123456789abcdef", s[i + 3]) || !s[i + 2] || !s[i + 3])
                return false;
            len = 4;
        }
        i += len;
    }
    return true;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parse o[0, n) as one JSON string value (RFC 8259 section 7) and decode it into d.
 * False if it is not valid JSON or not valid UTF-8. */
static bool json_decode(const char *o, size_t n, char *d, size_t *d_len)
{
    const uint8_t *s = (const uint8_t *)o;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    size_t k = 0;
    for (size_t i = 1; i < n - 1;) {
        uint32_t cp;
        if (s[i] < 0x20 || s[i] == '"')
            return false;
        if (s[i] != '\\') {
            size_t len = ref_utf8(s + i, n - 1 - i, &cp);
            if (len == 0)
                return false;
            memcpy(d + k, s + i, len);
            k += len;
            i += len;
            continue;
        }
        if (i + 1 >= n - 1)
            return false; /* the closing quote was escaped */
        const char *simple = strchr("\"\\/bfnrt", s[i + 1]);
        if (simple && s[i + 1]) {
            d[k++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        if (s[i + 1] != 'u' || n - 1 - i < 6)
            return false;
        int v = 0;
        for (size_t j = 2; j < 6; j++) {
            int h = hexval((char)s[i + j]);
            if (h < 0)
                return false;
            v = v * 16 + h;
        }
        if (v >= 0xd800 && v <= 0xdfff)
            return false; /* esc_json never writes a surrogate pair; not decoded here */
        if (v < 0x80) {
            d[k++] = (char)v;
        } else if (v < 0x800) {
            d[k++] = (char)(0xc0 | v >> 6);
            d[k++] = (char)(0x80 | (v & 0x3f));
        } else {
            d[k++] = (char)(0xe0 | v >> 12);
            d[k++] = (char)(0x80 | (v >> 6 & 0x3f));
            d[k++] = (char)(0x80 | (v & 0x3f));
        }
        i += 6;
    }
    *d_len = k;
    return true;
}

/* Undo RFC 4180 quoting; false if a quote is not doubled or a CR or LF is raw. */
static bool csv_decode(const char *s, size_t n, char *d, size_t *d_len)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    size_t k = 0;
    for (size_t i = 1; i < n - 1; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            return false;
        if (s[i] == '"') {
            if (i + 1 >= n - 1 || s[i + 1] != '"')
                return false;
            i++;
        }
        d[k++] = s[i];
    }
    *d_len = k;
    return true;
}

/* Undo the five entities; false on a raw < > " ' or any other &. */
static bool html_decode(const char *s, size_t n, char *d, size_t *d_len)
{
    static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;" };
    static const char ch[] = "&<>\"'";
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (strchr("<>\"'", s[i]) && s[i])
            return false;
        if (s[i] != '&') {
            d[k++] = s[i++];
            continue;
        }
        size_t e = 0;
        while (e < 5 && strncmp(s + i, ent[e], strlen(ent[e])) != 0)
            e++;
        if (e == 5)
            return false;
        d[k++] = ch[e];
        i += strlen(ent[e]);
    }
    *d_len = k;
    return true;
}

static unsigned long bad_tsv, bad_model, bad_json, bad_csv, bad_html, bad_cut;

static void report(const char *what, unsigned long *count, const uint8_t *s, size_t n)
{
    if ((*count)++ < 5) {
        fprintf(stderr, "    %s wrong for input", what);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", s[i]);
        fprintf(stderr, "\n");
    }
}

/* Every writer on s[0, n), against the model and the parsers above. */
static void check_input(const uint8_t *s, size_t n)
{
    struct model m;
    model_of(&m, s, n);
    char d[MAX_IN * 8 + 8];
    size_t d_len;

    const char *o = run(esc_tsv, s, n);
    if (!display_ok(o, got_len))
        report("esc_tsv (bytes)", &bad_tsv, s, n);
    if (got_len != m.len || memcmp(o, m.text, m.len) != 0)
        report("esc_tsv (model)", &bad_model, s, n);

    o = run(esc_json, s, n);
    if (!json_decode(o, got_len, d, &d_len) || d_len != m.len || memcmp(d, m.text, m.len))
        report("esc_json", &bad_json, s, n);

    o = run(esc_csv, s, n);
    bool guard = n && strchr("=+-@", s[0]) && s[0];
    if (!csv_decode(o, got_len, d, &d_len) || d_len != m.len + guard ||
        (guard && d[0] != '\'') || memcmp(d + guard, m.text, m.len))
        report("esc_csv", &bad_csv, s, n);

    o = run(esc_html, s, n);
    if (!html_decode(o, got_len, d, &d_len) || d_len != m.len || memcmp(d, m.text, m.len))
        report("esc_html", &bad_html, s, n);
}

/* esc_tsv_cut on s[0, n) for the given limits, against model_cut(). */
static void check_cut(const uint8_t *s, size_t n, size_t buf_len, size_t max_cols)
{
    struct model m;
    model_of(&m, s, n);
    char want[MAX_IN * 4 + 4];
    if (buf_len == 0)
        snprintf(want, sizeof want, "<untouched>");
    else
        model_cut(&m, buf_len, max_cols, want);
    if (strcmp(cut(s, n, buf_len, max_cols), want) != 0)
        report("esc_tsv_cut", &bad_cut, s, n);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Bytes near the edges of the UTF-8 ranges and the formats' special characters: uniform
 * bytes alone would almost never make a valid 3- or 4-byte sequence. */
static const uint8_t edge[] = {
    0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x20, '"', '&', '\'', ',', '-', '+', '<', '=', '>',
    '@', '\\', 'x', 0x7e, 0x7f, 0x80, 0x8f, 0x90, 0x9b, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
    0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff,
};

static size_t random_input(uint8_t *s)
{
    size_t n = rng() % (MAX_IN + 1);
    for (size_t i = 0; i < n;) {
        uint32_t r = rng();
        if (r % 4 == 0 && n - i >= 4) {
            /* a valid encoding of a random code point, control or not */
            uint32_t cp = rng() % 0x110000;
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0x9b;
            if (cp < 0x80) {
                s[i++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                s[i++] = (uint8_t)(0xc0 | cp >> 6);
                s[i++] = (uint8_t)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                s[i++] = (uint8_t)(0xe0 | cp >> 12);
                s[i++] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
                s[i++] = (uint8_t)(0x80 | (cp & 0x3f));
            } else {
                s[i++] = (uint8_t)(0xf0 | cp >> 18);
                s[i++] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
                s[i++] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
                s[i++] = (uint8_t)(0x80 | (cp & 0x3f));
            }
        } else if (r % 4 == 1) {
            s[i++] = edge[rng() % sizeof edge];
        } else {
            s[i++] = (uint8_t)rng();
        }
    }
    return n;
}

static void test_brute_force(void)
{
    static const size_t bufs[] = { 0, 1, 2, 4, 5, 6, 8, 9, 12 };
    static const size_t cols[] = { 0, 1, 3, 4, 5, 8 };
    uint8_t s[MAX_IN];

    check_case("brute force: every 1- and 2-byte input");
    check_input(s, 0);
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        check_input(s, 1);
        for (size_t b = 0; b < sizeof bufs / sizeof bufs[0]; b++)
            for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
                check_cut(s, 1, bufs[b], cols[c]);
        for (unsigned x = 0; x < 256; x++) {
            s[1] = (uint8_t)x;
            check_input(s, 2);
            check_cut(s, 2, bufs[x % 9], cols[(x / 9 + a) % 6]);
        }
    }

    check_case("brute force: 100000 random inputs");
    for (int t = 0; t < 100000; t++) {
        size_t n = random_input(s);
        check_input(s, n);
        check_cut(s, n, rng() % 72, rng() % 24);
    }
    CHECK_EQ(bad_tsv, 0);
    CHECK_EQ(bad_model, 0);
    CHECK_EQ(bad_json, 0);
    CHECK_EQ(bad_csv, 0);
    CHECK_EQ(bad_html, 0);
    CHECK_EQ(bad_cut, 0);
}

int main(void)
{
    test_rows();
    test_null_input();
    test_long_run();
    test_cut_cols();
    test_cut_buf();
    test_brute_force();
    free(got);
    return check_done("test_escape");
}
