/* arena — all parameters of a model in one contiguous float32 buffer.
 *
 * A layout is an ordered list of named tensors (name, shape) with their
 * offsets into the buffer. The same layout describes the parameters, their
 * gradients and the optimiser moments, so a layer keeps offsets, not pointers,
 * and works on any of those buffers: zero-grad is one memset, a weight
 * broadcast or all-reduce is one blob. The layout hash (FNV-1a over names and
 * shapes) identifies a layout across processes and files.
 *
 * File format of vb_arena_save (little-endian):
 *   0  magic "VBARENA1" (8 bytes)
 *   8  u32 format version (VB_ARENA_FORMAT)
 *  12  u32 crc32c of the payload
 *  16  u64 layout hash
 *  24  u64 number of floats n
 *  32  u32 crc32c of bytes 0..31
 *  36  u32 reserved (0)
 *  40  payload: n float32
 * A file whose magic, version, layout hash, size or either CRC does not match
 * is refused with a message saying which, and so is a payload holding a NaN
 * or an infinity. */
#ifndef VB_ARENA_H
#define VB_ARENA_H

#include <stddef.h>
#include <stdint.h>

enum { VB_ARENA_FORMAT = 1, VB_ARENA_MAX_TENSORS = 256, VB_ARENA_NAME = 48, VB_ARENA_MAX_DIMS = 4 };

typedef struct vb_tensor_info {
    char name[VB_ARENA_NAME];
    int ndim;
    int64_t shape[VB_ARENA_MAX_DIMS];
    int64_t offset;   /* in floats */
    int64_t count;
} vb_tensor_info;

typedef struct vb_layout {
    vb_tensor_info t[VB_ARENA_MAX_TENSORS];
    int n;
    int64_t total;    /* floats */
} vb_layout;

/* An empty layout. */
void vb_layout_init(vb_layout *l);
/* Append a tensor; returns its offset in floats, or -1 when the layout is full
 * or the name is taken. Offsets are aligned to 16 floats (64 bytes). */
int64_t vb_layout_add(vb_layout *l, const char *name, int ndim, const int64_t *shape);
/* Find a tensor by name; NULL when absent. */
const vb_tensor_info *vb_layout_find(const vb_layout *l, const char *name);
/* FNV-1a 64 over every (name, shape) in order. */
uint64_t vb_layout_hash(const vb_layout *l);

/* Save n = l->total floats atomically. Returns 0, or -1 with a reason. */
int vb_arena_save(const char *path, const vb_layout *l, const float *data, char *err, size_t err_len);
/* Load into data (l->total floats) after every check; on failure data is
 * untouched. Returns 0, or -1 with a reason. */
int vb_arena_load(const char *path, const vb_layout *l, float *data, char *err, size_t err_len);
/* The same two on memory blobs (header + payload), for messages. */
int64_t vb_arena_blob_size(const vb_layout *l);
void vb_arena_to_blob(const vb_layout *l, const float *data, void *blob);
/* A blob is a header of VB_ARENA_BLOB_HEADER bytes (magic, format, the
 * payload's CRC-32C, layout hash, float count, the header's own CRC-32C, a
 * zero word), then the l->total floats, little-endian. */
enum { VB_ARENA_BLOB_HEADER = 40 };
int vb_arena_from_blob(const vb_layout *l, const void *blob, size_t len, float *data, const char *origin,
                       char *err, size_t err_len);
/* One read of a blob's payload (after the header): its CRC-32C and the
 * index of its first NaN or infinity (-1: none); a blob shorter than a
 * header scans as CRC 0, no floats. */
typedef struct vb_arena_scan {
    uint32_t payload_crc;
    int64_t first_nonfinite;
} vb_arena_scan;
vb_arena_scan vb_arena_blob_scan(const void *blob, size_t len);
/* vb_arena_from_blob in one pass over the payload: each block is copied into
 * stage with its CRC and checked for NaN and infinity where it landed. What
 * is refused may already be partly copied, so stage is a staging buffer
 * (its contents are unspecified after an error), never weights in use. */
int vb_arena_from_blob_staged(const vb_layout *l, const void *blob, size_t len, float *stage, const char *origin,
                              char *err, size_t err_len);
/* Where the first NaN or infinity of data (l->total floats) is ("tensor
 * 'NAME'", or the alignment padding), or NULL when all of it is finite. Loads refuse non-finite values (vb_arena_from_blob), and
 * the learner never publishes or checkpoints them. */
const char *vb_arena_first_nonfinite(const vb_layout *l, const float *data);

#endif
