/* config — parsing, loading and printing of vb_config against the schema in
 * config_schema.c. libcyaml checks the document's shape (two-level mapping,
 * known sections and keys, well-formed YAML) and hands every scalar over as
 * text; the typed parse and range check below is shared with --set. */
#include "config.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SECTIONS = 16, MAX_KEYS = 64 };

/* The shape libcyaml loads into: one optional string per key. */
typedef struct raw_section {
    char *v[MAX_KEYS];
} raw_section;

typedef struct raw_doc {
    raw_section *s[MAX_SECTIONS];
} raw_doc;

static void *field_ptr(vb_config *cfg, const vb_cfg_key *k) { return (char *)cfg + k->offset; }
static const void *field_cptr(const vb_config *cfg, const vb_cfg_key *k) {
    return (const char *)cfg + k->offset;
}

static void describe_expected(const vb_cfg_key *k, char *buf, size_t len) {
    switch (k->type) {
    case VB_CT_INT:
        snprintf(buf, len, "an integer in [%.0f, %.0f]", k->min, k->max);
        break;
    case VB_CT_FLOAT:
        snprintf(buf, len, "a number in [%g, %g]", k->min, k->max);
        break;
    case VB_CT_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case VB_CT_ENUM: {
        size_t n = (size_t)snprintf(buf, len, "one of");
        for (const char *const *c = k->choices; *c && n < len; c++)
            n += (size_t)snprintf(buf + n, len - n, "%s %s", c == k->choices ? "" : ",", *c);
        break;
    }
    case VB_CT_STRING:
        snprintf(buf, len, "a string of at most %zu bytes", k->size - 1);
        break;
    }
}

/* Parse text into the key's typed field. On failure sets err to
 * "<origin>: <section>.<key>: expected ..., got '<text>'". */
/* Why text cannot be a string value, or NULL: every string is written back
 * as a double-quoted YAML scalar (config.yaml, checkpoints, the Registered
 * message), so it must read back as itself: valid UTF-8 without control
 * characters (C0, DEL, C1 — NEL among them — and the line and paragraph
 * separators YAML folds), quotes or backslashes. */
static const char *yaml_safe(const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        unsigned c = *p, n;
        if (c < 0x20 || c == 0x7f) return "control characters are not allowed";
        if (c == '"' || c == '\\') return "quotes and backslashes are not allowed";
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) n = 1, c &= 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 2, c &= 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 3, c &= 0x07;
        else return "not valid UTF-8";
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return "not valid UTF-8";
            c = (c << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
            return "not valid UTF-8";
        if ((c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0xfeff)
            return "control characters are not allowed";
        p += n + 1;
    }
    return NULL;
}

static int parse_value(vb_config *cfg, const vb_cfg_key *k, const char *text, const char *origin,
                       char *err, size_t err_len) {
    char expected[256];
    describe_expected(k, expected, sizeof expected);
    void *dst = field_ptr(cfg, k);
    char *end = NULL;
    switch (k->type) {
    case VB_CT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno == 0 && end != text && *end == '\0') {
            if ((double)v >= k->min && (double)v <= k->max) {
                *(int64_t *)dst = (int64_t)v;
                return 0;
            }
            break;
        }
        /* Accept exact integers written in float notation, e.g. 2e6. */
        errno = 0;
        double d = strtod(text, &end);
        if (errno == 0 && end != text && *end == '\0' && isfinite(d) && d == floor(d) &&
            d >= k->min && d <= k->max) {
            *(int64_t *)dst = (int64_t)d;
            return 0;
        }
        break;
    }
    case VB_CT_FLOAT: {
        errno = 0;
        double d = strtod(text, &end);
        if (errno == 0 && end != text && *end == '\0' && isfinite(d) && d >= k->min && d <= k->max) {
            *(double *)dst = d;
            return 0;
        }
        break;
    }
    case VB_CT_BOOL:
        if (strcmp(text, "true") == 0) {
            *(bool *)dst = true;
            return 0;
        }
        if (strcmp(text, "false") == 0) {
            *(bool *)dst = false;
            return 0;
        }
        break;
    case VB_CT_ENUM:
        for (int i = 0; k->choices[i]; i++) {
            if (strcmp(text, k->choices[i]) == 0) {
                *(int *)dst = i;
                return 0;
            }
        }
        break;
    case VB_CT_STRING: {
        size_t n = strlen(text);
        if (n >= k->size) break;
        const char *bad = yaml_safe(text);
        if (bad) {
            snprintf(err, err_len, "%s: %s.%s: %s", origin, k->section, k->key, bad);
            return -1;
        }
        if (k->check) {
            char why[160];
            if (k->check(text, why, sizeof why) != 0) {
                snprintf(err, err_len, "%s: %s.%s: expected %s, got '%s'", origin, k->section,
                         k->key, why, text);
                return -1;
            }
        }
        memcpy(dst, text, n + 1);
        return 0;
    }
    }
    snprintf(err, err_len, "%s: %s.%s: expected %s, got '%s'", origin, k->section, k->key,
             expected, text);
    return -1;
}

void vb_config_defaults(vb_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    size_t n;
    const vb_cfg_key *keys = vb_config_schema(&n);
    for (size_t i = 0; i < n; i++) {
        char err[512];
        /* Defaults are validated by the tests; a bad one is a programming error. */
        if (parse_value(cfg, &keys[i], keys[i].def, "default", err, sizeof err) != 0) abort();
    }
}

/* libcyaml reports through a log callback, one fragment per call: the error
 * first, then a backtrace of "in mapping field 'K' (line: L, column: C)"
 * entries, innermost first. Keep the fragments; compose one message later. */
enum { MSG_LINES = 16, MSG_LEN = 256 };

typedef struct cyaml_msgs {
    char line[MSG_LINES][MSG_LEN];
    int n;
} cyaml_msgs;

static void collect_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args) {
    cyaml_msgs *m = ctx;
    if (level < CYAML_LOG_ERROR || m->n >= MSG_LINES) return;
    char *dst = m->line[m->n];
    vsnprintf(dst, MSG_LEN, fmt, args);
    size_t n = strlen(dst);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) dst[--n] = '\0';
    m->n++;
}

/* "ORIGIN: section.key: what" from the collected fragments. */
static void compose_cyaml_error(const cyaml_msgs *m, cyaml_err_t e, const char *origin, char *err,
                                size_t err_len) {
    const char *what = m->n ? m->line[0] : cyaml_strerror(e);
    if (strncmp(what, "Load: ", 6) == 0) what += 6;
    char path[256] = "";
    /* Backtrace entries are innermost first; build the dotted path outermost first. */
    for (int i = m->n - 1; i >= 1; i--) {
        char key[128];
        const char *t = strstr(m->line[i], "in mapping field '");
        if (t && sscanf(t, "in mapping field '%127[^']'", key) == 1) {
            size_t pl = strlen(path);
            snprintf(path + pl, sizeof path - pl, "%s%s", pl ? "." : "", key);
        }
    }
    /* libcyaml's positions point at the last event read, not always at the
     * offending key, so the message names the key path instead of a line. */
    const char *where = origin;
    const char *unexpected = strstr(what, "Unexpected key: ");
    const char *seen = strstr(what, "Mapping field already seen: ");
    if (unexpected) {
        const char *key = unexpected + strlen("Unexpected key: ");
        if (path[0])
            snprintf(err, err_len, "%s: unknown key '%s.%s' (see docs/configuration.md)", where,
                     path, key);
        else
            snprintf(err, err_len, "%s: unknown section '%s'; sections are run, env, model, "
                     "planner, learner, actors, log, eval", where, key);
    } else if (seen) {
        snprintf(err, err_len, "%s: '%s' appears twice", where, seen + strlen("Mapping field already seen: "));
    } else if (strstr(what, "libyaml")) {
        const char *msg = strstr(what, "libyaml: ");
        snprintf(err, err_len, "%s: malformed YAML: %s", where, msg ? msg + 9 : what);
    } else if (strstr(what, "Expecting MAPPING")) {
        snprintf(err, err_len, "%s: %s%sexpected a mapping of keys", where, path, path[0] ? ": " : "");
    } else if (strstr(what, "Expecting STRING")) {
        snprintf(err, err_len, "%s: %s: expected a single value, not a list or mapping", where, path);
    } else {
        snprintf(err, err_len, "%s: %s%s%s", where, path, path[0] ? ": " : "", what);
    }
}

typedef struct schema_storage {
    cyaml_schema_field_t key_fields[MAX_SECTIONS][MAX_KEYS + 1];
    cyaml_schema_field_t section_fields[MAX_SECTIONS + 1];
    cyaml_schema_value_t top;
} schema_storage;

/* Build the libcyaml schema from the key table: every section an optional
 * mapping, every key an optional string. */
static void build_cyaml_schema(schema_storage *st) {
    memset(st, 0, sizeof *st);
    size_t nsec, nkeys;
    const char *const *secs = vb_config_sections(&nsec);
    const vb_cfg_key *keys = vb_config_schema(&nkeys);
    for (size_t s = 0; s < nsec; s++) {
        size_t j = 0;
        for (size_t i = 0; i < nkeys; i++) {
            if (strcmp(keys[i].section, secs[s]) != 0) continue;
            cyaml_schema_field_t *f = &st->key_fields[s][j];
            f->key = keys[i].key;
            f->data_offset = (uint32_t)(offsetof(raw_section, v) + j * sizeof(char *));
            f->value.type = CYAML_STRING;
            f->value.flags = CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER;
            f->value.data_size = sizeof(char);
            f->value.string.min = 0;
            f->value.string.max = 4096;
            j++;
        }
        st->key_fields[s][j].key = NULL;
        cyaml_schema_field_t *sf = &st->section_fields[s];
        sf->key = secs[s];
        sf->data_offset = (uint32_t)(offsetof(raw_doc, s) + s * sizeof(raw_section *));
        sf->value.type = CYAML_MAPPING;
        sf->value.flags = CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER;
        sf->value.data_size = sizeof(raw_section);
        sf->value.mapping.fields = st->key_fields[s];
    }
    st->section_fields[nsec].key = NULL;
    st->top.type = CYAML_MAPPING;
    st->top.flags = CYAML_FLAG_POINTER;
    st->top.data_size = sizeof(raw_doc);
    st->top.mapping.fields = st->section_fields;
}

static int apply_raw(vb_config *cfg, const raw_doc *doc, const char *origin, char *err,
                     size_t err_len) {
    size_t nsec, nkeys;
    const char *const *secs = vb_config_sections(&nsec);
    const vb_cfg_key *keys = vb_config_schema(&nkeys);
    for (size_t s = 0; s < nsec; s++) {
        const raw_section *rs = doc->s[s];
        if (!rs) continue;
        size_t j = 0;
        for (size_t i = 0; i < nkeys; i++) {
            if (strcmp(keys[i].section, secs[s]) != 0) continue;
            const char *text = rs->v[j++];
            if (text && parse_value(cfg, &keys[i], text, origin, err, err_len) != 0) return -1;
        }
    }
    return 0;
}

static int load_common(vb_config *cfg, const char *path, const char *yaml, size_t len,
                       const char *origin, char *err, size_t err_len) {
    schema_storage *st = malloc(sizeof *st);
    if (!st) return snprintf(err, err_len, "%s: out of memory", origin), -1;
    build_cyaml_schema(st);
    cyaml_msgs msgs = {.n = 0};
    cyaml_config_t cc = {
        .log_fn = collect_cyaml_log,
        .log_ctx = &msgs,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_NO_ALIAS,
    };
    raw_doc *doc = NULL;
    cyaml_err_t e = path ? cyaml_load_file(path, &cc, &st->top, (cyaml_data_t **)&doc, NULL)
                         : cyaml_load_data((const uint8_t *)yaml, len, &cc, &st->top,
                                           (cyaml_data_t **)&doc, NULL);
    int rc = 0;
    if (e != CYAML_OK) {
        if (e == CYAML_ERR_FILE_OPEN)
            snprintf(err, err_len, "%s: cannot open config file: %s", origin, strerror(errno));
        else
            compose_cyaml_error(&msgs, e, origin, err, err_len);
        rc = -1;
    } else if (!doc) {
        rc = 0; /* an empty document changes nothing */
    } else {
        rc = apply_raw(cfg, doc, origin, err, err_len);
    }
    if (doc) cyaml_free(&cc, &st->top, doc, 0);
    free(st);
    return rc;
}

int vb_config_load_file(vb_config *cfg, const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open config file: %s", path, strerror(errno));
        return -1;
    }
    /* An empty file is a valid (empty) config; libcyaml rejects it, so check. */
    int c;
    while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r')) {}
    fclose(f);
    if (c == EOF) return 0;
    return load_common(cfg, path, NULL, 0, path, err, err_len);
}

int vb_config_load_string(vb_config *cfg, const char *yaml, size_t len, const char *origin,
                          char *err, size_t err_len) {
    size_t i = 0;
    while (i < len && (yaml[i] == ' ' || yaml[i] == '\n' || yaml[i] == '\t' || yaml[i] == '\r')) i++;
    if (i == len) return 0;
    return load_common(cfg, NULL, yaml, len, origin, err, err_len);
}

int vb_config_set(vb_config *cfg, const char *assignment, char *err, size_t err_len) {
    char origin[300];
    snprintf(origin, sizeof origin, "--set %s", assignment);
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq || dot == assignment || dot + 1 == eq) {
        snprintf(err, err_len, "%s: expected section.key=value", origin);
        return -1;
    }
    char section[64], key[64];
    size_t slen = (size_t)(dot - assignment), klen = (size_t)(eq - dot - 1);
    if (slen >= sizeof section || klen >= sizeof key) {
        snprintf(err, err_len, "%s: unknown key", origin);
        return -1;
    }
    memcpy(section, assignment, slen);
    section[slen] = '\0';
    memcpy(key, dot + 1, klen);
    key[klen] = '\0';
    const vb_cfg_key *k = vb_config_find(section, key);
    if (!k) {
        size_t nsec;
        const char *const *secs = vb_config_sections(&nsec);
        int known_section = 0;
        for (size_t s = 0; s < nsec; s++) known_section |= strcmp(secs[s], section) == 0;
        if (known_section)
            snprintf(err, err_len, "%s: unknown key '%s.%s' (see docs/configuration.md)", origin,
                     section, key);
        else
            snprintf(err, err_len, "%s: unknown section '%s'; sections are run, env, model, "
                     "planner, learner, actors, log, eval", origin, section);
        return -1;
    }
    return parse_value(cfg, k, eq + 1, origin, err, err_len);
}

int vb_config_same_weights_reading(const vb_config *trained, const vb_config *cfg, const char *what, char *err,
                                   size_t err_len) {
    static const char *const keys[] = {"reward_decoder", "reward_latent", "task_clock"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const vb_cfg_key *k = vb_config_find("model", keys[i]);
        char was[64], now[64];
        vb_config_format_value(trained, k, was, sizeof was);
        vb_config_format_value(cfg, k, now, sizeof now);
        if (strcmp(was, now) != 0)
            return snprintf(err, err_len, "model.%s: the checkpoint's weights were trained with %s, and %s gives %s; "
                            "it changes how the weights are read, so it must stay %s", keys[i], was, what, now, was),
                   -1;
    }
    return 0;
}

int vb_config_validate(const vb_config *cfg, char *err, size_t err_len) {
    bool plugin = cfg->env.name == VB_ENV_PLUGIN;
    if (plugin && (!cfg->env.plugin[0] || !cfg->env.family[0])) {
        snprintf(err, err_len, "env.name: plugin needs env.plugin (the shared library) and env.family (the family's "
                 "name in it); docs/envs.md");
        return -1;
    }
    if (!plugin && (cfg->env.plugin[0] || cfg->env.family[0] || cfg->env.args[0])) {
        snprintf(err, err_len, "env.plugin, env.family and env.args are read only with env.name: plugin (env.name is "
                 "a built-in family, whose parameters are its own env keys)");
        return -1;
    }
    if (cfg->env.lengthscale_min > cfg->env.lengthscale_max) {
        snprintf(err, err_len, "env.lengthscale_min (%g) must not exceed env.lengthscale_max (%g)",
                 cfg->env.lengthscale_min, cfg->env.lengthscale_max);
        return -1;
    }
    if (cfg->learner.refresh_grad &&
        (!cfg->learner.refresh_carry || cfg->model.core != VB_CORE_GRU || cfg->learner.bptt > 0 ||
         (cfg->run.algo != VB_ALGO_VARIBASED && cfg->learner.ppo_epochs > 1))) {
        snprintf(err, err_len, "learner.refresh_grad needs learner.refresh_carry: true, model.core: gru, learner.bptt 0 "
                 "(it takes the gradient back to the task's start) and one pass per batch (learner.ppo_epochs 1 "
                 "outside varibased: the prefixes are encoded once per batch)");
        return -1;
    }
    if (cfg->learner.bptt > 0 && cfg->model.core != VB_CORE_GRU) {
        snprintf(err, err_len, "learner.bptt (%lld) needs model.core: gru (the S5 scan's gradient reaches the window's "
                 "start)", (long long)cfg->learner.bptt);
        return -1;
    }
    if (cfg->eval.keep_best && cfg->eval.every_updates <= 0) {
        snprintf(err, err_len, "eval.keep_best needs eval.every_updates > 0 (the best is chosen among those evaluations)");
        return -1;
    }
    if (cfg->eval.greedy_margin > 0 && cfg->planner.target != VB_TARGET_BACKUP) {
        snprintf(err, err_len, "eval.greedy_margin (%g) needs planner.target: backup (the weights readout has no Q-hat)",
                 cfg->eval.greedy_margin);
        return -1;
    }
    if (cfg->planner.target == VB_TARGET_WEIGHTS && cfg->planner.root_actions == VB_ROOT_ALL) {
        snprintf(err, err_len, "planner.target: weights needs planner.root_actions: policy (the weights readout counts "
                 "the particles' first actions, which root_actions: all makes uniform by construction)");
        return -1;
    }
    if (cfg->planner.target == VB_TARGET_WEIGHTS && cfg->planner.rollout == VB_ROLLOUT_ARGMAX) {
        snprintf(err, err_len, "planner.rollout: argmax needs planner.target: backup (argmax continuations are "
                 "never resampled, so the weights readout would only count first actions)");
        return -1;
    }
    if (cfg->actors.timeout_ms <= cfg->actors.heartbeat_ms) {
        snprintf(err, err_len, "actors.timeout_ms (%lld) must exceed actors.heartbeat_ms (%lld)",
                 (long long)cfg->actors.timeout_ms, (long long)cfg->actors.heartbeat_ms);
        return -1;
    }
    return 0;
}

/* Shortest decimal that parses back to the same double. */
static void format_double(double v, char *buf, size_t len) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void vb_config_format_value(const vb_config *cfg, const vb_cfg_key *k, char *buf, size_t len) {
    const void *p = field_cptr(cfg, k);
    switch (k->type) {
    case VB_CT_INT:
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)p);
        break;
    case VB_CT_FLOAT:
        format_double(*(const double *)p, buf, len);
        break;
    case VB_CT_BOOL:
        snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
        break;
    case VB_CT_ENUM:
        snprintf(buf, len, "%s", k->choices[*(const int *)p]);
        break;
    case VB_CT_STRING:
        snprintf(buf, len, "\"%s\"", (const char *)p);
        break;
    }
}

int vb_config_write_yaml(const vb_config *cfg, FILE *out) {
    size_t nsec, nkeys;
    const char *const *secs = vb_config_sections(&nsec);
    const vb_cfg_key *keys = vb_config_schema(&nkeys);
    for (size_t s = 0; s < nsec; s++) {
        if (fprintf(out, "%s:\n", secs[s]) < 0) return -1;
        for (size_t i = 0; i < nkeys; i++) {
            if (strcmp(keys[i].section, secs[s]) != 0) continue;
            char val[VB_CFG_STR + 8];
            vb_config_format_value(cfg, &keys[i], val, sizeof val);
            if (fprintf(out, "  %s: %s\n", keys[i].key, val) < 0) return -1;
        }
    }
    return fflush(out) == 0 ? 0 : -1;
}

char *vb_config_to_yaml(const vb_config *cfg, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    int rc = vb_config_write_yaml(cfg, f);
    fclose(f);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    if (len) *len = n;
    return buf;
}
