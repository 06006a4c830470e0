"""Tests for the noise schedule, the DDIM step and ddim_sample."""
from __future__ import annotations

import math

import pytest
import torch

from momadiff.model.diffhead import DiffHeadConfig, DiffusionHead
from momadiff.model.diffusion import NoiseSchedule, ScheduleConfig, ddim_sample

PREDICTIONS = ("v", "epsilon", "x0")


def _schedule(prediction: str = "v", schedule: str = "cosine") -> NoiseSchedule:
    return NoiseSchedule(ScheduleConfig(num_train_timesteps=1000, schedule=schedule, prediction=prediction))


def _f(i: int, T: int = 1000, s: float = 0.008) -> float:
    return math.cos((i / T + s) / (1 + s) * math.pi / 2) ** 2


def test_cosine_alphas_cumprod_matches_closed_form():
    ab = _schedule().alphas_cumprod
    assert ab.shape == (1000,)
    assert 0.9999 < ab[0] < 1
    assert ab[-1] < 1e-6
    assert torch.all(ab[1:] < ab[:-1])
    # Away from the clipped end the product of ratios telescopes to f(i + 1) / f(0).
    for i in (0, 1, 100, 499, 900, 998):
        assert ab[i].item() == pytest.approx(_f(i + 1) / _f(0), rel=1e-9)
    # The last beta is clipped at 0.999.
    assert ab[999].item() == pytest.approx(ab[998].item() * 0.001, rel=1e-9)


def test_linear_alphas_cumprod():
    ab = _schedule(schedule="linear").alphas_cumprod
    assert ab[0].item() == pytest.approx(1 - 1e-4)
    assert ab[1].item() == pytest.approx((1 - 1e-4) * (1 - (1e-4 + (0.02 - 1e-4) / 999)))
    assert torch.all(ab[1:] < ab[:-1]) and ab[-1] < 1e-4


def test_invalid_config_raises():
    with pytest.raises(ValueError, match="prediction"):
        _schedule(prediction="score")
    with pytest.raises(ValueError, match="schedule"):
        _schedule(schedule="sqrt")


def test_add_noise_known_values():
    sch = _schedule()
    x0, noise = torch.full((2, 3), 2.0), torch.full((2, 3), -1.0)
    t = torch.tensor([0, 500])
    xt = sch.add_noise(x0, noise, t)
    for row, ti in enumerate(t.tolist()):
        ab = _f(ti + 1) / _f(0)
        expected = math.sqrt(ab) * 2.0 - math.sqrt(1 - ab)
        torch.testing.assert_close(xt[row], torch.full((3,), expected))
    torch.testing.assert_close(sch.add_noise(x0, noise, 500), xt[1:].expand(2, 3))


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_target_round_trip(prediction):
    sch = _schedule(prediction)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 4, generator=g, dtype=torch.float64)
    noise = torch.randn(64, 4, generator=g, dtype=torch.float64)
    t = torch.cat([torch.tensor([0, 1, 998, 999]), sch.sample_timesteps(60, g)])
    xt = sch.add_noise(x0, noise, t)
    px0, peps = sch.pred_x0_eps(sch.target(x0, noise, t), xt, t)
    torch.testing.assert_close(px0, x0, rtol=1e-6, atol=1e-6)
    if prediction != "x0":
        torch.testing.assert_close(peps, noise, rtol=1e-6, atol=1e-6)
    else:
        # At t = 0 the noise is barely present in x_t; check eps everywhere else.
        keep = t > 0
        torch.testing.assert_close(peps[keep], noise[keep], rtol=1e-5, atol=1e-5)


def test_v_target_known_value():
    sch = _schedule("v")
    x0, noise = torch.ones(1, 1), torch.zeros(1, 1)
    ab = _f(301) / _f(0)
    torch.testing.assert_close(sch.target(x0, noise, 300), torch.full((1, 1), -math.sqrt(1 - ab)))


def test_ddim_timesteps():
    sch = _schedule()
    assert sch.ddim_timesteps(1).tolist() == [999]
    assert sch.ddim_timesteps(10).tolist() == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    ts = sch.ddim_timesteps(1000)
    assert ts.dtype == torch.long and ts.tolist() == list(range(999, -1, -1))
    ts = sch.ddim_timesteps(7)
    assert ts[0] == 999 and torch.all(ts[1:] < ts[:-1]) and ts[-1] >= 0
    with pytest.raises(ValueError):
        sch.ddim_timesteps(0)


def test_sample_timesteps_range_and_determinism():
    sch = _schedule()
    a = sch.sample_timesteps(5000, torch.Generator().manual_seed(1))
    b = sch.sample_timesteps(5000, torch.Generator().manual_seed(1))
    assert a.dtype == torch.long and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 999 and len(a.unique()) > 900


def _oracle(sch: NoiseSchedule, x0: torch.Tensor):
    """A perfect model: recovers the noise implied by x_t and returns the exact target."""
    def model(xt: torch.Tensor, t: int) -> torch.Tensor:
        ab = sch.alphas_cumprod[t].to(xt.dtype)
        eps = (xt - ab.sqrt() * x0) / (1 - ab).sqrt()
        return sch.target(x0, eps, t)
    return model


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("num_steps", [1, 10])
def test_ddim_with_oracle_lands_on_x0(prediction, num_steps):
    sch = _schedule(prediction)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(16, 3, generator=g, dtype=torch.float64)
    model = _oracle(sch, x0)
    x = torch.randn(16, 3, generator=g, dtype=torch.float64)
    ts = sch.ddim_timesteps(num_steps).tolist()
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        x, pred_x0 = sch.step(model(x, t), t, t_prev, x)
        torch.testing.assert_close(pred_x0, x0, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(x, x0, rtol=1e-6, atol=1e-6)


def test_ddim_step_is_deterministic_at_eta_zero_and_follows_the_noise_schedule():
    sch = _schedule("v")
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    xt = sch.add_noise(x0, eps, 700)
    x_prev, _ = sch.step(sch.target(x0, eps, 700), 700, 300, xt)
    # Deterministic DDIM keeps the same noise: x_prev is exactly the forward process at t_prev.
    torch.testing.assert_close(x_prev, sch.add_noise(x0, eps, 300))


def test_stochastic_step_uses_generator():
    sch = _schedule("v")
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    xt, out = sch.add_noise(x0, eps, 700), sch.target(x0, eps, 700)
    a, _ = sch.step(out, 700, 300, xt, eta=1.0, generator=torch.Generator().manual_seed(5))
    b, _ = sch.step(out, 700, 300, xt, eta=1.0, generator=torch.Generator().manual_seed(5))
    c, _ = sch.step(out, 700, 300, xt, eta=1.0, generator=torch.Generator().manual_seed(6))
    cold, _ = sch.step(out, 700, 300, xt, eta=1.0, generator=torch.Generator().manual_seed(6), temperature=0.0)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    torch.testing.assert_close(cold, sch.step(out, 700, 300, xt, eta=1.0, temperature=0.0)[0])
    # The final step has no noise left to add, whatever eta is.
    last, _ = sch.step(sch.target(x0, eps, 99), 99, -1, sch.add_noise(x0, eps, 99), eta=1.0,
                       generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(last, x0)


def _random_head(latent_dim: int = 4, cond_dim: int = 6) -> DiffusionHead:
    g = torch.Generator().manual_seed(0)
    head = DiffusionHead(DiffHeadConfig(latent_dim=latent_dim, cond_dim=cond_dim, width=16, depth=2,
                                        time_freq_dim=16), generator=g)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return head


def test_ddim_sample_is_deterministic_given_generator():
    head, sch = _random_head(), _schedule()
    c = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    a = ddim_sample(head, c, sch, 5, torch.Generator().manual_seed(1))
    b = ddim_sample(head, c, sch, 5, torch.Generator().manual_seed(1))
    d = ddim_sample(head, c, sch, 5, torch.Generator().manual_seed(2))
    assert a.shape == (10, 4) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.allclose(a, d)


def test_ddim_sample_with_untrained_head_and_zero_temperature_gives_zeros():
    # An untrained head predicts v = 0 and zero temperature starts at x = 0: nothing moves.
    head = DiffusionHead(DiffHeadConfig(latent_dim=3, cond_dim=5, width=8, depth=1, time_freq_dim=8))
    x = ddim_sample(head, torch.randn(4, 5), _schedule(), 4, torch.Generator().manual_seed(0), temperature=0.0)
    assert torch.equal(x, torch.zeros(4, 3))




def test_tiny_head_learns_two_blobs(single_thread):
    """Train on two 2-D Gaussian blobs selected by a one-hot condition; samples land on the right one."""
    g = torch.Generator().manual_seed(0)
    head = DiffusionHead(DiffHeadConfig(latent_dim=2, cond_dim=2, width=64, depth=2, time_freq_dim=64),
                         generator=g)
    sch = _schedule("v")
    centers = torch.tensor([[2.0, 2.0], [-2.0, -1.0]])
    opt = torch.optim.AdamW(head.parameters(), lr=2e-3)
    for _ in range(400):
        label = torch.randint(0, 2, (256,), generator=g)
        c = torch.nn.functional.one_hot(label, 2).float()
        x0 = centers[label] + 0.1 * torch.randn(256, 2, generator=g)
        noise = torch.randn(256, 2, generator=g)
        t = sch.sample_timesteps(256, g)
        loss = ((head(sch.add_noise(x0, noise, t), t, c) - sch.target(x0, noise, t)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for k in range(2):
        c = torch.nn.functional.one_hot(torch.full((200,), k), 2).float()
        x = ddim_sample(head, c, sch, 20, torch.Generator().manual_seed(1))
        dist_right = (x - centers[k]).norm(dim=-1)
        dist_wrong = (x - centers[1 - k]).norm(dim=-1)
        # The blobs are ~4.5 apart with std 0.1: require nearly all samples within 0.5 of the right one.
        assert (dist_right < 0.5).float().mean() > 0.95
        assert torch.all(dist_right < dist_wrong)
        assert (x.mean(0) - centers[k]).norm() < 0.2
