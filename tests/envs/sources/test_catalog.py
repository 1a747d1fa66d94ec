"""Tests for envs/sources/catalog.py and the built-in generator (envs/sources/builtin/)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from driftrec.envs.sources.builtin import DOMAINS, generate_records
from driftrec.envs.sources.catalog import Catalog, CatalogRecordError, load_catalog

RECORDS = [
    {"id": "a", "title": "Lemon Garlic Chicken in One Pan", "description": "A weeknight recipe.",
     "category": "cooking", "tags": ["recipe", "dinner"], "quality": 0.8, "cost": 12.5},
    {"id": "b", "title": "Full Body HIIT", "description": "Twenty minutes, no equipment.",
     "category": "fitness", "tags": ["workout"], "quality": 0.3, "cost": 20.0},
    {"id": "c", "title": "Black Holes Explained", "description": "",
     "category": "science", "tags": [], "quality": 0.55, "cost": 9.0},
]


@pytest.fixture(scope="module")
def catalogs(hashing_encoder) -> dict[str, Catalog]:
    return {d: load_catalog(d, encoder=hashing_encoder) for d in DOMAINS}


def _rank(x: np.ndarray) -> np.ndarray:
    out = np.empty(len(x))
    out[np.argsort(x)] = np.arange(len(x))
    return out


# ---------------------------------------------------------------- built-in catalog


def test_generator_is_deterministic_for_a_seed() -> None:
    first, cats_first = generate_records("video", seed=3, num_items=300)
    second, cats_second = generate_records("video", seed=3, num_items=300)
    other, _ = generate_records("video", seed=4, num_items=300)
    assert first == second
    assert cats_first == cats_second
    assert [r["title"] for r in first] != [r["title"] for r in other]


def test_load_catalog_twice_gives_identical_arrays(hashing_encoder) -> None:
    a = load_catalog("news", encoder=hashing_encoder)
    b = load_catalog("news", encoder=hashing_encoder)
    assert a.ids == b.ids and a.texts == b.texts
    for name in ("category_ids", "quality", "appeal", "clickbait", "cost", "popularity",
                 "embeddings"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("domain", DOMAINS)
def test_builtin_catalog_schema(catalogs: dict[str, Catalog], domain: str) -> None:
    cat = catalogs[domain]
    m = len(cat)
    assert cat.domain == domain
    assert m >= 1000
    assert len(cat.categories) >= 12
    assert len(set(cat.ids)) == m
    for name in ("titles", "descriptions", "texts", "tags"):
        assert len(getattr(cat, name)) == m
    assert cat.category_ids.dtype == np.int64 and cat.category_ids.shape == (m,)
    assert set(np.unique(cat.category_ids)) == set(range(len(cat.categories)))
    for name in ("quality", "appeal", "cost", "popularity"):
        assert getattr(cat, name).dtype == np.float32 and getattr(cat, name).shape == (m,)
    assert cat.clickbait.dtype == np.bool_
    assert cat.embeddings.dtype == np.float32 and cat.embeddings.shape == (m, 64)
    np.testing.assert_allclose(np.linalg.norm(cat.embeddings, axis=1), 1.0, atol=1e-5)
    assert cat.quality.min() >= 0 and cat.quality.max() <= 1
    assert cat.appeal.min() >= 0 and cat.appeal.max() <= 1
    assert cat.cost.min() > 0
    assert cat.popularity.min() > 0 and cat.popularity.max() == 1.0
    assert cat.encoder_name.startswith("hashing")


@pytest.mark.parametrize("domain", DOMAINS)
def test_items_have_unique_titles_and_full_texts(catalogs: dict[str, Catalog], domain: str) -> None:
    cat = catalogs[domain]
    assert len(set(cat.titles)) == len(cat)
    assert len(set(cat.descriptions)) > 0.5 * len(cat)
    for title, desc, tags, text in zip(cat.titles, cat.descriptions, cat.tags, cat.texts):
        assert text.startswith(title)
        assert desc in text and desc.endswith((".", "!"))
        assert 2 <= len(tags) <= 4 and all(t in text for t in tags)


def test_video_has_clickbait_that_looks_better_than_it_is(catalogs: dict[str, Catalog]) -> None:
    cat = catalogs["video"]
    bait = cat.clickbait
    assert 0.08 <= bait.mean() <= 0.18
    assert np.all(cat.appeal[bait] > cat.quality[bait])
    assert cat.quality[bait].max() <= 0.3 and cat.appeal[bait].min() >= 0.8
    # Honest items look about as good as they are.
    assert np.abs(cat.appeal[~bait] - cat.quality[~bait]).mean() < 0.15
    assert not catalogs["news"].clickbait.any() and not catalogs["shopping"].clickbait.any()


@pytest.mark.parametrize("domain", DOMAINS)
def test_popularity_follows_appeal(catalogs: dict[str, Catalog], domain: str) -> None:
    cat = catalogs[domain]
    spearman = np.corrcoef(_rank(cat.popularity), _rank(cat.appeal))[0, 1]
    assert spearman > 0.5
    # Zipf-like: the top 10% of items hold far more than 10% of the popularity mass.
    top = np.sort(cat.popularity)[::-1][: len(cat) // 10]
    assert top.sum() / cat.popularity.sum() > 0.3


def test_cost_depends_on_category(catalogs: dict[str, Catalog]) -> None:
    def median(domain: str, name: str) -> float:
        cat = catalogs[domain]
        return float(np.median(cat.cost[cat.category_ids == cat.categories.index(name)]))

    assert median("video", "True Crime") > 2 * median("video", "Pets")
    assert median("shopping", "Furniture") > 5 * median("shopping", "Office")
    news = catalogs["news"].cost
    assert np.all(news == np.round(news)) and news.min() >= 1


@pytest.mark.parametrize("domain", DOMAINS)
def test_text_does_not_reveal_quality(catalogs: dict[str, Catalog], domain: str) -> None:
    cat = catalogs[domain]
    honest = ~cat.clickbait
    lengths = np.array([len(t) for t in cat.texts])[honest]
    assert abs(np.corrcoef(lengths, cat.quality[honest])[0, 1]) < 0.1
    # No category is a shortcut to quality either: every category's mean is near 0.5.
    means = [cat.quality[honest & (cat.category_ids == k)].mean()
             for k in range(len(cat.categories))]
    assert max(abs(m - 0.5) for m in means) < 0.1


def test_load_catalog_rejects_unknown_domain() -> None:
    with pytest.raises(ValueError, match=r"unknown catalog domain 'music'; expected one of"):
        load_catalog("music", encoder="hashing")


@pytest.mark.slow
def test_minilm_catalog_groups_categories_and_is_cached(minilm_encoder) -> None:
    cat = load_catalog("video", encoder=minilm_encoder, num_items=240)
    assert cat.embeddings.shape == (240, 384)
    sims = cat.embeddings @ cat.embeddings.T
    same = cat.category_ids[:, None] == cat.category_ids[None, :]
    off = ~np.eye(len(cat), dtype=bool)
    assert sims[same & off].mean() - sims[~same].mean() > 0.2

    def refuse(*args, **kwargs):
        raise AssertionError("the second load must read every vector from the cache")

    inner = minilm_encoder.inner
    original = inner.encode
    inner.encode = refuse
    try:
        again = load_catalog("video", encoder=minilm_encoder, num_items=240)
    finally:
        inner.encode = original
    np.testing.assert_array_equal(again.embeddings, cat.embeddings)


# ---------------------------------------------------------------- your own catalog


def test_from_records_fills_defaults(hashing_encoder) -> None:
    cat = Catalog.from_records([{"title": "Only a title"}, {"title": "Second", "quality": 0.9}],
                               encoder=hashing_encoder)
    assert cat.ids == ("0", "1")
    assert cat.categories == ("uncategorized",)
    np.testing.assert_array_equal(cat.category_ids, [0, 0])
    np.testing.assert_allclose(cat.quality, [0.5, 0.9])
    np.testing.assert_allclose(cat.appeal, cat.quality)
    np.testing.assert_array_equal(cat.popularity, [1.0, 1.0])
    np.testing.assert_array_equal(cat.cost, [1.0, 1.0])
    assert not cat.clickbait.any()
    assert cat.domain == "custom" and len(cat) == 2


def test_from_records_builds_text_and_categories(hashing_encoder) -> None:
    cat = Catalog.from_records(RECORDS, encoder=hashing_encoder)
    assert cat.categories == ("cooking", "fitness", "science")
    np.testing.assert_array_equal(cat.category_ids, [0, 1, 2])
    assert cat.texts[0] == ("Lemon Garlic Chicken in One Pan. A weeknight recipe. "
                            "Tags: recipe, dinner.")
    assert cat.texts[2] == "Black Holes Explained."
    assert cat.item_categories == ("cooking", "fitness", "science")
    np.testing.assert_allclose(cat.embeddings, hashing_encoder.encode(list(cat.texts)))


def test_from_records_scales_popularity_counts_to_max_one(hashing_encoder) -> None:
    records = [{"title": "x", "popularity": 50}, {"title": "y", "popularity": 200}]
    cat = Catalog.from_records(records, encoder=hashing_encoder)
    np.testing.assert_allclose(cat.popularity, [0.25, 1.0])


def _write_csv(path: Path, records: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "title", "description", "category",
                                                    "tags", "quality", "cost"])
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "tags": "|".join(r["tags"])})


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_from_file_round_trip(tmp_path: Path, hashing_encoder, suffix: str) -> None:
    path = tmp_path / f"items{suffix}"
    (_write_csv if suffix == ".csv" else _write_jsonl)(path, RECORDS)
    loaded = Catalog.from_file(path, encoder=hashing_encoder)
    expected = Catalog.from_records(RECORDS, encoder=hashing_encoder)
    for name in ("ids", "titles", "descriptions", "texts", "tags", "categories"):
        assert getattr(loaded, name) == getattr(expected, name)
    for name in ("category_ids", "quality", "appeal", "cost", "popularity", "embeddings"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(expected, name))


def test_csv_cells_are_parsed(tmp_path: Path, hashing_encoder) -> None:
    path = tmp_path / "items.csv"
    path.write_text("title,tags,clickbait,quality,appeal,popularity\n"
                    "Shock video,\"a, b\",true,0.1,0.9,3\n"
                    "Calm video,,,,,\n", encoding="utf-8")
    cat = Catalog.from_file(path, encoder=hashing_encoder)
    assert cat.tags == (("a", "b"), ())
    np.testing.assert_array_equal(cat.clickbait, [True, False])
    np.testing.assert_allclose(cat.quality, [0.1, 0.5])
    np.testing.assert_allclose(cat.appeal, [0.9, 0.5])
    np.testing.assert_allclose(cat.popularity, [1.0, 1 / 3], rtol=1e-6)


def test_from_file_accepts_spec_string_and_cache_dir(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    _write_jsonl(path, RECORDS)
    cat = Catalog.from_file(path, encoder="hashing", cache_dir=tmp_path / "cache")
    assert cat.dim == 256 and cat.encoder_name.startswith("hashing")


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([], r"no records given; expected at least one item with fields 'title'"),
        ([{"title": "ok"}, {"description": "no title"}],
         r"record 1: missing required field 'title'; expected fields 'title' \(non-empty str"),
        ([{"title": "   "}], r"record 0: missing required field 'title'"),
        ([{"title": 5}], r"record 0: field 'title' must be a str, got 5"),
        ([{"title": "x", "quality": 1.5}],
         r"record 0: quality 1.5 is out of range; expected a number in \[0, 1\]"),
        ([{"title": "x", "appeal": -0.1}], r"record 0: appeal -0.1 is out of range"),
        ([{"title": "x", "quality": "high"}],
         r"record 0: field 'quality' must be a number, got 'high'"),
        ([{"title": "x", "quality": float("nan")}], r"record 0: field 'quality' must be finite"),
        ([{"title": "x", "cost": -3}],
         r"record 0: cost -3.0 is negative; expected a number >= 0"),
        ([{"title": "x", "popularity": 0}], r"record 0: popularity 0.0 must be > 0"),
        ([{"title": "x", "tags": 7}], r"record 0: field 'tags' must be a list of str"),
        ([{"title": "x", "id": "a"}, {"title": "y", "id": "a"}],
         r"record 1: duplicate id 'a' \(first used by record 0\)"),
        (["just a string"], r"record 0: expected a mapping with fields"),
    ],
)
def test_from_records_rejects_bad_records(records: list, match: str) -> None:
    with pytest.raises(CatalogRecordError, match=match):
        Catalog.from_records(records, encoder="hashing")


def test_from_records_rejects_category_outside_given_list() -> None:
    with pytest.raises(ValueError, match=r"record 0: category 'cooking' is not one of the given"):
        Catalog.from_records(RECORDS, encoder="hashing", categories=["fitness", "science"])


@pytest.mark.parametrize("cached", [False, True])
def test_load_catalog_with_an_encoder_object_uses_the_given_cache_dir(
    tmp_path: Path, cached: bool
) -> None:
    """DESIGN §9: load_catalog(domain, encoder=<object>, cache_dir=DIR) works and writes DIR."""
    from driftrec.encoders import load_encoder
    from driftrec.envs import load_catalog

    encoder = load_encoder("hashing", cache=cached, cache_dir=tmp_path / "elsewhere")
    catalog = load_catalog("news", encoder=encoder, cache_dir=tmp_path / "mine", num_items=40)
    reference = load_catalog("news", encoder="hashing", cache_dir=tmp_path / "ref", num_items=40)
    np.testing.assert_array_equal(catalog.embeddings, reference.embeddings)
    assert any((tmp_path / "mine").rglob("*")), "the cache_dir asked for holds the embeddings"
    assert not (tmp_path / "elsewhere").exists() or not any((tmp_path / "elsewhere").rglob("*"))


def test_from_records_rejects_non_encoder() -> None:
    with pytest.raises(TypeError, match=r"encoder must be a TextEncoder \(name, dim, encode\)"):
        Catalog.from_records(RECORDS, encoder=42)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", "", r"empty.csv: file has no items; expected a header row"),
        ("header_only.csv", "title,description\n", r"header_only.csv: file has no items"),
        ("empty.jsonl", "\n\n", r"empty.jsonl: file has no items; expected one JSON object"),
        ("bad.jsonl", '{"title": "ok"}\n{"title": \n',
         r"bad.jsonl, line 2: invalid JSON .*; expected one object per line"),
        ("no_title.csv", "name,description\nx,y\n",
         r"no_title.csv, line 1: the header has no 'title' column"),
        ("bad_quality.csv", "title,quality\nok,0.5\nbad,2\n",
         r"bad_quality.csv, line 3: quality 2.0 is out of range; expected a number in \[0, 1\]"),
        ("missing_title.jsonl", '{"title": "ok"}\n\n{"description": "x"}\n',
         r"missing_title.jsonl, line 3: missing required field 'title'"),
        ("negative.jsonl", '{"title": "ok", "cost": -1}\n',
         r"negative.jsonl, line 1: cost -1.0 is negative"),
    ],
)
def test_from_file_rejects_bad_files(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogRecordError, match=match):
        Catalog.from_file(path, encoder="hashing")


def test_csv_with_byte_order_mark_quoted_commas_and_spaced_header(
    tmp_path: Path, hashing_encoder
) -> None:
    # What spreadsheets write: a UTF-8 BOM, a quoted field with a comma, "a, b" headers.
    path = tmp_path / "items.csv"
    path.write_bytes('\ufefftitle, quality, description\n"Heat, The",0.9,"x, y"\nUp,0.2,z\n'
                     .encode("utf-8"))
    cat = Catalog.from_file(path, encoder=hashing_encoder)
    assert cat.titles == ("Heat, The", "Up")
    assert cat.descriptions == ("x, y", "z")
    np.testing.assert_array_equal(cat.quality, np.array([0.9, 0.2], dtype=np.float32))


def test_extra_fields_far_from_known_names_are_ignored(tmp_path: Path, hashing_encoder) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "a", "url": "http://x", "author": "me", "quality": 0.25}\n')
    assert Catalog.from_file(path, encoder=hashing_encoder).quality.tolist() == [0.25]


def test_from_file_rejects_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text("title\nx\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown catalog file extension '.txt'.*expected one of "
                                         r"\['.csv', '.jsonl', '.ndjson'\]"):
        Catalog.from_file(path, encoder="hashing")


def test_from_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"catalog file .*nope.csv' does not exist"):
        Catalog.from_file(tmp_path / "nope.csv", encoder="hashing")


def test_catalog_arrays_are_read_only(hashing_encoder) -> None:
    cat = Catalog.from_records(RECORDS, encoder=hashing_encoder)
    with pytest.raises(ValueError, match="read-only"):
        cat.quality[0] = 1.0
