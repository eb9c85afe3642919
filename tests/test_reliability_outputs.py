"""Issue 29 (round 3), items 2 and 14: output paths that are not regular files, and Ctrl-C.

2. An output path that exists and is not a regular file (a device node, a FIFO, a socket, a folder)
   is refused by the shared output check (g2rl/paths.py) for every command, before any work: the
   atomic rename would replace a device node by a regular file.
14. SIGINT gives one line and exit 130 for every command (g2rl/cli.py), and a training interrupted
   mid-epoch resumes from its last finished epoch.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from g2rl.cli import main as g2rl_main
from g2rl.paths import refuse_output_over_input
from g2rl.errors import G2RLError
from layouts import write_disfa
from test_preprocess_cache import _build, tiny, tiny_caches  # noqa: F401  (fixtures reused from the cache tests)
from test_reliability_disk import slow_heatmap_build

FOLDS = '{"folds": {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}}'


def one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("g2rl ")]
    assert "Traceback" not in err, err[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"g2rl {command}: error: "), err[-2000:]
    return lines[0]


def _char_device(path: Path) -> Path:
    """A character device node with /dev/null's numbers at ``path`` (needs root); else a symbolic link
    to /dev/null itself, which the check follows (the device must survive either way)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        path.symlink_to("/dev/null")
    return path


def _special(kind: str, path: Path):
    """Make ``path`` a ``kind`` (chardev, fifo, socket, folder); return (what the message says, a keeper)."""
    keep = None
    if kind == "chardev":
        _char_device(path)
        return "a character device", keep
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO (named pipe)", keep
    if kind == "socket":
        keep = socket.socket(socket.AF_UNIX)
        keep.bind(str(path))
        return "a socket", keep
    path.mkdir()
    return "a folder", keep


def _still(kind: str, path: Path) -> bool:
    mode = os.stat(path).st_mode
    return {"chardev": stat.S_ISCHR, "fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "folder": stat.S_ISDIR}[kind](mode)


KINDS = ["chardev", "fifo", "socket", "folder"]


@pytest.mark.parametrize("kind", KINDS)
def test_output_that_is_not_a_regular_file_is_refused_by_every_command(tmp_path, capsys, kind):
    out = tmp_path / "out.csv"
    what, keep = _special(kind, out)
    root = write_disfa(tmp_path / "DISFA", n_frames=4)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"never read: the refusal comes first")
    preds = tmp_path / "p.csv"
    preds.write_text("subject,session,frame,split,AU06_pred,AU06_true\nS1,T1,1,1,1.0,1\n")
    try:
        for argv, command in [
            (["predict", "--checkpoint", str(ckpt), str(tmp_path), "--out", str(out)], "predict"),
            (["index", "--dataset", "disfa", "--root", str(root), "--out", str(out), "--dataset-settings", FOLDS],
             "index"),
            (["evaluate", str(preds), "--out", str(out)], "evaluate"),
            (["landmarks", str(ckpt), "--out", str(out)], "landmarks"),
            (["cache", "heatmaps", "--crops", str(ckpt), "--sigma", "2", "--out", str(out)], "cache"),
            (["weights", "--backbone", "resnet18", "--pretrained", str(ckpt), "--out", str(out)], "weights"),
            (["demo-data", "--out", str(tmp_path / "demo"), "--contact-sheet", str(out)], "demo-data"),
        ]:
            assert g2rl_main(argv) == 2, command
            line = one_line(capsys, command)
            option = "--contact-sheet" if command == "demo-data" else "--out"
            assert line.startswith(f"g2rl {command}: error: {out}: {option} is {what}, not a regular file; "), line
            assert line.endswith("which would replace it (nothing was done; choose a file path)"), line
            assert _still(kind, out), command
        assert not (tmp_path / "demo").exists()  # demo-data refused before generating anything
    finally:
        if keep is not None:
            keep.close()


@pytest.mark.parametrize("kind", ["chardev", "fifo"])
def test_train_refuses_a_special_file_among_its_outputs_but_not_as_its_log(tmp_path, capsys, kind):
    run = tmp_path / "run"
    run.mkdir()
    what, _ = _special(kind, run / "predictions.csv")
    crops = tmp_path / "crops.h5"
    crops.write_bytes(b"x")
    assert g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(crops), "--test-split", "1", "--out", str(run),
                      "--device", "cpu"]) == 2
    assert f"--out predictions.csv is {what}, not a regular file" in one_line(capsys, "train")
    assert _still(kind, run / "predictions.csv")
    # a log is appended to, not replaced: /dev/null (or a FIFO) is a fine --log; the run goes on to its inputs
    (run / "predictions.csv").unlink()
    log = _char_device(tmp_path / "null") if kind == "chardev" else tmp_path / "log.fifo"
    if kind == "fifo":
        os.mkfifo(log)
    rc = g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(crops), "--test-split", "1", "--out", str(run),
                    "--device", "cpu", "--log", str(log)])
    assert rc == 2 and "cannot open as HDF5" in one_line(capsys, "train")  # got past the output check


def test_dev_null_itself_survives(capsys):
    """--out /dev/null (as root the rename would replace the machine's /dev/null)."""
    with pytest.raises(G2RLError, match=r"^/dev/null: --out is a character device, not a regular file"):
        refuse_output_over_input("predict", {"--out": "/dev/null"}, {})
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_to_a_device_is_refused_and_a_dangling_link_is_not(tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/null")
    with pytest.raises(G2RLError, match="is a character device"):
        refuse_output_over_input("evaluate", {"--out": link}, {})
    dangling = tmp_path / "new.csv"
    dangling.symlink_to(tmp_path / "absent" / "x.csv")
    refuse_output_over_input("evaluate", {"--out": dangling, "--other": None}, {})  # created later: allowed
    regular = tmp_path / "old.csv"
    regular.write_text("replaced, as before\n")
    refuse_output_over_input("evaluate", {"--out": regular}, {})


# -- 14. Ctrl-C: one line, exit 130, for every command ------------------------------------------------

def _interrupt(code: str, marker: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a child (default SIGINT disposition, its own process group, as Ctrl-C at a terminal
    reaches a job), wait for the line ``marker`` on its stdout, send SIGINT; return its status and stderr."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if line.strip() == marker:
                break
        else:
            pytest.fail(f"the child ended before {marker!r}: {proc.stderr.read()[-3000:]}")
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err)


def _last_g2rl_line(err: str) -> str:
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    return [ln for ln in err.splitlines() if ln.startswith("g2rl ")][-1]


def test_sigint_during_cache_heatmaps_is_one_line_and_130(tiny, tmp_path):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    out = tmp_path / "heat" / "heatmaps.h5"
    code = slow_heatmap_build(crops, out)
    r = _interrupt(code, "rendering", tmp_path)
    assert r.returncode == 130, r.stderr[-3000:]
    assert _last_g2rl_line(r.stderr) == f"g2rl cache: interrupted; {out} was not written"
    assert list(out.parent.iterdir()) == []  # no temporary left either


TRAIN = ["--test-split", "2", "--method", "baseline", "--backbone", "resnet18", "--epochs", "2", "--batch-size", "2",
         "--lr-step-epochs", "1", "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu",
         "--allow-random-init", "--pretrained", "none", "--in-memory", "off"]


def test_sigint_mid_epoch_in_train_is_one_line_and_the_rerun_resumes(tiny_caches, tmp_path, caplog):  # noqa: F811
    import json
    import logging

    _, crops, heat = tiny_caches
    out = tmp_path / "run"
    argv = ["train", "--crops", str(crops), "--heatmaps", str(heat), "--out", str(out), *TRAIN]
    # The child trains for real; after epoch 1's last.pt is saved, its second step of epoch 2 says so
    # and sleeps: the signal arrives mid-epoch, after one unsaved optimiser step of epoch 2.
    code = f"""
import sys, time
import g2rl.training.loop as loop
from g2rl.model.g2rl_net import G2RLModel
saved, steps = [], []
real_save, real_forward = loop.save_resume_checkpoint, G2RLModel.forward
def save(*a, **k):
    real_save(*a, **k)
    saved.append(1)
def forward(self, *a, **k):
    if self.training and saved:
        steps.append(1)
        if len(steps) == 2:
            print("mid-epoch", flush=True)
            time.sleep(60)
    return real_forward(self, *a, **k)
loop.save_resume_checkpoint, G2RLModel.forward = save, forward
from g2rl.cli import main
sys.exit(main({argv!r}))
"""
    r = _interrupt(code, "mid-epoch", tmp_path)
    assert r.returncode == 130, r.stderr[-3000:]
    assert _last_g2rl_line(r.stderr) == (f"g2rl train: interrupted; {out / 'last.pt'} holds the last finished epoch: "
                                         "run the same command again to resume from it")
    assert (out / "last.pt").is_file() and not (out / "model.pt").exists()
    with caplog.at_level(logging.INFO):
        assert g2rl_main(argv) == 0
    assert "after epoch 0" in caplog.text  # resumed from epoch 1's checkpoint, not started over
    provenance = json.loads((out / "predictions.provenance.json").read_text())
    assert provenance["run"]["resumed_from_epoch"] == 1
    assert list(__import__("pandas").read_csv(out / "train_log.csv")["epoch"]) == [1, 2]


def test_sigint_before_the_first_epoch_says_there_is_nothing_to_resume(tmp_path):
    import argparse

    from g2rl.training.cli import interrupted_note

    note = interrupted_note(argparse.Namespace(out=str(tmp_path)))
    assert note == f"no epoch had finished, nothing to resume ({tmp_path / 'model.pt'} was not written)"
