"""Model exports: safetensors (backbone only), TorchScript or ONNX, each with a model card."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.deps import SessionDep, SettingsDep
from api.lookups import model_or_404
from api.serving.exports import build_export, model_card

router = APIRouter(tags=["models"])

FormatQuery = Annotated[
    Literal["safetensors", "torchscript", "onnx"],
    Query(
        alias="format",
        description="safetensors: the backbone's weights (torchvision keys for ResNets); "
        "torchscript / onnx: the whole embed graph, normalisation included.",
    ),
]


@router.get(
    "/v1/models/{model_id}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "file + model card"}},
)
def export_model(
    model_id: str, fmt: FormatQuery, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """A zip of the model in the asked format and its ``model_card.json``."""
    model = model_or_404(session, model_id)
    archive = build_export(model, model_card(session, model, settings), fmt)
    return FileResponse(archive, media_type="application/zip", filename=f"{model_id}-{fmt}.zip")
