"""A run that ended mid-reply keeps its usage marked as estimated in the database (schema
2): history, show (table, markdown, JSON) and replay say `~` where the live view did; a
database of schema 1 still opens (read-only as it is; writable, migrated in place)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable

from core import events as ev
from core.events import Event
from core.store import Store
from core.store_schema import SCHEMA_VERSION
from tests.store_support import record
from tui.cli import main
from tui.screens.history import HistoryScreen
from tui.view_model import RunView, fmt_output, fmt_spend

OPUS = "claude-opus-5-5"


def _run(run_id: str, *, estimated: bool) -> list[Event]:
    """The CEO and one agent whose reply was cut (killed) while it streamed."""
    out: list[Event] = [
        ev.RunStarted(run_id=run_id, ts=1.0, task="t", workspace="/w", ceo_model=OPUS,
                      simulated=True, max_concurrent=5),
    ]  # fmt: skip
    for agent, tokens in (("ceo", 40), ("coding-1", 1234)):
        a: dict[str, Any] = {"run_id": run_id, "agent_id": agent}
        out += [
            ev.AgentSpawned(**a, role="ceo" if agent == "ceo" else "coding", model=OPUS,
                            task="t", attempt=1),
            ev.AgentStateChanged(**a, state="running"),
            ev.UsageUpdated(**a, attempt=1, input_tokens=100, output_tokens=tokens,
                            cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.0123,
                            estimated=estimated and agent != "ceo"),
            ev.AgentStateChanged(**a, state="killed"),
            ev.AgentFinished(**a, state="killed", result="", elapsed_s=3.0, attempt=1),
        ]  # fmt: skip
    out.append(ev.RunFinished(run_id=run_id, status="cancelled", result="", cost_usd=None))
    return out


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert await asyncio.to_thread(main, list(argv)) == 0
    return capsys.readouterr().out


async def test_an_estimate_is_shown_as_one_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    await record(db, _run("cut-1", estimated=True), _run("whole-1", estimated=False))
    fast = ["--db", str(db)]
    history = (await _cli(capsys, "history", *fast)).splitlines()
    cut = next(line for line in history if line.startswith("cut-1"))
    whole = next(line for line in history if line.startswith("whole-1"))
    assert "~$0.0246" in cut and "~" not in whole
    shown = await _cli(capsys, "show", "cut-1", *fast)
    assert "~1,234" in shown and "~$0.0123" in shown and "total: ~$0.0246" in shown
    assert "~" not in await _cli(capsys, "show", "whole-1", *fast)
    markdown = await _cli(capsys, "show", "cut-1", "--markdown", *fast)
    assert "**Cost:** ~$0.0246" in markdown and "| ~1,234 | ~$0.0123 |" in markdown
    summary = json.loads(await _cli(capsys, "show", "cut-1", "--json", *fast))
    assert summary["estimated"] is True
    coder = next(a for a in summary["agents"] if a["id"] == "coding-1")
    assert coder["estimated"] is True
    assert "estimated" not in json.loads(await _cli(capsys, "show", "whole-1", "--json", *fast))
    # Replay: the same events, so the same marks as the live view.
    store = await Store.open_readonly(db)
    try:
        view = RunView()
        for event in await store.events("cut-1"):
            view.apply(event)
        assert fmt_output(view.agents["coding-1"].tokens).startswith("~")
        assert fmt_spend(view.agents["coding-1"].tokens).startswith("~")
        # A resumed run's projection is rebuilt from the rows: the mark comes back too.
        [row] = [r for r in await store.list_runs(limit=5) if r.run_id == "cut-1"]
        assert row.estimated
        agents = {a.agent_id: a for a in await store.agents("cut-1")}
        assert agents["coding-1"].estimated and not agents["ceo"].estimated
        # The TUI's history screen (h) too.
        rows = await store.list_runs(limit=5)
        async with App[None]().run_test(size=(100, 20)) as pilot:
            screen = HistoryScreen(None, rows)
            await pilot.app.push_screen(screen)
            await pilot.pause()
            table = screen.query_one(DataTable)
            cells = {str(table.get_row_at(i)[1]): table.get_row_at(i) for i in range(2)}
            assert "~$0.0246" in map(str, cells["cut-1"])
            assert not any("~" in str(c) for c in cells["whole-1"])
    finally:
        await store.close()


def _make_schema_1(db: Path) -> None:
    """The file as delegate with schema 1 left it: no `estimated` columns."""
    conn = sqlite3.connect(db)
    with conn:
        for table in ("runs", "agents", "attempts"):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN estimated")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()


def _schema(db: Path) -> tuple[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    finally:
        conn.close()
    return version[0], columns


async def test_a_schema_1_database_opens_read_only_as_is_and_migrates_when_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    await record(db, _run("old-1", estimated=False))
    _make_schema_1(db)
    before = _schema(db)
    assert before[0] == "1" and "estimated" not in before[1]
    fast = ["--db", str(db)]
    store = await Store.open_readonly(db)  # replay, or a read-only filesystem: as it is
    try:
        [row] = await store.list_runs(limit=5)
        assert row.run_id == "old-1" and not row.estimated
        assert not any(a.estimated for a in await store.agents("old-1"))
        assert (await store.run_summary("old-1"))["cost_usd"] == pytest.approx(0.0246)
    finally:
        await store.close()
    assert _schema(db) == before
    assert "$0.0123" in await _cli(capsys, "show", "old-1", *fast)  # writable: migrated
    assert _schema(db)[0] == "2"
    await record(db, _run("new-1", estimated=True))  # writable: migrated, then written
    assert _schema(db)[0] == str(SCHEMA_VERSION) == "2"
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT run_id, estimated FROM runs").fetchall())
    finally:
        conn.close()
    assert rows == {"old-1": 0, "new-1": 1}
    history = await _cli(capsys, "history", *fast)
    assert "~$" in history.split("new-1")[1].splitlines()[0]
