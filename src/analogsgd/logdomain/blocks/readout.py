"""Read-out of a stored weight: ``w = (g⁺ I⁺ − g⁻ I⁻)/I_u``, optionally through an ADC.

The two halves of a class-AB pair are copied by devices whose gates follow the storage
capacitor, one is inverted by a mirror and the difference taken at a node (KCL), measured in
units of ``I_u`` (for offset coding pass ``I_B`` as the second current). An ``adc_bits`` > 0 rounds to a uniform grid over ±full_scale.
"""

from __future__ import annotations

import numpy as np

#: two copy devices + 2-T subtraction mirror
TRANSISTORS = 4


def read_weight(i_pos, i_neg, i_u, gain_pos=1.0, gain_neg=1.0, adc_bits: int = 0, full_scale=4.0):
    """Weight value of a cell current (dimensionless)."""
    w = (gain_pos * np.asarray(i_pos) - gain_neg * np.asarray(i_neg)) / i_u
    if adc_bits > 0:
        lsb = 2.0 * full_scale / 2 ** adc_bits
        w = np.clip(np.rint(w / lsb) * lsb, -full_scale, full_scale - lsb)
    return w
