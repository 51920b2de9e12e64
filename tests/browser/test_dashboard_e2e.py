"""The README's walkthrough done in the browser, against real API and worker processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.browser import browser_page
from tests.image_folders import image_bytes, make_image_folder
from tests.integration.services import Service, register_folder, running_service

pytestmark = pytest.mark.integration

TINY_JOB = {"backbone": "tiny_cnn", "batch_size": 8, "image_size": 16}
# Collects what the page shows every 50 ms, to prove it changed without a reload.
SAMPLE_PAGE = """() => {
  window.noReload = true;
  window.seen = { progress: [], modes: [] };
  setInterval(() => {
    const bar = document.querySelector(".page-head ~ section progress");
    if (bar) window.seen.progress.push(bar.value);
    const live = document.querySelector(".live");
    if (live) window.seen.modes.push(live.dataset.mode);
  }, 50);
}"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


def api_message(service: Service, body: dict[str, object], field: str) -> str:
    """The API's 422 message for ``field`` when ``body`` is submitted."""
    answer = httpx.post(
        f"{service.base_url}/v1/jobs", headers=service.headers, json=body, timeout=60
    )
    assert answer.status_code == 422, answer.text
    return next(d["message"] for d in answer.json()["details"] if d["field"] == field)


def test_walkthrough_register_submit_follow_and_embed_from_the_browser(
    service: Service, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images")
    picture = tmp_path / "query.png"
    picture.write_bytes(image_bytes(1, seed=5))
    with browser_page(tmp_path) as page:
        # 0. a first visit has no key: the API's 401 asks for one, and the key is saved
        page.goto(f"{service.base_url}/#/datasets")
        page.locator("#key-state", has_text="key needed").wait_for()
        page.get_by_label("API key").fill(service.api_key)
        page.get_by_role("button", name="Save").click()
        page.locator("#key-state", has_text="key saved").wait_for()
        # 1. register the folder
        page.get_by_text("No dataset yet.").wait_for()
        page.get_by_label("Name").fill("shapes")
        page.get_by_label("Folder on the server").fill(str(folder))
        page.get_by_role("button", name="Register").click()
        page.get_by_text("Registered shapes: the ingest worker is scanning it.").wait_for()
        # the list polls until the ingest worker has scanned it: ingesting -> ready
        page.locator("[data-state=ready]").wait_for(timeout=60_000)
        row = page.locator("tr", has_text="shapes")
        assert row.locator("td.num").first.inner_text() == "32"

        # 2. submit, first with a value the API refuses: the form says what the API says
        page.get_by_role("link", name="Train on it").click()
        page.get_by_label("Backbone").select_option("tiny_cnn")
        page.locator("[name=epochs]").fill("60")
        page.locator("[name=batch_size]").fill("8")
        page.locator("[name=image_size]").fill("16")
        page.get_by_label(re.compile("^Temperature")).fill("-1")
        page.get_by_role("button", name="Submit").click()
        dataset_id = page.get_by_label("Dataset").input_value()
        refused = {"method": "simclr", "dataset_id": dataset_id, "epochs": 60, **TINY_JOB,
                   "hyperparameters": {"temperature": -1}}  # fmt: skip
        expected = api_message(service, refused, "hyperparameters.temperature")
        assert page.locator(".field-error", has_text=expected).is_visible()
        assert "/#/submit" in page.url  # nothing was sent

        page.get_by_label(re.compile("^Temperature")).fill("0.3")
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(re.compile(r"#/jobs/[0-9a-f]{32}$"))
        job_id = page.url.rsplit("/", 1)[1]

        # 3. follow it: the bar moves and the job succeeds, with no reload
        page.evaluate(SAMPLE_PAGE)
        page.locator(".page-head .status[data-status=succeeded]").wait_for(timeout=120_000)
        page.wait_for_timeout(300)
        seen = page.evaluate("window.seen")
        assert page.evaluate("window.noReload === true")
        assert any(0 < v < 1 for v in seen["progress"]), seen["progress"]
        assert seen["progress"][-1] == 1
        assert "stream" in seen["modes"]  # updates came over server-sent events

        # its loss curve has a point for every logged step
        job = httpx.get(f"{service.base_url}/v1/jobs/{job_id}", headers=service.headers).json()
        metrics = httpx.get(
            f"{service.base_url}/v1/jobs/{job_id}/metrics?name=loss", headers=service.headers
        ).json()
        steps = [p["step"] for p in metrics["series"]["loss"]]
        assert len(steps) == job["progress"]["total_steps"]  # logged at every step here
        curve = page.locator("polyline[data-series=loss]")
        assert len(curve.get_attribute("points").split()) == len(steps)

        # the jobs page shows it succeeded
        page.get_by_role("link", name="Jobs", exact=True).click()
        row = page.locator(f"tr[data-job-id='{job_id}']")
        assert row.get_attribute("data-status") == "succeeded"
        assert page.evaluate("window.noReload === true")

        # 4. embed the training set (for its map and the neighbours), then an image
        page.get_by_role("link", name="Models", exact=True).click()
        page.get_by_role("link", name=job["model_id"][:8]).click()
        page.get_by_role("button", name="Embed the training set").click()
        page.get_by_text("PCA of 32 of 32 embeddings", exact=False).wait_for(timeout=60_000)
        assert page.locator("svg.scatter circle").count() == 32
        page.get_by_label("Image", exact=True).set_input_files(str(picture))
        page.get_by_role("button", name="Embed", exact=True).click()
        model = httpx.get(
            f"{service.base_url}/v1/models/{job['model_id']}", headers=service.headers
        ).json()
        dimension = page.locator("dt", has_text="dimension").locator("+ dd")
        dimension.wait_for()
        assert dimension.inner_text() == str(model["embed_dim"])
        neighbours = page.locator(".neighbours li")
        neighbours.first.wait_for()
        assert neighbours.count() == 8


def test_cancel_a_running_job_from_its_page(service: Service, tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images")
    client = service.client(timeout=60)
    spec = {
        "method": "simclr",
        "dataset_id": register_folder(client, folder, "long"),
        "epochs": 500,
        **TINY_JOB,
    }
    submitted = client.post("/v1/jobs", json=spec)
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()
    with browser_page(tmp_path, service.api_key) as page:
        page.goto(f"{service.base_url}/#/jobs/{job['id']}")
        page.locator(".page-head .status[data-status=running]").wait_for(timeout=60_000)
        page.get_by_role("button", name="Cancel job").click()
        page.locator(".page-head .status[data-status=cancelled]").wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Cancel job").is_disabled()
        events = page.locator(".timeline").inner_text()
        assert "cancelling" in events and "cancelled" in events
    assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"


def test_the_workers_page_lists_the_live_workers(service: Service, tmp_path: Path) -> None:
    pids = sorted(p.pid for name, p in service.processes.items() if not name.startswith("api"))
    with browser_page(tmp_path, service.api_key) as page:
        page.goto(f"{service.base_url}/#/workers")
        rows = page.locator("tr[data-worker]")
        rows.first.wait_for(timeout=30_000)
        shown = sorted(int(row.get_attribute("data-worker").split(":")[1]) for row in rows.all())
        alive = page.locator("tr[data-worker] .status", has_text="alive")
        assert set(pids) <= set(shown) and alive.count() >= len(pids)
        assert "sslpt-ingest" in page.locator("table").inner_text()
