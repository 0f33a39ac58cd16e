/* crc32c — CRC-32C (Castagnoli), the checksum of checkpoints and weight blobs. */
#ifndef VB_CRC32C_H
#define VB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes; crc32c("123456789") = 0xE3069283. */
uint32_t vb_crc32c(uint32_t crc, const void *data, size_t len);

#endif
