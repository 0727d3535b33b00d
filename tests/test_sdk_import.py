"""The SDK as delegate imports it: without its optional aiohttp transport (core/__init__.py),
which no request of ours uses, and still whole for everything we do use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = """
import sys
import tui.cli, core.llm, core.http_client
import anthropic
assert "aiohttp" not in sys.modules, "aiohttp was imported"
client = anthropic.AsyncAnthropic(
    api_key="placeholder", base_url="http://127.0.0.1:9",
    http_client=core.http_client.make_http_client(base_url="http://127.0.0.1:9"),
)
assert isinstance(client._client, anthropic.DefaultAsyncHttpxClient)
try:
    anthropic.DefaultAioHttpClient()
except RuntimeError as exc:
    print("aiohttp client:", exc)
import aiohttp  # the package itself is still there for whoever needs it (delegate serve)
print("ok")
"""


def test_the_sdk_loads_without_aiohttp_in_a_fresh_process() -> None:
    # A fresh interpreter: this one imported the SDK (with aiohttp) long ago.
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ok"
    assert "must have installed the package with the `aiohttp` extra" in done.stdout
