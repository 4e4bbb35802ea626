"""Discrete SGDr and the ideal continuous-time SGDr ODE."""

import numpy as np
import pytest
from scipy.linalg import expm

from analogsgd.logdomain import references as ref


def _data(S=30, N=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((S, N))
    return X, X @ rng.standard_normal(N) + 0.1 * rng.standard_normal(S)


def test_ct_hold_is_matrix_exponential():
    X, Y = _data()
    eta, lam = 0.07, 0.03
    got = ref.ideal_ct_sgdr(X, Y, eta, lam)[:, 0]
    theta = np.zeros(5)
    L = np.diag([lam] * 4 + [0.0])
    for k in range(len(X)):
        u = np.append(X[k], 1.0)
        A = np.outer(u, u) + L
        # augmented exponential of the affine system dθ/ds = −(Aθ − u y), s ∈ [0, η]
        aug = np.zeros((6, 6))
        aug[:5, :5], aug[:5, 5] = -A, u * Y[k]
        theta = (expm(eta * aug) @ np.append(theta, 1.0))[:5]
        assert got[k + 1] == pytest.approx(theta, abs=1e-12)


def test_ct_without_regularisation_is_sgd_with_effective_step():
    # docs/logdomain.md §7: for λ = 0 a hold is a discrete step with η_eff = (1 − e^{−η‖u‖²})/‖u‖²
    X, Y = _data()
    eta = 0.3
    got = ref.ideal_ct_sgdr(X, Y, eta, 0.0)[:, 0]
    theta = np.zeros(5)
    for k in range(len(X)):
        u = np.append(X[k], 1.0)
        n2 = u @ u
        theta = theta - (1 - np.exp(-eta * n2)) / n2 * (theta @ u - Y[k]) * u
        assert got[k + 1] == pytest.approx(theta, abs=1e-12)


def test_ct_converges_to_discrete_as_eta_vanishes():
    # the one-hold gap is O(η²) (the exponential's second-order term), so with the number of
    # samples scaled as 1/η the trajectory gap relative to the motion shrinks linearly in η
    X, Y = _data(S=400)
    gaps = []
    for eta in (0.02, 0.01, 0.005):
        S = int(2 / eta)
        ct = ref.ideal_ct_sgdr(X[:S], Y[:S], eta, 0.01)
        ds = ref.discrete_sgdr(X[:S], Y[:S], eta, 0.01)
        gaps.append(np.abs(ct - ds).max() / np.abs(ds).max())
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    assert ratios == pytest.approx([2.0, 2.0], rel=0.15)


def test_vectorised_pairs_match_single_runs():
    X, Y = _data()
    many = ref.discrete_sgdr(X, Y, [0.01, 0.05], [0.0, 0.1])
    one = ref.discrete_sgdr(X, Y, 0.05, 0.1)
    assert many[:, 1] == pytest.approx(one[:, 0], abs=1e-15)
    many = ref.ideal_ct_sgdr(X, Y, [0.01, 0.05], [0.0, 0.1])
    one = ref.ideal_ct_sgdr(X, Y, 0.05, 0.1)
    assert many[:, 1] == pytest.approx(one[:, 0], abs=1e-14)


def test_quantised_sgdr_tends_to_float_sgdr():
    X, Y = _data()
    exact = ref.discrete_sgdr(X, Y, 0.05, 0.0)
    err = [np.abs(ref.quantised_sgdr(X, Y, 0.05, 0.0, b, 4.0) - exact).max() for b in (8, 12, 16)]
    assert err[0] > err[1] > err[2]
    # the grid is 2·4/2^16; a rounding error per step can accumulate over 30 steps at most
    assert err[2] < 30 * 8.0 / 2 ** 16
