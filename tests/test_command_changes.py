"""Files a command changes count as changes: evidence, and the run's verification."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from core import workspace_scan
from core.events import CommandRan, Event, FileChanged
from core.evidence import ToolRecorder
from core.outcome import Verification
from core.tools.base import ToolContext, ToolResult
from tests.scripted import allow_all
from tests.test_evidence import _agent_doing


async def test_a_command_that_edits_creates_and_deletes_files_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (tmp_path / "old.txt").write_text("bye")
    (tmp_path / "same.txt").write_text("untouched")
    rec, book = await _agent_doing(
        tmp_path,
        [
            (
                "run_command",
                {
                    "command": "sed -i 's/a - b/a + b/' calc.py && mkdir -p out"
                    " && printf '[1]' > out/data.json && rm old.txt"
                    " && mkdir -p __pycache__ && echo x > __pycache__/c.pyc"
                },
            ),
            ("run_command", {"command": "cat calc.py"}),  # reads only: no change
        ],
    )
    files = rec.of(FileChanged)
    got = [(f.tool, f.path, f.change) for f in files]
    assert got == [
        ("run_command", "calc.py", "modified"),
        ("run_command", "old.txt", "deleted"),
        ("run_command", "out/data.json", "created"),
    ]
    by_path = {f.path: f for f in files}
    assert by_path["out/data.json"].sha256_after == hashlib.sha256(b"[1]").hexdigest()
    assert by_path["out/data.json"].sha256_before is None
    assert (
        by_path["calc.py"].sha256_after
        == hashlib.sha256((tmp_path / "calc.py").read_bytes()).hexdigest()
    )
    assert by_path["old.txt"].bytes == 0 and by_path["old.txt"].sha256_after == ""
    # The changes come before the command that made them.
    events = rec.events
    first_cmd = next(i for i, e in enumerate(events) if isinstance(e, CommandRan))
    assert all(events.index(f) < first_cmd for f in files)
    block = book.ledger("coding-1", 2).block()
    assert "- calc.py modified by a command" in block
    assert "- old.txt deleted by a command" in block


async def test_a_command_run_after_the_passing_check_makes_the_run_unverified(
    tmp_path: Path,
) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    check = CommandRan(
        run_id="r",
        agent_id="ceo",
        attempt=1,
        tool="run_check",
        command="true",
        exit_code=0,
        duration_s=0.1,
        timed_out=False,
    )
    rec, _ = await _agent_doing(tmp_path, [("run_command", {"command": "echo 2 > calc.py"})])
    v = Verification.of([check, *rec.events])
    assert v.changes == 1
    assert not v.verified
    assert v.headline() == "not verified: no check ran after the last change"
    v.observe(check)
    assert v.verified


def test_the_scan_follows_no_symlink_and_gives_up_on_a_huge_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link").symlink_to(outside)
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        snap = workspace_scan.snapshot(fd)
        assert snap is not None and set(snap) == {"link"}  # the link itself, not its target
        many = ws / "many"
        many.mkdir()
        for i in range(60):
            (many / str(i)).touch()
        monkeypatch.setattr(workspace_scan, "MAX_ENTRIES", 50)
        assert workspace_scan.snapshot(fd) is None
    finally:
        os.close(fd)


async def test_the_runs_database_in_the_workspace_is_not_a_change(tmp_path: Path) -> None:
    events: list[Event] = []
    recorder = ToolRecorder(
        run_id="r",
        agent_id="coding-1",
        attempt=1,
        emit=events.append,
        unscanned=(tmp_path / "runs.db",),
    )
    ctx = ToolContext(workspace=tmp_path, agent_id="coding-1", authorize=allow_all)
    args = {"command": "make"}
    probe = await recorder.before("run_command", args, ctx)
    for name in ("runs.db", "runs.db-wal", "runs.db-shm", "build.log"):
        (tmp_path / name).write_text("x")
    await recorder.after(probe, ToolResult("exit code 0", data={"exit_code": 0}))
    assert [(type(e).__name__, getattr(e, "path", "")) for e in events] == [
        ("FileChanged", "build.log"),
        ("CommandRan", ""),
    ]


async def test_a_workspace_too_big_to_scan_counts_every_command_as_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hostile model could make many files first to blind the scan: then the command's
    # effect is unknown, and an unknown effect is a change.
    monkeypatch.setattr(workspace_scan, "MAX_ENTRIES", 5)
    for i in range(10):
        (tmp_path / f"f{i}").touch()
    rec, book = await _agent_doing(tmp_path, [("run_command", {"command": "echo x > f1"})])
    files = rec.of(FileChanged)
    assert [(f.path, f.change) for f in files] == [(".", "unknown")]
    assert Verification.of(rec.events).changes == 1
    assert "what a command changed is not known" in book.ledger("coding-1", 2).block()
