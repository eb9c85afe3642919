"""What changing the workflow's ``landmarks.detector`` does to the demo data: the landmark step (`g2rl landmarks`'
fast tracked path, as the workflow runs it) on every demo video and BP4D-style sequence with two detectors
(default hog and blazeface): frames with a face for each, and how far their 68 points lie apart, in % of the
inter-ocular distance (IOD) of the first detector's fit, over the frames both fit. Printed: the totals and
CPU seconds per detector, the distance's mean / median / 90th percentile / maximum, and the sequences whose
largest distance exceeds 10 % (frame and value).

The demo data: ``g2rl demo-data --out DIR`` (the tiny config: ``--disfa-frames 40 --bp4d-frames 20``).

    python -m g2rl demo-data --out /tmp/demo --seed 0 --disfa-frames 40 --bp4d-frames 20
    python benchmarks/compare_demo_landmarks.py /tmp/demo --record benchmarks/records/demo_landmarks_<date>.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def units(root: Path) -> list[tuple[Path, bool]]:
    """(path, is a sequence folder) of every DISFA video and BP4D sequence under the demo root."""
    videos = sorted((root / "DISFA").rglob("*.avi"))
    sequences = sorted(p for p in (root / "BP4D" / "Sequences").glob("*/*") if p.is_dir())
    return [(v, False) for v in videos] + [(s, True) for s in sequences]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a folder written by `g2rl demo-data`")
    parser.add_argument("--detectors", nargs=2, default=["hog", "blazeface"], help="the two to compare")
    parser.add_argument("--record", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("demo_landmarks", vars(args))  # the commit, machine and load as the measurement starts
    from g2rl.media import folder_images
    from g2rl.preprocess.landmarks import LandmarkDetector, inter_ocular_distance, landmark_array

    found = units(args.demo)
    points, record = {}, {"units": len(found), "detectors": {}}
    for kind in args.detectors:
        det = LandmarkDetector(detector=kind)
        cpu = time.process_time()
        points[kind] = [landmark_array(det.images(folder_images(u), sequence=True, progress=False) if seq
                                       else det.video(u, progress=False)) for u, seq in found]
        cpu = time.process_time() - cpu
        frames = sum(len(p) for p in points[kind])
        faces = sum(int(np.isfinite(p[:, 0, 0]).sum()) for p in points[kind])
        record["detectors"][kind] = {"frames": frames, "with_face": faces, "cpu_s": round(cpu, 2)}
        print(f"{kind}: a face in {faces} of {frames} frames of {len(found)} sequences; CPU {cpu:.1f} s")
    first, second = args.detectors
    per_unit = [np.linalg.norm(a - b, axis=-1).mean(axis=-1) / inter_ocular_distance(a)
                for a, b in zip(points[first], points[second])]
    dist = np.concatenate(per_unit)
    dist = dist[np.isfinite(dist)]
    record["distance_iod"] = {"frames": len(dist), "mean": float(dist.mean()), "median": float(np.median(dist)),
                              "p90": float(np.percentile(dist, 90)), "max": float(dist.max())}
    print(f"{second} against {first}: 68 points {dist.mean():.2%} of the IOD apart (mean; median {np.median(dist):.2%}, "
          f"90th percentile {np.percentile(dist, 90):.2%}, max {dist.max():.2%}) over {len(dist)} frames")
    record["over_10pct"] = []
    for (unit, _), d in zip(found, per_unit):
        if np.nanmax(d) > 0.1:
            worst = int(np.nanargmax(d))
            record["over_10pct"].append({"unit": str(unit.relative_to(args.demo)), "frame": worst, "iod": float(d[worst])})
            print(f"    {unit.relative_to(args.demo)}: frame {worst}, {d[worst]:.1%}")
    if args.record:
        rec.data["results"] = record
        rec.write(args.record.stem, out=args.record)


if __name__ == "__main__":
    main()
