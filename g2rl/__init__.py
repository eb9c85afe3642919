"""g2rl: a reproducible pipeline for Geometry-Guided Representation Learning (G2RL)
for facial action unit intensity estimation."""

__version__ = "0.1.0"
