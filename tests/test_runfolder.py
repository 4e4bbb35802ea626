"""The run folder: files take the umask's mode like any tool's; metrics never hold NaN or inf."""

import os

import pytest

from analogsgd.errors import NonFiniteError
from analogsgd.runfolder import RunFolder


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_every_result_file_takes_the_umask_mode(tmp_path, umask, mode):
    import matplotlib.pyplot as plt

    old = os.umask(umask)
    try:
        run = RunFolder(tmp_path / "run")
        paths = [run.write_config({"a": 1}), run.write_metrics({"summary": {"x": 1.0}}),
                 run.write_curves("c", {"k": [1, 2]}), run.write_report("# r\n"),
                 run.save_figure(plt.figure(), "f"), run.write_json("timings.json", {"t": 1})]
    finally:
        os.umask(old)
    assert {p.name: p.stat().st_mode & 0o777 for p in paths} == {p.name: mode for p in paths}
    assert not [p for p in (tmp_path / "run").rglob(".*")]   # no temporary file left behind


def test_curves_keep_their_bytes(tmp_path):
    path = RunFolder(tmp_path).write_curves("c", {"a": [1, 2.5], "b": [float("nan"), None]})
    assert path.read_bytes() == b"a,b\r\n1,\r\n2.5,\r\n"


@pytest.mark.parametrize("metrics, where", [
    ({"summary": {"loss": float("nan")}}, "summary.loss = nan"),
    ({"summary": {}, "curves": {"a": [0.0, float("-inf")]}}, "curves.a[1] = -inf"),
])
def test_metrics_refuse_non_finite_numbers(tmp_path, metrics, where):
    import numpy as np
    import torch

    run = RunFolder(tmp_path)
    with pytest.raises(NonFiniteError, match=where.replace("[", r"\[").replace("]", r"\]")):
        run.write_metrics(metrics)
    for bad in (np.float32("nan"), torch.tensor([1.0, float("inf")]), np.array([np.inf])):
        with pytest.raises(NonFiniteError, match="summary.x"):
            run.write_metrics({"summary": {"x": bad}})
    assert not (tmp_path / "metrics.json").exists()
    run.write_metrics({"summary": {"missing": None, "ok": [1.0, np.float64(2.0)]}})
    assert (tmp_path / "metrics.json").is_file()


def test_force_removes_only_the_run_files(tmp_path):
    run = RunFolder(tmp_path)
    run.write_metrics({"summary": {}})
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "u.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("mine")
    assert sorted(p.name for p in run.remove_results()) == ["metrics.json", "u.pt"]
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["notes.txt"]
