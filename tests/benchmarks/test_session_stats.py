"""Generated sessions vs logs: the log side's sessions and statistics on hand-checked cases, the
distances on known distributions, and the program end to end on every data set format."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from driftrec.benchmarks import session_stats as ss
from driftrec.envs.sources.datasets import load_dataset, split_sequences


def test_log_sessions_start_in_the_heldout_tail_and_cut_at_the_gap(tmp_path, real_format) -> None:
    name, root = real_format("ml-100k", tmp_path / "a", users=2, length=12)
    dataset = load_dataset(name, root)
    setup = SimpleNamespace(dataset=dataset, split=split_sequences(dataset))
    # Events are 1000 s apart: a 10-minute gap cuts between every pair, so each held-out event
    # (the last 3 of 12) is a one-item session; with a 20-minute gap the whole log is one
    # session that starts in the init part, so no held-out session at all.
    assert [len(s) for s in ss.log_sessions(setup, 600.0)] == [1, 1, 1, 1, 1, 1]
    assert ss.log_sessions(setup, 1200.0) == []
    # user 1 walks j = 3·1 + k: its held-out items are k = 9, 10, 11 → 12, 13, 14
    assert [int(s[0]) for s in ss.log_sessions(setup, 600.0)[:3]] == [12, 13, 14]
    with pytest.raises(ValueError, match=r"the session gap must be > 0 seconds, got 0.0"):
        ss.log_sessions(setup, 0.0)


def test_repeat_rates_count_consecutive_pairs_inside_sessions() -> None:
    category = np.array([0, 0, 1, 1])
    tags = [frozenset({"a"}), frozenset({"b"}), frozenset({"b", "c"}), frozenset({"c"})]
    # pairs (0,1) same category, no tag; (1,2) other category, tag b; (2,3) same, tag c;
    # the second session's lone item makes no pair.
    rates = ss.repeat_rates([np.array([0, 1, 2, 3]), np.array([2])], category, tags)
    assert rates == {"pairs": 3, "same_category": 2 / 3, "shared_tag": 2 / 3}


def test_popularity_deciles_and_percentiles() -> None:
    counts = np.array([5.0, 0.0, 9.0, 9.0, 1.0, 3.0, 2.0, 7.0, 4.0, 6.0])
    assert ss.popularity_deciles(counts).tolist() == [4, 9, 0, 1, 8, 6, 7, 2, 5, 3]
    assert ss.popularity_percentile(counts).tolist() == [0.5, 0.0, 0.8, 0.8, 0.1, 0.3, 0.2, 0.7,
                                                         0.4, 0.6]


def test_ks_distance_on_known_samples() -> None:
    assert ss.ks_distance(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert ss.ks_distance(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    # F_a(1) = 1/2, F_b(1) = 0 → 1/2; elsewhere the gap is at most 1/2
    assert ss.ks_distance(np.array([1.0, 3.0]), np.array([2.0, 3.0])) == 0.5
    assert np.isnan(ss.ks_distance(np.array([]), np.array([1.0])))


def test_length_summary() -> None:
    summary = ss.length_summary([np.array([1]), np.array([1, 2, 3]), np.array([], dtype=int)])
    assert summary["sessions"] == 3 and summary["mean"] == pytest.approx(4 / 3)
    assert (summary["q50"], summary["share_one_item"], summary["share_empty"]) == (1.0, 1 / 3,
                                                                                   1 / 3)


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-latest", "amazon", "mind"])
def test_program_runs_on_each_data_set_format(tmp_path, real_format, fmt) -> None:
    name, root = real_format(fmt, tmp_path / fmt, items=40)
    out = tmp_path / "s.json"
    assert ss.main(["--dataset", name, "--data-dir", str(root), "--encoder", "hashing",
                    "--users", "6", "--gap-minutes", "10", "--policy", "popular", "--policy",
                    "random", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    log = record["log_heldout"]
    # 10 users × 3 held-out events, each its own session (events 1000 s apart, gap 10 min);
    # MIND's history items are 1 s apart but all lie before the held-out tail.
    assert log["length"]["sessions"] == 30 and log["consumed"] == 30
    assert log["repeat"]["pairs"] == 0
    assert sum(log["popularity_decile_share"]) == pytest.approx(1.0, abs=1e-4)
    assert list(record["generated"]) == ["defaults"] and record["calibration"] is None
    for policy in ("popular", "random"):
        gen = record["generated"]["defaults"][policy]
        assert gen["rollout"]["slots"] == 6 and gen["length"]["sessions"] == 6
        assert gen["rollout"]["left"] + gen["rollout"]["truncated_or_unfinished"] == 6
        assert 0.0 <= gen["distance_to_log"]["popularity_decile_tv"] <= 1.0
        assert gen["distance_to_log"]["same_category_diff"] is None  # the log has no pairs


def test_a_calibration_file_runs_beside_the_preset(tmp_path, real_format) -> None:
    from driftrec.cli.main import main as driftrec

    name, root = real_format("ml-100k", tmp_path / "ml", items=40)
    cal = tmp_path / "cal.json"
    assert driftrec(["calibrate", "--dataset", name, "--data-dir", str(root), "--encoder",
                     "hashing", "--out", str(cal), "--adapter-dim", "4"]) == 0
    out = tmp_path / "s.json"
    assert ss.main(["--data-dir", str(root), "--encoder", "hashing", "--users", "4",
                    "--calibration", str(cal), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert list(record["generated"]) == ["calibrated", "defaults"]
    assert record["calibration"]["parameters"] == json.loads(cal.read_text())["parameters"]
    calibrated, preset = (record["generated"][k]["popular"] for k in ("calibrated", "defaults"))
    assert calibrated["length"]["sessions"] == preset["length"]["sessions"] == 4
