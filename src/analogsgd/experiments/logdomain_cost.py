"""logdomain-cost: power, energy per update and area per weight of the log-domain accelerator
against an 8-bit digital SGDr datapath (cited gate counts and energies, logdomain/cost.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, InstanceOf, Interval, NumberList, param
from ..errors import ConfigError
from ..logdomain import cost
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.mapping import eta_range
from . import _logdomain_common as common
from .base import Experiment, RunContext

CITATIONS = (
    "M. Horowitz, Computing's energy problem (and what we can do about it), ISSCC 2014 (45 nm energies/areas)",
    "N. Weste, D. Harris, CMOS VLSI Design, 4th ed., Addison-Wesley 2010 (28-T adder, flip-flop counts)",
)


@dataclass(frozen=True)
class CostConfig(Config):
    etas: list = param([0.05, 0.1, 0.5, 1.0], "learning rates at which energy per update is given "
                       "(the smallest is the reference point of the summary)",
                       NumberList(Interval(0.0, None, low_open=True), distinct=True))
    analog_node_nm: float = param(130.0, "node of the analog design (sky130-like), nm", Interval(1.0, 1000.0))
    layout_factor: float = param(4.0, "layout area / Σ W·L of the analog devices", Interval(1.0, 100.0))
    design: LogDomainDesign = param(LogDomainDesign(), "the accelerator design",
                                     InstanceOf(LogDomainDesign))
    compact_c_w_f: float = param(1e-12, "storage capacitor of the compact variant, F", Interval(1e-15, 1e-9))

    def check_invariants(self) -> None:
        lo, hi = eta_range(self.design)
        if not any(lo <= eta <= hi for eta in self.etas):
            raise ConfigError("CostConfig.etas", self.etas,
                              f"at least one η within [{lo:.3g}, {hi:.3g}], the nominal design's "
                              "realisable range", "The summary is given at the smallest such η.")


def run(config: CostConfig, ctx: RunContext) -> dict:
    dig = cost.DigitalDatapath()
    d_t = dig.transistors()
    e45, a45 = dig.energy_pj(), dig.area_um2()
    e_node = dig.energy_pj(config.analog_node_nm, config.design.vdd_v)
    a_node = dig.area_um2(config.analog_node_nm)
    compact = config.design.replace(c_w_f=config.compact_c_w_f,
                                    i_tau_a=config.design.i_tau_a * config.compact_c_w_f / config.design.c_w_f)
    rows, points = [], []
    for name, design in (("nominal", config.design), ("compact C", compact)):
        for eta in config.etas:
            try:
                a = cost.analog_cost(design, eta, 0.0, config.layout_factor)
            except ConfigError as err:  # an η this variant cannot realise is reported, not hidden
                rows.append([name, eta, "unrealisable", str(err)[:60], "", "", "", "", ""])
                continue
            points.append({"design": name, **a,
                           "energy_ratio_digital45_over_analog": e45 / a["energy_per_update_pj"],
                           "energy_ratio_digital_node_over_analog": e_node / a["energy_per_update_pj"]})
            rows.append([name, eta, a["hold_time_s"] * 1e6, a["power_per_weight_w"] * 1e9,
                         a["energy_per_update_pj"], e45 / a["energy_per_update_pj"],
                         e_node / a["energy_per_update_pj"], a["area_per_weight_um2"],
                         a["transistors_per_weight"]])
    nominal = [p for p in points if p["design"] == "nominal"]
    ref_pt = min(nominal, key=lambda p: p["eta"])
    summary = {
        "eta_ref": ref_pt["eta"],
        "analog_transistors_per_weight": ref_pt["transistors_per_weight"],
        "digital_transistors_per_weight": d_t,
        "transistor_ratio_digital_over_analog": d_t / ref_pt["transistors_per_weight"],
        "analog_area_per_weight_um2": ref_pt["area_per_weight_um2"],
        "digital_area_per_weight_um2_45nm": a45,
        "digital_area_per_weight_um2_scaled": a_node,
        "area_ratio_digital_scaled_over_analog": a_node / ref_pt["area_per_weight_um2"],
        "area_ratio_digital45_over_analog": a45 / ref_pt["area_per_weight_um2"],
        "analog_power_per_weight_nw": ref_pt["power_per_weight_w"] * 1e9,
        "analog_energy_per_update_pj_at_eta": {f"{p['eta']:g}": p["energy_per_update_pj"] for p in nominal},
        "digital_energy_per_update_pj_45nm": e45,
        "digital_energy_per_update_pj_scaled": e_node,
        "energy_ratio_digital45_over_analog_at_eta_ref": ref_pt["energy_ratio_digital45_over_analog"],
        "energy_ratio_digital_scaled_over_analog_at_eta_ref": ref_pt["energy_ratio_digital_node_over_analog"],
        "citations": list(CITATIONS),
    }
    table = common.markdown_table(["design", "η", "T (µs)", "P/weight (nW)", "E/update (pJ)",
                                   "E_dig45/E_an", f"E_dig{config.analog_node_nm:g}/E_an",
                                   "area/weight (µm²)", "transistors/weight"], rows)
    br = "\n".join(f"- {k}: {v}" for k, v in ref_pt["transistor_breakdown"].items())
    ctx.out.write_curves("cost", {k: [p[k] for p in points] for k in
                                  ("eta", "hold_time_s", "power_per_weight_w", "energy_per_update_pj",
                                   "area_per_weight_um2")})
    ctx.out.write_report(
        "# logdomain-cost\n\n" + cost.__doc__.split("\n\n", 1)[1] + "\n\n## Analog vs digital per weight\n\n"
        f"Digital 8-bit datapath: {d_t} transistors, {e45:.3g} pJ and {a45:.0f} µm² per update at 45 nm "
        f"(scaled to {config.analog_node_nm:g} nm / {config.design.vdd_v:g} V: {e_node:.3g} pJ, {a_node:.0f} µm²).\n\n"
        f"{table}\n\nAnalog transistors per weight slice:\n{br}\n\nShared per regressor: "
        f"{ref_pt['transistors_shared']} transistors. Capacitor at {config.design.c_density_f_per_um2 * 1e15:g} fF/µm² (MIM).\n\n"
        + _reading(summary, ref_pt, nominal, config) + "\n")
    return {"summary": summary, "points": points}


def _reading(summary: dict, ref_pt: dict, nominal: list, config: CostConfig) -> str:
    """The conclusions, generated from this run's numbers (nothing here is a fixed result)."""
    cap_share = ref_pt["capacitor_area_um2"] / ref_pt["area_per_weight_um2"]
    a_ratio = summary["area_ratio_digital_scaled_over_analog"]
    area = (f"the analog slice is {a_ratio:.2g}× smaller than the node-scaled digital datapath"
            if a_ratio > 1 else f"the node-scaled digital datapath is {1 / a_ratio:.2g}× smaller")
    a45 = summary["area_ratio_digital45_over_analog"]
    area45 = (f"{1 / a45:.2g}× larger than" if a45 < 1 else f"{a45:.2g}× smaller than")
    wins45 = [p["eta"] for p in nominal if p["energy_ratio_digital45_over_analog"] > 1]
    wins_node = [p["eta"] for p in nominal if p["energy_ratio_digital_node_over_analog"] > 1]

    def where(etas):
        return f"for η ≤ {max(etas):g}" if etas else "at no η of the table"

    e = [p["energy_per_update_pj"] for p in nominal]
    return (
        f"Reading (η_ref = {ref_pt['eta']:g}, layout factor {config.layout_factor:g}, "
        f"C = {config.design.c_w_f:g} F): the analog slice needs "
        f"{summary['transistor_ratio_digital_over_analog']:.0f}× fewer transistors; its area is "
        f"{cap_share:.0%} storage capacitor, so {area}, and it is {area45} the 45 nm digital "
        f"datapath. Energy per update = V_DD·(ΣI/I_τ)·η·C·nU_T grows with η (a longer hold at the "
        f"same currents): {min(e):.3g}–{max(e):.3g} pJ over η ∈ [{min(config.etas):g}, "
        f"{max(config.etas):g}]. It is below the 45 nm digital figure {where(wins45)} and below "
        f"the node-scaled one {where(wins_node)}.")


def full() -> CostConfig:
    return CostConfig()


def quick() -> CostConfig:
    return CostConfig()


EXPERIMENT = Experiment(
    name="logdomain-cost",
    description="power, energy per update and area of the log-domain accelerator vs 8-bit digital SGDr",
    full=full, quick=quick, run=run, references=common.REFERENCES + CITATIONS)
