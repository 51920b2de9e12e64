"""``sslpt keys create/list/revoke`` and the key ``sslpt up`` makes for the embedded mode."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app
from api.cli.service import _local_key
from api.core.settings import Settings, get_settings
from api.main import create_app
from tests.keys import bearer, create_key


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SSLPT_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield settings  # type: ignore[misc]
    get_settings.cache_clear()


def test_keys_are_created_listed_and_revoked_from_the_command_line(
    cli_settings: Settings,
) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    created = runner.invoke(app, ["keys", "create", "--tenant", "team-d", "--name", "laptop"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sslpt_")
    recheck = cli_settings.model_copy(update={"key_recheck_seconds": 0.5})
    with TestClient(create_app(recheck, run_reconciler=False)) as client:
        me = client.get("/v1/me", headers=bearer(key))
        assert me.json()["tenant"] == "team-d"

        listed = runner.invoke(app, ["keys", "list", "--tenant", "team-d"])
        assert listed.exit_code == 0 and key[:14] in listed.stdout
        assert key not in listed.stdout  # only the prefix is ever shown again

        revoked = runner.invoke(app, ["keys", "revoke", key[:14]])
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
        # Revoked outside the API process: refused once the process checks the key again.
        time.sleep(0.6)
        assert client.get("/v1/me", headers=bearer(key)).status_code == 401
    missing = runner.invoke(app, ["keys", "revoke", "sslpt_nothing"])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["keys", "create", "--tenant", "Not A Slug"])
    assert bad.exit_code != 0


def test_the_embedded_mode_makes_one_local_admin_key_and_keeps_it(settings: Settings) -> None:
    key = _local_key(settings)
    path: Path = settings.local_key_file
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _local_key(settings) == key  # the next start reuses it
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        assert client.get("/v1/me", headers=bearer(key)).json() == {
            "tenant": "local",
            "key_prefix": key[:14],
            "admin": True,
            "operator": True,
            "stored_bytes": 0,
            "max_storage_bytes": None,
        }
    path.write_text("sslpt_revoked_or_foreign\n")
    assert _local_key(settings) != "sslpt_revoked_or_foreign"  # a dead key is replaced


def test_an_older_local_key_without_the_operator_scope_is_replaced(settings: Settings) -> None:
    old = create_key(settings, "local", admin=True)
    settings.local_key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.local_key_file.write_text(old + "\n")
    new = _local_key(settings)
    assert new != old
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        assert client.get("/v1/me", headers=bearer(new)).json()["operator"] is True
