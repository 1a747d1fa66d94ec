"""Does the ``video`` scenario have long-horizon structure? Two oracle policies, same users.

Both policies read the true (hidden) state, so the comparison isolates the environment's
structure, not learning:

- **myopic**: rank the candidates by their immediate expected engagement (the env's
  ``info["candidate_values"]``: P(click) × completion × minutes) — it favours long, appealing
  videos, clickbait included, and the user's current favourite region;
- **long-horizon**: the same expected engagement plus ``kappa`` × the expected change of the
  session budget, ``E[minutes] · (refill · max(0, q − q0) − spend)`` with the true quality q —
  it also protects the budget (and, through quality, ratings and satisfaction).

A cohort of B users (one per slot, from reset until each leaves or reaches ``max_steps``) is
followed under each policy with the same seeds; the total return per user (minutes watched) is
averaged, over several seeds, with a 95% confidence interval of the per-seed means and of the
paired per-seed difference. Results go to ``benchmarks/results/video_horizon.json``.

    python -m driftrec.benchmarks.video_horizon                  # MiniLM catalog, 5 seeds
    python -m driftrec.benchmarks.video_horizon --encoder hashing --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.interface import top_k

RESULTS = Path(__file__).resolve().parent / "results" / "video_horizon.json"


def myopic(env: Any, info: dict[str, np.ndarray], kappa: float) -> np.ndarray:
    """Top K by immediate expected engagement."""
    return top_k(info["candidate_values"], env.config.slate_size)


def long_horizon(env: Any, info: dict[str, np.ndarray], kappa: float) -> np.ndarray:
    """Top K by expected engagement + kappa × expected budget change (true quality)."""
    eng = env.engine
    budget = eng.model.budget
    q = eng.quality[eng.world.pool_ids].cpu().numpy()
    net = budget.refill_rate * np.maximum(q - budget.refill_threshold, 0.0) - budget.spend_rate
    value = info["candidate_values"]
    return top_k(value * (1.0 + kappa * net)[None, :], env.config.slate_size)


POLICIES = {"myopic": myopic, "long_horizon": long_horizon}


def run_cohort(env: Any, policy: Any, seed: int, kappa: float) -> dict[str, float]:
    """Follow the B users present at reset until each leaves; per-user return and length."""
    b = env.num_envs
    env.enable_oracle_info()  # both policies read info["candidate_values"]
    _, info = env.reset(seed=seed)
    returns = np.zeros(b)
    lengths = np.zeros(b)
    clickbait = np.zeros(b)
    alive = np.ones(b, dtype=bool)
    is_bait = np.asarray(env.catalog.clickbait)
    while alive.any():
        slate = policy(env, info, kappa)
        _, reward, terminated, truncated, info = env.step(slate)
        returns += reward * alive
        lengths += alive
        item = info["item"]
        clickbait += alive & (item >= 0) & is_bait[np.maximum(item, 0)]
        alive &= ~(terminated | truncated)
    return {
        "return": float(returns.mean()),
        "session_length": float(lengths.mean()),
        "clickbait_per_user": float(clickbait.mean()),
        "truncated_share": float((lengths >= env.config.max_steps).mean()),
    }


def _ci95(values: list[float]) -> float:
    if len(values) < 2:
        return float("nan")
    return 1.96 * statistics.stdev(values) / len(values) ** 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="minilm", help="catalog encoder (default minilm)")
    parser.add_argument("--users", type=int, default=256, help="cohort size B per seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kappa", type=float, default=1.0, help="weight of the budget term")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from driftrec.envs import DriftRecVectorEnv

    env = DriftRecVectorEnv(args.users, "video", encoder=args.encoder)
    t0 = time.perf_counter()
    per_seed: dict[str, list[dict[str, float]]] = {name: [] for name in POLICIES}
    for seed in range(args.seeds):
        for name, policy in POLICIES.items():
            per_seed[name].append(run_cohort(env, policy, seed, args.kappa))
    summary: dict[str, Any] = {}
    for name, runs in per_seed.items():
        rets = [r["return"] for r in runs]
        summary[name] = {
            "return_mean": statistics.mean(rets),
            "return_ci95": _ci95(rets),
            "session_length": statistics.mean(r["session_length"] for r in runs),
            "clickbait_per_user": statistics.mean(r["clickbait_per_user"] for r in runs),
            "truncated_share": statistics.mean(r["truncated_share"] for r in runs),
            "per_seed_returns": rets,
        }
    diffs = [
        lh["return"] - my["return"]
        for lh, my in zip(per_seed["long_horizon"], per_seed["myopic"], strict=True)
    ]
    verdict = {
        "long_minus_myopic_mean": statistics.mean(diffs),
        "long_minus_myopic_ci95": _ci95(diffs),
        "ratio": summary["long_horizon"]["return_mean"] / summary["myopic"]["return_mean"],
        "myopic_loses_every_seed": all(d > 0 for d in diffs),
    }
    result = {
        "benchmark": "video_horizon",
        "command": " ".join(
            ["python -m driftrec.benchmarks.video_horizon", *(argv or sys.argv[1:])]
        ),
        "config": {
            "scenario": "video",
            "encoder": args.encoder,
            "users": args.users,
            "seeds": args.seeds,
            "kappa": args.kappa,
            "max_steps": env.config.max_steps,
            "catalog": repr(env.catalog),
        },
        "policies": summary,
        "verdict": verdict,
        "seconds": time.perf_counter() - t0,
    }
    atomic_write_json(args.output, result)
    for name, row in summary.items():
        print(
            f"{name:13s} return {row['return_mean']:8.1f} ± {row['return_ci95']:5.1f} min/user  "
            f"session {row['session_length']:5.1f} steps  clickbait {row['clickbait_per_user']:4.1f}"
            f"  truncated {row['truncated_share']:.0%}"
        )
    print(
        f"long-horizon − myopic: {verdict['long_minus_myopic_mean']:.1f} ± "
        f"{verdict['long_minus_myopic_ci95']:.1f} (ratio {verdict['ratio']:.2f}; myopic loses "
        f"every seed: {verdict['myopic_loses_every_seed']})"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
