"""Built-in catalog domains: text data per domain and the generator that turns it into records.

``DOMAINS`` names the domains; ``domain_spec(name)`` returns a domain's ``DomainSpec`` (its
categories and vocabulary); ``generate_records(name, seed, num_items)`` returns the records and
the category order that ``load_catalog`` hands to ``Catalog.from_records``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .generator import generate
from .spec import CategorySpec, DomainSpec

DOMAINS: tuple[str, ...] = ("video", "news", "shopping")

__all__ = ["DOMAINS", "CategorySpec", "DomainSpec", "domain_spec", "generate_records"]


def domain_spec(domain: str) -> DomainSpec:
    """The text data of a built-in domain (each lives in its own module of this package)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown catalog domain {domain!r}; expected one of {list(DOMAINS)}")
    return import_module(f".{domain}", __name__).SPEC


def generate_records(
    domain: str, seed: int = 0, num_items: int | None = None
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Records of the built-in ``domain`` and its category names in category-id order."""
    spec = domain_spec(domain)
    return generate(spec, seed=seed, num_items=num_items), tuple(c.name for c in spec.categories)
