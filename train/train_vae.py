"""Train the motion VAE and its keyframe encoder.

    python train/train_vae.py --data=data/bandai --out=runs/vae [--resume] [--key=value ...]
    python train/train_vae.py --data=data/bandai,data/cmu --data_weights=1,3 --balance=0.5 ...
    torchrun --nproc_per_node=2 train/train_vae.py ...      # DistributedDataParallel (gloo/nccl)

Every field of Config (and of VAEConfig, for the model) can be overridden with --key=value.
Writes run_dir/vae.pt every few minutes (resumable), log.csv, loss.png.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

import common  # noqa: E402  (puts the repo on sys.path)
from momadiff.model import checkpoint
from momadiff.motion import features
from momadiff.data import MotionDataset, augment, describe_weights, open_datasets, sampling_weights
from momadiff.model.keyencoder import KeyEncoder, KeyEncoderConfig, training_pairs
from momadiff.model.vae import VAE_PRESETS, MotionVAE, VAEConfig, vae_loss


@dataclass
class Config:
    data: str = "data/bandai"    # one dataset folder, or several separated by commas
    data_weights: str = ""       # per dataset, multiplies each of its clips' chance ("1,3"; "" = all 1)
    balance: float = 0.0         # each clip's chance x count(dataset, content)^-balance (0: uniform)
    out: str = "runs/vae"
    preset: str = "cpu"
    resume: bool = False
    crop: int = 64               # frames per training window (a multiple of the VAE's down)
    batch: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.0
    steps: int = 30000
    warmup: int = 500
    ema: float = 0.999
    key_weight: float = 1.0      # keyframe-encoder regression loss
    aug_copies: int = 2          # copies of each training clip with limbs turned (momadiff.data.augment)
    log_scale_lr_mult: float = 30.0
    seed: int = 0
    threads: int = 0             # torch threads per process (0 = torch's default)
    log_every: int = 50
    val_every: int = 1000
    ckpt_minutes: float = 5.0
    max_minutes: float = 0.0     # stop (after saving) once this much wall time has passed; 0 = no limit
    val_clips: int = 64
    watch_split: str = "ood"     # also logged at each validation (watched, never used to choose)
    init_from: str = ""          # start from this VAE checkpoint's (EMA) weights, fresh optimizer, step 0
    decoder_only: bool = False   # train the decoder alone: the encoder and key encoder stay as they are,
                                 # so latents (and a transformer trained on them) stay valid


def sample_batch(feats: list[np.ndarray], crop: int, batch: int, rng: np.random.Generator,
                 p: np.ndarray | None = None) -> np.ndarray:
    """Random windows [B, crop, F] from normalised clips (drawn uniformly, or with probabilities
    p); clips shorter than crop are padded by holding their last frame (a person who stops),
    which the VAE must also represent."""
    out = np.empty((batch, crop, feats[0].shape[1]), dtype=np.float32)
    picks = rng.integers(len(feats), size=batch) if p is None else rng.choice(len(feats), size=batch, p=p)
    for b, k in enumerate(picks):
        f = feats[k]
        if len(f) >= crop:
            s = rng.integers(len(f) - crop + 1)
            out[b] = f[s:s + crop]
        else:
            out[b, :len(f)] = f
            out[b, len(f):] = f[-1]
    return out


def checkpoint_stats(ck: dict) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) numpy float32 of a checkpoint (a training run's or an exported model's)."""
    return tuple(torch.as_tensor(ck[k]).float().numpy() for k in ("mean", "std"))


def positions_fn(mean: torch.Tensor, std: torch.Tensor):
    def fn(x: torch.Tensor) -> torch.Tensor:
        return features.features_to_joints_torch(x * std + mean)
    return fn


@torch.no_grad()
def validate(vae: MotionVAE, clips: list[np.ndarray], ds: MotionDataset, down: int) -> tuple[float, float]:
    """Mean per-joint position error (mm) of the VAE round trip on whole validation clips:
    (global, with the root path integrated over the clip; root-relative)."""
    errs, local = [], []
    for f in clips:
        n = len(f) - len(f) % down
        if n < down:
            continue
        mu, _ = vae.encode(torch.from_numpy(f[:n])[None])
        rec = vae.decode(mu)[0].numpy()
        a = features.features_to_joints(f[:n] * ds.std + ds.mean)
        b = features.features_to_joints(rec * ds.std + ds.mean)
        errs.append(np.linalg.norm(a - b, axis=-1).mean())
        local.append(np.linalg.norm((a - a[:, :1]) - (b - b[:, :1]), axis=-1).mean())
    return float(np.mean(errs) * 1000), float(np.mean(local) * 1000)


def main(argv: list[str]) -> None:
    cfg, extra = common.parse_overrides(Config(), argv)
    rank, world = common.init_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "vae.pt"

    init = checkpoint.load(cfg.init_from, kind="vae") if cfg.init_from else None
    if init is not None:
        # The starting checkpoint's model, with any --key=value overrides (e.g. --latent_noise=0.2).
        vcfg = common.model_config({"init": VAEConfig(**init["config"])}, "init", extra)
    else:
        vcfg = common.model_config(VAE_PRESETS, cfg.preset, extra)
    if cfg.decoder_only and init is None:
        raise SystemExit("error: --decoder_only needs --init_from=<a trained VAE checkpoint>")
    if cfg.crop % vcfg.down:
        raise SystemExit(f"error: --crop={cfg.crop} must be a multiple of down={vcfg.down}")
    state = None
    if cfg.resume and ckpt_path.exists():
        state = checkpoint.load(ckpt_path, kind="vae")
        vcfg = VAEConfig(**state["config"])

    # A fine-tuned VAE keeps the normalisation it was trained with, so its latents stay valid (and
    # a resumed run its own); a fresh one uses the data's (pooled over several datasets).
    stats_from = state if state is not None else init
    stats = (checkpoint_stats(stats_from) if stats_from is not None else None)
    try:
        ds = open_datasets(cfg.data, stats=stats)
        train_idx = ds.split("train")
        p_clip = sampling_weights(ds, train_idx, cfg.data_weights, cfg.balance)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    if common.is_main() and describe_weights(ds, train_idx, p_clip):
        print(f"{ds}: {describe_weights(ds, train_idx, p_clip)}")
    # Left/right mirrored copies double the data (a left-hand wave becomes a right-hand one).
    raw = [ds.features(i) for i in train_idx]
    raw += [features.mirror_features(f) for f in raw]
    # Limb-turned copies show the VAE (and the keyframe encoder) poses outside the training contents.
    aug_rng = np.random.default_rng(cfg.seed + 12345)
    for _ in range(cfg.aug_copies):
        for i in tqdm(train_idx, desc="augmenting", disable=not common.is_main(), dynamic_ncols=True):
            raw.append(features.joints_to_features(augment.turn_limbs(ds.joints(i), aug_rng)))
    train = [ds.normalize(f).astype(np.float32) for f in raw]
    # Every copy (mirrored, limb-turned) of a clip is drawn as often as the clip itself.
    p_train = None if p_clip is None else np.tile(p_clip, len(train) // len(train_idx)) / (len(train) // len(train_idx))
    del raw
    val = [ds.normalize(ds.features(i)).astype(np.float32) for i in ds.split("val")][: cfg.val_clips]
    watch = [ds.normalize(ds.features(i)).astype(np.float32) for i in ds.split(cfg.watch_split)][: cfg.val_clips] \
        if cfg.watch_split else []

    torch.manual_seed(cfg.seed)
    vae = MotionVAE(vcfg)
    kcfg = KeyEncoderConfig(latent_dim=vcfg.latent_dim, down=vcfg.down)
    kenc = KeyEncoder(kcfg)
    if init is not None and state is None:
        # A training run's EMA weights, or an exported model folder's (float16) ones (a resumed
        # run has its own, and may modulate more decoder layers than the starting checkpoint).
        weights = checkpoint.weights(init, "model")
        if VAEConfig(**init["config"]).noise_cond != vcfg.noise_cond:
            # Noise conditioning of a different number of layers (--noise_cond=N) starts from zero.
            weights = {k: v for k, v in weights.items() if not k.startswith("noise_film.")}
        missing, unexpected = vae.load_state_dict(weights, strict=False)
        # Apart from that conditioning, nothing may be new.
        if unexpected or any(not k.startswith("noise_film.") for k in missing):
            raise SystemExit(f"error: {cfg.init_from} does not fit this VAE config "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        kenc.load_state_dict(checkpoint.weights(init, "key_encoder"))
    if cfg.decoder_only:
        for module in (vae.encoder, vae.enc_skip, kenc):
            if module is not None:
                module.requires_grad_(False)
    ema, kema = common.EMA(vae, cfg.ema), common.EMA(kenc, cfg.ema)
    params = [p for p in list(vae.parameters()) + list(kenc.parameters()) if p.requires_grad]
    # The likelihood's log-scale should track log(mean L1), several units from its init: Adam moves
    # a parameter about lr per step, so it gets a larger rate than the weights.
    rest = [p for p in params if p is not vae.log_scale]
    opt = torch.optim.AdamW([{"params": rest, "lr_mult": 1.0},
                             {"params": [vae.log_scale], "lr_mult": cfg.log_scale_lr_mult, "weight_decay": 0.0}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = 0, float("inf")
    if state is not None:
        vae.load_state_dict(state["model"])
        kenc.load_state_dict(state["key_encoder"])
        ema.shadow.load_state_dict(state["model_ema"])
        kema.shadow.load_state_dict(state["key_encoder_ema"])
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state.get("best_val_mm", best)
        if common.is_main():
            print(f"resumed from {ckpt_path} at step {step}")
    dvae = DDP(vae) if world > 1 else vae
    dkenc = DDP(kenc) if world > 1 and not cfg.decoder_only else kenc
    mean_t, std_t = torch.from_numpy(ds.mean).float(), torch.from_numpy(ds.std).float()
    pos_fn = positions_fn(mean_t, std_t)
    rng = np.random.default_rng(cfg.seed * 1000 + rank + step)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank + step)

    def save(final: bool = False) -> None:
        if not common.is_main():
            return
        checkpoint.save(ckpt_path, {
            "kind": "vae", "config": asdict(vcfg), "model": vae.state_dict(), "model_ema": ema.shadow.state_dict(),
            "key_encoder_config": asdict(kcfg), "key_encoder": kenc.state_dict(),
            "key_encoder_ema": kema.shadow.state_dict(), "optimizer": opt.state_dict(), "step": step,
            "best_val_mm": best, "mean": torch.from_numpy(ds.mean), "std": torch.from_numpy(ds.std),
            "meta": {"data": cfg.data, "train_config": asdict(cfg), "dataset_meta": ds.meta, "final": final},
        })

    log = common.RunLog(run, ["step", "loss", "nll", "l1", "kl", "vel", "pos", "root", "key", "lr",
                              "steps_per_s", "clips_per_s", "val_mpjpe_mm", "val_local_mm",
                              "watch_mpjpe_mm", "watch_local_mm"])
    meter = common.Throughput()
    clock = common.Clock(cfg.ckpt_minutes, cfg.max_minutes)
    bar = tqdm(total=cfg.steps, initial=step, disable=not common.is_main(), desc="vae", dynamic_ncols=True)
    vae.train()
    kenc.train()
    while step < cfg.steps:
        lr = common.cosine_lr(step, cfg.lr, cfg.warmup, cfg.steps)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        x = torch.from_numpy(sample_batch(train, cfg.crop, cfg.batch, rng, p_train))          # [B, T, F]
        x_hat, mu, logvar = dvae(x, sample=True, generator=gen)
        terms = vae_loss(x, x_hat, mu, logvar, vae.log_scale, vcfg, positions_fn=pos_fn)
        if cfg.decoder_only:
            key = torch.zeros(())
        else:
            pose, offset, target = training_pairs(x, mu.detach(), vcfg.down, gen)
            key = torch.nn.functional.mse_loss(dkenc(pose, offset), target)
        loss = terms["loss"] + cfg.key_weight * key
        step = common.optimizer_step(opt, loss, params, [(ema, vae), (kema, kenc)], step)
        meter.tick(cfg.batch * world)
        bar.update(1)
        if step % cfg.log_every == 0:
            sps, cps = meter.report()
            row = {k: f"{common.all_reduce_mean(float(v)):.5f}" for k, v in terms.items()}
            row.update(step=step, key=f"{common.all_reduce_mean(float(key)):.5f}", lr=f"{lr:.2e}",
                       steps_per_s=f"{sps:.3f}", clips_per_s=f"{cps:.1f}")
            if step % cfg.val_every == 0 and common.is_main():
                mm, local_mm = validate(ema.shadow, val, ds, vcfg.down)
                best = min(best, mm)
                row["val_mpjpe_mm"] = f"{mm:.2f}"
                row["val_local_mm"] = f"{local_mm:.2f}"
                if watch:
                    row["watch_mpjpe_mm"], row["watch_local_mm"] = (
                        f"{v:.2f}" for v in validate(ema.shadow, watch, ds, vcfg.down))
            if common.is_main():
                log.write(row)
                bar.set_postfix(loss=row["loss"], key=row["key"], sps=row["steps_per_s"])
                log.plot(["loss", "l1", "pos", "key", "val_mpjpe_mm", "val_local_mm", "watch_local_mm"])
        if clock.tick(save, step):
            break
    bar.close()
    save(final=step >= cfg.steps)
    if common.is_main():
        print(f"saved {ckpt_path} at step {step}")
    common.cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1:])
