"""Train the text-motion evaluator (momadiff.evaluate.evaluator) contrastively.

    python train/train_evaluator.py --data=data/bandai --out=runs/evaluator [--resume] [--key=value ...]
    torchrun --nproc_per_node=2 train/train_evaluator.py ...      # data parallel (gloo), gradients averaged

Symmetric InfoNCE between random crops of train clips and one of their captions, with in-batch
negatives that share the positive's (content, style) label masked out (their captions say the
same thing). Caption embeddings come from the frozen sentence encoder through a cache
(run_dir/caption_cache.npz, reused by the benchmarks). Every field of Config (and of
EvaluatorConfig, for the model) can be overridden with --key=value. Writes run_dir/evaluator.pt
(resumable), log.csv, loss.png; validation R-precision uses batches of distinct label pairs.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import common  # noqa: E402  (puts the repo on sys.path)
from momadiff.model import checkpoint
from momadiff.data import MotionDataset, open_datasets, sampling_weights
from momadiff.evaluate import metrics
from momadiff.evaluate.evaluator import (CHECKPOINT_KIND, EVALUATOR_PRESETS, Evaluator, EvaluatorConfig,
                                         TextMotionEvaluator, contrastive_loss, pad_batch)
from momadiff.model.text import embed_captions, get_text_encoder


@dataclass
class Config:
    data: str = "data/bandai"    # one dataset folder, or several separated by commas
    data_weights: str = ""       # per dataset, multiplies each of its clips' chance ("1,3"; "" = all 1)
    balance: float = 0.0         # each clip's chance x count(dataset, content)^-balance (0: uniform)
    out: str = "runs/evaluator"
    preset: str = "small"
    resume: bool = False
    text_encoder: str = "minilm"
    batch: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    steps: int = 6000
    warmup: int = 200
    ema: float = 0.0             # EMA decay of the weights evaluated and shipped; 0 = no EMA
    min_frames: int = 40         # shortest random crop (clips shorter than this are taken whole)
    full_crop_prob: float = 0.5  # chance of the longest crop, the length evaluation uses
    mask_same_label: bool = True # drop same-(content, style) pairs from the InfoNCE denominators
    seed: int = 0
    threads: int = 1             # torch threads per process (0 = torch's default)
    log_every: int = 50
    val_every: int = 500
    ckpt_minutes: float = 3.0
    max_minutes: float = 0.0     # stop (after saving) once this much wall time has passed; 0 = no limit


def label_ids(clips: list[dict]) -> np.ndarray:
    """One int per clip for its (content, style) pair."""
    ids: dict[tuple[str, str], int] = {}
    return np.array([ids.setdefault((c["content"], c["style"]), len(ids)) for c in clips], dtype=np.int64)


def sample_batch(ds: MotionDataset, train: np.ndarray, caption_rows: list[np.ndarray], cfg: Config,
                 max_frames: int, rng: np.random.Generator,
                 p: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features [B, L, F] normalised, mask [B, L], caption rows [B], clip indices [B]) of random
    crops: the longest crop (what evaluation embeds) with full_crop_prob, else a uniform length."""
    picks = rng.choice(train, size=cfg.batch, p=p)
    wins, rows = [], []
    for i in picks:
        n = ds.clips[i]["num_frames"]
        longest = min(n, max_frames)
        length = longest if rng.random() < cfg.full_crop_prob else int(rng.integers(min(n, cfg.min_frames), longest + 1))
        start = int(rng.integers(n - length + 1))
        wins.append(ds.normalize(ds.features(int(i))[start:start + length]))
        options = caption_rows[int(i)]
        rows.append(options[rng.integers(len(options))])
    x, mask = pad_batch(wins)
    return x, mask, np.array(rows), picks


def validate(model: TextMotionEvaluator, ds: MotionDataset, encoder, cache: Path, split: str,
             seed: int = 0, texts: str = "captions") -> np.ndarray:
    """R-precision top-1..3 on a split's whole clips (centre-cropped) and one caption each (from
    clip[texts]: "captions" or the held-out "paraphrases"), in batches of 32 with distinct
    (content, style) pairs."""
    idx = ds.split(split)
    if len(idx) < 2:
        return np.full(metrics.TOP_K, np.nan)
    rng = np.random.default_rng(seed)
    ev = Evaluator(model, ds.mean, ds.std, encoder, cache)
    m = ev.embed_features([ds.features(i) for i in idx])
    pools = [ds.clips[i].get(texts) or ds.clips[i]["captions"] for i in idx]
    caps = [p[rng.integers(len(p))] for p in pools]
    t = ev.embed_texts(caps)
    labels = [(ds.clips[i]["content"], ds.clips[i]["style"]) for i in idx]
    model.train()
    return metrics.r_precision(m, t, labels, rng=rng)[0]


def main(argv: list[str]) -> None:
    cfg, extra = common.parse_overrides(Config(), argv)
    rank, world = common.init_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "evaluator.pt"
    cache = run / "caption_cache.npz"

    ecfg = common.model_config(EVALUATOR_PRESETS, cfg.preset, extra)
    state = None
    if cfg.resume and ckpt_path.exists():
        state = checkpoint.load(ckpt_path, kind=CHECKPOINT_KIND)
        ecfg = EvaluatorConfig(**state["config"])
        cfg.text_encoder = state["text_encoder"]
    enc_kwargs = {"dim": ecfg.text_dim} if cfg.text_encoder == "hash" else {}
    encoder = get_text_encoder(cfg.text_encoder, **enc_kwargs)
    if encoder.dim != ecfg.text_dim:
        raise SystemExit(f"error: text encoder {cfg.text_encoder!r} gives {encoder.dim}-d embeddings, "
                         f"the config expects text_dim={ecfg.text_dim}")

    try:
        ds = open_datasets(cfg.data)
        train = np.array(ds.split("train"))
        p_train = sampling_weights(ds, train, cfg.data_weights, cfg.balance)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    labels = label_ids(ds.clips)
    # Every train caption embedded once (cached on disk); caption_rows[i] are clip i's rows.
    texts: list[str] = []
    caption_rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(ds)
    for i in train:
        caps = ds.clips[i]["captions"] or [""]
        caption_rows[i] = np.arange(len(texts), len(texts) + len(caps))
        texts.extend(caps)
    # The other splits' captions and every paraphrase go into the cache too, so the benchmarks
    # never wait for the sentence encoder.
    others = [t for c in ds.clips for t in (c.get("paraphrases", []) + (c["captions"] if c["split"] != "train" else []))]
    if common.is_main():
        print(f"embedding {len(set(texts + others))} distinct captions with {cfg.text_encoder} (cached in {cache})")
    text_emb = torch.from_numpy(embed_captions(texts + others, encoder, cache)[: len(texts)])   # [K, text_dim]

    torch.manual_seed(cfg.seed)
    model = TextMotionEvaluator(ecfg)
    ema = common.EMA(model, cfg.ema) if cfg.ema > 0 else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        if ema is not None and state.get("ema"):
            ema.shadow.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state.get("best_val_r3", best)
        if common.is_main():
            print(f"resumed from {ckpt_path} at step {step}")
    rng = np.random.default_rng(cfg.seed * 1000 + rank + step)

    def shipped() -> TextMotionEvaluator:
        return ema.shadow if ema is not None else model

    def save(final: bool = False) -> None:
        if not common.is_main():
            return
        checkpoint.save(ckpt_path, {
            "kind": CHECKPOINT_KIND, "config": asdict(ecfg), "model": model.state_dict(),
            "ema": ema.shadow.state_dict() if ema is not None else None, "optimizer": opt.state_dict(),
            "step": step, "best_val_r3": best, "mean": torch.from_numpy(ds.mean), "std": torch.from_numpy(ds.std),
            "text_encoder": cfg.text_encoder, "text_encoder_kwargs": enc_kwargs,
            "meta": {"data": cfg.data, "train_config": asdict(cfg), "dataset_meta": ds.meta, "final": final,
                     "false_negatives": "same (content, style) pairs masked out of InfoNCE"
                                        if cfg.mask_same_label else "none"},
        })

    log = common.RunLog(run, ["step", "loss", "temperature", "lr", "steps_per_s", "clips_per_s",
                              "val_r1", "val_r3"])
    meter = common.Throughput()
    clock = common.Clock(cfg.ckpt_minutes, cfg.max_minutes)
    bar = tqdm(total=cfg.steps, initial=step, disable=not common.is_main(), desc="evaluator", dynamic_ncols=True)
    model.train()
    losses: list[float] = []
    while step < cfg.steps:
        lr = common.cosine_lr(step, cfg.lr, cfg.warmup, cfg.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x, mask, rows, picks = sample_batch(ds, train, caption_rows, cfg, ecfg.max_frames, rng, p_train)
        motion = model.encode_motion(torch.from_numpy(x), torch.from_numpy(mask))  # [B, E]
        text = model.encode_text(text_emb[rows])                                   # [B, E]
        loss = contrastive_loss(motion, text, model.logit_scale,
                                torch.from_numpy(labels[picks]) if cfg.mask_same_label else None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:
            # Two entry points (motion and text encoders) rather than one forward: average the
            # gradients by hand instead of wrapping the model in DDP.
            for p in model.parameters():
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= world
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if ema is not None:
            ema.update(model, step)
        losses.append(loss.item())
        meter.tick(cfg.batch * world)
        bar.update(1)
        if step % cfg.log_every == 0:
            sps, cps = meter.report()
            row = {"step": step, "loss": f"{common.all_reduce_mean(float(np.mean(losses))):.4f}",
                   "temperature": f"{model.logit_scale.detach().exp().reciprocal().item():.4f}", "lr": f"{lr:.2e}",
                   "steps_per_s": f"{sps:.3f}", "clips_per_s": f"{cps:.1f}"}
            losses.clear()
            if step % cfg.val_every == 0 and common.is_main():
                r = validate(shipped(), ds, encoder, cache, "val")
                best = max(best, float(r[2]))
                row.update(val_r1=f"{r[0]:.3f}", val_r3=f"{r[2]:.3f}")
            if common.is_main():
                log.write(row)
                bar.set_postfix(loss=row["loss"], r3=row.get("val_r3", "-"), sps=row["steps_per_s"])
                log.plot(["loss", "temperature", "val_r3"])
        if clock.tick(save, step):
            break
    bar.close()
    save(final=step >= cfg.steps)
    if common.is_main():
        for split, texts in (("val", "captions"), ("test", "captions"), ("test", "paraphrases")):
            r = validate(shipped(), ds, encoder, cache, split, texts=texts)
            print(f"{split} {texts}: R-precision top-1/2/3 {r[0]:.3f} / {r[1]:.3f} / {r[2]:.3f} "
                  "(batches of distinct (content, style) pairs)")
        print(f"saved {ckpt_path} at step {step}")
    common.cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1:])
