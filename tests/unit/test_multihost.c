/* Many machines without containers: tests/netns/multihost.sh puts a learner
 * and two actors in three network namespaces (own addresses, a bridge
 * between them), cuts and restores an actor's link and then the learner's,
 * and checks that the actors rejoin by address and training goes on. It
 * needs root and network namespaces; where they cannot be made the test is
 * skipped with the script's reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support.h"
#include "test_distributed_support.h"

Test(multihost, actors_on_other_hosts_join_leave_and_rejoin, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char script[1024], root[1024], cmd[4096], out[512];
    vb_test_path("tests/netns/multihost.sh", script, sizeof script);
    vb_test_path(".", root, sizeof root);
    vb_dt_path("multihost.out", out, sizeof out);
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout 240 bash '%s' '%s/work' > '%s' 2>&1", root, script, vb_dt_root(),
             out);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "the script did not exit");
    char *text = vb_dt_slurp(out);
    if (WEXITSTATUS(st) == 77) {
        const char *why = strstr(text, "skipped: ");
        cr_log_warn("multihost: %s", why ? why : text);
        free(text);
        cr_skip_test("network namespaces unavailable here: %s", why ? why + 9 : "see the script");
    }
    cr_assert_eq(WEXITSTATUS(st), 0, "multihost.sh exited %d:\n%s", WEXITSTATUS(st), text);
    cr_assert(strstr(text, "both actors rejoined"), "%s", text);
    free(text);
}
