"""Tiny logs in each real data set's file format (ml-100k, ml-latest, Amazon Reviews 2023, MIND)
for the fidelity references' end-to-end tests — never the real data.

Every user follows the catalog in a cycle (item j, then j + 1 mod M, starting at 3·u), so a
sequence model can learn the next item and a popularity model cannot. Same-second events are
listed the way the ml-latest releases list them: sorted by item id within the second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

BASE_TIME = 1_500_000_000


def cycle_logs(users: int, items: int, length: int, tie_pairs: bool = False
               ) -> dict[int, list[tuple[int, int, float]]]:
    """user (1-based) → [(item 0-based, unix seconds, rating 1..5)], in time order. With
    ``tie_pairs``, events 2i and 2i + 1 share a second."""
    logs = {}
    for u in range(1, users + 1):
        rows = []
        for k in range(length):
            t = BASE_TIME + 1000 * (k // 2 if tie_pairs else k) + u
            rows.append(((3 * u + k) % items, t, float(1 + (u + k) % 5)))
        logs[u] = rows
    return logs


def _file_rows(logs: dict, item_sorted_ties: bool) -> list[tuple[int, int, int, float]]:
    """(user, item, time, rating) in file order: by user and time, ties by item id (ml-latest's
    layout) or in reverse (the same log written another way)."""
    rows = [(u, j, t, r) for u, seq in logs.items() for j, t, r in seq]
    sign = 1 if item_sorted_ties else -1
    return sorted(rows, key=lambda x: (x[0], x[2], sign * x[1]))


def _genre_flags(j: int) -> str:
    """u.item's 19 genre flags: genre 1 + j % 5 and Drama (8)."""
    return "|".join("1" if g in (1 + j % 5, 8) else "0" for g in range(19))


def write_100k(root: Path, logs: dict, items: int, item_sorted_ties: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.item").write_bytes("".join(
        f"{j + 1}|Movie {j + 1} ({1990 + j})|01-Jan-{1990 + j}||http://x/{j}|{_genre_flags(j)}\n"
        for j in range(items)).encode("latin-1"))
    (root / "u.data").write_text("".join(
        f"{u}\t{j + 1}\t{int(r)}\t{t}\n" for u, j, t, r in _file_rows(logs, item_sorted_ties)))
    (root / "u.user").write_text("".join(f"{u}|{20 + u}|M|writer|0214{u}\n" for u in logs))
    genres = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western")
    (root / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    return root


def write_latest(root: Path, logs: dict, items: int, item_sorted_ties: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    genres = ("Action", "Comedy", "Drama|Romance", "Thriller")
    (root / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{j + 1},Film {j + 1} ({2000 + j}),{genres[j % 4]}\n" for j in range(items)))
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{j + 1},{r / 2 + 0.5},{t}\n" for u, j, t, r in _file_rows(logs, item_sorted_ties)))
    return root


def write_amazon(root: Path, logs: dict, items: int, item_sorted_ties: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cats = ("Oils", "Masks", "Brushes")
    (root / "meta_All_Beauty.jsonl").write_text("".join(json.dumps(
        {"main_category": "All Beauty", "title": f"Product {j}", "features": [f"size {j}"],
         "description": [f"Item {j}."], "price": 5.0 + j, "categories": ["Beauty", cats[j % 3]],
         "parent_asin": f"B{j:03d}"}) + "\n" for j in range(items)))
    (root / "All_Beauty.jsonl").write_text("".join(json.dumps(
        {"rating": r, "title": "ok", "text": "fine", "asin": f"B{j:03d}x",
         "parent_asin": f"B{j:03d}", "user_id": f"AU{u}", "timestamp": t * 1000,
         "helpful_vote": 0, "verified_purchase": True}) + "\n"
        for u, j, t, r in _file_rows(logs, item_sorted_ties)))
    return root


def write_mind(root: Path, logs: dict, items: int, item_sorted_ties: bool = True) -> Path:
    """The first 3 items of each user are its pre-window history; each later item is clicked in
    its own impression row (with one unclicked item shown beside it)."""
    from datetime import datetime, timezone

    root.mkdir(parents=True, exist_ok=True)
    cats = ("sports", "news", "lifestyle")
    (root / "news.tsv").write_text("".join(
        f"N{j}\t{cats[j % 3]}\tsub{j % 2}\tHeadline {j}\tAbstract {j}.\thttps://x/{j}\t[]\t[]\n"
        for j in range(items)))
    rows, imp = [], 0
    for u, seq in logs.items():
        history = " ".join(f"N{j}" for j, _, _ in seq[:3])
        for j, t, _ in seq[3:]:
            imp += 1
            when = datetime.fromtimestamp(t, timezone.utc).strftime("%m/%d/%Y %I:%M:%S %p")
            rows.append(f"{imp}\tU{u}\t{when}\t{history}\tN{j}-1 N{(j + 1) % items}-0\n")
    (root / "behaviors.tsv").write_text("".join(rows))
    return root


WRITERS: dict[str, tuple[str, Callable[..., Path]]] = {
    "ml-100k": ("movielens", write_100k), "ml-latest": ("movielens", write_latest),
    "amazon": ("amazon", write_amazon), "mind": ("mind", write_mind),
}


@pytest.fixture(scope="session")
def real_format() -> Callable[..., tuple[str, Path]]:
    """``real_format(fmt, root, users=10, items=16, length=12, tie_pairs=False,
    item_sorted_ties=True)`` → (data set name, folder) of a cycle log in format ``fmt``."""

    def write(fmt: str, root: Path, users: int = 10, items: int = 16, length: int = 12,
              tie_pairs: bool = False, item_sorted_ties: bool = True) -> tuple[str, Path]:
        name, writer = WRITERS[fmt]
        logs = cycle_logs(users, items, length, tie_pairs)
        return name, writer(root, logs, items, item_sorted_ties)

    return write
