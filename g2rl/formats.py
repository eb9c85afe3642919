"""Format tags of the JSON files g2rl writes, in one low module: a writer (e.g. the training's
``diagnostics.json``) and its readers (the reports) import the tag from here, neither from the other.
"""

# diagnostics.json of one training run (g2rl.training.diagnostics writes it, g2rl.reports reads it)
DIAGNOSTICS_FORMAT = "g2rl-diagnostics/1"
