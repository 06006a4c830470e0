"""Per-request output folders under one dedicated temp root, pruned so they never pile up."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

MAX_AGE_SECONDS = 3600   # a download link older than this is stale anyway
KEEP_LAST = 32           # and never more folders than this, whatever their age


def output_root() -> Path:
    """The root all request folders live in (MOMADIFF_OUTPUT_DIR, else <tmp>/momadiff-app).
    Under the system temp dir by default, which Gradio already serves files from."""
    root = Path(os.environ.get("MOMADIFF_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "momadiff-app")
    root.mkdir(parents=True, exist_ok=True)
    return root


def prune(root: Path, max_age: float = MAX_AGE_SECONDS, keep: int = KEEP_LAST) -> int:
    """Delete request folders older than max_age, and the oldest beyond `keep`. Returns how many."""
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
