/* main.c: the expectscope entry point: parses the command line and hands over to the
 * command. The only place, with run.c, that knows every layer. */
#include <stdio.h>

#include "analyze_cmd.h"
#include "cli.h"
#include "flows_cmd.h"
#include "report.h"

int main(int argc, char **argv)
{
    struct options o;
    char err[256];
    if (cli_parse(argc, argv, &o, err, sizeof err) != 0) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_USAGE;
    }
    switch (o.cmd) {
    case CMD_HELP:
        cli_help(stdout);
        return EXIT_OK;
    case CMD_VERSION:
        printf("expectscope %s\n", ES_VERSION);
        return EXIT_OK;
    case CMD_FLOWS:
        return flows_cmd(&o);
    case CMD_ANALYZE:
        return analyze_cmd(&o);
    case CMD_REPORT: {
        char why[700];
        if (report_print(o.db_path, o.json, stdout, why, sizeof why) != 0) {
            fprintf(stderr, "expectscope: %s\n", why);
            return EXIT_INPUT;
        }
        return EXIT_OK;
    }
    }
    return EXIT_USAGE;
}
