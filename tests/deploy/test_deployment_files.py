"""No Docker engine runs here, so check the deployment files with what can run."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.main import get_command

from api.cli import app

ROOT = Path(__file__).resolve().parents[2]


def cli_has(words: list[str]) -> bool:
    command = get_command(app)
    for word in words:
        commands = getattr(command, "commands", {})
        if word not in commands:
            return False
        command = commands[word]
    return True


def test_every_compose_command_exists_in_the_cli() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ours = {name: s for name, s in compose["services"].items() if "build" in s}
    assert set(ours) == {"migrate", "api", "worker", "ingest"}
    for name, service in ours.items():
        assert service["command"][0] == "sslpt", name
        words = [w for w in service["command"][1:] if not w.startswith("-")]
        if "--queue" in service["command"]:
            words.remove(service["command"][service["command"].index("--queue") + 1])
        assert cli_has(words), f"{name}: {service['command']}"
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        env = service["environment"]
        assert env["SSLPT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["SSLPT_BROKER_URL"].startswith("redis://")


def test_worker_reserves_a_gpu() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    devices = compose["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_dockerfiles_pin_the_project_torch_and_run_the_cli() -> None:
    for name in ("api.Dockerfile", "worker.Dockerfile"):
        text = (ROOT / "docker" / name).read_text()
        assert "torch==2.14.1" in text and "torchvision==0.29.1" in text
        assert 'CMD ["sslpt",' in text


def test_the_ingest_service_consumes_the_ingest_queue() -> None:
    from api.core.queue import INGEST_QUEUE

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["ingest"]["command"]
    assert command[command.index("--queue") + 1] == INGEST_QUEUE
    assert "deploy" not in compose["services"]["ingest"]  # no GPU for unpacking
