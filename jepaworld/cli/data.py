"""``jepaworld data info PATH``: summarise and validate an episode file; ``data import`` / ``data export``
(``cli/lerobot.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.lerobot import export_app, import_app

app = typer.Typer(help="Inspect, import and export episode files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
console = Console()


def _stats_table(title: str, values: np.ndarray) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("dim", "mean", "std", "min", "max"):
        table.add_column(col, justify="right")
    for d in range(values.shape[1]):
        v = values[:, d]
        table.add_row(str(d), f"{v.mean():.3f}", f"{v.std():.3f}", f"{v.min():.3f}", f"{v.max():.3f}")
    return table


@app.command()
def info(path: Path = typer.Argument(..., help="Episode file (.h5).")) -> None:
    """Episodes, frames, shapes, length and action/state statistics, attributes; validates the file.

    Files from stable-worldmodel's own writer (no ``state`` column, maybe no ``env`` attribute) are
    summarised too, with a line saying what they cannot be used for."""
    with user_errors():
        from jepaworld.data import EpisodeFile

        with EpisodeFile(path) as f:
            f.validate()
            lens = f.ep_len
            console.print(f"[bold]{path}[/]  {path.stat().st_size / 1e6:.1f} MB  [green]valid[/]")
            console.print(f"episodes {f.n_episodes:,}   frames {f.n_frames:,}")
            console.print(
                f"episode length: mean {lens.mean():.1f}  min {lens.min()}  "
                f"median {np.median(lens):.0f}  max {lens.max()}"
            )
            shapes = Table(title="columns", title_justify="left")
            for col in ("name", "shape", "dtype", "chunks", "compression"):
                shapes.add_column(col)
            for name in ("pixels", "action", "state", "proprio", "ep_len", "ep_offset"):
                if name in f.file:
                    ds = f.file[name]
                    shapes.add_row(name, str(ds.shape), str(ds.dtype), str(ds.chunks), str(ds.compression))
            console.print(shapes)
            action = f.action[...]
            real = np.ones(len(action), bool)
            real[f.ep_offset + lens - 1] = False  # zero-padded last rows
            console.print(_stats_table("action (excluding padded last rows)", action[real]))
            for name in ("state", "proprio"):
                ds = f.file.get(name)
                if ds is not None and ds.ndim == 2:
                    console.print(_stats_table(name, ds[...]))
            attrs = Table(title="attributes", title_justify="left")
            attrs.add_column("key")
            attrs.add_column("value", overflow="fold")
            for key, value in sorted(f.attrs.items()):
                attrs.add_row(key, str(value))
            console.print(attrs)
            for line in _missing(f):
                console.print(f"[yellow]missing:[/] {line}", highlight=False)


def _missing(f) -> list[str]:
    """What this file lacks for some uses (a stable-worldmodel file: no states, maybe no env)."""
    out = []
    if not f.has_state:
        out.append(
            "no `state` column (a stable-worldmodel file?): training works, but no evaluation or probes "
            "from this file; for those, re-collect with `jepaworld collect`"
        )
    if "env" not in f.attrs:
        out.append("no `env` attribute: name the env yourself (data.env); it cannot be checked against the file")
    return out
