/* export.c: the `export` command: the filters from the command line, the output file,
 * and web-export's writer. See cli.h.
 *
 * Owns: the output file while it is written: FILE.tmp.PID, renamed to FILE once the
 *   export succeeded (a failed export leaves no half file, and a reader of FILE never
 *   sees one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
#include "read.h"

/* The filters in words, for the HTML report's title. */
static void filter_words(const struct options *o, const struct dbr_filter *f, char *buf,
                         size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
#define ADD(...)                                                                         \
    do {                                                                                 \
        if (n < len)                                                                     \
            n += (size_t)snprintf(buf + n, len - n, "%s", n ? ", " : "");                \
        if (n < len)                                                                     \
            n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                        \
    } while (0)
    for (int i = 0; i < f->n_verdicts; i++)
        ADD("verdict %s", f->verdicts[i]);
    if (f->problems)
        ADD("problems only");
    if (f->server_ip && f->server_port)
        ADD("server %s%s%s:%d", strchr(f->server_ip, ':') ? "[" : "", f->server_ip,
            strchr(f->server_ip, ':') ? "]" : "", f->server_port);
    else if (f->server_ip)
        ADD("server %s", f->server_ip);
    if (f->host)
        ADD("Host %s", f->host);
    char iso[64];
    if (o->since > 0)
        ADD("since %s", export_iso_time(o->since, iso, sizeof iso));
    if (o->until > 0)
        ADD("until %s", export_iso_time(o->until, iso, sizeof iso));
    if (f->run_id)
        ADD("run %" PRId64, f->run_id);
#undef ADD
}

int cmd_export(const struct options *o)
{
    if (!o->format_set) {
        fprintf(stderr, "expectscope: export needs --format har, ndjson, csv or html\n");
        return EXIT_USAGE;
    }
    char err[700];
    struct dbr *r = dbr_open(o->db_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_INPUT;
    }
    struct dbr_filter f = {
        .verdicts = o->verdicts, .n_verdicts = o->n_verdicts, .problems = o->problems,
        .server_ip = o->server_ip[0] ? o->server_ip : NULL, .server_port = o->server_port,
        .host = o->host, .since = o->since, .until = o->until, .run_id = o->run_id,
    };
    int rc = EXIT_OK;
    if (o->latest && (f.run_id = dbr_latest_run(r)) <= 0) {
        fprintf(stderr, "expectscope: %s: %s\n", o->db_path,
                f.run_id < 0 ? dbr_error(r) : "no runs");
        dbr_close(r);
        return EXIT_INPUT;
    }
    char words[512];
    filter_words(o, &f, words, sizeof words);
    struct export_info info = { o->db_path, words };

    bool to_file = o->output && strcmp(o->output, "-") != 0;
    char tmp[4200] = "";
    FILE *out = stdout;
    if (to_file) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->output, (long)getpid());
        if (!(out = fopen(tmp, "wbx"))) {
            fprintf(stderr, "expectscope: %s: %s\n", o->output, strerror(errno));
            dbr_close(r);
            return EXIT_INPUT;
        }
    }
    struct export_stats st;
    if (export_write(r, &f, o->format, &info, out, &st, err, sizeof err) != 0) {
        fprintf(stderr, "expectscope: %s\n", err);
        rc = EXIT_INPUT;
    }
    int werr = ferror(out) ? errno : 0;
    if (to_file) {
        if (fclose(out) != 0 && !werr)
            werr = errno;
    } else if (fflush(out) != 0 && !werr) {
        werr = errno;
    }
    if (werr && rc == EXIT_OK) {
        fprintf(stderr, "expectscope: %s: %s\n", to_file ? o->output : "standard output",
                strerror(werr ? werr : EIO));
        rc = EXIT_INPUT;
    }
    if (to_file) {
        if (rc == EXIT_OK && rename(tmp, o->output) != 0) {
            fprintf(stderr, "expectscope: %s: %s\n", o->output, strerror(errno));
            rc = EXIT_INPUT;
        }
        if (rc != EXIT_OK)
            unlink(tmp);
    }
    if (rc == EXIT_OK && to_file)
        fprintf(stderr, "%" PRIu64 " exchanges written to %s (%s)%s\n", st.exchanges,
                o->output, export_format_name(o->format),
                st.left_out ? "; some left out of the report, see its notes" : "");
    dbr_close(r);
    return rc;
}
