"""The report's home page (workflow/report/workflow.rst) as Snakemake renders it: Jinja with the validated
config, then reStructuredText -> HTML. It must say what was run and on what data, for the demo and the paper
configs alike."""

from pathlib import Path

import jinja2
import yaml
from docutils.core import publish_parts

from g2rl.config import validate

REPO = Path(__file__).resolve().parent.parent


def render(config: dict) -> str:
    # Snakemake's own Jinja settings (snakemake.report): trim_blocks drops the newline after a block tag
    class Snakemake:  # what snakemake.report passes to the template
        pass

    Snakemake.config = config
    text = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True).from_string(
        (REPO / "workflow" / "report" / "workflow.rst").read_text()).render(snakemake=Snakemake)
    parts = publish_parts(text, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})
    return parts["html_body"]


def test_demo_home_page_says_demo_in_capitals():
    cfg = validate(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), source="demo")
    html = render(cfg)
    assert "DEMO DATA" in html and "not comparable with the paper" in html
    assert f"<li><strong>Protocol</strong>: DISFA: {len(cfg['disfa']['folds'])} subject-independent folds" in html
    assert "<li><strong>Network</strong>: resnet18 backbone" in html
    # the demo's short trunk (two deconvolution widths) is named as a departure from the paper's network
    assert ("up to layer3 (layer4 dropped" in html) == (len(cfg["model"]["deconv_channels"]) == 2)
    for fact in ("resnet18 backbone", "random (no ImageNet weights", f"{cfg['train']['epochs']} epochs",
                 "Seeds</strong>: 0", "sigma = 2, lambda = 0.05", "DISFA, BP4D"):
        assert fact in html, fact


def test_paper_home_page_names_the_real_data(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "disfa.yaml").read_text())
    cfg["disfa"]["root"] = str(tmp_path)  # validation checks the root exists
    cfg["model"]["pretrained"] = "/weights/resnet50.pth"
    html = render(validate(cfg, source="disfa"))
    assert "DEMO" not in html and "Results on the real data: DISFA" in html
    assert "resnet50 backbone," in html and "ImageNet weights (/weights/resnet50.pth)" in html
    assert "3 subject-independent folds" in html and "GPU (--device cuda)" in html
    # every fact is its own list item (a Jinja line that breaks the rst list turns it into a heading)
    assert "<dt>" not in html.split("What was run")[1].split("</dd>")[0]


def test_every_bullet_is_its_own_item_and_the_contents_list_every_table():
    """Under Snakemake's trim_blocks a line ending in ``{% endif %}`` loses its newline and runs into the next
    bullet; the contents list names the comparison and the ablation that the report shows."""
    cfg = validate(yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text()), source="tiny")
    html = render(cfg)
    assert "<li><strong>Network</strong>" in html and "- <strong>Network" not in html
    contents = html.split("What is in this report")[1]
    for item in ("Table 1", "G2RL vs Baseline", "Ablation", "Training curves", "Figures 4-5", "Figures 6-7"):
        assert f"<li><strong>{item}</strong>" in contents, item
    assert "stopgrad_aux, pairs" in contents


def test_home_page_names_the_g2rl_variant():
    """The tiny config runs Table 1's G2RL as the paper writes it and our stopgrad_aux as an extra row."""
    cfg = validate(yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text()), source="tiny")
    html = render(cfg)
    assert "<li><strong>G2RL variant</strong>: guidance <tt class=\"docutils literal\">literal</tt> (Eq. 6/8 as written)" in html
    assert "AU points <tt class=\"docutils literal\">hr</tt>" in html
    assert "has a row for each of stopgrad_aux beside it" in html and "our fix, not the paper's method" in html
    cfg["model"]["guidance"] = "stopgrad_aux"
    assert "not the paper's Eq. 6/8 as written" in render(cfg)
