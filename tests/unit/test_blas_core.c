/* OpenBLAS kernels that match the CPU: which core replaces which, and that
 * the programs run the replacement where OpenBLAS alone picks an older one. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "support.h"

Test(blas_core, cores_before_avx2_are_replaced_by_what_the_cpu_has) {
    cr_assert_str_eq(vb_blas_core_upgrade("Prescott", 1, 1), "SkylakeX");
    cr_assert_str_eq(vb_blas_core_upgrade("Prescott", 1, 0), "Haswell");
    cr_assert_str_eq(vb_blas_core_upgrade("Nehalem", 1, 0), "Haswell");
    cr_assert_str_eq(vb_blas_core_upgrade("sandybridge", 1, 1), "SkylakeX");
    cr_assert_null(vb_blas_core_upgrade("Prescott", 0, 0), "no AVX2: nothing better to ask for");
    cr_assert_null(vb_blas_core_upgrade("Haswell", 1, 1));
    cr_assert_null(vb_blas_core_upgrade("SkylakeX", 1, 1));
    cr_assert_null(vb_blas_core_upgrade("Zen", 1, 0));
    cr_assert_null(vb_blas_core_upgrade("Cooperlake", 1, 1));
    cr_assert_null(vb_blas_core_upgrade(NULL, 1, 1));
}

/* The core a program reports in --version, started without OPENBLAS_CORETYPE. */
static void version_core(const char *prog, char *core, size_t len) {
    char *saved = getenv("OPENBLAS_CORETYPE") ? strdup(getenv("OPENBLAS_CORETYPE")) : NULL;
    unsetenv("OPENBLAS_CORETYPE");
    vb_test_proc p;
    vb_test_run(&p, prog, (const char *[]){"--version", NULL});
    if (saved) setenv("OPENBLAS_CORETYPE", saved, 1), free(saved);
    cr_assert_eq(p.status, 0, "%s --version: %d", prog, p.status);
    const char *s = strstr(p.out, "(OpenBLAS ");
    cr_assert(s, "%s --version names no OpenBLAS core: %s", prog, p.out);
    s += strlen("(OpenBLAS ");
    size_t n = strcspn(s, " ");
    cr_assert(n > 0 && n < len);
    memcpy(core, s, n);
    core[n] = '\0';
    vb_test_proc_free(&p);
}

Test(blas_core, programs_run_kernels_as_new_as_the_cpu) {
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    const char *progs[] = {"learner", "actor"};
    for (int i = 0; i < 2; i++) {
        char core[64];
        version_core(progs[i], core, sizeof core);
        cr_assert_null(vb_blas_core_upgrade(core, avx2, avx512),
                       "%s runs OpenBLAS %s kernels on a CPU with AVX2 %d, AVX-512 %d", progs[i], core, avx2,
                       avx512);
    }
}

Test(blas_core, a_core_the_user_set_is_kept) {
    char *saved = getenv("OPENBLAS_CORETYPE") ? strdup(getenv("OPENBLAS_CORETYPE")) : NULL;
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--version", NULL});
    if (saved) setenv("OPENBLAS_CORETYPE", saved, 1), free(saved);
    else unsetenv("OPENBLAS_CORETYPE");
    cr_assert_eq(p.status, 0);
    cr_assert(strstr(p.out, "(OpenBLAS Prescott kernels)"), "%s", p.out);
    vb_test_proc_free(&p);
}
