"""KCL summing and subtraction, and the class-AB split of a signed current.

Summing is a wire (Kirchhoff's current law, 0 transistors); subtraction is a sum with one
term inverted by a mirror. A signed current ``i`` (e.g. the error ``I_ŷ − I_y``) cannot enter
a log-domain block; the translinear class-AB splitter (Seevinck) produces two positive
currents with

.. math:: I^+ - I^- = i, \\qquad I^+ I^- = I_q^2 \\;\\Rightarrow\\;
          I^\\pm = \\tfrac12\\big(\\sqrt{i^2 + 4 I_q^2} \\pm i\\big),

smooth through zero, with the quiescent current ``I_q`` as the floor of both halves.
"""

from __future__ import annotations

import numpy as np

#: translinear class-AB splitter (4-T loop + 2 output mirrors' output devices)
TRANSISTORS_SPLITTER = 6
TRANSISTORS_SUM = 0


def current_sum(*currents):
    """Σ I (A): a node."""
    total = 0.0
    for c in currents:
        total = total + np.asarray(c)
    return total


def subtract(i_a, i_b, mirror_gain=1.0):
    """I_a − g·I_b (A): I_b inverted by a mirror of gain g and summed at a node."""
    return np.asarray(i_a) - mirror_gain * np.asarray(i_b)


def class_ab_split(i, i_q, gain_pos=1.0, gain_neg=1.0):
    """(I⁺, I⁻) = g±·½(√(i² + 4I_q²) ± i) (A); I⁺I⁻ = I_q², I⁺ − I⁻ = i when g± = 1."""
    i = np.asarray(i)
    root = np.sqrt(i * i + 4.0 * i_q * i_q)
    return gain_pos * 0.5 * (root + i), gain_neg * 0.5 * (root - i)
