from jepaworld.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from jepaworld.train.loop import TrainingDiverged, TrainResult, build_model, train

__all__ = [
    "CheckpointError",
    "TrainResult",
    "TrainingDiverged",
    "build_model",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
