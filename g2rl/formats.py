"""Format tags and fixed names of the files g2rl writes, in one low module: a writer (e.g. the training's
``diagnostics.json``, the demo's summary) and its readers (the reports, provenance) import them from here,
neither from the other.
"""

# diagnostics.json of one training run (g2rl.training.diagnostics writes it, g2rl.reports reads it)
DIAGNOSTICS_FORMAT = "g2rl-diagnostics/1"

# the file the demo generator leaves at the top of the tree it writes (g2rl.demo.generator); provenance
# tells demo media from real media by it
DEMO_SUMMARY_NAME = "demo_summary.json"
