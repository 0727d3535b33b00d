"""Bad CLI input for every command that reads the database: one line on stderr, exit 2,
no traceback, and the database file left byte for byte as it was."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import core.store
from core import events as ev
from tests.store_support import record
from tui.cli import main

RUN = "20250101-000000-abcd"
COMMANDS: dict[str, list[str]] = {
    "run": ["run", "a task", "--simulate"],
    "history": ["history"],
    "show": ["show", "last"],
    "replay": ["replay", "last"],
    "resume": ["resume", "last"],
    "stats": ["stats"],
}


async def _record_run(db: Path) -> None:
    await record(db, [
        ev.RunStarted(run_id=RUN, task="t", workspace="/w", ceo_model="m", simulated=True,
                      max_concurrent=5),
        ev.AgentSpawned(run_id=RUN, agent_id="ceo", role="ceo", model="m", task="t"),
        ev.AgentStateChanged(run_id=RUN, agent_id="ceo", state="running"),
        ev.AgentFinished(run_id=RUN, agent_id="ceo", state="done", result="ok", elapsed_s=1.0),
        ev.RunFinished(run_id=RUN, status="done", result="ok", cost_usd=0.0),
    ])  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database holding one finished run, checkpointed so the main file is all of it."""
    path = tmp_path / "runs.db"
    asyncio.run(_record_run(path))
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path


@pytest.fixture(autouse=True)
def no_tui(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case here must fail before a TUI starts; if one does not, fail instead of hanging."""

    async def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("the TUI was launched")

    monkeypatch.setattr("tui.app.DelegateApp.run_async", refuse)
    monkeypatch.setattr(core.store, "BUSY_TIMEOUT_S", 0.2)  # "locked" answers quickly


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured.err)
    assert message in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("delegate: ")
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_flag(command: str, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly([*COMMANDS[command], "--bogus", "--db", str(db)], capsys, "--bogus")


@pytest.mark.parametrize("command", ["show", "replay", "resume"])
def test_unknown_run_id(command: str, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(db.parent)
    _fails_cleanly([command, "nope-nope", "--db", str(db)], capsys, "no run matches 'nope-nope'")
    assert _snapshot(db.parent)[db.name] == before[db.name]


@pytest.mark.parametrize("command", ["show", "replay", "resume"])
def test_unknown_run_id_without_a_database(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    _fails_cleanly([command, "x", "--db", str(missing)], capsys, "no runs recorded yet")
    assert not missing.exists()


def _config_cases(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    directory = tmp_path / "config-dir"
    directory.mkdir()
    yield directory, "cannot read"
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes(b"[simulator]\ntokens_per_s = 1 # caf\xe9\n")
    yield not_utf8, "invalid TOML"
    broken = tmp_path / "broken.toml"
    broken.write_text("[simulator\ntokens_per_s = = 3\n")
    yield broken, "invalid TOML"
    bad_value = tmp_path / "bad.toml"
    bad_value.write_text("max_concurrent = 'many'\n")
    yield bad_value, "max_concurrent"
    unknown_role = tmp_path / "role.toml"
    unknown_role.write_text("[roles.coding]\ntools = ['rm_rf']\n")
    yield unknown_role, "rm_rf"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_unreadable_or_invalid_config(
    command: str, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(db.parent)
    for config, message in _config_cases(tmp_path):
        argv = [*COMMANDS[command], "--config", str(config), "--db", str(db)]
        _fails_cleanly(argv, capsys, message)
    after = _snapshot(db.parent)
    assert after[db.name] == before[db.name]


def test_simulator_with_an_unknown_scenario(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario name or file that does not load: one line, before anything listens."""

    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulator was served")

    monkeypatch.setattr("core.simulator.serve", refuse)
    _fails_cleanly(["simulator", "--scenario", "nope"], capsys, "unknown scenario 'nope'")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_workspace(
    command: str, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*COMMANDS[command], "--workspace", str(tmp_path / "nowhere"), "--db", str(db)]
    _fails_cleanly(argv, capsys, "workspace does not exist")
    file = tmp_path / "a-file"
    file.write_text("x")
    _fails_cleanly([*COMMANDS[command], "--workspace", str(file), "--db", str(db)], capsys,
                   "workspace is not a directory")  # fmt: skip


@pytest.mark.parametrize("command", list(COMMANDS))
def test_corrupt_database_is_not_touched(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.db"
    garbage = bytes(range(256)) * 64
    corrupt.write_bytes(garbage)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    argv = [*COMMANDS[command], "--db", str(corrupt), "--workspace", str(workspace)]
    _fails_cleanly(argv, capsys, "database is corrupt")
    assert corrupt.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.db", "ws"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_database_truncated_sqlite_header(
    command: str, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real database cut short (a torn copy): refused, never 'repaired' by overwriting."""
    data = db.read_bytes()
    db.write_bytes(data[:1024])  # the header survives, the pages do not
    _fails_cleanly([*COMMANDS[command], "--db", str(db)], capsys, "database")
    assert db.read_bytes() == data[:1024]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_locked_database(command: str, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another process holds an exclusive lock (readers are locked out too)."""
    before = db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT count(*) FROM runs").fetchall()
        workspace = db.parent / "ws"
        workspace.mkdir(exist_ok=True)
        argv = [*COMMANDS[command], "--db", str(db), "--workspace", str(workspace)]
        _fails_cleanly(argv, capsys, "database is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.read_bytes() == before


@pytest.mark.parametrize("command", ["run", "history", "show", "resume"])
def test_database_held_by_a_writer(
    command: str, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`BEGIN EXCLUSIVE` in WAL mode: the commands that write (or recover) report it."""
    before = db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        workspace = db.parent / "ws"
        workspace.mkdir(exist_ok=True)
        argv = [*COMMANDS[command], "--db", str(db), "--workspace", str(workspace)]
        _fails_cleanly(argv, capsys, "database is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    ("word", "meant"),
    [("histroy", "history"), ("stat", "stats"), ("resum", "resume"), ("help", "--help")],
)
def test_a_mistyped_command_is_not_a_task(
    word: str, meant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`delegate histroy` started a run with the task "histroy" (the TUI, and its cost)."""
    db = tmp_path / "runs.db"
    _fails_cleanly([word, "--db", str(db)], capsys, f"did you mean `delegate {meant}`?")
    assert not db.exists()


def test_a_one_word_task_after_double_dash_is_a_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[str | None] = []
    monkeypatch.setattr(
        "tui.launch.launch_live", lambda args, settings: started.append(args.task) or 0
    )
    assert main(["--simulate", "--db", str(tmp_path / "runs.db"), "--", "histroy"]) == 0
    assert main(["--simulate", "--db", str(tmp_path / "runs.db"), "Refactor"]) == 0
    assert started == ["histroy", "Refactor"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--simulate", "run", "a task"],  # argparse: "unrecognized arguments: a task"
        ["--yes", "--max-concurrent", "3", "run"],  # the TUI with the task "run"
    ],
)
def test_a_command_after_options_says_it_goes_first(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Options before the command made the command the TUI's task, or left its task
    unrecognized: the one line says where the command goes."""
    db = tmp_path / "runs.db"
    _fails_cleanly([*argv, "--db", str(db)], capsys, "`run` is a command: it goes first")
    assert not db.exists()


def test_an_options_value_named_like_a_command_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--workspace run` names a directory: a bad flag after it gets no command hint."""
    code = main(["--workspace", "run", "--bogus", "--db", str(tmp_path / "runs.db")])
    err = capsys.readouterr().err
    assert code == 2 and "--bogus" in err and "is a command" not in err
