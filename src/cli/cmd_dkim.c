/* fwdauth dkim sign|verify|keygen: dispatch to one function per action. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void dkim_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth dkim sign|verify|keygen [options] ...\n"
               "\n"
               "  sign     add a DKIM-Signature to a message\n"
               "  verify   check the DKIM signatures of a message\n"
               "  keygen   make a signing key and the DNS record that publishes it\n"
               "\n"
               "'fwdauth dkim ACTION --help' describes an action.\n"
               "exit status: 0 success or positive result, 1 negative result, 2 usage,\n"
               "configuration or I/O error\n");
}

int cmd_dkim(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } actions[] = {
        {"sign", cmd_dkim_sign},
        {"verify", cmd_dkim_verify},
        {"keygen", cmd_dkim_keygen},
    };
    if (argc < 2) {
        dkim_usage(stderr);
        return EXIT_TROUBLE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        dkim_usage(stdout);
        return EXIT_POSITIVE;
    }
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(argv[1], actions[i].name) == 0) {
            cli_enter(argv + 1);
            return actions[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "fwdauth dkim: unknown action \"%s\"\n\n", argv[1]);
    dkim_usage(stderr);
    return EXIT_TROUBLE;
}
