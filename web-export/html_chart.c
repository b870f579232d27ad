/* html_chart.c: the HTML report's SVG charts (html.h). Plain SVG, sized by a viewBox so
 * it scales with the page; colours come from report.css by class. Every bar group
 * carries its numbers in data- attributes and a <title> (the browser's tooltip), so the
 * figures can be read back exactly. Owns nothing. */
#include <math.h>
#include <string.h>

#include "html.h"

/* The smallest 1, 2 or 5 times a power of ten that is >= v (v >= 1). */
static double nice_max(double v)
{
    if (v < 1)
        return 1;
    double p = pow(10, floor(log10(v)));
    for (int i = 0; i < 3; i++) {
        static const double m[] = { 1, 2, 5 };
        if (m[i] * p >= v)
            return m[i] * p;
    }
    return 10 * p;
}

/* Horizontal grid lines and their counts: the scale cut into 4 or 5 equal steps (2 or 1
 * for the smallest scales) so that every label is a whole count. */
static void y_axis(FILE *out, int left, int right, int top, int bottom, double ymax)
{
    int steps = 1;
    for (int k = 0; k < 4; k++) {
        static const int try_steps[] = { 4, 5, 2, 1 };
        if (fmod(ymax, try_steps[k]) == 0) {
            steps = try_steps[k];
            break;
        }
    }
    for (int i = 0; i <= steps; i++) {
        double v = ymax * i / steps;
        int y = bottom - (int)lround((bottom - top) * (double)i / steps);
        fprintf(out, "<path class=\"%s\" d=\"M%d %dH%d\"/>", i ? "grid" : "ax", left, y, right);
        fprintf(out, "<text class=\"sm\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%.10g</text>",
                left - 4, y + 4, v);
    }
}

/* Epoch seconds as a tick label: the date only when the chart spans days. */
static void tick_time(FILE *out, double t, bool days)
{
    char buf[64];
    html_time(t, buf, sizeof buf); /* "YYYY-MM-DD HH:MM:SS.mmm" */
    if (days) {
        buf[16] = '\0';
        fputs(buf + 5, out); /* "MM-DD HH:MM" */
    } else {
        buf[19] = '\0';
        fputs(buf + 11, out); /* "HH:MM:SS" */
    }
}

void html_timeline(FILE *out, double t0, double width_s, int n_buckets, const int64_t *counts,
                   int n_classes, const char *const *names, const int *order, int n_order)
{
    int used = 0;
    int64_t top = 0;
    for (int b = 0; b < n_buckets; b++) {
        int64_t sum = 0;
        for (int c = 0; c < n_classes; c++)
            sum += counts[b * n_classes + c];
        if (sum)
            used = b + 1;
        if (sum > top)
            top = sum;
    }
    if (!used)
        return;
    enum { W = 960, H = 250, LEFT = 56, RIGHT = 950, TOP = 10, BOTTOM = 215 };
    double ymax = nice_max((double)top), bw = (double)(RIGHT - LEFT) / used;
    fprintf(out, "<svg id=\"timeline\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                 "role=\"img\" aria-label=\"verdicts over time\" data-t0=\"%.6f\" "
                 "data-width=\"%.6f\">",
            W, H, W, H, t0, width_s);
    y_axis(out, LEFT, RIGHT, TOP, BOTTOM, ymax);
    bool days = used * width_s > 86400;
    for (int b = 0; b < used; b++) {
        const int64_t *n = counts + b * n_classes;
        int64_t sum = 0;
        for (int c = 0; c < n_classes; c++)
            sum += n[c];
        if (!sum)
            continue;
        double t = t0 + b * width_s;
        char from[64], to[64];
        fprintf(out, "<g class=\"tb\" data-t=\"%.6f\" data-n=\"%lld\"><title>%s to %s UTC: "
                     "%lld exchanges",
                t, (long long)sum, html_time(t, from, sizeof from),
                html_time(t + width_s, to, sizeof to), (long long)sum);
        for (int i = n_order - 1; i >= 0; i--)
            if (n[order[i]])
                fprintf(out, "\n%s %lld", names[order[i]], (long long)n[order[i]]);
        fputs("</title>", out);
        double y = BOTTOM;
        for (int i = 0; i < n_order; i++) {
            int c = order[i];
            if (!n[c])
                continue;
            double h = (BOTTOM - TOP) * (double)n[c] / ymax;
            y -= h;
            fprintf(out, "<rect class=\"v-%s\" data-n=\"%lld\" x=\"%.2f\" y=\"%.2f\" "
                         "width=\"%.2f\" height=\"%.2f\"/>",
                    names[c], (long long)n[c], LEFT + b * bw + (bw > 4 ? 0.5 : 0), y,
                    bw > 4 ? bw - 1 : bw, h);
        }
        fputs("</g>\n", out);
    }
    /* about six time ticks, on bucket boundaries */
    int step = used > 6 ? (used + 5) / 6 : 1;
    for (int b = 0; b <= used; b += step) {
        double x = LEFT + b * bw;
        fprintf(out, "<path class=\"ax\" d=\"M%.1f %dV%d\"/><text class=\"sm\" x=\"%.1f\" "
                     "y=\"%d\" text-anchor=\"%s\">",
                x, BOTTOM, BOTTOM + 4, x, BOTTOM + 16,
                !b ? "start" : b + step > used ? "end" : "middle");
        tick_time(out, t0 + b * width_s, days);
        fputs("</text>", out);
    }
    char w[32];
    snprintf(w, sizeof w, "%.10g s", width_s);
    fprintf(out, "<text class=\"sm\" x=\"%d\" y=\"%d\" text-anchor=\"end\">UTC; one bar = %s"
                 "</text></svg>\n",
            RIGHT, H - 4, w);
}

/* An axis label for a value in ms: "0.1 ms", "10 ms", "1 s", "100 s". */
static void ms_label(FILE *out, double ms)
{
    if (ms < 1000)
        fprintf(out, "%.10g ms", ms);
    else
        fprintf(out, "%.10g s", ms / 1000);
}

void html_histogram(FILE *out, const char *id, const double *edges, int n_edges,
                    int per_decade, const int64_t *counts, int n_classes,
                    const char *const *names, const struct html_mark *marks, int n_marks)
{
    int n_bins = n_edges + 1;
    int64_t top = 0;
    for (int b = 0; b < n_bins; b++) {
        int64_t sum = 0;
        for (int c = 0; c < n_classes; c++)
            sum += counts[b * n_classes + c];
        if (sum > top)
            top = sum;
    }
    enum { W = 820, H = 250, LEFT = 56, RIGHT = 810, TOP = 26, BOTTOM = 215 };
    double ymax = nice_max((double)top), bw = (double)(RIGHT - LEFT) / n_bins;
    fprintf(out, "<svg id=\"%s\" class=\"hist\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                 "height=\"%d\" role=\"img\" aria-label=\"histogram\">",
            id, W, H, W, H);
    y_axis(out, LEFT, RIGHT, TOP, BOTTOM, ymax);
    for (int b = 0; b < n_bins; b++) {
        const int64_t *n = counts + b * n_classes;
        int64_t sum = 0;
        for (int c = 0; c < n_classes; c++)
            sum += n[c];
        if (!sum)
            continue;
        double lo = b ? edges[b - 1] : 0, hi = b < n_edges ? edges[b] : INFINITY;
        /* %.17g: the edges as exact as the doubles the bins were counted with */
        fprintf(out, "<g class=\"hb\" data-lo=\"%.17g\" data-hi=\"%.17g\" data-n=\"%lld\">"
                     "<title>",
                lo, isinf(hi) ? 1e308 : hi, (long long)sum);
        ms_label(out, lo);
        fputs(" to ", out);
        if (isinf(hi))
            fputs("more", out);
        else
            ms_label(out, hi);
        fprintf(out, ": %lld", (long long)sum);
        for (int c = 0; c < n_classes; c++)
            if (n[c])
                fprintf(out, "\n%s %lld", names[c], (long long)n[c]);
        fputs("</title>", out);
        double y = BOTTOM;
        for (int c = 0; c < n_classes; c++) {
            if (!n[c])
                continue;
            double h = (BOTTOM - TOP) * (double)n[c] / ymax;
            y -= h;
            fprintf(out, "<rect class=\"v-%s\" data-n=\"%lld\" x=\"%.2f\" y=\"%.2f\" "
                         "width=\"%.2f\" height=\"%.2f\"/>",
                    names[c], (long long)n[c], LEFT + b * bw, y, bw, h);
        }
        fputs("</g>\n", out);
    }
    /* a tick at each decade: edge j starts bin j + 1 */
    for (int j = 0; j < n_edges; j += per_decade) {
        double x = LEFT + (j + 1) * bw;
        fprintf(out, "<path class=\"ax\" d=\"M%.1f %dV%d\"/><text class=\"sm\" x=\"%.1f\" "
                     "y=\"%d\" text-anchor=\"middle\">",
                x, BOTTOM, BOTTOM + 4, x, BOTTOM + 16);
        ms_label(out, edges[j]);
        fputs("</text>", out);
    }
    /* the timers, placed on the same log scale */
    for (int i = 0; i < n_marks; i++) {
        double pos = 1 + log10(marks[i].ms / edges[0]) * per_decade;
        if (pos < 1 || pos > n_bins - 1)
            continue;
        double x = LEFT + pos * bw;
        fprintf(out, "<path class=\"mark\" d=\"M%.1f %dV%d\"/><text class=\"markt\" "
                     "x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" data-ms=\"%.10g\">%s</text>",
                x, TOP - 4, BOTTOM, x, TOP - 8 - 10 * (i % 2), marks[i].ms, marks[i].label);
    }
    fputs("<text class=\"sm\" x=\"810\" y=\"246\" text-anchor=\"end\">ms after the end of the "
          "request headers (log scale)</text></svg>\n",
          out);
}
