"""``jepaworld data import lerobot DIR`` and ``jepaworld data export lerobot FILE``: LeRobot datasets in and out."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import make_progress

console = Console()
import_app = typer.Typer(help="Import episodes from other formats.", no_args_is_help=True)
export_app = typer.Typer(help="Export episodes to other formats.", no_args_is_help=True)
CAMERA_HELP = "Video feature to read, e.g. observation.images.top [default: the first]."
ENV_HELP = "Env name for the file [default: lerobot:<robot_type>]; a jepaworld env only for episodes of that simulator."
TASK_HELP = "Task string of every episode [default: the file's tasks, else its env]."
CODEC_HELP = "PyAV video encoder (libsvtav1 = AV1, LeRobot's default; libx264)."
PIX_FMT_HELP = ("Pixel format: yuv420p (LeRobot's default; halves colour resolution) or yuv444p (libx264 only). "
                "Near-lossless: --codec libx264 --crf 0 --pix-fmt yuv444p.")  # fmt: skip


def _bar(total_episodes: int, total_frames: int, what: str):
    """A rich progress bar over episodes and a ``(episodes, frames)`` callback for it."""
    progress = make_progress()
    task = progress.add_task(what, total=total_episodes, info="")

    def update(episodes: int, frames: int) -> None:
        progress.update(task, completed=episodes, info=f"{frames:,} / {total_frames:,} frames")

    return progress, update


@import_app.command("lerobot")
def import_lerobot_cmd(
    source: Annotated[Path, typer.Argument(help="LeRobot dataset folder (format v3.0 or v2.1, with meta/info.json).")],
    out: Annotated[Path, typer.Option("--out", help="Episode file to write (.h5).")],
    camera: Annotated[str | None, typer.Option(help=CAMERA_HELP)] = None,
    resolution: Annotated[int, typer.Option(help="Square frame size: the centre square of each frame, resized.")] = 64,
    env: Annotated[str | None, typer.Option(help=ENV_HELP)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT and an unfinished import.")] = False,
) -> None:  # fmt: skip
    """Import a local LeRobot dataset: one camera's frames, action, observation.state, episodes, fps, tasks.

    Interrupted? Run the same command again: finished shards are kept (OUT.parts/)."""
    with user_errors():
        from jepaworld.data.lerobot import import_lerobot
        from jepaworld.data.lerobot.layout import read_layout

        layout = read_layout(source)
        cam = layout.require_camera(camera)
        total = sum(e.length for e in layout.episodes)
        console.print(f"{source}: LeRobot {layout.version}, {len(layout.episodes):,} episodes, {total:,} frames "
                      f"at {layout.fps:g} fps; camera {cam} (of {', '.join(layout.cameras)})",
                      highlight=False)  # fmt: skip
        progress, update = _bar(len(layout.episodes), total, "import")
        with progress:
            r = import_lerobot(source, out, camera=camera, resolution=resolution, env=env, overwrite=overwrite,
                               progress=update)  # fmt: skip
    console.print(f"[green]done[/] {r.path}: {r.episodes:,} episodes, {r.frames:,} frames, {resolution} px, "
                  f"{r.seconds:.1f} s ({r.frames / max(r.seconds, 1e-9):,.0f} frames/s)")  # fmt: skip
    console.print(f"train on it: jepaworld train -c cpu --data {shlex.quote(str(r.path))} --out runs/"
                  f"{shlex.quote(r.path.stem)}  (env, frame-skip and history follow the file's fps)",
                  highlight=False)  # fmt: skip


@export_app.command("lerobot")
def export_lerobot_cmd(
    path: Annotated[Path, typer.Argument(help="Episode file (.h5).")],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    camera: Annotated[str, typer.Option(help="Camera name: the video feature is observation.images.<camera>.")] = "top",
    fps: Annotated[float | None, typer.Option(help="Frames per second [default: the file's, else 10].")] = None,
    task: Annotated[str | None, typer.Option(help=TASK_HELP)] = None,
    codec: Annotated[str, typer.Option(help=CODEC_HELP)] = "libsvtav1",
    crf: Annotated[int, typer.Option(help="Quality, 0 (best) .. 63; LeRobot's default is 30.")] = 30,
    pix_fmt: Annotated[str, typer.Option(help=PIX_FMT_HELP)] = "yuv420p",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it is a LeRobot dataset.")] = False,
) -> None:  # fmt: skip
    """Write an episode file as a LeRobot v3.0 dataset (AV1 video, parquet, meta/), for LeRobot's tools and policies."""
    with user_errors():
        from jepaworld.data import EpisodeFile
        from jepaworld.data.lerobot import export_lerobot
        from jepaworld.data.lerobot.video import VideoFormat

        with EpisodeFile(path) as f:
            n_ep, n_frames = f.n_episodes, f.n_frames
        progress, update = _bar(n_ep, n_frames, "export")
        with progress:
            r = export_lerobot(path, out, camera=camera, fps=fps, task=task, video=VideoFormat(codec, crf, pix_fmt),
                               overwrite=overwrite, progress=update)  # fmt: skip
    console.print(f"[green]done[/] {r.path}: {r.episodes:,} episodes, {r.frames:,} frames, {r.seconds:.1f} s "
                  f"({r.frames / max(r.seconds, 1e-9):,.0f} frames/s)")  # fmt: skip
