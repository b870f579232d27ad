/* source_file.c: see source_file.h.
 *
 * Every input is checked and fingerprinted at source_file_open() and closed again
 * (standard input, which cannot be reopened, stays open with its first record read).
 * The merge then keeps a binary heap of the open inputs keyed by the capture time of
 * the record at each one's head (ties: the input given first), and a list of the
 * inputs not opened yet in order of their first record's time. An input is opened
 * when the merge reaches that time, and closed at its end: rotated files that do not
 * overlap are read one at a time, as they were before the merge. */
#include "source_file.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "instream.h"

/* stdio buffer of each open input: libpcap reads record by record through stdio, and
 * with the default 4 KiB buffer that is a read() every few packets (measured on a 1 GB
 * capture: 275,716 read() calls, 1,088 with 1 MiB). */
#define CAP_READ_BUFFER (1u << 20)

enum input_state {
    IN_WAITING, /* checked, not in the merge yet (standard input: open, first record read) */
    IN_OPEN,    /* in the merge: its head record is in the heap */
    IN_DONE,    /* read to its end, or stopped by a truncated record or an error */
};

struct input {
    enum input_state state;
    pcap_t *p;                   /* NULL unless open */
    struct instream *in;         /* the bytes behind p's FILE (which borrows it) */
    char *rbuf;                  /* p's stdio buffer, CAP_READ_BUFFER bytes */
    struct bpf_program prog;     /* the filter compiled for this input's link type */
    bool has_prog;
    int first_rc;                /* standard input: pcap_next_ex() of its first record */
    struct pcap_pkthdr *h;       /* the head record: borrowed from libpcap until the */
    const u_char *data;          /*   next pcap_next_ex() on p */
    uint64_t head_ts_us;
    uint64_t done_bytes;         /* stored bytes, counted as read once IN_DONE */
};

struct cap {
    struct source base;          /* first: a struct source * is a struct cap * */
    int n;
    struct input *inp;           /* n, in the order given */
    struct source_input *fp;     /* n, in the order given */
    const char *filter;
    int *order;                  /* inputs by (first_packet_us, position): opening order */
    int next_open;               /* order[next_open] is the next input to open */
    int *heap;                   /* open inputs with a head record, min first */
    int n_heap;
    int last;                    /* input of the record returned last (to advance), or -1 */
    uint32_t n_open;             /* libpcap handles open now */
    bool total_unknown;          /* some input is a pipe */
    uint64_t total_size;
    struct source_stats st;
    char *name;                  /* the inputs, space-separated */
};

static const struct source_ops file_ops;

/* Classic pcap stores seconds as an unsigned 32-bit number (good to 2106), but libpcap
 * reads them into a signed 32-bit field and sign-extends them: from 2038-01-19 03:14:08
 * on, tv_sec comes out negative. No capture predates 1970, so a negative value is
 * taken back as the unsigned 32-bit number it was (pcapng's 64-bit times never come
 * out negative). */
static uint64_t ts_us(const struct pcap_pkthdr *h)
{
    uint64_t sec = h->ts.tv_sec < 0 ? (uint64_t)(uint32_t)h->ts.tv_sec
                                    : (uint64_t)h->ts.tv_sec;
    return sec * 1000000u + (uint64_t)(uint32_t)h->ts.tv_usec;
}

/* 64-bit FNV-1a: cheap, and enough to tell two captures apart (not against an
 * adversary: the fingerprint names a capture, it does not authenticate one). */
static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    const uint64_t prime = 0x100000001b3ull;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; n - i >= 4; i += 4) { /* unrolled: it runs over a whole MiB per input */
        h = (h ^ p[i]) * prime;
        h = (h ^ p[i + 1]) * prime;
        h = (h ^ p[i + 2]) * prime;
        h = (h ^ p[i + 3]) * prime;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * prime;
    return h;
}

/* ---- the heap of open inputs ---------------------------------------------------- */

static bool before(const struct cap *c, int a, int b)
{
    uint64_t ta = c->inp[a].head_ts_us, tb = c->inp[b].head_ts_us;
    return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct cap *c, int at)
{
    int *h = c->heap;
    for (;;) {
        int l = 2 * at + 1, r = l + 1, min = at;
        if (l < c->n_heap && before(c, h[l], h[min]))
            min = l;
        if (r < c->n_heap && before(c, h[r], h[min]))
            min = r;
        if (min == at)
            return;
        int t = h[at];
        h[at] = h[min];
        h[min] = t;
        at = min;
    }
}

static void heap_push(struct cap *c, int i)
{
    int at = c->n_heap++;
    c->heap[at] = i;
    while (at > 0 && before(c, c->heap[at], c->heap[(at - 1) / 2])) {
        int up = (at - 1) / 2, t = c->heap[up];
        c->heap[up] = c->heap[at];
        c->heap[at] = t;
        at = up;
    }
}

static void heap_pop(struct cap *c)
{
    c->heap[0] = c->heap[--c->n_heap];
    sift_down(c, 0);
}

/* ---- opening and closing one input ------------------------------------------------ */

/* Close input i's libpcap handle, and with it the FILE that borrows the stream. */
static void drop_handle(struct cap *c, int i)
{
    struct input *n = &c->inp[i];
    if (!n->p)
        return;
    instream_forget_file(n->in);
    pcap_close(n->p);
    n->p = NULL;
    c->n_open--;
}

/* Close input i's handle and stream, if open; its bytes count as read. */
static void close_input(struct cap *c, int i)
{
    struct input *n = &c->inp[i];
    drop_handle(c, i); /* the FILE goes before its stream and its buffer */
    if (n->in)
        n->done_bytes = c->fp[i].size ? c->fp[i].size : instream_pos(n->in);
    instream_free(n->in);
    n->in = NULL;
    free(n->rbuf);
    n->rbuf = NULL;
}

/* libpcap on the input's bytes: n->p, or -1 with a reason naming the input in err. */
static int pcap_on(struct cap *c, int i, bool big_buffer, char *err, size_t err_len)
{
    struct input *n = &c->inp[i];
    const char *path = c->fp[i].path;
    if (big_buffer && !(n->rbuf = malloc(CAP_READ_BUFFER))) {
        snprintf(err, err_len, "%s: out of memory", path);
        return -1;
    }
    FILE *f = instream_fopen(n->in, n->rbuf, CAP_READ_BUFFER, err, err_len);
    if (!f)
        return -1;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    n->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!n->p) {
        instream_forget_file(n->in);
        fclose(f);
        const char *bad = instream_error(n->in);
        /* libpcap says "unknown file format" for anything that is not a capture */
        if (bad)
            snprintf(err, err_len, "%s: %s", path, bad);
        else if (strstr(ebuf, "unknown file format") || strstr(ebuf, "truncated dump file") ||
                 strstr(ebuf, "bad dump file format"))
            snprintf(err, err_len, "%s: not a pcap or pcapng file (%s)", path, ebuf);
        else
            snprintf(err, err_len, "%s: %s", path, ebuf);
        return -1;
    }
    if (++c->n_open > c->st.peak_open)
        c->st.peak_open = c->n_open;
    return 0;
}

/* libpcap turns a pcapng time into microseconds by multiplying the fraction by 10^6
 * before dividing it by the resolution: with a binary if_tsresol finer than 2^-44 s the
 * product overflows 64 bits and the times come out wrong, silently. Such interfaces are
 * refused (those whose Interface Description Block lies in the head: in practice all).
 * 0, or -1 with err naming the file. */
#define TSRESOL_MAX_SHIFT 44

static uint32_t ng32(const uint8_t *p, bool be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int check_tsresol(const uint8_t *h, size_t len, const char *path, char *err,
                         size_t err_len)
{
    if (len < 12 || ng32(h, false) != 0x0A0D0D0A)
        return 0; /* not pcapng */
    bool be = false;
    unsigned iface = 0;
    for (size_t off = 0; off + 12 <= len;) {
        if (ng32(h + off, false) == 0x0A0D0D0A) { /* a section: its byte order, anew */
            if (off + 12 > len)
                break;
            be = ng32(h + off + 8, true) == 0x1A2B3C4D;
            iface = 0;
        }
        uint32_t type = ng32(h + off, be), blen = ng32(h + off + 4, be);
        if (blen < 12 || blen % 4 || blen > len - off)
            break; /* the rest is libpcap's to judge */
        if (type == 1 && blen >= 20) { /* an Interface Description Block: its options */
            for (size_t o = off + 16; o + 4 <= off + blen - 4;) {
                unsigned code = be ? (unsigned)h[o] << 8 | h[o + 1] : (unsigned)h[o + 1] << 8 | h[o];
                unsigned olen = be ? (unsigned)h[o + 2] << 8 | h[o + 3]
                                   : (unsigned)h[o + 3] << 8 | h[o + 2];
                if (code == 0 || o + 4 + olen > off + blen - 4)
                    break;
                if (code == 9 && olen == 1 && (h[o + 4] & 0x80) &&
                    (h[o + 4] & 0x7f) > TSRESOL_MAX_SHIFT && (h[o + 4] & 0x7f) <= 63) {
                    snprintf(err, err_len, "%s: interface %u: time resolution 2^-%u s "
                             "(if_tsresol) is finer than libpcap converts correctly "
                             "(2^-%u s); refused", path, iface, h[o + 4] & 0x7f,
                             TSRESOL_MAX_SHIFT);
                    return -1;
                }
                o += 4 + ((olen + 3u) & ~3u);
            }
            iface++;
        }
        off += blen;
    }
    return 0;
}

/* Check input i and fingerprint it: decoded head, link type, the filter compiled for
 * it, the time of its first record. Standard input stays open, its first record read;
 * anything else is closed again. 0, or -1 with err and *why. */
static int check_input(struct cap *c, int i, char *err, size_t err_len,
                       enum source_file_error *why)
{
    struct input *n = &c->inp[i];
    struct source_input *fp = &c->fp[i];
    bool is_stdin = strcmp(fp->path, "-") == 0;
    *why = SOURCE_FILE_BAD_INPUT;
    n->in = instream_open(fp->path, err, err_len);
    if (!n->in || instream_read_head(n->in, SOURCE_HEAD_BYTES, err, err_len) != 0)
        return -1;
    size_t head_len;
    const uint8_t *head = instream_head(n->in, &head_len);
    fp->head_hash = fnv1a64(head, head_len);
    fp->head_bytes = (uint32_t)head_len;
    fp->compression = instream_compression(n->in);
    fp->size = instream_size(n->in);
    if (check_tsresol(head, head_len, fp->path, err, err_len) != 0)
        return -1;
    /* a file is only peeked at here: stdio's default buffer will do */
    if (pcap_on(c, i, is_stdin, err, err_len) != 0)
        return -1;
    fp->linktype = pcap_datalink(n->p);
    fp->snaplen = pcap_snapshot(n->p);
    fp->link_name = pcap_datalink_val_to_name(fp->linktype);
    if (!dec_link_supported(fp->linktype)) {
        snprintf(err, err_len, "%s: unsupported link type %d (%s)", fp->path, fp->linktype,
                 fp->link_name ? fp->link_name : "unknown");
        /* Alone, such a capture is refused; one of several is read and its packets
         * counted as undecodable, so that the others are analysed (the caller decides,
         * once every input is checked). */
        if (c->n < 2)
            return -1;
        fp->undecodable = true;
    }
    if (c->filter) {
        if (pcap_compile(n->p, &n->prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
            n->has_prog = true;
        } else if (!fp->undecodable) {
            *why = SOURCE_FILE_BAD_FILTER;
            snprintf(err, err_len, "filter '%s': %s", c->filter, pcap_geterr(n->p));
            return -1;
        }
        /* else: a filter that does not compile for a link type we do not decode
         * anyway: that input's packets are all counted, unfiltered */
    }
    /* The first record before any filter: the fingerprint does not depend on it. */
    int rc = pcap_next_ex(n->p, &n->h, &n->data);
    if (rc == 1) {
        fp->first_packet_us = ts_us(n->h);
    } else if (rc == PCAP_ERROR && !strstr(pcap_geterr(n->p), "truncated") &&
               !instream_error(n->in)) {
        /* a broken capture, not a cut one: refuse it before a long run over others */
        snprintf(err, err_len, "%s: %s", fp->path, pcap_geterr(n->p));
        return -1;
    }
    /* a capture whose first record is cut, or with no record: first_packet_us 0, and
     * the merge opens it first to report it */
    if (!is_stdin) {
        close_input(c, i);
        return 0;
    }
    n->first_rc = rc;
    if (n->has_prog && pcap_setfilter(n->p, &n->prog) != 0) {
        snprintf(err, err_len, "%s: filter: %s", fp->path, pcap_geterr(n->p));
        return -1;
    }
    return 0;
}

/* Open input i again for the merge, with its big buffer and its filter. */
static int reopen_input(struct cap *c, int i, char *err, size_t err_len)
{
    struct input *n = &c->inp[i];
    const char *path = c->fp[i].path;
    n->in = instream_open(path, err, err_len);
    if (!n->in || pcap_on(c, i, true, err, err_len) != 0)
        return -1;
    if (pcap_datalink(n->p) != c->fp[i].linktype) {
        snprintf(err, err_len, "%s: changed since it was opened (link type %d, was %d)",
                 path, pcap_datalink(n->p), c->fp[i].linktype);
        return -1;
    }
    if (n->has_prog && pcap_setfilter(n->p, &n->prog) != 0) {
        snprintf(err, err_len, "%s: filter: %s", path, pcap_geterr(n->p));
        return -1;
    }
    return 0;
}

/* ---- the merge -------------------------------------------------------------------- */

/* Input i has read its next record (rc from pcap_next_ex()); i is at the root of the
 * heap when in_heap. A record goes (back) into the heap: SOURCE_PACKET. The end of the
 * input closes it: SOURCE_END when it ended cleanly, SOURCE_TRUNCATED when it ended
 * inside a record or its compressed data broke, SOURCE_ERROR on a read error. */
static enum source_event settle(struct cap *c, int i, int rc, bool in_heap, char *err,
                                size_t err_len)
{
    struct input *n = &c->inp[i];
    if (rc == 1) {
        n->head_ts_us = ts_us(n->h);
        if (in_heap)
            sift_down(c, 0);
        else
            heap_push(c, i);
        return SOURCE_PACKET;
    }
    if (in_heap)
        heap_pop(c);
    n->state = IN_DONE;
    const char *path = c->fp[i].path;
    unsigned long long got = (unsigned long long)c->fp[i].packets;
    enum source_event ev = SOURCE_END;
    bool refused = false; /* libpcap refused a record: the decoder may know better why */
    if (rc == PCAP_ERROR) {
        /* libpcap reports a record cut short as an error that mentions truncation;
         * anything else is a real read error, unless the compressed data broke and
         * handed libpcap garbage before the decoder noticed. */
        const char *pe = pcap_geterr(n->p);
        bool trunc = strstr(pe, "truncated") != NULL;
        /* A record or block libpcap refuses part-way through (a length beyond the snap
         * length or its block cap, a section of the other byte order, an undefined
         * interface) ends the input as a cut does: what came before is good. Only a
         * failing read (libpcap: "error reading dump file: ...") is a read error. */
        bool io = strstr(pe, "error reading") != NULL;
        if (trunc)
            snprintf(err, err_len, "%s: truncated record after %llu packets; analysed up "
                     "to the break", path, got);
        else
            snprintf(err, err_len, "%s: %s after %llu packets%s", path, pe, got,
                     io ? "" : "; analysed up to the break, the run is marked truncated");
        ev = trunc || !io ? SOURCE_TRUNCATED : SOURCE_ERROR;
        refused = !trunc;
    }
    drop_handle(c, i); /* the stream stays, to be asked why it ended */
    if (instream_error(n->in) || (refused && instream_check_rest(n->in))) {
        snprintf(err, err_len, "%s: %s after %llu packets; analysed up to the break", path,
                 instream_error(n->in), got);
        ev = SOURCE_TRUNCATED;
    }
    close_input(c, i);
    if (ev == SOURCE_TRUNCATED)
        c->st.truncated = true;
    return ev;
}

/* Bring input i into the merge and read its first record. */
static enum source_event enter(struct cap *c, int i, char *err, size_t err_len)
{
    struct input *n = &c->inp[i];
    c->st.files++;
    n->state = IN_OPEN;
    int rc;
    if (n->p) { /* standard input: its first record was read at the check */
        rc = n->first_rc;
        if (rc == 1 && n->has_prog && !pcap_offline_filter(&n->prog, n->h, n->data))
            rc = pcap_next_ex(n->p, &n->h, &n->data);
    } else {
        if (reopen_input(c, i, err, err_len) != 0) {
            close_input(c, i);
            n->state = IN_DONE;
            return SOURCE_ERROR;
        }
        rc = pcap_next_ex(n->p, &n->h, &n->data);
    }
    return settle(c, i, rc, false, err, err_len);
}

/* Open every input whose first record could come next: at or before the head of the
 * merge (at it too, so that a tie goes to the input given first). SOURCE_END when
 * there is nothing to report. */
static enum source_event open_due(struct cap *c, char *err, size_t err_len)
{
    while (c->next_open < c->n &&
           (c->n_heap == 0 ||
            c->fp[c->order[c->next_open]].first_packet_us <= c->inp[c->heap[0]].head_ts_us)) {
        enum source_event ev = enter(c, c->order[c->next_open++], err, err_len);
        if (ev == SOURCE_TRUNCATED || ev == SOURCE_ERROR)
            return ev;
    }
    return SOURCE_END;
}

static enum source_event file_next(struct source *s, struct source_packet *pkt, char *err,
                                   size_t err_len)
{
    struct cap *c = (struct cap *)s;
    int i = c->last;
    if (i >= 0) {
        /* The record returned last is released only now: it had to stay valid until
         * this call. Its input is at the root of the heap. */
        struct input *n = &c->inp[i];
        int rc = pcap_next_ex(n->p, &n->h, &n->data);
        if (rc == 1) {
            n->head_ts_us = ts_us(n->h);
            if (c->n_heap > 1)
                sift_down(c, 0);
        } else {
            c->last = -1;
            enum source_event ev = settle(c, i, rc, true, err, err_len);
            if (ev != SOURCE_END)
                return ev;
        }
    }
    if (c->next_open < c->n) {
        enum source_event ev = open_due(c, err, err_len);
        if (ev != SOURCE_END) {
            c->last = -1;
            return ev;
        }
    }
    if (c->n_heap == 0) {
        c->last = -1;
        return SOURCE_END;
    }
    i = c->last = c->heap[0];
    const struct input *n = &c->inp[i];
    const struct pcap_pkthdr *h = n->h;
    uint32_t wire = h->len < h->caplen ? h->caplen : h->len;
    *pkt = (struct source_packet){ n->head_ts_us, h->caplen, wire, c->fp[i].linktype,
                                   n->data, c->fp[i].path };
    c->fp[i].packets++;
    c->st.packets++;
    c->st.bytes += wire;
    c->st.cut_packets += h->caplen < h->len;
    return SOURCE_PACKET;
}

/* ---- the source ------------------------------------------------------------------- */

/* The inputs, space-separated, for runs.source. NULL on no memory. */
static char *join_paths(const char *const *paths, int n_paths)
{
    size_t len = 1;
    for (int i = 0; i < n_paths; i++)
        len += strlen(paths[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t used = 0;
    s[0] = '\0';
    for (int i = 0; i < n_paths; i++)
        used += (size_t)snprintf(s + used, len - used, "%s%s", i ? " " : "", paths[i]);
    return s;
}

struct first {
    uint64_t ts_us;
    int i;
};

static int by_first(const void *a, const void *b)
{
    const struct first *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The opening order: by the time of the first record, then as given. */
static int plan(struct cap *c)
{
    struct first *f = malloc(sizeof *f * (size_t)(c->n ? c->n : 1));
    if (!f)
        return -1;
    for (int i = 0; i < c->n; i++)
        f[i] = (struct first){ c->fp[i].first_packet_us, i };
    qsort(f, (size_t)c->n, sizeof *f, by_first);
    for (int i = 0; i < c->n; i++)
        c->order[i] = f[i].i;
    free(f);
    return 0;
}

static void file_free(struct source *s);

struct source *source_file_open(const struct source_file_config *cfg, char *err,
                                size_t err_len, enum source_file_error *why)
{
    *why = SOURCE_FILE_BAD_INPUT;
    int n = cfg->n_paths > 0 ? cfg->n_paths : 0;
    int stdins = 0;
    for (int i = 0; i < n; i++)
        stdins += strcmp(cfg->paths[i], "-") == 0;
    if (stdins > 1) {
        snprintf(err, err_len, "-: standard input given %d times; it can be read once",
                 stdins);
        return NULL;
    }
    struct cap *c = calloc(1, sizeof *c);
    size_t slots = (size_t)(n ? n : 1);
    if (c) {
        c->base.ops = &file_ops;
        c->n = n;
        c->filter = cfg->filter;
        c->last = -1;
        c->inp = calloc(slots, sizeof *c->inp);
        c->fp = calloc(slots, sizeof *c->fp);
        c->order = calloc(slots, sizeof *c->order);
        c->heap = calloc(slots, sizeof *c->heap);
        c->name = join_paths(cfg->paths, n);
        c->base.name = c->name;
    }
    if (!c || !c->inp || !c->fp || !c->order || !c->heap || !c->name) {
        if (c)
            file_free(&c->base);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    /* Check every input before reading any, so that a bad last file does not cost a
     * long run over the first ones. */
    for (int i = 0; i < n; i++) {
        c->fp[i].path = cfg->paths[i];
        if (check_input(c, i, err, err_len, why) != 0) {
            file_free(&c->base);
            return NULL;
        }
        c->total_size += c->fp[i].size;
        if (!c->fp[i].size)
            c->total_unknown = true;
    }
    /* Several inputs, none of a link type we decode: nothing to analyse. */
    int decodable = 0;
    for (int i = 0; i < n; i++)
        decodable += !c->fp[i].undecodable;
    if (n > 1 && decodable == 0) {
        snprintf(err, err_len, "%s: unsupported link type %d (%s), as every other input",
                 c->fp[0].path, c->fp[0].linktype,
                 c->fp[0].link_name ? c->fp[0].link_name : "unknown");
        file_free(&c->base);
        return NULL;
    }
    if (plan(c) != 0) {
        file_free(&c->base);
        snprintf(err, err_len, "out of memory");
        *why = SOURCE_FILE_BAD_INPUT;
        return NULL;
    }
    return &c->base;
}

static const struct source_input *file_inputs(const struct source *s, int *n_inputs)
{
    const struct cap *c = (const struct cap *)s;
    *n_inputs = c->n;
    return c->fp;
}

static void file_progress(const struct source *s, uint64_t *done, uint64_t *total)
{
    const struct cap *c = (const struct cap *)s;
    uint64_t sum = 0;
    for (int i = 0; i < c->n; i++) {
        const struct input *n = &c->inp[i];
        sum += n->state == IN_DONE ? n->done_bytes : n->in ? instream_pos(n->in) : 0;
    }
    *done = sum;
    *total = c->total_unknown ? 0 : c->total_size;
}

static const struct source_stats *file_stats(struct source *s)
{
    return &((struct cap *)s)->st;
}

static void file_free(struct source *s)
{
    struct cap *c = (struct cap *)s;
    for (int i = 0; c->inp && i < c->n; i++) {
        close_input(c, i);
        if (c->inp[i].has_prog)
            pcap_freecode(&c->inp[i].prog);
    }
    free(c->inp);
    free(c->fp);
    free(c->order);
    free(c->heap);
    free(c->name);
    free(c);
}

static const struct source_ops file_ops = {
    .next = file_next,
    .progress = file_progress,
    .stats = file_stats,
    .inputs = file_inputs,
    .free = file_free,
};
