"""Run one linear-probe evaluation: claim it, probe the model's frozen embeddings, record.

The message carries only the evaluation id. The worker claims the row with a lease
(``worker.model_task``), loads the model as it is served, decodes the labeled dataset at
the model's resolution (the same uint8 cache training uses), fits a linear classifier on
the embeddings of the split's training part and scores the held-out part
(``ssl_engine.evaluation.linear_probe``). The result goes to the evaluation row and, as
``linear_top1``, to the model's metrics, in one transaction.
"""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from api.core.persistence import evaluations
from api.core.persistence.tables import Evaluation
from api.core.settings import Settings
from ssl_engine.evaluation.linear_probe import ProbeResult, probe_labeled_images
from worker.job_data import JobInputError
from worker.model_on_dataset import ModelOnDataset, load_model_and_images
from worker.model_task import run_model_task


def run_evaluation(settings: Settings, evaluation_id: str) -> str | None:
    """Claim and run ``evaluation_id``; the final status, or None if there was nothing to do."""
    started = time.perf_counter()

    def record(session: Session, row_id: str, owner: str, result: ProbeResult) -> bool:
        metrics = {
            "train_top1": result.train_top1,
            "train_images": result.train_size,
            "held_out_images": result.test_size,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return evaluations.succeed(session, row_id, owner, result.top1, metrics)

    return run_model_task(
        settings, Evaluation, evaluation_id, lambda spec: _probe(settings, spec), record
    )


def _probe(settings: Settings, spec: ModelOnDataset) -> ProbeResult:
    model, data, device = load_model_and_images(settings, spec)
    if data.labels is None or len(data.classes) < 2:
        raise JobInputError(f"dataset at {spec.dataset_path} is not labeled (class sub-folders)")
    return probe_labeled_images(
        model, data.images, data.files, data.labels, len(data.classes), device
    )
