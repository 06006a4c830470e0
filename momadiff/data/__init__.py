"""Motion datasets: one on-disk format (dataset.py), its builders (bandai.py, humanml3d.py,
folder.py for any folder of BVH / ASF+AMC files with a captions file (captionfile.py), cmu.py),
captions written from labels (captions.py), several folders read as one with sampling weights
(multi.py) and the CLI (`python -m momadiff.data build ...`)."""
from .dataset import (SPLITS, Batch, MotionDataset, WindowSampler, crop_length,
                      normalization_stats, write_dataset)
from .multi import MultiDataset, describe_weights, open_datasets, sampling_weights

__all__ = ["SPLITS", "Batch", "MotionDataset", "WindowSampler", "crop_length",
           "normalization_stats", "write_dataset", "MultiDataset", "open_datasets",
           "sampling_weights", "describe_weights"]
