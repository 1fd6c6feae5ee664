"""``jepaworld offline-eval RUN``: evaluate a run without a simulator (recorded episodes, e.g. from LeRobot).

Four measurements, each written to ``RUN/science/<name>/`` where ``jepaworld report`` finds it:
``rollout-error`` (open-loop latent error vs copy-last), ``probe`` (what the embedding knows of
``observation.state``), ``surprise-timeline`` (surprise along held-out episodes) and
``offline-plan`` (plan toward a logged goal, compare with the logged actions and the logged mean).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import progress_bars
from jepaworld.cli.science_options import (
    DataOpt,
    DeviceOpt,
    RunArg,
    SeedOpt,
    ThreadsOpt,
    load_model,
    out_folder,
    print_result,
)  # fmt: skip

console = Console()
PARTS = ("rollout-error", "probe", "surprise-timeline", "offline-plan")


def rollout_horizon(ep_len: Any, context: int, frameskip: int, horizon: int, min_windows: int = 32) -> int:
    """The longest horizon up to ``horizon`` whose windows the held-out episodes hold at least ``min_windows``
    of (short recorded episodes: a long horizon leaves a handful of windows), at least 1."""
    for h in range(horizon, 0, -1):
        span = (context + h - 1) * frameskip  # steps from the first context frame to the last predicted one
        if sum(max(0, int(n) - span) for n in ep_len) >= min_windows:
            return h
    return 1


def _state_names(model: Any, result: Any) -> None:
    """Probe quantities ``state[i]`` of an imported file renamed after its ``observation.state`` names."""
    from jepaworld.data import EpisodeFile

    with EpisodeFile(model.meta.data_path) as f:
        names = json.loads(f.attrs.get("state_names", "[]") or "[]")
    for s in result.scores:
        q = s.quantity
        if q.startswith("state[") and q.endswith("]") and q[6:-1].isdigit() and int(q[6:-1]) < len(names):
            s.quantity = f"observation.state {names[int(q[6:-1])]}"


def offline_eval_cmd(
    run: RunArg,
    episodes: Annotated[int, typer.Option(help="Held-out episodes for rollout-error and the surprise timelines.")] = 50,
    pairs: Annotated[int, typer.Option(help="Start/goal pairs of the offline planning check.")] = 50,
    goal_offset: Annotated[int | None, typer.Option(help="Steps from start to goal [default: horizon blocks].")] = None,
    horizon: Annotated[int, typer.Option(help="Longest rollout-error horizon (blocks), capped by lengths.")] = 16,
    timelines: Annotated[int, typer.Option(help="Held-out episodes to draw surprise timelines of.")] = 8,
    probe_frames: Annotated[int, typer.Option(help="Frames to fit the probes on (and half as many to score).")] = 4000,
    only: Annotated[list[str] | None, typer.Option(help=f"Run only these parts: {', '.join(PARTS)}.")] = None,
    seed: SeedOpt = 0,
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:  # fmt: skip
    """Rollout error, probes onto the state, surprise timelines and an offline planning check: no simulator needed."""
    from jepaworld.cli.errors import UserError

    parts = list(only or PARTS)
    unknown = [p for p in parts if p not in PARTS]
    with user_errors():
        if unknown:
            raise UserError(f"--only {', '.join(unknown)}: unknown; the parts are {', '.join(PARTS)}")
        from jepaworld.eval.offline_plan import offline_plan, write_offline_plan
        from jepaworld.science import rollout_error, run_probes, write_probes, write_rollout_error
        from jepaworld.science.surprise_timeline import surprise_timelines, write_surprise_timelines

        model = load_model(run, device, threads)
        meta = model.meta
        written = []
        with progress_bars() as progress:
            if "rollout-error" in parts:
                from jepaworld.science.common import held_out

                f, ids, _ = held_out(model, data, episodes, seed)
                h = rollout_horizon(f.ep_len[ids], max(meta.history, 2), meta.frameskip, horizon)
                r = rollout_error(model, episodes=episodes, horizon=h, seed=seed, data_path=data, progress=progress)
                write_rollout_error(r, out_folder(model, None, "rollout-error"))
                written.append(("rollout-error", r.to_dict()))
            if "probe" in parts and data is None:
                p = run_probes(model, train_frames=probe_frames, test_frames=max(10, probe_frames // 2), seed=seed,
                               progress=progress)  # fmt: skip
                _state_names(model, p)
                write_probes(p, out_folder(model, None, "probe"))
                written.append(("probe", p.to_dict()))
            if "surprise-timeline" in parts:
                s = surprise_timelines(model, episodes=timelines, seed=seed, data_path=data, progress=progress)
                write_surprise_timelines(s, out_folder(model, None, "surprise-timeline"))
                written.append(("surprise-timeline", s.to_dict()))
            if "offline-plan" in parts:
                o = offline_plan(model, pairs=pairs, goal_offset=goal_offset, seed=seed, data_path=data,
                                 progress=progress)  # fmt: skip
                write_offline_plan(o, out_folder(model, None, "offline-plan"))
                written.append(("offline-plan", o.to_dict()))
    for kind, result in written:
        print_result(kind, result)
    folder = out_folder(model, None, "x").parent
    console.print(f"results: {folder}/{{{','.join(n for n, _ in written)}}}/results.json   "
                  f"report: jepaworld report {run}", highlight=False)  # fmt: skip
