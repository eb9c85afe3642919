"""diagnostics.json of one training run: what the geometry branch could teach, and how training ended.

Written next to predictions.csv (before model.pt, which marks a finished run)::

    {"format": "g2rl-diagnostics/1", "method": "g2rl" | "baseline",
     "teach": {"available": bool, "reason": str,          # reason: why not available
               "n_frames": int, "n_skipped": int,          # test frames scored / without landmarks
               "per_au": {AU: {"icc", "mae"}}, "avg": {"icc", "mae"}},
     "final": {"loss_guidance": L_G, "g_spread": ..., "g_norm": ...}}   # the last epoch's log row

The *teach score* is the geometry branch's own intensity head (the auxiliary / "teach" head on
G = GeometryModule(landmarks)) applied to the test frames' landmarks, scored like the main
model (ICC(3,1), MAE). It bounds what the guidance can pass on: if G does not predict the
intensities from the landmarks, aligning the image features with G cannot teach them either.
The Baseline has no geometry branch, and a guidance variant without such a head has no score:
``available`` is false and ``reason`` says which.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import torch

from g2rl.jsonfile import write_json
from g2rl.formats import DIAGNOSTICS_FORMAT as FORMAT
# Names the geometry branch's intensity head has had (the 'teach' name replaces 'aux').
_HEAD_NAMES = ("teach_head", "aux_head")


def _nan_to_none(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _head(model: torch.nn.Module):
    for name in _HEAD_NAMES:
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


@torch.no_grad()
def teach_score(model: torch.nn.Module, test_set, aus: list[str], device: torch.device, batch_size: int = 64) -> dict:
    """The 'teach' section: the geometry branch's intensity head scored on the test landmarks.

    test_set: a g2rl.preprocess.batches.RowBatches; its in-memory arrays ``landmarks`` (or
    ``frame_landmarks``) (N, 68, 2) and ``intensity`` (N, K) NaN = unlabelled are used (no image is
    read). Frames whose landmarks cannot be normalised (missing or degenerate) are skipped and counted.
    """
    from g2rl.metrics import per_au_metrics
    from g2rl.model.adjacency import usable_faces

    if not getattr(model, "guided", False):
        return {"available": False, "reason": "no geometry branch (Baseline)"}
    geometry, head = getattr(model, "geometry", None), _head(model)
    if geometry is None or head is None:
        return {"available": False, "reason": "this guidance variant has no intensity head on G"}
    # the landmarks the geometry module was trained on (ModelConfig.geometry_input)
    similarity = getattr(getattr(model, "config", None), "geometry_input", "aligned") == "similarity"
    landmarks = torch.from_numpy(test_set.arrays["frame_landmarks" if similarity else "landmarks"]).float()
    ok = usable_faces(landmarks)
    skipped = int((~ok).sum())
    if not bool(ok.any()):
        return {"available": False, "reason": f"no test frame has landmarks ({skipped} skipped)"}
    landmarks, true = landmarks[ok], torch.from_numpy(test_set.arrays["intensity"])[ok].float().numpy()
    was_training = model.training
    model.eval()
    preds = []
    for lm in landmarks.split(batch_size):
        g = geometry(lm.to(device))
        g = g[0] if isinstance(g, tuple) else g  # (G, ||G_raw||) in the current module
        preds.append(head(g).float().clamp(0.0, 5.0))
    model.train(was_training)
    pred = torch.cat(preds).cpu().numpy()
    df = pd.DataFrame({**{f"{a}_pred": pred[:, k] for k, a in enumerate(aus)},
                       **{f"{a}_true": true[:, k] for k, a in enumerate(aus)}})
    table = per_au_metrics(df, aus)
    cell = lambda r: {"icc": _nan_to_none(table.at[r, "icc"]), "mae": _nan_to_none(table.at[r, "mae"])}  # noqa: E731
    return {"available": True, "reason": "", "n_frames": int(len(pred)), "n_skipped": skipped,
            "per_au": {a: cell(a) for a in aus}, "avg": cell("Avg")}


def write_diagnostics(path: str | os.PathLike, method: str, teach: dict, final_row: dict) -> Path:
    """Write diagnostics.json atomically (NaN as null). final_row: the last epoch's log row."""
    out = {
        "format": FORMAT, "method": method, "teach": teach,
        "final": {k: _nan_to_none(final_row.get(k)) for k in ("loss_guidance", "g_spread", "g_norm")},
    }
    return write_json(out, path)
