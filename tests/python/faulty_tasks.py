"""Python task families that break the contract one way each, for the
bridge's error paths (tests/unit/test_env_python.c)."""


class Coin:
    """A working one-state family: action 1 pays with probability p."""

    def __init__(self, p=0.5, fail_at=-1):
        self.p, self.fail_at, self.steps = p, fail_at, 0

    def spec(self):
        return dict(obs_size=1, num_actions=2, reward_kind="bernoulli", reward_levels=(0.0, 1.0),
                    episode_length=3, episodes_per_task=2, reward_cells=2)

    def sample_task(self):
        return self.rng.uniform()

    def reset(self, task):
        return [0.0]

    def step(self, action):
        if self.steps == self.fail_at:
            raise RuntimeError(f"the simulator diverged at step {self.steps}")
        self.steps += 1
        return [0.0], float(action == 1 and self.rng.uniform() < self.p)

    def reward_cell(self, obs, action, next_obs):
        return action


class BadSpecField(Coin):
    def spec(self):
        return dict(super().spec(), obs_sise=1)


class WrongObsLength(Coin):
    def step(self, action):
        return [0.0, 1.0], 0.0


class RaisesInInit(Coin):
    def __init__(self, **kw):
        raise ValueError("no such task distribution")
