"""How the CLI reports failures: a user's problem as one line (exit 2), a bug as one line or a traceback (exit 1).

- :class:`~jepaworld.errors.JepaworldError` (bad option, config, data file, checkpoint...) and
  ``OSError`` (a file or folder that is missing, unreadable or not writable) are problems the user
  can fix: ``error: <message>`` on stderr, exit 2, never a traceback.
- Anything else is a bug in jepaworld: ``internal error: <Type>: <message> (rerun with -v ...)``
  and exit 1; with the global ``-v`` the full traceback instead.
"""

from __future__ import annotations

import contextlib
import errno
import traceback
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from typer.exceptions import TyperException

from jepaworld.errors import JepaworldError

err_console = Console(stderr=True)

VERBOSE = False  # set by the ``-v`` global option (cli/main.py): show tracebacks of internal errors


def set_verbose(verbose: bool) -> None:
    global VERBOSE
    VERBOSE = verbose


class UserError(JepaworldError):
    """An input problem the user can fix, raised by the CLI itself; the message says what to do."""


def describe_os_error(e: OSError) -> str:
    """One line for a file-system error, naming the path (and the folder a new file was to go in)."""
    path = e.filename if e.filename is not None else None
    what = e.strerror or str(e)
    if path is None:
        return str(e)
    where = f"{path}" + (f" -> {e.filename2}" if e.filename2 else "")
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{what}: {where}; check the permissions of that folder or choose another location (--out)"
    if isinstance(e, FileNotFoundError):
        return f"{what}: {where}"
    if isinstance(e, IsADirectoryError):
        return f"{where} is a folder where a file was expected; pass a file path"
    if e.errno == errno.ENOSPC:
        return f"{what} while writing {where}; free some space or choose another location"
    return f"{what}: {where}"


def report_error(e: BaseException) -> int:
    """Print ``e`` as the CLI does and return the exit code (2: the user's problem, 1: a bug)."""
    if isinstance(e, JepaworldError):
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        return 2
    if isinstance(e, OSError):
        err_console.print(f"[bold red]error:[/] {escape(describe_os_error(e))}", highlight=False, soft_wrap=True)
        return 2
    if VERBOSE:
        err_console.print("".join(traceback.format_exception(e)), highlight=False, markup=False, end="")
    else:
        err_console.print(
            f"[bold red]internal error:[/] {type(e).__name__}: {escape(str(e))} "
            "(rerun with -v for the traceback; please report it)",
            highlight=False,
            soft_wrap=True,
        )
    return 1


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Report errors raised inside the block (see the module docstring) and exit with their code.

    ``typer.Exit`` / ``typer.Abort`` and usage errors pass through; ``KeyboardInterrupt`` too (it is
    not an ``Exception``).
    """
    try:
        yield
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as e:
        raise typer.Exit(report_error(e)) from None
