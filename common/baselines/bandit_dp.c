/* bandit_dp — see bandit_dp.h. */
#include "bandit_dp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DP_MAX_ARMS = 256, DP_MAX_HORIZON = 65535 };

/* A belief is K packed pairs (s << 16 | f) in ascending order. */
struct vb_bandit_dp {
    int64_t K, H;
    double alpha, beta;
    int64_t max_states;
    uint32_t *keys;   /* (cap, K) */
    double *vals;     /* (cap) */
    int64_t count, cap;
    int64_t *table;   /* open addressing: an index into keys, or -1 */
    uint64_t mask;    /* table size - 1 */
    uint32_t *scratch; /* (H + 1, 2, K): the two children at each depth */
    double value;
    int failed;       /* too many states, or out of memory */
};

static uint32_t pack(uint32_t s, uint32_t f) { return s << 16 | f; }

static uint64_t hash_key(const uint32_t *k, int64_t K) {
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int64_t i = 0; i < K; i++) {
        h = (h ^ k[i]) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

static int64_t lookup(const vb_bandit_dp *dp, const uint32_t *k) {
    for (uint64_t slot = hash_key(k, dp->K) & dp->mask;; slot = (slot + 1) & dp->mask) {
        int64_t e = dp->table[slot];
        if (e < 0) return -1;
        if (memcmp(&dp->keys[e * dp->K], k, (size_t)dp->K * sizeof *k) == 0) return e;
    }
}

static void place(vb_bandit_dp *dp, int64_t e) {
    uint64_t slot = hash_key(&dp->keys[e * dp->K], dp->K) & dp->mask;
    while (dp->table[slot] >= 0) slot = (slot + 1) & dp->mask;
    dp->table[slot] = e;
}

/* Keep the table at most half full and the entry arrays large enough. */
static int grow(vb_bandit_dp *dp) {
    if (dp->count < dp->cap) return 0;
    int64_t cap = dp->cap ? dp->cap * 2 : 1024;
    uint32_t *keys = realloc(dp->keys, (size_t)(cap * dp->K) * sizeof *keys);
    if (!keys) return -1;
    dp->keys = keys;
    double *vals = realloc(dp->vals, (size_t)cap * sizeof *vals);
    if (!vals) return -1;
    dp->vals = vals;
    int64_t *table = malloc((size_t)(cap * 2) * sizeof *table);
    if (!table) return -1;
    free(dp->table);
    dp->table = table;
    dp->mask = (uint64_t)(cap * 2 - 1);
    for (int64_t s = 0; s < cap * 2; s++) dp->table[s] = -1;
    for (int64_t e = 0; e < dp->count; e++) place(dp, e);
    dp->cap = cap;
    return 0;
}

static void insert(vb_bandit_dp *dp, const uint32_t *k, double v) {
    if (dp->count >= dp->max_states || grow(dp) != 0) {
        dp->failed = 1;
        return;
    }
    memcpy(&dp->keys[dp->count * dp->K], k, (size_t)dp->K * sizeof *k);
    dp->vals[dp->count] = v;
    place(dp, dp->count);
    dp->count++;
}

/* child = parent with element a replaced by v, re-sorted (v only grows). */
static void make_child(const uint32_t *parent, int64_t K, int64_t a, uint32_t v, uint32_t *child) {
    memcpy(child, parent, (size_t)K * sizeof *child);
    child[a] = v;
    for (int64_t i = a; i + 1 < K && child[i] > child[i + 1]; i++) {
        uint32_t t = child[i];
        child[i] = child[i + 1];
        child[i + 1] = t;
    }
}

static double prob(const vb_bandit_dp *dp, uint32_t pair) {
    double s = (double)(pair >> 16), f = (double)(pair & 0xffff);
    return (dp->alpha + s) / (dp->alpha + dp->beta + s + f);
}

/* V of the sorted belief `k` with h pulls left (recursion depth H - h). */
static double solve(vb_bandit_dp *dp, const uint32_t *k, int64_t h) {
    if (h == 0 || dp->failed) return 0.0;
    int64_t e = lookup(dp, k);
    if (e >= 0) return dp->vals[e];
    int64_t K = dp->K;
    uint32_t *cs = &dp->scratch[(dp->H - h) * 2 * K], *cf = cs + K;
    double best = -INFINITY;
    for (int64_t a = 0; a < K; a++) {
        if (a > 0 && k[a] == k[a - 1]) continue; /* exchangeable: same Q */
        double p = prob(dp, k[a]);
        make_child(k, K, a, k[a] + (1u << 16), cs);
        double vs = solve(dp, cs, h - 1);
        make_child(k, K, a, k[a] + 1u, cf);
        double vf = solve(dp, cf, h - 1);
        double q = p * (1.0 + vs) + (1.0 - p) * vf;
        if (q > best) best = q;
    }
    insert(dp, k, best);
    return best;
}

int vb_bandit_dp_create(vb_bandit_dp **out, int64_t arms, int64_t horizon, double alpha, double beta,
                        int64_t max_states, char *err, size_t err_len) {
    *out = NULL;
    if (arms < 1 || arms > DP_MAX_ARMS || horizon < 1 || horizon > DP_MAX_HORIZON || !(alpha > 0) ||
        !(beta > 0)) {
        snprintf(err, err_len, "bandit DP: expected 1..%d arms, 1..%d pulls and a positive prior", DP_MAX_ARMS,
                 DP_MAX_HORIZON);
        return -1;
    }
    /* At least (H+1)(H+2)/2 beliefs (one arm's counts alone), checked before the
     * recursion so that its depth H stays small. */
    double lower = (double)(horizon + 1) * (double)(horizon + 2) / 2.0;
    if (arms > 1 && lower > (double)max_states) {
        snprintf(err, err_len, "bandit DP: %lld arms over %lld pulls need more than %lld beliefs", (long long)arms,
                 (long long)horizon, (long long)max_states);
        return -1;
    }
    vb_bandit_dp *dp = calloc(1, sizeof *dp);
    if (!dp) return snprintf(err, err_len, "out of memory"), -1;
    dp->K = arms;
    dp->H = horizon;
    dp->alpha = alpha;
    dp->beta = beta;
    dp->max_states = max_states;
    dp->scratch = malloc((size_t)((horizon + 1) * 2 * arms) * sizeof *dp->scratch);
    uint32_t *root = calloc((size_t)arms, sizeof *root);
    if (!dp->scratch || !root || grow(dp) != 0) {
        free(root);
        vb_bandit_dp_destroy(dp);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    for (int64_t a = 0; a < arms; a++) root[a] = pack(0, 0);
    dp->value = solve(dp, root, horizon);
    free(root);
    if (dp->failed) {
        snprintf(err, err_len, "bandit DP: %lld arms over %lld pulls need more than %lld beliefs (or memory)",
                 (long long)arms, (long long)horizon, (long long)max_states);
        vb_bandit_dp_destroy(dp);
        return -1;
    }
    *out = dp;
    return 0;
}

void vb_bandit_dp_destroy(vb_bandit_dp *dp) {
    if (!dp) return;
    free(dp->keys);
    free(dp->vals);
    free(dp->table);
    free(dp->scratch);
    free(dp);
}

double vb_bandit_dp_value(const vb_bandit_dp *dp) { return dp->value; }

int64_t vb_bandit_dp_states(const vb_bandit_dp *dp) { return dp->count; }

static void sort_small(uint32_t *v, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        int64_t j = i;
        for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

int vb_bandit_dp_q(const vb_bandit_dp *dp, const int32_t *succ, const int32_t *fail, double *q) {
    int64_t K = dp->K, total = 0;
    uint32_t base[DP_MAX_ARMS], child[DP_MAX_ARMS];
    for (int64_t a = 0; a < K; a++) {
        if (succ[a] < 0 || fail[a] < 0) return -1;
        total += (int64_t)succ[a] + fail[a];
        if (total >= dp->H) return -1;
        base[a] = pack((uint32_t)succ[a], (uint32_t)fail[a]);
    }
    int64_t h = dp->H - total;
    for (int64_t a = 0; a < K; a++) {
        double p = prob(dp, base[a]), v[2] = {0.0, 0.0};
        for (int outcome = 0; outcome < 2 && h > 1; outcome++) {
            memcpy(child, base, (size_t)K * sizeof *child);
            child[a] += outcome ? 1u : (1u << 16);
            sort_small(child, K);
            int64_t e = lookup(dp, child);
            if (e < 0) return -1;
            v[outcome] = dp->vals[e];
        }
        q[a] = p * (1.0 + v[0]) + (1.0 - p) * v[1];
    }
    return 0;
}
