"""residual-toy: the scalar (w̄ − b)² problem on N few-state tiles (experiments/residual_toy.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from analogsgd.errors import ConfigError
from analogsgd.experiments import get_experiment
from analogsgd.experiments.residual_toy import (
    ResidualToyConfig,
    log_slope,
    rule_config,
    run_one,
    targets,
)


def test_configs_resolve_and_cover_the_tile_counts():
    exp = get_experiment("residual-toy")
    assert exp.full().n_tiles == list(range(1, 9)) and exp.quick().n_tiles == [1, 2, 3, 4]
    assert exp.full().predicted_log_slope == pytest.approx(2 / 3 * math.log(0.3), rel=1e-12)


def test_targets_are_16_bit_fixed_point_within_range():
    cfg = ResidualToyConfig(n_targets=64)
    b = targets(cfg, torch.Generator().manual_seed(0))
    k = b / cfg.target_range * 2**15
    assert torch.equal(k, k.round()) and float(b.abs().max()) < cfg.target_range
    assert len(set(k.flatten().tolist())) > 60                   # 64 draws of 2¹⁶ values


def test_one_tile_is_analog_sgd_and_n_tiles_the_residual_rule_at_the_study_rates():
    cfg = ResidualToyConfig()
    assert rule_config(cfg, 1).kind == "analog_sgd"
    r = rule_config(cfg, 4)
    assert (r.kind, r.n_tiles, r.warm_start) == ("residual", 4, False)
    assert r.periods == (2, 8, 32) and r.rates == (0.01, 0.01, 0.01) and r.gamma == 0.3


def test_log_slope_recovers_an_exponential():
    ns = [1, 2, 3, 5]
    assert log_slope(ns, [3.0 * math.exp(-0.7 * n) for n in ns]) == pytest.approx(-0.7, rel=1e-12)


def test_without_write_noise_a_second_tile_lowers_the_floor():
    """The control model (compact update, no ζ): the gradient tile's noise is read at γ = 0.3,
    so two tiles end well under one (measured 4× at 20 000 steps; required: 2× at 6 000)."""
    cfg = ResidualToyConfig(n_targets=8, steps=6000, modes=["expected_noiseless"])
    one = run_one(cfg, 1, "expected_noiseless", seed=3)["floor"]
    two = run_one(cfg, 2, "expected_noiseless", seed=3)["floor"]
    assert two < 0.5 * one


def test_a_tail_without_steps_is_a_config_error():
    with pytest.raises(ConfigError, match="ResidualToyConfig.tail"):
        ResidualToyConfig(steps=3, tail=0.1)


def test_run_writes_the_metrics_and_repeats_bit_for_bit(tmp_path):
    from analogsgd.cli import main

    sets = ["--set", "n_tiles=1,2", "--set", "steps=300", "--set", "n_targets=4"]
    for out in ("a", "b"):
        assert main(["run", "residual-toy", "--quick", *sets, "--out", str(tmp_path / out)]) == 0
    a, b = (json.loads((tmp_path / o / "metrics.json").read_text()) for o in ("a", "b"))
    a.pop("wall_time_s", None), b.pop("wall_time_s", None)
    assert a == b
    assert set(a["floor_by_tiles"]) == {"1", "2"} and a["update_model"] == "pulsed"
    assert a["predicted_log_floor_slope_vs_N"] == pytest.approx(2 / 3 * math.log(0.3))
    assert a["log_floor_slope_vs_N"] == pytest.approx(
        math.log(a["floor_by_tiles"]["2"] / a["floor_by_tiles"]["1"]), rel=1e-9)
    assert set(a["floor_by_tiles_by_model"]) == {"pulsed", "expected", "expected_noiseless"}
    assert (tmp_path / "a" / "figures" / "residual_toy.png").is_file()
