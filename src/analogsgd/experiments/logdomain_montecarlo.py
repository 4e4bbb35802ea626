"""logdomain-montecarlo: the error under Pelgrom mismatch at temperature corners, and the
leakage drift of the volatile weight memory with training stopped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import POSITIVE_INT, Config, InstanceOf, Interval, NumberList, Text, param
from ..logdomain import datasets as ds
from ..logdomain import metrics as mt
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.blocks import leak as leak_block
from ..logdomain.circuit_ode import cell_currents, read_weights
from ..logdomain.instances import build_instances
from ..logdomain.simulate import SolverConfig
from ..logdomain.transistor import IC_MAX_WEAK, celsius_to_kelvin
from ..rng import child_seeds, numpy_generator
from . import _logdomain_common as common
from .base import Experiment, RunContext


@dataclass(frozen=True)
class MonteCarloConfig(Config):
    dataset: str = param("diabetes", "dataset: synthetic-<N>f or diabetes", Text(non_empty=True))
    eta: float = param(0.05, "η", Interval(0.0, None, low_open=True))
    lam: float = param(1e-3, "λ", Interval(0.0, None))
    epochs: int = param(1, "passes over the data", POSITIVE_INT)
    temps_c: list = param([-20.0, 27.0, 85.0], "temperature corners, °C",
                          NumberList(Interval(-55, 150), distinct=True))
    instances: list = param([1000, 1000, 1000], "mismatch instances per corner",
                            NumberList(Interval(1, 100000, integer=True)))
    non_ptat_instances: int = param(200, "instances per corner with non-PTAT bias (0: skip)",
                                    Interval(0, 100000, integer=True))
    unchopped_instances: int = param(300, "instances at 27 °C without gradient chopping (0: skip)",
                                     Interval(0, 100000, integer=True))
    variant_device_um: float = param(10.0, "W = L of translinear/mirror devices in the large-device "
                                     "variant, µm", Interval(0.1, 100.0))
    variant_i_u_a: float = param(10e-9, "I_u of the large-device variant, A; I_qw, I_qx, I_qe, I_τ "
                                 "and C scale with it (the floor, leakage and minimum currents do "
                                 "not), so that η, λ and the settling rule's η_min stay realisable",
                                 Interval(1e-12, 1e-6))
    variant_instances: int = param(300, "instances of the large-device variant at 27 °C (0: skip)",
                                   Interval(0, 100000, integer=True))
    hold_times_s: list = param(list(np.logspace(-3, 3, 25)), "retention times after training, s",
                               NumberList(Interval(0.0, None, low_open=True), increasing=True))
    design: LogDomainDesign = param(LogDomainDesign(), "the accelerator design",
                                     InstanceOf(LogDomainDesign))
    solver: SolverConfig = param(SolverConfig(), "integrator settings", InstanceOf(SolverConfig))

    def check_invariants(self) -> None:
        from ..errors import ConfigError
        from ..logdomain.datasets import check_name
        from ..logdomain.mapping import circuit_values

        check_name(self.dataset, "MonteCarloConfig.dataset")

        # the point must be realisable by the design and by its large-device variant, before
        # any work
        circuit_values(self.design, self.eta, self.lam)
        if self.variant_instances:
            try:
                circuit_values(_variant_design(self), self.eta, self.lam)
            except ConfigError as err:
                raise ConfigError("MonteCarloConfig.variant_i_u_a", self.variant_i_u_a,
                                  f"a current at which the large-device variant realises η = "
                                  f"{self.eta:g}, λ = {self.lam:g}",
                                  f"The variant design says: {err}") from None

        if len(self.instances) != len(self.temps_c):
            raise ConfigError("MonteCarloConfig.instances", self.instances,
                              f"a list as long as temps_c ({len(self.temps_c)})")


def _stats(x: np.ndarray) -> dict:
    """NMSE statistics of the instances and their rms-of-full-scale forms; NaN propagates."""
    out = {}
    for k, v in (("mean", x.mean()), ("median", np.median(x)), ("p99", np.percentile(x, 99)),
                 ("max", x.max())):
        out.update(mt.both(k, float(v)))
    out["fraction_below_0p87"] = float((x < common.CLAIM_NMSE_PCT).mean())
    out["n"] = int(x.size)
    return out


def _row(temp, bias, n, st, retention="—") -> list:
    return [temp, bias, n] + [common.pct2(st[f"nmse_{k}_pct"]) for k in ("mean", "median", "p99", "max")] \
        + [st["fraction_below_0p87"], retention]


def _variant_design(config: MonteCarloConfig) -> LogDomainDesign:
    """Larger translinear/mirror devices; every current and C scaled by k = I_u'/I_u, so that
    η = T I_τ/(C nU_T), λ = I_λ/I_τ and the settling rule's η_min = (C_node/C)(I_τ/I_loop,min)
    (docs/logdomain.md §5) keep the nominal design's values up to the larger C_node."""
    d = config.design
    k = config.variant_i_u_a / d.i_u_a
    return d.replace(w_tl_um=config.variant_device_um, l_tl_um=config.variant_device_um,
                     i_u_a=config.variant_i_u_a, i_qw_a=d.i_qw_a * k, i_qx_a=d.i_qx_a * k,
                     i_qe_a=d.i_qe_a * k, i_tau_a=d.i_tau_a * k, c_w_f=d.c_w_f * k)


def run(config: MonteCarloConfig, ctx: RunContext) -> dict:
    seeds = child_seeds(ctx.seed, 2 * len(config.temps_c) + 1)
    data_rng = numpy_generator(seeds[-1])
    data = ds.make(config.dataset, data_rng, 300)
    X, Y = ds.stream(data, config.epochs, data_rng)
    corners, all_err, rows, drift_curves = {}, [], [], {"hold_time_s": config.hold_times_s}
    lsb8 = None
    for c, (temp, n) in enumerate(zip(config.temps_c, config.instances)):
        rng = numpy_generator(seeds[c])
        res = common.run_batch(config.design, X, Y, config.eta, config.lam, temp_c=np.full(n, temp),
                               mismatch=True, noise=True, rng=rng, solver=config.solver,
                               progress=ctx.progress, description=f"MC {temp:g} °C")
        err = res.vs_ideal
        all_err.append(err)
        st = _stats(err)
        # retention: training stopped (I_τ = I_λ = 0); the junction leakage discharges C linearly
        p = build_instances(config.design, X.shape[1], config.eta, config.lam,
                            temp_c=np.full(n, temp), mismatch=True, noise=False,
                            rng=numpy_generator(seeds[c]))
        w0 = read_weights(p, res.sim.v_final)
        fs = float(np.abs(res.ideal).max())
        lsb8 = 2 * fs / 256
        i_leak = float(leak_block.junction_leakage(config.design.i_leak_a, celsius_to_kelvin(temp),
                                                   celsius_to_kelvin(27.0), config.design.leak_doubling_k))
        drift_max = []
        i_lim = IC_MAX_WEAK * config.design.i_spec("storage")
        for t in config.hold_times_s:
            v_t = res.sim.v_final - i_leak * t / config.design.c_w_f
            ip, i_n, _, _ = cell_currents(p, v_t)
            if max(ip.max(), i_n.max()) > i_lim:
                drift_max.append(float("nan"))  # a storage device left weak inversion: memory lost
                continue
            drift_max.append(float(np.abs(read_weights(p, v_t) - w0).max()))
        drift_max = np.array(drift_max)
        t_lsb = _crossing(np.array(config.hold_times_s), drift_max, lsb8)
        drift_curves[f"max_drift_{temp:g}C"] = drift_max / fs
        st.update({"temp_c": temp, "i_leak_a": i_leak, "retention_to_8bit_lsb_s": t_lsb,
                   "drift_at_1s_of_full_scale": float(np.interp(0.0, np.log10(config.hold_times_s),
                                                                drift_max)) / fs})
        corners[f"{temp:g}C"] = st
        rows.append(_row(f"{temp:g}", "PTAT", n, st, t_lsb))
        ctx.out.write_curves(f"mc_errors_{temp:g}C", {"nmse_vs_ideal_pct": err,
                                                      "rms_vs_ideal_pct_of_fs": mt.rms_pct_of_fs(err)})
    if config.non_ptat_instances > 0:
        d2 = config.design.replace(ptat_bias=False)
        for c, temp in enumerate(config.temps_c):
            rng = numpy_generator(seeds[len(config.temps_c) + c])
            res = common.run_batch(d2, X, Y, config.eta, config.lam,
                                   temp_c=np.full(config.non_ptat_instances, temp), mismatch=True,
                                   noise=True, rng=rng, solver=config.solver, progress=ctx.progress,
                                   description=f"MC non-PTAT {temp:g} °C")
            st = _stats(res.vs_ideal)
            corners[f"{temp:g}C_non_ptat"] = st
            rows.append(_row(f"{temp:g}", "constant", config.non_ptat_instances, st))
    if config.unchopped_instances > 0:
        du = config.design.replace(chop_gradient=False)
        res = common.run_batch(du, X, Y, config.eta, config.lam,
                               temp_c=np.full(config.unchopped_instances, config.design.temp_c),
                               mismatch=True, noise=True, rng=numpy_generator(seeds[0] ^ 0xC0FFEE),
                               solver=config.solver, progress=ctx.progress, description="MC unchopped")
        st = _stats(res.vs_ideal)
        corners["unchopped"] = st
        rows.append(_row(f"{config.design.temp_c:g}", "PTAT, no chopping", config.unchopped_instances, st))
    variant = None
    if config.variant_instances > 0:
        dv = _variant_design(config)
        res = common.run_batch(dv, X, Y, config.eta, config.lam,
                               temp_c=np.full(config.variant_instances, config.design.temp_c),
                               mismatch=True, noise=True, rng=numpy_generator(seeds[0] ^ 0x5A5A),
                               solver=config.solver, progress=ctx.progress, description="MC large devices")
        variant = _stats(res.vs_ideal)
        variant.update({"w_um": dv.w_tl_um, "l_um": dv.l_tl_um, "i_u_a": dv.i_u_a, "c_w_f": dv.c_w_f})
        corners["large_devices"] = variant
        rows.append(_row(f"{config.design.temp_c:g}", f"PTAT, {dv.w_tl_um:g}×{dv.l_tl_um:g} µm, I_u = "
                         f"{dv.i_u_a * 1e9:g} nA, C = {dv.c_w_f * 1e12:g} pF", config.variant_instances,
                         variant))
    ctx.out.write_curves("retention_drift", drift_curves)
    errs = np.concatenate(all_err)
    overall = _stats(errs)
    _plot(ctx.out, config, all_err, drift_curves, lsb8)
    summary = {
        **mt.both("vs_ideal_mean", overall["nmse_mean_pct"]),
        **mt.both("vs_ideal_p99", overall["nmse_p99_pct"]),
        **mt.both("vs_ideal_worst", overall["nmse_max_pct"]),
        "fraction_below_0p87": overall["fraction_below_0p87"],
        "chop_gradient": config.design.chop_gradient,
        "unchopped": corners.get("unchopped"),
        "instances": overall["n"], "temps_c": config.temps_c, "eta": config.eta, "lambda": config.lam,
        "large_device_variant": variant,
        "retention_to_8bit_lsb_s": {k: v["retention_to_8bit_lsb_s"] for k, v in corners.items()
                                    if "retention_to_8bit_lsb_s" in v},
    }
    table = common.markdown_table(["T (°C)", "bias", "instances", "mean", "median", "p99",
                                   "worst", "frac < 0.87 %", "retention to 1 LSB₈ (s)"], rows)
    ctx.out.write_report(
        f"# logdomain-montecarlo\n\n{config.dataset}, η = {config.eta:g}, λ = {config.lam:g}, "
        f"{len(X)} samples; Pelgrom mismatch on every transistor (A_VT = "
        f"{config.design.mos.a_vt_v_um * 1e3:g} mV·µm; translinear devices {config.design.w_tl_um:g}×"
        f"{config.design.l_tl_um:g} µm unless stated), DAC bit mismatch, shot noise. Error: circuit "
        f"vs ideal CT SGDr, as NMSE % / rms % of full scale.\n\n{table}\n\n"
        f"{_conclusions(config, corners, overall)}\n\n"
        f"Retention: with training stopped "
        f"the storage node's junction leakage discharges C at I_leak/C; the column gives the hold time "
        f"after which the largest weight drift reaches one 8-bit LSB of the full scale (2F/256). The "
        f"drift curves stop where a storage device leaves weak inversion (the stored value is lost).\n\n"
        f"{common.METRIC_TEXT}\n")
    return {"summary": summary, "corners": corners}


def _conclusions(config, corners: dict, overall: dict) -> str:
    """What this run shows, generated from its numbers (nothing here is a fixed result)."""
    d = config.design
    ptat = [(float(t), corners[f"{t:g}C"]["nmse_mean_pct"]) for t in config.temps_c]
    hot, cold = max(ptat, key=lambda p: p[1]), min(ptat, key=lambda p: p[1])
    out = [(f"Over all PTAT-biased instances: mean {common.pct2(overall['nmse_mean_pct'])}, p99 "
            f"{common.pct2(overall['nmse_p99_pct'])}, worst {common.pct2(overall['nmse_max_pct'])} "
            f"(NMSE % / rms % FS); {overall['fraction_below_0p87']:.0%} of instances below 0.87 % NMSE.")]
    if len(ptat) > 1:
        out.append(f"The largest mean error is at {hot[0]:g} °C ({hot[1]:.3g} %), the smallest at "
                   f"{cold[0]:g} °C ({cold[1]:.3g} %).")
    nominal = corners.get(f"{d.temp_c:g}C")
    if corners.get("unchopped") and nominal:
        r = corners["unchopped"]["nmse_mean_pct"] / nominal["nmse_mean_pct"]
        out.append(f"Without gradient chopping (the four quadrant paths fixed in their roles) the mean "
                   f"is {corners['unchopped']['nmse_mean_pct']:.3g} %, {r:.2g}× the chopped design's "
                   f"(chop_gradient = {d.chop_gradient} in the other rows).")
    v = corners.get("large_devices")
    if v and nominal:
        area = v["w_um"] * v["l_um"] / (d.w_tl_um * d.l_tl_um)
        r = nominal["nmse_mean_pct"] / v["nmse_mean_pct"]
        out.append(f"With {v['w_um']:g}×{v['l_um']:g} µm translinear devices ({area:.3g}× the area) the "
                   f"mean falls {r:.3g}× to {v['nmse_mean_pct']:.3g} %; a mismatch error "
                   f"∝ σ(ΔV_T)² ∝ 1/(WL) would fall {area:.3g}×.")
    return " ".join(out)


def _crossing(t, drift, level):
    above = np.nonzero(~(drift < level))[0]  # NaN (memory lost) counts as above
    if len(above) == 0:
        return float("inf")
    k = above[0]
    if k == 0 or not np.isfinite(drift[k]):
        return float(t[k])
    lt, ld = np.log(t[k - 1:k + 1]), np.log(np.maximum(drift[k - 1:k + 1], 1e-300))
    return float(np.exp(lt[0] + (np.log(level) - ld[0]) * (lt[1] - lt[0]) / (ld[1] - ld[0])))


def _plot(out, config, all_err, drift, lsb8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    lo = min(e.min() for e in all_err)
    hi = max(e.max() for e in all_err)
    bins = np.logspace(np.log10(lo) - 0.1, np.log10(max(hi, 0.9)) + 0.1, 50)
    for temp, e in zip(config.temps_c, all_err):
        a.hist(e, bins=bins, histtype="step", label=f"{temp:g} °C")
    a.axvline(0.87, color="k", ls="--", lw=1, label="0.87 % NMSE")
    a.set_xscale("log")
    a.set_xlabel("NMSE vs ideal CT (%)  [rms % of FS = 10·√NMSE]")
    a.set_title(f"{config.dataset}, η = {config.eta:g}, λ = {config.lam:g}, mismatch + noise", fontsize=8)
    a.set_ylabel("instances")
    a.legend(fontsize=8)
    for k, v in drift.items():
        if k != "hold_time_s":
            b.loglog(drift["hold_time_s"], v, label=k.replace("max_drift_", ""))
    fs_lsb = 2 / 256
    b.axhline(fs_lsb, color="k", ls="--", lw=1, label="8-bit LSB")
    b.set_xlabel("hold time with training stopped (s)")
    b.set_ylabel("max |Δw| / full scale")
    b.legend(fontsize=8)
    fig.tight_layout()
    out.save_figure(fig, "montecarlo")


def full() -> MonteCarloConfig:
    return MonteCarloConfig()


def quick() -> MonteCarloConfig:
    return MonteCarloConfig(instances=[300, 1000, 300], non_ptat_instances=50, variant_instances=100,
                            unchopped_instances=100)


EXPERIMENT = Experiment(
    name="logdomain-montecarlo",
    description="log-domain SGDr circuit error under mismatch and temperature; memory retention",
    full=full, quick=quick, run=run, references=common.REFERENCES)
