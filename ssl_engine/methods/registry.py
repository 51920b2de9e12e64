"""The explicit method registry: adding a method is one file plus its class in the tuple here."""

from __future__ import annotations

from ssl_engine.methods.barlow_twins import BarlowTwins
from ssl_engine.methods.base import Method
from ssl_engine.methods.byol import BYOL
from ssl_engine.methods.clusterfit import ClusterFit
from ssl_engine.methods.dae import DAE
from ssl_engine.methods.deepcluster import DeepCluster
from ssl_engine.methods.deepercluster import DeeperCluster
from ssl_engine.methods.mae import MAE
from ssl_engine.methods.moco_v2 import MoCoV2
from ssl_engine.methods.simclr import SimCLR
from ssl_engine.methods.simsiam import SimSiam
from ssl_engine.methods.swav import SwAV
from ssl_engine.methods.vae import VAE
from ssl_engine.methods.vicreg import VICReg

# Each class states its own name; the registry keys by it, in the order GET /v1/methods lists.
METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        SimCLR,
        MoCoV2,
        BYOL,
        SimSiam,
        BarlowTwins,
        VICReg,
        SwAV,
        DeepCluster,
        DeeperCluster,
        ClusterFit,
        MAE,
        DAE,
        VAE,
    )
}
