"""Pipeline: text (+ keyframes) -> motion, and the VAE round trip, over a trained model folder.

A model folder holds two checkpoints: vae.pt (the motion VAE, its keyframe encoder, the feature
normalisation) and t2m.pt (the masked transformer, the diffusion head, the noise schedule and the
name of the text encoder they were trained with). The text encoder itself is not in them.
"""
from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from .model import checkpoint
from . import constraints as cons
from .model.control import control_features
from .motion import features, skeleton
from . import correction, keyframes as kf
from .model.diffhead import DiffHeadConfig, DiffusionHead
from .model.diffusion import NoiseSchedule, ScheduleConfig
from .model.keyencoder import KeyEncoder, KeyEncoderConfig, pose_slice_indices
from .keyframes import Keyframe
from .sampler import ORDERS, SamplerConfig, Stage, iter_sample
from . import segments as sg
from .segments import Segment
from .model.text import TextEncoder, get_text_encoder
from .model.transformer import MaskedTransformer, TransformerConfig
from .model.vae import MotionVAE, VAEConfig

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "model"

# Server-side limits: a request beyond them is refused, whatever the UI allows.
MAX_SECONDS = sg.MAX_TOTAL_SECONDS   # beyond the transformer's window (12.8 s) it runs over overlapping windows
MIN_SECONDS = 1.0
MAX_TEXT_CHARS = 1000
MAX_ITERATIONS = 64
MAX_DDIM_STEPS = 100
MAX_CFG_SCALE = 20.0
MAX_KEYFRAMES = 64


class GenerationError(ValueError):
    """A request that can't be generated, with a one-line message meant for the user."""


@dataclass
class Motion:
    """A generated motion: joints [T, 22, 3] (20 fps, metres, Y up) and how it was made."""
    joints: np.ndarray
    stages: list[Stage]
    text: str
    seed: int
    keyframes: list[Keyframe]
    settings: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    fps: int = skeleton.FPS
    root_path: list[cons.Waypoint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # constraints the body could not meet exactly
    segments: list[Segment] = field(default_factory=list)   # the timeline of prompts, if one was given

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


class Pipeline:
    """Everything needed to generate: models, normalisation, text encoder, sampler defaults."""

    def __init__(self, vae: MotionVAE, key_encoder: KeyEncoder, transformer: MaskedTransformer,
                 head: DiffusionHead, schedule: NoiseSchedule, mean: np.ndarray, std: np.ndarray,
                 text_encoder: TextEncoder, latent_mean: torch.Tensor, latent_std: torch.Tensor,
                 sampler: SamplerConfig | None = None, meta: dict[str, Any] | None = None):
        self.vae = vae.eval()
        self.key_encoder = key_encoder.eval()
        self.transformer = transformer.eval()
        self.head = head.eval()
        self.schedule = schedule
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.text_encoder = text_encoder
        # The transformer and head work on unit-scale latents: z_unit = (z - mean) / std.
        self.latent_mean = torch.as_tensor(latent_mean).float()
        self.latent_std = torch.as_tensor(latent_std).float()
        self.sampler = sampler or SamplerConfig()
        self.meta = meta or {}
        self.down = vae.config.down
        # A model with a control input sees the constraints; False gives the same model with the
        # post-hoc correction only (the control evaluation's baseline).
        self.use_control_input = True
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None,
                        text_encoder: TextEncoder | str | None = None) -> "Pipeline":
        """Load a model folder (default: the model bundled under assets/model)."""
        folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if not (folder / "vae.pt").is_file() or not (folder / "t2m.pt").is_file():
            raise checkpoint.CheckpointError(
                f"no model found in {folder} (it needs vae.pt and t2m.pt); "
                "train one with train/train_vae.py and train/train_transformer.py (see README)")
        vck = checkpoint.load(folder / "vae.pt", kind="vae")
        tck = checkpoint.load(folder / "t2m.pt", kind="t2m")
        vae = MotionVAE(VAEConfig(**vck["config"]))
        vae.load_state_dict(checkpoint.weights(vck, "model"))
        kenc = KeyEncoder(KeyEncoderConfig(**vck["key_encoder_config"]))
        kenc.load_state_dict(checkpoint.weights(vck, "key_encoder"))
        transformer = MaskedTransformer(TransformerConfig(**tck["config"]))
        transformer.load_state_dict(checkpoint.weights(tck, "model"))
        head = DiffusionHead(DiffHeadConfig(**tck["head_config"]))
        head.load_state_dict(checkpoint.weights(tck, "head"))
        schedule = NoiseSchedule(ScheduleConfig(**tck["schedule_config"]))
        if text_encoder is None or isinstance(text_encoder, str):
            text_encoder = get_text_encoder(text_encoder or tck["text_encoder"], **tck.get("text_encoder_kwargs", {}))
        if text_encoder.name != tck["text_encoder"] or text_encoder.dim != transformer.config.text_dim:
            raise checkpoint.CheckpointError(
                f"this model was trained with the {tck['text_encoder']!r} text encoder ({transformer.config.text_dim}-d), "
                f"not {text_encoder.name!r} ({text_encoder.dim}-d)")
        sampler = SamplerConfig(**tck.get("sampler_config", {}))
        meta = {"vae": vck.get("meta", {}), "t2m": tck.get("meta", {}), "folder": str(folder),
                "vae_step": vck.get("step"), "t2m_step": tck.get("step")}
        return cls(vae, kenc, transformer, head, schedule, vck["mean"], vck["std"], text_encoder,
                   tck["latent_mean"], tck["latent_std"], sampler, meta)

    # ----------------------------------------------------------------------------------------
    def encode_text(self, text: str) -> torch.Tensor:
        """Caption embedding [text_dim], cached (the app re-generates the same text often)."""
        if text not in self._text_cache:
            self._text_cache[text] = torch.from_numpy(np.asarray(self.text_encoder.encode([text])[0], dtype=np.float32))
            while len(self._text_cache) > 256:
                self._text_cache.popitem(last=False)
        self._text_cache.move_to_end(text)
        return self._text_cache[text]

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        return (feats - self.mean) / self.std

    def denormalize(self, feats: np.ndarray) -> np.ndarray:
        return feats * self.std + self.mean

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, num_frames: int, unit_scale: bool = True,
               noise: float = 0.0) -> np.ndarray:
        """Latents [N, D] (unit-scale as the sampler makes them, or raw VAE latents) -> joints
        [num_frames, 22, 3]. noise: the level a noise-conditioned decoder is told (0 = exact codes
        of real motion; generated latents use the sampler's decode_noise)."""
        if unit_scale:
            latents = latents * self.latent_std + self.latent_mean
        feats = self.vae.decode(latents[None], noise)[0].numpy()                # [N*down, F]
        joints = features.features_to_joints(self.denormalize(feats))
        return joints[:num_frames].astype(np.float32)

    @torch.no_grad()
    def key_latents(self, keys: Sequence[Keyframe], num_latents: int) -> dict[int, torch.Tensor]:
        """One latent per keyframe, from the keyframe encoder; when two keys share a latent's
        window, the one nearer its middle wins (the joint-space step still honours both)."""
        best: dict[int, tuple[float, Keyframe]] = {}
        for k in keys:
            i = min(k.frame // self.down, num_latents - 1)
            centre = abs(k.frame - (i * self.down + (self.down - 1) / 2))
            if i not in best or centre < best[i][0]:
                best[i] = (centre, k)
        if not best:
            return {}
        idx = pose_slice_indices()
        poses, offsets, slots = [], [], []
        for i, (_, k) in sorted(best.items()):
            static = np.repeat(np.asarray(k.joints, dtype=np.float32)[None], 2, axis=0)
            f = self.normalize(features.joints_to_features(static))[0]
            poses.append(f[idx])
            offsets.append(k.frame - i * self.down)
            slots.append(i)
        z = self.key_encoder(torch.from_numpy(np.stack(poses)).float(), torch.tensor(offsets))
        z = (z - self.latent_mean) / self.latent_std
        return {i: z[n] for n, i in enumerate(slots)}

    def reconstruct(self, joints: np.ndarray) -> np.ndarray:
        """VAE round trip of a motion [T, 22, 3]: canonicalised, encoded (posterior means), decoded.
        Returns the reconstruction of canonicalize(joints) for its first T-1 frames."""
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 3 or joints.shape[1:] != (22, 3) or len(joints) < 2:
            raise GenerationError(f"reconstruct expects joints [T>=2, 22, 3], got {list(joints.shape)}")
        feats = self.normalize(features.joints_to_features(joints))              # [T-1, F]
        n = len(feats)
        pad = (-n) % self.down
        if pad:
            feats = np.concatenate([feats, np.repeat(feats[-1:], pad, axis=0)])
        with torch.no_grad():
            mu, _ = self.vae.encode(torch.from_numpy(feats).float()[None])
        return self.decode(mu[0], n, unit_scale=False)

    # ----------------------------------------------------------------------------------------
    def _segments(self, text: str | None, segments: Any, seconds: float | None, num_frames: int | None
                  ) -> tuple[list[Segment], float | None]:
        """The validated timeline (empty for a plain text request) and the duration it implies
        when none was given: the last segment's end."""
        if segments is None:
            return [], seconds
        if text is not None and (not isinstance(text, str) or text.strip()):
            raise GenerationError("give either a text or segments, not both (a text is a one-segment timeline)")
        try:
            segs = sg.parse_segments(segments, MAX_SECONDS)
        except sg.SegmentError as e:
            raise GenerationError(str(e)) from None
        return segs, (segs[-1].end if seconds is None and num_frames is None else seconds)

    def _settings(self, text: str | None, seconds: float | None, num_frames: int | None, seed: int,
                  keyframes: Sequence[Keyframe], cfg_scale, iterations, ddim_steps, temperature,
                  segs: Sequence[Segment] = (), order: str | None = None) -> tuple[str, int, list[Keyframe], SamplerConfig]:
        if segs:
            text = " / ".join(sg.texts_of(segs))
        elif not isinstance(text, str) or not text.strip():
            raise GenerationError("please describe the motion in the text box")
        else:
            text = " ".join(text.split())
            if len(text) > MAX_TEXT_CHARS:
                raise GenerationError(f"the text is {len(text)} characters long; keep it under {MAX_TEXT_CHARS}")
        if num_frames is None:
            s = 6.0 if seconds is None else seconds
            try:
                s = float(s)
            except (TypeError, ValueError):
                raise GenerationError(f"duration must be a number of seconds, got {seconds!r}") from None
            if not math.isfinite(s) or not MIN_SECONDS <= s <= MAX_SECONDS:
                raise GenerationError(f"duration must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, got {s:g}")
            num_frames = int(round(s * skeleton.FPS))
        elif not isinstance(num_frames, (int, np.integer)) or not MIN_SECONDS * skeleton.FPS <= num_frames <= MAX_SECONDS * skeleton.FPS:
            raise GenerationError(f"num_frames must be a whole number from {int(MIN_SECONDS * skeleton.FPS)} "
                                  f"to {int(MAX_SECONDS * skeleton.FPS)}, got {num_frames!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2 ** 63:
            raise GenerationError(f"seed must be a non-negative whole number, got {seed!r}")
        cfg = SamplerConfig(**asdict(self.sampler))

        def pick(name, value, lo, hi, kind):
            if value is None:
                return
            try:
                v = kind(value)
            except (TypeError, ValueError):
                raise GenerationError(f"{name} must be a number, got {value!r}") from None
            if kind is int and float(value) != v or not (lo <= v <= hi):
                raise GenerationError(f"{name} must be between {lo} and {hi}, got {value!r}")
            setattr(cfg, name, v)

        pick("cfg_scale", cfg_scale, 0.0, MAX_CFG_SCALE, float)
        pick("iterations", iterations, 1, MAX_ITERATIONS, int)
        pick("ddim_steps", ddim_steps, 1, MAX_DDIM_STEPS, int)
        pick("temperature", temperature, 0.0, 2.0, float)
        if segs and num_frames < round(segs[-1].end * skeleton.FPS):
            raise GenerationError(f"the motion is {num_frames / skeleton.FPS:g} s long but the last segment ends at "
                                  f"{segs[-1].end:g} s")
        if order is not None:
            if not isinstance(order, str) or order not in ORDERS:
                raise GenerationError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
            cfg.order = order
        try:
            keys = kf.validate(keyframes or [], int(num_frames), max_keys=MAX_KEYFRAMES)
        except cons.ConstraintError as e:
            raise GenerationError(str(e)) from None
        return text, int(num_frames), keys, cfg

    def iter_generate(self, text: str | None = None, seconds: float | None = None, num_frames: int | None = None,
                      seed: int = 0, keyframes: Sequence[Keyframe] = (), cfg_scale: float | None = None,
                      iterations: int | None = None, ddim_steps: int | None = None,
                      temperature: float | None = None, root_path: Sequence[Any] = (),
                      segments: Sequence[Segment | dict] | None = None,
                      order: str | None = None) -> Iterator[Stage]:
        """Yield the sampler's stages; each carries the motion decoded so far (keys applied).
        keyframes: whole poses or partial keys (see Keyframe); root_path: pelvis waypoints
        (frame, x, z) or (frame, x, z, heading_degrees), from two to one per frame; segments: a
        timeline of prompts instead of one text (see generate); order: which masked latents each
        stage fills (momadiff.sampler.ORDERS; default the model's, "spread": keyframe latents
        first, as in the paper)."""
        segs, seconds = self._segments(text, segments, seconds, num_frames)
        settings = self._settings(text, seconds, num_frames, seed, keyframes, cfg_scale, iterations,
                                  ddim_steps, temperature, segs, order)
        path, c = self._constraints(settings[1], settings[2], root_path)
        yield from self._stream(*settings, seed, path, c, segs)

    def _constraints(self, T: int, keys: list[Keyframe], root_path: Sequence[Any]
                     ) -> tuple[list[cons.Waypoint], cons.Constraints]:
        """Validated waypoints and the Constraints of keys and path (GenerationError if unusable)."""
        try:
            path = cons.parse_path(list(root_path) if root_path is not None else [])
            return path, cons.build(T, keys, path)
        except cons.ConstraintError as e:
            raise GenerationError(str(e)) from None

    def constraint_warnings(self, joints: np.ndarray, keyframes: Sequence[Keyframe] = (),
                            root_path: Sequence[Any] = ()) -> list[str]:
        """The lines Motion.warnings holds, for a motion [T, 22, 3] made with these keys and path
        (e.g. by iter_generate): each target missed by more than 1 cm and by how much."""
        try:
            keys = kf.validate(keyframes, len(joints), max_keys=MAX_KEYFRAMES)
        except kf.KeyframeError as e:
            raise GenerationError(str(e)) from None
        return correction.misses(joints, self._constraints(len(joints), keys, root_path)[1])

    def _stream(self, text: str, T: int, keys: list[Keyframe], cfg: SamplerConfig, seed: int,
                path: Sequence[cons.Waypoint], c: cons.Constraints,
                segs: Sequence[Segment] = ()) -> Iterator[Stage]:
        """The sampler's stages for already validated settings."""
        t0 = time.perf_counter()
        n = math.ceil(T / self.down)
        if segs:
            # One embedding per distinct text; each latent is conditioned on its own segment's.
            emb = torch.stack([self.encode_text(t) for t in sg.texts_of(segs)])
            text_index = sg.latent_texts(segs, n, self.down, skeleton.FPS, T, cfg.gap_text)
        else:
            emb, text_index = self.encode_text(text), None
        t_text = time.perf_counter() - t0
        whole = [k for k in keys if not k.partial]
        user = self.key_latents(whole, n)
        gen = torch.Generator().manual_seed(int(seed))
        control = None
        if self.transformer.control_in is not None and self.use_control_input:
            control = torch.from_numpy(control_features(c.targets, c.mask, c.heading, c.heading_mask, self.down, n))
        # Whole-pose keys alone keep their original correction; partial keys and paths take the general one.
        general = len(whole) < len(keys) or bool(path)

        def decode(latents: torch.Tensor) -> np.ndarray:
            joints = self.decode(latents, T, noise=cfg.decode_noise)
            return correction.correct(joints, keys, c)[0] if general else correction.apply(joints, keys)

        first = True
        for stage in iter_sample(self.transformer, self.head, self.schedule, emb, n, cfg, gen, user, decode,
                                 control=control, text_index=text_index):
            if first:
                stage.seconds["text"] = t_text
                first = False
            yield stage
        if first:
            # Every latent was given by keyframes: nothing to sample, one stage shows the result.
            latents = torch.stack([user[i] for i in range(n)])
            known = np.ones(n, dtype=bool)
            yield Stage(1, 1, known.copy(), known, np.zeros(n, dtype=bool), latents, decode(latents),
                        {"text": t_text})

    def generate(self, text: str | None = None, seconds: float | None = None, num_frames: int | None = None,
                 seed: int = 0, keyframes: Sequence[Keyframe] = (), cfg_scale: float | None = None,
                 iterations: int | None = None, ddim_steps: int | None = None,
                 temperature: float | None = None, root_path: Sequence[Any] = (),
                 segments: Sequence[Segment | dict] | None = None, order: str | None = None) -> Motion:
        """Generate a motion. Same inputs and seed give the same joints.

        Either text (one prompt for the whole motion) or segments: a timeline of prompts,
        [{"text", "start", "end"}, ...] in seconds (momadiff.segments), each latent conditioned on
        its own segment's text and gaps filled freely; the duration defaults to the last end.
        Up to MAX_SECONDS either way. keyframes, root_path and order as in iter_generate;
        Motion.warnings lists the targets the body could not meet exactly, and by how much."""
        segs, seconds = self._segments(text, segments, seconds, num_frames)
        text_c, T, keys, cfg = self._settings(text, seconds, num_frames, seed, keyframes,
                                              cfg_scale, iterations, ddim_steps, temperature, segs, order)
        path, c = self._constraints(T, keys, root_path)
        stages = list(self._stream(text_c, T, keys, cfg, seed, path, c, segs))
        totals: dict[str, float] = {}
        for s in stages:
            for k, v in s.seconds.items():
                totals[k] = totals.get(k, 0.0) + v
        return Motion(joints=stages[-1].joints, stages=stages, text=text_c, seed=int(seed), keyframes=keys,
                      settings=asdict(cfg), seconds=totals, root_path=path, segments=list(segs),
                      warnings=correction.misses(stages[-1].joints, c))
