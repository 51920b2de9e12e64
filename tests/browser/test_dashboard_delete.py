"""Deleting datasets, jobs and models from the dashboard: each asks in an in-page dialog
first, and what the API then holds is what the page says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browser import browser_page
from tests.image_folders import make_image_folder
from tests.integration.services import Service, register_folder, running_service, wait_for_job

pytestmark = pytest.mark.integration

TINY_JOB = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 8, "image_size": 16}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("delete")) as running:
        yield running


def submit(service: Service, dataset_id: str, epochs: int) -> str:
    answer = service.client().post(
        "/v1/jobs", json={**TINY_JOB, "dataset_id": dataset_id, "epochs": epochs}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_a_dataset_is_deleted_from_the_list_after_confirming_and_kept_on_cancel(
    service: Service, tmp_path: Path
) -> None:
    client = service.client()
    kept = register_folder(client, make_image_folder(tmp_path / "kept"), "kept")
    dropped = register_folder(client, make_image_folder(tmp_path / "dropped"), "dropped")
    with browser_page(tmp_path, service.api_key) as page:
        page.goto(f"{service.base_url}/#/datasets")
        dialog = page.get_by_role("dialog")

        # Cancel, and Escape, close the dialog and send nothing
        page.get_by_role("button", name="Delete dataset kept").click()
        dialog.wait_for()
        assert dialog.get_by_role("heading").inner_text() == "Delete dataset kept?"
        assert "registered folder on the server is never touched" in dialog.inner_text()
        dialog.get_by_role("button", name="Cancel").click()
        dialog.wait_for(state="detached")
        page.get_by_role("button", name="Delete dataset kept").click()
        dialog.wait_for()
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached")
        page.wait_for_timeout(300)
        assert client.get(f"/v1/datasets/{kept}").status_code == 200
        assert page.locator(f"tr[data-dataset-id='{kept}']").is_visible()

        # Delete: the row goes, and so does the dataset
        page.get_by_role("button", name="Delete dataset dropped").click()
        dialog.get_by_role("button", name="Delete").click()
        page.get_by_role("status").filter(has_text="Deleted dataset dropped.").wait_for()
        assert page.locator(f"tr[data-dataset-id='{dropped}']").count() == 0
        assert client.get(f"/v1/datasets/{dropped}").status_code == 404
        assert client.get(f"/v1/datasets/{kept}").status_code == 200
        assert page.locator(f"tr[data-dataset-id='{kept}']").is_visible()
    assert (tmp_path / "dropped").is_dir()  # a registered folder is never touched


def test_a_dataset_in_use_shows_the_api_message_and_a_finished_job_leaves_the_jobs_list(
    service: Service, tmp_path: Path
) -> None:
    client = service.client()
    dataset = register_folder(client, make_image_folder(tmp_path / "images"), "busy")
    job = submit(service, dataset, epochs=500)
    with browser_page(tmp_path, service.api_key) as page:
        page.goto(f"{service.base_url}/#/datasets")
        page.get_by_role("button", name="Delete dataset busy").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        refused = client.delete(f"/v1/datasets/{dataset}")  # a 409 changes nothing
        assert refused.status_code == 409 and refused.json()["code"] == "dataset_in_use"
        assert refused.json()["message"] in alert.inner_text()
        assert "dataset_in_use" in alert.inner_text()
        assert client.get(f"/v1/datasets/{dataset}").status_code == 200
        assert page.locator(f"tr[data-dataset-id='{dataset}']").is_visible()

        # once cancelled, the job can be deleted from its row in the jobs list
        assert client.post(f"/v1/jobs/{job}/cancel").status_code == 202
        assert wait_for_job(client, job, timeout=60)["status"] == "cancelled"
        page.get_by_role("link", name="Jobs", exact=True).click()
        row = page.locator(f"tr[data-job-id='{job}'][data-status=cancelled]")
        row.wait_for(timeout=30_000)
        row.get_by_role("button", name=f"Delete job {job[:8]}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_role("status").filter(has_text=f"Deleted job {job[:8]}.").wait_for()
        assert page.locator(f"tr[data-job-id='{job}']").count() == 0
        assert client.get(f"/v1/jobs/{job}").status_code == 404


def test_a_model_is_deleted_from_its_page_then_its_job_from_its_page(
    service: Service, tmp_path: Path
) -> None:
    client = service.client()
    dataset = register_folder(client, make_image_folder(tmp_path / "images"), "trained")
    job_id = submit(service, dataset, epochs=1)
    job = wait_for_job(client, job_id, timeout=180)
    assert job["status"] == "succeeded", job
    model_id = str(job["model_id"])
    with browser_page(tmp_path, service.api_key) as page:
        # the job's model exists: the API refuses, and the page says why
        page.goto(f"{service.base_url}/#/jobs/{job_id}")
        page.locator(".page-head .status[data-status=succeeded]").wait_for(timeout=30_000)
        page.get_by_role("button", name="Delete job").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        alert = page.get_by_role("alert").filter(has_text="job_has_model")
        alert.wait_for()
        assert f"published model {model_id}; delete the model first" in alert.inner_text()
        assert client.get(f"/v1/jobs/{job_id}").status_code == 200
        assert page.url.endswith(f"#/jobs/{job_id}")

        # the model's page: the dialog names what goes with it; Delete goes back to the list
        page.get_by_role("link", name="Open the model").click()
        page.get_by_role("button", name="Delete model").click()
        dialog = page.get_by_role("dialog")
        assert dialog.get_by_role("heading").inner_text() == f"Delete model {model_id[:8]}?"
        assert "exports, dataset embeddings and evaluations" in dialog.inner_text()
        dialog.get_by_role("button", name="Delete").click()
        page.wait_for_url(re.compile(r"#/models$"))
        page.get_by_role("status").filter(has_text=f"Deleted model {model_id[:8]}.").wait_for()
        assert client.get(f"/v1/models/{model_id}").status_code == 404
        assert page.locator(f"tr[data-model-id='{model_id}']").count() == 0

        # now the job can go too
        page.goto(f"{service.base_url}/#/jobs/{job_id}")
        page.locator(".page-head .status[data-status=succeeded]").wait_for(timeout=30_000)
        page.get_by_role("button", name="Delete job").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.wait_for_url(re.compile(r"#/jobs$"))
        page.get_by_role("status").filter(has_text=f"Deleted job {job_id[:8]}.").wait_for()
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert page.locator(f"tr[data-job-id='{job_id}']").count() == 0
