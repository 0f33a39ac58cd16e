/* support — helpers shared by the unit tests. */
#ifndef VB_TEST_SUPPORT_H
#define VB_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file in the repository (VB_ROOT, or the working directory). */
const char *vb_test_path(const char *rel, char *buf, size_t len);

/* Output of a finished child process. */
typedef struct vb_test_proc {
    int status;     /* exit code, or 128 + signal number */
    char *out;      /* stdout, NUL-terminated, malloc'd */
    char *err;      /* stderr, NUL-terminated, malloc'd */
} vb_test_proc;

/* Run a repository binary (e.g. "learner") with a NULL-terminated argument
 * list (argv[0] excluded), capture stdout and stderr. */
void vb_test_run(vb_test_proc *p, const char *program, const char *const *args);
void vb_test_proc_free(vb_test_proc *p);

/* Write text to a fresh temporary file; returns its path (static buffer per call slot). */
const char *vb_test_write_tmp(const char *text, char *path, size_t len);

/* A fresh run root under /tmp, and its removal. */
void vb_test_make_root(char *root, size_t len);
void vb_test_remove_root(const char *root);
/* ./learner on config (a repository path) for 6000 steps in a fresh root,
 * whose log names the task family; then ./actor --eval of run's checkpoint. */
void vb_test_train_briefly(const char *config, const char *run, const char *family);

/* ref and other (two batches of the same n on the same streams) agree on
 * the spec's shared fields, then play `tasks` tasks of random actions from
 * stream `seed` identically: observations, rewards, clocks and task labels;
 * at least one goal is hit. */
struct vb_env_batch;
void vb_test_same_play(struct vb_env_batch *ref, struct vb_env_batch *other, int tasks, uint64_t seed);

/* configs/smoke.yaml with run.algo=algo (NULL: as in the file), its env spec,
 * model and chunk layout (planner targets or not): what a learner of that
 * run builds, for tests that speak its protocol. */
struct vb_config;
struct vb_env_spec;
struct vb_model;
struct vb_chunk_layout;
void vb_test_smoke_layout(const char *algo, int targets, struct vb_config *cfg, struct vb_env_spec *spec,
                          struct vb_model *m, struct vb_chunk_layout *cl);

#endif
