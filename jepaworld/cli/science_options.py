"""Options shared by the science commands (``rollout-error``, ``probe``, ``surprise``, ``structure``) and their
one runner: load → out folder → progress → measure → write → print the result's table."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

RunArg = Annotated[str, typer.Argument(help="Run folder (or checkpoint folder) from `jepaworld train`.")]
OutOpt = Annotated[str | None, typer.Option(help="Output folder (default: RUN/science/<command>).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the episode, window and frame draws.")]
DeviceOpt = Annotated[str, typer.Option(help="auto | cpu | cuda")]
ThreadsOpt = Annotated[int, typer.Option(help="torch CPU threads (0: torch's default; 1 is faster on a busy machine).")]
DataOpt = Annotated[str | None, typer.Option(help="Held-out episode file (default: the run's held-out episodes).")]

Progress = Callable[[str, int, int], None]


def load_model(run: str, device: str, threads: int) -> Any:
    """``jepaworld.load`` after setting the torch thread count (when asked)."""
    import torch

    import jepaworld
    from jepaworld.cli.errors import UserError

    if threads < 0:
        raise UserError(f"--threads must be >= 0, got {threads}")
    if threads:
        torch.set_num_threads(threads)
    return jepaworld.load(run, device=device)


def out_folder(model: Any, out: str | None, command: str) -> Path:
    from jepaworld.science.common import default_out

    return Path(out) if out else default_out(model, command)


def print_result(kind: str, result: dict[str, Any]) -> None:
    """The table of a science ``results.json`` dict (``kind``: a key of ``report.science.SCIENCE``)."""
    from rich.console import Console

    from jepaworld.cli.progress import print_table
    from jepaworld.report.science import SCIENCE
    from jepaworld.report.terminal import rich_table

    print_table(Console(), rich_table(SCIENCE[kind].table(result)))


def run_science(command: str, run: str, out: str | None, device: str, threads: int,
                measure: Callable[[Any, Progress], Any], write: Callable[[Any, Path], Any]) -> None:  # fmt: skip
    """Load ``run``, ``measure(model, progress)`` under progress bars, ``write(result, folder)`` to ``out``
    (default ``RUN/science/<command>``), then print the result's table and where its files are."""
    from rich.console import Console

    from jepaworld.cli.errors import user_errors
    from jepaworld.cli.progress import progress_bars
    from jepaworld.report.science import SCIENCE

    with user_errors():
        model = load_model(run, device, threads)
        folder = out_folder(model, out, command)
        with progress_bars() as progress:
            result = measure(model, progress)
        write(result, folder)
    print_result(command, result.to_dict())
    plots = [f"{folder}/{f}" for f, _, _ in SCIENCE[command].figures]
    Console().print(f"results: {folder}/results.json   plot{'s' if len(plots) > 1 else ''}: {', '.join(plots)}")


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a table cell: '-' for None/NaN, scientific below 1e-3 (and for big values)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) < 10**-digits or abs(x) >= 1e5):
        return f"{x:.1e}"
    return f"{x:.{digits}f}"
