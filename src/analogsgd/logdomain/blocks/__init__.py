"""Log-domain circuit blocks, each a documented function of currents with its transistor count.

Every block module exposes ``TRANSISTORS`` (MOS devices per instance of the block) and pure
functions of currents; mismatch enters as multiplicative gains computed from per-transistor
Pelgrom draws (:func:`translinear.loop_gain`, :func:`mirror.mirror_gain`).
"""

from . import bernoulli_cell, kcl, leak, mirror, readout, sample_hold, translinear

#: transistor count of every block, by name (see each module for the breakdown)
TRANSISTOR_COUNTS = {
    "bernoulli_cell": bernoulli_cell.TRANSISTORS,
    "multiplier": translinear.TRANSISTORS_MULTIPLIER,
    "multiplier_divider": translinear.TRANSISTORS_MULTIPLIER_DIVIDER,
    "mirror": mirror.TRANSISTORS,
    "class_ab_splitter": kcl.TRANSISTORS_SPLITTER,
    "leak": leak.TRANSISTORS,
    "readout": readout.TRANSISTORS,
}

__all__ = [
    "TRANSISTOR_COUNTS",
    "bernoulli_cell",
    "kcl",
    "leak",
    "mirror",
    "readout",
    "sample_hold",
    "translinear",
]
