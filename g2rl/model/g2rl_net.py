"""The joint training model (Eq. 8) and the test-time model, with three guidance variants.

    maps, M = HeatmapNet(image)                            C maps (one per AU or per point)
    G       = GeometryModule(landmarks)
    L_S     = masked ||maps - S||^2                        (Eq. 2/7)

``guidance`` (ModelConfig) decides how G and L_G are made:

    literal              L_G = ||G - W M||^2, gradients into the geometry module, W and the
                         backbone; G raw; L = lambda L_G + (1 - lambda) L_S     (Eq. 6/8 as written)
    literal_fixed_norm   the same with ||G|| = sqrt(D) (rules out G = 0, not a constant G)
    stopgrad_aux         L_G = ||stopgrad(G) - W M||^2 with ||G|| = sqrt(D), plus
                         L_teach = masked MSE(TeachHead(G), I) that gives G content:
                         L = lambda L_G + (1 - lambda) L_S + teach_weight L_teach

Why stopgrad_aux exists: with G and W both free, L_G alone is minimised by G = W M = 0 or by any
constant G. Detaching G makes it a target that only L_teach shapes, so the guidance flows one way,
from geometry into the backbone, as in the paper's Figure 3. The paper calls L_G "auxiliary"; our
extra head is the "teacher" (L_teach), so "auxiliary" keeps the paper's meaning.

lambda = 0 is the Baseline: no geometry module, projection or teacher head is built at all.
At test time all reduce to ``model.net`` (a HeatmapNet), whose state dict is the inference
checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from g2rl.model.backbone import HeatmapNet
from g2rl.model.config import ModelConfig
from g2rl.model.geometry import GeometryModule
from g2rl.model.losses import guidance_loss, masked_heatmap_loss, masked_intensity_loss
from g2rl.model.projection import KnowledgeProjection


@dataclass
class LossTerms:
    """Scalars of one step. ``total`` carries the graph; the rest are detached for logging."""

    total: torch.Tensor
    heatmap: torch.Tensor  # L_S
    guidance: torch.Tensor  # L_G (0 for the Baseline)
    teach: torch.Tensor  # L_teach (0 for the Baseline and the literal variants)
    g_norm: torch.Tensor  # mean ||G_raw|| over the batch, before any normalisation (nan for the Baseline)
    g_spread: torch.Tensor  # mean over dims of G's std across the batch (nan for the Baseline)


class G2RLModel(nn.Module):
    """Backbone (+ geometry module, projection and, for stopgrad_aux, the teacher head when lambda_g > 0).

    config: the architecture and method choices. n_aus: K. channel_au: the AU index of each
    heatmap channel (default: one channel per AU); the label mask of a channel is its AU's.
    pretrained: ImageNet weights for the backbone (TrainSettings.pretrained).
    """

    def __init__(
        self,
        config: ModelConfig,
        n_aus: int,
        lambda_g: float = 0.05,
        pretrained: str | os.PathLike | None = None,
        channel_au: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= lambda_g < 1.0:
            raise ValueError(f"lambda_g must be in [0, 1), got {lambda_g}")
        self.config = config
        self.lambda_g = float(lambda_g)
        self.guidance = config.guidance
        channel_au = list(range(n_aus)) if channel_au is None else [int(c) for c in channel_au]
        if sorted(set(channel_au)) != list(range(n_aus)):
            raise ValueError(f"channel_au {channel_au} must cover the AU indices 0..{n_aus - 1}")
        self.register_buffer("channel_au", torch.tensor(channel_au, dtype=torch.long), persistent=False)
        self.net = HeatmapNet(len(channel_au), config.backbone, pretrained, config.deconv_channels)
        if self.guided:
            c = config
            self.geometry = GeometryModule(
                c.gcn_channels, c.gcn_conv_channels, c.gcn_fc_channels, c.latent_dim, c.adjacency_tau,
                adjacency=c.adjacency, k=c.adjacency_k, fixed_norm=c.fixed_norm,
                similarity=c.geometry_input == "similarity",
            )  # fmt: skip
            self.projection = KnowledgeProjection(self.net.feature_channels, c.latent_dim, c.projection_pool)
            if self.guidance == "stopgrad_aux":
                self.teach_head = nn.Linear(c.latent_dim, n_aus)

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
        """Losses of one batch. image (B,3,S,S); heatmaps (B,C,S/4,S/4); intensity (B,K), NaN =
        unlabelled; landmarks (B,68,2) in pixels (required when guided)."""
        maps, m = self.net(image, return_features=True)
        l_s = masked_heatmap_loss(maps, heatmaps, intensity[:, self.channel_au])
        nan = torch.full((), float("nan"), device=l_s.device)
        zero = torch.zeros((), device=l_s.device)
        if not self.guided:
            return LossTerms(l_s, l_s.detach(), zero, zero, nan, nan)
        if landmarks is None:
            raise ValueError("G2RL training needs the landmarks of every image")
        g, g_raw_norm, l_g, teach = self.guidance_terms(m, landmarks, intensity)
        total = self.lambda_g * l_g + (1.0 - self.lambda_g) * l_s
        if self.guidance == "stopgrad_aux":
            total = total + self.config.teach_weight * teach
        spread = g.detach().std(dim=0).mean() if g.shape[0] > 1 else nan
        return LossTerms(total, l_s.detach(), l_g.detach(), teach.detach(), g_raw_norm.detach().mean(), spread)

    def guidance_terms(self, m: torch.Tensor, landmarks: torch.Tensor, intensity: torch.Tensor):
        """(G (B, D), ||G_raw|| (B,), L_G, L_teach) with their graphs (the gradient routes are what
        makes a guidance variant; tests/test_model_guidance.py checks them on these tensors).

        m: backbone features (B, C, S/4, S/4); landmarks (B, 68, 2); intensity (B, K), NaN = unlabelled.
        """
        # The geometry module is small and precision-sensitive (normalisation, kernel): run it in fp32.
        with torch.autocast(device_type=m.device.type, enabled=False):
            g, g_raw_norm = self.geometry(landmarks.float())
            if self.guidance == "stopgrad_aux":
                teach = masked_intensity_loss(self.teach_head(g), intensity)
            else:
                teach = torch.zeros((), device=m.device)
        projected = self.projection(m).float()
        # stopgrad_aux: L_G moves W and the backbone only; literal variants: G too (Eq. 6 as written)
        l_g = guidance_loss(g.detach() if self.guidance == "stopgrad_aux" else g, projected)
        return g, g_raw_norm, l_g, teach
