"""Run folders of ``driftrec train`` and ``driftrec bench``: what they read back, and the rules
that keep every read, write and delete inside the folder.

- ``config.json`` holds the command, its settings and a ``run_id`` drawn when a run starts
  afresh (``--resume`` keeps it). Everything a run writes for its own later use (train's
  checkpoint pointer, bench's per-run files) carries the same id, so a file left by an earlier
  run in the folder (an ``--overwrite`` rerun) is never taken for this run's;
- a file read back must resolve inside the folder: a name with a path in it or a link out of the
  folder is an error, never followed;
- bench writes each finished (scenario, agent, seed) run atomically to ``runs/<name>.json`` as it
  completes; ``bench --resume`` keeps the ones of this run that read back whole and redoes the
  rest, so an interrupted suite costs only the run in progress.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from driftrec.encoders.io import atomic_write_json

from .metrics import METRIC_NAMES
from .options import CLIError
from .runner import EpisodeResult, RunKey

CONFIG_FILE = "config.json"
RUNS_DIR = "runs"
RUN_FORMAT = 1
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def new_run_id() -> str:
    """A fresh run id (random bytes from the OS: ids must differ between runs, not replay)."""
    return uuid.uuid4().hex


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` resolves (links followed) to a place inside ``folder``."""
    return path.resolve().is_relative_to(folder.resolve())


def check_inside(folder: Path, path: Path) -> Path:
    """``path``, or an error when a link takes it out of ``folder``."""
    if not inside(folder, path):
        kind = "folder" if path.is_dir() else "file"
        raise CLIError(f"{path} resolves to {path.resolve()}, outside the run folder {folder}; "
                       f"expected a {kind} inside it")
    return path


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object read from ``path``, or an error naming the file and what was expected."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text (byte {exc.start}); expected {what}") from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path} is not valid JSON ({exc}); expected {what}") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise CLIError(f"{path} holds a JSON {type(data).__name__}; expected {what}")
    return data


def read_config(out_dir: Path, section: str, command: str) -> tuple[dict[str, Any], str | None]:
    """The ``section`` settings and the run id of the run in ``out_dir`` (for ``--resume``)."""
    path = out_dir / CONFIG_FILE
    what = f"the config.json of a `driftrec {command}` run"
    if not path.exists() and not path.is_symlink():
        raise CLIError(f"--resume: nothing to resume in {out_dir}: no config.json (expected the "
                       f"--out folder of an earlier `driftrec {command}` run; start a new run "
                       "without --resume)")
    config = read_json_object(check_inside(out_dir, path), what)
    settings = config.get(section)
    if not isinstance(settings, dict):
        raise CLIError(f"{path} has no {section!r} object; expected {what}")
    run_id = config.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise CLIError(f"{path}: run_id {run_id!r} is not a string; expected {what}")
    return settings, run_id


def settings_diff(saved: Mapping[str, Any], now: Mapping[str, Any], keys: Sequence[str],
                  out_dir: Path) -> None:
    """Raise when a ``--resume`` asks for other settings than the run in ``out_dir`` has."""
    diff = [f"{k} was {saved.get(k)!r}, now {now.get(k)!r}" for k in keys
            if saved.get(k) != now.get(k)]
    if diff:
        raise CLIError(f"--resume: settings differ from the run in {out_dir}: {', '.join(diff)} "
                       "(resume with the run's settings, or start a new run)")


def json_normal(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), for comparing settings."""
    return json.loads(json.dumps(obj, default=str))


# ---------------------------------------------------------------------------------------------
# bench: one file per finished run


def run_file(runs_dir: Path, key: RunKey) -> Path:
    """``runs/<scenario>__<agent>__seed<k>.json``; a scenario that is a file path (a calibration)
    is named by its stem and a hash of the whole path, so the name stays one plain file name."""
    scenario, agent, seed = key
    if not _PLAIN.fullmatch(scenario):
        digest = uuid.uuid5(uuid.NAMESPACE_URL, scenario).hex[:8]
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(scenario).stem)[:40]
        scenario = f"{stem}-{digest}"
    return runs_dir / f"{scenario}__{agent}__seed{seed}.json"


class RunStore:
    """The per-run files of one bench run (``run_id``) in ``out_dir/runs``."""

    def __init__(self, out_dir: Path, run_id: str, users: int) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / RUNS_DIR
        self.run_id = run_id
        self.users = users
        self.written = 0

    def write(self, result: EpisodeResult) -> None:
        key = (result.scenario, result.agent, result.seed)
        atomic_write_json(run_file(self.dir, key), {
            "format": RUN_FORMAT, "run_id": self.run_id, "key": list(key),
            "result": result.to_dict()})
        self.written += 1

    def load(self, keys: Sequence[RunKey]) -> tuple[dict[RunKey, EpisodeResult], list[str]]:
        """The finished runs among ``keys``, and one note per file that is there but unusable
        (it is redone; the note says why)."""
        done: dict[RunKey, EpisodeResult] = {}
        notes: list[str] = []
        for key in keys:
            path = run_file(self.dir, key)
            if not path.exists() and not path.is_symlink():
                continue
            try:
                done[key] = self._read(path, key)
            except (CLIError, ValueError) as exc:
                notes.append(f"redoing {label(key)}: {exc}")
        return done, notes

    def _read(self, path: Path, key: RunKey) -> EpisodeResult:
        data = read_json_object(check_inside(self.out_dir, path), "a `driftrec bench` run file")
        if data.get("run_id") != self.run_id:
            raise ValueError(f"{path} belongs to another run (run_id {data.get('run_id')!r}, "
                             f"expected {self.run_id!r})")
        if data.get("format") != RUN_FORMAT or data.get("key") != list(key):
            raise ValueError(f"{path} holds format {data.get('format')!r}, key "
                             f"{data.get('key')!r}; expected format {RUN_FORMAT}, key {list(key)}")
        return episode_from_dict(data.get("result"), key, self.users, path)


def episode_from_dict(data: Any, key: RunKey, users: int, path: Path) -> EpisodeResult:
    """An :class:`EpisodeResult` read back from a run file, checked field by field."""
    fields = set(EpisodeResult.__dataclass_fields__)
    if not isinstance(data, dict) or set(data) != fields:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: result has fields {got}; expected {sorted(fields)}")
    if (data["scenario"], data["agent"], data["seed"]) != key:
        raise ValueError(f"{path}: result is for "
                         f"{label((data['scenario'], data['agent'], data['seed']))}; expected "
                         f"{label(key)}")
    metrics, curves, returns = data["metrics"], data["curves"], data["user_returns"]
    if not isinstance(metrics, dict) or set(metrics) != set(METRIC_NAMES) or not all(
            v is None or _number(v) for v in metrics.values()):
        raise ValueError(f"{path}: metrics are not the {len(METRIC_NAMES)} numbers (or null) "
                         "a run records")
    if not isinstance(curves, dict) or not all(isinstance(v, list) for v in curves.values()):
        raise ValueError(f"{path}: curves are not lists of per-step values")
    if not isinstance(returns, list) or len(returns) != users or not all(map(_number, returns)):
        raise ValueError(f"{path}: user_returns is not a list of {users} numbers (one per user)")
    if not all(_number(data[k]) for k in ("train_seconds", "eval_seconds")):
        raise ValueError(f"{path}: train_seconds and eval_seconds must be numbers")
    return EpisodeResult(**data)


def label(key: RunKey) -> str:
    """``video/linucb/seed 0``, as the progress bar shows a run."""
    return f"{key[0]}/{key[1]}/seed {key[2]}"


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
