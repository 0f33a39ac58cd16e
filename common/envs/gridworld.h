/* gridworld — VariBAD's GridNavi.
 *
 * A grid_size x grid_size grid (default 5), start cell (0, 0), the goal drawn
 * uniformly from the cells outside the 2x2 start block {x < 2 and y < 2}
 * (21 cells on 5x5). Actions move one cell, clipped at the border. Reward +1
 * when the cell after the move is the goal (staying on it pays again), -0.1
 * otherwise. Episodes of env.episode_length steps (15), env.episodes_per_task
 * of them (4) per task; the position returns to the start between episodes,
 * the goal is kept. Observation: (x, y) of the current cell as floats. The
 * transition does not depend on the goal; reward cell = the cell after the
 * move, y * grid_size + x.
 *
 * env.permute_moves: each task also draws a permutation of the four moves
 * (uniform over 24, kept for the task's episodes): action a in 1..4 makes move
 * moves[a]. The transitions then depend on the task: an agent must find out
 * what its actions do while it searches for the goal, and a planner must
 * learn the dynamics (there is no exact transition). Cells are the states:
 * state cell = y * grid_size + x. */
#ifndef VB_GRIDWORLD_H
#define VB_GRIDWORLD_H

#include <stdint.h>

#include "env.h"

typedef enum vb_grid_action {
    VB_GRID_STAY = 0,
    VB_GRID_UP = 1,    /* y + 1 */
    VB_GRID_RIGHT = 2, /* x + 1 */
    VB_GRID_DOWN = 3,  /* y - 1 */
    VB_GRID_LEFT = 4,  /* x - 1 */
} vb_grid_action;

/* The oracle's move from (x, y) towards (tx, ty): x first, then y; STAY when there. */
vb_grid_action vb_gridworld_step_towards(int32_t x, int32_t y, int32_t tx, int32_t ty);
/* The cell reached from (x, y) by action a on a g x g grid (moves clipped). */
void vb_gridworld_move(int64_t g, int32_t x, int32_t y, int32_t a, int32_t *nx, int32_t *ny);
/* 1 when (x, y) may hold a goal: outside the 2x2 start block. */
int vb_gridworld_is_candidate(int32_t x, int32_t y);
/* Env i's goal cell (a peek for oracles and tests). 0, or -1 if b is not a gridworld or i is out of range. */
int vb_gridworld_goal(const vb_env_batch *b, int64_t i, int32_t *x, int32_t *y);
/* The move (a vb_grid_action) each action makes in env i's task; moves[0] is STAY. 0, or -1 as above. */
int vb_gridworld_moves(const vb_env_batch *b, int64_t i, int8_t moves[5]);
/* Env i's current cell. 0, or -1 as above. */
int vb_gridworld_position(const vb_env_batch *b, int64_t i, int32_t *x, int32_t *y);

#endif
