"""`delegate run` leaves without the interpreter's shutdown (os._exit once everything is
written): nothing is lost. Each case runs the real program in a child process, with
stdout and stderr as pipes, and checks the database, the output and the exit code; a
marker written by an atexit handler tells whether the process left the normal way."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.events import RunFinished
from core.store import Store
from tests.faults.harness import threaded_api
from tui import process_exit

ROOT = Path(__file__).resolve().parent.parent
# The program as the console script runs it, plus an atexit handler that only a normal
# interpreter shutdown runs.
PROGRAM = """
import atexit, sys
marker = sys.argv.pop(1)
atexit.register(lambda: open(marker, "w").write("normal exit"))
from tui.cli import entry
entry()
"""
# A task the default scenario finishes with a passing check: status done, exit 0.
DONE_TASK = "Research competitors and build a landing page"
FAST = "[simulator]\ntokens_per_s = 20000\nlatency_s = 0\n"


def _delegate(
    tmp: Path, *argv: str, env: dict[str, str] | None = None, program: str = PROGRAM
) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run `delegate ARGV`; the result and whether the process left the normal way."""
    marker = tmp / f"marker-{time.monotonic_ns()}"
    config = tmp / "config.toml"
    config.write_text(FAST)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "DELEGATE_"))}
    done = subprocess.run(
        [sys.executable, "-c", program, str(marker), *argv, "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=300,
    )
    return done, marker.exists()


def _stored(db: Path) -> tuple[dict[str, object], list[object]]:
    async def read() -> tuple[dict[str, object], list[object]]:
        store = await Store.open_readonly(db)
        try:
            (run,) = await store.list_runs()
            return await store.run_summary(run.run_id), list(await store.events(run.run_id))
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


def test_done_run_json_on_a_pipe(tmp_path: Path, ws: Path) -> None:
    db = tmp_path / "runs.db"
    argv = ["run", DONE_TASK, "--simulate", "--json", "--quiet"]
    done, normal = _delegate(tmp_path, *argv, "--workspace", str(ws), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert not normal  # left at once
    printed = json.loads(done.stdout)  # the whole summary arrived through the pipe
    summary, events = _stored(db)
    assert printed == summary
    assert summary["status"] == "done"
    assert isinstance(events[-1], RunFinished) and events[-1].status == "done"
    assert len(events) > 20 and summary["agents"]


def test_plain_output_and_progress_on_pipes(tmp_path: Path, ws: Path) -> None:
    db = tmp_path / "runs.db"
    argv = ["run", DONE_TASK, "--simulate"]
    done, normal = _delegate(tmp_path, *argv, "--workspace", str(ws), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert not normal
    summary, _ = _stored(db)
    assert done.stdout == f"{summary['result']}\n"
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"run {summary['run_id']}: done (verified: ")
    assert "spawned" in done.stderr  # the progress lines came too


def test_failed_run_exits_1_with_everything_stored(tmp_path: Path, ws: Path) -> None:
    db = tmp_path / "runs.db"
    argv = ["run", "Do the thing", "--simulate", "--scenario", "failure", "--json", "--quiet"]
    done, normal = _delegate(tmp_path, *argv, "--workspace", str(ws), "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert not normal
    summary, events = _stored(db)
    assert json.loads(done.stdout) == summary and summary["status"] != "done"
    assert isinstance(events[-1], RunFinished)


def test_refused_key_exits_2_with_the_run_stored(tmp_path: Path, ws: Path) -> None:
    db = tmp_path / "runs.db"
    with threaded_api(api_key="sk-ant-the-right-key") as api:
        env = {"ANTHROPIC_API_KEY": "sk-ant-wrong", "ANTHROPIC_BASE_URL": api.base_url}
        argv = ["run", "Build a thing", "--workspace", str(ws), "--db", str(db)]
        done, normal = _delegate(tmp_path, *argv, env=env)
    assert done.returncode == 2, done.stderr
    assert not normal
    assert done.stderr.endswith("delegate: the API key was refused (401 authentication_error):"
                                " invalid x-api-key\n")  # fmt: skip
    summary, events = _stored(db)
    assert summary["status"] == "failed" and isinstance(events[-1], RunFinished)


def test_bad_usage_leaves_the_normal_way(tmp_path: Path) -> None:
    done, normal = _delegate(tmp_path, "run", "x", "--max-concurrent", "0")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "delegate: --max-concurrent must be at least 1, got 0\n"
    assert normal  # nothing was marked written: the ordinary exit


def test_a_thread_still_running_keeps_the_normal_exit(tmp_path: Path, ws: Path) -> None:
    """Someone's non-daemon thread still working: it gets to finish its write."""
    late = tmp_path / "late.txt"
    program = PROGRAM.replace(
        "from tui.cli import entry",
        "import threading, time\n"
        "def work():\n"  # until the interpreter shuts down, then one last write
        "    while threading.main_thread().is_alive():\n"
        "        time.sleep(0.02)\n"
        f"    open({str(late)!r}, 'w').write('written')\n"
        "threading.Thread(target=work).start()\n"
        "from tui.cli import entry",
    )
    db = tmp_path / "runs.db"
    argv = ["run", DONE_TASK, "--simulate", "--quiet", "--workspace", str(ws)]
    done, normal = _delegate(tmp_path, *argv, "--db", str(db), program=program)
    assert done.returncode == 0, done.stderr
    assert normal and late.read_text() == "written"


def test_child_processes_and_threads_are_seen() -> None:
    assert process_exit.child_processes() == []
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in (process_exit.child_processes() or [])
    finally:
        child.kill()
        child.wait()
    assert process_exit.child_processes() == []
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert thread in process_exit.other_threads()
    finally:
        stop.set()
        thread.join()


def test_leaving_waits_for_a_thread_that_is_ending_not_for_one_at_work() -> None:
    """sqlite's worker thread answers the store's close and only then runs to its end: a
    thread on its way out is waited for (the fast exit stays), one still working is not."""
    release = threading.Event()
    ending = threading.Thread(target=release.wait)
    ending.start()
    release.set()  # it ends by itself now, some moment later
    assert process_exit.threads_ended(within_s=30)
    assert not ending.is_alive()
    stop = threading.Event()
    working = threading.Thread(target=stop.wait)
    working.start()
    try:
        assert not process_exit.threads_ended(within_s=0.01)
    finally:
        stop.set()
        working.join()
