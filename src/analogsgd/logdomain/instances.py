"""Per-instance circuit parameters: the design's values, mapped hyperparameters, temperature and
Pelgrom mismatch per transistor turned into the gain of each block, as arrays of shape
``(M, P)`` (instances × parameters, ``P = n_features + 1`` with the bias last).

Mismatch mapping (docs/logdomain.md §6): every block's gain is computed from per-transistor
(ΔV_T, δβ) draws by :func:`~.blocks.translinear.loop_gain` or
:func:`~.blocks.mirror.mirror_gain`; DAC bits get their own relative errors. All draws come
from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .accelerator import LogDomainDesign
from .blocks import leak as leak_block
from .blocks import sample_hold
from .blocks.mirror import mirror_gain
from .blocks.translinear import SIGNS_4, SIGNS_6, loop_gain
from .mapping import circuit_values
from .transistor import celsius_to_kelvin, draw_mismatch, pelgrom_sigmas, thermal_voltage


@dataclass(frozen=True)
class CircuitParams:
    """Arrays describing M circuit instances of a P-parameter regressor (bias last)."""

    n_ut: np.ndarray      # (M, 1) n·U_T, V
    i_s_pos: np.ndarray   # (M, P) I⁺ = i_s_pos·exp(+V/n_ut) + i_floor
    i_s_neg: np.ndarray   # (M, P) I⁻ = i_s_neg·exp(−V/n_ut) + i_floor
    i_floor: float
    c_f: np.ndarray       # (M, P)
    i_u: float
    i_tau: np.ndarray     # (M, P)
    i_lambda: np.ndarray  # (M, P) (0 for the bias)
    i_leak: np.ndarray    # (M, P)
    hold_s: np.ndarray    # (M,)
    eta: np.ndarray       # (M,) nominal hyperparameters
    lam: np.ndarray       # (M,)
    i_qx: float
    i_qe: float
    g_pp: np.ndarray       # (M, P) multiplier I⁺·x⁺ → ŷ⁺
    g_pn: np.ndarray       # (M, P) multiplier I⁺·x⁻ → ŷ⁻
    g_np: np.ndarray       # (M, P) multiplier I⁻·x⁺ → ŷ⁻
    g_nn: np.ndarray       # (M, P) multiplier I⁻·x⁻ → ŷ⁺
    g_y_pos: np.ndarray    # (M,)
    g_y_neg: np.ndarray    # (M,)
    g_e_pos: np.ndarray    # (M,)
    g_e_neg: np.ndarray    # (M,)
    g_a: np.ndarray        # (M, P) source e⁻x⁺
    g_b: np.ndarray        # (M, P) source e⁺x⁻
    g_c: np.ndarray        # (M, P) sink e⁺x⁺
    g_d: np.ndarray        # (M, P) sink e⁻x⁻
    g_leak_pos: np.ndarray  # (M, P) divider I_λ I⁺/(I⁺+I⁻) (sink)
    g_leak_neg: np.ndarray  # (M, P) divider I_λ I⁻/(I⁺+I⁻) (source)
    g_read_pos: np.ndarray  # (M, P)
    g_read_neg: np.ndarray  # (M, P)
    dac_err_x: np.ndarray | None  # (M, N, bits-1) or None
    dac_err_y: np.ndarray | None  # (M, bits-1) or None
    dac_bits: int
    x_full_scale: float
    adc_bits: int
    noise: bool
    chop: bool = False

    def chopped(self, k: int) -> CircuitParams:
        """The parameters during hold ``k`` when the gradient paths are chopped.

        Dynamic element matching: the four physical multiplier/divider paths (each a loop and
        its output mirror) rotate through the four quadrant roles (source e⁻x⁺, source e⁺x⁻,
        sink e⁺x⁺, sink e⁻x⁻) from one hold to the next, with the capacitor and input
        polarities swapped accordingly, so that every role sees the mean path gain over four holds.
        """
        if not self.chop:
            return self
        g = (self.g_a, self.g_b, self.g_c, self.g_d)
        r = k % 4
        return replace(self, g_a=g[r], g_b=g[(r + 1) % 4], g_c=g[(r + 2) % 4], g_d=g[(r + 3) % 4])

    @property
    def shape(self) -> tuple[int, int]:
        return self.i_s_pos.shape

    def take(self, idx) -> CircuitParams:
        """The instances ``idx`` (a slice or index array) as a new CircuitParams."""
        changes = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                changes[f.name] = v[idx]
        return replace(self, **changes)


def build_instances(design: LogDomainDesign, n_features: int, eta, lam, *, temp_c=None,
                    mismatch: bool = False, noise: bool = True,
                    rng: np.random.Generator | None = None) -> CircuitParams:
    """M instances; ``eta``, ``lam``, ``temp_c`` broadcast to (M,). Mismatch needs ``rng``."""
    eta = np.atleast_1d(np.asarray(eta, dtype=float))
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    temp_c = np.atleast_1d(np.asarray(design.temp_c if temp_c is None else temp_c, dtype=float))
    M = int(max(eta.size, lam.size, temp_c.size))
    eta, lam, temp_c = (np.broadcast_to(a, (M,)).copy() for a in (eta, lam, temp_c))
    P = n_features + 1
    mos = design.mos
    temp_k = np.array([celsius_to_kelvin(t) for t in temp_c])
    n_ut = (mos.n * thermal_voltage(temp_k))[:, None]

    hold = np.empty(M)
    i_tau = np.empty((M, P))
    i_lam = np.zeros((M, P))
    cache: dict = {}
    for m in range(M):
        key = (eta[m], lam[m], temp_c[m])
        if key not in cache:
            cache[key] = circuit_values(design, float(eta[m]), float(lam[m]), float(temp_c[m]))
        cv = cache[key]
        hold[m] = cv.hold_time_s
        i_tau[m] = cv.i_tau_a
        i_lam[m, :-1] = cv.i_lambda_a  # the bias is not regularised

    if mismatch and rng is None:
        raise ValueError("mismatch=True needs a seeded np.random.Generator `rng`")

    def draw(shape, w, l):
        if not mismatch:
            return np.zeros(shape), np.zeros(shape)
        return draw_mismatch(mos, w, l, shape, rng)

    wt, lt = design.w_tl_um, design.l_tl_um

    def loops(k, signs):
        dv, db = draw((M, P, len(signs)), wt, lt)
        return loop_gain(dv, db, signs, n_ut)

    def mirrors(shape):
        dv, db = draw(shape + (2,), wt, lt)
        nu = n_ut.reshape((M,) + (1,) * (len(shape) - 1))
        return mirror_gain(dv, db, nu)

    g_pp, g_pn, g_np, g_nn = (loops(4, SIGNS_4) for _ in range(4))
    g_a, g_b, g_c, g_d = (loops(6, SIGNS_6) for _ in range(4))
    g_c = g_c * mirrors((M, P))  # the sink path goes through one more mirror
    g_d = g_d * mirrors((M, P))
    g_lp = loops(4, SIGNS_4) * mirrors((M, P))  # the sinking divider's output is mirrored
    g_ln = loops(4, SIGNS_4)
    g_rp, g_rn = mirrors((M, P)), mirrors((M, P))
    g_yp, g_yn = mirrors((M, 1))[:, 0], mirrors((M, 1))[:, 0]
    g_ep, g_en = mirrors((M, 1))[:, 0], mirrors((M, 1))[:, 0]

    # the pair's halves at V = 0 carry I_qw times their mismatch (ΔV_T, δβ of each storage device)
    dv_p, db_p = draw((M, P), design.w_storage_um, design.l_storage_um)
    dv_n, db_n = draw((M, P), design.w_storage_um, design.l_storage_um)
    i_s_pos = design.i_qw_a * (1 + db_p) * np.exp(-dv_p / n_ut)
    i_s_neg = design.i_qw_a * (1 + db_n) * np.exp(-dv_n / n_ut)

    dac_x = dac_y = None
    if mismatch:
        s_vt, _ = pelgrom_sigmas(mos, design.w_dac_um, design.l_dac_um)
        sig = s_vt / float(np.mean(n_ut))
        dac_x = sample_hold.bit_errors(sig, design.dac_bits, (M, n_features), rng)
        dac_y = sample_hold.bit_errors(sig, design.dac_bits, (M,), rng)

    i_leak = np.broadcast_to(leak_block.junction_leakage(
        design.i_leak_a, temp_k, celsius_to_kelvin(27.0), design.leak_doubling_k)[:, None],
        (M, P)).copy()
    return CircuitParams(
        n_ut=n_ut, i_s_pos=i_s_pos, i_s_neg=i_s_neg, i_floor=design.i_floor_a,
        c_f=np.full((M, P), design.c_w_f),
        i_u=design.i_u_a, i_tau=i_tau, i_lambda=i_lam, i_leak=i_leak,
        hold_s=hold, eta=eta, lam=lam, i_qx=design.i_qx_a, i_qe=design.i_qe_a,
        g_pp=g_pp, g_pn=g_pn, g_np=g_np, g_nn=g_nn, g_y_pos=g_yp,
        g_y_neg=g_yn, g_e_pos=g_ep, g_e_neg=g_en, g_a=g_a, g_b=g_b, g_c=g_c, g_d=g_d,
        g_leak_pos=g_lp, g_leak_neg=g_ln, g_read_pos=g_rp, g_read_neg=g_rn,
        dac_err_x=dac_x, dac_err_y=dac_y, dac_bits=design.dac_bits,
        x_full_scale=design.x_full_scale, adc_bits=design.adc_bits, noise=noise,
        chop=design.chop_gradient)
