"""Typed containers for the built-in catalog's text data: one ``CategorySpec`` per category.

Each category carries its own vocabulary (``slots``), title and description templates and tags,
so a generated listing names things only that category would name — which is what lets a
language model place it. Templates use ``{slot}`` placeholders; ``{Slot}`` (capitalised) inserts
the value in title case, and ``{slot2}`` draws a second, different value from ``slot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategorySpec:
    """Vocabulary and templates of one category.

    ``cost`` is (median, log-normal sigma, low, high): video minutes, news reading minutes or a
    price in dollars. ``interests`` are how a person would say they like the category ("cooking
    tutorials"), used by the persona generator.
    """

    name: str
    interests: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    tags: tuple[str, ...]
    cost: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        for key, values in self.slots.items():
            if len(values) < 2:
                raise ValueError(f"category {self.name!r}: slot {key!r} needs >= 2 values")
        if len(self.titles) < 2 or len(self.descriptions) < 2:
            raise ValueError(f"category {self.name!r} needs >= 2 title and description templates")
        if not len(self.interests) or len(self.tags) < 3:
            raise ValueError(f"category {self.name!r} needs interests and >= 3 tags")


@dataclass(frozen=True)
class DomainSpec:
    """All categories of a domain plus the vocabulary they share.

    ``closers`` are optional second sentences; ``clickbait_titles``/``clickbait_descriptions``
    (empty for domains without clickbait) are sensational templates that still name the
    category's ``{subject}``, so a clickbait item sits in its category's region of meaning.
    """

    name: str
    categories: tuple[CategorySpec, ...]
    shared: dict[str, tuple[str, ...]]
    closers: tuple[str, ...] = ()
    closer_probability: float = 0.35
    clickbait_rate: float = 0.0
    clickbait_titles: tuple[str, ...] = ()
    clickbait_descriptions: tuple[str, ...] = ()
    num_items: int = 1800
    cost_unit: str = "minutes"
    cost_decimals: int = 1
    price_endings: tuple[float, ...] = field(default=())
