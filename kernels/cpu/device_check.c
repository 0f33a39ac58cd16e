/* device_check — validation of a configured device against this machine. */
#include "../device.h"

#include "../backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VB_HAVE_CUDA
const vb_backend *vb_backend_cuda(int device, char *why, size_t why_len) {
    snprintf(why, why_len, "cuda:%d: this build has no CUDA backend (built without nvcc)", device);
    return NULL;
}

int vb_cuda_built(void) { return 0; }
int vb_cuda_device_count(char *why, size_t why_len) {
    (void)why;
    (void)why_len;
    return 0;
}
#endif

int vb_device_check(const char *device, char *why, size_t why_len) {
    if (strcmp(device, "cpu") == 0) return 0;
    if (strncmp(device, "cuda:", 5) != 0) return snprintf(why, why_len, "unknown device '%s'", device), -1;
    if (!vb_cuda_built())
        return snprintf(why, why_len, "'%s': this build has no CUDA backend (built without nvcc)", device), -1;
    int idx = atoi(device + 5);
    int n = vb_cuda_device_count(why, why_len);
    if (n < 0) return -1;
    if (idx >= n)
        return snprintf(why, why_len, "'%s': this machine has %d CUDA device%s", device, n, n == 1 ? "" : "s"), -1;
    return 0;
}
