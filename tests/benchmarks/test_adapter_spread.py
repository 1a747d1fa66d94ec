"""``benchmarks/adapter_spread.py``: the adapter fit with the per-user spread, end to end on a
tiny MovieLens file (hashing encoder), scored on the calibration split's held-out events."""

from __future__ import annotations

import json

from driftrec.benchmarks import adapter_spread


def test_the_spread_check_fits_sigma_and_scores_the_held_out_events(
    tmp_path, movielens_files, hashing_encoder
) -> None:
    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    out = tmp_path / "s.json"
    assert adapter_spread.main(["--data-dir", str(root), "--encoder", "hashing", "--dim", "6",
                                "--max-epochs", "1", "--spread", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["held_out"]["events"] == 24
    assert record["parameters"]["interest_spread"] > 0
    assert record["config"]["fit_spread"] is True
    assert record["config"]["quadrature"] == 9
