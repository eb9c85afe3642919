"""Knowledge projection W (Eq. 6): backbone feature maps M -> the 256-D space of G.

M is C x S/4 x S/4 (256 x 64 x 64 in the paper config, ~1M values); a dense W over it would
have ~268M parameters. We adaptive-average-pool M to pool x pool cells first (keeping a coarse
spatial layout that landmark geometry can relate to; pool=1 is global average pooling) and
then apply one linear map (with bias) to latent_dim.
"""

from __future__ import annotations

import torch
from torch import nn


class KnowledgeProjection(nn.Module):
    """(B, C, H, W) feature maps -> (B, latent_dim)."""

    def __init__(self, in_channels: int, latent_dim: int = 256, pool: int = 4) -> None:
        super().__init__()
        if pool < 1:
            raise ValueError(f"projection pool must be >= 1, got {pool}")
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.linear = nn.Linear(in_channels * pool * pool, latent_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pool(features).flatten(1))
