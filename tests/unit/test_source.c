/* test_source.c: the file source: pcap and pcapng files written with pcapw, merged by
 * time, including the broken ones: truncated, not a capture, missing, unsupported
 * link. */
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "source_file.h"
#include "check.h"
#include "decode.h"
#include "pcapw.h"

static char dir[512];
static char paths[32][600];
static int n_paths;

/* A file name inside the test's temporary directory, remembered for cleanup. */
static const char *tmp(const char *name)
{
    if (n_paths == 32)
        abort();
    snprintf(paths[n_paths], sizeof paths[0], "%s/%s", dir, name);
    return paths[n_paths++];
}

static struct pcapw_pkt pk;

/* source_file_open() on n inputs, no filter. */
static struct source *open_files(const char *const *files, int n, char *err, size_t err_len)
{
    struct source_file_config cfg = { files, n, NULL };
    enum source_file_error why;
    return source_file_open(&cfg, err, err_len, &why);
}

/* An Ethernet/IPv4/TCP frame whose payload is `tag` (so packets can be told apart). */
static void frame_eth(const char *tag)
{
    pcapw_init(&pk);
    pcapw_append(&pk, tag, strlen(tag));
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 40000, .dport = 80, .seq = 1,
                                        .flags = 0x18 });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
}

static void put(struct pcapw_file *w, uint64_t ts_ns)
{
    if (pcapw_write(w, ts_ns, pcapw_data(&pk), pcapw_len(&pk)) != 0)
        abort();
}

static uint64_t size_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Expect the next event to be a packet with these properties. */
static void expect_packet(struct source *c, const char *source, uint64_t ts_us, int linktype,
                          const char *tag, uint32_t caplen, uint32_t wire_len)
{
    struct source_packet p;
    char err[512] = "";
    enum source_event ev = source_next(c, &p, err, sizeof err);
    CHECK_EQ(ev, SOURCE_PACKET);
    if (ev != SOURCE_PACKET) {
        fprintf(stderr, "    event %d: %s\n", (int)ev, err);
        return;
    }
    CHECK(p.input == source);
    CHECK_EQ(p.ts_us, ts_us);
    CHECK_EQ(p.linktype, linktype);
    CHECK_EQ(p.caplen, caplen);
    CHECK_EQ(p.wire_len, wire_len);
    struct dec_pkt d;
    enum dec_result r = dec_packet(p.linktype, p.data, p.caplen, p.wire_len, &d);
    CHECK_EQ(r, DEC_TCP);
    if (r == DEC_TCP && caplen == wire_len)
        CHECK_MEM(d.payload, d.payload_len, tag, strlen(tag));
}

static void expect_event(struct source *c, enum source_event want, const char *want_err)
{
    struct source_packet p;
    char err[512] = "";
    CHECK_EQ(source_next(c, &p, err, sizeof err), want);
    if (want_err)
        CHECK_STR(err, want_err);
}

static void test_several_files(void)
{
    check_case("pcap, pcapng and nanosecond pcap read in order");
    const char *a = tmp("a.pcap"), *b = tmp("b.pcapng"), *e = tmp("e.pcap"),
               *c = tmp("c.pcap"), *d = tmp("d.pcapng");
    struct pcapw_file *w = pcapw_open_or_die(a, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("a1");
    put(w, 1000000000001000ull); /* 1000000 s + 1 us */
    frame_eth("a2");
    put(w, 1000000500000000ull);
    CHECK_EQ(pcapw_close(w, 0), 0);

    w = pcapw_open_or_die(b, PCAPW_PCAPNG, PCAPW_LINK_SLL2, 0);
    pcapw_init(&pk);
    pcapw_append(&pk, "b1", 2);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2 });
    pcapw_ipv6(&pk, &(struct pcapw_ip6){ .src = "::1", .dst = "::2", .next = 6 });
    pcapw_sll2(&pk, PCAPW_ETH_IPV6);
    put(w, 2000000000002000ull);
    size_t b_len = pcapw_len(&pk);
    CHECK_EQ(pcapw_close(w, 0), 0);

    w = pcapw_open_or_die(e, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0); /* header only: no packets */
    CHECK_EQ(pcapw_close(w, 0), 0);

    w = pcapw_open_or_die(c, PCAPW_PCAP_NS, PCAPW_LINK_RAW, 0);
    pcapw_init(&pk);
    pcapw_append(&pk, "c1", 2);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2 });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
    put(w, 1700000000123456789ull); /* nanoseconds are cut to microseconds */
    CHECK_EQ(pcapw_close(w, 0), 0);

    w = pcapw_open_or_die(d, PCAPW_PCAPNG_NS, PCAPW_LINK_NULL, 0);
    pcapw_init(&pk);
    pcapw_append(&pk, "d1", 2);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2 });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
    pcapw_null(&pk, 2, false);
    put(w, 1700000001987654321ull);
    CHECK_EQ(pcapw_close(w, 0), 0);

    const char *const files[] = { a, b, e, c, d };
    char err[512] = "";
    struct source *cp = open_files(files, 5, err, sizeof err);
    CHECK(cp != NULL);
    if (!cp) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    uint64_t done, total;
    source_progress(cp, &done, &total);
    uint64_t sizes = size_of(a) + size_of(b) + size_of(e) + size_of(c) + size_of(d);
    CHECK_EQ(done, 0);
    CHECK_EQ(total, sizes);
    CHECK(!source_is_live(cp));
    char want_name[3100];
    snprintf(want_name, sizeof want_name, "%s %s %s %s %s", a, b, e, c, d);
    CHECK_STR(source_name(cp), want_name);
    expect_packet(cp, a, 1000000000001ull, DLT_EN10MB, "a1", 56, 56);
    expect_packet(cp, a, 1000000500000ull, DLT_EN10MB, "a2", 56, 56);
    expect_packet(cp, b, 2000000000002ull, DLT_LINUX_SLL2, "b1", (uint32_t)b_len,
                  (uint32_t)b_len);
    expect_packet(cp, c, 1700000000123456ull, DLT_RAW, "c1", 42, 42);
    expect_packet(cp, d, 1700000001987654ull, DLT_NULL, "d1", 46, 46);
    expect_event(cp, SOURCE_END, NULL);
    expect_event(cp, SOURCE_END, NULL);
    const struct source_stats *st = source_stats(cp);
    CHECK_EQ(st->packets, 5);
    CHECK_EQ(st->bytes, 56 + 56 + b_len + 42 + 46);
    CHECK_EQ(st->files, 5);
    CHECK_EQ(st->cut_packets, 0);
    CHECK(!st->truncated);
    source_progress(cp, &done, &total);
    CHECK_EQ(done, sizes);
    CHECK_EQ(total, sizes);
    source_free(cp);

    check_case("no inputs at all");
    cp = open_files(files, 0, err, sizeof err);
    CHECK(cp != NULL);
    if (cp) {
        expect_event(cp, SOURCE_END, NULL);
        CHECK_EQ(source_stats(cp)->files, 0);
        CHECK_STR(source_name(cp), "");
        source_free(cp);
    }
    source_free(NULL);
}

static void test_snaplen(void)
{
    check_case("records shorter than the wire (snaplen)");
    const char *a = tmp("snap.pcap"), *b = tmp("snap.pcapng");
    char body[100];
    memset(body, 'x', sizeof body);
    body[sizeof body - 1] = '\0';
    for (int ng = 0; ng < 2; ng++) {
        const char *path = ng ? b : a;
        struct pcapw_file *w = pcapw_open_or_die(path, ng ? PCAPW_PCAPNG : PCAPW_PCAP,
                                      PCAPW_LINK_ETHERNET, 64);
        frame_eth(body);
        put(w, 1000);
        /* a record that claims a wire length below its captured length */
        frame_eth("short");
        CHECK_EQ(pcapw_write_rec(w, 2000, pcapw_data(&pk), (uint32_t)pcapw_len(&pk), 40), 0);
        CHECK_EQ(pcapw_close(w, 0), 0);
        const char *const files[] = { path };
        char err[512];
        struct source *cp = open_files(files, 1, err, sizeof err);
        CHECK(cp != NULL);
        if (!cp)
            continue;
        expect_packet(cp, path, 1, DLT_EN10MB, "", 64, 14 + 20 + 20 + 99);
        expect_packet(cp, path, 2, DLT_EN10MB, "short", 59, 59);
        expect_event(cp, SOURCE_END, NULL);
        CHECK_EQ(source_stats(cp)->cut_packets, 1);
        CHECK_EQ(source_stats(cp)->bytes, 153 + 59);
        source_free(cp);
    }
}

static void test_truncated(void)
{
    check_case("a truncated last record, then the next file");
    const char *t1 = tmp("t1.pcap"), *t2 = tmp("t2.pcapng"), *t3 = tmp("t3.pcap"),
               *ok = tmp("ok.pcap");
    struct pcapw_file *w = pcapw_open_or_die(t1, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("p1");
    put(w, 1000);
    frame_eth("p2");
    put(w, 2000);
    frame_eth("p3");
    put(w, 3000);
    CHECK_EQ(pcapw_close(w, 10), 0); /* the last record loses 10 of its 56 bytes */

    w = pcapw_open_or_die(t2, PCAPW_PCAPNG, PCAPW_LINK_ETHERNET, 0);
    frame_eth("q1");
    put(w, 4000);
    frame_eth("q2");
    put(w, 5000);
    CHECK_EQ(pcapw_close(w, 20), 0); /* the last block loses its trailer and data */

    w = pcapw_open_or_die(t3, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("r1");
    put(w, 6000);
    frame_eth("r2");
    put(w, 7000);
    CHECK_EQ(pcapw_close(w, 56 + 8), 0); /* ends inside the last record header */

    w = pcapw_open_or_die(ok, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("s1");
    put(w, 8000);
    CHECK_EQ(pcapw_close(w, 0), 0);

    const char *const files[] = { t1, t2, t3, ok };
    char err[512];
    struct source *cp = open_files(files, 4, err, sizeof err);
    CHECK(cp != NULL);
    if (!cp)
        return;
    char want[700];
    expect_packet(cp, t1, 1, DLT_EN10MB, "p1", 56, 56);
    expect_packet(cp, t1, 2, DLT_EN10MB, "p2", 56, 56);
    snprintf(want, sizeof want,
             "%s: truncated record after 2 packets; analysed up to the break", t1);
    expect_event(cp, SOURCE_TRUNCATED, want);
    CHECK(source_stats(cp)->truncated);
    expect_packet(cp, t2, 4, DLT_EN10MB, "q1", 56, 56);
    snprintf(want, sizeof want,
             "%s: truncated record after 1 packets; analysed up to the break", t2);
    expect_event(cp, SOURCE_TRUNCATED, want);
    expect_packet(cp, t3, 6, DLT_EN10MB, "r1", 56, 56);
    snprintf(want, sizeof want,
             "%s: truncated record after 1 packets; analysed up to the break", t3);
    expect_event(cp, SOURCE_TRUNCATED, want);
    expect_packet(cp, ok, 8, DLT_EN10MB, "s1", 56, 56);
    expect_event(cp, SOURCE_END, NULL);
    CHECK_EQ(source_stats(cp)->packets, 5);
    CHECK_EQ(source_stats(cp)->files, 4);
    CHECK(source_stats(cp)->truncated);
    source_free(cp);
}

/* source_file_open() must fail with exactly `want` (a single line naming the file). */
static void expect_open_error(const char *const *files, int n, const char *want)
{
    char err[512] = "";
    struct source *cp = open_files(files, n, err, sizeof err);
    CHECK(cp == NULL);
    source_free(cp);
    CHECK_STR(err, want);
    CHECK(strchr(err, '\n') == NULL);
}

/* Compress `src` into `dst` with zlib, whole or cut `cut` bytes short. */
static void gzip_file(const char *src, const char *dst, size_t cut)
{
    FILE *in = fopen(src, "rb");
    gzFile out = gzopen(dst, "wb");
    if (!in || !out)
        abort();
    unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    if (gzwrite(out, buf, (unsigned)(n - cut)) != (int)(n - cut) || gzclose(out) != Z_OK)
        abort();
}

static void test_gzip(void)
{
    check_case("gzip-compressed pcap and pcapng, whole and truncated");
    const char *plain = tmp("g.pcap"), *ng = tmp("g.pcapng"), *gz = tmp("g.pcap.gz"),
               *ngz = tmp("g.pcapng.gz"), *tgz = tmp("t.pcap.gz");
    struct pcapw_file *w = pcapw_open_or_die(plain, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("z1");
    put(w, 1000);
    frame_eth("z2");
    put(w, 2000);
    CHECK_EQ(pcapw_close(w, 0), 0);
    w = pcapw_open_or_die(ng, PCAPW_PCAPNG, PCAPW_LINK_ETHERNET, 0);
    frame_eth("n1");
    put(w, 3000);
    CHECK_EQ(pcapw_close(w, 0), 0);
    gzip_file(plain, gz, 0);
    gzip_file(ng, ngz, 0);
    gzip_file(plain, tgz, 10); /* the decompressed file ends inside its last record */

    const char *const files[] = { gz, ngz, tgz };
    char err[512];
    struct source *cp = open_files(files, 3, err, sizeof err);
    CHECK(cp != NULL);
    if (!cp)
        return;
    /* merged by time: tgz's first record ties with gz's and goes after it */
    expect_packet(cp, gz, 1, DLT_EN10MB, "z1", 56, 56);
    expect_packet(cp, tgz, 1, DLT_EN10MB, "z1", 56, 56);
    char want[700];
    snprintf(want, sizeof want,
             "%s: truncated record after 1 packets; analysed up to the break", tgz);
    expect_event(cp, SOURCE_TRUNCATED, want);
    expect_packet(cp, gz, 2, DLT_EN10MB, "z2", 56, 56);
    expect_packet(cp, ngz, 3, DLT_EN10MB, "n1", 56, 56);
    expect_event(cp, SOURCE_END, NULL);
    uint64_t done, total;
    source_progress(cp, &done, &total);
    CHECK_EQ(total, size_of(gz) + size_of(ngz) + size_of(tgz));
    CHECK_EQ(done, total);
    source_free(cp);

    check_case("gzip data that is not a capture");
    const char *junk = tmp("junk.gz");
    gzFile j = gzopen(junk, "wb");
    gzputs(j, "this is not a capture file, only text\n");
    gzclose(j);
    snprintf(want, sizeof want, "%s: not a pcap or pcapng file (unknown file format)",
             junk);
    expect_open_error(&junk, 1, want);
}

static void test_bad_inputs(void)
{
    char want[700];
    check_case("a file that is not a capture");
    const char *text = tmp("notes.txt"), *empty = tmp("empty.pcap"),
               *good = tmp("good.pcap"), *wifi = tmp("wifi.pcap"),
               *missing = tmp("missing.pcap"), *stub = tmp("stub.pcap");
    CHECK_EQ(pcapw_write_raw(text, "GET / HTTP/1.1\r\nHost: example\r\n\r\n", 33), 0);
    CHECK_EQ(pcapw_write_raw(empty, "", 0), 0);
    static const uint8_t magic[6] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0 };
    CHECK_EQ(pcapw_write_raw(stub, magic, sizeof magic), 0);
    struct pcapw_file *w = pcapw_open_or_die(good, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    frame_eth("g");
    put(w, 1000);
    CHECK_EQ(pcapw_close(w, 0), 0);

    snprintf(want, sizeof want, "%s: not a pcap or pcapng file (unknown file format)", text);
    expect_open_error(&text, 1, want);
    const char *const second_bad[] = { good, text };
    expect_open_error(second_bad, 2, want);

    check_case("an empty file and a cut file header");
    char err[512] = "";
    struct source *cp = open_files(&empty, 1, err, sizeof err);
    CHECK(cp == NULL);
    CHECK(strncmp(err, empty, strlen(empty)) == 0);
    CHECK(strstr(err, ": not a pcap or pcapng file (") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    cp = open_files(&stub, 1, err, sizeof err);
    CHECK(cp == NULL);
    CHECK(strncmp(err, stub, strlen(stub)) == 0);
    CHECK(strstr(err, ": not a pcap or pcapng file (") != NULL);
    CHECK(strchr(err, '\n') == NULL);

    check_case("a missing file");
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    expect_open_error(&missing, 1, want);
    const char *const third_missing[] = { good, good, missing };
    expect_open_error(third_missing, 3, want);

    check_case("an unsupported link type");
    w = pcapw_open_or_die(wifi, PCAPW_PCAP, PCAPW_LINK_IEEE802_11, 0);
    put(w, 1000);
    CHECK_EQ(pcapw_close(w, 0), 0);
    snprintf(want, sizeof want, "%s: unsupported link type 105 (IEEE802_11)", wifi);
    expect_open_error(&wifi, 1, want);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/es-test-cap.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    test_several_files();
    test_snaplen();
    test_truncated();
    test_bad_inputs();
    test_gzip();
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
    return check_done("test_cap");
}
