"""Power, energy and area of the log-domain accelerator against an 8-bit digital SGDr datapath.

Analog (from the design object, :class:`~.accelerator.LogDomainDesign`):

* power per weight ``P_w = V_DD · Σ I_bias`` (the supply currents of one weight slice at typical
  signal levels); energy per weight-update ``E_w = P_w · T`` with the hold time ``T(η)``;
* area per weight = transistor count × ``W·L`` × a layout factor + ``C / capacitance density``.

Digital (one fully parallel 8-bit SGDr datapath per weight, as the analog one is): per
weight-update two 8-bit multiplies (w·x, e·x), one for η·(e x + λ w) and one for λ·w, three
adds (accumulate ŷ, the bracket, the update), and the 8-bit weight register.

Cited figures (the only external numbers):

* energy and area per operation, 45 nm, 0.9 V: M. Horowitz, "Computing's energy problem (and
  what we can do about it)", ISSCC 2014, p. 10–14: 8-bit add 0.03 pJ / 36 µm², 8-bit multiply
  0.2 pJ / 282 µm², 32-bit add 0.1 pJ, 8 kB SRAM 64-bit read 10 pJ;
* transistor counts, static CMOS: 28-T mirror full adder (N. Weste, D. Harris, *CMOS VLSI
  Design*, 4th ed., §11.2); an 8×8 array multiplier = 64 AND2 (6 T) + 56 full adders
  (docs/logdomain.md §12); a static master–slave D flip-flop ≈ 24 T (Weste & Harris §10.3, with reset).

Scaling to the analog design's node for a like-for-like view (stated, not measured):
energy ∝ C·V² with C ∝ feature size, area ∝ feature size².
"""

from __future__ import annotations

from dataclasses import dataclass

from .accelerator import LogDomainDesign
from .mapping import circuit_values

HOROWITZ_NODE_NM = 45.0
HOROWITZ_VDD_V = 0.9
E_ADD8_PJ = 0.03
E_MUL8_PJ = 0.2
E_ADD32_PJ = 0.1
E_SRAM_READ64_PJ = 10.0
A_ADD8_UM2 = 36.0
A_MUL8_UM2 = 282.0
T_FULL_ADDER = 28
T_AND2 = 6
T_DFF = 24


@dataclass(frozen=True)
class DigitalDatapath:
    """Counts of one 8-bit SGDr weight-update datapath."""

    multiplies: int = 4
    adds: int = 3
    register_bits: int = 8

    def transistors(self) -> int:
        mul = 64 * T_AND2 + 56 * T_FULL_ADDER
        add = 8 * T_FULL_ADDER
        return self.multiplies * mul + self.adds * add + self.register_bits * T_DFF

    def energy_pj(self, node_nm: float = HOROWITZ_NODE_NM, vdd_v: float = HOROWITZ_VDD_V) -> float:
        scale = (node_nm / HOROWITZ_NODE_NM) * (vdd_v / HOROWITZ_VDD_V) ** 2
        return (self.multiplies * E_MUL8_PJ + self.adds * E_ADD8_PJ) * scale

    def area_um2(self, node_nm: float = HOROWITZ_NODE_NM) -> float:
        """Multipliers and adders only (the register is left out, which favours digital)."""
        return (self.multiplies * A_MUL8_UM2 + self.adds * A_ADD8_UM2) * (node_nm / HOROWITZ_NODE_NM) ** 2


def analog_cost(design: LogDomainDesign, eta: float, lam: float = 0.0,
                layout_factor: float = 4.0) -> dict:
    """Per-weight power, energy per update, transistor count and area of the design at η."""
    currents = design.bias_currents_per_weight()
    i_total = sum(currents.values())
    power_w = design.vdd_v * i_total
    cv = circuit_values(design, eta, lam)
    counts = design.transistors_per_weight()
    n_t = sum(counts.values())
    dev_area = n_t * design.w_tl_um * design.l_tl_um * layout_factor
    cap_area = design.capacitor_area_um2()
    return {
        "eta": eta, "hold_time_s": cv.hold_time_s, "bias_current_per_weight_a": i_total,
        "bias_currents_a": currents, "power_per_weight_w": power_w,
        "energy_per_update_pj": power_w * cv.hold_time_s * 1e12,
        "transistors_per_weight": n_t, "transistor_breakdown": counts,
        "transistors_shared": sum(design.transistors_shared().values()),
        "device_area_um2": dev_area, "capacitor_area_um2": cap_area,
        "area_per_weight_um2": dev_area + cap_area, "layout_factor": layout_factor,
    }
