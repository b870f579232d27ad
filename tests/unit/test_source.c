/* test_source.c: the file source: pcap and pcapng files written with pcapw, including
 * the broken ones (truncated, not a capture, missing, unsupported link); compressed with
 * gzip, xz and zstd (written here with zlib, liblzma and libzstd), whole, concatenated,
 * corrupt, cut short and over the memory bound; other compressions refused by name;
 * standard input through a pipe; fingerprints; the BPF filter; several inputs merged
 * by time, and opened lazily. */
#include <fcntl.h>
#include <lzma.h>
#include <pcap/dlt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "source_file.h"
#include "check.h"
#include "decode.h"
#include "pcapw.h"

enum { MAX_PATHS = 256 };
static char dir[512];
static char paths[MAX_PATHS][600];
static int n_paths;

/* A file name inside the test's temporary directory, remembered for cleanup. */
static const char *tmp(const char *name)
{
    if (n_paths == MAX_PATHS)
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

/* An Ethernet/IPv4/TCP frame to port dport carrying n payload bytes. */
static void frame_bytes(const void *payload, size_t n, uint16_t dport)
{
    pcapw_init(&pk);
    pcapw_append(&pk, payload, n);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 40000, .dport = dport, .seq = 1,
                                        .flags = 0x18 });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
    pcapw_ether(&pk, PCAPW_ETH_IPV4, NULL, 0);
}

/* An Ethernet/IPv4/TCP frame whose payload is `tag` (so packets can be told apart). */
static void frame_eth(const char *tag)
{
    frame_bytes(tag, strlen(tag), 80);
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

/* ---- helpers of the cases below ------------------------------------------------------ */

/* A whole file in memory (malloc'd). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        abort();
    long n = ftell(f);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (n < 0 || !b || fseek(f, 0, SEEK_SET) != 0 || fread(b, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spill(const char *path, const void *data, size_t len)
{
    if (pcapw_write_raw(path, data, len) != 0)
        abort();
}

enum comp { C_GZIP, C_XZ, C_ZSTD };
static const char *const comp_name[] = { "gzip", "xz", "zstd" };
static const char *const comp_ext[] = { "gz", "xz", "zst" };

/* len bytes compressed by c, as the gzip, xz and zstd tools write them (xz with a CRC64,
 * zstd with its content checksum); malloc'd. */
static uint8_t *squeeze(enum comp c, const uint8_t *in, size_t len, size_t *out_len)
{
    uint8_t *out = NULL;
    if (c == C_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
        size_t cap = deflateBound(&z, (uLong)len) + 64;
        out = malloc(cap);
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END)
            abort();
        *out_len = z.total_out;
        deflateEnd(&z);
    } else if (c == C_XZ) {
        size_t cap = lzma_stream_buffer_bound(len), pos = 0;
        out = malloc(cap);
        if (!out || lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, len, out, &pos,
                                            cap) != LZMA_OK)
            abort();
        *out_len = pos;
    } else {
        size_t cap = ZSTD_compressBound(len);
        out = malloc(cap);
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        if (!out || !cc || ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)))
            abort();
        size_t r = ZSTD_compress2(cc, out, cap, in, len);
        if (ZSTD_isError(r))
            abort();
        ZSTD_freeCCtx(cc);
        *out_len = r;
    }
    return out;
}

/* src compressed by c into dst: whole, or (pieces 2) as two members, streams or frames
 * one after the other, as `cat a.gz b.gz` makes. */
static void compress_file(const char *src, const char *dst, enum comp c, int pieces)
{
    size_t len, n1, n2;
    uint8_t *in = slurp(src, &len);
    size_t half = pieces == 2 ? len / 2 : len;
    uint8_t *a = squeeze(c, in, half, &n1);
    uint8_t *b = squeeze(c, in + half, len - half, &n2);
    uint8_t *both = malloc(n1 + n2);
    if (!both)
        abort();
    memcpy(both, a, n1);
    memcpy(both + n1, b, n2);
    spill(dst, both, half == len ? n1 : n1 + n2);
    free(in);
    free(a);
    free(b);
    free(both);
}

/* A pcap of n packets tagged "<prefix>1", "<prefix>2", ... at ts_us[i], to port 80 or,
 * where ports[i] says so, another; the last `drop` bytes cut off. */
static void write_tagged(const char *path, const char *prefix, int n, const uint64_t *ts_us,
                         const uint16_t *ports, size_t drop)
{
    struct pcapw_file *w = pcapw_open_or_die(path, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    for (int i = 0; i < n; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "%.40s%d", prefix, i + 1); /* fits: no truncation */
        frame_bytes(tag, strlen(tag), ports ? ports[i] : 80);
        put(w, ts_us[i] * 1000);
    }
    CHECK_EQ(pcapw_close(w, drop), 0);
}

/* A capture of n packets of 1000 payload bytes each, half of them text and half noise
 * (so that it compresses, but not to nothing): n = 2500 is 2.7 MB, more than
 * SOURCE_HEAD_BYTES. */
static void write_big(const char *path, int n, uint64_t t0_us)
{
    struct pcapw_file *w = pcapw_open_or_die(path, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        char body[1000];
        int k = snprintf(body, sizeof body, "big%06d ", i);
        for (size_t j = (size_t)k; j < sizeof body; j++) {
            x = x * 1103515245u + 12345u;
            body[j] = j % 2 ? (char)('a' + (x >> 16) % 26) : (char)('a' + j % 26);
        }
        frame_bytes(body, sizeof body, 80);
        put(w, (t0_us + (uint64_t)i * 1000u) * 1000u);
    }
    CHECK_EQ(pcapw_close(w, 0), 0);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static struct source *open_cfg(const char *const *files, int n, const char *filter, char *err,
                               size_t err_len, enum source_file_error *why)
{
    struct source_file_config cfg = { files, n, filter };
    return source_file_open(&cfg, err, err_len, why);
}

/* Read s to its end as words: "INPUT:PAYLOAD" for a packet (INPUT the file's base name,
 * "-" for standard input), "T:INPUT" for an input that ended truncated, "E" for an
 * error. */
static void run_log(struct source *s, char *log, size_t len)
{
    size_t used = 0;
    log[0] = '\0';
    for (int guard = 0; guard < 100000 && used < len; guard++) {
        struct source_packet p;
        char err[700] = "", word[200];
        enum source_event ev = source_next(s, &p, err, sizeof err);
        if (ev == SOURCE_END)
            break;
        if (ev == SOURCE_PACKET) {
            struct dec_pkt d;
            if (dec_packet(p.linktype, p.data, p.caplen, p.wire_len, &d) == DEC_TCP)
                snprintf(word, sizeof word, "%s:%.*s", base_name(p.input),
                         (int)d.payload_len, (const char *)d.payload);
            else
                snprintf(word, sizeof word, "%s:?", base_name(p.input));
        } else if (ev == SOURCE_TRUNCATED) {
            const char *colon = strchr(err, ':');
            char path[600];
            snprintf(path, sizeof path, "%.*s", colon ? (int)(colon - err) : 0, err);
            snprintf(word, sizeof word, "T:%.190s", base_name(path));
        } else {
            snprintf(word, sizeof word, "E");
        }
        used += (size_t)snprintf(log + used, len - used, "%s%s", used ? " " : "", word);
        if (ev == SOURCE_ERROR)
            break;
    }
}

/* Open the inputs (with a filter, or NULL), read them to the end and compare the log. */
static void expect_log(const char *const *files, int n, const char *filter, const char *want)
{
    char err[700] = "", log[8192];
    enum source_file_error why;
    struct source *s = open_cfg(files, n, filter, err, sizeof err, &why);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    run_log(s, log, sizeof log);
    CHECK_STR(log, want);
    source_free(s);
}

/* What a source gave, in short: its packets hashed in order, and how it ended. */
struct digest {
    uint64_t packets, hash;
    enum source_event last;   /* SOURCE_END, or the last TRUNCATED or ERROR event */
    char err[700];            /* its message */
};

static void run_digest(struct source *s, struct digest *d)
{
    memset(d, 0, sizeof *d);
    d->hash = 0xcbf29ce484222325ull;
    for (int guard = 0; guard < 1000000; guard++) {
        struct source_packet p;
        char err[700] = "";
        enum source_event ev = source_next(s, &p, err, sizeof err);
        if (ev == SOURCE_PACKET) {
            d->packets++;
            for (uint32_t i = 0; i < p.caplen; i++)
                d->hash = (d->hash ^ p.data[i]) * 0x100000001b3ull;
            d->hash = (d->hash ^ p.ts_us) * 0x100000001b3ull;
            continue;
        }
        if (ev != SOURCE_END) {
            d->last = ev;
            snprintf(d->err, sizeof d->err, "%s", err);
        }
        if (ev == SOURCE_END || ev == SOURCE_ERROR)
            break;
    }
    if (d->last == SOURCE_PACKET) /* nothing but packets */
        d->last = SOURCE_END;
}

/* Open one input and digest it; fp (when not NULL) receives its fingerprint as it is at
 * the end. false when it did not open (err says why). */
static bool open_digest(const char *path, struct digest *d, struct source_input *fp,
                        char *err, size_t err_len)
{
    enum source_file_error why;
    struct source *s = open_cfg(&path, 1, NULL, err, err_len, &why);
    if (!s)
        return false;
    run_digest(s, d);
    int n;
    const struct source_input *in = source_inputs(s, &n);
    if (fp && n == 1)
        *fp = *in;
    source_free(s);
    return true;
}

/* ---- standard input ------------------------------------------------------------------ */

static int saved_stdin = -1;

/* Standard input becomes a pipe that a child process fills with the len bytes and then
 * closes. Returns the child, for stdin_restore(). */
static pid_t stdin_from(const void *data, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        close(fds[0]);
        const uint8_t *p = data;
        size_t done = 0;
        while (done < len) {
            ssize_t w = write(fds[1], p + done, len - done);
            if (w <= 0)
                _exit(1);
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    if (saved_stdin < 0)
        saved_stdin = dup(STDIN_FILENO);
    if (saved_stdin < 0 || dup2(fds[0], STDIN_FILENO) < 0)
        abort();
    close(fds[0]);
    return pid;
}

/* Standard input as it was before stdin_from(); the child is reaped (a pipe the source
 * did not read to its end kills it with SIGPIPE). */
static void stdin_restore(pid_t pid)
{
    if (dup2(saved_stdin, STDIN_FILENO) < 0)
        abort();
    int status;
    waitpid(pid, &status, 0);
}

/* A file's bytes on standard input. */
static pid_t stdin_from_file(const char *path)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    pid_t pid = stdin_from(data, len);
    free(data);
    return pid;
}

/* ---- the cases ------------------------------------------------------------------------ */

static void test_compressions(void)
{
    const char *plain = tmp("big.pcap");
    write_big(plain, 2500, 1000000000000ull);
    struct digest want, got;
    struct source_input want_fp, fp;
    char err[700], want_err[900];
    CHECK(open_digest(plain, &want, &want_fp, err, sizeof err));
    CHECK_EQ(want.packets, 2500);
    CHECK_EQ(want.last, SOURCE_END);
    CHECK_STR(want_fp.compression, "none");
    CHECK_EQ(want_fp.head_bytes, SOURCE_HEAD_BYTES);
    CHECK_EQ(want_fp.packets, 2500);
    CHECK_EQ(want_fp.size, size_of(plain));
    size_t plain_len;
    uint8_t *plain_bytes = slurp(plain, &plain_len);

    for (int c = 0; c < 3; c++) {
        char name[64];
        check_case("gzip, xz and zstd give the packets of the plain capture");
        snprintf(name, sizeof name, "big.pcap.%s", comp_ext[c]);
        const char *whole = tmp(name);
        compress_file(plain, whole, (enum comp)c, 1);
        memset(&fp, 0, sizeof fp);
        CHECK(open_digest(whole, &got, &fp, err, sizeof err));
        CHECK_EQ(got.packets, want.packets);
        CHECK_EQ(got.hash, want.hash);
        CHECK_EQ(got.last, SOURCE_END);
        CHECK_STR(fp.compression, comp_name[c]);
        CHECK_EQ(fp.size, size_of(whole));
        CHECK(fp.size < plain_len);
        CHECK_EQ(fp.head_bytes, SOURCE_HEAD_BYTES);
        CHECK_EQ(fp.head_hash, want_fp.head_hash);
        CHECK_EQ(fp.first_packet_us, want_fp.first_packet_us);

        check_case("two members, streams or frames one after the other are one capture");
        snprintf(name, sizeof name, "two.pcap.%s", comp_ext[c]);
        const char *two = tmp(name);
        compress_file(plain, two, (enum comp)c, 2);
        CHECK(open_digest(two, &got, NULL, err, sizeof err));
        CHECK_EQ(got.packets, want.packets);
        CHECK_EQ(got.hash, want.hash);
        CHECK_EQ(got.last, SOURCE_END);

        check_case("compressed data cut short: like a truncated capture");
        size_t n;
        uint8_t *z = slurp(whole, &n);
        snprintf(name, sizeof name, "cut.pcap.%s", comp_ext[c]);
        const char *cut = tmp(name);
        spill(cut, z, n * 2 / 3);
        CHECK(open_digest(cut, &got, &fp, err, sizeof err));
        CHECK(got.packets > 0 && got.packets < want.packets);
        CHECK_EQ(got.last, SOURCE_TRUNCATED);
        snprintf(want_err, sizeof want_err,
                 "%s: %s data cut short after %llu packets; analysed up to the break", cut,
                 comp_name[c], (unsigned long long)got.packets);
        CHECK_STR(got.err, want_err);
        CHECK_EQ(fp.packets, got.packets);

        check_case("corrupt compressed data mid-file: like a truncated capture");
        snprintf(name, sizeof name, "bad.pcap.%s", comp_ext[c]);
        const char *bad = tmp(name);
        for (size_t i = n / 2; i < n / 2 + 16; i++)
            z[i] ^= 0x5a;
        spill(bad, z, n);
        CHECK(open_digest(bad, &got, NULL, err, sizeof err));
        CHECK_EQ(got.last, SOURCE_TRUNCATED);
        snprintf(want_err, sizeof want_err, "%s: corrupt %s data (", bad, comp_name[c]);
        CHECK(strncmp(got.err, want_err, strlen(want_err)) == 0);
        CHECK(strstr(got.err, "; analysed up to the break") != NULL);
        if (got.last != SOURCE_TRUNCATED || strncmp(got.err, want_err, strlen(want_err)))
            fprintf(stderr, "    %s\n", got.err);
        free(z);
    }

    check_case("a broken checksum at the very end: every packet, then flagged");
    size_t n;
    uint8_t *z = squeeze(C_GZIP, plain_bytes, plain_len, &n);
    z[n - 8] ^= 1; /* the CRC32 of the gzip trailer */
    const char *crc = tmp("crc.pcap.gz");
    spill(crc, z, n);
    free(z);
    CHECK(open_digest(crc, &got, NULL, err, sizeof err));
    CHECK_EQ(got.packets, want.packets);
    CHECK_EQ(got.hash, want.hash);
    snprintf(want_err, sizeof want_err,
             "%s: corrupt gzip data (incorrect data check) after 2500 packets; analysed up "
             "to the break", crc);
    CHECK_STR(got.err, want_err);

    check_case("gzip data that breaks inside the head: refused at open");
    z = squeeze(C_GZIP, plain_bytes, 4000, &n);
    memset(z + 10, 0xff, n - 10);
    const char *early = tmp("early.pcap.gz");
    spill(early, z, n);
    free(z);
    char e2[700] = "";
    CHECK(!open_digest(early, &got, NULL, e2, sizeof e2));
    snprintf(want_err, sizeof want_err, "%s: corrupt gzip data (", early);
    CHECK(strncmp(e2, want_err, strlen(want_err)) == 0);

    check_case("xz data that needs more memory than the limit");
    z = squeeze(C_XZ, plain_bytes, 4000, &n);
    /* The block header after the 12-byte stream header: size, flags, the sizes when
     * present, then the LZMA2 filter (id 0x21, one property byte: the dictionary size)
     * and a CRC32. Property 40 is a 4 GiB dictionary. */
    size_t at = 12, hsize = ((size_t)z[at] + 1) * 4, q = at + 2;
    uint8_t flags = z[at + 1];
    for (int field = 0; field < 2; field++)
        if (flags & (field ? 0x80 : 0x40))
            while (z[q++] & 0x80)
                ;
    CHECK_EQ(z[q], 0x21);
    CHECK_EQ(z[q + 1], 1);
    z[q + 2] = 40;
    uint32_t sum = (uint32_t)crc32(0, z + at, (uInt)(hsize - 4));
    for (int i = 0; i < 4; i++)
        z[at + hsize - 4 + (size_t)i] = (uint8_t)(sum >> (8 * i));
    const char *hungry = tmp("hungry.pcap.xz");
    spill(hungry, z, n);
    free(z);
    CHECK(!open_digest(hungry, &got, NULL, err, sizeof err));
    snprintf(want_err, sizeof want_err, "%s: xz data needs 4096 MiB of memory, more than "
             "the 256 MiB limit", hungry);
    CHECK_STR(err, want_err);

    check_case("zstd data whose window is over the limit");
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    size_t cap = ZSTD_compressBound(4000);
    z = malloc(cap);
    ZSTD_inBuffer ib = { plain_bytes, 4000, 0 };
    ZSTD_outBuffer ob = { z, cap, 0 };
    CHECK_EQ(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    CHECK_EQ(z[4] & 0x20, 0); /* not a single segment: byte 5 is the window descriptor */
    z[5] = (31 - 10) << 3;    /* a 2 GiB window */
    const char *wide = tmp("wide.pcap.zst");
    spill(wide, z, ob.pos);
    free(z);
    CHECK(!open_digest(wide, &got, NULL, err, sizeof err));
    snprintf(want_err, sizeof want_err, "%s: zstd data needs a window over the 256 MiB limit",
             wide);
    CHECK_STR(err, want_err);
    free(plain_bytes);
}

static void test_refused_compressions(void)
{
    static const struct {
        const char *file, *name;
        uint8_t magic[8];
        size_t len;
    } cases[] = {
        { "x.pcap.bz2", "bzip2", { 'B', 'Z', 'h', '9', '1', 'A', 'Y', '&' }, 8 },
        { "x.pcap.lz4", "lz4", { 0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7 }, 7 },
        { "x.pcap.lz4l", "lz4", { 0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0 }, 8 },
        { "x.pcap.lz", "lzip", { 'L', 'Z', 'I', 'P', 1, 0x0c }, 6 },
        { "x.pcap.7z", "7z", { '7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4 }, 8 },
        { "x.pcap.zip", "zip", { 'P', 'K', 3, 4, 20, 0 }, 6 },
        { "x.pcap.Z", "compress", { 0x1f, 0x9d, 0x90 }, 3 },
    };
    check_case("other compressions are refused by name");
    char want[800];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = tmp(cases[i].file);
        uint8_t data[64];
        memset(data, 0, sizeof data);
        memcpy(data, cases[i].magic, cases[i].len);
        spill(path, data, sizeof data);
        snprintf(want, sizeof want, "%s: unsupported compression (%s)", path, cases[i].name);
        expect_open_error(&path, 1, want);
    }
    check_case("on standard input too");
    static const uint8_t bz[] = { 'B', 'Z', 'h', '9', '1', 'A', 'Y', '&', 'S', 'Y' };
    pid_t pid = stdin_from(bz, sizeof bz);
    const char *dash = "-";
    expect_open_error(&dash, 1, "-: unsupported compression (bzip2)");
    stdin_restore(pid);
}

static void test_stdin(void)
{
    check_case("a capture on standard input, shorter than the head");
    const char *small = tmp("small.pcap"), *small_gz = tmp("small.pcap.gz");
    static const uint64_t t3[] = { 1000, 2000, 3000 };
    write_tagged(small, "s", 3, t3, NULL, 0);
    compress_file(small, small_gz, C_GZIP, 1);
    const char *dash = "-";
    pid_t pid = stdin_from_file(small);
    char err[700] = "";
    enum source_file_error why;
    struct source *s = open_cfg(&dash, 1, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (s) {
        CHECK_STR(source_name(s), "-");
        char log[512];
        run_log(s, log, sizeof log);
        CHECK_STR(log, "-:s1 -:s2 -:s3");
        uint64_t done, total;
        source_progress(s, &done, &total);
        CHECK_EQ(total, 0); /* a pipe: unknown */
        CHECK_EQ(done, size_of(small));
        int n;
        const struct source_input *in = source_inputs(s, &n);
        CHECK_EQ(n, 1);
        CHECK_STR(in->path, "-");
        CHECK_EQ(in->size, 0);
        CHECK_EQ(in->packets, 3);
        CHECK_EQ(source_stats(s)->files, 1);
        source_free(s);
    }
    stdin_restore(pid);

    check_case("gzip on a pipe");
    pid = stdin_from_file(small_gz);
    expect_log(&dash, 1, NULL, "-:s1 -:s2 -:s3");
    stdin_restore(pid);

    check_case("a pipe longer than the head, plain and xz");
    const char *big = tmp("pipe-big.pcap"), *big_xz = tmp("pipe-big.pcap.xz");
    write_big(big, 2500, 2000000000000ull);
    compress_file(big, big_xz, C_XZ, 1);
    struct digest want, got;
    struct source_input want_fp, fp;
    CHECK(open_digest(big, &want, &want_fp, err, sizeof err));
    for (int k = 0; k < 2; k++) {
        pid = stdin_from_file(k ? big_xz : big);
        memset(&fp, 0, sizeof fp);
        CHECK(open_digest("-", &got, &fp, err, sizeof err));
        CHECK_EQ(got.packets, 2500);
        CHECK_EQ(got.hash, want.hash);
        CHECK_EQ(got.last, SOURCE_END);
        CHECK_EQ(fp.head_bytes, SOURCE_HEAD_BYTES);
        CHECK_EQ(fp.head_hash, want_fp.head_hash);
        CHECK_EQ(fp.first_packet_us, want_fp.first_packet_us);
        CHECK_STR(fp.compression, k ? "xz" : "none");
        CHECK_EQ(fp.size, 0);
        stdin_restore(pid);
    }

    check_case("standard input redirected from a file: its size is known");
    int fd = open(small, O_RDONLY);
    if (saved_stdin < 0)
        saved_stdin = dup(STDIN_FILENO);
    CHECK(fd >= 0 && dup2(fd, STDIN_FILENO) == STDIN_FILENO);
    close(fd);
    CHECK(open_digest("-", &got, &fp, err, sizeof err));
    CHECK_EQ(got.packets, 3);
    CHECK_EQ(fp.size, size_of(small));
    CHECK(dup2(saved_stdin, STDIN_FILENO) == STDIN_FILENO);

    check_case("standard input merged with a file");
    const char *even = tmp("even.pcap");
    static const uint64_t te[] = { 1500, 2500 };
    write_tagged(even, "e", 2, te, NULL, 0);
    pid = stdin_from_file(small);
    const char *mixed[] = { even, "-" };
    expect_log(mixed, 2, NULL, "-:s1 even.pcap:e1 -:s2 even.pcap:e2 -:s3");
    stdin_restore(pid);

    check_case("standard input twice");
    const char *twice[] = { "-", small, "-" };
    s = open_cfg(twice, 3, NULL, err, sizeof err, &why);
    CHECK(s == NULL);
    CHECK_EQ(why, SOURCE_FILE_BAD_INPUT);
    CHECK_STR(err, "-: standard input given 2 times; it can be read once");

    check_case("an empty standard input");
    pid = stdin_from("", 0);
    s = open_cfg(&dash, 1, NULL, err, sizeof err, &why);
    CHECK(s == NULL);
    CHECK(strncmp(err, "-: not a pcap or pcapng file (", 30) == 0);
    stdin_restore(pid);
}

static void test_fingerprints(void)
{
    check_case("x.pcap, x.pcap.gz and x.pcap on a pipe have one fingerprint");
    const char *x = tmp("x.pcap"), *xgz = tmp("x.pcap.gz"), *y = tmp("y.pcap"),
               *e = tmp("fp-empty.pcap");
    static const uint64_t tx[] = { 1700000000000001ull, 1700000000000002ull,
                                   1700000000000003ull };
    write_tagged(x, "x", 3, tx, NULL, 0);
    write_tagged(y, "y", 3, tx, NULL, 0);
    compress_file(x, xgz, C_GZIP, 1);
    struct pcapw_file *w = pcapw_open_or_die(e, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    CHECK_EQ(pcapw_close(w, 0), 0);
    pid_t pid = stdin_from_file(x);
    const char *files[] = { x, xgz, "-", y, e };
    char err[700] = "";
    enum source_file_error why;
    struct source *s = open_cfg(files, 5, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (!s) {
        stdin_restore(pid);
        return;
    }
    int n;
    const struct source_input *in = source_inputs(s, &n);
    CHECK_EQ(n, 5);
    for (int i = 0; i < n; i++) {
        CHECK(in[i].path == files[i]);
        CHECK_EQ(in[i].linktype, DLT_EN10MB);
        CHECK_EQ(in[i].packets, 0);
    }
    for (int i = 1; i < 4; i++) {
        CHECK_EQ(in[i].first_packet_us, 1700000000000001ull);
        CHECK_EQ(in[i].head_bytes, size_of(x));
        if (i < 3)
            CHECK_EQ(in[i].head_hash, in[0].head_hash);
    }
    CHECK(in[3].head_hash != in[0].head_hash);
    CHECK_EQ(in[0].size, size_of(x));
    CHECK_EQ(in[1].size, size_of(xgz));
    CHECK_EQ(in[2].size, 0);
    CHECK_STR(in[0].compression, "none");
    CHECK_STR(in[1].compression, "gzip");
    CHECK_STR(in[2].compression, "none");
    CHECK_EQ(in[4].first_packet_us, 0);
    CHECK_EQ(in[4].head_bytes, 24);
    char want_name[3000];
    snprintf(want_name, sizeof want_name, "%s %s - %s %s", x, xgz, y, e);
    CHECK_STR(source_name(s), want_name);
    char log[2048];
    run_log(s, log, sizeof log);
    snprintf(want_name, sizeof want_name,
             "x.pcap:x1 x.pcap.gz:x1 -:x1 y.pcap:y1 x.pcap:x2 x.pcap.gz:x2 -:x2 y.pcap:y2 "
             "x.pcap:x3 x.pcap.gz:x3 -:x3 y.pcap:y3");
    CHECK_STR(log, want_name);
    in = source_inputs(s, &n);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(in[i].packets, 3);
    CHECK_EQ(in[4].packets, 0);
    CHECK_EQ(source_stats(s)->files, 5);
    source_free(s);
    stdin_restore(pid);
}

static void test_filter(void)
{
    check_case("a BPF filter keeps the matching packets only");
    const char *f = tmp("filter.pcap");
    static const uint64_t t4[] = { 1000, 2000, 3000, 4000 };
    static const uint16_t ports[] = { 80, 8080, 80, 8080 };
    write_tagged(f, "p", 4, t4, ports, 0);
    char err[700] = "";
    enum source_file_error why;
    struct source *s = open_cfg(&f, 1, "tcp port 8080", err, sizeof err, &why);
    CHECK(s != NULL);
    if (s) {
        char log[512];
        run_log(s, log, sizeof log);
        CHECK_STR(log, "filter.pcap:p2 filter.pcap:p4");
        CHECK_EQ(source_stats(s)->packets, 2);
        int n;
        const struct source_input *in = source_inputs(s, &n);
        CHECK_EQ(in->packets, 2);
        CHECK_EQ(in->first_packet_us, 1000); /* the first record, filtered out or not */
        source_free(s);
    }
    expect_log(&f, 1, "tcp port 80", "filter.pcap:p1 filter.pcap:p3");
    expect_log(&f, 1, "udp", "");

    check_case("the filter on standard input, whose first record it rejects");
    pid_t pid = stdin_from_file(f);
    const char *dash = "-";
    expect_log(&dash, 1, "tcp port 8080", "-:p2 -:p4");
    stdin_restore(pid);

    check_case("the filter on merged inputs");
    const char *g = tmp("filter2.pcap");
    static const uint64_t t2[] = { 1500, 3500 };
    static const uint16_t p2[] = { 8080, 80 };
    write_tagged(g, "q", 2, t2, p2, 0);
    const char *both[] = { f, g };
    expect_log(both, 2, "dst port 8080", "filter2.pcap:q1 filter.pcap:p2 filter.pcap:p4");

    check_case("a filter that does not compile");
    s = open_cfg(&f, 1, "tcp port", err, sizeof err, &why);
    CHECK(s == NULL);
    CHECK_EQ(why, SOURCE_FILE_BAD_FILTER);
    CHECK(strncmp(err, "filter 'tcp port': ", 19) == 0 && strlen(err) > 19);
    CHECK(strchr(err, '\n') == NULL);

    check_case("a filter that does not compile for one input's link type");
    const char *raw = tmp("filter-raw.pcap");
    struct pcapw_file *w = pcapw_open_or_die(raw, PCAPW_PCAP, PCAPW_LINK_RAW, 0);
    pcapw_init(&pk);
    pcapw_append(&pk, "r1", 2);
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = 1, .dport = 2 });
    pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = "10.0.0.1", .dst = "10.0.0.2" });
    put(w, 1000);
    CHECK_EQ(pcapw_close(w, 0), 0);
    const char *eth_raw[] = { f, raw };
    s = open_cfg(eth_raw, 2, "ether src 02:99:99:99:99:99", err, sizeof err, &why);
    CHECK(s == NULL);
    CHECK_EQ(why, SOURCE_FILE_BAD_FILTER);
    CHECK(strncmp(err, "filter 'ether src 02:99:99:99:99:99': ", 38) == 0);
    CHECK(strchr(err, '\n') == NULL);
    expect_log(&f, 1, "ether src 02:99:99:99:99:99", "");
}

static void test_merge(void)
{
    char name[64];
    check_case("a capture split by alternating packets, given in reverse order");
    const char *a = tmp("alt-a.pcap"), *b = tmp("alt-b.pcap");
    static const uint64_t ta[] = { 1, 3, 5, 7, 9 }, tb[] = { 2, 4, 6, 8, 10 };
    write_tagged(a, "a", 5, ta, NULL, 0);
    write_tagged(b, "b", 5, tb, NULL, 0);
    const char *ba[] = { b, a };
    expect_log(ba, 2, NULL,
               "alt-a.pcap:a1 alt-b.pcap:b1 alt-a.pcap:a2 alt-b.pcap:b2 alt-a.pcap:a3 "
               "alt-b.pcap:b3 alt-a.pcap:a4 alt-b.pcap:b4 alt-a.pcap:a5 alt-b.pcap:b5");

    check_case("a capture split in halves, given in reverse order");
    const char *h1 = tmp("half1.pcap"), *h2 = tmp("half2.pcap");
    static const uint64_t th1[] = { 1, 2, 3 }, th2[] = { 4, 5, 6 };
    write_tagged(h1, "h", 3, th1, NULL, 0);
    write_tagged(h2, "k", 3, th2, NULL, 0);
    const char *h21[] = { h2, h1 };
    char err[700];
    enum source_file_error why;
    struct source *s = open_cfg(h21, 2, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (s) {
        char log[512];
        run_log(s, log, sizeof log);
        CHECK_STR(log, "half1.pcap:h1 half1.pcap:h2 half1.pcap:h3 half2.pcap:k1 "
                       "half2.pcap:k2 half2.pcap:k3");
        CHECK_EQ(source_stats(s)->peak_open, 1);
        CHECK_EQ(source_stats(s)->files, 2);
        uint64_t done, total;
        source_progress(s, &done, &total);
        CHECK_EQ(total, size_of(h1) + size_of(h2));
        CHECK_EQ(done, total);
        source_free(s);
    }

    check_case("rotated files given as c1 c10 c2");
    const char *c1 = tmp("c1.pcap"), *c2 = tmp("c2.pcap"), *c10 = tmp("c10.pcap");
    static const uint64_t tc1[] = { 10, 11 }, tc2[] = { 20, 21 }, tc10[] = { 100, 101 };
    write_tagged(c1, "c1-", 2, tc1, NULL, 0);
    write_tagged(c2, "c2-", 2, tc2, NULL, 0);
    write_tagged(c10, "c10-", 2, tc10, NULL, 0);
    const char *rot[] = { c1, c10, c2 };
    expect_log(rot, 3, NULL, "c1.pcap:c1-1 c1.pcap:c1-2 c2.pcap:c2-1 c2.pcap:c2-2 "
                             "c10.pcap:c10-1 c10.pcap:c10-2");

    check_case("equal times: the input given first goes first");
    const char *x = tmp("tie-x.pcap"), *y = tmp("tie-y.pcap");
    static const uint64_t tx[] = { 1, 2, 2, 3 }, ty[] = { 2, 2, 3 };
    write_tagged(x, "x", 4, tx, NULL, 0);
    write_tagged(y, "y", 3, ty, NULL, 0);
    const char *xy[] = { x, y }, *yx[] = { y, x };
    expect_log(xy, 2, NULL, "tie-x.pcap:x1 tie-x.pcap:x2 tie-x.pcap:x3 tie-y.pcap:y1 "
                            "tie-y.pcap:y2 tie-x.pcap:x4 tie-y.pcap:y3");
    expect_log(yx, 2, NULL, "tie-x.pcap:x1 tie-y.pcap:y1 tie-y.pcap:y2 tie-x.pcap:x2 "
                            "tie-x.pcap:x3 tie-y.pcap:y3 tie-x.pcap:x4");

    check_case("records of one input stay in their file order");
    const char *u = tmp("unsorted.pcap"), *v = tmp("sorted.pcap");
    static const uint64_t tu[] = { 5, 3, 8 }, tv[] = { 4, 6 };
    write_tagged(u, "u", 3, tu, NULL, 0);
    write_tagged(v, "v", 2, tv, NULL, 0);
    const char *uv[] = { u, v };
    expect_log(uv, 2, NULL, "sorted.pcap:v1 unsorted.pcap:u1 unsorted.pcap:u2 sorted.pcap:v2 "
                            "unsorted.pcap:u3");

    check_case("a truncated input ends alone; the merge goes on");
    const char *t = tmp("mtrunc.pcap"), *o = tmp("mother.pcap");
    static const uint64_t tt[] = { 1, 3, 5 }, to[] = { 2, 4, 6 };
    write_tagged(t, "t", 3, tt, NULL, 10);
    write_tagged(o, "o", 3, to, NULL, 0);
    const char *to_[] = { t, o };
    s = open_cfg(to_, 2, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (s) {
        expect_packet(s, t, 1, DLT_EN10MB, "t1", 56, 56);
        expect_packet(s, o, 2, DLT_EN10MB, "o1", 56, 56);
        expect_packet(s, t, 3, DLT_EN10MB, "t2", 56, 56);
        char want[800];
        snprintf(want, sizeof want,
                 "%s: truncated record after 2 packets; analysed up to the break", t);
        expect_event(s, SOURCE_TRUNCATED, want);
        CHECK(source_stats(s)->truncated);
        expect_packet(s, o, 4, DLT_EN10MB, "o2", 56, 56);
        expect_packet(s, o, 6, DLT_EN10MB, "o3", 56, 56);
        expect_event(s, SOURCE_END, NULL);
        CHECK_EQ(source_stats(s)->packets, 5);
        source_free(s);
    }

    check_case("an empty capture in a merge");
    const char *e = tmp("mempty.pcap");
    struct pcapw_file *w = pcapw_open_or_die(e, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    CHECK_EQ(pcapw_close(w, 0), 0);
    const char *oe[] = { o, e };
    expect_log(oe, 2, NULL, "mother.pcap:o1 mother.pcap:o2 mother.pcap:o3");

    check_case("five overlapping inputs: time order, ties by input, file order kept");
    enum { K = 5, PER = 60 };
    const char *m[K];
    uint32_t r = 99;
    for (int k = 0; k < K; k++) {
        uint64_t ts[PER], now = 1000;
        for (int i = 0; i < PER; i++) {
            r = r * 1103515245u + 12345u;
            now += (r >> 16) % 3; /* steps of 0, 1 or 2 us: many ties */
            ts[i] = now;
        }
        snprintf(name, sizeof name, "five%d.pcap", k);
        m[k] = tmp(name);
        snprintf(name, sizeof name, "m%d-", k);
        write_tagged(m[k], name, PER, ts, NULL, 0);
    }
    s = open_cfg(m, K, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (s) {
        uint64_t last_ts = 0;
        int last_k = 0, seen[K] = { 0 }, total = 0, bad_order = 0, bad_file = 0;
        struct source_packet p;
        while (source_next(s, &p, err, sizeof err) == SOURCE_PACKET) {
            int k = 0;
            while (k < K && p.input != m[k])
                k++;
            if (k == K)
                break;
            if (p.ts_us < last_ts || (p.ts_us == last_ts && k < last_k))
                bad_order++;
            struct dec_pkt d;
            char want[32];
            snprintf(want, sizeof want, "m%d-%d", k, seen[k] + 1);
            if (dec_packet(p.linktype, p.data, p.caplen, p.wire_len, &d) != DEC_TCP ||
                d.payload_len != strlen(want) || memcmp(d.payload, want, d.payload_len))
                bad_file++;
            seen[k]++;
            total++;
            last_ts = p.ts_us;
            last_k = k;
        }
        CHECK_EQ(total, K * PER);
        CHECK_EQ(bad_order, 0);
        CHECK_EQ(bad_file, 0);
        CHECK(source_stats(s)->peak_open <= K);
        source_free(s);
    }
}

static void test_lazy_open(void)
{
    check_case("50 rotated inputs: opened one at a time, read in time order");
    enum { N = 50 };
    const char *files[N];
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "rot%d.pcap", i);
        files[i] = tmp(name);
        uint64_t ts[3] = { 1000u * (uint64_t)i + 1, 1000u * (uint64_t)i + 2,
                           1000u * (uint64_t)i + 3 };
        snprintf(name, sizeof name, "r%d-", i);
        write_tagged(files[i], name, 3, ts, NULL, 0);
    }
    /* given shuffled, as a shell glob sorts rot1 rot10 rot11 ... rot2 */
    const char *given[N];
    for (int i = 0; i < N; i++)
        given[i] = files[(i * 7) % N];
    char err[700];
    enum source_file_error why;
    struct source *s = open_cfg(given, N, NULL, err, sizeof err, &why);
    CHECK(s != NULL);
    if (!s)
        return;
    uint64_t last_ts = 0;
    int got = 0, out_of_order = 0;
    struct source_packet p;
    while (source_next(s, &p, err, sizeof err) == SOURCE_PACKET) {
        if (p.ts_us < last_ts)
            out_of_order++;
        last_ts = p.ts_us;
        got++;
        CHECK(source_stats(s)->peak_open <= 2);
    }
    CHECK_EQ(got, 3 * N);
    CHECK_EQ(out_of_order, 0);
    const struct source_stats *st = source_stats(s);
    CHECK(st->peak_open >= 1 && st->peak_open <= 2);
    CHECK_EQ(st->files, N);
    CHECK_EQ(st->packets, 3 * N);
    source_free(s);
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
    test_compressions();
    test_refused_compressions();
    test_stdin();
    test_fingerprints();
    test_filter();
    test_merge();
    test_lazy_open();
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
    return check_done("test_cap");
}
