/* test_sniff.c: the one "does this look like HTTP" sniffer, as its three users see it:
 * the dissector (anything not SNIFF_NO could be a message), the flow table's role
 * guess and the classifier (SNIFF_YES only), and the resynchronising search. */
#include <string.h>

#include "check.h"
#include "sniff.h"

static void test_request_line(void)
{
    static const struct {
        const char *s;
        enum sniff want;
    } lines[] = {
        { "POST /up HTTP/1.1\r\n", SNIFF_YES },
        { "GET / HTTP/1.0\n", SNIFF_YES },
        { "GET /a b c HTTP/1.1\r\n", SNIFF_YES },  /* spaces in the target: a scanner's */
        { "CCM_POST / HTTP/1.1\r\n", SNIFF_YES },  /* unregistered, but versioned */
        { "POST /up HTTP/1.", SNIFF_YES },         /* cut short after a known method */
        { "PROPFIND /", SNIFF_YES },
        { "POST ", SNIFF_YES },
        { "GET /HTTP/1.1\n", SNIFF_YES },          /* no version: servers answer 400 */
        { "BREW /HTTP/1.1\n", SNIFF_MAYBE },       /* the same, unregistered */
        { "PO", SNIFF_MAYBE },                     /* a prefix that fits */
        { "GET", SNIFF_MAYBE },
        { "GETX /", SNIFF_MAYBE },                 /* unknown method, line cut short */
        { "EHLO mail.example\r\n", SNIFF_MAYBE },  /* SMTP is not HTTP to the flow table */
        { "", SNIFF_NO },
        { "post / HTTP/1.1\r\n", SNIFF_NO },       /* methods are case-sensitive */
        { "get / ", SNIFF_NO },
        { "GET /a b\r\n", SNIFF_NO },              /* spaces but no version */
        { "GET  / HTTP/1.1\r\n", SNIFF_NO },
        { "\x16\x03\x01", SNIFF_NO },
        { "hello world", SNIFF_NO },
        { "GET / HTTP/2.0\r\n", SNIFF_NO },
        { "GET /\x01 HTTP/1.1\r\n", SNIFF_NO },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n", SNIFF_NO }, /* token too long */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        check_case(lines[i].s);
        CHECK_EQ(sniff_request_line((const uint8_t *)lines[i].s, strlen(lines[i].s)),
                 lines[i].want);
    }
}

static void test_status_line(void)
{
    check_case("status line");
    CHECK_EQ(sniff_status_line((const uint8_t *)"HTTP/1.1 100 Continue\r\n", 23), SNIFF_YES);
    CHECK_EQ(sniff_status_line((const uint8_t *)"HTTP/1.", 7), SNIFF_YES);
    CHECK_EQ(sniff_status_line((const uint8_t *)"HTTP/", 5), SNIFF_MAYBE);
    CHECK_EQ(sniff_status_line((const uint8_t *)"HTTP/2 200", 10), SNIFF_NO);
    CHECK_EQ(sniff_status_line((const uint8_t *)"http/1.1", 8), SNIFF_NO);
}

/* What the flow table and classifier see: 1 request, 0 status, -1 neither. */
static void test_http_start(void)
{
    static const struct {
        const char *s;
        int want;
    } starts[] = {
        { "GET / HTTP/1.1", 1 }, { "POST ", 1 }, { "PROPFIND /", 1 }, { "HTTP/1.0 200", 0 },
        { "HTTP/1.", 0 }, { "HTTP/2 200", -1 }, { "GET", -1 }, { "get / ", -1 },
        { "GETX /", -1 }, { "", -1 }, { "\x16\x03\x01", -1 }, { "HTTP/", -1 },
        { "EHLO mail.example\r\n", -1 }, { "BREW /pot HTTP/1.1\r\n", 1 },
        { "GET /\r\n", 1 }, { "BREW /\r\n", -1 },
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        check_case(starts[i].s);
        CHECK_EQ(sniff_http_start((const uint8_t *)starts[i].s, strlen(starts[i].s)) + 1,
                 starts[i].want + 1);
    }
}

/* The search that resynchronises after lost bytes. */
static void test_find_start(void)
{
    static const struct {
        const char *s;
        bool request, at_line_start;
        size_t want;
    } finds[] = {
        { "body bytes\r\n\r\nGET / HTTP/1.1\r\n", true, true, 14 },
        { "xx\n\nGET / HTTP/1.1\r\n", true, false, 4 },  /* after two line ends */
        { "GET / HTTP/1.1\r\n", true, false, 16 },      /* not at a line start: none */
        { "GET / HTTP/1.1\r\n", true, true, 0 },
        { "garbage HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK", false, true, 25 },
        { "no line end at all", true, true, 18 },
        { "x\nHT", false, true, 2 },                     /* a prefix at the end counts */
    };
    for (size_t i = 0; i < sizeof finds / sizeof finds[0]; i++) {
        check_case(finds[i].s);
        CHECK_EQ(sniff_find_start(finds[i].request, (const uint8_t *)finds[i].s,
                                  strlen(finds[i].s), finds[i].at_line_start),
                 finds[i].want);
    }
}

int main(void)
{
    test_request_line();
    test_status_line();
    test_http_start();
    test_find_start();
    return check_done("test_sniff");
}
