"""Everything under ``/v1/models``: one resource, one package.

``serving`` (list, get, embed, energy, warm-up), ``evaluations`` (linear probes),
``exports``, ``search`` (dataset embeddings and nearest neighbours), ``map`` (the 2-D
view of a dataset embedding) and ``pictures`` (samples and reconstructions as PNG
grids); ``router`` includes them all.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.models import evaluations, exports, map, pictures, search, serving

router = APIRouter()
for part in (serving, evaluations, exports, search, map, pictures):
    router.include_router(part.router)
