"""Run folders of ``driftrec train`` and ``driftrec bench`` through ``main(argv)``: a resume reads
and deletes nothing outside the folder, every damaged file is a one-line error naming it (and the
folder is left as it was), and interrupted runs continue (issue 29, findings 2, 6 and 8).

The bad-input cases are the register of docs/reliability.md's CLI rows: with
``DRIFTREC_REGISTER=FILE`` each case appends its row (input, error) to FILE.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from driftrec.cli.main import main

_TRAIN = ["train", "--agent", "linucb", "--scenario", "video", "--encoder", "hashing",
          "--users", "4", "--log-every", "1", "--checkpoint-every", "2", "--eval-users", "4",
          "--eval-steps", "2"]
# One scenario, a learner and a non-learner, two seeds: four runs of a few steps each.
_BENCH = ["bench", "--encoder", "hashing", "--scenarios", "video", "--agents", "random",
          "linucb", "--seeds", "2", "--users", "4", "--steps", "4", "--train-steps", "2"]
_SCRIPT = Path(sys.executable).with_name("driftrec")
_BASE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "driftrec.cli"]


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, link targets, folders."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            out[key] = "<dir>"
        else:
            out[key] = path.read_bytes()
    return out


def register(area: str, bad_input: str, error: str, tmp: Path) -> None:
    """Append the case's register row (the test's folder shown as ``TMP``)."""
    target = os.environ.get("DRIFTREC_REGISTER")
    if target:
        text = error.strip().replace(str(tmp), "TMP").replace("|", "/")
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"| {area} | {bad_input} | {text} |\n")


def with_flags(argv: list[str], extra: list[str]) -> list[str]:
    """``argv`` with each ``--flag value`` of ``extra`` replacing or adding; ``--overwrite``
    added."""
    out, it = list(argv), iter(extra)
    for flag in it:
        if flag == "--overwrite":
            out.append(flag)
            continue
        value = next(it)
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


def interrupt(argv: list[str], ready: Callable[[], bool], sig: int) -> tuple[int, str]:
    """Start the console script as a terminal would (SIGINT at its default, so Python turns it
    into KeyboardInterrupt even when this suite runs as a background job, which inherits SIGINT
    ignored), send ``sig`` once ``ready()`` holds; its status and stderr. Asserts that the
    program was still running when ``ready()`` first held."""
    proc = subprocess.Popen([*_AS_IN_A_TERMINAL, *_BASE, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"})  # fmt: skip
    try:
        start = time.monotonic()
        while not ready() and time.monotonic() < start + 120:
            time.sleep(0.02)
        waited, finished = time.monotonic() - start, proc.poll()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert finished is None, f"it had ended ({finished}) when ready() held, after {waited:.1f} s"
    return proc.returncode, stderr


# Resets SIGINT to its default, then becomes the command (exec: the same process): a background
# job inherits SIGINT ignored, and Python leaves an inherited SIG_IGN alone.
_AS_IN_A_TERMINAL = [sys.executable, "-c", ("import os, signal, sys; "
                                             "signal.signal(signal.SIGINT, signal.SIG_DFL); "
                                             "os.execvp(sys.argv[1], sys.argv[1:])")]  # fmt: skip


def _steps_in_log(run: Path) -> list[int]:
    with (run / "log.csv").open(encoding="utf-8") as handle:
        return [int(r["step"]) for r in csv.DictReader(handle)]


# ----------------------------------------------------------------------------------------------
# train --resume: the bad inputs


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-step run (checkpoint at step 4, log rows 1..4)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main([*_TRAIN, "--steps", "4", "--out", str(out)]) == 0
    return out


def _pointer(run: Path, **fields: object) -> None:
    """Rewrite checkpoint.json: the run's own fields, some replaced (None drops a field)."""
    data = json.loads((run / "checkpoint.json").read_text())
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    (run / "checkpoint.json").write_text(json.dumps(data))


def _config(run: Path, **fields: object) -> None:
    data = json.loads((run / "config.json").read_text())
    data.update(fields)
    (run / "config.json").write_text(json.dumps(data))


def _log(run: Path, edit: Callable[[list[str]], None]) -> None:
    lines = (run / "log.csv").read_text().splitlines()
    edit(lines)
    (run / "log.csv").write_text("\n".join(lines) + "\n")


def _set(lines: list[str], row: int, column: int, value: str) -> None:
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)


def _link(run: Path, name: str, target: Path) -> None:
    (run / name).unlink()
    (run / name).symlink_to(target)


_CKPT = "checkpoint-4.pt"
# (id, what the case does to the run folder, extra flags, error pattern)
_TRAIN_CASES: list[tuple[str, Callable[[Path, Path], None], list[str], str]] = [
    ("pointer ../other/checkpoint-4.pt",
     lambda run, other: _pointer(run, file=f"../{other.name}/{_CKPT}"), [],
     (r"checkpoint pointer '\.\./other/checkpoint-4\.pt' in .*checkpoint\.json points outside the "
     r"run folder .*run; expected a file name inside it")),
    ("pointer to an absolute path",
     lambda run, other: _pointer(run, file=str(other / _CKPT)), [],
     r"checkpoint pointer '/.*/other/checkpoint-4\.pt' in .* points outside the run folder"),
    ("pointer into a subfolder",
     lambda run, other: _pointer(run, file=f"tensorboard/{_CKPT}"), [],
     r"'tensorboard/checkpoint-4\.pt' in .* is not a file name in the run folder"),
    ("pointer file ''", lambda run, other: _pointer(run, file=""), [],
     r"checkpoint pointer '' in .* is not a file name in the run folder"),
    ("pointer file '..'", lambda run, other: _pointer(run, file=".."), [],
     r"checkpoint pointer '\.\.' in .* points outside the run folder"),
    ("pointer names another file of the folder",
     lambda run, other: _pointer(run, file="config.json"), [],
     (r"'config\.json' in .* is not the file driftrec train writes for step 4; expected "
     r"'checkpoint-4\.pt'")),
    ("pointer's file and step disagree", lambda run, other: _pointer(run, step=2), [],
     r"'checkpoint-4\.pt' in .* is not the file driftrec train writes for step 2"),
    ("checkpoint file is a link out of the folder",
     lambda run, other: _link(run, _CKPT, other / _CKPT), [],
     r"'checkpoint-4\.pt' in .* is a link to .*other/checkpoint-4\.pt, outside the run folder"),
    ("checkpoint.json is a link out of the folder",
     lambda run, other: _link(run, "checkpoint.json", other / "checkpoint.json"), [],
     r"checkpoint\.json resolves to .*other/checkpoint\.json, outside the run folder"),
    ("checkpoint.json not JSON",
     lambda run, other: (run / "checkpoint.json").write_text('{"step": 4, "fi'), [],
     (r"checkpoint\.json is not valid JSON \(Unterminated string.*\); expected a checkpoint "
     r"pointer")),
    ("checkpoint.json empty", lambda run, other: (run / "checkpoint.json").write_text(""), [],
     r"checkpoint\.json is not valid JSON \(Expecting value"),
    ("checkpoint.json a JSON list", lambda run, other: (run / "checkpoint.json").write_text("[]"),
     [], r"checkpoint\.json holds a JSON list; expected a checkpoint pointer"),
    ("checkpoint.json not UTF-8",
     lambda run, other: (run / "checkpoint.json").write_bytes(b'{"step": \xff}'), [],
     r"checkpoint\.json is not UTF-8 text \(byte 9\)"),
    ("checkpoint.json is a folder",
     lambda run, other: ((run / "checkpoint.json").unlink(), (run / "checkpoint.json").mkdir()),
     [], r"cannot read .*checkpoint\.json: Is a directory"),
    ("checkpoint.json lacks 'file'", lambda run, other: _pointer(run, file=None), [],
     (r"checkpoint\.json holds step=4, wall_seconds=.*, lacking \['file'\]; expected a checkpoint "
     r'pointer \{"step": N, "file": "checkpoint-N\.pt"')),
    ("checkpoint.json step '4' (a string)", lambda run, other: _pointer(run, step="4"), [],
     r"holds step='4', .*; expected a checkpoint pointer"),
    ("checkpoint.json step -1", lambda run, other: _pointer(run, step=-1), [],
     r"holds step=-1, .*; expected a checkpoint pointer"),
    ("checkpoint.json step true", lambda run, other: _pointer(run, step=True), [],
     r"holds step=True, .*; expected a checkpoint pointer"),
    ("checkpoint.json file 5 (a number)", lambda run, other: _pointer(run, file=5), [],
     r"holds step=4, file=5, .*; expected a checkpoint pointer"),
    ("checkpoint.json wall_seconds NaN",
     lambda run, other: _pointer(run, wall_seconds=float("nan")), [],
     r"holds .*wall_seconds=nan.*; expected a checkpoint pointer"),
    ("checkpoint.json wall_seconds -1", lambda run, other: _pointer(run, wall_seconds=-1), [],
     r"holds .*wall_seconds=-1.*; expected a checkpoint pointer"),
    ("checkpoint file missing", lambda run, other: (run / _CKPT).unlink(), [],
     (r"checkpoint file 'checkpoint-4\.pt' named by .*checkpoint\.json is missing; expected it "
     r"in .*run")),
    ("checkpoint file empty", lambda run, other: (run / _CKPT).write_bytes(b""), [],
     r"cannot load .*run/checkpoint-4\.pt \(named by .*checkpoint\.json\): .*empty"),
    ("checkpoint file truncated",
     lambda run, other: (run / _CKPT).write_bytes((other / _CKPT).read_bytes()[:3000]), [],
     r"cannot load .*run/checkpoint-4\.pt \(named by .*checkpoint\.json\): \w+Error: .*expected"),
    ("checkpoint file random bytes",
     lambda run, other: (run / _CKPT).write_bytes(bytes(range(256)) * 8), [],
     r"cannot load .*run/checkpoint-4\.pt \(named by .*checkpoint\.json\): \w+Error: .*expected"),
    ("checkpoint file is text", lambda run, other: (run / _CKPT).write_text("hello\n"), [],
     r"cannot load .*run/checkpoint-4\.pt \(named by .*checkpoint\.json\): \w+Error: .*expected"),
    ("checkpoint of another agent",
     lambda run, other: torch.save({"agent": "thompson"}, run / _CKPT), [],
     r"cannot load .*run/checkpoint-4\.pt \(named by .*checkpoint\.json\): \w+Error: .*"),
    ("log.csv value 'abc'", lambda run, other: _log(run, lambda ls: _set(ls, 2, 2, "abc")), [],
     r"log\.csv line 3: reward = 'abc'; expected a number"),
    ("log.csv row with an extra field", lambda run, other: _log(
        run, lambda ls: ls.__setitem__(2, ls[2] + ",1.0")), [],
     r"log\.csv line 3: \d+ fields; expected \d+, one per header column"),
    ("log.csv row cut short", lambda run, other: _log(
        run, lambda ls: ls.__setitem__(4, ls[4][:5])), [],
     r"log\.csv line 5: \d+ fields; expected \d+, one per header column"),
    ("log.csv header without 'step'", lambda run, other: _log(
        run, lambda ls: ls.__setitem__(0, ls[0].replace("step", "stop", 1))), [],
     r"log\.csv line 1: header \['stop', .*\] lacks \['step'\] or repeats a column"),
    ("log.csv steps out of order", lambda run, other: _log(
        run, lambda ls: _set(ls, 3, 0, "1")), [],
     r"log\.csv line 4: step = '1'; expected an integer step above the previous row's 2"),
    ("log.csv step 2.5", lambda run, other: _log(run, lambda ls: _set(ls, 2, 0, "2.5")), [],
     r"log\.csv line 3: step = '2\.5'; expected an integer step"),
    ("log.csv not UTF-8",
     lambda run, other: (run / "log.csv").write_bytes(b"step,r\xe9ward\n"), [],
     r"log\.csv is not UTF-8 text \(byte 6\); expected the CSV log"),
    ("log.csv unterminated quote", lambda run, other: _log(
        run, lambda ls: ls.__setitem__(4, ls[4] + ',"')), [],
     r"log\.csv line \d+: unexpected end of data; expected CSV"),
    ("tensorboard/ is a link out of the folder",
     lambda run, other: (run / "tensorboard").symlink_to(other, target_is_directory=True), [],
     r"run/tensorboard resolves to .*other, outside the run folder .*; expected a folder inside"),
    ("config.json missing", lambda run, other: (run / "config.json").unlink(), [],
     (r"--resume: nothing to resume in .*run: no config\.json \(expected the --out folder of an "
     r"earlier `driftrec train` run")),
    ("config.json not JSON", lambda run, other: (run / "config.json").write_text("settings:"), [],
     r"config\.json is not valid JSON .*; expected the config\.json of a `driftrec train` run"),
    ("config.json of a bench run", lambda run, other: (run / "config.json").write_text(
        '{"config": {}}'), [],
     r"config\.json has no 'settings' object; expected the config\.json of a `driftrec train`"),
    ("config.json run_id 5", lambda run, other: _config(run, run_id=5), [],
     r"config\.json: run_id 5 is not a string"),
    ("config.json is a link out of the folder",
     lambda run, other: _link(run, "config.json", other / "config.json"), [],
     r"config\.json resolves to .*other/config\.json, outside the run folder"),
    ("--resume with other --users", lambda run, other: None, ["--users", "8"],
     r"--resume: settings differ from the run in .*run: users was 4, now 8"),
    ("--resume with other --agent and --seed", lambda run, other: None,
     ["--agent", "thompson", "--seed", "3"],
     r"settings differ from the run in .*: agent was 'linucb', now 'thompson', seed was 0, now 3"),
    ("--resume with --steps below the checkpoint", lambda run, other: None, ["--steps", "3"],
     r"--resume: --steps 3 is below the checkpoint's step 4; expected --steps >= 4"),
    ("--resume --overwrite", lambda run, other: None, ["--overwrite"],
     r"--resume and --overwrite contradict each other"),
]


@pytest.mark.parametrize("mutate, extra, pattern",
                         [c[1:] for c in _TRAIN_CASES], ids=[c[0] for c in _TRAIN_CASES])
def test_bad_run_folder_is_a_one_line_error_and_changes_nothing(
    cli, tmp_path: Path, trained: Path, request: pytest.FixtureRequest,
    mutate: Callable[[Path, Path], None], extra: list[str], pattern: str
) -> None:
    run, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(trained, run)
    shutil.copytree(trained, other)  # what a pointer or link out of the folder would reach
    mutate(run, other)
    before_run, before_other = snapshot(run), snapshot(other)
    argv = with_flags([*_TRAIN, "--steps", "6", "--out", str(run), "--resume"], extra)
    proc = cli(*argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(run) == before_run
    assert snapshot(other) == before_other
    register("train --resume", request.node.callspec.id, lines[0], tmp_path)


@pytest.mark.parametrize("argv, pattern", [
    (["--resume"], r"--resume needs --out, the folder of the run to continue"),
    (["--resume", "--out", "{tmp}/typo"],
     r"--resume: no run folder '.*/typo'; expected the --out folder of an earlier run"),
    (["--resume", "--out", "{tmp}"],
     r"--resume: nothing to resume in .*: no config\.json"),
])
def test_resume_without_a_run_is_an_error_and_creates_nothing(
    cli, tmp_path: Path, argv: list[str], pattern: str
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    for command in (["train", "--agent", "random", "--scenario", "video", "--steps", "3",
                     "--encoder", "hashing"], _BENCH):
        proc = cli(*command, *argv)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert re.search(pattern, proc.stderr), proc.stderr
        register(command[0], " ".join(a.replace(str(tmp_path), "TMP") for a in argv), proc.stderr,
                 tmp_path)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# train: what a resume and rotation may touch


def test_rotation_deletes_only_the_checkpoints_of_this_run(cli, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main([*_TRAIN, "--steps", "6", "--out", str(run)]) == 0  # leaves checkpoint-6.pt
    proc = cli(*_TRAIN, "--steps", "4", "--out", str(run), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    # the rerun wrote 2 then 4 and deleted its own 2; the earlier run's 6 is not its to delete
    assert sorted(p.name for p in run.glob("checkpoint-*.pt")) == ["checkpoint-4.pt",
                                                                   "checkpoint-6.pt"]
    assert json.loads((run / "checkpoint.json").read_text())["file"] == "checkpoint-4.pt"


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_at_step_0(
    cli, tmp_path: Path, trained: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for name in ("checkpoint.json", _CKPT, "eval.json", "learning_curve.png"):
        (run / name).unlink()  # a run killed at step 1 has its config and a log row only
    _log(run, lambda lines: lines.__delitem__(slice(2, None)))
    proc = cli(*_TRAIN, "--steps", "3", "--out", str(run))
    assert proc.returncode == 2 and "is not empty; use --overwrite" in proc.stderr
    proc = cli(*_TRAIN, "--steps", "3", "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert ("from step 0 (no checkpoint.json: the run stopped before its first checkpoint)"
            in proc.stderr)
    assert _steps_in_log(run) == [1, 2, 3]
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 3


def test_resume_ignores_the_checkpoint_of_an_earlier_run_in_the_folder(
    cli, tmp_path: Path, trained: Path
) -> None:
    # An --overwrite rerun stopped before its first checkpoint leaves its own config.json (a new
    # run id) beside the earlier run's checkpoint.json: resuming it must not load that agent.
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    _config(run, run_id="rerun")
    proc = cli(*_TRAIN, "--steps", "2", "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "from step 0 (checkpoint.json is an earlier run's" in proc.stderr
    assert _steps_in_log(run) == [1, 2]
    pointer = json.loads((run / "checkpoint.json").read_text())
    assert (pointer["step"], pointer["run_id"]) == (2, "rerun")
    assert (run / _CKPT).is_file()  # the earlier run's file is left alone


def test_a_crashed_resume_can_resume(cli, tmp_path: Path, trained: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    proc = cli(*_TRAIN, "--steps", "6", "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resuming linucb on video from step 4" in proc.stderr
    assert _steps_in_log(run) == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in run.glob("checkpoint-*.pt")) == ["checkpoint-6.pt"]


@pytest.mark.slow
def test_train_killed_before_its_first_checkpoint_resumes(cli, tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ["train", "--agent", "linucb", "--scenario", "video", "--encoder", "hashing",
            "--users", "4", "--steps", "1000000", "--log-every", "1",
            "--checkpoint-every", "1000000", "--eval-users", "4", "--eval-steps", "2",
            "--out", str(run)]
    code, _ = interrupt(argv, (run / "log.csv").exists, signal.SIGKILL)  # no checkpoint
    assert code == -signal.SIGKILL
    assert not (run / "checkpoint.json").exists() and (run / "config.json").is_file()
    steps = _steps_in_log(run)
    argv[argv.index("--steps") + 1] = "3"
    argv[argv.index("--checkpoint-every") + 1] = "2"
    proc = cli(*argv, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "from step 0" in proc.stderr and steps  # the killed run had logged steps 1..n
    assert _steps_in_log(run) == [1, 2, 3]


@pytest.mark.slow
def test_ctrl_c_leaves_valid_checkpoint_and_log(cli, tmp_path: Path) -> None:
    run = tmp_path / "t"
    argv = ["train", "--agent", "linucb", "--scenario", "video", "--encoder", "hashing",
            "--users", "4", "--steps", "1000000", "--log-every", "1", "--checkpoint-every",
            "1000000", "--eval-users", "4", "--eval-steps", "2", "--out", str(run)]
    # the first log row means the training loop is running
    code, stderr = interrupt(argv, (run / "log.csv").exists, signal.SIGINT)
    assert code == 130, stderr[-2000:]
    ckpt = json.loads((run / "checkpoint.json").read_text())
    assert ckpt["step"] > 0 and (run / ckpt["file"]).is_file()
    assert _steps_in_log(run)[-1] == ckpt["step"]
    argv[argv.index("--steps") + 1] = str(ckpt["step"] + 2)
    proc = cli(*argv, "--resume")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _steps_in_log(run)[-2:] == [ckpt["step"] + 1, ckpt["step"] + 2]


# ----------------------------------------------------------------------------------------------
# bench --resume


@pytest.fixture(scope="module")
def benched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "full"
    assert main([*_BENCH, "--out", str(out)]) == 0
    return out


def _comparable(results: dict) -> tuple:
    """What must not depend on an interruption: the tables and every run but its timings."""
    runs = [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in results["runs"]]
    return results["config"], results["summary"], runs, results["scenarios"]


def _run_file(run: Path, agent: str, seed: int) -> Path:
    return run / "runs" / f"video__{agent}__seed{seed}.json"


def test_bench_writes_each_run_as_it_finishes(benched: Path) -> None:
    names = sorted(p.name for p in (benched / "runs").iterdir())
    assert names == ["video__linucb__seed0.json", "video__linucb__seed1.json",
                     "video__random__seed0.json", "video__random__seed1.json"]
    run_id = json.loads((benched / "config.json").read_text())["run_id"]
    results = json.loads((benched / "results.json").read_text())
    for name, run in zip(sorted(names), sorted(results["runs"], key=lambda r: (r["agent"],
                                                                               r["seed"]))):
        data = json.loads((benched / "runs" / name).read_text())
        assert data["run_id"] == run_id and data["result"] == run
    assert results["resumed_runs"] == 0


def test_bench_resume_keeps_finished_runs_and_matches_an_uninterrupted_run(
    cli, tmp_path: Path, benched: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(benched, run)
    for name in ("results.json", "results.csv", "results.md"):
        (run / name).unlink()  # as a bench killed part-way leaves it
    _run_file(run, "linucb", 1).unlink()  # the run in progress
    _run_file(run, "random", 1).write_text('{"format": 1, "run_id": "')  # a damaged file
    kept = json.loads(_run_file(run, "linucb", 0).read_text())
    kept["result"]["eval_seconds"] = 12345.0  # marks the file: kept, not recomputed
    _run_file(run, "linucb", 0).write_text(json.dumps(kept))
    proc = cli(*_BENCH, "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert ("driftrec bench: redoing video/random/seed 1: " in proc.stderr
            and "video__random__seed1.json is not valid JSON" in proc.stderr)
    assert "resuming " in proc.stderr and ": 2 of 4 runs finished, 2 to do" in proc.stderr
    full = json.loads((benched / "results.json").read_text())
    resumed = json.loads((run / "results.json").read_text())
    assert _comparable(resumed) == _comparable(full)
    assert resumed["resumed_runs"] == 2
    assert next(r["eval_seconds"] for r in resumed["runs"] if r["agent"] == "linucb") == 12345.0
    assert (run / "results.md").read_text() == (benched / "results.md").read_text()


def test_bench_resume_redoes_files_of_another_run_or_shape(
    cli, tmp_path: Path, benched: Path, request: pytest.FixtureRequest
) -> None:
    run = tmp_path / "run"
    shutil.copytree(benched, run)
    edits = {
        ("random", 0): lambda d: d.update(run_id="an-earlier-run"),
        ("random", 1): lambda d: d["result"]["user_returns"].pop(),
        ("linucb", 0): lambda d: d["result"].update(seed=7),
        ("linucb", 1): lambda d: d["result"]["metrics"].update(ctr="high"),
    }
    for (agent, seed), edit in edits.items():
        data = json.loads(_run_file(run, agent, seed).read_text())
        edit(data)
        _run_file(run, agent, seed).write_text(json.dumps(data))
    proc = cli(*_BENCH, "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines()
             if line.startswith("driftrec bench: redoing")]
    expected = [r"random/seed 0: .*seed0\.json belongs to another run \(run_id 'an-earlier-run'",
                r"random/seed 1: .*seed1\.json: user_returns is not a list of 4 numbers",
                (r"linucb/seed 0: .*seed0\.json: result is for video/linucb/seed 7; expected "
                r"video/linucb/seed 0"),
                r"linucb/seed 1: .*seed1\.json: metrics are not the \d+ numbers"]
    assert len(notes) == 4
    for note, pattern in zip(sorted(notes, key=lambda n: ("random" not in n, n)), expected):
        assert re.search(pattern, note), note
        register("bench --resume (a run file, redone)", pattern.split(":")[0], note, tmp_path)
    resumed = json.loads((run / "results.json").read_text())
    assert _comparable(resumed) == _comparable(json.loads((benched / "results.json").read_text()))
    assert resumed["resumed_runs"] == 0


@pytest.mark.parametrize("mutate, extra, pattern", [
    (lambda run: None, ["--seeds", "3"],
     r"--resume: settings differ from the run in .*: seeds was \[0, 1\], now \[0, 1, 2\]"),
    (lambda run: None, ["--users", "5", "--encoder", "minilm"],
     r"settings differ .*: encoder was 'hashing', now 'minilm', users was 4, now 5"),
    (lambda run: (run / "config.json").unlink(), [], (r"nothing to resume in .*: no config\.json "
     r"\(expected the --out folder of an earlier `driftrec bench` run")),
    (lambda run: (run / "config.json").write_text('{"settings": {}}'), [],
     r"config\.json has no 'config' object; expected the config\.json of a `driftrec bench` run"),
    (lambda run: _config(run, run_id=None), [],
     r"config\.json has no run_id; expected the config\.json of a `driftrec bench` run"),
    (lambda run: (run / "config.json").write_bytes(b"\x00\xff"), [],
     r"config\.json is not UTF-8 text \(byte 1\)"),
    (lambda run: None, ["--overwrite"], r"--resume and --overwrite contradict each other"),
    (lambda run: (shutil.rmtree(run / "runs"), (run / "runs").symlink_to(run.parent)), [],
     r"run/runs resolves to .*, outside the run folder .*run; expected a folder inside it"),
], ids=["other seeds", "other users and encoder", "no config.json", "a train run's config",
        "no run_id", "config.json not UTF-8", "with --overwrite", "runs/ a link out"])
def test_bench_resume_bad_folder_is_an_error_and_changes_nothing(
    cli, tmp_path: Path, benched: Path, request: pytest.FixtureRequest,
    mutate: Callable[[Path], None], extra: list[str], pattern: str
) -> None:
    run = tmp_path / "run"
    shutil.copytree(benched, run)
    mutate(run)
    before = snapshot(run)
    proc = cli(*with_flags(_BENCH, extra), "--out", str(run), "--resume")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert re.search(pattern, proc.stderr), proc.stderr
    assert snapshot(run) == before
    register("bench --resume", request.node.callspec.id, proc.stderr, tmp_path)


@pytest.mark.slow
def test_bench_interrupted_part_way_resumes_to_the_same_results(cli, tmp_path: Path) -> None:
    argv = [*_BENCH, "--seeds", "6", "--users", "8", "--steps", "12"]
    run = tmp_path / "run"
    code, stderr = interrupt([*argv, "--out", str(run)],
                             lambda: any((run / "runs").glob("*.json")), signal.SIGINT)
    assert code == 130, stderr[-2000:]
    assert "finished runs are kept in" in stderr and "--resume" in stderr
    assert not (run / "results.json").exists()
    finished = len(list((run / "runs").glob("*.json")))
    assert 1 <= finished < 12
    proc = cli(*argv, "--out", str(run), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert f"{finished} of 12 runs finished" in proc.stderr
    full = tmp_path / "full"
    assert main([*argv, "--out", str(full)]) == 0
    assert (_comparable(json.loads((run / "results.json").read_text()))
            == _comparable(json.loads((full / "results.json").read_text())))
