"""Generated sessions against logged ones: the calibrated simulator run forward as an environment,
its sessions compared with the held-out logs on session length, repeat-category rate and the
popularity of consumed items.

    python -m driftrec.benchmarks.session_stats --data-dir ../shared/data/ml-100k \\
        --calibration cal.json

writes ``benchmarks/results/fidelity_movielens_sessions.json``. Why: next-item likelihood
(``fidelity.py``) scores one choice at a time given the logged past; a simulator is used to
generate whole sessions under a policy, so their shape must be checked against real ones too.

Log sessions (held-out only; ``envs/calibration/sessions.py`` cuts them, the same function that
gives the session-length fit its held-in sessions). A user's events are cut into sessions
wherever two consecutive events are more than ``gap_minutes`` apart (default 30, the usual
inactivity threshold of session-based recommendation). A held-out session is one that *starts* in the user's held-out
tail (its first event is held-out and follows a gap, or is the user's first event): it is
complete on both sides — the split boundary never truncates it. Repeat-category pairs are
consecutive events inside such sessions; the popularity profile uses every held-out event.
Same-second events keep the loaders' hashed order (``InteractionBuilder.build``); no statistic
here depends on the order inside one second except which pair is "consecutive" there.

Generated sessions. ``DriftRecVectorEnv`` with the data set's catalog and its cohort as the user
pool (initial interests from their early history), the scenario of a calibration file (or the
domain's preset with ``--calibration`` omitted), B slots; each slot's first user is followed
from arrival until they leave (terminated) or reach ``max_steps`` (truncated): that episode is
one session, its consumed items (steps with a choice) the session's events. Policies:

- ``popular`` (default): the registry's ``popular`` agent — the items with the highest public
  popularity prior plus the consumptions seen so far. The logs were produced by users browsing
  a site that surfaces popular titles first; a logged-replay policy cannot be run on simulated
  users (their choices differ from the log's), so popularity is the closest standard stand-in;
- ``random``: uniformly random slates — the simulated users' own taste, without a policy
  steering it toward popular items.

Statistics, on both sides: session length (consumed items; mean, median, quantiles, the share
of one-item sessions, and the two-sample KS distance between the length distributions);
repeat-category rate (share of consecutive consumed pairs in a session whose items share the
catalog's category — MovieLens: first listed genre — and whose items share any tag — MovieLens:
any genre); popularity of consumed items (share of consumptions per decile of items ranked by
held-in count, decile 1 = the 10% most consumed items; total variation between the two decile
profiles; KS distance between the consumed items' popularity percentiles). Also the held-in
sessions' lengths (``log_heldin_length``: the target of ``driftrec calibrate --fit-sessions``)
and each run's KS distance to them (``length_ks_to_heldin``, non-empty sessions). Counts use init +
held-in events only (``item_statistics``), never the held-out tail.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.calibration.sessions import ks_distance, log_sessions, rollout_sessions
from driftrec.envs.sources.datasets import build_setup, item_statistics

from .sasrec import add_dataset_arguments, load_from_arguments

RESULTS = Path(__file__).resolve().parent / "results"
POLICIES = ("popular", "random")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


# ------------------------------------------------------------------------------ the sessions


def heldout_items(setup: Any) -> np.ndarray:
    """Every held-out event's item (the logs' popularity profile)."""
    inter, split = setup.dataset.interactions, setup.split
    return np.concatenate([inter.sequence(int(u)).items[int(hs):]
                           for u, hs in zip(split.users, split.heldout_start)])


def generated_sessions(env: Any, policy: str, seed: int, max_steps: int) -> tuple[
        list[np.ndarray], dict[str, float]]:
    """Each slot's first user's consumed items, from arrival to departure, under ``policy``;
    and the rollout's counts (``calibration.sessions.rollout_sessions``)."""
    from driftrec.agents import make_agent

    agent = None if policy == "random" else make_agent(policy, env, seed=seed)
    return rollout_sessions(env, agent, seed, max_steps)


# ------------------------------------------------------------------------------ the statistics


def popularity_deciles(counts: np.ndarray) -> np.ndarray:
    """(M,) decile 0..9 of each item ranked by ``counts`` (0 = the most consumed 10%; ties by
    lower index, so the deciles hold M/10 items each)."""
    m = counts.shape[0]
    rank = np.empty(m, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(m)
    return (10 * rank) // m


def popularity_percentile(counts: np.ndarray) -> np.ndarray:
    """(M,) share of items with a strictly lower count than the item's (0 = least consumed)."""
    s = np.sort(counts)
    return np.searchsorted(s, counts, side="left") / counts.shape[0]


def repeat_rates(sessions: list[np.ndarray], category: np.ndarray,
                 tags: list[frozenset]) -> dict[str, float]:
    """Shares of consecutive consumed pairs (inside a session) with the same category, and with
    at least one tag in common."""
    pairs = [(int(x), int(y)) for s in sessions for x, y in itertools.pairwise(s)]
    if not pairs:
        return {"pairs": 0, "same_category": float("nan"), "shared_tag": float("nan")}
    return {"pairs": len(pairs),
            "same_category": float(np.mean([category[x] == category[y] for x, y in pairs])),
            "shared_tag": float(np.mean([bool(tags[x] & tags[y]) for x, y in pairs]))}


def length_summary(sessions: list[np.ndarray]) -> dict[str, float]:
    """Sessions' consumed-item counts: mean, quantiles, share of one-item sessions."""
    n = np.array([len(s) for s in sessions], dtype=np.float64)
    if n.size == 0:
        return {"sessions": 0}
    return {"sessions": int(n.size), "mean": float(n.mean()),
            **{f"q{round(100 * q)}": float(np.quantile(n, q)) for q in QUANTILES},
            "share_one_item": float((n == 1).mean()), "share_empty": float((n == 0).mean())}


def describe(sessions: list[np.ndarray], items: np.ndarray, world: dict[str, Any]
             ) -> dict[str, Any]:
    """Every statistic of one side (log or generated)."""
    dec = np.bincount(world["decile"][items], minlength=10) / max(items.size, 1)
    return {"length": length_summary(sessions),
            "repeat": repeat_rates(sessions, world["category"], world["tags"]),
            "popularity_decile_share": [round(float(x), 5) for x in dec],
            "consumed": int(items.size)}


def compare(log: dict[str, Any], gen: dict[str, Any], log_sessions_: list[np.ndarray],
            gen_sessions: list[np.ndarray], log_items: np.ndarray, gen_items: np.ndarray,
            pct: np.ndarray) -> dict[str, float]:
    """Distances between the two sides."""
    p, q = np.array(log["popularity_decile_share"]), np.array(gen["popularity_decile_share"])
    return {
        "length_ks": ks_distance(np.array([len(s) for s in log_sessions_], dtype=float),
                                 np.array([len(s) for s in gen_sessions], dtype=float)),
        "popularity_decile_tv": float(0.5 * np.abs(p - q).sum()),
        "popularity_percentile_ks": ks_distance(pct[log_items], pct[gen_items]),
        "same_category_diff": gen["repeat"]["same_category"] - log["repeat"]["same_category"],
    }


# ------------------------------------------------------------------------------ the program


def json_safe(value: Any) -> Any:
    """``value`` with NaN floats as None (JSON has no NaN: a statistic without data is null)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def make_env(setup: Any, calibration: Path | None, users: int) -> Any:
    """The vector env on the data set's catalog and cohort, calibrated or the domain preset."""
    from driftrec.envs import DriftRecVectorEnv, make_scenario
    from driftrec.envs.scenarios import apply_overrides

    if calibration is not None:
        from driftrec.envs.calibration import calibrated_scenario

        scenario = calibrated_scenario(calibration)
    else:
        scenario = make_scenario(setup.scenario)
    if len(setup.catalog) < scenario.slate_size:
        raise ValueError(f"the data set has {len(setup.catalog)} items, fewer than the slate "
                         f"size K={scenario.slate_size}; expected a larger catalog")
    if len(setup.catalog) < scenario.num_candidates:
        scenario = apply_overrides(scenario, num_candidates=len(setup.catalog))
    return DriftRecVectorEnv(num_envs=users, scenario=scenario, catalog=setup.catalog,
                             user_pool=setup.user_pool)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    parser.add_argument("--encoder", default="minilm",
                        help="item text encoder (the calibration file's, when one is given)")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="a `driftrec calibrate` file (default: the domain's preset)")
    parser.add_argument("--policy", choices=POLICIES, action="append", dest="policies",
                        help="repeatable; default popular")
    parser.add_argument("--users", type=int, default=None,
                        help="simulated sessions (slots); default: the cohort's size")
    parser.add_argument("--gap-minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    policies = tuple(dict.fromkeys(args.policies or ["popular"]))
    if args.users is not None and args.users < 1:
        parser.error(f"--users must be >= 1, got {args.users}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if not args.gap_minutes > 0:
        parser.error(f"--gap-minutes must be > 0, got {args.gap_minutes}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.calibration is not None and not args.calibration.is_file():
        parser.error(f"--calibration {str(args.calibration)!r}: no such file; expected a "
                     "`driftrec calibrate` output")
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / f"fidelity_{args.dataset}_sessions.json"
    t0, c0 = time.perf_counter(), time.process_time()
    dataset = load_from_arguments(args)
    setup = build_setup(dataset, args.encoder)
    counts = np.asarray(item_statistics(dataset, setup.split)["popularity"], np.float64) - 1.0
    world = {"decile": popularity_deciles(counts),
             "category": np.asarray(setup.catalog.category_ids),
             "tags": [frozenset(t) for t in dataset.items.tags]}
    pct = popularity_percentile(counts)
    sessions = log_sessions(setup, 60.0 * args.gap_minutes)
    # The held-in sessions are what `driftrec calibrate --fit-sessions` fits the budget to.
    heldin = log_sessions(setup, 60.0 * args.gap_minutes, "heldin")
    heldin_lengths = np.array([len(s) for s in heldin], dtype=float)
    held = heldout_items(setup)
    log = describe(sessions, held, world)
    # The domain preset always runs too: what calibration changes is the comparison of interest.
    scenarios = {"defaults": None} if args.calibration is None else {
        "calibrated": args.calibration, "defaults": None}
    generated: dict[str, dict[str, Any]] = {}
    for label, calibration in scenarios.items():
        env = make_env(setup, calibration, args.users or len(setup.split))
        max_steps = int(env.config.max_steps) + 1  # every first user has ended by then
        generated[label] = {}
        for policy in policies:
            c = time.process_time()
            gen, rollout = generated_sessions(env, policy, args.seed, max_steps)
            items = np.concatenate(gen) if gen else np.zeros(0, np.int64)
            side = describe(gen, items, world)
            generated[label][policy] = {
                **side, "rollout": rollout,
                "distance_to_log": compare(log, side, sessions, gen, held, items, pct),
                "length_ks_to_heldin": ks_distance(
                    heldin_lengths, np.array([len(s) for s in gen if len(s)], dtype=float)),
                "cpu_s": round(time.process_time() - c, 1)}
    record = {
        "dataset": dataset.summary(), "cohort_users": len(setup.split),
        "calibration": None if args.calibration is None else {
            "file": str(args.calibration),
            "parameters": json.loads(args.calibration.read_text()).get("parameters")},
        "gap_minutes": args.gap_minutes, "policies": list(policies), "seed": args.seed,
        "log_heldout": log, "log_heldin_length": length_summary(heldin),
        "generated": generated,
        "total": {"wall_s": round(time.perf_counter() - t0, 1),
                  "cpu_s": round(time.process_time() - c0, 1)},
        "command": ["python", "-m", "driftrec.benchmarks.session_stats",
                    *(sys.argv[1:] if argv is None else argv)],
        "versions": versions(),
    }
    record = json_safe(record)
    atomic_write_json(out, record)
    print(json.dumps({"log": log, **{f"{label} / {policy}": {
        k: g[k] for k in ("length", "repeat", "popularity_decile_share", "distance_to_log")}
        for label, side in generated.items() for policy, g in side.items()}}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
