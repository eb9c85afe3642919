"""Backbone initialisation: the `pretrained` setting -> verified ImageNet weights, or random.

`pretrained` is one of
    imagenet, imagenet_v1   torchvision's ``<Backbone>_Weights.IMAGENET1K_V1`` (the paper's era)
    imagenet_v2             ``<Backbone>_Weights.IMAGENET1K_V2`` (ResNet-50/101 only)
    a path                  a torchvision state dict on local disk
    None                    random initialisation

The torchvision names go through torchvision's own mechanism: the torch hub cache
(``$TORCH_HOME/hub/checkpoints/<file name of the URL>``), a download when the file is not there
(with torchvision's hash check, ``check_hash=True``), then ``weights.get_state_dict``. A file that
is already cached is not re-checked by torch, so :func:`resolve_weights` checks its sha256 against
the prefix in the file name itself: a truncated or swapped file is an error, not a model.

:func:`export_weights` copies resolved weights to a file beside a ``.provenance.json`` that names
them; the workflow's ``weights`` rule does this once on the submit host, and every training job
reads that file (no network, no hub cache on the compute nodes) and still reports the enum name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from g2rl.atomic import atomic_path
from g2rl.errors import ConfigError, G2RLError
from g2rl.init_policy import IMAGENET_CHOICES, check_random_init
from g2rl.jsonfile import write_json
from g2rl.provenance import sidecar_path

# torch.hub's convention: "<name>-<first hex digits of the sha256>.<ext>"
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
SIDECAR_FORMAT = "g2rl-weights/1"


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a backbone's initial weights come from.

    kind: 'torchvision' (an ImageNet enum member, possibly via an exported file), 'file' (a user's
    state dict) or 'random'. name: e.g. 'ResNet50_Weights.IMAGENET1K_V1'. path: the local file
    that is loaded (hub cache or exported copy). sha256: of that file.
    """

    kind: str
    backbone: str
    setting: str | None
    name: str | None = None
    path: Path | None = None
    sha256: str | None = None
    url: str | None = None

    @property
    def random(self) -> bool:
        return self.kind == "random"

    def identity(self) -> dict[str, Any]:
        """Plain-typed description for provenance records."""
        return {
            "kind": self.kind, "backbone": self.backbone, "setting": self.setting, "name": self.name,
            "file": str(self.path) if self.path else None, "sha256": self.sha256, "url": self.url,
        }  # fmt: skip

    def describe(self) -> str:
        """One phrase for logs and captions."""
        if self.kind == "random":
            return "random initialisation (no ImageNet weights)"
        if self.kind == "torchvision":
            return f"ImageNet weights {self.name}"
        return f"weights from {self.path.name} (sha256 {self.sha256[:12]})"

    def state_dict(self) -> dict:
        """The backbone's state dict (CPU tensors)."""
        from g2rl.torchfile import load_torch_file

        if self.kind == "random":
            raise ValueError("random initialisation has no state dict")
        state = load_torch_file(self.path, "torch state dict")
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        return state


def imagenet_enum(backbone: str, setting: str):
    """The torchvision weights member for a backbone and an `imagenet*` setting."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(backbone)
    except ValueError as exc:
        raise ConfigError(f"backbone {backbone!r}: torchvision has no weights for it ({exc})") from None
    member = IMAGENET_CHOICES[setting]
    if member not in enum.__members__:
        raise ConfigError(
            f"model.pretrained={setting!r}: torchvision has no {enum.__name__}.{member} "
            f"(available: {', '.join(m for m in enum.__members__ if m != 'DEFAULT')})"
        )
    return enum[member]


def hub_checkpoint_dir() -> Path:
    """torch hub's checkpoint folder: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def expected_file(weights) -> Path:
    """Where torchvision looks for (and downloads) a weights member: the hub folder + the URL's file name."""
    from urllib.parse import urlparse

    return hub_checkpoint_dir() / os.path.basename(urlparse(weights.url).path)


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _check_hash(path: Path, digest: str, weights) -> None:
    m = HASH_REGEX.search(path.name)
    if m and not digest.startswith(m.group(1)):
        raise G2RLError(
            f"{path}: sha256 {digest[:12]}... does not start with {m.group(1)} as torchvision's file name says; "
            f"the file is damaged or not {weights!r}: delete it and fetch {weights.url} again"
        )


def fetch_imagenet(backbone: str, setting: str) -> ResolvedWeights:
    """Resolve an `imagenet*` setting through the torch hub cache, downloading when absent.

    Offline and not cached: one G2RLError naming the expected file, the folder and the URL.
    """
    weights = imagenet_enum(backbone, setting)
    path = expected_file(weights)
    if not path.is_file():
        try:
            # torchvision's own route: downloads into the hub cache and checks the hash prefix
            weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise G2RLError(
                f"{path.name}: ImageNet weights {weights!r} are not in the torch hub cache {path.parent} and "
                f"cannot be downloaded ({reason}); on a machine with internet fetch {weights.url} "
                f"and put it in {path.parent} (or set TORCH_HOME to a folder whose hub/checkpoints holds it)"
            ) from None
        except RuntimeError as exc:  # torch.hub: "invalid hash value"
            raise G2RLError(f"{path.name}: download from {weights.url} failed its hash check ({exc})") from None
    digest = sha256_of(path)
    _check_hash(path, digest, weights)
    return ResolvedWeights("torchvision", backbone, setting, repr(weights), path, digest, weights.url)


def _from_file(backbone: str, setting: str) -> ResolvedWeights:
    path = Path(setting)
    if not path.is_file():
        raise G2RLError(f"{path}: ImageNet weights file for {backbone} does not exist")
    digest = sha256_of(path)
    side = sidecar_path(path)
    if side.is_file():
        # a copy made by export_weights: keep torchvision's name if the bytes are the ones it named
        try:
            info = json.loads(side.read_text()).get("weights", {})
        except (json.JSONDecodeError, AttributeError) as exc:
            raise G2RLError(f"{side}: not a weights provenance file ({exc})") from None
        if info.get("sha256") != digest:
            raise G2RLError(f"{path}: content differs from what {side.name} records (sha256 {digest[:12]}...); "
                            "rebuild it (snakemake re-runs the weights rule when you delete it)")
        if info.get("kind") == "torchvision" and info.get("backbone") == backbone:
            return ResolvedWeights("torchvision", backbone, info.get("setting"), info.get("name"), path, digest,
                                   info.get("url"))
    return ResolvedWeights("file", backbone, str(setting), None, path, digest)


def resolve_weights(backbone: str, setting: str | os.PathLike | ResolvedWeights | None) -> ResolvedWeights:
    """The `pretrained` setting -> :class:`ResolvedWeights` (verified, not yet loaded)."""
    if isinstance(setting, ResolvedWeights):
        if setting.backbone != backbone:
            raise ConfigError(f"weights resolved for {setting.backbone} given to a {backbone} backbone")
        return setting
    if setting is None:
        return ResolvedWeights("random", backbone, None)
    setting = os.fspath(setting)
    if setting in IMAGENET_CHOICES:
        return fetch_imagenet(backbone, setting)
    return _from_file(backbone, setting)


def check_initialisation(weights: ResolvedWeights, data_kind: str, allow_random_init: bool, source: str) -> None:
    """:func:`g2rl.init_policy.check_random_init` for resolved weights."""
    check_random_init(weights.random, data_kind, allow_random_init, source)


def export_weights(resolved: ResolvedWeights, out: str | os.PathLike) -> Path:
    """Copy resolved weights to ``out`` (hard link when possible) and write its ``.provenance.json``."""
    if resolved.random:
        raise ConfigError("model.pretrained is null: there are no weights to export")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        try:
            os.link(resolved.path, tmp)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(resolved.path, tmp)
    info = {"format": SIDECAR_FORMAT, "weights": resolved.identity()}
    write_json(info, sidecar_path(out))
    return out
