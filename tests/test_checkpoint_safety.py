"""Checkpoints are data, never code, and are judged before they are loaded: a pickled object,
another unit's identity, a non-finite or out-of-bounds conductance or an array of another shape
is refused with one line naming the file and what is wrong, and the model is left untouched."""

from __future__ import annotations

import os

import pytest
import torch

from analogsgd.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from analogsgd.nn import AnalogLayerConfig, AnalogLinear, AnalogOptimizer, AnalogSequential
from analogsgd.optim import TikiTakaConfig

TT = AnalogLayerConfig(rule=TikiTakaConfig(transfer_every=2))


class WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: the marker file shows that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _model(seed: int = 0):
    model = AnalogSequential(AnalogLinear(4, 3, generator=seed),
                             AnalogLinear(3, 2, config=TT, generator=seed + 1), torch.nn.Linear(2, 2))
    return model, AnalogOptimizer(model.parameters(), lr=0.1)


def _saved(tmp_path, **kw):
    model, opt = _model()
    path = save_checkpoint(tmp_path / "c.pt", model, opt, identity={"experiment": "x", "seed": 0},
                           **kw)
    return path, torch.load(path, weights_only=True)


def _one_line(err) -> str:
    text = str(err.value)
    assert len(text.splitlines()) == 1, text
    return text


def test_a_pickled_object_is_refused_and_never_runs(tmp_path):
    path, payload = _saved(tmp_path)
    marker = tmp_path / "MARKER"
    payload["extra"]["history"] = WritesMarker(str(marker))
    torch.save(payload, path)
    assert not marker.exists()
    model, opt = _model(5)
    before = model.state_dict()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, model, opt)
    assert "is refused" in _one_line(err) and "could run code" in str(err.value)
    assert not marker.exists()
    assert torch.equal(model[0].rule.tile.conductance, before["0._extra_state"]["rule"]["tile"]["conductance"])


def test_every_file_written_loads_with_weights_only(tmp_path):
    data = torch.Generator().manual_seed(3)
    _, payload = _saved(tmp_path, data=data, history={"epoch": [0, 1], "loss": [float("nan"), 1.0]},
                           unit={"tau": None, "algorithm": "tiki_taka"})
    assert payload["identity"] == {"experiment": "x", "seed": 0}
    assert payload["extra"]["data"]["__torch_generator_state__"].dtype == torch.uint8
    with pytest.raises(TypeError, match="cannot checkpoint checkpoint.extra.when: object"):
        save_checkpoint(tmp_path / "d.pt", _model()[0], when=object())
    assert not (tmp_path / "d.pt").exists()


def test_another_units_checkpoint_is_refused(tmp_path):
    path, _ = _saved(tmp_path)
    model, opt = _model()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, model, opt, identity={"experiment": "x", "seed": 1})
    assert f"{path} belongs to another run or unit: seed: checkpoint 0, expected 1" == _one_line(err)
    load_checkpoint(path, model, opt, identity={"experiment": "x", "seed": 0})


def _tile(payload, layer="0"):
    state = payload["model"][f"{layer}._extra_state"]["rule"]
    return state["tile"] if "tile" in state else state["slow"]


@pytest.mark.parametrize("layer, corrupt, needle", [
    ("0", lambda t: t["conductance"].__setitem__((1, 2), float("nan")),
     "rule.tile.conductance has 1 of 12 entries NaN or infinite"),
    ("1", lambda t: t["conductance"].__setitem__((0, 0), 1.5),
     ("rule.slow.conductance has 1 of 6 entries outside the device bounds [tau_min, tau_max] "
      "(e.g. 1.5 outside [-0.6, 0.6])")),
    # τ_max + 1e-6 is ~17 float32 ulps of 0.6 out; the tolerance is 4 eps·max(1, |τ|) = 4.8e-7
    ("1", lambda t: t["conductance"].__setitem__((0, 0), float(t["tau_max"][0, 0]) + 1e-6),
     "rule.slow.conductance has 1 of 6 entries outside the device bounds"),
    ("0", lambda t: t.__setitem__("gain_up", torch.ones(3, 5)),
     "rule.tile.gain_up has shape (3, 5), the layer (3, 4)"),
    ("0", lambda t: t.__setitem__("tau_max", t["tau_max"].double()),
     "rule.tile.tau_max has dtype torch.float64, the layer torch.float32"),
    ("0", lambda t: t.__setitem__("tau_min", torch.full_like(t["tau_min"], 2.0)),
     "rule.tile: tau_min > tau_max for 12 elements"),
])
def test_corrupt_arrays_are_refused_naming_the_array(tmp_path, layer, corrupt, needle):
    path, payload = _saved(tmp_path)
    corrupt(_tile(payload, layer))
    torch.save(payload, path)
    model, opt = _model(7)
    before = model[int(layer)].rule.state_dict()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, model, opt)
    text = _one_line(err)
    assert str(path) in text and needle in text, text
    after = model[int(layer)].rule.state_dict()
    key = "tile" if "tile" in after else "slow"
    assert torch.equal(after[key]["conductance"], before[key]["conductance"])


def test_a_conductance_exactly_on_the_bound_loads(tmp_path):
    """The clip puts conductances exactly on τ_max; that (and 1 ulp above) is not corruption."""
    path, payload = _saved(tmp_path)
    tile = _tile(payload, "1")
    tile["conductance"][0, 0] = tile["tau_max"][0, 0]
    tile["conductance"][0, 1] = torch.nextafter(tile["tau_max"][0, 1], torch.tensor(2.0))
    torch.save(payload, path)
    model, opt = _model(7)
    load_checkpoint(path, model, opt)
    assert float(model[1].rule.slow.conductance[0, 0]) == float(tile["tau_max"][0, 0])


def test_a_non_finite_digital_parameter_is_refused(tmp_path):
    path, payload = _saved(tmp_path)
    payload["model"]["2.weight"][0, 0] = float("inf")
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, *_model(1))
    assert f"{path}: 2.weight has 1 of 4 entries NaN or infinite" == _one_line(err)


def test_a_directory_is_not_a_checkpoint(tmp_path):
    (tmp_path / "d.pt").mkdir()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "d.pt", *_model())
    assert "is not a checkpoint file" in _one_line(err)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_checkpoint_mode_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "m.pt", _model()[0])
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
