"""Map a dataset's config section (config/*.yaml, validated by the schema) onto its reader."""

from __future__ import annotations

import pandas as pd

from g2rl.datasets.bp4d import index_bp4d
from g2rl.datasets.disfa import index_disfa
from g2rl.errors import ConfigError

DATASETS = ("disfa", "bp4d")


def index_from_config(dataset: str, section: dict) -> pd.DataFrame:
    """Build the frame index of `dataset` from its config section (keys as in g2rl/resources/config.schema.yaml)."""
    if dataset == "disfa":
        return index_disfa(
            root=section["root"],
            folds=section["folds"],
            aus=section["aus"],
            video_pattern=section["video"],
            label_pattern=section["labels"],
            label_frame_offset=section["label_frame_offset"],
        )
    if dataset == "bp4d":
        return index_bp4d(
            root=section["root"],
            partitions=section["partitions"],
            aus=section["aus"],
            image_pattern=section["images"],
            label_pattern=section["labels"],
            frame_padding=section["frame_padding"],
            image_frame_offset=section["image_frame_offset"],
            sessions=section["sessions"],
        )
    raise ConfigError(f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")
