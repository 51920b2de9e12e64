"""A recipe: its model-card form, and building a method from it."""

from __future__ import annotations

import json

import pydantic
import pytest

from ssl_engine.factory import build_method
from ssl_engine.methods.simclr import SimCLR
from ssl_engine.recipe import Recipe


def test_the_card_has_the_keys_cards_always_had_and_reads_back() -> None:
    recipe = Recipe("simclr", "tiny_cnn", 16, {"temperature": 0.2})
    card = recipe.to_card()

    assert card == {
        "method": "simclr",
        "backbone": "tiny_cnn",
        "image_size": 16,
        "hyperparameters": {"temperature": 0.2},
    }
    assert Recipe.from_card(json.loads(json.dumps(card))) == recipe


def test_a_card_with_more_keys_reads_back_its_recipe() -> None:
    card = {**Recipe("byol", "tiny_cnn", 32).to_card(), "job_id": "j", "dataset_id": "d"}
    assert Recipe.from_card(card) == Recipe("byol", "tiny_cnn", 32)


def test_a_parent_model_and_processes_round_trip_when_set() -> None:
    recipe = Recipe("simclr", "tiny_cnn", 16, parent_model_id="m1", processes=4)
    card = recipe.to_card()
    assert (card["parent_model_id"], card["processes"]) == ("m1", 4)
    assert Recipe.from_card(card) == recipe


def test_the_recipe_keeps_its_own_copy_of_the_hyperparameters() -> None:
    hyperparameters = {"temperature": 0.2}
    recipe = Recipe("simclr", "tiny_cnn", 16, hyperparameters)
    hyperparameters["temperature"] = 0.9
    assert recipe.hyperparameters == {"temperature": 0.2}


def test_processes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="processes must be >= 1"):
        Recipe("simclr", "tiny_cnn", 16, processes=0)


def test_build_method_builds_the_recipe() -> None:
    method = build_method(Recipe("simclr", "tiny_cnn", 16, {"temperature": 0.3}))
    assert isinstance(method, SimCLR)
    assert method.hparams.temperature == 0.3


@pytest.mark.parametrize(
    ("recipe", "error", "message"),
    [
        (Recipe("simclr2", "tiny_cnn", 16), ValueError, r"unknown method 'simclr2'; known: "),
        (Recipe("simclr", "vit_b_16", 16), ValueError, r"allowed: \['tiny_cnn', 'resnet18'"),
        (Recipe("simclr", "tiny_cnn", 0), ValueError, r"image_size must be >= 1, got 0"),
        (
            Recipe("simclr", "tiny_cnn", 16, {"temperatur": 0.2}),
            pydantic.ValidationError,
            "temperatur",
        ),
        (
            Recipe("simclr", "tiny_cnn", 16, {"temperature": -1.0}),
            pydantic.ValidationError,
            "temperature",
        ),
    ],
)
def test_build_method_refuses_a_bad_recipe_as_before(
    recipe: Recipe, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build_method(recipe)
