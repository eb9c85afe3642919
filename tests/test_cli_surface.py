"""The command line as a user meets it: `g2rl --version`, `g2rl train -h`, and what `g2rl predict` imports."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.cbook
from test_predict_model import make_checkpoint

import g2rl
from g2rl.model.backbone import RESNET_CHANNELS

REPO = Path(__file__).resolve().parent.parent


def _g2rl(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "g2rl", *args], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


def test_version_is_the_package_version():
    r = _g2rl("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"g2rl {g2rl.__version__}"


def test_every_train_option_has_help_and_shows_its_default():
    from g2rl.cli import command_parser

    parser = command_parser("train")
    text = "".join(parser.format_help().split())  # argparse wraps lines (even inside words): compare unspaced
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.option_strings} has no help"
        if action.required or action.default is None or action.default is False:
            assert "(default:" not in parser._get_formatter()._get_help_string(action)
        elif "default" not in action.help:
            default = " ".join(map(str, action.default)) if isinstance(action.default, tuple) else action.default
            shown = f"{action.help} (default: {default})"
            assert "".join(shown.split()) in text, shown
    backbone = next(a for a in parser._actions if "--backbone" in a.option_strings)
    assert list(backbone.choices) == sorted(RESNET_CHANNELS)
    assert "{resnet101,resnet18,resnet34,resnet50}" in text
    # tuple defaults read as a user types them, and still parse to the settings' tuples
    assert "(default:256256256)" in text and "(default:5)" in text
    args = parser.parse_args(["--crops", "c", "--heatmaps", "h", "--test-split", "1", "--out", "o"])
    assert args.deconv_channels == (256, 256, 256) and args.lr_step_epochs == (5,)
    assert parser.parse_args(["--crops", "c", "--heatmaps", "h", "--test-split", "1", "--out", "o",
                              "--deconv-channels", "256", "256", "256"]).deconv_channels == (256, 256, 256)


def test_predict_does_not_import_torch_geometric(tmp_path):
    """torch_geometric (0.85 s and a FutureWarning) belongs to G2RL training's geometry module only."""
    make_checkpoint(tmp_path / "model.pt")
    photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    script = (
        "import sys\n"
        "from g2rl.cli import main\n"
        f"rc = main(['predict', '--no-progress', '--checkpoint', {str(tmp_path / 'model.pt')!r}, {str(photo)!r},"
        f" '--out', {str(tmp_path / 'aus.csv')!r}])\n"
        "print('rc', rc, 'predict', 'torch_geometric' in sys.modules)\n"
        "import g2rl.model.g2rl_net\n"  # the control: building G2RL does import it, so the check can see it
        "print('training', 'torch_geometric' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rc 0 predict False" in r.stdout and "training True" in r.stdout, r.stdout + r.stderr[-2000:]
    assert (tmp_path / "aus.csv").stat().st_size > 0


def test_train_on_cuda_without_cuda_fails_with_one_line(monkeypatch, capsys, tmp_path):
    """What a job of a `train.gpus: 1` workflow (`--device cuda`) does where torch cannot use CUDA: one line
    naming the cause and the fix, before any cache is read (these cache paths do not even exist)."""
    import torch

    from g2rl.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc = main(["train", "--crops", str(tmp_path / "crops.h5"), "--heatmaps", str(tmp_path / "hm.h5"),
               "--test-split", "1", "--out", str(tmp_path / "run"), "--device", "cuda"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "'cuda' requested" in err[0] and "train.gpus: 0" in err[0] and "crops.h5" not in err[0]
    assert not (tmp_path / "run").exists()
