"""Which registry methods ``bench/quality_lightly.py`` can train with lightly's implementation.

A module of its own, without lightly, so ``bench/quality.py`` (the project's ``.venv``,
where lightly is not installed) knows the peer's methods without importing the peer.
``bench/quality_lightly_recipes.py`` holds one recipe for each name here.
"""

from __future__ import annotations

# Registry names, in the order of lightly's CIFAR-10 benchmark table; VICReg and MAE
# follow lightly's Imagenette benchmark (its CIFAR-10 benchmark has neither).
LIGHTLY_METHODS: tuple[str, ...] = (
    "simclr",
    "moco_v2",
    "byol",
    "simsiam",
    "barlow_twins",
    "vicreg",
    "swav",
    "mae",
)
