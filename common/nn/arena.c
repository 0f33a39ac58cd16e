#include "arena.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/crc32c.h"
#include "../base/fs.h"

enum { HEADER = VB_ARENA_BLOB_HEADER, ALIGN = 16 };
static const char MAGIC[8] = {'V', 'B', 'A', 'R', 'E', 'N', 'A', '1'};

void vb_layout_init(vb_layout *l) { memset(l, 0, sizeof *l); }

int64_t vb_layout_add(vb_layout *l, const char *name, int ndim, const int64_t *shape) {
    if (l->n >= VB_ARENA_MAX_TENSORS || ndim < 1 || ndim > VB_ARENA_MAX_DIMS) return -1;
    if (strlen(name) >= VB_ARENA_NAME || vb_layout_find(l, name)) return -1;
    vb_tensor_info *t = &l->t[l->n];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return -1;
        t->shape[i] = shape[i];
        t->count *= shape[i];
    }
    t->offset = (l->total + ALIGN - 1) / ALIGN * ALIGN;
    l->total = t->offset + t->count;
    l->n++;
    return t->offset;
}

const vb_tensor_info *vb_layout_find(const vb_layout *l, const char *name) {
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->t[i].name, name) == 0) return &l->t[i];
    }
    return NULL;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t vb_layout_hash(const vb_layout *l) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < l->n; i++) {
        h = fnv1a(h, l->t[i].name, strlen(l->t[i].name) + 1);
        for (int d = 0; d < l->t[i].ndim; d++) {
            int64_t s = l->t[i].shape[d];
            h = fnv1a(h, &s, sizeof s);
        }
        h = fnv1a(h, &l->t[i].offset, sizeof l->t[i].offset);
    }
    return h;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int64_t vb_arena_blob_size(const vb_layout *l) { return HEADER + l->total * (int64_t)sizeof(float); }

/* The header of a blob whose payload has CRC-32C payload_crc. */
static void blob_header(const vb_layout *l, uint32_t payload_crc, void *blob) {
    unsigned char *h = blob;
    memcpy(h, MAGIC, 8);
    put_u32(h + 8, VB_ARENA_FORMAT);
    put_u32(h + 12, payload_crc);
    put_u64(h + 16, vb_layout_hash(l));
    put_u64(h + 24, (uint64_t)l->total);
    put_u32(h + 32, vb_crc32c(0, h, 32));
    put_u32(h + 36, 0);
}

void vb_arena_to_blob(const vb_layout *l, const float *data, void *blob) {
    unsigned char *h = blob;
    /* the supported hosts are little-endian */
    uint32_t crc = vb_crc32c_copy(0, h + HEADER, data, (size_t)l->total * sizeof(float));
    blob_header(l, crc, blob);
}

/* "tensor 'NAME'" holding float j of the arena, or the alignment padding. */
static const char *tensor_at(const vb_layout *l, int64_t j) {
    static _Thread_local char buf[VB_ARENA_NAME + 16];
    for (int i = 0; i < l->n; i++)
        if (j >= l->t[i].offset && j < l->t[i].offset + l->t[i].count) {
            snprintf(buf, sizeof buf, "tensor '%s'", l->t[i].name);
            return buf;
        }
    return "the alignment padding";
}

/* Index of the first NaN or infinity among n little-endian floats at p, or
 * -1. A float is not finite when its exponent bits are all ones, that is when
 * (w & EXP) + 2^23 carries into bit 31: blocks are or-reduced that way eight
 * floats at a time, adds and ands only (GCC/Clang 16-byte vector extensions,
 * unaligned loads through memcpy), and only a block with a hit is searched. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));
static int64_t first_nonfinite(const unsigned char *p, int64_t n) {
    enum { BLOCK = 1024 };
    const uint32_t EXP = 0x7f800000u, CARRY = 0x00800000u;
    for (int64_t b = 0; b < n; b += BLOCK) {
        int64_t m = n - b < BLOCK ? n - b : BLOCK, j = 0;
        u32x4 a0 = {0}, a1 = {0};
        for (; j + 8 <= m; j += 8) {
            u32x4 w0, w1;
            memcpy(&w0, p + (size_t)(b + j) * 4, sizeof w0);
            memcpy(&w1, p + (size_t)(b + j + 4) * 4, sizeof w1);
            a0 |= (w0 & EXP) + CARRY;
            a1 |= (w1 & EXP) + CARRY;
        }
        a0 |= a1;
        uint32_t bad = a0[0] | a0[1] | a0[2] | a0[3];
        for (; j < m; j++) {
            uint32_t w;
            memcpy(&w, p + (size_t)(b + j) * 4, 4);
            bad |= (w & EXP) + CARRY;
        }
        if (!(bad & 0x80000000u)) continue;
        for (j = 0; j < m; j++) {
            uint32_t w;
            memcpy(&w, p + (size_t)(b + j) * 4, 4);
            if ((w & EXP) == EXP) return b + j;
        }
    }
    return -1;
}

/* A payload block small enough to stay in the L1 cache between its CRC's
 * read (or copy) and the finite check's: three of the hardware CRC's 8 KiB
 * lanes, and 64 bytes more, so that a block starting off an 8-byte boundary
 * (the floats of a received message start where the envelope ends) still
 * runs all three lanes after the CRC aligns its start. */
enum { SCAN_BLOCK = 3 * 8192 + 64 };

static void scan_block(vb_arena_scan *sc, const unsigned char *p, size_t at, size_t m) {
    if (sc->first_nonfinite >= 0) return;
    int64_t j = first_nonfinite(p, (int64_t)(m / sizeof(float)));
    if (j >= 0) sc->first_nonfinite = (int64_t)(at / sizeof(float)) + j;
}

/* The payload's CRC and first non-finite float, block by block; with stage,
 * each block is copied there with its CRC and checked where it landed. */
static vb_arena_scan scan_payload(const void *blob, size_t len, unsigned char *stage) {
    vb_arena_scan sc = {0, -1};
    if (len < HEADER) return sc;
    const unsigned char *p = (const unsigned char *)blob + HEADER;
    const size_t n = len - HEADER;
    for (size_t at = 0; at < n; at += SCAN_BLOCK) {
        size_t m = n - at < SCAN_BLOCK ? n - at : SCAN_BLOCK;
        if (stage) sc.payload_crc = vb_crc32c_copy(sc.payload_crc, stage + at, p + at, m);
        else sc.payload_crc = vb_crc32c(sc.payload_crc, p + at, m);
        scan_block(&sc, stage ? stage + at : p + at, at, m);
    }
    return sc;
}

vb_arena_scan vb_arena_blob_scan(const void *blob, size_t len) { return scan_payload(blob, len, NULL); }

/* Everything a blob's header says, checked against the layout and the blob's length. */
static int check_header(const vb_layout *l, const unsigned char *h, size_t len, const char *origin, char *err,
                        size_t err_len) {
    if (len < HEADER) return snprintf(err, err_len, "%s: %zu bytes is too short for an arena header", origin, len), -1;
    if (memcmp(h, MAGIC, 8) != 0) return snprintf(err, err_len, "%s: not a varibased arena (bad magic)", origin), -1;
    if (get_u32(h + 32) != vb_crc32c(0, h, 32))
        return snprintf(err, err_len, "%s: arena header is corrupted (CRC mismatch)", origin), -1;
    /* the reserved word is zero: with the two CRCs every byte of a blob is checked */
    if (get_u32(h + 36) != 0)
        return snprintf(err, err_len, "%s: arena header is corrupted (reserved bytes not zero)", origin), -1;
    uint32_t version = get_u32(h + 8);
    if (version != VB_ARENA_FORMAT)
        return snprintf(err, err_len, "%s: arena format version %u, this build reads %d", origin, version,
                        VB_ARENA_FORMAT), -1;
    uint64_t hash = get_u64(h + 16), n = get_u64(h + 24);
    if (hash != vb_layout_hash(l))
        return snprintf(err, err_len, "%s: parameter layout differs from this model's (hash %016llx, expected "
                        "%016llx): was it saved with another model configuration?", origin,
                        (unsigned long long)hash, (unsigned long long)vb_layout_hash(l)), -1;
    if (n != (uint64_t)l->total || len != HEADER + (size_t)n * sizeof(float))
        return snprintf(err, err_len, "%s: size mismatch (%zu bytes for %llu floats, expected %lld floats)", origin,
                        len, (unsigned long long)n, (long long)l->total), -1;
    return 0;
}

/* The payload's scan against the header: its CRC, then no NaN or infinity
 * (a valid CRC over NaN is still NaN: non-finite values are never loaded). */
static int check_payload(const vb_layout *l, const unsigned char *h, const vb_arena_scan *scan, const char *origin,
                         char *err, size_t err_len) {
    if (get_u32(h + 12) != scan->payload_crc)
        return snprintf(err, err_len, "%s: arena payload is corrupted (CRC mismatch)", origin), -1;
    int64_t j = scan->first_nonfinite;
    if (j >= 0) {
        float v;
        memcpy(&v, h + HEADER + (size_t)j * sizeof(float), sizeof v);
        return snprintf(err, err_len, "%s: %s holds a non-finite value (%g at float %lld); refusing weights "
                        "that diverged", origin, tensor_at(l, j), (double)v, (long long)j), -1;
    }
    return 0;
}

int vb_arena_from_blob(const vb_layout *l, const void *blob, size_t len, float *data, const char *origin,
                       char *err, size_t err_len) {
    const unsigned char *h = blob;
    if (check_header(l, h, len, origin, err, err_len) != 0) return -1;
    vb_arena_scan sc = vb_arena_blob_scan(blob, len);
    if (check_payload(l, h, &sc, origin, err, err_len) != 0) return -1;
    memcpy(data, h + HEADER, len - HEADER);
    return 0;
}

int vb_arena_from_blob_staged(const vb_layout *l, const void *blob, size_t len, float *stage, const char *origin,
                              char *err, size_t err_len) {
    const unsigned char *h = blob;
    if (check_header(l, h, len, origin, err, err_len) != 0) return -1;
    vb_arena_scan sc = scan_payload(blob, len, (unsigned char *)stage);
    return check_payload(l, h, &sc, origin, err, err_len);
}

const char *vb_arena_first_nonfinite(const vb_layout *l, const float *data) {
    int64_t j = first_nonfinite((const unsigned char *)data, l->total);
    return j < 0 ? NULL : tensor_at(l, j);
}

int vb_arena_save(const char *path, const vb_layout *l, const float *data, char *err, size_t err_len) {
    size_t len = (size_t)vb_arena_blob_size(l);
    void *blob = malloc(len);
    if (!blob) return snprintf(err, err_len, "%s: out of memory", path), -1;
    vb_arena_to_blob(l, data, blob);
    int rc = vb_fs_write_atomic(path, blob, len, err, err_len);
    free(blob);
    return rc;
}

int vb_arena_load(const char *path, const vb_layout *l, float *data, char *err, size_t err_len) {
    void *blob;
    size_t len;
    if (vb_fs_read_all(path, (size_t)vb_arena_blob_size(l), &blob, &len, err, err_len) != 0) return -1;
    int rc = vb_arena_from_blob(l, blob, len, data, path, err, err_len);
    free(blob);
    return rc;
}
