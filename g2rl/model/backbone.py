"""The heatmap-regression backbone (Section 3.1): Simple Baselines (Xiao et al., 2018).

    image (B, 3, S, S) -> ResNet trunk (stride 32, no avgpool/fc)
                       -> 3 x [ConvTranspose k4 s2 p1 (no bias) -> BN -> ReLU]   = M  (B, C, S/4, S/4)
                       -> 1x1 conv -> K heatmaps (B, K, S/4, S/4)

This network alone is the paper's Baseline and is all that G2RL keeps at test time.

A shorter variant for small inputs: with two deconvolution widths the trunk ends after layer3 (stride 16)
and two x2 deconvolutions bring it to the same S/4 heatmaps. At the demo's 64 px, layer4 works on 2 x 2
maps yet holds 3/4 of ResNet-18's parameters (docs/PERFORMANCE.md); the paper configs keep all four stages.
ImageNet weights: g2rl.model.weights (torchvision enum via the torch hub cache, or a local file).
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import torch
import torchvision
from torch import nn

from g2rl.errors import ConfigError, G2RLError
from g2rl.model.weights import ResolvedWeights, resolve_weights

log = logging.getLogger(__name__)

# ResNet variants we allow and the channel count of their last stage (layer4; layer3 has half).
RESNET_CHANNELS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}
# The deconvolution counts a trunk supports: 3 after layer4 (stride 32), 2 after layer3 (stride 16).
DECONV_COUNTS = (2, 3)


def check_deconv_widths(channels: Sequence[int]) -> None:
    """A ConfigError unless ``channels`` lists 3 widths (whole trunk) or 2 (trunk up to layer3)."""
    if len(channels) not in DECONV_COUNTS:
        raise ConfigError(f"deconv_channels must list 3 widths (or 2 for a trunk ending at layer3), got {list(channels)}")


def build_resnet_trunk(
    name: str, pretrained: str | os.PathLike | ResolvedWeights | None, warn_random: bool = True, stages: int = 4
) -> tuple[nn.Sequential, int]:
    """A torchvision ResNet without its avgpool and fc (and without layer4 when stages=3), and its
    output channel count. Output stride: 32 with 4 stages, 16 with 3.

    pretrained: 'imagenet' / 'imagenet_v1' / 'imagenet_v2' (torchvision's weights through the torch
    hub cache), a path of a torchvision state dict, already resolved weights
    (:func:`g2rl.model.weights.resolve_weights`), or None for random initialisation (logged as a
    warning: results will be far from the paper's). warn_random=False silences that warning where
    the weights are loaded right after (rebuilding a trained model from its checkpoint).
    """
    if name not in RESNET_CHANNELS:
        raise ConfigError(f"backbone {name!r} is not one of {sorted(RESNET_CHANNELS)}")
    net = getattr(torchvision.models, name)(weights=None)
    weights = resolve_weights(name, pretrained)
    if weights.random:
        if warn_random:
            log.warning(
                "backbone %s: no ImageNet weights given (pretrained=None) -> RANDOM initialisation; "
                "the paper starts from ImageNet weights",
                name,
            )
    else:
        try:
            net.load_state_dict(weights.state_dict(), strict=True)
        except RuntimeError as exc:
            raise G2RLError(f"{weights.path}: not a torchvision {name} state dict ({exc})") from exc
        log.info("backbone %s: %s loaded from %s", name, weights.describe(), weights.path)
    if stages not in (3, 4):
        raise ConfigError(f"a ResNet trunk of {stages} stages: only 3 (up to layer3) or 4 (up to layer4)")
    layers = [net.layer1, net.layer2, net.layer3, net.layer4][:stages]
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, *layers)
    return trunk, RESNET_CHANNELS[name] // (1 if stages == 4 else 2)


class DeconvHead(nn.Module):
    """n stride-2 deconvolutions (x 2^n upsampling), one per width in ``channels``:
    (B, C_in, S/2^(n+2), S/2^(n+2)) -> M (B, C, S/4, S/4); n = 3 after a full trunk, 2 after layer3."""

    def __init__(self, in_channels: int, channels: Sequence[int] = (256, 256, 256)) -> None:
        super().__init__()
        check_deconv_widths(channels)
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out in channels:
            # bias is redundant before BN
            layers += [
                nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_in
        # Simple Baselines initialisation
        for m in self.layers:
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class HeatmapNet(nn.Module):
    """ResNet + deconv head + 1x1 conv: images (B, 3, S, S) -> heatmaps (B, K, S/4, S/4).

    The number of deconvolution widths sets the trunk: 3 -> layer1..layer4 (the paper's), 2 -> layer1..layer3.

    ``forward(x, return_features=True)`` also returns M, the feature maps before the final
    1x1 conv (B, C, S/4, S/4), which the knowledge projection reads during G2RL training.
    """

    def __init__(
        self,
        n_maps: int,
        backbone: str = "resnet50",
        pretrained: str | os.PathLike | ResolvedWeights | None = None,
        deconv_channels: Sequence[int] = (256, 256, 256),
        warn_random: bool = True,
    ) -> None:
        super().__init__()
        if n_maps < 1:
            raise ConfigError(f"need at least one AU heatmap, got {n_maps}")
        check_deconv_widths(deconv_channels)  # before the trunk: its depth follows from the count
        self.trunk_stages = len(deconv_channels) + 1
        self.trunk, trunk_channels = build_resnet_trunk(backbone, pretrained, warn_random, self.trunk_stages)
        self.deconv = DeconvHead(trunk_channels, deconv_channels)
        self.final = nn.Conv2d(self.deconv.out_channels, n_maps, kernel_size=1)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    @property
    def feature_channels(self) -> int:
        return self.deconv.out_channels

    def forward(self, x: torch.Tensor, return_features: bool = False):
        m = self.deconv(self.trunk(x))
        maps = self.final(m)
        return (maps, m) if return_features else maps
