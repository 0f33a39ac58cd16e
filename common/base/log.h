/* log — leveled, timestamped log lines on stderr, and in a file when one is
 * set.
 *
 * Every line carries the wall-clock time (UTC, milliseconds), a monotonic
 * timestamp (seconds since the process set its role), the role ("learner",
 * "actor", ...), the pid and the level:
 *
 *   [2026-12-04T17:40:01.123Z    12.345678 learner 4242 INFO ] message
 *
 * One line is written with one fputs of a preformatted buffer, so lines from
 * several threads never interleave mid-line. */
#ifndef VB_LOG_H
#define VB_LOG_H

#include <stdarg.h>

typedef enum vb_log_level {
    VB_LOG_DEBUG = 0,
    VB_LOG_INFO = 1,
    VB_LOG_WARN = 2,
    VB_LOG_ERROR = 3,
    VB_LOG_OFF = 4,
} vb_log_level;

/* Set the role shown in every line and restart the timestamp clock. */
void vb_log_init(const char *role, vb_log_level level);
/* Change the threshold; lines below it are dropped. */
void vb_log_set_level(vb_log_level level);
vb_log_level vb_log_get_level(void);
/* Parse "debug|info|warn|error|off"; returns 0 or -1 on an unknown name. */
int vb_log_level_parse(const char *name, vb_log_level *out);
const char *vb_log_level_name(vb_log_level level);

/* Also append every line to the file at path (created 0644 if new), until
 * the process ends or vb_log_close_file. 0, or -1 (errno set). */
int vb_log_set_file(const char *path);
void vb_log_close_file(void);

void vb_log(vb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vb_logv(vb_log_level level, const char *fmt, va_list ap);

#define vb_debug(...) vb_log(VB_LOG_DEBUG, __VA_ARGS__)
#define vb_info(...) vb_log(VB_LOG_INFO, __VA_ARGS__)
#define vb_warn(...) vb_log(VB_LOG_WARN, __VA_ARGS__)
#define vb_error(...) vb_log(VB_LOG_ERROR, __VA_ARGS__)

#endif
