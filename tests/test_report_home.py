"""The report's home page (g2rl.reports.home) and the escaping of config values for reStructuredText
(g2rl.reports.rst): the result in one line per dataset, read from whatever rows Table 1 and the evidence hold,
and no value from a config or a result file ever read as markup by docutils or as a template by Jinja.
(Issue 29 item 1, issue 30 item 2; the same through Snakemake's own --report: test_report_markup_injection.py.)"""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path

import jinja2
import pandas as pd
import pytest
from docutils.core import publish_parts

from g2rl.cli import main
from g2rl.config import load_config
from g2rl.reports.home import (
    SPLIT,
    dataset_result,
    home_page,
    home_settings,
    read_settings,
    result_header,
    result_line,
)
from g2rl.reports.rst import rst_text

HOSTILE = [
    ".. raw:: html",
    ".. include:: /etc/hostname",
    "`x <javascript:alert(1)>`_",
    "|substitution|",
    "_link and link_",
    "<script>alert(1)</script>",
    "*em* **strong** ``literal`` :math:`x` [#]_ [1]_",
    "{{ 7 * 7 }} {% if 1 %}x{% endif %} {# c #}",
    "back\\slash \\*",
    "w.pth − é ± ▲",
]


def render(rst: str) -> str:
    """docutils' HTML of ``rst`` as Snakemake makes the home page (its title included), every problem shown in it
    (a system message) instead of raised."""
    return publish_parts(rst, writer="html", settings_overrides={"halt_level": 5})["html_body"]


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.mark.parametrize("value", HOSTILE)
def test_rst_text_renders_as_the_same_characters_and_nothing_else(value):
    for rst in (f"Weights: {rst_text(value)} here.", rst_text(value)):  # inside a sentence, and starting a line
        body = render(rst)
        assert re.fullmatch(r'<div class="document">\s*<p>[^<]*</p>\s*</div>\s*', body), body  # one paragraph of text: no element, no directive
        assert text_of(body).strip() == rst.replace(rst_text(value), value).strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_rst_text_is_inert_for_jinja(value):
    """Snakemake passes the page through Jinja before docutils: an escaped value must come out unchanged."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    assert env.from_string(rst_text(value)).render() == rst_text(value)


def test_rst_text_replaces_line_breaks_and_controls():
    """The config refuses them; the function stays safe on any input (a line break could start a directive)."""
    out = rst_text("w.pth\n\n.. raw:: html\n\n   <script>x</script>\u2028\x00")
    assert "\n" not in out and "\u2028" not in out and "\x00" not in out
    assert "<script>" not in render(out).replace("&lt;script&gt;", "")


@pytest.mark.parametrize("key, value", [
    ("model", {"pretrained": "w.pth\n\n.. raw:: html\n\n   <script>alert(3)</script>"}),
    ("model", {"pretrained": "w.pth\n"}),
    ("results", "results\u2028.. include:: /etc/passwd"),
    ("disfa", {"video": "{root}/x\r.avi"}),
])
def test_config_refuses_line_breaks_and_control_characters(key, value):
    from g2rl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"control character .*U\+[0-9A-F]{4}"):
        load_config(None, {key: value})


# --- the page ------------------------------------------------------------------------------------------------

def _table1_csv(path: Path, rows: dict[tuple[str, str], tuple[float, float]]) -> Path:
    """A Table 1 CSV as g2rl report table1 writes it: the paper's rows, then ours ((method, variant) -> ICC, MAE)."""
    lines = [{"metric": m, "method": "KJRE", "source": "paper", "Avg": v, "variant": ""} for m, v in (("ICC", 0.6), ("MAE", 0.8))]
    for metric, j in (("ICC", 0), ("MAE", 1)):
        for (method, variant), values in rows.items():
            lines.append({"metric": metric, "method": method, "source": "ours (DEMO data, not comparable)",
                          "Avg": values[j], "variant": variant})
    pd.DataFrame(lines).to_csv(path, index=False)
    return path


def _block(icc: tuple, mae: tuple, seeds_agree: bool = True) -> dict:
    """An evidence.json 'differences' block (g2rl-evidence/2): (diff, lo, hi) per metric on the AU average."""
    cell = lambda d, lo, hi: {"diff": d, "ci": [lo, hi], "win_share": 0.5, "ci_excludes_0": lo > 0 or hi < 0,  # noqa: E731
                              "seeds_agree": seeds_agree, "per_seed": [d, d]}
    return {"against": "baseline", "label": "row - Baseline", "per_au": {}, "avg": {"icc": cell(*icc), "mae": cell(*mae)}}


def _evidence(dataset: str, n_subjects: int, n_seeds: int = 2, labels: dict | None = None,
              variants: dict | None = None, **differences) -> dict:
    """An evidence.json with one 'differences' block per keyword (row -> block), each row labelled as in
    ``labels`` (row -> label; default: G2RL) and run with the guidance in ``variants`` (row -> variant; default none)."""
    labels, variants = labels or {}, variants or {}
    return {"format": "g2rl-evidence/2", "dataset": dataset, "seeds": list(range(n_seeds)),
            "subjects": [f"S{i:03d}" for i in range(n_subjects)], "bootstrap": {"level": 0.95},
            "methods": {row: {"label": labels.get(row, "G2RL"), "variant": variants.get(row)} for row in differences},
            "differences": differences}


def test_result_line_names_every_row_and_says_what_the_difference_means(tmp_path):
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.501, 0.62), ("G2RL", "literal"): (0.534, 0.58),
                                           ("G2RL + stop-grad/teach", "stopgrad_aux"): (0.49, 0.65)})
    ev = _evidence("disfa", 27, n_seeds=3, variants={"g2rl": "literal"},
                   g2rl=_block((0.033, 0.011, 0.052), (-0.04, -0.09, 0.01)))
    line = result_line(dataset_result("disfa", csv, ev))
    assert line.startswith("- **DISFA** (27 test subjects, 3 seeds): Baseline ICC 0.50, MAE 0.62; G2RL \\(literal\\) "
                           "ICC 0.53, MAE 0.58; G2RL \\+ stop\\-grad\\/teach \\(stopgrad\\_aux\\) ICC 0.49, MAE 0.65.")
    # the difference is named as its row is, with the variant it ran
    assert line.endswith(" Against the Baseline: G2RL \\(literal\\) ICC +0.033 [+0.011, +0.052], MAE -0.040 [-0.090, +0.010], "
                         "better on ICC, no clear difference on MAE.")
    # worse, and several paired differences (a row per G2RL variant), each named by its row's label
    ev = _evidence("bp4d", 41, labels={"g2rl_x": "G2RL (x)", "g2rl_y": "G2RL (y)"},
                   g2rl_x=_block((-0.05, -0.08, -0.02), (0.1, 0.05, 0.2)), g2rl_y=_block((0.0, -0.01, 0.01), (0.0, -0.01, 0.01)))
    line = result_line(dataset_result("bp4d", csv, ev))
    assert "G2RL \\(x\\) ICC -0.050 [-0.080, -0.020], MAE +0.100 [+0.050, +0.200], worse on ICC, worse on MAE;" in line
    assert line.endswith("G2RL \\(y\\) ICC +0.000 [-0.010, +0.010], MAE +0.000 [-0.010, +0.010], no clear difference.")


def test_the_verdict_follows_the_tables_mark_rule_seeds_that_disagree_give_none(tmp_path):
    """A CI that excludes 0 is not enough: the tables mark a cell only when every seed agrees, and so does the page."""
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.5, 0.6), ("G2RL", ""): (0.6, 0.5)})
    ev = _evidence("disfa", 27, g2rl=_block((0.1, 0.05, 0.2), (-0.1, -0.2, -0.05), seeds_agree=False))
    line = result_line(dataset_result("disfa", csv, ev))
    assert "better" not in line and line.endswith("no clear difference.")
    ev = _evidence("disfa", 27, g2rl=_block((0.1, 0.05, 0.2), (-0.1, -0.2, -0.05)))
    assert result_line(dataset_result("disfa", csv, ev)).endswith("better on ICC, better on MAE.")


def test_result_line_gives_no_verdict_on_too_few_subjects(tmp_path):
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.5, 0.6), ("G2RL", ""): (0.6, 0.5)})
    ev = _evidence("bp4d", 3, g2rl=_block((0.1, 0.05, 0.2), (-0.1, -0.2, -0.05)))
    line = result_line(dataset_result("bp4d", csv, ev))
    assert "(3 test subjects, 2 seeds: too few for a verdict (10 distinct resamples, 100 needed))" in line
    assert "better" not in line and "no clear" not in line


def test_the_header_says_when_the_seeds_are_few(tmp_path):
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.5, 0.6), ("G2RL", ""): (0.6, 0.5)})
    two = dataset_result("disfa", csv, _evidence("disfa", 27, g2rl=_block((0.1, 0.05, 0.2), (-0.1, -0.2, -0.05))))
    three = dataset_result("disfa", csv, _evidence("disfa", 27, 3, g2rl=_block((0.1, 0.05, 0.2), (-0.1, -0.2, -0.05))))
    assert "2 seeds: training randomness is barely sampled" in result_header([two, three])
    assert "barely" not in result_header([three]) and "95 % CI over seeds and test subjects" in result_header([three])


def _settings(**changes) -> dict:
    config = load_config(None)
    for key, value in changes.items():
        section, name = key.split("__")
        config[section][name] = value
    return home_settings(config)


def test_home_page_with_hostile_values_renders_them_as_text(tmp_path):
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.5, 0.6), ("G2RL", "x_ `y`_ |z|"): (0.6, 0.5)})
    ev = _evidence("disfa", 6, variants={"g2rl": "x_ `y`_ |z|"}, g2rl=_block((0.1, -0.05, 0.2), (-0.1, -0.2, 0.05)))
    settings = _settings(model__pretrained=" ".join(HOSTILE[:6]))
    settings["experiments"]["ablation"] = ["evil_", "x"]
    page = home_page(settings, [dataset_result("disfa", csv, ev), dataset_result("bp4d", csv, {**ev, "dataset": "bp4d"})])
    assert page.count(SPLIT) == 1
    body = render(page)
    assert "system-message" not in body and "problematic" not in body, body
    assert not re.search(r"<(script|a|iframe|img|object|style)\b", body), body
    text = text_of(body)
    assert " ".join(HOSTILE[:6]) in text and "evil_, x" in text and "G2RL (x_ `y`_ |z|) ICC 0.60" in text
    assert "G2RL (x_ `y`_ |z|) ICC +0.100" in text  # the difference, named as its row
    assert "G2RL reproduction on DEMO data: DISFA, BP4D" in text


def test_home_settings_hold_no_machine_path():
    config = load_config(None)
    config["disfa"]["root"] = "/home/someone/DISFA"
    assert "/home/someone" not in json.dumps(home_settings(config))


def test_report_home_command(tmp_path, capsys):
    csv = _table1_csv(tmp_path / "t.csv", {("Baseline", ""): (0.5, 0.6), ("G2RL", "stopgrad_aux"): (0.6, 0.5)})
    ev = tmp_path / "evidence.json"
    ev.write_text(json.dumps(_evidence("disfa", 6, g2rl=_block((0.1, -0.05, 0.2), (-0.1, -0.2, 0.05)))))
    settings = json.dumps(_settings())
    out = tmp_path / "report" / "home.rst"
    assert main(["report", "home", "--settings", settings, "--table1", str(csv), "--evidence", str(ev), "--out", str(out)]) == 0
    assert "- **DISFA** (6 test subjects, 2 seeds): Baseline ICC 0.50" in out.read_text()
    assert read_settings(settings) == json.loads(settings)
    bad = copy.deepcopy(json.loads(settings))
    del bad["model"]
    assert main(["report", "home", "--settings", json.dumps(bad), "--table1", str(csv), "--evidence", str(ev),
                 "--out", str(out)]) == 2
    assert "--settings: no key model" in capsys.readouterr().err
