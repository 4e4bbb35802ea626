"""The digital transfer buffer H of Tiki-Taka v2, c-TTv2 and AGAD.

H is a floating-point array of the weight's shape (..., out, in) between the fast tile A and the
slow tile C (aihwkit's ``transfer_buffer_vec``). A transfer of column i adds an increment to H's
column and turns whatever crossed the threshold into whole pulses for C (the pseudo-code of
"aihwkit's transfer algorithms", §7 of the project's AIMC reference, ``BufferedTransferCompound``
and ``ChoppedTransferCompound``)::

    ω = H[:, i] + increment
    n = clamp(trunc(ω / thr), −L, L)
    H[:, i] = n ≠ 0 ? (forget ? momentum·ω : ω − (1 − momentum)·n·thr) : ω

and, without forget and with a cap (AGAD's ``buffer_cap``), H[:, i] is clamped to ±cap·L where
n ≠ 0. C then receives −n pulses of Δw_min(C) each (the caller's write).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError


class DigitalBuffer:
    """H (shape (..., out, in)) with its threshold ``thr``, ``momentum``, ``forget`` rule,
    pulse clamp ``max_steps`` (L) and optional ``cap`` (0: none)."""

    def __init__(self, shape: tuple[int, ...], threshold: float, momentum: float, forget: bool,
                 max_steps: int, cap: float = 0.0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu"):
        if not threshold > 0:
            raise ConfigError("DigitalBuffer.threshold", threshold, "a number > 0")
        if not 0 <= momentum <= 1:
            raise ConfigError("DigitalBuffer.momentum", momentum, "a number in [0, 1]")
        if max_steps < 1:
            raise ConfigError("DigitalBuffer.max_steps", max_steps, "an integer >= 1")
        self.threshold, self.momentum, self.forget = float(threshold), float(momentum), bool(forget)
        self.max_steps, self.cap = int(max_steps), float(cap)
        self.H = torch.zeros(shape, dtype=dtype, device=device)

    def accumulate(self, columns: Tensor, increment: Tensor) -> Tensor:
        """Add ``increment`` (..., k, out) to H's ``columns`` (k indices) and return the integer
        pulse counts n (..., k, out) of those columns, updating H per the module's pseudo-code."""
        omega = self.H[..., :, columns].transpose(-1, -2) + increment
        n = torch.trunc(omega / self.threshold).clamp(-self.max_steps, self.max_steps)
        if self.forget:
            reduced = self.momentum * omega
        else:
            reduced = omega - (1.0 - self.momentum) * n * self.threshold
            if self.cap > 0:
                bound = self.cap * self.max_steps
                reduced = reduced.clamp(-bound, bound)
        omega = torch.where(n != 0, reduced, omega)
        self.H[..., :, columns] = omega.transpose(-1, -2).to(self.H)
        return n

    def state_dict(self) -> dict:
        return {"buffer": self.H.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.H = state["buffer"].clone().to(self.H)
