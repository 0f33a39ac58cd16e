/* cli — the command-line pieces both programs share: resolving the config from
 * --config and --set, and the exit codes. */
#ifndef VB_CLI_H
#define VB_CLI_H

#include "config.h"
#include "exit.h"

enum { VB_CLI_MAX_SETS = 256 };

typedef struct vb_cli_config {
    const char *config_path;             /* NULL: defaults only */
    const char *sets[VB_CLI_MAX_SETS];   /* --set assignments, in order */
    int nsets;
} vb_cli_config;

/* Record one --set; -1 when there are too many. */
int vb_cli_add_set(vb_cli_config *cc, const char *assignment);
/* Defaults, then the file, then each --set, then cross-key validation. */
int vb_cli_resolve_config(const vb_cli_config *cc, vb_config *cfg, char *err, size_t err_len);
/* The same with YAML text (e.g. a checkpoint's config) in place of the file. */
int vb_cli_resolve_config_text(const vb_cli_config *cc, const char *yaml, size_t len, const char *origin,
                               vb_config *cfg, char *err, size_t err_len);

#endif
