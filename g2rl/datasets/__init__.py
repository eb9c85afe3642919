"""Readers that turn a BP4D or DISFA tree into one frame index (see docs/CONTRACTS.md).

`index_disfa` and `index_bp4d` read the layouts the paper used (and the demo dataset imitates);
every path pattern, frame offset and split is a parameter, with the documented defaults.
"""

from g2rl.datasets.bp4d import index_bp4d
from g2rl.datasets.disfa import index_disfa
from g2rl.datasets.frame_index import AU_COLUMN, INDEX_KEY_COLUMNS, au_column, read_frame_index, write_frame_index

__all__ = [
    "AU_COLUMN",
    "INDEX_KEY_COLUMNS",
    "au_column",
    "index_bp4d",
    "index_disfa",
    "read_frame_index",
    "write_frame_index",
]
