"""g2rl.predict.model: checkpoint loading/validation and crops -> intensities, against a direct forward pass."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from g2rl.errors import G2RLError
from g2rl.model.backbone import HeatmapNet
from g2rl.predict.model import check_meta, load_au_model
from g2rl.preprocess.batches import IMAGENET_MEAN, IMAGENET_STD
from g2rl.training.checkpoint import save_inference_checkpoint

AUS = ["AU01", "AU06", "AU12"]


def make_checkpoint(path, aus=AUS, crop=64, sigma=1.0, seed=0):
    """A small random resnet18 HeatmapNet saved with training's own writer and the meta training writes.

    The deconv/final layers are re-initialised so the decoded intensities spread over (0, 5)
    instead of sitting at 0 (Simple Baselines' init gives ~0 maps): a check on the values then
    has something to compare.
    """
    torch.manual_seed(seed)
    net = HeatmapNet(len(aus), "resnet18", None, (32, 32, 32), warn_random=False)
    with torch.no_grad():
        for m in net.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight)
        nn.init.normal_(net.final.weight, std=0.025)
        net.final.bias.fill_(0.0)
    meta = {
        "dataset": "demo_disfa", "aus": list(aus), "crop_size": crop, "heatmap_size": crop // 4, "sigma": sigma,
        "backbone": "resnet18", "deconv_channels": [32, 32, 32], "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD), "au_points": None, "method": "baseline", "lambda_g": 0.0, "seed": seed,
    }
    save_inference_checkpoint(path, net, meta)
    return net.eval(), meta


def reference_intensities(net, crops, sigma, normalise=True):
    """Independent path: numpy normalisation, plain forward, max * 2 pi sigma^2, clip [0, 5]."""
    x = crops.astype(np.float64).transpose(0, 3, 1, 2) / 255.0
    if normalise:
        x = (x - np.array(IMAGENET_MEAN)[None, :, None, None]) / np.array(IMAGENET_STD)[None, :, None, None]
    with torch.no_grad():
        maps = net(torch.tensor(x, dtype=torch.float32)).numpy()
    return np.clip(maps.reshape(*maps.shape[:2], -1).max(-1) * 2 * math.pi * sigma**2, 0, 5), maps


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "model.pt"
    net, meta = make_checkpoint(path)
    return path, net, meta


def test_predict_equals_direct_forward_and_decode(ckpt):
    path, net, meta = ckpt
    model = load_au_model(path, device="cpu", amp="off")
    assert model.aus == AUS and model.crop_size == 64 and model.sigma == 1.0
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    got, maps = model.predict(crops, heatmaps=True)
    want, want_maps = reference_intensities(net, crops, 1.0)
    assert got.shape == (5, 3) and got.dtype == np.float32 and maps.shape == (5, 3, 16, 16)
    np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_allclose(maps, want_maps, atol=1e-5)
    assert 0.05 < got.min() and got.max() < 4.95 and got.std() > 1e-3  # not clipped, so the check has teeth
    # negative control: skipping the normalisation gives other numbers (the comparison can fail)
    unnorm, _ = reference_intensities(net, crops, 1.0, normalise=False)
    assert np.abs(unnorm - got).max() > 1e-2


def test_bf16_is_close_to_float32(ckpt):
    model32 = load_au_model(ckpt[0], device="cpu", amp="off")
    model16 = load_au_model(ckpt[0], device="cpu", amp="bf16")
    assert model16.bf16 and model16.channels_last and not model32.bf16
    crops = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    a, _ = model32.predict(crops)
    b, _ = model16.predict(crops)
    assert np.abs(a - b).max() < 0.25


def test_predict_checks_crop_shape(ckpt):
    model = load_au_model(ckpt[0], device="cpu", amp="off")
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\) uint8"):
        model.predict(np.zeros((1, 32, 32, 3), np.uint8))


def test_missing_and_garbage_checkpoints_are_named(tmp_path):
    with pytest.raises(G2RLError, match="nope.pt: checkpoint file does not exist"):
        load_au_model(tmp_path / "nope.pt")
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"this is not a torch archive" * 10)
    with pytest.raises(G2RLError, match="junk.pt"):
        load_au_model(bad)
    plain = tmp_path / "dict.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    with pytest.raises(G2RLError, match="dict.pt"):
        load_au_model(plain)


def test_weights_that_do_not_fit_the_meta(tmp_path, ckpt):
    raw = torch.load(ckpt[0], weights_only=True)
    raw["meta"]["aus"] = ["AU01", "AU06"]  # 2 AUs named, 3 heatmaps stored
    path = tmp_path / "mismatch.pt"
    torch.save(raw, path)
    with pytest.raises(G2RLError, match="mismatch.pt"):
        load_au_model(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"aus": []}, "'aus' must be a non-empty list"),
        ({"aus": ["AU01", "AU01"]}, "distinct"),
        ({"crop_size": 66}, "divisible by 4"),
        ({"heatmap_size": 32}, "heatmap_size=32"),
        ({"sigma": 0}, "'sigma' must be a positive"),
        ({"mean": [0.5, 0.5]}, "'mean' must list 3"),
        ({"std": [0.2, 0.0, 0.2]}, "'std' must be positive"),
    ],
)
def test_check_meta_rejects_bad_values(ckpt, change, message):
    meta = {**ckpt[2], **change}
    with pytest.raises(G2RLError, match=message):
        check_meta(meta, "some/model.pt")


def test_check_meta_names_missing_keys(ckpt):
    meta = dict(ckpt[2])
    del meta["sigma"]
    with pytest.raises(G2RLError, match=r"some/model.pt: checkpoint meta lacks \['sigma'\]"):
        check_meta(meta, "some/model.pt")


def test_overlay_png_large_tiles_figure4_style_and_demo_stamp():
    """--heatmaps PNGs: the report's Figure 4 style; a 64 px crop drawn on >= 256 px tiles (13 tiles of 12
    AUs in 3 rows of 5: the PNG is >= 5 x 256 px wide and 3 x 256 px tall); the red "DEMO DATA" label
    above the tiles only from a demo checkpoint."""
    import cv2

    from g2rl.predict.overlays import overlay_png

    crop = np.full((64, 64, 3), 200, np.uint8)
    maps = np.zeros((12, 16, 16), np.float32)
    maps[3, 8, 8] = 1.0
    pngs = {demo: overlay_png(crop, maps, [f"AU{i:02d}" for i in range(12)], np.zeros(12), vmax=1.0,
                              caption="000001", demo=demo) for demo in (False, True)}
    imgs = {k: cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_COLOR)[..., ::-1] for k, v in pngs.items()}
    for img in imgs.values():
        assert img.shape[1] >= 5 * 256 and img.shape[0] >= 3 * 256
    stamp = np.array([0xC0, 0x39, 0x2B])  # the stamp's red (g2rl.reports.figures.stamp_demo)

    def red(img):
        return int((np.abs(img.astype(int) - stamp).sum(axis=-1) < 40).sum())

    assert red(imgs[True]) > 200 and red(imgs[False]) == 0
