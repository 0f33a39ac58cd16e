/* checkpoint — a file of named, individually checksummed sections, and the
 * checkpoints folder of a run.
 *
 * File (little-endian): magic "VBCKPT01", u32 format version, u32 section
 * count; per section: name (32 bytes, NUL-padded), u64 length, u32 CRC-32C of
 * the payload, payload; then u32 CRC-32C of everything before it. Written
 * atomically (temporary file, fsync, rename). A folder holds ckpt-<N>.vbc
 * files (N = updates, zero-padded so names sort) and `latest`, a one-line
 * file naming the newest complete checkpoint; it is replaced only after the
 * checkpoint itself is on disk. Older checkpoints beyond the newest `keep`
 * are removed. */
#ifndef VB_CHECKPOINT_H
#define VB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

enum { VB_CKPT_FORMAT = 1, VB_CKPT_MAX_SECTIONS = 16, VB_CKPT_NAME = 32 };

typedef struct vb_ckpt_section {
    char name[VB_CKPT_NAME];
    const void *data;
    uint64_t len;
} vb_ckpt_section;

typedef struct vb_ckpt {
    void *buf;     /* the whole file */
    size_t len;
    int n;
    vb_ckpt_section s[VB_CKPT_MAX_SECTIONS];
} vb_ckpt;

/* The file's bytes for sections (malloc'd into *out). 0, or -1 with err. */
int vb_ckpt_encode(const vb_ckpt_section *s, int n, void **out, size_t *out_len, char *err, size_t err_len);
/* Write sections to path atomically. 0, or -1 with err. */
int vb_ckpt_write(const char *path, const vb_ckpt_section *s, int n, char *err, size_t err_len);
/* Read and verify a checkpoint file. 0, or -1 with err naming what is wrong. */
int vb_ckpt_read(const char *path, vb_ckpt *out, char *err, size_t err_len);
/* The same checks on a file's bytes (malloc'd data, owned by out on success
 * and freed on failure); path names it in messages. */
int vb_ckpt_parse(void *data, size_t len, const char *path, vb_ckpt *out, char *err, size_t err_len);
void vb_ckpt_free(vb_ckpt *c);
/* A section's payload, or NULL. */
const void *vb_ckpt_get(const vb_ckpt *c, const char *name, uint64_t *len);

/* Save into folder dir as ckpt-<updates>.vbc, point `latest` at it, keep the
 * newest `keep` files. 0, or -1 with err. */
int vb_ckpt_save_in(const char *dir, int64_t updates, const vb_ckpt_section *s, int n, int keep, char *err,
                    size_t err_len);
/* The same with the file's bytes from vb_ckpt_encode (for a writer thread). */
int vb_ckpt_save_encoded_in(const char *dir, int64_t updates, const void *buf, size_t len, int keep, char *err,
                            size_t err_len);
/* Remove the temporary files (NAME.tmp.XXXXXX) an atomic write leaves when
 * its process is killed, in dir; returns how many. */
int vb_ckpt_remove_stale_tmp(const char *dir);
/* The weights an evaluation of a run should use: where path is a run folder
 * or its checkpoints folder and that folder holds best.vbc (eval.keep_best),
 * its path goes to out and 1 is returned; otherwise 0. */
int vb_ckpt_best_in(const char *path, char *out, size_t out_len);
#define VB_CKPT_BEST "best.vbc"
/* Load the newest valid checkpoint reachable from path: a `latest` file, a
 * checkpoints folder, or a run folder (its checkpoints/); a corrupted newest
 * file is reported through warn (may be NULL) and the next older one is
 * tried. A checkpoint file named by path is loaded as named: missing or
 * corrupted, it is an error. chosen receives the file used. 0, or -1 with err. */
int vb_ckpt_load_newest(const char *path, vb_ckpt *out, char *chosen, size_t chosen_len,
                        void (*warn)(const char *msg), char *err, size_t err_len);

#endif
