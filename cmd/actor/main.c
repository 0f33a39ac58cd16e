/* actor — the acting process: steps a batch of environments, tracks beliefs,
 * plans every action, and streams trajectory chunks to the learner. This file
 * is the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/cli.h"
#include "../../common/base/config.h"
#include "../../common/base/log.h"
#include "../../common/base/version.h"
#include "../../common/net/endpoint.h"

static void usage(FILE *out) {
    fputs("usage: actor --learner ENDPOINT [options]\n"
          "\n"
          "Acts for a learner: steps environments, plans, and sends trajectory chunks.\n"
          "\n"
          "options:\n"
          "  -L, --learner ENDPOINT  the learner's control endpoint, e.g. tcp://host:5555\n"
          "                          (tcp://HOST:PORT, ipc://PATH or inproc://NAME)\n"
          "  -c, --config FILE       YAML configuration for local modes\n"
          "  -s, --set K=V           override one key (repeatable; after --config, in order)\n"
          "  -p, --print-config      print the resolved configuration as YAML and exit\n"
          "  -l, --log-level LEVEL   debug, info, warn or error (overrides log.level)\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n"
          "\n"
          "exit status: 0 success, 1 runtime failure, 2 usage or configuration error\n",
          out);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"learner", required_argument, NULL, 'L'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"print-config", no_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    vb_cli_config cc = {0};
    const char *learner = NULL;
    const char *log_level = NULL;
    int print_config = 0;
    vb_log_init("actor", VB_LOG_INFO);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":L:c:s:pl:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'L': learner = optarg; break;
        case 'c': cc.config_path = optarg; break;
        case 's':
            if (vb_cli_add_set(&cc, optarg) != 0) {
                fprintf(stderr, "actor: too many --set options (at most %d)\n", VB_CLI_MAX_SETS);
                return VB_EXIT_USAGE;
            }
            break;
        case 'p': print_config = 1; break;
        case 'l': log_level = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        case 'V': printf("actor (varibased) %s\n", VB_VERSION); return VB_EXIT_OK;
        case ':':
            fprintf(stderr, "actor: option '%s' needs a value\ntry 'actor --help'\n", argv[optind - 1]);
            return VB_EXIT_USAGE;
        default:
            fprintf(stderr, "actor: unknown option '%s'\ntry 'actor --help'\n", argv[optind - 1]);
            return VB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "actor: unexpected argument '%s'\ntry 'actor --help'\n", argv[optind]);
        return VB_EXIT_USAGE;
    }
    vb_config cfg;
    char err[1024];
    if (vb_cli_resolve_config(&cc, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "actor: configuration error: %s\n", err);
        return VB_EXIT_USAGE;
    }
    vb_log_level level = (vb_log_level)cfg.log.level;
    if (log_level && (vb_log_level_parse(log_level, &level) != 0 || level == VB_LOG_OFF)) {
        fprintf(stderr, "actor: --log-level: expected debug, info, warn or error, got '%s'\n", log_level);
        return VB_EXIT_USAGE;
    }
    vb_log_set_level(level);
    if (print_config) return vb_config_write_yaml(&cfg, stdout) == 0 ? VB_EXIT_OK : VB_EXIT_RUNTIME;
    if (!learner) {
        fprintf(stderr, "actor: --learner ENDPOINT is required\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    char why[256];
    if (vb_endpoint_check(learner, why, sizeof why) != 0) {
        fprintf(stderr, "actor: --learner '%s': %s\n", learner, why);
        return VB_EXIT_USAGE;
    }
    vb_error("connecting to a learner is not implemented in this version");
    return VB_EXIT_RUNTIME;
}
