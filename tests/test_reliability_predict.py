"""Issue 20, round 2, for `g2rl predict` and the checkpoint readers: path escape through overlay
names, untrusted and damaged checkpoints (pickled code, empty, NaN weights, out-of-range meta),
dangling links and link loops among the inputs, file names that are not UTF-8, and Ctrl-C.

Each case is one line and the documented exit status (docs/RELIABILITY.md, "Round 2 (issue 20):
predict and checkpoints"). Cases that crashed the interpreter before (SIGSEGV in OpenCV) or need a
signal run the CLI in a child process.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from test_predict_model import AUS, make_checkpoint

from g2rl.cli import main as g2rl_main
from g2rl.errors import G2RLError
from g2rl.media import VideoWriter, write_image

REPO = Path(__file__).resolve().parents[1]


def _frames(n):
    """320x240 windows on the astronaut photo around her face, drifting over time."""
    img = skimage.data.astronaut()
    return [np.ascontiguousarray(img[10 + (i % 20):250 + (i % 20), 60 + (i % 30):380 + (i % 30)]) for i in range(n)]


def _video(path, n):
    with VideoWriter(path, 10, (320, 240)) as w:
        for f in _frames(n):
            w.write(f)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel-predict")
    make_checkpoint(root / "model.pt")
    return {"root": root, "ckpt": root / "model.pt", "video": _video(root / "face.avi", 3),
            "photo": _frames(1)[0]}


def _run(*args):
    return g2rl_main(["predict", "--no-progress", "--amp", "off", *map(str, args)])


def _error_lines(err: str) -> list[str]:
    """What the user sees besides log records: the command's own lines (no traceback)."""
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.strip()]


def _edited_checkpoint(src, dst, meta=None, state=None):
    """A copy of checkpoint ``src`` with meta keys replaced and a function applied to its weights."""
    raw = torch.load(src, weights_only=True)
    raw["meta"].update(meta or {})
    if state is not None:
        state(raw["state_dict"])
    torch.save(raw, dst)
    return dst


class _Payload:
    """Unpickling this would run a shell command: a hostile "checkpoint"."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# -- checkpoints: one reader for predict, report examples, provenance, resume ----------------------

@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    """What `g2rl report examples` reads besides the model: a crops cache and predictions."""
    from test_reports_examples import AUS as EX_AUS
    from test_reports_examples import write_crops, write_model

    root = tmp_path_factory.mktemp("rel-examples")
    rng = np.random.default_rng(0)
    keys = pd.DataFrame({"subject": "SN001", "session": "LeftCamera", "frame": np.arange(1, 7), "split": "1"})
    write_crops(root / "crops.h5", keys, rng)
    pred = keys.copy()
    for a in EX_AUS:
        pred[f"{a}_true"] = rng.integers(0, 5, len(pred)).astype(float)
        pred[f"{a}_pred"] = rng.uniform(0, 5, len(pred))
    pred.to_csv(root / "predictions.csv", index=False)
    write_model(root / "model.pt")
    return root


def _examples(fold, model):
    return g2rl_main(["report", "examples", "--model", str(model), "--predictions", str(fold / "predictions.csv"),
                      "--crops", str(fold / "crops.h5"), "--heatmaps-out", str(fold / "fig" / "h.png"),
                      "--curves-out", str(fold / "fig" / "c.png"), "--data-label", "demo"])


def _hostile_files(folder: Path) -> dict[str, Path]:
    import pickle

    marker = folder / "PWNED"
    files = {"code": folder / "code.pt", "pickle": folder / "plain.pkl", "text": folder / "notes.txt",
             "empty": folder / "empty.pt"}
    torch.save({"meta": _Payload(marker), "state_dict": {}}, files["code"])
    files["pickle"].write_bytes(pickle.dumps({"meta": {"aus": ["AU01"]}}))
    files["text"].write_text("this is a text file\n" * 20)
    files["empty"].write_bytes(b"")
    return files


REASONS = {
    "code": "not a g2rl checkpoint: it holds Python objects or code (it refers to posix.system), which a g2rl "
            "checkpoint never does; it was not loaded",
    "pickle": "not a g2rl checkpoint: it holds Python objects or code, which a g2rl checkpoint never does; it was "
              "not loaded",
    "text": "not a PyTorch file, or a truncated one (not a g2rl checkpoint)",
    "empty": "empty file (not a g2rl checkpoint)",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_untrusted_checkpoint_is_one_line_in_predict(data, tmp_path, capsys, kind):
    path = _hostile_files(tmp_path)[kind]
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", path, data["video"], "--out", out) == 2
    assert _error_lines(capsys.readouterr().err) == [f"g2rl predict: error: {path}: {REASONS[kind]}"]
    assert not out.exists() and not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_untrusted_model_is_one_line_in_report_examples(fold, tmp_path, capsys, kind):
    path = _hostile_files(tmp_path)[kind]
    assert _examples(fold, path) == 2
    assert _error_lines(capsys.readouterr().err) == [f"g2rl report: error: {path}: {REASONS[kind]}"]
    assert not (tmp_path / "PWNED").exists()


def test_resume_and_provenance_readers_share_the_message(tmp_path):
    from g2rl.provenance import read_provenance
    from g2rl.training.checkpoint import load_resume_checkpoint

    files = _hostile_files(tmp_path)
    with pytest.raises(G2RLError) as err:
        load_resume_checkpoint(files["code"])
    assert str(err.value) == (f"{files['code']}: not a g2rl resume checkpoint: it holds Python objects or code (it "
                              "refers to posix.system), which a g2rl checkpoint never does; it was not loaded; "
                              "delete it to start over")
    with pytest.raises(G2RLError, match="empty file"):
        read_provenance(files["empty"])
    assert not (tmp_path / "PWNED").exists()


def test_nan_weights_are_refused(data, tmp_path, capsys):
    """Before: success=1 rows with empty AU cells (the contract says empty = no face)."""
    path = _edited_checkpoint(data["ckpt"], tmp_path / "nan.pt", state=lambda s: s["final.weight"].fill_(float("nan")))
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", path, data["video"], "--out", out) == 2
    assert _error_lines(capsys.readouterr().err) == [
        f"g2rl predict: error: {path}: weights hold NaN or inf values (first in 'final.weight'; a diverged training "
        "or a damaged file); refused"]
    assert not out.exists()


def test_channel_au_out_of_range_is_refused_by_predict_and_examples(data, fold, tmp_path, capsys):
    bad = {"channel_au": [0, 1, 7]}  # 3 channels (fits the weights), one pointing past the 3 AUs
    path = _edited_checkpoint(data["ckpt"], tmp_path / "chan.pt", meta=bad)
    assert _run("--checkpoint", path, data["video"], "--out", tmp_path / "aus.csv") == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"g2rl predict: error: {path}: checkpoint meta 'channel_au' must list 1 to 512 AU "
                           "indices from 0 to 2")
    ex = _edited_checkpoint(fold / "model.pt", tmp_path / "chan-ex.pt", meta=bad)
    assert _examples(fold, ex) == 2  # before: figures drawn without AU 2's channel, exit 0
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"g2rl report: error: {ex}: checkpoint meta 'channel_au'")


@pytest.mark.parametrize("change, words", [
    ({"crop_size": 4096, "heatmap_size": 1024}, "'crop_size' must be an integer from 32 to 512"),
    ({"deconv_channels": [4096, 32, 32]}, "'deconv_channels' must list 2 or 3 widths from 1 to 1024"),
    ({"aus": [f"AU{i:03d}" for i in range(200)]}, "'aus' lists 200 names (at most 64"),
    ({"channel_au": [0, 1, 2] * 400}, "'channel_au' must list 1 to 512"),
    ({"sigma": 1e9}, "'sigma' must be a positive number up to the heatmap size 16"),
    ({"crop_size": True}, "'crop_size' must be an integer"),
])
def test_meta_fields_that_size_memory_are_bounded(data, tmp_path, change, words):
    """Before: ``crop_size: 4096`` was accepted (2.5 GB RSS per photo)."""
    from g2rl.training.checkpoint import load_inference_model

    path = _edited_checkpoint(data["ckpt"], tmp_path / "big.pt", meta=change)
    with pytest.raises(G2RLError) as err:
        load_inference_model(path)
    assert str(err.value).startswith(f"{path}: checkpoint meta {words}"), err.value
    assert "\n" not in str(err.value)


def test_zero_byte_checkpoint_names_the_reason(data, tmp_path, capsys):
    empty = tmp_path / "model.pt"
    empty.write_bytes(b"")
    assert _run("--checkpoint", empty, data["video"], "--out", tmp_path / "aus.csv") == 2
    assert _error_lines(capsys.readouterr().err) == [f"g2rl predict: error: {empty}: empty file (not a g2rl checkpoint)"]


# -- overlay names: never outside --heatmaps --------------------------------------------------------

def test_video_named_dots_writes_its_overlays_inside_the_folder(data, tmp_path):
    """``...avi`` has the stem ``..``: its overlays went to the parent of --heatmaps."""
    box = tmp_path / "box"
    box.mkdir()
    (box / "keep.txt").write_text("mine")
    video = tmp_path / "...avi"
    video.write_bytes(data["video"].read_bytes())
    hm = box / "hm"
    assert _run("--checkpoint", data["ckpt"], video, "--out", tmp_path / "aus.csv", "--heatmaps", hm) == 0
    beside = {str(p.relative_to(box)) for p in box.rglob("*") if not p.is_relative_to(hm)}
    assert beside == {"keep.txt"}  # nothing written beside the overlay folder
    assert sorted(p.name for p in (hm / "__").iterdir()) == ["000000.png", "000001.png", "000002.png"]


def test_safe_names():
    from g2rl.predict.overlays import MAX_NAME_BYTES, safe_name

    assert safe_name("..") == "__" and safe_name(".") == "_" and safe_name(".hidden") == "_hidden"
    assert safe_name("a/../../x") == "a_.._.._x" and safe_name("/etc/passwd") == "_etc_passwd"
    assert safe_name("C:\\Windows\\x") == "C__Windows_x" and safe_name("a\0b") == "a_b" and safe_name("") == "_"
    assert safe_name(os.fsdecode(b"vid\xe9o")) == "vid_o" and safe_name("café 1") == "café_1"
    long = safe_name("é" * 300)
    assert len(long.encode()) <= MAX_NAME_BYTES and long == "é" * (MAX_NAME_BYTES // 2)  # never half a character
    for name in ("..", "a/../../x", "/abs", "x" * 1000, os.fsdecode(b"\xff\xfe")):
        assert "/" not in safe_name(name) and not safe_name(name).startswith(".")


def test_names_that_meet_once_made_safe_do_not_collide(tmp_path):
    from g2rl.predict.overlays import OverlayWriter

    w = OverlayWriter(tmp_path / "hm", ["AU01"], vmax=1.0)
    crop, maps, value = np.zeros((32, 32, 3), np.uint8), np.zeros((1, 8, 8), np.float32), np.zeros(1)
    unit = w.unit_dir("a?b")
    assert w.unit_dir("a*b") != unit and w.unit_dir("A?B") != unit  # case too: some file systems ignore it
    stems = ["a?b", "a*b", "a_b", "x" * 150, "x" * 150 + "y", "a_b", "F", "f"]
    paths = [w.write(unit, s, crop, maps, value) for s in stems]
    paths.append(w.write(unit, "a_b", crop, maps, value, face=1))
    assert all(p is not None for p in paths) and len(set(paths)) == len(paths)
    assert [p.name for p in paths[:3]] == ["a_b.png", "a_b-2.png", "a_b-3.png"]
    assert paths[-1].name == "a_b-face1.png"
    assert sorted(p.name for p in unit.iterdir()) == sorted(p.name for p in paths)
    assert all(p.parent == unit and unit.parent == tmp_path / "hm" for p in paths)


def test_overlay_folder_linking_outside_is_an_output_error(data, tmp_path, capsys):
    """A unit folder that is a symbolic link to elsewhere (left there by someone) is not followed."""
    outside, hm = tmp_path / "outside", tmp_path / "hm"
    outside.mkdir()
    hm.mkdir()
    (hm / "face").symlink_to(outside)
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out, "--heatmaps", hm) == 1
    assert list(outside.iterdir()) == []
    err = capsys.readouterr().err
    assert f"g2rl predict: output error: {hm / 'face' / '000000.png'}: resolves outside the --heatmaps folder" in err
    assert (pd.read_csv(out)["success"] == 1).sum() == 3  # every row still written


# -- inputs: links that lead nowhere, names that are not UTF-8 ---------------------------------------

def test_dangling_links_and_loops_are_reported_by_name(data, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "good.png", data["photo"])
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    (folder / "loop1.png").symlink_to(folder / "loop2.png")
    (folder / "loop2.png").symlink_to(folder / "loop1.png")
    (folder / "latest").symlink_to("missing-frame.jpg")  # not an image name, but its target's is
    (folder / "notes").symlink_to("missing.txt")  # neither: not an input, ignored as other files are
    given = tmp_path / "given.avi"
    given.symlink_to(tmp_path / "nowhere.avi")
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], folder, given, "--out", out) == 1
    err = capsys.readouterr().err
    assert f"  {folder / 'gone.jpg'}: dangling symbolic link (its target {folder / 'deleted.jpg'} does not exist)" in err
    for name in ("loop1.png", "loop2.png"):
        assert f"  {folder / name}: symbolic link loop (too many levels of symbolic links)" in err
    assert f"  {folder / 'latest'}: dangling symbolic link" in err and "notes" not in err
    assert f"  {given}: dangling symbolic link (its target {tmp_path / 'nowhere.avi'} does not exist)" in err
    assert "5 input(s) could not be read" in err
    df = pd.read_csv(out)
    assert df["file"].tolist() == [str(folder / "good.png")] and df["success"].tolist() == [1]


def _child(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "g2rl", "predict", "--no-progress", "--amp", "off", *args],
                          capture_output=True, env=env, timeout=300, **kw)


def test_names_that_are_not_utf8_are_reported_not_given_to_opencv(data, tmp_path):
    """Before: OpenCV got the names and crashed (SIGSEGV), or the CSV write raised UnicodeEncodeError."""
    root = os.fsencode(tmp_path)
    folder = os.path.join(root, b"photos")
    os.mkdir(folder)
    write_image(os.fsdecode(os.path.join(folder, b"good.png")), data["photo"])
    os.link(os.path.join(folder, b"good.png"), os.path.join(folder, b"caf\xe9.jpg"))
    os.link(data["video"], os.path.join(root, b"vid\xe9o.avi"))
    odd_folder = os.path.join(root, b"d\xe9j\xe0")
    os.mkdir(odd_folder)
    os.link(os.path.join(folder, b"good.png"), os.path.join(odd_folder, b"1.png"))
    out = os.path.join(root, b"aus.csv")
    r = _child(["--checkpoint", data["ckpt"], folder, os.path.join(root, b"vid\xe9o.avi"), odd_folder, data["video"],
                "--out", out])
    err = r.stderr.decode("utf-8")  # the report itself is valid UTF-8
    assert r.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    reason = "the name is not valid UTF-8, which OpenCV cannot open (rename it)"
    for name in (b"photos/caf\xe9.jpg", b"vid\xe9o.avi", b"d\xe9j\xe0"):
        shown = os.path.join(root, name).decode("utf-8", "backslashreplace")
        assert f"  {shown}: {reason}" in err, err[-3000:]
    df = pd.read_csv(os.fsdecode(out), encoding="utf-8")
    assert df["file"].str.endswith("good.png").sum() == 1 and df["file"].str.endswith("face.avi").sum() == 3


# -- Ctrl-C --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_is_one_line_and_status_130(data, tmp_path, workers):
    video = _video(tmp_path / "long.avi", 400)
    out = tmp_path / "aus.csv"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    # The child gets the default SIGINT disposition even when this suite runs in the background
    # (nohup, `&`), where SIGINT is inherited ignored and Python would install no handler; and a
    # process group of its own, so that the signal reaches it and its workers as Ctrl-C at a
    # terminal does, and nothing else.
    proc = subprocess.Popen(
        [sys.executable, "-m", "g2rl", "predict", "--no-progress", "--amp", "off", "--plain", "--checkpoint",
         str(data["ckpt"]), str(video), "--out", str(out), "--landmark-workers", str(workers)],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        for line in proc.stderr:  # the model's log line: the run is now reading the video
            lines.append(line)
            if "device cpu" in line:
                break
        time.sleep(1.0)
        assert proc.poll() is None, "".join(lines)
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = "".join(lines) + rest
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert err.splitlines()[-1] == f"g2rl predict: interrupted; {out} was not written"
    assert not out.exists()

