"""Per-fold training of Baseline / G2RL: settings, device choice, checkpoints, loop, predictions.

The names load on first use (PEP 562): `g2rl predict` and the reports import
``g2rl.training.checkpoint`` and must not pay for the training loop's G2RL model (torch_geometric).
"""

from g2rl.lazy import lazy_getattr

_WHERE = {
    "TrainSettings": "g2rl.training.settings",
    "load_inference_model": "g2rl.training.checkpoint",
    "run_training": "g2rl.training.loop",
    "train_fold": "g2rl.training.loop",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
