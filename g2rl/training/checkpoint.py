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


def load_inference_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[HeatmapNet, dict]:
    """Rebuild the test-time HeatmapNet from model.pt. Returns (model in eval mode on device, meta)."""
    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: model checkpoint does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        meta, state = ckpt["meta"], ckpt["state_dict"]
        n_maps = len(meta.get("channel_au", meta["aus"]))  # per_point: one map per AU point
        net = HeatmapNet(n_maps, meta["backbone"], None, tuple(meta["deconv_channels"]), warn_random=False)
    except (KeyError, TypeError, RuntimeError, EOFError, OSError) as exc:
        raise G2RLError(f"{path}: not a g2rl inference checkpoint ({exc})") from exc
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise G2RLError(f"{path}: weights do not match the network its meta describes ({exc})") from exc
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
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise G2RLError(f"{path}: unreadable resume checkpoint ({exc}); delete it to start over") from exc
