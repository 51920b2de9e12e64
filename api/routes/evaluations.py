"""Linear-probe evaluations of trained models, run by the workers."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CeleryDep, SessionDep
from api.errors import ApiError, not_found, validation_error
from api.persistence import datasets, evaluations, trained_models
from api.queue import EVALUATE_TASK, publish
from api.schemas.evaluations import EvaluationCreate, EvaluationOut

router = APIRouter(tags=["evaluations"])


@router.post("/v1/models/{model_id}/evaluate", response_model=EvaluationOut, status_code=202)
def evaluate_model(
    model_id: str, body: EvaluationCreate, session: SessionDep, celery: CeleryDep
) -> EvaluationOut:
    """Queue a linear probe of the model's frozen embeddings on a labeled dataset."""
    if trained_models.get_model(session, model_id) is None:
        raise not_found("model", model_id)
    dataset = datasets.get_dataset(session, body.dataset_id)
    if dataset is None:
        raise validation_error(
            [{"field": "dataset_id", "message": f"no dataset with id {body.dataset_id!r}"}]
        )
    if len(dataset.classes) < 2:
        raise ApiError(
            422,
            "dataset_not_labeled",
            f"dataset {dataset.id} needs class sub-folders (at least two classes) for a "
            f"linear probe; it has {len(dataset.classes)}",
            {"dataset_id": dataset.id},
        )
    evaluation = evaluations.create_evaluation(session, model_id=model_id, dataset_id=dataset.id)
    session.commit()
    try:
        publish(celery, EVALUATE_TASK, evaluation.id)
    except ApiError:
        session.delete(evaluation)  # no queued row without a message
        session.commit()
        raise
    return EvaluationOut.model_validate(evaluation)


@router.get("/v1/models/{model_id}/evaluations", response_model=list[EvaluationOut])
def list_model_evaluations(model_id: str, session: SessionDep) -> list[EvaluationOut]:
    """A model's evaluations, newest first."""
    if trained_models.get_model(session, model_id) is None:
        raise not_found("model", model_id)
    rows = evaluations.list_for_model(session, model_id)
    return [EvaluationOut.model_validate(e) for e in rows]


@router.get("/v1/evaluations/{evaluation_id}", response_model=EvaluationOut)
def get_evaluation(evaluation_id: str, session: SessionDep) -> EvaluationOut:
    """Status, top-1 accuracy and sizes of one evaluation."""
    evaluation = evaluations.get_evaluation(session, evaluation_id)
    if evaluation is None:
        raise not_found("evaluation", evaluation_id)
    return EvaluationOut.model_validate(evaluation)
