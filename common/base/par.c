#include "par.h"

#include <pthread.h>

typedef struct part {
    void (*fn)(void *ctx, int j);
    void *ctx;
    int j;
} part;

static void *part_thread(void *arg) {
    const part *p = arg;
    p->fn(p->ctx, p->j);
    return NULL;
}

void vb_par_run(int n, void (*fn)(void *ctx, int j), void *ctx) {
    if (n > VB_PAR_MAX) n = VB_PAR_MAX;
    if (n <= 1) {
        fn(ctx, 0);
        return;
    }
    pthread_t th[VB_PAR_MAX];
    part parts[VB_PAR_MAX];
    int started[VB_PAR_MAX] = {0};
    for (int j = 1; j < n; j++) {
        parts[j] = (part){fn, ctx, j};
        started[j] = pthread_create(&th[j], NULL, part_thread, &parts[j]) == 0;
        if (!started[j]) fn(ctx, j);
    }
    fn(ctx, 0);
    for (int j = 1; j < n; j++)
        if (started[j]) pthread_join(th[j], NULL);
}

int vb_par_parts(int threads, int64_t rows) {
    int64_t n = threads < rows ? threads : rows;
    if (n > VB_PAR_MAX) n = VB_PAR_MAX;
    return n < 1 ? 1 : (int)n;
}

void vb_par_rows(int64_t rows, int n, int j, int64_t *r0, int64_t *r1) {
    if (n < 1) n = 1;
    const int64_t per = (rows + n - 1) / n, a = (int64_t)j * per, b = a + per;
    *r0 = a < rows ? a : rows;
    *r1 = b < rows ? b : rows;
}
