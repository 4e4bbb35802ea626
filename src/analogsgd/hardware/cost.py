r"""Update time, digital storage, tile area and energy of four AIMC learning rules.

The hardware-cost comparison of Li, Wu, Liu, Gokmen, Chen, *In-memory training on analog devices
with limited conductance states via multi-tile residual learning*, arXiv 2510.02516 (Tables 5–6
and the energy and area paragraphs), rebuilt from its numbers: the paper states its parameters
and results, not the formulas; those below are reconstructed so that the parameters give the
results, term by term (docs/residual-cost.md says which terms are inferred and how well each
table entry is met).

Per-sample update time of one layer with ``D`` inputs and ``D_out`` outputs (ns), with the
pulse train ``τ_p = l_avg·t_sp`` and the digital pre-processing ``τ_x = c_x·D/F``:

.. math::

    T_\mathrm{SGD} &= τ_p + τ_x \\
    T_\mathrm{TTv2} &= τ_p + τ_x + (t_M + p_T\,t_{sp} + c_H D/F)/n_s \\
    T_\mathrm{MP} &= c_χ D D_\mathrm{out}/F + c_s D/F + τ_p + (t_M + τ_p)/B \\
    T_\mathrm{res}(N) &= τ_p \sum_{k=0}^{N-1} n_s^{-k} + t_M \sum_{k=1}^{N-1} n_s^{-k} + τ_x
        \;\xrightarrow{N\to\infty}\; τ_p\frac{n_s}{n_s-1} + \frac{t_M}{n_s-1} + τ_x

(the limit is the paper's stated upper bound, plus ``τ_x``). A network's update time is that of
its largest layer (every layer has its own tiles and updates in parallel).
Digital storage (bytes): Analog SGD and residual learning keep every layer's input vector x
(``b_x·Σ D_in``); TT-v2 one buffer entry H per weight and bias (``b_H·(W + biases)``); mixed
precision one accumulator entry χ per weight and bias plus the inputs. Area: ``a_w`` per weight
and tile (the paper's tile of ``0.16·D²`` µm²), twice with a reference conductance per weight.
Energy per image: the paper's figures for its 785-250-10 perceptron, kept as parameters
(:class:`EnergyParameters`; they cannot be derived from the stated parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import NON_NEGATIVE, POSITIVE, Config, Interval, IsBool, OneOf, check_argument, param
from ..errors import ConfigError
from .layers import AnalogLayer, AnalogNetwork

#: the algorithm keys (registry kinds: tiki_taka_v2, analog_sgd, mixed_precision, residual)
ALGORITHMS = ("tt_v2", "analog_sgd", "mixed_precision", "residual")

#: the cost model's algorithm of each learning-rule kind of the rule registry (optim/registry.py)
RULE_KINDS = {"tiki_taka_v2": "tt_v2", "analog_sgd": "analog_sgd",
              "mixed_precision": "mixed_precision", "residual": "residual"}

#: analog tiles per weight of each algorithm (residual: the number of tiles N, given apart)
TILES = {"tt_v2": 2, "analog_sgd": 1, "mixed_precision": 1}


@dataclass(frozen=True)
class CostParameters(Config):
    """The hardware and algorithm parameters of the cost model (defaults: Li et al., Table 5)."""

    batch_size: int = param(100, "mini-batch B: samples between two mixed-precision transfers "
                            "of the digital accumulator χ onto the device", Interval(1, None, integer=True))
    n_s: int = param(2, "transfer ratio n_s: samples between two TT-v2 transfers, and the ratio "
                     "of the transfer periods of consecutive residual tiles", Interval(2, None, integer=True))
    l_avg: float = param(5.0, "average pulses l_avg of one update pulse train", POSITIVE)
    t_sp_ns: float = param(5.0, "duration t_sp of one update pulse, ns", POSITIVE)
    t_m_ns: float = param(40.0, "duration t_M of one matrix-vector read (one column read at a "
                          "transfer), ns", POSITIVE)
    flops_per_s: float = param(0.7e12, "digital throughput F, FLOP/s", POSITIVE)
    preprocess_flops_per_input: float = param(
        8.0, "c_x: digital FLOPs per input entry to prepare x and δ for the stochastic pulse "
        "trains (inferred: Analog SGD's 30.9 ns − 25 ns)", NON_NEGATIVE)
    buffer_flops_per_entry: float = param(
        8.0, "c_H: FLOPs per column entry of a TT-v2 transfer (H ← H + η·a, threshold, pulse "
        "count, subtraction; inferred)", NON_NEGATIVE)
    transfer_pulses_tt_v2: float = param(1.0, "p_T: pulses of one TT-v2 threshold transfer "
                                         "(transfer bit length 1)", NON_NEGATIVE)
    accumulate_flops_per_weight: float = param(
        8.0, "c_χ: FLOPs per weight of mixed precision's digital rank-1 accumulation χ ← χ + η x δᵀ "
        "(inferred: 8·512²/F = 2995.9 ns of Table 5's 3024.5)", NON_NEGATIVE)
    scale_flops_per_input: float = param(4.0, "c_s: FLOPs per input entry of mixed precision's "
                                         "scaling of x (inferred)", NON_NEGATIVE)
    vector_bytes: float = param(2.0, "b_x: bytes of one stored input-vector entry (16 bit)", POSITIVE)
    buffer_bytes: float = param(1.0, "b_H: bytes of one TT-v2 buffer or mixed-precision "
                                "accumulator entry (8 bit)", POSITIVE)
    area_per_weight_um2: float = param(0.16, "a_w: crossbar area per weight, µm² (tile 0.16·D² µm²)",
                                       POSITIVE)
    reference_conductance: bool = param(False, "each weight is a main and a reference "
                                        "conductance, doubling the physical area", IsBool())

    @property
    def pulse_train_ns(self) -> float:
        """``τ_p = l_avg·t_sp``: one update pulse train, ns."""
        return self.l_avg * self.t_sp_ns

    def flops_ns(self, flops: float) -> float:
        """The time of ``flops`` digital operations at ``F``, ns."""
        return flops / self.flops_per_s * 1e9


@dataclass(frozen=True)
class EnergyParameters(Config):
    """Energy per image of the 785-250-10 perceptron (Li et al., §Hardware cost): the paper's
    figures, not derivable from the stated parameters, kept as inputs of the linear model."""

    mp_update_nj: float = param(62.03, "mixed precision, digital update per image, nJ", NON_NEGATIVE)
    mp_forward_backward_nj: float = param(21.21, "mixed precision, forward and backward per "
                                          "image, nJ", NON_NEGATIVE)
    residual_fixed_nj: float = param(12.82, "residual learning, energy per image independent of "
                                     "the tile count, nJ", NON_NEGATIVE)
    residual_per_tile_nj: float = param(9.44, "residual learning, energy per image and tile, nJ",
                                        POSITIVE)


def algorithm_of_rule(kind: str) -> str:
    """The cost model's algorithm key of the registry's rule ``kind`` (``"tiki_taka_v2"`` →
    ``"tt_v2"``)."""
    if kind not in RULE_KINDS:
        raise ConfigError("rule", kind, "one of " + ", ".join(RULE_KINDS),
                          "The cost model covers these four learning rules.")
    return RULE_KINDS[kind]


def _check_algorithm(algorithm: str) -> None:
    check_argument("algorithm", algorithm, OneOf(ALGORITHMS))


def _check_tiles(n_tiles: int | None) -> None:
    if n_tiles is not None:
        check_argument("n_tiles", n_tiles, Interval(1, None, integer=True))


def update_time_terms(algorithm: str, layer: AnalogLayer, p: CostParameters,
                      n_tiles: int | None = None) -> dict[str, float]:
    """The terms (ns) of one sample's update of ``layer`` under ``algorithm``; their sum is
    :func:`update_time_ns`. ``n_tiles`` (residual only): the tile count N, ``None`` for the
    N → ∞ bound."""
    _check_algorithm(algorithm)
    _check_tiles(n_tiles)
    d, pulse = layer.d_in, p.pulse_train_ns
    pre = p.flops_ns(p.preprocess_flops_per_input * d)
    if algorithm == "analog_sgd":
        return {"gradient_pulses": pulse, "preprocess": pre}
    if algorithm == "tt_v2":
        return {"gradient_pulses": pulse, "preprocess": pre,
                "transfer_read": p.t_m_ns / p.n_s,
                "transfer_pulses": p.transfer_pulses_tt_v2 * p.t_sp_ns / p.n_s,
                "buffer": p.flops_ns(p.buffer_flops_per_entry * d) / p.n_s}
    if algorithm == "mixed_precision":
        return {"accumulate": p.flops_ns(p.accumulate_flops_per_weight * d * layer.d_out),
                "scale": p.flops_ns(p.scale_flops_per_input * d),
                "update_pulses": pulse,
                "batch_transfer": (p.t_m_ns + pulse) / p.batch_size}
    r = 1.0 / p.n_s  # residual: tile k (k = 0 the gradient tile) is written every n_s^k samples
    if n_tiles is None:
        tiles_pulses, tiles_reads = 1.0 / (1.0 - r), r / (1.0 - r)
    else:
        tiles_pulses = (1.0 - r ** n_tiles) / (1.0 - r)
        tiles_reads = tiles_pulses - 1.0
    return {"gradient_pulses": pulse, "transfer_pulses": pulse * (tiles_pulses - 1.0),
            "transfer_reads": p.t_m_ns * tiles_reads, "preprocess": pre}


def update_time_ns(algorithm: str, layer: AnalogLayer, p: CostParameters,
                   n_tiles: int | None = None) -> float:
    """Per-sample update time of ``layer`` (ns), the sum of :func:`update_time_terms`."""
    return math.fsum(update_time_terms(algorithm, layer, p, n_tiles).values())


def network_update_time_ns(algorithm: str, net: AnalogNetwork, p: CostParameters,
                           n_tiles: int | None = None) -> float:
    """Per-sample update time of ``net``: that of its largest layer (layers update in parallel
    on their own tiles), ns."""
    return update_time_ns(algorithm, net.largest, p, n_tiles)


def storage_bytes(algorithm: str, net: AnalogNetwork, p: CostParameters) -> float:
    """Digital storage that ``algorithm`` needs beside the analog tiles to train ``net``, bytes."""
    _check_algorithm(algorithm)
    inputs = p.vector_bytes * net.n_inputs
    per_weight = p.buffer_bytes * (net.n_weights + net.n_biases)
    if algorithm in ("analog_sgd", "residual"):
        return inputs
    if algorithm == "tt_v2":
        return per_weight
    return per_weight + inputs


def tiles(algorithm: str, n_tiles: int | None = None) -> int:
    """Analog tiles per weight: 1 (Analog SGD, mixed precision), 2 (TT-v2's A and C), N."""
    _check_algorithm(algorithm)
    if algorithm == "residual":
        if n_tiles is None:
            raise ConfigError("n_tiles", n_tiles, "an integer >= 1 for residual learning")
        _check_tiles(n_tiles)
        return n_tiles
    return TILES[algorithm]


def tile_area_um2(d: int, p: CostParameters) -> float:
    """Area of one ``d × d`` tile, ``a_w·d²`` µm² (0.16·4096² µm² = 2.68 mm²)."""
    check_argument("d", d, Interval(1, None, integer=True))
    return p.area_per_weight_um2 * d * d


def area_mm2(net: AnalogNetwork, p: CostParameters, algorithm: str | None = None,
             n_tiles: int | None = None) -> float:
    """Crossbar area of ``net``'s weights, mm²: one tile per weight when ``algorithm`` is None
    (the paper's network totals), else :func:`tiles` of them; doubled with a reference
    conductance."""
    count = 1 if algorithm is None else tiles(algorithm, n_tiles)
    ref = 2 if p.reference_conductance else 1
    return p.area_per_weight_um2 * net.n_weights * count * ref * 1e-6


def energy_per_image_nj(algorithm: str, e: EnergyParameters, n_tiles: int | None = None) -> float:
    """Energy per image of the perceptron: ``E_MP = E_update + E_fwd/bwd``,
    ``E_res(N) = E_0 + N·E_tile``, nJ."""
    if algorithm == "mixed_precision":
        return e.mp_update_nj + e.mp_forward_backward_nj
    if algorithm == "residual":
        return e.residual_fixed_nj + tiles("residual", n_tiles) * e.residual_per_tile_nj
    raise ConfigError("algorithm", algorithm, "'mixed_precision' or 'residual'",
                      "The paper gives energy per image for these two only.")


def energy_crossing_tiles(e: EnergyParameters) -> int:
    """The smallest tile count N at which residual learning spends at least mixed precision's
    energy per image: ``⌈(E_MP − E_0)/E_tile⌉`` (at least 1)."""
    mp = energy_per_image_nj("mixed_precision", e)
    return max(1, math.ceil((mp - e.residual_fixed_nj) / e.residual_per_tile_nj))
