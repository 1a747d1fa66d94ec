"""Text cleaning applied by every encoder before encoding.

Listings scraped from the web carry markup, links and stray control characters that say nothing
about an item's meaning but shift its embedding (and would split the cache between two spellings
of the same text). ``clean_text`` removes them so equal content maps to equal vectors.
"""

from __future__ import annotations

import html
import re
import unicodedata

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A tag starts with a letter, '/' or '!' so that "a < b" and "x<3" in prose survive.
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"']+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Strip HTML (tags, comments, scripts; entities unescaped), URLs and control characters,
    and collapse whitespace to single spaces.

    Idempotent: ``clean_text(clean_text(t)) == clean_text(t)``, so encoders may clean text that a
    cache layer already cleaned.

    >>> clean_text("<p>Great&nbsp;<b>pasta</b> recipe</p> see https://x.io/a?b=1 \\x00 now")
    'Great pasta recipe see now'
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects str, got {type(text).__name__}")
    if "<" in text:
        text = _SCRIPT_STYLE.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _TAG.sub(" ", text)
    # Unescape after removing tags so "&lt;b&gt;" (an escaped tag shown as text) stays text.
    # Loop because double-escaped input ("&amp;lt;") is common in scraped feeds.
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" ", text)
    # Control (Cc) and format (Cf, e.g. zero-width) characters; whitespace controls become spaces.
    if not text.isprintable():  # fast path: most listings have nothing to strip here
        text = "".join(
            " " if ch.isspace() else ch
            for ch in text
            if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
        )
    return _WHITESPACE.sub(" ", text).strip()
