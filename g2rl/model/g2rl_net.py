"""The joint training model (Eq. 8) and the test-time model.

Training (lambda > 0, "G2RL"):
    maps, M   = HeatmapNet(image)
    G, |G_raw| = GeometryModule(landmarks)                 unit-norm G (cannot collapse to 0)
    L_S   = masked ||maps - S||^2                          (Eq. 2/7)
    L_G   = ||stopgrad(G) - W M||^2                        (Eq. 6; trains W and the backbone only)
    L_aux = masked MSE(AuxHead(G), I)                      (gives G content: the AU intensities)
    L     = lambda L_G + (1 - lambda) L_S + aux_weight L_aux   (Eq. 8 plus the auxiliary term)

Why stop-gradient: with G and W both free, L_G alone is minimised by G = W M = 0 or by any
constant G. Detaching G makes it a target that only the auxiliary objective shapes, so the
guidance flows one way, from geometry into the backbone, as in the paper's Figure 3.

lambda = 0 is the Baseline: no geometry module, projection or auxiliary head is built at all.
At test time both reduce to ``model.net`` (a HeatmapNet), whose state dict is the inference
checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from g2rl.model.backbone import HeatmapNet
from g2rl.model.geometry import GeometryModule
from g2rl.model.losses import guidance_loss, masked_heatmap_loss, masked_intensity_loss
from g2rl.model.projection import KnowledgeProjection


@dataclass
class LossTerms:
    """Scalars of one step. ``total`` carries the graph; the rest are detached for logging."""

    total: torch.Tensor
    heatmap: torch.Tensor  # L_S
    guidance: torch.Tensor  # L_G (0 for the Baseline)
    aux: torch.Tensor  # L_aux (0 for the Baseline)
    g_norm: torch.Tensor  # mean ||G_raw|| over the batch, before normalisation (nan for the Baseline)
    g_spread: torch.Tensor  # mean over dims of G's std across the batch (nan for the Baseline)


class G2RLModel(nn.Module):
    """Backbone (+ geometry module, projection and auxiliary head when lambda_g > 0)."""

    def __init__(
        self,
        n_aus: int,
        backbone: str = "resnet50",
        pretrained: str | os.PathLike | None = None,
        deconv_channels: Sequence[int] = (256, 256, 256),
        lambda_g: float = 0.05,
        aux_weight: float = 1.0,
        gcn_channels: Sequence[int] = (64, 128, 256),
        gcn_conv_channels: int = 32,
        gcn_fc_channels: Sequence[int] = (512, 256),
        latent_dim: int = 256,
        adjacency_tau: float = 0.25,
        projection_pool: int = 4,
    ) -> None:
        super().__init__()
        if not 0.0 <= lambda_g < 1.0:
            raise ValueError(f"lambda_g must be in [0, 1), got {lambda_g}")
        self.lambda_g = float(lambda_g)
        self.aux_weight = float(aux_weight)
        self.net = HeatmapNet(n_aus, backbone, pretrained, deconv_channels)
        if self.guided:
            self.geometry = GeometryModule(
                gcn_channels, gcn_conv_channels, gcn_fc_channels, latent_dim, adjacency_tau
            )
            self.projection = KnowledgeProjection(self.net.feature_channels, latent_dim, projection_pool)
            self.aux_head = nn.Linear(latent_dim, n_aus)

    @property
    def guided(self) -> bool:
        """True for G2RL (lambda > 0), False for the Baseline."""
        return self.lambda_g > 0.0

    def inference_model(self) -> HeatmapNet:
        """The test-time network: the backbone alone (geometry and projection dropped)."""
        return self.net

    def forward(
        self,
        image: torch.Tensor,
        heatmaps: torch.Tensor,
        intensity: torch.Tensor,
        landmarks: torch.Tensor | None = None,
    ) -> LossTerms:
        """Losses of one batch. image (B,3,S,S); heatmaps (B,K,S/4,S/4); intensity (B,K), NaN =
        unlabelled; landmarks (B,68,2) in crop pixels (required when guided)."""
        maps, m = self.net(image, return_features=True)
        l_s = masked_heatmap_loss(maps, heatmaps, intensity)
        nan = torch.full((), float("nan"), device=l_s.device)
        if not self.guided:
            zero = torch.zeros((), device=l_s.device)
            return LossTerms(l_s, l_s.detach(), zero, zero, nan, nan)
        if landmarks is None:
            raise ValueError("G2RL training needs the landmarks of every image")
        # The geometry module is small and precision-sensitive (normalisation, kernel): run it in fp32.
        with torch.autocast(device_type=image.device.type, enabled=False):
            g, g_raw_norm = self.geometry(landmarks.float())
            aux = masked_intensity_loss(self.aux_head(g), intensity)
        projected = self.projection(m).float()
        l_g = guidance_loss(g.detach(), projected)
        total = self.lambda_g * l_g + (1.0 - self.lambda_g) * l_s + self.aux_weight * aux
        spread = g.detach().std(dim=0).mean() if g.shape[0] > 1 else nan
        return LossTerms(total, l_s.detach(), l_g.detach(), aux.detach(), g_raw_norm.detach().mean(), spread)
