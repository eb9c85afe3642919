"""The `g2rl` command line: one subcommand per pipeline stage.

Each subcommand lives in the module that does the work and exposes two functions:
``add_arguments(parser)`` and ``main(args) -> int``, and may expose ``interrupted_note(args) -> str``,
what Ctrl-C leaves behind (every command answers it with one line and exit 130, here). The Snakemake rules call the same
library functions, so the CLI and the workflow cannot drift apart. Modules are imported
only when their subcommand runs, so `g2rl index` does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from g2rl import __version__
from g2rl.cli_help import finish
from g2rl.errors import G2RLError, report_error, report_interrupt

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "index": ("g2rl.datasets.cli", "build the frame index of a BP4D or DISFA tree"),
    "demo-data": ("g2rl.demo.cli", "generate the demo dataset in the DISFA and BP4D layouts"),
    "landmarks": ("g2rl.preprocess.cli", "68-point dlib landmarks for a video or a folder of images"),
    "cache": ("g2rl.preprocess.cache_cli", "build the aligned-crop HDF5 cache or a heatmap cache for one sigma"),
    "train": ("g2rl.training.cli", "train one fold of Baseline or G2RL from the HDF5 cache"),
    "evaluate": ("g2rl.reports.cli", "ICC / MAE / PCC of a predictions file -> metrics.json"),
    "report": ("g2rl.reports.report_cli", "the report's tables (Table 1, evidence, G2RL vs Baseline, ablation) and figures"),
    "predict": ("g2rl.predict", "AU intensities for your own videos and images"),
    "weights": ("g2rl.model.weights_cli", "resolve torchvision ImageNet weights (torch hub cache) into a file"),
    "provenance": ("g2rl.provenance_cli", "which code, config, data, weights and device produced a result"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="g2rl", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        # add_help=False: `g2rl train -h` must reach the command's own parser below, not this stub
        p = sub.add_parser(name, help=help_text, description=help_text, add_help=False)
        p.set_defaults(_module=module)
        # arguments are added lazily below, only for the chosen command
    return finish(parser)


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one command, as `g2rl <command> -h` shows it: its module's options, the shared help
    formatter, a description and examples (g2rl.cli_help)."""
    module = importlib.import_module(COMMANDS[command][0])
    sub = argparse.ArgumentParser(prog=f"g2rl {command}", description=COMMANDS[command][1])
    sub.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    module.add_arguments(sub)
    return finish(sub)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # First pass finds the command; second pass parses its own arguments.
    known, _ = parser.parse_known_args(argv)
    module = importlib.import_module(known._module)
    sub = command_parser(known.command)
    rest = argv[argv.index(known.command) + 1 :]
    args = sub.parse_args(rest)
    logging.basicConfig(
        level=logging.DEBUG if (args.verbose or known.verbose) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    verbose = bool(args.verbose or known.verbose)
    try:
        return int(module.main(args) or 0)
    except (G2RLError, OSError) as exc:
        # Bad input or a failing disk (EACCES, EROFS, ENOSPC, a missing file): one line naming
        # the path and the reason, exit 2; -v adds the traceback for a bug report.
        return report_error(known.command, exc, verbose)
    except KeyboardInterrupt:
        # Ctrl-C (SIGINT) is the user's choice, not a bug: one line, the shell's status for SIGINT.
        # Outputs are renamed into place only when complete, so none is left half-written.
        note = getattr(module, "interrupted_note", None)
        return report_interrupt(known.command, note(args) if note else None)


if __name__ == "__main__":
    sys.exit(main())
