"""Boundary checks: cross-field config rules and the arguments of the public library functions.

Every wrong input is one ConfigError line naming the field or argument, the value and what is
allowed, raised before any work (a weight is never touched by a refused update).
"""

import math

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig
from analogsgd.crossbar.replicas import stack_device_arrays
from analogsgd.devices import IdealDevice, SoftBounds
from analogsgd.errors import ConfigError
from analogsgd.experiments._network_common import NetworkConfig
from analogsgd.experiments.logdomain_montecarlo import MonteCarloConfig
from analogsgd.experiments.logdomain_precision import PrecisionConfig
from analogsgd.experiments.logdomain_regression import RegressionConfig
from analogsgd.experiments.logdomain_sweep import SweepConfig
from analogsgd.experiments.ls_asymptotic import LsAsymptoticConfig
from analogsgd.experiments.spice_validate import SpiceValidateConfig
from analogsgd.logdomain.simulate import SolverConfig
from analogsgd.nn import AnalogLayerConfig
from analogsgd.optim import AnalogSGD, DigitalSGD, TikiTaka, TikiTakaConfig
from analogsgd.problems import LeastSquares

F64 = torch.float64


def one_line_error(field: str, build) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        build()
    text = str(err.value)
    assert err.value.field == field, text
    assert "\n" not in text and "got" in text and "instead" in text, text
    return err.value


# -- cross-field rules of configs ---------------------------------------------------------------
@pytest.mark.parametrize("field, build", [
    ("PrecisionConfig.bits_min", lambda: PrecisionConfig(bits_min=12, bits_max=8)),
    ("PrecisionConfig.bits_min", lambda: PrecisionConfig(bits_min=8, bits_max=8)),
    ("SolverConfig.k_min", lambda: SolverConfig(k_min=64, k_max=16)),
    ("SpiceValidateConfig.bandwidth_i_tau_a",    # below I_τ: a longer hold, not a shorter one
     lambda: SpiceValidateConfig(bandwidth_i_tau_a=2.5e-11)),
    ("SpiceValidateConfig.bandwidth_i_tau_a",    # settle_factor would fall below its 0.01
     lambda: SpiceValidateConfig(bandwidth_i_tau_a=5e-8)),
    ("MonteCarloConfig.hold_times_s", lambda: MonteCarloConfig(hold_times_s=[1.0, 0.1, 10.0])),
    ("MonteCarloConfig.hold_times_s", lambda: MonteCarloConfig(hold_times_s=[0.1, 1.0, 1.0])),
    ("MonteCarloConfig.temps_c", lambda: MonteCarloConfig(temps_c=[27.0, 27.0, 85.0])),
    ("LsAsymptoticConfig.taus", lambda: LsAsymptoticConfig(taus=(0.8, 1.0, 0.8))),
    ("LsAsymptoticConfig.alphas", lambda: LsAsymptoticConfig(alphas=(0.1, 0.1))),
    ("LsAsymptoticConfig.sigma_sqs", lambda: LsAsymptoticConfig(sigma_sqs=())),
    ("LsAsymptoticConfig.n_samples", lambda: LsAsymptoticConfig(d_in=40, n_samples=39)),
    ("LsAsymptoticConfig.record_every", lambda: LsAsymptoticConfig(steps=100, record_every=101)),
    ("NetworkConfig.taus", lambda: NetworkConfig(taus=(0.7, 0.7))),
    ("SweepConfig.etas", lambda: SweepConfig(etas=[0.05, 0.05])),
    ("SweepConfig.lams", lambda: SweepConfig(lams=[])),
    ("RegressionConfig.lams", lambda: RegressionConfig(lams=[1e-3, 1e-3])),
    ("RegressionConfig.datasets", lambda: RegressionConfig(datasets=("diabetes", "diabetes"))),
    ("SweepConfig.dataset", lambda: SweepConfig(dataset=3)),
    ("TileConfig.device", lambda: TileConfig(device="soft-bounds")),
    ("TileConfig.update", lambda: TileConfig(update={"mode": "pulsed"})),
    ("AnalogLayerConfig.tile", lambda: AnalogLayerConfig(tile=SoftBounds())),
    ("PrecisionConfig.solver", lambda: PrecisionConfig(solver=None)),
])
def test_config_rule_is_one_config_error(field, build):
    one_line_error(field, build)


def test_edge_values_of_the_cross_field_rules_are_accepted():
    assert SolverConfig(k_min=16, k_max=16).k_min == 16
    assert LsAsymptoticConfig(d_in=40, n_samples=40, steps=100, record_every=100).n_samples == 40
    assert PrecisionConfig(bits_min=8, bits_max=9).bits_max == 9


def test_one_dataset_name_is_a_list_of_one():
    cfg = RegressionConfig().replace(datasets="diabetes")
    assert cfg.datasets == ("diabetes",)


# -- learning rules ---------------------------------------------------------------------------
def tile(shape=(3, 4), mode="expected", seed=0, device=None):
    cfg = TileConfig(device=device or IdealDevice(dw_min=1e-3), update=UpdateConfig(mode=mode))
    return AnalogTile(shape, cfg, torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("lr", [-1.0, math.nan, math.inf, "0.1", True,
                                torch.tensor([0.1, math.nan]), torch.tensor([[0.1]])])
def test_analog_sgd_refuses_a_bad_learning_rate(lr):
    x, d = torch.rand(2, 4, dtype=F64), torch.rand(2, 3, dtype=F64)
    one_line_error("AnalogSGD.step.lr", lambda: AnalogSGD(tile()).step(x, d, lr))


def test_per_replica_learning_rates_match_the_replicas():
    """Two rates for a tile of three replicas used to fail deep in a broadcast (a traceback)."""
    t = tile((3, 2, 4))
    x, d = torch.rand(3, 5, 4, dtype=F64), torch.rand(3, 5, 2, dtype=F64)
    one_line_error("AnalogTile.update.lr", lambda: t.update(x, d, torch.tensor([0.1, 0.2])))
    one_line_error("AnalogTile.update.lr",
                   lambda: tile().update(torch.rand(5, 4, dtype=F64), torch.rand(5, 3, dtype=F64),
                                         torch.tensor([0.1, 0.2])))
    before = t.weight.clone()
    t.update(x, d, torch.tensor([0.1, 0.2, 0.0], dtype=F64))   # one per replica: accepted
    assert torch.equal(t.weight[2], before[2]) and not torch.equal(t.weight[0], before[0])


def test_learning_rule_checks_every_rate():
    g = torch.zeros(3, 4)
    one_line_error("DigitalSGD.step.lr", lambda: DigitalSGD(torch.zeros(3, 4)).step_dense(g, math.nan))
    one_line_error("TikiTaka.step.lr",
                   lambda: TikiTaka(tile(), tile(seed=1)).step_dense(g.double(), -0.1))
    one_line_error("TikiTakaConfig.transfer_lr", lambda: TikiTakaConfig(transfer_lr=math.nan))
    one_line_error("TikiTaka.slow", lambda: TikiTaka(tile(), tile((4, 3))))
    one_line_error("AnalogSGD.tile", lambda: AnalogSGD(torch.zeros(3, 4)))
    one_line_error("AnalogSGD.step.initial_lr",
                   lambda: AnalogSGD(tile()).step_dense(g.double(), 0.1, -1.0))
    rule = TikiTaka(tile(), tile(seed=1))

    def per_tile_rate():
        rule.transfer_lr = -0.01
    one_line_error("TikiTaka.transfer_lr", per_tile_rate)


# -- tile.update / apply / set_weight ----------------------------------------------------------
@pytest.mark.parametrize("mode", ["expected", "pulsed"])
@pytest.mark.parametrize("bad, field", [("x", "AnalogTile.update.x"), ("d", "AnalogTile.update.d")])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_input_is_refused_and_leaves_the_weights(mode, bad, field, value):
    t = tile(mode=mode)
    t.set_weight(torch.full((3, 4), 0.1, dtype=F64))
    before = t.conductance.clone()
    x, d = torch.ones(2, 4, dtype=F64), torch.ones(2, 3, dtype=F64)
    (x if bad == "x" else d)[1, 0] = value
    err = one_line_error(field, lambda: AnalogSGD(t).step(x, d, 0.1))
    assert "1 of" in str(err)
    assert torch.equal(t.conductance, before)


@pytest.mark.parametrize("x_shape, d_shape, field", [
    ((2, 3), (2, 3), "AnalogTile.update.x"),        # x of the wrong width
    ((2, 3), (2, 4), "AnalogTile.update.x"),        # x and d swapped
    ((2, 4), (3, 3), "AnalogTile.update.d"),        # batch sizes differ
    ((4,), (3,), "AnalogTile.update.x"),            # no batch dimension
    ((5, 2, 4), (5, 2, 3), "AnalogTile.update.x"),  # replicas the tile does not have
])
def test_update_shapes_are_checked(x_shape, d_shape, field):
    t = tile()
    one_line_error(field, lambda: t.update(torch.ones(x_shape, dtype=F64),
                                           torch.ones(d_shape, dtype=F64), 0.1))


def test_replicated_tile_accepts_broadcast_inputs():
    t = tile((2, 3, 4))
    t.update(torch.ones(1, 4, dtype=F64), torch.ones(1, 3, dtype=F64),
             torch.tensor([0.1, 0.2], dtype=F64))
    # ideal device, expected mode: ΔW = −lr·dᵀx exactly, one lr per replica
    torch.testing.assert_close(t.weight[:, 0, 0], torch.tensor([-0.1, -0.2], dtype=F64),
                               rtol=0, atol=1e-15)


def test_apply_read_and_program_check_their_tensors():
    t = tile()
    one_line_error("AnalogTile.apply.delta", lambda: t.apply(torch.ones(4, 3, dtype=F64)))
    one_line_error("AnalogTile.apply.delta",
                   lambda: t.apply(torch.tensor([[math.nan] * 4] * 3, dtype=F64)))
    one_line_error("AnalogTile.set_weight.w", lambda: t.set_weight(torch.ones(3, 5)))
    one_line_error("AnalogTile.forward.x", lambda: t.forward(torch.ones(2, 3, dtype=F64)))
    one_line_error("AnalogTile.backward.d", lambda: t.backward(torch.ones(2, 4, dtype=F64)))


# -- tile construction ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2.7, 5), (5,), (0, 3), (3, -1), "34", (True, 3.0)])
def test_tile_shape_must_be_integers(shape):
    gen = torch.Generator().manual_seed(0)
    one_line_error("AnalogTile.shape", lambda: AnalogTile(shape, TileConfig(), gen))


@pytest.mark.parametrize("generator", [None, 1.5, True, "0"])
def test_tile_generator_is_a_seed_or_a_generator(generator):
    one_line_error("AnalogTile.generator", lambda: AnalogTile((2, 2), TileConfig(), generator))


def test_int_seed_is_the_seeded_generator():
    """generator=7 draws exactly what torch.Generator().manual_seed(7) draws (d2d and pulses)."""
    from analogsgd.devices import DeviceVariation

    cfg = TileConfig(variation=DeviceVariation(dw_min_d2d=0.3), update=UpdateConfig(mode="pulsed"))
    a = AnalogTile((3, 4), cfg, 7)
    b = AnalogTile(torch.Size([3, 4]), cfg, torch.Generator().manual_seed(7))
    x, d = torch.rand(2, 4, generator=torch.Generator().manual_seed(1)), -torch.ones(2, 3)
    a.update(x, d, 0.05)
    b.update(x, d, 0.05)
    assert torch.equal(a.conductance, b.conductance) and bool(a.conductance.any())


def test_least_squares_checks_its_arguments():
    one_line_error("LeastSquares.random.n_samples", lambda: LeastSquares.random(40, 10, 39, 0.4, 0))
    one_line_error("LeastSquares.random.w_star_max",
                   lambda: LeastSquares.random(4, 3, 8, math.nan, 0))
    one_line_error("LeastSquares.random.generator", lambda: LeastSquares.random(4, 3, 8, 0.4, None))
    a = LeastSquares.random(4, 3, 8, 0.4, 5)
    b = LeastSquares.random(4, 3, 8, 0.4, torch.Generator().manual_seed(5))
    assert torch.equal(a.H, b.H) and torch.equal(a.w_star, b.w_star)


def test_stack_device_arrays_refuses_an_empty_list():
    one_line_error("stack_device_arrays.arrays", lambda: stack_device_arrays([]))


def test_finite_inputs_whose_sum_overflows_are_accepted():
    """The finiteness check sums x and d first; a sum that overflows float32 with every entry
    finite (3e38 + 3e38) must fall through to the exact scan and be accepted."""
    t = AnalogTile((3, 4), TileConfig(), 0)
    x = torch.full((2, 4), 3e38)
    assert not torch.isfinite(x.sum()) and bool(torch.isfinite(x).all())
    t._check_update(x, torch.ones(2, 3), 0.1)
    x[0, 0] = math.inf
    one_line_error("AnalogTile.update.x", lambda: t._check_update(x, torch.ones(2, 3), 0.1))


def test_run_least_squares_and_convert_to_analog_check_their_arguments():
    from torch import nn

    from analogsgd.nn import convert_to_analog
    from analogsgd.problems import run_least_squares

    problem = LeastSquares.random(4, 3, 8, 0.3, 0)
    rule = DigitalSGD(torch.zeros(3, 4, dtype=F64))
    one_line_error("run_least_squares.steps",
                   lambda: run_least_squares(rule, problem, 2.5, 0.1, 0, lr=0.1))
    one_line_error("run_least_squares.generator",
                   lambda: run_least_squares(rule, problem, 10, 0.1, None, lr=0.1))
    one_line_error("run_least_squares.problem",
                   lambda: run_least_squares(rule, None, 10, 0.1, 0, lr=0.1))
    one_line_error("run_least_squares.lr",
                   lambda: run_least_squares(rule, problem, 10, 0.1, 0, lr=math.nan))
    # an int seed draws what the seeded generator draws
    a = run_least_squares(DigitalSGD(torch.zeros(3, 4, dtype=F64)), problem, 20, 0.1, 3, lr=0.1)
    b = run_least_squares(DigitalSGD(torch.zeros(3, 4, dtype=F64)), problem, 20, 0.1,
                          torch.Generator().manual_seed(3), lr=0.1)
    assert torch.equal(a.final_weight, b.final_weight)
    one_line_error("convert_to_analog.model", lambda: convert_to_analog("mlp"))
    one_line_error("convert_to_analog.per_layer", lambda: convert_to_analog(nn.Linear(2, 2), per_layer=3))


@pytest.mark.parametrize("kernel", ["auto", "sparse", "dense", "torch"])
def test_update_refuses_a_non_tensor_in_one_line_on_every_kernel(kernel):
    """The argument checks run before the kernel choice, which reads x's and d's device and
    dtype: a list or a wrong width is one ConfigError naming the argument whatever the kernel,
    and NaN in d (checked by the numba pass or by the sum) likewise, with the tile unchanged."""
    from analogsgd.crossbar import UpdateConfig

    t = AnalogTile((3, 4), TileConfig(update=UpdateConfig(kernel=kernel)), 0)
    before = t.conductance.clone()
    one_line_error("AnalogTile.update.x", lambda: t.update([1.0, 2.0, 3.0, 4.0], torch.ones(1, 3), 0.1))
    one_line_error("AnalogTile.update.d", lambda: t.update(torch.ones(1, 4), "d", 0.1))
    d = torch.ones(1, 3)
    d[0, 1] = math.nan
    one_line_error("AnalogTile.update.d", lambda: t.update(torch.ones(1, 4), d, 0.1))
    assert torch.equal(t.conductance, before)
