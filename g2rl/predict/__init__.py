"""``g2rl predict``: AU intensities for anyone's videos and images, from a trained checkpoint.

Library use::

    from g2rl.predict import load_au_model, run_predict
    result = run_predict("model.pt", ["clip.mp4", "photos/"], "aus.csv")
    result.table        # one row per frame (and face): file, frame, face_id, timestamp, confidence,
                        # success, detector_score, face box, head pose, AUxx_r ...

Modules: ``model`` (checkpoint -> crops to intensities), ``inputs`` (INPUT paths -> units),
``stream`` (the landmark stage beside the network: thread or worker processes; the HOG or CNN
face detector is g2rl.preprocess.detectors), ``pose`` (face box and head pose from the 68 points),
``tracking`` (face ids kept through a video), ``pipeline`` (the stage's results -> network batches
-> table), ``confidence`` (how well the 68 points fit a face, 0-1), ``threads`` (torch's threads
beside the landmark stage), ``output`` (output checks before any work, rescue of the rows),
``overlays`` (heatmap PNGs, Figure 4 style), ``record`` (demo warning, provenance beside the CSV),
``options`` (the run's settings), ``run`` (the whole command), ``cli`` (its arguments).
docs/PREDICT.md describes the output.
"""

from g2rl.predict.cli import add_arguments, interrupted_note, main

__all__ = ["add_arguments", "interrupted_note", "load_au_model", "main", "run_predict"]


def __getattr__(name: str):
    # torch-importing parts load on first use, so `g2rl --help` stays fast
    if name == "load_au_model":
        from g2rl.predict.model import load_au_model

        return load_au_model
    if name == "run_predict":
        from g2rl.predict.run import run_predict

        return run_predict
    raise AttributeError(name)
