"""Linear step device with a linear asymmetry c_Lin (arXiv 2502.06309).

With bounds τ_min < 0 < τ_max (τ_max = −τ_min = τ nominally):

.. math:: q_+(w) = (1 + c_{Lin})\\,\\frac{\\tau_{max} - w}{\\tau_{max}}, \\qquad
          q_-(w) = (1 - c_{Lin})\\,\\frac{w - \\tau_{min}}{-\\tau_{min}} ,

i.e. q₊ = (1 + c_Lin)(1 − w/τ), q₋ = (1 − c_Lin)(1 + w/τ). Then F = 1 − c_Lin·w/τ,
G = w/τ − c_Lin, the symmetric point is w⋄ = c_Lin·τ and F(w⋄) = 1 − c_Lin². c_Lin = 0 is the
ALD. For per-element bounds τ_min ≠ −τ_max the symmetric point is
w⋄ = 2c_Lin / ((1 + c_Lin)/τ_max − (1 − c_Lin)/τ_min), which is c_Lin·τ when τ_min = −τ_max. Pulses compose
exactly (it is a linear-step device): :func:`~analogsgd.devices.composition.compose_linear_step`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..config import Interval, param
from ..errors import ConfigError
from .base import AbstractDevice, Bound
from .composition import LinearStepConstants


@dataclass(frozen=True)
class CLinDevice(AbstractDevice):
    """q₊ = (1 + c_Lin)(1 − w/τ), q₋ = (1 − c_Lin)(1 + w/τ) (arXiv 2502.06309)."""

    tau_min: float = param(-0.6, "τ_min = −τ: lower bound (absolute, < 0), where q₋ = 0", Interval())
    tau_max: float = param(0.6, "τ_max = τ: upper bound (absolute, > 0), where q₊ = 0", Interval())
    c_lin: float = param(0.0, "c_Lin: linear up/down asymmetry; w⋄ = c_Lin·τ (dimensionless)",
                         Interval(-1.0, 1.0, low_open=True, high_open=True))

    def check_invariants(self) -> None:
        super().check_invariants()
        if not self.tau_min < 0.0 < self.tau_max:
            raise ConfigError(f"{type(self).__name__}.tau_min", self.tau_min,
                              f"< 0 < tau_max = {self.tau_max}")

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return (1.0 + self.c_lin) * (tau_max - w) / tau_max

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return (1.0 - self.c_lin) * (w - tau_min) / (-tau_min)

    @property
    def symmetric_point(self) -> float:
        """Solves (1 + c)(1 − w/τ_max) = (1 − c)(1 − w/τ_min); c_Lin·τ when τ_min = −τ_max."""
        c, lo, hi = self.c_lin, self.tau_min, self.tau_max
        return 2.0 * c / ((1.0 + c) / hi - (1.0 - c) / lo)

    def _linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                               tau_max: Bound) -> LinearStepConstants:
        """Relative steps a₊ = step₊(1 + c)/τ_max, a₋ = step₋(1 − c)/(−τ_min)."""
        return LinearStepConstants(step_up * (1.0 + self.c_lin) / tau_max,
                                   step_down * (1.0 - self.c_lin) / (-tau_min), relative=True)

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """Exact linear-step composition (:func:`~analogsgd.devices.composition.compose_linear_step`)
        with the relative steps of :meth:`_linear_step_constants`."""
        return self._compose_closed_form(w, n_up, n_down, step_up, step_down, tau_min, tau_max)
