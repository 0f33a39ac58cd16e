/* CRC-32C check values and atomic file writes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/crc32c.h"
#include "common/base/fs.h"

Test(crc32c, check_values) {
    cr_assert_eq(vb_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(vb_crc32c(0, "", 0), 0u);
    unsigned char zeros[32] = {0};
    cr_assert_eq(vb_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    unsigned char ones[32];
    memset(ones, 0xff, 32);
    cr_assert_eq(vb_crc32c(0, ones, 32), 0x62A8AB43u);
}

Test(crc32c, incremental_equals_whole_and_any_alignment) {
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (unsigned char)(i * 131 + 7);
    uint32_t whole = vb_crc32c(0, buf + 3, 990);
    uint32_t part = vb_crc32c(vb_crc32c(vb_crc32c(0, buf + 3, 1), buf + 4, 500), buf + 504, 489);
    cr_assert_eq(whole, part);
    buf[500] ^= 1;
    cr_assert_neq(vb_crc32c(0, buf + 3, 990), whole);
}

/* combine(crc(A), crc(B), |B|) = crc(A B) for every split, empty parts included */
Test(crc32c, combine_equals_the_crc_of_the_concatenation) {
    unsigned char buf[3000];
    for (int i = 0; i < 3000; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
    const uint32_t whole = vb_crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += (cut < 70 ? 1 : 97)) {
        uint32_t a = vb_crc32c(0, buf, cut), b = vb_crc32c(0, buf + cut, sizeof buf - cut);
        cr_assert_eq(vb_crc32c_combine(a, b, sizeof buf - cut), whole, "cut at %zu", cut);
    }
    cr_assert_eq(vb_crc32c_combine(0xdeadbeefu, 0, 0), 0xdeadbeefu);
}

Test(fs, atomic_write_replaces_and_leaves_no_temporaries) {
    char dir[] = "/tmp/vb_fs_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/sub/a/file.bin", dir);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sub/a", dir);
    cr_assert_eq(vb_fs_mkdirs(sub, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_fs_mkdirs(sub, err, sizeof err), 0, "idempotent: %s", err);
    cr_assert_eq(vb_fs_write_atomic(path, "first", 5, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_fs_write_atomic(path, "second!", 7, err, sizeof err), 0, "%s", err);
    void *data;
    size_t len;
    cr_assert_eq(vb_fs_read_all(path, 100, &data, &len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(len, 7);
    cr_assert_str_eq(data, "second!");
    free(data);
    cr_assert_neq(vb_fs_read_all(path, 3, &data, &len, err, sizeof err), 0);
    cr_assert(strstr(err, "exceeds"), "%s", err);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s/sub/a | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0, "temporary files left behind");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(fs, write_into_missing_folder_fails_cleanly) {
    char err[256];
    cr_assert_neq(vb_fs_write_atomic("/nonexistent-dir/x/file", "a", 1, err, sizeof err), 0);
    cr_assert(strstr(err, "/nonexistent-dir/x/file"), "%s", err);
}

/* The SSE4.2 path (where the CPU has it) and the tables agree on every
 * length 0..300 at every alignment 0..7, from random start values. */
Test(crc32c, hardware_and_tables_agree) {
    unsigned char buf[320];
    uint32_t seed = 12345;
    for (int i = 0; i < 320; i++) {
        seed = seed * 1664525u + 1013904223u;
        buf[i] = (unsigned char)(seed >> 24);
    }
    cr_log_info("crc32c: %s", vb_crc32c_hw() ? "SSE4.2 crc32 instruction" : "tables (no SSE4.2 on this CPU)");
    for (int off = 0; off < 8; off++)
        for (int len = 0; len <= 300; len++) {
            uint32_t start = (uint32_t)(len * 2654435761u) ^ (uint32_t)off;
            cr_assert_eq(vb_crc32c(start, buf + off, (size_t)len), vb_crc32c_table(start, buf + off, (size_t)len),
                         "offset %d length %d", off, len);
        }
    cr_assert_eq(vb_crc32c_table(0, "123456789", 9), 0xE3069283u);
}

/* Buffers take the three-lane paths (3 x 8 KiB at a time, then 3 x 256
 * bytes) and the copying CRC reads and writes in the same pass: both agree
 * with the tables on lengths around both lane boundaries at every alignment
 * (a 4 911-byte chunk message among them), and the copy is exact. */
Test(crc32c, three_lanes_and_the_copying_crc_agree_with_the_tables) {
    enum { N = 3 * 3 * 8192 + 64 };
    unsigned char *buf = malloc(N), *dst = malloc(N + 8);
    uint32_t seed = 99;
    for (int i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        buf[i] = (unsigned char)(seed >> 24);
    }
    const size_t lens[] = {3 * 256 - 1, 3 * 256, 3 * 256 + 9, 2 * 3 * 256 + 3, 4911, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 13, 3 * 8192 + 3 * 256 + 5, 2 * 3 * 8192 + 7, N - 8};
    for (int off = 0; off < 8; off++)
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            size_t len = lens[k];
            uint32_t start = (uint32_t)(len * 2654435761u) ^ (uint32_t)off, want = vb_crc32c_table(start, buf + off, len);
            cr_assert_eq(vb_crc32c(start, buf + off, len), want, "offset %d length %zu", off, len);
            memset(dst, 0, N + 8);
            cr_assert_eq(vb_crc32c_copy(start, dst + (7 - off), buf + off, len), want, "copy: offset %d length %zu", off,
                         len);
            cr_assert_eq(memcmp(dst + (7 - off), buf + off, len), 0, "copy: offset %d length %zu", off, len);
            cr_assert_eq(dst[7 - off + len], 0, "copy wrote past the end");
        }
    free(buf);
    free(dst);
}
