"""The neutral structure every real-data loader produces, and the errors it raises.

Each format (MovieLens, Amazon Reviews 2023, MIND) is parsed into the same three pieces so that
cohort building and calibration never look at a file format again:

- ``DatasetItems``: M items with id, title, description, tags, category name, and optional
  ``quality``/``cost`` (NaN where the data has none — filled later by ``cohort.py``, never guessed
  silently here);
- ``Interactions``: every user's time-ordered consumption sequence, stored as flat arrays in CSR
  layout (``offsets`` (U + 1,) into ``items``/``timestamps``/``ratings`` (n,)). Flat arrays keep the
  25M-row MovieLens at ~25 bytes a row; ``Interactions.sequence(u)`` gives one user's view;
- ``Impressions`` (MIND only): the shown lists with click labels, CSR over impressions.

Errors: ``DatasetFormatError`` (a ``ValueError``) names the file, the 1-based line and what was
expected; ``DatasetFileNotFoundError`` (also a ``FileNotFoundError``) names the missing file and
where the format expects it. A loader raises on the first bad row; it never returns a partial
catalog.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetFormatError(ValueError):
    """A data file does not match its format: names the file, the line and what was expected."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        self.expected = expected
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        message = f"{where}: {problem}"
        if expected:
            message += f"; expected {expected}"
        super().__init__(message)


class DatasetFileNotFoundError(DatasetFormatError, FileNotFoundError):
    """A file the format requires is missing (the message says where the format expects it)."""

    def __init__(self, path: str | Path, fmt: str, role: str) -> None:
        super().__init__(
            path,
            f"file not found: the {fmt} format expects its {role} at this path",
            expected=f"{Path(path).name} in {Path(path).parent}",
        )


def require_file(path: Path, fmt: str, role: str) -> Path:
    """``path`` if it is a file, else a ``DatasetFileNotFoundError`` naming it and its role."""
    if not path.is_file():
        raise DatasetFileNotFoundError(path, fmt, role)
    return path


def require_nonempty(path: Path, rows: int, what: str) -> None:
    """An empty file is an error, not an empty catalog: the caller asked for data that isn't there."""
    if rows == 0:
        raise DatasetFormatError(path, "file has no data rows", line=1, expected=what)


def require_distinct(path: Path, ids: Sequence[str], label: str, expected: str) -> None:
    """Two items under one id would make the interactions that name it ambiguous."""
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise DatasetFormatError(path, f"{label} {dup} appears more than once", expected=expected)


@dataclass(frozen=True)
class DatasetItems:
    """M items. ``quality`` and ``cost`` are float32 (M,), NaN where the data has no value."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    categories: tuple[str, ...]  # per item, its category name
    quality: np.ndarray
    cost: np.ndarray

    def __post_init__(self) -> None:
        m = len(self.ids)
        for name in ("titles", "descriptions", "tags", "categories"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"DatasetItems.{name} has {len(getattr(self, name))} entries, "
                                 f"expected {m} (one per id)")
        for name in ("quality", "cost"):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            if arr.shape != (m,):
                raise ValueError(f"DatasetItems.{name} must be ({m},), got {arr.shape}")
            object.__setattr__(self, name, arr)
        if len(set(self.ids)) != m:
            raise ValueError("DatasetItems.ids must be distinct")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> DatasetItems:
        """Items at the (sorted) indices ``keep``."""
        idx = [int(i) for i in keep]
        return DatasetItems(
            ids=tuple(self.ids[i] for i in idx),
            titles=tuple(self.titles[i] for i in idx),
            descriptions=tuple(self.descriptions[i] for i in idx),
            tags=tuple(self.tags[i] for i in idx),
            categories=tuple(self.categories[i] for i in idx),
            quality=self.quality[keep],
            cost=self.cost[keep],
        )


@dataclass(frozen=True)
class UserSequence:
    """One user's time-ordered interactions (views into the flat arrays)."""

    user_id: str
    items: np.ndarray  # (T,) int64 item indices
    timestamps: np.ndarray  # (T,) int64 seconds
    ratings: np.ndarray  # (T,) float32, NaN where the log has no rating (clicks)
    profile: str = ""


@dataclass(frozen=True)
class Interactions:
    """U users' sequences in CSR layout, each sorted by (timestamp, file order)."""

    user_ids: tuple[str, ...]
    offsets: np.ndarray  # (U + 1,) int64
    items: np.ndarray  # (n,) int64
    timestamps: np.ndarray  # (n,) int64
    ratings: np.ndarray  # (n,) float32, NaN = no rating
    profiles: tuple[str, ...] = ()  # (U,) profile texts, or () when the data has none

    def __post_init__(self) -> None:
        u, n = len(self.user_ids), int(np.asarray(self.items).shape[0])
        if np.asarray(self.offsets).shape != (u + 1,):
            raise ValueError(f"Interactions.offsets must be ({u + 1},)")
        if int(self.offsets[0]) != 0 or int(self.offsets[-1]) != n:
            raise ValueError("Interactions.offsets must start at 0 and end at len(items)")
        if self.profiles and len(self.profiles) != u:
            raise ValueError(f"Interactions.profiles must have {u} entries or none")

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def lengths(self) -> np.ndarray:
        """(U,) sequence lengths."""
        return np.diff(self.offsets)

    def sequence(self, u: int) -> UserSequence:
        a, b = int(self.offsets[u]), int(self.offsets[u + 1])
        return UserSequence(
            user_id=self.user_ids[u],
            items=self.items[a:b],
            timestamps=self.timestamps[a:b],
            ratings=self.ratings[a:b],
            profile=self.profiles[u] if self.profiles else "",
        )

    def __iter__(self):
        return (self.sequence(u) for u in range(self.num_users))

    def user_index(self) -> np.ndarray:
        """(n,) the user index of each row."""
        return np.repeat(np.arange(self.num_users, dtype=np.int64), self.lengths())


@dataclass(frozen=True)
class Impressions:
    """Shown lists (MIND): impression i showed ``items[offsets[i]:offsets[i+1]]`` to ``users[i]``
    at ``timestamps[i]``, with ``clicks`` (0/1) aligned to the items."""

    users: np.ndarray  # (I,) int64 user index
    timestamps: np.ndarray  # (I,) int64
    offsets: np.ndarray  # (I + 1,) int64
    items: np.ndarray  # (n,) int64
    clicks: np.ndarray  # (n,) int8

    def __len__(self) -> int:
        return int(self.users.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: items, interaction sequences, the rating scale and its provenance."""

    name: str  # "movielens", "amazon", "mind"
    domain: str  # the driftrec domain whose scenario fits best: "video", "shopping", "news"
    items: DatasetItems
    interactions: Interactions
    rating_range: tuple[float, float] | None  # (low, high), None when the log has no ratings
    files: tuple[str, ...]
    impressions: Impressions | None = None

    def summary(self) -> dict[str, object]:
        """Counts for logs and result files."""
        return {
            "name": self.name,
            "domain": self.domain,
            "items": len(self.items),
            "users": self.interactions.num_users,
            "interactions": len(self.interactions),
            "rating_range": self.rating_range,
            "impressions": 0 if self.impressions is None else len(self.impressions),
            "files": list(self.files),
        }


class InteractionBuilder:
    """Collects rows (user id, item index, timestamp, rating) chunk by chunk, then sorts once.

    Python lists of ints would cost ~100 bytes a row at 25M rows; ``array`` buffers cost 8 and are
    turned into numpy arrays without copying element by element.
    """

    def __init__(self) -> None:
        from array import array

        self._user_index: dict[str, int] = {}
        self.user_ids: list[str] = []
        self._users = array("q")
        self._items = array("q")
        self._times = array("q")
        self._ratings = array("f")

    def add(self, user: str, item: int, timestamp: int, rating: float) -> None:
        idx = self._user_index.get(user)
        if idx is None:
            idx = self._user_index[user] = len(self.user_ids)
            self.user_ids.append(user)
        self._users.append(idx)
        self._items.append(item)
        self._times.append(timestamp)
        self._ratings.append(rating)

    def __len__(self) -> int:
        return len(self._items)

    def build(
        self,
        item_ids: Sequence[str],
        profiles: dict[str, str] | None = None,
        tie_seed: int = 0,
    ) -> Interactions:
        """Sort by (user, timestamp, ``tie_key(user id, item id, tie_seed)``, file order).

        Why the hash: logs with second-resolution times hold many events in the same second
        (46% of consecutive events in ml-100k), and some releases list them sorted by item id. A
        file's row order inside one second is then a signal a sequence model can learn, and the
        held-out "next" item would depend on how the file happened to be written. Same-second
        events are therefore ordered by a seeded hash of (user id, item id): the order is fixed
        (reproducible) but carries no information, and it is the same whatever order the file
        lists them in. Split, calibration replay and every metric read this one order. Only
        rows with the same user, item and second fall back to file order.
        """
        users = np.frombuffer(self._users, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        items = np.frombuffer(self._items, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        times = np.frombuffer(self._times, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        ratings = (np.frombuffer(self._ratings, dtype=np.float32) if len(self)
                   else np.zeros(0, np.float32))
        tie = tie_keys(self.user_ids, item_ids, tie_seed)
        tie_rows = tie.user[users] ^ tie.item[items]
        # Users are renumbered in sorted-id order so the result does not depend on file order.
        order_ids = sorted(range(len(self.user_ids)), key=lambda i: _id_key(self.user_ids[i]))
        rank = np.empty(len(self.user_ids), dtype=np.int64)
        rank[np.asarray(order_ids, dtype=np.int64)] = np.arange(len(order_ids))
        users = rank[users] if len(self) else users
        perm = np.lexsort((np.arange(len(items)), _splitmix64(tie_rows), times, users))
        counts = np.bincount(users, minlength=len(order_ids))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        ids = tuple(self.user_ids[i] for i in order_ids)
        prof = tuple(profiles.get(u, "") for u in ids) if profiles else ()
        return Interactions(
            user_ids=ids,
            offsets=offsets,
            items=np.ascontiguousarray(items[perm]),
            timestamps=np.ascontiguousarray(times[perm]),
            ratings=np.ascontiguousarray(ratings[perm]),
            profiles=prof,
        )


@dataclass(frozen=True)
class TieKeys:
    """64-bit keys per user id and per item id; a row's tie key mixes its user's and item's."""

    user: np.ndarray  # (U,) uint64
    item: np.ndarray  # (M,) uint64


def tie_keys(user_ids: Sequence[str], item_ids: Sequence[str], seed: int) -> TieKeys:
    """Keyed BLAKE2b of each id (ids, not indices, so the order survives a reordered items file)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"tie_seed must be a non-negative int, got {seed!r}")
    if seed.bit_length() > 512:
        raise ValueError(f"tie_seed must be below 2**512 (BLAKE2b's 64-byte key), got a "
                         f"{seed.bit_length()}-bit int")
    key = seed.to_bytes(64, "little")

    def digest(prefix: bytes, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter(
            (int.from_bytes(hashlib.blake2b(prefix + i.encode("utf-8"), digest_size=8,
                                            key=key).digest(), "little") for i in ids),
            dtype=np.uint64, count=len(ids))

    return TieKeys(user=digest(b"u:", user_ids), item=digest(b"i:", item_ids))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: mixes the XOR of two keys so neither key's order shows through."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _id_key(value: str) -> tuple[int, int | str]:
    """Numeric ids sort numerically ("2" < "10"), others lexicographically after them."""
    return (0, int(value)) if value.isdigit() else (1, value)


def restrict(dataset: Dataset, max_users: int | None, max_items: int | None) -> Dataset:
    """Subsample: keep the ``max_items`` most-interacted items (ties: lower index), drop other
    items' interactions, then keep the first ``max_users`` users (in id order) who still have one.

    Deterministic on purpose: a subsample is part of an experiment's configuration and must be
    reproducible from the flags alone.
    """
    for name, value in (("max_users", max_users), ("max_items", max_items)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    items, inter = dataset.items, dataset.interactions
    m = len(items)
    item_map = np.arange(m, dtype=np.int64)
    if max_items is not None and max_items < m:
        counts = np.bincount(inter.items, minlength=m)
        keep = np.sort(np.argsort(-counts, kind="stable")[:max_items])
        item_map = np.full(m, -1, dtype=np.int64)
        item_map[keep] = np.arange(keep.shape[0])
        items = items.subset(keep)
    user_of_row = inter.user_index()
    new_items = item_map[inter.items]
    row_ok = new_items >= 0
    users_with = np.unique(user_of_row[row_ok])
    if max_users is not None:
        users_with = users_with[:max_users]
    user_ok = np.zeros(inter.num_users, dtype=bool)
    user_ok[users_with] = True
    rows = row_ok & user_ok[user_of_row]
    counts = np.bincount(user_of_row[rows], minlength=inter.num_users)[users_with]
    new_inter = Interactions(
        user_ids=tuple(inter.user_ids[u] for u in users_with),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        items=new_items[rows],
        timestamps=inter.timestamps[rows],
        ratings=inter.ratings[rows],
        profiles=tuple(inter.profiles[u] for u in users_with) if inter.profiles else (),
    )
    impressions = dataset.impressions
    if impressions is not None:
        impressions = _restrict_impressions(impressions, item_map, users_with, inter.num_users)
    return Dataset(
        name=dataset.name,
        domain=dataset.domain,
        items=items,
        interactions=new_inter,
        rating_range=dataset.rating_range,
        files=dataset.files,
        impressions=impressions,
    )


def _restrict_impressions(
    imp: Impressions, item_map: np.ndarray, users_kept: np.ndarray, num_users: int
) -> Impressions:
    user_map = np.full(num_users, -1, dtype=np.int64)
    user_map[users_kept] = np.arange(users_kept.shape[0])
    imp_of_row = np.repeat(np.arange(len(imp)), np.diff(imp.offsets))
    new_items = item_map[imp.items]
    rows = (new_items >= 0) & (user_map[imp.users][imp_of_row] >= 0)
    counts = np.bincount(imp_of_row[rows], minlength=len(imp))
    keep_imp = counts > 0
    return Impressions(
        users=user_map[imp.users[keep_imp]],
        timestamps=imp.timestamps[keep_imp],
        offsets=np.concatenate([[0], np.cumsum(counts[keep_imp])]).astype(np.int64),
        items=new_items[rows],
        clicks=imp.clicks[rows],
    )


def check_fields(
    path: Path, line: int, fields: Sequence[str], count: int, sep_name: str, names: str
) -> None:
    """A row with the wrong number of fields is almost always a wrong separator: say so."""
    if len(fields) != count:
        hint = ""
        if len(fields) == 1:
            hint = f" (no {sep_name} found — is the file separated by something else?)"
        raise DatasetFormatError(
            path,
            f"row has {len(fields)} field(s){hint}",
            line=line,
            expected=f"{count} {sep_name}-separated fields ({names})",
        )
