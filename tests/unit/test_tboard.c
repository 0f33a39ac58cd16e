/* TensorBoard event files: the TFRecord framing (lengths and masked CRCs)
 * and the Event/Summary/Value encoding, read back by an independent decoder. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/crc32c.h"
#include "common/base/tboard.h"

static uint64_t rd_varint(const unsigned char **p, const unsigned char *end) {
    uint64_t v = 0;
    int shift = 0;
    while (*p < end) {
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
        shift += 7;
    }
    cr_assert_fail("truncated varint");
    return 0;
}

typedef struct event {
    double wall;
    int64_t step;
    char version[32];
    int nvalues;
    char tags[8][32];
    float values[8];
} event;

static void parse_value(const unsigned char *p, const unsigned char *end, event *e) {
    int i = e->nvalues++;
    while (p < end) {
        uint64_t key = rd_varint(&p, end);
        if (key == (1 << 3 | 2)) {
            uint64_t n = rd_varint(&p, end);
            memcpy(e->tags[i], p, n);
            e->tags[i][n] = 0;
            p += n;
        } else if (key == (2 << 3 | 5)) {
            memcpy(&e->values[i], p, 4);
            p += 4;
        } else {
            cr_assert_fail("unexpected Value field %llu", (unsigned long long)key);
        }
    }
}

static void parse_event(const unsigned char *p, const unsigned char *end, event *e) {
    memset(e, 0, sizeof *e);
    while (p < end) {
        uint64_t key = rd_varint(&p, end);
        if (key == (1 << 3 | 1)) {
            memcpy(&e->wall, p, 8);
            p += 8;
        } else if (key == (2 << 3 | 0)) {
            e->step = (int64_t)rd_varint(&p, end);
        } else if (key == (3 << 3 | 2)) {
            uint64_t n = rd_varint(&p, end);
            memcpy(e->version, p, n);
            p += n;
        } else if (key == (5 << 3 | 2)) {
            uint64_t n = rd_varint(&p, end);
            const unsigned char *q = p, *qe = p + n;
            while (q < qe) {
                cr_assert_eq(rd_varint(&q, qe), 1 << 3 | 2, "Summary holds Values only");
                uint64_t m = rd_varint(&q, qe);
                parse_value(q, q + m, e);
                q += m;
            }
            p += n;
        } else {
            cr_assert_fail("unexpected Event field %llu", (unsigned long long)key);
        }
    }
}

Test(tboard, events_read_back_with_valid_framing) {
    char dir[] = "/tmp/vb_tb_XXXXXX", err[256];
    cr_assert_not_null(mkdtemp(dir));
    vb_tboard tb;
    cr_assert_eq(vb_tboard_open(&tb, dir, err, sizeof err), 0, "%s", err);
    vb_tboard_scalar(&tb, 100, "return/mean", 1.5);
    vb_tboard_scalar(&tb, 100, "loss/value", 0.25);
    vb_tboard_scalar(&tb, 250, "return/mean", -3.0);
    cr_assert_eq(vb_tboard_flush(&tb), 0);
    vb_tboard_close(&tb);

    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512] = "";
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "events.out.tfevents.", 20) == 0) snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    closedir(d);
    cr_assert(path[0], "no event file");
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    event ev[4];
    int count = 0;
    for (size_t off = 0; off < n; count++) {
        cr_assert_lt(count, 4);
        uint64_t len;
        uint32_t lcrc, dcrc;
        memcpy(&len, buf + off, 8);
        memcpy(&lcrc, buf + off + 8, 4);
        cr_assert_eq(lcrc, vb_tboard_masked_crc(buf + off, 8), "length CRC of record %d", count);
        memcpy(&dcrc, buf + off + 12 + len, 4);
        cr_assert_eq(dcrc, vb_tboard_masked_crc(buf + off + 12, len), "data CRC of record %d", count);
        parse_event(buf + off + 12, buf + off + 12 + len, &ev[count]);
        off += 16 + len;
    }
    cr_assert_eq(count, 3, "a version record and one event per step");
    cr_assert_str_eq(ev[0].version, "brain.Event:2");
    cr_assert_gt(ev[0].wall, 1.6e9);
    cr_assert_eq(ev[1].step, 100);
    cr_assert_eq(ev[1].nvalues, 2);
    cr_assert_str_eq(ev[1].tags[0], "return/mean");
    cr_assert_eq(ev[1].values[0], 1.5f);
    cr_assert_str_eq(ev[1].tags[1], "loss/value");
    cr_assert_eq(ev[1].values[1], 0.25f);
    cr_assert_eq(ev[2].step, 250);
    cr_assert_eq(ev[2].nvalues, 1);
    cr_assert_eq(ev[2].values[0], -3.0f);
    /* the masking of the TFRecord format: rotate right 15, add a constant */
    uint32_t c = vb_crc32c(0, "abc", 3);
    cr_assert_eq(vb_tboard_masked_crc("abc", 3), ((c >> 15) | (c << 17)) + 0xa282ead8u);
    unlink(path);
    rmdir(dir);
}

Test(tboard, an_unwritable_folder_is_a_clear_error) {
    vb_tboard tb;
    char err[256];
    cr_assert_eq(vb_tboard_open(&tb, "/nonexistent/folder", err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/folder"), "%s", err);
}
