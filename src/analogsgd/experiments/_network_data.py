"""The data of a network study: the (seeded subset of the) dataset its config names.

No cache: the command line's ``check`` hook loads the data once to stop a missing or malformed
dataset before the run folder exists, and the run loads them again (about a second for
Fashion-MNIST), so nothing loaded outlives the call that loaded it.
"""

from __future__ import annotations

from ..datasets import Dataset, load


def load_data(cfg) -> Dataset:
    """The dataset of ``cfg`` (a :class:`~._network_common.NetworkConfig`), cut to its
    ``n_train``/``n_test`` subset drawn with ``subset_seed``."""
    return load(cfg.dataset, cfg.data_path or None).subset(cfg.n_train, cfg.n_test,
                                                           seed=cfg.subset_seed)


def check_data(cfg) -> None:
    """Load the data of ``cfg`` and drop them (missing files, malformed files, subsets larger
    than a split raise here): the ``check`` hook of the network experiments."""
    load_data(cfg)
