"""The preprocessing chain as a library: landmarks -> no-face policy -> alignment -> AU points
-> HDF5 cache (crops, heatmaps per sigma) -> whole batches of rows.

Modules (each one job): :mod:`~g2rl.preprocess.dlib_models` (finding dlib's model),
:mod:`~g2rl.preprocess.landmarks`, :mod:`~g2rl.preprocess.flags`, :mod:`~g2rl.preprocess.align`,
:mod:`~g2rl.preprocess.au_points`, :mod:`~g2rl.preprocess.heatmaps`, :mod:`~g2rl.preprocess.cache`,
:mod:`~g2rl.preprocess.batches`, :mod:`~g2rl.preprocess.cli` (``g2rl landmarks``).
Import from the submodules; this package imports nothing heavy itself.
"""
