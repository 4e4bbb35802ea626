"""A weighted stack of tiles read as one weight: W̄ = Σ_k γ_k W_k.

The multi-tile weight of Li et al. (2025, §3: W̄ = Σ_n γⁿ W⁽ⁿ⁾) and Tiki-Taka's γA + C. In
hardware each tile's output currents pass an amplifier of gain γ_k and are summed, so the forward
read is y = Σ_k γ_k (x W_kᵀ read through tile k's periphery) and the backward read z = Σ_k γ_k
(d W_k read likewise): each tile draws its own read noise. A tile whose γ_k is 0 is not read
(no draws), and γ_k = 1 is not multiplied.

``combined=True`` reads W̄ itself once, through the first tile's periphery and generator: aihwkit's
compounds (``VectorRPUDevice``: the forward and backward of the reduced weight Σ_k γ_k W_k), as if
the gains acted on the conductances. Under output noise σ alone the per-tile read has noise std
σ·(Σ_k γ_k²)^½, the combined read σ.
"""

from __future__ import annotations

from torch import Tensor

from ..crossbar.periphery import analog_mvm
from ..crossbar.tile import AnalogTile, _check_width
from ..errors import ConfigError


class TileStack:
    """Tiles of one shape with gains γ_k; reads and weights sum in the order given."""

    def __init__(self, tiles: tuple[AnalogTile, ...], gammas: tuple[float, ...],
                 combined: bool = False):
        if len(tiles) != len(gammas) or not tiles:
            raise ConfigError("TileStack.gammas", gammas, f"{len(tiles)} gains, one per tile")
        if any(t.shape != tiles[0].shape for t in tiles):
            raise ConfigError("TileStack.tiles", [t.shape for t in tiles], "tiles of one shape")
        if gammas[0] == 0:
            raise ConfigError("TileStack.gammas", gammas, "a first gain that is not 0")
        self.tiles, self.gammas = tuple(tiles), tuple(float(g) for g in gammas)
        self.combined = bool(combined)

    def _sum(self, parts) -> Tensor:
        total = None
        for gamma, part in zip(self.gammas, parts):
            if gamma == 0:
                continue
            term = part() if gamma == 1 else gamma * part()
            total = term if total is None else total + term
        return total

    @property
    def weight(self) -> Tensor:
        """W̄ = Σ_k γ_k W_k."""
        return self._sum(lambda t=t: t.weight for t in self.tiles)

    def forward(self, x: Tensor) -> Tensor:
        """y = Σ_k γ_k · (x W_kᵀ through tile k's forward periphery); combined: x W̄ᵀ through the
        first tile's."""
        if self.combined:
            first = self.tiles[0]
            _check_width("TileStack.forward.x", x, first.shape[-1], "in_size")
            return analog_mvm(x, self.weight, first.config.periphery.forward, first.generator)
        return self._sum(lambda t=t: t.forward(x) for t in self.tiles)

    def backward(self, d: Tensor) -> Tensor:
        """z = Σ_k γ_k · (d W_k through tile k's backward periphery); combined: d W̄ through the
        first tile's."""
        if self.combined:
            first = self.tiles[0]
            _check_width("TileStack.backward.d", d, first.shape[-2], "out_size")
            return analog_mvm(d, self.weight.transpose(-1, -2), first.config.periphery.backward,
                              first.generator, direction="backward")
        return self._sum(lambda t=t: t.backward(d) for t in self.tiles)
