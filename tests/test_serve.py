"""`delegate serve` in a real browser: headless Chromium loads the page, the app's header
arrives in it (xterm.js draws it from the page's websocket), and a key pressed in the
page reaches the app.

Skipped where no Chromium is installed or textual-serve is missing, unless
DELEGATE_BROWSER_TEST=required (CI sets it): then that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser_support import find_browser, stop_group
from tui.serve import free_port, served_argv

REQUIRED = os.environ.get("DELEGATE_BROWSER_TEST") == "required"
ROOT = Path(__file__).resolve().parent.parent


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if REQUIRED:
        pytest.fail(f"{reason}, and DELEGATE_BROWSER_TEST=required")
    pytest.skip(reason)


def _runs(db: Path) -> dict[str, str]:
    """run id -> status, as recorded so far."""
    if not db.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        try:
            return dict(con.execute("SELECT run_id, status FROM runs").fetchall())
        except sqlite3.Error:
            return {}  # not created yet


async def _until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Check `cond` every 50 ms (a file another process writes: nothing to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"delegate serve exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise AssertionError("delegate serve did not listen")
        await asyncio.sleep(0.05)


async def test_serve_in_headless_chromium(tmp_path: Path) -> None:
    binary = find_browser()
    _need(binary is not None, "no Chromium installed (Debian: apt-get install chromium)")
    try:
        import aiohttp  # noqa: F401
        import textual_serve  # noqa: F401
    except ImportError:
        _need(False, "textual-serve is not installed (pip install 'delegate[serve]')")
    from tests.browser_support import Browser

    assert binary is not None
    workspace = tmp_path / "ws"
    workspace.mkdir()
    config = tmp_path / "config.toml"
    config.write_text("")
    db = tmp_path / "runs.db"
    port = free_port("127.0.0.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONPATH"] = str(ROOT)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--port", str(port), "--simulate",
         "--db", str(db), "--config", str(config), "--workspace", str(workspace)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    browser = Browser(binary, tmp_path / "chrome")
    try:
        await _wait_port(port, server, 15)
        await browser.start()
        await browser.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        # The app's header, with the run this tab started (read back from the database:
        # the served delegate records where this command said).
        await _until(lambda: bool(_runs(db)), 30, "the tab's run in the database")
        [run_id] = _runs(db)
        await browser.wait_for(
            lambda: run_id in browser.screen_text(),
            15,
            "the header in the page",
        )
        assert "simulated models" in browser.screen_text()
        # A key pressed in the page: f1 opens the help (whatever has focus in the app).
        await browser.call(
            "Runtime.evaluate",
            expression="document.querySelector('.xterm-helper-textarea').focus()",
        )
        before = len(browser.frames_in)
        await browser.press("F1", "F1", 112)
        await browser.wait_for(
            lambda: any(json.loads(f)[0] == "stdin" for f in browser.frames_out if f[:1] == "["),
            5,
            "the key on the page's websocket",
        )
        await browser.wait_for(
            lambda: (
                "what it does" in b"".join(browser.frames_in[before:]).decode("utf-8", "replace")
            ),
            15,
            "the help screen drawn after the key",
        )
        # Closing the tab ends that delegate cleanly: its run is recorded as stopped.
        await browser.close_tab()
        await _until(lambda: _runs(db)[run_id] != "running", 20, "the run's end")
        assert _runs(db)[run_id] in ("cancelled", "stopped")  # not interrupted: a clean end
        assert server.poll() is None  # the server goes on for the next tab
    except BaseException:
        log.flush()
        print((tmp_path / "serve.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        await browser.close()
        stop_group(server)
        log.close()


def test_the_served_command_uses_this_python_and_the_same_database(tmp_path: Path) -> None:
    from tui.cli import build_parser, settings_from

    config = tmp_path / "c.toml"
    config.write_text("")
    (tmp_path / "ws").mkdir()
    args = build_parser("serve").parse_args(
        ["--db", str(tmp_path / "r.db"), "--config", str(config), "--simulate",
         "--scenario", "failure", "--workspace", str(tmp_path / "ws"), "--budget-usd", "2",
         "--max-concurrent", "3", "--demo"]
    )  # fmt: skip
    argv = served_argv(args, settings_from(args))
    assert argv[:3] == [sys.executable, "-m", "tui.cli"]
    pairs = dict(zip(argv[3:], [*argv[4:], ""], strict=True))
    assert pairs["--db"] == str((tmp_path / "r.db").absolute())
    assert pairs["--config"] == str(config.absolute())
    assert pairs["--workspace"] == str((tmp_path / "ws").absolute())
    assert pairs["--scenario"] == "failure" and pairs["--budget-usd"] == "2"
    assert pairs["--max-concurrent"] == "3"
    assert "--simulate" in argv and "--demo" in argv and "--yes" not in argv


def test_serve_without_textual_serve_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # import fails
    assert main(["serve", "--db", str(tmp_path / "r.db")]) == 2
    err = capsys.readouterr().err
    assert err == "delegate: delegate serve needs textual-serve: pip install 'delegate[serve]'\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535, got 70000"),
        (["--port", "-1"], "--port must be between 0 and 65535, got -1"),
        (["--host", "203.0.113.7"], "--host 203.0.113.7 --port 8000: cannot listen there"),
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid --port 8000: cannot"),
    ],
)
def test_serve_bad_addresses(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    pytest.importorskip("textual_serve")
    assert main(["serve", *argv, "--db", str(tmp_path / "r.db")]) == 2
    assert message in capsys.readouterr().err


def test_serve_refuses_a_corrupt_database_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(bytes(range(256)) * 64)
    assert main(["serve", "--port", "0", "--db", str(corrupt)]) == 2
    assert "database is corrupt" in capsys.readouterr().err
