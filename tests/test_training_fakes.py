"""Test helpers (no tests here): synthetic rows served like a cache's (g2rl.preprocess.batches), and, until
g2rl.preprocess.heatmaps exists, a private test-only heatmap decoder installed in its place.

The easy task: K AUs at fixed heatmap locations; the image shows a bright blob at each AU location
whose brightness encodes the intensity, and the landmarks move with the intensities too (as real
AUs move landmarks), so both the backbone and the geometry module have something to learn.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pandas as pd
import torch

from g2rl.preprocess.batches import RowBatches


def _install_fake_decoder() -> None:
    try:
        import g2rl.preprocess.heatmaps  # noqa: F401
        return
    except ImportError:
        pass

    def decode_heatmaps(maps, sigma):
        """(B,K,H,W) -> (intensity (B,K) = max * 2 pi sigma^2 clipped to [0,5], locations (B,K,2) x,y)."""
        b, k, h, w = maps.shape
        peak, idx = maps.flatten(2).max(dim=2)
        loc = torch.stack([idx % w, idx // w], dim=-1).float()
        return (peak * 2 * math.pi * sigma**2).clamp(0, 5), loc

    mod = types.ModuleType("g2rl.preprocess.heatmaps")
    mod.decode_heatmaps = decode_heatmaps
    sys.modules["g2rl.preprocess.heatmaps"] = mod


_install_fake_decoder()

AUS = ["AU01", "AU06", "AU12"]


def face_template(crop: int) -> np.ndarray:
    """A plausible 68-point layout in a crop x crop image (jaw, brows, nose, eyes, mouth)."""
    s = crop / 256.0
    pts = np.zeros((68, 2))
    t = np.linspace(-1, 1, 17)
    pts[0:17] = np.c_[128 + 90 * t, 130 + 90 * np.sqrt(1 - 0.8 * t**2)]
    pts[17:22] = np.c_[np.linspace(60, 115, 5), 70 - 5 * np.sin(np.linspace(0, math.pi, 5))]
    pts[22:27] = np.c_[np.linspace(141, 196, 5), 70 - 5 * np.sin(np.linspace(0, math.pi, 5))]
    pts[27:31] = np.c_[np.full(4, 128), np.linspace(90, 140, 4)]
    pts[31:36] = np.c_[np.linspace(108, 148, 5), np.full(5, 150)]
    a = np.linspace(0, 2 * math.pi, 7)[:-1]
    pts[36:42] = np.c_[79 + 18 * np.cos(a), 87 + 7 * np.sin(a)]
    pts[42:48] = np.c_[177 + 18 * np.cos(a), 87 + 7 * np.sin(a)]
    a = np.linspace(0, 2 * math.pi, 13)[:-1]
    pts[48:60] = np.c_[128 + 30 * np.cos(a), 190 + 12 * np.sin(a)]
    a = np.linspace(0, 2 * math.pi, 9)[:-1]
    pts[60:68] = np.c_[128 + 20 * np.cos(a), 190 + 6 * np.sin(a)]
    return pts * s


class BlobDataset(RowBatches):
    """Rows like a cache's (g2rl.preprocess.batches), all held in memory: image uint8 (S,S,3), heatmaps
    float16 (K,S/4,S/4) (Eq. 1), intensity (K,) with NaN = unlabelled, landmarks (68,2) crop pixels, row
    (index into keys). ``intensity`` keeps the true values, ``observed`` the labels with gaps."""

    def __init__(self, n: int, crop: int = 64, sigma: float = 2.0, seed: int = 0, row0: int = 0, nan_every: int = 0):
        rng = np.random.default_rng(seed)
        k = len(AUS)
        self.crop, self.sigma, self.row0 = crop, sigma, row0
        hm = crop // 4
        self.locs = np.array([[4, 4], [12, 5], [8, 12]], dtype=float) * hm / 16  # AU centres, heatmap px
        self.intensity = rng.integers(0, 6, size=(n, k)).astype(np.float32)
        self.observed = self.intensity.copy()
        if nan_every:
            self.observed[::nan_every, 1] = np.nan  # some AU labels missing
        yy, xx = np.mgrid[0:crop, 0:crop]
        self.images = np.empty((n, crop, crop, 3), np.uint8)
        self.heatmaps = np.empty((n, k, hm, hm), np.float16)
        hy, hx = np.mgrid[0:hm, 0:hm]
        for i in range(n):
            img = rng.normal(0, 0.3, size=(crop, crop))
            for j, (cx, cy) in enumerate(self.locs):
                px, py = cx * 4 + 1.5, cy * 4 + 1.5  # heatmap px -> crop px
                img += 0.5 * self.intensity[i, j] * np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 3.0**2))
                d2 = (hx - cx) ** 2 + (hy - cy) ** 2
                self.heatmaps[i, j] = self.intensity[i, j] / (2 * math.pi * sigma**2) * np.exp(-d2 / (2 * sigma**2))
            self.images[i] = np.clip(img * 50.0 + 60.0, 0, 255).astype(np.uint8)[:, :, None]  # grey, as RGB
        base = face_template(crop)
        self.landmarks = np.empty((n, 68, 2), np.float32)
        for i in range(n):
            lm = base + rng.normal(0, 0.4, size=base.shape)
            lm[17:27, 1] -= 0.6 * self.intensity[i, 0]  # brows rise with AU01
            lm[48, 0] -= 0.5 * self.intensity[i, 2]  # mouth corners pull with AU12
            lm[54, 0] += 0.5 * self.intensity[i, 2]
            self.landmarks[i] = lm
        super().__init__({"image": self.images, "heatmaps": self.heatmaps, "intensity": self.observed,
                          "landmarks": self.landmarks, "row": np.arange(row0, row0 + n, dtype=np.int64)})


def make_fold(n_train: int = 64, n_test: int = 32, crop: int = 64, sigma: float = 2.0, nan_every: int = 0):
    """(train set, test set, keys, info) for run_training: test rows follow the train rows."""
    train = BlobDataset(n_train, crop, sigma, seed=1, row0=0, nan_every=nan_every)
    test = BlobDataset(n_test, crop, sigma, seed=2, row0=n_train)
    n = n_train + n_test
    keys = pd.DataFrame({
        "subject": [f"S{i // 8:03d}" for i in range(n)],
        "session": "T1",
        "frame": np.arange(n),
        "split": ["train"] * n_train + ["devel"] * n_test,
    })  # fmt: skip
    info = {
        "dataset": "fake", "aus": AUS, "crop_size": crop, "heatmap_size": crop // 4,
        "au_points": {"AU01": [[21]], "AU06": [[1, 41, 31]], "AU12": [[48], [54]]}, "test_split": "devel",
        "source": "fake.h5", "heatmaps": "fake_heatmaps.h5",
    }  # fmt: skip
    return train, test, keys, info


def small_settings(**changes):
    """A fast configuration: resnet18, narrow deconvs, no workers. Changes to ModelConfig fields
    (e.g. deconv_channels, guidance) go into the model config, the rest into TrainSettings."""
    import dataclasses

    from g2rl.model.config import ModelConfig
    from g2rl.training.settings import TrainSettings

    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    model_changes = {k: changes.pop(k) for k in list(changes) if k in model_fields}
    model_changes.update(changes.pop("model_changes", {}))
    model = dict(
        backbone="resnet18", deconv_channels=(32, 32, 32), gcn_channels=(16, 16, 16), gcn_conv_channels=4,
        gcn_fc_channels=(64, 64), latent_dim=32, projection_pool=2,
    )  # fmt: skip
    model.update(model_changes)
    base = dict(model=ModelConfig(**model), batch_size=16, epochs=2, lr_step_epochs=(1,), num_workers=0, lr=1e-3)
    base.update(changes)
    return TrainSettings(**base)
