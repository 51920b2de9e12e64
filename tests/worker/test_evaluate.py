"""The evaluation worker in-process: claim once, probe, record on the row and the model."""

from __future__ import annotations

from pathlib import Path

from api.core.persistence import datasets, evaluations, trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.serving.random_models import register_random_model
from worker.evaluate import run_evaluation
from worker.ingest_child import scan_fields


def queued_evaluation(settings: Settings, folder: Path, weights_dir: Path) -> tuple[str, str]:
    """(evaluation id, model id) of a random tiny SimCLR queued for a probe on ``folder``."""
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        dataset_id = datasets.create_dataset(
            session, name="d", path=str(folder), **scan_fields(folder)
        ).id
    model_id = register_random_model(url, weights_dir, dataset_id=dataset_id)
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        evaluation = evaluations.create_evaluation(
            session, model_id=model_id, dataset_id=dataset_id
        )
        return evaluation.id, model_id


def test_probe_succeeds_once_and_stores_top1_with_the_model(
    settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=10)
    evaluation_id, model_id = queued_evaluation(settings, folder, tmp_path)
    assert run_evaluation(settings, evaluation_id) == "succeeded"
    assert run_evaluation(settings, evaluation_id) is None  # a duplicate delivery does nothing
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        evaluation = evaluations.get_evaluation(session, evaluation_id)
        model = trained_models.get_model(session, model_id)
        assert evaluation is not None and model is not None
        assert evaluation.top1 is not None and 0.0 <= evaluation.top1 <= 1.0
        assert evaluation.metrics["held_out_images"] == 4  # one of each class's 10
        assert evaluation.metrics["train_images"] == 36
        assert evaluation.finished_at is not None
        assert model.metrics == {"loss": 1.0, "linear_top1": evaluation.top1}


def test_a_dataset_emptied_since_registration_fails_with_the_reason(
    settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4)
    evaluation_id, _ = queued_evaluation(settings, folder, tmp_path)
    for image in folder.rglob("*.*"):
        image.unlink()
    assert run_evaluation(settings, evaluation_id) == "failed"
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        evaluation = evaluations.get_evaluation(session, evaluation_id)
        assert evaluation is not None and evaluation.top1 is None
        assert "no image" in (evaluation.failure_reason or "")
