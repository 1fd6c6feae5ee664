"""HTML pieces of the report: a :class:`~jepaworld.report.table.Table` as an HTML table, embedded figures,
sections. Every text is escaped here; the section builders pass plain text."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from jepaworld.report.table import MISSING, Cell, Styled, Table


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def sentence(text: Any) -> str:
    """Escaped ``text`` with its first letter capitalised and a full stop."""
    t = str(text).strip()
    t = t[:1].upper() + t[1:]
    return esc(t if t.endswith(".") else f"{t}.")


def cell_html(cell: Cell) -> str:
    c = cell if isinstance(cell, Styled) else Styled(cell)
    out = "–" if c.text == MISSING else esc(c.text)
    if c.bold:
        out = f"<b>{out}</b>"
    if c.italic:
        out = f"<i>{out}</i>"
    if c.link:
        out = f"<a href='#{esc(c.link)}'>{out}</a>"
    return out + (f" <span class='ci'>{esc(c.aside)}</span>" if c.aside else "")


def table_html(t: Table, caption: bool = True) -> str:
    """``t`` as an HTML table, its title as the caption (``caption=False``: where the page says it already)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=l' if i in t.left else ''}>{cell_html(c)}</td>" for i, c in enumerate(r))
        + "</tr>" for r in t.rows
    )  # fmt: skip
    cap = f"<caption>{esc(t.title)}</caption>" if caption and t.title else ""
    cls = " ".join(["num", *t.style.split()])
    return f'<table class="{cls}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def notes_html(t: Table) -> str:
    """The notes of ``t`` as paragraphs, each a sentence."""
    return "".join(f"<p>{sentence(n)}</p>" for n in t.notes)


def data_uri(path: Path) -> str | None:
    """``data:image/...;base64,...`` of a PNG / GIF / JPEG file; None when absent or not an image."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    for magic, mime in ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"), (b"\xff\xd8\xff", "image/jpeg")):
        if raw.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"
    return None


def figure(path: Path, caption: str, cls: str = "") -> str:
    """An embedded image with its caption; '' when the file is absent."""
    uri = data_uri(path)
    if uri is None:
        return ""
    return (f'<figure class="{cls}"><img src="{uri}" alt="{esc(caption)}" title="{esc(path.name)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
