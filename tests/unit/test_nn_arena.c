/* Parameter arena: layout, save/load round trip, refusal of bad files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/crc32c.h"
#include "common/nn/arena.h"

static void make_layout(vb_layout *l, int64_t hidden) {
    vb_layout_init(l);
    cr_assert_geq(vb_layout_add(l, "enc.w", 2, (int64_t[]){hidden, 3}), 0);
    cr_assert_geq(vb_layout_add(l, "enc.b", 1, (int64_t[]){hidden}), 0);
    cr_assert_geq(vb_layout_add(l, "head.w", 2, (int64_t[]){2, hidden}), 0);
}

Test(arena, layout_offsets_are_aligned_and_names_unique) {
    vb_layout l;
    make_layout(&l, 5);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.t[0].offset, 0);
    cr_assert_eq(l.t[0].count, 15);
    cr_assert_eq(l.t[1].offset, 16);
    cr_assert_eq(l.t[2].offset, 32);
    cr_assert_eq(l.total, 42);
    cr_assert_eq(vb_layout_add(&l, "enc.b", 1, (int64_t[]){4}), -1, "duplicate name accepted");
    cr_assert_eq(vb_layout_add(&l, "bad", 1, (int64_t[]){0}), -1, "empty dimension accepted");
    cr_assert_not_null(vb_layout_find(&l, "head.w"));
    cr_assert_null(vb_layout_find(&l, "head.b"));
    vb_layout other;
    make_layout(&other, 6);
    cr_assert_neq(vb_layout_hash(&l), vb_layout_hash(&other));
    make_layout(&other, 5);
    cr_assert_eq(vb_layout_hash(&l), vb_layout_hash(&other));
}

static char path[64];
static void tmp_path(void) { snprintf(path, sizeof path, "/tmp/vb_arena_%d.bin", (int)getpid()); }
static void cleanup(void) { unlink(path); }

Test(arena, save_load_round_trip_is_bit_exact, .init = tmp_path, .fini = cleanup) {
    vb_layout l;
    make_layout(&l, 5);
    float *a = calloc((size_t)l.total, sizeof(float)), *b = calloc((size_t)l.total, sizeof(float));
    for (int64_t i = 0; i < l.total; i++) a[i] = (float)i * 0.37f - 3.0f;
    a[3] = -0.0f;
    a[7] = 1e-40f; /* a denormal survives too */
    char err[512];
    cr_assert_eq(vb_arena_save(path, &l, a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_arena_load(path, &l, b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(a, b, sizeof(float) * (size_t)l.total), 0);
    free(a);
    free(b);
}

/* Flip one byte at `at` of a saved file and expect a refusal mentioning `what`. */
static void expect_refused_after_flip(long at, const char *what) {
    vb_layout l;
    make_layout(&l, 5);
    float *a = calloc((size_t)l.total, sizeof(float)), *b = calloc((size_t)l.total, sizeof(float));
    for (int64_t i = 0; i < l.total; i++) a[i] = (float)i;
    for (int64_t i = 0; i < l.total; i++) b[i] = 42.0f;
    char err[512];
    cr_assert_eq(vb_arena_save(path, &l, a, err, sizeof err), 0, "%s", err);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    cr_assert_neq(vb_arena_load(path, &l, b, err, sizeof err), 0, "flip at %ld accepted", at);
    cr_assert(strstr(err, what), "flip at %ld: %s", at, err);
    cr_assert(strstr(err, path), "error should name the file: %s", err);
    for (int64_t i = 0; i < l.total; i++) cr_assert_eq(b[i], 42.0f, "destination touched on failure");
    free(a);
    free(b);
}

Test(arena, flipped_payload_byte_is_refused, .init = tmp_path, .fini = cleanup) {
    expect_refused_after_flip(40 + 4 * 20 + 1, "payload is corrupted");
}

Test(arena, flipped_header_byte_is_refused, .init = tmp_path, .fini = cleanup) {
    expect_refused_after_flip(20, "header is corrupted");
    expect_refused_after_flip(2, "bad magic");
}

Test(arena, other_layout_and_truncation_are_refused, .init = tmp_path, .fini = cleanup) {
    vb_layout l, other;
    make_layout(&l, 5);
    make_layout(&other, 6);
    float *a = calloc((size_t)other.total, sizeof(float));
    char err[512];
    cr_assert_eq(vb_arena_save(path, &l, a, err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_arena_load(path, &other, a, err, sizeof err), 0);
    cr_assert(strstr(err, "layout differs"), "%s", err);
    cr_assert_eq(truncate(path, 40 + 10), 0);
    cr_assert_neq(vb_arena_load(path, &l, a, err, sizeof err), 0);
    cr_assert(strstr(err, "size mismatch"), "%s", err);
    cr_assert_eq(truncate(path, 12), 0);
    cr_assert_neq(vb_arena_load(path, &l, a, err, sizeof err), 0);
    cr_assert(strstr(err, "too short"), "%s", err);
    cr_assert_neq(vb_arena_load("/nonexistent/arena.bin", &l, a, err, sizeof err), 0);
    free(a);
}

Test(arena, blob_round_trip_and_version_check) {
    vb_layout l;
    make_layout(&l, 4);
    float *a = calloc((size_t)l.total, sizeof(float)), *b = calloc((size_t)l.total, sizeof(float));
    for (int64_t i = 0; i < l.total; i++) a[i] = 1.0f / (float)(i + 1);
    size_t len = (size_t)vb_arena_blob_size(&l);
    unsigned char *blob = malloc(len);
    vb_arena_to_blob(&l, a, blob);
    char err[512];
    cr_assert_eq(vb_arena_from_blob(&l, blob, len, b, "blob", err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(a, b, sizeof(float) * (size_t)l.total), 0);
    cr_assert_neq(vb_arena_from_blob(&l, blob, len - 1, b, "blob", err, sizeof err), 0);
    free(a);
    free(b);
    free(blob);
}

/* The one-pass scan finds a NaN or infinity wherever it sits (the first of
 * several, across the scan's blocks and the finite check's), and its CRC is
 * the payload's; a blob holding one is refused with the float's index and
 * the caller's buffer left untouched. */
Test(arena, scan_finds_the_first_nonfinite_float_anywhere) {
    vb_layout l;
    vb_layout_init(&l);
    int64_t shape[1] = {20000};
    cr_assert_geq(vb_layout_add(&l, "w", 1, shape), 0);
    float *a = calloc((size_t)l.total, sizeof(float)), *b = calloc((size_t)l.total, sizeof(float));
    size_t len = (size_t)vb_arena_blob_size(&l);
    unsigned char *blob = malloc(len);
    const int64_t at[] = {0, 1023, 1024, 6143, 6144, 6145, 19999};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        for (int64_t i = 0; i < l.total; i++) a[i] = 0.5f * (float)(i % 7);
        a[at[k]] = k % 2 ? INFINITY : NAN;
        if (at[k] + 3000 < l.total) a[at[k] + 3000] = NAN; /* a later one does not count */
        vb_arena_to_blob(&l, a, blob);
        vb_arena_scan sc = vb_arena_blob_scan(blob, len);
        cr_assert_eq(sc.first_nonfinite, at[k]);
        cr_assert_eq(sc.payload_crc, vb_crc32c(0, blob + VB_ARENA_BLOB_HEADER, len - VB_ARENA_BLOB_HEADER));
        char err[512], want[64];
        memset(b, 0, sizeof(float) * (size_t)l.total);
        cr_assert_neq(vb_arena_from_blob(&l, blob, len, b, "blob", err, sizeof err), 0);
        snprintf(want, sizeof want, "at float %lld", (long long)at[k]);
        cr_assert(strstr(err, want), "%s", err);
        for (int64_t i = 0; i < l.total; i++) cr_assert_eq(b[i], 0.0f, "a refused blob was copied");
    }
    for (int64_t i = 0; i < l.total; i++) a[i] = 0.25f;
    vb_arena_to_blob(&l, a, blob);
    cr_assert_eq(vb_arena_blob_scan(blob, len).first_nonfinite, -1);
    free(a);
    free(b);
    free(blob);
}

/* The one-pass staged read accepts what vb_arena_from_blob accepts, with the
 * same floats, and refuses what it refuses, with the same message: a
 * corrupted header byte (the reserved word included) or payload byte and a
 * NaN or infinity on either side of a block boundary (the copy's blocks are
 * 6 160 floats). */
Test(arena, staged_read_agrees_with_the_two_pass_read) {
    vb_layout l;
    vb_layout_init(&l);
    int64_t shape[2] = {150, 101};
    cr_assert_geq(vb_layout_add(&l, "w", 2, shape), 0);
    cr_assert_geq(vb_layout_add(&l, "b", 1, shape + 1), 0);
    const size_t bytes = sizeof(float) * (size_t)l.total;
    float *a = malloc(bytes), *want = malloc(bytes), *got = malloc(bytes);
    for (int64_t i = 0; i < l.total; i++) a[i] = sinf(0.37f * (float)i);
    size_t len = (size_t)vb_arena_blob_size(&l);
    unsigned char *blob = malloc(len);
    vb_arena_to_blob(&l, a, blob);
    char e1[512], e2[512];
    cr_assert_eq(vb_arena_from_blob_staged(&l, blob, len, got, "blob", e2, sizeof e2), 0, "%s", e2);
    cr_assert_eq(memcmp(a, got, bytes), 0);
    /* byte flips (header, payload start, a block edge, the last float), then NaN and infinity */
    const size_t flip[] = {3, 13, 20, 33, 37, VB_ARENA_BLOB_HEADER, VB_ARENA_BLOB_HEADER + 24639,
                           VB_ARENA_BLOB_HEADER + 24640, len - 1};
    for (size_t k = 0; k < sizeof flip / sizeof *flip; k++) {
        blob[flip[k]] ^= 0x10;
        cr_assert_neq(vb_arena_from_blob(&l, blob, len, want, "blob", e1, sizeof e1), 0);
        cr_assert_neq(vb_arena_from_blob_staged(&l, blob, len, got, "blob", e2, sizeof e2), 0, "byte %zu", flip[k]);
        cr_assert_str_eq(e1, e2);
        blob[flip[k]] ^= 0x10;
    }
    const int64_t bad[] = {0, 6159, 6160, l.total - 1};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        float keep = a[bad[k]];
        a[bad[k]] = k % 2 ? -INFINITY : NAN;
        vb_arena_to_blob(&l, a, blob);
        cr_assert_neq(vb_arena_from_blob(&l, blob, len, want, "blob", e1, sizeof e1), 0);
        cr_assert_neq(vb_arena_from_blob_staged(&l, blob, len, got, "blob", e2, sizeof e2), 0);
        cr_assert_str_eq(e1, e2);
        a[bad[k]] = keep;
    }
    /* too short, and a whole blob for another layout */
    cr_assert_neq(vb_arena_from_blob_staged(&l, blob, VB_ARENA_BLOB_HEADER - 1, got, "blob", e2, sizeof e2), 0);
    cr_assert(strstr(e2, "too short"), "%s", e2);
    vb_arena_to_blob(&l, a, blob);
    cr_assert_neq(vb_arena_from_blob_staged(&l, blob, len - 4, got, "blob", e2, sizeof e2), 0);
    cr_assert(strstr(e2, "size mismatch"), "%s", e2);
    cr_assert_eq(vb_arena_from_blob_staged(&l, blob, len, got, "blob", e2, sizeof e2), 0, "%s", e2);
    cr_assert_eq(memcmp(a, got, bytes), 0);
    free(a);
    free(want);
    free(got);
    free(blob);
}
