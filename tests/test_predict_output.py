"""`g2rl predict`'s output side (issue 12, items 7-9): checked before any work, rescued when it
fails at the end, overlay failures are output errors that keep the AU rows, and an unreadable
input folder is reported by name while the other inputs are processed.

Full and read-only disks are real: small tmpfs mounts (the tests run as root; they skip, saying
why, where mounting is not permitted). Root bypasses file modes, so "permission denied" cannot be
produced for real here: those cases raise the OSError (EACCES) from the listing function instead.
The failure of the final CSV write after the checks passed (a disk that fills during the run) is
also raised by a patched writer, since a real disk cannot be made to fill at that exact moment.
"""

import errno
import subprocess

import numpy as np
import pandas as pd
import pytest
from test_predict_cli import AUS, COLUMNS, _astronaut_frames
from test_predict_model import make_checkpoint

from g2rl.cli import main as g2rl_main
from g2rl.errors import G2RLError
from g2rl.media import VideoWriter, write_image
from g2rl.predict.output import check_csv_target, estimate_csv_bytes
from g2rl.predict.inputs import plan_units


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict_out")
    make_checkpoint(root / "model.pt")
    with VideoWriter(root / "face.avi", 10, (320, 240)) as w:
        for f in _astronaut_frames(6):
            w.write(f)
    return {"ckpt": root / "model.pt", "video": root / "face.avi"}


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size, read_only=False) -> a fresh tmpfs folder, unmounted after the test."""
    mounted = []

    def mount(size: str, read_only: bool = False):
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder):
    """Write into ``folder`` until its file system is full."""
    with open(folder / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def _run(*args):
    return g2rl_main(["predict", "--no-progress", "--amp", "off", *map(str, args)])


def test_missing_out_folder_is_refused_before_anything(data, tmp_path, capsys):
    bad_ckpt = tmp_path / "garbage.pt"
    bad_ckpt.write_text("not a checkpoint")
    out = tmp_path / "no" / "such" / "aus.csv"
    assert _run("--checkpoint", bad_ckpt, data["video"], "--out", out) == 2
    err = capsys.readouterr().err.strip()
    # the output is checked first: the message is about the folder, not the (also bad) checkpoint
    assert err == f"g2rl predict: error: {out}: the folder {out.parent} does not exist (create it first)"
    assert not (tmp_path / "no").exists()


def test_read_only_out_folder(data, tmpfs, capsys):
    ro = tmpfs("1m", read_only=True)
    out = ro / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"g2rl predict: error: {out}: cannot write in {ro} (Read-only file system)"]


def test_full_out_folder(data, tmpfs, capsys):
    full = tmpfs("256k")
    _fill(full)
    out = full / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out) == 2
    assert capsys.readouterr().err.strip() == (f"g2rl predict: error: {out}: cannot write in {full} "
                                               f"(No space left on device)")
    assert sorted(p.name for p in full.iterdir()) == ["filler"]  # the probe left nothing behind


def test_too_little_room_for_the_csv(tmpfs):
    small = tmpfs("256k")
    with pytest.raises(G2RLError, match=r"aus.csv: .* has 0\.3 MB free, the CSV needs about 10\.0 MB"):
        check_csv_target(small / "aus.csv", 10_000_000)


def test_csv_size_estimate(data, tmp_path):
    photos = tmp_path / "p"
    photos.mkdir()
    for name in ("a.png", "bb.png"):
        write_image(photos / name, np.zeros((8, 8, 3), np.uint8))
    units, _ = plan_units([data["video"], photos])
    # header 200 + video: 6 rows x (path + 50 keys + 100 face box and pose + 9 x 3 AUs) + photos: 2 rows x
    # (longest path + 177)
    want = 200 + 6 * (len(str(data["video"])) + 177) + 2 * (len(str(photos / "bb.png")) + 177)
    assert estimate_csv_bytes(units, 3, False, None) == want
    assert estimate_csv_bytes(units, 3, True, 4) == 200 + 4 * (len(str(data["video"])) + 177 + 1360) + \
        2 * (len(str(photos / "bb.png")) + 177 + 1360)


def test_csv_write_failing_at_the_end_keeps_the_rows(data, tmp_path, monkeypatch, capsys):
    """The checks pass, the run computes, then writing --out fails (ENOSPC): the rows are saved
    in the temporary folder and the one-line error names both paths."""
    import tempfile

    import g2rl.predict.pipeline as pipeline

    real = pipeline.write_au_csv
    out = tmp_path / "aus.csv"

    def failing(table, path):
        if path == out:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(table, path)

    rescue_dir = tmp_path / "tmp"
    rescue_dir.mkdir()
    monkeypatch.setattr(pipeline, "write_au_csv", failing)
    monkeypatch.setattr(tempfile, "tempdir", str(rescue_dir))
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out) == 2
    err = capsys.readouterr().err.strip()
    (saved,) = list(rescue_dir.iterdir())
    assert err == (f"g2rl predict: error: {out}: cannot write the CSV (No space left on device); "
                   f"the 6 computed rows were saved to {saved}")
    df = pd.read_csv(saved)
    assert list(df.columns) == COLUMNS and len(df) == 6 and df[[f"{a}_r" for a in AUS]].notna().all().all()
    assert not out.exists()


def test_full_disk_while_writing_overlays_keeps_every_row(data, tmp_path, tmpfs, capsys):
    """--heatmaps on a tmpfs that fills after a few PNGs: an output error naming the PNG and the
    reason, exit 1, and the CSV still holds all 6 frames with their AU values."""
    hm = tmpfs("24k")
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out, "--heatmaps", hm) == 1
    err = capsys.readouterr().err
    assert "output error: " in err and "No space left on device" in err and "could not be read" not in err
    df = pd.read_csv(out)
    assert len(df) == 6 and (df["success"] == 1).all() and df[[f"{a}_r" for a in AUS]].notna().all().all()
    written = list((hm / "face").glob("*.png"))
    assert len(written) < 6  # the disk did fill part-way
    assert not [p for p in (hm / "face").iterdir() if p.name.startswith(".")]  # no temporary debris


def test_unreadable_input_folder_is_named_and_the_rest_processed(data, tmp_path, monkeypatch, capsys):
    import g2rl.predict.inputs as inputs

    locked = tmp_path / "locked"
    locked.mkdir()
    write_image(locked / "1.png", np.zeros((8, 8, 3), np.uint8))
    real = inputs.folder_images

    def listing(folder):
        if folder == locked:  # what a folder without read permission gives a non-root user
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(folder)

    monkeypatch.setattr(inputs, "folder_images", listing)
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], locked, data["video"], "--out", out) == 1
    err = capsys.readouterr().err
    assert f"{locked}: cannot list the folder (Permission denied)" in err
    assert len(pd.read_csv(out)) == 6  # the video was still predicted
