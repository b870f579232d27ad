/* classify.h: protocol classification of flows with nDPI 4.2. The only module that
 * includes nDPI, so that moving to a newer nDPI API touches this file alone.
 *
 * Owns: the nDPI detection module, each flow's nDPI state (from a recycled pool, freed
 *   as soon as the flow is decided) and its detected protocol.
 * Does not own: the flow (flow.h). Its verdict only advises: the pipeline decides what
 *   to do with a flow that is not HTTP.
 * Called by: the pipeline, for the first packets of each flow. Calls: nDPI.
 *
 * nDPI's own HTTP fields describe only the first response it saw (often a 100 or a
 * 417), so nothing but the protocol name is taken from it.
 */
#ifndef ES_CLASSIFY_H
#define ES_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

enum cls_verdict {
    CLS_PENDING, /* not decided yet: keep feeding packets */
    CLS_HTTP,    /* HTTP/1.x by nDPI (HTTP, HTTP_Proxy, ...) or by its first line */
    CLS_OTHER,   /* decided, and not HTTP: no payload work is needed */
};

struct cls;

/* A classifier for a flow table of n_slots slots. NULL when nDPI cannot start. */
struct cls *cls_new(uint32_t n_slots);

/* Feed one packet of flow f in direction d. Returns the flow's verdict; once it is not
 * CLS_PENDING it stays the same and the packet is not looked at. */
enum cls_verdict cls_packet(struct cls *c, const struct flow *f, enum dir d,
                            const struct dec_pkt *p);

/* The flow leaves the table: settle the protocol (nDPI's best guess when undecided),
 * write its nDPI name ("HTTP", "TLS", "Unknown", ...) to name, reset the slot. */
void cls_release(struct cls *c, const struct flow *f, char *name, size_t name_len);

/* Packets given to nDPI over the run. */
uint64_t cls_ndpi_packets(const struct cls *c);

void cls_free(struct cls *c);

#endif
