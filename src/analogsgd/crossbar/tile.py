"""An analog tile: a device array (weights as conductances) with its two update modes.

Weights have shape ``(..., out_size, in_size)``; leading dimensions hold independent replicas
(for example one per learning rate of a sweep), all updated at once. The weight seen by the
algorithm is ``W − reference`` (the reference is the symmetric point when zero-shifting).

Update modes (:class:`UpdateConfig.mode`):

* ``expected``: the compact update of Eq. (6)–(7) of Wu et al. (NeurIPS 2024),
  W ← W + ΔW ⊙ F(W) − |ΔW| ⊙ G(W) (+ ζ), with the optional limited-state noise ζ of Lemma 1 of
  Li et al. (2025): E[ζ] = 0, Var[ζ] = |ΔW| Δw_min (1 − |ΔW|/(BL Δw_min)).
* ``pulsed``: pulses counted per element (stochastic pulse trains for rank-B outer products,
  :mod:`~analogsgd.crossbar.pulse_trains`; stochastic rounding for element-wise ΔW), applied with
  the device's pulse composition, cycle-to-cycle noise and bounds.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..config import POSITIVE, POSITIVE_INT, Config, InstanceOf, IsBool, OneOf, param
from ..devices.base import AbstractDevice
from ..devices.linear_step import SoftBounds
from ..devices.variation import DeviceArray, DeviceVariation
from ..errors import ConfigError
from ..rng import as_torch_generator, torch_generator
from . import fast_probabilities, fused, sparse, trains
from .periphery import PeripheryConfig, analog_mvm
from .pulse_trains import (
    COUNTING,
    UM_CLIP,
    batch_moments,
    pulse_probabilities,
    stochastic_pulse_counts,
)
from .replicas import check_lr, per_replica

log = logging.getLogger(__name__)

#: :attr:`UpdateConfig.kernel` values
KERNELS = ("auto", "sparse", "dense", "torch")
#: :attr:`AnalogTile.last_update_path` of the numba kernels (``kernel`` 'sparse', 'dense'; bit trains)
NUMBA_PATHS = {"sparse": "sparse-numba", "dense": "fused-numba", "trains": "trains-numba"}
#: what ``kernel="auto"`` stands for in this process (:func:`auto_kernel`): 'auto' itself (the
#: choice below) unless a run asks for one kernel for every tile (``analogsgd run
#: --update-kernel``)
_AUTO_KERNEL = ["auto"]


def auto_kernel(kind: str | None = None) -> str:
    """The kernel that tiles configured ``kernel="auto"`` take in this process, set to ``kind``
    (one of :data:`KERNELS`) when given; returns the value in force before. ``"dense"``
    reproduces the numbers of versions before the sparse kernel for a whole run."""
    before = _AUTO_KERNEL[0]
    if kind is not None:
        if kind not in KERNELS:
            raise ConfigError("update kernel", kind, "one of " + ", ".join(map(repr, KERNELS)))
        _AUTO_KERNEL[0] = kind
    return before


#: ``kernel="auto"`` takes the sparse kernel when SPARSE_BELOW × its expected work
#: (:func:`~analogsgd.crossbar.sparse.expected_work`: candidates plus passes) is at most the
#: tile's element count: timed on a 784×256 tile with synthetic batches of 1 to 64, a unit of
#: the (earlier) sparse kernel's work cost about 60 ns and an element of the dense kernel (with
#: its moment products) about 15 ns, so 8 keeps the sparse kernel where it is about 2× faster
#: (the current sparse kernel costs at most that per unit: its vectorised passes cap a pass)
SPARSE_BELOW = 8
#: up to this batch size 'auto' takes the sparse kernel whatever the work: its vectorised passes
#: bound the cost of a dense row (timed on the 784×256 layer of benchmarks/bench_networks.py, one
#: update with every row active: sparse 1.5 / 1.7 / 2.2 / 3.7 ms, dense 2.9 / 3.0 / 3.0 / 3.2 ms
#: at batch 8 / 10 / 16 / 32)
ROWS_UP_TO = 16


@dataclass(frozen=True)
class UpdateConfig(Config):
    """How a tile turns a desired update into conductance changes."""

    mode: str = param("pulsed", "update mode: 'expected' (compact form) or 'pulsed'",
                      OneOf(("expected", "pulsed")))
    desired_bl: int = param(31, "BL: maximal pulse-train length (slots) per sample", POSITIVE_INT)
    bl_management: bool = param(True, "shorten BL to ⌈lr·|x|max·|d|max/Δw_min⌉ per sample", IsBool())
    update_management: bool = param(True, "balance the row/column probabilities per sample", IsBool())
    um_grad_scale: float = param(1.0, "g: update management balances A max|x| = B g max|d|; also "
                                 "scales k = lr max|x| g max|d|/Δw_min (aihwkit um_grad_scale)",
                                 POSITIVE)
    um_clip: str = param("aihwkit", "update management where k > desired_bl: 'aihwkit' (x reaches "
                         "probability 1 at max|x|, only d clips) or 'both' (x and d both clip)",
                         OneOf(UM_CLIP))
    fixed_bl: bool = param(True, "without BL management: BL = desired_bl always (True, aihwkit's "
                           "default) or BL = ⌈lr/Δw_min⌉ with A = B = 1 when lr > Δw_min·desired_bl "
                           "(False)", IsBool())
    counting: str = param("moments", "pulse counting: 'moments' (fast) or 'bit_trains' (exact)",
                          OneOf(tuple(COUNTING)))
    max_pulses: int = param(800, "cap on pulses per element for element-wise updates (max BL)",
                            POSITIVE_INT)
    kernel: str = param("auto", "pulsed 'moments' update: 'auto' (numba when it imports and the "
                        "device family has a kernel, else torch; for the closed-form families "
                        "the sparse kernel up to batch 16 or when the batch has few "
                        "coincidences, else the dense one), 'sparse' (closed-form families; the "
                        "others take 'dense'), 'dense' (one draw per element from the batch "
                        "moments, the only fused kernel of earlier versions: their numbers) or "
                        "'torch'; a 'bit_trains' update of a closed-form family runs compiled "
                        "unless 'torch'", OneOf(KERNELS))
    quantisation_noise: bool = param(False, "expected mode: add ζ of Lemma 1 (Li et al. 2025)",
                                     IsBool())


@dataclass(frozen=True)
class TileConfig(Config):
    """A tile: its device, the spread across its devices, and its update."""

    device: AbstractDevice = param(SoftBounds(), "device model of every element",
                                   InstanceOf(AbstractDevice))
    variation: DeviceVariation = param(DeviceVariation(), "device-to-device and cycle-to-cycle spread",
                                       InstanceOf(DeviceVariation))
    update: UpdateConfig = param(UpdateConfig(), "update mode and pulse-train settings",
                                  InstanceOf(UpdateConfig))
    periphery: PeripheryConfig = param(PeripheryConfig.ideal(), "DAC/ADC, noise and noise/bound "
                                       "management of the forward and backward reads (default: "
                                       "exact reads)", InstanceOf(PeripheryConfig))


class _UpdatePath(NamedTuple):
    """The implementation choice of :meth:`AnalogTile.update` (:meth:`AnalogTile._choose_path`)."""

    numba: bool          #: a pulsed moments update on a numba kernel
    sparse: bool         #: ... which may be the sparse one
    trains: bool         #: a pulsed bit-train update on the compiled kernel
    quick: bool          #: p, q and BL from the numba pass (which checks finiteness)
    small: bool          #: a batch for the sparse kernel whatever its expected work
    fused: str | None    #: 'sparse' or 'trains': probabilities and draw in one compiled call


class AnalogTile:
    """A crossbar tile of ``shape = (..., out_size, in_size)`` devices.

    Args:
        shape: weight shape; leading dimensions are independent replicas.
        config: the tile's :class:`TileConfig`.
        generator: seeded generator (or an int seed, from which one is made on ``device``) for
            the device-to-device draws and every later update.
        devices: an already realised :class:`DeviceArray` (e.g. stacked replicas) to use
            instead of drawing one from ``config``.
    """

    def __init__(self, shape: tuple[int, ...], config: TileConfig, generator: torch.Generator | int,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                 devices: DeviceArray | None = None):
        self.shape = _tile_shape(shape)
        if not isinstance(config, TileConfig):
            raise ConfigError("AnalogTile.config", config, "a TileConfig")
        self.config = config
        self.generator = as_torch_generator(generator, "AnalogTile.generator", device)
        if devices is not None and (not isinstance(devices, DeviceArray)
                                    or tuple(devices.reference.shape) != self.shape):
            raise ConfigError("AnalogTile.devices", type(devices).__name__,
                              f"None or a DeviceArray of shape {self.shape}")
        self.devices = devices or DeviceArray.realise(config.device, self.shape, config.variation,
                                                    self.generator, dtype=dtype, device_str=device)
        self.conductance = self.devices.reference.clone()  # weight 0 = symmetric point when shifted
        #: which implementation ran the last pulsed update: 'sparse-numba', 'fused-numba' (the
        #: dense kernel), 'trains-numba' (compiled bit trains) or 'torch'
        self.last_update_path: str | None = None
        self._fused_cache: dict = {}
        self._zero_reference: tuple | None = None
        self._kernels_known: tuple | None = None
        self._path_known: tuple | None = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def weight(self) -> Tensor:
        """The weight the algorithm sees: conductance minus reference."""
        return self.conductance - self.devices.reference

    def set_weight(self, w: Tensor) -> None:
        """Program weights directly (clipped to the bounds), e.g. for an initialisation."""
        _check_tensor("AnalogTile.set_weight.w", w, self.shape)
        self.conductance = self.devices.clip(w.to(self.conductance) + self.devices.reference)

    def _read(self) -> Tensor:
        """The weight for a read (not to be modified): the conductance itself when the reference
        is zero, which saves a full pass per forward and backward."""
        if self._reference_is_zero():
            return self.conductance
        return self.conductance - self.devices.reference

    def _reference_is_zero(self) -> bool:
        """Whether the reference is all zero (looked at again only when it changed)."""
        ref = self.devices.reference
        known = self._zero_reference
        if known is None or known[0] is not ref or known[1] != ref._version:
            self._zero_reference = (ref, ref._version, not bool(ref.any()))
        return self._zero_reference[2]

    def read_columns(self, columns: Tensor) -> Tensor:
        """W[..., :, columns] (out_size × len(columns)): those columns of :attr:`weight`, the
        same numbers, without a pass over the whole array."""
        g = self.conductance.index_select(-1, columns)
        if self._reference_is_zero():
            return g
        return g - self.devices.reference.index_select(-1, columns)

    def forward(self, x: Tensor) -> Tensor:
        """y = x Wᵀ read through the forward periphery (:mod:`~analogsgd.crossbar.periphery`)."""
        _check_width("AnalogTile.forward.x", x, self.shape[-1], "in_size")
        return analog_mvm(x, self._read(), self.config.periphery.forward, self.generator,
                          kept=self._fused_cache)

    def backward(self, d: Tensor) -> Tensor:
        """z = d W read through the backward periphery (the same read with Wᵀ)."""
        _check_width("AnalogTile.backward.d", d, self.shape[-2], "out_size")
        return analog_mvm(d, self._read().transpose(-1, -2), self.config.periphery.backward,
                          self.generator, direction="backward", kept=self._fused_cache)

    # -- writing -------------------------------------------------------------------------------
    def update(self, x: Tensor, d: Tensor, lr: float | Tensor) -> None:
        """Apply ΔW = −lr · Σ_b d_bᵀ x_b (x: (..., B, in), d: (..., B, out)).

        The arguments are checked first (shapes, a learning rate >= 0, finite x and d: one
        reduction over each, or the numba probability pass), so that a wrong call is one
        ConfigError, not NaN weights. A pulsed ``moments`` update then runs on the sparse
        kernel (:mod:`.sparse`; ``kernel='auto'``: up to batch ``ROWS_UP_TO`` or at little
        expected work), the dense kernel (:mod:`.fused`) or the torch path; a ``bit_trains``
        update of a closed-form family on the compiled coincidence loop (:mod:`.trains`) unless
        ``kernel='torch'``."""
        self._check_update(x, d, lr, values=False)  # tensors of the right shapes, first
        cfg = self.config.update
        path = self._choose_path(x, d, lr)
        if not path.quick:  # the numba pass checks the values itself
            self._check_values(x, d)
        if cfg.mode == "expected":
            delta = -per_replica(lr, x) * (d.transpose(-1, -2) @ x)
            self._expected(delta)
            return
        if path.fused is not None:  # probabilities and draw in one compiled call
            self._update_fused(x, d, lr, path.fused)
            return
        if path.trains:  # bit trains of the closed-form families: the compiled coincidence loop
            self._update_trains(x, d, *self._probabilities(x, d, lr, path.quick, False)[:3])
            return
        p, q, bl, work = self._probabilities(x, d, lr, path.quick, path.sparse and not path.small)
        if path.sparse and (path.small or SPARSE_BELOW * work <= self.conductance.numel()):
            self._update_sparse(x, d, p, q, bl)
        elif path.numba:
            self._update_dense(x, d, p, q, bl)
        else:
            self._set_path("torch")
            counts = COUNTING[cfg.counting](x, d, p, q, bl, self.generator)
            self.conductance = self.devices.apply_pulses(self.conductance, counts.n_up,
                                                         counts.n_down, self.generator)

    def _choose_path(self, x: Tensor, d: Tensor, lr) -> _UpdatePath:
        """Which implementation :meth:`update` (x, d, lr) runs (x, d of checked shapes): the
        last choice while everything it depends on is the same (the tile's config object, the
        process's kernel choice and ``ROWS_UP_TO``, the kernels' fit to the device arrays, the
        conductance's and x's and d's shapes, float types, devices and gradient flags, whether lr
        is a tensor)."""
        w = self.conductance
        key = (self._kernels(), _AUTO_KERNEL[0], ROWS_UP_TO, x.shape, d.shape, w.shape, x.dtype,
               d.dtype, w.dtype, x.device, d.device, w.device, x.requires_grad, d.requires_grad,
               w.requires_grad, isinstance(lr, Tensor))
        known = self._path_known
        if known is not None and known[0] is self.config and known[1] == key:
            return known[2]
        path = self._path_for(x, d, lr)
        self._path_known = (self.config, key, path)
        return path

    def _path_for(self, x: Tensor, d: Tensor, lr) -> _UpdatePath:
        """:meth:`_choose_path`'s choice, worked out."""
        cfg = self.config.update
        kernel = cfg.kernel if cfg.kernel != "auto" else _AUTO_KERNEL[0]
        kernels, sparse_kernel = self._kernels()
        compiled = (cfg.mode == "pulsed" and kernel != "torch" and kernels
                    and fused.cpu_floats(self.conductance, x, d))
        numba = compiled and cfg.counting == "moments"
        sparse_ok = numba and kernel != "dense" and sparse_kernel
        trains_ok = compiled and cfg.counting == "bit_trains" and sparse_kernel
        quick = (sparse_ok or trains_ok) and fast_probabilities.supports(
            x, d, lr, cfg.bl_management, cfg.update_management, cfg.um_clip)
        small = kernel == "sparse" or x.shape[-2] <= ROWS_UP_TO
        one_call = None
        if quick and (trains_ok or small) and sparse.fuses(self.conductance, x, d):
            one_call = "trains" if trains_ok else "sparse"
        return _UpdatePath(numba, sparse_ok, trains_ok, quick, small, one_call)

    def _kernels(self) -> tuple[bool, bool]:
        """(the numba kernels apply to the device arrays and the conductance:
        fused.supports_devices and the shapes, the sparse one does: sparse.supports), cached while the device arrays and the
        conductance's shape stay the same (each check costs a few µs an update)."""
        d = self.devices
        key = (d, d.device, d.gain_up, d.gain_down, d.tau_min, d.tau_max)
        known = self._kernels_known
        if (known is None or known[1] != self.conductance.shape
                or any(a is not b for a, b in zip(known[0], key, strict=True))):
            ok = (fused.supports_devices(d) and self.conductance.shape == d.gain_up.shape)
            known = self._kernels_known = (key, self.conductance.shape,
                                           (ok, ok and sparse.supports(d)))
        return known[2]

    def _probabilities(self, x: Tensor, d: Tensor, lr, quick: bool, want_work: bool):
        """(p, q, BL, the sparse kernel's expected work or 0 when not wanted): from the numba
        pass where ``quick`` (which also checks that x and d are finite), else from torch's
        :func:`pulse_probabilities` (kernel='dense' always: bit for bit the numbers of earlier
        versions)."""
        cfg = self.config.update
        dw_min = self.devices.device.granularity
        if quick:
            p, q, bl, finite, work = fast_probabilities.probabilities(
                x, d, lr, dw_min, cfg.desired_bl, cfg.um_grad_scale)
            if not finite:
                _check_finite("AnalogTile.update", x=x, d=d)
            return p, q, bl, work
        p, q, bl = pulse_probabilities(x, d, lr, dw_min, cfg.desired_bl, cfg.bl_management,
                                       cfg.update_management, cfg.um_grad_scale,
                                       um_clip=cfg.um_clip, fixed_bl=cfg.fixed_bl)
        return p, q, bl, sparse.expected_work(p, q, bl) if want_work else 0.0

    def _update_dense(self, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor) -> None:
        self._set_path(NUMBA_PATHS["dense"])
        key = fused.draw_key(self.generator)
        if x.shape[-2] == 1 and 4 * int((p > 0).sum()) < p.numel():
            # sparse row (e.g. Tiki-Taka's one-hot column read): visit active elements only
            self.conductance = fused.apply_outer(self.conductance, x, d, p, q, bl, self.devices,
                                                 key, self._fused_cache)
            return
        buf = self._fused_cache.get("moments")
        shape = (4,) + tuple(self.conductance.shape)
        if buf is None or buf.shape != shape or buf.dtype != x.dtype:
            buf = self._fused_cache["moments"] = torch.empty(shape, dtype=x.dtype)
        batch_moments(x, d, p, q, bl, out=buf)
        self.conductance = fused.apply_moments(self.conductance, buf, self.devices, key,
                                               self._fused_cache)

    def _update_sparse(self, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor) -> None:
        self._set_path(NUMBA_PATHS["sparse"])
        self.conductance = sparse.apply_sparse(self.conductance, x, d, p, q, bl, self.devices,
                                               self._sparse_keys(), self._fused_cache)

    def _update_trains(self, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor) -> None:
        self._set_path(NUMBA_PATHS["trains"])
        if not self.conductance.is_contiguous():
            self.conductance = self.conductance.contiguous()
        self.conductance = trains.apply_trains(self.conductance, x, d, p, q, bl, self.devices,
                                               self._sparse_keys(), self._fused_cache)

    def _update_fused(self, x: Tensor, d: Tensor, lr: float, kind: str = "sparse") -> None:
        """Probabilities and the draw in one compiled call: the sparse kernel or (``kind``
        'trains') the bit-train kernel."""
        self._set_path(NUMBA_PATHS[kind])
        cfg = self.config.update
        if not self.conductance.is_contiguous():
            self.conductance = self.conductance.contiguous()
        update = sparse.update_sparse if kind == "sparse" else trains.update_trains
        if not update(self.conductance, x, d, lr, self.devices.device.granularity,
                      cfg.desired_bl, cfg.um_grad_scale, self.devices, self._sparse_keys(),
                      self._fused_cache):
            _check_finite("AnalogTile.update", x=x, d=d)

    def _sparse_keys(self) -> np.ndarray:
        """The two keys of a compiled update (the numbers of two ``fused.draw_key`` calls),
        drawn into an int64 buffer kept with the kernels' cache; returned as its uint64 view,
        the kernels' argument (always the same array, so the argument list stays cached)."""
        kept = self._fused_cache.get("keys")
        if kept is None:
            buf = torch.empty(2, dtype=torch.int64)
            kept = self._fused_cache["keys"] = (buf, buf.numpy().view(np.uint64))
        kept[0].random_(generator=self.generator)
        return kept[1]

    def _check_update(self, x: Tensor, d: Tensor, lr: float | Tensor, values: bool = True) -> None:
        out_size, in_size = self.shape[-2:]
        _check_width("AnalogTile.update.x", x, in_size, "in_size")
        _check_width("AnalogTile.update.d", d, out_size, "out_size")
        if x.shape[-2] != d.shape[-2]:
            raise ConfigError("AnalogTile.update.d", f"a tensor of shape {tuple(d.shape)}",
                              f"as many rows (batch B) as x {tuple(x.shape)}")
        lead = self.shape[:-2]
        if not (x.dim() == d.dim() == 2 or x.shape[:-2] == d.shape[:-2] == lead):
            try:
                lead = torch.broadcast_shapes(x.shape[:-2], d.shape[:-2], self.shape[:-2])
            except RuntimeError:
                lead = None
        if lead != self.shape[:-2]:
            raise ConfigError("AnalogTile.update.x", f"leading dimensions {tuple(x.shape[:-2])} "
                              f"and d {tuple(d.shape[:-2])}",
                              f"dimensions that broadcast to the tile's replicas {self.shape[:-2]}")
        check_lr("AnalogTile.update.lr", lr)
        if isinstance(lr, Tensor) and lr.dim() == 1 and lr.numel() > 1 and (
                len(self.shape) != 3 or lr.numel() != self.shape[0]):
            raise ConfigError("AnalogTile.update.lr", f"a tensor of {lr.numel()} learning rates",
                              f"one per replica of the tile's shape {tuple(self.shape)} (or one "
                              "number)")
        if values:  # (values=False: the caller checks the values itself)
            self._check_values(x, d)

    @staticmethod
    def _check_values(x: Tensor, d: Tensor) -> None:
        # one sum over x and one over d: NaN/inf in either makes it non-finite (12x cheaper than
        # an isfinite mask at B = 64); only then the exact scan, which also tells an overflow of
        # the sum of finite values (accepted) from a non-finite entry
        if not bool(torch.isfinite(x.sum() + d.sum())):
            _check_finite("AnalogTile.update", x=x, d=d)

    def _set_path(self, path: str) -> None:
        if path != self.last_update_path:
            log.debug("AnalogTile%s pulsed update runs on the %s path", self.shape, path)
        self.last_update_path = path

    def apply(self, delta: Tensor) -> None:
        """Apply an element-wise desired update ΔW (App. B of Wu et al. 2024)."""
        _check_tensor("AnalogTile.apply.delta", delta, self.shape)
        if self.config.update.mode == "expected":
            self._expected(delta)
            return
        counts = stochastic_pulse_counts(delta, self.devices.device.granularity,
                                         self.config.update.max_pulses, self.generator)
        self.conductance = self.devices.apply_pulses(self.conductance, counts.n_up, counts.n_down,
                                                     self.generator)

    def _expected(self, delta: Tensor) -> None:
        w = self.conductance
        new = w + delta * self.devices.F(w) - delta.abs() * self.devices.G(w)
        if self.config.update.quantisation_noise:
            new = new + self.quantisation_noise(delta)
        self.conductance = self.devices.clip(new)

    def quantisation_noise(self, delta: Tensor) -> Tensor:
        """ζ of Lemma 1 (Li et al. 2025): Var = |ΔW| Δw_min (1 − |ΔW|/(BL Δw_min)), mean 0."""
        dw = self.devices.device.dw_min
        bl = self.config.update.max_pulses
        mag = delta.abs()
        var = (mag * dw * (1.0 - mag / (bl * dw))).clamp(min=0.0)
        z = torch.randn(delta.shape, generator=self.generator, dtype=delta.dtype, device=delta.device)
        return var.sqrt() * z

    # -- placement -----------------------------------------------------------------------------
    def map_arrays(self, fn) -> None:
        """Apply ``fn`` (a ``Module._apply`` function: ``.to``, ``.cuda``, ``.double`` …) to every
        array of the tile, dropping what was cached for the old arrays.

        A generator cannot change device: a tile moved to another device gets a new generator
        there, seeded from one draw of its old generator (deterministic, but a different stream).
        """
        d = self.devices
        self.devices = DeviceArray(d.device, fn(d.gain_up), fn(d.gain_down), fn(d.tau_min),
                                   fn(d.tau_max), d.dw_min_c2c, fn(d.reference))
        self.conductance = fn(self.conductance)
        self._fused_cache = {}
        self._zero_reference = None
        self._kernels_known = None
        self._path_known = None
        target = self.conductance.device
        if torch.device(self.generator.device).type != target.type:
            seed = int(torch.randint(0, 2**62, (1,), generator=self.generator,
                                     device=self.generator.device).item())
            self.generator = torch_generator(seed, target)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        d = self.devices
        return {"conductance": self.conductance.clone(), "gain_up": d.gain_up.clone(),
                "gain_down": d.gain_down.clone(), "tau_min": d.tau_min.clone(),
                "tau_max": d.tau_max.clone(), "reference": d.reference.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        d = self.devices
        for name in ("gain_up", "gain_down", "tau_min", "tau_max", "reference"):
            setattr(d, name, state[name].clone())
        self.conductance = state["conductance"].clone()
        self.generator.set_state(state["generator"])


def _tile_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of ints >= 1, at least (out_size, in_size); no float is truncated."""
    allowed = "(..., out_size, in_size) of at least two integers >= 1"
    try:
        dims = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise ConfigError("AnalogTile.shape", shape, allowed) from None
    if len(dims) < 2 or any(s < 1 for s in dims):
        raise ConfigError("AnalogTile.shape", shape, allowed)
    return dims


def _check_finite(where: str, **tensors: Tensor) -> None:
    """One ConfigError naming the first tensor with a NaN or inf entry."""
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise ConfigError(f"{where}.{name}", _non_finite(t), "finite values",
                              "A NaN or inf input turns every weight it touches NaN.")


def _non_finite(t: Tensor) -> str:
    return f"a tensor with {int((~torch.isfinite(t)).sum())} of {t.numel()} entries NaN or inf"


def _check_width(name: str, t: Tensor, width: int, what: str) -> None:
    """A tensor (..., B, width): at least two dimensions, the last one ``width``."""
    if not isinstance(t, Tensor) or t.dim() < 2 or t.shape[-1] != width:
        got = f"a tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else t
        raise ConfigError(name, got, f"a tensor (..., B, {width}) (the tile's {what} = {width})",
                          "x has the tile's in_size columns, d its out_size columns.")


def _check_tensor(name: str, t: Tensor, shape: tuple[int, ...]) -> None:
    """A finite tensor that broadcasts to ``shape``."""
    if not isinstance(t, Tensor):
        raise ConfigError(name, t, f"a tensor broadcastable to {shape}")
    try:
        ok = torch.broadcast_shapes(t.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ConfigError(name, f"a tensor of shape {tuple(t.shape)}", f"a tensor broadcastable to {shape}")
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(name, _non_finite(t), "finite values")
