"""Reading JSON as strict parsers do (``jq``, JavaScript's ``JSON.parse``): a bare NaN or Infinity fails."""

from __future__ import annotations

import json
import os
from typing import Any


def loads_strict(text: str, where: str = "the text") -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{where} holds {token}, which is not JSON (a missing figure must be null)")

    return json.loads(text, parse_constant=refuse)


def load_strict(path: str | os.PathLike) -> Any:
    """The JSON file at ``path``; an AssertionError if it holds NaN, Infinity or -Infinity."""
    with open(path, encoding="utf-8") as f:
        return loads_strict(f.read(), str(path))
