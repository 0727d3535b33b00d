"""CLI conventions: --version, help per command, history on a terminal and in a pipe,
limits, --db folders. Through the real entry point in child processes where the
terminal or the process boundary matters."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from core import events as ev
from core.store import Store
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
RUN_ONLY = ("--simulate", "--scenario", "--yes", "--max-concurrent", "--ceo-model")


def _child(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m tui.cli ARGV` from the checkout (not installed), stdout a pipe."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=120,
    )


def _on_a_terminal(*argv: str, columns: int) -> str:
    """Run the CLI with stdout on a pseudo-terminal `columns` wide; what it printed."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns), "LINES": "40"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv], stdout=terminal, stderr=subprocess.PIPE, env=env
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            assert ready, "the child printed nothing for 60 s"
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(controller)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        if proc.stderr is not None:
            proc.stderr.close()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_version_from_a_checkout() -> None:
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = _child("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"delegate {expected}\n", "")


def test_top_help_shows_demo_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "delegate --demo" in out and "delegate --version" in out


@pytest.mark.parametrize("command", ["history", "show", "replay"])
def test_read_only_commands_show_only_their_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--db" in out and "--config" in out
    for flag in RUN_ONLY:
        assert flag not in out, (command, flag)


@pytest.mark.parametrize("command", ["run", "resume"])
def test_run_commands_show_the_common_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    for flag in (*RUN_ONLY, "--db", "--config", "--workspace"):
        assert flag in out, (command, flag)


def test_simulator_help_has_no_database(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulator", "--help"])
    out = capsys.readouterr().out
    assert "--port" in out and "--scenario" in out
    assert "--db" not in out and "--yes" not in out


TASKS = [
    "Research competitors and build a landing page for a coffee subscription service "
    "with a pricing table, testimonials and a signup form that validates emails",
    "a task\twith a tab\nand a newline",
]


async def _record(db: Path) -> None:
    store = await Store.open(db)
    try:
        for i, task in enumerate(TASKS):
            run = f"20250101-00000{i}-abcd"
            store.append(
                ev.RunStarted(
                    run_id=run, task=task, workspace="/w", ceo_model="m", simulated=True,
                    max_concurrent=5,
                )
            )  # fmt: skip
            store.append(ev.RunFinished(run_id=run, status="done", result="ok", cost_usd=0.25))
    finally:
        await store.close()


@pytest.fixture
def history_db(tmp_path: Path) -> Path:
    db = tmp_path / "runs.db"
    asyncio.run(_record(db))
    return db


def test_history_piped_is_tab_separated(history_db: Path) -> None:
    done = _child("history", "--db", str(history_db))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2  # no header, no wrapping: one run, one line
    rows = [line.split("\t") for line in lines]
    assert all(len(row) == 6 for row in rows)
    assert {row[5] for row in rows} == {" ".join(t.split()) for t in TASKS}  # whole tasks
    assert {row[2] for row in rows} == {"done"} and {row[4] for row in rows} == {"$0.0000"}


def test_history_on_a_terminal_is_aligned_columns(history_db: Path) -> None:
    out = _on_a_terminal("history", "--db", str(history_db), columns=100)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 3 and lines[0].split() == [
        "run", "started", "status", "agents", "cost", "task"
    ]  # fmt: skip
    assert "\t" not in out
    starts = {line.index("done") for line in lines[1:]}
    assert starts == {lines[0].index("status")}  # one column, one offset
    assert all(len(line) <= 100 for line in lines)
    assert any(line.endswith("…") for line in lines)  # the long task is cut to fit, on one line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--limit", "-5"], "--limit must be at least 1, got -5"),
        (["history", "--limit", "0"], "--limit must be at least 1, got 0"),
        (["run", "x", "--max-concurrent", "-2"], "--max-concurrent must be at least 1, got -2"),
        (["simulator", "--tokens-per-s", "0"], "--tokens-per-s must be positive, got 0"),
        (["simulator", "--tokens-per-s", "nan"], "--tokens-per-s must be positive, got nan"),
        (["simulator", "--tokens-per-s", "-1"], "--tokens-per-s must be positive"),
    ],
)
def test_zero_and_negative_limits(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert err == f"delegate: {message}\n" or (message in err and err.count("\n") == 1)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("command", [["run", "x", "--simulate"], ["history"], ["show", "last"]])
def test_db_in_a_missing_folder_is_an_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "nowhere" / "deeper" / "x.db"
    assert main([*command, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err == f"delegate: --db {db}: the folder {db.parent} does not exist\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created


def test_db_that_is_a_folder_or_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["history", "--db", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    missing = tmp_path / "gone" / "x.db"
    monkeypatch.setenv("DELEGATE_DB", str(missing))
    assert main(["history"]) == 2
    assert capsys.readouterr().err.startswith(f"delegate: DELEGATE_DB {missing}: the folder")
    assert not missing.parent.exists()


def test_the_default_data_dir_is_still_created(tmp_path: Path) -> None:
    """Without --db, the database goes in the user data dir, made on first use."""
    data = tmp_path / "data"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    config = tmp_path / "c.toml"
    config.write_text("[simulator]\ntokens_per_s = 50000\nlatency_s = 0\n")
    env = {"XDG_DATA_HOME": str(data), "ANTHROPIC_API_KEY": ""}
    argv = ["run", "Write a haiku", "--simulate", "--quiet", "--workspace", str(workspace)]
    done = _child(*argv, "--config", str(config), env=env)
    assert done.returncode == 1, done.stderr  # answered; no check tests a haiku: unverified
    assert "unverified" in done.stderr
    assert (data / "delegate" / "delegate.db").is_file()


def test_the_demo_says_where_its_workspace_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat notice is a Pilot test (test_keymap.py); here: the notice handed to the app
    names the fresh folder, and the same path is printed when the app exits."""
    import tempfile

    seen: dict[str, object] = {}

    async def run_async(self: object) -> None:
        seen["notice"] = self.start_notice  # type: ignore[attr-defined]

    monkeypatch.setattr("tui.app.DelegateApp.run_async", run_async)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["--demo", "--db", str(tmp_path / "x.db")]) == 0
    (workspace,) = [p for p in tmp_path.iterdir() if p.name.startswith("delegate-demo-")]
    assert seen["notice"] == f"Demo workspace: {workspace} (the agents' files are there)."
    assert capsys.readouterr().err == f"delegate: demo workspace: {workspace}\n"
