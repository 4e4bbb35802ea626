"""Read-out of a stored weight: ``w = (g_w I_w − g_B I_B)/I_u``, optionally through an ADC.

The stored current is copied by a transistor whose gate sits on the storage capacitor, the
reference ``I_B`` is subtracted by a mirror at a node (KCL), and the difference is measured in
units of ``I_u``. An ``adc_bits`` > 0 rounds to a uniform grid over ±full_scale.
"""

from __future__ import annotations

import numpy as np

#: copy device + 2-T subtraction mirror
TRANSISTORS = 3


def read_weight(i_w, i_ref, i_u, gain_w=1.0, gain_ref=1.0, adc_bits: int = 0, full_scale=4.0):
    """Weight value of a cell current (dimensionless)."""
    w = (gain_w * np.asarray(i_w) - gain_ref * np.asarray(i_ref)) / i_u
    if adc_bits > 0:
        lsb = 2.0 * full_scale / 2 ** adc_bits
        w = np.clip(np.rint(w / lsb) * lsb, -full_scale, full_scale - lsb)
    return w
