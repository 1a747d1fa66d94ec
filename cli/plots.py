"""Figures drawn from results files (never from memory), with matplotlib's Agg backend.

- :func:`plot_reward_curves`: mean reward per cohort user per step, mean ± 95% band over seeds,
  one line per agent (per run and agent when several results folders are compared), one panel per
  scenario;
- :func:`plot_metrics_over_time`: CTR, intra-list diversity, interest drift and retention over the
  session, rows = metric, columns = scenario;
- :func:`plot_interest_trajectories`: a few users' interest vectors over the session, projected on
  the PCA plane of the category centroids (labelled grey points), one panel per scenario × agent.

Every figure is written atomically (rendered to memory, then ``atomic_write_bytes``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from driftrec.encoders.io import atomic_write_bytes
from driftrec.envs.render import draw_category_map

from .metrics import t_critical

_CURVE_LABELS = {"ctr": "CTR (slates clicked)", "diversity": "intra-list diversity",
                 "drift": "interest drift 1 − cos(u_t, u_0)", "retention": "users still in session",
                 "reward": "reward per user", "engagement": "engagement"}


def _save(fig: Any, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (shorter at the start) — display only, results keep raw curves."""
    if window <= 1 or x.size == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, x.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def curve_band(curves: Sequence[Sequence[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-step mean and 95% half-width over seeds (t with n−1 df; 0 width for one seed)."""
    arr = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=np.float64)
    n = np.sum(~np.isnan(arr), axis=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # steps where no seed has a value (everyone left) are NaN on purpose: a gap in the line
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(arr, axis=0)
        sd = np.nanstd(arr, axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros(arr.shape[1])
    tcrit = np.array([t_critical(int(k) - 1) if k > 1 else 0.0 for k in n])
    half = np.where(n > 1, tcrit * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, half


def _group(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """scenario → agent → runs, preserving first-appearance order."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        out.setdefault(run["scenario"], {}).setdefault(run["agent"], []).append(run)
    return out


def plot_reward_curves(results: Sequence[tuple[str, dict[str, Any]]], path: str | Path,
                       curve: str = "reward") -> Path:
    """Reward curves of one or more results dicts, labelled ``label:agent`` when several."""
    scenarios: list[str] = []
    for _, res in results:
        for run in res["runs"]:
            if run["scenario"] not in scenarios:
                scenarios.append(run["scenario"])
    fig, axes = plt.subplots(1, max(len(scenarios), 1), figsize=(5.2 * max(len(scenarios), 1),
                                                                 3.8), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for label, res in results:
            for agent, runs in _group(res["runs"]).get(scenario, {}).items():
                mean, half = curve_band([r["curves"][curve] for r in runs])
                window = max(1, mean.size // 25)
                mean, half = _smooth(mean, window), _smooth(half, window)
                x = np.arange(1, mean.size + 1)
                name = agent if len(results) == 1 else f"{label}:{agent}"
                (line,) = ax.plot(x, mean, label=name, lw=1.5)
                ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=0.2)
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.set_ylabel(_CURVE_LABELS.get(curve, curve))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle("mean over cohort users, 95% band over seeds (departed users count 0)",
                 fontsize=9)
    return _save(fig, path)


def plot_metrics_over_time(res: dict[str, Any], path: str | Path,
                           curves: Sequence[str] = ("ctr", "diversity", "drift", "retention"),
                           ) -> Path:
    """Rows: metrics; columns: scenarios; one line per agent (mean over seeds)."""
    groups = _group(res["runs"])
    ncol = max(len(groups), 1)
    fig, axes = plt.subplots(len(curves), ncol, figsize=(4.8 * ncol, 2.6 * len(curves)),
                             squeeze=False, sharex="col")
    for j, (scenario, by_agent) in enumerate(groups.items()):
        for i, name in enumerate(curves):
            ax = axes[i, j]
            for agent, runs in by_agent.items():
                mean, _ = curve_band([r["curves"][name] for r in runs])
                ax.plot(np.arange(1, mean.size + 1),
                        _smooth(mean, max(1, mean.size // 25)), label=agent, lw=1.3)
            ax.set_ylabel(_CURVE_LABELS.get(name, name), fontsize=8)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(scenario)
            if i == len(curves) - 1:
                ax.set_xlabel("step")
    axes[0, -1].legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_interest_trajectories(res: dict[str, Any], path: str | Path) -> Path:
    """Tracked users' interest paths (start ○, end ×) among the category centroids."""
    tracked = [r for r in res["runs"] if r.get("trajectories")]
    groups = _group(tracked)
    nrow = max(len(groups), 1)
    ncol = max((len(v) for v in groups.values()), default=1)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.4 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, (scenario, by_agent) in enumerate(groups.items()):
        proj = res.get("scenarios", {}).get(scenario, {}).get("projection", {})
        cents = np.asarray(proj.get("centroids_2d", []), dtype=np.float64).reshape(-1, 2)
        for j, (agent, runs) in enumerate(by_agent.items()):
            ax = axes[i, j]
            ax.set_axis_on()
            draw_category_map(ax, cents, proj.get("categories", []))
            for k, track in enumerate(runs[0]["trajectories"]):
                pts = np.asarray(track, dtype=np.float64).reshape(-1, 2)
                if pts.size == 0:
                    continue
                (line,) = ax.plot(pts[:, 0], pts[:, 1], lw=1.0, alpha=0.85, zorder=2)
                ax.scatter(*pts[0], marker="o", s=22, color=line.get_color(), zorder=3)
                ax.scatter(*pts[-1], marker="x", s=30, color=line.get_color(), zorder=3)
            ax.set_title(f"{scenario} · {agent}", fontsize=9)
            ax.tick_params(labelsize=6)
    fig.suptitle("interest trajectories on the PCA plane of the category centroids "
                 "(○ start, × end)", fontsize=9)
    return _save(fig, path)


def plot_run(res: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """The three standard figures of one bench run, into ``out_dir``."""
    out_dir = Path(out_dir)
    return [plot_reward_curves([("run", res)], out_dir / "reward_curves.png"),
            plot_metrics_over_time(res, out_dir / "metrics_over_time.png"),
            plot_interest_trajectories(res, out_dir / "interest_trajectories.png")]


def plot_learning_curve(steps: Sequence[float], values: Sequence[float], path: str | Path,
                        ylabel: str = "mean reward per user-step", title: str = "") -> Path:
    """Training curve from the CSV log: raw values and a moving average."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(x, y, lw=0.8, alpha=0.4, label="logged")
    ax.plot(x, _smooth(y, max(1, y.size // 20)), lw=1.8, label="moving average")
    ax.set_xlabel("training step (batched)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


#: Reference agents a ``--references`` file may hold → the label drawn; the best of the bandits
#: is drawn as one line.
_BANDITS = ("linucb", "thompson", "epsilon_greedy", "ucb")


def load_references(path: str | Path, scenario: str) -> dict[str, float]:
    """Reference returns for ``scenario`` from a learning-curves JSON (``summary → scenario →
    references → name → return_mean``, as ``benchmarks/results/learning_curves.json``):
    random, popular, the best bandit and the oracle, those the file has."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"--references {str(path)!r}: cannot read it as JSON ({exc}); expected "
                         "a learning-curves results file") from None
    summary = data.get("summary") if isinstance(data, dict) else None
    entry = summary.get(scenario) if isinstance(summary, dict) else None
    refs = entry.get("references") if isinstance(entry, dict) else None
    found = isinstance(refs, dict)
    if not found:
        have = sorted(summary) if isinstance(summary, dict) else []
        raise ValueError(f"--references {str(path)!r} has no summary.{scenario}.references; "
                         f"expected a learning-curves results file (scenarios there: {have})")
    means = {k: float(v["return_mean"]) for k, v in refs.items()
             if isinstance(v, dict) and _is_finite(v.get("return_mean"))}
    out = {k: means[k] for k in ("random", "popular") if k in means}
    bandits = {k: v for k, v in means.items() if k in _BANDITS}
    if bandits:
        best = max(bandits, key=bandits.__getitem__)
        out[f"best bandit ({best})"] = bandits[best]
    oracles = {k: v for k, v in means.items() if "oracle" in k}
    if oracles:
        best = max(oracles, key=oracles.__getitem__)
        out[best.replace("_", " ")] = oracles[best]
    return out


def _is_finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def plot_train_curves(runs: Sequence[tuple[str, Sequence[Any]]], path: str | Path,
                      references: dict[str, float] | None = None) -> Path:
    """Learning curves of ``driftrec train`` folders: the held-out return against training
    user-steps when every seed has eval.csv (``--eval-every``, ``plot_heldout_curves``), else the
    training reward (``plot_training_reward``)."""
    if all(len(c.eval_returns) for _, curves in runs for c in curves):
        return plot_heldout_curves(runs, path, references)
    return plot_training_reward(runs, path, references)


def plot_heldout_curves(runs: Sequence[tuple[str, Sequence[Any]]], path: str | Path,
                        references: dict[str, float] | None = None) -> Path:
    """Held-out return per user (eval.csv) against training user-steps: mean over seeds with a
    95% t-band over seeds, one line per folder, the references as horizontal lines — return and
    references in the same units, so on one axis."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, curves in runs:
        grid = min((c.eval_user_steps for c in curves), key=len)
        mean, half = curve_band([np.interp(grid, c.eval_user_steps, c.eval_returns)
                                 for c in curves])
        name = f"{label} ({curves[0].agent}, {len(curves)} seed{'s' * (len(curves) > 1)})"
        (line,) = ax.plot(grid, mean, lw=1.6, marker="o", ms=3, label=name)
        ax.fill_between(grid, mean - half, mean + half, color=line.get_color(), alpha=0.2)
    for j, (ref, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{(j + len(runs)) % 10}", label=ref)
    ax.set_xlabel("training user-steps (batched steps × users)")
    ax.set_ylabel("held-out return per user (eval.csv)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    scenarios = sorted({c.scenario for _, curves in runs for c in curves})
    fig.suptitle(f"{', '.join(scenarios)}: held-out users, mean over seeds, 95% t-band over "
                 "seeds", fontsize=9)
    return _save(fig, path)


def plot_training_reward(runs: Sequence[tuple[str, Sequence[Any]]], path: str | Path,
                         references: dict[str, float] | None = None) -> Path:
    """Learning curves of ``driftrec train`` folders: left, the training reward per user-step
    against training user-steps (mean over seeds, 95% t-band over seeds); right, the held-out
    evaluation return of each folder (mean ± 95% t-interval over seeds) with the references as
    horizontal lines. The two panels have different units, which is why they are apart: without
    ``--eval-every`` train logs no periodic held-out return, only its training window means and
    one final evaluation."""
    fig, (ax, ax_eval) = plt.subplots(1, 2, figsize=(11, 3.9),
                                      gridspec_kw={"width_ratios": [2, 1]})
    for i, (label, curves) in enumerate(runs):
        grid = min((c.user_steps for c in curves), key=len)
        mean, half = curve_band([np.interp(grid, c.user_steps, c.reward) for c in curves])
        name = f"{label} ({curves[0].agent}, {len(curves)} seed{'s' * (len(curves) > 1)})"
        (line,) = ax.plot(grid, mean, lw=1.6, label=name)
        ax.fill_between(grid, mean - half, mean + half, color=line.get_color(), alpha=0.2)
        finals = [c.eval_return for c in curves if c.eval_return is not None]
        if finals:
            m, h = curve_band([[v] for v in finals])
            ax_eval.errorbar([i], m, yerr=h, fmt="o", color=line.get_color(), capsize=4)
    ax.set_xlabel("training user-steps (batched steps × users)")
    ax.set_ylabel("training reward per user-step (log.csv)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    for j, (ref, value) in enumerate((references or {}).items()):
        ax_eval.axhline(value, ls="--", lw=1, color=f"C{(j + len(runs)) % 10}", label=ref)
    ax_eval.set_xticks(range(len(runs)), [label for label, _ in runs], fontsize=7)
    ax_eval.set_xlim(-0.7, len(runs) - 0.3)
    ax_eval.set_ylabel("held-out return per user (eval.json)")
    ax_eval.grid(alpha=0.3)
    if references:
        ax_eval.legend(fontsize=7, title="references (full sessions)", title_fontsize=7)
    scenarios = sorted({c.scenario for _, curves in runs for c in curves})
    fig.suptitle(f"{', '.join(scenarios)}: mean over seeds, 95% t-band over seeds", fontsize=9)
    return _save(fig, path)
