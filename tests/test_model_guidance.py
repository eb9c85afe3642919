"""What makes each guidance variant that variant (gradient routes, norms), the geometry settings
(kNN graph, similarity input), per-point channels in the joint model, and ModelConfig plumbing."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from g2rl.errors import ConfigError
from g2rl.model import G2RLModel, GeometryModule, ModelConfig
from g2rl.model.adjacency import knn_adjacency, similarity_normalize
from g2rl.model.config import add_model_arguments, model_config_from_args
from g2rl.training.settings import TrainSettings
from test_model_parts import _batch, small_config


def _grads(module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def _guidance_backward(guidance: str, which: str):
    """Backward of L_G or L_teach alone through the model's own guidance_terms."""
    torch.manual_seed(0)
    model = G2RLModel(small_config(guidance=guidance), 3, 0.05)
    x, _, i, lm = _batch()
    _, m = model.net(x, return_features=True)
    g, raw, l_g, teach = model.guidance_terms(m, lm, i)
    (l_g if which == "guidance" else teach).backward()
    return model, g, raw


@pytest.mark.parametrize("guidance", ["literal", "literal_fixed_norm"])
def test_literal_variants_send_l_g_into_geometry_projection_and_backbone(guidance):
    model, _, _ = _guidance_backward(guidance, "guidance")
    assert _grads(model.geometry) > 0  # Eq. 6 as written: L_G moves G
    assert _grads(model.projection) > 0 and _grads(model.net.deconv) > 0
    assert not hasattr(model, "teach_head")  # no extra head, no extra loss


def test_stopgrad_aux_routes():
    model, _, _ = _guidance_backward("stopgrad_aux", "guidance")
    assert _grads(model.geometry) == 0  # L_G cannot move G
    assert _grads(model.projection) > 0 and _grads(model.net.deconv) > 0
    model, _, _ = _guidance_backward("stopgrad_aux", "teach")
    assert _grads(model.geometry) > 0 and _grads(model.net) == 0  # L_teach shapes G only


def test_norm_of_g_per_variant():
    d = small_config().latent_dim
    for guidance, fixed in (("stopgrad_aux", True), ("literal_fixed_norm", True), ("literal", False)):
        _, g, raw = _guidance_backward(guidance, "guidance")
        if fixed:
            assert torch.allclose(g.norm(dim=1), torch.full((g.shape[0],), math.sqrt(d)), atol=1e-4)
        else:
            assert torch.allclose(g.norm(dim=1), raw, atol=1e-6)  # G is G_raw
            assert not torch.allclose(g.norm(dim=1), torch.full((g.shape[0],), math.sqrt(d)), atol=1e-2)


def test_total_loss_per_variant():
    torch.manual_seed(0)
    x, h, i, lm = _batch()
    for guidance in ("literal", "literal_fixed_norm"):
        t = G2RLModel(small_config(guidance=guidance, teach_weight=3.0), 3, 0.2)(x, h, i, lm)
        assert t.teach.item() == 0.0
        assert t.total.item() == pytest.approx((0.2 * t.guidance + 0.8 * t.heatmap).item(), rel=1e-5)
    t = G2RLModel(small_config(teach_weight=3.0), 3, 0.2)(x, h, i, lm)
    assert t.total.item() == pytest.approx((0.2 * t.guidance + 0.8 * t.heatmap + 3.0 * t.teach).item(), rel=1e-5)


def test_per_point_channels_in_the_joint_model():
    torch.manual_seed(0)
    channel_au = [0, 0, 1, 2, 2, 2]  # AU0 two points, AU1 one, AU2 three
    model = G2RLModel(small_config(), 3, 0.0, channel_au=channel_au)
    assert model.net.final.out_channels == 6
    x, _, i, _ = _batch()
    h = torch.rand(4, 6, 16, 16)
    i[:, 2] = float("nan")  # AU2 unlabelled: its three channels drop out of L_S
    maps = model.net(x)
    expected = (maps[:, :3] - h[:, :3]).pow(2).sum() / 4
    assert model(x, h, i).heatmap.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="cover"):
        G2RLModel(small_config(), 3, 0.0, channel_au=[0, 0, 1])


def test_knn_adjacency_by_hand():
    # 4 nodes on a line at 0, 1, 3, 7; k = 2 (self + nearest): 0-1, 1-0, 3-1, 7-3 -> symmetrised
    x = torch.tensor([[[0.0], [1.0], [3.0], [7.0]]])
    a = knn_adjacency(x, 2)[0]
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.float32)
    assert torch.equal(a, expected)
    assert torch.equal(knn_adjacency(x, 4)[0], torch.ones(4, 4))


def test_knn_graph_is_recomputed_from_each_layers_features(monkeypatch):
    from g2rl.model import geometry

    seen = []
    real = geometry.knn_adjacency
    monkeypatch.setattr(geometry, "knn_adjacency", lambda f, k: seen.append(f.shape[-1]) or real(f, k))
    _, _, _, lm = _batch()
    geo = GeometryModule((8, 16, 32), 4, (32, 32), 16, adjacency="knn", k=5)
    g, _ = geo(lm)
    assert seen == [2, 8, 16]  # positions, then the outputs of GCN layers 1 and 2
    assert g.shape == (4, 16)


def test_similarity_normalisation_removes_rotation_only():
    _, _, _, lm = _batch(b=1)
    theta = torch.tensor(0.4)
    rot = torch.tensor([[torch.cos(theta), -torch.sin(theta)], [torch.sin(theta), torch.cos(theta)]])
    moved = (lm @ rot.T) * 1.7 + torch.tensor([30.0, -12.0])
    a, b = similarity_normalize(lm), similarity_normalize(moved)
    assert torch.allclose(a, b, atol=1e-4)
    eye_line = a[0, 42:48].mean(0) - a[0, 36:42].mean(0)
    assert torch.allclose(eye_line, torch.tensor([1.0, 0.0]), atol=1e-5)
    # a shear is not removed (that is what separates it from the affine alignment)
    sheared = lm @ torch.tensor([[1.0, 0.3], [0.0, 1.0]]).T
    assert not torch.allclose(similarity_normalize(sheared), a, atol=1e-2)


def test_model_config_round_trip_unknown_keys_and_checks():
    cfg = small_config(guidance="literal", adjacency="knn", adjacency_k=5, geometry_input="similarity",
                       au_points="pairs", heatmap_layout="per_point", heatmap_peak="intensity")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    settings = TrainSettings(model=cfg.to_dict())
    assert settings.model == cfg and TrainSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(ConfigError, match="unknown model setting"):
        ModelConfig.from_dict({"aux_weight": 1.0})
    with pytest.raises(ConfigError, match="guidance"):
        ModelConfig(guidance="stopgrad")
    with pytest.raises(ConfigError, match="teach_weight"):
        TrainSettings(model=ModelConfig(teach_weight=0))
    TrainSettings(model=ModelConfig(teach_weight=0, guidance="literal"))  # the paper's Eq. 8 needs no L_teach
    TrainSettings(model=ModelConfig(teach_weight=0), lambda_g=0)  # the Baseline neither
    with pytest.raises(ConfigError, match="au_points"):
        ModelConfig(au_points="nope")


def test_cli_flags_parse_back_to_the_same_config():
    cfg = small_config(guidance="literal_fixed_norm", adjacency="knn", au_points="pairs", heatmap_layout="per_point",
                       heatmap_peak="intensity", adjacency_tau=0.5)
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)

    args = parser.parse_args(cfg.cli_flags())
    assert model_config_from_args(args) == cfg
    custom = cfg.replace(au_points={"AU06": [[1]], "AU12": [[48], [54]]})
    assert model_config_from_args(parser.parse_args(custom.cli_flags())) == custom


def test_heatmap_choices_come_from_the_cache_and_must_agree():
    from g2rl.preprocess.au_points import PAIRS_AU_POINTS

    aus = ["AU06", "AU12"]
    attrs = {"layout": "per_point", "peak": "intensity", "au_point_mapping": {a: PAIRS_AU_POINTS[a] for a in aus}}
    filled = ModelConfig().with_heatmap_choices(attrs, aus, "h.h5")
    assert (filled.au_points, filled.heatmap_layout, filled.heatmap_peak) == ("pairs", "per_point", "intensity")
    with pytest.raises(ConfigError, match="h.h5.*layout"):
        ModelConfig(heatmap_layout="per_au").with_heatmap_choices(attrs, aus, "h.h5")
    with pytest.raises(ConfigError, match="h.h5.*AU points"):
        ModelConfig(au_points="hr").with_heatmap_choices(attrs, aus, "h.h5")
