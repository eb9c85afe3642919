"""Which G2RL a table shows: its guidance variant and the model choices the paper does not make.

The paper's G2RL trains Eq. 6/8 as written (``guidance: literal``), which collapses to a constant G
(docs/METHOD.md); the paper configs run it as Table 1's G2RL, and our fix (``stopgrad_aux``, the library's
default) as a row of its own, "G2RL + stop-grad/teach". A row called just "G2RL" would hide which one ran,
so every table names the variant in its row label and lists the other choices in its caption. They come
from the runs themselves: each metrics.json's provenance holds its training config (``config.model``).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from g2rl.model.variants import GUIDANCE_SHORT, is_baseline, method_label

# the paper's reading of each choice we name when a run differs from it
PAPER_CHOICES = {"guidance": "literal", "heatmap_layout": "per_point", "heatmap_peak": "eq1",
                 "geometry_input": "aligned"}
WHAT = {
    "guidance": {"stopgrad_aux": "stop-gradient on G, G on a fixed-norm sphere and the L_teach head that gives G "
                                 "content (not the paper's Eq. 6/8 as written, which is guidance literal)",
                 "literal": "Eq. 6/8 as written",
                 "literal_fixed_norm": "Eq. 6/8 with G on a fixed-norm sphere"},
    "heatmap_layout": {"per_au": "one heatmap per AU (the paper: one per AU location)",
                       "per_point": "one heatmap per AU location"},
    "heatmap_peak": {"eq1": "peak I / (2 pi sigma^2) as Eq. 1 prints it", "intensity": "peak I (not Eq. 1)"},
}


def run_model(records: Iterable[Mapping | None]) -> dict | None:
    """The ``model`` section shared by the runs' provenance records; None when none has one or they differ."""
    models = [((r or {}).get("config") or {}).get("model") for r in records]
    models = [m for m in models if m]
    if not models or any(m != models[0] for m in models[1:]):
        return None
    return models[0]


def metrics_model(metrics: Iterable[Mapping]) -> dict | None:
    """:func:`run_model` over the training records of loaded metrics.json files (``provenance.inputs``)."""
    return run_model(rec for m in metrics for rec in ((m.get("provenance") or {}).get("inputs") or {}).values())


def variant_name(model: Mapping | None) -> str:
    """The short name for a row label: the guidance variant ('stopgrad_aux'); '' when unknown."""
    return str(model.get("guidance", "")) if model else ""


def choices_note(model: Mapping | None, method: str = "G2RL") -> str:
    """One sentence naming the guidance and each choice that differs from the paper's reading, plus the AU
    points (which the paper does not list); '' when the runs' model is unknown or mixed."""
    if not model:
        return ""
    parts = []
    for key in ("guidance", "heatmap_layout", "heatmap_peak"):
        value = model.get(key)
        if value is not None and (key == "guidance" or value != PAPER_CHOICES[key]):
            parts.append(f"{key} {value}: {WHAT[key].get(value, value)}")
    if model.get("au_points") is not None:
        parts.append(f"AU points {model['au_points'] if isinstance(model['au_points'], str) else 'custom'} "
                     "(docs/AU_POINTS.md)")
    if model.get("geometry_input", "aligned") != PAPER_CHOICES["geometry_input"]:
        parts.append(f"geometry input {model['geometry_input']}")
    return f"{method} (ours) is " + "; ".join(parts)


def row_identities(rows: Mapping[str, Iterable[Mapping]]) -> dict[str, dict]:
    """Per Table 1 row ({workflow method: its loaded metrics.json files}): ``label`` (g2rl.model.variants.
    method_label), ``variant`` (the guidance it ran; None for a Baseline or when unknown) and ``variant_note``
    (what that guidance is). The labels come from the runs' own records, so a row can never be called by
    another variant's name."""
    models = {row: metrics_model(list(ms)) for row, ms in rows.items()}
    g2rl_model = models.get("g2rl")
    out = {}
    for row, model in models.items():
        variant = None if is_baseline(row) else variant_name(model) or None
        out[row] = {"label": method_label(row, model, g2rl_model), "variant": variant,
                    "variant_note": GUIDANCE_SHORT.get(variant) if variant else None}
    return out
