"""Build time and env-steps per second of the textbook calls of docs/integrations.md on News.

Each route builds its env (timed: ``build_s``, catalog embeddings already in the cache — run it
twice after a fresh install, the first run encodes the catalog) and then steps it (``steps_per_s``
counts user-steps: one per user per vector step):

- ``gymnasium``: ``gym.make_vec(id, num_envs=B)``, random distinct slates, B = 4 and 256;
- ``sb3``: the textbook call ``PPO("MlpPolicy", make_vec_env("driftrec/NewsRank-v0",
  n_envs=4)).learn`` on the Rank id, and the older ``make_vec_env(id, n_envs=4,
  wrapper_class=FlatObservation∘ScoreAction)`` route with the same PPO settings (env-steps/s
  during training, updates included);
- ``torchrl``: ``GymEnv("driftrec/NewsRank-v0")`` and ``GymWrapper`` of the Rank id's native
  vector env, random-score rollouts (a score action: any sample is valid);
  ``GymWrapper(ScoreAction(FlatObservation(gym.make_vec(id, num_envs=4))))``, a random-score
  rollout; ``GymEnv(id)`` and ``GymEnv("driftrec.envs:" + id, num_envs=4)`` (one
  process per user, slate size 1: its build steps a random action) with a fixed slate;
- ``frames``: ``render()`` of an ``rgb_array`` env per step, and ``RecordVideo`` over one
  episode when moviepy is installed.

Torch runs one thread (``torch.set_num_threads(1)``), so the figures are per core. Results are
printed as a table and written atomically with the configuration, versions and git commit:

    python -m driftrec.benchmarks.integrations --out benchmarks/results/integrations.json
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "driftrec/News-v0"
RANK_ID = "driftrec/NewsRank-v0"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _random_slates(rng: np.random.Generator, b: int, n: int, k: int) -> np.ndarray:
    return np.argsort(rng.random((b, n)), axis=1)[:, :k]


def gymnasium_route(users: int, steps: int) -> dict[str, Any]:
    import gymnasium as gym

    env, build = _timed(lambda: gym.make_vec(ENV_ID, num_envs=users))
    cfg = env.unwrapped.config
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    slates = [_random_slates(rng, users, cfg.num_candidates, cfg.slate_size) for _ in range(steps)]
    _, run = _timed(lambda: [env.step(s) for s in slates])
    env.close()
    return {"route": f"gymnasium make_vec B={users}", "build_s": build,
            "steps_per_s": users * steps / run}


def sb3_routes(timesteps: int) -> list[dict[str, Any]]:
    from driftrec.envs import FlatObservation, ScoreAction
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    rows = []
    routes = (("sb3 PPO MlpPolicy on make_vec_env(NewsRank-v0, n_envs=4)", RANK_ID, None),
              ("sb3 PPO MlpPolicy on make_vec_env(News-v0, n_envs=4, flat+score)", ENV_ID,
               lambda e: FlatObservation(ScoreAction(e))))
    for name, env_id, wrapper in routes:
        vec, build = _timed(lambda i=env_id, w=wrapper: make_vec_env(
            i, n_envs=4, seed=0, wrapper_class=w))
        model = PPO("MlpPolicy", vec, n_steps=128, batch_size=128, n_epochs=1, seed=0,
                    device="cpu")
        _, run = _timed(lambda m=model: m.learn(total_timesteps=timesteps))
        vec.close()
        rows.append({"route": name, "build_s": build, "steps_per_s": model.num_timesteps / run})
    return rows


def torchrl_routes(steps: int) -> list[dict[str, Any]]:
    import gymnasium as gym
    import torch
    from driftrec.envs import FlatObservation, ScoreAction
    from torchrl.envs import GymEnv, GymWrapper

    rows = []
    for name, make in (
        ("torchrl GymEnv(NewsRank-v0)", lambda: GymEnv(RANK_ID)),
        ("torchrl GymWrapper(make_vec(NewsRank-v0, B=4))",
         lambda: GymWrapper(gym.make_vec(RANK_ID, num_envs=4))),
    ):
        env, build = _timed(make)
        users = env.batch_size.numel()
        _, run = _timed(lambda e=env: e.rollout(steps, break_when_any_done=False))
        rows.append({"route": f"{name}, random scores", "build_s": build,
                     "steps_per_s": users * steps / run})
        env.close()
    env, build = _timed(lambda: GymWrapper(ScoreAction(FlatObservation(
        gym.make_vec(ENV_ID, num_envs=4)))))
    _, run = _timed(lambda: env.rollout(steps, break_when_any_done=False))
    rows.append({"route": "torchrl GymWrapper(make_vec B=4), flat+score", "build_s": build,
                 "steps_per_s": 4 * steps / run})
    env.close()
    # GymEnv with num_envs samples a random action while it is built (TorchRL infers the info
    # specs from a random step): K=1, where no sample repeats a position (docs/integrations.md).
    for users, name in ((0, "GymEnv(id)"), (4, "GymEnv(module:id, num_envs=4), K=1")):
        kwargs = {"num_envs": users, "slate_size": 1} if users else {}
        env, build = _timed(lambda kw=kwargs: GymEnv(
            "driftrec.envs:" + ENV_ID, categorical_action_encoding=True, **kw))
        slate = torch.arange(env.action_spec.shape[-1]).expand(env.action_spec.shape)
        _, run = _timed(lambda e=env, s=slate: e.rollout(
            steps, policy=lambda td: td.set("action", s), break_when_any_done=False))
        rows.append({"route": f"torchrl {name}, fixed slate", "build_s": build,
                     "steps_per_s": max(users, 1) * steps / run})
        env.close()
    return rows


def frame_routes(steps: int) -> list[dict[str, Any]]:
    import gymnasium as gym

    env, build = _timed(lambda: gym.make(ENV_ID, render_mode="rgb_array"))
    env.reset(seed=0)
    env.render()  # the figure is built on the first frame
    slate = np.arange(env.unwrapped.config.slate_size)

    def step_and_render() -> None:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(slate)
            env.render()
            if terminated or truncated:
                env.reset()

    _, run = _timed(step_and_render)
    rows = [{"route": "gym.make rgb_array, step + render", "build_s": build,
             "steps_per_s": steps / run}]
    if importlib.util.find_spec("moviepy") is not None:
        with tempfile.TemporaryDirectory() as folder:
            video = gym.wrappers.RecordVideo(gym.make(ENV_ID, render_mode="rgb_array"),
                                             str(Path(folder) / "videos"),
                                             episode_trigger=lambda e: True)

            def episode() -> int:
                video.reset(seed=0)
                n, done = 0, False
                while not done and n < steps:
                    _, _, terminated, truncated, _ = video.step(slate)
                    n, done = n + 1, terminated or truncated
                video.close()  # encodes the mp4
                return n

            n, run = _timed(episode)
        rows.append({"route": "RecordVideo (moviepy), one episode", "build_s": None,
                     "steps_per_s": n / run})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| route | build (s) | env-steps/s |", "|---|---|---|"]
    for r in rows:
        build = "" if r["build_s"] is None else f"{r['build_s']:.2f}"
        lines.append(f"| {r['route']} | {build} | {r['steps_per_s']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--steps", type=int, default=200, help="vector steps per route")
    parser.add_argument("--timesteps", type=int, default=2048, help="SB3 PPO env-steps")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (optional)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.timesteps < 1:
        parser.error(f"--steps and --timesteps must be positive; got {args.steps}, "
                     f"{args.timesteps}")
    import driftrec.envs  # noqa: F401  (registers the ids)
    import gymnasium
    import torch

    torch.set_num_threads(1)
    _, first = _timed(lambda: gymnasium.make_vec(ENV_ID, num_envs=1))
    print(f"first build in this process: {first:.2f} s (encoder loaded, catalog from the cache; "
          "later builds reuse both)", flush=True)
    rows = [gymnasium_route(4, args.steps), gymnasium_route(256, args.steps),
            *sb3_routes(args.timesteps)]
    if importlib.util.find_spec("torchrl") is not None:
        rows += torchrl_routes(args.steps)
    rows += frame_routes(min(args.steps, 50))
    print(format_table(rows), flush=True)
    if args.out is not None:
        from driftrec.cli.report import versions
        from driftrec.encoders.io import atomic_write_json

        atomic_write_json(args.out, {
            "benchmark": "integrations", "command": " ".join([Path(sys.argv[0]).name,
                                                            *(argv or sys.argv[1:])]),
            "config": {"env_id": ENV_ID, "steps": args.steps, "timesteps": args.timesteps,
                       "threads": 1},
            "environment": versions(), "first_build_s": first, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
