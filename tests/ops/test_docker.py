"""The deployment files agree with the settings (no Docker engine runs here):
every variable settings.py reads is in docker/.env.example and the README's
table; the compose file parses and references only services it defines."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest

from ops.management.commands.serve import server_options
from tests.support.profile import use_profile
from tests.support.settings_files import ROOT, example_entries, settings_variables

COMPOSE = ROOT / "docker" / "compose.yaml"


def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("ruamel.yaml")
    loaded = yaml.YAML(typ="safe").load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_it_reads_dozens_of_variables_from_settings() -> None:
    # Guards the regex that finds them: a broken pattern would pass every test below.
    variables = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "BALROG_PRODUCTION", "BALROG_WS_QUEUE_MAX"} <= variables
    assert len(variables) > 30


def test_it_lists_every_settings_variable_in_the_env_example() -> None:
    assert sorted(settings_variables() - set(example_entries())) == []


def test_it_lists_every_settings_variable_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", table))
    assert sorted(settings_variables() - documented) == []


def test_it_parses_the_compose_file_and_references_only_defined_services() -> None:
    spec = compose()
    services: dict[str, Any] = spec["services"]
    assert {"web", "worker", "gpu-worker", "vllm", "postgres", "redis", "flower", "migrate"} <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in spec.get("volumes", {}), (name, source)
    assert services["flower"]["profiles"] == ["flower"]
    assert services["gpu-worker"]["profiles"] == ["gpu"]


def test_it_runs_every_app_role_from_the_one_image_with_the_env_file() -> None:
    services = compose()["services"]
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    for name in ("web", "worker", "gpu-worker", "migrate"):
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert service["env_file"] == ".env"
        role = service["command"][0]
        assert f"\n  {role})" in entrypoint, role


def test_it_serves_the_web_role_with_the_projects_server_command() -> None:
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert "exec python manage.py serve --host 0.0.0.0 --port 8000 --proxy-headers" in entrypoint


def test_it_gives_the_server_the_guards_websocket_size_limit(settings: Any) -> None:
    settings.BALROG_WS_MAX_MESSAGE_BYTES = 12345
    options = server_options(host="0.0.0.0", port=8000, workers=1, proxy_headers=True)
    assert options["ws_max_size"] == 12345
    assert options["ws"] == "websockets-sansio" and options["ws_max_queue"] <= 64
    assert options["forwarded_allow_ips"] == settings.BALROG_FORWARDED_ALLOW_IPS


def test_it_builds_on_python_311_with_the_compiler_and_the_setuptools_pin() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm", dockerfile, re.MULTILINE)
    assert "build-essential" in dockerfile
    assert '"setuptools<82"' in dockerfile
    assert "manage.py prepare_games" in dockerfile
    assert "USER balrog" in dockerfile


def test_it_refuses_several_server_processes_on_the_in_memory_channel_layer(settings: Any) -> None:
    from django.core.management import CommandError, call_command

    # The profile that settings built at start-up decides; this run may have either (CI runs both).
    use_profile(settings, redis_url="")
    with (
        mock.patch("uvicorn.run", side_effect=AssertionError("started a server")),  # never hang on a regression
        pytest.raises(CommandError, match="needs REDIS_URL"),
    ):
        call_command("serve", "--workers", "2")
