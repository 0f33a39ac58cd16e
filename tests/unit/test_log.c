#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"

static void redirect(void) { cr_redirect_stderr(); }

Test(log, line_has_timestamp_role_pid_and_level, .init = redirect) {
    vb_log_init("tester", VB_LOG_DEBUG);
    vb_info("hello %d", 42);
    fflush(stderr);
    char expect[64];
    snprintf(expect, sizeof expect, " tester %ld INFO ] hello 42\n", (long)getpid());
    FILE *f = cr_get_redirected_stderr();
    char line[256] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_eq(line[0], '[');
    cr_assert(strstr(line, expect), "got: %s", line);
    int y, mo, d, h, mi, sec, ms;
    double t = -1;
    cr_assert_eq(sscanf(line, "[%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %lf", &y, &mo, &d, &h, &mi, &sec, &ms, &t), 8, "got: %s",
                 line);
    cr_assert(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec <= 60 && ms < 1000,
              "got: %s", line);
    cr_assert(t >= 0 && t < 60);
}

Test(log, lines_below_threshold_are_dropped, .init = redirect) {
    vb_log_init("tester", VB_LOG_WARN);
    vb_debug("no");
    vb_info("no");
    vb_warn("yes-warn");
    vb_error("yes-error");
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char buf[1024] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    cr_assert_null(strstr(buf, "no\n"));
    cr_assert(strstr(buf, "WARN ] yes-warn\n"), "%s", buf);
    cr_assert(strstr(buf, "ERROR] yes-error\n"), "%s", buf);
}

Test(log, lines_also_go_to_the_log_file, .init = redirect) {
    char path[] = "/tmp/vb_log_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    vb_log_init("tester", VB_LOG_INFO);
    cr_assert_eq(vb_log_set_file(path), 0);
    vb_info("to the file %d", 7);
    vb_log_close_file();
    vb_info("not to the file");
    FILE *f = fopen(path, "r");
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    cr_assert(strstr(buf, "INFO ] to the file 7\n"), "%s", buf);
    cr_assert_null(strstr(buf, "not to the file"), "%s", buf);
}

Test(log, level_names_parse) {
    vb_log_level l;
    cr_assert_eq(vb_log_level_parse("debug", &l), 0);
    cr_assert_eq(l, VB_LOG_DEBUG);
    cr_assert_eq(vb_log_level_parse("error", &l), 0);
    cr_assert_eq(l, VB_LOG_ERROR);
    cr_assert_neq(vb_log_level_parse("loud", &l), 0);
    cr_assert_str_eq(vb_log_level_name(VB_LOG_WARN), "warn");
}
