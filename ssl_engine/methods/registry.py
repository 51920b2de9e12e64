"""The explicit method registry: adding a method is one file plus one line here."""

from __future__ import annotations

from ssl_engine.methods.barlow_twins import BarlowTwins
from ssl_engine.methods.base import Method
from ssl_engine.methods.byol import BYOL
from ssl_engine.methods.dae import DAE
from ssl_engine.methods.deepcluster import DeepCluster
from ssl_engine.methods.mae import MAE
from ssl_engine.methods.moco_v2 import MoCoV2
from ssl_engine.methods.simclr import SimCLR
from ssl_engine.methods.simsiam import SimSiam
from ssl_engine.methods.swav import SwAV
from ssl_engine.methods.vae import VAE
from ssl_engine.methods.vicreg import VICReg

METHODS: dict[str, type[Method]] = {
    "simclr": SimCLR,
    "moco_v2": MoCoV2,
    "byol": BYOL,
    "simsiam": SimSiam,
    "barlow_twins": BarlowTwins,
    "vicreg": VICReg,
    "swav": SwAV,
    "deepcluster": DeepCluster,
    "mae": MAE,
    "dae": DAE,
    "vae": VAE,
}


def get_method_class(name: str) -> type[Method]:
    """The class registered under ``name``; KeyError names the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {sorted(METHODS)}") from None
