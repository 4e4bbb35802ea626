"""The command line: listing, config printing, and one-line errors before any work."""

import json

import pytest

from analogsgd.cli import main


def test_list_names_every_experiment(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ls-asymptotic" in out and "Analog SGD" in out


def test_config_prints_resolved_overrides(capsys):
    assert main(["config", "ls-asymptotic", "--quick", "--set", "alphas=0.3,0.1", "--set", "tau=1.5"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["alphas"] == [0.3, 0.1] and cfg["tau"] == 1.5


@pytest.mark.parametrize("args, needle", [
    (["run", "nope"], "experiment must be one of"),
    (["run", "ls-asymptotic", "--set", "steps=-5"], "LsAsymptoticConfig.steps must be an integer >= 1; got -5"),
    (["run", "ls-asymptotic", "--set", "fast_lr=nan"], "LsAsymptoticConfig.fast_lr must be a finite number > 0; got nan"),
    (["run", "ls-asymptotic", "--set", "mode=magic"], "LsAsymptoticConfig.mode must be one of 'pulsed', 'expected'"),
    (["run", "ls-asymptotic", "--set", "no_such=1"], "LsAsymptoticConfig.no_such must be one of"),
    (["run", "ls-asymptotic", "--set", "steps"], "--set must be of the form FIELD=VALUE"),
    (["run", "ls-asymptotic", "--seed", "-1"], "--seed must be an integer >= 0"),
    (["run", "ls-asymptotic", "--config", "/no/such.toml"], "--config must be an existing TOML file"),
])
def test_bad_input_is_one_line_and_no_run_folder(args, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_toml_overrides(tmp_path, capsys):
    f = tmp_path / "o.toml"
    f.write_text("steps = 70\nalphas = [0.4]\n")
    assert main(["config", "ls-asymptotic", "--config", str(f)]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["steps"] == 70 and cfg["alphas"] == [0.4]


def test_divergent_run_stops_with_a_clear_error_and_no_metrics(tmp_path, capsys):
    """Digital SGD with α·L = 50 diverges: the run stops naming the step; no metrics are written."""
    out = tmp_path / "run"
    args = ["run", "ls-asymptotic", "--out", str(out), "--no-progress", "--set", "d_in=4",
            "--set", "d_out=3", "--set", "n_samples=16", "--set", "w_star_max=0.3", "--set",
            "steps=400", "--set", "alphas=50", "--set", "taus=0.6", "--set", "sigma_sqs=0.01"]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "weights became non-finite at step" in err
    assert (out / "config.json").is_file() and not (out / "metrics.json").exists()
