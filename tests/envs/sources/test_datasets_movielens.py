"""MovieLens loaders on small fixtures written in the exact release formats (never the real data).

ml-100k: ``u.item`` latin-1 with '|' and 24 fields, ``u.data`` tab-separated, ``u.user`` '|'.
ml-latest: UTF-8 CSV with headers movieId,title,genres / userId,movieId,rating,timestamp /
userId,movieId,tag,timestamp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftrec.envs.sources.datasets import (
    DatasetFileNotFoundError,
    DatasetFormatError,
    load_dataset,
)

GENRES = ("unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\n"
          "Documentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\n"
          "Romance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n")


def _flags(*genre_idx: int) -> str:
    return "|".join("1" if i in genre_idx else "0" for i in range(19))


def write_100k(root: Path, num_users: int = 6, num_items: int = 12) -> Path:
    """A 100K-format fixture: item 3 has a latin-1 title, each user rates 10 items."""
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for j in range(1, num_items + 1):
        title = "Les Mis\xe9rables (1995)" if j == 3 else f"Movie {j} ({1990 + j})"
        items.append(f"{j}|{title}|01-Jan-{1990 + j}||http://us.imdb.com/M/title-exact?m{j}|"
                     + _flags(1 + j % 5, 8))
    (root / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    rows = []
    for u in range(1, num_users + 1):
        for k in range(10):
            j = 1 + (u * 3 + k) % num_items
            rows.append(f"{u}\t{j}\t{1 + (u + k) % 5}\t{880000000 + 1000 * k + u}")
    (root / "u.data").write_text("\n".join(rows) + "\n", encoding="latin-1")
    users = [f"{u}|{20 + u}|{'MF'[u % 2]}|writer|0214{u}" for u in range(1, num_users + 1)]
    (root / "u.user").write_text("\n".join(users) + "\n", encoding="latin-1")
    (root / "u.genre").write_text(GENRES, encoding="latin-1")
    return root


def write_latest(root: Path, with_tags: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "3,Heat (1995),Action|Crime|Thriller\n4,Unknown Film (2001),(no genres listed)\n",
        encoding="utf-8",
    )
    rows = ["userId,movieId,rating,timestamp"]
    for u in (1, 2, 10):
        for k, m in enumerate((1, 2, 3, 4)):
            rows.append(f"{u},{m},{0.5 + ((u + k) % 10) * 0.5},{1500000000 + 100 * (4 - k) + u}")
    (root / "ratings.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    if with_tags:
        (root / "tags.csv").write_text(
            "userId,movieId,tag,timestamp\n1,1,pixar,1500000001\n2,1,Pixar,1500000002\n"
            "2,3,heist,1500000003\n", encoding="utf-8")
    return root


def test_100k_parses_items_users_and_time_ordered_sequences(tmp_path: Path) -> None:
    d = load_dataset("movielens", write_100k(tmp_path / "ml"))
    assert (d.name, d.domain, len(d.items), d.interactions.num_users) == ("movielens", "video", 12, 6)
    assert len(d.interactions) == 60 and d.rating_range == (1.0, 5.0)
    assert d.items.titles[2] == "Les Mis\xe9rables (1995)"  # latin-1 decoded
    # item 1: flags for genre 1 + 1 % 5 = 2 (Adventure) and 8 (Drama); year from the title
    assert d.items.tags[0] == ("Adventure", "Drama") and d.items.categories[0] == "Adventure"
    assert d.items.descriptions[0] == "A 1991 adventure/drama film."
    seq = d.interactions.sequence(0)
    assert seq.user_id == "1" and seq.profile == "A 21-year-old woman, occupation: writer."
    assert np.all(np.diff(seq.timestamps) > 0)
    # user 1, k=0: item 1 + 3 % 12 = 4 (index 3), rating 1 + 1 % 5 = 2
    assert (int(seq.items[0]), float(seq.ratings[0])) == (3, 2.0)
    assert np.isnan(d.items.quality).all() and np.isnan(d.items.cost).all()


def test_100k_accepts_a_utf8_reencoded_item_file(tmp_path: Path) -> None:
    root = write_100k(tmp_path / "ml")
    text = (root / "u.item").read_bytes().decode("latin-1")
    (root / "u.item").write_bytes(text.encode("utf-8"))
    assert load_dataset("movielens", root).items.titles[2] == "Les Mis\xe9rables (1995)"


def test_latest_parses_csv_quotes_half_stars_and_tags(tmp_path: Path) -> None:
    d = load_dataset("movielens", write_latest(tmp_path / "ml"))
    assert d.items.titles[1] == "American President, The (1995)"
    assert d.items.tags[0] == ("Adventure", "Animation", "Children", "pixar")
    assert d.items.categories[3] == "unknown" and d.rating_range == (0.5, 5.0)
    assert d.interactions.user_ids == ("1", "2", "10")  # numeric id order
    seq = d.interactions.sequence(0)
    assert seq.items.tolist() == [3, 2, 1, 0]  # timestamps decrease with k in the file
    assert seq.ratings.tolist() == [2.5, 2.0, 1.5, 1.0]


def test_max_items_keeps_most_rated_and_max_users_first_ids(tmp_path: Path) -> None:
    full = load_dataset("movielens", write_100k(tmp_path / "ml"))
    d = load_dataset("movielens", tmp_path / "ml", max_users=2, max_items=5)
    counts = np.bincount(full.interactions.items, minlength=12)
    kept = np.sort(np.argsort(-counts, kind="stable")[:5])
    assert d.items.ids == tuple(full.items.ids[j] for j in kept)
    assert d.interactions.user_ids == ("1", "2")
    assert int(d.interactions.items.max()) < 5


@pytest.mark.parametrize(
    "fname, content, match",
    [
        ("u.data", "1,2,3,880000000\n", r"u\.data, line 1: row has 1 field\(s\) \(no tab found"),
        ("u.data", "1\t2\t7\t880000000\n", (r"u\.data, line 1: rating '7' is out of range; "
         r"expected a rating in \[1, 5\]")),
        ("u.data", "1\t2\t4\t880000000\n1\t99\t4\t880000001\n",
         r"u\.data, line 2: item id '99' is not in u\.item"),
        ("u.data", "", r"u\.data, line 1: file has no data rows"),
        ("u.data", "1\t2\tfour\t880000000\n", r"line 1: rating 'four' is not a number"),
        ("u.item", "1|Movie (1995)|01-Jan-1995\n", (r"u\.item, line 1: row has 3 field\(s\); "
         r"expected 24 '\|'-separated fields")),
        ("u.item", "", r"u\.item, line 1: file has no data rows"),
    ],
)
def test_100k_bad_files_name_file_line_and_expectation(
    tmp_path: Path, fname: str, content: str, match: str
) -> None:
    root = write_100k(tmp_path / "ml")
    (root / fname).write_text(content, encoding="latin-1")
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("movielens", root)


def test_100k_utf16_file_is_a_wrong_encoding_error(tmp_path: Path) -> None:
    root = write_100k(tmp_path / "ml")
    (root / "u.item").write_bytes((root / "u.item").read_text("latin-1").encode("utf-16"))
    with pytest.raises(DatasetFormatError, match=r"u\.item, line 1: file contains NUL bytes"):
        load_dataset("movielens", root)


def test_missing_file_names_it_and_where_the_format_expects_it(tmp_path: Path) -> None:
    root = write_100k(tmp_path / "ml")
    (root / "u.data").unlink()
    with pytest.raises(DatasetFileNotFoundError,
                       match=r"u\.data: file not found: the MovieLens 100K format expects its "
                             r"rating file u\.data at this path"):
        load_dataset("movielens", root)
    with pytest.raises(DatasetFormatError, match=r"no MovieLens files found; expected u\.item"):
        load_dataset("movielens", tmp_path)
    with pytest.raises(FileNotFoundError, match="data folder"):
        load_dataset("movielens", tmp_path / "nowhere")


@pytest.mark.parametrize(
    "fname, content, match",
    [
        ("ratings.csv", "userId;movieId;rating;timestamp\n1;1;4.0;1\n",
         (r"ratings\.csv, line 1: missing column\(s\) \['userId', 'movieId', 'rating', "
         r"'timestamp'\].*wrong separator")),
        ("ratings.csv", "userId,movieId,timestamp\n1,1,1\n", r"missing column\(s\) \['rating'\]"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,4.2,2\n",
         (r"ratings\.csv, line 3: rating '4.2' is out of range; expected a rating in \[0.5, 5\] "
         r"in steps of 0.5")),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,77,4.0,1\n",
         r"ratings\.csv, line 2: movieId '77' is not in movies\.csv"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n", (r"ratings\.csv, line 1: file has no "
         r"data rows")),
        ("ratings.csv", "", r"ratings\.csv, line 1: file is empty"),
        ("tags.csv", "userId,movieId,tag,timestamp\n1,9,x,1\n", r"tags\.csv, line 2: movieId '9'"),
    ],
)
def test_latest_bad_files(tmp_path: Path, fname: str, content: str, match: str) -> None:
    root = write_latest(tmp_path / "ml")
    (root / fname).write_text(content, encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("movielens", root)


def test_latest_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    root = write_latest(tmp_path / "ml")
    (root / "movies.csv").write_bytes(b"movieId,title,genres\n1,Caf\xe9 (1995),Drama\n")
    with pytest.raises(DatasetFormatError,
                       match=r"movies\.csv, line 2: cannot decode bytes as utf-8"):
        load_dataset("movielens", root)


def test_unknown_dataset_name_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'netflix'; expected one of "
                                         r"\['movielens', 'amazon', 'mind'\]"):
        load_dataset("netflix", tmp_path)
