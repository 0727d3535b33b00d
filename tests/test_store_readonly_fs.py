"""A run database on a read-only filesystem can still be read (history, show, stats)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store_support import record
from tests.test_scorecard import RUNS
from tui.cli import main


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "ro"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)], capture_output=True
    )
    if done.returncode != 0 or not os.path.ismount(point):
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_history_show_and_stats_read_a_database_on_a_read_only_mount(
    mount: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = mount / "runs.db"
    asyncio.run(record(db, *RUNS))
    ro = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True)
    if ro.returncode != 0:
        pytest.skip(f"cannot remount read-only: {ro.stderr.decode().strip()}")
    assert not os.access(mount, os.W_OK)
    capsys.readouterr()
    assert main(["history", "--json", "--db", str(db)]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == len(RUNS)
    assert main(["show", runs[0]["run_id"], "--json", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == runs[0]["run_id"]
    assert main(["stats", "--json", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)
