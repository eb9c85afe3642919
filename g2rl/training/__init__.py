"""Per-fold training of Baseline / G2RL: settings, device choice, checkpoints, loop, predictions."""

from g2rl.training.checkpoint import load_inference_model
from g2rl.training.loop import run_training, train_fold
from g2rl.training.settings import TrainSettings

__all__ = ["TrainSettings", "load_inference_model", "run_training", "train_fold"]
