"""Every training hyper-parameter in one dataclass, with the paper's defaults where it gives them.

The paper gives Adam, lr 5e-4, sigma 2 and lambda 0.05; epochs, schedule, batch size and weight
decay come from the SCC code of the same author and backbone (batch 16, 10 epochs, lr x0.1 at
epoch 5, weight decay 1e-5, no augmentation).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from g2rl.cpus import available_cpus
from g2rl.errors import ConfigError
from g2rl.model.config import ModelConfig, from_known_fields
from g2rl.preprocess.map_renderer import HEATMAP_SOURCES

AMP_MODES = ("auto", "bf16", "off")


def _finite(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (``--lr nan`` parses as a float)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False

SWITCH_MODES = ("auto", "on", "off")


def resolve_workers(num_workers: int | str) -> int:
    """DataLoader worker processes of a training: ``auto`` = :func:`available_cpus` - 1 (one CPU is the
    training loop's), else the number given. Workers only read (g2rl.preprocess.batches), at ~0.3 ms
    of a CPU per 256 px sample, so idle ones cost memory, not time (docs/PERFORMANCE.md)."""
    return max(0, available_cpus() - 1) if num_workers == "auto" else int(num_workers)


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run. ``lambda_g == 0`` is the paper's Baseline."""

    # architecture and method choices, as one dataclass (saved whole in the checkpoint meta)
    model: ModelConfig = field(default_factory=ModelConfig)
    # initialisation (not a model choice): imagenet / imagenet_v1 / imagenet_v2 (torchvision enum),
    # a state-dict path, or None = random init
    pretrained: str | None = None
    allow_random_init: bool = False  # random init on non-demo data is refused unless this is set
    # method (Eq. 8)
    lambda_g: float = 0.05  # must be < 1: lambda = 1 would leave L_S (the only loss the test-time net has) weight 0
    sigma: float = 2.0  # heatmap Gaussian std in heatmap pixels (selects the cached targets)
    # optimisation
    lr: float = 5e-4
    batch_size: int = 16
    epochs: int = 10
    lr_step_epochs: tuple[int, ...] = (5,)  # lr is multiplied by lr_gamma at the start of these epochs
    lr_gamma: float = 0.1
    weight_decay: float = 1e-5
    num_workers: int | str = "auto"  # DataLoader worker processes; auto = the CPUs the job may use - 1 (resolve_workers)
    max_train_samples: int | None = None  # per epoch, the first N of that epoch's shuffled order (demo/smoke runs)
    # speed
    amp: str = "auto"  # auto | bf16 | off
    channels_last: str = "auto"  # auto | on | off
    in_memory: str = "auto"  # auto | on | off: hold the fold's images and maps in memory (g2rl.preprocess.batches)
    in_memory_max_mb: float = 1024.0  # auto holds a fold in memory up to this many MiB (as stored)
    # where the target maps come from: cache = read from the heatmaps file; device = Eq. 1 rendered on the
    # training device from the AU points, equal to the file's (g2rl.preprocess.map_renderer)
    heatmap_source: str = "cache"

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        # a tuple, also when read from a YAML/JSON list
        self.lr_step_epochs = tuple(int(v) for v in self.lr_step_epochs)
        self.validate()

    @property
    def backbone(self) -> str:
        return self.model.backbone

    @property
    def deconv_channels(self) -> tuple[int, ...]:
        return self.model.deconv_channels

    @property
    def method(self) -> str:
        return "baseline" if self.lambda_g == 0 else "g2rl"

    def validate(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"training setting {key}={getattr(self, key)!r}: {why}")

        if not isinstance(self.model, ModelConfig):
            raise bad("model", "must be a ModelConfig")
        self.model.validate()
        if not 0.0 <= self.lambda_g < 1.0:
            raise bad("lambda_g", "must be in [0, 1) (0 = Baseline)")
        # every float below is tested as "inside its range": NaN fails that, but passes `x <= 0`
        if not _finite(self.sigma) or not self.sigma > 0:
            raise bad("sigma", "must be finite and > 0")
        if self.lambda_g > 0:
            self.model.check_guided()
        for key in ("batch_size", "epochs"):
            if getattr(self, key) < 1:
                raise bad(key, "must be >= 1")
        if not (_finite(self.lr) and self.lr > 0):
            raise bad("lr", "must be finite and > 0")
        if not (_finite(self.weight_decay) and self.weight_decay >= 0):
            raise bad("weight_decay", "must be finite and >= 0")
        if not (_finite(self.lr_gamma) and 0 < self.lr_gamma <= 1):
            raise bad("lr_gamma", "must be in (0, 1]")
        count = isinstance(self.num_workers, int) and not isinstance(self.num_workers, bool)
        if self.num_workers != "auto" and not (count and self.num_workers >= 0):
            raise bad("num_workers", "must be 'auto' or an integer >= 0")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise bad("max_train_samples", "must be None or >= 1")
        if self.amp not in AMP_MODES:
            raise bad("amp", f"must be one of {AMP_MODES}")
        if self.channels_last not in SWITCH_MODES:
            raise bad("channels_last", f"must be one of {SWITCH_MODES}")
        if self.in_memory not in SWITCH_MODES:
            raise bad("in_memory", f"must be one of {SWITCH_MODES}")
        if not (_finite(self.in_memory_max_mb) and self.in_memory_max_mb >= 0):
            raise bad("in_memory_max_mb", "must be finite and >= 0")
        if self.heatmap_source not in HEATMAP_SOURCES:
            raise bad("heatmap_source", f"must be one of {HEATMAP_SOURCES}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists for tuples), for checkpoints and logs."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainSettings":
        """Build from a config mapping (``model`` a nested mapping); an unknown key is an error
        (a typo must not be ignored)."""
        return from_known_fields(cls, values, "training setting")

    def replace(self, **changes: Any) -> "TrainSettings":
        return dataclasses.replace(self, **changes)
