"""Does DQN over ranking rules earn its learning? DQN's curve against each rule as a fixed policy.

DQN chooses one of ``agents.rules.RULES`` per user-step. That design is justified only if the
learned choice beats the best single rule applied to everyone (the bar), and it must beat random
and popular (issue 24). Per (scenario, seed), on the protocol of ``learning_curves`` (training
users of seed ``seed + TRAIN_SEED_OFFSET``, fresh evaluation users of seed ``seed``):

- DQN's learning curve (``learning_curves.learner_curve``: save, load into a fresh agent on the
  evaluation env, one session);
- every rule as a fixed policy (``rules.FixedRuleAgent``), its item statistics first logged for
  ``TRAIN_STEPS['quality']`` batched steps on the training users, as the ``quality`` reference's;
- random and popular (``learning_curves.reference_rows``).

Results: ``benchmarks/results/dqn_rules.json`` (atomic write, command and commit in provenance).

    python -m driftrec.benchmarks.dqn_rules --scenarios video,news,shopping
    python -m driftrec.benchmarks.dqn_rules --quick
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.cli.metrics import aggregate_returns, mean_ci
from driftrec.cli.runner import (
    TRAIN_SEED_OFFSET,
    evaluate_agent,
    make_vector_env,
    scenario_geometry,
)

from .compare_agents import TRAIN_STEPS, provenance
from .learning_curves import (
    CI_NOTE,
    add_quick,
    apply_quick,
    curve_parser,
    iqm_fields,
    learner_curve,
    names,
    parse_checkpoints,
    parse_kwargs,
    reference_rows,
    summarise_curve,
    write_results,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "dqn_rules.json"
CHECKPOINTS = (0, 20480, 51200, 102400)


def parse_args(argv: Sequence[str] | None) -> Any:
    p = curve_parser(__doc__.splitlines()[0], CHECKPOINTS, DEFAULT_OUT,
                     'DQN config overrides, JSON: \'{"gamma": 0.99}\'')
    p.set_defaults(references="random,popular")
    p.add_argument("--rules", default="", help="rules to run as fixed policies (default: all)")
    add_quick(p, "0,1024")
    return apply_quick(p.parse_args(argv))


def rule_cell(env: Any, rule: str, seed: int, centroids: np.ndarray,
              train_steps: int) -> dict[str, Any]:
    """One rule as a fixed policy on the evaluation cohort of ``seed``."""
    from driftrec.agents.rules import FixedRuleAgent, FixedRuleConfig

    agent = FixedRuleAgent(env, seed=seed, config=FixedRuleConfig(rule=rule))
    if train_steps:
        agent.fit(env, train_steps, seed=seed + TRAIN_SEED_OFFSET)
    result = evaluate_agent(agent, env, steps=int(env.unwrapped.config.max_steps), seed=seed,
                            learn=True, centroids=centroids)
    return {"return_mean": result.metrics["return_mean"], "user_returns": result.user_returns}


def rule_rows(scenario: str, rules: list[str], seeds: list[int], env: Any,
              centroids: np.ndarray, train_steps: int) -> dict[str, Any]:
    """Each fixed rule pooled over seeds, as ``reference_rows`` reports the references."""
    out = {}
    for rule in rules:
        cells = [rule_cell(env, rule, s, centroids, train_steps) for s in seeds]
        mean, ci = aggregate_returns([np.asarray(c["user_returns"]) for c in cells])
        seed_means = [c["return_mean"] for c in cells]
        out[rule] = {"return_mean": mean, "return_ci95": ci, "seed_returns": seed_means,
                     "seed_return_ci95": mean_ci(seed_means)[1],
                     **iqm_fields([c["user_returns"] for c in cells])}
        print(f"{scenario:>9} rule {rule:<13} return {mean:.1f} ± {ci:.1f}", flush=True)
    return out


def verdicts(scenario: str, curve: list[dict[str, Any]], rules: dict[str, Any],
             refs: dict[str, Any]) -> dict[str, Any]:
    """DQN's last point against random, popular and the best fixed rule (the bar)."""
    last = curve[-1]
    out = {}
    bars = {name: row["return_mean"] for name, row in refs.items()}
    if rules:
        best = max(rules, key=lambda r: rules[r]["return_mean"])
        bars[f"best rule ({best})"] = rules[best]["return_mean"]
    for name, bar in bars.items():
        out[f"{scenario}: dqn > {name}"] = {
            "holds": bool(last["return_mean"] > bar),
            "detail": f"{last['return_mean']:.1f} ± {last['return_ci95']:.1f} vs {bar:.1f} at "
                      f"{last['user_steps']} user-steps"}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in names(args.seeds)]
    checkpoints = parse_checkpoints(args.checkpoints, args.users)
    kwargs = parse_kwargs(args.agent_kwargs)
    from driftrec.agents.rules import RULES

    rules = names(args.rules) or list(RULES)
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"--rules {unknown}; expected names from {RULES}")
    rule_train = TRAIN_STEPS["quality"] if args.references else 0
    t_start, c_start = time.perf_counter(), time.process_time()
    summary: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for scn in names(args.scenarios):
        train_env = make_vector_env(scn, args.users, encoder=args.encoder)
        eval_env = make_vector_env(scn, args.users, encoder=args.encoder)
        try:
            centroids, _ = scenario_geometry(eval_env)
            runs = [learner_curve(scn, "dqn", s, (train_env, eval_env), checkpoints, centroids,
                                  kwargs) for s in seeds]
            fixed = rule_rows(scn, rules, seeds, eval_env, centroids, rule_train)
            refs = reference_rows(scn, names(args.references), seeds, eval_env, centroids)
            curve = summarise_curve(runs)
            summary[scn] = {"dqn": curve, "rules": fixed, "references": refs}
            checks |= verdicts(scn, curve, fixed, refs)
        finally:
            train_env.close()
            eval_env.close()
    result = {
        "benchmark": "dqn_rules",
        "config": {"scenarios": names(args.scenarios), "seeds": seeds, "users": args.users,
                   "checkpoints": checkpoints, "rules": rules, "rule_train_steps": rule_train,
                   "agent_kwargs": kwargs, "threads": args.threads,
                   "train_seed_offset": TRAIN_SEED_OFFSET,
                   "ci": CI_NOTE},
        "provenance": provenance(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "cpu_seconds": round(time.process_time() - c_start, 1),
        "summary": summary,
        "checks": checks,
    }
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
