"""Amazon Reviews 2023 loader (McAuley Lab, JSON Lines, one object per line; ``.gz`` accepted).

Files in the data folder: a reviews file ``<Category>.jsonl`` and its item metadata
``meta_<Category>.jsonl``. With several categories present, pass ``category=``.

- reviews: ``rating`` (1..5), ``user_id``, ``parent_asin`` (the item; ``asin`` is the variant),
  ``timestamp`` (unix milliseconds), plus ``title``/``text`` of the review (unused);
- meta: ``parent_asin``, ``title``, ``features`` (list of str), ``description`` (list of str),
  ``main_category``, ``categories`` (list, most general first), ``price`` (float or null).

Item text from title, features and description (the issue's choice: what the shop shows). The
category is the first entry of ``categories`` below the top level when there is one, else
``main_category``. ``cost`` is the price where it exists (the ``shopping`` scenario's unit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ._io import iter_lines
from .base import (
    Dataset,
    DatasetFileNotFoundError,
    DatasetFormatError,
    DatasetItems,
    InteractionBuilder,
    require_nonempty,
)

MAX_FEATURES = 5
MAX_DESCRIPTION_CHARS = 600


def _find_files(root: Path, category: str | None) -> tuple[Path, Path]:
    if not root.is_dir():
        raise DatasetFileNotFoundError(root, "Amazon Reviews 2023", "data folder")
    if category is not None:
        for suffix in (".jsonl", ".jsonl.gz"):
            reviews, meta = root / f"{category}{suffix}", root / f"meta_{category}{suffix}"
            if reviews.is_file() or meta.is_file():
                break
        if not reviews.is_file():
            raise DatasetFileNotFoundError(reviews, "Amazon Reviews 2023", "reviews file")
        if not meta.is_file():
            raise DatasetFileNotFoundError(meta, "Amazon Reviews 2023", "metadata file")
        return reviews, meta
    metas = sorted(p for p in root.iterdir()
                   if p.name.startswith("meta_") and p.name.endswith((".jsonl", ".jsonl.gz")))
    if not metas:
        raise DatasetFileNotFoundError(root / "meta_<Category>.jsonl", "Amazon Reviews 2023",
                                       "metadata file")
    if len(metas) > 1:
        raise DatasetFormatError(
            root, f"several metadata files {[p.name for p in metas]}",
            expected="one meta_<Category>.jsonl, or category= naming which to load",
        )
    meta = metas[0]
    reviews = root / meta.name[len("meta_"):]
    if not reviews.is_file():
        raise DatasetFileNotFoundError(reviews, "Amazon Reviews 2023",
                                       f"reviews file for {meta.name}")
    return reviews, meta


def _records(path: Path):
    """(line, dict) per non-empty line; a line that is not a JSON object is an error."""
    for lineno, line in iter_lines(path, "utf-8"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(path, f"invalid JSON ({exc.msg} at column {exc.colno})",
                                     line=lineno, expected="one JSON object per line") from None
        if not isinstance(obj, dict):
            raise DatasetFormatError(path, f"line is a JSON {type(obj).__name__}", line=lineno,
                                     expected="one JSON object per line")
        yield lineno, obj


def _field(path: Path, lineno: int, obj: dict, name: str, kinds: tuple[type, ...]) -> object:
    if name not in obj:
        raise DatasetFormatError(path, f"missing field {name!r}", line=lineno,
                                 expected=f"a JSON object with field {name!r}")
    value = obj[name]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise DatasetFormatError(path, f"field {name!r} is {value!r}", line=lineno,
                                 expected=f"{name!r} of type {'/'.join(k.__name__ for k in kinds)}")
    return value


def _text_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def load_amazon(data_dir: str | Path, category: str | None = None) -> Dataset:
    """Load an Amazon Reviews 2023 category (see the module docstring for the layout)."""
    reviews_path, meta_path = _find_files(Path(data_dir), category)

    ids: list[str] = []
    titles: list[str] = []
    descs: list[str] = []
    tags: list[tuple[str, ...]] = []
    cats: list[str] = []
    prices: list[float] = []
    index: dict[str, int] = {}
    for lineno, obj in _records(meta_path):
        asin = str(_field(meta_path, lineno, obj, "parent_asin", (str,)))
        if asin in index:
            raise DatasetFormatError(meta_path, f"parent_asin {asin!r} appears more than once",
                                     line=lineno, expected="one metadata line per item")
        title = obj.get("title")
        title = title.strip() if isinstance(title, str) else ""
        features = _text_list(obj.get("features"))[:MAX_FEATURES]
        description = " ".join(_text_list(obj.get("description")))[:MAX_DESCRIPTION_CHARS]
        category_path = _text_list(obj.get("categories"))
        main = obj.get("main_category") if isinstance(obj.get("main_category"), str) else ""
        cat = category_path[1] if len(category_path) > 1 else (main or (category_path or [""])[0])
        price = obj.get("price")
        try:
            price_f = float(price) if price is not None else math.nan
        except (TypeError, ValueError):
            price_f = math.nan  # the 2023 dump writes "—" or ranges for some items: unknown price
        if not math.isfinite(price_f) or price_f <= 0:
            price_f = math.nan
        index[asin] = len(ids)
        ids.append(asin)
        titles.append(title or asin)
        descs.append(" ".join(([f"Features: {'; '.join(features)}."] if features else [])
                              + ([description] if description else [])))
        tags.append(tuple(category_path[1:4]))
        cats.append(cat or "unknown")
        prices.append(price_f)
    require_nonempty(meta_path, len(ids), "one JSON object per item with 'parent_asin'")

    builder = InteractionBuilder()
    for lineno, obj in _records(reviews_path):
        user = str(_field(reviews_path, lineno, obj, "user_id", (str,)))
        item = str(_field(reviews_path, lineno, obj, "parent_asin", (str,)))
        j = index.get(item)
        if j is None:
            raise DatasetFormatError(reviews_path, f"parent_asin {item!r} is not in {meta_path.name}",
                                     line=lineno, expected=f"an item listed in {meta_path.name}")
        rating = float(_field(reviews_path, lineno, obj, "rating", (int, float)))  # type: ignore[arg-type]
        if not 1.0 <= rating <= 5.0:
            raise DatasetFormatError(reviews_path, f"rating {rating:g} is out of range",
                                     line=lineno, expected="a rating in [1, 5]")
        ts = int(_field(reviews_path, lineno, obj, "timestamp", (int, float)))  # type: ignore[arg-type]
        builder.add(user, j, ts // 1000, rating)
    require_nonempty(reviews_path, len(builder), "one JSON review per line")
    m = len(ids)
    return Dataset(
        name="amazon",
        domain="shopping",
        items=DatasetItems(
            ids=tuple(ids), titles=tuple(titles), descriptions=tuple(descs), tags=tuple(tags),
            categories=tuple(cats), quality=np.full(m, np.nan, np.float32),
            cost=np.asarray(prices, dtype=np.float32),
        ),
        interactions=builder.build(ids),
        rating_range=(1.0, 5.0),
        files=(str(reviews_path), str(meta_path)),
    )
