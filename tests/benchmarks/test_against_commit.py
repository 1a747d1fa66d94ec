"""The against-a-commit benchmark (benchmarks/against_commit.py): its argument errors, the
commit's tree extracted without touching the repository, and one tiny run of this checkout
against its own HEAD (the figures live in benchmarks/results/against_commit.json, never in
assertions)."""

import json
import math
import re
import subprocess
import tempfile

import pytest
from driftrec.benchmarks.against_commit import REPO, extract_tree, main


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@pytest.fixture(scope="module")
def head() -> str:
    try:
        return _git("rev-parse", "HEAD").strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the checkout is not a git repository (the benchmark needs its history)")


BAD_ARGUMENTS = [
    (["--commit", "no-such-commit"], r"--commit no-such-commit: not a commit of the repository"),
    (["--commit", "HEAD", "--repeats", "0"], r"--repeats=0: expected a positive number"),
    (["--commit", "HEAD", "--budget-s", "nan"], r"--budget-s=nan: expected a positive number"),
    (["--commit", "HEAD", "--batches", "0"], r"'0' is not a list of batch sizes"),
    (["--commit", "HEAD", "--backends", "fast-lean"],
     (r"unknown name\(s\) \['fast-lean'\] in 'fast-lean'; expected a comma list of fast, "
      r"fast-blas, fast-gram, torch")),
    (["--commit", "HEAD", "--output", "/no/such/folder/x.json"],
     r"--output /no/such/folder/x\.json: folder /no/such/folder does not exist"),
    ([], r"the following arguments are required: --commit"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS]
)
def test_bad_arguments_exit_with_a_message_naming_the_value(argv, message, capsys, head):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_the_tree_is_the_commits_files_and_the_repository_is_left_alone(tmp_path, head):
    status = _git("status", "--porcelain")
    worktrees = _git("worktree", "list")
    root = extract_tree(head, tmp_path)
    assert root == tmp_path
    assert (tmp_path / "driftrec" / "pyproject.toml").read_text() == _git(
        "show", f"{head}:pyproject.toml"
    )
    assert (tmp_path / "driftrec" / "envs" / "__init__.py").is_file()
    assert _git("status", "--porcelain") == status
    assert _git("worktree", "list") == worktrees


@pytest.mark.slow
def test_a_tiny_run_against_head_writes_paired_figures_and_no_tree_remains(
    tmp_path, monkeypatch, head
):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "against.json"
    argv = ["--commit", "HEAD", "--batches", "2", "--repeats", "2", "--budget-s", "0.05",
            "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["commit"] == head
    assert result["command"].endswith(" ".join(argv))
    sides = [(r["side"], r["backend"], r["B"]) for r in result["rows"]]
    assert sides == [("commit", "default", 2), ("checkout", "torch", 2)]
    ours = result["rows"][1]
    assert math.isfinite(ours["speedup_cpu"]) and ours["speedup_cpu"] > 0
    assert all(r["cpu_per_s"] > 0 for r in result["rows"])
    assert list(scratch.iterdir()) == []  # the extracted tree went with its temporary folder
