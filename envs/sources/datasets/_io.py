"""Line readers that turn decoding problems into ``DatasetFormatError`` with a line number.

Why a helper: Python reports a ``UnicodeDecodeError`` with a byte offset into an 8 KiB buffer, which
tells a user nothing; here the error names the file, the line and the expected encoding.
Files are read line by line (never whole), so the 25M-row logs stream. The catalog reader uses
the same functions with its own error class (``error=``), so both speak alike.

CSV files are parsed strictly: a quoted field left open at the end of the file is an error, and
every row must have as many fields as the header — a row with more is almost always an unquoted
comma inside a title, which would otherwise shift every later column silently.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from .base import DatasetFormatError

#: ``error(path, problem, line=..., expected=...)`` builds the exception a reader raises.
ErrorFactory = Callable[..., Exception]


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _decoded(
    path: Path, encoding: str, error: ErrorFactory = DatasetFormatError
) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its newline). Decoding line by line (not the
    text layer's 8 KiB blocks) is what lets an encoding error name its line."""
    with _open_binary(path) as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise error(
                    path, f"cannot decode bytes as {encoding} ({exc.reason} at byte "
                    f"{exc.start} of the line)", line=lineno,
                    expected=f"a {encoding}-encoded text file",
                ) from None
            if "\x00" in line:
                raise error(
                    path, "line contains NUL characters (UTF-16 or binary file?)", line=lineno,
                    expected=f"a {encoding}-encoded text file",
                )
            yield lineno, line


def iter_lines(
    path: Path, encoding: str, error: ErrorFactory = DatasetFormatError
) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline), streamed."""
    for lineno, line in _decoded(path, encoding, error):
        yield lineno, line.rstrip("\r\n")


def iter_csv(
    path: Path, encoding: str = "utf-8", error: ErrorFactory = DatasetFormatError
) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number where the row starts, fields) with the ``csv`` module, streamed.

    The first row is the header; each later non-blank row must have as many fields (blank
    rows come through as ``[]`` for the caller to skip).
    """
    current = [0]

    def lines() -> Iterator[str]:
        for lineno, line in _decoded(path, encoding, error):
            current[0] = lineno
            yield line

    reader = csv.reader(lines(), strict=True)
    header: list[str] | None = None
    try:
        start = 1
        for row in reader:
            if header is None:
                header = row
            elif row and len(row) != len(header):
                raise error(
                    path, f"row has {len(row)} fields but the header has {len(header)} "
                    f"({','.join(header)})", line=start,
                    expected=f"{len(header)} comma-separated fields per row (a field that "
                    "contains a comma must be quoted)",
                )
            yield start, row
            start = current[0] + 1
    except csv.Error as exc:
        raise error(path, f"malformed CSV ({exc})", line=current[0],
                    expected="RFC 4180 comma-separated values") from None


def check_header(path: Path, header: list[str] | None, required: tuple[str, ...]) -> dict[str, int]:
    """Column positions of ``required`` in ``header`` (a missing column is an error naming it)."""
    if header is None:
        raise DatasetFormatError(path, "file is empty", line=1,
                                 expected="a header line with columns " + ",".join(required))
    cols = [c.strip().lstrip("\ufeff") for c in header]
    missing = [c for c in required if c not in cols]
    if missing:
        hint = ""
        if len(cols) == 1 and any(s in cols[0] for s in ("\t", ";", "|")):
            hint = " (the header has no commas — wrong separator?)"
        raise DatasetFormatError(
            path, f"missing column(s) {missing} in header {cols}{hint}", line=1,
            expected="comma-separated columns " + ",".join(required),
        )
    return {c: cols.index(c) for c in required}


def parse_int(path: Path, line: int, value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DatasetFormatError(path, f"{what} {value!r} is not an integer", line=line,
                                 expected=f"an integer {what}") from None


def parse_rating(path: Path, line: int, value: str, low: float, high: float, step: float) -> float:
    """A rating in [low, high] on a grid of ``step`` (1 for ml-100k, 0.5 for ml-latest)."""
    try:
        r = float(value)
    except ValueError:
        raise DatasetFormatError(path, f"rating {value!r} is not a number", line=line,
                                 expected=f"a rating in [{low:g}, {high:g}]") from None
    if not (low <= r <= high) or abs(r / step - round(r / step)) > 1e-6:
        raise DatasetFormatError(
            path, f"rating {value!r} is out of range", line=line,
            expected=f"a rating in [{low:g}, {high:g}] in steps of {step:g}",
        )
    return r
