"""The report's home page as Snakemake renders it: workflow/report/workflow.rst through Jinja (the validated config
and the report's categories), then reStructuredText -> HTML, including the page the report_home rule writes
(g2rl.reports.home). It must give the run's title and result first, then link to the detail and say what was
run and on what data, for the demo and the paper configs alike."""

import json
import os
from pathlib import Path
from urllib.parse import quote

import jinja2
import pandas as pd
import pytest
import yaml
from docutils.core import publish_parts
from snakemake.report import Category

from g2rl.config import validate
from g2rl.reports.home import dataset_result, home_page, home_settings

REPO = Path(__file__).resolve().parent.parent
CATEGORIES = ["Ablation", "Figures 4-5 (examples)", "Table 1", "Training curves"]


def _result(tmp: Path, dataset: str):
    rows = [{"metric": m, "method": meth, "source": "ours", "Avg": v, "variant": var}
            for m, vals in (("ICC", (0.41, 0.45)), ("MAE", (0.61, 0.58)))
            for (meth, var), v in zip((("Baseline", ""), ("G2RL", "stopgrad_aux")), vals)]
    pd.DataFrame(rows).to_csv(tmp / f"t_{dataset}.csv", index=False)
    cell = {"diff": 0.04, "ci": [-0.01, 0.09], "win_share": 0.9, "ci_excludes_0": False, "seeds_agree": True}
    ev = {"dataset": dataset, "seeds": [0, 1, 2], "subjects": [f"S{i}" for i in range(27)],
          "methods": {"g2rl-stopgrad_aux": {"label": "G2RL + stop-grad/teach"}},
          "differences": {"g2rl-stopgrad_aux": {"label": "G2RL + stop-grad/teach − Baseline",
                                                "avg": {"icc": cell, "mae": {**cell, "diff": -0.03, "ci": [-0.06, 0.0]}}}}}
    return dataset_result(dataset, tmp / f"t_{dataset}.csv", ev)


def render(config: dict, tmp: Path) -> str:
    """The home page's HTML as `snakemake --report` makes it, in working directory ``tmp``."""
    page = tmp / config["results"] / "report" / "home.rst"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(home_page(home_settings(config), [_result(tmp, d) for d in config["datasets"]]))

    class Snakemake:  # what snakemake.report passes to the template
        pass

    Snakemake.config = config
    # Snakemake's own Jinja settings (snakemake.report): trim_blocks drops the newline after a block tag
    text = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True).from_string(
        (REPO / "workflow" / "report" / "workflow.rst").read_text()).render(
            snakemake=Snakemake, categories={Category(c): {} for c in CATEGORIES}, files=[])
    links = "".join(f"\n.. _{c}: javascript:app.showCategory('{quote(c)}')" for c in CATEGORIES)
    cwd = os.getcwd()
    os.chdir(tmp)  # docutils resolves the include against the working directory, as in Snakemake
    try:
        parts = publish_parts(text + "\n" + links, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})
    finally:
        os.chdir(cwd)
    return parts["html_body"]


def test_demo_home_page_opens_on_the_title_and_result(tmp_path):
    cfg = validate(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), source="demo")
    html = render(cfg, tmp_path)
    assert '<h1 class="title">G2RL reproduction on DEMO data: DISFA, BP4D</h1>' in html
    # the order a reader meets them: data note, result, links to the detail, what was run
    order = [html.index(s) for s in ("DEMO DATA", "<strong>Result</strong>", "<strong>Details</strong>",
                                     "<strong>What was run</strong>")]
    assert order == sorted(order)
    assert "not comparable with the paper" in html
    assert ("<li><strong>DISFA</strong> (27 test subjects, 3 seeds): Baseline ICC 0.41, MAE 0.61; G2RL (stopgrad_aux) "
            "ICC 0.45, MAE 0.58. Against the Baseline: G2RL + stop-grad/teach ICC +0.040 [-0.010, +0.090], "
            "MAE -0.030 [-0.060, +0.000], no clear difference.") in html
    details = html.split("<strong>Details</strong>")[1].split("</p>")[0]
    for c in CATEGORIES:
        assert f"showCategory('{quote(c)}')\">{c}</a>" in details, c
    for fact in (f"DISFA {len(cfg['disfa']['folds'])} subject-independent folds", "resnet18 up to layer3",
                 "random initialisation (no ImageNet weights", f"{cfg['train']['epochs']} epochs", "seeds 0, 1",
                 "sigma = 2, lambda = 0.05", "guidance literal (the paper's Eq. 6/8 as written",
                 "<strong>Table 1 rows</strong>: Baseline, G2RL (literal), and a row for each of stopgrad_aux"):
        assert fact in html, fact


def test_paper_home_page_names_the_real_data(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "disfa.yaml").read_text())
    cfg["disfa"]["root"] = str(tmp_path)  # validation checks the root exists
    cfg["model"]["pretrained"] = "/weights/resnet50.pth"
    html = render(validate(cfg, source="disfa"), tmp_path)
    assert "DEMO" not in html and "Results on the real data (DISFA)" in html
    assert "resnet50, deconvolutions" in html and "weights from the file /weights/resnet50.pth" in html
    assert "3 subject-independent folds" in html and ", GPU;" in html
    assert "demo data" not in html.split("<strong>Result</strong>")[1]
    cfg["model"]["pretrained"] = "imagenet"
    assert "ImageNet weights (imagenet, torchvision's IMAGENET1K_V1)" in render(validate(cfg, source="d"), tmp_path)


def test_every_bullet_is_its_own_item(tmp_path):
    """Every fact is its own list item (a line that breaks the rst list turns it into a heading or a run-on)."""
    cfg = validate(yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text()), source="tiny")
    html = render(cfg, tmp_path)
    for item in ("DISFA", "BP4D", "Data", "Network", "Training", "G2RL", "Table 1 rows", "Also"):
        assert f"<li><strong>{item}</strong>" in html, item
    assert "- <strong>" not in html and "<dt>" not in html and "ablation variants pairs, stopgrad_aux" in html


@pytest.mark.parametrize("guidance, said", [("stopgrad_aux", "stop-gradient on G and the L_teach head: not the "
                                                            "paper's Eq. 6/8 as written, which is literal"),
                                            ("literal", "the paper's Eq. 6/8 as written")])
def test_home_page_names_the_g2rl_variant(tmp_path, guidance, said):
    cfg = validate(yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text()), source="tiny")
    cfg["model"]["guidance"] = guidance
    html = render(cfg, tmp_path)
    assert f"<li><strong>G2RL</strong>: guidance {guidance} ({said}" in html
    assert "AU points hr" in html


def test_home_settings_are_json(tmp_path):
    cfg = validate(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), source="demo")
    assert json.loads(json.dumps(home_settings(cfg))) == home_settings(cfg)
