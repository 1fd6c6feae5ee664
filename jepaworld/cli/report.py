"""``jepaworld report``: one self-contained HTML page of a run (training, evaluations, science results)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import user_errors

console = Console()


def report_cmd(
    run: Annotated[str, typer.Argument(help="Run folder from `jepaworld train`.")],
    out: Annotated[str | None, typer.Option(help="HTML file to write (default: RUN/report.html).")] = None,
) -> None:
    """Write one self-contained HTML file (images and videos embedded) of everything under RUN."""
    with user_errors():
        from jepaworld.report import write_report

        page = write_report(run, out=out)
    console.print(f"[bold green]report:[/] {page}")
