/* flows_cmd.h: the `flows` command: one line per TCP flow, so that the capture, flow
 * and reassembly layers can be checked against `tshark -q -z conv,tcp`.
 *
 * Owns: the list of finished flow lines until they are printed, sorted by first packet.
 * Called by: main(). Calls: run_capture().
 */
#ifndef ES_FLOWS_CMD_H
#define ES_FLOWS_CMD_H

#include "cli.h"

/* Run the command; returns the process exit status. */
int flows_cmd(const struct options *o);

#endif
