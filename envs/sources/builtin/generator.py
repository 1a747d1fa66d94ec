"""Deterministic generator of built-in catalog records from a ``DomainSpec``.

Every draw comes from one ``numpy.random.Generator`` seeded by the caller (no global RNG), in a
fixed order, so the same seed gives the same catalog on any machine.

Per item:

- category: a Dirichlet(40) share of the items per category (balanced but not uniform);
- title and description: templates of the category filled with its vocabulary; a title already
  used is redrawn, so titles are unique;
- quality ~ Beta(2, 2), *independent of the text*; appeal = clip(quality + N(0, 0.12));
- clickbait (``clickbait_rate`` of the items): sensational templates, quality ~ U(0.02, 0.3),
  appeal ~ U(0.8, 1.0);
- cost ~ log-normal(median, sigma) of the category, clipped to its range;
- popularity: Zipf-like, rank^-0.8 by appeal plus noise, scaled so the most popular item is 1.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .spec import CategorySpec, DomainSpec

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+?)(\d?)\}")
_MAX_TITLE_TRIES = 200
_ZIPF_EXPONENT = 0.8


_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to",
     "with", "vs", "your"}
)
_ARTICLE = re.compile(r"^(a|an|the) ", re.IGNORECASE)
_AFTER_BREAK = re.compile(r"(: |\| |- )([a-z])")  # "Beginner Woodworking: A Deck"
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[AEIOaeio]|[Uu]n)")


def title_case(text: str) -> str:
    """Capitalise words except short function words; acronyms and 'iPhone' stay as they are."""
    out = []
    for word in text.split(" "):
        if word and word[0].islower() and word not in _SMALL_WORDS:
            word = word[0].upper() + word[1:]
        out.append(word)
    return " ".join(out)


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _tidy(text: str) -> str:
    """'a apple' → 'an apple' (slot values are joined to fixed text) and a capital first letter."""
    return sentence_case(_A_BEFORE_VOWEL.sub(lambda m: m.group(1) + "n ", text))


class _Filler:
    """Fills templates for one item, drawing each slot once so title and description agree."""

    def __init__(self, rng: np.random.Generator, cat: CategorySpec, shared: dict) -> None:
        self.rng = rng
        self.vocab = {**shared, **cat.slots}
        # "{subject}" in domain-wide templates (clickbait) means the category's first slot, so
        # a sensational title still names, say, the dish of a cooking video.
        self.alias = {"subject": next(iter(cat.slots))}
        self.chosen: dict[str, str] = {}

    def value(self, name: str, suffix: str) -> str:
        name = self.alias.get(name, name)
        key = name + suffix
        if key not in self.chosen:
            try:
                values = self.vocab[name]
            except KeyError:
                raise KeyError(f"template slot {{{name}}} has no vocabulary") from None
            taken = {v for k, v in self.chosen.items() if k.rstrip("0123456789") == name}
            options = [v for v in values if v not in taken] or list(values)
            self.chosen[key] = options[int(self.rng.integers(len(options)))]
        return self.chosen[key]

    def fill(self, template: str) -> str:
        def sub(match: re.Match[str]) -> str:
            name, suffix = match.group(1), match.group(2)
            value = self.value(name.lower(), suffix)
            if name.lower() == "subject":
                # Domain-wide templates put their own words around the subject ("The {Subject}
                # Video"), so its leading article would read as "The A ...".
                value = _ARTICLE.sub("", value)
            return title_case(value) if name[0].isupper() else value

        return _tidy(_PLACEHOLDER.sub(sub, template))

    def pick(self, templates: tuple[str, ...]) -> str:
        return self.fill(templates[int(self.rng.integers(len(templates)))])


def _cost(rng: np.random.Generator, cat: CategorySpec, spec: DomainSpec) -> float:
    median, sigma, low, high = cat.cost
    value = float(np.clip(median * np.exp(sigma * rng.standard_normal()), low, high))
    if spec.price_endings:
        ending = spec.price_endings[int(rng.integers(len(spec.price_endings)))]
        return float(max(np.floor(value), 0.0) + ending)
    if spec.cost_decimals == 0:
        return float(max(round(value), low))
    return round(value, spec.cost_decimals)


def generate(spec: DomainSpec, seed: int = 0, num_items: int | None = None) -> list[dict[str, Any]]:
    """Records (dicts for ``Catalog.from_records``) of ``num_items`` items of ``spec``."""
    n = spec.num_items if num_items is None else int(num_items)
    if n < 1:
        raise ValueError(f"num_items must be >= 1, got {num_items}")
    rng = np.random.default_rng([seed, _domain_key(spec.name)])
    c = len(spec.categories)
    shares = rng.dirichlet(np.full(c, 40.0))
    counts = np.floor(shares * n).astype(int)
    counts[np.argsort(-(shares * n - counts))[: n - counts.sum()]] += 1
    order = rng.permutation(np.repeat(np.arange(c), counts))

    records: list[dict[str, Any]] = []
    titles: set[str] = set()
    for i, k in enumerate(order):
        cat = spec.categories[int(k)]
        bait = bool(spec.clickbait_rate > 0 and rng.random() < spec.clickbait_rate)
        title_templates = spec.clickbait_titles if bait else cat.titles
        for _ in range(_MAX_TITLE_TRIES):
            filler = _Filler(rng, cat, spec.shared)
            title = _AFTER_BREAK.sub(lambda m: m.group(1) + m.group(2).upper(),
                                     filler.pick(title_templates))
            if title not in titles:
                break
        else:
            raise RuntimeError(
                f"{spec.name}/{cat.name}: could not draw a new title after {_MAX_TITLE_TRIES} "
                "tries; the category's vocabulary is too small for this many items"
            )
        titles.add(title)
        description = filler.pick(cat.descriptions)
        if bait:
            description = filler.pick(spec.clickbait_descriptions) + " " + description
        elif spec.closers and rng.random() < spec.closer_probability:
            description += " " + filler.pick(spec.closers)
        base_tag = cat.name.lower()
        pool = [t for t in cat.tags if t.lower() != base_tag]
        num_tags = int(rng.integers(2, 4))
        tags = [base_tag] + [pool[j] for j in rng.choice(len(pool), size=num_tags, replace=False)]
        if bait:
            quality = float(rng.uniform(0.02, 0.3))
            appeal = float(rng.uniform(0.8, 1.0))
        else:
            quality = float(rng.beta(2.0, 2.0))
            appeal = float(np.clip(quality + 0.12 * rng.standard_normal(), 0.0, 1.0))
        records.append({
            "id": f"{spec.name}-{i:05d}",
            "title": title,
            "description": description,
            "category": cat.name,
            "tags": tags,
            "quality": round(quality, 4),
            "appeal": round(appeal, 4),
            "clickbait": bait,
            "cost": _cost(rng, cat, spec),
        })

    appeal = np.array([r["appeal"] for r in records])
    noisy = appeal + 0.15 * rng.standard_normal(n)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(-noisy, kind="stable")] = np.arange(n)
    popularity = (ranks + 1.0) ** -_ZIPF_EXPONENT
    for record, pop in zip(records, popularity):
        record["popularity"] = float(pop)
    return records


def _domain_key(name: str) -> int:
    """A stable integer per domain name (Python's ``hash`` of a str is salted per process)."""
    return int.from_bytes(name.encode("utf-8"), "little") % (2**32)
