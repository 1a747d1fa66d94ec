"""MIND loader on small news.tsv / behaviors.tsv fixtures (tab-separated, no header)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftrec.envs.sources.datasets import (
    DatasetFileNotFoundError,
    DatasetFormatError,
    load_dataset,
)

NEWS = [
    ("N1", "sports", "football_nfl", "Team wins the final", "A late goal decided it.",
     "https://assets.msn.com/1", "[]", "[]"),
    ("N2", "news", "newsus", "Storm hits the coast", "", "https://assets.msn.com/2", "[]", "[]"),
    ("N3", "lifestyle", "", "Ten pasta recipes", "Quick dinners.", "https://assets.msn.com/3",
     "[]", "[]"),
]
BEHAVIORS = [
    ("1", "U7", "11/15/2019 8:55:22 AM", "N1 N2", "N3-1 N2-0"),
    ("2", "U7", "11/14/2019 9:00:00 PM", "N1 N2", "N1-0 N2-1"),
    ("3", "U9", "11/15/2019 10:00:00 AM", "", "N1-1 N3-0"),
]


def write_mind(root: Path, behaviors: list | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "news.tsv").write_text("".join("\t".join(r) + "\n" for r in NEWS), encoding="utf-8")
    rows = BEHAVIORS if behaviors is None else behaviors
    (root / "behaviors.tsv").write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return root


def test_mind_history_then_clicks_in_time_order_and_impressions(tmp_path: Path) -> None:
    d = load_dataset("mind", write_mind(tmp_path))
    assert (d.domain, d.rating_range, d.items.categories) == ("news", None,
                                                             ("sports", "news", "lifestyle"))
    assert d.items.descriptions[0] == "Sports news. A late goal decided it."
    assert d.items.tags == (("football_nfl",), ("newsus",), ())
    u7 = d.interactions.sequence(d.interactions.user_ids.index("U7"))
    # history N1 N2 before the earliest row (Nov 14, 9 PM: clicked N2), then Nov 15 (clicked N3)
    assert u7.items.tolist() == [0, 1, 1, 2]
    assert np.isnan(u7.ratings).all()
    imp = d.impressions
    assert len(imp) == 3 and imp.items.tolist() == [2, 1, 0, 1, 0, 2]
    assert imp.clicks.tolist() == [1, 0, 0, 1, 1, 0]


@pytest.mark.parametrize(
    "row, match",
    [
        (("1", "U1", "11/15/2019 8:55:22 AM", "N1", "N8-1"), (r"behaviors\.tsv, line 1: news id "
         r"'N8' is not in news\.tsv")),
        (("1", "U1", "2019-11-15 08:55", "N1", "N1-1"), (r"line 1: time '2019-11-15 08:55' is not "
         r"a MIND time")),
        (("1", "U1", "11/15/2019 8:55:22 AM", "N1", "N1-2"), (r"line 1: impression 'N1-2'; "
         r"expected space-separated <news id>-<0\|1> pairs")),
        (("1,U1,11/15/2019 8:55:22 AM,N1,N1-1",), r"line 1: row has 1 field\(s\) \(no tab found"),
    ],
)
def test_mind_bad_behaviors(tmp_path: Path, row: tuple, match: str) -> None:
    write_mind(tmp_path, [row])
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("mind", tmp_path)


def test_mind_empty_and_missing_files(tmp_path: Path) -> None:
    write_mind(tmp_path, [])
    with pytest.raises(DatasetFormatError, match=r"behaviors\.tsv, line 1: file has no data rows"):
        load_dataset("mind", tmp_path)
    (tmp_path / "news.tsv").unlink()
    with pytest.raises(DatasetFileNotFoundError, match=r"news\.tsv: file not found: the MIND "
                       r"format expects its news file news\.tsv"):
        load_dataset("mind", tmp_path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"N1,sports,x,Title,Abs,url,[],[]\n",
         (r"news\.tsv, line 1: row has 1 field\(s\) \(no tab found — is the file separated by "
          r"something else\?\); expected 8 tab-separated")),
        (b"", r"news\.tsv, line 1: file has no data rows; expected tab-separated news rows"),
        ("N1\tsports\tx\tCaf\xe9 news\tA\tu\t[]\t[]\n".encode("latin-1"),
         r"news\.tsv, line 1: cannot decode bytes as utf-8 .*expected a utf-8-encoded text file"),
    ],
    ids=["comma-separated", "empty", "latin-1"],
)
def test_mind_bad_news_file(tmp_path: Path, content: bytes, match: str) -> None:
    write_mind(tmp_path)
    (tmp_path / "news.tsv").write_bytes(content)
    with pytest.raises(DatasetFormatError, match=match):
        load_dataset("mind", tmp_path)
