"""The backbone-initialisation settings and policy, without importing torch.

Kept apart from :mod:`g2rl.model.weights` (which loads the weights) because the config validation
and the Snakefile use them, and importing anything under ``g2rl.model`` imports torch.
"""

from __future__ import annotations

from g2rl.errors import ConfigError

# `model.pretrained` value -> torchvision weights member name
IMAGENET_CHOICES = {"imagenet": "IMAGENET1K_V1", "imagenet_v1": "IMAGENET1K_V1", "imagenet_v2": "IMAGENET1K_V2"}


def check_random_init(is_random: bool, data_kind: str, allow_random_init: bool, source: str) -> None:
    """Refuse random initialisation on anything but the demo data unless explicitly allowed.

    data_kind: 'demo', 'real' or 'unknown' (a cache that does not say). The paper starts from
    ImageNet; a random-init run on real data would look like the paper's experiment and is not.
    """
    if is_random and data_kind != "demo" and not allow_random_init:
        raise ConfigError(
            f"{source}: model.pretrained is null (random initialisation) on {data_kind} data; the paper starts "
            "from ImageNet: set model.pretrained: imagenet, or model.allow_random_init: true to train from scratch anyway"
        )
