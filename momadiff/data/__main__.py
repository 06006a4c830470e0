"""CLI: build a dataset folder, or print what one holds.

    python -m momadiff.data build bandai --source ../shared/data/bandai-namco-motion.tar.xz --out data/bandai
    python -m momadiff.data build bandai --source data/raw --out data/bandai
    python -m momadiff.data build humanml3d --source path/to/HumanML3D --out data/hml
    python -m momadiff.data build bvh-folder --source DIR --captions captions.csv --out data/X
    python -m momadiff.data build cmu --source ../shared/data/cmu-mocap-subset.tar.xz --out data/cmu
    python -m momadiff.data info data/bandai
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .dataset import SPLITS, MotionDataset, format_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m momadiff.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build a dataset folder")
    build.add_argument("kind", choices=["bandai", "humanml3d", "bvh-folder", "cmu"])
    build.add_argument("--source", required=True,
                       help="bandai, cmu: the .tar.xz or a folder with the unpacked data; "
                            "humanml3d: a HumanML3D-format folder; bvh-folder: a folder of .bvh / "
                            ".amc+.asf files")
    build.add_argument("--out", required=True, help="dataset folder to write")
    build.add_argument("--workdir", default=None,
                       help="bandai, cmu: where to unpack an archive (default <out>/../raw; reused if present)")
    build.add_argument("--workers", type=int, default=2, help="bandai, cmu, bvh-folder: processes (default 2)")
    build.add_argument("--captions", default=None,
                       help="bvh-folder (required), cmu: the captions file, CSV or JSON "
                            "(momadiff/data/captionfile.py; cmu default: momadiff/data/cmu_captions.csv)")
    build.add_argument("--name", default=None, help="bvh-folder: the dataset's name (default: --out's folder name)")
    for flag, what in (("test", "test"), ("val", "val"), ("ood", "ood")):
        build.add_argument(f"--{flag}-subjects", default="",
                           help=f"bvh-folder: comma-separated performers (first folder / file prefix) for {what}")
    build.add_argument("--ood-contents", default="", help="bvh-folder: comma-separated content labels for ood")
    build.add_argument("--limit", type=int, default=None, help="bandai: only the first N clips (by id)")
    build.add_argument("--min-frames", type=int, default=40, help="humanml3d: drop shorter motions (0: keep)")
    build.add_argument("--max-frames", type=int, default=200,
                       help="humanml3d: drop motions of this many frames or more (0: keep)")
    info = sub.add_parser("info", help="summarise a dataset folder")
    info.add_argument("path")
    args = parser.parse_args(argv)

    if args.command == "info":
        ds = MotionDataset(args.path)
        print(ds)
        print(format_summary({k: ds.meta["splits"][k] for k in SPLITS}))
        for key in ("attribution", "license", "built_at", "build_seconds"):
            if key in ds.meta:
                print(f"{key}: {ds.meta[key]}")
        return 0
    if args.kind in ("bvh-folder", "cmu"):
        from .captionfile import CaptionsError
        try:
            if args.kind == "cmu":
                from .cmu import build_cmu
                build_cmu(args.source, args.out, captions=args.captions, workdir=args.workdir,
                          workers=args.workers)
            else:
                from .folder import FolderSpec, SplitRule, build_folder
                if not args.captions:
                    parser.error("build bvh-folder needs --captions FILE")
                names = {k: tuple(x.strip() for x in getattr(args, k).split(",") if x.strip())
                         for k in ("test_subjects", "val_subjects", "ood_subjects", "ood_contents")}
                build_folder(args.source, args.captions, args.out, rule=SplitRule(**names),
                             spec=FolderSpec(name=args.name or Path(args.out).name), workers=args.workers)
        except (CaptionsError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.kind == "bandai":
        from .bandai import build_bandai
        build_bandai(args.source, args.out, workdir=args.workdir, workers=args.workers, limit=args.limit)
    else:
        from .humanml3d import build_humanml3d
        build_humanml3d(args.source, args.out, min_frames=args.min_frames or None,
                        max_frames=args.max_frames or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
