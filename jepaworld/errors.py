"""The one error type for problems a user can fix.

Every input problem (a bad option, a missing or unreadable file, an environment that lacks what a
command needs) raises a subclass of :class:`JepaworldError` whose message says what was expected
and what to do. The CLI prints those as one line and exits 2; any other exception is a bug and
shows its traceback under ``-v``.
"""

from __future__ import annotations


class JepaworldError(ValueError):
    """A problem with the user's input, files or environment; the message says how to fix it.

    Subclasses ``ValueError`` so that code catching ``ValueError`` around argument checks keeps
    working; the CLI distinguishes it from a plain ``ValueError`` (a bug) by this type.
    """


class ConfigError(JepaworldError):
    """A config file, override or value that cannot be used; the message says how to fix it."""
