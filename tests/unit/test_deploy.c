/* deploy/docker-compose.yml is valid for both profiles (docker-compose
 * config; no container is started: these machines cannot run them). Skipped,
 * saying so, where docker-compose is not installed (make deps installs it). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support.h"

static int run(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(deploy, compose_file_validates_for_both_profiles) {
    if (run("command -v docker-compose >/dev/null 2>&1") != 0)
        cr_skip_test("docker-compose is not installed (make deps installs it)");
    char file[1024], cmd[2048];
    vb_test_path("deploy/docker-compose.yml", file, sizeof file);
    const char *profiles[] = {"gpu", "cpu"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "docker-compose -f '%s' --profile %s config -q 2>&1", file, profiles[i]);
        cr_assert_eq(run(cmd), 0, "%s", cmd);
        /* the learner is reachable as "learner" and publishes nothing on the host */
        snprintf(cmd, sizeof cmd,
                 "docker-compose -f '%s' --profile %s config | grep -q 'aliases:' && "
                 "! docker-compose -f '%s' --profile %s config | grep -q '^ *ports:'",
                 file, profiles[i], file, profiles[i]);
        cr_assert_eq(run(cmd), 0, "%s", cmd);
    }
    /* CURVE on the compose network: the learner binds with keys, actors pin its key */
    snprintf(cmd, sizeof cmd,
             "docker-compose -f '%s' --profile cpu config | grep -q 'learner.keys=keys' && "
             "docker-compose -f '%s' --profile cpu config | grep -q -- '--keys'",
             file, file);
    cr_assert_eq(run(cmd), 0, "the compose services do not use CURVE keys");
    snprintf(cmd, sizeof cmd, "docker-compose -f '%s' --profile gpu config | grep -q 'driver: nvidia'", file);
    cr_assert_eq(run(cmd), 0, "the gpu profile reserves no GPU");
}
