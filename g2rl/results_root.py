"""Which data a results folder holds, so a demo run and a real-data run never share one.

The workflow writes every output under the config's ``results`` folder. Its default is ``results/<data_label>``
(``results/demo``, ``results/real``), so the demo and the paper configs keep apart without a setting. A folder a
user names explicitly is claimed for one data label on first use: :data:`MARKER` records it, and a run with the
other label stops before it plans anything, with one line naming the folder, instead of rerunning the demo's jobs
over real data (the same paths) or reporting both together.
"""

from __future__ import annotations

import os
from pathlib import Path

from g2rl.errors import ConfigError
from g2rl.jsonfile import read_json, write_json

MARKER = "g2rl-results.json"
FORMAT = "g2rl-results/1"


def default_results(data_label: str) -> str:
    """The results folder of a config that names none: ``results/<data_label>``."""
    return f"results/{data_label}"


def claim_results_root(results: str | os.PathLike, data_label: str) -> None:
    """Mark ``results`` as holding ``data_label`` results, or :class:`ConfigError` if it holds the other kind.

    The Snakefile calls this when it is parsed (a dry run too: the marker is a small file, and the folder is the
    run's own). A folder without the marker (made before it existed) is claimed as it is."""
    folder = Path(results)
    marker = folder / MARKER
    if marker.is_file():
        held = read_json(marker, FORMAT, "results marker").get("data_label")
        if held != data_label:
            raise ConfigError(
                f"{marker}: the folder {results} holds {held} results and this config's data_label is {data_label}; "
                f"demo and real-data outputs share paths, so they are never mixed: set `results:` to another folder "
                f"(the default is {default_results(data_label)})")
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json({"format": FORMAT, "data_label": data_label,
                    "note": "written by the g2rl workflow: this folder holds the results of one kind of data"}, marker)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the results folder ({exc.strerror or exc})") from None
