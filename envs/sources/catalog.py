"""The item catalog: M items with text, hidden quality, cost, popularity and text embeddings.

A ``Catalog`` is a frozen dataclass of arrays so the engine can index it by item id without
per-item objects. It is built one way only — from a list of records — whether the records come
from the built-in generator (``load_catalog``), from a CSV/JSONL file (``Catalog.from_file``)
or from the caller (``Catalog.from_records``), so validation and encoding live in one place.

Fields (M items, C categories, d embedding dimensions):

=================  ==========================  ===============================================
field              type                        meaning
=================  ==========================  ===============================================
``domain``         str                         ``"video"``, ``"news"``, ``"shopping"``, ``"custom"``
``ids``            tuple[str] (M)              distinct item ids
``titles``         tuple[str] (M)              listing titles
``descriptions``   tuple[str] (M)              one or two sentences
``texts``          tuple[str] (M)              what is encoded: title + description + tags
``tags``           tuple[tuple[str]] (M)       free-form tags
``categories``     tuple[str] (C)              category names; ``category_ids`` index into it
``category_ids``   int64 (M,)                  category of each item
``quality``        float32 (M,) in [0, 1]      true quality (hidden; the text does not reveal it)
``appeal``         float32 (M,) in [0, 1]      how attractive the listing looks (clickbait: high)
``clickbait``      bool (M,)                   appealing text, low quality
``cost``           float32 (M,) >= 0           minutes (video), reading minutes (news), price
``popularity``     float32 (M,) in (0, 1]      public prior (max 1; sums to nothing in particular)
``embeddings``     float32 (M, d)              unit rows, from ``encoder_name``
``encoder_name``   str                         the encoder (model + revision) that made them
=================  ==========================  ===============================================
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.encoders import TextEncoder, load_encoder
from driftrec.encoders.cache import CachedEncoder

from .datasets._io import iter_csv, iter_lines

#: The fields a record may carry; only ``title`` is required.
RECORD_FIELDS = (
    "id", "title", "description", "category", "tags", "quality", "appeal", "clickbait", "cost",
    "popularity",
)
EXPECTED_FIELDS = (
    "'title' (non-empty str, required), optional 'description' (str), 'category' (str), "
    "'tags' (list of str or a '|'/','-separated str), 'quality' and 'appeal' (numbers in [0, 1]), "
    "'cost' (number >= 0), 'popularity' (number > 0), 'clickbait' (bool), 'id' (str, unique)"
)
FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson")
DEFAULT_CATEGORY = "uncategorized"
DEFAULT_QUALITY = 0.5
# A record without a cost is one unit long/expensive, so engagement-weighted rewards stay
# proportional to engagement instead of collapsing to zero.
DEFAULT_COST = 1.0

EncoderLike = TextEncoder | str | Path | None


class CatalogRecordError(ValueError):
    """A record or file line does not describe a valid item; the message says where and why."""


def _file_error(
    path: Path, problem: str, *, line: int | None = None, expected: str | None = None
) -> CatalogRecordError:
    """The file readers' errors (``datasets._io``) as ``CatalogRecordError``s, same wording."""
    where = f"{path}" + (f", line {line}" if line is not None else "")
    return CatalogRecordError(f"{where}: {problem}" + (f"; expected {expected}" if expected else ""))


@dataclass(frozen=True, eq=False)
class Catalog:
    """M items and their embeddings; see the module docstring for the field table."""

    domain: str
    ids: tuple[str, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    texts: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    categories: tuple[str, ...]
    category_ids: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    clickbait: np.ndarray
    cost: np.ndarray
    popularity: np.ndarray
    embeddings: np.ndarray
    encoder_name: str

    def __post_init__(self) -> None:
        m = len(self.ids)
        if m == 0:
            raise ValueError("a Catalog needs at least one item")
        for name in ("titles", "descriptions", "texts", "tags"):
            if len(getattr(self, name)) != m:
                raise ValueError(
                    f"Catalog.{name} has {len(getattr(self, name))} entries; expected {m} (one per id)"
                )
        if len(set(self.ids)) != m:
            raise ValueError("Catalog.ids must be distinct")
        arrays = {
            "category_ids": np.int64, "quality": np.float32, "appeal": np.float32,
            "clickbait": np.bool_, "cost": np.float32, "popularity": np.float32,
        }
        for name, dtype in arrays.items():
            arr = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            if arr.shape != (m,):
                raise ValueError(f"Catalog.{name} must have shape ({m},), got {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        c = len(self.categories)
        if self.category_ids.min() < 0 or self.category_ids.max() >= c:
            raise ValueError(f"Catalog.category_ids must lie in [0, {c}) for {c} categories")
        emb = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != m:
            raise ValueError(f"Catalog.embeddings must have shape ({m}, d), got {emb.shape}")
        emb.setflags(write=False)
        object.__setattr__(self, "embeddings", emb)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (
            f"Catalog(domain={self.domain!r}, items={len(self)}, "
            f"categories={len(self.categories)}, dim={self.dim}, encoder={self.encoder_name!r})"
        )

    @property
    def dim(self) -> int:
        """Embedding dimension d."""
        return int(self.embeddings.shape[1])

    @property
    def item_categories(self) -> tuple[str, ...]:
        """Category name of each item (M,) — convenient for tables and exports."""
        return tuple(self.categories[int(k)] for k in self.category_ids)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        encoder: EncoderLike = None,
        cache_dir: str | Path | None = None,
        domain: str = "custom",
        *,
        categories: Sequence[str] | None = None,
    ) -> Catalog:
        """Build a catalog from your own items (dicts with ``title`` and optional fields).

        Args:
            records: mappings with ``title`` and optionally ``description``, ``category``,
                ``tags``, ``quality``, ``cost``, ``id``, ``appeal``, ``clickbait``,
                ``popularity``. Defaults: category ``"uncategorized"``, quality 0.5, appeal =
                quality, cost 1, popularity uniform, id = the record's position.
            encoder: a ``TextEncoder`` or a ``load_encoder`` spec; ``None`` means ``"minilm"``.
            cache_dir: embedding cache folder (with an encoder object too: its model, this cache).
            domain: a label kept on the catalog.
            categories: fixes the category order (category ids); by default categories are
                numbered in order of first appearance. A record outside the list is an error.

        Raises:
            CatalogRecordError (a ``ValueError``) naming the record and the expected fields.
        """
        if isinstance(records, Mapping):
            raise TypeError("records must be a list of mappings, got a single "
                            f"{type(records).__name__}; wrap it in a list: [record]")
        if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
            raise TypeError(f"records must be a list of mappings with fields {EXPECTED_FIELDS}, "
                            f"got {type(records).__name__}")
        items = list(records)
        where = [f"record {i}" for i in range(len(items))]
        return cls._build(items, where, encoder, cache_dir, domain, categories, source="records")

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        encoder: EncoderLike = None,
        cache_dir: str | Path | None = None,
        domain: str = "custom",
        *,
        categories: Sequence[str] | None = None,
    ) -> Catalog:
        """Build a catalog from a CSV (header row) or JSONL file (one object per line).

        Columns/keys are those of ``from_records``. In CSV, an empty cell counts as missing and
        ``tags`` is one cell separated by ``|`` (or ``,``). Errors name the file and its 1-based
        line.
        """
        if not isinstance(path, (str, Path)):
            raise TypeError(f"catalog path must be a str or Path, got {type(path).__name__}")
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in FILE_SUFFIXES:
            raise ValueError(
                f"unknown catalog file extension {path.suffix!r} for {str(path)!r}; "
                f"expected one of {list(FILE_SUFFIXES)}"
            )
        if path.is_dir():
            raise IsADirectoryError(f"catalog path {str(path)!r} is a folder; expected a "
                                    f"{'/'.join(FILE_SUFFIXES)} file")
        if not path.is_file():
            raise FileNotFoundError(f"catalog file {str(path)!r} does not exist")
        if suffix == ".csv":
            items, where = _read_csv(path)
        else:
            items, where = _read_jsonl(path)
        if not items:
            raise CatalogRecordError(
                f"{path}: file has no items; expected "
                + ("a header row and one row per item" if suffix == ".csv"
                   else "one JSON object per line")
                + f" with fields {EXPECTED_FIELDS}"
            )
        return cls._build(items, where, encoder, cache_dir, domain, categories, source=str(path))

    @classmethod
    def _build(
        cls,
        items: list[Any],
        where: list[str],
        encoder: EncoderLike,
        cache_dir: str | Path | None,
        domain: str,
        categories: Sequence[str] | None,
        source: str,
    ) -> Catalog:
        if not items:
            raise CatalogRecordError(
                f"no {source} given; expected at least one item with fields {EXPECTED_FIELDS}"
            )
        parsed = [_parse_record(item, at, i) for i, (item, at) in enumerate(zip(items, where))]

        if categories is None:
            names = list(dict.fromkeys(p["category"] for p in parsed))
        elif isinstance(categories, (str, bytes)) or not isinstance(categories, Iterable):
            raise TypeError(f"categories must be a list of category names, got "
                            f"{categories!r} ({type(categories).__name__})")
        else:
            names = [str(c) for c in categories]
            if len(set(names)) != len(names):
                raise ValueError(f"categories must be distinct, got {names}")
        index = {name: k for k, name in enumerate(names)}
        for p, at in zip(parsed, where):
            if p["category"] not in index:
                raise CatalogRecordError(
                    f"{at}: category {p['category']!r} is not one of the given categories {names}"
                )

        ids = tuple(p["id"] for p in parsed)
        seen: dict[str, str] = {}
        for item_id, at in zip(ids, where):
            if item_id in seen:
                raise CatalogRecordError(
                    f"{at}: duplicate id {item_id!r} (first used by {seen[item_id]}); ids must be unique"
                )
            seen[item_id] = at

        popularity = np.array([p["popularity"] for p in parsed], dtype=np.float64)
        # A user file may give raw counts; the prior is relative, so scale it into (0, 1].
        popularity = popularity / popularity.max()
        texts = tuple(item_text(p["title"], p["description"], p["tags"]) for p in parsed)

        enc = resolve_encoder(encoder, cache_dir)
        embeddings = np.asarray(enc.encode(list(texts)), dtype=np.float32)
        if embeddings.shape != (len(texts), int(enc.dim)):
            raise ValueError(
                f"encoder {enc.name!r} returned shape {embeddings.shape}; "
                f"expected ({len(texts)}, {enc.dim})"
            )
        return cls(
            domain=domain,
            ids=ids,
            titles=tuple(p["title"] for p in parsed),
            descriptions=tuple(p["description"] for p in parsed),
            texts=texts,
            tags=tuple(p["tags"] for p in parsed),
            categories=tuple(names),
            category_ids=np.array([index[p["category"]] for p in parsed], dtype=np.int64),
            quality=np.array([p["quality"] for p in parsed], dtype=np.float32),
            appeal=np.array([p["appeal"] for p in parsed], dtype=np.float32),
            clickbait=np.array([p["clickbait"] for p in parsed], dtype=bool),
            cost=np.array([p["cost"] for p in parsed], dtype=np.float32),
            popularity=popularity.astype(np.float32),
            embeddings=embeddings,
            encoder_name=str(enc.name),
        )


def load_catalog(
    domain: str,
    encoder: EncoderLike = None,
    cache_dir: str | Path | None = None,
    *,
    seed: int = 0,
    num_items: int | None = None,
) -> Catalog:
    """The built-in catalog of ``domain`` (``"video"``, ``"news"`` or ``"shopping"``).

    The items come from a deterministic generator (same ``seed`` → same items); embeddings go
    through the encoder's on-disk cache, so only the first call per encoder computes anything.

    Args:
        domain: one of ``driftrec.envs.sources.builtin.DOMAINS``.
        encoder: a ``TextEncoder`` or a ``load_encoder`` spec; ``None`` means ``"minilm"``.
        cache_dir: embedding cache folder (with an encoder object too: its model, this cache).
        seed: generator seed; the default 0 is *the* built-in catalog every benchmark uses.
        num_items: number of items (default: the domain's standard size).
    """
    from .builtin import DOMAINS, generate_records

    if not isinstance(domain, str) or domain not in DOMAINS:
        raise ValueError(f"unknown catalog domain {domain!r}; expected one of {sorted(DOMAINS)}")
    _check_int("seed", seed, minimum=0)
    if num_items is not None:
        _check_int("num_items", num_items, minimum=1)
    records, categories = generate_records(domain, seed=seed, num_items=num_items)
    return Catalog.from_records(
        records, encoder=encoder, cache_dir=cache_dir, domain=domain, categories=categories
    )


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def require_catalog(catalog: Any) -> Catalog:
    """``catalog`` if it is a ``Catalog``; anything else is an error saying how to make one.

    Why: the env constructors take ``catalog=``; a string there (``catalog="nosuch"``) used to
    reach the engine and fail as "num_candidates N=100 exceeds the catalog size M=6" — the
    length of the string.
    """
    if isinstance(catalog, Catalog):
        return catalog
    from .builtin import DOMAINS

    hint = ""
    if isinstance(catalog, (str, Path)):
        hint = (f" (a built-in catalog is chosen by the scenario's domain: domain=one of "
                f"{sorted(DOMAINS)}; a file is loaded with Catalog.from_file(path))")
    raise TypeError(
        f"catalog must be a driftrec.envs.Catalog (from load_catalog, Catalog.from_file or "
        f"Catalog.from_records) or None for the scenario's built-in catalog, got "
        f"{catalog!r} ({type(catalog).__name__}){hint}"
    )


def resolve_encoder(encoder: EncoderLike, cache_dir: str | Path | None = None) -> TextEncoder:
    """A ready encoder from an encoder object, a spec string/path, or ``None`` (``"minilm"``).

    With an encoder object and a ``cache_dir``, the object's model is used through the cache in
    ``cache_dir`` (a ``CachedEncoder`` is re-wrapped around its inner model, so the folder asked
    for is the one written, never silently another).
    """
    if encoder is None:
        encoder = "minilm"
    if isinstance(encoder, (str, Path)):
        return load_encoder(encoder, cache_dir=cache_dir)
    if not (hasattr(encoder, "encode") and hasattr(encoder, "dim") and hasattr(encoder, "name")):
        raise TypeError(
            f"encoder must be a TextEncoder (name, dim, encode) or a spec string such as "
            f"'minilm' or 'hashing', got {type(encoder).__name__}"
        )
    if cache_dir is None:
        return encoder
    return CachedEncoder(encoder.inner if isinstance(encoder, CachedEncoder) else encoder,
                         cache_dir=cache_dir)


def item_text(title: str, description: str, tags: Sequence[str]) -> str:
    """The encoded text of an item: title, description and tags, as sentences."""
    parts = [title.strip()]
    if not re.search(r"[.!?]$", parts[0]):
        parts[0] += "."
    if description:
        parts.append(description.strip())
    if tags:
        parts.append("Tags: " + ", ".join(tags) + ".")
    return " ".join(parts)


# ---------------------------------------------------------------------- record parsing


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _number(record: Mapping[str, Any], key: str, at: str) -> float | None:
    value = record.get(key)
    if _missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.number)):
        raise CatalogRecordError(f"{at}: field {key!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise CatalogRecordError(f"{at}: field {key!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CatalogRecordError(f"{at}: field {key!r} must be finite, got {value!r}")
    return number


def _unit(record: Mapping[str, Any], key: str, at: str) -> float | None:
    number = _number(record, key, at)
    if number is not None and not 0.0 <= number <= 1.0:
        raise CatalogRecordError(f"{at}: {key} {number!r} is out of range; expected a number in [0, 1]")
    return number


def _bool(record: Mapping[str, Any], key: str, at: str) -> bool:
    value = record.get(key)
    if _missing(value):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise CatalogRecordError(f"{at}: field {key!r} must be a boolean, got {value!r}")


def _tags(value: Any, at: str) -> tuple[str, ...]:
    if _missing(value):
        return ()
    if isinstance(value, str):
        sep = "|" if "|" in value else ","
        parts = value.split(sep)
    elif isinstance(value, (list, tuple)):
        parts = list(value)
        for tag in parts:
            if not isinstance(tag, str):
                raise CatalogRecordError(f"{at}: every tag must be a str, got {tag!r}")
    else:
        raise CatalogRecordError(
            f"{at}: field 'tags' must be a list of str or a separated str, got {value!r}"
        )
    return tuple(t.strip() for t in parts if t.strip())


def _label(record: Mapping[str, Any], key: str, at: str) -> str | None:
    """A category or id: a str or an int (JSON ids are often numbers); None when missing."""
    value = record.get(key)
    if _missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise CatalogRecordError(f"{at}: field {key!r} must be a str (or an int), got {value!r}")
    return str(value).strip()


def _check_field_names(keys: list[Any], at: str) -> None:
    """Reject a field name that is a near miss of a known one (``qualty``, ``Title``) when the
    known one is absent: it would silently fall back to its default. Other extra fields (a URL,
    an author) are ignored."""
    for key in keys:
        if not isinstance(key, str):
            raise CatalogRecordError(f"{at}: field name {key!r} is not a str")
        if key in RECORD_FIELDS:
            continue
        close = difflib.get_close_matches(key.lower(), RECORD_FIELDS, n=1, cutoff=0.8)
        if close and close[0] not in keys:
            raise CatalogRecordError(
                f"{at}: unknown field {key!r}; did you mean {close[0]!r}? Expected fields "
                f"{EXPECTED_FIELDS} (fields not close to these are ignored)"
            )


def _parse_record(record: Any, at: str, position: int) -> dict[str, Any]:
    """Validate one record and fill the defaults; errors name ``at`` and the expected fields."""
    if not isinstance(record, Mapping):
        raise CatalogRecordError(
            f"{at}: expected a mapping with fields {EXPECTED_FIELDS}, got {type(record).__name__}"
        )
    _check_field_names(list(record), at)
    title = record.get("title")
    if _missing(title):
        raise CatalogRecordError(
            f"{at}: missing required field 'title'; expected fields {EXPECTED_FIELDS}"
        )
    if not isinstance(title, str):
        raise CatalogRecordError(f"{at}: field 'title' must be a str, got {title!r}")
    description = record.get("description")
    if _missing(description):
        description = ""
    elif not isinstance(description, str):
        raise CatalogRecordError(f"{at}: field 'description' must be a str, got {description!r}")
    category = _label(record, "category", at)
    category = DEFAULT_CATEGORY if category is None else category
    item_id = _label(record, "id", at)
    item_id = str(position) if item_id is None else item_id

    quality = _unit(record, "quality", at)
    quality = DEFAULT_QUALITY if quality is None else quality
    appeal = _unit(record, "appeal", at)
    appeal = quality if appeal is None else appeal
    cost = _number(record, "cost", at)
    if cost is not None and cost < 0:
        raise CatalogRecordError(f"{at}: cost {cost!r} is negative; expected a number >= 0")
    popularity = _number(record, "popularity", at)
    if popularity is not None and popularity <= 0:
        raise CatalogRecordError(f"{at}: popularity {popularity!r} must be > 0")
    return {
        "id": item_id,
        "title": title.strip(),
        "description": description.strip(),
        "category": category,
        "tags": _tags(record.get("tags"), at),
        "quality": quality,
        "appeal": appeal,
        "clickbait": _bool(record, "clickbait", at),
        "cost": DEFAULT_COST if cost is None else cost,
        "popularity": 1.0 if popularity is None else popularity,
    }


def _read_csv(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    rows = iter_csv(path, "utf-8", error=_file_error)
    first = next(rows, None)
    if first is None:
        return [], []
    columns = [c.strip() for c in first[1]]
    if columns:
        columns[0] = columns[0].lstrip("\ufeff")  # the byte-order mark Excel writes
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise CatalogRecordError(f"{path}, line 1: column(s) {repeated} appear more than once in "
                                 f"the header; expected each field once")
    _check_field_names(columns, f"{path}, line 1")
    if "title" not in columns:
        raise CatalogRecordError(
            f"{path}, line 1: the header has no 'title' column (columns: "
            f"{columns}); expected fields {EXPECTED_FIELDS}"
        )
    items, where = [], []
    for lineno, row in rows:
        if not any(cell.strip() for cell in row):
            continue  # a blank line is not an item
        items.append(dict(zip(columns, row)))
        where.append(f"{path}, line {lineno}")
    return items, where


def _read_jsonl(path: Path) -> tuple[list[Any], list[str]]:
    items, where = [], []
    for number, line in iter_lines(path, "utf-8", error=_file_error):
        if number == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise CatalogRecordError(
                f"{path}, line {number}: invalid JSON ({err.msg}); expected one object per "
                f"line with fields {EXPECTED_FIELDS}"
            ) from None
        where.append(f"{path}, line {number}")
    return items, where
