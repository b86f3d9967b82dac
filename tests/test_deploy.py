"""deploy/: every file docs/deploy.md shows is loaded here, as far as this machine allows
(no Docker daemon: the image is not built, its parts are checked one by one)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance, QueuedRunCoordinator

from testio_assets.settings import Settings
from tests.pipeline_helpers import BIN, ROOT
from tools.ports import free_loopback_port

DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def instance_settings() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_the_container_instance_settings_load_with_postgres_the_queue_and_docker_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage

    from tests.conftest import postgres_database

    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("TESTIO_DAGSTER_POSTGRES_URL", postgres_database(request))
    with DagsterInstance.get() as instance:
        # Dagster's own storage, as Dagster configures it (a bare postgresql:// URL).
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == ["testio-assets"]
        assert launcher.container_kwargs == {"volumes": ["testio-duckdb:/data"]}
        assert instance.run_monitoring_enabled
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1


def test_without_the_postgres_url_the_container_instance_refuses_to_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing falls back to SQLite files inside a container."""
    from testio_assets.commands.instance import InstanceError, open_instance

    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("TESTIO_DAGSTER_POSTGRES_URL", raising=False)
    with pytest.raises(InstanceError, match="TESTIO_DAGSTER_POSTGRES_URL"):
        open_instance()
    assert not list(tmp_path.rglob("*.db"))


def test_the_same_limits_as_one_machine() -> None:
    local = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert instance_settings()["concurrency"] == local["concurrency"]
    assert local["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}


def test_compose_serves_only_loopback_and_keeps_secrets_out() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "code", "webserver", "daemon"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    text = (DEPLOY / "docker-compose.yaml").read_text()
    # Passwords and the token only ever come from the environment.
    assert re.findall(r"POSTGRES_PASSWORD: (.+)", text) == [
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    ]
    assert ":${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@" in text
    # The token is required: compose refuses to start without it.
    assert "TESTIO_API_TOKEN: ${TESTIO_API_TOKEN:?" in text


def test_every_container_that_loads_the_instance_gets_what_it_needs() -> None:
    services = compose()["services"]
    launcher = instance_settings()["run_launcher"]["config"]
    for name in ("code", "webserver", "daemon"):
        env = services[name]["environment"]
        assert env["TESTIO_DAGSTER_POSTGRES_URL"].startswith("postgresql://dagster:")
        assert "@postgres:5432/dagster" in env["TESTIO_DAGSTER_POSTGRES_URL"]
        assert services[name]["image"] == env["DAGSTER_CURRENT_IMAGE"]
        assert services[name]["networks"] == [launcher["network"]]
    # The launcher passes these from the daemon to each run: unset ones would fail runs.
    assert set(launcher["env_vars"]) <= set(services["daemon"]["environment"])
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["daemon"]["volumes"]


def test_every_setting_reaches_every_container_and_every_run() -> None:
    """A run launched in a container sees what the daemon sees: every setting of the
    settings model is in the containers' environment and in what the launcher passes on."""
    settings = {field.alias for field in Settings.model_fields.values()}
    launched = set(instance_settings()["run_launcher"]["config"]["env_vars"])
    assert settings <= launched, sorted(settings - launched)
    for name in ("code", "daemon"):
        env = set(compose()["services"][name]["environment"])
        assert settings <= env, (name, sorted(settings - env))


def test_the_duckdb_volume_is_the_same_for_the_code_location_and_the_runs() -> None:
    top = compose()
    volume = top["volumes"]["testio-duckdb"]["name"]
    mount = f"{volume}:/data"
    assert mount in top["services"]["code"]["volumes"]
    assert instance_settings()["run_launcher"]["config"]["container_kwargs"]["volumes"] == [mount]
    assert top["networks"]["testio-assets"]["name"] == "testio-assets"
    env = top["services"]["code"]["environment"]
    assert env["TESTIO_DUCKDB_PATH"].startswith("/data/")


def test_the_dockerfile_builds_a_non_root_image_from_the_pinned_tree() -> None:
    lines = dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN pip install"))
    assert "-c constraints.txt" in lines[install] and '".[deploy]"' in lines[install]
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert user > install and lines[user].split()[1] not in ("root", "0")
    for line in lines:
        if line.startswith("COPY"):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server["host"] in compose()["services"]
    assert f"EXPOSE {server['port']}" in lines
    assert lines[-1].startswith('CMD ["dagster", "code-server", "start"')


@pytest.mark.slow
def test_the_images_command_serves_the_code_location(tmp_path: Path) -> None:
    """The Dockerfile's CMD, run here on loopback, answers Dagster's health check."""
    command = yaml.safe_load(dockerfile()[-1].removeprefix("CMD "))
    port = free_loopback_port()
    command[command.index("-h") + 1] = "127.0.0.1"
    command[command.index("-p") + 1] = str(port)
    server = subprocess.Popen(
        [str(BIN / command[0]), *command[1:]],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            check = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                capture_output=True,
                text=True,
            )
            if check.returncode == 0:
                break
            assert server.poll() is None, "the code server exited"
            assert time.monotonic() < deadline, check.stdout + check.stderr
            time.sleep(1)
    finally:
        # Dagster's code server (the proxy and its child) has been seen to ignore SIGTERM
        # in CI; a container runtime follows with SIGKILL, and so does this test, so that
        # no server outlives it.
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)


def helm_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_the_helm_values_run_the_image_module_with_one_secret_everywhere() -> None:
    """The chart itself is not on this machine (docs/deploy.md says the values are unverified):
    what is checked is that they agree with the image and among themselves."""
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    cmd = next(line for line in dockerfile() if line.startswith("CMD"))
    module = cmd.split('"-m", "')[1].split('"')[0]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    secret = [{"name": "testio-assets-settings"}]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    for part in (values["dagsterWebserver"], values["dagsterDaemon"], deployment, launcher):
        assert part["envSecrets"] == secret
    # Runs mount the same volume at the same place as the code location, same file.
    assert launcher["volumes"] == deployment["volumes"]
    assert launcher["volumeMounts"] == deployment["volumeMounts"]
    path = deployment["env"]["TESTIO_DUCKDB_PATH"]
    assert f"TESTIO_DUCKDB_PATH={path}" in launcher["envVars"]
    assert path.startswith(deployment["volumeMounts"][0]["mountPath"] + "/")
    # No secret in the values file itself.
    text = (DEPLOY / "helm" / "values.yaml").read_text()
    assert "TESTIO_API_TOKEN" not in text.replace("# ", "")
    assert not re.search(r"^\s*postgresqlPassword:", text, re.MULTILINE)


def test_the_lake_override_puts_its_catalog_in_the_dagster_server_and_every_container() -> None:
    override = yaml.safe_load((DEPLOY / "docker-compose.lake.yaml").read_text())
    services = override["services"]
    base = compose()["services"]
    assert set(services) <= set(base)
    for name in ("code", "webserver", "daemon"):
        catalog = services[name]["environment"]["TESTIO_DUCKLAKE_CATALOG"]
        assert catalog.startswith("postgresql://dagster:${POSTGRES_PASSWORD:?")
        assert catalog.endswith("@postgres:5432/testio_lake")
    init = services["postgres"]["volumes"][0].split(":")[0]
    sql = (DEPLOY / init.removeprefix("./") / "testio-lake.sql").read_text()
    assert "CREATE DATABASE testio_lake OWNER dagster" in sql
    # Runs get the lake's settings from the daemon's environment (run launcher env_vars).
    launched = set(instance_settings()["run_launcher"]["config"]["env_vars"])
    assert {"TESTIO_DUCKLAKE_CATALOG", "TESTIO_DUCKLAKE_DATA_PATH"} <= launched
