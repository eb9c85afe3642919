"""Shapes of every module, the adjacency on a hand-computed example, the losses by hand."""

from __future__ import annotations

import math

import pytest
import torch

from g2rl.errors import G2RLError
from g2rl.model import G2RLModel, GeometryModule, HeatmapNet, KnowledgeProjection, ModelConfig
from g2rl.model.adjacency import (
    gaussian_adjacency,
    gcn_normalize,
    inter_ocular_distance,
    normalize_landmarks,
    usable_faces,
)
from g2rl.model.losses import guidance_loss, masked_heatmap_loss, masked_intensity_loss
from test_training_fakes import face_template


def test_heatmap_net_shapes():
    net = HeatmapNet(5, "resnet18", None, (16, 16, 8))
    maps, m = net(torch.randn(2, 3, 64, 64), return_features=True)
    assert maps.shape == (2, 5, 16, 16)  # S/4
    assert m.shape == (2, 8, 16, 16)
    assert net.feature_channels == 8
    # Simple Baselines init: final conv bias 0, tiny weights
    assert torch.all(net.final.bias == 0) and net.final.weight.std() < 0.01


def test_resnet50_trunk_channels():
    net = HeatmapNet(12, "resnet50", None, (256, 256, 256))
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 12, 16, 16)


def test_pretrained_loading(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    net = HeatmapNet(3, "resnet18", path, (8, 8, 8))
    assert torch.equal(net.trunk[0].weight, ref.conv1.weight)  # conv1 = trunk[0]
    assert torch.equal(net.trunk[7][1].conv2.weight, ref.layer4[1].conv2.weight)
    with pytest.raises(G2RLError, match="missing.pth"):
        HeatmapNet(3, "resnet18", tmp_path / "missing.pth", (8, 8, 8))
    with pytest.raises(G2RLError, match="resnet50"):
        HeatmapNet(3, "resnet50", path, (8, 8, 8))  # wrong architecture


def test_two_deconvolutions_end_the_trunk_at_layer3(tmp_path):
    """Two widths: ResNet up to layer3 (stride 16, 256 channels on ResNet-18, 1024 on ResNet-50), two x2
    deconvolutions to the same S/4 maps; ImageNet weights of the stages kept load unchanged."""
    import torchvision

    from g2rl.errors import ConfigError

    net = HeatmapNet(5, "resnet18", None, (16, 8))
    maps, m = net(torch.randn(2, 3, 64, 64), return_features=True)
    assert maps.shape == (2, 5, 16, 16) and m.shape == (2, 8, 16, 16)
    assert net.trunk_stages == 3 and len(net.trunk) == 7  # conv1, bn1, relu, maxpool, layer1..3
    assert net.trunk(torch.randn(1, 3, 64, 64)).shape == (1, 256, 4, 4)
    assert net.deconv.layers[0].in_channels == 256
    assert HeatmapNet(2, "resnet50", None, (8, 8)).deconv.layers[0].in_channels == 1024
    # ResNet-18's layer4 holds 8.4 M of its 11.2 M parameters: the short trunk has none of them
    full = HeatmapNet(5, "resnet18", None, (16, 16, 8))
    assert sum(p.numel() for p in full.trunk.parameters()) - sum(p.numel() for p in net.trunk.parameters()) == sum(
        p.numel() for p in torchvision.models.resnet18().layer4.parameters())
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    loaded = HeatmapNet(3, "resnet18", path, (8, 8))
    assert torch.equal(loaded.trunk[6][1].conv2.weight, ref.layer3[1].conv2.weight)
    for widths in [(8,), (8, 8, 8, 8)]:
        with pytest.raises(ConfigError, match="deconv_channels"):
            HeatmapNet(3, "resnet18", None, widths)
        with pytest.raises(ConfigError, match="deconv_channels"):
            ModelConfig(deconv_channels=widths)
    assert ModelConfig(deconv_channels=[64, 64]).deconv_channels == (64, 64)


def test_random_init_warns(caplog):
    with caplog.at_level("WARNING"):
        HeatmapNet(3, "resnet18", None, (8, 8, 8))
    assert "RANDOM initialisation" in caplog.text


def test_geometry_and_projection_shapes():
    lm = torch.from_numpy(face_template(64)).float()[None].repeat(4, 1, 1) + torch.randn(4, 68, 2)
    geo = GeometryModule((8, 16, 32), 4, (64, 48), 32, tau=0.25)
    g, raw = geo(lm)
    assert g.shape == (4, 32) and raw.shape == (4,)
    # G lies on the sphere of radius sqrt(D): it cannot collapse to zero
    assert torch.allclose(g.norm(dim=1), torch.full((4,), math.sqrt(32)), atol=1e-4)
    geo.eval()
    assert geo(lm[:1])[0].shape == (1, 32)  # one sample: running statistics
    proj = KnowledgeProjection(8, 32, pool=4)
    assert proj(torch.randn(4, 8, 16, 16)).shape == (4, 32)
    assert proj.linear.in_features == 8 * 16


def test_adjacency_hand_computed():
    # nodes (0,0), (1,0), (0,2), tau = 1: d^2 = 1, 4, 5
    pts = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]])
    a = gaussian_adjacency(pts, tau=1.0)[0]
    e05, e2, e25 = 0.6065306597, 0.1353352832, 0.0820849986  # exp(-1/2), exp(-2), exp(-5/2)
    expected = torch.tensor([[1, e05, e2], [e05, 1, e25], [e2, e25, 1]])
    assert torch.allclose(a, expected, atol=1e-7)
    # symmetric normalisation: row sums 1.7418659429, 1.6886156583, 1.2174202818
    n = gcn_normalize(a[None])[0]
    assert n[0, 1].item() == pytest.approx(e05 / math.sqrt(1.7418659429 * 1.6886156583), abs=1e-6)
    assert n[2, 2].item() == pytest.approx(1 / 1.2174202818, abs=1e-6)
    # DenseGCNConv applies exactly this normalisation (identity weight, no bias)
    from torch_geometric.nn import DenseGCNConv

    conv = DenseGCNConv(3, 3, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
    x = torch.randn(1, 3, 3)
    assert torch.allclose(conv(x, a[None]), n[None] @ x, atol=1e-6)


def test_landmark_normalisation():
    pts = torch.from_numpy(face_template(256)).float()[None]
    # eye centres of the template: (79, 87) and (177, 87) -> IOD 98
    assert inter_ocular_distance(pts).item() == pytest.approx(98.0, abs=1e-3)
    p = normalize_landmarks(pts * 0.5 + 10.0)  # scale and shift do not matter
    assert torch.allclose(p, normalize_landmarks(pts), atol=1e-5)
    assert torch.allclose(p.mean(dim=1), torch.zeros(1, 2), atol=1e-6)
    # a degenerate face comes out NaN (no check in the step: it would make the host wait); usable_faces
    # is what callers select with, before
    both = torch.cat([pts, torch.zeros(1, 68, 2)])
    assert torch.isnan(normalize_landmarks(both)[1]).all() and torch.isfinite(normalize_landmarks(both)[0]).all()
    missing = pts.clone()
    missing[0, 30] = float("nan")
    assert usable_faces(torch.cat([pts, torch.zeros(1, 68, 2), missing])).tolist() == [True, False, False]
    assert usable_faces(pts * 1e-6).tolist() == [False]  # IOD 98e-6 px < MIN_IOD


def test_masked_heatmap_loss_by_hand():
    pred = torch.zeros(2, 2, 2, 2)
    target = torch.zeros(2, 2, 2, 2)
    target[0, 0] = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # sample 0, AU0: error 1 + 4 = 5
    target[0, 1] = float("nan")  # unlabelled channel: its map is ignored too
    target[1, 0, 0, 0] = 3.0  # sample 1, AU0: error 9
    target[1, 1, 1, 1] = 5.0  # sample 1, AU1 unlabelled: 25 must not count
    intensity = torch.tensor([[1.0, float("nan")], [2.0, float("nan")]])
    assert masked_heatmap_loss(pred, target, intensity).item() == pytest.approx((5 + 9) / 2)
    # the same channel labelled counts (a test that can fail)
    intensity[1, 1] = 0.0
    assert masked_heatmap_loss(pred, target, intensity).item() == pytest.approx((5 + 9 + 25) / 2)


def test_masked_intensity_and_guidance_loss_by_hand():
    pred = torch.tensor([[1.0, 2.0], [0.0, 4.0]])
    lab = torch.tensor([[2.0, float("nan")], [0.0, 1.0]])
    assert masked_intensity_loss(pred, lab).item() == pytest.approx((1 + 0 + 9) / 3)
    assert masked_intensity_loss(pred, torch.full((2, 2), float("nan"))).item() == 0.0
    # gradients: 2 (pred - label) / 3 where labelled, 0 where not; with no label at all the graph is kept
    p = pred.clone().requires_grad_()
    masked_intensity_loss(p, lab).backward()
    torch.testing.assert_close(p.grad, torch.tensor([[-2.0, 0.0], [0.0, 6.0]]) / 3)
    p.grad = None
    masked_intensity_loss(p, torch.full((2, 2), float("nan"))).backward()
    assert torch.equal(p.grad, torch.zeros(2, 2))
    g = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    wm = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    # per sample ||.||^2 / D: (1 + 1) / 2 = 1 and (0 + 4) / 2 = 2 -> mean 1.5
    assert guidance_loss(g, wm).item() == pytest.approx(1.5)


def _batch(b=4, k=3, s=64):
    lm = torch.from_numpy(face_template(s)).float()[None].repeat(b, 1, 1) + torch.randn(b, 68, 2)
    return torch.randn(b, 3, s, s), torch.rand(b, k, s // 4, s // 4) * 0.1, torch.rand(b, k) * 5, lm


def small_config(**changes):
    return ModelConfig(backbone="resnet18", deconv_channels=(16, 16, 16), gcn_channels=(8, 8, 8), gcn_conv_channels=4,
                       gcn_fc_channels=(32, 32), latent_dim=16, projection_pool=2, **changes)


def _small(lambda_g, **changes):
    return G2RLModel(small_config(**changes), 3, lambda_g)


def test_joint_model_losses_and_baseline():
    torch.manual_seed(0)
    x, h, i, lm = _batch()
    g2rl = _small(0.05)
    t = g2rl(x, h, i, lm)
    expected = 0.05 * t.guidance + 0.95 * t.heatmap + 1.0 * t.teach
    assert t.total.item() == pytest.approx(expected.item(), rel=1e-5)
    base = _small(0.0)
    assert not hasattr(base, "geometry") and not hasattr(base, "projection")
    tb = base(x, h, i)  # no landmarks needed
    assert tb.total.item() == pytest.approx(tb.heatmap.item()) and tb.guidance.item() == 0.0
    with pytest.raises(ValueError):
        g2rl(x, h, i, None)
