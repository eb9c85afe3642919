"""Issue 12 items 6, 12, 13: one line and exit 2 for bad input and failing disks, outputs never over inputs.

Read-only and full output locations are real tmpfs mounts (tests/faults.py); EACCES cannot be
produced for root by permission bits, so it is raised where the output is opened.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from g2rl.cli import main as g2rl_main
from g2rl.errors import describe_error
from faults import fill, tmpfs
from layouts import write_disfa, write_noise_video
from test_preprocess_cache import _build, tiny  # noqa: F401  (fixture reused from the cache tests)

FOLDS = '{"folds": {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}}'


def one_line_error(capsys, command: str) -> str:
    """The stderr of a failed command: exactly one `g2rl <command>: error: ...` line, no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("g2rl ")]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith(f"g2rl {command}: error: "), err
    return lines[0]


# -- the mechanism ------------------------------------------------------------------------------

def test_describe_error_names_path_and_reason():
    assert describe_error(PermissionError(errno.EACCES, "Permission denied", "/x/y.csv")) == "/x/y.csv: permission denied"
    # h5py puts a multi-line driver report in strerror: the errno's own text is used instead
    assert describe_error(OSError(errno.ENOSPC, "Driver write request failed (...\n...)", "c.h5")) == \
        "c.h5: no space left on device"
    assert describe_error(OSError("no errno")) == "no errno"


def test_verbose_keeps_the_traceback(tmp_path, capsys):
    rc = g2rl_main(["-v", "cache", "crops", "--index", str(tmp_path / "nope.csv"), "--landmarks-dir", str(tmp_path),
                    "--out", str(tmp_path / "c.h5"), "--aus", "AU06"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" in err and f"{tmp_path / 'nope.csv'}: no such file or directory" in err


# -- item 12: the cases of the issue -----------------------------------------------------------

def test_index_missing_file_is_one_line(tmp_path, capsys):
    rc = g2rl_main(["cache", "crops", "--index", str(tmp_path / "nope.csv"), "--landmarks-dir", str(tmp_path),
                    "--out", str(tmp_path / "c.h5"), "--aus", "AU06"])
    assert rc == 2
    assert one_line_error(capsys, "cache").endswith(f"{tmp_path / 'nope.csv'}: no such file or directory")


@pytest.mark.parametrize("content, reason", [
    (b"1,0\n2,1,7\n3,0\n", "Expected 2 fields in line 2, saw 3"),
    (b"1,0,4\n2,1,4\n", "line 1 has 3 fields"),
    (bytes(range(256)) * 4, "not a 'frame,intensity' text file"),
])
def test_bad_label_file_is_one_line(tmp_path, capsys, content, reason):
    root = write_disfa(tmp_path / "DISFA")
    bad = root / "ActionUnit_Labels/SN002/SN002_au6.txt"
    bad.write_bytes(content)
    rc = g2rl_main(["index", "--dataset", "disfa", "--root", str(root), "--out", str(tmp_path / "i.csv"), "--dataset-settings", FOLDS])
    assert rc == 2
    line = one_line_error(capsys, "index")
    assert f"{bad}: " in line and reason in line


def caches(tiny):  # noqa: F811
    """(crops.h5, heatmaps.h5) of the tiny cache-test dataset."""
    from g2rl.preprocess.cache import build_heatmap_cache

    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    build_heatmap_cache(crops, 2.0, root / "heatmaps.h5")
    return crops, root / "heatmaps.h5"


def test_unknown_device_is_one_line(tmp_path, capsys):
    rc = g2rl_main(["train", "--crops", "c.h5", "--heatmaps", "h.h5", "--test-split", "1",
                    "--out", str(tmp_path / "run"), "--device", "foo"])
    assert rc == 2
    assert "device 'foo': not a device" in one_line_error(capsys, "train")


def test_read_only_output_is_one_line(tmp_path, capsys):
    root = write_disfa(tmp_path / "DISFA")
    video = write_noise_video(tmp_path / "v.avi", 3, 10)
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        assert g2rl_main(["index", "--dataset", "disfa", "--root", str(root), "--out", str(ro / "i.csv"),
                          "--dataset-settings", FOLDS]) == 2
        assert one_line_error(capsys, "index").endswith(f"{ro / 'i.csv'}: read-only file system")
        assert g2rl_main(["landmarks", str(video), "--out", str(ro / "lm.csv"), "--no-progress"]) == 2
        assert one_line_error(capsys, "landmarks").endswith(f"{ro / 'lm.csv'}: read-only file system")
        assert g2rl_main(["train", "--crops", "x.h5", "--heatmaps", "y.h5", "--test-split", "1",
                          "--out", str(ro / "run"), "--device", "cpu", "--log", str(ro / "run" / "log.txt")]) == 2
        assert one_line_error(capsys, "train").endswith(f"{ro / 'run'}: read-only file system")


def test_full_output_is_one_line(tiny, tmp_path, capsys):  # noqa: F811
    crops, heat = caches(tiny)
    video = write_noise_video(tmp_path / "v.avi", 3, 10)
    disfa = write_disfa(tmp_path / "DISFA")
    with tmpfs(tmp_path / "full", size="64k") as full:
        fill(full)
        assert g2rl_main(["index", "--dataset", "disfa", "--root", str(disfa), "--out", str(full / "i.csv"),
                          "--dataset-settings", FOLDS]) == 2
        assert one_line_error(capsys, "index").endswith(f"{full / 'i.csv'}: no space left on device")
        assert g2rl_main(["landmarks", str(video), "--out", str(full / "lm.csv"), "--no-progress"]) == 2
        assert one_line_error(capsys, "landmarks").endswith(f"{full / 'lm.csv'}: no space left on device")
        rc = g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "1",
                        "--out", str(full / "run"), "--method", "baseline", "--backbone", "resnet18", "--epochs", "1",
                        "--batch-size", "4", "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu",
                        "--allow-random-init", "--pretrained", "none"])
        assert rc == 2
        assert "no space left on device" in one_line_error(capsys, "train")
        assert not [p for p in (full / "run").iterdir() if p.name.startswith(".")]  # no temporaries left


def test_permission_denied_output_is_one_line(tmp_path, capsys, monkeypatch):
    # root ignores permission bits, so the refusal comes from the open() the writers share
    import g2rl.atomic

    real_replace = os.replace

    def denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(src))

    root = write_disfa(tmp_path / "DISFA")
    monkeypatch.setattr(g2rl.atomic.os, "replace", denied)
    out = tmp_path / "locked" / "i.csv"
    assert g2rl_main(["index", "--dataset", "disfa", "--root", str(root), "--out", str(out), "--dataset-settings", FOLDS]) == 2
    # the message names the output, not its hidden temporary
    assert one_line_error(capsys, "index").endswith(f"{out}: permission denied")
    monkeypatch.setattr(g2rl.atomic.os, "replace", real_replace)
    assert not [p for p in out.parent.iterdir()]


# -- item 6: an output that resolves to an input is refused before any work --------------------

@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_output_over_input_is_refused(tmp_path, capsys, how):
    video = write_noise_video(tmp_path / "v.avi", 3, 10)
    original = video.read_bytes()
    out = {"same": video, "symlink": tmp_path / "link.avi", "hardlink": tmp_path / "hard.avi"}[how]
    if how == "symlink":
        out.symlink_to(video)
    elif how == "hardlink":
        os.link(video, out)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"not loaded: the refusal comes first")
    for argv, command in [
        (["landmarks", str(video), "--out", str(out)], "landmarks"),
        (["predict", "--checkpoint", str(ckpt), str(video), "--out", str(out)], "predict"),
    ]:
        assert g2rl_main(argv) == 2
        assert "refusing to overwrite it" in one_line_error(capsys, command)
        assert video.read_bytes() == original
    # a folder input covers the files in it
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(video, frames / "a.avi")
    assert g2rl_main(["predict", "--checkpoint", str(ckpt), str(frames), "--out", str(frames / "a.avi")]) == 2
    assert "refusing" in one_line_error(capsys, "predict")
    # --out = the checkpoint
    assert g2rl_main(["predict", "--checkpoint", str(ckpt), str(video), "--out", str(ckpt)]) == 2
    assert "--checkpoint" in one_line_error(capsys, "predict") and ckpt.read_bytes().startswith(b"not loaded")


def test_evaluate_and_cache_and_train_outputs_over_inputs_are_refused(tiny, tmp_path, capsys):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    before = crops.read_bytes()
    assert g2rl_main(["cache", "heatmaps", "--crops", str(crops), "--sigma", "2", "--out", str(crops)]) == 2
    assert "--out is an input of `g2rl cache heatmaps` (--crops)" in one_line_error(capsys, "cache")
    assert crops.read_bytes() == before
    preds = tmp_path / "p.csv"
    preds.write_text("subject,session,frame,split,AU06_pred,AU06_true\nS1,T1,1,1,1.0,1\n")
    assert g2rl_main(["evaluate", str(preds), "--out", str(preds)]) == 2
    assert "refusing" in one_line_error(capsys, "evaluate")
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").symlink_to(crops)
    assert g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(crops), "--test-split", "1",
                      "--out", str(run), "--device", "cpu"]) == 2
    assert "--out model.pt resolves to" in one_line_error(capsys, "train")
    idx = tmp_path / "index.csv"
    index.to_csv(idx, index=False)
    assert g2rl_main(["cache", "crops", "--index", str(idx), "--landmarks-dir", str(tmp_path),
                      "--out", str(idx), "--aus", "AU06"]) == 2
    assert "refusing" in one_line_error(capsys, "cache")


def test_report_output_over_its_input_is_refused(tmp_path, capsys):
    paper = tmp_path / "paper_table1.csv"
    paper.write_text("kept\n")
    metrics = tmp_path / "m.json"
    metrics.write_text("{}")
    rc = g2rl_main(["report", "table1", "--dataset", "disfa", "--baseline", str(metrics), "--g2rl", str(metrics),
                    "--paper", str(paper), "--data-label", "demo", "--out-prefix", str(tmp_path / "paper_table1")])
    assert rc == 2 and "(.csv) is an input of `g2rl report table1` (--paper)" in one_line_error(capsys, "report")
    assert paper.read_text() == "kept\n"


# -- item 13: the missing-root hint works with Snakemake ----------------------------------------

def test_missing_root_suggests_the_readme_form(tmp_path):
    from g2rl.config import load_config
    from g2rl.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(overrides={"datasets": ["disfa"], "demo": {"enabled": False}, "disfa": {"root": str(tmp_path / "x")}})
    hint = """--config 'disfa={"root": "/data/DISFA"}'"""
    assert hint in str(info.value) and "disfa.root=" not in str(info.value)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert hint in readme
