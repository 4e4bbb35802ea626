"""Device presets, each named after the paper (or tool) whose device it reproduces.

A preset returns a :class:`Preset`: the nominal device and its :class:`DeviceVariation`
(device-to-device spread, cycle-to-cycle noise). Unpack it as ``device, variation = preset()``.

Sources (see docs/devices.md):

* Wu et al., "Towards Exact Gradient-based Training on Analog In-memory Computing",
  NeurIPS 2024, arXiv 2406.12774 (Fig. 1 least squares; §5 MNIST).
* Li et al., "In-memory Training on Analog Devices with Limited Conductance States via
  Multi-tile Residual Learning", arXiv 2510.02516 (Table 1, LeNet-5; Table 3, the number of
  states of measured devices: :func:`li2025_device`).
* IBM aihwkit, ``PulsedDevice`` / ``SoftBoundsDevice`` / ``ConstantStepDevice`` defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..errors import ConfigError
from .base import AbstractDevice
from .constant_step import ConstantStep
from .linear_step import SoftBounds, asymmetric_linear_device
from .variation import DeviceVariation


class Preset(NamedTuple):
    """A nominal device and the variation of the arrays built from it."""

    device: AbstractDevice
    variation: DeviceVariation


#: aihwkit ``PulsedDevice`` defaults: dw_min_dtod = 0.3, dw_min_std = 0.3, w_min_dtod =
#: w_max_dtod = 0.3, up_down = 0, up_down_dtod = 0.01.
AIHWKIT_DEFAULT_VARIATION = DeviceVariation(
    dw_min_d2d=0.3, dw_min_c2c=0.3, tau_min_d2d=0.3, tau_max_d2d=0.3, up_down=0.0, up_down_d2d=0.01,
)


def wu2024_least_squares_ald(tau: float = 3.0, dw_min: float = 1e-4) -> Preset:
    """ALD of the least-squares experiments of Wu et al. (NeurIPS 2024), Fig. 1.

    τ = 3, Δw_min = 1e-4 (60 000 states), no variation: W ← W + ΔW − |ΔW| ⊙ W/τ (Eq. (3)).
    Fig. 4 sweeps τ ∈ {2, 3, 5, 10, 20, 50}; pass ``tau`` to reproduce it.
    """
    return Preset(asymmetric_linear_device(tau=tau, dw_min=dw_min), DeviceVariation())


def wu2024_mnist_soft_bounds(tau: float = 0.7) -> Preset:
    """Soft bounds with ±τ and Δw_min = 1e-3, the MNIST device of Wu et al. (NeurIPS 2024), §5.

    The FCN runs τ ∈ {0.70, 0.78, 0.80}, the CNN τ ∈ {0.6, 0.7, 0.8} (Fig. 5 of v1). The
    paper does not state the device variation; none is applied here.
    """
    return Preset(asymmetric_linear_device(tau=tau, dw_min=1e-3), DeviceVariation())


def wu2024_authors_soft_bounds(tau: float = 0.7, dw_min: float = 1e-3) -> Preset:
    """The device of the authors' code for §5 of Wu et al. (NeurIPS 2024) (Zhaoxian-Wu/
    analog-training, NeurIPS-2024/S4.*-mnist-*.py): aihwkit 0.9.0's
    ``SoftBoundsReferenceDevice(w_max=τ, w_min=−τ)`` with every other field at its default.

    That is soft bounds ±τ, Δw_min = 1e-3, and aihwkit's default spread (dw_min_dtod = 0.3,
    dw_min_std = 0.3, w_min_dtod = w_max_dtod = 0.3, up_down_dtod = 0.01, see
    :data:`AIHWKIT_DEFAULT_VARIATION`). Its reference r (read as w − r) is
    reference_mean + reference_std ξ = 0 at the defaults and subtract_symmetry_point is False,
    so the read is w itself, as here. Two differences remain: aihwkit's c2c noise of this device
    is additive, Δw = Δw_min(q(w) + σ ξ) (``mult_noise = False``), here multiplicative,
    Δw_min q(w)(1 + σ ξ), so the noise std differs by the factor q(w) = 1 ∓ w/τ (within ±30 %
    for |w| ≤ 0.3 τ); and aihwkit draws its spread additively per element, here as factors
    (see :mod:`analogsgd.devices.variation`).
    """
    return Preset(asymmetric_linear_device(tau=tau, dw_min=dw_min), AIHWKIT_DEFAULT_VARIATION)


def aihwkit_soft_bounds() -> Preset:
    """aihwkit's default ``SoftBoundsDevice``: Δw_min = 1e-3, bounds ±0.6, aihwkit d2d/c2c defaults.

    dw_min_d2d = 0.3, dw_min_c2c = 0.3, τ_min/τ_max d2d = 0.3, up_down_d2d = 0.01
    (``aihwkit.simulator.configs.devices.PulsedDevice``). The variation is multiplicative here
    (see :mod:`analogsgd.devices.variation`), additive in aihwkit's step formula.
    """
    return Preset(SoftBounds(dw_min=1e-3, tau_min=-0.6, tau_max=0.6, w_sym=0.0), AIHWKIT_DEFAULT_VARIATION)


def aihwkit_constant_step() -> Preset:
    """aihwkit's default ``ConstantStepDevice``: Δw_min = 1e-3, hard bounds ±0.6, default spread."""
    return Preset(ConstantStep(dw_min=1e-3, tau_min=-0.6, tau_max=0.6), AIHWKIT_DEFAULT_VARIATION)


def li2025_four_state() -> Preset:
    """4-state device of Li et al. (arXiv 2510.02516): SoftBounds(w_min=−1, w_max=1, dw_min=0.5).

    n_states = 2/0.5 = 4 (F-MNIST column "#4" of Table 1; the §5.1 text assigns 4 and 10 states
    the other way round). No variation (the paper's IO and devices are otherwise ideal).
    """
    return Preset(SoftBounds(dw_min=0.5, tau_min=-1.0, tau_max=1.0, w_sym=0.0), DeviceVariation())


def li2025_ten_state() -> Preset:
    """10-state device of Li et al. (arXiv 2510.02516): SoftBounds(w_min=−1, w_max=1, dw_min=0.2).

    n_states = 2/0.2 = 10 (MNIST column "#10" of Table 1).
    """
    return Preset(SoftBounds(dw_min=0.2, tau_min=-1.0, tau_max=1.0, w_sym=0.0), DeviceVariation())


class StateCount(NamedTuple):
    """One row of Table 3 of Li et al. (2025): a device and its number of conductance states."""

    name: str
    label: str
    n_states: int


#: Table 3 of Li et al. (arXiv 2510.02516): measured devices and their numbers of states
LI2025_TABLE3: tuple[StateCount, ...] = (
    StateCount("capacitor", "Capacitor", 400),
    StateCount("ecram", "ECRAM", 1000),
    StateCount("ecram_mo", "ECRAM (MO)", 7100),
    StateCount("pcm", "PCM", 200),
    StateCount("reram_om", "ReRAM (OM)", 21),
    StateCount("reram_hfo2_gong2022", "ReRAM (HfO2, Gong 2022)", 4),
    StateCount("alox_hfo2", "AlOx/HfO2", 40),
    StateCount("pcmo", "PCMO", 50),
    StateCount("hfo2_jiang2016", "HfO2 (Jiang 2016)", 26),
)

#: the names :func:`li2025_device` accepts, in the order of Table 3
LI2025_DEVICES: tuple[str, ...] = tuple(row.name for row in LI2025_TABLE3)


def li2025_device(name: str) -> Preset:
    """The device ``name`` of Table 3 of Li et al. (arXiv 2510.02516) as the paper simulates it:
    soft bounds with τ = ±1 (w_min = −1, w_max = 1, w⋄ = 0) and Δw_min = 2/n_states, from the
    table's number of states, without variation (as :func:`li2025_four_state`).

    Raises:
        ConfigError: for a name not in :data:`LI2025_DEVICES` (listing them).
    """
    rows = {row.name: row for row in LI2025_TABLE3}
    if name not in rows:
        raise ConfigError("li2025_device.name", name, "one of " + ", ".join(LI2025_DEVICES),
                          "The names follow Table 3 of Li et al. (2025).")
    device = SoftBounds(tau_min=-1.0, tau_max=1.0, w_sym=0.0, n_states=rows[name].n_states)
    return Preset(device, DeviceVariation())


ALL_PRESETS: dict[str, Callable[[], Preset]] = {
    "wu2024_least_squares_ald": wu2024_least_squares_ald,
    "wu2024_mnist_soft_bounds": wu2024_mnist_soft_bounds,
    "wu2024_authors_soft_bounds": wu2024_authors_soft_bounds,
    "aihwkit_soft_bounds": aihwkit_soft_bounds,
    "aihwkit_constant_step": aihwkit_constant_step,
    "li2025_four_state": li2025_four_state,
    "li2025_ten_state": li2025_ten_state,
}
