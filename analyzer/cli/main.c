/* main.c: the expectscope entry point: parse the command line, run the command. */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    struct options o;
    char err[256];
    if (cli_parse(argc, argv, &o, err, sizeof err) != 0) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_USAGE;
    }
    if (o.help) {
        cli_help(stdout);
        return EXIT_OK;
    }
    if (o.version) {
        printf("expectscope %s\n", ES_VERSION);
        return EXIT_OK;
    }
    return o.cmd->run(&o);
}
