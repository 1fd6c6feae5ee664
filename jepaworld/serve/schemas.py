"""Request and response bodies of the HTTP API (pydantic), as the OpenAPI page shows them.

Images travel as base64: a PNG (``{"png": "..."}``, one RGB frame) or raw uint8 bytes in C order
with their shape (``{"data": "...", "shape": [H, W, 3]}`` or ``[N, H, W, 3]``), always at the
model's resolution. Planner settings are a whitelist of ``PlanConfig`` fields: nothing a request
sends can name a file, a preset or a module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jepaworld.config.checks import PLAN_MAX

MAX_SEED = 2**63 - 1


class Image(BaseModel):
    """One frame (PNG or raw) or, raw only, a batch of frames."""

    model_config = ConfigDict(extra="forbid")

    png: str | None = Field(None, description="base64 of an RGB PNG of H x W pixels (one frame)")
    data: str | None = Field(None, description="base64 of raw uint8 pixels, C order, channel-last")
    shape: list[int] | None = Field(None, description="shape of `data`: [H, W, 3] or [N, H, W, 3]")
    dtype: str = Field("uint8", description="dtype of `data`; only uint8 is accepted")

    @model_validator(mode="after")
    def _one_encoding(self) -> Image:
        if (self.png is None) == (self.data is None):
            raise ValueError('give exactly one of "png" (base64 PNG) or "data" (base64 raw uint8 with "shape")')
        if self.data is not None and self.shape is None:
            raise ValueError('"data" needs "shape": [H, W, 3] or [N, H, W, 3]')
        if self.png is not None and self.shape is not None:
            raise ValueError('"shape" goes with "data"; a PNG carries its own size')
        return self


class PlannerSettings(BaseModel):
    """Planner settings a request may change (``PlanConfig`` fields); unset ones keep the server's.

    Numbers must be finite; the server range-checks the resulting ``PlanConfig`` with the config's own
    checks (``jepaworld.config.checks``), whose upper bounds the fields below show."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    planner: Literal["cem", "mppi", "gd"] | None = None
    horizon: int | None = Field(None, description="action blocks planned ahead")
    receding: int | None = Field(None, description="blocks executed before re-planning")
    samples: int | None = None
    elites: int | None = None
    iterations: int | None = None
    init_std: float | None = Field(None, gt=0, le=PLAN_MAX["init_std"])
    noise: Literal["iid", "block", "colored"] | None = None
    noise_beta: float | None = Field(None, ge=0, le=PLAN_MAX["noise_beta"])
    cost: Literal["terminal", "min"] | None = None
    warm_start: bool | None = None
    temperature: float | None = Field(None, gt=0, le=PLAN_MAX["temperature"])
    gd_steps: int | None = None
    gd_lr: float | None = Field(None, gt=0, le=PLAN_MAX["gd_lr"])
    gd_restarts: int | None = None

    def changes(self) -> dict[str, object]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    obs: Image | list[Image] = Field(description="the frame(s) now: one image, a raw batch, or a list")
    goal: Image | list[Image] = Field(description="goal image(s): one for every frame, or one per frame")
    planner: PlannerSettings | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED, description="the planner's noise seed (same seed, same plan)")


class PlanResponse(BaseModel):
    actions: list[list[list[float]]] = Field(description="raw actions (N, horizon * frameskip, action_dim)")
    blocks: int = Field(description="action blocks per plan (horizon)")
    frameskip: int
    cost: list[float] | None = Field(description="the planner's latent cost of each plan")
    plan_time_s: float
    batch_size: int = Field(description="rows planned in the same planner call (this and other requests)")
    planner: str


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: Image = Field(description="the goal image (one frame)")
    planner: PlannerSettings | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED, description="the planner's noise seed")


class SessionResponse(BaseModel):
    id: str
    ttl_s: float = Field(description="the session expires after this long without a request")
    planner: str
    frameskip: int
    action_dim: int


class ActRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    obs: Image = Field(description="the frame seen after executing every action of the last block")


class ActResponse(BaseModel):
    actions: list[list[float]] = Field(description="the next block of raw actions (frameskip, action_dim)")
    loop: Literal["planner"] = Field(default="planner", description="what produced the block: the latent planner")
    replanned: bool = Field(description="whether this frame triggered a new plan")
    cost: float | None = Field(description="the latent cost of the plan the block comes from")
    plan_time_s: float | None = Field(description="seconds of that plan (shared by its batch)")
    step: int = Field(description="blocks handed out in this session")
    plans: int = Field(description="plans made in this session")
    batch_size: int


class ErrorResponse(BaseModel):
    error: str = Field(description="what went wrong and what to change")
    detail: list[str] | None = None
