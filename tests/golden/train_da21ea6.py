"""Train the tiny caches in /tmp/golden-caches with the checkout given as argv[1] (da21ea6): see README.md here.
Not a test (pytest collects test_*.py only)."""

import sys

import torch

sys.path.insert(0, sys.argv[1] + "/tests")
from g2rl.training import train_fold  # noqa: E402  (the old checkout's package, through PYTHONPATH)
from test_training_fakes import small_settings  # noqa: E402

torch.set_num_threads(1)
for lam, name in ((0.0, "baseline"), (0.05, "g2rl")):
    s = small_settings(epochs=2, batch_size=2, lambda_g=lam, in_memory="off", deconv_channels=(8, 8, 8),
                       allow_random_init=True)
    train_fold("/tmp/golden-caches/crops.h5", "/tmp/golden-caches/heatmaps_s2.h5", "1", f"/tmp/golden-out/{name}", s,
               seed=0, device="cpu")
