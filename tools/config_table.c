/* config_table — print the configuration reference tables of
 * docs/configuration.md from the schema (make config-table). */
#include <stdio.h>
#include <string.h>

#include "common/base/config.h"

int main(void) {
    size_t nsec, nkeys;
    const char *const *secs = vb_config_sections(&nsec);
    const vb_cfg_key *keys = vb_config_schema(&nkeys);
    for (size_t s = 0; s < nsec; s++) {
        printf("### `%s`\n\n| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n", secs[s]);
        for (size_t i = 0; i < nkeys; i++) {
            const vb_cfg_key *k = &keys[i];
            if (strcmp(k->section, secs[s]) != 0) continue;
            char allowed[256] = "";
            const char *type = "";
            switch (k->type) {
            case VB_CT_INT: type = "int"; snprintf(allowed, sizeof allowed, "%.0f .. %.0f", k->min, k->max); break;
            case VB_CT_FLOAT: type = "float"; snprintf(allowed, sizeof allowed, "%g .. %g", k->min, k->max); break;
            case VB_CT_BOOL: type = "bool"; snprintf(allowed, sizeof allowed, "true, false"); break;
            case VB_CT_STRING: type = "string"; snprintf(allowed, sizeof allowed, "at most %zu bytes", k->size - 1); break;
            case VB_CT_ENUM: {
                type = "enum";
                size_t n = 0;
                for (const char *const *c = k->choices; *c; c++)
                    n += (size_t)snprintf(allowed + n, sizeof allowed - n, "%s`%s`", c == k->choices ? "" : ", ", *c);
                break;
            }
            }
            printf("| `%s.%s` | %s | `%s` | %s | %s |\n", k->section, k->key, type, k->def, allowed, k->doc);
        }
        printf("\n");
    }
    return 0;
}
