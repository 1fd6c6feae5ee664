"""Griffe extension for the API reference: jepaworld's docstrings are plain text, where ``*`` means a
product (``(B, horizon*frameskip, A)``), not Markdown emphasis. Escape such stars outside code spans
and indented code so that mkdocstrings shows them as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_PRODUCT_STAR = re.compile(r"(?<=[\w)\]])\*(?=[\w(\[])")
_CODE_SPAN = re.compile(r"(`+[^`]*`+)")


def plain_stars(text: str) -> str:
    """``a*b`` -> ``a\\*b`` outside code spans and indented (code) lines."""
    lines = []
    for line in text.splitlines():
        if line.startswith("    "):
            lines.append(line)
            continue
        parts = _CODE_SPAN.split(line)
        lines.append("".join(p if i % 2 else _PRODUCT_STAR.sub(r"\\*", p) for i, p in enumerate(parts)))
    return "\n".join(lines)


class PlainTextDocstrings(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_stars(obj.docstring.value)
