"""The SASRec reference: trained on held-in events only (bit-identical weights when held-out events
change), blind to the file order of same-second events, scored on exactly the fidelity
benchmark's held-out events and candidates, learnable, and runnable on every data set format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from driftrec.benchmarks import fidelity, sasrec
from driftrec.envs.calibration import EVAL
from driftrec.envs.sources.datasets import load_dataset

TINY = sasrec.SASRecConfig(dim=8, layers=1, heads=2, max_len=6, batch_size=4, max_epochs=2,
                           patience=1, progress=False)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(name: str, root: Path) -> sasrec.SequenceData:
    dataset = load_dataset(name, root)
    return sasrec.sequence_data(sasrec.split_log(dataset, TINY.valid_steps), len(dataset.items))


def _fit(data: sasrec.SequenceData, cfg: sasrec.SASRecConfig = TINY) -> sasrec.SASRecFit:
    return sasrec.fit_sasrec(data, cfg)


def _same_weights(a: sasrec.SASRecFit, b: sasrec.SASRecFit) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_weights_are_bit_identical_when_every_heldout_event_changes(tmp_path, real_format) -> None:
    name, root = real_format("ml-100k", tmp_path / "a")
    data = _data(name, root)
    # 12 events a user: init 5 (min_init), held-out ceil(0.2·12) = 3, held-in 4 of which the
    # last 2 (half of held-in, below valid_steps 5) are the validation slice.
    assert (len(data.heldout), len(data.valid)) == (30, 20)
    changed = sasrec.SequenceData(
        sequences=[s.copy() for s in data.sequences], train_end=data.train_end,
        valid=data.valid, heldout=data.heldout, num_items=data.num_items, mask_seen=True)
    for b, p in zip(data.heldout.user, data.heldout.pos):
        changed.sequences[b][p] = (changed.sequences[b][p] + 7) % data.num_items
    first, second = _fit(data), _fit(changed)
    assert _same_weights(first, second) and first.history == second.history
    # ... while the held-out score does see the change (the perturbation was real).
    assert (sasrec.score_events(first.model, data, data.heldout)["loglik"]
            != sasrec.score_events(second.model, changed, changed.heldout)["loglik"])


def test_heldout_perturbed_in_the_files_gives_the_same_fit(tmp_path, real_format) -> None:
    _, root = real_format("ml-100k", tmp_path / "a")
    lines = (root / "u.data").read_text().splitlines()
    # The last 3 rows of each user (12 rows a user, time order) are their held-out tail.
    edited = [ln if k % 12 < 9 else "\t".join([ln.split("\t")[0], "16", "1", ln.split("\t")[3]])
              for k, ln in enumerate(lines)]
    other = tmp_path / "b"
    other.mkdir()
    for f in ("u.item", "u.user", "u.genre"):
        (other / f).write_bytes((root / f).read_bytes())
    (other / "u.data").write_text("\n".join(edited) + "\n")
    assert _same_weights(_fit(_data("movielens", root)), _fit(_data("movielens", other)))


def test_same_second_file_order_changes_nothing(tmp_path, real_format) -> None:
    """ml-latest lists same-second rows by movieId; written in the reverse order, the loader's
    hash order, the weights and the held-out scores are identical."""
    name, sorted_root = real_format("ml-latest", tmp_path / "a", tie_pairs=True)
    _, reversed_root = real_format("ml-latest", tmp_path / "b", tie_pairs=True,
                                   item_sorted_ties=False)
    a, b = _data(name, sorted_root), _data(name, reversed_root)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    # The within-second order is not the item-id order for every pair (it carries no signal).
    pairs = [s[i : i + 2] for s in a.sequences for i in range(0, len(s) - 1, 2)]
    assert 0 < sum(int(p[0] < p[1]) for p in pairs) < len(pairs)
    fa, fb = _fit(a), _fit(b)
    assert _same_weights(fa, fb)
    assert (sasrec.score_events(fa.model, a, a.heldout)
            == sasrec.score_events(fb.model, b, b.heldout))


def test_heldout_events_and_candidates_are_the_fidelity_benchmarks(tmp_path, real_format,
                                                                   hashing_encoder) -> None:
    from driftrec.envs.calibration import AdapterConfig, sequence_log
    from driftrec.envs.sources.datasets import build_setup

    name, root = real_format("ml-100k", tmp_path / "a")
    log = sequence_log(build_setup(load_dataset(name, root), hashing_encoder), AdapterConfig())
    data = sasrec.sequence_data(log, 16)
    _, target, avail = fidelity.events(log, EVAL)
    mine = torch.tensor([data.sequences[b][p] for b, p in zip(data.heldout.user,
                                                            data.heldout.pos)])
    assert torch.equal(mine, target)
    assert torch.equal(~sasrec._seen_mask(data, data.heldout.user, data.heldout.pos), avail)


def test_learns_the_successor_that_popularity_cannot(tmp_path, real_format) -> None:
    """Every user walks the catalog j → j + 1: after training, the next item is ranked first
    for most held-out events (popularity's hit@10 over 16 - 9 candidates would be ~chance)."""
    name, root = real_format("ml-100k", tmp_path / "a", users=16)
    cfg = sasrec.SASRecConfig(dim=16, layers=1, heads=1, max_len=8, batch_size=4, dropout=0.0,
                              learning_rate=0.01, max_epochs=40, patience=40, progress=False)
    data = _data(name, root)
    fit = _fit(data, cfg)
    scores = sasrec.score_events(fit.model, data, data.heldout)
    assert scores["mrr"] > 0.9 and scores["events"] == 48


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-latest", "amazon", "mind"])
def test_cli_runs_on_each_data_set_format(tmp_path, real_format, fmt) -> None:
    name, root = real_format(fmt, tmp_path / fmt)
    out = tmp_path / "s.json"
    assert sasrec.main(["--dataset", name, "--data-dir", str(root), "--dim", "8", "--layers",
                        "1", "--max-len", "6", "--max-epochs", "1", "--no-progress",
                        "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    # 10 users × 12 events: 10 × (12 − 3 held-out − 2 validation − 1 first item) targets.
    assert record["events"] == {"train": 60, "valid": 20, "heldout": 30}
    assert record["report"]["SASRec"]["events"] == 30
    assert record["candidates"] == "catalog minus consumed items"
    assert record["dataset"]["name"] == name and record["best_epoch"] == 1
