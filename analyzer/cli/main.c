/* main.c: the expectscope entry point: parse the command line, run the command. */
#include <signal.h>
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    struct options o;
    char err[300];
    int rc;
    /* A reader that goes away (| head) ends the printing, not the process: a run is
     * stored whole whatever happens to its output. Writes then fail with EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    int parsed = cli_parse(argc, argv, &o, err, sizeof err);
    if (parsed != 0) {
        fprintf(stderr, "expectscope: %s\n", err);
        rc = parsed == -2 ? EXIT_INPUT : EXIT_USAGE;
    } else if (o.help) {
        cli_help(stdout, o.cmd);
        rc = EXIT_OK;
    } else if (o.version) {
        printf("expectscope %s\n", ES_VERSION);
        rc = EXIT_OK;
    } else {
        rc = o.cmd->run(&o);
    }
    cli_options_free(&o);
    return rc;
}
