/* test_h1.c: replays the dissector fixtures (tests/h1/NAME.txt) through the HTTP/1
 * dissector and the verdict engine, whole, split at every byte of every chunk, and
 * one byte at a time, and checks each exchange's verdict and flags.
 *
 * Fixture lines: "> bytes" client to server, "< bytes" server to client (escapes
 * \r \n \t \\ \xNN), "@+MS" advance the clock, "! eof <" the server's FIN ("! eof >"
 * the client's), "! fin|rst" end the connection, "~> N" / "~< N" N bytes the snap length
 * kept out of the capture (uncaptured, stream.h), "-> N" / "-< N" N bytes the capture
 * lost (a gap, stream.h),
 * "= SEQ VERDICT FLAGS" the expected result ("-" for no flags, any order), "? NAME N"
 * the dissector's counter NAME (h1_stats) is N at the end, "#" comment.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "verdict.h"

enum { MAX_EVENTS = 64, MAX_EXPECT = 16, MAX_BYTES = 4096 };

struct event {
    char kind;      /* '>', '<', '!', 'U' uncaptured, 'G' gap */
    uint64_t ts_us;
    uint64_t cut;   /* 'U': how many bytes */
    enum dir d;     /* 'U': which way */
    size_t n;
    uint8_t bytes[MAX_BYTES];
};

struct want {
    unsigned seq;
    char verdict[48];
    char flags[256];
};

struct stat_want {
    char name[32];
    uint64_t value;
};

struct fixture {
    struct event ev[MAX_EVENTS];
    int n_ev;
    struct stat_want stat[8];
    int n_stat;
    struct want want[MAX_EXPECT];
    int n_want;
};

struct got {
    unsigned seq[MAX_EXPECT * 2];
    char verdict[MAX_EXPECT * 2][48];
    char flags[MAX_EXPECT * 2][256];
    int n;
    struct h1_stats st;
};

static int failures;

/* The counters a fixture may check, by name. */
static const struct {
    const char *name;
    size_t off;
} stat_fields[] = {
    { "parse_errors", offsetof(struct h1_stats, parse_errors) },
    { "resyncs", offsetof(struct h1_stats, resyncs) },
    { "orphan_responses", offsetof(struct h1_stats, orphan_responses) },
    { "tunnels", offsetof(struct h1_stats, tunnels) },
    { "exchanges", offsetof(struct h1_stats, exchanges) },
    { "framing_errors", offsetof(struct h1_stats, framing_errors) },
    { "stray_interims", offsetof(struct h1_stats, stray_interims) },
};

static int stat_of(const struct h1_stats *st, const char *name, uint64_t *v)
{
    for (size_t i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++)
        if (strcmp(stat_fields[i].name, name) == 0) {
            memcpy(v, (const char *)st + stat_fields[i].off, sizeof *v);
            return 0;
        }
    return -1;
}

static size_t unescape(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s && *s != '\n' && n < MAX_BYTES) {
        if (*s == '\\' && s[1]) {
            s++;
            switch (*s) {
            case 'r': out[n++] = '\r'; break;
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 'x': {
                unsigned v = 0;
                for (int i = 1; i <= 2; i++) {
                    char c = s[i];
                    v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
                }
                out[n++] = (uint8_t)v;
                s += 2;
                break;
            }
            default: out[n++] = (uint8_t)*s; break;
            }
            s++;
        } else {
            out[n++] = (uint8_t)*s++;
        }
    }
    return n;
}

static int load(const char *path, struct fixture *fx)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(fx, 0, sizeof *fx);
    char line[8192];
    uint64_t now = 1700000000000000ull;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '@') {
            now += strtoull(line + 2, NULL, 10) * 1000u;
        } else if ((line[0] == '>' || line[0] == '<') && fx->n_ev < MAX_EVENTS) {
            struct event *e = &fx->ev[fx->n_ev++];
            e->kind = line[0];
            e->ts_us = now;
            e->n = unescape(line + 2, e->bytes);
        } else if (line[0] == '~' && fx->n_ev < MAX_EVENTS) {
            struct event *e = &fx->ev[fx->n_ev++];
            e->kind = 'U';
            e->d = line[1] == '>' ? DIR_C2S : DIR_S2C;
            e->cut = strtoull(line + 3, NULL, 10);
            e->ts_us = now;
        } else if (line[0] == '-' && (line[1] == '>' || line[1] == '<') &&
                   fx->n_ev < MAX_EVENTS) {
            struct event *e = &fx->ev[fx->n_ev++];
            e->kind = 'G';
            e->d = line[1] == '>' ? DIR_C2S : DIR_S2C;
            e->cut = strtoull(line + 3, NULL, 10);
            e->ts_us = now;
        } else if (line[0] == '?' && fx->n_stat < 8) {
            struct stat_want *w = &fx->stat[fx->n_stat++];
            unsigned long long v;
            uint64_t dummy;
            if (sscanf(line + 2, "%31s %llu", w->name, &v) != 2 ||
                stat_of(&(struct h1_stats){ 0 }, w->name, &dummy) != 0)
                return -1;
            w->value = v;
        } else if (line[0] == '!' && fx->n_ev < MAX_EVENTS) {
            struct event *e = &fx->ev[fx->n_ev++];
            /* "! eof <" or "! eof >": one side's FIN; "! fin", "! rst": the end;
             * "! rst <": the end, the server's RST */
            e->kind = line[2] == 'r' ? (line[6] == '<' ? 'r' : 'R')
                      : line[2] == 'e' ? (line[6] == '<' ? 'S' : 'C')
                                       : 'F';
            e->ts_us = now;
        } else if (line[0] == '=' && fx->n_want < MAX_EXPECT) {
            struct want *w = &fx->want[fx->n_want++];
            if (sscanf(line + 2, "%u %47s %255s", &w->seq, w->verdict, w->flags) != 3)
                return -1;
        }
    }
    fclose(f);
    return 0;
}

static void collect(void *ctx, const struct flow *f, struct exchange *x)
{
    (void)f;
    struct got *g = ctx;
    if (g->n >= MAX_EXPECT * 2)
        return;
    g->seq[g->n] = x->seq;
    snprintf(g->verdict[g->n], sizeof g->verdict[0], "%s", verdict_name(x->verdict));
    flags_str(x->flags, g->flags[g->n], sizeof g->flags[0]);
    if (!g->flags[g->n][0])
        snprintf(g->flags[g->n], sizeof g->flags[0], "-");
    g->n++;
}

struct judge_ctx {
    struct verdict_engine *v;
    struct got *g;
};

static void judge(void *ctx, const struct flow *f, struct exchange *x)
{
    struct judge_ctx *j = ctx;
    verdict_judge(j->v, f, x);
    collect(j->g, f, x);
}

/* Sorted comma lists compare equal whatever the order they were written in. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void normalise(const char *in, char *out, size_t len)
{
    char tmp[256], *parts[32];
    int n = 0;
    snprintf(tmp, sizeof tmp, "%s", in);
    for (char *tok = strtok(tmp, ","); tok && n < 32; tok = strtok(NULL, ","))
        parts[n++] = tok;
    qsort(parts, (size_t)n, sizeof parts[0], cmp_str);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, parts[i], len - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, ",", len - strlen(out) - 1);
    }
}

/* Replay: chunk `split` (or every chunk when -1 and bytewise) cut at `at`. */
static void replay(const struct fixture *fx, int split, size_t at, int bytewise,
                   struct got *g)
{
    memset(g, 0, sizeof *g);
    static const struct verdict_config vc = { VERDICT_DEFAULT_NO_WAIT_US,
                                             VERDICT_DEFAULT_RETRY_WINDOW_US,
                                             VERDICT_DEFAULT_STALL_US };
    struct verdict_engine *v = verdict_new(&vc, 1);
    struct judge_ctx jc = { v, g };
    struct exchange_sink sink = { judge, &jc };
    struct h1 *h = h1_new(&sink);
    const struct stream_sink_ops *ops = h1_sink_ops();
    struct flow f;
    memset(&f, 0, sizeof f);
    f.key.family = 4;
    f.key.addr[0][0] = 10, f.key.addr[0][3] = 1;
    f.key.addr[1][0] = 10, f.key.addr[1][3] = 2;
    f.key.port[0] = 40000, f.key.port[1] = 80;
    f.id = 1;
    f.packets[DIR_C2S] = f.packets[DIR_S2C] = 1; /* both ways captured (flow_one_sided) */
    void *st = ops->open(h, &f);
    enum end_reason end = END_FIN;
    uint64_t last = 0;
    for (int i = 0; i < fx->n_ev; i++) {
        const struct event *e = &fx->ev[i];
        last = e->ts_us;
        if (e->kind == 'R' || e->kind == 'r' || e->kind == 'F') {
            end = e->kind == 'F' ? END_FIN : END_RST;
            f.rst_seen[DIR_S2C] = e->kind == 'r';
            break;
        }
        if (e->kind == 'S' || e->kind == 'C') {
            ops->eof(st, e->kind == 'S' ? DIR_S2C : DIR_C2S, e->ts_us);
            continue;
        }
        if (e->kind == 'U') {
            ops->uncaptured(st, e->d, e->cut, e->ts_us);
            continue;
        }
        if (e->kind == 'G') {
            ops->gap(st, e->d, e->cut, e->ts_us);
            continue;
        }
        enum dir d = e->kind == '>' ? DIR_C2S : DIR_S2C;
        if (bytewise) {
            for (size_t k = 0; k < e->n; k++)
                ops->data(st, d, e->bytes + k, 1, e->ts_us);
        } else if (i == split && at > 0 && at < e->n) {
            ops->data(st, d, e->bytes, at, e->ts_us);
            ops->data(st, d, e->bytes + at, e->n - at, e->ts_us);
        } else {
            ops->data(st, d, e->bytes, e->n, e->ts_us);
        }
    }
    ops->close(st, end, last);
    g->st = *h1_stats(h);
    h1_free(h);
    verdict_free(v);
}

static void check(const char *name, const struct fixture *fx, const struct got *g,
                  const char *how)
{
    if (g->n != fx->n_want) {
        fprintf(stderr, "FAIL %s (%s): %d exchanges, want %d\n", name, how, g->n, fx->n_want);
        failures++;
        return;
    }
    for (int i = 0; i < fx->n_stat; i++) {
        uint64_t v = 0;
        stat_of(&g->st, fx->stat[i].name, &v);
        if (v != fx->stat[i].value) {
            fprintf(stderr, "FAIL %s (%s): %s is %llu, want %llu\n", name, how,
                    fx->stat[i].name, (unsigned long long)v,
                    (unsigned long long)fx->stat[i].value);
            failures++;
        }
    }
    for (int i = 0; i < g->n; i++) {
        const struct want *w = &fx->want[i];
        char a[256], b[256];
        normalise(g->flags[i], a, sizeof a);
        normalise(w->flags, b, sizeof b);
        if (g->seq[i] != w->seq || strcmp(g->verdict[i], w->verdict) || strcmp(a, b)) {
            fprintf(stderr, "FAIL %s (%s): exchange %d: got %u %s %s, want %u %s %s\n", name,
                    how, i, g->seq[i], g->verdict[i], a, w->seq, w->verdict, b);
            failures++;
        }
    }
}

/* ---- the pending-exchange budget (h1.h, issue 15) ------------------------------- */

struct budget_got {
    unsigned n, abandoned, continue_ok;
};

static void budget_collect(void *ctx, const struct flow *f, struct exchange *x)
{
    static const struct verdict_config vc = { VERDICT_DEFAULT_NO_WAIT_US,
                                             VERDICT_DEFAULT_RETRY_WINDOW_US,
                                             VERDICT_DEFAULT_STALL_US };
    static struct verdict_engine *v;
    if (!v)
        v = verdict_new(&vc, 1);
    struct budget_got *g = ctx;
    verdict_judge(v, f, x);
    g->n++;
    g->abandoned += (x->flags & XF_ABANDONED_AT_CAP) != 0;
    g->continue_ok += x->verdict == V_CONTINUE_OK;
}

static void budget_flow(struct flow *f, uint64_t id)
{
    memset(f, 0, sizeof *f);
    f->key.family = 4;
    f->key.addr[0][0] = 10, f->key.addr[0][3] = 1;
    f->key.addr[1][0] = 10, f->key.addr[1][3] = 2;
    f->key.port[0] = (uint16_t)(1024 + id), f->key.port[1] = 80;
    f->id = id;
    f->packets[DIR_C2S] = f->packets[DIR_S2C] = 1;
}

#define BUDGET_CHECK(cond, ...)                                                        \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "FAIL pending budget: " __VA_ARGS__);                      \
            fputc('\n', stderr);                                                       \
            failures++;                                                                \
        }                                                                              \
    } while (0)

/* Uploads that all wait for their 100 at once, under a 64 KiB budget: those that fit
 * are analysed, the rest are written at once flagged abandoned_at_cap and counted; a
 * flood of message starts that never became exchanges costs nothing (the charge of a
 * dropped exchange is returned). */
static void test_pending_budget(void)
{
    enum { N = 200, GARBAGE = 5000 };
    static const char req[] = "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                              "Content-Length: 5\r\n\r\n";
    static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    struct budget_got g = { 0, 0, 0 };
    struct exchange_sink sink = { budget_collect, &g };
    struct h1 *h = h1_new(&sink);
    h1_set_pending_cap(h, 64 * 1024);
    const struct stream_sink_ops *ops = h1_sink_ops();
    static struct flow f[N];
    static void *st[N];
    uint64_t t = 1000;
    /* message starts that are no exchange: a response's first byte, then the end */
    for (unsigned i = 0; i < GARBAGE; i++) {
        struct flow gf;
        budget_flow(&gf, 100000 + i);
        void *s = ops->open(h, &gf);
        ops->data(s, DIR_S2C, (const uint8_t *)"H", 1, t++);
        ops->close(s, END_FIN, t++);
    }
    const struct h1_stats *hs = h1_stats(h);
    BUDGET_CHECK(hs->pending_cap_flows == 0 && hs->pending_bytes_peak < 4096,
                 "%u empty message starts cost the budget (peak %llu, %llu flows cut)",
                 (unsigned)GARBAGE, (unsigned long long)hs->pending_bytes_peak,
                 (unsigned long long)hs->pending_cap_flows);
    unsigned before = g.n;
    for (unsigned i = 0; i < N; i++) {
        budget_flow(&f[i], i + 1);
        st[i] = ops->open(h, &f[i]);
        ops->data(st[i], DIR_C2S, (const uint8_t *)req, sizeof req - 1, t++);
    }
    uint64_t cut = hs->pending_cap_flows;
    BUDGET_CHECK(cut > 0 && cut < N, "the budget bit for some of %u uploads (%llu)", N,
                 (unsigned long long)cut);
    BUDGET_CHECK(hs->pending_cap_exchanges == cut && g.n - before == cut &&
                 g.abandoned == cut,
                 "each upload cut was written at once, flagged, counted (%llu, %u, %u)",
                 (unsigned long long)hs->pending_cap_exchanges, g.n - before, g.abandoned);
    BUDGET_CHECK(hs->pending_bytes_peak <= 64 * 1024,
                 "peak %llu within the budget", (unsigned long long)hs->pending_bytes_peak);
    for (unsigned i = 0; i < N; i++) {
        ops->data(st[i], DIR_S2C, (const uint8_t *)c100, sizeof c100 - 1, t++);
        ops->data(st[i], DIR_C2S, (const uint8_t *)"hello", 5, t++);
        ops->data(st[i], DIR_S2C, (const uint8_t *)ok, sizeof ok - 1, t++);
    }
    BUDGET_CHECK(g.continue_ok == N - cut, "the %llu admitted uploads are continue_ok (%u)",
                 (unsigned long long)(N - cut), g.continue_ok);
    /* answered and written: the budget is free again for as many */
    for (unsigned i = 0; i < N; i++)
        ops->data(st[i], DIR_C2S, (const uint8_t *)req, sizeof req - 1, t++);
    /* (recycled exchanges bring the buffers they kept, so a few fewer fit than the
     * first time; none would if the written ones still counted) */
    uint64_t cut2 = hs->pending_cap_flows - cut;
    BUDGET_CHECK(cut2 < (N - cut) / 2, "the freed budget takes most of %llu new requests "
                 "(%llu connections cut)", (unsigned long long)(N - cut),
                 (unsigned long long)cut2);
    for (unsigned i = 0; i < N; i++)
        ops->close(st[i], END_FIN, t++);
    BUDGET_CHECK(g.n == N + (N - cut), "every request has its exchange (%u)", g.n);
    BUDGET_CHECK(g.abandoned == cut + cut2, "each cut one flagged (%u)", g.abandoned);
    h1_free(h);
}

int main(int argc, char **argv)
{
    test_pending_budget();
    const char *dir = argc > 1 ? argv[1] : "tests/h1";
    DIR *dh = opendir(dir);
    if (!dh) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    static struct fixture fx;
    static struct got g;
    int files = 0;
    long replays = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".txt"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (load(path, &fx) != 0 || fx.n_want == 0) {
            fprintf(stderr, "FAIL %s: cannot parse\n", path);
            failures++;
            continue;
        }
        files++;
        int before = failures;
        replay(&fx, -1, 0, 0, &g);
        check(de->d_name, &fx, &g, "whole");
        replays++;
        for (int i = 0; i < fx.n_ev && failures == before; i++) {
            for (size_t at = 1; at < fx.ev[i].n && failures == before; at++) {
                char how[64];
                snprintf(how, sizeof how, "chunk %d split at %zu", i, at);
                replay(&fx, i, at, 0, &g);
                check(de->d_name, &fx, &g, how);
                replays++;
            }
        }
        replay(&fx, -1, 0, 1, &g);
        check(de->d_name, &fx, &g, "byte by byte");
        replays++;
    }
    closedir(dh);
    printf("%d fixtures, %ld replays, %d failures\n", files, replays, failures);
    return failures || files == 0 ? 1 : 0;
}
