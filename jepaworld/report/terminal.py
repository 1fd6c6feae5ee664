"""A :class:`~jepaworld.report.table.Table` as a rich table for the terminal (the CLI prints it with
``cli.progress.print_table``: natural width in a log, the terminal's width on a terminal)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from jepaworld.report.table import Cell, Styled, Table


def _cell(cell: Cell) -> str | Text:
    if not isinstance(cell, Styled):
        return escape(cell)
    style = " ".join(s for s, on in (("bold", cell.bold), ("italic", cell.italic)) if on)
    text = Text(cell.text, style=style)
    if cell.aside:
        text.append(f" {cell.aside}", style="dim")
    return text


def rich_table(t: Table) -> RichTable:
    """``t`` with its title above and its notes as the caption; cells fold rather than end in '…'."""
    out = RichTable(title=escape(t.title) if t.title else None,
                    caption=escape("\n".join(t.notes)) if t.notes else None)  # fmt: skip
    for i, col in enumerate(t.columns):
        out.add_column(escape(col), justify="left" if i in t.left else "right", overflow="fold")
    for row in t.rows:
        out.add_row(*map(_cell, row))
    return out
