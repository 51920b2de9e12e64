"""Model rows as the API shows them: with the bytes each stores, whether its dataset
was deleted, and its ancestors with those deleted since marked."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from api.core.persistence import dataset_embeddings, datasets, trained_models
from api.core.persistence.tables import TrainedModel
from api.core.settings import Settings
from api.core.storage import model_bytes
from api.schemas.models import Ancestor, ModelOut

COMPUTED = frozenset({"stored_bytes", "dataset_deleted", "lineage"})  # not columns of the row


def models_out(
    session: Session, settings: Settings, rows: Sequence[TrainedModel]
) -> list[ModelOut]:
    deleted = datasets.deleted_among(session, (model.dataset_id for model in rows))
    embeddings = dataset_embeddings.ids_by_model(session, (model.id for model in rows))
    alive = trained_models.existing_among(
        session, (entry["model_id"] for model in rows for entry in model.lineage)
    )
    out = []
    for model in rows:
        columns = {
            name: getattr(model, name) for name in ModelOut.model_fields if name not in COMPUTED
        }
        stored = model_bytes(settings, model, embeddings.get(model.id, []))
        lineage = [
            Ancestor(**entry, deleted=entry["model_id"] not in alive) for entry in model.lineage
        ]
        out.append(
            ModelOut(
                **columns,
                stored_bytes=stored,
                dataset_deleted=model.dataset_id in deleted,
                lineage=lineage,
            )
        )
    return out
