"""The ``driftrec`` command run in this process, for the CLI tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from driftrec.cli.main import main


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., subprocess.CompletedProcess]:
    """``cli(*args)``: ``main(args)`` in this process — the console script's own function,
    without paying a Python + torch start-up per call — as a ``CompletedProcess`` (exit status,
    stdout, stderr)."""

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's --help / errors exit
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return run


@pytest.fixture
def one_line_error() -> Callable[[subprocess.CompletedProcess, str], None]:
    """``one_line_error(proc, needle)``: the command failed with one line on stderr, no
    traceback, and that line holds ``needle``."""

    def check(proc: subprocess.CompletedProcess, needle: str) -> None:
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert needle in lines[0], lines[0]

    return check
