"""The N-feature log-domain SGDr regressor as a design object: one source of truth for sizes,
bias currents, capacitors and supply (a later netlist generator reads the same object).

Signed scheme (docs/logdomain.md §3): every signed quantity is **pseudo-differential, class AB**.

* **weights and bias**: one capacitor per parameter drives a pair of storage devices in
  antiphase (sinh-domain Bernoulli pair), ``I^± = I_qw e^{±V/(nU_T)}``, so ``I⁺I⁻ = I_qw²`` (the
  common mode is controlled by construction) and ``w = (I⁺ − I⁻)/I_u``;
* **inputs and label**: sign-magnitude DACs, ``x = (I_x⁺ − I_x⁻)/I_u`` with a quiescent ``I_qx``
  on both halves; **error**: a translinear class-AB splitter, ``I_e⁺ I_e⁻ = I_qe²``;
* **four-quadrant products** so that common modes cancel: ``ŷ⁺ − ŷ⁻ = Σ (I⁺ − I⁻)(I_x⁺ − I_x⁻)/I_u``;
  the gradient drive sources ``I_τ(e⁻x⁺ + e⁺x⁻)/I_u`` and sinks ``I_τ(e⁺x⁺ + e⁻x⁻)/I_u`` (net
  ``−I_τ I_u e x``), the leak ``−I_λ(I⁺ − I⁻)``, and a divider by ``I⁺ + I⁻`` linearises the pair:
  ``I_C = −I_u (I_τ e x + I_λ w)/(I⁺ + I⁻)`` gives
  ``dw/dt = −(I_τ/(C n U_T)) (e x + (I_λ/I_τ) w)``.

An offset-coded (class-A) weight ``I_w = I_B + w I_u`` was the first version: its offset current
must be cancelled by mismatched multipliers, so Pelgrom mismatch of a few % of ``I_B`` became
weight errors of ~0.1–0.3 (mean Monte-Carlo error ≈ 60 % on diabetes); the class-AB pair makes
mismatch errors proportional to ``w`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import POSITIVE, Config, Interval, IsBool, OneOf, param
from ..errors import ConfigError
from . import blocks
from .blocks import sample_hold
from .transistor import (
    PARAMETER_SETS,
    MosParams,
    OperatingViolation,
    celsius_to_kelvin,
    check_saturation,
    check_weak_inversion,
    gate_voltage_for,
    specific_current,
    thermal_voltage,
)

#: gate-oxide capacitance per area of a 1.8 V device (t_ox ≈ 4.1 nm), F/µm²
COX_F_PER_UM2 = 8.4e-15


#: the smallest settle_factor a design accepts
MIN_SETTLE_FACTOR = 0.01

@dataclass(frozen=True)
class LogDomainDesign(Config):
    """Sizes, currents, capacitors and supply of the accelerator (defaults: docs/logdomain.md §4)."""

    technology: str = param("sky130-like", "MOS parameter set", OneOf(tuple(PARAMETER_SETS)))
    temp_c: float = param(27.0, "operating temperature, °C", Interval(-55.0, 150.0))
    vdd_v: float = param(1.8, "V_DD: supply voltage, V", Interval(0.6, 5.0))
    c_w_f: float = param(10e-12, "C: storage capacitor of each weight, F", Interval(1e-15, 1e-9))
    c_density_f_per_um2: float = param(2e-15, "capacitor density (MIM), F/µm²", POSITIVE)
    i_u_a: float = param(1e-9, "I_u: unit current, w = 1 ↔ I_u, A", Interval(1e-13, 1e-6))
    i_qw_a: float = param(50e-12, "I_qw: quiescent current of each weight half (I⁺I⁻ = I_qw²), A",
                          Interval(1e-15, 1e-6))
    i_tau_a: float = param(50e-12, "I_τ: integrator bias current at T_nom, A", Interval(1e-15, 1e-6))
    i_qx_a: float = param(20e-12, "I_qx: quiescent current of each input/label half, A",
                          Interval(1e-15, 1e-6))
    i_qe_a: float = param(20e-12, "I_qe: class-AB quiescent current of the error halves, A",
                          Interval(1e-15, 1e-6))
    i_floor_a: float = param(0.5e-12, "I_floor: off-current floor of a storage device, A",
                             Interval(0.0, 1e-9))
    i_leak_a: float = param(1e-15, "I_leak: storage-node junction leakage at T_nom, A",
                            Interval(0.0, 1e-9))
    leak_doubling_k: float = param(8.0, "temperature rise that doubles I_leak, K", POSITIVE)
    i_min_a: float = param(5e-15, "smallest realisable bias current, A", Interval(1e-18, 1e-9))
    dac_bits: int = param(8, "resolution of the input/label S&H DACs, bits (sign-magnitude)",
                          Interval(2, 16, integer=True))
    x_full_scale: float = param(4.0, "DAC full scale ±x_fs (standardised units)", POSITIVE)
    adc_bits: int = param(0, "read-out ADC bits (0: current read without quantisation)",
                          Interval(0, 16, integer=True))
    w_storage_um: float = param(2.0, "storage device width, µm", POSITIVE)
    l_storage_um: float = param(2.0, "storage device length, µm", POSITIVE)
    w_tl_um: float = param(3.0, "translinear/mirror device width, µm", POSITIVE)
    l_tl_um: float = param(3.0, "translinear/mirror device length, µm", POSITIVE)
    w_dac_um: float = param(2.0, "DAC unit device width, µm", POSITIVE)
    l_dac_um: float = param(2.0, "DAC unit device length, µm", POSITIVE)
    c_wire_f: float = param(40e-15, "wiring capacitance of a translinear node, F", Interval(0.0, 1e-11))
    settle_factor: float = param(1.0, "minimum hold time in node time constants C_node nU_T/I_loop,min "
                                 "(1: measured in ngspice, docs/spice.md §6)",
                                 Interval(MIN_SETTLE_FACTOR, 1e3))
    t_hold_max_s: float = param(1.0, "longest hold time per sample, s", POSITIVE)
    ptat_bias: bool = param(True, "I_τ and I_λ proportional to absolute temperature", IsBool())
    chop_gradient: bool = param(True, "rotate the four gradient paths through the quadrant roles "
                                "hold by hold (dynamic element matching)", IsBool())
    eta_knob: str = param("hold_time", "circuit value that sets η", OneOf(("hold_time", "i_tau")))
    t_hold_nom_s: float = param(1e-3, "hold time when eta_knob = 'i_tau', s", POSITIVE)

    def check_invariants(self) -> None:
        if self.i_qw_a >= self.i_u_a:
            raise ConfigError("LogDomainDesign.i_qw_a", self.i_qw_a, f"< i_u_a = {self.i_u_a:g}",
                              "The weight halves' quiescent current must be below the unit current.")
        violations = self.operating_violations()
        if violations:
            v = violations[0]
            raise ConfigError(f"LogDomainDesign.{v.role}", v.value, f"within limit {v.limit}",
                              v.excess)

    # -- derived quantities -------------------------------------------------------------------
    @property
    def mos(self) -> MosParams:
        return PARAMETER_SETS[self.technology]()

    @property
    def temp_k(self) -> float:
        return celsius_to_kelvin(self.temp_c)

    @property
    def n_ut_v(self) -> float:
        """n·U_T at the operating temperature, V."""
        return self.mos.n * thermal_voltage(self.temp_k)

    @property
    def c_node_f(self) -> float:
        """Capacitance of a translinear node: two gates of the loop devices plus wiring."""
        return 2 * COX_F_PER_UM2 * self.w_tl_um * self.l_tl_um + self.c_wire_f

    @property
    def i_loop_min_a(self) -> float:
        """Smallest bias current a translinear loop runs at: min(I_qx, I_qe, I_qw, I_τ).

        The quiescent halves of the inputs, of the error and of the weights, and the integrator
        bias, are the currents at which a loop node is slowest (its conductance is g = I/(nU_T)).
        A weight's small half I_qw²/I⁺ falls below I_qw as |w| grows, but the loops it drives then
        carry proportionally small outputs, so their lag weighs little in the error (measured in
        ngspice, docs/spice.md §6).
        """
        return min(self.i_qx_a, self.i_qe_a, self.i_qw_a, self.i_tau_a)

    @property
    def t_settle_s(self) -> float:
        """Node time constant at the smallest loop current, ``C_node n U_T / I_loop,min``."""
        return self.c_node_f * self.n_ut_v / self.i_loop_min_a

    @property
    def t_hold_min_s(self) -> float:
        """Shortest hold: ``settle_factor · C_node n U_T / I_loop,min``; with η = T I_τ/(C nU_T)
        the smallest η is ``settle_factor · (C_node/C) · (I_τ/I_loop,min)`` (no n, no U_T)."""
        return self.settle_factor * self.t_settle_s

    def ptat(self, temp_k: float) -> float:
        """Scale of a bias current at ``temp_k`` relative to T_nom (1 when not PTAT)."""
        return temp_k / celsius_to_kelvin(27.0) if self.ptat_bias else 1.0

    def i_spec(self, role: str) -> float:
        w, l = {"storage": (self.w_storage_um, self.l_storage_um),
                "translinear": (self.w_tl_um, self.l_tl_um),
                "dac": (self.w_dac_um, self.l_dac_um)}[role]
        return float(specific_current(self.mos, w, l, self.temp_k))

    def operating_violations(self, w_max: float = 4.0) -> list[OperatingViolation]:
        """Weak-inversion and saturation checks of every transistor role at the design's extremes.

        ``w_max`` is the largest weight magnitude the design is meant to hold.
        """
        out = []
        i_cell = self.i_qw_a + w_max * self.i_u_a
        i_x = self.x_full_scale * self.i_u_a + self.i_qx_a
        checks = [("storage", i_cell, "storage"), ("translinear", max(i_cell, i_x), "translinear"),
                  ("dac", i_x, "dac")]
        for role, i_max, kind in checks:
            v = check_weak_inversion(role, i_max, self.i_spec(kind))
            if v:
                out.append(v)
        # headroom: the deepest stack is a 6-T loop (3 gate-source drops) over a mirror output
        vgs = float(gate_voltage_for(self.mos, self.w_tl_um, self.l_tl_um, max(i_cell, i_x),
                                     self.temp_k))
        vds = self.vdd_v - 3 * vgs
        v = check_saturation("translinear_stack", vds, self.temp_k)
        if v:
            out.append(v)
        return out

    # -- inventory ----------------------------------------------------------------------------
    def transistors_per_weight(self) -> dict[str, int]:
        """Transistor count of one weight (feature) slice, by block."""
        c = blocks.TRANSISTOR_COUNTS
        return {
            "bernoulli_cell": c["bernoulli_cell"],
            "forward_multipliers (4 quadrants)": 4 * c["multiplier"],
            "gradient_multiplier_dividers (4 quadrants)": 4 * c["multiplier_divider"],
            "sink_mirrors": 2 * c["mirror"],
            "sum_divider (I⁺ + I⁻)": c["multiplier"],
            "l2_leak": c["leak"],
            "readout": c["readout"],
            "input_dac": sample_hold.transistors(self.dac_bits),
            "input_fanout_mirrors": 2 * c["mirror"],
            # chopping: 4 switches per gradient path to route its (e, x) halves to the role of
            # the hold; the capacitor-polarity swap is shared by the pair
            "chopper_switches": 16 if self.chop_gradient else 0,
        }

    def transistors_shared(self) -> dict[str, int]:
        """Transistors shared by the whole regressor (not per weight)."""
        c = blocks.TRANSISTOR_COUNTS
        return {"label_dac": sample_hold.transistors(self.dac_bits),
                "error_splitter": c["class_ab_splitter"],
                "error_fanout_mirrors": 4 * c["mirror"],
                "bias_generator": 10}

    def bias_currents_per_weight(self, x_rms: float = 1.0, e_rms: float = 0.5,
                                 w_rms: float = 0.5) -> dict[str, float]:
        """Supply currents of one weight slice at typical signal levels (A)."""
        # class-AB pair: I⁺ + I⁻ = √(w²I_u² + 4I_qw²)
        i_w = (w_rms ** 2 * self.i_u_a ** 2 + 4 * self.i_qw_a ** 2) ** 0.5
        i_x = x_rms * self.i_u_a + 2 * self.i_qx_a
        i_e = e_rms * self.i_u_a + 2 * self.i_qe_a
        # each loop carries its input and output branch currents; the 4 quadrants share halves
        return {"storage_pair": i_w,
                "forward_multipliers": 2 * (i_w + i_x + self.i_u_a),
                "gradient_multiplier_dividers": 2 * (self.i_tau_a + i_e + i_x + self.i_u_a + i_w),
                "l2_leak": self.i_tau_a + 2 * i_w,  # I_λ ≤ I_τ (λ ≤ 1) and the pair's copies
                "readout": i_w,
                "input_dac": i_x}

    def capacitor_area_um2(self) -> float:
        return self.c_w_f / self.c_density_f_per_um2
