"""A small typed HTTP client for the sslpt API (used by the CLI; handy in notebooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


class ApiClientError(Exception):
    """The API answered with an error body; ``code`` is its stable error code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class SslptClient:
    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> SslptClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ApiClientError(
                response.status_code,
                str(body.get("code", "http_error")),
                str(body.get("message", response.text[:200])),
                body.get("details"),
            )
        return None if response.status_code == 204 else response.json()

    def methods(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._send("GET", "/v1/methods")
        return result

    def add_dataset(self, name: str, path: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send(
            "POST", "/v1/datasets", json={"name": name, "path": path}
        )
        return result

    def upload_dataset(self, name: str, archive: Path) -> dict[str, Any]:
        """Stream a zip/tar of images to the server as a new dataset."""
        with archive.open("rb") as body:
            result: dict[str, Any] = self._send(
                "POST",
                "/v1/datasets/upload",
                params={"name": name},
                content=body,
                headers={"Content-Type": "application/octet-stream"},
                timeout=None,
            )
        return result

    def datasets(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/v1/datasets")
        return result

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", f"/v1/datasets/{dataset_id}")
        return result

    def submit(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = self._send("POST", "/v1/jobs", json=spec, headers=headers)
        return result

    def delete(self, kind: str, object_id: str) -> None:
        """Delete a ``job``, a ``model`` or a ``dataset`` (``DELETE /v1/{kind}s/{id}``)."""
        self._send("DELETE", f"/v1/{kind}s/{object_id}")

    def workers(self) -> list[dict[str, Any]]:
        workers: list[dict[str, Any]] = self._send("GET", "/v1/workers")
        return workers

    def jobs(self, status: list[str] | None = None, limit: int = 50) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        result: dict[str, Any] = self._send("GET", "/v1/jobs", params=params)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", f"/v1/jobs/{job_id}")
        return result

    def cancel(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", f"/v1/jobs/{job_id}/cancel")
        return result

    def embed(self, model_id: str, files: list[Path], normalize: bool = False) -> dict[str, Any]:
        upload = [("files", (f.name, f.read_bytes())) for f in files]
        data = {"normalize": "true" if normalize else "false"}
        result: dict[str, Any] = self._send(
            "POST", f"/v1/models/{model_id}/embed", files=upload, data=data
        )
        return result
