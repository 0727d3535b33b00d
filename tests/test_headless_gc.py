"""`delegate run` tunes the garbage collector as the TUI does (start-up frozen, a larger
first generation): untuned, the full collections of a many-agent run held its loop for
up to half a second each (bench.scale, 500 agents over HTTP)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.cli import main


@pytest.fixture
def untuned_gc() -> Iterator[None]:
    """The collector as Python starts it; restored to what it was after the test."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_headless_run_tunes_the_collector(
    untuned_gc: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[simulator]\ntokens_per_s = 50000\nlatency_s = 0\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    assert gc.get_freeze_count() == 0
    code = main([
        "run", "Research competitors and build a landing page", "--quiet", "--simulate",
        "--config", str(config), "--workspace", str(workspace), "--db", str(tmp_path / "r.db"),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert gc.get_threshold() == (10_000, 20, 10)
    assert gc.get_freeze_count() > 0  # what start-up left alive is never scanned again
