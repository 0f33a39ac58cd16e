/* test_distributed_support — processes, ports and files for the
 * multi-process tests of the distributed learner and actor. Every process
 * started here dies with the test (PR_SET_PDEATHSIG) and is killed by
 * vb_dt_teardown, which also removes the test's temporary folder. Every
 * wait takes a time limit, so the tests bound themselves (Criterion's
 * .timeout, run in parallel, leaks memory in its runner under ASan). */
#ifndef VB_TEST_DISTRIBUTED_SUPPORT_H
#define VB_TEST_DISTRIBUTED_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* .init / .fini of a test: a fresh temporary folder; then every spawned
 * process killed and the folder removed. */
void vb_dt_setup(void);
void vb_dt_teardown(void);
/* The test's temporary folder. */
const char *vb_dt_root(void);
/* root/name into buf. */
const char *vb_dt_path(const char *name, char *buf, size_t len);

/* Start a repository binary with a NULL-terminated argument list, stdout and
 * stderr appended to log (a path). */
pid_t vb_dt_spawn(const char *program, const char *const *args, const char *log);
/* Wait for pid to exit: its status (exit code, or 128 + signal), or -1 when
 * it is still running after timeout_s. */
int vb_dt_wait(pid_t pid, double timeout_s);
bool vb_dt_alive(pid_t pid);

/* A file's contents (NUL-terminated, malloc'd; "" when missing). */
char *vb_dt_slurp(const char *path);
/* What `python3 scripts/SCRIPT ARGS`, run in the repository, printed on
 * stdout and stderr (malloc'd), and its exit status in *rc. */
char *vb_dt_script(const char *script, const char *args, int *rc);
/* Occurrences of needle in text. */
int vb_dt_count(const char *text, const char *needle);
/* Wait until the file holds needle at least count times; false on timeout. */
bool vb_dt_wait_for(const char *path, const char *needle, int count, double timeout_s);
/* The value of "key":number in the last line of a metrics file holding one
 * (-1 when none). */
double vb_dt_metric(const char *metrics_path, const char *key);
/* Wait until that value reaches at least v; false on timeout. */
bool vb_dt_wait_metric(const char *metrics_path, const char *key, double v, double timeout_s);

/* ./learner on configs/smoke.yaml (rl2) in the test's folder as run `name`,
 * on ports port..port+2 of 127.0.0.1, with fast heartbeats (100 ms),
 * actors.timeout_ms 2000 and metrics every 0.1 s; then the NULL-terminated
 * assignments in sets (later ones win). */
pid_t vb_dt_start_learner(const char *name, int port, const char *const *sets, const char *log);
/* Send a Register{name "scripted", instance} on a DEALER: whether the socket
 * took it (one with nowhere to send, e.g. refused by CURVE, may not). */
bool vb_dt_send_register(void *ctl, uint64_t instance);

/* A port P such that P, P+1 and P+2 are free on 127.0.0.1 now. */
int vb_dt_free_ports(void);

#endif
