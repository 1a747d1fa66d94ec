"""SlateQ learning curves: return on fresh users against training user-steps, with references.

The protocol, references, pooling and target checks are ``learning_curves``' (its
``learner_curve``): per (scenario, seed) SlateQ is trained in chunks on a *training* vector env of
``--users`` users and, at each checkpoint of training user-steps (one user-step = one user served
one slate), saved, loaded into a fresh agent on a separate *evaluation* env and evaluated on the
cohort of seed ``seed`` for one session (greedy, ``epsilon_eval``, learning online). Wall-clock
and process CPU seconds of training are recorded at every checkpoint. The 20-minute target is
judged on training CPU seconds with one torch thread.

Ablations (``--ablations``) run the same curve with one design choice reverted, to show what each
one is worth: the top-K slate heuristic of Ie et al. instead of the exact optimiser, γ = 0.9,
10-step TD targets instead of one-step ones, gradient steps while evaluating (on the evaluation cohort's few transitions),
and the three choices of the version before issue 24 together (top-K, γ = 0.9, online gradient
steps; on today's features and network), and ``no_position_bias`` (the position-free click
model before the ``news`` diagnosis; ``results/slateq_news_diagnosis.json`` ran it as the
default against ``position_bias`` on). Variants add an option instead: ``memory`` (the
features' per-user memory columns in the replay) or γ = 0.95.

Diagnostics for the last checkpoint of the first seed (``choice_calibration``): the learned click
model's predicted no-click probability against the observed no-click rate on the evaluation
users, its log-likelihood of the observed choices against a uniform guess, and the true quality
and clickbait share of the slates shown (the simulator's hidden item attributes, read for
analysis only).

Results go to ``benchmarks/results/slateq_curves.json`` (atomic write) with the command,
configuration, package versions and git commit.

    python -m driftrec.benchmarks.slateq_curves                           # video, 3 seeds
    python -m driftrec.benchmarks.slateq_curves --scenarios news,shopping --ablations topk
    python -m driftrec.benchmarks.slateq_curves --quick                   # smoke run
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.cli.runner import TRAIN_SEED_OFFSET, make_vector_env, scenario_geometry

from .compare_agents import provenance
from .learning_curves import (
    CI_NOTE,
    add_quick,
    apply_quick,
    check_targets,
    curve_parser,
    learner_curve,
    names,
    parse_checkpoints,
    parse_kwargs,
    reference_rows,
    summarise_curve,
    write_results,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "slateq_curves.json"
CHECKPOINTS = (0, 5120, 20480, 61440, 122880, 245760)
#: One design choice reverted per entry (see the module docstring).
ABLATIONS: dict[str, dict[str, Any]] = {
    "topk": {"slate_optimizer": "topk"},
    "gamma0.9": {"gamma": 0.9},
    "n_step10": {"n_step": 10},
    "online_sgd": {"online_updates": True},
    "before": {"slate_optimizer": "topk", "gamma": 0.9, "online_updates": True},
    "no_position_bias": {"position_bias": False},
    "gamma0.95": {"gamma": 0.95},
    "memory": {"memory": True},
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = curve_parser(__doc__.splitlines()[0], CHECKPOINTS, DEFAULT_OUT,
                     'SlateQ config overrides, JSON: \'{"gamma": 0.98}\'')
    p.add_argument("--ablations", default="", help=f"any of {','.join(ABLATIONS)}")
    add_quick(p, "512,2048")
    args = apply_quick(p.parse_args(argv))
    unknown = sorted(set(names(args.ablations)) - set(ABLATIONS))
    if unknown:
        p.error(f"unknown ablation(s) {unknown}; expected any of {sorted(ABLATIONS)}")
    return args


def choice_calibration(agent: Any, env: Any, seed: int) -> dict[str, float]:
    """The learned click model on one session of the evaluation users (greedy, no learning).

    Predicted P(no click) of the shown slate against the observed rate; mean log-likelihood of
    the observed choices (slate item or none) against the uniform 1/(K+1); and the catalog's
    hidden quality/clickbait of the shown items, for analysis.
    """
    base = env.unwrapped
    quality = np.asarray(base.catalog.quality)
    clickbait = np.asarray(base.catalog.clickbait, dtype=np.float64)
    obs, _ = env.reset(seed=seed)
    alive = np.ones(env.num_envs, dtype=bool)
    pred_null, chose_null, loglik, shown_q, shown_bait = [], [], [], [], []
    for _ in range(int(base.config.max_steps)):
        if not alive.any():
            break
        slates = agent.act(obs)
        prob = agent.choice_probabilities(obs, slates)
        obs_next, _, terminated, truncated, info = env.step(slates)
        chosen = np.asarray(info["chosen"])
        label = np.where(chosen >= 0, chosen, slates.shape[1])
        ids = np.take_along_axis(obs["candidate_ids"], slates, axis=1)
        pred_null.append(prob[alive, -1])
        chose_null.append(chosen[alive] < 0)
        loglik.append(np.log(prob[np.arange(len(label)), label])[alive])
        shown_q.append(quality[ids[alive]].mean(axis=1))
        shown_bait.append(clickbait[ids[alive]].mean(axis=1))
        alive &= ~(np.asarray(terminated) | np.asarray(truncated))
        obs = obs_next
    k = agent.slate_size
    return {"predicted_no_click": float(np.mean(np.concatenate(pred_null))),
            "observed_no_click": float(np.mean(np.concatenate(chose_null))),
            "choice_loglik": float(np.mean(np.concatenate(loglik))),
            "uniform_loglik": float(np.log(1.0 / (k + 1))),
            "shown_quality": float(np.mean(np.concatenate(shown_q))),
            "catalog_quality": float(quality.mean()),
            "shown_clickbait": float(np.mean(np.concatenate(shown_bait))),
            "catalog_clickbait": float(clickbait.mean())}


def check_scenarios(summary: dict[str, Any]) -> dict[str, Any]:
    """Every scenario: SlateQ's last point beats random and popular; the curve rises."""
    checks: dict[str, Any] = {}
    for scn, row in summary.items():
        curve = row["curves"].get("slateq")
        if not curve:
            continue
        last = curve[-1]
        for ref in ("random", "popular"):
            if ref in row["references"]:
                bar = row["references"][ref]["return_mean"]
                checks[f"{scn}: slateq > {ref}"] = {
                    "holds": bool(last["return_mean"] > bar),
                    "detail": f"{last['return_mean']:.1f} vs {bar:.1f} at "
                              f"{last['user_steps']} user-steps"}
        checks[f"{scn}: slateq's return rises with training"] = {
            "holds": bool(last["return_mean"] > curve[0]["return_mean"]),
            "detail": " -> ".join(f"{p['return_mean']:.1f}" for p in curve)}
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    scenarios, refs = names(args.scenarios), names(args.references)
    seeds = [int(s) for s in names(args.seeds)]
    checkpoints = parse_checkpoints(args.checkpoints, args.users)
    kwargs = parse_kwargs(args.agent_kwargs)
    variants = {"slateq": kwargs} | {
        f"slateq[{name}]": {**kwargs, **ABLATIONS[name]} for name in names(args.ablations)}
    t_start = time.perf_counter()
    summary: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    for scn in scenarios:
        train_env = make_vector_env(scn, args.users, encoder=args.encoder)
        eval_env = make_vector_env(scn, args.users, encoder=args.encoder)
        try:
            centroids, _ = scenario_geometry(eval_env)
            raw[scn], curves, diagnostics[scn] = {}, {}, {}
            for name, kw in variants.items():
                evaluated: list[Any] = []  # the copies evaluated at the first seed's checkpoints
                runs = [learner_curve(scn, "slateq", seed, (train_env, eval_env), checkpoints,
                                      centroids, kw, evaluated.append if i == 0 else None)
                        for i, seed in enumerate(seeds)]
                diagnostics[scn][name] = choice_calibration(evaluated[-1], eval_env, seeds[0])
                raw[scn][name] = runs
                curves[name] = summarise_curve(runs)
            summary[scn] = {"curves": curves,
                            "references": reference_rows(scn, refs, seeds, eval_env, centroids)}
        finally:
            train_env.close()
            eval_env.close()
    checks = check_targets(summary) | check_scenarios(summary)
    result = {
        "benchmark": "slateq_curves",
        "config": {"scenarios": scenarios, "references": refs, "seeds": seeds,
                   "users": args.users, "checkpoints": checkpoints, "encoder": args.encoder,
                   "threads": args.threads, "variants": variants,
                   "train_seed_offset": TRAIN_SEED_OFFSET,
                   "ci": CI_NOTE},
        "provenance": provenance(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "summary": summary,
        "diagnostics": diagnostics,
        "checks": checks,
        "runs": {scn: {name: [[{k: v for k, v in p.items() if k != "user_returns"}
                               for p in run] for run in runs] for name, runs in per.items()}
                 for scn, per in raw.items()},
    }
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
