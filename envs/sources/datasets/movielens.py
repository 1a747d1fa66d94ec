"""MovieLens loaders: the 100K release and the ml-latest / ml-25m family.

ml-100k (``u.item``, ``u.data``, optional ``u.user``; GroupLens README):

- ``u.item``: latin-1 (UTF-8 copies are detected), ``|``-separated, 24 fields: ``movie id | title | release date | video
  release date | IMDb URL | 19 genre flags`` (genre order as in ``u.genre``);
- ``u.data``: tab-separated ``user id, item id, rating (1..5), unix timestamp``;
- ``u.user``: ``|``-separated ``user id | age | gender | occupation | zip code`` (profile text).

ml-latest / ml-25m (``movies.csv``, ``ratings.csv``, optional ``tags.csv``): UTF-8 CSV with
headers ``movieId,title,genres`` (genres ``|``-joined), ``userId,movieId,rating,timestamp``
(ratings 0.5..5 in half stars) and ``userId,movieId,tag,timestamp``. ``ratings.csv`` is streamed
row by row with the ``csv`` module into flat int64/float32 buffers (~25 bytes a row), so 25M rows
never exist as Python objects at once.

Item text: title (with year), genres and — where ``tags.csv`` exists — the most frequent tags.
MovieLens has no runtime, so ``cost`` is NaN here (``cohort.py`` fills the scenario default).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from ._io import check_header, iter_csv, iter_lines, parse_int, parse_rating
from .base import (
    Dataset,
    DatasetFileNotFoundError,
    DatasetFormatError,
    DatasetItems,
    InteractionBuilder,
    check_fields,
    require_distinct,
    require_file,
    require_nonempty,
)

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
_YEAR = re.compile(r"\((\d{4})\)\s*$")
MAX_TAGS_PER_ITEM = 8


def load_movielens(data_dir: str | Path) -> Dataset:
    """Load whichever MovieLens layout ``data_dir`` holds (``u.data`` → 100K, else CSV family)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetFileNotFoundError(root, "MovieLens", "data folder")
    if (root / "u.data").exists() or (root / "u.item").exists():
        return load_movielens_100k(root)
    if (root / "ratings.csv").exists() or (root / "movies.csv").exists():
        return load_movielens_latest(root)
    raise DatasetFormatError(
        root, "no MovieLens files found",
        expected="u.item and u.data (ml-100k) or movies.csv and ratings.csv (ml-latest, ml-25m) "
                 "in this folder",
    )


def _genre_names(root: Path) -> tuple[str, ...]:
    """Genre names from ``u.genre`` when present (the release ships it), else the 100K list."""
    path = root / "u.genre"
    if not path.is_file():
        return GENRES_100K
    names: dict[int, str] = {}
    for lineno, line in iter_lines(path, "latin-1"):
        if not line.strip():
            continue
        parts = line.split("|")
        check_fields(path, lineno, parts, 2, "'|'", "genre name, index")
        names[parse_int(path, lineno, parts[1], "genre index")] = parts[0]
    if sorted(names) != list(range(len(names))):
        raise DatasetFormatError(path, f"genre indices {sorted(names)} are not 0..{len(names) - 1}",
                                 expected="consecutive genre indices from 0")
    return tuple(names[i] for i in range(len(names)))


def _item_encoding(path: Path) -> str:
    """The GroupLens release is latin-1, but re-encoded copies circulate (the copy this project
    measures on is UTF-8, with U+FFFD where the accents were lost). latin-1 decodes any byte, so
    reading UTF-8 as latin-1 would silently give mojibake ("Ã©"): non-ASCII bytes that form valid
    UTF-8 select UTF-8. NUL bytes (UTF-16, binary) are an error."""
    data = path.read_bytes()
    if b"\x00" in data:
        raise DatasetFormatError(path, "file contains NUL bytes (UTF-16 or binary?)",
                                 line=data[: data.index(b"\x00")].count(b"\n") + 1,
                                 expected="a latin-1 text file, '|'-separated")
    if max(data, default=0) < 0x80:
        return "latin-1"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def load_movielens_100k(root: Path) -> Dataset:
    """Parse ml-100k. See the module docstring for the layout."""
    item_path = require_file(root / "u.item", "MovieLens 100K", "item file u.item")
    data_path = require_file(root / "u.data", "MovieLens 100K", "rating file u.data")
    genres = _genre_names(root)
    nfields = 5 + len(genres)
    encoding = _item_encoding(item_path)

    ids: list[str] = []
    titles: list[str] = []
    descs: list[str] = []
    tags: list[tuple[str, ...]] = []
    cats: list[str] = []
    for lineno, line in iter_lines(item_path, encoding):
        if not line.strip():
            continue
        parts = line.split("|")
        check_fields(item_path, lineno, parts, nfields, "'|'",
                     f"movie id, title, release date, video release date, IMDb URL, "
                     f"{len(genres)} genre flags")
        parse_int(item_path, lineno, parts[0], "movie id")
        flags = parts[5:]
        if any(f not in ("0", "1") for f in flags):
            raise DatasetFormatError(item_path, f"genre flags {flags} are not all 0/1",
                                     line=lineno, expected="19 genre flags, each 0 or 1")
        item_genres = tuple(g for g, f in zip(genres, flags) if f == "1")
        real = tuple(g for g in item_genres if g != "unknown") or ("unknown",)
        title = parts[1].strip()
        year = _year(title, parts[2])
        ids.append(parts[0])
        titles.append(title)
        descs.append(_movie_description(year, real))
        tags.append(real)
        cats.append(real[0])
    require_nonempty(item_path, len(ids), "one movie per line")
    require_distinct(item_path, ids, "movie id", "distinct movie ids")
    index = {m: i for i, m in enumerate(ids)}

    builder = InteractionBuilder()
    for lineno, line in iter_lines(data_path, "latin-1"):
        if not line.strip():
            continue
        parts = line.split("\t")
        check_fields(data_path, lineno, parts, 4, "tab", "user id, item id, rating, timestamp")
        user, item = parts[0].strip(), parts[1].strip()
        parse_int(data_path, lineno, user, "user id")
        j = index.get(item)
        if j is None:
            raise DatasetFormatError(data_path, f"item id {item!r} is not in u.item", line=lineno,
                                     expected="an item id listed in u.item")
        rating = parse_rating(data_path, lineno, parts[2], 1.0, 5.0, 1.0)
        ts = parse_int(data_path, lineno, parts[3].strip(), "timestamp")
        builder.add(user, j, ts, rating)
    require_nonempty(data_path, len(builder), "tab-separated user id, item id, rating, timestamp")

    profiles = _profiles_100k(root / "u.user")
    files = [str(item_path), str(data_path)] + ([str(root / "u.user")] if profiles else [])
    m = len(ids)
    return Dataset(
        name="movielens",
        domain="video",
        items=DatasetItems(
            ids=tuple(ids), titles=tuple(titles), descriptions=tuple(descs), tags=tuple(tags),
            categories=tuple(cats), quality=np.full(m, np.nan, np.float32),
            cost=np.full(m, np.nan, np.float32),
        ),
        interactions=builder.build(ids, profiles),
        rating_range=(1.0, 5.0),
        files=tuple(files),
    )


def _profiles_100k(path: Path) -> dict[str, str]:
    """``u.user`` rows as profile text ("A 24-year-old man, technician."); optional file."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    gender = {"M": "man", "F": "woman"}
    for lineno, line in iter_lines(path, "latin-1"):
        if not line.strip():
            continue
        parts = line.split("|")
        check_fields(path, lineno, parts, 5, "'|'", "user id, age, gender, occupation, zip code")
        age = parse_int(path, lineno, parts[1], "age")
        who = gender.get(parts[2].strip(), "person")
        out[parts[0].strip()] = f"A {age}-year-old {who}, occupation: {parts[3].strip()}."
    require_nonempty(path, len(out), "user id | age | gender | occupation | zip code")
    return out


def _year(title: str, release_date: str) -> str:
    match = _YEAR.search(title)
    if match:
        return match.group(1)
    tail = release_date.strip()[-4:]
    return tail if tail.isdigit() else ""


def _movie_description(year: str, genres: tuple[str, ...]) -> str:
    kind = "/".join(g.lower() for g in genres if g not in ("unknown", "(no genres listed)"))
    film = f"{kind} film" if kind else "film"
    return f"A {year} {film}." if year else f"A {film}."


def load_movielens_latest(root: Path) -> Dataset:
    """Parse ml-latest / ml-latest-small / ml-25m (CSV with headers)."""
    movies_path = require_file(root / "movies.csv", "MovieLens (ml-latest/ml-25m)",
                               "movie file movies.csv")
    ratings_path = require_file(root / "ratings.csv", "MovieLens (ml-latest/ml-25m)",
                                "rating file ratings.csv")
    ids: list[str] = []
    titles: list[str] = []
    genres_of: list[tuple[str, ...]] = []
    rows = iter_csv(movies_path)
    cols = check_header(movies_path, next(rows, (1, None))[1], ("movieId", "title", "genres"))
    width = max(cols.values()) + 1
    for lineno, row in rows:
        if not row:
            continue
        _width(movies_path, lineno, row, width, "movieId,title,genres")
        parse_int(movies_path, lineno, row[cols["movieId"]], "movieId")
        ids.append(row[cols["movieId"]].strip())
        titles.append(row[cols["title"]].strip())
        g = tuple(x for x in row[cols["genres"]].split("|") if x and x != "(no genres listed)")
        genres_of.append(g or ("unknown",))
    require_nonempty(movies_path, len(ids), "movieId,title,genres rows")
    require_distinct(movies_path, ids, "movieId", "distinct movieIds")
    index = {m: i for i, m in enumerate(ids)}

    builder = InteractionBuilder()
    rows = iter_csv(ratings_path)
    cols = check_header(ratings_path, next(rows, (1, None))[1],
                        ("userId", "movieId", "rating", "timestamp"))
    width = max(cols.values()) + 1
    cu, cm, cr, ct = cols["userId"], cols["movieId"], cols["rating"], cols["timestamp"]
    for lineno, row in rows:
        if not row:
            continue
        _width(ratings_path, lineno, row, width, "userId,movieId,rating,timestamp")
        j = index.get(row[cm].strip())
        if j is None:
            raise DatasetFormatError(ratings_path, f"movieId {row[cm]!r} is not in movies.csv",
                                     line=lineno, expected="a movieId listed in movies.csv")
        user = row[cu].strip()
        parse_int(ratings_path, lineno, user, "userId")
        rating = parse_rating(ratings_path, lineno, row[cr], 0.5, 5.0, 0.5)
        builder.add(user, j, parse_int(ratings_path, lineno, row[ct].strip(), "timestamp"), rating)
    require_nonempty(ratings_path, len(builder), "userId,movieId,rating,timestamp rows")

    files = [str(movies_path), str(ratings_path)]
    item_tags = _tags_latest(root / "tags.csv", index)
    if item_tags is not None:
        files.append(str(root / "tags.csv"))
    tags = []
    for j, g in enumerate(genres_of):
        extra = [] if item_tags is None else [t for t, _ in item_tags[j].most_common(MAX_TAGS_PER_ITEM)]
        tags.append(tuple(dict.fromkeys(list(g) + extra)))
    m = len(ids)
    return Dataset(
        name="movielens",
        domain="video",
        items=DatasetItems(
            ids=tuple(ids), titles=tuple(titles),
            descriptions=tuple(_movie_description(_year(t, ""), g) for t, g in zip(titles, genres_of)),
            tags=tuple(tags), categories=tuple(g[0] for g in genres_of),
            quality=np.full(m, np.nan, np.float32), cost=np.full(m, np.nan, np.float32),
        ),
        interactions=builder.build(ids),
        rating_range=(0.5, 5.0),
        files=tuple(files),
    )


def _width(path: Path, lineno: int, row: list[str], width: int, names: str) -> None:
    if len(row) < width:
        raise DatasetFormatError(path, f"row has {len(row)} field(s)", line=lineno,
                                 expected=f"comma-separated fields {names}")


def _tags_latest(path: Path, index: dict[str, int]) -> list[Counter] | None:
    """Per-movie tag counts from the optional ``tags.csv`` (tags of unknown movies are an error)."""
    if not path.is_file():
        return None
    counts: list[Counter] = [Counter() for _ in index]
    rows = iter_csv(path)
    cols = check_header(path, next(rows, (1, None))[1], ("userId", "movieId", "tag"))
    width = max(cols.values()) + 1
    for lineno, row in rows:
        if not row:
            continue
        _width(path, lineno, row, width, "userId,movieId,tag,timestamp")
        j = index.get(row[cols["movieId"]].strip())
        if j is None:
            raise DatasetFormatError(path, f"movieId {row[cols['movieId']]!r} is not in movies.csv",
                                     line=lineno, expected="a movieId listed in movies.csv")
        tag = row[cols["tag"]].strip().lower()
        if tag:
            counts[j][tag] += 1
    return counts
