"""Train the masked transformer and its diffusion head on the latents of a trained VAE.

    python train/train_transformer.py --data=data/bandai --vae=runs/vae/vae.pt --out=runs/t2m [--resume]
    torchrun --nproc_per_node=2 train/train_transformer.py ...

The run folder becomes a model folder: vae.pt (copied) + t2m.pt, so
Pipeline.from_pretrained("runs/t2m") loads it. Latents (and keyframe-encoder latents) of every
training clip are computed once and cached in the run folder; caption embeddings likewise.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import shutil
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
from momadiff.data import MotionDataset, describe_weights, open_datasets, sampling_weights
from momadiff.data.constraints import draw as draw_constraints
from momadiff.model.control import control_dim as control_dim_of, control_features
from momadiff.model.diffhead import HEAD_PRESETS, DiffHeadConfig, DiffusionHead
from momadiff.model.diffusion import NoiseSchedule, ScheduleConfig
from momadiff.model.keyencoder import KeyEncoder, KeyEncoderConfig, pose_slice_indices
from momadiff.sampler import SamplerConfig
from momadiff.model.text import embed_captions, get_text_encoder
from momadiff.model.transformer import TRANSFORMER_PRESETS, MaskedTransformer, TransformerConfig
from momadiff.model.vae import MotionVAE, VAEConfig


@dataclass
class Config:
    data: str = "data/bandai"    # one dataset folder, or several separated by commas
    data_weights: str = ""       # per dataset, multiplies each of its clips' chance ("1,3"; "" = all 1)
    vae: str = "runs/vae/vae.pt"
    out: str = "runs/t2m"
    preset: str = "cpu"          # transformer preset
    head_preset: str = "cpu"
    text_encoder: str = "minilm"
    resume: bool = False
    init_from: str = ""          # start from this t2m checkpoint's (EMA) weights, fresh optimizer, step 0
                                 # (e.g. to move a trained transformer onto a retrained VAE's latents)
    batch: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.02
    steps: int = 50000
    warmup: int = 1000
    ema: float = 0.999
    text_drop: float = 0.1       # caption dropped (null token) for classifier-free guidance
    key_prob: float = 0.5        # fraction of samples that get simulated user keyframes
    # Train the control input (momadiff.model.control): each crop gets constraints drawn from its own
    # world joints (momadiff.data.constraints.draw: none a third of the time, an end effector at a
    # few moments, the feet, a sparse or dense root path, mixed). With --init_from a model without
    # it, the input starts at zero, so training starts where that model was.
    control: bool = False
    # Clip sampling weight count(dataset, content)^-balance (x the dataset's data_weight): 0 draws
    # clips uniformly (a content with 350 clips 27x as often as one with 13), 1 draws every
    # content of a dataset equally often.
    balance: float = 0.0
    diffusion_mult: int = 2      # noise draws per masked latent: more signal for the head per transformer pass
    seed: int = 0
    threads: int = 0
    log_every: int = 50
    ckpt_minutes: float = 5.0
    max_minutes: float = 0.0
    val_every: int = 1000        # diffusion loss of the EMA model on fixed validation batches
    val_batches: int = 8


def encoder_fingerprint(vae_ckpt: dict) -> str:
    """A hash of everything that turns motion into latents (encoder, key encoder, feature
    normalisation), so cached latents are reused after a decoder-only fine-tuning but never after
    the encoder changed (a step count can't tell: a run resumed from --init_from restarts at 0)."""
    h = hashlib.sha1()
    model = vae_ckpt.get("model_ema") or vae_ckpt["model"]   # an exported vae.pt has only "model"
    kenc = vae_ckpt.get("key_encoder_ema") or vae_ckpt["key_encoder"]
    parts = sorted((k, v) for k, v in model.items() if k.split(".")[0] in ("encoder", "enc_skip"))
    parts += sorted(("key_encoder." + k, v) for k, v in kenc.items())
    parts += [("mean", vae_ckpt["mean"]), ("std", vae_ckpt["std"])]
    for name, value in parts:
        h.update(name.encode())
        h.update(np.ascontiguousarray(torch.as_tensor(value).detach().cpu().numpy()).tobytes())
    return h.hexdigest()


@torch.no_grad()
def encode_clips(vae_ckpt: dict, ds: MotionDataset, indices: list[int],
                 mirrored: bool = True) -> list[dict[str, torch.Tensor]]:
    """Per clip, then (if mirrored) per mirrored clip: posterior means [N, D] and keyframe-encoder
    latents for every frame [N, down, D]."""
    vae = MotionVAE(VAEConfig(**vae_ckpt["config"])).eval()
    vae.load_state_dict(checkpoint.weights(vae_ckpt, "model"))
    kenc = KeyEncoder(KeyEncoderConfig(**vae_ckpt["key_encoder_config"])).eval()
    kenc.load_state_dict(checkpoint.weights(vae_ckpt, "key_encoder"))
    down = vae.config.down
    pidx = torch.from_numpy(pose_slice_indices())
    out = []
    jobs = [(i, m) for m in ((False, True) if mirrored else (False,)) for i in indices]
    for i, m in tqdm(jobs, desc="encoding clips", disable=not common.is_main(), dynamic_ncols=True):
        raw = ds.features(i)
        f = torch.from_numpy(ds.normalize(features.mirror_features(raw) if m else raw).astype(np.float32))
        pad = (-len(f)) % down
        if pad:
            f = torch.cat([f, f[-1:].expand(pad, -1)])
        mu, _ = vae.encode(f[None])
        n = mu.shape[1]
        offs = torch.arange(down).repeat(n)
        keys = kenc(f[:, pidx], offs).reshape(n, down, -1)
        out.append({"mu": mu[0], "keys": keys})
    return out


class CropJoints:
    """World joints of a training crop, as generation sees them: features_to_joints of the crop's
    own feature rows (pelvis at x = z = 0 facing +Z at its first frame). clip i of the latent cache
    is (dataset index, mirrored) = sources[i]."""

    def __init__(self, ds: MotionDataset, sources: list[tuple[int, bool]], down: int):
        self.ds, self.sources, self.down = ds, sources, down

    def __call__(self, i: int, first_latent: int, num_latents: int) -> np.ndarray:
        idx, mirrored = self.sources[i]
        a = first_latent * self.down
        f = self.ds.features(idx)[a:a + num_latents * self.down]
        return features.features_to_joints(features.mirror_features(f) if mirrored else f).astype(np.float32)


def crop_control(joints: np.ndarray, down: int, num_latents: int, rng: np.random.Generator) -> torch.Tensor:
    """Control input [num_latents, control_dim] of constraints drawn on a crop's joints."""
    c = draw_constraints(joints, rng)
    return torch.from_numpy(control_features(c.targets, c.mask, c.heading, c.heading_mask, down, num_latents))


def make_batch(clips: list[dict], caps: list[np.ndarray], cfg: Config, max_latents: int,
               rng: np.random.Generator, weights: np.ndarray | None = None,
               crop_joints: CropJoints | None = None):
    """A padded batch with masks: latents, masked, key, pad, text, drop, control (None unless
    crop_joints is given: then each crop's drawn constraints). Clips are drawn uniformly, or with
    probabilities `weights` [len(clips)]."""
    B = cfg.batch
    picks = rng.integers(len(clips), size=B) if weights is None else rng.choice(len(clips), size=B, p=weights)
    lens = [min(len(clips[i]["mu"]), max_latents) for i in picks]
    N = max(lens)
    D = clips[0]["mu"].shape[1]
    z = torch.zeros(B, N, D)
    masked = torch.zeros(B, N, dtype=torch.bool)
    key = torch.zeros(B, N, dtype=torch.bool)
    pad = torch.ones(B, N, dtype=torch.bool)
    text = torch.zeros(B, caps[0].shape[1])
    control = None
    if crop_joints is not None:
        control = torch.zeros(B, N, control_dim_of(crop_joints.down))
    for b, (i, n) in enumerate(zip(picks, lens)):
        c = clips[i]
        s = rng.integers(len(c["mu"]) - n + 1)
        if crop_joints is not None:
            control[b, :n] = crop_control(crop_joints(int(i), int(s), n), crop_joints.down, n, rng)
        z[b, :n] = c["mu"][s:s + n]
        pad[b, :n] = False
        order = rng.permutation(n)
        n_key = 0
        if rng.random() < cfg.key_prob and n > 1:
            n_key = int(rng.integers(1, max(2, n // 4) + 1))
            for j in order[:n_key]:
                z[b, j] = c["keys"][s + j, rng.integers(c["keys"].shape[1])]
                key[b, j] = True
        rest = order[n_key:]
        # Cosine masking schedule (MaskGIT / MAR): most batches hide most latents.
        ratio = math.cos(math.pi / 2 * rng.random())
        n_mask = max(1, math.ceil(ratio * len(rest))) if len(rest) else 0
        masked[b, rest[:n_mask]] = True
        cap = caps[i]
        text[b] = torch.from_numpy(cap[rng.integers(len(cap))])
    drop = torch.from_numpy(rng.random(B) < cfg.text_drop)
    return z, masked, key, pad, text, drop, control


def main(argv: list[str]) -> None:
    cfg, extra = common.parse_overrides(Config(), argv)
    rank, world = common.init_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "t2m.pt"

    for name, presets in (("preset", TRANSFORMER_PRESETS), ("head_preset", HEAD_PRESETS)):
        if getattr(cfg, name) not in presets:
            raise SystemExit(f"error: unknown --{name}={getattr(cfg, name)!r}; known: {', '.join(presets)}")
    vck = checkpoint.load(cfg.vae, kind="vae")
    latent_dim = vck["config"]["latent_dim"]
    tcfg = dataclasses.replace(TRANSFORMER_PRESETS[cfg.preset], latent_dim=latent_dim)
    tcfg, extra = common.parse_overrides(tcfg, [f"--{k}={v}" for k, v in extra.items()])
    hcfg = dataclasses.replace(HEAD_PRESETS[cfg.head_preset], latent_dim=latent_dim, cond_dim=tcfg.d_model)
    # Head fields are set with a head_ prefix (--head_width=512), since both configs have latent_dim.
    hcfg, extra = common.parse_overrides(hcfg, [f"--{k[5:] if k.startswith('head_') else '?' + k}={v}"
                                                for k, v in extra.items()])
    extra = {k.lstrip("?"): v for k, v in extra.items()}
    scfg = ScheduleConfig()
    if extra:
        raise SystemExit(f"error: unknown options {', '.join('--' + k for k in extra)}")
    state = init = None
    if cfg.resume and ckpt_path.exists():
        state = checkpoint.load(ckpt_path, kind="t2m")
    elif cfg.init_from:
        init = checkpoint.load(cfg.init_from, kind="t2m")
    if state or init:
        tcfg = TransformerConfig(**(state or init)["config"])
        hcfg = DiffHeadConfig(**(state or init)["head_config"])
        scfg = ScheduleConfig(**(state or init)["schedule_config"])
        if tcfg.latent_dim != latent_dim:
            raise SystemExit(f"error: that checkpoint works on {tcfg.latent_dim}-d latents, the VAE has {latent_dim}")
    down = vck["config"]["down"]
    if state is not None:
        if bool(tcfg.control_frames) != cfg.control:
            raise SystemExit(f"error: {ckpt_path} was trained with --control={bool(tcfg.control_frames)}; "
                             "resume it the same way")
    else:
        tcfg.control_frames = down if cfg.control else 0

    # Features are normalised exactly as the VAE was trained to read them.
    try:
        ds = open_datasets(cfg.data, stats=(torch.as_tensor(vck["mean"]).float().numpy(),
                                            torch.as_tensor(vck["std"]).float().numpy()))
        train_idx = ds.split("train")
        weights = sampling_weights(ds, list(train_idx) * 2, cfg.data_weights, cfg.balance)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    if common.is_main() and describe_weights(ds, train_idx * 2, weights):
        print(f"{ds}: {describe_weights(ds, train_idx * 2, weights)}")
    encoder = get_text_encoder(cfg.text_encoder)
    if tcfg.text_dim != encoder.dim:
        tcfg.text_dim = encoder.dim
    # Mirrored clips (second half of the latent cache) go with their mirrored captions.
    captions = ([ds.clips[i]["captions"] for i in train_idx]
                + [ds.clips[i].get("mirror_captions") or ds.clips[i]["captions"] for i in train_idx])
    val_idx = ds.split("val")
    val_captions = [ds.clips[i]["captions"] for i in val_idx]
    flat = sorted({c for cs in captions + val_captions for c in cs})
    emb = embed_captions(flat, encoder, cache_path=run / f"captions_{encoder.name}.npz")
    row = {c: n for n, c in enumerate(flat)}
    caps = [np.stack([emb[row[c]] for c in cs]).astype(np.float32) for cs in captions]
    val_caps = [np.stack([emb[row[c]] for c in cs]).astype(np.float32) for cs in val_captions]

    cache = run / "latents.pt"
    vae_step = int(vck.get("step", 0))
    fingerprint = encoder_fingerprint(vck)
    cached = torch.load(cache, weights_only=True) if cache.exists() else None
    if (cached is None or cached.get("encoder") != fingerprint or cached["n"] != 2 * len(train_idx)
            or cached.get("data", cfg.data) != cfg.data
            or "val_clips" not in cached):
        if common.is_main():
            clips = encode_clips(vck, ds, train_idx)
            allmu = torch.cat([c["mu"] for c in clips])
            lat_mean, lat_std = allmu.mean(0), allmu.std(0).clamp_min(1e-3)
            torch.save({"encoder": fingerprint, "data": cfg.data, "n": 2 * len(train_idx), "clips": clips,
                        "val_clips": encode_clips(vck, ds, val_idx, mirrored=False),
                        "lat_mean": lat_mean, "lat_std": lat_std}, cache)
        if world > 1:
            torch.distributed.barrier()
        cached = torch.load(cache, weights_only=True)
    # The run folder is a model folder: the VAE given now (e.g. a decoder fine-tuning of the one
    # the latents came from, which the cache check lets through) is the one it decodes with.
    if common.is_main() and not ((run / "vae.pt").exists() and (run / "vae.pt").samefile(cfg.vae)):
        shutil.copyfile(cfg.vae, run / "vae.pt")
    lat_mean, lat_std = cached["lat_mean"], cached["lat_std"]
    # The transformer and head work on unit-scale latents; the pipeline undoes this before decoding.
    def unit(cs: list[dict]) -> list[dict]:
        return [{"mu": (c["mu"] - lat_mean) / lat_std, "keys": (c["keys"] - lat_mean) / lat_std} for c in cs]

    clips, val_clips = unit(cached["clips"]), unit(cached["val_clips"])
    crops = val_crops = None
    if cfg.control:
        crops = CropJoints(ds, [(i, False) for i in train_idx] + [(i, True) for i in train_idx], down)
        val_crops = CropJoints(ds, [(i, False) for i in val_idx], down)

    torch.manual_seed(cfg.seed)
    model = MaskedTransformer(tcfg)
    head = DiffusionHead(hcfg)
    schedule = NoiseSchedule(scfg)
    ema, hema = common.EMA(model, cfg.ema), common.EMA(head, cfg.ema)
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    step = 0
    if init is not None:
        for net, shadow, name in ((model, ema, "model"), (head, hema, "head")):
            state_dict = checkpoint.weights(init, name)
            # A model trained without the control input starts with it at zero (its own init).
            missing, unexpected = net.load_state_dict(state_dict, strict=False)
            if unexpected or any(not k.startswith("control_in.") for k in missing):
                raise SystemExit(f"error: {cfg.init_from} does not fit this model "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
            shadow.shadow.load_state_dict(net.state_dict())
        if common.is_main():
            print(f"initialised from {cfg.init_from} (step {init.get('step')})")
    if state is not None:
        model.load_state_dict(state["model"])
        head.load_state_dict(state["head"])
        ema.shadow.load_state_dict(state["model_ema"])
        hema.shadow.load_state_dict(state["head_ema"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        if common.is_main():
            print(f"resumed from {ckpt_path} at step {step}")
    dmodel = DDP(model) if world > 1 else model
    dhead = DDP(head) if world > 1 else head
    rng = np.random.default_rng(cfg.seed * 1000 + rank + step)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank + step)

    def save(final: bool = False) -> None:
        if not common.is_main():
            return
        checkpoint.save(ckpt_path, {
            "kind": "t2m", "config": asdict(tcfg), "model": model.state_dict(), "model_ema": ema.shadow.state_dict(),
            "head_config": asdict(hcfg), "head": head.state_dict(), "head_ema": hema.shadow.state_dict(),
            "schedule_config": asdict(scfg), "sampler_config": asdict(SamplerConfig()),
            "text_encoder": encoder.name, "latent_mean": lat_mean, "latent_std": lat_std,
            "optimizer": opt.state_dict(), "step": step,
            "meta": {"data": cfg.data, "vae": cfg.vae, "vae_step": vae_step, "train_config": asdict(cfg),
                     "dataset_meta": ds.meta, "final": final},
        })

    # Fixed validation batches (clips, masks, keys, captions, noise and timesteps all seeded).
    val_rng = np.random.default_rng(1234)
    val_set = ([make_batch(val_clips, val_caps, cfg, tcfg.max_latents, val_rng, crop_joints=val_crops)
                for _ in range(cfg.val_batches)] if val_clips else [])

    def diffusion_loss(tr, hd, batch, g: torch.Generator) -> torch.Tensor:
        z, masked, key, pad, text, drop, control = batch
        cond = tr(z, masked, text, pad=pad, drop_text=drop, key=key, control=control)   # [B, N, C]
        c = cond[masked].repeat(cfg.diffusion_mult, 1)                            # [M*k, C]
        x0 = z[masked].repeat(cfg.diffusion_mult, 1)                              # [M*k, D]
        t = schedule.sample_timesteps(len(x0), g)
        noise = torch.randn(x0.shape, generator=g)
        pred = hd(schedule.add_noise(x0, noise, t), t, c)
        return torch.nn.functional.mse_loss(pred, schedule.target(x0, noise, t))

    @torch.no_grad()
    def validate(batches: list | None = None) -> float:
        g = torch.Generator().manual_seed(4321)
        return float(np.mean([float(diffusion_loss(ema.shadow, hema.shadow, b, g)) for b in (batches or val_set)]))

    # With --control the log also shows the same validation batches without their constraints:
    # the gap says how much the model uses its control input.
    val_plain = [b[:-1] + (None,) for b in val_set] if cfg.control else []

    log = common.RunLog(run, ["step", "loss", "lr", "mask_frac", "steps_per_s", "clips_per_s", "val_loss"]
                        + (["val_loss_no_control"] if cfg.control else []))
    meter = common.Throughput()
    clock = common.Clock(cfg.ckpt_minutes, cfg.max_minutes)
    bar = tqdm(total=cfg.steps, initial=step, disable=not common.is_main(), desc="t2m", dynamic_ncols=True)
    model.train()
    head.train()
    while step < cfg.steps:
        lr = common.cosine_lr(step, cfg.lr, cfg.warmup, cfg.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = make_batch(clips, caps, cfg, tcfg.max_latents, rng, weights, crops)
        masked, pad = batch[1], batch[3]
        loss = diffusion_loss(dmodel, dhead, batch, gen)
        step = common.optimizer_step(opt, loss, params, [(ema, model), (hema, head)], step)
        meter.tick(cfg.batch * world)
        bar.update(1)
        if step % cfg.log_every == 0:
            sps, cps = meter.report()
            row = {"step": step, "loss": f"{common.all_reduce_mean(float(loss)):.5f}", "lr": f"{lr:.2e}",
                   "mask_frac": f"{float(masked.sum() / (~pad).sum()):.3f}",
                   "steps_per_s": f"{sps:.3f}", "clips_per_s": f"{cps:.1f}"}
            if common.is_main():
                if val_set and cfg.val_every and step % cfg.val_every == 0:
                    row["val_loss"] = f"{validate():.5f}"
                    if val_plain:
                        row["val_loss_no_control"] = f"{validate(val_plain):.5f}"
                log.write(row)
                bar.set_postfix(loss=row["loss"], sps=row["steps_per_s"])
                log.plot(["loss", "val_loss"])
        if clock.tick(save, step):
            break
    bar.close()
    save(final=step >= cfg.steps)
    if common.is_main():
        print(f"saved {ckpt_path} at step {step}")
    common.cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1:])
