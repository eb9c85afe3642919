"""Checkpoints: the inference checkpoint (``model.pt``) and the resume checkpoint (``last.pt``).

model.pt = {"state_dict": HeatmapNet weights, "meta": {...}} with only plain types, so it loads
with ``torch.load(path, weights_only=True)`` (no pickled code runs). It holds exactly the
Baseline's parameters: G2RL's geometry module, projection and teacher head are not saved.
meta["model"] is the run's ModelConfig (plain dict); meta["channel_au"], ["heatmap_layout"] and
["heatmap_peak"] say how its maps decode (g2rl.preprocess.heatmap_layout.HeatmapSpec.from_meta).

last.pt holds everything a killed run needs to continue: the full joint model, optimizer,
scheduler, the last finished epoch, RNG states, the per-epoch log so far, and the settings and
seed it was made with (a restart with different ones is refused rather than mixed).
Both are written atomically.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError
from g2rl.model.backbone import HeatmapNet

# keys the inference meta must carry (what `g2rl predict` and the reports need)
META_KEYS = (
    "dataset", "aus", "crop_size", "heatmap_size", "sigma", "backbone", "deconv_channels",
    "mean", "std", "au_points", "method", "lambda_g",
)  # fmt: skip
# what every reader of model.pt needs (predict, report examples); META_KEYS adds what training writes
INFERENCE_META_KEYS = ("aus", "crop_size", "heatmap_size", "sigma", "mean", "std", "backbone", "deconv_channels")


def plain(value: Any, what: str = "value") -> Any:
    """Round-trip through JSON: only dict/list/str/int/float/bool/None survive (tuples -> lists)."""
    try:
        return json.loads(json.dumps(value))
    except TypeError as exc:
        raise TypeError(f"{what} must hold plain types only ({exc})") from exc


def _save(obj: Any, tmp: Path) -> None:
    """torch.save, but a failed write (a full disk) surfaces as its OSError, not torch's RuntimeError."""
    try:
        with open(tmp, "wb") as fh:  # a Python file object: the write's OSError is raised ...
            torch.save(obj, fh)
    except RuntimeError as exc:
        # ... and then hidden by torch's writer ("unexpected pos ..."); give the CLI the real reason
        cause = exc.__context__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__context__
        if cause is None:
            raise
        raise cause from None


def save_inference_checkpoint(path: str | os.PathLike, net: HeatmapNet, meta: dict[str, Any]) -> None:
    """Write {"state_dict", "meta"} for the test-time network, atomically."""
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"inference meta lacks {missing}")
    state = {k: v.detach().to("cpu", memory_format=torch.contiguous_format).clone() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        _save({"state_dict": state, "meta": plain(meta, "inference meta")}, tmp)


# Bounds on the meta fields that size memory or index arrays. A checkpoint is a file anyone can
# hand over: ``crop_size: 4096`` alone costs 2.5 GB per photo, so such values are refused on load
# rather than discovered by the machine. Every published and demo setting is far inside them
# (crops 64-256 px, 12 AUs, deconvolutions 256 wide, up to 3 points per AU).
MAX_CROP_SIZE = 512
MAX_AUS = 64
MAX_CHANNELS = 512  # heatmap channels (per_point: one per AU point)
MAX_DECONV_WIDTH = 1024
MAX_AU_NAME = 32  # characters: names become CSV column headers


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_inference_meta(meta: Any, path: str | os.PathLike) -> dict:
    """Validate the meta of inference checkpoint ``path`` before anything is built from it.

    Checks what every reader uses (``aus``, ``crop_size``, ``heatmap_size``, ``sigma``, ``mean``,
    ``std``, ``backbone``, ``deconv_channels``) and, when present, the heatmap layout
    (``channel_au``: every index an AU of ``aus``, every AU with a channel; ``heatmap_peak``,
    ``heatmap_layout``); sizes must lie within the MAX_* bounds above. Errors are one line naming
    the file and the key. Returns ``meta``.
    """
    from g2rl.model.backbone import DECONV_COUNTS, RESNET_CHANNELS
    from g2rl.preprocess.heatmap_layout import LAYOUTS
    from g2rl.preprocess.heatmaps import PEAKS

    def bad(text: str) -> G2RLError:
        return G2RLError(f"{path}: checkpoint meta {text}")

    if not isinstance(meta, dict):
        raise G2RLError(f"{path}: checkpoint meta is not a mapping")
    missing = [k for k in INFERENCE_META_KEYS if k not in meta]
    if missing:
        raise G2RLError(f"{path}: checkpoint meta lacks {missing} (not written by g2rl train?)")
    aus = meta["aus"]
    if (not isinstance(aus, list) or not aus or not all(isinstance(a, str) and a for a in aus)
            or len(set(aus)) != len(aus)):
        raise bad(f"'aus' must be a non-empty list of distinct names, got {aus!r}"[:300])
    if len(aus) > MAX_AUS or max(map(len, aus)) > MAX_AU_NAME:
        raise bad(f"'aus' lists {len(aus)} names (at most {MAX_AUS}, each at most {MAX_AU_NAME} characters)")
    crop = meta["crop_size"]
    if not _is_int(crop) or not 32 <= crop <= MAX_CROP_SIZE or crop % 4:
        raise bad(f"'crop_size' must be an integer from 32 to {MAX_CROP_SIZE} divisible by 4, got {crop!r}")
    if meta["heatmap_size"] != crop // 4:
        raise G2RLError(f"{path}: checkpoint meta heatmap_size={meta['heatmap_size']!r} != crop_size/4 = {crop // 4}")
    sigma = meta["sigma"]
    if not _is_number(sigma) or not 0 < sigma <= crop // 4:
        raise bad(f"'sigma' must be a positive number up to the heatmap size {crop // 4}, got {sigma!r}")
    for key in ("mean", "std"):
        v = meta[key]
        if not (isinstance(v, list) and len(v) == 3 and all(_is_number(x) for x in v)):
            raise bad(f"{key!r} must list 3 numbers (R, G, B), got {v!r}"[:300])
    if any(x <= 0 for x in meta["std"]):
        raise bad(f"'std' must be positive, got {meta['std']!r}")
    if meta["backbone"] not in RESNET_CHANNELS:
        raise bad(f"'backbone' must be one of {sorted(RESNET_CHANNELS)}, got {meta['backbone']!r}"[:300])
    widths = meta["deconv_channels"]
    if (not isinstance(widths, list) or len(widths) not in DECONV_COUNTS
            or not all(_is_int(w) and 1 <= w <= MAX_DECONV_WIDTH for w in widths)):
        raise bad(f"'deconv_channels' must list {' or '.join(map(str, DECONV_COUNTS))} widths from 1 to "
                  f"{MAX_DECONV_WIDTH}, got {widths!r}"[:300])
    if "channel_au" in meta:
        ch = meta["channel_au"]
        if (not isinstance(ch, list) or not 1 <= len(ch) <= MAX_CHANNELS
                or not all(_is_int(c) and 0 <= c < len(aus) for c in ch)):
            raise bad(f"'channel_au' must list 1 to {MAX_CHANNELS} AU indices from 0 to {len(aus) - 1} "
                      f"(one per heatmap channel), got {ch!r}"[:300])
        if set(ch) != set(range(len(aus))):
            raise bad(f"'channel_au' gives AUs {sorted(set(range(len(aus))) - set(ch))} no heatmap channel")
    if meta.get("heatmap_peak", "eq1") not in PEAKS:
        raise bad(f"'heatmap_peak' must be one of {PEAKS}, got {meta['heatmap_peak']!r}"[:300])
    if meta.get("heatmap_layout", "per_au") not in LAYOUTS:
        raise bad(f"'heatmap_layout' must be one of {LAYOUTS}, got {meta['heatmap_layout']!r}"[:300])
    return meta


def _first_non_finite(state: dict) -> str | None:
    """The name of the first floating-point tensor of ``state`` holding NaN or inf, else None."""
    for name, t in state.items():
        if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def network_from_meta(meta: dict) -> HeatmapNet:
    """A freshly initialised HeatmapNet of the architecture an inference checkpoint's ``meta`` describes
    (no weights loaded: what a training starts from, or the geometry probe's random-init reference)."""
    n_maps = len(meta.get("channel_au", meta["aus"]))  # per_point: one map per AU point
    return HeatmapNet(n_maps, meta["backbone"], None, tuple(meta["deconv_channels"]), warn_random=False)


def load_inference_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[HeatmapNet, dict]:
    """Rebuild the test-time HeatmapNet from model.pt: the one reader of inference checkpoints
    (``g2rl predict``, ``g2rl report examples``).

    The file is read without unpickling objects (:func:`g2rl.torchfile.load_torch_file`), its
    meta is validated and bounded (:func:`check_inference_meta`) before the network is built, and
    weights holding NaN or inf are refused (they would give empty AU cells on rows marked
    success). Every refusal is a G2RLError of one line naming ``path``.

    Returns:
        (model in eval mode on device, meta).
    """
    from g2rl.torchfile import load_torch_file

    path = Path(path)
    ckpt = load_torch_file(path, "g2rl checkpoint")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("meta"), dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise G2RLError(f"{path}: not a g2rl inference checkpoint (no 'meta' and 'state_dict'; a model.pt "
                        "written by g2rl train has both)")
    meta, state = ckpt["meta"], ckpt["state_dict"]
    check_inference_meta(meta, path)
    net = network_from_meta(meta)
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # torch's list of keys, on one line
        raise G2RLError(f"{path}: weights do not match the network its meta describes ({reason[:300]})") from None
    bad = _first_non_finite(state)
    if bad is not None:
        raise G2RLError(f"{path}: weights hold NaN or inf values (first in {bad!r}; a diverged training or a "
                        "damaged file); refused")
    return net.to(device).eval(), meta


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in a weights_only-loadable form."""
    np_state = np.random.get_state()
    state = {
        "python": plain(random.getstate(), "python rng"),
        "numpy": {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_resume_checkpoint(path: str | os.PathLike, **fields: Any) -> None:
    """Write the resume checkpoint atomically (fields: model, optimizer, scheduler, epoch, ...)."""
    with atomic_path(path) as tmp:
        _save({**fields, "rng": rng_state()}, tmp)


def load_resume_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The content of last.pt (read as every torch file is: :func:`g2rl.torchfile.load_torch_file`)."""
    from g2rl.torchfile import load_torch_file

    try:
        return load_torch_file(path, "g2rl resume checkpoint")
    except G2RLError as exc:
        raise G2RLError(f"{exc}; delete it to start over") from None
