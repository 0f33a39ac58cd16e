/* crc32c — CRC-32C (Castagnoli), the checksum of checkpoints and weight blobs. */
#ifndef VB_CRC32C_H
#define VB_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes; crc32c("123456789") = 0xE3069283. */
uint32_t vb_crc32c(uint32_t crc, const void *data, size_t len);
/* vb_crc32c over src while copying its len bytes to dst (one pass over the
 * memory; dst and src do not overlap). */
uint32_t vb_crc32c_copy(uint32_t crc, void *restrict dst, const void *restrict src, size_t len);
/* The same with the slicing-by-8 tables whatever the CPU (what vb_crc32c
 * falls back to without SSE4.2). */
uint32_t vb_crc32c_table(uint32_t crc, const void *data, size_t len);
/* The CRC of A followed by B from crc1 = crc(A), crc2 = crc(B) and B's
 * length, in O(log len2) without reading either. */
uint32_t vb_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);
/* vb_crc32c uses the SSE4.2 crc32 instruction on this CPU. */
bool vb_crc32c_hw(void);

#endif
