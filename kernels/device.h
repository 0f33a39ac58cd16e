/* device — which compute devices this build and this machine offer. */
#ifndef VB_DEVICE_H
#define VB_DEVICE_H

#include <stddef.h>

/* 1 when this build includes the CUDA backend, 0 otherwise. */
int vb_cuda_built(void);
/* Number of usable CUDA devices (0 when none or no CUDA backend); on a driver
 * or runtime error returns -1 with the reason in why. */
int vb_cuda_device_count(char *why, size_t why_len);
/* Check that "cpu" or "cuda:N" names a device present here; -1 with a reason. */
int vb_device_check(const char *device, char *why, size_t why_len);

#endif
