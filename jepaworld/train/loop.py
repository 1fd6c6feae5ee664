"""The training loop: next-embedding MSE + lambda * SIGReg(z), one plain readable loop.

    z      = projector(encoder(pixels))                (B, T, D)
    z_hat  = predictor(z[:, :-1], actions[:, :-1])     (B, T-1, D), teacher forcing
    z_roll = predictor's own rollout from z[:, :h]      (B, K, D), K = train.rollout_steps (0: none)
    loss   = MSE(z_hat, z[:, 1:]) + w * MSE(z_roll, z[:, h:h+K]) + lambda * SIGReg(z)

No EMA target, no stop-gradient, no pretrained encoder.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from jepaworld.config import Config, ConfigError
from jepaworld.config import validate as validate_config
from jepaworld.errors import JepaworldError
from jepaworld.lock import exclusive
from jepaworld.model import SIGReg, WorldModel
from jepaworld.run import checkpoint as ckpt_io
from jepaworld.train.data import TrainData, build_data
from jepaworld.train.diagnostics import embedding_stats
from jepaworld.train.distributed import Runtime, mean_across_ranks, setup, teardown
from jepaworld.train.interrupt import StopOnSignal, TrainingInterrupted
from jepaworld.train.loader import window_batches
from jepaworld.train.run_folder import prepare_run_folder, resume_point, write_config
from jepaworld.train.schedule import lr_at

log = logging.getLogger(__name__)

METRIC_FIELDS = [
    "step", "lr", "loss", "pred", "roll", "sigreg", "grad_norm", "samples_per_s",
    "z_std_mean", "z_std_min", "eff_rank", "val_pred", "val_copy", "val_roll", "elapsed_s",
]  # fmt: skip


class TrainingDiverged(JepaworldError):
    """The loss became NaN/inf; the message names the checkpoint kept (if any) and what to change."""


@dataclass
class TrainResult:
    run: Path
    step: int
    last: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def build_model(cfg: Config, action_dim: int) -> WorldModel:
    return WorldModel(cfg.model, action_dim=action_dim, frameskip=cfg.data.frameskip, history=cfg.data.history)


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices; leave norms, biases, embeddings and tokens undecayed."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "pos" not in name and "token" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _autocast(cfg: Config, device: torch.device) -> contextlib.AbstractContextManager:
    p = cfg.train.precision
    if p == "bf16" or (p == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if p not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"train.precision must be one of auto, bf16, fp32, got {p!r}")
    return contextlib.nullcontext()


def jepa_loss(
    model: torch.nn.Module,
    sigreg: SIGReg,
    pixels: torch.Tensor,
    actions: torch.Tensor,
    lam: float,
    rollout_steps: int = 0,
    rollout_weight: float = 1.0,
    rollout_detach: bool = False,
) -> dict[str, torch.Tensor]:
    """pixels uint8 (B, T, H, W, 3); actions (B, T, fs*A) -> loss terms and z (B, T, D).

    ``rollout_steps`` K > 0 adds ``rollout_weight`` x the open-loop K-step MSE (term ``roll``);
    ``rollout_detach`` keeps that term's gradient out of the encoder (start and targets detached).
    """
    out = model(pixels, actions, rollout_steps, rollout_detach)
    z, z_hat = out["z"], out["z_hat"]
    pred = F.mse_loss(z_hat.float(), z[:, 1:].float())  # z_hat: (B, T-1, D)
    reg = sigreg(z.float().transpose(0, 1))
    loss = pred + lam * reg
    roll = torch.zeros((), device=pred.device)
    if rollout_steps > 0:
        roll = F.mse_loss(out["z_roll"].float(), out["z_roll_target"].float())
        loss = loss + rollout_weight * roll
    return {"loss": loss, "pred": pred, "roll": roll, "sigreg": reg, "z": z}


@torch.no_grad()
def validate(model: WorldModel, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Prediction MSE on held-out windows, beside the copy-last-embedding baseline, and the open-loop
    MSE of the predictor's own rollout over the window's predicted frames (``val_roll``)."""
    was_training = model.training
    model.eval()
    pred, copy, roll = 0.0, 0.0, 0.0
    for pixels, actions in batches:
        K = pixels.shape[1] - model.history
        out = model(pixels, actions, K)
        z = out["z"]
        pred += F.mse_loss(out["z_hat"], z[:, 1:]).item()
        copy += F.mse_loss(z[:, :-1], z[:, 1:]).item()
        roll += F.mse_loss(out["z_roll"], out["z_roll_target"]).item()
    model.train(was_training)
    n = max(1, len(batches))
    return {"val_pred": pred / n, "val_copy": copy / n, "val_roll": roll / n}


class _MetricsLog:
    """metrics.csv (appending; truncated to the resumed step) and TensorBoard when installed."""

    def __init__(self, run: Path, start_step: int) -> None:
        self.path = run / "metrics.csv"
        rows = []
        if self.path.exists() and start_step > 0:
            with self.path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start_step]
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
            w.writeheader()
            w.writerows(rows)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tensorboard"))
        except ImportError:
            pass

    def write(self, row: dict[str, float]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=METRIC_FIELDS, extrasaction="ignore").writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and v == v:
                    self.tb.add_scalar(k, v, int(row["step"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(
    cfg: Config,
    resume: bool = False,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a world model as configured; ``progress(step, metrics)`` is called after each step.

    ``resume=True`` continues ``cfg.train.out`` from its newest checkpoint; the settings must be the
    run's own (see ``RESUME_MAY_CHANGE``), ``train.steps`` may be raised to train longer.
    Ctrl-C or SIGTERM (main thread) stops after the step in progress, checkpoints the last
    completed step and raises :class:`TrainingInterrupted` (a ``KeyboardInterrupt``).
    """
    validate_config(cfg)
    with StopOnSignal() as stop:
        rt = setup(cfg.train.device)
        try:
            run = Path(cfg.train.out)  # one training per run folder: a second is refused, naming the first's PID
            with exclusive(run / ".lock", f"the run folder {run}") if rt.is_main else contextlib.nullcontext():
                return _train(cfg, rt, resume, progress, stop)
        finally:
            teardown(rt)


def _train(cfg: Config, rt: Runtime, resume: bool, progress: Callable | None, stop: StopOnSignal) -> TrainResult:
    run = Path(cfg.train.out)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    state = None
    if resume:
        ck, state = resume_point(run, cfg)
    elif (run / "checkpoints" / "latest").exists():
        raise JepaworldError(
            f"{run} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if rt.is_main:
        prepare_run_folder(run)
        removed = ckpt_io.clean_stale(run)
        if removed:
            log.warning(
                "removed %d leftover(s) of an interrupted checkpoint write in %s: %s",
                len(removed), ckpt_io.checkpoints_dir(run), ", ".join(p.name for p in removed),
            )  # fmt: skip

    torch.manual_seed(cfg.train.seed + rt.rank)
    data: TrainData = build_data(cfg, rt)
    model = build_model(cfg, data.action_dim).to(rt.device)
    sigreg = SIGReg(num_directions=cfg.train.sigreg_directions, knots=cfg.train.sigreg_knots)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.train.weight_decay), lr=cfg.train.lr, betas=(0.9, 0.999))
    start = 0
    if state is not None:
        model.load_state_dict(ck.weights)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])  # windows need no state: batch k is drawn from (seed, rank, k)
        start = int(state["step"])
        log.info("resumed %s at step %d", run, start)
    ddp = rt.distributed
    net: torch.nn.Module = model
    if ddp:
        if rt.device.type == "cuda":  # BatchNorm statistics over the global batch (SyncBatchNorm is CUDA-only)
            net = DistributedDataParallel(
                torch.nn.SyncBatchNorm.convert_sync_batchnorm(model), device_ids=[rt.device.index]
            )
        else:  # CPU (gloo): BatchNorm uses each rank's local batch; SIGReg is still global
            net = DistributedDataParallel(model)
    if cfg.train.compile:  # compiled forward (and DDP around it); weights are saved from `model` as ever
        net = cast(torch.nn.Module, torch.compile(net))  # an OptimizedModule
    if rt.is_main:
        write_config(cfg, run / "config.yaml")
    metrics_log = _MetricsLog(run, start) if rt.is_main else None
    val_batches = data.val_batches(cfg.train.val_batches, cfg.train.batch_size, rt.device)
    meta = data.meta()
    saved_step: int | None = start if state is not None else None  # newest checkpoint on disk

    def snapshot() -> dict[str, Any]:
        """RNG state after a completed step: what the next step starts from."""
        return {"torch_rng": torch.get_rng_state()}

    def save(step: int, last: dict[str, float], rng_state: dict[str, Any]) -> None:
        nonlocal saved_step
        if not rt.is_main or step == saved_step:
            return
        train_state = {"optimizer": optimizer.state_dict(), "step": step, **rng_state}
        ckpt_io.save_checkpoint(run, model, cfg, replace(meta, step=step, metrics=dict(last)), train_state)
        saved_step = step

    def diverged(step: int, loss: float, terms: dict[str, torch.Tensor]) -> TrainingDiverged:
        kept = (
            f"the last checkpoint, step {saved_step}, is kept in {ckpt_io.checkpoints_dir(run)}"
            if saved_step is not None
            else f"no checkpoint was written yet (one every train.ckpt_every={cfg.train.ckpt_every} steps)"
        )
        return TrainingDiverged(
            f"loss became {loss} at step {step} (pred {terms['pred'].item():.4g}, sigreg "
            f"{terms['sigreg'].item():.4g}); {kept}. Lower train.lr or raise train.warmup_steps and train "
            "again with another --out (resuming with the same settings diverges the same way)."
        )

    net.train()
    last: dict[str, float] = {}
    t_start = time.perf_counter()
    t_log, n_log = time.perf_counter(), 0
    step = done = start
    done_rng = snapshot()
    batches = window_batches(
        data.train, cfg.train.batch_size, range(start + 1, cfg.train.steps + 1), seed=cfg.train.seed,
        rank=rt.rank, workers=cfg.train.loader_workers, prefetch=cfg.train.prefetch,
        pin_memory=rt.device.type == "cuda",
    )  # fmt: skip
    try:
        for step in range(start + 1, cfg.train.steps + 1):
            with stop.step():  # a signal stops training after this step, not inside it
                lr = lr_at(step - 1, cfg.train.lr, cfg.train.steps, cfg.train.warmup_steps, cfg.train.min_lr_ratio)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                pixels, actions = next(batches)
                pixels, actions = pixels.to(rt.device, non_blocking=True), actions.to(rt.device, non_blocking=True)
                with _autocast(cfg, rt.device):
                    terms = jepa_loss(
                        net, sigreg, pixels, actions, cfg.train.sigreg_lambda,
                        cfg.train.rollout_steps, cfg.train.rollout_weight, cfg.train.rollout_detach,
                    )  # fmt: skip
                loss = terms["loss"]
                if not torch.isfinite(loss):
                    raise diverged(step, loss.item(), terms)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
                optimizer.step()
                done, done_rng = step, snapshot()
                n_log += 1

                last = {"step": step, "lr": lr, "loss": loss.item(), "pred": terms["pred"].item(),
                        "roll": terms["roll"].item(), "sigreg": terms["sigreg"].item(),
                        "grad_norm": float(grad_norm)}  # fmt: skip
                if step % cfg.train.log_every == 0 or step == cfg.train.steps:
                    now = time.perf_counter()
                    last["samples_per_s"] = n_log * cfg.train.batch_size * rt.world_size / max(now - t_log, 1e-9)
                    t_log, n_log = now, 0
                    last.update(embedding_stats(terms["z"]))
                    if step % cfg.train.val_every == 0 or step == cfg.train.steps:
                        last.update({k: mean_across_ranks(v, rt) for k, v in validate(model, val_batches).items()})
                    last["elapsed_s"] = now - t_start
                    if metrics_log is not None:
                        metrics_log.write({k: last.get(k, math.nan) for k in METRIC_FIELDS})
                if progress is not None and rt.is_main:
                    progress(step, last)
                if step % cfg.train.ckpt_every == 0 and step != cfg.train.steps:
                    save(step, last, done_rng)
        if "val_pred" not in last:
            last.update(validate(model, val_batches))
        save(done, last, done_rng)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM (TrainingInterrupted), or a progress callback stopping
        if done > start:
            save(done, last, done_rng)
        raise
    finally:
        del batches  # stops the loader's workers
        if metrics_log is not None:
            metrics_log.close()
    if rt.is_main:
        from jepaworld.train.plots import plot_training

        plot_training(run / "metrics.csv", run / "plots" / "loss.png")
    return TrainResult(run=run, step=step, last=last, wall_s=time.perf_counter() - t_start)


__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "build_model", "train"]
