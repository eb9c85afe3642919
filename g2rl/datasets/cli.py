"""`g2rl index`: build the frame index of a BP4D or DISFA tree (the same code the workflow's rule runs)."""

from __future__ import annotations

import argparse
import json
import logging

from g2rl.datasets.frame_index import write_frame_index
from g2rl.datasets.from_config import DATASETS, index_from_config
from g2rl.errors import ConfigError
from g2rl.paths import refuse_output_over_input

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which reader and config section")
    parser.add_argument("--root", required=True, metavar="DIR", help="the dataset's root folder")
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="frame index CSV to write")
    parser.add_argument(
        "--dataset-settings",
        metavar="JSON",
        help="JSON object overriding keys of the dataset's config section (path patterns, offsets, splits, AUs; "
        "see g2rl/resources/config.schema.yaml), e.g. '{\"label_frame_offset\": 0}'. The workflow passes its whole section.",
    )


def main(args: argparse.Namespace) -> int:
    from g2rl.config import dataset_section

    try:
        settings = json.loads(args.dataset_settings) if args.dataset_settings else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--dataset-settings: not valid JSON ({exc})") from None
    section = dataset_section(args.dataset, overrides=settings)
    section["root"] = args.root
    df = index_from_config(args.dataset, section)
    # the index lists every media file it was built from: none of them may be the output
    refuse_output_over_input("index", {"--out": args.out}, {"--root media": df["media"].astype(str).unique()})
    write_frame_index(df, args.out)
    labelled = df.filter(regex=r"^AU\d\d$").notna().sum()
    print(f"{args.out}: {len(df)} frames, {df['subject'].nunique()} subjects, {df.groupby(['subject', 'session']).ngroups} sequences")
    print("labelled frames per AU: " + ", ".join(f"{au} {n}" for au, n in labelled.items()))
    return 0
