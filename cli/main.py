"""The ``driftrec`` command: ``bench``, ``train``, ``plot``, ``scenarios``, ``agents``, ``calibrate``.

Design choices:

- every flag value is validated before any work starts; a bad value prints one line
  (``driftrec bench: error: ...``) on stderr and exits with status 2 — no usage dump, no traceback;
- heavy imports (torch, the envs, the agents) happen inside the subcommands, so ``--help``,
  ``--version`` and argument errors answer instantly;
- results folders are never silently overwritten: a non-empty ``--out`` needs ``--overwrite``;
- an interrupted run continues with ``--resume`` (train from its checkpoint, bench from its
  finished runs); nothing outside ``--out`` is read back, written or deleted (``runfolder.py``).

``main(argv=None) -> int`` is the console-script entry point (``driftrec = ...cli:main``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from .bench_command import run_bench
from .options import (
    DEFAULT_AGENTS,
    DEFAULT_SEEDS,
    DEFAULT_STEPS,
    DEFAULT_TRAIN_STEPS,
    DEFAULT_USERS,
    QUICK,
    CLIError,
    _calibration_file,
    _names,
    agent_names,
    check_device,
    check_encoder,
    check_names,
    prepare_out_dir,
    scenario_names,
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is a one-line error (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _int_at_least(low: int, wording: str) -> Callable[[str], int]:
    """An argparse ``type``: an int >= ``low``, else "expected ``wording``, got ...". """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {wording}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _seeds(text: str) -> tuple[int, ...]:
    """``N`` → seeds 0..N−1; ``a,b,c`` → exactly those seeds."""
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a seed count N or a comma list of seeds, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected a seed count N or a comma list of seeds")
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"seed count must be positive, got {text!r}")
        return tuple(range(values[0]))
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"seeds must be >= 0, got {text!r}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"seeds must be distinct, got {text!r}")
    return tuple(values)


def _version() -> str:
    try:
        return metadata.version("driftrec")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# ----------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="driftrec", description=(
        "Long-horizon recommendation simulator with language-model user interests that drift. "
        "Run the benchmark suite, train an agent, plot results."))
    parser.add_argument("--version", action="version", version=f"driftrec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    bench = sub.add_parser("bench", help="run scenarios × agents × seeds; write a results folder",
                           description=(
        "Run the benchmark suite and write results.json, results.csv, results.md and PNG plots "
        "into a results folder. With no flags: all scenarios, the standard agents, "
        f"{DEFAULT_SEEDS} seeds, {DEFAULT_USERS} users, one full session per user."))
    bench.add_argument("--scenarios", nargs="+", metavar="NAME",
                       help="scenarios to run (default: all; `driftrec scenarios` lists them); "
                            "a `driftrec calibrate` file runs its preset calibrated")
    bench.add_argument("--agents", nargs="+", metavar="NAME", help=(
        f"agents to run (default: {','.join(DEFAULT_AGENTS)}; `driftrec agents` lists them)"))
    bench.add_argument("--seeds", type=_seeds, metavar="N|a,b,..",
                       help=f"seed count (seeds 0..N-1) or a comma list (default {DEFAULT_SEEDS})")
    bench.add_argument("--users", type=_positive_int, metavar="B",
                       help=f"users per batch (default {DEFAULT_USERS})")
    bench.add_argument("--steps", type=_positive_int, metavar="T",
                       help="evaluation steps per episode, capped at each scenario's session "
                            "limit (default: the session limit)")
    bench.add_argument("--train-steps", type=_non_negative_int, metavar="N",
                       help="training steps on held-out users before evaluation, for agents that "
                            f"learn (default {DEFAULT_TRAIN_STEPS}; 0 = online learning only)")
    _add_common(bench, out_help="results folder (default runs/<timestamp>-bench/)")
    bench.add_argument("--quick", action="store_true",
                       help="a tiny smoke-test run (explicit flags still win)")
    bench.add_argument("--dataset", metavar="NAME",
                       help="run on a real data set (movielens, amazon, mind) instead of the "
                            "built-in catalog")
    bench.add_argument("--data-dir", metavar="PATH", help="folder holding the data set's files")
    bench.add_argument("--max-users", type=_positive_int, metavar="N",
                       help="subsample the data set's users")
    bench.add_argument("--max-items", type=_positive_int, metavar="N",
                       help="subsample the data set's items")
    bench.add_argument("--calibration", metavar="FILE",
                       help="with --dataset: use the scenario of a `driftrec calibrate` file")
    bench.add_argument("--resume", action="store_true",
                       help="continue an interrupted bench in --out (same flags): keep its "
                            "finished runs, redo the rest")

    train = sub.add_parser("train", help="train one agent with progress, logs and checkpoints",
                           description=(
        "Train one agent on one scenario: progress bar, CSV log (and TensorBoard events when "
        "tensorboard is installed), periodic checkpoints, a learning-curve PNG and a held-out "
        "evaluation at the end. Ctrl-C leaves a valid checkpoint and log; --resume continues."))
    train.add_argument("--agent", required=True, metavar="NAME")
    train.add_argument("--scenario", required=True, metavar="NAME")
    train.add_argument("--steps", type=_positive_int, required=True, metavar="N",
                       help="total training steps (batched env steps)")
    train.add_argument("--users", type=_positive_int, default=64, metavar="B",
                       help="users per batch (default 64)")
    seeding = train.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=_non_negative_int, default=0,
                         help="seed of the one run (default 0)")
    seeding.add_argument("--seeds", type=_non_negative_int, nargs="+", metavar="K",
                         help="train one run per seed, each into --out/seed-K/ (a normal train "
                              "run folder; --resume continues each); `driftrec plot OUT` "
                              "draws them with a band over seeds")
    train.add_argument("--log-every", type=_positive_int, default=10, metavar="N",
                       help="steps between CSV log rows (default 10)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=100, metavar="N",
                       help="steps between checkpoints (default 100)")
    train.add_argument("--eval-users", type=_positive_int, default=64, metavar="B",
                       help="held-out users of each evaluation (default 64)")
    train.add_argument("--eval-steps", type=_positive_int, default=50, metavar="T",
                       help="steps of each evaluation (default 50)")
    train.add_argument("--eval-every", type=_positive_int, default=None, metavar="USER_STEPS",
                       help="evaluate a copy of the agent on held-out users (seed --seed; "
                            "training users are seeded apart) at step 0 and every USER_STEPS "
                            "training user-steps, into eval.csv; `driftrec plot` then draws "
                            "held-out return against training user-steps")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out (same flags) from its checkpoint, or "
                            "from step 0 if it was stopped before its first one")
    train.add_argument("--engine", choices=("builtin", "rllib"), default="builtin",
                       help="who runs the training loop: driftrec's own (default) or Ray RLlib "
                            "(--agent ppo; needs `pip install driftrec[rllib]`)")
    train.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="with --engine rllib: env runners, each stepping --users / N users "
                            "of the native vector env (default 1)")
    _add_common(train, out_help="run folder (default runs/<timestamp>-train-AGENT-SCENARIO/)")

    plot = sub.add_parser("plot", help="reward curves of one or more results folders",
                          description="Draw the reward curves of one or more bench results "
                                      "folders on one figure, or the learning curves of "
                                      "`driftrec train` folders (--seeds folders get a band "
                                      "over seeds).")
    plot.add_argument("runs", nargs="+", metavar="RUN_DIR")
    plot.add_argument("--references", metavar="FILE", default=None,
                      help="with train folders: a learning-curves JSON (e.g. benchmarks/results/"
                           "learning_curves.json) whose random, popular, best-bandit and oracle "
                           "returns are drawn as horizontal lines")
    plot.add_argument("--out", metavar="FILE", default=None,
                      help="PNG to write (default: reward_curves.png in the first RUN_DIR when "
                           "one run is given, else ./driftrec-plot.png)")

    sub.add_parser("scenarios", help="list the scenarios", description="List the scenarios.")
    sub.add_parser("agents", help="list the agents", description="List the agents.")

    cal = sub.add_parser("calibrate", help="fit the user model to a real data set's logs",
                         description="Fit the simulator's user-model parameters to a data set's "
                                     "logged sequences and write them to a file.")
    cal.add_argument("--dataset", required=True, metavar="NAME")
    cal.add_argument("--data-dir", required=True, metavar="PATH")
    cal.add_argument("--out", required=True, metavar="FILE")
    cal.add_argument("--max-users", type=_positive_int, metavar="N")
    cal.add_argument("--max-items", type=_positive_int, metavar="N")
    cal.add_argument("--encoder", default="minilm", metavar="SPEC",
                     help="text encoder for the items (default minilm)")
    cal.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    cal.add_argument("--adapter-dim", type=_positive_int, metavar="K",
                     help="also fit a behaviour-tuned item adapter (text embedding -> K-d "
                          "interest space), written beside --out as <stem>.adapter.npz")
    cal.add_argument("--residual-l2", type=_non_negative_float, default=None, metavar="L2",
                     help="with --adapter-dim: the per-item residual's Gaussian prior penalty "
                          "(0: no residual; default: AdapterConfig's, see docs/fidelity.md)")
    cal.add_argument("--checkpoint", metavar="FILE",
                     help="with --adapter-dim: resumable checkpoint of the adapter fit")
    cal.add_argument("--fit-sessions", action=argparse.BooleanOptionalAction, default=True,
                     help="also fit the session budget (budget_initial, budget_spread) to the "
                          "held-in sessions' lengths under the popular policy (default on; "
                          "~10 CPU-s on ml-100k)")
    cal.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                     help="torch CPU threads for the fit (default 1: its operations are small, "
                          "and on a busy machine a second thread waits for a busy core; see "
                          "docs/fidelity.md)")
    return parser


def _add_common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--out", metavar="DIR", help=out_help)
    p.add_argument("--overwrite", action="store_true",
                   help="allow writing into a non-empty output folder")
    p.add_argument("--encoder", default="minilm", metavar="SPEC",
                   help="text encoder: minilm (default), hashing (fast, for tests) or a local "
                        "model folder")
    p.add_argument("--device", default="cpu", metavar="DEV",
                   help="torch device for the engine and agents (default cpu)")


# ----------------------------------------------------------------------------------------------
# subcommands


def cmd_bench(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .runner import BenchConfig

    quick = QUICK if args.quick else {}
    if args.dataset is not None or args.data_dir is not None:
        return _bench_dataset(args, argv)
    if args.max_users is not None or args.max_items is not None or args.calibration:
        raise CLIError("--max-users, --max-items and --calibration only apply with --dataset")
    all_scenarios = scenario_names()
    scenarios = _names(args.scenarios) or tuple(all_scenarios)
    check_names("scenario", [s for s in scenarios if not _calibration_file(s)],
                list(all_scenarios))
    all_agents = agent_names()
    agents = _names(args.agents) or tuple(quick.get("agents", DEFAULT_AGENTS))
    check_names("agent", agents, list(all_agents))
    check_encoder(args.encoder)
    check_device(args.device)
    config = BenchConfig(
        scenarios=scenarios, agents=agents,
        seeds=args.seeds or tuple(range(quick.get("seeds", DEFAULT_SEEDS))),
        users=args.users or quick.get("users", DEFAULT_USERS),
        steps=args.steps or quick.get("steps", DEFAULT_STEPS),
        train_steps=(args.train_steps if args.train_steps is not None
                     else quick.get("train_steps", DEFAULT_TRAIN_STEPS)),
        encoder=args.encoder, device=args.device)
    out_dir = prepare_out_dir(args.out, "bench", args.overwrite, resume=args.resume)
    return run_bench(config, out_dir, argv, resume=args.resume)


def _bench_dataset(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import realdata

    return realdata.bench_dataset(args, argv)


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import rllib_training

    all_scenarios = scenario_names()
    calibrated = _calibration_file(args.scenario, "--scenario")  # a calibration file trains like a preset
    check_names("scenario", [] if calibrated else [args.scenario], list(all_scenarios))
    check_names("agent", [args.agent], list(agent_names()))
    check_encoder(args.encoder)
    check_device(args.device)
    if args.seeds is not None:
        _check_distinct_seeds(args.seeds)
    rllib_training.check_args(args)
    label = Path(args.scenario).stem if calibrated else args.scenario
    out_dir = prepare_out_dir(args.out, f"train-{args.agent}-{label}", args.overwrite,
                              resume=args.resume)
    if args.seeds is None:
        return _train_function(args)(args, out_dir, argv)
    return _train_seeds(args, out_dir, argv)


def _train_function(args: argparse.Namespace) -> Any:
    """The ``--engine``'s train command: ``training`` or ``rllib_training``."""
    from . import rllib_training, training

    return (rllib_training if args.engine == "rllib" else training).train_command


def _check_distinct_seeds(seeds: Sequence[int]) -> None:
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise CLIError(f"--seeds {' '.join(map(str, seeds))}: seed(s) "
                       f"{', '.join(map(str, repeated))} repeated; expected distinct seeds")


def _train_seeds(args: argparse.Namespace, out_dir: Path, argv: Sequence[str]) -> int:
    """``--seeds``: the single-seed run once per seed, into ``out_dir/seed-K/``.

    With ``--resume``, a seed folder holding a run continues it; a seed the interrupted command
    never reached (no folder, or no config.json yet) starts from step 0. Stops at the first
    interrupted seed so that Ctrl-C stops the whole command."""
    from . import training
    from .runfolder import CONFIG_FILE, check_inside

    runs = []
    for seed in args.seeds:
        sub = check_inside(out_dir, out_dir / f"seed-{seed}")
        resume = args.resume and (sub / CONFIG_FILE).exists()
        seed_args = argparse.Namespace(**{**vars(args), "seed": seed, "seeds": None,
                                          "resume": resume})
        if resume:
            training.check_resume(seed_args, sub)
        runs.append((seed, sub, resume, seed_args))
    for seed, sub, resume, seed_args in runs:
        # a seed the interrupted command never started may have left an empty or partial folder
        fresh_ok = args.overwrite or (args.resume and not resume)
        seed_dir = prepare_out_dir(str(sub), "", fresh_ok, resume=resume)
        print(f"driftrec train: seed {seed} → {seed_dir}", file=sys.stderr)
        code = _train_function(args)(seed_args, seed_dir, argv)
        if code != 0:
            return code
    return 0


def cmd_plot(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import plots, report
    from .training import is_train_folder

    train = [is_train_folder(Path(run)) for run in args.runs]
    if any(train):
        if not all(train):
            bench = [r for r, t in zip(args.runs, train) if not t]
            raise CLIError(f"{', '.join(map(repr, bench))}: not train run folders while "
                           "other RUN_DIRs are; expected all bench or all train folders")
        return _plot_train(args)
    if args.references:
        raise CLIError("--references only applies to train run folders")
    loaded = []
    for run in args.runs:
        try:
            loaded.append((Path(run).resolve().name or run, report.load_results(run)))
        except (FileNotFoundError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    out = _plot_out(args, "reward_curves.png")
    try:
        plots.plot_reward_curves(loaded, out)
    except OSError as exc:
        raise CLIError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    print(out)
    return 0


def _plot_out(args: argparse.Namespace, name: str) -> Path:
    """``--out``, else ``name`` in the one RUN_DIR, else ./driftrec-plot.png; must be a PNG."""
    if args.out:
        out = Path(args.out)
    elif len(args.runs) == 1:
        out = Path(args.runs[0]) / name
    else:
        out = Path("driftrec-plot.png")
    if out.suffix.lower() != ".png":
        raise CLIError(f"--out {str(out)!r}: expected a .png file name")
    return out


def _plot_train(args: argparse.Namespace) -> int:
    """Learning curves of train folders, with the ``--references`` lines of their scenario."""
    from . import plots
    from .training import load_train_curves

    out = _plot_out(args, "learning_curves.png")
    runs = []
    for run in args.runs:
        try:
            runs.append((Path(run).resolve().name or run, load_train_curves(Path(run))))
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    scenarios = sorted({c.scenario for _, curves in runs for c in curves})
    references = None
    if args.references:
        if len(scenarios) > 1:
            raise CLIError(f"--references with runs of several scenarios {scenarios}; expected "
                           "runs of one scenario")
        try:
            references = plots.load_references(args.references, scenarios[0])
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    try:
        plots.plot_train_curves(runs, out, references)
    except OSError as exc:
        raise CLIError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    print(out)
    return 0


def cmd_scenarios(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _print_listing(scenario_names())
    return 0


def cmd_agents(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _print_listing(agent_names())
    return 0


def _print_listing(items: dict[str, str]) -> None:
    width = max(map(len, items), default=0)
    for name, text in items.items():
        print(f"{name.ljust(width)}  {text}")


def cmd_calibrate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import realdata

    return realdata.calibrate_command(args, argv)


_COMMANDS = {"bench": cmd_bench, "train": cmd_train, "plot": cmd_plot,
             "scenarios": cmd_scenarios, "agents": cmd_agents, "calibrate": cmd_calibrate}


def _limit_blas_threads() -> None:
    """Default OpenBLAS to one thread unless the user chose otherwise.

    The CPU work outside torch is many small LAPACK/BLAS calls (PCA of a catalog, bandit
    solves); OpenBLAS threads busy-wait, and on a small shared machine they make those calls
    several times slower (a 1800×256 SVD: 0.09 s on one thread, 0.5–14 s on two under load).
    Must run before numpy is first imported, which is why the CLI imports it lazily.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    _limit_blas_threads()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    prog = f"driftrec {args.command}"
    try:
        return _COMMANDS[args.command](args, argv)
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as exc:
        # Bad values found deep in the library (a catalog smaller than the slate, a folder that
        # is not a model) already carry a message naming the value; a traceback adds nothing for
        # a user. DRIFTREC_TRACEBACK=1 keeps it for debugging.
        if os.environ.get("DRIFTREC_TRACEBACK"):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # Under ``python -m`` this file runs as ``__main__`` while the modules it calls import
    # ``driftrec.cli.main``: two copies of ``CLIError``. Run the package's copy so the
    # errors they raise are the ones caught above.
    from driftrec.cli.main import main as package_main

    sys.exit(package_main())
