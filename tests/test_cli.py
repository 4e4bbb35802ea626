"""The command line: listing, config printing, and one-line errors before any work."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


# -- errors of the user's making: one line, status 2, nothing written --------------------------

def _one_error_line(capsys) -> str:
    """The one line of stderr (after the run's own ``NAME: writing to DIR`` line, if any)."""
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ": writing to " not in ln]
    assert len(lines) == 1 and lines[0].startswith("analogsgd: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _toml(tmp_path, data: bytes) -> str:
    path = tmp_path / "o.toml"
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make_args, needle", [
    (lambda t: ["--threads", "0"], "--threads must be an integer >= 1; got 0"),
    (lambda t: ["--threads", "-3"], "--threads must be an integer >= 1; got -3"),
    (lambda t: ["--config", _toml(t, b"steps = = 3\n")], "must be a valid TOML file"),
    (lambda t: ["--config", _toml(t, b"steps = 3 # \xff\xfe\n")], "must be a UTF-8 text file"),
    (lambda t: ["--config", _toml(t, b"[steps]\nx = 1\n")],
     "LsAsymptoticConfig.steps must be a single value (it has no sub-fields); got {'x': 1}"),
    (lambda t: ["--set", "steps.x=1"], "LsAsymptoticConfig.steps must be a single value"),
    (lambda t: ["--resume"], ("--resume must be an experiment that writes checkpoints; got "
                              "'ls-asymptotic' instead. ls-asymptotic writes none")),
    (lambda t: ["--resume", "--force"], "--force must be not given with --resume"),
])
def test_more_bad_input_is_one_line_and_no_run_folder(make_args, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["run", "ls-asymptotic", *make_args(tmp_path), "--out", str(out)]) == 2
    assert needle in _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("make_out, extra, needle", [
    (lambda t: t / "a_file", [], "--out must be a folder (or a path not yet existing)"),
    (lambda t: t / "a_file" / "run", [], "--out must be a folder that can be created and written"),
    (lambda t: Path("/proc/analogsgd-run"), [], "--out must be a folder that can be created"),
    (lambda t: Path("/proc"), [], "--out must be a new or empty folder"),
    (lambda t: Path("/proc"), ["--force"], "--out must be a folder that can be created and written"),
])
def test_an_unusable_out_is_one_line(make_out, extra, needle, capsys, tmp_path):
    (tmp_path / "a_file").write_text("x")
    out = make_out(tmp_path)
    assert main(["run", "ls-asymptotic", "--out", str(out), *extra]) == 2
    assert needle in _one_error_line(capsys)
    assert (tmp_path / "a_file").read_text() == "x"


def test_bad_input_is_one_line_in_a_subprocess_too(tmp_path):
    """The installed entry point: stderr is exactly one line, no traceback, status 2."""
    (tmp_path / "a_file").write_text("x")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
           "OMP_NUM_THREADS": "1"}
    for args in (["--out", str(tmp_path / "a_file")], ["--config", _toml(tmp_path, b"a = [\n")]):
        proc = subprocess.run([sys.executable, "-m", "analogsgd", "run", "ls-asymptotic", *args],
                              capture_output=True, text=True, env=env, timeout=120,
                              check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("analogsgd: error: --") and "Traceback" not in proc.stderr


# -- failures of a run: one line, status 3; --debug shows the traceback -------------------------

def _fake(monkeypatch, run):
    from analogsgd.experiments import Experiment

    exp = Experiment(name="fake", description="a fake", full=dict, quick=dict, run=run)
    monkeypatch.setattr("analogsgd.experiments.get_experiment", lambda name: exp)


def _raise(exc):
    def run(config, ctx):
        raise exc
    return run


@pytest.mark.parametrize("exc", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:119] data. DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 80000000000 bytes. Error code 12"),
    MemoryError(),
])
def test_an_allocator_failure_is_one_line(monkeypatch, capsys, tmp_path, exc):
    _fake(monkeypatch, _raise(exc))
    assert main(["run", "fake", "--no-progress", "--out", str(tmp_path / "r")]) == 3
    assert "out of memory" in _one_error_line(capsys)
    with pytest.raises(type(exc)):
        main(["--debug", "run", "fake", "--no-progress", "--out", str(tmp_path / "s")])
    with pytest.raises(type(exc)):
        main(["run", "fake", "--debug", "--no-progress", "--out", str(tmp_path / "t")])


def test_a_bug_is_not_hidden(monkeypatch, tmp_path):
    _fake(monkeypatch, _raise(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["run", "fake", "--no-progress", "--out", str(tmp_path / "r")])


def test_non_finite_metrics_stop_the_run_naming_the_key(monkeypatch, capsys, tmp_path):
    _fake(monkeypatch, lambda config, ctx: {"summary": {"ok": None, "loss": [1.0, float("nan")]},
                                            "x": {"y": float("inf")}})
    out = tmp_path / "r"
    assert main(["run", "fake", "--no-progress", "--out", str(out)]) == 3
    err = _one_error_line(capsys)
    assert "summary.loss[1] = nan" in err and "x.y = inf" in err
    assert not (out / "metrics.json").exists()


def test_closing_line_names_report_and_figures(monkeypatch, capsys, tmp_path):
    def run(config, ctx):
        import matplotlib.pyplot as plt

        ctx.out.write_report("# r\n")
        for name in ("b", "a"):
            ctx.out.save_figure(plt.figure(), name)
        return {"summary": {"ok": 1.0, "missing": None}}

    _fake(monkeypatch, run)
    out = tmp_path / "r"
    assert main(["run", "fake", "--no-progress", "--out", str(out)]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("done in ") and f"report {out}/report.md" in last
    assert f"figures {out}/figures/{{a.png,b.png}}" in last
    assert json.loads((out / "metrics.json").read_text())["summary"] == {"ok": 1.0, "missing": None}


def _run_of_another_rule(monkeypatch, tmp_path):
    """A run folder of a fake experiment whose config is an AnalogLayerConfig (default rule:
    Analog SGD), its stored config replaced by a layer whose rule is Tiki-Taka: (configs the
    experiment ran with, the folder, the stored layer config)."""
    from analogsgd.experiments import Experiment
    from analogsgd.nn import AnalogLayerConfig
    from analogsgd.optim import TikiTakaConfig

    seen = []

    def run(config, ctx):
        seen.append(config)
        return {"summary": {}}

    exp = Experiment(name="fake", description="a fake", full=AnalogLayerConfig,
                     quick=AnalogLayerConfig, run=run, checkpoints=True)
    monkeypatch.setattr("analogsgd.experiments.get_experiment", lambda name: exp)
    out = tmp_path / "r"
    assert main(["run", "fake", "--no-progress", "--out", str(out)]) == 0
    stored = json.loads((out / "config.json").read_text())
    layer = AnalogLayerConfig(rule=TikiTakaConfig(transfer_lr=0.3, gamma=0.5))
    stored["config"] = layer.to_dict()
    (out / "config.json").write_text(json.dumps(stored))
    return seen, out, layer


def test_resume_rebuilds_nested_configs_by_their_stored_kind(monkeypatch, capsys, tmp_path):
    """A stored config whose nested config is of another kind than the experiment's default
    (here a layer whose rule is Tiki-Taka where the default is Analog SGD) resumes with exactly
    the stored config: config.json is rebuilt by Config.from_dict, kinds included."""
    seen, out, layer = _run_of_another_rule(monkeypatch, tmp_path)
    assert main(["run", "fake", "--no-progress", "--resume", "--out", str(out)]) == 0
    assert seen[-1] == layer
    capsys.readouterr()


def test_rerun_repeats_a_run_folder_from_its_config_alone(tmp_path, capsys):
    """``--rerun A --out B``: B's config.json holds A's config and seed (A's --set values
    included, though the command names none) and B's metrics equal A's but for the wall time;
    A is left as it was. The same folder, another experiment's folder and --resume with --rerun
    are one-line errors."""
    a, b = tmp_path / "a", tmp_path / "b"
    tiny = ["--set", "d_in=4", "--set", "d_out=3", "--set", "n_samples=16", "--set",
            "w_star_max=0.3", "--set", "steps=60", "--set", "record_every=10", "--set",
            "alphas=0.1,0.05", "--set", "taus=0.6", "--set", "sigma_sqs=0.01"]
    assert main(["run", "ls-asymptotic", "--no-progress", "--seed", "5", "--out", str(a), *tiny]) == 0
    before = {p.name: p.read_bytes() for p in a.iterdir() if p.is_file()}
    assert main(["run", "ls-asymptotic", "--no-progress", "--rerun", str(a), "--out", str(b)]) == 0
    stored_a, stored_b = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert stored_b["config"] == stored_a["config"] and stored_b["seed"] == 5
    metrics_a, metrics_b = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    metrics_a.pop("wall_time_s"), metrics_b.pop("wall_time_s")
    assert metrics_a == metrics_b
    assert {p.name: p.read_bytes() for p in a.iterdir() if p.is_file()} == before
    capsys.readouterr()
    for argv, needle in (
            (["run", "ls-asymptotic", "--rerun", str(a), "--out", str(a)], "another folder"),
            (["run", "fmnist-cnn", "--rerun", str(a), "--out", str(tmp_path / "c")],
             "a run folder of fmnist-cnn"),
            (["run", "ls-asymptotic", "--rerun", str(a), "--resume", "--out", str(a)],
             "not given with --resume"),
            (["run", "ls-asymptotic", "--rerun", str(tmp_path / "none")], "holding config.json")):
        assert main(argv) == 2
        assert needle in _one_error_line(capsys)


def test_rerun_rebuilds_nested_configs_by_their_stored_kind(monkeypatch, capsys, tmp_path):
    """A stored layer config whose rule is of another kind than the experiment's default reruns
    with exactly that config (Config.from_dict), and --set applies on top of it."""
    seen, out, layer = _run_of_another_rule(monkeypatch, tmp_path)
    assert main(["run", "fake", "--no-progress", "--rerun", str(out),
                 "--out", str(tmp_path / "s")]) == 0
    assert seen[-1] == layer
    assert main(["run", "fake", "--no-progress", "--rerun", str(out), "--out",
                 str(tmp_path / "t"), "--set", "rule.gamma=0.25"]) == 0
    assert seen[-1] == layer.replace(**{"rule.gamma": 0.25})
    capsys.readouterr()


def test_update_kernel_is_stored_kept_by_rerun_and_resume(monkeypatch, tmp_path, capsys):
    """--update-kernel goes to config.json ('auto' when not given); --rerun keeps the stored
    kernel (with equal metrics) and a folder of a version before it, without the key, reruns
    with 'dense', the kernel that version ran; --resume refuses another kernel in one line; the
    process default is restored after each run."""
    from analogsgd.crossbar.tile import auto_kernel

    a, b, c, d = (tmp_path / n for n in "abcd")
    tiny = ["--set", "d_in=4", "--set", "d_out=3", "--set", "n_samples=16", "--set",
            "w_star_max=0.3", "--set", "steps=60", "--set", "record_every=10", "--set",
            "alphas=0.1", "--set", "taus=0.6", "--set", "sigma_sqs=0.01"]
    assert main(["run", "ls-asymptotic", "--no-progress", "--update-kernel", "dense",
                 "--out", str(a), *tiny]) == 0
    assert auto_kernel() == "auto"
    assert main(["run", "ls-asymptotic", "--no-progress", "--rerun", str(a), "--out", str(b)]) == 0
    stored = {n: json.loads((tmp_path / n / "config.json").read_text()) for n in "ab"}
    assert stored["a"]["update_kernel"] == stored["b"]["update_kernel"] == "dense"
    metrics = [json.loads((tmp_path / n / "metrics.json").read_text()) for n in "ab"]
    for m in metrics:
        m.pop("wall_time_s")
    assert metrics[0] == metrics[1]
    old = dict(stored["a"])
    del old["update_kernel"]
    c.mkdir()
    (c / "config.json").write_text(json.dumps(old))
    assert main(["run", "ls-asymptotic", "--no-progress", "--rerun", str(c), "--out", str(d)]) == 0
    assert json.loads((d / "config.json").read_text())["update_kernel"] == "dense"
    capsys.readouterr()
    _, out, _ = _run_of_another_rule(monkeypatch, tmp_path / "fake")
    assert json.loads((out / "config.json").read_text())["update_kernel"] == "auto"
    capsys.readouterr()
    assert main(["run", "fake", "--resume", "--update-kernel", "sparse", "--out", str(out)]) == 2
    assert "A resumed run keeps its kernel" in _one_error_line(capsys)
