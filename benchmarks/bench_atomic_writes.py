"""Cost of the reliability guards on output writes: atomic_path per file, and the output-over-input check.

    python benchmarks/bench_atomic_writes.py --files 5000

Writes --files small files into one folder through g2rl.atomic.atomic_path (as `g2rl predict
--heatmaps` writes overlay PNGs), once listing the folder for stale temporaries on every write
(fresh listing: what a naive sweep costs) and once with the per-process listing atomic_path uses,
then times refuse_output_over_input against a folder input of --files entries.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import g2rl.atomic as atomic
from g2rl.paths import refuse_output_over_input


def write_many(folder: Path, n: int, fresh: bool) -> float:
    folder.mkdir()
    real = atomic.clear_stale_temporaries
    atomic.clear_stale_temporaries = lambda final, **_: real(final, fresh=fresh)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            with atomic.atomic_path(folder / f"{i:06d}.png") as tmp:
                tmp.write_bytes(b"x" * 1000)
        return time.perf_counter() - t0
    finally:
        atomic.clear_stale_temporaries = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    n = args.files
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        naive = write_many(root / "fresh", n, fresh=True)
        ours = write_many(root / "once", n, fresh=False)
        print(f"{n} files into one folder: {1e3 * naive / n:.3f} ms/file listing every time, "
              f"{1e3 * ours / n:.3f} ms/file with one listing per process ({naive / ours:.1f}x)")
        out = root / "once" / "out.csv"
        out.write_text("x")
        t0 = time.perf_counter()
        refuse_output_over_input("bench", {"--out": out}, {"INPUT": [root / "fresh"]})
        print(f"refuse_output_over_input, existing --out vs a folder input of {n} files: "
              f"{1e3 * (time.perf_counter() - t0):.1f} ms (0 when --out does not exist yet)")


if __name__ == "__main__":
    main()
