"""``g2rl demo-data``: generate the demo dataset (DISFA and BP4D layouts), optionally with a contact sheet."""

from __future__ import annotations

import argparse
import json
import logging

from g2rl.cli_lists import WordList
from g2rl.demo.generator import (DEFAULT_BP4D_DEVEL, DEFAULT_BP4D_TASKS, DEFAULT_BP4D_TRAIN, DEFAULT_DISFA_SUBJECTS,
                                 DEFAULT_FRAME_SIZE, generate_demo)
from g2rl.config_ranges import check_options
from g2rl.paths import refuse_output_over_input

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder; DISFA/ and BP4D/ are written inside it")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same files)")
    parser.add_argument("--disfa-frames", type=int, default=200, help="frames per DISFA video")
    parser.add_argument("--bp4d-frames", type=int, default=80, help="frames per BP4D sequence")
    # `none` writes no tree for that dataset: the paper-scale rehearsal (benchmarks/rehearse_paper_scale.py)
    # generates one dataset at a time at its real size.
    parser.add_argument("--disfa-subjects", action=WordList, allow_empty=True, default=list(DEFAULT_DISFA_SUBJECTS),
                        metavar="SN", help=f"DISFA subjects to render; none = no DISFA tree "
                        f"(default: {' '.join(DEFAULT_DISFA_SUBJECTS)})")
    parser.add_argument("--bp4d-train", action=WordList, allow_empty=True, default=list(DEFAULT_BP4D_TRAIN),
                        metavar="SUBJECT", help=f"BP4D training subjects; none (with --bp4d-devel none) = no BP4D "
                        f"tree (default: {' '.join(DEFAULT_BP4D_TRAIN)})")
    parser.add_argument("--bp4d-devel", action=WordList, allow_empty=True, default=list(DEFAULT_BP4D_DEVEL),
                        metavar="SUBJECT", help=f"BP4D development (test) subjects (default: {' '.join(DEFAULT_BP4D_DEVEL)})")
    parser.add_argument("--bp4d-tasks", action=WordList, default=list(DEFAULT_BP4D_TASKS), metavar="TASK",
                        help=f"BP4D tasks per subject (default: {' '.join(DEFAULT_BP4D_TASKS)})")
    parser.add_argument("--frame-size", nargs=2, type=int, default=list(DEFAULT_FRAME_SIZE), metavar=("W", "H"),
                        help="frame width and height in pixels")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering sequences in parallel")
    parser.add_argument("--contact-sheet", default=None, metavar="FILE.png",
                        help="also write a contact sheet of a few frames per subject to this PNG")


def main(args: argparse.Namespace) -> int:
    check_options(args, {"seed": "demo.seed", "disfa_frames": "demo.disfa_frames", "bp4d_frames": "demo.bp4d_frames"})
    refuse_output_over_input("demo-data", {"--contact-sheet": args.contact_sheet}, {})
    summary = generate_demo(
        args.out, seed=args.seed, disfa_subjects=args.disfa_subjects, disfa_frames=args.disfa_frames,
        bp4d_train=args.bp4d_train, bp4d_devel=args.bp4d_devel, bp4d_tasks=args.bp4d_tasks,
        bp4d_frames=args.bp4d_frames, frame_size=tuple(args.frame_size), workers=args.workers)
    if args.contact_sheet:
        from g2rl.demo.contact_sheet import write_contact_sheet

        write_contact_sheet(args.out, args.contact_sheet)
        log.info("contact sheet written to %s", args.contact_sheet)
    print(json.dumps({"out": str(args.out), "seconds": summary["seconds"],
                      "disfa_frames": summary["disfa"]["total_frames"], "bp4d_frames": summary["bp4d"]["total_frames"]}))
    return 0
