/* task_host — see task_host.h. */
#include "task_host.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"

static uint32_t host_below(vb_task_rng *r, uint32_t n) { return vb_rng_below((vb_rng *)r, n ? n : 1); }
static double host_uniform(vb_task_rng *r) { return vb_rng_uniform_double((vb_rng *)r); }
static double host_normal(vb_task_rng *r) { return vb_rng_normal_double((vb_rng *)r); }
static double host_beta(vb_task_rng *r, double a, double b) { return vb_rng_beta((vb_rng *)r, a, b); }

/* The pair of key, marked as read; NULL if absent. */
static const char *lookup(const vb_task_args *a, const char *key) {
    vb_task_args *m = (vb_task_args *)a; /* the program's own object: read flags only */
    for (int k = 0; k < a->n; k++)
        if (strcmp(a->key[k], key) == 0) {
            m->read[k] = true;
            return a->val[k];
        }
    return NULL;
}

static int host_arg_int(const vb_task_args *a, const char *key, int64_t *value, char *err, size_t err_len) {
    const char *v = lookup(a, key);
    if (!v) return 1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) return snprintf(err, err_len, "env.args: %s=%s is not an integer", key, v), -1;
    *value = x;
    return 0;
}

static int host_arg_double(const vb_task_args *a, const char *key, double *value, char *err, size_t err_len) {
    const char *v = lookup(a, key);
    if (!v) return 1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return snprintf(err, err_len, "env.args: %s=%s is not a finite number", key, v), -1;
    *value = x;
    return 0;
}

static int host_arg_at(const vb_task_args *a, int k, const char **key, const char **value) {
    if (k < 0 || k >= a->n) return 1;
    ((vb_task_args *)a)->read[k] = true;
    *key = a->key[k];
    *value = a->val[k];
    return 0;
}

const vb_task_host vb__task_host = {
    .abi_version = VB_TASK_ABI_VERSION,
    .below = host_below,
    .uniform = host_uniform,
    .normal = host_normal,
    .beta = host_beta,
    .arg_int = host_arg_int,
    .arg_double = host_arg_double,
    .arg_at = host_arg_at,
};

static int add(vb_task_args *a, const char *key, size_t key_len, const char *val, size_t val_len, char *err,
               size_t err_len) {
    if (a->n == VB_TASK_ARGS_MAX) return snprintf(err, err_len, "env.args: more than %d pairs", VB_TASK_ARGS_MAX), -1;
    if (key_len == 0 || key_len >= VB_TASK_KEY_MAX || val_len == 0 || val_len >= VB_TASK_VAL_MAX)
        return snprintf(err, err_len, "env.args: '%.*s=%.*s': expected key=value, a key of 1-%d and a value of 1-%d "
                                      "characters", (int)key_len, key, (int)val_len, val, VB_TASK_KEY_MAX - 1,
                        VB_TASK_VAL_MAX - 1), -1;
    for (size_t j = 0; j < key_len; j++)
        if (!islower((unsigned char)key[j]) && !isdigit((unsigned char)key[j]) && key[j] != '_')
            return snprintf(err, err_len, "env.args: key '%.*s': expected letters a-z, digits and '_'", (int)key_len,
                            key), -1;
    memcpy(a->key[a->n], key, key_len);
    a->key[a->n][key_len] = 0;
    for (int k = 0; k < a->n; k++)
        if (strcmp(a->key[k], a->key[a->n]) == 0)
            return snprintf(err, err_len, "env.args: key '%s' given twice", a->key[k]), -1;
    memcpy(a->val[a->n], val, val_len);
    a->val[a->n][val_len] = 0;
    a->read[a->n] = false;
    a->n++;
    return 0;
}

int vb__task_args_parse(vb_task_args *a, const char *text, char *err, size_t err_len) {
    memset(a, 0, sizeof *a);
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) return 0;
        const char *start = p;
        while (*p && *p != ' ' && *p != ',' && *p != '\t') p++;
        const char *eq = memchr(start, '=', (size_t)(p - start));
        if (!eq)
            return snprintf(err, err_len, "env.args: '%.*s': expected key=value", (int)(p - start), start), -1;
        if (add(a, start, (size_t)(eq - start), eq + 1, (size_t)(p - eq - 1), err, err_len) != 0) return -1;
    }
}

void vb__task_args_int(vb_task_args *a, const char *key, int64_t v) {
    char buf[VB_TASK_VAL_MAX], err[8];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)v);
    add(a, key, strlen(key), buf, (size_t)len, err, sizeof err);
}

void vb__task_args_double(vb_task_args *a, const char *key, double v) {
    char buf[VB_TASK_VAL_MAX], err[8];
    int len = snprintf(buf, sizeof buf, "%.17g", v);
    add(a, key, strlen(key), buf, (size_t)len, err, sizeof err);
}

const char *vb__task_args_unread(const vb_task_args *a) {
    for (int k = 0; k < a->n; k++)
        if (!a->read[k]) return a->key[k];
    return NULL;
}
