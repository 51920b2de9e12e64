"""The dashboard's files: served at / and /static, revalidated by the browser, complete."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.routes.dashboard import STATIC_DIR

# import { a, b } from "./x.js";  (the braces may span several lines)
IMPORT = re.compile(r"""^import\s[^"']*?from\s+["'](\.{1,2}/[^"']+)["'];""", re.MULTILINE)


def test_index_is_served_at_the_root_with_a_content_security_policy(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/app.js">' in answer.text


def test_static_files_are_revalidated_with_their_etag(client: TestClient) -> None:
    first = client.get("/static/js/app.js")
    assert first.status_code == 200
    assert "javascript" in first.headers["content-type"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/static/js/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"


def test_files_outside_the_static_folder_are_not_served(client: TestClient) -> None:
    assert client.get("/static/../routes/dashboard.py").status_code == 404
    assert client.get("/static/%2e%2e/routes/dashboard.py").status_code == 404
    assert client.get("/static/js/missing.js").status_code == 404


def test_every_module_import_names_a_file_that_ships() -> None:
    imports = [
        (module, target)
        for module in sorted(STATIC_DIR.rglob("*.js"))
        for target in IMPORT.findall(module.read_text())
    ]
    assert len(imports) > 20
    for module, target in imports:
        assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"


def test_the_dashboard_is_left_out_of_the_api_description(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/v1/jobs/stream" in paths and "/v1/jobs/{job_id}/stream" in paths
