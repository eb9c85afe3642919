"""The preprocessing chain as a library: landmarks -> no-face policy -> alignment -> AU points
-> HDF5 cache (crops, heatmaps per sigma) -> whole batches of rows.

Modules (each one job): :mod:`~g2rl.preprocess.model_files` (finding a package's model file),
:mod:`~g2rl.preprocess.dlib_models` (dlib's models), :mod:`~g2rl.preprocess.blazeface` (the BlazeFace
detector), :mod:`~g2rl.preprocess.detectors` (the ``--detector`` choice), :mod:`~g2rl.preprocess.landmarks`,
:mod:`~g2rl.preprocess.flags`, :mod:`~g2rl.preprocess.align`, :mod:`~g2rl.preprocess.au_points`,
:mod:`~g2rl.preprocess.heatmaps`, :mod:`~g2rl.preprocess.cache`, :mod:`~g2rl.preprocess.batches`,
:mod:`~g2rl.preprocess.cli` (``g2rl landmarks``).
Import from the submodules; this package imports nothing heavy itself.
"""
