"""``driftrec train``: train one agent with a progress bar, logs, checkpoints and a held-out test.

Run folder contents (every file written atomically):

- ``config.json`` — the command and its settings (a resume must match them);
- ``log.csv`` — one row per ``--log-every`` steps: window means of reward, CTR, engagement and the
  departure rate, plus the agent's own training statistics; rewritten whole (atomically) at every
  row, so a crash loses at most one window. On resume, rows after the checkpoint are dropped.
  Learners that own their loop (Stable-Baselines3, SlateQ) train in ``--checkpoint-every`` chunks
  and log one row per chunk, measured by a short greedy probe;
- ``checkpoint-<step>.pt`` + ``checkpoint.json`` — the agent (``agent.save``) and a pointer naming
  the step it holds. The pointer is written after the agent file, so it only ever names a
  complete checkpoint; the previous checkpoint is deleted after the pointer moves;
- ``learning_curve.png``, ``eval.json`` (held-out users, no learning during the evaluation);
- ``tensorboard/`` event files when ``tensorboard`` is importable.

Ctrl-C: the first SIGINT is deferred until the current step finishes, then a checkpoint and the log
are written and the command exits with 130. ``--resume`` reloads the agent and the log up to the
checkpoint's step and continues; the simulated training users are re-drawn from
``(seed, step)``, since the learner's state — not the simulator's — is what training produces.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.encoders.io import atomic_write_json, atomic_write_text

from .runner import TRAIN_SEED_OFFSET, evaluate_agent, make_vector_env

BASE_COLUMNS = ("step", "wall_seconds", "reward", "ctr", "engagement", "departures")
#: Settings that must match between a run and its ``--resume``.
RESUME_KEYS = ("agent", "scenario", "users", "seed", "encoder")
#: Greedy probe length after each chunk of a learner that owns its loop (its log row's values).
PROBE_STEPS = 10


class _Interrupt:
    """Defers SIGINT: the loop polls ``requested`` between steps; a second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing the step and writing a checkpoint "
              "(Ctrl-C again to abort)", file=sys.stderr)


@contextmanager
def _deferred_sigint() -> Iterator[_Interrupt]:
    flag = _Interrupt()
    try:
        previous = signal.signal(signal.SIGINT, flag.handler)
    except ValueError:  # not the main thread: leave SIGINT alone
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class TrainLog:
    """The CSV log held in memory and flushed atomically (TensorBoard mirrors it when present)."""

    def __init__(self, path: Path, tb_dir: Path | None) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        self.columns: list[str] = list(BASE_COLUMNS)
        self.writer = _tensorboard_writer(tb_dir) if tb_dir is not None else None

    def load(self, up_to_step: int) -> None:
        """Read an existing log, dropping rows after the checkpoint being resumed."""
        if not self.path.is_file():
            return
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            self.columns = list(reader.fieldnames or BASE_COLUMNS)
            self.rows = [{k: float(v) for k, v in row.items() if v not in ("", None)}
                         for row in reader if float(row["step"]) <= up_to_step]

    def append(self, row: dict[str, float]) -> None:
        if not self.rows and len(self.columns) == len(BASE_COLUMNS):
            self.columns += sorted(k for k in row if k not in BASE_COLUMNS)
        self.rows.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("step", "wall_seconds"):
                    self.writer.add_scalar(f"train/{key}", value, int(row["step"]))

    def flush(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (int(v) if k == "step" else repr(float(v)))
                             for k, v in row.items() if k in self.columns})
        atomic_write_text(self.path, buf.getvalue())
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _tensorboard_writer(tb_dir: Path) -> Any | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional; the CSV log is the record
        return None
    return SummaryWriter(log_dir=str(tb_dir))


class _Window:
    """Running sums between two log rows."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, float] = {}

    def add(self, values: dict[str, float]) -> None:
        self.n += 1
        for key, value in values.items():
            if value is not None and np.isfinite(value):
                self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def means(self) -> dict[str, float]:
        return {k: v / self.n for k, v in self.sums.items()}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"agent": args.agent, "scenario": args.scenario, "steps": args.steps,
            "users": args.users, "seed": args.seed, "encoder": args.encoder,
            "device": args.device, "log_every": args.log_every,
            "checkpoint_every": args.checkpoint_every, "eval_users": args.eval_users,
            "eval_steps": args.eval_steps}


def _read_checkpoint(out_dir: Path) -> dict[str, Any]:
    from .cli import CLIError

    pointer = out_dir / "checkpoint.json"
    try:
        ckpt = json.loads(pointer.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CLIError(f"--resume: no checkpoint in {str(out_dir)!r} (checkpoint.json missing)"
                       ) from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"--resume: {pointer} is not valid JSON: {exc}") from None
    if not (out_dir / ckpt.get("file", "")).is_file():
        raise CLIError(f"--resume: checkpoint file {ckpt.get('file')!r} named by {pointer} is "
                       "missing")
    return ckpt


def _save_checkpoint(agent: Any, out_dir: Path, step: int, previous: str | None,
                     seconds: float) -> str:
    name = f"checkpoint-{step}.pt"
    agent.save(out_dir / name)
    atomic_write_json(out_dir / "checkpoint.json",
                      {"step": step, "file": name, "wall_seconds": round(seconds, 3)})
    if previous and previous != name:
        (out_dir / previous).unlink(missing_ok=True)
    return name


def _owns_loop(agent: Any) -> bool:
    """Agents whose learner runs its own loop (Stable-Baselines3) override ``fit``."""
    from driftrec.agents.base import Agent

    return type(agent).fit is not Agent.fit


def train_command(args: argparse.Namespace, out_dir: Path, argv: Sequence[str]) -> int:
    from driftrec.agents import make_agent
    from tqdm.auto import tqdm

    from .cli import CLIError
    from .plots import plot_learning_curve

    settings = _settings(args)
    start_step, wall_offset, ckpt_file = 0, 0.0, None
    if args.resume:
        ckpt = _read_checkpoint(out_dir)
        try:
            saved = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError) as exc:
            raise CLIError(f"--resume: cannot read the run's config.json in {str(out_dir)!r} "
                           f"({type(exc).__name__}: {exc})") from None
        diff = {k: (saved.get(k), settings[k]) for k in RESUME_KEYS if saved.get(k) != settings[k]}
        if diff:
            raise CLIError("--resume: settings differ from the checkpointed run: " + ", ".join(
                f"{k} was {a!r}, now {b!r}" for k, (a, b) in diff.items()))
        start_step, wall_offset, ckpt_file = (int(ckpt["step"]), float(ckpt["wall_seconds"]),
                                              ckpt["file"])
    atomic_write_json(out_dir / "config.json",
                      {"command": ["driftrec", *argv], "settings": settings})

    env = make_vector_env(args.scenario, args.users, encoder=args.encoder, device=args.device)
    agent = make_agent(args.agent, env, seed=args.seed)
    if ckpt_file:
        agent.load(out_dir / ckpt_file)
    log = TrainLog(out_dir / "log.csv", out_dir / "tensorboard")
    log.load(start_step)
    if start_step:
        print(f"resuming {args.agent} on {args.scenario} from step {start_step}",
              file=sys.stderr)
    t0 = time.perf_counter() - wall_offset
    step, interrupted = start_step, False
    try:
        with _deferred_sigint() as flag, tqdm(
                total=args.steps, initial=start_step, unit="step", desc=f"train {args.agent}",
                dynamic_ncols=True, file=sys.stderr, mininterval=0.5) as bar:
            if _owns_loop(agent):
                step, interrupted, ckpt_file = _train_chunks(agent, env, args, out_dir, log, bar,
                                                             flag, step, ckpt_file, t0)
            else:
                step, interrupted, ckpt_file = _train_online(agent, env, args, out_dir, log, bar,
                                                             flag, step, ckpt_file, t0)
        train_seconds = time.perf_counter() - t0
        ckpt_file = _save_checkpoint(agent, out_dir, step, ckpt_file, train_seconds)
        log.flush()
    finally:
        log.close()
    if log.rows:
        plot_learning_curve([r["step"] for r in log.rows],
                            [r.get("reward", np.nan) for r in log.rows],
                            out_dir / "learning_curve.png",
                            title=f"{args.agent} on {args.scenario}")
    if interrupted:
        env.close()
        print(f"interrupted at step {step}; checkpoint and log written to {out_dir} "
              "(continue with --resume)", file=sys.stderr)
        return 130
    # Held out by seed: training users come from seed + TRAIN_SEED_OFFSET (+ step), these from
    # seed. The training env is reused when the batch size matches (a reset redraws everyone).
    eval_env = env if args.eval_users == args.users else make_vector_env(
        args.scenario, args.eval_users, encoder=args.encoder, device=args.device)
    try:
        result = evaluate_agent(agent, eval_env, steps=args.eval_steps, seed=args.seed,
                                learn=False)
    finally:
        eval_env.close()
        env.close()
    atomic_write_json(out_dir / "eval.json", {
        "note": "held-out users (evaluation seed differs from the training seeds); no learning "
                "during the evaluation",
        "trained_steps": step, "eval_users": args.eval_users, "eval_steps": args.eval_steps,
        "seed": args.seed, "metrics": result.metrics, "curves": result.curves})
    m = result.metrics
    print(f"trained {step} steps in {train_seconds:.1f}s; held-out evaluation: "
          f"return {m['return_mean']:.4g} ± {m['return_ci95']:.3g}, CTR {m['ctr']:.3g}, "
          f"churn {m['churn_rate']:.3g} → {out_dir}")
    return 0


def _step_values(reward: Any, info: dict[str, Any], done: np.ndarray) -> dict[str, float]:
    clicks = np.asarray(info["clicks"], dtype=bool)
    return {"reward": float(np.mean(reward)), "ctr": float(clicks.any(axis=-1).mean()),
            "engagement": float(np.mean(info["engagement"])), "departures": float(done.mean())}


def _train_online(agent: Any, env: Any, args: argparse.Namespace, out_dir: Path, log: TrainLog,
                  bar: Any, flag: _Interrupt, step: int, ckpt_file: str | None,
                  t0: float) -> tuple[int, bool, str | None]:
    """The act → step → update loop, one batched step at a time."""
    obs, info = env.reset(seed=args.seed + TRAIN_SEED_OFFSET + step)
    window = _Window()
    while step < args.steps:
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        stats = agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        done = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        window.add({**_step_values(reward, info, done), **(stats or {})})
        obs = next_obs
        step += 1
        bar.update(1)
        if step % args.log_every == 0 or step == args.steps:
            log.append({"step": step, "wall_seconds": time.perf_counter() - t0,
                        **window.means()})
            log.flush()
            window = _Window()
            bar.set_postfix(reward=f"{log.rows[-1].get('reward', float('nan')):.3g}")
        if step % args.checkpoint_every == 0 and step < args.steps:
            ckpt_file = _save_checkpoint(agent, out_dir, step, ckpt_file,
                                         time.perf_counter() - t0)
        if flag.requested:
            if window.n:
                log.append({"step": step, "wall_seconds": time.perf_counter() - t0,
                            **window.means()})
            return step, True, ckpt_file
    return step, False, ckpt_file


def _train_chunks(agent: Any, env: Any, args: argparse.Namespace, out_dir: Path, log: TrainLog,
                  bar: Any, flag: _Interrupt, step: int, ckpt_file: str | None,
                  t0: float) -> tuple[int, bool, str | None]:
    """For learners that own their loop (Stable-Baselines3, SlateQ's ε-exploration): ``agent.fit``
    in chunks of ``--checkpoint-every`` steps — each chunk starts fresh sessions, so chunks are
    kept long — then a short greedy probe on the same users' seed for the log row."""
    while step < args.steps:
        chunk = min(args.checkpoint_every, args.steps - step)
        stats = agent.fit(env, chunk, seed=args.seed + TRAIN_SEED_OFFSET + step) or {}
        step += chunk
        bar.update(chunk)
        probe = evaluate_agent(agent, env, steps=min(PROBE_STEPS, chunk),
                               seed=args.seed + TRAIN_SEED_OFFSET + step, learn=False)
        rewards = [x for x in probe.curves["reward"] if x is not None]
        log.append({"step": step, "wall_seconds": time.perf_counter() - t0,
                    "reward": float(np.mean(rewards)) if rewards else 0.0,
                    "ctr": probe.metrics["ctr"] or 0.0,
                    "engagement": probe.metrics["engagement"] or 0.0,
                    "departures": 1.0 - probe.curves["retention"][-1],
                    **{k: float(v) for k, v in stats.items()
                       if isinstance(v, (int, float)) and np.isfinite(v)}})
        log.flush()
        if step < args.steps:
            ckpt_file = _save_checkpoint(agent, out_dir, step, ckpt_file,
                                         time.perf_counter() - t0)
        if flag.requested:
            return step, True, ckpt_file
    return step, False, ckpt_file
