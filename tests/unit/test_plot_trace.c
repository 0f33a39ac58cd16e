/* scripts/plot_trace.py --stats on hand-written traces: the search counts of
 * the tasks whose first episode missed the goal, and, where the trace holds
 * the learned belief beside the exact posterior, the belief's L1 distance
 * and the hit probability it gives ruled-out cells per episode, over the
 * steps until the goal is first found; a trace without belief columns (an
 * agent that keeps none) prints no belief line. --belief-out draws the
 * belief step by step (skipped, saying so, without matplotlib) and refuses
 * traces that have no belief. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "test_distributed_support.h"

/* Two hand-written tasks, with the belief columns, at path. */
static void write_trace(const char *path) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("task,step,episode,action,reward,cell,task_best_cell,exact_hit,belief_hit,belief_l1\n", f);
    /* task 0, two episodes of 3 steps: misses in episode 1 (a wall: cell 2
     * twice), finds the goal (cell 4) at its second step of episode 2; the
     * step after the find is left out of the belief's statistics */
    fputs("0,0,0,1,-0.1,2,4,0.25,0.3,0.4\n"
          "0,1,0,1,-0.1,2,4,0,0.2,0.6\n"
          "0,2,0,2,-0.1,3,4,0.5,0.4,0.8\n"
          "0,3,1,1,-0.1,2,4,0,0.1,1.0\n"
          "0,4,1,2,1,4,4,1,0.5,1.2\n"
          "0,5,1,0,1,4,4,1,0.9,9.0\n",
          f);
    /* task 1: finds the goal at once (not a miss; its belief steps count) */
    fputs("1,0,0,2,1,4,4,0.5,0.5,0.2\n"
          "1,1,0,0,1,4,4,1,1,0\n"
          "1,2,0,0,1,4,4,1,1,0\n"
          "1,3,1,3,-0.1,3,4,0,0,0\n"
          "1,4,1,2,1,4,4,1,1,0\n"
          "1,5,1,0,1,4,4,1,1,0\n",
          f);
    /* task 2: enters a cell the prior rules out (1), then finds the goal */
    fputs("2,0,0,1,-0.1,1,4,0,0.05,0.3\n"
          "2,1,0,1,1,4,4,0.35,0.6,0.1\n"
          "2,2,0,0,1,4,4,1,1,0\n"
          "2,3,1,3,-0.1,3,4,0,0,0\n"
          "2,4,1,2,1,4,4,1,1,0\n"
          "2,5,1,0,1,4,4,1,1,0\n",
          f);
    fclose(f);
}

/* A trace of an agent without a belief (empty belief columns) at path. */
static void write_trace_without_belief(const char *path) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("task,step,episode,action,reward,cell,task_best_cell,exact_hit,belief_hit,belief_l1\n"
          "0,0,0,1,-0.1,2,4,0.25,,\n0,1,0,2,1,4,4,0.5,,\n",
          f);
    fclose(f);
}

Test(plot_trace, stats_of_the_search_and_of_the_belief, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char a[1024], args[2200];
    vb_dt_path("a.csv", a, sizeof a);
    write_trace(a);
    int rc;
    snprintf(args, sizeof args, "--stats 'agent=%s'", a);
    char *t = vb_dt_script("plot_trace.py", args, &rc);
    cr_assert_eq(rc, 0, "%s", t);
    /* task 0 alone missed: one step standing off the goal (2 -> 2), 2 and 2 distinct cells */
    cr_assert(strstr(t, "agent: first episode missed in 1 of 3 tasks; over those, per episode: steps standing off "
                        "the goal 1.0, 0.0; distinct cells 2.0, 2.0"),
              "%s", t);
    /* episode 1: task 0's three steps, task 1's first and task 2's two,
     * (0.4 + 0.6 + 0.8 + 0.2 + 0.3 + 0.1) / 6; episode 2: task 0's two
     * steps, (1.0 + 1.2) / 2; ruled out (exact 0): (0.2 + 0.05) / 2 in
     * episode 1, 0.1 in episode 2 */
    cr_assert(strstr(t, "agent: belief until the goal is found, per episode: L1 to the exact posterior 0.400, 1.100; "
                        "hit probability on a cell ruled out 0.125, 0.100 (exact 0); steps 6, 2"),
              "%s", t);
    /* by cell: task 0 moves into a wall at cell 2 in episode 1 (0.2) and
     * enters cell 2 again in episode 2 (0.1); task 2's cell 1 is entered first
     * at exact 0 (0.05); the open cells of episode 1 (0.3 + 0.4 + 0.5 + 0.6)
     * / 4 against (0.25 + 0.5 + 0.5 + 0.35) / 4, of episode 2 task 0's find,
     * 0.5 against 1 */
    cr_assert(strstr(t, "agent: hit probability per episode at the cell it stands in, moving into a wall 0.200, -; "
                        "at a cell entered earlier -, 0.100; entered first, ruled out by the prior 0.050, - "
                        "(exact 0 for all three); at a cell still open 0.450, 0.500 (exact 0.400, 1.000)"),
              "%s", t);
    free(t);
    /* an agent without a belief: no belief line */
    write_trace_without_belief(a);
    t = vb_dt_script("plot_trace.py", args, &rc);
    cr_assert_eq(rc, 0, "%s", t);
    cr_assert_null(strstr(t, "belief until"), "%s", t);
    free(t);
}

Test(plot_trace, the_belief_step_by_step, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    if (system("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0)
        cr_skip_test("python3 has no matplotlib (make deps installs python3-matplotlib)");
    char a[1024], png[1024], args[2200];
    vb_dt_path("a.csv", a, sizeof a);
    vb_dt_path("belief.png", png, sizeof png);
    write_trace(a);
    snprintf(args, sizeof args, "'agent=%s' --belief-out '%s'", a, png);
    int rc;
    char *t = vb_dt_script("plot_trace.py", args, &rc);
    cr_assert_eq(rc, 0, "%s", t);
    cr_assert(strstr(t, "the belief of 1 traces"), "%s", t);
    free(t);
    FILE *pf = fopen(png, "rb");
    unsigned char magic[4] = {0};
    cr_assert_not_null(pf, "no %s", png);
    cr_assert_eq(fread(magic, 1, 4, pf), 4);
    fclose(pf);
    cr_assert(magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G', "not a PNG");
    /* a trace without belief columns is refused */
    write_trace_without_belief(a);
    t = vb_dt_script("plot_trace.py", args, &rc);
    cr_assert_neq(rc, 0, "%s", t);
    cr_assert(strstr(t, "no trace has belief columns"), "%s", t);
    free(t);
}
