"""World model: encoders, projector, action encoder, AdaLN-zero predictor, SIGReg, WorldModel."""

from jepaworld.model.sigreg import SIGReg
from jepaworld.model.world_model import WorldModel

__all__ = ["SIGReg", "WorldModel"]
