/* blas_core — see kernels/blas_core.h. */
#include "../blas_core.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The cores of OpenBLAS's x86-64 dynamic table whose kernels use neither AVX2
 * nor FMA. */
static const char *const pre_avx2_cores[] = {
    "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge",
    "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Bulldozer", "Katmai",
    "Coppermine", "Northwood", "Banias", "Athlon",
};

const char *vb_blas_core_upgrade(const char *detected, int has_avx2_fma, int has_avx512) {
    if (!detected || !has_avx2_fma) return NULL;
    int old = 0;
    for (size_t i = 0; i < sizeof pre_avx2_cores / sizeof *pre_avx2_cores; i++)
        if (strcasecmp(detected, pre_avx2_cores[i]) == 0) old = 1;
    if (!old) return NULL;
    return has_avx512 ? "SkylakeX" : "Haswell";
}

const char *vb_blas_core_name(void) { return openblas_get_corename(); }

void vb_blas_core_select(char **argv) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    const char *want = vb_blas_core_upgrade(openblas_get_corename(), avx2, avx512);
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed: this process keeps the kernels it loaded; the processes it
     * starts still get the variable. */
#else
    (void)argv;
#endif
}
