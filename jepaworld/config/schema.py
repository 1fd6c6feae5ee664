"""Typed configuration: one dataclass per concern, one source of truth per setting.

Every field has a default; presets under ``configs/*.yaml`` override some of them and every
value can be overridden from the CLI with ``--set section.key=value``. The resolved config is
saved next to everything it produces (datasets, checkpoints, evaluation results).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataConfig:
    """Where episodes come from and how training windows are cut from them."""

    env: str = "tworoom"  # short name (tworoom) or "gymnasium:ID"
    path: str = "runs/data/tworoom.h5"  # relative paths resolve against the working directory
    episodes: int = 1000
    max_steps: int = 100  # env steps per collected episode at most
    resolution: int = 64  # rendered square frame size (pixels)
    noise: float = 0.3  # scripted expert's action noise (std, in action units)
    policy: str = "expert"  # "expert", "random", or "module:function"
    explore: float = 0.0  # chance that an action block takes one uniform random action instead of the policy's
    workers: int = 2
    seed: int = 0
    frameskip: int = 5  # env steps per action block
    history: int = 1  # context frames given to the predictor
    pred: int = 1  # frames predicted after the context (teacher forcing)
    val_fraction: float = 0.05  # held-out episodes (also used for evaluation starts)
    in_memory: bool = True  # load pixels into RAM for sampling (else read windows from disk)


@dataclass
class ModelConfig:
    """World model: encoder -> projector -> z; action encoder; causal AdaLN-zero predictor."""

    encoder: str = "cnn"  # "cnn" or "vit"
    image_size: int = 64
    # ViT encoder
    patch_size: int = 16
    enc_width: int = 192
    enc_depth: int = 12
    enc_heads: int = 3
    # CNN encoder: channels per stride-2 stage
    cnn_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    cnn_depth: int = 1  # convolutions per stage: the stride-2 one, then depth - 1 residual 3x3 ones
    cnn_pool: str = "flatten"  # "flatten" keeps positions (measured: far better planning cost); "mean"
    # latent
    embed_dim: int = 192
    proj_hidden: int = 2048
    # predictor
    pred_depth: int = 4
    pred_heads: int = 16
    pred_head_dim: int = 64
    pred_mlp: int = 2048
    pred_dropout: float = 0.1
    pos_embedding: str = "rope"  # "rope" (relative; sliding-window KV cache) or "learned" (paper)
    max_len: int = 32  # longest token sequence the predictor accepts (learned positions)
    # action encoder
    action_hidden_mult: int = 4


@dataclass
class TrainConfig:
    """Optimisation, loss weights, logging and checkpointing."""

    out: str = "runs/tworoom-cpu"
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 100
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    sigreg_lambda: float = 0.01
    sigreg_directions: int = 1024
    sigreg_knots: int = 17
    # multi-step loss: the predictor's own open-loop rollout over the window's first `rollout_steps`
    # predicted frames (needs data.pred >= rollout_steps), weighted beside the teacher-forced MSE.
    # 0 = teacher forcing only (the published recipe).
    rollout_steps: int = 0
    rollout_weight: float = 1.0
    # True: the multi-step term trains the predictor only (its start and targets are detached from the
    # encoder), so the encoder is shaped by the one-step loss and SIGReg alone
    rollout_detach: bool = False
    precision: str = "auto"  # "auto" (bf16 on CUDA, fp32 on CPU), "bf16", "fp32"
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = leave torch's default
    loader_workers: int = 0  # processes assembling batches ahead of the step; 0 = in the training process
    prefetch: int = 2  # batches each loader worker keeps ready
    compile: bool = False  # torch.compile the model for training (CUDA: worth it at the published scale)
    log_every: int = 10
    val_every: int = 200
    val_batches: int = 4
    ckpt_every: int = 500


@dataclass
class PlanConfig:
    """Latent-space planner (model-predictive control with a receding horizon)."""

    planner: str = "cem"  # "cem", "mppi", "gd"
    horizon: int = 5  # action blocks
    receding: int = 5  # blocks executed before re-planning
    samples: int = 300
    elites: int = 30
    iterations: int = 30
    init_std: float = 1.0  # in normalised action space
    noise: str = "block"  # "iid" (published: independent per env step), "block", "colored"
    noise_beta: float = 2.0  # colour exponent for "colored" noise (iCEM)
    cost: str = "terminal"  # "terminal" (published) or "min" (best state along the horizon)
    # iCEM (Pinneri et al. 2020): the cheapest candidates of each iteration join the next one's
    # population, so a small population keeps what it found (0 = plain CEM/MPPI, as published)
    keep_elites: int = 0
    warm_start: bool = True
    # the no-grad rollout's matmuls and attention: "fp32" or "bf16" (residual stream, norms and
    # softmax stay fp32; model/fast_step.py), or "auto": bf16 where the device computes it natively
    # (AVX512-BF16/AMX CPUs, bf16 GPUs), fp32 elsewhere. The gradient planner always runs fp32.
    precision: str = "fp32"
    # an ensemble of world models (`jepaworld eval --ensemble RUN`, `jepaworld.load_ensemble`) plans on the
    # mean of its members' costs plus this many standard deviations across them (0: the mean; a single
    # model ignores it)
    ensemble_penalty: float = 0.0
    # MPPI
    temperature: float = 0.5  # relative: in units of the std of each environment's candidate costs
    # gradient planner
    gd_steps: int = 50
    gd_lr: float = 0.1
    gd_restarts: int = 8

    def describe(self) -> str:
        """One line of the settings that decide a result, for tables, plots and reports."""
        if self.planner == "gd":
            search = f"gd {self.gd_steps} steps x {self.gd_restarts} restarts (lr {self.gd_lr})"
        else:
            search = f"{self.planner} {self.samples} samples x {self.iterations} iterations"
            search += f" ({self.elites} elites)" if self.planner == "cem" else f" (temperature {self.temperature})"
            search += f", {self.keep_elites} kept per iteration" if self.keep_elites else ""
        return (
            f"{search}, {self.noise} noise, {self.cost} cost,"
            f" re-plan every {min(self.receding, self.horizon)} of {self.horizon} blocks"
            + (f", {self.precision} rollout" if self.precision != "fp32" else "")
            + (f", ensemble cost mean + {self.ensemble_penalty:g} std" if self.ensemble_penalty else "")
        )


@dataclass
class EvalConfig:
    """Goal-reaching protocol: start on a held-out trajectory, goal `goal_offset` steps later."""

    episodes: int = 50
    goal_offset: int = 25
    budget: int = 50  # env steps
    subset: str = "all"  # "all", or one of the env's named subsets (Two-Room: "cross-wall", "far-corner")
    seed: int = 0
    n_envs: int = 50  # environments stepped in parallel (one planner batch)
    videos: int = 3


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
