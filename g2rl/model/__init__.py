"""G2RL model: the heatmap backbone (the Baseline), the geometry module, the projection, the losses."""

from g2rl.model.backbone import HeatmapNet
from g2rl.model.g2rl_net import G2RLModel, LossTerms
from g2rl.model.geometry import GeometryModule
from g2rl.model.projection import KnowledgeProjection

__all__ = ["G2RLModel", "GeometryModule", "HeatmapNet", "KnowledgeProjection", "LossTerms"]
