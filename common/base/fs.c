#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_full(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int vb_fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    char *dir = strdup(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return snprintf(err, err_len, "%s: out of memory", path), -1;
    }
    snprintf(tmp, plen + 32, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot create temporary file: %s", path, strerror(errno));
        goto out;
    }
    /* mkstemp makes 0600; run files are for whoever reads the run (a host
     * user reading a container's run folder included), like fopen's 0644 */
    if (fchmod(fd, 0644) != 0 || write_full(fd, data, len) != 0 || fsync(fd) != 0) {
        snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, err_len, "%s: cannot replace file: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    free(tmp);
    free(dir);
    return rc;
}

int vb_fs_read_all(const char *path, size_t max_len, void **data, size_t *len, char *err, size_t err_len) {
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno)), -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return snprintf(err, err_len, "%s: not a regular file", path), -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno)), -1;
    }
    if ((uint64_t)st.st_size > max_len) {
        fclose(f);
        return snprintf(err, err_len, "%s: %lld bytes exceeds the limit of %zu", path,
                        (long long)st.st_size, max_len), -1;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return snprintf(err, err_len, "%s: out of memory", path), -1;
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        free(buf);
        return snprintf(err, err_len, "%s: short read", path), -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int vb_fs_mkdirs(const char *path, char *err, size_t err_len) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return snprintf(err, err_len, "path too long"), -1;
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(err, err_len, "%s: cannot create folder: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return snprintf(err, err_len, "%s: not a folder", path), -1;
    return 0;
}
