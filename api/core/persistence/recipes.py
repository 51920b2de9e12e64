"""The recipe a job trains, or a model was trained with, and the columns that hold it.

Jobs and models keep a recipe in five columns (``method``, ``backbone``, ``image_size``,
``hyperparameters``, ``parent_model_id``); these two functions are the only translation
between the two.
"""

from __future__ import annotations

from typing import Any

from api.core.persistence.tables import Job, TrainedModel
from ssl_engine.recipe import Recipe


def recipe_of(row: Job | TrainedModel) -> Recipe:
    """The recipe stored in a job or a model row."""
    return Recipe(
        method=row.method,
        backbone=row.backbone,
        input_size=row.image_size,
        hyperparameters=dict(row.hyperparameters),
        parent_model_id=row.parent_model_id,
    )


def recipe_columns(recipe: Recipe) -> dict[str, Any]:
    """The column values of ``recipe``, for a new job or model row."""
    return {
        "method": recipe.method,
        "backbone": recipe.backbone,
        "image_size": recipe.input_size,
        "hyperparameters": dict(recipe.hyperparameters),
        "parent_model_id": recipe.parent_model_id,
    }
