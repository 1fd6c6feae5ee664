from jepaworld.train.loop import TrainingDiverged, TrainResult, build_model, train

__all__ = ["TrainResult", "TrainingDiverged", "build_model", "train"]
