"""The error metric's two forms, NaN-aware worst cases, and the simulation's finiteness check."""

import math

import numpy as np
import pytest

from analogsgd.errors import NonFiniteError
from analogsgd.logdomain import metrics as mt
from analogsgd.logdomain.accelerator import LogDomainDesign
from analogsgd.logdomain.circuit_ode import initial_voltages
from analogsgd.logdomain.instances import build_instances
from analogsgd.logdomain.simulate import simulate


def test_constant_offset_gives_closed_form_nmse_and_rms():
    # a reference of full scale F and a copy offset by 0.0933·F everywhere: the mean squared
    # error is (0.0933 F)², i.e. NMSE 0.870 % of F², and the rms error is 9.33 % of F
    rng = np.random.default_rng(0)
    ref = rng.uniform(-1.0, 1.0, (50, 1, 3))
    ref[0, 0, 0] = 2.0  # full scale F = 2
    a = ref + 0.0933 * 2.0
    nmse = float(mt.nmse_pct(a, ref)[0])
    assert nmse == pytest.approx(100 * 0.0933 ** 2, rel=1e-12)
    assert float(mt.rms_pct_of_fs(nmse)) == pytest.approx(9.33, rel=1e-12)
    keys = mt.both("vs_ideal", nmse)
    assert keys == {"nmse_vs_ideal_pct": nmse, "rms_vs_ideal_pct_of_fs": pytest.approx(9.33)}


def test_worst_and_claims_see_nan():
    values = [1e-3, float("nan"), 2e-3]
    assert max(values) == 2e-3  # what Python's max does: the NaN is skipped
    assert math.isnan(mt.worst(values))
    assert mt.below(mt.worst(values), 0.87) is False
    assert mt.below(mt.worst([1e-3, 2e-3]), 0.87) is True


def test_simulation_stops_at_the_first_non_finite_state():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal(5)
    p = build_instances(LogDomainDesign(), 2, [0.05, 0.05], 1e-3, noise=False)
    v0 = initial_voltages(p)
    v0[1, 2] = np.nan  # instance 1, the bias
    with pytest.raises(NonFiniteError, match=r"sample 0 of 5 .*instance 1, parameter 2"):
        simulate(p, X, Y, v0=v0)
