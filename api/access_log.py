"""The API's access log without query strings: a key sent as ``?api_key=`` (or any other
secret in a URL) must not land in log files."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class DropQueryString(logging.Filter):
    """Cut ``?...`` from the path of uvicorn's access records (its args are
    ``(client, method, path, http version, status)``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def without_query_strings() -> dict[str, Any]:
    """uvicorn's default logging configuration with ``DropQueryString`` on the access log."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query_string"] = {"()": DropQueryString}
    config["handlers"]["access"]["filters"] = ["drop_query_string"]
    return config
