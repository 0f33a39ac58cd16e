/* gradcheck — every layer and loss of the numerics core against central finite
 * differences. One line per item:
 *   gradcheck <name> max_rel_err=<value> tol=<value> ok|FAIL
 * and exit status 1 if any item fails.
 *
 * Method: the scalar checked is L = sum_i w_i out_i with fixed random weights
 * w (accumulated in double); analytic gradients come from the backward pass
 * with dout = w. Every input tensor and every parameter tensor of a layer's
 * layout (each weight and bias on its own, so a 3-element bias is probed in
 * full) is perturbed (up to 48 sampled elements each) by +-h and +-h/2,
 * h = 1e-2 * max(1, |x|), and the two
 * central differences are combined by Richardson extrapolation. The layers are
 * float32 (the precision they run at), so the error measure is
 *   |a - n| / max(|a|, |n|, 1e-2 * max_j |a_j|)
 * per element, the floor keeping elements with near-zero gradient from
 * dividing rounding noise by zero. The tolerance 1e-2 is what float32 central
 * differences resolve; a wrong term in a backward pass shows as O(1). The
 * Adam item compares the optimiser against a double-precision reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/rng.h"
#include "common/nn/arena.h"
#include "common/nn/gru.h"
#include "common/nn/linear.h"
#include "common/nn/mlp.h"
#include "common/nn/optim.h"
#include "common/nn/s5.h"
#include "kernels/backend.h"

enum { MAX_TENSORS = 32, SAMPLES = 48 };

typedef struct gc_tensor {
    const char *name;
    float *x, *g;
    int64_t n;
} gc_tensor;

typedef struct gc_item gc_item;
struct gc_item {
    const char *name;
    double (*loss)(gc_item *);
    void (*grad)(gc_item *); /* zero all g, then backward */
    gc_tensor t[MAX_TENSORS];
    int nt;
    double tol;
    void *ctx;
};

static const vb_backend *be;
static vb_rng rng;

/* Every allocation of the tool, freed together at the end of main. */
enum { POOL_MAX = 1024 };
static void *pool[POOL_MAX];
static int pool_n;

static void *pooled(void *p) {
    if (!p || pool_n >= POOL_MAX) {
        fprintf(stderr, "gradcheck: out of memory\n");
        exit(2);
    }
    return pool[pool_n++] = p;
}
static void pool_free(void) {
    while (pool_n) free(pool[--pool_n]);
}
static void *zalloc(size_t n, size_t size) { return pooled(calloc(n ? n : 1, size)); }
static float *fbuf(int64_t n) { return zalloc((size_t)(n > 0 ? n : 1), sizeof(float)); }
static float *frand(int64_t n, float scale) {
    float *p = fbuf(n);
    for (int64_t i = 0; i < n; i++) p[i] = scale * vb_rng_normal(&rng);
    return p;
}
static double wdot(const float *w, const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)w[i] * x[i];
    return s;
}
static void add_tensor(gc_item *it, const char *name, float *x, float *g, int64_t n) {
    if (it->nt == MAX_TENSORS) {
        fprintf(stderr, "gradcheck %s: more than %d tensors\n", it->name, MAX_TENSORS);
        exit(2);
    }
    it->t[it->nt++] = (gc_tensor){name, x, g, n};
}
/* Every tensor of a parameter layout, each on its own. */
static void add_params(gc_item *it, const vb_layout *lay, float *P, float *G) {
    for (int k = 0; k < lay->n; k++)
        add_tensor(it, lay->t[k].name, P + lay->t[k].offset, G + lay->t[k].offset, lay->t[k].count);
}

/* Central difference with step h, then Richardson extrapolation over h and
 * h/2, which cancels the O(h^2) truncation term: (4 D(h/2) - D(h)) / 3. */
static double central(gc_item *it, gc_tensor *t, int64_t i, float h) {
    float x0 = t->x[i];
    t->x[i] = x0 + h;
    double lp = it->loss(it);
    t->x[i] = x0 - h;
    double lm = it->loss(it);
    t->x[i] = x0;
    return (lp - lm) / ((double)(x0 + h) - (double)(x0 - h));
}
static double richardson(gc_item *it, gc_tensor *t, int64_t i, float h) {
    return (4.0 * central(it, t, i, 0.5f * h) - central(it, t, i, h)) / 3.0;
}

static int run_item(gc_item *it) {
    it->grad(it);
    double worst = 0, gmax = 0; /* the floor: the item's largest gradient (float32 noise is on the loss's scale) */
    for (int k = 0; k < it->nt; k++)
        for (int64_t i = 0; i < it->t[k].n; i++) gmax = fmax(gmax, fabs(it->t[k].g[i]));
    for (int k = 0; k < it->nt; k++) {
        gc_tensor *t = &it->t[k];
        int64_t count = t->n < SAMPLES ? t->n : SAMPLES;
        for (int64_t s = 0; s < count; s++) {
            int64_t i = t->n <= SAMPLES ? s : (int64_t)vb_rng_below(&rng, (uint32_t)t->n);
            float x0 = t->x[i];
            double num = richardson(it, t, i, 1e-2f * fmaxf(1.0f, fabsf(x0)));
            double ana = t->g[i];
            double den = fmax(fmax(fabs(ana), fabs(num)), 1e-2 * gmax);
            double rel = den > 0 ? fabs(ana - num) / den : 0;
            if (rel > worst) worst = rel;
            if (rel > it->tol && getenv("GRADCHECK_VERBOSE"))
                fprintf(stderr, "  %s/%s[%lld]: analytic %.6g numeric %.6g\n", it->name, t->name, (long long)i,
                        ana, num);
        }
    }
    int ok = worst <= it->tol;
    printf("gradcheck %s max_rel_err=%.3e tol=%.0e %s\n", it->name, worst, it->tol, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

/* ---- parameterised layers: one context shape for all of them ---------- */
typedef struct layer_ctx {
    vb_layout lay;
    float *P, *G;
    int64_t B, T;
    float *in, *din, *in2, *din2, *out, *w, *cache, *scratch, *tmp;
    uint8_t *reset;
    vb_linear lin;
    vb_mlp mlp;
    vb_gru gru;
    vb_s5 s5;
} layer_ctx;

static layer_ctx *new_ctx(void) {
    layer_ctx *c = zalloc(1, sizeof *c);
    vb_layout_init(&c->lay);
    return c;
}

static void params_ready(layer_ctx *c) {
    c->G = fbuf(c->lay.total);
}

/* linear */
static double linear_loss(gc_item *it) {
    layer_ctx *c = it->ctx;
    vb_linear_forward(be, &c->lin, c->P, c->out, c->in, c->B);
    return wdot(c->w, c->out, c->B * c->lin.out);
}
static void linear_grad(gc_item *it) {
    layer_ctx *c = it->ctx;
    memset(c->G, 0, sizeof(float) * (size_t)c->lay.total);
    memset(c->din, 0, sizeof(float) * (size_t)(c->B * c->lin.in));
    vb_linear_forward(be, &c->lin, c->P, c->out, c->in, c->B);
    vb_linear_backward(be, &c->lin, c->P, c->G, c->din, c->w, c->in, c->B);
}
static int check_linear(void) {
    layer_ctx *c = new_ctx();
    c->B = 4;
    vb_linear_layout(&c->lin, &c->lay, "lin", 7, 5, 1);
    c->P = fbuf(c->lay.total);
    vb_linear_init(&c->lin, c->P, &rng);
    params_ready(c);
    c->in = frand(c->B * 7, 1);
    c->din = fbuf(c->B * 7);
    c->out = fbuf(c->B * 5);
    c->w = frand(c->B * 5, 1);
    gc_item it = {.name = "linear", .loss = linear_loss, .grad = linear_grad, .tol = 1e-2, .ctx = c};
    add_tensor(&it, "w", c->P + c->lin.w, c->G + c->lin.w, 35);
    add_tensor(&it, "b", c->P + c->lin.b, c->G + c->lin.b, 5);
    add_tensor(&it, "inp", c->in, c->din, c->B * 7);
    return run_item(&it);
}

/* mlp */
static double mlp_loss(gc_item *it) {
    layer_ctx *c = it->ctx;
    vb_mlp_forward(be, &c->mlp, c->P, c->out, c->in, c->cache, c->B);
    return wdot(c->w, c->out, c->B * c->mlp.out);
}
static void mlp_grad(gc_item *it) {
    layer_ctx *c = it->ctx;
    memset(c->G, 0, sizeof(float) * (size_t)c->lay.total);
    memset(c->din, 0, sizeof(float) * (size_t)(c->B * c->mlp.in));
    vb_mlp_forward(be, &c->mlp, c->P, c->out, c->in, c->cache, c->B);
    vb_mlp_backward(be, &c->mlp, c->P, c->G, c->din, c->w, c->in, c->out, c->cache, c->scratch, c->B);
}
static int check_mlp(const char *name, vb_act act, vb_act out_act) {
    layer_ctx *c = new_ctx();
    c->B = 5;
    int64_t hidden[2] = {9, 6};
    vb_mlp_layout(&c->mlp, &c->lay, "mlp", 4, hidden, 2, 3, act, out_act);
    c->P = fbuf(c->lay.total);
    vb_mlp_init(&c->mlp, c->P, &rng);
    params_ready(c);
    c->in = frand(c->B * 4, 1);
    c->din = fbuf(c->B * 4);
    c->out = fbuf(c->B * 3);
    c->w = frand(c->B * 3, 1);
    c->cache = fbuf(vb_mlp_cache_floats(&c->mlp, c->B));
    c->scratch = fbuf(vb_mlp_scratch_floats(&c->mlp, c->B));
    gc_item it = {.name = name, .loss = mlp_loss, .grad = mlp_grad, .tol = 1e-2, .ctx = c};
    add_params(&it, &c->lay, c->P, c->G);
    add_tensor(&it, "inp", c->in, c->din, c->B * 4);
    return run_item(&it);
}

/* gru single step */
static double gru_step_loss(gc_item *it) {
    layer_ctx *c = it->ctx;
    vb_gru_step_forward(be, &c->gru, c->P, c->out, c->in, c->in2, c->cache, c->B);
    return wdot(c->w, c->out, c->B * c->gru.hidden);
}
static void gru_step_grad(gc_item *it) {
    layer_ctx *c = it->ctx;
    memset(c->G, 0, sizeof(float) * (size_t)c->lay.total);
    memset(c->din, 0, sizeof(float) * (size_t)(c->B * c->gru.in));
    memset(c->din2, 0, sizeof(float) * (size_t)(c->B * c->gru.hidden));
    vb_gru_step_forward(be, &c->gru, c->P, c->out, c->in, c->in2, c->cache, c->B);
    vb_gru_step_backward(be, &c->gru, c->P, c->G, c->din, c->din2, c->w, c->in, c->in2, c->cache, c->scratch, c->B);
}
static int check_gru(void) {
    layer_ctx *c = new_ctx();
    c->B = 3;
    const int64_t C = 5, H = 6;
    vb_gru_layout(&c->gru, &c->lay, "gru", C, H);
    c->P = fbuf(c->lay.total);
    vb_gru_init(&c->gru, c->P, &rng);
    params_ready(c);
    c->in = frand(c->B * C, 1);
    c->din = fbuf(c->B * C);
    c->in2 = frand(c->B * H, 0.5f);
    c->din2 = fbuf(c->B * H);
    c->out = fbuf(c->B * H);
    c->w = frand(c->B * H, 1);
    c->cache = fbuf(vb_gru_step_cache_floats(&c->gru, c->B));
    c->scratch = fbuf(vb_gru_step_scratch_floats(&c->gru, c->B));
    gc_item it = {.name = "gru", .loss = gru_step_loss, .grad = gru_step_grad, .tol = 1e-2, .ctx = c};
    add_params(&it, &c->lay, c->P, c->G);
    add_tensor(&it, "x", c->in, c->din, c->B * C);
    add_tensor(&it, "h", c->in2, c->din2, c->B * H);
    return run_item(&it);
}

/* gru sequence with resets */
static double gru_seq_loss(gc_item *it) {
    layer_ctx *c = it->ctx;
    vb_gru_seq_forward(be, &c->gru, c->P, c->out, c->in, c->in2, c->reset, c->cache, c->T, c->B, 1);
    return wdot(c->w, c->out, c->T * c->B * c->gru.hidden);
}
static void gru_seq_grad(gc_item *it) {
    layer_ctx *c = it->ctx;
    memset(c->G, 0, sizeof(float) * (size_t)c->lay.total);
    memset(c->din, 0, sizeof(float) * (size_t)(c->T * c->B * c->gru.in));
    memset(c->din2, 0, sizeof(float) * (size_t)(c->B * c->gru.hidden));
    vb_gru_seq_forward(be, &c->gru, c->P, c->out, c->in, c->in2, c->reset, c->cache, c->T, c->B, 1);
    vb_gru_seq_backward(be, &c->gru, c->P, c->G, c->din, c->din2, c->w, c->in, c->reset, c->cache, c->scratch,
                        c->T, c->B, 1);
}
static int check_gru_sequence(void) {
    layer_ctx *c = new_ctx();
    c->B = 3;
    c->T = 6;
    const int64_t C = 4, H = 5;
    vb_gru_layout(&c->gru, &c->lay, "gru", C, H);
    c->P = fbuf(c->lay.total);
    vb_gru_init(&c->gru, c->P, &rng);
    params_ready(c);
    c->in = frand(c->T * c->B * C, 1);
    c->din = fbuf(c->T * c->B * C);
    c->in2 = frand(c->B * H, 0.5f);
    c->din2 = fbuf(c->B * H);
    c->out = fbuf(c->T * c->B * H);
    c->w = frand(c->T * c->B * H, 1);
    c->reset = zalloc((size_t)(c->T * c->B), 1);
    c->reset[2 * c->B + 1] = 1; /* row 1 starts a new task at step 2 */
    c->reset[4 * c->B + 0] = 1;
    c->cache = fbuf(vb_gru_seq_cache_floats(&c->gru, c->T, c->B));
    c->scratch = fbuf(vb_gru_seq_scratch_floats(&c->gru, c->T, c->B));
    gc_item it = {.name = "gru_sequence", .loss = gru_seq_loss, .grad = gru_seq_grad, .tol = 1e-2, .ctx = c};
    add_params(&it, &c->lay, c->P, c->G);
    add_tensor(&it, "x", c->in, c->din, c->T * c->B * C);
    add_tensor(&it, "h0", c->in2, c->din2, c->B * H);
    return run_item(&it);
}

/* s5 scan (T steps) — the single-step item is the same math at T = 1 */
static double s5_loss(gc_item *it) {
    layer_ctx *c = it->ctx;
    vb_s5_scan_forward(be, &c->s5, c->P, c->out, c->in, c->in2, c->reset, c->cache, c->T, c->B, 1);
    return wdot(c->w, c->out, c->T * c->B * c->s5.H);
}
static void s5_grad(gc_item *it) {
    layer_ctx *c = it->ctx;
    memset(c->G, 0, sizeof(float) * (size_t)c->lay.total);
    memset(c->din, 0, sizeof(float) * (size_t)(c->T * c->B * c->s5.H));
    memset(c->din2, 0, sizeof(float) * (size_t)(2 * c->B * c->s5.P));
    vb_s5_scan_forward(be, &c->s5, c->P, c->out, c->in, c->in2, c->reset, c->cache, c->T, c->B, 1);
    vb_s5_scan_backward(be, &c->s5, c->P, c->G, c->din, c->din2, c->w, c->in, c->in2, c->reset, c->cache,
                        c->scratch, c->T, c->B, 1);
}
static int check_s5(const char *name, int64_t T) {
    layer_ctx *c = new_ctx();
    c->B = 2;
    c->T = T;
    const int64_t H = 4, Pm = 3;
    vb_s5_layout(&c->s5, &c->lay, "s5", H, Pm);
    c->P = fbuf(c->lay.total);
    if (vb_s5_init(&c->s5, c->P, &rng) != 0) return 1;
    /* larger steps than the init's so that the discretisation is exercised */
    for (int64_t p = 0; p < Pm; p++) c->P[c->s5.log_step + p] = logf(0.3f + 0.2f * (float)p);
    params_ready(c);
    c->in = frand(T * c->B * H, 1);
    c->din = fbuf(T * c->B * H);
    c->in2 = frand(2 * c->B * Pm, 0.5f);
    c->din2 = fbuf(2 * c->B * Pm);
    c->out = fbuf(T * c->B * H);
    c->w = frand(T * c->B * H, 1);
    c->reset = zalloc((size_t)(T * c->B), 1);
    if (T > 3) c->reset[3 * c->B + 1] = 1;
    c->cache = fbuf(vb_s5_scan_cache_floats(&c->s5, T, c->B));
    c->scratch = fbuf(vb_s5_scan_scratch_floats(&c->s5, T, c->B, 1));
    gc_item it = {.name = name, .loss = s5_loss, .grad = s5_grad, .tol = 1e-2, .ctx = c};
    add_tensor(&it, "lam_re_log", c->P + c->s5.lam_re_log, c->G + c->s5.lam_re_log, Pm);
    add_tensor(&it, "lam_im", c->P + c->s5.lam_im, c->G + c->s5.lam_im, Pm);
    add_tensor(&it, "log_step", c->P + c->s5.log_step, c->G + c->s5.log_step, Pm);
    add_tensor(&it, "b", c->P + c->s5.b, c->G + c->s5.b, 2 * Pm * H);
    add_tensor(&it, "c", c->P + c->s5.c, c->G + c->s5.c, 2 * H * Pm);
    add_tensor(&it, "d", c->P + c->s5.d, c->G + c->s5.d, H);
    add_tensor(&it, "u", c->in, c->din, T * c->B * H);
    add_tensor(&it, "x0", c->in2, c->din2, 2 * c->B * Pm);
    return run_item(&it);
}

/* ---- distributions and activations: inputs a, b, c (+ their grads) ----- */
typedef struct dist_ctx {
    int64_t B, D;
    float *a, *b, *c, *d, *ga, *gb, *gc, *gd, *out, *w, *eps;
    int32_t *act;
    int kind;
    vb_act fn;
} dist_ctx;

enum { D_SAMPLE, D_LOGPROB, D_KL, D_KL_STD, D_XENT, D_LOGP, D_ENT, D_BERN, D_ACT };

static void dist_forward(dist_ctx *c) {
    int64_t n = c->B * c->D;
    switch (c->kind) {
    case D_SAMPLE: be->gauss_sample_forward(c->out, c->a, c->b, c->eps, n); break;
    case D_LOGPROB: be->gauss_logprob_forward(c->out, c->c, c->a, c->b, c->B, c->D); break;
    case D_KL: be->gauss_kl_forward(c->out, c->a, c->b, c->c, c->d, c->B, c->D); break;
    case D_KL_STD: be->gauss_kl_forward(c->out, c->a, c->b, NULL, NULL, c->B, c->D); break;
    case D_XENT: be->cat_xent_forward(c->out, c->a, c->c, c->B, c->D); break;
    case D_LOGP: be->cat_logprob_forward(c->out, c->a, c->act, c->B, c->D); break;
    case D_ENT: be->cat_entropy_forward(c->out, c->a, c->B, c->D); break;
    case D_BERN: be->bernoulli_loglik_forward(c->out, c->a, c->c, n); break;
    case D_ACT: be->act_forward(c->fn, c->out, c->a, n); break;
    }
}
static int64_t dist_out_n(const dist_ctx *c) {
    return (c->kind == D_SAMPLE || c->kind == D_BERN || c->kind == D_ACT) ? c->B * c->D : c->B;
}
static double dist_loss(gc_item *it) {
    dist_ctx *c = it->ctx;
    dist_forward(c);
    return wdot(c->w, c->out, dist_out_n(c));
}
static void dist_grad(gc_item *it) {
    dist_ctx *c = it->ctx;
    int64_t n = c->B * c->D;
    memset(c->ga, 0, sizeof(float) * (size_t)n);
    memset(c->gb, 0, sizeof(float) * (size_t)n);
    memset(c->gc, 0, sizeof(float) * (size_t)n);
    memset(c->gd, 0, sizeof(float) * (size_t)n);
    dist_forward(c);
    switch (c->kind) {
    case D_SAMPLE: be->gauss_sample_backward(c->ga, c->gb, c->w, c->b, c->eps, n); break;
    case D_LOGPROB: be->gauss_logprob_backward(c->gc, c->ga, c->gb, c->w, c->c, c->a, c->b, c->B, c->D); break;
    case D_KL: be->gauss_kl_backward(c->ga, c->gb, c->gc, c->gd, c->w, c->a, c->b, c->c, c->d, c->B, c->D); break;
    case D_KL_STD: be->gauss_kl_backward(c->ga, c->gb, NULL, NULL, c->w, c->a, c->b, NULL, NULL, c->B, c->D); break;
    case D_XENT: be->cat_xent_backward(c->ga, c->w, c->a, c->c, c->B, c->D); break;
    case D_LOGP: be->cat_logprob_backward(c->ga, c->w, c->a, c->act, c->B, c->D); break;
    case D_ENT: be->cat_entropy_backward(c->ga, c->w, c->a, c->B, c->D); break;
    case D_BERN: be->bernoulli_loglik_backward(c->ga, c->w, c->a, c->c, n); break;
    case D_ACT: be->act_backward(c->fn, c->ga, c->w, c->a, c->out, n); break;
    }
}
static int check_dist(const char *name, int kind, vb_act fn) {
    dist_ctx *c = zalloc(1, sizeof *c);
    c->B = 4;
    c->D = 5;
    c->kind = kind;
    c->fn = fn;
    int64_t n = c->B * c->D;
    c->a = frand(n, 1);
    c->b = frand(n, 0.5f);
    c->c = frand(n, 1);
    c->d = frand(n, 0.5f);
    c->ga = fbuf(n);
    c->gb = fbuf(n);
    c->gc = fbuf(n);
    c->gd = fbuf(n);
    c->out = fbuf(n);
    c->w = frand(n, 1);
    c->eps = frand(n, 1);
    c->act = zalloc((size_t)c->B, sizeof(int32_t));
    for (int64_t i = 0; i < c->B; i++) c->act[i] = (int32_t)vb_rng_below(&rng, (uint32_t)c->D);
    if (kind == D_XENT || kind == D_BERN) /* targets: a distribution per row / values in [0, 1] */
        for (int64_t i = 0; i < n; i++) c->c[i] = vb_rng_uniform(&rng);
    if (kind == D_XENT)
        for (int64_t r = 0; r < c->B; r++) {
            double s = 0;
            for (int64_t j = 0; j < c->D; j++) s += c->c[r * c->D + j];
            for (int64_t j = 0; j < c->D; j++) c->c[r * c->D + j] /= (float)s;
        }
    if (kind == D_ACT) /* keep inputs away from kinks, where central differences are wrong */
        for (int64_t i = 0; i < n; i++)
            if (fabsf(c->a[i]) < 0.05f) c->a[i] += c->a[i] < 0 ? -0.1f : 0.1f;
    gc_item it = {.name = name, .loss = dist_loss, .grad = dist_grad, .tol = 1e-2, .ctx = c};
    switch (kind) {
    case D_SAMPLE: add_tensor(&it, "mu", c->a, c->ga, n); add_tensor(&it, "logvar", c->b, c->gb, n); break;
    case D_LOGPROB:
        add_tensor(&it, "mu", c->a, c->ga, n);
        add_tensor(&it, "logvar", c->b, c->gb, n);
        add_tensor(&it, "z", c->c, c->gc, n);
        break;
    case D_KL:
        add_tensor(&it, "mu1", c->a, c->ga, n);
        add_tensor(&it, "logvar1", c->b, c->gb, n);
        add_tensor(&it, "mu2", c->c, c->gc, n);
        add_tensor(&it, "logvar2", c->d, c->gd, n);
        break;
    case D_KL_STD: add_tensor(&it, "mu", c->a, c->ga, n); add_tensor(&it, "logvar", c->b, c->gb, n); break;
    default: add_tensor(&it, "x", c->a, c->ga, n); break;
    }
    return run_item(&it);
}

/* ---- Adam(W) against a double-precision reference ------------------------ */
static int check_adam(void) {
    const int64_t n = 37;
    const int steps = 25;
    float *p = frand(n, 1), *g = fbuf(n);
    double *rp = zalloc((size_t)n, sizeof(double)), *rm = zalloc((size_t)n, sizeof(double)),
           *rv = zalloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) rp[i] = p[i];
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.lr = 1e-2f;
    cfg.weight_decay = 0.01f;
    cfg.clip_norm = 2.0f;
    cfg.schedule = VB_SCHED_LINEAR;
    cfg.total_steps = 40;
    vb_optim o;
    if (vb_optim_init(&o, be, &cfg, n) != 0) return 1;
    double worst = 0;
    for (int t = 1; t <= steps; t++) {
        double *rg = malloc(sizeof(double) * n), norm = 0;
        for (int64_t i = 0; i < n; i++) {
            g[i] = vb_rng_normal(&rng) * (t % 3 == 0 ? 3.0f : 0.3f);
            rg[i] = g[i];
            norm += rg[i] * rg[i];
        }
        norm = sqrt(norm);
        if (norm > cfg.clip_norm)
            for (int64_t i = 0; i < n; i++) rg[i] *= cfg.clip_norm / (norm + 1e-6);
        double lr = cfg.lr * (1.0 - (double)(t - 1) / cfg.total_steps);
        for (int64_t i = 0; i < n; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * rg[i];
            rv[i] = 0.999 * rv[i] + 0.001 * rg[i] * rg[i];
            double mh = rm[i] / (1 - pow(0.9, t)), vh = rv[i] / (1 - pow(0.999, t));
            rp[i] -= lr * (mh / (sqrt(vh) + 1e-8) + cfg.weight_decay * rp[i]);
        }
        free(rg);
        vb_optim_step(&o, be, p, g);
        for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(p[i] - rp[i]) / fmax(fabs(rp[i]), 1e-3));
    }
    int ok = worst <= 1e-4 && vb_optim_steps(&o, be) == steps;
    printf("gradcheck adam max_rel_err=%.3e tol=1e-04 %s\n", worst, ok ? "ok" : "FAIL");
    vb_optim_free(&o, be);
    return ok ? 0 : 1;
}

int main(void) {
    be = vb_backend_cpu();
    be->set_threads(1);
    vb_rng_init(&rng, 20261126, 0);
    int fails = 0;
    fails += check_linear();
    fails += check_mlp("mlp", VB_ACT_TANH, VB_ACT_NONE);
    fails += check_mlp("mlp_gelu_sigmoid", VB_ACT_GELU, VB_ACT_SIGMOID);
    fails += check_mlp("mlp_elu", VB_ACT_ELU, VB_ACT_NONE);
    fails += check_gru();
    fails += check_gru_sequence();
    fails += check_s5("s5_step", 1);
    fails += check_s5("s5_scan", 7);
    fails += check_dist("act_relu", D_ACT, VB_ACT_RELU);
    fails += check_dist("act_tanh", D_ACT, VB_ACT_TANH);
    fails += check_dist("act_gelu", D_ACT, VB_ACT_GELU);
    fails += check_dist("act_elu", D_ACT, VB_ACT_ELU);
    fails += check_dist("act_sigmoid", D_ACT, VB_ACT_SIGMOID);
    fails += check_dist("gaussian_sample", D_SAMPLE, VB_ACT_NONE);
    fails += check_dist("gaussian_logprob", D_LOGPROB, VB_ACT_NONE);
    fails += check_dist("gaussian_kl", D_KL, VB_ACT_NONE);
    fails += check_dist("gaussian_kl_std", D_KL_STD, VB_ACT_NONE);
    fails += check_dist("categorical_xent", D_XENT, VB_ACT_NONE);
    fails += check_dist("categorical_logprob", D_LOGP, VB_ACT_NONE);
    fails += check_dist("categorical_entropy", D_ENT, VB_ACT_NONE);
    fails += check_dist("bernoulli_loglik", D_BERN, VB_ACT_NONE);
    fails += check_adam();
    printf("gradcheck: %d item%s failed\n", fails, fails == 1 ? "" : "s");
    pool_free();
    return fails ? 1 : 0;
}
