"""The Python half of the varibased Python bridge (plugins/python/vb_python.c
embeds it): loading the user's class, its arguments, and checking its spec.

A task family in Python is a class; the program makes one object per
environment with the env.args pairs as keyword arguments, sets `self.rng`
(the environment's random stream: rng.below(n), rng.uniform(), rng.normal()),
and calls:

    spec()                          a dict, the fields of SPEC_KEYS
    sample_task()                   a new task (any object), drawn from self.rng
    reset(task)                     the observation that starts an episode of task
    step(action)                    (obs, reward) or (obs, reward, regret)
    reward_cell(obs, action, next)  the reward cell of a transition
    transition(obs, action)         task_independent_transitions: the successor
    state_cell(obs), cell_obs(cell) state_cells > 0: a cell and its observation
    task_cells(task)                optional: the task's label of every reward cell

docs/envs.md has an example and what each field means.
"""
import importlib
import importlib.util
import os
import sys

SPEC_KEYS = {
    "obs_size": int, "num_actions": int, "reward_kind": str, "reward_levels": tuple,
    "reward_noise_std": float, "episode_length": int, "episodes_per_task": int,
    "task_independent_transitions": bool, "state_cells": int, "reward_cells": int,
    "cell_hit_prior": float, "reports_regret": bool,
}
REQUIRED = ("obs_size", "num_actions", "reward_kind", "episode_length", "episodes_per_task")


def load(spec):
    """The class named by 'package.module:Class' or 'path/to/file.py:Class'."""
    mod, _, name = spec.rpartition(":")
    if not mod or not name:
        raise ValueError(f"class={spec}: expected package.module:Class or path/to/file.py:Class")
    if mod.endswith(".py"):
        path = os.path.abspath(mod)
        key = "_vb_task_" + "".join(c if c.isalnum() else "_" for c in path)
        m = sys.modules.get(key)
        if m is None:
            s = importlib.util.spec_from_file_location(key, path)
            if s is None or not os.path.exists(path):
                raise ImportError(f"class={spec}: no such file {path}")
            m = importlib.util.module_from_spec(s)
            sys.modules[key] = m
            try:
                s.loader.exec_module(m)
            except BaseException:
                del sys.modules[key]
                raise
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        m = importlib.import_module(mod)
    cls = getattr(m, name, None)
    if cls is None:
        raise AttributeError(f"class={spec}: {mod} has no attribute {name}")
    return cls


def value(text):
    """An env.args value as an int, a float, or the text itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def kwargs(pairs):
    return {k: value(v) for k, v in pairs}


def spec(obj):
    """obj.spec() as a tuple in the order vb_python.c reads it."""
    s = obj.spec() if callable(getattr(obj, "spec", None)) else getattr(obj, "spec", None)
    if not isinstance(s, dict):
        raise TypeError(f"{type(obj).__name__}.spec() must return a dict, not {type(s).__name__}")
    unknown = sorted(set(s) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"spec has unknown field(s) {', '.join(unknown)}; the fields are {', '.join(SPEC_KEYS)}")
    missing = [k for k in REQUIRED if k not in s]
    if missing:
        raise ValueError(f"spec lacks {', '.join(missing)}")
    kind = s["reward_kind"]
    if kind not in ("bernoulli", "gaussian"):
        raise ValueError(f"spec reward_kind {kind!r}: expected 'bernoulli' or 'gaussian'")
    levels = tuple(float(x) for x in s.get("reward_levels", (0.0, 1.0)))
    if len(levels) != 2:
        raise ValueError(f"spec reward_levels {levels}: expected (miss, hit)")
    actions = int(s["num_actions"])
    return (int(s["obs_size"]), actions, 0 if kind == "bernoulli" else 1, levels[0], levels[1],
            float(s.get("reward_noise_std", 0.0)), int(s["episode_length"]), int(s["episodes_per_task"]),
            int(bool(s.get("task_independent_transitions", False))), int(s.get("state_cells", 0)),
            int(s.get("reward_cells", actions)), float(s.get("cell_hit_prior", 0.0)),
            int(bool(s.get("reports_regret", False))))
