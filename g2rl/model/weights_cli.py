"""`g2rl weights`: resolve the `pretrained` setting once and export the file the trainings load.

    g2rl weights --backbone resnet50 --pretrained imagenet --out resources/weights/resnet50_imagenet.pth

Uses torchvision's weights enum through the torch hub cache ($TORCH_HOME/hub/checkpoints),
downloading when online and absent. The workflow's `weights` rule runs this on the submit host, so
cluster jobs need neither the network nor the hub cache.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from g2rl.model.weights import export_weights, resolve_weights
from g2rl.paths import refuse_output_over_input
from g2rl.provenance import sidecar_path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", required=True, help="resnet18 | resnet34 | resnet50 | resnet101")
    parser.add_argument("--pretrained", required=True, help="imagenet | imagenet_v1 | imagenet_v2 | a state-dict file")
    parser.add_argument("--out", required=True, metavar="FILE.pth", help="file to write (its <stem>.provenance.json names the weights)")


def main(args: argparse.Namespace) -> int:
    source = args.pretrained if Path(args.pretrained).is_file() else None  # a state-dict file, not a name
    refuse_output_over_input("weights", {"--out": args.out, "--out (provenance)": sidecar_path(args.out)},
                             {"--pretrained": source})
    weights = resolve_weights(args.backbone, args.pretrained)
    out = export_weights(weights, args.out)
    log.info("%s: %s (sha256 %s) from %s", out, weights.describe(), weights.sha256, weights.path)
    return 0
