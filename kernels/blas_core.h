/* blas_core — OpenBLAS kernels that match the CPU.
 *
 * OpenBLAS picks its GEMM kernels once, when the library loads, from the CPU
 * model it recognises. On a CPU newer than the OpenBLAS build (0.3.21 on a
 * recent Xeon, seen here) it falls back to its Prescott (SSE3) kernels, which
 * run the planner at half the speed of the AVX-512 ones. The choice can only
 * be changed through OPENBLAS_CORETYPE before the library loads, so
 * vb_blas_core_select sets it and executes the program again. Processes it
 * starts inherit the variable; a value the user set is never overridden. */
#ifndef VB_BLAS_CORE_H
#define VB_BLAS_CORE_H

/* The OpenBLAS core to ask for instead of `detected`, or NULL to keep it:
 * a core from before AVX2 (Prescott, Core2, Nehalem, Sandybridge, ...) is
 * replaced by SkylakeX where the CPU has AVX-512 (F, CD, BW, DQ, VL) and by
 * Haswell where it has AVX2 and FMA; anything else is kept. */
const char *vb_blas_core_upgrade(const char *detected, int has_avx2_fma, int has_avx512);

/* Call first in main(): where OpenBLAS loaded kernels older than the CPU and
 * OPENBLAS_CORETYPE is unset, set it and execv /proc/self/exe with argv (no
 * return on success). Returns otherwise; a failed exec keeps the loaded
 * kernels. */
void vb_blas_core_select(char **argv);

/* The core OpenBLAS is running ("SkylakeX", "Haswell", ...). */
const char *vb_blas_core_name(void);

#endif
