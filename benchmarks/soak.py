"""Soak test of the vector env: many user-steps, counting every non-finite number and watching memory.

A simulator that people train on for millions of steps must never hand back a wrong number
quietly (DESIGN.md §8: 10⁷ user-steps with no non-finite value and flat memory). This program
steps the native vector env of scenario ``video`` (B users, default 4,096) with random slates of
K distinct positions drawn from a seeded numpy ``Generator``, for at least 10⁷ user-steps by
default, and after every step counts the non-finite values in

- the rewards,
- the observations' float arrays (the shared candidate arrays once per step, not B broadcast
  copies),
- the info's float arrays (utilities, regret, drift, budget, ...),
- the engine's user state: every float tensor of ``UserState`` and the world's similarities and
  utilities (the hidden numbers a NaN would live in before it reaches a reward).

Resident memory (``VmRSS`` of ``/proc/self/status``; the peak from ``resource`` where that file is
missing) is sampled after the first step and at ``MEMORY_SAMPLES`` points after it. Results go to
``benchmarks/results/soak.json`` (written atomically, with the configuration, package versions
and git commit).

    python -m driftrec.benchmarks.soak                        # 10⁷ user-steps (a few minutes)
    python -m driftrec.benchmarks.soak --users 64 --steps 100  # a quick look
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
TARGET_USER_STEPS = 10**7
MEMORY_SAMPLES = 10  # RSS samples after the first step, evenly spaced over the run
# Observation arrays that are the same candidate arrays broadcast over B (checked once a step).
SHARED_OBS = ("candidate_embeddings", "candidate_popularity")


def rss_mb() -> float:
    """Resident set size of this process in MiB (``VmRSS``), or the peak where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def count_nonfinite_arrays(arrays: dict[str, Any], skip: tuple[str, ...] = ()) -> int:
    """Non-finite values in the floating-point numpy arrays of ``arrays`` (others ignored)."""
    total = 0
    for key, value in arrays.items():
        if key in skip or not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            continue
        total += int(value.size - np.count_nonzero(np.isfinite(value)))
    return total


def count_nonfinite_state(engine: Any) -> int:
    """Non-finite values in the engine's float user-state tensors and the world's similarities
    and utilities."""
    tensors = [v for v in vars(engine.state).values() if isinstance(v, torch.Tensor)]
    tensors += [engine.world.sims, engine.world.utilities]
    total = 0
    for t in tensors:
        if t.is_floating_point():
            total += int(t.numel() - torch.isfinite(t).sum())
    return total


def count_observation(obs: dict[str, np.ndarray]) -> int:
    """Non-finite values of one batched observation: per-user arrays in full, the broadcast
    candidate arrays through their first row (every row is the same memory)."""
    shared = {key: obs[key][:1] for key in SHARED_OBS if key in obs}
    return count_nonfinite_arrays(obs, skip=SHARED_OBS) + count_nonfinite_arrays(shared)


def random_slates(gen: np.random.Generator, users: int, n: int, k: int) -> np.ndarray:
    """(users, k) int64 slates of k distinct positions in [0, n): the first k of a uniformly
    random permutation per user (argsort of uniforms)."""
    return gen.random((users, n), dtype=np.float32).argsort(axis=1)[:, :k].astype(np.int64)


def soak(
    users: int, steps: int, seed: int = 0, encoder: str = "minilm", scenario: str = "video"
) -> dict[str, Any]:
    """Run the soak and return its figures (see the module docstring)."""
    from driftrec.envs import DriftRecVectorEnv

    built = time.perf_counter()
    env = DriftRecVectorEnv(num_envs=users, scenario=scenario, encoder=encoder)
    obs, info = env.reset(seed=seed)
    build_s = time.perf_counter() - built
    gen = np.random.default_rng(seed)
    n, k = env.config.num_candidates, env.config.slate_size
    counts = {"reward": 0, "observation": count_observation(obs), "info": 0, "state": 0}
    counts["info"] += count_nonfinite_arrays(info)
    counts["state"] += count_nonfinite_state(env.engine)
    first_bad: int | None = None if sum(counts.values()) == 0 else 0
    sample_at = {max(1, round(steps * (i + 1) / MEMORY_SAMPLES)) for i in range(MEMORY_SAMPLES)}
    memory: list[dict[str, float]] = []
    departures = 0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        obs, reward, terminated, truncated, info = env.step(random_slates(gen, users, n, k))
        found = {
            "reward": int(reward.size - np.count_nonzero(np.isfinite(reward))),
            "observation": count_observation(obs),
            "info": count_nonfinite_arrays(info),
            "state": count_nonfinite_state(env.engine),
        }
        for key, value in found.items():
            counts[key] += value
        if first_bad is None and sum(found.values()):
            first_bad = step
        departures += int(np.count_nonzero(terminated | truncated))
        if step == 1 or step in sample_at:
            memory.append({"step": step, "rss_mb": round(rss_mb(), 1)})
    wall_s = time.perf_counter() - start
    env.close()
    return {
        "user_steps": users * steps,
        "wall_s": round(wall_s, 2),
        "build_s": round(build_s, 2),
        "user_steps_per_s": round(users * steps / wall_s, 1),
        "departures": departures,
        "nonfinite": {**counts, "total": sum(counts.values())},
        "first_nonfinite_step": first_bad,
        "rss_mb": {
            "start": memory[0]["rss_mb"],
            "end": memory[-1]["rss_mb"],
            "growth": round(memory[-1]["rss_mb"] - memory[0]["rss_mb"], 1),
            "samples": memory,
        },
    }


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--users", type=_positive, default=4096, help="B (default 4096)")
    parser.add_argument(
        "--steps", type=_positive, default=None,
        help=f"vector steps (default: enough for {TARGET_USER_STEPS:,} user-steps)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="env and slate seed (default 0)")
    parser.add_argument("--encoder", default="minilm", help="catalog encoder (default minilm)")
    parser.add_argument("--threads", type=_positive, default=1, help="torch threads (default 1)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    steps = args.steps or math.ceil(TARGET_USER_STEPS / args.users)
    torch.set_num_threads(args.threads)
    figures = soak(args.users, steps, seed=args.seed, encoder=args.encoder)
    result = {
        "benchmark": "soak",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "config": {
            "scenario": "video",
            "users": args.users,
            "steps": steps,
            "seed": args.seed,
            "encoder": args.encoder,
            "threads": args.threads,
            "policy": "random distinct slates (argsort of numpy default_rng(seed) uniforms)",
            "checked": "rewards, observations, info floats, engine user state and similarities, "
            "after every step",
        },
        "environment": {**versions(), "machine": platform.machine()},
        "results": figures,
    }
    atomic_write_json(args.output, result)
    bad, mem = figures["nonfinite"], figures["rss_mb"]
    print(
        f"{figures['user_steps']:,} user-steps in {figures['wall_s']:.1f} s "
        f"({figures['user_steps_per_s']:,.0f}/s); non-finite values: {bad['total']} "
        f"(reward {bad['reward']}, observation {bad['observation']}, info {bad['info']}, "
        f"state {bad['state']}; first at step {figures['first_nonfinite_step']}); "
        f"RSS {mem['start']:.1f} -> {mem['end']:.1f} MiB; written to {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
