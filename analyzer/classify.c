/* classify.c: see classify.h. */
#include "classify.h"

#include <ndpi/ndpi_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "sniff.h"

/* nDPI 4.2 flow state is ~700 bytes; it is recycled through a free list (linked
 * through its first bytes) instead of going back to malloc for every flow. */
struct pool_item {
    struct pool_item *next;
};

struct cslot {
    struct ndpi_flow_struct *nf;
    ndpi_protocol proto;
    uint8_t verdict;    /* enum cls_verdict */
    uint8_t payload_pkts;
    bool ndpi_done;     /* nDPI named the protocol or gave up; its state is freed */
};

struct cls {
    struct ndpi_detection_module_struct *ndpi;
    uint32_t n_slots;
    uint32_t used;      /* slots from here on were never touched (cls_free() walks only
                           the others: no page faults at the end) */
    struct cslot *slots;
    struct pool_item *spare;
    uint64_t ndpi_packets;
};

struct cls *cls_new(uint32_t n_slots)
{
    struct cls *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n_slots = n_slots;
    c->slots = calloc(n_slots, sizeof *c->slots);
    c->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!c->slots || !c->ndpi) {
        cls_free(c);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(c->ndpi, &all);
    ndpi_finalize_initialization(c->ndpi);
    return c;
}

static bool is_http(ndpi_protocol p)
{
    static const uint16_t ids[] = { NDPI_PROTOCOL_HTTP, NDPI_PROTOCOL_HTTP_PROXY,
                                    NDPI_PROTOCOL_HTTP_CONNECT };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (p.master_protocol == ids[i] || p.app_protocol == ids[i])
            return true;
    return false;
}

static void drop_state(struct cls *c, struct cslot *s)
{
    if (!s->nf)
        return;
    ndpi_free_flow_data(s->nf);
    struct pool_item *it = (struct pool_item *)(void *)s->nf;
    it->next = c->spare;
    c->spare = it;
    s->nf = NULL;
}

static struct ndpi_flow_struct *take_state(struct cls *c)
{
    void *m;
    if (c->spare) {
        m = c->spare;
        c->spare = c->spare->next;
    } else {
        m = malloc(SIZEOF_FLOW_STRUCT);
        if (!m)
            return NULL;
    }
    memset(m, 0, SIZEOF_FLOW_STRUCT);
    return m;
}

/* nDPI is done with a flow when it named a protocol or saw CLS_MAX_PACKETS payload
 * packets; then its state goes back to the pool. */
static void ndpi_feed(struct cls *c, struct cslot *s, const struct dec_pkt *p)
{
    if (!s->nf) {
        s->nf = take_state(c);
        if (!s->nf) { /* out of memory: the first line alone decides */
            s->ndpi_done = true;
            return;
        }
    }
    size_t len = p->l3_len > 0xffff ? 0xffff : p->l3_len;
    s->proto = ndpi_detection_process_packet(c->ndpi, s->nf, p->l3, (unsigned short)len,
                                             p->ts_us / 1000);
    c->ndpi_packets++;
    bool named = s->proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                 s->proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (!named && p->payload_len && ++s->payload_pkts >= CLS_MAX_PACKETS) {
        uint8_t guessed = 0;
        s->proto = ndpi_detection_giveup(c->ndpi, s->nf, 1, &guessed);
        named = true;
    }
    if (named) {
        s->ndpi_done = true;
        drop_state(c, s);
    }
}

/* Flow f's slot, noting that it has been touched. */
static struct cslot *slot_of(struct cls *c, const struct flow *f)
{
    if (f->slot >= c->used)
        c->used = f->slot + 1;
    return &c->slots[f->slot];
}

enum cls_verdict cls_packet(struct cls *c, const struct flow *f, enum dir d,
                            const struct dec_pkt *p)
{
    (void)d;
    struct cslot *s = slot_of(c, f);
    if (s->verdict != CLS_PENDING && s->ndpi_done)
        return s->verdict;
    if (!s->ndpi_done)
        ndpi_feed(c, s, p);
    if (s->verdict == CLS_PENDING) {
        /* HTTP on a port nDPI does not expect, or that it names otherwise, is still
         * ours when its first line says so. */
        if (is_http(s->proto) ||
            (p->payload_len && sniff_http_start(p->payload, p->payload_len) >= 0))
            s->verdict = CLS_HTTP;
        else if (s->ndpi_done)
            s->verdict = CLS_OTHER;
    }
    return s->verdict;
}

void cls_release(struct cls *c, const struct flow *f, char *name, size_t name_len)
{
    struct cslot *s = slot_of(c, f);
    if (s->nf) {
        uint8_t guessed = 0;
        s->proto = ndpi_detection_giveup(c->ndpi, s->nf, 1, &guessed);
    }
    drop_state(c, s);
    if (name && name_len) {
        ndpi_protocol2name(c->ndpi, s->proto, name, (u_int)name_len);
        if (!name[0])
            snprintf(name, name_len, "Unknown");
    }
    memset(s, 0, sizeof *s);
}

uint64_t cls_ndpi_packets(const struct cls *c)
{
    return c->ndpi_packets;
}

void cls_free(struct cls *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; c->slots && i < c->used; i++)
        drop_state(c, &c->slots[i]);
    while (c->spare) {
        struct pool_item *it = c->spare;
        c->spare = it->next;
        free(it);
    }
    if (c->ndpi)
        ndpi_exit_detection_module(c->ndpi);
    free(c->slots);
    free(c);
}
