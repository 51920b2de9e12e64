"""Linear-probe evaluations of trained models, run by the workers."""

from __future__ import annotations

from fastapi import APIRouter

from api.core.persistence import evaluations
from api.core.queue import EVALUATE_TASK, commit_and_publish
from api.deps import CeleryDep, SessionDep, SettingsDep
from api.errors import not_found
from api.lookups import labeled_dataset, model_or_404
from api.quotas import check_work_quota
from api.schemas.common import ERROR
from api.schemas.evaluations import EvaluationCreate, EvaluationOut

router = APIRouter(tags=["evaluations"])


@router.post(
    "/v1/models/{model_id}/evaluate",
    response_model=EvaluationOut,
    status_code=202,
    responses={409: ERROR},  # the dataset is not ready
)
def evaluate_model(
    model_id: str,
    body: EvaluationCreate,
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> EvaluationOut:
    """Queue a linear probe of the model's frozen embeddings on a labeled dataset."""
    model_or_404(session, model_id)
    dataset = labeled_dataset(session, body.dataset_id)
    check_work_quota(session, settings)
    evaluation = evaluations.create_evaluation(session, model_id=model_id, dataset_id=dataset.id)
    commit_and_publish(session, celery, EVALUATE_TASK, evaluation)
    return EvaluationOut.model_validate(evaluation)


@router.get("/v1/models/{model_id}/evaluations", response_model=list[EvaluationOut])
def list_model_evaluations(model_id: str, session: SessionDep) -> list[EvaluationOut]:
    """A model's evaluations, newest first."""
    model_or_404(session, model_id)
    rows = evaluations.list_for_model(session, model_id)
    return [EvaluationOut.model_validate(e) for e in rows]


@router.get("/v1/evaluations/{evaluation_id}", response_model=EvaluationOut)
def get_evaluation(evaluation_id: str, session: SessionDep) -> EvaluationOut:
    """Status, top-1 accuracy and sizes of one evaluation."""
    evaluation = evaluations.get_evaluation(session, evaluation_id)
    if evaluation is None:
        raise not_found("evaluation", evaluation_id)
    return EvaluationOut.model_validate(evaluation)
