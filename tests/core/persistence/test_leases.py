"""A dead worker's leases end at once: its job and its probe are re-queued by the next
reconciler pass, not after the lease runs out; other workers' leases are untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from api.core.persistence import jobs, model_tasks
from api.core.persistence.db import session_scope
from api.core.persistence.leases import expire_leases_of, lease_owner
from api.core.persistence.tables import LOCAL_TENANT, Evaluation, JobStatus
from api.core.settings import Settings
from api.reconciler import reconcile_once
from tests.image_folders import make_image_folder
from tests.worker.test_evaluate import queued_evaluation
from tests.worker.test_model_task_leases import SentMessages

HOUR = timedelta(hours=1)


def test_a_dead_workers_job_and_probe_are_requeued_at_once(
    settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4)
    evaluation_id, _ = queued_evaluation(settings, folder, tmp_path)
    dead, alive = lease_owner(4242), lease_owner(4343)
    url = settings.resolved_database_url
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        dataset_id = evaluation.dataset_id
        ids = [
            jobs.create_job(
                session, method="simclr", dataset_id=dataset_id, backbone="tiny_cnn",
                image_size=16, epochs=1, batch_size=2, seed=0,
            ).id
            for _ in range(2)
        ]  # fmt: skip
    with session_scope(url, tenant=None) as session:
        assert jobs.claim(session, ids[0], dead, HOUR) is not None
        assert jobs.claim(session, ids[1], alive, HOUR) is not None
        assert model_tasks.claim(session, Evaluation, evaluation_id, dead, HOUR)
    sent = SentMessages()
    assert reconcile_once(settings, sent) == []  # type: ignore[arg-type]  # hour-long leases

    with session_scope(url, tenant=None) as session:
        assert expire_leases_of(session, dead, f"worker {dead} was killed by signal 9") == 2
    assert sorted(reconcile_once(settings, sent) or []) == sorted([ids[0], evaluation_id])  # type: ignore[arg-type]

    with session_scope(url, tenant=LOCAL_TENANT) as session:
        lost, kept = jobs.get_job(session, ids[0]), jobs.get_job(session, ids[1])
        assert lost is not None and kept is not None
        assert lost.status == JobStatus.INTERRUPTED and kept.status == JobStatus.RUNNING
        reasons = [(e.kind, e.reason) for e in jobs.list_events(session, ids[0])]
        assert ("worker_lost", f"worker {dead} was killed by signal 9") in reasons
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None and evaluation.status == JobStatus.QUEUED


def test_the_owner_name_is_host_and_pid() -> None:
    assert lease_owner(12).endswith(":12")
