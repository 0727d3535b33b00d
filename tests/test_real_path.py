"""The real-key path: `delegate run` with ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL set talks
to a Messages-API server on loopback (here `delegate simulator`) through the SDK, exactly
as it would talk to the Anthropic API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.cli import main

KEY = "sk-ant-test-0123456789-do-not-store"


@pytest.fixture
def simulator_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "simulator", "--port", "0", "--tokens-per-s", "50000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "simulator (scenario default) on http://127.0.0.1:N"
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"simulator did not start: {line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_run_with_a_key_uses_the_endpoint_and_never_stores_the_key(
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", simulator_url)
    db = tmp_path / "runs.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    code = main(
        ["run", "Build a landing page", "--json", "--db", str(db), "--workspace", str(workspace)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["status"] == "done"
    assert "Simulated models" not in captured.err  # the app did not use its own simulator
    assert main(["history", "--json", "--db", str(db)]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["simulated"] is False
    assert (workspace / "deliverables").is_dir()  # sub-agents wrote files for real
    for path in tmp_path.iterdir():
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in captured.err and KEY not in captured.out
