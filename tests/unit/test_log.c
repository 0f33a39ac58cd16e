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
    double t = -1;
    cr_assert_eq(sscanf(line, "[%lf", &t), 1);
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

Test(log, level_names_parse) {
    vb_log_level l;
    cr_assert_eq(vb_log_level_parse("debug", &l), 0);
    cr_assert_eq(l, VB_LOG_DEBUG);
    cr_assert_eq(vb_log_level_parse("error", &l), 0);
    cr_assert_eq(l, VB_LOG_ERROR);
    cr_assert_neq(vb_log_level_parse("loud", &l), 0);
    cr_assert_str_eq(vb_log_level_name(VB_LOG_WARN), "warn");
}
