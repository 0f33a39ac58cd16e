/* bench_planner — Belief-SMC throughput with the gridworld model of
 * configs/gridworld.yaml: planner calls for a batch of 64 environments at
 * K = 16, D = 4, K_Omega = 4 (and the configured sizes), one BLAS thread;
 * the training planner, and at K 16 also with sampled outcomes (one encoder
 * step per particle-step instead of two); at K 16 and K 64 also with
 * planner.threads 2 (the environments in two blocks on two threads), and the
 * ratio of the two-thread throughput to the one-thread one measured here.
 * Each configuration's FLOPs per particle-step are counted from the GEMMs it
 * calls (2 M N K each; elementwise work is not counted), and its rate is
 * given as a share of this machine's measured FMA ceiling (bench/fma_peak.h:
 * one core for one thread, two for two). `bench_planner k16` (or k64) runs
 * that budget alone on one thread, for a profiler.
 * Output: one "name value unit" per line. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/blas_core.h"
#include "best_rate.h"
#include "fma_peak.h"
#include "common/planner/planner.h"
#include "common/params/params.h"

/* one planner call (bench's timed work) */
typedef struct planner_call {
    vb_planner *pl;
    const float *P;
    const vb_planner_root *root;
    int64_t B;
    vb_rng *rng;
    float *q, *v;
} planner_call;

static void planner_run_call(void *ctx) {
    const planner_call *c = ctx;
    vb_planner_run(c->pl, c->P, c->root, c->B, c->rng, c->q, c->v);
}

/* The CPU backend with its GEMMs (and the linear layers' fused ones)
 * counting FLOPs. */
static atomic_llong gemm_flops;
static vb_backend counting;
static void counting_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                          const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    atomic_fetch_add(&gemm_flops, 2 * M * N * K);
    vb_backend_cpu()->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void counting_linear_act(vb_act act, float *pre, float *out, const float *in, const float *W, const float *b,
                                int64_t M, int64_t N, int64_t K) {
    atomic_fetch_add(&gemm_flops, 2 * M * N * K);
    vb_backend_cpu()->linear_act(act, pre, out, in, W, b, M, N, K);
}

static void counting_linear_act_packed(vb_act act, float *out, const float *in, const float *Wp, const float *W,
                                       const float *b, int64_t M, int64_t N, int64_t K) {
    atomic_fetch_add(&gemm_flops, 2 * M * N * K);
    vb_backend_cpu()->linear_act_packed(act, out, in, Wp, W, b, M, N, K);
}

static double peak[3]; /* GFLOP/s of 1 and 2 cores */

/* particle-steps/s of the configuration, or a negative value on error */
static double bench(const char *config, int64_t B, int64_t K, int64_t D, int64_t KO, const char *extra,
                    const char *suffix) {
    char err[512], set[64];
    vb_config cfg;
    vb_config_defaults(&cfg);
    if (vb_config_load_file(&cfg, config, err, sizeof err) != 0) return fprintf(stderr, "%s\n", err), -1;
    snprintf(set, sizeof set, "planner.particles=%lld", (long long)K);
    vb_config_set(&cfg, set, err, sizeof err);
    snprintf(set, sizeof set, "planner.depth=%lld", (long long)D);
    vb_config_set(&cfg, set, err, sizeof err);
    snprintf(set, sizeof set, "planner.nested=%lld", (long long)KO);
    vb_config_set(&cfg, set, err, sizeof err);
    if (extra && vb_config_set(&cfg, extra, err, sizeof err) != 0) return fprintf(stderr, "%s\n", err), -1;
    vb_env_spec spec;
    vb_model m;
    if (vb_env_spec_from_config(&cfg, &spec, err, sizeof err) != 0 || vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err) != 0)
        return fprintf(stderr, "%s\n", err), -1;
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    vb_model_init(&m, P, 1);
    vb_planner_cfg pc = vb_planner_cfg_from(&cfg, true);
    vb_planner *pl;
    const vb_backend *be = &counting;
    if (vb_planner_create(&pl, be, &m, &spec, &pc, B, err, sizeof err) != 0) return fprintf(stderr, "%s\n", err), -1;
    vb_planner_prepare(pl, P);
    const vb_model_dims *d = &m.d;
    float *obs = calloc((size_t)(B * d->obs), sizeof(float)), *carry = calloc((size_t)(B * d->carry), sizeof(float));
    float *phi = calloc((size_t)(B * 2 * d->latent), sizeof(float)), *q = calloc((size_t)(B * d->actions), sizeof(float));
    float *v = calloc((size_t)B, sizeof(float)), *last_r = calloc((size_t)B, sizeof(float));
    int32_t *last_a = calloc((size_t)B, sizeof(int32_t));
    int64_t *t = calloc((size_t)B, sizeof(int64_t)), *ep = calloc((size_t)B, sizeof(int64_t));
    for (int64_t b = 0; b < B; b++) last_a[b] = 1, t[b] = 3;
    vb_planner_root root = {obs, carry, phi, phi, obs, last_a, last_r, obs, t, ep, carry};
    vb_rng *rng = calloc((size_t)B, sizeof(vb_rng));
    for (int64_t b = 0; b < B; b++) vb_rng_init(&rng[b], 1, (uint64_t)b);
    atomic_store(&gemm_flops, 0);
    vb_planner_run(pl, P, &root, B, rng, q, v);
    const double flops = (double)atomic_load(&gemm_flops) / (double)(B * K * D); /* per particle-step */
    planner_call c = {pl, P, &root, B, rng, q, v};
    const double calls_per_s = best_rate(planner_run_call, &c, 2.0); /* the best of 2 s in slices */
    char tag[96];
    snprintf(tag, sizeof tag, "planner_%s_b%lld_k%lld_d%lld_ko%lld%s", spec.name, (long long)B, (long long)K, (long long)D,
             (long long)KO, suffix);
    const double rate = calls_per_s * (double)(B * K * D);
    printf("%s_particle_steps %.0f steps/s\n", tag, rate);
    printf("%s_env_steps %.0f steps/s\n", tag, calls_per_s * (double)B);
    printf("%s_gemm_flops %.0f FLOP/particle-step\n", tag, flops);
    int cores = pc.threads > 1 ? 2 : 1;
    if (peak[cores] > 0) printf("%s_of_peak %.3f fraction\n", tag, rate * flops / 1e9 / peak[cores]);
    vb_planner_destroy(pl);
    free(P); free(obs); free(carry); free(phi); free(q); free(v); free(last_r); free(last_a); free(t); free(ep); free(rng);
    vb_backend_cpu()->set_threads(1);
    return rate;
}

int main(int argc, char **argv) {
    vb_blas_core_select(argv);
    /* bench_planner k16 | k64: that budget alone on one thread (for a profiler) */
    const char *only = argc > 1 ? argv[1] : NULL;
    if (only && strcmp(only, "k16") != 0 && strcmp(only, "k64") != 0)
        return fprintf(stderr, "usage: bench_planner [k16|k64]\n"), 2;
    printf("openblas_core %s\n", vb_blas_core_name());
    vb_backend_cpu()->set_threads(1);
    counting = *vb_backend_cpu();
    counting.gemm = counting_gemm;
    counting.linear_act = counting_linear_act;
    counting.linear_act_packed = counting_linear_act_packed;
    peak[1] = fma_peak(1);
    peak[2] = fma_peak(2);
    printf("fma_peak_1core %.1f GFLOP/s\n", peak[1]);
    printf("fma_peak_2cores %.1f GFLOP/s\n", peak[2]);
    const char *g = "configs/gridworld.yaml";
    if (only) {
        const bool k16 = strcmp(only, "k16") == 0;
        return bench(g, 64, k16 ? 16 : 64, 4, k16 ? 4 : 16, NULL, "") > 0 ? 0 : 1;
    }
    double k16 = bench(g, 64, 16, 4, 4, NULL, ""), k16s = bench(g, 64, 16, 4, 4, "planner.outcomes=sampled", "_sampled_outcomes");
    double k16t = bench(g, 64, 16, 4, 4, "planner.threads=2", "_threads2");
    double k64 = bench(g, 64, 64, 4, 16, NULL, ""), k64t = bench(g, 64, 64, 4, 16, "planner.threads=2", "_threads2");
    if (k16 > 0 && k16t > 0) printf("planner_k16_threads2_over_threads1 %.2f x\n", k16t / k16);
    if (k64 > 0 && k64t > 0) printf("planner_k64_threads2_over_threads1 %.2f x\n", k64t / k64);
    return k16 > 0 && k16s > 0 && k16t > 0 && k64 > 0 && k64t > 0 ? 0 : 1;
}
