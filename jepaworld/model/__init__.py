"""World model: encoders, projector, action encoder, AdaLN-zero predictor, SIGReg, WorldModel, several of them
planned as one (``ensemble``); and what runs on a trained one: batched encoding (``encode``), surprise
(``surprise``), a linear read-out (``linear_probe``)."""

from jepaworld.model.ensemble import WorldModelEnsemble
from jepaworld.model.sigreg import SIGReg
from jepaworld.model.world_model import WorldModel

__all__ = ["SIGReg", "WorldModel", "WorldModelEnsemble"]
