"""The soak benchmark on a tiny run (its full figures live in benchmarks/results/soak.json)."""

import json
import re

import numpy as np
import pytest
from driftrec.benchmarks.soak import count_nonfinite_arrays, main, random_slates


def test_tiny_soak_writes_its_figures_and_configuration(tmp_path):
    out = tmp_path / "soak.json"
    argv = ["--users", "8", "--steps", "20", "--encoder", "hashing", "--output", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "soak"
    assert result["config"]["users"] == 8 and result["config"]["steps"] == 20
    figures = result["results"]
    assert figures["user_steps"] == 160
    assert figures["nonfinite"] == {
        "reward": 0, "observation": 0, "info": 0, "state": 0, "total": 0
    }  # fmt: skip
    assert figures["first_nonfinite_step"] is None
    samples = [s["step"] for s in figures["rss_mb"]["samples"]]
    assert samples == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # after step 1, then every 10%
    assert figures["rss_mb"]["start"] > 0 and figures["rss_mb"]["end"] > 0
    assert "git_commit" in result["environment"]
    assert not list(tmp_path.glob(".soak.json.*"))  # written atomically: no temp file left


def test_nonfinite_values_are_counted_in_float_arrays_only():
    arrays = {
        "a": np.array([1.0, np.nan, np.inf, -np.inf], dtype=np.float32),
        "b": np.array([1, 2]),
        "c": np.array([None], dtype=object),
        "d": np.array([[np.nan]]),
    }
    assert count_nonfinite_arrays(arrays) == 4
    assert count_nonfinite_arrays(arrays, skip=("d",)) == 3


def test_random_slates_are_distinct_positions_and_seeded():
    slates = random_slates(np.random.default_rng(3), 50, 20, 5)
    assert slates.shape == (50, 5) and slates.dtype == np.int64
    assert all(len(set(row)) == 5 for row in slates.tolist())
    assert slates.min() >= 0 and slates.max() < 20
    assert np.array_equal(slates, random_slates(np.random.default_rng(3), 50, 20, 5))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "0"], r"argument --users: expected a positive integer, got 0"),
        (["--users", "-5"], r"argument --users: expected a positive integer, got -5"),
        (["--users", "many"], r"argument --users: expected a positive integer, got many"),
        (["--steps", "0"], r"argument --steps: expected a positive integer, got 0"),
        (["--threads", "0"], r"argument --threads: expected a positive integer, got 0"),
        (["--seed", "-1"], r"--seed must be >= 0, got -1"),
        (["--seed", "1.5"], r"argument --seed: invalid int value: '1.5'"),
    ],
)
def test_bad_arguments_exit_with_a_message_naming_them(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
