"""A model's page: train a new model from it (a parent), the chain of models it was
started from, and the pictures of a generative model, against real API and worker
processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browser import browser_page
from tests.browser.test_dashboard_delete import TINY_JOB
from tests.image_folders import make_image_folder
from tests.integration.services import Service, register_folder, running_service, wait_for_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("models")) as running:
        yield running


def test_pictures_training_from_a_model_and_the_chain_of_models(
    service: Service, tmp_path: Path
) -> None:
    client = service.client()
    folder = make_image_folder(tmp_path / "images")
    dataset = register_folder(client, folder, "pictures")
    vae = {**TINY_JOB, "method": "vae", "backbone": "conv_small", "dataset_id": dataset}
    answer = client.post("/v1/jobs", json={**vae, "epochs": 2})
    assert answer.status_code == 201, answer.text
    job = wait_for_job(client, str(answer.json()["id"]), timeout=180)
    assert job["status"] == "succeeded", job
    parent = str(job["model_id"])
    with browser_page(tmp_path, service.api_key) as page:
        # the job page: one picture per epoch, the newest shown, an earlier one on request
        page.goto(f"{service.base_url}/#/jobs/{job['id']}")
        last_epoch = page.get_by_role("img", name="what the model made after epoch 2")
        last_epoch.wait_for(timeout=30_000)
        assert last_epoch.evaluate("img => img.complete && img.naturalWidth") == 8 * 18 + 2
        page.get_by_label("Epoch", exact=True).select_option("0")
        page.get_by_role("img", name="what the model made after epoch 1").wait_for()

        # the model page: its job's pictures, samples, and the reconstruction of a picked image
        page.goto(f"{service.base_url}/#/models/{parent}")
        page.get_by_role("img", name="what the model made after epoch 2").wait_for()
        samples = page.get_by_role("img", name="64 samples drawn with seed 0")
        samples.wait_for(timeout=30_000)
        assert samples.evaluate("img => img.complete && img.naturalWidth") == 8 * 18 + 2
        picked = next(folder.rglob("*.png"))
        page.get_by_label("Image to reconstruct").set_input_files(str(picked))
        page.get_by_role("button", name="Reconstruct", exact=True).click()
        pair = page.get_by_role("img", name=re.compile("what the model was given"))
        pair.wait_for(timeout=30_000)
        assert pair.evaluate("img => img.complete && img.naturalWidth") == 2 * 18 + 2

        # "Train from this model": the form names the parent and takes its backbone and size
        page.get_by_role("link", name="Train from this model").click()
        assert page.get_by_label("Start from model").input_value() == parent
        page.get_by_label("Method").select_option("dae")
        assert page.get_by_label("Backbone").input_value() == "conv_small"
        assert page.locator("[name=image_size]").input_value() == "16"
        page.locator("[name=epochs]").fill("1")
        page.locator("[name=batch_size]").fill("8")
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(re.compile(r"#/jobs/\w+$"))
        child_job_id = page.url.rsplit("/", 1)[1]
        page.get_by_role("link", name=f"model {parent[:8]}").wait_for(timeout=30_000)
        child_job = wait_for_job(client, child_job_id, timeout=180)
        assert (child_job["status"], child_job["parent_model_id"]) == ("succeeded", parent)
        child = str(child_job["model_id"])

        # the child's page draws the chain; a deleted ancestor is named, not linked
        page.goto(f"{service.base_url}/#/models/{child}")
        chain = page.get_by_role("list", name="ancestors, parent first")
        chain.get_by_role("link", name=f"vae {parent[:8]}").click()
        page.wait_for_url(re.compile(f"#/models/{parent}$"))
        assert client.delete(f"/v1/models/{parent}").status_code == 204
        page.goto(f"{service.base_url}/#/models/{child}")
        chain = page.get_by_role("list", name="ancestors, parent first")
        chain.get_by_text(f"vae {parent[:8]} (deleted)").wait_for()
        assert chain.get_by_role("link").count() == 0
