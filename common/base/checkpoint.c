#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "fs.h"

static const char MAGIC[8] = {'V', 'B', 'C', 'K', 'P', 'T', '0', '1'};
/* the largest checkpoint written or read (64 GiB) */
static const uint64_t MAX_FILE = (uint64_t)1 << 36;
enum { SECTION_HEADER = VB_CKPT_NAME + 12,  MAX_KEEP_LIST = 4096 };

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int vb_ckpt_encode(const vb_ckpt_section *s, int n, void **out, size_t *out_len, char *err, size_t err_len) {
    size_t total = 16 + 4;
    for (int i = 0; i < n; i++) total += SECTION_HEADER + s[i].len;
    if (total > MAX_FILE)
        return snprintf(err, err_len, "%zu bytes is more than the %llu a checkpoint may hold (reduce "
                        "learner.replay_capacity)", total, (unsigned long long)MAX_FILE), -1;
    unsigned char *buf = malloc(total);
    if (!buf) return snprintf(err, err_len, "out of memory for a %zu-byte checkpoint", total), -1;
    memcpy(buf, MAGIC, 8);
    put32(buf + 8, VB_CKPT_FORMAT);
    put32(buf + 12, (uint32_t)n);
    size_t off = 16;
    for (int i = 0; i < n; i++) {
        memset(buf + off, 0, VB_CKPT_NAME);
        memcpy(buf + off, s[i].name, strnlen(s[i].name, VB_CKPT_NAME - 1));
        put64(buf + off + VB_CKPT_NAME, s[i].len);
        put32(buf + off + VB_CKPT_NAME + 8, vb_crc32c(0, s[i].data, s[i].len));
        memcpy(buf + off + SECTION_HEADER, s[i].data, s[i].len);
        off += SECTION_HEADER + s[i].len;
    }
    put32(buf + off, vb_crc32c(0, buf, off));
    *out = buf;
    *out_len = total;
    return 0;
}

int vb_ckpt_write(const char *path, const vb_ckpt_section *s, int n, char *err, size_t err_len) {
    void *buf;
    size_t total;
    char why[512];
    if (vb_ckpt_encode(s, n, &buf, &total, why, sizeof why) != 0) return snprintf(err, err_len, "%s: %s", path, why), -1;
    int rc = vb_fs_write_atomic(path, buf, total, err, err_len);
    free(buf);
    return rc;
}

int vb_ckpt_read(const char *path, vb_ckpt *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    void *data;
    size_t len;
    if (vb_fs_read_all(path, (size_t)MAX_FILE, &data, &len, err, err_len) != 0) return -1;
    return vb_ckpt_parse(data, len, path, out, err, err_len);
}

int vb_ckpt_parse(void *data, size_t len, const char *path, vb_ckpt *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    const unsigned char *b = data;
    const char *why = NULL;
    if (len < 20 || memcmp(b, MAGIC, 8) != 0) why = "not a varibased checkpoint (bad magic or too short)";
    else if (get32(b + len - 4) != vb_crc32c(0, b, len - 4)) why = "corrupted (file CRC mismatch)";
    else if (get32(b + 8) != VB_CKPT_FORMAT) why = "written by another checkpoint format version";
    else if (get32(b + 12) > VB_CKPT_MAX_SECTIONS) why = "too many sections";
    if (why) {
        free(data);
        return snprintf(err, err_len, "%s: %s", path, why), -1;
    }
    out->buf = data;
    out->len = len;
    out->n = (int)get32(b + 12);
    size_t off = 16;
    for (int i = 0; i < out->n; i++) {
        if (off + SECTION_HEADER > len - 4) {
            vb_ckpt_free(out);
            return snprintf(err, err_len, "%s: truncated section table", path), -1;
        }
        vb_ckpt_section *s = &out->s[i];
        memcpy(s->name, b + off, VB_CKPT_NAME);
        s->name[VB_CKPT_NAME - 1] = '\0';
        s->len = get64(b + off + VB_CKPT_NAME);
        uint32_t crc = get32(b + off + VB_CKPT_NAME + 8);
        if (s->len > len - 4 - off - SECTION_HEADER) {
            vb_ckpt_free(out);
            return snprintf(err, err_len, "%s: section %d claims more bytes than the file has", path, i), -1;
        }
        s->data = b + off + SECTION_HEADER;
        if (vb_crc32c(0, s->data, s->len) != crc) {
            char name[VB_CKPT_NAME];
            snprintf(name, sizeof name, "%s", s->name);
            vb_ckpt_free(out);
            return snprintf(err, err_len, "%s: section '%s' is corrupted (CRC mismatch)", path, name), -1;
        }
        off += SECTION_HEADER + s->len;
    }
    return 0;
}

void vb_ckpt_free(vb_ckpt *c) {
    free(c->buf);
    memset(c, 0, sizeof *c);
}

const void *vb_ckpt_get(const vb_ckpt *c, const char *name, uint64_t *len) {
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->s[i].name, name) == 0) {
            if (len) *len = c->s[i].len;
            return c->s[i].data;
        }
    }
    return NULL;
}

static int is_ckpt_name(const char *n) {
    size_t l = strlen(n);
    return l > 9 && strncmp(n, "ckpt-", 5) == 0 && strcmp(n + l - 4, ".vbc") == 0;
}

static int cmp_desc(const void *a, const void *b) { return strcmp(*(char *const *)b, *(char *const *)a); }

/* Checkpoint file names in dir, newest first; returns count (malloc'd names). */
static int list_ckpts(const char *dir, char **names, int max) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (is_ckpt_name(e->d_name)) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_desc);
    return n;
}

int vb_ckpt_save_in(const char *dir, int64_t updates, const vb_ckpt_section *s, int n, int keep, char *err,
                    size_t err_len) {
    void *buf;
    size_t len;
    if (vb_ckpt_encode(s, n, &buf, &len, err, err_len) != 0) return -1;
    int rc = vb_ckpt_save_encoded_in(dir, updates, buf, len, keep, err, err_len);
    free(buf);
    return rc;
}

int vb_ckpt_save_encoded_in(const char *dir, int64_t updates, const void *buf, size_t len, int keep, char *err,
                            size_t err_len) {
    if (vb_fs_mkdirs(dir, err, err_len) != 0) return -1;
    char name[64], path[4096];
    snprintf(name, sizeof name, "ckpt-%012lld.vbc", (long long)updates);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (vb_fs_write_atomic(path, buf, len, err, err_len) != 0) return -1;
    char latest[4096], line[80];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    int ll = snprintf(line, sizeof line, "%s\n", name);
    if (vb_fs_write_atomic(latest, line, (size_t)ll, err, err_len) != 0) return -1;
    char *names[MAX_KEEP_LIST];
    int k = list_ckpts(dir, names, MAX_KEEP_LIST);
    for (int i = 0; i < k; i++) {
        if (i >= keep && strcmp(names[i], name) != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
    return 0;
}

int vb_ckpt_remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    char path[4400];
    for (struct dirent *e; (e = readdir(d));) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || strlen(t) != strlen(".tmp.XXXXXX")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += unlink(path) == 0;
    }
    closedir(d);
    return n;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int vb_ckpt_best_in(const char *path, char *out, size_t out_len) {
    if (!is_dir(path)) return 0;
    char dir[4096], best[4200];
    snprintf(dir, sizeof dir, "%s/checkpoints", path);
    if (!is_dir(dir)) snprintf(dir, sizeof dir, "%s", path);
    snprintf(best, sizeof best, "%s/" VB_CKPT_BEST, dir);
    if (access(best, F_OK) != 0) return 0;
    snprintf(out, out_len, "%s", best);
    return 1;
}

int vb_ckpt_load_newest(const char *path, vb_ckpt *out, char *chosen, size_t chosen_len,
                        void (*warn)(const char *msg), char *err, size_t err_len) {
    char dir[4096], first[4400] = "";
    bool named = false; /* path names one checkpoint file */
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s/checkpoints", path);
        if (!is_dir(dir)) snprintf(dir, sizeof dir, "%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        named = strcmp(base, "latest") != 0;
        if (named) snprintf(first, sizeof first, "%s", path);
    }
    if (!first[0]) { /* follow `latest` */
        char lp[4200];
        snprintf(lp, sizeof lp, "%s/latest", dir);
        void *data;
        size_t len;
        char lerr[256];
        if (vb_fs_read_all(lp, 256, &data, &len, lerr, sizeof lerr) == 0) {
            char *nl = strchr(data, '\n');
            if (nl) *nl = '\0';
            if (is_ckpt_name(data)) snprintf(first, sizeof first, "%s/%s", dir, (char *)data);
            free(data);
        }
    }
    char msg[1200];
    if (first[0]) {
        if (vb_ckpt_read(first, out, err, err_len) == 0) {
            snprintf(chosen, chosen_len, "%s", first);
            return 0;
        }
        /* a file named by the caller is that checkpoint or nothing: another
         * one would silently stand in for it */
        if (named) return -1;
        if (warn) {
            snprintf(msg, sizeof msg, "%s; trying older checkpoints", err);
            warn(msg);
        }
        if (!is_dir(dir)) return -1;
    }
    char *names[MAX_KEEP_LIST];
    int k = list_ckpts(dir, names, MAX_KEEP_LIST), rc = -1;
    char last_err[1024] = "";
    for (int i = 0; i < k; i++) {
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (rc != 0 && strcmp(p, first) != 0) {
            if (vb_ckpt_read(p, out, last_err, sizeof last_err) == 0) {
                snprintf(chosen, chosen_len, "%s", p);
                rc = 0;
            } else if (warn) {
                warn(last_err);
            }
        }
        free(names[i]);
    }
    if (rc != 0)
        snprintf(err, err_len, "%s: no readable checkpoint%s%s", path, last_err[0] ? " (last error: " : "",
                 last_err[0] ? last_err : "");
    if (rc != 0 && last_err[0]) strncat(err, ")", err_len - strlen(err) - 1);
    return rc;
}
