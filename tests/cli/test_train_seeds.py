"""``driftrec train --seeds`` and ``driftrec plot`` on train folders, through ``main(argv)``.

The bad-input cases are the executable register of this area (each row: the arguments, the one
line the command must print)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from driftrec.cli.main import main

_TRAIN = ["train", "--agent", "linucb", "--scenario", "video", "--encoder", "hashing",
          "--users", "8", "--eval-users", "8", "--eval-steps", "4", "--log-every", "2",
          "--checkpoint-every", "3"]
_REFERENCES = Path(__file__).resolve().parents[2] / "benchmarks/results/learning_curves.json"


def _png_ok(path: Path) -> None:
    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 100
    assert float(np.var(img[..., :3])) > 1e-3


def _steps(folder: Path) -> list[int]:
    with (folder / "log.csv").open() as handle:
        return [int(r["step"]) for r in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeds") / "run"
    assert main([*_TRAIN, "--steps", "6", "--seeds", "0", "1", "--out", str(out)]) == 0
    return out


def test_seeds_train_one_run_folder_per_seed(seeds_run: Path) -> None:
    assert sorted(p.name for p in seeds_run.iterdir()) == ["seed-0", "seed-1"]
    for seed in (0, 1):
        sub = seeds_run / f"seed-{seed}"
        assert json.loads((sub / "config.json").read_text())["settings"]["seed"] == seed
        assert json.loads((sub / "checkpoint.json").read_text())["step"] == 6
        assert json.loads((sub / "eval.json").read_text())["seed"] == seed
        assert _steps(sub) == [2, 4, 6]


def test_plot_of_a_seeds_folder_draws_learning_curves(cli, seeds_run: Path,
                                                      tmp_path: Path) -> None:
    proc = cli("plot", str(seeds_run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(seeds_run / "learning_curves.png")
    _png_ok(seeds_run / "learning_curves.png")
    out = tmp_path / "refs.png"
    proc = cli("plot", str(seeds_run), str(seeds_run / "seed-1"), "--references",
               str(_REFERENCES), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    _png_ok(out)


def test_references_are_random_popular_best_bandit_and_oracle() -> None:
    from driftrec.cli.plots import load_references

    refs = load_references(_REFERENCES, "video")
    summary = json.loads(_REFERENCES.read_text())["summary"]["video"]["references"]
    assert refs == {"random": summary["random"]["return_mean"],
                    "popular": summary["popular"]["return_mean"],
                    "best bandit (linucb)": summary["linucb"]["return_mean"],
                    "oracle budget": summary["oracle_budget"]["return_mean"]}


def test_resume_with_seeds_continues_each_and_starts_the_missing_one(cli, seeds_run: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(seeds_run, out)
    proc = cli(*_TRAIN, "--steps", "8", "--seeds", "0", "1", "2", "--out", str(out),
               "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("resuming linucb on video from step 6") == 2
    assert [_steps(out / f"seed-{k}") for k in (0, 1, 2)] == [[2, 4, 6, 8]] * 3


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _bad_folder(tmp_path: Path, seeds_run: Path, kind: str) -> Path:
    """A train folder broken in one way."""
    out = tmp_path / kind
    shutil.copytree(seeds_run, out)
    _write(out / "refs-list.json", json.dumps({"summary": {"video": [1, 2]}}))
    if kind == "no-config":
        (out / "seed-0" / "config.json").unlink()
    elif kind == "empty-log":
        _write(out / "seed-0" / "log.csv", "step,wall_seconds,reward,ctr,engagement,departures\n")
    elif kind == "bad-log":
        _write(out / "seed-0" / "log.csv", "step,x\n1,2\n")
    elif kind == "mixed":
        config = json.loads((out / "seed-1" / "config.json").read_text())
        config["settings"]["agent"] = "random"
        _write(out / "seed-1" / "config.json", json.dumps(config))
    return out


_TRAIN_ERRORS = [
    (["--seed", "1", "--seeds", "0", "1"], "argument --seeds: not allowed with argument --seed"),
    (["--seeds", "0", "0", "1"], "--seeds 0 0 1: seed(s) 0 repeated; expected distinct seeds"),
    (["--seeds", "-1"], "expected an integer >= 0, got '-1'"),
    (["--seeds", "x"], "expected an integer >= 0, got 'x'"),
    (["--seeds", "1.5"], "expected an integer >= 0, got '1.5'"),
    (["--seeds"], "argument --seeds: expected at least one argument"),
    (["--seeds", "0", "--resume"], "--resume needs --out"),
    (["--seeds", "0", "--resume", "--overwrite", "--out", "X"], "contradict each other"),
]


@pytest.mark.parametrize(("extra", "needle"), _TRAIN_ERRORS)
def test_bad_seeds_arguments_are_one_line_errors(
    cli, one_line_error, extra: list[str], needle: str
) -> None:
    one_line_error(cli(*_TRAIN, "--steps", "2", *extra), needle)


def test_seeds_into_a_non_empty_folder_or_a_missing_resume_folder(
    cli, one_line_error, seeds_run: Path, tmp_path: Path
) -> None:
    one_line_error(cli(*_TRAIN, "--steps", "2", "--seeds", "0", "--out", str(seeds_run)),
                    "is not empty; use --overwrite")
    one_line_error(cli(*_TRAIN, "--steps", "2", "--seeds", "0", "--resume", "--out",
                        str(tmp_path / "nope")), "--resume: no run folder")
    one_line_error(cli(*_TRAIN, "--steps", "4", "--seeds", "0", "--resume", "--out",
                        str(seeds_run)), "--steps 4 is below the checkpoint's step 6")


_PLOT_ERRORS = [
    ("no-config", [], "no config.json in {out}/seed-0; expected a `driftrec train` run folder"),
    ("empty-log", [], "{out}/seed-0/log.csv has no rows"),
    ("bad-log", [], "{out}/seed-0/log.csv line 1: header"),
    ("mixed", [], "seed runs of different agents/scenarios"),
    ("ok", ["--out", "{out}/x.jpg"], "expected a .png file name"),
    ("ok", ["--references", "{out}/missing.json"], "cannot read it as JSON"),
    ("ok", ["--references", "{out}/seed-0/log.csv"], "cannot read it as JSON"),
    ("ok", ["--references", "{out}/seed-0/eval.json"], "has no summary.video.references"),
    ("ok", ["{out}/../"], "not train run folders while other RUN_DIRs are"),
    ("ok", ["--references", "{out}/refs-list.json"], "has no summary.video.references"),
]


@pytest.mark.parametrize(("kind", "extra", "needle"), _PLOT_ERRORS)
def test_bad_plot_inputs_are_one_line_errors(
    cli, one_line_error, seeds_run: Path, tmp_path: Path, kind: str, extra: list[str], needle: str
) -> None:
    out = _bad_folder(tmp_path, seeds_run, kind)
    one_line_error(cli("plot", str(out), *(e.format(out=out) for e in extra)),
                    needle.format(out=out))


def test_references_with_bench_folders_is_an_error(cli, one_line_error, tmp_path: Path) -> None:
    one_line_error(cli("plot", str(tmp_path), "--references", str(_REFERENCES)),
                    "--references only applies to train run folders")


# ----- --eval-every: the held-out learning curve (eval.csv) -------------------------------------


def _eval_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "eval.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def heldout_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seeds, 8 users, evaluated every 16 user-steps = every 2 batched steps."""
    out = tmp_path_factory.mktemp("heldout") / "run"
    assert main([*_TRAIN, "--steps", "4", "--eval-every", "16", "--seeds", "0", "1",
                 "--out", str(out)]) == 0
    return out


def test_eval_every_writes_a_heldout_curve_per_seed(heldout_run: Path) -> None:
    for seed in (0, 1):
        sub = heldout_run / f"seed-{seed}"
        rows = _eval_rows(sub)
        assert list(rows[0]) == ["step", "wall_seconds", "user_steps", "return_mean",
                                 "return_ci95", "ctr", "session_length"]
        assert [(int(r["step"]), float(r["user_steps"])) for r in rows] == [
            (0, 0.0), (2, 16.0), (4, 32.0)]
        # The last point is the final held-out evaluation: same users, same agent state.
        final = json.loads((sub / "eval.json").read_text())["metrics"]["return_mean"]
        assert float(rows[-1]["return_mean"]) == pytest.approx(final, rel=1e-12)
        assert json.loads((sub / "config.json").read_text())["settings"]["eval_every"] == 16


def test_eval_every_resumes_keeping_the_rows_up_to_the_checkpoint(cli, heldout_run: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(heldout_run, out)
    before = (out / "seed-0" / "eval.csv").read_text().splitlines()
    proc = cli(*_TRAIN, "--steps", "6", "--eval-every", "16", "--seeds", "0", "--out",
               str(out), "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = (out / "seed-0" / "eval.csv").read_text().splitlines()
    assert after[: len(before)] == before
    assert [int(r["step"]) for r in _eval_rows(out / "seed-0")] == [0, 2, 4, 6]


def test_eval_every_on_a_learner_that_owns_its_loop(tmp_path: Path) -> None:
    """SB3/SlateQ train in --checkpoint-every chunks: evaluated at the chunk that crosses."""
    out = tmp_path / "dqn"
    args = [*_TRAIN, "--steps", "6", "--eval-every", "20", "--out", str(out)]
    args[args.index("linucb")] = "dqn"
    assert main(args) == 0
    assert [int(r["step"]) for r in _eval_rows(out)] == [0, 3, 6]


def test_plot_draws_the_heldout_curve_when_every_seed_has_one(cli, heldout_run: Path,
                                                             tmp_path: Path) -> None:
    from driftrec.cli.training import load_train_curves

    curves = load_train_curves(heldout_run)
    assert [c.eval_user_steps.tolist() for c in curves] == [[0.0, 16.0, 32.0]] * 2
    out = tmp_path / "heldout.png"
    proc = cli("plot", str(heldout_run), "--references", str(_REFERENCES),
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    _png_ok(out)


_EVAL_HEADER = "step,wall_seconds,user_steps,return_mean,return_ci95,ctr,session_length\n"
_EVAL_LOG_ERRORS = [
    ("step,x\n0,1\n", "eval.csv line 1: header ['step', 'x'] lacks ['wall_seconds', 'user_steps'"),
    (_EVAL_HEADER + "0,1,0,x,1,1,1\n", "eval.csv line 2: return_mean = 'x'; expected a number"),
    (_EVAL_HEADER + "2,1,0,1,1,1,1\n0,1,0,1,1,1,1\n",
     "eval.csv line 3: step = '0'; expected an integer step above the previous row's 2"),
]


@pytest.mark.parametrize(("text", "needle"), _EVAL_LOG_ERRORS)
def test_a_broken_eval_log_is_a_one_line_error_on_resume_and_plot(
        cli, one_line_error, heldout_run: Path, tmp_path: Path, text: str, needle: str) -> None:
    out = tmp_path / "run"
    shutil.copytree(heldout_run, out)
    _write(out / "seed-0" / "eval.csv", text)
    one_line_error(cli(*_TRAIN, "--steps", "6", "--eval-every", "16", "--seeds", "0",
                        "--out", str(out), "--resume"), needle)
    one_line_error(cli("plot", str(out)), needle)


def test_an_eval_log_that_is_a_directory_is_a_one_line_error(cli, one_line_error, heldout_run: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(heldout_run, out)
    (out / "seed-0" / "eval.csv").unlink()
    (out / "seed-0" / "eval.csv").mkdir()
    one_line_error(cli("plot", str(out)),
                    f"{out}/seed-0/eval.csv is a directory; expected the CSV log")


@pytest.mark.parametrize("value", ["0", "-16", "x", "1.5"])
def test_bad_eval_every_is_a_one_line_error(cli, one_line_error, value: str) -> None:
    one_line_error(cli(*_TRAIN, "--steps", "2", "--eval-every", value),
                    f"argument --eval-every: expected a positive integer, got '{value}'")
