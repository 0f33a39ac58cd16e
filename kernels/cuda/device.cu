// device — CUDA side of kernels/device.h.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" int vb_cuda_built(void) { return 1; }

extern "C" int vb_cuda_device_count(char *why, size_t why_len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) return 0;
    if (e != cudaSuccess) {
        snprintf(why, why_len, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return -1;
    }
    return n;
}
