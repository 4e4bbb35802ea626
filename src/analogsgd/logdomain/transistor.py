"""EKV MOS transistor in weak inversion, with temperature and Pelgrom mismatch.

EKV (Enz, Krummenacher, Vittoz 1995), weak inversion, referred to the bulk:

.. math:: I_D = I_{spec}\\,e^{(V_G - V_{T0})/(n U_T)}\\,\\big[e^{-V_S/U_T} - e^{-V_D/U_T}\\big],
          \\qquad I_{spec} = 2 n \\beta U_T^2, \\quad \\beta = \\mu C_{ox} W/L, \\quad U_T = kT/q .

The forward term is ``I_F = I_spec·exp((V_P − V_S)/U_T)`` with pinch-off voltage
``V_P = (V_G − V_T0)/n``, the reverse term the same with ``V_D``. The full EKV interpolation
``I_F = I_spec·ln²(1 + exp((V_P − V_S)/(2U_T)))`` is given for checking how far a bias point
is from weak inversion. In saturation (``V_DS ≳ 4 U_T``) the reverse term is below 2 %.
Temperature: ``U_T = kT/q``, ``V_T0(T) = V_T0 + α_VT (T − T_nom)``, ``µ ∝ (T/T_nom)^{-1.5}``.
Mismatch (Pelgrom 1989): ``σ(ΔV_T) = A_VT/√(WL)``, ``σ(Δβ/β) = A_β/√(WL)``.

A bias point outside weak inversion (inversion coefficient ``IC = I_D/I_spec`` above
``IC_MAX_WEAK``) or outside saturation is returned as an :class:`OperatingViolation`, never
silently computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import POSITIVE, Config, Interval, Text, param

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19
T_NOM_K = 300.15
#: weak inversion holds for an inversion coefficient IC = I_D/I_spec below this (Enz-Vittoz)
IC_MAX_WEAK = 0.1
#: saturation in weak inversion needs V_DS above this many thermal voltages (reverse term < 2 %)
VDS_SAT_UT = 4.0


def celsius_to_kelvin(temp_c: float) -> float:
    return float(temp_c) + 273.15


def thermal_voltage(temp_k: float | np.ndarray) -> float | np.ndarray:
    """U_T = kT/q in volts (25.86 mV at 300.15 K)."""
    return BOLTZMANN_J_PER_K * temp_k / ELEMENTARY_CHARGE_C


@dataclass(frozen=True)
class MosParams(Config):
    """Process parameters of one MOS type (n-channel) for the EKV weak-inversion law."""

    name: str = param("generic-bsim3", "name of the parameter set", Text(non_empty=True))
    n: float = param(1.20, "n: subthreshold slope factor (κ = 1/n)", Interval(1.0, 3.0))
    vt0_v: float = param(0.45, "V_T0: threshold voltage at T_nom, V", Interval(-1.0, 2.0))
    kp_a_per_v2: float = param(300e-6, "µC_ox: transconductance parameter, A/V²", POSITIVE)
    vt_tc_v_per_k: float = param(-1.0e-3, "α_VT: threshold temperature coefficient, V/K",
                                 Interval(-1e-2, 1e-2))
    mobility_exp: float = param(-1.5, "µ ∝ (T/T_nom)^mobility_exp", Interval(-3.0, 0.0))
    a_vt_v_um: float = param(5.0e-3, "A_VT: Pelgrom threshold mismatch coefficient, V·µm",
                             Interval(0.0, 0.1))
    a_beta_um: float = param(0.01, "A_β: Pelgrom current-factor mismatch, fraction·µm",
                             Interval(0.0, 1.0))


def generic_bsim3() -> MosParams:
    """Generic 180 nm-class set matching the generic BSIM3 card of docs/spice.md (71.4 mV/dec, n=1.20)."""
    return MosParams(name="generic-bsim3", n=1.20, vt0_v=0.45, kp_a_per_v2=300e-6,
                     vt_tc_v_per_k=-1.0e-3, a_vt_v_um=5.0e-3, a_beta_um=0.01)


def sky130_like() -> MosParams:
    """sky130 nfet_01v8-like set (n ≈ 1.32 quoted for the PDK models; docs/spice.md measures 1.45 at V_DS = 0.3 V)."""
    return MosParams(name="sky130-like", n=1.32, vt0_v=0.42, kp_a_per_v2=270e-6,
                     vt_tc_v_per_k=-0.9e-3, a_vt_v_um=5.0e-3, a_beta_um=0.01)


PARAMETER_SETS = {"generic-bsim3": generic_bsim3, "sky130-like": sky130_like}


def vt0_at(params: MosParams, temp_k: float) -> float:
    """V_T0(T) = V_T0 + α_VT (T − T_nom)."""
    return params.vt0_v + params.vt_tc_v_per_k * (temp_k - T_NOM_K)


def specific_current(params: MosParams, w_um: float, l_um: float, temp_k: float = T_NOM_K,
                     dbeta: float | np.ndarray = 0.0) -> float | np.ndarray:
    """I_spec = 2 n β U_T², β = µC_ox(T)·W/L·(1 + Δβ/β)."""
    ut = thermal_voltage(temp_k)
    kp = params.kp_a_per_v2 * (temp_k / T_NOM_K) ** params.mobility_exp
    return 2.0 * params.n * kp * (w_um / l_um) * (1.0 + np.asarray(dbeta)) * ut * ut


def ekv_current(params: MosParams, w_um: float, l_um: float, vg, vs, vd, temp_k: float = T_NOM_K,
                dvt=0.0, dbeta=0.0):
    """Weak-inversion EKV drain current (forward minus reverse), A.

    I_D = I_spec·exp((V_G − V_T0 − ΔV_T)/(n U_T))·[exp(−V_S/U_T) − exp(−V_D/U_T)].
    """
    ut = thermal_voltage(temp_k)
    ispec = specific_current(params, w_um, l_um, temp_k, dbeta)
    vt = vt0_at(params, temp_k) + np.asarray(dvt)
    gate = np.exp((np.asarray(vg) - vt) / (params.n * ut))
    return ispec * gate * (np.exp(-np.asarray(vs) / ut) - np.exp(-np.asarray(vd) / ut))


def ekv_current_full(params: MosParams, w_um: float, l_um: float, vg, vs, vd,
                     temp_k: float = T_NOM_K):
    """All-region EKV interpolation I_spec·[ln²(1+e^{(V_P−V_S)/2U_T}) − ln²(1+e^{(V_P−V_D)/2U_T})]."""
    ut = thermal_voltage(temp_k)
    ispec = specific_current(params, w_um, l_um, temp_k)
    vp = (np.asarray(vg) - vt0_at(params, temp_k)) / params.n
    f = np.log1p(np.exp((vp - np.asarray(vs)) / (2 * ut))) ** 2
    r = np.log1p(np.exp((vp - np.asarray(vd)) / (2 * ut))) ** 2
    return ispec * (f - r)


def gate_voltage_for(params: MosParams, w_um: float, l_um: float, i_d, temp_k: float = T_NOM_K):
    """V_GS (source at 0, saturation) giving drain current ``i_d`` in weak inversion."""
    ut = thermal_voltage(temp_k)
    ispec = specific_current(params, w_um, l_um, temp_k)
    return vt0_at(params, temp_k) + params.n * ut * np.log(np.asarray(i_d) / ispec)


def decade_slope_v(params: MosParams, temp_k: float = T_NOM_K) -> float:
    """Subthreshold slope, V per decade of drain current: n·U_T·ln 10."""
    return params.n * thermal_voltage(temp_k) * math.log(10.0)


# -- mismatch -------------------------------------------------------------------------------
def pelgrom_sigmas(params: MosParams, w_um: float, l_um: float) -> tuple[float, float]:
    """(σ(ΔV_T) in V, σ(Δβ/β)) = (A_VT, A_β)/√(WL) (Pelgrom et al., JSSC 1989, Eq. (13))."""
    root = math.sqrt(w_um * l_um)
    return params.a_vt_v_um / root, params.a_beta_um / root


def draw_mismatch(params: MosParams, w_um: float, l_um: float, shape, rng: np.random.Generator):
    """Per-transistor (ΔV_T, Δβ/β) arrays of ``shape`` from the seeded generator ``rng``."""
    s_vt, s_b = pelgrom_sigmas(params, w_um, l_um)
    return rng.normal(0.0, s_vt, size=shape), rng.normal(0.0, s_b, size=shape)


# -- operating-region reports ---------------------------------------------------------------
@dataclass(frozen=True)
class OperatingViolation:
    """A transistor role pushed out of weak inversion or out of saturation, and by how much."""

    role: str
    kind: str  # "weak-inversion" or "saturation"
    value: float  # IC reached, or V_DS / U_T available
    limit: float
    excess: str  # human description of the margin

    def as_dict(self) -> dict:
        return {"role": self.role, "kind": self.kind, "value": self.value, "limit": self.limit,
                "excess": self.excess}


def check_weak_inversion(role: str, i_max_a: float, i_spec_a: float) -> OperatingViolation | None:
    """Report if the largest current of ``role`` gives IC = I/I_spec above IC_MAX_WEAK."""
    ic = float(i_max_a) / float(i_spec_a)
    if ic <= IC_MAX_WEAK:
        return None
    return OperatingViolation(role, "weak-inversion", ic, IC_MAX_WEAK,
                              f"IC = {ic:.3g} is {math.log10(ic / IC_MAX_WEAK):.2f} decades above "
                              f"the weak-inversion limit {IC_MAX_WEAK}")


def check_saturation(role: str, vds_v: float, temp_k: float) -> OperatingViolation | None:
    """Report if the available V_DS is below VDS_SAT_UT thermal voltages."""
    ut = thermal_voltage(temp_k)
    ratio = float(vds_v) / ut
    if ratio >= VDS_SAT_UT:
        return None
    return OperatingViolation(role, "saturation", ratio, VDS_SAT_UT,
                              f"V_DS = {vds_v * 1e3:.1f} mV = {ratio:.2f} U_T, "
                              f"{(VDS_SAT_UT * ut - vds_v) * 1e3:.1f} mV short of {VDS_SAT_UT} U_T")
