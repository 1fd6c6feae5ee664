"""World-model science: what a trained model understands, measured without a planner.

- ``rollout_error``: open-loop latent prediction error against horizon, beside copy-last and
  linear-extrapolation baselines (``jepaworld rollout-error``);
- ``probes``: linear and MLP probes from frozen embeddings to the state (``jepaworld probe``);
- ``surprise``: the per-step surprise signal (``wm.surprise``, ``SurpriseMeter``) and the
  violation-of-expectation test on teleported / recoloured trajectories (``jepaworld surprise``);
- ``structure``: PCA of held-out embeddings coloured by the state, and temporal straightening (the
  curvature of latent trajectories beside pixels, an untrained encoder and the state) (``jepaworld structure``).

Each computes a result dataclass and writes nothing; ``write_*`` writes ``results.json`` and plots.
"""

from jepaworld.science.probes import ProbeResult, run_probes, write_probes
from jepaworld.science.rollout_error import RolloutErrorResult, rollout_error, write_rollout_error
from jepaworld.science.structure import StructureResult, latent_structure, write_structure
from jepaworld.science.surprise import SurpriseMeter, SurpriseResult, surprise_signal, surprise_test, write_surprise

__all__ = [
    "ProbeResult",
    "RolloutErrorResult",
    "StructureResult",
    "SurpriseMeter",
    "SurpriseResult",
    "latent_structure",
    "rollout_error",
    "run_probes",
    "surprise_signal",
    "surprise_test",
    "write_probes",
    "write_rollout_error",
    "write_structure",
    "write_surprise",
]
