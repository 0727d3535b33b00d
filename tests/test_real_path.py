"""The real-key path: `delegate run` with ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL set talks
to a Messages-API server on loopback (here `delegate simulator`) through the SDK, exactly
as it would talk to the Anthropic API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.child_runs import loopback_simulator
from tui.cli import main

KEY = "sk-ant-test-0123456789-do-not-store"


@pytest.fixture
def simulator_url() -> Iterator[str]:
    with loopback_simulator("--tokens-per-s", "50000") as url:
        yield url


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
