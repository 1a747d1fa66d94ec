"""Tests for envs/sources/personas.py."""

from __future__ import annotations

import pytest
from driftrec.envs.sources.builtin import DOMAINS, generate_records
from driftrec.envs.sources.personas import Persona, generate_personas


@pytest.mark.parametrize("domain", DOMAINS)
def test_personas_are_deterministic_by_seed(domain: str) -> None:
    first = generate_personas(domain, 50, seed=7)
    assert first == generate_personas(domain, 50, seed=7)
    assert [p.text for p in first] != [p.text for p in generate_personas(domain, 50, seed=8)]
    # Persona i depends on (domain, seed, i) only: a longer list extends a shorter one.
    assert generate_personas(domain, 20, seed=7) == first[:20]


@pytest.mark.parametrize("domain", DOMAINS)
def test_persona_interests_are_valid_categories(domain: str) -> None:
    _, categories = generate_records(domain, num_items=1)
    personas = generate_personas(domain, 200, seed=0)
    assert all(isinstance(p, Persona) for p in personas)
    counts = set()
    for p in personas:
        assert 1 <= len(p.interests) <= 3
        assert len(set(p.interests)) == len(p.interests)
        assert all(0 <= k < len(categories) for k in p.interests)
        assert p.interest_names == tuple(categories[k] for k in p.interests)
        assert 0.0 <= p.budget_sensitivity <= 1.0
        assert p.text.endswith(".") and len(p.text.split()) >= 8
        counts.add(len(p.interests))
    assert counts == {1, 2, 3}
    assert len({p.text for p in personas}) == len(personas)
    assert len({k for p in personas for k in p.interests}) == len(categories)


def test_styles_set_budget_sensitivity() -> None:
    personas = generate_personas("shopping", 300, seed=0)
    hunters = [p.budget_sensitivity for p in personas if p.style == "bargain hunter"]
    impulse = [p.budget_sensitivity for p in personas if p.style == "impulse buyer"]
    assert hunters and impulse
    assert min(hunters) >= 0.7 and max(impulse) <= 0.3


def test_personas_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown catalog domain 'music'; expected one of"):
        generate_personas("music", 3, seed=0)
    with pytest.raises(ValueError, match=r"n must be a non-negative int, got -1"):
        generate_personas("video", -1, seed=0)
    assert generate_personas("video", 0, seed=0) == []
