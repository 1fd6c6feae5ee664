"""World model: encoders, projector, action encoder, AdaLN-zero predictor, SIGReg, WorldModel; and what
runs on a trained one: batched encoding (``encode``), surprise (``surprise``), a linear read-out (``linear_probe``)."""

from jepaworld.model.sigreg import SIGReg
from jepaworld.model.world_model import WorldModel

__all__ = ["SIGReg", "WorldModel"]
