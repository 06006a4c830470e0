import dataclasses

import numpy as np
import torch

from momadiff.model.diffhead import HEAD_PRESETS, DiffusionHead
from momadiff.model.diffusion import NoiseSchedule
from momadiff.sampler import SamplerConfig, iter_sample, plan_stages
from momadiff.model.transformer import TRANSFORMER_PRESETS, MaskedTransformer


def tiny(seed=0):
    torch.manual_seed(seed)
    hcfg = HEAD_PRESETS["tiny"]
    tcfg = dataclasses.replace(TRANSFORMER_PRESETS["tiny"], latent_dim=hcfg.latent_dim, text_dim=16)
    model = MaskedTransformer(tcfg).eval()
    head = DiffusionHead(hcfg).eval()
    # An untrained head outputs zeros (AdaLN-Zero); give it weights so samples depend on c.
    for p in head.parameters():
        torch.nn.init.normal_(p, std=0.05)
    return model, head, NoiseSchedule()


def test_plan_covers_every_latent_once_keyframes_first():
    g = torch.Generator().manual_seed(0)
    known = np.zeros(50, dtype=bool)
    plan = plan_stages(50, known, 6, 8, g)
    allidx = np.concatenate(plan)
    assert sorted(allidx.tolist()) == list(range(50))
    assert len(plan) == 6
    first = plan[0]
    assert 3 <= len(first) <= 10
    # stage 1 is spread over the motion: no two picks adjacent, and it spans most of it
    assert np.diff(first).min() >= 3 and first.max() - first.min() >= 25
    # later stages fill more latents than the first (recursive in-fill)
    assert len(plan[-1]) > len(first)


def test_plan_skips_user_latents():
    g = torch.Generator().manual_seed(1)
    known = np.zeros(20, dtype=bool)
    known[[0, 10, 19]] = True
    plan = plan_stages(20, known, 4, 8, g)
    allidx = np.concatenate(plan)
    assert not set(allidx.tolist()) & {0, 10, 19}
    assert len(allidx) == 17


def run(model, head, sched, seed, user=None, cfg=None, n=24):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(model.config.text_dim, generator=torch.Generator().manual_seed(5))
    return list(iter_sample(model, head, sched, text, n, cfg or SamplerConfig(iterations=4, ddim_steps=5),
                            g, user_latents=user))


def test_sampler_ends_unmasked_and_keeps_user_latents():
    model, head, sched = tiny()
    z = torch.full((head.config.latent_dim,), 0.7)
    stages = run(model, head, sched, 0, user={3: z, 20: z})
    assert len(stages) == 4
    last = stages[-1]
    assert not last.masked.any()
    for s in stages:
        assert s.user[3] and s.user[20]
        assert not s.filled[3] and not s.filled[20]
        assert torch.equal(s.latents[3], z)
    filled = np.sum([s.filled for s in stages], axis=0)
    assert (filled[~stages[0].user] == 1).all()
    # stages are nested: what one stage knows, the next knows too
    for a, b in zip(stages, stages[1:]):
        assert ((a.known | a.filled) == b.known).all()


def test_sampler_deterministic_and_seed_dependent():
    model, head, sched = tiny()
    a = run(model, head, sched, 0)[-1].latents
    b = run(model, head, sched, 0)[-1].latents
    c = run(model, head, sched, 1)[-1].latents
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_guidance_acts_on_condition_only():
    model, head, sched = tiny()
    plain = run(model, head, sched, 0, cfg=SamplerConfig(iterations=3, ddim_steps=4, cfg_scale=1.0))[-1].latents
    guided = run(model, head, sched, 0, cfg=SamplerConfig(iterations=3, ddim_steps=4, cfg_scale=4.0))[-1].latents
    assert not torch.allclose(plain, guided)
    calls = []
    orig = head.forward

    def spy(x, t, c):
        calls.append(x.shape[0])
        return orig(x, t, c)
    head.forward = spy
    stages = run(model, head, sched, 0, cfg=SamplerConfig(iterations=3, ddim_steps=4, cfg_scale=4.0))
    # the head sees one row per latent being filled: never a doubled (guided) batch
    assert calls == [int(s.filled.sum()) for s in stages for _ in range(4)]


def test_correlated_noise_makes_neighbouring_samples_alike():
    model, head, sched = tiny()
    base = SamplerConfig(iterations=4, ddim_steps=5, cfg_scale=1.0)
    corr = dataclasses.replace(base, noise_corr=3.0)
    z = torch.full((head.config.latent_dim,), 0.7)
    # neighbouring latents: how much their samples differ, averaged over seeds
    steps = {}
    for name, cfg in (("independent", base), ("correlated", corr)):
        diffs = []
        for seed in range(6):
            stages = run(model, head, sched, seed, user={5: z}, cfg=cfg, n=32)
            lat = stages[-1].latents
            assert torch.equal(lat[5], z) and not stages[-1].masked.any()
            diffs.append(float((lat[1:] - lat[:-1]).pow(2).mean()))
        steps[name] = np.mean(diffs)
    assert steps["correlated"] < 0.6 * steps["independent"], steps
    a = run(model, head, sched, 0, cfg=corr)[-1].latents
    assert torch.equal(a, run(model, head, sched, 0, cfg=corr)[-1].latents)


def test_plan_orders_cover_the_same_latents_with_the_same_counts():
    known = np.zeros(40, dtype=bool)
    known[[5, 30]] = True
    plans = {o: plan_stages(40, known, 5, 8, torch.Generator().manual_seed(2), o)
             for o in ("spread", "random", "left_to_right")}
    for o, plan in plans.items():
        assert sorted(np.concatenate(plan).tolist()) == [i for i in range(40) if i not in (5, 30)], o
    counts = {o: [len(c) for c in plan] for o, plan in plans.items()}
    assert counts["random"] == counts["spread"] == counts["left_to_right"]
    # left to right: every stage ends before the next begins, the first stage starts at latent 0
    l2r = plans["left_to_right"]
    assert l2r[0][0] == 0 and all(a.max() < b.min() for a, b in zip(l2r, l2r[1:]))
    # random: not the time order, and a different seed gives a different plan
    assert plans["random"][0].tolist() != l2r[0].tolist()
    other = plan_stages(40, known, 5, 8, torch.Generator().manual_seed(3), "random")
    assert [c.tolist() for c in other] != [c.tolist() for c in plans["random"]]


def test_unknown_order_is_refused():
    import pytest
    with pytest.raises(ValueError, match="order must be one of"):
        SamplerConfig(order="backwards")
