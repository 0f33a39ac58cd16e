/* Run folders never lose data: starting a run into a folder that holds one is
 * refused unless resuming, a folder in use by a running learner is refused,
 * a start that fails (a taken port) leaves the folder as it was, and the run
 * files are readable by others (a host user reading a container's run). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "test_distributed_support.h"

/* Every file under dir with its MD5, one per line, sorted (malloc'd). */
static char *fingerprint(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd '%s' && find . -type f -exec md5sum {} + | sort", dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    n = fread(buf, 1, cap - 1, p);
    buf[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s", cmd);
    return buf;
}

/* A free port bound and listened on by this process (the learner cannot
 * take it): the socket, and the port in *port. */
static int take_port(int *port) {
    *port = vb_dt_free_ports();
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s, 1), 0);
    return s;
}

static void learner(vb_test_proc *p, const char *const *extra) {
    char cfg[1024], rootset[256];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    const char *args[32] = {"--config", cfg, "--set", rootset, "--set", "run.name=r", "--set", "run.algo=rl2"};
    int n = 8;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    vb_test_run(p, "learner", args);
}

static void finished_run(char *dir, size_t len) {
    vb_test_proc p;
    learner(&p, (const char *[]){"--serial", "--set", "eval.every_updates=50", "--set", "eval.tasks=8", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    vb_dt_path("r", dir, len);
}

Test(run_folder, rerunning_a_finished_run_is_refused_and_changes_nothing, .init = vb_dt_setup,
     .fini = vb_dt_teardown) {
    char dir[256];
    finished_run(dir, sizeof dir);
    char *before = fingerprint(dir);
    cr_assert(strstr(before, "metrics.jsonl") && strstr(before, "evals.jsonl") && strstr(before, "ckpt-"), "%s",
              before);
    for (int serial = 0; serial < 2; serial++) {
        vb_test_proc p;
        learner(&p, serial ? (const char *[]){"--serial", NULL} : (const char *[]){"--set", "actors.local=0", NULL});
        cr_assert_eq(p.status, 2, "exit %d:\n%s", p.status, p.err);
        cr_assert(strstr(p.err, "already holds a run") && strstr(p.err, "--resume") && strstr(p.err, "run.name"),
                  "%s", p.err);
        vb_test_proc_free(&p);
    }
    char *after = fingerprint(dir);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

/* A port taken by someone else: the resumed distributed learner cannot bind
 * and exits, and the run folder is byte-identical. */
Test(run_folder, a_failed_resume_changes_nothing, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char dir[256];
    finished_run(dir, sizeof dir);
    char *before = fingerprint(dir);
    int port, s = take_port(&port);
    char portset[64];
    snprintf(portset, sizeof portset, "learner.port=%d", port);
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--resume", dir, "--set", portset, "--set", "learner.bind=127.0.0.1", "--set",
                                 "run.total_env_steps=8000", NULL});
    close(s);
    cr_assert_eq(p.status, 1, "exit %d:\n%s", p.status, p.err);
    cr_assert(strstr(p.err, "cannot bind"), "%s", p.err);
    vb_test_proc_free(&p);
    char *after = fingerprint(dir);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

/* A fresh start that fails leaves no folder behind. */
Test(run_folder, a_failed_fresh_start_leaves_no_folder, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    int port, s = take_port(&port);
    char portset[64], dir[256];
    snprintf(portset, sizeof portset, "learner.port=%d", port);
    vb_test_proc p;
    learner(&p, (const char *[]){"--set", portset, "--set", "learner.bind=127.0.0.1", NULL});
    close(s);
    cr_assert_eq(p.status, 1, "exit %d:\n%s", p.status, p.err);
    vb_test_proc_free(&p);
    cr_assert_neq(access(vb_dt_path("r", dir, sizeof dir), F_OK), 0, "%s was left behind", dir);
}

/* While a learner runs, a second one on its folder is refused, even with
 * --resume; the first goes on and ends normally. */
Test(run_folder, a_folder_in_use_is_refused, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char cfg[1024], rootset[256], log[256], metrics[256], dir[256];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    vb_dt_path("first.log", log, sizeof log);
    pid_t first = vb_dt_spawn("learner",
                              (const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=r",
                                               "--set", "run.algo=rl2", "--set", "run.total_env_steps=1000000000",
                                               "--set", "log.interval_s=0.05", "--set",
                                               "learner.checkpoint_every=50", NULL},
                              log);
    vb_dt_path("r/metrics.jsonl", metrics, sizeof metrics);
    cr_assert(vb_dt_wait_metric(metrics, "updates", 100, 60), "the first learner did not train");
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--resume", vb_dt_path("r", dir, sizeof dir), "--serial", "--set",
                                 "run.total_env_steps=1000000000", NULL});
    cr_assert_eq(p.status, 2, "exit %d:\n%s", p.status, p.err);
    cr_assert(strstr(p.err, "in use by another learner"), "%s", p.err);
    vb_test_proc_free(&p);
    cr_assert(vb_dt_alive(first));
    kill(first, SIGTERM);
    cr_assert_eq(vb_dt_wait(first, 60), 0);
}

Test(run_folder, run_files_are_readable_by_others, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char dir[256], path[512];
    finished_run(dir, sizeof dir);
    const char *files[] = {"config.yaml", "metrics.jsonl", "checkpoints/latest"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "%s", path);
        cr_assert(st.st_mode & S_IROTH, "%s is %o", path, st.st_mode & 0777);
    }
}

/* provenance.jsonl gets one line per learner start, never rewritten: when,
 * host, pid, version, commit, mode, whether it resumed, the command line. */
Test(run_folder, provenance_and_log_files, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char dir[256], path[512];
    finished_run(dir, sizeof dir);
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--resume", dir, "--serial", "--set", "run.total_env_steps=2400", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    snprintf(path, sizeof path, "%s/provenance.jsonl", dir);
    char *prov = vb_dt_slurp(path);
    cr_assert_eq(vb_dt_count(prov, "\n"), 2, "%s", prov);
    const char *keys[] = {"\"started\":\"20", "\"host\":\"", "\"pid\":", "\"version\":\"", "\"commit\":",
                          "\"mode\":\"serial\"", "\"argv\":[", "\"--serial\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_eq(vb_dt_count(prov, keys[i]), 2, "%s twice in:\n%s", keys[i], prov);
    cr_assert_eq(vb_dt_count(prov, "\"resumed\":false"), 1, "%s", prov);
    cr_assert_eq(vb_dt_count(prov, "\"resumed\":true"), 1, "%s", prov);
    free(prov);
    snprintf(path, sizeof path, "%s/logs/learner.log", dir);
    char *log = vb_dt_slurp(path);
    cr_assert(strstr(log, "Z ") && strstr(log, " learner ") && strstr(log, "final checkpoint in"), "%s", log);
    free(log);
}

/* A run folder copied elsewhere and resumed there goes on in the copy: the
 * copy gets the new checkpoints, metrics and provenance line, and the
 * original is byte-identical; --set run.name still chooses another folder. */
Test(run_folder, a_copied_run_resumes_in_the_copy, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char dir[256], copy[256], other[256], cmd[1024], path[512];
    finished_run(dir, sizeof dir);
    vb_dt_path("moved", copy, sizeof copy);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -r '%s' '%s/r2'", copy, dir, copy);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(copy + strlen(copy), sizeof copy - strlen(copy), "/r2");
    char *before = fingerprint(dir);
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--resume", copy, "--serial", "--set", "run.total_env_steps=2400", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    char *after = fingerprint(dir);
    cr_assert_str_eq(before, after, "the original run folder changed");
    free(after);
    snprintf(path, sizeof path, "%s/provenance.jsonl", copy);
    char *prov = vb_dt_slurp(path);
    cr_assert_eq(vb_dt_count(prov, "\"resumed\":true"), 1, "%s", prov);
    free(prov);
    snprintf(path, sizeof path, "%s/logs/learner.log", copy);
    char *log = vb_dt_slurp(path);
    cr_assert_eq(vb_dt_count(log, "/moved/r2: "), 1, "%s", log);
    cr_assert_eq(vb_dt_count(log, "final checkpoint in"), 2, "%s", log);
    free(log);
    /* its checkpoints/ folder and a file in it name the same run folder */
    snprintf(path, sizeof path, "%s/checkpoints", copy);
    vb_test_run(&p, "learner", (const char *[]){"--resume", path, "--print-config", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.out, "name: \"r2\""), "%s", p.out);
    vb_test_proc_free(&p);
    /* an explicit run.name continues into a new folder beside it */
    vb_test_run(&p, "learner",
                (const char *[]){"--resume", copy, "--serial", "--set", "run.name=r3", "--set",
                                 "run.total_env_steps=3600", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    snprintf(other, sizeof other, "%s/../r3/provenance.jsonl", copy);
    cr_assert_eq(access(other, F_OK), 0, "no run folder r3 beside the copy");
    cr_assert_str_eq(before, (after = fingerprint(dir)));
    free(after);
    free(before);
}

/* The distributed learner's local actors log into the run folder too. */
Test(run_folder, local_actors_log_into_the_run_folder, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], path[256], port[64], cfg[1024], rootset[256];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    snprintf(port, sizeof port, "learner.port=%d", vb_dt_free_ports());
    vb_dt_path("learner.out", log, sizeof log);
    pid_t l = vb_dt_spawn("learner",
                          (const char *[]){"--config", cfg, "--set", rootset, "--set", "run.name=d", "--set", port,
                                           "--set", "learner.bind=127.0.0.1", "--set", "actors.local=1", "--set",
                                           "run.algo=rl2", "--set", "run.total_env_steps=8000", NULL},
                          log);
    int st = vb_dt_wait(l, 120);
    char *out = vb_dt_slurp(log);
    cr_assert_eq(st, 0, "%s", out);
    free(out);
    char *a = vb_dt_slurp(vb_dt_path("d/logs/local-0.log", path, sizeof path));
    cr_assert(strstr(a, " actor ") && strstr(a, "registered with run"), "%s", a);
    free(a);
    char *prov = vb_dt_slurp(vb_dt_path("d/provenance.jsonl", path, sizeof path));
    cr_assert(strstr(prov, "\"mode\":\"distributed\""), "%s", prov);
    free(prov);
}
