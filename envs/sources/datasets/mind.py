"""MIND loader (Microsoft News Dataset; ``news.tsv`` and ``behaviors.tsv``, UTF-8, tab-separated,
no header).

- ``news.tsv``: ``News ID, Category, SubCategory, Title, Abstract, URL, Title Entities,
  Abstract Entities`` (8 fields);
- ``behaviors.tsv``: ``Impression ID, User ID, Time (M/D/YYYY h:mm:ss AM), History (space-separated
  news ids clicked before the log window), Impressions ("N123-1 N456-0": shown id - clicked)``.

Neutral structure: a user's sequence is their pre-window history (from their earliest row, in the
given order, with timestamps placed one second apart just before that row — MIND gives no times
for it) followed by their clicks in the impressions, in time order. Ratings are NaN (clicks only).
The shown lists are kept as ``Impressions`` — MIND is the one format that records what was shown.
Item text from title, category and abstract.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ._io import iter_lines
from .base import (
    Dataset,
    DatasetFileNotFoundError,
    DatasetFormatError,
    DatasetItems,
    Impressions,
    InteractionBuilder,
    check_fields,
    require_file,
    require_nonempty,
)

_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def load_mind(data_dir: str | Path) -> Dataset:
    """Load a MIND split folder (MINDsmall_train, MINDlarge_dev, ...)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetFileNotFoundError(root, "MIND", "data folder")
    news_path = require_file(root / "news.tsv", "MIND", "news file news.tsv")
    behaviors_path = require_file(root / "behaviors.tsv", "MIND", "behaviors file behaviors.tsv")

    ids: list[str] = []
    titles: list[str] = []
    descs: list[str] = []
    tags: list[tuple[str, ...]] = []
    cats: list[str] = []
    index: dict[str, int] = {}
    for lineno, line in iter_lines(news_path, "utf-8"):
        if not line.strip():
            continue
        parts = line.split("\t")
        check_fields(news_path, lineno, parts, 8, "tab",
                     "News ID, Category, SubCategory, Title, Abstract, URL, Title Entities, "
                     "Abstract Entities")
        nid = parts[0].strip()
        if not nid:
            raise DatasetFormatError(news_path, "empty News ID", line=lineno,
                                     expected="a news id such as N55528")
        if nid in index:
            raise DatasetFormatError(news_path, f"News ID {nid} appears more than once",
                                     line=lineno, expected="distinct news ids")
        index[nid] = len(ids)
        ids.append(nid)
        cat, sub = parts[1].strip() or "unknown", parts[2].strip()
        titles.append(parts[3].strip() or nid)
        descs.append(" ".join(x for x in (f"{cat.capitalize()} news.", parts[4].strip()) if x))
        tags.append((sub,) if sub else ())
        cats.append(cat)
    require_nonempty(news_path, len(ids), "tab-separated news rows")

    builder = InteractionBuilder()
    rows: list[tuple[str, int, list[int], list[int]]] = []  # user, time, shown, clicked flags
    first_row: dict[str, tuple[int, list[int]]] = {}  # user -> (earliest time, history)
    for lineno, line in iter_lines(behaviors_path, "utf-8"):
        if not line.strip():
            continue
        parts = line.split("\t")
        check_fields(behaviors_path, lineno, parts, 5, "tab",
                     "Impression ID, User ID, Time, History, Impressions")
        user = parts[1].strip()
        try:
            ts = int(datetime.strptime(parts[2].strip(), _TIME_FORMAT)
                     .replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            raise DatasetFormatError(behaviors_path, f"time {parts[2]!r} is not a MIND time",
                                     line=lineno, expected="M/D/YYYY h:mm:ss AM|PM") from None
        history = [_news(behaviors_path, lineno, index, n) for n in parts[3].split()]
        shown, clicked = [], []
        for token in parts[4].split():
            nid, dash, label = token.rpartition("-")
            if not dash or label not in ("0", "1"):
                raise DatasetFormatError(behaviors_path, f"impression {token!r}", line=lineno,
                                         expected="space-separated <news id>-<0|1> pairs")
            shown.append(_news(behaviors_path, lineno, index, nid))
            clicked.append(int(label))
        if not shown:
            raise DatasetFormatError(behaviors_path, "no impressions", line=lineno,
                                     expected="at least one <news id>-<0|1> pair")
        rows.append((user, ts, shown, clicked))
        if user not in first_row or ts < first_row[user][0]:
            first_row[user] = (ts, history)
    require_nonempty(behaviors_path, len(rows), "tab-separated impression rows")

    for user, (ts, history) in first_row.items():
        for k, j in enumerate(history):
            builder.add(user, j, ts - len(history) + k, np.nan)
    for user, ts, shown, clicked in rows:
        for j, c in zip(shown, clicked):
            if c:
                builder.add(user, j, ts, np.nan)
    interactions = builder.build(ids)
    user_pos = {u: i for i, u in enumerate(interactions.user_ids)}
    # Users whose rows have neither history nor clicks have no sequence; their impressions go too.
    kept = [r for r in rows if r[0] in user_pos]
    lengths = [len(r[2]) for r in kept]
    impressions = Impressions(
        users=np.asarray([user_pos[r[0]] for r in kept], dtype=np.int64),
        timestamps=np.asarray([r[1] for r in kept], dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        items=np.asarray([j for r in kept for j in r[2]], dtype=np.int64),
        clicks=np.asarray([c for r in kept for c in r[3]], dtype=np.int8),
    )
    m = len(ids)
    return Dataset(
        name="mind",
        domain="news",
        items=DatasetItems(
            ids=tuple(ids), titles=tuple(titles), descriptions=tuple(descs), tags=tuple(tags),
            categories=tuple(cats), quality=np.full(m, np.nan, np.float32),
            cost=np.full(m, np.nan, np.float32),
        ),
        interactions=interactions,
        rating_range=None,
        files=(str(news_path), str(behaviors_path)),
        impressions=impressions,
    )


def _news(path: Path, lineno: int, index: dict[str, int], nid: str) -> int:
    j = index.get(nid)
    if j is None:
        raise DatasetFormatError(path, f"news id {nid!r} is not in news.tsv", line=lineno,
                                 expected="news ids listed in news.tsv")
    return j
