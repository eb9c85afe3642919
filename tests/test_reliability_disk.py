"""Issue 12 items 10-11: cache builds on a full disk (one line, never a segfault) and no debris.

Full disks are small tmpfs mounts (tests/faults.py). Signals are sent to child processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from g2rl.atomic import atomic_path, clear_stale_temporaries, temporary_path
from g2rl.cli import main as g2rl_main
from g2rl.errors import G2RLError
from g2rl.preprocess.cache import build_heatmap_cache, crops_bytes
from g2rl.preprocess.h5write import MARGIN_BYTES
from faults import fill, tmpfs
from test_preprocess_cache import _build, tiny  # noqa: F401  (fixture reused from the cache tests)

REPO = Path(__file__).resolve().parent.parent


def crops_cli_inputs(tiny, tmp_path):  # noqa: F811
    """--index and --landmarks-dir for `g2rl cache crops` from the tiny cache-test dataset."""
    root, index, csvs = tiny
    lm_dir = tmp_path / "landmarks"
    for (subject, session), csv in csvs.items():
        (lm_dir / subject).mkdir(parents=True, exist_ok=True)
        (lm_dir / subject / f"{session}.csv").write_bytes(Path(csv).read_bytes())
    idx = tmp_path / "index.csv"
    index.to_csv(idx, index=False)
    return ["--index", str(idx), "--landmarks-dir", str(lm_dir), "--crop-size", "64", "--max-gap", "1",
            "--aus", "AU06,AU12,AU25", "--no-progress"]


def run_python(code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{Path(__file__).parent}", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_crops_bytes_is_the_layout_size():
    # 10 frames of 64 x 64: images 10*64*64*3, landmarks 10*68*2*4, 3 AUs x 2 points x 2 float32,
    # intensities 10*3*4, two int64 keys, ~4 short strings of 32 bytes
    assert crops_bytes(10, 64, 3, 2) == 10 * (64 * 64 * 3 + 2 * 544 + 48 + 12 + 16 + 128)  # aligned + frame landmarks


def test_crop_cache_refused_up_front_on_a_small_disk(tiny, tmp_path, capsys):  # noqa: F811
    args = crops_cli_inputs(tiny, tmp_path)
    with tmpfs(tmp_path / "small", size="64k") as small:  # 8 kept crops of 64x64x3 (~100 kB) + margin
        rc = g2rl_main(["cache", "crops", *args, "--out", str(small / "crops.h5")])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err
        assert f"{small / 'crops.h5'}: not enough free space: a crops cache of 8 frames of 64x64 needs about" in err
        assert list(small.iterdir()) == []  # nothing written, no temporary


def test_heatmap_cache_refused_up_front_when_uncompressed(tiny, tmp_path):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    raw = 8 * 3 * 16 * 16 * 2  # 8 kept frames x 3 AUs x 16 x 16 float16
    with tmpfs(tmp_path / "small", size="4m") as small:
        fill(small, leave=MARGIN_BYTES + raw // 2)
        with pytest.raises(G2RLError, match="not enough free space: 8 x 3 heatmaps of 16x16 needs about"):
            build_heatmap_cache(crops, 2.0, small / "h.h5", compression=None)
        assert sorted(p.name for p in small.iterdir()) == ["filler.bin"]
        (small / "filler.bin").unlink()
        fill(small, leave=MARGIN_BYTES + 4 * raw)  # enough room: the same build succeeds
        build_heatmap_cache(crops, 2.0, small / "h.h5", compression=None)
        assert (small / "h.h5").is_file()


def test_a_write_that_still_fails_is_one_line_not_a_segfault(tiny, tmp_path):  # noqa: F811
    """With the up-front check disabled the disk fills mid-write: exit 2 and one line, not h5py's rc 139."""
    args = crops_cli_inputs(tiny, tmp_path)
    with tmpfs(tmp_path / "small", size="64k") as small:
        out = small / "crops.h5"
        r = run_python(f"""
            import sys
            import g2rl.preprocess.cache as cache
            cache.check_free_space = lambda *a, **k: None   # pretend the estimate said it fits
            from g2rl.cli import main
            sys.exit(main({["cache", "crops", *args, "--out", str(out)]!r}))
        """)
        assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("g2rl ")]
        assert lines == [f"g2rl cache: error: {out}: no space left on device"], r.stderr[-2000:]
        assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr[-2000:]
        assert list(small.iterdir()) == []  # the temporary is gone


# -- 11. signals and stale temporaries ------------------------------------------------------------

def _default_signal_dispositions() -> None:
    """In the child before exec: SIGINT and SIGTERM back to their defaults (a shell started in the
    background, or nohup, passes them on ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def slow_heatmap_build(crops, out) -> str:
    """Python code of a child running `g2rl cache heatmaps` for real, made slow enough to be interrupted: it
    prints "rendering" and sleeps a minute before rendering the first sample."""
    return textwrap.dedent(f"""
        import sys, time
        import g2rl.preprocess.cache as cache
        real = cache.render_layout  # what build_heatmap_cache renders each sample with
        def slow(*a, **k):      # the build is real; only made slow enough to be interrupted
            print("rendering", flush=True)
            time.sleep(60)
            return real(*a, **k)
        cache.render_layout = slow
        from g2rl.cli import main
        sys.exit(main(["cache", "heatmaps", "--crops", {str(crops)!r}, "--sigma", "2", "--out", {str(out)!r}]))
    """)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_heatmap_build_removes_the_temporary(tiny, tmp_path, sig):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    out = tmp_path / "heat" / "heatmaps.h5"
    env = dict(os.environ, PYTHONPATH=f"{REPO}", OMP_NUM_THREADS="1")
    code = slow_heatmap_build(crops, out)
    # the default SIGINT disposition: under nohup or `make test &` the child would inherit SIGINT
    # ignored, and Python leaves an ignored SIGINT ignored, so the signal would never arrive
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_default_signal_dispositions)
    try:
        assert proc.stdout.readline().strip() == "rendering"
        temps = [p.name for p in out.parent.iterdir()]
        assert temps == [temporary_path(out, proc.pid).name]  # the premise: a temporary exists
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert list(out.parent.iterdir()) == []


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_processes_are_cleared(tmp_path, caplog):
    final = tmp_path / "crops.h5"
    dead = temporary_path(final, _dead_pid())
    alive = temporary_path(final, os.getppid())  # a running process: maybe still writing
    other = temporary_path(tmp_path / "heatmaps.h5", _dead_pid())  # another output's: not ours to judge
    for p in (dead, alive, other):
        p.write_bytes(b"x" * 1000)
    with atomic_path(final) as tmp:
        assert not dead.exists() and alive.exists() and other.exists()
        tmp.write_text("done")
    assert final.read_text() == "done"
    assert "left by process" in caplog.text
    assert clear_stale_temporaries(final) == []  # idempotent


def test_sigkilled_build_debris_is_cleared_at_the_next_start(tiny, tmp_path):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    out = tmp_path / "heatmaps.h5"
    r = run_python(f"""
        import os, signal
        import g2rl.preprocess.cache as cache
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)   # no handler can run: the temporary stays
        cache.render_layout = die  # what build_heatmap_cache renders each sample with
        cache.build_heatmap_cache({str(crops)!r}, 2.0, {str(out)!r})
    """)
    assert r.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".heatmaps.tmp-")]  # debris
    r = run_python(f"""
        import g2rl.preprocess.cache as cache
        cache.build_heatmap_cache({str(crops)!r}, 2.0, {str(out)!r})
    """)  # the next start: a new process
    assert r.returncode == 0, r.stderr[-2000:]
    assert "left by process" in r.stderr
    assert out.is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith(".heatmaps.tmp-")]


def test_a_folder_is_listed_once_per_process(tmp_path, monkeypatch):
    """Writing many files into one folder (overlay PNGs) must not list the folder once per file."""
    import g2rl.atomic

    calls = []
    real = os.scandir
    monkeypatch.setattr(g2rl.atomic.os, "scandir", lambda p: calls.append(p) or real(p))
    for i in range(20):
        with atomic_path(tmp_path / f"f{i}.png") as tmp:
            tmp.write_bytes(b"x")
    assert len(calls) == 1 and len(list(tmp_path.iterdir())) == 20


def test_checkpoint_on_a_full_disk_is_an_oserror_naming_it(tmp_path):
    """torch.save to a path reports a full disk as RuntimeError ('unexpected pos'): a traceback at the CLI."""
    import errno

    import torch

    from g2rl.training.checkpoint import save_resume_checkpoint

    with tmpfs(tmp_path / "full", size="256k") as full:
        with pytest.raises(OSError) as info:
            save_resume_checkpoint(full / "last.pt", model={"w": torch.zeros(200_000)}, epoch=0)
        assert info.value.errno == errno.ENOSPC and info.value.filename == str(full / "last.pt")
        assert list(full.iterdir()) == []
