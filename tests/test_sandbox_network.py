"""The network is off inside the sandbox: a server on the host's loopback gets nothing
from an agent's command. A role with `network = true` reaches it (so the test can fail)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import parse_config
from tests.sandbox_support import agent_run, layout, needs_sandbox

pytestmark = needs_sandbox


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes], threading.Event]]:
    """A loopback TCP server that records what each connection sends."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    got: list[bytes] = []
    stop = threading.Event()
    received = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    got.append(conn.recv(1024))
                except OSError:
                    got.append(b"")
                received.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], got, received
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _client(port: int) -> str:
    return (
        "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f"{port}), 3); s.sendall(b'leak'); print('sent')\""
    )


@pytest.mark.parametrize("network", [False, True])
async def test_loopback_server_gets_nothing_unless_the_role_allows_network(
    tmp_path: Path, listener: tuple[int, list[bytes], threading.Event], network: bool
) -> None:
    port, got, received = listener
    ws, _ = layout(tmp_path)
    table = {"roles": {"coding": {"network": network}}}
    settings = parse_config(table).with_overrides(workspace=ws, simulate=True, assume_yes=True)
    run = await agent_run(settings, [("run_command", {"command": _client(port)})])
    (output,) = run.outputs()
    if network:
        assert "sent" in output
        assert received.wait(5)
        assert got == [b"leak"]
    else:
        assert "sent" not in output
        assert "Connection refused" in output or "Network is unreachable" in output
        assert not received.is_set() and got == []
