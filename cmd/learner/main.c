/* learner — the training process: intake of trajectory chunks, replay, the
 * M-step and weight broadcast. This file is the command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/cli.h"
#include "../../common/base/config.h"
#include "../../common/base/log.h"
#include "../../common/base/version.h"
#include "../../kernels/blas_core.h"
#include "../../kernels/device.h"
#include "train.h"
#include "../../common/base/checkpoint.h"
#include "../../common/net/keys.h"

static void usage(FILE *out) {
    fputs("usage: learner [--config FILE] [--set SECTION.KEY=VALUE]... [options]\n"
          "\n"
          "Trains a VariBASeD (or RL^2, VariBAD) agent from the chunks its actors send.\n"
          "It starts actors.local actor processes next to it (over ipc:// in the run folder)\n"
          "and, with learner.bind set, takes remote ones on tcp://learner.bind:learner.port\n"
          "(+1 data, +2 weights) that join with ./actor --learner tcp://HOST:PORT. A bind\n"
          "beyond this machine needs learner.keys (CURVE encryption, an allow-list of actor\n"
          "keys) or --insecure. SIGINT/SIGTERM stop it after a checkpoint.\n"
          "\n"
          "options:\n"
          "  -c, --config FILE       YAML run configuration (default: built-in defaults)\n"
          "  -s, --set K=V           override one key, e.g. --set learner.lr=1e-3 (repeatable;\n"
          "                          applied after --config, in order)\n"
          "  -p, --print-config      print the resolved configuration as YAML and exit\n"
          "      --serial            act in this process (deterministic; no actor processes,\n"
          "                          no network)\n"
          "  -r, --resume DIR        continue from the newest checkpoint of a run folder,\n"
          "                          its checkpoints/ folder or a checkpoint file; the\n"
          "                          checkpoint's config is used, --set still applies, and\n"
          "                          the run goes on in the folder that holds checkpoints/\n"
          "                          (a copied or moved run continues where it is now)\n"
          "  -l, --log-level LEVEL   debug, info, warn or error (overrides log.level)\n"
          "      --keygen DIR        write CURVE keys into DIR (learner.key/.pub, actor.key/.pub,\n"
          "                          allowed_actors) for --set learner.keys=DIR and\n"
          "                          ./actor --keys DIR, then exit\n"
          "      --insecure          allow learner.bind beyond loopback without learner.keys:\n"
          "                          anyone who reaches the ports can join, read the weights\n"
          "                          and send data\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n"
          "\n"
          "exit status: 0 success, 1 runtime failure, 2 usage or configuration error\n"
          "configuration keys: docs/configuration.md\n",
          out);
}

/* Whether a bind host is this machine only. */
static bool loopback(const char *host) {
    struct in_addr a;
    return strcmp(host, "localhost") == 0 || strcmp(host, "lo") == 0 ||
           (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127);
}

/* TCP beyond this machine only with keys or --insecure; keys that load. */
static int check_network(const vb_config *cfg, bool insecure) {
    const char *bind = cfg->learner.bind;
    if (strcmp(bind, "none") == 0) {
        if (cfg->learner.keys[0])
            fprintf(stderr, "learner: note: learner.keys is set but learner.bind is 'none': no TCP endpoint to secure\n");
        return VB_EXIT_OK;
    }
    char err[1024];
    if (cfg->learner.keys[0]) {
        char path[4200];
        vb_keypair kp;
        vb_allowlist al;
        if (!vb_keys_supported()) {
            fprintf(stderr, "learner: learner.keys: this libzmq was built without CURVE\n");
            return VB_EXIT_USAGE;
        }
        snprintf(path, sizeof path, "%s/learner.key", cfg->learner.keys);
        if (vb_keypair_load(path, &kp, err, sizeof err) != 0) {
            fprintf(stderr, "learner: learner.keys: %s (make keys with learner --keygen DIR)\n", err);
            return VB_EXIT_USAGE;
        }
        snprintf(path, sizeof path, "%s/allowed_actors", cfg->learner.keys);
        if (vb_allowlist_load(path, &al, err, sizeof err) != 0) {
            fprintf(stderr, "learner: learner.keys: %s\n", err);
            return VB_EXIT_USAGE;
        }
        vb_allowlist_free(&al);
        return VB_EXIT_OK;
    }
    if (!loopback(bind) && !insecure) {
        fprintf(stderr,
                "learner: learner.bind=%s would let anyone who reaches port %lld join the run, read its config and "
                "weights and send it data: make keys (learner --keygen DIR; --set learner.keys=DIR; actors "
                "--keys DIR), bind 127.0.0.1, or pass --insecure on a network you trust\n",
                bind, (long long)cfg->learner.port);
        return VB_EXIT_USAGE;
    }
    if (!loopback(bind)) vb_warn("--insecure: tcp://%s:%lld takes unauthenticated, unencrypted peers", bind,
                                 (long long)cfg->learner.port);
    return VB_EXIT_OK;
}

/* path without its trailing slashes, and replaced by its real path where its
 * last part is empty, . or ..; that last part, or NULL with err. */
static const char *last_part(char *path, size_t len, char *err, size_t err_len) {
    for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--) path[n - 1] = '\0';
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) return base;
    char real[PATH_MAX];
    if (!realpath(path, real)) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), NULL;
    snprintf(path, len, "%s", real);
    return strrchr(path, '/') + 1;
}

/* With --resume, the run goes on in the folder that holds the checkpoint
 * (a run folder copied or moved elsewhere continues there, not where it was
 * first written): where chosen is <folder>/checkpoints/<file>, run.root and
 * run.name are set to <folder>'s before the user's --set, which still
 * override them. A checkpoint outside a run's checkpoints/ folder keeps its
 * config's run folder. 0, or -1 with err. */
static int in_its_folder(vb_cli_config *cc, const char *chosen, char *err, size_t err_len) {
    static char folder[4400], root_set[4500], name_set[4500];
    snprintf(folder, sizeof folder, "%s", chosen);
    char *slash = strrchr(folder, '/');
    if (!slash) return 0;
    *slash = '\0'; /* the checkpoint's folder */
    const char *dir = last_part(folder, sizeof folder, err, err_len);
    if (!dir) return -1;
    if (strcmp(dir, "checkpoints") != 0) return 0;
    if (dir == folder) snprintf(folder, sizeof folder, ".");
    else folder[dir - folder > 1 ? dir - folder - 1 : 1] = '\0'; /* its parent, the run folder */
    const char *base = last_part(folder, sizeof folder, err, err_len);
    if (!base) return -1;
    const int root_len = (int)(base - folder); /* with its last '/' */
    if (root_len == 0) snprintf(root_set, sizeof root_set, "run.root=.");
    else if (root_len == 1) snprintf(root_set, sizeof root_set, "run.root=/");
    else snprintf(root_set, sizeof root_set, "run.root=%.*s", root_len - 1, folder);
    snprintf(name_set, sizeof name_set, "run.name=%s", base);
    const char *derived[2] = {root_set, name_set};
    for (int i = 0; i < 2; i++) {
        const size_t key = (size_t)(strchr(derived[i], '=') - derived[i] + 1);
        bool overridden = false; /* the user's --set of the same key wins, and is checked as usual */
        for (int j = 0; j < cc->nsets; j++) overridden |= strncmp(cc->sets[j], derived[i], key) == 0;
        if (overridden) continue;
        vb_config probe;
        char why[512];
        vb_config_defaults(&probe);
        if (vb_config_set(&probe, derived[i], why, sizeof why) != 0)
            return snprintf(err, err_len,
                            "--resume: the run goes on in %s, which %.*s cannot name (%s); rename or move the folder, "
                            "or continue in another with --set %.*sNEW",
                            folder, (int)key - 1, derived[i], why, (int)key, derived[i]), -1;
        if (cc->nsets >= VB_CLI_MAX_SETS) return snprintf(err, err_len, "too many --set"), -1;
        memmove(cc->sets + 1, cc->sets, sizeof cc->sets[0] * (size_t)cc->nsets);
        cc->sets[0] = derived[i];
        cc->nsets++;
    }
    return 0;
}

/* The run's config: from --config and --set, or with --resume from the
 * checkpoint's config, the folder that holds it, and --set. An exit status. */
static int resolve_config(const vb_cli_config *cc, const char *resume, vb_config *cfg) {
    char err[1024];
    if (resume && cc->config_path) {
        fprintf(stderr, "learner: --resume takes the run's config from its checkpoint; drop --config "
                        "(--set still applies)\n");
        return VB_EXIT_USAGE;
    }
    if (!resume) {
        if (vb_cli_resolve_config(cc, cfg, err, sizeof err) == 0) return VB_EXIT_OK;
        fprintf(stderr, "learner: configuration error: %s\n", err);
        return VB_EXIT_USAGE;
    }
    vb_ckpt ck;
    char chosen[4400];
    if (vb_ckpt_load_newest(resume, &ck, chosen, sizeof chosen, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "learner: --resume: %s\n", err);
        return VB_EXIT_RUNTIME;
    }
    uint64_t ylen;
    const char *yaml = vb_ckpt_get(&ck, "config", &ylen);
    vb_cli_config here = *cc;
    int rc = in_its_folder(&here, chosen, err, sizeof err);
    if (rc == 0 && yaml) rc = vb_cli_resolve_config_text(&here, yaml, (size_t)ylen, chosen, cfg, err, sizeof err);
    else if (rc == 0) rc = -1, snprintf(err, sizeof err, "%s: checkpoint holds no config", chosen);
    vb_config trained;
    vb_config_defaults(&trained);
    if (rc == 0 && (vb_config_load_string(&trained, yaml, (size_t)ylen, chosen, err, sizeof err) != 0 ||
                    vb_config_same_weights_reading(&trained, cfg, "--set", err, sizeof err) != 0))
        rc = -1;
    vb_ckpt_free(&ck);
    if (rc == 0) return VB_EXIT_OK;
    fprintf(stderr, "learner: configuration error: %s\n", err);
    return VB_EXIT_USAGE;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"print-config", no_argument, NULL, 'p'},
        {"serial", no_argument, NULL, 'S'},
        {"resume", required_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"keygen", required_argument, NULL, 'K'},
        {"insecure", no_argument, NULL, 'I'},
        {NULL, 0, NULL, 0},
    };
    vb_cli_config cc = {0};
    int print_config = 0;
    vb_train_opts topts = {0};
    const char *log_level = NULL, *keygen = NULL;
    bool insecure = false;
    vb_blas_core_select(argv);
    vb_log_init("learner", VB_LOG_INFO);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:pl:hVr:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cc.config_path = optarg; break;
        case 's':
            if (vb_cli_add_set(&cc, optarg) != 0) {
                fprintf(stderr, "learner: too many --set options (at most %d)\n", VB_CLI_MAX_SETS);
                return VB_EXIT_USAGE;
            }
            break;
        case 'p': print_config = 1; break;
        case 'S': topts.serial = 1; break;
        case 'r': topts.resume = optarg; break;
        case 'l': log_level = optarg; break;
        case 'K': keygen = optarg; break;
        case 'I': insecure = true; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        case 'V':
            printf("learner (varibased) %s (OpenBLAS %s kernels)\n", VB_VERSION, vb_blas_core_name());
            return VB_EXIT_OK;
        case ':':
            fprintf(stderr, "learner: option '%s' needs a value\n", argv[optind - 1]);
            fprintf(stderr, "try 'learner --help'\n");
            return VB_EXIT_USAGE;
        default:
            fprintf(stderr, "learner: unknown option '%s'\ntry 'learner --help'\n", argv[optind - 1]);
            return VB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "learner: unexpected argument '%s'\ntry 'learner --help'\n", argv[optind]);
        return VB_EXIT_USAGE;
    }
    if (keygen) {
        char err[1024];
        if (vb_keys_generate(keygen, "learner", err, sizeof err) != 0) {
            fprintf(stderr, "learner: --keygen: %s\n", err);
            return VB_EXIT_RUNTIME;
        }
        printf("wrote %s/learner.key, learner.pub, actor.key, actor.pub and allowed_actors\n"
               "learner: --set learner.keys=%s --set learner.bind=ADDRESS\n"
               "actors:  ./actor --learner tcp://ADDRESS:PORT --keys DIR (a copy of %s without learner.key)\n",
               keygen, keygen, keygen);
        return VB_EXIT_OK;
    }
    vb_config cfg;
    int rc = resolve_config(&cc, topts.resume, &cfg);
    if (rc != VB_EXIT_OK) return rc;
    vb_log_level level = (vb_log_level)cfg.log.level;
    if (log_level && (vb_log_level_parse(log_level, &level) != 0 || level == VB_LOG_OFF)) {
        fprintf(stderr, "learner: --log-level: expected debug, info, warn or error, got '%s'\n",
                log_level);
        return VB_EXIT_USAGE;
    }
    vb_log_set_level(level);
    if (print_config) return vb_config_write_yaml(&cfg, stdout) == 0 ? VB_EXIT_OK : VB_EXIT_RUNTIME;
    char why[256];
    if (vb_device_check(cfg.learner.device, why, sizeof why) != 0) {
        fprintf(stderr, "learner: learner.device: %s\n", why);
        return VB_EXIT_USAGE;
    }
    if (strcmp(cfg.learner.device, "cpu") != 0) {
        fprintf(stderr,
                "learner: learner.device: '%s': the M-step runs on the CPU backend only in this version (the CUDA "
                "backend's ops are built and checked against the CPU by `make gpu-parity`, but the learner's "
                "parameters are not device-resident yet); use cpu\n",
                cfg.learner.device);
        return VB_EXIT_USAGE;
    }
    if (!topts.serial && (rc = check_network(&cfg, insecure)) != VB_EXIT_OK) return rc;
    topts.argc = argc;
    topts.argv = argv;
    return vb_train_run(&cfg, &topts);
}
