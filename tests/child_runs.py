"""Helpers for tests that run `delegate` in a child process: a loopback simulator, and
waiting until a child's run has sub-agents streaming."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from core.store import Store


@contextlib.contextmanager
def loopback_simulator(*args: str) -> Iterator[str]:
    """`delegate simulator --port 0 ARGS` in a child process; yields its base URL."""
    argv = [sys.executable, "-m", "tui.cli", "simulator", "--port", "0", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "simulator (scenario …) on http://127.0.0.1:N"
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"simulator did not start: {line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


async def wait_for_running_agents(
    db: Path, proc: subprocess.Popen[bytes], *, streamed: bool = False
) -> str:
    """Poll the child's database until two sub-agents run (and, if `streamed`, have
    produced output); returns the run id."""
    for _ in range(400):
        assert proc.poll() is None, "the run ended before it could be killed"
        if db.exists():
            store = await Store.open_readonly(db)
            try:
                runs = await store.list_runs()
                if runs:
                    agents = await store.agents(runs[0].run_id)
                    running = [a for a in agents if a.agent_id != "ceo" and a.state == "running"]
                    if len(running) >= 2 and (
                        not streamed or all(a.output_tokens > 0 for a in running)
                    ):
                        return runs[0].run_id
            finally:
                await store.close()
        await asyncio.sleep(0.05)
    raise AssertionError("no running agents appeared")
