"""Who may call a server: a bearer token (``JEPAWORLD_TOKEN`` or a token file), and without one, loopback only.

No web framework here: ``serve`` (FastAPI) and ``mcp`` (the MCP SDK's Starlette app) both build on it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

from jepaworld.errors import JepaworldError

TOKEN_ENV = "JEPAWORLD_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_token(token_file: str | None) -> str | None:
    """The bearer token: from ``token_file`` if given, else ``$JEPAWORLD_TOKEN``; None if neither."""
    token: str | None
    if token_file:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise JepaworldError(f"cannot read the token file {path}: {e}") from None
        if not token:
            raise JepaworldError(f"the token file {path} is empty; write a long random token in it")
    else:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < 16:
        raise JepaworldError("the token is shorter than 16 characters; use e.g. `openssl rand -hex 32`")
    return token


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve a non-loopback address without a token."""
    if token is None and not is_loopback(host):
        raise JepaworldError(
            f"refusing to bind {host} without a token: anyone who can reach it could drive the model. "
            f"Set {TOKEN_ENV} or pass --token-file, or bind 127.0.0.1"
        )


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a presented bearer token with the server's."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
