"""Every training hyper-parameter in one dataclass, with the defaults of the guide.

The paper gives Adam, lr 5e-4, sigma 2 and lambda 0.05; epochs, schedule, batch size and weight
decay come from the SCC code of the same author and backbone (batch 16, 10 epochs, lr x0.1 at
epoch 5, weight decay 1e-5, no augmentation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from g2rl.errors import ConfigError
from g2rl.model.backbone import RESNET_CHANNELS

AMP_MODES = ("auto", "bf16", "off")
SWITCH_MODES = ("auto", "on", "off")


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run. ``lambda_g == 0`` is the paper's Baseline."""

    # network
    backbone: str = "resnet50"
    # imagenet / imagenet_v1 / imagenet_v2 (torchvision enum), a state-dict path, or None = random init
    pretrained: str | None = None
    allow_random_init: bool = False  # random init on non-demo data is refused unless this is set
    deconv_channels: tuple[int, ...] = (256, 256, 256)
    # method (Eq. 8)
    lambda_g: float = 0.05
    sigma: float = 2.0  # heatmap Gaussian std in heatmap pixels (selects the cached targets)
    aux_weight: float = 1.0  # weight of the auxiliary AU-intensity loss on G
    # geometry module and projection
    gcn_channels: tuple[int, ...] = (64, 128, 256)
    gcn_conv_channels: int = 32
    gcn_fc_channels: tuple[int, ...] = (512, 256)
    latent_dim: int = 256
    adjacency_tau: float = 0.25  # Gaussian adjacency width, inter-ocular distances
    projection_pool: int = 4  # M is average-pooled to pool x pool before W
    # optimisation
    lr: float = 5e-4
    batch_size: int = 16
    epochs: int = 10
    lr_step_epochs: tuple[int, ...] = (5,)  # lr is multiplied by lr_gamma at the start of these epochs
    lr_gamma: float = 0.1
    weight_decay: float = 1e-5
    num_workers: int = 2
    max_train_samples: int | None = None  # evenly spaced subset of the training rows (demo/smoke runs)
    # speed
    amp: str = "auto"  # auto | bf16 | off
    channels_last: str = "auto"  # auto | on | off

    def __post_init__(self) -> None:
        # tuples, also when read from YAML/JSON lists
        for name in ("deconv_channels", "gcn_channels", "gcn_fc_channels", "lr_step_epochs"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        self.validate()

    @property
    def method(self) -> str:
        return "baseline" if self.lambda_g == 0 else "g2rl"

    def validate(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"training setting {key}={getattr(self, key)!r}: {why}")

        if self.backbone not in RESNET_CHANNELS:
            raise bad("backbone", f"must be one of {sorted(RESNET_CHANNELS)}")
        if len(self.deconv_channels) != 3 or min(self.deconv_channels) < 1:
            raise bad("deconv_channels", "must be three positive widths")
        if not 0.0 <= self.lambda_g < 1.0:
            raise bad("lambda_g", "must be in [0, 1) (0 = Baseline)")
        if self.sigma <= 0:
            raise bad("sigma", "must be > 0")
        if self.aux_weight < 0:
            raise bad("aux_weight", "must be >= 0")
        if self.lambda_g > 0 and self.aux_weight == 0:
            raise bad("aux_weight", "must be > 0 for G2RL: without it G has no content (see docs/METHOD.md)")
        if len(self.gcn_channels) != 3 or len(self.gcn_fc_channels) != 2:
            raise bad("gcn_channels", "three GCN widths and two FC widths (the third FC is latent_dim)")
        for key in ("gcn_conv_channels", "latent_dim", "projection_pool", "batch_size", "epochs"):
            if getattr(self, key) < 1:
                raise bad(key, "must be >= 1")
        if self.adjacency_tau <= 0:
            raise bad("adjacency_tau", "must be > 0")
        if self.lr <= 0 or self.weight_decay < 0 or not 0 < self.lr_gamma <= 1:
            raise bad("lr", "lr > 0, weight_decay >= 0 and 0 < lr_gamma <= 1 required")
        if self.num_workers < 0:
            raise bad("num_workers", "must be >= 0")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise bad("max_train_samples", "must be None or >= 1")
        if self.amp not in AMP_MODES:
            raise bad("amp", f"must be one of {AMP_MODES}")
        if self.channels_last not in SWITCH_MODES:
            raise bad("channels_last", f"must be one of {SWITCH_MODES}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists for tuples), for checkpoints and logs."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainSettings":
        """Build from a config mapping; an unknown key is an error (a typo must not be ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes: Any) -> "TrainSettings":
        return dataclasses.replace(self, **changes)
