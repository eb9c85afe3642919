"""Evaluation outputs: metrics.json per run, the paper's Table 1 next to ours, and the figures.

- :mod:`g2rl.reports.evaluate`: predictions CSV(s) -> metrics dict / metrics.json (per fold, pooled).
- :mod:`g2rl.reports.paper_table`: the paper's published Table 1 (``config/paper_table1.csv``).
- :mod:`g2rl.reports.table1`: our Baseline and G2RL rows next to the paper's, as CSV / Markdown / LaTeX.
- :mod:`g2rl.reports.figures`: sensitivity curves (Figs. 6-7), heatmap examples (Fig. 4),
  intensity curves (Fig. 5).
- :mod:`g2rl.reports.cli`: ``g2rl evaluate``.
"""
