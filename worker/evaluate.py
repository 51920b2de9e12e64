"""Run one linear-probe evaluation: claim it, probe the model's frozen embeddings, record.

The message carries only the evaluation id. The worker claims the row (queued -> running,
one conditional UPDATE), loads the model as it is served, decodes the labeled dataset at
the model's resolution (the same uint8 cache training uses), fits a linear classifier on
the embeddings of the split's training part and scores the held-out part
(``ssl_engine.evaluation.linear_probe``). The result goes to the evaluation row and, as
``linear_top1``, to the model's metrics, in one transaction.
"""

from __future__ import annotations

import logging
import time

import torch

from api.persistence import evaluations
from api.persistence.db import session_scope
from api.persistence.models import JobStatus
from api.settings import Settings
from ssl_engine.evaluation.linear_probe import ProbeResult, probe_labeled_images
from ssl_engine.inference import load_for_inference
from worker.job_data import JobInputError, load_job_images
from worker.model_on_dataset import ModelOnDataset, read_model_on_dataset
from worker.run_job import select_device

log = logging.getLogger(__name__)


def run_evaluation(settings: Settings, evaluation_id: str) -> str | None:
    """Claim and run ``evaluation_id``; the final status, or None if it was not claimable."""
    url = settings.resolved_database_url
    with session_scope(url, tenant=None) as session:
        if not evaluations.claim(session, evaluation_id):
            log.info("evaluation %s not claimable (duplicate or finished); skipping", evaluation_id)
            return None
    started = time.perf_counter()
    try:
        result = _probe(settings, _read_spec(url, evaluation_id))
    except (JobInputError, ValueError) as error:
        return _record_failure(url, evaluation_id, str(error))
    except Exception as error:
        log.exception("evaluation %s crashed", evaluation_id)
        return _record_failure(url, evaluation_id, f"{type(error).__name__}: {error}")
    metrics = {
        "train_top1": result.train_top1,
        "train_images": result.train_size,
        "held_out_images": result.test_size,
        "seconds": round(time.perf_counter() - started, 3),
    }
    with session_scope(url, tenant=None) as session:
        evaluations.succeed(session, evaluation_id, result.top1, metrics)
    return JobStatus.SUCCEEDED


def _read_spec(url: str, evaluation_id: str) -> ModelOnDataset:
    with session_scope(url, tenant=None) as session:
        evaluation = evaluations.get_evaluation(session, evaluation_id)
        assert evaluation is not None  # claimed a moment ago
        return read_model_on_dataset(
            session,
            evaluation.id,
            evaluation.tenant_id,
            evaluation.model_id,
            evaluation.dataset_id,
            "evaluation",
        )


def _probe(settings: Settings, spec: ModelOnDataset) -> ProbeResult:
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    device = select_device(settings.device)
    data = load_job_images(
        spec.dataset_path, spec.image_size, settings.cache_dir, settings.max_bad_image_fraction
    )
    if data.labels is None or len(data.classes) < 2:
        raise JobInputError(f"dataset at {spec.dataset_path} is not labeled (class sub-folders)")
    model = load_for_inference(
        spec.weights_path,
        method=spec.method,
        backbone=spec.backbone,
        image_size=spec.image_size,
        hyperparameters=spec.hyperparameters,
        device=device,
    )
    return probe_labeled_images(
        model, data.images, data.files, data.labels, len(data.classes), device
    )


def _record_failure(url: str, evaluation_id: str, reason: str) -> str | None:
    with session_scope(url, tenant=None) as session:
        if evaluations.fail(session, evaluation_id, reason):
            return JobStatus.FAILED
    return None
