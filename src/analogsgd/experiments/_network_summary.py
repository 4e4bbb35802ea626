"""The numbers a network study reports: final test accuracy per algorithm and τ, and the gaps."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._network_common import NetworkConfig
from ._network_units import Unit


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "seeds": [float(v) for v in arr]}


def len_or_all(n: int) -> int | str:
    return n if n else "all"


def summarise(cfg: NetworkConfig, units: list[Unit], histories: dict[str, dict]) -> dict:
    """Final test accuracy (%) per algorithm and τ: mean and sample std over seeds; the gaps to
    digital SGD at the smallest τ; and whether Tiki-Taka beats Analog SGD there clearly, i.e. by
    more than one point and more than the sum of the two standard deviations."""
    acc: dict[str, Any] = {}
    for alg in cfg.algorithms:
        if alg == "digital_sgd":
            acc[alg] = _stats([histories[u.key]["test_acc"][-1] for u in units if u.algorithm == alg])
            continue
        acc[alg] = {f"{tau:g}": _stats([histories[u.key]["test_acc"][-1] for u in units
                                        if u.algorithm == alg and u.tau == float(tau)])
                    for tau in cfg.taus}
    summary: dict[str, Any] = {"test_accuracy_pct": acc, "smallest_tau": float(min(cfg.taus)),
                               "epochs": cfg.epochs, "n_train": len_or_all(cfg.n_train),
                               "n_seeds": cfg.n_seeds}
    low = f"{min(cfg.taus):g}"
    if "digital_sgd" in acc:
        digital = acc["digital_sgd"]["mean"]
        for alg, key in (("tiki_taka", "tt_gap_to_digital_pct"),
                         ("analog_sgd", "analog_sgd_gap_to_digital_pct")):
            if alg in acc:
                summary[key] = digital - acc[alg][low]["mean"]
    if "tiki_taka" in acc and "analog_sgd" in acc:
        tt, asgd = acc["tiki_taka"][low], acc["analog_sgd"][low]
        summary["tt_minus_analog_sgd_at_smallest_tau_pct"] = tt["mean"] - asgd["mean"]
        summary["tt_beats_analog_sgd_at_smallest_tau"] = bool(
            tt["mean"] - asgd["mean"] > max(1.0, tt["std"] + asgd["std"]))
    return summary
