/* fs — files that are never seen half-written. */
#ifndef VB_FS_H
#define VB_FS_H

#include <stddef.h>

/* Write `len` bytes to `path` atomically: a temporary file in the same folder,
 * fsync, rename over `path`, fsync of the folder. On failure nothing at `path`
 * changes. Returns 0 or -1 with a reason in err. */
int vb_fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len);
/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience),
 * refusing files larger than max_len. Returns 0 or -1 with a reason. */
int vb_fs_read_all(const char *path, size_t max_len, void **data, size_t *len, char *err, size_t err_len);
/* mkdir -p with mode 0755. Returns 0 or -1 with a reason. */
int vb_fs_mkdirs(const char *path, char *err, size_t err_len);

#endif
