"""The ``driftrec`` command through its real entry point (a subprocess), hashing encoder."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from driftrec.cli.metrics import METRIC_NAMES

_SCRIPT = Path(sys.executable).with_name("driftrec")
_BASE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "driftrec.cli"]
# A small suite that still exercises every part: two scenarios, two seeds, a learner.
_TINY = ["--quick", "--encoder", "hashing", "--scenarios", "video", "news",
         "--agents", "random", "greedy", "linucb"]


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([*_BASE, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout, check=False)


def _png_ok(path: Path) -> None:
    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 100
    assert float(np.var(img[..., :3])) > 1e-3


def test_version_and_help() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("driftrec ")
    proc = run("bench", "--help")
    assert proc.returncode == 0 and "--train-steps" in proc.stdout and "--quick" in proc.stdout


@pytest.mark.parametrize("args, needle", [
    (["bench", "--users", "0"], "argument --users: expected a positive integer, got '0'"),
    (["bench", "--steps", "-3"], "argument --steps: expected a positive integer"),
    (["bench", "--seeds", "0"], "seed count must be positive"),
    (["bench", "--seeds", "a,b"], "expected a seed count N or a comma list"),
    (["bench", "--train-steps", "-1"], "argument --train-steps: expected an integer >= 0"),
    (["bench", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--agent", "random", "--scenario", "video", "--steps", "0"],
     "argument --steps: expected a positive integer"),
])
def test_bad_counts_are_one_line_errors(cli, one_line_error, args: list[str], needle: str) -> None:
    one_line_error(cli(*args), needle)


def test_bad_flag_through_console_script_has_no_traceback(one_line_error) -> None:
    proc = run("bench", "--users", "-2")
    one_line_error(proc, "argument --users: expected a positive integer, got '-2'")
    assert proc.returncode == 2


def test_unknown_scenario_and_agent(cli, one_line_error, tmp_path: Path) -> None:
    proc = cli("bench", "--scenarios", "video", "cooking", "--out", str(tmp_path / "r"))
    one_line_error(proc, "unknown scenario 'cooking'; valid scenarios: video, news, shopping")
    proc = cli("bench", "--agents", "random", "psychic", "--out", str(tmp_path / "r"))
    one_line_error(proc, "unknown agent 'psychic'")
    proc = cli("train", "--agent", "psychic", "--scenario", "video", "--steps", "3")
    one_line_error(proc, "unknown agent 'psychic'")
    assert not (tmp_path / "r").exists()


def test_unwritable_and_non_empty_out(cli, one_line_error, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(cli("bench", *_TINY, "--out", str(blocker / "sub")),
                    "cannot write to output folder")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("precious")
    one_line_error(cli("bench", *_TINY, "--out", str(full)),
                    "is not empty; use --overwrite")
    assert (full / "keep.txt").read_text() == "precious"


def test_a_json_file_that_is_not_a_calibration_is_a_one_line_error(
    cli, one_line_error, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"parameters": {}}')
    one_line_error(cli("bench", *_TINY[:3], "--scenarios", str(bogus)),
                    "not a driftrec calibration file")


def test_bad_encoder_device_and_dataset_flags(cli, one_line_error, tmp_path: Path) -> None:
    one_line_error(cli("bench", "--encoder", "/no/such/model"),
                    "--encoder '/no/such/model'")
    one_line_error(cli("bench", "--device", "gpu-ish"), "invalid --device 'gpu-ish'")
    one_line_error(cli("bench", "--max-users", "5"), "only apply with --dataset")
    one_line_error(cli("bench", "--dataset", "movielens"),
                    "--dataset and --data-dir must be given together")
    one_line_error(cli("bench", "--dataset", "netflix", "--data-dir", str(tmp_path)),
                    "unknown dataset 'netflix'")
    one_line_error(cli("calibrate", "--dataset", "movielens", "--data-dir",
                        str(tmp_path / "none"), "--out", str(tmp_path / "p.json")),
                    "is not a folder")
    one_line_error(cli("calibrate", "--dataset", "movielens", "--data-dir", str(tmp_path),
                        "--out", str(tmp_path / "p.json"), "--threads", "0"),
                    "--threads")


def test_dataset_bad_files_are_one_line_errors(cli, tmp_path: Path) -> None:
    # an ml-100k folder whose u.data is missing: the loader names the file it expected
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0"
                                     "|0|0|0|0|0|0|0|0|0|0\n", encoding="latin-1")
    proc = cli("bench", "--dataset", "movielens", "--data-dir", str(tmp_path),
               "--encoder", "hashing", "--quick", "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_calibrate_then_bench_a_movielens_folder_with_its_parameters(
    tmp_path: Path, movielens_files
) -> None:
    root = movielens_files.write_100k(tmp_path / "ml", num_users=30, num_items=40)
    params = tmp_path / "params.json"
    proc = run("calibrate", "--dataset", "movielens", "--data-dir", str(root),
               "--encoder", "hashing", "--out", str(params), "--threads", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(params.read_text())["report"]
    assert set(report) == {"calibrated", "defaults", "popularity"}
    for model in report.values():
        assert 0.0 <= model["hit@10"] <= 1.0 and model["loglik"] < 0 and model["events"] > 0
    # fitted on the held-in part, the calibrated model explains the held-out part better
    assert report["calibrated"]["loglik"] > report["defaults"]["loglik"]

    out = tmp_path / "bench"
    proc = run("bench", "--dataset", "movielens", "--data-dir", str(root), "--encoder", "hashing",
               "--quick", "--calibration", str(params), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "every item is a candidate" in proc.stderr  # 40 items < the preset's 100 candidates
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["scenarios"] == ["movielens"]
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["scenario"] for r in rows} == {"movielens"}
    for png in ("reward_curves.png", "metrics_over_time.png", "interest_trajectories.png"):
        _png_ok(out / png)

    # the calibrated scenario is used like a preset: on the built-in catalog of its domain
    out = tmp_path / "preset"
    proc = run("bench", *_TINY[:3], "--scenarios", "video", str(params), "--agents", "random",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert {r["scenario"] for r in runs} == {"video", str(params)}


def test_dataset_smaller_than_a_slate_is_a_one_line_error(cli, one_line_error, tmp_path: Path,
                                                           movielens_files) -> None:
    root = movielens_files.write_100k(tmp_path / "ml", num_users=6, num_items=12)
    one_line_error(cli("bench", "--dataset", "movielens", "--data-dir", str(root),
                        "--encoder", "hashing", "--quick", "--max-items", "9",
                        "--out", str(tmp_path / "out")), "fewer than the slate size")


def test_listings(cli) -> None:
    proc = run("scenarios")
    assert proc.returncode == 0
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["video", "news", "shopping"]
    proc = cli("agents")
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and {"random", "oracle", "linucb", "transformer"} <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in proc.stdout.splitlines())


def test_plot_missing_run_is_one_line_error(cli, one_line_error, tmp_path: Path) -> None:
    one_line_error(cli("plot", str(tmp_path / "nope")), "no results.json in")
    one_line_error(cli("plot", str(tmp_path), "--out", str(tmp_path / "x.jpg")),
                    "no results.json in")


@pytest.fixture(scope="module")
def bench_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("bench")
    outs = []
    # The second run only needs to be a different run for `plot`: one scenario, one agent.
    for i, extra in enumerate([["--seeds", "2"],
                               ["--seeds", "3,4", "--scenarios", "news", "--agents", "greedy"]]):
        out = base / f"run{i}"
        proc = run("bench", *_TINY, *extra, "--out", str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(out)
    return outs


@pytest.mark.slow
def test_bench_writes_every_file_and_they_agree(bench_runs: list[Path]) -> None:
    out = bench_runs[0]
    names = {p.name for p in out.iterdir()}
    assert {"results.json", "results.csv", "results.md", "reward_curves.png",
            "metrics_over_time.png", "interest_trajectories.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["scenarios"] == ["video", "news"]
    assert data["config"]["agents"] == ["random", "greedy", "linucb"]
    assert data["config"]["seeds"] == [0, 1] and data["config"]["encoder"] == "hashing"
    assert "driftrec" in data["versions"] and "git_commit" in data["versions"]
    assert len(data["runs"]) == 2 * 3 * 2
    steps = data["config"]["steps"]
    for r in data["runs"]:
        assert len(r["curves"]["reward"]) == steps
        assert len(r["user_returns"]) == data["config"]["users"]
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["scenario"], r["agent"], int(r["seed"])) for r in rows] == [
        (r["scenario"], r["agent"], r["seed"]) for r in data["runs"]]
    for row, r in zip(rows, data["runs"]):
        for name in METRIC_NAMES:
            if r["metrics"][name] is None:
                assert row[name] == ""
            else:
                assert float(row[name]) == pytest.approx(r["metrics"][name], rel=1e-9)
    md = [ln for ln in (out / "results.md").read_text().splitlines()
          if ln.startswith("| ") and not ln.startswith("| scenario")]
    assert len(md) == len(data["summary"]) == 6
    for line, s in zip(md, data["summary"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [s["scenario"], s["agent"]]
        assert float(cells[2].split("±")[0]) == pytest.approx(s["return_mean"], rel=1e-3,
                                                              abs=1e-9)
    for png in ("reward_curves.png", "metrics_over_time.png", "interest_trajectories.png"):
        _png_ok(out / png)


@pytest.mark.slow
def test_bench_refuses_rerun_into_its_folder(cli, one_line_error, bench_runs: list[Path]) -> None:
    out = bench_runs[0]
    before = (out / "results.json").read_bytes()
    one_line_error(cli("bench", *_TINY, "--out", str(out)),
                    "is not empty; use --overwrite")
    assert (out / "results.json").read_bytes() == before


@pytest.mark.slow
def test_bench_is_reproducible_with_overwrite(cli, bench_runs: list[Path]) -> None:
    out = bench_runs[1]
    before = json.loads((out / "results.json").read_text())
    proc = cli("bench", *_TINY, "--seeds", "3,4", "--scenarios", "news", "--agents", "greedy",
               "--out", str(out), "--overwrite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split()[:2] == ["scenario", "agent"]
    assert "news" in proc.stdout and "greedy" in proc.stdout
    after = json.loads((out / "results.json").read_text())
    assert [r["metrics"] for r in after["runs"]] == [r["metrics"] for r in before["runs"]]
    assert [r["seed"] for r in after["runs"]] == [3, 4]


@pytest.mark.slow
def test_plot_two_runs(bench_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "both.png"
    proc = run("plot", *map(str, bench_runs), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    _png_ok(out)


@pytest.mark.slow
def test_train_then_resume(cli, one_line_error, tmp_path: Path) -> None:
    out = tmp_path / "train"
    common = ["train", "--agent", "linucb", "--scenario", "video", "--encoder", "hashing",
              "--users", "8", "--eval-users", "8", "--eval-steps", "4", "--log-every", "2",
              "--checkpoint-every", "3", "--out", str(out)]
    proc = run(*common, "--steps", "6")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = json.loads((out / "checkpoint.json").read_text())
    assert ckpt["step"] == 6 and (out / ckpt["file"]).is_file()
    assert sorted(p.name for p in out.glob("checkpoint-*.pt")) == ["checkpoint-6.pt"]
    _png_ok(out / "learning_curve.png")
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["trained_steps"] == 6 and set(METRIC_NAMES) <= set(evaluation["metrics"])
    one_line_error(cli(*common, "--steps", "10"), "is not empty")
    proc = cli(*common, "--steps", "10", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming linucb on video from step 6" in proc.stderr
    with (out / "log.csv").open() as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle)]
    assert steps == [2, 4, 6, 8, 10]
    assert json.loads((out / "checkpoint.json").read_text())["step"] == 10
    one_line_error(cli(*common, "--steps", "12", "--resume", "--users", "4"),
                    f"settings differ from the run in {out}: users was 8, now 4")


def test_resume_of_a_folder_without_a_run_is_an_error(cli, one_line_error, tmp_path: Path) -> None:
    one_line_error(cli("train", "--agent", "random", "--scenario", "video", "--steps", "3",
                        "--encoder", "hashing", "--out", str(tmp_path), "--resume"),
                    f"nothing to resume in {tmp_path}: no config.json")


def test_python_dash_m_reports_library_errors_in_one_line(tmp_path: Path) -> None:
    # Under ``python -m`` the CLI module runs as __main__; errors raised as the package's
    # CLIError must still be caught (not a traceback from a second copy of the class).
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.json").write_text("{not json", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "driftrec.cli", "train", "--resume", "--out", str(run)],
        check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("driftrec train: error:"), proc.stderr
