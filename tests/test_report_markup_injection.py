"""Config values cannot put live markup into the report (issue 29 item 1), through Snakemake's own path.

The tiny finished run (the session's ``tiny_workflow``) is copied (its results hard-linked), its home page is
rebuilt by the workflow's report_home rule with a hostile ``model.pretrained`` (a weights file whose name holds
``.. raw::``, ``.. include::``, backquotes, a ``|substitution|``, ``_link`` / ``link_`` and ``<script>``), and a
real ``snakemake --report`` renders the home page and every caption through Jinja and docutils. None of it may
be live: no element, link, substitution or directive comes from it, the included file's text is nowhere, and the
value reads back as the characters it is. (Line breaks never get that far: the config refuses them,
tests/test_report_home.py.)
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import run_snakemake

SECRET = "G2RL-SECRET-MARKER-7f3a"


def report_parts(report: Path) -> tuple[str, dict[str, dict]]:
    """(the home page's HTML, {result path: its entry}) as report.html hands them to its app."""
    page = report.read_text()
    home = json.loads(re.search(r"var workflow_desc = (\".*?\");\n", page, re.S).group(1))
    results = json.loads(re.search(r"var results = (\{.*?\});\n", page, re.S).group(1))
    return home, results


# what docutils makes of our own templates: text structure and inline literals, nothing that runs or loads
PLAIN_TAGS = {"div", "h1", "p", "ul", "li", "strong", "em", "tt", "span", "a"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def live_markup(fragment: str) -> list[str]:
    """What in an HTML fragment is not plain text from our own templates: an element other than text structure,
    an event attribute, a link other than Snakemake's own to a report category, a docutils problem report."""
    parser = _Tags()
    parser.feed(fragment)
    found = []
    for tag, attrs in parser.tags:
        if tag not in PLAIN_TAGS or any(name.startswith("on") for name in attrs):
            found.append(f"<{tag} {attrs}>")
        if tag == "a" and not attrs.get("href", "").startswith("javascript:app.showCategory("):
            found.append(f"<a {attrs}>")
        if {"system-message", "problematic"} & set(attrs.get("class", "").split()):
            found.append(f"<{tag} {attrs}>")
    return found


@pytest.fixture(scope="module")
def hostile_report(tiny_workflow, tmp_path_factory) -> tuple[str, str, dict, Path]:
    work = tmp_path_factory.mktemp("hostile_report")
    for folder in ("results", "resources"):
        if (tiny_workflow / folder).exists():  # hard links: outputs are replaced by rename, never written in place
            linked = subprocess.run(["cp", "-al", str(tiny_workflow / folder), str(work / folder)], capture_output=True)
            if linked.returncode != 0:  # another file system (CI's .test beside a /tmp elsewhere): a real copy
                shutil.rmtree(work / folder, ignore_errors=True)
                shutil.copytree(tiny_workflow / folder, work / folder, symlinks=True)
    shutil.copytree(tiny_workflow / ".snakemake", work / ".snakemake", symlinks=True)
    (work / "results" / "demo" / "logs" / "report_home.log").unlink(missing_ok=True)  # the job writes its log in place
    secret = work / "secret.txt"
    secret.write_text(SECRET + "\n")
    value = (f"w `x <javascript:alert(1)>`_ |sub| _link link_ *em* <script>alert(2)</script> "
             f".. raw:: html .. include:: {secret}")
    weights = work / "weights" / value  # a real file: the DAG asks for it as the trainings' input
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not read")
    override = f"model={json.dumps({'pretrained': str(weights)})}"
    # only the home page is rebuilt (forced; mtime triggers, so the trainings whose params changed are left alone)
    run_snakemake(work, "--config", override, "--rerun-triggers", "mtime", "-f", "results/demo/report/home.rst")
    run_snakemake(work, "--config", override, "--report", "report.html")
    home, results = report_parts(work / "report.html")
    return str(weights), home, results, work / "report.html"


def test_home_page_shows_the_hostile_value_as_text(hostile_report):
    value, home, _, _ = hostile_report
    assert not live_markup(home), live_markup(home)
    assert SECRET not in home
    text = html.unescape(re.sub(r"<[^>]+>", "", home))
    assert f"weights from the file {value}" in text
    # the page itself came through: the title, the result per dataset, the links to the categories
    assert "G2RL reproduction on DEMO data: DISFA, BP4D" in text and "- **" not in text
    assert re.search(r"DISFA \(\d+ test subjects, \d+ seeds?[^\n]*?\): Baseline ICC -?\d\.\d\d, MAE \d\.\d\d; G2RL ", text)
    assert 'href="javascript:app.showCategory(\'Table%201\')"' in home


def test_every_caption_is_inert(hostile_report):
    value, _, results, _ = hostile_report
    assert len(results) >= 10
    shown = 0
    for path, entry in results.items():
        caption = entry["caption"]
        assert caption.strip(), f"{path}: no caption"
        assert not live_markup(caption), (path, live_markup(caption))
        assert SECRET not in caption
        if "Backbone initialisation" in caption:
            shown += 1
            assert f"<span class=\"pre\">{quote(value)}</span>" in caption, (path, caption)
    assert shown >= 6  # Table 1, and the sensitivity, heatmap and curve figures


def test_the_report_holds_no_secret(hostile_report):
    """`.. include::` read nothing: the file's text is nowhere in the report (captions, home page, rule info)."""
    assert SECRET not in hostile_report[3].read_text()
