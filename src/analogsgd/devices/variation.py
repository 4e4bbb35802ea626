"""Device-to-device (d2d) spread drawn once per element, and cycle-to-cycle (c2c) noise per pulse.

Following aihwkit's pulsed devices (see docs/devices.md):

* step size: Δw_ij = Δw_min · (1 + σ_d2d ξ) · (1 ± β_ij), β_ij = ``up_down`` + ``up_down_d2d`` ξ';
* bounds: τ_max,ij = τ_max (1 + σ_max ξ''), τ_min,ij = τ_min (1 + σ_min ξ''');
* c2c: each pulse is multiplied by (1 + σ_c2c ξ), fresh per pulse.

:class:`DeviceArray` is the realised array: the nominal device plus these per-element tensors.
Its q₊, q₋, F, G and symmetric point are per element; the tile uses nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import NON_NEGATIVE, Config, Interval, IsBool, param
from ..errors import ConfigError
from .base import AbstractDevice, symmetric_point_bisect


@dataclass(frozen=True)
class DeviceVariation(Config):
    """Spread of the devices of one array (all relative, dimensionless)."""

    dw_min_d2d: float = param(0.0, "σ of the per-element step-size factor (aihwkit dw_min_dtod)", NON_NEGATIVE)
    up_down: float = param(0.0, "β: mean up/down step asymmetry (up × (1+β), down × (1−β))",
                           Interval(-1.0, 1.0, low_open=True, high_open=True))
    up_down_d2d: float = param(0.0, "σ of β across elements (aihwkit up_down_dtod)", NON_NEGATIVE)
    tau_min_d2d: float = param(0.0, "relative σ of τ_min across elements (aihwkit w_min_dtod)", NON_NEGATIVE)
    tau_max_d2d: float = param(0.0, "relative σ of τ_max across elements (aihwkit w_max_dtod)", NON_NEGATIVE)
    dw_min_c2c: float = param(0.0, "σ_c2c: relative per-pulse step noise (aihwkit dw_min_std)", NON_NEGATIVE)
    zero_shift: bool = param(False, "subtract each element's symmetric point (zero-shifting)", IsBool())


@dataclass
class DeviceArray:
    """A device realised over an array: nominal device + per-element d2d draws (tensors).

    Attributes:
        device: the nominal device.
        gain_up, gain_down: per-element step factors (step = Δw_min · gain · q).
        tau_min, tau_max: per-element bounds.
        dw_min_c2c: relative per-pulse noise.
        reference: per-element value subtracted on read (the symmetric point when zero-shifting,
            else 0); the weight seen by the algorithm is ``w − reference``.
    """

    device: AbstractDevice
    gain_up: Tensor
    gain_down: Tensor
    tau_min: Tensor
    tau_max: Tensor
    dw_min_c2c: float
    reference: Tensor

    @classmethod
    def realise(cls, device: AbstractDevice, shape: tuple[int, ...], variation: DeviceVariation | None,
                generator: torch.Generator, dtype: torch.dtype = torch.float32,
                device_str: str | torch.device = "cpu") -> DeviceArray:
        """Draw the d2d parameters of an array of ``shape`` from ``generator``."""
        v = variation or DeviceVariation()
        opts = {"dtype": dtype, "device": device_str}

        def normal() -> Tensor:
            return torch.randn(shape, generator=generator, **opts)

        step = (1.0 + v.dw_min_d2d * normal()).clamp(min=0.0) if v.dw_min_d2d else torch.ones(shape, **opts)
        beta = v.up_down + (v.up_down_d2d * normal() if v.up_down_d2d else 0.0)
        beta = torch.as_tensor(beta, **opts).expand(shape).clamp(-1.0, 1.0)
        gain_up = step * (1.0 + beta)
        gain_down = step * (1.0 - beta)
        tau_min = _spread(device.tau_min, v.tau_min_d2d, normal, shape, opts)
        tau_max = _spread(device.tau_max, v.tau_max_d2d, normal, shape, opts)
        arr = cls(device, gain_up, gain_down, tau_min, tau_max, v.dw_min_c2c, torch.zeros(shape, **opts))
        if v.zero_shift:
            arr.reference = arr.symmetric_point().to(dtype)
        return arr

    # -- per-element responses ---------------------------------------------------------------
    def q_up(self, w: Tensor) -> Tensor:
        return self.gain_up * self.device.response_up(w, self.tau_min, self.tau_max)

    def q_down(self, w: Tensor) -> Tensor:
        return self.gain_down * self.device.response_down(w, self.tau_min, self.tau_max)

    def F(self, w: Tensor) -> Tensor:
        return 0.5 * (self.q_down(w) + self.q_up(w))

    def G(self, w: Tensor) -> Tensor:
        return 0.5 * (self.q_down(w) - self.q_up(w))

    def symmetric_point(self) -> Tensor:
        """Per-element w⋄ where gain₊q₊ = gain₋q₋ (bisection in float64)."""
        return symmetric_point_bisect(self.device.response_up, self.device.response_down,
                                      self.tau_min.double(), self.tau_max.double(),
                                      self.gain_up.double(), self.gain_down.double())

    def clip(self, w: Tensor) -> Tensor:
        if not self.device.hard_bounds:
            return w
        return torch.minimum(torch.maximum(w, self.tau_min), self.tau_max)

    # -- pulses ------------------------------------------------------------------------------
    def apply_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor,
                     generator: torch.Generator | None = None, *, noise: Tensor | None = None) -> Tensor:
        """Apply counted pulses per element: the device's composition, then c2c noise, then bounds.

        Cycle-to-cycle noise multiplies each pulse by (1 + σ ξ); for the n pulses of an element
        the sum of these independent terms is added as one Gaussian of variance
        σ² (n₊ (Δw₊ q₊)² + n₋ (Δw₋ q₋)²), evaluated at the composed weight w'. The noise of pulse
        k reaches the end contracted by the later pulses, ∂w_n/∂w_k; for a linear step
        ∏(1 − Δw/τ) exactly cancels the growth of q back to pulse k, so the end-weight rule is
        exact up to one pulse, a relative error O(Δw·|q'|) (the starting weight was off by
        O(n·Δw·|q'|): 26 % in the variance for 10 pulses of Δw = τ/60, measured against
        aihwkit's one-pulse-at-a-time update). ``generator`` is required when σ_c2c > 0,
        unless the standard normal draws are given as ``noise`` (same shape as ``w``).
        """
        dw = self.device.dw_min
        step_up, step_down = dw * self.gain_up, dw * self.gain_down
        new = self.device.compose_pulses(w, n_up, n_down, step_up, step_down, self.tau_min, self.tau_max)
        if self.dw_min_c2c > 0:
            if noise is None:
                if generator is None:
                    raise ConfigError("DeviceArray.apply_pulses.generator", None,
                                      "a torch.Generator when dw_min_c2c > 0",
                                      "Pass the tile's generator; analogsgd never draws from the global RNG.")
                noise = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
            at = new.clamp(self.tau_min, self.tau_max) if self.device.hard_bounds else new
            s_up = (step_up * self.device.response_up(at, self.tau_min, self.tau_max)).square_()
            s_down = (step_down * self.device.response_down(at, self.tau_min, self.tau_max)).square_()
            var = s_up.mul_(n_up).addcmul_(n_down, s_down).sqrt_().mul_(noise)
            new = torch.add(new, var, alpha=self.dw_min_c2c) if new is w else new.add_(var, alpha=self.dw_min_c2c)
        if self.device.hard_bounds and new is not w and new.shape == self.tau_min.shape:
            return new.clamp_(min=self.tau_min, max=self.tau_max)
        return self.clip(new)

    def to(self, device: str | torch.device) -> DeviceArray:
        return DeviceArray(self.device, self.gain_up.to(device), self.gain_down.to(device),
                           self.tau_min.to(device), self.tau_max.to(device), self.dw_min_c2c,
                           self.reference.to(device))


def _spread(nominal: float, sigma: float, normal, shape, opts) -> Tensor:
    base = torch.full(shape, nominal, **opts)
    if sigma and math.isfinite(nominal):
        base = base * (1.0 + sigma * normal()).clamp(min=0.05)
    return base
