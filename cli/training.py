"""``driftrec train``: train one agent with a progress bar, logs, checkpoints and a held-out test.

Run folder contents (every file written atomically):

- ``config.json`` — the command, its settings (a resume must match them) and the run id;
- ``log.csv`` — one row per ``--log-every`` steps: window means of reward, CTR, engagement and the
  departure rate, plus the agent's own training statistics; rewritten whole (atomically) at every
  row, so a crash loses at most one window. On resume, rows after the checkpoint are dropped; a
  log that does not parse is an error naming its file and line.
  Learners that own their loop (Stable-Baselines3, SlateQ) train in ``--checkpoint-every`` chunks
  and log one row per chunk, measured by a short greedy probe;
- ``checkpoint-<step>.pt`` + ``checkpoint.json`` — the agent (``agent.save``) and a pointer naming
  the step it holds and the run id. The pointer is written after the agent file, so it only ever
  names a complete checkpoint; the previous checkpoint of this run is deleted after the pointer
  moves. The pointer's file must be ``checkpoint-<step>.pt`` in the run folder itself: a path, a
  link out of the folder or another name is an error, never followed nor deleted;
- ``eval.csv`` (with ``--eval-every USER_STEPS``) — the learning curve on held-out users: at step
  0 and whenever training crosses a multiple of USER_STEPS training user-steps (batched steps ×
  users; a learner that owns its loop is evaluated at the end of the ``--checkpoint-every`` chunk
  that crosses it), a copy of the agent (saved and loaded, so training's own state and random
  streams are untouched) serves ``--eval-users`` fresh users of the evaluation seed ``--seed``
  for ``--eval-steps`` steps without learning — the training users come from ``seed +
  TRAIN_SEED_OFFSET + step``. Columns ``EVAL_COLUMNS``; rewritten whole (atomically) at every row;
  ``--resume`` keeps the rows up to the checkpoint, as for the log;
- ``learning_curve.png``, ``eval.json`` (held-out users, no learning during the evaluation);
- ``tensorboard/`` event files when ``tensorboard`` is importable.

Ctrl-C: the first SIGINT is deferred until the current step finishes, then a checkpoint and the log
are written and the command exits with 130. ``--resume`` reloads the agent and the log up to the
checkpoint's step and continues; the simulated training users are re-drawn from
``(seed, step)``, since the learner's state — not the simulator's — is what training produces.
A run stopped before its first checkpoint (killed, or a pointer left by an earlier run in the
folder) resumes from step 0. Every check happens before the folder is touched: a resume that
fails leaves every file as it was.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import pickle
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.encoders.io import atomic_write_json, atomic_write_text

from .runner import TRAIN_SEED_OFFSET, evaluate_agent, make_vector_env

BASE_COLUMNS = ("step", "wall_seconds", "reward", "ctr", "engagement", "departures")
EVAL_COLUMNS = ("step", "wall_seconds", "user_steps", "return_mean", "return_ci95", "ctr",
                "session_length")
EVAL_LOG = "eval.csv"
#: Settings that must match between a run and its ``--resume``.
RESUME_KEYS = ("agent", "scenario", "users", "seed", "encoder")
#: Greedy probe length after each chunk of a learner that owns its loop (its log row's values).
PROBE_STEPS = 10
POINTER = "checkpoint.json"
#: What ``torch.load`` raises on a file that is not a checkpoint (empty, cut short, other bytes),
#: besides the ``ValueError`` of ``agent.load``'s own checks.
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, OSError, EOFError, RuntimeError,
               pickle.UnpicklingError)


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

    def __init__(self, path: Path, tb_dir: Path | None, columns: Sequence[str] = BASE_COLUMNS,
                 rows: Sequence[dict[str, float]] = ()) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = list(rows)
        self.columns: list[str] = list(columns)
        self.writer = _tensorboard_writer(tb_dir) if tb_dir is not None else None

    def append(self, row: dict[str, float]) -> None:
        if not self.rows and tuple(self.columns) == BASE_COLUMNS:
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
            "eval_steps": args.eval_steps, "eval_every": getattr(args, "eval_every", None)}


def read_log(path: Path, up_to_step: float,
             required: Sequence[str] = BASE_COLUMNS) -> tuple[list[str], list[dict[str, float]]]:
    """The columns and rows of an existing log up to ``up_to_step`` (none if there is no log);
    a log that does not parse is a ``ValueError`` naming the file and the line. ``required``:
    the columns the log must have (the training log's, or ``EVAL_COLUMNS`` for eval.csv)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return list(required), []
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory; expected the CSV log that driftrec train "
                         "writes") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start}); expected the CSV log "
                         "that driftrec train writes") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
        missing = [c for c in required if c not in header]
        if missing or len(set(header)) != len(header):
            extra = " and the agent's statistics" if tuple(required) == BASE_COLUMNS else ""
            raise ValueError(f"{path} line 1: header {header} lacks {missing} or repeats a column; "
                             f"expected the columns {', '.join(required)}{extra}, each once")
        rows: list[dict[str, float]] = []
        last = 0.0 if tuple(required) == BASE_COLUMNS else -1.0  # eval.csv starts at step 0
        for values in reader:
            row = _log_row(path, reader.line_num, header, values, last)
            last = row["step"]
            if last <= up_to_step:
                rows.append(row)
    except csv.Error as exc:
        raise ValueError(f"{path} line {reader.line_num}: {exc}; expected CSV") from None
    return header, rows


def _log_row(path: Path, line: int, header: list[str], values: list[str],
             previous_step: float) -> dict[str, float]:
    if len(values) != len(header):
        raise ValueError(f"{path} line {line}: {len(values)} fields; expected {len(header)}, one "
                         "per header column")
    row: dict[str, float] = {}
    for key, value in zip(header, values):
        if value == "":
            continue
        try:
            row[key] = float(value)
        except ValueError:
            raise ValueError(f"{path} line {line}: {key} = {value!r}; expected a number") from None
    step = row.get("step", math.nan)
    if not (step.is_integer() and step > previous_step):
        raise ValueError(f"{path} line {line}: step = {values[header.index('step')]!r}; expected "
                         f"an integer step above the previous row's {previous_step:g}")
    return row


@dataclass(frozen=True)
class Checkpoint:
    """What ``checkpoint.json`` says: the step, the file in the run folder, the run's id."""

    step: int
    file: str
    wall_seconds: float
    run_id: str | None


def read_pointer(out_dir: Path) -> Checkpoint | None:
    """The checkpoint pointer of ``out_dir`` (None when there is none), checked field by field:
    its file must be the ``checkpoint-<step>.pt`` this command writes, in the folder itself."""
    from .runfolder import check_inside, read_json_object

    pointer = out_dir / POINTER
    if not pointer.exists() and not pointer.is_symlink():
        return None
    expected = ('a checkpoint pointer {"step": N, "file": "checkpoint-N.pt", '
                '"wall_seconds": S} written by driftrec train')
    data = read_json_object(check_inside(out_dir, pointer), expected)
    missing = [k for k in ("step", "file", "wall_seconds") if k not in data]
    step, name, seconds = data.get("step"), data.get("file"), data.get("wall_seconds")
    if (missing or not _is_int(step) or step < 0 or not isinstance(name, str)
            or not _is_number(seconds) or not 0 <= seconds < math.inf):
        raise _cli_error(f"--resume: {pointer} holds {_fields(data)}"
                         f"{f', lacking {missing}' if missing else ''}; expected {expected}")
    _check_checkpoint_name(out_dir, pointer, name, step)
    run_id = data.get("run_id")
    return Checkpoint(step, name, float(seconds), run_id if isinstance(run_id, str) else None)


def _check_checkpoint_name(out_dir: Path, pointer: Path, name: str, step: int) -> None:
    """A pointer names a file in the run folder, never a path: what it names is loaded and, once
    the next checkpoint is written, deleted."""
    from .runfolder import inside

    if not name or Path(name).name != name or name in (".", ".."):
        where = ("is not a file name in the run folder" if inside(out_dir, out_dir / name)
                 else "points outside the run folder")
        raise _cli_error(f"checkpoint pointer {name!r} in {pointer} {where} {out_dir}; expected "
                         "a file name inside it")
    if name != checkpoint_name(step):
        raise _cli_error(f"checkpoint pointer {name!r} in {pointer} is not the file driftrec "
                         f"train writes for step {step}; expected {checkpoint_name(step)!r}")
    if not inside(out_dir, out_dir / name):
        raise _cli_error(f"checkpoint pointer {name!r} in {pointer} is a link to "
                         f"{(out_dir / name).resolve()}, outside the run folder {out_dir}; "
                         "expected a file inside it")


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step}.pt"


def _fields(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in data.items())[:200] or "no fields"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _cli_error(message: str) -> Exception:
    from .options import CLIError

    return CLIError(message)


def _save_checkpoint(agent: Any, out_dir: Path, step: int, previous: str | None,
                     seconds: float, run_id: str) -> str:
    """Write the agent, move the pointer to it, then delete this run's previous checkpoint
    (``previous`` is only ever a name this run wrote or a pointer ``read_pointer`` accepted)."""
    name = checkpoint_name(step)
    agent.save(out_dir / name)
    atomic_write_json(out_dir / POINTER, {"step": step, "file": name,
                                          "wall_seconds": round(seconds, 3), "run_id": run_id})
    if previous and previous != name:
        (out_dir / previous).unlink(missing_ok=True)
    return name


@dataclass
class _Checkpoints:
    """Where this run's checkpoints go and which one is current (the one rotation may delete)."""

    out_dir: Path
    run_id: str
    file: str | None
    t0: float

    def save(self, agent: Any, step: int) -> None:
        self.file = _save_checkpoint(agent, self.out_dir, step, self.file,
                                     time.perf_counter() - self.t0, self.run_id)


@dataclass(frozen=True)
class _Start:
    """Where a run starts: step 0 of a new run, or the checkpoint (and log) a resume continues."""

    run_id: str
    step: int = 0
    wall_seconds: float = 0.0
    file: str | None = None
    columns: Sequence[str] = BASE_COLUMNS
    rows: Sequence[dict[str, float]] = field(default_factory=tuple)
    eval_rows: Sequence[dict[str, float]] = field(default_factory=tuple)


def _owns_loop(agent: Any) -> bool:
    """Agents whose learner runs its own loop (Stable-Baselines3) override ``fit``."""
    from driftrec.agents.base import Agent

    return type(agent).fit is not Agent.fit


def check_resume(args: argparse.Namespace, out_dir: Path) -> None:
    """Every check ``--resume`` makes on ``out_dir``, nothing written: lets ``--seeds`` refuse a
    bad resume of any seed before the first seed trains."""
    _resume_start(args, out_dir, _settings(args), quiet=True)


def _resume_start(args: argparse.Namespace, out_dir: Path, settings: dict[str, Any],
                  quiet: bool = False) -> _Start:
    """Where ``--resume`` continues, every file of the run folder checked before any is touched.

    A pointer of another run (an ``--overwrite`` rerun that stopped before its first checkpoint)
    or none at all means this run has no checkpoint yet: it starts again from step 0."""
    from .runfolder import check_inside, new_run_id, read_config, settings_diff

    saved, run_id = read_config(out_dir, "settings", "train")
    settings_diff(saved, settings, RESUME_KEYS, out_dir)
    ckpt = read_pointer(out_dir)
    if ckpt is None or ckpt.run_id != run_id:
        why = "no checkpoint.json" if ckpt is None else "checkpoint.json is an earlier run's"
        if not quiet:
            print(f"resuming {args.agent} on {args.scenario} in {out_dir} from step 0 ({why}: "
                  "the run stopped before its first checkpoint)", file=sys.stderr)
        return _Start(run_id=run_id or new_run_id())
    if not (out_dir / ckpt.file).is_file():
        raise _cli_error(f"--resume: checkpoint file {ckpt.file!r} named by {out_dir / POINTER} "
                         f"is missing; expected it in {out_dir}")
    if ckpt.step > args.steps:
        raise _cli_error(f"--resume: --steps {args.steps} is below the checkpoint's step "
                         f"{ckpt.step}; expected --steps >= {ckpt.step}")
    try:
        columns, rows = read_log(check_inside(out_dir, out_dir / "log.csv"), ckpt.step)
        _, eval_rows = read_log(check_inside(out_dir, out_dir / EVAL_LOG), ckpt.step,
                                EVAL_COLUMNS)
    except ValueError as exc:
        raise _cli_error(f"--resume: {exc}") from None
    return _Start(run_id or new_run_id(), ckpt.step, ckpt.wall_seconds, ckpt.file, columns, rows,
                  eval_rows)


class HeldOutCurve:
    """``--eval-every``: the return of a copy of the agent on held-out users, logged to eval.csv
    (module docstring). ``every`` is in training user-steps; None switches it off."""

    def __init__(self, args: argparse.Namespace, env: Any, out_dir: Path, start: _Start,
                 t0: float) -> None:
        self.args, self.env, self.t0 = args, env, t0
        self.every: int | None = getattr(args, "eval_every", None)
        self.log = TrainLog(out_dir / EVAL_LOG, None, EVAL_COLUMNS, start.eval_rows)
        self.next_at = 0 if start.step == 0 else self._after(start.step)

    def _after(self, step: int) -> int:
        """The first multiple of ``every`` above ``step``'s training user-steps."""
        every = self.every or 1  # unused without --eval-every
        return (step * self.args.users // every + 1) * every

    def due(self, step: int) -> bool:
        return self.every is not None and step * self.args.users >= self.next_at

    def maybe(self, agent: Any, step: int) -> None:
        """Evaluate if training has crossed the next multiple of ``every`` (or is at step 0)."""
        if self.due(step):
            self.evaluate(agent, step)

    def finish(self, agent: Any, step: int) -> None:
        """The curve's last point: the final step, unless it was just evaluated."""
        if self.every is not None and (not self.log.rows or self.log.rows[-1]["step"] < step):
            self.evaluate(agent, step)

    def evaluate(self, agent: Any, step: int) -> None:
        import tempfile

        from driftrec.agents import make_agent

        with tempfile.TemporaryDirectory() as tmp:
            agent.save(Path(tmp) / "copy.pt")
            copy = make_agent(self.args.agent, self.env, seed=self.args.seed)
            copy.load(Path(tmp) / "copy.pt")
        result = evaluate_agent(copy, self.env, steps=self.args.eval_steps, seed=self.args.seed,
                                learn=False)
        m = result.metrics
        self.log.append({"step": step, "wall_seconds": time.perf_counter() - self.t0,
                         "user_steps": step * self.args.users,
                         "return_mean": m["return_mean"], "return_ci95": m["return_ci95"],
                         "ctr": m["ctr"] or 0.0, "session_length": m["session_length"] or 0.0})
        self.log.flush()
        self.next_at = self._after(step)


def _load_checkpoint(agent: Any, out_dir: Path, start: _Start) -> None:
    """``agent.load`` with the run folder named: its own errors, and torch's on a file that is
    not a checkpoint at all, become one line saying which pointer led to the file."""
    path = out_dir / str(start.file)
    try:
        agent.load(path)
    except _UNREADABLE as exc:
        text = (str(exc).strip().splitlines() or [""])[0][:300]
        expected = "" if "expected" in text else (
            f"; expected the {agent.name} checkpoint driftrec train wrote at step {start.step}")
        raise _cli_error(f"--resume: cannot load {path} (named by {out_dir / POINTER}): "
                         f"{type(exc).__name__}: {text}{expected}") from None


def train_command(args: argparse.Namespace, out_dir: Path, argv: Sequence[str]) -> int:
    from driftrec.agents import make_agent
    from tqdm.auto import tqdm

    from .plots import plot_learning_curve
    from .runfolder import CONFIG_FILE, check_inside, new_run_id

    settings = _settings(args)
    check_inside(out_dir, out_dir / "tensorboard")  # the event files are written into it
    start = _resume_start(args, out_dir, settings) if args.resume else _Start(new_run_id())
    env = make_vector_env(args.scenario, args.users, encoder=args.encoder, device=args.device)
    try:
        agent = make_agent(args.agent, env, seed=args.seed)
        if start.file:
            _load_checkpoint(agent, out_dir, start)
    except BaseException:
        env.close()
        raise
    # Written only now that the checkpoint has loaded: a failed resume changes nothing.
    atomic_write_json(out_dir / CONFIG_FILE, {"command": ["driftrec", *argv],
                                              "run_id": start.run_id, "settings": settings})
    log = TrainLog(out_dir / "log.csv", out_dir / "tensorboard", start.columns, start.rows)
    if start.step:
        print(f"resuming {args.agent} on {args.scenario} from step {start.step}",
              file=sys.stderr)
    t0 = time.perf_counter() - start.wall_seconds
    ckpts = _Checkpoints(out_dir, start.run_id, start.file, t0)
    # Held out by seed: training users come from seed + TRAIN_SEED_OFFSET (+ step), these from
    # seed. The training env serves the final evaluation when the batch size matches (a reset
    # redraws everyone), never a periodic one: that would cut the running training sessions.
    separate = args.eval_users != args.users or getattr(args, "eval_every", None) is not None
    eval_env = env if not separate else make_vector_env(
        args.scenario, args.eval_users, encoder=args.encoder, device=args.device)
    held = HeldOutCurve(args, eval_env, out_dir, start, t0)
    step, interrupted = start.step, False
    try:
        with _deferred_sigint() as flag, tqdm(
                total=args.steps, initial=start.step, unit="step", desc=f"train {args.agent}",
                dynamic_ncols=True, file=sys.stderr, mininterval=0.5) as bar:
            held.maybe(agent, step)
            loop = _train_chunks if _owns_loop(agent) else _train_online
            step, interrupted = loop(agent, env, args, log, bar, flag, step, ckpts, held)
        train_seconds = time.perf_counter() - t0
        if not interrupted:
            held.finish(agent, step)
        ckpts.save(agent, step)
        log.flush()
    except BaseException:
        if eval_env is not env:
            eval_env.close()
        env.close()
        raise
    finally:
        log.close()
    if log.rows:
        plot_learning_curve([r["step"] for r in log.rows],
                            [r.get("reward", np.nan) for r in log.rows],
                            out_dir / "learning_curve.png",
                            title=f"{args.agent} on {args.scenario}")
    if interrupted:
        if eval_env is not env:
            eval_env.close()
        env.close()
        print(f"interrupted at step {step}; checkpoint and log written to {out_dir} "
              "(continue with --resume)", file=sys.stderr)
        return 130
    try:
        result = evaluate_agent(agent, eval_env, steps=args.eval_steps, seed=args.seed,
                                learn=False)
    finally:
        eval_env.close()
        env.close()
    write_held_out(out_dir, args, step, train_seconds, result,
                   "held-out users (evaluation seed differs from the training seeds); no "
                   "learning during the evaluation")
    return 0


def write_held_out(out_dir: Path, args: argparse.Namespace, step: int, train_seconds: float,
                   result: Any, note: str, extra: dict[str, Any] | None = None,
                   how: str = "") -> None:
    """The final held-out evaluation of a train run: ``eval.json`` (atomic) and one line on
    stdout; the same file whichever engine trained (``how`` says which, in the line)."""
    atomic_write_json(out_dir / "eval.json", {
        "note": note, **(extra or {}),
        "trained_steps": step, "eval_users": args.eval_users, "eval_steps": args.eval_steps,
        "seed": args.seed, "metrics": result.metrics, "curves": result.curves})
    m = result.metrics
    print(f"trained {step} steps in {train_seconds:.1f}s{how}; held-out evaluation: "
          f"return {m['return_mean']:.4g} ± {m['return_ci95']:.3g}, CTR {m['ctr']:.3g}, "
          f"churn {m['churn_rate']:.3g} → {out_dir}")


def _step_values(reward: Any, info: dict[str, Any], done: np.ndarray) -> dict[str, float]:
    clicks = np.asarray(info["clicks"], dtype=bool)
    return {"reward": float(np.mean(reward)), "ctr": float(clicks.any(axis=-1).mean()),
            "engagement": float(np.mean(info["engagement"])), "departures": float(done.mean())}


def _train_online(agent: Any, env: Any, args: argparse.Namespace, log: TrainLog, bar: Any,
                  flag: _Interrupt, step: int, ckpts: _Checkpoints, held: HeldOutCurve
                  ) -> tuple[int, bool]:
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
            log.append({"step": step, "wall_seconds": time.perf_counter() - ckpts.t0,
                        **window.means()})
            log.flush()
            window = _Window()
            bar.set_postfix(reward=f"{log.rows[-1].get('reward', float('nan')):.3g}")
        held.maybe(agent, step)
        if step % args.checkpoint_every == 0 and step < args.steps:
            ckpts.save(agent, step)
        if flag.requested:
            if window.n:
                log.append({"step": step, "wall_seconds": time.perf_counter() - ckpts.t0,
                            **window.means()})
            return step, True
    return step, False


def _train_chunks(agent: Any, env: Any, args: argparse.Namespace, log: TrainLog, bar: Any,
                  flag: _Interrupt, step: int, ckpts: _Checkpoints, held: HeldOutCurve
                  ) -> tuple[int, bool]:
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
        log.append({"step": step, "wall_seconds": time.perf_counter() - ckpts.t0,
                    "reward": float(np.mean(rewards)) if rewards else 0.0,
                    "ctr": probe.metrics["ctr"] or 0.0,
                    "engagement": probe.metrics["engagement"] or 0.0,
                    "departures": 1.0 - probe.curves["retention"][-1],
                    **{k: float(v) for k, v in stats.items()
                       if isinstance(v, (int, float)) and np.isfinite(v)}})
        log.flush()
        held.maybe(agent, step)
        if step < args.steps:
            ckpts.save(agent, step)
        if flag.requested:
            return step, True
    return step, False


@dataclass
class TrainCurve:
    """One seed's training log as ``driftrec plot`` draws it: the training reward per user-step
    (window means of log.csv's ``reward``) against training user-steps (step × users), the
    held-out evaluation return of eval.json when the run finished, and eval.csv's held-out
    learning curve when the run had ``--eval-every``."""

    seed: int
    user_steps: np.ndarray
    reward: np.ndarray
    eval_return: float | None
    agent: str
    scenario: str
    #: eval.csv (``--eval-every``): held-out return per user against training user-steps.
    eval_user_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_returns: np.ndarray = field(default_factory=lambda: np.zeros(0))


def is_train_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a ``driftrec train`` run or ``--seeds`` sub-folders of runs."""
    return (folder / "log.csv").is_file() or any(
        (p / "log.csv").is_file() for p in folder.glob("seed-*"))


def load_train_curves(folder: Path) -> list[TrainCurve]:
    """The seed runs of a ``driftrec train`` folder (its ``seed-*`` sub-folders, else the folder
    itself); a run of another agent or scenario than the first is an error, since their curves
    would be averaged together."""
    from .runfolder import read_config, read_json_object

    subs = sorted((p for p in folder.glob("seed-*") if (p / "log.csv").is_file()),
                  key=lambda p: p.name)
    curves = []
    for sub in subs or [folder]:
        if not (sub / "config.json").is_file():
            raise ValueError(f"no config.json in {sub}; expected a `driftrec train` run folder")
        settings, _ = read_config(sub, "settings", "train")
        _, rows = read_log(sub / "log.csv", math.inf)
        if not rows:
            raise ValueError(f"{sub / 'log.csv'} has no rows; expected the log of a train run "
                             "that reached its first --log-every step")
        users = int(settings.get("users", 1))
        eval_file = sub / "eval.json"
        eval_return = None
        if eval_file.is_file():
            eval_return = read_json_object(eval_file, "eval.json").get(
                "metrics", {}).get("return_mean")
        _, held = read_log(sub / EVAL_LOG, math.inf, EVAL_COLUMNS)
        curves.append(TrainCurve(
            int(settings.get("seed", 0)), np.array([r["step"] * users for r in rows]),
            np.array([r.get("reward", np.nan) for r in rows]), eval_return,
            str(settings.get("agent")), str(settings.get("scenario")),
            np.array([r["user_steps"] for r in held]), np.array([r["return_mean"] for r in held])))
    mixed = {(c.agent, c.scenario) for c in curves}
    if len(mixed) > 1:
        raise ValueError(f"{folder}: seed runs of different agents/scenarios {sorted(mixed)}; "
                         "expected one agent on one scenario per folder")
    return curves
