"""Every `g2rl` command and subcommand explains itself: a description, each option's help and its default,
one placeholder style, real examples at the end that parse; `report -h` lists every report, one name means one
thing, lists follow one convention, and train's defaults match the config."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from g2rl.cli import COMMANDS, build_parser, command_parser, main
from g2rl.cli_help import EXAMPLES, subparsers_of


def _parsers():
    """(name, parser) of every command and subcommand, built as `g2rl <command> [<sub>] -h` builds them."""
    for command in COMMANDS:
        stack = [(f"g2rl {command}", command_parser(command))]
        while stack:
            name, p = stack.pop()
            yield name, p
            stack += [(f"{name} {sub.prog.split()[-1]}", sub) for sub, _ in subparsers_of(p)]


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


# a placeholder: N (integer), X (number), a word in capitals (DIR, PREFIX, SPLIT, AU), a kind of file
# (FILE.csv, FILE.h5), NAME|JSON, KEY=VALUE, or a list of choices; never an option's dest (DETECT_SCALE, OUT)
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9]*(?:[.|=][A-Za-z0-9]+)*|\{[^{}]+\}")


def _help_of(parser: argparse.ArgumentParser) -> str:
    return parser.format_help()


def _shows_default(parser, action) -> bool:
    return "default" in parser._get_formatter()._get_help_string(action).lower()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_help_has_a_description_defaults_and_examples(name):
    """Issue 30 item 11: each -h says what the command does, shows every default, and ends with real examples."""
    parser = PARSERS[name]
    assert (parser.description or "").strip(), f"`{name} -h` has no description"
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.required:
            continue
        if not any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            assert _shows_default(parser, action), f"`{name}` {action.option_strings}: default {action.default!r} not shown"
    text = _help_of(parser)
    tail = text.rstrip().split("\nexamples:\n")
    assert len(tail) == 2, f"`{name} -h` does not end with examples"
    lines = [line.strip() for line in tail[1].splitlines()]
    assert 1 <= len(lines) <= 2 and all(line.startswith(f"{name} ") for line in lines), lines


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_example_parses(name):
    """An example is a command that its own parser accepts (option names, choices, value counts)."""
    for line in EXAMPLES[name]:
        words = shlex.split(line)
        assert words[0] == "g2rl"
        if len(words) > 1 and words[1] in COMMANDS:
            # a top-level example: parsed by the command's own parser, as main() does
            args = command_parser(words[1]).parse_args(words[2:])
        else:
            args = PARSERS[name].parse_args(words[len(name.split()):])
        assert args is not None


def _placeholders(parser):
    """(option, placeholder) of every action that takes a value, as -h prints them."""
    fmt = parser._get_formatter()
    for action in parser._actions:
        if action.nargs == 0 or isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        default = (fmt._get_default_metavar_for_optional(action) if action.option_strings
                   else fmt._get_default_metavar_for_positional(action))
        shown = action.metavar if action.metavar is not None else default
        for word in shown if isinstance(shown, tuple) else fmt._metavar_formatter(action, default)(1):
            yield (action.option_strings or [action.dest])[0], word


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_placeholders_follow_one_style(name):
    for option, word in _placeholders(PARSERS[name]):
        assert PLACEHOLDER.fullmatch(word), f"`{name} {option} {word}`: not a placeholder of the common style"
        if option == "--out":
            assert re.fullmatch(r"FILE(\.\w+)?|DIR", word), f"`{name} --out {word}`: say FILE.<ext> or DIR"


def test_top_level_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["-h"])
    out = capsys.readouterr().out
    assert "examples:\n  g2rl index" in out
    assert set(EXAMPLES) == {"g2rl", *PARSERS}  # no command without examples, no examples of a command that is gone
    for line in EXAMPLES["g2rl"]:
        words = shlex.split(line)
        command_parser(words[1]).parse_args(words[2:])


def test_report_help_names_every_report_and_what_it_writes(capsys):
    from g2rl.reports.report_cli import SUBCOMMANDS

    with pytest.raises(SystemExit):
        main(["report", "-h"])
    out = " ".join(capsys.readouterr().out.split())
    subs = [n.split()[-1] for n in PARSERS if n.startswith("g2rl report ")]
    assert sorted(subs) == sorted(SUBCOMMANDS) and len(subs) == 8
    for sub in subs:
        assert sub in out
    assert "Table 1 (csv, md, tex, html)" in out


def test_one_option_name_one_meaning():
    """An option spelled the same in two commands takes the same kind of value (choices or none)."""
    seen: dict[str, tuple] = {}
    generic = {"--out", "--dataset", "--out-prefix", "--data-label", "--crops", "--seed", "--sigma", "--aus",
               "--au-points", "--resamples", "--bootstrap-seed", "--device", "--backbone", "--pretrained",
               "--predictions", "--model", "--baseline", "--log", "--root", "--index", "--heatmaps",
               "--evidence"}
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
