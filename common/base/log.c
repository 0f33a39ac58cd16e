/* log — see log.h. The logger's state is process-wide by nature (stderr is). */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_role[32] = "varibased";
static atomic_int g_level = VB_LOG_INFO;
static struct timespec g_t0;
static int g_t0_set;

static FILE *g_file; /* lines are appended here too, when set */

int vb_log_set_file(const char *path) {
    FILE *f = fopen(path, "a");
    if (!f) return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    vb_log_close_file();
    g_file = f;
    return 0;
}

void vb_log_close_file(void) {
    if (g_file) fclose(g_file);
    g_file = NULL;
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static const char *const level_tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};

void vb_log_init(const char *role, vb_log_level level) {
    snprintf(g_role, sizeof g_role, "%s", role ? role : "varibased");
    atomic_store(&g_level, (int)level);
    clock_gettime(CLOCK_MONOTONIC, &g_t0);
    g_t0_set = 1;
}

void vb_log_set_level(vb_log_level level) { atomic_store(&g_level, (int)level); }

vb_log_level vb_log_get_level(void) { return (vb_log_level)atomic_load(&g_level); }

int vb_log_level_parse(const char *name, vb_log_level *out) {
    for (int i = 0; i <= VB_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (vb_log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *vb_log_level_name(vb_log_level level) {
    if ((int)level < 0 || level > VB_LOG_OFF) return "?";
    return level_names[level];
}

void vb_logv(vb_log_level level, const char *fmt, va_list ap) {
    if ((int)level < atomic_load(&g_level) || level >= VB_LOG_OFF) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!g_t0_set) {
        g_t0 = now;
        g_t0_set = 1;
    }
    double t = (double)(now.tv_sec - g_t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - g_t0.tv_nsec);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct tm tm;
    gmtime_r(&wall.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "[%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %12.6f %s %ld %s] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, wall.tv_nsec / 1000000L, t, g_role,
                     (long)getpid(), level_tags[level]);
    if (n < 0) return;
    if ((size_t)n < sizeof line) {
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        if (m > 0) n += m;
    }
    if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stderr);
    if (g_file) fputs(line, g_file);
}

void vb_log(vb_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vb_logv(level, fmt, ap);
    va_end(ap);
}
