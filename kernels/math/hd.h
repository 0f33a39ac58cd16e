/* hd — the qualifier of kernel bodies shared by the CPU and CUDA backends.
 *
 * Every per-element or per-row body of a backend op lives in a header under
 * kernels/math/ as a VB_HD function: the CPU backend's loops call it (so the
 * arithmetic is exercised by every CPU test), and the CUDA kernels call the
 * same function from device code, leaving only indexing and memory to the
 * .cu files. Bodies take and return scalars (or one row) so that the CPU
 * loops around them still vectorise. The device results agree with the CPU's
 * to rounding, not bit for bit: nvcc contracts a * b + c into FMAs and the
 * device's exp/log/cos differ from glibc's in the last bits. */
#ifndef VB_MATH_HD_H
#define VB_MATH_HD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define VB_HD static __host__ __device__ __forceinline__
#else
#define VB_HD static inline
#endif

#endif
