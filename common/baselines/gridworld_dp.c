/* gridworld_dp — see gridworld_dp.h. */
#include "gridworld_dp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../envs/gridworld.h"
#include "../base/clock.h"

enum { POS_BITS = 5, MAX_THREADS = 64 };

/* The problem, and the tables of one solve. A key is (unvisited << POS_BITS) | cell. */
typedef struct solver {
    int64_t g, EL, EP, H, C;    /* grid side, clock, candidate count */
    double r_miss, r_hit, gamma;
    int32_t cand[32];           /* cell -> candidate bit, or -1 */
    int32_t next[32][5];        /* cell x action -> cell */
    uint64_t words;             /* bitmap words over the key space */
    uint64_t *bits;             /* (words) the level being built or looked up */
    uint32_t *prefix;           /* (words) keys in the words before */
    uint32_t **keys;            /* (H + 1) sorted keys of each level */
    uint8_t **act;              /* (H) best action of each state */
    int64_t *count;             /* (H + 1) */
    double *v_now, *v_next;     /* values of two adjacent levels */
    double *known;              /* (H + 1, cells, cells) W(c, goal, t): the rest of the task with the goal known */
} solver;


/* The cell an agent is in at the start of step t + 1 after reaching c at step t. */
static int32_t after_step(const solver *s, int32_t c, int64_t t) { return (t + 1) % s->EL == 0 ? 0 : c; }

/* The oracle's move from cell c towards the known goal (cells are y g + x). */
static int toward(const solver *s, int32_t c, int32_t goal) {
    const int32_t g = (int32_t)s->g;
    return vb_gridworld_step_towards(c % g, c / g, goal % g, goal / g);
}

static double *known_at(const solver *s, int32_t c, int32_t goal, int64_t t) {
    const int64_t n = s->g * s->g;
    return s->known + (t * n + c) * n + goal;
}

/* W(c, goal, t), the discounted return of the rest of the task from cell c
 * at step t with the goal known: the oracle's walk (a shortest path, then
 * staying), restarted from the start cell at each episode boundary. */
static void known_goal_returns(solver *s) {
    const int32_t n = (int32_t)(s->g * s->g);
    for (int32_t c = 0; c < n; c++)
        for (int32_t goal = 0; goal < n; goal++) *known_at(s, c, goal, s->H) = 0.0;
    for (int64_t t = s->H - 1; t >= 0; t--)
        for (int32_t c = 0; c < n; c++)
            for (int32_t goal = 0; goal < n; goal++) {
                int32_t c1 = s->next[c][toward(s, c, goal)];
                *known_at(s, c, goal, t) = (c1 == goal ? s->r_hit : s->r_miss) +
                                           s->gamma * *known_at(s, after_step(s, c1, t), goal, t + 1);
            }
}

/* The belief after a miss of action a from key at step t; 0 when a miss is impossible
 * (the move enters the last unvisited candidate, which must be the goal). */
static int miss_successor(const solver *s, uint32_t key, int a, int64_t t, uint32_t *out) {
    uint32_t U = key >> POS_BITS;
    int32_t c = s->next[key & ((1u << POS_BITS) - 1)][a];
    if (s->cand[c] >= 0) U &= ~(1u << s->cand[c]);
    if (U == 0) return 0;
    *out = U << POS_BITS | (uint32_t)after_step(s, c, t);
    return 1;
}

static void bits_clear(solver *s) { memset(s->bits, 0, s->words * sizeof *s->bits); }

static void bits_index(solver *s) {
    uint32_t acc = 0;
    for (uint64_t w = 0; w < s->words; w++) {
        s->prefix[w] = acc;
        acc += (uint32_t)__builtin_popcountll(s->bits[w]);
    }
}

static int64_t bits_rank(const solver *s, uint32_t key) {
    uint64_t w = key >> 6, below = s->bits[w] & ((UINT64_C(1) << (key & 63)) - 1);
    return (int64_t)s->prefix[w] + __builtin_popcountll(below);
}

/* Every belief reachable by misses, level by level; 0, or -1 over max_bytes / out of memory. */
static int enumerate(solver *s, double max_bytes, double *bytes, char *err, size_t err_len) {
    uint32_t full = (uint32_t)((UINT64_C(1) << s->C) - 1);
    s->keys[0] = malloc(sizeof(uint32_t));
    if (!s->keys[0]) return snprintf(err, err_len, "out of memory"), -1;
    s->keys[0][0] = full << POS_BITS;
    s->count[0] = 1;
    for (int64_t t = 0; t + 1 < s->H; t++) {
        bits_clear(s);
        for (int64_t i = 0; i < s->count[t]; i++)
            for (int a = 0; a < 5; a++) {
                uint32_t k;
                if (miss_successor(s, s->keys[t][i], a, t, &k)) s->bits[k >> 6] |= UINT64_C(1) << (k & 63);
            }
        int64_t n = 0;
        for (uint64_t w = 0; w < s->words; w++) n += __builtin_popcountll(s->bits[w]);
        *bytes += (double)n * (sizeof(uint32_t) + 1);
        if (*bytes > max_bytes)
            return snprintf(err, err_len, "the belief states of step %lld alone take the tables past %.1f GiB",
                            (long long)(t + 1), max_bytes / (1u << 30)), -1;
        uint32_t *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
        if (!k) return snprintf(err, err_len, "out of memory for %lld belief states", (long long)n), -1;
        int64_t j = 0;
        for (uint64_t w = 0; w < s->words; w++)
            for (uint64_t m = s->bits[w]; m; m &= m - 1) k[j++] = (uint32_t)(w << 6 | (uint64_t)__builtin_ctzll(m));
        s->keys[t + 1] = k;
        s->count[t + 1] = n;
    }
    return 0;
}

typedef struct level_job {
    solver *s;
    int64_t t, lo, hi;
} level_job;

/* The best action and value of states lo..hi-1 of level t (level t + 1 indexed in bits). */
static void *solve_range(void *arg) {
    level_job *j = arg;
    solver *s = j->s;
    const int64_t t = j->t;
    const uint32_t pos_mask = (1u << POS_BITS) - 1;
    for (int64_t i = j->lo; i < j->hi; i++) {
        uint32_t key = s->keys[t][i], U = key >> POS_BITS;
        int32_t c = (int32_t)(key & pos_mask);
        double n = (double)__builtin_popcount(U), best = -INFINITY;
        int arg_best = 0;
        for (int a = 0; a < 5; a++) {
            int32_t c1 = s->next[c][a];
            uint32_t k;
            double v_miss = 0.0;
            if (t + 1 < s->H && miss_successor(s, key, a, t, &k)) v_miss = s->v_next[bits_rank(s, k)];
            double q = s->r_miss + s->gamma * v_miss;
            if (s->cand[c1] >= 0 && (U >> s->cand[c1] & 1u)) {
                double hit = s->r_hit + s->gamma * *known_at(s, after_step(s, c1, t), c1, t + 1);
                q = hit / n + (1.0 - 1.0 / n) * q;
            }
            if (q > best + 1e-12) {
                best = q;
                arg_best = a;
            }
        }
        s->v_now[i] = best;
        s->act[t][i] = (uint8_t)arg_best;
    }
    return NULL;
}

static int backward(solver *s, int64_t threads) {
    for (int64_t t = s->H - 1; t >= 0; t--) {
        if (t + 1 < s->H) {
            bits_clear(s);
            for (int64_t i = 0; i < s->count[t + 1]; i++) {
                uint32_t k = s->keys[t + 1][i];
                s->bits[k >> 6] |= UINT64_C(1) << (k & 63);
            }
            bits_index(s);
        }
        int64_t n = s->count[t], T = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
        if (n < 4096) T = 1;
        level_job jobs[MAX_THREADS];
        pthread_t tid[MAX_THREADS];
        int64_t started = 0;
        for (int64_t w = 0; w < T; w++) {
            jobs[w] = (level_job){s, t, n * w / T, n * (w + 1) / T};
            if (w == 0 || pthread_create(&tid[w], NULL, solve_range, &jobs[w]) != 0) continue;
            started |= INT64_C(1) << w;
        }
        solve_range(&jobs[0]);
        for (int64_t w = 1; w < T; w++) {
            if (started >> w & 1) pthread_join(tid[w], NULL);
            else solve_range(&jobs[w]);
        }
        double *tmp = s->v_next;
        s->v_next = s->v_now;
        s->v_now = tmp;
    }
    return 0;
}

static int64_t find(const solver *s, int64_t t, uint32_t key) {
    int64_t lo = 0, hi = s->count[t];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->keys[t][mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->count[t] && s->keys[t][lo] == key ? lo : -1;
}

/* The optimal path, and the exact per-episode returns of following it. */
static void extract(const solver *s, vb_gridworld_dp *dp) {
    uint32_t key = s->keys[0][0];
    int live = 1;
    for (int64_t t = 0; t < s->H; t++) {
        int64_t i = live ? find(s, t, key) : -1;
        dp->path[t] = i >= 0 ? s->act[t][i] : VB_GRID_STAY;
        if (i >= 0) live = miss_successor(s, key, dp->path[t], t, &key);
    }
    for (int32_t goal = 0; goal < s->g * s->g; goal++) {
        if (s->cand[goal] < 0) continue;
        int32_t c = 0;
        int found = 0;
        for (int64_t t = 0; t < s->H; t++) {
            c = s->next[c][found ? toward(s, c, goal) : dp->path[t]];
            int hit = c == goal;
            found |= hit;
            dp->episode[t / s->EL] += (hit ? s->r_hit : s->r_miss) / (double)s->C;
            c = after_step(s, c, t);
        }
    }
}

static void solver_free(solver *s) {
    if (s->keys)
        for (int64_t t = 0; t <= s->H; t++) free(s->keys[t]);
    if (s->act)
        for (int64_t t = 0; t < s->H; t++) free(s->act[t]);
    free(s->keys);
    free(s->act);
    free(s->count);
    free(s->bits);
    free(s->prefix);
    free(s->v_now);
    free(s->v_next);
    free(s->known);
}

int vb_gridworld_dp_solve(vb_gridworld_dp **out, int64_t grid, int64_t episode_length, int64_t episodes,
                          float r_miss, float r_hit, double gamma, int64_t threads, double max_bytes, char *err,
                          size_t err_len) {
    *out = NULL;
    if (grid < 3 || grid > 5)
        return snprintf(err, err_len, "the exact Bayes-optimal gridworld solver handles grids of 3x3 to 5x5, not %lldx%lld",
                        (long long)grid, (long long)grid), -1;
    if (episode_length < 1 || episodes < 1 || episode_length * episodes > 4096)
        return snprintf(err, err_len, "the exact Bayes-optimal gridworld solver handles tasks of 1 to 4096 steps"), -1;
    if (!(gamma > 0.0 && gamma <= 1.0))
        return snprintf(err, err_len, "the exact Bayes-optimal gridworld solver's discount must be in (0, 1], not %g",
                        gamma), -1;
    double t0 = vb_mono_s();
    solver s = {.g = grid, .EL = episode_length, .EP = episodes, .H = episode_length * episodes,
                .r_miss = r_miss, .r_hit = r_hit, .gamma = gamma};
    for (int32_t c = 0; c < grid * grid; c++) {
        int32_t x = c % (int32_t)grid, y = c / (int32_t)grid;
        s.cand[c] = vb_gridworld_is_candidate(x, y) ? (int32_t)s.C++ : -1;
        for (int a = 0; a < 5; a++) {
            int32_t nx, ny;
            vb_gridworld_move(grid, x, y, a, &nx, &ny);
            s.next[c][a] = ny * (int32_t)grid + nx;
        }
    }
    s.words = (UINT64_C(1) << (s.C + POS_BITS)) / 64;
    s.bits = calloc(s.words, sizeof *s.bits);
    s.prefix = calloc(s.words, sizeof *s.prefix);
    s.keys = calloc((size_t)s.H + 1, sizeof *s.keys);
    s.act = calloc((size_t)s.H, sizeof *s.act);
    s.count = calloc((size_t)s.H + 1, sizeof *s.count);
    s.known = malloc((size_t)(s.H + 1) * (size_t)(grid * grid * grid * grid) * sizeof *s.known);
    vb_gridworld_dp *dp = calloc(1, sizeof *dp);
    if (dp) {
        dp->path = calloc((size_t)s.H, sizeof *dp->path);
        dp->episode = calloc((size_t)episodes, sizeof *dp->episode);
    }
    double bytes = (double)s.words * (sizeof *s.bits + sizeof *s.prefix) +
                   (double)(s.H + 1) * (double)(grid * grid * grid * grid) * sizeof *s.known;
    int rc = -1;
    if (!s.bits || !s.prefix || !s.keys || !s.act || !s.count || !s.known || !dp || !dp->path || !dp->episode) {
        snprintf(err, err_len, "out of memory");
    } else if (enumerate(&s, max_bytes, &bytes, err, err_len) == 0) {
        int64_t widest = 0, states = 0;
        for (int64_t t = 0; t < s.H; t++) {
            widest = s.count[t] > widest ? s.count[t] : widest;
            states += s.count[t];
        }
        s.v_now = malloc((size_t)widest * sizeof *s.v_now);
        s.v_next = malloc((size_t)widest * sizeof *s.v_next);
        int ok = s.v_now && s.v_next;
        for (int64_t t = 0; ok && t < s.H; t++) ok = (s.act[t] = malloc((size_t)(s.count[t] ? s.count[t] : 1))) != NULL;
        if (!ok) {
            snprintf(err, err_len, "out of memory for the values of %lld belief states", (long long)states);
        } else {
            known_goal_returns(&s);
            backward(&s, threads);
            extract(&s, dp);
            dp->grid = grid;
            dp->episode_length = episode_length;
            dp->episodes = episodes;
            dp->steps = s.H;
            dp->value = s.v_next[0]; /* the last level solved, swapped into v_next */
            dp->states = states;
            dp->table_bytes = bytes + 2.0 * (double)widest * sizeof(double);
            dp->seconds = vb_mono_s() - t0;
            rc = 0;
        }
    }
    solver_free(&s);
    if (rc != 0) {
        vb_gridworld_dp_free(dp);
        return -1;
    }
    *out = dp;
    return 0;
}

void vb_gridworld_dp_free(vb_gridworld_dp *dp) {
    if (!dp) return;
    free(dp->path);
    free(dp->episode);
    free(dp);
}
