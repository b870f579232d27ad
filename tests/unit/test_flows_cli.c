/* test_flows_cli.c: end to end. Writes small captures with pcapw (VLAN, QinQ, SLL2,
 * IPv6, pcapng, a snaplen cut, a truncated file), runs `expectscope flows` on them and
 * checks the output lines, the exit status and the one-line errors.
 *
 * usage: test_flows_cli PATH-TO-EXPECTSCOPE   (ES_TEST_KEEP=1 keeps the captures)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pcapw.h"

static const char *bin;
static char dir[512];

static const char *tmp(const char *name)
{
    static char bufs[32][600];
    static int n;
    char *b = bufs[n++ % 32];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* ---- running the binary ---- */

struct result {
    int status;      /* exit status, or -1 when it did not exit normally */
    char out[8192];
    char err[4096];
};

static void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Run expectscope with args (NULL-terminated, without argv[0]). */
static void run(struct result *r, const char *const *args)
{
    const char *out = tmp("stdout"), *err = tmp("stderr");
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out, "wb", stdout) || !freopen(err, "wb", stderr))
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        st = -1;
    r->status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char header[] = "client\tserver\tvlan\tl7\tpkts_c2s\tbytes_c2s\tpkts_s2c\t"
                             "bytes_s2c\tmissing\tretrans\tooo\tout_of_window\twire_c2s\twire_s2c"
                             "\tend\n";

/* ---- writing conversations ---- */

enum encap { ENC_ETHER, ENC_SLL2, ENC_RAW };

struct conv {
    struct pcapw_file *w;
    enum encap enc;
    const uint16_t *vids;
    int n_vids;
    const char *cli, *srv;
    uint16_t cport, sport;
    uint64_t ts_ns;
    uint64_t wire[2];       /* frame bytes client->server, server->client */
    bool drop_next;         /* build the next segment but do not write it */
};

static struct pcapw_pkt pk;

static void send_seg(struct conv *c, bool from_client, uint8_t flags, uint32_t seq,
                     uint32_t ack, const char *payload)
{
    bool v6 = strchr(c->cli, ':') != NULL;
    pcapw_init(&pk);
    pcapw_append(&pk, payload, strlen(payload));
    pcapw_tcp(&pk, &(struct pcapw_tcp){ .sport = from_client ? c->cport : c->sport,
                                        .dport = from_client ? c->sport : c->cport,
                                        .seq = seq, .ack = ack, .flags = flags });
    const char *src = from_client ? c->cli : c->srv, *dst = from_client ? c->srv : c->cli;
    if (v6)
        pcapw_ipv6(&pk, &(struct pcapw_ip6){ .src = src, .dst = dst, .next = 6 });
    else
        pcapw_ipv4(&pk, &(struct pcapw_ip4){ .src = src, .dst = dst });
    uint16_t type = v6 ? PCAPW_ETH_IPV6 : PCAPW_ETH_IPV4;
    if (c->enc == ENC_ETHER) {
        pcapw_ether(&pk, type, c->vids, c->n_vids);
        pcapw_pad(&pk, 60, 0); /* the minimum frame: padding is not payload */
    } else if (c->enc == ENC_SLL2) {
        pcapw_sll2(&pk, type);
    }
    c->ts_ns += 1000000; /* 1 ms apart */
    if (c->drop_next) {
        c->drop_next = false;
        return;
    }
    c->wire[from_client ? 0 : 1] += pcapw_len(&pk);
    if (pcapw_write(c->w, c->ts_ns, pcapw_data(&pk), pcapw_len(&pk)) != 0)
        abort();
}

enum { SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01, RST = 0x04 };

static const char req[] = "GET /upload HTTP/1.1\r\nHost: example\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* Handshake, one request and response, FIN both ways, the last ACK. */
static void exchange(struct conv *c)
{
    uint32_t rq = (uint32_t)strlen(req), rs = (uint32_t)strlen(resp);
    send_seg(c, true, SYN, 100, 0, "");
    send_seg(c, false, SYN | ACK, 500, 101, "");
    send_seg(c, true, ACK, 101, 501, "");
    send_seg(c, true, PSH | ACK, 101, 501, req);
    send_seg(c, false, PSH | ACK, 501, 101 + rq, resp);
    send_seg(c, true, FIN | ACK, 101 + rq, 501 + rs, "");
    send_seg(c, false, FIN | ACK, 501 + rs, 102 + rq, "");
    send_seg(c, true, ACK, 102 + rq, 502 + rs, "");
}

/* The line `flows` prints for a conversation written by exchange(). */
static void line(char *buf, size_t len, const struct conv *c, const char *vlan,
                 uint64_t missing, const char *end)
{
    bool v6 = strchr(c->cli, ':') != NULL;
    char cli[64], srv[64];
    snprintf(cli, sizeof cli, v6 ? "[%s]:%u" : "%s:%u", c->cli, c->cport);
    snprintf(srv, sizeof srv, v6 ? "[%s]:%u" : "%s:%u", c->srv, c->sport);
    snprintf(buf, len, "%s\t%s\t%s\tHTTP\t5\t%zu\t3\t%zu\t%llu\t0\t0\t0\t%llu\t%llu\t%s\n",
             cli, srv, vlan, strlen(req), strlen(resp), (unsigned long long)missing,
             (unsigned long long)c->wire[0], (unsigned long long)c->wire[1], end);
}

/* Write one conversation to its own file, and to want the line `flows` prints for it. */
static void one_file(const char *path, enum pcapw_format fmt, int link, struct conv *c,
                     const char *vlan, char *want, size_t want_len)
{
    c->w = pcapw_open_or_die(path, fmt, link, 0);
    exchange(c);
    CHECK_EQ(pcapw_close(c->w, 0), 0);
    line(want, want_len, c, vlan, 0, "fin");
}

static void check_flows(const char *what, const char *const *files, int n,
                        const char *want_lines)
{
    check_case(what);
    const char *args[16] = { "flows", "-q" };
    for (int i = 0; i < n && i < 12; i++)
        args[2 + i] = files[i];
    struct result r;
    run(&r, args);
    CHECK_EQ(r.status, 0);
    char want[4096];
    snprintf(want, sizeof want, "%s%s", header, want_lines);
    CHECK_STR(r.out, want);
    CHECK_STR(r.err, "");
}

static void test_encapsulations(void)
{
    char want[1024];
    static const uint16_t vlan100[] = { 100 }, qinq[] = { 10, 20 };

    const char *vlan = tmp("vlan.pcap");
    struct conv cv = { .enc = ENC_ETHER, .vids = vlan100, .n_vids = 1, .cli = "10.0.0.1",
                       .srv = "10.0.0.2", .cport = 40000, .sport = 80,
                       .ts_ns = 1700000000000000000ull };
    one_file(vlan, PCAPW_PCAP, PCAPW_LINK_ETHERNET, &cv, "100", want, sizeof want);
    check_flows("802.1Q", &vlan, 1, want);
    char want_vlan[1024];
    snprintf(want_vlan, sizeof want_vlan, "%s", want);

    const char *qq = tmp("qinq.pcap");
    struct conv cq = { .enc = ENC_ETHER, .vids = qinq, .n_vids = 2, .cli = "10.0.1.1",
                       .srv = "10.0.1.2", .cport = 40001, .sport = 8080,
                       .ts_ns = 1700000001000000000ull };
    one_file(qq, PCAPW_PCAP, PCAPW_LINK_ETHERNET, &cq, "20", want, sizeof want);
    check_flows("QinQ: the inner VLAN is reported", &qq, 1, want);

    const char *sll2 = tmp("sll2.pcap");
    struct conv cs = { .enc = ENC_SLL2, .cli = "192.168.1.10", .srv = "192.168.1.20",
                       .cport = 50000, .sport = 80, .ts_ns = 1699999999000000000ull };
    one_file(sll2, PCAPW_PCAP, PCAPW_LINK_SLL2, &cs, "0", want, sizeof want);
    check_flows("Linux SLL2", &sll2, 1, want);
    char want_sll2[1024];
    snprintf(want_sll2, sizeof want_sll2, "%s", want);

    const char *v6 = tmp("ipv6.pcap");
    struct conv c6 = { .enc = ENC_ETHER, .cli = "2001:db8::1", .srv = "2001:db8::2",
                       .cport = 40000, .sport = 80, .ts_ns = 1700000002000000000ull };
    one_file(v6, PCAPW_PCAP, PCAPW_LINK_ETHERNET, &c6, "0", want, sizeof want);
    check_flows("IPv6", &v6, 1, want);

    const char *raw = tmp("raw.pcapng");
    struct conv cr = { .enc = ENC_RAW, .cli = "10.0.2.1", .srv = "10.0.2.2",
                       .cport = 40000, .sport = 80, .ts_ns = 1700000003000000000ull };
    one_file(raw, PCAPW_PCAPNG, PCAPW_LINK_RAW, &cr, "0", want, sizeof want);
    check_flows("pcapng, raw IP", &raw, 1, want);

    /* Several inputs in one run: lines come in order of each flow's first packet. */
    char both[2048];
    snprintf(both, sizeof both, "%s%s", want_sll2, want_vlan);
    const char *const two[] = { vlan, sll2 };
    check_flows("two files, lines by first packet time", two, 2, both);
}

static void test_pcapng_two_flows(void)
{
    const char *path = tmp("two.pcapng");
    struct pcapw_file *w = pcapw_open_or_die(path, PCAPW_PCAPNG_NS, PCAPW_LINK_ETHERNET, 0);
    struct conv a = { .w = w, .enc = ENC_ETHER, .cli = "10.0.3.1", .srv = "10.0.3.2",
                      .cport = 40000, .sport = 80, .ts_ns = 1700000000000000000ull };
    struct conv b = a;
    b.cport = 40001;
    b.ts_ns += 500000; /* interleaved with a, 0.5 ms later */
    uint32_t rq = (uint32_t)strlen(req);
    /* b ends with a RST from the server after the request */
    send_seg(&a, true, SYN, 100, 0, "");
    send_seg(&b, true, SYN, 100, 0, "");
    send_seg(&a, false, SYN | ACK, 500, 101, "");
    send_seg(&b, false, SYN | ACK, 500, 101, "");
    send_seg(&a, true, ACK, 101, 501, "");
    send_seg(&b, true, ACK, 101, 501, "");
    send_seg(&a, true, PSH | ACK, 101, 501, req);
    send_seg(&b, true, PSH | ACK, 101, 501, req);
    send_seg(&b, false, RST | ACK, 501, 101 + rq, ""); /* written before an earlier a */
    uint32_t rs = (uint32_t)strlen(resp);
    send_seg(&a, false, PSH | ACK, 501, 101 + rq, resp);
    send_seg(&a, true, FIN | ACK, 101 + rq, 501 + rs, "");
    send_seg(&a, false, FIN | ACK, 501 + rs, 102 + rq, "");
    send_seg(&a, true, ACK, 102 + rq, 502 + rs, "");
    CHECK_EQ(pcapw_close(w, 0), 0);
    char want[2048], la[1024], lb[1024];
    line(la, sizeof la, &a, "0", 0, "fin");
    snprintf(lb, sizeof lb,
             "10.0.3.1:40001\t10.0.3.2:80\t0\tHTTP\t3\t%zu\t2\t0\t0\t0\t0\t0\t%llu\t%llu"
             "\trst\n",
             strlen(req), (unsigned long long)b.wire[0], (unsigned long long)b.wire[1]);
    snprintf(want, sizeof want, "%s%s", la, lb);
    check_flows("pcapng (nanoseconds), two interleaved flows, FIN and RST", &path, 1, want);
}

static void test_loss(void)
{
    /* snaplen 80: the request frame (54 + 39 bytes) loses 13 payload bytes, the
     * response (54 + 40) 14 */
    const char *path = tmp("snap.pcap");
    struct conv c = { .enc = ENC_ETHER, .cli = "10.0.4.1", .srv = "10.0.4.2",
                      .cport = 40000, .sport = 80, .ts_ns = 1700000000000000000ull };
    c.w = pcapw_open_or_die(path, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 80);
    exchange(&c);
    CHECK_EQ(pcapw_close(c.w, 0), 0);
    char want[1024];
    /* bytes the snap length kept out were on the wire: payload, not missing */
    line(want, sizeof want, &c, "0", 0, "fin");
    check_flows("snaplen cut: the uncaptured bytes count as payload, not missing", &path, 1,
                want);

    /* a truncated last record: analysed up to the break, exit 0, one warning */
    check_case("a truncated capture");
    const char *trunc = tmp("trunc.pcap");
    struct conv t = { .enc = ENC_ETHER, .cli = "10.0.5.1", .srv = "10.0.5.2",
                      .cport = 40000, .sport = 80, .ts_ns = 1700000000000000000ull };
    t.w = pcapw_open_or_die(trunc, PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    send_seg(&t, true, SYN, 100, 0, "");
    send_seg(&t, false, SYN | ACK, 500, 101, "");
    send_seg(&t, true, ACK, 101, 501, "");
    CHECK_EQ(pcapw_close(t.w, 30), 0);
    struct result r;
    run(&r, (const char *const[]){ "flows", trunc, NULL });
    CHECK_EQ(r.status, 0);
    char line2[1024];
    /* no payload: nDPI's best guess comes from port 80 */
    snprintf(line2, sizeof line2, "%s10.0.5.1:40000\t10.0.5.2:80\t0\tHTTP\t1\t0\t1\t0\t0\t0\t0"
                                  "\t0\t60\t60\tcapture_end\n", header);
    CHECK_STR(r.out, line2);
    char warn[1024];
    snprintf(warn, sizeof warn, "expectscope: warning: %s: truncated record after 2 "
                                "packets; analysed up to the break\n", trunc);
    CHECK(strncmp(r.err, warn, strlen(warn)) == 0);
    CHECK_EQ(count_lines(r.err), 2); /* the warning and the summary */
    CHECK(strstr(r.err, "; input truncated\n") != NULL);
    CHECK(strstr(r.err, "expectscope: 2 packets, 2 TCP, ") != NULL);
}

static void test_errors(void)
{
    struct result r;
    char want[1024];

    check_case("a file that is not a capture: exit 1, one line naming it");
    const char *text = tmp("notes.txt");
    CHECK_EQ(pcapw_write_raw(text, req, strlen(req)), 0);
    run(&r, (const char *const[]){ "flows", text, NULL });
    CHECK_EQ(r.status, 1);
    CHECK_STR(r.out, "");
    snprintf(want, sizeof want,
             "expectscope: %s: not a pcap or pcapng file (unknown file format)\n", text);
    CHECK_STR(r.err, want);

    check_case("a missing file: exit 1, one line naming it");
    const char *missing = tmp("missing.pcap");
    run(&r, (const char *const[]){ "flows", "-q", missing, NULL });
    CHECK_EQ(r.status, 1);
    CHECK_STR(r.out, "");
    snprintf(want, sizeof want, "expectscope: %s: No such file or directory\n", missing);
    CHECK_STR(r.err, want);

    check_case("usage errors: exit 2, one line");
    static const char *const bad[][4] = {
        { "flows", NULL },
        { "flows", "--bogus", "x.pcap", NULL },
        { "frobnicate", NULL },
        { "flows", "--max-flows", "3", NULL },
        { "flows", "--tcp-timeout", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&r, bad[i]);
        CHECK_EQ(r.status, 2);
        CHECK_STR(r.out, "");
        CHECK_EQ(count_lines(r.err), 1);
        CHECK(strncmp(r.err, "expectscope: ", 13) == 0);
    }

    check_case("--help: exit 0, usage on stdout");
    run(&r, (const char *const[]){ "--help", NULL });
    CHECK_EQ(r.status, 0);
    CHECK(strncmp(r.out, "usage: expectscope ", 19) == 0);
    CHECK_STR(r.err, "");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_flows_cli PATH-TO-EXPECTSCOPE\n");
        return 2;
    }
    bin = argv[1];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/es-test-flows.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    test_encapsulations();
    test_pcapng_two_flows();
    test_loss();
    test_errors();
    if (getenv("ES_TEST_KEEP")) {
        fprintf(stderr, "captures kept in %s\n", dir);
    } else {
        static const char *const names[] = { "vlan.pcap", "qinq.pcap", "sll2.pcap",
                                             "ipv6.pcap", "raw.pcapng", "two.pcapng",
                                             "snap.pcap", "trunc.pcap", "notes.txt",
                                             "stdout", "stderr" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            unlink(tmp(names[i]));
        rmdir(dir);
    }
    return check_done("test_flows_cli");
}
