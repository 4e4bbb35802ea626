"""Speed of the log-domain circuit simulator against a plain per-instance scipy LSODA integration
of the same equations (the same vector field and analytic Jacobian), side by side.

    OMP_NUM_THREADS=1 python benchmarks/bench_logdomain.py [--quick] [--json out.json]

Reports, for the NumPy ROS2 path and the compiled ``ros2-numba`` kernel (when numba is
installed), simulated samples per second for (a) the 10-feature accelerator (one instance) and
(b) 1000 Monte-Carlo instances at once (instance-samples per second), the ratio to LSODA, and
the accuracy of each against LSODA at tight tolerance (rtol 1e-10). For (b), LSODA is timed on
a subset of instances and its rate is per instance (LSODA has no batch axis): the ratio assumes
its cost is linear in the number of instances, which is exact for a per-instance loop.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from analogsgd.logdomain import kernels
from analogsgd.logdomain.accelerator import LogDomainDesign
from analogsgd.logdomain.datasets import diabetes, stream
from analogsgd.logdomain.instances import build_instances
from analogsgd.logdomain.simulate import SolverConfig, simulate, simulate_lsoda

NUMBA = SolverConfig(integrator="ros2-numba")


def _timed(fn, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    S1 = 60 if args.quick else 200
    S2 = 20 if args.quick else 50
    n_lsoda = 5 if args.quick else 10
    X, Y = stream(diabetes(), 1, np.random.default_rng(0))
    design = LogDomainDesign()
    eta, lam = 0.05, 1e-3  # the realisable range starts at η = 0.048 (docs §5)
    results = {}

    # (a) one 10-feature accelerator
    p1 = build_instances(design, 10, eta, lam, noise=False)
    ours, t_ours = _timed(lambda: simulate(p1, X[:S1], Y[:S1]), 3)
    ls, t_ls = _timed(lambda: simulate_lsoda(p1, X[:S1], Y[:S1], rtol=1e-6, atol=1e-9))
    tight = simulate_lsoda(p1, X[:S1], Y[:S1], rtol=1e-10, atol=1e-12)
    if kernels.available():
        simulate(p1, X[:2], Y[:2], NUMBA)  # compile (cached on disk afterwards)
        nb, t_nb = _timed(lambda: simulate(p1, X[:S1], Y[:S1], NUMBA), 3)
    results["single_10_feature"] = {
        "samples": S1, "ours_samples_per_s": S1 / t_ours, "lsoda_samples_per_s": S1 / t_ls,
        "speed_ratio": t_ls / t_ours,
        **({"numba_samples_per_s": S1 / t_nb, "numba_speed_ratio": t_ls / t_nb,
            "numba_max_abs_diff_vs_numpy_path": float(np.abs(nb.weights - ours.weights).max())}
           if kernels.available() else {}),
        "ours_max_abs_err_vs_tight_lsoda": float(np.abs(ours.weights - tight.weights).max()),
        "lsoda_default_max_abs_err_vs_tight": float(np.abs(ls.weights - tight.weights).max()),
    }

    # (b) 1000 Monte-Carlo instances at once
    pM = build_instances(design, 10, eta, lam, mismatch=True, noise=False,
                         rng=np.random.default_rng(1), temp_c=np.full(1000, 27.0))
    oursM, t_oursM = _timed(lambda: simulate(pM, X[:S2], Y[:S2]))
    if kernels.available():
        nbM, t_nbM = _timed(lambda: simulate(pM, X[:S2], Y[:S2], NUMBA))
    sub = pM.take(slice(0, n_lsoda))
    lsM, t_lsM = _timed(lambda: simulate_lsoda(sub, X[:S2], Y[:S2], rtol=1e-6, atol=1e-9))
    tightM = simulate_lsoda(sub, X[:S2], Y[:S2], rtol=1e-10, atol=1e-12)
    rate_ours = 1000 * S2 / t_oursM
    rate_ls = n_lsoda * S2 / t_lsM
    results["montecarlo_1000"] = {
        "samples": S2, "instances": 1000, "lsoda_instances_timed": n_lsoda,
        "ours_instance_samples_per_s": rate_ours, "lsoda_instance_samples_per_s": rate_ls,
        "speed_ratio": rate_ours / rate_ls, "ours_wall_s": t_oursM,
        **({"numba_instance_samples_per_s": 1000 * S2 / t_nbM,
            "numba_speed_ratio": 1000 * S2 / t_nbM / rate_ls,
            "numba_max_abs_diff_vs_numpy_path": float(np.abs(nbM.weights - oursM.weights).max())}
           if kernels.available() else {}),
        "lsoda_wall_s_extrapolated_to_1000": t_lsM * 1000 / n_lsoda,
        "ours_max_abs_err_vs_tight_lsoda": float(np.abs(oursM.weights[:, :n_lsoda] - tightM.weights).max()),
        "lsoda_default_max_abs_err_vs_tight": float(np.abs(lsM.weights - tightM.weights).max()),
    }
    print("log-domain circuit simulator vs per-instance scipy LSODA (rtol 1e-6, atol 1e-9 V)")
    for k, v in results.items():
        print(f"  {k}:")
        for kk, vv in v.items():
            print(f"    {kk:40s} {vv:.4g}" if isinstance(vv, float) else f"    {kk:40s} {vv}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
