"""Same-second events: a file's row order inside one timestamp never becomes a signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftrec.envs import calibration as cal
from driftrec.envs.sources.datasets import load_dataset
from driftrec.envs.sources.datasets.base import InteractionBuilder

USERS, SECONDS, PER_SECOND, ITEMS = 10, 4, 3, 20


def _rows(seed: int) -> list[tuple[int, int, int, int]]:
    """(user, item, rating, time): every user rates 3 distinct items in each of 4 seconds."""
    gen = np.random.default_rng(seed)
    rows = []
    for u in range(1, USERS + 1):
        items = gen.choice(np.arange(1, ITEMS + 1), size=SECONDS * PER_SECOND, replace=False)
        for k, j in enumerate(items):
            rows.append((u, int(j), int(gen.integers(1, 6)), 880000000 + 60 * (k // PER_SECOND)))
    return rows


def _write(root: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    (root / "u.data").write_text("".join(f"{u}\t{j}\t{r}\t{t}\n" for u, j, r, t in rows),
                                 encoding="latin-1")
    return root


@pytest.fixture()
def two_orders(tmp_path: Path, movielens_files) -> tuple[Path, Path]:
    """The same log twice: same-second rows sorted by item id (as ml-latest ships them), and the
    whole file shuffled."""
    rows = _rows(0)
    by_item = sorted(rows, key=lambda r: (r[0], r[3], r[1]))
    shuffled = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    a = _write(movielens_files.write_100k(tmp_path / "a", USERS, ITEMS), by_item)
    b = _write(movielens_files.write_100k(tmp_path / "b", USERS, ITEMS), shuffled)
    return a, b


def test_same_second_order_does_not_depend_on_the_files_row_order(two_orders) -> None:
    a, b = (load_dataset("movielens", root).interactions for root in two_orders)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(a.ratings, b.ratings)
    # ...and it is not the item-id order the first file was written in: for some user and second
    # the items are not ascending.
    ascending = []
    for u in range(len(a.user_ids)):
        seq = a.sequence(u)
        for t in np.unique(seq.timestamps):
            ids = seq.items[seq.timestamps == t]
            ascending.append(bool(np.all(np.diff(ids) > 0)))
    assert len(ascending) == USERS * SECONDS and not all(ascending)


def test_calibration_and_its_metrics_are_the_same_for_both_orders(two_orders,
                                                                    hashing_encoder) -> None:
    config = cal.CalibrationConfig(max_iter=2, progress=False)
    reports = [cal.calibrate(load_dataset("movielens", root), hashing_encoder, config=config)
               for root in two_orders]
    assert reports[0].report == reports[1].report
    assert reports[0].parameters == reports[1].parameters
    assert {"hit@10", "ndcg@10", "mrr", "loglik", "events"} <= set(reports[0].report["calibrated"])


def test_tie_seed_reorders_only_same_second_events() -> None:
    def build(seed: int) -> np.ndarray:
        builder = InteractionBuilder()
        for j in range(8):
            builder.add("u1", j, 100 + j // 4, 1.0)  # two seconds, four items each
        return builder.build([f"m{j}" for j in range(8)], tie_seed=seed).items

    orders = {tuple(build(seed)) for seed in range(6)}
    assert len(orders) > 1  # the seed changes the order inside a second ...
    for order in orders:  # ... never across seconds
        assert set(order[:4]) == {0, 1, 2, 3} and set(order[4:]) == {4, 5, 6, 7}
    assert tuple(build(3)) == tuple(build(3))


@pytest.mark.parametrize("seed", [-1, 1.5, True, 2**512])
def test_bad_tie_seed_is_a_clear_error(seed) -> None:
    builder = InteractionBuilder()
    builder.add("u1", 0, 1, 1.0)
    with pytest.raises(ValueError, match="tie_seed must be"):
        builder.build(["m0"], tie_seed=seed)
