"""``jepaworld train``: train a world model from an episode file, or continue a run (``--resume``)."""

from __future__ import annotations

import copy
import dataclasses
import shlex
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from jepaworld.cli.errors import UserError, user_errors
from jepaworld.cli.progress import make_progress
from jepaworld.config import Config, load_config

console = Console()

DEFAULT_PRESET = "cpu"
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", help="Preset name (cpu, paper) or YAML path [default: cpu; with --resume: the run's own]."
    ),
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override any setting: section.key=value (repeatable).")
]


def run_training(cfg: Config, resume: bool) -> dict[str, float]:
    """Train with a progress bar; returns the last metrics."""
    from jepaworld.train import train as train_fn

    progress = make_progress()  # shown from the first step: an error before it stays one clean line
    tasks: list[Any] = []

    def on_step(step: int, m: dict[str, float]) -> None:
        if not tasks:
            progress.start()
            tasks.append(progress.add_task("train", total=cfg.train.steps, completed=step - 1, info=""))
        info = f"loss {m.get('loss', 0):.4f} pred {m.get('pred', 0):.4f} sigreg {m.get('sigreg', 0):.3f}"
        if m.get("roll"):
            info += f" roll {m['roll']:.4f}"
        if "samples_per_s" in m:
            info += f" | {m['samples_per_s']:.0f} samples/s"
        if "val_pred" in m:
            info += f" | val {m['val_pred']:.4f} (copy {m['val_copy']:.4f}, open-loop {m['val_roll']:.4f})"
        progress.update(tasks[0], completed=step, info=info)

    try:
        result = train_fn(cfg, resume=resume, progress=on_step)
    finally:
        progress.stop()
    return result.last | {"wall_s": result.wall_s}


def _check_steps(steps: int | None) -> None:
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be >= 1, got {steps}")


def new_run_config(config: str | None, set_: list[str] | None, data: str | None, out: str | None,
                   steps: int | None) -> Config:  # fmt: skip
    """Preset, then ``--set``, then the explicit options; range-checked."""
    from jepaworld.config import validate

    _check_steps(steps)
    cfg = load_config(config or DEFAULT_PRESET, set_)
    if data is not None:
        cfg.data.path = data
    if out is not None:
        cfg.train.out = out
    if steps is not None:
        cfg.train.steps = steps
    from jepaworld.data.lerobot.timing import adapt_to_recorded

    for line in adapt_to_recorded(cfg, set_):  # a file imported from LeRobot: its env, its fps
        console.print(f"recorded episodes: {line}", highlight=False)
    validate(cfg)
    return cfg


def _same(key: str, a: Any, b: Any) -> bool:
    if key == "data.path":
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def resume_config(config: str | None, set_: list[str] | None, data: str | None, out: str | None,
                  steps: int | None) -> Config:  # fmt: skip
    """The run's own config (``RUN/config.yaml``), with ``--steps`` applied.

    Every setting given again (``-c`` preset values, ``--set``, ``--data``) must equal the saved
    one: a resumed run continues exactly what was started. ``--steps`` / ``--set train.steps`` may
    change (train longer), and so may the device and thread count (where it runs, not what it
    trains); a preset's values for those are ignored.
    """
    from jepaworld.config import parse_overrides, read_preset, update, validate
    from jepaworld.run import load_checkpoint
    from jepaworld.train.run_folder import RESUME_MAY_CHANGE

    _check_steps(steps)
    run = Path(out) if out is not None else Path(load_config(config or DEFAULT_PRESET, set_).train.out)
    saved_file = run / "config.yaml"
    if saved_file.exists():
        base = load_config(str(saved_file))
    elif (run / "checkpoints").is_dir():
        base = load_checkpoint(run).config  # a run whose config.yaml was lost: its checkpoint's config
    else:
        raise UserError(
            f"{run} holds no run to resume (no config.yaml, no checkpoints); start it without --resume"
            + ("" if out is not None else ", or name the run folder with --out")
        )
    base.train.out = str(run)

    given = copy.deepcopy(base)
    source: dict[str, str] = {}  # "section.key" -> the option that set it
    if config is not None:
        preset = load_config(config)
        for section, entries in read_preset(config).items():
            if entries is None:
                continue
            fields = [f.name for f in dataclasses.fields(getattr(preset, section))]
            for key in entries if isinstance(entries, dict) else fields:
                if f"{section}.{key}" in RESUME_MAY_CHANGE:
                    continue  # a preset's train.steps does not shorten or extend a run: --steps does
                setattr(getattr(given, section), key, getattr(getattr(preset, section), key))
                source[f"{section}.{key}"] = f"-c {config}"
    for section, entries in parse_overrides(set_).items():
        update(given, {section: entries}, source="--set")
        for key in entries:
            source[f"{section}.{key}"] = "--set"
    if data is not None:
        given.data.path = data
        source["data.path"] = "--data"
    given.train.out = str(run)
    for key, where in source.items():
        if key in RESUME_MAY_CHANGE:
            continue
        section, name = key.split(".", 1)
        was, now = getattr(getattr(base, section), name), getattr(getattr(given, section), name)
        if not _same(key, was, now):
            raise UserError(
                f"--resume continues {run} with its own settings, but {where} gives {key}={now!r} where the run "
                f"has {was!r}; drop that option (or pass the saved value), or start a new run with another --out"
            )
    if steps is not None:
        given.train.steps = steps
    validate(given)
    return given


def train(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    data: Annotated[str | None, typer.Option("--data", help="Episode file (HDF5).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Run folder for checkpoints and metrics.")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (with --resume: train up to this step).")] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run in --out from its last checkpoint with its saved config; --steps may extend it.",
        ),
    ] = False,
) -> None:
    """Train a JEPA world model (next-embedding MSE + lambda * SIGReg) on an episode file.

    Ctrl-C or SIGTERM checkpoints the last completed step and prints the command that resumes it.
    """
    from jepaworld.train import TrainingInterrupted

    with user_errors():
        if resume:
            cfg = resume_config(config, set_, data, out, steps)
        else:
            cfg = new_run_config(config, set_, data, out, steps)
        if not Path(cfg.data.path).exists():
            raise UserError(
                f"episode file {cfg.data.path} does not exist; collect it first: "
                f"jepaworld collect --env {cfg.data.env} --out {cfg.data.path}"
            )
        try:
            last = run_training(cfg, resume)
        except KeyboardInterrupt as e:
            signum = e.signum if isinstance(e, TrainingInterrupted) else signal.SIGINT
            run = Path(cfg.train.out)
            if (run / "checkpoints" / "latest").exists():
                hint = f"resume with: jepaworld train --out {shlex.quote(str(run))} --resume"
            else:
                hint = "no step was completed, nothing to resume: run the same command again"
            console.print(f"\ninterrupted ({signal.Signals(signum).name}); {hint}", soft_wrap=True)
            raise typer.Exit(128 + signum) from None
    console.print(
        f"[green]done[/] {cfg.train.out}: step {int(last['step'])}, train pred {last['pred']:.4f}, "
        f"val pred {last.get('val_pred', float('nan')):.4f} "
        f"(copy-last baseline {last.get('val_copy', float('nan')):.4f}), "
        f"eff. rank {last.get('eff_rank', float('nan')):.1f}, {last['wall_s'] / 60:.1f} min"
    )
    console.print(f"metrics: {cfg.train.out}/metrics.csv   plot: {cfg.train.out}/plots/loss.png")
