/* test_evidence.c: the evidence store (analyzer/pipeline/evidence.h) in isolation: flows
 * built by hand, frames built with pcapw, files read back with libpcap. Then the
 * pipeline with --save-pcap's config on a capture written here. Each case works in a
 * directory of its own under TMPDIR (default /tmp), removed at the end.
 */
#define _GNU_SOURCE /* unshare(), for the full-disk case */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "evidence.h"
#include "limits.h"
#include "pcapw.h"
#include "pipeline.h"
#include "source_file.h"

/* 2026-12-02T13:02:11Z */
#define T0 1796216531000000ull
#define SEC 1000000ull
#define DAY (86400ull * SEC)

/* ---- scratch directories ------------------------------------------------------------ */

static char *make_dir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/test_evidence.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        abort();
    }
    return strdup(d);
}

/* Remove a scratch directory and what a case left in it (one level of subdirectory). */
static void remove_dir(char *dir)
{
    chmod(dir, 0755);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, one per line: what a case expects to find there. */
static const char *listing(const char *dir)
{
    static char out[8192];
    char *names[256];
    int n = 0;
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return "(cannot list)";
    struct dirent *de;
    while ((de = readdir(d)) && n < 256)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + len, sizeof out - len, "%s\n", names[i]);
        if (w > 0 && (size_t)w < sizeof out - len)
            len += (size_t)w;
        free(names[i]);
    }
    return out;
}

static uint64_t file_size(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* A file of `bytes` zero bytes (an earlier run's evidence: only its name and size
 * matter to the bounds). */
static void put_file(const char *dir, const char *name, size_t bytes)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        abort();
    }
    static const uint8_t zero[4096];
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof zero ? bytes - done : sizeof zero;
        fwrite(zero, 1, n, f);
        done += n;
    }
    fclose(f);
}

/* ---- flows and frames --------------------------------------------------------------- */

/* A flow as the flow table would hand it over: key endpoint 0 is the client. */
static struct flow mkflow(uint64_t id, uint32_t slot, const char *cli, uint16_t cport,
                          const char *srv, uint16_t sport, uint64_t first_us)
{
    struct flow f;
    memset(&f, 0, sizeof f);
    int af = strchr(cli, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, cli, f.key.addr[0]) != 1 || inet_pton(af, srv, f.key.addr[1]) != 1)
        abort();
    f.key.family = af == AF_INET ? 4 : 6;
    f.key.port[0] = cport;
    f.key.port[1] = sport;
    f.id = id;
    f.slot = slot;
    f.first_seen_us = first_us;
    f.last_seen_us = first_us;
    f.client_ep = 0;
    return f;
}

/* What a case handed in, to compare with what a file holds. */
struct rec {
    uint64_t ts_us;
    uint32_t caplen, wire_len;
    uint8_t *data;
};

struct recs {
    struct rec v[1200];
    size_t n;
};

static void recs_clear(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].data);
    r->n = 0;
}

static struct pcapw_pkt frame_buf;

/* A TCP frame of flow f on link `link` (DLT_EN10MB, DLT_LINUX_SLL2 or DLT_RAW) from the
 * client (c2s) or the server, with `payload` bytes of payload (filled with `fill`). */
static const uint8_t *tcp_frame(const struct flow *f, int link, bool c2s, uint8_t flags,
                                size_t payload, uint8_t fill, size_t *len)
{
    struct pcapw_pkt *p = &frame_buf;
    pcapw_init(p);
    uint8_t data[1500];
    memset(data, fill, sizeof data);
    for (size_t done = 0; done < payload;) {
        size_t n = payload - done < sizeof data ? payload - done : sizeof data;
        pcapw_append(p, data, n);
        done += n;
    }
    int a = c2s ? 0 : 1;
    pcapw_tcp(p, &(struct pcapw_tcp){ .sport = f->key.port[a], .dport = f->key.port[!a],
                                      .seq = 1000, .ack = 2000, .flags = flags });
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    int af = f->key.family == 4 ? AF_INET : AF_INET6;
    inet_ntop(af, f->key.addr[a], src, sizeof src);
    inet_ntop(af, f->key.addr[!a], dst, sizeof dst);
    uint16_t type = af == AF_INET ? PCAPW_ETH_IPV4 : PCAPW_ETH_IPV6;
    if (af == AF_INET)
        pcapw_ipv4(p, &(struct pcapw_ip4){ .src = src, .dst = dst });
    else
        pcapw_ipv6(p, &(struct pcapw_ip6){ .src = src, .dst = dst, .next = 6 });
    if (link == DLT_EN10MB)
        pcapw_ether(p, type, NULL, 0);
    else if (link == DLT_LINUX_SLL2)
        pcapw_sll2(p, type);
    *len = pcapw_len(p);
    return pcapw_data(p);
}

/* Hand one packet of flow f to ev; remember it in `kept` when the case expects it in
 * the file. caplen 0: the whole frame. */
static void feed(struct evidence *ev, const struct flow *f, int link, uint64_t ts_us,
                 const uint8_t *data, size_t len, uint32_t caplen, struct recs *kept)
{
    struct source_packet sp = {
        .ts_us = ts_us,
        .caplen = caplen ? caplen : (uint32_t)len,
        .wire_len = (uint32_t)len,
        .linktype = link,
        .data = data,
        .input = "test",
    };
    evidence_packet(ev, f, &sp);
    if (kept) {
        if (kept->n >= sizeof kept->v / sizeof kept->v[0])
            abort();
        uint32_t c = sp.caplen < EVIDENCE_SNAPLEN ? sp.caplen : EVIDENCE_SNAPLEN;
        struct rec *r = &kept->v[kept->n++];
        *r = (struct rec){ ts_us, c, sp.wire_len, malloc(c ? c : 1) };
        memcpy(r->data, data, c);
    }
}

/* n TCP frames of `payload` bytes each, alternating directions, 1 ms apart from t. */
static void feed_n(struct evidence *ev, const struct flow *f, int link, uint64_t t, int n,
                   size_t payload, struct recs *kept)
{
    for (int i = 0; i < n; i++) {
        size_t len;
        const uint8_t *d = tcp_frame(f, link, i % 2 == 0, 0x18, payload, (uint8_t)i, &len);
        feed(ev, f, link, t + (uint64_t)i * 1000u, d, len, 0, kept);
    }
}

/* The capture dir/name read with libpcap must hold exactly `want`, with link type
 * `dlt` and snaplen EVIDENCE_SNAPLEN. */
static void check_file(const char *dir, const char *name, const struct recs *want, int dlt)
{
    char p[1024], err[PCAP_ERRBUF_SIZE];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO,
                                                         err);
    CHECK(pc != NULL);
    if (!pc) {
        fprintf(stderr, "    %s: %s\n", p, err);
        return;
    }
    CHECK_EQ(pcap_datalink(pc), dlt);
    CHECK_EQ(pcap_snapshot(pc), EVIDENCE_SNAPLEN);
    CHECK_EQ(pcap_get_tstamp_precision(pc), PCAP_TSTAMP_PRECISION_MICRO);
    struct pcap_pkthdr *h;
    const u_char *data;
    size_t n = 0, bad = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        if (n < want->n) {
            const struct rec *r = &want->v[n];
            uint64_t ts = (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec;
            if (ts != r->ts_us || h->caplen != r->caplen || h->len != r->wire_len ||
                memcmp(data, r->data, r->caplen) != 0) {
                if (bad++ == 0)
                    fprintf(stderr, "    record %zu: ts %llu caplen %u len %u, expected "
                            "ts %llu caplen %u len %u\n", n, (unsigned long long)ts,
                            h->caplen, h->len, (unsigned long long)r->ts_us, r->caplen,
                            r->wire_len);
            }
        }
        n++;
    }
    CHECK_EQ(rc, PCAP_ERROR_BREAK); /* the end of the file, not a broken record */
    CHECK_EQ(n, want->n);
    CHECK_EQ(bad, 0);
    pcap_close(pc);
    uint64_t bytes = 24;
    for (size_t i = 0; i < want->n; i++)
        bytes += 16u + want->v[i].caplen;
    CHECK_EQ(file_size(dir, name), bytes);
}

static struct evidence *open_ev(const char *dir, uint32_t max_files, uint64_t max_bytes,
                                uint64_t hold_bytes, uint32_t n_slots)
{
    struct evidence_config cfg;
    evidence_config_defaults(&cfg, dir);
    if (max_files)
        cfg.max_files = max_files;
    if (max_bytes)
        cfg.max_bytes = max_bytes;
    if (hold_bytes)
        cfg.hold_bytes = hold_bytes;
    char err[512];
    struct evidence *ev = evidence_new(&cfg, n_slots, err, sizeof err);
    if (!ev) {
        fprintf(stderr, "evidence_new: %s\n", err);
        abort();
    }
    return ev;
}

/* ---- cases -------------------------------------------------------------------------- */

static void test_problem_flow_ether(void)
{
    check_case("a problem flow on Ethernet: its file, its name, its records");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 64);
    struct flow f = mkflow(1, 7, "10.0.0.1", 40000, "10.0.0.2", 80, T0 + 123456);
    struct recs kept = { .n = 0 };
    size_t len;
    const uint8_t *d = tcp_frame(&f, DLT_EN10MB, true, 0x02, 0, 0, &len);     /* SYN */
    feed(ev, &f, DLT_EN10MB, T0 + 123456, d, len, 0, &kept);
    d = tcp_frame(&f, DLT_EN10MB, false, 0x12, 0, 0, &len);                    /* SYN-ACK */
    feed(ev, &f, DLT_EN10MB, T0 + 123500, d, len, 0, &kept);
    d = tcp_frame(&f, DLT_EN10MB, true, 0x18, 200, 'q', &len);                 /* request */
    feed(ev, &f, DLT_EN10MB, T0 + 200000, d, len, 0, &kept);
    d = tcp_frame(&f, DLT_EN10MB, true, 0x18, 900, 'b', &len);  /* body, cut by snaplen */
    feed(ev, &f, DLT_EN10MB, T0 + 1200000, d, len, 96, &kept);
    d = tcp_frame(&f, DLT_EN10MB, false, 0x18, 40, 'r', &len);                 /* 200 */
    feed(ev, &f, DLT_EN10MB, T0 + 1300000, d, len, 0, &kept);
    /* capture time going back a little (multi-queue capture): kept as it came */
    d = tcp_frame(&f, DLT_EN10MB, true, 0x11, 0, 0, &len);
    feed(ev, &f, DLT_EN10MB, T0 + 1299990, d, len, 0, &kept);
    CHECK(evidence_stats(ev)->held_bytes_now > 0);
    CHECK_EQ(evidence_flow_done(ev, &f, V_TIMEOUT_FALLBACK), EVIDENCE_WRITTEN);

    const char *name = "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap";
    char want[256];
    snprintf(want, sizeof want, "%s\n", name);
    CHECK_STR(listing(dir), want);
    check_file(dir, name, &kept, DLT_EN10MB);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->files_written, 1);
    CHECK_EQ(st->files_on_disk, 1);
    CHECK_EQ(st->bytes_on_disk, file_size(dir, name));
    CHECK_EQ(st->held_bytes_now, 0);
    CHECK_EQ(st->held_bytes_peak, 4096);
    CHECK_EQ(st->write_errors + st->files_removed + st->flows_cut + st->packets_not_held, 0);

    /* the file header as libpcap writes it: host byte order, version 2.4 */
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "rb");
    uint32_t hdr[6] = { 0 };
    CHECK(fp && fread(hdr, sizeof hdr, 1, fp) == 1);
    if (fp)
        fclose(fp);
    CHECK_EQ(hdr[0], 0xa1b2c3d4u);
    CHECK_EQ(hdr[1], 2u | 4u << 16);
    CHECK_EQ(hdr[4], EVIDENCE_SNAPLEN);
    CHECK_EQ(hdr[5], 1); /* LINKTYPE_ETHERNET */
    recs_clear(&kept);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_sll2_ipv6(void)
{
    check_case("IPv6 on Linux cooked v2: ':' becomes '.' in the name");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    struct flow f = mkflow(3, 15, "2001:db8::1", 50000, "2001:db8::2", 443, T0);
    struct recs kept = { .n = 0 };
    feed_n(ev, &f, DLT_LINUX_SLL2, T0, 5, 300, &kept);
    CHECK_EQ(evidence_flow_done(ev, &f, V_EXPECTATION_FAILED), EVIDENCE_WRITTEN);
    const char *name =
        "20261202T130211Z_2001.db8..1_50000_2001.db8..2_443_expectation_failed.pcap";
    char want[256];
    snprintf(want, sizeof want, "%s\n", name);
    CHECK_STR(listing(dir), want);
    check_file(dir, name, &kept, DLT_LINUX_SLL2);
    recs_clear(&kept);

    /* an IPv4-mapped address keeps its dotted tail */
    f = mkflow(4, 15, "::ffff:10.1.2.3", 1234, "2001:db8::2", 8080, T0 + 5 * SEC);
    feed_n(ev, &f, DLT_LINUX_SLL2, T0 + 5 * SEC, 2, 10, &kept);
    CHECK_EQ(evidence_flow_done(ev, &f, V_LATE_100), EVIDENCE_WRITTEN);
    CHECK(strstr(listing(dir),
                 "20261202T130216Z_..ffff.10.1.2.3_1234_2001.db8..2_8080_late_100.pcap\n"));
    recs_clear(&kept);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_raw_linktype(void)
{
    check_case("DLT_RAW is written as LINKTYPE_RAW (101) and read back as DLT_RAW");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    struct flow f = mkflow(1, 0, "192.0.2.1", 5555, "192.0.2.2", 80, T0);
    struct recs kept = { .n = 0 };
    feed_n(ev, &f, DLT_RAW, T0, 3, 50, &kept);
    CHECK_EQ(evidence_flow_done(ev, &f, V_NO_WAIT), EVIDENCE_WRITTEN);
    const char *name = "20261202T130211Z_192.0.2.1_5555_192.0.2.2_80_no_wait.pcap";
    check_file(dir, name, &kept, DLT_RAW);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "rb");
    uint32_t hdr[6] = { 0 };
    CHECK(fp && fread(hdr, sizeof hdr, 1, fp) == 1);
    if (fp)
        fclose(fp);
    CHECK_EQ(hdr[5], 101);
    recs_clear(&kept);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_not_saved(void)
{
    check_case("plain, continue_ok and no HTTP write nothing; every other verdict is saved");
    for (int v = 0; v < V_COUNT; v++)
        CHECK_EQ(evidence_verdict_saved((enum verdict)v),
                 v != V_NONE && v != V_PLAIN && v != V_CONTINUE_OK);
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    enum verdict quiet[] = { V_PLAIN, V_CONTINUE_OK, V_NONE };
    for (int i = 0; i < 3; i++) {
        struct flow f = mkflow((uint64_t)i + 1, (uint32_t)i, "10.0.0.1", 40000, "10.0.0.2",
                               80, T0);
        feed_n(ev, &f, DLT_EN10MB, T0, 4, 100, NULL);
        CHECK_EQ(evidence_flow_done(ev, &f, quiet[i]), EVIDENCE_NOT_KEPT);
    }
    /* a problem flow of which no packet was handed in */
    struct flow g = mkflow(9, 9, "10.0.0.1", 40001, "10.0.0.2", 80, T0);
    CHECK_EQ(evidence_flow_done(ev, &g, V_TIMEOUT_FALLBACK), EVIDENCE_NOT_KEPT);
    CHECK_STR(listing(dir), "");
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 0);
    CHECK_EQ(evidence_stats(ev)->files_written, 0);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_drop(void)
{
    check_case("a dropped flow frees its buffer, ignores its packets and writes nothing");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    struct flow f = mkflow(1, 2, "10.0.0.1", 40000, "10.0.0.2", 80, T0);
    feed_n(ev, &f, DLT_EN10MB, T0, 4, 100, NULL);
    CHECK(evidence_stats(ev)->held_bytes_now > 0);
    evidence_flow_drop(ev, &f);
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 0);
    feed_n(ev, &f, DLT_EN10MB, T0 + SEC, 4, 100, NULL);
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 0);
    CHECK_EQ(evidence_flow_done(ev, &f, V_TIMEOUT_FALLBACK), EVIDENCE_NOT_KEPT);
    CHECK_STR(listing(dir), "");
    /* the slot's next flow holds again */
    struct flow g = mkflow(2, 2, "10.0.0.1", 40001, "10.0.0.2", 80, T0 + 2 * SEC);
    struct recs kept = { .n = 0 };
    feed_n(ev, &g, DLT_EN10MB, T0 + 2 * SEC, 3, 100, &kept);
    CHECK_EQ(evidence_flow_done(ev, &g, V_INCOMPLETE), EVIDENCE_WRITTEN);
    check_file(dir, "20261202T130213Z_10.0.0.1_40001_10.0.0.2_80_incomplete.pcap", &kept,
               DLT_EN10MB);
    CHECK_EQ(evidence_stats(ev)->packets_not_held + evidence_stats(ev)->packets_cut, 0);
    recs_clear(&kept);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_same_name(void)
{
    check_case("a name already taken gets -2, -3; a restart counts those files too");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    for (uint64_t id = 1; id <= 3; id++) {
        struct flow f = mkflow(id, 1, "10.0.0.1", 40000, "10.0.0.2", 80, T0 + id * 1000);
        feed_n(ev, &f, DLT_EN10MB, T0 + id * 1000, 2, 10, NULL);
        CHECK_EQ(evidence_flow_done(ev, &f, V_TIMEOUT_FALLBACK), EVIDENCE_WRITTEN);
    }
    CHECK_STR(listing(dir),
              "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback-2.pcap\n"
              "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback-3.pcap\n"
              "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap\n");
    uint64_t bytes = evidence_stats(ev)->bytes_on_disk;
    evidence_free(ev);
    ev = open_ev(dir, 0, 0, 0, 16);
    CHECK_EQ(evidence_stats(ev)->files_on_disk, 3);
    CHECK_EQ(evidence_stats(ev)->bytes_on_disk, bytes);
    CHECK_EQ(evidence_stats(ev)->files_written, 0);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_flow_cap(void)
{
    check_case("per-flow cap: the file holds the head; flows_cut and packets_cut counted");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    struct flow f = mkflow(1, 3, "10.0.0.1", 40000, "10.0.0.2", 80, T0);
    struct recs kept = { .n = 0 };
    /* 1500-byte frames: 1516 bytes held each, 691 fit in 1 MiB */
    int fit = (int)(EVIDENCE_MAX_FLOW_BYTES / 1516u);
    CHECK_EQ(fit, 691);
    feed_n(ev, &f, DLT_EN10MB, T0, fit, 1446, &kept);
    CHECK_EQ(kept.v[0].caplen, 1500);
    feed_n(ev, &f, DLT_EN10MB, T0 + 10 * SEC, 309, 1446, NULL);
    /* a small packet after the cut is not kept either: the file has no hole */
    size_t len;
    const uint8_t *d = tcp_frame(&f, DLT_EN10MB, false, 0x11, 0, 0, &len);
    feed(ev, &f, DLT_EN10MB, T0 + 20 * SEC, d, len, 0, NULL);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->flows_cut, 1);
    CHECK_EQ(st->packets_cut, 310);
    CHECK(st->held_bytes_peak <= EVIDENCE_MAX_FLOW_BYTES);
    CHECK_EQ(st->held_bytes_now, (uint64_t)fit * 1516u); /* the slack was given back */
    CHECK_EQ(evidence_flow_done(ev, &f, V_BODY_AFTER_FINAL), EVIDENCE_WRITTEN);
    check_file(dir, "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_body_after_final.pcap",
               &kept, DLT_EN10MB);
    recs_clear(&kept);

    /* a record longer than the snaplen keeps EVIDENCE_SNAPLEN bytes and its wire length */
    struct flow g = mkflow(2, 4, "10.0.0.1", 40001, "10.0.0.2", 80, T0);
    size_t big = 300000;
    uint8_t *jumbo = malloc(big);
    for (size_t i = 0; i < big; i++)
        jumbo[i] = (uint8_t)(i * 7);
    feed(ev, &g, DLT_EN10MB, T0, jumbo, big, 0, &kept);
    CHECK_EQ(kept.v[0].caplen, EVIDENCE_SNAPLEN);
    CHECK_EQ(evidence_flow_done(ev, &g, V_BODY_AFTER_FINAL), EVIDENCE_WRITTEN);
    check_file(dir, "20261202T130211Z_10.0.0.1_40001_10.0.0.2_80_body_after_final.pcap",
               &kept, DLT_EN10MB);
    free(jumbo);
    recs_clear(&kept);
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 0);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_hold_budget(void)
{
    check_case("global budget: past it new packets are not held, and counted");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 50000, 16);
    struct flow a = mkflow(1, 0, "10.0.0.1", 40000, "10.0.0.2", 80, T0);
    struct flow b = mkflow(2, 1, "10.0.0.1", 40001, "10.0.0.2", 80, T0 + SEC);
    struct recs kept = { .n = 0 };
    /* a grows 4096, 8192, 16384, 32768, then to the budget, 50000: 32 records fit */
    feed_n(ev, &a, DLT_EN10MB, T0, 32, 1446, &kept);
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 50000);
    feed_n(ev, &a, DLT_EN10MB, T0 + SEC, 8, 1446, NULL);
    /* a stopped: its slack (50000 - 32 * 1516 = 1488) went back, too little for b */
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 32u * 1516u);
    feed_n(ev, &b, DLT_EN10MB, T0 + SEC, 5, 1446, NULL);
    /* a small packet of b would fit in what is left, but b keeps no hole either */
    size_t len;
    const uint8_t *d = tcp_frame(&b, DLT_EN10MB, true, 0x10, 0, 0, &len);
    feed(ev, &b, DLT_EN10MB, T0 + 2 * SEC, d, len, 0, NULL);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->packets_not_held, 8 + 5 + 1);
    CHECK_EQ(st->held_bytes_peak, 50000);
    CHECK_EQ(st->flows_cut, 0);
    CHECK_EQ(evidence_flow_done(ev, &b, V_TIMEOUT_FALLBACK), EVIDENCE_NOT_KEPT);
    CHECK_EQ(evidence_flow_done(ev, &a, V_TIMEOUT_FALLBACK), EVIDENCE_WRITTEN);
    check_file(dir, "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap",
               &kept, DLT_EN10MB);
    CHECK_STR(listing(dir),
              "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap\n");
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 0);
    recs_clear(&kept);
    /* the budget is free again: a new flow holds */
    struct flow c = mkflow(3, 2, "10.0.0.1", 40002, "10.0.0.2", 80, T0 + 3 * SEC);
    feed_n(ev, &c, DLT_EN10MB, T0 + 3 * SEC, 3, 1446, NULL);
    CHECK_EQ(evidence_stats(ev)->held_bytes_now, 8192);
    CHECK_EQ(evidence_stats(ev)->packets_not_held, 14);
    evidence_free(ev); /* with c still open */
    remove_dir(dir);
}

static void test_other_link(void)
{
    check_case("a packet of another link type than the flow's is counted and skipped");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    struct flow f = mkflow(1, 0, "10.0.0.1", 40000, "10.0.0.2", 80, T0);
    struct recs kept = { .n = 0 };
    feed_n(ev, &f, DLT_EN10MB, T0, 2, 100, &kept);
    feed_n(ev, &f, DLT_LINUX_SLL2, T0 + 5000, 1, 100, NULL);
    feed_n(ev, &f, DLT_EN10MB, T0 + 9000, 1, 100, &kept);
    CHECK_EQ(evidence_stats(ev)->packets_other_link, 1);
    CHECK_EQ(evidence_flow_done(ev, &f, V_UNSOLICITED_100), EVIDENCE_WRITTEN);
    check_file(dir, "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_unsolicited_100.pcap",
               &kept, DLT_EN10MB);
    recs_clear(&kept);
    evidence_free(ev);
    remove_dir(dir);
}

/* Write a problem flow of n 1500-byte frames starting at t; its verdict's result. */
static enum evidence_done write_flow(struct evidence *ev, uint64_t id, uint16_t cport,
                                     uint64_t t, int n)
{
    struct flow f = mkflow(id, (uint32_t)(id % 16), "10.0.0.1", cport, "10.0.0.2", 80, t);
    feed_n(ev, &f, DLT_EN10MB, t, n, 1446, NULL);
    return evidence_flow_done(ev, &f, V_TIMEOUT_FALLBACK);
}

/* What is not ours in the bounds cases' directories; none of it may go. */
static void put_foreign(const char *dir)
{
    put_file(dir, "notes.txt", 10);
    put_file(dir, "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_plain.pcap", 10);
    put_file(dir, "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_timeout_fallback.pcapng", 10);
    put_file(dir, "20200101T000000Z_10.0.0.1_99999_10.0.0.2_80_no_wait.pcap", 10);
    put_file(dir, "2020010T000000Z_10.0.0.1_1000_10.0.0.2_80_no_wait.pcap", 10);
    put_file(dir, "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_no_wait-0.pcap", 10);
    put_file(dir, "20200101T000000Z_host.example_1000_10.0.0.2_80_no_wait.pcap", 10);
    put_file(dir, ".evidence-1-1.tmp", 10);
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/20200101T000000Z_10.0.0.1_2000_10.0.0.2_80_no_wait.pcap", dir);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/20200101T000000Z_10.0.0.1_3000_10.0.0.2_80_no_wait.pcap", dir);
    snprintf(q, sizeof q, "%s/notes.txt", dir);
    CHECK(symlink(q, p) == 0);
}

/* put_foreign()'s names in listing() order: these, then ours (20260101T...), then
 * notes.txt */
static const char *const foreign_first =
    ".evidence-1-1.tmp\n"
    "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_no_wait-0.pcap\n"
    "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_plain.pcap\n"
    "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_timeout_fallback.pcapng\n"
    "20200101T000000Z_10.0.0.1_2000_10.0.0.2_80_no_wait.pcap\n"
    "20200101T000000Z_10.0.0.1_3000_10.0.0.2_80_no_wait.pcap\n"
    "20200101T000000Z_10.0.0.1_99999_10.0.0.2_80_no_wait.pcap\n"
    "20200101T000000Z_host.example_1000_10.0.0.2_80_no_wait.pcap\n"
    "2020010T000000Z_10.0.0.1_1000_10.0.0.2_80_no_wait.pcap\n";
static const char *const foreign_last = "notes.txt\n";

static void test_max_files(void)
{
    check_case("max_files: oldest first, an earlier run's files counted, foreign kept");
    char *dir = make_dir();
    put_foreign(dir);
    /* an earlier run's evidence: two of the same second (name order breaks the tie) */
    put_file(dir, "20200101T000000Z_10.0.0.1_1001_10.0.0.2_80_timeout_fallback.pcap", 100);
    put_file(dir, "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_timeout_fallback.pcap", 100);
    put_file(dir, "20200102T000000Z_10.0.0.9_1000_10.0.0.2_80_retry_after_417.pcap", 100);
    put_file(dir, "20200103T000000Z_2001.db8..1_1000_2001.db8..2_80_no_wait-2.pcap", 100);
    struct evidence *ev = open_ev(dir, 3, 0, 0, 16);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->files_removed, 1); /* the restart keeps the bound */
    CHECK_EQ(st->files_on_disk, 3);
    CHECK_EQ(st->bytes_on_disk, 300);
    char want[4096];
    CHECK(strstr(listing(dir), "_1000_10.0.0.2_80_timeout_fallback.pcap\n") == NULL);
    CHECK(strstr(listing(dir), "_1001_10.0.0.2_80_timeout_fallback.pcap\n") != NULL);

    /* two new files push out the two oldest */
    CHECK_EQ(write_flow(ev, 1, 40000, T0, 3), EVIDENCE_WRITTEN);
    CHECK_EQ(write_flow(ev, 2, 40001, T0 + SEC, 3), EVIDENCE_WRITTEN);
    CHECK_EQ(st->files_removed, 3);
    CHECK_EQ(st->files_on_disk, 3);
    /* a flow older than every kept file would be the first to go: not written */
    CHECK_EQ(write_flow(ev, 3, 40002, T0 - 3000 * DAY, 3), EVIDENCE_SKIPPED);
    CHECK_EQ(st->files_skipped, 1);
    CHECK_EQ(st->files_removed, 3);
    /* older than the new ones but newer than 2020-01-03: written, 2020-01-03 goes */
    CHECK_EQ(write_flow(ev, 4, 40003, T0 - 300 * DAY, 3), EVIDENCE_WRITTEN);
    CHECK_EQ(st->files_removed, 4);
    CHECK_EQ(st->files_written, 3);
    snprintf(want, sizeof want, "%s%s%s%s%s", foreign_first,
             "20260205T130211Z_10.0.0.1_40003_10.0.0.2_80_timeout_fallback.pcap\n",
             "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap\n",
             "20261202T130212Z_10.0.0.1_40001_10.0.0.2_80_timeout_fallback.pcap\n",
             foreign_last);
    CHECK_STR(listing(dir), want);
    uint64_t on_disk = file_size(dir, "20260205T130211Z_10.0.0.1_40003_10.0.0.2_80_"
                                      "timeout_fallback.pcap") +
                       file_size(dir, "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_"
                                      "timeout_fallback.pcap") +
                       file_size(dir, "20261202T130212Z_10.0.0.1_40001_10.0.0.2_80_"
                                      "timeout_fallback.pcap");
    CHECK_EQ(st->bytes_on_disk, on_disk);
    CHECK_EQ(st->remove_errors, 0);
    evidence_free(ev);

    /* a smaller bound at the next start removes the oldest down to it */
    ev = open_ev(dir, 1, 0, 0, 16);
    CHECK_EQ(evidence_stats(ev)->files_removed, 2);
    snprintf(want, sizeof want, "%s%s%s", foreign_first,
             "20261202T130212Z_10.0.0.1_40001_10.0.0.2_80_timeout_fallback.pcap\n",
             foreign_last);
    CHECK_STR(listing(dir), want);
    evidence_free(ev);
    remove_dir(dir);
}

static void test_max_bytes(void)
{
    check_case("max_bytes: oldest first until the new file fits, earlier runs included");
    char *dir = make_dir();
    put_foreign(dir);
    put_file(dir, "20200101T000000Z_10.0.0.1_1000_10.0.0.2_80_late_100.pcap", 400000);
    put_file(dir, "20200102T000000Z_10.0.0.1_1000_10.0.0.2_80_late_100.pcap", 400000);
    put_file(dir, "20200103T000000Z_10.0.0.1_1000_10.0.0.2_80_late_100.pcap", 400000);
    struct evidence *ev = open_ev(dir, 100, EVIDENCE_MAX_FILE_BYTES, 0, 16);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->files_removed, 1);
    CHECK_EQ(st->bytes_on_disk, 800000);
    /* 24 + 200 * 1516 = 303224 bytes: 2020-01-02 must go */
    CHECK_EQ(write_flow(ev, 1, 40000, T0, 200), EVIDENCE_WRITTEN);
    CHECK_EQ(st->files_removed, 2);
    CHECK_EQ(st->bytes_on_disk, 400000 + 303224);
    /* a full flow (cut at 1 MiB) later than it: 2020-01-03 and then it go */
    CHECK_EQ(write_flow(ev, 2, 40001, T0 + SEC, 800), EVIDENCE_WRITTEN);
    CHECK_EQ(st->files_removed, 4);
    CHECK_EQ(st->files_on_disk, 1);
    CHECK_EQ(st->bytes_on_disk, 24u + 691u * 1516u);
    CHECK(st->bytes_on_disk <= EVIDENCE_MAX_FILE_BYTES);
    char want[4096];
    snprintf(want, sizeof want, "%s%s%s", foreign_first,
             "20261202T130212Z_10.0.0.1_40001_10.0.0.2_80_timeout_fallback.pcap\n",
             foreign_last);
    CHECK_STR(listing(dir), want);
    CHECK_EQ(st->bytes_on_disk, file_size(dir, "20261202T130212Z_10.0.0.1_40001_10.0.0.2_"
                                                "80_timeout_fallback.pcap"));
    evidence_free(ev);
    remove_dir(dir);
}

/* evidence_new() must refuse with one line that contains `want`. */
static void check_refused(const struct evidence_config *cfg, const char *want)
{
    char err[512] = "";
    struct evidence *ev = evidence_new(cfg, 16, err, sizeof err);
    CHECK(ev == NULL);
    evidence_free(ev);
    CHECK(strstr(err, want) != NULL);
    CHECK(strchr(err, '\n') == NULL);
    if (!strstr(err, want))
        fprintf(stderr, "    got \"%s\", expected it to hold \"%s\"\n", err, want);
}

static void test_refusals(void)
{
    check_case("DIR missing, not a directory, not writable; bounds out of range");
    char *dir = make_dir();
    struct evidence_config cfg;
    char p[1024], want[1100];
    snprintf(p, sizeof p, "%s/missing", dir);
    evidence_config_defaults(&cfg, p);
    snprintf(want, sizeof want, "%s: No such file or directory", p);
    check_refused(&cfg, want);

    snprintf(p, sizeof p, "%s/file", dir);
    put_file(dir, "file", 1);
    evidence_config_defaults(&cfg, p);
    snprintf(want, sizeof want, "%s: Not a directory", p);
    check_refused(&cfg, want);

    snprintf(p, sizeof p, "%s/ro", dir);
    CHECK(mkdir(p, 0555) == 0);
    chmod(p, 0555);
    evidence_config_defaults(&cfg, p);
    if (geteuid() == 0) {
        fprintf(stderr, "test_evidence: skipped the mode-0555 check: root writes anyway "
                        "(the read-only mount case checks 'not writable')\n");
    } else {
        snprintf(want, sizeof want, "%s: not writable: Permission denied", p);
        check_refused(&cfg, want);
    }
    rmdir(p);

    evidence_config_defaults(&cfg, dir);
    cfg.max_files = 0;
    check_refused(&cfg, "evidence files kept must be 1 to");
    cfg.max_files = EVIDENCE_MAX_FILES_MAX + 1;
    check_refused(&cfg, "evidence files kept must be 1 to");
    evidence_config_defaults(&cfg, dir);
    cfg.max_bytes = EVIDENCE_MAX_FILE_BYTES - 1;
    check_refused(&cfg, "(one flow's file)");
    evidence_config_defaults(&cfg, dir);
    cfg.hold_bytes = 0;
    check_refused(&cfg, "no memory allowed");
    evidence_config_defaults(&cfg, NULL);
    check_refused(&cfg, "no directory given");
    evidence_config_defaults(&cfg, "");
    check_refused(&cfg, "no directory given");
    CHECK_STR(listing(dir), "file\n"); /* the probe file was removed */
    remove_dir(dir);
}

/* The write-failure checks, shared by the file-size and full-disk cases: a flow too
 * large for what is left fails, leaves nothing behind, and a small one after it works. */
static void check_write_failure(const char *dir, int big_packets)
{
    struct evidence *ev = open_ev(dir, 0, 0, 0, 16);
    CHECK_EQ(write_flow(ev, 1, 40000, T0, big_packets), EVIDENCE_WRITE_FAILED);
    const struct evidence_stats *st = evidence_stats(ev);
    CHECK_EQ(st->write_errors, 1);
    CHECK_EQ(st->files_written, 0);
    CHECK_EQ(st->held_bytes_now, 0);
    CHECK_STR(listing(dir), ""); /* the temporary file was removed */
    CHECK_EQ(write_flow(ev, 2, 40001, T0 + SEC, 3), EVIDENCE_WRITTEN);
    CHECK_STR(listing(dir),
              "20261202T130212Z_10.0.0.1_40001_10.0.0.2_80_timeout_fallback.pcap\n");
    CHECK_EQ(st->write_errors, 1);
    CHECK_EQ(st->files_written, 1);
    evidence_free(ev);
}

/* In a child: count its own checks only, and exit with whether they passed. */
static void child_begin(void)
{
    check_count = check_failures = 0;
}

/* Wait for a child that ran checks; its exit status: 0 passed, 77 skipped. */
static int child_status(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_write_failure_fsize(void)
{
    check_case("a write failure (RLIMIT_FSIZE) is counted; the temporary file is removed");
    char *dir = make_dir();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        child_begin();
        signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
        struct rlimit rl = { 64 * 1024, 64 * 1024 };
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        check_write_failure(dir, 100);
        exit(check_failures ? 1 : 0);
    }
    CHECK_EQ(child_status(pid), 0);
    remove_dir(dir);
}

static void test_write_failure_full_disk(void)
{
    check_case("a full file system (tmpfs): counted, nothing left; read-only: refused");
    char *dir = make_dir();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        child_begin();
        /* a mount namespace of our own, so the mount goes away with the child */
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=128k,mode=0755") != 0) {
            fprintf(stderr, "test_evidence: skipped the full-disk case: cannot mount a "
                            "tmpfs (%s)\n", strerror(errno));
            _exit(77);
        }
        check_write_failure(dir, 200);
        if (mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
            struct evidence_config cfg;
            evidence_config_defaults(&cfg, dir);
            char want[1100];
            snprintf(want, sizeof want, "%s: not writable: Read-only file system", dir);
            check_refused(&cfg, want);
        } else {
            fprintf(stderr, "test_evidence: cannot remount read-only: %s\n",
                    strerror(errno));
            check_failures++;
        }
        umount(dir);
        exit(check_failures ? 1 : 0);
    }
    int rc = child_status(pid);
    if (rc != 77)
        CHECK_EQ(rc, 0);
    remove_dir(dir);
}

static void test_leaks(void)
{
    check_case("no leak: flows ended, dropped, replaced in their slot, or still open");
    char *dir = make_dir();
    struct evidence *ev = open_ev(dir, 0, 0, 0, 8);
    struct flow f[8];
    for (uint32_t i = 0; i < 8; i++) {
        f[i] = mkflow(i + 1, i, "10.0.0.1", (uint16_t)(40000 + i), "10.0.0.2", 80, T0);
        feed_n(ev, &f[i], DLT_EN10MB, T0, 5 + (int)i, 1000, NULL);
    }
    evidence_flow_drop(ev, &f[0]);
    CHECK_EQ(evidence_flow_done(ev, &f[1], V_PLAIN), EVIDENCE_NOT_KEPT);
    CHECK_EQ(evidence_flow_done(ev, &f[2], V_NO_WAIT), EVIDENCE_WRITTEN);
    /* a new flow in slot 3 whose predecessor's end was never reported */
    struct flow g = mkflow(100, 3, "10.0.0.1", 50000, "10.0.0.2", 80, T0 + SEC);
    uint64_t before = evidence_stats(ev)->held_bytes_now;
    feed_n(ev, &g, DLT_EN10MB, T0 + SEC, 1, 1000, NULL);
    CHECK(evidence_stats(ev)->held_bytes_now < before);
    /* the stale flow's end reported late finds nothing of its own */
    CHECK_EQ(evidence_flow_done(ev, &f[3], V_NO_WAIT), EVIDENCE_NOT_KEPT);
    CHECK(evidence_stats(ev)->held_bytes_now > 0);
    evidence_free(ev); /* slots 3..7 still hold */
    evidence_free(NULL);
    remove_dir(dir);
}

/* ---- through the pipeline ----------------------------------------------------------- */

struct conn {
    struct pcapw_file *w;
    const char *cli, *srv;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
};

static void seg(struct conn *c, uint64_t ts_us, bool c2s, uint8_t flags, const char *payload)
{
    struct pcapw_pkt *p = &frame_buf;
    pcapw_init(p);
    size_t n = payload ? strlen(payload) : 0;
    pcapw_append(p, payload, n);
    uint32_t *seq = c2s ? &c->cseq : &c->sseq, *ack = c2s ? &c->sseq : &c->cseq;
    pcapw_tcp(p, &(struct pcapw_tcp){ .sport = c2s ? c->cport : c->sport,
                                      .dport = c2s ? c->sport : c->cport,
                                      .seq = *seq, .ack = (flags & 0x10) ? *ack : 0,
                                      .flags = flags });
    pcapw_ipv4(p, &(struct pcapw_ip4){ .src = c2s ? c->cli : c->srv,
                                       .dst = c2s ? c->srv : c->cli });
    pcapw_ether(p, PCAPW_ETH_IPV4, NULL, 0);
    pcapw_write(c->w, ts_us * 1000u, pcapw_data(p), pcapw_len(p));
    *seq += (uint32_t)n + ((flags & 0x03) ? 1u : 0u);
}

/* One connection: handshake, the request headers, the client's `wait_us` before the
 * body, the response, the close. */
static void exchange(struct conn *c, uint64_t t, const char *req, const char *body,
                     uint64_t wait_us, const char *resp)
{
    seg(c, t, true, 0x02, NULL);
    seg(c, t + 100, false, 0x12, NULL);
    seg(c, t + 200, true, 0x10, NULL);
    seg(c, t + 300, true, 0x18, req);
    seg(c, t + 400, false, 0x10, NULL);
    uint64_t u = t + 300 + wait_us;
    if (body)
        seg(c, u, true, 0x18, body);
    seg(c, u + 100, false, 0x18, resp);
    seg(c, u + 200, true, 0x11, NULL);
    seg(c, u + 300, false, 0x11, NULL);
    seg(c, u + 400, true, 0x10, NULL); /* after both FINs: a straggler, kept too */
}

static void test_pipeline(void)
{
    check_case("the pipeline saves a timeout_fallback flow, not a plain or non-HTTP one");
    char *dir = make_dir();
    char cap[1024];
    snprintf(cap, sizeof cap, "%s/in.pcap", dir);
    char *out = make_dir();
    struct conn a = { pcapw_open_or_die(cap, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0),
                      "10.0.0.1", "10.0.0.2", 40000, 80, 1000, 5000 };
    exchange(&a, T0, "POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 5\r\n\r\n", "hello", SEC,
             "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    struct conn b = a;
    b.cport = 40001;
    exchange(&b, T0 + 2 * SEC, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0,
             "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    /* not HTTP: the classifier gives up after CLS_MAX_PACKETS payload packets and the
     * pipeline drops the flow's evidence; it never ends, so only the drop frees it */
    struct conn c = a;
    c.cport = 40002;
    c.sport = 5555;
    seg(&c, T0 + 3 * SEC, true, 0x02, NULL);
    seg(&c, T0 + 3 * SEC + 100, false, 0x12, NULL);
    char junk[101];
    for (int i = 0; i < 30; i++) {
        for (int k = 0; k < 100; k++)
            junk[k] = (char)(0x80 | ((i * 37 + k * 11) & 0x7f));
        junk[100] = '\0';
        seg(&c, T0 + 3 * SEC + 1000 * (uint64_t)(i + 1), i % 2 == 0, 0x18, junk);
    }
    CHECK_EQ(pcapw_close(a.w, 0), 0);

    const char *paths[1] = { cap };
    struct source_file_config sfc = { paths, 1, NULL };
    char err[512];
    enum source_file_error why;
    struct source *src = source_file_open(&sfc, err, sizeof err, &why);
    CHECK(src != NULL);
    struct evidence_config ecfg;
    evidence_config_defaults(&ecfg, out);
    struct pipeline_config cfg;
    pipeline_config_defaults(&cfg);
    cfg.flow.max_flows = 64;
    cfg.evidence = &ecfg;
    struct pipeline *p = src ? pipeline_new(&cfg, src, err, sizeof err) : NULL;
    CHECK(p != NULL);
    if (p) {
        while (pipeline_feed(p, 1024, err, sizeof err) == PIPELINE_MORE)
            ;
        /* before the end: the two HTTP flows hold a 4 KiB buffer each; the third had
         * grown to 8 KiB (24 packets of 170 bytes) when it was dropped */
        const struct pipeline_totals *t = pipeline_totals(p);
        CHECK_EQ(t->detached_flows, 1);
        CHECK_EQ(t->evidence.held_bytes_now, 2 * 4096);
        CHECK_EQ(t->evidence.held_bytes_peak, 2 * 4096 + 8192);
        CHECK_EQ(pipeline_drain(p, err, sizeof err), 0);
        t = pipeline_totals(p);
        CHECK_EQ(t->flow_verdicts[V_TIMEOUT_FALLBACK], 1);
        CHECK_EQ(t->flow_verdicts[V_PLAIN], 1);
        CHECK_EQ(t->evidence.files_written, 1);
        CHECK_EQ(t->evidence.held_bytes_now, 0);
        pipeline_free(p);
    }
    source_free(src);
    const char *name = "20261202T130211Z_10.0.0.1_40000_10.0.0.2_80_timeout_fallback.pcap";
    char want[1200];
    snprintf(want, sizeof want, "%s\n", name);
    CHECK_STR(listing(out), want);
    /* the file holds the flow's records of the input, all ten */
    struct recs kept = { .n = 0 };
    pcap_t *pc = pcap_open_offline(cap, err);
    CHECK(pc != NULL);
    struct pcap_pkthdr *h;
    const u_char *data;
    for (int i = 0; pc && i < 10 && pcap_next_ex(pc, &h, &data) == 1; i++) {
        struct rec *r = &kept.v[kept.n++];
        *r = (struct rec){ (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec,
                           h->caplen, h->len, malloc(h->caplen) };
        memcpy(r->data, data, h->caplen);
    }
    if (pc)
        pcap_close(pc);
    CHECK_EQ(kept.n, 10);
    check_file(out, name, &kept, DLT_EN10MB);
    recs_clear(&kept);

    /* a directory that will not do stops the pipeline at its start, naming it */
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/missing", out);
    evidence_config_defaults(&ecfg, missing);
    src = source_file_open(&sfc, err, sizeof err, &why);
    p = src ? pipeline_new(&cfg, src, err, sizeof err) : NULL;
    CHECK(p == NULL);
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    CHECK_STR(err, want);
    pipeline_free(p);
    source_free(src);
    remove_dir(out);
    remove_dir(dir);
}

int main(void)
{
    test_problem_flow_ether();
    test_sll2_ipv6();
    test_raw_linktype();
    test_not_saved();
    test_drop();
    test_same_name();
    test_flow_cap();
    test_hold_budget();
    test_other_link();
    test_max_files();
    test_max_bytes();
    test_refusals();
    test_write_failure_fsize();
    test_write_failure_full_disk();
    test_leaks();
    test_pipeline();
    return check_done("test_evidence");
}
