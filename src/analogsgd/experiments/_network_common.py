"""Shared trainer of the network experiments (``digits-fcn``, ``fmnist-fcn``, ``fmnist-cnn``).

One *unit* is one training run: an algorithm (digital SGD, Analog SGD, Tiki-Taka), a device
bound τ (analog only) and a seed. Every unit of the same seed starts from the same initial
weights and sees the same mini-batch order, so the algorithms are compared pairwise. After each
epoch a unit evaluates the test set and writes a checkpoint ``checkpoints/<unit>.pt`` (model,
optimizer, scheduler, data-order generator, history); with ``ctx.resume`` a unit continues from
its checkpoint, and finished units are read back instead of re-run, so a killed run resumed
ends with exactly the weights and metrics of an uninterrupted one.

Settings follow §5 of Wu et al. (NeurIPS 2024), see :class:`NetworkConfig`; the analog layers,
tiles and optimizer come from :mod:`analogsgd.nn`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoint import check_checkpoint_path
from ..config import (
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    Config,
    Constraint,
    Interval,
    IsBool,
    NumberList,
    OneOf,
    Text,
    param,
)
from ..datasets import DATASETS, Dataset, load
from ..datasets.fashion_mnist import default_path as fashion_mnist_default
from ..errors import ConfigError, check_finite
from ..rng import child_seeds, torch_generator
from .base import Experiment, RunContext

ALGORITHMS = ("digital_sgd", "analog_sgd", "tiki_taka")
LABELS = {"digital_sgd": "Digital SGD", "analog_sgd": "Analog SGD", "tiki_taka": "Tiki-Taka"}
POS_LIST = NumberList(Interval(0.0, None, low_open=True), distinct=True)
WIDTHS = NumberList(Interval(1, None, integer=True))


@dataclass(frozen=True)
class ChoiceList(Constraint):
    """A non-empty list of distinct items, each one of ``choices``."""

    choices: tuple

    def ok(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= 1
                and all(v in self.choices for v in value) and len(set(value)) == len(value))

    def describe(self) -> str:
        return "a non-empty list of distinct items from " + ", ".join(repr(c) for c in self.choices)

    def invalid_example(self) -> Any:
        return ()


@dataclass(frozen=True)
class NetworkConfig(Config):
    """A network-training study: data, network, algorithms × τ × seeds, and the paper's rates.

    Defaults are the FCN of §5 of Wu et al. (NeurIPS 2024) (784-256-128-10, sigmoid, batch 10,
    digital lr 0.1, analog α = 0.05, β = 0.01, StepLR(35, 0.1), soft bounds ±τ with
    Δw_min = 1e-3, the paper's IO) on Fashion-MNIST; each experiment shortens the budget.
    """

    dataset: str = param("fashion-mnist", "dataset name", OneOf(DATASETS))
    data_path: str = param("", "folder (or archive) of the dataset's files; '' = the default "
                           "(built in for digits, the Debian package for fashion-mnist)", Text())
    arch: str = param("fcn", "'fcn' (fully connected) or 'cnn' (conv5(16)-pool-conv5(32)-pool-FC)",
                      OneOf(("fcn", "cnn")))
    hidden: tuple = param((256, 128), "hidden-layer widths (FCN; the CNN's FC layer after the "
                          "convolutions is the first entry)", WIDTHS)
    activation: str = param("sigmoid", "activation of the hidden layers",
                            OneOf(("sigmoid", "tanh", "relu")))
    n_train: int = param(0, "training images used (a seeded subset; 0 = all)", NON_NEGATIVE_INT)
    n_test: int = param(0, "test images used (a seeded subset; 0 = all)", NON_NEGATIVE_INT)
    subset_seed: int = param(0, "seed of the train/test subsets (the same for every run seed)",
                             NON_NEGATIVE_INT)
    epochs: int = param(80, "training epochs per run", POSITIVE_INT)
    batch_size: int = param(10, "mini-batch size B", POSITIVE_INT)
    algorithms: tuple = param(ALGORITHMS, "algorithms to run", ChoiceList(ALGORITHMS))
    taus: tuple = param((0.7, 0.78, 0.8), "τ: device bounds ±τ of the analog runs", POS_LIST)
    n_seeds: int = param(3, "independent runs (seeds) per algorithm and τ", POSITIVE_INT)
    digital_lr: float = param(0.1, "learning rate of digital SGD", POSITIVE)
    analog_lr: float = param(0.05, "α: Analog SGD learning rate and Tiki-Taka transfer lr", POSITIVE)
    fast_lr: float = param(0.01, "β: Tiki-Taka fast-array learning rate", POSITIVE)
    lr_step_epochs: int = param(35, "StepLR step (epochs) of the learning rates; 0 = constant",
                                NON_NEGATIVE_INT)
    lr_gamma: float = param(0.1, "StepLR factor", Interval(0.0, 1.0, low_open=True))
    dw_min: float = param(1e-3, "Δw_min of the soft-bounds devices", POSITIVE)
    update_mode: str = param("pulsed", "tile update: 'pulsed' or 'expected'",
                             OneOf(("pulsed", "expected")))
    periphery: str = param("paper", "'paper' IO (output noise 0.1, bound 20, 8 bit, noise and "
                           "bound management), 'aihwkit-preset' (the same with a 7-bit DAC and a "
                           "9-bit ADC) or 'ideal' (exact reads)",
                           OneOf(("paper", "aihwkit-preset", "ideal")))
    learn_out_scale: bool = param(True, "learnable digital output scale per analog layer", IsBool())
    weight_scaling_omega: float = param(0.0, "ω > 0: program each analog layer's weights scaled to "
                                        "max |W| = ω, the output scale undoing it (aihwkit's weight "
                                        "scaling; needs learn_out_scale); 0: as initialised",
                                        NON_NEGATIVE)
    transfer_every: int = param(1, "Tiki-Taka: mini-batches between one-column transfers",
                                POSITIVE_INT)
    eval_batch_size: int = param(1000, "test-set batch size (no effect on the results' meaning)",
                                 POSITIVE_INT)

    def __post_init__(self) -> None:
        for name in ("hidden", "taus", "algorithms"):  # JSON/CLI lists and single values
            value = getattr(self, name)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                object.__setattr__(self, name, (value,))
            elif isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        super().__post_init__()

    def check_invariants(self) -> None:
        if self.dataset in ("mnist", "cifar10") and not self.data_path:
            raise ConfigError("NetworkConfig.data_path", self.data_path,
                              f"the folder of the {self.dataset} files",
                              f"{self.dataset} is not shipped; e.g. --set data_path=/data/{self.dataset}")
        if self.weight_scaling_omega > 0 and not self.learn_out_scale:
            raise ConfigError("NetworkConfig.weight_scaling_omega", self.weight_scaling_omega,
                              "0 when learn_out_scale is False",
                              "The output scale carries the factor; set learn_out_scale=True.")


# -- data and networks -------------------------------------------------------------------------

_CHECKED: dict[tuple, Dataset] = {}


def _data_key(cfg: NetworkConfig) -> tuple:
    return (cfg.dataset, cfg.data_path, cfg.n_train, cfg.n_test, cfg.subset_seed,
            str(fashion_mnist_default()))


def load_data(cfg: NetworkConfig) -> Dataset:
    """The (subset of the) dataset of ``cfg``; the one loaded by :func:`check_data` is reused."""
    data = _CHECKED.pop(_data_key(cfg), None)
    if data is None:
        data = load(cfg.dataset, cfg.data_path or None).subset(cfg.n_train, cfg.n_test,
                                                                seed=cfg.subset_seed)
    return data


def check_data(cfg: NetworkConfig) -> None:
    """Load the data before the run folder exists (missing files, too large subsets) and keep
    them for the run (the ``check`` hook of the network experiments)."""
    _CHECKED.clear()
    _CHECKED[_data_key(cfg)] = load_data(cfg)


def _activation(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[name]()


def build_network(cfg: NetworkConfig, image_shape: tuple[int, ...], n_classes: int) -> nn.Sequential:
    """The digital network (its analog twin is made by :func:`analogsgd.nn.convert_to_analog`).

    ``fcn``: Flatten, then Linear-act per hidden width, then Linear to the classes (the paper's
    784-256-128-10 sigmoid network). ``cnn``: conv5(16)-act-pool2-conv5(32)-act-pool2-flatten-
    FC→hidden[0]-act-FC→classes (the paper's CNN; 512 features on 28×28 images).
    """
    layers: list[nn.Module] = [nn.Flatten()] if cfg.arch == "fcn" else []
    if cfg.arch == "cnn":
        c, h, w = image_shape
        layers += [nn.Conv2d(c, 16, 5), _activation(cfg.activation), nn.MaxPool2d(2),
                   nn.Conv2d(16, 32, 5), _activation(cfg.activation), nn.MaxPool2d(2), nn.Flatten()]
        h, w = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
        if h < 1 or w < 1:
            raise ConfigError("NetworkConfig.arch", cfg.arch, "'fcn' for images smaller than 16×16")
        width = 32 * h * w
    else:
        width = int(np.prod(image_shape))
    for size in cfg.hidden:
        layers += [nn.Linear(width, int(size)), _activation(cfg.activation)]
        width = int(size)
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def init_parameters(model: nn.Module, generator: torch.Generator) -> None:
    """Seeded initialisation, U(−1/√fan_in, 1/√fan_in) for weights and biases (torch's default
    distribution, but from ``generator`` instead of the global state)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                bound = 1.0 / math.sqrt(module.weight[0].numel())
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=generator)


# -- units -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """One training run."""

    algorithm: str
    tau: float | None
    seed_index: int
    seed: int

    @property
    def key(self) -> str:
        tau = "" if self.tau is None else f"_tau{self.tau:g}"
        return f"seed{self.seed_index}_{self.algorithm}{tau}"

    @property
    def label(self) -> str:
        tau = "" if self.tau is None else f", τ={self.tau:g}"
        return f"{LABELS[self.algorithm]}{tau}, seed {self.seed_index}"


def plan_units(cfg: NetworkConfig, seed: int) -> list[Unit]:
    """Every run of the study: per seed, digital once, each analog algorithm at each τ."""
    units = []
    for i, s in enumerate(child_seeds(seed, cfg.n_seeds)):
        for alg in cfg.algorithms:
            for tau in ([None] if alg == "digital_sgd" else cfg.taus):
                units.append(Unit(alg, None if tau is None else float(tau), i, s))
    return units


def build_unit(cfg: NetworkConfig, unit: Unit, data: Dataset):
    """The model, optimizer and scheduler of a unit, and its data-order generator."""
    init_seed, order_seed, tile_seed = child_seeds(unit.seed, 3)
    model = build_network(cfg, data.image_shape, data.n_classes)
    init_parameters(model, torch_generator(init_seed))
    if unit.algorithm == "digital_sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.digital_lr)
    else:
        from ._network_analog import analog_model_and_optimizer

        model, optimizer = analog_model_and_optimizer(model, cfg, unit.algorithm, unit.tau, tile_seed)
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_step_epochs, cfg.lr_gamma)
                 if cfg.lr_step_epochs else None)
    return model, optimizer, scheduler, torch_generator(order_seed)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` on ``(x, y)``."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out = model(x[i:i + batch])
            loss += float(nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return loss / x.shape[0], 100.0 * correct / x.shape[0]


def _save(path: Path, model, optimizer, scheduler, **extra) -> None:
    from ..checkpoint import save_checkpoint

    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, optimizer, scheduler, **extra)


def _load(path: Path, model, optimizer, scheduler, order: torch.Generator, identity: dict) -> dict:
    from ..checkpoint import load_checkpoint

    return load_checkpoint(path, model, optimizer, scheduler, generators={"order": order},
                           identity=identity)


def checkpoint_path(ctx: RunContext, unit: Unit) -> Path:
    return ctx.out.path / "checkpoints" / f"{unit.key}.pt"


def train_unit(cfg: NetworkConfig, unit: Unit, data: Dataset, ctx: RunContext, task) -> dict:
    """Train one unit (resuming from its checkpoint when ``ctx.resume``); return its history."""
    model, optimizer, scheduler, order = build_unit(cfg, unit, data)
    path = checkpoint_path(ctx, unit)
    identity = {"experiment": ctx.experiment, "unit": unit.key, **dataclasses.asdict(unit)}
    n = data.train_x.shape[0]
    batches = math.ceil(n / cfg.batch_size)
    if ctx.resume and path.is_file():
        extra = _load(path, model, optimizer, scheduler, order, identity)
        ctx.resumed_from(extra.get("run_wall_time_s", 0.0))
        history = extra["history"]
        task.advance(batches * (len(history["epoch"]) - 1))
        if len(history["epoch"]) - 1 >= cfg.epochs:
            return history
    else:
        loss, acc = evaluate(model, data.test_x, data.test_y, cfg.eval_batch_size)
        history = {"epoch": [0], "train_loss": [float("nan")], "test_loss": [loss], "test_acc": [acc],
                   "seconds": [0.0]}
    for epoch in range(len(history["epoch"]), cfg.epochs + 1):
        start = time.perf_counter()
        perm = torch.randperm(n, generator=order)
        total = 0.0
        for b in range(batches):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * idx.numel()
            task.advance()
        check_finite(torch.tensor(total), f"{unit.label}: training loss", step=epoch * batches)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y, cfg.eval_batch_size)
        for key, value in (("epoch", epoch), ("train_loss", total / n), ("test_loss", test_loss),
                           ("test_acc", test_acc), ("seconds", time.perf_counter() - start)):
            history[key].append(value)
        _save(path, model, optimizer, scheduler, identity=identity, history=history, order=order,
              unit=dataclasses.asdict(unit), run_wall_time_s=ctx.wall_time_s())
    return history


# -- the study ---------------------------------------------------------------------------------

def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "seeds": [float(v) for v in arr]}


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


def len_or_all(n: int) -> int | str:
    return n if n else "all"


def run_study(cfg: NetworkConfig, ctx: RunContext, paper: dict | None = None,
              title: str = "") -> dict:
    """Run every unit (or read it back when resuming), write curves, figures and the report."""
    data = load_data(cfg)  # a missing dataset stops here, before any training
    units = plan_units(cfg, ctx.seed)
    batches = math.ceil(data.train_x.shape[0] / cfg.batch_size)
    histories: dict[str, dict] = {}
    for unit in units:  # before any training: a checkpoint path that cannot be written
        check_checkpoint_path(checkpoint_path(ctx, unit))
    for unit in units:  # one progress task per unit: each algorithm has its own rate
        with ctx.progress.task(cfg.epochs * batches, f"{title or 'training'}: {unit.label}") as task:
            histories[unit.key] = train_unit(cfg, unit, data, ctx, task)
    curves: dict[str, list] = {k: [] for k in ("algorithm", "tau", "seed", "epoch", "train_loss",
                                               "test_loss", "test_acc")}
    timings = {}
    for unit in units:
        h = histories[unit.key]
        for i, epoch in enumerate(h["epoch"]):
            for k, v in (("algorithm", unit.algorithm), ("tau", "" if unit.tau is None else unit.tau),
                         ("seed", unit.seed_index), ("epoch", epoch), ("train_loss", h["train_loss"][i]),
                         ("test_loss", h["test_loss"][i]), ("test_acc", h["test_acc"][i])):
                curves[k].append(v)
        timings[unit.key] = {"seconds_per_epoch": float(np.mean(h["seconds"][1:])) if len(h["seconds"]) > 1 else 0.0}
    ctx.out.write_curves("learning_curves", curves)
    ctx.out.write_json("timings.json", {"units": timings, "note": "wall-clock seconds per epoch "
                                        "(training and test evaluation); not part of metrics"})
    summary = summarise(cfg, units, histories)
    metrics = {"summary": summary, "dataset": {"name": data.name, "n_train": data.train_x.shape[0],
                                               "n_test": data.test_x.shape[0]},
               "final_test_accuracy_pct": {u.key: histories[u.key]["test_acc"][-1] for u in units}}
    from ._network_report import write_figures_and_report

    write_figures_and_report(cfg, units, histories, metrics, ctx.out, paper or {}, title)
    return metrics


#: the paper whose network results (Fig. 5) the network experiments reproduce
WU_2024 = ("Z. Wu, T. Gokmen, M. J. Rasch, T. Chen. Towards Exact Gradient-based Training on "
           "Analog In-memory Computing. NeurIPS 2024, arXiv:2406.12774")
FASHION_MNIST = "H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST. arXiv:1708.07747, 2017."


def network_experiment(name: str, description: str, full, quick, *, title: str,
                       references: tuple[str, ...], paper: dict | None = None) -> Experiment:
    """A network experiment: :func:`run_study` on the ``full()`` or ``quick()`` config, with
    :func:`check_data` run before the run folder is made; ``paper`` is the table the report
    compares with."""
    def run(cfg: NetworkConfig, ctx: RunContext) -> dict:
        return run_study(cfg, ctx, paper=paper, title=title)

    return Experiment(name=name, description=description, full=full, quick=quick, run=run,
                      check=check_data, references=references, checkpoints=True)
