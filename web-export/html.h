/* html.h: the pieces of the HTML report, internal to web-export/. html.c owns the
 * report's state and writes the page; these write parts of it and own nothing.
 *
 *   html_ladder.c  one exchange's ladder diagram and raw header blocks, and the small
 *                  writers of captured text that html.c shares
 *   html_chart.c   the SVG charts: the verdict timeline and the two histograms
 *
 * Everything captured is written through esc_html() (escape.h); the charts take only
 * numbers and names of our own (verdict classes, labels).
 */
#ifndef ES_HTML_H
#define ES_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xrow.h"

/* ---- captured text (html_ladder.c) ---- */

/* A real column that is not NULL and, in a database not written by us, a finite
 * number: true with *v. */
bool html_real(const struct xrow *x, enum xcol c, double *v);
/* A column's captured text, HTML-escaped; nothing when NULL. */
void html_text(FILE *out, const struct xrow *x, enum xcol c);
/* At most max bytes of p[0, n), HTML-escaped, cut before a UTF-8 continuation byte so
 * that no character is split, and "…" after it when something was cut. */
void html_cut(FILE *out, const char *p, size_t n, size_t max);
/* Epoch seconds as "2026-12-02 14:51:19.061" (UTC), into buf. */
const char *html_time(double epoch_s, char *buf, size_t len);
/* The flow's address and port of one side, "10.0.0.1:80" or "[2001:db8::1]:443". */
void html_endpoint(FILE *out, const struct xrow *x, enum xcol ip, enum xcol port);

/* ---- one exchange (html_ladder.c) ---- */

/* The ladder section of the current exchange (id "xID"): a heading, a line of context,
 * the SVG ladder (client | capture point | server, every event at its time), the rules
 * it broke (dbr_violations()) and the stored header blocks (read with xrow_blocks()).
 * vclass is the verdict's CSS class name. 0, or -1 with x->err set (a database error). */
int html_ladder(FILE *out, struct xrow *x, const char *vclass);

/* ---- charts (html_chart.c) ---- */

/* A stacked bar chart of counts over time: n_buckets buckets of width_s seconds from
 * t0 (epoch seconds); counts[b * n_classes + c]. Classes are stacked from the bottom in
 * the order of order[0, n_order), each drawn with the CSS class "v-" + names[c]. */
void html_timeline(FILE *out, double t0, double width_s, int n_buckets, const int64_t *counts,
                   int n_classes, const char *const *names, const int *order, int n_order);

/* A vertical line at a value, with its label (a client's timer). */
struct html_mark {
    double ms;
    const char *label;
};

/* A histogram over log bins: n_edges edges in ms (increasing), bin 0 below edges[0],
 * bin k in [edges[k-1], edges[k]), the last at or above edges[n_edges-1]; counts[bin *
 * n_classes + c], stacked in class order, class c drawn as "v-" + names[c]. Edges must
 * be powers of ten apart in whole decades from edges[0] for the axis labels. */
void html_histogram(FILE *out, const char *id, const double *edges, int n_edges,
                    int per_decade, const int64_t *counts, int n_classes,
                    const char *const *names, const struct html_mark *marks, int n_marks);

#endif
