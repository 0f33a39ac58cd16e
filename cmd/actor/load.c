/* load — see load.h. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/checkpoint.h"
#include "../../common/base/log.h"
#include "../../common/nn/arena.h"
#include "../../common/params/params.h"

static void warn_line(const char *msg) { vb_warn("%s", msg); }

int actor_load_trained(const char *path, const vb_cli_config *cc, vb_config *cfg, vb_model *m, float **P,
                       char *err, size_t err_len) {
    *P = NULL;
    vb_ckpt ck;
    char chosen[4400], best[4400];
    /* a run that kept its best weights (eval.keep_best) is evaluated on them */
    if (vb_ckpt_best_in(path, best, sizeof best)) path = best;
    if (vb_ckpt_load_newest(path, &ck, chosen, sizeof chosen, warn_line, err, err_len) != 0) return VB_EXIT_RUNTIME;
    int status = VB_EXIT_USAGE;
    uint64_t ylen, plen;
    const char *yaml = vb_ckpt_get(&ck, "config", &ylen);
    const void *blob = vb_ckpt_get(&ck, "params", &plen);
    vb_env_spec spec;
    if (!yaml || !blob) {
        snprintf(err, err_len, "%s: not a training checkpoint (no config or params)", chosen);
        status = VB_EXIT_RUNTIME;
        goto out;
    }
    vb_config_defaults(cfg);
    if (vb_config_load_string(cfg, yaml, (size_t)ylen, chosen, err, err_len) != 0) goto out;
    const vb_config trained = *cfg; /* what the weights were trained with */
    if (cc->config_path && vb_config_load_file(cfg, cc->config_path, err, err_len) != 0) goto out;
    for (int i = 0; i < cc->nsets; i++)
        if (vb_config_set(cfg, cc->sets[i], err, err_len) != 0) goto out;
    if (vb_config_validate(cfg, err, err_len) != 0) goto out;
    if (vb_config_same_weights_reading(&trained, cfg, "--config/--set", err, err_len) != 0) goto out;
    if (vb_env_spec_from_config(cfg, &spec, err, err_len) != 0) goto out;
    if (vb_model_build_from_config(m, cfg, &spec, err, err_len) != 0) goto out;
    *P = malloc(sizeof(float) * (size_t)m->layout.total);
    if (!*P) {
        snprintf(err, err_len, "out of memory");
        status = VB_EXIT_RUNTIME;
        goto out;
    }
    char why[1024];
    if (vb_arena_from_blob(&m->layout, blob, (size_t)plen, *P, chosen, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s (the model keys of --config/--set must match the checkpoint's)", why);
        free(*P);
        *P = NULL;
        goto out;
    }
    uint64_t vlen;
    const unsigned char *val = vb_ckpt_get(&ck, "validation", &vlen);
    if (val && vlen >= 16) {
        double ret;
        int64_t upd;
        memcpy(&ret, val, 8);
        memcpy(&upd, val + 8, 8);
        vb_info("evaluating %s: the run's best validation return, %.4g at update %lld (name checkpoints/latest "
                "for the newest weights)",
                chosen, ret, (long long)upd);
    } else {
        vb_info("evaluating %s", chosen);
    }
    status = 0;
out:
    vb_ckpt_free(&ck);
    return status;
}
