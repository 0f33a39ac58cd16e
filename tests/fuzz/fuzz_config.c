/* libFuzzer harness: config load and --set.
 *
 * Input: YAML, then optionally a NUL byte and newline-separated --set
 * assignments. The YAML goes through vb_config_load_string over the defaults,
 * each assignment through vb_config_set, then vb_config_validate; a config
 * that validates is written back to YAML and read again, and must come back
 * the same. */
#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vb_log_set_level(VB_LOG_OFF);
    if (vb_fuzz_seed_dir()) {
        /* the fuzz config with --set assignments after a NUL (make fuzz-seeds adds the shipped configs) */
        static const char sets[] = "learner.lr=1e-3\nrun.algo=rl2\nenv.name=bandit\nmodel.core=s5";
        char *b = malloc(sizeof VB_FUZZ_YAML + sizeof sets);
        if (!b) exit(1);
        memcpy(b, VB_FUZZ_YAML, sizeof VB_FUZZ_YAML); /* with its NUL */
        memcpy(b + sizeof VB_FUZZ_YAML, sets, sizeof sets - 1);
        FILE *f;
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz_with_sets", vb_fuzz_seed_dir());
        if (!(f = fopen(path, "wb")) || fwrite(b, 1, sizeof VB_FUZZ_YAML + sizeof sets - 1, f) == 0 || fclose(f)) exit(1);
        free(b);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t ylen = strlen(text); /* up to the first NUL */
    vb_config *cfg = malloc(sizeof *cfg), *back = malloc(sizeof *back);
    char err[1024];
    if (!cfg || !back) goto out;
    vb_config_defaults(cfg);
    if (vb_config_load_string(cfg, text, ylen, "fuzz", err, sizeof err) != 0) goto out;
    if (ylen < size) {
        char *sets = text + ylen + 1, *save = NULL;
        for (char *a = strtok_r(sets, "\n", &save); a; a = strtok_r(NULL, "\n", &save))
            if (vb_config_set(cfg, a, err, sizeof err) != 0) goto out;
    }
    if (vb_config_validate(cfg, err, sizeof err) != 0) goto out;
    size_t n;
    char *yaml = vb_config_to_yaml(cfg, &n);
    if (!yaml) goto out;
    vb_config_defaults(back);
    if (vb_config_load_string(back, yaml, n, "round trip", err, sizeof err) != 0) {
        fprintf(stderr, "a validated config did not read back: %s\n%s\n", err, yaml);
        abort();
    }
    char *again = vb_config_to_yaml(back, &n);
    if (!again || strcmp(again, yaml) != 0) {
        fprintf(stderr, "a config changed on its way through YAML:\n%s\n---\n%s\n", yaml, again ? again : "(null)");
        abort();
    }
    free(again);
    free(yaml);
out:
    free(cfg);
    free(back);
    free(text);
    return 0;
}
