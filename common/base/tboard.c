/* tboard — see tboard.h. */
#include "tboard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"

uint32_t vb_tboard_masked_crc(const void *data, size_t len) {
    uint32_t c = vb_crc32c(0, data, len);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- protobuf encoding into a growable buffer ---------------------------- */
typedef struct pbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} pbuf;

static void put(pbuf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void varint(pbuf *b, uint64_t v) {
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, n);
}

static void le(pbuf *b, uint64_t v, int bytes) {
    unsigned char t[8];
    for (int i = 0; i < bytes; i++) t[i] = (unsigned char)(v >> (8 * i));
    put(b, t, (size_t)bytes);
}

static void field_bytes(pbuf *b, int field, const void *d, size_t n) {
    varint(b, (uint64_t)field << 3 | 2);
    varint(b, n);
    put(b, d, n);
}

/* One TFRecord around an Event of wall_time, step and either a file version or
 * a Summary (already encoded). */
static int write_event(vb_tboard *tb, const char *version, const unsigned char *summary, size_t slen) {
    pbuf e = {0};
    double wt = unix_now();
    uint64_t bits;
    memcpy(&bits, &wt, sizeof bits);
    varint(&e, 1 << 3 | 1);
    le(&e, bits, 8);
    varint(&e, 2 << 3 | 0);
    varint(&e, (uint64_t)tb->step);
    if (version) field_bytes(&e, 3, version, strlen(version));
    if (summary) field_bytes(&e, 5, summary, slen);
    int rc = -1;
    if (!e.oom) {
        pbuf h = {0};
        le(&h, e.len, 8);
        uint32_t lc = h.oom ? 0 : vb_tboard_masked_crc(h.p, 8);
        le(&h, lc, 4);
        pbuf t = {0};
        le(&t, vb_tboard_masked_crc(e.p, e.len), 4);
        if (!h.oom && !t.oom && fwrite(h.p, 1, h.len, tb->f) == h.len && fwrite(e.p, 1, e.len, tb->f) == e.len &&
            fwrite(t.p, 1, t.len, tb->f) == t.len)
            rc = 0;
        free(h.p);
        free(t.p);
    }
    free(e.p);
    if (rc != 0) tb->failed = 1;
    return rc;
}

int vb_tboard_open(vb_tboard *tb, const char *dir, char *err, size_t err_len) {
    memset(tb, 0, sizeof *tb);
    char host[256] = "localhost", path[4600];
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf(path, sizeof path, "%s/events.out.tfevents.%lld.%s.%d", dir, (long long)time(NULL), host, (int)getpid());
    tb->f = fopen(path, "wb");
    if (!tb->f) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), -1;
    tb->step = 0;
    if (write_event(tb, "brain.Event:2", NULL, 0) != 0 || fflush(tb->f) != 0) {
        snprintf(err, err_len, "%s: write failed", path);
        vb_tboard_close(tb);
        return -1;
    }
    tb->step = -1;
    return 0;
}

int vb_tboard_flush(vb_tboard *tb) {
    if (!tb->f || tb->failed) return -1;
    if (tb->len) {
        write_event(tb, NULL, tb->buf, tb->len);
        tb->len = 0;
    }
    if (fflush(tb->f) != 0) tb->failed = 1;
    return tb->failed ? -1 : 0;
}

void vb_tboard_scalar(vb_tboard *tb, int64_t step, const char *tag, double value) {
    if (!tb->f || tb->failed) return;
    if (step != tb->step && tb->len) {
        write_event(tb, NULL, tb->buf, tb->len);
        tb->len = 0;
    }
    tb->step = step;
    pbuf v = {0};
    field_bytes(&v, 1, tag, strlen(tag));
    float f = (float)value;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    varint(&v, 2 << 3 | 5);
    le(&v, bits, 4);
    pbuf s = {.p = tb->buf, .len = tb->len, .cap = tb->cap};
    if (!v.oom) field_bytes(&s, 1, v.p, v.len);
    free(v.p);
    tb->buf = s.p;
    tb->cap = s.cap;
    if (s.oom || v.oom) tb->failed = 1;
    else tb->len = s.len;
}

void vb_tboard_text(vb_tboard *tb, int64_t step, const char *tag, const char *text) {
    if (!tb->f || tb->failed) return;
    vb_tboard_flush(tb); /* a text event of its own */
    /* Value { tag = 1; metadata = 9 { plugin_data = 1 { plugin_name = 1 } };
     *         tensor = 8 { dtype = 1 (DT_STRING 7); tensor_shape = 2 {}; string_val = 8 } } */
    pbuf plugin = {0}, meta = {0}, tensor = {0}, v = {0}, s = {0};
    field_bytes(&plugin, 1, "text", 4);
    field_bytes(&meta, 1, plugin.p, plugin.len);
    varint(&tensor, 1 << 3 | 0);
    varint(&tensor, 7);
    field_bytes(&tensor, 2, "", 0);
    field_bytes(&tensor, 8, text, strlen(text));
    field_bytes(&v, 1, tag, strlen(tag));
    field_bytes(&v, 9, meta.p, meta.len);
    field_bytes(&v, 8, tensor.p, tensor.len);
    field_bytes(&s, 1, v.p, v.len);
    tb->step = step;
    if (plugin.oom || meta.oom || tensor.oom || v.oom || s.oom) tb->failed = 1;
    else write_event(tb, NULL, s.p, s.len);
    free(plugin.p), free(meta.p), free(tensor.p), free(v.p), free(s.p);
    tb->step = -1;
}

void vb_tboard_close(vb_tboard *tb) {
    if (tb->f) {
        vb_tboard_flush(tb);
        fclose(tb->f);
    }
    free(tb->buf);
    memset(tb, 0, sizeof *tb);
}
