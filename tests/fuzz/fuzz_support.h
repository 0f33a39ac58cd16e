/* fuzz_support — what the libFuzzer harnesses share: a small run
 * configuration (the smoke task, varibased) built without files, and the
 * CRC repairs that let mutated inputs past the checksums to the checks
 * behind them. */
#ifndef VB_FUZZ_SUPPORT_H
#define VB_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/config.h"
#include "../../common/base/crc32c.h"
#include "../../common/base/log.h"

static const char VB_FUZZ_YAML[] =
    "run: {name: fuzz, seed: 7, algo: varibased}\n"
    "env: {name: gridworld, batch: 4, grid_size: 3, episode_length: 5, episodes_per_task: 2}\n"
    "model: {hidden: 4, latent: 1, embed: 2, mlp_hidden: 4, s5_state: 2}\n"
    "planner: {particles: 4, depth: 2, nested: 2, resample_period: 2}\n"
    "learner: {batch_windows: 2, window: 10, replay_capacity: 2, elbo_warmup_updates: 5, checkpoint_every: 0, "
    "threads: 1}\n"
    "log: {tensorboard: false}\n";

/* The fuzz configuration, or exit: a harness without it tests nothing. */
static inline void vb_fuzz_config(vb_config *cfg, const char *root) {
    char err[1024];
    vb_log_set_level(VB_LOG_OFF);
    vb_config_defaults(cfg);
    if (vb_config_load_string(cfg, VB_FUZZ_YAML, sizeof VB_FUZZ_YAML - 1, "fuzz", err, sizeof err) != 0 ||
        (root && snprintf(cfg->run.root, sizeof cfg->run.root, "%s", root) < 0) ||
        vb_config_validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz config: %s\n", err);
        exit(1);
    }
}

static inline void vb_fuzz_put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* Repair the two CRCs of an arena blob (header at 32, payload at 12). */
static inline void vb_fuzz_fix_arena(unsigned char *b, size_t len) {
    if (len < 40 || memcmp(b, "VBARENA1", 8) != 0) return;
    vb_fuzz_put32(b + 12, vb_crc32c(0, b + 40, len - 40));
    vb_fuzz_put32(b + 32, vb_crc32c(0, b, 32));
}

/* Seeds: with VB_FUZZ_SEEDS=DIR set, a harness writes its seed inputs into
 * DIR (tests/fuzz/corpus/<harness> holds them) and exits. */
static inline const char *vb_fuzz_seed_dir(void) { return getenv("VB_FUZZ_SEEDS"); }

static inline void vb_fuzz_write_seed(const char *name, unsigned char flags, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", vb_fuzz_seed_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&flags, 1, 1, f) != 1 || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "cannot write seed %s\n", path);
        exit(1);
    }
}

#endif
