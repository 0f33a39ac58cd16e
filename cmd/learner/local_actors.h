/* local_actors — the actor processes a learner runs on its own machine
 * (actors.local): ./actor from the learner executable's folder, connected
 * over an ipc:// endpoint, started through libuv, restarted when one dies
 * (after a back-off that doubles, up to 5 s, while they keep dying within
 * 10 s of their start; after 5 such deaths in a row it is given up: a crash
 * loop is reported, not retried forever), and stopped with SIGTERM (SIGKILL after a grace
 * period) at the end of the run. Each actor is told the learner's pid
 * (--parent) so that it exits if the learner dies without stopping it. */
#ifndef VB_LOCAL_ACTORS_H
#define VB_LOCAL_ACTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct vb_local_actors vb_local_actors;
/* An actor process ended: its index, pid, exit status and signal. */
typedef void (*vb_local_exit_fn)(void *ctx, int index, int pid, int64_t status, int signal);
typedef void (*vb_local_done_fn)(void *ctx);

typedef struct vb_local_actor {
    uv_process_t proc;
    uv_timer_t restart;
    vb_local_actors *owner;
    int index, pid;
    bool running, proc_open;
    double started;
    int64_t backoff_ms;
    int quick_deaths;         /* consecutive exits within YOUNG_S of a start */
    bool given_up;
} vb_local_actor;

struct vb_local_actors {
    uv_loop_t *loop;
    int64_t n;
    vb_local_actor *a;
    char exe[4096], endpoint[512], threads[24], level[16], parent[24];
    char log_dir[4200];         /* actor i logs to <log_dir>/local-<i>.log too ("" = stderr only) */
    bool stopping, stop_timer_open, termed;
    int64_t grace_ms;
    int live;                 /* processes running or being closed */
    int64_t restarts;
    int64_t given_up;         /* actors no longer restarted */
    uv_timer_t kill_timer;
    vb_local_exit_fn on_exit;
    vb_local_done_fn on_done;
    void *ctx;
};

/* Path of the actor program next to this executable, into exe. 0, or -1. */
int vb_local_actor_program(char *exe, size_t len, char *err, size_t err_len);
/* Start n actors on endpoint with `threads` compute threads each and the
 * given log level; with log_dir (may be NULL), actor i also logs to
 * <log_dir>/local-<i>.log. on_exit (may be NULL) hears of every exit. 0, or
 * -1 with err (no actor program, out of memory). */
int vb_local_actors_start(vb_local_actors *la, uv_loop_t *loop, int64_t n, const char *endpoint, int64_t threads,
                          const char *log_level, const char *log_dir, vb_local_exit_fn on_exit, void *ctx, char *err,
                          size_t err_len);
/* Stop them all: no restarts from now on; SIGTERM after term_ms (time to
 * exit by themselves, e.g. after the learner told them the run is over),
 * SIGKILL grace_ms later; on_done once every process has exited and every
 * handle is closing. Safe to call when none were started (on_done is called
 * at once). */
void vb_local_actors_stop(vb_local_actors *la, int64_t term_ms, int64_t grace_ms, vb_local_done_fn on_done, void *ctx);
/* Free the table (after the loop has closed the handles). */
void vb_local_actors_free(vb_local_actors *la);

#endif
