/* instream.c: see instream.h. */
#define _GNU_SOURCE /* fopencookie */
#include "instream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "limits.h"

/* Compressed bytes read at a time for gzip and xz: large reads keep read(2) calls rare
 * (zstd uses its own recommendation, ZSTD_DStreamInSize()). */
#define RAW_BUFFER (256u * 1024u)

/* Bytes sniffed at the start: the longest magic we look for (xz, 7z). */
#define MAGIC_BYTES 6

enum kind {
    K_PLAIN, /* read as it is (libpcap says whether it is a capture) */
    K_GZIP,  /* 1f 8b, RFC 1952; members one after another are one stream, as gunzip */
    K_XZ,    /* fd '7zXZ' 00; concatenated streams and padding, as xz -d */
    K_ZSTD,  /* 28 b5 2f fd, or a skippable frame first; frames one after another */
};

static const char *const kind_name[] = { "none", "gzip", "xz", "zstd" };

struct instream {
    const char *path;   /* for messages; borrowed */
    int fd;
    bool own_fd;        /* close fd at instream_free() */
    bool is_stdin;
    bool regular;       /* a regular file: its size is known */
    uint64_t size;
    enum kind kind;
    /* Stored bytes read but not decoded yet: raw[raw_pos, raw_len). For a plain input
     * only the sniffed magic lives here (in peek). */
    uint8_t peek[MAGIC_BYTES];
    uint8_t *raw;
    size_t raw_cap, raw_pos, raw_len;
    bool raw_eof;
    uint64_t raw_read;  /* stored bytes read from fd */
    z_stream z;
    bool z_init, z_member_end;
    lzma_stream x;
    bool x_init;
    ZSTD_DStream *zs;
    bool zs_in_frame;   /* the last zstd call that moved left a frame unfinished */
    bool done;          /* the decoder reached the end, or failed (why) */
    uint8_t *head;      /* decoded bytes read ahead, served first: head[head_off, head_len) */
    size_t head_len, head_off;
    FILE *direct;       /* a plain regular file handed to stdio, or NULL */
    char why[200];      /* why decoding stopped early; empty when it did not */
};

/* read(2), again after a signal. */
static ssize_t read_fd(int fd, void *buf, size_t n)
{
    ssize_t got;
    do
        got = read(fd, buf, n);
    while (got < 0 && errno == EINTR);
    return got;
}

/* Decoding stops here: every later read returns end of data. */
static void fail(struct instream *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct instream *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->why, sizeof in->why, fmt, ap);
    va_end(ap);
    in->done = true;
}

/* Read more stored bytes behind those not yet decoded. 0 (raw_eof set at the end), or
 * -1 on a read error with errno set. */
static int raw_fill(struct instream *in)
{
    if (in->raw_pos > 0) {
        memmove(in->raw, in->raw + in->raw_pos, in->raw_len - in->raw_pos);
        in->raw_len -= in->raw_pos;
        in->raw_pos = 0;
    }
    if (in->raw_eof || in->raw_len == in->raw_cap)
        return 0;
    ssize_t got = read_fd(in->fd, in->raw + in->raw_len, in->raw_cap - in->raw_len);
    if (got < 0)
        return -1;
    if (got == 0)
        in->raw_eof = true;
    in->raw_len += (size_t)got;
    in->raw_read += (uint64_t)got;
    return 0;
}

/* At least `want` undecoded bytes, unless the input ends first. */
static int raw_need(struct instream *in, size_t want)
{
    while (in->raw_len - in->raw_pos < want && !in->raw_eof)
        if (raw_fill(in) < 0)
            return -1;
    return 0;
}

static ssize_t plain_read(struct instream *in, uint8_t *buf, size_t n)
{
    if (in->raw_pos < in->raw_len) { /* the sniffed magic first */
        size_t k = in->raw_len - in->raw_pos < n ? in->raw_len - in->raw_pos : n;
        memcpy(buf, in->raw + in->raw_pos, k);
        in->raw_pos += k;
        return (ssize_t)k;
    }
    if (in->raw_eof)
        return 0;
    ssize_t got = read_fd(in->fd, buf, n);
    if (got > 0)
        in->raw_read += (uint64_t)got;
    else if (got == 0)
        in->raw_eof = true;
    return got;
}

static ssize_t gzip_read(struct instream *in, uint8_t *buf, size_t n)
{
    if (n > (1u << 30)) /* zlib counts in uInt */
        n = 1u << 30;
    size_t got = 0;
    while (got < n && !in->done) {
        if (in->z_member_end) {
            /* Another member follows only when the gzip magic does; anything else
             * (tape padding, trailing junk) is ignored, as gunzip does. */
            if (raw_need(in, 2) < 0)
                return got ? (ssize_t)got : -1;
            const uint8_t *r = in->raw + in->raw_pos;
            if (in->raw_len - in->raw_pos < 2 || r[0] != 0x1f || r[1] != 0x8b) {
                in->done = true;
                break;
            }
            inflateReset(&in->z);
            in->z_member_end = false;
        }
        if (in->raw_pos == in->raw_len && raw_fill(in) < 0)
            return got ? (ssize_t)got : -1;
        in->z.next_in = in->raw + in->raw_pos;
        in->z.avail_in = (uInt)(in->raw_len - in->raw_pos);
        in->z.next_out = buf + got;
        in->z.avail_out = (uInt)(n - got);
        int ret = inflate(&in->z, Z_NO_FLUSH);
        in->raw_pos = in->raw_len - in->z.avail_in;
        got = n - in->z.avail_out;
        if (ret == Z_STREAM_END)
            in->z_member_end = true;
        else if (ret == Z_BUF_ERROR && in->raw_pos == in->raw_len && in->raw_eof)
            fail(in, "gzip data cut short");
        else if (ret == Z_MEM_ERROR)
            fail(in, "out of memory decoding gzip data");
        else if (ret != Z_OK && ret != Z_BUF_ERROR)
            fail(in, "corrupt gzip data (%s)", in->z.msg ? in->z.msg : "bad stream");
    }
    return (ssize_t)got;
}

static ssize_t xz_read(struct instream *in, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n && !in->done) {
        if (in->raw_pos == in->raw_len && raw_fill(in) < 0)
            return got ? (ssize_t)got : -1;
        in->x.next_in = in->raw + in->raw_pos;
        in->x.avail_in = in->raw_len - in->raw_pos;
        in->x.next_out = buf + got;
        in->x.avail_out = n - got;
        /* LZMA_CONCATENATED: only FINISH tells the decoder that no stream follows */
        lzma_action act = in->raw_eof && in->x.avail_in == 0 ? LZMA_FINISH : LZMA_RUN;
        lzma_ret ret = lzma_code(&in->x, act);
        in->raw_pos = in->raw_len - in->x.avail_in;
        got = n - in->x.avail_out;
        switch (ret) {
        case LZMA_OK:
            break;
        case LZMA_STREAM_END:
            in->done = true;
            break;
        case LZMA_MEMLIMIT_ERROR:
            fail(in, "xz data needs %llu MiB of memory, more than the %llu MiB limit",
                 (unsigned long long)(lzma_memusage(&in->x) >> 20),
                 (unsigned long long)(SOURCE_DECOMPRESS_MEM_MAX >> 20));
            break;
        case LZMA_BUF_ERROR:
            fail(in, "xz data cut short");
            break;
        case LZMA_MEM_ERROR:
            fail(in, "out of memory decoding xz data");
            break;
        case LZMA_OPTIONS_ERROR:
            fail(in, "corrupt xz data (unsupported options)");
            break;
        case LZMA_FORMAT_ERROR:
            fail(in, "corrupt xz data (not in the xz format)");
            break;
        default:
            fail(in, "corrupt xz data (%s)",
                 ret == LZMA_DATA_ERROR ? "compressed data is corrupt" : "decoder error");
            break;
        }
    }
    return (ssize_t)got;
}

static ssize_t zstd_read(struct instream *in, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n && !in->done) {
        if (in->raw_pos == in->raw_len && raw_fill(in) < 0)
            return got ? (ssize_t)got : -1;
        ZSTD_inBuffer ib = { in->raw, in->raw_len, in->raw_pos };
        ZSTD_outBuffer ob = { buf, n, got };
        size_t ret = ZSTD_decompressStream(in->zs, &ob, &ib);
        bool moved = ib.pos != in->raw_pos || ob.pos != got;
        in->raw_pos = ib.pos;
        got = ob.pos;
        if (ZSTD_isError(ret)) {
            if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
                fail(in, "zstd data needs a window over the %llu MiB limit",
                     (unsigned long long)(SOURCE_DECOMPRESS_MEM_MAX >> 20));
            else
                fail(in, "corrupt zstd data (%s)", ZSTD_getErrorName(ret));
        } else if (moved) {
            /* 0 only when a frame ended and all of it was flushed */
            in->zs_in_frame = ret != 0;
        } else if (in->raw_pos == in->raw_len && in->raw_eof) {
            if (in->zs_in_frame)
                fail(in, "zstd data cut short");
            else
                in->done = true;
        } else if (in->raw_pos < in->raw_len) {
            fail(in, "corrupt zstd data (the decoder made no progress)");
        }
    }
    return (ssize_t)got;
}

/* Decoded bytes: > 0, 0 at the end (or from where decoding failed), -1 on a read error
 * with errno set. */
static ssize_t decoded_read(struct instream *in, uint8_t *buf, size_t n)
{
    switch (in->kind) {
    case K_GZIP:
        return gzip_read(in, buf, n);
    case K_XZ:
        return xz_read(in, buf, n);
    case K_ZSTD:
        return zstd_read(in, buf, n);
    case K_PLAIN:
        break;
    }
    return plain_read(in, buf, n);
}

/* Magic numbers of compressions we do not read: refused by name rather than reported as
 * "not a capture", so that the user knows to decompress first. */
static const struct {
    const char *name;
    size_t len;
    uint8_t magic[MAGIC_BYTES];
} refused[] = {
    { "bzip2", 3, { 'B', 'Z', 'h' } },
    { "lz4", 4, { 0x04, 0x22, 0x4d, 0x18 } },
    { "lz4", 4, { 0x02, 0x21, 0x4c, 0x18 } }, /* lz4's legacy frame (lz4 -l) */
    { "lzip", 4, { 'L', 'Z', 'I', 'P' } },
    { "7z", 6, { '7', 'z', 0xbc, 0xaf, 0x27, 0x1c } },
    { "zip", 4, { 'P', 'K', 3, 4 } },
    { "compress", 2, { 0x1f, 0x9d } },
};

static bool starts(const uint8_t *p, size_t n, const void *magic, size_t len)
{
    return n >= len && memcmp(p, magic, len) == 0;
}

/* What the first n bytes say; name of a refused compression in *refused_name. */
static enum kind sniff(const uint8_t *p, size_t n, const char **refused_name)
{
    *refused_name = NULL;
    static const uint8_t gz[] = { 0x1f, 0x8b }, xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0 },
                         zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
    if (starts(p, n, gz, sizeof gz))
        return K_GZIP;
    if (starts(p, n, xz, sizeof xz))
        return K_XZ;
    /* a zstd frame, or a skippable frame (magic 0x184D2A5?) that zstd skips */
    if (starts(p, n, zst, sizeof zst) ||
        (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18))
        return K_ZSTD;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (starts(p, n, refused[i].magic, refused[i].len)) {
            *refused_name = refused[i].name;
            break;
        }
    return K_PLAIN;
}

/* Set up the decoder of in->kind. 0, or -1 with a reason in err. */
static int decoder_init(struct instream *in, char *err, size_t err_len)
{
    if (in->kind == K_PLAIN) {
        in->raw = in->peek;
        in->raw_cap = MAGIC_BYTES;
        return 0;
    }
    size_t cap = in->kind == K_ZSTD ? ZSTD_DStreamInSize() : RAW_BUFFER;
    in->raw = malloc(cap);
    if (!in->raw) {
        snprintf(err, err_len, "%s: out of memory", in->path);
        return -1;
    }
    in->raw_cap = cap;
    memcpy(in->raw, in->peek, in->raw_len);
    bool ok = false;
    if (in->kind == K_GZIP) {
        in->z_init = ok = inflateInit2(&in->z, 15 + 16) == Z_OK; /* gzip wrapper only */
    } else if (in->kind == K_XZ) {
        in->x = (lzma_stream)LZMA_STREAM_INIT;
        in->x_init = ok = lzma_stream_decoder(&in->x, SOURCE_DECOMPRESS_MEM_MAX,
                                              LZMA_CONCATENATED) == LZMA_OK;
    } else {
        in->zs = ZSTD_createDStream();
        ok = in->zs && !ZSTD_isError(ZSTD_DCtx_setParameter(in->zs, ZSTD_d_windowLogMax,
                                                            SOURCE_ZSTD_WINDOW_LOG_MAX));
    }
    if (!ok) {
        snprintf(err, err_len, "%s: out of memory", in->path);
        return -1;
    }
    return 0;
}

struct instream *instream_open(const char *path, char *err, size_t err_len)
{
    struct instream *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    in->path = path;
    if (strcmp(path, "-") == 0) {
        /* not ours to close: the shell opened it */
        in->fd = STDIN_FILENO;
        in->is_stdin = true;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        in->own_fd = in->fd >= 0;
    }
    struct stat sb;
    if (in->fd < 0 || fstat(in->fd, &sb) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        instream_free(in);
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "%s: %s", path, strerror(EISDIR));
        instream_free(in);
        return NULL;
    }
    in->regular = S_ISREG(sb.st_mode);
    in->size = in->regular && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
    /* A pipe may hand over fewer bytes than asked: read until the magic is complete. */
    while (in->raw_len < MAGIC_BYTES && !in->raw_eof) {
        ssize_t got = read_fd(in->fd, in->peek + in->raw_len, MAGIC_BYTES - in->raw_len);
        if (got < 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            instream_free(in);
            return NULL;
        }
        in->raw_eof = got == 0;
        in->raw_len += (size_t)got;
        in->raw_read += (uint64_t)got;
    }
    const char *no;
    in->kind = sniff(in->peek, in->raw_len, &no);
    if (no) {
        snprintf(err, err_len, "%s: unsupported compression (%s)", path, no);
        instream_free(in);
        return NULL;
    }
    if (decoder_init(in, err, err_len) != 0) {
        instream_free(in);
        return NULL;
    }
    return in;
}

int instream_read_head(struct instream *in, size_t max_bytes, char *err, size_t err_len)
{
    in->head = malloc(max_bytes ? max_bytes : 1);
    if (!in->head) {
        snprintf(err, err_len, "%s: out of memory", in->path);
        return -1;
    }
    while (in->head_len < max_bytes) {
        ssize_t got = decoded_read(in, in->head + in->head_len, max_bytes - in->head_len);
        if (got < 0) {
            snprintf(err, err_len, "%s: %s", in->path, strerror(errno));
            return -1;
        }
        if (got == 0)
            break;
        in->head_len += (size_t)got;
    }
    return 0;
}

const uint8_t *instream_head(const struct instream *in, size_t *n_bytes)
{
    *n_bytes = in->head_len;
    return in->head;
}

static ssize_t cookie_read(void *cookie, char *buf, size_t n)
{
    struct instream *in = cookie;
    if (in->head_off < in->head_len) {
        size_t k = in->head_len - in->head_off < n ? in->head_len - in->head_off : n;
        memcpy(buf, in->head + in->head_off, k);
        in->head_off += k;
        if (in->head_off == in->head_len) { /* served: 1 MiB less held for the run */
            free(in->head);
            in->head = NULL;
            in->head_len = in->head_off = 0;
        }
        return (ssize_t)k;
    }
    return decoded_read(in, (uint8_t *)buf, n);
}

/* The stream outlives its FILE (instream_free() comes after fclose()). */
static int cookie_close(void *cookie)
{
    (void)cookie;
    return 0;
}

FILE *instream_fopen(struct instream *in, char *rbuf, size_t rbuf_len, char *err,
                     size_t err_len)
{
    FILE *f;
    if (in->kind == K_PLAIN && in->regular && !in->is_stdin) {
        /* The fast path of every uncompressed capture: stdio reads the file itself. */
        if (lseek(in->fd, 0, SEEK_SET) != 0 || !(f = fdopen(in->fd, "rb"))) {
            snprintf(err, err_len, "%s: %s", in->path, strerror(errno));
            return NULL;
        }
        in->own_fd = false;
        in->direct = f;
        free(in->head);
        in->head = NULL;
        in->head_len = in->head_off = 0;
        in->raw_read = 0;
    } else {
        cookie_io_functions_t io = { .read = cookie_read, .close = cookie_close };
        f = fopencookie(in, "r", io);
        if (!f) {
            snprintf(err, err_len, "%s: out of memory", in->path);
            return NULL;
        }
    }
    if (rbuf && setvbuf(f, rbuf, _IOFBF, rbuf_len) != 0) {
        snprintf(err, err_len, "%s: cannot set a read buffer", in->path);
        fclose(f);
        in->direct = NULL;
        return NULL;
    }
    return f;
}

void instream_forget_file(struct instream *in)
{
    if (in->direct) {
        in->raw_read = instream_pos(in);
        in->direct = NULL;
    }
}

const char *instream_compression(const struct instream *in)
{
    return kind_name[in->kind];
}

uint64_t instream_size(const struct instream *in)
{
    return in->size;
}

uint64_t instream_pos(const struct instream *in)
{
    if (in->direct) {
        long off = ftell(in->direct);
        return off > 0 ? (uint64_t)off : 0;
    }
    return in->raw_read;
}

const char *instream_error(const struct instream *in)
{
    return in->why[0] ? in->why : NULL;
}

bool instream_check_rest(struct instream *in)
{
    if (in->kind == K_PLAIN || in->done)
        return in->why[0] != '\0';
    enum { SCRATCH = 64 * 1024 };
    uint8_t *scratch = malloc(SCRATCH);
    if (!scratch)
        return false;
    uint64_t left = INSTREAM_CHECK_REST_MAX;
    ssize_t got;
    while (left > 0 && (got = decoded_read(in, scratch, SCRATCH)) > 0)
        left = (uint64_t)got < left ? left - (uint64_t)got : 0;
    free(scratch);
    return in->why[0] != '\0';
}

void instream_free(struct instream *in)
{
    if (!in)
        return;
    if (in->own_fd)
        close(in->fd);
    if (in->z_init)
        inflateEnd(&in->z);
    if (in->x_init)
        lzma_end(&in->x);
    ZSTD_freeDStream(in->zs);
    if (in->raw != in->peek)
        free(in->raw);
    free(in->head);
    free(in);
}
