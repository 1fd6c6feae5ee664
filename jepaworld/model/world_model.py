"""The JEPA world model: encoder -> projector -> z; action encoder; predictor -> projector -> z_hat.

Training (done by the trainer) compares predict(z[:, :-1], a[:, :-1]) with z[:, 1:] and adds
SIGReg on z. Planning goes through `cost`, the one protocol planners depend on.

Rollout convention. History tokens z_0 .. z_{h-1} are given with the action blocks that followed
them: `hist_blocks[:, t]` is the block taken after frame t for t < h - 1 (zeros when unknown), and
`blocks[:, 0]` is the block taken after the last history frame. Step i of the rollout predicts
z_{h+i} from the tokens before it and feeds its prediction back as the next token.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from jepaworld.config.schema import ModelConfig
from jepaworld.model.action_encoder import ActionEncoder
from jepaworld.model.cnn import CNN
from jepaworld.model.fast_step import stepper
from jepaworld.model.predictor import KVCache, Predictor
from jepaworld.model.projector import Projector
from jepaworld.model.vit import ViT

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class WorldModel(nn.Module):
    """LeWM-style world model over frames (uint8, channel-last) and action blocks (fs * A dims)."""

    pixel_mean: Tensor  # buffers (1, 3, 1, 1): ImageNet normalisation of the encoder's input
    pixel_std: Tensor

    def __init__(self, cfg: ModelConfig, action_dim: int, frameskip: int, history: int):
        super().__init__()
        self.cfg, self.action_dim, self.frameskip, self.history = cfg, action_dim, frameskip, history
        if cfg.encoder == "vit":
            self.encoder: nn.Module = ViT(
                cfg.image_size, cfg.patch_size, cfg.enc_width, cfg.enc_depth, cfg.enc_heads
            )
        elif cfg.encoder == "cnn":
            self.encoder = CNN(
                list(cfg.cnn_channels), cfg.enc_width, cfg.image_size, pool=cfg.cnn_pool, depth=cfg.cnn_depth
            )
        else:
            raise ValueError(f"model.encoder must be 'vit' or 'cnn', got {cfg.encoder!r}")
        D = cfg.embed_dim
        self.projector = Projector(cfg.enc_width, cfg.proj_hidden, D)
        self.action_encoder = ActionEncoder(frameskip * action_dim, D, cfg.action_hidden_mult)
        self.predictor = Predictor(
            D, cfg.pred_depth, cfg.pred_heads, cfg.pred_head_dim, cfg.pred_mlp, cfg.pred_dropout,
            window=history, pos_embedding=cfg.pos_embedding, max_len=cfg.max_len,
        )  # fmt: skip
        self.pred_projector = Projector(D, cfg.proj_hidden, D)
        self.register_buffer("pixel_mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    # ----------------------------------------------------------------------------- training
    def encode(self, pixels: Tensor) -> Tensor:
        """pixels: uint8 (..., H, W, 3), e.g. (B, T, H, W, 3) -> z: (..., D)."""
        if pixels.dtype != torch.uint8 or pixels.dim() < 4 or pixels.shape[-1] != 3:
            raise ValueError(
                f"encode expects uint8 pixels shaped (..., H, W, 3), got {pixels.dtype} {tuple(pixels.shape)}"
            )
        lead, (H, W) = pixels.shape[:-3], pixels.shape[-3:-1]
        x = pixels.reshape(-1, H, W, 3).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self.pixel_mean) / self.pixel_std
        return self.projector(self.encoder(x)).reshape(*lead, -1)

    def predict(self, z: Tensor, actions: Tensor) -> Tensor:
        """z: (B, T, D), actions: (B, T, fs*A) -> z_hat: (B, T, D); z_hat[:, t] predicts z[:, t+1]."""
        if z.shape[:2] != actions.shape[:2]:
            raise ValueError(f"z {tuple(z.shape)} and actions {tuple(actions.shape)} differ in (B, T)")
        return self.pred_projector(self.predictor(z, self.action_encoder(actions)))

    def forward(
        self, pixels: Tensor, actions: Tensor, rollout_steps: int = 0, rollout_detach: bool = False
    ) -> dict[str, Tensor]:
        """Teacher-forced training pass over a window of T frames, and optionally an open-loop one.

        pixels: uint8 (B, T, H, W, 3), actions: (B, T, fs*A) ->
        {"z": (B, T, D), "z_hat": (B, T-1, D)} with z_hat[:, t] the prediction of z[:, t+1].
        rollout_steps K > 0 adds "z_roll": (B, K, D), the predictor's own rollout from the first
        ``history`` embeddings (each prediction fed back, as planning does), and its target
        "z_roll_target" = z[:, h:h+K]; with ``rollout_detach`` both the rollout's start and its target
        are detached (no gradient of that term into the encoder).
        """
        z = self.encode(pixels)
        out = {"z": z, "z_hat": self.predict(z[:, :-1], actions[:, :-1])}
        if rollout_steps > 0:
            h = self.history
            if h + rollout_steps > z.shape[1]:
                raise ValueError(f"rollout_steps={rollout_steps} needs windows of >= {h + rollout_steps} frames, "
                                 f"got {z.shape[1]}")  # fmt: skip
            blocks = actions[:, h - 1 : h - 1 + rollout_steps]
            zd = z.detach() if rollout_detach else z
            out["z_roll"] = self._rollout_predictor(zd[:, :h], blocks[:, None], actions[:, : h - 1])[:, 0]
            out["z_roll_target"] = zd[:, h : h + rollout_steps]
        return out

    # ----------------------------------------------------------------------------- planning
    def rollout(self, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None = None) -> Tensor:
        """Autoregressive rollout. z_hist: (B, h, D), blocks: (B, H, fs*A) -> (B, H, D).

        hist_blocks: (B, h-1, fs*A), the blocks taken after each history frame but the last
        (zeros if None). Runs under inference_mode when grad is disabled; stays differentiable
        when it is enabled. Call model.eval() first (dropout, BatchNorm statistics). The paths are
        those of `cost` (one candidate per environment).
        """
        with _inference_unless_grad() as fast:
            z = self._rollout(z_hist, blocks[:, None], hist_blocks, "fp32", fast)[:, 0]
        return z.clone() if fast else z

    def cost(
        self,
        z_start: Tensor,
        z_goal: Tensor,
        blocks: Tensor,
        mode: str = "terminal",
        hist_blocks: Tensor | None = None,
        precision: str = "fp32",
    ) -> Tensor:
        """Planning cost. z_start: (B, h, D) or (B, D), z_goal: (B, D), blocks: (B, S, H, fs*A) -> (B, S).

        "terminal" (published): ||z_hat_H - z_goal||^2 on the last predicted embedding; "min": the
        smallest squared distance along the horizon. All B * S candidates run as one batch.
        hist_blocks: (B, h-1, fs*A) as in `rollout`. Without grad, RoPE models take the fast path
        (`model/fast_step.py`: the history prefix once per environment, RoPE folded into the
        weights, no KV copies); ``precision="bf16"`` runs its matmuls in bfloat16
        (`PlanConfig.precision`; learned positions under bf16 autocast). With grad (the gradient
        planner) the rollout runs through the predictor's own modules (`_rollout_predictor`).
        """
        if mode not in ("terminal", "min"):
            raise ValueError(f"cost mode must be 'terminal' or 'min', got {mode!r}")
        if z_start.dim() == 2:
            z_start = z_start[:, None]
        with _inference_unless_grad() as fast:
            z = self._rollout(z_start, blocks, hist_blocks, precision, fast).float()  # (B, S, H, D)
            dist = (z - z_goal[:, None, None]).square().sum(-1)  # (B, S, H)
            c = dist[..., -1] if mode == "terminal" else dist.min(dim=-1).values
        return c.clone() if fast else c

    def _rollout(
        self, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None, precision: str, no_grad: bool
    ) -> Tensor:
        """S candidate plans per environment. z_hist: (B, h, D), blocks: (B, S, H, fs*A) -> (B, S, H, D).

        Without grad a RoPE model takes the fast path (`_rollout_fast`); otherwise the predictor's
        own modules run (`_rollout_predictor`), under bf16 autocast when ``precision`` asks for it
        without grad.
        """
        if no_grad and self.predictor.pos_embedding == "rope":
            return self._rollout_fast(z_hist, blocks, hist_blocks, precision)
        low = no_grad and precision == "bf16"
        with torch.autocast(z_hist.device.type, torch.bfloat16, enabled=low):
            return self._rollout_predictor(z_hist, blocks, hist_blocks)

    def _rollout_fast(self, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None, precision: str) -> Tensor:
        """No-grad cached rollout of S candidates per environment (RoPE). See `model/fast_step.py`.

        z_hist: (B, h, D), blocks: (B, S, H, fs*A) -> (B, S, H, D). The first h-1 history tokens
        run on B rows; their keys and values broadcast over the S candidates. Equal to
        `_rollout_predictor` (fp32; bf16 within its rounding); tests hold both to a full recompute.
        """
        B, h, D = z_hist.shape
        S, H, A = blocks.shape[1:]
        hist_blocks = self._check_hist_blocks(hist_blocks, blocks, B, h)
        fast = stepper(self.predictor, precision, self.pred_projector)
        step = fast.step
        cache = None
        if h > 1:
            hist_mods = fast.modulations(self.action_encoder(hist_blocks))  # (B, h-1, depth, 6D)
            for t in range(h - 1):
                _, cache = step(z_hist[:, t, None], hist_mods[:, None, t], cache, t)
        mods = fast.modulations(self.action_encoder(blocks.reshape(B * S, H, A)))
        mods = mods.view(B, S, H, *mods.shape[2:])  # mods[:, :, i] conditions token h-1+i
        x = z_hist[:, -1, None].expand(B, S, D)
        preds: list[Tensor] = []
        for i in range(H):
            y, cache = step(x, mods[:, :, i], cache, h - 1 + i)
            x = fast.project(y)
            preds.append(x)
        return torch.stack(preds, dim=2)

    def _rollout_predictor(self, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None) -> Tensor:
        """The rollout through the predictor's own modules: differentiable (the training forward's
        multi-step term, the gradient planner) and the only one for learned positions.

        z_hist: (B, h, D), blocks: (B, S, H, fs*A) -> (B, S, H, D). RoPE: KV-cached `Predictor.step`,
        one token per step; the first h-1 history tokens (the same for every candidate of an
        environment) run on B rows and their keys and values are shared by the S candidates.
        Learned positions: the last `history` tokens are recomputed each step with positions
        0 .. history-1 (the published rollout).
        """
        B, h, D = z_hist.shape
        S, H = blocks.shape[1:3]
        hist_blocks = self._check_hist_blocks(hist_blocks, blocks, B, h)

        def rows(x: Tensor) -> Tensor:  # (B, ...) per environment -> (B*S, ...) per candidate
            return x[:, None].expand(B, S, *x.shape[1:]).reshape(B * S, *x.shape[1:])

        preds: list[Tensor] = []
        if self.predictor.pos_embedding == "rope":
            shared: KVCache | None = None
            if h > 1:
                c_hist = self.action_encoder(hist_blocks)  # (B, h-1, D)
                cache: KVCache | None = None
                for t in range(h - 1):
                    _, cache = self.predictor.step(z_hist[:, t], c_hist[:, t], cache, t)
                assert cache is not None  # h - 1 >= 1 steps ran
                shared = [(rows(k), rows(v)) for k, v in cache]
            c = self.action_encoder(blocks.reshape(B * S, H, -1))  # (B*S, H, D): c[:, i] after token h-1+i
            y, shared = self.predictor.step(rows(z_hist[:, -1]), c[:, 0], shared, h - 1)
            for i in range(H):
                preds.append(self.pred_projector(y))
                if i + 1 < H:
                    y, shared = self.predictor.step(preds[-1], c[:, i + 1], shared, h + i)
        else:
            seq = rows(z_hist)
            c = self.action_encoder(torch.cat([rows(hist_blocks), blocks.reshape(B * S, H, -1)], dim=1))
            for i in range(H):  # c[:, t]: the block taken after token t
                n = h + i  # tokens so far; the last one carries action c[:, n-1]
                w = min(n, self.history)
                y = self.predictor(seq[:, n - w :], c[:, n - w : n])[:, -1]
                preds.append(self.pred_projector(y))
                seq = torch.cat([seq, preds[-1][:, None]], dim=1)
        return torch.stack(preds, dim=1).view(B, S, H, D)

    @staticmethod
    def _check_hist_blocks(hist_blocks: Tensor | None, blocks: Tensor, B: int, h: int) -> Tensor:
        """hist_blocks (B, h-1, fs*A), zeros when None."""
        if hist_blocks is None:
            return blocks.new_zeros(B, h - 1, blocks.shape[-1])
        if hist_blocks.shape[1] != h - 1:
            raise ValueError(f"hist_blocks must hold h-1 = {h - 1} blocks, got {tuple(hist_blocks.shape)}")
        return hist_blocks

    # ----------------------------------------------------------------------------- reporting
    def num_params(self) -> dict[str, int]:
        """Parameter counts: encoder, predictor, projectors, action_encoder, total."""
        count = lambda m: sum(p.numel() for p in m.parameters())
        n = {
            "encoder": count(self.encoder),
            "predictor": count(self.predictor),
            "projectors": count(self.projector) + count(self.pred_projector),
            "action_encoder": count(self.action_encoder),
        }
        n["total"] = sum(n.values())
        return n


@contextlib.contextmanager
def _inference_unless_grad():
    """inference_mode when grad is disabled (yields True), a no-op otherwise (yields False)."""
    fast = not torch.is_grad_enabled()
    with torch.inference_mode(fast):
        yield fast
