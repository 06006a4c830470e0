"""Benchmarks from the command line; each prints a table and writes <out>/<name>.json.

    python -m momadiff.evaluate t2m       --model runs/t2m --evaluator runs/evaluator/evaluator.pt --data data/bandai [--quick]
    python -m momadiff.evaluate keyframes --model DIR --evaluator PATH --data data/bandai [--quick]
    python -m momadiff.evaluate vae       --model DIR --evaluator PATH --data data/bandai [--bvh-dir DIR ...] [--quick]
    python -m momadiff.evaluate latency   --model DIR [--quick]
    python -m momadiff.evaluate wording   --model DIR --evaluator PATH --data data/bandai [--reference data/cmu ...] [--quick]
    python -m momadiff.evaluate control   --model DIR --evaluator PATH --data data/bandai [--quick]
    python -m momadiff.evaluate segments  --model DIR --evaluator PATH --data data/bandai [--quick]

--quick runs a small subset (a couple of minutes on 2 CPU cores) with fewer repeats; --clips,
--repeats and --runs override the subset sizes either way.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from . import benchmark

# (full, quick) defaults per benchmark
DEFAULTS = {
    "t2m": {"clips": (None, 32), "repeats": (3, 1), "mm_texts": (20, 6), "mm_samples": (5, 3)},
    "keyframes": {"clips": (32, 8)},
    "vae": {"clips": (None, 16)},
    "latency": {"runs": (5, 1)},
    "wording": {"seeds": (3, 1)},
    "control": {"clips": (48, 8), "runs": (5, 1)},
    "segments": {"timelines": (32, 8), "long_timelines": (32, 8), "runs": (3, 1)},
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m momadiff.evaluate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", choices=sorted(DEFAULTS))
    p.add_argument("--model", default=None, help="model folder with vae.pt + t2m.pt (default: the bundled assets/model)")
    p.add_argument("--evaluator", default=None, help="evaluator checkpoint (train/train_evaluator.py)")
    p.add_argument("--data", default="data/bandai", help="dataset folder")
    p.add_argument("--out", default="results", help="folder for <benchmark>.json")
    p.add_argument("--quick", action="store_true", help="a small subset, fewer repeats")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips", type=int, default=None, help="clips per split (default: all, or a few with --quick)")
    p.add_argument("--repeats", type=int, default=None, help="t2m: repeated runs for the 95%% interval")
    p.add_argument("--mm-texts", type=int, default=None, help="t2m: captions for MultiModality")
    p.add_argument("--mm-samples", type=int, default=None, help="t2m: samples per caption for MultiModality")
    p.add_argument("--runs", type=int, default=None, help="latency: runs per setting (median)")
    p.add_argument("--seconds", type=float, nargs="+", default=None,
                   help="latency: motion lengths in seconds (default 2 5 10)")
    p.add_argument("--bvh-dir", action="append", default=[], help="vae: also reconstruct every .bvh and .amc (+ .asf) under DIR (repeatable)")
    p.add_argument("--seeds", type=int, default=None, help="wording: seeds per prompt")
    p.add_argument("--reference", action="append", default=None,
                   help="wording: more dataset folders whose real clips the evaluator retrieves among (default: data/cmu when built)")
    p.add_argument("--timelines", type=int, default=None, help="segments: timelines of 4 segments of 3-8 s")
    p.add_argument("--long-timelines", type=int, default=None, help="segments: 60 s timelines for the FID per window")
    p.add_argument("--gap", type=float, default=0.0, help="segments: seconds between segments (free in-fill)")
    p.add_argument("--scheme", choices=("windows", "sequential"), default="windows",
                   help="segments: long motions as one process over overlapping windows, or window after window")
    p.add_argument("--gap-text", choices=("null", "nearest"), default=None,
                   help="condition gaps between segments on the null text or the nearest segment's")
    p.add_argument("--window-overlap", type=float, default=None,
                   help="fraction of a transformer window its neighbour shares, for motions beyond max_latents")
    p.add_argument("--segment-context", type=int, default=None,
                   help="latents each side of a segment boundary that its transition passes see")
    p.add_argument("--segment-blend", type=int, default=None,
                   help="latents each side of a boundary conditioned by a transition pass (0 = none)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--split", default="test", help="t2m, control: the split to score (tune on val, report test)")
    p.add_argument("--cfg-scale", type=float, default=None,
                   help="sample with this guidance scale instead of the model's default")
    p.add_argument("--temperature", type=float, default=None,
                   help="sample with this head temperature instead of the model's default")
    p.add_argument("--noise-corr", type=float, default=None,
                   help="sample with this correlation length (latents) of the head's noise instead of the model's default")
    p.add_argument("--decode-noise", type=float, default=None,
                   help="decode generated latents at this noise level (noise-conditioned decoders) instead of the model's default")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from ..model.checkpoint import CheckpointError
    from ..data.dataset import MotionDataset
    from ..pipeline import Pipeline
    from .evaluator import Evaluator

    if args.threads:
        torch.set_num_threads(args.threads)
    q = int(args.quick)
    opt = {k: (getattr(args, k) if getattr(args, k) is not None else v[q]) for k, v in DEFAULTS[args.benchmark].items()}
    t0 = time.time()
    pipe = Pipeline.from_pretrained(args.model)
    for name in ("cfg_scale", "temperature", "noise_corr", "decode_noise", "gap_text", "window_overlap",
                 "segment_context", "segment_blend"):
        if getattr(args, name) is not None:
            pipe.sampler = dataclasses.replace(pipe.sampler, **{name: getattr(args, name)})
    ev = None
    # Caption embeddings are cached with the results, never beside a shipped checkpoint.
    cache = Path(args.out) / "caption_cache.npz"
    if args.evaluator is not None and args.benchmark != "latency":
        try:
            # Share the pipeline's sentence encoder when it is the one the evaluator needs.
            ev = Evaluator.from_checkpoint(args.evaluator, text_encoder=pipe.text_encoder, cache_path=cache)
        except CheckpointError:
            ev = Evaluator.from_checkpoint(args.evaluator, cache_path=cache)
    elif args.benchmark in ("t2m", "segments"):
        raise SystemExit(f"error: {args.benchmark} needs --evaluator (train one with train/train_evaluator.py)")
    ds = None
    if args.benchmark in ("t2m", "keyframes", "wording", "control", "segments") or (args.benchmark == "vae" and (
            not args.bvh_dir or (Path(args.data) / "clips.json").exists())):
        ds = MotionDataset(args.data)

    if args.benchmark == "t2m":
        result = benchmark.t2m(pipe, ev, ds, clips=opt["clips"], repeats=opt["repeats"], mm_texts=opt["mm_texts"],
                               mm_samples=opt["mm_samples"], seed=args.seed, split=args.split)
    elif args.benchmark == "keyframes":
        result = benchmark.keyframes(pipe, ev, ds, clips=opt["clips"], seed=args.seed)
    elif args.benchmark == "vae":
        result = benchmark.vae(pipe, ev, ds, clips=opt["clips"], seed=args.seed, bvh_dirs=args.bvh_dir)
    elif args.benchmark == "wording":
        from . import wording
        result = wording.run(pipe, ev, ds, seeds=opt["seeds"], references=args.reference, quick=args.quick)
    elif args.benchmark == "control":
        from .control import control
        results = control(pipe, ev, ds, clips=opt["clips"], seed=args.seed, split=args.split,
                          latency_runs=opt["runs"])
    elif args.benchmark == "segments":
        from .timeline import segments_benchmark
        result = segments_benchmark(pipe, ev, ds, timelines=opt["timelines"], long_timelines=opt["long_timelines"],
                                    runs=opt["runs"], seed=args.seed, gap=args.gap, scheme=args.scheme)
    else:
        result = benchmark.latency(pipe, runs=opt["runs"], seed=args.seed,
                                   seconds=tuple(args.seconds or benchmark.LATENCY_SECONDS))
    if args.benchmark != "control":
        results = [result]
    for result in results:
        result.settings.update(quick=args.quick, wall_seconds=round(time.time() - t0, 1))
        benchmark.report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
