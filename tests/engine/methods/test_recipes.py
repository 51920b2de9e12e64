"""Every method's training recipe is the reference it cites, converted to lr per 256.

Reference values, per 256 images (lightly's CIFAR-10 benchmark scales its rates by
batch / 128, so its 6e-2 is 0.12 here): lightly 1.5
docs/source/getting_started/benchmarks/cifar10_benchmark.py; solo-learn
scripts/pretrain/cifar/<method>.yaml (10 warm-up epochs of 1,000, LARS eta 0.02 with
clip_lr). Methods whose default is a measured deviation cite bench/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from ssl_engine.methods.base import OptimizerDefaults
from ssl_engine.methods.registry import METHODS

LIGHTLY = "cifar10_benchmark.py"
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "simclr": (LIGHTLY, {"name": "sgd", "lr": 0.12, "weight_decay": 5e-4, "warmup_fraction": 0}),
    "moco_v2": (LIGHTLY, {"name": "sgd", "lr": 0.12, "weight_decay": 5e-4, "warmup_fraction": 0}),
    "byol": (LIGHTLY, {"name": "sgd", "lr": 0.12, "weight_decay": 5e-4, "warmup_fraction": 0}),
    "swav": (LIGHTLY, {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-6, "warmup_fraction": 0}),
    "vicreg": (
        "vicreg.yaml",
        {
            "name": "lars",
            "lr": 0.3,
            "weight_decay": 1e-4,
            "trust_coefficient": 0.02,
            "clip_lr": True,
            "warmup_fraction": 0.01,
        },
    ),
    "deepcluster": (
        "deepclusterv2.yaml",
        {
            "name": "lars",
            "lr": 0.6,
            "weight_decay": 1e-6,
            "trust_coefficient": 0.02,
            "clip_lr": True,
            "warmup_fraction": 0.011,
        },
    ),
    "mae": (
        "mae.yaml",
        {"name": "adamw", "lr": 2e-4, "weight_decay": 0.05, "betas": (0.9, 0.95)},
    ),
    "simsiam": ("RESULTS.md", {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4}),
    "barlow_twins": ("RESULTS.md", {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4}),
    "dae": ("no reference", {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0}),
    "vae": ("no reference", {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0}),
}
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "simclr": {"temperature": 0.5, "projection_dim": 128},  # lightly: NTXentLoss() default
    "moco_v2": {"temperature": 0.1, "queue_size": 4096, "momentum": 0.99, "num_splits": 8},
    "byol": {"base_momentum": 0.99, "projection_dim": 256},
    "simsiam": {"projection_layers": 2, "predictor_hidden_dim": 512},
    "swav": {"temperature": 0.1, "queue_length": 3840, "queue_start_fraction": 0.05},
    "deepcluster": {"num_clusterings": 3, "num_clusters": None, "temperature": 0.1},
    "vicreg": {"invariance_weight": 25.0, "variance_weight": 25.0, "covariance_weight": 1.0},
    "mae": {"mask_ratio": 0.75, "normalize_target": True},
}


def test_every_method_has_a_recipe_here() -> None:
    assert set(RECIPES) == set(METHODS)


@pytest.mark.parametrize("method", sorted(RECIPES))
def test_the_default_recipe_is_the_cited_one(method: str) -> None:
    source, expected = RECIPES[method]
    defaults = METHODS[method].optimizer_defaults
    assert {key: asdict(defaults)[key] for key in expected} == expected
    assert source in defaults.source


@pytest.mark.parametrize("method", sorted(HYPERPARAMETERS))
def test_the_default_hyperparameters_are_the_recipes(method: str) -> None:
    hparams = METHODS[method].hyperparameters_model()
    expected = HYPERPARAMETERS[method]
    assert {key: getattr(hparams, key) for key in expected} == expected


def test_lars_recipes_clip_their_rates_with_solo_learns_trust_coefficient() -> None:
    for method in METHODS.values():
        defaults: OptimizerDefaults = method.optimizer_defaults
        if defaults.name == "lars":
            assert (defaults.trust_coefficient, defaults.clip_lr) == (0.02, True), method.name
