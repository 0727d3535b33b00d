"""The API key never leaves the process: not in the database, exports, stderr, logs or
error messages, not even when the server refuses it (401) or an agent prints its
environment. The database the CLI creates is readable by its owner only."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.child_runs import loopback_simulator
from tui.cli import main

KEY = "sk-ant-api03-TRUSTBOUNDARY-7f3a9c1e5b-never-store-me"
ENV_MARKER = "DELEGATE_TEST_VISIBLE_VAR"


@pytest.fixture
def env_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "env.toml"
    path.write_text(
        'plan = "One agent looks around."\n'
        "retry_failed = false\n"
        "[[agents]]\n"
        'role = "data"\n'
        'task = "Print the environment."\n'
        'commands = ["echo env; env"]\n'
        'report = "Printed it."\n'
    )
    return path


@pytest.fixture
def simulator_url(env_scenario: Path) -> Iterator[str]:
    with loopback_simulator("--tokens-per-s", "50000", "--scenario", str(env_scenario)) as url:
        yield url


class _Refuse(BaseHTTPRequestHandler):
    """Answers every request 401, as the API does for a bad key; counts the requests."""

    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps(
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            }
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _scan(directory: Path, *texts: str) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    for text in texts:
        assert KEY not in text
        assert KEY[-20:] not in text  # no partial echo either


def test_key_stays_out_of_db_exports_logs_and_tool_output(
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", simulator_url)
    monkeypatch.setenv(ENV_MARKER, "visible")
    # The default database, in the user data dir the store creates (a --db must name
    # a file in a folder that exists, so that folder would be the user's).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DELEGATE_DB", raising=False)
    data = tmp_path / "xdg" / "delegate"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[sandbox]\nenv = ["{ENV_MARKER}"]\n')  # the one name let through
    common = ["--workspace", str(workspace), "--config", str(config)]
    code = main(["run", "Print the environment", "--json", "--yes", *common])
    run = capsys.readouterr()
    assert code == 1, run.err  # answered without a check: unverified
    assert json.loads(run.out)["status"] == "unverified"
    run_id = json.loads(run.out)["run_id"]

    assert main(["show", run_id, "--markdown", *common]) == 0
    markdown = capsys.readouterr()
    assert f"{ENV_MARKER}=visible" in markdown.out  # the agent really printed its environment
    assert "ANTHROPIC_BASE_URL" not in markdown.out  # ... an allow-listed copy of it
    assert main(["show", run_id, "--json", *common]) == 0
    exported = capsys.readouterr()
    assert main(["history", "--json", *common]) == 0
    history = capsys.readouterr()

    # The database, its directory and its -wal/-shm companions are private.
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    outputs = [run.out, run.err, markdown.out, markdown.err, exported.out, history.out]
    _scan(tmp_path, *outputs, caplog.text)


def test_refused_key_is_one_line_without_the_key(
    refusing_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", refusing_url)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    common = ["--db", str(tmp_path / "runs.db"), "--workspace", str(workspace)]
    code = main(["run", "Anything", "--json", "--quiet", *common])
    run = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in run.err
    assert _Refuse.hits <= 2  # no retry storm on a bad key
    assert main(["show", "last", "--markdown", *common]) == 0
    markdown = capsys.readouterr()
    _scan(tmp_path, run.out, run.err, markdown.out, caplog.text)
