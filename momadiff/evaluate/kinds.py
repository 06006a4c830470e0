"""Is this motion a kick? Non-learned kinematic detectors of kinds of motion, for a skeptic.

Each detector is a short rule on joint positions [T, 22, 3] (metres, Y up, 20 fps), written down
below and in DetectorConfig, so anyone can check a verdict by looking at a few joint heights and
speeds. A detector returns a Verdict: fired or not, the measured value its rule thresholds and
where in the motion (seconds) the evidence is. Motions are put in canonical form first
(features.canonicalize: canonical bone lengths, floor at y = 0), so the thresholds hold for any
body size. "Ground" for a joint is its own low level over the motion (5th percentile of its
height), so an ankle standing 8 cm above the floor counts as down.

The rules (thresholds in DetectorConfig; calibrated on real clips of Bandai and CMU with
`python -m momadiff.evaluate.kinds --data data/bandai --data data/cmu`):

- spin: the body's heading (hips and shoulders) turns more than 300 degrees within 2 s.
- jump: a flight phase: all four foot joints (ankles, toes) at least 5 cm above their ground for
  0.15-0.8 s while the pelvis rises at least 6 cm above its standing height.
- kick: one ankle at least 35 cm above its ground, at least 30 cm in front of or out to the side
  of the pelvis, moving at 2.5 m/s or more, while the other foot is down.
- climb: both ankles at least 30 cm above their ground for 1 s or more, with the pelvis at least
  25 cm above its standing height (standing on or hanging from something, not jumping).
- balance: one ankle at least 10 cm above its ground for 1 s or more while the other foot stays
  down and the pelvis stays within 30 cm horizontally.
- sword: the wrists within 30 cm of each other (both hands on a hilt) while their midpoint moves
  about the chest at 2 m/s or more for 0.15 s, sweeping at least 50 cm within 1 s.
- punch: an arm extended to 85% of its length within 0.4 s of being bent (< 70%), the wrist
  30 cm or more in front of its shoulder between chest and head height, peak wrist speed
  2.5 m/s or more, the hands apart.
- walk: median root speed (0.5 s smoothed) between 0.5 and 2.2 m/s, moving straight ahead
  (within 25 degrees of the facing) for at least half of the moving frames, the heading turning
  by 45 degrees or less overall.
- run: median root speed above 2.2 m/s.
- walk_back: the root moves at 0.3 m/s or more opposite the facing (more than 120 degrees off)
  for at least 1 s and for more than half of the moving frames.
- turn_left / turn_right: while walking, the heading ends 50-160 degrees left / right of where
  it started.
- wave_left / wave_right / wave_both: a wrist above its shoulder swings sideways (relative to the
  body) with at least 3 reversals of at least 5 cm within 2 s; side-specific ones also need the
  other wrist below its shoulder most of that time.
- raise_left / raise_right / raise_both: a wrist at least 3 cm above its shoulder for 0.25 s or
  more (for one side: the other wrist hanging 20 cm or more below its shoulder meanwhile).
- bow: the trunk (pelvis to neck) leans forward at least 20 degrees for 0.3 s or more while the
  feet stay down and the pelvis moves less than 50 cm.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d, uniform_filter1d

from ..motion import features as F
from ..motion import skeleton

J = skeleton.JOINT_INDEX
FPS = skeleton.FPS
ANKLES = {"l": J["l_ankle"], "r": J["r_ankle"]}
TOES = {"l": J["l_foot"], "r": J["r_foot"]}
WRISTS = {"l": J["l_wrist"], "r": J["r_wrist"]}
SHOULDERS = {"l": J["l_shoulder"], "r": J["r_shoulder"]}
ELBOWS = {"l": J["l_elbow"], "r": J["r_elbow"]}
OTHER = {"l": "r", "r": "l"}


@dataclass(frozen=True)
class DetectorConfig:
    """Every threshold of the rules (metres, seconds, m/s, degrees)."""

    ground_pct: float = 5.0          # a joint's ground: this percentile of its height
    foot_down: float = 0.05          # a foot joint within this of its ground is down
    spin_deg: float = 300.0
    spin_window: float = 2.0
    jump_clear: float = 0.05
    jump_min_flight: float = 0.15
    jump_max_flight: float = 0.8     # longer 'flights' stand on something (climbing)
    jump_pelvis_rise: float = 0.06
    kick_height: float = 0.35
    kick_reach: float = 0.30
    kick_speed: float = 2.5
    climb_height: float = 0.30
    climb_pelvis_rise: float = 0.25
    climb_min_time: float = 1.0
    balance_height: float = 0.10
    balance_min_time: float = 1.0
    balance_max_drift: float = 0.30
    sword_hands: float = 0.30
    sword_speed: float = 2.0
    sword_min_time: float = 0.15
    sword_sweep: float = 0.50
    punch_extended: float = 0.85
    punch_bent: float = 0.70
    punch_window: float = 0.4
    punch_reach: float = 0.30
    punch_speed: float = 2.5
    punch_hands_apart: float = 0.30
    walk_speed: tuple[float, float] = (0.5, 2.2)
    walk_forward_deg: float = 25.0
    walk_max_turn: float = 45.0      # a walk that turns more is a turning walk
    back_speed: float = 0.3
    back_deg: float = 120.0
    back_min_time: float = 1.0
    turn_deg: tuple[float, float] = (50.0, 160.0)
    wave_reversals: int = 3
    wave_amplitude: float = 0.05
    wave_window: float = 2.0
    raise_min_time: float = 0.25
    raise_height: float = 0.03       # wrist above its shoulder by this
    raise_other_below: float = -0.20 # the other wrist hangs at least this far below its shoulder
    bow_deg: float = 20.0
    bow_min_time: float = 0.3
    bow_max_drift: float = 0.50


@dataclass(frozen=True)
class Verdict:
    """A detector's answer: fired, the value its rule thresholds, and where (s) it was best."""

    fired: bool
    value: float
    at: float | None = None
    note: str = ""


class Motion:
    """A motion in canonical form with the derived signals the rules share (computed once)."""

    def __init__(self, joints: np.ndarray, cfg: DetectorConfig):
        joints = np.asarray(joints, dtype=np.float64)
        if joints.ndim != 3 or joints.shape[1:] != (skeleton.NUM_JOINTS, 3) or len(joints) < 2:
            raise ValueError(f"expected joints [T >= 2, 22, 3], got {joints.shape}")
        if not np.isfinite(joints).all():
            raise ValueError("joints contain NaN or infinite values")
        self.cfg = cfg
        self.j = F.canonicalize(joints)                                        # [T, 22, 3]
        self.T = len(self.j)
        y = self.j[..., 1]
        self.ground = np.percentile(y, cfg.ground_pct, axis=0)                 # [22]
        self.height = y - self.ground                                          # [T, 22] above own ground
        self.heading = np.unwrap(F.facing_angles(self.j, smooth_sigma=1.0))    # [T] rad
        self.fwd = skeleton.facing_direction(self.j)                           # [T, 3]
        self.left = np.cross(np.array([0.0, 1.0, 0.0]), self.fwd)              # [T, 3]
        root = self.j[:, 0]
        vel = np.gradient(root, axis=0) * FPS
        vel[:, 1] = 0.0
        self.root_vel = uniform_filter1d(vel, size=max(1, FPS // 2), axis=0, mode="nearest")
        self.root_speed = np.linalg.norm(self.root_vel, axis=-1)              # [T]
        feet = [ANKLES["l"], TOES["l"], ANKLES["r"], TOES["r"]]
        self.foot_down = {s: (self.height[:, [ANKLES[s], TOES[s]]].min(axis=1) < cfg.foot_down) for s in "lr"}
        both_down = self.foot_down["l"] & self.foot_down["r"]
        pel = self.j[:, 0, 1]
        self.stand_pelvis = float(np.median(pel[both_down])) if both_down.any() else float(np.median(pel))
        self.airborne = (self.height[:, feet] > cfg.jump_clear).all(axis=1)    # [T]

    def speed(self, joint: int) -> np.ndarray:
        """Speed [T] of one joint, m/s."""
        return np.linalg.norm(np.gradient(self.j[:, joint], axis=0), axis=-1) * FPS

    def body_offset(self, joint: int, ref: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(forward, left) horizontal offsets [T] of a joint from a reference joint, body frame."""
        d = self.j[:, joint] - self.j[:, ref]
        d[:, 1] = 0.0
        return (d * self.fwd).sum(-1), (d * self.left).sum(-1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D bool array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[::2].tolist(), d[1::2].tolist()))


def _longest(mask: np.ndarray) -> tuple[int, int]:
    runs = _runs(mask)
    return max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)


def _sec(frame: int) -> float:
    return round(frame / FPS, 2)


# ---- the rules -----------------------------------------------------------------------------------
def spin(m: Motion) -> Verdict:
    w = max(1, int(round(m.cfg.spin_window * FPS)))
    best, at = 0.0, 0
    for k in range(1, min(w, m.T - 1) + 1):
        turn = np.abs(m.heading[k:] - m.heading[:-k])
        i = int(turn.argmax())
        if turn[i] > best:
            best, at = float(turn[i]), i
    deg = float(np.degrees(best))
    return Verdict(deg > m.cfg.spin_deg, deg, _sec(at), "max heading turn within the window (deg)")


def jump(m: Motion) -> Verdict:
    c = m.cfg
    best, at = 0.0, None
    for a, b in _runs(m.airborne):
        rise = m.j[a:b, 0, 1].max() - m.stand_pelvis
        dur = (b - a) / FPS
        if rise >= c.jump_pelvis_rise and dur <= c.jump_max_flight and dur > best:
            best, at = dur, a
    return Verdict(best >= c.jump_min_flight - 1e-9, best, None if at is None else _sec(at),
                   "longest flight with the pelvis raised (s)")


def kick(m: Motion) -> Verdict:
    c = m.cfg
    best, at, side = 0.0, None, ""
    for s in "lr":
        a = ANKLES[s]
        fwd, left = m.body_offset(a)
        outward = left if s == "l" else -left
        reach = np.maximum(fwd, outward)
        fast = maximum_filter1d(m.speed(a), size=5, mode="nearest")          # peak within +-0.1 s
        ok = (m.height[:, a] >= c.kick_height) & (reach >= c.kick_reach) & (fast >= c.kick_speed) \
            & m.foot_down[OTHER[s]]
        if ok.any():
            i = int(np.flatnonzero(ok)[np.argmax(m.height[ok, a])])
            if m.height[i, a] > best:
                best, at, side = float(m.height[i, a]), i, s
    return Verdict(at is not None, best, None if at is None else _sec(at),
                   f"kicking ankle height (m){', ' + side + ' leg' if side else ''}")


def climb(m: Motion) -> Verdict:
    c = m.cfg
    up = (m.height[:, [ANKLES["l"], ANKLES["r"]]] >= c.climb_height).all(axis=1) \
        & (m.j[:, 0, 1] - m.stand_pelvis >= c.climb_pelvis_rise)
    a, b = _longest(up)
    dur = (b - a) / FPS
    return Verdict(dur >= c.climb_min_time, dur, _sec(a) if b > a else None,
                   "longest time with both feet up and the pelvis raised (s)")


def balance(m: Motion) -> Verdict:
    c = m.cfg
    best, at = 0.0, None
    for s in "lr":
        up = (m.height[:, ANKLES[s]] >= c.balance_height) & m.foot_down[OTHER[s]]
        for a, b in _runs(up):
            xz = m.j[a:b, 0][:, [0, 2]]
            drift = float(np.linalg.norm(xz.max(0) - xz.min(0))) if b > a else 0.0
            dur = (b - a) / FPS
            if drift <= c.balance_max_drift and dur > best:
                best, at = dur, a
    return Verdict(best >= c.balance_min_time, best, None if at is None else _sec(at),
                   "longest time on one foot, the other raised, barely moving (s)")


def sword(m: Motion) -> Verdict:
    c = m.cfg
    lw, rw = m.j[:, WRISTS["l"]], m.j[:, WRISTS["r"]]
    together = np.linalg.norm(lw - rw, axis=-1) <= c.sword_hands
    # the hands' midpoint relative to the chest: a swing moves the hands about the body, hands
    # held still on a bar while the body swings do not count
    mid = 0.5 * (lw + rw) - m.j[:, J["spine3"]]
    mid_speed = np.linalg.norm(np.gradient(mid, axis=0), axis=-1) * FPS
    half = int(round(0.5 * FPS))
    best, at = 0.0, None
    for a, b in _runs(together & (mid_speed >= c.sword_speed)):
        if (b - a) / FPS < c.sword_min_time - 1e-9:
            continue
        lo, hi = max(0, a - half), min(m.T, b + half)
        sweep = float(np.linalg.norm(mid[lo:hi].max(0) - mid[lo:hi].min(0)))
        if sweep >= c.sword_sweep and mid_speed[a:b].max() > best:
            best, at = float(mid_speed[a:b].max()), a
    return Verdict(at is not None, best, None if at is None else _sec(at),
                   "peak speed of the joined hands in a wide sweep (m/s)")


def punch(m: Motion) -> Verdict:
    c = m.cfg
    w = max(1, int(round(c.punch_window * FPS)))
    hands_apart = np.linalg.norm(m.j[:, WRISTS["l"]] - m.j[:, WRISTS["r"]], axis=-1) > c.punch_hands_apart
    count, best, at = 0, 0.0, None
    chest = m.j[:, J["spine3"], 1] - 0.25
    head = m.j[:, J["head"], 1] + 0.15
    for s in "lr":
        sh, el, wr = SHOULDERS[s], ELBOWS[s], WRISTS[s]
        arm = np.median(np.linalg.norm(m.j[:, el] - m.j[:, sh], axis=-1)
                        + np.linalg.norm(m.j[:, wr] - m.j[:, el], axis=-1))
        ext = np.linalg.norm(m.j[:, wr] - m.j[:, sh], axis=-1) / arm
        fwd, _ = m.body_offset(wr, sh)
        spd = m.speed(wr)
        y = m.j[:, wr, 1]
        hit = (ext >= c.punch_extended) & (fwd >= c.punch_reach) & (y >= chest) & (y <= head) & hands_apart
        for a, _b in _runs(hit):
            lo = max(0, a - w)
            if ext[lo:a + 1].min() < c.punch_bent and spd[lo:a + 1].max() >= c.punch_speed:
                count += 1
                if spd[lo:a + 1].max() > best:
                    best, at = float(spd[lo:a + 1].max()), a
    return Verdict(count > 0, float(count), None if at is None else _sec(at), "number of punches")


def _move_angle(m: Motion) -> np.ndarray:
    """Angle (deg) [T] between the root's movement and the facing."""
    v = m.root_vel
    cos = (v * m.fwd).sum(-1) / np.maximum(m.root_speed, 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def walk(m: Motion) -> Verdict:
    c = m.cfg
    med = float(np.median(m.root_speed))
    moving = m.root_speed >= c.walk_speed[0]
    ang = _move_angle(m)
    fwd_share = float((ang[moving] <= c.walk_forward_deg).mean()) if moving.any() else 0.0
    k = max(1, FPS // 4)
    turn = abs(float(np.degrees(np.mean(m.heading[-k:]) - np.mean(m.heading[:k]))))
    ok = c.walk_speed[0] <= med <= c.walk_speed[1] and fwd_share >= 0.5 and turn <= c.walk_max_turn
    return Verdict(ok, med, None, f"median root speed (m/s); straight-ahead share {fwd_share:.2f}, turn {turn:.0f} deg")


def run(m: Motion) -> Verdict:
    med = float(np.median(m.root_speed))
    return Verdict(med > m.cfg.walk_speed[1], med, None, "median root speed (m/s)")


def walk_back(m: Motion) -> Verdict:
    c = m.cfg
    moving = m.root_speed >= c.back_speed
    back = moving & (_move_angle(m) > c.back_deg)
    share = float(back.sum() / max(moving.sum(), 1))
    dur = float(back.sum() / FPS)
    return Verdict(dur >= c.back_min_time and share > 0.5, dur, None,
                   f"time moving backwards (s); share of moving time {share:.2f}")


def _turn(m: Motion, sign: float) -> Verdict:
    c = m.cfg
    k = max(1, FPS // 4)
    net = float(np.degrees(np.mean(m.heading[-k:]) - np.mean(m.heading[:k])))
    walking = float(np.median(m.root_speed)) >= c.walk_speed[0] * 0.6
    ok = walking and c.turn_deg[0] <= sign * net <= c.turn_deg[1]
    return Verdict(ok, net, None, "net heading change (deg, + = left)")


def turn_left(m: Motion) -> Verdict:
    return _turn(m, 1.0)


def turn_right(m: Motion) -> Verdict:
    return _turn(m, -1.0)


def _wave_side(m: Motion, s: str) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the wrist is above its shoulder; the frame is in a waving window."""
    c = m.cfg
    wr, sh = WRISTS[s], SHOULDERS[s]
    up = m.j[:, wr, 1] > m.j[:, sh, 1]
    _, lat = m.body_offset(wr, sh)
    lat = gaussian_filter1d(lat, 1.0)
    # reversals: a zigzag with hysteresis, a turning point counts once the offset has come back by
    # the amplitude (so tremor and noise never count)
    kept: list[int] = []
    direction, top, bot = 0, (lat[0], 0), (lat[0], 0)
    for t in range(1, m.T):
        x = lat[t]
        top = (x, t) if x > top[0] else top
        bot = (x, t) if x < bot[0] else bot
        if direction >= 0 and top[0] - x >= c.wave_amplitude:
            kept.append(top[1])
            direction, bot = -1, (x, t)
        elif direction <= 0 and x - bot[0] >= c.wave_amplitude:
            kept.append(bot[1])
            direction, top = 1, (x, t)
    kept = [t for t in kept if up[t]]
    waving = np.zeros(m.T, bool)
    w = int(round(c.wave_window * FPS))
    for i in range(len(kept) - c.wave_reversals + 1):
        a, b = kept[i], kept[i + c.wave_reversals - 1]
        if b - a <= w:
            waving[a:b + 1] = True
    return up, waving


def _wave(m: Motion, sides: str) -> Verdict:
    ups, waves = {}, {}
    for s in "lr":
        ups[s], waves[s] = _wave_side(m, s)
    if sides == "both":
        hit = waves["l"] & waves["r"]
    else:
        s = sides
        hit = waves[s] & ~ups[OTHER[s]]
    dur = float(hit.sum() / FPS)
    first = np.flatnonzero(hit)
    return Verdict(dur > 0, dur, _sec(int(first[0])) if len(first) else None, "time waving (s)")


def wave_left(m: Motion) -> Verdict:
    return _wave(m, "l")


def wave_right(m: Motion) -> Verdict:
    return _wave(m, "r")


def wave_both(m: Motion) -> Verdict:
    return _wave(m, "both")


def _raise(m: Motion, sides: str) -> Verdict:
    c = m.cfg
    rel = {s: m.j[:, WRISTS[s], 1] - m.j[:, SHOULDERS[s], 1] for s in "lr"}
    above = {s: rel[s] >= c.raise_height for s in "lr"}
    below = {s: rel[s] <= c.raise_other_below for s in "lr"}
    hit = (above["l"] & above["r"]) if sides == "both" else (above[sides] & below[OTHER[sides]])
    a, b = _longest(hit)
    dur = (b - a) / FPS
    return Verdict(dur >= m.cfg.raise_min_time, dur, _sec(a) if b > a else None,
                   "longest time with the hand(s) raised to the shoulder or higher (s)")


def raise_left(m: Motion) -> Verdict:
    return _raise(m, "l")


def raise_right(m: Motion) -> Verdict:
    return _raise(m, "r")


def raise_both(m: Motion) -> Verdict:
    return _raise(m, "both")


def bow(m: Motion) -> Verdict:
    c = m.cfg
    trunk = m.j[:, J["neck"]] - m.j[:, 0]
    fwd = (trunk * m.fwd).sum(-1)
    lean = np.degrees(np.arctan2(fwd, trunk[:, 1]))                         # + = forward
    planted = m.foot_down["l"] & m.foot_down["r"]
    hit = (lean >= c.bow_deg) & planted
    best, at = 0.0, None
    for a, b in _runs(hit):
        xz = m.j[a:b, 0][:, [0, 2]]
        if np.linalg.norm(xz.max(0) - xz.min(0)) <= c.bow_max_drift and (b - a) / FPS > best:
            best, at = (b - a) / FPS, a
    return Verdict(best >= c.bow_min_time, best, None if at is None else _sec(at),
                   "longest forward lean of the trunk with the feet planted (s)")


DETECTORS: dict[str, Callable[[Motion], Verdict]] = {
    "spin": spin, "jump": jump, "kick": kick, "climb": climb, "balance": balance, "sword": sword,
    "punch": punch, "walk": walk, "run": run, "walk_back": walk_back, "turn_left": turn_left,
    "turn_right": turn_right, "wave_left": wave_left, "wave_right": wave_right, "wave_both": wave_both,
    "raise_left": raise_left, "raise_right": raise_right, "raise_both": raise_both, "bow": bow,
}

# Which detector judges a content (Bandai and CMU labels). Contents not listed have no detector;
# the wording benchmark judges them with the evaluator's nearest real content instead.
CONTENT_DETECTOR: dict[str, str] = {
    "spin": "spin", "jump": "jump", "hop": "jump", "kick": "kick", "climb": "climb",
    "balance": "balance", "sword": "sword", "slash": "sword", "punch": "punch",
    "walk": "walk", "run": "run", "dash": "run", "walk-back": "walk_back",
    "walk-turn-left": "turn_left", "walk-turn-right": "turn_right",
    "wave-left-hand": "wave_left", "wave-right-hand": "wave_right", "wave-both-hands": "wave_both",
    "raise-up-left-hand": "raise_left", "raise-up-right-hand": "raise_right",
    "raise-up-both-hands": "raise_both", "bow": "bow",
}


def detect(kind: str, joints: np.ndarray | Motion, cfg: DetectorConfig | None = None) -> Verdict:
    """Run one detector (a key of DETECTORS) on joints [T, 22, 3] (or a prepared Motion)."""
    if kind not in DETECTORS:
        raise KeyError(f"no detector {kind!r}; the detectors are: {', '.join(sorted(DETECTORS))}")
    m = joints if isinstance(joints, Motion) else Motion(joints, cfg or DetectorConfig())
    return DETECTORS[kind](m)


def detect_all(joints: np.ndarray, cfg: DetectorConfig | None = None) -> dict[str, Verdict]:
    """Every detector's verdict on one motion."""
    m = Motion(joints, cfg or DetectorConfig())
    return {k: f(m) for k, f in DETECTORS.items()}


# ---- calibration on real clips ------------------------------------------------------------------
def calibrate(datasets: Sequence[str], splits: Sequence[str] = ("train", "val", "test", "ood"),
              min_seconds: float = 2.0) -> tuple[dict, dict]:
    """Run every detector on the real clips of dataset folders. Returns (rates, fires):
    rates[detector] = {tp, n_pos, fp, n_neg, fp_contents}, fires[content][detector] = fraction."""
    from ..data.dataset import MotionDataset

    per_clip: list[tuple[str, dict[str, bool]]] = []
    for root in datasets:
        ds = MotionDataset(root)
        for i, clip in enumerate(ds.clips):
            if clip["split"] not in splits or clip["num_frames"] < min_seconds * FPS:
                continue
            v = detect_all(ds.joints(i))
            per_clip.append((clip["content"], {k: x.fired for k, x in v.items()}))
    contents = sorted({c for c, _ in per_clip})
    fires = {c: {k: float(np.mean([f[k] for cc, f in per_clip if cc == c])) for k in DETECTORS}
             for c in contents}
    counts = {c: sum(cc == c for cc, _ in per_clip) for c in contents}
    rates = {}
    for k in DETECTORS:
        pos = [f[k] for c, f in per_clip if CONTENT_DETECTOR.get(c) == k]
        neg = [(c, f[k]) for c, f in per_clip if CONTENT_DETECTOR.get(c) != k]
        fp_contents = sorted({c for c, x in neg if x}, key=lambda c: -fires[c][k])
        rates[k] = {"tp": float(np.mean(pos)) if pos else float("nan"), "n_pos": len(pos),
                    "fp": float(np.mean([x for _, x in neg])) if neg else float("nan"), "n_neg": len(neg),
                    "fp_contents": [f"{c} {fires[c][k]:.0%} of {counts[c]}" for c in fp_contents[:4]]}
    return rates, {"fires": fires, "counts": counts}


def format_calibration(rates: dict) -> str:
    """A markdown table of calibrate()'s rates."""
    lines = ["| detector | contents judged | true positives | false positives | most false positives in |",
             "|---|---|---|---|---|"]
    for k, r in rates.items():
        judged = ", ".join(c for c, d in CONTENT_DETECTOR.items() if d == k)
        tp = "-" if r["n_pos"] == 0 else f"{r['tp']:.0%} of {r['n_pos']}"
        lines.append(f"| {k} | {judged} | {tp} | {r['fp']:.1%} of {r['n_neg']} | {'; '.join(r['fp_contents'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m momadiff.evaluate.kinds",
                                description="True- and false-positive rates of the kind detectors on real clips.")
    p.add_argument("--data", action="append", required=True, help="dataset folder (repeatable)")
    p.add_argument("--split", action="append", default=None, help="splits to use (default: all)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="skip clips shorter than this")
    args = p.parse_args(argv)
    rates, extra = calibrate(args.data, tuple(args.split or ("train", "val", "test", "ood")), args.min_seconds)
    print(format_calibration(rates))
    print(f"\nclips per content: {extra['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
