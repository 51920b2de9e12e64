"""A model's exports: the file and its model card in one zip, built once and kept.

The card says what the model is (method, backbone, resolution, embedding size), what it
learned from (the dataset), how (hyperparameters and training settings), how well
(metrics), what to feed it (preprocessing) and how to load the file. It travels twice:
as ``model_card.json`` in the zip and inside the file (safetensors metadata, a TorchScript
extra file, ONNX metadata), so a file separated from its zip still says what it is.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from api.core.persistence import datasets, jobs
from api.core.persistence.recipes import recipe_of
from api.core.persistence.tables import TrainedModel
from api.core.settings import Settings

if TYPE_CHECKING:
    from ssl_engine.export import ExportFormat

CARD_FILE = "model_card.json"


def export_archive_path(model: TrainedModel, fmt: ExportFormat) -> Path:
    return Path(model.weights_path).parent / "exports" / f"{fmt}.zip"


def model_card(session: Session, model: TrainedModel, settings: Settings) -> dict[str, Any]:
    """Everything about ``model`` a user of an export needs, from the database rows, and
    the precision this server serves it at."""
    from api.method_catalog import method_class
    from ssl_engine.acceleration import resolve_device, serving_precision
    from ssl_engine.export import preprocessing

    recipe = recipe_of(model)
    method = method_class(recipe.method)
    job = jobs.get_job(session, model.job_id)
    dataset = datasets.get_dataset(session, model.dataset_id)
    return {
        "model_id": model.id,
        "created_at": model.created_at.isoformat(),
        **recipe.to_card(),
        "method": {  # the recipe's method name, described
            "name": recipe.method,
            "family": str(method.family),
            "collapse_prevention": str(method.collapse_prevention),
            "paper": method.paper,
            "summary": method.summary,
        },
        "embed_dim": model.embed_dim,
        "data": {
            "dataset_id": model.dataset_id,
            "name": dataset.name if dataset else None,
            "image_count": dataset.image_count if dataset else None,
            "classes": list(dataset.classes) if dataset else [],
        },
        "training": {
            "job_id": model.job_id,
            "epochs": job.epochs if job else None,
            "batch_size": job.batch_size if job else None,
            "seed": job.seed if job else None,
            **(dict(job.training) if job else {}),
        },
        "metrics": dict(model.metrics),
        "preprocessing": preprocessing(recipe.input_size),
        "serving": {  # the exported weights are float32 whatever the serving precision
            "precision": serving_precision(
                settings.serving_precision, resolve_device(settings.device)
            ),
            "precision_setting": settings.serving_precision,
        },
    }


def build_export(model: TrainedModel, card: dict[str, Any], fmt: ExportFormat) -> Path:
    """The zip of ``model`` in ``fmt``, built on first request (slow: call off the loop)."""
    import torch

    from ssl_engine.export import FILE_NAMES, export_model, how_to_load
    from ssl_engine.inference import load_for_inference

    target = export_archive_path(model, fmt)
    if target.exists():
        return target
    recipe = recipe_of(model)
    method = load_for_inference(
        Path(model.weights_path), recipe, torch.device("cpu"), channels_last=False
    )
    card = {**card, "export": {"format": fmt, "file": FILE_NAMES[fmt]}}
    card["export"]["load"] = how_to_load(method, recipe.backbone, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        exported = Path(scratch) / FILE_NAMES[fmt]
        export_model(method, fmt, exported, recipe.input_size, card)
        archive = Path(scratch) / "export.zip"
        with zipfile.ZipFile(archive, "w") as bundle:  # stored: weights barely compress
            bundle.write(exported, FILE_NAMES[fmt])
            bundle.writestr(CARD_FILE, json.dumps(card, indent=2))
        os.replace(archive, target)  # atomic: a reader sees the whole zip or none
    return target
