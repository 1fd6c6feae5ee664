"""Range and choice checks of every setting, run wherever a config enters (``load_config``, ``from_dict``,
the CLI after its options are applied, ``train``).

Each failed check raises :class:`ConfigError` naming the setting, what it must be and what it is,
e.g. ``train.steps must be >= 1, got 0``. Types are already checked by ``update``; these are the
values a type cannot express. The planner's name is checked against the planner registry where
planners are built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from jepaworld.config.schema import Config, DataConfig, EvalConfig, ModelConfig, PlanConfig, TrainConfig
from jepaworld.errors import ConfigError


def _fail(where: str, must: str, value: Any) -> None:
    raise ConfigError(f"{where} must be {must}, got {value!r}")


class _Checker:
    """Checks the fields of one section; ``where`` names them ``section.key``."""

    def __init__(self, section: str, obj: Any) -> None:
        self.section, self.obj = section, obj

    def _get(self, key: str) -> tuple[str, Any]:
        value = getattr(self.obj, key)
        if isinstance(value, float) and not math.isfinite(value):
            _fail(f"{self.section}.{key}", "a finite number", value)
        return f"{self.section}.{key}", value

    def at_least(self, low: float, *keys: str) -> None:
        for key in keys:
            where, v = self._get(key)
            if not v >= low:
                _fail(where, f">= {low}", v)

    def above(self, low: float, *keys: str) -> None:
        for key in keys:
            where, v = self._get(key)
            if not v > low:
                _fail(where, f"> {low}", v)

    def in_range(self, key: str, low: float, high: float, high_open: bool = True) -> None:
        where, v = self._get(key)
        ok = low <= v < high if high_open else low <= v <= high
        if not ok:
            _fail(where, f"in [{low}, {high}{')' if high_open else ']'}", v)

    def one_of(self, key: str, choices: tuple[str, ...]) -> None:
        where, v = self._get(key)
        if v not in choices:
            _fail(where, "one of " + ", ".join(choices), v)

    def non_empty(self, *keys: str) -> None:
        for key in keys:
            where, v = self._get(key)
            if not str(v).strip():
                _fail(where, "non-empty", v)


def check_data(d: DataConfig) -> None:
    c = _Checker("data", d)
    c.non_empty("env", "path", "policy")
    c.at_least(1, "episodes", "max_steps", "workers", "frameskip", "history", "pred")
    c.at_least(8, "resolution")
    c.in_range("val_fraction", 0.0, 1.0)
    c.at_least(0, "noise")
    c.in_range("explore", 0.0, 1.0, high_open=False)


def check_model(m: ModelConfig) -> None:
    c = _Checker("model", m)
    c.one_of("encoder", ("cnn", "vit"))
    c.one_of("cnn_pool", ("flatten", "mean"))
    c.one_of("pos_embedding", ("rope", "learned"))
    c.at_least(8, "image_size")
    c.at_least(1, "cnn_depth", "patch_size", "enc_width", "enc_depth", "enc_heads", "embed_dim", "proj_hidden")
    c.at_least(1, "pred_depth", "pred_heads", "pred_head_dim", "pred_mlp", "max_len", "action_hidden_mult")
    c.in_range("pred_dropout", 0.0, 1.0)
    if not m.cnn_channels or any(ch < 1 for ch in m.cnn_channels):
        _fail("model.cnn_channels", "a non-empty list of positive channel counts, e.g. [16, 32, 64, 128]",
              m.cnn_channels)  # fmt: skip
    if m.encoder == "vit":
        if m.enc_width % m.enc_heads:
            _fail("model.enc_width", f"divisible by model.enc_heads={m.enc_heads}", m.enc_width)
        if m.image_size % m.patch_size:
            _fail("model.image_size", f"divisible by model.patch_size={m.patch_size}", m.image_size)


def check_train(t: TrainConfig) -> None:
    c = _Checker("train", t)
    c.non_empty("out", "device")
    c.at_least(1, "steps", "batch_size", "ckpt_every", "log_every", "val_every", "val_batches")
    c.at_least(1, "sigreg_directions")
    c.at_least(2, "sigreg_knots")
    c.at_least(0, "warmup_steps", "weight_decay", "sigreg_lambda", "threads", "loader_workers", "seed")
    c.at_least(0, "rollout_steps", "rollout_weight")
    c.at_least(1, "prefetch")
    c.above(0, "lr", "grad_clip")
    c.in_range("min_lr_ratio", 0.0, 1.0, high_open=False)
    c.one_of("precision", ("auto", "bf16", "fp32"))


PLAN_MAX = {"init_std": 100.0, "temperature": 1000.0, "gd_lr": 1000.0, "noise_beta": 10.0, "ensemble_penalty": 100.0}


def check_plan(p: PlanConfig) -> None:
    c = _Checker("plan", p)
    c.at_least(1, "horizon", "receding", "iterations", "gd_restarts")
    c.at_least(2, "samples")
    c.at_least(0, "gd_steps")
    c.above(0, "init_std", "temperature", "gd_lr")
    # upper bounds: beyond them the search is meaningless (actions are clipped to the box at ~1 normalised
    # std) and float32 overflows; the server takes these bounds for requests' planner settings
    c.in_range("init_std", 0.0, PLAN_MAX["init_std"], high_open=False)
    c.in_range("temperature", 0.0, PLAN_MAX["temperature"], high_open=False)
    c.in_range("gd_lr", 0.0, PLAN_MAX["gd_lr"], high_open=False)
    c.in_range("noise_beta", 0.0, PLAN_MAX["noise_beta"], high_open=False)
    c.in_range("ensemble_penalty", 0.0, PLAN_MAX["ensemble_penalty"], high_open=False)
    if not 1 <= p.elites <= p.samples:
        _fail("plan.elites", f"in [1, plan.samples={p.samples}]", p.elites)
    if not 0 <= p.keep_elites <= p.samples - 2:
        _fail("plan.keep_elites", f"in [0, plan.samples - 2 = {p.samples - 2}]", p.keep_elites)
    c.one_of("noise", ("iid", "block", "colored"))
    c.one_of("cost", ("terminal", "min"))
    c.one_of("precision", ("fp32", "bf16", "auto"))


def check_eval(e: EvalConfig) -> None:
    c = _Checker("eval", e)
    c.at_least(1, "episodes", "goal_offset", "budget", "n_envs")
    c.at_least(0, "videos")
    c.non_empty("subset")


_SECTIONS: dict[type, Callable[[Any], None]] = {
    DataConfig: check_data,
    ModelConfig: check_model,
    TrainConfig: check_train,
    PlanConfig: check_plan,
    EvalConfig: check_eval,
}


def validate(cfg: Config | DataConfig | ModelConfig | TrainConfig | PlanConfig | EvalConfig) -> None:
    """Raise :class:`ConfigError` for the first out-of-range setting of a config (or of one section)."""
    if isinstance(cfg, Config):
        for section in (cfg.data, cfg.model, cfg.train, cfg.plan, cfg.eval):
            _SECTIONS[type(section)](section)
        tokens = cfg.data.history + cfg.data.pred - 1  # the predictor's training sequence
        if cfg.model.pos_embedding == "learned" and cfg.model.max_len < tokens:
            _fail("model.max_len", f">= data.history + data.pred - 1 = {tokens} (learned positions)", cfg.model.max_len)
        if cfg.train.rollout_steps > cfg.data.pred:
            _fail("train.rollout_steps", f"<= data.pred={cfg.data.pred} (the window's predicted frames)",
                  cfg.train.rollout_steps)  # fmt: skip
        return
    check = _SECTIONS.get(type(cfg))
    if check is None:
        raise TypeError(f"validate expects a Config or one of its sections, got {type(cfg).__name__}")
    check(cfg)
