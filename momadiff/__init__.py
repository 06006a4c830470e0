"""momadiff: text-to-motion with sparse keyframe control by masked autoregressive diffusion.

    from momadiff import Pipeline, Keyframe
    pipe = Pipeline.from_pretrained()
    motion = pipe.generate("a person waves the right hand", seconds=6.0, seed=0)
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Pipeline", "Keyframe", "Motion", "GenerationError"]


def __getattr__(name: str):
    # Lazy, so `import momadiff.motion.bvh` does not pull in torch.
    if name in ("Pipeline", "Motion", "GenerationError"):
        from . import pipeline
        return getattr(pipeline, name)
    if name == "Keyframe":
        from .keyframes import Keyframe
        return Keyframe
    raise AttributeError(f"module 'momadiff' has no attribute {name!r}")
