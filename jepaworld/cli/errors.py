"""Turn library errors into one clear line on stderr and a non-zero exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

err_console = Console(stderr=True)


class UserError(Exception):
    """An input problem the user can fix; the message says what was expected and what to do."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Report UserError / ConfigError / FileNotFoundError / ValueError as ``error: ...`` and exit 2."""
    from jepaworld.config import ConfigError

    try:
        yield
    except (UserError, ConfigError, FileNotFoundError, ValueError) as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
