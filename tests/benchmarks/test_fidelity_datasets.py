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


def test_fidelity_picks_the_amazon_category(tmp_path, real_format) -> None:
    """A folder with two categories' files needs --category; with it, that category loads."""
    _, root = real_format("amazon", tmp_path / "amazon")
    for kind in ("", "meta_"):
        (root / f"{kind}Toys.jsonl").write_text((root / f"{kind}All_Beauty.jsonl").read_text())
    out = tmp_path / "f.json"
    assert fidelity.main(["--dataset", "amazon", "--data-dir", str(root), "--category", "Toys",
                          "--encoder", "hashing", "--dim", "6", "--max-epochs", "1",
                          "--skip-raw", "--skip-cold", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["dataset"]["files"] == [str(root / "Toys.jsonl"),
                                                              str(root / "meta_Toys.jsonl")]
