"""Results files and plots from a synthetic suite (no simulator needed): files agree, PNGs are
real pictures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from driftrec.cli import plots, report
from driftrec.cli.metrics import METRIC_NAMES
from driftrec.cli.runner import BenchConfig, EpisodeResult, Projection, SuiteResult


def synthetic_suite(steps: int = 12, users: int = 5) -> SuiteResult:
    """Two scenarios × two agents × two seeds with deterministic made-up numbers."""
    rng = np.random.default_rng(0)
    config = BenchConfig(scenarios=("video", "news"), agents=("random", "greedy"), seeds=(0, 1),
                         users=users, steps=steps, train_steps=0, encoder="hashing")
    runs = []
    for scenario in config.scenarios:
        for a, agent in enumerate(config.agents):
            for seed in config.seeds:
                returns = rng.normal(1.0 + a, 0.3, size=users)
                metrics = {name: float(rng.uniform()) for name in METRIC_NAMES}
                metrics["return_mean"] = float(returns.mean())
                curves = {name: list(rng.uniform(size=steps) + a) for name in
                          ("reward", "ctr", "engagement", "diversity", "drift", "retention")}
                tracks = [np.cumsum(rng.normal(size=(steps + 1, 2)), axis=0).tolist()
                          for _ in range(3)] if seed == 0 else None
                runs.append(EpisodeResult(scenario, agent, seed, metrics, curves,
                                          returns.tolist(), tracks, 0.5, 1.5))
    cents = rng.normal(size=(4, 8))
    proj = Projection.fit(cents / np.linalg.norm(cents, axis=1, keepdims=True),
                          ["drama", "comedy", "science", "sports"]).to_dict()
    return SuiteResult(config, runs, {"video": proj, "news": proj}, 3.0)


def _image_ok(path: Path) -> None:
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.var(img[..., :3])) > 1e-3  # not a blank canvas


def test_results_json_csv_md_agree(tmp_path: Path) -> None:
    results = report.build_results(synthetic_suite(), ["driftrec", "bench"])
    report.write_results(tmp_path, results)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"]["seeds"] == [0, 1] and data["versions"]["python"]
    with (tmp_path / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(data["runs"]) == 8
    for row, run in zip(rows, data["runs"]):
        assert (row["scenario"], row["agent"], int(row["seed"])) == (
            run["scenario"], run["agent"], run["seed"])
        for name in METRIC_NAMES:
            assert float(row[name]) == pytest.approx(run["metrics"][name], rel=1e-12)
    md_rows = [line for line in (tmp_path / "results.md").read_text().splitlines()
               if line.startswith("| ") and not line.startswith("| scenario")]
    assert len(md_rows) == len(data["summary"]) == 4
    for line, summ in zip(md_rows, data["summary"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [summ["scenario"], summ["agent"]]
        mean, ci = (float(x) for x in cells[2].split("±"))
        assert mean == pytest.approx(summ["return_mean"], rel=1e-3)
        assert ci == pytest.approx(summ["return_ci95"], rel=1e-3)
        assert float(cells[3]) == pytest.approx(summ["ctr"], rel=1e-3)


def test_summary_pools_returns_over_users_and_seeds() -> None:
    results = report.build_results(synthetic_suite(), ["driftrec"])
    first = results["summary"][0]
    pooled = np.concatenate([r["user_returns"] for r in results["runs"]
                             if (r["scenario"], r["agent"]) == ("video", "random")])
    assert first["return_mean"] == pytest.approx(pooled.mean())
    half = 2.262157 * pooled.std(ddof=1) / math.sqrt(pooled.size)  # t_{.975, 9}: 10 samples
    assert first["return_ci95"] == pytest.approx(half)


def test_curve_band_mean_and_t_interval() -> None:
    # two seeds, curves (1, 2) and (3, 3): per-step means (2, 2.5)
    mean, half = plots.curve_band([[1.0, 2.0], [3.0, 3.0]])
    np.testing.assert_allclose(mean, [2.0, 2.5])
    # step 1: s = √2, n = 2 → 12.706205·√2/√2 = 12.706205; step 2: s = √0.5 → 12.706205·0.5
    np.testing.assert_allclose(half, [12.706205, 12.706205 * 0.5])


def test_plot_run_writes_three_nontrivial_pngs(tmp_path: Path) -> None:
    results = report.build_results(synthetic_suite(), ["driftrec"])
    paths = plots.plot_run(results, tmp_path)
    assert [p.name for p in paths] == ["reward_curves.png", "metrics_over_time.png",
                                       "interest_trajectories.png"]
    for p in paths:
        _image_ok(p)


def test_learning_curve_png(tmp_path: Path) -> None:
    out = plots.plot_learning_curve(np.arange(1, 51), np.sin(np.arange(50) / 5), tmp_path / "l.png")
    _image_ok(out)
