/* parity — the CUDA backend against the CPU reference, op by op, on random
 * inputs: every op of kernels/backend.h, the device-only ops of
 * kernels/cuda_device.h (Philox streams, systematic resampling, the S5 fold
 * against the associative scan), and whole layers of common/nn run through
 * each backend (an MLP and a GRU window, forward and backward).
 *
 * It links only kernels/ and common/nn (and the few common/base files they
 * use), so it builds where only the CUDA toolkit is installed:
 *   make gpu-parity            (build/gpu-parity/parity; runs it)
 * Where there is no CUDA device it says so and exits 0 (skipped).
 *
 * Tolerances: fp32 ops 1e-4 relative (|gpu - cpu| <= tol (|cpu| + rms(cpu)),
 * the rms term so that a sum near zero is not judged by its own size);
 * GEMM-based layers 2e-4 (cuBLAS sums in another order); Adam's update
 * itself (p - p0, three steps) 1e-3; integer results (samples, resampling
 * indices, Philox words) exactly. Outputs the contract overwrites start
 * random, so an op that accumulates into them instead fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/rng.h"
#include "common/nn/gru.h"
#include "common/nn/mlp.h"
#include "kernels/backend.h"
#include "kernels/cuda_device.h"
#include "kernels/math/resample.h"

static const vb_backend *cpu, *gpu;
static vb_rng rng;
static int failures, checks;

#define TOL 1e-4
#define TOL_GEMM 2e-4

/* --- buffers: a host copy for the CPU, a device copy for the GPU --------- */

typedef struct {
    float *h, *d;
    int64_t n;
} buf;

static buf mk(int64_t n, float lo, float hi) {
    buf b = {malloc((size_t)(n > 0 ? n : 1) * sizeof(float)), gpu->alloc(n), n};
    if (!b.h || (n > 0 && !b.d)) {
        fprintf(stderr, "parity: out of memory (%lld floats)\n", (long long)n);
        exit(2);
    }
    for (int64_t i = 0; i < n; i++) b.h[i] = lo + (hi - lo) * vb_rng_uniform(&rng);
    gpu->upload(b.d, b.h, n);
    return b;
}
static buf zeros(int64_t n) { return mk(n, 0.0f, 0.0f); }
static void drop(buf *b) {
    free(b->h);
    gpu->release(b->d);
}

static void *dev_bytes(const void *host, size_t bytes) {
    float *d = gpu->alloc((int64_t)((bytes + sizeof(float) - 1) / sizeof(float)));
    if (!d) {
        fprintf(stderr, "parity: out of device memory (%zu bytes)\n", bytes);
        exit(2);
    }
    /* bytes copied as floats: the device buffer is raw storage */
    float *tmp = calloc((bytes + sizeof(float) - 1) / sizeof(float), sizeof(float));
    memcpy(tmp, host, bytes);
    gpu->upload(d, tmp, (int64_t)((bytes + sizeof(float) - 1) / sizeof(float)));
    free(tmp);
    return d;
}
static void host_bytes(void *host, const void *dev, size_t bytes) {
    int64_t n = (int64_t)((bytes + sizeof(float) - 1) / sizeof(float));
    float *tmp = malloc((size_t)n * sizeof(float));
    gpu->download(tmp, dev, n);
    memcpy(host, tmp, bytes);
    free(tmp);
}

/* --- comparisons -------------------------------------------------------------- */

static void report(const char *name, double err, double tol) {
    checks++;
    int ok = err <= tol;
    if (!ok) failures++;
    printf("%-36s %s  max rel err %.2e (tol %.0e)\n", name, ok ? "ok  " : "FAIL", err, tol);
}

/* the GPU result (device) against the CPU result (host) */
static void cmp(const char *name, const float *cpu_h, const float *gpu_d, int64_t n, double tol) {
    float *g = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    gpu->download(g, gpu_d, n);
    double ss = 0, err = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)cpu_h[i] * cpu_h[i];
    double rms = n ? sqrt(ss / (double)n) : 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)g[i] - cpu_h[i]) / (fabs(cpu_h[i]) + rms + 1e-30);
        if (!(e <= err)) err = isnan(e) ? INFINITY : e;
    }
    free(g);
    report(name, err, tol);
}
static void cmp_buf(const char *name, const buf *b, double tol) { cmp(name, b->h, b->d, b->n, tol); }

static void cmp_int(const char *name, const int32_t *cpu_h, const int32_t *gpu_d, int64_t n) {
    int32_t *g = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    host_bytes(g, gpu_d, (size_t)n * sizeof(int32_t));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += g[i] != cpu_h[i];
    free(g);
    report(name, (double)bad, 0);
}

/* --- the backend table ------------------------------------------------------------ */

static void check_gemm(void) {
    const int64_t M = 67, N = 45, K = 129;
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        buf A = mk(M * K, -1, 1), B = mk(K * N, -1, 1), C = mk(M * N, -1, 1);
        int64_t lda = ta ? M : K, ldb = tb ? K : N;
        cpu->gemm(ta, tb, M, N, K, 0.7f, A.h, lda, B.h, ldb, 0.3f, C.h, N);
        gpu->gemm(ta, tb, M, N, K, 0.7f, A.d, lda, B.d, ldb, 0.3f, C.d, N);
        char name[64];
        snprintf(name, sizeof name, "gemm %c%c", ta ? 'T' : 'N', tb ? 'T' : 'N');
        cmp_buf(name, &C, TOL_GEMM);
        drop(&A), drop(&B), drop(&C);
    }
}

/* a linear layer's fused forward: the layer's pre-activation and output */
static void check_linear_act(void) {
    const int64_t M = 37, N = 45, K = 29;
    const vb_act acts[] = {VB_ACT_NONE, VB_ACT_TANH, VB_ACT_RELU};
    buf A = mk(M * K, -1, 1), W = mk(N * K, -1, 1), b = mk(N, -1, 1), pre = zeros(M * N), out = zeros(M * N);
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        cpu->linear_act(acts[i], pre.h, out.h, A.h, W.h, b.h, M, N, K);
        gpu->linear_act(acts[i], pre.d, out.d, A.d, W.d, b.d, M, N, K);
        char name[64];
        snprintf(name, sizeof name, "linear_act %d pre", (int)acts[i]);
        cmp_buf(name, &pre, TOL_GEMM);
        snprintf(name, sizeof name, "linear_act %d out", (int)acts[i]);
        cmp_buf(name, &out, TOL_GEMM);
    }
    cpu->linear_act(VB_ACT_TANH, NULL, out.h, A.h, W.h, NULL, M, N, K);
    gpu->linear_act(VB_ACT_TANH, NULL, out.d, A.d, W.d, NULL, M, N, K);
    cmp_buf("linear_act without bias or cache", &out, TOL_GEMM);
    drop(&A), drop(&W), drop(&b), drop(&pre), drop(&out);
}

/* the packed product from W (N,K) and (K,N), overwriting with bias and accumulating */
static void check_gemm_packed(void) {
    const int64_t M = 37, N = 45, K = 29;
    buf A = mk(M * K, -1, 1), W = mk(N * K, -1, 1), b = mk(N, -1, 1), C = mk(M * N, -1, 1);
    buf Wp = zeros(vb_packed_floats(N, K));
    for (int w_kn = 0; w_kn < 2; w_kn++)
        for (int add = 0; add < 2; add++) {
            const float *bh = add ? NULL : b.h, *bd = add ? NULL : b.d;
            cpu->pack_weights(Wp.h, W.h, bh, N, K, w_kn);
            gpu->pack_weights(Wp.d, W.d, bd, N, K, w_kn);
            cpu->gemm_packed(C.h, A.h, Wp.h, W.h, bh, M, N, K, w_kn, add);
            gpu->gemm_packed(C.d, A.d, Wp.d, W.d, bd, M, N, K, w_kn, add);
            char name[64];
            snprintf(name, sizeof name, "gemm_packed w_kn %d add %d", w_kn, add);
            cmp_buf(name, &C, TOL_GEMM);
        }
    drop(&A), drop(&W), drop(&b), drop(&C), drop(&Wp);
}

static void check_elementwise(void) {
    const int64_t R = 37, C = 53, n = R * C;
    buf b = mk(C, -1, 1), out = zeros(n), x = mk(n, -2, 2), y = mk(n, -2, 2), s = mk(C, -1, 1), db = mk(C, -1, 1);
    cpu->bias_fill(out.h, b.h, R, C);
    gpu->bias_fill(out.d, b.d, R, C);
    cmp_buf("bias_fill", &out, 0);
    cpu->bias_grad(db.h, x.h, R, C);
    gpu->bias_grad(db.d, x.d, R, C);
    cmp_buf("bias_grad", &db, TOL);
    cpu->axpy(y.h, 0.37f, x.h, n);
    gpu->axpy(y.d, 0.37f, x.d, n);
    cmp_buf("axpy", &y, TOL);
    cpu->scale(y.h, -1.3f, n);
    gpu->scale(y.d, -1.3f, n);
    cmp_buf("scale", &y, TOL);
    cpu->mul(out.h, x.h, y.h, n);
    gpu->mul(out.d, x.d, y.d, n);
    cmp_buf("mul", &out, TOL);
    cpu->col_scale_acc(out.h, x.h, s.h, R, C);
    gpu->col_scale_acc(out.d, x.d, s.d, R, C);
    cmp_buf("col_scale_acc", &out, TOL);
    cpu->col_dot_acc(db.h, x.h, y.h, R, C);
    gpu->col_dot_acc(db.d, x.d, y.d, R, C);
    cmp_buf("col_dot_acc", &db, TOL);
    cpu->copy(out.h, x.h, n);
    gpu->copy(out.d, x.d, n);
    cmp_buf("copy", &out, 0);
    cpu->fill(out.h, 2.5f, n);
    gpu->fill(out.d, 2.5f, n);
    cmp_buf("fill", &out, 0);
    buf big = mk(1000003, -1, 1);
    double cs = cpu->sum(big.h, big.n), gs = gpu->sum(big.d, big.n);
    report("sum (1M, double)", fabs(cs - gs) / (fabs(cs) + 1.0), 1e-9);
    cs = cpu->sumsq(big.h, big.n), gs = gpu->sumsq(big.d, big.n);
    report("sumsq (1M, double)", fabs(cs - gs) / (fabs(cs) + 1.0), 1e-9);
    drop(&big), drop(&b), drop(&out), drop(&x), drop(&y), drop(&s), drop(&db);
}

static void check_activations(void) {
    static const char *names[] = {"none", "relu", "tanh", "gelu", "elu", "sigmoid"};
    const int64_t n = 4099;
    for (int a = VB_ACT_NONE; a <= VB_ACT_SIGMOID; a++) {
        buf in = mk(n, -6, 6), out = zeros(n), d = mk(n, -1, 1), din = mk(n, -1, 1);
        cpu->act_forward((vb_act)a, out.h, in.h, n);
        gpu->act_forward((vb_act)a, out.d, in.d, n);
        char name[64];
        snprintf(name, sizeof name, "act_forward %s", names[a]);
        cmp_buf(name, &out, TOL);
        gpu->upload(out.d, out.h, n); /* the backward from the same out */
        cpu->act_backward((vb_act)a, din.h, d.h, in.h, out.h, n);
        gpu->act_backward((vb_act)a, din.d, d.d, in.d, out.d, n);
        snprintf(name, sizeof name, "act_backward %s", names[a]);
        cmp_buf(name, &din, TOL);
        drop(&in), drop(&out), drop(&d), drop(&din);
    }
}

static void check_rows(void) {
    const int64_t B = 301, A = 25;
    buf l = mk(B * A, -4, 4), out = zeros(B * A), q = mk(B * A, 0, 1), r = zeros(B), dout = mk(B, -1, 1),
        dl = mk(B * A, -1, 1), u = mk(B, 0.001f, 0.999f);
    cpu->softmax(out.h, l.h, B, A);
    gpu->softmax(out.d, l.d, B, A);
    cmp_buf("softmax", &out, TOL);
    cpu->log_softmax(out.h, l.h, B, A);
    gpu->log_softmax(out.d, l.d, B, A);
    cmp_buf("log_softmax", &out, TOL);
    cpu->cat_xent_forward(r.h, l.h, q.h, B, A);
    gpu->cat_xent_forward(r.d, l.d, q.d, B, A);
    cmp_buf("cat_xent_forward", &r, TOL);
    cpu->cat_xent_backward(dl.h, dout.h, l.h, q.h, B, A);
    gpu->cat_xent_backward(dl.d, dout.d, l.d, q.d, B, A);
    cmp_buf("cat_xent_backward", &dl, TOL);
    int32_t *act = malloc(sizeof(int32_t) * (size_t)B);
    for (int64_t b = 0; b < B; b++) act[b] = (int32_t)vb_rng_below(&rng, (uint32_t)A);
    int32_t *act_d = dev_bytes(act, sizeof(int32_t) * (size_t)B);
    cpu->cat_logprob_forward(r.h, l.h, act, B, A);
    gpu->cat_logprob_forward(r.d, l.d, act_d, B, A);
    cmp_buf("cat_logprob_forward", &r, TOL);
    cpu->cat_logprob_backward(dl.h, dout.h, l.h, act, B, A);
    gpu->cat_logprob_backward(dl.d, dout.d, l.d, act_d, B, A);
    cmp_buf("cat_logprob_backward", &dl, TOL);
    cpu->cat_entropy_forward(r.h, l.h, B, A);
    gpu->cat_entropy_forward(r.d, l.d, B, A);
    cmp_buf("cat_entropy_forward", &r, TOL);
    cpu->cat_entropy_backward(dl.h, dout.h, l.h, B, A);
    gpu->cat_entropy_backward(dl.d, dout.d, l.d, B, A);
    cmp_buf("cat_entropy_backward", &dl, TOL);
    cpu->cat_sample(act, l.h, u.h, B, A);
    gpu->cat_sample(act_d, l.d, u.d, B, A);
    cmp_int("cat_sample", act, act_d, B);
    gpu->release((float *)act_d);
    free(act);
    drop(&l), drop(&out), drop(&q), drop(&r), drop(&dout), drop(&dl), drop(&u);
}

static void check_gaussians(void) {
    const int64_t B = 203, D = 7, n = B * D;
    buf mu = mk(n, -1, 1), lv = mk(n, -2, 1), eps = mk(n, -2, 2), z = zeros(n), mu2 = mk(n, -1, 1),
        lv2 = mk(n, -2, 1), r = zeros(B), dout = mk(B, -1, 1), g1 = mk(n, -1, 1), g2 = mk(n, -1, 1),
        g3 = mk(n, -1, 1), g4 = mk(n, -1, 1);
    cpu->gauss_sample_forward(z.h, mu.h, lv.h, eps.h, n);
    gpu->gauss_sample_forward(z.d, mu.d, lv.d, eps.d, n);
    cmp_buf("gauss_sample_forward", &z, TOL);
    gpu->upload(z.d, z.h, n);
    cpu->gauss_sample_backward(g1.h, g2.h, eps.h, lv.h, eps.h, n);
    gpu->gauss_sample_backward(g1.d, g2.d, eps.d, lv.d, eps.d, n);
    cmp_buf("gauss_sample_backward dmu", &g1, TOL);
    cmp_buf("gauss_sample_backward dlv", &g2, TOL);
    cpu->gauss_logprob_forward(r.h, z.h, mu2.h, lv2.h, B, D);
    gpu->gauss_logprob_forward(r.d, z.d, mu2.d, lv2.d, B, D);
    cmp_buf("gauss_logprob_forward", &r, TOL);
    cpu->gauss_logprob_backward(g1.h, g2.h, g3.h, dout.h, z.h, mu2.h, lv2.h, B, D);
    gpu->gauss_logprob_backward(g1.d, g2.d, g3.d, dout.d, z.d, mu2.d, lv2.d, B, D);
    cmp_buf("gauss_logprob_backward dz", &g1, TOL);
    cmp_buf("gauss_logprob_backward dmu", &g2, TOL);
    cmp_buf("gauss_logprob_backward dlv", &g3, TOL);
    cpu->gauss_kl_forward(r.h, mu.h, lv.h, mu2.h, lv2.h, B, D);
    gpu->gauss_kl_forward(r.d, mu.d, lv.d, mu2.d, lv2.d, B, D);
    cmp_buf("gauss_kl_forward", &r, TOL);
    cpu->gauss_kl_forward(r.h, mu.h, lv.h, NULL, NULL, B, D);
    gpu->gauss_kl_forward(r.d, mu.d, lv.d, NULL, NULL, B, D);
    cmp_buf("gauss_kl_forward (prior N(0, I))", &r, TOL);
    cpu->gauss_kl_backward(g1.h, g2.h, g3.h, g4.h, dout.h, mu.h, lv.h, mu2.h, lv2.h, B, D);
    gpu->gauss_kl_backward(g1.d, g2.d, g3.d, g4.d, dout.d, mu.d, lv.d, mu2.d, lv2.d, B, D);
    cmp_buf("gauss_kl_backward dmu1", &g1, TOL);
    cmp_buf("gauss_kl_backward dlv1", &g2, TOL);
    cmp_buf("gauss_kl_backward dmu2", &g3, TOL);
    cmp_buf("gauss_kl_backward dlv2", &g4, TOL);
    cpu->gauss_kl_backward(g1.h, g2.h, NULL, NULL, dout.h, mu.h, lv.h, NULL, NULL, B, D);
    gpu->gauss_kl_backward(g1.d, g2.d, NULL, NULL, dout.d, mu.d, lv.d, NULL, NULL, B, D);
    cmp_buf("gauss_kl_backward dmu1 (prior N(0, I))", &g1, TOL);
    cmp_buf("gauss_kl_backward dlv1 (prior N(0, I))", &g2, TOL);
    buf y = mk(n, 0, 1);
    cpu->bernoulli_loglik_forward(g1.h, mu.h, y.h, n);
    gpu->bernoulli_loglik_forward(g1.d, mu.d, y.d, n);
    cmp_buf("bernoulli_loglik_forward", &g1, TOL);
    cpu->bernoulli_loglik_backward(g2.h, eps.h, mu.h, y.h, n);
    gpu->bernoulli_loglik_backward(g2.d, eps.d, mu.d, y.d, n);
    cmp_buf("bernoulli_loglik_backward", &g2, TOL);
    drop(&y);
    drop(&mu), drop(&lv), drop(&eps), drop(&z), drop(&mu2), drop(&lv2), drop(&r), drop(&dout), drop(&g1), drop(&g2),
        drop(&g3), drop(&g4);
}

static void check_gru_gates(void) {
    const int64_t B = 64, H = 96;
    buf xg = mk(B * 3 * H, -2, 2), hg = mk(B * 3 * H, -2, 2), h = mk(B * H, -1, 1), ho = zeros(B * H),
        ga = zeros(B * 3 * H), d = mk(B * H, -1, 1), dxg = mk(B * 3 * H, -9, 9), dhg = mk(B * 3 * H, -9, 9),
        dh = mk(B * H, -1, 1);
    cpu->gru_gates_forward(ho.h, ga.h, xg.h, hg.h, h.h, B, H);
    gpu->gru_gates_forward(ho.d, ga.d, xg.d, hg.d, h.d, B, H);
    cmp_buf("gru_gates_forward h", &ho, TOL);
    cmp_buf("gru_gates_forward gates", &ga, TOL);
    gpu->upload(ga.d, ga.h, ga.n);
    cpu->gru_gates_backward(dxg.h, dhg.h, dh.h, d.h, ga.h, hg.h, h.h, B, H);
    gpu->gru_gates_backward(dxg.d, dhg.d, dh.d, d.d, ga.d, hg.d, h.d, B, H);
    cmp_buf("gru_gates_backward dxg", &dxg, TOL);
    cmp_buf("gru_gates_backward dhg", &dhg, TOL);
    cmp_buf("gru_gates_backward dh", &dh, TOL);
    drop(&xg), drop(&hg), drop(&h), drop(&ho), drop(&ga), drop(&d), drop(&dxg), drop(&dhg), drop(&dh);
}

/* the scan (backend op, associative on the GPU) and the device fold against
 * the CPU fold; T > 1024 exercises the fold fallback beyond one block */
static void check_s5_scan(int64_t T) {
    const int64_t B = 8, P = 16, n = T * B * P;
    buf v = mk(2 * n, -1, 1), lam = mk(2 * P, -0.6f, 0.6f), x0 = mk(2 * B * P, -1, 1), xs = zeros(2 * n),
        xs2 = zeros(2 * n), gx = mk(2 * n, -1, 1), gv = mk(2 * n, -9, 9), glam = mk(2 * P, -1, 1),
        gx0 = mk(2 * B * P, -1, 1), glam2 = zeros(2 * P), gx02 = zeros(2 * B * P);
    uint8_t *reset = malloc((size_t)(T * B));
    for (int64_t i = 0; i < T * B; i++) reset[i] = vb_rng_uniform(&rng) < 0.05f;
    uint8_t *reset_d = dev_bytes(reset, (size_t)(T * B));
    gpu->upload(glam2.d, glam.h, glam.n);
    gpu->upload(gx02.d, gx0.h, gx0.n);
    char name[64];
    cpu->s5_scan_forward(xs.h, v.h, lam.h, x0.h, reset, T, B, P);
    gpu->s5_scan_forward(xs.d, v.d, lam.d, x0.d, reset_d, T, B, P);
    vb_cuda_s5_fold_forward(xs2.d, v.d, lam.d, x0.d, reset_d, T, B, P);
    snprintf(name, sizeof name, "s5_scan_forward T=%lld", (long long)T);
    cmp_buf(name, &xs, TOL);
    snprintf(name, sizeof name, "s5 fold (device) T=%lld", (long long)T);
    cmp(name, xs.h, xs2.d, xs.n, TOL);
    gpu->upload(xs.d, xs.h, xs.n);
    cpu->s5_scan_backward(gv.h, glam.h, gx0.h, gx.h, xs.h, lam.h, x0.h, reset, T, B, P);
    gpu->s5_scan_backward(gv.d, glam.d, gx0.d, gx.d, xs.d, lam.d, x0.d, reset_d, T, B, P);
    vb_cuda_s5_fold_backward(xs2.d, glam2.d, gx02.d, gx.d, xs.d, lam.d, x0.d, reset_d, T, B, P);
    snprintf(name, sizeof name, "s5_scan_backward gv T=%lld", (long long)T);
    cmp_buf(name, &gv, TOL);
    snprintf(name, sizeof name, "s5_scan_backward glam T=%lld", (long long)T);
    cmp_buf(name, &glam, TOL);
    snprintf(name, sizeof name, "s5_scan_backward gx0 T=%lld", (long long)T);
    cmp_buf(name, &gx0, TOL);
    snprintf(name, sizeof name, "s5 fold backward glam T=%lld", (long long)T);
    cmp(name, glam.h, glam2.d, glam.n, TOL);
    snprintf(name, sizeof name, "s5 fold backward gv T=%lld", (long long)T);
    cmp(name, gv.h, xs2.d, gv.n, TOL);
    snprintf(name, sizeof name, "s5 fold backward gx0 T=%lld", (long long)T);
    cmp(name, gx0.h, gx02.d, gx0.n, TOL);
    gpu->release((float *)reset_d);
    free(reset);
    drop(&v), drop(&lam), drop(&x0), drop(&xs), drop(&xs2), drop(&gx), drop(&gv), drop(&glam), drop(&gx0),
        drop(&glam2), drop(&gx02);
}

static void check_s5_discretize(void) {
    const int64_t P = 32, H = 24;
    buf lrl = mk(P, -2, 1), lim = mk(P, -3, 3), ls = mk(P, -4, -1), b = mk(2 * P * H, -1, 1), lb = zeros(2 * P),
        bb = zeros(2 * P * H), glb = mk(2 * P, -1, 1), gbb = mk(2 * P * H, -1, 1), g1 = mk(P, -1, 1),
        g2 = mk(P, -1, 1), g3 = mk(P, -1, 1), g4 = mk(2 * P * H, -1, 1);
    cpu->s5_discretize_forward(lb.h, bb.h, lrl.h, lim.h, ls.h, b.h, P, H);
    gpu->s5_discretize_forward(lb.d, bb.d, lrl.d, lim.d, ls.d, b.d, P, H);
    cmp_buf("s5_discretize_forward lam_bar", &lb, TOL);
    cmp_buf("s5_discretize_forward b_bar", &bb, TOL);
    cpu->s5_discretize_backward(g1.h, g2.h, g3.h, g4.h, glb.h, gbb.h, lrl.h, lim.h, ls.h, b.h, P, H);
    gpu->s5_discretize_backward(g1.d, g2.d, g3.d, g4.d, glb.d, gbb.d, lrl.d, lim.d, ls.d, b.d, P, H);
    cmp_buf("s5_discretize_backward lam_re_log", &g1, TOL);
    cmp_buf("s5_discretize_backward lam_im", &g2, TOL);
    cmp_buf("s5_discretize_backward log_step", &g3, TOL);
    cmp_buf("s5_discretize_backward b", &g4, TOL);
    drop(&lrl), drop(&lim), drop(&ls), drop(&b), drop(&lb), drop(&bb), drop(&glb), drop(&gbb), drop(&g1), drop(&g2),
        drop(&g3), drop(&g4);
}

static void check_adam(void) {
    const int64_t n = 10007;
    buf p = mk(n, -1, 1), g = mk(n, -1, 1), m = mk(n, -0.1f, 0.1f), v = mk(n, 0, 0.01f), p0 = zeros(n), dp = zeros(n);
    memcpy(p0.h, p.h, sizeof(float) * (size_t)n);
    for (int64_t t = 1; t <= 3; t++) {
        cpu->adam_update(p.h, g.h, m.h, v.h, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t);
        gpu->adam_update(p.d, g.d, m.d, v.d, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t);
    }
    /* the update itself (about 3e-3 against parameters of 1): p - p0 on each side */
    gpu->download(dp.h, p.d, n);
    for (int64_t i = 0; i < n; i++) dp.h[i] -= p0.h[i], p.h[i] -= p0.h[i];
    gpu->upload(dp.d, dp.h, n);
    cmp("adam_update step (3 steps, weight decay 0.1)", p.h, dp.d, n, 1e-3);
    cmp_buf("adam_update m", &m, TOL);
    cmp_buf("adam_update v", &v, TOL);
    drop(&p), drop(&g), drop(&m), drop(&v), drop(&p0), drop(&dp);
}

/* --- device-only ops ------------------------------------------------------------------ */

static void check_philox(void) {
    const int64_t n = 4096;
    const uint64_t seed = 0x1234abcdULL, stream = 77, pos = 5;
    vb_rng r;
    vb_rng_init(&r, seed, stream);
    vb_rng_seek(&r, pos);
    buf u = zeros(n), z = zeros(n);
    for (int64_t i = 0; i < n; i++) u.h[i] = vb_rng_uniform(&r);
    vb_cuda_philox_uniform(u.d, seed, stream, pos, n);
    cmp_buf("philox uniform (bit for bit)", &u, 0);
    vb_rng_seek(&r, pos);
    vb_rng_normal_fill(&r, z.h, n);
    vb_cuda_philox_normal(z.d, seed, stream, pos, n);
    cmp_buf("philox normal", &z, 1e-5);
    drop(&u), drop(&z);
}

static void check_resample(void) {
    const int64_t rows = 129, K = 48;
    double *logw = malloc(sizeof(double) * (size_t)(rows * K)), *u = malloc(sizeof(double) * (size_t)rows);
    double *w = malloc(sizeof(double) * (size_t)K);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(rows * K));
    for (int64_t i = 0; i < rows * K; i++) logw[i] = 6.0 * vb_rng_uniform_double(&rng) - 3.0;
    for (int64_t r = 0; r < rows; r++) u[r] = vb_rng_uniform_double(&rng);
    /* the planner's CPU resampling (common/planner/smc.c) */
    for (int64_t r = 0; r < rows; r++) vb_resample_systematic_logw(logw + r * K, K, u[r], w, idx + r * K);
    double *logw_d = dev_bytes(logw, sizeof(double) * (size_t)(rows * K)), *u_d = dev_bytes(u, sizeof(double) * (size_t)rows);
    int32_t *idx_d = dev_bytes(idx, sizeof(int32_t) * (size_t)(rows * K));
    gpu->fill((float *)idx_d, 0.0f, rows * K);
    vb_cuda_resample_systematic(idx_d, logw_d, u_d, rows, K);
    cmp_int("resample_systematic", idx, idx_d, rows * K);
    gpu->release((float *)logw_d), gpu->release((float *)u_d), gpu->release((float *)idx_d);
    free(logw), free(u), free(w), free(idx);
}

/* --- whole layers of common/nn through each backend ------------------------------------ */

typedef struct {
    vb_layout lay;
    buf P, G;
} params;

static void params_make(params *p, uint64_t seed, void (*init)(const void *, float *, vb_rng *), const void *layer) {
    int64_t n = p->lay.total;
    p->P = zeros(n);
    p->G = zeros(n);
    vb_rng r;
    vb_rng_init(&r, seed, 0);
    init(layer, p->P.h, &r);
    gpu->upload(p->P.d, p->P.h, n);
}

static void mlp_init(const void *m, float *P, vb_rng *r) { vb_mlp_init(m, P, r); }
static void gru_init(const void *g, float *P, vb_rng *r) { vb_gru_init(g, P, r); }

static void check_mlp(void) {
    const int64_t B = 96, in = 40, out = 9, hidden[2] = {64, 64};
    vb_mlp m;
    params p;
    vb_layout_init(&p.lay);
    if (vb_mlp_layout(&m, &p.lay, "mlp", in, hidden, 2, out, VB_ACT_ELU, VB_ACT_TANH) != 0) {
        fprintf(stderr, "parity: mlp layout failed\n");
        exit(2);
    }
    params_make(&p, 3, mlp_init, &m);
    buf x = mk(B * in, -1, 1), y = zeros(B * out), cache = zeros(vb_mlp_cache_floats(&m, B)),
        scratch = zeros(vb_mlp_scratch_floats(&m, B)), dy = mk(B * out, -1, 1), dx = zeros(B * in);
    vb_mlp_forward(cpu, &m, p.P.h, y.h, x.h, cache.h, B);
    vb_mlp_forward(gpu, &m, p.P.d, y.d, x.d, cache.d, B);
    cmp_buf("mlp forward (2x64 elu, tanh out)", &y, TOL_GEMM);
    buf yi = zeros(B * out), work = zeros(vb_mlp_infer_floats(gpu, &m, B));
    vb_mlp_infer(gpu, &m, p.P.d, NULL, yi.d, x.d, work.d, B);
    memcpy(yi.h, y.h, sizeof(float) * (size_t)(B * out)); /* against the CPU's forward */
    cmp_buf("mlp inference without a cache", &yi, TOL_GEMM);
    drop(&yi), drop(&work);
    gpu->upload(y.d, y.h, y.n);
    vb_mlp_backward(cpu, &m, p.P.h, p.G.h, dx.h, dy.h, x.h, y.h, cache.h, scratch.h, B);
    vb_mlp_backward(gpu, &m, p.P.d, p.G.d, dx.d, dy.d, x.d, y.d, cache.d, scratch.d, B);
    cmp_buf("mlp backward dparams", &p.G, TOL_GEMM);
    cmp_buf("mlp backward dx", &dx, TOL_GEMM);
    drop(&x), drop(&y), drop(&cache), drop(&scratch), drop(&dy), drop(&dx), drop(&p.P), drop(&p.G);
}

static void check_gru_window(void) {
    const int64_t T = 60, B = 32, in = 40, H = 64;
    vb_gru g;
    params p;
    vb_layout_init(&p.lay);
    if (vb_gru_layout(&g, &p.lay, "gru", in, H) != 0) {
        fprintf(stderr, "parity: gru layout failed\n");
        exit(2);
    }
    params_make(&p, 4, gru_init, &g);
    uint8_t *reset = malloc((size_t)(T * B)); /* the unroll reads the mask on the host */
    for (int64_t i = 0; i < T * B; i++) reset[i] = i < B || vb_rng_uniform(&rng) < 0.05f;
    buf x = mk(T * B * in, -1, 1), h0 = mk(B * H, -1, 1), hs = zeros(T * B * H),
        cache = zeros(vb_gru_seq_cache_floats(&g, T, B)), scratch = zeros(vb_gru_seq_scratch_floats(&g, T, B)),
        dhs = mk(T * B * H, -1, 1), dx = zeros(T * B * in), dh0 = zeros(B * H);
    vb_gru_seq_forward(cpu, &g, p.P.h, hs.h, x.h, h0.h, reset, cache.h, T, B, 1);
    vb_gru_seq_forward(gpu, &g, p.P.d, hs.d, x.d, h0.d, reset, cache.d, T, B, 1);
    cmp_buf("gru window forward (T60 B32 H64)", &hs, TOL_GEMM);
    vb_gru_seq_backward(cpu, &g, p.P.h, p.G.h, dx.h, dh0.h, dhs.h, x.h, reset, cache.h, scratch.h, T, B, 1);
    vb_gru_seq_backward(gpu, &g, p.P.d, p.G.d, dx.d, dh0.d, dhs.d, x.d, reset, cache.d, scratch.d, T, B, 1);
    cmp_buf("gru window backward dparams", &p.G, TOL_GEMM);
    cmp_buf("gru window backward dx", &dx, TOL_GEMM);
    cmp_buf("gru window backward dh0", &dh0, TOL_GEMM);
    free(reset);
    drop(&x), drop(&h0), drop(&hs), drop(&cache), drop(&scratch), drop(&dhs), drop(&dx), drop(&dh0), drop(&p.P),
        drop(&p.G);
}

int main(int argc, char **argv) {
    int device = argc > 1 ? atoi(argv[1]) : 0;
    char why[256] = "";
    cpu = vb_backend_cpu();
    gpu = vb_backend_cuda(device, why, sizeof why);
    if (!gpu) {
        printf("parity: skipped: %s\n", why);
        return 0;
    }
    vb_rng_init(&rng, 20261205, 1);
    check_gemm();
    check_linear_act();
    check_gemm_packed();
    check_elementwise();
    check_activations();
    check_rows();
    check_gaussians();
    check_gru_gates();
    /* one step; two warps; the largest blocks (513..1024 steps: 1024 threads); the fold beyond */
    const int64_t scan_T[] = {1, 60, 513, 1024, 1100};
    for (size_t i = 0; i < sizeof scan_T / sizeof *scan_T; i++) check_s5_scan(scan_T[i]);
    check_s5_discretize();
    check_adam();
    check_philox();
    check_resample();
    check_mlp();
    check_gru_window();
    printf("parity: %d checks, %d failed (cuda:%d against the CPU reference)\n", checks, failures, device);
    return failures ? 1 : 0;
}
