"""Per-request output folders under one dedicated temp root, pruned so they never pile up."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

# Overridable for a deployment (and tests) with MOMADIFF_OUTPUT_MAX_AGE / MOMADIFF_OUTPUT_KEEP.
MAX_AGE_SECONDS = float(os.environ.get("MOMADIFF_OUTPUT_MAX_AGE") or 3600)   # a download link older than this is stale
KEEP_LAST = max(1, int(os.environ.get("MOMADIFF_OUTPUT_KEEP") or 32))       # never more folders than this


def output_root() -> Path:
    """The root all request folders live in (MOMADIFF_OUTPUT_DIR, else <tmp>/momadiff-app).
    Under the system temp dir by default, which Gradio already serves files from."""
    root = Path(os.environ.get("MOMADIFF_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "momadiff-app")
    root.mkdir(parents=True, exist_ok=True)
    return root


def prune(root: Path, max_age: float | None = None, keep: int | None = None) -> int:
    """Delete request folders older than max_age, and the oldest beyond `keep` (default: the
    module's MAX_AGE_SECONDS and KEEP_LAST, read at call time). Returns how many."""
    max_age = MAX_AGE_SECONDS if max_age is None else max_age
    keep = KEEP_LAST if keep is None else keep
    now = time.time()
    dirs = []
    for d in root.iterdir():
        try:
            if d.is_dir() and d.name.startswith("req-"):
                dirs.append((d.stat().st_mtime, d))
        except OSError:   # removed by a concurrent request meanwhile
            continue
    dirs.sort(reverse=True)
    removed = 0
    for n, (mtime, d) in enumerate(dirs):
        if n >= keep or now - mtime > max_age:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


def new_request_dir() -> Path:
    """A fresh folder for one request's files (after pruning the old ones)."""
    root = output_root()
    prune(root, keep=KEEP_LAST - 1)
    return Path(tempfile.mkdtemp(prefix="req-", dir=root))
