"""Kill-and-resume, end to end: a run killed with SIGKILL after its first checkpoint and resumed
with ``analogsgd run NAME --resume`` ends with exactly the weights and metrics of an
uninterrupted run with the same seed."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from analogsgd.cli import main

TINY = ["--set", "n_train=200", "--set", "n_test=100", "--set", "hidden=16", "--set", "epochs=6",
        "--set", "n_seeds=1", "--set", "taus=0.7", "--set", "lr_step_epochs=3"]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "analogsgd", "run", "digits-fcn", "--no-progress", *args]


def _env() -> dict:
    src = str(Path(__file__).resolve().parents[1] / "src")
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
            "PYTHONPATH": src + (os.pathsep + path if path else "")}


def _same(a, b, where: str = "") -> list[str]:
    """Paths at which two checkpoint payloads differ (wall-clock seconds excluded)."""
    clocks = ("seconds", "run_wall_time_s")
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b) else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a if k not in clocks for d in _same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def _metrics(folder: Path) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    m.pop("wall_time_s")
    return m


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    """The killed run is a subprocess, killed once the last unit (Tiki-Taka: two tiles, transfer
    counters, scheduler) has written its first checkpoint; the uninterrupted and the resumed
    runs go in-process."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["run", "digits-fcn", "--no-progress", "--out", str(whole), *TINY]) == 0

    proc = subprocess.Popen(_command("--out", str(killed), *TINY), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    last = killed / "checkpoints" / "seed0_tiki_taka_tau0.7.pt"
    while not last.exists() and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "metrics.json").exists()
    killed_payload = torch.load(last, weights_only=True)
    stopped_at = killed_payload["extra"]["history"]["epoch"][-1]
    killed_time = killed_payload["extra"]["run_wall_time_s"]
    assert stopped_at < 6, "the killed run was not stopped mid-unit"

    capsys.readouterr()
    assert main(["run", "digits-fcn", "--no-progress", "--resume", "--out", str(killed)]) == 0
    assert "resuming" in capsys.readouterr().err

    assert _metrics(killed) == _metrics(whole)
    # the whole run's time: at least what the killed run had spent at its last checkpoint
    assert json.loads((killed / "metrics.json").read_text())["wall_time_s"] > killed_time
    assert ((killed / "curves" / "learning_curves.csv").read_text()
            == (whole / "curves" / "learning_curves.csv").read_text())
    names = sorted(p.name for p in (whole / "checkpoints").glob("*.pt"))
    assert names == sorted(p.name for p in (killed / "checkpoints").glob("*.pt")) and len(names) == 3
    for name in names:
        a = torch.load(whole / "checkpoints" / name, weights_only=True)
        b = torch.load(killed / "checkpoints" / name, weights_only=True)
        assert not _same(a["model"], b["model"]), (name, _same(a["model"], b["model"]))
        for part in ("optimizer", "scheduler", "extra"):
            assert not _same(a[part], b[part]), (name, part, _same(a[part], b[part]))


def test_resume_of_a_finished_run_reproduces_its_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "digits-fcn", "--no-progress", "--out", str(out), *TINY, "--set", "epochs=2",
            "--set", "algorithms=digital_sgd"]
    assert main(args) == 0
    first = _metrics(out)
    assert main(["run", "digits-fcn", "--no-progress", "--resume", "--out", str(out)]) == 0
    assert _metrics(out) == first
    capsys.readouterr()


@pytest.mark.parametrize("extra, needle", [
    (["--seed", "3"], "--seed must be the stored seed 0"),
    (["--quick"], "--quick must be the stored value False"),
    (["--set", "epochs=9"], "--resume must be overrides that agree with"),
])
def test_resume_refuses_a_different_config(tmp_path, capsys, extra, needle):
    out = tmp_path / "run"
    base = ["run", "digits-fcn", "--no-progress", "--out", str(out)]
    assert main([*base, *TINY, "--set", "epochs=1", "--set", "algorithms=digital_sgd"]) == 0
    capsys.readouterr()
    assert main([*base, "--resume", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_resume_needs_a_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "digits-fcn", "--resume"]) == 2
    assert "--resume must be an existing run folder of digits-fcn" in capsys.readouterr().err
    assert main(["run", "digits-fcn", "--resume", "--out", str(tmp_path / "nope")]) == 2
    assert "a run folder holding config.json" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_resume_picks_the_newest_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["run", "digits-fcn", "--no-progress", *TINY, "--set", "epochs=1",
            "--set", "algorithms=digital_sgd"]
    assert main([*args, "--out", "runs/digits-fcn-20000101-000000"]) == 0
    assert main([*args, "--out", "runs/digits-fcn-20990101-000000"]) == 0
    capsys.readouterr()
    assert main(["run", "digits-fcn", "--no-progress", "--resume"]) == 0
    assert "runs/digits-fcn-20990101-000000" in capsys.readouterr().err


TWO_SEEDS = ["--no-progress", *TINY, "--set", "epochs=1", "--set", "algorithms=digital_sgd",
             "--set", "n_seeds=2"]


def _finished(tmp_path) -> Path:
    out = tmp_path / "run"
    assert main(["run", "digits-fcn", "--out", str(out), *TWO_SEEDS]) == 0
    return out


def _refused(capsys, out: Path, code: int = 2) -> str:
    capsys.readouterr()
    assert main(["run", "digits-fcn", "--no-progress", "--resume", "--out", str(out)]) == code
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if not ln.startswith("digits-fcn: resuming in ")]
    assert len(lines) == 1 and lines[0].startswith("analogsgd: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_another_seeds_checkpoint_is_refused_on_resume(tmp_path, capsys):
    out = _finished(tmp_path)
    ck = out / "checkpoints"
    (ck / "seed0_digital_sgd.pt").write_bytes((ck / "seed1_digital_sgd.pt").read_bytes())
    err = _refused(capsys, out)
    assert "seed0_digital_sgd.pt belongs to another run or unit: unit: checkpoint " \
           "'seed1_digital_sgd', expected 'seed0_digital_sgd'" in err


class _WritesMarker:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_payload_is_refused_on_resume_and_never_runs(tmp_path, capsys):
    out = _finished(tmp_path)
    path, marker = out / "checkpoints" / "seed0_digital_sgd.pt", tmp_path / "MARKER"
    payload = torch.load(path, weights_only=True)
    payload["extra"]["history"]["note"] = _WritesMarker(str(marker))
    torch.save(payload, path)
    assert "seed0_digital_sgd.pt is refused" in _refused(capsys, out)
    assert not marker.exists()


def test_a_nan_weight_is_refused_on_resume(tmp_path, capsys):
    out = _finished(tmp_path)
    path = out / "checkpoints" / "seed1_digital_sgd.pt"
    payload = torch.load(path, weights_only=True)
    payload["model"]["1.weight"][0, 0] = float("nan")
    torch.save(payload, path)
    assert "seed1_digital_sgd.pt: 1.weight has 1 of" in _refused(capsys, out)


@pytest.mark.parametrize("text, needle", [
    ("{not json", "--resume must be a readable JSON file"),
    ("[1, 2]", "--resume must be a JSON object written by `analogsgd run` (it holds a list)"),
    ('{"experiment": "digits-fcn", "config": [1]}', "whose 'config' is an object"),
])
def test_a_corrupt_config_json_is_one_line(tmp_path, capsys, text, needle):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(text)
    assert needle in _refused(capsys, out)


def test_a_checkpoint_path_that_is_a_folder_stops_before_training(tmp_path, capsys):
    out = _finished(tmp_path)
    (out / "checkpoints" / "seed1_digital_sgd.pt").unlink()
    (out / "checkpoints" / "seed1_digital_sgd.pt").mkdir()
    start = time.perf_counter()
    err = _refused(capsys, out)
    assert "checkpoint path must be a regular file" in err and "seed1_digital_sgd.pt" in err
    assert time.perf_counter() - start < 30   # refused before seed 1 trains, not after


def test_out_onto_an_existing_run_is_refused_unless_resume_or_force(tmp_path, capsys):
    out = _finished(tmp_path)
    before = (out / "metrics.json").read_text()
    capsys.readouterr()
    assert main(["run", "digits-fcn", "--out", str(out), *TWO_SEEDS, "--set", "epochs=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "It exists already: add --resume" in err and "--force" in err
    assert (out / "metrics.json").read_text() == before
    assert main(["run", "digits-fcn", "--out", str(out), *TWO_SEEDS, "--set", "epochs=2",
                 "--force"]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == 2
    assert json.loads((out / "metrics.json").read_text())["summary"]["epochs"] == 2
