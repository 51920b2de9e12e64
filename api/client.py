"""A small typed HTTP client for the sslpt API (used by the CLI; handy in notebooks)."""

from __future__ import annotations

import errno
import os
from email.message import Message
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


def _error(response: httpx.Response) -> ApiClientError:
    """The error of an (already read) error answer, from its JSON body when it has one."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    return ApiClientError(
        response.status_code,
        str(body.get("code", "http_error")),
        str(body.get("message", response.text[:200])),
        body.get("details"),
    )


def _attachment_name(response: httpx.Response) -> str | None:
    """The file name a Content-Disposition header suggests, without any folder part."""
    header = Message()
    header["content-disposition"] = response.headers.get("content-disposition", "")
    name = Path(header.get_filename() or "").name  # never a path the server chose
    return name if name not in ("", "..") else None


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))


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
            raise _error(response)
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

    def embed(
        self,
        model_id: str,
        files: list[Path],
        normalize: bool = False,
        precision: str | None = None,
    ) -> dict[str, Any]:
        """The files' embeddings; ``precision`` (auto, fp32, bf16) overrides the server's."""
        upload = [("files", (f.name, f.read_bytes())) for f in files]
        data = {"normalize": "true" if normalize else "false"}
        if precision is not None:
            data["precision"] = precision
        result: dict[str, Any] = self._send(
            "POST", f"/v1/models/{model_id}/embed", files=upload, data=data
        )
        return result

    def export(
        self,
        model_id: str,
        fmt: str = "safetensors",
        output: Path | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Stream the model's export zip (``fmt`` file + model card) to disk; its path.

        ``output`` is the file to write, or a folder for the server's file name (default:
        the current folder). An existing file is a FileExistsError unless ``overwrite``.
        """
        named = None if output is None or output.is_dir() else output
        if named is not None:
            _refuse_existing(named, overwrite)  # before the server builds anything
        params = {"format": fmt}
        url = f"/v1/models/{model_id}/export"
        with self._http.stream("GET", url, params=params, timeout=None) as response:
            if response.is_error:
                response.read()
                raise _error(response)
            target = named
            if target is None:
                name = _attachment_name(response) or f"{model_id}-{fmt}.zip"
                target = (output or Path()) / name
                _refuse_existing(target, overwrite)
            partial = target.with_name(f"{target.name}.part")
            try:
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        return target

    def evaluate(self, model_id: str, dataset_id: str) -> dict[str, Any]:
        """Queue a linear probe of the model on a labeled dataset."""
        result: dict[str, Any] = self._send(
            "POST", f"/v1/models/{model_id}/evaluate", json={"dataset_id": dataset_id}
        )
        return result

    def evaluation(self, evaluation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", f"/v1/evaluations/{evaluation_id}")
        return result

    def embed_dataset(self, model_id: str, dataset_id: str) -> dict[str, Any]:
        """Queue the embedding and indexing of a whole dataset, which search needs."""
        result: dict[str, Any] = self._send(
            "POST", f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset_id}
        )
        return result

    def dataset_embedding(self, embedding_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", f"/v1/embeddings/{embedding_id}")
        return result

    def search(
        self,
        model_id: str,
        query: Path | list[float],
        *,
        dataset_id: str | None = None,
        k: int = 10,
    ) -> dict[str, Any]:
        """The ``k`` items of a dataset embedding nearest to an image file or to a vector
        of this model, most similar first (``dataset_id`` default: the newest embedded)."""
        options: dict[str, Any] = {"k": k}
        if dataset_id is not None:
            options["dataset_id"] = dataset_id
        url = f"/v1/models/{model_id}/search"
        if isinstance(query, Path):
            upload = {"file": (query.name, query.read_bytes())}
            result: dict[str, Any] = self._send("POST", url, files=upload, data=options)
        else:
            result = self._send("POST", url, json={"vector": query, **options})
        return result
