"""clean_text: markup, links and control characters removed; meaning kept."""

from __future__ import annotations

import pytest
from driftrec.encoders import clean_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Great <b>pasta</b> recipe</p>", "Great pasta recipe"),
        ("Tom &amp; Jerry&nbsp;&#8211; classic", "Tom & Jerry \u2013 classic"),
        ("see https://example.com/a?b=1 and www.foo.org/x now", "see and now"),
        ("tab\there\nnew  line\r\n", "tab here new line"),
        ("bell\x07 null\x00 zero\u200bwidth", "bell null zerowidth"),
        ("<script>alert('x')</script>Safe<style>p{}</style> text", "Safe text"),
        ("a <!-- hidden --> b", "a b"),
        ("3 < 5 and x<y", "3 < 5 and x<y"),
        ("&lt;b&gt;shown as text&lt;/b&gt;", "<b>shown as text</b>"),
        ("   ", ""),
        ("", ""),
    ],
)
def test_clean_text_cases(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_is_idempotent() -> None:
    raw = "<div>Caf\u00e9 &amp;amp; bar\u00a0 https://x.y/z \x1b[0m</div>"
    once = clean_text(raw)
    assert clean_text(once) == once


def test_clean_text_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="expects str, got bytes"):
        clean_text(b"bytes")  # type: ignore[arg-type]
