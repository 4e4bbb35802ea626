"""A weighted stack of tiles read as one weight: W̄ = Σ_k γ_k W_k.

The multi-tile weight of Li et al. (2025, §3: W̄ = Σ_n γⁿ W⁽ⁿ⁾) and Tiki-Taka's γA + C. In
hardware each tile's output currents pass an amplifier of gain γ_k and are summed, so the forward
read is y = Σ_k γ_k (x W_kᵀ read through tile k's periphery) and the backward read z = Σ_k γ_k
(d W_k read likewise): each tile draws its own read noise. A tile whose γ_k is 0 is not read
(no draws), and γ_k = 1 is not multiplied.
"""

from __future__ import annotations

from torch import Tensor

from ..crossbar.tile import AnalogTile
from ..errors import ConfigError


class TileStack:
    """Tiles of one shape with gains γ_k; reads and weights sum in the order given."""

    def __init__(self, tiles: tuple[AnalogTile, ...], gammas: tuple[float, ...]):
        if len(tiles) != len(gammas) or not tiles:
            raise ConfigError("TileStack.gammas", gammas, f"{len(tiles)} gains, one per tile")
        if any(t.shape != tiles[0].shape for t in tiles):
            raise ConfigError("TileStack.tiles", [t.shape for t in tiles], "tiles of one shape")
        if gammas[0] == 0:
            raise ConfigError("TileStack.gammas", gammas, "a first gain that is not 0")
        self.tiles, self.gammas = tuple(tiles), tuple(float(g) for g in gammas)

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
        """y = Σ_k γ_k · (x W_kᵀ through tile k's forward periphery)."""
        return self._sum(lambda t=t: t.forward(x) for t in self.tiles)

    def backward(self, d: Tensor) -> Tensor:
        """z = Σ_k γ_k · (d W_k through tile k's backward periphery)."""
        return self._sum(lambda t=t: t.backward(d) for t in self.tiles)
