/* scripts/search_split.py splits per-task returns by whether an agent found
 * the goal in episode 1: four hand-written tasks, two agents, each agent
 * split by its own first episode and (--by) by the other's; agents that hold
 * different tasks are refused with a clear error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "test_distributed_support.h"

static void write_csv(const char *path, const char *rows) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("task,return,episode_1,episode_2,episode_3,episode_4\n", f);
    fputs(rows, f);
    fclose(f);
}

Test(search_split, splits_by_the_first_episode, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char a[1024], b[1024], c[1024], args[4096];
    vb_dt_path("a.csv", a, sizeof a);
    vb_dt_path("b.csv", b, sizeof b);
    vb_dt_path("c.csv", c, sizeof c);
    /* A: finds tasks 0 and 3 in episode 1; task 1 in episode 2; task 2 never */
    write_csv(a, "0,38,5,11,11,11\n1,19,-1.5,8,11,11\n2,-6,-1.5,-1.5,-1.5,-1.5\n3,33,3,10,10,10\n");
    /* B: finds every goal in episode 1 but task 3's, which it finds in episode 2 */
    write_csv(b, "0,40,7,11,11,11\n1,40,7,11,11,11\n2,40,7,11,11,11\n3,26,-1.5,5.5,11,11\n");
    write_csv(c, "0,40,7,11,11,11\n1,40,7,11,11,11\n2,40,7,11,11,11\n");
    int rc;
    snprintf(args, sizeof args, "A=%s B=%s", a, b);
    char *t = vb_dt_script("search_split.py", args, &rc);
    cr_assert_eq(rc, 0, "%s", t);
    /* own splits: A 2 found (5 and 3 in episode 1: mean 4) and 2 missed, one of them never found */
    cr_assert(strstr(t, "A  found  2  0.500  4.00 ± 1.00  10.50 ± 0.50"), "%s", t);
    cr_assert(strstr(t, "A  not found  2  0.500  -1.50 ± 0.00  3.25 ± 4.75"), "%s", t);
    cr_assert(strstr(t, "0.500\nB  found  3  0.750"), "A's missed tasks: half never found\n%s", t);
    cr_assert(strstr(t, "B  not found  1  0.250  -1.50 ± nan  5.50 ± nan  11.00 ± nan  11.00 ± nan  0.000"), "%s", t);
    free(t);
    /* paired: B's returns on the tasks A found and missed */
    snprintf(args, sizeof args, "A=%s B=%s --by A", a, b);
    t = vb_dt_script("search_split.py", args, &rc);
    cr_assert_eq(rc, 0, "%s", t);
    cr_assert(strstr(t, "B  found by A  2  0.500  2.75 ± 4.25"), "%s", t);
    cr_assert(strstr(t, "B  not found by A  2  0.500  7.00 ± 0.00"), "%s", t);
    free(t);
    /* refused: other tasks, an unknown --by, a missing file */
    snprintf(args, sizeof args, "A=%s C=%s", a, c);
    t = vb_dt_script("search_split.py", args, &rc);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(t, "C holds other tasks than A"), "%s", t);
    free(t);
    snprintf(args, sizeof args, "A=%s --by Z", a);
    t = vb_dt_script("search_split.py", args, &rc);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(t, "--by Z: no such agent"), "%s", t);
    free(t);
    t = vb_dt_script("search_split.py", "A=/nonexistent/a.csv", &rc);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(t, "/nonexistent/a.csv"), "%s", t);
    free(t);
}
