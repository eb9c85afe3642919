"""How every `g2rl ... -h` reads: a description, each default shown, one placeholder style, and real examples.

One formatter serves every command and subcommand (:class:`HelpFormatter`); :func:`finish` applies it to a
parser and its subparsers, fills a subcommand's description from its one-line help, and ends each help with
its examples from :data:`EXAMPLES`. Placeholders: ``N`` an integer and ``X`` a number unless the option names
its own (``FILE.csv``, ``DIR``, ``PREFIX``, ``AU``, ``JSON``); tests/test_cli_help.py walks every help and
parses every example with the parser it belongs to.
"""

from __future__ import annotations

import argparse

# prog -> example command lines, real paths of the workflow's layout (README, "Outputs")
_RUN = "results/disfa/runs/g2rl/sigma2/lambda0.05/seed0"
_BASE = "results/disfa/runs/baseline/sigma2/lambda0/seed0"
EXAMPLES: dict[str, tuple[str, ...]] = {
    "g2rl": (
        "g2rl index --dataset disfa --root /data/DISFA --out disfa_index.csv",
        f"g2rl predict --checkpoint {_RUN}/fold1/model.pt clip.mp4 --out aus.csv",
    ),
    "g2rl index": (
        "g2rl index --dataset disfa --root /data/DISFA --out disfa_index.csv",
        "g2rl index --dataset bp4d --root /data/BP4D --out bp4d_index.csv --dataset-settings '{\"image_frame_offset\": -1}'",
    ),
    "g2rl demo-data": (
        "g2rl demo-data --out resources/demo_data",
        "g2rl demo-data --out /tmp/demo --disfa-frames 40 --bp4d-frames 20 --contact-sheet /tmp/demo/sheet.png",
    ),
    "g2rl landmarks": (
        "g2rl landmarks resources/demo_data/DISFA/Videos_LeftCamera/LeftVideoSN001_comp.avi --out SN001.csv",
        "g2rl landmarks resources/demo_data/BP4D/Sequences/F001/T1 --sequence --out F001_T1.csv",
    ),
    "g2rl cache": (
        "g2rl cache crops --index results/disfa/frame_index.csv --landmarks-dir results/disfa/landmarks "
        "--out results/disfa/cache/crops.h5 --crop-size 64 --aus AU01 AU02 AU04",
        "g2rl cache heatmaps --crops results/disfa/cache/crops.h5 --sigma 2 --out results/disfa/cache/heatmaps_sigma2.h5",
    ),
    "g2rl cache crops": (
        "g2rl cache crops --index results/disfa/frame_index.csv --landmarks-dir results/disfa/landmarks "
        "--out results/disfa/cache/crops.h5 --crop-size 64 --aus AU01 AU02 AU04",
    ),
    "g2rl cache heatmaps": (
        "g2rl cache heatmaps --crops results/disfa/cache/crops.h5 --sigma 2 --out results/disfa/cache/heatmaps_sigma2.h5",
        "g2rl cache heatmaps --crops results/disfa/cache/crops.h5 --sigma 2 --au-points pairs "
        "--heatmap-layout per_point --out pairs_heatmaps_sigma2.h5",
    ),
    "g2rl train": (
        "g2rl train --crops results/disfa/cache/crops.h5 --heatmaps results/disfa/cache/heatmaps_sigma2.h5 "
        "--test-split 1 --out runs/g2rl_fold1 --lambda 0.05 --sigma 2 --pretrained none --epochs 4",
        "g2rl train --crops results/disfa/cache/crops.h5 --heatmaps results/disfa/cache/heatmaps_sigma2.h5 "
        "--test-split 1 --out runs/baseline_fold1 --method baseline --device cuda",
    ),
    "g2rl evaluate": (
        f"g2rl evaluate {_RUN}/fold1/predictions.csv --out fold1_metrics.json",
        f"g2rl evaluate {_RUN}/fold1/predictions.csv {_RUN}/fold2/predictions.csv {_RUN}/fold3/predictions.csv "
        "--pooled --out metrics.json",
    ),
    "g2rl report": (
        f"g2rl report table1 --dataset disfa --baseline {_BASE}/metrics.json --g2rl {_RUN}/metrics.json "
        "--data-label demo --out-prefix table1_disfa",
        "g2rl report compare --data-label demo --out-prefix g2rl_vs_baseline results/disfa/evidence.json",
    ),
    "g2rl report table1": (
        f"g2rl report table1 --dataset disfa --baseline {_BASE}/metrics.json --g2rl {_RUN}/metrics.json "
        "--data-label demo --out-prefix table1_disfa --evidence results/disfa/evidence.json",
    ),
    "g2rl report evidence": (
        f"g2rl report evidence --dataset disfa --baseline {_BASE}/metrics.json --g2rl {_RUN}/metrics.json "
        "--out evidence.json",
    ),
    "g2rl report compare": (
        "g2rl report compare --data-label demo --out-prefix g2rl_vs_baseline results/disfa/evidence.json "
        "results/bp4d/evidence.json",
    ),
    "g2rl report sensitivity": (
        "g2rl report sensitivity --param sigma --data-label demo --out-prefix sensitivity_sigma_bp4d "
        "results/bp4d/runs/g2rl/sigma1/lambda0.05/seed0/metrics.json "
        "results/bp4d/runs/g2rl/sigma2/lambda0.05/seed0/metrics.json "
        "--baseline results/bp4d/runs/baseline/sigma2/lambda0/seed0/metrics.json",
    ),
    "g2rl report examples": (
        f"g2rl report examples --model {_RUN}/fold1/model.pt --predictions {_RUN}/fold1/predictions.csv "
        "--crops results/disfa/cache/crops.h5 --heatmaps-out heatmaps_disfa.png --curves-out curves_disfa.png "
        "--dataset disfa --data-label demo",
    ),
    "g2rl report ablation": (
        "g2rl report ablation --dataset bp4d --rows rows.json --data-label demo --out-prefix ablation_bp4d",
    ),
    "g2rl report training": (
        f"g2rl report training --data-label demo --out-prefix training_disfa {_RUN}/fold1/train_log.csv "
        f"{_BASE}/fold1/train_log.csv",
    ),
    "g2rl report home": (
        "g2rl report home --settings \"$(cat home_settings.json)\" --table1 results/tables/table1_disfa.csv "
        "--evidence results/disfa/evidence.json --out home.rst",
    ),
    "g2rl predict": (
        f"g2rl predict --checkpoint {_RUN}/fold1/model.pt clip.mp4 photos/ --out aus.csv",
        f"g2rl predict --checkpoint {_RUN}/fold1/model.pt clip.mp4 --out aus.csv --heatmaps overlays/ --landmarks",
    ),
    "g2rl weights": (
        "g2rl weights --backbone resnet50 --pretrained imagenet --out resources/weights/resnet50_imagenet.pth",
    ),
    "g2rl provenance": (
        "g2rl provenance results/tables/table1_disfa.csv",
        f"g2rl provenance --json {_RUN}/metrics.json",
    ),
}


def _default_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) if value else "none"
    return str(value)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default unless its help already says it, keeps the examples' lines as written, and
    names an unnamed placeholder by its type (``N`` integer, ``X`` number) or kind (``DIR`` for a ``*_dir``
    option, ``PREFIX`` for a ``*_prefix`` one) instead of the option's dest."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        shown = not (action.required or default is None or default is False or default is argparse.SUPPRESS
                     or isinstance(action, (argparse._HelpAction, argparse._VersionAction)))
        if shown and "default" not in text.lower():
            # %% keeps argparse's own %-formatting of the help text from reading the value
            text += f" (default: {_default_text(default).replace('%', '%%')})"
        return text

    def _get_default_metavar_for_optional(self, action):
        kind = action.type
        if kind is int or getattr(kind, "__name__", "") in ("_positive", "positive_int"):
            return "N"
        if kind is float:
            return "X"
        if action.dest.endswith("_dir"):
            return "DIR"
        if action.dest.endswith("_prefix"):
            return "PREFIX"
        return super()._get_default_metavar_for_optional(action)


def examples_epilog(prog: str) -> str | None:
    lines = EXAMPLES.get(prog)
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None


def subparsers_of(parser: argparse.ArgumentParser) -> list[tuple[argparse.ArgumentParser, str]]:
    """(subparser, its one-line help) of each subcommand of ``parser``."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            found += [(sub, helps.get(name) or "") for name, sub in action.choices.items()]
    return found


def finish(parser: argparse.ArgumentParser, description: str | None = None) -> argparse.ArgumentParser:
    """Give ``parser`` and each of its subcommands the common formatter, a description (a subcommand's one-line
    help when it has none) and its examples; returns ``parser``."""
    parser.formatter_class = HelpFormatter
    if not parser.description and description:
        parser.description = description
    parser.epilog = examples_epilog(parser.prog) or parser.epilog
    for sub, help_text in subparsers_of(parser):
        finish(sub, help_text)
    return parser
