"""Learning rules on tiles: digital SGD, Analog SGD and Tiki-Taka against closed forms."""

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig
from analogsgd.devices import IdealDevice, asymmetric_linear_device
from analogsgd.errors import NonFiniteError
from analogsgd.optim import AnalogSGD, DigitalSGD, TikiTaka, TikiTakaConfig
from analogsgd.problems import LeastSquares, run_least_squares

F64 = torch.float64


def tile(shape, device, mode="expected", seed=0):
    return AnalogTile(shape, TileConfig(device=device, update=UpdateConfig(mode=mode)),
                      torch.Generator().manual_seed(seed), dtype=F64)


def test_analog_sgd_on_ideal_device_is_digital_sgd():
    """F ≡ 1, G ≡ 0: the compact update is exactly W − α∇f."""
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(4, 3, generator=gen, dtype=F64)
    digital = DigitalSGD(w0)
    t = tile((4, 3), IdealDevice(dw_min=1e-3))
    t.set_weight(w0)
    analog = AnalogSGD(t)
    for _ in range(5):
        x, d = torch.randn(2, 3, generator=gen, dtype=F64), torch.randn(2, 4, generator=gen, dtype=F64)
        digital.step(x, d, 0.1)
        analog.step(x, d, 0.1)
    torch.testing.assert_close(analog.weight, digital.weight, rtol=0, atol=1e-14)


def test_tiki_taka_transfer_writes_the_fast_array_onto_the_slow_one():
    """Ideal devices: after one step A = −β g and (all columns) C = α A; one column moves only j."""
    g = torch.arange(12, dtype=F64).reshape(3, 4) / 10
    for columns, moved in (("all", slice(None)), ("one", slice(0, 1))):
        tt = TikiTaka(tile((3, 4), IdealDevice()), tile((3, 4), IdealDevice()),
                      TikiTakaConfig(transfer_lr=0.2, columns_per_transfer=columns))
        tt.step_dense(g, 0.5)
        torch.testing.assert_close(tt.fast.weight, -0.5 * g)
        want = torch.zeros(3, 4, dtype=F64)
        want[:, moved] = 0.2 * (-0.5 * g)[:, moved]
        torch.testing.assert_close(tt.slow.weight, want, rtol=0, atol=1e-15)
    assert tt.cursor.next_column == 1


def test_tiki_taka_gradient_point_mixes_gamma():
    tt = TikiTaka(tile((2, 2), IdealDevice()), tile((2, 2), IdealDevice()),
                  TikiTakaConfig(transfer_lr=0.1, gamma=0.5, transfer_every=1000))
    tt.fast.set_weight(torch.ones(2, 2, dtype=F64))
    tt.slow.set_weight(2 * torch.ones(2, 2, dtype=F64))
    torch.testing.assert_close(tt.weight, 2.5 * torch.ones(2, 2, dtype=F64))


def _floor(alpha: float, algorithm: str, steps: int = 4000) -> float:
    gen = torch.Generator().manual_seed(1)
    problem = LeastSquares.random(8, 6, 64, 0.3, gen)
    tau, sigma = 0.6, 0.1
    lr = torch.tensor([alpha], dtype=F64)
    rate = lr
    if algorithm == "digital":
        rule = DigitalSGD(torch.zeros(1, 6, 8, dtype=F64))
    elif algorithm == "analog":
        rule = AnalogSGD(tile((1, 6, 8), asymmetric_linear_device(tau)))
    else:
        rule = TikiTaka(tile((1, 6, 8), asymmetric_linear_device(tau), seed=1),
                        tile((1, 6, 8), asymmetric_linear_device(tau), seed=2),
                        TikiTakaConfig(columns_per_transfer="one"))
        rule.transfer_lr, rate = lr, 0.1
    traj = run_least_squares(rule, problem, steps, sigma, gen, record_every=10, lr=rate)
    return float(traj.tail_mean(traj.loss, 0.25)), problem


def test_analog_sgd_floor_does_not_shrink_with_alpha_but_digital_and_tiki_taka_do():
    """Theorem 2 vs Theorem 4 of Wu et al. (2024) on an 8×6 least-squares problem.

    Digital SGD's plateau is O(α): a 4× smaller α must lower it at least 2.5× (4× in theory,
    minus sampling noise of the plateau average). Analog SGD's plateau is the ALD fixed point
    W* H (H + (c/τ) I)⁻¹, independent of α: it must stay within a factor 1.6 and above 0.7× the
    closed form. Tiki-Taka must keep falling like digital (≥ 2.5×) and end below Analog SGD.
    """
    dig_hi, problem = _floor(0.08, "digital")
    dig_lo, _ = _floor(0.02, "digital")
    ana_hi, _ = _floor(0.08, "analog")
    ana_lo, _ = _floor(0.02, "analog")
    tt_hi, _ = _floor(0.08, "tt")
    tt_lo, _ = _floor(0.02, "tt")
    closed = float(problem.loss(problem.ald_stationary_point(0.1, 0.6)))
    assert dig_hi / dig_lo > 2.5
    assert ana_hi / ana_lo < 1.6
    assert ana_lo > 0.7 * closed
    assert tt_hi / tt_lo > 2.5
    assert tt_lo < 0.5 * ana_lo


def test_divergence_stops_with_a_clear_error():
    gen = torch.Generator().manual_seed(0)
    problem = LeastSquares.random(4, 3, 16, 0.3, gen)
    rule = DigitalSGD(torch.zeros(3, 4, dtype=F64))
    with pytest.raises(NonFiniteError, match="weights became non-finite at step"):
        run_least_squares(rule, problem, 5000, 0.0, gen, record_every=1, lr=3.0)  # lr·L = 3 > 2
