"""The fidelity benchmark scores every model on the same held-out events of the calibration split,
and its popularity row is the calibration's own popularity baseline."""

from __future__ import annotations

import json

import pytest
from driftrec.benchmarks import fidelity
from driftrec.envs import calibration as cal
from driftrec.envs.sources.datasets import load_dataset


def test_every_model_is_scored_on_the_calibration_splits_held_out_events(
    tmp_path, movielens_files, hashing_encoder
) -> None:
    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    out = tmp_path / "f.json"
    args = ["--data-dir", str(root), "--encoder", "hashing", "--dim", "6", "--max-epochs", "1",
            "--cold-epochs", "1", "--skip-raw", "--out", str(out)]
    assert fidelity.main(args) == 0
    record = json.loads(out.read_text())
    assert record["events"] == {"train": 24, "valid": 12, "heldout": 24}
    assert {m["events"] for m in record["report"].values()} == {24}
    reference = cal.calibrate(load_dataset("movielens", root), hashing_encoder,
                              config=cal.CalibrationConfig(max_iter=1, progress=False))
    for key in ("hit@10", "ndcg@10", "loglik"):
        assert record["report"]["popularity"][key] == pytest.approx(
            reference.report["popularity"][key], abs=1e-5)
