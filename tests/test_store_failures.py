"""The store never fails silently.

- Writing becomes impossible mid-run (disk full, simulated in-process with SQLite's
  `max_page_count`, and for real on a small tmpfs in a child `delegate run`): one line,
  the run stops as `failed`, exit 1, no traceback.
- A database that is not ours or is damaged (`schema_version` 'abc', a dropped table,
  another program's tables): every command that opens it says "not a delegate database
  (or a damaged one)" in one line and exits 2, in a child process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import events as ev
from core.config import Settings
from core.events import AgentStateChanged, Notice
from core.session import Session
from core.store import Store, StoreError
from tests.child_runs import wait_for_running_agents
from tests.scripted import Recorder
from tests.test_cli_errors import COMMANDS, _record_run
from tui.cli import main

NOT_OURS = "not a delegate database (or a damaged one)"
SLOW = "load:agents=3,tps=40,seconds=30"


async def test_disk_full_mid_run_stops_the_run_once_without_tracebacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "runs.db"
    store = await Store.open(db)
    failures: list[StoreError] = []
    session = Session(
        Settings(workspace=tmp_path, simulate=True, scenario=SLOW, sim_tokens_per_s=40),
        interactive=False,
    )

    def cannot_record(error: StoreError) -> None:
        failures.append(error)
        session.abort(str(error))

    store.on_failure(cannot_record)
    session.bus.subscribe(store.append)
    rec = Recorder(session.bus)
    caplog.set_level(logging.DEBUG)
    session.start("stream for a while")
    await rec.wait_for(
        lambda e: isinstance(e, AgentStateChanged) and e.agent_id != "ceo" and e.state == "running"
    )
    await store.flush()
    # The connection's own limit: the next pages the log needs are refused as "full".
    await store._db.execute("PRAGMA max_page_count = 1")
    outcome = await asyncio.wait_for(session.wait_finished(), 20)
    await session.close()
    assert outcome.status == "failed"
    assert len(failures) == 1
    assert str(failures[0]) == f"cannot write the run's events: disk full ({db})"
    with pytest.raises(StoreError, match="disk full"):
        await store.flush()
    store.append(Notice(run_id=outcome.run_id, text="after the failure"))  # dropped, no raise
    assert store.stats.failed_events > 0
    await store.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert len([r for r in caplog.records if r.name.startswith("core.store")]) <= 1
    ceo = [e for e in rec.of(AgentStateChanged, "ceo") if e.state == "failed"]
    assert ceo and "disk full" in ceo[-1].reason


@contextlib.contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI here runs as root)")
    where = Path(tempfile.mkdtemp(prefix="delegate-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def _fill(where: Path) -> None:
    with (where / "filler").open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_disk_full_on_a_tmpfs_ends_the_headless_run_failed(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[simulator]\ntokens_per_s = 40\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with small_tmpfs("4m") as mount:
        db = mount / "runs.db"
        argv = [sys.executable, "-m", "tui.cli", "run", "Summarise the notes", "--simulate"]
        argv += ["--json", "--scenario", SLOW, "--db", str(db), "--workspace", str(workspace)]
        argv += ["--config", str(config)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            asyncio.run(wait_for_running_agents(db, proc))
            _fill(mount)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    stderr = err.decode()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    failures = [ln for ln in stderr.splitlines() if ln.startswith("delegate: cannot write")]
    assert failures == [f"delegate: cannot write the run's events: disk full ({db})"], stderr
    summary = json.loads(out)
    assert summary["status"] == "failed"
    assert summary["error"] == f"cannot write the run's events: disk full ({db})"


def _damage_schema_version(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
        conn.commit()


def _drop_table(table: str):  # type: ignore[no-untyped-def]
    def damage(db: Path) -> None:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute(f"DROP TABLE {table}")
            conn.commit()

    return damage


def _foreign(db: Path) -> None:
    db.unlink()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        conn.commit()


DAMAGES = {
    "schema_version abc": _damage_schema_version,
    "dropped agents": _drop_table("agents"),
    "dropped events": _drop_table("events"),
    "another program's database": _foreign,
}


def _damaged_db(tmp_path: Path, damage: str) -> Path:
    db = tmp_path / "runs.db"
    asyncio.run(_record_run(db))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    DAMAGES[damage](db)
    (tmp_path / "ws").mkdir()
    return db


# In child processes (each `delegate` costs seconds here): every command on a bad
# schema_version, two on a dropped table; in-process below: every command on every damage.
CHILD_CASES = [("schema_version abc", c) for c in COMMANDS] + [
    ("dropped events", "run"),
    ("dropped agents", "history"),
]


@pytest.mark.parametrize(("damage", "command"), CHILD_CASES)
def test_a_damaged_database_in_a_child_process(damage: str, command: str, tmp_path: Path) -> None:
    db = _damaged_db(tmp_path, damage)
    before = db.read_bytes()
    argv = [sys.executable, "-m", "tui.cli", *COMMANDS[command], "--db", str(db)]
    done = subprocess.run(
        [*argv, "--workspace", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"delegate: {NOT_OURS}: {db}"], done.stderr
    assert db.read_bytes() == before  # nothing was written or "repaired"


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_damaged_database_is_one_line_and_exit_2_for_every_command(
    damage: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _damaged_db(tmp_path, damage)
    before = db.read_bytes()
    argv = [*COMMANDS[command], "--db", str(db), "--workspace", str(tmp_path / "ws")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"delegate: {NOT_OURS}: {db}"], err
    assert db.read_bytes() == before


async def test_a_dropped_table_is_caught_when_opening(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    await _record_run(db)
    _drop_table("attempts")(db)
    for opener in (Store.open, Store.open_readonly):
        with pytest.raises(StoreError, match="not a delegate database"):
            await opener(db)
    store = None
    with contextlib.suppress(StoreError):
        store = await Store.open(tmp_path / "fresh.db")  # a new file is still fine
    assert store is not None
    store.append(ev.Notice(run_id="r", text="x"))
    await store.close()
