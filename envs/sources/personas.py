"""Persona generator: short user profiles in natural language, deterministic by seed.

A persona is what a new user would write about themselves — an occupation, one to three
interests named the way people name them ("cooking tutorials", "mortgage rate updates"), and a
consumption style — so encoding its text with the catalog's encoder places the user near the
items of those interests. ``interests`` holds the category ids (the built-in catalog's order) for
analysis and for centring the initial interest; ``budget_sensitivity`` in [0, 1] says how much
the user minds cost (long videos, long reads, high prices), drawn from the style's range.

Example (video)::

    "Busy nurse who unwinds with cooking tutorials and true-crime documentaries; watches short
    clips on her commute."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .builtin import CategorySpec, domain_spec


@dataclass(frozen=True)
class Persona:
    """One user profile: ``text`` is encoded; the rest is ground truth about the text."""

    text: str
    interests: tuple[int, ...]  # category ids, 1 to 3, distinct
    style: str
    budget_sensitivity: float  # in [0, 1]
    interest_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Style:
    name: str
    phrases: tuple[str, ...]  # "{their}" is replaced by the persona's possessive pronoun
    sensitivity: tuple[float, float]  # budget sensitivity range


_STYLES: dict[str, tuple[_Style, ...]] = {
    "video": (
        _Style("binge-watcher", ("binge-watches for hours on weekends",
                                 "happily watches long episodes back to back",
                                 "loses whole evenings to autoplay"), (0.0, 0.3)),
        _Style("commuter", ("watches short clips on {their} commute",
                            "catches quick videos on the train",
                            "fits in a few short videos on {their} lunch break"), (0.6, 1.0)),
        _Style("casual browser", ("browses casually a few times a week",
                                  "scrolls for a while before bed",
                                  "dips in between other things"), (0.3, 0.7)),
        _Style("night owl", ("watches late into the night", "stays up watching one more video",
                             "unwinds with videos after midnight"), (0.1, 0.5)),
        _Style("learner", ("likes in-depth videos that teach something",
                           "takes notes while watching", "saves videos to rewatch later"),
               (0.1, 0.5)),
    ),
    "news": (
        _Style("news junkie", ("checks the news many times a day",
                               "refreshes the front page constantly",
                               "follows every developing story"), (0.1, 0.4)),
        _Style("headline skimmer", ("skims headlines over breakfast",
                                    "reads quick briefs on {their} phone",
                                    "rarely reads past the first paragraph"), (0.6, 1.0)),
        _Style("deep reader", ("reads long features on Sunday mornings",
                               "likes in-depth analysis and long reads",
                               "saves long articles to read in the evening"), (0.0, 0.3)),
        _Style("commuter", ("reads the news on {their} commute",
                            "catches up on stories on the bus"), (0.4, 0.8)),
    ),
    "shopping": (
        _Style("bargain hunter", ("always hunts for deals and discounts",
                                  "compares prices before every purchase",
                                  "waits for sales to buy anything"), (0.7, 1.0)),
        _Style("impulse buyer", ("often buys on a whim", "loves trying new things right away",
                                 "adds things to {their} cart without much thought"),
               (0.0, 0.3)),
        _Style("careful researcher", ("reads every review before buying",
                                      "researches specs and materials carefully",
                                      "buys rarely but chooses well"), (0.3, 0.7)),
        _Style("gift shopper", ("shops mostly for gifts for family and friends",
                                "likes finding thoughtful presents"), (0.3, 0.6)),
        _Style("premium shopper", ("prefers premium brands and quality over price",
                                   "does not mind paying more for something good"), (0.0, 0.2)),
    ),
}

# (occupation, possessive pronoun); pronouns vary so the texts read as different people.
_PEOPLE = (
    ("nurse", "her"), ("software engineer", "his"), ("high school teacher", "her"),
    ("college student", "their"), ("retired accountant", "his"), ("graphic designer", "her"),
    ("truck driver", "his"), ("new parent", "their"), ("pharmacist", "her"),
    ("electrician", "his"), ("marketing manager", "her"), ("graduate student", "their"),
    ("small business owner", "his"), ("freelance writer", "her"), ("paramedic", "his"),
    ("librarian", "her"), ("barista", "their"), ("civil engineer", "his"),
    ("stay-at-home dad", "his"), ("retired teacher", "her"), ("sales rep", "his"),
    ("medical resident", "her"), ("warehouse worker", "his"), ("architect", "their"),
)
_EXAMPLE_PROBABILITY = 0.7
_EXAMPLE_LEADS = ("especially", "above all", "lately", "mostly", "things like")
_ADJECTIVES = ("Busy", "Curious", "Young", "Recently retired", "Hard-working", "Easygoing",
               "Thirty-something", "Night-shift", "Remote-working", "Newly married")
_VERBS: dict[str, tuple[str, ...]] = {
    "video": ("who unwinds with", "who loves", "who is really into", "who watches a lot of",
              "who can't get enough of", "who spends free time on"),
    "news": ("who follows", "who keeps up with", "who reads a lot of", "who cares about",
             "who never misses"),
    "shopping": ("who shops for", "who often buys", "who is always browsing",
                 "who spends money on", "who keeps an eye out for"),
}


def _interest_phrase(rng: np.random.Generator, cat: CategorySpec) -> str:
    """How a person names an interest, often with a concrete example from the category's
    vocabulary ("cooking tutorials, especially sourdough bread"): people describe tastes by
    examples, and the example ties the profile to the same words the listings use."""
    phrase = cat.interests[int(rng.integers(len(cat.interests)))]
    if rng.random() < _EXAMPLE_PROBABILITY:
        values = next(iter(cat.slots.values()))
        example = re.sub(r"^(a|an|the) ", "", values[int(rng.integers(len(values)))])
        lead = _EXAMPLE_LEADS[int(rng.integers(len(_EXAMPLE_LEADS)))]
        phrase = f"{phrase} ({lead} {example})"
    return phrase


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def generate_personas(domain: str, n: int, seed: int = 0) -> list[Persona]:
    """``n`` personas of the built-in ``domain``; the same (domain, n, seed) gives the same list.

    Persona ``i`` depends only on ``(domain, seed, i)``, so asking for more personas extends
    the list instead of reshuffling it.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    spec = domain_spec(domain)
    styles = _STYLES[domain]
    c = len(spec.categories)
    key = int.from_bytes(domain.encode("utf-8"), "little") % (2**32)
    personas = []
    for i in range(int(n)):
        rng = np.random.default_rng([int(seed), key, i])
        k = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
        cats = tuple(int(j) for j in rng.choice(c, size=k, replace=False))
        names = [_interest_phrase(rng, spec.categories[j]) for j in cats]
        job, their = _PEOPLE[int(rng.integers(len(_PEOPLE)))]
        style = styles[int(rng.integers(len(styles)))]
        phrase = style.phrases[int(rng.integers(len(style.phrases)))].format(their=their)
        adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
        verb = _VERBS[domain][int(rng.integers(len(_VERBS[domain])))]
        text = f"{adjective} {job} {verb} {_join(names)}; {phrase}."
        low, high = style.sensitivity
        personas.append(Persona(
            text=text,
            interests=cats,
            style=style.name,
            budget_sensitivity=round(float(rng.uniform(low, high)), 4),
            interest_names=tuple(spec.categories[j].name for j in cats),
        ))
    return personas
