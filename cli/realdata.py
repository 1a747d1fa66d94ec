"""CLI glue for real data sets: ``driftrec bench --dataset`` and ``driftrec calibrate``.

Loading, cohort building and calibration live in ``driftrec.envs.sources.datasets`` and
``driftrec.envs.calibration``; this module maps the flags onto them, turns their documented
errors (``DatasetFormatError`` names the file, the line and what was expected) into one-line CLI
errors, and reuses the bench runner so a data-set run writes the same results folder and plots
as the built-in suite.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .bench_command import run_bench
from .options import (
    DEFAULT_AGENTS,
    DEFAULT_SEEDS,
    DEFAULT_TRAIN_STEPS,
    DEFAULT_USERS,
    QUICK,
    CLIError,
    _names,
    agent_names,
    check_device,
    check_encoder,
    check_names,
    prepare_out_dir,
)


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise CLIError(f"{what} is not available in this build of driftrec "
                           f"({name} is missing)", code=1) from None
        raise


def _check_dataset(args: argparse.Namespace, datasets: Sequence[str]) -> Path:
    if args.dataset is None or args.data_dir is None:
        raise CLIError("--dataset and --data-dir must be given together")
    if args.dataset not in datasets:
        raise CLIError(f"unknown dataset {args.dataset!r}; valid datasets: {', '.join(datasets)}")
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        raise CLIError(f"--data-dir {args.data_dir!r} is not a folder", code=1)
    return data_dir


def _load(ds: ModuleType, args: argparse.Namespace, data_dir: Path) -> Any:
    """The data set, with its documented errors (bad or missing files) as one-line CLI errors."""
    try:
        return ds.load_dataset(args.dataset, data_dir, max_users=args.max_users,
                               max_items=args.max_items)
    except (ds.DatasetFormatError, FileNotFoundError) as exc:
        raise CLIError(str(exc), code=1) from None


def bench_dataset(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``driftrec bench --dataset NAME --data-dir PATH``: the suite on a data set's catalog and
    users (the preset of the data set's domain, or a calibration file's scenario)."""
    from .runner import BenchConfig

    ds = _module("driftrec.envs.sources.datasets", "benchmarking on real data sets (--dataset)")
    data_dir = _check_dataset(args, ds.DATASETS)
    if args.scenarios:
        raise CLIError("--scenarios does not apply with --dataset (the data set defines the "
                       "scenario; use --calibration FILE for a calibrated one)")
    quick = QUICK if args.quick else {}
    agents = _names(args.agents) or tuple(quick.get("agents", DEFAULT_AGENTS))
    check_names("agent", agents, list(agent_names()))
    check_encoder(args.encoder)
    check_device(args.device)
    if args.calibration is not None and not Path(args.calibration).is_file():
        raise CLIError(f"--calibration {args.calibration!r}: no such file", code=1)
    out_dir = prepare_out_dir(args.out, f"bench-{args.dataset}", args.overwrite,
                              resume=args.resume)

    from driftrec.envs import DriftRecVectorEnv, make_scenario
    from driftrec.envs.scenarios import apply_overrides

    dataset = _load(ds, args, data_dir)
    try:
        setup = ds.build_setup(dataset, args.encoder)
        if args.calibration is not None:
            from driftrec.envs.calibration import calibrated_scenario

            scenario = calibrated_scenario(args.calibration)
        else:
            scenario = make_scenario(setup.scenario)
    except (ds.DatasetFormatError, FileNotFoundError) as exc:
        raise CLIError(str(exc), code=1) from None
    scenario = apply_overrides(scenario, device=args.device, **_fit_to_catalog(scenario, setup))
    label = args.dataset
    config = BenchConfig(
        scenarios=(label,), agents=agents,
        seeds=args.seeds or tuple(range(quick.get("seeds", DEFAULT_SEEDS))),
        users=args.users or quick.get("users", DEFAULT_USERS),
        steps=args.steps or quick.get("steps"),
        train_steps=(args.train_steps if args.train_steps is not None
                     else quick.get("train_steps", DEFAULT_TRAIN_STEPS)),
        encoder=args.encoder, device=args.device)

    def env_factory(_: str) -> Any:
        return DriftRecVectorEnv(num_envs=config.users, scenario=scenario,
                                 catalog=setup.catalog, user_pool=setup.user_pool)

    extra = {"dataset": dataset.summary(), "data_dir": str(data_dir),
             "max_users": args.max_users, "max_items": args.max_items,
             "scenario_preset": scenario.name, "calibration": args.calibration,
             "cohort_users": len(setup.split)}
    return run_bench(config, out_dir, argv, extra, env_factory=env_factory,
                     scenario_configs={label: scenario}, resume=args.resume)


def _fit_to_catalog(scenario: Any, setup: Any) -> dict[str, int]:
    """Candidate-set override for a catalog smaller than the preset's candidate count (a
    subsample via ``--max-items``): every item becomes a candidate; fewer items than a slate
    is an error."""
    items = len(setup.catalog)
    if items < scenario.slate_size:
        raise CLIError(f"the data set has {items} items, fewer than the slate size "
                       f"K={scenario.slate_size}; raise --max-items or use a larger data set",
                       code=1)
    if items < scenario.num_candidates:
        print(f"note: {items} items < num_candidates={scenario.num_candidates}; every item is "
              "a candidate", file=sys.stderr)
        return {"num_candidates": items}
    return {}


def calibrate_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``driftrec calibrate``: fit, report held-out fit, write the parameter file."""
    ds = _module("driftrec.envs.sources.datasets", "calibration (driftrec calibrate)")
    cal = _module("driftrec.envs.calibration", "calibration (driftrec calibrate)")
    data_dir = _check_dataset(args, ds.DATASETS)
    check_encoder(args.encoder)
    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {args.out!r} is a folder; expected a file name (e.g. params.json)")
    if out.exists() and not args.overwrite:
        raise CLIError(f"--out {args.out!r} exists; use --overwrite to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{out.name}.write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"cannot write {args.out!r}: {exc.strerror or exc}") from None
    dataset = _load(ds, args, data_dir)
    import torch

    # The fit is many small operations (a batch of users × k); a second thread only helps on
    # an idle machine, and on a shared one it made an epoch ~10× slower (docs/fidelity.md).
    torch.set_num_threads(getattr(args, "threads", 1))
    try:
        adapter = _adapter_config(args)
        setup = ds.build_setup(dataset, args.encoder)
        result = cal.calibrate(setup, args.encoder, out=out, adapter=adapter,
                               checkpoint=getattr(args, "checkpoint", None) if adapter else None)
        if getattr(args, "fit_sessions", False):
            result = _fit_sessions(out, setup)
    except (ds.DatasetFormatError, FileNotFoundError) as exc:
        raise CLIError(str(exc), code=1) from None
    print(calibration_table(result.report))
    print(f"parameters → {out}")
    for name, value in result.parameters.items():
        tag = "fitted" if name in result.fitted else "fixed"
        print(f"  {name:<18} {value:10.4g}  (default {result.defaults.get(name, float('nan')):.4g}"
              f", {tag})")
    return 0


def _fit_sessions(out: Path, setup: Any) -> Any:
    """``--fit-sessions``: the session budget fitted to held-in session lengths under the
    ``popular`` stand-in policy (``calibration/sessions.py``), written into ``out``; the file
    read back."""
    from driftrec.agents import make_agent
    from driftrec.envs.calibration import load_calibration
    from driftrec.envs.calibration.sessions import TooFewSessionsError, add_session_fit

    try:
        add_session_fit(out, setup, make_agent=lambda env, seed: make_agent(
            "popular", env, seed=seed), policy="popular")
    except TooFewSessionsError as exc:  # the calibration file stays as fitted
        print(f"note: session length not fitted: {exc}", file=sys.stderr)
    return load_calibration(out)


def _adapter_config(args: argparse.Namespace) -> Any:
    """The ``AdapterConfig`` of ``--adapter-dim`` (None without it)."""
    if getattr(args, "checkpoint", None) and not getattr(args, "adapter_dim", None):
        raise CLIError("--checkpoint only applies with --adapter-dim")
    residual_l2 = getattr(args, "residual_l2", None)
    if residual_l2 is not None and not getattr(args, "adapter_dim", None):
        raise CLIError("--residual-l2 only applies with --adapter-dim")
    if not getattr(args, "adapter_dim", None):
        return None
    from driftrec.envs.calibration import AdapterConfig

    extra = {} if residual_l2 is None else {"residual_l2": residual_l2}
    return AdapterConfig(dim=args.adapter_dim, **extra)


def calibration_table(report: dict[str, dict[str, float]]) -> str:
    """Held-out fit per model (calibrated / defaults / popularity), one row each."""
    keys: list[str] = []
    for metrics in report.values():
        keys += [k for k in metrics if k not in keys]
    width = max([len(m) for m in report] + [5])
    lines = ["model".ljust(width) + "".join(f"  {k:>14}" for k in keys)]
    for model, metrics in report.items():
        cells = "".join(f"  {_num(metrics.get(k)):>14}" for k in keys)
        lines.append(model.ljust(width) + cells)
    return "\n".join(lines)


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)
