"""`g2rl cache crops|heatmaps`: the HDF5 caches the trainer reads (the workflow's crop_cache and heatmap_cache rules).

    g2rl cache crops --index frame_index.csv --landmarks-dir DIR --out crops.h5 --crop-size 256 --max-gap 5 --aus AU06 AU12
    g2rl cache heatmaps --crops crops.h5 --sigma 2 --out heatmaps_sigma2.h5 [--au-points pairs --heatmap-layout per_point --peak eq1]

The landmark CSVs are looked up as DIR/<subject>/<session>.csv, one per sequence of the index.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from g2rl.cli_lists import WordList
from g2rl.config_ranges import check_options
from g2rl.errors import ConfigError, G2RLError
from g2rl.paths import refuse_output_over_input
from g2rl.preprocess.data_checks import check_au_labels, read_cache_labels

log = logging.getLogger("g2rl.cache")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="{crops,heatmaps}")
    crops = sub.add_parser("crops", help="aligned crops, landmarks, AU points and intensities of one dataset")
    crops.add_argument("--index", required=True, type=Path, metavar="FILE.csv", help="the dataset's frame index CSV")
    crops.add_argument("--landmarks-dir", required=True, type=Path, help="folder with <subject>/<session>.csv landmark files")
    crops.add_argument("--out", required=True, type=Path, metavar="FILE.h5", help="crops HDF5 file to write")
    crops.add_argument("--crop-size", type=int, default=256, help="aligned crop size S in pixels (heatmaps are S/4)")
    crops.add_argument("--max-gap", type=int, default=5, help="no-face frames within this many frames of a face carry its landmarks")
    crops.add_argument("--aus", required=True, action=WordList, metavar="AU",
                       help="AU columns to store, e.g. AU06 AU10 AU12 (commas also separate)")
    crops.add_argument("--au-points", default="null", metavar="NAME|JSON",
                       help="AU -> points: hr, pairs, a JSON mapping, or null = hr (docs/AU_POINTS.md)")
    crops.add_argument("--no-progress", action="store_true", help="no progress bar (batch jobs, logs)")
    heat = sub.add_parser("heatmaps", help="Eq. 1 heatmaps for one sigma from a crops file")
    heat.add_argument("--crops", required=True, type=Path, metavar="FILE.h5", help="crops HDF5 file (g2rl cache crops)")
    heat.add_argument("--sigma", required=True, type=float,
                      help="Gaussian sigma in heatmap pixels: finite, from 0.1 to half the heatmap side "
                           "(crop size / 8, e.g. 32 for 256 crops)")
    heat.add_argument("--out", required=True, type=Path, metavar="FILE.h5", help="heatmaps HDF5 file to write")
    heat.add_argument("--au-points", default="null", metavar="NAME|JSON",
                      help="hr, pairs or a JSON mapping (points recomputed from the aligned landmarks); "
                           "null = the points the crops file stores")
    heat.add_argument("--heatmap-layout", choices=("per_au", "per_point"), default="per_au",
                      help="one channel per AU, or one per AU point (as g2rl train --heatmap-layout)")
    heat.add_argument("--peak", choices=("eq1", "intensity"), default="eq1",
                      help="peak I / (2 pi sigma^2) as Eq. 1 prints it, or peak I")


def parse_mapping(text: str, option: str = "--au-points") -> dict | None:
    """hr / pairs / JSON mapping / null (None) from a command-line value.

    A name may also come JSON-encoded (``"pairs"`` with the quotes): the workflow passes the config's
    ``preprocess.au_points`` through JSON whatever it holds, so the paper configs (``au_points: pairs``)
    send the quoted form.
    """
    from g2rl.preprocess.au_points import resolve_au_mapping

    if text.strip() in ("", "null"):
        return None
    if not text.lstrip().startswith(("{", '"')):
        return resolve_au_mapping(text.strip())
    try:
        return resolve_au_mapping(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{option}: not a mapping name or valid JSON ({exc})") from None


def interrupted_note(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves (g2rl.cli prints it): caches are renamed into place only when complete."""
    return f"{args.out} was not written"


def main(args: argparse.Namespace) -> int:
    if args.what == "heatmaps":
        from g2rl.preprocess.cache import build_heatmap_cache

        refuse_output_over_input("cache heatmaps", {"--out": args.out}, {"--crops": args.crops})
        from g2rl.preprocess.batches import read_cache_attrs

        # maps of an AU nobody labelled would be all zero: a crops file without labels is refused here too
        check_au_labels(read_cache_labels(args.crops), read_cache_attrs(args.crops)["aus"], str(args.crops),
                        "its frames")
        build_heatmap_cache(args.crops, args.sigma, args.out, log=log, layout=args.heatmap_layout, peak=args.peak,
                            mapping=parse_mapping(args.au_points))
        return 0

    import pandas as pd

    from g2rl.datasets.frame_index import read_frame_index
    from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
    from g2rl.preprocess.cache import build_crop_cache

    check_options(args, {"crop_size": "preprocess.crop_size", "max_gap": "landmarks.max_gap"})
    mapping = parse_mapping(args.au_points)
    refuse_output_over_input("cache crops", {"--out": args.out}, {"--index": args.index})
    index = read_frame_index(args.index)
    absent_aus = [au for au in args.aus if au not in index.columns]
    if absent_aus:
        raise G2RLError(f"{args.index}: has no column {absent_aus[0]} (--aus asks for {', '.join(args.aus)})")
    check_au_labels(index[list(args.aus)].apply(pd.to_numeric, errors="coerce").to_numpy(), args.aus, str(args.index),
                    "the frame index's rows")
    sequences = index[["subject", "session"]].drop_duplicates().itertuples(index=False)
    csvs = {(s.subject, s.session): args.landmarks_dir / s.subject / f"{s.session}.csv" for s in sequences}
    absent = [str(p) for p in csvs.values() if not p.is_file()]
    if absent:
        raise G2RLError(f"{absent[0]}: landmarks file missing ({len(absent)} of {len(csvs)} sequences have none)")
    refuse_output_over_input("cache crops", {"--out": args.out},
                             {"--landmarks-dir": list(csvs.values()), "media": index["media"].astype(str).unique()})
    counts = build_crop_cache(
        index,
        csvs,
        args.out,
        crop_size=args.crop_size,
        aus=args.aus,
        au_point_mapping=mapping or DEFAULT_AU_POINTS,
        max_gap=args.max_gap,
        log=log,
        progress=not args.no_progress,
    )
    log.info("frames indexed %d, written %d, excluded (no face within max_gap) %d",
             counts["frames_indexed"], counts["frames_written"], counts["frames_excluded"])
    return 0
