"""VariBAD's GridNavi as a Python task family (docs/envs.md).

A size x size grid; each task hides a goal among the cells away from the
start corner and keeps it for `episodes` episodes of `steps` steps: reward
-0.1 per step, 1 on the goal. With permute=1 each task also shuffles what
the four move actions do, so the transitions depend on the task.

It draws from self.rng exactly as the built-in gridworld draws from its
streams, so on the same seeds it plays the same tasks (the parity test in
tests/unit/test_env_python.c).

    ./learner --config examples/gridnavi_python/gridnavi.yaml
"""

STAY, UP, RIGHT, DOWN, LEFT = range(5)


class GridNavi:
    def __init__(self, size=5, steps=15, episodes=4, permute=0):
        if not 3 <= size <= 64:
            raise ValueError(f"size {size}: expected 3 .. 64")
        self.size, self.steps, self.episodes, self.permute = size, steps, episodes, bool(permute)
        self.cells = [(x, y) for y in range(size) for x in range(size) if not (x < 2 and y < 2)]

    def spec(self):
        n = self.size * self.size
        return dict(obs_size=2, num_actions=5, reward_kind="bernoulli", reward_levels=(-0.1, 1.0),
                    episode_length=self.steps, episodes_per_task=self.episodes,
                    task_independent_transitions=not self.permute, state_cells=n, reward_cells=n,
                    cell_hit_prior=1.0 / len(self.cells))

    # --- one environment ------------------------------------------------
    def sample_task(self):
        goal = self.cells[self.rng.below(len(self.cells))]
        moves = [STAY, UP, RIGHT, DOWN, LEFT]
        if self.permute:  # Fisher-Yates over the four moves, as the built-in family draws it
            for j in range(4, 1, -1):
                r = self.rng.below(j)
                moves[j], moves[1 + r] = moves[1 + r], moves[j]
        return goal, moves

    def reset(self, task):
        self.goal, self.moves = task
        self.x = self.y = 0
        return (self.x, self.y)

    def step(self, action):
        self.x, self.y = self.move(self.x, self.y, self.moves[action])
        hit = (self.x, self.y) == self.goal
        return (self.x, self.y), (1.0 if hit else -0.1)

    def task_cells(self, task):
        (gx, gy), _ = task
        labels = [0.0] * (self.size * self.size)
        labels[gy * self.size + gx] = 1.0
        return labels

    # --- what the model and the planner ask, task-independent ------------
    def move(self, x, y, m):
        last = self.size - 1
        if m == UP: y = min(y + 1, last)
        elif m == RIGHT: x = min(x + 1, last)
        elif m == DOWN: y = max(y - 1, 0)
        elif m == LEFT: x = max(x - 1, 0)
        return x, y

    def transition(self, obs, action):
        return self.move(round(obs[0]), round(obs[1]), action)

    def state_cell(self, obs):
        return round(obs[1]) * self.size + round(obs[0])

    def cell_obs(self, cell):
        return (cell % self.size, cell // self.size)

    def reward_cell(self, obs, action, next_obs):
        return self.state_cell(next_obs)
