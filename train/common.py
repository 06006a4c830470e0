"""What every training script shares: --key=value overrides, DDP, EMA, logs, plots, resuming.

Scripts stay flat and readable; anything they would otherwise write twice lives here.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parse_overrides(cfg: Any, argv: list[str]) -> tuple[Any, dict[str, str]]:
    """Apply --key=value (or --key value) to a dataclass; flags not in it are returned apart."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    extra: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise SystemExit(f"error: unexpected argument {arg!r} (use --key=value)")
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = "true"
        key = key.replace("-", "_")
        i += 1
        if key not in fields:
            extra[key] = value
            continue
        current = getattr(cfg, key)
        try:
            if isinstance(current, bool):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                new = value.lower() in ("1", "true", "yes")
            elif current is None:
                new = value
            else:
                new = type(current)(value)
        except ValueError:
            raise SystemExit(f"error: --{key} expects a {type(current).__name__}, got {value!r}") from None
        setattr(cfg, key, new)
    return cfg, extra


def model_config(presets: dict[str, Any], preset: str, extra: dict[str, str]) -> Any:
    """A copy of presets[preset] with the remaining --key=value overrides applied; any option that
    neither config knows is an error."""
    if preset not in presets:
        raise SystemExit(f"error: unknown preset {preset!r}; known: {', '.join(presets)}")
    cfg, extra = parse_overrides(dataclasses.replace(presets[preset]), [f"--{k}={v}" for k, v in extra.items()])
    if extra:
        raise SystemExit(f"error: unknown options {', '.join('--' + k for k in extra)}")
    return cfg


# -- distributed -----------------------------------------------------------------------------
def init_distributed() -> tuple[int, int]:
    """(rank, world_size); starts a gloo process group when launched by torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group("gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def cleanup_distributed() -> None:
    if dist.is_initialized():
        # Wait for every rank (rank 0 may still be saving) so no rank tears down gloo under a peer.
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(x: float) -> float:
    if not dist.is_initialized():
        return x
    t = torch.tensor([x], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item() / dist.get_world_size())


# -- EMA -------------------------------------------------------------------------------------
class EMA:
    """Exponential moving average of a module's parameters (what gets evaluated and shipped)."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval()
        # Frozen parameters are copied, not averaged, so they stay bit-identical.
        self.frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        # Warm up: a young average would be dominated by the random init.
        d = min(self.decay, (1 + step) / (10 + step))
        for (name, e), p in zip(self.shadow.state_dict().items(), model.state_dict().values()):
            if e.is_floating_point() and name not in self.frozen:
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)


# -- logging ---------------------------------------------------------------------------------
class RunLog:
    """Appends rows to run_dir/log.csv and redraws run_dir/loss.png; survives resumes."""

    def __init__(self, run_dir: Path, columns: list[str]):
        self.path = run_dir / "log.csv"
        self.png = run_dir / "loss.png"
        self.columns = columns
        if not self.path.exists():
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(columns)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])

    def plot(self, keys: list[str]) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        rows = list(csv.DictReader(open(self.path)))
        if not rows:
            return
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
        for ax, key in zip(axes[0], keys):
            pts = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in ("", None)]
            if pts:
                ax.plot(*zip(*pts))
                ax.set_yscale("log" if all(v > 0 for _, v in pts) else "linear")
            ax.set_title(key)
            ax.set_xlabel("step")
        fig.tight_layout()
        fig.savefig(self.png, dpi=80)
        plt.close(fig)


def cosine_lr(step: int, base: float, warmup: int, total: int, floor: float = 0.1) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


class Throughput:
    """Steps/s and samples/s since the last report."""

    def __init__(self):
        self.t = time.perf_counter()
        self.steps = 0
        self.samples = 0

    def tick(self, samples: int) -> None:
        self.steps += 1
        self.samples += samples

    def report(self) -> tuple[float, float]:
        dt = max(1e-9, time.perf_counter() - self.t)
        out = (self.steps / dt, self.samples / dt)
        self.__init__()
        return out


class Clock:
    """Saves every few minutes and stops after a wall-time budget. In DDP rank 0's clock decides
    for everyone, so all processes stop after the same step (a collective would hang otherwise)."""

    def __init__(self, ckpt_minutes: float, max_minutes: float):
        self.ckpt_s = ckpt_minutes * 60
        self.max_s = max_minutes * 60
        self.start = self.last = time.time()

    def tick(self, save, step: int) -> bool:
        """Call once per step; saves when due; True when the budget is spent (after saving)."""
        now = time.time()
        flags = torch.tensor([now - self.last > self.ckpt_s, bool(self.max_s) and now - self.start > self.max_s],
                             dtype=torch.int32)
        if dist.is_initialized():
            dist.broadcast(flags, src=0)
        due, out_of_time = bool(flags[0]), bool(flags[1])
        if due or out_of_time:
            save()
            self.last = time.time()
        if out_of_time and is_main():
            print(f"stopping after {self.max_s / 60:g} minutes at step {step}; resume with --resume")
        return out_of_time


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.Tensor],
                   emas: list[tuple[EMA, torch.nn.Module]], step: int, clip: float = 1.0) -> int:
    """Backward, clip the gradient norm, step, update each EMA from its model; the new step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    step += 1
    for ema, model in emas:
        ema.update(model, step)
    return step
