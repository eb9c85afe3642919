"""The Snakemake report of the tiny run, opened in headless Chromium: every table is a rendered HTML table
(not a download link, not Markdown in a <pre>), Figure 4 is a page that scrolls from its top, the home page
lists every table, and no job parameter shows a machine path.

The report is a single-page app whose results are data URIs; the viewer shows an ``text/html`` result in an
iframe. The test loads the real report.html with one added script that, once the app has drawn, copies each
HTML result's decoded document into the page, then reads the DOM Chromium dumps.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_snakemake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)")

# Runs in the report after its app has drawn: each text/html result decoded into a <div class="probe">.
PROBE = """<script>setTimeout(function () {
  for (const [path, r] of Object.entries(results)) {
    const div = document.createElement("div");
    div.className = "probe"; div.dataset.path = path; div.dataset.mime = r.mime_type;
    if (r.mime_type === "text/html") {
      const b64 = r.data_uri.slice(r.data_uri.indexOf("base64,") + 7);
      div.innerHTML = new TextDecoder().decode(Uint8Array.from(atob(b64), c => c.charCodeAt(0)));
    }
    document.body.appendChild(div);
  }
}, 1500);</script>"""


def dump_dom(report: Path, tmp: Path) -> str:
    page = report.read_text()
    cut = page.rindex("</body>")
    probed = tmp / "probed.html"
    probed.write_text(page[:cut] + PROBE + page[cut:])
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=6000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def probes(dom: str) -> dict[str, tuple[str, str]]:
    """{result path: (mime type, the decoded HTML)} of every result in the report."""
    found = re.findall(r'<div class="probe" data-path="([^"]+)" data-mime="([^"]+)">(.*?)</div>(?=<div class="probe"|'
                       r'</body>)', dom, flags=re.S)
    return {path: (mime, body) for path, mime, body in found}


def cells(body: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]


@pytest.fixture(scope="module")
def report_dom(tiny_workflow, tmp_path_factory) -> tuple[str, str]:
    run_snakemake(tiny_workflow, "--report", "report.html")
    report = tiny_workflow / "report.html"
    return report.read_text(errors="replace"), dump_dom(report, tmp_path_factory.mktemp("chromium"))


def test_every_table_renders_as_a_table(report_dom):
    _, dom = report_dom
    shown = probes(dom)
    assert shown, "the report's app did not load (no results found in the DOM)"
    for dataset in ("disfa", "bp4d"):
        expect = {f"results/tables/table1_{dataset}.html": ["G2RL (ours, literal)", "Baseline (ours)", "KJRE", "Avg",
                                                            "G2RL + stop-grad/teach (ours)"],
                  f"results/tables/g2rl_vs_baseline_{dataset}.html": ["Avg", "ICC", "MAE"],
                  f"results/{dataset}/ablation/table.html": ["Baseline", "G2RL", "G2RL + stop-grad/teach",
                                                             "Baseline pairs", "G2RL pairs",
                                                             "random init (same architecture)"]}
        for path, words in expect.items():
            mime, body = shown[path]
            assert mime == "text/html", f"{path} is {mime}: the report would offer a download, not a table"
            got = cells(body)
            assert len(got) > 10, f"{path}: no table cells"
            for word in words:
                assert word in got, f"{path}: no cell {word!r}"
            assert "<pre" not in body and "| ---" not in body and "|---" not in body, f"{path}: raw Markdown"
        # Table 1's uncertainty block is a table whose cells read 'mean ± sd [lo, hi]'
        t1 = cells(shown[f"results/tables/table1_{dataset}.html"][1])
        assert any(re.fullmatch(r"-?\d\.\d\d ± \d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]", c) for c in t1)
    # no CSV or Markdown table is offered as the thing to look at
    assert not [p for p, (mime, _) in shown.items() if p.endswith((".csv", ".md"))]


def test_figure4_is_a_page_that_scrolls_from_its_top(report_dom):
    _, dom = report_dom
    shown = probes(dom)
    for dataset in ("disfa", "bp4d"):
        mime, body = shown[f"results/figures/heatmaps_{dataset}.html"]
        assert mime == "text/html" and "<img" in body and "max-width:100%" in body


def test_home_page_lists_every_table_and_no_machine_path(report_dom):
    raw, dom = report_dom
    home = dom.split("What is in this report")[1] if "What is in this report" in dom else ""
    for item in ("Table 1", "G2RL vs Baseline", "Ablation"):
        assert f"<strong>{item}</strong>" in home, item
    # job parameters (rule info) and captions: no interpreter, virtualenv or checkout path of this machine
    for path in {sys.executable, sys.prefix, str(REPO)}:
        assert path not in raw, f"the report shows the local path {path}"
    assert "/.venv/" not in raw
