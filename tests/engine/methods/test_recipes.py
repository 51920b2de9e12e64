"""Every method's training recipe is the reference it cites, converted to lr per 256.

Reference values, per 256 images (lightly's CIFAR-10 benchmark scales its rates by
batch / 128, so its 6e-2 is 0.12 here): lightly 1.5
docs/source/getting_started/benchmarks/cifar10_benchmark.py; solo-learn
scripts/pretrain/cifar/<method>.yaml (10 warm-up epochs of 1,000, LARS eta 0.02 with
clip_lr); VICReg, absent from both CIFAR sets of lightly, its Imagenette benchmark;
DeeperCluster, in neither, its authors' training script; ClusterFit, VISSL's configuration.
Methods whose default is a measured deviation cite bench/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from ssl_engine.methods.base import OptimizerDefaults
from ssl_engine.methods.registry import METHODS

LIGHTLY = "cifar10_benchmark.py"
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "simclr": (
        "simclr.yaml",
        {
            "name": "lars",
            "lr": 0.4,
            "weight_decay": 1e-4,
            "trust_coefficient": 0.02,
            "clip_lr": True,
            "warmup_fraction": 0.01,
        },
    ),
    "moco_v2": (LIGHTLY, {"name": "sgd", "lr": 0.12, "weight_decay": 5e-4, "warmup_fraction": 0}),
    "byol": (LIGHTLY, {"name": "sgd", "lr": 0.06, "weight_decay": 5e-4, "warmup_fraction": 0}),
    "swav": (LIGHTLY, {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-6, "warmup_fraction": 0}),
    "vicreg": (
        "imagenette_benchmark.py",
        {
            "name": "lars",
            "lr": 0.3,
            "weight_decay": 1e-4,
            "trust_coefficient": 0.001,
            "clip_lr": False,
            "warmup_fraction": 0.1,
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
    "deepercluster": (
        "DeeperCluster main.py",
        {"name": "sgd", "lr": 0.1, "weight_decay": 1e-5, "momentum": 0.9, "warmup_fraction": 0},
    ),
    "clusterfit": (
        "clusterfit_resnet_8gpu_imagenet.yaml",
        {"name": "sgd", "lr": 0.1, "weight_decay": 1e-4, "momentum": 0.9, "warmup_fraction": 0.048},
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
    "simclr": {"temperature": 0.2, "projection_dim": 256, "projection_hidden_dim": 2048},
    "moco_v2": {"temperature": 0.1, "queue_size": 4096, "momentum": 0.99, "num_splits": 8},
    "byol": {"base_momentum": 0.99, "projection_dim": 256},
    "simsiam": {"projection_layers": 2, "predictor_hidden_dim": 512},
    "swav": {"temperature": 0.1, "queue_length": 0, "num_prototypes": 512},
    "deepcluster": {"num_clusterings": 3, "num_clusters": None, "temperature": 0.1},
    "deepercluster": {
        "num_super_clusters": 1,
        "predict_rotation": True,
        "recluster_every_epochs": 3,
        "pca_dim": 256,
        "kmeans_iterations": 10,
    },
    "clusterfit": {"num_clusters": None, "kmeans_iterations": 50},
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


def test_a_lars_recipe_without_clip_lr_has_the_papers_small_trust_coefficient() -> None:
    """Without clip_lr a layer moves by lr * eta of its norm, so eta must be small (You et
    al.'s 0.001); with it, by eta, which solo-learn sets to 0.02."""
    for method in METHODS.values():
        defaults: OptimizerDefaults = method.optimizer_defaults
        if defaults.name == "lars":
            expected = 0.02 if defaults.clip_lr else 0.001
            assert defaults.trust_coefficient == expected, method.name
