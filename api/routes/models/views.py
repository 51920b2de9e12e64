"""Model rows as the API shows them: with the bytes each stores and whether its dataset
was deleted."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from api.core.persistence import dataset_embeddings, datasets
from api.core.persistence.tables import TrainedModel
from api.core.settings import Settings
from api.core.storage import model_bytes
from api.schemas.models import ModelOut

COMPUTED = frozenset({"stored_bytes", "dataset_deleted"})  # not columns of the row
ROW_FIELDS = [name for name in ModelOut.model_fields if name not in COMPUTED]


def models_out(
    session: Session, settings: Settings, rows: Sequence[TrainedModel]
) -> list[ModelOut]:
    deleted = datasets.deleted_among(session, (model.dataset_id for model in rows))
    embeddings = dataset_embeddings.ids_by_model(session, (model.id for model in rows))
    out = []
    for model in rows:
        columns = {
            name: getattr(model, name) for name in ModelOut.model_fields if name not in COMPUTED
        }
        stored = model_bytes(settings, model, embeddings.get(model.id, []))
        out.append(
            ModelOut(**columns, stored_bytes=stored, dataset_deleted=model.dataset_id in deleted)
        )
    return out
