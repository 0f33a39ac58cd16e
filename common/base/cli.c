#include "cli.h"

#include <stdio.h>

int vb_cli_add_set(vb_cli_config *cc, const char *assignment) {
    if (cc->nsets >= VB_CLI_MAX_SETS) return -1;
    cc->sets[cc->nsets++] = assignment;
    return 0;
}

int vb_cli_resolve_config(const vb_cli_config *cc, vb_config *cfg, char *err, size_t err_len) {
    vb_config_defaults(cfg);
    if (cc->config_path && vb_config_load_file(cfg, cc->config_path, err, err_len) != 0) return -1;
    for (int i = 0; i < cc->nsets; i++) {
        if (vb_config_set(cfg, cc->sets[i], err, err_len) != 0) return -1;
    }
    return vb_config_validate(cfg, err, err_len);
}

int vb_cli_resolve_config_text(const vb_cli_config *cc, const char *yaml, size_t len, const char *origin,
                               vb_config *cfg, char *err, size_t err_len) {
    vb_config_defaults(cfg);
    if (vb_config_load_string(cfg, yaml, len, origin, err, err_len) != 0) return -1;
    for (int i = 0; i < cc->nsets; i++) {
        if (vb_config_set(cfg, cc->sets[i], err, err_len) != 0) return -1;
    }
    return vb_config_validate(cfg, err, err_len);
}
