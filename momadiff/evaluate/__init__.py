"""Evaluation: the text-motion evaluator (evaluator.py), metrics (metrics.py) and the benchmarks
(benchmark.py; CLI `python -m momadiff.evaluate {t2m,keyframes,vae,latency} ...`)."""
from .evaluator import Evaluator, EvaluatorConfig, TextMotionEvaluator

__all__ = ["Evaluator", "EvaluatorConfig", "TextMotionEvaluator"]
