/* source_file.c: see source_file.h. */
#define _GNU_SOURCE /* fopencookie */
#include "source_file.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "decode.h"

/* stdio buffer for reading inputs */
#define CAP_READ_BUFFER (1u << 20)

struct cap {
    struct source base;  /* first: a struct source * is a struct cap * */
    const char *const *paths;
    int n_paths;
    int cur;             /* index of the open input, or n_paths when done */
    pcap_t *p;
    gzFile gz;           /* the open input, when it is gzip-compressed */
    char *rbuf;          /* stdio buffer of the open input (CAP_READ_BUFFER bytes) */
    int linktype;
    uint64_t done_before; /* sizes of inputs already finished */
    uint64_t total_size;
    uint64_t cur_size;
    uint64_t cur_packets; /* records read from the open input */
    struct source_stats st;
    char *name;          /* the inputs, space-separated */
};

/* gzip-compressed captures (Zeek's test traces, rotated span-port files) are read
 * through zlib: libpcap reads from a FILE, and fopencookie makes one of a gzFile. */
static ssize_t gz_read(void *cookie, char *buf, size_t n)
{
    int got = gzread(cookie, buf, n > (1u << 30) ? (1u << 30) : (unsigned)n);
    return got < 0 ? -1 : got;
}

static int gz_close(void *cookie)
{
    return gzclose(cookie) == Z_OK ? 0 : -1;
}

/* The input as a FILE, decompressing it when it starts with the gzip magic. rbuf, when
 * not NULL, is a CAP_READ_BUFFER-byte stdio buffer for it: libpcap reads record by
 * record through stdio, and with the default 4 KiB buffer that is a read() every few
 * packets (measured on a 1 GB capture: 275,716 read() calls, 1,088 with 1 MiB). It
 * must be set before the first read, and outlive the FILE. */
static FILE *open_input(const char *path, gzFile *gz, char *rbuf, char *err, size_t err_len)
{
    *gz = NULL;
    uint8_t magic[2] = { 0, 0 };
    FILE *f = fopen(path, "rb");
    if (f && fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(f);
        *gz = gzopen(path, "rb");
        cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
        FILE *cf = *gz ? fopencookie(*gz, "r", io) : NULL;
        if (!cf) {
            if (*gz)
                gzclose(*gz);
            *gz = NULL;
            snprintf(err, err_len, "%s: cannot read gzip data", path);
            return NULL;
        }
        if (rbuf) {
            gzbuffer(*gz, CAP_READ_BUFFER);
            setvbuf(cf, rbuf, _IOFBF, CAP_READ_BUFFER);
        }
        return cf;
    }
    if (f) { /* reopen, so that the buffer is set before any read */
        fclose(f);
        f = fopen(path, "rb");
    }
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (rbuf)
        setvbuf(f, rbuf, _IOFBF, CAP_READ_BUFFER);
    return f;
}

/* Open one input, check its link type. Returns NULL with a reason in err. */
static pcap_t *open_one(const char *path, int *linktype, gzFile *gz, char *rbuf, char *err,
                        size_t err_len)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    FILE *f = open_input(path, gz, rbuf, err, err_len);
    if (!f)
        return NULL;
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO,
                                                          ebuf);
    if (!p) {
        fclose(f);
        *gz = NULL;
        /* libpcap says "unknown file format" for anything that is not a capture */
        if (strstr(ebuf, "unknown file format") || strstr(ebuf, "truncated dump file") ||
            strstr(ebuf, "bad dump file format"))
            snprintf(err, err_len, "%s: not a pcap or pcapng file (%s)", path, ebuf);
        else
            snprintf(err, err_len, "%s: %s", path, ebuf);
        return NULL;
    }
    *linktype = pcap_datalink(p);
    if (!dec_link_supported(*linktype)) {
        const char *name = pcap_datalink_val_to_name(*linktype);
        snprintf(err, err_len, "%s: unsupported link type %d (%s)", path, *linktype,
                 name ? name : "unknown");
        pcap_close(p);
        *gz = NULL;
        return NULL;
    }
    return p;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
}

static const struct source_ops file_ops;

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

static void file_free(struct source *s);

struct source *source_file_open(const char *const *paths, int n_paths, char *err,
                                size_t err_len)
{
    struct cap *c = calloc(1, sizeof *c);
    if (c) {
        c->base.ops = &file_ops;
        c->rbuf = malloc(CAP_READ_BUFFER);
        c->name = join_paths(paths, n_paths);
        c->base.name = c->name;
    }
    if (!c || !c->rbuf || !c->name) {
        if (c)
            file_free(&c->base);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->paths = paths;
    c->n_paths = n_paths;
    /* Validate every input before reading any, so that a bad last file does not cost
     * a long run over the first ones. */
    for (int i = 0; i < n_paths; i++) {
        int lt;
        gzFile gz;
        pcap_t *p = open_one(paths[i], &lt, &gz, NULL, err, err_len);
        if (!p) {
            file_free(&c->base);
            return NULL;
        }
        pcap_close(p);
        c->total_size += file_size(paths[i]);
    }
    c->cur = -1;
    return &c->base;
}

/* Close the open input (libpcap closes its FILE, and so the gzFile behind it). */
static void close_current(struct cap *c)
{
    if (!c->p)
        return;
    pcap_close(c->p);
    c->p = NULL;
    c->gz = NULL;
    c->done_before += c->cur_size;
    c->cur_size = 0;
}

/* Move to the next input; false when there is none. */
static bool advance(struct cap *c, char *err, size_t err_len)
{
    close_current(c);
    while (++c->cur < c->n_paths) {
        c->p = open_one(c->paths[c->cur], &c->linktype, &c->gz, c->rbuf, err, err_len);
        if (!c->p) /* the file changed since source_file_open() */
            return false;
        c->cur_size = file_size(c->paths[c->cur]);
        c->cur_packets = 0;
        c->st.files++;
        return true;
    }
    return false;
}

static enum source_event file_next(struct source *s, struct source_packet *pkt, char *err,
                                   size_t err_len)
{
    struct cap *c = (struct cap *)s;
    for (;;) {
        if (!c->p) {
            if (c->cur >= c->n_paths)
                return SOURCE_END;
            err[0] = '\0';
            if (!advance(c, err, err_len))
                return err[0] ? SOURCE_ERROR : SOURCE_END;
        }
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(c->p, &h, &data);
        if (rc == 1) {
            pkt->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
            pkt->caplen = h->caplen;
            pkt->wire_len = h->len < h->caplen ? h->caplen : h->len;
            pkt->linktype = c->linktype;
            pkt->data = data;
            pkt->input = c->paths[c->cur];
            c->st.packets++;
            c->cur_packets++;
            c->st.bytes += pkt->wire_len;
            if (h->caplen < h->len)
                c->st.cut_packets++;
            return SOURCE_PACKET;
        }
        const char *path = c->paths[c->cur];
        if (rc == PCAP_ERROR_BREAK || rc == 0) { /* end of this file */
            close_current(c);
            continue;
        }
        /* libpcap reports a record cut short as an error that mentions truncation;
         * anything else is a real read error. */
        const char *why = pcap_geterr(c->p);
        bool trunc = strstr(why, "truncated") != NULL;
        snprintf(err, err_len, "%s: %s after %llu packets%s", path,
                 trunc ? "truncated record" : why, (unsigned long long)c->cur_packets,
                 trunc ? "; analysed up to the break" : "");
        close_current(c);
        if (!trunc)
            return SOURCE_ERROR;
        c->st.truncated = true;
        return SOURCE_TRUNCATED;
    }
}

static void file_progress(const struct source *s, uint64_t *done, uint64_t *total)
{
    const struct cap *c = (const struct cap *)s;
    uint64_t pos = 0;
    if (c->p) {
        FILE *f = pcap_file(c->p);
        long off = c->gz ? (long)gzoffset(c->gz) : f ? ftell(f) : -1;
        pos = off > 0 ? (uint64_t)off : 0;
    }
    *done = c->done_before + pos;
    *total = c->total_size;
}

static const struct source_stats *file_stats(struct source *s)
{
    return &((struct cap *)s)->st;
}

static void file_free(struct source *s)
{
    struct cap *c = (struct cap *)s;
    close_current(c); /* the FILE goes before its buffer */
    free(c->rbuf);
    free(c->name);
    free(c);
}

static const struct source_ops file_ops = {
    .next = file_next,
    .progress = file_progress,
    .stats = file_stats,
    .free = file_free,
};
