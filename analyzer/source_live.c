/* source_live.c: see source_live.h. */
#include "source_live.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"

struct live {
    struct source base;       /* first: a struct source * is a struct live * */
    pcap_t *p;
    int fd;                   /* pcap_get_selectable_fd(): poll()ed between packets */
    int linktype;
    char *iface;
    struct source_input input; /* the interface, as the run's one input */
    struct source_stats st;
    bool stopping;            /* source_live_stop(): read what is queued, then end */
    bool ended;               /* ended: the counters are final */
    uint64_t stop_by_us;      /* monotonic: reading what is queued ends here */
};

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const struct source_ops live_ops;

static void live_free(struct source *s)
{
    struct live *l = (struct live *)s;
    if (l->p)
        pcap_close(l->p);
    free(l->iface);
    free(l);
}

/* libpcap's activation failures in the words an operator acts on. */
static void activation_error(const struct live *l, int rc, char *err, size_t err_len)
{
    const char *why = pcap_geterr(l->p);
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        snprintf(err, err_len, "%s: no such interface", l->iface);
        break;
    case PCAP_ERROR_PERM_DENIED:
        snprintf(err, err_len, "%s: permission denied (capturing needs root or "
                 "CAP_NET_RAW and CAP_NET_ADMIN)", l->iface);
        break;
    case PCAP_ERROR_IFACE_NOT_UP:
        snprintf(err, err_len, "%s: the interface is down", l->iface);
        break;
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        snprintf(err, err_len, "%s: no permission for promiscuous mode (try --no-promisc)",
                 l->iface);
        break;
    default:
        snprintf(err, err_len, "%s: %s", l->iface, why && *why ? why : pcap_statustostr(rc));
    }
}

struct source *source_live_open(const struct source_live_config *cfg, char *err,
                                size_t err_len, enum source_live_error *why, char *warn,
                                size_t warn_len)
{
    *why = SOURCE_LIVE_BAD_INTERFACE;
    warn[0] = '\0';
    struct live *l = calloc(1, sizeof *l);
    if (l)
        l->iface = strdup(cfg->iface);
    if (!l || !l->iface) {
        free(l);
        snprintf(err, err_len, "%s: out of memory", cfg->iface);
        return NULL;
    }
    l->base = (struct source){ &live_ops, l->iface, true };
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    l->p = pcap_create(cfg->iface, ebuf);
    if (!l->p) {
        snprintf(err, err_len, "%s: %s", cfg->iface, ebuf);
        live_free(&l->base);
        return NULL;
    }
    /* Immediate mode: a packet reaches the analysis when it arrives, not when a
     * kernel block fills, so that an exchange is stored about a second after it ends
     * even on a quiet link. The timeout still wakes the reader on a silent one. */
    pcap_set_snaplen(l->p, cfg->snaplen);
    pcap_set_promisc(l->p, cfg->promisc && strcmp(cfg->iface, "any") != 0);
    pcap_set_immediate_mode(l->p, 1);
    pcap_set_timeout(l->p, SOURCE_LIVE_TIMEOUT_MS);
    pcap_set_buffer_size(l->p, (int)(cfg->buffer_kib > INT32_MAX / 1024 ? INT32_MAX
                                                                          : cfg->buffer_kib *
                                                                                1024));
    pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(l->p);
    if (rc < 0) {
        activation_error(l, rc, err, err_len);
        live_free(&l->base);
        return NULL;
    }
    if (rc > 0) /* a warning: promiscuous mode not supported, timestamps, ... */
        snprintf(warn, warn_len, "%s: %s", cfg->iface,
                 rc == PCAP_WARNING_PROMISC_NOTSUP ? "promiscuous mode not supported"
                                                   : pcap_geterr(l->p));
    /* Non-blocking, and we wait ourselves (live_next): libpcap's own wait in
     * immediate mode goes on polling through its timeout and through signals, and a
     * live capture must come back to the pipeline on a quiet link and on SIGTERM. */
    if (pcap_setnonblock(l->p, 1, ebuf) != 0 || (l->fd = pcap_get_selectable_fd(l->p)) < 0) {
        snprintf(err, err_len, "%s: cannot read without blocking: %s", cfg->iface, ebuf);
        live_free(&l->base);
        return NULL;
    }
    l->linktype = pcap_datalink(l->p);
    if (!dec_link_supported(l->linktype)) {
        const char *name = pcap_datalink_val_to_name(l->linktype);
        snprintf(err, err_len, "%s: unsupported link type %d (%s)", cfg->iface, l->linktype,
                 name ? name : "unknown");
        live_free(&l->base);
        return NULL;
    }
    if (cfg->filter) {
        struct bpf_program prog;
        if (pcap_compile(l->p, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, err_len, "filter '%s': %s", cfg->filter, pcap_geterr(l->p));
            *why = SOURCE_LIVE_BAD_FILTER;
            live_free(&l->base);
            return NULL;
        }
        rc = pcap_setfilter(l->p, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            snprintf(err, err_len, "%s: cannot install the filter: %s", cfg->iface,
                     pcap_geterr(l->p));
            live_free(&l->base);
            return NULL;
        }
    }
    l->input = (struct source_input){ .path = l->iface, .compression = "none",
                                      .linktype = l->linktype,
                                      .snaplen = pcap_snapshot(l->p) };
    l->st.files = 1;
    return &l->base;
}

int source_live_linktype(const struct source *s)
{
    return ((const struct live *)s)->linktype;
}

/* The end of a stopped capture: the counters one last time, and what the kernel still
 * held counted as dropped. On Linux ps_recv counts every packet that passed the filter:
 * read, dropped (the kernel adds its drops in), or still queued. */
static void end(struct live *l)
{
    struct pcap_stat ps;
    if (pcap_stats(l->p, &ps) == 0) {
        l->st.kernel_drops = ps.ps_drop;
        l->st.if_drops = ps.ps_ifdrop;
        if (ps.ps_recv > l->st.packets + ps.ps_drop) {
            l->st.unread = ps.ps_recv - l->st.packets - ps.ps_drop;
            l->st.kernel_drops += l->st.unread;
        }
    }
    l->ended = true;
}

void source_live_stop(struct source *s)
{
    struct live *l = (struct live *)s;
    if (l->stopping)
        return;
    l->stopping = true;
    l->stop_by_us = monotonic_us() + SOURCE_LIVE_STOP_MS * 1000u;
}

static enum source_event live_next(struct source *s, struct source_packet *pkt, char *err,
                                   size_t err_len)
{
    struct live *l = (struct live *)s;
    struct pcap_pkthdr *h;
    const u_char *data;
    if (l->ended)
        return SOURCE_END;
    if (l->stopping && monotonic_us() >= l->stop_by_us) {
        end(l);
        return SOURCE_END;
    }
    int rc = pcap_next_ex(l->p, &h, &data);
    if (rc == 0 && l->stopping) { /* all that was queued is read */
        end(l);
        return SOURCE_END;
    }
    if (rc == 0) {
        /* nothing queued: wait for the socket, a signal, or the timeout; then let a
         * few more packets come before reading (SOURCE_LIVE_NAP_US) */
        struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
        if (poll(&pfd, 1, SOURCE_LIVE_TIMEOUT_MS) <= 0)
            return SOURCE_TIMEOUT;
        struct timespec nap = { 0, SOURCE_LIVE_NAP_US * 1000 };
        nanosleep(&nap, NULL);
        rc = pcap_next_ex(l->p, &h, &data);
    }
    if (rc == 1) {
        pkt->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        pkt->caplen = h->caplen;
        pkt->wire_len = h->len < h->caplen ? h->caplen : h->len;
        pkt->linktype = l->linktype;
        pkt->data = data;
        pkt->input = l->iface;
        l->st.packets++;
        l->st.bytes += pkt->wire_len;
        if (h->caplen < h->len)
            l->st.cut_packets++;
        if (!l->input.first_packet_us)
            l->input.first_packet_us = pkt->ts_us;
        l->input.packets++;
        return SOURCE_PACKET;
    }
    if (rc == 0)
        return SOURCE_TIMEOUT;
    if (rc == PCAP_ERROR_BREAK)
        return SOURCE_END;
    /* the interface went away or down under us */
    snprintf(err, err_len, "%s: %s", l->iface, pcap_geterr(l->p));
    return SOURCE_ERROR;
}

static void live_progress(const struct source *s, uint64_t *done, uint64_t *total)
{
    (void)s;
    *done = *total = 0; /* no end to measure against */
}

/* The kernel's counters, as of now. pcap_stats() is one getsockopt(): cheap, but the
 * pipeline asks only every few seconds. On Linux ps_drop counts packets the kernel
 * could not queue for us (our buffer was full) and ps_ifdrop those the interface
 * dropped; they count since activation. */
static const struct source_stats *live_stats(struct source *s)
{
    struct live *l = (struct live *)s;
    struct pcap_stat ps;
    /* once ended, the counters stay as they were at the end */
    if (!l->ended && pcap_stats(l->p, &ps) == 0) {
        l->st.kernel_drops = ps.ps_drop;
        l->st.if_drops = ps.ps_ifdrop;
    }
    return &l->st;
}

static const struct source_input *live_inputs(const struct source *s, int *n)
{
    *n = 1;
    return &((const struct live *)s)->input;
}

static const struct source_ops live_ops = {
    .next = live_next,
    .progress = live_progress,
    .stats = live_stats,
    .inputs = live_inputs,
    .free = live_free,
};
