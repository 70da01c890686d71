"""Real gunicorn, two sync workers, on a free loopback port and a temporary SQLite store.

The server is started once per session (booting takes a second or two) and is
always stopped afterwards, even when a test fails: SIGTERM first, then SIGKILL
to its whole process group, every wait bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from logbook.config import Settings
from tests.stores import count_stored_events, store_environ

VENV_BIN = Path(sys.executable).parent
WORKERS = 2
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 10.0
LEAKY_VARIABLES = ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")
"""Settings of a developer's shell that must not reach the server under test."""


@dataclass(frozen=True)
class Server:
    base_url: str
    admin_token: str
    data_dir: Path
    log_file: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def post(self, path: str, token: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(self.url(path), json=body, headers=bearer(token), timeout=REQUEST_TIMEOUT_SECONDS)

    def get(self, path: str, token: str) -> requests.Response:
        return requests.get(self.url(path), headers=bearer(token), timeout=REQUEST_TIMEOUT_SECONDS)

    def log(self) -> str:
        """Everything gunicorn and the workers wrote, standard output and error together."""
        return self.log_file.read_text(errors="replace")

    def count_events(self, originator_id: uuid.UUID | None = None) -> int:
        """Counts the stored events straight from the store, not through the server."""
        return count_stored_events(Settings.from_environ(_environment(self.data_dir)), originator_id)


@dataclass(frozen=True)
class Worker:
    """A worker of a fresh team, with the team's shared profile."""

    token: str
    account_id: str
    team_id: str
    profile_id: str

    def contact(self, client_ref: str, minutes_ago: int = 5, **facts: Any) -> dict[str, Any]:
        """The body of a contact through the team's shared profile, ``minutes_ago`` before now."""
        occurred_at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
        return {
            "client_ref": client_ref, "profile_id": self.profile_id, "direction": "inbound",
            "nature": "keeping_in_touch", "occurred_at": occurred_at.isoformat(), **facts,
        }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("e2e")
    env = _environment(home / "data")
    admin_token = _init_store(env, home)
    with _gunicorn(env, home) as (base_url, log_file):
        yield Server(base_url, admin_token, home / "data", log_file)


@pytest.fixture(scope="session")
def projector(server: Server) -> Iterator[subprocess.Popen[bytes]]:
    """`logbook projections run` on the server's store, as the Procfile's worker: line runs it."""
    env = _environment(server.data_dir)
    process = subprocess.Popen(
        [str(VENV_BIN / "logbook"), "projections", "run"], env=env, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    assert process.stderr is not None and b"following" in process.stderr.readline()
    yield process
    process.terminate()
    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0


@pytest.fixture
def worker(server: Server) -> Worker:
    """A worker of a fresh team, with the team's shared profile, set up by the admin over HTTP."""
    suffix = uuid.uuid4().hex[:8]
    team_id, account_id, profile_id = f"jac-{suffix}", f"worker-{suffix}", f"shared-{suffix}"
    _created(server, "/api/v1/teams", {
        "team_id": team_id, "name": "JAC Oostende", "organisation": "caw-nwvl",
        "site": "Oostende", "service": "jac",
    })
    account = _created(server, "/api/v1/accounts", {
        "account_id": account_id, "name": "Lotte", "role": "worker",
        "team_id": team_id, "function": "counsellor",
    })
    _created(server, "/api/v1/profiles", {
        "profile_id": profile_id, "channel": "messenger", "kind": "shared",
        "team_id": team_id, "users": [account_id],
    })
    return Worker(account["token"], account_id, team_id, profile_id)


def _created(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = server.post(path, server.admin_token, body)
    assert response.status_code == 201, response.text
    return response.json()


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGBOOK_") and k not in LEAKY_VARIABLES}
    env["LOGBOOK_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env | store_environ(data_dir)


def _init_store(env: dict[str, str], cwd: Path) -> str:
    """Runs `logbook init` and returns the admin token it prints."""
    result = subprocess.run(
        [str(VENV_BIN / "logbook"), "init"], env=env, cwd=cwd,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextmanager
def _gunicorn(env: dict[str, str], cwd: Path) -> Iterator[tuple[str, Path]]:
    """Starts gunicorn, waits until /healthz answers, and stops it on the way out."""
    log_file = cwd / "gunicorn.log"
    port = _free_port()
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            _gunicorn_argv(port), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, base_url, log_file)
        yield base_url, log_file
    finally:
        _stop(process)


def _gunicorn_argv(port: int) -> list[str]:
    argv = [
        str(VENV_BIN / "gunicorn"), "--config", "python:logbook.gunicorn_config",
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
    ]
    if _gunicorn_has_setting("control_socket_disable"):
        # gunicorn 24+ opens a control socket under ~/.gunicorn, shared by every instance.
        argv.append("--no-control-socket")
    return [*argv, "api:create_app()"]


def _gunicorn_has_setting(name: str) -> bool:
    import gunicorn.config

    return any(setting.name == name for setting in gunicorn.config.KNOWN_SETTINGS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log_file.read_text()}")
        try:
            if requests.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or another listener on the port
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer /healthz in {START_TIMEOUT_SECONDS} s:\n{log_file.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (it stops its workers); SIGKILL to its process group if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # not reaped yet, so the group is still ours
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
