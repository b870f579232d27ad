/* analyze_cmd.h: the `analyze` command: the whole pipeline, capture to verdicts, with
 * a summary at the end and, with --list, one line per exchange.
 *
 * Owns: the dissector and verdict engine of the run, per-flow exchange counts and
 *   verdicts (indexed by flow slot), and the per-server tallies of the summary.
 * Called by: main(). Calls: run_capture(), h1, verdict.
 */
#ifndef ES_ANALYZE_CMD_H
#define ES_ANALYZE_CMD_H

#include "cli.h"

/* Run the command; returns the process exit status. */
int analyze_cmd(const struct options *o);

#endif
