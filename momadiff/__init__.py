"""momadiff: text-to-motion with sparse keyframe control by masked autoregressive diffusion."""
__version__ = "0.1.0"
