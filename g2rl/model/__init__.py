"""G2RL model: the heatmap backbone (the Baseline), the geometry module, the projection, the losses.

The names load on first use (PEP 562), so importing the backbone alone (``g2rl predict``, the
reports) does not import torch_geometric: only the geometry module, built for G2RL training, needs it.
"""

from g2rl.lazy import lazy_getattr

_WHERE = {
    "HeatmapNet": "g2rl.model.backbone",
    "G2RLModel": "g2rl.model.g2rl_net",
    "LossTerms": "g2rl.model.g2rl_net",
    "GeometryModule": "g2rl.model.geometry",
    "KnowledgeProjection": "g2rl.model.projection",
    "ModelConfig": "g2rl.model.config",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
