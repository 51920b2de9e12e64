"""A recipe: the few plain values from which a method is built, and rebuilt to serve it.

A job trains a recipe; the model it publishes keeps that recipe, so the worker, the
serving cache and the model card all rebuild the same network from the same values.
This module imports no torch: the API reads recipes without loading the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """What it takes to build a method, and nothing about how it is then trained.

    ``method`` and ``backbone`` are registry names; ``hyperparameters`` are the method's
    own options (validated when the method is built; missing ones take its defaults).
    ``input_size`` is the side of the square images the method sees; a method on text
    would read it as its sequence length. ``parent_model_id`` names a trained model
    whose weights a run starts from (None: from scratch) and ``processes`` how many
    processes a run is spread over; neither changes the network that is built.
    """

    method: str
    backbone: str
    input_size: int
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    parent_model_id: str | None = None
    processes: int = 1

    def __post_init__(self) -> None:
        # A copy: the recipe does not change when the caller's mapping does.
        object.__setattr__(self, "hyperparameters", dict(self.hyperparameters))
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")

    def to_card(self) -> dict[str, Any]:
        """The recipe as a model card's JSON fields: ``method``, ``backbone``,
        ``image_size`` (the name ``input_size`` has on cards and in the database) and
        ``hyperparameters``.

        ``parent_model_id`` and ``processes`` are written only when they differ from
        their defaults, so the card of a plain run keeps the four keys it always had.
        """
        card: dict[str, Any] = {
            "method": self.method,
            "backbone": self.backbone,
            "image_size": self.input_size,
            "hyperparameters": dict(self.hyperparameters),
        }
        if self.parent_model_id is not None:
            card["parent_model_id"] = self.parent_model_id
        if self.processes != 1:
            card["processes"] = self.processes
        return card

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> Recipe:
        """The recipe of a card written by ``to_card``; other keys of the card are ignored."""
        return cls(
            method=card["method"],
            backbone=card["backbone"],
            input_size=card["image_size"],
            hyperparameters=card.get("hyperparameters", {}),
            parent_model_id=card.get("parent_model_id"),
            processes=card.get("processes", 1),
        )
