"""The one table model of a result: what the terminal (``terminal.py``) and the report (``html.py``) both draw.

    Table(title, columns, rows, notes)   # rows: one list of cells per row; a cell is text or a Styled

A result type turns its ``results.json`` dict into Tables once (``evals.py``, ``science.py``,
``offline.py``); how a cell looks (bold, muted interval, link) is said here and drawn by each renderer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MISSING = "-"  # a figure that does not exist (None, NaN); the report draws it as an en dash


@dataclass(frozen=True)
class Styled:
    """A cell with emphasis: ``text`` in bold or italic, then a muted ``aside`` (an interval); ``link``: an
    in-page anchor of the report (the terminal shows the text alone)."""

    text: str
    bold: bool = False
    italic: bool = False
    aside: str = ""
    link: str = ""


Cell = str | Styled


@dataclass
class Table:
    """``title``: what is measured, on what (one line); ``columns``: the header; ``rows``: cells, one list per
    row; ``notes``: lines under the table (the protocol, a verdict, published figures), each a plain sentence;
    ``left``: indices of the text columns (left-aligned, the rest are figures); ``style``: extra CSS classes
    of the report's table (``compact``, ``overview``)."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left: tuple[int, ...] = (0,)
    style: str = ""

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {len(cells)} cells in a table of {len(self.columns)} columns")
        self.rows.append(list(cells))


def text_of(cell: Cell) -> str:
    """The plain text of a cell (its aside after a space)."""
    if isinstance(cell, Styled):
        return f"{cell.text} {cell.aside}" if cell.aside else cell.text
    return cell


def given(x: Any) -> bool:
    """A real figure: a number that is not NaN (None, NaN and text are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def num(x: Any, digits: int = 3) -> str:
    """A number for a cell: '-' for None/NaN, thousands separated for integers, scientific when tiny or huge."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) < 10**-digits or abs(x) >= 1e5):
        return f"{x:.1e}"
    return f"{x:.{digits}f}"


def pct(x: Any, digits: int = 0) -> str:
    """A fraction as a percentage: ``0.8`` -> ``80%``; '-' for None/NaN."""
    return f"{100 * x:.{digits}f}%" if given(x) else MISSING
