"""The fidelity benchmark runs end to end on every data set format its loaders read (ml-100k,
ml-latest, Amazon Reviews 2023, MIND), on tiny fixtures: same split, every model scored on the
same held-out events."""

from __future__ import annotations

import json

import pytest
from driftrec.benchmarks import fidelity


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-latest", "amazon", "mind"])
def test_fidelity_runs_on_each_data_set_format(tmp_path, real_format, fmt) -> None:
    name, root = real_format(fmt, tmp_path / fmt)
    out = tmp_path / "f.json"
    assert fidelity.main(["--dataset", name, "--data-dir", str(root), "--encoder", "hashing",
                          "--dim", "6", "--max-epochs", "1", "--skip-raw", "--skip-cold",
                          "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    # 10 users × 12 events: held-out 3, validation 2 (half of the 4 held-in), 2 fitted.
    assert record["events"] == {"train": 20, "valid": 20, "heldout": 30}
    assert {m["events"] for m in record["report"].values()} == {30}
    assert record["dataset"]["name"] == name
