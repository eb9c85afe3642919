"""Provenance stamped on a training run (model.pt meta, loadable with weights_only=True, and the
predictions' sidecar), carried into metrics.json, printed by `g2rl provenance`; random init refused
on non-demo data. Runs one 1-epoch resnet18 training on the tiny cache of the cache tests."""

from __future__ import annotations

import hashlib
import json

import h5py
import pytest
import torch
import torchvision

from g2rl.cli import main as g2rl_main
from g2rl.errors import ConfigError
from g2rl.preprocess.cache import build_heatmap_cache
from g2rl.provenance import experiment_config, frame_index_fingerprint, git_state, sha256_json, versions
from g2rl.training import train_fold
from test_preprocess_cache import _build, tiny  # noqa: F401  (fixture reused from the cache tests)
from test_training_fakes import small_settings


@pytest.fixture
def cache(tiny):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "heatmaps_s2.h5"
    build_heatmap_cache(crops, 2.0, heat)
    return root, index, crops, heat


def test_random_init_refused_on_real_cache(cache, tmp_path, capsys):
    root, index, crops, heat = cache
    with h5py.File(crops) as f:
        assert f.attrs["data_kind"] == "real"  # the tiny media are not under a demo generator's output
    with pytest.raises(ConfigError, match=r"crops\.h5: model\.pretrained is null .* on real data"):
        train_fold(crops, heat, "2", tmp_path / "a", small_settings(epochs=1), seed=0, device="cpu")
    assert not (tmp_path / "a").exists()  # refused before anything was written
    rc = g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "1",
                    "--out", str(tmp_path / "b"), "--backbone", "resnet18", "--device", "cpu", "--pretrained", "none"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "allow_random_init" in err


def test_training_provenance_in_model_sidecar_and_metrics(cache, tmp_path, capsys):
    root, index, crops, heat = cache
    ref = torchvision.models.resnet18(weights=None)
    wfile = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), wfile)
    settings = small_settings(epochs=1, batch_size=4, pretrained=str(wfile), deconv_channels=(8, 8, 8))
    out = tmp_path / "fold2"
    train_fold(crops, heat, "2", out, settings, seed=0, device="cpu")

    prov = torch.load(out / "model.pt", weights_only=True)["meta"]["provenance"]
    assert json.loads((out / "predictions.provenance.json").read_text()) == prov
    commit, dirty = git_state()
    assert prov["code"]["commit"] == commit and prov["code"]["dirty"] == dirty
    # the run records its settings with the model config it ran (heatmap choices filled in from the cache)
    ran = {**settings.to_dict(), "model": torch.load(out / "model.pt", weights_only=True)["meta"]["model"]}
    assert ran["model"]["heatmap_layout"] == "per_au" and ran["model"]["backbone"] == "resnet18"
    assert prov["config_sha256"] == sha256_json(experiment_config(ran))
    assert "lambda_g" not in prov["config"] and prov["config"]["epochs"] == 1
    assert prov["versions"] == versions() and torch.__version__.startswith(prov["versions"]["torch"])
    assert set(prov["versions"]) == {"python", "torch", "torchvision", "torch-geometric", "dlib", "snakemake",
                                     "numpy", "h5py"}
    assert prov["dataset"]["kind"] == "real" and prov["dataset"]["name"] == "disfa"
    assert prov["dataset"]["frame_index_fingerprint"] == frame_index_fingerprint(index)
    with h5py.File(crops) as f, h5py.File(heat) as g:
        assert prov["caches"]["crops"] == f.attrs["fingerprint"] and prov["caches"]["heatmaps"] == g.attrs["fingerprint"]
    assert prov["weights"]["kind"] == "file"
    assert prov["weights"]["sha256"] == hashlib.sha256(wfile.read_bytes()).hexdigest()
    assert prov["device"]["type"] == "cpu" and prov["device"]["precision"] in ("bf16", "fp32")
    assert prov["wall_seconds"] > 0 and prov["run"]["test_split"] == "2" and prov["run"]["seed"] == 0

    metrics = tmp_path / "metrics.json"
    assert g2rl_main(["evaluate", str(out / "predictions.csv"), "--out", str(metrics)]) == 0
    stamped = json.loads(metrics.read_text())["provenance"]
    assert stamped["inputs"] == {str(out / "predictions.csv"): prov} and stamped["code"]["commit"] == commit

    capsys.readouterr()
    for result in (metrics, out / "model.pt", out / "predictions.csv"):
        assert g2rl_main(["provenance", str(result)]) == 0
        text = capsys.readouterr().out
        assert prov["config_sha256"] in text and "weights file sha256" in text
    assert g2rl_main(["provenance", str(out / "train_log.csv")]) == 2
    assert "train_log.provenance.json" in capsys.readouterr().err


def test_demo_data_is_recognised_by_the_generators_summary(tmp_path):
    import pandas as pd

    from g2rl.formats import DEMO_SUMMARY_NAME as SUMMARY_NAME
    from g2rl.provenance import dataset_attrs

    (tmp_path / "demo" / "BP4D" / "Sequences" / "F001" / "T1").mkdir(parents=True)
    (tmp_path / "demo" / SUMMARY_NAME).write_text("{}")
    index = pd.DataFrame({"media": [str(tmp_path / "demo/BP4D/Sequences/F001/T1" / f"{i}.jpg") for i in range(3)]})
    attrs = dataset_attrs(index)
    assert attrs["data_kind"] == "demo" and attrs["media_root"] == str(tmp_path / "demo/BP4D/Sequences/F001/T1")
    index.loc[3, "media"] = str(tmp_path / "elsewhere" / "x.jpg")  # one folder outside the demo: real
    assert dataset_attrs(index)["data_kind"] == "real"
    assert dataset_attrs(index)["frame_index_fingerprint"] != attrs["frame_index_fingerprint"]
