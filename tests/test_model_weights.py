"""`pretrained`: torchvision's ImageNet enum through the torch hub cache, local files, random init,
the offline error, the hash check and the refusal of random init on real data. Nothing is downloaded:
the cache is a temporary $TORCH_HOME holding a small state dict under the name torchvision expects."""

from __future__ import annotations

import hashlib
import urllib.error

import pytest
import torch
import torchvision
from torchvision.models import ResNet18_Weights, ResNet50_Weights

from g2rl.cli import main as g2rl_main
from g2rl.errors import ConfigError, G2RLError
from g2rl.model.backbone import HeatmapNet
from g2rl.model.weights import (
    check_initialisation,
    expected_file,
    imagenet_enum,
    resolve_weights,
    sidecar_path,
)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def _no_network(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)


def _cache_resnet18(torch_home, monkeypatch) -> tuple[torchvision.models.ResNet, str]:
    """Write a resnet18 state dict into the hub cache under a name whose hash prefix is its sha256,
    and point the enum's URL at that name (torchvision's real file cannot be made here)."""
    ref = torchvision.models.resnet18(weights=None)
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    tmp = folder / "tmp.pth"
    torch.save(ref.state_dict(), tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    name = f"resnet18-{digest[:8]}.pth"
    tmp.rename(folder / name)
    monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.value, "url", f"https://download.pytorch.org/models/{name}")
    return ref, digest


def test_settings_map_to_torchvision_enum_members():
    assert imagenet_enum("resnet50", "imagenet") is ResNet50_Weights.IMAGENET1K_V1
    assert imagenet_enum("resnet50", "imagenet_v1") is ResNet50_Weights.IMAGENET1K_V1
    assert imagenet_enum("resnet50", "imagenet_v2") is ResNet50_Weights.IMAGENET1K_V2
    with pytest.raises(ConfigError, match=r"no ResNet18_Weights\.IMAGENET1K_V2 \(available: IMAGENET1K_V1\)"):
        imagenet_enum("resnet18", "imagenet_v2")


def test_expected_file_is_in_torch_home(torch_home):
    assert expected_file(ResNet50_Weights.IMAGENET1K_V1) == torch_home / "hub" / "checkpoints" / "resnet50-0676ba61.pth"


def test_cached_enum_weights_load_without_network(torch_home, monkeypatch):
    ref, digest = _cache_resnet18(torch_home, monkeypatch)
    _no_network(monkeypatch)  # a cache hit must not touch the network
    w = resolve_weights("resnet18", "imagenet")
    assert (w.kind, w.name, w.sha256) == ("torchvision", "ResNet18_Weights.IMAGENET1K_V1", digest)
    net = HeatmapNet(3, "resnet18", "imagenet", (8, 8, 8))
    assert torch.equal(net.trunk[0].weight, ref.conv1.weight)
    assert torch.equal(net.trunk[7][1].conv2.weight, ref.layer4[1].conv2.weight)


def test_cached_file_with_wrong_hash_is_refused(torch_home, monkeypatch):
    _cache_resnet18(torch_home, monkeypatch)
    path = expected_file(ResNet18_Weights.IMAGENET1K_V1)
    path.write_bytes(path.read_bytes()[:-10])  # truncated download
    with pytest.raises(G2RLError) as err:
        resolve_weights("resnet18", "imagenet")
    msg = str(err.value)
    assert msg.startswith(str(path)) and "does not start with" in msg and "delete it" in msg and "\n" not in msg


def test_offline_and_not_cached_names_file_folder_and_url(torch_home, monkeypatch, capsys, tmp_path):
    _no_network(monkeypatch)
    with pytest.raises(G2RLError) as err:
        resolve_weights("resnet50", "imagenet")
    msg = str(err.value)
    # the workflow's `weights` rule: exit 2 and that one line, no traceback
    assert g2rl_main(["weights", "--backbone", "resnet50", "--pretrained", "imagenet", "--out", str(tmp_path / "w.pth")]) == 2
    assert capsys.readouterr().err.strip() == f"g2rl weights: error: {msg}"
    folder = torch_home / "hub" / "checkpoints"
    assert msg.startswith("resnet50-0676ba61.pth: ImageNet weights ResNet50_Weights.IMAGENET1K_V1")
    assert str(folder) in msg and "https://download.pytorch.org/models/resnet50-0676ba61.pth" in msg
    assert "Temporary failure in name resolution" in msg and "\n" not in msg


def test_download_route_goes_through_torchvision_with_hash_check(torch_home, monkeypatch):
    """Not cached: torchvision's get_state_dict(check_hash=True) fetches the file into the hub cache."""
    ref = torchvision.models.resnet18(weights=None)
    src = torch_home.parent / "served.pth"
    torch.save(ref.state_dict(), src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.value, "url", f"https://example.org/resnet18-{digest[:8]}.pth")
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        dst_path = torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
        assert str(dst_path) == dst
        dst_path.write_bytes(src.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    w = resolve_weights("resnet18", "imagenet")
    assert calls == [(f"https://example.org/resnet18-{digest[:8]}.pth", digest[:8])]  # hash checked on download
    assert w.sha256 == digest and w.path.is_file()


def test_local_path_and_random(tmp_path):
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": ref.state_dict()}, path)
    w = resolve_weights("resnet18", str(path))
    assert w.kind == "file" and w.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(HeatmapNet(3, "resnet18", path, (8, 8, 8)).trunk[0].weight, ref.conv1.weight)
    assert resolve_weights("resnet18", None).identity()["kind"] == "random"
    with pytest.raises(G2RLError, match="absent.pth: ImageNet weights file"):
        resolve_weights("resnet18", tmp_path / "absent.pth")


def test_exported_copy_keeps_the_enum_name(torch_home, monkeypatch, tmp_path):
    ref, digest = _cache_resnet18(torch_home, monkeypatch)
    out = tmp_path / "weights" / "resnet18_imagenet.pth"
    assert g2rl_main(["weights", "--backbone", "resnet18", "--pretrained", "imagenet", "--out", str(out)]) == 0
    assert sidecar_path(out).name == "resnet18_imagenet.provenance.json"
    w = resolve_weights("resnet18", str(out))
    assert (w.kind, w.name, w.sha256, w.path) == ("torchvision", "ResNet18_Weights.IMAGENET1K_V1", digest, out)
    # a copy whose bytes no longer match its record is refused
    out.unlink()
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), out)
    with pytest.raises(G2RLError, match="content differs"):
        resolve_weights("resnet18", str(out))


def test_random_init_refused_on_real_data_unless_allowed():
    rnd = resolve_weights("resnet18", None)
    with pytest.raises(ConfigError, match=r"crops\.h5: model\.pretrained is null .* on real data.*allow_random_init"):
        check_initialisation(rnd, "real", False, "crops.h5")
    with pytest.raises(ConfigError, match="unknown data"):
        check_initialisation(rnd, "unknown", False, "crops.h5")
    check_initialisation(rnd, "real", True, "crops.h5")
    check_initialisation(rnd, "demo", False, "crops.h5")
