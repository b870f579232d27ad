/* evidence.c: see evidence.h. */
#include "evidence.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"

/* A held record: this header, then caplen captured bytes, unaligned. Its size is that of
 * a pcap record header, so a flow's file is 24 bytes plus what its buffer holds. */
struct ev_rec {
    uint64_t ts_us;
    uint32_t caplen;
    uint32_t wire_len;
};
#define EV_REC_BYTES ((uint32_t)sizeof(struct ev_rec))
_Static_assert(sizeof(struct ev_rec) == 16, "a held record header is a pcap one");

/* First buffer of a flow: room for two full-size Ethernet frames. */
#define EV_FIRST_BYTES 4096u

/* The longest name we write ("YYYYmmddTHHMMSSZ_" 17, two addresses of at most 45 and
 * two ports of 5 with their '_' 104, the longest verdict 23, "-999" and ".pcap" 9),
 * with room to spare, NUL included. Longer names in DIR are not ours. */
#define EV_NAME_MAX 160
/* Other flows' files may already have a name: "-2" up to "-999" are tried. */
#define EV_MAX_DUP 999u

/* Where a flow's holding stands. */
enum ev_state {
    EV_EMPTY = 0, /* no flow in the slot */
    EV_HOLDING,   /* packets are kept */
    EV_CUT,       /* EVIDENCE_MAX_FLOW_BYTES reached: later packets counted, not kept */
    EV_NOT_HELD,  /* the hold budget was full: later packets counted, not kept */
    EV_NO_MEMORY, /* the buffer could not grow: later packets counted, not kept */
    EV_DROPPED,   /* the pipeline gave up on the flow: packets ignored */
};

/* Per flow slot: 32 bytes, zero when empty. */
struct ev_slot {
    uint8_t *buf;     /* records, len bytes used of cap */
    uint64_t flow_id; /* the flow this slot holds for (ids are 1-based) */
    uint32_t len, cap;
    int32_t linktype; /* the flow's first packet's DLT_ */
    uint8_t state;    /* enum ev_state */
};

/* One evidence file in DIR. */
struct ev_file {
    char name[EV_NAME_MAX];
    uint64_t bytes;
};

struct evidence {
    int dfd;                  /* DIR, for the *at() calls */
    uint32_t max_files;
    uint64_t max_bytes, hold_bytes;
    struct ev_slot *slots;
    uint32_t n_slots;
    struct ev_file *files;    /* a min-heap by name: files[0] is the oldest */
    uint32_t n_files, files_cap;
    unsigned tmp_seq;         /* makes temporary names unique within the process */
    struct evidence_stats st;
};

void evidence_config_defaults(struct evidence_config *cfg, const char *dir)
{
    *cfg = (struct evidence_config){
        .dir = dir,
        .max_files = EVIDENCE_DEFAULT_MAX_FILES,
        .max_bytes = EVIDENCE_DEFAULT_MAX_BYTES,
        .hold_bytes = EVIDENCE_DEFAULT_HOLD_BYTES,
    };
}

bool evidence_verdict_saved(enum verdict v)
{
    return v > V_NONE && v < V_COUNT && v != V_PLAIN && v != V_CONTINUE_OK;
}

/* ---- the index of DIR's evidence files: a binary min-heap by name ---------------- */

static bool file_before(const struct ev_file *a, const struct ev_file *b)
{
    return strcmp(a->name, b->name) < 0;
}

static void file_swap(struct ev_file *a, struct ev_file *b)
{
    struct ev_file t = *a;
    *a = *b;
    *b = t;
}

/* Room for one more file; -1 when memory is short. */
static int index_reserve(struct evidence *ev)
{
    if (ev->n_files < ev->files_cap)
        return 0;
    uint32_t cap = ev->files_cap ? ev->files_cap * 2 : 64;
    struct ev_file *p = realloc(ev->files, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    ev->files = p;
    ev->files_cap = cap;
    return 0;
}

/* Add a file; index_reserve() must have made room. */
static void index_push(struct evidence *ev, const char *name, uint64_t bytes)
{
    assert(ev->n_files < ev->files_cap);
    uint32_t i = ev->n_files++;
    struct ev_file *h = ev->files;
    snprintf(h[i].name, sizeof h[i].name, "%s", name);
    h[i].bytes = bytes;
    while (i > 0 && file_before(&h[i], &h[(i - 1) / 2])) {
        file_swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    ev->st.files_on_disk = ev->n_files;
    ev->st.bytes_on_disk += bytes;
}

/* Remove the oldest file from DIR and from the index. A file that will not go is
 * forgotten and counted: keeping it would make every later write try it again. */
static void remove_oldest(struct evidence *ev)
{
    assert(ev->n_files > 0);
    struct ev_file *h = ev->files;
    if (unlinkat(ev->dfd, h[0].name, 0) == 0)
        ev->st.files_removed++;
    else if (errno != ENOENT) /* already gone (removed by hand): nothing to count */
        ev->st.remove_errors++;
    ev->st.bytes_on_disk -= h[0].bytes;
    h[0] = h[--ev->n_files];
    ev->st.files_on_disk = ev->n_files;
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ev->n_files && file_before(&h[l], &h[m]))
            m = l;
        if (r < ev->n_files && file_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        file_swap(&h[i], &h[m]);
        i = m;
    }
}

/* ---- names -------------------------------------------------------------------------- */

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* An address as we write it: hex digits and dots (IPv4, or IPv6 with ':' as '.'). Moves
 * *p past it and its '_'. */
static bool take_addr(const char **p)
{
    size_t n = 0;
    const char *s = *p;
    while (n < INET6_ADDRSTRLEN && (s[n] == '.' || (s[n] >= '0' && s[n] <= '9') ||
                                    (s[n] >= 'a' && s[n] <= 'f') ||
                                    (s[n] >= 'A' && s[n] <= 'F')))
        n++;
    if (n == 0 || s[n] != '_')
        return false;
    *p = s + n + 1;
    return true;
}

/* A port, 1 to 5 digits up to 65535, and its '_'. */
static bool take_port(const char **p)
{
    const char *s = *p;
    unsigned v = 0;
    size_t n = 0;
    while (n < 5 && s[n] >= '0' && s[n] <= '9')
        v = v * 10 + (unsigned)(s[n++] - '0');
    if (n == 0 || v > 65535 || s[n] != '_')
        return false;
    *p = s + n + 1;
    return true;
}

/* Whether a directory entry's name is one this module writes:
 * YYYYmmddTHHMMSSZ_<addr>_<port>_<addr>_<port>_<verdict>[-N].pcap with a saved
 * verdict. Only such files are counted and ever removed. */
static bool name_is_ours(const char *name)
{
    size_t len = strnlen(name, EV_NAME_MAX);
    if (len >= EV_NAME_MAX || len < 17 + 5)
        return false;
    if (!all_digits(name, 8) || name[8] != 'T' || !all_digits(name + 9, 6) ||
        name[15] != 'Z' || name[16] != '_')
        return false;
    const char *p = name + 17;
    if (!take_addr(&p) || !take_port(&p) || !take_addr(&p) || !take_port(&p))
        return false;
    const char *end = name + len - 5;
    if (end <= p || strcmp(end, ".pcap") != 0)
        return false;
    /* an optional "-N" before ".pcap": no leading zero, at most three digits */
    const char *dash = end;
    while (dash > p && dash[-1] >= '0' && dash[-1] <= '9')
        dash--;
    if (dash < end && dash > p && dash[-1] == '-' && end - dash <= 3 && dash[0] != '0')
        end = dash - 1;
    char verdict[32];
    size_t vn = (size_t)(end - p);
    if (vn == 0 || vn >= sizeof verdict)
        return false;
    memcpy(verdict, p, vn);
    verdict[vn] = '\0';
    return evidence_verdict_saved(verdict_from_name(verdict));
}

/* An address for a file name: IPv6's ':' become '.', which every file system takes. */
static void addr_for_name(const struct flow *f, enum dir side, char *out, size_t len)
{
    if (!inet_ntop(f->key.family == 4 ? AF_INET : AF_INET6, flow_addr(f, side), out,
                   (socklen_t)len)) {
        snprintf(out, len, "0");
        return;
    }
    for (char *c = out; *c; c++)
        if (*c == ':')
            *c = '.';
}

/* The file name of flow f with verdict v; dup > 1 adds "-dup". 0, or -1 if too long
 * (it cannot be: the buffer fits the longest). */
static int flow_file_name(const struct flow *f, enum verdict v, unsigned dup, char *out,
                          size_t len)
{
    /* Capture times are crafted input: clamp them to what four year digits hold. */
    uint64_t sec = f->first_seen_us / 1000000u;
    if (sec > 253402300799ull) /* 9999-12-31T23:59:59Z */
        sec = 253402300799ull;
    time_t t = (time_t)sec;
    struct tm tm;
    char ts[32];
    if (!gmtime_r(&t, &tm) || strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm) != 16)
        snprintf(ts, sizeof ts, "19700101T000000Z");
    char cli[INET6_ADDRSTRLEN], srv[INET6_ADDRSTRLEN], suffix[8] = "";
    addr_for_name(f, DIR_C2S, cli, sizeof cli);
    addr_for_name(f, DIR_S2C, srv, sizeof srv);
    if (dup > 1)
        snprintf(suffix, sizeof suffix, "-%u", dup % 1000u);
    int n = snprintf(out, len, "%s_%s_%u_%s_%u_%s%s.pcap", ts, cli,
                     (unsigned)flow_port(f, DIR_C2S), srv, (unsigned)flow_port(f, DIR_S2C),
                     verdict_name(v), suffix);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A new temporary file in DIR, its name in tmp. -1 when none can be created. Dot names
 * never match the evidence pattern, so a half-written file is never counted or seen as
 * evidence. */
static int open_tmp(struct evidence *ev, char *tmp, size_t len)
{
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, len, ".evidence-%ld-%u.tmp", (long)getpid(), ev->tmp_seq++);
        int fd = openat(ev->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* ---- holding ------------------------------------------------------------------------ */

static void slot_reset(struct evidence *ev, struct ev_slot *s)
{
    free(s->buf);
    ev->st.held_bytes_now -= s->cap;
    memset(s, 0, sizeof *s);
}

/* The flow keeps no more packets: give back the room it will not use. */
static void stop_holding(struct evidence *ev, struct ev_slot *s, enum ev_state why)
{
    s->state = (uint8_t)why;
    if (s->len == s->cap)
        return;
    if (s->len == 0) {
        free(s->buf);
        s->buf = NULL;
    } else {
        uint8_t *p = realloc(s->buf, s->len);
        if (!p)
            return; /* keeps the larger buffer, still counted */
        s->buf = p;
    }
    ev->st.held_bytes_now -= s->cap - s->len;
    s->cap = s->len;
}

/* Make room for `need` bytes in s's buffer: double it (at least EV_FIRST_BYTES, at most
 * EVIDENCE_MAX_FLOW_BYTES), shrunk to what is left of the hold budget. false when the
 * record cannot be kept; the flow then stops holding. */
static bool grow(struct evidence *ev, struct ev_slot *s, uint32_t need)
{
    uint64_t want = s->cap ? 2ull * s->cap : EV_FIRST_BYTES;
    while (want < need)
        want *= 2;
    if (want > EVIDENCE_MAX_FLOW_BYTES)
        want = EVIDENCE_MAX_FLOW_BYTES;
    uint64_t room = ev->hold_bytes - ev->st.held_bytes_now;
    if (want - s->cap > room)
        want = s->cap + room;
    if (want < need) {
        ev->st.packets_not_held++;
        stop_holding(ev, s, EV_NOT_HELD);
        return false;
    }
    uint8_t *p = realloc(s->buf, (size_t)want);
    if (!p) {
        ev->st.packets_not_held++;
        ev->st.alloc_failures++;
        stop_holding(ev, s, EV_NO_MEMORY);
        return false;
    }
    ev->st.held_bytes_now += want - s->cap;
    if (ev->st.held_bytes_now > ev->st.held_bytes_peak)
        ev->st.held_bytes_peak = ev->st.held_bytes_now;
    s->buf = p;
    s->cap = (uint32_t)want;
    return true;
}

void evidence_packet(struct evidence *ev, const struct flow *f,
                     const struct source_packet *pkt)
{
    assert(f->slot < ev->n_slots);
    struct ev_slot *s = &ev->slots[f->slot];
    if (s->flow_id != f->id) {
        /* A new flow in the slot. A buffer still here means the previous flow's end was
         * not reported: free it rather than hand its packets to this one. */
        if (s->buf)
            slot_reset(ev, s);
        s->flow_id = f->id;
        s->state = EV_HOLDING;
        s->linktype = pkt->linktype;
    }
    switch ((enum ev_state)s->state) {
    case EV_HOLDING:
        break;
    case EV_CUT:
        ev->st.packets_cut++;
        return;
    case EV_NOT_HELD:
        ev->st.packets_not_held++;
        return;
    case EV_NO_MEMORY:
        ev->st.packets_not_held++;
        return;
    case EV_EMPTY:
    case EV_DROPPED:
        return;
    }
    if (pkt->linktype != s->linktype) {
        ev->st.packets_other_link++;
        return;
    }
    uint32_t caplen = pkt->caplen < EVIDENCE_SNAPLEN ? pkt->caplen : EVIDENCE_SNAPLEN;
    uint32_t rec = EV_REC_BYTES + caplen;
    if (rec > EVIDENCE_MAX_FLOW_BYTES - s->len) {
        ev->st.flows_cut++;
        ev->st.packets_cut++;
        stop_holding(ev, s, EV_CUT);
        return;
    }
    if (rec > s->cap - s->len && !grow(ev, s, s->len + rec))
        return;
    struct ev_rec h = { pkt->ts_us, caplen, pkt->wire_len };
    memcpy(s->buf + s->len, &h, sizeof h);
    if (caplen)
        memcpy(s->buf + s->len + EV_REC_BYTES, pkt->data, caplen);
    s->len += rec;
}

void evidence_flow_drop(struct evidence *ev, const struct flow *f)
{
    assert(f->slot < ev->n_slots);
    struct ev_slot *s = &ev->slots[f->slot];
    slot_reset(ev, s);
    s->flow_id = f->id;
    s->state = EV_DROPPED;
}

/* ---- writing ------------------------------------------------------------------------ */

/* Write s's records to the new file fd as a classic pcap file; libpcap's savefile
 * writer turns the DLT_ into the file's LINKTYPE_ (DLT_RAW is 12 here, 101 on disk).
 * Closes fd. 0, or -1 on any error. */
static int write_records(const struct ev_slot *s, int fd)
{
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        return -1;
    }
    pcap_t *pd = pcap_open_dead(s->linktype, (int)EVIDENCE_SNAPLEN);
    pcap_dumper_t *d = pd ? pcap_dump_fopen(pd, fp) : NULL;
    if (!d) {
        fclose(fp);
        if (pd)
            pcap_close(pd);
        return -1;
    }
    for (uint32_t off = 0; off < s->len;) {
        struct ev_rec r;
        memcpy(&r, s->buf + off, sizeof r);
        struct pcap_pkthdr h = { .caplen = r.caplen, .len = r.wire_len };
        h.ts.tv_sec = (time_t)(r.ts_us / 1000000u);
        h.ts.tv_usec = (suseconds_t)(r.ts_us % 1000000u);
        pcap_dump((u_char *)d, &h, s->buf + off + EV_REC_BYTES);
        off += EV_REC_BYTES + r.caplen;
    }
    /* stdio keeps the first write error; the flush makes every byte meet the disk's
     * limits (size limit, space) before we trust the file */
    int rc = pcap_dump_flush(d) == 0 && !ferror(fp) ? 0 : -1;
    pcap_dump_close(d);
    pcap_close(pd);
    return rc;
}

/* Room in DIR for a new file `name` of `bytes`: remove the oldest files until the bounds
 * hold with it. false when `name` would itself be the oldest to go (nothing removed). */
static bool make_room(struct evidence *ev, const char *name, uint64_t bytes)
{
    if (ev->n_files + 1 <= ev->max_files && ev->st.bytes_on_disk + bytes <= ev->max_bytes)
        return true;
    /* Kept are the newest files that fit, the new one among them or not. It is kept if
     * it fits with the files newer than it; then only files older than it go. */
    uint64_t newer_bytes = 0;
    uint32_t newer = 0;
    for (uint32_t i = 0; i < ev->n_files; i++)
        if (strcmp(ev->files[i].name, name) > 0) {
            newer++;
            newer_bytes += ev->files[i].bytes;
        }
    if (newer + 1 > ev->max_files || newer_bytes + bytes > ev->max_bytes)
        return false;
    while (ev->n_files + 1 > ev->max_files || ev->st.bytes_on_disk + bytes > ev->max_bytes)
        remove_oldest(ev);
    return true;
}

static enum evidence_done save(struct evidence *ev, const struct ev_slot *s,
                               const struct flow *f, enum verdict v)
{
    uint64_t bytes = 24u + (uint64_t)s->len;
    char name[EV_NAME_MAX];
    unsigned dup = 1;
    for (;; dup++) {
        struct stat st;
        if (dup > EV_MAX_DUP || flow_file_name(f, v, dup, name, sizeof name) != 0) {
            ev->st.write_errors++;
            return EVIDENCE_WRITE_FAILED;
        }
        if (fstatat(ev->dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            break;
    }
    if (!make_room(ev, name, bytes)) {
        ev->st.files_skipped++;
        return EVIDENCE_SKIPPED;
    }
    char tmp[64];
    int fd = index_reserve(ev) == 0 ? open_tmp(ev, tmp, sizeof tmp) : -1;
    if (fd < 0) {
        ev->st.write_errors++;
        return EVIDENCE_WRITE_FAILED;
    }
    if (write_records(s, fd) != 0 || renameat(ev->dfd, tmp, ev->dfd, name) != 0) {
        unlinkat(ev->dfd, tmp, 0);
        ev->st.write_errors++;
        return EVIDENCE_WRITE_FAILED;
    }
    index_push(ev, name, bytes);
    ev->st.files_written++;
    return EVIDENCE_WRITTEN;
}

enum evidence_done evidence_flow_done(struct evidence *ev, const struct flow *f,
                                      enum verdict v)
{
    assert(f->slot < ev->n_slots);
    struct ev_slot *s = &ev->slots[f->slot];
    if (s->flow_id != f->id)
        return EVIDENCE_NOT_KEPT; /* no packet of it was ever handed in */
    enum evidence_done r = EVIDENCE_NOT_KEPT;
    if (evidence_verdict_saved(v) && s->len > 0)
        r = save(ev, s, f, v);
    slot_reset(ev, s);
    return r;
}

/* ---- the store ---------------------------------------------------------------------- */

/* Count the evidence files DIR already holds, removing the oldest past the bounds as
 * they are found: a file pushed out of the newest max_files seen so far is out of the
 * newest of all, so the index never holds more than max_files + 1. */
static int scan_dir(struct evidence *ev, const char *dir, char *err, size_t err_len)
{
    int fd = openat(ev->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        snprintf(err, err_len, "%s: cannot list: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) {
                snprintf(err, err_len, "%s: cannot list: %s", dir, strerror(errno));
                rc = -1;
            }
            break;
        }
        struct stat st;
        if (!name_is_ours(de->d_name) ||
            fstatat(ev->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (index_reserve(ev) != 0) {
            snprintf(err, err_len, "%s: out of memory listing the evidence files", dir);
            rc = -1;
            break;
        }
        index_push(ev, de->d_name, (uint64_t)st.st_size);
        while (ev->n_files > ev->max_files || ev->st.bytes_on_disk > ev->max_bytes)
            remove_oldest(ev);
    }
    closedir(d);
    return rc;
}

struct evidence *evidence_new(const struct evidence_config *cfg, uint32_t n_slots,
                              char *err, size_t err_len)
{
    const char *dir = cfg->dir;
    if (!dir || !*dir) {
        snprintf(err, err_len, "no directory given for the evidence files");
        return NULL;
    }
    if (cfg->max_files < 1 || cfg->max_files > EVIDENCE_MAX_FILES_MAX) {
        snprintf(err, err_len, "%s: the number of evidence files kept must be 1 to %u",
                 dir, EVIDENCE_MAX_FILES_MAX);
        return NULL;
    }
    if (cfg->max_bytes < EVIDENCE_MAX_FILE_BYTES) {
        snprintf(err, err_len,
                 "%s: the evidence kept must be at least %u bytes (one flow's file)", dir,
                 EVIDENCE_MAX_FILE_BYTES);
        return NULL;
    }
    if (cfg->hold_bytes < 1 || n_slots < 1) {
        snprintf(err, err_len, "%s: no memory allowed to hold packets in", dir);
        return NULL;
    }
    struct evidence *ev = calloc(1, sizeof *ev);
    if (!ev) {
        snprintf(err, err_len, "%s: out of memory", dir);
        return NULL;
    }
    ev->dfd = -1;
    /* calloc: pages of idle slots are never touched */
    ev->slots = calloc(n_slots, sizeof *ev->slots);
    if (!ev->slots) {
        snprintf(err, err_len, "%s: out of memory for %u flows' evidence", dir, n_slots);
        evidence_free(ev);
        return NULL;
    }
    ev->n_slots = n_slots;
    ev->max_files = cfg->max_files;
    ev->max_bytes = cfg->max_bytes;
    ev->hold_bytes = cfg->hold_bytes;
    ev->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ev->dfd < 0) {
        snprintf(err, err_len, "%s: %s", dir, strerror(errno));
        evidence_free(ev);
        return NULL;
    }
    /* Try what a write will do: access() would say yes to root on a read-only mode,
     * and knows nothing of full or read-only file systems. */
    char tmp[64];
    int fd = open_tmp(ev, tmp, sizeof tmp);
    if (fd < 0) {
        snprintf(err, err_len, "%s: not writable: %s", dir, strerror(errno));
        evidence_free(ev);
        return NULL;
    }
    close(fd);
    unlinkat(ev->dfd, tmp, 0);
    if (scan_dir(ev, dir, err, err_len) != 0) {
        evidence_free(ev);
        return NULL;
    }
    return ev;
}

const struct evidence_stats *evidence_stats(const struct evidence *ev)
{
    return &ev->st;
}

void evidence_free(struct evidence *ev)
{
    if (!ev)
        return;
    for (uint32_t i = 0; i < ev->n_slots; i++)
        free(ev->slots[i].buf);
    free(ev->slots);
    free(ev->files);
    if (ev->dfd >= 0)
        close(ev->dfd);
    free(ev);
}
