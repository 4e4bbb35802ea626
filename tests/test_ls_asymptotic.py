"""The ls-asymptotic experiment end to end on a reduced configuration."""

import json

import pytest

from analogsgd.cli import main
from analogsgd.errors import ConfigError
from analogsgd.experiments import get_experiment
from analogsgd.experiments.ls_asymptotic import LsAsymptoticConfig

SMALL = ["--set", "d_in=8", "--set", "d_out=6", "--set", "n_samples=64", "--set", "w_star_max=0.3",
         "--set", "steps=1500", "--set", "alphas=0.1,0.02", "--set", "taus=0.6,2.0",
         "--set", "sigma_sqs=0.001,0.01", "--set", "tau=0.6", "--set", "max_pulses=200"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ls")
    assert main(["run", "ls-asymptotic", "--seed", "3", "--out", str(out), "--no-progress", *SMALL]) == 0
    return out


def test_run_folder_has_every_artefact(run_dir):
    for name in ("config.json", "metrics.json", "report.md", "figures/fig1_alpha_curves.png",
                 "figures/fig4_sweeps.png", "curves/alpha_sweep_loss.csv", "curves/tau_sweep_loss.csv",
                 "curves/sigma_sweep_loss.csv"):
        assert (run_dir / name).is_file(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 3 and config["config"]["steps"] == 1500


def test_summary_shows_the_papers_picture(run_dir):
    """Analog SGD barely moves with α, digital falls, Tiki-Taka ends far below Analog SGD."""
    s = json.loads((run_dir / "metrics.json").read_text())["summary"]
    for key in ("analog_sgd_floor_ratio", "digital_drop_ratio", "analog_over_digital_at_min_alpha",
                "tt_over_digital_at_min_alpha", "floor_measured_over_predicted"):
        assert isinstance(s[key], float)
    assert s["digital_drop_ratio"] > 3.0          # 5× smaller α: ≈ 5× smaller plateau
    assert s["analog_sgd_floor_ratio"] < 0.5 * s["digital_drop_ratio"]
    assert s["analog_over_digital_at_min_alpha"] > 3.0
    assert s["tt_over_analog_at_min_alpha"] < 0.5
    assert 0 < s["floor_measured_over_predicted"] < 1.0  # Theorem 2 is an upper bound


def test_same_seed_gives_identical_metrics(run_dir, tmp_path):
    assert main(["run", "ls-asymptotic", "--seed", "3", "--out", str(tmp_path), "--no-progress", *SMALL]) == 0
    a = json.loads((run_dir / "metrics.json").read_text())
    b = json.loads((tmp_path / "metrics.json").read_text())
    a.pop("wall_time_s"), b.pop("wall_time_s")
    assert a == b


def test_quick_and_full_configs_are_valid():
    exp = get_experiment("ls-asymptotic")
    assert exp.config(quick=True).steps < exp.config(quick=False).steps
    assert exp.config().d_in == 40 and exp.config().d_out == 100


def test_optimum_outside_the_bounds_is_refused():
    with pytest.raises(ConfigError, match="w_star_max"):
        LsAsymptoticConfig(w_star_max=0.7, taus=(0.6, 1.0))
