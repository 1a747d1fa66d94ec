"""Learning curves: return on fresh users against training user-steps, with reference lines.

Protocol per (scenario, agent, seed): a *training* vector env of ``--users`` users, reset once
with seed ``seed + TRAIN_SEED_OFFSET`` and then run continuously (users who leave are replaced,
``fit(seed=None)`` continues the sessions), and a separate *evaluation* env. At each checkpoint
of training user-steps (``--checkpoints``; one user-step = one user served one slate) the agent
is saved, loaded into a fresh agent on the evaluation env and evaluated there on the cohort of
seed ``seed`` for one session (``runner.evaluate_agent``, the loop of ``driftrec bench`` and
``compare_agents``; the evaluated copy logs feedback online as a deployed recommender would, the
trained agent never sees the evaluation users). Wall-clock and process CPU seconds of training
are recorded at every checkpoint.

References on the same evaluation cohorts: random, popular, quality, LinUCB and Thompson,
trained as in ``compare_agents`` (``TRAIN_STEPS`` batched steps on the training users), and the
budget-aware oracle of ``video_horizon`` (reads the hidden state; a reference, not a learner).

Reported per point: mean return per user with the 95% CI pooled over (seed, user) — the
convention of ``compare_agents`` — and the per-seed means with their own t-interval.
Results go to ``benchmarks/results/learning_curves.json`` (atomic write) with the command,
configuration, package versions and git commit. Every RL agent of issue 24 has a curve by this
protocol: PPO and A2C here, SlateQ in ``slateq_curves`` and DQN (beside each of its ranking rules
as a fixed policy) in ``dqn_rules`` — both call ``learner_curve``; ``--agents dqn`` or
``--agents slateq`` draws them here too.

    python -m driftrec.benchmarks.learning_curves                        # video: PPO, A2C, DQN
    python -m driftrec.benchmarks.learning_curves --scenarios news,shopping \
        --checkpoints 0,4096,20480,51200,102400,204800 \
        --out benchmarks/results/learning_curves_news_shopping.json
    python -m driftrec.benchmarks.learning_curves --quick                # smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.cli.metrics import aggregate_returns, mean_ci
from driftrec.cli.runner import TRAIN_SEED_OFFSET, agent_kwargs, evaluate_agent, make_vector_env
from driftrec.cli.runner import scenario_geometry as geometry
from driftrec.encoders.io import atomic_write_json

from .compare_agents import TRAIN_STEPS, provenance, run_cell

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "learning_curves.json"
LEARNERS = ("ppo", "a2c", "dqn")
REFERENCES = ("random", "popular", "quality", "linucb", "thompson", "oracle_budget")
CHECKPOINTS = (0, 4096, 20480, 51200, 102400, 204800, 409600)
CI_NOTE = ("95% t-interval pooled over (seed, user); seed_return_ci95 over seeds; iqm_seeds / "
           "iqm_users: rliable's interquartile mean with a 95% stratified-bootstrap interval "
           "(percentile, 2000 resamples) over seeds / over users stratified by seed")


def curve_parser(description: str, checkpoints: Sequence[int], out: Path,
                 kwargs_help: str) -> argparse.ArgumentParser:
    """The options every learning-curve benchmark shares (this one and ``slateq_curves``)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scenarios", default="video")
    p.add_argument("--references", default=",".join(REFERENCES))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--users", type=int, default=64, help="users per env (B)")
    p.add_argument("--checkpoints", default=",".join(map(str, checkpoints)),
                   help="training user-steps at which to evaluate (increasing)")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a shared 2-core machine a second one only spins)")
    p.add_argument("--agent-kwargs", default="", help=kwargs_help)
    p.add_argument("--out", type=Path, default=out)
    return p


def add_quick(p: argparse.ArgumentParser, checkpoints: str) -> None:
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: 1 seed, 16 users, checkpoints {checkpoints}, no references; "
                        "written to the temporary folder unless --out is given")
    p.set_defaults(quick_checkpoints=checkpoints, default_out=p.get_default("out"))


def apply_quick(args: argparse.Namespace) -> argparse.Namespace:
    """A smoke run never overwrites the committed results file (measured: a ``--quick`` run of
    ``dqn_rules`` replaced ``results/dqn_rules.json``)."""
    if args.quick:
        args.seeds, args.users, args.references = "0", 16, ""
        args.checkpoints = args.quick_checkpoints
        if args.out == args.default_out:
            args.out = Path(tempfile.gettempdir()) / f"quick-{Path(args.default_out).name}"
    return args


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = curve_parser(__doc__.splitlines()[0], CHECKPOINTS, DEFAULT_OUT,
                     'config overrides for the learners, JSON: \'{"n_steps": 64}\'')
    p.add_argument("--agents", default=",".join(LEARNERS))
    add_quick(p, "0,512,2048")
    return apply_quick(p.parse_args(argv))


def names(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def parse_checkpoints(text: str, users: int) -> list[int]:
    """Increasing user-step counts (0: the untrained policy); training runs in batched steps of
    ``users`` user-steps, so a checkpoint is reached at the next multiple of ``users``."""
    try:
        points = [int(t) for t in names(text)]
    except ValueError:
        raise ValueError(f"checkpoints {text!r} must be comma-separated integers (user-steps), "
                         f"e.g. '0,4096,20480'") from None
    if not points or any(b <= a for a, b in itertools.pairwise(points)) or points[0] < 0:
        raise ValueError(f"checkpoints {points} must be increasing non-negative user-step counts "
                         f"(B={users} user-steps per batched step)")
    return points


def parse_kwargs(text: str) -> dict[str, Any]:
    """A JSON object of config overrides (lists become tuples, as the typed configs hold them)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--agent-kwargs {text!r} is not JSON ({exc.msg} at character "
                         f"{exc.pos}); expected an object like '{{\"n_steps\": 64}}'") from None
    if not isinstance(value, dict):
        raise TypeError(f"--agent-kwargs must be a JSON object, got {text!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}


def learner_curve(scenario: str, name: str, seed: int, envs: tuple[Any, Any],
                  checkpoints: list[int], centroids: np.ndarray, kwargs: dict[str, Any],
                  on_evaluated: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    """Train ``name`` in chunks on the training env; evaluate a loaded copy at each checkpoint
    (``on_evaluated`` receives each evaluated copy, e.g. for diagnostics)."""
    from driftrec.agents import make_agent

    train_env, eval_env = envs
    users = train_env.num_envs
    steps = int(eval_env.unwrapped.config.max_steps)
    agent = make_agent(name, train_env, seed=seed, **kwargs)
    done, wall, cpu, points = 0, 0.0, 0.0, []
    with tempfile.TemporaryDirectory() as tmp:
        for target in checkpoints:
            chunk = -(-(target - done) // users)  # batched steps, rounded up
            t0, c0 = time.perf_counter(), time.process_time()
            if chunk > 0:
                agent.fit(train_env, chunk, seed=seed + TRAIN_SEED_OFFSET if done == 0 else None)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            model = getattr(agent, "model", None)  # SB3 counts its steps (whole rollouts)
            done = int(model.num_timesteps) if model is not None else done + max(chunk, 0) * users
            path = Path(tmp) / f"{name}.pt"
            agent.save(path)
            evaluated = make_agent(name, eval_env, seed=seed, **kwargs)
            evaluated.load(path)
            result = evaluate_agent(evaluated, eval_env, steps=steps, seed=seed, learn=True,
                                    centroids=centroids)
            if on_evaluated is not None:
                on_evaluated(evaluated)
            points.append({"user_steps": done, "train_wall_s": round(wall, 1),
                           "train_cpu_s": round(cpu, 1),
                           "return_mean": result.metrics["return_mean"],
                           "session_length": result.metrics.get("session_length"),
                           "user_returns": result.user_returns})
            print(f"{scenario:>9} {name:<5} seed {seed} {done:>8} user-steps "
                  f"({wall:6.0f}s wall, {cpu:6.0f}s cpu): return "
                  f"{result.metrics['return_mean']:.1f}", flush=True)
    return points


def oracle_budget(env: Any, seed: int) -> dict[str, Any]:
    """The budget-aware oracle of ``video_horizon`` on the evaluation cohort of ``seed``."""
    from .video_horizon import long_horizon, run_cohort

    row = run_cohort(env.unwrapped, long_horizon, seed, kappa=1.0)
    return {"seed": seed, "return_mean": row["return"],
            "session_length": row["session_length"]}


def reference_rows(scenario: str, names: list[str], seeds: list[int], env: Any,
                   centroids: np.ndarray) -> dict[str, Any]:
    """Each reference agent on the evaluation cohorts, pooled over seeds."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "oracle_budget":
            continue
        cells = [run_cell(env, scenario, name, s, int(env.unwrapped.config.max_steps), 1.0,
                          centroids) for s in seeds]
        mean, ci = aggregate_returns([np.asarray(c["user_returns"]) for c in cells])
        seed_means = [c["metrics"]["return_mean"] for c in cells]
        out[name] = {"return_mean": mean, "return_ci95": ci, "seed_returns": seed_means,
                     "seed_return_ci95": mean_ci(seed_means)[1],
                     **iqm_fields([c["user_returns"] for c in cells]),
                     "train_steps": TRAIN_STEPS.get(name, 0)}
        print(f"{scenario:>9} reference {name:<8} return {mean:.1f} ± {ci:.1f}", flush=True)
    if "oracle_budget" in names:  # last: it switches on the env's oracle info for good
        rows = [oracle_budget(env, s) for s in seeds]
        seed_means = [r["return_mean"] for r in rows]
        mean, ci = mean_ci(seed_means)
        out["oracle_budget"] = {"return_mean": mean, "return_ci95": ci,
                                "seed_returns": seed_means, "seed_return_ci95": ci,
                                "reads_hidden_state": True}
        print(f"{scenario:>9} reference oracle_budget return {mean:.1f} ± {ci:.1f} (seeds)",
              flush=True)
    return out


#: Bootstrap resamples of the IQM intervals, and the seed of their RandomState (rliable draws
#: from the one it is handed, never from NumPy's global generator).
BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 0


def iqm_interval(scores: np.ndarray, reps: int = BOOTSTRAP_REPS,
                 seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Interquartile mean of a (runs, tasks) score matrix with its 95% stratified-bootstrap
    interval (runs resampled within each task; Agarwal et al. 2021), through ``rliable``.

    Two uses here: runs = seeds of one scenario (a (seeds, 1) matrix: the across-seed summary
    rliable was made for — with 3 seeds the IQM is their mean, and the bootstrap over 3 values is
    coarse), and runs = users with tasks = seeds (each seed's evaluation cohort resampled on its
    own: the IQM of per-user returns, robust to the few users whose sessions run long)."""
    from rliable import library as rly
    from rliable import metrics

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or min(scores.shape) < 1:
        raise ValueError(f"scores have shape {scores.shape}; expected a (runs, tasks) matrix")
    # rliable draws from the RandomState it is handed, yet also touches NumPy's global
    # generator (measured: its state moves); that state is restored, so nobody else's stream
    # changes. arch deprecates the random_state argument rliable passes: that warning is muted.
    global_state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            point, interval = rly.get_interval_estimates(
                {"x": scores}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps,
                random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(global_state)
    low, high = (float(v) for v in np.asarray(interval["x"]).reshape(-1)[:2])
    return {"iqm": float(point["x"][0]), "ci95": [low, high]}


def iqm_fields(user_returns: Sequence[Sequence[float]]) -> dict[str, Any]:
    """``iqm_seeds`` and ``iqm_users`` (``iqm_interval``) of one point's per-seed user returns."""
    sizes = [len(r) for r in user_returns]
    if not sizes or min(sizes) != max(sizes) or not sizes[0]:
        raise ValueError(f"per-seed user returns of sizes {sizes}; expected one cohort of the "
                         "same, non-zero size per seed")
    users = np.stack([np.asarray(r, dtype=np.float64) for r in user_returns], axis=1)
    return {"iqm_seeds": iqm_interval(users.mean(axis=0)[:, None]),
            "iqm_users": iqm_interval(users)}


def summarise_curve(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Pool the seeds' curves point by point (the i-th checkpoint of every seed): mean ± 95%
    t-interval (pooled over (seed, user), and over seed means) and rliable's IQM with a
    stratified-bootstrap interval (over seeds, and over users stratified by seed)."""
    out = []
    for points in zip(*runs, strict=True):
        mean, ci = aggregate_returns([np.asarray(p["user_returns"]) for p in points])
        seed_means = [p["return_mean"] for p in points]
        out.append({
            "user_steps": int(np.mean([p["user_steps"] for p in points])),
            "return_mean": mean, "return_ci95": ci, "seed_returns": seed_means,
            "seed_return_ci95": mean_ci(seed_means)[1],
            **iqm_fields([p["user_returns"] for p in points]),
            "session_length": float(np.mean([p["session_length"] or 0.0 for p in points])),
            "train_wall_s": float(np.mean([p["train_wall_s"] for p in points])),
            "train_cpu_s": float(np.mean([p["train_cpu_s"] for p in points])),
        })
    return out


def check_targets(summary: dict[str, Any]) -> dict[str, Any]:
    """The issue's video targets at the last checkpoint whose training took at most 20 minutes
    of CPU (process time with one torch thread: at most 20 minutes on one of the two cores)."""
    video = summary.get("video")
    if not video:
        return {}
    refs = video["references"]
    checks: dict[str, Any] = {}
    for name, curve in video["curves"].items():
        within = [p for p in curve if p["train_cpu_s"] <= 1200] or curve[:1]
        point = within[-1]
        for ref, factor in (("linucb", 1.0), ("thompson", 1.0), ("oracle_budget", 0.8)):
            if ref in refs:
                bar = factor * refs[ref]["return_mean"]
                checks[f"video: {name} >= {factor:g} x {ref}"] = {
                    "holds": bool(point["return_mean"] >= bar),
                    "detail": f"{point['return_mean']:.1f} vs {bar:.1f} at "
                              f"{point['user_steps']} user-steps ({point['train_cpu_s']:.0f} "
                              f"CPU-s, {point['train_wall_s']:.0f} s wall)"}
    return checks


def write_results(out: Path, result: dict[str, Any]) -> None:
    """Write ``result`` atomically to ``out`` and print its checks, one line each."""
    atomic_write_json(out, result)
    for name, check in result["checks"].items():
        print(f"  [{'ok' if check['holds'] else 'FAIL'}] {name}: {check['detail']}")
    print(f"{result['seconds']:.0f}s wall, {result.get('cpu_seconds', '?')} CPU-s; results: {out}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    scenarios, learners, refs = names(args.scenarios), names(args.agents), names(args.references)
    seeds = [int(s) for s in names(args.seeds)]
    checkpoints = parse_checkpoints(args.checkpoints, args.users)
    kwargs = parse_kwargs(args.agent_kwargs)
    source = provenance()  # the code as it was when the run started
    t_start = time.perf_counter()
    summary: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for scn in scenarios:
        train_env = make_vector_env(scn, args.users, encoder=args.encoder)
        eval_env = make_vector_env(scn, args.users, encoder=args.encoder)
        try:
            centroids, _ = geometry(eval_env)
            raw[scn] = {}
            curves = {}
            for name in learners:
                merged = {**agent_kwargs(scn, name), **kwargs}
                raw[scn][name] = [learner_curve(scn, name, s, (train_env, eval_env),
                                                checkpoints, centroids, merged) for s in seeds]
                curves[name] = summarise_curve(raw[scn][name])
            summary[scn] = {"curves": curves,
                            "references": reference_rows(scn, refs, seeds, eval_env, centroids)}
        finally:
            train_env.close()
            eval_env.close()
    result = {
        "benchmark": "learning_curves",
        "config": {"scenarios": scenarios, "agents": learners, "references": refs,
                   "seeds": seeds, "users": args.users, "checkpoints": checkpoints,
                   "encoder": args.encoder, "threads": args.threads, "agent_kwargs": kwargs,
                   "reference_train_steps": {r: TRAIN_STEPS.get(r, 0) for r in refs},
                   "train_seed_offset": TRAIN_SEED_OFFSET,
                   "ci": CI_NOTE},
        "provenance": source,
        "seconds": round(time.perf_counter() - t_start, 1),
        "summary": summary,
        "checks": check_targets(summary),
        "runs": {scn: {name: [[{k: v for k, v in p.items() if k != "user_returns"}
                               for p in run] for run in runs] for name, runs in per.items()}
                 for scn, per in raw.items()},
    }
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
