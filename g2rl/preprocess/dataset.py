"""A torch Dataset over the HDF5 cache (crops file + optional heatmaps file).

HDF5 handles must not cross a fork, so the files are opened lazily, once per process, on the
first ``__getitem__`` (each DataLoader worker opens its own). ``__init__`` only reads the
metadata with a short-lived handle, validates both files (shapes, N, AU list, that the heatmaps
were built from this crops file) and closes them; the worker validates again on open, so a file
replaced in between is caught too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from g2rl.errors import ConfigError, G2RLError
from g2rl.preprocess.cache import validate_crops_file, validate_heatmaps_file
from g2rl.preprocess.h5read import open_h5, read_rows
from g2rl.preprocess.heatmap_layout import render_layout
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, check_sigma, crop_to_heatmap

# ImageNet statistics (RGB, on [0, 1] pixels) for the ImageNet-pretrained backbone
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_cache_attrs(crops_h5: str | os.PathLike) -> dict:
    """Validated attributes of a crops file (``aus``, ``au_point_mapping``, ``counts`` decoded)."""
    with open_h5(crops_h5) as f:
        return validate_crops_file(f, crops_h5)


def read_cache_keys(crops_h5: str | os.PathLike) -> pd.DataFrame:
    """Frame keys of a crops file, one row per cache row: subject, session, frame, split."""
    with open_h5(crops_h5) as f:
        validate_crops_file(f, crops_h5)
        return pd.DataFrame({
            "subject": f["subject"].asstr()[...],
            "session": f["session"].asstr()[...],
            "frame": f["frame"][...].astype(np.int64),
            "split": f["split"].asstr()[...],
        })


def check_finite_maps(maps: np.ndarray, path, where: str) -> np.ndarray:
    """``maps`` (any shape) unchanged if every value is finite, else :class:`G2RLError` naming the
    heatmaps file: NaN or inf targets (a file built with sigma inf or 0.001 before sigma was
    range-checked) would only surface as "loss is not finite" steps later."""
    # min and max propagate NaN and show +-inf, without a boolean copy of a fold's maps
    if maps.size and not (np.isfinite(maps.min()) and np.isfinite(maps.max())):
        raise G2RLError(f"{path}: heatmaps of {where} are not finite (NaN or inf); rebuild the heatmaps cache")
    return maps


class CacheDataset(torch.utils.data.Dataset):
    """Samples from the cache as dicts of tensors.

    Args:
        crops_h5: the dataset's crops file.
        heatmaps_h5: a heatmaps file built from ``crops_h5``; None = render heatmaps from the
            stored AU points on the fly (needs ``sigma``), or no heatmaps when ``sigma`` is None too.
        rows: cache rows to serve (e.g. one fold's training rows); None = all.
        sigma: heatmap sigma in heatmap px; with ``heatmaps_h5`` it must equal the file's sigma.
        normalize: normalise images with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`; else [0, 1].
        layout, peak: how maps rendered on the fly are laid out (g2rl.preprocess.heatmap_layout);
            a heatmaps file carries its own.

    Each item: ``image`` float32 (3, S, S); ``heatmaps`` float32 (C, S/4, S/4) (if any);
    ``intensity`` float32 (K,) with NaN = unlabelled; ``landmarks`` float32 (68, 2) crop px;
    ``frame_landmarks`` float32 (68, 2) original frame px (if the file has them);
    ``row`` int (the cache row).
    """

    def __init__(self, crops_h5, heatmaps_h5=None, rows=None, sigma: float | None = None, normalize: bool = True,
                 layout: str = "per_au", peak: str = "eq1"):
        self.crops_h5 = Path(crops_h5)
        self.heatmaps_h5 = None if heatmaps_h5 is None else Path(heatmaps_h5)
        self.attrs = read_cache_attrs(self.crops_h5)
        self.heatmap_attrs = None
        if self.heatmaps_h5 is not None:
            with open_h5(self.heatmaps_h5) as f:
                self.heatmap_attrs = validate_heatmaps_file(f, self.heatmaps_h5, self.attrs)
            if sigma is not None and not np.isclose(sigma, self.heatmap_attrs["sigma"]):
                raise ConfigError(f"{self.heatmaps_h5}: built with sigma={self.heatmap_attrs['sigma']}, "
                                  f"but sigma={sigma} was asked for")
            sigma = self.heatmap_attrs["sigma"]
            layout, peak = self.heatmap_attrs["layout"], self.heatmap_attrs["peak"]
        self.aus = list(self.attrs["aus"])
        self.crop_size = self.attrs["crop_size"]
        self.heatmap_size = self.crop_size // HEATMAP_STRIDE
        if sigma is not None and self.heatmaps_h5 is None:  # maps rendered here: the cache builder's bounds
            sigma = check_sigma(sigma, self.heatmap_size, f"{self.crops_h5}: heatmaps rendered with sigma")
        self.sigma, self.layout, self.peak = sigma, layout, peak
        n = self.attrs["n_frames"]
        self.rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(self.rows) and (self.rows.min() < 0 or self.rows.max() >= n):
            raise G2RLError(f"{self.crops_h5}: requested rows outside 0..{n - 1}")
        self.normalize = normalize
        self._mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
        self._std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
        self._handles = None  # (pid, crops file, heatmaps file, crops datasets, heatmaps dataset), per process

    def __len__(self) -> int:
        return len(self.rows)

    def _open(self):
        pid = os.getpid()
        if self._handles is None or self._handles[0] != pid:
            crops = open_h5(self.crops_h5)
            attrs = validate_crops_file(crops, self.crops_h5)
            if attrs["fingerprint"] != self.attrs["fingerprint"]:
                raise G2RLError(f"{self.crops_h5}: the file changed since this dataset was created")
            heat = None
            if self.heatmaps_h5 is not None:
                heat = open_h5(self.heatmaps_h5)
                validate_heatmaps_file(heat, self.heatmaps_h5, attrs)
            # keep the h5py Dataset objects: looking a dataset up by name costs ~0.1 ms per read
            names = [n for n in ("images", "landmarks", "intensities", "au_points", "frame_landmarks") if n in crops]
            self._handles = (pid, crops, heat, {n: crops[n] for n in names}, None if heat is None else heat["heatmaps"])
        return self._handles[3], self._handles[4]

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        crops, heat = self._open()
        image, landmarks, intensity = (read_rows(crops[n], row, self.crops_h5)
                                       for n in ("images", "landmarks", "intensities"))
        maps = None
        if heat is not None:
            maps = read_rows(heat, row, self.heatmaps_h5)
            maps = check_finite_maps(maps, self.heatmaps_h5, f"row {row}").astype(np.float32)
        elif self.sigma is not None:
            points = crop_to_heatmap(read_rows(crops["au_points"], row, self.crops_h5).astype(np.float64), HEATMAP_STRIDE)
            maps = render_layout(points, intensity, self.sigma, self.heatmap_size, self.layout, self.peak)
        frame_landmarks = read_rows(crops["frame_landmarks"], row, self.crops_h5) if "frame_landmarks" in crops else None
        img = image.transpose(2, 0, 1).astype(np.float32) / 255.0
        if self.normalize:
            img = (img - self._mean) / self._std
        item = {
            "image": torch.from_numpy(img),
            "intensity": torch.from_numpy(intensity.astype(np.float32)),
            "landmarks": torch.from_numpy(landmarks.astype(np.float32)),
            "row": row,
        }
        if maps is not None:
            item["heatmaps"] = torch.from_numpy(maps)
        if frame_landmarks is not None:
            item["frame_landmarks"] = torch.from_numpy(frame_landmarks.astype(np.float32))
        return item

    def nbytes_in_memory(self) -> int:
        """Bytes :meth:`read_arrays` returns: uint8 images, float16 (or rendered float32) heatmaps, the rest."""
        s, h, k = self.crop_size, self.heatmap_size, len(self.aus)
        # channels: K per AU; a per-point layout has more (at most every AU point), so count the points
        c = k if self.layout == "per_au" else k * max(len(v) for v in self.attrs["au_point_mapping"].values())
        heat = 0 if self.sigma is None else c * h * h * (2 if self.heatmaps_h5 is not None else 4)
        return len(self.rows) * (s * s * 3 + heat + 2 * 68 * 2 * 4 + k * 4 + 8)

    def read_arrays(self) -> dict[str, np.ndarray]:
        """Every served row at once, as stored: ``images`` uint8 (N, S, S, 3), ``landmarks`` float32
        (N, 68, 2), ``intensities`` float32 (N, K), ``heatmaps`` float16 (N, C, S/4, S/4) from the file
        or float32 rendered from the AU points in this dataset's layout (absent when there are none),
        ``frame_landmarks`` float32 (N, 68, 2) when the file has them, ``rows`` int64 (N,).

        Reads consecutive rows as one slice (one HDF5 call per run of rows, not one per row), so a
        fold of a small cache loads in a fraction of a second (g2rl.preprocess.memory).
        """
        crops, heat = self._open()
        rows = self.rows
        # runs of consecutive rows: [starts[i], stops[i]) in cache rows, at positions [pos[i], ...)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        pos = np.concatenate([[0], breaks]).astype(np.int64)
        ends = np.concatenate([breaks, [len(rows)]]).astype(np.int64)
        names = ["images", "landmarks", "intensities"] + (["au_points"] if heat is None and self.sigma is not None else [])
        names += ["frame_landmarks"] if "frame_landmarks" in crops else []
        out = {n: np.empty((len(rows), *crops[n].shape[1:]), crops[n].dtype) for n in names}
        if heat is not None:
            out["heatmaps"] = np.empty((len(rows), *heat.shape[1:]), heat.dtype)
        for a, b in zip(pos, ends) if len(rows) else ():
            start, stop = int(rows[a]), int(rows[b - 1]) + 1
            for n in names:
                out[n][a:b] = read_rows(crops[n], slice(start, stop), self.crops_h5)
            if heat is not None:
                out["heatmaps"][a:b] = read_rows(heat, slice(start, stop), self.heatmaps_h5)
        if heat is not None:
            check_finite_maps(out["heatmaps"], self.heatmaps_h5, f"rows {int(rows.min())}..{int(rows.max())}")
        if "au_points" in out:
            points = crop_to_heatmap(out.pop("au_points").astype(np.float64), HEATMAP_STRIDE)
            maps = [render_layout(p, i, self.sigma, self.heatmap_size, self.layout, self.peak)
                    for p, i in zip(points, out["intensities"])]
            out["heatmaps"] = np.stack(maps) if maps else np.zeros((0, 0, self.heatmap_size, self.heatmap_size), np.float32)
        for n in ("landmarks", "frame_landmarks"):
            if n in out:
                out[n] = out[n].astype(np.float32)
        out["intensities"] = out["intensities"].astype(np.float32)
        out["rows"] = rows.copy()
        return out

    def __getstate__(self):
        # open HDF5 handles never travel to another process (spawned workers reopen)
        state = self.__dict__.copy()
        state["_handles"] = None
        return state
