/* keys — see keys.h. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../base/fs.h"

enum { MAX_KEY_FILE = 1 << 20 };

static const char Z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool vb_keys_supported(void) { return zmq_has("curve") != 0; }

bool vb_key_valid(const char *s) {
    if (!s || strlen(s) != VB_KEY_Z85) return false;
    for (const char *c = s; *c; c++)
        if (!strchr(Z85, *c)) return false;
    /* the 32 bytes must decode (Z85 digits of a 4-byte group < 2^32) */
    unsigned char raw[32];
    return zmq_z85_decode(raw, s) != NULL;
}

/* Create path exclusively with mode and write text. */
static int write_new(const char *path, mode_t mode, const char *text, char *err, size_t err_len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return snprintf(err, err_len, "%s: %s", path,
                        errno == EEXIST ? "exists already (keys are never overwritten)" : strerror(errno)), -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int bad = w != (ssize_t)n || fsync(fd) != 0;
    if (close(fd) != 0) bad = 1;
    if (bad) return snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno)), -1;
    return 0;
}

static int new_pair(const char *dir, const char *role, char pub[VB_KEY_Z85 + 1], char *err, size_t err_len) {
    char sec[VB_KEY_Z85 + 1], path[4200], text[256];
    if (zmq_curve_keypair(pub, sec) != 0) return snprintf(err, err_len, "cannot make a key pair: %s", zmq_strerror(errno)), -1;
    snprintf(path, sizeof path, "%s/%s.key", dir, role);
    snprintf(text, sizeof text, "# varibased %s key pair (CURVE, Z85); keep it secret\npublic: %s\nsecret: %s\n", role,
             pub, sec);
    if (write_new(path, 0600, text, err, err_len) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s.pub", dir, role);
    snprintf(text, sizeof text, "%s\n", pub);
    return write_new(path, 0644, text, err, err_len);
}

int vb_keys_generate(const char *dir, const char *role, char *err, size_t err_len) {
    if (!vb_keys_supported()) return snprintf(err, err_len, "this libzmq was built without CURVE"), -1;
    if (vb_fs_mkdirs(dir, err, err_len) != 0) return -1;
    char pub[VB_KEY_Z85 + 1], apub[VB_KEY_Z85 + 1];
    if (new_pair(dir, role, pub, err, err_len) != 0) return -1;
    if (strcmp(role, "learner") != 0) return 0;
    if (new_pair(dir, "actor", apub, err, err_len) != 0) return -1;
    char path[4200], text[256];
    snprintf(path, sizeof path, "%s/allowed_actors", dir);
    snprintf(text, sizeof text, "# actor public keys the learner admits, one per line\n%s\n", apub);
    return write_new(path, 0644, text, err, err_len);
}

/* The next line of text (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cursor) {
    char *s = *cursor;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static int read_text(const char *path, char **text, char *err, size_t err_len) {
    void *buf;
    size_t len;
    if (vb_fs_read_all(path, MAX_KEY_FILE, &buf, &len, err, err_len) != 0) return -1;
    if (memchr(buf, '\0', len)) {
        free(buf);
        return snprintf(err, err_len, "%s: not a text file", path), -1;
    }
    *text = buf;
    return 0;
}

int vb_keypair_load(const char *path, vb_keypair *kp, char *err, size_t err_len) {
    memset(kp, 0, sizeof *kp);
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        return snprintf(err, err_len, "%s: a secret key readable by others (mode %03o); chmod 600 it", path,
                        (unsigned)(st.st_mode & 0777)), -1;
    char *text, *cur;
    if (read_text(path, &text, err, err_len) != 0) return -1;
    cur = text;
    for (char *line; (line = next_line(&cur));) {
        if (!*line || *line == '#') continue;
        char *dst = strncmp(line, "public:", 7) == 0 ? kp->pub : strncmp(line, "secret:", 7) == 0 ? kp->sec : NULL;
        const char *v = line + 7;
        while (*v == ' ') v++;
        if (!dst || !vb_key_valid(v)) {
            free(text);
            return snprintf(err, err_len, "%s: expected 'public: KEY' and 'secret: KEY' lines (40-character Z85 keys)",
                            path), -1;
        }
        memcpy(dst, v, VB_KEY_Z85 + 1);
    }
    free(text);
    if (!kp->pub[0] || !kp->sec[0]) return snprintf(err, err_len, "%s: needs both a public and a secret key", path), -1;
    char derived[VB_KEY_Z85 + 1];
    if (zmq_curve_public(derived, kp->sec) != 0 || strcmp(derived, kp->pub) != 0)
        return snprintf(err, err_len, "%s: the public key does not belong to the secret key", path), -1;
    return 0;
}

int vb_pubkey_load(const char *path, char out[VB_KEY_Z85 + 1], char *err, size_t err_len) {
    char *text, *cur;
    if (read_text(path, &text, err, err_len) != 0) return -1;
    cur = text;
    out[0] = '\0';
    for (char *line; (line = next_line(&cur));) {
        if (!*line || *line == '#') continue;
        if (out[0] || !vb_key_valid(line)) {
            free(text);
            return snprintf(err, err_len, "%s: expected one 40-character Z85 public key", path), -1;
        }
        memcpy(out, line, VB_KEY_Z85 + 1);
    }
    free(text);
    if (!out[0]) return snprintf(err, err_len, "%s: no public key in it", path), -1;
    return 0;
}

int vb_allowlist_load(const char *path, vb_allowlist *a, char *err, size_t err_len) {
    memset(a, 0, sizeof *a);
    char *text, *cur;
    if (read_text(path, &text, err, err_len) != 0) return -1;
    a->key = calloc(VB_KEYS_MAX_ALLOWED, sizeof *a->key);
    if (!a->key) {
        free(text);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    cur = text;
    int lineno = 0;
    for (char *line; (line = next_line(&cur));) {
        lineno++;
        if (!*line || *line == '#') continue;
        if (!vb_key_valid(line) || a->n == VB_KEYS_MAX_ALLOWED) {
            snprintf(err, err_len, "%s:%d: %s", path, lineno,
                     a->n == VB_KEYS_MAX_ALLOWED ? "more keys than the 4096 allowed"
                                                 : "not a 40-character Z85 public key");
            free(text);
            vb_allowlist_free(a);
            return -1;
        }
        memcpy(a->key[a->n++], line, VB_KEY_Z85 + 1);
    }
    free(text);
    return 0;
}

bool vb_allowlist_has(const vb_allowlist *a, const char *z85) {
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->key[i], z85) == 0) return true;
    return false;
}

void vb_allowlist_free(vb_allowlist *a) {
    free(a->key);
    memset(a, 0, sizeof *a);
}
