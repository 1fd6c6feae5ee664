"""``jepaworld memory``: build a persistent memory of a run's episodes, name goals, query it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import progress_bars
from jepaworld.cli.science_options import DeviceOpt, RunArg, ThreadsOpt, fmt, load_model

console = Console()
app = typer.Typer(help="A persistent memory (SQLite) of states, goals and transitions; routes for far goals.",
                  no_args_is_help=True)  # fmt: skip

MemArg = Annotated[str, typer.Argument(help="Memory file (from `jepaworld memory build`).")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run whose encoder embeds images (default: the one "
                                                          "the memory was built with).")]  # fmt: skip


@app.command("build")
def build_cmd(
    run: RunArg,
    data: Annotated[str | None, typer.Option(help="Episode file to remember (default: the run's training "
                                                  "episodes).")] = None,  # fmt: skip
    out: Annotated[str | None, typer.Option(help="Memory file (default: RUN/memory.sqlite); an existing "
                                                 "one is resumed/extended.")] = None,  # fmt: skip
    chunk: Annotated[int, typer.Option(help="Episodes written per transaction.")] = 20,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Remember every model frame of the episodes (embedding, env state, thumbnail) and their transitions.
    Re-running resumes an interrupted build; nothing already written is lost."""
    with user_errors():
        from jepaworld.memory import build_memory

        model = load_model(run, device, threads)
        path = Path(out) if out else model.checkpoint_path.parent.parent / "memory.sqlite"  # RUN/memory.sqlite
        with progress_bars() as progress:
            r = build_memory(model, path, data_path=data, chunk=chunk, progress=progress)
    console.print(f"{r.path}: {r.states:,} states, {r.transitions:,} transitions; {r.episodes_added} episodes added, "
                  f"{r.episodes_skipped} already remembered (from {r.source})")  # fmt: skip


@app.command("info")
def info_cmd(memory: MemArg) -> None:
    """What a memory file holds."""
    with user_errors():
        from jepaworld.memory import MemoryStore

        with MemoryStore.open(memory) as store:
            s = store.summary()
    t = Table(title=str(memory), show_header=False)
    for k, v in s.items():
        t.add_row(k, str(v))
    console.print(t)


def _read_png(path: str) -> np.ndarray:
    from jepaworld.cli.errors import UserError
    from jepaworld.images import ImageDecodeError, read_image

    try:
        return read_image(path)
    except ImageDecodeError as e:
        raise UserError(str(e)) from None


def _model_for(store, run: str | None, device: str, threads: int):  # noqa: ANN001, ANN202
    from jepaworld.cli.errors import UserError
    from jepaworld.memory import open_for

    run = run or store.header.run
    if not run:
        raise UserError(f"{store.path} does not name its run; pass --run RUN")
    model = load_model(run, device, threads)
    open_for(model, store.path).close()  # the same encoder, or a clear error
    return model


@app.command("add-goal")
def add_goal_cmd(
    memory: MemArg,
    name: Annotated[str, typer.Argument(help="The goal's name (letters, digits, '-', '_', '.').")],
    image: Annotated[str | None, typer.Option(help="PNG of the goal (square; resized to the run's "
                                                   "resolution).")] = None,  # fmt: skip
    from_episode: Annotated[int | None, typer.Option(help="Take the goal from this episode of --data.")] = None,
    step: Annotated[int, typer.Option(help="... at this step.")] = 0,
    data: Annotated[str | None, typer.Option(help="Episode file for --from-episode (default: the run's).")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a goal of that name.")] = False,
    run: RunOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Remember a named goal (an image, or a frame of an episode with its env state)."""
    with user_errors():
        from jepaworld.cli.errors import UserError
        from jepaworld.data import EpisodeFile
        from jepaworld.memory import MemoryStore
        from jepaworld.memory.query import add_goal

        if (image is None) == (from_episode is None):
            raise UserError("give exactly one of --image PNG or --from-episode E [--step T]")
        with MemoryStore.open(memory) as store:
            model = _model_for(store, run, device, threads)
            state, source = None, f"image {image}"
            if image is not None:
                pixels = _read_png(image)
            else:
                assert from_episode is not None  # exactly one of image and from_episode (checked above)
                path = data or model.meta.data_path
                with EpisodeFile(path) as f:
                    if not 0 <= from_episode < f.n_episodes:
                        raise UserError(f"--from-episode {from_episode}: {path} has episodes 0..{f.n_episodes - 1}")
                    n = int(f.ep_len[from_episode])
                    if not 0 <= step < n:
                        raise UserError(f"--step {step}: episode {from_episode} has steps 0..{n - 1}")
                    row = int(f.ep_offset[from_episode]) + step
                    pixels = np.asarray(f.pixels[row])
                    state = np.asarray(f.state[row]) if f.has_state else None
                source = f"{path} episode {from_episode} step {step}"
            goal = add_goal(store, model, name, pixels, state=state, source=source, replace=replace)
    console.print(f"remembered goal {goal.name!r} ({goal.source}) in {memory}")


@app.command("query")
def query_cmd(
    memory: MemArg,
    image: Annotated[str | None, typer.Option(help="PNG: the remembered states nearest to it.")] = None,
    goal: Annotated[str | None, typer.Option(help="A named goal: the remembered states nearest to it.")] = None,
    entity: Annotated[str | None, typer.Option(help="Entity condition: e.g. block (with --at and --within).")] = None,
    at: Annotated[str | None, typer.Option(help="Entity values, comma-separated, e.g. 200,300.")] = None,
    within: Annotated[float, typer.Option(help="Entity condition radius (state units, e.g. px).")] = 30.0,
    decoded: Annotated[bool, typer.Option(help="Test the condition on probe-decoded states, not env "
                                               "states.")] = False,  # fmt: skip
    k: Annotated[int, typer.Option(help="Matches to show.")] = 5,
    sheet: Annotated[str | None, typer.Option(help="Write the matches' thumbnails to this PNG.")] = None,
    run: RunOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """The remembered states nearest to an image / named goal, or meeting an entity condition."""
    with user_errors():
        import time

        from jepaworld.cli.errors import UserError
        from jepaworld.memory import Condition, MemoryStore
        from jepaworld.memory.query import matching_states, nearest_states

        if sum(x is not None for x in (image, goal, entity)) != 1:
            raise UserError("give exactly one of --image PNG, --goal NAME or --entity NAME --at X,Y")
        with MemoryStore.open(memory) as store:
            t0 = time.perf_counter()
            if entity is not None:
                if at is None:
                    raise UserError("--entity needs --at (comma-separated values)")
                try:
                    values = tuple(float(v) for v in at.split(","))
                except ValueError:
                    raise UserError(f"--at {at!r}: expected numbers separated by commas") from None
                matches = matching_states(store, Condition(entity, values, within), k=k, decoded=decoded)
                what = f"{entity} within {within:g} of ({at})" + (" (decoded)" if decoded else "")
            else:
                model = _model_for(store, run, device, threads)
                if goal is not None:
                    pixels = store.goal(goal).image
                else:
                    assert image is not None  # exactly one of image, goal and entity (checked above)
                    pixels = _read_png(image)
                matches = nearest_states(store, model, pixels, k=k)
                what = f"nearest to {'goal ' + goal if goal else image}"
            ms = 1000 * (time.perf_counter() - t0)
    t = Table(title=f"{memory}: {what} ({len(matches)} shown, {ms:.0f} ms)")
    for col in ("id", "episode", "step", "distance", "env state", "decoded state"):
        t.add_column(col, justify="right")
    for m in matches:
        t.add_row(str(m.id), str(m.episode), str(m.step), fmt(m.distance),
                  "-" if m.state is None else " ".join(f"{v:.1f}" for v in m.state),
                  "-" if m.decoded is None else " ".join(f"{v:.1f}" for v in m.decoded))  # fmt: skip
    console.print(t)
    if sheet and matches:
        _write_sheet(sheet, matches)
        console.print(f"thumbnails: {sheet}")


def _write_sheet(path: str, matches: list) -> None:  # noqa: ANN001
    from jepaworld.atomic import atomic_write_bytes
    from jepaworld.images import png_array, png_bytes

    thumbs = [png_array(m.thumb) for m in matches if m.thumb]
    if thumbs:
        strip = np.concatenate([np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=255) for t in thumbs], axis=1)
        big = np.repeat(np.repeat(strip, 4, axis=0), 4, axis=1)
        atomic_write_bytes(path, png_bytes(big))


@app.command("check")
def check_cmd(
    memory: MemArg,
    data: Annotated[str | None, typer.Option(help="Episode file whose frames act as goals (default: the run's "
                                                  "held-out episodes).")] = None,  # fmt: skip
    goals: Annotated[int, typer.Option(help="Goal frames drawn.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the frame draw.")] = 0,
    run: RunOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Can the memory stand in for goals? Per entity: the state error of each goal's latent-nearest
    remembered state, beside the best any remembered state achieves."""
    with user_errors():
        from jepaworld.cli.errors import UserError
        from jepaworld.memory import MemoryStore
        from jepaworld.memory.query import check_retrieval
        from jepaworld.run.episodes import held_out_episodes

        if goals < 1:
            raise UserError(f"--goals must be >= 1, got {goals}")
        with MemoryStore.open(memory) as store:
            model = _model_for(store, run, device, threads)
            f, ids, name = held_out_episodes(model.meta, data)
            states = f.require_state("memory check")
            rng = np.random.default_rng(seed)
            eps = rng.choice(ids, goals)
            rows = sorted(int(f.ep_offset[e]) + int(rng.integers(int(f.ep_len[e]))) for e in eps)
            frames = np.stack([np.asarray(f.pixels[r]) for r in rows])
            result = check_retrieval(store, model, frames, np.stack([np.asarray(states[r]) for r in rows]))
    t = Table(title=f"{memory}: {result.goals} goal frames from {name}",
              caption="median distance (env-state units) from a goal's entity state to that of the remembered state "
                      "retrieved")  # fmt: skip
    for col in ("entity", "latent-nearest state", "best remembered state", "ratio"):
        t.add_column(col, justify="right")
    for ent, err in result.retrieved.items():
        best = result.best[ent]
        t.add_row(ent, fmt(err, 1), fmt(best, 1), fmt(err / best if best > 0 else float("inf"), 1))
    console.print(t)
