"""Chopper signs of c-TTv2 and AGAD (Rasch et al., Nat. Commun. 15:7133 (2024), Methods).

Input signs c_in ∈ {±1}^in and output signs c_out ∈ {±1}^out (one set per replica where the tile
has leading dimensions) modulate the gradient written onto the fast tile A,
A += lr·(c_in⊙x)(c_out⊙d)ᵀ, and are undone when A is read: the buffer receives
c_in[i]·c_out⊙A[:, i] and the visible weight is γ·(c_out⊗c_in)⊙A + C. As aihwkit's
``rpu_chopped_transfer_device.cpp`` / ``rpu_dynamic_transfer_device.cpp`` (§7 of the project's
AIMC reference):

* all signs start at +1;
* after column i is read, c_in[i] flips with probability p (``random``), and/or regularly in
  every N-th pass over the columns, N = max(⌈1/p⌉, 2) (``regular``: in pass t when
  t mod N = N − 1); p = 0 never flips;
* after the last column each c_out[j] flips with probability ``out_chop_prob``, and the pass
  counter advances.

Every draw comes from the generator given at construction (one uniform per replica per read).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Chopper:
    """c_in (..., in), c_out (..., out), the pass counter and which columns flipped last read."""

    def __init__(self, shape: tuple[int, ...], in_chop_prob: float, out_chop_prob: float,
                 random: bool, regular: bool, generator: torch.Generator,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        lead, (out_size, in_size) = tuple(shape[:-2]), shape[-2:]
        self.in_chop_prob, self.out_chop_prob = float(in_chop_prob), float(out_chop_prob)
        self.random, self.regular = bool(random), bool(regular)
        self.generator = generator
        self.c_in = torch.ones(lead + (in_size,), dtype=dtype, device=device)
        self.c_out = torch.ones(lead + (out_size,), dtype=dtype, device=device)
        #: whether c_in[i] flipped after the latest read of column i (AGAD's reference trigger)
        self.flipped = torch.zeros(lead + (in_size,), dtype=torch.bool, device=device)
        #: completed passes over all columns (aihwkit's transfer_counter)
        self.passes = 0

    @property
    def period(self) -> int:
        """N = max(⌈1/p⌉, 2): passes between two regular flips of one column (0: p = 0)."""
        return max(math.ceil(1.0 / self.in_chop_prob), 2) if self.in_chop_prob > 0 else 0

    def signs(self) -> Tensor:
        """c_out ⊗ c_in (..., out, in): the sign of each element of A."""
        return self.c_out.unsqueeze(-1) * self.c_in.unsqueeze(-2)

    def column_signs(self, columns: Tensor) -> Tensor:
        """c_in[i]·c_out (..., k, out) for the k ``columns``: the sign that undoes the chopping
        of each column i."""
        return self.c_in[..., columns].unsqueeze(-1) * self.c_out.unsqueeze(-2)

    def _uniform(self, shape: tuple[int, ...]) -> Tensor:
        return torch.rand(shape, generator=self.generator, dtype=self.c_in.dtype,
                          device=self.generator.device).to(self.c_in.device)

    def after_read(self, columns: Tensor) -> None:
        """Flip c_in of the ``columns`` just read (consecutive, within one pass: one run of
        :meth:`~analogsgd.optim.transfer.TransferCursor.runs`) per the rule above, one uniform
        per replica and column; after the last column, flip c_out and count the pass."""
        shape = tuple(self.c_in.shape[:-1]) + (len(columns),)
        flip = torch.zeros(shape, dtype=torch.bool, device=self.c_in.device)
        if self.in_chop_prob > 0:
            if self.regular and self.passes % self.period == self.period - 1:
                flip = torch.ones_like(flip)
            if self.random:
                flip = flip | (self._uniform(shape) < self.in_chop_prob)
            self.c_in[..., columns] = torch.where(flip, -self.c_in[..., columns],
                                                  self.c_in[..., columns])
        self.flipped[..., columns] = flip
        if int(columns[-1]) == self.c_in.shape[-1] - 1:
            if self.out_chop_prob > 0:
                out_flip = self._uniform(tuple(self.c_out.shape)) < self.out_chop_prob
                self.c_out = torch.where(out_flip, -self.c_out, self.c_out)
            self.passes += 1

    def state_dict(self) -> dict:
        return {"c_in": self.c_in.clone(), "c_out": self.c_out.clone(),
                "flipped": self.flipped.clone(), "passes": self.passes,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.c_in, self.c_out = state["c_in"].clone(), state["c_out"].clone()
        self.flipped, self.passes = state["flipped"].clone(), int(state["passes"])
        self.generator.set_state(state["generator"])
