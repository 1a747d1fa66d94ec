"""The textbook SB3 call on the Rank ids against today's wrapper route, in one run (issue 30, item 1).

Throughput: env-steps/s during ``PPO("MlpPolicy", vec).learn(timesteps)`` with the same PPO
settings (``n_envs`` envs from ``make_vec_env``, ``n_steps``, ``batch_size``, ``n_epochs``; SB3's
defaults except ``n_steps``, which only sets how often it trains) for

- ``flat``: ``make_vec_env(raw id, wrapper_class=FlatObservation∘ScoreAction)`` — today's route of
  docs/integrations.md (the policy reads N·d_a + N·C + N + 2·d_a + 1 inputs);
- ``rank``: ``make_vec_env("driftrec/<Scenario>Rank-v0")`` — the Rank id as it stands (N·14
  inputs);

on News and Video, plus the raw single env alone with a fixed slate (the engine's cost per
user-step at B = 1, the floor under both routes; timed after 20 untimed steps, which compile the
single env's kernels, so no route pays for compilation). Wall seconds and CPU seconds of the process
(``time.process_time``; torch on one thread) are both reported: the machine is shared, so the CPU
figures are the steadier ones.

Learning: ``PPO("MlpPolicy", make_vec_env("driftrec/VideoRank-v0", n_envs))`` with SB3's defaults
for ``--learn-timesteps`` env-steps, then the mean return per user over ``--eval-episodes`` fresh
users (seeds unseen in training), deterministic actions, against uniform random scores on the same
users — whatever it is.

    python -m driftrec.benchmarks.sb3_textbook --out benchmarks/results/sb3_textbook.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SCENARIOS = ("news", "video")
PPO_SETTINGS = {"n_steps": 256, "batch_size": 64, "n_epochs": 10}
EVAL_SEED = 10_000  # evaluation users' seeds start here; training uses 0 .. n_envs - 1


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def make_vec(scenario: str, route: str, n_envs: int, seed: int = 0) -> Any:
    from driftrec.envs import ENV_IDS, RANK_ENV_IDS, FlatObservation, ScoreAction
    from stable_baselines3.common.env_util import make_vec_env

    if route == "rank":
        return make_vec_env(RANK_ENV_IDS[scenario], n_envs=n_envs, seed=seed)
    return make_vec_env(ENV_IDS[scenario], n_envs=n_envs, seed=seed,
                        wrapper_class=lambda env: FlatObservation(ScoreAction(env)))


def training_route(scenario: str, route: str, n_envs: int, timesteps: int) -> dict[str, Any]:
    from stable_baselines3 import PPO

    vec = make_vec(scenario, route, n_envs)
    model = PPO("MlpPolicy", vec, seed=0, device="cpu", **PPO_SETTINGS)
    _, wall, cpu = timed(lambda: model.learn(total_timesteps=timesteps))
    steps = model.num_timesteps
    vec.close()
    return {"scenario": scenario, "route": route, "policy_inputs": int(vec.observation_space.shape[0]),
            "env_steps": steps, "wall_s": wall, "cpu_s": cpu, "steps_per_s": steps / wall,
            "steps_per_cpu_s": steps / cpu}


def env_alone(scenario: str, steps: int) -> dict[str, Any]:
    """The raw single env stepped with a fixed slate: the engine's floor per user-step."""
    import gymnasium as gym
    from driftrec.envs import ENV_IDS

    env = gym.make(ENV_IDS[scenario])
    env.reset(seed=0)
    slate = np.arange(env.unwrapped.config.slate_size)

    def run(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(slate)
            if terminated or truncated:
                env.reset()

    run(20)  # untimed: the single env's fast path compiles its kernels at the first step
    _, wall, cpu = timed(lambda: run(steps))
    return {"scenario": scenario, "route": "raw single env, fixed slate (no learning)",
            "env_steps": steps, "wall_s": wall, "cpu_s": cpu, "steps_per_s": steps / wall,
            "steps_per_cpu_s": steps / cpu}


class RandomScores:
    """Uniform random scores, with SB3's ``predict`` signature (for ``evaluate_policy``)."""

    def __init__(self, n_envs: int, num_candidates: int, seed: int) -> None:
        self.shape = (n_envs, num_candidates)
        self.rng = np.random.default_rng(seed)

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        return self.rng.uniform(-1, 1, self.shape).astype(np.float32), None


def learning_check(n_envs: int, timesteps: int, episodes: int) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy

    model = PPO("MlpPolicy", make_vec("video", "rank", n_envs), seed=0, device="cpu")
    _, wall, cpu = timed(lambda: model.learn(total_timesteps=timesteps))
    results: dict[str, Any] = {"train_env_steps": model.num_timesteps, "train_wall_s": wall,
                               "train_cpu_s": cpu, "ppo_settings": "SB3 defaults"}
    num_candidates = model.action_space.shape[0]
    for name, policy in (("ppo", model), ("random", RandomScores(n_envs, num_candidates, 0))):
        vec = make_vec("video", "rank", n_envs, seed=EVAL_SEED)
        returns, lengths = evaluate_policy(policy, vec, n_eval_episodes=episodes,
                                           deterministic=True, return_episode_rewards=True)
        r = np.asarray(returns, dtype=np.float64)
        results[name] = {"mean_return": float(r.mean()),
                         "ci95": float(1.96 * r.std(ddof=1) / np.sqrt(len(r))),
                         "mean_session_steps": float(np.mean(lengths)), "episodes": len(r)}
        vec.close()
    return results


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """rank / flat throughput per scenario, on wall and on CPU seconds."""
    out = {}
    for scenario in SCENARIOS:
        by = {r["route"]: r for r in rows if r["scenario"] == scenario}
        if "rank" in by and "flat" in by:
            out[scenario] = {
                "wall": by["rank"]["steps_per_s"] / by["flat"]["steps_per_s"],
                "cpu": by["rank"]["steps_per_cpu_s"] / by["flat"]["steps_per_cpu_s"]}
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | route | policy inputs | env-steps/s (wall) | env-steps per CPU-s |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['route']} | {r.get('policy_inputs', '')} | "
                     f"{r['steps_per_s']:,.0f} | {r['steps_per_cpu_s']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--n-envs", type=int, default=4, help="envs in make_vec_env")
    parser.add_argument("--timesteps", type=int, default=2048, help="PPO env-steps per route")
    parser.add_argument("--learn-timesteps", type=int, default=20_480,
                        help="PPO env-steps of the learning check on VideoRank (0 skips it)")
    parser.add_argument("--eval-episodes", type=int, default=64, help="users per evaluation")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (optional)")
    args = parser.parse_args(argv)
    for name in ("n_envs", "timesteps", "eval_episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive int; got "
                         f"{getattr(args, name)}")
    if args.learn_timesteps < 0:
        parser.error(f"--learn-timesteps must be >= 0; got {args.learn_timesteps}")
    import driftrec.envs  # noqa: F401  (registers the ids)
    import torch

    torch.set_num_threads(1)
    total_cpu = time.process_time()
    rows = []
    for scenario in SCENARIOS:
        rows.append(env_alone(scenario, 500))
        for route in ("flat", "rank"):
            rows.append(training_route(scenario, route, args.n_envs, args.timesteps))
            print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print(format_table(rows), flush=True)
    ratio = ratios(rows)
    print("rank / flat:", {k: {m: round(v, 2) for m, v in r.items()} for k, r in ratio.items()})
    learning = None
    if args.learn_timesteps:
        learning = learning_check(args.n_envs, args.learn_timesteps, args.eval_episodes)
        print("learning on VideoRank:", learning, flush=True)
    if args.out is not None:
        from driftrec.cli.report import versions
        from driftrec.encoders.io import atomic_write_json

        atomic_write_json(args.out, {
            "benchmark": "sb3_textbook",
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "config": {"n_envs": args.n_envs, "timesteps": args.timesteps, "ppo": PPO_SETTINGS,
                       "policy": "MlpPolicy", "threads": 1, "encoder": "minilm (default)",
                       "learn_timesteps": args.learn_timesteps,
                       "eval_episodes": args.eval_episodes, "eval_seed": EVAL_SEED},
            "environment": versions(), "rows": rows, "rank_over_flat": ratio,
            "learning_video_rank": learning, "total_cpu_s": time.process_time() - total_cpu})
    return 0


if __name__ == "__main__":
    sys.exit(main())
