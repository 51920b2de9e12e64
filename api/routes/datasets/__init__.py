"""Everything under ``/v1/datasets``: one resource, one package.

``uploads`` (an archive streamed to disk) and ``folders`` (register a server folder,
list, get); ``router`` includes both, uploads first, so that ``/v1/datasets/upload`` is not
read as a dataset id. Neither opens an archive nor walks a folder: that is the ingest
worker's (``worker.ingest``); both answer 202 with the dataset ``ingesting``.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.datasets import folders, uploads

router = APIRouter()
for part in (uploads, folders):
    router.include_router(part.router)
