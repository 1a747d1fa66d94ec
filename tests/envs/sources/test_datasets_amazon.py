"""Amazon Reviews 2023 loader on small JSONL fixtures with the release's field names."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from driftrec.envs.sources.datasets import (
    DatasetFileNotFoundError,
    DatasetFormatError,
    load_dataset,
)

META = [
    {"main_category": "All Beauty", "title": "Rose Face Oil", "average_rating": 4.5,
     "rating_number": 10, "features": ["Cold pressed", "50 ml"], "description": ["A light oil."],
     "price": 18.5, "images": [], "videos": [], "store": "Acme",
     "categories": ["Beauty", "Skin Care", "Oils"], "details": {}, "parent_asin": "B001"},
    {"main_category": "All Beauty", "title": "Clay Mask", "features": [], "description": [],
     "price": None, "categories": [], "parent_asin": "B002"},
    {"main_category": "All Beauty", "title": "Hair Brush", "features": ["Boar bristle"],
     "description": ["Wooden handle.", "Made by hand."], "price": "—", "categories": [],
     "parent_asin": "B003"},
]


def review(user: str, item: str, rating: float, ts: int) -> dict:
    return {"rating": rating, "title": "ok", "text": "fine", "images": [], "asin": item + "x",
            "parent_asin": item, "user_id": user, "timestamp": ts, "helpful_vote": 0,
            "verified_purchase": True}


REVIEWS = [review("AU1", "B002", 4.0, 1588687729000), review("AU1", "B001", 5.0, 1588687728000),
           review("AU2", "B003", 1.0, 1600000000000)]


def write_jsonl(path: Path, rows: list) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_amazon(root: Path, category: str = "All_Beauty") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / f"meta_{category}.jsonl", META)
    write_jsonl(root / f"{category}.jsonl", REVIEWS)
    return root


def test_amazon_items_text_category_price_and_sequences(tmp_path: Path) -> None:
    d = load_dataset("amazon", write_amazon(tmp_path))
    assert (d.domain, d.items.ids, d.interactions.user_ids) == ("shopping", ("B001", "B002", "B003"),
                                                                ("AU1", "AU2"))
    assert d.items.descriptions[0] == "Features: Cold pressed; 50 ml. A light oil."
    assert d.items.descriptions[2] == "Features: Boar bristle. Wooden handle. Made by hand."
    assert d.items.categories == ("Skin Care", "All Beauty", "All Beauty")
    np.testing.assert_array_equal(np.isnan(d.items.cost), [False, True, True])  # "—" = unknown
    assert float(d.items.cost[0]) == pytest.approx(18.5)
    seq = d.interactions.sequence(0)
    assert seq.items.tolist() == [0, 1] and seq.ratings.tolist() == [5.0, 4.0]  # time order
    assert seq.timestamps.tolist() == [1588687728, 1588687729]  # ms → s


def test_amazon_reads_gzip_and_picks_category(tmp_path: Path) -> None:
    write_amazon(tmp_path, "Books")
    write_amazon(tmp_path, "Toys")
    with pytest.raises(DatasetFormatError, match=r"several metadata files.*category="):
        load_dataset("amazon", tmp_path)
    gz = tmp_path / "gz"
    gz.mkdir()
    for name in ("meta_Toys.jsonl", "Toys.jsonl"):
        with gzip.open(gz / (name + ".gz"), "wb") as f:
            f.write((tmp_path / name).read_bytes())
    assert len(load_dataset("amazon", gz, category="Toys").items) == 3


@pytest.mark.parametrize(
    "rows, match",
    [
        ([review("A", "B999", 4.0, 1)], (r"Beauty\.jsonl, line 1: parent_asin 'B999' is not in "
         r"meta_All_Beauty\.jsonl")),
        ([review("A", "B001", 6.0, 1)], (r"line 1: rating 6 is out of range; expected a rating in "
         r"\[1, 5\]")),
        ([{"user_id": "A", "parent_asin": "B001", "timestamp": 1}], (r"line 1: missing field "
         r"'rating'")),
        ([], r"All_Beauty\.jsonl, line 1: file has no data rows"),
    ],
)
def test_amazon_bad_reviews(tmp_path: Path, rows: list, match: str) -> None:
    write_amazon(tmp_path)
    write_jsonl(tmp_path / "All_Beauty.jsonl", rows)
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("amazon", tmp_path)


def test_amazon_bad_json_and_tsv_instead_of_jsonl(tmp_path: Path) -> None:
    write_amazon(tmp_path)
    (tmp_path / "meta_All_Beauty.jsonl").write_text('{"parent_asin": "B1"}\nB2\tTitle\n')
    with pytest.raises(DatasetFormatError, match=r"meta_All_Beauty\.jsonl, line 2: invalid JSON"):
        load_dataset("amazon", tmp_path)


def test_amazon_missing_reviews_file(tmp_path: Path) -> None:
    write_amazon(tmp_path)
    (tmp_path / "All_Beauty.jsonl").unlink()
    with pytest.raises(DatasetFileNotFoundError, match=r"All_Beauty\.jsonl: file not found: the "
                       r"Amazon Reviews 2023 format expects its reviews file"):
        load_dataset("amazon", tmp_path)


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("All_Beauty.jsonl", '{"rating": 4.0, "title": "caf\xe9"}\n'.encode("latin-1"),
         r"All_Beauty\.jsonl, line 1: cannot decode bytes as utf-8 .*utf-8-encoded text file"),
        ("meta_All_Beauty.jsonl", b"",
         (r"meta_All_Beauty\.jsonl, line 1: file has no data rows; expected one JSON object per "
          r"item with 'parent_asin'")),
        ("meta_All_Beauty.jsonl", (json.dumps({"title": "Rose Face Oil"}) + "\n").encode(),
         r"meta_All_Beauty\.jsonl, line 1: missing field 'parent_asin'"),
    ],
    ids=["latin-1-reviews", "empty-meta", "meta-without-parent_asin"],
)
def test_amazon_bad_encoding_and_meta(tmp_path: Path, name: str, content: bytes,
                                      match: str) -> None:
    write_amazon(tmp_path)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("amazon", tmp_path)
