from jepaworld.train.interrupt import TrainingInterrupted
from jepaworld.train.loop import TrainingDiverged, TrainResult, build_model, train

__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "build_model", "train"]
