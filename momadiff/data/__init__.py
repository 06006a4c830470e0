"""Motion datasets: one on-disk format (dataset.py), its builders (bandai.py, humanml3d.py),
captions written from labels (captions.py) and the CLI (`python -m momadiff.data build ...`)."""
from .dataset import (SPLITS, Batch, MotionDataset, WindowSampler, crop_length,
                      normalization_stats, write_dataset)

__all__ = ["SPLITS", "Batch", "MotionDataset", "WindowSampler", "crop_length",
           "normalization_stats", "write_dataset"]
