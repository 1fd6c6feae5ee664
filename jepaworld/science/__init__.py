"""World-model science: what a trained model understands, measured without a planner.

- ``rollout_error``: open-loop latent prediction error against horizon, beside copy-last and
  linear-extrapolation baselines (``jepaworld rollout-error``);
- ``probes``: linear and MLP probes from frozen embeddings to the state (``jepaworld probe``);
- ``surprise``: the per-step surprise signal (``wm.surprise``, ``SurpriseMeter``) and the
  violation-of-expectation test on teleported / recoloured trajectories (``jepaworld surprise``).

Each computes a result dataclass and writes nothing; ``write_*`` writes ``results.json`` and plots.
"""

from jepaworld.science.probes import ProbeResult, run_probes, write_probes
from jepaworld.science.rollout_error import RolloutErrorResult, rollout_error, write_rollout_error
from jepaworld.science.surprise import SurpriseMeter, SurpriseResult, surprise_signal, surprise_test, write_surprise

__all__ = [
    "ProbeResult",
    "RolloutErrorResult",
    "SurpriseMeter",
    "SurpriseResult",
    "rollout_error",
    "run_probes",
    "surprise_signal",
    "surprise_test",
    "write_probes",
    "write_rollout_error",
    "write_surprise",
]
