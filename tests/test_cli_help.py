"""Every `g2rl` command and subcommand explains itself: each option has help, `report -h` lists every
report, one name means one thing, lists follow one convention, and train's defaults match the config."""

from __future__ import annotations

import argparse
import importlib

import pytest

from g2rl.cli import COMMANDS, main


def _parsers():
    """(name, parser) of every command and subcommand, as `g2rl <command> [<sub>] -h` shows them."""
    for command, (module, _) in COMMANDS.items():
        parser = argparse.ArgumentParser(prog=f"g2rl {command}")
        importlib.import_module(module).add_arguments(parser)
        stack = [(f"g2rl {command}", parser)]
        while stack:
            name, p = stack.pop()
            yield name, p
            for action in p._actions:
                if isinstance(action, argparse._SubParsersAction):
                    stack += [(f"{name} {sub}", sp) for sub, sp in action.choices.items()]


PARSERS = dict(_parsers())


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help(name, capsys):
    parser = PARSERS[name]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"`{name}` {action.option_strings or action.dest} has no help"
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["-h"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage:")


def test_report_help_names_every_report_and_what_it_writes(capsys):
    from g2rl.reports.report_cli import SUBCOMMANDS

    with pytest.raises(SystemExit):
        main(["report", "-h"])
    out = " ".join(capsys.readouterr().out.split())
    subs = [n.split()[-1] for n in PARSERS if n.startswith("g2rl report ")]
    assert sorted(subs) == sorted(SUBCOMMANDS) and len(subs) == 7
    for sub in subs:
        assert sub in out
    assert "Table 1 (csv, md, tex, html)" in out


def test_one_option_name_one_meaning():
    """An option spelled the same in two commands takes the same kind of value (choices or none)."""
    seen: dict[str, tuple] = {}
    generic = {"--out", "--dataset", "--out-prefix", "--data-label", "--crops", "--seed", "--sigma", "--aus",
               "--au-points", "--resamples", "--bootstrap-seed", "--device", "--backbone", "--pretrained",
               "--predictions", "--model", "--baseline", "--log", "--root", "--index", "--heatmaps"}
    for name, parser in PARSERS.items():
        for action in parser._actions:
            for opt in action.option_strings:
                if opt in generic or opt in ("-h", "--help", "-v", "--verbose"):
                    continue
                kind = (tuple(action.choices) if action.choices else None, action.nargs)
                if opt in seen:
                    assert seen[opt][1] == kind, f"{opt}: {seen[opt][0]} and {name} differ"
                seen.setdefault(opt, (name, kind))
    assert "--layout" not in seen  # index --dataset-settings, cache heatmaps --heatmap-layout
    assert seen["--heatmap-layout"][1][0] == ("per_au", "per_point")


def test_lists_take_words_and_commas_alike():
    """One convention (README, Command line): words, commas also separating."""
    from g2rl.cli_lists import WordList

    for name, parser in PARSERS.items():
        for action in parser._actions:
            if action.dest in ("aus", "curve_aus", "lr_step_epochs", "deconv_channels", "disfa_subjects"):
                assert isinstance(action, WordList), f"{name} {action.option_strings}"
    crops = PARSERS["g2rl cache crops"]
    base = ["--index", "i.csv", "--landmarks-dir", "d", "--out", "c.h5"]
    assert crops.parse_args([*base, "--aus", "AU01", "AU02,AU04"]).aus == ["AU01", "AU02", "AU04"]
    train = PARSERS["g2rl train"]
    base = ["--crops", "c", "--heatmaps", "h", "--test-split", "1", "--out", "o"]
    args = train.parse_args([*base, "--lr-step-epochs", "5", "8", "--deconv-channels", "32,32"])
    assert args.lr_step_epochs == (5, 8) and args.deconv_channels == (32, 32)


def test_train_pretrained_default_is_the_configs():
    from g2rl.training.cli import pretrained_from_arg, settings_from_args

    train = PARSERS["g2rl train"]
    base = ["--crops", "c", "--heatmaps", "h", "--test-split", "1", "--out", "o"]
    assert settings_from_args(train.parse_args(base)).pretrained == _schema_default_pretrained()
    assert settings_from_args(train.parse_args([*base, "--pretrained", "none"])).pretrained is None
    assert pretrained_from_arg("NULL") is None and pretrained_from_arg("w.pth") == "w.pth"


def _schema_default_pretrained():
    from g2rl.config import load_schema

    return load_schema()["properties"]["model"]["properties"]["pretrained"]["default"]


def test_table1_dataset_is_a_choice():
    t = PARSERS["g2rl report table1"]
    with pytest.raises(SystemExit):
        t.parse_args(["--dataset", "BP4D-plus", "--baseline", "b", "--g2rl", "g", "--data-label", "demo",
                      "--out-prefix", "p"])
